//! The review queue for possible revocations (docs/rules.md rule 5). Each review has an item of
//! its own, `R#<tenant>#<review id>`, which joins the sparse index partition
//! `REV#<tenant>#open` (oldest first) while it is open and `REV#<tenant>#resolved` after.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_s, keys, s, sdk_error, to_doc};
use crate::consent::{Actor, ConsentEvent, EventKind, ReviewResolution};
use crate::phone::E164;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRecord {
    pub review_id: String,
    pub phone: E164,
    /// The possible revocation's event (its text is in that event's private record).
    pub event_id: String,
    pub opened_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    pub status: ReviewStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ReviewResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_by: Option<Actor>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<DateTime<Utc>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// Who is to review it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

/// Where a page of reviews stopped.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewPosition {
    pub gsi1sk: String,
    pub review_id: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Open,
    Resolved,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Open => "open",
            ReviewStatus::Resolved => "resolved",
        }
    }
}

fn review_pk(tenant: &str, review_id: &str) -> String {
    format!("R#{tenant}#{review_id}")
}

const REVIEW_SK: &str = "REVIEW";

fn index_pk(tenant: &str, status: ReviewStatus) -> String {
    format!("REV#{tenant}#{}", status.as_str())
}

fn item(tenant: &str, record: &ReviewRecord) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert("pk".into(), s(review_pk(tenant, &record.review_id)));
    item.insert("sk".into(), s(REVIEW_SK));
    item.insert("type".into(), s("review"));
    item.insert("status".into(), s(record.status.as_str()));
    item.insert("gsi1pk".into(), s(index_pk(tenant, record.status)));
    let at = record.resolved_at.unwrap_or(record.opened_at);
    item.insert("gsi1sk".into(), s(keys::change_sk(&at, &record.review_id)));
    item.insert("doc".into(), to_doc(record)?);
    Ok(item)
}

/// The write that closes a review (`record`, now resolved) only while it is still open; the
/// ledger adds it to the transaction of the resolution's event.
pub(crate) fn close_if_open(
    table: &str,
    tenant: &str,
    record: &ReviewRecord,
) -> Result<TransactWriteItem, StoreError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(item(tenant, record)?))
        .condition_expression("#status = :open")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":open", s(ReviewStatus::Open.as_str()))
        .build()
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// The review item a possible revocation opens, written in the event's own transaction.
pub(crate) fn opened_by(event: &ConsentEvent) -> Result<Option<Item>, StoreError> {
    if event.kind != EventKind::PossibleRevocation {
        return Ok(None);
    }
    let review_id = event
        .review
        .as_ref()
        .map(|r| r.review_id.clone())
        .unwrap_or_else(|| event.event_id.to_string());
    let record = ReviewRecord {
        review_id,
        phone: event.phone.clone(),
        event_id: event.event_id.to_string(),
        opened_at: event.received_at,
        sender: event.origin.sender.clone(),
        rule: event.origin.rule.clone(),
        status: ReviewStatus::Open,
        resolution: None,
        resolved_by: None,
        resolved_at: None,
        note: None,
        owner: None,
    };
    item(&event.tenant, &record).map(Some)
}

impl Store {
    /// Names who is to review an open review (refused with `GuardFailed` once it is resolved).
    pub async fn assign_review(
        &self,
        tenant: &str,
        record: &ReviewRecord,
    ) -> Result<(), StoreError> {
        let result = self
            .ddb
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item(tenant, record)?))
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(ReviewStatus::Open.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Err(StoreError::GuardFailed)
            }
            Err(e) => Err(sdk_error(e)),
        }
    }

    /// Reviews by id (one batch read); ids with no review are left out.
    pub async fn reviews_by_id(
        &self,
        tenant: &str,
        review_ids: &[String],
    ) -> Result<Vec<ReviewRecord>, StoreError> {
        let keys = review_ids
            .iter()
            .map(|id| {
                Item::from([
                    ("pk".to_string(), s(review_pk(tenant, id))),
                    ("sk".to_string(), s(REVIEW_SK)),
                ])
            })
            .collect();
        let (found, unread) = self.batch_get(keys, true).await?;
        if !unread.is_empty() {
            return Err(StoreError::Unavailable("reviews left unread".into()));
        }
        found.iter().map(get_doc).collect()
    }

    pub async fn find_review(
        &self,
        tenant: &str,
        review_id: &str,
    ) -> Result<Option<ReviewRecord>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(review_pk(tenant, review_id)))
            .key("sk", s(REVIEW_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }

    /// Reviews of a status, oldest first, `limit` at a time after `after`.
    pub async fn reviews_page(
        &self,
        tenant: &str,
        status: ReviewStatus,
        after: Option<&ReviewPosition>,
        limit: i32,
    ) -> Result<(Vec<ReviewRecord>, Option<ReviewPosition>), StoreError> {
        let start = after.map(|p| {
            Item::from([
                ("gsi1pk".to_string(), s(index_pk(tenant, status))),
                ("gsi1sk".to_string(), s(p.gsi1sk.clone())),
                ("pk".to_string(), s(review_pk(tenant, &p.review_id))),
                ("sk".to_string(), s(REVIEW_SK)),
            ])
        });
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk")
            .expression_attribute_values(":pk", s(index_pk(tenant, status)))
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let records = out
            .items()
            .iter()
            .map(get_doc)
            .collect::<Result<Vec<ReviewRecord>, _>>()?;
        let next = match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => {
                let pk = get_s(key, "pk")?;
                Some(ReviewPosition {
                    gsi1sk: get_s(key, "gsi1sk")?.to_string(),
                    review_id: pk.rsplit('#').next().unwrap_or_default().to_string(),
                })
            }
            _ => None,
        };
        Ok((records, next))
    }
}
