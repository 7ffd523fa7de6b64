//! ListenerSets (GEP-1713): listeners added to a Gateway from other objects, when the Gateway's
//! `allowedListeners` lets them. Their listeners follow the Gateway's own, oldest set first, so a
//! later set loses a conflict.

use albatross_k8s::gateway_api::v1::gateways::{GatewayAllowedListenersNamespacesFrom, GatewayListeners, GatewaySpec};
use albatross_k8s::route::{GATEWAY_GROUP, ObjectKey, ParentRef};
use serde_json::{Value, json};

use super::attach::Failure;
use super::listeners::{ListenerState, selector_matches};
use super::snapshot::Snapshot;
use super::status::{StatusEntry, condition, condition_with};

/// A ListenerSet naming the Gateway, with whether the Gateway takes it.
pub struct SetVerdict {
    pub key: ObjectKey,
    pub accepted: Result<(), Failure>,
}

/// The sets naming `gateway`, oldest first, and the listeners of those it accepts, with origins.
pub fn gather(
    snapshot: &Snapshot,
    gateway: &ObjectKey,
    spec: &GatewaySpec,
) -> (Vec<SetVerdict>, Vec<(GatewayListeners, ObjectKey)>) {
    let mut sets: Vec<_> = snapshot
        .listener_sets
        .iter()
        .filter(|(key, set)| {
            let p = &set.spec.parent_ref;
            let parent =
                ParentRef::new(p.group.clone(), p.kind.clone(), p.namespace.clone(), p.name.clone(), None, None);
            parent.is_gateway() && parent.key(&key.namespace) == *gateway
        })
        .collect();
    sets.sort_by(|a, b| (&a.1.meta.created, a.0).cmp(&(&b.1.meta.created, b.0)));
    let allowed = spec.allowed_listeners.as_ref().and_then(|a| a.namespaces.as_ref());
    let mut verdicts = Vec::new();
    let mut listeners = Vec::new();
    for (key, set) in sets {
        let ok = match allowed.and_then(|n| n.from.as_ref()) {
            Some(GatewayAllowedListenersNamespacesFrom::All) => true,
            Some(GatewayAllowedListenersNamespacesFrom::Same) => key.namespace == gateway.namespace,
            Some(GatewayAllowedListenersNamespacesFrom::Selector) => {
                let labels = snapshot.namespace_labels(&key.namespace);
                allowed.and_then(|n| n.selector.as_ref()).is_some_and(|s| {
                    selector_matches(
                        s.match_labels.as_ref(),
                        s.match_expressions.iter().flatten().map(|e| (&e.key, &e.operator, e.values.as_deref())),
                        &labels,
                    )
                })
            }
            Some(GatewayAllowedListenersNamespacesFrom::None) | None => false,
        };
        if !ok {
            verdicts.push(SetVerdict {
                key: key.clone(),
                accepted: Err((
                    "NotAllowed",
                    format!("Gateway {gateway} does not allow ListenerSets from namespace {}", key.namespace),
                )),
            });
            continue;
        }
        // Both kinds share one field layout; the Gateway's type reads a set's listener.
        for l in &set.spec.listeners {
            match serde_json::to_value(l).and_then(serde_json::from_value::<GatewayListeners>) {
                Ok(listener) => listeners.push((listener, key.clone())),
                Err(e) => {
                    verdicts.push(SetVerdict { key: key.clone(), accepted: Err(("Invalid", e.to_string())) });
                    continue;
                }
            }
        }
        verdicts.push(SetVerdict { key: key.clone(), accepted: Ok(()) });
    }
    (verdicts, listeners)
}

/// A listener's status entry, shared by Gateways and ListenerSets.
pub fn listener_status(s: &ListenerState, generation: Option<i64>) -> Value {
    let supported: Vec<Value> =
        s.supported.iter().map(|k| json!({ "group": GATEWAY_GROUP, "kind": k.as_str() })).collect();
    let accepted_ok = s.rejected.as_ref().map_or(Ok("Accepted"), Err);
    // Gateway API's reasons for a listener not programmed are Invalid and Pending.
    let programmed = match (&s.rejected, &s.conflicted, &s.unresolved) {
        (Some(f), _, _) | (None, Some(f), _) => condition_with("Programmed", "False", "Invalid", &f.1, generation),
        (None, None, Some(f)) if f.0 == "InvalidCertificateRef" => {
            condition_with("Programmed", "False", "Invalid", &f.1, generation)
        }
        _ => condition_with("Programmed", "False", "Pending", "the load balancer is not provisioned yet", generation),
    };
    json!({
        "name": s.spec.name,
        "supportedKinds": supported,
        "attachedRoutes": s.attached,
        "conditions": [
            condition("Accepted", accepted_ok, generation),
            programmed,
            condition("ResolvedRefs", s.unresolved.as_ref().map_or(Ok("ResolvedRefs"), Err), generation),
            match &s.conflicted {
                Some((reason, message)) => condition_with("Conflicted", "True", reason, message, generation),
                None => condition_with("Conflicted", "False", "NoConflicts", "", generation),
            },
        ],
    })
}

/// Statuses of the sets naming a Gateway.
pub fn statuses(
    snapshot: &Snapshot,
    verdicts: &[SetVerdict],
    states: &[ListenerState],
    gateway_ok: bool,
) -> Vec<StatusEntry> {
    verdicts
        .iter()
        .filter_map(|v| {
            let set = snapshot.listener_sets.get(&v.key)?;
            let generation = set.meta.generation;
            let own: Vec<&ListenerState> = states.iter().filter(|s| s.origin.as_ref() == Some(&v.key)).collect();
            let valid = own.iter().filter(|s| s.usable()).count();
            let accepted = match &v.accepted {
                Err(f) => condition("Accepted", Err(f), generation),
                Ok(()) if valid == 0 => {
                    condition("Accepted", Err(&("ListenersNotValid", "no listener is valid".to_owned())), generation)
                }
                Ok(()) if valid < own.len() => {
                    condition_with("Accepted", "True", "ListenersNotValid", "some listeners are not valid", generation)
                }
                Ok(()) => condition("Accepted", Ok("Accepted"), generation),
            };
            let programmed = if v.accepted.is_ok() && valid > 0 && gateway_ok {
                condition_with("Programmed", "False", "Pending", "the load balancer is not provisioned yet", generation)
            } else {
                condition_with("Programmed", "False", "Invalid", "the ListenerSet is not accepted", generation)
            };
            Some(StatusEntry {
                api_version: set.meta.api_version.clone(),
                kind: "ListenerSet".into(),
                namespace: Some(v.key.namespace.clone()),
                name: v.key.name.clone(),
                status: json!({
                    "conditions": [accepted, programmed],
                    "listeners": own.iter().map(|s| listener_status(s, generation)).collect::<Vec<_>>(),
                }),
            })
        })
        .collect()
}
