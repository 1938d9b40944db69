//! Plivo inbound message webhooks: V3 (or V2) signature, form parameters, Plivo XML reply. Pure.
//!
//! V3 (`X-Plivo-Signature-V3`, and `X-Plivo-Signature-Ma-V3` signed with the main account's
//! token) is `base64(HMAC-SHA256(auth_token, signing_url + "." + nonce))`, with the nonce in
//! `X-Plivo-Signature-V3-Nonce`. The signing URL is the called URL without its query, plus:
//! for GET, `?` and the query's parameters as `k=v` joined by `&`; for POST, `?` and the same
//! sorted query (when there is a query or a form), a `.` when there are both, then every form
//! parameter as `name + value`. Names sort in byte order and a repeated name's values sort too.
//! A header may list several signatures separated by commas (one per active token); any one
//! matching suffices. This follows plivo-python `plivo/utils/signature_v3.py`, plivo-node
//! `lib/utils/v3Security.js` and plivo-go `utils.go` `GenerateUrl`, including their
//! disagreements resolved the Python way (query values decoded, a trailing `/` kept), which
//! is what the SDKs' shared test vectors require.
//!
//! V2 (`X-Plivo-Signature-V2` or `-Ma-V2` with `X-Plivo-Signature-V2-Nonce`) signs only
//! `url without query + nonce`, not the parameters. Plivo's messaging docs
//! (docs.plivo.com/docs/messaging/xml/request and messaging/concepts/signature-validation)
//! document V2 as what message URLs receive, so it is accepted, but only from a request that
//! carries no V3 signature at all: once Plivo sends V3 it is authoritative, and a request whose
//! V3 fails is never given a second chance under the weaker scheme. See docs/providers.md, "Plivo".

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, Utc};
use subtle::ConstantTimeEq;

use super::common::{
    bad_signature, check_body_size, form_pairs, form_value, has_any_header, hmac_sha256, query,
    xml_escape,
};
use super::{
    InboundMessage, Parsed, Provider, ProviderReply, ProviderSecrets, WebhookError, WebhookRequest,
};

/// The secret names `stopgate provider set <tenant> plivo` accepts.
pub const SECRET_NAMES: &[&str] = &["auth_token"];
/// The tenant setting that refuses V2 signatures (they sign no body, so only the stored nonce
/// stops a replay of one with another body).
pub const REQUIRE_V3: &str = "require_v3";

const V3_SIGNATURE_HEADERS: [&str; 2] = ["x-plivo-signature-v3", "x-plivo-signature-ma-v3"];
const V3_NONCE_HEADER: &str = "x-plivo-signature-v3-nonce";
const V2_SIGNATURE_HEADERS: [&str; 2] = ["x-plivo-signature-v2", "x-plivo-signature-ma-v2"];
const V2_NONCE_HEADER: &str = "x-plivo-signature-v2-nonce";

/// Short codes have at most six digits; a longer all-digit number is a full international one.
const SHORT_CODE_MAX_DIGITS: usize = 6;

/// What the body-size limit calls a request.
const REQUEST_KIND: &str = "an SMS webhook";

