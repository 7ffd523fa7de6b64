//! Properties of the plan over random sets of routes: the same objects in any order give the
//! same plan; a route's rules keep their ids and content whatever other routes exist; priorities
//! within a listener are unique and follow the precedence order.

use albatross_model::plan::{self, Build, Env, Snapshot};
use albatross_model::{Validator, ValidatorOptions};
use proptest::prelude::*;
use serde_json::{Value, json};

#[derive(Clone, Debug)]
struct RouteSpec {
    hostnames: Vec<&'static str>,
    rules: Vec<Vec<(u8, &'static str, bool, bool)>>,
    created: u8,
}

fn route_strategy() -> impl Strategy<Value = RouteSpec> {
    let matcher = (0u8..3, prop::sample::select(vec!["/", "/a", "/a/b", "/b", "/cart"]), any::<bool>(), any::<bool>());
    (
        prop::sample::subsequence(vec!["a.example.com", "*.example.com", "b.example.com"], 0..=2),
        prop::collection::vec(prop::collection::vec(matcher, 0..=2), 1..=2),
        0u8..4,
    )
        .prop_map(|(hostnames, rules, created)| RouteSpec { hostnames, rules, created })
}

fn objects(routes: &[(usize, RouteSpec)]) -> Vec<Value> {
    let mut out = vec![
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "alb"},
               "spec": {"controllerName": "gateway.k8s.aws/alb"}}),
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "web", "namespace": "ns"},
               "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]}}),
        json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "svc", "namespace": "ns"},
               "spec": {"ports": [{"port": 80, "targetPort": 8080}]}}),
    ];
    for (id, r) in routes {
        let rules: Vec<Value> = r
            .rules
            .iter()
            .map(|matches| {
                let matches: Vec<Value> = matches
                    .iter()
                    .map(|(kind, path, header, method)| {
                        let path_type = ["PathPrefix", "Exact", "RegularExpression"][*kind as usize];
                        let mut m = json!({"path": {"type": path_type, "value": path}});
                        if *header {
                            m["headers"] = json!([{"type": "Exact", "name": "x-tier", "value": "gold"}]);
                        }
                        if *method {
                            m["method"] = json!("GET");
                        }
                        m
                    })
                    .collect();
                let mut rule = json!({"backendRefs": [{"name": "svc", "port": 80}]});
                if !matches.is_empty() {
                    rule["matches"] = json!(matches);
                }
                rule
            })
            .collect();
        out.push(json!({
            "apiVersion": "gateway.networking.k8s.io/v1", "kind": "HTTPRoute",
            "metadata": {"name": format!("r{id}"), "namespace": "ns",
                         "creationTimestamp": format!("2026-01-0{}T00:00:00Z", r.created + 1)},
            "spec": {"parentRefs": [{"name": "web"}], "hostnames": r.hostnames, "rules": rules}
        }));
    }
    out
}

fn build(objects: &[Value]) -> Build {
    let validator = Validator::new(ValidatorOptions::default());
    let defaulted: Vec<Value> = objects.iter().map(|o| validator.with_defaults(o)).collect();
    let (snapshot, skipped) = Snapshot::from_objects(defaulted);
    assert!(skipped.is_empty(), "{skipped:?}");
    let mut env = Env::default();
    env.limits.rules_per_alb = 10_000;
    env.limits.target_groups_per_alb = 10_000;
    plan::build(&snapshot, &env)
}

/// `rule id -> serialized rule without its priority` for the rules of route `name`.
fn rules_of(build: &Build, name: &str) -> Vec<(String, Value)> {
    let marker = format!("/ns/{name}/");
    let mut out: Vec<(String, Value)> = build
        .stacks
        .iter()
        .flat_map(|s| &s.listeners)
        .flat_map(|l| &l.rules)
        .filter(|r| r.id.contains(&marker))
        .map(|r| {
            let mut v = serde_json::to_value(r).unwrap();
            v.as_object_mut().unwrap().remove("Priority");
            (r.id.clone(), v)
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn the_same_objects_in_any_order_give_the_same_plan(
        routes in prop::collection::vec(route_strategy(), 1..8),
        seed in any::<u64>(),
    ) {
        let routes: Vec<(usize, RouteSpec)> = routes.into_iter().enumerate().collect();
        let forward = objects(&routes);
        let mut shuffled = forward.clone();
        // A deterministic shuffle from the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        prop_assert_eq!(build(&forward), build(&shuffled));
    }

    #[test]
    fn a_routes_rules_keep_their_ids_and_content_whatever_other_routes_exist(
        routes in prop::collection::vec(route_strategy(), 2..8),
        keep in prop::collection::vec(any::<bool>(), 8),
    ) {
        let all: Vec<(usize, RouteSpec)> = routes.into_iter().enumerate().collect();
        let some: Vec<(usize, RouteSpec)> = all.iter().filter(|(i, _)| *i == 0 || keep[*i]).cloned().collect();
        let (full, partial) = (build(&objects(&all)), build(&objects(&some)));
        prop_assert_eq!(rules_of(&full, "r0"), rules_of(&partial, "r0"));
    }

    #[test]
    fn priorities_are_unique_and_increasing_within_a_listener(routes in prop::collection::vec(route_strategy(), 1..8)) {
        let routes: Vec<(usize, RouteSpec)> = routes.into_iter().enumerate().collect();
        let build = build(&objects(&routes));
        for listener in build.stacks.iter().flat_map(|s| &s.listeners) {
            let priorities: Vec<u32> = listener.rules.iter().map(|r| r.priority).collect();
            prop_assert!(priorities.windows(2).all(|w| w[0] < w[1]), "{:?}", priorities);
            let mut ids: Vec<&str> = listener.rules.iter().map(|r| r.id.as_str()).collect();
            ids.sort();
            ids.dedup();
            prop_assert_eq!(ids.len(), listener.rules.len());
        }
    }
}
