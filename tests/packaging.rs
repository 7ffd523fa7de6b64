//! The image, the chart, the plain manifests and the release workflow agree, checked as text
//! because no image can be built here: the user the image runs as, the binary's path, the
//! image repository and tag (the crate's version), a read-only root, and the build command the
//! README documents.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

const REPOSITORY: &str = "ghcr.io/albatross-gw/albatross";
const VERSION: &str = env!("CARGO_PKG_VERSION");

fn read(path: impl AsRef<Path>) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn yaml(path: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(&read(path))
        .map(|doc| Value::deserialize(doc).unwrap_or_else(|e| panic!("{path}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

/// One Dockerfile instruction: keyword (upper case) and its arguments, continuation lines joined.
#[derive(Debug)]
struct Instruction {
    keyword: String,
    args: String,
}

/// The Dockerfile's stages, each a list of instructions starting with its FROM.
fn dockerfile_stages(text: &str) -> Vec<Vec<Instruction>> {
    let mut logical = Vec::new();
    let mut current = String::new();
    for line in text.lines() {
        let trimmed = line.trim();
        if current.is_empty() && (trimmed.is_empty() || trimmed.starts_with('#')) {
            continue;
        }
        if let Some(head) = trimmed.strip_suffix('\\') {
            current.push_str(head.trim_end());
            current.push(' ');
        } else {
            current.push_str(trimmed);
            logical.push(std::mem::take(&mut current));
        }
    }
    let mut stages: Vec<Vec<Instruction>> = Vec::new();
    for line in logical {
        let (keyword, args) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
        let instruction = Instruction { keyword: keyword.to_uppercase(), args: args.trim().to_string() };
        if instruction.keyword == "FROM" {
            stages.push(Vec::new());
        }
        stages.last_mut().expect("an instruction before the first FROM").push(instruction);
    }
    stages
}

fn dockerfile() -> Vec<Vec<Instruction>> {
    dockerfile_stages(&read("Dockerfile"))
}

fn runtime_stage(stages: &[Vec<Instruction>]) -> &[Instruction] {
    stages.last().expect("a stage")
}

fn only<'a>(stage: &'a [Instruction], keyword: &str) -> &'a str {
    let found: Vec<&Instruction> = stage.iter().filter(|i| i.keyword == keyword).collect();
    assert_eq!(found.len(), 1, "one {keyword} in the runtime stage: {found:?}");
    &found[0].args
}

/// The JSON-array form of ENTRYPOINT / CMD.
fn exec_form(args: &str) -> Vec<String> {
    serde_json::from_str(args).unwrap_or_else(|e| panic!("not exec form: {args}: {e}"))
}

fn runtime_binary() -> String {
    let stages = dockerfile();
    let copy = only(runtime_stage(&stages), "COPY");
    copy.split_whitespace().last().unwrap().to_string()
}

/// (pod securityContext, container securityContext, container) of the plain Deployment.
fn plain_deployment() -> (Value, Value, Value) {
    let deployment = yaml("manifests/deploy/deployment.yaml").remove(0);
    let pod = &deployment["spec"]["template"]["spec"];
    let container = pod["containers"][0].clone();
    (pod["securityContext"].clone(), container["securityContext"].clone(), container)
}

fn values() -> Value {
    yaml("charts/albatross/values.yaml").remove(0)
}

#[test]
fn the_runtime_stage_holds_the_binary_only_on_distroless_as_user_65532() {
    let stages = dockerfile();
    assert!(stages.len() >= 2, "multi-stage: a build stage and a runtime stage");
    let runtime = runtime_stage(&stages);
    let base = &runtime[0].args;
    assert!(base.starts_with("gcr.io/distroless/"), "runtime base {base}");
    // No package manager, shell or build step in the runtime: one COPY of the binary from the build.
    let kinds: Vec<&str> = runtime.iter().map(|i| i.keyword.as_str()).collect();
    assert!(!kinds.contains(&"RUN") && !kinds.contains(&"ADD"), "{kinds:?}");
    let copy = only(runtime, "COPY");
    assert!(copy.starts_with("--from=build "), "{copy}");
    assert_eq!(only(runtime, "USER"), "65532:65532");
    let binary = runtime_binary();
    assert_eq!(exec_form(only(runtime, "ENTRYPOINT")), [binary.as_str()]);
    assert_eq!(exec_form(only(runtime, "CMD")), ["serve"]);
}

#[test]
fn the_image_user_is_the_one_the_chart_and_manifests_run_as() {
    let stages = dockerfile();
    let (uid, gid) = only(runtime_stage(&stages), "USER").split_once(':').unwrap();
    let (uid, gid): (u64, u64) = (uid.parse().unwrap(), gid.parse().unwrap());
    let (pod, container, _) = plain_deployment();
    let values = values();
    for (what, context) in [
        ("manifests pod", &pod),
        ("manifests container", &container),
        ("chart podSecurityContext", &values["podSecurityContext"]),
        ("chart securityContext", &values["securityContext"]),
    ] {
        assert_eq!(context["runAsUser"], uid, "{what}");
        assert_eq!(context["runAsGroup"], gid, "{what}");
        assert_eq!(context["runAsNonRoot"], true, "{what}");
    }
}

#[test]
fn the_root_filesystem_is_read_only_everywhere_and_the_binary_writes_only_under_tmp() {
    let (_, container, spec) = plain_deployment();
    assert_eq!(container["readOnlyRootFilesystem"], true);
    assert_eq!(values()["securityContext"]["readOnlyRootFilesystem"], true);
    let mounts: Vec<&str> =
        spec["volumeMounts"].as_array().unwrap().iter().filter_map(|m| m["mountPath"].as_str()).collect();
    assert!(mounts.contains(&"/tmp"), "{mounts:?}");
    let chart = read("charts/albatross/templates/deployment.yaml");
    assert!(chart.contains("mountPath: /tmp"), "the chart mounts a writable /tmp");
    // Nothing is written into the image at build time for run time: no VOLUME, no WORKDIR state.
    let stages = dockerfile();
    assert!(runtime_stage(&stages).iter().all(|i| i.keyword != "VOLUME"));
}

#[test]
fn the_container_command_runs_the_binary_the_image_installs() {
    let binary = runtime_binary();
    let (dir, name) = binary.rsplit_once('/').unwrap();
    // distroless images put /usr/local/bin on PATH, so `command: [albatross]` finds it.
    assert_eq!(dir, "/usr/local/bin");
    let (_, _, container) = plain_deployment();
    assert_eq!(container["command"], serde_json::json!([name]));
    let chart = read("charts/albatross/templates/deployment.yaml");
    assert!(chart.contains(&format!("command: [{name}]")), "chart command");
}

#[test]
fn chart_manifests_and_release_name_one_image_tagged_with_the_crate_version() {
    let (_, _, container) = plain_deployment();
    assert_eq!(container["image"], format!("{REPOSITORY}:{VERSION}"));
    let values = values();
    assert_eq!(values["image"]["repository"], REPOSITORY);
    assert!(values["image"]["tag"] == VERSION || values["image"]["tag"] == "", "{}", values["image"]["tag"]);
    let chart = yaml("charts/albatross/Chart.yaml").remove(0);
    assert_eq!(chart["appVersion"], VERSION);
    assert_eq!(chart["version"], VERSION);
    let release = yaml(".github/workflows/release.yml").remove(0);
    assert_eq!(release["env"]["IMAGE"], REPOSITORY);
    // Triggered by version tags; it refuses a tag that is not "v" + the crate version.
    assert_eq!(release["on"]["push"]["tags"], serde_json::json!(["v*"]));
    let image = &release["jobs"]["image"]["steps"];
    let build = image.as_array().unwrap().iter().find(|s| s["id"] == "build").expect("build step");
    assert_eq!(build["with"]["tags"], "${{ env.IMAGE }}:${{ needs.version.outputs.version }}");
    assert_eq!(build["with"]["platforms"], "linux/amd64,linux/arm64");
    assert_eq!(build["with"]["sbom"], true);
    assert_eq!(build["with"]["provenance"], "mode=max");
    assert_eq!(release["jobs"]["image"]["permissions"]["id-token"], "write", "cosign keyless needs OIDC");
    let docs = read("Dockerfile");
    assert!(docs.contains(&format!("-t {REPOSITORY}:{VERSION}")), "the Dockerfile's build example");
}

/// The `cargo build` command of a shell text, up to the end of its line or `;`.
fn cargo_build_command(text: &str) -> Option<String> {
    let at = text.find("cargo build ")?;
    let rest = &text[at..];
    let end = rest.find([';', '\n', '#']).unwrap_or(rest.len());
    Some(rest[..end].split_whitespace().collect::<Vec<_>>().join(" "))
}

#[test]
fn the_dockerfile_builds_with_the_release_command_the_readme_documents() {
    let readme = read("README.md");
    let documented = cargo_build_command(&readme).expect("README documents a cargo build command");
    assert!(documented.contains("--release") && documented.contains("--locked"), "{documented}");
    let stages = dockerfile();
    let runs: Vec<String> =
        stages[..stages.len() - 1].iter().flatten().filter_map(|i| cargo_build_command(&i.args)).collect();
    assert_eq!(runs, [documented.clone()], "the Dockerfile's build");
    // The release binaries are the same build for an explicit target.
    let release = read(".github/workflows/release.yml");
    let binaries = cargo_build_command(&release).expect("release.yml builds binaries");
    assert_eq!(binaries, format!("{documented} --target \"$TARGET\""));
}

#[test]
fn ci_and_ci_run_run_the_readme_test_command() {
    let readme = read("README.md");
    let command = "cargo test --workspace --locked";
    assert!(readme.contains(command));
    let ci = read(".ci/run");
    assert_eq!(ci.lines().rev().find(|l| !l.trim().is_empty()), Some(command), ".ci/run ends with it");
    let workflow = yaml(".github/workflows/ci.yml").remove(0);
    let runs: Vec<String> = workflow["jobs"]
        .as_object()
        .unwrap()
        .values()
        .flat_map(|job| job["steps"].as_array().unwrap().iter())
        .filter_map(|step| step["run"].as_str().map(str::to_string))
        .collect();
    for expected in [command, "cargo fmt --all -- --check", "-- -D warnings", "cargo-deny\" --locked check"] {
        assert!(runs.iter().any(|r| r.contains(expected)), "ci.yml runs {expected}: {runs:#?}");
    }
    assert!(runs.iter().any(|r| r.contains("cargo clippy") && r.contains("--all-targets")));
}

#[test]
fn the_build_context_keeps_what_the_release_build_reads() {
    let ignored: Vec<String> = read(".dockerignore")
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    assert!(ignored.iter().any(|l| l == "**/target"), "the target dir stays out of the context");
    // Every workspace member, the benches Cargo.toml names and the vendored CRDs (include_str!).
    let manifest = read("Cargo.toml");
    let members = manifest.split("members = [").nth(1).unwrap().split(']').next().unwrap();
    let needed = members
        .split(',')
        .map(|m| m.trim().trim_matches('"').to_string())
        .filter(|m| !m.is_empty() && m != ".")
        .chain(["src", "benches", "manifests", "Cargo.toml", "Cargo.lock"].map(String::from));
    for path in needed {
        assert!(!ignored.contains(&path) && !ignored.contains(&format!("{path}/")), "{path} is ignored");
    }
}

#[test]
fn dockerfile_parsing_joins_continuations_and_splits_stages() {
    let stages = dockerfile_stages("# c\nFROM a AS b\nRUN x \\\n  y\n\nFROM c\nUSER 1:1\n");
    assert_eq!(stages.len(), 2);
    assert_eq!(stages[0][1].args, "x y");
    assert_eq!(stages[1][1].keyword, "USER");
    assert_eq!(
        cargo_build_command("set -eu; cargo build --release  --locked; x").unwrap(),
        "cargo build --release --locked"
    );
}
