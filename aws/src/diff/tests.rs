use albatross_model::plan::types::*;

use super::*;
use crate::observed::*;

fn forward(tg: &str) -> Action {
    Action {
        r#type: "forward".into(),
        order: 1,
        forward_config: Some(ForwardConfig {
            target_groups: vec![WeightedTargetGroup { target_group_arn: tg.into(), weight: 1 }],
            target_group_stickiness_config: None,
        }),
        ..Default::default()
    }
}

fn path(p: &str) -> Condition {
    Condition {
        field: "path-pattern".into(),
        path_pattern_config: Some(Values { values: vec![p.into()], regex_values: vec![] }),
        ..Default::default()
    }
}

fn rule(id: &str, p: &str, tg: &str, priority: u32) -> RulePlan {
    RulePlan {
        id: id.into(),
        priority,
        conditions: vec![path(p)],
        actions: vec![forward(tg)],
        transforms: vec![],
        tags: vec![],
    }
}

fn not_found() -> Action {
    Action {
        r#type: "fixed-response".into(),
        order: 1,
        fixed_response_config: Some(FixedResponseConfig {
            status_code: "404".into(),
            content_type: Some("text/plain".into()),
            message_body: None,
        }),
        ..Default::default()
    }
}

fn target_group(id: &str) -> TargetGroupPlan {
    TargetGroupPlan {
        id: id.into(),
        target_group_name: format!("tg-{id}"),
        protocol: albatross_model::plan::types::Protocol::Http,
        protocol_version: Some("HTTP1".into()),
        port: 8080,
        target_type: albatross_model::plan::types::TargetType::Ip,
        ip_address_type: None,
        target_control_port: None,
        health_check_protocol: "HTTP".into(),
        health_check_port: "traffic-port".into(),
        health_check_path: Some("/".into()),
        health_check_interval_seconds: 15,
        health_check_timeout_seconds: 5,
        healthy_threshold_count: 3,
        unhealthy_threshold_count: 3,
        matcher: Some(Matcher { http_code: Some("200-399".into()), grpc_code: None }),
        attributes: vec![],
        tags: vec![],
        backend: Backend {
            namespace: "ns".into(),
            name: id.into(),
            port: 80,
            node_selector: None,
            multi_cluster: false,
        },
    }
}

fn stack(rules: Vec<RulePlan>, tgs: &[&str]) -> Stack {
    Stack {
        gateway: "ns/gw".into(),
        load_balancer: LoadBalancerPlan {
            load_balancer_name: "lb".into(),
            r#type: albatross_model::plan::types::LoadBalancerType::Application,
            scheme: albatross_model::plan::types::Scheme::Internal,
            ip_address_type: "ipv4".into(),
            subnets: vec!["subnet-a".into(), "subnet-b".into()],
            security_groups: vec!["sg-1".into()],
            managed_security_group_name: None,
            subnet_selector: Default::default(),
            source_ranges: vec![],
            attributes: vec![],
            tags: vec![],
            settings: Default::default(),
        },
        listeners: vec![ListenerPlan {
            port: 80,
            protocol: albatross_model::plan::types::Protocol::Http,
            ssl_policy: None,
            certificates: vec![],
            alpn_policy: vec![],
            default_actions: vec![not_found()],
            rules,
            tags: vec![],
            mutual_authentication: None,
            attributes: vec![],
        }],
        target_groups: tgs.iter().map(|t| target_group(t)).collect(),
    }
}

