//! NLB listeners: one per port, TCP and UDP on one port merged into TCP_UDP, forwarding to the
//! backends of the oldest route attached to the port (an NLB does not route by content).

use std::collections::{BTreeMap, BTreeSet};

use albatross_k8s::aws::load_balancer_configuration::LoadBalancerConfigurationSpec;
use albatross_k8s::route::ObjectKey;

use super::actions;
use super::attach::{self, Attachment, Failure};
use super::config;
use super::env::Env;
use super::gateway::Planned;
use super::listener_config;
use super::listeners::ListenerState;
use super::naming;
use super::snapshot::Snapshot;
use super::target_group::{self, TargetGroupInput};
use super::types::ListenerPlan;
use super::wire::Protocol;
use crate::validate::Flavor;

#[allow(clippy::too_many_arguments)]
pub fn plan(
    snapshot: &Snapshot,
    env: &Env,
    key: &ObjectKey,
    config: &LoadBalancerConfigurationSpec,
    states: &[ListenerState],
    attachments: &mut [Attachment],
    default_tgc: Option<&ObjectKey>,
    unresolved: &mut BTreeMap<usize, Failure>,
) -> Planned {
    let mut listeners = Vec::new();
    let mut groups = BTreeMap::new();
    let ports: BTreeSet<i32> = states.iter().filter(|s| s.usable()).map(|s| s.spec.port).collect();
    // Certificates besides each listener's default count against the load balancer's quota.
    let mut extra_certificates = 0;
    for port in ports {
        let on_port: Vec<&ListenerState> = states.iter().filter(|s| s.usable() && s.spec.port == port).collect();
        let protocols: BTreeSet<&str> = on_port
            .iter()
            .map(|s| match (s.spec.protocol.as_str(), s.tls_mode()) {
                ("TLS", "Passthrough") => "TCP",
                (p, _) => p,
            })
            .collect();
        let protocol = if protocols.contains("TCP") && protocols.contains("UDP") {
            "TCP_UDP".to_owned()
        } else {
            protocols.iter().next().copied().unwrap_or("TCP").to_owned()
        };
        let indexes: BTreeSet<usize> = on_port.iter().map(|s| s.index).collect();
        let mut routes: Vec<usize> = (0..attachments.len())
            .filter(|i| attachments[*i].accepted.is_ok())
            .filter(|i| attachments[*i].listeners.iter().any(|(li, _)| indexes.contains(li)))
            .collect();
        routes.sort_by(|a, b| {
            let (x, y) = (&snapshot.routes[attachments[*a].route], &snapshot.routes[attachments[*b].route]);
            (&x.spec.created, &x.meta.key).cmp(&(&y.spec.created, &y.meta.key))
        });
        // QUIC changes the target groups' protocol too.
        let effective = listener_config::protocol(config::listener_config(config, &protocol, port), &protocol);
        let mut targets: Vec<(String, i32)> = Vec::new();
        if let Some(&first) = routes.first() {
            let route = &snapshot.routes[attachments[first].route];
            for backend in route.spec.rules.iter().flat_map(|r| r.backend_refs.iter()) {
                let Ok(resolved) = attach::resolve(snapshot, &route.spec, backend) else { continue };
                let props = target_group::props(snapshot, default_tgc, &resolved.service, &route.spec);
                let input = TargetGroupInput {
                    gateway: key,
                    flavor: Flavor::Nlb,
                    route: &route.spec,
                    backend: &resolved,
                    listener_protocol: &effective,
                    props: &props,
                };
                match target_group::plan(env, &input) {
                    Ok(tg) => {
                        targets.push((tg.id.clone(), resolved.weight));
                        groups.entry(tg.id.clone()).or_insert(tg);
                    }
                    Err(message) => {
                        if attachments[first].resolved.is_ok() {
                            attachments[first].resolved = Err(("UnsupportedValue", message.to_string()));
                        }
                    }
                }
            }
        }
        if targets.iter().all(|(_, w)| *w == 0) {
            // Nothing to forward to: NLB listeners have no fixed response, so the port stays closed.
            continue;
        }
        let lc = config::listener_config(config, &protocol, port);
        // A usable listener's protocol is one this load balancer has (UnsupportedProtocol otherwise).
        let Some(wire_protocol) = Protocol::from_wire(&listener_config::protocol(lc, &protocol)) else { continue };
        let mut plan = ListenerPlan {
            port,
            protocol: wire_protocol,
            ssl_policy: None,
            certificates: Vec::new(),
            alpn_policy: Vec::new(),
            default_actions: Vec::new(),
            rules: Vec::new(),
            tags: naming::tags(
                &env.cluster_name,
                false,
                &key.to_string(),
                &port.to_string(),
                &config.tags.clone().unwrap_or_default(),
            ),
            mutual_authentication: None,
            attributes: Vec::new(),
        };
        listener_config::apply(lc, &mut plan);
        if protocol == "TLS" {
            let mut hosts: BTreeSet<String> = on_port.iter().filter_map(|s| s.spec.hostname.clone()).collect();
            if let Some(&first) = routes.first() {
                hosts.extend(snapshot.routes[attachments[first].route].spec.hostnames.iter().cloned());
            }
            match config::listener_certificates(env, lc, &hosts, &mut extra_certificates) {
                Ok(certs) => {
                    plan.certificates = certs;
                    plan.ssl_policy = Some(config::ssl_policy(env, lc));
                    if let Some(alpn) = lc.and_then(|c| c.alpn_policy) {
                        plan.alpn_policy = vec![super::alb::enum_text(&alpn)];
                    }
                }
                Err(failure) => {
                    for s in &on_port {
                        unresolved.insert(s.index, failure.clone());
                    }
                    continue;
                }
            }
        }
        let mut forward = actions::forward(&targets, listener_config::stickiness(lc));
        forward.order = 1;
        plan.default_actions = vec![forward];
        listeners.push(plan);
    }
    // Target groups of a port that was not planned (a TLS listener without certificate) go too.
    let used: BTreeSet<String> = listeners
        .iter()
        .flat_map(|l| l.default_actions.iter())
        .filter_map(|a| a.forward_config.as_ref())
        .flat_map(|f| f.target_groups.iter().map(|t| t.target_group_arn.clone()))
        .collect();
    groups.retain(|id, _| used.contains(id));
    Planned { listeners, target_groups: groups }
}
