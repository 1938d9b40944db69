//! What the provider modules read webhooks with, where the rule is the same for all of them.
//! Wording that a provider's callers or tests rely on is passed in, so each provider still
//! speaks of its own fields and formats.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use subtle::{Choice, ConstantTimeEq};

use super::{ProviderReply, WebhookError, WebhookRequest};

/// Far above any webhook for one SMS (a 1,600-character text escaped twice, a Bandwidth array
/// of dozens of callbacks), so a larger body is not one worth parsing, hashing or verifying.
pub(crate) const MAX_BODY_BYTES: usize = 64 * 1024;

pub(crate) fn bad_signature(reason: &str) -> WebhookError {
    WebhookError::BadSignature(reason.to_string())
}

/// Refuses a body over [`MAX_BODY_BYTES`]; `what` names it in the reason ("an SMS webhook").
pub(crate) fn check_body_size(body: &[u8], what: &str) -> Result<(), WebhookError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::malformed(
            "body",
            format!("{} bytes, over the 64 KiB limit for {what}", body.len()),
        ));
    }
    Ok(())
}

/// The answer for providers that read only the status code.
pub(crate) fn empty_reply() -> ProviderReply {
    ProviderReply {
        content_type: "text/plain".to_string(),
        body: String::new(),
    }
}

pub(crate) fn json_body(body: &[u8]) -> Result<Value, WebhookError> {
    serde_json::from_slice(body)
        .map_err(|e| WebhookError::malformed("body", format!("not valid JSON: {e}")))
}

pub(crate) fn json_object_body(body: &[u8]) -> Result<Value, WebhookError> {
    let value = json_body(body)?;
    if !value.is_object() {
        return Err(WebhookError::malformed("body", "expected a JSON object"));
    }
    Ok(value)
}

/// A string field of `object`: absent, null and empty are `None`; any other type names `path`.
pub(crate) fn optional_string(
    object: &Value,
    name: &str,
    path: &str,
) -> Result<Option<String>, WebhookError> {
    string_field(object, name, path, str::is_empty)
}

/// A string field of `object`, kept as sent (it may be the person's text, which is evidence):
/// absent, null and blank are `None`; any other type names `name`.
pub(crate) fn non_blank_string(object: &Value, name: &str) -> Result<Option<String>, WebhookError> {
    string_field(object, name, name, |s| s.trim().is_empty())
}

fn string_field(
    object: &Value,
    name: &str,
    path: &str,
    absent: fn(&str) -> bool,
) -> Result<Option<String>, WebhookError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if absent(s) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(WebhookError::malformed(path, "must be a string")),
    }
}

/// A field the provider always sends; `promise` says so in the provider's own terms
/// ("Twilio always sends it with an inbound message").
pub(crate) fn required(
    value: Option<String>,
    path: &str,
    promise: &str,
) -> Result<String, WebhookError> {
    value.ok_or_else(|| WebhookError::malformed(path, format!("missing or empty; {promise}")))
}

/// An RFC 3339 time in a [`non_blank_string`] field; `unreadable` is the reason when it is not
/// one, worded as the provider's documentation names the format.
pub(crate) fn rfc3339(
    object: &Value,
    name: &str,
    unreadable: &str,
) -> Result<Option<DateTime<Utc>>, WebhookError> {
    non_blank_string(object, name)?
        .map(|s| {
            DateTime::parse_from_rfc3339(s.trim())
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| WebhookError::malformed(name, unreadable))
        })
        .transpose()
}

/// Names a field of `parent` by its path, so a 400 says where to look.
pub(crate) fn within(parent: &str, e: WebhookError) -> WebhookError {
    match e {
        WebhookError::Malformed { field, reason } => WebhookError::Malformed {
            field: format!("{parent}.{field}"),
            reason,
        },
        other => other,
    }
}

/// Sinch and Vonage write international numbers as bare digits (`447700900000`); short codes
/// have at most 6 digits, so a longer all-digit string is a number missing its `+`.
pub(crate) fn international(number: &str) -> String {
    let number = number.trim();
    if number.len() >= 8 && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{number}")
    } else {
        number.to_string()
    }
}

pub(crate) fn is_json(req: &WebhookRequest) -> bool {
    req.header("content-type").is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case("application/json")
    })
}

pub(crate) fn has_any_header(req: &WebhookRequest, names: &[&str]) -> bool {
    names.iter().any(|name| req.headers.contains_key(*name))
}

/// The URL's query string, without the fragment.
pub(crate) fn query(url: &str) -> &str {
    let without_fragment = url.split('#').next().unwrap_or_default();
    without_fragment
        .split_once('?')
        .map_or("", |(_, query)| query)
}

/// Decoded form pairs (`+` is a space), in order.
pub(crate) fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The first value of `name`, even an empty one.
pub(crate) fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// The first non-empty value of `name`: an empty form field is one the provider did not fill.
pub(crate) fn form_value(pairs: &[(String, String)], name: &str) -> Option<String> {
    pairs
        .iter()
        .find(|(key, value)| key == name && !value.is_empty())
        .map(|(_, value)| value.clone())
}

