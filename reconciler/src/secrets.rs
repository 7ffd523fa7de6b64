//! OIDC client credentials: the plan names them as typed [`SecretKeyRef`]s (always in the
//! ListenerRuleConfiguration's own namespace), never holds them. Just before a stack is applied
//! the Secrets those two fields name, and no others, are read by name, and only those fields get
//! the values. No other part of the stack is looked at: user strings stay literal.

use std::collections::{BTreeMap, BTreeSet};

use albatross_aws::{AwsError, ErrorClass};
use albatross_model::plan::types::{Action, Credential, SecretKeyRef, Stack};
use k8s_openapi::api::core::v1::Secret;
use kube::{Api, Client};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretError {
    /// The Secret is missing, lacks a key, or reading it is forbidden: one message for all
    /// three (it lists every key the stack needs from it), so a status never tells which.
    #[error(
        "OIDC client credentials: Secret {namespace}/{name} with keys {} cannot be read (it must be in the configuration's namespace)",
        keys.join(" and ")
    )]
    Unreadable { namespace: String, name: String, keys: Vec<String> },
    /// The API server failed to answer: tried again later.
    #[error("OIDC client credentials: Secret {}/{} not read yet: the Kubernetes API did not answer", .0.namespace, .0.name)]
    Unavailable(SecretKeyRef),
}

impl SecretError {
    pub fn class(&self) -> ErrorClass {
        match self {
            SecretError::Unreadable { .. } => ErrorClass::Permanent,
            SecretError::Unavailable(_) => ErrorClass::Transient,
        }
    }
}

/// As the error the reconcile reports in the Gateway's `Programmed` condition.
impl From<SecretError> for AwsError {
    fn from(e: SecretError) -> Self {
        AwsError::new("ResolveSecrets", "SecretNotUsable", e.to_string(), e.class())
    }
}

fn oidc_actions(stack: &mut Stack) -> impl Iterator<Item = &mut Action> {
    stack.listeners.iter_mut().flat_map(|l| {
        let rules = l.rules.iter_mut().flat_map(|r| r.actions.iter_mut());
        l.default_actions.iter_mut().chain(rules)
    })
}

/// The typed credential fields of every OIDC action: the only places a Secret is read for.
fn credentials(stack: &mut Stack) -> impl Iterator<Item = &mut Credential> {
    oidc_actions(stack)
        .filter_map(|a| a.authenticate_oidc_config.as_mut())
        .flat_map(|c| std::iter::once(&mut c.client_id).chain(c.client_secret.as_mut()))
}

/// The Secret keys the stack's OIDC actions name.
pub fn references(stack: &Stack) -> BTreeSet<SecretKeyRef> {
    let mut stack = stack.clone();
    credentials(&mut stack)
        .filter_map(|c| match c {
            Credential::SecretRef(r) => Some(r.clone()),
            Credential::Value(_) => None,
        })
        .collect()
}

/// The stack with each credential reference replaced by `lookup`'s value for it; `None` (no
/// such Secret or key, or not permitted) fails it.
pub fn substitute(
    stack: &Stack,
    mut lookup: impl FnMut(&SecretKeyRef) -> Option<String>,
) -> Result<Stack, SecretError> {
    let wanted = references(stack);
    let mut out = stack.clone();
    for credential in credentials(&mut out) {
        if let Credential::SecretRef(r) = credential {
            let Some(value) = lookup(r) else {
                let same = |w: &&SecretKeyRef| w.namespace == r.namespace && w.name == r.name;
                let keys = wanted.iter().filter(same).map(|w| w.key.clone()).collect();
                return Err(SecretError::Unreadable { namespace: r.namespace.clone(), name: r.name.clone(), keys });
            };
            *credential = Credential::Value(value);
        }
    }
    Ok(out)
}

/// Secret data as read: `(namespace, name)` to keys and UTF-8 values.
pub type SecretData = BTreeMap<(String, String), BTreeMap<String, String>>;

/// Resolves the references from Secrets already read (local mode reads them from the manifests).
pub fn from_data(stack: &Stack, data: &SecretData) -> Result<Stack, SecretError> {
    substitute(stack, |r| {
        let secret = data.get(&(r.namespace.clone(), r.name.clone()));
        // Editors and `echo` leave a trailing newline that is no part of an id or secret.
        secret.and_then(|s| s.get(&r.key)).map(|v| v.trim_end().to_owned())
    })
}

