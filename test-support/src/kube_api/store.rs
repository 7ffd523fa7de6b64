//! The object store: registered resource types, objects, the global resourceVersion and the
//! history of changes that watches replay. Everything here is synchronous; the caller holds the
//! server's lock and wakes the watches after a write.
//!
//! Objects are kept per (group, kind), so a type served at several versions has one set of
//! objects, presented at each version with `apiVersion` rewritten (identical schemas, as for a
//! CRD whose versions differ only in name).

use std::collections::{BTreeMap, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};

use rand::Rng;
use serde_json::{Map, Value, json};

use super::ResourceDef;
use super::patch::{PatchType, apply_patch};
use super::select::Filter;

const CRD_GROUP: &str = "apiextensions.k8s.io";
const CRD_KIND: &str = "CustomResourceDefinition";

/// An error answered as a `Status` object.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { code, reason, message: message.into(), details: None }
    }

    pub(crate) fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(400, "BadRequest", message)
    }

    pub(crate) fn invalid(message: impl Into<String>) -> ApiError {
        ApiError::new(422, "Invalid", message)
    }

    /// A path that names no registered resource type.
    pub(crate) fn no_such_path() -> ApiError {
        ApiError::new(404, "NotFound", "the server could not find the requested resource")
    }

    pub(crate) fn method_not_allowed() -> ApiError {
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    fn about(mut self, def: &ResourceDef, name: &str) -> ApiError {
        let mut details = json!({"name": name, "kind": def.plural});
        if !def.group.is_empty() {
            details["group"] = json!(def.group);
        }
        self.details = Some(details);
        self
    }

    pub(crate) fn not_found(def: &ResourceDef, name: &str) -> ApiError {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", def.resource_name())).about(def, name)
    }

    fn already_exists(def: &ResourceDef, name: &str) -> ApiError {
        ApiError::new(409, "AlreadyExists", format!("{} \"{name}\" already exists", def.resource_name()))
            .about(def, name)
    }

    fn conflict(def: &ResourceDef, name: &str, why: &str) -> ApiError {
        ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": {why}", def.resource_name()),
        )
        .about(def, name)
    }

    fn invalid_object(def: &ResourceDef, name: &str, message: String) -> ApiError {
        ApiError::new(422, "Invalid", format!("{} \"{name}\" is invalid: {message}", def.kind)).about(def, name)
    }

    /// The `Status` object the API server answers for this error.
    pub(crate) fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

/// The type of a watch event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One stored change, kept for the watches.
#[derive(Clone, Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub group: String,
    pub kind: String,
    pub change: ChangeType,
    /// The object after the change (for DELETED: its last state, with the deletion's
    /// resourceVersion).
    pub object: Value,
    /// For MODIFIED: the object before, so that a selector-filtered watch can turn a change
    /// into ADDED or DELETED when the object starts or stops matching.
    pub previous: Option<Value>,
}

/// Which part of the object a write may change.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The main resource path: everything except `.status` when the type has a status
    /// subresource; optimistic concurrency on `metadata.resourceVersion`.
    Main,
    /// The status subresource: only `.status`.
    Status,
    /// A test's direct write ([`crate::kube_api::FakeApiServer::apply`]): everything, `.status`
    /// kept when the value has none, no resourceVersion check.
    Direct,
}

/// Options of a write from the query string.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteOpts {
    /// `dryRun=All`: compute and answer, store nothing.
    pub dry_run: bool,
    /// `fieldManager`: recorded in `metadata.managedFields`.
    pub field_manager: Option<String>,
    /// Server-side apply (the managedFields operation is `Apply`, else `Update`).
    pub apply: bool,
}

type TypeKey = (String, String);
type ObjectKey = (String, String);

pub(crate) struct Store {
    defs: Vec<ResourceDef>,
    objects: HashMap<TypeKey, BTreeMap<ObjectKey, Value>>,
    history: Vec<Change>,
    /// A watch from a resourceVersion below this one gets 410 Gone.
    expired_below: u64,
    rv: u64,
}

impl Store {
    pub(crate) fn new(defs: Vec<ResourceDef>) -> Store {
        let mut store =
            Store { defs: Vec::new(), objects: HashMap::new(), history: Vec::new(), expired_below: 0, rv: 1 };
        for def in defs {
            store.register(def);
        }
        store
    }