/// Escapes text for XML content and attributes. Characters XML 1.0 cannot carry even escaped
/// (C0 controls other than tab and line breaks, U+FFFE, U+FFFF) are dropped, since one of them
/// would make the provider reject the whole document.
pub(crate) fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            '\u{0}'..='\u{1f}' | '\u{fffe}' | '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// The MAC `M` of `parts` (fed in order, never concatenated into a copy) under `key`.
pub(crate) fn hmac_with<M: Mac + KeyInit>(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length, so this cannot fail; an empty result matches no signature.
    <M as Mac>::new_from_slice(key)
        .map(|mut mac| {
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        })
        .unwrap_or_default()
}

pub(crate) fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    hmac_with::<Hmac<Sha256>>(key, parts)
}

/// Whether `candidate` equals one of the `configured` secrets. Every value is compared, and
/// as SHA-256 digests, so the time taken says neither which one matched nor how long any is;
/// a [`Choice`] lets the caller combine several checks without short-circuiting either.
pub(crate) fn secret_matches(candidate: &[u8], configured: &[&str]) -> Choice {
    let candidate = Sha256::digest(candidate);
    configured.iter().fold(Choice::from(0), |found, secret| {
        found
            | Sha256::digest(secret.as_bytes())
                .as_slice()
                .ct_eq(candidate.as_slice())
    })
}

/// Refuses a signed time more than `max_skew` seconds from `now` either way; `what` names it.
/// Checks a signed time: at most `max_age` seconds old (how long the provider keeps
/// redelivering with the same signature) and at most `max_ahead` seconds in the future (clocks
/// out of step).
pub(crate) fn check_fresh(
    signed_at: i64,
    now: DateTime<Utc>,
    what: &str,
    max_age: i64,
    max_ahead: i64,
) -> Result<(), WebhookError> {
    // A signed but absurd timestamp must be refused, not overflow.
    let age = now.timestamp().saturating_sub(signed_at);
    if age > max_age {
        return Err(bad_signature(&format!(
            "{what} is {age} s old, outside the {max_age} s window (a replay, or a delivery \
             held up longer than the provider retries)"
        )));
    }
    if age < -max_ahead {
        return Err(bad_signature(&format!(
            "{what} is {} s in the future, more than the {max_ahead} s clocks may differ",
            -age
        )));
    }
    Ok(())
}

/// A provider's reasons for each way an `Authorization: Basic` header can be unreadable; the
/// reasons are part of what its callers and tests see.
pub(crate) struct BasicWording {
    pub not_basic: &'static str,
    pub not_base64: &'static str,
    pub no_colon: &'static str,
}

/// The user id and password of an `Authorization: Basic` header (RFC 7617), as bytes: they are
/// only ever compared, so they need not be UTF-8.
pub(crate) struct BasicCredentials {
    username: Vec<u8>,
    password: Vec<u8>,
}

impl BasicCredentials {
    pub(crate) fn read(header: &str, wording: &BasicWording) -> Result<Self, WebhookError> {
        let header = header.trim();
        // The scheme name is case-insensitive (RFC 7235 section 2.1).
        let (scheme, credentials) = header.split_once(' ').unwrap_or((header, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(bad_signature(wording.not_basic));
        }
        let decoded = BASE64
            .decode(credentials.trim())
            .map_err(|_| bad_signature(wording.not_base64))?;
        // RFC 7617: the user id cannot contain a colon, the password can.
        let colon = decoded
            .iter()
            .position(|&b| b == b':')
            .ok_or_else(|| bad_signature(wording.no_colon))?;
        Ok(BasicCredentials {
            username: decoded[..colon].to_vec(),
            password: decoded[colon + 1..].to_vec(),
        })
    }

    /// Whether the user id is one of `usernames` and the password one of `passwords`. Either
    /// may be mid-rotation, so any pairing passes; both are always checked, so the time taken
    /// says nothing about which part was wrong.
    pub(crate) fn match_any(&self, usernames: &[&str], passwords: &[&str]) -> bool {
        bool::from(
            secret_matches(&self.username, usernames) & secret_matches(&self.password, passwords),
        )
    }
}

#[cfg(test)]
mod freshness_tests {
    use chrono::TimeZone;

    #[test]
    fn absurd_signed_timestamps_are_refused_not_overflowed() {
        let now = chrono::Utc
            .with_ymd_and_hms(2026, 11, 28, 12, 0, 0)
            .single()
            .unwrap();
        let fresh = |at: i64| super::check_fresh(at, now, "the timestamp", 86_400, 300);
        assert!(fresh(i64::MIN).is_err());
        assert!(fresh(i64::MAX).is_err());
        assert!(fresh(now.timestamp() - 86_400).is_ok(), "a day-old retry");
        assert!(fresh(now.timestamp() - 86_401).is_err());
        assert!(fresh(now.timestamp() + 300).is_ok());
        assert!(fresh(now.timestamp() + 301).is_err());
    }
}
