//! Hosted forms' configuration, in the tenant's partition (`T#<tenant>` / `FORM#<form>`), so the
//! one Query that loads a tenant loads its forms too. Every change is a new version, written
//! only over the version it was made from.

use chrono::Utc;

use super::{Store, StoreError, keys, n, s, sdk_error, to_doc};
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
        let current = snapshot.forms.get(&form.form_id).map(|f| f.version);
        let stored = FormConfig {
            version: current.unwrap_or(0) + 1,
            updated_at: Utc::now(),
            ..form.clone()
        };
        let mut put = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .item("pk", s(keys::tenant_pk(tenant_id)))
            .item("sk", s(keys::form_sk(&stored.form_id)))
            .item("type", s("form"))
            .item("version", n(stored.version))
            .item("doc", to_doc(&stored)?);
        put = match current {
            None => put.condition_expression("attribute_not_exists(pk)"),
            Some(version) => put
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", n(version)),
        };
        match put.send().await {
            Ok(_) => Ok(stored),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::Conflict)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }
}
