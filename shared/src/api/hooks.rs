//! Notification endpoints through the API, with an `admin` key (the same as `stopgate hook`):
//!
//! - `POST /v1/hooks` `{"url", "events"?}` -> 201: the hook and its signing secret, shown once;
//! - `GET /v1/hooks`: the tenant's hooks, secrets as tags only;
//! - `DELETE /v1/hooks/{hook_id}`: nothing more is sent to it;
//! - `GET /v1/hooks/{hook_id}/deliveries?limit=`: its delivery attempts, newest first;
//! - `POST /v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver` -> 202: the same CloudEvent
//!   queued again for the notify function, which signs it afresh and logs the attempt.
//!
//! Every change is in the audit trail, made by the key that asked.

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::{Authenticator, KeyScope};
use crate::consent::Actor;
use crate::consent::notifications::NotificationType;
use crate::flows::notifications;
use crate::secrets::Sealer;
use crate::store::hook_http;
use crate::store::{ApiKeyRecord, CaptureQueue, Store, StoreError};

/// Delivery attempts listed at most per request.
const MAX_LOG: i32 = 1000;
const DEFAULT_LOG: i32 = 50;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct HookBody {
    url: String,
    #[serde(default)]
    events: Option<Vec<String>>,
}

/// What `url` may be for a hook added through the API. Tenants' admin keys are not operators:
/// their hooks go over https to a public name or address, never to this network's own
/// (loopback, private, link-local). `allow_loopback` (`HOOKS_ALLOW_LOOPBACK`, for `make dev` and
/// tests) also admits plain http to a loopback address, as the CLI does.
pub fn acceptable_url(url: &str, allow_loopback: bool) -> Result<url::Url, ApiError> {
    let checked = if allow_loopback {
        hook_http::acceptable_url(url)
    } else {
        hook_http::acceptable_public_url(url)
    };
    checked.map_err(|message| ApiError::invalid("invalid_url", "url", message))
}

/// The notification types `events` names (absent: all of them).
fn event_types(events: Option<&[String]>) -> Result<Vec<NotificationType>, ApiError> {
    let Some(events) = events else {
        return Ok(NotificationType::ALL.to_vec());
    };
    NotificationType::parse_list(&events.join(","))
        .map_err(|message| ApiError::invalid("invalid_events", "events", message))
}

/// `limit` of a delivery log request: 1 to 1,000, default 50.
fn log_limit(query: &BTreeMap<String, String>) -> Result<i32, ApiError> {
    if let Some(name) = query.keys().find(|k| k.as_str() != "limit") {
        return Err(ApiError::invalid(
            "invalid_query",
            name,
            format!("unknown parameter {name:?}"),
        ));
    }
    super::http::page_limit(query, DEFAULT_LOG, MAX_LOG)
}

fn hook_not_found(hook_id: &str) -> ApiError {
    ApiError::NotFound {
        code: "hook_not_found",
        message: format!("no hook {hook_id:?}"),
    }
}

/// The hooks routes, served by the consent function.
pub struct HookService {
    store: Store,
    auth: Authenticator,
    sealer: Sealer,
    /// Where redeliveries go (the notify function's queue); absent, redelivery is unavailable.
    queue: Option<CaptureQueue>,
    allow_loopback: bool,
}

impl HookService {
    pub fn new(store: Store, sealer: Sealer, queue: Option<CaptureQueue>) -> HookService {
        HookService {
            auth: Authenticator::new(store.clone()),
            store,
            sealer,
            queue,
            allow_loopback: false,
        }
    }

    /// Also admits plain http hooks to a loopback address (`make dev`, tests).
    pub fn allowing_loopback(mut self, allow: bool) -> HookService {
        self.allow_loopback = allow;
        self
    }

    /// With redeliveries queued on another queue (tests use their own).
    pub fn with_queue(mut self, queue: CaptureQueue) -> HookService {
        self.queue = Some(queue);
        self
    }

