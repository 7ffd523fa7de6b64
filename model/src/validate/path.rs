//! Field paths in the API server's notation: `spec.listeners[0].tls.mode`.

pub fn child(parent: &str, key: &str) -> String {
    let simple = !key.is_empty() && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    match (parent.is_empty(), simple) {
        (true, true) => key.to_owned(),
        (false, true) => format!("{parent}.{key}"),
        (_, false) => format!("{parent}[{key:?}]"),
    }
}

pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_with_dots_or_slashes_are_bracketed() {
        assert_eq!(child("metadata.labels", "app.kubernetes.io/name"), "metadata.labels[\"app.kubernetes.io/name\"]");
        assert_eq!(child("", "spec"), "spec");
        assert_eq!(index(&child("spec", "listeners"), 2), "spec.listeners[2]");
    }
}
