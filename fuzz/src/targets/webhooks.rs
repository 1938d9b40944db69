//! One target per provider (`twilio`, `telnyx`, `bandwidth`, `plivo`, `ringcentral`, `sinch`,
//! `vonage`, `aws`): webhook requests with an arbitrary method, URL, headers (the provider's
//! own header names with arbitrary values among them) and body (arbitrary bytes and JSON, and
//! the sample events in events/ mutated byte by byte, field by field and, for SNS, inside the
//! `Message` it carries), checked as the webhook edge does: the signature (`providers::verify`
//! with the secrets the samples are signed with, and for aws the SNS certificate), the nonce,
//! the parser (`providers::parse`), the quarantine record of a refused request, and
//! `api::webhook::prepare` (classification, numbers, events, the reply) for what parses.
//! Properties: no panic; a body over the size limit is refused by both `verify` and `parse`
//! before anything reads it; an unmutated genuine sample verifies (checked in the unit tests,
//! so the fuzzing is known to reach past the signature).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::strategy::Union;
use proptest::test_runner::TestRunner;
use serde_json::Value;
use stopgate::api::http::MAX_BODY_BYTES;
use stopgate::api::tenants::TenantContext;
use stopgate::api::webhook::{self, IncomingWebhook, Prepared, Signature};
use stopgate::consent::{ReplyMode, TenantPolicy};
use stopgate::providers::{self, Provider, ProviderSecrets, WebhookError, WebhookRequest, aws};
use stopgate::secrets::SecretString;
use stopgate::store::SealedSecrets;

use super::tenant_with;
use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{
    Bytes, TRICKY_TEXTS, form_encode, hostile_bytes, hostile_text, json_value, mutated_bytes,
    mutated_form, mutated_json, mutated_text, text,
};
use crate::samples::{self, Request};

/// The headers each provider reads (signatures, nonces, timestamps, credentials, handshakes).
fn header_names(provider: Provider) -> &'static [&'static str] {
    match provider {
        Provider::Twilio => &["x-twilio-signature", "x-twilio-webhooks-signature-settings"],
        Provider::Telnyx => &["telnyx-signature-ed25519", "telnyx-timestamp"],
        Provider::Bandwidth => &["authorization"],
        Provider::Plivo => &[
            "x-plivo-signature-v3",
            "x-plivo-signature-ma-v3",
            "x-plivo-signature-v3-nonce",
            "x-plivo-signature-v2",
            "x-plivo-signature-ma-v2",
            "x-plivo-signature-v2-nonce",
        ],
        Provider::Ringcentral => &["verification-token", "validation-token"],
        Provider::Sinch => &[
            "authorization",
            "x-sinch-webhook-signature",
            "x-sinch-webhook-signature-nonce",
            "x-sinch-webhook-signature-timestamp",
            "x-sinch-webhook-signature-algorithm",
        ],
        Provider::Vonage => &["authorization"],
        Provider::Aws => &[
            "x-amz-sns-message-type",
            "x-amz-sns-message-id",
            "x-amz-sns-topic-arn",
            "x-amz-sns-subscription-arn",
        ],
    }
}

const COMMON_HEADERS: &[&str] = &["content-type", "host", "user-agent", "content-length"];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/x-www-form-urlencoded",
    "text/plain; charset=UTF-8",
    "multipart/form-data; boundary=x",
    ";",
    "",
];

/// One change to the sample's headers.
#[derive(Debug, Clone)]
enum HeaderEdit {
    Set(String, Bytes),
    Remove(Index),
}

#[derive(Debug, Clone)]
struct Case {
    method: String,
    url: String,
    /// As sent: names and values that HTTP cannot carry are dropped when the request is built.
    headers: Vec<(String, Bytes)>,
    body: Bytes,
    /// With the provider's settings turned on (`require_v3`, `require_signature_version_2`).
    strict: bool,
}

