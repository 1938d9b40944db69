//! Drains the capture queue into the ledger. Idempotent: the dedupe record makes a second
//! delivery of the same provider message a no-op. Failed items are reported back to SQS one by
//! one so only they are retried (and, after the retries, land in the dead-letter queue).

use std::sync::Arc;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use stopgate::api::tenants::Tenants;
use stopgate::api::webhook::{ReplayOutcome, replay};
use stopgate::config::Config;
use stopgate::store::{CapturedWebhook, SdkConfig, Store, StoreError};
use stopgate::telemetry;

pub struct Replay {
    store: Store,
    tenants: Arc<Tenants>,
}

impl Replay {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Replay {
        let store = Store::new(sdk, &config.table_name);
        let sealer = stopgate::secrets::Sealer::new(config.secrets_key.clone(), sdk);
        let tenants = Arc::new(Tenants::new(store.clone(), Some(sealer)));
        Replay { store, tenants }
    }

    /// Replays one captured message body.
    pub async fn replay_body(&self, body: &str) -> Result<ReplayOutcome, StoreError> {
        let captured: CapturedWebhook = match serde_json::from_str(body) {
            Ok(c) => c,
            // Unreadable forever: retrying cannot help; the dead-letter queue is for retryable loss.
            Err(e) => return Ok(ReplayOutcome::Dropped(format!("unreadable capture: {e}"))),
        };
        let outcome = replay(&self.store, &self.tenants, &captured).await?;
        // How long a STOP waited between arrival and the ledger: the capture's cost.
        let lag = chrono::Utc::now() - captured.received_at;
        telemetry::measure(
            "ReplayLag",
            telemetry::Unit::Milliseconds,
            lag.num_milliseconds().max(0) as f64,
            &[("Provider", &captured.provider)],
        );
        tracing::info!(tenant = %captured.tenant, provider = %captured.provider, ?outcome, "captured webhook replayed");
        Ok(outcome)
    }

    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let result = match record.body.as_deref() {
                Some(body) => self.replay_body(body).await,
                None => Ok(ReplayOutcome::Dropped("empty message".into())),
            };
            if let Err(e) = result {
                tracing::error!(message_id = %id, error = %e, "replay failed; SQS will retry");
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
