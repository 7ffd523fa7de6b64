//! Serving certificates for the admission webhook.
//!
//! The pair is read from PEM files and re-read when the files change, checked at most once a
//! second on new handshakes, so cert-manager rotations apply without a restart and without
//! dropping connections. `self_signed` writes a CA and a serving pair for clusters without one.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A certificate or key file could not be read.
    #[error("reading {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    /// A file held no usable PEM certificate or key.
    #[error("{path}: {reason}")]
    Pem { path: PathBuf, reason: String },
    /// The key does not suit the certificate or is of an unsupported type.
    #[error("key {path}: {source}")]
    Key { path: PathBuf, source: rustls::Error },
    /// TLS configuration could not be built.
    #[error("TLS configuration: {0}")]
    Tls(#[from] rustls::Error),
    /// Generating the self-signed pair failed.
    #[error("generating certificates: {0}")]
    Generate(#[from] rcgen::Error),
    /// Writing the generated pair failed.
    #[error("writing {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// Where a serving pair lives on disk.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PemFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Reads and checks a PEM certificate chain and private key.
pub fn load(files: &PemFiles) -> Result<CertifiedKey, Error> {
    let read = |path: &Path| std::fs::read(path).map_err(|source| Error::Read { path: path.to_owned(), source });
    let cert_pem = read(&files.cert)?;
    let key_pem = read(&files.key)?;
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Pem { path: files.cert.clone(), reason: e.to_string() })?;
    if chain.is_empty() {
        return Err(Error::Pem { path: files.cert.clone(), reason: "no CERTIFICATE block".into() });
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| Error::Pem { path: files.key.clone(), reason: e.to_string() })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider).map_err(|source| Error::Key { path: files.key.clone(), source })
}

struct State {
    current: Arc<CertifiedKey>,
    /// Unix seconds after which the leaf certificate in use is no longer valid.
    not_after: Option<i64>,
    stamps: (Option<SystemTime>, Option<SystemTime>),
    checked: Instant,
}

/// A certificate resolver that follows its PEM files.
pub struct ReloadingResolver {
    files: PemFiles,
    interval: Duration,
    state: Mutex<State>,
}

impl std::fmt::Debug for ReloadingResolver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReloadingResolver").field("files", &self.files).finish()
    }
}

fn modified(path: &Path) -> Option<SystemTime> {
    std::fs::metadata(path).and_then(|m| m.modified()).ok()
}

impl ReloadingResolver {
    /// Loads the pair once; a pair that cannot be loaded at start is an error.
    pub fn new(files: PemFiles) -> Result<Self, Error> {
        Self::with_interval(files, Duration::from_secs(1))
    }

    pub fn with_interval(files: PemFiles, interval: Duration) -> Result<Self, Error> {
        let stamps = (modified(&files.cert), modified(&files.key));
        let current = Arc::new(load(&files)?);
        let not_after = not_after(&current);
        Ok(Self { files, interval, state: Mutex::new(State { current, not_after, stamps, checked: Instant::now() }) })
    }

    /// The pair in use, re-read first if the files changed since the last look.
    pub fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.checked.elapsed() >= self.interval {
            state.checked = Instant::now();
            let stamps = (modified(&self.files.cert), modified(&self.files.key));
            if stamps != state.stamps {
                match load(&self.files) {
                    Ok(key) => {
                        tracing::info!(cert = %self.files.cert.display(), "serving certificate reloaded");
                        state.not_after = not_after(&key);
                        state.current = Arc::new(key);
                        state.stamps = stamps;
                    }
                    // A half-written rotation: keep serving the old pair and look again later.
                    Err(error) => tracing::warn!(%error, "serving certificate not reloaded"),
                }
            }
        }
        state.current.clone()
    }

    /// Unix seconds at which the pair in use expires (re-read first if the files changed).
    pub fn not_after(&self) -> Option<i64> {
        self.current();
        self.state.lock().unwrap_or_else(|e| e.into_inner()).not_after
    }
}

/// Unix seconds at which the leaf certificate of `key` expires; `None` if it does not parse.
pub fn not_after(key: &CertifiedKey) -> Option<i64> {
    let leaf = key.cert.first()?;
    let (_, cert) = x509_parser::parse_x509_certificate(leaf.as_ref()).ok()?;
    Some(cert.validity().not_after.timestamp())
}

