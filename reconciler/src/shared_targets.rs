//! `enableMultiCluster`: the record of the targets this cluster registered in a target group
//! shared with other clusters, the only ones it may deregister there. It is kept in a ConfigMap
//! in the controller's own namespace, so a restart, a failover or a new leader still knows them
//! (LBC keeps the same in `aws-lbc-targets-*` ConfigMaps).
//!
//! One ConfigMap per target group, named by [`name`] from its ARN, labelled
//! [`MANAGED_BY`]`=albatross` and [`RECORD_LABEL`]`=shared-targets`, annotated with the cluster
//! ([`CLUSTER_ANNOTATION`]) and the target group ARN ([`TARGET_GROUP_ANNOTATION`]). Its data key
//! [`DATA_KEY`] holds compact JSON: `{"version":1,"targetGroupArn":ARN,"targets":[{"id":..,
//! "port":..}]}`, targets sorted. A ConfigMap under that name without those labels and
//! annotations is someone else's: it is refused, never overwritten.

use std::collections::{BTreeMap, BTreeSet};

use albatross_aws::targets::Target;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, DeleteParams, ObjectMeta, PostParams, Preconditions};
use serde::{Deserialize, Serialize};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const RECORD_LABEL: &str = "albatross.k8s.aws/record";
pub const RECORD_KIND: &str = "shared-targets";
pub const CLUSTER_ANNOTATION: &str = "albatross.k8s.aws/cluster";
pub const TARGET_GROUP_ANNOTATION: &str = "albatross.k8s.aws/target-group-arn";
pub const DATA_KEY: &str = "targets.json";
/// The API server refuses a ConfigMap whose data passes 1 MiB; this leaves room for the key.
pub const MAX_BYTES: usize = 1_000_000;
const VERSION: u32 = 1;

/// Why the record of a shared target group could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    /// The Kubernetes API refused or failed the request (a conflict included): retried.
    #[error("ConfigMap {name}: Kubernetes API: {source}")]
    Kube { name: String, source: kube::Error },
    /// A ConfigMap under the record's name that is not this cluster's record of this target group.
    #[error(
        "ConfigMap {name} is not Albatross' record of target group {arn} for this cluster ({why}): it is left as it is"
    )]
    Foreign { name: String, arn: String, why: &'static str },
    /// Our ConfigMap, but its data cannot be read as a record.
    #[error("ConfigMap {name}: the record of target group {arn} cannot be read: {why}")]
    Corrupt { name: String, arn: String, why: String },
    /// More targets than a ConfigMap holds: nothing is registered beyond what is recorded.
    #[error(
        "ConfigMap {name}: the record of target group {arn} would hold {targets} targets ({bytes} bytes), over the \
         ConfigMap limit of {MAX_BYTES} bytes: no target is registered until it fits"
    )]
    TooLarge { name: String, arn: String, targets: usize, bytes: usize },
}

impl RecordError {
    /// Only a failed request may succeed when tried again without a change.
    pub fn is_transient(&self) -> bool {
        matches!(self, RecordError::Kube { .. })
    }
}

/// The record as stored.
#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Document {
    version: u32,
    target_group_arn: String,
    targets: Vec<Entry>,
}

#[derive(Serialize, Deserialize, Debug, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
struct Entry {
    id: String,
    port: i32,
}

/// The targets recorded for one target group, and the ConfigMap version they were read from or
/// written as (`None`: no ConfigMap yet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Held {
    pub targets: BTreeSet<Target>,
    pub resource_version: Option<String>,
}

/// The ConfigMap name of a target group's record: `albatross-` and the ARN's resource part
/// (`targetgroup/NAME/ID`) in DNS-1123 form. The ID makes it unique in the account and region.
pub fn name(arn: &str) -> String {
    let resource = arn.rsplit(':').next().unwrap_or(arn);
    let mut out = String::from("albatross-");
    for c in resource.chars() {
        match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => out.push(c),
            _ if !out.ends_with('-') => out.push('-'),
            _ => {}
        }
    }
    out.truncate(253);
    out.trim_end_matches('-').to_owned()
}

/// The records of one cluster, in one namespace.
#[derive(Clone)]
pub struct Records {
    api: Api<ConfigMap>,
    cluster: String,
}

impl Records {
    pub fn new(client: kube::Client, namespace: &str, cluster: &str) -> Self {
        Self { api: Api::namespaced(client, namespace), cluster: cluster.to_owned() }
    }

    /// The record of `arn`: empty when no ConfigMap exists (nothing recorded yet). A failed read
    /// is an error, never an empty record.
    pub async fn read(&self, arn: &str) -> Result<Held, RecordError> {
        let name = name(arn);
        let found = self.api.get_opt(&name).await.map_err(|source| RecordError::Kube { name: name.clone(), source })?;
        match found {
            None => Ok(Held::default()),
            Some(cm) => self.parse(&name, arn, &cm),
        }
    }

    fn parse(&self, name: &str, arn: &str, cm: &ConfigMap) -> Result<Held, RecordError> {
        self.check_ours(name, arn, &cm.metadata)?;
        let corrupt = |why: String| RecordError::Corrupt { name: name.to_owned(), arn: arn.to_owned(), why };
        let data = cm.data.as_ref().and_then(|d| d.get(DATA_KEY)).ok_or_else(|| corrupt(format!("no {DATA_KEY}")))?;
        let doc: Document = serde_json::from_str(data).map_err(|e| corrupt(e.to_string()))?;
        if doc.version != VERSION {
            return Err(corrupt(format!("version {} (this build reads {VERSION})", doc.version)));
        }
        if doc.target_group_arn != arn {
            return Err(corrupt(format!("it names target group {}", doc.target_group_arn)));
        }
        let targets = doc.targets.into_iter().map(|e| Target { id: e.id, port: e.port }).collect();
        Ok(Held { targets, resource_version: cm.metadata.resource_version.clone() })
    }

