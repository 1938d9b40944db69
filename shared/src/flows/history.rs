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
    /// Pending consent event id -> that event, for the confirmations on the page: a
    /// confirmation shows the pending consent it confirmed in full (its IP and user agent are
    /// that event's), so one entry is the whole evidence of a double opt-in.
    pub confirmed: HashMap<String, ConsentEvent>,
    /// Event id -> its private record, for the events (and confirmed pending consents) that
    /// have one still.
    pub private: HashMap<String, PrivateEvidence>,
    /// SHA-256 -> the disclosure text shown.
    pub disclosures: HashMap<String, String>,
    /// Where the next page starts; `None` after the oldest event.
    pub next: Option<HistoryPosition>,
}

impl HistoryPage {
    /// The pending consent `event` confirmed, if it is a confirmation.
    pub fn pending_of(&self, event: &ConsentEvent) -> Option<&ConsentEvent> {
        event
            .confirms
            .as_ref()
            .and_then(|c| self.confirmed.get(c.pending_event_id.as_str()))
    }
}

pub async fn page(
    store: &Store,
    tenant: &str,
    phone: &E164,
    after: Option<&HistoryPosition>,
    limit: i32,
) -> Result<HistoryPage, StoreError> {
    let (events, next) = store.history_page(tenant, phone, after, limit).await?;
    let mut confirmed = HashMap::new();
    for confirmation in events.iter().filter_map(|e| e.confirms.as_ref()) {
        let id = confirmation.pending_event_id.as_str();
        if let Some(pending) = store.event(tenant, phone, id).await? {
            confirmed.insert(id.to_string(), pending);
        }
    }
    let cited = || events.iter().chain(confirmed.values());
    let with_private: HashSet<&str> = cited()
        .filter(|e| e.evidence.has_private_record)
        .map(|e| e.event_id.as_str())
        .collect();
    let with_private: Vec<&str> = with_private.into_iter().collect();
    let private = store
        .private_evidence_many(tenant, phone, &with_private)
        .await?;
    let hashes: HashSet<String> = cited()
        .filter_map(|e| e.evidence.disclosure_sha256.clone())
        .collect();
    let disclosures = store.disclosures(tenant, &hashes).await?;
    Ok(HistoryPage {
        events,
        confirmed,
        private,
        disclosures,
        next,
    })
}
