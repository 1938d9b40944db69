//! Consents, number state and history, the opt-out list, reviews, privacy requests and imports:
//! a thin shell around `stopgate::api::consents` and `stopgate::api::imports`.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, RequestExt, Response};
use stopgate::api::consents::ConsentService;
use stopgate::api::imports::ImportService;
use stopgate::api::{ApiError, http as api_http, tenants::Tenants};
use stopgate::config::Config;
use stopgate::store::uploads::Uploads;
use stopgate::store::{SdkConfig, Store};

pub struct Consent {
    service: ConsentService,
    imports: ImportService,
}

impl Consent {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Consent, String> {
        let cursor_key = config
            .cursor_key
            .ok_or("CURSOR_KEY is required: pagination cursors are encrypted with it")?;
        let store = Store::new(sdk, &config.table_name);
        let tenants = Arc::new(Tenants::new(store.clone(), None));
        let uploads = config
            .imports_bucket
            .as_ref()
            .map(|bucket| Uploads::new(sdk, bucket));
        Ok(Consent {
            service: ConsentService::new(store.clone(), tenants.clone(), cursor_key),
            imports: ImportService::new(store, tenants, uploads),
        })
    }

    /// With the import service's uploads going to another bucket (tests use one of their own).
    pub fn with_uploads(mut self, uploads: Uploads) -> Consent {
        self.imports = self.imports.with_uploads(uploads);
        self
    }

    pub async fn handle(&self, req: Request) -> Result<Response<Body>, Infallible> {
        let raw_path = req.raw_http_path();
        let path = if raw_path.is_empty() {
            req.uri().path()
        } else {
            raw_path
        };
        let path = path.trim_end_matches('/');
        let body = api_http::body_bytes(req.body());
        let headers = req.headers();
        let (status, result) = match (req.method().as_str(), path) {
            ("POST", "/v1/consents") => (201, self.service.record(headers, body).await),
            ("POST", "/v1/numbers/lookup") => (200, self.service.lookup(headers, body).await),
            ("POST", "/v1/numbers/history") => (200, self.service.history(headers, body).await),
            ("POST", "/v1/numbers/redact") => (200, self.service.redact(headers, body).await),
            ("GET", "/v1/opt-outs") => (200, self.service.opt_outs(headers, &query(&req)).await),
            ("GET", "/v1/reviews") => (200, self.service.reviews(headers, &query(&req)).await),
            ("POST", "/v1/imports") => match self.imports.create(headers, body).await {
                Ok((status, value)) => (status, Ok(value)),
                Err(e) => (400, Err(e)),
            },
            ("GET", p) if p.starts_with("/v1/imports/") => (
                200,
                self.imports
                    .get(headers, p.trim_start_matches("/v1/imports/"))
                    .await,
            ),
            ("POST", p) if p.starts_with("/v1/reviews/") => (
                200,
                self.service
                    .resolve(headers, p.trim_start_matches("/v1/reviews/"), body)
                    .await,
            ),
            (
                _,
                "/v1/consents"
                | "/v1/numbers/lookup"
                | "/v1/numbers/history"
                | "/v1/numbers/redact",
            ) => (405, Err(ApiError::MethodNotAllowed("use POST".into()))),
            (_, "/v1/imports") => (405, Err(ApiError::MethodNotAllowed("use POST".into()))),
            (_, p) if p.starts_with("/v1/imports/") => {
                (405, Err(ApiError::MethodNotAllowed("use GET".into())))
            }
            (_, "/v1/opt-outs" | "/v1/reviews") => {
                (405, Err(ApiError::MethodNotAllowed("use GET".into())))
            }
            _ => (
                404,
                Err(ApiError::NotFound {
                    code: "not_found",
                    message: format!("no route for {path}"),
                }),
            ),
        };
        Ok(match result {
            Ok(value) => api_http::json(status, &value),
            Err(err) => api_http::error(&err),
        })
    }
}

/// The query string as name -> value (the first value of a repeated name).
fn query(req: &Request) -> BTreeMap<String, String> {
    req.query_string_parameters_ref()
        .map(|q| {
            q.iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .unwrap_or_default()
}
