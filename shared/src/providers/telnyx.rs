//! Telnyx Messaging (API v2) webhooks: Ed25519 signature, `message.received`, empty reply. Pure.
//!
//! Telnyx signs `{telnyx-timestamp}|{raw body}` with its Ed25519 key and sends the base64
//! signature in `telnyx-signature-ed25519`; the matching public key (base64, 32 bytes, one per
//! account) is in Mission Control under Keys & Credentials. The timestamp is the scheme's
//! only replay protection, so a request signed more than 300 s away from our clock is refused,
//! the same window as Telnyx's own SDKs (telnyx-python `src/telnyx/lib/webhook_verification.py`,
//! telnyx-go `lib/webhook_verification.go`). See docs/providers.md, "Telnyx".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::Value;

use super::common::{bad_signature, check_body_size, empty_reply, json_body, optional_string};
use super::{
    InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError, WebhookRequest,
};

/// The secret names `stopgate provider set <tenant> telnyx` accepts.
/// `public_key` verifies webhooks; `api_key` (an API v2 key) reads the opt-out list for
/// reconciliation.
pub const SECRET_NAMES: &[&str] = &["public_key", "api_key"];

const SIGNATURE_HEADER: &str = "telnyx-signature-ed25519";
const TIMESTAMP_HEADER: &str = "telnyx-timestamp";

/// How far a signature's timestamp may be from our clock, either way.
pub const REPLAY_WINDOW_SECONDS: u64 = 300;

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "an SMS webhook";

const INBOUND_EVENT_TYPE: &str = "message.received";

/// The DER header of an Ed25519 SubjectPublicKeyInfo (RFC 8410): a key copied from a PEM file
/// or an OpenSSL tool arrives with it in front of the 32 raw bytes Telnyx shows.
const SPKI_ED25519_PREFIX: [u8; 12] = [
    0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03, 0x21, 0x00,
];

/// Checks that Telnyx signed `req` no more than five minutes from `now`.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let configured = secrets.get("public_key");
    if configured.is_empty() {
        return Err(bad_signature("no public_key is configured"));
    }
    let signature = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| bad_signature("missing telnyx-signature-ed25519"))?;
    let timestamp = req
        .header(TIMESTAMP_HEADER)
        .ok_or_else(|| bad_signature("missing telnyx-timestamp"))?;
    let signed_at: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| bad_signature("telnyx-timestamp is not a Unix time in seconds"))?;
    let signature = BASE64
        .decode(signature.trim())
        .ok()
        .and_then(|bytes| Signature::from_slice(&bytes).ok())
        .ok_or_else(|| {
            bad_signature("telnyx-signature-ed25519 is not a base64 64-byte Ed25519 signature")
        })?;

    // The timestamp is signed exactly as sent, so it is bound to the body.
    let signed = signed_message(timestamp, req.body);

    let keys: Vec<VerifyingKey> = configured.iter().filter_map(|k| public_key(k)).collect();
    if keys.is_empty() {
        return Err(bad_signature(
            "the configured public_key is not a base64 Ed25519 public key (32 bytes, as Mission \
             Control shows it)",
        ));
    }
    // Strict verification refuses malleable signatures and small-order keys, neither of which
    // an honest signer produces.
    if !keys
        .iter()
        .any(|key| key.verify_strict(&signed, &signature).is_ok())
    {
        return Err(bad_signature(
            "no configured public_key verified telnyx-signature-ed25519 over \
             `{telnyx-timestamp}|{body}`",
        ));
    }

    // Checked only once the signature holds, so that this reason always means "genuine but
    // replayed or delayed" (or a clock off), never "forged".
    let skew = now.timestamp().abs_diff(signed_at);
    if skew > REPLAY_WINDOW_SECONDS {
        let direction = if signed_at < now.timestamp() {
            "old"
        } else {
            "in the future"
        };
        return Err(bad_signature(&format!(
            "telnyx-timestamp is {skew} s {direction}, outside the {REPLAY_WINDOW_SECONDS} s \
             replay window"
        )));
    }
    Ok(())
}

