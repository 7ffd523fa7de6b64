//! Manifest files: multi-document YAML (or JSON) and `kind: List`, each object with the line it
//! starts on, so problems can be reported as `FILE:LINE`. A malformed document is reported and
//! the others still parse.

use serde::Deserialize;
use serde_json::Value;

/// One object of a manifest and the 1-based line where it starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Document {
    pub line: usize,
    pub value: Value,
}

/// A document that could not be read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct ParseError {
    pub line: usize,
    pub message: String,
}

/// Splits `text` into documents and parses each. Empty documents are skipped; `kind: List`
/// is expanded into its items.
pub fn parse(text: &str) -> Vec<Result<Document, ParseError>> {
    let mut out = Vec::new();
    for (first_line, chunk) in split_documents(text) {
        let Some(offset) = chunk.lines().position(|l| !is_blank(l)) else { continue };
        let line = first_line + offset;
        match parse_one(&chunk) {
            Ok(Value::Null) => {}
            Ok(value) if value.is_object() => expand(value, line, &mut out),
            Ok(other) => out.push(Err(ParseError {
                line,
                message: format!("expected a Kubernetes object (a mapping), found {}", kind_of(&other)),
            })),
            Err((at, message)) => out.push(Err(ParseError { line: at.map_or(line, |l| first_line + l - 1), message })),
        }
    }
    out
}

fn parse_one(chunk: &str) -> Result<Value, (Option<usize>, String)> {
    // Through YAML's own value first: it refuses duplicate keys, as kubectl does, where a JSON
    // map would silently keep the last one.
    let de = serde_norway::Deserializer::from_str(chunk);
    let yaml = serde_norway::Value::deserialize(de).map_err(|e| (e.location().map(|l| l.line()), e.to_string()))?;
    serde_json::to_value(yaml).map_err(|e| (None, e.to_string()))
}

fn expand(value: Value, line: usize, out: &mut Vec<Result<Document, ParseError>>) {
    let is_list = value.get("kind").and_then(Value::as_str).is_some_and(|k| k == "List" || k.ends_with("List"))
        && value.get("items").is_some_and(Value::is_array);
    if !is_list {
        out.push(Ok(Document { line, value }));
        return;
    }
    let Value::Object(mut map) = value else { return };
    if let Some(Value::Array(items)) = map.remove("items") {
        for item in items {
            if item.is_object() {
                out.push(Ok(Document { line, value: item }));
            } else {
                out.push(Err(ParseError {
                    line,
                    message: format!("List item is not an object but {}", kind_of(&item)),
                }));
            }
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a sequence",
        Value::Object(_) => "a mapping",
    }
}

fn is_blank(line: &str) -> bool {
    let t = line.trim();
    t.is_empty() || t.starts_with('#') || t == "---" || t.starts_with("--- ") || t.starts_with("%")
}

fn is_separator(line: &str) -> bool {
    line == "---" || line.starts_with("--- ") || line.starts_with("---\t") || line == "..."
}

/// `(first line number, text)` of each document, split on `---` at the start of a line.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    let mut start = 1;
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if is_separator(line.trim_end_matches('\r')) {
            docs.push((start, std::mem::take(&mut current)));
            // A separator may carry content after it (`--- {a: 1}`); keep that on the new document.
            let rest = line.strip_prefix("---").unwrap_or("").trim();
            start = line_no;
            if !rest.is_empty() && !rest.starts_with('#') {
                current.push_str(rest);
            }
            current.push('\n');
            continue;
        }
        current.push_str(line);
        current.push('\n');
    }
    docs.push((start, current));
    docs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documents_carry_the_line_they_start_on() {
        let text = "# header\napiVersion: v1\nkind: A\n---\n\n---\napiVersion: v1\nkind: B\n";
        let docs: Vec<_> = parse(text).into_iter().map(Result::unwrap).collect();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[0].line, 2);
        assert_eq!(docs[1].line, 7);
        assert_eq!(docs[1].value["kind"], "B");
    }

    #[test]
    fn a_malformed_document_is_reported_with_its_line_and_the_rest_still_parse() {
        let text = "kind: A\n---\nkind: B\n  bad: [\n---\nkind: C\n";
        let docs = parse(text);
        assert_eq!(docs.len(), 3);
        assert!(docs[0].is_ok());
        let err = docs[1].as_ref().unwrap_err();
        assert!((3..=5).contains(&err.line), "line {}", err.line);
        assert_eq!(docs[2].as_ref().unwrap().value["kind"], "C");
    }

    #[test]
    fn lists_expand_into_their_items() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- kind: A\n- kind: B\n";
        let docs: Vec<_> = parse(text).into_iter().map(Result::unwrap).collect();
        assert_eq!(docs.iter().map(|d| d.value["kind"].as_str().unwrap()).collect::<Vec<_>>(), ["A", "B"]);
    }

    #[test]
    fn json_documents_parse() {
        let docs = parse(r#"{"apiVersion": "v1", "kind": "A"}"#);
        assert_eq!(docs.len(), 1);
        assert!(docs[0].is_ok());
    }

    #[test]
    fn duplicate_keys_are_an_error() {
        let docs = parse("apiVersion: v1\nkind: A\nkind: B\n");
        let err = docs[0].as_ref().unwrap_err();
        assert!(err.message.contains("duplicate"), "{}", err.message);
    }

    #[test]
    fn scalars_are_not_objects() {
        let docs = parse("just a string\n");
        assert!(docs[0].as_ref().unwrap_err().message.contains("mapping"));
    }
}
