//! `albatross reconcile`: local mode. Objects come from manifest files instead of the API server;
//! AWS calls are real (point `--aws-endpoint` at moto or LocalStack to stay local). Prints the
//! statuses it would patch as YAML and, on stderr, a summary of AWS calls.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

mod dry_run;

use albatross_aws::census::{Census, Fingerprint};
use albatross_aws::deploy::{Deletion, Deployer};
use albatross_aws::preview::DryRun;
use albatross_aws::{Aws, AwsError, is_mutating};
use albatross_model::plan::{self, Env};
use albatross_model::{Validator, dry_run as annotation};
use albatross_reconciler::status::{Kept, kept_status};
use anyhow::Context;
use futures::StreamExt;

use super::RuleArgs;
use super::input::{Admitted, admit};

#[derive(clap::Args, Debug)]
pub struct ReconcileArgs {
    /// Manifest files or folders (recursive: .yaml, .yml, .json).
    #[arg(long, required = true, num_args = 1.., value_name = "PATH")]
    pub manifests: Vec<String>,
    #[command(flatten)]
    pub aws: super::AwsArgs,
    /// Reconcile once and exit (the default).
    #[arg(long, conflicts_with = "watch")]
    pub once: bool,
    /// Reconcile again whenever a manifest changes.
    #[arg(long)]
    pub watch: bool,
    /// Delete the stacks of the Gateways in the manifests instead of converging them.
    #[arg(long)]
    pub delete: bool,
    /// Print the AWS calls a real run would make, making only read calls: nothing changes.
    #[arg(long)]
    pub dry_run: bool,
    /// Format of the dry run's report.
    #[arg(long, value_enum, default_value = "human", requires = "dry_run")]
    pub output: dry_run::DryRunOutput,
    /// Read every stack in full and repair what was changed by hand, instead of confirming the
    /// stacks whose load balancer's fingerprint matches the manifests.
    #[arg(long)]
    pub full_check: bool,
    /// Gateways converged at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub concurrency: u16,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub quotas: super::QuotaArgs,
    #[command(flatten)]
    pub defaults: super::DefaultsArgs,
}

pub fn run(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let cluster = args.aws.cluster()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async move {
        let deployer = args.aws.deployer(&cluster).await;
        let aws = deployer.aws.clone();
        if !args.watch {
            let code = once(&args, &deployer).await;
            summary(&aws);
            return code;
        }
        let mut seen = stamp(&args.manifests);
        loop {
            if let Err(e) = once(&args, &deployer).await {
                eprintln!("error: {e:#}");
            }
            summary(&aws);
            aws.metrics.reset_tally();
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                    _ = tokio::signal::ctrl_c() => return Ok(ExitCode::SUCCESS),
                }
                let now = stamp(&args.manifests);
                if now != seen {
                    seen = now;
                    break;
                }
            }
        }
    })
}

/// Newest modification time and file count under the paths: changes when a file does.
fn stamp(paths: &[String]) -> (Option<SystemTime>, usize) {
    fn walk(path: &std::path::Path, newest: &mut Option<SystemTime>, count: &mut usize) {
        let Ok(meta) = std::fs::metadata(path) else { return };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path).into_iter().flatten().flatten() {
                walk(&entry.path(), newest, count);
            }
        } else {
            *count += 1;
            let modified = meta.modified().ok();
            if modified > *newest {
                *newest = modified;
            }
        }
    }
    let mut newest = None;
    let mut count = 0;
    for p in paths {
        walk(&PathBuf::from(p), &mut newest, &mut count);
    }
    (newest, count)
}

