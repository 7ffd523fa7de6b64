//! OIDC client credentials: the plan names them (`secret:NAMESPACE/NAME#KEY`), never holds them;
//! they are read from the Secret just before the stack is applied and go only to AWS.

use std::collections::BTreeMap;

use albatross_model::plan::types::Stack;
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};
use serde_json::Value;

const PREFIX: &str = "secret:";

/// `(namespace, name, key)` of a reference.
fn parse(text: &str) -> Option<(&str, &str, &str)> {
    let rest = text.strip_prefix(PREFIX)?;
    let (object, key) = rest.split_once('#')?;
    let (namespace, name) = object.split_once('/')?;
    Some((namespace, name, key))
}

fn walk(value: &mut Value, f: &mut impl FnMut(&mut String) -> Result<(), String>) -> Result<(), String> {
    match value {
        Value::String(s) if s.starts_with(PREFIX) => f(s),
        Value::Array(items) => items.iter_mut().try_for_each(|v| walk(v, f)),
        Value::Object(map) => map.values_mut().try_for_each(|v| walk(v, f)),
        _ => Ok(()),
    }
}

/// The stack with every reference replaced by `lookup(namespace, name, key)`; an error names
/// the first reference that has no value.
pub fn substitute(stack: &Stack, mut lookup: impl FnMut(&str, &str, &str) -> Option<String>) -> Result<Stack, String> {
    let mut value = serde_json::to_value(stack).map_err(|e| e.to_string())?;
    let mut any = false;
    walk(&mut value, &mut |s| {
        let (namespace, name, key) = parse(s).ok_or_else(|| format!("malformed secret reference {s}"))?;
        any = true;
        *s = lookup(namespace, name, key)
            .ok_or_else(|| format!("Secret {namespace}/{name} has no key {key} (OIDC client credentials)"))?;
        Ok(())
    })?;
    if !any {
        return Ok(stack.clone());
    }
    serde_json::from_value(value).map_err(|e| e.to_string())
}

/// Reads the Secrets the stack refers to and substitutes their values.
pub async fn resolve(client: &Client, stack: &Stack) -> Result<Stack, String> {
    let mut wanted: Vec<(String, String)> = Vec::new();
    let mut value = serde_json::to_value(stack).map_err(|e| e.to_string())?;
    walk(&mut value, &mut |s| {
        if let Some((namespace, name, _)) = parse(s) {
            wanted.push((namespace.to_owned(), name.to_owned()));
        }
        Ok(())
    })?;
    if wanted.is_empty() {
        return Ok(stack.clone());
    }
    wanted.sort();
    wanted.dedup();
    let mut data: BTreeMap<(String, String), BTreeMap<String, String>> = BTreeMap::new();
    for (namespace, name) in wanted {
        let api: Api<Secret> = Api::namespaced(client.clone(), &namespace);
        let secret = api.get_opt(&name).await.map_err(|e| format!("reading Secret {namespace}/{name}: {e}"))?;
        let values = secret
            .and_then(|s| s.data)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, String::from_utf8(v.0).ok()?)))
            .collect();
        data.insert((namespace, name), values);
    }
    substitute(stack, |namespace, name, key| {
        data.get(&(namespace.to_owned(), name.to_owned()))?.get(key).map(|v| v.trim_end().to_owned())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The golden OIDC plan: its rule names `secret:shop/oidc-client#clientID` and `#clientSecret`.
    fn oidc_stack() -> Stack {
        let plan: Value = serde_json::from_str(include_str!(
            "../../model/tests/golden/lrc-authenticate-oidc-https/expected.plan.json"
        ))
        .unwrap();
        serde_json::from_value(plan["stacks"][0].clone()).unwrap()
    }

    #[test]
    fn references_are_replaced_by_the_secrets_values() {
        let resolved = substitute(&oidc_stack(), |ns, name, key| Some(format!("{ns}.{name}.{key}"))).unwrap();
        let text = serde_json::to_string(&resolved).unwrap();
        assert!(text.contains("\"ClientId\":\"shop.oidc-client.clientID\""), "{text}");
        assert!(text.contains("\"ClientSecret\":\"shop.oidc-client.clientSecret\""), "{text}");
        assert!(!text.contains("secret:"));
    }

    #[test]
    fn a_missing_key_is_an_error_naming_the_secret() {
        let error = substitute(&oidc_stack(), |_, _, key| (key == "clientID").then(|| "id".to_owned())).unwrap_err();
        assert!(error.contains("shop/oidc-client") && error.contains("clientSecret"), "{error}");
    }
}
