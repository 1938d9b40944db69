//! The hosted opt-in forms and preference pages (`/p/{tenant}/{form}`,
//! `/p/{tenant}/prefs/{link}`): a thin shell around `stopgate::api::pages`.

use std::convert::Infallible;
use std::sync::Arc;

use lambda_http::{Body, Request, Response};
use stopgate::api::pages::PagesService;
use stopgate::api::tenants::Tenants;
use stopgate::config::Config;
use stopgate::store::{SdkConfig, Store};

pub struct Pages {
    service: PagesService,
}

impl Pages {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Result<Pages, String> {
        let pages_key = config
            .pages_key
            .ok_or("PAGES_KEY_KMS_ID (or PAGES_KEY) is required: preference links and page tokens are sealed with it")?;
        let store = Store::new(sdk, &config.table_name);
        // The pages never open provider secrets.
        let tenants = Arc::new(Tenants::new(store.clone(), None));
        Ok(Pages {
            service: PagesService::new(store, tenants, pages_key, &config.public_base_url),
        })
    }

    pub async fn handle(&self, req: Request) -> Result<Response<Body>, Infallible> {
        Ok(self.service.handle(req).await)
    }
}
