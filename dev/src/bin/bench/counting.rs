//! The SDK's HTTP client, wrapped to count the DynamoDB requests that really leave the process
//! (by their `X-Amz-Target` operation) and to keep the bodies of `TransactWriteItems`, so a
//! baseline can send the very same items again.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::sync::{Arc, Mutex, PoisonError};

use aws_smithy_runtime_api::client::behavior_version::BehaviorVersion;
use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::HttpRequest;
use aws_smithy_runtime_api::client::runtime_components::{
    RuntimeComponents, RuntimeComponentsBuilder,
};
use aws_smithy_runtime_api::client::runtime_plugin::RuntimePlugin;

/// Where the bodies of `TransactWriteItems` go.
#[derive(Debug, Default)]
enum Keep {
    #[default]
    Nothing,
    /// The latest one only (the webhook baseline sends it again at once).
    Last(Option<Vec<u8>>),
    /// Every one, a line each (JSON has no raw newline), for a baseline after the run.
    File(BufWriter<File>),
}

#[derive(Debug, Default)]
struct Counts {
    by_operation: BTreeMap<String, u64>,
    keep: Keep,
}

/// Shared by every clone and every connector the SDK asks for.
#[derive(Debug, Clone, Default)]
pub struct Counter {
    inner: Arc<Mutex<Counts>>,
}

impl Counter {
    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Requests so far, by operation.
    pub fn snapshot(&self) -> BTreeMap<String, u64> {
        self.lock().by_operation.clone()
    }

    pub fn keep_last(&self) {
        self.lock().keep = Keep::Last(None);
    }

    pub fn keep_in(&self, file: File) {
        self.lock().keep = Keep::File(BufWriter::new(file));
    }

    /// The body of the latest `TransactWriteItems` (with [`Counter::keep_last`]).
    pub fn take_last(&self) -> Option<Vec<u8>> {
        match &mut self.lock().keep {
            Keep::Last(last) => last.take(),
            _ => None,
        }
    }

    /// Stops keeping bodies; a file is flushed.
    pub fn keep_nothing(&self) -> std::io::Result<()> {
        let keep = std::mem::take(&mut self.lock().keep);
        if let Keep::File(mut file) = keep {
            file.flush()?;
        }
        Ok(())
    }

    fn record(&self, request: &HttpRequest) {
        let Some(operation) = request
            .headers()
            .get("x-amz-target")
            .and_then(|t| t.strip_prefix("DynamoDB_20120810."))
        else {
            return;
        };
        let mut counts = self.lock();
        *counts
            .by_operation
            .entry(operation.to_string())
            .or_default() += 1;
        if operation != "TransactWriteItems" {
            return;
        }
        let body = request.body().bytes().unwrap_or_default();
        match &mut counts.keep {
            Keep::Nothing => {}
            Keep::Last(last) => *last = Some(body.to_vec()),
            Keep::File(file) => {
                // A failed write shows later as a baseline with fewer items than the run.
                let _ = file.write_all(body).and_then(|()| file.write_all(b"\n"));
            }
        }
    }
}

/// Requests made between two snapshots, by operation.
pub fn difference(
    after: &BTreeMap<String, u64>,
    before: &BTreeMap<String, u64>,
) -> BTreeMap<String, u64> {
    after
        .iter()
        .map(|(op, n)| (op.clone(), n - before.get(op).copied().unwrap_or(0)))
        .filter(|(_, n)| *n > 0)
        .collect()
}

#[derive(Debug)]
struct CountingClient {
    inner: SharedHttpClient,
    counter: Counter,
}

#[derive(Debug)]
struct CountingConnector {
    inner: SharedHttpConnector,
    counter: Counter,
}

impl HttpConnector for CountingConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        self.counter.record(&request);
        self.inner.call(request)
    }
}

impl HttpClient for CountingClient {
    fn http_connector(
        &self,
        settings: &HttpConnectorSettings,
        components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        SharedHttpConnector::new(CountingConnector {
            inner: self.inner.http_connector(settings, components),
            counter: self.counter.clone(),
        })
    }
}

/// The HTTP client the SDK would pick for `sdk` (its own, or the SDK's default one).
fn client_of(sdk: &aws_config::SdkConfig) -> Option<SharedHttpClient> {
    if let Some(client) = sdk.http_client() {
        return Some(client);
    }
    let version = sdk
        .behavior_version()
        .unwrap_or_else(BehaviorVersion::latest);
    let plugin = aws_smithy_runtime::client::defaults::default_http_client_plugin_v2(version)?;
    plugin
        .runtime_components(&RuntimeComponentsBuilder::new("bench"))
        .http_client()
}

/// `sdk` with its HTTP client wrapped: the same client the SDK would use, every DynamoDB
/// request counted.
pub fn counting(sdk: &aws_config::SdkConfig) -> Result<(aws_config::SdkConfig, Counter), String> {
    let inner = client_of(sdk).ok_or("the SDK has no default HTTP client to wrap")?;
    let counter = Counter::default();
    let client = SharedHttpClient::new(CountingClient {
        inner,
        counter: counter.clone(),
    });
    Ok((sdk.to_builder().http_client(client).build(), counter))
}
