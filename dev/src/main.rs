// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

//! `stopgate-dev serve`: the local gateway for `make dev`. It serves every function's handler
//! in-process at the deployed paths, and drains the capture queue into the replay handler and
//! the imports queue into the import worker the way Lambda's SQS event sources would.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use lambda_http::Body;
use stopgate::api::{ApiError, http as api_http};
use stopgate::config::Config;
use stopgate::store::{self, CaptureQueue};
use stopgate_check::Check;
use stopgate_consent::Consent;
use stopgate_import::ImportWorker;
use stopgate_inbound::Inbound;
use stopgate_replay::Replay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod examples;

struct Gateway {
    inbound: Inbound,
    check: Check,
    consent: Consent,
}

impl Gateway {
    async fn route(&self, req: lambda_http::Request) -> lambda_http::Response<Body> {
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
            "/v1/imports",
        ]
        .iter()
        .any(|p| path.starts_with(p))
        {
            self.consent.handle(req).await
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

async fn serve_one(
    gateway: Arc<Gateway>,
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
    let response = gateway
        .route(lambda_http::Request::from_parts(parts, body))
        .await;
    let (parts, body) = response.into_parts();
    let bytes = Bytes::copy_from_slice(api_http::body_bytes(&body));
    Ok(hyper::Response::from_parts(parts, Full::new(bytes)))
}

/// The stand-in for Lambda's SQS event source: long-polls the capture queue and replays.
async fn drain_capture_queue(queue: CaptureQueue, replay: Replay) {
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
async fn drain_imports_queue(queue: CaptureQueue, worker: ImportWorker) {
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

/// Every route answers before we say we are ready.
async fn answers(addr: SocketAddr, method: &str, path: &str) -> bool {
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return false;
    };
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    if stream.write_all(request.as_bytes()).await.is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.is_ok() && head.starts_with(b"HTTP/1.1 ")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    stopgate::telemetry::init();
    let args: Vec<String> = std::env::args().collect();
    let addr: SocketAddr = match args.iter().position(|a| a == "--addr") {
        Some(i) => args.get(i + 1).ok_or("--addr needs a value")?.parse()?,
        None => "127.0.0.1:9000".parse()?,
    };
    if args.get(1).map(String::as_str) != Some("serve") {
        return Err("usage: stopgate-dev serve [--addr 127.0.0.1:9000]".into());
    }

    let config = Config::from_env()?;
    let sdk = store::sdk_config(config.sdk_timeout).await;
    let gateway = Arc::new(Gateway {
        inbound: Inbound::new(&config, &sdk)?,
        check: Check::new(&config, &sdk),
        consent: Consent::new(&config, &sdk)?,
    });
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|e| format!("cannot listen on {addr}: {e}"))?;

    if let Some(url) = &config.capture_queue_url {
        tokio::spawn(drain_capture_queue(
            CaptureQueue::new(&sdk, url),
            Replay::new(&config, &sdk),
        ));
    }

    if let Some(url) = &config.imports_queue_url {
        tokio::spawn(drain_imports_queue(
            CaptureQueue::new(&sdk, url),
            ImportWorker::new(&config, &sdk)?,
        ));
    }

    let server = {
        let gateway = gateway.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let gateway = gateway.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve_one(gateway.clone(), req));
                    if let Err(e) = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await
                    {
                        tracing::debug!(error = %e, "connection closed with an error");
                    }
                });
            }
        })
    };

    // Probes that reach each handler without being mistaken for a forged webhook.
    for (method, path) in [("GET", "/v1/check"), ("GET", "/v1/webhooks/twilio")] {
        let mut tries = 0;
        while !answers(addr, method, path).await {
            tries += 1;
            if tries > 50 {
                return Err(format!("{path} does not answer").into());
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    println!("stopgate dev ready on http://{addr}");
    examples::print(&format!("http://{addr}"));

    tokio::select! {
        _ = server => {}
        _ = tokio::signal::ctrl_c() => {}
    }
    Ok(())
}
