//! ELBv2 load balancer settings moto 5.2.5 drops or lacks, emulated with state in the proxy.
//!
//! - CreateLoadBalancer `CustomerOwnedIpv4Pool`, `IpamPools.Ipv4IpamPoolId` and the addresses of
//!   `SubnetMappings` (`AllocationId`, `PrivateIPv4Address`, `IPv6Address`,
//!   `SourceNatIpv6Prefix`): moto creates the load balancer without them. The proxy forwards the
//!   request, keeps them by the new load balancer's ARN, and adds them to each
//!   DescribeLoadBalancers answer (`CustomerOwnedIpv4Pool`, `IpamPools`, and per Availability
//!   Zone `LoadBalancerAddresses` and `SourceNatIpv6Prefixes`).
//! - ModifyIpPools (moto lacks it): answered here; `IpamPools` set or removed.
//! - SetSecurityGroups `EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic`: forwarded (moto
//!   sets the groups and ignores the flag); the flag is kept and shown by DescribeLoadBalancers.
//! - ModifyCapacityReservation (moto lacks it) and DescribeCapacityReservation (moto answers a
//!   fixed state): answered here from the kept `MinimumLoadBalancerCapacity` (reset removes it).
//!
//! Not checked: that the pool, allocation or ARN exists (AWS would refuse unknown ones).

use std::collections::BTreeMap;

use super::protocol::{Form, xml_escape};

/// What AWS keeps for one load balancer that moto does not.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LoadBalancerExtras {
    pub customer_owned_ipv4_pool: Option<String>,
    pub ipv4_ipam_pool_id: Option<String>,
    /// By subnet id: (allocation id, private IPv4, IPv6, source NAT IPv6 prefix).
    pub addresses: BTreeMap<String, [Option<String>; 4]>,
    pub enforce_private_link: Option<String>,
    pub capacity_units: Option<i64>,
}

const NS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

fn answer(action: &str, result: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></{action}Response>"
    )
}

fn element(name: &str, value: &Option<String>) -> String {
    value.as_ref().map_or_else(String::new, |v| format!("<{name}>{}</{name}>", xml_escape(v)))
}

/// Requests answered here (without moto); `None` for those that go on to moto.
pub(crate) fn respond(state: &mut BTreeMap<String, LoadBalancerExtras>, action: &str, form: &Form) -> Option<String> {
    let arn = form.get("LoadBalancerArn")?.to_owned();
    match action {
        "ModifyIpPools" => {
            let extras = state.entry(arn).or_default();
            if form.get("RemoveIpamPools.member.1") == Some("ipv4") {
                extras.ipv4_ipam_pool_id = None;
            }
            if let Some(pool) = form.get("IpamPools.Ipv4IpamPoolId") {
                extras.ipv4_ipam_pool_id = Some(pool.to_owned());
            }
            let pools = extras.ipv4_ipam_pool_id.as_ref().map_or_else(String::new, |p| {
                format!("<IpamPools><Ipv4IpamPoolId>{}</Ipv4IpamPoolId></IpamPools>", xml_escape(p))
            });
            Some(answer(action, &pools))
        }
        "ModifyCapacityReservation" | "DescribeCapacityReservation" => {
            let extras = state.entry(arn).or_default();
            if action == "ModifyCapacityReservation" {
                if form.get("ResetCapacityReservation") == Some("true") {
                    extras.capacity_units = None;
                }
                if let Some(units) = form.get("MinimumLoadBalancerCapacity.CapacityUnits") {
                    extras.capacity_units = units.parse().ok();
                }
            }
            let capacity = extras.capacity_units.map_or_else(String::new, |u| {
                format!("<MinimumLoadBalancerCapacity><CapacityUnits>{u}</CapacityUnits></MinimumLoadBalancerCapacity>")
            });
            Some(answer(action, &format!("{capacity}<CapacityReservationState/>")))
        }
        _ => None,
    }
}

/// Whether moto's answer to `action` is read or rewritten here.
pub(crate) fn reads_answer(action: &str) -> bool {
    matches!(action, "CreateLoadBalancer" | "SetSecurityGroups" | "DescribeLoadBalancers")
}

/// What a forwarded request sets that moto drops; `arn_of_answer` is the load balancer of moto's
/// answer (CreateLoadBalancer's new ARN).
pub(crate) fn remember(state: &mut BTreeMap<String, LoadBalancerExtras>, action: &str, form: &Form, answer: &str) {
    match action {
        "CreateLoadBalancer" => {
            let Some(arn) = between(answer, "<LoadBalancerArn>", "</LoadBalancerArn>").map(str::trim) else { return };
            let mut extras = LoadBalancerExtras {
                customer_owned_ipv4_pool: form.get("CustomerOwnedIpv4Pool").map(str::to_owned),
                ipv4_ipam_pool_id: form.get("IpamPools.Ipv4IpamPoolId").map(str::to_owned),
                ..LoadBalancerExtras::default()
            };
            for i in 1.. {
                let key = |field: &str| format!("SubnetMappings.member.{i}.{field}");
                let Some(subnet) = form.get(&key("SubnetId")) else { break };
                let get = |field: &str| form.get(&key(field)).map(str::to_owned);
                let addresses =
                    [get("AllocationId"), get("PrivateIPv4Address"), get("IPv6Address"), get("SourceNatIpv6Prefix")];
                if addresses.iter().any(Option::is_some) {
                    extras.addresses.insert(subnet.to_owned(), addresses);
                }
            }
            if extras != LoadBalancerExtras::default() {
                state.insert(arn.to_owned(), extras);
            }
        }
        "SetSecurityGroups" => {
            if let (Some(arn), Some(flag)) =
                (form.get("LoadBalancerArn"), form.get("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic"))
            {
                state.entry(arn.to_owned()).or_default().enforce_private_link = Some(flag.to_owned());
            }
        }
        _ => {}
    }
}

