//! Per-Gateway dry run, as the AWS Load Balancer Controller's annotation: a Gateway annotated
//! `gateway.k8s.aws/dry-run: "true"` is planned and compared with AWS, never changed there; the
//! operations a real run would make are written to `gateway.k8s.aws/dry-run-plan`.

use serde_json::Value;

/// Set to `"true"` on a Gateway to have it planned only.
pub const ANNOTATION: &str = "gateway.k8s.aws/dry-run";
/// Where the plan of operations of a dry-run Gateway is written.
pub const PLAN_ANNOTATION: &str = "gateway.k8s.aws/dry-run-plan";
/// The `Programmed` reason of a Gateway in dry run.
pub const REASON: &str = "DryRun";

/// Whether the object (a Gateway as JSON) asks for a dry run.
pub fn requested(object: &Value) -> bool {
    annotation(object, ANNOTATION) == Some("true")
}

/// An annotation's value.
pub fn annotation<'a>(object: &'a Value, key: &str) -> Option<&'a str> {
    object.get("metadata")?.get("annotations")?.get(key)?.as_str()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn only_the_string_true_asks_for_a_dry_run() {
        let with = |v: Value| json!({"metadata": {"annotations": {ANNOTATION: v}}});
        assert!(requested(&with(json!("true"))));
        for other in [json!("false"), json!("True"), json!("yes"), json!(true), json!("")] {
            assert!(!requested(&with(other.clone())), "{other}");
        }
        assert!(!requested(&json!({"metadata": {}})));
    }
}
