//! `albatross reconcile` on a stack the AWS Load Balancer Controller made: adopted in place
//! (same ARNs and DNS name, its target groups kept); and a replaced load balancer is deleted
//! only after its successor exists and the status names it.

#[path = "local/lbc.rs"]
mod lbc;
mod local;

use std::collections::BTreeMap;

use lbc::{LbcBackend, LbcGateway, observed};
use local::*;

const UID: &str = "7d1f3c2a-5b6e-4f80-9a1b-2c3d4e5f6a7b";

/// An ALB Gateway with one HTTPRoute of two rules; `config` is its LoadBalancerConfiguration
/// spec, if any.
fn alb_manifests(config: Option<&str>) -> String {
    let reference = if config.is_some() {
        "  infrastructure:\n    parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: web}\n"
    } else {
        ""
    };
    let config = config
        .map(|spec| {
            format!(
                "---\napiVersion: gateway.k8s.aws/v1beta1\nkind: LoadBalancerConfiguration\nmetadata: {{name: web, namespace: shop}}\nspec: {spec}\n"
            )
        })
        .unwrap_or_default();
    format!(
        r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {{name: alb}}
spec: {{controllerName: gateway.k8s.aws/alb}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {{name: web, namespace: shop, uid: {UID}}}
spec:
  gatewayClassName: alb
{reference}  listeners:
  - {{name: http, protocol: HTTP, port: 80}}
---
apiVersion: v1
kind: Service
metadata: {{name: cart, namespace: shop}}
spec:
  ports: [{{port: 80, targetPort: 8080}}]
---
apiVersion: v1
kind: Service
metadata: {{name: catalog, namespace: shop}}
spec:
  ports: [{{port: 80, targetPort: 9090}}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {{name: store, namespace: shop}}
spec:
  parentRefs: [{{name: web}}]
  rules:
  - matches: [{{path: {{type: PathPrefix, value: /cart}}}}]
    backendRefs: [{{name: cart, port: 80}}]
  - matches: [{{path: {{type: PathPrefix, value: /shop}}}}]
    backendRefs: [{{name: catalog, port: 80}}]
{config}"#
    )
}

/// The same Gateway as LBC left it; `paths` are the rules' path patterns (LBC's priorities 1, 2).
fn lbc_alb(load_balancer_name: Option<&'static str>, paths: [Vec<&'static str>; 2]) -> LbcGateway {
    let [cart, catalog] = paths;
    LbcGateway {
        namespace: "shop",
        name: "web",
        uid: UID,
        alb: true,
        scheme: "internal",
        load_balancer_name,
        listeners: vec![(80, "HTTP")],
        backends: vec![
            LbcBackend {
                route: ("shop", "store"),
                kind: "HTTPRoute",
                service: ("shop", "cart"),
                target_port: 8080,
                listener_port: 80,
                paths: cart,
            },
            LbcBackend {
                route: ("shop", "store"),
                kind: "HTTPRoute",
                service: ("shop", "catalog"),
                target_port: 9090,
                listener_port: 80,
                paths: catalog,
            },
        ],
    }
}

fn write(dir: &Path, manifests: &str) {
    std::fs::write(dir.join("stack.yaml"), manifests).unwrap();
}

fn sorted(mut seeded: lbc::Seeded) -> lbc::Seeded {
    seeded.listeners.sort();
    seeded.target_groups.sort();
    seeded
}

/// Rule priorities and path patterns on a listener, in priority order.
async fn rules(aws: &Aws, listener: &str) -> Vec<(String, Vec<String>)> {
    let rules = aws.elbv2.describe_rules().listener_arn(listener).send().await.unwrap();
    let mut out: Vec<(String, Vec<String>)> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| {
            let paths =
                r.conditions().iter().flat_map(|c| c.path_pattern_config().map(|p| p.values().to_vec())).flatten();
            (r.priority().unwrap().to_owned(), paths.collect())
        })
        .collect();
    out.sort();
    out
}

