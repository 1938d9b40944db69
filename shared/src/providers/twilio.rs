//! Twilio Programmable Messaging inbound webhook: signature, message, TwiML reply. Pure.
//!
//! Twilio signs `X-Twilio-Signature = base64(HMAC(secret, url + params))`, where `url` is the
//! full webhook URL (query included, original encoding kept) and `params` is every POST form
//! parameter as `name + value`, names in byte order and the values of a repeated name sorted.
//! JSON bodies are bound by a `bodySHA256` query parameter instead of by `params`, and GET
//! webhooks carry everything in the already-signed query. The secret and hash are the account's
//! Auth Token with SHA-1, or, when a Webhooks rule applies (header
//! `X-Twilio-Webhooks-Signature-Settings`), the rule's shared key with the algorithm it names.
//! See docs/providers.md, "Twilio", and Twilio's SDK validators (twilio-python
//! `twilio/request_validator.py`, twilio-node `src/webhooks/webhooks.ts`).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::Hmac;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::common::{
    bad_signature, check_body_size, form_pairs, form_value, hmac_with, is_json, json_body,
    optional_string, query, xml_escape,
};
use super::{InboundMessage, Provider, ProviderReply, WebhookError, WebhookRequest};

const SIGNATURE_HEADER: &str = "x-twilio-signature";
const SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "an SMS webhook";

const INBOUND_EVENT_TYPE: &str = "com.twilio.messaging.inbound-message.received";

const XML_DECLARATION: &str = r#"<?xml version="1.0" encoding="UTF-8"?>"#;

/// Checks that Twilio sent `req`.
///
/// Secrets: `auth_tokens` are the account's Auth Token (up to two while rotating);
/// `webhook_keys` are Webhooks shared keys, used only when Twilio says it signed with one.
pub fn verify(
    req: &WebhookRequest,
    auth_tokens: &[&str],
    webhook_keys: &[&str],
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let signature = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| bad_signature("missing X-Twilio-Signature"))?;
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| bad_signature("X-Twilio-Signature is not base64"))?;

    let settings = req.header(SETTINGS_HEADER);
    let (algorithm, secrets, secret_name) = match settings {
        None => (Algorithm::Sha1, auth_tokens, "auth_token"),
        Some(settings) => (
            Algorithm::from_settings(settings)?,
            webhook_keys,
            "webhook_key",
        ),
    };
    // An empty key is a key anyone can sign with.
    let secrets: Vec<&[u8]> = secrets
        .iter()
        .filter(|s| !s.is_empty())
        .map(|s| s.as_bytes())
        .collect();
    if secrets.is_empty() {
        let why = if settings.is_some() {
            " (the request says a Webhooks shared key signed it)"
        } else {
            ""
        };
        return Err(bad_signature(&format!(
            "no {secret_name} is configured{why}"
        )));
    }

    // What binds the body to the signature: the form parameters themselves, nothing for a
    // GET (its parameters are in the signed URL), or for JSON the hash carried in the URL.
    let (signed_params, claimed_body_hash) = match body_kind(req) {
        BodyKind::Form => (form_signing_string(req.body), None),
        BodyKind::Query => (String::new(), None),
        BodyKind::Json => {
            let hash = query_param(req.url, "bodySHA256").ok_or_else(|| {
                bad_signature("JSON body but the URL has no bodySHA256 parameter")
            })?;
            (String::new(), Some(hash))
        }
    };

    let matched = url_variants(req.url).iter().any(|url| {
        secrets.iter().any(|secret| {
            let expected = algorithm.mac(secret, &[url.as_bytes(), signed_params.as_bytes()]);
            bool::from(expected.ct_eq(&signature))
        })
    });
    if !matched {
        return Err(bad_signature(&format!(
            "no configured {secret_name} matched ({}, URL with and without its port); check \
             that PUBLIC_BASE_URL is the URL configured in Twilio",
            algorithm.name()
        )));
    }

    match claimed_body_hash {
        Some(claimed) => check_body_hash(&claimed, req.body),
        None => Ok(()),
    }
}

/// Reads the inbound message from a verified request.
pub fn parse(req: &WebhookRequest) -> Result<InboundMessage, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    match body_kind(req) {
        BodyKind::Form => form_message(&form_pairs(req.body)),
        BodyKind::Query => form_message(&form_pairs(query(req.url).as_bytes())),
        BodyKind::Json => json_message(req.body),
    }
}

