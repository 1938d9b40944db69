//! Telnyx, Bandwidth and Plivo through the inbound handler, from the sample events that
//! scripts/events_telnyx_bandwidth_plivo.py writes (its docstring has their secrets): a signed
//! STOP opts the person out; forged, unsigned and (Telnyx) replayed requests answer 401, record
//! nothing and are quarantined once each; a redelivered message records one event.
//!
//! Telnyx signs a timestamp and refuses one more than 300 s old, so each Telnyx body is signed
//! again here with a fresh timestamp, by the key made from the script's fixed seed; the event as
//! written then serves as the replay. Tests that count quarantined requests use a tenant of
//! their own (Plivo's signature covers the URL, so those events are signed again for it).
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use lambda_http::Body;
use serde_json::Value;
use stopgate::phone::E164;
use stopgate::providers::{bandwidth, plivo, telnyx};
use stopgate::store::StoreError;
use stopgate::testing::{TestEnv, env, unique_tenant};
use stopgate_inbound::Inbound;

const BASE_URL: &str = "https://api.stopgate.example";
const DEMO_TENANT: &str = "events-demo";
const BUSINESS: &str = "+14155550100";
const TELNYX_SEED: [u8; 32] = *b"stopgate-example-telnyx-seed-001";
const TELNYX_FORGER_SEED: [u8; 32] = *b"stopgate-example-forger-seed-001";
const BANDWIDTH_USERNAME: &str = "stopgate-example";
const BANDWIDTH_PASSWORD: &str = "stopgate-example-bandwidth-password";
const PLIVO_TOKEN: &str = "stopgate-example-plivo-auth-token";
const PLIVO_FORGER_TOKEN: &str = "not-the-auth-token";

#[derive(Debug, Clone, Copy)]
enum Provider {
    Telnyx,
    Bandwidth,
    Plivo,
}

impl Provider {
    const ALL: [Provider; 3] = [Provider::Telnyx, Provider::Bandwidth, Provider::Plivo];

    fn name(self) -> &'static str {
        match self {
            Provider::Telnyx => "telnyx",
            Provider::Bandwidth => "bandwidth",
            Provider::Plivo => "plivo",
        }
    }

    fn person(self) -> E164 {
        let number = match self {
            Provider::Telnyx => "+14155550145",
            Provider::Bandwidth => "+14155550146",
            Provider::Plivo => "+14155550147",
        };
        E164::parse_e164(number).unwrap()
    }

    fn secrets(self) -> Vec<(&'static str, String)> {
        match self {
            Provider::Telnyx => vec![("public_key", telnyx::public_key_for(&TELNYX_SEED))],
            Provider::Bandwidth => vec![
                ("username", BANDWIDTH_USERNAME.to_string()),
                ("password", BANDWIDTH_PASSWORD.to_string()),
            ],
            Provider::Plivo => vec![("auth_token", PLIVO_TOKEN.to_string())],
        }
    }

    /// The headers that carry the proof of origin.
    fn auth_headers(self) -> &'static [&'static str] {
        match self {
            Provider::Telnyx => &["telnyx-signature-ed25519", "telnyx-timestamp"],
            Provider::Bandwidth => &["authorization"],
            Provider::Plivo => &[
                "x-plivo-signature-v2",
                "x-plivo-signature-ma-v2",
                "x-plivo-signature-v2-nonce",
                "x-plivo-signature-v3",
                "x-plivo-signature-ma-v3",
                "x-plivo-signature-v3-nonce",
            ],
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Provider::Plivo => "text/xml",
            Provider::Telnyx | Provider::Bandwidth => "text/plain",
        }
    }
}

