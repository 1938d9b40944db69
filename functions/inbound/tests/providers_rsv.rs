//! Replays the RingCentral, Sinch and Vonage sample events (events/, written by
//! scripts/events_ringcentral_sinch_vonage.py) through the inbound handler, as API Gateway
//! would, against the local services.
//!
//! Each test takes a tenant of its own and points the events at it: none of these three
//! providers signs the URL, so the path can change without touching a signature, and counts in
//! the ledger and the quarantine stay exact however often the suite runs. Sinch's Conversation
//! signatures and Vonage's SMS `timestamp` / Messages JWT `iat` date from 2026-11-28T12:00Z and
//! go stale five minutes later, so those events are re-signed here with the time of the run and
//! the secrets the script names; one stale copy of each is sent as it is, as a replay.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::Utc;
use lambda_http::{Body, Request, RequestExt};
use serde_json::Value;
use stopgate::consent::ConsentEvent;
use stopgate::phone::E164;
use stopgate::providers::{sinch, vonage};
use stopgate::testing::{TestEnv, env, unique_tenant};
use stopgate_inbound::Inbound;

const BUSINESS: &str = "+14155550100";

// The secrets scripts/events_ringcentral_sinch_vonage.py signs with.
const RINGCENTRAL_TOKEN: &str = "stopgate-example-ringcentral-verification-token";
const SINCH_USERNAME: &str = "stopgate-example-sinch-user";
const SINCH_PASSWORD: &str = "stopgate-example-sinch-password";
const SINCH_SECRET: &str = "stopgate-example-sinch-webhook-secret";
const VONAGE_SECRET: &str = "stopgate-example-vonage-signature-secret";
const VONAGE_METHOD: &str = "sha256";

struct Harness {
    env: TestEnv,
    inbound: Inbound,
    tenant: String,
    days: BTreeSet<String>,
}

impl Harness {
    /// A fresh tenant with `secrets` sealed and stored for `provider`.
    async fn new(provider: &str, secrets: &[(&str, &str)]) -> Harness {
        let mut env = env().await;
        env.config.public_base_url = "https://api.stopgate.example".into();
        let tenant = unique_tenant(&format!("rsv-{provider}"));
        env.store
            .create_tenant(&tenant, Default::default())
            .await
            .unwrap();
        let sealer = env.sealer();
        let mut sealed = BTreeMap::new();
        for (name, value) in secrets {
            let value = sealer.seal(&tenant, provider, value).await.unwrap();
            sealed.insert(name.to_string(), value);
        }
        if !sealed.is_empty() {
            env.store
                .put_provider_secrets(&tenant, provider, sealed)
                .await
                .unwrap();
        }
        let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
        Harness {
            env,
            inbound,
            tenant,
            days: BTreeSet::from([today()]),
        }
    }

    /// The sample event `name`, addressed to this harness's tenant.
    fn load(&self, name: &str) -> Request {
        let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
        let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut request =
            lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"));
        let provider = name.split('-').next().unwrap();
        let route = format!("/v1/webhooks/{provider}/{}", self.tenant);
        *request.uri_mut() = format!("https://api.stopgate.example{route}")
            .parse()
            .unwrap();
        request.with_raw_http_path(route)
    }

    async fn send(&mut self, request: Request) -> (u16, http::HeaderMap, String) {
        let response = self.inbound.handle(request).await.unwrap();
        self.days.insert(today());
        let body = String::from_utf8_lossy(stopgate::api::http::body_bytes(response.body()));
        (
            response.status().as_u16(),
            response.headers().clone(),
            body.to_string(),
        )
    }

