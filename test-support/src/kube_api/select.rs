//! Label and field selectors, as in `?labelSelector=` and `?fieldSelector=`.

use serde_json::Value;

/// One requirement of a label selector.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Label {
    Eq(String, String),
    NotEq(String, String),
    Exists(String),
    NotExists(String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
}

/// A parsed `labelSelector`: equality (`a=b`, `a==b`, `a!=b`), existence (`a`, `!a`) and set
/// (`a in (x,y)`, `a notin (x)`) requirements joined by commas; all must hold.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct LabelSelector(Vec<Label>);

impl LabelSelector {
    pub(crate) fn parse(text: &str) -> Result<LabelSelector, SelectorError> {
        let mut requirements = Vec::new();
        for part in split_top_level(text) {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            requirements.push(parse_requirement(part)?);
        }
        Ok(LabelSelector(requirements))
    }

    /// Whether an object (its `metadata.labels`) satisfies every requirement.
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let labels = object.pointer("/metadata/labels").and_then(Value::as_object);
        let label = |key: &str| labels.and_then(|l| l.get(key)).and_then(Value::as_str);
        self.0.iter().all(|r| match r {
            Label::Eq(k, v) => label(k) == Some(v),
            Label::NotEq(k, v) => label(k) != Some(v),
            Label::Exists(k) => label(k).is_some(),
            Label::NotExists(k) => label(k).is_none(),
            Label::In(k, values) => label(k).is_some_and(|l| values.iter().any(|v| v == l)),
            Label::NotIn(k, values) => label(k).is_none_or(|l| !values.iter().any(|v| v == l)),
        })
    }
}

/// Splits on commas outside parentheses (`a in (x,y),b` is two requirements).
fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0usize, 0usize);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

/// A selector the API server would answer 400.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum SelectorError {
    /// A label requirement that does not parse.
    #[error("invalid label selector requirement {0:?}")]
    Label(String),
    /// `in` or `notin` without a parenthesised set.
    #[error("invalid label selector requirement {0:?}: expected (values)")]
    LabelSet(String),
    /// A field requirement that does not parse.
    #[error("invalid field selector requirement {0:?}")]
    Field(String),
}

fn parse_requirement(part: &str) -> Result<Label, SelectorError> {
    let key = |k: &str| -> Result<String, SelectorError> {
        let k = k.trim();
        if k.is_empty() || k.contains(char::is_whitespace) {
            return Err(SelectorError::Label(part.to_owned()));
        }
        Ok(k.to_owned())
    };
    if let Some((k, v)) = part.split_once("!=") {
        return Ok(Label::NotEq(key(k)?, v.trim().to_owned()));
    }
    if let Some((k, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
        return Ok(Label::Eq(key(k)?, v.trim().to_owned()));
    }
    for (word, negated) in [(" notin ", true), (" in ", false)] {
        if let Some((k, set)) = part.split_once(word) {
            let set = set.trim();
            let inner = set
                .strip_prefix('(')
                .and_then(|s| s.strip_suffix(')'))
                .ok_or_else(|| SelectorError::LabelSet(part.to_owned()))?;
            let values = inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect();
            return Ok(if negated { Label::NotIn(key(k)?, values) } else { Label::In(key(k)?, values) });
        }
    }
    match part.strip_prefix('!') {
        Some(k) => Ok(Label::NotExists(key(k)?)),
        None => Ok(Label::Exists(key(part)?)),
    }
}

/// A parsed `fieldSelector`: `path=value`, `path==value`, `path!=value` joined by commas.
///
/// Any dotted path into the object is accepted (`metadata.name`, `metadata.namespace`,
/// `spec.type`, `involvedObject.name`, ...), compared as a string; a missing field is "". The
/// real API server only allows a few fields per type and answers 400 for the others.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    pub(crate) fn parse(text: &str) -> Result<FieldSelector, SelectorError> {
        let mut requirements = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (path, equal, value) = if let Some((p, v)) = part.split_once("!=") {
                (p, false, v)
            } else if let Some((p, v)) = part.split_once("==").or_else(|| part.split_once('=')) {
                (p, true, v)
            } else {
                return Err(SelectorError::Field(part.to_owned()));
            };
            requirements.push((path.trim().to_owned(), equal, value.trim().to_owned()));
        }
        Ok(FieldSelector(requirements))
    }

    pub(crate) fn matches(&self, object: &Value) -> bool {
        self.0.iter().all(|(path, equal, value)| {
            let mut current = Some(object);
            for key in path.split('.') {
                current = current.and_then(|v| v.get(key));
            }
            let actual = match current {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            (actual == *value) == *equal
        })
    }
}

/// What a list or a watch selects among the objects of one type.
#[derive(Clone, Debug, Default)]
pub(crate) struct Filter {
    /// From the path (`namespaces/{ns}/...`); `None`: every namespace.
    pub namespace: Option<String>,
    /// From the path of a watch on one object (`.../{name}?watch=true`).
    pub name: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl Filter {
    pub(crate) fn matches(&self, object: &Value) -> bool {
        let meta = |key: &str| object.pointer(&format!("/metadata/{key}")).and_then(Value::as_str);
        self.namespace.as_deref().is_none_or(|ns| meta("namespace") == Some(ns))
            && self.name.as_deref().is_none_or(|name| meta("name") == Some(name))
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labelled(labels: Value) -> Value {
        json!({"metadata": {"name": "x", "namespace": "n", "labels": labels}})
    }

    #[test]
    fn label_selectors_follow_kubernetes_grammar() {
        let o = labelled(json!({"app": "web", "tier": "front"}));
        let m = |s: &str| LabelSelector::parse(s).unwrap().matches(&o);
        assert!(m(""));
        assert!(m("app=web"));
        assert!(m("app==web,tier"));
        assert!(!m("app!=web"));
        assert!(m("!missing"));
        assert!(!m("!app"));
        assert!(!m("missing"));
        assert!(m("app in (api, web),tier notin (back)"));
        assert!(!m("app notin (web)"));
        assert!(m("missing notin (web)"));
        assert!(!m("app=web,tier=back"));
        assert!(LabelSelector::parse("a in x").is_err());
    }

    #[test]
    fn field_selectors_compare_dotted_paths() {
        let o = labelled(json!({}));
        let m = |s: &str| FieldSelector::parse(s).unwrap().matches(&o);
        assert!(m("metadata.name=x"));
        assert!(m("metadata.name=x,metadata.namespace==n"));
        assert!(!m("metadata.name!=x"));
        assert!(m("spec.missing="));
        assert!(FieldSelector::parse("nonsense").is_err());
    }
}
