//! Tenants, their policy, sender groups, sealed provider secrets and API keys.
//!
//! A tenant's configuration lives in one partition (`T#<tenant>`) so one Query loads all of it;
//! API keys are addressed by the SHA-256 of the key so authentication is one GetItem.

use std::collections::BTreeMap;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_s, keys, s, sdk_error, to_doc};
use crate::consent::audit::{AuditAction, SecretsView};
use crate::consent::forms::FormConfig;
use crate::consent::{SenderDirectory, SenderGroup, TenantPolicy};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    pub tenant_id: String,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub policy: TenantPolicy,
}

/// A provider's secrets, sealed, and its settings. Each name holds the current value first
/// and, during a rotation, the previous one second, accepted until `previous_until`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SealedSecrets {
    pub values: BTreeMap<String, Vec<String>>,
    pub updated_at: Option<DateTime<Utc>>,
    /// When each name's previous value stops being accepted.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub previous_until: BTreeMap<String, DateTime<Utc>>,
    /// Settings that are not secret (`require_v3`), shown by `stopgate tenant show`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub settings: BTreeMap<String, String>,
}

impl SealedSecrets {
    /// What the audit trail may show of these secrets (no value, sealed or not).
    pub fn audit_view(&self) -> SecretsView {
        SecretsView::new(&self.values, &self.previous_until, &self.settings)
    }

    /// The sealed values of `name` still accepted at `now`: the current one, and the previous
    /// one until it expires (a previous value stored before expiries existed never expires
    /// by itself; `stopgate provider drop-previous` removes it).
    pub fn accepted(&self, name: &str, now: DateTime<Utc>) -> Vec<&String> {
        let values = self.values.get(name).map(Vec::as_slice).unwrap_or_default();
        let previous_valid = self
            .previous_until
            .get(name)
            .is_none_or(|until| now < *until);
        values
            .iter()
            .enumerate()
            .filter(|(i, _)| *i == 0 || previous_valid)
            .map(|(_, v)| v)
            .collect()
    }
}

/// What happens to the value a new secret replaces.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rotation {
    /// Still accepted for this long, so webhooks signed with it during the switch are not lost.
    KeepPrevious(chrono::Duration),
    /// Dropped at once.
    Replace,
}

/// Everything a function needs to know about a tenant, loaded in one Query.
#[derive(Debug, Clone)]
pub struct TenantSnapshot {
    pub tenant: TenantRecord,
    pub directory: SenderDirectory,
    pub providers: BTreeMap<String, SealedSecrets>,
    /// Hosted forms by id.
    pub forms: BTreeMap<String, FormConfig>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiKeyRecord {
    pub key_id: String,
    pub tenant_id: String,
    pub scopes: Vec<String>,
    pub created_at: DateTime<Utc>,
    #[serde(default)]
    pub revoked: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked_at: Option<DateTime<Utc>>,
    /// After this the key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
    /// When the key was last seen: kept as its own attribute of the key's hash item (updated at
    /// most every few minutes), filled in when the record is read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<DateTime<Utc>>,
}

impl ApiKeyRecord {
    /// A fresh key record, never used and not revoked.
    pub fn new(
        key_id: String,
        tenant_id: &str,
        scopes: Vec<String>,
        created_at: DateTime<Utc>,
        expires_at: Option<DateTime<Utc>>,
    ) -> Self {
        Self {
            key_id,
            tenant_id: tenant_id.to_string(),
            scopes,
            created_at,
            revoked: false,
            revoked_at: None,
            expires_at,
            last_used_at: None,
        }
    }

    /// Usable at `now`: neither revoked nor expired.
    pub fn usable(&self, now: DateTime<Utc>) -> bool {
        !self.revoked && self.expires_at.is_none_or(|expires| now < expires)
    }
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
        let audit = self.audit(
            tenant_id,
            AuditAction::TenantCreated,
            None,
            &serde_json::Value::Null,
            &view(&record.policy)?,
        );
        let put = self.put(
            tenant_item(&record)?,
            Some("attribute_not_exists(pk)"),
            false,
        )?;
        self.write_audited(vec![put], &audit, || {
            StoreError::AlreadyExists(format!("tenant {tenant_id}"))
        })
        .await?;
        Ok(record)
    }

