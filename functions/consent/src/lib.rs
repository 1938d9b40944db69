//! Consents, number state and history, the opt-out list, reviews, privacy requests, imports and
//! preference links and exports: a thin shell around `stopgate::api::consents`,
//! `stopgate::api::imports`, `stopgate::api::links` and `stopgate::api::exports`.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use serde_json::Value;
use stopgate::api::consents::ConsentService;
use stopgate::api::exports::ExportService;
use stopgate::api::hooks::HookService;
use stopgate::api::imports::ImportService;
use stopgate::api::links::Links;
use stopgate::api::{ApiError, http as api_http, tenants::Tenants};
use stopgate::config::Config;
use stopgate::secrets::Sealer;
use stopgate::store::export_files::ExportBucket;
use stopgate::store::uploads::Uploads;
use stopgate::store::{CaptureQueue, SdkConfig, Store};

pub struct Consent {
    service: ConsentService,
    imports: ImportService,
    /// Where the preference pages are served: links are handed out as full URLs.
    public_base_url: String,
    exports: ExportService,
    hooks: HookService,
}

impl Consent {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Consent, String> {
        let cursor_key = config
            .cursor_key
            .ok_or("CURSOR_KEY is required: pagination cursors are encrypted with it")?;
        let pages_key = config.pages_key.ok_or(
            "PAGES_KEY_KMS_ID (or PAGES_KEY) is required: preference links are sealed with it",
        )?;
        let store = Store::new(sdk, &config.table_name);
        let tenants = Arc::new(Tenants::new(store.clone(), None));
        let uploads = config
            .imports_bucket
            .as_ref()
            .map(|bucket| Uploads::new(sdk, bucket));
        let bucket = config
            .exports_bucket
            .as_ref()
            .map(|bucket| ExportBucket::new(sdk, bucket));
        let queue = config
            .exports_queue_url
            .as_ref()
            .map(|url| CaptureQueue::new(sdk, url));
        let hooks_queue = config
            .hooks_queue_url
            .as_ref()
            .map(|url| CaptureQueue::new(sdk, url));
        let sealer = Sealer::new(config.secrets_key.clone(), sdk);
        Ok(Consent {
            hooks: HookService::new(store.clone(), sealer, hooks_queue)
                .allowing_loopback(config.hooks_allow_loopback),
            service: ConsentService::new(store.clone(), tenants.clone(), cursor_key)
                .with_links(Links::new(pages_key)),
            exports: ExportService::new(store.clone(), cursor_key, bucket, queue),
            imports: ImportService::new(store, tenants, uploads),
            public_base_url: config.public_base_url.clone(),
        })
    }

    /// With exports written to another bucket and asked for on another queue (tests use their
    /// own).
    pub fn with_exports(mut self, bucket: ExportBucket, queue: CaptureQueue) -> Consent {
        self.exports = self.exports.with(bucket, queue);
        self
    }

    /// With redeliveries queued on another hooks queue (tests use one of their own).
    pub fn with_hooks_queue(mut self, queue: CaptureQueue) -> Consent {
        self.hooks = self.hooks.with_queue(queue);
        self
    }

    /// With the import service's uploads going to another bucket (tests use one of their own).
    pub fn with_uploads(mut self, uploads: Uploads) -> Consent {
        self.imports = self.imports.with_uploads(uploads);
        self
    }

