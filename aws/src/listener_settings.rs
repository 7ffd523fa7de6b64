//! Listener settings from `listenerConfigurations[]`: mutual TLS (part of CreateListener and
//! ModifyListener) and listener attributes (their own calls), read back and compared.

use albatross_model::plan::types::{Attribute, MutualAuthenticationPlan};
use aws_sdk_elasticloadbalancingv2::types::{
    AdvertiseTrustStoreCaNamesEnum, ListenerAttribute, MutualAuthenticationAttributes,
};

use crate::client::{Api, Aws, AwsError};

pub fn mutual_authentication_to_sdk(m: &MutualAuthenticationPlan) -> MutualAuthenticationAttributes {
    MutualAuthenticationAttributes::builder()
        .mode(&m.mode)
        .set_trust_store_arn(m.trust_store_arn.clone())
        .set_ignore_client_certificate_expiry(m.ignore_client_certificate_expiry)
        .set_advertise_trust_store_ca_names(
            m.advertise_trust_store_ca_names.as_deref().map(AdvertiseTrustStoreCaNamesEnum::from),
        )
        .build()
}

pub fn mutual_authentication_from_sdk(m: &MutualAuthenticationAttributes) -> MutualAuthenticationPlan {
    MutualAuthenticationPlan {
        mode: m.mode().unwrap_or("off").to_owned(),
        trust_store_arn: m.trust_store_arn().map(str::to_owned),
        ignore_client_certificate_expiry: m.ignore_client_certificate_expiry(),
        advertise_trust_store_ca_names: m.advertise_trust_store_ca_names().map(|a| a.as_str().to_owned()),
    }
}

/// Whether AWS holds what the plan asks, reading AWS's defaults (mode `off`, expiry not ignored,
/// names not advertised) for what either side leaves unset.
pub fn mutual_authentication_equal(
    plan: Option<&MutualAuthenticationPlan>,
    observed: Option<&MutualAuthenticationPlan>,
) -> bool {
    let canonical = |m: Option<&MutualAuthenticationPlan>| {
        m.filter(|m| m.mode != "off").map(|m| {
            (
                m.mode.clone(),
                m.trust_store_arn.clone(),
                m.ignore_client_certificate_expiry.unwrap_or(false),
                m.advertise_trust_store_ca_names.clone().unwrap_or_else(|| "off".into()),
            )
        })
    };
    canonical(plan) == canonical(observed)
}

pub async fn attributes(aws: &Aws, listener: &str) -> Result<Vec<Attribute>, AwsError> {
    let out = aws
        .call(
            Api::Elbv2Read,
            "DescribeListenerAttributes",
            aws.elbv2.describe_listener_attributes().listener_arn(listener).send(),
        )
        .await?;
    let mut attributes: Vec<Attribute> = out
        .attributes()
        .iter()
        .map(|a| Attribute {
            key: a.key().unwrap_or_default().to_owned(),
            value: a.value().unwrap_or_default().to_owned(),
        })
        .collect();
    attributes.sort();
    Ok(attributes)
}

pub async fn modify_attributes(
    aws: &Aws,
    operation: &'static str,
    listener: &str,
    attributes: &[Attribute],
) -> Result<(), AwsError> {
    let attributes =
        attributes.iter().map(|a| ListenerAttribute::builder().key(&a.key).value(&a.value).build()).collect();
    aws.call(
        Api::Elbv2Write,
        operation,
        aws.elbv2.modify_listener_attributes().listener_arn(listener).set_attributes(Some(attributes)).send(),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(store: &str) -> MutualAuthenticationPlan {
        MutualAuthenticationPlan {
            mode: "verify".into(),
            trust_store_arn: Some(store.into()),
            ignore_client_certificate_expiry: None,
            advertise_trust_store_ca_names: None,
        }
    }

    #[test]
    fn mutual_authentication_round_trips_and_compares_with_aws_defaults() {
        let plan = verify("arn:ts/1");
        let read = mutual_authentication_from_sdk(&mutual_authentication_to_sdk(&plan));
        assert!(mutual_authentication_equal(Some(&plan), Some(&read)));
        let described = MutualAuthenticationPlan {
            ignore_client_certificate_expiry: Some(false),
            advertise_trust_store_ca_names: Some("off".into()),
            ..plan.clone()
        };
        assert!(mutual_authentication_equal(Some(&plan), Some(&described)), "AWS's defaults spelled out");
        let off = MutualAuthenticationPlan { mode: "off".into(), trust_store_arn: None, ..plan.clone() };
        assert!(mutual_authentication_equal(None, Some(&off)));
        assert!(!mutual_authentication_equal(None, Some(&plan)), "a removed mutualAuthentication is turned off");
        assert!(!mutual_authentication_equal(Some(&plan), Some(&verify("arn:ts/2"))));
    }
}
