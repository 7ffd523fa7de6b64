//! ObjectMeta checks the API server makes before any schema: name, namespace, label and annotation
//! keys.

use serde_json::Value;

use super::FieldError;
use super::path::child;

/// Lowercase RFC 1123 subdomain, at most 253 characters.
pub fn is_dns_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= 253 && s.split('.').all(is_label_shape)
}

/// Lowercase RFC 1123 label, at most 63 characters.
pub fn is_dns_label(s: &str) -> bool {
    !s.is_empty() && s.len() <= 63 && is_label_shape(s)
}

fn is_label_shape(s: &str) -> bool {
    let bytes = s.as_bytes();
    !bytes.is_empty()
        && bytes.iter().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes[0] != b'-'
        && bytes[bytes.len() - 1] != b'-'
}

/// Label and annotation keys: an optional DNS subdomain prefix and `/`, then a name of 1-63
/// characters of alphanumerics, `-`, `_`, `.`, starting and ending alphanumeric.
pub fn is_qualified_name(key: &str) -> bool {
    let (prefix, name) = match key.split_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, key),
    };
    let name_ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name.as_bytes()[name.len() - 1].is_ascii_alphanumeric();
    name_ok && prefix.is_none_or(is_dns_subdomain)
}

fn is_label_value(v: &str) -> bool {
    v.is_empty()
        || (v.len() <= 63
            && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && v.as_bytes()[0].is_ascii_alphanumeric()
            && v.as_bytes()[v.len() - 1].is_ascii_alphanumeric())
}

pub fn check(meta: Option<&Value>, namespaced: bool, out: &mut Vec<FieldError>) {
    let Some(meta) = meta.and_then(Value::as_object) else {
        out.push(FieldError::new("metadata.name", "Required value: name or generateName is required"));
        return;
    };
    match (meta.get("name"), meta.get("generateName")) {
        (Some(Value::String(name)), _) => {
            if !is_dns_subdomain(name) {
                out.push(FieldError::new(
                    "metadata.name",
                    format!(
                        "Invalid value: {name:?}: a lowercase RFC 1123 subdomain must consist of lower case \
                         alphanumeric characters, '-' or '.', and must start and end with an alphanumeric \
                         character (at most 253 characters)"
                    ),
                ));
            }
        }
        (None, Some(Value::String(_))) => {}
        (Some(other), _) => {
            out.push(FieldError::new("metadata.name", format!("Invalid value: {other}: must be a string")))
        }
        (None, _) => out.push(FieldError::new("metadata.name", "Required value: name or generateName is required")),
    }
    if let Some(ns) = meta.get("namespace") {
        match ns.as_str() {
            Some(ns) if !namespaced => {
                let _ = ns; // the API server ignores a namespace on cluster-scoped objects
            }
            Some(ns) if !is_dns_label(ns) => out.push(FieldError::new(
                "metadata.namespace",
                format!("Invalid value: {ns:?}: a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-' (at most 63 characters)"),
            )),
            Some(_) => {}
            None => out.push(FieldError::new("metadata.namespace", format!("Invalid value: {ns}: must be a string"))),
        }
    }
    for (field, values_are_labels) in [("labels", true), ("annotations", false)] {
        let Some(entries) = meta.get(field) else { continue };
        let Some(entries) = entries.as_object() else {
            out.push(FieldError::new(&format!("metadata.{field}"), "Invalid value: must be a map of strings"));
            continue;
        };
        for (key, value) in entries {
            let path = child(&format!("metadata.{field}"), key);
            if !is_qualified_name(key) {
                out.push(FieldError::new(
                    &path,
                    format!("Invalid value: {key:?}: name part must consist of alphanumeric characters, '-', '_' or '.', at most 63 characters, with an optional DNS subdomain prefix and '/'"),
                ));
            }
            match value.as_str() {
                Some(v) if values_are_labels && !is_label_value(v) => out.push(FieldError::new(
                    &path,
                    format!("Invalid value: {v:?}: a label value must be empty or at most 63 alphanumeric characters, '-', '_' or '.', starting and ending alphanumeric"),
                )),
                Some(_) => {}
                None => out.push(FieldError::new(&path, format!("Invalid value: {value}: must be a string"))),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qualified_names_accept_prefixed_keys_and_refuse_bad_ones() {
        assert!(is_qualified_name("app.kubernetes.io/name"));
        assert!(is_qualified_name("team"));
        assert!(!is_qualified_name("Bad_Prefix/x"));
        assert!(!is_qualified_name("-x"));
        assert!(!is_qualified_name(""));
    }

    #[test]
    fn names_must_be_lowercase_subdomains() {
        assert!(is_dns_subdomain("my-gateway.v1"));
        assert!(!is_dns_subdomain("My-Gateway"));
        assert!(!is_dns_subdomain("a..b"));
        assert!(is_dns_label("default"));
        assert!(!is_dns_label("a.b"));
    }
}
