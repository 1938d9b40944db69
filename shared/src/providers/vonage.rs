//! Vonage inbound webhooks: the SMS API (`sig` parameter) and the Messages API (a Bearer JWT).
//! Pure.
//!
//! **SMS API.** The inbound SMS arrives as a GET query, a form POST or a JSON POST, signed when
//! signed webhooks are on. As every Vonage SDK checks it (vonage-ruby-sdk
//! `lib/vonage/signature.rb`, vonage-node-sdk `packages/sms/lib/sms.ts` `verifySignature`,
//! vonage-python-sdk `http_client/src/vonage_http_client/auth.py` `check_signature`,
//! vonage-java-sdk `RequestSigning.verifyRequestSignature`): every parameter but `sig`, sorted
//! by name, is written `&name=value` with `&` and `=` inside values replaced by `_`; the
//! string is hashed with the method chosen in the dashboard and the signature secret:
//! `md5hash` is `md5(string + secret)`, `md5`/`sha1`/`sha256`/`sha512` are
//! `HMAC(secret, string)`. The result is hex, and the SDKs disagree on its case (Ruby
//! upper-cases HMACs, Python lower-cases the received `sig`, Node and Java compare
//! case-insensitively), so the hex is compared as bytes. The Java SDK alone leaves out blank
//! values; both forms are accepted. The signed `timestamp` parameter (Unix seconds) may be up to
//! [`MAX_AGE_SECONDS`] old, since Vonage retries for 24 hours keeping it (the Java SDK's five
//! minute `MAX_ALLOWABLE_TIME_DELTA` would refuse a genuine late retry), and five minutes ahead;
//! the dedupe on Vonage's message id bounds a replay.
//!
//! **Messages API.** `Authorization: Bearer <JWT>`, HS256 with the signature secret whatever
//! the dashboard's method ("SHA-256 is always used"), whose `payload_hash` claim is the hex
//! SHA-256 of the body (developer.vonage.com "Signed webhooks"). The JWT is checked here with
//! hmac/sha2/base64, already in the tree: `jsonwebtoken` 12 needs a crypto backend, and its
//! `rust_crypto` one brings rsa, p256, p384 and ed25519-dalek (`aws_lc_rs` a C toolchain) for
//! one HMAC. `iat` is required and judged as `timestamp` is; `exp` and `nbf`, when present,
//! must hold. The `jti` is stored with its message (`nonce`).
//!
//! See docs/providers.md, "Vonage".

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use chrono::{DateTime, NaiveDateTime, Utc};
use hmac::Hmac;
use md5::Md5;
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use subtle::{Choice, ConstantTimeEq};

use super::common::{
    bad_signature, check_body_size, empty_reply, form_pairs, hmac_sha256, hmac_with, international,
    is_json, json_object_body, non_blank_string, param, query,
};
use super::{
    InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError, WebhookRequest,
};

/// The secret names `stopgate provider set <tenant> vonage` accepts. `signature_method` is one
/// of `md5hash` (Vonage's default, used when none is set), `md5`, `sha1`, `sha256`, `sha512`.
pub const SECRET_NAMES: &[&str] = &["signature_secret", "signature_method"];

/// How old a signed timestamp (`timestamp`, the JWT's `iat`) may be. Vonage retries a webhook
/// for up to 24 hours and, as far as its documentation and SDKs show, keeps the original
/// timestamp: a narrower window would refuse a genuine STOP retried after an outage. The
/// replay defence is the dedupe on Vonage's message id (docs/providers.md, "Freshness").
pub const MAX_AGE_SECONDS: i64 = 25 * 3600;
/// How far ahead of our clock a signed time may be.
pub const MAX_SKEW_SECONDS: i64 = 300;

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "a Vonage webhook";

const METHOD_NAMES: &str = "md5hash, md5, sha1, sha256 or sha512";

/// Checks that Vonage sent `req`, at `now`.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let keys = secrets.get("signature_secret");
    if let Some(token) = bearer_token(req) {
        if keys.is_empty() {
            return Err(bad_signature("no signature_secret is configured"));
        }
        return verify_jwt(token, req.body, &keys, now);
    }
    let params = sms_params(req).map_err(|reason| {
        bad_signature(&format!(
            "no Authorization: Bearer JWT (Messages API), and no SMS API parameters to check: \
             {reason}"
        ))
    })?;
    let Some(sig) = param(&params, "sig") else {
        return Err(bad_signature(
            "neither an Authorization: Bearer JWT (Messages API) nor a sig parameter (SMS API)",
        ));
    };
    if keys.is_empty() {
        return Err(bad_signature("no signature_secret is configured"));
    }
    let methods = methods(secrets)?;
    let claimed = hex::decode(sig.trim()).map_err(|_| bad_signature("sig is not hex"))?;
    let timestamp: i64 = param(&params, "timestamp")
        .ok_or_else(|| bad_signature("missing timestamp parameter"))?
        .trim()
        .parse()
        .map_err(|_| bad_signature("timestamp is not a Unix time in seconds"))?;

    let mut matched = Choice::from(0);
    for string in signing_strings(&params) {
        for method in &methods {
            for key in &keys {
                matched |= method
                    .digest(key.as_bytes(), string.as_bytes())
                    .ct_eq(&claimed);
            }
        }
    }
    if !bool::from(matched) {
        let names: Vec<&str> = methods.iter().map(|m| m.name()).collect();
        return Err(bad_signature(&format!(
            "sig matches no configured signature_secret (signature_method {})",
            names.join(" or ")
        )));
    }
    check_fresh(timestamp, now, "timestamp")
}

/// Reads a verified webhook: an inbound SMS from either API, or something to acknowledge.
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    if is_json(req) {
        let value = json_object_body(req.body)?;
        if value.get("message_uuid").is_some() {
            return messages_api(&value);
        }
    }
    let params = sms_params(req).map_err(|reason| WebhookError::malformed("body", reason))?;
    sms_api(&params)
}

/// Vonage needs a 200 or 204; neither API sends an SMS back from the webhook response.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    empty_reply()
}

