//! Webhook serving certificates without cert-manager: the replicas share a CA and serving pair
//! kept in a Secret of their namespace, write it to local files the TLS resolver follows, and
//! patch the CA into our webhook configurations' `caBundle`.
//!
//! Safe with several replicas: the Secret is created only if absent and replaced only at the
//! resourceVersion read (a replica that loses the race takes the winner's pair). The serving
//! pair is renewed from the same CA well before it expires, so `caBundle` does not change; a CA
//! near its end is replaced with the old one kept in the bundle until it expires.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use albatross_certs::{Authority, Pair, PemFiles};
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhookConfiguration, ValidatingWebhookConfiguration};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::Client;
use kube::api::{Api, ApiResource, DynamicObject, ObjectMeta, Patch, PatchParams, PostParams};
use serde_json::{Value, json};

const CA_DAYS: u32 = 3650;
const SERVING_DAYS: u32 = 365;
/// Renew the serving pair with this much validity left.
const SERVING_MARGIN_DAYS: i64 = 30;
/// Replace the CA with this much validity left; the old one stays trusted until it expires.
const CA_MARGIN_DAYS: i64 = 365;

const SERVING_NOT_AFTER: &str = "albatross.k8s.aws/serving-not-after";
const CA_NOT_AFTER: &str = "albatross.k8s.aws/ca-not-after";
const DNS_NAMES: &str = "albatross.k8s.aws/dns-names";

#[derive(Clone, Debug)]
pub struct Bootstrap {
    pub namespace: String,
    pub secret: String,
    /// The Service in front of the webhook: its DNS names go into the certificate.
    pub service: String,
    /// Name of the Validating and Mutating webhook configurations to patch.
    pub configuration: String,
    /// Where the pair is written for the TLS resolver.
    pub dir: PathBuf,
}

/// What the Secret holds.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Material {
    ca: Authority,
    /// Every CA clients should trust: the current one first.
    bundle: String,
    serving: Pair,
    ca_not_after: Timestamp,
    serving_not_after: Timestamp,
    dns_names: String,
}

fn days(n: i64) -> SignedDuration {
    SignedDuration::from_hours(24 * n)
}

impl Bootstrap {
    pub fn dns_names(&self) -> Vec<String> {
        let (s, ns) = (&self.service, &self.namespace);
        vec![format!("{s}.{ns}.svc"), format!("{s}.{ns}.svc.cluster.local"), format!("{s}.{ns}"), s.clone()]
    }

    pub fn files(&self) -> PemFiles {
        PemFiles { cert: self.dir.join("tls.crt"), key: self.dir.join("tls.key") }
    }

    /// Makes sure the Secret holds a usable pair, writes it to the files and patches `caBundle`.
    pub async fn ensure(&self, client: &Client) -> anyhow::Result<PemFiles> {
        let secrets: Api<Secret> = Api::namespaced(client.clone(), &self.namespace);
        for _ in 0..5 {
            let existing = secrets.get_opt(&self.secret).await?;
            let current = existing.as_ref().and_then(read);
            let names = self.dns_names().join(",");
            match plan(current.as_ref(), &names, Timestamp::now())? {
                None => {
                    let material = current.expect("kept material exists");
                    self.install(client, &material).await?;
                    return Ok(self.files());
                }
                Some(fresh) => {
                    let secret = self.to_secret(&fresh, existing.as_ref());
                    let stored = match existing {
                        None => secrets.create(&PostParams::default(), &secret).await,
                        Some(_) => secrets.replace(&self.secret, &PostParams::default(), &secret).await,
                    };
                    match stored {
                        Ok(_) => {
                            tracing::info!(secret = %self.secret, "webhook serving certificate stored");
                            self.install(client, &fresh).await?;
                            return Ok(self.files());
                        }
                        // Another replica wrote first: use what it wrote.
                        Err(kube::Error::Api(e)) if e.code == 409 => continue,
                        Err(e) => return Err(e.into()),
                    }
                }
            }
        }
        anyhow::bail!("the serving certificate Secret {} keeps changing under us", self.secret)
    }

