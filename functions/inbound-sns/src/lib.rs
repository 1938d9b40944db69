//! AWS End User Messaging two-way SMS that Amazon SNS delivers straight to this function (a
//! Lambda subscription on the topic): a thin shell around `stopgate::api::webhook`.
//!
//! AWS authenticates the invocation, so there is no signature to check. The topic names the
//! tenant (`Store::tenant_for_topic`, written by `stopgate provider set <tenant> aws` with
//! `topic_arn=...` on stdin) and must still be one of that tenant's `topic_arn`s. An error makes Lambda
//! retry the event and then hand it to the function's on-failure destination, so a STOP is
//! never dropped here: it is committed, captured for replay, or returned as an error.

use aws_lambda_events::event::sns::{SnsEvent, SnsMessage, SnsRecord};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value};
use stopgate::api::tenants::Tenants;
use stopgate::api::webhook::{IncomingWebhook, WebhookService};
use stopgate::config::Config;
use stopgate::secrets::Sealer;
use stopgate::store::{CaptureQueue, SdkConfig, Store};

pub struct InboundSns {
    store: Store,
    service: WebhookService,
}

impl InboundSns {
    /// Clients are built once per process, here.
    pub fn new(config: &Config, sdk: &SdkConfig) -> InboundSns {
        let store = Store::new(sdk, &config.table_name);
        let sealer = Sealer::new(config.secrets_key.clone(), sdk);
        let tenants = std::sync::Arc::new(Tenants::new(store.clone(), Some(sealer)));
        let capture = config
            .capture_queue_url
            .as_ref()
            .map(|url| CaptureQueue::new(sdk, url));
        let service = WebhookService::new(store.clone(), tenants, capture, config.inbound_budget);
        InboundSns { store, service }
    }

    /// Records every notification of the event (SNS sends one per invocation); `Err` names the
    /// ones that are neither committed nor captured.
    pub async fn handle(&self, event: SnsEvent) -> Result<(), String> {
        let received_at = Utc::now();
        let mut failures = Vec::new();
        for record in &event.records {
            if let Err(e) = self.record(record, received_at).await {
                tracing::error!(topic = %record.sns.topic_arn, message_id = %record.sns.message_id, error = %e, "SNS notification not recorded; failing the invocation");
                failures.push(format!("{}: {e}", record.sns.message_id));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(failures.join("; "))
        }
    }

    async fn record(&self, record: &SnsRecord, received_at: DateTime<Utc>) -> Result<(), String> {
        let topic = &record.sns.topic_arn;
        let tenant = self
            .store
            .tenant_for_topic(topic)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| {
                format!("no tenant takes topic {topic}: echo topic_arn={topic} | stopgate provider set <tenant> aws")
            })?;
        let incoming = IncomingWebhook {
            provider: "aws".into(),
            tenant,
            method: "POST".into(),
            url: format!("sns:{}", record.event_subscription_arn),
            headers: http::HeaderMap::new(),
            body: envelope(&record.sns),
            received_at,
        };
        let answer = self.service.handle_sns_delivery(incoming).await;
        if (200..300).contains(&answer.status) {
            Ok(())
        } else {
            Err(format!("{} {}", answer.status, answer.body))
        }
    }
}

/// The notification as an HTTPS subscription receives it (`SigningCertURL`, not the Lambda
/// event's `SigningCertUrl`), so one parser reads both deliveries and a capture replays as one.
pub fn envelope(sns: &SnsMessage) -> Vec<u8> {
    let mut envelope = Map::new();
    let mut put = |name: &str, value: &str| {
        envelope.insert(name.to_string(), Value::String(value.to_string()));
    };
    put("Type", &sns.sns_message_type);
    put("MessageId", &sns.message_id);
    put("TopicArn", &sns.topic_arn);
    if let Some(subject) = &sns.subject {
        put("Subject", subject);
    }
    put("Message", &sns.message);
    put(
        "Timestamp",
        &sns.timestamp.to_rfc3339_opts(SecondsFormat::Millis, true),
    );
    put("SignatureVersion", &sns.signature_version);
    put("Signature", &sns.signature);
    put("SigningCertURL", &sns.signing_cert_url);
    put("UnsubscribeURL", &sns.unsubscribe_url);
    Value::Object(envelope).to_string().into_bytes()
}