async fn once(args: &ReconcileArgs, deployer: &Deployer) -> anyhow::Result<ExitCode> {
    let validator = Validator::new(args.rules.options());
    // Nothing is touched on partial input: a missing Gateway would read as deleted.
    let Some(Admitted { snapshot, secrets, refused }) = admit(&validator, &args.manifests, "not reconciled") else {
        return Ok(ExitCode::from(2));
    };
    let certificates = deployer.resolver.certificates().await.context("listing ACM certificates")?;
    let env = Env {
        cluster_name: deployer.cluster.clone(),
        controllers: args.rules.options().controllers,
        limits: args.quotas.limits(),
        certificates,
        now: chrono_now(),
        default_ssl_policy: args.defaults.default_ssl_policy.clone(),
        default_target_type: args.defaults.target_type(),
        ..Env::default()
    };
    let mut build = plan::build(&snapshot, &env);

    if args.delete && args.dry_run {
        return dry_run::delete(&DryRun::new(deployer), &snapshot, args.output).await;
    }
    if args.delete {
        return delete(&snapshot, deployer).await;
    }

    // Stacks are kept for Gateways of our classes and for those whose class is not given: a
    // missing class may be an incomplete manifest set. Only another controller's class lets go.
    let controllers = &env.controllers;
    let mut live = BTreeSet::new();
    for (key, gateway) in &snapshot.gateways {
        match snapshot.classes.get(&gateway.spec.gateway_class_name) {
            // A Gateway in dry run keeps its stack whatever its class.
            Some(class) if !controllers.owns(&class.spec.controller_name) && !annotation::requested(&gateway.raw) => {
                continue;
            }
            Some(_) => {}
            None => {
                let message = format!(
                    "GatewayClass {:?} is not in the manifests: nothing is applied, and the AWS load balancer, if \
                     any, is kept as it is",
                    gateway.spec.gateway_class_name
                );
                eprintln!("Gateway {key}: {message}");
                build.statuses.push(plan::StatusEntry {
                    api_version: gateway.meta.api_version.clone(),
                    kind: "Gateway".into(),
                    namespace: Some(key.namespace.clone()),
                    name: key.name.clone(),
                    status: kept_status(&gateway.raw, "Accepted", Kept::GatewayClassNotFound, &message),
                });
            }
        }
        live.insert(key.to_string());
    }
    let dry = DryRun::new(deployer);
    if args.dry_run {
        return dry_run::converge(&dry, &live, &build, &secrets, refused, args.output).await;
    }
    // One tag query per class and one describe per 20 load balancers instead of a full read
    // of every stack: an unchanged stack is confirmed by its fingerprint.
    let census =
        if args.full_check { Census::default() } else { deployer.census().await.context("counting stacks")? };
    let mut failed = 0;
    let mut dry_stacks = Vec::new();
    let mut converging = Vec::new();
    for stack in &build.stacks {
        let (ns, name) = stack.gateway.split_once('/').unwrap_or(("", &stack.gateway));
        let key = albatross_k8s::route::ObjectKey::new(ns, name);
        if snapshot.gateways.get(&key).is_some_and(|g| annotation::requested(&g.raw)) {
            dry_stacks.push(stack);
        } else {
            converging.push(stack);
        }
    }
    for stack in dry_stacks {
        failed += dry_run::annotated(&dry, stack, &secrets, &mut build.statuses).await;
    }
    let outcomes: Vec<(String, Converged)> = futures::stream::iter(converging)
        .map(|stack| async { (stack.gateway.clone(), converge(deployer, &census, stack, &secrets).await) })
        .buffer_unordered(usize::from(args.concurrency))
        .collect()
        .await;
    for (gateway, outcome) in outcomes {
        let (ns, name) = gateway.split_once('/').unwrap_or(("", &gateway));
        let entry = build
            .statuses
            .iter_mut()
            .find(|s| s.kind == "Gateway" && s.namespace.as_deref() == Some(ns) && s.name == name);
        for line in &outcome.lines {
            eprintln!("Gateway {gateway}: {line}");
        }
        failed += usize::from(outcome.failed);
        if let Some(entry) = entry {
            match &outcome.programmed {
                Ok(dns) => {
                    plan::programmed(entry, Ok(dns));
                    plan::not_applied(entry, &outcome.set_at_creation);
                }
                Err((reason, message)) => plan::programmed(entry, Err((*reason, message))),
            }
        }
    }
    failed += not_programmed(&build.statuses, &snapshot, controllers);
    // After the stacks: the sweep reads every tagged target group of the cluster.
    let sweep = deployer.delete_orphans(&live).await.context("deleting orphaned stacks")?;
    for gateway in &sweep.deleted {
        eprintln!("Gateway {gateway}: not in the manifests or moved to another controller; its stack was deleted");
    }
    for (gateway, load_balancers) in &sweep.protected {
        eprintln!(
            "Gateway {gateway}: not in the manifests, but deletion protection is on for {}: its stack is kept",
            load_balancers.join(", ")
        );
    }
    for (what, e) in &sweep.failed {
        eprintln!("{what}: deleting the orphaned stack failed: {e}");
    }
    failed += sweep.failed.len() + sweep.protected.len();
    print!("{}", serde_norway::to_string(&build.statuses)?);
    Ok(ExitCode::from(if failed > 0 || refused > 0 { 1 } else { 0 }))
}

