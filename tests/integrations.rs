//! The integrations of docs/integrations.md run the commands they claim: the GitHub Action's
//! validate step, the pre-commit hook and the Argo CD PreSync Job call `albatross validate`
//! with flags it has and accept the good example while failing the broken one; the Argo CD
//! health checks (Lua) give the expected health for sample statuses under a real Lua 5.4.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_albatross");
const GOOD: &str = "examples/blue-orange";
const BROKEN: &str = "examples/mistakes";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn yaml(path: &str) -> Value {
    let value: serde_norway::Value = serde_norway::from_str(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::to_value(value).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn code(output: &Output) -> i32 {
    output.status.code().expect("exited")
}

fn run(args: &[String]) -> Output {
    Command::new(BIN).args(args).current_dir(root()).output().unwrap()
}

// GitHub Action.

/// The action's validate step, run by bash as the runner would, with `albatross` on PATH.
fn run_action(paths: &str, output: &str) -> (Output, String) {
    let action = yaml("action.yml");
    let steps = action["runs"]["steps"].as_array().unwrap();
    let step = steps.iter().find(|s| s["id"] == "validate").expect("validate step");
    let script = step["run"].as_str().unwrap();
    let inputs = &action["inputs"];
    let tmp = tempfile::tempdir().unwrap();
    let github_output = tmp.path().join("github_output");
    let bin_dir = Path::new(BIN).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let out = Command::new("bash")
        .args(["-c", script])
        .current_dir(root())
        .env("PATH", path)
        .env("RUNNER_TEMP", tmp.path())
        .env("GITHUB_OUTPUT", &github_output)
        .env("PATHS", paths)
        .env("CHANNEL", inputs["channel"]["default"].as_str().unwrap())
        .env("OUTPUT", output)
        .env("FIELD_VALIDATION", inputs["field-validation"]["default"].as_str().unwrap())
        .output()
        .unwrap();
    let outputs = std::fs::read_to_string(&github_output).unwrap_or_default();
    let report = outputs.lines().find_map(|l| l.strip_prefix("report=")).map(|p| std::fs::read_to_string(p).unwrap());
    (out, report.unwrap_or_default())
}

#[test]
fn the_github_action_accepts_good_manifests_and_fails_on_rejected_ones() {
    let (out, report) = run_action(&format!("{GOOD}\n"), "human");
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stderr));
    assert!(report.contains("0 rejected"), "{report}");
    let (out, report) = run_action(&format!("{GOOD} {BROKEN}"), "json");
    assert_eq!(code(&out), 1, "a rejection fails the step: {}", String::from_utf8_lossy(&out.stderr));
    let report: Value = serde_json::from_str(&report).expect("the json report");
    assert_eq!(report["summary"]["rejected"], 2);
}

#[test]
fn the_github_action_inputs_are_the_validate_flags() {
    let action = yaml("action.yml");
    assert_eq!(action["runs"]["using"], "composite");
    let help = String::from_utf8(run(&["validate".into(), "--help".into()]).stdout).unwrap();
    for (input, flag) in [("output", "--output"), ("channel", "--channel"), ("field-validation", "--field-validation")]
    {
        assert!(action["inputs"].get(input).is_some(), "input {input}");
        assert!(help.contains(flag), "validate has no {flag}");
        let default = action["inputs"][input]["default"].as_str().unwrap();
        assert!(help.contains(default), "{input} default {default} is not a value of {flag}");
    }
    // Release binaries are the ones release.yml publishes.
    let install = read("action.yml");
    let release = read(".github/workflows/release.yml");
    for target in
        ["x86_64-unknown-linux-musl", "aarch64-unknown-linux-musl", "x86_64-apple-darwin", "aarch64-apple-darwin"]
    {
        assert!(install.contains(target) && release.contains(&format!("target: {target}")), "{target}");
    }
    assert!(install.contains("albatross-$VERSION-$target.tar.gz") && release.contains("albatross-$VERSION-$TARGET"));
}

// pre-commit.

#[test]
fn the_pre_commit_hooks_run_validate_on_the_files_they_are_given() {
    let hooks = yaml(".pre-commit-hooks.yaml");
    let hooks = hooks.as_array().unwrap();
    assert!(hooks.iter().any(|h| h["language"] == "rust"), "a hook pre-commit builds with cargo");
    for hook in hooks {
        let entry: Vec<String> = hook["entry"].as_str().unwrap().split_whitespace().map(String::from).collect();
        assert_eq!(entry[0], "albatross");
        // What pre-commit runs: entry, the user's args (docs/integrations.md), the staged files.
        let mut args: Vec<String> = entry[1..].to_vec();
        args.extend(["--channel".into(), "standard".into()]);
        let good = [format!("{GOOD}/gateway.yaml"), format!("{GOOD}/routes.yaml"), format!("{GOOD}/services.yaml")];
        let out = run(&[args.clone(), good.to_vec()].concat());
        assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
        let out = run(&[args, vec![format!("{BROKEN}/broken-route.yaml")]].concat());
        assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
        let files = hook["files"].as_str().unwrap();
        assert_eq!(files, r"\.(ya?ml|json)$");
    }
}

// Argo CD PreSync Job.

