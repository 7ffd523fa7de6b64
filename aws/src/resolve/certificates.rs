//! ACM certificates for listener certificate discovery: one paginated ListCertificates per
//! refresh, DescribeCertificate only for ARNs not seen before (an ARN's names never change).

use std::collections::BTreeMap;
use std::time::Instant;

use albatross_model::plan::AcmCertificate;
use aws_sdk_acm::types::{CertificateStatus, CertificateSummary, Filters, KeyAlgorithm};
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use super::Resolver;
use crate::client::{Api, AwsError, ErrorClass};

/// What DescribeCertificate told us about an ARN.
#[derive(Clone, Debug)]
struct Described {
    domain_name: String,
    subject_alternative_names: Vec<String>,
    not_after: Option<String>,
}

#[derive(Debug, Default)]
pub(super) struct CertificateCache {
    refreshed: Option<Instant>,
    described: BTreeMap<String, Described>,
    list: Vec<AcmCertificate>,
}

const KEY_TYPES: [KeyAlgorithm; 7] = [
    KeyAlgorithm::Rsa1024,
    KeyAlgorithm::Rsa2048,
    KeyAlgorithm::Rsa3072,
    KeyAlgorithm::Rsa4096,
    KeyAlgorithm::EcPrime256v1,
    KeyAlgorithm::EcSecp384r1,
    KeyAlgorithm::EcSecp521r1,
];

fn rfc3339(time: &DateTime) -> Option<String> {
    time.fmt(Format::DateTime).ok()
}

pub(super) async fn certificates(resolver: &Resolver, force: bool) -> Result<Vec<AcmCertificate>, AwsError> {
    // Held across the refresh: concurrent callers wait for one refresh instead of making their own.
    let mut cache = resolver.inner.certificates.lock().await;
    let fresh = cache.refreshed.is_some_and(|at| at.elapsed() < resolver.settings().certificate_refresh);
    if fresh && !force {
        return Ok(cache.list.clone());
    }
    let summaries = list_issued(resolver).await?;
    let mut described = BTreeMap::new();
    let mut list = Vec::with_capacity(summaries.len());
    for summary in summaries {
        let Some(arn) = summary.certificate_arn() else { continue };
        let detail = match cache.described.get(arn) {
            Some(detail) => detail.clone(),
            None => match describe(resolver, arn).await? {
                Some(detail) => detail,
                None => continue, // deleted between the list and the describe
            },
        };
        list.push(AcmCertificate {
            certificate_arn: arn.to_owned(),
            domain_name: summary.domain_name().map_or_else(|| detail.domain_name.clone(), str::to_owned),
            subject_alternative_names: detail.subject_alternative_names.clone(),
            status: summary.status().map_or("ISSUED", CertificateStatus::as_str).to_owned(),
            // A renewal keeps the ARN and moves NotAfter: the summary's is the current one.
            not_after: summary.not_after().and_then(rfc3339).or_else(|| detail.not_after.clone()),
        });
        described.insert(arn.to_owned(), detail);
    }
    list.sort_by(|a, b| a.certificate_arn.cmp(&b.certificate_arn));
    // ARNs that disappeared from the list are dropped with the old map.
    cache.described = described;
    cache.list = list;
    cache.refreshed = Some(Instant::now());
    Ok(cache.list.clone())
}

async fn list_issued(resolver: &Resolver) -> Result<Vec<CertificateSummary>, AwsError> {
    let aws = resolver.aws();
    let includes = KEY_TYPES.iter().cloned().fold(Filters::builder(), |b, k| b.key_types(k)).build();
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let request = aws
            .acm
            .list_certificates()
            .certificate_statuses(CertificateStatus::Issued)
            .includes(includes.clone())
            .set_next_token(token.take());
        let page = aws.call(Api::Acm, "ListCertificates", request.send()).await?;
        out.extend(page.certificate_summary_list().iter().cloned());
        match page.next_token() {
            Some(next) if !next.is_empty() => token = Some(next.to_owned()),
            _ => return Ok(out),
        }
    }
}

async fn describe(resolver: &Resolver, arn: &str) -> Result<Option<Described>, AwsError> {
    let aws = resolver.aws();
    let request = aws.acm.describe_certificate().certificate_arn(arn);
    let output = match aws.call(Api::Acm, "DescribeCertificate", request.send()).await {
        Ok(output) => output,
        Err(err) if err.class == ErrorClass::NotFound => return Ok(None),
        Err(err) => return Err(err),
    };
    let Some(detail) = output.certificate() else { return Ok(None) };
    Ok(Some(Described {
        domain_name: detail.domain_name().unwrap_or_default().to_owned(),
        subject_alternative_names: detail.subject_alternative_names().to_vec(),
        not_after: detail.not_after().and_then(rfc3339),
    }))
}
