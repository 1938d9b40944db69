//! Bound exemptions (docs/rules.md rule 6): the first check that uses an exemption for an inbound
//! event holds it for one outgoing message (`message_key`). One item per (purpose, event), in
//! the number's own partition, written with a condition so two messages cannot both hold it.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, get_doc, keys, s, sdk_error, to_doc};
use crate::phone::E164;

/// Who holds an exemption, and the answer they were given (so a retry gets the same one).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExemptionClaim {
    pub message_key: String,
    pub claimed_at: DateTime<Utc>,
    pub answer: serde_json::Value,
}

/// How a claim went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// This message holds the exemption now.
    Held(ExemptionClaim),
    /// Another message holds it.
    Taken(ExemptionClaim),
}

fn sk(purpose: &str, reply_to: &str) -> String {
    format!("EXEMPT#{purpose}#{reply_to}")
}

impl Store {
    /// The claim on the exemption `purpose` for the event `reply_to`, if any (strongly
    /// consistent: a retry must see its own claim).
    pub async fn exemption_claim(
        &self,
        tenant: &str,
        phone: &E164,
        purpose: &str,
        reply_to: &str,
    ) -> Result<Option<ExemptionClaim>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::number_pk(tenant, phone)))
            .key("sk", s(sk(purpose, reply_to)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }

    /// Claims the exemption for `claim.message_key`, unless another message holds it already.
    pub async fn claim_exemption(
        &self,
        tenant: &str,
        phone: &E164,
        purpose: &str,
        reply_to: &str,
        claim: ExemptionClaim,
    ) -> Result<Claimed, StoreError> {
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::number_pk(tenant, phone)))
            .item("sk", s(sk(purpose, reply_to)))
            .item("type", s("exemption"))
            .item("message_key", s(claim.message_key.clone()))
            .item("doc", to_doc(&claim)?)
            .condition_expression("attribute_not_exists(pk) OR message_key = :key")
            .expression_attribute_values(":key", s(claim.message_key.clone()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claimed::Held(claim)),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                let holder = self
                    .exemption_claim(tenant, phone, purpose, reply_to)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("exemption claim vanished".into()))?;
                Ok(if holder.message_key == claim.message_key {
                    Claimed::Held(holder)
                } else {
                    Claimed::Taken(holder)
                })
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
