//! Tenant configuration for a warm function: loaded in one Query, with provider secrets opened,
//! cached for at most 60 s, and served stale for a while when storage is down so webhooks can
//! still be verified and captured.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::cache::{Lookup, TtlCache};
use crate::secrets::{Sealer, SecretString};
use crate::store::{Store, StoreError, TenantSnapshot};

pub struct TenantContext {
    pub snapshot: TenantSnapshot,
    /// Built once per load from the tenant's keyword settings.
    pub classifier: crate::keywords::Classifier,
    /// provider -> secret name -> values (current first), opened. Empty where not needed.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<SecretString>>>,
}

impl TenantContext {
    /// One provider's opened secrets, for signature verification.
    pub fn provider_secrets(&self, provider: &str) -> crate::providers::ProviderSecrets {
        let values = self
            .secrets
            .get(provider)
            .map(|names| {
                names
                    .iter()
                    .map(|(name, values)| {
                        (
                            name.clone(),
                            values.iter().map(|v| v.expose().to_string()).collect(),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        crate::providers::ProviderSecrets::new(values)
    }

    pub fn secret_values(&self, provider: &str, name: &str) -> Vec<&str> {
        self.secrets
            .get(provider)
            .and_then(|s| s.get(name))
            .map(|values| values.iter().map(SecretString::expose).collect())
            .unwrap_or_default()
    }
}

pub struct Tenants {
    store: Store,
    sealer: Option<Sealer>,
    cache: TtlCache<String, TenantContext>,
}

impl Tenants {
    /// `sealer` is given only to functions that verify webhooks; others never open secrets.
    pub fn new(store: Store, sealer: Option<Sealer>) -> Tenants {
        Tenants {
            store,
            sealer,
            cache: TtlCache::new(Duration::from_secs(60), Duration::from_secs(3600)),
        }
    }

    pub async fn get(&self, tenant: &str) -> Result<Option<Arc<TenantContext>>, StoreError> {
        let stale = match self.cache.get(&tenant.to_string()) {
            Lookup::Fresh(ctx) => return Ok(Some(ctx)),
            Lookup::Stale(ctx) => Some(ctx),
            Lookup::Missing => None,
        };
        match self.load(tenant).await {
            Ok(Some(ctx)) => {
                let ctx = Arc::new(ctx);
                self.cache.put(tenant.to_string(), ctx.clone());
                Ok(Some(ctx))
            }
            Ok(None) => {
                self.cache.invalidate(&tenant.to_string());
                Ok(None)
            }
            Err(e) => match stale {
                Some(ctx) => {
                    tracing::warn!(error = %e, "tenant reload failed; using cached configuration");
                    Ok(Some(ctx))
                }
                None => Err(e),
            },
        }
    }

    async fn load(&self, tenant: &str) -> Result<Option<TenantContext>, StoreError> {
        let Some(snapshot) = self.store.load_tenant(tenant).await? else {
            return Ok(None);
        };
        let mut secrets = BTreeMap::new();
        if let Some(sealer) = &self.sealer {
            for (provider, sealed) in &snapshot.providers {
                let mut opened = BTreeMap::new();
                for (name, values) in &sealed.values {
                    let mut plain = Vec::new();
                    for value in values {
                        match sealer.open(tenant, provider, value).await {
                            Ok(secret) => plain.push(secret),
                            // One unreadable value must not hide the other during a rotation.
                            Err(e) => {
                                tracing::error!(provider = %provider, secret = %name, error = %e, "cannot open provider secret")
                            }
                        }
                    }
                    opened.insert(name.clone(), plain);
                }
                secrets.insert(provider.clone(), opened);
            }
        }
        let classifier = crate::keywords::Classifier::new(&snapshot.tenant.policy.keywords);
        Ok(Some(TenantContext {
            snapshot,
            classifier,
            secrets,
        }))
    }
}
