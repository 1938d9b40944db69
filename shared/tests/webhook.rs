//! The inbound webhook flow against DynamoDB Local and a local SQS: a signed STOP is committed
//! (or captured and replayed) and the check honours it; forgeries are quarantined.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "testing")]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use stopgate::api::check::CheckService;
use stopgate::api::webhook::{
    IncomingWebhook, ReplayOutcome, WebhookAnswer, WebhookService, replay,
};
use stopgate::consent::{ReplyMode, TenantPolicy};
use stopgate::phone::E164;
use stopgate::providers::twilio;
use stopgate::store::CapturedWebhook;
use stopgate::testing::{TestEnv, bearer, env, unique_tenant};

const TOKEN: &str = "test-auth-token-0123456789abcdef";
const PERSON: &str = "+14155550123";
const BUSINESS: &str = "+14155550100";

fn form(text: &str, sid: &str, from: &str) -> String {
    form_urlencoded::Serializer::new(String::new())
        .append_pair("MessageSid", sid)
        .append_pair("AccountSid", "ACtest")
        .append_pair("From", from)
        .append_pair("To", BUSINESS)
        .append_pair("Body", text)
        .finish()
}

fn webhook(
    env: &TestEnv,
    tenant: &str,
    body: String,
    signature: Option<String>,
    received_at: DateTime<Utc>,
) -> IncomingWebhook {
    let url = IncomingWebhook::url_for(
        &env.config.public_base_url,
        &format!("/v1/webhooks/twilio/{tenant}"),
        "",
    );
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    let signature = signature.unwrap_or_else(|| twilio::sign(TOKEN, &url, body.as_bytes()));
    headers.insert(
        "x-twilio-signature",
        http::HeaderValue::from_str(&signature).unwrap(),
    );
    IncomingWebhook {
        provider: "twilio".into(),
        tenant: tenant.into(),
        method: "POST".into(),
        url,
        headers,
        body: body.into_bytes(),
        received_at,
    }
}

fn signed(
    env: &TestEnv,
    tenant: &str,
    text: &str,
    sid: &str,
    at: DateTime<Utc>,
) -> IncomingWebhook {
    webhook(env, tenant, form(text, sid, PERSON), None, at)
}

async fn service(env: &TestEnv) -> WebhookService {
    WebhookService::new(
        env.store.clone(),
        env.tenants(),
        Some(env.fresh_queue().await),
        StdDuration::from_millis(1500),
    )
}

async fn check(env: &TestEnv, key: &str, category: &str) -> serde_json::Value {
    let checks = CheckService::new(
        env.store.clone(),
        Arc::new(stopgate::api::tenants::Tenants::new(
            env.store.clone(),
            None,
        )),
    );
    let body = serde_json::json!({"from": BUSINESS, "to": "(415) 555-0123", "category": category})
        .to_string();
    serde_json::to_value(checks.check(&bearer(key), body.as_bytes()).await.unwrap()).unwrap()
}

fn ok_twiml(answer: &WebhookAnswer) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/xml");
    assert!(answer.body.contains("<Response"), "{answer:?}");
}

#[tokio::test]
async fn stop_denies_a_quick_start_does_not_lift_it_and_a_later_start_does() {
    let env = env().await;
    let tenant = unique_tenant("flow");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let key = env.api_key(&tenant, &["check"]).await;
    let service = service(&env).await;
    let t0 = Utc::now();

    assert_eq!(
        check(&env, &key, "conversational").await["reason"],
        "no_consent"
    );
    ok_twiml(
        &service
            .handle(signed(
                &env,
                &tenant,
                "Hi, is my order ready?",
                "SMflow1",
                t0,
            ))
            .await,
    );
    let allowed = check(&env, &key, "conversational").await;
    assert_eq!(allowed["allowed"], true);
    assert_eq!(allowed["reason"], "recent_inbound");
    assert_eq!(allowed["to"], PERSON);

    let stop = service
        .handle(signed(
            &env,
            &tenant,
            "STOP",
            "SMflow2",
            t0 + Duration::seconds(10),
        ))
        .await;
    ok_twiml(&stop);
    assert!(
        stop.body.ends_with("<Response/>"),
        "the provider replies by default: {}",
        stop.body
    );
    let denied = check(&env, &key, "conversational").await;
    assert_eq!(denied["allowed"], false);
    assert_eq!(denied["reason"], "opted_out");
    assert_eq!(denied["scope"], "tenant");
    assert_eq!(denied["evidence"]["keyword"], "stop");

    ok_twiml(
        &service
            .handle(signed(
                &env,
                &tenant,
                "START",
                "SMflow3",
                t0 + Duration::seconds(70),
            ))
            .await,
    );
    assert_eq!(
        check(&env, &key, "conversational").await["reason"],
        "opted_out",
        "a START within 2 minutes does not lift"
    );

    ok_twiml(
        &service
            .handle(signed(
                &env,
                &tenant,
                "START",
                "SMflow4",
                t0 + Duration::minutes(3),
            ))
            .await,
    );
    let lifted = check(&env, &key, "conversational").await;
    assert_eq!(lifted["allowed"], true, "{lifted}");
    // Promotional still needs express written consent.
    assert_eq!(
        check(&env, &key, "promotional").await["reason"],
        "no_consent"
    );
}

