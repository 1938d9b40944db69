//! The capture queue: where a verified webhook rests when the ledger cannot take it in time.
//! The replay function drains it; the dedupe record makes replay idempotent.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::StoreError;

/// A webhook kept for replay: as received, with the time it arrived (ordering uses it), less
/// its credential headers (a verified one needs them no more; an unverified one keeps them
/// sealed in `sealed_credentials`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CapturedWebhook {
    pub tenant: String,
    pub provider: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body_base64: String,
    pub received_at: DateTime<Utc>,
    /// False when the tenant's secrets could not be read at arrival: replay verifies first.
    pub verified: bool,
    pub reason: String,
    /// The credential headers (Basic credentials, tokens) of an unverified capture, sealed like
    /// provider secrets: replay opens them to verify. A verified capture keeps none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sealed_credentials: Option<String>,
}

#[derive(Clone, Debug)]
pub struct CaptureQueue {
    sqs: aws_sdk_sqs::Client,
    queue_url: String,
}

impl CaptureQueue {
    pub fn new(sdk: &aws_config::SdkConfig, queue_url: impl Into<String>) -> CaptureQueue {
        CaptureQueue {
            sqs: aws_sdk_sqs::Client::new(sdk),
            queue_url: queue_url.into(),
        }
    }

    pub fn with_client(sqs: aws_sdk_sqs::Client, queue_url: impl Into<String>) -> CaptureQueue {
        CaptureQueue {
            sqs,
            queue_url: queue_url.into(),
        }
    }

    pub async fn capture(&self, webhook: &CapturedWebhook) -> Result<(), StoreError> {
        let body =
            serde_json::to_string(webhook).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(())
    }

    /// Sends any message (the exports queue's requests share this client).
    pub async fn send(&self, body: &str) -> Result<(), StoreError> {
        self.sqs
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(())
    }

    /// Receives up to 10 captured webhooks with their receipt handles (the local gateway's
    /// stand-in for Lambda's SQS event source).
    pub async fn receive(
        &self,
        wait_seconds: i32,
        visibility_seconds: Option<i32>,
    ) -> Result<Vec<(String, String)>, StoreError> {
        let messages = self
            .receive_counted(wait_seconds, visibility_seconds)
            .await?;
        Ok(messages
            .into_iter()
            .map(|(handle, body, _)| (handle, body))
            .collect())
    }

    /// As [`CaptureQueue::receive`], with how many times each message has been received (its
    /// attempt, as Lambda's `ApproximateReceiveCount` tells a function).
    pub async fn receive_counted(
        &self,
        wait_seconds: i32,
        visibility_seconds: Option<i32>,
    ) -> Result<Vec<(String, String, u32)>, StoreError> {
        use aws_sdk_sqs::types::MessageSystemAttributeName;
        let out = self
            .sqs
            .receive_message()
            .queue_url(&self.queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(wait_seconds)
            .set_visibility_timeout(visibility_seconds)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(out
            .messages()
            .iter()
            .filter_map(|m| {
                let count = m
                    .attributes()
                    .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(1);
                Some((
                    m.receipt_handle()?.to_string(),
                    m.body()?.to_string(),
                    count,
                ))
            })
            .collect())
    }

    /// How many captured webhooks wait, visible or being replayed (SQS's approximate counts).
    pub async fn backlog(&self) -> Result<u64, StoreError> {
        use aws_sdk_sqs::types::QueueAttributeName;
        let out = self
            .sqs
            .get_queue_attributes()
            .queue_url(&self.queue_url)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(out
            .attributes()
            .map(|attributes| {
                attributes
                    .values()
                    .filter_map(|count| count.parse::<u64>().ok())
                    .sum()
            })
            .unwrap_or(0))
    }

    /// Hides a received message for `seconds` more (up to 12 hours): a retry with backoff
    /// instead of the queue's fixed visibility timeout.
    pub async fn delay(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError> {
        self.sqs
            .change_message_visibility()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(())
    }

    pub async fn delete(&self, receipt_handle: &str) -> Result<(), StoreError> {
        self.sqs
            .delete_message()
            .queue_url(&self.queue_url)
            .receipt_handle(receipt_handle)
            .send()
            .await
            .map_err(|e| {
                StoreError::Unavailable(aws_sdk_sqs::error::DisplayErrorContext(e).to_string())
            })?;
        Ok(())
    }
}
