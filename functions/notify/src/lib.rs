//! The notify function: tells tenants' endpoints what the ledger recorded and which imports
//! finished (`stopgate::flows::notifications`).
//!
//! Two triggers. The table's stream runs it for every event written and every import job
//! finished: it works out which hooks want a notification of it and puts one message per hook
//! on the hooks queue (a failure fails the batch, which the stream retries, so no event is
//! skipped). The hooks queue runs it
//! for each delivery: one signed POST; a delivery that fails waits 30 s, then twice as long
//! each time (at most an hour), and after 8 attempts goes to the dead-letter queue. Every
//! attempt is in the hook's delivery log (`stopgate hook log`). With `EVENT_BUS_NAME` set, each
//! notification is also put on that EventBridge bus, hooks or not.

use std::collections::BTreeMap;

use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use chrono::Utc;
use serde_json::{Value, json};
use stopgate::config::Config;
use stopgate::consent::ConsentEvent;
use stopgate::flows::notifications::{self, Delivery, Notice};
use stopgate::secrets::Sealer;
use stopgate::store::event_bus::EventBus;
use stopgate::store::hook_http::HookHttp;
use stopgate::store::hooks::{DeliveryStatus, Hook};
use stopgate::store::imports::{ImportJob, ImportStatus};
use stopgate::store::{CaptureQueue, SdkConfig, Store, StoreError};
use stopgate::telemetry;

/// One tenant's hooks by id.
type Hooks = BTreeMap<String, Hook>;

pub struct Notifier {
    store: Store,
    sealer: Sealer,
    http: HookHttp,
    queue: CaptureQueue,
    bus: Option<EventBus>,
}

/// The notifications in a stream batch: each new `EV#` item's event, and each import job
/// written as finished (done or failed). Anything else (state updates, other items, removals
/// by TTL) makes none.
pub fn notices(batch: &Value) -> Result<Vec<Notice>, String> {
    let mut out = Vec::new();
    let records = batch["Records"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    for record in records {
        let image = &record["dynamodb"]["NewImage"];
        let sk = image["sk"]["S"].as_str().unwrap_or_default();
        let doc = || {
            image["doc"]["S"]
                .as_str()
                .ok_or_else(|| format!("an {sk} image without its document"))
        };
        match record["eventName"].as_str() {
            Some("INSERT") if sk.starts_with("EV#") => {
                let event: ConsentEvent =
                    serde_json::from_str(doc()?).map_err(|e| format!("an event document: {e}"))?;
                out.extend(notifications::of_event(&event));
            }
            Some("INSERT" | "MODIFY") if sk == "IMPORT" => {
                let job: ImportJob =
                    serde_json::from_str(doc()?).map_err(|e| format!("an import document: {e}"))?;
                if matches!(job.status, ImportStatus::Done | ImportStatus::Failed) {
                    out.push(notifications::import_finished(&job));
                }
            }
            _ => {}
        }
    }
    Ok(out)
}

/// Hooks-queue messages (receipt handle, body, receive count) as Lambda's SQS event hands them
/// to the function: the receive count is the attempt. The local gateway and the tests use it.
pub fn sqs_event(messages: &[(String, String, u32)]) -> Value {
    let records: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, (handle, body, count))| {
            json!({
                "messageId": format!("m{i}"),
                "receiptHandle": handle,
                "body": body,
                "attributes": {"ApproximateReceiveCount": count.to_string()},
                "eventSource": "aws:sqs",
            })
        })
        .collect();
    json!({ "Records": records })
}

impl Notifier {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Notifier, String> {
        let queue = config
            .hooks_queue_url
            .as_ref()
            .ok_or("HOOKS_QUEUE_URL is required: deliveries are queued there")?;
        let notifier = Notifier::with(
            Store::new(sdk, &config.table_name),
            Sealer::new(config.secrets_key.clone(), sdk),
            CaptureQueue::new(sdk, queue),
        );
        match &config.event_bus_name {
            Some(bus) => {
                Ok(notifier.with_bus(EventBus::new(sdk, bus, config.events_endpoint.as_deref())?))
            }
            None => Ok(notifier),
        }
    }

    /// Also puts every notification on `bus`.
    pub fn with_bus(mut self, bus: EventBus) -> Notifier {
        self.bus = Some(bus);
        self
    }

    pub fn with(store: Store, sealer: Sealer, queue: CaptureQueue) -> Notifier {
        Notifier {
            store,
            sealer,
            http: HookHttp::new(),
            queue,
            bus: None,
        }
    }

    /// Either trigger: a stream batch (`eventSource` `aws:dynamodb`) or hooks-queue messages.
    pub async fn handle(&self, event: Value) -> Result<Value, String> {
        let from_stream = event["Records"][0]["eventSource"] == "aws:dynamodb";
        if from_stream {
            let queued = self.fan_out(&event).await.map_err(|e| e.to_string())?;
            return Ok(json!({ "queued": queued }));
        }
        let batch: SqsEvent = serde_json::from_value(event).map_err(|e| e.to_string())?;
        let response = self.deliver_batch(batch).await;
        serde_json::to_value(response).map_err(|e| e.to_string())
    }

