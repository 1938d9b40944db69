//! The sample events in events/ (API Gateway HTTP API events, made by scripts/make_events.py and
//! scripts/events_*.py), compiled in: the genuine requests the targets mutate. Their secrets are
//! the deterministic ones those scripts name, so an unmutated webhook verifies.

use std::collections::BTreeMap;
use std::sync::{Arc, LazyLock};

use chrono::{DateTime, TimeZone, Utc};
use serde_json::Value;
use stopgate::providers::{Provider, ProviderSecrets, SigningCertificate};

/// Every provider's webhooks, genuine, forged and handshakes.
const WEBHOOKS: &[(&str, &str)] = &[
    ("aws-forged", include_str!("../../events/aws-forged.json")),
    ("aws-help", include_str!("../../events/aws-help.json")),
    ("aws-plain", include_str!("../../events/aws-plain.json")),
    ("aws-start", include_str!("../../events/aws-start.json")),
    ("aws-stop", include_str!("../../events/aws-stop.json")),
    (
        "aws-subscribe",
        include_str!("../../events/aws-subscribe.json"),
    ),
    (
        "bandwidth-forged",
        include_str!("../../events/bandwidth-forged.json"),
    ),
    (
        "bandwidth-help",
        include_str!("../../events/bandwidth-help.json"),
    ),
    (
        "bandwidth-plain",
        include_str!("../../events/bandwidth-plain.json"),
    ),
    (
        "bandwidth-start",
        include_str!("../../events/bandwidth-start.json"),
    ),
    (
        "bandwidth-stop",
        include_str!("../../events/bandwidth-stop.json"),
    ),
    (
        "plivo-forged",
        include_str!("../../events/plivo-forged.json"),
    ),
    ("plivo-help", include_str!("../../events/plivo-help.json")),
    ("plivo-plain", include_str!("../../events/plivo-plain.json")),
    ("plivo-start", include_str!("../../events/plivo-start.json")),
    ("plivo-stop", include_str!("../../events/plivo-stop.json")),
    (
        "ringcentral-a2p-optout",
        include_str!("../../events/ringcentral-a2p-optout.json"),
    ),
    (
        "ringcentral-forged",
        include_str!("../../events/ringcentral-forged.json"),
    ),
    (
        "ringcentral-help",
        include_str!("../../events/ringcentral-help.json"),
    ),
    (
        "ringcentral-plain",
        include_str!("../../events/ringcentral-plain.json"),
    ),
    (
        "ringcentral-start",
        include_str!("../../events/ringcentral-start.json"),
    ),
    (
        "ringcentral-stop",
        include_str!("../../events/ringcentral-stop.json"),
    ),
    (
        "ringcentral-validation",
        include_str!("../../events/ringcentral-validation.json"),
    ),
    (
        "sinch-forged",
        include_str!("../../events/sinch-forged.json"),
    ),
    ("sinch-help", include_str!("../../events/sinch-help.json")),
    ("sinch-plain", include_str!("../../events/sinch-plain.json")),
    ("sinch-start", include_str!("../../events/sinch-start.json")),
    ("sinch-stop", include_str!("../../events/sinch-stop.json")),
    (
        "telnyx-forged",
        include_str!("../../events/telnyx-forged.json"),
    ),
    ("telnyx-help", include_str!("../../events/telnyx-help.json")),
    (
        "telnyx-plain",
        include_str!("../../events/telnyx-plain.json"),
    ),
    (
        "telnyx-start",
        include_str!("../../events/telnyx-start.json"),
    ),
    ("telnyx-stop", include_str!("../../events/telnyx-stop.json")),
    (
        "twilio-forged",
        include_str!("../../events/twilio-forged.json"),
    ),
    ("twilio-help", include_str!("../../events/twilio-help.json")),
    (
        "twilio-plain",
        include_str!("../../events/twilio-plain.json"),
    ),
    (
        "twilio-start",
        include_str!("../../events/twilio-start.json"),
    ),
    ("twilio-stop", include_str!("../../events/twilio-stop.json")),
    (
        "vonage-forged",
        include_str!("../../events/vonage-forged.json"),
    ),
    ("vonage-help", include_str!("../../events/vonage-help.json")),
    (
        "vonage-plain",
        include_str!("../../events/vonage-plain.json"),
    ),
    (
        "vonage-start",
        include_str!("../../events/vonage-start.json"),
    ),
    ("vonage-stop", include_str!("../../events/vonage-stop.json")),
];

/// The JSON API requests (and the inline CSV import).
const API: &[(&str, &str)] = &[
    (
        "links-create",
        include_str!("../../events/links-create.json"),
    ),
    (
        "check-conversational",
        include_str!("../../events/check-conversational.json"),
    ),
    (
        "check-invalid-phone",
        include_str!("../../events/check-invalid-phone.json"),
    ),
    (
        "check-promotional",
        include_str!("../../events/check-promotional.json"),
    ),
    (
        "consents-invalid-phone",
        include_str!("../../events/consents-invalid-phone.json"),
    ),
    (
        "consents-opt-in",
        include_str!("../../events/consents-opt-in.json"),
    ),
    (
        "consents-opt-out",
        include_str!("../../events/consents-opt-out.json"),
    ),
    ("imports-csv", include_str!("../../events/imports-csv.json")),
    (
        "numbers-history",
        include_str!("../../events/numbers-history.json"),
    ),
    (
        "numbers-lookup",
        include_str!("../../events/numbers-lookup.json"),
    ),
    (
        "numbers-redact",
        include_str!("../../events/numbers-redact.json"),
    ),
    (
        "reviews-resolve",
        include_str!("../../events/reviews-resolve.json"),
    ),
];