/// The `sig` Vonage computes for SMS API `params` (without `sig`, with `timestamp`) using
/// `method`, as lowercase hex: what local examples and tests send. `None` for an unknown
/// method.
pub fn sign_sms(secret: &str, method: &str, params: &[(&str, &str)]) -> Option<String> {
    let method = Method::parse(method)?;
    let params: Vec<(String, String)> = params
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let string = signing_string(&params, false);
    Some(hex::encode(
        method.digest(secret.as_bytes(), string.as_bytes()),
    ))
}

/// A Messages API `Authorization` value for `body` issued at `iat`, with the claims Vonage
/// sends (`iat`, `jti`, `iss`, `payload_hash`): what local examples and tests send.
pub fn messages_authorization(secret: &str, body: &[u8], iat: i64, jti: &str) -> String {
    let header = BASE64URL.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    // Written out rather than through a JSON map so the token does not depend on key order.
    let claims = format!(
        r#"{{"iat":{iat},"iss":"Vonage","jti":{},"payload_hash":"{}"}}"#,
        Value::String(jti.to_string()),
        hex::encode(Sha256::digest(body))
    );
    let claims = BASE64URL.encode(claims);
    let signing_input = format!("{header}.{claims}");
    let signature = BASE64URL.encode(hmac_sha256(secret.as_bytes(), &[signing_input.as_bytes()]));
    format!("Bearer {signing_input}.{signature}")
}

fn check_fresh(signed_at: i64, now: DateTime<Utc>, what: &str) -> Result<(), WebhookError> {
    super::common::check_fresh(signed_at, now, what, MAX_AGE_SECONDS, MAX_SKEW_SECONDS)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Method {
    Md5Hash,
    HmacMd5,
    HmacSha1,
    HmacSha256,
    HmacSha512,
}

impl Method {
    /// The names the dashboard's choices go by in every SDK.
    fn parse(name: &str) -> Option<Method> {
        match name.trim().to_ascii_lowercase().as_str() {
            "md5hash" => Some(Method::Md5Hash),
            "md5" => Some(Method::HmacMd5),
            "sha1" => Some(Method::HmacSha1),
            "sha256" => Some(Method::HmacSha256),
            "sha512" => Some(Method::HmacSha512),
            _ => None,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Method::Md5Hash => "md5hash",
            Method::HmacMd5 => "md5",
            Method::HmacSha1 => "sha1",
            Method::HmacSha256 => "sha256",
            Method::HmacSha512 => "sha512",
        }
    }

    fn digest(self, secret: &[u8], data: &[u8]) -> Vec<u8> {
        match self {
            Method::Md5Hash => {
                let mut md5 = Md5::new();
                md5.update(data);
                md5.update(secret);
                md5.finalize().to_vec()
            }
            Method::HmacMd5 => hmac_with::<Hmac<Md5>>(secret, &[data]),
            Method::HmacSha1 => hmac_with::<Hmac<Sha1>>(secret, &[data]),
            Method::HmacSha256 => hmac_with::<Hmac<Sha256>>(secret, &[data]),
            Method::HmacSha512 => hmac_with::<Hmac<Sha512>>(secret, &[data]),
        }
    }
}

/// The configured methods (current first, the previous one during a change); Vonage's
/// default when none is set.
fn methods(secrets: &ProviderSecrets) -> Result<Vec<Method>, WebhookError> {
    let names = secrets.get("signature_method");
    if names.is_empty() {
        return Ok(vec![Method::Md5Hash]);
    }
    names
        .iter()
        .map(|name| {
            Method::parse(name).ok_or_else(|| {
                bad_signature(&format!(
                    "the configured signature_method is not one of {METHOD_NAMES}"
                ))
            })
        })
        .collect()
}

/// `&name=value` for every parameter but `sig`, by name, with `&` and `=` in values made `_`;
/// with `skip_blank`, without blank values (the Java SDK's reading).
fn signing_string(params: &[(String, String)], skip_blank: bool) -> String {
    let mut signed: Vec<&(String, String)> = params
        .iter()
        .filter(|(name, value)| name != "sig" && !(skip_blank && value.trim().is_empty()))
        .collect();
    signed.sort_by(|a, b| a.0.cmp(&b.0));
    signed
        .into_iter()
        .map(|(name, value)| format!("&{name}={}", value.replace(['&', '='], "_")))
        .collect()
}

fn signing_strings(params: &[(String, String)]) -> Vec<String> {
    let all = signing_string(params, false);
    let non_blank = signing_string(params, true);
    if non_blank == all {
        vec![all]
    } else {
        vec![all, non_blank]
    }
}

/// The SMS API parameters, from wherever this delivery method puts them: the JSON object, the
/// form body, or the query (GET, or a POST that carries nothing in its body).
fn sms_params(req: &WebhookRequest) -> Result<Vec<(String, String)>, String> {
    let pairs = if is_json(req) {
        json_params(req.body)?
    } else if req.method.eq_ignore_ascii_case("GET") || req.body.trim_ascii().is_empty() {
        form_pairs(query(req.url).as_bytes())
    } else {
        form_pairs(req.body)
    };
    // Vonage never repeats a parameter; with two values there is no telling which one it
    // signed, and the parser and the signature check must read the same one.
    let mut seen = BTreeSet::new();
    for (name, _) in &pairs {
        if !seen.insert(name.as_str()) {
            return Err(format!("parameter {name} is repeated"));
        }
    }
    Ok(pairs)
}

fn json_params(body: &[u8]) -> Result<Vec<(String, String)>, String> {
    let value: Value = serde_json::from_slice(body).map_err(|e| format!("not valid JSON: {e}"))?;
    let Value::Object(object) = value else {
        return Err("expected a JSON object".into());
    };
    let mut pairs = Vec::with_capacity(object.len());
    for (name, value) in object {
        let value = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            Value::Null => continue,
            Value::Array(_) | Value::Object(_) => {
                return Err(format!("parameter {name} is not a single value"));
            }
        };
        pairs.push((name, value));
    }
    Ok(pairs)
}

