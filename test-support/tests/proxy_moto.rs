//! The proxy in front of a real moto, driven with plain HTTP requests (no AWS SDK).

mod query;

use std::io::{Read, Write};
use std::time::Duration;

use albatross_test_support::{Fault, Faults, Moto, Proxy, ProxyOptions, Quotas};
use http_body_util::{BodyExt, Full};
use hyper::{Request, StatusCode};
use hyper_util::rt::TokioIo;
use query::*;

/// A load balancer with an HTTP:80 listener forwarding to one target group, made on moto.
struct Alb {
    net: Network,
    lb: String,
    tg: String,
    listener: String,
}

async fn alb(moto: &str) -> Alb {
    let net = network(moto).await;
    let (status, body) = create_lb(moto, &net, "web").await;
    assert_eq!(status, 200, "{body}");
    let lb = tag(&body, "LoadBalancerArn");
    let tg = create_tg(moto, &net, "web-default").await;
    let (status, body) = create_listener(moto, &lb, "80", &tg).await;
    assert_eq!(status, 200, "{body}");
    let listener = tag(&body, "ListenerArn");
    Alb { net, lb, tg, listener }
}

async fn create_rule(endpoint: &str, listener: &str, priority: &str, paths: &[&str], tg: &str) -> (u16, String) {
    let keys: Vec<String> =
        (1..=paths.len()).map(|i| format!("Conditions.member.1.PathPatternConfig.Values.member.{i}")).collect();
    let mut params = vec![
        ("Action", "CreateRule"),
        ("ListenerArn", listener),
        ("Priority", priority),
        ("Conditions.member.1.Field", "path-pattern"),
        ("Actions.member.1.Type", "forward"),
        ("Actions.member.1.TargetGroupArn", tg),
    ];
    params.extend(keys.iter().map(String::as_str).zip(paths.iter().copied()));
    elb(endpoint, &params).await
}

async fn rule_count(moto: &str, listener: &str) -> usize {
    let (status, body) = elb(moto, &[("Action", "DescribeRules"), ("ListenerArn", listener)]).await;
    assert_eq!(status, 200, "{body}");
    tags(&body, "RuleArn").len()
}

#[tokio::test]
async fn long_load_balancer_name_is_refused_by_the_proxy_but_accepted_by_moto() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let net = network(moto.endpoint()).await;
    let name = "a".repeat(33);

    let (status, body) = create_lb(proxy.endpoint(), &net, &name).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.starts_with(
        "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>ValidationError</Code>"
    ));
    assert!(body.contains("<RequestId>"), "{body}");
    let (status, body) = create_lb(proxy.endpoint(), &net, "internal-web").await;
    assert_eq!((status, code(&body).as_str()), (400, "ValidationError"));

    let (status, body) = create_lb(moto.endpoint(), &net, &name).await;
    assert_eq!(status, 200, "moto itself accepts it: {body}");

    let calls = proxy.calls();
    assert_eq!(calls.len(), 2);
    assert!(calls.iter().all(|c| c.service == "elasticloadbalancing"
        && c.action == "CreateLoadBalancer"
        && c.status == 400
        && c.error.as_deref() == Some("ValidationError")
        && c.injected.is_none()));
    assert_eq!(proxy.mutations(), 0, "refused calls are not mutations");
}

#[tokio::test]
async fn create_rule_limits() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let alb = alb(moto.endpoint()).await;

    let six = ["/a", "/b", "/c", "/d", "/e", "/f"];
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "1", &six, &alb.tg).await;
    assert_eq!((status, code(&body).as_str()), (400, "ValidationError"), "{body}");
    let (status, body) = create_rule(moto.endpoint(), &alb.listener, "1", &six, &alb.tg).await;
    assert_eq!(status, 200, "moto itself accepts six values: {body}");

    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "2", &six[..5], &alb.tg).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "50001", &["/x"], &alb.tg).await;
    assert_eq!((status, code(&body).as_str()), (400, "ValidationError"), "{body}");
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "3", &["/a*/b*/c*", "/d*/e*/f*"], &alb.tg).await;
    assert_eq!((status, code(&body).as_str()), (400, "ValidationError"), "too many wildcards: {body}");

    assert_eq!(proxy.count("CreateRule"), 4);
    let statuses: Vec<u16> = proxy.calls().iter().map(|c| c.status).collect();
    assert_eq!(statuses, [400, 200, 400, 400]);
    assert_eq!(proxy.mutations(), 1);
    assert_eq!(rule_count(moto.endpoint(), &alb.listener).await, 3, "default + moto's own + the accepted one");
}

