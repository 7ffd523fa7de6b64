//! AWS's rate limits and latency in the proxy (`AwsLimits`), against a real moto, driven with
//! plain HTTP requests. Exact counts use a proxy clock slowed so far (`time_scale`) that no
//! token comes back during the test; refill and latency are asserted as lower bounds only.

use std::time::{Duration, Instant};

use albatross_test_support::{AwsLimits, Moto, Proxy, ProxyOptions};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(HttpConnector::new())
}

fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"
    )
}

async fn send(request: Request<Full<Bytes>>) -> (u16, String) {
    let response = client().request(request).await.expect("a response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

async fn query(endpoint: &str, service: &str, params: &[(&str, &str)]) -> (u16, String) {
    let version = if service == "ec2" { "2016-11-15" } else { "2015-12-01" };
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Version", version)
        .extend_pairs(params.iter().copied())
        .finish();
    let request = Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("authorization", auth(service))
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    send(request).await
}

async fn elb(endpoint: &str, params: &[(&str, &str)]) -> (u16, String) {
    query(endpoint, "elasticloadbalancing", params).await
}

async fn get_resources(endpoint: &str) -> (u16, String) {
    let request = Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "ResourceGroupsTaggingAPI_20170126.GetResources")
        .header("authorization", auth("tagging"))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    send(request).await
}

fn tag(xml: &str, name: &str) -> String {
    let (_, rest) = xml.split_once(&format!("<{name}>")).unwrap_or_else(|| panic!("no <{name}> in {xml}"));
    rest.split_once(&format!("</{name}>")).expect("closed").0.to_owned()
}

/// `n` DescribeLoadBalancers at once through `endpoint`.
async fn burst_of_reads(endpoint: &str, n: usize) -> Vec<(u16, String)> {
    let tasks: Vec<_> = (0..n)
        .map(|_| {
            let endpoint = endpoint.to_owned();
            tokio::spawn(async move { elb(&endpoint, &[("Action", "DescribeLoadBalancers")]).await })
        })
        .collect();
    let mut answers = Vec::new();
    for task in tasks {
        answers.push(task.await.unwrap());
    }
    answers
}

fn throttled(answers: &[(u16, String)]) -> usize {
    answers.iter().filter(|(status, body)| *status == 400 && tag(body, "Code") == "Throttling").count()
}

/// The documented buckets with no token back for 10,000 s and no latency.
fn frozen() -> AwsLimits {
    AwsLimits { read_latency: Duration::ZERO, write_latency: Duration::ZERO, ..AwsLimits::documented() }
        .with_time_scale(1e-5)
}

#[tokio::test]
async fn a_burst_past_the_read_bucket_gets_exactly_the_excess_throttled_and_writes_have_their_own_buckets() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { limits: Some(frozen()), ..Default::default() }).await;

    let answers = burst_of_reads(proxy.endpoint(), 45).await;
    assert_eq!(throttled(&answers), 5, "40 tokens, 45 reads");
    assert_eq!(answers.iter().filter(|(status, _)| *status == 200).count(), 40);
    let (_, body) = answers.iter().find(|(status, _)| *status == 400).unwrap();
    assert_eq!(tag(body, "Message"), "Rate exceeded");
    assert!(body.starts_with("<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\">"));
    assert_eq!(proxy.rate_limited(), 5);
    assert_eq!(proxy.calls().iter().filter(|c| c.rate_limited && c.error.as_deref() == Some("Throttling")).count(), 5);

    // Writes: a bucket of 20, not touched by the reads; a throttled write never reaches moto.
    let (status, body) = query(moto.endpoint(), "ec2", &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]).await;
    assert_eq!(status, 200, "{body}");
    let vpc = tag(&body, "vpcId");
    let mut first = String::new();
    for i in 0..21 {
        let name = format!("tg-{i}");
        let (status, body) = elb(
            proxy.endpoint(),
            &[("Action", "CreateTargetGroup"), ("Name", &name), ("Protocol", "HTTP"), ("Port", "80"), ("VpcId", &vpc)],
        )
        .await;
        if i < 20 {
            assert_eq!(status, 200, "write {i}: {body}");
            if i == 0 {
                first = tag(&body, "TargetGroupArn");
            }
        } else {
            assert_eq!((status, tag(&body, "Code").as_str()), (400, "Throttling"), "the 21st write");
        }
    }
    let (_, groups) = elb(moto.endpoint(), &[("Action", "DescribeTargetGroups")]).await;
    assert_eq!(groups.matches("<TargetGroupArn>").count(), 20, "the throttled create did not reach moto");

    // Registration has a bucket of its own: not empty though reads and writes are.
    let (_, body) = elb(
        proxy.endpoint(),
        &[("Action", "DeregisterTargets"), ("TargetGroupArn", &first), ("Targets.member.1.Id", "10.0.0.9")],
    )
    .await;
    assert!(!body.contains("<Code>Throttling</Code>"), "{body}");
    assert_eq!(proxy.rate_limited(), 6);
}

#[tokio::test]
async fn get_resources_has_its_own_bucket_of_fifteen() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { limits: Some(frozen()), ..Default::default() }).await;
    let mut codes = Vec::new();
    for _ in 0..17 {
        let (status, body) = get_resources(proxy.endpoint()).await;
        codes.push((status, body.contains("ThrottledException")));
    }
    assert_eq!(codes.iter().filter(|(s, _)| *s == 200).count(), 15, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == (400, true)).count(), 2, "{codes:?}");
    assert_eq!(proxy.rate_limited(), 2);
}

#[tokio::test]
async fn read_tokens_come_back_at_the_documented_refill() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let limits = AwsLimits { read_latency: Duration::ZERO, write_latency: Duration::ZERO, ..AwsLimits::documented() };
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { limits: Some(limits), ..Default::default() }).await;
    assert_eq!(proxy.limits(), Some(limits));

    let answers = burst_of_reads(proxy.endpoint(), 80).await;
    assert!(throttled(&answers) > 0, "80 reads at once empty a bucket of 40 refilled at 10/s");
    // At least 10 tokens a second come back (a lower bound: the wait may be longer).
    tokio::time::sleep(Duration::from_secs(1)).await;
    for i in 0..10 {
        let (status, body) = elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
        assert_eq!(status, 200, "read {i} after a second: {body}");
    }
}

#[tokio::test]
async fn latency_is_waited_before_answering_and_scaled() {
    let moto = tokio::task::spawn_blocking(Moto::start).await.unwrap();
    let limits = AwsLimits {
        read_latency: Duration::from_millis(200),
        write_latency: Duration::from_millis(400),
        ..AwsLimits::documented()
    };
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { limits: Some(limits), ..Default::default() }).await;

    let started = Instant::now();
    let (status, _) = elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(200), "{:?}", started.elapsed());

    let started = Instant::now();
    elb(proxy.endpoint(), &[("Action", "DeleteTargetGroup"), ("TargetGroupArn", "arn:aws:none")]).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());

    // A clock at half speed doubles the latency.
    proxy.set_limits(Some(limits.with_time_scale(0.5)));
    let started = Instant::now();
    elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert!(started.elapsed() >= Duration::from_millis(400), "{:?}", started.elapsed());
}