/// The TwiML answer: an empty `<Response/>`, or one SMS back to the sender.
pub fn reply(message: Option<&str>) -> ProviderReply {
    // Twilio rejects an empty <Message> (error 14103), so empty text means no reply.
    let body = match message.filter(|text| !text.is_empty()) {
        None => format!("{XML_DECLARATION}<Response/>"),
        Some(text) => {
            format!(
                "{XML_DECLARATION}<Response><Message>{}</Message></Response>",
                xml_escape(text)
            )
        }
    };
    ProviderReply {
        content_type: "text/xml".to_string(),
        body,
    }
}

/// The `X-Twilio-Signature` Twilio sends for a form POST of `form_body` to `url`, signed with
/// the Auth Token: what local examples and tests send.
pub fn sign(auth_token: &str, url: &str, form_body: &[u8]) -> String {
    let params = form_signing_string(form_body);
    BASE64.encode(Algorithm::Sha1.mac(auth_token.as_bytes(), &[url.as_bytes(), params.as_bytes()]))
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Algorithm {
    Sha1,
    Sha256,
}

impl Algorithm {
    /// Reads `key=<id>,algorithm=<name>`; the key id is not needed because every configured
    /// webhook key is tried.
    fn from_settings(settings: &str) -> Result<Algorithm, WebhookError> {
        let algorithm = settings
            .split(',')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| name.trim().eq_ignore_ascii_case("algorithm"))
            .map(|(_, value)| value.trim());
        match algorithm {
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA256") => Ok(Algorithm::Sha256),
            Some(a) if a.eq_ignore_ascii_case("HMAC_SHA1") => Ok(Algorithm::Sha1),
            Some(_) => Err(bad_signature(
                "unsupported algorithm in X-Twilio-Webhooks-Signature-Settings",
            )),
            None => Err(bad_signature(
                "X-Twilio-Webhooks-Signature-Settings has no algorithm",
            )),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "HMAC_SHA1",
            Algorithm::Sha256 => "HMAC_SHA256",
        }
    }

    fn mac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        match self {
            Algorithm::Sha1 => hmac_with::<Hmac<Sha1>>(key, parts),
            Algorithm::Sha256 => hmac_with::<Hmac<Sha256>>(key, parts),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BodyKind {
    /// POST `application/x-www-form-urlencoded`: the usual SMS webhook.
    Form,
    /// GET: the parameters are in the URL's query string, which is signed with the URL.
    Query,
    /// `application/json`, bound to the signature by `bodySHA256` in the URL.
    Json,
}

fn body_kind(req: &WebhookRequest) -> BodyKind {
    if is_json(req) {
        BodyKind::Json
    } else if req.method.eq_ignore_ascii_case("GET") {
        BodyKind::Query
    } else {
        BodyKind::Form
    }
}

/// `name + value` for every parameter: names in byte order, a repeated name once per
/// distinct value with its values sorted. Identical repeated pairs count once, as in every
/// Twilio SDK (twilio-php's test sends `Digits` = 5678, 1234, 1234 and expects the same
/// signature as for 5678, 1234).
fn form_signing_string(body: &[u8]) -> String {
    let mut pairs = form_pairs(body);
    pairs.sort();
    pairs.dedup();
    pairs
        .into_iter()
        .map(|(name, value)| name + &value)
        .collect()
}

fn query_param(url: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query(url).as_bytes())
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// The URL as Twilio may have signed it. Twilio has not been consistent about ports, so
/// every SDK accepts the URL with its port removed and with the scheme's default port added
/// (or, when a port is present, as received).
fn url_variants(url: &str) -> Vec<Cow<'_, str>> {
    let Some(authority) = Authority::find(url) else {
        return vec![Cow::Borrowed(url)];
    };
    let (host_end, port_end) = (authority.host_end, authority.port_end);
    if host_end < port_end {
        let without_port = format!("{}{}", &url[..host_end], &url[port_end..]);
        return vec![Cow::Owned(without_port), Cow::Borrowed(url)];
    }
    let default_port = match authority.scheme.to_ascii_lowercase().as_str() {
        "https" => "443",
        "http" => "80",
        _ => return vec![Cow::Borrowed(url)],
    };
    let with_port = format!("{}:{default_port}{}", &url[..host_end], &url[host_end..]);
    vec![Cow::Borrowed(url), Cow::Owned(with_port)]
}

/// Where the parts of `scheme://[user[:pass]@]host[:port][/path][?query]` are, found by hand
/// because `url::Url` would re-serialise the URL and Twilio signs it exactly as configured.
struct Authority<'a> {
    scheme: &'a str,
    /// Byte offset just after the host.
    host_end: usize,
    /// Byte offset just after `:port`; equal to `host_end` when there is no port.
    port_end: usize,
}

