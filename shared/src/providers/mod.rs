//! SMS providers' webhooks: verify the signature, parse the message, build the reply. Pure.
//!
//! Each provider module turns a provider-native request into an [`InboundMessage`]; everything
//! after that (classification, the ledger, capture on failure) is the same for every provider.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::consent::InboundMessage;

pub mod aws;
pub mod bandwidth;
pub mod optouts;
pub mod plivo;
pub mod ringcentral;
pub mod sinch;
pub mod telnyx;
pub mod twilio;
pub mod vonage;

mod common;
#[cfg(test)]
pub(crate) mod test_support;

/// The providers Stopgate accepts webhooks from, as they appear in webhook paths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Twilio,
    Telnyx,
    Bandwidth,
    Plivo,
    Ringcentral,
    Sinch,
    Vonage,
    /// AWS End User Messaging two-way SMS, delivered by Amazon SNS.
    Aws,
}

impl Provider {
    pub const ALL: [Provider; 8] = [
        Provider::Twilio,
        Provider::Telnyx,
        Provider::Bandwidth,
        Provider::Plivo,
        Provider::Ringcentral,
        Provider::Sinch,
        Provider::Vonage,
        Provider::Aws,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Twilio => "twilio",
            Provider::Telnyx => "telnyx",
            Provider::Bandwidth => "bandwidth",
            Provider::Plivo => "plivo",
            Provider::Ringcentral => "ringcentral",
            Provider::Sinch => "sinch",
            Provider::Vonage => "vonage",
            Provider::Aws => "aws",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// The secret names `stopgate provider set` accepts for this provider.
    pub fn secret_names(self) -> &'static [&'static str] {
        match self {
            Provider::Twilio => &["auth_token", "webhook_key"],
            Provider::Telnyx => telnyx::SECRET_NAMES,
            Provider::Bandwidth => bandwidth::SECRET_NAMES,
            Provider::Plivo => plivo::SECRET_NAMES,
            Provider::Ringcentral => ringcentral::SECRET_NAMES,
            Provider::Sinch => sinch::SECRET_NAMES,
            Provider::Vonage => vonage::SECRET_NAMES,
            Provider::Aws => aws::SECRET_NAMES,
        }
    }
}

impl Provider {
    /// The settings (not secret) `stopgate provider set` accepts, each `true`/`false`.
    pub fn setting_names(self) -> &'static [&'static str] {
        match self {
            Provider::Plivo => &[plivo::REQUIRE_V3],
            Provider::Aws => &[aws::REQUIRE_SIGNATURE_VERSION_2],
            _ => &[],
        }
    }

    /// The secrets that prove a request came from the provider without binding the tenant it is
    /// for (the signature does not cover the URL, or there is none): one such value may serve
    /// one tenant only, or a request for one tenant could be replayed to another.
    pub fn unbound_secret_names(self) -> &'static [&'static str] {
        match self {
            // Twilio and Plivo sign the URL, which names the tenant; AWS topics map to one
            // tenant through their own item.
            Provider::Twilio | Provider::Plivo | Provider::Aws => &[],
            Provider::Telnyx => &["public_key"],
            Provider::Bandwidth => &["password"],
            Provider::Ringcentral => &["verification_token"],
            Provider::Sinch => &["password", "webhook_secret"],
            Provider::Vonage => &["signature_secret"],
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

/// What a verified webhook asks of Stopgate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// Inbound messages to record (some providers batch several in one request).
    Messages(Vec<InboundMessage>),
    /// A callback with nothing to record (delivery receipts, status updates): acknowledge it.
    Ignored(String),
    /// A handshake the provider expects answered as given (RingCentral's validation token).
    Handshake(Handshake),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handshake {
    pub headers: Vec<(String, String)>,
    pub reply: ProviderReply,
    /// An HTTPS URL the provider wants fetched to confirm a subscription (Amazon SNS), already
    /// checked to be the provider's own host.
    pub confirm_url: Option<String>,
}

/// One provider's opened secrets: name -> values, current first, previous (rotation) second.
///
/// Also carries what the edge fetched for this one request to let a pure `verify` check it:
/// Amazon SNS signs with a key whose certificate is only named (by URL) in the message. It is a
/// field of its own, never a secret name, so nothing stored with a tenant can pose as it.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct ProviderSecrets {
    values: BTreeMap<String, Vec<String>>,
    signing_certificate: Option<SigningCertificate>,
    /// The tenant's settings for this provider (not secret): `require_v3`, ...
    settings: BTreeMap<String, String>,
}

/// A signing certificate as fetched from `url` (PEM or DER), for a request that names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SigningCertificate {
    pub url: String,
    pub bytes: Arc<[u8]>,
}