/// Reads, by name, the Secrets the stack's OIDC actions name and resolves the references.
pub async fn resolve(client: &Client, stack: &Stack) -> Result<Stack, SecretError> {
    let wanted = references(stack);
    let mut data = SecretData::new();
    for r in &wanted {
        let object = (r.namespace.clone(), r.name.clone());
        if data.contains_key(&object) {
            continue;
        }
        let api: Api<Secret> = Api::namespaced(client.clone(), &r.namespace);
        let secret = match api.get_opt(&r.name).await {
            Ok(secret) => secret,
            // Forbidden reads as missing: the message must not tell them apart.
            Err(kube::Error::Api(status)) if status.is_forbidden() => None,
            Err(error) => {
                tracing::warn!(secret = %r, %error, "reading OIDC client credentials");
                return Err(SecretError::Unavailable(r.clone()));
            }
        };
        let values = secret
            .and_then(|s| s.data)
            .unwrap_or_default()
            .into_iter()
            .filter_map(|(k, v)| Some((k, String::from_utf8(v.0).ok()?)))
            .collect();
        data.insert(object, values);
    }
    from_data(stack, &data)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The golden OIDC plan: its rule refers to `clientID` and `clientSecret` of Secret
    /// `shop/oidc-client`.
    fn oidc_stack() -> Stack {
        let plan: Value = serde_json::from_str(include_str!(
            "../../model/tests/golden/lrc-authenticate-oidc-https/expected.plan.json"
        ))
        .unwrap();
        serde_json::from_value(plan["stacks"][0].clone()).unwrap()
    }

    fn key(key: &str) -> SecretKeyRef {
        SecretKeyRef { namespace: "shop".into(), name: "oidc-client".into(), key: key.into() }
    }

    #[test]
    fn references_are_replaced_by_the_secrets_values() {
        assert_eq!(references(&oidc_stack()), BTreeSet::from([key("clientID"), key("clientSecret")]));
        let resolved = substitute(&oidc_stack(), |r| Some(format!("{}.{}.{}", r.namespace, r.name, r.key))).unwrap();
        let text = serde_json::to_string(&resolved).unwrap();
        assert!(text.contains(r#""ClientId":{"Value":"shop.oidc-client.clientID"}"#), "{text}");
        assert!(text.contains(r#""ClientSecret":{"Value":"shop.oidc-client.clientSecret"}"#), "{text}");
        assert!(references(&resolved).is_empty());
        assert!(!format!("{resolved:?}").contains("shop.oidc-client"), "Debug never prints a value");
    }

    #[test]
    fn a_missing_secret_or_key_gives_one_message_naming_only_the_reference() {
        let mut data = SecretData::new();
        let missing_secret = from_data(&oidc_stack(), &data).unwrap_err();
        data.insert(("shop".into(), "oidc-client".into()), BTreeMap::from([("clientID".into(), "id\n".into())]));
        let missing_key = from_data(&oidc_stack(), &data).unwrap_err();
        assert_eq!(missing_secret, missing_key);
        let message = missing_key.to_string();
        assert!(
            message.contains("Secret shop/oidc-client with keys clientID and clientSecret cannot be read"),
            "{message}"
        );
        data.get_mut(&("shop".into(), "oidc-client".into())).unwrap().insert("clientSecret".into(), "s".into());
        let resolved = from_data(&oidc_stack(), &data).unwrap();
        let mut oidc = resolved.listeners.iter().flat_map(|l| &l.rules).flat_map(|r| &r.actions);
        let oidc = oidc.find_map(|a| a.authenticate_oidc_config.as_ref()).unwrap();
        assert_eq!(oidc.client_id, Credential::Value("id".into()), "the trailing newline is no part of it");
    }

    #[test]
    fn secret_reference_text_elsewhere_in_the_stack_is_never_read_nor_replaced() {
        let lure = "secret:victim-ns/db-creds#password";
        let mut stack = oidc_stack();
        stack.load_balancer.tags.push(albatross_model::plan::types::Tag { key: "team".into(), value: lure.into() });
        let rule = &mut stack.listeners[1].rules[0];
        rule.conditions[0].host_header_config.as_mut().unwrap().values.push(lure.into());
        let oidc = rule.actions[0].authenticate_oidc_config.as_mut().unwrap();
        oidc.scope = Some(lure.into());
        oidc.authentication_request_extra_params = Some(BTreeMap::from([("p".into(), lure.into())]));
        let mut asked = Vec::new();
        let resolved = substitute(&stack, |r| {
            asked.push(r.clone());
            Some("value".into())
        })
        .unwrap();
        assert_eq!(asked, vec![key("clientID"), key("clientSecret")]);
        let text = serde_json::to_string(&resolved).unwrap();
        assert_eq!(text.matches(lure).count(), 4, "{text}");
    }
}
