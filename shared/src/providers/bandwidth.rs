//! Bandwidth Messaging v2 callbacks: HTTP Basic credentials, a JSON array of events, empty
//! reply. Pure.
//!
//! Bandwidth does not sign callbacks. Its only proof of origin is the user name and password
//! set as the callback credentials of the messaging application (the Bandwidth App's
//! "Callback credentials", `callbackCreds` in the API), sent as `Authorization: Basic`. Without
//! them anyone who learns the URL can write to the ledger, so a request without them is refused.
//! Every callback is an array; inbound texts (`message-received`) and delivery receipts
//! (`message-delivered`, `message-failed`, `message-sending`, ...) share the URL. Delivery is at
//! least once, retried for 24 hours until a 2xx. See docs/providers.md, "Bandwidth".

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::common::{
    BasicCredentials, BasicWording, bad_signature, check_body_size, empty_reply, json_body,
    optional_string,
};
use super::{
    InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError, WebhookRequest,
};

/// The secret names `stopgate provider set <tenant> bandwidth` accepts.
pub const SECRET_NAMES: &[&str] = &["username", "password"];

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "an SMS webhook";

const INBOUND_TYPE: &str = "message-received";

const BASIC_WORDING: BasicWording = BasicWording {
    not_basic: "Authorization is not Basic",
    not_base64: "Authorization Basic credentials are not base64",
    no_colon: "Authorization Basic credentials have no `user:password`",
};

/// Checks the request's Basic credentials against the configured ones (current or previous).
/// Bandwidth sends no timestamp, so `_now` plays no part.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    _now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let usernames = secrets.get("username");
    let passwords = secrets.get("password");
    if usernames.is_empty() || passwords.is_empty() {
        return Err(bad_signature(
            "no username and password are configured (both are needed)",
        ));
    }
    let header = req.header("authorization").ok_or_else(|| {
        bad_signature(
            "missing Authorization; set callback credentials on the Bandwidth messaging \
             application",
        )
    })?;
    if BasicCredentials::read(header, &BASIC_WORDING)?.match_any(&usernames, &passwords) {
        Ok(())
    } else {
        Err(bad_signature(
            "the Basic credentials match no configured username and password",
        ))
    }
}

/// Reads a verified request: each `message-received` becomes a message; delivery receipts and
/// any other event type are acknowledged without recording anything.
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let callbacks = match json_body(req.body)? {
        Value::Array(callbacks) => callbacks,
        // Bandwidth always sends an array; one bare callback is read the same way.
        object @ Value::Object(_) => vec![object],
        _ => {
            return Err(WebhookError::malformed(
                "body",
                "expected a JSON array of callbacks",
            ));
        }
    };
    if callbacks.is_empty() {
        return Err(WebhookError::malformed(
            "body",
            "an empty array; Bandwidth sends at least one callback",
        ));
    }

    let mut messages = Vec::new();
    let mut ignored = Vec::new();
    for (i, callback) in callbacks.iter().enumerate() {
        let at = |field: &str| format!("[{i}].{field}");
        if !callback.is_object() {
            return Err(WebhookError::malformed(&format!("[{i}]"), "not an object"));
        }
        let kind = required(optional_string(callback, "type", &at("type"))?, &at("type"))?;
        if kind == INBOUND_TYPE {
            messages.push(inbound(callback, &at)?);
        } else {
            ignored.push(kind);
        }
    }
    if messages.is_empty() {
        return Ok(Parsed::Ignored(format!(
            "bandwidth {} callback(s); only {INBOUND_TYPE} is recorded",
            ignored.join(", ")
        )));
    }
    Ok(Parsed::Messages(messages))
}

/// The success answer. Bandwidth reads only the status code and has no inline reply (a text
/// back goes through its API), so `text` is dropped.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    empty_reply()
}

/// The `Authorization` header Bandwidth sends with callback credentials `username`/`password`:
/// what tests and local examples send.
pub fn authorization(username: &str, password: &str) -> String {
    format!("Basic {}", BASE64.encode(format!("{username}:{password}")))
}