/// moto's DescribeLoadBalancers answer with what the proxy keeps added to each load balancer.
pub(crate) fn describe(state: &BTreeMap<String, LoadBalancerExtras>, body: &str) -> String {
    let mut out = String::with_capacity(body.len());
    let mut rest = body;
    while let Some(at) = rest.find("<LoadBalancerArn>") {
        let (head, tail) = rest.split_at(at);
        out.push_str(head);
        let Some(end) = tail.find("</LoadBalancerArn>") else { break };
        // moto indents its XML: the text may hold whitespace around the ARN.
        let arn = tail["<LoadBalancerArn>".len()..end].trim();
        let close = end + "</LoadBalancerArn>".len();
        out.push_str(&tail[..close]);
        rest = &tail[close..];
        let Some(extras) = state.get(arn) else { continue };
        out.push_str(&element("CustomerOwnedIpv4Pool", &extras.customer_owned_ipv4_pool));
        if let Some(pool) = &extras.ipv4_ipam_pool_id {
            out.push_str(&format!("<IpamPools><Ipv4IpamPoolId>{}</Ipv4IpamPoolId></IpamPools>", xml_escape(pool)));
        }
        out.push_str(&element("EnforceSecurityGroupInboundRulesOnPrivateLinkTraffic", &extras.enforce_private_link));
        // This load balancer's Availability Zones: up to the next load balancer.
        let scope = rest.find("<LoadBalancerArn>").unwrap_or(rest.len());
        let (mine, after) = rest.split_at(scope);
        let mut zones = mine.to_owned();
        for (subnet, [allocation, private, ipv6, nat]) in &extras.addresses {
            let Some(tag) = subnet_element(&zones, subnet) else { continue };
            let address = format!(
                "<LoadBalancerAddresses><member>{}{}{}</member></LoadBalancerAddresses>{}",
                element("AllocationId", allocation),
                element("PrivateIPv4Address", private),
                element("IPv6Address", ipv6),
                nat.as_ref().map_or_else(String::new, |n| format!(
                    "<SourceNatIpv6Prefixes><member>{}</member></SourceNatIpv6Prefixes>",
                    xml_escape(n)
                )),
            );
            zones = zones.replacen(&tag, &format!("{tag}{address}"), 1);
        }
        out.push_str(&zones);
        rest = after;
    }
    out.push_str(rest);
    out
}

/// The `<SubnetId>` element of `subnet` as written (moto may put whitespace around the id).
fn subnet_element(zones: &str, subnet: &str) -> Option<String> {
    let mut rest = zones;
    while let Some(at) = rest.find("<SubnetId>") {
        let end = rest[at..].find("</SubnetId>")? + at + "</SubnetId>".len();
        let element = &rest[at..end];
        if element["<SubnetId>".len()..element.len() - "</SubnetId>".len()].trim() == subnet {
            return Some(element.to_owned());
        }
        rest = &rest[end..];
    }
    None
}

fn between<'a>(text: &'a str, open: &str, close: &str) -> Option<&'a str> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(&text[start..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_settings_are_added_to_the_right_load_balancer() {
        let mut state = BTreeMap::new();
        let form = Form(vec![
            ("CustomerOwnedIpv4Pool".into(), "ipv4pool-coip-1".into()),
            ("SubnetMappings.member.1.SubnetId".into(), "subnet-a".into()),
            ("SubnetMappings.member.1.AllocationId".into(), "eipalloc-1".into()),
        ]);
        remember(&mut state, "CreateLoadBalancer", &form, "<LoadBalancerArn>arn:b</LoadBalancerArn>");
        let body = "<member><LoadBalancerArn>arn:a</LoadBalancerArn><AvailabilityZones><member><SubnetId>subnet-a</SubnetId></member></AvailabilityZones></member>\
                    <member><LoadBalancerArn>arn:b</LoadBalancerArn><AvailabilityZones><member><SubnetId>subnet-a</SubnetId></member></AvailabilityZones></member>";
        let out = describe(&state, body);
        let (a, b) = out.split_at(out.find("arn:b").unwrap());
        assert!(!a.contains("eipalloc-1") && !a.contains("coip"), "{a}");
        assert!(b.contains("<CustomerOwnedIpv4Pool>ipv4pool-coip-1</CustomerOwnedIpv4Pool>"), "{b}");
        assert!(
            b.contains(
                "<SubnetId>subnet-a</SubnetId><LoadBalancerAddresses><member><AllocationId>eipalloc-1</AllocationId>"
            ),
            "{b}"
        );
    }

    #[test]
    fn capacity_reservations_are_kept_and_reset() {
        let mut state = BTreeMap::new();
        let set = Form(vec![
            ("LoadBalancerArn".into(), "arn:a".into()),
            ("MinimumLoadBalancerCapacity.CapacityUnits".into(), "100".into()),
        ]);
        respond(&mut state, "ModifyCapacityReservation", &set);
        let read = Form(vec![("LoadBalancerArn".into(), "arn:a".into())]);
        assert!(respond(&mut state, "DescribeCapacityReservation", &read).unwrap().contains("<CapacityUnits>100<"));
        let reset =
            Form(vec![("LoadBalancerArn".into(), "arn:a".into()), ("ResetCapacityReservation".into(), "true".into())]);
        respond(&mut state, "ModifyCapacityReservation", &reset);
        assert!(!respond(&mut state, "DescribeCapacityReservation", &read).unwrap().contains("CapacityUnits"));
    }
}
