//! Builders and unwrappers the provider modules' tests share. What a test asserts stays in the
//! test; these only build requests and take results apart.

use std::fmt::Debug;

use chrono::{DateTime, TimeZone as _, Utc};

use super::{InboundMessage, Parsed, ProviderSecrets, WebhookError, WebhookRequest};

pub(crate) fn headers(pairs: &[(&str, &str)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            http::HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

pub(crate) fn request<'a>(
    method: &'a str,
    url: &'a str,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
) -> WebhookRequest<'a> {
    WebhookRequest {
        method,
        url,
        headers,
        body,
    }
}

pub(crate) fn post<'a>(
    url: &'a str,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
) -> WebhookRequest<'a> {
    request("POST", url, headers, body)
}

/// `application/x-www-form-urlencoded`, in the order given.
pub(crate) fn form_string(params: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(params)
        .finish()
}

pub(crate) fn form(params: &[(&str, &str)]) -> Vec<u8> {
    form_string(params).into_bytes()
}

pub(crate) fn secrets(pairs: &[(&str, &str)]) -> ProviderSecrets {
    ProviderSecrets::from_pairs(pairs.iter().copied())
}

/// A Unix time in seconds.
pub(crate) fn at(unix: i64) -> DateTime<Utc> {
    Utc.timestamp_opt(unix, 0).single().unwrap()
}

/// The reason of a `BadSignature`; anything else fails the test.
pub(crate) fn rejection(result: Result<(), WebhookError>) -> String {
    match result {
        Err(WebhookError::BadSignature(reason)) => reason,
        other => panic!("expected BadSignature, got {other:?}"),
    }
}

/// The field of a `Malformed`; anything else fails the test.
pub(crate) fn malformed_field<T: Debug>(result: Result<T, WebhookError>) -> String {
    match result {
        Err(WebhookError::Malformed { field, .. }) => field,
        other => panic!("expected Malformed, got {other:?}"),
    }
}

/// The message of a request that carried exactly one; anything else fails the test.
pub(crate) fn one_message(parsed: Parsed) -> InboundMessage {
    match parsed {
        Parsed::Messages(mut messages) if messages.len() == 1 => messages.remove(0),
        other => panic!("expected one message, got {other:?}"),
    }
}
