//! Tag-filtered DescribeSecurityGroups through the proxy (narrowed to the groups that can match,
//! `proxy/security_groups.rs`) answer exactly what moto answers to the same request sent to it
//! directly, for groups and tags made through the proxy and made in moto directly.

use std::cell::Cell;

use albatross_test_support::{Moto, Proxy, ProxyOptions};
use http_body_util::{BodyExt, Full};
use hyper::Request;
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

const AUTH: &str =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260101/us-east-1/ec2/aws4_request, SignedHeaders=host, Signature=0";

async fn ec2(endpoint: &str, params: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("Version", "2016-11-15")
        .extend_pairs(params.iter().copied())
        .finish();
    let request = Request::post(format!("{endpoint}/"))
        .header("content-type", "application/x-www-form-urlencoded; charset=utf-8")
        .header("authorization", AUTH)
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let client: Client<HttpConnector, Full<Bytes>> =
        Client::builder(TokioExecutor::new()).pool_max_idle_per_host(0).build(HttpConnector::new());
    let response = client.request(request).await.expect("a response");
    let status = response.status().as_u16();
    let body = response.into_body().collect().await.expect("a body").to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

fn element(xml: &str, name: &str) -> String {
    let (_, rest) = xml.split_once(&format!("<{name}>")).unwrap_or_else(|| panic!("no <{name}> in {xml}"));
    rest.split_once(&format!("</{name}>")).expect("closed").0.to_owned()
}

/// The body without its `requestId`, which differs per answer.
fn without_request_id(xml: &str) -> String {
    let id = element(xml, "requestId");
    xml.replacen(&format!("<requestId>{id}</requestId>"), "<requestId/>", 1)
}

/// Creates a security group with these tags (through `endpoint`: the proxy or moto itself).
async fn create_group(endpoint: &str, name: &str, tags: &[(&str, &str)]) -> String {
    let mut params = vec![
        ("Action", "CreateSecurityGroup".to_owned()),
        ("GroupName", name.to_owned()),
        ("GroupDescription", format!("group {name}")),
    ];
    if !tags.is_empty() {
        params.push(("TagSpecification.1.ResourceType", "security-group".to_owned()));
    }
    let keys: Vec<(String, String)> = (1..=tags.len())
        .map(|i| (format!("TagSpecification.1.Tag.{i}.Key"), format!("TagSpecification.1.Tag.{i}.Value")))
        .collect();
    let mut pairs: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
    for ((key, value), (k, v)) in keys.iter().zip(tags) {
        pairs.push((key, k));
        pairs.push((value, v));
    }
    let (status, body) = ec2(endpoint, &pairs).await;
    assert_eq!(status, 200, "{body}");
    element(&body, "groupId")
}

async fn tags_call(endpoint: &str, action: &str, group: &str, tags: &[(&str, Option<&str>)]) {
    let keys: Vec<(String, String)> =
        (1..=tags.len()).map(|i| (format!("Tag.{i}.Key"), format!("Tag.{i}.Value"))).collect();
    let mut pairs = vec![("Action", action), ("ResourceId.1", group)];
    for ((key, value), (k, v)) in keys.iter().zip(tags) {
        pairs.push((key, k));
        if let Some(v) = v {
            pairs.push((value, v));
        }
    }
    let (status, body) = ec2(endpoint, &pairs).await;
    assert_eq!(status, 200, "{body}");
}

/// The DescribeSecurityGroups request for these filters.
fn describe(filters: &[(&str, &[&str])]) -> Vec<(String, String)> {
    let mut pairs = vec![("Action".to_owned(), "DescribeSecurityGroups".to_owned())];
    for (i, (name, values)) in filters.iter().enumerate() {
        pairs.push((format!("Filter.{}.Name", i + 1), (*name).to_owned()));
        for (j, value) in values.iter().enumerate() {
            pairs.push((format!("Filter.{}.Value.{}", i + 1, j + 1), (*value).to_owned()));
        }
    }
    pairs
}

/// Sends the describe to the proxy and to moto; asserts both answer 200 with the same body and
/// returns the group ids.
async fn same_answer(proxy: &Proxy, moto: &Moto, filters: &[(&str, &[&str])]) -> Vec<String> {
    let pairs = describe(filters);
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let (via_proxy, proxied) = ec2(proxy.endpoint(), &pairs).await;
    let (direct, moto_body) = ec2(moto.endpoint(), &pairs).await;
    assert_eq!((via_proxy, direct), (200, 200), "{proxied}\n{moto_body}");
    assert_eq!(without_request_id(&proxied), without_request_id(&moto_body), "filters {filters:?}");
    let groups = proxied.split("<groupId>").skip(1).map(|s| s.split_once("</groupId>").unwrap().0.to_owned());
    let mut groups: Vec<String> = groups.collect();
    groups.dedup();
    groups
}

/// [`same_answer`], the groups as expected, and the proxy's count of narrowed describes grown by
/// one when `narrows`.
async fn check(
    (proxy, moto, narrowed): (&Proxy, &Moto, &Cell<usize>),
    filters: &[(&str, &[&str])],
    expected: &[&String],
    narrows: bool,
) {
    let mut expected: Vec<String> = expected.iter().map(|s| (*s).clone()).collect();
    expected.sort();
    let mut found = same_answer(proxy, moto, filters).await;
    found.sort();
    assert_eq!(found, expected, "filters {filters:?}");
    narrowed.set(narrowed.get() + usize::from(narrows));
    assert_eq!(proxy.narrowed_security_group_describes(), narrowed.get(), "filters {filters:?}");
}

#[tokio::test]
async fn tag_filtered_describes_answer_what_moto_answers() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let (p, m) = (proxy.endpoint(), moto.endpoint());
    let cluster = ("elbv2.k8s.aws/cluster", "c1");
    let managed = ("gateway.k8s.aws.alb/resource", "ManagedLBSecurityGroup");
    let a = create_group(p, "k8s-a", &[cluster, ("gateway.k8s.aws.alb/stack", "ns/a"), managed]).await;
    let b = create_group(m, "k8s-b", &[cluster, ("gateway.k8s.aws.alb/stack", "ns/b"), managed]).await;
    let c = create_group(p, "k8s-c", &[]).await;
    tags_call(p, "CreateTags", &c, &[("elbv2.k8s.aws/cluster", Some("c1")), ("odd", Some("a&b <c>"))]).await;
    let other =
        create_group(m, "other-cluster", &[("elbv2.k8s.aws/cluster", "c2"), ("gateway.k8s.aws.alb/stack", "ns/a")])
            .await;
    for i in 0..25 {
        create_group(if i % 2 == 0 { p } else { m }, &format!("filler-{i}"), &[("fill", "1")]).await;
    }
    let stack = |s: &'static [&'static str]| ("tag:gateway.k8s.aws.alb/stack", s);
    let frontend = |s: &'static [&'static str]| {
        [
            ("tag:elbv2.k8s.aws/cluster", &["c1"][..]),
            stack(s),
            ("tag:gateway.k8s.aws.alb/resource", &["ManagedLBSecurityGroup"][..]),
        ]
    };

    let narrowed = Cell::new(0);
    let w = (&proxy, &moto, &narrowed);

    // Matching, through the proxy and seeded in moto; with a non-tag filter beside the tags.
    check(w, &frontend(&["ns/a"]), &[&a], true).await;
    check(w, &frontend(&["ns/b"]), &[&b], true).await;
    let vpc = element(&ec2(m, &[("Action", "DescribeSecurityGroups"), ("GroupId.1", a.as_str())]).await.1, "vpcId");
    let mut with_vpc = frontend(&["ns/a"]).to_vec();
    let vpc = [vpc.as_str()];
    with_vpc.push(("vpc-id", &vpc[..]));
    check(w, &with_vpc, &[&a], true).await;
    // Several values, several groups, tag-key, a value to escape.
    check(w, &frontend(&["ns/a", "ns/b"]), &[&a, &b], true).await;
    check(w, &[("tag:elbv2.k8s.aws/cluster", &["c1"])], &[&a, &b, &c], true).await;
    check(w, &[("tag-key", &["odd"])], &[&c], true).await;
    check(w, &[("tag:odd", &["a&b <c>"])], &[&c], true).await;
    check(w, &[stack(&["ns/a"])], &[&a, &other], true).await;
    // Non-matching: no candidate (answered empty by the proxy) or candidates moto refuses.
    check(w, &frontend(&["ns/none"]), &[], true).await;
    check(w, &[("tag:nobody", &["x"])], &[], true).await;
    check(w, &[stack(&["ns/a"]), ("tag:elbv2.k8s.aws/cluster", &["c2", "c3"]), ("description", &["nope"])], &[], true)
        .await;
    // Globs: narrowed by key only, or not at all; tag-value is not narrowed.
    check(w, &[stack(&["ns/*"])], &[&a, &b, &other], true).await;
    check(w, &[("tag-key", &["gateway.*"])], &[&a, &b, &other], false).await;
    check(w, &[("tag-value", &["ns/b"])], &[&b], false).await;
    // More candidates than the proxy narrows to.
    let fill = same_answer(&proxy, &moto, &[("tag:fill", &["1"])]).await;
    assert_eq!((fill.len(), proxy.narrowed_security_group_describes()), (25, narrowed.get()));

    // DeleteTags through the proxy and in moto directly, then DeleteSecurityGroup likewise
    // (moto keeps a deleted group's tags: the candidates name it, the answer must not).
    tags_call(p, "DeleteTags", &a, &[("gateway.k8s.aws.alb/stack", None)]).await;
    tags_call(m, "DeleteTags", &b, &[("gateway.k8s.aws.alb/stack", Some("ns/b"))]).await;
    check(w, &frontend(&["ns/a", "ns/b"]), &[], true).await;
    check(w, &[("tag:elbv2.k8s.aws/cluster", &["c1"])], &[&a, &b, &c], true).await;
    for (endpoint, group) in [(p, &a), (m, &c)] {
        let (status, body) = ec2(endpoint, &[("Action", "DeleteSecurityGroup"), ("GroupId", group.as_str())]).await;
        assert_eq!(status, 200, "{body}");
    }
    check(w, &[("tag:elbv2.k8s.aws/cluster", &["c1"])], &[&b], true).await;
    check(w, &[("tag:odd", &["a&b <c>"])], &[], true).await;
    // A group created in moto after all this is found at once.
    let d = create_group(m, "k8s-d", &[cluster, ("gateway.k8s.aws.alb/stack", "ns/a"), managed]).await;
    check(w, &frontend(&["ns/a"]), &[&d], true).await;
}