#[tokio::test]
async fn an_lbc_alb_named_by_its_hash_is_adopted_in_place_and_its_rules_converged() {
    let world = world().await;
    // LBC last saw the second rule as /catalog; the route says /shop now.
    let seeded = lbc_alb(None, [vec!["/cart", "/cart/*"], vec!["/catalog", "/catalog/*"]])
        .seed(&world.aws, &world.vpc, CLUSTER)
        .await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(None));

    // A dry run lists the rule modified and both rules' tags, and writes nothing.
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--dry-run", "--output", "json"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let steps: Vec<[&str; 3]> = report["gateways"][0]["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| ["operation", "kind", "change"].map(|k| s[k].as_str().unwrap()))
        .collect();
    assert_eq!(steps, [["ModifyRule", "rule", "modify"], ["AddTags", "rule", "tag"], ["AddTags", "rule", "tag"]]);
    assert_eq!(report["summary"]["tagged"], 2);

    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(observed(&world.aws, &seeded.load_balancer).await, sorted(seeded));
    // The one rule that differs is modified in place, at LBC's priority; both rules' tags get
    // our rule ids for LBC's `<port>:<priority>`; then the stack's fingerprint is written, for
    // the next run's quick confirmation.
    assert_eq!(mutations(&world), ["ModifyRule", "AddTags", "AddTags", "AddTags"], "{}", text(&out));
    let listener = &observed(&world.aws, &lbc_load_balancer(&world).await).await.listeners[0].1;
    assert_eq!(
        rules(&world.aws, listener).await,
        [("1".into(), vec!["/cart".into(), "/cart/*".into()]), ("2".into(), vec!["/shop".into(), "/shop/*".into()])]
    );
    assert_eq!(rule_tags(&world.aws, listener).await, planned_rule_tags(dir.path()));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&lbc_dns(&world).await), "{}", text(&out));

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

/// More listener and rule ARNs than one DescribeTags takes (20, as the proxy enforces): the
/// tags are read in chunks and every rule gets ours.
#[tokio::test]
async fn an_lbc_alb_with_more_rules_than_one_tag_read_takes_has_every_rule_retagged() {
    let world = world().await;
    let leak = |s: String| -> &'static str { Box::leak(s.into_boxed_str()) };
    let names: Vec<&'static str> = (1..=21).map(|i| leak(format!("s{i:02}"))).collect();
    let lbc = LbcGateway {
        namespace: "shop",
        name: "web",
        uid: UID,
        alb: true,
        scheme: "internal",
        load_balancer_name: None,
        listeners: vec![(80, "HTTP")],
        backends: names
            .iter()
            .map(|s| LbcBackend {
                route: ("shop", s),
                kind: "HTTPRoute",
                service: ("shop", s),
                target_port: 8080,
                listener_port: 80,
                paths: vec![leak(format!("/{s}")), leak(format!("/{s}/*"))],
            })
            .collect(),
    };
    let seeded = lbc.seed(&world.aws, &world.vpc, CLUSTER).await;
    let mut manifests = vec![
        "kind: GatewayClass\napiVersion: gateway.networking.k8s.io/v1\nmetadata: {name: alb}".to_owned(),
        "spec: {controllerName: gateway.k8s.aws/alb}\n---".to_owned(),
        "kind: Gateway\napiVersion: gateway.networking.k8s.io/v1".to_owned(),
        format!("metadata: {{name: web, namespace: shop, uid: {UID}}}"),
        "spec:\n  gatewayClassName: alb\n  listeners: [{name: http, protocol: HTTP, port: 80}]".to_owned(),
    ];
    for s in &names {
        manifests.extend([
            format!("---\nkind: Service\napiVersion: v1\nmetadata: {{name: {s}, namespace: shop}}"),
            "spec: {ports: [{port: 80, targetPort: 8080}]}\n---".to_owned(),
            "kind: HTTPRoute\napiVersion: gateway.networking.k8s.io/v1".to_owned(),
            format!("metadata: {{name: {s}, namespace: shop}}"),
            format!(
                "spec: {{parentRefs: [{{name: web}}], rules: [{{matches: [{{path: {{type: PathPrefix, value: /{s}}}}}],"
            ),
            format!("  backendRefs: [{{name: {s}, port: 80}}]}}]}}"),
        ]);
    }
    let manifests = manifests.join("\n");
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &manifests);

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(observed(&world.aws, &seeded.load_balancer).await, sorted(seeded));
    let listener = &observed(&world.aws, &lbc_load_balancer(&world).await).await.listeners[0].1;
    let mut have = rule_tags(&world.aws, listener).await;
    let mut want = planned_rule_tags(dir.path());
    have.sort();
    want.sort();
    assert_eq!(have.len(), 21);
    assert_eq!(have, want);

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

