//! The fake Kubernetes API server, driven by a real kube-rs 5 client (plain-HTTP URL, the
//! rustls-tls feature as the controller builds it).

use std::time::Duration;

use albatross_test_support::{FakeApiServer, ResourceDef};
use futures::{Stream, StreamExt};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{
    Api, ApiResource, DeleteParams, DynamicObject, GroupVersionKind, ListParams, Patch, PatchParams, PostParams,
    WatchEvent, WatchParams,
};
use kube::discovery::{Discovery, Scope};
use kube::runtime::watcher;
use kube::{Client, Config, ResourceExt};
use serde_json::{Value, json};

const GATEWAY_API: &str = "gateway.networking.k8s.io";

async fn start() -> (FakeApiServer, Client) {
    let server = FakeApiServer::start().await;
    let config = Config::new(server.url().parse().expect("the server URL is a URI"));
    let client = Client::try_from(config).expect("kube accepts an http:// cluster URL");
    (server, client)
}

fn gateway_resource() -> ApiResource {
    ApiResource::from_gvk_with_plural(&GroupVersionKind::gvk(GATEWAY_API, "v1", "Gateway"), "gateways")
}

fn gateway(name: &str) -> Value {
    json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": name, "namespace": "default"},
        "spec": {"gatewayClassName": "alb", "listeners": [{"name": "http", "port": 80, "protocol": "HTTP"}]},
    })
}

fn config_map(name: &str, labels: Value) -> ConfigMap {
    serde_json::from_value(json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": labels},
        "data": {"key": "value"},
    }))
    .expect("a ConfigMap")
}

fn api_error(error: kube::Error) -> kube::core::Status {
    match error {
        kube::Error::Api(status) => *status,
        other => panic!("expected an API error, got {other:?}"),
    }
}

/// The next item of a stream, failing the test after 10 s.
async fn next<S: Stream + Unpin>(stream: &mut S) -> S::Item {
    tokio::time::timeout(Duration::from_secs(10), stream.next())
        .await
        .expect("an item within 10 s")
        .expect("the stream is still open")
}

/// The next watch event that is not a bookmark.
async fn next_change<S>(stream: &mut S) -> WatchEvent<DynamicObject>
where
    S: Stream<Item = kube::Result<WatchEvent<DynamicObject>>> + Unpin,
{
    loop {
        match next(stream).await.expect("a watch event") {
            WatchEvent::Bookmark(_) => continue,
            event => return event,
        }
    }
}

/// The next watcher event that is an object change (Apply or Delete), as (type, name).
async fn next_watcher_change<S>(stream: &mut S) -> (&'static str, String, DynamicObject)
where
    S: Stream<Item = Result<watcher::Event<DynamicObject>, watcher::Error>> + Unpin,
{
    loop {
        match next(stream).await.expect("no watcher error") {
            watcher::Event::Apply(o) => return ("apply", o.name_any(), o),
            watcher::Event::Delete(o) => return ("delete", o.name_any(), o),
            watcher::Event::InitApply(o) => return ("init", o.name_any(), o),
            watcher::Event::Init | watcher::Event::InitDone => continue,
        }
    }
}

#[tokio::test]
async fn kube_client_reaches_the_server_over_plain_http_and_reads_its_version() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let (server, client) = start().await;
    shareable(&server);
    assert!(server.url().starts_with("http://127.0.0.1:"));
    let version = client.apiserver_version().await.expect("GET /version");
    assert_eq!((version.major.as_str(), version.minor.as_str()), ("1", "33"));
    assert_eq!(version.git_version, "v1.33.0");
    assert!(server.requests().is_empty(), "discovery and /version are not recorded: {:?}", server.requests());
}