    /// Queues a delivery for each hook that wants a notification of each inserted event, and
    /// puts every notification on the event bus. A failure fails the batch, which the stream
    /// retries: a notification may be sent twice, never skipped.
    pub async fn fan_out(&self, batch: &Value) -> Result<usize, StoreError> {
        let notices = notices(batch).map_err(StoreError::Corrupt)?;
        if let Some(bus) = &self.bus {
            let envelopes: Vec<Value> = notices.iter().map(|n| n.envelope.clone()).collect();
            bus.publish(&envelopes).await?;
        }
        let mut tenants: BTreeMap<String, Hooks> = BTreeMap::new();
        let mut queued = 0;
        for notice in &notices {
            if !tenants.contains_key(&notice.tenant) {
                let hooks = self.store.hooks(&notice.tenant).await?;
                tenants.insert(notice.tenant.clone(), hooks);
            }
            let Some(hooks) = tenants.get(&notice.tenant) else {
                continue;
            };
            for delivery in notifications::deliveries(hooks, notice) {
                let message = serde_json::to_string(&delivery)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                self.queue.send(&message).await?;
                queued += 1;
            }
        }
        Ok(queued)
    }

    /// One attempt per message; the failed ones are reported back, each delayed by its backoff.
    pub async fn deliver_batch(&self, batch: SqsEvent) -> SqsBatchResponse {
        let mut failures = Vec::new();
        // A batch's deliveries mostly belong to few tenants: each one's hooks are read once.
        let mut tenants: BTreeMap<String, Hooks> = BTreeMap::new();
        for message in batch.records {
            let id = message.message_id.clone().unwrap_or_default();
            let attempt: u32 = message
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|n| n.parse().ok())
                .unwrap_or(1);
            let retry = match message
                .body
                .as_deref()
                .map(serde_json::from_str::<Delivery>)
            {
                Some(Ok(delivery)) => self.deliver_one(&delivery, attempt, &mut tenants).await,
                _ => {
                    tracing::warn!(message_id = %id, "not a delivery; dropped");
                    false
                }
            };
            if retry {
                if let Some(handle) = &message.receipt_handle {
                    let wait = notifications::backoff_seconds(attempt);
                    if let Err(e) = self.queue.delay(handle, wait).await {
                        tracing::warn!(error = %e, "backoff not set; the queue's own timeout applies");
                    }
                }
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                failures.push(failure);
            }
        }
        let mut response = SqsBatchResponse::default();
        response.batch_item_failures = failures;
        response
    }

    /// Whether to try again later.
    async fn deliver_one(
        &self,
        delivery: &Delivery,
        attempt: u32,
        tenants: &mut BTreeMap<String, Hooks>,
    ) -> bool {
        if !tenants.contains_key(&delivery.tenant) {
            match self.store.hooks(&delivery.tenant).await {
                Ok(hooks) => {
                    tenants.insert(delivery.tenant.clone(), hooks);
                }
                Err(e) => {
                    tracing::warn!(error = %e, "hooks not loaded; delivery retried");
                    return true;
                }
            }
        }
        let hook = tenants
            .get(&delivery.tenant)
            .and_then(|hooks| hooks.get(&delivery.hook_id).cloned());
        let Some(hook) = hook else {
            tracing::info!(hook_id = %delivery.hook_id, "hook removed; delivery dropped");
            return false;
        };
        let record = notifications::deliver(
            &self.store,
            &self.sealer,
            &self.http,
            &hook,
            delivery,
            attempt,
            Utc::now(),
        )
        .await;
        match record {
            Ok(record) if record.status == DeliveryStatus::Delivered => {
                telemetry::count("Notifications", &[("Outcome", "delivered")]);
                false
            }
            Ok(record) => {
                telemetry::count("Notifications", &[("Outcome", "failed")]);
                tracing::warn!(hook_id = %hook.hook_id, attempt, status = ?record.http_status, error = ?record.error, "delivery failed");
                true
            }
            Err(e) => {
                telemetry::count("Notifications", &[("Outcome", "failed")]);
                tracing::warn!(hook_id = %hook.hook_id, error = %e, "delivery not attempted");
                true
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(name: &str) -> Value {
        let path = format!("{}/../../events/{name}", env!("CARGO_MANIFEST_DIR"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    #[test]
    fn the_sample_events_are_what_each_trigger_hands_over() {
        let stream = sample("notify-stream.json");
        let found = notices(&stream).unwrap();
        assert_eq!(found.len(), 1);
        let queued = sample("notify-delivery.json");
        let batch: SqsEvent = serde_json::from_value(queued).unwrap();
        let body = batch.records[0].body.as_deref().unwrap();
        let delivery: Delivery = serde_json::from_str(body).unwrap();
        let hook = Hook {
            hook_id: delivery.hook_id.clone(),
            url: "https://crm.acme.example/stopgate".into(),
            events: vec![stopgate::consent::notifications::NotificationType::OptOut],
            secret_sealed: String::new(),
            created_at: Utc::now(),
        };
        let hooks = BTreeMap::from([(hook.hook_id.clone(), hook)]);
        assert_eq!(
            notifications::deliveries(&hooks, &found[0]),
            [delivery],
            "the queue's sample is the delivery the stream's sample makes"
        );
    }
}