#[tokio::test]
async fn rules_and_target_groups_per_load_balancer_quotas() {
    let moto = Moto::start();
    let quotas = Quotas { rules_per_alb: 2, target_groups_per_alb: 3, ..Quotas::default() };
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { quotas, ..Default::default() }).await;
    let alb = alb(moto.endpoint()).await;
    let tg2 = create_tg(moto.endpoint(), &alb.net, "tg2").await;
    let tg3 = create_tg(moto.endpoint(), &alb.net, "tg3").await;
    let tg4 = create_tg(moto.endpoint(), &alb.net, "tg4").await;

    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "1", &["/one"], &tg2).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "2", &["/two"], &tg3).await;
    assert_eq!(status, 200, "{body}");
    let rule2 = tag(&body, "RuleArn");
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "3", &["/three"], &alb.tg).await;
    assert_eq!((status, code(&body).as_str()), (400, "TooManyRules"), "{body}");

    // Room for a third rule, but a fourth distinct target group is over the quota.
    proxy.set_quotas(Quotas { rules_per_alb: 3, ..quotas });
    let (status, body) = create_rule(proxy.endpoint(), &alb.listener, "3", &["/three"], &tg4).await;
    assert_eq!((status, code(&body).as_str()), (400, "TooManyTargetGroups"), "{body}");
    // Replacing rule 2's target group keeps the count at 3.
    let (status, body) = elb(
        proxy.endpoint(),
        &[
            ("Action", "ModifyRule"),
            ("RuleArn", &rule2),
            ("Actions.member.1.Type", "forward"),
            ("Actions.member.1.TargetGroupArn", &tg4),
        ],
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(rule_count(moto.endpoint(), &alb.listener).await, 3);
}

#[tokio::test]
async fn create_load_balancer_is_idempotent_and_listener_ports_unique() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let alb = alb(moto.endpoint()).await;

    let (status, body) = create_lb(proxy.endpoint(), &alb.net, "web").await;
    assert_eq!(status, 200, "{body}");
    assert!(body.starts_with("<CreateLoadBalancerResponse"), "{body}");
    assert!(body.contains("<CreateLoadBalancerResult>"), "{body}");
    assert_eq!(tag(&body, "LoadBalancerArn"), alb.lb);
    let (_, all) = elb(moto.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert_eq!(tags(&all, "LoadBalancerArn").len(), 1);

    let (status, body) = create_listener(proxy.endpoint(), &alb.lb, "80", &alb.tg).await;
    assert_eq!((status, code(&body).as_str()), (400, "DuplicateListener"), "{body}");
    let (status, body) = create_listener(proxy.endpoint(), &alb.lb, "8080", &alb.tg).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(proxy.mutations(), 2, "the emulated create and the new listener");
}