impl ResolvesServerCert for ReloadingResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// A TLS 1.2+ server configuration on the `ring` provider that serves what `resolver` gives.
pub fn server_config(resolver: Arc<dyn ResolvesServerCert>) -> Result<rustls::ServerConfig, Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

/// The files `self_signed` writes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelfSigned {
    pub ca: PathBuf,
    pub serving: PemFiles,
}

/// Writes a CA (`ca.crt`) and a serving pair (`tls.crt`, `tls.key`) for `dns_names` into `dir`,
/// valid for `days`. An existing pair in `dir` is kept, so restarts do not change the CA.
pub fn self_signed(dir: &Path, dns_names: &[String], days: u32) -> Result<SelfSigned, Error> {
    let out = SelfSigned {
        ca: dir.join("ca.crt"),
        serving: PemFiles { cert: dir.join("tls.crt"), key: dir.join("tls.key") },
    };
    if out.ca.exists() && load(&out.serving).is_ok() {
        return Ok(out);
    }
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_owned(), source })?;
    let ca = Authority::generate(days)?;
    let serving = ca.issue(dns_names, days)?;
    let write = |path: &Path, text: String| {
        std::fs::write(path, text).map_err(|source| Error::Write { path: path.to_owned(), source })
    };
    write(&out.ca, ca.cert_pem.clone())?;
    write(&out.serving.key, serving.key_pem)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&out.serving.key, std::fs::Permissions::from_mode(0o600));
    }
    // The chain file is written last: a reader that sees it also finds the matching key.
    write(&out.serving.cert, serving.cert_pem)?;
    Ok(out)
}

/// A certificate and its key, PEM encoded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pair {
    pub cert_pem: String,
    pub key_pem: String,
}

/// The webhook's own CA: it signs the serving certificate and goes into `caBundle`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authority {
    pub cert_pem: String,
    pub key_pem: String,
}

const CA_NAME: &str = "albatross webhook CA";

fn ca_params(not_after: time::OffsetDateTime) -> Result<rcgen::CertificateParams, Error> {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name = rcgen::DistinguishedName::new();
    params.distinguished_name.push(rcgen::DnType::CommonName, CA_NAME);
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    params.key_usages = vec![rcgen::KeyUsagePurpose::KeyCertSign, rcgen::KeyUsagePurpose::CrlSign];
    params.not_before = time::OffsetDateTime::now_utc() - time::Duration::minutes(5);
    params.not_after = not_after;
    Ok(params)
}

impl Authority {
    /// A new CA valid for `days`.
    pub fn generate(days: u32) -> Result<Self, Error> {
        let key = rcgen::KeyPair::generate()?;
        let until = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(days));
        let cert = ca_params(until)?.self_signed(&key)?;
        Ok(Self { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }

    /// A serving certificate for `dns_names`, valid for `days`, signed by this CA.
    pub fn issue(&self, dns_names: &[String], days: u32) -> Result<Pair, Error> {
        let ca_key = rcgen::KeyPair::from_pem(&self.key_pem)?;
        // The issuer is named as the CA certificate names itself; its key identifies it.
        let issuer = rcgen::Issuer::new(ca_params(time::OffsetDateTime::now_utc())?, ca_key);
        let key = rcgen::KeyPair::generate()?;
        let now = time::OffsetDateTime::now_utc();
        let mut params = rcgen::CertificateParams::new(dns_names.to_vec())?;
        params.distinguished_name = rcgen::DistinguishedName::new();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, dns_names.first().map_or("albatross", String::as_str));
        params.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
        params.not_before = now - time::Duration::minutes(5);
        params.not_after = now + time::Duration::days(i64::from(days));
        let cert = params.signed_by(&key, &issuer)?;
        Ok(Pair { cert_pem: cert.pem(), key_pem: key.serialize_pem() })
    }
}