async fn tags_of(aws: &Aws, arn: &str) -> BTreeMap<String, String> {
    let tags = aws.elbv2.describe_tags().resource_arns(arn).send().await.unwrap();
    let tags = tags.tag_descriptions()[0].tags();
    tags.iter().map(|t| (t.key().unwrap().to_owned(), t.value().unwrap().to_owned())).collect()
}

/// The tags of a listener's rules, in priority order.
async fn rule_tags(aws: &Aws, listener: &str) -> Vec<BTreeMap<String, String>> {
    let rules = aws.elbv2.describe_rules().listener_arn(listener).send().await.unwrap();
    let mut rules: Vec<(u32, String)> = rules
        .rules()
        .iter()
        .filter(|r| r.is_default() != Some(true))
        .map(|r| (r.priority().unwrap().parse().unwrap(), r.rule_arn().unwrap().to_owned()))
        .collect();
    rules.sort();
    let mut out = Vec::new();
    for (_, arn) in rules {
        out.push(tags_of(aws, &arn).await);
    }
    out
}

/// The tags `albatross plan` gives the rules of the first listener, in precedence order.
fn planned_rule_tags(dir: &Path) -> Vec<BTreeMap<String, String>> {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_albatross"))
        .arg("plan")
        .arg(dir)
        .args(["-o", "json", "--cluster-name", CLUSTER])
        .env_remove("ALBATROSS_CLUSTER_NAME")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rules = plan["stacks"][0]["Listeners"][0]["Rules"].as_array().unwrap();
    rules
        .iter()
        .map(|r| {
            let tags = r["Tags"].as_array().unwrap();
            tags.iter()
                .map(|t| (t["Key"].as_str().unwrap().to_owned(), t["Value"].as_str().unwrap().to_owned()))
                .collect()
        })
        .collect()
}

async fn lbc_load_balancer(world: &World) -> String {
    let lbs = world.aws.elbv2.describe_load_balancers().send().await.unwrap();
    assert_eq!(lbs.load_balancers().len(), 1);
    lbs.load_balancers()[0].load_balancer_arn().unwrap().to_owned()
}

async fn lbc_dns(world: &World) -> String {
    let lbs = world.aws.elbv2.describe_load_balancers().send().await.unwrap();
    lbs.load_balancers()[0].dns_name().unwrap().to_owned()
}

#[tokio::test]
async fn an_lbc_alb_named_by_load_balancer_name_keeps_its_target_groups_and_gets_only_missing_tags() {
    let world = world().await;
    let seeded = lbc_alb(Some("shop-web"), [vec!["/cart", "/cart/*"], vec!["/shop", "/shop/*"]])
        .seed(&world.aws, &world.vpc, CLUSTER)
        .await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(Some("{loadBalancerName: shop-web, tags: {team: shop}}")));

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(observed(&world.aws, &seeded.load_balancer).await, sorted(seeded));
    // The user tag LBC's managed security group, load balancer and listener lacked, our rule
    // ids on LBC's two rules, and the fingerprint.
    assert_eq!(
        mutations(&world),
        ["CreateTags", "AddTags", "AddTags", "AddTags", "AddTags", "AddTags"],
        "{}",
        text(&out)
    );
    let listener = &observed(&world.aws, &lbc_load_balancer(&world).await).await.listeners[0].1;
    assert_eq!(tags_of(&world.aws, listener).await.get("team").map(String::as_str), Some("shop"));
    assert_eq!(rule_tags(&world.aws, listener).await, planned_rule_tags(dir.path()));

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

const NLB_MANIFESTS: &str = r#"
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge, namespace: shop, uid: 0b9d6c4e-1a2f-4c3d-8e5f-6a7b8c9d0e1f}
spec:
  gatewayClassName: nlb
  listeners:
  - {name: db, protocol: TCP, port: 5432}
---
apiVersion: v1
kind: Service
metadata: {name: db, namespace: shop}
spec:
  ports: [{port: 5432, targetPort: 15432, protocol: TCP}]
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: TCPRoute
metadata: {name: db, namespace: shop}
spec:
  parentRefs: [{name: edge, sectionName: db}]
  rules: [{backendRefs: [{name: db, port: 5432}]}]
"#;