/// Gateways of our classes whose status does not say `Programmed=True`: those the build
/// refused (no stack; `Accepted=False`, e.g. `InvalidParameters`) and those whose stack failed.
/// A Gateway in dry run, or whose class is not in the manifests, is kept as it is, not counted.
fn not_programmed(
    statuses: &[plan::StatusEntry],
    snapshot: &plan::Snapshot,
    controllers: &albatross_model::Controllers,
) -> usize {
    let ours = |key: &albatross_k8s::route::ObjectKey| {
        snapshot.gateways.get(key).is_some_and(|g| {
            !annotation::requested(&g.raw)
                && snapshot
                    .classes
                    .get(&g.spec.gateway_class_name)
                    .is_some_and(|c| controllers.owns(&c.spec.controller_name))
        })
    };
    statuses
        .iter()
        .filter(|s| s.kind == "Gateway")
        .filter(|s| ours(&albatross_k8s::route::ObjectKey::new(s.namespace.as_deref().unwrap_or(""), &s.name)))
        .filter(|s| {
            let conditions = s.status["conditions"].as_array().into_iter().flatten();
            !conditions.into_iter().any(|c| c["type"] == "Programmed" && c["status"] == "True")
        })
        .count()
}

/// What converging one Gateway's stack came to.
struct Converged {
    /// Lines for stderr.
    lines: Vec<String>,
    /// The load balancer's DNS name, or why it is not programmed.
    programmed: Result<String, (&'static str, String)>,
    /// Fields the existing load balancer was created without (not applied).
    set_at_creation: Vec<String>,
    failed: bool,
}

/// One stack: confirmed by its fingerprint, or observed, diffed, applied and stamped.
async fn converge(
    deployer: &Deployer,
    census: &Census,
    stack: &plan::types::Stack,
    secrets: &albatross_reconciler::secrets::SecretData,
) -> Converged {
    // Local mode registers no targets: each target group's wanted set is empty.
    let targets = stack.target_groups.iter().map(|tg| (tg.id.clone(), BTreeSet::new())).collect();
    let fingerprint = Fingerprint::of(stack, &targets);
    if let Some(dns) = fingerprint.as_ref().and_then(|f| census.confirm(stack, f)).map(|c| c.dns_name.clone()) {
        let lines = vec![format!("unchanged (fingerprint confirmed, nothing read in full): {dns}")];
        return Converged { lines, programmed: Ok(dns), set_at_creation: Vec::new(), failed: false };
    }
    // OIDC client credentials come from Secrets in the manifests, as in the cluster: only the
    // keys the plan's typed references name, in the configuration's own namespace.
    let outcome = match albatross_reconciler::secrets::from_data(stack, secrets) {
        Ok(stack) => deployer.deploy_stamped(&stack, fingerprint.as_ref()).await,
        Err(e) => Err(AwsError::from(e)),
    };
    let deployed = match outcome {
        Ok(deployed) => deployed,
        Err(e) => {
            let reason = albatross_reconciler::status::not_programmed_reason(&e);
            return Converged {
                lines: vec![format!("not programmed: {e}")],
                programmed: Err((reason, e.to_string())),
                set_at_creation: Vec::new(),
                failed: true,
            };
        }
    };
    let dns = deployed.applied.dns_name.clone();
    let mut lines = vec![format!("programmed ({} changes): {dns}", deployed.operations.len())];
    // The status names the successor: the stack it replaced can go.
    let mut failed = false;
    match deployer.retire(&deployed).await {
        Ok(0) => {}
        Ok(n) => lines.push(format!("deleted the replaced stack ({n} resources)")),
        Err(e) => {
            failed = true;
            lines.push(format!("the replaced stack is kept: {e}"));
        }
    }
    if !deployed.set_at_creation.is_empty() {
        lines.push(format!("not applied, set at creation only: {}", deployed.set_at_creation.join("; ")));
    }
    // A stack that differs from its plan is not stamped as converged: the next run reads it again.
    let stale = fingerprint.filter(|f| {
        !failed && deployed.set_at_creation.is_empty() && deployed.fingerprint.as_deref() != Some(f.as_str())
    });
    if let Some(f) = stale
        && let Err(e) = deployer.stamp(&deployed.applied.load_balancer_arn, f.as_str()).await
    {
        failed = true;
        lines.push(format!("writing the stack's fingerprint failed (the next run reads it in full): {e}"));
    }
    Converged { lines, programmed: Ok(dns), set_at_creation: deployed.set_at_creation, failed }
}

/// `--delete`: the stacks of every Gateway given, by tags (one whose build fails now may still
/// have a stack). Each Gateway's outcome is reported; a failure or a protected load balancer
/// does not stop the others and makes the exit code 1.
async fn delete(snapshot: &plan::Snapshot, deployer: &Deployer) -> anyhow::Result<ExitCode> {
    let mut failed = 0;
    for (key, object) in &snapshot.gateways {
        let gateway = key.to_string();
        if annotation::requested(&object.raw) {
            failed += 1;
            eprintln!("Gateway {gateway}: annotated {}: \"true\": its stack is kept", annotation::ANNOTATION);
            continue;
        }
        let mut deletion = Deletion::default();
        let mut error = None;
        for alb in [true, false] {
            match deployer.delete(&gateway, alb).await {
                Ok(d) => {
                    deletion.deleted += d.deleted;
                    deletion.protected.extend(d.protected);
                }
                Err(e) => error = Some(e),
            }
        }
        match (error, deletion.protected.is_empty()) {
            (Some(e), _) => {
                failed += 1;
                eprintln!("Gateway {gateway}: deleted {} resources; deleting the rest failed: {e}", deletion.deleted);
            }
            (None, false) => {
                failed += 1;
                eprintln!(
                    "Gateway {gateway}: deletion protection is on for {}: its stack is kept",
                    deletion.protected.join(", ")
                );
            }
            (None, true) => eprintln!("Gateway {gateway}: deleted {} resources", deletion.deleted),
        }
    }
    Ok(ExitCode::from(if failed > 0 { 1 } else { 0 }))
}

fn chrono_now() -> String {
    super::plan::now_rfc3339()
}

fn summary(aws: &Aws) {
    let tally = aws.metrics.tally();
    let (mut writes, mut reads, mut failed) = (0, 0, 0);
    for (op, t) in &tally {
        let n = t.ok + t.failed;
        failed += t.failed;
        if is_mutating(op) {
            writes += n;
        } else {
            reads += n;
        }
        eprintln!("aws {op}: {} ok, {} failed, {} ms", t.ok, t.failed, t.total.as_millis());
    }
    eprintln!("aws calls: {writes} mutating, {reads} read, {failed} failed");
}