#[tokio::test]
async fn a_redelivery_records_one_event_and_gets_the_same_reply() {
    let env = env().await;
    let tenant = unique_tenant("redeliver");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    env.store
        .put_policy(
            &tenant,
            TenantPolicy {
                reply_mode: ReplyMode::Stopgate,
                ..TenantPolicy::default()
            },
        )
        .await
        .unwrap();
    let service = service(&env).await;
    let first = service
        .handle(signed(&env, &tenant, "STOP", "SMsame", Utc::now()))
        .await;
    ok_twiml(&first);
    assert!(
        first.body.contains("<Message>"),
        "Stopgate writes the reply when the tenant says so: {}",
        first.body
    );
    let second = service
        .handle(signed(
            &env,
            &tenant,
            "STOP",
            "SMsame",
            Utc::now() + Duration::days(2),
        ))
        .await;
    assert_eq!(first, second);
    let phone = E164::parse_e164(PERSON).unwrap();
    assert_eq!(env.store.events(&tenant, &phone).await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_forged_signature_is_refused_quarantined_and_records_nothing() {
    let env = env().await;
    let tenant = unique_tenant("forged");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let service = service(&env).await;
    let now = Utc::now();
    let forged = twilio::sign(
        "not-the-token",
        "https://hooks.stopgate.test/v1/webhooks/twilio/x",
        b"Body=STOP",
    );
    let answer = service
        .handle(webhook(
            &env,
            &tenant,
            form("STOP", "SMforged", PERSON),
            Some(forged),
            now,
        ))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.body.contains("unauthorized"));
    let mut unsigned = signed(&env, &tenant, "STOP", "SMunsigned", now);
    unsigned.headers.remove("x-twilio-signature");
    assert_eq!(service.handle(unsigned).await.status, 401);
    // Tampering with the body after signing breaks the signature.
    let mut tampered = signed(&env, &tenant, "START", "SMtampered", now);
    tampered.body = form("STOP", "SMtampered", PERSON).into_bytes();
    assert_eq!(service.handle(tampered).await.status, 401);

    let phone = E164::parse_e164(PERSON).unwrap();
    assert!(env.store.events(&tenant, &phone).await.unwrap().is_empty());
    let quarantined = env
        .store
        .quarantined(&tenant, &now.format("%Y-%m-%d").to_string())
        .await
        .unwrap();
    assert_eq!(quarantined.len(), 3);
    assert!(
        quarantined
            .iter()
            .any(|q| q.reason.contains("missing X-Twilio-Signature"))
    );
}

#[tokio::test]
async fn bad_requests_get_clear_errors() {
    let env = env().await;
    let tenant = unique_tenant("bad");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let service = service(&env).await;
    let now = Utc::now();

    // An unknown tenant is answered exactly as a known one with a bad signature, so the answer
    // does not tell which tenants exist; nothing is kept for it.
    let unknown_tenant = signed(&env, "no-such-tenant", "STOP", "SMx", now);
    let answer = service.handle(unknown_tenant).await;
    let mut forged = signed(&env, &tenant, "STOP", "SMforged", now);
    forged.headers.insert(
        "x-twilio-signature",
        http::HeaderValue::from_static("bm90IGEgc2lnbmF0dXJl"),
    );
    let known = service.handle(forged).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        (answer.content_type.as_str(), answer.body.as_str()),
        (known.content_type.as_str(), known.body.as_str())
    );
    assert!(
        env.store
            .quarantined("no-such-tenant", &now.format("%Y-%m-%d").to_string())
            .await
            .unwrap()
            .is_empty()
    );

    let mut unknown_provider = signed(&env, &tenant, "STOP", "SMx", now);
    unknown_provider.provider = "carrier-pigeon".into();
    assert_eq!(service.handle(unknown_provider).await.status, 404);

    let bad_phone = service
        .handle(webhook(
            &env,
            &tenant,
            form("STOP", "SMbad", "not-a-number"),
            None,
            now,
        ))
        .await;
    assert_eq!(bad_phone.status, 400, "{bad_phone:?}");
    let body: serde_json::Value = serde_json::from_str(&bad_phone.body).unwrap();
    assert_eq!(body["error"]["field"], "From");

    let no_sid = "From=%2B14155550123&To=%2B14155550100&Body=STOP".to_string();
    let missing = service
        .handle(webhook(&env, &tenant, no_sid, None, now))
        .await;
    assert_eq!(missing.status, 400, "{missing:?}");

    let mut huge = signed(&env, &tenant, "STOP", "SMhuge", now);
    huge.body = vec![b'a'; 70 * 1024];
    assert_eq!(service.handle(huge).await.status, 413);
}

