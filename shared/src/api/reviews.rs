//! The possible-revocation review queue: `GET /v1/reviews`, `POST /v1/reviews/{id}`.

use std::collections::BTreeMap;

use chrono::Utc;
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::KeyScope;
use super::consents::ConsentService;
use crate::consent::{Actor, ReviewResolution, TenantPolicy};
use crate::flows::reviews::{self, ResolveError};
use crate::mask;
use crate::store::reviews::{ReviewPosition, ReviewRecord, ReviewStatus};

const PAGE: i32 = 50;

/// `POST /v1/reviews/{id}`: a resolution, an owner, or both.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewUpdate {
    #[serde(default)]
    resolution: Option<String>,
    #[serde(default)]
    note: Option<String>,
    #[serde(default)]
    owner: Option<String>,
}

/// A checked `POST /v1/reviews/{id}` body: at least a resolution or an owner.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReviewChange {
    pub resolution: Option<ReviewResolution>,
    pub note: Option<String>,
    /// Trimmed.
    pub owner: Option<String>,
}

impl ReviewChange {
    /// Reads and checks the body. Pure: the handler calls it before anything is loaded.
    pub fn read(body: &[u8]) -> Result<ReviewChange, ApiError> {
        let request: ReviewUpdate = super::http::parse_json(body)?;
        let resolution = match request.resolution.as_deref() {
            None => None,
            Some("opt_out") => Some(ReviewResolution::OptOut),
            Some("not_a_revocation") => Some(ReviewResolution::NotARevocation),
            Some(_) => {
                return Err(ApiError::invalid(
                    "invalid_resolution",
                    "resolution",
                    "resolution must be opt_out or not_a_revocation",
                ));
            }
        };
        let owner = request.owner.as_deref().map(str::trim);
        if owner.is_some_and(|o| o.is_empty() || o.len() > 200 || o.chars().any(char::is_control)) {
            return Err(ApiError::invalid(
                "invalid_owner",
                "owner",
                "owner must be 1 to 200 characters without control characters",
            ));
        }
        if resolution.is_none() && owner.is_none() {
            return Err(ApiError::invalid(
                "missing_resolution",
                "resolution",
                "give a resolution (opt_out or not_a_revocation), an owner, or both",
            ));
        }
        if request.note.as_ref().is_some_and(|n| n.len() > 2000) {
            return Err(ApiError::invalid(
                "invalid_note",
                "note",
                "note is longer than 2000 bytes",
            ));
        }
        Ok(ReviewChange {
            resolution,
            owner: owner.map(str::to_string),
            note: request.note,
        })
    }
}

/// Text for a reviewer without the `admin` scope: the shape of the message, not its words.
fn mask_text(text: &str) -> String {
    text.split_whitespace()
        .map(|w| {
            let first: String = w.chars().take(1).collect();
            format!("{first}***")
        })
        .collect::<Vec<_>>()
        .join(" ")
}

impl ConsentService {
    /// `GET /v1/reviews?status=open|resolved&cursor=`: oldest first.
    pub async fn reviews(
        &self,
        headers: &http::HeaderMap,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let key = self
            .auth
            .authenticate(headers, &[KeyScope::ConsentsWrite, KeyScope::Admin])
            .await?;
        for name in query.keys() {
            if !matches!(name.as_str(), "status" | "cursor") {
                return Err(ApiError::invalid(
                    "invalid_query",
                    name,
                    format!("unknown parameter {name:?}"),
                ));
            }
        }
        let status = match query.get("status").map(String::as_str).unwrap_or("open") {
            "open" => ReviewStatus::Open,
            "resolved" => ReviewStatus::Resolved,
            _ => {
                return Err(ApiError::invalid(
                    "invalid_status",
                    "status",
                    "status must be open or resolved",
                ));
            }
        };
        let admin = key.scopes.iter().any(|s| s == KeyScope::Admin.as_str());
        let tenant = self.tenant(&key).await?;
        let binding = format!("{}|reviews|{}", key.tenant_id, status.as_str());
        let after: Option<ReviewPosition> = query
            .get("cursor")
            .map(|c| self.cursors.open(&binding, c))
            .transpose()?;
        let (records, next) = self
            .store
            .reviews_page(&key.tenant_id, status, after.as_ref(), PAGE)
            .await?;
        let policy = &tenant.snapshot.tenant.policy;
        let now = Utc::now();
        let mut items = Vec::with_capacity(records.len());
        for record in &records {
            let text = self
                .store
                .private_evidence(&key.tenant_id, &record.phone, &record.event_id)
                .await?
                .and_then(|p| p.message_text);
            items.push(review_json(record, text.as_deref(), admin, policy, now));
        }
        let next_cursor = next.map(|p| self.cursors.seal(&binding, &p)).transpose()?;
        Ok(json!({ "items": items, "next_cursor": next_cursor }))
    }

