//! A number's history with its evidence resolved: the page of events, the private records
//! (message text, IP, user agent) that a redaction has not erased, and the disclosure texts the
//! events cite. `POST /v1/numbers/history` and `stopgate history` show the same thing.

use std::collections::{HashMap, HashSet};

use crate::consent::{ConsentEvent, PrivateEvidence};
use crate::phone::E164;
use crate::store::history::HistoryPosition;
use crate::store::{Store, StoreError};

/// One page of a number's events, newest first, with what they cite.
pub struct HistoryPage {
    pub events: Vec<ConsentEvent>,
    /// Event id -> its private record, for the events that have one still.
    pub private: HashMap<String, PrivateEvidence>,
    /// SHA-256 -> the disclosure text shown.
    pub disclosures: HashMap<String, String>,
    /// Where the next page starts; `None` after the oldest event.
    pub next: Option<HistoryPosition>,
}

pub async fn page(
    store: &Store,
    tenant: &str,
    phone: &E164,
    after: Option<&HistoryPosition>,
    limit: i32,
) -> Result<HistoryPage, StoreError> {
    let (events, next) = store.history_page(tenant, phone, after, limit).await?;
    let with_private: Vec<&str> = events
        .iter()
        .filter(|e| e.evidence.has_private_record)
        .map(|e| e.event_id.as_str())
        .collect();
    let private = store
        .private_evidence_many(tenant, phone, &with_private)
        .await?;
    let hashes: HashSet<String> = events
        .iter()
        .filter_map(|e| e.evidence.disclosure_sha256.clone())
        .collect();
    let disclosures = store.disclosures(tenant, &hashes).await?;
    Ok(HistoryPage {
        events,
        private,
        disclosures,
        next,
    })
}
