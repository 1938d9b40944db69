//! The export function: opt-out exports written to the exports bucket (`stopgate::flows::exports`).
//!
//! Two triggers. EventBridge Scheduler runs it hourly: it asks for the scheduled export of
//! every tenant whose own schedule (`export_schedule`, daily by default) is due, one request
//! per tenant on the exports queue. The exports queue (requests from the schedule and from
//! `POST /v1/exports`) runs it for one export each, so every export has the whole 15 minutes
//! of an invocation, and a failed one is delivered again and retried from its checkpoint.

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stopgate::config::Config;
use stopgate::flows::exports::{self, ExportError, ExportOptions, Progress, Ran};
use stopgate::store::export_files::ExportBucket;
use stopgate::store::exports::{ExportJob, ExportRequest};
use stopgate::store::{CaptureQueue, SdkConfig, Store, StoreError};
use stopgate::telemetry::{self, Unit};

/// How long before Lambda's deadline a run gives up (and leaves the request to a later
/// delivery) rather than be cut off mid-upload.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

/// How one request ended.
#[derive(Debug)]
pub enum Outcome {
    /// The export is done: its files are in the bucket.
    Done(Box<ExportJob>),
    /// It cannot succeed by retrying (its window was covered by another export, it no longer
    /// exists): the request is dropped; the job says why.
    Dropped(String),
    /// It may succeed later: deliver the request again.
    Retry(String),
}

pub struct ExportWorker {
    store: Store,
    bucket: ExportBucket,
    queue: Option<CaptureQueue>,
    options: ExportOptions,
}

impl ExportWorker {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<ExportWorker, String> {
        let bucket = config
            .exports_bucket
            .clone()
            .ok_or("EXPORTS_BUCKET is required: exports are written to it")?;
        Ok(ExportWorker::with(
            Store::new(sdk, &config.table_name),
            ExportBucket::new(sdk, bucket),
            config
                .exports_queue_url
                .as_ref()
                .map(|url| CaptureQueue::new(sdk, url)),
        ))
    }

    pub fn with(store: Store, bucket: ExportBucket, queue: Option<CaptureQueue>) -> ExportWorker {
        ExportWorker {
            store,
            bucket,
            queue,
            options: ExportOptions::default(),
        }
    }

    pub fn bucket(&self) -> &ExportBucket {
        &self.bucket
    }

    /// The scheduled run: asks for the export of every tenant whose schedule is due. Fails (so
    /// the scheduler's retry runs it again) when any tenant could not be asked for; the others
    /// are asked for all the same.
    pub async fn schedule(&self, now: DateTime<Utc>) -> Result<Value, StoreError> {
        let queue = self.queue.as_ref().ok_or_else(|| {
            StoreError::Unavailable("EXPORTS_QUEUE_URL is required for the schedule".into())
        })?;
        let results = exports::schedule(&self.store, queue, now).await?;
        let mut asked = Vec::new();
        let mut failed = Vec::new();
        for (tenant, result) in &results {
            match result {
                Ok(Some(export_id)) => {
                    tracing::info!(tenant = %tenant, export_id = %export_id, "scheduled export asked for");
                    asked.push(export_id.clone());
                }
                Ok(None) => {}
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %e, "scheduled export could not be asked for");
                    failed.push(tenant.clone());
                }
            }
        }
        if !failed.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "scheduled exports could not be asked for {} tenant(s)",
                failed.len()
            )));
        }
        Ok(json!({"tenants": results.len(), "exports": asked}))
    }

    /// Runs the export one queue message asks for.
    pub async fn process_message(&self, body: &str, deadline: Option<Instant>) -> Outcome {
        let request: ExportRequest = match serde_json::from_str(body) {
            Ok(r) => r,
            Err(e) => return Outcome::Dropped(format!("not an export request: {e}")),
        };
        let mut in_time = |_: &Progress| match deadline {
            Some(d) if Instant::now() + DEADLINE_MARGIN > d => {
                Err("out of time: the export is retried from its checkpoint".to_string())
            }
            _ => Ok(()),
        };
        match exports::run(
            &self.store,
            &self.bucket,
            &request.tenant,
            &request.export_id,
            &self.options,
            &mut in_time,
        )
        .await
        {
            Ok(Ran::Done(job)) => Outcome::Done(job),
            Ok(Ran::Busy) => Outcome::Retry("another run holds the export".into()),
            Err(e @ (ExportError::NoExport(_) | ExportError::NoTenant(_))) => {
                Outcome::Dropped(e.to_string())
            }
            Err(e) if e.retryable() => Outcome::Retry(e.to_string()),
            Err(e) => Outcome::Dropped(e.to_string()),
        }
    }

    /// Lambda's SQS event: each message not finished is reported back, so only it returns.
    pub async fn handle_queue(
        &self,
        event: SqsEvent,
        deadline: Option<Instant>,
    ) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let outcome = match record.body.as_deref() {
                Some(body) => self.process_message(body, deadline).await,
                None => Outcome::Dropped("empty message".into()),
            };
            match outcome {
                Outcome::Done(job) => {
                    tracing::info!(export_id = %job.export_id, rows = job.rows, "export written");
                    telemetry::count("Exports", &[("Outcome", "written")]);
                    // How stale the bucket is: from the last change the export covers to its
                    // files being there (queue wait, retries and the run itself).
                    telemetry::measure(
                        "ExportLag",
                        Unit::Milliseconds,
                        (job.updated_at - job.until).num_milliseconds().max(0) as f64,
                        &[("Kind", job.kind.as_str())],
                    );
                }
                Outcome::Dropped(reason) => {
                    tracing::warn!(message_id = %id, %reason, "export request dropped");
                    telemetry::count("Exports", &[("Outcome", "dropped")]);
                }
                Outcome::Retry(reason) => {
                    tracing::warn!(message_id = %id, %reason, "export will be retried");
                    telemetry::count("Exports", &[("Outcome", "retried")]);
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    failures.push(failure);
                }
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }

    /// Either trigger: an SQS event (it has `Records`) or the scheduler's event.
    pub async fn handle(&self, event: Value, deadline: Option<Instant>) -> Result<Value, String> {
        if event.get("Records").is_some() {
            let event: SqsEvent = serde_json::from_value(event).map_err(|e| e.to_string())?;
            let response = self.handle_queue(event, deadline).await;
            return serde_json::to_value(response).map_err(|e| e.to_string());
        }
        self.schedule(Utc::now()).await.map_err(|e| e.to_string())
    }
}
