//! Requests that failed signature checks, kept 30 days with the reason: a rotated token or a
//! wrong URL otherwise loses STOPs silently.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Store, StoreError, get_doc, keys, n, s, sdk_error, to_doc};

pub const RETENTION: Duration = Duration::days(30);

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuarantinedRequest {
    pub id: String,
    pub tenant: String,
    pub provider: String,
    pub reason: String,
    pub received_at: DateTime<Utc>,
    pub url: String,
    pub headers: Vec<(String, String)>,
    /// The raw body, base64: kept for diagnosis and possible manual replay; expires with the item.
    pub body_base64: String,
}

impl Store {
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