impl<'a> Authority<'a> {
    fn find(url: &'a str) -> Option<Authority<'a>> {
        let scheme_end = url.find("://")?;
        let start = scheme_end + 3;
        let end = url[start..]
            .find(['/', '?', '#'])
            .map_or(url.len(), |i| start + i);
        let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
        let host_and_port = &url[host_start..end];
        let host_end = match host_and_port.rfind(':') {
            // A colon inside `[...]` belongs to an IPv6 address, not to a port.
            Some(i) if !host_and_port[i..].contains(']') => host_start + i,
            _ => end,
        };
        Some(Authority {
            scheme: &url[..scheme_end],
            host_end,
            port_end: end,
        })
    }
}

fn check_body_hash(claimed_hex: &str, body: &[u8]) -> Result<(), WebhookError> {
    let claimed = hex::decode(claimed_hex)
        .map_err(|_| bad_signature("bodySHA256 is not a hex SHA-256 digest"))?;
    let actual = Sha256::digest(body);
    if bool::from(actual.as_slice().ct_eq(&claimed)) {
        Ok(())
    } else {
        Err(bad_signature("bodySHA256 does not match body"))
    }
}

fn form_message(pairs: &[(String, String)]) -> Result<InboundMessage, WebhookError> {
    let get = |name: &str| form_value(pairs, name);
    let message_id = get("MessageSid")
        .or_else(|| get("SmsMessageSid"))
        .or_else(|| get("SmsSid"));
    Ok(InboundMessage {
        provider: Provider::Twilio.to_string(),
        message_id: required(message_id, "MessageSid")?,
        from: required(get("From"), "From")?,
        to: required(get("To"), "To")?,
        text: get("Body").unwrap_or_default(),
        messaging_service: get("MessagingServiceSid"),
        provider_time: None,
        provider_verdict: get("OptOutType"),
        provider_intent: None,
    })
}

/// An Event Streams `inbound-message.received` event: the CloudEvent (alone or in a batch
/// of one) or just its `data` object.
fn json_message(body: &[u8]) -> Result<InboundMessage, WebhookError> {
    let event = match json_body(body)? {
        Value::Array(mut events) if events.len() == 1 => events.remove(0),
        Value::Array(events) => {
            return Err(WebhookError::malformed(
                "body",
                format!(
                    "{} events in one request; send one inbound message per request",
                    events.len()
                ),
            ));
        }
        other => other,
    };
    // Status events (delivered, failed...) also carry messageSid, from and to; taking one
    // for an inbound message would record our own sender as having texted us.
    if let Some(kind) = event.get("type").and_then(Value::as_str)
        && kind != INBOUND_EVENT_TYPE
    {
        return Err(WebhookError::malformed(
            "type",
            format!("expected {INBOUND_EVENT_TYPE}"),
        ));
    }
    let data = event.get("data").unwrap_or(&event);
    if !data.is_object() {
        return Err(WebhookError::malformed("body", "expected a JSON object"));
    }
    let get = |name: &str| optional_string(data, name, name);
    Ok(InboundMessage {
        provider: Provider::Twilio.to_string(),
        message_id: required(get("messageSid")?, "messageSid")?,
        from: required(get("from")?, "from")?,
        to: required(get("to")?, "to")?,
        text: get("body")?.unwrap_or_default(),
        messaging_service: get("messagingServiceSid")?,
        provider_time: None,
        provider_verdict: None,
        provider_intent: None,
    })
}

fn required(value: Option<String>, field: &str) -> Result<String, WebhookError> {
    super::common::required(
        value,
        field,
        "Twilio always sends it with an inbound message",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{form, headers, malformed_field, post, rejection};

    // The well-known vector in every Twilio SDK's tests: auth token, URL and parameters.
    // Sources: twilio/twilio-python tests/unit/test_request_validator.py,
    // twilio/twilio-ruby spec/security/request_validator_spec.rb,
    // twilio/twilio-java src/test/java/com/twilio/security/RequestValidatorTest.java,
    // twilio/twilio-go client/request_validator_test.go,
    // twilio/twilio-php tests/Twilio/Unit/RequestValidatorTest.php,
    // twilio/twilio-csharp test/Twilio.Test/Security/RequestValidatorTest.cs.
    const TOKEN: &str = "12345";
    const URL: &str = "https://mycompany.com/myapp.php?foo=1&bar=2";
    const PARAMS: [(&str, &str); 5] = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+14158675309"),
        ("Digits", "1234"),
        ("From", "+14158675309"),
        ("To", "+18005551212"),
    ];
    const SIGNATURE: &str = "RSOYDt4T1cUTdK1PDd93/VVr8B8=";

    // The JSON-body vector. Sources: twilio-python, twilio-ruby, twilio-java, twilio-go,
    // twilio-php (files as above).
    const JSON_BODY: &str = r#"{"property": "value", "boolean": true}"#;
    const JSON_BODY_SHA256: &str =
        "0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620";

    /// Signs a string spelled out by the test, so that the canonical form is checked against
    /// the spec rather than against the code under test.
    fn sign_string(algorithm: Algorithm, key: &str, data: &str) -> String {
        BASE64.encode(algorithm.mac(key.as_bytes(), &[data.as_bytes()]))
    }

    fn verify_form(
        url: &str,
        params: &[(&str, &str)],
        signature: &str,
    ) -> Result<(), WebhookError> {
        let headers = headers(&[
            ("x-twilio-signature", signature),
            ("content-type", "application/x-www-form-urlencoded"),
        ]);
        let body = form(params);
        verify(&post(url, &headers, &body), &[TOKEN], &[])
    }

    #[test]
    fn official_form_vectors() {
        let vectors = [
            // The base vector (all SDKs listed above).
            (URL, SIGNATURE),
            // https with a port: signed without it (python test_validation_removes_port_on_https,
            // ruby "should validate https urls with ports by stripping them", java
            // testValidateRemovesPortHttps, go, php testValidateRemovesPortHttps).
            (
                "https://mycompany.com:1234/myapp.php?foo=1&bar=2",
                SIGNATURE,
            ),
            // http with a port: signed with it (python test_validation_removes_port_on_http,
            // ruby, java, go, php).
            (
                "http://mycompany.com:1234/myapp.php?foo=1&bar=2",
                "Zmvh+3yNM1Phv2jhDCwEM3q5ebU=",
            ),
            // https without a port: signed with :443 (python test_validation_adds_port_on_https,
            // ruby, java, go, php).
            (URL, "kvajT1Ptam85bY51eRf/AJRuM3w="),
            // http without a port: signed with :80 (python test_validation_adds_port_on_http,
            // ruby, java, go, php).
            (
                "http://mycompany.com/myapp.php?foo=1&bar=2",
                "0ZXoZLH/DfblKGATFgpif+LLRf4=",
            ),
            // Credentials in the URL (ruby "should validate urls with credentials", php
            // testBuildUrlCreds), with just a user (ruby, php testBuildUrlWithUser), and with
            // :443 added (ruby, php testBuildUrlCredsAddsPort).
            (
                "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
                "CukzLTc1tT5dXEDIHm/tKBanW10=",
            ),
            (
                "https://user@mycompany.com/myapp.php?foo=1&bar=2",
                "2YRLlVAflCqxaNicjMpJcSTgzSs=",
            ),
            (
                "https://user:pass@mycompany.com/myapp.php?foo=1&bar=2",
                "ZQFR1PTIZXF2MXB8ZnKCvnnA+rI=",
            ),
        ];
        for (url, signature) in vectors {
            assert_eq!(
                verify_form(url, &PARAMS, signature),
                Ok(()),
                "{url} {signature}"
            );
        }
    }

    #[test]
    fn sign_reproduces_the_official_vector() {
        assert_eq!(sign(TOKEN, URL, &form(&PARAMS)), SIGNATURE);
        let body = form(&[("Body", "STOP"), ("From", "+14155550123")]);
        let h = headers(&[("x-twilio-signature", &sign(TOKEN, URL, &body))]);
        assert_eq!(verify(&post(URL, &h, &body), &[TOKEN], &[]), Ok(()));
    }

    #[test]
    fn official_repeated_parameter_vector() {
        // Source: twilio-python test_compute_signature_duplicate_multi_dict and
        // test_compute_signature_duplicate_query_dict; twilio-php
        // testValidateWithArrayAndDuplicates sends Digits = 5678, 1234, 1234 for the same
        // signature.
        let expected = "IK+Dwps556ElfBT0I3Rgjkr1wJU=";
        let params = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
        ];
        assert_eq!(verify_form(URL, &params, expected), Ok(()));
        let with_duplicate = [
            ("Sid", "CA123"),
            ("SidAccount", "AC123"),
            ("Digits", "5678"),
            ("Digits", "1234"),
            ("Digits", "1234"),
        ];
        assert_eq!(verify_form(URL, &with_duplicate, expected), Ok(()));
        assert_eq!(
            form_signing_string(&form(&params)),
            "Digits1234Digits5678SidCA123SidAccountAC123"
        );
    }