    fn check_ours(&self, name: &str, arn: &str, meta: &ObjectMeta) -> Result<(), RecordError> {
        let label = |k: &str| meta.labels.as_ref().and_then(|l| l.get(k)).map(String::as_str);
        let annotation = |k: &str| meta.annotations.as_ref().and_then(|a| a.get(k)).map(String::as_str);
        let why = if label(MANAGED_BY) != Some("albatross") || label(RECORD_LABEL) != Some(RECORD_KIND) {
            "not labelled as ours"
        } else if annotation(CLUSTER_ANNOTATION) != Some(self.cluster.as_str()) {
            "another cluster's"
        } else if annotation(TARGET_GROUP_ANNOTATION) != Some(arn) {
            "another target group's"
        } else {
            return Ok(());
        };
        Err(RecordError::Foreign { name: name.to_owned(), arn: arn.to_owned(), why })
    }

    /// Stores `targets` as the record of `arn`, over the version `held` was read as (a conflict
    /// is an error: the caller reads again). Returns what is stored now.
    pub async fn write(&self, arn: &str, held: &Held, targets: &BTreeSet<Target>) -> Result<Held, RecordError> {
        let name = name(arn);
        let doc = Document {
            version: VERSION,
            target_group_arn: arn.to_owned(),
            targets: targets.iter().map(|t| Entry { id: t.id.clone(), port: t.port }).collect(),
        };
        let data = serde_json::to_string(&doc).expect("a record serializes");
        if data.len() > MAX_BYTES {
            return Err(RecordError::TooLarge { name, arn: arn.to_owned(), targets: targets.len(), bytes: data.len() });
        }
        let cm = ConfigMap {
            metadata: ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (MANAGED_BY.into(), "albatross".into()),
                    (RECORD_LABEL.into(), RECORD_KIND.into()),
                ])),
                annotations: Some(BTreeMap::from([
                    (CLUSTER_ANNOTATION.into(), self.cluster.clone()),
                    (TARGET_GROUP_ANNOTATION.into(), arn.to_owned()),
                ])),
                resource_version: held.resource_version.clone(),
                ..ObjectMeta::default()
            },
            data: Some(BTreeMap::from([(DATA_KEY.into(), data)])),
            ..ConfigMap::default()
        };
        let params = PostParams { field_manager: Some(crate::FIELD_MANAGER.into()), ..PostParams::default() };
        // Create when there was none (a 409 if one appeared meanwhile); otherwise replace the
        // version read (a 409 if it changed), so a record is never written over blind.
        let written = match &held.resource_version {
            None => self.api.create(&params, &cm).await,
            Some(_) => self.api.replace(&name, &params, &cm).await,
        };
        let written = written.map_err(|source| RecordError::Kube { name, source })?;
        Ok(Held { targets: targets.clone(), resource_version: written.metadata.resource_version })
    }

    /// Deletes the record of a target group this cluster deleted. None is fine; someone else's
    /// ConfigMap under the name is left alone (an error).
    pub async fn delete(&self, arn: &str) -> Result<(), RecordError> {
        let name = name(arn);
        let kube = |source| RecordError::Kube { name: name.clone(), source };
        let Some(cm) = self.api.get_opt(&name).await.map_err(kube)? else { return Ok(()) };
        self.check_ours(&name, arn, &cm.metadata)?;
        let preconditions =
            Preconditions { uid: cm.metadata.uid.clone(), resource_version: cm.metadata.resource_version.clone() };
        let params = DeleteParams { preconditions: Some(preconditions), ..DeleteParams::default() };
        match self.api.delete(&name, &params).await {
            Ok(_) => Ok(()),
            Err(kube::Error::Api(e)) if e.code == 404 => Ok(()),
            Err(source) => Err(RecordError::Kube { name, source }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_name_comes_from_the_arn_in_dns_1123_form() {
        let arn = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/k8s-Apps_svc/73e2d6bc24d8a067";
        assert_eq!(name(arn), "albatross-targetgroup-k8s-apps-svc-73e2d6bc24d8a067");
        let long = format!("arn:aws:x:r:1:targetgroup/{}/{}", "a".repeat(300), "b".repeat(16));
        assert!(name(&long).len() <= 253);
        assert!(name(&long).ends_with('a'));
    }

    #[test]
    fn a_record_reads_back_as_written() {
        let doc = Document {
            version: 1,
            target_group_arn: "arn:tg".into(),
            targets: vec![Entry { id: "10.0.0.1".into(), port: 8080 }],
        };
        let text = serde_json::to_string(&doc).unwrap();
        assert_eq!(text, r#"{"version":1,"targetGroupArn":"arn:tg","targets":[{"id":"10.0.0.1","port":8080}]}"#);
        assert_eq!(serde_json::from_str::<Document>(&text).unwrap(), doc);
        assert!(serde_json::from_str::<Document>(r#"{"version":1,"targetGroupArn":"a","targets":[],"x":1}"#).is_err());
    }
}