#[tokio::test]
async fn an_lbc_nlb_is_adopted_in_place() {
    let world = world().await;
    let lbc = LbcGateway {
        namespace: "shop",
        name: "edge",
        uid: "0b9d6c4e-1a2f-4c3d-8e5f-6a7b8c9d0e1f",
        alb: false,
        scheme: "internal",
        load_balancer_name: None,
        listeners: vec![(5432, "TCP")],
        backends: vec![LbcBackend {
            route: ("shop", "db"),
            kind: "TCPRoute",
            service: ("shop", "db"),
            target_port: 15432,
            listener_port: 5432,
            paths: vec![],
        }],
    };
    let seeded = lbc.seed(&world.aws, &world.vpc, CLUSTER).await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), NLB_MANIFESTS);

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(observed(&world.aws, &seeded.load_balancer).await, sorted(seeded));
    // Nothing but the fingerprint.
    assert_eq!(mutations(&world), ["AddTags"], "{}", text(&out));

    reconcile_again_writes_nothing(&world, dir.path(), &["--channel", "experimental"]).await;
}

fn actions(world: &World) -> Vec<String> {
    world.proxy.calls().into_iter().map(|c| c.action).collect()
}

#[tokio::test]
async fn a_scheme_change_never_deletes_the_old_load_balancer_before_its_successor_serves() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(Some("{scheme: internal}")));
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let old = lbc_load_balancer(&world).await;

    write(dir.path(), &alb_manifests(Some("{scheme: internet-facing}")));
    // The dry run shows the same order: the successor first, the old stack retired after it.
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &["--dry-run"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    let step = |s: &str| printed.find(s).unwrap_or_else(|| panic!("{s:?} missing from:\n{printed}"));
    assert!(step("CreateLoadBalancer <new load balancer") < step("DeleteLoadBalancer arn:"), "{printed}");
    assert!(step("CreateRule") < step("DeleteLoadBalancer arn:"), "{printed}");
    assert!(printed.contains("deleted only once"), "{printed}");
    assert!(printed.contains("Summary: 1 load balancers replaced"), "{printed}");

    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = actions(&world);
    let at = |action: &str| calls.iter().position(|c| c == action).unwrap_or_else(|| panic!("no {action}: {calls:?}"));
    // The successor, its listener and rules exist before the old load balancer goes.
    assert!(at("CreateLoadBalancer") < at("DeleteLoadBalancer"), "{calls:?}");
    assert!(at("CreateListener") < at("DeleteLoadBalancer"), "{calls:?}");
    assert!(at("CreateRule") < at("DeleteLoadBalancer"), "{calls:?}");
    let new = lbc_load_balancer(&world).await;
    assert_ne!(new, old);
    // The status named the successor before the old one was deleted.
    let dns = lbc_dns(&world).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let programmed = stderr.find(&format!("): {dns}")).unwrap_or_else(|| panic!("{}", text(&out)));
    let retired = stderr.find("deleted the replaced stack").unwrap_or_else(|| panic!("{}", text(&out)));
    assert!(programmed < retired, "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(&dns), "{}", text(&out));
    // Nothing of the old stack is left: every target group is the successor's.
    let left = observed(&world.aws, &new).await;
    assert_eq!(left.target_groups.len(), 2, "{left:?}");

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

#[tokio::test]
async fn a_successor_that_cannot_be_created_leaves_the_old_load_balancer_serving() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(Some("{loadBalancerName: shop-web}")));
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let old = lbc_load_balancer(&world).await;
    let before = observed(&world.aws, &old).await;
    // The new name is someone else's.
    let subnets = world.aws.ec2.describe_subnets().send().await.unwrap();
    let ids: Vec<String> = subnets.subnets().iter().filter_map(|s| s.subnet_id().map(str::to_owned)).collect();
    world.aws.elbv2.create_load_balancer().name("taken").set_subnets(Some(ids)).send().await.unwrap();

    write(dir.path(), &alb_manifests(Some("{loadBalancerName: taken}")));
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!actions(&world).contains(&"DeleteLoadBalancer".to_owned()), "{}", text(&out));
    assert_eq!(observed(&world.aws, &old).await, before, "{}", text(&out));
}

/// `(load balancer ARNs, target group ARNs, security group ids)` in AWS, each sorted.
async fn everything(aws: &Aws) -> (Vec<String>, Vec<String>, Vec<String>) {
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let mut lbs: Vec<String> = lbs.load_balancers().iter().map(|l| l.load_balancer_arn().unwrap().to_owned()).collect();
    let tgs = aws.elbv2.describe_target_groups().send().await.unwrap();
    let mut tgs: Vec<String> = tgs.target_groups().iter().map(|t| t.target_group_arn().unwrap().to_owned()).collect();
    let sgs = aws.ec2.describe_security_groups().send().await.unwrap();
    let mut sgs: Vec<String> = sgs.security_groups().iter().map(|g| g.group_id().unwrap().to_owned()).collect();
    lbs.sort();
    tgs.sort();
    sgs.sort();
    (lbs, tgs, sgs)
}

