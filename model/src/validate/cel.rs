//! Evaluating the CRDs' `x-kubernetes-validations` with rules compiled by kube-cel.
//!
//! kube-cel's own walk converts every node's whole subtree to CEL values and opens a scope at
//! every node, rules or not: O(size × depth) per object. This walk converts each value once,
//! bottom-up, reusing the children's converted values, and evaluates only where rules are.
//! Conversion follows the API server (and kube-cel): declared field names escaped, map keys not,
//! `format` hints for date-time, duration and byte strings.

use std::collections::HashMap;
use std::sync::Arc;

use base64::Engine;
use kube_cel::cel::objects::{Key, Map};
use kube_cel::cel::{Context, Value as Cel};
use kube_cel::{CompilationError, CompilationResult, CompiledSchema, KubeCelExt, SchemaFormat};
use serde_json::Value;

use super::cel_cost::{self, Budget, OBJECT_BUDGET, PER_CALL_LIMIT, Refusal};
use super::path::{child, index};
use super::{Cancel, FieldError};

thread_local! {
    // The function registry is built once per thread; contexts are not shared across threads.
    static BASE: Context<'static> = {
        let mut ctx = Context::default().with_all();
        ctx.add_function("matches", matches);
        ctx
    };
    static PATTERNS: std::cell::RefCell<HashMap<String, Option<regex::Regex>>> = Default::default();
}

/// `matches()` with compiled patterns kept per thread: the rules use a handful of fixed
/// patterns, and compiling one per call was a tenth of validation time.
fn matches(
    ftx: &kube_cel::cel::FunctionContext,
    kube_cel::cel::extractors::This(this): kube_cel::cel::extractors::This<Arc<String>>,
    pattern: Arc<String>,
) -> kube_cel::cel::ResolveResult {
    PATTERNS.with(|cache| {
        let mut cache = cache.borrow_mut();
        let re = cache.entry(pattern.as_ref().clone()).or_insert_with(|| regex::Regex::new(&pattern).ok());
        match re {
            Some(re) => Ok(Cel::Bool(re.is_match(&this))),
            None => Err(ftx.error(format!("'{pattern}' not a valid regex"))),
        }
    })
}

const RESERVED: [&str; 21] = [
    "true",
    "false",
    "null",
    "in",
    "as",
    "break",
    "const",
    "continue",
    "else",
    "for",
    "function",
    "if",
    "import",
    "let",
    "loop",
    "package",
    "namespace",
    "return",
    "var",
    "void",
    "while",
];

/// Field names as CEL sees them.
fn escape(name: &str) -> String {
    if RESERVED.contains(&name) {
        return format!("__{name}__");
    }
    if !name.contains(['_', '.', '-', '/']) {
        return name.to_owned();
    }
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars() {
        match c {
            '_' => out.push_str("__"),
            '.' => out.push_str("__dot__"),
            '-' => out.push_str("__dash__"),
            '/' => out.push_str("__slash__"),
            c => out.push(c),
        }
    }
    out
}

fn number(n: &serde_json::Number) -> Cel {
    match (n.as_i64(), n.as_u64()) {
        (Some(i), _) => Cel::Int(i),
        (None, Some(u)) => Cel::UInt(u),
        _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
    }
}

fn go_duration(s: &str) -> Option<chrono::Duration> {
    let (s, negative) = s.strip_prefix('-').map_or((s, false), |r| (r, true));
    if s == "0" {
        return Some(chrono::Duration::zero());
    }
    let mut total = chrono::Duration::zero();
    let mut rest = s;
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit() && c != '.').filter(|i| *i > 0)?;
        let amount: f64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit_nanos, len) = [
            ("ns", 1.0, 2),
            ("us", 1e3, 2),
            ("µs", 1e3, 3),
            ("ms", 1e6, 2),
            ("s", 1e9, 1),
            ("m", 6e10, 1),
            ("h", 3.6e12, 1),
        ]
        .iter()
        .find(|(u, _, _)| rest.starts_with(u))
        .map(|(_, n, l)| (*n, *l))?;
        rest = &rest[len..];
        total += chrono::Duration::nanoseconds((amount * unit_nanos) as i64);
    }
    Some(if negative { -total } else { total })
}

