//! AWS End User Messaging two-way SMS, delivered by Amazon SNS: signature, message, reply. Pure.
//!
//! End User Messaging publishes each inbound SMS to an SNS topic as a JSON string
//! (`originationNumber`, `destinationNumber`, `messageKeyword`, `messageBody`,
//! `inboundMessageId`, `previousPublishedMessageId`; docs/providers.md). SNS posts it to an HTTPS
//! subscription inside an envelope (`Type`, `MessageId`, `TopicArn`, `Message`, `Timestamp`,
//! `SignatureVersion`, `Signature`, `SigningCertURL`, ...) signed with RSA PKCS#1 v1.5 over
//! `name\nvalue\n` for a fixed list of envelope fields: SHA1 for `SignatureVersion` 1, SHA256 for
//! 2 (AWS SNS developer guide, "Verifying the signatures of Amazon SNS messages").
//!
//! The public key is in an X.509 certificate the envelope only names by URL, and this module does
//! no I/O: the webhook edge (`api::sns`) fetches the certificate from the URL
//! [`certificate_url`] approves and hands it to [`verify`] with
//! [`ProviderSecrets::with_signing_certificate`]. The key is trusted because of where it came
//! from: `https://sns.<region>.amazonaws.com[.cn]/<name>.pem` for the region and partition of the
//! topic, fetched over HTTPS. The tenant's `topic_arn` secret (two values while moving to a new
//! topic) lists the topics it takes messages from; a message from any other topic is refused
//! before anything is fetched.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use rsa::RsaPublicKey;
use rsa::pkcs1v15::{Signature, VerifyingKey};
use rsa::pkcs8::DecodePublicKey;
use rsa::signature::Verifier;
use serde::Deserialize;
use sha1::Sha1;
use sha2::Sha256;
use x509_cert::Certificate;
use x509_cert::der::{Decode, DecodePem, Encode};

use super::common::{bad_signature, check_body_size, empty_reply, form_pairs, param};
use super::{
    Handshake, InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError,
    WebhookRequest,
};

/// The secret names `stopgate provider set <tenant> aws` accepts.
/// `topic_arn` routes two-way SMS; `opt_out_list` (a list name or ARN) is the End User
/// Messaging opt-out list reconciliation reads with the function's own role.
pub const SECRET_NAMES: &[&str] = &["topic_arn", "opt_out_list"];
/// The tenant setting that refuses SNS SignatureVersion 1 (SHA1) messages.
pub const REQUIRE_SIGNATURE_VERSION_2: &str = "require_signature_version_2";

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "an SMS notification";

/// AWS signing certificates are about 2 KB; anything far larger is not one.
pub const MAX_CERTIFICATE_BYTES: usize = 16 * 1024;

/// Checks that Amazon SNS sent `req` from one of the tenant's topics, with the signing
/// certificate the edge fetched (see the module documentation) valid at `now`.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let url = certificate_url(req.body, secrets)?;
    let certificate = secrets
        .signing_certificate()
        .filter(|c| c.url == url)
        .ok_or_else(|| {
            bad_signature(&format!(
                "the signing certificate at {url} is not available"
            ))
        })?;
    let allowed = secrets.get("topic_arn");
    verify_with_certificate(req.body, &certificate.bytes, &allowed)?;
    check_validity(&read_certificate(&certificate.bytes)?, now)?;
    let envelope = Envelope::read(req.body).map_err(|e| bad_signature(&e))?;
    if secrets.enabled(REQUIRE_SIGNATURE_VERSION_2) && envelope.required("SignatureVersion")? != "2"
    {
        return Err(bad_signature(
            "SignatureVersion 1, but this tenant requires 2 (require_signature_version_2=true)",
        ));
    }
    check_freshness(envelope.required("Timestamp")?, now)
}

/// SNS signs its `Timestamp` (the time of publication) and redelivers within minutes by default
/// (an hour at most with a custom delivery policy): a signed message older than that is a
/// replay, not a delivery.
pub const MAX_MESSAGE_AGE: chrono::Duration = chrono::Duration::hours(1);
/// Clocks disagree; a message slightly ahead of ours is not from the future.
const MAX_CLOCK_AHEAD: chrono::Duration = chrono::Duration::minutes(5);

fn check_freshness(timestamp: &str, now: DateTime<Utc>) -> Result<(), WebhookError> {
    let published = DateTime::parse_from_rfc3339(timestamp)
        .map_err(|_| bad_signature("Timestamp is not an RFC 3339 time"))?
        .with_timezone(&Utc);
    if now - published > MAX_MESSAGE_AGE {
        return Err(bad_signature(&format!(
            "the message was published at {timestamp}, more than an hour before it arrived: a replay"
        )));
    }
    if published - now > MAX_CLOCK_AHEAD {
        return Err(bad_signature(&format!(
            "the message says it was published at {timestamp}, in the future"
        )));
    }
    Ok(())
}

/// Checks the signature of an SNS message (the HTTPS body) with `certificate` (PEM or DER), and
/// that its topic is one of `allowed_topics` and its `SigningCertURL` an SNS URL for that topic.
/// Unlike [`verify`] it does not look at the certificate's validity dates.
pub fn verify_with_certificate(
    message: &[u8],
    certificate: &[u8],
    allowed_topics: &[&str],
) -> Result<(), WebhookError> {
    let envelope = Envelope::read(message).map_err(|e| bad_signature(&e))?;
    let topic = envelope.allowed_topic(allowed_topics)?;
    check_certificate_url(envelope.required("SigningCertURL")?, &topic)
        .map_err(|e| bad_signature(&e))?;
    let signed = envelope.string_to_sign()?;
    let signature = BASE64
        .decode(envelope.required("Signature")?)
        .map_err(|_| bad_signature("Signature is not base64"))?;
    let signature = Signature::try_from(signature.as_slice())
        .map_err(|_| bad_signature("Signature is not an RSA signature"))?;
    let key = public_key(&read_certificate(certificate)?)?;
    let verified = match envelope.required("SignatureVersion")? {
        "1" => VerifyingKey::<Sha1>::new(key).verify(signed.as_bytes(), &signature),
        "2" => VerifyingKey::<Sha256>::new(key).verify(signed.as_bytes(), &signature),
        other => {
            return Err(bad_signature(&format!(
                "SignatureVersion {other:?} is not 1 or 2"
            )));
        }
    };
    verified.map_err(|_| {
        bad_signature("the signature does not match the message and the signing certificate")
    })
}

