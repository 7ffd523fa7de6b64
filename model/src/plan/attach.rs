//! Which routes attach to which listeners of one Gateway, and whether their backends resolve.

use albatross_k8s::route::{AnyRoute, BackendRef, GATEWAY_GROUP, ObjectKey, ParentRef, RouteKind};
use k8s_openapi::api::core::v1::ServicePort;

use super::hostname;
use super::listeners::{ListenerState, namespace_allowed};
use super::snapshot::{Object, Snapshot};

/// `(reason, message)` of a failed condition.
pub type Failure = (&'static str, String);

/// One route parentRef's outcome on this Gateway.
#[derive(Clone, Debug)]
pub struct Attachment {
    pub route: usize,
    pub parent_index: usize,
    pub parent: ParentRef,
    /// `(listener index, hostnames)` of every listener that accepted it.
    pub listeners: Vec<(usize, Vec<String>)>,
    pub accepted: Result<(), Failure>,
    pub resolved: Result<(), Failure>,
}

/// A backend that resolved to a Service port.
#[derive(Clone, Debug)]
pub struct ResolvedBackend {
    pub service: ObjectKey,
    pub port: ServicePort,
    pub weight: i32,
    pub service_type: String,
}

pub fn attach(snapshot: &Snapshot, gateway: &ObjectKey, states: &mut [ListenerState]) -> Vec<Attachment> {
    let mut out = Vec::new();
    for (route_index, route) in snapshot.routes.iter().enumerate() {
        let r = &route.spec;
        for (parent_index, parent) in r.parent_refs.iter().enumerate() {
            if parent.group != GATEWAY_GROUP || parent.kind != "Gateway" || parent.key(&r.key.namespace) != *gateway {
                continue;
            }
            let named: Vec<&ListenerState> = states
                .iter()
                .filter(|s| parent.section_name.as_ref().is_none_or(|n| *n == s.spec.name))
                .filter(|s| parent.port.is_none_or(|p| p == s.spec.port))
                .collect();
            let mut attachment = Attachment {
                route: route_index,
                parent_index,
                parent: parent.clone(),
                listeners: Vec::new(),
                accepted: Ok(()),
                resolved: Ok(()),
            };
            if named.is_empty() {
                attachment.accepted =
                    Err(("NoMatchingParent", "no listener of the Gateway matches sectionName and port".into()));
                out.push(attachment);
                continue;
            }
            let labels = snapshot.namespace_labels(&r.key.namespace);
            let mut hostname_miss = false;
            for state in named.iter().filter(|s| s.usable()) {
                if !state.supported.contains(&r.kind) {
                    continue;
                }
                if !namespace_allowed(&state.spec, &gateway.namespace, &r.key.namespace, &labels) {
                    continue;
                }
                let hosts = match r.kind {
                    RouteKind::Tcp | RouteKind::Udp => Some(Vec::new()),
                    _ => hostname::compatible(state.spec.hostname.as_deref(), &r.hostnames),
                };
                match hosts {
                    Some(hosts) => attachment.listeners.push((state.index, hosts)),
                    None => hostname_miss = true,
                }
            }
            if attachment.listeners.is_empty() {
                attachment.accepted = Err(if hostname_miss {
                    ("NoMatchingListenerHostname", "no hostname of the route matches a listener hostname".to_owned())
                } else {
                    (
                        "NotAllowedByListeners",
                        format!("no listener allows {} from namespace {}", r.kind.as_str(), r.key.namespace),
                    )
                });
            } else {
                attachment.resolved = resolve_all(snapshot, route).map(|_| ());
            }
            out.push(attachment);
        }
    }
    out
}

/// Resolves every backend of a route; the first failure is the route's ResolvedRefs.
pub fn resolve_all(snapshot: &Snapshot, route: &Object<AnyRoute>) -> Result<(), Failure> {
    for rule in &route.spec.rules {
        for backend in &rule.backend_refs {
            resolve(snapshot, &route.spec, backend)?;
        }
    }
    Ok(())
}

pub fn resolve(snapshot: &Snapshot, route: &AnyRoute, backend: &BackendRef) -> Result<ResolvedBackend, Failure> {
    if !backend.group.is_empty() || backend.kind != "Service" {
        return Err((
            "InvalidKind",
            format!("backendRef {} {}/{}: only core Services are supported", backend.name, backend.group, backend.kind),
        ));
    }
    let key = backend.key(&route.key.namespace);
    if key.namespace != route.key.namespace
        && !snapshot.granted(
            (GATEWAY_GROUP, route.kind.as_str(), &route.key.namespace),
            &key.namespace,
            ("", "Service", &key.name),
        )
    {
        return Err((
            "RefNotPermitted",
            format!(
                "no ReferenceGrant in namespace {} lets {} in {} use Service {}",
                key.namespace,
                route.kind.as_str(),
                route.key.namespace,
                key.name
            ),
        ));
    }
    let Some(service) = snapshot.services.get(&key) else {
        return Err(("BackendNotFound", format!("Service {key} not found")));
    };
    let Some(port_number) = backend.port else {
        return Err(("UnsupportedValue", format!("backendRef to Service {key} has no port")));
    };
    let port = service
        .spec
        .ports
        .iter()
        .flatten()
        .find(|p| p.port == port_number)
        .cloned()
        .ok_or_else(|| ("BackendNotFound", format!("Service {key} has no port {port_number}")))?;
    Ok(ResolvedBackend {
        service: key,
        port,
        weight: backend.weight,
        service_type: service.spec.type_.clone().unwrap_or_else(|| "ClusterIP".into()),
    })
}