fn string(s: &str, format: &SchemaFormat) -> Cel {
    match format {
        SchemaFormat::DateTime => {
            chrono::DateTime::parse_from_rfc3339(s).map_or_else(|_| Cel::String(Arc::new(s.to_owned())), Cel::Timestamp)
        }
        SchemaFormat::Duration => go_duration(s).map_or_else(|| Cel::String(Arc::new(s.to_owned())), Cel::Duration),
        SchemaFormat::Bytes => base64::engine::general_purpose::STANDARD
            .decode(s)
            .map_or_else(|_| Cel::String(Arc::new(s.to_owned())), |b| Cel::Bytes(Arc::new(b))),
        _ => Cel::String(Arc::new(s.to_owned())),
    }
}

/// Conversion without evaluation, for values no rule node lies under and for `oldSelf`.
fn convert(value: &Value, schema: Option<&CompiledSchema>) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => number(n),
        Value::String(s) => string(s, schema.map_or(&SchemaFormat::None, |c| &c.format)),
        Value::Array(items) => {
            let item_schema = schema.and_then(|c| c.items.as_deref());
            Cel::List(Arc::new(items.iter().map(|i| convert(i, item_schema)).collect()))
        }
        Value::Object(map) => {
            let mut out = HashMap::with_capacity(map.len());
            for (k, v) in map {
                let child_schema = schema.and_then(|c| c.properties.get(k).or(c.additional_properties.as_deref()));
                out.insert(key(k, schema), convert(v, child_schema));
            }
            Cel::Map(Map { map: Arc::new(out) })
        }
    }
}

fn key(name: &str, schema: Option<&CompiledSchema>) -> Key {
    // Map keys are user data; only declared field names are escaped.
    Key::String(Arc::new(if schema.is_some_and(|c| c.is_map) { name.to_owned() } else { escape(name) }))
}

/// Does any rule live at or under this node? Remembered by node address for one walk (the
/// schema is borrowed throughout): a long list would otherwise walk its item schema per item.
fn has_rules(schema: &CompiledSchema, known: &mut HashMap<usize, bool>) -> bool {
    let key = schema as *const CompiledSchema as usize;
    if let Some(found) = known.get(&key) {
        return *found;
    }
    let found = !schema.validations.is_empty()
        || schema.properties.values().any(|s| has_rules(s, known))
        || schema.items.as_deref().is_some_and(|s| has_rules(s, known))
        || schema.additional_properties.as_deref().is_some_and(|s| has_rules(s, known))
        || schema.all_of.iter().chain(&schema.one_of).chain(&schema.any_of).any(|s| has_rules(s, known));
    known.insert(key, found);
    found
}

/// One object's walk: its cost budget, the cancel flag, the failures so far.
struct Walk<'a> {
    budget: Budget,
    cancel: &'a Cancel,
    errors: &'a mut Vec<FieldError>,
    rules_below: HashMap<usize, bool>,
}

impl Walk<'_> {
    /// No further rule runs once the budget is spent or nobody waits for the verdict.
    fn stopped(&self) -> bool {
        self.budget.exhausted() || self.cancel.is_cancelled()
    }
}

/// Evaluates every rule of `schema` over `object`, pushing failures, within the API server's
/// cost budget of one object.
pub fn check(
    schema: &CompiledSchema,
    object: &Value,
    old: Option<&Value>,
    cancel: &Cancel,
    errors: &mut Vec<FieldError>,
) {
    let mut walk = Walk { budget: Budget::default(), cancel, errors, rules_below: HashMap::new() };
    evaluate(schema, object, old, "", &mut walk);
}