/// Checks that a PEM pair loads as a serving key.
pub fn check_pair(pair: &Pair) -> Result<(), Error> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(pair.cert_pem.as_bytes())
        .collect::<Result<_, _>>()
        .map_err(|e| Error::Pem { path: PathBuf::from("<memory>"), reason: e.to_string() })?;
    let key = PrivateKeyDer::from_pem_slice(pair.key_pem.as_bytes())
        .map_err(|e| Error::Pem { path: PathBuf::from("<memory>"), reason: e.to_string() })?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, key, &provider)
        .map(|_| ())
        .map_err(|source| Error::Key { path: PathBuf::from("<memory>"), source })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn self_signed_pair_loads_and_is_kept_across_calls() {
        let dir = tempfile::tempdir().unwrap();
        let names = vec!["localhost".to_owned()];
        let first = self_signed(dir.path(), &names, 30).unwrap();
        load(&first.serving).unwrap();
        let ca = std::fs::read(&first.ca).unwrap();
        let second = self_signed(dir.path(), &names, 30).unwrap();
        assert_eq!(ca, std::fs::read(&second.ca).unwrap());
    }

    #[test]
    fn resolver_follows_changed_files_and_keeps_the_old_pair_on_garbage() {
        let dir = tempfile::tempdir().unwrap();
        let a = self_signed(&dir.path().join("a"), &["localhost".into()], 30).unwrap();
        let b = self_signed(&dir.path().join("b"), &["localhost".into()], 30).unwrap();
        let live = PemFiles { cert: dir.path().join("tls.crt"), key: dir.path().join("tls.key") };
        std::fs::copy(&a.serving.cert, &live.cert).unwrap();
        std::fs::copy(&a.serving.key, &live.key).unwrap();
        let resolver = ReloadingResolver::with_interval(live.clone(), Duration::ZERO).unwrap();
        let before = resolver.current().cert[0].clone();

        std::fs::write(&live.cert, "garbage").unwrap();
        assert_eq!(resolver.current().cert[0], before, "a broken file must not replace the pair");

        std::thread::sleep(Duration::from_millis(20));
        std::fs::copy(&b.serving.cert, &live.cert).unwrap();
        std::fs::copy(&b.serving.key, &live.key).unwrap();
        let after = resolver.current().cert[0].clone();
        assert_ne!(after, before);
        assert_eq!(after.as_ref(), load(&b.serving).unwrap().cert[0].as_ref());
    }

    #[test]
    fn expiry_of_the_pair_in_use_is_read_and_follows_a_reload() {
        let dir = tempfile::tempdir().unwrap();
        let short = self_signed(&dir.path().join("a"), &["localhost".into()], 30).unwrap();
        let long = self_signed(&dir.path().join("b"), &["localhost".into()], 90).unwrap();
        let live = PemFiles { cert: dir.path().join("tls.crt"), key: dir.path().join("tls.key") };
        std::fs::copy(&short.serving.cert, &live.cert).unwrap();
        std::fs::copy(&short.serving.key, &live.key).unwrap();
        let resolver = ReloadingResolver::with_interval(live.clone(), Duration::ZERO).unwrap();
        let now = time::OffsetDateTime::now_utc().unix_timestamp();
        let day = 86_400;
        let first = resolver.not_after().expect("a parsed expiry");
        assert!((now + 29 * day..=now + 31 * day).contains(&first), "{first} vs now {now}");

        std::thread::sleep(Duration::from_millis(20));
        std::fs::copy(&long.serving.cert, &live.cert).unwrap();
        std::fs::copy(&long.serving.key, &live.key).unwrap();
        let second = resolver.not_after().unwrap();
        assert!((now + 89 * day..=now + 91 * day).contains(&second), "{second} vs now {now}");
    }

    #[test]
    fn a_serving_certificate_issued_by_a_stored_ca_verifies_against_it() {
        use rustls::client::danger::ServerCertVerifier;
        let ca = Authority::generate(3650).unwrap();
        let stored = Authority { cert_pem: ca.cert_pem.clone(), key_pem: ca.key_pem.clone() };
        let pair = stored.issue(&["albatross-webhook.albatross-system.svc".into()], 365).unwrap();
        check_pair(&pair).unwrap();
        let mut roots = rustls::RootCertStore::empty();
        roots.add(CertificateDer::from_pem_slice(ca.cert_pem.as_bytes()).unwrap()).unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier =
            rustls::client::WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider).build().unwrap();
        let leaf = CertificateDer::from_pem_slice(pair.cert_pem.as_bytes()).unwrap();
        let name = rustls_pki_types::ServerName::try_from("albatross-webhook.albatross-system.svc").unwrap();
        verifier
            .verify_server_cert(&leaf, &[], &name, &[], rustls_pki_types::UnixTime::now())
            .expect("the leaf chains to the CA");
    }

    #[test]
    fn missing_files_are_an_error_at_start() {
        let files = PemFiles { cert: "/nonexistent/tls.crt".into(), key: "/nonexistent/tls.key".into() };
        assert!(matches!(ReloadingResolver::new(files), Err(Error::Read { .. })));
    }
}
