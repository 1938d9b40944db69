//! `make dev`'s notifications: the table's stream, read from DynamoDB Local, reaches the notify
//! function, which queues a delivery for the hook; the hooks queue's stand-in delivers it,
//! signed, and deletes the message.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::Utc;
use serde_json::Value;
use stopgate::consent::EventKind;
use stopgate::consent::notifications::{NotificationType, verify_signature};
use stopgate::flows::notifications::add_hook;
use stopgate::phone::E164;
use stopgate::testing::receiver::raw_receiver;
use stopgate::testing::{env, events};
use stopgate_dev::stream::{TableStream, drain_hooks_queue, follow_table_stream};
use stopgate_notify::Notifier;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stop_recorded_locally_reaches_a_hook_through_the_table_stream() {
    let env = env().await;
    let tenant = env.new_tenant("dev-stream").await;
    let (url, mut received) = raw_receiver().await;
    let (hook, secret) = add_hook(
        &env.store,
        &env.sealer(),
        &tenant,
        &url::Url::parse(&url).unwrap(),
        vec![NotificationType::OptOut],
    )
    .await
    .unwrap();

    // The stream carries every test's writes: deliveries for other tenants' hooks land on this
    // queue too, and are left there, never sent.
    let fanned = env.fresh_queue().await;
    let notifier = Arc::new(Notifier::with(
        env.store.clone(),
        env.sealer(),
        fanned.clone(),
    ));
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB").unwrap();
    let stream = TableStream::open(&env.sdk, &endpoint, &env.config.table_name)
        .await
        .unwrap();
    let follower = tokio::spawn(follow_table_stream(stream, notifier.clone()));

    // The stream is read from its newest record once the follower has looked at the shards:
    // an opt-out every two seconds until one reaches this tenant's hook.
    let phone = E164::parse_e164("+14155550424").unwrap();
    let started = Instant::now();
    let mut ours = None;
    let mut committed = Vec::new();
    while ours.is_none() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "no delivery queued from the stream"
        );
        let stop = events::event(EventKind::OptOut)
            .tenant(&tenant)
            .phone(&phone)
            .build();
        env.commit(&stop).await;
        committed.push(format!("{}.opt_out", stop.event_id.as_str()));
        let until = Instant::now() + Duration::from_secs(2);
        while ours.is_none() && Instant::now() < until {
            for (_, body) in fanned.receive(1, Some(600)).await.unwrap() {
                let delivery: Value = serde_json::from_str(&body).unwrap();
                if delivery["hook_id"] == hook.hook_id.as_str() {
                    ours = Some(body);
                }
            }
        }
    }
    follower.abort();

    // The hooks queue's stand-in sends it and deletes the message.
    let deliveries = env.fresh_queue().await;
    deliveries.send(&ours.unwrap()).await.unwrap();
    let drain = tokio::spawn(drain_hooks_queue(deliveries.clone(), notifier));
    let request = tokio::time::timeout(Duration::from_secs(30), received.recv())
        .await
        .expect("the hook was not called")
        .unwrap();
    let (head, body) = request.split_once("\r\n\r\n").unwrap();
    let signature = head
        .lines()
        .find_map(|l| l.strip_prefix("stopgate-signature: "))
        .expect(head);
    assert_eq!(
        verify_signature(&secret, signature, body.as_bytes(), Utc::now().timestamp()),
        Ok(())
    );
    let cloudevent: Value = serde_json::from_str(body).unwrap();
    assert!(
        committed.contains(&cloudevent["id"].as_str().unwrap().to_string()),
        "{cloudevent}"
    );
    let started = Instant::now();
    while deliveries.backlog().await.unwrap() > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the delivered message was not deleted"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    drain.abort();
    let log = env
        .store
        .delivery_log(&tenant, &hook.hook_id, 10)
        .await
        .unwrap();
    assert_eq!(log.len(), 1, "{log:?}");
}