    #[test]
    fn official_json_vectors() {
        let headers_for = |signature: &str| {
            headers(&[
                ("x-twilio-signature", signature),
                ("content-type", "application/json; charset=utf-8"),
            ])
        };
        // Source: twilio-python test_validation_of_body_succeeds, twilio-ruby "should validate
        // requests with body correctly", twilio-java testValidateWithBody, twilio-go
        // ValidateBody, twilio-php testValidateWithBody.
        let url = format!("{URL}&bodySHA256={JSON_BODY_SHA256}");
        let h = headers_for("a9nBmqA0ju/hNViExpshrM61xv4=");
        assert_eq!(
            verify(&post(&url, &h, JSON_BODY.as_bytes()), &[TOKEN], &[]),
            Ok(())
        );

        // Source: twilio-ruby "should validate with no other GET parameters", twilio-java
        // testValidateWithNoOtherParameters, twilio-go "no other parameters".
        let url = format!("https://mycompany.com/myapp.php?bodySHA256={JSON_BODY_SHA256}");
        let h = headers_for("y77kIzt2vzLz71DgmJGsen2scGs=");
        assert_eq!(
            verify(&post(&url, &h, JSON_BODY.as_bytes()), &[TOKEN], &[]),
            Ok(())
        );

        // Source: twilio-ruby "should fail validation with body but no signature", twilio-java
        // testValidateBodyWithoutSignature, twilio-php testValidateBodyWithoutSignature.
        let h = headers_for(SIGNATURE);
        let reason = rejection(verify(&post(URL, &h, JSON_BODY.as_bytes()), &[TOKEN], &[]));
        assert!(reason.contains("no bodySHA256"), "{reason}");
    }