    async fn admin(&self, headers: &http::HeaderMap) -> Result<ApiKeyRecord, ApiError> {
        self.auth.authenticate(headers, &[KeyScope::Admin]).await
    }

    /// `NotFound` unless the key's tenant has the hook.
    async fn require_hook(&self, key: &ApiKeyRecord, hook_id: &str) -> Result<(), ApiError> {
        if self
            .store
            .hooks(&key.tenant_id)
            .await?
            .contains_key(hook_id)
        {
            Ok(())
        } else {
            Err(hook_not_found(hook_id))
        }
    }

    /// The store, recording the key as the author of what it changes.
    fn acting_for(&self, key: &ApiKeyRecord) -> Store {
        self.store.acting_as(Actor::ApiKey {
            key_id: key.key_id.clone(),
        })
    }

    /// `POST /v1/hooks`.
    pub async fn add(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self.admin(headers).await?;
        let request: HookBody = super::http::parse_json(body)?;
        let url = acceptable_url(&request.url, self.allow_loopback)?;
        let events = event_types(request.events.as_deref())?;
        let tenant = &key.tenant_id;
        if self.store.hooks(tenant).await?.len() >= notifications::MAX_HOOKS_PER_TENANT {
            return Err(ApiError::Conflict {
                code: "too_many_hooks",
                message: format!(
                    "a tenant has at most {} hooks; remove one first",
                    notifications::MAX_HOOKS_PER_TENANT
                ),
                field: None,
            });
        }
        let store = self.acting_for(&key);
        let (hook, secret) =
            notifications::add_hook(&store, &self.sealer, tenant, &url, events).await?;
        tracing::info!(hook_id = %hook.hook_id, key_id = %key.key_id, "hook added");
        Ok(json!({
            "hook_id": hook.hook_id,
            "url": hook.url,
            "events": hook.events,
            "created_at": hook.created_at,
            "secret": secret,
        }))
    }

    /// `GET /v1/hooks`.
    pub async fn list(&self, headers: &http::HeaderMap) -> Result<Value, ApiError> {
        let key = self.admin(headers).await?;
        let hooks = self.store.hooks(&key.tenant_id).await?;
        let items: Vec<Value> = hooks.values().map(|hook| hook.shown()).collect();
        Ok(json!({ "items": items }))
    }

