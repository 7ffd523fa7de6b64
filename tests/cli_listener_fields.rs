//! `listenerConfigurations[]` and TargetGroupConfiguration fields reach AWS (moto behind the
//! proxy, which emulates what moto lacks): `albatross reconcile` applies them and a second run
//! makes no mutating call.

mod local;

use local::*;

const TRUST_STORE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:truststore/clients/0123456789abcdef";

/// The blue-orange example with mutual TLS and a listener attribute on HTTPS:443, and a
/// target control port for service-blue's target groups.
fn configured(dir: &Path) {
    copy_dir(Path::new(EXAMPLE), dir);
    let gateway = dir.join("gateway.yaml");
    let text = std::fs::read_to_string(&gateway).unwrap().replace(
        "  scheme: internet-facing\n",
        &format!(
            "  scheme: internet-facing\n  listenerConfigurations:\n  - protocolPort: HTTPS:443\n    \
             mutualAuthentication:\n      mode: verify\n      trustStore: {TRUST_STORE}\n      \
             ignoreClientCertificateExpiry: true\n    listenerAttributes:\n    \
             - key: routing.http.response.server.enabled\n      value: \"false\"\n"
        ),
    );
    assert!(text.contains("mutualAuthentication"), "the example's LoadBalancerConfiguration moved");
    std::fs::write(&gateway, text).unwrap();
    let services = dir.join("services.yaml");
    let text = std::fs::read_to_string(&services).unwrap().replace(
        "  defaultConfiguration:\n",
        "  defaultConfiguration:\n    targetType: ip\n    targetControlPort: 9000\n",
    );
    assert!(text.contains("targetControlPort"), "the example's TargetGroupConfiguration moved");
    std::fs::write(&services, text).unwrap();
}