    #[test]
    fn official_body_hashes() {
        // Source: the SDK tests above (compute_hash / build_hash_for / validateBody).
        assert_eq!(
            check_body_hash(JSON_BODY_SHA256, JSON_BODY.as_bytes()),
            Ok(())
        );
        // Source: Twilio's JSON validation snippet, twilio-samples/api-snippets
        // security/signature_validation_json/signature_validation.5.x.js (its signature uses
        // an unpublished token, so only the hash is usable).
        let body = r#"{"CallSid":"CA1234567890ABCDE","Caller":"+12349013030"}"#;
        let hash = "5ccde7145dfb8f56479710896586cb9d5911809d83afbe34627818790db0aec9";
        assert_eq!(check_body_hash(hash, body.as_bytes()), Ok(()));
        assert_eq!(
            check_body_hash(&hash.to_uppercase(), body.as_bytes()),
            Ok(())
        );
    }

    #[test]
    fn json_body_tampered_after_signing_is_rejected() {
        let url = format!("{URL}&bodySHA256={JSON_BODY_SHA256}");
        let h = headers(&[
            ("x-twilio-signature", "a9nBmqA0ju/hNViExpshrM61xv4="),
            ("content-type", "application/json"),
        ]);
        let tampered = br#"{"property": "value", "boolean": false}"#;
        let reason = rejection(verify(&post(&url, &h, tampered), &[TOKEN], &[]));
        assert_eq!(reason, "bodySHA256 does not match body");
    }

    #[test]
    fn wrong_signatures_are_rejected() {
        let mut tampered = PARAMS;
        tampered[4] = ("To", "+18005551213");
        let mut extra = PARAMS.to_vec();
        extra.push(("Body", "STOP"));
        // What an attacker without the token can produce: the right string, the wrong key.
        let forged = sign("not-the-token", URL, &form(&PARAMS));

        // "fake_signature" and "NOTRSOY..." are the SDKs' own negative cases (ruby, java, php).
        let cases = [
            ("forged", &PARAMS[..], forged.as_str()),
            ("ruby negative", &PARAMS[..], "fake_signature"),
            (
                "java negative",
                &PARAMS[..],
                "NOTRSOYDt4T1cUTdK1PDd93/VVr8B8=",
            ),
            ("tampered param", &tampered[..], SIGNATURE),
            ("extra param", &extra[..], SIGNATURE),
            ("dropped param", &PARAMS[..4], SIGNATURE),
        ];
        for (name, params, signature) in cases {
            assert!(
                matches!(
                    verify_form(URL, params, signature),
                    Err(WebhookError::BadSignature(_))
                ),
                "{name}"
            );
        }
        let other_url = verify_form(
            "https://mycompany.com/myapp.php?foo=1&bar=3",
            &PARAMS,
            SIGNATURE,
        );
        assert!(matches!(other_url, Err(WebhookError::BadSignature(_))));
    }

