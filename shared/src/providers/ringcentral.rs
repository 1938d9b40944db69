//! RingCentral webhook notifications: the subscription's validation handshake, the static
//! verification token, inbound SMS from the message store and High Volume (A2P) SMS opt-out
//! events. Pure.
//!
//! RingCentral signs nothing. A subscription created with `deliveryMode.verificationToken`
//! makes RingCentral send that string in a `Verification-Token` header on every notification;
//! an older guide calls it `validationToken` and shows it in a `Validation-Token` header, so
//! events are checked against whichever of the two arrives (Verification-Token first). The
//! token is a shared secret, compared in constant time against every configured value.
//!
//! Creating a subscription sends one request of a different kind: a `Validation-Token` header
//! holding a one-off value RingCentral generated, and no body. The subscription exists only if
//! that header comes back in a 200. RingCentral's guides promise the verification token on
//! notifications, not on this request, so [`verify`] lets it through when it carries no
//! `Verification-Token` (and checks it when it does). That is safe because of what the request
//! can do: [`parse`] turns it into a [`Parsed::Handshake`] that echoes the caller's own header
//! back and records nothing; a body, which is what could reach the ledger, makes it an event
//! and needs the token. The handshake is refused while no `verification_token` is configured,
//! so a subscription cannot be created towards a tenant that would then reject every event.
//!
//! See docs/providers.md, "RingCentral", and RingCentral's guides "Creating Webhooks" and
//! "Receiving Webhooks" (developers.ringcentral.com/guide/notifications/webhooks).

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::common::{
    bad_signature, check_body_size, empty_reply, json_object_body, non_blank_string, rfc3339,
    secret_matches, within,
};
use super::{
    Handshake, InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError,
    WebhookRequest,
};
use crate::keywords::Intent;

/// The secret names `stopgate provider set <tenant> ringcentral` accepts.
/// `verification_token` proves webhooks; `client_id`, `client_secret` and `jwt` (a JWT
/// credential) let reconciliation read the High Volume opt-out list.
pub const SECRET_NAMES: &[&str] = &["verification_token", "client_id", "client_secret", "jwt"];

const VERIFICATION_HEADER: &str = "verification-token";
const VALIDATION_HEADER: &str = "validation-token";
/// How the echoed header is spelled in RingCentral's guides (HTTP names are case-insensitive).
const VALIDATION_HEADER_REPLY: &str = "Validation-Token";

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "a RingCentral notification";

/// RingCentral refuses a handshake answer over 1024 bytes, headers included; a token this long
/// is not one RingCentral generated.
const MAX_VALIDATION_TOKEN_BYTES: usize = 512;

/// Checks that RingCentral sent `req`: the creation handshake, or a notification carrying a
/// configured verification token.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    _now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let tokens = secrets.get("verification_token");
    if tokens.is_empty() {
        return Err(bad_signature(
            "no verification_token is configured; set the subscription's \
             deliveryMode.verificationToken with `stopgate provider set`",
        ));
    }
    let verification = req.header(VERIFICATION_HEADER);
    if is_handshake(req) {
        return match verification {
            None => Ok(()),
            Some(token) => check_token(token, &tokens, "Verification-Token"),
        };
    }
    match (verification, req.header(VALIDATION_HEADER)) {
        (Some(token), _) => check_token(token, &tokens, "Verification-Token"),
        (None, Some(token)) => check_token(token, &tokens, "Validation-Token"),
        (None, None) => Err(bad_signature(
            "missing Verification-Token (the subscription needs deliveryMode.verificationToken)",
        )),
    }
}

/// Reads a verified request: the handshake to answer, an inbound SMS, an A2P opt-out or
/// opt-in, or a notification with nothing to record.
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    if is_handshake(req) {
        return handshake(req);
    }
    let value = json_object_body(req.body)?;
    let event = non_blank_string(&value, "event")?
        .ok_or_else(|| WebhookError::malformed("event", "missing"))?;
    // `/restapi/v1.0/account/123/extension/456/message-store/instant?type=SMS`: the ids vary,
    // the resource at the end does not.
    let resource = event.split('?').next().unwrap_or_default();
    if resource.ends_with("/message-store/instant") {
        instant_sms(&value)
    } else if resource.ends_with("/a2p-sms/opt-outs") {
        a2p_opt_out(&value)
    } else {
        Ok(Parsed::Ignored(
            "RingCentral notification that is neither an inbound SMS nor an opt-out".into(),
        ))
    }
}

