//! The import worker: S3 tells the imports queue of each upload (ObjectCreated), and this
//! function applies the file with `stopgate::flows::imports::process_upload`, streaming it from
//! S3. A run that reaches Lambda's deadline saves its place and reports the message as failed,
//! so SQS delivers it again and the next run resumes after the last line done.

use std::time::Instant;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use serde::Deserialize;
use stopgate::config::Config;
use stopgate::flows::imports::{UploadOutcome, process_upload};
use stopgate::store::uploads::Uploads;
use stopgate::store::{SdkConfig, Store, StoreError};

/// The parts of an S3 event notification this worker reads.
#[derive(Debug, Deserialize)]
struct Notification {
    #[serde(rename = "Records", default)]
    records: Vec<NotificationRecord>,
}

#[derive(Debug, Deserialize)]
struct NotificationRecord {
    #[serde(rename = "eventName", default)]
    event_name: String,
    s3: S3Entity,
}

#[derive(Debug, Deserialize)]
struct S3Entity {
    bucket: S3Bucket,
    object: S3Object,
}

#[derive(Debug, Deserialize)]
struct S3Bucket {
    name: String,
}

#[derive(Debug, Deserialize)]
struct S3Object {
    key: String,
}

pub struct ImportWorker {
    store: Store,
    uploads: Uploads,
}

impl ImportWorker {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<ImportWorker, String> {
        let bucket = config
            .imports_bucket
            .clone()
            .ok_or("IMPORTS_BUCKET is required: the worker reads uploads from it")?;
        Ok(ImportWorker::with(
            Store::new(sdk, &config.table_name),
            Uploads::new(sdk, bucket),
        ))
    }

    pub fn with(store: Store, uploads: Uploads) -> ImportWorker {
        ImportWorker { store, uploads }
    }

    /// Handles one queue message. `Ok(true)`: done with it (delete it); `Ok(false)`: deliver
    /// it again later.
    pub async fn process_message(
        &self,
        body: &str,
        deadline: Option<Instant>,
    ) -> Result<bool, StoreError> {
        let notification: Notification = match serde_json::from_str(body) {
            Ok(n) => n,
            // S3's "s3:TestEvent" when the notification is set up, or anything unreadable:
            // retrying cannot make it an upload.
            Err(_) => {
                tracing::info!("not an S3 event notification; dropped");
                return Ok(true);
            }
        };
        let mut finished = true;
        for record in notification.records {
            if !record.event_name.starts_with("ObjectCreated") {
                continue;
            }
            if record.s3.bucket.name != self.uploads.bucket() {
                tracing::warn!(bucket = %record.s3.bucket.name, "upload to another bucket; ignored");
                continue;
            }
            // Keys arrive URL-encoded, with '+' for a space.
            let key: String = form_urlencoded::parse(record.s3.object.key.as_bytes())
                .map(|(k, v)| {
                    if v.is_empty() {
                        k.into_owned()
                    } else {
                        format!("{k}={v}")
                    }
                })
                .collect::<Vec<_>>()
                .join("&");
            let outcome = process_upload(&self.store, &self.uploads, &key, deadline).await?;
            match &outcome {
                UploadOutcome::Done => tracing::info!(%key, "import done"),
                UploadOutcome::Failed(reason) => tracing::warn!(%key, %reason, "import failed"),
                UploadOutcome::Ignored(reason) => tracing::info!(%key, %reason, "upload ignored"),
                UploadOutcome::Retry(reason) => {
                    tracing::info!(%key, %reason, "import continues in a later delivery");
                    finished = false;
                }
            }
        }
        Ok(finished)
    }

    /// Lambda's SQS event: each message not finished is reported back, so only it returns.
    pub async fn handle(&self, event: SqsEvent, deadline: Option<Instant>) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let result = match record.body.as_deref() {
                Some(body) => self.process_message(body, deadline).await,
                None => Ok(true),
            };
            let finished = result.unwrap_or_else(|e| {
                tracing::error!(message_id = %id, error = %e, "import failed; SQS will retry");
                false
            });
            if !finished {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.push(failure);
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }
}