/// The signing certificate to fetch for this request: only for a readable SNS message from one
/// of the tenant's topics, and only from the SNS host of that topic's region.
pub fn certificate_url(body: &[u8], secrets: &ProviderSecrets) -> Result<String, WebhookError> {
    let envelope = Envelope::read(body).map_err(|e| bad_signature(&e))?;
    let topic = envelope.allowed_topic(&secrets.get("topic_arn"))?;
    let url = envelope.required("SigningCertURL")?;
    check_certificate_url(url, &topic).map_err(|e| bad_signature(&e))?;
    Ok(url.to_string())
}

/// Checks that an SNS message comes from one of the tenant's topics: all there is to check for a
/// notification AWS itself delivered to a subscribed Lambda function.
pub fn check_topic(body: &[u8], secrets: &ProviderSecrets) -> Result<(), WebhookError> {
    let envelope = Envelope::read(body).map_err(|e| bad_signature(&e))?;
    envelope.allowed_topic(&secrets.get("topic_arn")).map(drop)
}

/// The string SNS signs for the message in `body`: `name\nvalue\n` for each signed field.
pub fn string_to_sign(body: &[u8]) -> Result<String, WebhookError> {
    Envelope::read(body)
        .map_err(|e| bad_signature(&e))?
        .string_to_sign()
}

/// Reads a verified request: a notification is one inbound SMS, a subscription confirmation a
/// handshake whose `confirm_url` the edge fetches, an unsubscribe confirmation nothing to record.
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let envelope = Envelope::read(req.body).map_err(|e| WebhookError::malformed("body", e))?;
    let malformed = |e: WebhookError| match e {
        WebhookError::BadSignature(reason) => WebhookError::malformed("body", reason),
        other => other,
    };
    match envelope.kind().map_err(malformed)? {
        MessageType::Notification => envelope
            .inbound_message()
            .map(|m| Parsed::Messages(vec![m])),
        MessageType::SubscriptionConfirmation => {
            let topic = parse_topic_arn(envelope.required("TopicArn").map_err(malformed)?)
                .map_err(|e| WebhookError::malformed("TopicArn", e))?;
            let url = envelope.required("SubscribeURL").map_err(malformed)?;
            check_subscribe_url(url, &topic)
                .map_err(|e| WebhookError::malformed("SubscribeURL", e))?;
            Ok(Parsed::Handshake(Handshake {
                headers: vec![],
                reply: reply(None),
                confirm_url: Some(url.to_string()),
            }))
        }
        MessageType::UnsubscribeConfirmation => Ok(Parsed::Ignored(format!(
            "SNS unsubscribe confirmation for {}",
            envelope.topic_arn.as_deref().unwrap_or("an unnamed topic")
        ))),
    }
}

/// SNS ignores the response body, and two-way SMS has no way to answer in it: a reply is sent
/// by End User Messaging's own keyword responses (or the business's sender), never from here.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    empty_reply()
}

/// A topic ARN's parts that decide where its messages and certificates come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicArn {
    pub arn: String,
    pub partition: String,
    pub region: String,
}

impl TopicArn {
    /// `sns.<region>.amazonaws.com`, or `.com.cn` in the China partition.
    pub fn sns_host(&self) -> String {
        let suffix = if self.partition == "aws-cn" {
            "amazonaws.com.cn"
        } else {
            "amazonaws.com"
        };
        format!("sns.{}.{suffix}", self.region)
    }
}

/// `arn:<aws|aws-cn|aws-us-gov>:sns:<region>:<12-digit account>:<topic name>`.
pub fn parse_topic_arn(arn: &str) -> Result<TopicArn, String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let [scheme, partition, service, region, account, name] = parts.as_slice() else {
        return Err(format!(
            "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
        ));
    };
    let name_ok = !name.is_empty()
        && name.len() <= 256
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    let account_ok = account.len() == 12 && account.chars().all(|c| c.is_ascii_digit());
    let partition_ok = matches!(*partition, "aws" | "aws-cn" | "aws-us-gov");
    // A China region lives only in the China partition and the other way round, so the two
    // together always name one real SNS host.
    let region_ok = is_region(region) && (*partition == "aws-cn") == region.starts_with("cn-");
    if *scheme != "arn"
        || *service != "sns"
        || !partition_ok
        || !region_ok
        || !account_ok
        || !name_ok
    {
        return Err(format!(
            "{arn:?} is not an SNS topic ARN (arn:aws:sns:<region>:<account>:<topic>)"
        ));
    }
    Ok(TopicArn {
        arn: arn.to_string(),
        partition: partition.to_string(),
        region: region.to_string(),
    })
}

/// The region of an `https://sns.<region>.amazonaws.com[.cn]/...` URL, or `None` for any URL
/// that is not exactly that: another scheme or host, user info, a port, an upper-case or
/// trailing-dot host, a backslash or whitespace. The edge fetches nothing else.
pub fn sns_url_region(url: &str) -> Option<&str> {
    // Only the host decides where a request goes, and it must be exactly an SNS host, so what
    // follows the first `/` cannot move it; a backslash or a space has no place anywhere.
    if !url.bytes().all(|b| b.is_ascii_graphic()) || url.contains('\\') {
        return None;
    }
    let rest = url.strip_prefix("https://")?;
    let host = &rest[..rest.find('/')?];
    let region = host
        .strip_prefix("sns.")?
        .strip_suffix(".amazonaws.com.cn")
        .filter(|r| r.starts_with("cn-"))
        .or_else(|| {
            host.strip_prefix("sns.")?
                .strip_suffix(".amazonaws.com")
                .filter(|r| !r.starts_with("cn-"))
        })?;
    if !is_region(region) {
        return None;
    }
    // The same answer from a real URL parser, so no reading of the URL disagrees with ours.
    let parsed = url::Url::parse(url).ok()?;
    let agrees = parsed.scheme() == "https"
        && parsed.host_str() == Some(host)
        && parsed.username().is_empty()
        && parsed.password().is_none()
        && parsed.port().is_none();
    agrees.then_some(region)
}