/// What AWS would hold after applying `stack` exactly as planned.
fn observed_as(stack: &Stack) -> StackObserved {
    let arn = |id: &str| format!("arn:tg/{id}");
    let to_arns = |actions: &[Action]| {
        let mut actions = actions.to_vec();
        for a in &mut actions {
            if let Some(f) = &mut a.forward_config {
                for t in &mut f.target_groups {
                    t.target_group_arn = arn(&t.target_group_arn);
                }
            }
        }
        actions
    };
    let lb = &stack.load_balancer;
    StackObserved {
        load_balancer: Some(LoadBalancerObserved {
            arn: "arn:lb".into(),
            name: lb.load_balancer_name.clone(),
            dns_name: "lb.example".into(),
            state: "active".into(),
            r#type: lb.r#type.to_string(),
            scheme: lb.scheme.to_string(),
            ip_address_type: lb.ip_address_type.clone(),
            subnets: lb.subnets.clone(),
            security_groups: lb.security_groups.clone(),
            attributes: lb.attributes.clone(),
            tags: lb.tags.clone(),
            created_with: Default::default(),
        }),
        listeners: stack
            .listeners
            .iter()
            .map(|l| ListenerObserved {
                arn: format!("arn:listener/{}", l.port),
                port: l.port,
                protocol: l.protocol.to_string(),
                ssl_policy: l.ssl_policy.clone(),
                certificates: l.certificates.clone(),
                alpn_policy: l.alpn_policy.clone(),
                mutual_authentication: l.mutual_authentication.clone(),
                attributes: l.attributes.clone(),
                default_actions: to_arns(&l.default_actions),
                rules: l
                    .rules
                    .iter()
                    .map(|r| RuleObserved {
                        arn: format!("arn:rule/{}", r.id),
                        priority: r.priority,
                        conditions: r.conditions.clone(),
                        actions: to_arns(&r.actions),
                        transforms: r.transforms.clone(),
                        tags: Some(r.tags.clone()),
                    })
                    .collect(),
                tags: Some(l.tags.clone()),
            })
            .collect(),
        target_groups: stack
            .target_groups
            .iter()
            .map(|t| TargetGroupObserved {
                arn: arn(&t.id),
                id: t.id.clone(),
                name: t.target_group_name.clone(),
                protocol: t.protocol.to_string(),
                protocol_version: t.protocol_version.clone(),
                port: t.port,
                target_type: t.target_type.to_string(),
                target_control_port: t.target_control_port,
                health_check_protocol: t.health_check_protocol.clone(),
                health_check_port: t.health_check_port.clone(),
                health_check_path: t.health_check_path.clone(),
                health_check_interval_seconds: t.health_check_interval_seconds,
                health_check_timeout_seconds: t.health_check_timeout_seconds,
                healthy_threshold_count: t.healthy_threshold_count,
                unhealthy_threshold_count: t.unhealthy_threshold_count,
                matcher_http_code: t.matcher.as_ref().and_then(|m| m.http_code.clone()),
                matcher_grpc_code: t.matcher.as_ref().and_then(|m| m.grpc_code.clone()),
                vpc_id: String::new(),
                load_balancer_arns: vec![],
                tags: t.tags.clone(),
            })
            .collect(),
    }
}

fn three() -> Stack {
    stack(vec![rule("a", "/a", "x", 10), rule("b", "/b", "x", 20), rule("c", "/c", "y", 30)], &["x", "y"])
}

#[test]
fn an_empty_account_gets_everything_created_in_dependency_order_at_the_planned_priorities() {
    let plan = three();
    let ops = diff(&plan, &StackObserved::default());
    assert_eq!(
        ops,
        vec![
            Op::CreateLoadBalancer,
            Op::CreateTargetGroup { id: "x".into() },
            Op::CreateTargetGroup { id: "y".into() },
            Op::CreateListener { port: 80 },
            Op::CreateRule { port: 80, id: "a".into(), priority: 10 },
            Op::CreateRule { port: 80, id: "b".into(), priority: 20 },
            Op::CreateRule { port: 80, id: "c".into(), priority: 30 },
        ]
    );
}

#[test]
fn a_converged_stack_needs_no_operation() {
    let plan = three();
    assert_eq!(diff(&plan, &observed_as(&plan)), vec![]);
}

#[test]
fn read_listener_and_rule_tags_are_brought_to_the_plan_but_never_the_cluster_tag() {
    let tag = |k: &str, v: &str| Tag { key: k.into(), value: v.into() };
    let resource = "gateway.k8s.aws.alb/resource";
    let mut plan = three();
    plan.listeners[0].tags = vec![tag(CLUSTER_TAG, "c"), tag(resource, "80"), tag("team", "shop")];
    for r in &mut plan.listeners[0].rules {
        r.tags = vec![tag(CLUSTER_TAG, "c"), tag(resource, &r.id)];
    }
    let mut before = plan.clone();
    before.listeners[0].rules[2].conditions = vec![path("/old")];
    let mut observed = observed_as(&before);
    let listener = &mut observed.listeners[0];
    // As LBC tagged them, plus a key of the user's own that the plan does not have.
    listener.tags = Some(vec![tag(CLUSTER_TAG, "c"), tag(resource, "80"), tag("owner", "ops")]);
    listener.rules[0].tags = Some(vec![tag(CLUSTER_TAG, "c"), tag(resource, "80:1")]);
    listener.rules[1].tags = Some(vec![tag(resource, "b")]);
    listener.rules[2].tags = Some(vec![tag(CLUSTER_TAG, "c"), tag(resource, "80:3")]);
    let modify = Op::ModifyRule { port: 80, arn: "arn:rule/c".into(), id: "c".into() };
    assert_eq!(
        diff(&plan, &observed),
        vec![
            Op::TagListener { port: 80, arn: "arn:listener/80".into(), tags: vec![tag("team", "shop")] },
            modify.clone(),
            Op::TagRule { port: 80, arn: "arn:rule/a".into(), tags: vec![tag(resource, "a")] },
            Op::TagRule { port: 80, arn: "arn:rule/c".into(), tags: vec![tag(resource, "c")] },
        ]
    );
    // Tags not read (a stack with a fingerprint) are left as they are.
    for l in &mut observed.listeners {
        l.tags = None;
        l.rules.iter_mut().for_each(|r| r.tags = None);
    }
    assert_eq!(diff(&plan, &observed), vec![modify]);
}