/// Checks that Plivo sent `req`. Plivo sends no timestamp, so `_now` plays no part.
pub fn verify(
    req: &WebhookRequest,
    secrets: &ProviderSecrets,
    _now: DateTime<Utc>,
) -> Result<(), WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let tokens = secrets.get("auth_token");
    if tokens.is_empty() {
        return Err(bad_signature("no auth_token is configured"));
    }
    let (scheme, signatures, signed) = if has_any_header(req, &V3_SIGNATURE_HEADERS) {
        let nonce = req.header(V3_NONCE_HEADER).ok_or_else(|| {
            bad_signature("X-Plivo-Signature-V3 without X-Plivo-Signature-V3-Nonce")
        })?;
        let signed = format!("{}.{nonce}", v3_signing_url(req.method, req.url, req.body));
        ("V3", signatures(req, &V3_SIGNATURE_HEADERS), signed)
    } else if has_any_header(req, &V2_SIGNATURE_HEADERS) && secrets.enabled(REQUIRE_V3) {
        return Err(bad_signature(
            "a V2 signature, but this tenant requires V3 (require_v3=true)",
        ));
    } else if has_any_header(req, &V2_SIGNATURE_HEADERS) {
        let nonce = req.header(V2_NONCE_HEADER).ok_or_else(|| {
            bad_signature("X-Plivo-Signature-V2 without X-Plivo-Signature-V2-Nonce")
        })?;
        let signed = format!("{}{nonce}", without_query(req.url));
        ("V2", signatures(req, &V2_SIGNATURE_HEADERS), signed)
    } else {
        return Err(bad_signature(
            "missing X-Plivo-Signature-V3 (and no X-Plivo-Signature-V2)",
        ));
    };
    let matched = tokens.iter().any(|token| {
        let expected = hmac_sha256(token.as_bytes(), &[signed.as_bytes()]);
        signatures
            .iter()
            .any(|signature| bool::from(expected.as_slice().ct_eq(signature)))
    });
    if matched {
        Ok(())
    } else {
        Err(bad_signature(&format!(
            "no configured auth_token matched the {scheme} signature; check that PUBLIC_BASE_URL \
             is the URL configured in Plivo and that the token is the one of the (sub)account \
             that owns the number (or the main account's, for -Ma- signatures)"
        )))
    }
}

/// The nonce of the scheme that signed `req` (V3 when present, else V2): Stopgate stores it so
/// no nonce is accepted twice with another body. A V2 signature covers no body, so one seen
/// pair of (nonce, signature) would otherwise carry any text.
pub fn nonce(req: &WebhookRequest) -> Option<String> {
    if has_any_header(req, &V3_SIGNATURE_HEADERS) {
        req.header(V3_NONCE_HEADER).map(|n| format!("v3:{n}"))
    } else {
        req.header(V2_NONCE_HEADER).map(|n| format!("v2:{n}"))
    }
}

/// Reads the inbound message from a verified request (form body, or the query for GET).
pub fn parse(req: &WebhookRequest) -> Result<Parsed, WebhookError> {
    check_body_size(req.body, REQUEST_KIND)?;
    let pairs = if is_get(req.method) {
        form_pairs(query(req.url).as_bytes())
    } else {
        form_pairs(req.body)
    };
    let get = |name: &str| form_value(&pairs, name);
    // A delivery report posted to the message URL carries From/To/MessageUUID as well, but
    // of our own outbound text: taking it for an inbound one would record our number as the
    // sender. Inbound messages have Text (possibly empty) and no Status.
    let has = |name: &str| pairs.iter().any(|(key, _)| key == name);
    if let Some(status) = get("Status")
        && !has("Text")
    {
        return Ok(Parsed::Ignored(format!(
            "plivo message status callback (Status={status})"
        )));
    }
    // Type (sms, mms, and whatsapp on WhatsApp numbers) is not a reason to drop a message: a
    // revocation by any reasonable means counts, whatever the channel.
    Ok(Parsed::Messages(vec![InboundMessage {
        provider: Provider::Plivo.to_string(),
        message_id: required(get("MessageUUID"), "MessageUUID")?,
        from: international(required(get("From"), "From")?),
        to: international(required(get("To"), "To")?),
        text: get("Text").unwrap_or_default(),
        messaging_service: None,
        provider_time: None,
        provider_verdict: None,
        provider_intent: None,
    }]))
}

/// The success answer: always an empty `<Response/>`.
///
/// A `<Message>` needs `src` (the business number) and `dst` (the person), and this function
/// is given only the text, so it cannot write one; Plivo rejects a `<Message>` without them.
/// [`reply_to`] writes the reply once the caller passes the message it answers.
pub fn reply(_text: Option<&str>) -> ProviderReply {
    xml("<Response/>".to_string())
}

/// The answer to `message`: one SMS from the number it was sent to back to its sender, or an
/// empty `<Response/>` when there is no text.
pub fn reply_to(message: &InboundMessage, text: Option<&str>) -> ProviderReply {
    match text.filter(|t| !t.is_empty()) {
        None => reply(None),
        Some(text) => xml(format!(
            r#"<Response><Message src="{}" dst="{}" type="sms">{}</Message></Response>"#,
            xml_escape(plivo_number(&message.to)),
            xml_escape(plivo_number(&message.from)),
            xml_escape(text)
        )),
    }
}