#[tokio::test]
async fn throttle_fault_answers_throttling_without_forwarding() {
    let moto = Moto::start();
    let faults = Faults { throttle: 1.0, ..Faults::default() };
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions { faults, ..Default::default() }).await;
    let net = network(moto.endpoint()).await;

    let (status, body) = create_lb(proxy.endpoint(), &net, "web").await;
    assert_eq!(status, 400);
    let request_id = tag(&body, "RequestId");
    assert_eq!(
        body,
        format!(
            "<ErrorResponse xmlns=\"http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/\"><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
    );
    let (status, body, error_type) = acm_list(proxy.endpoint()).await;
    assert_eq!(status, 400);
    assert_eq!(body, r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#);
    assert_eq!(error_type.as_deref(), Some("ThrottlingException"));
    let (status, body) = ec2(proxy.endpoint(), &[("Action", "DescribeVpcs")]).await;
    assert_eq!((status, code(&body).as_str()), (503, "RequestLimitExceeded"));

    let (_, all) = elb(moto.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert!(tags(&all, "LoadBalancerArn").is_empty(), "a throttled create must not reach moto");
    let calls = proxy.calls();
    let seen: Vec<(&str, &str, u16, Option<Fault>)> =
        calls.iter().map(|c| (c.service.as_str(), c.action.as_str(), c.status, c.injected)).collect();
    assert_eq!(
        seen,
        [
            ("elasticloadbalancing", "CreateLoadBalancer", 400, Some(Fault::Throttle)),
            ("acm", "ListCertificates", 400, Some(Fault::Throttle)),
            ("ec2", "DescribeVpcs", 503, Some(Fault::Throttle)),
        ]
    );
    assert_eq!(proxy.mutating_calls().len(), 1);

    proxy.set_faults(Faults { server_error: 1.0, ..Faults::default() });
    let (status, body) = elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert_eq!((status, code(&body).as_str()), (500, "InternalFailure"));
    proxy.set_faults(Faults::default());
    let (status, _) = elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert_eq!(status, 200);
    assert_eq!(proxy.count("DescribeLoadBalancers"), 2);
    proxy.clear_calls();
    assert!(proxy.calls().is_empty());
}

#[tokio::test]
async fn dropped_connections_before_and_after_forwarding() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let net = network(moto.endpoint()).await;
    let params = |name: &'static str| {
        vec![
            ("Action", "CreateLoadBalancer"),
            ("Name", name),
            ("Subnets.member.1", net.subnets[0].as_str()),
            ("Subnets.member.2", net.subnets[1].as_str()),
        ]
    };

    proxy.set_faults(Faults { drop_before: 1.0, ..Faults::default() });
    let result = try_query(proxy.endpoint(), "elasticloadbalancing", &params("before")).await;
    assert!(result.is_err(), "expected a broken connection, got {result:?}");
    proxy.set_faults(Faults { drop_after: 1.0, ..Faults::default() });
    let result = try_query(proxy.endpoint(), "elasticloadbalancing", &params("after")).await;
    assert!(result.is_err(), "expected a broken connection, got {result:?}");

    let (_, all) = elb(moto.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
    assert_eq!(tags(&all, "LoadBalancerName"), ["after"]);
    let calls = proxy.calls();
    assert_eq!((calls[0].status, calls[0].injected), (0, Some(Fault::DropBefore)));
    assert_eq!((calls[1].status, calls[1].injected), (200, Some(Fault::DropAfter)));
    assert_eq!(proxy.mutations(), 1);
}

#[tokio::test]
async fn fault_sequence_is_deterministic_for_a_seed() {
    let moto = Moto::start();
    let faults = Faults { throttle: 0.3, server_error: 0.3, seed: 42, ..Faults::default() };
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = Proxy::start(moto.endpoint(), ProxyOptions { faults, ..Default::default() }).await;
        for _ in 0..12 {
            elb(proxy.endpoint(), &[("Action", "DescribeLoadBalancers")]).await;
        }
        runs.push(proxy.calls().iter().map(|c| (c.status, c.injected)).collect::<Vec<_>>());
    }
    assert_eq!(runs[0], runs[1]);
    assert!(runs[0].iter().any(|(s, _)| *s == 200));
    assert!(runs[0].iter().any(|(s, _)| *s != 200));
}

