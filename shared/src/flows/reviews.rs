//! Resolving a review of a possible revocation (docs/rules.md rule 5): with `opt_out`, the opt-out
//! the message was is committed first (as of the message); then the resolution event, which
//! closes the review only while it is still open. Both are idempotent, so a resolution that
//! failed halfway can simply be tried again.

use chrono::Utc;

use crate::consent::{Actor, ConsentEvent, ReviewResolution};
use crate::store::reviews::{ReviewRecord, ReviewStatus};
use crate::store::{Commit, DedupeClaim, Store, StoreError};

/// The dedupe namespace of review opt-outs: one per review, however often it is resolved.
const REVIEW_CLAIMS: &str = "review";

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no review {0}")]
    NotFound(String),
    #[error("review {0} is already resolved")]
    AlreadyResolved(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn resolve(
    store: &Store,
    tenant: &str,
    review_id: &str,
    resolution: ReviewResolution,
    note: Option<String>,
    actor: Actor,
) -> Result<ReviewRecord, ResolveError> {
    let mut record = store
        .find_review(tenant, review_id)
        .await?
        .ok_or_else(|| ResolveError::NotFound(review_id.to_string()))?;
    if record.status == ReviewStatus::Resolved {
        return Err(ResolveError::AlreadyResolved(review_id.to_string()));
    }
    let now = Utc::now();
    let message = store
        .event(tenant, &record.phone, &record.event_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("review {review_id} without its event")))?;

    if resolution == ReviewResolution::OptOut {
        let opt_out =
            ConsentEvent::review_opt_out(&message, review_id, note.clone(), actor.clone(), now);
        store
            .commit(&Commit {
                event: &opt_out,
                private: None,
                dedupe: Some(DedupeClaim {
                    provider: REVIEW_CLAIMS.into(),
                    message_id: review_id.to_string(),
                    reply: None,
                }),
                disclosure: None,
            })
            .await?;
    }

    let resolved = ConsentEvent::review_resolved(
        &message,
        review_id,
        resolution,
        note.clone(),
        actor.clone(),
        now,
    );
    record.status = ReviewStatus::Resolved;
    record.resolution = Some(resolution);
    record.resolved_by = Some(actor);
    record.resolved_at = Some(now);
    record.note = note;
    let commit = Commit {
        event: &resolved,
        private: None,
        dedupe: None,
        disclosure: None,
    };
    match store.commit_closing_review(&commit, &record).await {
        Ok(_) => Ok(record),
        Err(StoreError::GuardFailed) => Err(ResolveError::AlreadyResolved(review_id.to_string())),
        Err(e) => Err(e.into()),
    }
}
