//! The command line: one subcommand per job.

mod iam_policy;
mod input;
mod plan;
mod reconcile;
mod serve;
mod validate;
mod webhook;

use std::process::ExitCode;

use albatross_model::{Channel, Controllers, FieldValidation, ValidatorOptions};
use clap::builder::TypedValueParser as _;
use clap::{Parser, Subcommand};

use crate::telemetry::LogArgs;

#[derive(Parser, Debug)]
#[command(name = "albatross", version, about = "Kubernetes Gateway API on AWS Application and Network Load Balancers")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub log: LogArgs,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Validate manifests offline, as the API server and the webhook would.
    Validate(validate::ValidateArgs),
    /// Plan the AWS load balancers of every Gateway of our classes, offline.
    Plan(plan::PlanArgs),
    /// Converge AWS to the Gateways in manifest files (local mode, no cluster).
    Reconcile(reconcile::ReconcileArgs),
    /// Serve the admission webhook alone.
    Webhook(webhook::WebhookArgs),
    /// Run in the cluster: the webhook on every replica, the controllers on the lease holder.
    Serve(Box<serve::ServeArgs>),
    /// Print the CustomResourceDefinitions of group gateway.k8s.aws as YAML.
    Crds,
    /// Print the IAM policy of one cluster's controller (JSON).
    IamPolicy(iam_policy::IamPolicyArgs),
}

/// Options every validating command shares.
#[derive(clap::Args, Debug, Clone)]
pub struct RuleArgs {
    /// Gateway API channel whose CRDs the cluster runs.
    #[arg(long, env = "ALBATROSS_CHANNEL", value_enum, default_value = "standard")]
    pub channel: ChannelArg,
    /// Fields the schema does not know: rejected (strict, like kubectl) or reported as warnings.
    #[arg(long, env = "ALBATROSS_FIELD_VALIDATION", value_enum, default_value = "strict")]
    pub field_validation: FieldValidationArg,
    /// controllerName of GatewayClasses provisioned as Application Load Balancers.
    #[arg(long, env = "ALBATROSS_ALB_CONTROLLER", default_value = "gateway.k8s.aws/alb")]
    pub alb_controller: String,
    /// controllerName of GatewayClasses provisioned as Network Load Balancers.
    #[arg(long, env = "ALBATROSS_NLB_CONTROLLER", default_value = "gateway.k8s.aws/nlb")]
    pub nlb_controller: String,
}

/// Where AWS is and which cluster's resources are ours.
#[derive(clap::Args, Debug, Clone)]
pub struct AwsArgs {
    /// AWS endpoint override (moto, LocalStack); default is the real regional endpoint.
    #[arg(long, env = "ALBATROSS_AWS_ENDPOINT")]
    pub aws_endpoint: Option<String>,
    #[arg(long, env = "AWS_REGION", default_value = "us-east-1")]
    pub region: String,
    /// Cluster name, REQUIRED: scopes ownership (the `elbv2.k8s.aws/cluster` tag). Every stack
    /// tagged with it whose Gateway is gone is deleted, so give each cluster (or manifest set)
    /// its own name. There is no default: two clusters on one name delete each other's stacks.
    #[arg(long, env = "ALBATROSS_CLUSTER_NAME", value_parser = cluster_name)]
    pub cluster_name: Option<String>,
    /// VPC for target groups; default: the VPC of the subnets tagged for load balancers.
    #[arg(long, env = "ALBATROSS_VPC_ID")]
    pub vpc_id: Option<String>,
    /// Client-side AWS rate limits off (for a local endpoint).
    #[arg(long, env = "ALBATROSS_AWS_UNLIMITED")]
    pub aws_unlimited: bool,
    /// ELBv2 writes of one Gateway's stack in flight at once (independent target groups,
    /// listeners and rules); the client-side rate limits pace them further.
    #[arg(long, env = "ALBATROSS_APPLY_CONCURRENCY", default_value_t = albatross_aws::apply::DEFAULT_CONCURRENCY,
          value_parser = clap::value_parser!(u16).range(1..=64).map(usize::from))]
    pub apply_concurrency: usize,
    /// Multiplies the client-side rate limits' refill rates (bursts stay): for benchmarks against
    /// a test proxy whose clock runs that much faster than AWS's. Hidden: 1 is the only value
    /// for AWS.
    #[arg(long, env = "ALBATROSS_AWS_RATE_SCALE", default_value_t = 1.0, value_parser = rate_scale, hide = true)]
    pub aws_rate_scale: f64,
}

