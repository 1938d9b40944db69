//! The audit trail's storage (`AU#<tenant>` / `<at>#<audit id>`), a partition of its own so
//! loading a tenant's configuration never reads its history. Each record is written in the
//! same transaction as the change it describes: there is no change without its record, and no
//! record of a change that did not happen.

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::TransactWriteItem;

use super::{Item, Store, StoreError, get_doc, keys, s, sdk_error, to_doc};
use crate::consent::Actor;
use crate::consent::audit::{AuditAction, AuditRecord};

/// Where a page of the audit trail starts: the sort key of the last record of the page
/// before (records come newest first).
pub type AuditPosition = String;

impl Store {
    /// This store, recording `actor` as the author of the configuration changes it writes.
    pub fn acting_as(&self, actor: Actor) -> Store {
        Store {
            actor: Some(actor),
            ..self.clone()
        }
    }

    /// Who the changes written through this store are recorded as made by: whoever
    /// [`Store::acting_as`] named, or else "unattributed" (tests and tools that set none).
    pub(crate) fn actor(&self) -> Actor {
        self.actor.clone().unwrap_or_else(|| Actor::System {
            reason: "unattributed".into(),
        })
    }

    /// The audit record of `action` on `tenant` (before and after as JSON views), by this
    /// store's actor.
    pub(crate) fn audit(
        &self,
        tenant: &str,
        action: AuditAction,
        target: Option<&str>,
        before: &serde_json::Value,
        after: &serde_json::Value,
    ) -> AuditRecord {
        AuditRecord::new(tenant, self.actor(), action, target, before, after)
    }

    /// Writes `changes` and `record` in one transaction. A condition of one of `changes` that
    /// fails becomes `on_condition()` (the caller knows what it meant).
    pub(crate) async fn write_audited(
        &self,
        changes: Vec<TransactWriteItem>,
        record: &AuditRecord,
        on_condition: impl FnOnce() -> StoreError,
    ) -> Result<(), StoreError> {
        let mut item = Item::new();
        item.insert("pk".into(), s(keys::audit_pk(&record.tenant)));
        item.insert("sk".into(), s(keys::audit_sk(&record.at, &record.audit_id)));
        item.insert("type".into(), s("audit"));
        item.insert("doc".into(), to_doc(record)?);
        let audit = self.put(item, Some("attribute_not_exists(pk)"), false)?;
        let result = self
            .ddb
            .transact_write_items()
            .set_transact_items(Some(changes))
            .transact_items(audit)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) => {
                let condition_failed = matches!(
                    e.as_service_error(),
                    Some(TransactWriteItemsError::TransactionCanceledException(c))
                        if c.cancellation_reasons().iter()
                            .any(|r| r.code() == Some("ConditionalCheckFailed"))
                );
                if condition_failed {
                    Err(on_condition())
                } else {
                    Err(sdk_error(e))
                }
            }
        }
    }

    /// One page of a tenant's audit trail, newest first, starting after `after`; with the
    /// position of the next page when there may be one.
    pub async fn audit_page(
        &self,
        tenant: &str,
        after: Option<&AuditPosition>,
        limit: i32,
    ) -> Result<(Vec<AuditRecord>, Option<AuditPosition>), StoreError> {
        let mut query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(keys::audit_pk(tenant)))
            .scan_index_forward(false)
            .limit(limit);
        if let Some(after) = after {
            query = query
                .exclusive_start_key("pk", s(keys::audit_pk(tenant)))
                .exclusive_start_key("sk", s(after.clone()));
        }
        let out = query.send().await.map_err(sdk_error)?;
        let records = out
            .items()
            .iter()
            .map(get_doc::<AuditRecord>)
            .collect::<Result<Vec<_>, _>>()?;
        let next = out
            .last_evaluated_key()
            .and_then(|key| key.get("sk"))
            .and_then(|sk| sk.as_s().ok())
            .cloned();
        Ok((records, next))
    }
}
