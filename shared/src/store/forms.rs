//! Hosted forms' configuration, in the tenant's partition (`T#<tenant>` / `FORM#<form>`), so the
//! one Query that loads a tenant loads its forms too. Every change is a new version, written
//! only over the version it was made from.

use chrono::Utc;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};

use super::tenants::view;
use super::{Item, Store, StoreError, keys, n, s, to_doc};
use crate::consent::audit::AuditAction;
use crate::consent::forms::FormConfig;

impl Store {
    /// Stores `form` as the next version of its form (the first, if new) and returns it as
    /// stored. A concurrent change makes it fail with `Conflict` rather than lose either.
    pub async fn put_form(
        &self,
        tenant_id: &str,
        form: &FormConfig,
    ) -> Result<FormConfig, StoreError> {
        let snapshot = self
            .load_tenant(tenant_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("tenant {tenant_id}")))?;
        let existing = snapshot.forms.get(&form.form_id);
        let current = existing.map(|f| f.version);
        let stored = FormConfig {
            version: current.unwrap_or(0) + 1,
            updated_at: Utc::now(),
            ..form.clone()
        };
        let before = existing.map(view).transpose()?.unwrap_or_default();
        let audit = self.audit(
            tenant_id,
            AuditAction::FormSaved,
            Some(&stored.form_id),
            &before,
            &view(&stored)?,
        );
        let item = Item::from([
            ("pk".to_string(), s(keys::tenant_pk(tenant_id))),
            ("sk".to_string(), s(keys::form_sk(&stored.form_id))),
            ("type".to_string(), s("form")),
            ("version".to_string(), n(stored.version)),
            ("doc".to_string(), to_doc(&stored)?),
        ]);
        // Written only over the version it was made from: a concurrent change is a Conflict.
        let put = match current {
            None => self.put(item, Some("attribute_not_exists(pk)"), false)?,
            Some(version) => {
                let put = Put::builder()
                    .table_name(self.table())
                    .set_item(Some(item))
                    .condition_expression("version = :expected")
                    .expression_attribute_values(":expected", n(version))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                TransactWriteItem::builder().put(put).build()
            }
        };
        self.write_audited(vec![put], &audit, || StoreError::Conflict)
            .await?;
        Ok(stored)
    }
}