#[tokio::test]
async fn discovery_shows_gateway_api_once_registered_at_runtime() {
    let (server, client) = start().await;
    let before = Discovery::new(client.clone()).run().await.expect("discovery");
    assert!(!before.has_group(GATEWAY_API));
    let (config_maps, caps) =
        before.resolve_gvk(&GroupVersionKind::gvk("", "v1", "ConfigMap")).expect("built-in ConfigMap");
    assert_eq!((config_maps.plural.as_str(), caps.scope.clone()), ("configmaps", Scope::Namespaced));
    let (_, caps) = before.resolve_gvk(&GroupVersionKind::gvk("", "v1", "Node")).expect("built-in Node");
    assert_eq!(caps.scope, Scope::Cluster);
    assert!(before.has_group("coordination.k8s.io") && before.has_group("events.k8s.io"));

    for def in ResourceDef::gateway_api().into_iter().chain(ResourceDef::aws()) {
        server.register(def);
    }

    // Legacy discovery (N+2 requests) and aggregated discovery (2 requests) agree.
    for discovery in [
        Discovery::new(client.clone()).run().await.expect("discovery"),
        Discovery::new(client.clone()).run_aggregated().await.expect("aggregated discovery"),
    ] {
        let group = discovery.get(GATEWAY_API).expect("the Gateway API group");
        assert_eq!(group.preferred_version(), Some("v1"));
        let (gateway, caps) =
            discovery.resolve_gvk(&GroupVersionKind::gvk(GATEWAY_API, "v1", "Gateway")).expect("Gateway v1");
        assert_eq!(gateway.plural, "gateways");
        assert_eq!(caps.scope, Scope::Namespaced);
        assert!(caps.supports_operation("watch") && caps.supports_operation("patch"));
        assert!(caps.subresources.iter().any(|(r, _)| r.plural == "gateways/status" || r.plural == "status"));
        let (_, caps) =
            discovery.resolve_gvk(&GroupVersionKind::gvk(GATEWAY_API, "v1", "GatewayClass")).expect("GatewayClass v1");
        assert_eq!(caps.scope, Scope::Cluster);
        assert!(discovery.resolve_gvk(&GroupVersionKind::gvk(GATEWAY_API, "v1alpha2", "TCPRoute")).is_some());
        let (_, caps) = discovery
            .resolve_gvk(&GroupVersionKind::gvk(GATEWAY_API, "v1beta1", "ReferenceGrant"))
            .expect("ReferenceGrant v1beta1");
        assert!(caps.subresources.is_empty(), "ReferenceGrant has no status");
        let aws = discovery.get("gateway.k8s.aws").expect("gateway.k8s.aws");
        assert_eq!(aws.versions().collect::<Vec<_>>().len(), 2);
        assert_eq!(aws.preferred_version(), Some("v1"));
    }
}

#[tokio::test]
async fn config_maps_create_get_conflict_list_by_label_and_delete() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client, "team");

    let created = api.create(&PostParams::default(), &config_map("web", json!({"app": "web"}))).await.unwrap();
    let meta = &created.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("team"));
    assert!(meta.uid.as_deref().is_some_and(|u| u.len() == 36));
    assert!(meta.creation_timestamp.is_some());
    assert_eq!(meta.generation, Some(1));
    let rv: u64 = meta.resource_version.as_deref().unwrap().parse().unwrap();

    let again = api.create(&PostParams::default(), &config_map("web", json!({}))).await.unwrap_err();
    let status = api_error(again);
    assert!(status.is_already_exists(), "{status:?}");
    assert_eq!(status.code, 409);

    let fetched = api.get("web").await.unwrap();
    assert_eq!(fetched.data.as_ref().unwrap()["key"], "value");

    // Replace with the current resourceVersion works; with a stale one it is a conflict.
    let mut changed = fetched.clone();
    changed.data.as_mut().unwrap().insert("key".into(), "new".into());
    let replaced = api.replace("web", &PostParams::default(), &changed).await.unwrap();
    let new_rv: u64 = replaced.metadata.resource_version.as_deref().unwrap().parse().unwrap();
    assert!(new_rv > rv);
    let stale = api.replace("web", &PostParams::default(), &changed).await.unwrap_err();
    let status = api_error(stale);
    assert!(status.is_conflict(), "{status:?}");

    api.create(&PostParams::default(), &config_map("api", json!({"app": "api", "tier": "back"}))).await.unwrap();
    api.create(&PostParams::default(), &config_map("db", json!({"tier": "back"}))).await.unwrap();
    let names = |list: kube::core::ObjectList<ConfigMap>| list.items.iter().map(|c| c.name_any()).collect::<Vec<_>>();
    assert_eq!(names(api.list(&ListParams::default()).await.unwrap()), ["api", "db", "web"]);
    assert_eq!(names(api.list(&ListParams::default().labels("app")).await.unwrap()), ["api", "web"]);
    assert_eq!(names(api.list(&ListParams::default().labels("tier=back,app!=api")).await.unwrap()), ["db"]);
    assert_eq!(names(api.list(&ListParams::default().labels("!app")).await.unwrap()), ["db"]);
    assert_eq!(names(api.list(&ListParams::default().fields("metadata.name=web")).await.unwrap()), ["web"]);
    let elsewhere: Api<ConfigMap> = Api::namespaced(api.clone().into_client(), "other");
    assert!(elsewhere.list(&ListParams::default()).await.unwrap().items.is_empty());

    api.delete("web", &DeleteParams::default()).await.unwrap();
    let status = api_error(api.get("web").await.unwrap_err());
    assert!(status.is_not_found(), "{status:?}");
    assert_eq!(status.details.as_ref().map(|d| d.name.as_str()), Some("web"));
    assert_eq!(names(api.list(&ListParams::default()).await.unwrap()), ["api", "db"]);
    assert_eq!(server.list("ConfigMap").len(), 2);

    let mut generated = config_map("", json!({}));
    generated.metadata.name = None;
    generated.metadata.generate_name = Some("gen-".into());
    let generated = api.create(&PostParams::default(), &generated).await.unwrap();
    assert!(generated.name_any().starts_with("gen-") && generated.name_any().len() == 9, "{}", generated.name_any());
    let dry_run = PostParams { dry_run: true, ..PostParams::default() };
    api.create(&dry_run, &config_map("dry", json!({}))).await.unwrap();
    assert!(api_error(api.get("dry").await.unwrap_err()).is_not_found(), "a dry run stores nothing");
}

