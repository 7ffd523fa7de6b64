//! NLB QUIC listeners and target groups through the proxy (moto refuses the protocols; the
//! proxy carries them as UDP and refuses what AWS refuses).

mod query;

use albatross_test_support::{Moto, Proxy, ProxyOptions};
use query::*;

async fn nlb(endpoint: &str, net: &Network, name: &str, extra: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("Action", "CreateLoadBalancer"),
        ("Name", name),
        ("Type", "network"),
        ("Subnets.member.1", net.subnets[0].as_str()),
        ("Subnets.member.2", net.subnets[1].as_str()),
    ];
    params.extend_from_slice(extra);
    let (status, body) = elb(endpoint, &params).await;
    assert_eq!(status, 200, "{body}");
    tag(&body, "LoadBalancerArn")
}

async fn group(endpoint: &str, net: &Network, name: &str, protocol: &str) -> (u16, String) {
    elb(
        endpoint,
        &[
            ("Action", "CreateTargetGroup"),
            ("Name", name),
            ("Protocol", protocol),
            ("Port", "443"),
            ("VpcId", &net.vpc),
            ("TargetType", "ip"),
            ("HealthCheckProtocol", "TCP"),
        ],
    )
    .await
}

async fn listener(endpoint: &str, lb: &str, protocol: &str, port: &str, tg: &str) -> (u16, String) {
    elb(
        endpoint,
        &[
            ("Action", "CreateListener"),
            ("LoadBalancerArn", lb),
            ("Protocol", protocol),
            ("Port", port),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", tg),
        ],
    )
    .await
}

#[tokio::test]
async fn quic_listeners_and_target_groups_are_kept_and_described_as_quic() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let (ep, net) = (proxy.endpoint(), network(moto.endpoint()).await);
    let (status, body) = elb(ep, &[("Action", "CreateTargetGroup"), ("Name", "x"), ("Protocol", "QUIC")]).await;
    assert_eq!(status, 400, "moto alone refuses QUIC: {body}");

    let lb = nlb(ep, &net, "edge", &[]).await;
    let (status, body) = group(ep, &net, "edge-quic", "QUIC").await;
    assert_eq!((status, tag(&body, "Protocol")), (200, "QUIC".to_owned()), "{body}");
    let quic_group = tag(&body, "TargetGroupArn");
    let (status, body) = listener(ep, &lb, "QUIC", "443", &quic_group).await;
    assert_eq!((status, tag(&body, "Protocol")), (200, "QUIC".to_owned()), "{body}");
    let quic_listener = tag(&body, "ListenerArn");

    let (_, described) = elb(ep, &[("Action", "DescribeListeners"), ("LoadBalancerArn", &lb)]).await;
    assert_eq!(tags(&described, "Protocol"), ["QUIC"], "{described}");
    let (_, described) =
        elb(ep, &[("Action", "DescribeTargetGroups"), ("TargetGroupArns.member.1", &quic_group)]).await;
    assert_eq!(tag(&described, "Protocol"), "QUIC", "{described}");
    // moto itself holds UDP.
    let (_, raw) = elb(moto.endpoint(), &[("Action", "DescribeListeners"), ("LoadBalancerArn", &lb)]).await;
    assert_eq!(tags(&raw, "Protocol"), ["UDP"], "{raw}");

    // A ModifyListener that leaves the protocol out keeps QUIC.
    let (status, body) =
        elb(ep, &[("Action", "ModifyListener"), ("ListenerArn", &quic_listener), ("Port", "8443")]).await;
    assert_eq!((status, tag(&body, "Protocol")), (200, "QUIC".to_owned()), "{body}");
}

#[tokio::test]
async fn quic_listeners_where_aws_refuses_them_are_refused() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let (ep, net) = (proxy.endpoint(), network(moto.endpoint()).await);
    let (_, body) = group(ep, &net, "quic", "QUIC").await;
    let quic_group = tag(&body, "TargetGroupArn");
    let (_, body) = group(ep, &net, "udp", "UDP").await;
    let udp_group = tag(&body, "TargetGroupArn");

    // The wrong group for the listener's protocol, either way round.
    let lb = nlb(ep, &net, "edge", &[]).await;
    let (status, body) = listener(ep, &lb, "QUIC", "443", &udp_group).await;
    assert_eq!((status, code(&body)), (400, "IncompatibleProtocols".to_owned()), "{body}");
    let (status, body) = listener(ep, &lb, "UDP", "53", &quic_group).await;
    assert_eq!((status, code(&body)), (400, "IncompatibleProtocols".to_owned()), "{body}");

    // One QUIC listener per load balancer, and none beside UDP.
    let (status, body) = listener(ep, &lb, "QUIC", "443", &quic_group).await;
    assert_eq!(status, 200, "{body}");
    let quic_listener = tag(&body, "ListenerArn");
    let (status, body) = listener(ep, &lb, "QUIC", "444", &quic_group).await;
    assert_eq!((status, code(&body)), (400, "InvalidConfigurationRequest".to_owned()), "{body}");
    let (status, body) = listener(ep, &lb, "UDP", "53", &udp_group).await;
    assert_eq!((status, code(&body)), (400, "InvalidConfigurationRequest".to_owned()), "{body}");
    let (status, body) = elb(ep, &[("Action", "DeleteListener"), ("ListenerArn", &quic_listener)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = listener(ep, &lb, "UDP", "53", &udp_group).await;
    assert_eq!(status, 200, "the QUIC listener is gone: {body}");
    let (status, body) = listener(ep, &lb, "QUIC", "443", &quic_group).await;
    assert_eq!((status, code(&body)), (400, "InvalidConfigurationRequest".to_owned()), "{body}");

    // Not on a load balancer with security groups.
    let (status, body) = ec2(
        moto.endpoint(),
        &[("Action", "CreateSecurityGroup"), ("GroupName", "edge"), ("GroupDescription", "edge"), ("VpcId", &net.vpc)],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let sg = tag(&body, "groupId");
    let guarded = nlb(ep, &net, "guarded", &[("SecurityGroups.member.1", &sg)]).await;
    let (status, body) = listener(ep, &guarded, "QUIC", "443", &quic_group).await;
    assert_eq!((status, code(&body)), (400, "InvalidConfigurationRequest".to_owned()), "{body}");
    assert!(body.contains("security groups"), "{body}");
}