    #[test]
    fn wrong_token_is_rejected_without_echoing_secrets() {
        let h = headers(&[("x-twilio-signature", SIGNATURE)]);
        let body = form(&PARAMS);
        let reason = rejection(verify(&post(URL, &h, &body), &["wrong-token-value"], &[]));
        assert!(
            reason.contains("no configured auth_token matched"),
            "{reason}"
        );
        assert!(
            !reason.contains("wrong-token-value") && !reason.contains(SIGNATURE),
            "{reason}"
        );
    }

    #[test]
    fn either_rotated_token_is_accepted() {
        let h = headers(&[("x-twilio-signature", SIGNATURE)]);
        let body = form(&PARAMS);
        let req = post(URL, &h, &body);
        assert_eq!(verify(&req, &["new-token", TOKEN], &[]), Ok(()));
        assert_eq!(verify(&req, &[TOKEN, "new-token"], &[]), Ok(()));
    }

    #[test]
    fn missing_header_or_secrets_are_rejected() {
        let body = form(&PARAMS);
        let none = headers(&[]);
        let reason = rejection(verify(&post(URL, &none, &body), &[TOKEN], &[]));
        assert_eq!(reason, "missing X-Twilio-Signature");

        let h = headers(&[("x-twilio-signature", SIGNATURE)]);
        for tokens in [&[][..], &[""][..]] {
            let reason = rejection(verify(&post(URL, &h, &body), tokens, &[TOKEN]));
            assert_eq!(reason, "no auth_token is configured");
        }

        let h = headers(&[("x-twilio-signature", "%%%")]);
        let reason = rejection(verify(&post(URL, &h, &body), &[TOKEN], &[]));
        assert_eq!(reason, "X-Twilio-Signature is not base64");
    }

    #[test]
    fn webhook_rules_hmac_sha256() {
        // No official vector exists for the Webhooks shared-key variant. Built from the spec
        // (twilio-node examples/WebhookSignatureValidation.md: "Only the hash changes. The
        // signed string is still the full URL followed by the sorted POST parameters.") and
        // computed independently with Python's hmac module:
        // base64(hmac.new(b"webhook-shared-key-secret", URL + sorted params, sha256)).
        let key = "webhook-shared-key-secret";
        let expected = "ALf6VxufEE68aeGZB4LggTPDPd9BGCnPsYizo3v2kkc=";
        let data = format!(
            "{URL}CallSidCA1234567890ABCDECaller+14158675309Digits1234From+14158675309To+18005551212"
        );
        assert_eq!(sign_string(Algorithm::Sha256, key, &data), expected);

        let body = form(&PARAMS);
        let settings = "key=HKaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa,algorithm=HMAC_SHA256";
        let h = headers(&[
            ("x-twilio-signature", expected),
            ("x-twilio-webhooks-signature-settings", settings),
        ]);
        let req = post(URL, &h, &body);
        assert_eq!(verify(&req, &[TOKEN], &["old-key", key]), Ok(()));

        // The header decides the key: the auth token alone cannot verify it...
        let reason = rejection(verify(&req, &[TOKEN, key], &[]));
        assert!(
            reason.starts_with("no webhook_key is configured"),
            "{reason}"
        );
        // ...and an auth-token signature does not pass once the header is present.
        let h = headers(&[
            ("x-twilio-signature", SIGNATURE),
            ("x-twilio-webhooks-signature-settings", settings),
        ]);
        let reason = rejection(verify(&post(URL, &h, &body), &[TOKEN], &[key]));
        assert!(
            reason.contains("no configured webhook_key matched (HMAC_SHA256"),
            "{reason}"
        );

        let h = headers(&[
            ("x-twilio-signature", expected),
            (
                "x-twilio-webhooks-signature-settings",
                "key=HK1,algorithm=HMAC_MD5",
            ),
        ]);
        let reason = rejection(verify(&post(URL, &h, &body), &[TOKEN], &[key]));
        assert!(reason.starts_with("unsupported algorithm"), "{reason}");
    }

