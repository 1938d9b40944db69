//! The large-file flow against moto and DynamoDB Local: `POST /v1/imports` answers 202 with a
//! presigned URL, the file is PUT to it over plain HTTP, S3 notifies the queue, the worker
//! applies the file from that notification, and `GET /v1/imports/{id}` shows the outcome.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use aws_lambda_events::event::sqs::{SqsEvent, SqsMessage};
use http_body_util::{BodyExt, Full};
use lambda_http::Body;
use serde_json::Value;
use stopgate::store::CaptureQueue;
use stopgate::testing::{env, unique_tenant};
use stopgate_consent::Consent;
use stopgate_import::ImportWorker;

fn request(
    method: &str,
    path: &str,
    key: &str,
    content_type: &str,
    body: &str,
) -> lambda_http::Request {
    http::Request::builder()
        .method(method)
        .uri(format!("https://api.stopgate.test{path}"))
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", content_type)
        .body(Body::Text(body.to_string()))
        .unwrap()
}

async fn call(consent: &Consent, req: lambda_http::Request) -> (u16, Value) {
    let response = consent.handle(req).await.unwrap();
    let status = response.status().as_u16();
    let body = serde_json::from_slice(stopgate::api::http::body_bytes(response.body())).unwrap();
    (status, body)
}

/// PUT with a plain HTTP client, as a customer's script would.
async fn put(url: &str, body: String) -> u16 {
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<std::io::Cursor<Vec<u8>>>>();
    let request = http::Request::builder()
        .method("PUT")
        .uri(url)
        .header("content-type", "text/csv")
        .body(Full::new(std::io::Cursor::new(body.into_bytes())))
        .unwrap();
    let response = client.request(request).await.unwrap();
    let status = response.status().as_u16();
    let _ = response.into_body().collect().await;
    status
}

async fn notification(queue: &CaptureQueue) -> SqsMessage {
    let started = Instant::now();
    loop {
        let messages = queue.receive(1, Some(1)).await.unwrap();
        // S3 also sends an "s3:TestEvent" when the notification is configured.
        if let Some((_, body)) = messages
            .into_iter()
            .find(|(_, body)| body.contains("ObjectCreated"))
        {
            let mut message = SqsMessage::default();
            message.message_id = Some("m-1".into());
            message.body = Some(body);
            return message;
        }
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no S3 notification arrived"
        );
    }
}

#[tokio::test]
async fn an_uploaded_import_is_applied_by_the_worker_from_the_s3_notification() {
    let env = env().await;
    let tenant = unique_tenant("import-upload");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let key = env.api_key(&tenant, &["consents:write"]).await;
    let (uploads, queue) = env.fresh_imports().await;
    let consent = Consent::new(&env.config, &env.sdk)
        .unwrap()
        .with_uploads(uploads.clone());

    let (status, created) = call(
        &consent,
        request(
            "POST",
            "/v1/imports",
            &key,
            "application/json",
            r#"{"filename": "optouts.csv", "size": 1000}"#,
        ),
    )
    .await;
    assert_eq!(status, 202, "{created}");
    assert_eq!(created["status"], "awaiting_upload");
    let id = created["import_id"].as_str().unwrap().to_string();
    let url = created["upload_url"].as_str().unwrap();
    assert!(url.contains("X-Amz-Signature="), "{url}");

    let mut csv = String::from("phone_number,status,scope,changed_at,source\n");
    for i in 0..600 {
        csv.push_str(&format!(
            "+1415222{:04},opted_out,tenant,2026-02-01T10:00:00Z,\n",
            1000 + i
        ));
    }
    csv.push_str("+14152221000,opted_out,nowhere,2026-02-01T10:00:00Z,\n");
    assert_eq!(put(url, csv.clone()).await, 200);

    let (status, job) = call(
        &consent,
        request("GET", &format!("/v1/imports/{id}"), &key, "", ""),
    )
    .await;
    assert_eq!(
        (status, job["status"].as_str()),
        (200, Some("awaiting_upload"))
    );

    // Lambda delivers the notification; a run out of time saves its place and asks for it again.
    let message = notification(&queue).await;
    let worker = ImportWorker::with(env.store.clone(), uploads.clone());
    let mut event = SqsEvent::default();
    event.records.push(message);
    let response = worker.handle(event.clone(), Some(Instant::now())).await;
    assert_eq!(response.batch_item_failures.len(), 1);
    assert_eq!(response.batch_item_failures[0].item_identifier, "m-1");
    let (_, job) = call(
        &consent,
        request("GET", &format!("/v1/imports/{id}"), &key, "", ""),
    )
    .await;
    assert_eq!(job["status"], "running");

    let response = worker.handle(event.clone(), None).await;
    assert!(response.batch_item_failures.is_empty());
    let (status, job) = call(
        &consent,
        request("GET", &format!("/v1/imports/{id}"), &key, "", ""),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["via"], "upload");
    assert_eq!(job["filename"], "optouts.csv");
    assert_eq!(job["lines"], 601);
    assert_eq!(job["applied"], 600);
    assert_eq!(job["error_count"], 1);
    assert_eq!(job["errors"][0]["line"], 602);
    assert_eq!(job["errors"][0]["field"], "scope");
    use sha2::Digest;
    assert_eq!(
        job["source_file_sha256"],
        hex::encode(sha2::Sha256::digest(csv.as_bytes()))
    );
    let decision = env
        .check(&tenant, "+14155550100", "+14152221599", "promotional")
        .await;
    assert_eq!(decision["reason"], "opted_out");

    // A second delivery of the same notification changes nothing.
    let response = worker.handle(event, None).await;
    assert!(response.batch_item_failures.is_empty());
    let (_, again) = call(
        &consent,
        request("GET", &format!("/v1/imports/{id}"), &key, "", ""),
    )
    .await;
    assert_eq!(again["applied"], 600);
}

#[tokio::test]
async fn a_csv_body_over_the_inline_limit_gets_an_upload_url_for_import() {
    let env = env().await;
    let tenant = unique_tenant("import-large");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let key = env.api_key(&tenant, &["consents:write"]).await;
    let (uploads, _queue) = env.fresh_imports().await;
    let consent = Consent::new(&env.config, &env.sdk)
        .unwrap()
        .with_uploads(uploads);
    let big = "x".repeat(stopgate::api::imports::INLINE_LIMIT + 1);
    let (status, body) = call(
        &consent,
        request("POST", "/v1/imports", &key, "text/csv", &big),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "awaiting_upload");
    assert!(body["upload_url"].as_str().unwrap().starts_with("http"));
    let (status, _) = call(&consent, request("DELETE", "/v1/imports", &key, "", "")).await;
    assert_eq!(status, 405);
}

#[tokio::test]
async fn the_sample_import_event_is_read_and_an_upload_without_a_job_is_spent() {
    let env = env().await;
    let path = format!(
        "{}/../../events/import-upload.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let event: SqsEvent = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let uploads = stopgate::store::uploads::Uploads::new(&env.sdk, "stopgate-imports");
    let worker = ImportWorker::with(env.store.clone(), uploads);
    // No import 01JX… exists, and S3's test event is no upload: nothing to retry.
    let response = worker.handle(event, None).await;
    assert!(response.batch_item_failures.is_empty());
}
