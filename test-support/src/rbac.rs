//! Reads RBAC objects from manifests and answers whether a request is granted.
//!
//! [`Rbac::load`] reads multi-document YAML files (and folders of them) and keeps the
//! `ClusterRole`, `Role`, `ClusterRoleBinding` and `RoleBinding` objects, including those inside a
//! `kind: List`. [`Rbac::for_service_account`] narrows it to what one ServiceAccount is granted;
//! [`Rbac::allows`] then follows the Kubernetes RBAC authorizer and [`Rbac::rules`] lists every
//! grant, so a test can check both that each request the code makes is allowed and that nothing
//! else is.
//!
//! ```
//! use albatross_test_support::rbac::Rbac;
//! let rbac = Rbac::from_yaml(
//!     "apiVersion: rbac.authorization.k8s.io/v1
//! kind: Role
//! metadata: {name: r, namespace: ns}
//! rules:
//! - {apiGroups: [coordination.k8s.io], resources: [leases], resourceNames: [leader], verbs: [get, update]}
//! ---
//! apiVersion: rbac.authorization.k8s.io/v1
//! kind: RoleBinding
//! metadata: {name: r, namespace: ns}
//! roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
//! subjects: [{kind: ServiceAccount, name: sa, namespace: ns}]
//! ",
//! )
//! .unwrap()
//! .for_service_account("ns", "sa");
//! assert!(rbac.allows("get", "coordination.k8s.io", "leases", None, Some("ns"), Some("leader")));
//! assert!(!rbac.allows("get", "coordination.k8s.io", "leases", None, Some("other"), Some("leader")));
//! assert!(!rbac.allows("list", "coordination.k8s.io", "leases", None, Some("ns"), None));
//! ```

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

/// One permission: `verb` on `group`/`resource` (`"res"`, `"res/sub"`, `"*"` or `"*/sub"`, as
/// written in the rule), in `namespace` (`None`: every namespace and cluster-scoped objects),
/// restricted to `resource_names` when that is not empty.
///
/// A rule's `nonResourceURLs` become grants with an empty `group` and the URL (which starts
/// with `/`) as `resource`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Grant {
    pub verb: String,
    pub group: String,
    pub resource: String,
    pub namespace: Option<String>,
    pub resource_names: Vec<String>,
}

impl fmt::Display for Grant {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let group = if self.group.is_empty() { "core" } else { &self.group };
        write!(f, "{} {group}/{}", self.verb, self.resource)?;
        match &self.namespace {
            Some(ns) => write!(f, " in namespace {ns}")?,
            None => write!(f, " cluster-wide")?,
        }
        if !self.resource_names.is_empty() {
            write!(f, " named {}", self.resource_names.join(","))?;
        }
        Ok(())
    }
}

/// A PolicyRule of a role.
#[derive(Debug, Clone, Default)]
struct Rule {
    verbs: Vec<String>,
    api_groups: Vec<String>,
    resources: Vec<String>,
    resource_names: Vec<String>,
    non_resource_urls: Vec<String>,
}

#[derive(Debug, Clone)]
struct Role {
    /// `None` for a ClusterRole.
    namespace: Option<String>,
    name: String,
    labels: BTreeMap<String, String>,
    rules: Vec<Rule>,
    /// ClusterRole `aggregationRule.clusterRoleSelectors`.
    aggregation: Option<Vec<Value>>,
}

#[derive(Debug, Clone)]
struct Subject {
    kind: String,
    name: String,
    namespace: Option<String>,
}

#[derive(Debug, Clone)]
struct Binding {
    /// `None` for a ClusterRoleBinding.
    namespace: Option<String>,
    name: String,
    role_kind: String,
    role_name: String,
    subjects: Vec<Subject>,
}

/// RBAC objects read from manifests. Until narrowed by [`Rbac::for_service_account`], its
/// answers are for the union of every subject of every binding.
#[derive(Debug, Clone, Default)]
pub struct Rbac {
    roles: Vec<Role>,
    bindings: Vec<Binding>,
}

