//! Tenants, their policy, sender groups, sealed provider secrets and API keys.
//!
//! A tenant's configuration lives in one partition (`T#<tenant>`) so one Query loads all of it;
//! API keys are addressed by the SHA-256 of the key so authentication is one GetItem.

use std::collections::BTreeMap;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_s, keys, s, sdk_error, to_doc};
use crate::consent::{SenderDirectory, SenderGroup, TenantPolicy};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant_id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub policy: TenantPolicy,
}

/// A provider's secrets, sealed. Each name holds the current value first and, during a
/// rotation, the previous one second.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecrets {
    pub values: BTreeMap<String, Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
}

/// Everything a function needs to know about a tenant, loaded in one Query.
#[derive(Debug, Clone)]
pub struct TenantSnapshot {
    pub tenant: TenantRecord,
    pub directory: SenderDirectory,
    pub providers: BTreeMap<String, SealedSecrets>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub tenant_id: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub revoked: bool,
}

impl Store {
    pub async fn create_tenant(
        &self,
        tenant_id: &str,
        policy: TenantPolicy,
    ) -> Result<TenantRecord, StoreError> {
        let record = TenantRecord {
            tenant_id: tenant_id.to_string(),
            created_at: Utc::now(),
            policy,
        };
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant_pk(tenant_id)))
            .item("sk", s(keys::TENANT_SK))
            .item("type", s("tenant"))
            .item("gsi1pk", s(keys::TENANTS_INDEX))
            .item("gsi1sk", s(tenant_id))
            .item("doc", to_doc(&record)?)
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(record),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(format!("tenant {tenant_id}")))
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// The tenant's whole configuration, or `None` when the tenant does not exist.
    pub async fn load_tenant(&self, tenant_id: &str) -> Result<Option<TenantSnapshot>, StoreError> {
        let mut tenant = None;
        let mut groups = Vec::new();
        let mut providers = BTreeMap::new();
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::tenant_pk(tenant_id)))
            .consistent_read(true);
        for item in &self.query_all(query).await? {
            let sk = get_s(item, "sk")?;
            if sk == keys::TENANT_SK {
                tenant = Some(get_doc::<TenantRecord>(item)?);
            } else if sk.starts_with("GROUP#") {
                groups.push(get_doc::<SenderGroup>(item)?);
            } else if let Some(provider) = sk.strip_prefix("PROVIDER#") {
                providers.insert(provider.to_string(), get_doc::<SealedSecrets>(item)?);
            }
        }
        Ok(tenant.map(|tenant| TenantSnapshot {
            tenant,
            directory: SenderDirectory { groups },
            providers,
        }))
    }

    async fn require_tenant(&self, tenant_id: &str) -> Result<TenantSnapshot, StoreError> {
        self.load_tenant(tenant_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))
    }

    pub async fn put_policy(
        &self,
        tenant_id: &str,
        policy: TenantPolicy,
    ) -> Result<TenantRecord, StoreError> {
        let mut record = self.require_tenant(tenant_id).await?.tenant;
        let version = record.policy.version + 1;
        record.policy = TenantPolicy { version, ..policy };
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant_pk(tenant_id)))
            .item("sk", s(keys::TENANT_SK))
            .item("type", s("tenant"))
            .item("gsi1pk", s(keys::TENANTS_INDEX))
            .item("gsi1sk", s(tenant_id))
            .item("doc", to_doc(&record)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(record)
    }

    /// Every tenant id, in order (scheduled jobs visit each tenant). One index partition: a
    /// tenant is written to it once, and listing is rare.
    pub async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(keys::TENANTS_INDEX))
            .projection_expression("gsi1sk");
        self.query_all(query)
            .await?
            .iter()
            .map(|item| get_s(item, "gsi1sk").map(str::to_string))
            .collect()
    }

    /// Creates or replaces a sender group, keeping its history: senders it no longer lists
    /// become former members (opt-outs scoped to the group keep them, rule 3). A sender may
    /// belong to one group only, so a sender already in another group is refused rather than
    /// silently moved. Returns the group as stored.
    pub async fn put_sender_group(
        &self,
        tenant_id: &str,
        group: &SenderGroup,
    ) -> Result<SenderGroup, StoreError> {
        let snapshot = self.require_tenant(tenant_id).await?;
        for other in snapshot
            .directory
            .groups
            .iter()
            .filter(|g| g.name != group.name)
        {
            if let Some(sender) = group.senders.iter().find(|s| other.senders.contains(s)) {
                return Err(StoreError::AlreadyExists(format!(
                    "sender {sender} in group {}",
                    other.name
                )));
            }
        }
        let group = match snapshot.directory.group(&group.name) {
            Some(existing) => existing.updated(group.clone(), Utc::now()),
            None => group.clone(),
        };
        self.write_sender_group(tenant_id, &group).await?;
        Ok(group)
    }

    /// Deletes a sender group: it stays, without senders, so opt-outs scoped to it keep the
    /// members it had (rule 3).
    pub async fn delete_sender_group(
        &self,
        tenant_id: &str,
        name: &str,
    ) -> Result<SenderGroup, StoreError> {
        let snapshot = self.require_tenant(tenant_id).await?;
        let group = snapshot
            .directory
            .group(name)
            .filter(|g| g.deleted_at.is_none())
            .ok_or_else(|| StoreError::NotFound(format!("sender group {name}")))?
            .deleted(Utc::now());
        self.write_sender_group(tenant_id, &group).await?;
        Ok(group)
    }

    async fn write_sender_group(
        &self,
        tenant_id: &str,
        group: &SenderGroup,
    ) -> Result<(), StoreError> {
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant_pk(tenant_id)))
            .item("sk", s(keys::group_sk(&group.name)))
            .item("type", s("sender_group"))
            .item("doc", to_doc(group)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Sets sealed secret values for a provider, keeping the previous value of each name so
    /// webhooks signed with it still verify during a rotation.
    pub async fn put_provider_secrets(
        &self,
        tenant_id: &str,
        provider: &str,
        sealed: BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        let snapshot = self.require_tenant(tenant_id).await?;
        let mut secrets = snapshot
            .providers
            .get(provider)
            .cloned()
            .unwrap_or_default();
        for (name, value) in sealed {
            let values = secrets.values.entry(name).or_default();
            values.insert(0, value);
            values.truncate(2);
        }
        secrets.updated_at = Some(Utc::now());
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant_pk(tenant_id)))
            .item("sk", s(keys::provider_sk(provider)))
            .item("type", s("provider_secrets"))
            .item("doc", to_doc(&secrets)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// Stores a new API key by its hash, with a reference in the tenant's partition, atomically.
    pub async fn put_api_key(
        &self,
        key_sha256: &str,
        record: &ApiKeyRecord,
    ) -> Result<(), StoreError> {
        self.require_tenant(&record.tenant_id).await?;
        let mut by_hash = Item::new();
        by_hash.insert("pk".into(), s(keys::api_key_pk(key_sha256)));
        by_hash.insert("sk".into(), s(keys::API_KEY_SK));
        by_hash.insert("type".into(), s("api_key"));
        by_hash.insert("doc".into(), to_doc(record)?);
        let mut by_tenant = Item::new();
        by_tenant.insert("pk".into(), s(keys::tenant_pk(&record.tenant_id)));
        by_tenant.insert("sk".into(), s(keys::tenant_key_sk(&record.key_id)));
        by_tenant.insert("type".into(), s("api_key_ref"));
        by_tenant.insert("key_sha256".into(), s(key_sha256));
        by_tenant.insert("doc".into(), to_doc(record)?);
        let put = |item: Item| -> Result<TransactWriteItem, StoreError> {
            let put = Put::builder()
                .table_name(&self.table)
                .set_item(Some(item))
                .condition_expression("attribute_not_exists(pk)")
                .build()
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            Ok(TransactWriteItem::builder().put(put).build())
        };
        self.ddb
            .transact_write_items()
            .transact_items(put(by_hash)?)
            .transact_items(put(by_tenant)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    pub async fn find_api_key(&self, key_sha256: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::api_key_pk(key_sha256)))
            .key("sk", s(keys::API_KEY_SK))
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }
}
