//! Opt-out exports in the table: each export's job (`X#<tenant>#<id>`), and per tenant the
//! checkpoint of its incremental exports, the event ids the last one wrote within the overlap
//! window, and the claim of its scheduled export (`X#<tenant>`). docs/data-model.md, "Exports".

use std::collections::HashSet;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_n, get_s, keys, n, s, sdk_error, to_doc};
use crate::consent::Actor;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    /// Every number and scope with a standing.
    Full,
    /// Every number and scope whose standing changed since `since`.
    Incremental,
}

impl ExportKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportKind::Full => "full",
            ExportKind::Incremental => "incremental",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportFormat {
    Csv,
    Jsonl,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Csv, ExportFormat::Jsonl];

    pub fn as_str(self) -> &'static str {
        match self {
            ExportFormat::Csv => "csv",
            ExportFormat::Jsonl => "jsonl",
        }
    }

    pub fn content_type(self) -> &'static str {
        match self {
            ExportFormat::Csv => "text/csv; charset=utf-8",
            ExportFormat::Jsonl => "application/x-ndjson",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportStatus {
    /// Asked for, waiting for the export function, or being written.
    Running,
    Done,
    Failed,
}

impl ExportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExportStatus::Running => "running",
            ExportStatus::Done => "done",
            ExportStatus::Failed => "failed",
        }
    }
}

/// Who asked for the export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportVia {
    /// The tenant's export schedule.
    Schedule,
    /// `POST /v1/exports`.
    Api,
    /// `stopgate export`.
    Cli,
}

/// One file an export wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportFile {
    pub format: ExportFormat,
    /// The object key in the exports bucket.
    pub key: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportJob {
    pub export_id: String,
    pub tenant: String,
    pub kind: ExportKind,
    pub formats: Vec<ExportFormat>,
    pub status: ExportStatus,
    pub via: ExportVia,
    pub actor: Actor,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// An incremental export that continues the tenant's chain: it starts where the previous
    /// one of the chain ended (the checkpoint) and moves the checkpoint to its `until`. One
    /// asked for from a stated time (`stopgate export --since`) is outside the chain.
    #[serde(default)]
    pub follows_checkpoint: bool,
    /// Changes recorded from this time on (less the overlap window); none: from the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<DateTime<Utc>>,
    /// Changes recorded up to this time; fixed when the export is asked for, so a retried run
    /// writes the same window to the same keys.
    pub until: DateTime<Utc>,
    #[serde(default)]
    pub rows: u64,
    #[serde(default)]
    pub files: Vec<ExportFile>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manifest_key: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    /// While a run holds the job; another may take it over only after this (a second delivery
    /// of the same request waits instead of writing the same files at once).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
}

/// The message that asks the export function to run one export (the exports queue).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub tenant: String,
    pub export_id: String,
}

impl ExportJob {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant: &str,
        kind: ExportKind,
        formats: Vec<ExportFormat>,
        follows_checkpoint: bool,
        since: Option<DateTime<Utc>>,
        via: ExportVia,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> ExportJob {
        ExportJob {
            export_id: ulid::Ulid::from_parts(
                u64::try_from(now.timestamp_millis()).unwrap_or(0),
                rand::random::<u128>(),
            )
            .to_string(),
            tenant: tenant.to_string(),
            kind,
            formats,
            status: ExportStatus::Running,
            via,
            actor,
            created_at: now,
            updated_at: now,
            follows_checkpoint: follows_checkpoint && kind == ExportKind::Incremental,
            since,
            until: now,
            rows: 0,
            files: Vec::new(),
            manifest_key: None,
            attempts: 0,
            lease_until: None,
            failure: None,
        }
    }

    /// Where the tenant's export files live: only under this prefix may the export function
    /// write (template.yaml).
    pub fn prefix(tenant: &str) -> String {
        format!("{tenant}/opt-outs/")
    }

    /// `<tenant>/opt-outs/<yyyy>/<mm>/<dd>/<kind>-<until>`, the key of each file without its
    /// extension: the same for every run of one export, so a retry overwrites what a failed
    /// run left.
    pub fn key_stem(&self) -> String {
        format!(
            "{}{}/{}-{}",
            ExportJob::prefix(&self.tenant),
            self.until.format("%Y/%m/%d"),
            self.kind.as_str(),
            self.until.format("%Y%m%dT%H%M%S%.3fZ"),
        )
    }

    pub fn file_key(&self, format: ExportFormat) -> String {
        format!("{}.{}", self.key_stem(), format.as_str())
    }

    pub fn manifest_key_for(&self) -> String {
        format!("{}.manifest.json", self.key_stem())
    }

    /// The tenant's newest manifest, at a key that never changes.
    pub fn latest_key(tenant: &str) -> String {
        format!("{}latest.json", ExportJob::prefix(tenant))
    }
}

/// Where the tenant's chain of incremental exports stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportCheckpoint {
    /// The `until` of the last successful incremental export of the chain.
    pub until: DateTime<Utc>,
    pub export_id: String,
    pub updated_at: DateTime<Utc>,
    /// How many overlap records that export left (`OVERLAP#<export id>#<n>`).
    #[serde(default)]
    pub overlap_chunks: u32,
}

