//! The four patch types of `PATCH`, applied to JSON documents.

use serde_json::Value;

use super::store::ApiError;

/// The patch type, from the request's `Content-Type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum PatchType {
    /// `application/merge-patch+json` (RFC 7386).
    Merge,
    /// `application/strategic-merge-patch+json`: treated as a merge patch (no patch
    /// strategies, `$patch` directives or merge keys: lists are replaced whole).
    Strategic,
    /// `application/json-patch+json` (RFC 6902).
    Json,
    /// `application/apply-patch+yaml`: server-side apply, see [`apply_merge`].
    Apply,
}

impl PatchType {
    pub(crate) fn from_content_type(content_type: &str) -> Option<PatchType> {
        match content_type.split(';').next().unwrap_or("").trim() {
            "application/merge-patch+json" => Some(PatchType::Merge),
            "application/strategic-merge-patch+json" => Some(PatchType::Strategic),
            "application/json-patch+json" => Some(PatchType::Json),
            "application/apply-patch+yaml" | "application/apply-patch+json" => Some(PatchType::Apply),
            _ => None,
        }
    }
}

/// Applies a merge, strategic-merge or JSON patch to `document`.
pub(crate) fn apply_patch(kind: PatchType, document: &mut Value, patch: &Value) -> Result<(), ApiError> {
    match kind {
        PatchType::Merge | PatchType::Strategic => {
            if !patch.is_object() {
                return Err(ApiError::bad_request("a merge patch must be a JSON object"));
            }
            json_patch::merge(document, patch);
            Ok(())
        }
        PatchType::Json => {
            let operations: json_patch::Patch = serde_json::from_value(patch.clone())
                .map_err(|e| ApiError::bad_request(format!("invalid JSON patch: {e}")))?;
            // The API server answers 422 when an operation (a failed `test`, a missing path) does
            // not apply.
            json_patch::patch(document, &operations)
                .map_err(|e| ApiError::invalid(format!("the JSON patch does not apply: {e}")))
        }
        PatchType::Apply => {
            apply_merge(document, patch);
            Ok(())
        }
    }
}

/// The simplified server-side apply merge: maps merge recursively, lists and scalars of the
/// applied configuration replace the stored ones, `null` removes a field. There is no field
/// ownership: fields another manager set are kept unless the applied object names them, and
/// fields a manager stops applying are not removed.
pub(crate) fn apply_merge(stored: &mut Value, applied: &Value) {
    match (stored, applied) {
        (Value::Object(stored), Value::Object(applied)) => {
            for (key, value) in applied {
                if value.is_null() {
                    stored.remove(key);
                } else if let Some(existing) = stored.get_mut(key).filter(|e| e.is_object() && value.is_object()) {
                    apply_merge(existing, value);
                } else {
                    stored.insert(key.clone(), value.clone());
                }
            }
        }
        (stored, applied) => *stored = applied.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        let mut doc = json!({"a": {"b": 1, "c": 2}, "l": [1, 2]});
        apply_patch(PatchType::Merge, &mut doc, &json!({"a": {"b": null, "d": 3}, "l": [3]})).unwrap();
        assert_eq!(doc, json!({"a": {"c": 2, "d": 3}, "l": [3]}));
    }

    #[test]
    fn json_patch_test_failure_is_invalid() {
        let mut doc = json!({"metadata": {"finalizers": ["a"]}});
        let patch = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "b"},
                           {"op": "remove", "path": "/metadata/finalizers/0"}]);
        let err = apply_patch(PatchType::Json, &mut doc, &patch).unwrap_err();
        assert_eq!(err.code, 422);
        let patch = json!([{"op": "test", "path": "/metadata/finalizers/0", "value": "a"},
                           {"op": "remove", "path": "/metadata/finalizers/0"}]);
        apply_patch(PatchType::Json, &mut doc, &patch).unwrap();
        assert_eq!(doc, json!({"metadata": {"finalizers": []}}));
    }

    #[test]
    fn apply_merges_maps_and_replaces_lists() {
        let mut doc =
            json!({"spec": {"a": 1, "b": {"x": 1}}, "status": {"conditions": [{"type": "A"}, {"type": "B"}]}});
        apply_merge(&mut doc, &json!({"spec": {"b": {"y": 2}}, "status": {"conditions": [{"type": "C"}]}}));
        assert_eq!(doc, json!({"spec": {"a": 1, "b": {"x": 1, "y": 2}}, "status": {"conditions": [{"type": "C"}]}}));
    }
}
