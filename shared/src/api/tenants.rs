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
    /// When this configuration was read from the table.
    pub loaded_at: std::time::Instant,
    /// How long it may decide "allowed" after that.
    pub fresh_for: Duration,
    /// Built once per load from the tenant's keyword settings.
    pub classifier: crate::keywords::Classifier,
    /// provider -> secret name -> values still accepted (current first), opened. Empty where
    /// not needed.
    pub secrets: BTreeMap<String, BTreeMap<String, Vec<SecretString>>>,
    /// Providers with a secret of which no value could be opened (a key service outage).
    pub unopened: std::collections::BTreeSet<String>,
}

/// How old a configuration may be and still decide "allowed" (a stale one still serves to
/// verify webhooks and to deny).
pub const FRESH_FOR: Duration = Duration::from_secs(60);

impl TenantContext {
    /// Read within [`FRESH_FOR`]: recent enough to allow a send on.
    pub fn is_fresh(&self) -> bool {
        self.loaded_at.elapsed() <= self.fresh_for
    }

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
        let settings = self
            .snapshot
            .providers
            .get(provider)
            .map(|p| p.settings.clone())
            .unwrap_or_default();
        crate::providers::ProviderSecrets::new(values).with_settings(settings)
    }

    /// Whether a secret of `provider` is configured but none of its values could be opened:
    /// then nothing can be verified, and a request is kept for replay instead.
    pub fn secrets_unopened(&self, provider: &str) -> bool {
        self.unopened.contains(provider)
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
    fresh_for: Duration,
    cache: TtlCache<String, TenantContext>,
}

impl Tenants {
    /// `sealer` is given only to functions that verify webhooks; others never open secrets.
    pub fn new(store: Store, sealer: Option<Sealer>) -> Tenants {
        Tenants::with_freshness(store, sealer, FRESH_FOR)
    }

    /// With configuration considered fresh for `fresh_for` (at most [`FRESH_FOR`]; tests use
    /// less), then reloaded; served stale for up to an hour while reloads fail.
    pub fn with_freshness(store: Store, sealer: Option<Sealer>, fresh_for: Duration) -> Tenants {
        let fresh_for = fresh_for.min(FRESH_FOR);
        Tenants {
            store,
            sealer,
            fresh_for,
            cache: TtlCache::new(fresh_for, Duration::from_secs(3600)),
        }
    }

    /// What seals provider secrets (and the credentials of unverified captures), when this
    /// function may open them.
    pub fn sealer(&self) -> Option<&Sealer> {
        self.sealer.as_ref()
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
                // A configuration with unopened secrets is not kept: the next request tries the
                // key service again rather than refusing webhooks for a minute.
                if ctx.unopened.is_empty() {
                    self.cache.put(tenant.to_string(), ctx.clone());
                }
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
        let mut unopened = std::collections::BTreeSet::new();
        let now = chrono::Utc::now();
        if let Some(sealer) = &self.sealer {
            for (provider, sealed) in &snapshot.providers {
                let mut opened = BTreeMap::new();
                for name in sealed.values.keys() {
                    let accepted = sealed.accepted(name, now);
                    let mut plain = Vec::new();
                    for value in &accepted {
                        match sealer.open(tenant, provider, value).await {
                            Ok(secret) => plain.push(secret),
                            // One unreadable value must not hide the other during a rotation.
                            Err(e) => {
                                tracing::error!(provider = %provider, secret = %name, error = %e, "cannot open provider secret")
                            }
                        }
                    }
                    if plain.is_empty() && !accepted.is_empty() {
                        unopened.insert(provider.clone());
                    }
                    opened.insert(name.clone(), plain);
                }
                secrets.insert(provider.clone(), opened);
            }
        }
        let classifier = crate::keywords::Classifier::new(&snapshot.tenant.policy.keywords);
        Ok(Some(TenantContext {
            snapshot,
            loaded_at: std::time::Instant::now(),
            fresh_for: self.fresh_for,
            classifier,
            secrets,
            unopened,
        }))
    }
}
