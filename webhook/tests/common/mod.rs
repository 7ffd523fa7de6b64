//! What the webhook's integration tests share: a server on loopback, a TLS client, reviews.
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use albatross_model::{Channel, Validator, ValidatorOptions};
use albatross_webhook::{ConnectionLimits, ReviewLimits, ServerHandle, Webhook};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, ServerName};
use serde_json::{Value, json};

pub struct Server {
    pub addr: SocketAddr,
    pub ca: PathBuf,
    pub webhook: Arc<Webhook>,
    _dir: tempfile::TempDir,
}

pub async fn start(channel: Channel) -> Server {
    let options = ValidatorOptions { channel, ..ValidatorOptions::default() };
    start_with(options, ReviewLimits::default(), ConnectionLimits::default()).await
}

pub async fn start_with(options: ValidatorOptions, reviews: ReviewLimits, connections: ConnectionLimits) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let pair = albatross_certs::self_signed(dir.path(), &["localhost".into()], 1).unwrap();
    let resolver = Arc::new(albatross_certs::ReloadingResolver::new(pair.serving.clone()).unwrap());
    let tls = Arc::new(albatross_certs::server_config(resolver).unwrap());
    let webhook = Arc::new(Webhook::with_limits(Validator::new(options), reviews));
    let handle = ServerHandle::new();
    let app = albatross_webhook::router(webhook.clone());
    let serving = handle.clone();
    tokio::spawn(async move {
        albatross_webhook::serve_tls(app, "127.0.0.1:0".parse().unwrap(), tls, serving, connections).await.unwrap();
    });
    let addr = handle.listening().await.expect("webhook binds");
    Server { addr, ca: pair.ca, webhook, _dir: dir }
}

/// A TLS connection to the server that trusts only the test CA, for raw HTTP.
pub async fn tls_stream(server: &Server) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(&server.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(server.addr).await.unwrap();
    connector.connect(ServerName::try_from("localhost").unwrap(), tcp).await.unwrap()
}

/// One keep-alive HTTPS connection that trusts only the test CA.
pub struct Client {
    pub sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
}

impl Client {
    pub async fn connect(server: &Server) -> Self {
        let tls = tls_stream(server).await;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await.unwrap();
        tokio::spawn(connection);
        Self { sender }
    }

    pub async fn post(&mut self, path: &str, body: Vec<u8>) -> (u16, Value) {
        let request = hyper::Request::post(path)
            .header("host", "localhost")
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let response = self.sender.send_request(request).await.unwrap();
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }
}

pub fn review(operation: &str, object: &Value) -> Vec<u8> {
    let (group, version) = object["apiVersion"].as_str().unwrap_or("").rsplit_once('/').unwrap_or(("", ""));
    serde_json::to_vec(&json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": group, "version": version, "kind": object["kind"]},
            "operation": operation,
            "object": object,
        }
    }))
    .unwrap()
}

pub fn allowed(response: &Value) -> bool {
    response["response"]["allowed"].as_bool().expect("a response with allowed")
}
