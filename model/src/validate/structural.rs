//! OpenAPI v3 value validation of a structural CRD schema, as the API server does it.
//!
//! Covers types (with `nullable` and `x-kubernetes-int-or-string`), unknown fields, `required`,
//! `enum`, `pattern` (RE2 syntax, unanchored match), lengths in characters, item and property
//! counts, numeric bounds, `format: ipv4|ipv6` and the junctors `oneOf`/`anyOf`/`allOf`/`not`.

use std::collections::HashMap;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::{Arc, OnceLock, RwLock};

use regex::Regex;
use serde_json::{Map, Value};

use super::FieldError;
use super::path::{child, index};

/// What one walk found.
#[derive(Default)]
pub struct Findings {
    pub errors: Vec<FieldError>,
    /// Unknown fields; the caller decides whether they are errors or warnings.
    pub unknown: Vec<FieldError>,
    /// A value had the wrong JSON type; Albatross's own checks are skipped then.
    pub type_error: bool,
    /// A type, `required`, `enum`, `maxLength`, `maxItems` or `maxProperties` violation: the API
    /// server runs no CEL rule on such an object (`hasBlockingErr`).
    pub blocking: bool,
}

impl Findings {
    /// Records an error of the kinds that keep CEL rules from running.
    fn block(&mut self, error: FieldError) {
        self.blocking = true;
        self.errors.push(error);
    }
}

/// Removes `null` where the schema does not say `nullable`, as the API server prunes before
/// defaulting.
pub fn prune_nulls(schema: &Value, value: &mut Value) {
    match value {
        Value::Object(map) => {
            let props = schema.get("properties").and_then(Value::as_object);
            let additional = schema.get("additionalProperties").filter(|a| a.is_object());
            map.retain(|key, child| {
                let child_schema = props.and_then(|p| p.get(key)).or(additional);
                match child_schema {
                    Some(s) if child.is_null() => nullable(s),
                    _ => true,
                }
            });
            for (key, child) in map.iter_mut() {
                if let Some(s) = props.and_then(|p| p.get(key)).or(additional) {
                    prune_nulls(s, child);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for item in items {
                    prune_nulls(item_schema, item);
                }
            }
        }
        _ => {}
    }
}

fn nullable(schema: &Value) -> bool {
    schema.get("nullable").and_then(Value::as_bool) == Some(true)
}

/// Validates `value` at `path` against `schema`. `metadata` at the root is skipped: ObjectMeta is
/// checked on its own.
pub fn check(schema: &Value, value: &Value, path: &str, out: &mut Findings) {
    walk(schema, value, path, true, out);
}

fn walk(schema: &Value, value: &Value, path: &str, structural: bool, out: &mut Findings) {
    let Some(schema) = schema.as_object() else { return };
    if value.is_null() {
        if structural && !flag(schema, "nullable") && schema.contains_key("type") {
            out.errors.push(FieldError::new(path, "Invalid value: null: must not be null"));
        }
        return;
    }
    let int_or_string = flag(schema, "x-kubernetes-int-or-string");
    if int_or_string {
        if !(value.is_string() || is_integer(value)) {
            out.type_error = true;
            out.block(FieldError::new(
                path,
                format!("Invalid value: {}: must be an integer or a string", short(value)),
            ));
            return;
        }
    } else if let Some(ty) = schema.get("type").and_then(Value::as_str)
        && !type_matches(ty, value)
    {
        out.type_error = true;
        out.block(FieldError::new(
            path,
            format!("Invalid value: {}: must be of type {ty}, got {}", short(value), json_type(value)),
        ));
        return;
    }

    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        let list: Vec<String> = allowed.iter().map(|v| v.to_string()).collect();
        out.block(FieldError::new(
            path,
            format!("Unsupported value: {}: supported values: {}", short(value), list.join(", ")),
        ));
    }

    match value {
        Value::String(s) => check_string(schema, s, path, out),
        Value::Number(_) => check_number(schema, value, path, out),
        Value::Array(items) => check_array(schema, items, path, structural, out),
        Value::Object(map) => check_object(schema, map, path, structural, out),
        Value::Bool(_) | Value::Null => {}
    }

    check_junctors(schema, value, path, out);
}

