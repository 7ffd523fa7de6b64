//! `albatross validate`: files, folders and stdin in; a verdict per object out.

use std::process::ExitCode;

use albatross_model::{FieldError, Validator};
use serde::Serialize;
use serde_json::Value;

use super::RuleArgs;
use super::input::{Loaded, load};

#[derive(clap::Args, Debug)]
pub struct ValidateArgs {
    /// Manifest files or folders (recursive: .yaml, .yml, .json); `-` reads stdin.
    #[arg(required = true, value_name = "PATH|-")]
    pub paths: Vec<String>,
    /// Output format.
    #[arg(long, short, value_enum, default_value = "human")]
    pub output: Output,
    #[command(flatten)]
    pub rules: RuleArgs,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Human,
    Json,
}

/// One line of the JSON report.
#[derive(Serialize)]
struct ObjectReport {
    file: String,
    line: usize,
    #[serde(rename = "apiVersion")]
    api_version: Option<String>,
    kind: Option<String>,
    namespace: Option<String>,
    name: Option<String>,
    allowed: bool,
    /// False for kinds Albatross does not validate (Services, Deployments, ...).
    validated: bool,
    errors: Vec<FieldError>,
    warnings: Vec<FieldError>,
}

#[derive(Serialize)]
struct Summary {
    objects: usize,
    rejected: usize,
    warnings: usize,
    skipped: usize,
    unreadable: usize,
}

#[derive(Serialize)]
struct Report {
    objects: Vec<ObjectReport>,
    summary: Summary,
}

fn text(value: &Value, pointer: &str) -> Option<String> {
    value.pointer(pointer).and_then(Value::as_str).map(str::to_owned)
}

pub fn run(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let validator = Validator::new(args.rules.options());
    // Every document of every file, then one validation pass so references cross files.
    let Loaded { documents: located, malformed, unreadable } = load(&args.paths);
    let mut broken: Vec<ObjectReport> = malformed
        .into_iter()
        .map(|(file, e)| ObjectReport {
            file,
            line: e.line,
            api_version: None,
            kind: None,
            namespace: None,
            name: None,
            allowed: false,
            validated: false,
            errors: vec![FieldError::new("", format!("malformed document: {}", e.message))],
            warnings: Vec::new(),
        })
        .collect();
    let values: Vec<&Value> = located.iter().map(|(_, d)| &d.value).collect();
    let outcomes = validator.validate_all(&values);

    let mut objects: Vec<ObjectReport> = located
        .iter()
        .zip(outcomes)
        .map(|((file, doc), outcome)| {
            let namespaced = outcome.handled && text(&doc.value, "/kind").as_deref() != Some("GatewayClass");
            ObjectReport {
                file: file.clone(),
                line: doc.line,
                api_version: text(&doc.value, "/apiVersion"),
                kind: text(&doc.value, "/kind"),
                namespace: text(&doc.value, "/metadata/namespace").or_else(|| namespaced.then(|| "default".to_owned())),
                name: text(&doc.value, "/metadata/name"),
                allowed: outcome.allowed(),
                validated: outcome.handled,
                errors: outcome.errors,
                warnings: outcome.warnings,
            }
        })
        .collect();
    objects.append(&mut broken);
    objects.sort_by(|a, b| (a.file.as_str(), a.line).cmp(&(b.file.as_str(), b.line)));

    let summary = Summary {
        objects: objects.iter().filter(|o| o.validated).count(),
        rejected: objects.iter().filter(|o| !o.allowed).count(),
        warnings: objects.iter().map(|o| o.warnings.len()).sum(),
        skipped: objects.iter().filter(|o| o.allowed && !o.validated).count(),
        unreadable: unreadable.len() + objects.iter().filter(|o| !o.validated && !o.allowed).count(),
    };
    for (file, error) in &unreadable {
        eprintln!("{file}: cannot read: {error}");
    }
    let code = if summary.unreadable > 0 {
        2
    } else if summary.rejected > 0 {
        1
    } else {
        0
    };
    let report = Report { objects, summary };
    match args.output {
        Output::Json => println!("{}", serde_json::to_string_pretty(&report)?),
        Output::Human => print_human(&report),
    }
    Ok(ExitCode::from(code))
}

fn print_human(report: &Report) {
    for object in &report.objects {
        let who = match (&object.kind, &object.namespace, &object.name) {
            (Some(kind), Some(ns), Some(name)) => format!("{kind} {ns}/{name}: "),
            (Some(kind), None, Some(name)) => format!("{kind} {name}: "),
            (Some(kind), _, None) => format!("{kind}: "),
            _ => String::new(),
        };
        for error in &object.errors {
            println!("{}:{}: {who}{error}", object.file, object.line);
        }
        for warning in &object.warnings {
            println!("{}:{}: warning: {who}{warning}", object.file, object.line);
        }
    }
    let s = &report.summary;
    println!(
        "{} objects validated, {} rejected, {} warnings, {} skipped (kinds Albatross does not validate){}",
        s.objects,
        s.rejected,
        s.warnings,
        s.skipped,
        if s.unreadable > 0 { format!(", {} unreadable", s.unreadable) } else { String::new() }
    );
}