    /// `DELETE /v1/hooks/{hook_id}`.
    pub async fn remove(
        &self,
        headers: &http::HeaderMap,
        hook_id: &str,
    ) -> Result<Value, ApiError> {
        let key = self.admin(headers).await?;
        match self
            .acting_for(&key)
            .remove_hook(&key.tenant_id, hook_id)
            .await
        {
            Ok(hook) => {
                tracing::info!(hook_id = %hook.hook_id, key_id = %key.key_id, "hook removed");
                Ok(json!({ "hook_id": hook.hook_id, "removed": true }))
            }
            Err(StoreError::NotFound(_)) => Err(hook_not_found(hook_id)),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET /v1/hooks/{hook_id}/deliveries`: the attempts without the bodies sent (they hold
    /// phone numbers, and are kept for redelivery, not for reading).
    pub async fn deliveries(
        &self,
        headers: &http::HeaderMap,
        hook_id: &str,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let key = self.admin(headers).await?;
        let limit = log_limit(query)?;
        self.require_hook(&key, hook_id).await?;
        let records = self
            .store
            .delivery_log(&key.tenant_id, hook_id, limit)
            .await?;
        let items: Vec<Value> = records
            .iter()
            .map(|r| {
                json!({
                    "delivery_id": r.delivery_id,
                    "notification_id": r.notification_id,
                    "type": r.kind,
                    "attempt": r.attempt,
                    "status": r.status,
                    "http_status": r.http_status,
                    "error": r.error,
                    "at": r.at,
                    "duration_ms": r.duration_ms,
                })
            })
            .collect();
        Ok(json!({ "items": items }))
    }

    /// `POST /v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver`.
    pub async fn redeliver(
        &self,
        headers: &http::HeaderMap,
        hook_id: &str,
        delivery_id: &str,
    ) -> Result<Value, ApiError> {
        let key = self.admin(headers).await?;
        self.require_hook(&key, hook_id).await?;
        let queue = self.queue.as_ref().ok_or_else(|| {
            ApiError::Unavailable("redelivery is not configured (HOOKS_QUEUE_URL)".into())
        })?;
        let (delivery, _) =
            match notifications::logged_delivery(&self.store, &key.tenant_id, hook_id, delivery_id)
                .await
            {
                Ok(found) => found,
                Err(StoreError::NotFound(_)) => {
                    return Err(ApiError::NotFound {
                        code: "delivery_not_found",
                        message: format!(
                            "no delivery {delivery_id:?} in the last {} days of {hook_id:?}",
                            crate::store::hooks::DELIVERY_LOG_DAYS
                        ),
                    });
                }
                Err(e) => return Err(e.into()),
            };
        let message =
            serde_json::to_string(&delivery).map_err(|e| ApiError::Unavailable(e.to_string()))?;
        queue.send(&message).await?;
        tracing::info!(hook_id, delivery_id, key_id = %key.key_id, "redelivery queued");
        Ok(json!({
            "hook_id": hook_id,
            "delivery_id": delivery_id,
            "notification_id": delivery.notification_id,
            "queued": true,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_hooks_go_over_https_to_public_hosts() {
        for good in [
            "https://example.com/hooks",
            "https://hooks.example.org:8443/in?x=1",
            "https://93.184.216.34/in",
        ] {
            assert!(acceptable_url(good, false).is_ok(), "{good}");
        }
        for bad in [
            "http://example.com/hooks",
            "http://127.0.0.1:9001/2018-06-01/runtime/invocation/next",
            "https://127.0.0.1/in",
            "https://localhost/in",
            "https://10.0.0.8/in",
            "https://192.168.1.1/in",
            "https://172.16.5.4/in",
            "https://169.254.169.254/latest/meta-data",
            "https://[::1]/in",
            "https://[fd00::1]/in",
            "https://[fe80::1]/in",
            "https://0.0.0.0/in",
            "ftp://example.com/",
            "not a url",
        ] {
            let err = acceptable_url(bad, false).unwrap_err();
            assert_eq!(err.body()["error"]["field"], "url", "{bad}");
        }
        assert!(acceptable_url("http://127.0.0.1:9/in", true).is_ok());
        assert!(acceptable_url("http://example.com/in", true).is_err());
    }

    #[test]
    fn events_default_to_all_and_are_named_when_wrong() {
        assert_eq!(event_types(None).unwrap(), NotificationType::ALL.to_vec());
        assert_eq!(
            event_types(Some(&["opt_out".to_string()])).unwrap(),
            [NotificationType::OptOut]
        );
        for bad in [vec![], vec!["stop".to_string()]] {
            let err = event_types(Some(&bad)).unwrap_err();
            assert_eq!(err.body()["error"]["field"], "events", "{bad:?}");
        }
    }

    #[test]
    fn the_log_limit_is_checked_and_named() {
        let query = |k: &str, v: &str| BTreeMap::from([(k.to_string(), v.to_string())]);
        assert_eq!(log_limit(&BTreeMap::new()).unwrap(), DEFAULT_LOG);
        assert_eq!(log_limit(&query("limit", "1000")).unwrap(), 1000);
        for bad in ["0", "1001", "x"] {
            let err = log_limit(&query("limit", bad)).unwrap_err();
            assert_eq!(err.body()["error"]["field"], "limit", "{bad}");
        }
        let err = log_limit(&query("cursor", "x")).unwrap_err();
        assert_eq!(err.body()["error"]["field"], "cursor");
    }
}