fn check_string(schema: &Map<String, Value>, s: &str, path: &str, out: &mut Findings) {
    let len = s.chars().count() as u64;
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        out.block(FieldError::new(path, format!("Too long: may not be more than {max} characters (got {len})")));
    }
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        out.errors.push(FieldError::new(
            path,
            format!("Invalid value: {}: should be at least {min} characters long", quoted(s)),
        ));
    }
    if let Some(pattern) = schema.get("pattern").and_then(Value::as_str) {
        match compiled(pattern) {
            Some(re) if !re.is_match(s) => out
                .errors
                .push(FieldError::new(path, format!("Invalid value: {}: should match '{pattern}'", quoted(s)))),
            Some(_) => {}
            None => out.errors.push(FieldError::new(path, format!("schema pattern '{pattern}' does not compile"))),
        }
    }
    if let Some(format) = schema.get("format").and_then(Value::as_str) {
        let ok = match format {
            "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
            "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
            _ => true,
        };
        if !ok {
            out.errors.push(FieldError::new(path, format!("Invalid value: {}: must be of type {format}", quoted(s))));
        }
    }
}

fn check_number(schema: &Map<String, Value>, value: &Value, path: &str, out: &mut Findings) {
    let Some(n) = value.as_f64() else { return };
    let exclusive = |key: &str| flag(schema, key);
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && (n > max || (exclusive("exclusiveMaximum") && n >= max))
    {
        let rel = if exclusive("exclusiveMaximum") { "less than" } else { "less than or equal to" };
        out.errors.push(FieldError::new(path, format!("Invalid value: {value}: should be {rel} {}", number(max))));
    }
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && (n < min || (exclusive("exclusiveMinimum") && n <= min))
    {
        let rel = if exclusive("exclusiveMinimum") { "greater than" } else { "greater than or equal to" };
        out.errors.push(FieldError::new(path, format!("Invalid value: {value}: should be {rel} {}", number(min))));
    }
}

fn check_array(schema: &Map<String, Value>, items: &[Value], path: &str, structural: bool, out: &mut Findings) {
    let count = items.len() as u64;
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && count > max
    {
        out.block(FieldError::new(path, format!("Too many: {count}: must have at most {max} items")));
    }
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && count < min
    {
        out.errors
            .push(FieldError::new(path, format!("Invalid value: {count} items: should have at least {min} items")));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            walk(item_schema, item, &index(path, i), structural, out);
        }
    }
}