#[tokio::test]
async fn lists_paginate_with_limit_and_continue() {
    let (server, client) = start().await;
    for i in 0..5 {
        server.apply(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("cm-{i}")}}));
    }
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let first = api.list(&ListParams::default().limit(2)).await.unwrap();
    assert_eq!(first.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(), ["cm-0", "cm-1"]);
    let token = first.metadata.continue_.clone().expect("a continue token");
    let second = api.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(second.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(), ["cm-2", "cm-3"]);
    let token = second.metadata.continue_.clone().expect("a continue token");
    let last = api.list(&ListParams::default().limit(2).continue_token(&token)).await.unwrap();
    assert_eq!(last.items.iter().map(|c| c.name_any()).collect::<Vec<_>>(), ["cm-4"]);
    assert!(last.metadata.continue_.as_deref().is_none_or(str::is_empty));
    assert_eq!(first.metadata.resource_version, last.metadata.resource_version);
    // kube's paginated watcher list gets everything too.
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 5);
}

/// A watcher over `Api<DynamicObject>` sees what a test writes directly into the store.
async fn watcher_sees_direct_writes(config: watcher::Config, streaming: bool) {
    let (server, client) = start().await;
    for def in ResourceDef::gateway_api() {
        server.register(def);
    }
    server.apply(gateway("existing"));
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &gateway_resource());
    let mut events = watcher(api, config).boxed();

    let (kind, name, _) = next_watcher_change(&mut events).await;
    assert_eq!((kind, name.as_str()), ("init", "existing"));
    // Wait until the watch is open so the writes below are live events.
    while server.open_watches() == 0 {
        let _ = tokio::time::timeout(Duration::from_millis(20), events.next()).await;
    }

    server.apply(gateway("shop"));
    let (kind, name, object) = next_watcher_change(&mut events).await;
    assert_eq!((kind, name.as_str()), ("apply", "shop"));
    assert_eq!(object.types.as_ref().unwrap().api_version, "gateway.networking.k8s.io/v1");

    let mut changed = gateway("shop");
    changed["spec"]["gatewayClassName"] = json!("nlb");
    server.apply(changed);
    let (kind, name, object) = next_watcher_change(&mut events).await;
    assert_eq!((kind, name.as_str()), ("apply", "shop"));
    assert_eq!(object.data["spec"]["gatewayClassName"], "nlb");
    assert_eq!(object.metadata.generation, Some(2));

    server.delete("gateway.networking.k8s.io/v1", "Gateway", Some("default"), "shop").expect("deleted");
    let (kind, name, _) = next_watcher_change(&mut events).await;
    assert_eq!((kind, name.as_str()), ("delete", "shop"));

    // The API server ends watches now and then; the watcher re-watches and misses nothing.
    server.close_watches();
    while server.watches().len() < 2 {
        let _ = tokio::time::timeout(Duration::from_millis(20), events.next()).await;
    }
    server.apply(gateway("after-restart"));
    let (kind, name, _) = next_watcher_change(&mut events).await;
    assert_eq!((kind, name.as_str()), ("apply", "after-restart"));

    let watches = server.watches();
    assert!(watches.len() >= 2 && watches.iter().all(|w| w.status == 200 && w.verb() == "watch"), "{watches:?}");
    let first = &watches[0];
    assert_eq!(first.query.contains_key("sendInitialEvents"), streaming, "{first:?}");
    assert_eq!(server.requests_matching("GET", "/gateways").iter().any(|r| r.verb() == "list"), !streaming);
}