/// A header value: one the samples carry mutated, an edge case, text or bytes.
fn header_value(samples: &[Request]) -> impl Strategy<Value = Bytes> + use<> {
    let values: Vec<String> = samples
        .iter()
        .flat_map(|r| r.headers.iter().map(|(_, v)| v.clone()))
        .chain(CONTENT_TYPES.iter().map(|s| s.to_string()))
        .collect();
    prop_oneof![
        4 => mutated_text(values),
        3 => proptest::sample::select(TRICKY_TEXTS).prop_map(|s| s.to_string()),
        2 => hostile_text(),
    ]
    .prop_map(|s| Bytes(s.into_bytes()))
    .boxed()
    .prop_union(vec(any::<u8>(), 0..80).prop_map(Bytes).boxed())
}

fn header_edit(
    provider: Provider,
    samples: &[Request],
) -> impl Strategy<Value = HeaderEdit> + use<> {
    let names: Vec<String> = header_names(provider)
        .iter()
        .chain(COMMON_HEADERS)
        .map(|s| s.to_string())
        .collect();
    prop_oneof![
        5 => (
            prop_oneof![
                6 => select(names),
                1 => text(10),
                1 => select(Provider::ALL.iter().flat_map(|p| header_names(*p)).copied().collect::<Vec<_>>())
                    .prop_map(str::to_string),
            ],
            header_value(samples),
        )
            .prop_map(|(name, value)| HeaderEdit::Set(name, value)),
        2 => any::<Index>().prop_map(HeaderEdit::Remove),
    ]
}

/// The scalar fields of a JSON object body as form pairs (a GET or form-encoded variant).
fn as_form(body: &[u8]) -> Option<Vec<u8>> {
    let value: Value = serde_json::from_slice(body).ok()?;
    let pairs: Vec<(String, String)> = value
        .as_object()?
        .iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k.clone(), s.clone())),
            Value::Number(n) => Some((k.clone(), n.to_string())),
            Value::Bool(b) => Some((k.clone(), b.to_string())),
            _ => None,
        })
        .collect();
    (!pairs.is_empty()).then(|| form_encode(&pairs))
}

fn body(samples: &[Request]) -> impl Strategy<Value = Vec<u8>> + use<> {
    let bodies: Vec<Vec<u8>> = samples.iter().map(|r| r.body.clone()).collect();
    let mut json: Vec<Value> = bodies
        .iter()
        .filter_map(|b| serde_json::from_slice::<Value>(b).ok())
        .collect();
    if json.is_empty() {
        json.push(Value::Object(serde_json::Map::new()));
    }
    let forms: Vec<Vec<u8>> = bodies
        .iter()
        .filter(|b| serde_json::from_slice::<Value>(b).is_err() && !b.is_empty())
        .cloned()
        .chain(bodies.iter().filter_map(|b| as_form(b)))
        .chain([b"a=b".to_vec()])
        .collect();
    let oversized = (select(bodies.clone()), 1..2048usize, any::<bool>()).prop_map(
        |(mut body, extra, json_padding)| {
            // Still the genuine message, with padding a parser would skip.
            let pad = if json_padding { b' ' } else { b'&' };
            body.resize(MAX_BODY_BYTES + extra, pad);
            body
        },
    );
    Union::new_weighted(vec![
        (1, select(bodies.clone()).boxed()),
        (5, mutated_bytes(bodies).boxed()),
        (6, mutated_json(json).boxed()),
        (3, mutated_form(forms).boxed()),
        (2, hostile_bytes()),
        (
            2,
            json_value()
                .prop_map(|v| v.to_string().into_bytes())
                .boxed(),
        ),
        (1, oversized.boxed()),
    ])
}

fn url(samples: &[Request]) -> impl Strategy<Value = String> + use<> {
    let urls: Vec<String> = samples.iter().map(|r| r.url.clone()).collect();
    let queries: Vec<Vec<u8>> = samples
        .iter()
        .filter_map(|r| as_form(&r.body))
        .chain([b"a=b".to_vec()])
        .collect();
    prop_oneof![
        6 => select(urls.clone()),
        3 => mutated_text(urls.clone()),
        // The SMS API of Vonage (and others' query parameters) arrive in the query string.
        3 => (select(urls), mutated_form(queries))
            .prop_map(|(url, query)| format!("{url}?{}", String::from_utf8_lossy(&query))),
        1 => hostile_text(),
    ]
}

