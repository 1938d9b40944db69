//! Amazon SNS messages as SNS sends them to an HTTPS subscription, signed with the test key in
//! events/ (made by scripts/events_aws.py). Its self-signed certificate is handed to the
//! webhook edge as if fetched from [`CERT_URL`] ([`offline`], [`certificate`]), so nothing here
//! or in the tests that use it reaches the network. Real deployments fetch certificates from AWS
//! only, so this key can sign nothing they accept.

use std::sync::{Arc, OnceLock};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};
use serde_json::{Map, Value, json};

use super::TestEnv;
use crate::api::sns::SnsHttps;
use crate::providers::{SigningCertificate, aws};

/// The topic the sample events in events/ come from.
pub const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:123456789012:stopgate-two-way-sms";
pub const CERT_URL: &str =
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-stopgate-test.pem";
pub const CERTIFICATE_PEM: &str = include_str!("../../../events/aws-sns-test-cert.pem");
const PRIVATE_KEY_PEM: &str = include_str!("../../../events/aws-sns-test-key.pem");

/// The test certificate, as the edge would have fetched it from [`CERT_URL`].
pub fn certificate() -> SigningCertificate {
    SigningCertificate {
        url: CERT_URL.to_string(),
        bytes: Arc::from(CERTIFICATE_PEM.as_bytes()),
    }
}

/// An SNS client that never touches the network and knows the test certificate.
pub fn offline() -> SnsHttps {
    let sns = SnsHttps::offline();
    sns.preload(CERT_URL, CERTIFICATE_PEM.as_bytes());
    sns
}

/// End User Messaging's two-way SMS payload: what SNS carries as `Message`.
pub fn sms(from: &str, to: &str, text: &str, inbound_message_id: &str) -> String {
    json!({
        "originationNumber": from,
        "destinationNumber": to,
        "messageKeyword": "",
        "messageBody": text,
        "inboundMessageId": inbound_message_id,
        "previousPublishedMessageId": "test-outbound-message",
    })
    .to_string()
}

/// A `Notification` of `message` from `topic`, published at `at`, signed (SignatureVersion 2).
pub fn notification(topic: &str, message: &str, message_id: &str, at: DateTime<Utc>) -> String {
    signed(
        fields(&[
            ("Type", "Notification"),
            ("MessageId", message_id),
            ("TopicArn", topic),
            ("Message", message),
            (
                "Timestamp",
                &at.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
            (
                "UnsubscribeURL",
                "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
            ),
        ]),
        "2",
    )
}

/// A signed `SubscriptionConfirmation` for `topic` published at `at`, confirmed by GETting the
/// returned URL.
pub fn subscription_confirmation(topic: &str, at: DateTime<Utc>) -> (String, String) {
    let region = aws::parse_topic_arn(topic).expect("topic ARN").region;
    let url = format!(
        "https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription&TopicArn={topic}&Token=t0k3n"
    );
    let body = signed(
        fields(&[
            ("Type", "SubscriptionConfirmation"),
            ("MessageId", "00000000-0000-4000-8000-00000000c0c0"),
            ("Token", "t0k3n"),
            ("TopicArn", topic),
            ("Message", "You have chosen to subscribe to the topic."),
            ("SubscribeURL", &url),
            (
                "Timestamp",
                &at.to_rfc3339_opts(SecondsFormat::Millis, true),
            ),
        ]),
        "2",
    );
    (body, url)
}

pub fn fields(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect()
}

/// Signs an envelope as SNS does (with `SigningCertURL` = [`CERT_URL`] unless given): the
/// string to sign comes from `providers::aws`, and the events in events/ check it against an
/// independent signer.
pub fn signed(mut envelope: Map<String, Value>, version: &str) -> String {
    envelope.insert("SignatureVersion".into(), version.into());
    envelope
        .entry("SigningCertURL")
        .or_insert_with(|| CERT_URL.into());
    let unsigned = serde_json::to_vec(&envelope).expect("envelope");
    let text = aws::string_to_sign(&unsigned).expect("string to sign");
    let signature = sign(text.as_bytes(), version);
    envelope.insert("Signature".into(), BASE64.encode(signature).into());
    serde_json::to_string_pretty(&envelope).expect("envelope")
}

/// RSA PKCS#1 v1.5 with the test key: SHA1 for SignatureVersion 1, SHA256 otherwise.
pub fn sign(data: &[u8], version: &str) -> Vec<u8> {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    let key = KEY
        .get_or_init(|| {
            let (_, der) =
                x509_cert::der::pem::decode_vec(PRIVATE_KEY_PEM.as_bytes()).expect("test key PEM");
            RsaPrivateKey::from_pkcs8_der(&der).expect("test key")
        })
        .clone();
    if version == "1" {
        SigningKey::<sha1::Sha1>::new(key).sign(data).to_vec()
    } else {
        SigningKey::<sha2::Sha256>::new(key).sign(data).to_vec()
    }
}

impl TestEnv {
    /// Creates a tenant (if needed) taking Amazon SNS messages from `topics` (the `topic_arn`
    /// secret; the last is the current value).
    pub async fn tenant_with_aws(&self, tenant: &str, topics: &[&str]) {
        let secrets: Vec<(&str, &str)> = topics.iter().map(|t| ("topic_arn", *t)).collect();
        self.tenant_with_provider(tenant, crate::providers::Provider::Aws, &secrets)
            .await;
    }
}