    async fn accepted(&mut self, request: Request, what: &str) {
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, 200, "{what}: {body}");
        assert_eq!(body, "", "{what}: these providers get an empty 200");
    }

    async fn rejected(&mut self, request: Request, what: &str) {
        let (status, _, body) = self.send(request).await;
        assert_eq!(status, 401, "{what}: {body}");
        assert!(
            body.contains("webhook signature rejected"),
            "{what}: {body}"
        );
    }

    async fn events(&self, person: &str) -> Vec<ConsentEvent> {
        let phone = E164::parse_e164(person).unwrap();
        self.env.store.events(&self.tenant, &phone).await.unwrap()
    }

    /// Quarantine reasons for this tenant, over every day the test ran on.
    async fn quarantine_reasons(&self) -> Vec<String> {
        let mut reasons = Vec::new();
        for day in &self.days {
            for q in self.env.store.quarantined(&self.tenant, day).await.unwrap() {
                reasons.push(q.reason);
            }
        }
        reasons.sort();
        reasons
    }

    /// Each rejection is quarantined exactly once, each for its own reason.
    async fn assert_quarantined(&self, expected: &[&str]) {
        let reasons = self.quarantine_reasons().await;
        assert_eq!(reasons.len(), expected.len(), "{reasons:?}");
        for want in expected {
            let matching = reasons.iter().filter(|r| r.contains(want)).count();
            assert_eq!(matching, 1, "{want:?} in {reasons:?}");
        }
    }

    async fn check(&self, person: &str) -> Value {
        self.env
            .check(&self.tenant, BUSINESS, person, "conversational")
            .await
    }
}

fn today() -> String {
    Utc::now().format("%Y-%m-%d").to_string()
}

fn body_text(request: &Request) -> String {
    String::from_utf8(stopgate::api::http::body_bytes(request.body()).to_vec()).unwrap()
}

fn set_header(request: &mut Request, name: &'static str, value: &str) {
    request
        .headers_mut()
        .insert(name, http::HeaderValue::from_str(value).unwrap());
}

fn kinds(events: &[ConsentEvent]) -> Vec<&str> {
    events.iter().map(|e| e.kind.as_str()).collect()
}

/// A Sinch Conversation event with a fresh timestamp; re-signed unless it is the forgery.
fn sinch_fresh(mut request: Request, resign: bool) -> Request {
    let now = Utc::now().timestamp();
    set_header(
        &mut request,
        "x-sinch-webhook-signature-timestamp",
        &now.to_string(),
    );
    if resign {
        let nonce = request.headers()["x-sinch-webhook-signature-nonce"]
            .to_str()
            .unwrap()
            .to_string();
        let signature = sinch::sign(SINCH_SECRET, body_text(&request).as_bytes(), &nonce, now);
        set_header(&mut request, "x-sinch-webhook-signature", &signature);
    }
    request
}

/// A Vonage SMS API event with a fresh `timestamp`; re-signed unless it is the forgery.
fn vonage_fresh(mut request: Request, resign: bool) -> Request {
    let mut params: serde_json::Map<String, Value> =
        serde_json::from_str(&body_text(&request)).unwrap();
    params.insert(
        "timestamp".into(),
        Value::String(Utc::now().timestamp().to_string()),
    );
    if resign {
        params.remove("sig");
        let pairs: Vec<(&str, &str)> = params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str().unwrap()))
            .collect();
        let sig = vonage::sign_sms(VONAGE_SECRET, VONAGE_METHOD, &pairs).unwrap();
        params.insert("sig".into(), Value::String(sig));
    }
    *request.body_mut() = Body::Text(Value::Object(params).to_string());
    request
}

/// A Vonage Messages API event with a JWT issued now.
fn vonage_messages_fresh(mut request: Request) -> Request {
    let authorization = vonage::messages_authorization(
        VONAGE_SECRET,
        body_text(&request).as_bytes(),
        Utc::now().timestamp(),
        "jti-test-run",
    );
    set_header(&mut request, "authorization", &authorization);
    request
}

