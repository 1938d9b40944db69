//! Retention: past a tenant's retention period (`retention_days`, none by default), the
//! redactable personal data of its events (message text, IP address, user agent: the private
//! records) is erased. The events stay, so every opt-out stays in force, every consent keeps
//! its record and the hash chain stays whole (private records are not part of it). The hourly
//! sweep runs it for every tenant.

use chrono::{DateTime, Duration, Utc};

use crate::consent::TenantPolicy;
use crate::store::keys::CHANGE_SHARDS;
use crate::store::{Store, StoreError};

/// Erases the tenant's private records of events recorded more than its retention period
/// before `now`; none when it keeps them. Returns how many were erased.
pub async fn apply(
    store: &Store,
    tenant: &str,
    policy: &TenantPolicy,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let Some(cutoff) = cutoff(policy, now) else {
        return Ok(0);
    };
    let mut erased = 0;
    for shard in 0..CHANGE_SHARDS {
        erased += store
            .delete_private_records_before(tenant, shard, cutoff)
            .await?;
    }
    Ok(erased)
}

/// [`apply`] for every tenant that sets a retention period: (tenant, erased or why not).
pub async fn apply_all(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Result<usize, StoreError>)>, StoreError> {
    let mut results = Vec::new();
    for tenant in store.tenant_ids().await? {
        let policy = match store.load_tenant(&tenant).await {
            Ok(Some(snapshot)) => snapshot.tenant.policy,
            Ok(None) => continue,
            Err(e) => {
                results.push((tenant, Err(e)));
                continue;
            }
        };
        if policy.retention_days.is_some() {
            let result = apply(store, &tenant, &policy, now).await;
            results.push((tenant, result));
        }
    }
    Ok(results)
}

/// Private records of events recorded before this time are past retention.
pub fn cutoff(policy: &TenantPolicy, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
    policy
        .retention_days
        .map(|days| now - Duration::days(i64::from(days)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_keeps_everything_and_a_period_counts_back_from_now() {
        let now = Utc::now();
        assert_eq!(cutoff(&TenantPolicy::default(), now), None);
        let policy = TenantPolicy {
            retention_days: Some(400),
            ..TenantPolicy::default()
        };
        assert_eq!(cutoff(&policy, now), Some(now - Duration::days(400)));
    }
}
