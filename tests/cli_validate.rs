//! `albatross validate` as a user runs it: exit codes, output formats, stdin, bad input.

use std::io::Write;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

fn albatross(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_albatross"))
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    input.write_all(stdin.unwrap_or("").as_bytes()).unwrap();
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

const ROUTE: &str = "apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: shop
  namespace: web
spec:
  rules:
  - backendRefs:
    - name: cart
      port: 80
";

#[test]
fn the_bundled_example_is_accepted_with_exit_code_0() {
    let out = albatross(&["validate", "examples/blue-orange"], None);
    assert_eq!(out.status.code(), Some(0), "{}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
    assert!(stdout(&out).contains("0 rejected"));
}

#[test]
fn rejections_name_file_line_object_and_field_and_exit_1() {
    let out = albatross(&["validate", "examples/mistakes"], None);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(
        text.contains("examples/mistakes/broken-route.yaml:24: HTTPRoute default/shop: spec.rules[0].backendRefs[0]: "),
        "{text}"
    );
}

#[test]
fn json_output_follows_the_contract() {
    let out = albatross(&["validate", "--output", "json", "-"], Some(&ROUTE.replace("port: 80\n", "")));
    assert_eq!(out.status.code(), Some(1));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let object = &report["objects"][0];
    assert_eq!(object["file"], "<stdin>");
    assert_eq!(object["line"], 1);
    assert_eq!(object["kind"], "HTTPRoute");
    assert_eq!(object["namespace"], "web");
    assert_eq!(object["name"], "shop");
    assert_eq!(object["allowed"], false);
    assert_eq!(object["errors"][0]["field"], "spec.rules[0].backendRefs[0]");
    assert_eq!(report["summary"]["objects"], 1);
    assert_eq!(report["summary"]["rejected"], 1);
}

#[test]
fn malformed_yaml_is_reported_with_its_line_and_the_other_documents_still_validate() {
    let input = format!("{ROUTE}---\nkind: [unclosed\n---\n{}", ROUTE.replace("port: 80\n", ""));
    let out = albatross(&["validate", "-"], Some(&input));
    assert_eq!(out.status.code(), Some(2), "malformed input is unreadable input");
    let text = stdout(&out);
    assert!(text.contains("<stdin>:13: malformed document"), "{text}");
    assert!(text.contains("<stdin>:14: HTTPRoute web/shop: spec.rules[0].backendRefs[0]"), "{text}");
}

#[test]
fn lists_and_unknown_kinds_are_handled() {
    let input = "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ConfigMap\n  metadata: {name: c}\n- apiVersion: gateway.networking.k8s.io/v1\n  kind: GatewayClass\n  metadata: {name: x}\n  spec: {controllerName: example.com/x}\n";
    let out = albatross(&["validate", "--output", "json", "-"], Some(input));
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["summary"]["objects"], 1);
    assert_eq!(report["summary"]["skipped"], 1);
}

#[test]
fn a_version_the_channel_does_not_serve_is_rejected() {
    let input = "apiVersion: gateway.networking.k8s.io/v1alpha2\nkind: TCPRoute\nmetadata: {name: t}\nspec:\n  rules:\n  - backendRefs: [{name: s, port: 5432}]\n";
    let standard = albatross(&["validate", "-"], Some(input));
    assert_eq!(standard.status.code(), Some(1));
    assert!(stdout(&standard).contains("apiVersion: no matches for kind \"TCPRoute\""), "{}", stdout(&standard));
    let experimental = albatross(&["validate", "--channel", "experimental", "-"], Some(input));
    assert_eq!(experimental.status.code(), Some(0), "{}", stdout(&experimental));
}

#[test]
fn unknown_fields_are_errors_by_default_and_warnings_on_request() {
    let input = ROUTE.replace("spec:\n", "spec:\n  colour: blue\n");
    let strict = albatross(&["validate", "-"], Some(&input));
    assert_eq!(strict.status.code(), Some(1));
    assert!(stdout(&strict).contains("spec.colour: unknown field \"spec.colour\""));
    let warn = albatross(&["validate", "--field-validation", "warn", "-"], Some(&input));
    assert_eq!(warn.status.code(), Some(0));
    assert!(stdout(&warn).contains("warning: HTTPRoute web/shop: spec.colour"));
}

#[test]
fn a_missing_path_or_no_path_is_a_usage_error() {
    assert_eq!(albatross(&["validate", "does/not/exist.yaml"], None).status.code(), Some(2));
    assert_eq!(albatross(&["validate"], None).status.code(), Some(2));
}

#[test]
fn crds_prints_our_three_kinds() {
    let out = albatross(&["crds"], None);
    assert_eq!(out.status.code(), Some(0));
    let text = stdout(&out);
    for kind in ["LoadBalancerConfiguration", "TargetGroupConfiguration", "ListenerRuleConfiguration"] {
        assert!(text.contains(&format!("kind: {kind}")), "{kind} missing");
    }
}
