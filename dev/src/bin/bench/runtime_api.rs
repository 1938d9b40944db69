//! Cold start: a function's release binary started under a minimal Lambda Runtime API (the
//! three routes a function calls: `invocation/next`, `invocation/{id}/response` and
//! `invocation/{id}/error`, plus `init/error`), timed from the process start to its first
//! answer.

use std::convert::Infallible;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{Notify, mpsc};

/// How the first invocation ended.
#[derive(Debug)]
pub enum Answer {
    /// The function's response; for an API Gateway event, its `statusCode`.
    Response(Option<u64>),
    /// The function reported an invocation or init error.
    Error(String),
}

struct Invocation {
    event: Vec<u8>,
    handed_out: bool,
}

struct Api {
    invocation: Mutex<Invocation>,
    answers: mpsc::UnboundedSender<Answer>,
    /// Wakes nothing: a second `next` waits here until the process is stopped.
    never: Notify,
}

fn reply(status: u16, body: Vec<u8>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or_default();
    response
}

async fn serve(api: Arc<Api>, req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes().to_vec())
        .unwrap_or_default();
    if path == "/2018-06-01/runtime/invocation/next" {
        let event = {
            let mut invocation = api
                .invocation
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            (!std::mem::replace(&mut invocation.handed_out, true)).then(|| invocation.event.clone())
        };
        let Some(event) = event else {
            api.never.notified().await;
            return Ok(reply(500, Vec::new()));
        };
        let deadline = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() + 30_000)
            .unwrap_or(0);
        let mut response = reply(200, event);
        let headers = response.headers_mut();
        for (name, value) in [
            (
                "lambda-runtime-aws-request-id",
                "bench-request-1".to_string(),
            ),
            ("lambda-runtime-deadline-ms", deadline.to_string()),
            (
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:us-east-1:000000000000:function:bench".to_string(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000".to_string(),
            ),
        ] {
            if let Ok(value) = hyper::header::HeaderValue::from_str(&value) {
                headers.insert(name, value);
            }
        }
        return Ok(response);
    }
    let answer = if path.ends_with("/response") {
        let status = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("statusCode").and_then(serde_json::Value::as_u64));
        Answer::Response(status)
    } else if path.ends_with("/error") {
        let message = serde_json::from_slice::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| {
                v.get("errorMessage")
                    .and_then(|m| m.as_str().map(str::to_string))
            })
            .unwrap_or_else(|| format!("error at {path}"));
        Answer::Error(message)
    } else {
        return Ok(reply(404, Vec::new()));
    };
    let _ = api.answers.send(answer);
    Ok(reply(202, br#"{"status":"OK"}"#.to_vec()))
}

/// Starts `binary` with `env` under a fresh Runtime API handing it `event`; returns the time
/// from the spawn to its first answer, and the answer. The process is stopped afterwards.
pub async fn cold_start(
    binary: &Path,
    env: &[(String, String)],
    event: Vec<u8>,
    timeout: Duration,
) -> Result<(Duration, Answer), String> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| format!("runtime API listener: {e}"))?;
    let addr = listener
        .local_addr()
        .map_err(|e| format!("runtime API address: {e}"))?;
    let (answers, mut answered) = mpsc::unbounded_channel();
    let api = Arc::new(Api {
        invocation: Mutex::new(Invocation {
            event,
            handed_out: false,
        }),
        answers,
        never: Notify::new(),
    });
    let server = {
        let api = api.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let api = api.clone();
                tokio::spawn(async move {
                    let service = service_fn(move |req| serve(api.clone(), req));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        })
    };
    let started = Instant::now();
    let mut child = std::process::Command::new(binary)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("{}: {e}", binary.display()))?;
    let outcome = tokio::time::timeout(timeout, answered.recv()).await;
    let elapsed = started.elapsed();
    // Our own child, by its handle: stopped and reaped.
    let _ = child.kill();
    let _ = child.wait();
    server.abort();
    match outcome {
        Ok(Some(answer)) => Ok((elapsed, answer)),
        Ok(None) => Err(format!("{}: the runtime API closed", binary.display())),
        Err(_) => Err(format!(
            "{}: no answer within {} s",
            binary.display(),
            timeout.as_secs()
        )),
    }
}
