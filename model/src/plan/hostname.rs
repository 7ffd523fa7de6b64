//! Hostname matching per the Gateway API: listener and route hostnames intersect; a wildcard
//! `*.example.com` matches any name with that suffix (one or more labels).

/// The hostname an ALB rule matches for a route hostname under a listener hostname, if they
/// intersect: the more specific of the two.
pub fn intersect(listener: Option<&str>, route: &str) -> Option<String> {
    let Some(listener) = listener else { return Some(route.to_owned()) };
    if listener == route {
        return Some(route.to_owned());
    }
    match (listener.strip_prefix("*."), route.strip_prefix("*.")) {
        (Some(l), None) => route.ends_with(&format!(".{l}")).then(|| route.to_owned()),
        (None, Some(r)) => listener.ends_with(&format!(".{r}")).then(|| listener.to_owned()),
        (Some(l), Some(r)) => {
            if l.ends_with(&format!(".{r}")) || l == r {
                Some(listener.to_owned())
            } else if r.ends_with(&format!(".{l}")) {
                Some(route.to_owned())
            } else {
                None
            }
        }
        (None, None) => None,
    }
}

/// The hostnames a route gets on a listener: `None` when they do not intersect at all; an empty
/// list means "any host" (neither side names one).
pub fn compatible(listener: Option<&str>, route: &[String]) -> Option<Vec<String>> {
    if route.is_empty() {
        return Some(listener.map(|l| vec![l.to_owned()]).unwrap_or_default());
    }
    let mut out: Vec<String> = route.iter().filter_map(|h| intersect(listener, h)).collect();
    out.sort();
    out.dedup();
    (!out.is_empty()).then_some(out)
}

/// Does an ACM certificate name (`example.com` or `*.example.com`) cover `host`? A wildcard covers
/// exactly one label, as TLS does.
pub fn certificate_covers(name: &str, host: &str) -> bool {
    if name.eq_ignore_ascii_case(host) {
        return true;
    }
    match name.strip_prefix("*.") {
        Some(rest) => {
            host.split_once('.').is_some_and(|(first, tail)| !first.is_empty() && tail.eq_ignore_ascii_case(rest))
        }
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_intersect_with_the_more_specific_name_kept() {
        assert_eq!(intersect(Some("*.example.com"), "a.example.com").as_deref(), Some("a.example.com"));
        assert_eq!(intersect(Some("*.example.com"), "a.b.example.com").as_deref(), Some("a.b.example.com"));
        assert_eq!(intersect(Some("a.example.com"), "*.example.com").as_deref(), Some("a.example.com"));
        assert_eq!(intersect(Some("*.example.com"), "*.a.example.com").as_deref(), Some("*.a.example.com"));
        assert_eq!(intersect(Some("example.com"), "a.example.com"), None);
        assert_eq!(intersect(Some("*.example.com"), "example.com"), None);
        assert_eq!(intersect(None, "x.io").as_deref(), Some("x.io"));
    }

    #[test]
    fn routes_without_hostnames_take_the_listener_hostname() {
        assert_eq!(compatible(Some("a.io"), &[]), Some(vec!["a.io".to_owned()]));
        assert_eq!(compatible(None, &[]), Some(vec![]));
        assert_eq!(compatible(Some("a.io"), &["b.io".to_owned()]), None);
    }

    #[test]
    fn certificate_wildcards_cover_one_label() {
        assert!(certificate_covers("*.example.com", "a.example.com"));
        assert!(!certificate_covers("*.example.com", "a.b.example.com"));
        assert!(!certificate_covers("*.example.com", "example.com"));
        assert!(certificate_covers("Example.com", "example.com"));
    }
}
