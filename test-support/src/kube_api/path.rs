//! Request paths of the Kubernetes API, parsed without looking at the registered types (so that
//! [`crate::kube_api::Recorded`] can be classified after the fact, too).

/// What a request path addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// `GET /version`
    Version,
    /// `GET /api`: the core group's versions.
    CoreVersions,
    /// `GET /apis`: every named group.
    Groups,
    /// `GET /apis/{group}`
    Group(String),
    /// `GET /api/v1` or `GET /apis/{group}/{version}`: the resources of one group version.
    GroupVersion {
        group: String,
        version: String,
    },
    /// An object, a collection or a subresource.
    Resource(ResourcePath),
    Unknown,
}

impl Route {
    /// Discovery and `/version` requests, which are not recorded.
    pub(crate) fn is_discovery(&self) -> bool {
        matches!(
            self,
            Route::Version | Route::CoreVersions | Route::Groups | Route::Group(_) | Route::GroupVersion { .. }
        )
    }
}

/// `/api/v1/...` (group "") or `/apis/{group}/{version}/...`, split into its parts.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    /// From `namespaces/{ns}/...`; `None` for cluster-scoped paths and lists across namespaces.
    pub namespace: Option<String>,
    pub plural: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Subresources of `namespaces/{name}`; any other third segment after `namespaces/{x}` is a
/// namespaced resource's plural (no resource is called `status` or `finalize`).
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

pub(crate) fn parse(path: &str) -> Route {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').skip(1).collect();
    let segments: Vec<String> = segments.iter().map(|s| percent_decode(s)).collect();
    let s: Vec<&str> = segments.iter().map(String::as_str).collect();
    match s.as_slice() {
        ["version"] => Route::Version,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["apis", group] => Route::Group((*group).to_owned()),
        ["api", version] => Route::GroupVersion { group: String::new(), version: (*version).to_owned() },
        ["apis", group, version] => Route::GroupVersion { group: (*group).to_owned(), version: (*version).to_owned() },
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Route::Unknown,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let owned = |s: &str| s.to_owned();
    let (namespace, plural, name, subresource) = match rest {
        [plural] => (None, *plural, None, None),
        ["namespaces", name, sub] if NAMESPACE_SUBRESOURCES.contains(sub) => {
            (None, "namespaces", Some(*name), Some(*sub))
        }
        ["namespaces", ns, plural] => (Some(*ns), *plural, None, None),
        ["namespaces", ns, plural, name] => (Some(*ns), *plural, Some(*name), None),
        ["namespaces", ns, plural, name, sub] => (Some(*ns), *plural, Some(*name), Some(*sub)),
        [plural, name] => (None, *plural, Some(*name), None),
        [plural, name, sub] => (None, *plural, Some(*name), Some(*sub)),
        _ => return Route::Unknown,
    };
    if plural.is_empty() || name == Some("") || namespace == Some("") {
        return Route::Unknown;
    }
    Route::Resource(ResourcePath {
        group: owned(group),
        version: owned(version),
        namespace: namespace.map(owned),
        plural: owned(plural),
        name: name.map(owned),
        subresource: subresource.map(owned),
    })
}

/// Decodes `%XX` escapes (object names never need them, but a client may escape anyway).
fn percent_decode(segment: &str) -> String {
    if !segment.contains('%') {
        return segment.to_owned();
    }
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%'
            && i + 2 < bytes.len()
            && let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rp(group: &str, ns: Option<&str>, plural: &str, name: Option<&str>, sub: Option<&str>) -> Route {
        Route::Resource(ResourcePath {
            group: group.into(),
            version: "v1".into(),
            namespace: ns.map(Into::into),
            plural: plural.into(),
            name: name.map(Into::into),
            subresource: sub.map(Into::into),
        })
    }

    #[test]
    fn paths_are_split_like_the_api_server_does() {
        assert_eq!(parse("/api"), Route::CoreVersions);
        assert_eq!(parse("/api/v1"), Route::GroupVersion { group: "".into(), version: "v1".into() });
        assert_eq!(parse("/apis/g.io"), Route::Group("g.io".into()));
        assert_eq!(parse("/api/v1/namespaces"), rp("", None, "namespaces", None, None));
        assert_eq!(parse("/api/v1/namespaces/a"), rp("", None, "namespaces", Some("a"), None));
        assert_eq!(parse("/api/v1/namespaces/a/status"), rp("", None, "namespaces", Some("a"), Some("status")));
        assert_eq!(parse("/api/v1/namespaces/a/configmaps"), rp("", Some("a"), "configmaps", None, None));
        assert_eq!(
            parse("/api/v1/namespaces/a/services/s/status"),
            rp("", Some("a"), "services", Some("s"), Some("status"))
        );
        assert_eq!(
            parse("/apis/g.io/v1/gatewayclasses/c/status"),
            rp("g.io", None, "gatewayclasses", Some("c"), Some("status"))
        );
        assert_eq!(parse("/apis/g.io/v1/gateways"), rp("g.io", None, "gateways", None, None));
        assert_eq!(
            parse("/apis/g.io/v1/namespaces/n/gateways/x%2Dy"),
            rp("g.io", Some("n"), "gateways", Some("x-y"), None)
        );
        assert_eq!(parse("/healthz"), Route::Unknown);
        assert_eq!(parse("/api/v1/namespaces/a/b/c/d/e"), Route::Unknown);
    }
}