/// Where a listing of exports stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportPosition {
    pub gsi1sk: String,
    pub export_id: String,
}

/// Event ids per overlap record: each id is at most 26 bytes, so a record stays far below
/// DynamoDB's 400 KB item limit.
const OVERLAP_CHUNK: usize = 10_000;
/// Overlap records are read by the next export only; they go after 90 days.
const OVERLAP_TTL_DAYS: i64 = 90;

fn conditional<E, R>(e: aws_sdk_dynamodb::error::SdkError<E, R>, guard: StoreError) -> StoreError
where
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    if e.as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|c| c == "ConditionalCheckFailedException")
    {
        guard
    } else {
        sdk_error(e)
    }
}

fn index_sk(job: &ExportJob) -> String {
    format!(
        "{}#{}",
        job.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        job.export_id
    )
}

fn job_item(job: &ExportJob, version: u64) -> Result<Item, StoreError> {
    Ok(Item::from([
        (
            "pk".to_string(),
            s(keys::export_pk(&job.tenant, &job.export_id)),
        ),
        ("sk".to_string(), s(keys::EXPORT_SK)),
        ("type".to_string(), s("export")),
        ("status".to_string(), s(job.status.as_str())),
        ("version".to_string(), n(version)),
        ("updated_at".to_string(), s(job.updated_at.to_rfc3339())),
        ("gsi1pk".to_string(), s(keys::exports_index_pk(&job.tenant))),
        ("gsi1sk".to_string(), s(index_sk(job))),
        ("doc".to_string(), to_doc(job)?),
    ]))
}