impl Rbac {
    /// The requests (from [`crate::kube_api::FakeApiServer`]) these grants do not allow, as
    /// `METHOD path (verb group/resource)`. Discovery paths need no grant and are skipped.
    pub fn denied<'a>(&self, requests: impl IntoIterator<Item = &'a crate::kube_api::Recorded>) -> Vec<String> {
        let mut out = Vec::new();
        for r in requests {
            let (group, resource, subresource) = r.resource();
            if resource.is_empty() {
                continue;
            }
            let (namespace, name) = r.target();
            if !self.allows(r.verb(), &group, &resource, subresource.as_deref(), namespace.as_deref(), name.as_deref())
            {
                out.push(format!("{} {} ({} {group}/{resource})", r.method, r.path, r.verb()));
            }
        }
        out
    }

    /// Reads every file in `paths`; a folder is read recursively for `.yaml`, `.yml` and `.json`
    /// files. Objects of other kinds are skipped. Errors name the file and the document's line.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Rbac, RbacError> {
        let mut files = Vec::new();
        for path in paths {
            collect_files(path.as_ref(), &mut files)?;
        }
        let mut rbac = Rbac::default();
        for file in files {
            let text = std::fs::read_to_string(&file).map_err(|e| RbacError::Read { path: file.clone(), source: e })?;
            rbac.add_yaml(&text).map_err(|(line, e)| RbacError::Document(file.display().to_string(), line, e))?;
        }
        Ok(rbac)
    }

    /// Like [`Rbac::load`], from the text of a (multi-document) YAML file.
    pub fn from_yaml(text: &str) -> Result<Rbac, RbacError> {
        let mut rbac = Rbac::default();
        rbac.add_yaml(text).map_err(|(line, e)| RbacError::Document("<text>".into(), line, e))?;
        Ok(rbac)
    }

    /// What the ServiceAccount `namespace/name` is granted: the bindings naming it (as a
    /// ServiceAccount, as the user `system:serviceaccount:NS:NAME`, or through the groups
    /// `system:serviceaccounts`, `system:serviceaccounts:NS` and `system:authenticated`).
    pub fn for_service_account(&self, namespace: &str, name: &str) -> Rbac {
        let user = format!("system:serviceaccount:{namespace}:{name}");
        let namespace_group = format!("system:serviceaccounts:{namespace}");
        let bindings = self
            .bindings
            .iter()
            .filter(|binding| {
                binding.subjects.iter().any(|s| match s.kind.as_str() {
                    "ServiceAccount" => {
                        s.name == name && s.namespace.as_deref().or(binding.namespace.as_deref()) == Some(namespace)
                    }
                    "User" => s.name == user,
                    "Group" => {
                        s.name == "system:serviceaccounts"
                            || s.name == namespace_group
                            || s.name == "system:authenticated"
                    }
                    _ => false,
                })
            })
            .cloned()
            .collect();
        Rbac { roles: self.roles.clone(), bindings }
    }

    /// Whether the Kubernetes RBAC authorizer would allow the request: `verb` on `group`
    /// (`""` for core) `resource`, optionally its `subresource`, in `namespace` (`None` for
    /// cluster-scoped objects and requests across all namespaces), on the object `name`.
    ///
    /// A rule with `resourceNames` matches only a request that carries a name: never `create`
    /// (except on a subresource, whose name is in the URL) nor `deletecollection`, and
    /// `list`/`watch` only with a `metadata.name` field selector (pass that name).
    pub fn allows(
        &self,
        verb: &str,
        group: &str,
        resource: &str,
        subresource: Option<&str>,
        namespace: Option<&str>,
        name: Option<&str>,
    ) -> bool {
        // What the API server's RequestInfo carries as the name.
        let name = match (verb, subresource) {
            ("create", None) | ("deletecollection", _) => None,
            _ => name.filter(|n| !n.is_empty()),
        };
        let subresource = subresource.filter(|s| !s.is_empty());
        let combined = match subresource {
            Some(sub) => format!("{resource}/{sub}"),
            None => resource.to_string(),
        };
        self.scoped_rules().iter().any(|(scope, rule)| {
            scope_allows(scope.as_deref(), namespace)
                && rule.non_resource_urls.is_empty()
                && matches(&rule.verbs, verb)
                && matches(&rule.api_groups, group)
                && rule.resources.iter().any(|r| {
                    r == "*" || *r == combined || subresource.is_some_and(|sub| r.strip_prefix("*/") == Some(sub))
                })
                && (rule.resource_names.is_empty() || name.is_some_and(|n| rule.resource_names.iter().any(|r| r == n)))
        })
    }

    /// Whether a non-resource request (`verb` on a URL path such as `/healthz`) is allowed.
    /// Only ClusterRoles bound by ClusterRoleBindings grant these.
    pub fn allows_url(&self, verb: &str, path: &str) -> bool {
        self.scoped_rules().iter().any(|(scope, rule)| {
            scope.is_none()
                && matches(&rule.verbs, verb)
                && rule.non_resource_urls.iter().any(|u| match u.strip_suffix('*') {
                    Some(prefix) => path.starts_with(prefix),
                    None => u == path,
                })
        })
    }

    /// Every grant, one per verb, API group and resource of each bound rule, sorted and without
    /// duplicates. Wildcards stay as written (`*`), so a test comparing against an expected list
    /// sees them as extra.
    pub fn rules(&self) -> Vec<Grant> {
        let mut out = BTreeSet::new();
        for (scope, rule) in self.scoped_rules() {
            let mut names = rule.resource_names.clone();
            names.sort();
            names.dedup();
            for verb in &rule.verbs {
                for group in &rule.api_groups {
                    for resource in &rule.resources {
                        out.insert(Grant {
                            verb: verb.clone(),
                            group: group.clone(),
                            resource: resource.clone(),
                            namespace: scope.clone(),
                            resource_names: names.clone(),
                        });
                    }
                }
                if scope.is_none() {
                    for url in &rule.non_resource_urls {
                        out.insert(Grant {
                            verb: verb.clone(),
                            group: String::new(),
                            resource: url.clone(),
                            namespace: None,
                            resource_names: Vec::new(),
                        });
                    }
                }
            }
        }
        out.into_iter().collect()
    }

    /// Bindings whose role is not among the loaded objects, as `Binding NS/NAME -> Kind NAME`.
    /// Their grants are unknown here (a built-in role such as `cluster-admin`, or a typo), so a
    /// least-privilege test should require this to be empty.
    pub fn unresolved(&self) -> Vec<String> {
        self.bindings
            .iter()
            .filter(|b| self.role_of(b).is_none())
            .map(|b| {
                let kind = if b.namespace.is_some() { "RoleBinding" } else { "ClusterRoleBinding" };
                let at = b.namespace.as_deref().map(|ns| format!("{ns}/")).unwrap_or_default();
                format!("{kind} {at}{} -> {} {}", b.name, b.role_kind, b.role_name)
            })
            .collect()
    }

    fn role_of(&self, binding: &Binding) -> Option<&Role> {
        match binding.role_kind.as_str() {
            "ClusterRole" => self.roles.iter().find(|r| r.namespace.is_none() && r.name == binding.role_name),
            // A RoleBinding may only reference a Role of its own namespace.
            "Role" if binding.namespace.is_some() => {
                self.roles.iter().find(|r| r.namespace == binding.namespace && r.name == binding.role_name)
            }
            _ => None,
        }
    }

    /// The rules of a role; for an aggregated ClusterRole, those of every ClusterRole its
    /// selectors match (the controller-manager's aggregation, which replaces the role's own).
    fn role_rules(&self, role: &Role) -> Vec<Rule> {
        let Some(selectors) = &role.aggregation else { return role.rules.clone() };
        let mut out = Vec::new();
        for other in &self.roles {
            if other.namespace.is_some() || other.name == role.name {
                continue;
            }
            if selectors.iter().any(|s| selector_matches(s, &other.labels)) {
                out.extend(other.rules.iter().cloned());
            }
        }
        out
    }

    /// Every bound rule with the namespace it applies in (`None`: everywhere).
    fn scoped_rules(&self) -> Vec<(Option<String>, Rule)> {
        let mut out = Vec::new();
        for binding in &self.bindings {
            let Some(role) = self.role_of(binding) else { continue };
            for rule in self.role_rules(role) {
                out.push((binding.namespace.clone(), rule));
            }
        }
        out
    }

    /// An error comes with the line of the document it is in.
    fn add_yaml(&mut self, text: &str) -> Result<(), (usize, ObjectError)> {
        for (line, doc) in split_documents(text) {
            let value: Value = serde_norway::from_str(&doc).map_err(|e| (line, ObjectError::Yaml(e.to_string())))?;
            self.add_object(&value).map_err(|e| (line, e))?;
        }
        Ok(())
    }

    fn add_object(&mut self, value: &Value) -> Result<(), ObjectError> {
        let kind = value.get("kind").and_then(Value::as_str).unwrap_or_default();
        let group = value.get("apiVersion").and_then(Value::as_str).unwrap_or_default().split('/').next().unwrap_or("");
        if kind == "List" {
            for item in value.get("items").and_then(Value::as_array).into_iter().flatten() {
                self.add_object(item)?;
            }
            return Ok(());
        }
        if group != "rbac.authorization.k8s.io" {
            return Ok(());
        }
        let meta = value.get("metadata");
        let name = meta.and_then(|m| m.get("name")).and_then(Value::as_str).unwrap_or_default().to_string();
        let namespace = meta.and_then(|m| m.get("namespace")).and_then(Value::as_str).map(str::to_string);
        if name.is_empty() {
            return Err(ObjectError::Missing(kind.to_owned(), name, "metadata.name"));
        }
        match kind {
            "ClusterRole" | "Role" => {
                let namespace = if kind == "Role" {
                    Some(
                        namespace
                            .ok_or_else(|| ObjectError::Missing(kind.to_owned(), name.clone(), "metadata.namespace"))?,
                    )
                } else {
                    None
                };
                let labels = meta
                    .and_then(|m| m.get("labels"))
                    .and_then(Value::as_object)
                    .map(|l| l.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_string()))).collect())
                    .unwrap_or_default();
                let rules = match value.get("rules") {
                    None | Some(Value::Null) => Vec::new(),
                    Some(Value::Array(rules)) => rules.iter().map(parse_rule).collect::<Result<_, _>>()?,
                    Some(_) => return Err(ObjectError::NotAList("rules".into())),
                };
                let aggregation = value
                    .get("aggregationRule")
                    .filter(|_| kind == "ClusterRole")
                    .map(|a| a.get("clusterRoleSelectors").and_then(Value::as_array).cloned().unwrap_or_default());
                self.roles.push(Role { namespace, name, labels, rules, aggregation });
            }
            "ClusterRoleBinding" | "RoleBinding" => {
                let namespace = if kind == "RoleBinding" {
                    Some(
                        namespace
                            .ok_or_else(|| ObjectError::Missing(kind.to_owned(), name.clone(), "metadata.namespace"))?,
                    )
                } else {
                    None
                };
                let role_ref = value
                    .get("roleRef")
                    .ok_or_else(|| ObjectError::Missing(kind.to_owned(), name.clone(), "roleRef"))?;
                let role_kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or_default().to_string();
                let role_name = role_ref.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
                let subjects = value
                    .get("subjects")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .map(|s| Subject {
                        kind: s.get("kind").and_then(Value::as_str).unwrap_or_default().to_string(),
                        name: s.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
                        namespace: s.get("namespace").and_then(Value::as_str).map(str::to_string),
                    })
                    .collect();
                self.bindings.push(Binding { namespace, name, role_kind, role_name, subjects });
            }
            _ => {}
        }
        Ok(())
    }
}