#[tokio::test]
async fn a_restart_between_a_successor_and_the_retirement_keeps_the_successor_and_retires_the_old_once() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(Some("{scheme: internal}")));
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let old = lbc_load_balancer(&world).await;

    // The process dies as it is about to delete the replaced load balancer.
    write(dir.path(), &alb_manifests(Some("{scheme: internet-facing}")));
    world.proxy.hold_action(Some("DeleteLoadBalancer"));
    let mut cmd = reconcile_command(&world, dir.path(), &[]);
    cmd.stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let held = tokio::time::timeout(std::time::Duration::from_secs(120), world.proxy.wait_for_hold()).await;
    child.kill().unwrap();
    child.wait().unwrap();
    held.expect("the deletion of the replaced load balancer was held");
    world.proxy.drop_held();
    world.proxy.hold_action(None);
    let (lbs, tgs, sgs) = everything(&world.aws).await;
    assert_eq!(lbs.len(), 2, "the old load balancer and its successor: {lbs:?}");
    assert_eq!(tgs.len(), 4, "each load balancer with target groups of its own: {tgs:?}");
    let successor = lbs.iter().find(|a| **a != old).unwrap().clone();

    // A fresh run over the same manifests keeps the successor and retires the old stack.
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(world.proxy.count("CreateLoadBalancer"), 0, "{}", text(&out));
    assert_eq!(world.proxy.count("DeleteLoadBalancer"), 1, "{}", text(&out));
    assert_eq!(world.proxy.count("DeleteTargetGroup"), 2, "{}", text(&out));
    let failed: Vec<_> = world.proxy.calls().into_iter().filter(|c| c.error.is_some()).collect();
    assert!(failed.is_empty(), "{failed:?}\n{}", text(&out));
    let dns = lbc_dns(&world).await;
    let stderr = String::from_utf8_lossy(&out.stderr);
    let programmed = stderr.find(&format!("): {dns}")).unwrap_or_else(|| panic!("{}", text(&out)));
    let retired = stderr.find("deleted the replaced stack").unwrap_or_else(|| panic!("{}", text(&out)));
    assert!(programmed < retired, "{}", text(&out));
    // Only the successor and what it uses is left; the security groups are the same ones.
    let (lbs_after, tgs_after, sgs_after) = everything(&world.aws).await;
    assert_eq!(lbs_after, std::slice::from_ref(&successor));
    assert_eq!(observed(&world.aws, &successor).await.target_groups.len(), 2);
    assert_eq!(tgs_after.len(), 2, "{tgs_after:?}");
    assert!(tgs_after.iter().all(|t| tgs.contains(t)), "no new target group: {tgs_after:?}");
    assert_eq!(sgs_after, sgs);

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

#[tokio::test]
async fn a_replacement_after_a_rule_moved_to_a_new_target_group_gives_the_successor_target_groups_of_its_own() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), &alb_manifests(Some("{scheme: internal}")));
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    // A new target port needs a new target group: the rule is moved to it (ModifyRule).
    let moved = |scheme: &str| {
        alb_manifests(Some(&format!("{{scheme: {scheme}}}"))).replace("targetPort: 8080", "targetPort: 8081")
    };
    write(dir.path(), &moved("internal"));
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(mutations(&world).contains(&"ModifyRule".to_owned()), "{}", text(&out));

    // The successor may not share that target group with the old load balancer (AWS refuses).
    write(dir.path(), &moved("internet-facing"));
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(world.proxy.count("CreateTargetGroup"), 2, "{}", text(&out));
    let shared = world.proxy.calls().into_iter().filter(|c| c.error.as_deref() == Some("TargetGroupAssociationLimit"));
    assert_eq!(shared.count(), 0, "{}", text(&out));
    let new = lbc_load_balancer(&world).await;
    let left = observed(&world.aws, &new).await;
    assert_eq!(left.target_groups.len(), 2, "{left:?}");
    let all = world.aws.elbv2.describe_target_groups().send().await.unwrap();
    assert_eq!(all.target_groups().len(), 2, "nothing of the old stack is left");
}
