//! Setting a tenant's provider secrets and settings (`stopgate provider set`): each name checked
//! against what the provider takes, each value sealed before it is stored, a value that does not
//! bind the tenant claimed for this tenant only, an AWS topic routed to its tenant, and the
//! value it replaces kept only as long as a rotation needs.

use std::collections::BTreeMap;

use crate::providers::{Provider, aws};
use crate::secrets::{Sealer, SecretsError};
use crate::store::{Rotation, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum SetError {
    /// A name the provider does not take, an empty value, a bad setting or topic.
    #[error("{0}")]
    Invalid(String),
    /// The value is already another tenant's.
    #[error(
        "{provider} {name}: this value is already configured for another tenant; a secret that does not bind the tenant (the URL) may serve one tenant only, or a request for one could be replayed to the other"
    )]
    HeldByAnotherTenant { provider: Provider, name: String },
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Seals and stores `secrets` (name -> value) for `provider`.
pub async fn set_secrets(
    store: &Store,
    sealer: &Sealer,
    tenant: &str,
    provider: Provider,
    secrets: &BTreeMap<String, String>,
    rotation: Rotation,
) -> Result<(), SetError> {
    if secrets.is_empty() {
        return Err(SetError::Invalid("no secret given".into()));
    }
    for (name, value) in secrets {
        if !provider.secret_names().contains(&name.as_str()) {
            return Err(SetError::Invalid(format!(
                "{provider} takes {}; not {name:?}",
                provider.secret_names().join(", ")
            )));
        }
        if value.trim().is_empty() {
            return Err(SetError::Invalid(format!("{name} is empty")));
        }
    }
    if store.load_tenant(tenant).await?.is_none() {
        return Err(StoreError::NotFound(format!("tenant {tenant}")).into());
    }
    // inbound-sns learns the tenant from the topic alone; a topic of another tenant is refused
    // here, before this tenant's secrets change.
    if let Some(topic) = secrets
        .get("topic_arn")
        .filter(|_| provider == Provider::Aws)
    {
        aws::parse_topic_arn(topic).map_err(SetError::Invalid)?;
        store.put_topic_tenant(topic, tenant).await?;
    }
    for (name, value) in secrets
        .iter()
        .filter(|(name, _)| provider.unbound_secret_names().contains(&name.as_str()))
    {
        let fingerprint = sealer
            .fingerprint(provider.as_str(), name, value.trim())
            .await?;
        match store
            .claim_secret_fingerprint(provider.as_str(), &fingerprint, tenant)
            .await
        {
            Err(StoreError::AlreadyExists(_)) => {
                return Err(SetError::HeldByAnotherTenant {
                    provider,
                    name: name.clone(),
                });
            }
            other => other?,
        }
    }
    let mut sealed = BTreeMap::new();
    for (name, value) in secrets {
        sealed.insert(
            name.clone(),
            sealer.seal(tenant, provider.as_str(), value.trim()).await?,
        );
    }
    store
        .put_provider_secrets(tenant, provider.as_str(), sealed, rotation)
        .await?;
    Ok(())
}

/// Stores `settings` (name -> `true`/`false`) for `provider`.
pub async fn set_settings(
    store: &Store,
    tenant: &str,
    provider: Provider,
    settings: &BTreeMap<String, String>,
) -> Result<(), SetError> {
    for (name, value) in settings {
        if !provider.setting_names().contains(&name.as_str()) {
            let known = provider.setting_names();
            return Err(SetError::Invalid(if known.is_empty() {
                format!("{provider} has no settings; {name:?} is not one")
            } else {
                format!("{provider} settings are {}; not {name:?}", known.join(", "))
            }));
        }
        if !matches!(value.as_str(), "true" | "false") {
            return Err(SetError::Invalid(format!("{name} is true or false")));
        }
    }
    store
        .put_provider_settings(tenant, provider.as_str(), settings.clone())
        .await?;
    Ok(())
}
