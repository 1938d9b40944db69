//! Twilio Programmable Messaging inbound webhook: signature, message, TwiML reply. Pure.
//!
//! Twilio signs `X-Twilio-Signature = base64(HMAC(secret, url + params))`, where `url` is the
//! full webhook URL (query included, original encoding kept) and `params` is every POST form
//! parameter as `name + value`, names in byte order and the values of a repeated name sorted.
//! JSON bodies are bound by a `bodySHA256` query parameter instead of by `params`, and GET
//! webhooks carry everything in the already-signed query. The secret and hash are the account's
//! Auth Token with SHA-1, or, when a Webhooks rule applies (header
//! `X-Twilio-Webhooks-Signature-Settings`), the rule's shared key with the algorithm it names.
//! See PROVIDERS.md section 3.1 and Twilio's SDK validators (twilio-python
//! `twilio/request_validator.py`, twilio-node `src/webhooks/webhooks.ts`).

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha1::Sha1;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::{InboundMessage, Provider, ProviderReply, WebhookError, WebhookRequest};

const SIGNATURE_HEADER: &str = "x-twilio-signature";
const SETTINGS_HEADER: &str = "x-twilio-webhooks-signature-settings";

/// Far above any SMS webhook (a 1,600-character body plus Twilio's 30-odd fields), so a
/// larger body is not a message we want to parse or hash.
const MAX_BODY_BYTES: usize = 64 * 1024;

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
    check_body_size(req.body)?;
    let signature = req
        .header(SIGNATURE_HEADER)
        .ok_or_else(|| bad_signature("missing X-Twilio-Signature"))?;
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| bad_signature("X-Twilio-Signature is not base64"))?;

    let settings = req.header(SETTINGS_HEADER);
    let (algorithm, secrets, secret_name) = match settings {
        None => (Algorithm::Sha1, auth_tokens, "auth_token"),
        Some(settings) => (Algorithm::from_settings(settings)?, webhook_keys, "webhook_key"),
    };
    // An empty key is a key anyone can sign with.
    let secrets: Vec<&[u8]> = secrets.iter().filter(|s| !s.is_empty()).map(|s| s.as_bytes()).collect();
    if secrets.is_empty() {
        let why = if settings.is_some() {
            " (X-Twilio-Webhooks-Signature-Settings says a Webhooks shared key signed this request)"
        } else {
            ""
        };
        return Err(bad_signature(&format!("no {secret_name} is configured{why}")));
    }

    let kind = body_kind(req);
    let signed_params = match kind {
        BodyKind::Form => form_signing_string(req.body),
        BodyKind::Query | BodyKind::Json => String::new(),
    };
    let claimed_body_hash = match kind {
        BodyKind::Json => Some(query_param(req.url, "bodySHA256").ok_or_else(|| {
            bad_signature("JSON body but the URL has no bodySHA256 parameter")
        })?),
        BodyKind::Form | BodyKind::Query => None,
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
    check_body_size(req.body)?;
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
            format!("{XML_DECLARATION}<Response><Message>{}</Message></Response>", xml_escape(text))
        }
    };
    ProviderReply { content_type: "text/xml".to_string(), body }
}

/// The `X-Twilio-Signature` Twilio sends for a form POST of `form_body` to `url`, signed with
/// the Auth Token: what local examples and tests send.
pub fn sign(auth_token: &str, url: &str, form_body: &[u8]) -> String {
    let params = form_signing_string(form_body);
    BASE64.encode(Algorithm::Sha1.mac(auth_token.as_bytes(), &[url.as_bytes(), params.as_bytes()]))
}

fn bad_signature(reason: &str) -> WebhookError {
    WebhookError::BadSignature(reason.to_string())
}

fn check_body_size(body: &[u8]) -> Result<(), WebhookError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::malformed(
            "body",
            format!("{} bytes, over the 64 KiB limit for an SMS webhook", body.len()),
        ));
    }
    Ok(())
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
                "X-Twilio-Webhooks-Signature-Settings names an algorithm other than HMAC_SHA256 or HMAC_SHA1",
            )),
            None => Err(bad_signature("X-Twilio-Webhooks-Signature-Settings has no algorithm")),
        }
    }

    fn name(self) -> &'static str {
        match self {
            Algorithm::Sha1 => "HMAC_SHA1",
            Algorithm::Sha256 => "HMAC_SHA256",
        }
    }

    fn mac(self, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac>(mut mac: M, parts: &[&[u8]]) -> Vec<u8> {
            for part in parts {
                mac.update(part);
            }
            mac.finalize().into_bytes().to_vec()
        }
        // HMAC takes keys of any length, so these constructors cannot fail; an empty result
        // would simply match no signature.
        match self {
            Algorithm::Sha1 => Hmac::<Sha1>::new_from_slice(key).map(|m| run(m, parts)),
            Algorithm::Sha256 => Hmac::<Sha256>::new_from_slice(key).map(|m| run(m, parts)),
        }
        .unwrap_or_default()
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
    let is_json = req.header("content-type").is_some_and(|value| {
        let media_type = value.split(';').next().unwrap_or_default().trim();
        media_type.eq_ignore_ascii_case("application/json")
    });
    if is_json {
        BodyKind::Json
    } else if req.method.eq_ignore_ascii_case("GET") {
        BodyKind::Query
    } else {
        BodyKind::Form
    }
}

