//! SMS providers' webhooks: verify the signature, parse the message, build the reply. Pure.
//!
//! Each provider module turns a provider-native request into an [`InboundMessage`]; everything
//! after that (classification, the ledger, capture on failure) is the same for every provider.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub mod twilio;

/// The providers Stopgate accepts webhooks from, as they appear in webhook paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Twilio,
}

impl Provider {
    pub const ALL: [Provider; 1] = [Provider::Twilio];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The secret names `stopgate provider set` accepts for this provider.
    pub fn secret_names(self) -> &'static [&'static str] {
        match self {
            Provider::Twilio => &["auth_token", "webhook_key"],
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A webhook request exactly as received, with the URL the provider called
/// (`PUBLIC_BASE_URL` + path + `?` + raw query), never a URL rebuilt from headers.
#[derive(Debug, Clone, Copy)]
pub struct WebhookRequest<'a> {
    pub method: &'a str,
    pub url: &'a str,
    pub headers: &'a http::HeaderMap,
    pub body: &'a [u8],
}

impl WebhookRequest<'_> {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// One inbound SMS as the provider described it. Numbers are as the provider sent them;
/// the caller normalises them to E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    pub provider: Provider,
    /// The provider's id for this message: the dedupe key.
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    /// A provider-side grouping of senders (Twilio Messaging Service SID), when sent.
    pub messaging_service: Option<String>,
    /// The provider's own timestamp for the message; `None` when the provider sends none
    /// (Twilio, Plivo), in which case the event is receipt-stamped.
    pub provider_time: Option<DateTime<Utc>>,
    /// The provider's own keyword verdict (Twilio `OptOutType`), kept as evidence.
    pub provider_verdict: Option<String>,
}

/// What the provider expects back in the 200 response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderReply {
    pub content_type: String,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WebhookError {
    /// The request is not provably from the provider: quarantined, answered 401.
    #[error("signature rejected: {0}")]
    BadSignature(String),
    /// Signed, but not a message we can read: answered 400.
    #[error("{field}: {reason}")]
    Malformed { field: String, reason: String },
}

impl WebhookError {
    pub fn malformed(field: &str, reason: impl Into<String>) -> WebhookError {
        WebhookError::Malformed {
            field: field.to_string(),
            reason: reason.into(),
        }
    }
}
