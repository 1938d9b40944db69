//! The scheduled path for several tenants, against DynamoDB Local and moto (S3 and SQS): the
//! hourly run asks for the export of each tenant whose own schedule is due, once, and the
//! queue's requests write each tenant's files.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use stopgate::consent::{EventKind, ExportSchedule};
use stopgate::phone::E164;
use stopgate::store::exports::ExportJob;
use stopgate::store::{Commit, Store};
use stopgate::testing::events::event;
use stopgate::testing::{env, sample_event, unique_tenant};
use stopgate_export::{ExportWorker, Outcome};

async fn tenant(store: &Store, prefix: &str, schedule: ExportSchedule, phones: &[&str]) -> String {
    let tenant = unique_tenant(prefix);
    let policy = stopgate::consent::TenantPolicy {
        export_schedule: schedule,
        ..Default::default()
    };
    store.create_tenant(&tenant, policy).await.unwrap();
    for phone in phones {
        let stop = event(EventKind::OptOut)
            .tenant(&tenant)
            .phone(&E164::parse_e164(phone).unwrap())
            .at(Utc::now() - Duration::hours(3))
            .keyword("stop")
            .build();
        store
            .commit(&Commit {
                event: &stop,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .unwrap();
    }
    tenant
}

/// Runs every request on the queue; returns the tenants whose exports were written.
async fn drain(worker: &ExportWorker, queue: &stopgate::store::CaptureQueue) -> Vec<String> {
    let mut done = Vec::new();
    loop {
        let messages = queue.receive(0, Some(60)).await.unwrap();
        if messages.is_empty() {
            done.sort();
            return done;
        }
        for (handle, body) in messages {
            match worker.process_message(&body, None).await {
                Outcome::Done(job) => done.push(job.tenant.clone()),
                other => panic!("{other:?}"),
            }
            queue.delete(&handle).await.unwrap();
        }
    }
}

#[tokio::test]
async fn every_tenant_whose_schedule_is_due_gets_one_export() {
    let env = env().await;
    // The schedule reads every tenant: a table of this test's own.
    let store = env.fresh_table().await;
    let (bucket, queue) = env.fresh_exports().await;
    let daily = tenant(
        &store,
        "sched-daily",
        ExportSchedule::Daily,
        &["+14155550401", "+14155550402"],
    )
    .await;
    let hourly = tenant(
        &store,
        "sched-hourly",
        ExportSchedule::Hourly,
        &["+14155550403"],
    )
    .await;
    let off = tenant(&store, "sched-off", ExportSchedule::Off, &["+14155550404"]).await;
    let worker = ExportWorker::with(store.clone(), bucket.clone(), Some(queue.clone()));

    let now = Utc::now();
    let answer = worker.schedule(now).await.unwrap();
    assert_eq!(answer["tenants"], 3);
    assert_eq!(answer["exports"].as_array().unwrap().len(), 2, "{answer}");
    assert_eq!(
        worker.schedule(now + Duration::minutes(5)).await.unwrap()["exports"],
        serde_json::json!([]),
        "an overlapping scheduler run asks for nothing more"
    );
    let mut expected = vec![daily.clone(), hourly.clone()];
    expected.sort();
    assert_eq!(drain(&worker, &queue).await, expected);

    for (tenant, rows) in [(&daily, 2), (&hourly, 1)] {
        let latest = bucket
            .get(&ExportJob::latest_key(tenant))
            .await
            .unwrap()
            .unwrap();
        let manifest: serde_json::Value = serde_json::from_slice(&latest).unwrap();
        assert_eq!(manifest["kind"], "incremental");
        assert_eq!(manifest["rows"], rows);
        let csv_key = manifest["files"]
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["format"] == "csv")
            .unwrap()["key"]
            .as_str()
            .unwrap()
            .to_string();
        let csv = bucket.get(&csv_key).await.unwrap().unwrap();
        assert_eq!(
            csv::Reader::from_reader(csv.as_slice()).records().count(),
            rows
        );
        assert!(store.export_checkpoint(tenant).await.unwrap().0.is_some());
    }
    assert_eq!(
        bucket.get(&ExportJob::latest_key(&off)).await.unwrap(),
        None
    );

    // An hour on, only the hourly tenant is due; a day on, both.
    let answer = worker.schedule(now + Duration::minutes(61)).await.unwrap();
    assert_eq!(answer["exports"].as_array().unwrap().len(), 1);
    assert_eq!(drain(&worker, &queue).await, vec![hourly.clone()]);
    let answer = worker.schedule(now + Duration::hours(25)).await.unwrap();
    assert_eq!(answer["exports"].as_array().unwrap().len(), 2);
    assert_eq!(drain(&worker, &queue).await, expected);

    env.drop_table(&store).await;
}

#[tokio::test]
async fn requests_for_exports_that_do_not_exist_are_dropped_and_sqs_batches_report_retries() {
    let env = env().await;
    let (bucket, queue) = env.fresh_exports().await;
    let worker = ExportWorker::with(env.store.clone(), bucket, Some(queue));
    assert!(matches!(
        worker
            .process_message(
                "{\"tenant\": \"nobody\", \"export_id\": \"01KB0000000000000000000000\"}",
                None
            )
            .await,
        Outcome::Dropped(_)
    ));
    assert!(matches!(
        worker.process_message("not json", None).await,
        Outcome::Dropped(_)
    ));
    let event: serde_json::Value = serde_json::json!({"Records": [
        {"messageId": "m1", "body": "{\"tenant\": \"nobody\", \"export_id\": \"01KB0000000000000000000000\"}"}
    ]});
    let answer = worker.handle(event, None).await.unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
}

#[tokio::test]
async fn the_sample_events_run_an_export_and_the_schedule() {
    let env = env().await;
    let store = env.fresh_table().await;
    let (bucket, queue) = env.fresh_exports().await;
    let tenant = tenant(
        &store,
        "sample-events",
        ExportSchedule::Daily,
        &["+14155550405"],
    )
    .await;
    let worker = ExportWorker::with(store.clone(), bucket, Some(queue));
    let job = stopgate::flows::exports::request(
        &store,
        &tenant,
        stopgate::store::exports::ExportKind::Full,
        None,
        vec![stopgate::store::exports::ExportFormat::Csv],
        stopgate::store::exports::ExportVia::Api,
        stopgate::consent::Actor::System {
            reason: "test".into(),
        },
    )
    .await
    .unwrap();
    let request = sample_event("export-request")
        .replace("REPLACE_WITH_A_TENANT", &tenant)
        .replace("REPLACE_WITH_AN_EXPORT_ID", &job.export_id);
    let answer = worker
        .handle(serde_json::from_str(&request).unwrap(), None)
        .await
        .unwrap();
    assert_eq!(answer["batchItemFailures"], serde_json::json!([]));
    let (done, _) = store
        .load_export(&tenant, &job.export_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.status, stopgate::store::exports::ExportStatus::Done);
    assert_eq!(done.rows, 1);

    let scheduled = worker
        .handle(
            serde_json::from_str(&sample_event("export-scheduled")).unwrap(),
            None,
        )
        .await
        .unwrap();
    assert_eq!(scheduled["tenants"], 1);
    assert_eq!(scheduled["exports"].as_array().unwrap().len(), 1);
    env.drop_table(&store).await;
}
