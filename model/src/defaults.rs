//! Defaulting for the mutating webhook: the schema defaults the API server would apply, as a JSON
//! patch of only the fields it adds. Applying the patch and defaulting again yields nothing.

use serde::Serialize;
use serde_json::Value;

use crate::validate::{TypeMeta, Validator};

/// One RFC 6902 `add` operation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PatchOp {
    pub op: &'static str,
    pub path: String,
    pub value: Value,
}

impl Validator {
    /// The patch that fills in schema defaults on `object`; empty for kinds we do not handle.
    pub fn defaults(&self, object: &Value) -> Vec<PatchOp> {
        let Some(meta) = TypeMeta::of(object) else { return Vec::new() };
        let Some(version) = self.registry().get(meta.group, meta.kind).and_then(|c| c.version(meta.version)) else {
            return Vec::new();
        };
        let mut spec_only = object.clone();
        if let Some(map) = spec_only.as_object_mut() {
            map.remove("status");
        }
        let defaulted = kube_cel::apply_defaults(&version.schema, &spec_only);
        let mut ops = Vec::new();
        diff_added(&spec_only, &defaulted, &mut String::new(), &mut ops);
        // Status belongs to the status subresource and its writers, never to admission patches.
        ops.retain(|op| op.path != "/status" && !op.path.starts_with("/status/"));
        ops
    }
}

fn diff_added(before: &Value, after: &Value, pointer: &mut String, ops: &mut Vec<PatchOp>) {
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            for (key, value) in a {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&key.replace('~', "~0").replace('/', "~1"));
                match b.get(key) {
                    None => ops.push(PatchOp { op: "add", path: pointer.clone(), value: value.clone() }),
                    Some(old) => diff_added(old, value, pointer, ops),
                }
                pointer.truncate(len);
            }
        }
        (Value::Array(b), Value::Array(a)) if a.len() == b.len() => {
            for (i, (old, new)) in b.iter().zip(a).enumerate() {
                let len = pointer.len();
                pointer.push('/');
                pointer.push_str(&i.to_string());
                diff_added(old, new, pointer, ops);
                pointer.truncate(len);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_missing_keys_become_add_operations() {
        let before = json!({"a": {"b": 1}, "l": [{"x": 1}]});
        let after = json!({"a": {"b": 1, "c": 2}, "l": [{"x": 1, "y/z": 3}]});
        let mut ops = Vec::new();
        diff_added(&before, &after, &mut String::new(), &mut ops);
        assert_eq!(
            ops,
            vec![
                PatchOp { op: "add", path: "/a/c".into(), value: json!(2) },
                PatchOp { op: "add", path: "/l/0/y~1z".into(), value: json!(3) },
            ]
        );
    }
}