    /// The tenant's whole configuration, or `None` when the tenant does not exist.
    pub async fn load_tenant(&self, tenant_id: &str) -> Result<Option<TenantSnapshot>, StoreError> {
        let mut tenant = None;
        let mut groups = Vec::new();
        let mut providers = BTreeMap::new();
        let mut forms = BTreeMap::new();
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
            } else if let Some(form) = sk.strip_prefix("FORM#") {
                forms.insert(form.to_string(), get_doc::<FormConfig>(item)?);
            }
        }
        Ok(tenant.map(|tenant| TenantSnapshot {
            tenant,
            directory: SenderDirectory { groups },
            providers,
            forms,
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
        let before = view(&record.policy)?;
        let version = record.policy.version + 1;
        record.policy = TenantPolicy { version, ..policy };
        let audit = self.audit(
            tenant_id,
            AuditAction::PolicyChanged,
            None,
            &before,
            &view(&record.policy)?,
        );
        let put = self.put(tenant_item(&record)?, None, false)?;
        self.write_audited(vec![put], &audit, || StoreError::Conflict)
            .await?;
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
        let existing = snapshot.directory.group(&group.name);
        let group = match existing {
            Some(existing) => existing.updated(group.clone(), Utc::now()),
            None => group.clone(),
        };
        self.write_sender_group(tenant_id, existing, &group, AuditAction::SenderGroupSet)
            .await?;
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
        let existing = snapshot
            .directory
            .group(name)
            .filter(|g| g.deleted_at.is_none())
            .ok_or_else(|| StoreError::NotFound(format!("sender group {name}")))?;
        let group = existing.deleted(Utc::now());
        self.write_sender_group(
            tenant_id,
            Some(existing),
            &group,
            AuditAction::SenderGroupDeleted,
        )
        .await?;
        Ok(group)
    }

    async fn write_sender_group(
        &self,
        tenant_id: &str,
        before: Option<&SenderGroup>,
        group: &SenderGroup,
        action: AuditAction,
    ) -> Result<(), StoreError> {
        let before = before.map(view).transpose()?.unwrap_or_default();
        let audit = self.audit(tenant_id, action, Some(&group.name), &before, &view(group)?);
        let item = Item::from([
            ("pk".to_string(), s(keys::tenant_pk(tenant_id))),
            ("sk".to_string(), s(keys::group_sk(&group.name))),
            ("type".to_string(), s("sender_group")),
            ("doc".to_string(), to_doc(group)?),
        ]);
        self.write_audited(vec![self.put(item, None, false)?], &audit, || {
            StoreError::Conflict
        })
        .await
    }

    /// Sets sealed secret values for a provider. The value each replaces stays accepted as
    /// `rotation` says, so webhooks signed with it during a rotation are not lost.
    pub async fn put_provider_secrets(
        &self,
        tenant_id: &str,
        provider: &str,
        sealed: BTreeMap<String, String>,
        rotation: Rotation,
    ) -> Result<(), StoreError> {
        let now = Utc::now();
        self.update_provider(
            tenant_id,
            provider,
            AuditAction::ProviderSecretsSet,
            |secrets| {
                for (name, value) in sealed {
                    let values = secrets.values.entry(name.clone()).or_default();
                    match rotation {
                        Rotation::KeepPrevious(keep) if !values.is_empty() => {
                            values.insert(0, value);
                            values.truncate(2);
                            secrets.previous_until.insert(name, now + keep);
                        }
                        _ => {
                            *values = vec![value];
                            secrets.previous_until.remove(&name);
                        }
                    }
                }
            },
        )
        .await
    }

    /// Stops accepting every previous value of a provider's secrets now.
    pub async fn drop_previous_secrets(
        &self,
        tenant_id: &str,
        provider: &str,
    ) -> Result<usize, StoreError> {
        let mut dropped = 0;
        let action = AuditAction::ProviderPreviousSecretsDropped;
        self.update_provider(tenant_id, provider, action, |secrets| {
            for values in secrets.values.values_mut() {
                dropped += values.len().saturating_sub(1);
                values.truncate(1);
            }
            secrets.previous_until.clear();
        })
        .await?;
        Ok(dropped)
    }

    /// Sets a provider's settings (not secret); an empty value removes a setting.
    pub async fn put_provider_settings(
        &self,
        tenant_id: &str,
        provider: &str,
        settings: BTreeMap<String, String>,
    ) -> Result<(), StoreError> {
        self.update_provider(
            tenant_id,
            provider,
            AuditAction::ProviderSettingsSet,
            |secrets| {
                for (name, value) in settings {
                    if value.is_empty() {
                        secrets.settings.remove(&name);
                    } else {
                        secrets.settings.insert(name, value);
                    }
                }
            },
        )
        .await
    }

    async fn update_provider(
        &self,
        tenant_id: &str,
        provider: &str,
        action: AuditAction,
        change: impl FnOnce(&mut SealedSecrets),
    ) -> Result<(), StoreError> {
        let snapshot = self.require_tenant(tenant_id).await?;
        let existing = snapshot.providers.get(provider);
        let mut secrets = existing.cloned().unwrap_or_default();
        change(&mut secrets);
        secrets.updated_at = Some(Utc::now());
        // The audit trail sees the secrets only through SecretsView: names and tags, no values.
        let before = existing
            .map(|s| view(&s.audit_view()))
            .transpose()?
            .unwrap_or_default();
        let after = view(&secrets.audit_view())?;
        let audit = self.audit(tenant_id, action, Some(provider), &before, &after);
        let item = Item::from([
            ("pk".to_string(), s(keys::tenant_pk(tenant_id))),
            ("sk".to_string(), s(keys::provider_sk(provider))),
            ("type".to_string(), s("provider_secrets")),
            ("doc".to_string(), to_doc(&secrets)?),
        ]);
        self.write_audited(vec![self.put(item, None, false)?], &audit, || {
            StoreError::Conflict
        })
        .await
    }

    /// Claims a secret's keyed fingerprint for `tenant_id`: a provider secret that does not
    /// bind the tenant (the URL) may serve one tenant only, or a request for one tenant could
    /// be replayed to another. `AlreadyExists` when another tenant holds it.
    pub async fn claim_secret_fingerprint(
        &self,
        provider: &str,
        fingerprint: &str,
        tenant_id: &str,
    ) -> Result<(), StoreError> {
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::secret_fingerprint_pk(provider, fingerprint)))
            .item("sk", s(keys::SECRET_FINGERPRINT_SK))
            .item("type", s("secret_fingerprint"))
            .item("tenant_id", s(tenant_id))
            .condition_expression("attribute_not_exists(pk) OR tenant_id = :tenant")
            .expression_attribute_values(":tenant", s(tenant_id))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::AlreadyExists(format!(
                    "this {provider} secret for another tenant"
                )))
            }
            Err(e) => Err(sdk_error(e)),
        }
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
        let audit = self.audit(
            &record.tenant_id,
            AuditAction::ApiKeyCreated,
            Some(&record.key_id),
            &serde_json::Value::Null,
            &view(record)?,
        );
        let new = Some("attribute_not_exists(pk)");
        let puts = vec![
            self.put(by_hash, new, false)?,
            self.put(by_tenant, new, false)?,
        ];
        self.write_audited(puts, &audit, || {
            StoreError::AlreadyExists(format!("API key {}", record.key_id))
        })
        .await
    }

    /// A tenant's keys (never the keys themselves), each with when it was last used.
    pub async fn api_keys(&self, tenant_id: &str) -> Result<Vec<ApiKeyRecord>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::tenant_pk(tenant_id)))
            .expression_attribute_values(":prefix", s(keys::tenant_key_sk("")))
            .consistent_read(true);
        let refs = self.query_all(query).await?;
        // Last use is kept on the hash item, which authentication reads.
        let by_hash: Vec<Item> = refs
            .iter()
            .map(|r| -> Result<Item, StoreError> {
                Ok(Item::from([
                    (
                        "pk".to_string(),
                        s(keys::api_key_pk(get_s(r, "key_sha256")?)),
                    ),
                    ("sk".to_string(), s(keys::API_KEY_SK)),
                ]))
            })
            .collect::<Result<_, _>>()?;
        let (found, unread) = self.batch_get(by_hash, true).await?;
        if !unread.is_empty() {
            return Err(StoreError::Unavailable("API keys left unread".into()));
        }
        let mut records: Vec<ApiKeyRecord> = found
            .iter()
            .map(api_key_from_item)
            .collect::<Result<_, _>>()?;
        records.sort_by_key(|r| r.created_at);
        Ok(records)
    }

    /// Revokes a key of a tenant, on both of its items at once. `NotFound` for a key id the
    /// tenant does not have.
    pub async fn revoke_api_key(
        &self,
        tenant_id: &str,
        key_id: &str,
        now: DateTime<Utc>,
    ) -> Result<ApiKeyRecord, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::tenant_pk(tenant_id)))
            .key("sk", s(keys::tenant_key_sk(key_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        let reference = out
            .item()
            .ok_or_else(|| StoreError::NotFound(format!("API key {key_id}")))?;
        let hash = get_s(reference, "key_sha256")?.to_string();
        let mut by_hash = self
            .api_key_item(&hash)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("API key {key_id}")))?;
        let mut record = api_key_from_item(&by_hash)?;
        let before = view(&record)?;
        record.revoked = true;
        record.revoked_at = Some(now);
        by_hash.insert("doc".into(), to_doc(&record)?);
        let mut by_tenant = reference.clone();
        by_tenant.insert("doc".into(), to_doc(&record)?);
        let audit = self.audit(
            tenant_id,
            AuditAction::ApiKeyRevoked,
            Some(key_id),
            &before,
            &view(&record)?,
        );
        let puts = vec![
            self.put(by_hash, None, false)?,
            self.put(by_tenant, None, false)?,
        ];
        self.write_audited(puts, &audit, || StoreError::Conflict)
            .await?;
        Ok(record)
    }

    /// Notes that a key was used at `now`, unless it was noted less than `every` ago: one
    /// small write per key every few minutes, never one per request. It sets one attribute of
    /// the key's hash item, which is all the functions that authenticate may write there.
    pub async fn note_api_key_use(
        &self,
        key_sha256: &str,
        now: DateTime<Utc>,
        every: chrono::Duration,
    ) -> Result<(), StoreError> {
        let stamp = |at: DateTime<Utc>| s(at.to_rfc3339_opts(SecondsFormat::Millis, true));
        self.ddb
            .update_item()
            .table_name(&self.table)
            .key("pk", s(keys::api_key_pk(key_sha256)))
            .key("sk", s(keys::API_KEY_SK))
            .update_expression("SET last_used_at = :now")
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(last_used_at) OR last_used_at < :since)",
            )
            .expression_attribute_values(":now", stamp(now))
            .expression_attribute_values(":since", stamp(now - every))
            .send()
            .await
            .map(drop)
            .or_else(|e| {
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception())
                {
                    Ok(())
                } else {
                    Err(sdk_error(e))
                }
            })
    }

    async fn api_key_item(&self, key_sha256: &str) -> Result<Option<Item>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::api_key_pk(key_sha256)))
            .key("sk", s(keys::API_KEY_SK))
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item)
    }

    pub async fn find_api_key(&self, key_sha256: &str) -> Result<Option<ApiKeyRecord>, StoreError> {
        self.api_key_item(key_sha256)
            .await?
            .as_ref()
            .map(api_key_from_item)
            .transpose()
    }
}

