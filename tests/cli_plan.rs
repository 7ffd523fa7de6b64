//! `albatross plan` as a user runs it: formats, certificates, exit codes.

use std::process::{Command, Output};

use serde_json::Value;

fn albatross(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_albatross")).args(args).current_dir(env!("CARGO_MANIFEST_DIR")).output().unwrap()
}

fn certificates() -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        file.path(),
        "- CertificateArn: arn:aws:acm:us-west-2:111122223333:certificate/sample\n  DomainName: sample.com\n  Status: ISSUED\n  NotAfter: \"2030-01-01T00:00:00Z\"\n",
    )
    .unwrap();
    file
}

#[test]
fn the_announcement_example_plans_an_alb_with_both_listeners() {
    let certs = certificates();
    let out =
        albatross(&["plan", "examples/blue-orange", "-o", "json", "--certificates", certs.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let stack = &plan["stacks"][0];
    assert_eq!(stack["Gateway"], "example-ns/my-alb-gateway");
    assert_eq!(stack["LoadBalancer"]["Type"], "application");
    assert_eq!(stack["LoadBalancer"]["LoadBalancerName"], "my-example-gateway-alb");
    let ports: Vec<i64> = stack["Listeners"].as_array().unwrap().iter().map(|l| l["Port"].as_i64().unwrap()).collect();
    assert_eq!(ports, [80, 443]);
    assert_eq!(
        stack["Listeners"][1]["Certificates"][0]["CertificateArn"],
        "arn:aws:acm:us-west-2:111122223333:certificate/sample"
    );
    assert_eq!(stack["TargetGroups"].as_array().unwrap().len(), 2);
    let kinds: Vec<&str> = plan["statuses"].as_array().unwrap().iter().map(|s| s["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["Gateway", "GatewayClass", "HTTPRoute", "HTTPRoute"]);
}

#[test]
fn without_a_certificate_only_the_https_listener_fails() {
    let out = albatross(&["plan", "examples/blue-orange", "-o", "json", "--now", "2026-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(0));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    let ports: Vec<i64> =
        plan["stacks"][0]["Listeners"].as_array().unwrap().iter().map(|l| l["Port"].as_i64().unwrap()).collect();
    assert_eq!(ports, [80]);
    let gateway = plan["statuses"].as_array().unwrap().iter().find(|s| s["kind"] == "Gateway").unwrap();
    let https = &gateway["status"]["listeners"][1];
    assert_eq!(https["name"], "https");
    let resolved = https["conditions"].as_array().unwrap().iter().find(|c| c["type"] == "ResolvedRefs").unwrap();
    assert_eq!(resolved["reason"], "InvalidCertificateRef");
    assert!(resolved["message"].as_str().unwrap().contains("sample.com"));
}

#[test]
fn table_and_mermaid_render_listeners_rules_and_services() {
    let certs = certificates();
    let path = certs.path().to_str().unwrap();
    let table = albatross(&["plan", "examples/blue-orange", "-o", "table", "--certificates", path]);
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(text.contains("HTTPS:443"), "{text}");
    assert!(text.contains("-> Service example-ns/service-blue:80"), "{text}");
    let mermaid = albatross(&["plan", "examples/blue-orange", "-o", "mermaid", "--certificates", path]);
    let text = String::from_utf8_lossy(&mermaid.stdout);
    assert!(text.starts_with("flowchart LR"), "{text}");
    assert!(text.contains("Service example-ns/service-orange:80"), "{text}");
}

#[test]
fn rejected_objects_make_exit_code_1_and_the_rest_is_still_planned() {
    let out = albatross(&["plan", "examples/mistakes", "-o", "json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("rejected, not planned"));
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(plan["statuses"].as_array().unwrap().iter().any(|s| s["kind"] == "GatewayClass"));
}

#[test]
fn unreadable_input_is_exit_code_2() {
    assert_eq!(albatross(&["plan", "no/such/file.yaml"]).status.code(), Some(2));
}

#[test]
fn a_field_the_controller_would_refuse_makes_exit_code_1_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["gateway.yaml", "routes.yaml", "services.yaml"] {
        let text = std::fs::read_to_string(std::path::Path::new("examples/blue-orange").join(file)).unwrap();
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let gateway = dir.path().join("gateway.yaml");
    let text = std::fs::read_to_string(&gateway).unwrap().replace(
        "  scheme: internet-facing\n",
        "  scheme: internet-facing\n  listenerConfigurations:\n  - protocolPort: HTTP:80\n    targetGroupStickiness: true\n",
    );
    std::fs::write(&gateway, text).unwrap();
    let out =
        Command::new(env!("CARGO_BIN_EXE_albatross")).args(["plan", dir.path().to_str().unwrap()]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("Gateway example-ns/my-alb-gateway: not accepted (InvalidParameters): LoadBalancerConfiguration spec.listenerConfigurations[0].targetGroupStickiness"),
        "{stderr}"
    );
}

#[test]
fn the_default_ssl_policy_can_be_lbcs_and_must_be_a_policy_name() {
    let certs = certificates();
    let path = certs.path().to_str().unwrap();
    let policy = |out: &Output| {
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        plan["stacks"][0]["Listeners"][1]["SslPolicy"].as_str().unwrap().to_owned()
    };
    let ours = albatross(&["plan", "examples/blue-orange", "-o", "json", "--certificates", path]);
    assert_eq!(policy(&ours), "ELBSecurityPolicy-TLS13-1-2-2021-06");
    let lbc = albatross(&[
        "plan",
        "examples/blue-orange",
        "-o",
        "json",
        "--certificates",
        path,
        "--default-ssl-policy",
        "ELBSecurityPolicy-2016-08",
    ]);
    assert_eq!(policy(&lbc), "ELBSecurityPolicy-2016-08");
    let bad = albatross(&["plan", "examples/blue-orange", "--default-ssl-policy", "TLS13; rm -rf /"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("not an ELBv2 SSL policy name"));
}

#[test]
fn the_default_target_type_can_be_lbcs() {
    let dir = tempfile::tempdir().unwrap();
    for file in ["gateway.yaml", "routes.yaml", "services.yaml"] {
        let text = std::fs::read_to_string(std::path::Path::new("examples/blue-orange").join(file)).unwrap();
        // The API server would have given the NodePort Service its port.
        let text = text.replace(
            "    targetPort: 8080\n    protocol: TCP\n  type: NodePort",
            "    targetPort: 8080\n    nodePort: 30080\n    protocol: TCP\n  type: NodePort",
        );
        std::fs::write(dir.path().join(file), text).unwrap();
    }
    let certs = certificates();
    let orange = |extra: &[&str]| {
        let mut args = vec!["plan", dir.path().to_str().unwrap(), "-o", "json", "--certificates"];
        args.push(certs.path().to_str().unwrap());
        args.extend_from_slice(extra);
        let out = Command::new(env!("CARGO_BIN_EXE_albatross")).args(&args).output().unwrap();
        let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
        let groups = plan["stacks"][0]["TargetGroups"].as_array().unwrap().clone();
        let tg = groups.into_iter().find(|g| g["Id"].as_str().unwrap().contains("service-orange")).unwrap();
        (tg["TargetType"].as_str().unwrap().to_owned(), tg["Port"].as_i64().unwrap())
    };
    assert_eq!(orange(&[]), ("ip".to_owned(), 8080));
    assert_eq!(orange(&["--default-target-type", "instance"]), ("instance".to_owned(), 30080));
}
