//! Rate limits of the hosted pages: one counter item per key and window, taken with a
//! conditional update (so concurrent requests cannot overshoot) and gone after the window
//! through the table's TTL. Keys are hashed: a counter never holds an IP address or a number.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::{Store, StoreError, keys, n, s, sdk_error};

/// One limit: at most `limit` uses per `window_secs` for each key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// What is limited (`form-ip`, `form-number`, ...): part of the counter's key.
    pub name: &'static str,
    pub limit: u32,
    pub window_secs: i64,
}

impl Store {
    /// Takes one use of `limit` for `key` at `now`: `true` if it was within the limit (and is
    /// now counted), `false` if the window is used up.
    pub async fn take_rate(
        &self,
        tenant: &str,
        limit: &RateLimit,
        key: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let window = now.timestamp().div_euclid(limit.window_secs.max(1));
        let hashed = hex::encode(Sha256::digest(format!("{tenant}\n{}\n{key}", limit.name)));
        let expires_at = (window + 1) * limit.window_secs.max(1) + 3600;
        let result = self
            .ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::rate_pk(tenant, limit.name, &hashed, window)))
            .key("sk", s(keys::RATE_SK))
            .update_expression("ADD #count :one SET #type = :type, expires_at = :expires")
            .condition_expression("attribute_not_exists(#count) OR #count < :limit")
            .expression_attribute_names("#count", "count")
            .expression_attribute_names("#type", "type")
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":type", s("rate"))
            .expression_attribute_values(":expires", n(expires_at))
            .expression_attribute_values(":limit", n(limit.limit))
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
}
