//! Requests that failed signature checks, kept 30 days with the reason: a rotated token or a
//! wrong URL otherwise loses STOPs silently.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, get_doc, keys, n, s, sdk_error, to_doc};

pub const RETENTION: Duration = Duration::days(30);
/// How much of a refused body is kept: enough to see what it was, not a place to store data.
pub const MAX_STORED_BODY: usize = 8 * 1024;
/// Quarantined requests stored per tenant per minute; past it they are counted, not stored, so
/// a flood of forgeries costs little and the real failures stay readable.
pub const MAX_PER_MINUTE: u32 = 60;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedRequest {
    pub id: String,
    pub tenant: String,
    pub provider: String,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub url: String,
    /// Headers as received, credentials (passwords, tokens, reusable signatures) removed.
    pub headers: Vec<(String, String)>,
    /// The start of the raw body (at most [`MAX_STORED_BODY`] bytes), base64: kept for
    /// diagnosis; expires with the item.
    pub body_base64: String,
    /// The whole body's length and SHA-256.
    #[serde(default)]
    pub body_bytes: usize,
    #[serde(default)]
    pub body_sha256: String,
}

impl Store {
    /// Counts one refused request against its tenant's minute; `false` once the minute has
    /// [`MAX_PER_MINUTE`] (then it is not stored).
    pub async fn quarantine_allowed(
        &self,
        tenant: &str,
        at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let minute = at.format("%Y%m%d%H%M").to_string();
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::quarantine_counter_pk(tenant, &minute)))
            .key("sk", s(keys::QUARANTINE_COUNTER_SK))
            .update_expression("ADD #count :one SET expires_at = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :max")
            .expression_attribute_names("#count", "count")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":max", n(MAX_PER_MINUTE))
            .expression_attribute_values(":expires", n((at + Duration::hours(1)).timestamp()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    pub async fn quarantine(&self, request: &QuarantinedRequest) -> Result<(), StoreError> {
        let day = request.received_at.format("%Y-%m-%d").to_string();
        let expires = (request.received_at + RETENTION).timestamp();
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::quarantine_pk(&request.tenant, &day)))
            .item("sk", s(request.id.clone()))
            .item("type", s("quarantine"))
            .item("expires_at", n(expires))
            .item("doc", to_doc(request)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// One day's quarantined requests for a tenant (the day is `YYYY-MM-DD`, UTC).
    pub async fn quarantined(
        &self,
        tenant: &str,
        day: &str,
    ) -> Result<Vec<QuarantinedRequest>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::quarantine_pk(tenant, day)));
        self.query_all(query).await?.iter().map(get_doc).collect()
    }
}