#[tokio::test]
async fn hold_after_mutations_holds_until_released() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let net = network(moto.endpoint()).await;

    proxy.hold_after_mutations(Some(proxy.mutations() + 1));
    create_tg(proxy.endpoint(), &net, "first").await; // the first mutation is answered
    assert_eq!(proxy.mutations(), 1);

    let endpoint = proxy.endpoint().to_owned();
    let held = tokio::spawn(async move { elb(&endpoint, &[("Action", "DescribeTargetGroups")]).await });
    tokio::time::timeout(Duration::from_secs(10), proxy.wait_for_hold()).await.expect("a request is held");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!held.is_finished(), "a held request must not be answered");
    assert_eq!(proxy.held(), 1);

    proxy.hold_after_mutations(None);
    let (status, body) = tokio::time::timeout(Duration::from_secs(10), held).await.expect("released").unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(proxy.held(), 0);

    // Crash test shape: hold, abort the client, drop what is held; nothing reaches moto.
    proxy.hold_after_mutations(Some(proxy.mutations()));
    let endpoint = proxy.endpoint().to_owned();
    let vpc = net.vpc.clone();
    let client = tokio::spawn(async move {
        let params = [
            ("Action", "CreateTargetGroup"),
            ("Name", "second"),
            ("Protocol", "HTTP"),
            ("Port", "80"),
            ("VpcId", vpc.as_str()),
            ("TargetType", "ip"),
        ];
        try_query(&endpoint, "elasticloadbalancing", &params).await
    });
    tokio::time::timeout(Duration::from_secs(10), proxy.wait_for_hold()).await.expect("a request is held");
    client.abort();
    proxy.drop_held();
    proxy.hold_after_mutations(None);
    tokio::time::timeout(Duration::from_secs(10), async {
        while proxy.held() > 0 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("held request dropped");
    let (_, groups) = elb(moto.endpoint(), &[("Action", "DescribeTargetGroups")]).await;
    assert_eq!(tags(&groups, "TargetGroupName"), ["first"]);
}

#[tokio::test]
async fn keeps_connections_alive() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let stream = tokio::net::TcpStream::connect(proxy.endpoint().trim_start_matches("http://")).await.unwrap();
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.unwrap();
    tokio::spawn(connection);
    for _ in 0..3 {
        let request = query_request(
            proxy.endpoint(),
            "elasticloadbalancing",
            "2015-12-01",
            &[("Action", "DescribeLoadBalancers")],
        );
        let response = sender.send_request(request).await.expect("same connection");
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers().get("connection").is_none());
        response.into_body().collect().await.unwrap();
    }
    assert_eq!(proxy.count("DescribeLoadBalancers"), 3);
    // /moto-api passes through unrecorded.
    let response = client()
        .request(Request::post(format!("{}/moto-api/reset", proxy.endpoint())).body(Full::default()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(proxy.calls().len(), 3);
}

#[test]
fn blocking_proxy_serves_sync_tests() {
    let moto = Moto::start();
    let proxy = Proxy::start_blocking(moto.endpoint(), ProxyOptions::default());
    let mut stream = std::net::TcpStream::connect(proxy.endpoint().trim_start_matches("http://")).unwrap();
    let body = "Action=DescribeLoadBalancers&Version=2015-12-01";
    write!(
        stream,
        "POST / HTTP/1.1\r\nHost: x\r\nAuthorization: {}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        auth("elasticloadbalancing"),
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(response.contains("<DescribeLoadBalancersResponse"), "{response}");
    assert_eq!(proxy.count("DescribeLoadBalancers"), 1);
    moto.reset();
    drop(proxy);
}

#[tokio::test]
async fn a_target_group_of_one_load_balancer_cannot_be_attached_to_another() {
    let moto = Moto::start();
    let proxy = Proxy::start(moto.endpoint(), ProxyOptions::default()).await;
    let web = alb(moto.endpoint()).await;
    let (status, body) = create_lb(moto.endpoint(), &web.net, "other").await;
    assert_eq!(status, 200, "{body}");
    let other = tag(&body, "LoadBalancerArn");
    let free = create_tg(moto.endpoint(), &web.net, "free").await;
    let refused = |(status, body): (u16, String)| {
        assert_eq!((status, code(&body).as_str()), (400, "TargetGroupAssociationLimit"), "{body}");
        assert!(body.contains("cannot be associated with more than one load balancer"), "{body}");
    };

    // web's listener forwards to web.tg: no listener or rule of another load balancer may.
    refused(create_listener(proxy.endpoint(), &other, "80", &web.tg).await);
    let (status, body) = create_listener(proxy.endpoint(), &other, "80", &free).await;
    assert_eq!(status, 200, "{body}");
    let other_listener = tag(&body, "ListenerArn");
    refused(create_rule(proxy.endpoint(), &other_listener, "1", &["/a"], &web.tg).await);
    refused(create_rule(proxy.endpoint(), &web.listener, "1", &["/a"], &free).await);
    let endpoint = proxy.endpoint().to_owned();
    let forward = |arn_key: &'static str, arn: String, prefix: &'static str, tg: String| {
        let endpoint = endpoint.clone();
        async move { modify_forward(&endpoint, arn_key, &arn, prefix, &tg).await }
    };
    refused(forward("ListenerArn", other_listener.clone(), "DefaultActions", web.tg.clone()).await);
    // The same load balancer may use a target group from many rules.
    let (status, body) = create_rule(proxy.endpoint(), &web.listener, "1", &["/a"], &web.tg).await;
    assert_eq!(status, 200, "{body}");
    let web_rule = tag(&body, "RuleArn");

    // moto does not record what ModifyRule attaches; the proxy does.
    let moved = create_tg(moto.endpoint(), &web.net, "moved").await;
    let (status, body) = forward("RuleArn", web_rule, "Actions", moved.clone()).await;
    assert_eq!(status, 200, "{body}");
    refused(create_listener(proxy.endpoint(), &other, "81", &moved).await);
    let users = |endpoint: String, tg: String| async move {
        let (status, body) =
            elb(&endpoint, &[("Action", "DescribeTargetGroups"), ("TargetGroupArns.member.1", &tg)]).await;
        assert_eq!(status, 200, "{body}");
        tags(&body, "LoadBalancerArns").into_iter().flat_map(|l| tags(&l, "member")).collect::<Vec<_>>()
    };
    // DescribeTargetGroups says which load balancers use a target group now, as AWS does.
    assert_eq!(users(proxy.endpoint().to_owned(), moved.clone()).await, std::slice::from_ref(&web.lb));
    assert_eq!(users(moto.endpoint().to_owned(), moved.clone()).await, Vec::<String>::new(), "moto's own");
    assert_eq!(users(proxy.endpoint().to_owned(), free.clone()).await, std::slice::from_ref(&other));

    // Deleting the load balancer frees its target groups.
    let (status, body) = elb(moto.endpoint(), &[("Action", "DeleteLoadBalancer"), ("LoadBalancerArn", &web.lb)]).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_rule(proxy.endpoint(), &other_listener, "1", &["/a"], &web.tg).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_listener(proxy.endpoint(), &other, "81", &moved).await;
    assert_eq!(status, 200, "{body}");

    // moto alone attaches a target group to a second load balancer.
    let (status, body) = create_lb(moto.endpoint(), &web.net, "third").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = create_listener(moto.endpoint(), &tag(&body, "LoadBalancerArn"), "80", &free).await;
    assert_eq!(status, 200, "moto itself accepts it: {body}");
    let refusals = proxy.calls().iter().filter(|c| c.error.as_deref() == Some("TargetGroupAssociationLimit")).count();
    assert_eq!(refusals, 5);
}

/// ModifyRule (`RuleArn`) or ModifyListener (`ListenerArn`) forwarding to one target group.
async fn modify_forward(endpoint: &str, arn_key: &str, arn: &str, prefix: &str, tg: &str) -> (u16, String) {
    let action = if arn_key == "RuleArn" { "ModifyRule" } else { "ModifyListener" };
    let (type_key, tg_key) = (format!("{prefix}.member.1.Type"), format!("{prefix}.member.1.TargetGroupArn"));
    elb(endpoint, &[("Action", action), (arn_key, arn), (type_key.as_str(), "forward"), (tg_key.as_str(), tg)]).await
}