    #[test]
    fn form_values_are_decoded_before_signing() {
        // A form `+` is a space and %2B a plus sign; the signature covers the decoded values.
        let url = "https://hooks.example.com/v1/webhooks/twilio/acme";
        let body = b"Body=STOP+please&From=%2B14155550100";
        let signature = sign_string(
            Algorithm::Sha1,
            TOKEN,
            &format!("{url}BodySTOP pleaseFrom+14155550100"),
        );
        let h = headers(&[("x-twilio-signature", &signature)]);
        assert_eq!(verify(&post(url, &h, body), &[TOKEN], &[]), Ok(()));
    }

    #[test]
    fn get_webhooks_sign_the_url_alone() {
        let url = "https://hooks.example.com/v1/webhooks/twilio/acme?MessageSid=SM1&From=%2B14155550100&To=%2B14155550199&Body=STOP";
        let signature = sign_string(Algorithm::Sha1, TOKEN, url);
        let h = headers(&[("x-twilio-signature", &signature)]);
        let req = WebhookRequest {
            method: "GET",
            url,
            headers: &h,
            body: b"",
        };
        assert_eq!(verify(&req, &[TOKEN], &[]), Ok(()));
        let message = parse(&req).unwrap();
        assert_eq!(
            (message.from.as_str(), message.text.as_str()),
            ("+14155550100", "STOP")
        );

        // The same URL and signature sent as a POST with parameters is not what was signed.
        let body = form(&[("Body", "START")]);
        let as_post = post(url, &h, &body);
        assert!(matches!(
            verify(&as_post, &[TOKEN], &[]),
            Err(WebhookError::BadSignature(_))
        ));
    }

    #[test]
    fn url_variants_add_or_remove_the_port() {
        let cases: [(&str, &[&str]); 6] = [
            (
                "https://a.example/x?y=1",
                &["https://a.example/x?y=1", "https://a.example:443/x?y=1"],
            ),
            (
                "http://a.example",
                &["http://a.example", "http://a.example:80"],
            ),
            (
                "https://a.example:8443/x",
                &["https://a.example/x", "https://a.example:8443/x"],
            ),
            (
                "HTTPS://u:p@a.example?q=a:b",
                &[
                    "HTTPS://u:p@a.example?q=a:b",
                    "HTTPS://u:p@a.example:443?q=a:b",
                ],
            ),
            (
                "https://[::1]:9000/x",
                &["https://[::1]/x", "https://[::1]:9000/x"],
            ),
            ("not a url", &["not a url"]),
        ];
        for (url, want) in cases {
            assert_eq!(url_variants(url), want.to_vec(), "{url}");
        }
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = headers(&[("x-twilio-signature", SIGNATURE)]);
        let too_big = vec![b'a'; MAX_BODY_BYTES + 1];
        let req = post(URL, &h, &too_big);
        let err = verify(&req, &[TOKEN], &[]).unwrap_err();
        assert!(
            matches!(err, WebhookError::Malformed { ref field, .. } if field == "body"),
            "{err:?}"
        );
        assert_eq!(malformed_field(parse(&req)), "body");
        let just_fits = vec![b'a'; MAX_BODY_BYTES];
        assert_eq!(
            malformed_field(parse(&post(URL, &h, &just_fits))),
            "MessageSid"
        );
    }

    fn parse_form(params: &[(&str, &str)]) -> Result<InboundMessage, WebhookError> {
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = form(params);
        parse(&post(URL, &h, &body))
    }