fn inbound(callback: &Value, at: &dyn Fn(&str) -> String) -> Result<InboundMessage, WebhookError> {
    let message = callback
        .get("message")
        .filter(|m| m.is_object())
        .ok_or_else(|| WebhookError::malformed(&at("message"), "missing or not an object"))?;
    let message_id = required(
        optional_string(message, "id", &at("message.id"))?,
        &at("message.id"),
    )?;
    let from = required(
        optional_string(message, "from", &at("message.from"))?,
        &at("message.from"),
    )?;
    // The top-level `to` is the number of ours this event is for (a group text yields one
    // event, with its own message id, per number of ours); `owner` says the same.
    let to = match optional_string(callback, "to", &at("to"))? {
        Some(to) => Some(to),
        None => optional_string(message, "owner", &at("message.owner"))?,
    };
    let to = required(to, &at("to"))?;
    Ok(InboundMessage {
        provider: Provider::Bandwidth.to_string(),
        message_id,
        from,
        to,
        text: optional_string(message, "text", &at("message.text"))?.unwrap_or_default(),
        // The Bandwidth application groups numbers the way a messaging service does.
        messaging_service: optional_string(message, "applicationId", &at("message.applicationId"))?,
        // The message's own time first: it describes the text, where the callback's describes
        // the event reporting it.
        provider_time: time(message).or_else(|| time(callback)),
        provider_verdict: None,
        provider_intent: None,
    })
}

