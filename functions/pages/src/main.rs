// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use stopgate::{config::Config, store, telemetry};
use stopgate_pages::Pages;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = store::sdk_config(config.sdk_timeout).await;
    let config = config.with_keys_from_kms(&sdk).await?;
    let app = Arc::new(Pages::new(&config, &sdk)?);
    run(service_fn(move |req| {
        let app = app.clone();
        async move { app.handle(req).await }
    }))
    .await
}