/// The `jti` of a Messages API JWT, stored so that no token id is accepted twice with another
/// body; the SMS API's signed parameters carry none.
pub fn nonce(req: &WebhookRequest) -> Option<String> {
    let claims = bearer_token(req)?.split('.').nth(1)?;
    let claims = base64url_json(claims)?;
    claims
        .get("jti")
        .and_then(Value::as_str)
        .map(str::to_string)
}

fn bearer_token<'a>(req: &WebhookRequest<'a>) -> Option<&'a str> {
    let authorization = req.headers.get("authorization")?.to_str().ok()?;
    let (scheme, token) = authorization.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("Bearer").then(|| token.trim())
}

fn base64url_json(part: &str) -> Option<Value> {
    let bytes = BASE64URL.decode(part.trim_end_matches('=')).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// A JWT time claim: seconds, written as an integer or (by some issuers) a float.
fn seconds(claims: &Value, name: &str) -> Result<Option<i64>, WebhookError> {
    match claims.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
            .map(Some)
            .ok_or_else(|| bad_signature(&format!("JWT {name} is not a time"))),
        Some(_) => Err(bad_signature(&format!("JWT {name} is not a number"))),
    }
}

fn verify_jwt(
    token: &str,
    body: &[u8],
    keys: &[&str],
    now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    let parts: Vec<&str> = token.split('.').collect();
    let [header, claims, signature] = parts[..] else {
        return Err(bad_signature("the Bearer token is not a JWT"));
    };
    let header = base64url_json(header)
        .ok_or_else(|| bad_signature("the JWT header is not base64url JSON"))?;
    // Only HS256: a token naming `none` or an RSA algorithm must not choose how it is checked.
    if header.get("alg").and_then(Value::as_str) != Some("HS256") {
        return Err(bad_signature("the JWT is not signed with HS256"));
    }
    let signature = BASE64URL
        .decode(signature.trim_end_matches('='))
        .map_err(|_| bad_signature("the JWT signature is not base64url"))?;
    let signing_input = &token[..token.len() - parts[2].len() - 1];
    let matched = keys.iter().fold(Choice::from(0), |acc, key| {
        acc | hmac_sha256(key.as_bytes(), &[signing_input.as_bytes()]).ct_eq(&signature)
    });
    if !bool::from(matched) {
        return Err(bad_signature(
            "the JWT signature matches no configured signature_secret",
        ));
    }

    let claims = base64url_json(claims)
        .filter(Value::is_object)
        .ok_or_else(|| bad_signature("the JWT claims are not a JSON object"))?;
    // The token is reusable on its own; the hash is what ties it to this body.
    let payload_hash = claims
        .get("payload_hash")
        .and_then(Value::as_str)
        .ok_or_else(|| bad_signature("the JWT has no payload_hash"))?;
    let payload_hash = hex::decode(payload_hash.trim())
        .map_err(|_| bad_signature("the JWT payload_hash is not hex"))?;
    if !bool::from(Sha256::digest(body).as_slice().ct_eq(&payload_hash)) {
        return Err(bad_signature(
            "the JWT payload_hash does not match the body",
        ));
    }
    let iat = seconds(&claims, "iat")?.ok_or_else(|| bad_signature("the JWT has no iat"))?;
    check_fresh(iat, now, "the JWT iat")?;
    if let Some(exp) = seconds(&claims, "exp")?
        && exp <= now.timestamp()
    {
        return Err(bad_signature("the JWT has expired"));
    }
    if let Some(nbf) = seconds(&claims, "nbf")?
        && nbf > now.timestamp() + MAX_SKEW_SECONDS
    {
        return Err(bad_signature("the JWT is not valid yet (nbf)"));
    }
    Ok(())
}

/// A Messages API callback: an inbound SMS, or a status update to acknowledge.
fn messages_api(value: &Value) -> Result<Parsed, WebhookError> {
    // Status webhooks also carry message_uuid, from and to: taking one for an inbound message
    // would record our own number as having texted us.
    if value.get("status").is_some() {
        return Ok(Parsed::Ignored("Vonage Messages API status update".into()));
    }
    if let Some(channel) = string(value, "channel")?
        && !matches!(channel.as_str(), "sms" | "mms")
    {
        return Ok(Parsed::Ignored(format!(
            "Vonage Messages API message on channel {channel:?}"
        )));
    }
    let message_id = string(value, "message_uuid")?
        .ok_or_else(|| WebhookError::malformed("message_uuid", "missing"))?;
    let from = number(value, "from")?.ok_or_else(|| WebhookError::malformed("from", "missing"))?;
    let to = number(value, "to")?.ok_or_else(|| WebhookError::malformed("to", "missing"))?;
    let text = match value.get("text") {
        Some(Value::String(s)) => s.clone(),
        None | Some(Value::Null) => String::new(),
        Some(_) => return Err(WebhookError::malformed("text", "must be a string")),
    };
    let provider_time = string(value, "timestamp")?
        .map(|s| {
            DateTime::parse_from_rfc3339(&s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| WebhookError::malformed("timestamp", "not an RFC 3339 date-time"))
        })
        .transpose()?;
    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Vonage.to_string(),
        message_id,
        from: international(&from),
        to: international(&to),
        text,
        messaging_service: None,
        provider_time,
        provider_verdict: None,
        provider_intent: None,
    }]))
}

/// An SMS API inbound message, or a delivery receipt sent to the same URL.
fn sms_api(params: &[(String, String)]) -> Result<Parsed, WebhookError> {
    let get = |name: &str| param(params, name).filter(|v| !v.trim().is_empty());
    if get("text").is_none()
        && get("type").is_none()
        && (get("status").is_some() || get("err-code").is_some())
    {
        return Ok(Parsed::Ignored("Vonage SMS API delivery receipt".into()));
    }
    let required = |name: &str| {
        get(name)
            .map(|v| v.trim().to_string())
            .ok_or_else(|| WebhookError::malformed(name, "missing"))
    };
    let message_id = required("messageId")?;
    let from = required("msisdn")?;
    let to = required("to")?;
    // A binary message's text is absent; its `data` is not words to classify.
    let text = match get("type") {
        Some(kind) if kind.eq_ignore_ascii_case("binary") => String::new(),
        _ => param(params, "text").unwrap_or_default().to_string(),
    };
    let provider_time = get("message-timestamp")
        .map(|s| {
            NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%d %H:%M:%S")
                .map(|t| t.and_utc())
                .map_err(|_| {
                    WebhookError::malformed("message-timestamp", "not YYYY-MM-DD HH:MM:SS (UTC)")
                })
        })
        .transpose()?;
    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Vonage.to_string(),
        message_id,
        from: international(&from),
        to: international(&to),
        text,
        messaging_service: None,
        provider_time,
        provider_verdict: None,
        provider_intent: None,
    }]))
}