    #[test]
    fn parses_a_form_webhook() {
        let message = parse_form(&[
            ("ToCountry", "US"),
            ("SmsMessageSid", "SM00000000000000000000000000000001"),
            ("NumMedia", "0"),
            ("Body", "Stop <please> & thanks"),
            ("MessageSid", "SM00000000000000000000000000000001"),
            ("MessagingServiceSid", "MG00000000000000000000000000000001"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
            ("OptOutType", "STOP"),
            ("ApiVersion", "2010-04-01"),
        ]);
        assert_eq!(
            message,
            Ok(InboundMessage {
                provider: Provider::Twilio.to_string(),
                message_id: "SM00000000000000000000000000000001".to_string(),
                from: "+14155550100".to_string(),
                to: "+14155550199".to_string(),
                text: "Stop <please> & thanks".to_string(),
                messaging_service: Some("MG00000000000000000000000000000001".to_string()),
                provider_time: None,
                provider_verdict: Some("STOP".to_string()),
                provider_intent: None,
            })
        );
    }

    #[test]
    fn form_fallbacks_and_optional_fields() {
        let base = [("From", "+14155550100"), ("To", "+14155550199")];
        let with = |extra: &[(&'static str, &'static str)]| {
            let mut params = base.to_vec();
            params.extend_from_slice(extra);
            parse_form(&params).unwrap()
        };
        assert_eq!(with(&[("SmsMessageSid", "SM2")]).message_id, "SM2");
        assert_eq!(with(&[("SmsSid", "SM3")]).message_id, "SM3");
        assert_eq!(
            with(&[("MessageSid", ""), ("SmsSid", "SM4")]).message_id,
            "SM4"
        );
        let bare = with(&[("MessageSid", "SM5")]);
        assert_eq!(bare.text, "");
        assert_eq!(bare.messaging_service, None);
        assert_eq!(bare.provider_verdict, None);
        assert_eq!(with(&[("MessageSid", "SM6"), ("Body", "")]).text, "");
    }

    #[test]
    fn form_errors_name_the_field() {
        let full = [
            ("MessageSid", "SM1"),
            ("From", "+14155550100"),
            ("To", "+14155550199"),
        ];
        for (i, field) in ["MessageSid", "From", "To"].into_iter().enumerate() {
            let mut missing = full.to_vec();
            missing.remove(i);
            assert_eq!(malformed_field(parse_form(&missing)), field);
            let mut empty = full.to_vec();
            empty[i].1 = "";
            assert_eq!(malformed_field(parse_form(&empty)), field);
        }
    }

    fn parse_json(body: &str) -> Result<InboundMessage, WebhookError> {
        let h = headers(&[("content-type", "application/json")]);
        parse(&post(URL, &h, body.as_bytes()))
    }

    #[test]
    fn parses_json_events() {
        // Shape from Twilio's Event Streams docs for com.twilio.messaging.inbound-message.received.
        let data = r#"{"messageSid":"SM1","from":"+14155550100","to":"+14155550199","body":"STOP","messagingServiceSid":"MG1","timestamp":"2025-01-01T00:00:00.000Z"}"#;
        let event = format!(
            r#"{{"specversion":"1.0","type":"{INBOUND_EVENT_TYPE}","id":"NO1","data":{data}}}"#
        );
        for body in [data.to_string(), event.clone(), format!("[{event}]")] {
            let message = parse_json(&body).unwrap();
            assert_eq!(message.message_id, "SM1", "{body}");
            assert_eq!(
                (message.from.as_str(), message.to.as_str()),
                ("+14155550100", "+14155550199")
            );
            assert_eq!(message.text, "STOP");
            assert_eq!(message.messaging_service.as_deref(), Some("MG1"));
            assert_eq!(message.provider_time, None);
        }
    }

    #[test]
    fn json_errors_name_the_field() {
        let cases = [
            ("not json", "body"),
            ("[]", "body"),
            (r#"[{"messageSid":"SM1"},{"messageSid":"SM2"}]"#, "body"),
            ("\"STOP\"", "body"),
            (
                r#"{"type":"com.twilio.messaging.message.delivered","data":{"messageSid":"SM1","from":"+1","to":"+2"}}"#,
                "type",
            ),
            (
                r#"{"from":"+14155550100","to":"+14155550199"}"#,
                "messageSid",
            ),
            (r#"{"messageSid":"SM1","to":"+14155550199"}"#, "from"),
            (
                r#"{"messageSid":"SM1","from":"+14155550100","to":null}"#,
                "to",
            ),
            (
                r#"{"messageSid":"SM1","from":14155550100,"to":"+14155550199"}"#,
                "from",
            ),
        ];
        for (body, field) in cases {
            assert_eq!(malformed_field(parse_json(body)), field, "{body}");
        }
    }

    #[test]
    fn replies_are_twiml() {
        let empty = reply(None);
        assert_eq!(empty.content_type, "text/xml");
        assert_eq!(
            empty.body,
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#
        );
        assert_eq!(reply(Some("")), empty);

        let confirmation = reply(Some(
            "You're unsubscribed & won't get <more> \"texts\". Reply START",
        ));
        assert_eq!(confirmation.content_type, "text/xml");
        assert_eq!(
            confirmation.body,
            concat!(
                r#"<?xml version="1.0" encoding="UTF-8"?><Response><Message>"#,
                "You&apos;re unsubscribed &amp; won&apos;t get &lt;more&gt; &quot;texts&quot;. Reply START",
                "</Message></Response>"
            )
        );

        let odd = reply(Some("a\u{0}b\u{1b}c\td\ne\u{ffff}f é 🙂"));
        assert!(
            odd.body.contains("<Message>abc\td\nef é 🙂</Message>"),
            "{}",
            odd.body
        );
    }
}
