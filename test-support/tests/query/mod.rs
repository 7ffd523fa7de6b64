//! Plain Query requests to moto or the proxy (no AWS SDK), shared by the proxy tests.

#![allow(dead_code)]

use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub fn auth(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host;x-amz-date, Signature=0"
    )
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(HttpConnector::new())
}

pub fn query_request(endpoint: &str, service: &str, version: &str, params: &[(&str, &str)]) -> Request<Full<Bytes>> {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Version", version)
        .extend_pairs(params.iter().copied())
        .finish();
    Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("authorization", auth(service))
        .body(Full::new(Bytes::from(body)))
        .unwrap()
}

/// Sends a Query request; `Err` when the connection broke without a response.
pub async fn try_query(endpoint: &str, service: &str, params: &[(&str, &str)]) -> Result<(u16, String), String> {
    let version = if service == "ec2" { "2016-11-15" } else { "2015-12-01" };
    let response =
        client().request(query_request(endpoint, service, version, params)).await.map_err(|e| format!("{e:?}"))?;
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.map_err(|e| format!("{e}"))?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

pub async fn elb(endpoint: &str, params: &[(&str, &str)]) -> (u16, String) {
    try_query(endpoint, "elasticloadbalancing", params).await.expect("a response")
}

pub async fn ec2(endpoint: &str, params: &[(&str, &str)]) -> (u16, String) {
    try_query(endpoint, "ec2", params).await.expect("a response")
}

pub async fn acm_list(endpoint: &str) -> (u16, String, Option<String>) {
    let request = Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amz-target", "CertificateManager.ListCertificates")
        .header("authorization", auth("acm"))
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let response = client().request(request).await.unwrap();
    let status = response.status().as_u16();
    let error_type = response.headers().get("x-amzn-errortype").map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned(), error_type)
}

/// Text of every `<name>` element.
pub fn tags(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    xml.split(&open).skip(1).filter_map(|rest| rest.split_once(&close).map(|(v, _)| v.to_owned())).collect()
}

pub fn tag(xml: &str, name: &str) -> String {
    tags(xml, name).into_iter().next().unwrap_or_else(|| panic!("no <{name}> in {xml}"))
}

pub fn code(body: &str) -> String {
    tag(body, "Code")
}

/// A VPC with two subnets in two zones, created directly on moto.
pub struct Network {
    pub vpc: String,
    pub subnets: [String; 2],
}

pub async fn network(moto: &str) -> Network {
    let (status, body) = ec2(moto, &[("Action", "CreateVpc"), ("CidrBlock", "10.0.0.0/16")]).await;
    assert_eq!(status, 200, "{body}");
    let vpc = tag(&body, "vpcId");
    let mut subnets = Vec::new();
    for (cidr, zone) in [("10.0.1.0/24", "us-east-1a"), ("10.0.2.0/24", "us-east-1b")] {
        let (status, body) =
            ec2(moto, &[("Action", "CreateSubnet"), ("VpcId", &vpc), ("CidrBlock", cidr), ("AvailabilityZone", zone)])
                .await;
        assert_eq!(status, 200, "{body}");
        subnets.push(tag(&body, "subnetId"));
    }
    Network { vpc, subnets: [subnets[0].clone(), subnets[1].clone()] }
}

pub async fn create_lb(endpoint: &str, net: &Network, name: &str) -> (u16, String) {
    elb(
        endpoint,
        &[
            ("Action", "CreateLoadBalancer"),
            ("Name", name),
            ("Subnets.member.1", &net.subnets[0]),
            ("Subnets.member.2", &net.subnets[1]),
        ],
    )
    .await
}

pub async fn create_tg(endpoint: &str, net: &Network, name: &str) -> String {
    let (status, body) = elb(
        endpoint,
        &[
            ("Action", "CreateTargetGroup"),
            ("Name", name),
            ("Protocol", "HTTP"),
            ("Port", "80"),
            ("VpcId", &net.vpc),
            ("TargetType", "ip"),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    tag(&body, "TargetGroupArn")
}

pub async fn create_listener(endpoint: &str, lb: &str, port: &str, tg: &str) -> (u16, String) {
    elb(
        endpoint,
        &[
            ("Action", "CreateListener"),
            ("LoadBalancerArn", lb),
            ("Protocol", "HTTP"),
            ("Port", port),
            ("DefaultActions.member.1.Type", "forward"),
            ("DefaultActions.member.1.TargetGroupArn", tg),
        ],
    )
    .await
}
