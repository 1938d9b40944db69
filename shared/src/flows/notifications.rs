//! Outbound notifications (`consent::notifications`): which deliveries a recorded event makes,
//! and one delivery attempt: signed, sent, logged.
//!
//! Delivery is at least once: a retried stream batch or a lost answer sends a notification
//! again, always with the same CloudEvent `id`, which receivers use to drop repeats.

use std::collections::BTreeMap;
use std::time::Instant;

use chrono::{DateTime, Utc};
use rand::Rng;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::consent::ConsentEvent;
use crate::consent::notifications::{self, NotificationType};
use crate::secrets::Sealer;
use crate::store::hook_http::HookHttp;
use crate::store::hooks::{DeliveryRecord, DeliveryStatus, Hook};
use crate::store::imports::ImportJob;
use crate::store::{Store, StoreError};

/// The encryption context hooks' secrets are sealed under (with the tenant).
pub const SEALED_AS: &str = "hooks";

/// The most hooks one tenant may have: each notification is sent to every one of them.
pub const MAX_HOOKS_PER_TENANT: usize = 20;

/// One notification to one hook: the hooks queue's message, and what a redelivery re-sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    pub tenant: String,
    pub hook_id: String,
    pub notification_id: String,
    pub kind: NotificationType,
    /// The CloudEvent, serialised once, so every attempt sends the same bytes.
    pub body: String,
}

/// One notification: its type and its CloudEvent, for the tenant's hooks and the event bus.
#[derive(Debug, Clone, PartialEq)]
pub struct Notice {
    pub tenant: String,
    pub kind: NotificationType,
    pub envelope: Value,
}

/// The notifications a recorded event makes.
pub fn of_event(event: &ConsentEvent) -> Vec<Notice> {
    notifications::of_event(event)
        .into_iter()
        .map(|kind| Notice {
            tenant: event.tenant.clone(),
            kind,
            envelope: notifications::envelope(event, kind),
        })
        .collect()
}

/// The notification of an import that finished (done or failed): its counts, never its lines.
pub fn import_finished(job: &ImportJob) -> Notice {
    let t = &job.tally;
    let data = json!({
        "tenant": job.tenant,
        "import_id": job.import_id,
        "status": job.status,
        "via": job.via,
        "filename": job.filename,
        "source_file_sha256": job.source_file_sha256,
        "lines": t.lines,
        "applied": t.applied,
        "skipped_duplicates": t.skipped_duplicates,
        "skipped_opted_out": t.skipped_opted_out,
        "error_count": t.error_count,
        "warning_count": t.warning_count,
        "failure": job.failure,
        "created_at": job.created_at,
        "finished_at": job.updated_at,
    });
    let kind = NotificationType::ImportFinished;
    Notice {
        tenant: job.tenant.clone(),
        kind,
        envelope: notifications::cloudevent(
            &format!("{}.{}", job.import_id, kind.as_str()),
            &job.tenant,
            kind,
            None,
            job.updated_at,
            data,
        ),
    }
}

/// The deliveries `notice` makes to those of the tenant's `hooks` that want it.
pub fn deliveries(hooks: &BTreeMap<String, Hook>, notice: &Notice) -> Vec<Delivery> {
    let id = notice.envelope["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let body = notice.envelope.to_string();
    hooks
        .values()
        .filter(|h| h.wants(notice.kind))
        .map(|hook| Delivery {
            tenant: notice.tenant.clone(),
            hook_id: hook.hook_id.clone(),
            notification_id: id.clone(),
            kind: notice.kind,
            body: body.clone(),
        })
        .collect()
}

/// Adds a hook for `tenant` (audited as the store's actor): its id and its signing secret, to
/// be shown once and never again.
pub async fn add_hook(
    store: &Store,
    sealer: &Sealer,
    tenant: &str,
    url: &url::Url,
    events: Vec<NotificationType>,
) -> Result<(Hook, String), StoreError> {
    let secret = new_secret();
    let sealed = sealer
        .seal(tenant, SEALED_AS, &secret)
        .await
        .map_err(|e| StoreError::Unavailable(format!("the hook's secret not sealed: {e}")))?;
    let hook = Hook {
        hook_id: format!("hook_{}", ulid::Ulid::new()),
        url: url.to_string(),
        events,
        secret_sealed: sealed,
        created_at: Utc::now(),
    };
    store.put_hook(tenant, &hook).await?;
    Ok((hook, secret))
}

/// A logged attempt of `hook_id` as a delivery to make again: the same CloudEvent, byte for
/// byte, with the attempt it was.
pub async fn logged_delivery(
    store: &Store,
    tenant: &str,
    hook_id: &str,
    delivery_id: &str,
) -> Result<(Delivery, u32), StoreError> {
    let logged = store
        .delivery_log(tenant, hook_id, 1000)
        .await?
        .into_iter()
        .find(|r| r.delivery_id == delivery_id)
        .ok_or_else(|| StoreError::NotFound(format!("delivery {delivery_id}")))?;
    let delivery = Delivery {
        tenant: tenant.to_string(),
        hook_id: hook_id.to_string(),
        notification_id: logged.notification_id,
        kind: logged.kind,
        body: logged.body,
    };
    Ok((delivery, logged.attempt))
}

/// A new hook's signing secret, shown once.
pub fn new_secret() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    format!("whsec_{secret}")
}

