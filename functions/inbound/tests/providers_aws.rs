//! AWS End User Messaging two-way SMS through an Amazon SNS HTTPS subscription, against
//! DynamoDB Local and a local SQS: a signed STOP opts the number out; forgeries, unsigned
//! messages and other topics are refused and quarantined; subscriptions are confirmed. The
//! signing certificate is the test one, handed to the edge as if fetched: nothing here reaches
//! the network.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use stopgate::api::sns::SnsHttps;
use stopgate::api::webhook::{IncomingWebhook, WebhookAnswer, WebhookService};
use stopgate::phone::E164;
use stopgate::testing::sns::{self as test_sns, CERT_URL, CERTIFICATE_PEM, TOPIC_ARN};
use stopgate::testing::{TestEnv, env, unique_tenant};
use stopgate_inbound::Inbound;

const PERSON: &str = "+14155550162";
const BUSINESS: &str = "+14155550100";

fn webhook(env: &TestEnv, tenant: &str, body: String) -> IncomingWebhook {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("text/plain; charset=UTF-8"),
    );
    IncomingWebhook {
        provider: "aws".into(),
        tenant: tenant.into(),
        method: "POST".into(),
        url: IncomingWebhook::url_for(
            &env.config.public_base_url,
            &format!("/v1/webhooks/aws/{tenant}"),
            "",
        ),
        headers,
        body: body.into_bytes(),
        received_at: Utc::now(),
    }
}

fn stop(id: &str, at: DateTime<Utc>) -> String {
    let sms = test_sns::sms(PERSON, BUSINESS, "STOP", id);
    test_sns::notification(TOPIC_ARN, &sms, &format!("sns-{id}"), at)
}

async fn service(env: &TestEnv, sns: &SnsHttps) -> WebhookService {
    WebhookService::new(
        env.store.clone(),
        env.tenants(),
        Some(env.fresh_queue().await),
        Duration::from_millis(1500),
    )
    .with_sns(sns.clone())
}

async fn check(env: &TestEnv, tenant: &str) -> Value {
    env.check(tenant, BUSINESS, PERSON, "conversational").await
}

fn acknowledged(answer: &WebhookAnswer) {
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        (answer.content_type.as_str(), answer.body.as_str()),
        ("text/plain", "")
    );
}

async fn quarantined(env: &TestEnv, tenant: &str) -> Vec<String> {
    let day = Utc::now().format("%Y-%m-%d").to_string();
    env.store
        .quarantined(tenant, &day)
        .await
        .unwrap()
        .into_iter()
        .map(|q| q.reason)
        .collect()
}

#[tokio::test]
async fn aws_signed_stop_opts_the_number_out_once() {
    let env = env().await;
    let tenant = unique_tenant("aws-stop");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    let sns = test_sns::offline();
    let service = service(&env, &sns).await;

    let first = service
        .handle(webhook(&env, &tenant, stop("in-1", Utc::now())))
        .await;
    acknowledged(&first);
    let answer = check(&env, &tenant).await;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(answer["reason"], "opted_out");
    assert_eq!(answer["evidence"]["keyword"], "stop");

    // SNS delivers at least once: the same SMS again records nothing and is answered the same.
    let again = service
        .handle(webhook(&env, &tenant, stop("in-1", Utc::now())))
        .await;
    assert_eq!(first, again);
    let phone = E164::parse_e164(PERSON).unwrap();
    let events = env.store.events(&tenant, &phone).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind.as_str(), "opt_out");
    assert_eq!(
        events[0].origin.provider_message_id.as_deref(),
        Some("in-1")
    );
    assert!(
        sns.requested().is_empty(),
        "the certificate came from the cache"
    );
}

