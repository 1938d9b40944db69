//! The review queue of possible revocations (docs/rules.md rule 5): resolving a review, naming
//! its owner, and the sweep that turns reviews past their due date into opt-outs.
//!
//! Resolving as `opt_out` commits the opt-out the message was (as of the message) first, then
//! the resolution event, which closes the review only while it is still open. The sweep does
//! the same with an opt-out of source `review_expired`. Both claim the review's one opt-out, so
//! a resolution and a sweep record it once between them, and anything that failed halfway can
//! simply run again.

use chrono::{DateTime, Utc};

use crate::consent::derived::REVIEW_EXPIRED;
use crate::consent::{Actor, ConsentEvent, ReviewResolution, TenantPolicy};
use crate::store::reviews::{ReviewPosition, ReviewRecord, ReviewStatus};
use crate::store::{Commit, DedupeClaim, Store, StoreError};

/// The dedupe namespace of review opt-outs: one per review, whoever records it.
const REVIEW_CLAIMS: &str = "review";
/// Reviews read per page by the sweep.
const SWEEP_PAGE: i32 = 100;

#[derive(Debug, thiserror::Error)]
pub enum ResolveError {
    #[error("no review {0}")]
    NotFound(String),
    #[error("review {0} is already resolved")]
    AlreadyResolved(String),
    /// Past its due date a review already counts as an opt-out, which only the person can lift.
    #[error(
        "review {review_id} passed its due date ({due_at}): it counts as an opt-out, which only the person's own act can lift"
    )]
    PastDue {
        review_id: String,
        due_at: DateTime<Utc>,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn resolve(
    store: &Store,
    tenant: &str,
    policy: &TenantPolicy,
    review_id: &str,
    resolution: ReviewResolution,
    note: Option<String>,
    actor: Actor,
) -> Result<ReviewRecord, ResolveError> {
    let record = store
        .find_review(tenant, review_id)
        .await?
        .ok_or_else(|| ResolveError::NotFound(review_id.to_string()))?;
    if record.status == ReviewStatus::Resolved {
        return Err(ResolveError::AlreadyResolved(review_id.to_string()));
    }
    let now = Utc::now();
    let due_at = policy.review_due(record.opened_at);
    if resolution == ReviewResolution::NotARevocation && now > due_at {
        return Err(ResolveError::PastDue {
            review_id: review_id.to_string(),
            due_at,
        });
    }
    close(store, tenant, record, resolution, note, actor, now).await
}

/// Names who is to review an open review.
pub async fn assign(
    store: &Store,
    tenant: &str,
    review_id: &str,
    owner: &str,
) -> Result<ReviewRecord, ResolveError> {
    let mut record = store
        .find_review(tenant, review_id)
        .await?
        .ok_or_else(|| ResolveError::NotFound(review_id.to_string()))?;
    if record.status == ReviewStatus::Resolved {
        return Err(ResolveError::AlreadyResolved(review_id.to_string()));
    }
    record.owner = Some(owner.to_string());
    match store.assign_review(tenant, &record).await {
        Ok(()) => Ok(record),
        Err(StoreError::GuardFailed) => Err(ResolveError::AlreadyResolved(review_id.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// What a sweep of one tenant did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct SweepSummary {
    /// Reviews past their due date that this sweep turned into opt-outs.
    pub expired: usize,
    /// Reviews still open after the sweep: the backlog.
    pub open: usize,
    /// Of those, the ones due within [`DUE_SOON`]: a person must look at them before they
    /// become opt-outs on their own.
    pub due_soon: usize,
}

/// How close to its due date an open review counts as due soon (the `ReviewsDueSoon` metric
/// and its alarm).
pub const DUE_SOON: chrono::Duration = chrono::Duration::hours(24);

/// Records an opt-out (source `review_expired`) for every open review of `tenant` past its due
/// date at `now`, and closes it, and counts the reviews left open and those due soon.
/// Idempotent: a review is turned into an opt-out once.
pub async fn sweep(
    store: &Store,
    tenant: &str,
    policy: &TenantPolicy,
    now: DateTime<Utc>,
) -> Result<SweepSummary, StoreError> {
    let mut summary = SweepSummary::default();
    let mut after: Option<ReviewPosition> = None;
    loop {
        let (records, next) = store
            .reviews_page(tenant, ReviewStatus::Open, after.as_ref(), SWEEP_PAGE)
            .await?;
        for record in records {
            let due_at = policy.review_due(record.opened_at);
            if now <= due_at {
                // Not due yet: counted for the backlog (the review queue is worked by people,
                // so it stays small enough to read through every hour).
                summary.open += 1;
                if due_at - now <= DUE_SOON {
                    summary.due_soon += 1;
                }
                continue;
            }
            let actor = Actor::System {
                reason: REVIEW_EXPIRED.into(),
            };
            match close(
                store,
                tenant,
                record,
                ReviewResolution::OptOut,
                None,
                actor,
                now,
            )
            .await
            {
                Ok(_) => summary.expired += 1,
                // Resolved meanwhile by a person: theirs stands.
                Err(ResolveError::AlreadyResolved(_)) => {}
                Err(ResolveError::Store(e)) => return Err(e),
                Err(e) => return Err(StoreError::Corrupt(e.to_string())),
            }
        }
        match next {
            Some(position) => after = Some(position),
            None => return Ok(summary),
        }
    }
}

async fn close(
    store: &Store,
    tenant: &str,
    mut record: ReviewRecord,
    resolution: ReviewResolution,
    note: Option<String>,
    actor: Actor,
    now: DateTime<Utc>,
) -> Result<ReviewRecord, ResolveError> {
    let review_id = record.review_id.clone();
    let message = store
        .event(tenant, &record.phone, &record.event_id)
        .await?
        .ok_or_else(|| StoreError::Corrupt(format!("review {review_id} without its event")))?;
    let expired = matches!(&actor, Actor::System { reason } if reason == REVIEW_EXPIRED);

    if resolution == ReviewResolution::OptOut {
        let opt_out = if expired {
            ConsentEvent::review_expired_opt_out(&message, &review_id, now)
        } else {
            ConsentEvent::review_opt_out(&message, &review_id, note.clone(), actor.clone(), now)
        };
        store
            .commit(&Commit {
                event: &opt_out,
                private: None,
                dedupe: Some(DedupeClaim {
                    provider: REVIEW_CLAIMS.into(),
                    message_id: review_id.clone(),
                    reply: None,
                    nonce: None,
                }),
                disclosure: None,
            })
            .await?;
    }

    let resolved = ConsentEvent::review_resolved(
        &message,
        &review_id,
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
        Err(StoreError::GuardFailed) => Err(ResolveError::AlreadyResolved(review_id)),
        Err(e) => Err(e.into()),
    }
}

/// Sweeps every tenant; a tenant that fails is reported and the others still run.
pub async fn sweep_all(
    store: &Store,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Result<SweepSummary, StoreError>)>, StoreError> {
    let mut results = Vec::new();
    for tenant in store.tenant_ids().await? {
        let Some(snapshot) = store.load_tenant(&tenant).await? else {
            continue;
        };
        let result = sweep(store, &tenant, &snapshot.tenant.policy, now).await;
        results.push((tenant, result));
    }
    Ok(results)
}
