//! Concurrent apply of one stack against moto behind the proxy: the same result as one operation
//! at a time, independent writes in flight together, and a failure part-way that the next deploy
//! repairs. The stack comes from the model: one ALB Gateway with two listeners, six routes each
//! forwarding to its own Service (six target groups), 34 rules.

use std::fmt::Write as _;
use std::time::Duration;

use albatross_aws::apply::{DEFAULT_CONCURRENCY, Step, apply, stages};
use albatross_aws::deploy::Deployer;
use albatross_aws::diff::{Op, diff, target_group_ids};
use albatross_aws::observe::observe;
use albatross_aws::observed::StackObserved;
use albatross_aws::resolve::{ResolveSettings, Resolver};
use albatross_aws::{Aws, AwsSettings, ErrorClass, RateLimits};
use albatross_model::plan::{Env, Snapshot, Stack, build};
use albatross_test_support::network::load_balancer_subnets;
use albatross_test_support::{Faults, Moto, Proxy, ProxyOptions};

const CLUSTER: &str = "c1";
/// (listener, rules) of each route; route `i` forwards to Service `svc-i`.
const ROUTES: [(&str, usize); 6] = [("http", 8), ("http", 6), ("http", 5), ("http", 5), ("admin", 5), ("admin", 5)];

struct World {
    proxy: Proxy,
    aws: Aws,
    deployer: Deployer,
    // Last: the proxy and the clients go before moto.
    _moto: Moto,
}

/// `max_attempts` 1: a failed call is not retried by the SDK, so an injected fault reaches the
/// apply.
async fn world(max_attempts: u32) -> World {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        max_attempts,
        ..Default::default()
    })
    .await;
    load_balancer_subnets(&aws.ec2).await;
    let resolver = Resolver::new(aws.clone(), ResolveSettings::new(CLUSTER));
    let deployer = Deployer::new(aws.clone(), resolver, CLUSTER);
    World { proxy, aws, deployer, _moto: moto }
}