/// A number back in Plivo's own form, without the `+` [`parse`] added.
fn plivo_number(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

/// The `X-Plivo-Signature-V3` Plivo sends for `method` to `url` with form `body`, signed with
/// `auth_token` and `nonce`: what tests and local examples send.
pub fn sign_v3(auth_token: &str, method: &str, url: &str, body: &[u8], nonce: &str) -> String {
    let signed = format!("{}.{nonce}", v3_signing_url(method, url, body));
    BASE64.encode(hmac_sha256(auth_token.as_bytes(), &[signed.as_bytes()]))
}

/// The `X-Plivo-Signature-V2` Plivo sends to `url` with `nonce`.
pub fn sign_v2(auth_token: &str, url: &str, nonce: &str) -> String {
    let signed = format!("{}{nonce}", without_query(url));
    BASE64.encode(hmac_sha256(auth_token.as_bytes(), &[signed.as_bytes()]))
}

/// Plivo writes numbers in international form without the `+` (`14155550147`), which a
/// default region would misread (`447700900123` is no US number); a short code stays as sent.
fn international(number: String) -> String {
    if number.len() > SHORT_CODE_MAX_DIGITS && number.bytes().all(|b| b.is_ascii_digit()) {
        format!("+{number}")
    } else {
        number
    }
}

fn v3_signing_url(method: &str, url: &str, body: &[u8]) -> String {
    let base = without_query(url);
    let sorted_query = sorted_query(&form_pairs(query(url).as_bytes()));
    if is_get(method) {
        // A GET's parameters are its query, already in the URL.
        return if sorted_query.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{sorted_query}")
        };
    }
    let params = form_pairs(body);
    let mut signed = base.to_string();
    if !sorted_query.is_empty() || !params.is_empty() {
        signed.push('?');
        signed.push_str(&sorted_query);
    }
    if !sorted_query.is_empty() && !params.is_empty() {
        signed.push('.');
    }
    for (name, values) in grouped(&params) {
        for value in values {
            signed.push_str(name);
            signed.push_str(value);
        }
    }
    signed
}

/// `k=v&k=v`, names in byte order and each name's values sorted.
fn sorted_query(pairs: &[(String, String)]) -> String {
    let mut parts = Vec::with_capacity(pairs.len());
    for (name, values) in grouped(pairs) {
        for value in values {
            parts.push(format!("{name}={value}"));
        }
    }
    parts.join("&")
}

fn grouped(pairs: &[(String, String)]) -> BTreeMap<&str, Vec<&str>> {
    let mut grouped: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (name, value) in pairs {
        grouped.entry(name).or_default().push(value);
    }
    for values in grouped.values_mut() {
        values.sort_unstable();
    }
    grouped
}

/// Every signature in the named headers, decoded; pieces that are not base64 cannot match.
fn signatures(req: &WebhookRequest, names: &[&str]) -> Vec<Vec<u8>> {
    names
        .iter()
        .flat_map(|name| req.headers.get_all(*name))
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|piece| !piece.is_empty())
        .filter_map(|piece| BASE64.decode(piece).ok())
        .collect()
}

fn is_get(method: &str) -> bool {
    method.eq_ignore_ascii_case("GET")
}

/// `scheme://host[:port]/path` as called, without query or fragment.
fn without_query(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or_default()
}

fn required(value: Option<String>, field: &str) -> Result<String, WebhookError> {
    super::common::required(
        value,
        field,
        "Plivo always sends it with an inbound message",
    )
}