/// `time` as RFC 3339. An unreadable time is not worth refusing an opt-out over: the event is
/// then receipt-stamped, as for providers that send no time.
fn time(object: &Value) -> Option<DateTime<Utc>> {
    let text = object.get("time")?.as_str()?;
    DateTime::parse_from_rfc3339(text)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

fn required(value: Option<String>, path: &str) -> Result<String, WebhookError> {
    super::common::required(
        value,
        path,
        "Bandwidth always sends it with message-received",
    )
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{headers, malformed_field, rejection, request};

    // Bandwidth publishes no vectors for callback credentials: they are plain HTTP Basic
    // authentication (RFC 7617), so the vectors are built from that spec. RFC 7617 section 2's
    // own example is user "Aladdin", password "open sesame", header
    // `Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==`. The callback bodies follow Bandwidth's docs
    // (dev.bandwidth.com/docs/messaging/webhooks) and the SDK model InboundCallbackMessage.
    const RFC_USER: &str = "Aladdin";
    const RFC_PASSWORD: &str = "open sesame";
    const RFC_HEADER: &str = "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==";

    const RECEIVED: &str = r#"[{"type":"message-received","time":"2026-11-28T12:00:00.000Z","description":"Incoming message received","to":"+14155550100","message":{"id":"1589228074636lm4k2je7j7jklbn2","owner":"+14155550100","applicationId":"93de2206-9669-4e07-948d-329f4b722ee2","time":"2026-11-28T11:59:59.500Z","segmentCount":1,"direction":"in","to":["+14155550100"],"from":"+14155550146","text":"STOP","media":[],"tag":null}}]"#;

    fn now() -> DateTime<Utc> {
        Utc::now()
    }

    fn post<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        request(
            "POST",
            "https://api.stopgate.example/v1/webhooks/bandwidth/events-demo",
            headers,
            body,
        )
    }

    fn credentials(users: &[&str], passwords: &[&str]) -> ProviderSecrets {
        ProviderSecrets::from_pairs(
            users
                .iter()
                .map(|u| ("username", *u))
                .chain(passwords.iter().map(|p| ("password", *p))),
        )
    }

    fn check(header: Option<&str>, secrets: &ProviderSecrets) -> Result<(), WebhookError> {
        let h = match header {
            Some(value) => headers(&[("authorization", value)]),
            None => headers(&[]),
        };
        verify(&post(&h, RECEIVED.as_bytes()), secrets, now())
    }

    #[test]
    fn rfc7617_example() {
        assert_eq!(authorization(RFC_USER, RFC_PASSWORD), RFC_HEADER);
        let secrets = credentials(&[RFC_USER], &[RFC_PASSWORD]);
        assert_eq!(check(Some(RFC_HEADER), &secrets), Ok(()));
        // The scheme name is case-insensitive (RFC 7235 section 2.1).
        let lower = RFC_HEADER.replace("Basic", "basic");
        assert_eq!(check(Some(&lower), &secrets), Ok(()));
    }

    #[test]
    fn wrong_forged_and_missing_credentials_are_refused() {
        let secrets = credentials(&["stopgate"], &["s3cret:with:colons"]);
        assert_eq!(
            check(
                Some(&authorization("stopgate", "s3cret:with:colons")),
                &secrets
            ),
            Ok(())
        );
        let reason = rejection(check(Some(&authorization("stopgate", "guess")), &secrets));
        assert_eq!(
            reason,
            "the Basic credentials match no configured username and password"
        );
        for (user, password) in [
            ("other", "s3cret:with:colons"),
            ("stopgate", "s3cret"),
            ("stopgate", "s3cret:with:colons "),
            ("", ""),
        ] {
            assert!(
                check(Some(&authorization(user, password)), &secrets).is_err(),
                "{user}:{password}"
            );
        }

        let reason = rejection(check(None, &secrets));
        assert!(reason.starts_with("missing Authorization"), "{reason}");
        let bearer = rejection(check(Some("Bearer abc"), &secrets));
        assert_eq!(bearer, "Authorization is not Basic");
        let reason = rejection(check(Some("Basic"), &secrets));
        assert!(reason.contains("no `user:password`"), "{reason}");
        let reason = rejection(check(Some("Basic %%%"), &secrets));
        assert_eq!(reason, "Authorization Basic credentials are not base64");
        let no_colon = format!("Basic {}", BASE64.encode("stopgate"));
        let reason = rejection(check(Some(&no_colon), &secrets));
        assert!(reason.contains("no `user:password`"), "{reason}");

        // Credentials protect the request, not the body: a changed body with the right
        // header passes, which is why the credentials must stay secret (HTTPS only).
        let h = headers(&[(
            "authorization",
            &authorization("stopgate", "s3cret:with:colons"),
        )]);
        let tampered = RECEIVED.replace("STOP", "START");
        assert_eq!(
            verify(&post(&h, tampered.as_bytes()), &secrets, now()),
            Ok(())
        );
    }

    #[test]
    fn unconfigured_and_rotated_credentials() {
        let header = authorization("stopgate", "new-password");
        for secrets in [
            ProviderSecrets::default(),
            credentials(&["stopgate"], &[]),
            credentials(&[], &["new-password"]),
            credentials(&[""], &[""]),
        ] {
            let reason = rejection(check(Some(&header), &secrets));
            assert!(reason.starts_with("no username and password"), "{reason}");
        }
        // An empty configured password never matches an empty one sent.
        let empty = authorization("stopgate", "");
        assert!(check(Some(&empty), &credentials(&["stopgate"], &["", "x"])).is_err());

        // While rotating, the new value is first and the previous one second; both pass.
        let rotating = credentials(&["stopgate"], &["new-password", "old-password"]);
        assert_eq!(check(Some(&header), &rotating), Ok(()));
        assert_eq!(
            check(Some(&authorization("stopgate", "old-password")), &rotating),
            Ok(())
        );
        let renamed = credentials(&["stopgate-2", "stopgate"], &["new-password"]);
        assert_eq!(check(Some(&header), &renamed), Ok(()));
        assert_eq!(
            check(Some(&authorization("stopgate-2", "new-password")), &renamed),
            Ok(())
        );
        assert!(check(Some(&authorization("stopgate-3", "new-password")), &renamed).is_err());
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = headers(&[("authorization", RFC_HEADER)]);
        let body = vec![b' '; MAX_BODY_BYTES + 1];
        let req = post(&h, &body);
        assert!(matches!(
            verify(&req, &credentials(&[RFC_USER], &[RFC_PASSWORD]), now()),
            Err(WebhookError::Malformed { ref field, .. }) if field == "body"
        ));
        assert_eq!(malformed_field(parse(&req)), "body");
    }

    fn parse_body(body: &str) -> Result<Parsed, WebhookError> {
        let h = headers(&[("content-type", "application/json")]);
        parse(&post(&h, body.as_bytes()))
    }

    fn received(id: &str, from: &str, text: &str) -> Value {
        serde_json::json!({
            "type": "message-received", "time": "2026-11-28T12:00:00Z",
            "description": "Incoming message received", "to": "+14155550100",
            "message": {"id": id, "owner": "+14155550100", "time": "2026-11-28T11:59:00Z",
                "direction": "in", "to": ["+14155550100"], "from": from, "text": text,
                "applicationId": "app-1", "segmentCount": 1, "media": []},
        })
    }

    fn delivery(kind: &str) -> Value {
        serde_json::json!({
            "type": kind, "time": "2026-11-28T12:00:00Z", "description": "ok",
            "to": "+14155550146",
            "message": {"id": "out-1", "owner": "+14155550100", "direction": "out",
                "to": ["+14155550146"], "from": "+14155550100", "text": "", "time": "2026-11-28T11:59:00Z"},
        })
    }

    #[test]
    fn parses_message_received() {
        assert_eq!(
            parse_body(RECEIVED),
            Ok(Parsed::Messages(vec![InboundMessage {
                provider: Provider::Bandwidth.to_string(),
                message_id: "1589228074636lm4k2je7j7jklbn2".to_string(),
                from: "+14155550146".to_string(),
                to: "+14155550100".to_string(),
                text: "STOP".to_string(),
                messaging_service: Some("93de2206-9669-4e07-948d-329f4b722ee2".to_string()),
                provider_time: Some(
                    Utc.with_ymd_and_hms(2026, 11, 28, 11, 59, 59).unwrap()
                        + chrono::Duration::milliseconds(500)
                ),
                provider_verdict: None,
                provider_intent: None,
            }]))
        );
    }

    #[test]
    fn several_callbacks_in_one_array() {
        let body = Value::Array(vec![
            received("m-1", "+14155550146", "STOP"),
            delivery("message-delivered"),
            received("m-2", "+14155550147", "hello"),
        ]);
        match parse_body(&body.to_string()).unwrap() {
            Parsed::Messages(messages) => {
                let got: Vec<(&str, &str, &str)> = messages
                    .iter()
                    .map(|m| (m.message_id.as_str(), m.from.as_str(), m.text.as_str()))
                    .collect();
                assert_eq!(
                    got,
                    [
                        ("m-1", "+14155550146", "STOP"),
                        ("m-2", "+14155550147", "hello")
                    ]
                );
            }
            other => panic!("expected messages, got {other:?}"),
        }
        // One bare callback object is read as an array of one.
        let single = received("m-3", "+14155550146", "START").to_string();
        assert!(matches!(parse_body(&single), Ok(Parsed::Messages(m)) if m.len() == 1));
    }

    #[test]
    fn delivery_callbacks_are_acknowledged() {
        for kind in [
            "message-delivered",
            "message-failed",
            "message-sending",
            "message-read",
        ] {
            let body = Value::Array(vec![delivery(kind)]).to_string();
            match parse_body(&body) {
                Ok(Parsed::Ignored(note)) => assert!(note.contains(kind), "{note}"),
                other => panic!("{kind}: expected Ignored, got {other:?}"),
            }
        }
        let both = Value::Array(vec![
            delivery("message-delivered"),
            delivery("message-failed"),
        ]);
        match parse_body(&both.to_string()) {
            Ok(Parsed::Ignored(note)) => {
                assert!(note.contains("message-delivered, message-failed"), "{note}")
            }
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    #[test]
    fn fallbacks_and_optional_fields() {
        let mut callback = received("m-1", "+14155550146", "");
        let obj = callback.as_object_mut().unwrap();
        obj.remove("to");
        obj.remove("time");
        let message = obj.get_mut("message").unwrap().as_object_mut().unwrap();
        message.remove("text");
        message.remove("applicationId");
        message.insert("time".into(), Value::from("not a time"));
        let parsed = parse_body(&Value::Array(vec![callback.clone()]).to_string()).unwrap();
        let Parsed::Messages(messages) = parsed else {
            panic!("expected messages")
        };
        // No top-level `to`: the owner; no readable time anywhere: receipt-stamped.
        assert_eq!(messages[0].to, "+14155550100");
        assert_eq!(messages[0].text, "");
        assert_eq!(messages[0].messaging_service, None);
        assert_eq!(messages[0].provider_time, None);

        // The message's time is missing: the callback's.
        let mut callback = received("m-2", "+14155550146", "STOP");
        callback["message"].as_object_mut().unwrap().remove("time");
        let Parsed::Messages(messages) =
            parse_body(&Value::Array(vec![callback]).to_string()).unwrap()
        else {
            panic!("expected messages")
        };
        assert_eq!(
            messages[0].provider_time,
            Some(Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap())
        );
    }

    #[test]
    fn parse_errors_name_the_field() {
        let with = |edit: &dyn Fn(&mut Value)| {
            let mut second = received("m-2", "+14155550147", "STOP");
            edit(&mut second);
            Value::Array(vec![received("m-1", "+14155550146", "STOP"), second]).to_string()
        };
        let cases: Vec<(String, &str)> = vec![
            ("not json".into(), "body"),
            ("\"STOP\"".into(), "body"),
            ("[]".into(), "body"),
            ("[1]".into(), "[0]"),
            (with(&|c| c["type"] = Value::Null), "[1].type"),
            (with(&|c| c["type"] = Value::from(3)), "[1].type"),
            (with(&|c| c["message"] = Value::Null), "[1].message"),
            (
                with(&|c| c["message"]["id"] = Value::from("")),
                "[1].message.id",
            ),
            (
                with(&|c| c["message"]["id"] = Value::from(7)),
                "[1].message.id",
            ),
            (
                with(&|c| c["message"]["from"] = Value::Null),
                "[1].message.from",
            ),
            (
                with(&|c| {
                    c["to"] = Value::Null;
                    c["message"]["owner"] = Value::Null;
                }),
                "[1].to",
            ),
            (with(&|c| c["to"] = Value::from(1)), "[1].to"),
            (
                with(&|c| c["message"]["text"] = Value::from(false)),
                "[1].message.text",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(malformed_field(parse_body(&body)), field, "{body}");
        }
    }

    #[test]
    fn replies_are_empty() {
        for text in [None, Some("You are unsubscribed.")] {
            let answer = reply(text);
            assert_eq!(
                (answer.content_type.as_str(), answer.body.as_str()),
                ("text/plain", "")
            );
        }
    }
}