#[tokio::test]
async fn watcher_with_list_then_watch_sees_added_modified_deleted() {
    watcher_sees_direct_writes(watcher::Config::default(), false).await;
}

#[tokio::test]
async fn watcher_with_streaming_lists_sees_added_modified_deleted() {
    watcher_sees_direct_writes(watcher::Config::default().streaming_lists(), true).await;
}

#[tokio::test]
async fn server_side_apply_on_gateway_status_changes_only_status_and_records_the_manager() {
    let (server, client) = start().await;
    for def in ResourceDef::gateway_api() {
        server.register(def);
    }
    let stored = server.apply(gateway("shop"));
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &gateway_resource());

    let applied = json!({
        "apiVersion": "gateway.networking.k8s.io/v1",
        "kind": "Gateway",
        "metadata": {"name": "shop", "labels": {"ignored": "yes"}},
        "spec": {"gatewayClassName": "ignored"},
        "status": {"conditions": [{"type": "Accepted", "status": "True", "reason": "Accepted"}]},
    });
    let result =
        api.patch_status("shop", &PatchParams::apply("albatross").force(), &Patch::Apply(&applied)).await.unwrap();
    assert_eq!(result.data["status"]["conditions"][0]["type"], "Accepted");
    assert_eq!(result.data["spec"], stored["spec"], "spec is not changed through the status subresource");
    assert!(result.metadata.labels.is_none(), "metadata is not changed through the status subresource");
    assert_eq!(result.metadata.generation, Some(1));
    let managed = result.metadata.managed_fields.clone().unwrap_or_default();
    assert!(
        managed.iter().any(|m| m.manager.as_deref() == Some("albatross")
            && m.operation.as_deref() == Some("Apply")
            && m.subresource.as_deref() == Some("status")),
        "{managed:?}"
    );
    let in_store = server.get("gateway.networking.k8s.io/v1", "Gateway", Some("default"), "shop").unwrap();
    assert_eq!(in_store["status"], applied["status"]);

    let recorded = server.requests_matching("PATCH", "/gateways/shop/status");
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let request = &recorded[0];
    assert_eq!(request.field_manager(), Some("albatross"));
    assert_eq!(request.query.get("force").map(String::as_str), Some("true"));
    assert_eq!(request.content_type.as_deref(), Some("application/apply-patch+yaml"));
    assert_eq!(request.verb(), "patch");
    assert_eq!(request.resource(), (GATEWAY_API.to_owned(), "gateways".to_owned(), Some("status".to_owned())));
    assert_eq!(request.status, 200);
    assert_eq!(request.body.as_ref().unwrap()["status"], applied["status"]);

    // Status written on the main path is ignored for a type with a status subresource.
    let mut main = applied.clone();
    main["status"] = json!({"conditions": []});
    main["spec"] = stored["spec"].clone();
    let result = api.patch("shop", &PatchParams::apply("albatross"), &Patch::Apply(&main)).await.unwrap();
    assert_eq!(result.data["status"], applied["status"]);

    // Apply without a field manager is refused, as by the API server.
    let no_manager = PatchParams { field_manager: None, ..PatchParams::default() };
    let status = api_error(api.patch_status("shop", &no_manager, &Patch::Apply(&applied)).await.unwrap_err());
    assert_eq!(status.code, 422, "{status:?}");
}

