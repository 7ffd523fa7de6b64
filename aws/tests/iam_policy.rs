//! `manifests/iam-policy.json` is `albatross iam-policy` for the example cluster; it grants every
//! AWS action the code calls and nothing it does not, but for the few an AWS call needs beside
//! its own (listed here with the reason); and every change it allows is conditioned on the
//! cluster tag's value, checked with a small evaluator of the condition operators it uses.
//! `ALBATROSS_BLESS=1 cargo test -p albatross-aws --test iam_policy` rewrites the file.

use std::collections::BTreeSet;
use std::path::Path;

use albatross_aws::iam::{EXAMPLE_CLUSTER, policy_text};
use serde_json::Value;

const EXTRA: &[(&str, &str)] = &[
    ("iam:CreateServiceLinkedRole", "the first load balancer of an account creates the ELB service role"),
    ("shield:TagResource", "CreateProtection with Tags tags on create"),
    (
        "elasticloadbalancing:SetWebAcl",
        "wafv2:AssociateWebACL and DisassociateWebACL act on the load balancer through it",
    ),
];

fn pascal(snake: &str) -> String {
    snake.split('_').map(|w| w[..1].to_uppercase() + &w[1..]).collect()
}

/// `<service>:<Action>` for every SDK operation called in `aws/src` (`client.method(` with
/// the client's field name, across line breaks).
fn called() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut stack = vec![Path::new(env!("CARGO_MANIFEST_DIR")).join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.file_name().is_some_and(|n| n == "tests.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for (client, service) in [
                ("elbv2", "elasticloadbalancing"),
                ("ec2", "ec2"),
                ("acm", "acm"),
                ("tagging", "tag"),
                ("wafv2", "wafv2"),
                ("shield", "shield"),
            ] {
                let mut rest = text.as_str();
                let needle = client;
                while let Some(at) = rest.find(needle) {
                    let before = rest[..at].chars().last();
                    rest = &rest[at + needle.len()..];
                    if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                        continue;
                    }
                    let after = rest.trim_start();
                    let Some(after) = after.strip_prefix('.') else { continue };
                    let method: String =
                        after.trim_start().chars().take_while(|c| c.is_ascii_lowercase() || *c == '_').collect();
                    let tail = &after.trim_start()[method.len()..];
                    if !method.is_empty() && tail.starts_with('(') && method != "clone" {
                        // IAM spells WAF's `WebAcl` operations `WebACL`.
                        out.insert(format!("{service}:{}", pascal(&method).replace("WebAcl", "WebACL")));
                    }
                }
            }
        }
    }
    out
}

fn committed() -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/iam-policy.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn granted() -> BTreeSet<String> {
    let policy = committed();
    let mut out = BTreeSet::new();
    for statement in policy["Statement"].as_array().unwrap() {
        assert_eq!(statement["Effect"], "Allow");
        for action in statement["Action"].as_array().unwrap() {
            out.insert(action.as_str().unwrap().to_owned());
        }
    }
    out
}

#[test]
fn the_iam_policy_grants_every_action_the_code_calls() {
    let called = called();
    assert!(called.contains("elasticloadbalancing:SetRulePriorities") && called.contains("tag:GetResources"));
    let granted = granted();
    let missing: Vec<_> = called.difference(&granted).collect();
    assert!(missing.is_empty(), "not granted: {missing:?}");
}

#[test]
fn the_iam_policy_grants_nothing_the_code_does_not_call() {
    let called = called();
    let extra: Vec<_> =
        granted().into_iter().filter(|a| !called.contains(a) && !EXTRA.iter().any(|(e, _)| e == a)).collect();
    assert!(extra.is_empty(), "granted but never called: {extra:?}");
}

#[test]
fn the_committed_policy_is_albatross_iam_policy_for_the_example_cluster() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/iam-policy.json");
    let generated = policy_text(EXAMPLE_CLUSTER);
    if std::env::var("ALBATROSS_BLESS").is_ok_and(|v| v == "1") {
        std::fs::write(&path, &generated).unwrap();
    }
    assert!(
        std::fs::read_to_string(&path).unwrap() == generated,
        "manifests/iam-policy.json differs from `albatross iam-policy --cluster-name {EXAMPLE_CLUSTER}`; \
         regenerate it with: ALBATROSS_BLESS=1 cargo test -p albatross-aws --test iam_policy"
    );
}