    /// The resourceVersion of the latest change.
    pub(crate) fn resource_version(&self) -> u64 {
        self.rv
    }

    pub(crate) fn defs(&self) -> &[ResourceDef] {
        &self.defs
    }

    /// Adds a resource type, or replaces the one with the same group, version and plural.
    pub(crate) fn register(&mut self, def: ResourceDef) {
        match self.defs.iter_mut().find(|d| d.group == def.group && d.version == def.version && d.plural == def.plural)
        {
            Some(existing) => *existing = def,
            None => self.defs.push(def),
        }
    }

    fn unregister(&mut self, group: &str, kind: &str) {
        self.defs.retain(|d| !(d.group == group && d.kind == kind));
    }

    pub(crate) fn find(&self, group: &str, version: &str, plural: &str) -> Option<ResourceDef> {
        self.defs.iter().find(|d| d.group == group && d.version == version && d.plural == plural).cloned()
    }

    pub(crate) fn find_kind(&self, group: &str, version: &str, kind: &str) -> Option<ResourceDef> {
        self.defs.iter().find(|d| d.group == group && d.version == version && d.kind == kind).cloned()
    }

    /// The changes after `rv`, oldest first.
    pub(crate) fn history_after(&self, rv: u64) -> &[Change] {
        let start = self.history.partition_point(|c| c.rv <= rv);
        &self.history[start..]
    }

    pub(crate) fn expired_below(&self) -> u64 {
        self.expired_below
    }

    /// Forgets the history: watches from an older resourceVersion then get 410 Gone.
    pub(crate) fn expire_history(&mut self) {
        self.history.clear();
        self.expired_below = self.rv;
    }

    fn key(def: &ResourceDef, namespace: Option<&str>, name: &str) -> (TypeKey, ObjectKey) {
        let namespace = if def.namespaced { namespace.unwrap_or_default() } else { "" };
        ((def.group.clone(), def.kind.clone()), (namespace.to_owned(), name.to_owned()))
    }

    fn stored(&self, def: &ResourceDef, namespace: Option<&str>, name: &str) -> Option<Value> {
        let (type_key, object_key) = Store::key(def, namespace, name);
        self.objects.get(&type_key)?.get(&object_key).map(|o| present(def, o))
    }

    pub(crate) fn get(&self, def: &ResourceDef, namespace: Option<&str>, name: &str) -> Result<Value, ApiError> {
        self.stored(def, namespace, name).ok_or_else(|| ApiError::not_found(def, name))
    }

    /// The objects of the type that match, sorted by namespace and name, presented at `def`'s
    /// version.
    pub(crate) fn list(&self, def: &ResourceDef, filter: &Filter) -> Vec<Value> {
        let type_key = (def.group.clone(), def.kind.clone());
        let Some(objects) = self.objects.get(&type_key) else { return Vec::new() };
        objects.values().filter(|o| filter.matches(o)).map(|o| present(def, o)).collect()
    }

    /// Every object of every type whose kind is `kind`, at each type's first registered version.
    pub(crate) fn list_kind(&self, kind: &str) -> Vec<Value> {
        let mut groups: Vec<&String> = self.objects.keys().filter(|(_, k)| k == kind).map(|(g, _)| g).collect();
        groups.sort();
        let mut out = Vec::new();
        for group in groups {
            let Some(def) = self.defs.iter().find(|d| &d.group == group && d.kind == kind) else { continue };
            out.extend(self.list(def, &Filter::default()));
        }
        out
    }

    /// The registered type of a whole object (its `apiVersion` and `kind`).
    pub(crate) fn def_of(&self, object: &Value) -> Result<ResourceDef, ApiError> {
        let api_version = object.get("apiVersion").and_then(Value::as_str).unwrap_or_default();
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default();
        let (group, version) = split_api_version(api_version);
        self.find_kind(group, version, kind)
            .ok_or_else(|| ApiError::bad_request(format!("no resource type registered for {api_version} {kind}")))
    }