    pub async fn handle(&self, req: Request) -> Result<Response<Body>, Infallible> {
        let path = api_http::request_path(&req).trim_end_matches('/');
        let body = api_http::body_bytes(req.body());
        let headers = req.headers();
        let ok = |value| (200, value);
        let result: Result<(u16, Value), ApiError> = match (req.method().as_str(), path) {
            ("POST", "/v1/consents") => self.service.record(headers, body).await.map(|v| (201, v)),
            ("POST", "/v1/numbers/lookup") => self.service.lookup(headers, body).await.map(ok),
            ("POST", "/v1/numbers/history") => self.service.history(headers, body).await.map(ok),
            ("POST", "/v1/numbers/redact") => self.service.redact(headers, body).await.map(ok),
            ("POST", "/v1/links") => self
                .service
                .create_link(headers, body, &self.public_base_url)
                .await
                .map(|v| (201, v)),
            ("GET", "/v1/opt-outs") => {
                let query = api_http::query_map(&req);
                self.service.opt_outs(headers, &query).await.map(ok)
            }
            ("GET", "/v1/reviews") => {
                let query = api_http::query_map(&req);
                self.service.reviews(headers, &query).await.map(ok)
            }
            ("GET", "/v1/audit") => {
                let query = api_http::query_map(&req);
                self.service.audit(headers, &query).await.map(ok)
            }
            ("POST", "/v1/hooks") => self.hooks.add(headers, body).await.map(|v| (201, v)),
            ("GET", "/v1/hooks") => self.hooks.list(headers).await.map(ok),
            (method, p) if p.starts_with("/v1/hooks/") => {
                self.hook_route(method, p, headers, &req).await
            }
            ("POST", "/v1/imports") => self.imports.create(headers, body).await,
            ("POST", "/v1/exports") => self.exports.create(headers, body).await.map(|v| (202, v)),
            ("GET", "/v1/exports") => {
                let query = api_http::query_map(&req);
                self.exports.list(headers, &query).await.map(ok)
            }
            ("GET", p) if p.starts_with("/v1/exports/") => self
                .exports
                .get(headers, p.trim_start_matches("/v1/exports/"))
                .await
                .map(ok),
            ("GET", p) if p.starts_with("/v1/imports/") => self
                .imports
                .get(headers, p.trim_start_matches("/v1/imports/"))
                .await
                .map(ok),
            ("POST", p) if p.starts_with("/v1/reviews/") => self
                .service
                .resolve(headers, p.trim_start_matches("/v1/reviews/"), body)
                .await
                .map(ok),
            (
                _,
                "/v1/consents"
                | "/v1/numbers/lookup"
                | "/v1/numbers/history"
                | "/v1/numbers/redact"
                | "/v1/links"
                | "/v1/imports",
            ) => Err(ApiError::MethodNotAllowed("use POST".into())),
            (_, p) if p.starts_with("/v1/reviews/") => {
                Err(ApiError::MethodNotAllowed("use POST".into()))
            }
            (_, "/v1/hooks") => Err(ApiError::MethodNotAllowed(
                "use POST to add a hook, GET to list them".into(),
            )),
            (_, "/v1/opt-outs" | "/v1/reviews" | "/v1/audit") => {
                Err(ApiError::MethodNotAllowed("use GET".into()))
            }
            (_, p) if p.starts_with("/v1/imports/") || p.starts_with("/v1/exports/") => {
                Err(ApiError::MethodNotAllowed("use GET".into()))
            }
            (_, "/v1/exports") => Err(ApiError::MethodNotAllowed(
                "use POST to ask for an export, GET to list them".into(),
            )),
            _ => Err(ApiError::NotFound {
                code: "not_found",
                message: format!("no route for {path}"),
            }),
        };
        Ok(match result {
            Ok((status, value)) => api_http::json(status, &value),
            Err(err) => api_http::error(&err),
        })
    }

    /// `/v1/hooks/{hook_id}`, `/v1/hooks/{hook_id}/deliveries` and
    /// `/v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver`.
    async fn hook_route(
        &self,
        method: &str,
        path: &str,
        headers: &http::HeaderMap,
        req: &Request,
    ) -> Result<(u16, Value), ApiError> {
        let parts: Vec<&str> = path.trim_start_matches("/v1/hooks/").split('/').collect();
        match (method, parts.as_slice()) {
            ("DELETE", [hook]) => self.hooks.remove(headers, hook).await.map(|v| (200, v)),
            ("GET", [hook, "deliveries"]) => {
                let query = api_http::query_map(req);
                self.hooks
                    .deliveries(headers, hook, &query)
                    .await
                    .map(|v| (200, v))
            }
            ("POST", [hook, "deliveries", delivery, "redeliver"]) => self
                .hooks
                .redeliver(headers, hook, delivery)
                .await
                .map(|v| (202, v)),
            (_, [_]) => Err(ApiError::MethodNotAllowed("use DELETE".into())),
            (_, [_, "deliveries"]) => Err(ApiError::MethodNotAllowed("use GET".into())),
            (_, [_, "deliveries", _, "redeliver"]) => {
                Err(ApiError::MethodNotAllowed("use POST".into()))
            }
            _ => Err(ApiError::NotFound {
                code: "not_found",
                message: format!("no route for {path}"),
            }),
        }
    }
}