    /// Re-checks the Secret periodically: renewals by any replica reach every replica's files.
    pub async fn keep_fresh(self, client: Client, every: Duration) {
        loop {
            tokio::time::sleep(every).await;
            if let Err(error) = self.ensure(&client).await {
                tracing::warn!(%error, "serving certificate check failed; keeping the current one");
            }
        }
    }

    fn to_secret(&self, m: &Material, existing: Option<&Secret>) -> Secret {
        let data = BTreeMap::from([
            ("ca.crt".to_owned(), ByteString(m.bundle.clone().into_bytes())),
            ("ca.key".to_owned(), ByteString(m.ca.key_pem.clone().into_bytes())),
            ("ca-signing.crt".to_owned(), ByteString(m.ca.cert_pem.clone().into_bytes())),
            ("tls.crt".to_owned(), ByteString(m.serving.cert_pem.clone().into_bytes())),
            ("tls.key".to_owned(), ByteString(m.serving.key_pem.clone().into_bytes())),
        ]);
        let annotations = BTreeMap::from([
            (CA_NOT_AFTER.to_owned(), m.ca_not_after.to_string()),
            (SERVING_NOT_AFTER.to_owned(), m.serving_not_after.to_string()),
            (DNS_NAMES.to_owned(), m.dns_names.clone()),
        ]);
        Secret {
            metadata: ObjectMeta {
                name: Some(self.secret.clone()),
                namespace: Some(self.namespace.clone()),
                annotations: Some(annotations),
                resource_version: existing.and_then(|s| s.metadata.resource_version.clone()),
                ..Default::default()
            },
            type_: Some("kubernetes.io/tls".into()),
            data: Some(data),
            ..Default::default()
        }
    }

    async fn install(&self, client: &Client, m: &Material) -> anyhow::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        write_if_changed(&self.dir.join("ca.crt"), &m.bundle)?;
        // Key first: the resolver reloads when the certificate changes.
        write_if_changed(&self.dir.join("tls.key"), &m.serving.key_pem)?;
        write_if_changed(&self.dir.join("tls.crt"), &m.serving.cert_pem)?;
        let bundle = ByteString(m.bundle.clone().into_bytes());
        let encoded = serde_json::to_value(&bundle)?;
        for resource in [
            ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
            ApiResource::erase::<MutatingWebhookConfiguration>(&()),
        ] {
            let api: Api<DynamicObject> = Api::all_with(client.clone(), &resource);
            // Replicas patch at once: a patch made against a stale read is refused; read again.
            for attempt in 1..=5 {
                let Some(config) = api.get_opt(&self.configuration).await? else {
                    tracing::info!(kind = %resource.kind, name = %self.configuration, "webhook configuration not found; caBundle not patched");
                    break;
                };
                let config = serde_json::to_value(&config)?;
                let Some(patch) = self.ca_bundle_patch(&config, &encoded) else { break };
                match api.patch(&self.configuration, &PatchParams::default(), &Patch::Json::<()>(patch)).await {
                    Ok(_) => {
                        tracing::info!(kind = %resource.kind, name = %self.configuration, "caBundle patched");
                        break;
                    }
                    Err(kube::Error::Api(e)) if (e.code == 409 || e.code == 422) && attempt < 5 => continue,
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }
}

impl Bootstrap {
    /// A JSON patch setting `caBundle` on our webhooks, valid only against the version read;
    /// `None` when they already carry it.
    fn ca_bundle_patch(&self, config: &Value, encoded: &Value) -> Option<json_patch::Patch> {
        let mut ops = vec![json!({"op": "test", "path": "/metadata/resourceVersion",
                                  "value": config.pointer("/metadata/resourceVersion")})];
        for (i, webhook) in config.get("webhooks").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let service = webhook.pointer("/clientConfig/service");
            let ours = service.and_then(|s| s.get("name")).and_then(Value::as_str) == Some(&self.service)
                && service.and_then(|s| s.get("namespace")).and_then(Value::as_str) == Some(&self.namespace);
            if ours && webhook.pointer("/clientConfig/caBundle") != Some(encoded) {
                ops.push(
                    json!({"op": "add", "path": format!("/webhooks/{i}/clientConfig/caBundle"), "value": encoded}),
                );
            }
        }
        (ops.len() > 1).then(|| serde_json::from_value(Value::Array(ops)).expect("a valid JSON patch"))
    }
}

fn write_if_changed(path: &Path, text: &str) -> std::io::Result<()> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(text) {
        return Ok(());
    }
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
    }
    std::fs::rename(tmp, path)
}