/// RingCentral only needs a 200; it cannot send an SMS back from the webhook response.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    empty_reply()
}

/// The subscription-creation request: a `Validation-Token` header and nothing else to read.
fn is_handshake(req: &WebhookRequest) -> bool {
    req.headers.contains_key(VALIDATION_HEADER) && req.body.trim_ascii().is_empty()
}

fn check_token(presented: &str, configured: &[&str], header: &str) -> Result<(), WebhookError> {
    if bool::from(secret_matches(presented.as_bytes(), configured)) {
        Ok(())
    } else {
        Err(bad_signature(&format!(
            "{header} matches no configured verification_token"
        )))
    }
}

fn handshake(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    let token = req
        .header(VALIDATION_HEADER)
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| WebhookError::malformed("Validation-Token", "empty or not text"))?;
    if token.len() > MAX_VALIDATION_TOKEN_BYTES {
        return Err(WebhookError::malformed(
            "Validation-Token",
            format!("longer than {MAX_VALIDATION_TOKEN_BYTES} bytes"),
        ));
    }
    Ok(Parsed::Handshake(Handshake {
        headers: vec![(VALIDATION_HEADER_REPLY.to_string(), token.to_string())],
        reply: reply(None),
        confirm_url: None,
    }))
}

/// `/message-store/instant?type=SMS`: one inbound SMS in `body`.
fn instant_sms(value: &Value) -> Result<Parsed, WebhookError> {
    let body = object(value, "body")?;
    if let Some(kind) = non_blank_string(body, "type").map_err(prefixed)?
        && !kind.eq_ignore_ascii_case("SMS")
    {
        return Ok(Parsed::Ignored(format!(
            "RingCentral message-store event of type {kind}"
        )));
    }
    if let Some(direction) = non_blank_string(body, "direction").map_err(prefixed)?
        && !direction.eq_ignore_ascii_case("Inbound")
    {
        return Ok(Parsed::Ignored(
            "RingCentral message-store event for an outbound message".into(),
        ));
    }
    // The message id is stable across redeliveries and across subscriptions that both carry
    // the message; the envelope's uuid names one notification, so it is only the fallback.
    let message_id = match id(body, "id").map_err(prefixed)? {
        Some(id) => id,
        None => non_blank_string(value, "uuid")?.ok_or_else(|| {
            WebhookError::malformed("body.id", "missing (and no uuid to fall back on)")
        })?,
    };
    let from = object(body, "from")
        .map_err(prefixed)
        .and_then(|from| non_blank_string(from, "phoneNumber").map_err(|e| within("body.from", e)))?
        .ok_or_else(|| WebhookError::malformed("body.from.phoneNumber", "missing"))?;
    let to = match body.get("to") {
        Some(Value::Array(recipients)) => match recipients.first() {
            Some(first) => {
                non_blank_string(first, "phoneNumber").map_err(|e| within("body.to[0]", e))?
            }
            None => None,
        },
        None | Some(Value::Null) => None,
        Some(_) => return Err(WebhookError::malformed("body.to", "must be a list")),
    }
    .ok_or_else(|| WebhookError::malformed("body.to[0].phoneNumber", "missing"))?;
    let text = non_blank_string(body, "subject")
        .map_err(prefixed)?
        .unwrap_or_default();
    let provider_time = time(body, "creationTime").map_err(prefixed)?;
    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Ringcentral.to_string(),
        message_id,
        from,
        to,
        text,
        messaging_service: None,
        provider_time,
        provider_verdict: None,
        provider_intent: None,
    }]))
}

