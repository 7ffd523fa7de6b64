//! What keeps or lets go of AWS stacks and classes: the GatewayClass controller with its
//! gateway-exists finalizer, deletion of a Gateway's stack (never while deletion protection is
//! on), and the status of a Gateway whose stack is kept.

use std::time::Duration;

use albatross_aws::delete::DELETION_PROTECTED;
use albatross_aws::{AwsError, ErrorClass};
use albatross_k8s::route::ObjectKey;
use albatross_model::plan::{self, Snapshot, StatusEntry};
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::runtime::events::EventType;
use serde_json::{Value, json};

use super::{CLASS_FINALIZER, Controller, Error};
use crate::cache::Kind;
use crate::index::Key;
use crate::status::{Kept, kept_status};

impl Controller {
    pub(super) async fn reconcile_class(&self, name: &str) -> Result<(), Error> {
        let Some(class) = self.cache.get(Kind::GatewayClass, &ObjectKey::new("", name)) else { return Ok(()) };
        if !self.ours(Some(&class)) {
            return Ok(());
        }
        // A class in use is not deleted from under its Gateways (Gateway API's finalizer).
        let in_use = self
            .cache
            .list(Kind::Gateway)
            .iter()
            .any(|gw| gw.pointer("/spec/gatewayClassName").and_then(Value::as_str) == Some(name));
        self.set_class_finalizer(&class, in_use).await?;
        if class.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(());
        }
        let mut objects = vec![(*class).clone()];
        if let Some(p) = class.pointer("/spec/parametersRef") {
            let text = |k: &str| p.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let key = ObjectKey::new(text("namespace"), text("name"));
            objects.extend(self.cache.get(Kind::LoadBalancerConfiguration, &key).map(|v| (*v).clone()));
        }
        let (snapshot, _) = Snapshot::from_objects(objects);
        let build = plan::build(&snapshot, &self.env(Vec::new()));
        for entry in build.statuses.iter().filter(|s| s.kind == "GatewayClass") {
            self.write_status(entry, None).await?;
        }
        Ok(())
    }

    /// Adds or removes [`CLASS_FINALIZER`] when it does not match `in_use`, with a JSON patch
    /// that fails if the class changed since it was read (other finalizers are kept).
    async fn set_class_finalizer(&self, class: &Value, in_use: bool) -> Result<(), Error> {
        let current: Vec<String> = class
            .pointer("/metadata/finalizers")
            .and_then(|f| serde_json::from_value(f.clone()).ok())
            .unwrap_or_default();
        let deleting = class.pointer("/metadata/deletionTimestamp").is_some();
        // No finalizer can be added to an object being deleted.
        if current.iter().any(|f| f == CLASS_FINALIZER) == in_use || (in_use && deleting) {
            return Ok(());
        }
        if !self.leadership.is_leader() {
            return Err(Error::NotLeader);
        }
        let Some(resource) = self.cache.resource(Kind::GatewayClass) else { return Ok(()) };
        let name = class.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
        let version = class.pointer("/metadata/resourceVersion").cloned().unwrap_or(Value::Null);
        let mut next: Vec<String> = current.into_iter().filter(|f| f != CLASS_FINALIZER).collect();
        if in_use {
            next.push(CLASS_FINALIZER.into());
        }
        let patch: json_patch::Patch = serde_json::from_value(json!([
            { "op": "test", "path": "/metadata/resourceVersion", "value": version },
            { "op": "add", "path": "/metadata/finalizers", "value": next },
        ]))
        .expect("a valid JSON patch");
        let api: Api<DynamicObject> = Api::all_with(self.client.clone(), &resource);
        match api.patch(name, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 && !in_use => Ok(()),
            // Changed since it was read: the watch brings the new version and another look.
            Err(kube::Error::Api(e)) if e.code == 409 || e.code == 422 => {
                self.queue.add_after(Key::Class(name.to_owned()), Duration::from_millis(500));
                Ok(())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Deletes the Gateway's stack. A load balancer with deletion protection keeps it whole: an
    /// error (the finalizer stays), a Warning event and, when `tell` (the status is ours to
    /// write), `Programmed` False with reason `DeletionProtected`.
    pub(super) async fn delete_stack(&self, key: &ObjectKey, gw: &Value, tell: bool) -> Result<(), Error> {
        let gateway = key.to_string();
        let mut deleted = 0;
        let mut protected = Vec::new();
        let mut target_groups = Vec::new();
        for alb in [true, false] {
            match self.deployer.delete(&gateway, alb).await {
                Ok(d) => {
                    deleted += d.deleted;
                    protected.extend(d.protected);
                    target_groups.extend(d.target_groups);
                }
                Err(e) if e.class == ErrorClass::Fenced => return Err(Error::NotLeader),
                Err(e) => return Err(e.into()),
            }
        }
        if !protected.is_empty() {
            let message = format!(
                "deletion protection is on for {}: the AWS stack is kept; turn deletion_protection.enabled off \
                 to let it be deleted",
                protected.join(", ")
            );
            tracing::warn!(%gateway, "{message}");
            self.event(gw, EventType::Warning, Kept::DeletionProtected.reason(), "Delete", message.clone()).await;
            if tell {
                self.write_kept(gw, "Programmed", Kept::DeletionProtected, &message).await?;
            }
            return Err(AwsError::new("DeleteLoadBalancer", DELETION_PROTECTED, message, ErrorClass::Permanent).into());
        }
        self.forget_target_groups(&target_groups).await;
        tracing::info!(%gateway, deleted, "AWS stack deleted");
        self.event(gw, EventType::Normal, "Deleted", "Delete", format!("{deleted} AWS resources deleted")).await;
        self.attached.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        self.deployed.lock().unwrap_or_else(|e| e.into_inner()).remove(key);
        self.index.lock().unwrap_or_else(|e| e.into_inner()).record(key, Vec::new());
        Ok(())
    }

    /// The Gateway's status as it is, with condition `kind` False for a stack that is kept.
    pub(super) async fn write_kept(&self, gw: &Value, kind: &str, reason: Kept, message: &str) -> Result<(), Error> {
        let text = |p: &str| gw.pointer(p).and_then(Value::as_str).map(str::to_owned);
        let entry = StatusEntry {
            api_version: text("/apiVersion").unwrap_or_else(|| "gateway.networking.k8s.io/v1".into()),
            kind: "Gateway".into(),
            namespace: text("/metadata/namespace"),
            name: text("/metadata/name").unwrap_or_default(),
            status: kept_status(gw, kind, reason, message),
        };
        let key = ObjectKey::new(entry.namespace.clone().unwrap_or_default(), entry.name.clone());
        self.write_status(&entry, Some(&key)).await
    }
}