/// The Amazon SNS signing certificate the aws-* events are signed for (scripts/events_aws.py),
/// handed to `verify` as if fetched from its URL, as `stopgate::testing::sns` does.
const SNS_CERTIFICATE_PEM: &str = include_str!("../../events/aws-sns-test-cert.pem");
pub const SNS_CERTIFICATE_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-stopgate-test.pem";
pub const SNS_TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:stopgate-two-way-sms";

/// Where the events say they were sent: `PUBLIC_BASE_URL`.
const BASE_URL: &str = "https://api.stopgate.example";

/// When the webhooks are checked: within every signed event's replay window (they are dated
/// 2026-11-28 from 12:00 to 12:06 UTC).
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 28, 12, 3, 0)
        .single()
        .unwrap_or_else(|| panic!("a valid time"))
}

/// A request as an event holds it.
#[derive(Debug, Clone)]
pub struct Request {
    pub name: &'static str,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn read(name: &'static str, text: &str) -> Request {
    let event: Value = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("events/{name}.json is not JSON: {e}"));
    let str_at = |pointer: &str| event.pointer(pointer).and_then(Value::as_str).unwrap_or("");
    let query = str_at("/rawQueryString");
    let url = if query.is_empty() {
        format!("{BASE_URL}{}", str_at("/rawPath"))
    } else {
        format!("{BASE_URL}{}?{query}", str_at("/rawPath"))
    };
    let headers = event
        .get("headers")
        .and_then(Value::as_object)
        .map(|h| {
            h.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                .collect()
        })
        .unwrap_or_default();
    Request {
        name,
        method: str_at("/requestContext/http/method").to_string(),
        url,
        headers,
        body: str_at("/body").as_bytes().to_vec(),
    }
}

static WEBHOOK_REQUESTS: LazyLock<Vec<Request>> = LazyLock::new(|| {
    WEBHOOKS
        .iter()
        .map(|(name, text)| read(name, text))
        .collect()
});

static API_REQUESTS: LazyLock<Vec<Request>> =
    LazyLock::new(|| API.iter().map(|(name, text)| read(name, text)).collect());

/// The sample webhooks of `provider`.
pub fn webhooks(provider: Provider) -> Vec<Request> {
    let prefix = format!("{}-", provider.as_str());
    WEBHOOK_REQUESTS
        .iter()
        .filter(|r| r.name.starts_with(&prefix))
        .cloned()
        .collect()
}

/// The sample API requests whose name starts with `prefix` (`check`, `consents`, ...).
pub fn api(prefix: &str) -> Vec<Request> {
    API_REQUESTS
        .iter()
        .filter(|r| r.name.starts_with(prefix))
        .cloned()
        .collect()
}

/// The secrets the sample webhooks are signed with (scripts/make_events.py and
/// scripts/events_*.py name them; stopgate::testing::harness holds the same).
pub fn secret_pairs(provider: Provider) -> Vec<(&'static str, &'static str)> {
    match provider {
        Provider::Twilio => vec![("auth_token", "stopgate-example-auth-token")],
        Provider::Telnyx => vec![("public_key", "IUTAGsFMewmY3eYR3CQ8BxKHdahtD8SoOthbNeSTAFk=")],
        Provider::Bandwidth => vec![
            ("username", "stopgate-example"),
            ("password", "stopgate-example-bandwidth-password"),
        ],
        Provider::Plivo => vec![("auth_token", "stopgate-example-plivo-auth-token")],
        Provider::Ringcentral => vec![(
            "verification_token",
            "stopgate-example-ringcentral-verification-token",
        )],
        Provider::Sinch => vec![
            ("username", "stopgate-example-sinch-user"),
            ("password", "stopgate-example-sinch-password"),
            ("webhook_secret", "stopgate-example-sinch-webhook-secret"),
        ],
        Provider::Vonage => vec![
            (
                "signature_secret",
                "stopgate-example-vonage-signature-secret",
            ),
            ("signature_method", "sha256"),
        ],
        Provider::Aws => vec![("topic_arn", SNS_TOPIC_ARN)],
    }
}

/// The signing certificate of the aws-* events, as the edge would have fetched it.
pub fn sns_certificate() -> SigningCertificate {
    SigningCertificate {
        url: SNS_CERTIFICATE_URL.to_string(),
        bytes: Arc::from(SNS_CERTIFICATE_PEM.as_bytes()),
    }
}

/// `provider`'s secrets as `verify` gets them (with the SNS certificate for aws).
pub fn secrets(provider: Provider) -> ProviderSecrets {
    let secrets = ProviderSecrets::from_pairs(secret_pairs(provider));
    match provider {
        Provider::Aws => secrets.with_signing_certificate(sns_certificate()),
        _ => secrets,
    }
}

/// The secrets with a setting of the provider's turned on (`require_v3`, ...).
pub fn strict_secrets(provider: Provider) -> ProviderSecrets {
    let settings: BTreeMap<String, String> = provider
        .setting_names()
        .iter()
        .map(|name| (name.to_string(), "true".to_string()))
        .collect();
    secrets(provider).with_settings(settings)
}