/// A key's record, with its last use (kept beside the record, see `note_api_key_use`).
fn api_key_from_item(item: &Item) -> Result<ApiKeyRecord, StoreError> {
    let mut record: ApiKeyRecord = get_doc(item)?;
    if let Ok(stamp) = get_s(item, "last_used_at") {
        let at = DateTime::parse_from_rfc3339(stamp)
            .map_err(|e| StoreError::Corrupt(format!("last_used_at: {e}")))?;
        record.last_used_at = Some(at.with_timezone(&Utc));
    }
    Ok(record)
}

/// The tenant item (its record and its entry in the tenants index).
fn tenant_item(record: &TenantRecord) -> Result<Item, StoreError> {
    Ok(Item::from([
        ("pk".to_string(), s(keys::tenant_pk(&record.tenant_id))),
        ("sk".to_string(), s(keys::TENANT_SK)),
        ("type".to_string(), s("tenant")),
        ("gsi1pk".to_string(), s(keys::TENANTS_INDEX)),
        ("gsi1sk".to_string(), s(&record.tenant_id)),
        ("doc".to_string(), to_doc(record)?),
    ]))
}

/// A JSON view of what an audit record compares.
pub(crate) fn view<T: Serialize>(value: &T) -> Result<serde_json::Value, StoreError> {
    serde_json::to_value(value).map_err(|e| StoreError::Corrupt(format!("audit view: {e}")))
}
