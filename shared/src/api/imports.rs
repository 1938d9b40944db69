//! Imports at the HTTP edge: `POST /v1/imports` (inline, or an upload URL) and
//! `GET /v1/imports/{id}`. The pipeline itself is `flows::imports`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::ApiError;
use super::auth::{Authenticator, KeyScope};
use super::consents::READERS;
use super::http::MAX_BODY_BYTES;
use super::tenants::Tenants;
use crate::consent::Actor;
use crate::flows::imports::{ApplyOptions, ImportError, ImportRun, RunEnd, fail, run_import};
use crate::store::Store;
use crate::store::imports::{ImportJob, ImportStatus, ImportVia};
use crate::store::uploads::Uploads;

/// `text/csv` bodies up to this size are imported while the client waits (README, "Imports").
pub const INLINE_LIMIT: usize = 1024 * 1024;
/// An inline import stops here, inside the consent function's 29 s and API Gateway's 30 s.
const INLINE_BUDGET: Duration = Duration::from_secs(20);
/// How long an upload URL stays valid (less if the signing credentials expire sooner).
pub const UPLOAD_URL_VALIDITY: Duration = Duration::from_secs(3600);

/// A job as clients see it (`GET /v1/imports/{id}`, the inline answer, `stopgate import`).
pub fn job_json(job: &ImportJob) -> Value {
    let t = &job.tally;
    json!({
        "import_id": job.import_id,
        "status": job.status,
        "via": job.via,
        "created_at": job.created_at,
        "updated_at": job.updated_at,
        "filename": job.filename,
        "size": job.size,
        "layout": job.layout,
        "source_file_sha256": job.source_file_sha256,
        "lines": t.lines,
        "applied": t.applied,
        "skipped_duplicates": t.skipped_duplicates,
        "skipped_opted_out": t.skipped_opted_out,
        "error_count": t.error_count,
        "errors": t.errors,
        "warning_count": t.warning_count,
        "warnings": t.warnings,
        "failure": job.failure,
    })
}

/// `POST /v1/imports` asking for an upload URL: `{"filename"?, "size"?}`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UploadRequest {
    #[serde(default)]
    pub filename: Option<String>,
    #[serde(default)]
    pub size: Option<u64>,
}