fn rate_scale(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(v) if v.is_finite() && v > 0.0 => Ok(v),
        _ => Err("must be a positive number".into()),
    }
}

/// A cluster name is an ELBv2/EC2 tag value and goes into IAM policy conditions.
pub fn cluster_name(value: &str) -> Result<String, String> {
    let allowed = |c: char| c.is_alphanumeric() || " +-=._:/@".contains(c);
    if value.trim().is_empty() {
        return Err("must not be empty".into());
    }
    if value.chars().count() > 255 || value != value.trim() || !value.chars().all(allowed) {
        return Err("must be a tag value: at most 255 letters, digits, spaces and + - = . _ : / @, \
                    without leading or trailing spaces"
            .into());
    }
    Ok(value.to_owned())
}

impl AwsArgs {
    /// The explicit cluster name; commands that touch AWS call this before anything else, so
    /// without one they exit 2 having called nothing.
    pub fn cluster(&self) -> anyhow::Result<String> {
        self.cluster_name.clone().ok_or_else(|| {
            anyhow::anyhow!(
                "no cluster name: give --cluster-name or ALBATROSS_CLUSTER_NAME. It is the elbv2.k8s.aws/cluster \
                 tag that marks the load balancers this cluster owns, and stacks tagged with it whose Gateway is \
                 gone are deleted: each cluster needs a name of its own"
            )
        })
    }

    /// Clients from the standard credential chain (IRSA, Pod Identity, environment, profile).
    pub async fn deployer(&self, cluster: &str) -> albatross_aws::deploy::Deployer {
        use albatross_aws::{Aws, AwsSettings, RateLimits};
        let settings = AwsSettings {
            region: self.region.clone(),
            endpoint: self.aws_endpoint.clone(),
            limits: if self.aws_unlimited {
                RateLimits::unlimited()
            } else {
                RateLimits::default().scaled(self.aws_rate_scale)
            },
            ..AwsSettings::default()
        };
        let aws = Aws::connect(&settings).await;
        let mut resolve = albatross_aws::resolve::ResolveSettings::new(cluster);
        resolve.vpc_id = self.vpc_id.clone();
        let resolver = albatross_aws::resolve::Resolver::new(aws.clone(), resolve);
        let mut deployer = albatross_aws::deploy::Deployer::new(aws, resolver, cluster);
        deployer.apply_concurrency = self.apply_concurrency;
        deployer
    }
}

/// Defaults for what a configuration leaves out. LBC's differ; its flags of the same names set
/// them, so a team switching can keep what LBC made.
#[derive(clap::Args, Debug, Clone)]
pub struct DefaultsArgs {
    /// Target type of target groups whose TargetGroupConfiguration sets no `targetType`. LBC's
    /// default is instance: give it to keep the target groups LBC made when switching.
    #[arg(long, env = "ALBATROSS_DEFAULT_TARGET_TYPE", value_enum, default_value = "ip")]
    pub default_target_type: TargetTypeArg,
    /// SSL policy for HTTPS and TLS listeners whose LoadBalancerConfiguration sets no `sslPolicy`.
    /// LBC's default is ELBSecurityPolicy-2016-08 (TLS 1.0 and up): give it to keep the policy of
    /// listeners LBC made when switching.
    #[arg(long, env = "ALBATROSS_DEFAULT_SSL_POLICY", default_value = albatross_model::plan::DEFAULT_SSL_POLICY, value_parser = ssl_policy)]
    pub default_ssl_policy: String,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetTypeArg {
    Ip,
    Instance,
}

impl DefaultsArgs {
    pub fn target_type(&self) -> albatross_model::plan::wire::TargetType {
        match self.default_target_type {
            TargetTypeArg::Ip => albatross_model::plan::wire::TargetType::Ip,
            TargetTypeArg::Instance => albatross_model::plan::wire::TargetType::Instance,
        }
    }
}

/// An ELBv2 SSL policy name, as the CRD's `sslPolicy` takes it.
fn ssl_policy(s: &str) -> Result<String, String> {
    let name = s.strip_prefix("ELBSecurityPolicy-").unwrap_or_default();
    if s.len() <= 128 && !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
        Ok(s.to_owned())
    } else {
        Err(format!("{s:?} is not an ELBv2 SSL policy name (ELBSecurityPolicy-...)"))
    }
}

