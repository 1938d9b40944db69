//! The sample SNS event in events/ through the inbound-sns handler, as Lambda delivers it from
//! a subscribed topic, against DynamoDB Local and a local SQS.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::event::sns::SnsEvent;
use chrono::Utc;
use stopgate::phone::E164;
use stopgate::testing::sns::TOPIC_ARN;
use stopgate::testing::{TestEnv, env, unique_tenant};
use stopgate_inbound_sns::InboundSns;

/// The tenant events/aws-sns-stop.json's topic is mapped to here (and only here).
const TENANT: &str = "events-aws-sns";
const PERSON: &str = "+14155550162";

fn load() -> SnsEvent {
    let path = format!(
        "{}/../../events/aws-sns-stop.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

fn from_topic(topic: &str) -> SnsEvent {
    let mut event = load();
    event.records[0].sns.topic_arn = topic.to_string();
    event
}

async fn check(env: &TestEnv, tenant: &str) -> serde_json::Value {
    env.check(tenant, "+14155550100", PERSON, "conversational")
        .await
}

#[tokio::test]
async fn sns_stop_event_from_a_mapped_topic_opts_the_number_out_once() {
    let env = env().await;
    env.tenant_with_aws(TENANT, &[TOPIC_ARN]).await;
    env.store.put_topic_tenant(TOPIC_ARN, TENANT).await.unwrap();
    let inbound = InboundSns::new(&env.config, &env.sdk);

    inbound.handle(load()).await.unwrap();
    let answer = check(&env, TENANT).await;
    assert_eq!(answer["reason"], "opted_out", "{answer}");

    // Lambda retries and SNS redelivers: nothing new either time.
    let phone = E164::parse_e164(PERSON).unwrap();
    let events = env.store.events(TENANT, &phone).await.unwrap();
    inbound.handle(load()).await.unwrap();
    assert_eq!(env.store.events(TENANT, &phone).await.unwrap(), events);
    let stop = events
        .iter()
        .find(|e| {
            e.origin.provider_message_id.as_deref() == Some("00000000-0000-4000-8000-0000000a0011")
        })
        .expect("the STOP of events/aws-sns-stop.json");
    assert_eq!(stop.kind.as_str(), "opt_out");
    assert_eq!(stop.origin.provider_verdict.as_deref(), Some("STOP"));
}

#[tokio::test]
async fn sns_events_from_an_unmapped_or_dropped_topic_fail_the_invocation() {
    let env = env().await;
    let inbound = InboundSns::new(&env.config, &env.sdk);
    let unmapped = format!(
        "arn:aws:sns:us-east-1:123456789012:nobody-{}",
        ulid::Ulid::new().to_string().to_lowercase()
    );
    let error = inbound.handle(from_topic(&unmapped)).await.unwrap_err();
    assert!(error.contains("no tenant takes topic"), "{error}");

    // Mapped once, but the tenant has since moved to other topics: refused and quarantined.
    let tenant = unique_tenant("sns-dropped");
    let dropped = format!("{unmapped}-dropped");
    env.tenant_with_aws(&tenant, &[TOPIC_ARN]).await;
    env.store.put_topic_tenant(&dropped, &tenant).await.unwrap();
    let error = inbound.handle(from_topic(&dropped)).await.unwrap_err();
    assert!(error.contains("is not a configured topic_arn"), "{error}");
    let day = Utc::now().format("%Y-%m-%d").to_string();
    assert_eq!(env.store.quarantined(&tenant, &day).await.unwrap().len(), 1);
    let phone = E164::parse_e164(PERSON).unwrap();
    assert!(env.store.events(&tenant, &phone).await.unwrap().is_empty());

    // A topic delivers for one tenant: another cannot take it over.
    let other = unique_tenant("sns-other");
    assert!(env.store.put_topic_tenant(&dropped, &other).await.is_err());
    assert_eq!(
        env.store.tenant_for_topic(&dropped).await.unwrap(),
        Some(tenant)
    );
}

#[tokio::test]
async fn sns_events_fail_the_invocation_when_storage_is_down() {
    let env = env().await;
    let mut config = env.config.clone();
    config.table_name = "no-such-table".into();
    let inbound = InboundSns::new(&config, &env.sdk);
    assert!(
        inbound.handle(load()).await.is_err(),
        "Lambda must retry it"
    );
}
