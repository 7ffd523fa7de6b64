//! `manifests/iam-policy.json` grants every AWS action the code calls and nothing it does not,
//! but for the few an AWS call needs beside its own (listed here with the reason).

use std::collections::BTreeSet;
use std::path::Path;

const EXTRA: &[(&str, &str)] = &[
    ("ec2:CreateTags", "CreateSecurityGroup with TagSpecifications tags on create"),
    ("iam:CreateServiceLinkedRole", "the first load balancer of an account creates the ELB service role"),
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
            for (client, service) in
                [("elbv2", "elasticloadbalancing"), ("ec2", "ec2"), ("acm", "acm"), ("tagging", "tag")]
            {
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
                        out.insert(format!("{service}:{}", pascal(&method)));
                    }
                }
            }
        }
    }
    out
}

fn granted() -> BTreeSet<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../manifests/iam-policy.json");
    let policy: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
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
