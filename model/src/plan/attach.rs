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

/// `sets`: the ListenerSets that name this Gateway, accepted or not; routes of a set that was not
/// accepted find no listener.
pub fn attach(
    snapshot: &Snapshot,
    gateway: &ObjectKey,
    sets: &[ObjectKey],
    states: &mut [ListenerState],
) -> Vec<Attachment> {
    let mut out = Vec::new();
    for (route_index, route) in snapshot.routes.iter().enumerate() {
        let r = &route.spec;
        for (parent_index, parent) in r.parent_refs.iter().enumerate() {
            if parent.group != GATEWAY_GROUP {
                continue;
            }
            let parent_key = parent.key(&r.key.namespace);
            // A route attached to the Gateway uses its own listeners; one attached to a
            // ListenerSet uses that set's listeners only.
            let origin = match parent.kind.as_str() {
                "Gateway" if parent_key == *gateway => None,
                "ListenerSet" if sets.contains(&parent_key) => Some(parent_key),
                _ => continue,
            };
            let named: Vec<&ListenerState> = states
                .iter()
                .filter(|s| s.origin == origin)
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
                attachment.accepted = Err((
                    "NoMatchingParent",
                    format!(
                        "no listener of {} {} matches sectionName and port",
                        parent.kind,
                        parent.key(&r.key.namespace)
                    ),
                ));
                out.push(attachment);
                continue;
            }
            let labels = snapshot.namespace_labels(&r.key.namespace);
            let (mut hostname_miss, mut namespace_miss) = (false, false);
            for state in named.iter().filter(|s| s.usable()) {
                if !state.supported.contains(&r.kind) {
                    continue;
                }
                // "Same" means the namespace the listener is defined in.
                let home = state.origin.as_ref().map_or(&gateway.namespace, |o| &o.namespace);
                if !namespace_allowed(&state.spec, home, &r.key.namespace, &labels) {
                    namespace_miss = true;
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
                let kind = r.kind.as_str();
                attachment.accepted = Err(if hostname_miss {
                    ("NoMatchingListenerHostname", "no hostname of the route matches a listener hostname".to_owned())
                } else if namespace_miss {
                    (
                        "NotAllowedByListeners",
                        format!(
                            "no listener takes routes from namespace {} (allowedRoutes.namespaces)",
                            r.key.namespace
                        ),
                    )
                } else {
                    ("NotAllowedByListeners", format!("no listener takes {kind} (allowedRoutes.kinds, protocol)"))
                });
            } else {
                attachment.resolved = resolve_all(snapshot, route).map(|_| ());
            }
            out.push(attachment);
        }
    }
    out
}

/// Whether two routes' hostnames on a listener overlap; no hostnames means any host.
fn hosts_overlap(a: &[String], b: &[String]) -> bool {
    a.is_empty() || b.is_empty() || a.iter().any(|x| b.iter().any(|y| hostname::intersect(Some(x), y).is_some()))
}

/// Gateway API: an HTTPRoute and a GRPCRoute must not share a hostname on a listener; the older
/// route (then `namespace/name`) keeps it and the other loses that listener. On ALB this also
/// keeps a catch-all of one kind from taking the other kind's requests.
pub fn settle_kind_conflicts(snapshot: &Snapshot, attachments: &mut [Attachment]) {
    let mut order: Vec<usize> = (0..attachments.len())
        .filter(|i| attachments[*i].accepted.is_ok())
        .filter(|i| matches!(snapshot.routes[attachments[*i].route].spec.kind, RouteKind::Http | RouteKind::Grpc))
        .collect();
    order.sort_by_key(|i| {
        let route = &snapshot.routes[attachments[*i].route];
        (route.spec.created.clone(), route.meta.key.clone(), attachments[*i].parent_index)
    });
    // (listener, kind, hostnames, route) of what was kept so far.
    let mut kept: Vec<(usize, RouteKind, Vec<String>, ObjectKey)> = Vec::new();
    for i in order {
        let route = &snapshot.routes[attachments[i].route];
        let kind = route.spec.kind;
        let mut winner = None;
        attachments[i].listeners.retain(|(li, hosts)| {
            let clash = kept.iter().find(|(l, k, h, _)| l == li && *k != kind && hosts_overlap(h, hosts));
            if let Some((_, k, _, key)) = clash {
                winner.get_or_insert_with(|| format!("{} {key}", k.as_str()));
            }
            clash.is_none()
        });
        kept.extend(attachments[i].listeners.iter().map(|(li, h)| (*li, kind, h.clone(), route.meta.key.clone())));
        if let (true, Some(winner)) = (attachments[i].listeners.is_empty(), winner) {
            attachments[i].accepted = Err((
                "NotAllowedByListeners",
                format!(
                    "{winner} is older and shares a hostname with this route on the listener; HTTPRoutes and GRPCRoutes cannot share one"
                ),
            ));
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(h: &[&str]) -> Vec<String> {
        h.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn route_hostnames_overlap_through_wildcards_and_catch_alls() {
        assert!(hosts_overlap(&hosts(&[]), &hosts(&["a.io"])));
        assert!(hosts_overlap(&hosts(&["*.a.io"]), &hosts(&["x.a.io"])));
        assert!(hosts_overlap(&hosts(&["x.a.io"]), &hosts(&["*.a.io"])));
        assert!(!hosts_overlap(&hosts(&["x.a.io"]), &hosts(&["y.a.io"])));
    }
}
