//! Reading manifests from files, folders and stdin.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The manifest files a list of paths names, folders walked in name order.
pub fn collect_files(paths: &[String], unreadable: &mut Vec<(String, String)>) -> Vec<PathBuf> {
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

pub fn read(path: &Path) -> std::io::Result<String> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text)?;
        Ok(text)
    } else {
        std::fs::read_to_string(path)
    }
}
