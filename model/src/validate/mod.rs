//! Validation as the API server does it, then what AWS load balancers need.
//!
//! Order per object, as in the API server: served kind and version, ObjectMeta, null pruning and
//! schema defaults, OpenAPI value checks (unknown fields strict or as warnings), list-type
//! uniqueness, then every `x-kubernetes-validations` CEL rule (skipped after a type error).
//! Albatross's own checks (AWS limits, cross-object references) run unless a value had the wrong type.

pub(crate) mod aws;
mod catalog;
mod cel;
mod cel_cost;
mod list_types;
pub mod metadata;
mod path;
mod references;
mod registry;
mod structural;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::Serialize;
use serde_json::Value;

pub use aws::AwsLimits;
pub use catalog::{Catalog, Flavor};
pub use cel_cost::{OBJECT_BUDGET, PER_CALL_LIMIT};
pub use registry::{Crd, CrdVersion, Registry};

/// Which Gateway API CRD bundle the cluster runs.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Channel {
    #[default]
    Standard,
    Experimental,
}

/// What to do with fields the schema does not know, like `kubectl apply --validate`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum FieldValidation {
    /// Reject (kubectl's default).
    #[default]
    Strict,
    /// Accept with a warning; the API server would prune them.
    Warn,
}

/// The admission operation being validated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Operation {
    #[default]
    Create,
    Update,
    Delete,
    Connect,
}

/// The `controllerName`s that make a GatewayClass ours.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Controllers {
    pub alb: String,
    pub nlb: String,
}

impl Default for Controllers {
    fn default() -> Self {
        Self { alb: "gateway.k8s.aws/alb".into(), nlb: "gateway.k8s.aws/nlb".into() }
    }
}

impl Controllers {
    /// The one answer to "is this class ours": which load balancer a GatewayClass with this
    /// `controllerName` provisions, `None` for another controller's class.
    pub fn flavor_of(&self, controller_name: &str) -> Option<Flavor> {
        if controller_name == self.alb {
            Some(Flavor::Alb)
        } else if controller_name == self.nlb {
            Some(Flavor::Nlb)
        } else {
            None
        }
    }

    /// Whether a `controllerName` (of a class, or of a route's status entry) is one of ours.
    pub fn owns(&self, controller_name: &str) -> bool {
        self.flavor_of(controller_name).is_some()
    }

    /// Whether a GatewayClass, as the caches hold it, is ours; one without `controllerName` is not.
    pub fn owns_class(&self, class: &Value) -> bool {
        class.pointer("/spec/controllerName").and_then(Value::as_str).is_some_and(|c| self.owns(c))
    }
}

#[derive(Clone, Debug)]
pub struct ValidatorOptions {
    pub channel: Channel,
    pub field_validation: FieldValidation,
    pub controllers: Controllers,
    /// Run what the API server checks itself (served version, schema, list types, CEL). A
    /// validating webhook is called after the API server ran them, so in a cluster they can be
    /// skipped; offline they are the point.
    pub api_server_checks: bool,
}

impl Default for ValidatorOptions {
    fn default() -> Self {
        Self {
            channel: Channel::default(),
            field_validation: FieldValidation::default(),
            controllers: Controllers::default(),
            api_server_checks: true,
        }
    }
}

/// One problem, located by its field path (`spec.listeners[0].port`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: &str, message: impl Into<String>) -> Self {
        Self { field: field.to_owned(), message: message.into() }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.field.is_empty() { f.write_str(&self.message) } else { write!(f, "{}: {}", self.field, self.message) }
    }
}

/// The verdict on one object.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Outcome {
    /// False when the kind is not one we validate; such objects are allowed untouched.
    pub handled: bool,
    pub errors: Vec<FieldError>,
    pub warnings: Vec<FieldError>,
}

impl Outcome {
    pub fn allowed(&self) -> bool {
        self.errors.is_empty()
    }
}

/// Stops a validation early: set by whoever stopped waiting for its verdict, checked between
/// rules and list items so that abandoned work ends soon.
#[derive(Clone, Debug, Default)]
pub struct Cancel(Arc<AtomicBool>);

impl Cancel {
    pub fn cancel(&self) {
        self.0.store(true, Ordering::Relaxed);
    }