impl UploadRequest {
    /// Reads a body that is not `text/csv`: empty (or blank) is `{}`, anything else must be
    /// this JSON. Pure: the handler calls it before anything is loaded.
    pub fn read(body: &[u8]) -> Result<UploadRequest, ApiError> {
        // A blank body is `{}`, but not one of any size.
        if body.len() > MAX_BODY_BYTES {
            return Err(ApiError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let request: UploadRequest = if body.iter().all(u8::is_ascii_whitespace) {
            UploadRequest::default()
        } else {
            super::http::parse_json(body).map_err(|e| match e {
                ApiError::Invalid {
                    code,
                    message,
                    field,
                } => ApiError::Invalid {
                    code,
                    message: format!("{message}; a CSV file goes with Content-Type: text/csv"),
                    field,
                },
                other => other,
            })?
        };
        if request
            .filename
            .as_ref()
            .is_some_and(|f| f.len() > 255 || f.chars().any(char::is_control))
        {
            return Err(ApiError::invalid(
                "invalid_filename",
                "filename",
                "filename must be at most 255 bytes without control characters",
            ));
        }
        Ok(request)
    }
}

/// `POST /v1/imports` and `GET /v1/imports/{id}`, served by the consent function.
pub struct ImportService {
    store: Store,
    tenants: Arc<Tenants>,
    auth: Authenticator,
    uploads: Option<Uploads>,
}

impl ImportService {
    pub fn new(store: Store, tenants: Arc<Tenants>, uploads: Option<Uploads>) -> ImportService {
        let auth = Authenticator::new(store.clone());
        ImportService {
            store,
            tenants,
            auth,
            uploads,
        }
    }

    pub fn with_uploads(mut self, uploads: Uploads) -> ImportService {
        self.uploads = Some(uploads);
        self
    }

    /// `POST /v1/imports`: a `text/csv` body up to 1 MB is imported now (200, the summary);
    /// JSON `{"filename"?, "size"?}` or a larger CSV body gets an upload URL (202). A body of
    /// any other type is read as that JSON.
    pub async fn create(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<(u16, Value), ApiError> {
        let key = self
            .auth
            .authenticate(headers, &[KeyScope::ConsentsWrite])
            .await?;
        let actor = Actor::ApiKey {
            key_id: key.key_id.clone(),
        };
        let media = headers
            .get(http::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|v| v.trim().to_ascii_lowercase())
            .unwrap_or_default();
        match media.as_str() {
            "text/csv" if body.len() <= INLINE_LIMIT => {
                Ok((200, self.inline(&key.tenant_id, actor, body).await?))
            }
            "text/csv" => {
                let request = UploadRequest {
                    filename: None,
                    size: Some(body.len() as u64),
                };
                Ok((
                    202,
                    self.awaiting_upload(&key.tenant_id, actor, request).await?,
                ))
            }
            // Like every other route, anything else is read as JSON (`curl -d` says form data).
            _ => {
                let request = UploadRequest::read(body)?;
                Ok((
                    202,
                    self.awaiting_upload(&key.tenant_id, actor, request).await?,
                ))
            }
        }
    }

    async fn inline(&self, tenant: &str, actor: Actor, body: &[u8]) -> Result<Value, ApiError> {
        let snapshot = self
            .tenants
            .get(tenant)
            .await?
            .ok_or_else(|| {
                ApiError::Unauthorized("the tenant of this API key no longer exists".into())
            })?
            .snapshot
            .clone();
        let mut job = ImportJob::new(
            tenant,
            ImportVia::Inline,
            ImportStatus::Running,
            actor.clone(),
            Utc::now(),
        );
        job.size = Some(body.len() as u64);
        job.source_file_sha256 = Some(hex::encode(Sha256::digest(body)));
        let mut version = self.store.create_import(&job).await?;
        let run = Arc::new(ImportRun::new(self.store.clone(), &snapshot, actor, &job));
        let options = ApplyOptions {
            deadline: Some(Instant::now() + INLINE_BUDGET),
            ..ApplyOptions::new(32)
        };
        let reader = std::io::Cursor::new(body.to_vec());
        match run_import(run, reader, &mut job, &mut version, &options, &mut |_| {}).await {
            Ok(RunEnd::Finished) => {}
            Ok(RunEnd::OutOfTime) => {
                let reason = format!(
                    "stopped after {} s at line {}: send the file again (lines already applied are skipped) or use an upload URL",
                    INLINE_BUDGET.as_secs(),
                    job.done_through_line
                );
                fail(&self.store, &mut job, &mut version, reason).await;
            }
            Err(ImportError::File(e)) => {
                return Err(ApiError::invalid("invalid_csv", "header", e.to_string()));
            }
            Err(ImportError::Store(e)) => {
                fail(&self.store, &mut job, &mut version, "storage failed".into()).await;
                return Err(e.into());
            }
        }
        tracing::info!(tenant, import_id = %job.import_id, lines = job.tally.lines, applied = job.tally.applied,
            errors = job.tally.error_count, "inline import done");
        Ok(job_json(&job))
    }

    async fn awaiting_upload(
        &self,
        tenant: &str,
        actor: Actor,
        request: UploadRequest,
    ) -> Result<Value, ApiError> {
        let uploads = self.uploads.as_ref().ok_or_else(|| {
            ApiError::Unavailable("uploads are not configured (IMPORTS_BUCKET)".into())
        })?;
        let now = Utc::now();
        let mut job = ImportJob::new(
            tenant,
            ImportVia::Upload,
            ImportStatus::AwaitingUpload,
            actor,
            now,
        );
        job.filename = request.filename;
        job.size = request.size;
        let key = ImportJob::upload_key(tenant, &job.import_id);
        job.object_key = Some(key.clone());
        self.store.create_import(&job).await?;
        let url = uploads.presign_put(&key, UPLOAD_URL_VALIDITY).await?;
        Ok(json!({
            "import_id": job.import_id,
            "status": job.status,
            "upload_url": url,
            "upload_method": "PUT",
            "upload_expires_at": now + chrono::Duration::seconds(UPLOAD_URL_VALIDITY.as_secs() as i64),
        }))
    }

    /// `GET /v1/imports/{id}`.
    pub async fn get(&self, headers: &http::HeaderMap, import_id: &str) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        let not_found = || ApiError::NotFound {
            code: "import_not_found",
            message: format!("no import {import_id}"),
        };
        if ulid::Ulid::from_string(import_id).is_err() {
            return Err(not_found());
        }
        let (job, _) = self
            .store
            .load_import(&key.tenant_id, import_id)
            .await?
            .ok_or_else(not_found)?;
        Ok(job_json(&job))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_upload_request_is_read_within_the_body_limit() {
        for blank in [&b""[..], b" \n\t"] {
            let request = UploadRequest::read(blank).unwrap();
            assert_eq!((request.filename, request.size), (None, None));
        }
        let request = UploadRequest::read(br#"{"filename": "a.csv", "size": 12}"#).unwrap();
        assert_eq!(
            (request.filename.as_deref(), request.size),
            (Some("a.csv"), Some(12))
        );
        let err = UploadRequest::read(b"phone_number,status").unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "invalid_body"));
        assert!(err.to_string().contains("Content-Type: text/csv"), "{err}");
        let err = UploadRequest::read(br#"{"filename": "a\u0000.csv"}"#).unwrap_err();
        assert_eq!(err.code(), "invalid_filename");
        // Blank or not, a body over the limit is refused before it is read.
        for pad in [b' ', b'x'] {
            let body = vec![pad; MAX_BODY_BYTES + 1];
            assert_eq!(
                UploadRequest::read(&body).unwrap_err(),
                ApiError::TooLarge {
                    limit: MAX_BODY_BYTES
                }
            );
        }
    }
}
