//! Replays the sample SQS event in events/ through the replay handler.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use aws_lambda_events::event::sqs::SqsEvent;
use stopgate::phone::E164;
use stopgate::testing::env;
use stopgate_replay::Replay;

const TENANT: &str = "events-demo";

fn load() -> SqsEvent {
    let path = format!(
        "{}/../../events/replay-captured.json",
        env!("CARGO_MANIFEST_DIR")
    );
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap()
}

#[tokio::test]
async fn captured_webhooks_are_committed_once_and_unreadable_ones_are_not_retried() {
    let env = env().await;
    env.tenant_with_twilio(TENANT, "stopgate-example-auth-token")
        .await;
    let replay = Replay::new(&env.config, &env.sdk);
    let response = replay.handle(load()).await;
    assert!(
        response.batch_item_failures.is_empty(),
        "{:?}",
        response.batch_item_failures
    );
    let response = replay.handle(load()).await;
    assert!(response.batch_item_failures.is_empty());
    for person in ["+14155550143", "+14155550144"] {
        let events = env
            .store
            .events(TENANT, &E164::parse_e164(person).unwrap())
            .await
            .unwrap();
        assert_eq!(
            events.len(),
            1,
            "{person}: exactly once, whatever SQS redelivers"
        );
        assert_eq!(events[0].kind.as_str(), "opt_out");
        assert_eq!(
            events[0].received_at.to_rfc3339(),
            "2026-11-28T12:00:00+00:00"
        );
    }
}

#[tokio::test]
async fn with_storage_down_every_readable_record_is_reported_for_retry() {
    let env = env().await;
    let mut config = env.config.clone();
    config.table_name = "no-such-table".into();
    let replay = Replay::new(&config, &env.sdk);
    let response = replay.handle(load()).await;
    let failed: Vec<_> = response
        .batch_item_failures
        .iter()
        .map(|f| f.item_identifier.as_str())
        .collect();
    assert_eq!(
        failed,
        vec![
            "00000000-0000-4000-8000-000000000000",
            "00000000-0000-4000-8000-000000000001"
        ]
    );
}