    pub fn is_cancelled(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// The error a cancelled validation ends with; nobody is waiting for its verdict.
pub const CANCELLED: &str = "Internal error: validation was cancelled before it finished";

/// What the API server says when schema errors keep it from running the CEL rules.
pub const CEL_SKIPPED: &str = "Invalid value: some validation rules were not checked because the object was invalid; correct the existing errors to complete validation";

/// `apiVersion` and `kind` of an object, split.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TypeMeta<'a> {
    pub group: &'a str,
    pub version: &'a str,
    pub kind: &'a str,
}

impl<'a> TypeMeta<'a> {
    pub fn of(object: &'a Value) -> Option<Self> {
        let api_version = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        Some(Self { group, version, kind })
    }
}

pub struct Validator {
    options: ValidatorOptions,
    registry: Registry,
}

impl Validator {
    pub fn new(options: ValidatorOptions) -> Self {
        let registry = Registry::for_channel(options.channel);
        Self { options, registry }
    }

    pub fn options(&self) -> &ValidatorOptions {
        &self.options
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Whether this validator handles objects of this group and kind.
    pub fn handles(&self, group: &str, kind: &str) -> bool {
        self.registry.get(group, kind).is_some()
    }

    /// Validates one object as admission would. `catalog` tells which Gateways and classes are
    /// ours, for the AWS checks; an empty catalog limits them to what the object alone shows.
    pub fn validate(&self, object: &Value, old: Option<&Value>, operation: Operation, catalog: &Catalog) -> Outcome {
        self.validate_cancellable(object, old, operation, catalog, &Cancel::default())
    }

    /// `validate`, giving up with `CANCELLED` once `cancel` is set.
    pub fn validate_cancellable(
        &self,
        object: &Value,
        old: Option<&Value>,
        operation: Operation,
        catalog: &Catalog,
        cancel: &Cancel,
    ) -> Outcome {
        let mut outcome = Outcome { handled: true, ..Outcome::default() };
        if matches!(operation, Operation::Delete | Operation::Connect) {
            return outcome;
        }
        let Some(meta) = TypeMeta::of(object) else {
            if !object.is_object() {
                outcome.errors.push(FieldError::new("", "Invalid value: an object must be a mapping"));
            }
            for key in ["apiVersion", "kind"] {
                if !object.get(key).is_some_and(Value::is_string) {
                    outcome.errors.push(FieldError::new(key, "Required value: must be a non-empty string"));
                }
            }
            return outcome;
        };
        let Some(crd) = self.registry.get(meta.group, meta.kind) else {
            return Outcome::default();
        };
        if !self.options.api_server_checks {
            // The API server stored defaults and checked the schema before calling us.
            aws::check(&meta, object, catalog, &self.options.controllers, &mut outcome);
            return outcome;
        }
        let Some(version) = crd.version(meta.version).filter(|v| v.served) else {
            outcome.errors.push(FieldError::new(
                "apiVersion",
                format!(
                    "no matches for kind \"{}\" in version \"{}/{}\" on the {} channel (served: {})",
                    meta.kind,
                    meta.group,
                    meta.version,
                    channel_name(self.options.channel),
                    crd.served().join(", ")
                ),
            ));
            return outcome;
        };
        metadata::check(object.get("metadata"), crd.namespaced, &mut outcome.errors);

        let defaulted = self.defaulted(version, object);
        let mut found = structural::Findings::default();
        structural::check(&version.schema, &defaulted, "", &mut found);
        outcome.errors.append(&mut found.errors);
        match self.options.field_validation {
            FieldValidation::Strict => outcome.errors.append(&mut found.unknown),
            FieldValidation::Warn => outcome.warnings.append(&mut found.unknown),
        }
        list_types::check(&version.schema, &defaulted, "", &mut outcome.errors);
        if found.blocking {
            // As the API server: rules written for the schema's shape and bounds do not run
            // on an object outside them (and so never over a list past its maxItems).
            outcome.errors.push(FieldError::new("", CEL_SKIPPED));
        } else if !cancel.is_cancelled() {
            let old = old.map(|o| self.defaulted(version, o));
            cel::check(version.compiled(), &defaulted, old.as_ref(), cancel, &mut outcome.errors);
        }
        if !found.type_error && !cancel.is_cancelled() {
            aws::check(&meta, &defaulted, catalog, &self.options.controllers, &mut outcome);
        }
        if cancel.is_cancelled() {
            outcome.errors.push(FieldError::new("", CANCELLED));
        }
        dedup(&mut outcome.errors);
        dedup(&mut outcome.warnings);
        outcome
    }

    /// Validates a set of objects together, as `albatross validate` sees its input: each object
    /// alone, then the references among them.
    pub fn validate_all(&self, objects: &[&Value]) -> Vec<Outcome> {
        let catalog = Catalog::from_objects(objects.iter().copied(), &self.options.controllers);
        let mut outcomes: Vec<Outcome> =
            objects.iter().map(|o| self.validate(o, None, Operation::Create, &catalog)).collect();
        for (object, outcome) in objects.iter().zip(outcomes.iter_mut()) {
            if outcome.handled {
                catalog.check_references(object, outcome);
            }
        }
        outcomes
    }

    /// The object with the schema defaults the API server would store; unchanged for kinds we do
    /// not handle.
    pub fn with_defaults(&self, object: &Value) -> Value {
        match TypeMeta::of(object).and_then(|m| self.registry.get(m.group, m.kind)?.version(m.version)) {
            Some(version) => schema_defaults(version, object.clone()),
            None => object.clone(),
        }
    }

    /// The object as the schema checks see it: status dropped where the status subresource owns
    /// it, then as stored (`schema_defaults`).
    fn defaulted(&self, version: &CrdVersion, object: &Value) -> Value {
        let mut object = object.clone();
        if version.status_subresource
            && let Some(map) = object.as_object_mut()
        {
            map.remove("status");
        }
        schema_defaults(version, object)
    }
}

/// Nulls pruned, then schema defaults applied, as the API server stores an object.
fn schema_defaults(version: &CrdVersion, mut object: Value) -> Value {
    structural::prune_nulls(&version.schema, &mut object);
    kube_cel::apply_defaults(&version.schema, &object)
}

pub fn channel_name(channel: Channel) -> &'static str {
    match channel {
        Channel::Standard => "standard",
        Channel::Experimental => "experimental",
    }
}

fn dedup(errors: &mut Vec<FieldError>) {
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert((e.field.clone(), e.message.clone())));
}

