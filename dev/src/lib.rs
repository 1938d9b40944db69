//! The local gateway: every function's handler in one process at the deployed paths, the
//! stand-ins for Lambda's SQS event sources (capture replay, imports, exports, hook deliveries)
//! and for the table's stream (`stream`), and an HTTP server for them. `stopgate-dev serve`
//! (`make dev`) runs it; end-to-end tests serve it on a port of their own.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::apigw::ApiGatewayV2httpRequestContext;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::request::RequestContext;
use lambda_http::{Body, RequestExt};
use stopgate::api::{ApiError, http as api_http};
use stopgate::config::Config;
use stopgate::store::{CaptureQueue, SdkConfig};
use stopgate_check::Check;
use stopgate_consent::Consent;
use stopgate_export::{ExportWorker, Outcome};
use stopgate_import::ImportWorker;
use stopgate_inbound::Inbound;
use stopgate_pages::Pages;
use stopgate_replay::Replay;
use tokio::net::TcpListener;

pub mod stream;

/// Where the gateway takes notifications itself (`make dev` only): it prints each one it gets.
pub const RECEIVER_PATH: &str = "/_dev/receiver";

/// Every function's HTTP handler behind one router, at the deployed paths.
pub struct Gateway {
    inbound: Inbound,
    check: Check,
    consent: Consent,
    pages: Pages,
}

impl Gateway {
    /// Each handler built as its function's `main` builds it, from the same configuration.
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Gateway, String> {
        Ok(Gateway {
            inbound: Inbound::new(config, sdk)?,
            check: Check::new(config, sdk),
            consent: Consent::new(config, sdk)?,
            pages: Pages::new(config, sdk)?,
        })
    }

    /// With exports written to another bucket and asked for on another queue (tests use their
    /// own).
    pub fn with_exports(
        mut self,
        bucket: stopgate::store::export_files::ExportBucket,
        queue: CaptureQueue,
    ) -> Gateway {
        self.consent = self.consent.with_exports(bucket, queue);
        self
    }

    /// Hands the request to the function that serves its path, as API Gateway would.
    pub async fn route(&self, req: lambda_http::Request) -> lambda_http::Response<Body> {
        let path = req.uri().path().to_string();
        let result = if path.starts_with("/v1/webhooks/") {
            self.inbound.handle(req).await
        } else if path == "/v1/check" || path.starts_with("/v1/check/") {
            self.check.handle(req).await
        } else if [
            "/v1/consents",
            "/v1/numbers/",
            "/v1/opt-outs",
            "/v1/reviews",
            "/v1/audit",
            "/v1/imports",
            "/v1/links",
            "/v1/exports",
            "/v1/hooks",
        ]
        .iter()
        .any(|p| path.starts_with(p))
        {
            self.consent.handle(req).await
        } else if path.starts_with("/p/") {
            self.pages.handle(req).await
        } else if path == RECEIVER_PATH && req.method() == http::Method::POST {
            Ok(received_notification(&req))
        } else {
            Ok(api_http::error(&ApiError::NotFound {
                code: "not_found",
                message: format!("no route for {path}"),
            }))
        };
        match result {
            Ok(response) => response,
            Err(never) => match never {},
        }
    }
}

/// The demo receiver: prints the notification's type and id (no number: this is a log) and
/// takes it.
fn received_notification(req: &lambda_http::Request) -> lambda_http::Response<Body> {
    let event: serde_json::Value =
        serde_json::from_slice(api_http::body_bytes(req.body())).unwrap_or_default();
    let signed = req.headers().contains_key("stopgate-signature");
    println!(
        "notification received: {} {} (tenant {}, signed: {signed})",
        event["type"].as_str().unwrap_or("?"),
        event["id"].as_str().unwrap_or("?"),
        event["data"]["tenant"].as_str().unwrap_or("?"),
    );
    let mut response = lambda_http::Response::new(Body::Empty);
    *response.status_mut() = http::StatusCode::NO_CONTENT;
    response
}

