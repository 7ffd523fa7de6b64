//! `x-kubernetes-list-type: map|set` uniqueness, checked on the defaulted object.
//!
//! Items are grouped by a hash of their key (map) or whole value (set) and compared only within
//! a group, so a list of n items costs O(n), not O(n²).

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};

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
                    let item_keys: Vec<Vec<Value>> = items.iter().map(key_of).collect();
                    for i in duplicates(&item_keys) {
                        let shown: serde_json::Map<String, Value> =
                            keys.iter().map(|k| k.to_string()).zip(item_keys[i].iter().cloned()).collect();
                        out.push(FieldError::new(
                            &index(path, i),
                            format!("Duplicate value: {}", Value::Object(shown)),
                        ));
                    }
                }
                Some("set") => {
                    for i in duplicates(items) {
                        out.push(FieldError::new(&index(path, i), format!("Duplicate value: {}", items[i])));
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

/// Indexes of the items equal to an earlier one, in order.
fn duplicates<T: Hashed>(items: &[T]) -> Vec<usize> {
    let mut seen: HashMap<u64, Vec<usize>> = HashMap::with_capacity(items.len());
    let mut found = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let mut hasher = DefaultHasher::new();
        item.hash_into(&mut hasher);
        let group = seen.entry(hasher.finish()).or_default();
        if group.iter().any(|&j| items[j].same(item)) {
            found.push(i);
        } else {
            group.push(i);
        }
    }
    found
}

/// JSON values hashed consistently with `==` (object keys in any order).
trait Hashed {
    fn hash_into(&self, hasher: &mut DefaultHasher);
    fn same(&self, other: &Self) -> bool;
}

impl Hashed for Value {
    fn hash_into(&self, hasher: &mut DefaultHasher) {
        match self {
            Value::Null => 0u8.hash(hasher),
            Value::Bool(b) => (1u8, b).hash(hasher),
            Value::Number(n) => (2u8, n.to_string()).hash(hasher),
            Value::String(s) => (3u8, s).hash(hasher),
            Value::Array(items) => {
                (4u8, items.len()).hash(hasher);
                items.iter().for_each(|i| i.hash_into(hasher));
            }
            Value::Object(map) => {
                // Entries hashed apart and summed, so that key order does not matter.
                let sum = map.iter().fold(0u64, |sum, (k, v)| {
                    let mut entry = DefaultHasher::new();
                    k.hash(&mut entry);
                    v.hash_into(&mut entry);
                    sum.wrapping_add(entry.finish())
                });
                (5u8, map.len(), sum).hash(hasher);
            }
        }
    }

    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

impl Hashed for Vec<Value> {
    fn hash_into(&self, hasher: &mut DefaultHasher) {
        self.iter().for_each(|v| v.hash_into(hasher));
    }

    fn same(&self, other: &Self) -> bool {
        self == other
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn duplicates_among_thirty_thousand_items_are_found_by_hashing() {
        let mut items: Vec<Value> = (0..30_000).map(|i| json!({"name": format!("n{i}"), "port": i})).collect();
        items.push(json!({"port": 7, "name": "n7"}));
        assert_eq!(duplicates(&items), vec![30_000], "equal whatever the key order");
        let keys: Vec<Vec<Value>> = (0..30_000).map(|i| vec![json!(i % 29_999)]).collect();
        assert_eq!(duplicates(&keys), vec![29_999]);
    }
}
