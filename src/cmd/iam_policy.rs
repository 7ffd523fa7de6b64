//! `albatross iam-policy`: the IAM policy of one cluster's controller, every change conditioned
//! on that cluster's tag value. Offline: no AWS call.

use std::process::ExitCode;

#[derive(clap::Args, Debug)]
pub struct IamPolicyArgs {
    /// The cluster name `serve` runs with (`--cluster-name`, the elbv2.k8s.aws/cluster tag).
    #[arg(long, env = "ALBATROSS_CLUSTER_NAME", value_parser = super::cluster_name)]
    pub cluster_name: String,
}

pub fn run(args: IamPolicyArgs) -> anyhow::Result<ExitCode> {
    print!("{}", albatross_aws::iam::policy_text(&args.cluster_name));
    Ok(ExitCode::SUCCESS)
}