    /// `POST /v1/reviews/{id}` `{"resolution"?: "opt_out" | "not_a_revocation", "note"?,
    /// "owner"?}`: resolves the review, names its owner, or both (owner first).
    pub async fn resolve(
        &self,
        headers: &http::HeaderMap,
        review_id: &str,
        body: &[u8],
    ) -> Result<Value, ApiError> {
        let key = self
            .auth
            .authenticate(headers, &[KeyScope::ConsentsWrite, KeyScope::Admin])
            .await?;
        let change = ReviewChange::read(body)?;
        if !crate::ids::valid_id(review_id) {
            return Err(ApiError::NotFound {
                code: "unknown_review",
                message: "no such review".into(),
            });
        }
        let tenant = self.tenant(&key).await?;
        let policy = &tenant.snapshot.tenant.policy;
        let mut record = None;
        if let Some(owner) = change.owner.as_deref() {
            record = Some(reviews::assign(&self.store, &key.tenant_id, review_id, owner).await?);
            tracing::info!(tenant = %key.tenant_id, review = %review_id, "review assigned");
        }
        if let Some(resolution) = change.resolution {
            let actor = Actor::ApiKey {
                key_id: key.key_id.clone(),
            };
            record = Some(
                reviews::resolve(
                    &self.store,
                    &key.tenant_id,
                    policy,
                    review_id,
                    resolution,
                    change.note,
                    actor,
                )
                .await?,
            );
            tracing::info!(tenant = %key.tenant_id, review = %review_id, ?resolution, "review resolved");
        }
        let record =
            record.ok_or_else(|| ApiError::Unavailable("review update without a result".into()))?;
        let admin = key.scopes.iter().any(|s| s == KeyScope::Admin.as_str());
        Ok(review_json(&record, None, admin, policy, Utc::now()))
    }
}

pub fn review_json(
    record: &ReviewRecord,
    text: Option<&str>,
    admin: bool,
    policy: &TenantPolicy,
    now: chrono::DateTime<Utc>,
) -> Value {
    let due_at = policy.review_due(record.opened_at);
    json!({
        "review_id": record.review_id,
        "status": record.status,
        "phone": if admin { record.phone.as_str().to_string() } else { mask::phone(record.phone.as_str()) },
        "text": text.map(|t| if admin { t.to_string() } else { mask_text(t) }),
        "sender": record.sender,
        "rule": record.rule,
        "opened_at": record.opened_at,
        "due_at": due_at,
        "overdue": record.status == ReviewStatus::Open && now > due_at,
        "event_id": record.event_id,
        "resolution": record.resolution,
        "resolved_by": record.resolved_by,
        "resolved_at": record.resolved_at,
        "note": record.note,
        "owner": record.owner,
    })
}

impl From<ResolveError> for ApiError {
    fn from(err: ResolveError) -> ApiError {
        match err {
            ResolveError::NotFound(_) => ApiError::NotFound {
                code: "unknown_review",
                message: err.to_string(),
            },
            ResolveError::AlreadyResolved(_) => ApiError::Conflict {
                code: "review_resolved",
                message: err.to_string(),
                field: None,
            },
            ResolveError::PastDue { .. } => ApiError::Conflict {
                code: "review_past_due",
                message: err.to_string(),
                field: Some("resolution".into()),
            },
            ResolveError::Store(e) => e.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_review_change_is_checked_before_anything_is_loaded() {
        let change = ReviewChange::read(br#"{"resolution": "opt_out", "owner": " ana "}"#).unwrap();
        assert_eq!(change.resolution, Some(ReviewResolution::OptOut));
        assert_eq!(change.owner.as_deref(), Some("ana"));
        for (body, code) in [
            (r#"{"resolution": "maybe"}"#, "invalid_resolution"),
            (r#"{"owner": "  "}"#, "invalid_owner"),
            (r#"{"note": "only a note"}"#, "missing_resolution"),
            (r#"{"resolution": "opt_out", "colour": 1}"#, "invalid_body"),
        ] {
            let err = ReviewChange::read(body.as_bytes()).unwrap_err();
            assert_eq!((err.status(), err.code()), (400, code), "{body}");
        }
        let long_note = format!(
            r#"{{"resolution": "opt_out", "note": "{}"}}"#,
            "n".repeat(2001)
        );
        assert_eq!(
            ReviewChange::read(long_note.as_bytes()).unwrap_err().code(),
            "invalid_note"
        );
    }

    #[test]
    fn masked_text_keeps_shape_not_words() {
        assert_eq!(
            super::mask_text("please stop  texting me"),
            "p*** s*** t*** m***"
        );
    }
}