/// Why RBAC manifests could not be read.
#[derive(Debug, thiserror::Error)]
pub enum RbacError {
    /// A file or folder that could not be read.
    #[error("{}: {source}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    /// A path that does not exist.
    #[error("{}: no such file or folder", .0.display())]
    Missing(PathBuf),
    /// A document that is not valid YAML or not a valid RBAC object (file, line of the document).
    #[error("{0}:{1}: {2}")]
    Document(String, usize, ObjectError),
}

/// What is wrong with one document.
#[derive(Debug, thiserror::Error)]
pub enum ObjectError {
    /// Not YAML.
    #[error("{0}")]
    Yaml(String),
    /// A required field is missing (kind, name, field).
    #[error("{0} {1:?} without {2}")]
    Missing(String, String, &'static str),
    /// A field that must be a list.
    #[error("{0} is not a list")]
    NotAList(String),
    /// A list item that must be a string (field, item).
    #[error("{0}: {1} is not a string")]
    NotAString(String, Value),
}

fn collect_files(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), RbacError> {
    if path.is_dir() {
        let read = |source| RbacError::Read { path: path.to_path_buf(), source };
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(read)?
            .map(|e| e.map(|e| e.path()).map_err(read))
            .collect::<Result<_, _>>()?;
        entries.sort();
        for entry in entries {
            if entry.is_dir() {
                collect_files(&entry, out)?;
            } else if entry.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "json") {
                out.push(entry);
            }
        }
        Ok(())
    } else if path.exists() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(RbacError::Missing(path.to_path_buf()))
    }
}