/// Reads a verified request: `message.received` becomes a message; every other event type on
/// the messaging profile's URL (`message.sent`, `message.finalized`, ...) is acknowledged.
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let value = json_body(req.body)?;
    let data = value.get("data").filter(|d| d.is_object()).ok_or_else(|| {
        WebhookError::malformed(
            "data",
            "missing; Telnyx wraps every event in {\"data\": {...}}",
        )
    })?;
    let event_type = required(
        optional_string(data, "event_type", "data.event_type")?,
        "data.event_type",
    )?;
    if event_type != INBOUND_EVENT_TYPE {
        return Ok(Parsed::Ignored(format!(
            "telnyx {event_type} event; only {INBOUND_EVENT_TYPE} is recorded"
        )));
    }
    let payload = data
        .get("payload")
        .filter(|p| p.is_object())
        .ok_or_else(|| WebhookError::malformed("data.payload", "missing or not an object"))?;

    // The message's own id, not the event's (`data.id`): the ledger records the person's text
    // once however many events describe it, and the message id is what Telnyx's message detail
    // records and `GET /v2/messages/{id}` are keyed by, so it is the id worth keeping as evidence.
    let message_id = required(
        optional_string(payload, "id", "data.payload.id")?,
        "data.payload.id",
    )?;
    let from = match payload.get("from") {
        Some(from) => optional_string(from, "phone_number", "data.payload.from.phone_number")?,
        None => None,
    };
    let from = required(from, "data.payload.from.phone_number")?;
    let to = required(first_recipient(payload)?, "data.payload.to")?;

    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Telnyx.to_string(),
        message_id,
        from,
        to,
        // An MMS may carry no text at all.
        text: optional_string(payload, "text", "data.payload.text")?.unwrap_or_default(),
        // The messaging profile groups numbers (and, per Telnyx's current docs, its opt-out
        // blocks), so it is the natural sender group.
        messaging_service: optional_string(
            payload,
            "messaging_profile_id",
            "data.payload.messaging_profile_id",
        )?,
        provider_time: provider_time(data, payload),
        provider_verdict: optional_string(
            payload,
            "autoresponse_type",
            "data.payload.autoresponse_type",
        )?,
        provider_intent: None,
    }]))
}

/// The success answer. Telnyx reads only the status code (any 2xx within 2 s) and has no
/// inline reply: a text back to the sender must be sent through its API, so `text` is dropped.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    empty_reply()
}

/// Signs `body` at `timestamp` as Telnyx does, with the Ed25519 key made from `seed`: what
/// tests and local examples send. Not built into the functions.
#[cfg(any(test, feature = "testing"))]
pub fn sign(seed: &[u8; 32], timestamp: &str, body: &[u8]) -> String {
    use ed25519_dalek::Signer as _;
    let key = ed25519_dalek::SigningKey::from_bytes(seed);
    BASE64.encode(key.sign(&signed_message(timestamp, body)).to_bytes())
}

/// The base64 public key (as Mission Control shows it) for the key made from `seed`.
#[cfg(any(test, feature = "testing"))]
pub fn public_key_for(seed: &[u8; 32]) -> String {
    BASE64.encode(
        ed25519_dalek::SigningKey::from_bytes(seed)
            .verifying_key()
            .to_bytes(),
    )
}

/// `{telnyx-timestamp}|{raw body}`, what Telnyx signs.
fn signed_message(timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut signed = Vec::with_capacity(timestamp.len() + 1 + body.len());
    signed.extend_from_slice(timestamp.as_bytes());
    signed.push(b'|');
    signed.extend_from_slice(body);
    signed
}

fn public_key(configured: &str) -> Option<VerifyingKey> {
    let bytes = BASE64.decode(configured.trim()).ok()?;
    let raw = match bytes.len() {
        32 => bytes.as_slice(),
        44 if bytes.starts_with(&SPKI_ED25519_PREFIX) => &bytes[SPKI_ED25519_PREFIX.len()..],
        _ => return None,
    };
    let raw: &[u8; 32] = raw.try_into().ok()?;
    VerifyingKey::from_bytes(raw).ok()
}

/// The business number. An inbound SMS has one recipient. A group MMS lists several and does
/// not mark which is ours; the first is taken, so such a text may be filed under another of
/// the group's numbers (the default tenant-wide scope of a STOP makes that harmless).
fn first_recipient(payload: &Value) -> Result<Option<String>, WebhookError> {
    match payload.get("to") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Array(recipients)) => match recipients.first() {
            None => Ok(None),
            Some(recipient) => optional_string(recipient, "phone_number", "data.payload.to"),
        },
        Some(_) => Err(WebhookError::malformed(
            "data.payload.to",
            "must be a list of recipients",
        )),
    }
}

