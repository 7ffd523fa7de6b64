//! `listenerConfigurations[]` fields through a whole build: what `albatross plan` shows.

use serde_json::{Value, json};

use crate::plan::{Build, Env, Snapshot, build};

const NLB: &str = "
apiVersion: gateway.networking.k8s.io/v1
kind: GatewayClass
metadata: {name: nlb}
spec: {controllerName: gateway.k8s.aws/nlb}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: dns, namespace: shop}
spec:
  gatewayClassName: nlb
  infrastructure:
    parametersRef: {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: lbc}
  listeners:
  - {name: udp, protocol: UDP, port: 53}
---
apiVersion: gateway.networking.k8s.io/v1alpha2
kind: UDPRoute
metadata: {name: dns, namespace: shop}
spec:
  parentRefs: [{name: dns}]
  rules:
  - backendRefs: [{name: resolver, port: 53, weight: 1}, {name: resolver-canary, port: 53, weight: 1}]
---
apiVersion: v1
kind: Service
metadata: {name: resolver, namespace: shop}
spec:
  ports: [{port: 53, targetPort: 5353, protocol: UDP}]
---
apiVersion: v1
kind: Service
metadata: {name: resolver-canary, namespace: shop}
spec:
  ports: [{port: 53, targetPort: 5353, protocol: UDP}]
---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {name: lbc, namespace: shop}
spec:
  disableSecurityGroup: true
  listenerConfigurations:
  - protocolPort: UDP:53
    quicEnabled: true
    targetGroupStickiness: true
    listenerAttributes: [{key: udp.idle_timeout.seconds, value: '120'}]
";

fn plan(text: &str) -> Build {
    let objects: Vec<Value> = crate::manifest::parse(text).into_iter().map(|d| d.unwrap().value).collect();
    let (snapshot, skipped) = Snapshot::from_objects(objects.iter().cloned());
    assert!(skipped.is_empty(), "{skipped:?}");
    build(&snapshot, &Env::default())
}

#[test]
fn quic_stickiness_and_attributes_reach_the_nlb_plan() {
    let build = plan(NLB);
    assert_eq!(build.stacks.len(), 1, "{:#?}", build.statuses);
    let stack = serde_json::to_value(&build.stacks[0]).unwrap();
    let listener = &stack["Listeners"][0];
    assert_eq!(listener["Protocol"], "QUIC");
    assert_eq!(listener["Attributes"], json!([{"Key": "udp.idle_timeout.seconds", "Value": "120"}]));
    let forward = &listener["DefaultActions"][0]["ForwardConfig"];
    assert_eq!(forward["TargetGroupStickinessConfig"], json!({"Enabled": true}), "{listener}");
    assert_eq!(forward["TargetGroups"].as_array().unwrap().len(), 2);
    for tg in stack["TargetGroups"].as_array().unwrap() {
        assert_eq!(tg["Protocol"], "QUIC", "{tg}");
    }
}

#[test]
fn quic_needs_ip_targets() {
    let env = Env { default_target_type: crate::plan::wire::TargetType::Instance, ..Env::default() };
    let objects: Vec<Value> = crate::manifest::parse(NLB).into_iter().map(|d| d.unwrap().value).collect();
    let (snapshot, _) = Snapshot::from_objects(objects.iter().cloned());
    let build = build(&snapshot, &env);
    let route = build.statuses.iter().find(|s| s.kind == "UDPRoute").unwrap();
    let text = route.status.to_string();
    assert!(text.contains("quicEnabled") && text.contains("applies only to targetType ip"), "{text}");
}

fn gateway_refusal(text: &str) -> String {
    let build = plan(text);
    assert!(build.stacks.is_empty(), "refused, not planned: {:#?}", build.stacks);
    build.statuses.iter().find(|s| s.kind == "Gateway").expect("the Gateway's status").status.to_string()
}

#[test]
fn a_quic_listener_where_aws_refuses_one_refuses_the_gateway_by_field_path() {
    let field = "spec.listenerConfigurations[0].quicEnabled: ";
    let with_groups = gateway_refusal(&NLB.replace("  disableSecurityGroup: true\n", ""));
    assert!(with_groups.contains(&format!("{field}AWS allows QUIC listeners only on an NLB without security groups")));
    let dualstack =
        NLB.replace("  disableSecurityGroup: true\n", "  disableSecurityGroup: true\n  ipAddressType: dualstack\n");
    assert!(gateway_refusal(&dualstack).contains(&format!("{field}AWS allows no QUIC listener on a dualstack NLB")));
    let udp = "  - {name: udp, protocol: UDP, port: 53}\n";
    let beside_udp = NLB.replace(udp, &format!("{udp}  - {{name: syslog, protocol: UDP, port: 514}}\n"));
    let text = gateway_refusal(&beside_udp);
    assert!(
        text.contains(&format!("{field}AWS allows no QUIC listener beside UDP or TCP_UDP listeners (UDP:514)")),
        "{text}"
    );
    let second = beside_udp.replace(
        "  listenerConfigurations:\n",
        "  listenerConfigurations:\n  - {protocolPort: 'UDP:514', quicEnabled: true}\n",
    );
    let text = gateway_refusal(&second);
    assert!(text.contains("spec.listenerConfigurations[0].quicEnabled: AWS allows one QUIC or TCP_QUIC listener per NLB, and UDP:53 is one already (listener UDP:514)"), "{text}");
    // An entry no listener of the Gateway matches holds nothing against it.
    let unmatched = NLB.replace(
        "  listenerConfigurations:\n",
        "  listenerConfigurations:\n  - {protocolPort: 'UDP:9999', quicEnabled: true}\n",
    );
    assert_eq!(plan(&unmatched).stacks.len(), 1);
}