/// How long a failed delivery waits before its next attempt: 30 s, doubling, at most an hour.
pub fn backoff_seconds(attempt: u32) -> i32 {
    let doubled = 30i64.saturating_mul(1i64 << attempt.saturating_sub(1).min(20));
    doubled.min(3600) as i32
}

/// Sends `delivery` to `hook` once (attempt `attempt`) and logs the attempt. A secret that
/// cannot be opened is an error (nothing is sent unsigned); an endpoint that does not answer
/// 2xx is a `Failed` record, to be retried.
pub async fn deliver(
    store: &Store,
    sealer: &Sealer,
    http: &HookHttp,
    hook: &Hook,
    delivery: &Delivery,
    attempt: u32,
    now: DateTime<Utc>,
) -> Result<DeliveryRecord, StoreError> {
    let secret = sealer
        .open(&delivery.tenant, SEALED_AS, &hook.secret_sealed)
        .await
        .map_err(|e| StoreError::Unavailable(format!("the hook's secret: {e}")))?;
    let delivery_id = ulid::Ulid::new().to_string();
    let signature =
        notifications::signature_header(secret.expose(), now.timestamp(), delivery.body.as_bytes());
    let headers = [
        ("content-type", "application/cloudevents+json".to_string()),
        ("stopgate-signature", signature),
        ("stopgate-delivery", delivery_id.clone()),
        ("stopgate-hook", hook.hook_id.clone()),
    ];
    let started = Instant::now();
    let answer = http.post(&hook.url, &headers, delivery.body.clone()).await;
    let (status, http_status, error) = match answer {
        Ok(code) if (200..300).contains(&code) => (DeliveryStatus::Delivered, Some(code), None),
        Ok(code) => (
            DeliveryStatus::Failed,
            Some(code),
            Some(format!("HTTP {code}")),
        ),
        Err(e) => (DeliveryStatus::Failed, None, Some(e)),
    };
    let record = DeliveryRecord {
        delivery_id,
        tenant: delivery.tenant.clone(),
        hook_id: hook.hook_id.clone(),
        notification_id: delivery.notification_id.clone(),
        kind: delivery.kind,
        attempt,
        status,
        http_status,
        error,
        at: now,
        duration_ms: started.elapsed().as_millis() as u64,
        body: delivery.body.clone(),
    };
    if let Err(e) = store.log_delivery(&record).await {
        // The attempt happened whatever the log says; a missing log line must not resend it.
        tracing::warn!(hook_id = %hook.hook_id, error = %e, "delivery not logged");
    }
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_from_thirty_seconds_to_an_hour() {
        let waits: Vec<i32> = (1..=9).map(backoff_seconds).collect();
        assert_eq!(waits, [30, 60, 120, 240, 480, 960, 1920, 3600, 3600]);
        assert_eq!(backoff_seconds(0), 30);
        assert_eq!(backoff_seconds(u32::MAX), 3600);
    }

    #[test]
    fn secrets_are_long_and_fresh() {
        let (a, b) = (new_secret(), new_secret());
        assert!(a.starts_with("whsec_") && a.len() == 46, "{a}");
        assert_ne!(a, b);
    }
}