#[tokio::test]
async fn ringcentral_stop_opts_out_and_forged_or_unsigned_notifications_are_quarantined() {
    let mut h = Harness::new("ringcentral", &[("verification_token", RINGCENTRAL_TOKEN)]).await;
    let person = "+14155550148";

    h.rejected(h.load("ringcentral-forged"), "forged token")
        .await;
    let mut unsigned = h.load("ringcentral-stop");
    unsigned.headers_mut().remove("verification-token");
    h.rejected(unsigned, "no token").await;
    assert!(
        h.events(person).await.is_empty(),
        "a rejection records nothing"
    );
    h.assert_quarantined(&[
        "Verification-Token matches no configured verification_token",
        "missing Verification-Token",
    ])
    .await;

    h.accepted(h.load("ringcentral-plain"), "plain").await;
    h.accepted(h.load("ringcentral-stop"), "stop").await;
    let denied = h.check(person).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["reason"], "opted_out", "{denied}");
    let events = h.events(person).await;
    let stop = events
        .iter()
        .find(|e| e.kind.as_str() == "opt_out")
        .unwrap();
    assert_eq!(
        stop.origin.provider_message_id.as_deref(),
        Some("606090030002")
    );

    // RingCentral delivering the same message again records nothing new.
    h.accepted(h.load("ringcentral-stop"), "redelivered stop")
        .await;
    assert_eq!(h.events(person).await.len(), events.len());

    h.accepted(h.load("ringcentral-help"), "help").await;
    h.accepted(h.load("ringcentral-start"), "start").await;
    let events = h.events(person).await;
    for kind in ["inbound", "opt_out", "help", "opt_in"] {
        assert!(
            kinds(&events).contains(&kind),
            "{kind} in {:?}",
            kinds(&events)
        );
    }
    // RingCentral's token carries no time: nothing here can be refused as a replay.
    assert_eq!(h.quarantine_reasons().await.len(), 2);
}

