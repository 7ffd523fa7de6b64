//! Reading the AdmissionReview envelope in one pass over the body without building a `Value` of
//! what the webhook never reads: the request's members it uses are kept as raw JSON borrowed from
//! the body (others, such as `userInfo` and `resource`, are skipped unparsed), and the object,
//! which every answer but a DELETE's needs, is parsed into a `Value` as the pass meets it.

use std::borrow::Cow;
use std::fmt;

use albatross_model::Operation;
use serde::Deserialize;
use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use serde_json::error::Category;
use serde_json::value::RawValue;

/// A JSON string, borrowed from the body unless it has escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Strings;
        impl<'de> Visitor<'de> for Strings {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E>(self, v: String) -> Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(v)))
            }
        }
        deserializer.deserialize_str(Strings)
    }
}

/// The members named in `.0` of a JSON object, each as raw JSON; the others are checked for
/// syntax and skipped. A repeated member keeps its last value, as in a `Value`.
struct Members<const N: usize>([&'static str; N]);

impl<'de, const N: usize> DeserializeSeed<'de> for Members<N> {
    type Value = [Option<&'de RawValue>; N];

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de, const N: usize> Visitor<'de> for Members<N> {
    type Value = [Option<&'de RawValue>; N];

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = [None; N];
        while let Some(Text(key)) = map.next_key()? {
            match self.0.iter().position(|name| *name == key) {
                Some(i) => found[i] = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(found)
    }
}

/// Members of one JSON text; `None` if it is not an object. Syntax was checked with the body.
fn members<'a, const N: usize>(raw: &'a RawValue, names: [&'static str; N]) -> Option<[Option<&'a RawValue>; N]> {
    Members(names).deserialize(&mut serde_json::Deserializer::from_str(raw.get())).ok()
}

/// The string a member holds; `None` if absent or not a string.
fn text(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw?.get();
    if !raw.starts_with('"') {
        return None;
    }
    serde_json::from_str::<Text>(raw).ok().map(|t| t.0)
}

fn is_object(raw: Option<&RawValue>) -> Option<&RawValue> {
    raw.filter(|r| r.get().starts_with('{'))
}

/// The parts of an AdmissionReview request the webhook reads.
#[derive(Debug)]
pub struct Request<'a> {
    pub uid: Cow<'a, str>,
    pub operation: Operation,
    pub operation_label: &'static str,
    /// `request.kind`: empty strings where absent.
    pub group: Cow<'a, str>,
    pub version: Cow<'a, str>,
    pub kind: Cow<'a, str>,
    /// `request.namespace` as given: `Some(None)` when present but not a string.
    pub namespace: Option<Option<Cow<'a, str>>>,
    /// `request.kind.kind` as given, whatever its type.
    kind_member: Option<&'a RawValue>,
    /// `request.object`, if it is an object.
    pub object: Option<Value>,
    old_object: Option<&'a RawValue>,
}

/// Why a body is not a review the webhook can answer; the message goes back with a 400.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Malformed(pub String);

fn operation(op: &str) -> Option<(Operation, &'static str)> {
    Some(match op {
        "CREATE" => (Operation::Create, "CREATE"),
        "UPDATE" => (Operation::Update, "UPDATE"),
        "DELETE" => (Operation::Delete, "DELETE"),
        "CONNECT" => (Operation::Connect, "CONNECT"),
        _ => return None,
    })
}

/// The label of an operation, `other` if it is none of the four.
pub fn operation_label(op: &str) -> &'static str {
    operation(op).map_or("other", |(_, label)| label)
}

/// The top of a review: `kind` and `apiVersion` raw, the request's members as it is read.
#[derive(Default)]
struct Top<'a> {
    kind: Option<&'a RawValue>,
    api_version: Option<&'a RawValue>,
    /// `Some(None)`: a request that is not an object.
    request: Option<Option<Parts<'a>>>,
}

/// The members of `request` the webhook reads; a repeated member keeps its last value.
#[derive(Default)]
struct Parts<'a> {
    uid: Option<&'a RawValue>,
    operation: Option<&'a RawValue>,
    kind: Option<&'a RawValue>,
    namespace: Option<&'a RawValue>,
    object: Option<Value>,
    old_object: Option<&'a RawValue>,
}

struct TopVisitor;

impl<'de> Visitor<'de> for TopVisitor {
    type Value = Top<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Top<'de>, A::Error> {
        let mut top = Top::default();
        while let Some(Text(key)) = map.next_key()? {
            match &*key {
                "kind" => top.kind = Some(map.next_value()?),
                "apiVersion" => top.api_version = Some(map.next_value()?),
                "request" => top.request = Some(map.next_value_seed(RequestSeed)?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(top)
    }
}

/// `request`: its members if it is an object, `None` (after checking its syntax) if not.
struct RequestSeed;

impl<'de> DeserializeSeed<'de> for RequestSeed {
    type Value = Option<Parts<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Self::Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RequestSeed {
    type Value = Option<Parts<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parts = Parts::default();
        while let Some(Text(key)) = map.next_key()? {
            let slot = match &*key {
                "uid" => &mut parts.uid,
                "operation" => &mut parts.operation,
                "kind" => &mut parts.kind,
                "namespace" => &mut parts.namespace,
                "oldObject" => &mut parts.old_object,
                "object" => {
                    parts.object = Some(map.next_value::<Value>()?).filter(Value::is_object);
                    continue;
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                    continue;
                }
            };
            *slot = Some(map.next_value()?);
        }
        Ok(Some(parts))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(None)
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_i64<E>(self, _: i64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_u64<E>(self, _: u64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_str<E>(self, _: &str) -> Result<Self::Value, E> {
        Ok(None)
    }
}

/// Reads an AdmissionReview v1 body as far as its request's uid, operation, kind and object.
pub fn read(body: &[u8]) -> Result<Request<'_>, Malformed> {
    // One UTF-8 check of the whole body is cheaper than the parser's check of every string.
    let body = std::str::from_utf8(body).map_err(|e| Malformed(format!("body is not JSON: {e}")))?;
    let mut de = serde_json::Deserializer::from_str(body);
    let top = de.deserialize_map(TopVisitor).and_then(|top| de.end().map(|()| top));
    let top = match top {
        Ok(top) => top,
        // JSON of another shape (an array, say) is not a review; say so if it is JSON at all.
        Err(e) => match e.classify() == Category::Data {
            true => serde_json::from_str::<IgnoredAny>(body).map(|_| Top::default()).map_err(not_json)?,
            false => return Err(not_json(e)),
        },
    };
    if text(top.kind).as_deref() != Some("AdmissionReview") {
        return Err(Malformed("body is not an AdmissionReview (kind must be AdmissionReview)".into()));
    }
    let api_version = text(top.api_version).unwrap_or_default();
    if api_version != "admission.k8s.io/v1" {
        return Err(Malformed(format!(
            "unsupported AdmissionReview apiVersion {api_version:?}; expected admission.k8s.io/v1"
        )));
    }
    let Some(Some(parts)) = top.request else {
        return Err(Malformed("AdmissionReview has no request".into()));
    };
    let Some(uid) = text(parts.uid) else {
        return Err(Malformed("AdmissionReview request has no uid".into()));
    };
    let op = text(parts.operation).unwrap_or_default();
    let Some((operation, operation_label)) = self::operation(&op) else {
        return Err(Malformed(format!("AdmissionReview request has an unknown operation {op:?}")));
    };
    let [group, version, kind] =
        is_object(parts.kind).and_then(|k| members(k, ["group", "version", "kind"])).unwrap_or_default();
    Ok(Request {
        uid,
        operation,
        operation_label,
        group: text(group).unwrap_or_default(),
        version: text(version).unwrap_or_default(),
        kind: text(kind).unwrap_or_default(),
        kind_member: kind,
        namespace: parts.namespace.map(|n| text(Some(n))),
        object: parts.object,
        old_object: is_object(parts.old_object),
    })
}

impl Request<'_> {
    /// `request.kind.kind` as a `Value`, if present.
    pub fn kind_member(&self) -> Option<Value> {
        self.kind_member.and_then(|raw| serde_json::from_str(raw.get()).ok())
    }

    /// `request.oldObject` as a `Value`, if it is an object; parsed only by who compares with it.
    pub fn old_object(&self) -> Result<Option<Value>, Malformed> {
        self.old_object.map(|r| serde_json::from_str(r.get()).map_err(not_json)).transpose()
    }
}

fn not_json(e: serde_json::Error) -> Malformed {
    Malformed(format!("body is not JSON: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_read_past_escapes_repeats_and_unread_parts() {
        let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
            "u\u0069d":"a\"b","userInfo":{"deep":[[[[[[1]]]]]]},"operation":"DELETE","operation":"CREATE",
            "kind":{"group":"","version":"v1","kind":"Pod"},"namespace":null,"object":{"a":1},"oldObject":null}}"#;
        let request = read(body).unwrap();
        assert_eq!(request.uid, "a\"b");
        assert_eq!(request.operation_label, "CREATE", "the last of a repeated member counts, as in a Value");
        assert_eq!((&*request.group, &*request.version, &*request.kind), ("", "v1", "Pod"));
        assert_eq!(request.namespace, Some(None));
        assert_eq!(request.object, Some(serde_json::json!({"a": 1})));
        assert_eq!(request.old_object().unwrap(), None);
    }

    #[test]
    fn not_a_review_is_told_apart_from_not_json() {
        let message = |body: &[u8]| read(body).unwrap_err().0;
        assert!(message(b"not json").contains("not JSON"));
        assert!(message(b"{\"kind\":\"\xff\"}").contains("not JSON"), "not UTF-8");
        assert!(message(br#"{"kind":"AdmissionReview"} x"#).contains("not JSON"), "trailing bytes");
        assert!(message(b"[1]").contains("not an AdmissionReview"));
        assert!(message(b"[1] x").contains("not JSON"));
        assert!(message(br#"{"kind":"Pod","apiVersion":"v1"}"#).contains("not an AdmissionReview"));
        let review = |request: &str| {
            format!(r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{request}}}"#)
        };
        assert!(message(review("[]").as_bytes()).contains("has no request"));
        assert!(message(review(r#"{"operation":"CREATE"}"#).as_bytes()).contains("no uid"));
        assert!(message(review(r#"{"uid":"u","operation":"PATCH"}"#).as_bytes()).contains("unknown operation"));
    }

    #[test]
    fn an_object_nested_past_the_parser_limit_is_refused() {
        let deep = format!("{}{}", "[".repeat(1000), "]".repeat(1000));
        let body = format!(
            r#"{{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{{"uid":"u","operation":"CREATE","object":{{"a":{deep}}}}}}}"#
        );
        assert!(read(body.as_bytes()).unwrap_err().0.contains("recursion limit"));
    }
}
