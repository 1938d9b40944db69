// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use stopgate::{config::Config, store, telemetry};
use stopgate_export::ExportWorker;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = store::sdk_config(config.sdk_timeout).await;
    let app = Arc::new(ExportWorker::new(&config, &sdk)?);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move {
            // The invocation's deadline (epoch milliseconds) as a monotonic instant.
            let now_ms = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_millis() as u64)
                .unwrap_or(0);
            let left = Duration::from_millis(event.context.deadline.saturating_sub(now_ms));
            let deadline = Some(Instant::now() + left);
            app.handle(event.payload, deadline)
                .await
                .map_err(Error::from)
        }
    }))
    .await
}
