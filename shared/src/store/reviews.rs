//! The review queue for possible revocations (DESIGN.md rule 5). Each review has an item of
//! its own, `R#<tenant>#<review id>`, which joins the sparse index partition
//! `REV#<tenant>#open` (oldest first) while it is open and `REV#<tenant>#resolved` after.

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::ledger::{Commit, CommitOutcome, DedupeClaim};
use super::{Item, Store, StoreError, get_doc, get_s, keys, s, sdk_error, to_doc};
use crate::consent::{Actor, ConsentEvent, EventId, EventKind, ReviewRef, ReviewResolution};
use crate::phone::E164;
use crate::providers::ProviderReply;

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
    };
    item(&event.tenant, &record).map(Some)
}

impl Store {
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

    /// Resolves an open review: with `opt_out`, first records the opt-out the message was
    /// (as of the message, with its origin); then the resolution event, which closes the review
    /// only if it is still open.
    pub async fn resolve_review(
        &self,
        tenant: &str,
        review_id: &str,
        resolution: ReviewResolution,
        note: Option<String>,
        actor: Actor,
    ) -> Result<ReviewRecord, StoreError> {
        let mut record = self
            .find_review(tenant, review_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("review {review_id}")))?;
        if record.status == ReviewStatus::Resolved {
            return Err(StoreError::GuardFailed);
        }
        let now = Utc::now();
        let original: ConsentEvent = self
            .event(tenant, &record.phone, &record.event_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt(format!("review {review_id} without its event")))?;

        if resolution == ReviewResolution::OptOut {
            let mut origin = original.origin.clone();
            origin.rule = Some("review".into());
            let opt_out = ConsentEvent {
                event_id: EventId::new(now),
                kind: EventKind::OptOut,
                origin,
                recorded_at: now,
                actor: actor.clone(),
                evidence: Default::default(),
                review: Some(ReviewRef {
                    review_id: review_id.to_string(),
                    resolution: Some(resolution),
                    note: note.clone(),
                }),
                ..original.clone()
            };
            // Idempotent: resolving again after a partial failure records the opt-out once.
            let claim = DedupeClaim {
                provider: "review".into(),
                message_id: review_id.to_string(),
                reply: ProviderReply {
                    content_type: "text/plain".into(),
                    body: String::new(),
                },
            };
            self.commit(&Commit {
                event: &opt_out,
                private: None,
                dedupe: Some(claim),
                disclosure: None,
            })
            .await?;
        }

        let resolved = ConsentEvent {
            event_id: EventId::new(now),
            tenant: tenant.to_string(),
            phone: record.phone.clone(),
            kind: EventKind::ReviewResolved,
            category: None,
            level: None,
            scope: None,
            origin: original.origin.clone(),
            source: crate::consent::Source::Api,
            occurred_at: now,
            time_source: crate::consent::TimeSource::Receipt,
            received_at: now,
            recorded_at: now,
            actor: actor.clone(),
            evidence: Default::default(),
            override_opt_out: false,
            review: Some(ReviewRef {
                review_id: review_id.to_string(),
                resolution: Some(resolution),
                note: note.clone(),
            }),
        };
        record.status = ReviewStatus::Resolved;
        record.resolution = Some(resolution);
        record.resolved_by = Some(actor);
        record.resolved_at = Some(now);
        record.note = note;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item(tenant, &record)?))
            .condition_expression("#status = :open")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":open", s(ReviewStatus::Open.as_str()))
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let guarded = TransactWriteItem::builder().put(put).build();
        match self
            .commit_with(
                &Commit {
                    event: &resolved,
                    private: None,
                    dedupe: None,
                    disclosure: None,
                },
                Some(guarded),
            )
            .await?
        {
            CommitOutcome::Recorded { .. } | CommitOutcome::Duplicate(_) => Ok(record),
        }
    }

    /// One event of a number.
    pub async fn event(
        &self,
        tenant: &str,
        phone: &E164,
        event_id: &str,
    ) -> Result<Option<ConsentEvent>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::number_pk(tenant, phone)))
            .key("sk", s(keys::event_sk(event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }
}
