//! `POST /v1/webhooks/{provider}/{tenant}`: a thin shell around `stopgate::api::webhook`.

use std::convert::Infallible;
use std::sync::Arc;

use chrono::Utc;
use lambda_http::{Body, Request, Response};
use stopgate::api::webhook::{IncomingWebhook, WebhookService};
use stopgate::api::{ApiError, http as api_http, tenants::Tenants};
use stopgate::config::Config;
use stopgate::secrets::Sealer;
use stopgate::store::{CaptureQueue, SdkConfig, Store};

pub struct Inbound {
    service: WebhookService,
    public_base_url: String,
}

impl Inbound {
    /// Clients are built once per process, here.
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Inbound, String> {
        if config.public_base_url.is_empty() {
            return Err(
                "PUBLIC_BASE_URL is required: webhook signatures are verified against it".into(),
            );
        }
        let store = Store::new(sdk, &config.table_name);
        let sealer = Sealer::new(config.secrets_key.clone(), sdk);
        let tenants = Arc::new(Tenants::new(store.clone(), Some(sealer)));
        let capture = config
            .capture_queue_url
            .as_ref()
            .map(|url| CaptureQueue::new(sdk, url));
        if capture.is_none() {
            tracing::warn!("CAPTURE_QUEUE_URL is not set: a storage failure will answer 503");
        }
        let service = WebhookService::new(store, tenants, capture, config.inbound_budget);
        Ok(Inbound {
            service,
            public_base_url: config.public_base_url.clone(),
        })
    }

    pub async fn handle(&self, req: Request) -> Result<Response<Body>, Infallible> {
        let received_at = Utc::now();
        let path = api_http::request_path(&req).to_string();
        let Some((provider, tenant)) = webhook_target(&path) else {
            return Ok(api_http::error(&ApiError::NotFound {
                code: "not_found",
                message: format!("no route for {path}"),
            }));
        };
        if req.method() != http::Method::POST && req.method() != http::Method::GET {
            return Ok(api_http::error(&ApiError::MethodNotAllowed(
                "webhooks accept POST (or GET)".into(),
            )));
        }
        let incoming = IncomingWebhook {
            provider,
            tenant,
            method: req.method().as_str().to_string(),
            url: IncomingWebhook::url_for(
                &self.public_base_url,
                &path,
                req.uri().query().unwrap_or(""),
            ),
            headers: req.headers().clone(),
            body: api_http::body_bytes(req.body()).to_vec(),
            received_at,
        };
        let answer = self.service.handle(incoming).await;
        let mut response = api_http::text(answer.status, &answer.content_type, answer.body);
        for (name, value) in &answer.headers {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(name.as_bytes()),
                http::HeaderValue::from_str(value),
            ) {
                response.headers_mut().insert(name, value);
            }
        }
        Ok(response)
    }
}

/// `/v1/webhooks/{provider}/{tenant}` -> (provider, tenant).
fn webhook_target(path: &str) -> Option<(String, String)> {
    let rest = path.strip_prefix("/v1/webhooks/")?;
    let (provider, tenant) = rest.trim_end_matches('/').split_once('/')?;
    (stopgate::ids::valid_id(provider) && stopgate::ids::valid_id(tenant))
        .then(|| (provider.to_string(), tenant.to_string()))
}

#[cfg(test)]
mod tests {
    use super::webhook_target;

    #[test]
    fn routes_only_well_formed_webhook_paths() {
        assert_eq!(
            webhook_target("/v1/webhooks/twilio/demo"),
            Some(("twilio".into(), "demo".into()))
        );
        assert_eq!(
            webhook_target("/v1/webhooks/twilio/demo/"),
            Some(("twilio".into(), "demo".into()))
        );
        assert_eq!(webhook_target("/v1/webhooks/twilio"), None);
        assert_eq!(webhook_target("/v1/webhooks/twilio/de mo"), None);
        assert_eq!(webhook_target("/v1/check"), None);
    }
}