/// `SigningCertURL` must be a `.pem` file at the root of the topic's own SNS host.
fn check_certificate_url(url: &str, topic: &TopicArn) -> Result<(), String> {
    let host = topic.sns_host();
    let refused = || format!("SigningCertURL {url:?} is not a certificate on https://{host}/");
    if sns_url_region(url).is_none() {
        return Err(refused());
    }
    let name = url
        .strip_prefix(&format!("https://{host}/"))
        .ok_or_else(refused)?;
    let name_ok = name.len() > ".pem".len()
        && name.ends_with(".pem")
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if name_ok { Ok(()) } else { Err(refused()) }
}

/// `SubscribeURL` must be a `ConfirmSubscription` call on the topic's own SNS host.
fn check_subscribe_url(url: &str, topic: &TopicArn) -> Result<(), String> {
    let host = topic.sns_host();
    let refused = |why: &str| {
        format!("{url:?} is not a subscription confirmation on https://{host}/ ({why})")
    };
    if sns_url_region(url).is_none() {
        return Err(refused("not an SNS URL"));
    }
    let query = url
        .strip_prefix(&format!("https://{host}/?"))
        .ok_or_else(|| refused("another host or path"))?;
    if query.contains('#') {
        return Err(refused("a fragment"));
    }
    let pairs = form_pairs(query.as_bytes());
    let value = |name: &str| param(&pairs, name);
    if value("Action") != Some("ConfirmSubscription") {
        return Err(refused("Action is not ConfirmSubscription"));
    }
    if value("TopicArn").is_some_and(|arn| arn != topic.arn) {
        return Err(refused("it names another topic"));
    }
    Ok(())
}

/// `xx-name-N`, `xx-gov-name-N`...: lower-case words and a final number, joined by hyphens.
fn is_region(region: &str) -> bool {
    let words: Vec<&str> = region.split('-').collect();
    words.len() >= 3
        && words.first().is_some_and(|w| w.len() == 2)
        && words
            .last()
            .is_some_and(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()))
        && words[..words.len() - 1]
            .iter()
            .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_lowercase()))
}

/// Reads a certificate as served (PEM; the first certificate of a bundle) or as DER.
pub fn read_certificate(bytes: &[u8]) -> Result<Certificate, WebhookError> {
    let unreadable = |e: &dyn std::fmt::Display| {
        bad_signature(&format!("the signing certificate is not readable: {e}"))
    };
    if bytes.len() > MAX_CERTIFICATE_BYTES {
        return Err(bad_signature("the signing certificate is too large"));
    }
    let text = String::from_utf8_lossy(bytes);
    let Some(begin) = text.find("-----BEGIN CERTIFICATE-----") else {
        return Certificate::from_der(bytes).map_err(|e| unreadable(&e));
    };
    const END: &str = "-----END CERTIFICATE-----";
    let end = text[begin..]
        .find(END)
        .map(|i| begin + i + END.len())
        .ok_or_else(|| unreadable(&"PEM without an end line"))?;
    Certificate::from_pem(&text[begin..end]).map_err(|e| unreadable(&e))
}

fn public_key(certificate: &Certificate) -> Result<RsaPublicKey, WebhookError> {
    let spki = certificate
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|_| bad_signature("the signing certificate's public key is unreadable"))?;
    RsaPublicKey::from_public_key_der(&spki)
        .map_err(|_| bad_signature("the signing certificate's key is not an RSA key"))
}

fn check_validity(certificate: &Certificate, now: DateTime<Utc>) -> Result<(), WebhookError> {
    let validity = &certificate.tbs_certificate.validity;
    let seconds = |t: x509_cert::time::Time| {
        i64::try_from(t.to_unix_duration().as_secs()).unwrap_or(i64::MAX)
    };
    let now = now.timestamp();
    if now < seconds(validity.not_before) || now > seconds(validity.not_after) {
        return Err(bad_signature(&format!(
            "the signing certificate is not valid now (valid from {} to {})",
            validity.not_before, validity.not_after
        )));
    }
    Ok(())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MessageType {
    Notification,
    SubscriptionConfirmation,
    UnsubscribeConfirmation,
}

/// The SNS envelope with its values as sent (JSON escapes undone, as SNS signs them). A repeated
/// field is an error, so a message cannot show one value to the check and another to the parser.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Envelope {
    #[serde(rename = "Type")]
    kind: Option<String>,
    message_id: Option<String>,
    topic_arn: Option<String>,
    subject: Option<String>,
    message: Option<String>,
    timestamp: Option<String>,
    signature_version: Option<String>,
    signature: Option<String>,
    #[serde(rename = "SigningCertURL")]
    signing_cert_url: Option<String>,
    #[serde(rename = "SubscribeURL")]
    subscribe_url: Option<String>,
    token: Option<String>,
}

impl Envelope {
    fn read(body: &[u8]) -> Result<Envelope, String> {
        serde_json::from_slice(body).map_err(|e| format!("not an Amazon SNS message: {e}"))
    }

    fn field(&self, name: &str) -> Option<&str> {
        match name {
            "Type" => self.kind.as_deref(),
            "MessageId" => self.message_id.as_deref(),
            "TopicArn" => self.topic_arn.as_deref(),
            "Subject" => self.subject.as_deref(),
            "Message" => self.message.as_deref(),
            "Timestamp" => self.timestamp.as_deref(),
            "SignatureVersion" => self.signature_version.as_deref(),
            "Signature" => self.signature.as_deref(),
            "SigningCertURL" => self.signing_cert_url.as_deref(),
            "SubscribeURL" => self.subscribe_url.as_deref(),
            "Token" => self.token.as_deref(),
            _ => None,
        }
    }