#[test]
fn a_changed_backend_modifies_that_rule_in_place_and_nothing_else() {
    let before = three();
    let mut after = three();
    after.listeners[0].rules[1] = rule("b", "/b", "y", 20);
    assert_eq!(
        diff(&after, &observed_as(&before)),
        vec![Op::ModifyRule { port: 80, arn: "arn:rule/b".into(), id: "b".into() }]
    );
}

#[test]
fn an_inserted_rule_takes_a_free_priority_between_its_neighbours_and_moves_nothing() {
    let before = three();
    // The plan renumbers positionally; AWS keeps the existing priorities.
    let after = stack(
        vec![rule("a", "/a", "x", 10), rule("n", "/n", "y", 20), rule("b", "/b", "x", 30), rule("c", "/c", "y", 40)],
        &["x", "y"],
    );
    let ops = diff(&after, &observed_as(&before));
    assert_eq!(ops.len(), 1, "{ops:?}");
    let Op::CreateRule { id, priority, .. } = &ops[0] else { panic!("{ops:?}") };
    assert_eq!(id, "n");
    assert!(*priority > 10 && *priority < 20, "{priority}");
}

#[test]
fn a_removed_rule_is_only_deleted() {
    let before = three();
    let after = stack(vec![rule("a", "/a", "x", 10), rule("c", "/c", "y", 20)], &["x", "y"]);
    assert_eq!(diff(&after, &observed_as(&before)), vec![Op::DeleteRule { arn: "arn:rule/b".into() }]);
}

#[test]
fn a_reorder_moves_only_the_rules_out_of_order() {
    let before = three();
    let after = stack(vec![rule("c", "/c", "y", 10), rule("a", "/a", "x", 20), rule("b", "/b", "x", 30)], &["x", "y"]);
    let ops = diff(&after, &observed_as(&before));
    let [Op::SetRulePriorities { priorities, .. }] = ops.as_slice() else { panic!("{ops:?}") };
    assert_eq!(priorities.len(), 1, "{ops:?}");
    assert_eq!(priorities[0].0, "arn:rule/c");
    assert!(priorities[0].1 < 10);
}

#[test]
fn without_room_between_neighbours_all_rules_move_to_a_fresh_range_in_order() {
    let before = stack(vec![rule("a", "/a", "x", 1), rule("b", "/b", "x", 2), rule("c", "/c", "y", 3)], &["x", "y"]);
    let after = stack(
        vec![rule("a", "/a", "x", 10), rule("n", "/n", "y", 20), rule("b", "/b", "x", 30), rule("c", "/c", "y", 40)],
        &["x", "y"],
    );
    let ops = diff(&after, &observed_as(&before));
    let Op::SetRulePriorities { priorities, .. } = &ops[0] else { panic!("{ops:?}") };
    let Op::CreateRule { priority: new, .. } = &ops[1] else { panic!("{ops:?}") };
    let find = |arn: &str| priorities.iter().find(|(a, _)| a == arn).map(|(_, p)| *p).unwrap();
    assert!(find("arn:rule/a") > 3 && find("arn:rule/a") < *new && *new < find("arn:rule/b"));
    assert!(find("arn:rule/b") < find("arn:rule/c"));
    assert_eq!(ops.len(), 2);
}

#[test]
fn a_replaced_target_group_is_created_before_rules_move_to_it_and_deleted_after() {
    let before = three();
    let mut after = three();
    // The port cannot change in place (a name can: LBC keeps a group under another name).
    after.target_groups[0].port = 9090;
    let ops = diff(&after, &observed_as(&before));
    let names: Vec<&str> = ops.iter().map(Op::operation).collect();
    assert_eq!(names, ["CreateTargetGroup", "ModifyRule", "ModifyRule", "DeleteTargetGroup"], "{ops:?}");
    assert_eq!(ops.last(), Some(&Op::DeleteTargetGroup { arn: "arn:tg/x".into() }));
}