/// AWS quotas that accounts can raise; the defaults are AWS's.
#[derive(clap::Args, Debug, Clone)]
pub struct QuotaArgs {
    /// Listener rules per Application Load Balancer (default rules not counted).
    #[arg(long, env = "ALBATROSS_QUOTA_RULES_PER_ALB", default_value_t = 100)]
    pub quota_rules_per_alb: usize,
    /// Target groups per Application Load Balancer.
    #[arg(long, env = "ALBATROSS_QUOTA_TARGET_GROUPS_PER_ALB", default_value_t = 100)]
    pub quota_target_groups_per_alb: usize,
    /// Certificates per load balancer (the default certificate not counted).
    #[arg(long, env = "ALBATROSS_QUOTA_CERTIFICATES_PER_LB", default_value_t = 25)]
    pub quota_certificates_per_lb: usize,
}

impl QuotaArgs {
    pub fn limits(&self) -> albatross_model::validate::AwsLimits {
        albatross_model::validate::AwsLimits {
            rules_per_alb: self.quota_rules_per_alb,
            target_groups_per_alb: self.quota_target_groups_per_alb,
            certificates_per_lb: self.quota_certificates_per_lb,
            ..Default::default()
        }
    }
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum ChannelArg {
    Standard,
    Experimental,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy)]
pub enum FieldValidationArg {
    Strict,
    Warn,
}

impl RuleArgs {
    pub fn options(&self) -> ValidatorOptions {
        ValidatorOptions {
            channel: match self.channel {
                ChannelArg::Standard => Channel::Standard,
                ChannelArg::Experimental => Channel::Experimental,
            },
            field_validation: match self.field_validation {
                FieldValidationArg::Strict => FieldValidation::Strict,
                FieldValidationArg::Warn => FieldValidation::Warn,
            },
            controllers: Controllers { alb: self.alb_controller.clone(), nlb: self.nlb_controller.clone() },
            api_server_checks: true,
        }
    }
}

pub fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Validate(args) => validate::run(args),
        Command::Plan(args) => plan::run(args),
        Command::Reconcile(args) => reconcile::run(args),
        Command::Webhook(args) => webhook::run(args),
        Command::Serve(args) => serve::run(*args),
        Command::IamPolicy(args) => iam_policy::run(args),
        Command::Crds => {
            print!("{}", albatross_k8s::aws::crds_yaml());
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_scale_multiplies_the_default_rates_not_the_bursts() {
        use albatross_aws::Limit;
        let limits = albatross_aws::RateLimits::default().scaled(20.0);
        assert_eq!(limits.elbv2_read, Limit::new(180.0, 20));
        assert_eq!(limits.elbv2_write, Limit::new(90.0, 10));
        assert_eq!(limits.elbv2_registration, Limit::new(72.0, 10));
        assert_eq!(limits.tagging, Limit::new(270.0, 10));
        let slow = albatross_aws::RateLimits::default().scaled(0.5);
        assert_eq!(slow.elbv2_write, Limit::new(2.25, 10), "fractional rates are kept, not rounded");
        assert_eq!(rate_scale("20"), Ok(20.0));
        for bad in ["0", "-1", "NaN", "inf", "x"] {
            assert!(rate_scale(bad).is_err(), "{bad}");
        }
    }
}
