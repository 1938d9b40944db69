// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

//! `stopgate-dev serve`: the local gateway for `make dev` (stopgate_dev, the library): every
//! function's handler at the deployed paths, the capture queue drained into the replay handler,
//! the imports queue into the import worker, the exports queue into the export function, and
//! the table's stream and the hooks queue into the notify function, the way Lambda's event
//! sources would.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use stopgate::config::Config;
use stopgate::store::{self, CaptureQueue};
use stopgate_dev::stream::{TableStream, drain_hooks_queue, follow_table_stream};
use stopgate_dev::{Gateway, drain_capture_queue, drain_exports_queue, drain_imports_queue, serve};
use stopgate_export::ExportWorker;
use stopgate_import::ImportWorker;
use stopgate_replay::Replay;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod examples;

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
    let gateway = Arc::new(Gateway::new(&config, &sdk)?);
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

    if let Some(url) = &config.exports_queue_url {
        tokio::spawn(drain_exports_queue(
            CaptureQueue::new(&sdk, url),
            ExportWorker::new(&config, &sdk)?,
        ));
    }

    // Notifications: the table's stream (DynamoDB Local serves it) and the hooks queue.
    if let (Some(url), Ok(endpoint)) = (
        &config.hooks_queue_url,
        std::env::var("AWS_ENDPOINT_URL_DYNAMODB"),
    ) {
        let notifier = Arc::new(stopgate_notify::Notifier::new(&config, &sdk)?);
        match TableStream::open(&sdk, &endpoint, &config.table_name).await {
            Ok(stream) => {
                tokio::spawn(follow_table_stream(stream, notifier.clone()));
            }
            // Everything else still works; only notifications of new events do not.
            Err(e) => eprintln!(
                "stopgate-dev: notifications are off ({e}); scripts/create_resources.py enables the stream"
            ),
        }
        tokio::spawn(drain_hooks_queue(CaptureQueue::new(&sdk, url), notifier));
    }

    let server = tokio::spawn(serve(listener, gateway));

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