    /// A field the check needs: missing, the message cannot be proven to be from SNS.
    fn required(&self, name: &str) -> Result<&str, WebhookError> {
        self.field(name)
            .ok_or_else(|| bad_signature(&format!("the message has no {name}")))
    }

    fn kind(&self) -> Result<MessageType, WebhookError> {
        match self.required("Type")? {
            "Notification" => Ok(MessageType::Notification),
            "SubscriptionConfirmation" => Ok(MessageType::SubscriptionConfirmation),
            "UnsubscribeConfirmation" => Ok(MessageType::UnsubscribeConfirmation),
            other => Err(bad_signature(&format!(
                "unknown SNS message Type {other:?}"
            ))),
        }
    }

    fn allowed_topic(&self, allowed: &[&str]) -> Result<TopicArn, WebhookError> {
        let topic = self.required("TopicArn")?;
        if allowed.is_empty() {
            return Err(bad_signature("no topic_arn is configured"));
        }
        if !allowed.contains(&topic) {
            return Err(bad_signature(&format!(
                "TopicArn {topic} is not a configured topic_arn"
            )));
        }
        parse_topic_arn(topic).map_err(|e| bad_signature(&e))
    }

    fn string_to_sign(&self) -> Result<String, WebhookError> {
        // (field, required): a Notification's Subject is signed only when it was sent.
        let fields: &[(&str, bool)] = match self.kind()? {
            MessageType::Notification => &[
                ("Message", true),
                ("MessageId", true),
                ("Subject", false),
                ("Timestamp", true),
                ("TopicArn", true),
                ("Type", true),
            ],
            MessageType::SubscriptionConfirmation | MessageType::UnsubscribeConfirmation => &[
                ("Message", true),
                ("MessageId", true),
                ("SubscribeURL", true),
                ("Timestamp", true),
                ("Token", true),
                ("TopicArn", true),
                ("Type", true),
            ],
        };
        let mut signed = String::new();
        for &(name, required) in fields {
            let value = if required {
                Some(self.required(name)?)
            } else {
                self.field(name)
            };
            if let Some(value) = value {
                signed.push_str(name);
                signed.push('\n');
                signed.push_str(value);
                signed.push('\n');
            }
        }
        Ok(signed)
    }

    fn inbound_message(&self) -> Result<InboundMessage, WebhookError> {
        let payload = self
            .message
            .as_deref()
            .ok_or_else(|| WebhookError::malformed("Message", "missing"))?;
        let sms: InboundSms = serde_json::from_str(payload).map_err(|e| {
            WebhookError::malformed(
                "Message",
                format!("not an End User Messaging inbound SMS: {e}"),
            )
        })?;
        let present = |value: Option<String>| value.filter(|v| !v.trim().is_empty());
        let required = |value: Option<String>, name: &str| {
            present(value).ok_or_else(|| WebhookError::malformed(name, "missing or empty"))
        };
        let provider_time = match self.timestamp.as_deref() {
            Some(t) => Some(
                DateTime::parse_from_rfc3339(t)
                    .map_err(|e| WebhookError::malformed("Timestamp", e.to_string()))?
                    .with_timezone(&Utc),
            ),
            None => None,
        };
        // Redeliveries keep both ids; the SMS's own id also matches across subscriptions.
        let message_id = present(sms.inbound_message_id)
            .or_else(|| present(self.message_id.clone()))
            .ok_or_else(|| WebhookError::malformed("inboundMessageId", "missing or empty"))?;
        Ok(InboundMessage {
            provider: Provider::Aws.to_string(),
            message_id,
            from: required(sms.origination_number, "originationNumber")?,
            to: required(sms.destination_number, "destinationNumber")?,
            text: sms.message_body.unwrap_or_default(),
            messaging_service: None,
            provider_time,
            provider_verdict: present(sms.message_keyword),
            provider_intent: None,
        })
    }
}

