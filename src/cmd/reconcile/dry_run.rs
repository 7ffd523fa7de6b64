//! `albatross reconcile --dry-run`: the AWS calls a real run would make, found with reads only
//! (a [`DryRun`] holds a client that refuses every mutating call), printed for people or as
//! JSON. Exit 0 when every Gateway could be previewed, 1 when one is rejected, would fail or
//! has its deletion blocked.

use std::collections::BTreeSet;
use std::process::ExitCode;

use albatross_aws::AwsError;
use albatross_aws::preview::{DryRun, Preview, Summary};
use albatross_model::plan;
use serde::Serialize;

/// How the dry run's report is printed.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum DryRunOutput {
    Human,
    Json,
}

/// One Gateway's outcome: its steps, or the error the real run would stop with.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(flatten)]
    preview: Preview,
    /// Why it is in the report: `converge`, `delete`, or `orphan` (its Gateway is not given).
    action: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

#[derive(Serialize)]
struct Report {
    gateways: Vec<Entry>,
    summary: Summary,
}

impl Report {
    fn push(&mut self, action: &'static str, gateway: &str, outcome: Result<Preview, AwsError>) {
        let entry = match outcome {
            Ok(preview) => Entry { preview, action, error: None },
            Err(e) => Entry {
                preview: Preview { gateway: gateway.to_owned(), ..Preview::default() },
                action,
                error: Some(e.to_string()),
            },
        };
        self.summary.add(&entry.preview.summary());
        self.gateways.push(entry);
    }

    fn failed(&self) -> usize {
        self.gateways.iter().filter(|e| e.error.is_some() || !e.preview.protected.is_empty()).count()
    }

    fn print(&self, output: DryRunOutput) -> anyhow::Result<()> {
        if output == DryRunOutput::Json {
            println!("{}", serde_json::to_string_pretty(self)?);
            return Ok(());
        }
        for entry in &self.gateways {
            let why = match entry.action {
                "orphan" => " (not in the manifests: its stack would be deleted)",
                "delete" => " (--delete)",
                _ => "",
            };
            if entry.preview.gateway.is_empty() {
                println!("Managed security groups of no stack:");
            } else {
                println!("Gateway {}{why}:", entry.preview.gateway);
            }
            if let Some(e) = &entry.error {
                println!("  a real run would fail: {e}");
            } else if !entry.preview.protected.is_empty() {
                println!(
                    "  deletion protection is on for {}: nothing of this stack would be deleted",
                    entry.preview.protected.join(", ")
                );
            } else if entry.preview.steps.is_empty() {
                println!("  no change");
            }
            for step in &entry.preview.steps {
                let detail = if step.detail.is_empty() { String::new() } else { format!(": {}", step.detail) };
                println!("  {} {}{detail}", step.operation, step.resource);
            }
        }
        println!("Summary: {}", self.summary.line());
        Ok(())
    }
}

/// The dry run of converging the stacks of `build` and sweeping the stacks of Gateways not in
/// `live`.
pub async fn converge(
    dry: &DryRun,
    live: &BTreeSet<String>,
    build: &plan::Build,
    secrets: &albatross_reconciler::secrets::SecretData,
    refused: usize,
    output: DryRunOutput,
) -> anyhow::Result<ExitCode> {
    let mut report = Report { gateways: Vec::new(), summary: Summary::default() };
    for outcome in dry.orphans(live).await? {
        let gateway = outcome.as_ref().map(|p| p.gateway.clone()).unwrap_or_default();
        report.push("orphan", &gateway, outcome);
    }
    for stack in &build.stacks {
        let outcome = match albatross_reconciler::secrets::from_data(stack, secrets) {
            Ok(stack) => dry.converge(&stack).await,
            Err(e) => Err(AwsError::from(e)),
        };
        report.push("converge", &stack.gateway, outcome);
    }
    report.print(output)?;
    Ok(ExitCode::from(if report.failed() > 0 || refused > 0 { 1 } else { 0 }))
}

/// The dry run of `--delete`: what deleting each given Gateway's stacks would delete.
pub async fn delete(dry: &DryRun, snapshot: &plan::Snapshot, output: DryRunOutput) -> anyhow::Result<ExitCode> {
    let mut report = Report { gateways: Vec::new(), summary: Summary::default() };
    for gateway in snapshot.gateways.keys().map(ToString::to_string) {
        for alb in [true, false] {
            let outcome = dry.delete(&gateway, alb).await;
            if matches!(&outcome, Ok(p) if p.steps.is_empty() && p.protected.is_empty()) {
                continue;
            }
            report.push("delete", &gateway, outcome);
        }
    }
    report.print(output)?;
    Ok(ExitCode::from(if report.failed() > 0 { 1 } else { 0 }))
}

/// A Gateway annotated `gateway.k8s.aws/dry-run: "true"` in a real run: previewed, not applied;
/// its steps go to stderr and its status says it is in dry run. Returns 1 if the preview failed.
pub async fn annotated(
    dry: &DryRun,
    stack: &albatross_model::plan::types::Stack,
    secrets: &albatross_reconciler::secrets::SecretData,
    statuses: &mut [plan::StatusEntry],
) -> usize {
    let outcome = match albatross_reconciler::secrets::from_data(stack, secrets) {
        Ok(stack) => dry.converge(&stack).await,
        Err(e) => Err(AwsError::from(e)),
    };
    let (ns, name) = stack.gateway.split_once('/').unwrap_or(("", &stack.gateway));
    let entry =
        statuses.iter_mut().find(|s| s.kind == "Gateway" && s.namespace.as_deref() == Some(ns) && s.name == name);
    let (message, failed) = match &outcome {
        Ok(preview) => {
            for step in &preview.steps {
                eprintln!("Gateway {}: dry run: {} {}: {}", stack.gateway, step.operation, step.resource, step.detail);
            }
            (format!("dry run ({}): {}", albatross_model::dry_run::ANNOTATION, preview.summary().line()), 0)
        }
        Err(e) => (format!("dry run ({}): a real run would fail: {e}", albatross_model::dry_run::ANNOTATION), 1),
    };
    eprintln!("Gateway {}: {message}", stack.gateway);
    if let Some(entry) = entry {
        plan::programmed(entry, Err((albatross_model::dry_run::REASON, &message)));
    }
    failed
}