/// A client through the proxy: what moto lacks is emulated there, not in moto.
async fn through_proxy(world: &World) -> Aws {
    Aws::connect(&AwsSettings {
        endpoint: Some(world.proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await
}

async fn listener_on(aws: &Aws, lb: &str, port: i32) -> aws_sdk_elasticloadbalancingv2::types::Listener {
    let listeners = aws.elbv2.describe_listeners().load_balancer_arn(lb).send().await.unwrap();
    listeners.listeners().iter().find(|l| l.port() == Some(port)).cloned().expect("a listener on the port")
}

#[tokio::test]
async fn mutual_tls_listener_attributes_and_target_control_port_reach_aws_and_converge() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    configured(dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let aws = through_proxy(&world).await;
    let lb = load_balancer_arn(&aws, "my-example-gateway-alb").await;
    let https = listener_on(&aws, &lb, 443).await;
    let mtls = https.mutual_authentication().expect("mutual TLS on the HTTPS listener");
    assert_eq!(
        (mtls.mode(), mtls.trust_store_arn(), mtls.ignore_client_certificate_expiry()),
        (Some("verify"), Some(TRUST_STORE), Some(true))
    );
    assert!(listener_on(&aws, &lb, 80).await.mutual_authentication().is_none());
    let attributes =
        aws.elbv2.describe_listener_attributes().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    assert!(
        attributes
            .attributes()
            .iter()
            .any(|a| a.key() == Some("routing.http.response.server.enabled") && a.value() == Some("false")),
        "{attributes:?}"
    );
    let groups = aws.elbv2.describe_target_groups().load_balancer_arn(&lb).send().await.unwrap();
    let ports: Vec<Option<i32>> = groups.target_groups().iter().map(|g| g.target_control_port()).collect();
    assert!(ports.contains(&Some(9000)), "service-blue's group has the control port: {ports:?}");
    assert!(ports.contains(&None), "service-orange's has none: {ports:?}");

    reconcile_again_writes_nothing(&world, dir.path(), &[]).await;
}

#[tokio::test]
async fn a_changed_target_control_port_replaces_the_target_group_before_deleting_the_old_one() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    configured(dir.path());
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let services = dir.path().join("services.yaml");
    std::fs::write(&services, std::fs::read_to_string(&services).unwrap().replace("9000", "9001")).unwrap();
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let calls = mutations(&world);
    let create = calls.iter().position(|c| c == "CreateTargetGroup").expect("a new target group");
    let delete = calls.iter().position(|c| c == "DeleteTargetGroup").expect("the old one deleted");
    assert!(create < delete, "make before break: {calls:?}");
    // Every target group of the account (moto links a group to its load balancer on CreateRule
    // only, not on ModifyRule).
    let aws = through_proxy(&world).await;
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let ports: Vec<Option<i32>> = groups.target_groups().iter().map(|g| g.target_control_port()).collect();
    assert!(ports.contains(&Some(9001)) && !ports.contains(&Some(9000)), "{ports:?} {calls:?} {}", text(&out));
}

#[tokio::test]
async fn an_nlb_only_listener_field_on_an_alb_is_refused_by_field_path() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    configured(dir.path());
    let gateway = dir.path().join("gateway.yaml");
    let sticky = std::fs::read_to_string(&gateway)
        .unwrap()
        .replace("    listenerAttributes:\n", "    targetGroupStickiness: true\n    listenerAttributes:\n");
    std::fs::write(&gateway, sticky).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert!(
        text(&out).contains("spec.listenerConfigurations[0].targetGroupStickiness: applies only to NLB"),
        "the status names the field: {}",
        text(&out)
    );
    assert_eq!(mutations(&world).iter().filter(|c| c.as_str() == "CreateLoadBalancer").count(), 0);
}

#[tokio::test]
async fn a_quic_listener_reaches_aws_as_quic_and_converges() {
    let world = world().await;
    let dir = tempfile::tempdir().unwrap();
    let quic = NLB.replace(
        "  gatewayClassName: nlb\n",
        "  gatewayClassName: nlb\n  infrastructure:\n    parametersRef: \
         {group: gateway.k8s.aws, kind: LoadBalancerConfiguration, name: quic}\n",
    ) + "---
apiVersion: gateway.k8s.aws/v1beta1
kind: LoadBalancerConfiguration
metadata: {name: quic, namespace: shop}
spec:
  disableSecurityGroup: true
  listenerConfigurations:
  - {protocolPort: 'UDP:53', quicEnabled: true}
";
    std::fs::write(dir.path().join("nlb.yaml"), &quic).unwrap();
    let out = reconcile(&world, dir.path(), &["--channel", "experimental"]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let aws = through_proxy(&world).await;
    let lbs = aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = lbs.load_balancers()[0].load_balancer_arn().unwrap().to_owned();
    assert!(lbs.load_balancers()[0].security_groups().is_empty(), "QUIC needs an NLB without security groups");
    let dns = listener_on(&aws, &lb, 53).await;
    assert_eq!(dns.protocol().map(|p| p.as_str()), Some("QUIC"));
    assert_eq!(listener_on(&aws, &lb, 5432).await.protocol().map(|p| p.as_str()), Some("TCP"));
    let groups = aws.elbv2.describe_target_groups().send().await.unwrap();
    let protocols: Vec<&str> = groups.target_groups().iter().filter_map(|g| g.protocol()).map(|p| p.as_str()).collect();
    assert!(protocols.contains(&"QUIC") && protocols.contains(&"TCP"), "{protocols:?}");

    reconcile_again_writes_nothing(&world, dir.path(), &["--channel", "experimental"]).await;
}

/// As LBC takes it: `trustStore` by name is looked up (DescribeTrustStores), and the listener gets
/// the store's ARN; a name no store has leaves the Gateway not programmed, saying so.
#[tokio::test]
async fn a_trust_store_named_instead_of_given_by_arn_is_looked_up() {
    let world = world().await;
    let aws = through_proxy(&world).await;
    let store = aws
        .elbv2
        .create_trust_store()
        .name("clients")
        .ca_certificates_bundle_s3_bucket("certs")
        .ca_certificates_bundle_s3_key("clients.pem")
        .send()
        .await
        .unwrap();
    let arn = store.trust_stores()[0].trust_store_arn().unwrap().to_owned();
    let dir = tempfile::tempdir().unwrap();
    configured(dir.path());
    let gateway = dir.path().join("gateway.yaml");
    let by_name = std::fs::read_to_string(&gateway).unwrap().replace(TRUST_STORE, "clients");
    std::fs::write(&gateway, &by_name).unwrap();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let lb = load_balancer_arn(&aws, "my-example-gateway-alb").await;
    let https = listener_on(&aws, &lb, 443).await;
    assert_eq!(https.mutual_authentication().and_then(|m| m.trust_store_arn()), Some(arn.as_str()));
    world.proxy.clear_calls();
    let out = reconcile(&world, dir.path(), &[]).await;
    assert_eq!(mutations(&world), Vec::<String>::new(), "{}", text(&out));

    std::fs::write(&gateway, by_name.replace("trustStore: clients", "trustStore: nobody")).unwrap();
    let out = reconcile(&world, dir.path(), &["--full-check"]).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no trust store is named nobody"), "{}", text(&out));
}
