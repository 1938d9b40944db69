//! `POST /v1/check` and `POST /v1/check/batch`: a thin shell around `stopgate::api::check`.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use stopgate::api::check::CheckService;
use stopgate::api::{ApiError, http as api_http, tenants::Tenants};
use stopgate::config::Config;
use stopgate::store::{SdkConfig, Store};

pub struct Check {
    service: CheckService,
}

impl Check {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Check {
        let store = Store::new(sdk, &config.table_name);
        // The check never opens provider secrets.
        let tenants = Arc::new(Tenants::new(store.clone(), None));
        Check {
            service: CheckService::new(store, tenants),
        }
    }

    pub async fn handle(&self, req: Request) -> Result<Response<Body>, Infallible> {
        let path = api_http::request_path(&req).trim_end_matches('/');
        let answered = match (req.method().as_str(), path) {
            ("POST", "/v1/check") => self
                .service
                .check(req.headers(), api_http::body_bytes(req.body()))
                .await
                .and_then(|r| api_http::json_of(200, &r)),
            ("POST", "/v1/check/batch") => self
                .service
                .check_batch(req.headers(), api_http::body_bytes(req.body()))
                .await
                .map(|results| api_http::json(200, &results)),
            (_, "/v1/check" | "/v1/check/batch") => {
                Err(ApiError::MethodNotAllowed("use POST".into()))
            }
            _ => Err(ApiError::NotFound {
                code: "not_found",
                message: format!("no route for {path}"),
            }),
        };
        Ok(answered.unwrap_or_else(|err| api_http::error(&err)))
    }
}