#[tokio::test]
async fn a_write_that_changes_nothing_emits_no_watch_event() {
    let (server, client) = start().await;
    for def in ResourceDef::gateway_api() {
        server.register(def);
    }
    server.apply(gateway("shop"));
    let api: Api<DynamicObject> = Api::namespaced_with(client, "default", &gateway_resource());
    let status = json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "shop"},
        "status": {"conditions": [{"type": "Programmed", "status": "True"}]},
    });
    let params = PatchParams::apply("albatross").force();
    let first = api.patch_status("shop", &params, &Patch::Apply(&status)).await.unwrap();
    let rv = first.resource_version().unwrap();

    let mut events = api.watch(&WatchParams::default(), &rv).await.unwrap().boxed();
    let again = api.patch_status("shop", &params, &Patch::Apply(&status)).await.unwrap();
    assert_eq!(again.resource_version().unwrap(), rv, "a no-op write stores nothing");
    let merge = json!({"status": {"conditions": [{"type": "Programmed", "status": "True"}]}});
    api.patch_status("shop", &PatchParams::default(), &Patch::Merge(&merge)).await.unwrap();
    assert_eq!(server.resource_version().to_string(), rv);

    // The first event the watch gets is the next real change, not the no-op writes.
    server.apply(json!({
        "apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway",
        "metadata": {"name": "shop", "namespace": "default", "labels": {"changed": "yes"}},
        "spec": gateway("shop")["spec"],
    }));
    match next_change(&mut events).await {
        WatchEvent::Modified(object) => assert_eq!(object.labels().get("changed").map(String::as_str), Some("yes")),
        other => panic!("expected the label change, got {other:?}"),
    }
}

#[tokio::test]
async fn delete_with_a_finalizer_waits_until_a_json_patch_removes_it() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut cm = config_map("guarded", json!({}));
    cm.metadata.finalizers = Some(vec!["gateway.k8s.aws/cleanup".into()]);
    let created = api.create(&PostParams::default(), &cm).await.unwrap();
    let mut events = api.watch(&WatchParams::default(), &created.resource_version().unwrap()).await.unwrap().boxed();

    let deleting = api.delete("guarded", &DeleteParams::default()).await.unwrap();
    let deleting = deleting.left().expect("the object is answered while finalizers remain");
    let since = deleting.metadata.deletion_timestamp.clone().expect("a deletionTimestamp");
    match next(&mut events).await.unwrap() {
        WatchEvent::Modified(o) => assert!(o.metadata.deletion_timestamp.is_some()),
        other => panic!("expected MODIFIED, got {other:?}"),
    }
    // Deleting again changes nothing; the object stays until its finalizers are gone.
    let again = api.delete("guarded", &DeleteParams::default()).await.unwrap().left().unwrap();
    assert_eq!(again.metadata.deletion_timestamp, Some(since));
    assert!(api.get("guarded").await.is_ok());

    // No new finalizers on an object being deleted.
    let add = json!({"metadata": {"finalizers": ["gateway.k8s.aws/cleanup", "other"]}});
    let status = api_error(api.patch("guarded", &PatchParams::default(), &Patch::Merge(&add)).await.unwrap_err());
    assert!(status.is_invalid(), "{status:?}");

    // A JSON patch whose test fails is refused; the right one removes the finalizer.
    let wrong: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "someone-else"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]))
    .unwrap();
    let status = api_error(api.patch("guarded", &PatchParams::default(), &Patch::Json::<()>(wrong)).await.unwrap_err());
    assert!(status.is_invalid(), "{status:?}");
    let remove: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/metadata/finalizers/0", "value": "gateway.k8s.aws/cleanup"},
        {"op": "remove", "path": "/metadata/finalizers/0"},
    ]))
    .unwrap();
    api.patch("guarded", &PatchParams::default(), &Patch::Json::<()>(remove)).await.unwrap();

    assert!(api_error(api.get("guarded").await.unwrap_err()).is_not_found());
    match next(&mut events).await.unwrap() {
        WatchEvent::Deleted(o) => assert_eq!(o.name_any(), "guarded"),
        other => panic!("expected DELETED, got {other:?}"),
    }
}