fn xml(body: String) -> ProviderReply {
    ProviderReply {
        content_type: "text/xml".to_string(),
        body,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::providers::common::MAX_BODY_BYTES;
    use crate::providers::test_support::{
        form, form_string, headers, malformed_field, rejection, request,
    };

    // The V3 vectors shared by Plivo's SDK tests: plivo/plivo-go `utils_test.go`
    // (TestValidateSignatureV3Pass1-4), plivo/plivo-ruby `spec/signature_spec.rb` and
    // plivo/plivo-dotnet `tests/Plivo.Test/TestSignatureV3.cs` (whose Pass2 drops the query
    // by mistake; the Go and Ruby copies keep it, and only those verify).
    const V3_URL: &str = "https://plivobin.non-prod.plivops.com/api/v1/validate_signature03.xml";
    const V3_NONCE: &str = "31627761595286130198";
    const V3_TOKEN: &str = "Y2Q2ZDgxZmY5YWRiOTI5YmQ1Njg0MTAxZWIyOTc4";
    const V3_PARAMS: [(&str, &str); 13] = [
        ("Direction", "outbound"),
        ("From", "19792014278"),
        ("ALegUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallStatus", "in-progress"),
        ("BillRate", "0.002"),
        ("ParentAuthID", "MANWVLYTK4ZWU1YTY4QA"),
        (
            "To",
            "sip:PlivoSignature382029104058171078704104@phone-qa.voice.plivodev.com",
        ),
        ("ALegRequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("CallUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        ("RequestUUID", "3e82ae9d-2c78-4d85-b1a4-6eae7dbafb36"),
        (
            "SIP-H-To",
            "<sip:PlivoSignature382029104058171078704104@52.9.11.55;transport=udp>;tag=1",
        ),
        ("SessionStart", "2020-04-08 11:34:33.238707"),
        ("Event", "StartApp"),
    ];

    // The V2 vectors: plivo/plivo-python `tests/resources/test_signature.py`, plivo/plivo-node
    // `test/utils.js` (with the port variants), plivo/plivo-go `utils_test.go`,
    // plivo/plivo-ruby `spec/signature_spec.rb`, plivo/plivo-dotnet `TestSignature.cs`.
    const V2_VECTORS: [(&str, &str, &str, &str); 3] = [
        (
            "https://answer.url",
            "12345",
            "my_auth_token",
            "ehV3IKhLysWBxC1sy8INm0qGoQYdYsHwuoKjsX7FsXc=",
        ),
        (
            "https://answer.url:8000",
            "24725744043720739450",
            "my_auth_token",
            "LDphWoWimP4QM5AoWI1uwP6WmlWtt5ITPZjXIWYvCNU=",
        ),
        (
            "https://answer.url:8080",
            "123456",
            "my_auth_tokens",
            "xeV6S6BPIQJ/rgKCjCm/Fo2ve5zNe1fatQoHyRT8vxQ=",
        ),
    ];

    const URL: &str = "https://api.stopgate.example/v1/webhooks/plivo/events-demo";
    const TOKEN: &str = "MAXXXXXXXXXXXXXXXXXXstopgate-token";

    fn tokens(values: &[&str]) -> ProviderSecrets {
        ProviderSecrets::from_pairs(values.iter().map(|v| ("auth_token", *v)))
    }

    fn v3_headers(signature: &str, nonce: &str) -> http::HeaderMap {
        headers(&[
            ("content-type", "application/x-www-form-urlencoded"),
            ("x-plivo-signature-v3", signature),
            ("x-plivo-signature-v3-nonce", nonce),
        ])
    }

    fn check_v3(method: &str, url: &str, body: &[u8], signature: &str) -> Result<(), WebhookError> {
        let h = v3_headers(signature, V3_NONCE);
        verify(
            &request(method, url, &h, body),
            &tokens(&[V3_TOKEN]),
            Utc::now(),
        )
    }

    #[test]
    fn official_v3_vectors() {
        let body = form(&V3_PARAMS);
        // Pass1: POST to a URL with a query and a trailing slash before it.
        let with_query = format!("{V3_URL}/?a=b&c=d");
        assert_eq!(
            check_v3(
                "POST",
                &with_query,
                &body,
                "k7Pusd4OxCIjR5IfA9iedDNu/h/gbdYqdzG/MiYtd1c="
            ),
            Ok(())
        );
        // Pass3: POST without a query.
        assert_eq!(
            check_v3(
                "POST",
                V3_URL,
                &body,
                "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
            ),
            Ok(())
        );
        // Pass2 and Pass4: GET, whose parameters Plivo sends in the query (the SDKs are given
        // them separately and merge them into it).
        let query = form_string(&V3_PARAMS);
        let get = format!("{V3_URL}/?a=b&c=d&{query}");
        assert_eq!(
            check_v3(
                "GET",
                &get,
                b"",
                "UBq8jAtd32wR8EK9VgxbBn4n5rpI/l1H9iN4WfSEHFQ="
            ),
            Ok(())
        );
        let get = format!("{V3_URL}?{query}");
        assert_eq!(
            check_v3(
                "GET",
                &get,
                b"",
                "i/MQsaQSAd6fiKhOh2qeeeLHZ9faldADSb3/7+Akfbc="
            ),
            Ok(())
        );
        // The helper agrees with the vectors.
        assert_eq!(
            sign_v3(V3_TOKEN, "POST", V3_URL, &body, V3_NONCE),
            "iAjE5QqI37mbkYe4w3jTMudqEzbDufdqi7sYwTu64e0="
        );
    }

    #[test]
    fn v3_signing_string_matches_the_sdk_construction() {
        // Spelled out from plivo-python's construct_post_url / construct_get_url, so the
        // canonical form is checked against the spec rather than against itself.
        let body = form(&[("Text", "Stop it"), ("From", "+1"), ("A", "2"), ("A", "1")]);
        assert_eq!(
            v3_signing_url("POST", "https://h.example/p?z=1&y=%20", &body),
            "https://h.example/p?y= &z=1.A1A2From+1TextStop it"
        );
        assert_eq!(
            v3_signing_url("POST", "https://h.example/p", b""),
            "https://h.example/p"
        );
        assert_eq!(
            v3_signing_url("POST", "https://h.example/p?q=1", b""),
            "https://h.example/p?q=1"
        );
        assert_eq!(
            v3_signing_url("POST", "https://h.example/p", b"Text="),
            "https://h.example/p?Text"
        );
        assert_eq!(
            v3_signing_url("GET", "https://h.example/p?b=2&a=1&a=0#frag", b"ignored=1"),
            "https://h.example/p?a=0&a=1&b=2"
        );
        assert_eq!(
            v3_signing_url("get", "https://h.example:8443/p/", b""),
            "https://h.example:8443/p/"
        );
    }

    #[test]
    fn official_v2_vectors() {
        for (url, nonce, token, signature) in V2_VECTORS {
            assert_eq!(sign_v2(token, url, nonce), signature, "{url}");
            let h = headers(&[
                ("x-plivo-signature-v2", signature),
                ("x-plivo-signature-v2-nonce", nonce),
            ]);
            let req = request("POST", url, &h, b"");
            assert_eq!(verify(&req, &tokens(&[token]), Utc::now()), Ok(()), "{url}");
            // plivo-python: the same signature with "my_auth_tokens" fails; plivo-node: the
            // same signature with a port added fails.
            assert!(verify(&req, &tokens(&["my_auth_tokens!"]), Utc::now()).is_err());
        }
        let h = headers(&[
            ("x-plivo-signature-v2", V2_VECTORS[0].3),
            ("x-plivo-signature-v2-nonce", "12345"),
        ]);
        let with_port = request("POST", "https://answer.url:8080", &h, b"");
        assert!(verify(&with_port, &tokens(&["my_auth_token"]), Utc::now()).is_err());
        // The query is not part of a V2 signature.
        let with_query = request("POST", "https://answer.url?x=1", &h, b"");
        assert_eq!(
            verify(&with_query, &tokens(&["my_auth_token"]), Utc::now()),
            Ok(())
        );
    }

    fn inbound(text: &str) -> Vec<u8> {
        form(&[
            ("From", "14155550147"),
            ("To", "14155550100"),
            ("Type", "sms"),
            ("Text", text),
            ("MessageUUID", "2a3f4c5e-6d7e-11ee-b962-0242ac120002"),
            ("Units", "1"),
            ("TotalRate", "0.00000"),
            ("TotalAmount", "0.00000"),
        ])
    }

    #[test]
    fn forged_unsigned_tampered_and_wrong_token_are_refused() {
        let body = inbound("STOP");
        let good = sign_v3(TOKEN, "POST", URL, &body, "9001");
        let h = v3_headers(&good, "9001");
        let secrets = tokens(&[TOKEN]);
        assert_eq!(
            verify(&request("POST", URL, &h, &body), &secrets, Utc::now()),
            Ok(())
        );

        let forged = sign_v3("not-the-token", "POST", URL, &body, "9001");
        let fh = v3_headers(&forged, "9001");
        let reason = rejection(verify(
            &request("POST", URL, &fh, &body),
            &secrets,
            Utc::now(),
        ));
        assert!(
            reason.starts_with("no configured auth_token matched the V3"),
            "{reason}"
        );

        let none = headers(&[("content-type", "application/x-www-form-urlencoded")]);
        let reason = rejection(verify(
            &request("POST", URL, &none, &body),
            &secrets,
            Utc::now(),
        ));
        assert_eq!(
            reason,
            "missing X-Plivo-Signature-V3 (and no X-Plivo-Signature-V2)"
        );
        let no_nonce = headers(&[("x-plivo-signature-v3", &good)]);
        let reason = rejection(verify(
            &request("POST", URL, &no_nonce, &body),
            &secrets,
            Utc::now(),
        ));
        assert_eq!(
            reason,
            "X-Plivo-Signature-V3 without X-Plivo-Signature-V3-Nonce"
        );

        // The body, the nonce, the URL and the method are all signed.
        let tampered = inbound("START");
        assert!(verify(&request("POST", URL, &h, &tampered), &secrets, Utc::now()).is_err());
        let mut extra = body.clone();
        extra.extend_from_slice(b"&Extra=1");
        assert!(verify(&request("POST", URL, &h, &extra), &secrets, Utc::now()).is_err());
        let other_nonce = v3_headers(&good, "9002");
        assert!(
            verify(
                &request("POST", URL, &other_nonce, &body),
                &secrets,
                Utc::now()
            )
            .is_err()
        );
        let other_tenant = URL.replace("events-demo", "someone-else");
        assert!(
            verify(
                &request("POST", &other_tenant, &h, &body),
                &secrets,
                Utc::now()
            )
            .is_err()
        );
        assert!(verify(&request("GET", URL, &h, &body), &secrets, Utc::now()).is_err());

        assert!(
            verify(
                &request("POST", URL, &h, &body),
                &tokens(&["wrong"]),
                Utc::now()
            )
            .is_err()
        );
        for empty in [ProviderSecrets::default(), tokens(&[""])] {
            let reason = rejection(verify(&request("POST", URL, &h, &body), &empty, Utc::now()));
            assert_eq!(reason, "no auth_token is configured");
        }
        let junk = v3_headers("%%%,,", "9001");
        assert!(verify(&request("POST", URL, &junk, &body), &secrets, Utc::now()).is_err());
    }

    #[test]
    fn several_signatures_and_rotated_tokens() {
        let body = inbound("STOP");
        let old = sign_v3("old-token", "POST", URL, &body, "77");
        let new = sign_v3(TOKEN, "POST", URL, &body, "77");
        // Plivo lists one signature per active token; any configured token matching any one passes.
        let listed = format!("{old}, {new}");
        let h = v3_headers(&listed, "77");
        let req = request("POST", URL, &h, &body);
        assert_eq!(verify(&req, &tokens(&[TOKEN]), Utc::now()), Ok(()));
        assert_eq!(verify(&req, &tokens(&["old-token"]), Utc::now()), Ok(()));
        let h = v3_headers(&old, "77");
        let req = request("POST", URL, &h, &body);
        // While rotating, the new token is first and the previous one second.
        assert_eq!(
            verify(&req, &tokens(&[TOKEN, "old-token"]), Utc::now()),
            Ok(())
        );
        assert!(verify(&req, &tokens(&[TOKEN]), Utc::now()).is_err());

        // X-Plivo-Signature-Ma-V3 is signed with the main account's token.
        let ma = sign_v3("main-account-token", "POST", URL, &body, "77");
        let h = headers(&[
            ("x-plivo-signature-v3", &new),
            ("x-plivo-signature-ma-v3", &ma),
            ("x-plivo-signature-v3-nonce", "77"),
        ]);
        let req = request("POST", URL, &h, &body);
        assert_eq!(
            verify(&req, &tokens(&["main-account-token"]), Utc::now()),
            Ok(())
        );
        assert_eq!(verify(&req, &tokens(&[TOKEN]), Utc::now()), Ok(()));
    }

    #[test]
    fn a_tenant_may_refuse_v2() {
        let body = inbound("STOP");
        let h = headers(&[
            ("x-plivo-signature-v2", &sign_v2(TOKEN, URL, "55")),
            ("x-plivo-signature-v2-nonce", "55"),
        ]);
        let strict =
            tokens(&[TOKEN]).with_settings([(REQUIRE_V3.to_string(), "true".to_string())].into());
        let reason = rejection(verify(
            &request("POST", URL, &h, &body),
            &strict,
            Utc::now(),
        ));
        assert!(reason.contains("requires V3"), "{reason}");
        let nonce = "31413783521562917491";
        let v3 = headers(&[
            (
                "x-plivo-signature-v3",
                &sign_v3(TOKEN, "POST", URL, &body, nonce),
            ),
            ("x-plivo-signature-v3-nonce", nonce),
        ]);
        assert_eq!(
            verify(&request("POST", URL, &v3, &body), &strict, Utc::now()),
            Ok(())
        );
    }

    #[test]
    fn v2_only_without_v3() {
        let body = inbound("STOP");
        let v2 = sign_v2(TOKEN, URL, "55");
        let h = headers(&[
            ("x-plivo-signature-v2", &v2),
            ("x-plivo-signature-v2-nonce", "55"),
        ]);
        assert_eq!(
            verify(
                &request("POST", URL, &h, &body),
                &tokens(&[TOKEN]),
                Utc::now()
            ),
            Ok(())
        );
        let ma = headers(&[
            ("x-plivo-signature-ma-v2", &sign_v2("main-token", URL, "55")),
            ("x-plivo-signature-v2-nonce", "55"),
        ]);
        assert_eq!(
            verify(
                &request("POST", URL, &ma, &body),
                &tokens(&["main-token"]),
                Utc::now()
            ),
            Ok(())
        );
        let no_nonce = headers(&[("x-plivo-signature-v2", &v2)]);
        let reason = rejection(verify(
            &request("POST", URL, &no_nonce, &body),
            &tokens(&[TOKEN]),
            Utc::now(),
        ));
        assert_eq!(
            reason,
            "X-Plivo-Signature-V2 without X-Plivo-Signature-V2-Nonce"
        );

        // A failed V3 is not rescued by a valid V2: that would let anyone holding one genuine
        // V2 header (it does not cover the parameters) send any body.
        let downgrade = headers(&[
            ("x-plivo-signature-v3", "AAAA"),
            ("x-plivo-signature-v3-nonce", "55"),
            ("x-plivo-signature-v2", &v2),
            ("x-plivo-signature-v2-nonce", "55"),
        ]);
        let reason = rejection(verify(
            &request("POST", URL, &downgrade, &body),
            &tokens(&[TOKEN]),
            Utc::now(),
        ));
        assert!(reason.contains("the V3 signature"), "{reason}");
    }

    #[test]
    fn oversized_bodies_are_malformed() {
        let h = v3_headers("AAAA", "1");
        let body = vec![b'a'; MAX_BODY_BYTES + 1];
        let req = request("POST", URL, &h, &body);
        assert!(matches!(
            verify(&req, &tokens(&[TOKEN]), Utc::now()),
            Err(WebhookError::Malformed { ref field, .. }) if field == "body"
        ));
        assert!(
            matches!(parse(&req), Err(WebhookError::Malformed { ref field, .. }) if field == "body")
        );
    }

    fn parse_form(method: &str, params: &[(&str, &str)]) -> Result<Parsed, WebhookError> {
        let h = headers(&[]);
        let encoded = form_string(params);
        if method == "GET" {
            let url = format!("{URL}?{encoded}");
            parse(&request("GET", &url, &h, b""))
        } else {
            parse(&request("POST", URL, &h, encoded.as_bytes()))
        }
    }

    #[test]
    fn parses_inbound_messages_by_post_and_get() {
        let params = [
            ("From", "14155550147"),
            ("To", "14155550100"),
            ("Type", "sms"),
            ("Text", "Stop <please> & thanks"),
            ("MessageUUID", "2a3f4c5e-6d7e-11ee-b962-0242ac120002"),
        ];
        let expected = Parsed::Messages(vec![InboundMessage {
            provider: Provider::Plivo.to_string(),
            message_id: "2a3f4c5e-6d7e-11ee-b962-0242ac120002".to_string(),
            from: "+14155550147".to_string(),
            to: "+14155550100".to_string(),
            text: "Stop <please> & thanks".to_string(),
            messaging_service: None,
            provider_time: None,
            provider_verdict: None,
            provider_intent: None,
        }]);
        assert_eq!(parse_form("POST", &params), Ok(expected.clone()));
        assert_eq!(parse_form("GET", &params), Ok(expected));

        // An MMS with no text, and a WhatsApp message, are still messages.
        for kind in ["mms", "whatsapp"] {
            let parsed = parse_form(
                "POST",
                &[
                    ("From", "1"),
                    ("To", "2"),
                    ("Type", kind),
                    ("Text", ""),
                    ("MessageUUID", "u"),
                ],
            );
            assert!(
                matches!(parsed, Ok(Parsed::Messages(ref m)) if m[0].text.is_empty()),
                "{parsed:?}"
            );
        }
    }

    #[test]
    fn numbers_become_international() {
        let numbers = |from: &str, to: &str| match parse_form(
            "POST",
            &[
                ("From", from),
                ("To", to),
                ("Text", "hi"),
                ("MessageUUID", "u"),
            ],
        ) {
            Ok(Parsed::Messages(m)) => (m[0].from.clone(), m[0].to.clone()),
            other => panic!("expected a message, got {other:?}"),
        };
        assert_eq!(
            numbers("447700900123", "14155550100"),
            ("+447700900123".into(), "+14155550100".into())
        );
        assert_eq!(
            numbers("+14155550147", "246810"),
            ("+14155550147".into(), "246810".into())
        );
        assert_eq!(
            numbers("PLIVO", "1234567"),
            ("PLIVO".into(), "+1234567".into())
        );
    }

    #[test]
    fn status_callbacks_are_acknowledged() {
        let parsed = parse_form(
            "POST",
            &[
                ("Status", "delivered"),
                ("MessageUUID", "u1"),
                ("From", "14155550100"),
                ("To", "14155550147"),
                ("Units", "1"),
            ],
        );
        match parsed {
            Ok(Parsed::Ignored(note)) => assert!(note.contains("Status=delivered"), "{note}"),
            other => panic!("expected Ignored, got {other:?}"),
        }
    }

    #[test]
    fn parse_errors_name_the_field() {
        let full = [
            ("MessageUUID", "u1"),
            ("From", "14155550147"),
            ("To", "14155550100"),
        ];
        for (i, field) in ["MessageUUID", "From", "To"].into_iter().enumerate() {
            let mut missing = full.to_vec();
            missing.remove(i);
            assert_eq!(malformed_field(parse_form("POST", &missing)), field);
            let mut empty = full.to_vec();
            empty[i].1 = "";
            assert_eq!(malformed_field(parse_form("POST", &empty)), field);
        }
    }

    #[test]
    fn replies_are_plivo_xml() {
        for text in [None, Some(""), Some("You are unsubscribed.")] {
            let answer = reply(text);
            assert_eq!(answer.content_type, "text/xml");
            assert_eq!(answer.body, "<Response/>");
        }
        let message = InboundMessage {
            provider: Provider::Plivo.to_string(),
            message_id: "u1".into(),
            from: "+14155550147".into(),
            to: "+14155550100".into(),
            text: "STOP".into(),
            messaging_service: None,
            provider_time: None,
            provider_verdict: None,
            provider_intent: None,
        };
        let answer = reply_to(&message, Some("You're out & won't get <more>.\u{1}"));
        assert_eq!(answer.content_type, "text/xml");
        assert_eq!(
            answer.body,
            concat!(
                r#"<Response><Message src="14155550100" dst="14155550147" type="sms">"#,
                "You&apos;re out &amp; won&apos;t get &lt;more&gt;.",
                "</Message></Response>"
            )
        );
        assert_eq!(reply_to(&message, None).body, "<Response/>");
        assert_eq!(reply_to(&message, Some("")).body, "<Response/>");
    }
}
