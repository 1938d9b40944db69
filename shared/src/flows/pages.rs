//! What the hosted form and the preference page do past the HTTP edge (docs/rules.md rule 9):
//! take the rate limits, then commit what the domain made of the person's act.

use chrono::{DateTime, Utc};

use crate::consent::forms::Recording;
use crate::phone::E164;
use crate::store::rate_limits::RateLimit;
use crate::store::{Commit, Store, StoreError};

/// Form submissions from one IP address (a signup script, a bot).
pub const FORM_PER_IP: RateLimit = RateLimit {
    name: "form-ip",
    limit: 20,
    window_secs: 3600,
};
/// Form submissions for one number: each may send the person a request to confirm, so a
/// stranger's number cannot be flooded through the form.
pub const FORM_PER_NUMBER: RateLimit = RateLimit {
    name: "form-number",
    limit: 3,
    window_secs: 24 * 3600,
};
/// Preference changes from one IP address, and for one number.
pub const PREFS_PER_IP: RateLimit = RateLimit {
    name: "prefs-ip",
    limit: 60,
    window_secs: 3600,
};
pub const PREFS_PER_NUMBER: RateLimit = RateLimit {
    name: "prefs-number",
    limit: 20,
    window_secs: 3600,
};

/// Which limit a request ran into.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    Ip,
    Number,
}

/// Takes one use of the per-IP limit (no IP known: nothing to count by).
pub async fn take_ip(
    store: &Store,
    tenant: &str,
    limit: &RateLimit,
    ip: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Result<(), Limited>, StoreError> {
    let Some(ip) = ip else { return Ok(Ok(())) };
    Ok(if store.take_rate(tenant, limit, ip, now).await? {
        Ok(())
    } else {
        Err(Limited::Ip)
    })
}

/// Takes one use of the per-number limit.
pub async fn take_number(
    store: &Store,
    tenant: &str,
    limit: &RateLimit,
    phone: &E164,
    now: DateTime<Utc>,
) -> Result<Result<(), Limited>, StoreError> {
    Ok(
        if store.take_rate(tenant, limit, phone.as_str(), now).await? {
            Ok(())
        } else {
            Err(Limited::Number)
        },
    )
}

/// Commits what a page recorded, event by event, each with the request's private record; the
/// disclosure is stored once per tenant and text.
pub async fn commit(store: &Store, recording: &Recording) -> Result<(), StoreError> {
    let mut disclosure = None;
    if let (Some((sha, text)), Some(first)) = (&recording.disclosure, recording.events.first())
        && !store.has_disclosure(&first.tenant, sha).await?
    {
        disclosure = Some((sha.as_str(), text.as_str()));
    }
    for event in &recording.events {
        store
            .commit(&Commit {
                event,
                private: Some(&recording.private),
                dedupe: None,
                disclosure,
            })
            .await?;
        tracing::info!(tenant = %event.tenant, phone = %event.phone.masked(), kind = event.kind.as_str(),
            source = ?event.source, event_id = %event.event_id, "page act recorded");
    }
    Ok(())
}