impl ProviderSecrets {
    pub fn new(values: BTreeMap<String, Vec<String>>) -> ProviderSecrets {
        ProviderSecrets {
            values,
            signing_certificate: None,
            settings: BTreeMap::new(),
        }
    }

    pub fn with_settings(mut self, settings: BTreeMap<String, String>) -> ProviderSecrets {
        self.settings = settings;
        self
    }

    /// Whether the tenant turned the setting `name` on.
    pub fn enabled(&self, name: &str) -> bool {
        self.settings.get(name).is_some_and(|v| v == "true")
    }

    pub fn with_signing_certificate(mut self, certificate: SigningCertificate) -> ProviderSecrets {
        self.signing_certificate = Some(certificate);
        self
    }

    pub fn signing_certificate(&self) -> Option<&SigningCertificate> {
        self.signing_certificate.as_ref()
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> ProviderSecrets {
        let mut values: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (k, v) in pairs {
            values.entry(k.to_string()).or_default().push(v.to_string());
        }
        ProviderSecrets::new(values)
    }

    /// The non-empty values configured for `name` (an empty secret would verify anything).
    pub fn get(&self, name: &str) -> Vec<&str> {
        self.values
            .get(name)
            .map(|v| {
                v.iter()
                    .map(String::as_str)
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn first(&self, name: &str) -> Option<&str> {
        self.get(name).first().copied()
    }
}

impl fmt::Debug for ProviderSecrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.values.keys()).finish()
    }
}

/// Verifies that `provider` sent `req`, at `now` (schemes with timestamps reject stale ones).
pub fn verify(
    provider: Provider,
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    match provider {
        Provider::Twilio => {
            twilio::verify(req, &secrets.get("auth_token"), &secrets.get("webhook_key"))
        }
        Provider::Telnyx => telnyx::verify(req, secrets, now),
        Provider::Bandwidth => bandwidth::verify(req, secrets, now),
        Provider::Plivo => plivo::verify(req, secrets, now),
        Provider::Ringcentral => ringcentral::verify(req, secrets, now),
        Provider::Sinch => sinch::verify(req, secrets, now),
        Provider::Vonage => vonage::verify(req, secrets, now),
        Provider::Aws => aws::verify(req, secrets, now),
    }
}

/// Headers that carry a credential (a password, a token, a reusable signature) rather than a
/// proof bound to one request: they are never stored in the clear (docs/providers.md).
pub fn is_credential_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    matches!(
        name.as_str(),
        "authorization"
            | "proxy-authorization"
            | "cookie"
            | "x-api-key"
            | "verification-token"
            | "validation-token"
    ) || (name.starts_with("x-plivo-signature") && !name.ends_with("-nonce"))
}

/// The nonce (or token id) that proves this request unique, for schemes that send one: Stopgate
/// stores it, so a nonce seen once is never accepted with another body.
pub fn nonce(provider: Provider, req: &WebhookRequest) -> Option<String> {
    match provider {
        Provider::Plivo => plivo::nonce(req),
        Provider::Sinch => sinch::nonce(req),
        Provider::Vonage => vonage::nonce(req),
        _ => None,
    }
}

/// Reads a verified request.
pub fn parse(provider: Provider, req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    match provider {
        Provider::Twilio => twilio::parse(req).map(|m| Parsed::Messages(vec![m])),
        Provider::Telnyx => telnyx::parse(req),
        Provider::Bandwidth => bandwidth::parse(req),
        Provider::Plivo => plivo::parse(req),
        Provider::Ringcentral => ringcentral::parse(req),
        Provider::Sinch => sinch::parse(req),
        Provider::Vonage => vonage::parse(req),
        Provider::Aws => aws::parse(req),
    }
}

/// The success answer, with a reply text when Stopgate writes replies.
/// The answer to one message, with a reply text when Stopgate writes replies: Plivo's XML needs
/// the message's numbers to address the reply; the others answer the sender implicitly.
pub fn reply_to(provider: Provider, message: &InboundMessage, text: Option<&str>) -> ProviderReply {
    match provider {
        Provider::Plivo => plivo::reply_to(message, text),
        other => reply(other, text),
    }
}

pub fn reply(provider: Provider, text: Option<&str>) -> ProviderReply {
    match provider {
        Provider::Twilio => twilio::reply(text),
        Provider::Telnyx => telnyx::reply(text),
        Provider::Bandwidth => bandwidth::reply(text),
        Provider::Plivo => plivo::reply(text),
        Provider::Ringcentral => ringcentral::reply(text),
        Provider::Sinch => sinch::reply(text),
        Provider::Vonage => vonage::reply(text),
        Provider::Aws => aws::reply(text),
    }
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
