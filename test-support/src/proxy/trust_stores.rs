//! ELBv2 trust stores, which moto 5.2.5 lacks, answered by the proxy with state (see the
//! [`super`] docs).
//!
//! - CreateTrustStore: a store with the request's `Name` (unique: `DuplicateTrustStoreName`
//!   otherwise) and an ARN of AWS's shape (`arn:aws:elasticloadbalancing:REGION:ACCOUNT:
//!   truststore/NAME/ID`); the CA bundle's S3 location is kept but not read.
//! - DescribeTrustStores: every store, or those named by `Names.member.N` or
//!   `TrustStoreArns.member.N`; one that does not exist is `TrustStoreNotFound`, as AWS answers.
//! - DeleteTrustStore by `TrustStoreArn`.
//!
//! Not modelled: the CA certificates themselves, revocations, and that a store in use by a
//! listener cannot be deleted. Listeners take any trust store ARN (`emulate`).

use std::collections::BTreeMap;

use super::protocol::{Form, xml_escape};
use super::rules::Refusal;

const NS: &str = "http://elasticloadbalancing.amazonaws.com/doc/2015-12-01/";

/// Trust stores by ARN: (name, status).
#[derive(Debug, Default)]
pub(crate) struct TrustStores(BTreeMap<String, String>);

fn answer(action: &str, result: &str) -> String {
    format!(
        "<{action}Response xmlns=\"{NS}\"><{action}Result>{result}</{action}Result><ResponseMetadata><RequestId>emulated</RequestId></ResponseMetadata></{action}Response>"
    )
}

fn member(arn: &str, name: &str) -> String {
    format!(
        "<member><Name>{}</Name><TrustStoreArn>{}</TrustStoreArn><Status>ACTIVE</Status><NumberOfCaCertificates>1</NumberOfCaCertificates><TotalRevokedEntries>0</TotalRevokedEntries></member>",
        xml_escape(name),
        xml_escape(arn)
    )
}

fn not_found(what: &str) -> Refusal {
    Refusal { code: "TrustStoreNotFound", message: format!("One or more trust stores not found: {what}") }
}

fn listed<'a>(form: &'a Form, prefix: &str) -> Vec<&'a str> {
    form.iter().filter(|(k, _)| k.starts_with(prefix)).map(|(_, v)| v).collect()
}

/// Trust store requests, answered here; `None` for every other action.
pub(crate) fn respond(
    state: &mut TrustStores,
    action: &str,
    form: &Form,
    region: &str,
) -> Option<Result<String, Refusal>> {
    match action {
        "CreateTrustStore" => {
            let name = form.get("Name").unwrap_or_default();
            if state.0.values().any(|n| n == name) {
                return Some(Err(Refusal {
                    code: "DuplicateTrustStoreName",
                    message: format!("A trust store with the name '{name}' already exists"),
                }));
            }
            let id = format!("{:016x}", state.0.len() as u64 + 0x0123_4567_89ab_cdef);
            let arn = format!("arn:aws:elasticloadbalancing:{region}:123456789012:truststore/{name}/{id}");
            state.0.insert(arn.clone(), name.to_owned());
            Some(Ok(answer(action, &format!("<TrustStores>{}</TrustStores>", member(&arn, name)))))
        }
        "DescribeTrustStores" => {
            let names = listed(form, "Names.member.");
            let arns = listed(form, "TrustStoreArns.member.");
            let wanted = |arn: &str, name: &str| {
                (names.is_empty() && arns.is_empty()) || names.contains(&name) || arns.contains(&arn)
            };
            let found: Vec<(&String, &String)> = state.0.iter().filter(|(a, n)| wanted(a, n)).collect();
            let missing: Vec<&str> = names
                .iter()
                .filter(|n| !found.iter().any(|(_, f)| f == *n))
                .chain(arns.iter().filter(|a| !found.iter().any(|(f, _)| f == *a)))
                .copied()
                .collect();
            if !missing.is_empty() {
                return Some(Err(not_found(&missing.join(", "))));
            }
            let members: String = found.iter().map(|(a, n)| member(a, n)).collect();
            Some(Ok(answer(action, &format!("<TrustStores>{members}</TrustStores>"))))
        }
        "DeleteTrustStore" => {
            let arn = form.get("TrustStoreArn").unwrap_or_default();
            Some(match state.0.remove(arn) {
                Some(_) => Ok(answer(action, "")),
                None => Err(not_found(arn)),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(pairs: &[(&str, &str)]) -> Form {
        Form::of(pairs)
    }

    #[test]
    fn stores_are_created_found_by_name_or_arn_and_deleted() {
        let mut state = TrustStores::default();
        let created =
            respond(&mut state, "CreateTrustStore", &form(&[("Name", "clients")]), "us-east-1").unwrap().unwrap();
        let arn = state.0.keys().next().unwrap().clone();
        assert!(created.contains(&arn) && arn.contains(":truststore/clients/"), "{created}");
        let again = respond(&mut state, "CreateTrustStore", &form(&[("Name", "clients")]), "us-east-1").unwrap();
        assert_eq!(again.unwrap_err().code, "DuplicateTrustStoreName");
        let by_name = respond(&mut state, "DescribeTrustStores", &form(&[("Names.member.1", "clients")]), "r");
        assert!(by_name.unwrap().unwrap().contains(&arn));
        let unknown = respond(&mut state, "DescribeTrustStores", &form(&[("Names.member.1", "other")]), "r");
        assert_eq!(unknown.unwrap().unwrap_err().code, "TrustStoreNotFound");
        assert!(respond(&mut state, "DeleteTrustStore", &form(&[("TrustStoreArn", &arn)]), "r").unwrap().is_ok());
        let gone = respond(&mut state, "DescribeTrustStores", &form(&[("TrustStoreArns.member.1", &arn)]), "r");
        assert_eq!(gone.unwrap().unwrap_err().code, "TrustStoreNotFound");
        assert_eq!(respond(&mut state, "DescribeListeners", &form(&[]), "r").map(|r| r.is_ok()), None);
    }
}
