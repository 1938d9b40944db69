//! Amazon EventBridge, for AWS-native consumers of notifications: each notification's
//! CloudEvent is put on the tenant-wide event bus (`EVENT_BUS_NAME`) with source `stopgate`,
//! detail-type the CloudEvents `type`, and the envelope as the detail.

use serde_json::{Value, json};

use super::aws_json::{self, JsonCall};
use super::hook_http::HookHttp;
use super::{SdkConfig, StoreError};

/// `PutEvents` takes at most 10 entries a request.
const ENTRIES_PER_REQUEST: usize = 10;

pub struct EventBus {
    sdk: SdkConfig,
    bus: String,
    url: String,
    region: String,
    http: HookHttp,
}

impl EventBus {
    /// The bus `bus` in the SDK configuration's region; `endpoint` overrides the service URL
    /// (`AWS_ENDPOINT_URL_EVENTS`, for a local stand-in).
    pub fn new(sdk: &SdkConfig, bus: &str, endpoint: Option<&str>) -> Result<EventBus, String> {
        let region = sdk
            .region()
            .map(|r| r.to_string())
            .ok_or("no AWS region for EventBridge")?;
        let url = match endpoint {
            Some(url) => format!("{}/", url.trim_end_matches('/')),
            None => format!("https://events.{region}.amazonaws.com/"),
        };
        Ok(EventBus {
            sdk: sdk.clone(),
            bus: bus.to_string(),
            url,
            region,
            http: HookHttp::new(),
        })
    }

    /// Puts every envelope on the bus. Fails unless EventBridge took each one.
    pub async fn publish(&self, envelopes: &[Value]) -> Result<(), StoreError> {
        if envelopes.is_empty() {
            return Ok(());
        }
        let unavailable = |e: String| StoreError::Unavailable(format!("EventBridge: {e}"));
        let identity = aws_json::identity(&self.sdk).await.map_err(unavailable)?;
        let call = JsonCall {
            service: "events",
            region: &self.region,
            url: &self.url,
            target: "AWSEvents.PutEvents",
            content_type: "application/x-amz-json-1.1",
        };
        for chunk in envelopes.chunks(ENTRIES_PER_REQUEST) {
            let entries: Vec<Value> = chunk
                .iter()
                .map(|envelope| {
                    json!({
                        "EventBusName": self.bus,
                        "Source": "stopgate",
                        "DetailType": envelope["type"],
                        "Detail": envelope.to_string(),
                    })
                })
                .collect();
            let body = json!({ "Entries": entries }).to_string();
            let request = call
                .signed(&identity, body.as_bytes())
                .map_err(unavailable)?;
            let (status, answer) = self.http.exchange(request).await.map_err(unavailable)?;
            if !(200..300).contains(&status) {
                return Err(unavailable(format!("HTTP {status}")));
            }
            let answer: Value = serde_json::from_slice(&answer)
                .map_err(|e| unavailable(format!("an answer that is not JSON: {e}")))?;
            let failed = answer["FailedEntryCount"].as_u64().unwrap_or(0);
            if failed > 0 {
                return Err(unavailable(format!("{failed} entries refused")));
            }
        }
        Ok(())
    }
}
