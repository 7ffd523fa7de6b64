//! `albatross plan`: the AWS stack and statuses of every Gateway of our classes, offline.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use albatross_model::Validator;
use albatross_model::plan::{self, AcmCertificate, Build, Env, types::Action};
use anyhow::Context;
use serde_json::Value;

use super::RuleArgs;
use super::input::{Admitted, admit};

#[derive(clap::Args, Debug)]
pub struct PlanArgs {
    /// Manifest files or folders (recursive: .yaml, .yml, .json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH|-")]
    pub paths: Vec<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "yaml")]
    pub output: Output,
    /// ACM certificates (JSON or YAML list in DescribeCertificate's shape) for discovery by hostname.
    #[arg(long, env = "ALBATROSS_CERTIFICATES")]
    pub certificates: Option<PathBuf>,
    /// Cluster name, in tags and generated names. `plan` calls no AWS API, so it has a default
    /// for offline use; `reconcile` and `serve` require one.
    #[arg(long, env = "ALBATROSS_CLUSTER_NAME", default_value = "albatross", value_parser = super::cluster_name)]
    pub cluster_name: String,
    /// Time certificates must be valid at (RFC 3339); defaults to now.
    #[arg(long, env = "ALBATROSS_NOW")]
    pub now: Option<String>,
    #[command(flatten)]
    pub rules: RuleArgs,
    #[command(flatten)]
    pub quotas: super::QuotaArgs,
    #[command(flatten)]
    pub defaults: super::DefaultsArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Yaml,
    Json,
    Table,
    Mermaid,
}

pub(super) fn now_rfc3339() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!("{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem % 3600 / 60, rem % 60)
}

fn load_certificates(path: &Path) -> anyhow::Result<Vec<AcmCertificate>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let value: Value = serde_norway::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    let list = match value {
        Value::Object(mut m) if m.contains_key("Certificates") => m.remove("Certificates").unwrap_or_default(),
        other => other,
    };
    serde_json::from_value(list)
        .with_context(|| format!("{}: expected a list of DescribeCertificate objects", path.display()))
}

pub fn run(args: PlanArgs) -> anyhow::Result<ExitCode> {
    let validator = Validator::new(args.rules.options());
    let Some(Admitted { snapshot, refused, .. }) = admit(&validator, &args.paths, "not planned") else {
        return Ok(ExitCode::from(2));
    };
    let env = Env {
        cluster_name: args.cluster_name.clone(),
        controllers: args.rules.options().controllers,
        limits: args.quotas.limits(),
        certificates: match &args.certificates {
            Some(path) => load_certificates(path)?,
            None => Vec::new(),
        },
        now: args.now.clone().unwrap_or_else(now_rfc3339),
        default_ssl_policy: args.defaults.default_ssl_policy.clone(),
        default_target_type: args.defaults.target_type(),
        ..Env::default()
    };
    let build = plan::build(&snapshot, &env);
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&build)?),
        Output::Yaml => print!("{}", serde_norway::to_string(&build)?),
        Output::Table => print!("{}", table(&build)),
        Output::Mermaid => print!("{}", mermaid(&build)),
    }
    let refusals = refusals(&build);
    for line in &refusals {
        eprintln!("{line}");
    }
    Ok(ExitCode::from(if refused > 0 || !refusals.is_empty() { 1 } else { 0 }))
}

/// `KIND NAMESPACE/NAME: not accepted (REASON): MESSAGE` for every object (or route parent) the
/// build refuses: what the cluster would show as Accepted=False, so CI fails on it.
fn refusals(build: &Build) -> Vec<String> {
    let mut out = Vec::new();
    // A route refused by several parents the same way is one line.
    let mut seen = std::collections::HashSet::new();
    for s in &build.statuses {
        let parents = s.status["parents"].as_array().into_iter().flatten().map(|p| &p["conditions"]);
        for c in std::iter::once(&s.status["conditions"]).chain(parents).filter_map(Value::as_array).flatten() {
            if c["type"] == "Accepted" && c["status"] == "False" {
                let name = match &s.namespace {
                    Some(ns) => format!("{ns}/{}", s.name),
                    None => s.name.clone(),
                };
                let (reason, message) = (c["reason"].as_str().unwrap_or(""), c["message"].as_str().unwrap_or(""));
                let line = format!("{} {name}: not accepted ({reason}): {message}", s.kind);
                if seen.insert(line.clone()) {
                    out.push(line);
                }
            }
        }
    }
    out
}

fn action_text(a: &Action) -> String {
    match (&a.forward_config, &a.redirect_config, &a.fixed_response_config) {
        (Some(f), _, _) => {
            let parts: Vec<String> =
                f.target_groups.iter().map(|t| format!("{} ({})", t.target_group_arn, t.weight)).collect();
            format!("forward {}", parts.join(", "))
        }
        (_, Some(r), _) => {
            format!("redirect {} {}://{}:{}{}?{}", r.status_code, r.protocol, r.host, r.port, r.path, r.query)
        }
        (_, _, Some(f)) => format!("fixed-response {}", f.status_code),
        _ => a.r#type.clone(),
    }
}