#[tokio::test]
async fn aws_forged_and_unsigned_notifications_are_refused_and_quarantined() {
    let env = env().await;
    let tenant = unique_tenant("aws-forged");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    let service = service(&env, &test_sns::offline()).await;
    let now = Utc::now();

    let genuine: serde_json::Map<String, Value> =
        serde_json::from_str(&stop("genuine", now)).unwrap();
    let mut forged: serde_json::Map<String, Value> =
        serde_json::from_str(&stop("forged", now)).unwrap();
    forged.insert("Signature".into(), genuine["Signature"].clone());
    let mut unsigned: serde_json::Map<String, Value> =
        serde_json::from_str(&stop("unsigned", now)).unwrap();
    unsigned.remove("Signature");
    let tampered = stop("tampered", now).replace("tampered", "tampered-again");

    for body in [
        serde_json::to_string(&forged).unwrap(),
        serde_json::to_string(&unsigned).unwrap(),
        tampered,
    ] {
        let answer = service.handle(webhook(&env, &tenant, body)).await;
        assert_eq!(answer.status, 401, "{answer:?}");
        assert!(answer.body.contains("unauthorized"), "{answer:?}");
    }
    let phone = E164::parse_e164(PERSON).unwrap();
    assert!(env.store.events(&tenant, &phone).await.unwrap().is_empty());
    let reasons = quarantined(&env, &tenant).await;
    assert_eq!(reasons.len(), 3, "one each: {reasons:?}");
    assert!(
        reasons.iter().any(|r| r == "the message has no Signature"),
        "{reasons:?}"
    );
    assert_eq!(check(&env, &tenant).await["reason"], "no_consent");
}