#[test]
fn rules_are_created_before_stale_ones_are_deleted() {
    let before = three();
    let after = stack(vec![rule("a", "/a2", "x", 10), rule("d", "/d", "y", 20)], &["x", "y"]);
    let ops = diff(&after, &observed_as(&before));
    let first_delete = ops.iter().position(|o| matches!(o, Op::DeleteRule { .. })).unwrap();
    assert!(ops[..first_delete].iter().all(|o| !matches!(o, Op::DeleteRule { .. })));
    assert!(ops[first_delete..].iter().all(|o| matches!(o, Op::DeleteRule { .. })), "{ops:?}");
}

#[test]
fn changed_attributes_and_health_checks_are_modified_in_place() {
    let before = three();
    let mut after = three();
    after.target_groups[1].health_check_path = Some("/healthz".into());
    after.target_groups[1].attributes =
        vec![Attribute { key: "deregistration_delay.timeout_seconds".into(), value: "5".into() }];
    after.load_balancer.attributes = vec![Attribute { key: "idle_timeout.timeout_seconds".into(), value: "30".into() }];
    let ops = diff(&after, &observed_as(&before));
    assert_eq!(
        ops,
        vec![
            Op::ModifyLoadBalancerAttributes { attributes: after.load_balancer.attributes.clone() },
            Op::ModifyTargetGroup { id: "y".into() },
            Op::ModifyTargetGroupAttributes { id: "y".into() },
        ]
    );
}

#[test]
fn a_listener_the_plan_dropped_is_deleted_after_rules_moved() {
    let before = three();
    let mut after = three();
    after.listeners[0].port = 8080;
    let ops = diff(&after, &observed_as(&before));
    assert_eq!(ops.first(), Some(&Op::CreateListener { port: 8080 }));
    assert_eq!(ops.last(), Some(&Op::DeleteListener { arn: "arn:listener/80".into() }));
}

#[test]
fn a_new_target_control_port_replaces_the_target_group_even_under_the_same_name() {
    let before = three();
    let mut after = three();
    after.target_groups[0].target_control_port = Some(9000);
    let ops = diff(&after, &observed_as(&before));
    let names: Vec<&str> = ops.iter().map(Op::operation).collect();
    assert_eq!(names, ["CreateTargetGroup", "ModifyRule", "ModifyRule", "DeleteTargetGroup"], "{ops:?}");
    assert_eq!(ops.last(), Some(&Op::DeleteTargetGroup { arn: "arn:tg/x".into() }));
    assert_eq!(diff(&after, &observed_as(&after)), vec![], "converged once AWS has the port");
}

#[test]
fn listener_attributes_and_mutual_tls_are_modified_only_when_they_differ() {
    use albatross_model::plan::types::MutualAuthenticationPlan;
    let before = three();
    let mut after = three();
    let idle = Attribute { key: "tcp.idle_timeout.seconds".into(), value: "120".into() };
    after.listeners[0].attributes = vec![idle.clone()];
    after.listeners[0].mutual_authentication = Some(MutualAuthenticationPlan {
        mode: "passthrough".into(),
        trust_store_arn: None,
        ignore_client_certificate_expiry: None,
        advertise_trust_store_ca_names: None,
    });
    let ops = diff(&after, &observed_as(&before));
    assert_eq!(
        ops,
        vec![Op::ModifyListener { port: 80 }, Op::ModifyListenerAttributes { port: 80, attributes: vec![idle] }]
    );
    assert_eq!(diff(&after, &observed_as(&after)), vec![]);
    let created = diff(&after, &StackObserved::default());
    assert!(
        created.contains(&Op::ModifyListenerAttributes { port: 80, attributes: after.listeners[0].attributes.clone() })
    );
}

/// LBC's target groups have LBC's names: they pair by the resource tag, as LBC pairs them.
#[test]
fn target_groups_of_another_name_are_kept_when_what_cannot_change_matches() {
    let plan = three();
    let mut observed = observed_as(&plan);
    for tg in &mut observed.target_groups {
        tg.name = format!("k8s-lbc-{}", tg.id);
    }
    assert_eq!(diff(&plan, &observed), vec![]);
}

#[test]
fn a_target_group_whose_port_or_target_type_differs_is_replaced() {
    let plan = three();
    let mut observed = observed_as(&plan);
    observed.target_groups[0].port = 80;
    observed.target_groups[1].target_type = "instance".into();
    let ops = diff(&plan, &observed);
    assert!(ops.contains(&Op::CreateTargetGroup { id: "x".into() }), "{ops:?}");
    assert!(ops.contains(&Op::CreateTargetGroup { id: "y".into() }), "{ops:?}");
    assert!(ops.contains(&Op::DeleteTargetGroup { arn: observed.target_groups[0].arn.clone() }), "{ops:?}");
    assert!(ops.contains(&Op::DeleteTargetGroup { arn: observed.target_groups[1].arn.clone() }), "{ops:?}");
}