/// A sample event as written by the script.
fn fixture(provider: Provider, name: &str) -> Value {
    let path = format!(
        "{}/../../events/{}-{name}.json",
        env!("CARGO_MANIFEST_DIR"),
        provider.name()
    );
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn request(event: &Value) -> lambda_http::Request {
    lambda_http::request::from_str(&event.to_string()).unwrap()
}

fn body_of(event: &Value) -> String {
    event["body"].as_str().unwrap().to_string()
}

fn set_header(event: &mut Value, name: &str, value: &str) {
    event["headers"][name] = Value::from(value);
}

fn remove_auth(event: &mut Value, provider: Provider) {
    let headers = event["headers"].as_object_mut().unwrap();
    for name in provider.auth_headers() {
        headers.remove(*name);
    }
}

/// Points the event at `tenant`'s webhook URL.
fn retarget(event: &mut Value, provider: Provider, tenant: &str) {
    let path = format!("/v1/webhooks/{}/{tenant}", provider.name());
    event["rawPath"] = Value::from(path.as_str());
    event["requestContext"]["http"]["path"] = Value::from(path.as_str());
    event["pathParameters"]["tenant"] = Value::from(tenant);
}

/// Signs the event again as Telnyx would now, with the key made from `seed`.
fn telnyx_sign_now(event: &mut Value, seed: &[u8; 32]) {
    let timestamp = Utc::now().timestamp().to_string();
    let signature = telnyx::sign(seed, &timestamp, body_of(event).as_bytes());
    set_header(event, "telnyx-timestamp", &timestamp);
    set_header(event, "telnyx-signature-ed25519", &signature);
}

/// Signs the event again as Plivo would for the URL it now points at.
fn plivo_sign_for_url(event: &mut Value, token: &str) {
    let url = format!("{BASE_URL}{}", event["rawPath"].as_str().unwrap());
    let body = body_of(event);
    let nonce = event["headers"]["x-plivo-signature-v3-nonce"]
        .as_str()
        .unwrap()
        .to_string();
    let v3 = plivo::sign_v3(token, "POST", &url, body.as_bytes(), &nonce);
    let v2 = plivo::sign_v2(token, &url, &nonce);
    for (name, value) in [
        ("x-plivo-signature-v3", &v3),
        ("x-plivo-signature-ma-v3", &v3),
        ("x-plivo-signature-v2", &v2),
        ("x-plivo-signature-ma-v2", &v2),
    ] {
        set_header(event, name, value);
    }
}

/// A sample event for `tenant`, with a signature that is genuine now (or, for `forged`,
/// made now with the wrong secret).
fn current(provider: Provider, name: &str, tenant: &str) -> Value {
    let mut event = fixture(provider, name);
    retarget(&mut event, provider, tenant);
    let forged = name == "forged";
    match provider {
        Provider::Telnyx => telnyx_sign_now(
            &mut event,
            if forged {
                &TELNYX_FORGER_SEED
            } else {
                &TELNYX_SEED
            },
        ),
        Provider::Plivo => plivo_sign_for_url(
            &mut event,
            if forged {
                PLIVO_FORGER_TOKEN
            } else {
                PLIVO_TOKEN
            },
        ),
        // Basic credentials do not depend on the URL or the time.
        Provider::Bandwidth => {}
    }
    event
}

async fn configure(env: &TestEnv, tenant: &str, provider: Provider) {
    match env.store.create_tenant(tenant, Default::default()).await {
        Ok(_) | Err(StoreError::AlreadyExists(_)) => {}
        Err(e) => panic!("create tenant: {e}"),
    }
    let sealer = env.sealer();
    let mut sealed = std::collections::BTreeMap::new();
    for (name, value) in provider.secrets() {
        let value = sealer.seal(tenant, provider.name(), &value).await.unwrap();
        sealed.insert(name.to_string(), value);
    }
    env.store
        .put_provider_secrets(tenant, provider.name(), sealed)
        .await
        .unwrap();
}

async fn inbound(mut env: TestEnv) -> (TestEnv, Inbound) {
    env.config.public_base_url = BASE_URL.into();
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    (env, inbound)
}

struct Answer {
    status: u16,
    content_type: String,
    body: String,
}

async fn send(inbound: &Inbound, event: &Value) -> Answer {
    let response = inbound.handle(request(event)).await.unwrap();
    Answer {
        status: response.status().as_u16(),
        content_type: response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        body: match response.body() {
            Body::Text(text) => text.clone(),
            Body::Binary(bytes) => String::from_utf8_lossy(bytes).to_string(),
            _ => String::new(),
        },
    }
}

fn accepted(provider: Provider, answer: &Answer, what: &str) {
    assert_eq!(answer.status, 200, "{provider:?} {what}: {}", answer.body);
    assert_eq!(
        answer.content_type,
        provider.content_type(),
        "{provider:?} {what}"
    );
    match provider {
        Provider::Plivo => assert_eq!(answer.body, "<Response/>", "{what}"),
        Provider::Telnyx | Provider::Bandwidth => assert_eq!(answer.body, "", "{what}"),
    }
}

fn refused(provider: Provider, answer: &Answer, what: &str) {
    assert_eq!(answer.status, 401, "{provider:?} {what}: {}", answer.body);
    assert!(answer.body.contains("unauthorized"), "{}", answer.body);
}

async fn check(env: &TestEnv, tenant: &str, person: &E164) -> Value {
    env.check(tenant, BUSINESS, person.as_str(), "conversational")
        .await
}

/// The sample events on their own tenant, as written (Telnyx's signed again, being stale).
#[tokio::test]
async fn telnyx_bandwidth_plivo_sample_events_are_verified_recorded_and_acknowledged() {
    let env = env().await;
    for provider in Provider::ALL {
        configure(&env, DEMO_TENANT, provider).await;
    }
    let (env, inbound) = inbound(env).await;

    assert_eq!(
        fixture(Provider::Bandwidth, "stop")["headers"]["authorization"],
        bandwidth::authorization(BANDWIDTH_USERNAME, BANDWIDTH_PASSWORD),
        "the Bandwidth events carry the documented credentials"
    );
    for provider in Provider::ALL {
        let person = provider.person();
        let before = env.store.events(DEMO_TENANT, &person).await.unwrap();

        let forged = send(&inbound, &fixture(provider, "forged")).await;
        refused(provider, &forged, "forged");
        assert_eq!(
            env.store.events(DEMO_TENANT, &person).await.unwrap().len(),
            before.len(),
            "{provider:?}: a forgery records nothing"
        );

        for name in ["plain", "stop", "start", "help"] {
            let event = match provider {
                Provider::Telnyx => {
                    // As written, a replay: refused, and for being late rather than forged,
                    // which shows the signature in the file is genuine.
                    let stale = send(&inbound, &fixture(provider, name)).await;
                    refused(provider, &stale, name);
                    assert!(stale.body.contains("replay window"), "{}", stale.body);
                    let mut event = fixture(provider, name);
                    telnyx_sign_now(&mut event, &TELNYX_SEED);
                    event
                }
                Provider::Bandwidth | Provider::Plivo => fixture(provider, name),
            };
            accepted(provider, &send(&inbound, &event).await, name);
        }

        let events = env.store.events(DEMO_TENANT, &person).await.unwrap();
        let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
        for kind in ["inbound", "opt_out", "opt_in", "help"] {
            assert!(
                kinds.contains(&kind),
                "{provider:?}: {kind} missing from {kinds:?}"
            );
        }
        let stop = events
            .iter()
            .find(|e| e.kind.as_str() == "opt_out")
            .unwrap();
        assert_eq!(
            stop.origin.provider.as_deref(),
            Some(provider.name()),
            "{provider:?}"
        );
        assert_eq!(
            stop.origin.sender.as_deref(),
            Some(BUSINESS),
            "{provider:?}"
        );
        if let Provider::Telnyx = provider {
            assert_eq!(
                stop.origin.provider_verdict.as_deref(),
                Some("stop"),
                "Telnyx's own keyword verdict is kept as evidence"
            );
        }

        // A redelivery of the STOP records nothing new.
        let mut again = fixture(provider, "stop");
        if let Provider::Telnyx = provider {
            telnyx_sign_now(&mut again, &TELNYX_SEED);
        }
        accepted(provider, &send(&inbound, &again).await, "redelivered stop");
        assert_eq!(
            env.store.events(DEMO_TENANT, &person).await.unwrap().len(),
            events.len(),
            "{provider:?}"
        );
    }
}

/// On a fresh tenant: rejections first (nothing recorded, one quarantine entry each), then a
/// signed STOP that the check honours, then its redelivery.
async fn stop_is_honoured_and_forgeries_are_quarantined(provider: Provider) {
    let env = env().await;
    let tenant = unique_tenant(&format!("tbp-{}", provider.name()));
    configure(&env, &tenant, provider).await;
    let (env, inbound) = inbound(env).await;
    let person = provider.person();
    let day = Utc::now().format("%Y-%m-%d").to_string();

    let mut rejections: Vec<(&str, Value)> = vec![("forged", current(provider, "forged", &tenant))];
    let mut unsigned = current(provider, "stop", &tenant);
    remove_auth(&mut unsigned, provider);
    rejections.push(("unsigned", unsigned));
    if let Provider::Telnyx = provider {
        // Genuinely signed, but on 2026-11-28 at noon: a replay of a captured request.
        let mut replayed = fixture(provider, "stop");
        retarget(&mut replayed, provider, &tenant);
        rejections.push(("replayed", replayed));
    }
    for (what, event) in &rejections {
        refused(provider, &send(&inbound, event).await, what);
    }
    assert!(
        env.store.events(&tenant, &person).await.unwrap().is_empty(),
        "{provider:?}: nothing reaches the ledger"
    );
    let quarantined = env.store.quarantined(&tenant, &day).await.unwrap();
    assert_eq!(quarantined.len(), rejections.len(), "{quarantined:#?}");
    let expected_reasons: &[&str] = match provider {
        Provider::Telnyx => &[
            "no configured public_key verified",
            "missing telnyx-signature-ed25519",
            "replay window",
        ],
        Provider::Bandwidth => &["match no configured username", "missing Authorization"],
        Provider::Plivo => &[
            "no configured auth_token matched the V3",
            "missing X-Plivo-Signature-V3",
        ],
    };
    for reason in expected_reasons {
        let matching = quarantined
            .iter()
            .filter(|q| q.reason.contains(reason) && q.provider == provider.name())
            .count();
        assert_eq!(matching, 1, "{provider:?} {reason}: {quarantined:#?}");
    }

    let stop = current(provider, "stop", &tenant);
    accepted(provider, &send(&inbound, &stop).await, "stop");
    let answer = check(&env, &tenant, &person).await;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(answer["reason"], "opted_out", "{answer}");

    // The provider asks again (Telnyx signs each attempt anew): one event all the same.
    let again = current(provider, "stop", &tenant);
    accepted(provider, &send(&inbound, &again).await, "redelivered stop");
    let events = env.store.events(&tenant, &person).await.unwrap();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].kind.as_str(), "opt_out");
    assert_eq!(
        env.store.quarantined(&tenant, &day).await.unwrap().len(),
        rejections.len()
    );
}