fn table(build: &Build) -> String {
    let mut out = String::new();
    for stack in &build.stacks {
        let lb = &stack.load_balancer;
        let _ = writeln!(
            out,
            "Gateway {}: {} {} ({}, {})",
            stack.gateway, lb.r#type, lb.load_balancer_name, lb.scheme, lb.ip_address_type
        );
        for l in &stack.listeners {
            let certs: Vec<&str> = l.certificates.iter().map(|c| c.certificate_arn.as_str()).collect();
            let _ = writeln!(
                out,
                "  {}:{}{}",
                l.protocol,
                l.port,
                if certs.is_empty() { String::new() } else { format!("  certificates: {}", certs.join(", ")) }
            );
            let _ = writeln!(out, "    PRIORITY  {:<48}  ACTION", "CONDITIONS");
            for r in &l.rules {
                let conditions: Vec<String> = r
                    .conditions
                    .iter()
                    .map(|c| {
                        let v = serde_json::to_value(c).unwrap_or_default();
                        let values: Vec<String> = v
                            .as_object()
                            .into_iter()
                            .flatten()
                            .filter(|(k, _)| *k != "Field")
                            .map(|(_, cfg)| cfg.to_string())
                            .collect();
                        format!("{}={}", c.field, values.join(""))
                    })
                    .collect();
                let action = r.actions.last().map(action_text).unwrap_or_default();
                let _ = writeln!(out, "    {:>8}  {:<48}  {}", r.priority, conditions.join(" "), action);
            }
            for a in &l.default_actions {
                let _ = writeln!(out, "    {:>8}  {:<48}  {}", "default", "", action_text(a));
            }
        }
        for tg in &stack.target_groups {
            let _ = writeln!(
                out,
                "  target group {} {} {}:{} {} -> Service {}/{}:{}",
                tg.id,
                tg.target_group_name,
                tg.protocol,
                tg.port,
                tg.target_type,
                tg.backend.namespace,
                tg.backend.name,
                tg.backend.port
            );
        }
    }
    for s in &build.statuses {
        let conditions = s.status.get("conditions").or_else(|| s.status.pointer("/parents/0/conditions"));
        let summary: Vec<String> = conditions
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| {
                format!(
                    "{}={}({})",
                    c["type"].as_str().unwrap_or(""),
                    c["status"].as_str().unwrap_or(""),
                    c["reason"].as_str().unwrap_or("")
                )
            })
            .collect();
        let who = s.namespace.as_ref().map_or(s.name.clone(), |ns| format!("{ns}/{}", s.name));
        let _ = writeln!(out, "{} {}: {}", s.kind, who, summary.join(" "));
    }
    out
}

fn mermaid(build: &Build) -> String {
    let id = |s: &str| s.chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '_' }).collect::<String>();
    let mut out = String::from("flowchart LR\n");
    for stack in &build.stacks {
        let lb = format!("lb_{}", id(&stack.gateway));
        let _ = writeln!(out, "  {lb}[\"{} {}\"]", stack.load_balancer.r#type, stack.load_balancer.load_balancer_name);
        for l in &stack.listeners {
            let ln = format!("{lb}_{}", l.port);
            let _ = writeln!(out, "  {lb} --> {ln}[\"{}:{}\"]", l.protocol, l.port);
            for r in &l.rules {
                let rn = format!("{ln}_{}", r.priority);
                let _ = writeln!(out, "  {ln} --> {rn}[\"{} {}\"]", r.priority, r.id);
                for a in &r.actions {
                    for t in a.forward_config.iter().flat_map(|f| f.target_groups.iter()) {
                        let _ = writeln!(out, "  {rn} -->|{}| tg_{}", t.weight, id(&t.target_group_arn));
                    }
                    if a.forward_config.is_none()
                        && a.r#type != "authenticate-oidc"
                        && a.r#type != "authenticate-cognito"
                    {
                        let _ = writeln!(out, "  {rn} --> {rn}_a[\"{}\"]", action_text(a).replace('"', "'"));
                    }
                }
            }
            for a in &l.default_actions {
                for t in a.forward_config.iter().flat_map(|f| f.target_groups.iter()) {
                    let _ = writeln!(out, "  {ln} -->|{}| tg_{}", t.weight, id(&t.target_group_arn));
                }
            }
        }
        for tg in &stack.target_groups {
            let _ = writeln!(
                out,
                "  tg_{}[\"{} {}:{}\"] --> svc_{}_{}[\"Service {}/{}:{}\"]",
                id(&tg.id),
                tg.target_group_name,
                tg.protocol,
                tg.port,
                id(&tg.backend.namespace),
                id(&tg.backend.name),
                tg.backend.namespace,
                tg.backend.name,
                tg.backend.port
            );
        }
    }
    out
}
