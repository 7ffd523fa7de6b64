//! Certificates in moto's ACM, as a cluster's TLS listeners would find them by hostname.

/// Imports a fresh self-signed certificate for `common_name` with `sans` as its subject
/// alternative names, and returns its ARN.
///
/// # Panics
/// When ACM (moto) refuses the import: a test cannot go on without its certificate.
pub async fn import_self_signed(acm: &aws_sdk_acm::Client, common_name: &str, sans: &[&str]) -> String {
    let names = sans.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let mut params = rcgen::CertificateParams::new(names).expect("valid subject alternative names");
    params.distinguished_name.push(rcgen::DnType::CommonName, common_name);
    let key = rcgen::KeyPair::generate().expect("a key pair");
    let cert = params.self_signed(&key).expect("a self-signed certificate");
    let out = acm
        .import_certificate()
        .certificate(aws_sdk_acm::primitives::Blob::new(cert.pem()))
        .private_key(aws_sdk_acm::primitives::Blob::new(key.serialize_pem()))
        .send()
        .await
        .expect("ImportCertificate");
    out.certificate_arn().expect("an ARN").to_owned()
}
