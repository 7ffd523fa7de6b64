//! What each class of ours supports, by Gateway API feature name (GEP-2162), for
//! `GatewayClass.status.supportedFeatures` and the README's feature table.

use crate::validate::Flavor;

/// Gateway API features Albatross implements, named as upstream's conformance suite names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Feature {
    Gateway,
    GatewayListenerSet,
    GatewayPort8080,
    GrpcRoute,
    HttpRoute,
    HttpRouteHostRewrite,
    HttpRouteMethodMatching,
    HttpRouteParentRefPort,
    HttpRoutePathRedirect,
    HttpRoutePathRewrite,
    HttpRoutePortRedirect,
    HttpRouteQueryParamMatching,
    HttpRouteSchemeRedirect,
    ReferenceGrant,
    TcpRoute,
    TlsRoute,
    UdpRoute,
}

impl Feature {
    pub fn name(self) -> &'static str {
        match self {
            Feature::Gateway => "Gateway",
            Feature::GatewayListenerSet => "GatewayListenerSet",
            Feature::GatewayPort8080 => "GatewayPort8080",
            Feature::GrpcRoute => "GRPCRoute",
            Feature::HttpRoute => "HTTPRoute",
            Feature::HttpRouteHostRewrite => "HTTPRouteHostRewrite",
            Feature::HttpRouteMethodMatching => "HTTPRouteMethodMatching",
            Feature::HttpRouteParentRefPort => "HTTPRouteParentRefPort",
            Feature::HttpRoutePathRedirect => "HTTPRoutePathRedirect",
            Feature::HttpRoutePathRewrite => "HTTPRoutePathRewrite",
            Feature::HttpRoutePortRedirect => "HTTPRoutePortRedirect",
            Feature::HttpRouteQueryParamMatching => "HTTPRouteQueryParamMatching",
            Feature::HttpRouteSchemeRedirect => "HTTPRouteSchemeRedirect",
            Feature::ReferenceGrant => "ReferenceGrant",
            Feature::TcpRoute => "TCPRoute",
            Feature::TlsRoute => "TLSRoute",
            Feature::UdpRoute => "UDPRoute",
        }
    }
}

/// Features common to both load balancer types.
const COMMON: [Feature; 4] =
    [Feature::Gateway, Feature::GatewayListenerSet, Feature::GatewayPort8080, Feature::ReferenceGrant];

/// ALB: HTTP routing in listener rules (conditions on host, path, method, query string;
/// redirect actions; host and URL rewrite transforms). Not here: header modifiers, mirrors,
/// timeouts, CORS, and 303/307/308 redirects, which ALB rules cannot express.
const ALB: [Feature; 10] = [
    Feature::GrpcRoute,
    Feature::HttpRoute,
    Feature::HttpRouteHostRewrite,
    Feature::HttpRouteMethodMatching,
    Feature::HttpRouteParentRefPort,
    Feature::HttpRoutePathRedirect,
    Feature::HttpRoutePathRewrite,
    Feature::HttpRoutePortRedirect,
    Feature::HttpRouteQueryParamMatching,
    Feature::HttpRouteSchemeRedirect,
];

/// NLB: layer-4 listeners, one route kind per protocol.
const NLB: [Feature; 3] = [Feature::TcpRoute, Feature::TlsRoute, Feature::UdpRoute];

/// The features of a class of `flavor`, sorted by name and without repeats, as the status
/// requires.
pub fn supported(flavor: Flavor) -> Vec<Feature> {
    let own: &[Feature] = match flavor {
        Flavor::Alb => &ALB,
        Flavor::Nlb => &NLB,
    };
    let mut all: Vec<Feature> = COMMON.iter().chain(own).copied().collect();
    all.sort_by_key(|f| f.name());
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn features_are_sorted_by_name_unique_and_fit_the_status_list() {
        for flavor in [Flavor::Alb, Flavor::Nlb] {
            let names: Vec<&str> = supported(flavor).iter().map(|f| f.name()).collect();
            let mut sorted = names.clone();
            sorted.sort_unstable();
            sorted.dedup();
            assert_eq!(names, sorted);
            assert!(names.len() <= 64, "the CRD allows 64 entries");
        }
    }

    #[test]
    fn each_class_lists_only_the_route_kinds_its_load_balancer_takes() {
        let alb = supported(Flavor::Alb);
        let nlb = supported(Flavor::Nlb);
        assert!(alb.contains(&Feature::HttpRoute) && !alb.contains(&Feature::TcpRoute));
        assert!(nlb.contains(&Feature::TcpRoute) && !nlb.contains(&Feature::HttpRoute));
        assert!(!nlb.contains(&Feature::HttpRouteQueryParamMatching));
    }
}