fn check_object(
    schema: &Map<String, Value>,
    map: &Map<String, Value>,
    path: &str,
    structural: bool,
    out: &mut Findings,
) {
    if let Some(required) = schema.get("required").and_then(Value::as_array) {
        for key in required.iter().filter_map(Value::as_str) {
            if !map.contains_key(key) {
                out.block(FieldError::new(&child(path, key), "Required value"));
            }
        }
    }
    let count = map.len() as u64;
    if let Some(max) = schema.get("maxProperties").and_then(Value::as_u64)
        && count > max
    {
        out.block(FieldError::new(path, format!("Too many: {count}: must have at most {max} items")));
    }
    if let Some(min) = schema.get("minProperties").and_then(Value::as_u64)
        && count < min
    {
        out.errors.push(FieldError::new(
            path,
            format!("Invalid value: {count} properties: should have at least {min} properties"),
        ));
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let additional = schema.get("additionalProperties");
    let preserve = flag(schema, "x-kubernetes-preserve-unknown-fields");
    for (key, child_value) in map {
        let child_path = child(path, key);
        // The API server owns these at the root, whatever the schema lists.
        if path.is_empty() && matches!(key.as_str(), "metadata" | "apiVersion" | "kind") {
            continue;
        }
        if let Some(child_schema) = props.and_then(|p| p.get(key)) {
            walk(child_schema, child_value, &child_path, structural, out);
        } else if let Some(extra) = additional.filter(|a| a.is_object()) {
            walk(extra, child_value, &child_path, structural, out);
        } else if structural && !preserve && additional != Some(&Value::Bool(true)) {
            out.unknown.push(FieldError::new(&child_path, format!("unknown field \"{child_path}\"")));
        }
    }
}

fn check_junctors(schema: &Map<String, Value>, value: &Value, path: &str, out: &mut Findings) {
    if let Some(branches) = schema.get("allOf").and_then(Value::as_array) {
        for branch in branches {
            walk(branch, value, path, false, out);
        }
    }
    if let Some(branches) = schema.get("anyOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = branches.iter().map(|b| branch_errors(b, value, path)).collect();
        if !results.iter().any(Vec::is_empty) {
            let prefix = format!("Invalid value: {}: ", short(value));
            let mut reasons: Vec<String> = results
                .into_iter()
                .flatten()
                .map(|e| e.message.strip_prefix(&prefix).map(str::to_owned).unwrap_or(e.message))
                .collect();
            reasons.dedup();
            out.errors.push(FieldError::new(path, format!("{prefix}{}", reasons.join(" or "))));
        }
    }
    if let Some(branches) = schema.get("oneOf").and_then(Value::as_array) {
        let results: Vec<Vec<FieldError>> = branches.iter().map(|b| branch_errors(b, value, path)).collect();
        match results.iter().filter(|r| r.is_empty()).count() {
            1 => {}
            0 => {
                // Report the branch that came closest; a failed `not` only says another branch applies.
                let rank =
                    |errors: &Vec<FieldError>| (errors.iter().all(|e| e.message.ends_with("(not)")), errors.len());
                if let Some(best) = results.into_iter().min_by_key(rank) {
                    out.errors.extend(best);
                }
            }
            _ => out
                .errors
                .push(FieldError::new(path, "Invalid value: must match exactly one schema (oneOf), matches several")),
        }
    }
    if let Some(not) = schema.get("not")
        && branch_errors(not, value, path).is_empty()
    {
        out.errors
            .push(FieldError::new(path, format!("Invalid value: {}: must not match the schema (not)", short(value))));
    }
}

fn branch_errors(branch: &Value, value: &Value, path: &str) -> Vec<FieldError> {
    let mut inner = Findings::default();
    walk(branch, value, path, false, &mut inner);
    inner.errors
}

fn flag(schema: &Map<String, Value>, key: &str) -> bool {
    schema.get(key).and_then(Value::as_bool) == Some(true)
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64() || value.as_f64().is_some_and(|f| f.fract() == 0.0 && f.is_finite())
}

fn type_matches(ty: &str, value: &Value) -> bool {
    match ty {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// A value as it appears in a message: scalars in full, containers by type.
pub fn short(value: &Value) -> String {
    match value {
        Value::Array(_) | Value::Object(_) => format!("\"{}\"", json_type(value)),
        Value::String(s) => quoted(s),
        other => other.to_string(),
    }
}

fn quoted(s: &str) -> String {
    const MAX: usize = 80;
    if s.chars().count() > MAX {
        let head: String = s.chars().take(MAX).collect();
        format!("{:?}...", head)
    } else {
        format!("{s:?}")
    }
}

fn number(n: f64) -> String {
    if n.fract() == 0.0 { format!("{}", n as i64) } else { n.to_string() }
}

/// Schema patterns compiled once per process.
fn compiled(pattern: &str) -> Option<Arc<Regex>> {
    static CACHE: OnceLock<RwLock<HashMap<String, Option<Arc<Regex>>>>> = OnceLock::new();
    let cache = CACHE.get_or_init(Default::default);
    if let Some(hit) = cache.read().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return hit.clone();
    }
    let re = Regex::new(pattern).ok().map(Arc::new);
    cache.write().unwrap_or_else(|e| e.into_inner()).insert(pattern.to_owned(), re.clone());
    re
}