#[tokio::test]
async fn watching_an_unregistered_type_is_not_found_until_its_crd_is_installed() {
    let (server, client) = start().await;
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &gateway_resource());
    let status = api_error(api.watch(&WatchParams::default(), "0").await.err().expect("no such resource"));
    assert!(status.is_not_found(), "{status:?}");
    assert_eq!(status.code, 404);
    let watches = server.watches();
    assert_eq!(watches.len(), 1);
    assert_eq!((watches[0].status, watches[0].verb()), (404, "watch"));

    // Installing the CRD object serves the type (and marks the CRD established).
    let crd = json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gateways.gateway.networking.k8s.io"},
        "spec": {
            "group": GATEWAY_API,
            "names": {"kind": "Gateway", "plural": "gateways", "singular": "gateway", "listKind": "GatewayList"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1beta1", "served": true, "storage": false, "subresources": {"status": {}}},
                {"name": "v1", "served": true, "storage": true, "subresources": {"status": {}}},
            ],
        },
    });
    let crds: Api<DynamicObject> = Api::all_with(
        client.clone(),
        &ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk("apiextensions.k8s.io", "v1", "CustomResourceDefinition"),
            "customresourcedefinitions",
        ),
    );
    let installed = crds
        .patch("gateways.gateway.networking.k8s.io", &PatchParams::apply("albatross"), &Patch::Apply(&crd))
        .await
        .unwrap();
    assert_eq!(installed.data["status"]["conditions"][1]["type"], "Established");
    let discovery = Discovery::new(client.clone()).filter(&[GATEWAY_API]).run().await.unwrap();
    assert_eq!(discovery.get(GATEWAY_API).unwrap().preferred_version(), Some("v1"));

    let mut events = api.watch(&WatchParams::default(), "0").await.expect("served now").boxed();
    server.apply(gateway("shop"));
    assert!(matches!(next_change(&mut events).await, WatchEvent::Added(o) if o.name_any() == "shop"));
}

#[tokio::test]
async fn fail_requests_answers_the_injected_status_then_recovers() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x", json!({}))).await.unwrap();

    server.fail_requests("GET", "/configmaps/x", 500, 1);
    let status = api_error(api.get("x").await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (500, "InternalError"));
    assert!(api.get("x").await.is_ok(), "only `times` requests fail");

    // kube's default client retries 503 by itself: the call succeeds, the record shows why.
    server.clear_requests();
    server.fail_requests("get", "/configmaps/x", 503, 2);
    assert!(api.get("x").await.is_ok());
    let statuses: Vec<u16> = server.requests_matching("GET", "/configmaps/x").iter().map(|r| r.status).collect();
    assert_eq!(statuses, [503, 503, 200]);

    // Faults apply to watches too.
    server.fail_requests("GET", "/configmaps", 500, 1);
    let status = api_error(api.watch(&WatchParams::default(), "0").await.err().expect("injected"));
    assert_eq!(status.code, 500);
    assert_eq!(server.watches().last().map(|w| w.status), Some(500));
}