#[tokio::test]
async fn telnyx_stop_is_honoured_and_forged_unsigned_and_replayed_are_quarantined() {
    stop_is_honoured_and_forgeries_are_quarantined(Provider::Telnyx).await;
}

#[tokio::test]
async fn bandwidth_stop_is_honoured_and_forged_and_unsigned_are_quarantined() {
    stop_is_honoured_and_forgeries_are_quarantined(Provider::Bandwidth).await;
}

#[tokio::test]
async fn plivo_stop_is_honoured_and_forged_and_unsigned_are_quarantined() {
    stop_is_honoured_and_forgeries_are_quarantined(Provider::Plivo).await;
}

#[tokio::test]
async fn bandwidth_batches_and_delivery_receipts() {
    let env = env().await;
    let tenant = unique_tenant("tbp-bandwidth-batch");
    configure(&env, &tenant, Provider::Bandwidth).await;
    let (env, inbound) = inbound(env).await;

    // A delivery receipt alone is acknowledged and records nothing.
    let mut receipt = current(Provider::Bandwidth, "plain", &tenant);
    let mut callback: Value = serde_json::from_str(&body_of(&receipt)).unwrap();
    callback[0]["type"] = Value::from("message-delivered");
    receipt["body"] = Value::from(callback.to_string());
    accepted(
        Provider::Bandwidth,
        &send(&inbound, &receipt).await,
        "receipt",
    );
    let person = Provider::Bandwidth.person();
    assert!(env.store.events(&tenant, &person).await.unwrap().is_empty());

    // Two texts in one request are both recorded.
    let mut batch = current(Provider::Bandwidth, "plain", &tenant);
    let plain: Value = serde_json::from_str(&body_of(&batch)).unwrap();
    let stop: Value =
        serde_json::from_str(&body_of(&fixture(Provider::Bandwidth, "stop"))).unwrap();
    batch["body"] = Value::from(Value::Array(vec![plain[0].clone(), stop[0].clone()]).to_string());
    accepted(Provider::Bandwidth, &send(&inbound, &batch).await, "batch");
    let kinds: Vec<String> = env
        .store
        .events(&tenant, &person)
        .await
        .unwrap()
        .iter()
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert_eq!(kinds.len(), 2, "{kinds:?}");
    assert!(kinds.contains(&"opt_out".to_string()), "{kinds:?}");
    let answer = check(&env, &tenant, &person).await;
    assert_eq!(answer["reason"], "opted_out", "{answer}");

    // The credentials are checked for the batch as a whole.
    let mut unsigned = batch.clone();
    remove_auth(&mut unsigned, Provider::Bandwidth);
    refused(
        Provider::Bandwidth,
        &send(&inbound, &unsigned).await,
        "unsigned batch",
    );
}

#[tokio::test]
async fn plivo_gets_a_plivo_xml_reply_when_stopgate_writes_replies() {
    let env = env().await;
    let tenant = unique_tenant("tbp-plivo-reply");
    configure(&env, &tenant, Provider::Plivo).await;
    let policy = stopgate::consent::TenantPolicy {
        reply_mode: stopgate::consent::ReplyMode::Stopgate,
        brand_name: Some("Acme".into()),
        ..Default::default()
    };
    env.store.put_policy(&tenant, policy).await.unwrap();
    let (_env, inbound) = inbound(env).await;
    let answer = send(&inbound, &current(Provider::Plivo, "stop", &tenant)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.content_type, "text/xml");
    // The reply goes from the business number back to the person, in Plivo's number form.
    assert!(
        answer.body.contains(
            r#"<Message src="14155550100" dst="14155550147" type="sms">Acme: You are unsubscribed"#
        ),
        "{}",
        answer.body
    );
}
