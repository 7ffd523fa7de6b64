//! Every rule of the golden plans' Application Load Balancers, created in moto (through the
//! AWS-rules proxy) with `sdk::*_to_sdk`, described back and converted with `sdk::*_from_sdk`,
//! equals the plan's rule in canonical form: after an apply, a resync sees no change. Listener
//! default actions, rule tags and target group settings are checked the same way.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use albatross_aws::sdk::{
    action_from_sdk, action_to_sdk, canonical_actions, canonical_rule, condition_from_sdk, condition_to_sdk,
    ip_address_type_to_sdk, lb_type_to_sdk, matcher_from_sdk, matcher_to_sdk, protocol_from_sdk, protocol_to_sdk,
    scheme_to_sdk, tags_from_sdk, tags_to_sdk, target_type_from_sdk, target_type_to_sdk, transform_from_sdk,
    transform_to_sdk,
};
use albatross_aws::{Api, Aws, AwsSettings, RateLimits};
use albatross_model::plan::types::{Credential, RulePlan, Stack, TargetGroupPlan};
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Rule};
use serde::Deserialize;

/// `expected.plan.json`: the stacks of one golden case.
#[derive(Deserialize)]
struct GoldenPlan {
    stacks: Vec<Stack>,
}

fn golden_plans() -> Vec<(String, Vec<Stack>)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../model/tests/golden");
    let mut cases: Vec<PathBuf> =
        std::fs::read_dir(&dir).expect("golden dir").map(|e| e.expect("dir entry").path()).collect();
    cases.sort();
    cases
        .into_iter()
        .filter_map(|case| {
            let text = std::fs::read_to_string(case.join("expected.plan.json")).ok()?;
            let plan: GoldenPlan = serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{}: expected.plan.json does not deserialize: {e}", case.display()));
            // The plan types' Deserialize is the exact inverse of their Serialize.
            let original: serde_json::Value = serde_json::from_str(&text).expect("json");
            assert_eq!(
                serde_json::to_value(&plan.stacks).expect("serialize"),
                original["stacks"],
                "{}",
                case.display()
            );
            Some((case.file_name()?.to_string_lossy().into_owned(), resolved(plan.stacks)))
        })
        .collect()
}

/// The stacks with their OIDC credential references resolved, as the reconciler does before an
/// apply (stand-in values for the Secret's).
fn resolved(mut stacks: Vec<Stack>) -> Vec<Stack> {
    let listeners = stacks.iter_mut().flat_map(|s| &mut s.listeners);
    let actions = listeners
        .flat_map(|l| l.default_actions.iter_mut().chain(l.rules.iter_mut().flat_map(|r| r.actions.iter_mut())));
    for config in actions.filter_map(|a| a.authenticate_oidc_config.as_mut()) {
        for credential in std::iter::once(&mut config.client_id).chain(config.client_secret.as_mut()) {
            if let Credential::SecretRef(r) = credential {
                *credential = Credential::Value(format!("{}-value", r.key));
            }
        }
    }
    stacks
}

/// A rule moto refused.
#[derive(Debug)]
struct Refused {
    case: String,
    rule: String,
    types: Vec<String>,
    /// A condition matches by regex values alone.
    regex_only: bool,
    error: String,
}

#[derive(Default)]
struct Outcome {
    rules: usize,
    default_actions: usize,
    target_groups: usize,
    mismatches: Vec<String>,
    refused: Vec<Refused>,
    /// Rules whose transforms moto did not keep.
    transforms_dropped: Vec<String>,
}

struct World {
    aws: Aws,
    vpc: String,
    subnets: Vec<String>,
    proxy: Proxy,
    // Last: the proxy and the clients go before moto.
    _moto: Moto,
}

async fn world() -> World {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        // No faults are injected: a failure is an answer, not something to retry.
        max_attempts: 1,
        ..Default::default()
    })
    .await;
    let vpc = aws
        .call(Api::Ec2, "CreateVpc", aws.ec2.create_vpc().cidr_block("10.0.0.0/16").send())
        .await
        .expect("CreateVpc")
        .vpc()
        .and_then(|v| v.vpc_id())
        .expect("vpc id")
        .to_owned();
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let out = aws
            .call(
                Api::Ec2,
                "CreateSubnet",
                aws.ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).availability_zone(zone).send(),
            )
            .await
            .expect("CreateSubnet");
        subnets.push(out.subnet().and_then(|s| s.subnet_id()).expect("subnet id").to_owned());
    }
    World { aws, vpc, subnets, proxy, _moto: moto }
}

