//! Re-reading stored inbound texts with today's classifier (`stopgate reclassify`): reports the
//! messages it now reads as opt-outs that an earlier classifier did not, and with `apply`
//! records each of them once, as of the message. Idempotent: a message yields at most one
//! opt-out however often this runs.

use chrono::{DateTime, Utc};

use crate::consent::{ConsentEvent, EventKind};
use crate::keywords::{Classification, Classifier, Intent};
use crate::store::history::{ChangePosition, EventIndex};
use crate::store::{Commit, CommitOutcome, DedupeClaim, Store, StoreError};

/// The dedupe namespace of reclassified opt-outs: one per original message.
const RECLASSIFY_CLAIMS: &str = "reclassify";

/// One stored message that today's classifier reads as an opt-out.
pub struct Finding<'a> {
    pub message: &'a ConsentEvent,
    pub now: &'a Classification,
    /// Whether this run recorded its opt-out (false when only reporting, or already recorded).
    pub recorded: bool,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub examined: usize,
    pub found: usize,
    pub recorded: usize,
}

pub async fn reclassify(
    store: &Store,
    tenant: &str,
    classifier: &Classifier,
    since: DateTime<Utc>,
    apply: bool,
    on_finding: &mut (dyn FnMut(&Finding<'_>) + Send),
) -> Result<Summary, StoreError> {
    let mut summary = Summary::default();
    for index in [EventIndex::Inbound, EventIndex::Changes] {
        let mut position = ChangePosition {
            shard: 0,
            last: None,
        };
        loop {
            let (events, next) = store
                .changes_page(tenant, index, Some(since), &position, 200)
                .await?;
            for message in events
                .iter()
                .filter(|e| e.recorded_at >= since && e.kind != EventKind::OptOut)
            {
                summary.examined += 1;
                let Some(text) = store
                    .private_evidence(tenant, &message.phone, message.event_id.as_str())
                    .await?
                    .and_then(|p| p.message_text)
                else {
                    continue;
                };
                let now = classifier.classify(&text);
                if now.intent != Intent::OptOut {
                    continue;
                }
                summary.found += 1;
                let recorded = apply && record_opt_out(store, message, &now).await?;
                summary.recorded += usize::from(recorded);
                on_finding(&Finding {
                    message,
                    now: &now,
                    recorded,
                });
            }
            match next {
                Some(p) => position = p,
                None => break,
            }
        }
    }
    Ok(summary)
}

async fn record_opt_out(
    store: &Store,
    message: &ConsentEvent,
    now: &Classification,
) -> Result<bool, StoreError> {
    let opt_out = ConsentEvent::reclassified_opt_out(message, now, Utc::now());
    let outcome = store
        .commit(&Commit {
            event: &opt_out,
            private: None,
            dedupe: Some(DedupeClaim {
                provider: RECLASSIFY_CLAIMS.into(),
                message_id: message.event_id.to_string(),
                reply: None,
                nonce: None,
            }),
            disclosure: None,
        })
        .await?;
    Ok(matches!(outcome, CommitOutcome::Recorded { .. }))
}
