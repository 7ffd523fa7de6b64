//! Reading manifests from files, folders and stdin.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use albatross_model::Validator;
use albatross_model::manifest::{self, Document, ParseError};
use albatross_model::plan::Snapshot;

/// Every document of every manifest that some paths name, each with its file's name.
pub struct Loaded {
    pub documents: Vec<(String, Document)>,
    pub malformed: Vec<(String, ParseError)>,
    /// Files or folders that could not be read, with the reason.
    pub unreadable: Vec<(String, String)>,
}

/// Reads files, folders (recursively) and `-` (stdin, named `<stdin>`).
pub fn load(paths: &[String]) -> Loaded {
    let mut loaded = Loaded { documents: Vec::new(), malformed: Vec::new(), unreadable: Vec::new() };
    for file in collect_files(paths, &mut loaded.unreadable) {
        let name = if file == Path::new("-") { "<stdin>".to_owned() } else { file.display().to_string() };
        match read(&file) {
            Ok(content) => {
                for doc in manifest::parse(&content) {
                    match doc {
                        Ok(doc) => loaded.documents.push((name.clone(), doc)),
                        Err(e) => loaded.malformed.push((name.clone(), e)),
                    }
                }
            }
            Err(e) => loaded.unreadable.push((name, e.to_string())),
        }
    }
    loaded
}

/// The objects of some manifests that validation accepts, with schema defaults, as a snapshot.
pub struct Admitted {
    pub snapshot: Snapshot,
    /// Secrets in the manifests, by (namespace, name): their keys and decoded values (OIDC client
    /// credentials in local mode).
    pub secrets: BTreeMap<(String, String), BTreeMap<String, String>>,
    /// Objects validation rejected plus objects the snapshot could not take.
    pub refused: usize,
}

/// Loads, validates and gathers manifests, reporting every problem on stderr. `None` when some
/// input could not be read or parsed: nothing should act on part of the input.
pub fn admit(validator: &Validator, paths: &[String], refused_as: &str) -> Option<Admitted> {
    let Loaded { documents, malformed, unreadable } = load(paths);
    for (file, error) in &unreadable {
        eprintln!("{file}: {error}");
    }
    for (file, error) in &malformed {
        eprintln!("{file}: {error}");
    }
    if !unreadable.is_empty() || !malformed.is_empty() {
        return None;
    }
    let values: Vec<&serde_json::Value> = documents.iter().map(|(_, d)| &d.value).collect();
    let outcomes = validator.validate_all(&values);
    let mut refused = 0;
    let mut accepted = Vec::new();
    for ((file, doc), outcome) in documents.iter().zip(&outcomes) {
        if outcome.allowed() {
            accepted.push(validator.with_defaults(&doc.value));
        } else {
            refused += 1;
            for e in &outcome.errors {
                eprintln!("{file}:{}: rejected, {refused_as}: {e}", doc.line);
            }
        }
    }
    let secrets = accepted.iter().filter_map(secret_of).collect();
    let (snapshot, skipped) = Snapshot::from_objects(accepted);
    for s in &skipped {
        eprintln!("{} {}: {refused_as}: {}", s.kind, s.key, s.reason);
    }
    Some(Admitted { snapshot, secrets, refused: refused + skipped.len() })
}

/// A core Secret's `data` (base64) and `stringData` (plain, which wins, as the API server
/// merges it).
fn secret_of(value: &serde_json::Value) -> Option<((String, String), BTreeMap<String, String>)> {
    use base64::Engine as _;
    if value.get("apiVersion")? != "v1" || value.get("kind")? != "Secret" {
        return None;
    }
    let text = |p: &str| value.pointer(p).and_then(serde_json::Value::as_str);
    let key = (text("/metadata/namespace").unwrap_or("default").to_owned(), text("/metadata/name")?.to_owned());
    let mut values = BTreeMap::new();
    for (k, v) in value.get("data").and_then(serde_json::Value::as_object).into_iter().flatten() {
        let decoded = v.as_str().and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok());
        if let Some(text) = decoded.and_then(|d| String::from_utf8(d).ok()) {
            values.insert(k.clone(), text);
        }
    }
    for (k, v) in value.get("stringData").and_then(serde_json::Value::as_object).into_iter().flatten() {
        if let Some(text) = v.as_str() {
            values.insert(k.clone(), text.to_owned());
        }
    }
    Some((key, values))
}

/// The manifest files a list of paths names, folders walked in name order.
fn collect_files(paths: &[String], unreadable: &mut Vec<(String, String)>) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for path in paths {
        if path == "-" {
            files.push(PathBuf::from("-"));
            continue;
        }
        let path = PathBuf::from(path);
        if path.is_dir() {
            walk(&path, &mut files, unreadable);
        } else {
            files.push(path);
        }
    }
    files
}

fn walk(dir: &Path, files: &mut Vec<PathBuf>, unreadable: &mut Vec<(String, String)>) {
    let mut entries: Vec<PathBuf> = match std::fs::read_dir(dir) {
        Ok(entries) => entries.filter_map(|e| e.ok().map(|e| e.path())).collect(),
        Err(e) => {
            unreadable.push((dir.display().to_string(), e.to_string()));
            return;
        }
    };
    entries.sort();
    for entry in entries {
        if entry.is_dir() {
            walk(&entry, files, unreadable);
        } else if entry.extension().and_then(|e| e.to_str()).is_some_and(|e| matches!(e, "yaml" | "yml" | "json")) {
            files.push(entry);
        }
    }
}

fn read(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}