/// Splits a YAML stream at its `---` and `...` document markers (which always start a line;
/// YAML ends a block scalar there too). Each document keeps its place in the text (earlier lines
/// are blank), so the parser's line numbers are the file's; it comes with the line of its first
/// content. Documents holding only comments and blank lines are left out.
fn split_documents(text: &str) -> Vec<(usize, String)> {
    let mut docs = Vec::new();
    let mut current = String::new();
    for (i, line) in text.lines().enumerate() {
        let marker = line.strip_prefix("---").filter(|rest| rest.is_empty() || rest.starts_with([' ', '\t']));
        if let Some(rest) = marker {
            docs.push(std::mem::replace(&mut current, "\n".repeat(i)));
            current.push_str(rest);
            current.push('\n');
        } else if line == "..." || line.starts_with("... ") {
            docs.push(std::mem::replace(&mut current, "\n".repeat(i + 1)));
        } else {
            current.push_str(line);
            current.push('\n');
        }
    }
    docs.push(current);
    docs.into_iter()
        .filter_map(|doc| {
            let first = doc.lines().position(|l| {
                let l = l.trim();
                !l.is_empty() && !l.starts_with('#')
            })?;
            Some((first + 1, doc))
        })
        .collect()
}

fn strings(rule: &Value, field: &str) -> Result<Vec<String>, ObjectError> {
    match rule.get(field) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string).ok_or_else(|| ObjectError::NotAString(field.into(), v.clone())))
            .collect(),
        Some(_) => Err(ObjectError::NotAList(field.into())),
    }
}

