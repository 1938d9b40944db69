//! The scheduled review sweep (docs/rules.md rule 5): for every tenant, each possible revocation
//! left unreviewed past its due date becomes an opt-out (source `review_expired`), so lookup,
//! the opt-out list and exports see it, not only the check. Runs on an EventBridge schedule;
//! idempotent, so a retried or overlapping run records nothing twice. Each run also reports the
//! review backlog and the reviews due within a day (metrics `ReviewBacklog`, `ReviewsDueSoon`),
//! and applies each tenant's retention period (`stopgate::flows::retention`: private records
//! past it are erased; metric `PrivateRecordsErased`).

use chrono::Utc;
use serde_json::{Value, json};
use stopgate::config::Config;
use stopgate::flows::retention;
use stopgate::flows::reviews::sweep_all;
use stopgate::store::{SdkConfig, Store, StoreError};
use stopgate::telemetry::{self, Unit};

pub struct Sweeper {
    store: Store,
}

impl Sweeper {
    pub fn new(config: &Config, sdk: &SdkConfig) -> Sweeper {
        Sweeper::with_store(Store::new(sdk, &config.table_name))
    }

    pub fn with_store(store: Store) -> Sweeper {
        Sweeper { store }
    }

    /// Sweeps every tenant. Fails (so the scheduler's retry runs it again) when any tenant
    /// could not be swept; the others' opt-outs are recorded all the same.
    pub async fn handle(&self) -> Result<Value, StoreError> {
        let results = sweep_all(&self.store, Utc::now()).await?;
        let (mut expired, mut open, mut due_soon) = (0, 0, 0);
        let mut failed = Vec::new();
        for (tenant, result) in &results {
            match result {
                Ok(summary) => {
                    expired += summary.expired;
                    open += summary.open;
                    due_soon += summary.due_soon;
                    if summary.expired > 0 {
                        tracing::info!(tenant = %tenant, expired = summary.expired, "reviews past their due date recorded as opt-outs");
                    }
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %e, "review sweep failed");
                    failed.push(tenant.clone());
                }
            }
        }
        // Across tenants (a tenant dimension would be a metric per tenant): the alarm says that
        // some review is close to its due date; `stopgate reviews <tenant>` says which.
        telemetry::measure("ReviewBacklog", Unit::Count, open as f64, &[]);
        telemetry::measure("ReviewsDueSoon", Unit::Count, due_soon as f64, &[]);

        let mut erased = 0;
        for (tenant, result) in retention::apply_all(&self.store, Utc::now()).await? {
            match result {
                Ok(n) => {
                    erased += n;
                    if n > 0 {
                        tracing::info!(tenant = %tenant, erased = n, "private records past retention erased");
                    }
                }
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %e, "retention failed");
                    failed.push(tenant);
                }
            }
        }
        telemetry::measure("PrivateRecordsErased", Unit::Count, erased as f64, &[]);
        if !failed.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "the sweep failed for {} tenant(s)",
                failed.len()
            )));
        }
        Ok(json!({
            "tenants": results.len(),
            "expired": expired,
            "open": open,
            "due_soon": due_soon,
            "private_records_erased": erased
        }))
    }
}
