//! What was resolved from AWS (or given offline) before a build: the build reads nothing else.

use serde::Deserialize;

use crate::validate::{AwsLimits, Controllers};

/// An ACM certificate, in the shape of ACM's `DescribeCertificate`.
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct AcmCertificate {
    pub certificate_arn: String,
    pub domain_name: String,
    #[serde(default)]
    pub subject_alternative_names: Vec<String>,
    pub status: String,
    /// RFC 3339; absent means no expiry known.
    #[serde(default)]
    pub not_after: Option<String>,
}

/// A load balancer that already serves a Gateway, as found by its ownership tags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExistingLoadBalancer {
    pub scheme: String,
    pub subnets: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Env {
    pub cluster_name: String,
    pub controllers: Controllers,
    pub limits: AwsLimits,
    pub certificates: Vec<AcmCertificate>,
    pub vpc_id: Option<String>,
    /// Discovered subnets, used when the configuration names none.
    pub subnets: Vec<String>,
    /// Load balancers that exist already, by Gateway `namespace/name`: their subnets are kept
    /// while the scheme stays, so a resync never moves a load balancer.
    pub existing: std::collections::BTreeMap<String, ExistingLoadBalancer>,
    /// RFC 3339 time certificates must still be valid at.
    pub now: String,
    pub default_scheme: super::wire::Scheme,
    pub default_target_type: super::wire::TargetType,
    pub default_ssl_policy: String,
}

/// The SSL policy of a listener whose configuration names none: TLS 1.2 and 1.3 only.
pub const DEFAULT_SSL_POLICY: &str = "ELBSecurityPolicy-TLS13-1-2-2021-06";

impl Default for Env {
    fn default() -> Self {
        Self {
            cluster_name: "albatross".into(),
            controllers: Controllers::default(),
            limits: AwsLimits::default(),
            certificates: Vec::new(),
            vpc_id: None,
            subnets: Vec::new(),
            existing: std::collections::BTreeMap::new(),
            now: "1970-01-01T00:00:00Z".into(),
            default_scheme: super::wire::Scheme::Internal,
            default_target_type: super::wire::TargetType::Ip,
            default_ssl_policy: DEFAULT_SSL_POLICY.into(),
        }
    }
}
