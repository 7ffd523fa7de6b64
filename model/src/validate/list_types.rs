//! `x-kubernetes-list-type: map|set` uniqueness, checked on the defaulted object.

use serde_json::Value;

use super::FieldError;
use super::path::{child, index};

pub fn check(schema: &Value, value: &Value, path: &str, out: &mut Vec<FieldError>) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            for (key, child_value) in map {
                if let Some(s) = props.and_then(|p| p.get(key)).or(additional) {
                    check(s, child_value, &child(path, key), out);
                }
            }
        }
        Value::Array(items) => {
            match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
                Some("map") => {
                    let keys: Vec<&str> = schema
                        .get("x-kubernetes-list-map-keys")
                        .and_then(Value::as_array)
                        .map(|k| k.iter().filter_map(Value::as_str).collect())
                        .unwrap_or_default();
                    let key_of = |item: &Value| -> Vec<Value> {
                        keys.iter().map(|k| item.get(*k).cloned().unwrap_or(Value::Null)).collect()
                    };
                    for (i, item) in items.iter().enumerate() {
                        let key = key_of(item);
                        if items[..i].iter().any(|earlier| key_of(earlier) == key) {
                            let shown: serde_json::Map<String, Value> = keys
                                .iter()
                                .map(|k| (k.to_string(), item.get(*k).cloned().unwrap_or(Value::Null)))
                                .collect();
                            out.push(FieldError::new(
                                &index(path, i),
                                format!("Duplicate value: {}", Value::Object(shown)),
                            ));
                        }
                    }
                }
                Some("set") => {
                    for (i, item) in items.iter().enumerate() {
                        if items[..i].contains(item) {
                            out.push(FieldError::new(&index(path, i), format!("Duplicate value: {item}")));
                        }
                    }
                }
                _ => {}
            }
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check(item_schema, item, &index(path, i), out);
                }
            }
        }
        _ => {}
    }
}
