//! The daily reconciliation with providers' opt-out lists (docs/rules.md rule 10): for every
//! tenant and every provider it set list credentials for (Telnyx `api_key`; RingCentral
//! `client_id`, `client_secret`, `jwt`; AWS `opt_out_list`, read with this function's role),
//! records the opt-outs Stopgate did not know and reports what stays blocked at the provider
//! and what the provider still accepts (metrics `ReconcileRecorded`,
//! `ReconcileBlockedAtProvider`, `ReconcileAcceptedAtProvider` by `Provider`). A tenant without
//! credentials is skipped. Idempotent: a retried or overlapping run records nothing twice.

use serde_json::{Value, json};
use stopgate::api::tenants::Tenants;
use stopgate::config::Config;
use stopgate::flows::reconcile::{ListSource, Outcome, reconcile_tenant};
use stopgate::providers::Provider;
use stopgate::secrets::Sealer;
use stopgate::store::{SdkConfig, Store, StoreError};

pub struct Reconciler<S> {
    store: Store,
    tenants: Tenants,
    lists: S,
}

impl<S: ListSource> Reconciler<S> {
    pub fn new(config: &Config, sdk: &SdkConfig, lists: S) -> Reconciler<S> {
        let store = Store::new(sdk, &config.table_name);
        let sealer = Sealer::new(config.secrets_key.clone(), sdk);
        let tenants = Tenants::new(store.clone(), Some(sealer));
        Reconciler::with(store, tenants, lists)
    }

    /// `tenants` must open secrets (built with a sealer).
    pub fn with(store: Store, tenants: Tenants, lists: S) -> Reconciler<S> {
        Reconciler {
            store,
            tenants,
            lists,
        }
    }

    /// Every tenant. Fails (so the scheduler's retry runs it again) when any tenant's provider
    /// could not be reconciled; the others' opt-outs are recorded all the same.
    pub async fn handle(&self) -> Result<Value, StoreError> {
        let (mut tenants, mut reports, mut recorded, mut blocked, mut accepted) = (0, 0, 0, 0, 0);
        let mut failed = Vec::new();
        for tenant in self.store.tenant_ids().await? {
            let context = match self.tenants.get(&tenant).await {
                Ok(Some(context)) => context,
                Ok(None) => continue,
                Err(e) => {
                    tracing::error!(tenant = %tenant, error = %e, "reconciliation could not load the tenant");
                    failed.push(tenant);
                    continue;
                }
            };
            tenants += 1;
            let secrets = |p: Provider| {
                (!context.secrets_unopened(p.as_str()))
                    .then(|| context.provider_secrets(p.as_str()))
            };
            let outcomes = reconcile_tenant(
                &self.store,
                &self.lists,
                &context.snapshot,
                &secrets,
                None,
                false,
            )
            .await;
            for (provider, outcome) in outcomes {
                match outcome {
                    Outcome::Skipped => {}
                    Outcome::Reconciled(r) => {
                        reports += 1;
                        recorded += r.recorded.len();
                        blocked += r.blocked_at_provider.len();
                        accepted += r.accepted_at_provider.len();
                        tracing::info!(
                            tenant = %tenant, provider = %provider, listed = r.listed,
                            recorded = r.recorded.len(), blocked_at_provider = r.blocked_at_provider.len(),
                            accepted_at_provider = r.accepted_at_provider.len(), complete = r.complete,
                            "reconciled with the provider's opt-out list"
                        );
                    }
                    Outcome::Failed(e) => {
                        tracing::error!(tenant = %tenant, provider = %provider, error = %e, "reconciliation failed");
                        failed.push(format!("{tenant}/{provider}"));
                    }
                }
            }
        }
        if !failed.is_empty() {
            return Err(StoreError::Unavailable(format!(
                "reconciliation failed for {} tenant(s) or provider(s)",
                failed.len()
            )));
        }
        Ok(json!({
            "tenants": tenants,
            "lists": reports,
            "recorded": recorded,
            "blocked_at_provider": blocked,
            "accepted_at_provider": accepted
        }))
    }
}
