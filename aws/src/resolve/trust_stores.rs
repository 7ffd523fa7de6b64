//! Trust stores named instead of given by ARN, as LBC takes them: DescribeTrustStores by name.

use albatross_model::plan::types::Stack;

use super::{Resolver, user_error};
use crate::client::{Api, AwsError};

impl Resolver {
    /// Replaces each listener's trust store name (a value not starting with `arn:`) with the
    /// store's ARN; a name no store has is a permanent error that names it.
    pub async fn trust_store_arns(&self, stack: &mut Stack) -> Result<(), AwsError> {
        for listener in &mut stack.listeners {
            let Some(m) = listener.mutual_authentication.as_mut() else { continue };
            let Some(name) = m.trust_store_arn.clone().filter(|s| !s.starts_with("arn:")) else { continue };
            m.trust_store_arn = Some(self.trust_store_arn(&name).await?);
        }
        Ok(())
    }

    async fn trust_store_arn(&self, name: &str) -> Result<String, AwsError> {
        let request = self.aws().elbv2.describe_trust_stores().names(name);
        let found = match self.aws().call(Api::Elbv2Read, "DescribeTrustStores", request.send()).await {
            Ok(out) => out
                .trust_stores()
                .iter()
                .find(|t| t.name() == Some(name))
                .and_then(|t| t.trust_store_arn())
                .map(str::to_owned),
            Err(e) if e.code == "TrustStoreNotFound" => None,
            Err(e) => return Err(e),
        };
        found.ok_or_else(|| {
            user_error(
                "DescribeTrustStores",
                "TrustStoreNotFound",
                format!("mutualAuthentication.trustStore: no trust store is named {name}"),
            )
        })
    }
}