/// `/a2p-sms/opt-outs`: RingCentral's own opt-out service changed state for a pair.
///
/// `body.from` is the business number the messages are sent from and `body.to` the person
/// they are sent to, as in the opt-out records (`GET /a2p-sms/opt-outs`, where `from` is the
/// sender and may be `*`); `active: true` means the opt-out is in force, `false` that the
/// person opted back in (RingCentral's "Batch Message Opt-Out Event" page: "Indicates if
/// opt-out service is active or not from/to the number specified").
fn a2p_opt_out(value: &Value) -> Result<Parsed, WebhookError> {
    let body = object(value, "body")?;
    let business = non_blank_string(body, "from")
        .map_err(prefixed)?
        .ok_or_else(|| WebhookError::malformed("body.from", "missing"))?;
    let person = non_blank_string(body, "to")
        .map_err(prefixed)?
        .ok_or_else(|| WebhookError::malformed("body.to", "missing"))?;
    let active = match body.get("active") {
        Some(Value::Bool(active)) => *active,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => true,
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => false,
        Some(_) => return Err(WebhookError::malformed("body.active", "must be a boolean")),
        None => return Err(WebhookError::malformed("body.active", "missing")),
    };
    // The body names no message: the notification's uuid is the only id there is.
    let message_id = non_blank_string(value, "uuid")?
        .ok_or_else(|| WebhookError::malformed("uuid", "missing"))?;
    let (intent, verdict) = if active {
        (Intent::OptOut, "optout")
    } else {
        (Intent::OptIn, "optin")
    };
    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Ringcentral.to_string(),
        message_id,
        from: person,
        to: business,
        text: String::new(),
        messaging_service: None,
        provider_time: time(value, "timestamp")?,
        // RingCentral's own status names for the record (`status=optout|optin`).
        provider_verdict: Some(verdict.to_string()),
        provider_intent: Some(intent),
    }]))
}

fn object<'a>(value: &'a Value, name: &str) -> Result<&'a Value, WebhookError> {
    match value.get(name) {
        Some(v) if v.is_object() => Ok(v),
        None | Some(Value::Null) => Err(WebhookError::malformed(name, "missing")),
        Some(_) => Err(WebhookError::malformed(name, "must be an object")),
    }
}

/// Message-store ids are strings in notifications but numbers in message-store listings.
fn id(value: &Value, name: &str) -> Result<Option<String>, WebhookError> {
    match value.get(name) {
        Some(Value::Number(n)) => Ok(Some(n.to_string())),
        _ => non_blank_string(value, name),
    }
}

fn time(value: &Value, name: &str) -> Result<Option<DateTime<Utc>>, WebhookError> {
    rfc3339(value, name, "not an ISO 8601 date-time")
}