#[tokio::test]
async fn aws_notifications_from_other_topics_are_refused_without_fetching_anything() {
    let env = env().await;
    let tenant = unique_tenant("aws-topic");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    let sns = test_sns::offline();
    let service = service(&env, &sns).await;
    let other = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic";
    let sms = test_sns::sms(PERSON, BUSINESS, "STOP", "in-other");
    let body = test_sns::notification(other, &sms, "sns-other", Utc::now());

    let answer = service.handle(webhook(&env, &tenant, body)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(
        answer.body.contains("is not a configured topic_arn"),
        "{answer:?}"
    );
    assert!(sns.requested().is_empty(), "nothing fetched for a stranger");

    // The tenant's topic, but a certificate the edge cannot get: refused, not recorded.
    let mut envelope = test_sns::fields(&[
        ("Type", "Notification"),
        ("MessageId", "sns-uncached"),
        ("TopicArn", TOPIC_ARN),
        (
            "Message",
            &test_sns::sms(PERSON, BUSINESS, "STOP", "in-uncached"),
        ),
        ("Timestamp", "2026-11-28T12:00:00.000Z"),
    ]);
    let elsewhere = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-unknown.pem";
    envelope.insert("SigningCertURL".into(), elsewhere.into());
    let answer = service
        .handle(webhook(&env, &tenant, test_sns::signed(envelope, "2")))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(sns.requested(), vec![elsewhere.to_string()]);

    let phone = E164::parse_e164(PERSON).unwrap();
    assert!(env.store.events(&tenant, &phone).await.unwrap().is_empty());
    assert_eq!(quarantined(&env, &tenant).await.len(), 2);
}

#[tokio::test]
async fn aws_either_topic_is_accepted_while_moving_to_a_new_one() {
    let env = env().await;
    let tenant = unique_tenant("aws-rotate");
    let new_topic = "arn:aws:sns:us-east-1:123456789012:stopgate-two-way-sms-2";
    env.tenant_with_aws(&tenant, &[TOPIC_ARN, new_topic]).await;
    let service = service(&env, &test_sns::offline()).await;
    for (topic, id) in [(TOPIC_ARN, "in-old"), (new_topic, "in-new")] {
        let sms = test_sns::sms(PERSON, BUSINESS, "Is my order ready?", id);
        let body = test_sns::notification(topic, &sms, id, Utc::now());
        acknowledged(&service.handle(webhook(&env, &tenant, body)).await);
    }
    let phone = E164::parse_e164(PERSON).unwrap();
    assert_eq!(env.store.events(&tenant, &phone).await.unwrap().len(), 2);
}

#[tokio::test]
async fn aws_subscription_confirmation_is_fetched_from_the_topics_sns_host() {
    let env = env().await;
    let tenant = unique_tenant("aws-subscribe");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    let sns = test_sns::offline();
    let service = service(&env, &sns).await;

    let (body, url) = test_sns::subscription_confirmation(TOPIC_ARN);
    acknowledged(&service.handle(webhook(&env, &tenant, body)).await);
    assert_eq!(sns.requested(), vec![url]);

    // Another topic's confirmation is refused and confirms nothing.
    let (body, _) =
        test_sns::subscription_confirmation("arn:aws:sns:us-east-1:123456789012:not-ours");
    let answer = service.handle(webhook(&env, &tenant, body)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(sns.requested().len(), 1);
}

use stopgate::testing::{body_text as text, sample_request as load};

#[tokio::test]
async fn aws_sample_events_are_verified_recorded_and_acknowledged() {
    const TENANT: &str = "events-aws";
    let mut env = env().await;
    env.config.public_base_url = "https://api.stopgate.example".into();
    env.tenant_with_aws(TENANT, &[TOPIC_ARN]).await;
    // The process-wide client the handler uses: the certificate every sample names is cached,
    // so nothing is fetched (events/aws-subscribe.json, which would confirm over the network,
    // is left to the offline test above).
    SnsHttps::process().preload(CERT_URL, CERTIFICATE_PEM.as_bytes());
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    let phone = E164::parse_e164(PERSON).unwrap();
    let before = env.store.events(TENANT, &phone).await.unwrap().len();

    let forged = inbound.handle(load("aws-forged")).await.unwrap();
    assert_eq!(forged.status(), 401, "{}", text(forged.body()));
    assert_eq!(
        env.store.events(TENANT, &phone).await.unwrap().len(),
        before,
        "a forgery records nothing"
    );

    for name in ["aws-plain", "aws-stop", "aws-start", "aws-help"] {
        let response = inbound.handle(load(name)).await.unwrap();
        assert_eq!(response.status(), 200, "{name}: {}", text(response.body()));
        assert_eq!(response.headers()["content-type"], "text/plain");
    }
    let events = env.store.events(TENANT, &phone).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["inbound", "opt_out", "opt_in", "help"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let stop = events
        .iter()
        .find(|e| e.kind.as_str() == "opt_out")
        .unwrap();
    assert_eq!(
        stop.origin.provider_verdict.as_deref(),
        Some("STOP"),
        "the keyword AWS matched is kept as evidence"
    );
    assert_eq!(
        stop.origin.provider_message_id.as_deref(),
        Some("00000000-0000-4000-8000-0000000a0001")
    );

    let again = inbound.handle(load("aws-stop")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        env.store.events(TENANT, &phone).await.unwrap().len(),
        events.len()
    );
}

#[tokio::test]
async fn aws_stop_with_storage_down_is_captured_and_replayed_once() {
    let env = env().await;
    let tenant = unique_tenant("aws-outage");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    let tenants = env.tenants();
    assert!(
        tenants.get(&tenant).await.unwrap().is_some(),
        "warm the cache"
    );
    let queue = env.fresh_queue().await;
    let down = WebhookService::new(
        env.unreachable_store(),
        tenants.clone(),
        Some(queue.clone()),
        Duration::from_millis(1500),
    )
    .with_sns(test_sns::offline());

    acknowledged(
        &down
            .handle(webhook(&env, &tenant, stop("in-outage", Utc::now())))
            .await,
    );
    let messages = queue.receive(1, None).await.unwrap();
    assert_eq!(messages.len(), 1);
    let captured: stopgate::store::CapturedWebhook = serde_json::from_str(&messages[0].1).unwrap();
    assert!(captured.verified);
    for expected in ["recorded", "duplicate"] {
        let outcome = stopgate::api::webhook::replay(&env.store, &tenants, &captured)
            .await
            .unwrap();
        let name = match outcome {
            stopgate::api::webhook::ReplayOutcome::Recorded(_) => "recorded",
            stopgate::api::webhook::ReplayOutcome::Duplicate(_) => "duplicate",
            other => panic!("{other:?}"),
        };
        assert_eq!(name, expected);
    }
    assert_eq!(check(&env, &tenant).await["reason"], "opted_out");
}