    /// POST (and server-side apply of a missing object).
    pub(crate) fn create(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        body: Value,
        mode: Mode,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let mut object = into_object(body)?;
        let namespace = if def.namespaced { Some(namespace.unwrap_or("default")) } else { None };
        let meta = metadata_mut(&mut object);
        if let Some(namespace) = namespace {
            if meta.get("namespace").and_then(Value::as_str).is_some_and(|ns| !ns.is_empty() && ns != namespace) {
                return Err(ApiError::bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request",
                ));
            }
            meta.insert("namespace".into(), json!(namespace));
        } else {
            meta.remove("namespace");
        }
        let name = match meta.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            Some(name) => name.to_owned(),
            None => {
                let prefix = meta.get("generateName").and_then(Value::as_str).filter(|p| !p.is_empty());
                let Some(prefix) = prefix.map(str::to_owned) else {
                    return Err(ApiError::invalid_object(
                        def,
                        "",
                        "metadata.name: Required value: name or generateName is required".into(),
                    ));
                };
                self.generate_name(def, namespace, &prefix)
            }
        };
        if self.stored(def, namespace, &name).is_some() {
            return Err(ApiError::already_exists(def, &name));
        }
        let meta = metadata_mut(&mut object);
        meta.insert("name".into(), json!(name));
        for server_field in
            ["resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds", "selfLink", "managedFields"]
        {
            meta.remove(server_field);
        }
        meta.insert("uid".into(), json!(new_uid()));
        meta.insert("creationTimestamp".into(), json!(now_rfc3339()));
        meta.insert("generation".into(), json!(1));
        // The API server drops `.status` on create when the type has a status subresource.
        if mode == Mode::Main && def.status {
            object.as_object_mut().expect("object").remove("status");
        }
        set_type(def, &mut object);
        record_manager(def, &mut object, opts, mode == Mode::Status);
        if opts.dry_run {
            return Ok(object);
        }
        Ok(self.commit(def, None, object))
    }

    /// PUT on the main path or the status subresource, or a direct write.
    pub(crate) fn update(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        mode: Mode,
        body: Value,
        opts: &WriteOpts,
    ) -> Result<Value, ApiError> {
        let old = self.get(def, namespace, name)?;
        let body = into_object(body)?;
        if let Some(body_name) = body.pointer("/metadata/name").and_then(Value::as_str)
            && body_name != name
        {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        let new = prepare_update(def, &old, body, mode, opts)?;
        Ok(self.finish(def, old, new, opts.dry_run))
    }

    /// PATCH on the main path or the status subresource. `true` when an apply created the object.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn patch(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        mode: Mode,
        kind: PatchType,
        patch: Value,
        opts: &WriteOpts,
    ) -> Result<(Value, bool), ApiError> {
        let Some(old) = self.stored(def, namespace, name) else {
            if kind == PatchType::Apply && mode == Mode::Main {
                let mut body = into_object(patch)?;
                match body.pointer("/metadata/name").and_then(Value::as_str) {
                    Some(body_name) if body_name != name => {
                        return Err(ApiError::bad_request(format!(
                            "the name of the object ({body_name}) does not match the name on the URL ({name})"
                        )));
                    }
                    Some(_) => {}
                    None => {
                        metadata_mut(&mut body).insert("name".into(), json!(name));
                    }
                }
                return self.create(def, namespace, body, mode, opts).map(|o| (o, true));
            }
            return Err(ApiError::not_found(def, name));
        };
        let mut document = old.clone();
        apply_patch(kind, &mut document, &patch)?;
        if document.pointer("/metadata/name").and_then(Value::as_str) != Some(name) {
            return Err(ApiError::invalid_object(def, name, "metadata.name: Invalid value: field is immutable".into()));
        }
        let new = prepare_update(def, &old, document, mode, opts)?;
        Ok((self.finish(def, old, new, opts.dry_run), false))
    }

    /// DELETE: with finalizers, marks the object (deletionTimestamp, once); else removes it.
    /// Answers the object as it is after the call.
    pub(crate) fn delete(
        &mut self,
        def: &ResourceDef,
        namespace: Option<&str>,
        name: &str,
        preconditions: &Preconditions,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let old = self.get(def, namespace, name)?;
        for (field, expected) in [("uid", &preconditions.uid), ("resourceVersion", &preconditions.resource_version)] {
            let actual = old.pointer(&format!("/metadata/{field}")).and_then(Value::as_str).unwrap_or_default();
            if let Some(expected) = expected
                && expected != actual
            {
                let what = if field == "uid" { "UID" } else { "ResourceVersion" };
                return Err(ApiError::conflict(
                    def,
                    name,
                    &format!(
                        "Precondition failed: {what} in precondition: {expected}, {what} in object meta: {actual}"
                    ),
                ));
            }
        }
        if has_finalizers(&old) {
            if old.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) {
                return Ok(old);
            }
            let mut new = old.clone();
            let meta = metadata_mut(&mut new);
            meta.insert("deletionTimestamp".into(), json!(now_rfc3339()));
            meta.insert("deletionGracePeriodSeconds".into(), json!(0));
            // As the API server does when it starts a graceful deletion.
            let generation = meta.get("generation").and_then(Value::as_i64).unwrap_or(0);
            meta.insert("generation".into(), json!(generation + 1));
            if dry_run {
                return Ok(new);
            }
            return Ok(self.commit(def, Some(old), new));
        }
        if dry_run {
            return Ok(old);
        }
        Ok(self.remove(def, old))
    }

    /// DELETE on a collection: deletes every matching object (same finalizer rules).
    pub(crate) fn delete_collection(
        &mut self,
        def: &ResourceDef,
        filter: &Filter,
        dry_run: bool,
    ) -> Result<Vec<Value>, ApiError> {
        let mut deleted = Vec::new();
        for object in self.list(def, filter) {
            let namespace = object.pointer("/metadata/namespace").and_then(Value::as_str).map(str::to_owned);
            let name = object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default().to_owned();
            deleted.push(self.delete(def, namespace.as_deref(), &name, &Preconditions::default(), dry_run)?);
        }
        Ok(deleted)
    }

    /// A test's `kubectl apply`: creates the object or replaces its spec and metadata (status
    /// kept when the value has none).
    pub(crate) fn user_apply(&mut self, value: Value) -> Result<Value, ApiError> {
        let def = self.def_of(&value)?;
        let (namespace, name) = object_identity(&def, &value)?;
        let opts = WriteOpts::default();
        match self.stored(&def, namespace.as_deref(), &name) {
            None => self.create(&def, namespace.as_deref(), value, Mode::Direct, &opts),
            Some(_) => self.update(&def, namespace.as_deref(), &name, Mode::Direct, value, &opts),
        }
    }

    /// No change: answers the old object, stores nothing, emits no event.
    fn finish(&mut self, def: &ResourceDef, old: Value, new: Value, dry_run: bool) -> Value {
        if new == old {
            return old;
        }
        if dry_run {
            return new;
        }
        self.commit(def, Some(old), new)
    }

    /// Stores a changed or new object under a new resourceVersion and records the change;
    /// removes it instead when it is being deleted and has no finalizers left.
    fn commit(&mut self, def: &ResourceDef, previous: Option<Value>, mut object: Value) -> Value {
        if object.pointer("/metadata/deletionTimestamp").is_some_and(|t| !t.is_null()) && !has_finalizers(&object) {
            return self.remove(def, object);
        }
        let is_crd = def.group == CRD_GROUP && def.kind == CRD_KIND;
        if is_crd {
            establish_crd(&mut object);
        }
        self.rv += 1;
        metadata_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let (type_key, object_key) = Store::key(def, namespace_of(&object), name_of(&object));
        self.objects.entry(type_key).or_default().insert(object_key, object.clone());
        let change = if previous.is_some() { ChangeType::Modified } else { ChangeType::Added };
        self.record(def, change, object.clone(), previous);
        if is_crd {
            self.install_crd(&object);
        }
        object
    }

    fn remove(&mut self, def: &ResourceDef, mut object: Value) -> Value {
        self.rv += 1;
        metadata_mut(&mut object).insert("resourceVersion".into(), json!(self.rv.to_string()));
        let (type_key, object_key) = Store::key(def, namespace_of(&object), name_of(&object));
        if let Some(objects) = self.objects.get_mut(&type_key) {
            objects.remove(&object_key);
        }
        self.record(def, ChangeType::Deleted, object.clone(), None);
        if def.group == CRD_GROUP && def.kind == CRD_KIND {
            self.uninstall_crd(&object);
        }
        object
    }

    fn record(&mut self, def: &ResourceDef, change: ChangeType, object: Value, previous: Option<Value>) {
        self.history.push(Change {
            rv: self.rv,
            group: def.group.clone(),
            kind: def.kind.clone(),
            change,
            object,
            previous,
        });
    }

    /// Serves the types a stored CRD defines (its served versions, highest priority first),
    /// replacing what an earlier version of the CRD defined.
    fn install_crd(&mut self, crd: &Value) {
        let defs = crd_defs(crd);
        if let Some(first) = defs.first() {
            let (group, kind) = (first.group.clone(), first.kind.clone());
            self.unregister(&group, &kind);
        }
        for def in defs {
            self.register(def);
        }
    }

    /// A deleted CRD takes its objects (each gets a DELETED event) and its types with it.
    fn uninstall_crd(&mut self, crd: &Value) {
        let group = crd.pointer("/spec/group").and_then(Value::as_str).unwrap_or_default().to_owned();
        let kind = crd.pointer("/spec/names/kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        if let Some(def) = self.defs.iter().find(|d| d.group == group && d.kind == kind).cloned() {
            let objects: Vec<Value> = self.list(&def, &Filter::default());
            for object in objects {
                self.remove(&def, object);
            }
        }
        self.unregister(&group, &kind);
    }

    fn generate_name(&self, def: &ResourceDef, namespace: Option<&str>, prefix: &str) -> String {
        // The API server's alphabet for generated suffixes (no vowels, no confusable digits).
        const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
        let mut rng = rand::rng();
        loop {
            let suffix: String = (0..5).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect();
            let name = format!("{prefix}{suffix}");
            if self.stored(def, namespace, &name).is_none() {
                return name;
            }
        }
    }
}

