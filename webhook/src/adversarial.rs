//! Hostile AdmissionReviews: bodies under the 3 MiB limit built to make validation slow. The
//! webhook's tests run each through the router and check its verdict; the webhook benchmark
//! times the worst of them. Built in code, since several are megabytes of repetition.

use serde_json::{Value, json};

/// What the webhook must answer to an attack.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// Denied, with this field named in the message.
    Denied(&'static str),
    /// Not an AdmissionReview the webhook can read: 400.
    BadRequest,
}

/// One hostile review.
#[derive(Clone, Debug)]
pub struct Attack {
    pub name: &'static str,
    pub body: Vec<u8>,
    pub expect: Expect,
}

fn review(object: Value) -> Vec<u8> {
    let (group, version) = object["apiVersion"].as_str().unwrap_or("").rsplit_once('/').unwrap_or(("", ""));
    let body = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "00000000-0000-0000-0000-00000000a77a",
            "kind": {"group": group, "version": version, "kind": object["kind"]},
            "operation": "CREATE",
            "name": object["metadata"]["name"],
            "namespace": "tenant",
            "object": object,
        }
    });
    serde_json::to_vec(&body).unwrap_or_default()
}

fn route(spec: Value) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
           "metadata": {"name": "hostile", "namespace": "tenant"}, "spec": spec})
}

fn gateway(listeners: Vec<Value>) -> Value {
    json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
           "metadata": {"name": "hostile", "namespace": "tenant"},
           "spec": {"gatewayClassName": "alb", "listeners": listeners}})
}

fn listener(name: String, port: u32) -> Value {
    json!({"name": name, "port": port, "protocol": "HTTP", "hostname": "a.example.com"})
}

/// Every attack, each body under 3 MiB.
pub fn corpus() -> Vec<Attack> {
    let parent_refs: Vec<Value> =
        (0..30_000).map(|i| json!({"name": format!("gw-{i}"), "sectionName": format!("l{i}")})).collect();
    let same_parent: Vec<Value> = (0..30_000).map(|_| json!({"name": "gw", "sectionName": "http"})).collect();
    let listeners: Vec<Value> = (0..20_000).map(|i| listener(format!("l{i}"), 1 + i % 65_000)).collect();
    let same_listener: Vec<Value> = (0..20_000).map(|_| listener("l".into(), 80)).collect();
    let hostnames: Vec<Value> = (0..60_000).map(|i| json!(format!("h{i}.example.com"))).collect();
    let long_path = format!("/{}", "a".repeat(2_500_000));
    let matches: Vec<Value> =
        (0..15_000).map(|i| json!({"path": {"type": "PathPrefix", "value": format!("/p{i}")}})).collect();
    let backends: Vec<Value> = (0..20_000).map(|i| json!({"name": format!("svc-{i}"), "port": 80})).collect();
    let labels: serde_json::Map<String, Value> = (0..60_000).map(|i| (format!("k{i}"), json!("v"))).collect();
    let mut labelled = route(json!({}));
    labelled["metadata"]["labels"] = Value::Object(labels);
    labelled["metadata"]["name"] = json!("Not_A_Name");
    let mut nested = String::new();
    for _ in 0..100_000 {
        nested.push('[');
    }
    vec![
        Attack {
            name: "thirty_thousand_parent_refs",
            body: review(route(json!({"parentRefs": parent_refs}))),
            expect: Expect::Denied("spec.parentRefs"),
        },
        Attack {
            name: "thirty_thousand_identical_parent_refs",
            body: review(route(json!({"parentRefs": same_parent}))),
            expect: Expect::Denied("spec.parentRefs"),
        },
        Attack {
            name: "twenty_thousand_listeners",
            body: review(gateway(listeners)),
            expect: Expect::Denied("spec.listeners"),
        },
        Attack {
            name: "twenty_thousand_listeners_of_one_name",
            body: review(gateway(same_listener)),
            expect: Expect::Denied("spec.listeners"),
        },
        Attack {
            name: "sixty_thousand_hostnames",
            body: review(route(json!({"hostnames": hostnames}))),
            expect: Expect::Denied("spec.hostnames"),
        },
        Attack {
            name: "path_of_two_and_a_half_megabytes",
            body: review(route(
                json!({"rules": [{"matches": [{"path": {"type": "PathPrefix", "value": long_path}}]}]}),
            )),
            expect: Expect::Denied("spec.rules[0].matches[0].path.value"),
        },
        Attack {
            name: "fifteen_thousand_matches_in_one_rule",
            body: review(route(json!({"rules": [{"matches": matches}]}))),
            expect: Expect::Denied("spec.rules[0].matches"),
        },
        Attack {
            name: "twenty_thousand_backends_in_one_rule",
            body: review(route(json!({"rules": [{"backendRefs": backends}]}))),
            expect: Expect::Denied("spec.rules[0].backendRefs"),
        },
        Attack { name: "sixty_thousand_labels", body: review(labelled), expect: Expect::Denied("metadata.name") },
        Attack { name: "one_hundred_thousand_nested_arrays", body: nested.into_bytes(), expect: Expect::BadRequest },
    ]
}