/// One authorization request as IAM sees it.
#[derive(Default)]
struct Request<'a> {
    action: &'a str,
    resource: &'a str,
    resource_tags: &'a [(&'a str, &'a str)],
    request_tags: &'a [(&'a str, &'a str)],
    /// `elasticloadbalancing:CreateAction` / `ec2:CreateAction` of a tag-on-create check.
    create_action: Option<&'a str>,
}

impl Request<'_> {
    fn key(&self, key: &str) -> Option<Vec<String>> {
        let tag = |tags: &[(&str, &str)], k: &str| tags.iter().find(|(t, _)| *t == k).map(|(_, v)| vec![v.to_string()]);
        if let Some(k) = key.strip_prefix("aws:ResourceTag/") {
            return tag(self.resource_tags, k);
        }
        if let Some(k) = key.strip_prefix("aws:RequestTag/") {
            return tag(self.request_tags, k);
        }
        match key {
            "aws:TagKeys" => Some(self.request_tags.iter().map(|(k, _)| k.to_string()).collect()),
            "elasticloadbalancing:CreateAction" | "ec2:CreateAction" => self.create_action.map(|a| vec![a.to_owned()]),
            "iam:AWSServiceName" => Some(vec!["elasticloadbalancing.amazonaws.com".into()]),
            other => panic!("the evaluator does not know condition key {other}"),
        }
    }
}

fn strings(v: &Value) -> Vec<String> {
    match v {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().map(|x| x.as_str().unwrap().to_owned()).collect(),
        other => panic!("not a string or list: {other}"),
    }
}

/// `*` matches any run of characters.
fn glob(pattern: &str, text: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == text,
        Some((head, rest)) => {
            text.starts_with(head) && (0..=text.len() - head.len()).any(|i| glob(rest, &text[head.len() + i..]))
        }
    }
}

/// Whether an Allow statement of `policy` grants `request` (the policy has no Deny).
fn allowed(policy: &Value, request: &Request) -> bool {
    policy["Statement"].as_array().unwrap().iter().any(|statement| {
        let action = strings(&statement["Action"]).iter().any(|a| a == request.action);
        let resource = strings(&statement["Resource"]).iter().any(|r| glob(r, request.resource));
        let conditions =
            statement.get("Condition").and_then(Value::as_object).into_iter().flatten().all(|(op, keys)| {
                keys.as_object().unwrap().iter().all(|(key, wanted)| {
                    let wanted = strings(wanted);
                    let got = request.key(key);
                    match op.as_str() {
                        "StringEquals" => got.is_some_and(|g| !g.is_empty() && g.iter().all(|v| wanted.contains(v))),
                        "StringEqualsIfExists" => got.is_none_or(|g| g.iter().all(|v| wanted.contains(v))),
                        "ForAllValues:StringNotEquals" => got.unwrap_or_default().iter().all(|v| !wanted.contains(v)),
                        "Null" => got.is_none() == (wanted == ["true"]),
                        other => panic!("the evaluator does not know condition operator {other}"),
                    }
                })
            });
        action && resource && conditions
    })
}

const CLUSTER_TAG: &str = "elbv2.k8s.aws/cluster";
const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:111122223333:loadbalancer/app/web/0123456789abcdef";
const SG: &str = "arn:aws:ec2:us-east-1:111122223333:security-group/sg-0123456789abcdef0";