/// Evaluates the rules at and under one node; returns the node's CEL value.
fn evaluate(schema: &CompiledSchema, value: &Value, old: Option<&Value>, path: &str, walk: &mut Walk<'_>) -> Cel {
    if walk.stopped() {
        // Nothing will read the value: the rules above will not run either.
        return Cel::Null;
    }
    if !has_rules(schema, &mut walk.rules_below) {
        return convert(value, Some(schema));
    }
    let cel = match value {
        Value::Array(items) => match schema.items.as_deref() {
            Some(item_schema) => Cel::List(Arc::new(
                items
                    .iter()
                    .enumerate()
                    .map(|(i, item)| {
                        let old_item = old.and_then(|o| o.get(i));
                        evaluate(item_schema, item, old_item, &index(path, i), walk)
                    })
                    .collect(),
            )),
            None => convert(value, Some(schema)),
        },
        Value::Object(map) => {
            let mut out = HashMap::with_capacity(map.len());
            for (k, v) in map {
                let child_schema = schema.properties.get(k).or(if schema.preserve_unknown_fields {
                    None
                } else {
                    schema.additional_properties.as_deref()
                });
                let converted = match child_schema {
                    Some(c) => evaluate(c, v, old.and_then(|o| o.get(k)), &child(path, k), walk),
                    None => convert(v, None),
                };
                out.insert(key(k, Some(schema)), converted);
            }
            Cel::Map(Map { map: Arc::new(out) })
        }
        _ => convert(value, Some(schema)),
    };
    let rules = schema
        .validations
        .iter()
        .chain(schema.all_of.iter().chain(&schema.one_of).chain(&schema.any_of).flat_map(|b| b.validations.iter()));
    let mut rules = rules.peekable();
    if rules.peek().is_some() && !walk.stopped() {
        let old_cel = old.map(|o| convert(o, Some(schema)));
        let node = Node { value, old, path };
        BASE.with(|base| {
            let mut scope = base.new_inner_scope();
            scope.add_variable_from_value("self", cel.clone());
            if let Some(o) = &old_cel {
                scope.add_variable_from_value("oldSelf", o.clone());
            }
            for rule in rules {
                if walk.stopped() {
                    break;
                }
                match rule {
                    Ok(compiled) => run(compiled, &scope, &node, walk),
                    Err(CompilationError::Parse { rule, source }) => walk.errors.push(FieldError::new(
                        path,
                        format!("Internal error: rule {rule:?} does not compile: {source}"),
                    )),
                    Err(other) => walk.errors.push(FieldError::new(path, format!("Internal error: {other}"))),
                }
            }
        });
    }
    cel
}

/// The node a rule runs at, as JSON: what its cost is estimated from.
struct Node<'a> {
    value: &'a Value,
    old: Option<&'a Value>,
    path: &'a str,
}