/// Names a field of `body` by its path, so a 400 says where to look.
fn prefixed(e: WebhookError) -> WebhookError {
    within("body", e)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{
        headers, malformed_field, one_message, rejection, request,
    };

    const TOKEN: &str = "rc-verification-token-0123456789";

    fn post<'a>(headers: &'a http::HeaderMap, body: &'a [u8]) -> WebhookRequest<'a> {
        request(
            "POST",
            "https://api.stopgate.example/v1/webhooks/ringcentral/acme",
            headers,
            body,
        )
    }

    fn secrets(tokens: &[&str]) -> ProviderSecrets {
        ProviderSecrets::from_pairs(tokens.iter().map(|t| ("verification_token", *t)))
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()
    }

    /// RingCentral's own sample of the instant SMS notification (ringcentral/ringcentral-api-docs
    /// `code-samples/events/instant-message.json`), with the sample's trailing comma after
    /// `"location"` removed: as published it is not valid JSON. No signature vector exists:
    /// RingCentral signs nothing.
    const INSTANT_SMS: &str = r#"{
        "uuid":"ed1cf00c-0420-4bf5-a0ae-e659bb9f77e0",
        "event": "/restapi/v1.0/account/~/extension/823476228762/message-store/instant?type=SMS",
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "timestamp": "2013-06-14T12:00:00.000Z",
        "body": {
               "id" : "606090030016",
               "to" : [ {
                  "phoneNumber" : "+16508974563",
                  "location" : "Moss Beach, CA"
               } ],
               "from" : {
                  "phoneNumber" : "+14157809227",
                  "name" : "John Smith"
               },
               "type" : "SMS",
               "creationTime" : "2016-02-22T17:01:00.000Z",
               "lastModifiedTime" : "2016-02-22T17:01:00.000Z",
               "readStatus" : "Unread",
               "priority" : "Normal",
               "attachments" : [ {
                 "uri" : "/restapi/v1.0/account/~/extension/823476228762/message-store/2640223004/content/2640223004",
                 "id" : "606090030016",
                 "type" : "Text",
                 "contentType" : "text/plain",
                 "size": 4096
                 } ],
               "direction" : "Inbound",
               "availability" : "Alive",
               "subject" : "Hi there",
               "messageStatus" : "Received",
               "conversationId" : "7876416245344257449"
            }
    }"#;

    /// RingCentral's sample of the A2P opt-out notification (ringcentral/ringcentral-api-docs
    /// `code-samples/events/batch-message-optout.json`), verbatim.
    const A2P_OPT_OUT: &str = r#"{
      "uuid":"12345678901234567890",
      "event":"/restapi/v1.0/account/11111111/a2p-sms/opt-outs",
      "timestamp":"2020-10-01T00:00:00.000Z",
      "subscriptionId":"11112222-3333-4444-5555-666677778888",
      "ownerId": "22222222",
      "body":{
         "from":"+16505550100",
         "to":"+12125550100",
         "active":true
      }
    }"#;

    #[test]
    fn a_notification_with_the_token_is_accepted() {
        let h = headers(&[("verification-token", TOKEN)]);
        let req = post(&h, INSTANT_SMS.as_bytes());
        assert_eq!(verify(&req, &secrets(&[TOKEN]), now()), Ok(()));
        // The older guide's header name carries the same token.
        let h = headers(&[("validation-token", TOKEN)]);
        let req = post(&h, INSTANT_SMS.as_bytes());
        assert_eq!(verify(&req, &secrets(&[TOKEN]), now()), Ok(()));
    }

    #[test]
    fn forged_unsigned_and_wrong_tokens_are_rejected() {
        let body = INSTANT_SMS.as_bytes();
        let none = headers(&[]);
        let reason = rejection(verify(&post(&none, body), &secrets(&[TOKEN]), now()));
        assert!(reason.starts_with("missing Verification-Token"), "{reason}");

        for forged in ["forged", "", TOKEN.to_uppercase().as_str(), &TOKEN[1..]] {
            let h = headers(&[("verification-token", forged)]);
            let reason = rejection(verify(&post(&h, body), &secrets(&[TOKEN]), now()));
            assert_eq!(
                reason, "Verification-Token matches no configured verification_token",
                "{forged:?}"
            );
        }
        // The right token in the old header does not rescue a wrong one in the new header.
        let h = headers(&[
            ("verification-token", "forged"),
            ("validation-token", TOKEN),
        ]);
        rejection(verify(&post(&h, body), &secrets(&[TOKEN]), now()));

        let h = headers(&[("verification-token", TOKEN)]);
        let reason = rejection(verify(&post(&h, body), &secrets(&["other-token"]), now()));
        assert!(!reason.contains(TOKEN) && !reason.contains("other-token"));
        for empty in [&[][..], &[""][..]] {
            let reason = rejection(verify(&post(&h, body), &secrets(empty), now()));
            assert!(reason.starts_with("no verification_token is configured"));
        }
    }

    #[test]
    fn a_rotated_token_is_accepted() {
        let h = headers(&[("verification-token", TOKEN)]);
        let req = post(&h, INSTANT_SMS.as_bytes());
        assert_eq!(verify(&req, &secrets(&["new-token", TOKEN]), now()), Ok(()));
        assert_eq!(verify(&req, &secrets(&[TOKEN, "old-token"]), now()), Ok(()));
    }

    #[test]
    fn the_creation_handshake_passes_and_echoes_the_header() {
        // What RingCentral sends when a subscription is created: its own one-off value and no
        // body (docs/providers.md).
        let h = headers(&[("validation-token", "a1b2c3-one-off")]);
        for body in [&b""[..], b"  \n"] {
            let req = post(&h, body);
            assert_eq!(verify(&req, &secrets(&[TOKEN]), now()), Ok(()));
            let Ok(Parsed::Handshake(handshake)) = parse(&req) else {
                panic!("expected a handshake");
            };
            assert_eq!(
                handshake.headers,
                vec![("Validation-Token".to_string(), "a1b2c3-one-off".to_string())]
            );
            assert_eq!(handshake.reply, reply(None));
            assert_eq!(handshake.confirm_url, None);
        }
        // A verification token on the handshake is checked like any other.
        let h = headers(&[
            ("validation-token", "a1b2c3-one-off"),
            ("verification-token", "forged"),
        ]);
        rejection(verify(&post(&h, b""), &secrets(&[TOKEN]), now()));
        // No tenant token: the subscription must fail to be created, not fail every event.
        let h = headers(&[("validation-token", "a1b2c3-one-off")]);
        rejection(verify(&post(&h, b""), &secrets(&[]), now()));
        // A body makes it an event, which the one-off value does not authenticate.
        let reason = rejection(verify(
            &post(&h, A2P_OPT_OUT.as_bytes()),
            &secrets(&[TOKEN]),
            now(),
        ));
        assert_eq!(
            reason,
            "Validation-Token matches no configured verification_token"
        );
    }

    #[test]
    fn odd_handshake_tokens_are_malformed() {
        let long = "x".repeat(MAX_VALIDATION_TOKEN_BYTES + 1);
        let h = headers(&[("validation-token", &long)]);
        assert_eq!(malformed_field(parse(&post(&h, b""))), "Validation-Token");
        let h = headers(&[("validation-token", " ")]);
        assert_eq!(malformed_field(parse(&post(&h, b""))), "Validation-Token");
    }

    #[test]
    fn parses_the_sample_instant_sms() {
        let h = headers(&[("verification-token", TOKEN)]);
        let message = one_message(parse(&post(&h, INSTANT_SMS.as_bytes())).unwrap());
        assert_eq!(
            message,
            InboundMessage {
                provider: Provider::Ringcentral.to_string(),
                message_id: "606090030016".into(),
                from: "+14157809227".into(),
                to: "+16508974563".into(),
                text: "Hi there".into(),
                messaging_service: None,
                provider_time: Some(Utc.with_ymd_and_hms(2016, 2, 22, 17, 1, 0).unwrap()),
                provider_verdict: None,
                provider_intent: None,
            }
        );
    }

    fn with_body(body: Value) -> String {
        let mut event: Value = serde_json::from_str(INSTANT_SMS).unwrap();
        event["body"] = body;
        event.to_string()
    }

    fn parse_json(json: &str) -> Result<Parsed, WebhookError> {
        let h = headers(&[("verification-token", TOKEN)]);
        parse(&post(&h, json.as_bytes()))
    }

    #[test]
    fn instant_sms_fallbacks() {
        let sample: Value = serde_json::from_str(INSTANT_SMS).unwrap();
        let mut body = sample["body"].clone();
        body["id"] = serde_json::json!(606090030017u64);
        body.as_object_mut().unwrap().remove("subject");
        body.as_object_mut().unwrap().remove("creationTime");
        let message = one_message(parse_json(&with_body(body.clone())).unwrap());
        assert_eq!(message.message_id, "606090030017");
        assert_eq!(message.text, "");
        assert_eq!(message.provider_time, None);

        body.as_object_mut().unwrap().remove("id");
        let message = one_message(parse_json(&with_body(body)).unwrap());
        assert_eq!(message.message_id, "ed1cf00c-0420-4bf5-a0ae-e659bb9f77e0");
    }

    #[test]
    fn instant_sms_errors_name_the_field() {
        let sample: Value = serde_json::from_str(INSTANT_SMS).unwrap();
        let body = sample["body"].clone();
        let edit = |f: &dyn Fn(&mut Value)| {
            let mut b = body.clone();
            f(&mut b);
            with_body(b)
        };
        let cases = [
            (edit(&|b| b["from"] = Value::Null), "body.from"),
            (
                edit(&|b| b["from"]["phoneNumber"] = Value::Null),
                "body.from.phoneNumber",
            ),
            (
                edit(&|b| b["from"]["phoneNumber"] = 1.into()),
                "body.from.phoneNumber",
            ),
            (
                edit(&|b| b["to"] = serde_json::json!([])),
                "body.to[0].phoneNumber",
            ),
            (edit(&|b| b["to"] = "x".into()), "body.to"),
            (edit(&|b| b["subject"] = 5.into()), "body.subject"),
            (
                edit(&|b| b["creationTime"] = "yesterday".into()),
                "body.creationTime",
            ),
        ];
        for (json, field) in cases {
            assert_eq!(malformed_field(parse_json(&json)), field, "{json}");
        }
        let mut no_ids = body.clone();
        no_ids.as_object_mut().unwrap().remove("id");
        let mut event: Value = serde_json::from_str(&with_body(no_ids)).unwrap();
        event.as_object_mut().unwrap().remove("uuid");
        assert_eq!(malformed_field(parse_json(&event.to_string())), "body.id");

        for (json, field) in [
            ("not json", "body"),
            ("[]", "body"),
            (r#"{"body":{}}"#, "event"),
            (
                r#"{"event":"/restapi/v1.0/account/~/extension/1/message-store/instant?type=SMS"}"#,
                "body",
            ),
        ] {
            assert_eq!(malformed_field(parse_json(json)), field, "{json}");
        }
    }

    #[test]
    fn other_notifications_are_ignored() {
        // RingCentral's fax sample (ringcentral/ringcentral-api-docs
        // `code-samples/events/fax-message.json`), trimmed.
        let fax = r#"{"uuid":"ed1cf00c-0420-4bf5-a0ae-e659bb9f77e0",
            "event":"/restapi/v1.0/account/~/extension/823476228762/fax?direction=Inbound",
            "body":{"id":"404068973008","from":{"phoneNumber":"+14029997777"},"type":"Fax",
            "direction":"Inbound","subject":"+17015402626"}}"#;
        let sample: Value = serde_json::from_str(INSTANT_SMS).unwrap();
        let mut outbound = sample["body"].clone();
        outbound["direction"] = "Outbound".into();
        let mut pager = sample["body"].clone();
        pager["type"] = "Pager".into();
        for json in [fax.to_string(), with_body(outbound), with_body(pager)] {
            assert!(
                matches!(parse_json(&json), Ok(Parsed::Ignored(_))),
                "{json}"
            );
        }
    }

    #[test]
    fn a2p_opt_outs_and_opt_ins_carry_the_providers_intent() {
        let message = one_message(parse_json(A2P_OPT_OUT).unwrap());
        assert_eq!(
            message,
            InboundMessage {
                provider: Provider::Ringcentral.to_string(),
                message_id: "12345678901234567890".into(),
                from: "+12125550100".into(),
                to: "+16505550100".into(),
                text: String::new(),
                messaging_service: None,
                provider_time: Some(Utc.with_ymd_and_hms(2020, 10, 1, 0, 0, 0).unwrap()),
                provider_verdict: Some("optout".into()),
                provider_intent: Some(Intent::OptOut),
            }
        );

        let opt_in = A2P_OPT_OUT
            .replace("\"active\":true", "\"active\":false")
            .replace("12345678901234567890", "12345678901234567891");
        let message = one_message(parse_json(&opt_in).unwrap());
        assert_eq!(message.provider_intent, Some(Intent::OptIn));
        assert_eq!(message.provider_verdict.as_deref(), Some("optin"));
        assert_eq!(message.message_id, "12345678901234567891");

        for (edit, field) in [
            (
                A2P_OPT_OUT.replace("\"active\":true", "\"active\":1"),
                "body.active",
            ),
            (
                A2P_OPT_OUT.replace(",\n         \"active\":true", ""),
                "body.active",
            ),
            (
                A2P_OPT_OUT.replace("\"to\":\"+12125550100\",", ""),
                "body.to",
            ),
            (
                A2P_OPT_OUT.replace("\"from\":\"+16505550100\",", ""),
                "body.from",
            ),
            (
                A2P_OPT_OUT.replace("\"uuid\":\"12345678901234567890\",", ""),
                "uuid",
            ),
        ] {
            assert_eq!(malformed_field(parse_json(&edit)), field, "{edit}");
        }
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = headers(&[("verification-token", TOKEN)]);
        let too_big = vec![b' '; MAX_BODY_BYTES + 1];
        let err = verify(&post(&h, &too_big), &secrets(&[TOKEN]), now()).unwrap_err();
        assert!(matches!(err, WebhookError::Malformed { ref field, .. } if field == "body"));
        assert_eq!(malformed_field(parse(&post(&h, &too_big))), "body");
    }

    #[test]
    fn replies_are_empty() {
        assert_eq!(reply(Some("You're unsubscribed")).body, "");
        assert_eq!(reply(None).content_type, "text/plain");
    }
}