fn parse_rule(rule: &Value) -> Result<Rule, ObjectError> {
    Ok(Rule {
        verbs: strings(rule, "verbs")?,
        api_groups: strings(rule, "apiGroups")?,
        resources: strings(rule, "resources")?,
        resource_names: strings(rule, "resourceNames")?,
        non_resource_urls: strings(rule, "nonResourceURLs")?,
    })
}

fn matches(list: &[String], wanted: &str) -> bool {
    list.iter().any(|item| item == "*" || item == wanted)
}

/// A rule bound in `scope` (`None`: by a ClusterRoleBinding) applies to a request in `namespace`.
fn scope_allows(scope: Option<&str>, namespace: Option<&str>) -> bool {
    match scope {
        None => true,
        Some(scope) => namespace == Some(scope),
    }
}

/// A metav1.LabelSelector (`matchLabels`, `matchExpressions`) against labels. An empty selector
/// matches nothing here, as in ClusterRole aggregation.
fn selector_matches(selector: &Value, labels: &BTreeMap<String, String>) -> bool {
    let match_labels = selector.get("matchLabels").and_then(Value::as_object);
    let expressions = selector.get("matchExpressions").and_then(Value::as_array);
    if match_labels.is_none_or(|m| m.is_empty()) && expressions.is_none_or(|e| e.is_empty()) {
        return false;
    }
    let labels_ok = match_labels.into_iter().flatten().all(|(k, v)| labels.get(k).map(String::as_str) == v.as_str());
    let expressions_ok = expressions.into_iter().flatten().all(|e| {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        let label = labels.get(key).map(String::as_str);
        match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => label.is_some_and(|l| values.contains(&l)),
            "NotIn" => label.is_none_or(|l| !values.contains(&l)),
            "Exists" => label.is_some(),
            "DoesNotExist" => label.is_none(),
            _ => false,
        }
    });
    labels_ok && expressions_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    const BINDINGS: &str = "
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: c}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: cluster}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: r, namespace: home}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: local}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: shared, namespace: elsewhere}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: shared}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
";

    const ROLES: &str = "
