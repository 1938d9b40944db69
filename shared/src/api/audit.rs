//! `GET /v1/audit` (admin): the tenant's configuration changes, newest first, a page at a time.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::ApiError;
use super::auth::KeyScope;
use super::consents::ConsentService;
use crate::store::audit::AuditPosition;

const DEFAULT_PAGE: i32 = 50;
const MAX_PAGE: i32 = 200;

/// The page size a query asks for: `limit`, 1 to 200, default 50.
fn page_size(query: &BTreeMap<String, String>) -> Result<i32, ApiError> {
    super::http::page_limit(query, DEFAULT_PAGE, MAX_PAGE)
}

impl ConsentService {
    /// `GET /v1/audit?limit=&cursor=`: who changed what in the tenant's configuration, and when.
    pub async fn audit(
        &self,
        headers: &http::HeaderMap,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Admin]).await?;
        if let Some(name) = query
            .keys()
            .find(|k| !matches!(k.as_str(), "limit" | "cursor"))
        {
            return Err(ApiError::invalid(
                "invalid_query",
                name,
                format!("unknown parameter {name:?}"),
            ));
        }
        let limit = page_size(query)?;
        let binding = format!("{}|audit", key.tenant_id);
        let after: Option<AuditPosition> = query
            .get("cursor")
            .map(|c| self.cursors.open(&binding, c))
            .transpose()?;
        let (records, next) = self
            .store
            .audit_page(&key.tenant_id, after.as_ref(), limit)
            .await?;
        let next_cursor = next.map(|p| self.cursors.seal(&binding, &p)).transpose()?;
        Ok(json!({ "items": records, "next_cursor": next_cursor }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_size_is_checked_and_named() {
        let query = |v: &str| BTreeMap::from([("limit".to_string(), v.to_string())]);
        assert_eq!(page_size(&BTreeMap::new()).unwrap(), DEFAULT_PAGE);
        assert_eq!(page_size(&query("200")).unwrap(), 200);
        for bad in ["0", "201", "-1", "ten", ""] {
            let err = page_size(&query(bad)).unwrap_err();
            assert!(format!("{err:?}").contains("limit"), "{bad}: {err:?}");
        }
    }
}