/// When Telnyx says the message arrived. An unreadable time is not worth refusing an opt-out
/// over: the event is then receipt-stamped, as for providers that send no time.
fn provider_time(data: &Value, payload: &Value) -> Option<DateTime<Utc>> {
    [data.get("occurred_at"), payload.get("received_at")]
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find_map(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn required(value: Option<String>, path: &str) -> Result<String, WebhookError> {
    super::common::required(value, path, "Telnyx always sends it with message.received")
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{
        at, headers, malformed_field, one_message, rejection, request,
    };

    // Telnyx's SDK tests (telnyx-node test/Webhook.spec.js, telnyx-go
    // lib/webhook_verification_test.go, telnyx-ruby test/telnyx/lib/webhooks_ed25519_test.rb)
    // all sign with a key pair generated at random on each run, so Telnyx publishes no fixed
    // vector. The vectors below are built from the spec (`{timestamp}|{body}`, base64 Ed25519)
    // and were computed independently with Python's `cryptography` package:
    //   Ed25519PrivateKey.from_private_bytes(SEED).sign(b"1795867200|" + BODY)
    // The Ed25519 primitive itself is pinned by RFC 8032's test vector 2 below.
    const SEED: [u8; 32] = [7; 32];
    const PUBLIC_KEY: &str = "6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=";
    const TIMESTAMP: &str = "1795867200";
    const BODY: &str = r#"{"data":{"event_type":"message.received","id":"b301ed3f-1490-491f-995f-6e64e69674d4","occurred_at":"2026-11-28T12:00:00.000+00:00","payload":{"autoresponse_type":"stop","direction":"inbound","from":{"carrier":"T-Mobile USA","line_type":"Wireless","phone_number":"+14155550145"},"id":"40385f64-5717-4562-b3fc-2c963f66afa6","messaging_profile_id":"740572b6-099c-44a1-89b9-6c92163bc68d","received_at":"2026-11-28T11:59:59.000+00:00","record_type":"message","text":"STOP","to":[{"carrier":"Telnyx","line_type":"Wireless","phone_number":"+14155550100","status":"webhook_delivered"}],"type":"SMS"},"record_type":"event"},"meta":{"attempt":1,"delivered_to":"https://api.stopgate.example/v1/webhooks/telnyx/events-demo"}}"#;
    const SIGNATURE: &str =
        "xhWaTYyuqfP1maWL3biIuTWPIU6wYsTX0CdQFh4oMS+h6wiM4x1MIsHIouMPS/hDD0MfAI5gy08cIqbmTqgCDA==";

    fn signed_at() -> DateTime<Utc> {
        at(TIMESTAMP.parse().unwrap())
    }

    fn post<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        request(
            "POST",
            "https://api.stopgate.example/v1/webhooks/telnyx/events-demo",
            headers,
            body,
        )
    }

    fn keys(values: &[&str]) -> ProviderSecrets {
        ProviderSecrets::from_pairs(values.iter().map(|v| ("public_key", *v)))
    }

    fn signed_headers(signature: &str, timestamp: &str) -> http::HeaderMap {
        headers(&[
            ("content-type", "application/json"),
            ("telnyx-signature-ed25519", signature),
            ("telnyx-timestamp", timestamp),
        ])
    }

    #[test]
    fn rfc8032_test_vector_2() {
        // RFC 8032 section 7.1, TEST 2: one-byte message 0x72.
        let secret: [u8; 32] =
            hex::decode("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
                .unwrap()
                .try_into()
                .unwrap();
        let public = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";
        let signature = "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da\
                         085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00";
        let key = ed25519_dalek::SigningKey::from_bytes(&secret);
        assert_eq!(hex::encode(key.verifying_key().to_bytes()), public);
        let configured = BASE64.encode(hex::decode(public).unwrap());
        let signature = Signature::from_slice(&hex::decode(signature).unwrap()).unwrap();
        assert!(
            public_key(&configured)
                .unwrap()
                .verify_strict(&[0x72], &signature)
                .is_ok()
        );
    }

    #[test]
    fn spec_vector_verifies() {
        assert_eq!(public_key_for(&SEED), PUBLIC_KEY);
        assert_eq!(sign(&SEED, TIMESTAMP, BODY.as_bytes()), SIGNATURE);
        let h = signed_headers(SIGNATURE, TIMESTAMP);
        assert_eq!(
            verify(
                &post(&h, BODY.as_bytes()),
                &keys(&[PUBLIC_KEY]),
                signed_at()
            ),
            Ok(())
        );
    }

    #[test]
    fn forged_unsigned_and_tampered_requests_are_refused() {
        let h = signed_headers(SIGNATURE, TIMESTAMP);
        let secrets = keys(&[PUBLIC_KEY]);

        // Signed by another key.
        let forged = sign(&[8; 32], TIMESTAMP, BODY.as_bytes());
        let fh = signed_headers(&forged, TIMESTAMP);
        let reason = rejection(verify(&post(&fh, BODY.as_bytes()), &secrets, signed_at()));
        assert!(
            reason.starts_with("no configured public_key verified"),
            "{reason}"
        );

        // Unsigned.
        let none = headers(&[("telnyx-timestamp", TIMESTAMP)]);
        let reason = rejection(verify(&post(&none, BODY.as_bytes()), &secrets, signed_at()));
        assert_eq!(reason, "missing telnyx-signature-ed25519");
        let no_time = headers(&[("telnyx-signature-ed25519", SIGNATURE)]);
        let reason = rejection(verify(
            &post(&no_time, BODY.as_bytes()),
            &secrets,
            signed_at(),
        ));
        assert_eq!(reason, "missing telnyx-timestamp");

        // A STOP turned into a START after signing, and a byte added at the end.
        let tampered = BODY.replace("\"text\":\"STOP\"", "\"text\":\"START\"");
        assert_ne!(tampered, BODY);
        let reason = rejection(verify(
            &post(&h, tampered.as_bytes()),
            &secrets,
            signed_at(),
        ));
        assert!(
            reason.starts_with("no configured public_key verified"),
            "{reason}"
        );
        let padded = format!("{BODY} ");
        assert!(verify(&post(&h, padded.as_bytes()), &secrets, signed_at()).is_err());

        // The timestamp is part of what is signed: moving it breaks the signature, so a
        // replayer cannot refresh it.
        let moved = signed_headers(SIGNATURE, "1795867201");
        let reason = rejection(verify(
            &post(&moved, BODY.as_bytes()),
            &secrets,
            signed_at(),
        ));
        assert!(
            reason.starts_with("no configured public_key verified"),
            "{reason}"
        );

        for bad in ["%%%", "c2hvcnQ=", ""] {
            let h = signed_headers(bad, TIMESTAMP);
            let reason = rejection(verify(&post(&h, BODY.as_bytes()), &secrets, signed_at()));
            assert!(
                reason.contains("not a base64 64-byte Ed25519 signature"),
                "{reason}"
            );
        }
        let h = signed_headers(SIGNATURE, "yesterday");
        let reason = rejection(verify(&post(&h, BODY.as_bytes()), &secrets, signed_at()));
        assert_eq!(reason, "telnyx-timestamp is not a Unix time in seconds");
    }

    #[test]
    fn wrong_missing_and_rotated_keys() {
        let h = signed_headers(SIGNATURE, TIMESTAMP);
        let req = post(&h, BODY.as_bytes());
        let other = public_key_for(&[8; 32]);

        let reason = rejection(verify(&req, &keys(&[&other]), signed_at()));
        assert!(
            reason.starts_with("no configured public_key verified"),
            "{reason}"
        );
        assert_eq!(
            rejection(verify(&req, &ProviderSecrets::default(), signed_at())),
            "no public_key is configured"
        );
        assert_eq!(
            rejection(verify(&req, &keys(&[""]), signed_at())),
            "no public_key is configured"
        );
        for garbage in ["not base64!", "c2hvcnQ=", &BASE64.encode([0u8; 31])] {
            let reason = rejection(verify(&req, &keys(&[garbage]), signed_at()));
            assert!(
                reason.starts_with("the configured public_key is not"),
                "{reason}"
            );
        }

        // While rotating, the new key is first and the old one second; either verifies.
        assert_eq!(
            verify(&req, &keys(&[&other, PUBLIC_KEY]), signed_at()),
            Ok(())
        );
        assert_eq!(
            verify(&req, &keys(&[PUBLIC_KEY, &other]), signed_at()),
            Ok(())
        );
        // One broken value does not hide a good one.
        assert_eq!(
            verify(&req, &keys(&["junk", PUBLIC_KEY]), signed_at()),
            Ok(())
        );

        // The same key as an RFC 8410 SubjectPublicKeyInfo (what a PEM file holds).
        let mut spki = SPKI_ED25519_PREFIX.to_vec();
        spki.extend(BASE64.decode(PUBLIC_KEY).unwrap());
        assert_eq!(
            verify(&req, &keys(&[&BASE64.encode(&spki)]), signed_at()),
            Ok(())
        );
    }

    #[test]
    fn stale_and_future_timestamps_are_replays() {
        let h = signed_headers(SIGNATURE, TIMESTAMP);
        let req = post(&h, BODY.as_bytes());
        let secrets = keys(&[PUBLIC_KEY]);
        let t = signed_at();
        for ok in [-300, -1, 0, 1, 300] {
            assert_eq!(
                verify(&req, &secrets, t + chrono::Duration::seconds(ok)),
                Ok(()),
                "{ok}"
            );
        }
        let reason = rejection(verify(&req, &secrets, t + chrono::Duration::seconds(301)));
        assert_eq!(
            reason,
            "telnyx-timestamp is 301 s old, outside the 300 s replay window"
        );
        let reason = rejection(verify(&req, &secrets, t - chrono::Duration::seconds(301)));
        assert_eq!(
            reason,
            "telnyx-timestamp is 301 s in the future, outside the 300 s replay window"
        );
        // A replay a day later, of a request that was genuine.
        assert!(verify(&req, &secrets, t + chrono::Duration::days(1)).is_err());

        // Extreme timestamps neither overflow nor pass.
        for extreme in [i64::MIN.to_string(), i64::MAX.to_string()] {
            let signature = sign(&SEED, &extreme, BODY.as_bytes());
            let h = signed_headers(&signature, &extreme);
            assert!(verify(&post(&h, BODY.as_bytes()), &secrets, t).is_err());
        }
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = signed_headers(SIGNATURE, TIMESTAMP);
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let req = post(&h, &body);
        assert!(matches!(
            verify(&req, &keys(&[PUBLIC_KEY]), signed_at()),
            Err(WebhookError::Malformed { ref field, .. }) if field == "body"
        ));
        assert_eq!(malformed_field(parse(&req)), "body");
    }

    fn parse_body(body: &str) -> Result<Parsed, WebhookError> {
        let h = headers(&[("content-type", "application/json")]);
        parse(&post(&h, body.as_bytes()))
    }

    #[test]
    fn parses_message_received() {
        let parsed = parse_body(BODY).unwrap();
        assert_eq!(
            parsed,
            Parsed::Messages(vec![InboundMessage {
                provider: Provider::Telnyx.to_string(),
                message_id: "40385f64-5717-4562-b3fc-2c963f66afa6".to_string(),
                from: "+14155550145".to_string(),
                to: "+14155550100".to_string(),
                text: "STOP".to_string(),
                messaging_service: Some("740572b6-099c-44a1-89b9-6c92163bc68d".to_string()),
                provider_time: Some(at(1_795_867_200)),
                provider_verdict: Some("stop".to_string()),
                provider_intent: None,
            }])
        );
    }

    fn event(payload: Value) -> String {
        serde_json::json!({"data": {
            "record_type": "event", "event_type": "message.received",
            "id": "e1", "occurred_at": "2019-01-23T18:10:02.574Z", "payload": payload,
        }})
        .to_string()
    }

    fn message(body: &str) -> InboundMessage {
        one_message(parse_body(body).unwrap())
    }

    #[test]
    fn optional_fields_and_time_fallbacks() {
        // The shape of Telnyx's own example (developers.telnyx.com api-reference/callbacks/inbound-message).
        let bare = message(&event(serde_json::json!({
            "id": "m1", "from": {"phone_number": "+18665550001"},
            "to": [{"phone_number": "+18445550001", "status": "delivered"}],
            "text": null, "media": [{"url": "https://example.com/a.jpg"}],
        })));
        assert_eq!(bare.text, "");
        assert_eq!(bare.messaging_service, None);
        assert_eq!(bare.provider_verdict, None);
        assert_eq!(
            bare.provider_time,
            Some(
                Utc.with_ymd_and_hms(2019, 1, 23, 18, 10, 2).unwrap()
                    + chrono::Duration::milliseconds(574)
            )
        );

        // No occurred_at: the payload's received_at; neither readable: receipt-stamped.
        let body = serde_json::json!({"data": {"event_type": "message.received", "payload": {
            "id": "m2", "from": {"phone_number": "+1"}, "to": [{"phone_number": "+2"}],
            "received_at": "2024-05-01T10:00:00+02:00"}}});
        assert_eq!(
            message(&body.to_string()).provider_time,
            Some(Utc.with_ymd_and_hms(2024, 5, 1, 8, 0, 0).unwrap())
        );
        let body = serde_json::json!({"data": {"event_type": "message.received",
            "occurred_at": "yesterday", "payload": {
            "id": "m3", "from": {"phone_number": "+1"}, "to": [{"phone_number": "+2"}]}}});
        assert_eq!(message(&body.to_string()).provider_time, None);

        // A group MMS: the first recipient is taken.
        let group = message(&event(serde_json::json!({
            "id": "m4", "from": {"phone_number": "+1"},
            "to": [{"phone_number": "+14155550100"}, {"phone_number": "+14155550199"}],
            "cc": [{"phone_number": "+14155550198"}],
        })));
        assert_eq!(group.to, "+14155550100");
    }

    #[test]
    fn other_events_are_acknowledged() {
        for event_type in ["message.sent", "message.finalized", "message.queued"] {
            let body = serde_json::json!({"data": {"event_type": event_type, "id": "e1",
                "payload": {"id": "m1", "direction": "outbound",
                "from": {"phone_number": "+14155550100"}, "to": [{"phone_number": "+14155550145"}]}}});
            match parse_body(&body.to_string()) {
                Ok(Parsed::Ignored(note)) => assert!(note.contains(event_type), "{note}"),
                other => panic!("{event_type}: expected Ignored, got {other:?}"),
            }
        }
    }

    #[test]
    fn parse_errors_name_the_field() {
        let full = || {
            serde_json::json!({
                "id": "m1", "from": {"phone_number": "+14155550145"},
                "to": [{"phone_number": "+14155550100"}], "text": "STOP",
            })
        };
        let without = |pointer: &str| {
            let mut payload = full();
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            payload
                .pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
            event(payload)
        };
        let with = |pointer: &str, value: Value| {
            let mut payload = full();
            *payload.pointer_mut(pointer).unwrap() = value;
            event(payload)
        };
        let cases = [
            ("not json".to_string(), "body"),
            ("[]".to_string(), "data"),
            (r#"{"data": "x"}"#.to_string(), "data"),
            (r#"{"data": {}}"#.to_string(), "data.event_type"),
            (
                r#"{"data": {"event_type": 7}}"#.to_string(),
                "data.event_type",
            ),
            (
                r#"{"data": {"event_type": "message.received"}}"#.to_string(),
                "data.payload",
            ),
            (without("/id"), "data.payload.id"),
            (with("/id", Value::from("")), "data.payload.id"),
            (with("/id", Value::from(5)), "data.payload.id"),
            (without("/from"), "data.payload.from.phone_number"),
            (
                without("/from/phone_number"),
                "data.payload.from.phone_number",
            ),
            (without("/to"), "data.payload.to"),
            (with("/to", serde_json::json!([])), "data.payload.to"),
            (with("/to", Value::from("+14155550100")), "data.payload.to"),
            (
                with("/to", serde_json::json!([{"status": "x"}])),
                "data.payload.to",
            ),
            (with("/text", Value::from(1)), "data.payload.text"),
        ];
        for (body, field) in cases {
            assert_eq!(malformed_field(parse_body(&body)), field, "{body}");
        }
    }

    #[test]
    fn replies_are_empty() {
        for text in [None, Some(""), Some("You are unsubscribed.")] {
            let answer = reply(text);
            assert_eq!(answer.content_type, "text/plain");
            assert_eq!(answer.body, "");
        }
    }
}
