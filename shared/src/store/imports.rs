//! Import jobs (`I#<tenant>#<import id>`) and the dedupe claims of import lines.
//!
//! A job item is rewritten after every batch an import applies, guarded by its `version`, so
//! a worker that lost its lease to another cannot overwrite the newer progress, and a resumed
//! import starts after the last line it counted.

use std::collections::HashSet;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_n, keys, n, s, sdk_error, to_doc};
use crate::consent::Actor;
use crate::imports::{DEDUPE_PROVIDER, Layout, Tally};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportStatus {
    AwaitingUpload,
    Running,
    Done,
    Failed,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::AwaitingUpload => "awaiting_upload",
            ImportStatus::Running => "running",
            ImportStatus::Done => "done",
            ImportStatus::Failed => "failed",
        }
    }
}

/// How the file arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ImportVia {
    /// In the body of `POST /v1/imports`.
    Inline,
    /// Through a presigned upload URL, applied by the import worker.
    Upload,
    /// `stopgate import`.
    Cli,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportJob {
    pub import_id: String,
    pub tenant: String,
    pub status: ImportStatus,
    pub via: ImportVia,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
    /// Where the upload goes (`imports/<tenant>/<import id>.csv`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_file_sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layout: Option<Layout>,
    /// Every line up to this one is applied and counted: a resumed import starts after it.
    #[serde(default)]
    pub done_through_line: u64,
    /// While a worker holds the job; another may take it over only after this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    #[serde(default)]
    pub tally: Tally,
}

impl ImportJob {
    pub fn new(
        tenant: &str,
        via: ImportVia,
        status: ImportStatus,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> ImportJob {
        ImportJob {
            import_id: ulid::Ulid::from_parts(
                u64::try_from(now.timestamp_millis()).unwrap_or(0),
                rand::random::<u128>(),
            )
            .to_string(),
            tenant: tenant.to_string(),
            status,
            via,
            created_at: now,
            updated_at: now,
            actor,
            filename: None,
            size: None,
            object_key: None,
            source_file_sha256: None,
            layout: None,
            done_through_line: 0,
            lease_until: None,
            failure: None,
            tally: Tally::default(),
        }
    }

    /// The object key of an upload: the tenant and the id, nothing a client chose.
    pub fn upload_key(tenant: &str, import_id: &str) -> String {
        format!("imports/{tenant}/{import_id}.csv")
    }

    /// The tenant and import id an upload key names, if it is one.
    pub fn parse_upload_key(key: &str) -> Option<(&str, &str)> {
        let rest = key.strip_prefix("imports/")?.strip_suffix(".csv")?;
        let (tenant, id) = rest.split_once('/')?;
        (crate::ids::valid_id(tenant) && ulid::Ulid::from_string(id).is_ok())
            .then_some((tenant, id))
    }
}

impl Store {
    /// Stores a new job (version 1).
    pub async fn create_import(&self, job: &ImportJob) -> Result<u64, StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(import_item(job, 1)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    StoreError::AlreadyExists(format!("import {}", job.import_id))
                } else {
                    sdk_error(e)
                }
            })?;
        Ok(1)
    }

    /// A job with its version, read strongly consistent.
    pub async fn load_import(
        &self,
        tenant: &str,
        import_id: &str,
    ) -> Result<Option<(ImportJob, u64)>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::import_pk(tenant, import_id)))
            .key("sk", s(keys::IMPORT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item() {
            None => Ok(None),
            Some(item) => Ok(Some((get_doc(item)?, get_n(item, "version")?))),
        }
    }

    /// Rewrites a job if nobody else did since `version` was read; returns the new version.
    /// Someone else did: `GuardFailed`.
    pub async fn save_import(&self, job: &ImportJob, version: u64) -> Result<u64, StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(import_item(job, version + 1)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(version))
            .send()
            .await
            .map_err(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    StoreError::GuardFailed
                } else {
                    sdk_error(e)
                }
            })?;
        Ok(version + 1)
    }

    /// Which of these import-line dedupe keys are already claimed. One `BatchGetItem` per 100
    /// keys, so re-importing a file costs reads instead of a cancelled transaction per line; a
    /// key left unread is treated as new (the commit's own dedupe condition still holds).
    pub async fn claimed_import_lines(
        &self,
        tenant: &str,
        dedupe_keys: &[&str],
    ) -> Result<HashSet<String>, StoreError> {
        if dedupe_keys.is_empty() {
            return Ok(HashSet::new());
        }
        let mut unique: Vec<&str> = dedupe_keys.to_vec();
        unique.sort_unstable();
        unique.dedup();
        let items = unique
            .iter()
            .map(|k| {
                Item::from([
                    (
                        "pk".to_string(),
                        s(keys::dedupe_pk(tenant, DEDUPE_PROVIDER, k)),
                    ),
                    ("sk".to_string(), s(keys::DEDUPE_SK)),
                ])
            })
            .collect();
        let (found, _unread) = self.batch_get(items, true).await?;
        let prefix = keys::dedupe_pk(tenant, DEDUPE_PROVIDER, "");
        Ok(found
            .iter()
            .filter_map(|item| item.get("pk").and_then(|v| v.as_s().ok()))
            .filter_map(|pk| pk.strip_prefix(&prefix))
            .map(str::to_string)
            .collect())
    }
}

fn import_item(job: &ImportJob, version: u64) -> Result<Item, StoreError> {
    Ok(Item::from([
        (
            "pk".to_string(),
            s(keys::import_pk(&job.tenant, &job.import_id)),
        ),
        ("sk".to_string(), s(keys::IMPORT_SK)),
        ("type".to_string(), s("import")),
        ("status".to_string(), s(job.status.as_str())),
        ("version".to_string(), n(version)),
        ("updated_at".to_string(), s(job.updated_at.to_rfc3339())),
        ("doc".to_string(), to_doc(job)?),
    ]))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upload_keys_name_a_tenant_and_an_import_and_nothing_else() {
        let id = "01JZ0000000000000000000000";
        let key = ImportJob::upload_key("acme", id);
        assert_eq!(ImportJob::parse_upload_key(&key), Some(("acme", id)));
        assert_eq!(ImportJob::parse_upload_key("imports/acme/x.csv"), None);
        assert_eq!(
            ImportJob::parse_upload_key(&format!("imports/a/b/{id}.csv")),
            None
        );
        assert_eq!(ImportJob::parse_upload_key("other/acme/x"), None);
    }
}
