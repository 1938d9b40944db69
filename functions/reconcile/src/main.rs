// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

use std::sync::Arc;

use lambda_runtime::{Error, LambdaEvent, run, service_fn};
use stopgate::api::optout_lists::OptOutLists;
use stopgate::{config::Config, store, telemetry};
use stopgate_reconcile::Reconciler;

#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init();
    let config = Config::from_env()?;
    let sdk = store::sdk_config(config.sdk_timeout).await;
    let lists = OptOutLists::new(Some(sdk.clone()));
    let app = Arc::new(Reconciler::new(&config, &sdk, lists));
    run(service_fn(move |_: LambdaEvent<serde_json::Value>| {
        let app = app.clone();
        async move { app.handle().await.map_err(Error::from) }
    }))
    .await
}