fn run(compiled: &CompilationResult, scope: &Context<'_>, node: &Node<'_>, walk: &mut Walk<'_>) {
    let rule = &compiled.rule;
    let has_old = node.old.is_some();
    // Transition rules (oldSelf) apply to updates only, unless oldSelf is optional.
    let null_old;
    let scope = if compiled.is_transition_rule && !has_old {
        if rule.optional_old_self != Some(true) {
            return;
        }
        null_old = {
            let mut s = scope.new_inner_scope();
            s.add_variable_from_value("oldSelf", Cel::Null);
            s
        };
        &null_old
    } else {
        scope
    };
    let path = node.path;
    let field = match rule.field_path.as_deref() {
        Some(fp) if fp.starts_with('.') => format!("{path}{fp}"),
        Some(fp) if !path.is_empty() => format!("{path}.{fp}"),
        Some(fp) => fp.to_owned(),
        None => path.to_owned(),
    };
    let cost = cel_cost::estimate(compiled.program.expression(), node.value, node.old);
    match walk.budget.charge(cost) {
        Ok(()) => {}
        Err(Refusal::CallLimit) => {
            let shown = rule.message.clone().unwrap_or_else(|| rule.rule.clone());
            walk.errors.push(FieldError::new(
                &field,
                format!("Invalid value: call cost exceeds limit for rule: {shown} (estimated cost {cost}, limit {PER_CALL_LIMIT})"),
            ));
            return;
        }
        Err(Refusal::Exhausted) => {
            walk.errors.push(FieldError::new(
                path,
                format!("Invalid value: validation failed due to running out of cost budget, no further validation rules will be run (budget {OBJECT_BUDGET})"),
            ));
            return;
        }
    }
    match compiled.program.execute(scope) {
        Ok(Cel::Bool(true)) => {}
        Ok(Cel::Bool(false)) => {
            let dynamic = compiled.message_program.as_ref().and_then(|p| {
                // A message expression costs too; past the budget the static message stands.
                walk.budget.afford(cel_cost::estimate(p.expression(), node.value, node.old)).then_some(())?;
                match p.execute(scope) {
                    Ok(Cel::String(s)) => Some(s.as_ref().clone()),
                    _ => None,
                }
            });
            let message =
                dynamic.or_else(|| rule.message.clone()).unwrap_or_else(|| format!("failed rule: {}", rule.rule));
            walk.errors.push(FieldError::new(&field, format!("Invalid value: {message}")));
        }
        Ok(_) => walk.errors.push(FieldError::new(
            &field,
            format!("Invalid value: rule {:?} did not evaluate to a boolean", rule.rule),
        )),
        // The API server rejects when a rule cannot be evaluated, e.g. reading an unset field.
        Err(e) => {
            let message = rule.message.clone().unwrap_or_default();
            walk.errors.push(FieldError::new(&field, format!("Invalid value: {message} (rule {:?}: {e})", rule.rule)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(schema: &Value, object: &Value, cancel: &Cancel) -> Vec<String> {
        let compiled = kube_cel::compile_schema(schema);
        let mut errors = Vec::new();
        check(&compiled, object, None, cancel, &mut errors);
        errors.iter().map(ToString::to_string).collect()
    }

    fn quadratic_list(rule: &str) -> Value {
        json!({"type": "array", "items": {"type": "string"}, "x-kubernetes-validations": [{"rule": rule}]})
    }

    #[test]
    fn a_rule_over_the_per_call_limit_is_refused_without_running() {
        let schema =
            json!({"type": "object", "properties": {"names": quadratic_list("self.all(a, self.all(b, a == b))")}});
        let names: Vec<String> = (0..3_000).map(|i| format!("n{i}")).collect();
        let errors = errors_of(&schema, &json!({"names": names}), &Cancel::default());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].starts_with("names: Invalid value: call cost exceeds limit for rule: self.all"),
            "{errors:?}"
        );
    }

    #[test]
    fn rules_past_the_object_budget_do_not_run() {
        // Forty lists, each rule within the per-call limit, together over the object's budget.
        let rule = "self.all(a, self.all(b, a == b || a != b))";
        let properties: serde_json::Map<String, Value> =
            (0..40).map(|i| (format!("p{i}"), quadratic_list(rule))).collect();
        let schema = json!({"type": "object", "properties": properties});
        let names: Vec<String> = (0..200).map(|i| format!("n{i}")).collect();
        let object: serde_json::Map<String, Value> = (0..40).map(|i| (format!("p{i}"), json!(names))).collect();
        let errors = errors_of(&schema, &Value::Object(object), &Cancel::default());
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(
            errors[0].contains("running out of cost budget, no further validation rules will be run"),
            "{errors:?}"
        );
    }

    #[test]
    fn a_cancelled_walk_runs_no_rule() {
        let schema = json!({"type": "object", "x-kubernetes-validations": [{"rule": "1 == 2"}]});
        assert_eq!(errors_of(&schema, &json!({}), &Cancel::default()).len(), 1);
        let cancel = Cancel::default();
        cancel.cancel();
        assert!(errors_of(&schema, &json!({}), &cancel).is_empty());
    }

    #[test]
    fn field_names_are_escaped_as_the_api_server_does() {
        assert_eq!(escape("namespace"), "__namespace__");
        assert_eq!(escape("a.b-c/d_e"), "a__dot__b__dash__c__slash__d__e");
        assert_eq!(escape("sectionName"), "sectionName");
    }

    #[test]
    fn go_durations_parse() {
        assert_eq!(go_duration("1h30m"), Some(chrono::Duration::minutes(90)));
        assert_eq!(go_duration("1500ms"), Some(chrono::Duration::milliseconds(1500)));
        assert_eq!(go_duration("x"), None);
    }
}
