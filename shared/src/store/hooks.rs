//! Notification endpoints ("hooks") and their delivery log.
//!
//! A tenant's hooks have a partition of their own (`HK#<tenant>` / `HOOK#<hook id>`), apart from
//! its configuration: the API manages them with an admin key, and the function that serves it
//! may write here without any right to `T#`. A hook's signing secret is sealed like provider
//! secrets. Each
//! delivery attempt is logged under `HL#<tenant>#<hook id>` / `<at>#<delivery id>` for 30 days,
//! with the exact body sent, so a delivery can be sent again by hand.

use std::collections::BTreeMap;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, keys, n, s, sdk_error, to_doc};
use crate::consent::audit::{AuditAction, SecretsView};
use crate::consent::notifications::NotificationType;

/// How long delivery attempts are kept.
pub const DELIVERY_LOG_DAYS: i64 = 30;

/// A tenant's notification endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hook {
    pub hook_id: String,
    pub url: String,
    /// The notification types it is sent, in order.
    pub events: Vec<NotificationType>,
    /// The signing secret, sealed (tenant and `hooks` as the encryption context).
    pub secret_sealed: String,
    pub created_at: DateTime<Utc>,
}

impl Hook {
    pub fn wants(&self, kind: NotificationType) -> bool {
        self.events.contains(&kind)
    }

    /// The hook as lists and the audit trail show it: its secret only as a tag.
    pub fn shown(&self) -> serde_json::Value {
        let tag = SecretsView::new(
            &[("secret".to_string(), vec![self.secret_sealed.clone()])].into(),
            &Default::default(),
            &Default::default(),
        );
        serde_json::json!({
            "hook_id": self.hook_id,
            "url": self.url,
            "events": self.events,
            "secret": tag.values.get("secret").and_then(|v| v.first()),
            "created_at": self.created_at,
        })
    }
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// The endpoint answered 2xx.
    Delivered,
    /// It did not (another status, a timeout, no connection): tried again later.
    Failed,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveryRecord {
    pub delivery_id: String,
    pub tenant: String,
    pub hook_id: String,
    /// The CloudEvent's id (the same on every attempt and redelivery).
    pub notification_id: String,
    pub kind: NotificationType,
    pub attempt: u32,
    pub status: DeliveryStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub at: DateTime<Utc>,
    pub duration_ms: u64,
    /// The envelope sent, byte for byte.
    pub body: String,
}

impl Store {
    /// Adds a hook (audited; the secret appears only as a tag).
    pub async fn put_hook(&self, tenant_id: &str, hook: &Hook) -> Result<(), StoreError> {
        self.load_tenant(tenant_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
        let audit = self.audit(
            tenant_id,
            AuditAction::HookAdded,
            Some(&hook.hook_id),
            &serde_json::Value::Null,
            &hook.shown(),
        );
        let item = Item::from([
            ("pk".to_string(), s(keys::hooks_pk(tenant_id))),
            ("sk".to_string(), s(keys::hook_sk(&hook.hook_id))),
            ("type".to_string(), s("hook")),
            ("doc".to_string(), to_doc(hook)?),
        ]);
        let put = self.put(item, Some("attribute_not_exists(pk)"), false)?;
        self.write_audited(vec![put], &audit, || {
            StoreError::AlreadyExists(format!("hook {}", hook.hook_id))
        })
        .await
    }

    /// Removes a hook (audited). `NotFound` for a hook the tenant does not have.
    pub async fn remove_hook(&self, tenant_id: &str, hook_id: &str) -> Result<Hook, StoreError> {
        let hook = self
            .hooks(tenant_id)
            .await?
            .remove(hook_id)
            .ok_or_else(|| StoreError::NotFound(format!("hook {hook_id}")))?;
        let audit = self.audit(
            tenant_id,
            AuditAction::HookRemoved,
            Some(hook_id),
            &hook.shown(),
            &serde_json::Value::Null,
        );
        let delete = aws_sdk_dynamodb::types::Delete::builder()
            .table_name(&self.table)
            .key("pk", s(keys::hooks_pk(tenant_id)))
            .key("sk", s(keys::hook_sk(hook_id)))
            .condition_expression("attribute_exists(pk)")
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let delete = aws_sdk_dynamodb::types::TransactWriteItem::builder()
            .delete(delete)
            .build();
        self.write_audited(vec![delete], &audit, || {
            StoreError::NotFound(format!("hook {hook_id}"))
        })
        .await?;
        Ok(hook)
    }

    /// The tenant's hooks by id (strongly consistent: a hook just removed is not sent to).
    pub async fn hooks(&self, tenant_id: &str) -> Result<BTreeMap<String, Hook>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::hooks_pk(tenant_id)))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .iter()
            .map(|item| get_doc::<Hook>(item).map(|hook| (hook.hook_id.clone(), hook)))
            .collect()
    }

    /// Logs one delivery attempt (kept [`DELIVERY_LOG_DAYS`]).
    pub async fn log_delivery(&self, record: &DeliveryRecord) -> Result<(), StoreError> {
        let expires = record.at + Duration::days(DELIVERY_LOG_DAYS);
        self.ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::hook_log_pk(&record.tenant, &record.hook_id)))
            .item("sk", s(keys::audit_sk(&record.at, &record.delivery_id)))
            .item("type", s("hook_delivery"))
            .item("expires_at", n(expires.timestamp()))
            .item("doc", to_doc(record)?)
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(())
    }

    /// A hook's latest delivery attempts, newest first.
    pub async fn delivery_log(
        &self,
        tenant_id: &str,
        hook_id: &str,
        limit: i32,
    ) -> Result<Vec<DeliveryRecord>, StoreError> {
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::hook_log_pk(tenant_id, hook_id)))
            .scan_index_forward(false)
            .limit(limit)
            .send()
            .await
            .map_err(sdk_error)?;
        out.items().iter().map(get_doc).collect()
    }
}
