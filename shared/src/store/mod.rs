//! The DynamoDB adapter: the only storage. One table; `docs/data-model.md` lists every key,
//! index and access pattern. Also the SQS capture queue, the other durable place a verified
//! webhook may rest.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

pub mod audit;
pub mod aws_json;
pub mod capture;
pub mod event_bus;
pub mod exemptions;
pub mod export_files;
pub mod exports;
pub mod forms;
pub mod history;
pub mod hook_http;
pub mod hooks;
pub mod https;
pub mod imports;
pub mod keys;
pub mod ledger;
pub mod quarantine;
pub mod rate_limits;
pub mod reviews;
pub mod tenants;
pub mod topics;
pub mod uploads;

pub use aws_config::SdkConfig;
pub use capture::{CaptureQueue, CapturedWebhook};
pub use ledger::{Commit, CommitOutcome, DedupeClaim, DedupeRecord, NonceClaim, Settled};
pub use tenants::{ApiKeyRecord, Rotation, SealedSecrets, TenantRecord, TenantSnapshot};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("storage is throttling requests")]
    Throttled,
    #[error("concurrent writes to the same number kept conflicting")]
    Conflict,
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0} already exists")]
    AlreadyExists(String),
    /// A guarded write's condition no longer held (e.g. the review was already resolved).
    #[error("the item changed since it was read")]
    GuardFailed,
    /// A webhook's signature nonce was already used with another body: a replay.
    #[error("the signature nonce was already used with another body")]
    NonceReused,
    #[error("stored item is corrupt: {0}")]
    Corrupt(String),
}

/// Builds the AWS SDK configuration once per process, with explicit timeouts so a slow
/// dependency fails fast enough for the inbound path to capture instead.
pub async fn sdk_config(sdk_timeout: std::time::Duration) -> aws_config::SdkConfig {
    let timeouts = aws_config::timeout::TimeoutConfig::builder()
        .connect_timeout(std::time::Duration::from_millis(500).min(sdk_timeout))
        .operation_attempt_timeout(sdk_timeout)
        .operation_timeout(sdk_timeout * 2)
        .build();
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(timeouts)
        .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(2))
        .load()
        .await
}

/// The table and its client; cheap to clone, built once per process.
#[derive(Clone, Debug)]
pub struct Store {
    pub(crate) ddb: aws_sdk_dynamodb::Client,
    pub(crate) table: String,
    /// Who configuration changes are recorded as made by (`Store::acting_as`).
    pub(crate) actor: Option<crate::consent::Actor>,
}

impl Store {
    pub fn new(sdk: &aws_config::SdkConfig, table: impl Into<String>) -> Store {
        Store::with_client(aws_sdk_dynamodb::Client::new(sdk), table)
    }

    pub fn with_client(ddb: aws_sdk_dynamodb::Client, table: impl Into<String>) -> Store {
        Store {
            ddb,
            table: table.into(),
            actor: None,
        }
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    /// Reads items by key with `BatchGetItem` (100 keys a request), retrying unprocessed keys
    /// with backoff. Returns what was read and the keys still unread after the retries: the
    /// caller decides what "unread" means (the check denies them, rule 8).
    pub(crate) async fn batch_get(
        &self,
        keys: Vec<Item>,
        consistent: bool,
    ) -> Result<(Vec<Item>, Vec<Item>), StoreError> {
        use aws_sdk_dynamodb::types::KeysAndAttributes;
        let mut found = Vec::with_capacity(keys.len());
        let mut unread = Vec::new();
        for chunk in keys.chunks(100) {
            let mut pending = Some(
                KeysAndAttributes::builder()
                    .set_keys(Some(chunk.to_vec()))
                    .consistent_read(consistent)
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            );
            let mut backoff = std::time::Duration::from_millis(25);
            for attempt in 0..5 {
                let Some(request) = pending.take() else { break };
                if attempt > 0 {
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                }
                let out = self
                    .ddb
                    .batch_get_item()
                    .request_items(&self.table, request)
                    .send()
                    .await
                    .map_err(sdk_error)?;
                found.extend(
                    out.responses()
                        .and_then(|r| r.get(&self.table))
                        .into_iter()
                        .flatten()
                        .cloned(),
                );
                pending = out
                    .unprocessed_keys()
                    .and_then(|u| u.get(&self.table))
                    .filter(|k| !k.keys().is_empty())
                    .cloned();
            }
            unread.extend(pending.iter().flat_map(|k| k.keys().iter().cloned()));
        }
        Ok((found, unread))
    }

    /// Every item a query returns, following its pages.
    pub(crate) async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = query
                .clone()
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            items.extend(out.items().iter().cloned());
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => return Ok(items),
            }
        }
    }
}

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

pub(crate) fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, StoreError> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a string")))
}

pub(crate) fn get_n(item: &Item, name: &str) -> Result<u64, StoreError> {
    item.get(name)
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .ok_or_else(|| StoreError::Corrupt(format!("attribute {name} missing or not a number")))
}

pub(crate) fn get_doc<T: serde::de::DeserializeOwned>(item: &Item) -> Result<T, StoreError> {
    serde_json::from_str(get_s(item, "doc")?).map_err(|e| StoreError::Corrupt(format!("doc: {e}")))
}

pub(crate) fn to_doc<T: serde::Serialize>(value: &T) -> Result<AttributeValue, StoreError> {
    serde_json::to_string(value)
        .map(s)
        .map_err(|e| StoreError::Corrupt(format!("doc: {e}")))
}

/// Maps an SDK error to the store's vocabulary: throttling apart from unavailability, so the
/// caller can tell "slow down" from "down".
pub(crate) fn sdk_error<E, R>(err: aws_sdk_dynamodb::error::SdkError<E, R>) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = err
        .as_service_error()
        .and_then(|e| e.code())
        .unwrap_or_default();
    if matches!(
        code,
        "ProvisionedThroughputExceededException" | "ThrottlingException" | "RequestLimitExceeded"
    ) {
        return StoreError::Throttled;
    }
    StoreError::Unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string())
}
