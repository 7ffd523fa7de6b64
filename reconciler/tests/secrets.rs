//! OIDC client credentials: only the typed reference of a configuration is read, in its own
//! namespace; text shaped like a reference anywhere else is sent to AWS as written.

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oidc_client_credentials_are_read_from_their_secret_when_the_stack_is_applied() {
    let mut objects = documents(include_str!("../../model/tests/golden/lrc-authenticate-oidc-https/input.yaml"));
    objects.push(namespace("shop"));
    objects.push(namespace("albatross-system"));
    // "my-client-id" and "my-client-secret", base64.
    objects
        .push(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oidc-client", "namespace": "shop"},
                        "data": {"clientID": "bXktY2xpZW50LWlk", "clientSecret": "bXktY2xpZW50LXNlY3JldA=="}}));
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    eventually("Programmed", || {
        let gw = c.api.get(GW, "Gateway", Some("shop"), "web")?;
        gw.pointer("/status/addresses/0/value").map(|_| ())
    })
    .await;
    let lbs = c.aws.elbv2.describe_load_balancers().send().await.unwrap();
    let lb = lbs.load_balancers()[0].load_balancer_arn().unwrap();
    let listeners = c.aws.elbv2.describe_listeners().load_balancer_arn(lb).send().await.unwrap();
    let https = listeners.listeners().iter().find(|l| l.port() == Some(443)).unwrap();
    let rules = c.aws.elbv2.describe_rules().listener_arn(https.listener_arn().unwrap()).send().await.unwrap();
    let oidc = rules
        .rules()
        .iter()
        .flat_map(|r| r.actions())
        .find_map(|a| a.authenticate_oidc_config())
        .expect("an authenticate-oidc action");
    assert_eq!(oidc.client_id(), Some("my-client-id"));
    // A resync leaves the rule alone: the resolved id compares equal to what AWS holds.
    c.proxy.clear_calls();
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "yes"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("a reconcile", || c.proxy.calls().iter().any(|call| call.action == "DescribeRules").then_some(())).await;
    settled(&c).await;
    assert!(c.proxy.mutating_calls().is_empty(), "{:?}", c.proxy.mutating_calls());
    assert_granted_by_shipped_rbac(&c.api);
}

#[path = "fixtures/lures.rs"]
mod lures;

/// `GET`s of Secrets, as `namespace/name`.
fn secrets_read(api: &FakeApiServer) -> Vec<String> {
    let reads = api.requests().into_iter().filter(|r| r.resource().1 == "secrets");
    let mut out: Vec<String> = reads
        .map(|r| {
            let (namespace, name) = r.target();
            format!("{} {}/{}", r.verb(), namespace.unwrap_or_default(), name.unwrap_or_default())
        })
        .collect();
    out.sort();
    out.dedup();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secret_reference_text_in_user_fields_is_sent_literally_and_no_other_secret_is_read() {
    let mut objects = documents(include_str!("fixtures/secret-lures.yaml"));
    objects.extend([namespace("shop"), namespace("albatross-system")]);
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    eventually("Programmed", || {
        let gw = c.api.get(GW, "Gateway", Some("shop"), "web")?;
        gw.pointer("/status/addresses/0/value").map(|_| ())
    })
    .await;
    lures::assert_sent_literally(&c.aws).await;
    assert_eq!(secrets_read(&c.api), ["get shop/oidc-client"]);
}

fn programmed_message(api: &FakeApiServer) -> Option<String> {
    let gw = api.get(GW, "Gateway", Some("shop"), "web")?;
    let programmed = condition(gw.pointer("/status/conditions")?, "Programmed")?;
    (programmed["status"] == "False").then(|| programmed["message"].as_str().map(str::to_owned))?
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreadable_oidc_secret_gives_one_message_whether_missing_keyless_or_forbidden() {
    let mut objects = documents(include_str!("../../model/tests/golden/lrc-authenticate-oidc-https/input.yaml"));
    objects.extend([namespace("shop"), namespace("albatross-system")]);
    let c = cluster_with(objects, true, &["shop.example.com"]).await;
    let missing = eventually("Programmed False", || programmed_message(&c.api)).await;
    assert!(
        missing.contains("Secret shop/oidc-client with keys clientID and clientSecret cannot be read"),
        "{missing}"
    );
    assert!(!c.proxy.calls().iter().any(|call| call.action == "CreateRule"), "nothing half-configured");

    // A Secret without the client secret.
    let keyless = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "oidc-client", "namespace": "shop"},
                         "data": {"clientID": "bXktY2xpZW50LWlk"}});
    settled(&c).await;
    c.api.clear_requests();
    c.api.apply(keyless);
    // No Secret watch: a change to the Gateway's Service brings the next reconcile.
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "1"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("the keyless Secret read", || (!secrets_read(&c.api).is_empty()).then_some(())).await;
    settled(&c).await;
    assert_eq!(programmed_message(&c.api).as_deref(), Some(missing.as_str()), "missing key");

    // Reading it forbidden.
    c.api.fail_requests("GET", "/secrets/oidc-client", 403, 1000);
    c.api.clear_requests();
    c.api.apply(json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "store", "namespace": "shop",
                       "labels": {"touched": "2"}},
                       "spec": {"selector": {"app": "store"}, "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}}));
    eventually("the forbidden read", || (!secrets_read(&c.api).is_empty()).then_some(())).await;
    settled(&c).await;
    assert_eq!(programmed_message(&c.api).as_deref(), Some(missing.as_str()), "forbidden");
}