/// `DeleteOptions.preconditions`.
#[derive(Clone, Debug, Default)]
pub(crate) struct Preconditions {
    pub uid: Option<String>,
    pub resource_version: Option<String>,
}

/// The update rules shared by PUT, PATCH and direct writes: what the caller may change in
/// `mode`, optimistic concurrency, server-managed metadata, finalizers during deletion,
/// `metadata.generation`.
fn prepare_update(def: &ResourceDef, old: &Value, new: Value, mode: Mode, opts: &WriteOpts) -> Result<Value, ApiError> {
    let name = name_of(old).to_owned();
    if mode != Mode::Direct
        && let Some(rv) = new.pointer("/metadata/resourceVersion").and_then(Value::as_str).filter(|rv| !rv.is_empty())
        && Some(rv) != old.pointer("/metadata/resourceVersion").and_then(Value::as_str)
    {
        return Err(ApiError::conflict(
            def,
            &name,
            "the object has been modified; please apply your changes to the latest version and try again",
        ));
    }
    let mut result = match mode {
        Mode::Status => {
            let mut result = old.clone();
            set_or_remove(&mut result, "status", new.get("status"));
            result
        }
        Mode::Main | Mode::Direct => {
            let mut result = new;
            let keep_old_status = match mode {
                Mode::Main => def.status,
                _ => result.get("status").is_none(),
            };
            if keep_old_status {
                set_or_remove(&mut result, "status", old.get("status"));
            }
            let old_meta = old.get("metadata").and_then(Value::as_object).cloned().unwrap_or_default();
            let meta = metadata_mut(&mut result);
            for server_field in [
                "name",
                "namespace",
                "uid",
                "creationTimestamp",
                "generation",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
                "resourceVersion",
                "managedFields",
            ] {
                match old_meta.get(server_field) {
                    Some(value) => meta.insert(server_field.into(), value.clone()),
                    None => meta.remove(server_field),
                };
            }
            meta.remove("selfLink");
            if old_meta.get("deletionTimestamp").is_some_and(|t| !t.is_null()) {
                let old_finalizers = finalizers(old);
                let added: Vec<String> =
                    finalizers(&result).into_iter().filter(|f| !old_finalizers.contains(f)).collect();
                if !added.is_empty() {
                    return Err(ApiError::invalid_object(
                        def,
                        &name,
                        format!(
                            "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted, found new finalizers {added:?}"
                        ),
                    ));
                }
            }
            if !same_spec(old, &result) {
                let generation = old.pointer("/metadata/generation").and_then(Value::as_i64).unwrap_or(0);
                metadata_mut(&mut result).insert("generation".into(), json!(generation + 1));
            }
            result
        }
    };
    set_type(def, &mut result);
    record_manager(def, &mut result, opts, mode == Mode::Status);
    Ok(result)
}

