//! The client's default rate limits stay under AWS's documented buckets: against the proxy's
//! `AwsLimits::documented()`, a burst of reads or writes waits on the client instead of being
//! throttled.

use albatross_aws::{Api, Aws, AwsSettings, RateLimits};
use albatross_test_support::{AwsLimits, Moto, Proxy, ProxyOptions};
use aws_sdk_elasticloadbalancingv2::types::{ProtocolEnum, Tag, TargetDescription, TargetTypeEnum};

async fn documented_proxy(moto: &Moto) -> (Proxy, Aws) {
    let options = ProxyOptions { limits: Some(AwsLimits::documented()), ..Default::default() };
    let proxy = Proxy::start(moto.endpoint(), options).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::default(),
        ..Default::default()
    })
    .await;
    (proxy, aws)
}

#[tokio::test]
async fn default_client_limits_wait_instead_of_being_throttled_on_a_burst_of_100_reads() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let (proxy, aws) = documented_proxy(&moto).await;

    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let aws = aws.clone();
        tasks.spawn(async move {
            aws.call(Api::Elbv2Read, "DescribeLoadBalancers", aws.elbv2.describe_load_balancers().send()).await
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("every read succeeds");
    }
    assert_eq!(proxy.rate_limited(), 0, "no read was throttled: {:?}", proxy.calls().iter().find(|c| c.rate_limited));
    assert_eq!(proxy.count("DescribeLoadBalancers"), 100, "one call each, no retry");
}

/// 100 calls each of the two write classes at once, five times the proxy's buckets (20 each): a
/// client burst past the bucket, or a rate past AWS's refill (5/s, 4/s) by more than a tenth or so,
/// is refused here before the last call.
#[tokio::test]
async fn default_client_limits_wait_instead_of_being_throttled_on_a_burst_of_writes_past_the_bucket() {
    const BURST: usize = 100;
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    // Set up beside the proxy so its buckets start full.
    let setup = Aws::connect(&AwsSettings {
        endpoint: Some(moto.endpoint().into()),
        limits: RateLimits::unlimited(),
        ..Default::default()
    })
    .await;
    let vpc = albatross_test_support::network::load_balancer_subnets(&setup.ec2).await;
    let created = setup
        .elbv2
        .create_target_group()
        .name("burst")
        .protocol(ProtocolEnum::Http)
        .port(8080)
        .vpc_id(vpc)
        .target_type(TargetTypeEnum::Ip)
        .send()
        .await
        .unwrap();
    let arn = created.target_groups()[0].target_group_arn().unwrap().to_owned();
    let (proxy, aws) = documented_proxy(&moto).await;

    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..BURST {
        let (client, group) = (aws.clone(), arn.clone());
        tasks.spawn(async move {
            let (aws, arn) = (client, group);
            let tag = Tag::builder().key("burst").value(i.to_string()).build();
            aws.call(Api::Elbv2Write, "AddTags", aws.elbv2.add_tags().resource_arns(&arn).tags(tag).send())
                .await
                .map(drop)
        });
        let (client, group) = (aws.clone(), arn.clone());
        tasks.spawn(async move {
            let (aws, arn) = (client, group);
            let target = TargetDescription::builder().id("10.0.0.1").port(8080).build();
            let request = aws.elbv2.register_targets().target_group_arn(&arn).targets(target).send();
            aws.call(Api::Elbv2Registration, "RegisterTargets", request).await.map(drop)
        });
    }
    while let Some(result) = tasks.join_next().await {
        result.unwrap().expect("every write succeeds");
    }
    assert_eq!(proxy.rate_limited(), 0, "no write was throttled: {:?}", proxy.calls().iter().find(|c| c.rate_limited));
    assert_eq!(proxy.count("AddTags"), BURST, "one call each, no retry");
    assert_eq!(proxy.count("RegisterTargets"), BURST, "one call each, no retry");
}