fn case(provider: Provider) -> impl Strategy<Value = Case> {
    let samples = samples::webhooks(provider);
    (
        select(samples.clone()),
        prop_oneof![
            8 => Just(None),
            2 => select(vec!["GET", "POST", "PUT", "post", "HEAD", ""]).prop_map(|m| Some(m.to_string())),
            1 => text(8).prop_map(Some),
        ],
        url(&samples),
        vec(header_edit(provider, &samples), 0..5),
        body(&samples),
        proptest::bool::weighted(0.2),
    )
        .prop_map(|(sample, method, url, edits, body, strict)| {
            let mut headers: Vec<(String, Bytes)> = sample
                .headers
                .iter()
                .map(|(k, v)| (k.clone(), Bytes(v.as_bytes().to_vec())))
                .collect();
            for edit in edits {
                match edit {
                    HeaderEdit::Set(name, value) => {
                        headers.retain(|(k, _)| !k.eq_ignore_ascii_case(&name));
                        headers.push((name, value));
                    }
                    HeaderEdit::Remove(i) if !headers.is_empty() => {
                        headers.remove(i.index(headers.len()));
                    }
                    HeaderEdit::Remove(_) => {}
                }
            }
            Case {
                method: method.unwrap_or(sample.method),
                url,
                headers,
                body: Bytes(body),
                strict,
            }
        })
}

/// The header map HTTP would have delivered: names and values it cannot carry are dropped.
fn header_map(headers: &[(String, Bytes)]) -> http::HeaderMap {
    let mut map = http::HeaderMap::new();
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_bytes()),
            http::HeaderValue::from_bytes(&value.0),
        ) {
            map.append(name, value);
        }
    }
    map
}

/// A tenant holding `provider`'s sample secrets, replying itself (so replies are built).
fn tenant(provider: Provider, strict: bool, now: DateTime<Utc>) -> TenantContext {
    let policy = TenantPolicy {
        reply_mode: ReplyMode::Stopgate,
        ..TenantPolicy::default()
    };
    let mut tenant = tenant_with(policy, now);
    let settings: BTreeMap<String, String> = if strict {
        provider
            .setting_names()
            .iter()
            .map(|n| (n.to_string(), "true".to_string()))
            .collect()
    } else {
        BTreeMap::new()
    };
    tenant.snapshot.providers.insert(
        provider.as_str().to_string(),
        SealedSecrets {
            settings,
            ..SealedSecrets::default()
        },
    );
    let mut secrets: BTreeMap<String, Vec<SecretString>> = BTreeMap::new();
    for (name, value) in samples::secret_pairs(provider) {
        secrets
            .entry(name.to_string())
            .or_default()
            .push(SecretString::new(value.to_string()));
    }
    tenant
        .secrets
        .insert(provider.as_str().to_string(), secrets);
    tenant
}

struct Checker {
    provider: Provider,
    now: DateTime<Utc>,
    secrets: ProviderSecrets,
    strict_secrets: ProviderSecrets,
    tenant: TenantContext,
    strict_tenant: TenantContext,
}

fn refused_for_size(what: &str, result: Result<(), WebhookError>, len: usize) -> Verdict {
    match result {
        Err(WebhookError::Malformed { field, reason })
            if field == "body" && reason.contains("limit") =>
        {
            Ok(())
        }
        other => Err(format!(
            "{what} of a {len}-byte body: {other:?}, not refused for its size"
        )),
    }
}

impl Checker {
    fn new(provider: Provider) -> Checker {
        let now = samples::now();
        Checker {
            provider,
            now,
            secrets: samples::secrets(provider),
            strict_secrets: samples::strict_secrets(provider),
            tenant: tenant(provider, false, now),
            strict_tenant: tenant(provider, true, now),
        }
    }