/// Whether everything outside `metadata` and `status` is equal (what `generation` tracks).
fn same_spec(a: &Value, b: &Value) -> bool {
    let spec = |v: &Value| -> Map<String, Value> {
        v.as_object()
            .map(|o| {
                o.iter()
                    .filter(|(k, _)| !matches!(k.as_str(), "metadata" | "status" | "apiVersion" | "kind"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    spec(a) == spec(b)
}

/// Adds a `metadata.managedFields` entry for the request's field manager, one per manager,
/// operation and subresource (no field sets: ownership is not tracked).
fn record_manager(def: &ResourceDef, object: &mut Value, opts: &WriteOpts, status: bool) {
    let Some(manager) = &opts.field_manager else { return };
    let operation = if opts.apply { "Apply" } else { "Update" };
    let subresource = status.then_some("status");
    let meta = metadata_mut(object);
    let entries = meta.entry("managedFields").or_insert_with(|| json!([]));
    if !entries.is_array() {
        *entries = json!([]);
    }
    let entries = entries.as_array_mut().expect("array");
    let exists = entries.iter().any(|e| {
        e.get("manager").and_then(Value::as_str) == Some(manager)
            && e.get("operation").and_then(Value::as_str) == Some(operation)
            && e.get("subresource").and_then(Value::as_str) == subresource
    });
    if !exists {
        let mut entry = json!({
            "manager": manager,
            "operation": operation,
            "apiVersion": def.api_version(),
            "time": now_rfc3339(),
            "fieldsType": "FieldsV1",
            "fieldsV1": {},
        });
        if let Some(subresource) = subresource {
            entry["subresource"] = json!(subresource);
        }
        entries.push(entry);
    }
}

/// Marks a stored CRD accepted and established, as the apiextensions controllers would.
fn establish_crd(crd: &mut Value) {
    let established = crd
        .pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|c| c.iter().any(|c| c["type"] == "Established" && c["status"] == "True"));
    if established {
        return;
    }
    let now = now_rfc3339();
    let names = crd.pointer("/spec/names").cloned().unwrap_or_else(|| json!({}));
    let stored: Vec<Value> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|v| v.iter().filter(|v| v["storage"] == true).map(|v| v["name"].clone()).collect())
        .unwrap_or_default();
    crd["status"] = json!({
        "acceptedNames": names,
        "conditions": [
            {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts",
             "message": "no conflicts found", "lastTransitionTime": now},
            {"type": "Established", "status": "True", "reason": "InitialNamesAccepted",
             "message": "the initial names have been accepted", "lastTransitionTime": now},
        ],
        "storedVersions": stored,
    });
}

/// The resource types a CRD serves, highest version priority first (the preferred version).
fn crd_defs(crd: &Value) -> Vec<ResourceDef> {
    let text = |pointer: &str| crd.pointer(pointer).and_then(Value::as_str).unwrap_or_default().to_owned();
    let (group, kind, plural) = (text("/spec/group"), text("/spec/names/kind"), text("/spec/names/plural"));
    if group.is_empty() || kind.is_empty() || plural.is_empty() {
        return Vec::new();
    }
    let namespaced = text("/spec/scope") != "Cluster";
    let mut versions: Vec<(String, bool)> = crd
        .pointer("/spec/versions")
        .and_then(Value::as_array)
        .map(|versions| {
            versions
                .iter()
                .filter(|v| v["served"] == true)
                .filter_map(|v| Some((v["name"].as_str()?.to_owned(), v.pointer("/subresources/status").is_some())))
                .collect()
        })
        .unwrap_or_default();
    versions.sort_by_key(|(v, _)| std::cmp::Reverse(version_priority(v)));
    versions
        .into_iter()
        .map(|(version, status)| ResourceDef {
            group: group.clone(),
            version,
            kind: kind.clone(),
            plural: plural.clone(),
            namespaced,
            status,
        })
        .collect()
}

/// Kubernetes version ordering: GA before beta before alpha, higher numbers first.
pub(crate) fn version_priority(version: &str) -> (u8, u32, u32) {
    let Some(rest) = version.strip_prefix('v') else { return (0, 0, 0) };
    let digits = rest.chars().take_while(char::is_ascii_digit).count();
    let Ok(major) = rest[..digits].parse::<u32>() else { return (0, 0, 0) };
    let rest = &rest[digits..];
    let (level, minor) = if rest.is_empty() {
        (3, 0)
    } else if let Some(n) = rest.strip_prefix("beta") {
        (2, n.parse().unwrap_or(0))
    } else if let Some(n) = rest.strip_prefix("alpha") {
        (1, n.parse().unwrap_or(0))
    } else {
        return (0, 0, 0);
    };
    (level, major, minor)
}

/// The namespace and name of a whole object (`default` for a namespaced object without one).
fn object_identity(def: &ResourceDef, object: &Value) -> Result<(Option<String>, String), ApiError> {
    let name = object.pointer("/metadata/name").and_then(Value::as_str).filter(|n| !n.is_empty());
    let Some(name) = name else {
        return Err(ApiError::invalid("metadata.name: Required value"));
    };
    let namespace = def.namespaced.then(|| {
        object.pointer("/metadata/namespace").and_then(Value::as_str).filter(|n| !n.is_empty()).unwrap_or("default")
    });
    Ok((namespace.map(str::to_owned), name.to_owned()))
}

/// The object at `def`'s version: `apiVersion` and `kind` rewritten.
pub(crate) fn present(def: &ResourceDef, object: &Value) -> Value {
    let mut object = object.clone();
    set_type(def, &mut object);
    object
}

fn set_type(def: &ResourceDef, object: &mut Value) {
    if let Some(map) = object.as_object_mut() {
        map.insert("apiVersion".into(), json!(def.api_version()));
        map.insert("kind".into(), json!(def.kind));
    }
}

fn into_object(body: Value) -> Result<Value, ApiError> {
    if body.is_object() { Ok(body) } else { Err(ApiError::bad_request("the request body must be a JSON object")) }
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    let map = object.as_object_mut().expect("objects are JSON objects");
    let meta = map.entry("metadata").or_insert_with(|| json!({}));
    if !meta.is_object() {
        *meta = json!({});
    }
    meta.as_object_mut().expect("metadata is an object")
}

fn set_or_remove(object: &mut Value, key: &str, value: Option<&Value>) {
    let map = object.as_object_mut().expect("objects are JSON objects");
    match value {
        Some(value) => map.insert(key.to_owned(), value.clone()),
        None => map.remove(key),
    };
}

fn namespace_of(object: &Value) -> Option<&str> {
    object.pointer("/metadata/namespace").and_then(Value::as_str)
}

fn name_of(object: &Value) -> &str {
    object.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default()
}

fn finalizers(object: &Value) -> Vec<String> {
    object
        .pointer("/metadata/finalizers")
        .and_then(Value::as_array)
        .map(|f| f.iter().filter_map(Value::as_str).map(str::to_owned).collect())
        .unwrap_or_default()
}

fn has_finalizers(object: &Value) -> bool {
    !finalizers(object).is_empty()
}

/// `group/version` -> (group, version); `v1` -> ("", "v1").
pub(crate) fn split_api_version(api_version: &str) -> (&str, &str) {
    api_version.rsplit_once('/').unwrap_or(("", api_version))
}

fn new_uid() -> String {
    let mut bits: u128 = rand::rng().random();
    // RFC 4122 version 4, variant 1.
    bits = (bits & !(0xf << 76)) | (0x4 << 76);
    bits = (bits & !(0x3 << 62)) | (0x2 << 62);
    let hex = format!("{bits:032x}");
    format!("{}-{}-{}-{}-{}", &hex[..8], &hex[8..12], &hex[12..16], &hex[16..20], &hex[20..])
}

/// Now, as the API server writes timestamps (RFC 3339, UTC, seconds).
pub(crate) fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, second_of_day) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_sort_like_kubernetes() {
        let mut v = vec!["v1alpha2", "v1beta1", "v2", "v1", "v1alpha3", "foo"];
        v.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        assert_eq!(v, ["v2", "v1", "v1beta1", "v1alpha3", "v1alpha2", "foo"]);
    }

    #[test]
    fn uids_are_version_4() {
        let uid = new_uid();
        assert_eq!(uid.len(), 36);
        assert_eq!(&uid[14..15], "4");
        assert_ne!(uid, new_uid());
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
        assert_eq!(&now[10..11], "T");
    }
}