#[test]
fn iam_policy_conditions_on_the_cluster_tag_value() {
    let policy = committed();
    let ours = [(CLUSTER_TAG, EXAMPLE_CLUSTER)];
    let theirs = [(CLUSTER_TAG, "another-cluster")];
    let reads: BTreeSet<String> = strings(&policy["Statement"][0]["Action"]).into_iter().collect();
    assert_eq!(policy["Statement"][0]["Sid"], "Read");
    let creates = [
        "elasticloadbalancing:CreateLoadBalancer",
        "elasticloadbalancing:CreateTargetGroup",
        "shield:CreateProtection",
    ];
    let tagging = ["elasticloadbalancing:AddTags", "ec2:CreateTags", "ec2:CreateSecurityGroup"];
    // The web ACL's side of an association names no resource of ours; the load balancer's side
    // (SetWebAcl, checked with the changes) does.
    let web_acl_side = ["wafv2:AssociateWebACL", "wafv2:DisassociateWebACL"];
    let mut changes: Vec<String> = called()
        .into_iter()
        .filter(|a| !reads.contains(a) && !creates.contains(&a.as_str()) && !tagging.contains(&a.as_str()))
        .filter(|a| !web_acl_side.contains(&a.as_str()))
        .collect();
    changes.push("elasticloadbalancing:SetWebAcl".into());
    // Listener and rule actions are among them: ELBv2 checks the listener's, rule's or (for
    // CreateListener) load balancer's own tags.
    for listener_or_rule in ["CreateListener", "CreateRule", "ModifyRule", "DeleteRule", "SetRulePriorities"] {
        assert!(changes.contains(&format!("elasticloadbalancing:{listener_or_rule}")), "{changes:?}");
    }
    for action in &changes {
        let resource = if action.starts_with("ec2:") { SG } else { LB };
        let on = |tags: &[(&str, &str)]| {
            allowed(&policy, &Request { action, resource, resource_tags: tags, ..Default::default() })
        };
        assert!(on(&ours), "{action} on this cluster's resource is refused");
        assert!(!on(&theirs), "{action} on another cluster's resource is allowed");
        assert!(!on(&[]), "{action} on an untagged resource is allowed");
    }
    for action in creates {
        let create = |tags: &[(&str, &str)]| {
            allowed(&policy, &Request { action, resource: LB, request_tags: tags, ..Default::default() })
        };
        assert!(create(&ours), "{action} tagged for this cluster is refused");
        assert!(!create(&theirs), "{action} tagged for another cluster is allowed");
        assert!(!create(&[]), "{action} untagged is allowed");
    }
    let create_group = |tags: &[(&str, &str)]| {
        let request =
            Request { action: "ec2:CreateSecurityGroup", resource: SG, request_tags: tags, ..Default::default() };
        let tag_on_create = Request { action: "ec2:CreateTags", create_action: Some("CreateSecurityGroup"), ..request };
        allowed(&policy, &request) && allowed(&policy, &tag_on_create)
    };
    assert!(create_group(&ours));
    assert!(!create_group(&theirs));
}

#[test]
fn tag_changes_never_write_the_cluster_tag_of_an_existing_resource_nor_touch_another_clusters() {
    let policy = committed();
    let ours = [(CLUSTER_TAG, EXAMPLE_CLUSTER)];
    let theirs = [(CLUSTER_TAG, "another-cluster")];
    let add = |resource_tags: &[(&str, &str)], request_tags: &[(&str, &str)], create_action: Option<&str>| {
        allowed(
            &policy,
            &Request {
                action: "elasticloadbalancing:AddTags",
                resource: LB,
                resource_tags,
                request_tags,
                create_action,
            },
        )
    };
    let user = [("team", "shop")];
    assert!(add(&ours, &user, None), "a user tag on our load balancer");
    assert!(!add(&theirs, &user, None), "a tag on another cluster's load balancer");
    assert!(!add(&[], &user, None), "a tag on an untagged load balancer");
    assert!(!add(&ours, &theirs, None), "our resource handed to another cluster");
    assert!(!add(&theirs, &ours, None), "another cluster's resource taken over");
    assert!(!add(&[], &ours, None), "an untagged resource taken over");
    for create in ["CreateLoadBalancer", "CreateTargetGroup", "CreateListener", "CreateRule"] {
        assert!(add(&[], &ours, Some(create)), "tags on {create}");
        assert!(!add(&[], &theirs, Some(create)), "another cluster's tag on {create}");
    }
    for action in ["elasticloadbalancing:RemoveTags", "ec2:DeleteTags"] {
        let request = Request { action, resource: LB, resource_tags: &ours, request_tags: &ours, ..Default::default() };
        assert!(!allowed(&policy, &request), "{action} is granted");
    }
    let retag_group = Request {
        action: "ec2:CreateTags",
        resource: SG,
        resource_tags: &theirs,
        request_tags: &ours,
        ..Default::default()
    };
    assert!(!allowed(&policy, &retag_group), "CreateTags on an existing security group");
}