impl World {
    async fn load_balancer(&self, name: &str, stack: &Stack) -> String {
        let lb = &stack.load_balancer;
        let out = self
            .aws
            .call(
                Api::Elbv2Write,
                "CreateLoadBalancer",
                self.aws
                    .elbv2
                    .create_load_balancer()
                    .name(name)
                    .r#type(lb_type_to_sdk(lb.r#type.as_str()).expect("type"))
                    .scheme(scheme_to_sdk(lb.scheme.as_str()).expect("scheme"))
                    .ip_address_type(ip_address_type_to_sdk(&lb.ip_address_type).expect("ip address type"))
                    .set_subnets(Some(self.subnets.clone()))
                    .set_tags(Some(tags_to_sdk(&lb.tags)))
                    .send(),
            )
            .await
            .expect("CreateLoadBalancer");
        out.load_balancers()[0].load_balancer_arn().expect("lb arn").to_owned()
    }

    async fn target_group(&self, name: &str, tg: &TargetGroupPlan) -> String {
        let out = self
            .aws
            .call(
                Api::Elbv2Write,
                "CreateTargetGroup",
                self.aws
                    .elbv2
                    .create_target_group()
                    .name(name)
                    .vpc_id(&self.vpc)
                    .protocol(protocol_to_sdk(tg.protocol.as_str()).expect("protocol"))
                    .set_protocol_version(tg.protocol_version.clone())
                    .port(tg.port)
                    .target_type(target_type_to_sdk(tg.target_type.as_str()).expect("target type"))
                    .health_check_protocol(protocol_to_sdk(&tg.health_check_protocol).expect("health check protocol"))
                    .health_check_port(&tg.health_check_port)
                    .set_health_check_path(tg.health_check_path.clone())
                    .health_check_interval_seconds(tg.health_check_interval_seconds)
                    .health_check_timeout_seconds(tg.health_check_timeout_seconds)
                    .healthy_threshold_count(tg.healthy_threshold_count)
                    .unhealthy_threshold_count(tg.unhealthy_threshold_count)
                    .set_matcher(tg.matcher.as_ref().map(matcher_to_sdk))
                    .set_tags(Some(tags_to_sdk(&tg.tags)))
                    .send(),
            )
            .await
            .unwrap_or_else(|e| panic!("CreateTargetGroup {}: {e}", tg.id));
        out.target_groups()[0].target_group_arn().expect("tg arn").to_owned()
    }

    async fn rules(&self, listener: &str) -> HashMap<String, Rule> {
        let mut out = HashMap::new();
        let mut marker = None;
        loop {
            let page = self
                .aws
                .call(
                    Api::Elbv2Read,
                    "DescribeRules",
                    self.aws.elbv2.describe_rules().listener_arn(listener).set_marker(marker.clone()).send(),
                )
                .await
                .expect("DescribeRules");
            for rule in page.rules() {
                out.insert(rule.rule_arn().unwrap_or_default().to_owned(), rule.clone());
            }
            marker = page.next_marker().map(str::to_owned);
            if marker.is_none() {
                return out;
            }
        }
    }
}

