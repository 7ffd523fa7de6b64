//! A dry run's client cannot write: a mutating call fails before it is sent, whether it goes
//! through the call wrapper or straight to the SDK, while reads go through and the client it
//! was made from still writes.

use albatross_aws::{Api, Aws, AwsSettings, READ_ONLY, RateLimits};
use albatross_test_support::{Moto, Proxy, ProxyOptions};

#[tokio::test]
async fn a_read_only_client_sends_no_mutating_call_by_any_path() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let aws = Aws::connect(&AwsSettings {
        endpoint: Some(proxy.endpoint().into()),
        limits: RateLimits::unlimited(),
        max_attempts: 1,
        ..Default::default()
    })
    .await;
    let vpc = albatross_test_support::network::load_balancer_subnets(&aws.ec2).await;
    proxy.clear_calls();
    let read_only = aws.read_only();
    assert!(read_only.is_read_only() && !aws.is_read_only());

    let request = read_only.ec2.create_security_group().vpc_id(&vpc).group_name("g").description("d");
    let err = read_only.call(Api::Ec2, "CreateSecurityGroup", request.send()).await.unwrap_err();
    assert_eq!(err.code, READ_ONLY);
    // Past the wrapper, the interceptor refuses it.
    let err = read_only.ec2.create_security_group().vpc_id(&vpc).group_name("g").description("d").send().await;
    let err = format!("{:?}", err.unwrap_err());
    assert!(err.contains("ReadOnly"), "{err}");
    let err = read_only.elbv2.delete_load_balancer().load_balancer_arn("arn:aws:x").send().await.unwrap_err();
    assert!(format!("{err:?}").contains("ReadOnly"), "{err:?}");
    assert_eq!(proxy.mutating_calls(), Vec::new());

    let groups = read_only.ec2.describe_security_groups().send().await.unwrap();
    assert!(groups.security_groups().iter().all(|g| g.group_name() != Some("g")));
    assert!(!proxy.calls().is_empty(), "reads reach AWS");

    aws.ec2.create_security_group().vpc_id(&vpc).group_name("g").description("d").send().await.unwrap();
    assert_eq!(proxy.mutating_calls().len(), 1, "the original client still writes");
}