/// One HTTP request through the router, with the caller's address where API Gateway puts it.
async fn serve_one(
    gateway: Arc<Gateway>,
    peer: SocketAddr,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Full<Bytes>>, Infallible> {
    let (parts, body) = req.into_parts();
    let bytes = match body.collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };
    let body = if bytes.is_empty() {
        Body::Empty
    } else {
        match String::from_utf8(bytes.to_vec()) {
            Ok(text) => Body::Text(text),
            Err(e) => Body::Binary(e.into_bytes()),
        }
    };
    let mut context = ApiGatewayV2httpRequestContext::default();
    context.http.method = parts.method.clone();
    context.http.path = Some(parts.uri.path().to_string());
    context.http.source_ip = Some(peer.ip().to_string());
    let request = lambda_http::Request::from_parts(parts, body)
        .with_request_context(RequestContext::ApiGatewayV2(context));
    let response = gateway.route(request).await;
    let (parts, body) = response.into_parts();
    let bytes = Bytes::copy_from_slice(api_http::body_bytes(&body));
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

/// The stand-in for Lambda's SQS event source: long-polls the capture queue and replays.
pub async fn drain_capture_queue(queue: CaptureQueue, replay: Replay) {
    loop {
        // A short poll stays inside the SDK's per-call timeout.
        match queue.receive(1, Some(10)).await {
            Ok(messages) => {
                for (handle, body) in messages {
                    match replay.replay_body(&body).await {
                        Ok(_) => {
                            if let Err(e) = queue.delete(&handle).await {
                                tracing::warn!(error = %e, "could not delete a replayed message");
                            }
                        }
                        // Left on the queue: it becomes visible again and is retried.
                        Err(e) => tracing::warn!(error = %e, "replay failed; will retry"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "capture queue unavailable");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The stand-in for the import worker's SQS event source: S3 notifies the imports queue of an
/// upload, and the worker applies the file. A message the worker has not finished with stays
/// on the queue and comes back after its visibility timeout.
pub async fn drain_imports_queue(queue: CaptureQueue, worker: ImportWorker) {
    loop {
        match queue.receive(1, Some(10)).await {
            Ok(messages) => {
                for (handle, body) in messages {
                    match worker.process_message(&body, None).await {
                        Ok(true) => {
                            if let Err(e) = queue.delete(&handle).await {
                                tracing::warn!(error = %e, "could not delete an import notification");
                            }
                        }
                        Ok(false) => {}
                        Err(e) => tracing::warn!(error = %e, "import failed; will retry"),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "imports queue unavailable");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// The stand-in for the export function's SQS event source: runs each export asked for
/// (`POST /v1/exports`) and prints where its files are. A request the worker could not finish
/// stays on the queue and comes back after its visibility timeout.
pub async fn drain_exports_queue(queue: CaptureQueue, worker: ExportWorker) {
    loop {
        // Hidden from other receivers for as long as the export function may run.
        match queue.receive(1, Some(900)).await {
            Ok(messages) => {
                for (handle, body) in messages {
                    let finished = match worker.process_message(&body, None).await {
                        Outcome::Done(job) => {
                            println!("{}", export_written(worker.bucket().bucket(), &job));
                            true
                        }
                        Outcome::Dropped(reason) => {
                            println!("export request dropped: {reason}");
                            true
                        }
                        Outcome::Retry(reason) => {
                            tracing::warn!(%reason, "export failed; will retry");
                            false
                        }
                    };
                    if finished && let Err(e) = queue.delete(&handle).await {
                        tracing::warn!(error = %e, "could not delete an export request");
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "exports queue unavailable");
                tokio::time::sleep(Duration::from_secs(2)).await;
            }
        }
    }
}

/// Where an export's files are, as `make dev` prints it.
pub fn export_written(bucket: &str, job: &stopgate::store::exports::ExportJob) -> String {
    let mut lines = vec![format!(
        "export {} ({}) for {}: {} rows",
        job.export_id,
        job.kind.as_str(),
        job.tenant,
        job.rows
    )];
    for file in &job.files {
        lines.push(format!(
            "  s3://{bucket}/{} ({} bytes, sha256 {})",
            file.key, file.bytes, file.sha256
        ));
    }
    if let Some(manifest) = &job.manifest_key {
        lines.push(format!("  s3://{bucket}/{manifest}"));
    }
    lines.join("\n")
}

/// Serves `gateway` on `listener` until the task is dropped: one task per connection.
pub async fn serve(listener: TcpListener, gateway: Arc<Gateway>) {
    loop {
        let Ok((stream, peer)) = listener.accept().await else {
            continue;
        };
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req| serve_one(gateway.clone(), peer, req));
            if let Err(e) = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await
            {
                tracing::debug!(error = %e, "connection closed with an error");
            }
        });
    }
}
