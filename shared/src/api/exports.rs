//! Exports at the HTTP edge: `POST /v1/exports` asks for one (202: the export function writes
//! it), `GET /v1/exports/{id}` reports it with download URLs, `GET /v1/exports` lists recent
//! ones. The export itself is `flows::exports`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::Authenticator;
use super::consents::READERS;
use super::cursor::Cursors;
use crate::consent::Actor;
use crate::flows::exports;
use crate::store::export_files::ExportBucket;
use crate::store::exports::{
    ExportFormat, ExportJob, ExportKind, ExportPosition, ExportStatus, ExportVia,
};
use crate::store::{CaptureQueue, Store};

/// How long a download URL stays valid (less if the signing credentials expire sooner).
pub const DOWNLOAD_URL_VALIDITY: Duration = Duration::from_secs(3600);
/// Exports listed per page.
const LIST_PAGE: i32 = 20;

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportBody {
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    format: Option<String>,
}

/// An export as clients see it; with `urls`, each file's (and the manifest's) download URL.
pub fn job_json(job: &ExportJob, urls: &BTreeMap<String, String>) -> Value {
    let url = |key: &str| urls.get(key).cloned();
    json!({
        "export_id": job.export_id,
        "kind": job.kind,
        "status": job.status,
        "via": job.via,
        "formats": job.formats,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "since": job.since,
        "until": job.until,
        "rows": job.rows,
        "files": job.files.iter().map(|f| json!({
            "format": f.format,
            "key": f.key,
            "sha256": f.sha256,
            "bytes": f.bytes,
            "url": url(&f.key),
        })).collect::<Vec<_>>(),
        "manifest": job.manifest_key.as_ref().map(|key| json!({"key": key, "url": url(key)})),
        "failure": job.failure,
    })
}

/// `POST /v1/exports`, `GET /v1/exports/{id}` and `GET /v1/exports`, served by the consent
/// function.
pub struct ExportService {
    store: Store,
    auth: Authenticator,
    cursors: Cursors,
    bucket: Option<ExportBucket>,
    queue: Option<CaptureQueue>,
}

impl ExportService {
    pub fn new(
        store: Store,
        cursor_key: [u8; 32],
        bucket: Option<ExportBucket>,
        queue: Option<CaptureQueue>,
    ) -> ExportService {
        let auth = Authenticator::new(store.clone());
        ExportService {
            store,
            auth,
            cursors: Cursors::new(cursor_key),
            bucket,
            queue,
        }
    }

    pub fn with(mut self, bucket: ExportBucket, queue: CaptureQueue) -> ExportService {
        self.bucket = Some(bucket);
        self.queue = Some(queue);
        self
    }

    /// `POST /v1/exports` `{"kind": "full" | "incremental", "format"?: "csv" | "jsonl"}` ->
    /// 202: the job, running. Without `format`, both files.
    pub async fn create(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        let request: ExportBody = if body.iter().all(u8::is_ascii_whitespace) {
            ExportBody::default()
        } else {
            super::http::parse_json(body)?
        };
        let kind = match request.kind.as_deref() {
            Some("full") => ExportKind::Full,
            Some("incremental") => ExportKind::Incremental,
            Some(other) => {
                return Err(ApiError::invalid(
                    "invalid_kind",
                    "kind",
                    format!("kind {other:?}: expected full or incremental"),
                ));
            }
            None => {
                return Err(ApiError::invalid(
                    "invalid_kind",
                    "kind",
                    "kind is required: full or incremental",
                ));
            }
        };
        let formats = match request.format.as_deref() {
            None => ExportFormat::ALL.to_vec(),
            Some("csv") => vec![ExportFormat::Csv],
            Some("jsonl") => vec![ExportFormat::Jsonl],
            Some(other) => {
                return Err(ApiError::invalid(
                    "invalid_format",
                    "format",
                    format!("format {other:?}: expected csv or jsonl (absent: both)"),
                ));
            }
        };
        let queue = self.queue.as_ref().ok_or_else(|| {
            ApiError::Unavailable("exports are not configured (EXPORTS_QUEUE_URL)".into())
        })?;
        let actor = Actor::ApiKey {
            key_id: key.key_id.clone(),
        };
        let job = exports::request(
            &self.store,
            &key.tenant_id,
            kind,
            None,
            formats,
            ExportVia::Api,
            actor,
        )
        .await?;
        exports::enqueue(&self.store, queue, &job).await?;
        tracing::info!(tenant = %key.tenant_id, export_id = %job.export_id, kind = kind.as_str(), "export asked for");
        Ok(job_json(&job, &BTreeMap::new()))
    }

    /// `GET /v1/exports/{id}`: the job; once done, with download URLs.
    pub async fn get(&self, headers: &http::HeaderMap, export_id: &str) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        let not_found = || ApiError::NotFound {
            code: "export_not_found",
            message: format!("no export {export_id}"),
        };
        if ulid::Ulid::from_string(export_id).is_err() {
            return Err(not_found());
        }
        let (job, _) = self
            .store
            .load_export(&key.tenant_id, export_id)
            .await?
            .ok_or_else(not_found)?;
        let mut urls = BTreeMap::new();
        if let (ExportStatus::Done, Some(bucket)) = (job.status, &self.bucket) {
            for key in job
                .files
                .iter()
                .map(|f| f.key.as_str())
                .chain(job.manifest_key.as_deref())
            {
                urls.insert(
                    key.to_string(),
                    bucket.presign_get(key, DOWNLOAD_URL_VALIDITY).await?,
                );
            }
        }
        Ok(job_json(&job, &urls))
    }

    /// `GET /v1/exports?cursor=`: the tenant's exports, newest first, 20 a page.
    pub async fn list(
        &self,
        headers: &http::HeaderMap,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        if let Some(name) = query.keys().find(|k| k.as_str() != "cursor") {
            return Err(ApiError::invalid(
                "invalid_query",
                name,
                format!("unknown parameter {name:?}"),
            ));
        }
        let binding = format!("{}|exports", key.tenant_id);
        let after: Option<ExportPosition> = query
            .get("cursor")
            .map(|c| self.cursors.open(&binding, c))
            .transpose()?;
        let (jobs, next) = self
            .store
            .recent_exports(&key.tenant_id, after.as_ref(), LIST_PAGE)
            .await?;
        let next_cursor = next.map(|p| self.cursors.seal(&binding, &p)).transpose()?;
        Ok(json!({
            "exports": jobs.iter().map(|j| job_json(j, &BTreeMap::new())).collect::<Vec<_>>(),
            "next_cursor": next_cursor,
        }))
    }
}
