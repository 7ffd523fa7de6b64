//! Discovery documents: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}`,
//! `/apis/{group}/{version}`, legacy JSON or aggregated discovery (`apidiscovery.k8s.io`
//! `APIGroupDiscoveryList`) as the `Accept` header asks.

use serde_json::{Value, json};

use super::ResourceDef;
use super::path::Route;
use super::store::ApiError;

const VERBS: [&str; 8] = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"];
const STATUS_VERBS: [&str; 3] = ["get", "patch", "update"];

/// A discovery answer: the body and its `Content-Type`.
pub(crate) struct Document {
    pub body: Value,
    pub content_type: String,
}

impl Document {
    fn json(body: Value) -> Document {
        Document { body, content_type: "application/json".into() }
    }
}

/// Answers a discovery route (see [`Route::is_discovery`]); `server` is `host:port`.
pub(crate) fn respond(route: &Route, accept: &str, defs: &[ResourceDef], server: &str) -> Result<Document, ApiError> {
    let aggregated = aggregated_version(accept);
    match route {
        Route::Version => Ok(Document::json(json!({
            "major": "1",
            "minor": "33",
            "gitVersion": "v1.33.0",
            "gitCommit": "0000000000000000000000000000000000000000",
            "gitTreeState": "clean",
            "buildDate": "2025-04-23T00:00:00Z",
            "goVersion": "go1.24.2",
            "compiler": "gc",
            "platform": "linux/amd64",
        }))),
        Route::CoreVersions => match aggregated {
            Some(version) => Ok(aggregated_list(version, &[String::new()], defs)),
            None => Ok(Document::json(json!({
                "kind": "APIVersions",
                "versions": ["v1"],
                "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server}],
            }))),
        },
        Route::Groups => {
            let names = group_names(defs);
            match aggregated {
                Some(version) => Ok(aggregated_list(version, &names, defs)),
                None => Ok(Document::json(json!({
                    "kind": "APIGroupList",
                    "apiVersion": "v1",
                    "groups": names.iter().map(|g| api_group(g, defs)).collect::<Vec<_>>(),
                }))),
            }
        }
        Route::Group(group) if !group.is_empty() && defs.iter().any(|d| &d.group == group) => {
            let mut body = api_group(group, defs);
            body["kind"] = json!("APIGroup");
            body["apiVersion"] = json!("v1");
            Ok(Document::json(body))
        }
        Route::GroupVersion { group, version } => {
            let served: Vec<&ResourceDef> =
                defs.iter().filter(|d| &d.group == group && &d.version == version).collect();
            // `/apis/{group}/{version}` never names the core group, `/api/{version}` only it.
            if served.is_empty() {
                return Err(ApiError::no_such_path());
            }
            let group_version = if group.is_empty() { version.clone() } else { format!("{group}/{version}") };
            let mut resources = Vec::new();
            for def in served {
                resources.push(json!({
                    "name": def.plural,
                    "singularName": def.singular(),
                    "namespaced": def.namespaced,
                    "kind": def.kind,
                    "verbs": VERBS,
                }));
                if def.status {
                    resources.push(json!({
                        "name": format!("{}/status", def.plural),
                        "singularName": "",
                        "namespaced": def.namespaced,
                        "kind": def.kind,
                        "verbs": STATUS_VERBS,
                    }));
                }
            }
            Ok(Document::json(json!({
                "kind": "APIResourceList",
                "apiVersion": "v1",
                "groupVersion": group_version,
                "resources": resources,
            })))
        }
        _ => Err(ApiError::no_such_path()),
    }
}

/// `Some("v2")` / `Some("v2beta1")` when the first acceptable media type the server offers is
/// aggregated discovery; `None` for plain JSON.
fn aggregated_version(accept: &str) -> Option<&'static str> {
    for media in accept.split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if params.first().is_some_and(|m| *m != "application/json" && *m != "*/*") {
            continue;
        }
        if !params.contains(&"g=apidiscovery.k8s.io") {
            return None;
        }
        if params.contains(&"v=v2") {
            return Some("v2");
        }
        if params.contains(&"v=v2beta1") {
            return Some("v2beta1");
        }
    }
    None
}

/// Named groups in registration order.
fn group_names(defs: &[ResourceDef]) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for def in defs {
        if !def.group.is_empty() && !names.contains(&def.group) {
            names.push(def.group.clone());
        }
    }
    names
}

/// A group's versions in registration order; the first is the preferred one.
fn versions(group: &str, defs: &[ResourceDef]) -> Vec<String> {
    let mut versions: Vec<String> = Vec::new();
    for def in defs.iter().filter(|d| d.group == group) {
        if !versions.contains(&def.version) {
            versions.push(def.version.clone());
        }
    }
    versions
}

fn api_group(group: &str, defs: &[ResourceDef]) -> Value {
    let versions: Vec<Value> =
        versions(group, defs).iter().map(|v| json!({"groupVersion": format!("{group}/{v}"), "version": v})).collect();
    json!({"name": group, "versions": versions, "preferredVersion": versions.first()})
}

fn aggregated_list(version: &str, groups: &[String], defs: &[ResourceDef]) -> Document {
    let items: Vec<Value> = groups
        .iter()
        .map(|group| {
            let versions: Vec<Value> = versions(group, defs)
                .iter()
                .map(|version| {
                    let resources: Vec<Value> = defs
                        .iter()
                        .filter(|d| &d.group == group && &d.version == version)
                        .map(aggregated_resource)
                        .collect();
                    json!({"version": version, "resources": resources, "freshness": "Current"})
                })
                .collect();
            json!({"metadata": {"name": group}, "versions": versions})
        })
        .collect();
    Document {
        body: json!({
            "kind": "APIGroupDiscoveryList",
            "apiVersion": format!("apidiscovery.k8s.io/{version}"),
            "metadata": {},
            "items": items,
        }),
        content_type: format!("application/json;g=apidiscovery.k8s.io;v={version};as=APIGroupDiscoveryList"),
    }
}

fn aggregated_resource(def: &ResourceDef) -> Value {
    let kind = json!({"group": def.group, "version": def.version, "kind": def.kind});
    let mut resource = json!({
        "resource": def.plural,
        "responseKind": kind,
        "scope": if def.namespaced { "Namespaced" } else { "Cluster" },
        "singularResource": def.singular(),
        "verbs": VERBS,
    });
    if def.status {
        resource["subresources"] = json!([{"subresource": "status", "responseKind": kind, "verbs": STATUS_VERBS}]);
    }
    resource
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aggregated_discovery_is_chosen_from_the_accept_header() {
        let kube = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";
        assert_eq!(aggregated_version(kube), Some("v2"));
        assert_eq!(
            aggregated_version("application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"),
            Some("v2beta1")
        );
        assert_eq!(aggregated_version("application/json"), None);
        assert_eq!(aggregated_version(""), None);
        assert_eq!(aggregated_version("application/json, */*"), None);
        assert_eq!(
            aggregated_version("application/vnd.kubernetes.protobuf, application/json;g=apidiscovery.k8s.io;v=v2"),
            Some("v2")
        );
    }
}