#[test]
fn the_argocd_presync_job_validates_with_the_released_image_and_fails_the_sync_on_rejection() {
    let job = yaml("docs/integrations/argocd/presync-job.yaml");
    assert_eq!(job["kind"], "Job");
    assert_eq!(job["metadata"]["annotations"]["argocd.argoproj.io/hook"], "PreSync");
    assert_eq!(job["spec"]["backoffLimit"], 0, "one failure fails the hook");
    let container = &job["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], format!("ghcr.io/albatross-gw/albatross:{}", env!("CARGO_PKG_VERSION")));
    let args = strings(&container["args"]);
    assert_eq!(args[0], "validate", "the image's entrypoint is albatross");
    assert!(args.last().unwrap().starts_with("/work/repo/"));
    // The same arguments, with the checked-out path replaced by the examples.
    let with = |path: &str| -> Vec<String> {
        let mut a = args.clone();
        *a.last_mut().unwrap() = path.into();
        a
    };
    let out = run(&with(GOOD));
    assert_eq!(code(&out), 0, "{}", String::from_utf8_lossy(&out.stdout));
    let out = run(&with(BROKEN));
    assert_eq!(code(&out), 1, "{}", String::from_utf8_lossy(&out.stdout));
}

// Argo CD health checks.

/// A JSON value as a Lua table constructor (arrays 1-based, null left out).
fn lua_value(value: &Value) -> String {
    match value {
        Value::Null => "nil".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => {
            let mut out = String::from("\"");
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    c if (c as u32) < 0x20 => out.push_str(&format!("\\{}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
            out
        }
        Value::Array(items) => format!("{{{}}}", items.iter().map(lua_value).collect::<Vec<_>>().join(", ")),
        Value::Object(map) => format!(
            "{{{}}}",
            map.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| format!("[{}] = {}", lua_value(&Value::String(k.clone())), lua_value(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

/// The Lua interpreter, or None (skipped loudly) outside CI; under CI a missing one fails.
fn lua() -> Option<String> {
    for candidate in ["lua5.4", "lua"] {
        if Command::new(candidate).arg("-v").output().is_ok_and(|o| o.status.success()) {
            return Some(candidate.into());
        }
    }
    assert!(std::env::var_os("CI").is_none(), "CI is set but no Lua 5.4 interpreter (lua5.4) is installed");
    eprintln!("SKIPPED: no lua5.4 on PATH (apt-get install lua5.4); the Argo CD health checks were not run");
    None
}

/// Runs an Argo CD health script the way Argo CD does (the object as global `obj`, the script's
/// return value as the health) and returns (status, message).
fn health(lua: &str, script: &str, object: &Value) -> (String, String) {
    let dir = tempfile::tempdir().unwrap();
    let program = format!(
        "obj = {}\nlocal check = assert(load({}))\nlocal hs = check()\nio.write(hs.status, \"\\n\", hs.message or \"\")\n",
        lua_value(object),
        lua_value(&Value::String(script.into()))
    );
    let file = dir.path().join("health.lua");
    std::fs::write(&file, program).unwrap();
    let out = Command::new(lua).arg(&file).output().unwrap();
    assert!(out.status.success(), "lua failed: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let (status, message) = text.split_once('\n').unwrap_or((&text, ""));
    (status.to_string(), message.to_string())
}

#[derive(Deserialize)]
struct Case {
    name: String,
    script: String,
    expect: String,
    #[serde(default)]
    message: Option<String>,
    object: Value,
}

#[test]
fn argocd_health_checks_judge_gateways_and_routes_by_their_conditions() {
    let Some(lua) = lua() else { return };
    let cases: Vec<Case> = serde_json::from_value(yaml("testdata/argocd-health/cases.yaml")).unwrap();
    assert!(cases.len() >= 10);
    let mut failures = Vec::new();
    for case in &cases {
        let script = read(&format!("docs/integrations/argocd/health-{}.lua", case.script));
        let (status, message) = health(&lua, &script, &case.object);
        let message_ok = case.message.as_ref().is_none_or(|m| message.contains(m.as_str()));
        if status != case.expect || !message_ok {
            failures.push(format!("{}: got {status} {message:?}, want {} {:?}", case.name, case.expect, case.message));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for status in ["Healthy", "Progressing", "Degraded"] {
        for script in ["gateway", "route"] {
            assert!(cases.iter().any(|c| c.expect == status && c.script == script), "no {script} case for {status}");
        }
    }
}

#[test]
fn the_argocd_cm_carries_the_tested_scripts_for_every_kind() {
    let cm = yaml("docs/integrations/argocd/argocd-cm.yaml");
    assert_eq!(cm["metadata"]["name"], "argocd-cm");
    let data = &cm["data"];
    let gateway = read("docs/integrations/argocd/health-gateway.lua");
    let route = read("docs/integrations/argocd/health-route.lua");
    assert_eq!(data["resource.customizations.health.gateway.networking.k8s.io_Gateway"], gateway.as_str());
    for kind in ["HTTPRoute", "GRPCRoute", "TLSRoute", "TCPRoute", "UDPRoute"] {
        let key = format!("resource.customizations.health.gateway.networking.k8s.io_{kind}");
        assert_eq!(data[&key], route.as_str(), "{key}");
    }
}

#[test]
fn json_values_become_lua_tables() {
    let value = serde_json::json!({"a": [1, "x\"y"], "b": null, "c": {"d": true}});
    assert_eq!(lua_value(&value), r#"{["a"] = {1, "x\"y"}, ["c"] = {["d"] = true}}"#);
}