impl Store {
    /// Stores a new export job (version 1).
    pub async fn create_export(&self, job: &ExportJob) -> Result<u64, StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job, 1)?))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
            .map_err(|e| {
                conditional(
                    e,
                    StoreError::AlreadyExists(format!("export {}", job.export_id)),
                )
            })?;
        Ok(1)
    }

    /// An export job with its version, read strongly consistent.
    pub async fn load_export(
        &self,
        tenant: &str,
        export_id: &str,
    ) -> Result<Option<(ExportJob, u64)>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::export_pk(tenant, export_id)))
            .key("sk", s(keys::EXPORT_SK))
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
    /// Someone else did (a second delivery of the same request): `GuardFailed`.
    pub async fn save_export(&self, job: &ExportJob, version: u64) -> Result<u64, StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(job_item(job, version + 1)?))
            .condition_expression("version = :expected")
            .expression_attribute_values(":expected", n(version))
            .send()
            .await
            .map_err(|e| conditional(e, StoreError::GuardFailed))?;
        Ok(version + 1)
    }

    /// A tenant's exports, newest first, a page at a time.
    pub async fn recent_exports(
        &self,
        tenant: &str,
        after: Option<&ExportPosition>,
        limit: i32,
    ) -> Result<(Vec<ExportJob>, Option<ExportPosition>), StoreError> {
        let index_pk = keys::exports_index_pk(tenant);
        let start = after.map(|p| {
            Item::from([
                ("gsi1pk".to_string(), s(index_pk.clone())),
                ("gsi1sk".to_string(), s(p.gsi1sk.clone())),
                ("pk".to_string(), s(keys::export_pk(tenant, &p.export_id))),
                ("sk".to_string(), s(keys::EXPORT_SK)),
            ])
        });
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(index_pk))
            .scan_index_forward(false)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let jobs = out
            .items()
            .iter()
            .map(get_doc)
            .collect::<Result<Vec<ExportJob>, _>>()?;
        let next = match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => {
                let pk = get_s(key, "pk")?;
                Some(ExportPosition {
                    gsi1sk: get_s(key, "gsi1sk")?.to_string(),
                    export_id: pk.rsplit('#').next().unwrap_or_default().to_string(),
                })
            }
            _ => None,
        };
        Ok((jobs, next))
    }

    /// The checkpoint of the tenant's incremental exports with its version (0: none yet).
    pub async fn export_checkpoint(
        &self,
        tenant: &str,
    ) -> Result<(Option<ExportCheckpoint>, u64), StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::exports_pk(tenant)))
            .key("sk", s(keys::EXPORT_CHECKPOINT_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item() {
            None => Ok((None, 0)),
            Some(item) => Ok((Some(get_doc(item)?), get_n(item, "version")?)),
        }
    }

    /// Moves the checkpoint, only from the version the export started from: another export
    /// that moved it first wins (`GuardFailed`), so two runs never both continue the chain.
    pub async fn advance_export_checkpoint(
        &self,
        tenant: &str,
        checkpoint: &ExportCheckpoint,
        expected_version: u64,
    ) -> Result<u64, StoreError> {
        let put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::exports_pk(tenant)))
            .item("sk", s(keys::EXPORT_CHECKPOINT_SK))
            .item("type", s("export_checkpoint"))
            .item("version", n(expected_version + 1))
            .item("doc", to_doc(checkpoint)?);
        let put = if expected_version == 0 {
            put.condition_expression("attribute_not_exists(pk)")
        } else {
            put.condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(expected_version))
        };
        put.send()
            .await
            .map_err(|e| conditional(e, StoreError::GuardFailed))?;
        Ok(expected_version + 1)
    }

    /// Records the event ids an export wrote within the overlap window, for the next export
    /// of the chain to skip; returns how many records hold them. Written before the
    /// checkpoint names them, so a run that fails in between leaves only unread records.
    pub async fn put_export_overlap(
        &self,
        tenant: &str,
        export_id: &str,
        event_ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<u32, StoreError> {
        let expires = (now + chrono::Duration::days(OVERLAP_TTL_DAYS)).timestamp();
        let mut chunks = 0u32;
        for chunk in event_ids.chunks(OVERLAP_CHUNK) {
            self.ddb
                .put_item()
                .table_name(&self.table)
                .item("pk", s(keys::exports_pk(tenant)))
                .item("sk", s(keys::export_overlap_sk(export_id, chunks)))
                .item("type", s("export_overlap"))
                .item("expires_at", n(expires))
                .item("event_ids", s(chunk.join(",")))
                .send()
                .await
                .map_err(sdk_error)?;
            chunks += 1;
        }
        Ok(chunks)
    }

    /// The event ids the checkpoint's export wrote within the overlap window.
    pub async fn export_overlap(
        &self,
        tenant: &str,
        checkpoint: &ExportCheckpoint,
    ) -> Result<HashSet<String>, StoreError> {
        if checkpoint.overlap_chunks == 0 {
            return Ok(HashSet::new());
        }
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::exports_pk(tenant)))
            .expression_attribute_values(
                ":prefix",
                s(keys::export_overlap_prefix(&checkpoint.export_id)),
            )
            .consistent_read(true);
        let items = self.query_all(query).await?;
        if items.len() != checkpoint.overlap_chunks as usize {
            return Err(StoreError::Corrupt(format!(
                "export {} left {} overlap records, {} found",
                checkpoint.export_id,
                checkpoint.overlap_chunks,
                items.len()
            )));
        }
        let mut ids = HashSet::new();
        for item in &items {
            ids.extend(
                get_s(item, "event_ids")?
                    .split(',')
                    .filter(|id| !id.is_empty())
                    .map(str::to_string),
            );
        }
        Ok(ids)
    }

    /// Claims the tenant's scheduled export at `now` unless one was claimed after
    /// `claimed_before` (the last one is not due yet): true when this caller holds the claim.
    /// A conditional write, so overlapping scheduler runs ask for one export, not two.
    pub async fn claim_scheduled_export(
        &self,
        tenant: &str,
        now: DateTime<Utc>,
        claimed_before: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let at = |t: DateTime<Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::exports_pk(tenant)))
            .item("sk", s(keys::EXPORT_SCHEDULE_SK))
            .item("type", s("export_schedule"))
            .item("claimed_at", s(at(now)))
            .condition_expression("attribute_not_exists(pk) OR claimed_at <= :before")
            .expression_attribute_values(":before", s(at(claimed_before)))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(e) => match conditional(e, StoreError::GuardFailed) {
                StoreError::GuardFailed => Ok(false),
                other => Err(other),
            },
        }
    }

    /// Gives a claim back (the export could not be asked for), so the next scheduler run
    /// tries again instead of a whole interval later.
    pub async fn release_scheduled_export(&self, tenant: &str) -> Result<(), StoreError> {
        self.ddb
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(keys::exports_pk(tenant)))
            .key("sk", s(keys::EXPORT_SCHEDULE_SK))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn every_run_of_an_export_writes_to_the_same_keys_under_the_tenants_prefix() {
        let now = Utc
            .with_ymd_and_hms(2026, 12, 7, 5, 0, 0)
            .single()
            .unwrap_or_default()
            + chrono::Duration::milliseconds(42);
        let job = ExportJob::new(
            "acme",
            ExportKind::Incremental,
            ExportFormat::ALL.to_vec(),
            true,
            None,
            ExportVia::Schedule,
            Actor::System {
                reason: "schedule".into(),
            },
            now,
        );
        assert_eq!(
            job.file_key(ExportFormat::Csv),
            "acme/opt-outs/2026/12/07/incremental-20261207T050000.042Z.csv"
        );
        assert_eq!(
            job.manifest_key_for(),
            "acme/opt-outs/2026/12/07/incremental-20261207T050000.042Z.manifest.json"
        );
        assert_eq!(ExportJob::latest_key("acme"), "acme/opt-outs/latest.json");
        assert!(job.follows_checkpoint);
        let full = ExportJob::new(
            "acme",
            ExportKind::Full,
            vec![ExportFormat::Jsonl],
            true,
            None,
            ExportVia::Api,
            Actor::System { reason: "t".into() },
            now,
        );
        assert!(
            !full.follows_checkpoint,
            "a full export is never a link of the chain"
        );
    }
}