/// End User Messaging's two-way SMS payload (the SNS `Message`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InboundSms {
    origination_number: Option<String>,
    destination_number: Option<String>,
    message_keyword: Option<String>,
    message_body: Option<String>,
    inbound_message_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::providers::SigningCertificate;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{malformed_field, rejection, request};
    use crate::testing::sns::{self as test_sns, CERT_URL, TOPIC_ARN};
    use chrono::TimeZone;

    /// Real messages AWS signed, and the certificate they name (tests/fixtures/sns/README.md).
    const FIXTURES: &str = include_str!("../../tests/fixtures/sns/sns-fixtures.json");
    const AWS_CERTIFICATE: &str = include_str!("../../tests/fixtures/sns/sns-cert-2021.pem");
    const PERSON: &str = "+14155550162";
    const BUSINESS: &str = "+14155550100";

    /// The messages AWS signed (aws-php-sns-message-validator's functional tests), as bodies.
    fn aws_fixtures() -> Vec<serde_json::Map<String, Value>> {
        let file: Value = serde_json::from_str(FIXTURES).unwrap();
        let fixtures: Vec<_> = file["fixtures"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f.as_object().unwrap().clone())
            .collect();
        assert!(fixtures.len() >= 4, "sns-fixtures.json lost fixtures");
        fixtures
    }

    fn aws_certificate() -> Vec<u8> {
        AWS_CERTIFICATE.as_bytes().to_vec()
    }

    fn body(envelope: &serde_json::Map<String, Value>) -> Vec<u8> {
        serde_json::to_vec(envelope).unwrap()
    }

    fn text(envelope: &serde_json::Map<String, Value>, name: &str) -> String {
        envelope[name].as_str().unwrap().to_string()
    }

    fn post<'a>(h: &'a http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        request(
            "POST",
            "https://hooks.example.com/v1/webhooks/aws/acme",
            h,
            body,
        )
    }

    /// The tenant's topics, and the certificate (URL, bytes) the edge fetched, if any.
    fn secrets(topics: &[&str], certificate: Option<(&str, &[u8])>) -> ProviderSecrets {
        let secrets = ProviderSecrets::from_pairs(topics.iter().map(|t| ("topic_arn", *t)));
        match certificate {
            Some((url, bytes)) => secrets.with_signing_certificate(SigningCertificate {
                url: url.to_string(),
                bytes: std::sync::Arc::from(bytes),
            }),
            None => secrets,
        }
    }

    fn at(timestamp: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(timestamp)
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn every_aws_signed_fixture_verifies() {
        let certificate = aws_certificate();
        for fixture in aws_fixtures() {
            let name = format!(
                "{} v{} subject={}",
                text(&fixture, "MessageId"),
                text(&fixture, "SignatureVersion"),
                fixture.contains_key("Subject")
            );
            let topic = text(&fixture, "TopicArn");
            let body = body(&fixture);
            assert_eq!(
                verify_with_certificate(&body, &certificate, &[&topic]),
                Ok(()),
                "{name}"
            );
            // The whole check, at the time the message was sent (the certificate has expired
            // since, which only `verify` looks at).
            let url = text(&fixture, "SigningCertURL");
            let secrets = secrets(
                &["arn:aws:sns:us-east-1:123456789012:other", &topic],
                Some((&url, &certificate)),
            );
            let h = http::HeaderMap::new();
            let sent = at(&text(&fixture, "Timestamp"));
            assert_eq!(verify(&post(&h, &body), &secrets, sent), Ok(()), "{name}");
            let reason = rejection(verify(
                &post(&h, &body),
                &secrets,
                at("2026-01-01T00:00:00Z"),
            ));
            assert!(reason.contains("not valid now"), "{name}: {reason}");
        }
    }

    #[test]
    fn the_aws_certificate_reads_as_pem_and_der() {
        let pem = aws_certificate();
        let from_pem = read_certificate(&pem).unwrap();
        let der = from_pem.to_der().unwrap();
        assert_eq!(read_certificate(&der).unwrap(), from_pem);
        let fixture = &aws_fixtures()[0];
        let topic = text(fixture, "TopicArn");
        assert_eq!(
            verify_with_certificate(&body(fixture), &der, &[&topic]),
            Ok(())
        );
        // A bundle: the first certificate signs.
        let mut bundle = pem.clone();
        bundle.extend_from_slice(test_sns::CERTIFICATE_PEM.as_bytes());
        assert_eq!(
            verify_with_certificate(&body(fixture), &bundle, &[&topic]),
            Ok(())
        );
        assert!(read_certificate(b"-----BEGIN CERTIFICATE-----\nAAAA\n").is_err());
        assert!(read_certificate(b"not a certificate").is_err());
    }

    #[test]
    fn tampered_and_missigned_aws_messages_are_rejected() {
        let certificate = aws_certificate();
        let fixtures = aws_fixtures();
        let other_signature = text(&fixtures[1], "Signature");
        for fixture in &fixtures {
            let topic = text(fixture, "TopicArn");
            let check = |envelope: &serde_json::Map<String, Value>| {
                rejection(verify_with_certificate(
                    &body(envelope),
                    &certificate,
                    &[&topic],
                ))
            };
            let mut cases: Vec<(&str, serde_json::Map<String, Value>)> = vec![];
            let mut tampered = fixture.clone();
            tampered.insert("Message".into(), "Hello World".into());
            cases.push(("message", tampered));
            let mut tampered = fixture.clone();
            tampered.insert("Timestamp".into(), "2022-07-28T21:23:58.318Z".into());
            cases.push(("timestamp", tampered));
            let mut tampered = fixture.clone();
            tampered.insert("Subject".into(), "Hi".into());
            cases.push(("subject", tampered));
            let mut swapped = fixture.clone();
            swapped.insert("Signature".into(), other_signature.clone().into());
            if text(fixture, "Signature") != other_signature {
                cases.push(("another message's signature", swapped));
            }
            let mut flipped = fixture.clone();
            let version = if text(fixture, "SignatureVersion") == "1" {
                "2"
            } else {
                "1"
            };
            flipped.insert("SignatureVersion".into(), version.into());
            cases.push(("other hash", flipped));
            for (name, envelope) in cases {
                let reason = check(&envelope);
                assert!(reason.contains("does not match"), "{name}: {reason}");
            }

            let mut unsigned = fixture.clone();
            unsigned.remove("Signature");
            assert_eq!(check(&unsigned), "the message has no Signature");
            let mut garbage = fixture.clone();
            garbage.insert("Signature".into(), "%%%".into());
            assert_eq!(check(&garbage), "Signature is not base64");
            let mut version3 = fixture.clone();
            version3.insert("SignatureVersion".into(), "3".into());
            assert!(check(&version3).contains("is not 1 or 2"));

            // The right message under a key that did not sign it.
            let reason = rejection(verify_with_certificate(
                &body(fixture),
                test_sns::CERTIFICATE_PEM.as_bytes(),
                &[&topic],
            ));
            assert!(reason.contains("does not match"), "{reason}");
        }
    }

    #[test]
    fn only_the_tenants_topics_are_accepted() {
        let certificate = aws_certificate();
        let fixture = &aws_fixtures()[0];
        let topic = text(fixture, "TopicArn");
        let body = body(fixture);
        let other = "arn:aws:sns:us-east-2:295079676684:someone-else";
        let reason = rejection(verify_with_certificate(&body, &certificate, &[other]));
        assert_eq!(
            reason,
            format!("TopicArn {topic} is not a configured topic_arn")
        );
        let reason = rejection(verify_with_certificate(&body, &certificate, &[]));
        assert_eq!(reason, "no topic_arn is configured");
        // Either value during a move to a new topic.
        assert_eq!(
            verify_with_certificate(&body, &certificate, &[other, &topic]),
            Ok(())
        );
        assert_eq!(
            verify_with_certificate(&body, &certificate, &[&topic, other]),
            Ok(())
        );
        // An empty secret allows nothing (ProviderSecrets drops empty values).
        let h = http::HeaderMap::new();
        let empty = secrets(&[""], None);
        assert_eq!(
            rejection(check_topic(&body, &empty)),
            "no topic_arn is configured"
        );
        assert!(
            certificate_url(&body, &empty).is_err(),
            "nothing to fetch for a stranger"
        );
        assert!(rejection(verify(&post(&h, &body), &empty, Utc::now())).contains("no topic_arn"));
    }

    #[test]
    fn the_certificate_must_be_the_one_the_message_names() {
        let certificate = aws_certificate();
        let fixture = &aws_fixtures()[0];
        let topic = text(fixture, "TopicArn");
        let url = text(fixture, "SigningCertURL");
        let body = body(fixture);
        let h = http::HeaderMap::new();
        let sent = at(&text(fixture, "Timestamp"));
        let none = secrets(&[&topic], None);
        assert_eq!(certificate_url(&body, &none), Ok(url.clone()));
        let reason = rejection(verify(&post(&h, &body), &none, sent));
        assert!(reason.contains("is not available"), "{reason}");
        let elsewhere = "https://sns.us-east-2.amazonaws.com/SimpleNotificationService-other.pem";
        let wrong = secrets(&[&topic], Some((elsewhere, &certificate)));
        let reason = rejection(verify(&post(&h, &body), &wrong, sent));
        assert!(reason.contains(&url), "{reason}");
    }

    #[test]
    fn disallowed_certificate_urls_are_rejected() {
        let certificate = aws_certificate();
        let fixture = &aws_fixtures()[0];
        let topic = text(fixture, "TopicArn");
        let good = text(fixture, "SigningCertURL");
        let name = "SimpleNotificationService-7ff5318490ec183fbaddaa2a969abfda.pem";
        let bad = [
            format!("http://sns.us-east-2.amazonaws.com/{name}"),
            format!("https://sns.us-west-2.amazonaws.com/{name}"),
            format!("https://sns.us-east-2.amazonaws.com.evil.example/{name}"),
            format!("https://evil.example/sns.us-east-2.amazonaws.com/{name}"),
            format!("https://evil.example/?sns.us-east-2.amazonaws.com/{name}"),
            format!("https://sns.us-east-2.amazonaws.com@evil.example/{name}"),
            format!("https://evil.example@sns.us-east-2.amazonaws.com/{name}"),
            format!("https://user:pw@sns.us-east-2.amazonaws.com/{name}"),
            format!("https://evil.example\\@sns.us-east-2.amazonaws.com/{name}"),
            format!("https://sns.us-east-2.amazonaws.com:443/{name}"),
            format!("https://sns.us-east-2.amazonaws.com:8443/{name}"),
            format!("https://SNS.us-east-2.amazonaws.com/{name}"),
            format!("https://sns.us-east-2.amazonaws.com./{name}"),
            format!("https://sns.us-east-2.amazonaws.com.cn/{name}"),
            format!("https://sqs.us-east-2.amazonaws.com/{name}"),
            format!("https://sns.us-east-2.amazonaws.com/{name}?x=1"),
            format!("https://sns.us-east-2.amazonaws.com/{name}#x"),
            format!("https://sns.us-east-2.amazonaws.com/x?{name}"),
            format!("https://sns.us-east-2.amazonaws.com/a/{name}"),
            format!("https://sns.us-east-2.amazonaws.com/../{name}"),
            format!("https://sns.us-east-2.amazonaws.com/%2e%2e/{name}"),
            format!("https://sns.us-east-2.amazonaws.com/ {name}"),
            "https://sns.us-east-2.amazonaws.com/x.txt".to_string(),
            "https://sns.us-east-2.amazonaws.com/.pem".to_string(),
            "https://sns.us-east-2.amazonaws.com/".to_string(),
            "https://sns.us-east-2.amazonaws.com".to_string(),
            format!("//sns.us-east-2.amazonaws.com/{name}"),
            format!("file:///sns.us-east-2.amazonaws.com/{name}"),
            String::new(),
        ];
        for url in &bad {
            let mut envelope = fixture.clone();
            envelope.insert("SigningCertURL".into(), url.clone().into());
            let body = body(&envelope);
            let reason = rejection(verify_with_certificate(&body, &certificate, &[&topic]));
            assert!(reason.starts_with("SigningCertURL"), "{url}: {reason}");
            assert!(
                certificate_url(&body, &secrets(&[&topic], None)).is_err(),
                "{url}"
            );
        }
        let mut envelope = fixture.clone();
        envelope.remove("SigningCertURL");
        let reason = rejection(verify_with_certificate(
            &body(&envelope),
            &certificate,
            &[&topic],
        ));
        assert_eq!(reason, "the message has no SigningCertURL");
        assert!(good.starts_with("https://sns.us-east-2.amazonaws.com/"));
    }

    #[test]
    fn sns_hosts_of_every_partition() {
        let cases = [
            (
                "https://sns.us-east-1.amazonaws.com/x.pem",
                Some("us-east-1"),
            ),
            (
                "https://sns.us-gov-west-1.amazonaws.com/x.pem",
                Some("us-gov-west-1"),
            ),
            (
                "https://sns.cn-north-1.amazonaws.com.cn/x.pem",
                Some("cn-north-1"),
            ),
            (
                "https://sns.ap-southeast-5.amazonaws.com/?Action=ConfirmSubscription&a=b%3Ac@d",
                Some("ap-southeast-5"),
            ),
            ("https://sns.cn-north-1.amazonaws.com/x.pem", None),
            ("https://sns.us-east-1.amazonaws.com.cn/x.pem", None),
            ("https://sns.amazonaws.com/x.pem", None),
            ("https://sns.us-east.amazonaws.com/x.pem", None),
            ("https://sns.US-EAST-1.amazonaws.com/x.pem", None),
            ("https://sns.us-east-1.amazonaws.com\\x.pem", None),
            ("https://sns.us-east-1.amazonaws.com", None),
        ];
        for (url, region) in cases {
            assert_eq!(sns_url_region(url), region, "{url}");
        }
        for (arn, host) in [
            (
                "arn:aws:sns:us-east-2:123456789012:t",
                "sns.us-east-2.amazonaws.com",
            ),
            (
                "arn:aws-us-gov:sns:us-gov-west-1:123456789012:t",
                "sns.us-gov-west-1.amazonaws.com",
            ),
            (
                "arn:aws-cn:sns:cn-northwest-1:123456789012:t.fifo",
                "sns.cn-northwest-1.amazonaws.com.cn",
            ),
        ] {
            assert_eq!(parse_topic_arn(arn).unwrap().sns_host(), host, "{arn}");
        }
        for arn in [
            "",
            "arn:aws:sqs:us-east-1:123456789012:t",
            "arn:aws:sns:us-east-1:12345678901:t",
            "arn:aws:sns:us-east-1:123456789012:",
            "arn:aws:sns:us-east-1:123456789012:t:sub",
            "arn:aws-cn:sns:us-east-1:123456789012:t",
            "arn:aws:sns:cn-north-1:123456789012:t",
            "arn:evil:sns:us-east-1:123456789012:t",
            "arn:aws:sns:us-east-1:123456789012:a/b",
        ] {
            assert!(parse_topic_arn(arn).is_err(), "{arn}");
        }
    }

    fn signed_sms(version: &str, text: &str) -> Vec<u8> {
        let sms = test_sns::sms(PERSON, BUSINESS, text, "inbound-1");
        test_sns::signed(
            test_sns::fields(&[
                ("Type", "Notification"),
                ("MessageId", "sns-1"),
                ("TopicArn", TOPIC_ARN),
                ("Message", &sms),
                ("Timestamp", "2026-11-28T12:00:00.123Z"),
            ]),
            version,
        )
        .into_bytes()
    }

    /// Shortly after the test messages' `Timestamp` (2026-11-28T12:00:00Z): when SNS would
    /// have delivered them.
    fn published() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 5)
            .single()
            .unwrap()
    }

    #[test]
    fn a_message_published_over_an_hour_ago_or_in_the_future_is_refused() {
        let h = http::HeaderMap::new();
        let body = signed_sms("2", "STOP");
        let req = post(&h, &body);
        assert_eq!(
            verify(
                &req,
                &test_secrets(),
                published() + chrono::Duration::minutes(59)
            ),
            Ok(())
        );
        let late = rejection(verify(
            &req,
            &test_secrets(),
            published() + chrono::Duration::minutes(61),
        ));
        assert!(late.contains("more than an hour"), "{late}");
        let early = rejection(verify(
            &req,
            &test_secrets(),
            published() - chrono::Duration::minutes(10),
        ));
        assert!(early.contains("future"), "{early}");
    }

    #[test]
    fn a_tenant_may_require_signature_version_2() {
        let h = http::HeaderMap::new();
        let strict = test_secrets()
            .with_settings([(REQUIRE_SIGNATURE_VERSION_2.to_string(), "true".to_string())].into());
        assert_eq!(
            verify(&post(&h, &signed_sms("2", "STOP")), &strict, published()),
            Ok(())
        );
        let reason = rejection(verify(
            &post(&h, &signed_sms("1", "STOP")),
            &strict,
            published(),
        ));
        assert!(reason.contains("requires 2"), "{reason}");
        assert_eq!(
            verify(
                &post(&h, &signed_sms("1", "STOP")),
                &test_secrets(),
                published()
            ),
            Ok(())
        );
    }

    fn test_secrets() -> ProviderSecrets {
        secrets(
            &[TOPIC_ARN],
            Some((CERT_URL, test_sns::CERTIFICATE_PEM.as_bytes())),
        )
    }

    #[test]
    fn sms_notifications_signed_with_the_test_key_verify_and_parse() {
        let h = http::HeaderMap::new();
        for version in ["1", "2"] {
            let body = signed_sms(version, "Stop texting me");
            let req = post(&h, &body);
            assert_eq!(
                verify(&req, &test_secrets(), published()),
                Ok(()),
                "v{version}"
            );
            let parsed = parse(&req).unwrap();
            assert_eq!(
                parsed,
                Parsed::Messages(vec![InboundMessage {
                    provider: Provider::Aws.to_string(),
                    message_id: "inbound-1".into(),
                    from: PERSON.into(),
                    to: BUSINESS.into(),
                    text: "Stop texting me".into(),
                    messaging_service: None,
                    provider_time: Some(at("2026-11-28T12:00:00.123Z")),
                    provider_verdict: None,
                    provider_intent: None,
                }])
            );
            // The body as SNS signed it, but carrying another text.
            let forged = String::from_utf8(body)
                .unwrap()
                .replace("Stop texting me", "START");
            let reason = rejection(verify(
                &post(&h, forged.as_bytes()),
                &test_secrets(),
                published(),
            ));
            assert!(reason.contains("does not match"), "{reason}");
        }
    }

    #[test]
    fn the_sample_events_are_signed_by_an_independent_signer() {
        // scripts/events_aws.py builds its string to sign on its own; these must verify here.
        let h = http::HeaderMap::new();
        for name in [
            "aws-stop",
            "aws-start",
            "aws-help",
            "aws-plain",
            "aws-subscribe",
        ] {
            let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
            let event: Value =
                serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
            let body = event["body"].as_str().unwrap().as_bytes();
            assert_eq!(
                verify(&post(&h, body), &test_secrets(), published()),
                Ok(()),
                "{name}"
            );
        }
        let path = format!("{}/../events/aws-forged.json", env!("CARGO_MANIFEST_DIR"));
        let event: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let body = event["body"].as_str().unwrap().as_bytes();
        assert!(verify(&post(&h, body), &test_secrets(), published()).is_err());
    }

    #[test]
    fn a_subscription_confirmation_is_a_handshake_on_the_topics_host() {
        let h = http::HeaderMap::new();
        let (body, url) = test_sns::subscription_confirmation(TOPIC_ARN, published());
        let req = post(&h, body.as_bytes());
        assert_eq!(verify(&req, &test_secrets(), published()), Ok(()));
        assert_eq!(
            parse(&req),
            Ok(Parsed::Handshake(Handshake {
                headers: vec![],
                reply: reply(None),
                confirm_url: Some(url.clone()),
            }))
        );
        // The signature covers SubscribeURL and Token.
        let moved = body.replace("t0k3n", "other");
        assert!(verify(&post(&h, moved.as_bytes()), &test_secrets(), published()).is_err());

        let topic = parse_topic_arn(TOPIC_ARN).unwrap();
        assert_eq!(check_subscribe_url(&url, &topic), Ok(()));
        for bad in [
            "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription".to_string(),
            "https://evil.example/?Action=ConfirmSubscription".to_string(),
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription".to_string(),
            "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe".to_string(),
            "https://sns.us-east-1.amazonaws.com/x?Action=ConfirmSubscription".to_string(),
            "https://sns.us-east-1.amazonaws.com:444/?Action=ConfirmSubscription".to_string(),
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription#x".to_string(),
            "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=arn:aws:sns:us-east-1:123456789012:other".to_string(),
        ] {
            assert!(check_subscribe_url(&bad, &topic).is_err(), "{bad}");
        }
        // Signed, but asking us to call somewhere else: not a handshake we complete.
        let mut envelope: serde_json::Map<String, Value> = serde_json::from_str(&body).unwrap();
        envelope.insert(
            "SubscribeURL".into(),
            "https://evil.example/?Action=ConfirmSubscription".into(),
        );
        envelope.remove("Signature");
        let resigned = test_sns::signed(envelope, "2");
        let req = post(&h, resigned.as_bytes());
        assert_eq!(verify(&req, &test_secrets(), published()), Ok(()));
        assert!(matches!(
            parse(&req),
            Err(WebhookError::Malformed { ref field, .. }) if field == "SubscribeURL"
        ));
    }

    #[test]
    fn an_unsubscribe_confirmation_is_acknowledged() {
        let h = http::HeaderMap::new();
        let body = test_sns::signed(
            test_sns::fields(&[
                ("Type", "UnsubscribeConfirmation"),
                ("MessageId", "m"),
                ("Token", "t"),
                ("TopicArn", TOPIC_ARN),
                ("Message", "You have chosen to deactivate subscription"),
                (
                    "SubscribeURL",
                    "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
                ),
                ("Timestamp", "2026-11-28T12:00:00.000Z"),
            ]),
            "1",
        );
        let req = post(&h, body.as_bytes());
        assert_eq!(verify(&req, &test_secrets(), published()), Ok(()));
        assert!(matches!(parse(&req), Ok(Parsed::Ignored(_))));
    }

    #[test]
    fn unreadable_messages_name_the_field() {
        let h = http::HeaderMap::new();
        let notification = |message: &str| {
            serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": TOPIC_ARN,
                "Message": message, "Timestamp": "2026-11-28T12:00:00.000Z"})
            .to_string()
        };
        let cases = [
            ("not json".to_string(), "body"),
            (
                r#"{"Type":"Notification","Type":"Notification"}"#.to_string(),
                "body",
            ),
            (r#"{"Type":"Other"}"#.to_string(), "body"),
            (r#"{"MessageId":"m"}"#.to_string(), "body"),
            (notification("Hello world"), "Message"),
            (
                notification(r#"{"destinationNumber":"+1","inboundMessageId":"i"}"#),
                "originationNumber",
            ),
            (
                notification(r#"{"originationNumber":"+1","inboundMessageId":"i"}"#),
                "destinationNumber",
            ),
            (
                notification(r#"{"originationNumber":" ","destinationNumber":"+1"}"#),
                "originationNumber",
            ),
            (
                notification(
                    r#"{"originationNumber":"+1","destinationNumber":"+2","inboundMessageId":"i"}"#,
                )
                .replace("2026-11-28T12:00:00.000Z", "yesterday"),
                "Timestamp",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(
                malformed_field(parse(&post(&h, body.as_bytes()))),
                field,
                "{body}"
            );
        }
        // Without the SMS's own id, SNS's MessageId (kept across SNS retries) dedupes.
        let bare = notification(r#"{"originationNumber":"+1","destinationNumber":"+2"}"#);
        let Ok(Parsed::Messages(messages)) = parse(&post(&h, bare.as_bytes())) else {
            panic!("{bare}");
        };
        assert_eq!(messages[0].message_id, "m");
        assert_eq!(messages[0].text, "");

        let too_big = vec![b' '; MAX_BODY_BYTES + 1];
        assert_eq!(malformed_field(parse(&post(&h, &too_big))), "body");
        assert!(matches!(
            verify(&post(&h, &too_big), &test_secrets(), Utc::now()),
            Err(WebhookError::Malformed { .. })
        ));
        let reason = rejection(verify(&post(&h, b"not json"), &test_secrets(), Utc::now()));
        assert!(reason.starts_with("not an Amazon SNS message"), "{reason}");
    }

    #[test]
    fn the_keyword_aws_matched_is_kept_as_its_verdict() {
        let sms = r#"{"originationNumber":"+14155550162","destinationNumber":"+14155550100","messageKeyword":"STOP","messageBody":"stop","inboundMessageId":"i"}"#;
        let body = serde_json::json!({"Type": "Notification", "MessageId": "m", "TopicArn": TOPIC_ARN, "Message": sms}).to_string();
        let h = http::HeaderMap::new();
        let Ok(Parsed::Messages(messages)) = parse(&post(&h, body.as_bytes())) else {
            panic!("{body}");
        };
        assert_eq!(messages[0].provider_verdict.as_deref(), Some("STOP"));
        assert_eq!(messages[0].provider_time, None);
    }

    #[test]
    fn the_reply_is_empty() {
        for text in [None, Some("You are unsubscribed.")] {
            let answer = reply(text);
            assert_eq!(
                (answer.content_type.as_str(), answer.body.as_str()),
                ("text/plain", "")
            );
        }
    }
}
