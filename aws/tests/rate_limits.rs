//! The client's default rate limits stay under AWS's documented buckets: against the proxy's
//! `AwsLimits::documented()`, a burst of reads waits on the client instead of being throttled.

use albatross_aws::{Api, Aws, AwsSettings, RateLimits};
use albatross_test_support::{AwsLimits, Moto, Proxy, ProxyOptions};

#[tokio::test]
async fn default_client_limits_wait_instead_of_being_throttled_on_a_burst_of_100_reads() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let options = ProxyOptions { limits: Some(AwsLimits::documented()), ..Default::default() };
    let proxy = Proxy::start(moto.endpoint(), options).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::default(),
        ..Default::default()
    })
    .await;

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