/// The stack of Gateway `shop/web` (listeners `http` :80 and `admin` :8080) with the first
/// `routes` of [`ROUTES`].
fn stack(routes: usize) -> Stack {
    let mut text = "apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: alb}
spec: {controllerName: gateway.k8s.aws/alb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web, namespace: shop, uid: 0b6f1c2e}
spec:
  gatewayClassName: alb
  listeners:
  - {name: http, protocol: HTTP, port: 80}
  - {name: admin, protocol: HTTP, port: 8080}
"
    .to_owned();
    for (i, (listener, rules)) in ROUTES.iter().take(routes).enumerate() {
        write!(
            text,
            "---
apiVersion: v1
kind: Service
metadata: {{name: svc-{i}, namespace: shop}}
spec: {{ports: [{{port: 80, targetPort: 8080, protocol: TCP}}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: route-{i}, namespace: shop}}
spec:
  parentRefs: [{{name: web, sectionName: {listener}}}]
  rules:
"
        )
        .unwrap();
        for j in 0..*rules {
            writeln!(
                text,
                "  - {{matches: [{{path: {{value: /r{i}/p{j}}}}}], backendRefs: [{{name: svc-{i}, port: 80}}]}}"
            )
            .unwrap();
        }
    }
    let objects = albatross_model::manifest::parse(&text).into_iter().map(|d| d.unwrap().value);
    let (snapshot, skipped) = Snapshot::from_objects(objects);
    assert!(skipped.is_empty(), "{skipped:?}");
    let out = build(&snapshot, &Env { cluster_name: CLUSTER.into(), ..Env::default() });
    assert_eq!(out.stacks.len(), 1, "{:#?}", out.statuses);
    out.stacks.into_iter().next().unwrap()
}

fn planned_rules(stack: &Stack) -> usize {
    stack.listeners.iter().map(|l| l.rules.len()).sum()
}

impl World {
    /// The stack resolved and observed, and the diff to converge it, as one deploy attempt
    /// computes them.
    async fn prepare(&self, stack: &Stack) -> (Stack, StackObserved, Vec<Op>, String) {
        let observed = observe(&self.aws, CLUSTER, stack).await.unwrap().stack;
        let resolved = self.deployer.resolve(stack, observed.load_balancer.is_some()).await.unwrap();
        let ops = diff(&resolved, &observed);
        let vpc = self.deployer.resolver.vpc_id().await.unwrap();
        (resolved, observed, ops, vpc)
    }

    /// A deploy of `stack` that must find nothing to change.
    async fn assert_converged(&self, stack: &Stack) {
        self.proxy.clear_calls();
        let again = self.deployer.deploy(stack).await.unwrap();
        assert!(again.operations.is_empty(), "{:?}", again.operations);
        let writes: Vec<String> = self.proxy.mutating_calls().into_iter().map(|c| c.action).collect();
        assert!(writes.is_empty(), "a converged stack got writes: {writes:?}");
    }

    /// (load balancers, listeners, rules, target groups) in moto, read directly: what the tag
    /// query would not find counts too.
    async fn everything(&self) -> (usize, usize, usize, usize) {
        let elbv2 = &self.aws.elbv2;
        let lbs = elbv2.describe_load_balancers().send().await.unwrap();
        let (mut listeners, mut rules) = (0, 0);
        for lb in lbs.load_balancers() {
            let out = elbv2.describe_listeners().load_balancer_arn(lb.load_balancer_arn().unwrap()).send().await;
            for l in out.unwrap().listeners() {
                listeners += 1;
                let out = elbv2.describe_rules().listener_arn(l.listener_arn().unwrap()).send().await.unwrap();
                rules += out.rules().iter().filter(|r| r.is_default() != Some(true)).count();
            }
        }
        let tgs = elbv2.describe_target_groups().send().await.unwrap().target_groups().len();
        (lbs.load_balancers().len(), listeners, rules, tgs)
    }
}

/// An observed stack with every ARN replaced by what identifies it across accounts (a target
/// group's stack id), so two applies of one plan compare equal.
fn normalized(observed: &StackObserved) -> String {
    let mut out = String::new();
    let lb = observed.load_balancer.as_ref().expect("a load balancer");
    writeln!(out, "{} {} {} {:?}", lb.name, lb.r#type, lb.scheme, lb.attributes).unwrap();
    let mut listeners: Vec<_> = observed.listeners.iter().collect();
    listeners.sort_by_key(|l| l.port);
    for l in listeners {
        writeln!(out, "listener {} {} {:?}", l.port, l.protocol, l.default_actions).unwrap();
        for r in &l.rules {
            writeln!(out, "  rule {} {:?} {:?} {:?}", r.priority, r.conditions, r.actions, r.transforms).unwrap();
        }
    }
    let mut tgs: Vec<_> = observed.target_groups.iter().collect();
    tgs.sort_by(|a, b| a.id.cmp(&b.id));
    for t in &tgs {
        let mut tags = t.tags.clone();
        tags.sort();
        writeln!(
            out,
            "tg {} {} {} {} {} {:?} {:?}",
            t.id, t.name, t.protocol, t.port, t.target_type, t.health_check_path, tags
        )
        .unwrap();
    }
    for t in tgs {
        out = out.replace(&t.arn, &format!("tg:{}", t.id));
    }
    let left: Vec<&str> = out.lines().filter(|l| l.contains("\"arn:")).collect();
    assert!(left.is_empty(), "an ARN left in {left:#?}");
    out
}

#[tokio::test]
async fn several_target_groups_two_listeners_and_many_rules_converge_as_one_at_a_time_does() {
    let plan = stack(ROUTES.len());
    assert_eq!((plan.listeners.len(), plan.target_groups.len(), planned_rules(&plan)), (2, 6, 34));
    let mut results = Vec::new();
    for concurrency in [1, DEFAULT_CONCURRENCY] {
        let mut w = world(10).await;
        w.deployer.apply_concurrency = concurrency;
        let deployed = w.deployer.deploy(&plan).await.unwrap();
        assert_eq!(w.proxy.count("CreateRule"), 34, "concurrency {concurrency}");
        assert_eq!(deployed.applied.target_groups.len(), 6);
        let observed = observe(&w.aws, CLUSTER, &plan).await.unwrap().stack;
        assert_eq!(w.everything().await, (1, 2, 34, 6), "concurrency {concurrency}");
        results.push(normalized(&observed));
        w.assert_converged(&plan).await;
    }
    assert_eq!(results[0], results[1], "the concurrent apply differs from one operation at a time");
}

#[tokio::test]
async fn independent_writes_of_one_stack_are_in_flight_together() {
    let w = world(10).await;
    w.deployer.deploy(&stack(1)).await.unwrap();
    // Four more routes: four new target groups, and rules in a listener that serves routes.
    let plan = stack(5);
    let (resolved, observed, ops, vpc) = w.prepare(&plan).await;
    let ids = target_group_ids(&resolved, &observed);
    let first = &stages(&ops, &observed, &ids)[0];
    assert_eq!(first.step, Step::NewTargetGroups);
    assert_eq!(first.lanes.len(), 4, "{ops:?}");
    assert!(first.lanes.iter().flatten().all(|op| matches!(op, Op::CreateTargetGroup { .. })), "{ops:?}");

    // Every request from now on is held: more than one held at once is more than one in flight.
    w.proxy.hold_after_mutations(Some(w.proxy.mutations()));
    let release = async {
        while w.proxy.held() < 2 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        w.proxy.hold_after_mutations(None);
    };
    let applied = apply(&w.aws, CLUSTER, &vpc, &resolved, &observed, &ops, DEFAULT_CONCURRENCY);
    // Only a guard against hanging when writes go one at a time (one held, never two).
    let (applied, ()) = tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(applied, release) })
        .await
        .expect("two CreateTargetGroup requests were never in flight at once");
    assert_eq!(applied.unwrap().target_groups.len(), 5);
    assert_eq!(w.everything().await, (1, 2, 29, 5));
    w.assert_converged(&plan).await;
}

