//! Cached AWS reads a build needs (VPC, subnets, ACM certificates) and the security groups a load
//! balancer is given: the `resolve` step of a reconcile.
//!
//! A [`Resolver`] is cheap to clone; clones share their caches, so one per process serves every
//! reconcile. Errors that the user must fix (no tagged subnets, unknown subnet names, a security
//! group name taken by someone else) are [`AwsError`]s of class [`ErrorClass::Permanent`] with
//! their own codes (`SubnetsNotFound`, `VpcNotFound`, `SecurityGroupNameTaken`, ...).

mod certificates;
mod security_groups;
mod subnets;
mod trust_stores;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use albatross_model::plan::AcmCertificate;
use tokio::sync::Mutex;

use crate::client::{Aws, AwsError, ErrorClass};

pub use security_groups::{
    IngressRule, IngressSource, IngressSources, backend_security_group_name, desired_ingress, desired_ingress_from,
    ingress_sources, user_tags,
};
pub use subnets::{SubnetInfo, role_tag, select_subnets};

/// Tag of subnets for internet-facing load balancers.
pub const ELB_ROLE_TAG: &str = "kubernetes.io/role/elb";
/// Tag of subnets for internal load balancers.
pub const INTERNAL_ELB_ROLE_TAG: &str = "kubernetes.io/role/internal-elb";
/// Prefix of the tag that marks a subnet as used by one cluster (`owned` or `shared`).
pub const SUBNET_CLUSTER_TAG_PREFIX: &str = "kubernetes.io/cluster/";
/// `gateway.k8s.aws.{alb,nlb}/resource` value of a load balancer's frontend security group.
pub const MANAGED_SG_RESOURCE: &str = "ManagedLBSecurityGroup";
/// `elbv2.k8s.aws/resource` value of the cluster's shared backend security group.
pub const BACKEND_SG_RESOURCE: &str = "backend-sg";
/// Tag key naming the shared backend security group's role.
pub const BACKEND_SG_RESOURCE_TAG: &str = "elbv2.k8s.aws/resource";

#[derive(Clone, Debug)]
pub struct ResolveSettings {
    pub cluster_name: String,
    /// The VPC of the load balancers; `None` discovers it from the role-tagged subnets.
    pub vpc_id: Option<String>,
    /// How long a certificate list is served from the cache before ACM is asked again.
    pub certificate_refresh: Duration,
    /// How long deleting a security group is retried while AWS answers `DependencyViolation`
    /// (the deleted load balancer's network interfaces take a while to go away).
    pub security_group_delete_timeout: Duration,
}

impl ResolveSettings {
    pub fn new(cluster_name: impl Into<String>) -> Self {
        Self { cluster_name: cluster_name.into(), ..Self::default() }
    }
}

impl Default for ResolveSettings {
    fn default() -> Self {
        Self {
            cluster_name: "albatross".into(),
            vpc_id: None,
            certificate_refresh: Duration::from_secs(300),
            security_group_delete_timeout: Duration::from_secs(60),
        }
    }
}

/// Cached AWS reads and managed security groups; clones share the caches.
#[derive(Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

struct Inner {
    aws: Aws,
    settings: ResolveSettings,
    /// Subnets by role tag (in the configured VPC, if any): one DescribeSubnets per role.
    role_subnets: Mutex<BTreeMap<&'static str, Arc<Vec<SubnetInfo>>>>,
    /// The discovered VPC (only when the settings give none).
    vpc: Mutex<Option<String>>,
    /// Subnet `Name` tag -> subnet ids.
    names: Mutex<BTreeMap<String, Vec<String>>>,
    certificates: Mutex<certificates::CertificateCache>,
    backend_sg: Mutex<Option<String>>,
}

impl Resolver {
    pub fn new(aws: Aws, settings: ResolveSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                aws,
                settings,
                role_subnets: Mutex::default(),
                vpc: Mutex::default(),
                names: Mutex::default(),
                certificates: Mutex::default(),
                backend_sg: Mutex::default(),
            }),
        }
    }

    pub fn settings(&self) -> &ResolveSettings {
        &self.inner.settings
    }

    fn aws(&self) -> &Aws {
        &self.inner.aws
    }

    fn cluster(&self) -> &str {
        &self.inner.settings.cluster_name
    }

    /// Forgets the cached subnets, subnet names, discovered VPC and backend security group, so
    /// the next calls read them from AWS again (certificates have their own refresh).
    pub async fn invalidate_network(&self) {
        self.inner.role_subnets.lock().await.clear();
        *self.inner.vpc.lock().await = None;
        self.inner.names.lock().await.clear();
        *self.inner.backend_sg.lock().await = None;
    }

    /// ACM certificates (ISSUED, every key type), refreshed at most every
    /// [`ResolveSettings::certificate_refresh`].
    pub async fn certificates(&self) -> Result<Vec<AcmCertificate>, AwsError> {
        certificates::certificates(self, false).await
    }

    /// Lists the certificates again now, describing only ARNs not seen before.
    pub async fn refresh_certificates(&self) -> Result<Vec<AcmCertificate>, AwsError> {
        certificates::certificates(self, true).await
    }
}

fn user_error(operation: &'static str, code: &str, message: impl ToString) -> AwsError {
    AwsError::new(operation, code, message, ErrorClass::Permanent)
}