    fn property(&self, case: Case) -> Verdict {
        let provider = self.provider;
        let headers = header_map(&case.headers);
        let request = WebhookRequest {
            method: &case.method,
            url: &case.url,
            headers: &headers,
            body: &case.body.0,
        };
        let (secrets, tenant) = if case.strict {
            (&self.strict_secrets, &self.strict_tenant)
        } else {
            (&self.secrets, &self.tenant)
        };
        let verified = providers::verify(provider, &request, secrets, self.now);
        let _ = providers::nonce(provider, &request);
        let parsed = providers::parse(provider, &request);
        if case.body.0.len() > MAX_BODY_BYTES {
            refused_for_size("verify", verified, case.body.0.len())?;
            return refused_for_size("parse", parsed.map(drop), case.body.0.len());
        }
        if provider == Provider::Aws {
            // What the edge reads before it fetches a certificate, on any request.
            let _ = aws::certificate_url(&case.body.0, secrets);
            let _ = aws::check_topic(&case.body.0, secrets);
            let _ = aws::string_to_sign(&case.body.0);
        }
        let incoming = IncomingWebhook {
            provider: provider.as_str().to_string(),
            tenant: "events-demo".to_string(),
            method: case.method.clone(),
            url: case.url.clone(),
            headers: headers.clone(),
            body: case.body.0.clone(),
            received_at: self.now,
        };
        if let Err(e) = &verified {
            let _ = webhook::quarantine_record(&incoming, &e.to_string());
        }
        if parsed.is_ok() {
            let certificate = (provider == Provider::Aws).then(samples::sns_certificate);
            let prepared = webhook::prepare(
                provider,
                tenant,
                &incoming,
                Signature::AlreadyVerified,
                certificate,
                self.now,
            );
            if let Ok(Prepared::Commit { messages, reply }) = prepared {
                let _ = (messages.len(), reply.body.len());
            }
        }
        Ok(())
    }
}

pub fn run(provider: Provider, runner: &mut TestRunner) -> Outcome {
    let checker = Checker::new(provider);
    check(runner, case(provider), |case| checker.property(case))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request_of(sample: &Request) -> (http::HeaderMap, Vec<u8>) {
        let headers = sample
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Bytes(v.as_bytes().to_vec())))
            .collect::<Vec<_>>();
        (header_map(&headers), sample.body.clone())
    }

    /// The fuzzing starts from requests that verify, so mutations reach past the signature.
    #[test]
    fn every_genuine_sample_verifies_and_parses() {
        for provider in Provider::ALL {
            let samples = samples::webhooks(provider);
            assert!(samples.len() >= 5, "{provider}: {} samples", samples.len());
            let secrets = samples::secrets(provider);
            for sample in &samples {
                let (headers, body) = request_of(sample);
                let request = WebhookRequest {
                    method: &sample.method,
                    url: &sample.url,
                    headers: &headers,
                    body: &body,
                };
                let verified = providers::verify(provider, &request, &secrets, samples::now());
                if sample.name.ends_with("-forged") {
                    assert!(verified.is_err(), "{}", sample.name);
                } else {
                    assert_eq!(verified, Ok(()), "{}", sample.name);
                    assert!(
                        providers::parse(provider, &request).is_ok(),
                        "{}",
                        sample.name
                    );
                }
            }
        }
    }

    #[test]
    fn genuine_samples_hold_the_properties() {
        for provider in Provider::ALL {
            let checker = Checker::new(provider);
            for sample in samples::webhooks(provider) {
                for strict in [false, true] {
                    let case = Case {
                        method: sample.method.clone(),
                        url: sample.url.clone(),
                        headers: sample
                            .headers
                            .iter()
                            .map(|(k, v)| (k.clone(), Bytes(v.as_bytes().to_vec())))
                            .collect(),
                        body: Bytes(sample.body.clone()),
                        strict,
                    };
                    assert_eq!(checker.property(case.clone()), Ok(()), "{}", sample.name);
                    let mut oversized = case;
                    oversized.body.0.resize(MAX_BODY_BYTES + 1, b' ');
                    assert_eq!(checker.property(oversized), Ok(()), "{}", sample.name);
                }
            }
        }
    }
}