fn read(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let text = |k: &str| data.get(k).and_then(|b| String::from_utf8(b.0.clone()).ok());
    let annotations = secret.metadata.annotations.as_ref()?;
    let time = |k: &str| annotations.get(k)?.parse::<Timestamp>().ok();
    let serving = Pair { cert_pem: text("tls.crt")?, key_pem: text("tls.key")? };
    albatross_certs::check_pair(&serving).ok()?;
    Some(Material {
        ca: Authority { cert_pem: text("ca-signing.crt")?, key_pem: text("ca.key")? },
        bundle: text("ca.crt")?,
        serving,
        ca_not_after: time(CA_NOT_AFTER)?,
        serving_not_after: time(SERVING_NOT_AFTER)?,
        dns_names: annotations.get(DNS_NAMES)?.clone(),
    })
}

/// `None` keeps what is stored; `Some` is what to store instead.
fn plan(current: Option<&Material>, names: &str, now: Timestamp) -> anyhow::Result<Option<Material>> {
    let dns: Vec<String> = names.split(',').map(str::to_owned).collect();
    let ca_fresh = current.filter(|m| m.ca_not_after > now + days(CA_MARGIN_DAYS));
    let serving_fresh = current.is_some_and(|m| m.serving_not_after > now + days(SERVING_MARGIN_DAYS));
    if let Some(m) = ca_fresh
        && serving_fresh
        && m.dns_names == names
    {
        return Ok(None);
    }
    let (ca, ca_not_after, bundle) = match ca_fresh {
        Some(m) => (m.ca.clone(), m.ca_not_after, m.bundle.clone()),
        None => {
            let ca = Authority::generate(CA_DAYS)?;
            let mut bundle = ca.cert_pem.clone();
            // The old CA stays trusted while webhooks may still present a pair it signed.
            if let Some(old) = current.filter(|m| m.ca_not_after > now) {
                bundle.push_str(&old.ca.cert_pem);
            }
            (ca, now + days(i64::from(CA_DAYS)), bundle)
        }
    };
    let serving = ca.issue(&dns, SERVING_DAYS)?;
    Ok(Some(Material {
        ca,
        bundle,
        serving,
        ca_not_after,
        serving_not_after: now + days(i64::from(SERVING_DAYS)),
        dns_names: names.to_owned(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: &str = "albatross-webhook.albatross-system.svc";

    #[test]
    fn a_fresh_pair_is_kept() {
        let now = Timestamp::now();
        let m = plan(None, NAMES, now).unwrap().unwrap();
        assert!(plan(Some(&m), NAMES, now + days(100)).unwrap().is_none());
    }

    #[test]
    fn a_serving_pair_near_expiry_is_renewed_from_the_same_ca() {
        let now = Timestamp::now();
        let m = plan(None, NAMES, now).unwrap().unwrap();
        let later = now + days(i64::from(SERVING_DAYS) - 10);
        let renewed = plan(Some(&m), NAMES, later).unwrap().expect("renewed");
        assert_eq!(renewed.bundle, m.bundle, "caBundle must not change for a serving renewal");
        assert_ne!(renewed.serving, m.serving);
    }

    #[test]
    fn a_ca_near_its_end_is_replaced_and_the_old_one_stays_trusted() {
        let now = Timestamp::now();
        let m = plan(None, NAMES, now).unwrap().unwrap();
        let later = now + days(i64::from(CA_DAYS) - 100);
        let renewed = plan(Some(&m), NAMES, later).unwrap().expect("renewed");
        assert_ne!(renewed.ca, m.ca);
        assert!(renewed.bundle.starts_with(&renewed.ca.cert_pem));
        assert!(renewed.bundle.ends_with(&m.ca.cert_pem));
    }

    #[test]
    fn new_service_names_get_a_new_serving_pair() {
        let now = Timestamp::now();
        let m = plan(None, NAMES, now).unwrap().unwrap();
        let renewed = plan(Some(&m), "other.albatross-system.svc", now).unwrap().expect("renewed");
        assert_eq!(renewed.ca, m.ca);
    }
}
