//! Notifications end to end against DynamoDB Local and moto: a recorded STOP, as the table's
//! stream hands it to the notify function, becomes one queued delivery per subscribed hook;
//! each delivery reaches a local receiver signed as docs/notifications.md says, a failed one is
//! retried with backoff and logged, and a removed hook gets nothing more.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use stopgate::consent::notifications::{NotificationType, verify_signature};
use stopgate::consent::{ConsentEvent, EventKind};
use stopgate::flows::notifications::{SEALED_AS, new_secret};
use stopgate::phone::E164;
use stopgate::store::hooks::{DeliveryStatus, Hook};
use stopgate::testing::{TestEnv, env, events};
use stopgate_notify::Notifier;
use tokio::net::TcpListener;

/// A local endpoint: answers each request with the next status given (200 once they run out)
/// and keeps what it was sent.
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(http::HeaderMap, String)>>>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn receiver(answers: &[u16]) -> Receiver {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/stopgate", listener.local_addr().unwrap());
    let got = Arc::new(Mutex::new(Vec::new()));
    let answers = Arc::new(Mutex::new(
        answers.iter().copied().collect::<VecDeque<u16>>(),
    ));
    let (kept, next) = (got.clone(), answers.clone());
    let server = tokio::spawn(async move {
        loop {
            let (stream, _) = listener.accept().await.unwrap();
            let (kept, next) = (kept.clone(), next.clone());
            tokio::spawn(async move {
                let service = service_fn(move |request: http::Request<hyper::body::Incoming>| {
                    let (kept, next) = (kept.clone(), next.clone());
                    async move {
                        let (parts, body) = request.into_parts();
                        let body = body.collect().await.unwrap().to_bytes();
                        kept.lock()
                            .unwrap()
                            .push((parts.headers, String::from_utf8(body.to_vec()).unwrap()));
                        let status = next.lock().unwrap().pop_front().unwrap_or(200);
                        Ok::<_, hyper::Error>(
                            http::Response::builder()
                                .status(status)
                                .body(Full::new(hyper::body::Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Receiver { url, got, server }
}

/// A hook of `tenant` for `events`, with its secret.
async fn hook(
    env: &TestEnv,
    tenant: &str,
    url: &str,
    events: &[NotificationType],
) -> (Hook, String) {
    let secret = new_secret();
    let hook = Hook {
        hook_id: format!("hook_{}", ulid::Ulid::new()),
        url: url.to_string(),
        events: events.to_vec(),
        secret_sealed: env.sealer().seal(tenant, SEALED_AS, &secret).await.unwrap(),
        created_at: Utc::now(),
    };
    env.store.put_hook(tenant, &hook).await.unwrap();
    (hook, secret)
}

/// What the table's stream hands the function for new event items (NEW_IMAGE).
fn stream_batch(events: &[&ConsentEvent]) -> Value {
    let records: Vec<Value> = events
        .iter()
        .map(|e| {
            json!({
                "eventName": "INSERT",
                "eventSource": "aws:dynamodb",
                "dynamodb": {"NewImage": {
                    "pk": {"S": format!("N#{}#{}", e.tenant, e.phone.as_str())},
                    "sk": {"S": format!("EV#{}", e.event_id.as_str())},
                    "doc": {"S": serde_json::to_string(e).unwrap()},
                }}
            })
        })
        .collect();
    json!({ "Records": records })
}

/// The hooks queue's messages as Lambda's SQS event, each received `count` times.
fn sqs_batch(messages: &[(String, String)], count: u32) -> Value {
    let counted: Vec<(String, String, u32)> = messages
        .iter()
        .map(|(handle, body)| (handle.clone(), body.clone(), count))
        .collect();
    stopgate_notify::sqs_event(&counted)
}

#[tokio::test]
async fn a_stop_reaches_its_subscribers_signed_and_a_failed_delivery_is_retried_and_logged() {
    let env = env().await;
    let tenant = env.new_tenant("notify").await;
    let endpoint = receiver(&[500]).await;
    let (crm, secret) = hook(
        &env,
        &tenant,
        &endpoint.url,
        &[NotificationType::OptOut, NotificationType::OptIn],
    )
    .await;
    let reviews_only = receiver(&[]).await;
    hook(
        &env,
        &tenant,
        &reviews_only.url,
        &[NotificationType::ReviewOpened],
    )
    .await;
    let queue = env.fresh_queue().await;
    let notifier = Notifier::with(env.store.clone(), env.sealer(), queue.clone());

    let phone = E164::parse_e164("+14155550420").unwrap();
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&phone)
        .keyword("stop")
        .build();
    let chat = events::event(EventKind::Inbound)
        .tenant(&tenant)
        .phone(&phone)
        .build();
    env.commit(&stop).await;
    env.commit(&chat).await;

    let fanned = notifier
        .handle(stream_batch(&[&stop, &chat]))
        .await
        .unwrap();
    assert_eq!(fanned, json!({"queued": 1}), "one STOP, one subscriber");
    let messages = queue.receive(1, Some(0)).await.unwrap();
    assert_eq!(messages.len(), 1);

    // The endpoint answers 500: reported back for a retry, and logged.
    let answer = notifier.handle(sqs_batch(&messages, 1)).await.unwrap();
    assert_eq!(
        answer["batchItemFailures"][0]["itemIdentifier"], "m0",
        "{answer}"
    );
    // The second attempt is delivered.
    let answer = notifier.handle(sqs_batch(&messages, 2)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");

    let got = endpoint.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    let now = Utc::now().timestamp();
    for (headers, body) in &got {
        assert_eq!(headers["content-type"], "application/cloudevents+json");
        let signature = headers["stopgate-signature"].to_str().unwrap();
        assert_eq!(
            verify_signature(&secret, signature, body.as_bytes(), now),
            Ok(())
        );
        assert!(verify_signature("whsec_wrong", signature, body.as_bytes(), now).is_err());
        assert_eq!(headers["stopgate-hook"], crm.hook_id.as_str());
    }
    assert_eq!(got[0].1, got[1].1, "every attempt sends the same bytes");
    let cloudevent: Value = serde_json::from_str(&got[0].1).unwrap();
    assert_eq!(cloudevent["specversion"], "1.0");
    assert_eq!(cloudevent["type"], "com.stopgate.opt_out");
    assert_eq!(
        cloudevent["id"],
        format!("{}.opt_out", stop.event_id.as_str())
    );
    assert_eq!(cloudevent["data"]["phone"], "+14155550420");
    assert!(reviews_only.got.lock().unwrap().is_empty());

    let log = env
        .store
        .delivery_log(&tenant, &crm.hook_id, 10)
        .await
        .unwrap();
    let attempts: Vec<(u32, DeliveryStatus, Option<u16>)> = log
        .iter()
        .map(|r| (r.attempt, r.status, r.http_status))
        .collect();
    assert_eq!(
        attempts,
        [
            (2, DeliveryStatus::Delivered, Some(200)),
            (1, DeliveryStatus::Failed, Some(500)),
        ]
    );
    assert_ne!(log[0].delivery_id, log[1].delivery_id);

    // A removed hook gets nothing more: its queued delivery is dropped, not retried.
    env.store.remove_hook(&tenant, &crm.hook_id).await.unwrap();
    let answer = notifier.handle(sqs_batch(&messages, 3)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    assert_eq!(endpoint.got.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried_not_lost() {
    let env = env().await;
    let tenant = env.new_tenant("notify-down").await;
    // Nothing listens there.
    let closed = {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        format!("http://{}/", listener.local_addr().unwrap())
    };
    let (hook, _) = hook(&env, &tenant, &closed, &NotificationType::ALL).await;
    let queue = env.fresh_queue().await;
    let notifier = Notifier::with(env.store.clone(), env.sealer(), queue.clone());
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&E164::parse_e164("+14155550421").unwrap())
        .build();
    env.commit(&stop).await;
    notifier.handle(stream_batch(&[&stop])).await.unwrap();
    let messages = queue.receive(1, Some(0)).await.unwrap();
    let answer = notifier.handle(sqs_batch(&messages, 1)).await.unwrap();
    assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 1);
    let log = env
        .store
        .delivery_log(&tenant, &hook.hook_id, 10)
        .await
        .unwrap();
    assert_eq!(log[0].status, DeliveryStatus::Failed);
    assert_eq!(log[0].http_status, None);
    assert!(
        log[0].error.as_deref().unwrap().contains("no answer"),
        "{log:?}"
    );
}

/// One EventBridge operation against the local stand-in (moto serves it beside SQS).
async fn events_api(env: &TestEnv, endpoint: &str, target: &str, body: Value) {
    use stopgate::store::aws_json::{JsonCall, identity};
    let call = JsonCall {
        service: "events",
        region: "us-east-1",
        url: endpoint,
        target,
        content_type: "application/x-amz-json-1.1",
    };
    let identity = identity(&env.sdk).await.unwrap();
    let request = call.signed(&identity, body.to_string().as_bytes()).unwrap();
    let (status, answer) = stopgate::store::hook_http::HookHttp::new()
        .exchange(request)
        .await
        .unwrap();
    assert_eq!(
        status,
        200,
        "{target}: {}",
        String::from_utf8_lossy(&answer)
    );
}

#[tokio::test]
async fn every_notification_is_also_put_on_the_event_bus() {
    use stopgate::store::event_bus::EventBus;
    let env = env().await;
    // moto serves EventBridge on the same port as SQS.
    let endpoint = format!("{}/", std::env::var("AWS_ENDPOINT_URL_SQS").unwrap());
    let tenant = env.new_tenant("notify-bus").await;
    let bus = format!("stopgate-{}", ulid::Ulid::new().to_string().to_lowercase());
    let consumer_url = env.fresh_queue_url().await;
    let consumer_arn = format!(
        "arn:aws:sqs:us-east-1:123456789012:{}",
        consumer_url.rsplit('/').next().unwrap()
    );
    events_api(
        &env,
        &endpoint,
        "AWSEvents.CreateEventBus",
        json!({"Name": bus}),
    )
    .await;
    events_api(
        &env,
        &endpoint,
        "AWSEvents.PutRule",
        json!({"Name": "opt-outs", "EventBusName": bus,
            "EventPattern": json!({"source": ["stopgate"], "detail-type": ["com.stopgate.opt_out"]}).to_string()}),
    )
    .await;
    events_api(
        &env,
        &endpoint,
        "AWSEvents.PutTargets",
        json!({"Rule": "opt-outs", "EventBusName": bus, "Targets": [{"Id": "crm", "Arn": consumer_arn}]}),
    )
    .await;

    // No hooks at all: the bus still gets the opt-out, and nothing is queued.
    let queue = env.fresh_queue().await;
    let notifier = Notifier::with(env.store.clone(), env.sealer(), queue.clone())
        .with_bus(EventBus::new(&env.sdk, &bus, Some(&endpoint)).unwrap());
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&E164::parse_e164("+14155550422").unwrap())
        .build();
    let chat = events::event(EventKind::Inbound)
        .tenant(&tenant)
        .phone(&E164::parse_e164("+14155550422").unwrap())
        .build();
    env.commit(&stop).await;
    env.commit(&chat).await;
    let fanned = notifier
        .handle(stream_batch(&[&stop, &chat]))
        .await
        .unwrap();
    assert_eq!(fanned, json!({"queued": 0}));

    let consumer = stopgate::store::CaptureQueue::new(&env.sdk, &consumer_url);
    let received = consumer.receive(1, None).await.unwrap();
    assert_eq!(received.len(), 1, "{received:?}");
    let delivered: Value = serde_json::from_str(&received[0].1).unwrap();
    assert_eq!(delivered["source"], "stopgate");
    assert_eq!(delivered["detail-type"], "com.stopgate.opt_out");
    let detail = &delivered["detail"];
    assert_eq!(detail["specversion"], "1.0");
    assert_eq!(detail["id"], format!("{}.opt_out", stop.event_id.as_str()));
    assert_eq!(detail["data"]["phone"], "+14155550422");
}

#[tokio::test]
async fn a_finished_import_is_announced_with_its_counts_and_a_running_one_is_not() {
    use stopgate::store::imports::{ImportJob, ImportStatus, ImportVia};
    let env = env().await;
    let tenant = env.new_tenant("notify-import").await;
    let endpoint = receiver(&[]).await;
    let (_, secret) = hook(
        &env,
        &tenant,
        &endpoint.url,
        &[NotificationType::ImportFinished],
    )
    .await;
    let queue = env.fresh_queue().await;
    let notifier = Notifier::with(env.store.clone(), env.sealer(), queue.clone());
    let actor = stopgate::consent::Actor::Operator { name: "ana".into() };
    let mut job = ImportJob::new(
        &tenant,
        ImportVia::Upload,
        ImportStatus::Running,
        actor,
        Utc::now(),
    );
    job.filename = Some("stops.csv".into());
    job.tally.lines = 3;
    job.tally.applied = 2;
    job.tally.error_count = 1;
    let image = |job: &ImportJob, event: &str| {
        json!({"eventName": event, "eventSource": "aws:dynamodb", "dynamodb": {"NewImage": {
            "pk": {"S": format!("I#{}#{}", job.tenant, job.import_id)},
            "sk": {"S": "IMPORT"},
            "status": {"S": job.status.as_str()},
            "doc": {"S": serde_json::to_string(job).unwrap()},
        }}})
    };
    let running = json!({"Records": [image(&job, "INSERT")]});
    assert_eq!(
        notifier.handle(running).await.unwrap(),
        json!({"queued": 0})
    );
    job.status = ImportStatus::Done;
    let done = json!({"Records": [image(&job, "MODIFY")]});
    assert_eq!(notifier.handle(done).await.unwrap(), json!({"queued": 1}));
    let messages = queue.receive(1, Some(0)).await.unwrap();
    let answer = notifier.handle(sqs_batch(&messages, 1)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let got = endpoint.got.lock().unwrap().clone();
    let (headers, body) = &got[0];
    let signature = headers["stopgate-signature"].to_str().unwrap();
    assert_eq!(
        verify_signature(&secret, signature, body.as_bytes(), Utc::now().timestamp()),
        Ok(())
    );
    let cloudevent: Value = serde_json::from_str(body).unwrap();
    assert_eq!(cloudevent["type"], "com.stopgate.import_finished");
    assert_eq!(
        cloudevent["id"],
        format!("{}.import_finished", job.import_id)
    );
    assert_eq!(cloudevent["data"]["status"], "done");
    assert_eq!(
        (
            &cloudevent["data"]["lines"],
            &cloudevent["data"]["applied"],
            &cloudevent["data"]["error_count"]
        ),
        (&json!(3), &json!(2), &json!(1))
    );
    assert!(cloudevent.get("subject").is_none());
}

/// The consent function's answer to a sample event from events/, its placeholders replaced.
async fn api(
    consent: &stopgate_consent::Consent,
    name: &str,
    swaps: &[(&str, &str)],
) -> (u16, Value) {
    let mut text = stopgate::testing::sample_event(name);
    for (from, to) in swaps {
        text = text.replace(from, to);
    }
    let request = lambda_http::request::from_str(&text).unwrap();
    let response = consent.handle(request).await.unwrap();
    let body = match response.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap(),
        other => panic!("expected a JSON text body, got {other:?}"),
    };
    (response.status().as_u16(), body)
}

#[tokio::test]
async fn an_admin_key_adds_a_hook_reads_its_log_redelivers_and_removes_it_all_audited() {
    const KEY: &str = "sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create";
    const CRM: &str = "https://crm.acme.example/stopgate";
    let env = env().await;
    let tenant = env.new_tenant("notify-api").await;
    let admin = env.api_key(&tenant, &["admin"]).await;
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let endpoint = receiver(&[503]).await;
    let queue = env.fresh_queue().await;
    let mut config = env.config.clone();
    config.hooks_allow_loopback = true;
    let consent = stopgate_consent::Consent::new(&config, &env.sdk)
        .unwrap()
        .with_hooks_queue(queue.clone());
    let notifier = Notifier::with(env.store.clone(), env.sealer(), queue.clone());

    // Only admin keys manage hooks.
    let (status, body) = api(&consent, "hooks-list", &[(KEY, &writer)]).await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = api(
        &consent,
        "hooks-add",
        &[(KEY, &writer), (CRM, &endpoint.url)],
    )
    .await;
    assert_eq!(status, 403, "{body}");

    // A deployed stack refuses plain http and the network's own addresses.
    let strict = stopgate_consent::Consent::new(&env.config, &env.sdk).unwrap();
    let (status, body) = api(&strict, "hooks-add", &[(KEY, &admin), (CRM, &endpoint.url)]).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("url")),
        "{body}"
    );
    let (status, body) = api(&consent, "hooks-add", &[(KEY, &admin), ("opt_in", "stop")]).await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("events")),
        "{body}"
    );

    let (status, added) = api(
        &consent,
        "hooks-add",
        &[(KEY, &admin), (CRM, &endpoint.url)],
    )
    .await;
    assert_eq!(status, 201, "{added}");
    let hook_id = added["hook_id"].as_str().unwrap().to_string();
    let secret = added["secret"].as_str().unwrap().to_string();
    assert!(secret.starts_with("whsec_"), "{added}");
    assert_eq!(added["events"], json!(["opt_out", "opt_in"]));

    let (status, listed) = api(&consent, "hooks-list", &[(KEY, &admin)]).await;
    assert_eq!(status, 200, "{listed}");
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["hook_id"], hook_id.as_str());
    assert!(
        !listed.to_string().contains(&secret),
        "the secret is shown once, at its creation: {listed}"
    );
    // Another tenant's admin sees none of it.
    let stranger_tenant = env.new_tenant("notify-api-other").await;
    let stranger = env.api_key(&stranger_tenant, &["admin"]).await;
    let (_, theirs) = api(&consent, "hooks-list", &[(KEY, &stranger)]).await;
    assert_eq!(theirs["items"], json!([]));
    let call = |name: &'static str, key: String, delivery_id: String| {
        let (consent, hook_id) = (&consent, hook_id.clone());
        async move {
            let swaps = [
                (KEY, key.as_str()),
                ("REPLACE_WITH_A_HOOK_ID", hook_id.as_str()),
                ("REPLACE_WITH_A_DELIVERY_ID", delivery_id.as_str()),
            ];
            api(consent, name, &swaps).await
        }
    };
    let (status, body) = call("hooks-remove", stranger.clone(), String::new()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("hook_not_found")),
        "{body}"
    );

    // A STOP reaches the hook: the first attempt fails (503), and the log says so.
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&E164::parse_e164("+14155550423").unwrap())
        .build();
    env.commit(&stop).await;
    notifier.handle(stream_batch(&[&stop])).await.unwrap();
    let messages = queue.receive(1, Some(0)).await.unwrap();
    let answer = notifier.handle(sqs_batch(&messages, 1)).await.unwrap();
    assert_eq!(answer["batchItemFailures"].as_array().unwrap().len(), 1);
    let (status, log) = call("hooks-deliveries", admin.clone(), String::new()).await;
    assert_eq!(status, 200, "{log}");
    let first = &log["items"][0];
    assert_eq!(
        (&first["status"], &first["http_status"], &first["attempt"]),
        (&json!("failed"), &json!(503), &json!(1)),
        "{log}"
    );
    assert!(first.get("body").is_none(), "bodies hold numbers: {log}");
    let delivery_id = first["delivery_id"].as_str().unwrap().to_string();

    // Redelivered by hand: queued, then sent with the same CloudEvent and a fresh signature.
    let (status, body) = call("hooks-redeliver", admin.clone(), "01NOTADELIVERY".into()).await;
    assert_eq!(
        (status, &body["error"]["code"]),
        (404, &json!("delivery_not_found")),
        "{body}"
    );
    let (status, body) = call("hooks-redeliver", admin.clone(), delivery_id).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        body["notification_id"],
        format!("{}.opt_out", stop.event_id.as_str())
    );
    let queued = queue.receive(1, Some(0)).await.unwrap();
    assert_eq!(queued.len(), 1);
    let answer = notifier.handle(sqs_batch(&queued, 1)).await.unwrap();
    assert_eq!(answer["batchItemFailures"], json!([]), "{answer}");
    let got = endpoint.got.lock().unwrap().clone();
    assert_eq!(got.len(), 2);
    assert_eq!(got[0].1, got[1].1, "the same CloudEvent, byte for byte");
    let signature = got[1].0["stopgate-signature"].to_str().unwrap();
    assert_eq!(
        verify_signature(
            &secret,
            signature,
            got[1].1.as_bytes(),
            Utc::now().timestamp()
        ),
        Ok(())
    );
    let (_, log) = call("hooks-deliveries", admin.clone(), String::new()).await;
    assert_eq!(log["items"][0]["status"], "delivered", "{log}");

    // Removed: gone from the list, and nothing more is sent to it.
    let (status, body) = call("hooks-remove", admin.clone(), String::new()).await;
    assert_eq!(status, 200, "{body}");
    let (_, listed) = api(&consent, "hooks-list", &[(KEY, &admin)]).await;
    assert_eq!(listed["items"], json!([]));
    let (status, _) = call("hooks-remove", admin.clone(), String::new()).await;
    assert_eq!(status, 404);
    let start = events::event(EventKind::OptIn)
        .tenant(&tenant)
        .phone(&E164::parse_e164("+14155550423").unwrap())
        .build();
    env.commit(&start).await;
    assert_eq!(
        notifier.handle(stream_batch(&[&start])).await.unwrap(),
        json!({"queued": 0})
    );

    // Both changes are in the audit trail, by the key that made them, without the secret.
    let (records, _) = env.store.audit_page(&tenant, None, 10).await.unwrap();
    let hook_records: Vec<&stopgate::consent::audit::AuditRecord> = records
        .iter()
        .filter(|r| r.target.as_deref() == Some(hook_id.as_str()))
        .collect();
    let actions: Vec<&str> = hook_records.iter().map(|r| r.action.as_str()).collect();
    assert_eq!(actions, ["hook_removed", "hook_added"]);
    for record in &hook_records {
        assert!(
            matches!(&record.actor, stopgate::consent::Actor::ApiKey { key_id } if key_id.starts_with("key_")),
            "{record:?}"
        );
        assert!(!serde_json::to_string(record).unwrap().contains(&secret));
    }
}