#[tokio::test]
async fn a_failure_mid_apply_stops_it_and_the_next_deploy_converges_without_duplicates() {
    let w = world(1).await;
    let plan = stack(ROUTES.len());
    let (resolved, observed, ops, vpc) = w.prepare(&plan).await;
    let stages = stages(&ops, &observed, &target_group_ids(&resolved, &observed));
    let rules = stages.iter().find(|s| s.step == Step::Rules).expect("a rule stage");
    assert_eq!(rules.lanes.len(), 34, "new listeners: every rule a lane of its own");

    // A dozen rules in, every call starts failing with a 500.
    let before_rules = ops.iter().filter(|op| !matches!(op, Op::CreateRule { .. })).count();
    w.proxy.hold_after_mutations(Some(w.proxy.mutations() + before_rules + 12));
    let fail = async {
        w.proxy.wait_for_hold().await;
        w.proxy.set_faults(Faults { server_error: 1.0, ..Faults::default() });
        w.proxy.hold_after_mutations(None);
    };
    let applied = apply(&w.aws, CLUSTER, &vpc, &resolved, &observed, &ops, DEFAULT_CONCURRENCY);
    // Only a guard against hanging.
    let (applied, ()) = tokio::time::timeout(Duration::from_secs(120), async { tokio::join!(applied, fail) })
        .await
        .expect("the apply ends");
    let error = applied.expect_err("a failed call fails the apply");
    assert_eq!((error.class, error.code.as_str()), (ErrorClass::Transient, "InternalFailure"), "{error}");
    w.proxy.set_faults(Faults::default());
    let (lbs, listeners, rules, tgs) = w.everything().await;
    assert_eq!((lbs, listeners, tgs), (1, 2, 6));
    assert!(rules > 0 && rules < 34, "{rules} rules");
    // At most the lanes in flight got the fault; no lane started after it.
    let sent = w.proxy.count("CreateRule");
    assert!(sent < 34, "{sent} CreateRule requests: the apply went on after the failure");

    let deployed = w.deployer.deploy(&plan).await.unwrap();
    assert_eq!(deployed.operations.iter().filter(|o| **o == "CreateRule").count(), 34 - rules);
    assert_eq!(w.everything().await, (1, 2, 34, 6), "nothing duplicated, nothing left behind");
    w.assert_converged(&plan).await;
}

/// Another tool's target group that holds the name we planned (AWS answers a create of the same
/// name and settings with that group) is never used: the apply stops on it, and it is left as
/// it was, forwarded to by nothing and with no tag of ours.
#[tokio::test]
async fn a_target_group_of_another_tool_with_the_planned_name_is_never_taken_over() {
    use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetTypeEnum};
    let w = world(3).await;
    let plan = stack(1);
    let (resolved, _, _, vpc) = w.prepare(&plan).await;
    let tg = &resolved.target_groups[0];
    let theirs = w
        .aws
        .elbv2
        .create_target_group()
        .name(&tg.target_group_name)
        .protocol(ProtocolEnum::from(tg.protocol.as_str()))
        .port(tg.port)
        .vpc_id(&vpc)
        .target_type(TargetTypeEnum::from(tg.target_type.as_str()))
        .send()
        .await
        .unwrap();
    let theirs = theirs.target_groups()[0].target_group_arn().unwrap().to_owned();

    let error = w.deployer.deploy(&plan).await.expect_err("the name is another tool's");
    assert_eq!((error.class, error.code.as_str()), (ErrorClass::Permanent, "TargetGroupNameTaken"), "{error}");
    let tags = w.aws.elbv2.describe_tags().resource_arns(&theirs).send().await.unwrap();
    let tags: Vec<_> = tags.tag_descriptions().iter().flat_map(|d| d.tags()).collect();
    assert!(tags.is_empty(), "their target group got tags: {tags:?}");
    let users = w.aws.elbv2.describe_target_groups().target_group_arns(&theirs).send().await.unwrap();
    assert!(users.target_groups()[0].load_balancer_arns().is_empty(), "something forwards to their target group");
    let registered = w.aws.elbv2.describe_target_health().target_group_arn(&theirs).send().await.unwrap();
    assert!(registered.target_health_descriptions().is_empty(), "targets registered in their target group");
}