#[cfg(test)]
mod controllers_tests {
    use super::*;
    use serde_json::json;

    fn class(spec: Value) -> Value {
        json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "GatewayClass", "metadata": {"name": "c"}, "spec": spec})
    }

    #[test]
    fn a_class_is_ours_only_by_a_configured_controller_name() {
        let ours = Controllers::default();
        assert_eq!(ours.flavor_of("gateway.k8s.aws/alb"), Some(Flavor::Alb));
        assert_eq!(ours.flavor_of("gateway.k8s.aws/nlb"), Some(Flavor::Nlb));
        for other in ["example.com/other", "", "gateway.k8s.aws/ALB", "gateway.k8s.aws/alb/", " gateway.k8s.aws/alb"] {
            assert_eq!(ours.flavor_of(other), None, "{other:?}");
            assert!(!ours.owns(other));
        }
        assert!(ours.owns_class(&class(json!({"controllerName": "gateway.k8s.aws/nlb"}))));
        assert!(!ours.owns_class(&class(json!({"controllerName": "example.com/other"}))));
        assert!(!ours.owns_class(&class(json!({}))), "no controllerName");
        assert!(!ours.owns_class(&json!({"metadata": {"name": "c"}})), "no spec");
        assert!(!ours.owns_class(&class(json!({"controllerName": 7}))), "not a string");
    }

    #[test]
    fn configured_names_replace_the_defaults() {
        let custom = Controllers { alb: "example.com/alb".into(), nlb: "example.com/nlb".into() };
        assert_eq!(custom.flavor_of("example.com/alb"), Some(Flavor::Alb));
        assert_eq!(custom.flavor_of("example.com/nlb"), Some(Flavor::Nlb));
        assert!(!custom.owns("gateway.k8s.aws/alb"), "the default names are not ours once replaced");
        assert!(custom.owns_class(&class(json!({"controllerName": "example.com/nlb"}))));
    }
}
