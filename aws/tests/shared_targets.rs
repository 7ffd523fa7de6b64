//! `enableMultiCluster`: in a target group shared with other clusters, a sync deregisters only
//! the targets this cluster registered (moto behind the proxy).

use std::collections::BTreeSet;

use albatross_aws::targets::{Ownership, Target, sync};
use albatross_aws::{Aws, AwsSettings, RateLimits};
use albatross_test_support::{Moto, Proxy, ProxyOptions};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, TargetDescription, TargetTypeEnum};

fn target(ip: &str) -> Target {
    Target { id: ip.into(), port: 8080 }
}

async fn registered(aws: &Aws, arn: &str) -> BTreeSet<String> {
    let health = aws.elbv2.describe_target_health().target_group_arn(arn).send().await.unwrap();
    health.target_health_descriptions().iter().filter_map(|d| d.target()?.id().map(str::to_owned)).collect()
}

#[tokio::test]
async fn a_shared_target_group_keeps_the_targets_another_cluster_registered() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    let vpc = albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
    let created = aws
        .elbv2
        .create_target_group()
        .name("shared")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let arn = created.target_groups()[0].target_group_arn().unwrap().to_owned();
    // Another cluster's pod.
    aws.elbv2
        .register_targets()
        .target_group_arn(&arn)
        .targets(TargetDescription::builder().id("10.1.0.9").port(8080).build())
        .send()
        .await
        .unwrap();

    let mut ours = BTreeSet::new();
    let wanted: BTreeSet<Target> = [target("10.0.0.1"), target("10.0.0.2")].into();
    sync(&aws, &arn, &wanted, Ownership::Shared(&mut ours)).await.unwrap();
    assert_eq!(ours, wanted, "the record holds what this cluster registered");
    assert_eq!(registered(&aws, &arn).await, ["10.0.0.1", "10.0.0.2", "10.1.0.9"].map(String::from).into());

    let wanted: BTreeSet<Target> = [target("10.0.0.2")].into();
    let changes = sync(&aws, &arn, &wanted, Ownership::Shared(&mut ours)).await.unwrap();
    assert_eq!((changes.registered, changes.deregistered), (0, 1));
    assert_eq!(registered(&aws, &arn).await, ["10.0.0.2", "10.1.0.9"].map(String::from).into());

    // The same sync on a group of our own removes the stranger.
    sync(&aws, &arn, &wanted, Ownership::Exclusive).await.unwrap();
    assert_eq!(registered(&aws, &arn).await, ["10.0.0.2"].map(String::from).into());
}