# a comment before the first document
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: cluster}
rules:
- apiGroups: [gateway.networking.k8s.io]
  resources: [gateways, gateways/status]
  verbs: [get, list, watch, patch]
- apiGroups: [\"\"]
  resources: [\"*/scale\"]
  verbs: [get]
- apiGroups: [admissionregistration.k8s.io]
  resources: [validatingwebhookconfigurations]
  resourceNames: [mine]
  verbs: [get, patch, list, create, deletecollection]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: local, namespace: home}
rules:
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  verbs: [create]
- apiGroups: [coordination.k8s.io]
  resources: [leases]
  resourceNames: [leader]
  verbs: [get, update]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: shared}
rules:
- apiGroups: [\"\"]
  resources: [configmaps]
  verbs: [\"*\"]
---
apiVersion: v1
kind: Service
metadata: {name: ignored, namespace: home}
";

    fn sa() -> Rbac {
        Rbac::from_yaml(&format!("{ROLES}---{BINDINGS}")).unwrap().for_service_account("home", "sa")
    }

    #[test]
    fn a_cluster_role_bound_cluster_wide_applies_in_every_namespace_and_cluster_scope() {
        let rbac = sa();
        for ns in [None, Some("home"), Some("other")] {
            assert!(rbac.allows("list", "gateway.networking.k8s.io", "gateways", None, ns, None), "{ns:?}");
        }
        assert!(!rbac.allows("delete", "gateway.networking.k8s.io", "gateways", None, Some("x"), Some("g")));
        assert!(!rbac.allows("list", "gateway.k8s.aws", "gateways", None, None, None));
        assert!(!rbac.allows("list", "gateway.networking.k8s.io", "httproutes", None, None, None));
    }

    #[test]
    fn a_subresource_needs_its_own_resource_entry_or_a_star_slash_entry() {
        let rbac = sa();
        assert!(rbac.allows("patch", "gateway.networking.k8s.io", "gateways", Some("status"), Some("a"), Some("g")));
        assert!(!rbac.allows("get", "gateway.networking.k8s.io", "gateways", Some("finalizers"), Some("a"), Some("g")));
        assert!(rbac.allows("get", "", "deployments", Some("scale"), Some("a"), Some("d")));
        assert!(!rbac.allows("get", "", "deployments", None, Some("a"), Some("d")));
    }

    #[test]
    fn a_role_applies_only_in_its_namespace() {
        let rbac = sa();
        assert!(rbac.allows("create", "coordination.k8s.io", "leases", None, Some("home"), None));
        assert!(!rbac.allows("create", "coordination.k8s.io", "leases", None, Some("other"), None));
        assert!(!rbac.allows("create", "coordination.k8s.io", "leases", None, None, None));
    }

    #[test]
    fn a_cluster_role_bound_by_a_role_binding_applies_only_in_that_namespace() {
        let rbac = sa();
        assert!(rbac.allows("delete", "", "configmaps", None, Some("elsewhere"), Some("c")));
        assert!(!rbac.allows("delete", "", "configmaps", None, Some("home"), Some("c")));
        assert!(!rbac.allows("list", "", "configmaps", None, None, None));
    }

    #[test]
    fn resource_names_match_only_requests_that_carry_a_listed_name() {
        let rbac = sa();
        let group = "coordination.k8s.io";
        assert!(rbac.allows("get", group, "leases", None, Some("home"), Some("leader")));
        assert!(rbac.allows("update", group, "leases", None, Some("home"), Some("leader")));
        assert!(!rbac.allows("get", group, "leases", None, Some("home"), Some("other")));
        assert!(!rbac.allows("get", group, "leases", None, Some("home"), None));
        let group = "admissionregistration.k8s.io";
        let res = "validatingwebhookconfigurations";
        assert!(rbac.allows("patch", group, res, None, None, Some("mine")));
        // list/watch carry a name only with a metadata.name field selector.
        assert!(!rbac.allows("list", group, res, None, None, None));
        assert!(rbac.allows("list", group, res, None, None, Some("mine")));
        // create and deletecollection never carry one, whatever the caller passes.
        assert!(!rbac.allows("create", group, res, None, None, Some("mine")));
        assert!(!rbac.allows("deletecollection", group, res, None, None, Some("mine")));
    }

    #[test]
    fn wildcard_verbs_groups_and_resources_match_anything() {
        let rbac = Rbac::from_yaml(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: all}
rules: [{apiGroups: ['*'], resources: ['*'], verbs: ['*']}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: all}
roleRef: {kind: ClusterRole, name: all}
subjects: [{kind: Group, name: 'system:serviceaccounts:home'}]
",
        )
        .unwrap();
        let sa = rbac.for_service_account("home", "anyone");
        assert!(sa.allows("escalate", "rbac.authorization.k8s.io", "clusterroles", None, None, Some("x")));
        assert!(sa.allows("get", "", "pods", Some("log"), Some("x"), Some("p")));
        assert!(!rbac.for_service_account("other", "anyone").allows("get", "", "pods", None, None, None));
    }

    #[test]
    fn only_bindings_naming_the_service_account_count() {
        let all = Rbac::from_yaml(&format!("{ROLES}---{BINDINGS}")).unwrap();
        assert!(!all.for_service_account("home", "other").allows(
            "list",
            "gateway.networking.k8s.io",
            "gateways",
            None,
            None,
            None
        ));
        assert!(!all.for_service_account("other", "sa").allows(
            "list",
            "gateway.networking.k8s.io",
            "gateways",
            None,
            None,
            None
        ));
        assert!(all.for_service_account("other", "sa").rules().is_empty());
        // A ServiceAccount subject without a namespace is in the RoleBinding's namespace.
        let text = BINDINGS.replace(
            "metadata: {name: r, namespace: home}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: local}\nsubjects: [{kind: ServiceAccount, name: sa, namespace: home}]",
            "metadata: {name: r, namespace: home}\nroleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: local}\nsubjects: [{kind: ServiceAccount, name: sa}]",
        );
        assert_ne!(text, BINDINGS);
        let rbac = Rbac::from_yaml(&format!("{ROLES}---{text}")).unwrap().for_service_account("home", "sa");
        assert!(rbac.allows("create", "coordination.k8s.io", "leases", None, Some("home"), None));
    }

    #[test]
    fn rules_lists_every_grant_with_its_scope_and_names() {
        let rules = sa().rules();
        let find = |verb: &str, resource: &str| {
            rules.iter().filter(|g| g.verb == verb && g.resource == resource).cloned().collect::<Vec<_>>()
        };
        assert_eq!(
            find("get", "leases"),
            vec![Grant {
                verb: "get".into(),
                group: "coordination.k8s.io".into(),
                resource: "leases".into(),
                namespace: Some("home".into()),
                resource_names: vec!["leader".into()],
            }]
        );
        assert_eq!(find("create", "leases")[0].resource_names, Vec::<String>::new());
        assert_eq!(find("patch", "gateways/status")[0].namespace, None);
        assert_eq!(find("*", "configmaps")[0].namespace.as_deref(), Some("elsewhere"));
        // 4 verbs x 2 resources + 1 + 5 verbs + 1 create + 2 named + 1 wildcard
        assert_eq!(rules.len(), 8 + 1 + 5 + 1 + 2 + 1, "{rules:#?}");
        assert_eq!(
            find("get", "leases")[0].to_string(),
            "get coordination.k8s.io/leases in namespace home named leader"
        );
    }

    #[test]
    fn bindings_to_roles_not_loaded_are_reported_and_grant_nothing() {
        let rbac = Rbac::from_yaml(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: admin}
roleRef: {kind: ClusterRole, name: cluster-admin}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: local, namespace: other}
rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: cross, namespace: home}
roleRef: {kind: Role, name: local}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
",
        )
        .unwrap()
        .for_service_account("home", "sa");
        assert_eq!(
            rbac.unresolved(),
            vec!["ClusterRoleBinding admin -> ClusterRole cluster-admin", "RoleBinding home/cross -> Role local"]
        );
        assert!(rbac.rules().is_empty());
        assert!(sa().unresolved().is_empty());
    }

    #[test]
    fn aggregated_cluster_roles_take_the_rules_of_the_roles_they_select() {
        let rbac = Rbac::from_yaml(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: agg}
aggregationRule:
  clusterRoleSelectors: [{matchLabels: {aggregate: 'true'}}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: part, labels: {aggregate: 'true'}}
rules: [{apiGroups: [''], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: not-part}
rules: [{apiGroups: [''], resources: [secrets], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: agg}
roleRef: {kind: ClusterRole, name: agg}
subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
",
        )
        .unwrap()
        .for_service_account("home", "sa");
        assert!(rbac.allows("get", "", "pods", None, Some("x"), Some("p")));
        assert!(!rbac.allows("get", "", "secrets", None, Some("x"), Some("s")));
    }

    #[test]
    fn non_resource_urls_are_granted_only_cluster_wide() {
        let rbac = Rbac::from_yaml(
            "apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: urls}
rules: [{nonResourceURLs: [/metrics, /debug/*], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: urls}
roleRef: {kind: ClusterRole, name: urls}
subjects: [{kind: User, name: 'system:serviceaccount:home:sa'}]
",
        )
        .unwrap()
        .for_service_account("home", "sa");
        assert!(rbac.allows_url("get", "/metrics"));
        assert!(rbac.allows_url("get", "/debug/pprof"));
        assert!(!rbac.allows_url("post", "/metrics"));
        assert!(!rbac.allows("get", "", "metrics", None, None, None));
        assert_eq!(rbac.rules().iter().map(|g| g.resource.as_str()).collect::<Vec<_>>(), ["/debug/*", "/metrics"]);
    }

    #[test]
    fn list_objects_are_read_and_bad_documents_are_reported_with_their_line() {
        let rbac = Rbac::from_yaml(
            "apiVersion: v1
kind: List
items:
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRole
  metadata: {name: c}
  rules: [{apiGroups: [''], resources: [nodes], verbs: [list]}]
- apiVersion: rbac.authorization.k8s.io/v1
  kind: ClusterRoleBinding
  metadata: {name: c}
  roleRef: {kind: ClusterRole, name: c}
  subjects: [{kind: ServiceAccount, name: sa, namespace: home}]
",
        )
        .unwrap();
        assert!(rbac.for_service_account("home", "sa").allows("list", "", "nodes", None, None, None));
        let err = Rbac::from_yaml("kind: Service\n---\nkind: Role\nmetadata: {name: [\n").unwrap_err();
        assert!(matches!(&err, RbacError::Document(file, 3, ObjectError::Yaml(_)) if file == "<text>"), "{err}");
        let err =
            Rbac::from_yaml("apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\n").unwrap_err();
        assert!(err.to_string().contains("without metadata.namespace"), "{err}");
    }

    #[test]
    fn load_reads_files_and_folders() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("roles.yaml"), ROLES).unwrap();
        std::fs::write(dir.path().join("sub/bindings.yml"), BINDINGS).unwrap();
        std::fs::write(dir.path().join("sub/notes.txt"), "not: [yaml").unwrap();
        let rbac = Rbac::load(&[dir.path()]).unwrap().for_service_account("home", "sa");
        assert_eq!(rbac.rules(), sa().rules());
        let one = Rbac::load(&[dir.path().join("roles.yaml")]).unwrap();
        assert!(one.for_service_account("home", "sa").rules().is_empty());
        let err = Rbac::load(&[dir.path().join("missing.yaml")]).unwrap_err();
        assert!(matches!(&err, RbacError::Missing(path) if path.ends_with("missing.yaml")), "{err}");
    }

    #[test]
    fn documents_split_at_markers_only_and_keep_their_lines() {
        let docs = split_documents("a: 1\n---\n# only a comment\n--- # c\nb: |\n  ---x\n...\nc: 2\n");
        let docs: Vec<(usize, String)> = docs.into_iter().map(|(line, doc)| (line, doc.trim().to_string())).collect();
        assert_eq!(docs, vec![(1, "a: 1".to_string()), (5, "# c\nb: |\n  ---x".to_string()), (8, "c: 2".to_string())]);
        let err = serde_norway::from_str::<Value>(&split_documents("a: 1\n---\nb: [\n")[1].1).unwrap_err();
        assert!(err.to_string().contains("line 4"), "{err}");
    }
}