fn action_types(rule: &RulePlan) -> Vec<String> {
    rule.actions.iter().map(|a| a.r#type.clone()).collect()
}

fn regex_only(rule: &RulePlan) -> bool {
    rule.conditions.iter().any(|c| {
        let values =
            [&c.host_header_config, &c.path_pattern_config].into_iter().flatten().map(|v| (&v.values, &v.regex_values));
        let header = c.http_header_config.iter().map(|h| (&h.values, &h.regex_values));
        values.chain(header).any(|(exact, regex)| exact.is_empty() && !regex.is_empty())
    })
}

/// One stack: its load balancer, target groups, listeners (plain HTTP on the plan's ports, so no
/// certificates are needed) and rules; every described part compared with the plan.
async fn check_stack(w: &World, case: &str, n: usize, stack: &Stack, outcome: &mut Outcome) {
    let lb = w.load_balancer(&format!("rt-{n}"), stack).await;
    let mut arns: HashMap<String, String> = HashMap::new();
    for (m, tg) in stack.target_groups.iter().enumerate() {
        arns.insert(tg.id.clone(), w.target_group(&format!("rt-{n}-{m}"), tg).await);
    }
    let ids: HashMap<String, String> = arns.iter().map(|(id, arn)| (arn.clone(), id.clone())).collect();
    let arn_of = |id: &str| arns.get(id).cloned();
    let id_of = |arn: &str| ids.get(arn).cloned().unwrap_or_else(|| arn.to_owned());

    // Target groups: what the diff will compare.
    for chunk in stack.target_groups.chunks(20) {
        let wanted: Vec<String> = chunk.iter().map(|tg| arns[&tg.id].clone()).collect();
        let described = w
            .aws
            .call(
                Api::Elbv2Read,
                "DescribeTargetGroups",
                w.aws.elbv2.describe_target_groups().set_target_group_arns(Some(wanted)).send(),
            )
            .await
            .expect("DescribeTargetGroups");
        for got in described.target_groups() {
            let id = id_of(got.target_group_arn().unwrap_or_default());
            let plan = chunk.iter().find(|tg| tg.id == id).expect("described target group is ours");
            outcome.target_groups += 1;
            let seen = (
                got.protocol().map(protocol_from_sdk),
                got.port(),
                got.target_type().map(target_type_from_sdk),
                got.health_check_protocol().map(protocol_from_sdk),
                got.health_check_port().map(str::to_owned),
                got.health_check_path().map(str::to_owned),
                got.matcher().map(matcher_from_sdk),
                got.protocol_version().map(str::to_owned),
            );
            let want = (
                Some(plan.protocol.to_string()),
                Some(plan.port),
                Some(plan.target_type.to_string()),
                Some(plan.health_check_protocol.clone()),
                Some(plan.health_check_port.clone()),
                plan.health_check_path.clone(),
                plan.matcher.clone(),
                plan.protocol_version.clone(),
            );
            if seen != want {
                outcome.mismatches.push(format!("{case}: target group {id}:\n  plan: {want:?}\n  read: {seen:?}"));
            }
        }
    }

    for listener in &stack.listeners {
        let mut defaults = Vec::new();
        for a in &listener.default_actions {
            defaults.push(action_to_sdk(a, &arn_of).unwrap_or_else(|e| panic!("{case}: default action: {e}")));
        }
        let created = w
            .aws
            .call(
                Api::Elbv2Write,
                "CreateListener",
                w.aws
                    .elbv2
                    .create_listener()
                    .load_balancer_arn(&lb)
                    .port(listener.port)
                    .protocol(ProtocolEnum::Http)
                    .set_default_actions(Some(defaults))
                    .set_tags(Some(tags_to_sdk(&listener.tags)))
                    .send(),
            )
            .await
            .unwrap_or_else(|e| panic!("{case}: CreateListener {}: {e}", listener.port));
        let listener_arn = created.listeners()[0].listener_arn().expect("listener arn").to_owned();
        let described = w
            .aws
            .call(
                Api::Elbv2Read,
                "DescribeListeners",
                w.aws.elbv2.describe_listeners().listener_arns(&listener_arn).send(),
            )
            .await
            .expect("DescribeListeners");
        let read: Vec<_> =
            described.listeners()[0].default_actions().iter().map(|a| action_from_sdk(a, &id_of)).collect();
        outcome.default_actions += 1;
        if canonical_actions(&read) != canonical_actions(&listener.default_actions) {
            outcome.mismatches.push(format!(
                "{case}: listener {} default actions:\n  plan: {:?}\n  read: {:?}",
                listener.port,
                canonical_actions(&listener.default_actions),
                canonical_actions(&read)
            ));
        }

        let mut created_rules: Vec<(&RulePlan, String)> = Vec::new();
        for rule in &listener.rules {
            let mut actions = Vec::new();
            for a in &rule.actions {
                actions.push(action_to_sdk(a, &arn_of).unwrap_or_else(|e| panic!("{case}: rule {}: {e}", rule.id)));
            }
            let transforms =
                (!rule.transforms.is_empty()).then(|| rule.transforms.iter().map(transform_to_sdk).collect());
            let result = w
                .aws
                .call(
                    Api::Elbv2Write,
                    "CreateRule",
                    w.aws
                        .elbv2
                        .create_rule()
                        .listener_arn(&listener_arn)
                        .priority(i32::try_from(rule.priority).expect("priority"))
                        .set_conditions(Some(rule.conditions.iter().map(condition_to_sdk).collect()))
                        .set_actions(Some(actions))
                        .set_transforms(transforms)
                        .set_tags(Some(tags_to_sdk(&rule.tags)))
                        .send(),
                )
                .await;
            match result {
                Ok(out) => created_rules.push((rule, out.rules()[0].rule_arn().expect("rule arn").to_owned())),
                Err(e) => outcome.refused.push(Refused {
                    case: case.into(),
                    rule: rule.id.clone(),
                    types: action_types(rule),
                    regex_only: regex_only(rule),
                    error: e.to_string(),
                }),
            }
        }

        let described = w.rules(&listener_arn).await;
        for (rule, arn) in &created_rules {
            outcome.rules += 1;
            let got = &described[arn];
            let conditions: Vec<_> = got.conditions().iter().map(condition_from_sdk).collect();
            let actions: Vec<_> = got.actions().iter().map(|a| action_from_sdk(a, &id_of)).collect();
            let mut transforms: Vec<_> = got.transforms().iter().map(transform_from_sdk).collect();
            if transforms.is_empty() && !rule.transforms.is_empty() {
                // moto 5.2.5 does not keep rule transforms (see the report at the end).
                outcome.transforms_dropped.push(format!("{case}: {}", rule.id));
                transforms = rule.transforms.clone();
            }
            let plan = canonical_rule(&rule.conditions, &rule.actions, &rule.transforms);
            let read = canonical_rule(&conditions, &actions, &transforms);
            if plan != read {
                outcome.mismatches.push(format!("{case}: rule {}:\n  plan: {plan:?}\n  read: {read:?}", rule.id));
            }
            if got.priority() != Some(rule.priority.to_string().as_str()) {
                outcome.mismatches.push(format!(
                    "{case}: rule {}: priority {:?}, plan {}",
                    rule.id,
                    got.priority(),
                    rule.priority
                ));
            }
        }

        // Rule tags: DescribeTags takes 20 ARNs at a time.
        for chunk in created_rules.chunks(20) {
            let out = w
                .aws
                .call(
                    Api::Elbv2Read,
                    "DescribeTags",
                    w.aws
                        .elbv2
                        .describe_tags()
                        .set_resource_arns(Some(chunk.iter().map(|(_, a)| a.clone()).collect()))
                        .send(),
                )
                .await
                .expect("DescribeTags");
            let by_arn: BTreeMap<&str, _> =
                out.tag_descriptions().iter().map(|d| (d.resource_arn().unwrap_or_default(), d.tags())).collect();
            for (rule, arn) in chunk {
                let got = tags_from_sdk(by_arn.get(arn.as_str()).copied().unwrap_or_default());
                let mut want = rule.tags.clone();
                want.sort();
                if got != want {
                    outcome
                        .mismatches
                        .push(format!("{case}: rule {} tags:\n  plan: {want:?}\n  read: {got:?}", rule.id));
                }
            }
        }
    }
}

#[tokio::test]
async fn golden_rules_read_back_unchanged() {
    let w = world().await;
    let plans = golden_plans();
    assert!(plans.len() > 50, "golden plans found: {}", plans.len());
    let mut outcome = Outcome::default();
    let mut n = 0;
    for (case, stacks) in &plans {
        for stack in stacks
            .iter()
            .filter(|s| s.load_balancer.r#type == albatross_model::plan::types::LoadBalancerType::Application)
        {
            n += 1;
            check_stack(&w, case, n, stack, &mut outcome).await;
        }
    }

    assert!(
        outcome.mismatches.is_empty(),
        "{} differences:\n{}",
        outcome.mismatches.len(),
        outcome.mismatches.join("\n")
    );
    // Refusals moto may make and AWS would not: authentication actions (none so far: moto
    // stores them without reaching an IdP) and conditions with only regex values (moto 5.2.5's
    // validators read `Values` unconditionally and fail with KeyError: 'Values', a 500).
    let (allowed, unexpected): (Vec<_>, Vec<_>) =
        outcome.refused.iter().partition(|r| r.types.iter().any(|t| t.starts_with("authenticate-")) || r.regex_only);
    assert!(unexpected.is_empty(), "moto refused rules the plan needs:\n{unexpected:#?}");
    for r in &allowed {
        eprintln!("skipped (moto refuses it): {}: {}: {:?}: {}", r.case, r.rule, r.types, r.error);
    }

    // moto drops rule transforms; the conversions themselves are covered by the unit tests. When
    // moto starts keeping them this list empties and the comparison above covers them too.
    for rule in &outcome.transforms_dropped {
        eprintln!("transforms not kept by moto: {rule}");
    }
    eprintln!(
        "{n} load balancers, {} target groups, {} listeners, {} rules compared; {} refused; {} with transforms moto dropped; {} calls",
        outcome.target_groups,
        outcome.default_actions,
        outcome.rules,
        outcome.refused.len(),
        outcome.transforms_dropped.len(),
        w.proxy.calls().len()
    );
    assert!(outcome.rules > 150, "only {} rules compared", outcome.rules);
}