/// Decoded form pairs (`+` is a space), in body order.
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(body).into_owned().collect()
}

/// `name + value` for every parameter: names in byte order, a repeated name once per
/// distinct value with its values sorted. Identical repeated pairs count once, as in every
/// Twilio SDK (twilio-php's test sends `Digits` = 5678, 1234, 1234 and expects the same
/// signature as for 5678, 1234).
fn form_signing_string(body: &[u8]) -> String {
    let mut pairs = form_pairs(body);
    pairs.sort();
    pairs.dedup();
    pairs.into_iter().map(|(name, value)| name + &value).collect()
}

/// The URL's query string, without the fragment.
fn query(url: &str) -> &str {
    let without_fragment = url.split('#').next().unwrap_or_default();
    without_fragment.split_once('?').map_or("", |(_, query)| query)
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
        let end = url[start..].find(['/', '?', '#']).map_or(url.len(), |i| start + i);
        let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
        let host_and_port = &url[host_start..end];
        let host_end = match host_and_port.rfind(':') {
            // A colon inside `[...]` belongs to an IPv6 address, not to a port.
            Some(i) if !host_and_port[i..].contains(']') => host_start + i,
            _ => end,
        };
        Some(Authority { scheme: &url[..scheme_end], host_end, port_end: end })
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
    let get = |name: &str| {
        pairs
            .iter()
            .find(|(key, value)| key == name && !value.is_empty())
            .map(|(_, value)| value.clone())
    };
    let message_id = get("MessageSid").or_else(|| get("SmsMessageSid")).or_else(|| get("SmsSid"));
    Ok(InboundMessage {
        provider: Provider::Twilio,
        message_id: required(message_id, "MessageSid")?,
        from: required(get("From"), "From")?,
        to: required(get("To"), "To")?,
        text: get("Body").unwrap_or_default(),
        messaging_service: get("MessagingServiceSid"),
        provider_time: None,
        provider_verdict: get("OptOutType"),
    })
}

/// An Event Streams `inbound-message.received` event: the CloudEvent (alone or in a batch
/// of one) or just its `data` object.
fn json_message(body: &[u8]) -> Result<InboundMessage, WebhookError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| WebhookError::malformed("body", format!("not valid JSON: {e}")))?;
    let event = match value {
        Value::Array(mut events) if events.len() == 1 => events.remove(0),
        Value::Array(events) => {
            return Err(WebhookError::malformed(
                "body",
                format!("{} events in one request; send one inbound message per request", events.len()),
            ));
        }
        other => other,
    };
    // Status events (delivered, failed...) also carry messageSid, from and to; taking one
    // for an inbound message would record our own sender as having texted us.
    if let Some(kind) = event.get("type").and_then(Value::as_str)
        && kind != INBOUND_EVENT_TYPE
    {
        return Err(WebhookError::malformed("type", format!("expected {INBOUND_EVENT_TYPE}")));
    }
    let data = event.get("data").unwrap_or(&event);
    if !data.is_object() {
        return Err(WebhookError::malformed("body", "expected a JSON object"));
    }
    let get = |name: &str| -> Result<Option<String>, WebhookError> {
        match data.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) if s.is_empty() => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(WebhookError::malformed(name, "must be a string")),
        }
    };
    Ok(InboundMessage {
        provider: Provider::Twilio,
        message_id: required(get("messageSid")?, "messageSid")?,
        from: required(get("from")?, "from")?,
        to: required(get("to")?, "to")?,
        text: get("body")?.unwrap_or_default(),
        messaging_service: get("messagingServiceSid")?,
        provider_time: None,
        provider_verdict: None,
    })
}

fn required(value: Option<String>, field: &str) -> Result<String, WebhookError> {
    value.ok_or_else(|| WebhookError::malformed(field, "missing or empty; Twilio always sends it with an inbound message"))
}

/// Escapes text for an XML element. Characters XML 1.0 cannot carry even escaped (C0
/// controls other than tab and line breaks, U+FFFE, U+FFFF) are dropped, since one of them
/// would make Twilio reject the whole document.
fn xml_escape(text: &str) -> String {
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