/// A string field, trimmed; absent, null and blank are all `None`.
fn string(value: &Value, name: &str) -> Result<Option<String>, WebhookError> {
    Ok(non_blank_string(value, name)?.map(|s| s.trim().to_string()))
}

/// `from`/`to` of the Messages API: a string, or in the v0.1 format `{"type", "number"}`.
fn number(value: &Value, name: &str) -> Result<Option<String>, WebhookError> {
    match value.get(name) {
        Some(object @ Value::Object(_)) => match object.get("number") {
            Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.trim().to_string())),
            Some(Value::Number(n)) => Ok(Some(n.to_string())),
            _ => Err(WebhookError::malformed(
                &format!("{name}.number"),
                "missing",
            )),
        },
        _ => string(value, name),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{
        at, form_string as form, headers, malformed_field, one_message, rejection, request, secrets,
    };

    const URL: &str = "https://api.stopgate.example/v1/webhooks/vonage/acme";

    fn owned(params: &[(&str, &str)]) -> Vec<(String, String)> {
        params
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// The inbound SMS every SDK signs in its tests, with the signature for each method:
    /// vonage-ruby-sdk `test/vonage/signature_test.rb` and vonage-node-sdk
    /// `packages/sms/__tests__/__dataSets__/signature.ts` (identical values; Ruby and Node
    /// publish the HMACs in upper case).
    const SDK_SECRET: &str = "my_secret_key_for_testing";
    const SDK_PARAMS: [(&str, &str); 7] = [
        ("message-timestamp", "2013-11-21 15:27:30"),
        ("messageId", "020000001B0FE827"),
        ("msisdn", "14843472194"),
        ("text", "Test again"),
        ("timestamp", "1385047698"),
        ("to", "13239877404"),
        ("type", "text"),
    ];
    const SDK_SIGNATURES: [(&str, &str); 5] = [
        ("md5hash", "d2e7b1dc968737c5998ad624e02f90b7"),
        ("md5", "DDEBD46008C2D4E93CCE578A332A52D5"),
        ("sha1", "27D0D05C2876C7CB1720DBCDBA4D492E1E55C09A"),
        (
            "sha256",
            "DDB8397C2B90AAC7F3882D306475C9A5058C92322EEF43C92B298B6E0FC0D330",
        ),
        (
            "sha512",
            "E0D3C650F8C9D1A5C174D10DDDBFB003E561F59B265616208B0487C5D819481CD3C311D59CF6165ECD1139622D5BA3A256C0D763AC4A9AD9144B5A426B94FE82",
        ),
    ];
    const SDK_SIGNED_AT: i64 = 1_385_047_698;

    fn with_sig(sig: &str) -> Vec<(&str, &str)> {
        let mut params = SDK_PARAMS.to_vec();
        params.push(("sig", sig));
        params
    }

    fn method_secrets(method: &'static str) -> ProviderSecrets {
        secrets(&[
            ("signature_secret", SDK_SECRET),
            ("signature_method", method),
        ])
    }

    #[test]
    fn the_sdk_vectors_verify_for_every_method_and_delivery() {
        let now = at(SDK_SIGNED_AT + 60);
        for (method, sig) in SDK_SIGNATURES {
            let s = method_secrets(method);
            assert_eq!(
                sign_sms(SDK_SECRET, method, &SDK_PARAMS).unwrap(),
                sig.to_ascii_lowercase(),
                "{method}"
            );
            let params = with_sig(sig);
            // Form POST, as received.
            let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
            let body = form(&params);
            assert_eq!(
                verify(&request("POST", URL, &h, body.as_bytes()), &s, now),
                Ok(()),
                "{method}"
            );
            // GET with the same parameters in the query, the signature in either case.
            let url = format!("{URL}?{}", form(&with_sig(&sig.to_ascii_lowercase())));
            let none = headers(&[]);
            assert_eq!(
                verify(&request("GET", &url, &none, b""), &s, now),
                Ok(()),
                "{method}"
            );
            // JSON POST.
            let json: serde_json::Map<String, Value> = params
                .iter()
                .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
                .collect();
            let h = headers(&[("content-type", "application/json")]);
            let body = Value::Object(json).to_string();
            assert_eq!(
                verify(&request("POST", URL, &h, body.as_bytes()), &s, now),
                Ok(()),
                "{method}"
            );
        }
    }

    #[test]
    fn the_python_and_java_sdk_vectors_match() {
        // vonage-python-sdk `http_client/tests/test_auth.py` (secret "signature_secret"):
        // sha256 HMAC, md5 HMAC (the SDK's default there), `&` and `=` in values, and the
        // `check_signature` case.
        let p = [
            ("param1", "value1"),
            ("param2", "value2"),
            ("timestamp", "1234567890"),
        ];
        assert_eq!(
            sign_sms("signature_secret", "sha256", &p).unwrap(),
            "280c4320703dbc98bfa22db676655ed2acfbfe8792b062ff7622e67f1183c287"
        );
        assert_eq!(
            sign_sms("signature_secret", "md5", &p).unwrap(),
            "724c2bf6ca423c36e20631b11d1c5753"
        );
        let special = [
            ("param1", "value&1"),
            ("param2", "value=2"),
            ("timestamp", "1234567890"),
        ];
        assert_eq!(
            sign_sms("signature_secret", "md5", &special).unwrap(),
            "2bbf0abafb2c55e5af6231513896a2ac"
        );
        assert_eq!(
            sign_sms(
                "signature_secret",
                "md5",
                &[("param", "value"), ("timestamp", "1234567890")]
            )
            .unwrap(),
            "655a4d0b7f064dff438defc52b012cf5"
        );
        // vonage-ruby-sdk `test/vonage/signature_test.rb`: `&` and `=` become `_`.
        for value in ["_", "&", "="] {
            assert_eq!(
                sign_sms(SDK_SECRET, "md5hash", &[("k", value)]).unwrap(),
                "c3d6a686ab9c7e7408bb1c0506e9629a"
            );
        }
        // vonage-java-sdk `src/test/java/com/vonage/client/auth/RequestSigningTest.java`:
        // md5hash and HMAC-SHA256 with secret "abcde", and its null-value case, which the
        // Java SDK leaves out of the string.
        let java = [("a", "alphabet"), ("b", "bananas"), ("timestamp", "2100")];
        assert_eq!(
            sign_sms("abcde", "md5hash", &java).unwrap(),
            "7d43241108912b32cc315b48ce681acf"
        );
        assert_eq!(
            sign_sms("abcde", "sha256", &java).unwrap(),
            "8d1b0428276b6a070578225914c3502cc0687a454dfbbbb370c76a14234cb546"
        );
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = form(&[
            ("a", "alphabet"),
            ("b", ""),
            ("timestamp", "2100"),
            ("sig", "a3368bf718ba104dcb392d8877e8eb2b"),
        ]);
        let s = secrets(&[("signature_secret", "abcde")]);
        assert_eq!(
            verify(&request("POST", URL, &h, body.as_bytes()), &s, at(2100)),
            Ok(())
        );
    }

    #[test]
    fn md5hash_is_the_default_method() {
        let s = secrets(&[("signature_secret", SDK_SECRET)]);
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = form(&with_sig(SDK_SIGNATURES[0].1));
        assert_eq!(
            verify(
                &request("POST", URL, &h, body.as_bytes()),
                &s,
                at(SDK_SIGNED_AT)
            ),
            Ok(())
        );
        // An HMAC signature does not pass for md5hash.
        let body = form(&with_sig(SDK_SIGNATURES[1].1));
        let reason = rejection(verify(
            &request("POST", URL, &h, body.as_bytes()),
            &s,
            at(SDK_SIGNED_AT),
        ));
        assert_eq!(
            reason,
            "sig matches no configured signature_secret (signature_method md5hash)"
        );
    }

    #[test]
    fn forged_tampered_unsigned_and_wrong_secret_sms_webhooks_are_rejected() {
        let now = at(SDK_SIGNED_AT);
        let s = method_secrets("sha256");
        let sig = SDK_SIGNATURES[3].1;
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let post = |params: &[(&str, &str)], s: &ProviderSecrets| {
            let body = form(params);
            verify(&request("POST", URL, &h, body.as_bytes()), s, now)
        };
        let mut tampered = with_sig(sig);
        tampered[3] = ("text", "STOP");
        let mut extra = with_sig(sig);
        extra.push(("keyword", "STOP"));
        let forged = sign_sms("not-the-secret", "sha256", &SDK_PARAMS).unwrap();
        for (name, params) in [
            ("tampered", tampered),
            ("extra parameter", extra),
            ("forged", with_sig(&forged)),
            ("ruby negative", with_sig("xxx")),
            ("dropped parameter", with_sig(sig)[1..].to_vec()),
        ] {
            assert!(
                matches!(post(&params, &s), Err(WebhookError::BadSignature(_))),
                "{name}"
            );
        }
        assert_eq!(rejection(post(&with_sig("xxx"), &s)), "sig is not hex");
        assert_eq!(
            rejection(post(&SDK_PARAMS, &s)),
            "neither an Authorization: Bearer JWT (Messages API) nor a sig parameter (SMS API)"
        );
        let reason = rejection(post(
            &with_sig(sig),
            &secrets(&[
                ("signature_secret", "wrong-secret"),
                ("signature_method", "sha256"),
            ]),
        ));
        assert!(
            !reason.contains("wrong-secret") && !reason.contains(sig),
            "{reason}"
        );
        for empty in [secrets(&[]), secrets(&[("signature_secret", "")])] {
            assert_eq!(
                rejection(post(&with_sig(sig), &empty)),
                "no signature_secret is configured"
            );
        }
        let reason = rejection(post(
            &with_sig(sig),
            &secrets(&[
                ("signature_secret", SDK_SECRET),
                ("signature_method", "sha384"),
            ]),
        ));
        assert!(reason.contains("not one of md5hash"), "{reason}");
        let no_timestamp: Vec<(&str, &str)> = with_sig(sig)
            .into_iter()
            .filter(|(k, _)| *k != "timestamp")
            .collect();
        assert_eq!(
            rejection(post(&no_timestamp, &s)),
            "missing timestamp parameter"
        );
        let mut repeated = with_sig(sig);
        repeated.push(("text", "STOP"));
        assert!(rejection(post(&repeated, &s)).contains("parameter text is repeated"));
    }

    #[test]
    fn a_retry_within_a_day_is_accepted_and_stale_or_future_sms_signatures_are_not() {
        let s = method_secrets("sha256");
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = form(&with_sig(SDK_SIGNATURES[3].1));
        let req = request("POST", URL, &h, body.as_bytes());
        // Vonage retries for 24 hours, keeping the timestamp it first signed.
        assert_eq!(verify(&req, &s, at(SDK_SIGNED_AT + 24 * 3600)), Ok(()));
        assert_eq!(
            verify(&req, &s, at(SDK_SIGNED_AT - MAX_SKEW_SECONDS)),
            Ok(())
        );
        let reason = rejection(verify(&req, &s, at(SDK_SIGNED_AT + MAX_AGE_SECONDS + 1)));
        assert!(reason.starts_with("timestamp is 90001 s old"), "{reason}");
        let reason = rejection(verify(&req, &s, at(SDK_SIGNED_AT - MAX_SKEW_SECONDS - 1)));
        assert!(reason.contains("301 s in the future"), "{reason}");
        // The SDK vector replayed today.
        rejection(verify(&req, &s, Utc::now()));
    }

    #[test]
    fn rotated_secrets_and_methods_are_accepted() {
        let h = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let body = form(&with_sig(SDK_SIGNATURES[3].1));
        let req = request("POST", URL, &h, body.as_bytes());
        let now = at(SDK_SIGNED_AT);
        for pairs in [
            vec![
                ("signature_secret", "new-secret"),
                ("signature_secret", SDK_SECRET),
                ("signature_method", "sha256"),
            ],
            vec![
                ("signature_secret", SDK_SECRET),
                ("signature_secret", "old-secret"),
                ("signature_method", "sha256"),
            ],
            // A change of method, the previous one still configured.
            vec![
                ("signature_secret", SDK_SECRET),
                ("signature_method", "sha512"),
                ("signature_method", "sha256"),
            ],
        ] {
            assert_eq!(verify(&req, &secrets(&pairs), now), Ok(()), "{pairs:?}");
        }
    }

    const SECRET: &str = "vonage-signature-secret-0123456789";
    /// A Messages API inbound SMS in the shape of Vonage's Messages API reference.
    const MESSAGES_BODY: &str = r#"{"channel":"sms","message_uuid":"aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab","to":"14155550100","from":"14155550150","timestamp":"2026-11-28T12:00:00Z","text":"STOP","sms":{"num_messages":"1","keyword":"STOP"},"message_type":"text"}"#;

    fn jwt_headers(authorization: &str) -> http::HeaderMap {
        headers(&[
            ("content-type", "application/json"),
            ("authorization", authorization),
        ])
    }

    fn jwt(header: &str, claims: &Value, key: &str) -> String {
        let input = format!(
            "{}.{}",
            BASE64URL.encode(header),
            BASE64URL.encode(claims.to_string())
        );
        let signature = BASE64URL.encode(hmac_sha256(key.as_bytes(), &[input.as_bytes()]));
        format!("Bearer {input}.{signature}")
    }

    fn claims(iat: i64) -> Value {
        serde_json::json!({
            "iat": iat,
            "jti": "2f1e2b2c-0000-4000-8000-000000000001",
            "iss": "Vonage",
            "payload_hash": hex::encode(Sha256::digest(MESSAGES_BODY.as_bytes())),
            "api_key": "abcd1234",
            "application_id": "aaaaaaaa-0000-4000-8000-000000000000",
        })
    }

    const HS256: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

    #[test]
    fn the_python_sdk_jwt_vector_has_a_valid_hs256_signature() {
        // vonage-python-sdk `jwt/tests/test_verify_jwt.py`: the token verifies with its secret
        // and not with "asdf". It has no payload_hash (and an iat in 2023), so the full check
        // refuses it for that reason and not for its signature.
        let token = "eyJ0eXAiOiJKV1QiLCJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJPbmxpbmUgSldUIEJ1aWxkZXIiLCJpYXQiOjE2OTc2MzQ2ODAsImV4cCI6MzMyNTQ1NDA4MjgsImF1ZCI6IiIsInN1YiI6IiJ9.88vJc3I2HhuqEDixHXVhc9R30tA6U_HQHZTC29y6CGM";
        let now = at(1_697_634_680);
        assert_eq!(
            rejection(verify_jwt(
                token,
                b"{}",
                &["qwertyuiopasdfghjklzxcvbnm123456"],
                now
            )),
            "the JWT has no payload_hash"
        );
        assert_eq!(
            rejection(verify_jwt(token, b"{}", &["asdf"], now)),
            "the JWT signature matches no configured signature_secret"
        );
        assert_eq!(
            rejection(verify_jwt("asdf", b"{}", &["asdf"], now)),
            "the Bearer token is not a JWT"
        );
    }

    #[test]
    fn a_signed_messages_api_webhook_verifies() {
        // No official vector binds payload_hash to a body. Built from Vonage's "Signed
        // webhooks" page and computed independently with Python's hmac, hashlib and base64
        // modules (claims sorted, compact separators).
        let iat = 1_795_867_200;
        let authorization = messages_authorization(SECRET, MESSAGES_BODY.as_bytes(), iat, "jti-1");
        assert_eq!(
            authorization,
            "Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpYXQiOjE3OTU4NjcyMDAsImlzcyI6IlZvbmFnZSIsImp0aSI6Imp0aS0xIiwicGF5bG9hZF9oYXNoIjoiZDYyNjIyNzFiNTE5OTc4NmI4NTZiZjU4MTgxODBhMmM2YzQ1YjVhYjc4NThiMTIxMjY2MTA4OWIxMjg4ZjNiYSJ9._358sY2li6f0gecn2yRqWACecDfq-PGB0wnWzMDZkqA"
        );
        let h = jwt_headers(&authorization);
        let req = request("POST", URL, &h, MESSAGES_BODY.as_bytes());
        let s = secrets(&[
            ("signature_secret", SECRET),
            ("signature_method", "md5hash"),
        ]);
        assert_eq!(verify(&req, &s, at(iat + 10)), Ok(()));
        // Rotation.
        let rotated = secrets(&[
            ("signature_secret", "new-secret"),
            ("signature_secret", SECRET),
        ]);
        assert_eq!(verify(&req, &rotated, at(iat)), Ok(()));
        // The other claims Vonage sends are welcome.
        let h = jwt_headers(&jwt(HS256, &claims(iat), SECRET));
        assert_eq!(
            verify(
                &request("POST", URL, &h, MESSAGES_BODY.as_bytes()),
                &s,
                at(iat)
            ),
            Ok(())
        );
    }

    #[test]
    fn forged_tampered_and_odd_jwts_are_rejected() {
        let iat = 1_795_867_200;
        let now = at(iat + 10);
        let s = secrets(&[("signature_secret", SECRET)]);
        let check = |authorization: &str, body: &str| {
            let h = jwt_headers(authorization);
            rejection(verify(&request("POST", URL, &h, body.as_bytes()), &s, now))
        };
        let good = messages_authorization(SECRET, MESSAGES_BODY.as_bytes(), iat, "jti-1");
        assert_eq!(
            check(&good, &MESSAGES_BODY.replace("STOP", "START")),
            "the JWT payload_hash does not match the body"
        );
        assert_eq!(
            check(
                &messages_authorization("not-the-secret", MESSAGES_BODY.as_bytes(), iat, "j"),
                MESSAGES_BODY
            ),
            "the JWT signature matches no configured signature_secret"
        );
        // Claims changed after signing.
        let parts: Vec<&str> = good.trim_start_matches("Bearer ").split('.').collect();
        let mut altered = claims(iat);
        altered["iat"] = (iat + 1).into();
        let swapped = format!(
            "Bearer {}.{}.{}",
            parts[0],
            BASE64URL.encode(altered.to_string()),
            parts[2]
        );
        assert_eq!(
            check(&swapped, MESSAGES_BODY),
            "the JWT signature matches no configured signature_secret"
        );
        let none = jwt(r#"{"alg":"none","typ":"JWT"}"#, &claims(iat), SECRET);
        assert_eq!(
            check(&none, MESSAGES_BODY),
            "the JWT is not signed with HS256"
        );
        let hs512 = jwt(r#"{"alg":"HS512","typ":"JWT"}"#, &claims(iat), SECRET);
        assert_eq!(
            check(&hs512, MESSAGES_BODY),
            "the JWT is not signed with HS256"
        );
        let mut no_hash = claims(iat);
        no_hash.as_object_mut().unwrap().remove("payload_hash");
        assert_eq!(
            check(&jwt(HS256, &no_hash, SECRET), MESSAGES_BODY),
            "the JWT has no payload_hash"
        );
        let mut bad_hash = claims(iat);
        bad_hash["payload_hash"] = "zz".into();
        assert_eq!(
            check(&jwt(HS256, &bad_hash, SECRET), MESSAGES_BODY),
            "the JWT payload_hash is not hex"
        );
        let mut no_iat = claims(iat);
        no_iat.as_object_mut().unwrap().remove("iat");
        assert_eq!(
            check(&jwt(HS256, &no_iat, SECRET), MESSAGES_BODY),
            "the JWT has no iat"
        );
        let mut text_iat = claims(iat);
        text_iat["iat"] = "yesterday".into();
        assert_eq!(
            check(&jwt(HS256, &text_iat, SECRET), MESSAGES_BODY),
            "JWT iat is not a number"
        );
        let mut expired = claims(iat);
        expired["exp"] = (iat + 5).into();
        assert_eq!(
            check(&jwt(HS256, &expired, SECRET), MESSAGES_BODY),
            "the JWT has expired"
        );
        let mut early = claims(iat);
        early["nbf"] = (iat + 3600).into();
        assert_eq!(
            check(&jwt(HS256, &early, SECRET), MESSAGES_BODY),
            "the JWT is not valid yet (nbf)"
        );
        assert_eq!(
            check("Bearer a.b", MESSAGES_BODY),
            "the Bearer token is not a JWT"
        );
        assert_eq!(
            check("Bearer %%.e30.AA", MESSAGES_BODY),
            "the JWT header is not base64url JSON"
        );
        // Unsigned: a Messages API body has no SMS API parameters to fall back on.
        let h = headers(&[("content-type", "application/json")]);
        let reason = rejection(verify(
            &request("POST", URL, &h, MESSAGES_BODY.as_bytes()),
            &s,
            now,
        ));
        assert!(
            reason.starts_with("no Authorization: Bearer JWT (Messages API)"),
            "{reason}"
        );
        let flat = r#"{"message_uuid":"m1","from":"14155550150","to":"14155550100","text":"STOP"}"#;
        assert_eq!(
            rejection(verify(&request("POST", URL, &h, flat.as_bytes()), &s, now)),
            "neither an Authorization: Bearer JWT (Messages API) nor a sig parameter (SMS API)"
        );
    }

    #[test]
    fn a_jwt_retried_within_a_day_is_accepted_and_stale_or_future_ones_are_not() {
        let iat = 1_795_867_200;
        let s = secrets(&[("signature_secret", SECRET)]);
        let authorization = messages_authorization(SECRET, MESSAGES_BODY.as_bytes(), iat, "j");
        let h = jwt_headers(&authorization);
        let req = request("POST", URL, &h, MESSAGES_BODY.as_bytes());
        assert_eq!(verify(&req, &s, at(iat + 24 * 3600)), Ok(()));
        let reason = rejection(verify(&req, &s, at(iat + MAX_AGE_SECONDS + 1)));
        assert!(reason.starts_with("the JWT iat is 90001 s old"), "{reason}");
        let reason = rejection(verify(&req, &s, at(iat - MAX_SKEW_SECONDS - 1)));
        assert!(reason.contains("301 s in the future"), "{reason}");
    }

    fn parse_with(
        method: &str,
        url: &str,
        content_type: &str,
        body: &str,
    ) -> Result<Parsed, WebhookError> {
        let h = headers(&[("content-type", content_type)]);
        parse(&request(method, url, &h, body.as_bytes()))
    }

    #[test]
    fn parses_sms_api_messages_from_every_delivery_method() {
        let want = InboundMessage {
            provider: Provider::Vonage.to_string(),
            message_id: "020000001B0FE827".into(),
            from: "+14843472194".into(),
            to: "+13239877404".into(),
            text: "Test again".into(),
            messaging_service: None,
            provider_time: Some(Utc.with_ymd_and_hms(2013, 11, 21, 15, 27, 30).unwrap()),
            provider_verdict: None,
            provider_intent: None,
        };
        let params = with_sig(SDK_SIGNATURES[0].1);
        let body = form(&params);
        let get_url = format!("{URL}?{body}");
        let json: serde_json::Map<String, Value> = params
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let json = Value::Object(json).to_string();
        for parsed in [
            parse_with("POST", URL, "application/x-www-form-urlencoded", &body),
            parse_with("GET", &get_url, "", ""),
            parse_with("POST", URL, "application/json; charset=utf-8", &json),
        ] {
            assert_eq!(one_message(parsed.unwrap()), want);
        }
        // Binary messages carry no text to classify; a short code stays as it is.
        let binary = form(&[
            ("messageId", "1"),
            ("msisdn", "14843472194"),
            ("to", "12345"),
            ("type", "binary"),
            ("data", "AAEC"),
        ]);
        let message = one_message(
            parse_with("POST", URL, "application/x-www-form-urlencoded", &binary).unwrap(),
        );
        assert_eq!((message.text.as_str(), message.to.as_str()), ("", "12345"));
        assert_eq!(message.provider_time, None);
    }

    #[test]
    fn sms_api_errors_name_the_field_and_receipts_are_ignored() {
        let full = [
            ("messageId", "1"),
            ("msisdn", "14843472194"),
            ("to", "13239877404"),
            ("text", "STOP"),
        ];
        for (i, field) in ["messageId", "msisdn", "to"].into_iter().enumerate() {
            let mut missing = full.to_vec();
            missing.remove(i);
            let body = form(&missing);
            assert_eq!(
                malformed_field(parse_with(
                    "POST",
                    URL,
                    "application/x-www-form-urlencoded",
                    &body
                )),
                field
            );
        }
        let mut bad_time = full.to_vec();
        bad_time.push(("message-timestamp", "2013-11-21T15:27:30Z"));
        assert_eq!(
            malformed_field(parse_with(
                "POST",
                URL,
                "application/x-www-form-urlencoded",
                &form(&bad_time)
            )),
            "message-timestamp"
        );
        for (body, field) in [
            ("not json", "body"),
            (r#"{"msisdn":["1"]}"#, "body"),
            ("[]", "body"),
        ] {
            assert_eq!(
                malformed_field(parse_with("POST", URL, "application/json", body)),
                field,
                "{body}"
            );
        }
        // A delivery receipt (Vonage's example, "Messaging Opted-out Numbers").
        let receipt = r#"{"msisdn":"447700900000","to":"AcmeInc","network-code":"12345","messageId":"aaaaaaaa-bbbb-cccc-dddd-0123456789ab","price":"0.00000000","status":"failed","scts":"2001011400","err-code":"9","api-key":"abcd1234","message-timestamp":"2020-01-01 12:00:00"}"#;
        assert!(matches!(
            parse_with("POST", URL, "application/json", receipt),
            Ok(Parsed::Ignored(_))
        ));
    }

    #[test]
    fn parses_messages_api_inbound_sms() {
        let message =
            one_message(parse_with("POST", URL, "application/json", MESSAGES_BODY).unwrap());
        assert_eq!(
            message,
            InboundMessage {
                provider: Provider::Vonage.to_string(),
                message_id: "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab".into(),
                from: "+14155550150".into(),
                to: "+14155550100".into(),
                text: "STOP".into(),
                messaging_service: None,
                provider_time: Some(Utc.with_ymd_and_hms(2026, 11, 28, 12, 0, 0).unwrap()),
                provider_verdict: None,
                provider_intent: None,
            }
        );
        // The v0.1 shape with number objects.
        let v01 = r#"{"message_uuid":"m1","to":{"type":"sms","number":"14155550100"},"from":{"type":"sms","number":"14155550150"},"timestamp":"2020-01-01T14:00:00.000Z","message":{"content":{"type":"text","text":"hi"}}}"#;
        let message = one_message(parse_with("POST", URL, "application/json", v01).unwrap());
        assert_eq!(
            (message.from.as_str(), message.text.as_str()),
            ("+14155550150", "")
        );
    }

    #[test]
    fn messages_api_errors_name_the_field_and_others_are_ignored() {
        for (edit, field) in [
            (
                MESSAGES_BODY.replace(r#""from":"14155550150","#, ""),
                "from",
            ),
            (
                MESSAGES_BODY.replace(r#""to":"14155550100","#, r#""to":{"type":"sms"},"#),
                "to.number",
            ),
            (
                MESSAGES_BODY.replace(r#""text":"STOP""#, r#""text":5"#),
                "text",
            ),
            (
                MESSAGES_BODY.replace("2026-11-28T12:00:00Z", "noon"),
                "timestamp",
            ),
            (
                MESSAGES_BODY.replace(r#""aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab""#, "null"),
                "message_uuid",
            ),
        ] {
            assert_eq!(
                malformed_field(parse_with("POST", URL, "application/json", &edit)),
                field,
                "{edit}"
            );
        }
        let status = r#"{"message_uuid":"m1","to":"14155550150","from":"14155550100","timestamp":"2020-01-01T14:00:00.000Z","status":"delivered","channel":"sms"}"#;
        let whatsapp = MESSAGES_BODY.replace(r#""channel":"sms""#, r#""channel":"whatsapp""#);
        for body in [status.to_string(), whatsapp] {
            assert!(
                matches!(
                    parse_with("POST", URL, "application/json", &body),
                    Ok(Parsed::Ignored(_))
                ),
                "{body}"
            );
        }
    }

    #[test]
    fn signing_strings_follow_the_sdks() {
        let params = owned(&[
            ("b", "x&y=z"),
            ("a", ""),
            ("sig", "ignored"),
            ("timestamp", "1"),
        ]);
        assert_eq!(
            signing_strings(&params),
            vec![
                "&a=&b=x_y_z&timestamp=1".to_string(),
                "&b=x_y_z&timestamp=1".to_string()
            ]
        );
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = headers(&[]);
        let too_big = vec![b'a'; MAX_BODY_BYTES + 1];
        let err = verify(
            &request("POST", URL, &h, &too_big),
            &secrets(&[]),
            Utc::now(),
        )
        .unwrap_err();
        assert!(matches!(err, WebhookError::Malformed { ref field, .. } if field == "body"));
        assert_eq!(
            malformed_field(parse(&request("POST", URL, &h, &too_big))),
            "body"
        );
    }

    #[test]
    fn replies_are_empty() {
        assert_eq!(reply(Some("You're unsubscribed")).body, "");
    }
}