#[tokio::test]
async fn with_storage_down_a_signed_stop_is_captured_and_replayed_exactly_once() {
    let env = env().await;
    let tenant = unique_tenant("outage");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let tenants = env.tenants();
    assert!(
        tenants.get(&tenant).await.unwrap().is_some(),
        "warm the configuration cache"
    );
    let queue = env.fresh_queue().await;
    let down = WebhookService::new(
        env.unreachable_store(),
        tenants.clone(),
        Some(queue.clone()),
        StdDuration::from_millis(1500),
    );

    let answer = down
        .handle(signed(&env, &tenant, "STOP", "SMoutage", Utc::now()))
        .await;
    ok_twiml(&answer);
    let phone = E164::parse_e164(PERSON).unwrap();
    assert!(
        env.store.events(&tenant, &phone).await.unwrap().is_empty(),
        "nothing reached the ledger yet"
    );

    let messages = queue.receive(1, None).await.unwrap();
    assert_eq!(messages.len(), 1);
    let captured: CapturedWebhook = serde_json::from_str(&messages[0].1).unwrap();
    assert!(captured.verified);
    assert!(matches!(
        replay(&env.store, &tenants, &captured).await.unwrap(),
        ReplayOutcome::Recorded(_)
    ));
    // SQS delivers at least once: a second replay is a no-op.
    assert!(matches!(
        replay(&env.store, &tenants, &captured).await.unwrap(),
        ReplayOutcome::Duplicate(_)
    ));
    let events = env.store.events(&tenant, &phone).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        events[0].received_at, captured.received_at,
        "replay keeps the time of arrival"
    );
    let key = env.api_key(&tenant, &["check"]).await;
    assert_eq!(
        check(&env, &key, "conversational").await["reason"],
        "opted_out"
    );
}

#[tokio::test]
async fn with_no_configuration_readable_the_request_is_captured_and_verified_on_replay() {
    let env = env().await;
    let tenant = unique_tenant("cold");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let queue = env.fresh_queue().await;
    let cold_tenants = Arc::new(stopgate::api::tenants::Tenants::new(
        env.unreachable_store(),
        Some(env.sealer()),
    ));
    let down = WebhookService::new(
        env.unreachable_store(),
        cold_tenants,
        Some(queue.clone()),
        StdDuration::from_millis(1500),
    );

    ok_twiml(
        &down
            .handle(signed(&env, &tenant, "STOP", "SMcold", Utc::now()))
            .await,
    );
    let forged = twilio::sign("wrong", "https://x", b"");
    ok_twiml(
        &down
            .handle(webhook(
                &env,
                &tenant,
                form("STOP", "SMcoldforged", "+14155550999"),
                Some(forged),
                Utc::now(),
            ))
            .await,
    );

    let tenants = env.tenants();
    let mut outcomes = Vec::new();
    for (_, body) in queue.receive(1, None).await.unwrap() {
        let captured: CapturedWebhook = serde_json::from_str(&body).unwrap();
        assert!(!captured.verified);
        outcomes.push(replay(&env.store, &tenants, &captured).await.unwrap());
    }
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, ReplayOutcome::Recorded(_)))
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, ReplayOutcome::Quarantined(_)))
    );
    assert_eq!(
        env.store
            .events(&tenant, &E164::parse_e164(PERSON).unwrap())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(
        env.store
            .events(&tenant, &E164::parse_e164("+14155550999").unwrap())
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn only_when_capture_fails_too_is_the_answer_503() {
    let env = env().await;
    let tenant = unique_tenant("lost");
    env.tenant_with_twilio(&tenant, TOKEN).await;
    let tenants = env.tenants();
    tenants.get(&tenant).await.unwrap();
    let down = WebhookService::new(
        env.unreachable_store(),
        tenants,
        Some(env.unreachable_queue()),
        StdDuration::from_millis(1500),
    );
    let answer = down
        .handle(signed(&env, &tenant, "STOP", "SMlost", Utc::now()))
        .await;
    assert_eq!(answer.status, 503, "{answer:?}");
}