#[tokio::test]
async fn generation_counts_spec_changes_only_and_versions_share_objects() {
    let (server, client) = start().await;
    for def in ResourceDef::aws() {
        server.register(def);
    }
    let v1 = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.k8s.aws", "v1", "LoadBalancerConfiguration"),
        "loadbalancerconfigurations",
    );
    let v1beta1 = ApiResource::from_gvk_with_plural(
        &GroupVersionKind::gvk("gateway.k8s.aws", "v1beta1", "LoadBalancerConfiguration"),
        "loadbalancerconfigurations",
    );
    let api: Api<DynamicObject> = Api::namespaced_with(client.clone(), "default", &v1);
    let object: DynamicObject = serde_json::from_value(json!({
        "apiVersion": "gateway.k8s.aws/v1", "kind": "LoadBalancerConfiguration",
        "metadata": {"name": "lb"}, "spec": {"scheme": "internal"}, "status": {"dropped": true},
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &object).await.unwrap();
    assert_eq!(created.metadata.generation, Some(1));
    assert!(created.data.get("status").is_none(), "status is dropped on create with a status subresource");

    let labels = json!({"metadata": {"labels": {"a": "b"}}});
    let patched = api.patch("lb", &PatchParams::default(), &Patch::Merge(&labels)).await.unwrap();
    assert_eq!(patched.metadata.generation, Some(1), "metadata changes keep the generation");
    let spec = json!({"spec": {"scheme": "internet-facing"}});
    let patched = api.patch("lb", &PatchParams::default(), &Patch::Strategic(&spec)).await.unwrap();
    assert_eq!(patched.metadata.generation, Some(2));
    let status = json!({"status": {"observedGeneration": 2}});
    let patched = api.patch_status("lb", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
    assert_eq!(patched.metadata.generation, Some(2), "status changes keep the generation");

    // The same object, served at v1beta1.
    let old: Api<DynamicObject> = Api::namespaced_with(client, "default", &v1beta1);
    let seen = old.get("lb").await.unwrap();
    assert_eq!(seen.types.unwrap().api_version, "gateway.k8s.aws/v1beta1");
    assert_eq!(seen.data["spec"]["scheme"], "internet-facing");
    assert_eq!(seen.metadata.uid, created.metadata.uid);
}

#[tokio::test]
async fn a_watch_from_an_expired_resource_version_gets_410_gone() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api.create(&PostParams::default(), &config_map("x", json!({}))).await.unwrap();
    api.create(&PostParams::default(), &config_map("y", json!({}))).await.unwrap();
    // The change to "y" is forgotten: a watch from "x"'s resourceVersion cannot be served.
    server.expire_watch_history();
    let mut events = api.watch(&WatchParams::default(), &created.resource_version().unwrap()).await.unwrap().boxed();
    match next(&mut events).await.unwrap() {
        WatchEvent::Error(status) => assert_eq!((status.code, status.reason.as_str()), (410, "Expired")),
        other => panic!("expected 410, got {other:?}"),
    }
    assert!(tokio::time::timeout(Duration::from_secs(5), events.next()).await.unwrap().is_none(), "then it ends");
}

#[tokio::test]
async fn a_label_filtered_watch_sees_a_relabelled_object_leave() {
    let (_server, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let created = api.create(&PostParams::default(), &config_map("x", json!({"app": "web"}))).await.unwrap();
    let params = WatchParams::default().labels("app=web");
    let mut events = api.watch(&params, &created.resource_version().unwrap()).await.unwrap().boxed();
    let relabel = json!({"metadata": {"labels": {"app": "api"}}});
    api.patch("x", &PatchParams::default(), &Patch::Merge(&relabel)).await.unwrap();
    loop {
        match next(&mut events).await.unwrap() {
            WatchEvent::Bookmark(_) => continue,
            WatchEvent::Deleted(o) => {
                assert_eq!(o.labels().get("app").map(String::as_str), Some("api"));
                break;
            }
            other => panic!("expected DELETED for the object that stopped matching, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn recorded_requests_carry_rbac_verbs_and_resources() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::namespaced(client.clone(), "ns");
    api.create(&PostParams::default(), &config_map("x", json!({}))).await.unwrap();
    api.get("x").await.unwrap();
    api.list(&ListParams::default()).await.unwrap();
    let patch = json!({"data": {"k": "v"}});
    api.patch("x", &PatchParams::apply("albatross"), &Patch::Apply(&patch)).await.unwrap();
    let current = api.get("x").await.unwrap();
    api.replace("x", &PostParams::default(), &current).await.unwrap();
    api.delete("x", &DeleteParams::default()).await.unwrap();
    api.delete_collection(&DeleteParams::default(), &ListParams::default()).await.unwrap();
    let all: Api<ConfigMap> = Api::all(client);
    drop(all.watch(&WatchParams::default(), "0").await.unwrap());

    let verbs: Vec<&str> = server.requests().iter().map(|r| r.verb()).collect();
    assert_eq!(verbs, ["create", "get", "list", "patch", "get", "update", "delete", "deletecollection"]);
    assert!(server.requests().iter().all(|r| r.resource() == (String::new(), "configmaps".into(), None)));
    let watch = &server.watches()[0];
    assert_eq!((watch.verb(), watch.path.as_str()), ("watch", "/api/v1/configmaps"));
    let create = &server.requests()[0];
    assert_eq!((create.method.as_str(), create.status), ("POST", 201));
    assert_eq!(create.body.as_ref().unwrap()["metadata"]["name"], "x");
}

#[tokio::test]
async fn metadata_only_lists_answer_partial_object_metadata() {
    let (server, client) = start().await;
    server.apply(json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
                        "data": {"k": "c2VjcmV0"}}));
    let api: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(client, "ns");
    let list = api.list_metadata(&ListParams::default()).await.unwrap();
    assert_eq!(list.items.len(), 1);
    assert_eq!(list.items[0].metadata.name.as_deref(), Some("s"));
    let one = api.get_metadata("s").await.unwrap();
    assert_eq!(one.types.unwrap().kind, "PartialObjectMetadata");
    let mut events = api.watch_metadata(&WatchParams::default(), "0").await.unwrap().boxed();
    match next(&mut events).await.unwrap() {
        WatchEvent::Added(o) => assert_eq!(o.metadata.name.as_deref(), Some("s")),
        other => panic!("expected ADDED, got {other:?}"),
    }
    let request = &server.watches()[0];
    assert_eq!(request.verb(), "watch");
}

#[tokio::test]
async fn malformed_bodies_and_unknown_paths_get_status_errors() {
    let (server, client) = start().await;
    let bad = http_request("POST", "/api/v1/namespaces/ns/configmaps", "{not json");
    let status = api_error(client.request_text(bad).await.unwrap_err());
    assert_eq!((status.code, status.reason.as_str()), (400, "BadRequest"));
    let unknown = http_request("GET", "/apis/nothing.example/v1/things", "");
    let status = api_error(client.request_text(unknown).await.unwrap_err());
    assert_eq!(status.code, 404);
    let huge = format!("{{\"metadata\":{{\"name\":\"big\"}},\"data\":{{\"k\":\"{}\"}}}}", "x".repeat(3 * 1024 * 1024));
    let status = api_error(
        client.request_text(http_request("POST", "/api/v1/namespaces/ns/configmaps", &huge)).await.unwrap_err(),
    );
    assert_eq!(status.code, 413);
    assert!(server.list("ConfigMap").is_empty());
}

#[tokio::test]
async fn watches_get_bookmarks_and_end_after_their_timeout() {
    let (server, client) = start().await;
    server.set_bookmark_interval(Duration::from_millis(100));
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    api.create(&PostParams::default(), &config_map("x", json!({}))).await.unwrap();
    let now = server.resource_version().to_string();
    let started = std::time::Instant::now();
    let mut events = api.watch(&WatchParams::default().timeout(1), &now).await.unwrap().boxed();
    match next(&mut events).await.unwrap() {
        WatchEvent::Bookmark(bookmark) => assert_eq!(bookmark.metadata.resource_version, now),
        other => panic!("expected a BOOKMARK, got {other:?}"),
    }
    while let Some(event) = tokio::time::timeout(Duration::from_secs(5), events.next()).await.expect("ends") {
        assert!(matches!(event, Ok(WatchEvent::Bookmark(_))), "{event:?}");
    }
    assert!(started.elapsed() >= Duration::from_millis(900), "{:?}", started.elapsed());
    assert_eq!(server.open_watches(), 0);
    assert_eq!(server.watches()[0].query.get("timeoutSeconds").map(String::as_str), Some("1"));
}

#[tokio::test]
async fn dropping_the_server_ends_open_watches() {
    let (server, client) = start().await;
    let api: Api<ConfigMap> = Api::default_namespaced(client);
    let mut events = api.watch(&WatchParams::default(), "0").await.unwrap().boxed();
    assert_eq!(server.open_watches(), 1);
    drop(server);
    let ended = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match events.next().await {
                None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            }
        }
    })
    .await;
    assert!(ended.is_ok(), "the watch stream ends when the server is dropped");
}

fn http_request(method: &str, path: &str, body: &str) -> hyper::Request<Vec<u8>> {
    hyper::Request::builder()
        .method(method)
        .uri(path)
        .header("Content-Type", "application/json")
        .body(body.as_bytes().to_vec())
        .unwrap()
}