#[tokio::test]
async fn ringcentral_validation_handshake_echoes_the_header() {
    let mut h = Harness::new("ringcentral", &[("verification_token", RINGCENTRAL_TOKEN)]).await;
    let request = h.load("ringcentral-validation");
    let sent = request.headers()["validation-token"].clone();
    let (status, headers, body) = h.send(request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(headers.get("validation-token"), Some(&sent));
    assert_eq!(body, "");
    assert!(h.events("+14155550148").await.is_empty());
    assert!(h.quarantine_reasons().await.is_empty());

    // A tenant with no token refuses it, so the subscription is never created.
    let mut bare = Harness::new("ringcentral", &[]).await;
    let (status, headers, _) = bare.send(bare.load("ringcentral-validation")).await;
    assert_eq!(status, 401);
    assert!(headers.get("validation-token").is_none());
}

#[tokio::test]
async fn ringcentral_a2p_opt_out_opts_out_with_source_provider() {
    let mut h = Harness::new("ringcentral", &[("verification_token", RINGCENTRAL_TOKEN)]).await;
    let person = "+14155550148";
    h.accepted(h.load("ringcentral-a2p-optout"), "a2p opt-out")
        .await;
    let events = h.events(person).await;
    assert_eq!(kinds(&events), vec!["opt_out"]);
    assert_eq!(serde_json::to_value(events[0].source).unwrap(), "provider");
    assert_eq!(events[0].origin.provider_verdict.as_deref(), Some("optout"));
    assert_eq!(events[0].origin.sender.as_deref(), Some(BUSINESS));
    assert_eq!(h.check(person).await["reason"], "opted_out");
    // Delivered twice, recorded once.
    h.accepted(h.load("ringcentral-a2p-optout"), "again").await;
    assert_eq!(h.events(person).await.len(), 1);
}

#[tokio::test]
async fn sinch_stop_opts_out_and_forged_unsigned_or_replayed_callbacks_are_quarantined() {
    let mut h = Harness::new(
        "sinch",
        &[
            ("username", SINCH_USERNAME),
            ("password", SINCH_PASSWORD),
            ("webhook_secret", SINCH_SECRET),
        ],
    )
    .await;
    let person = "+14155550149";

    h.rejected(
        sinch_fresh(h.load("sinch-forged"), false),
        "forged signature",
    )
    .await;
    let mut unsigned = h.load("sinch-stop");
    unsigned.headers_mut().remove("authorization");
    h.rejected(unsigned, "no credentials").await;
    // Genuinely signed, but at 2026-11-28T12:00Z: replayed now, it is stale.
    h.rejected(h.load("sinch-plain"), "replayed").await;
    assert!(
        h.events(person).await.is_empty(),
        "a rejection records nothing"
    );
    h.assert_quarantined(&[
        "x-sinch-webhook-signature matches no configured webhook_secret",
        "neither an x-sinch-webhook-signature nor HTTP Basic credentials",
        "outside the 300 s window",
    ])
    .await;

    h.accepted(
        sinch_fresh(h.load("sinch-plain"), true),
        "plain (Conversation API)",
    )
    .await;
    h.accepted(h.load("sinch-stop"), "stop (SMS API, Basic)")
        .await;
    let denied = h.check(person).await;
    assert_eq!(denied["reason"], "opted_out", "{denied}");
    let events = h.events(person).await;

    h.accepted(h.load("sinch-stop"), "redelivered stop").await;
    assert_eq!(h.events(person).await.len(), events.len());

    h.accepted(h.load("sinch-help"), "help").await;
    h.accepted(sinch_fresh(h.load("sinch-start"), true), "start")
        .await;
    let events = h.events(person).await;
    for kind in ["inbound", "opt_out", "help", "opt_in"] {
        assert!(
            kinds(&events).contains(&kind),
            "{kind} in {:?}",
            kinds(&events)
        );
    }
    assert_eq!(h.quarantine_reasons().await.len(), 3);
}

#[tokio::test]
async fn vonage_stop_opts_out_and_forged_unsigned_or_replayed_webhooks_are_quarantined() {
    let mut h = Harness::new(
        "vonage",
        &[
            ("signature_secret", VONAGE_SECRET),
            ("signature_method", VONAGE_METHOD),
        ],
    )
    .await;
    let person = "+14155550150";

    h.rejected(vonage_fresh(h.load("vonage-forged"), false), "forged sig")
        .await;
    let mut unsigned = vonage_fresh(h.load("vonage-stop"), false);
    let mut params: serde_json::Map<String, Value> =
        serde_json::from_str(&body_text(&unsigned)).unwrap();
    params.remove("sig");
    *unsigned.body_mut() = Body::Text(Value::Object(params).to_string());
    h.rejected(unsigned, "no sig").await;
    // Genuinely signed, but at 2026-11-28T12:00Z: replayed now, it is stale.
    h.rejected(h.load("vonage-stop"), "replayed").await;
    assert!(
        h.events(person).await.is_empty(),
        "a rejection records nothing"
    );
    h.assert_quarantined(&[
        "sig matches no configured signature_secret",
        "nor a sig parameter",
        "outside the 300 s window",
    ])
    .await;

    h.accepted(
        vonage_messages_fresh(h.load("vonage-plain")),
        "plain (Messages API)",
    )
    .await;
    h.accepted(vonage_fresh(h.load("vonage-stop"), true), "stop (SMS API)")
        .await;
    let denied = h.check(person).await;
    assert_eq!(denied["reason"], "opted_out", "{denied}");
    let events = h.events(person).await;
    let stop = events
        .iter()
        .find(|e| e.kind.as_str() == "opt_out")
        .unwrap();
    assert_eq!(
        stop.origin.provider_message_id.as_deref(),
        Some("1000000000000001")
    );

    // Vonage retrying (a new timestamp and signature, the same messageId) records nothing new.
    h.accepted(
        vonage_fresh(h.load("vonage-stop"), true),
        "redelivered stop",
    )
    .await;
    assert_eq!(h.events(person).await.len(), events.len());

    h.accepted(vonage_fresh(h.load("vonage-help"), true), "help")
        .await;
    h.accepted(vonage_fresh(h.load("vonage-start"), true), "start")
        .await;
    let events = h.events(person).await;
    for kind in ["inbound", "opt_out", "help", "opt_in"] {
        assert!(
            kinds(&events).contains(&kind),
            "{kind} in {:?}",
            kinds(&events)
        );
    }
    assert_eq!(h.quarantine_reasons().await.len(), 3);
}
