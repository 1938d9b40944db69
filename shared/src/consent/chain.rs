//! Tamper evidence: each number's events form a hash chain. Every event carries its place in
//! the chain (`seq`, from 1) and the hash of the event before it; the number's state carries
//! the hash of the last one (the head). An event edited, removed or slipped in afterwards
//! breaks a link that [`verify`] finds and names.
//!
//! A link's hash is SHA-256 over a version tag, the event's `seq`, the previous hash and the
//! event's stored document, byte for byte as stored, so nothing about an event can change
//! without changing its hash.

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The "previous hash" of a number's first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The end of a number's chain: how many events it holds and the hash of the last.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainHead {
    pub seq: u64,
    pub sha256: String,
}

impl Default for ChainHead {
    fn default() -> Self {
        ChainHead {
            seq: 0,
            sha256: GENESIS.to_string(),
        }
    }
}

/// Where one new event goes: its `seq` and the hash it must carry of the event before it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub seq: u64,
    pub prev_sha256: String,
}

impl ChainHead {
    /// Appends an event whose stored document is `doc`: its link, and the head after it.
    pub fn append(&self, doc: &str) -> (Link, ChainHead) {
        let link = Link {
            seq: self.seq + 1,
            prev_sha256: self.sha256.clone(),
        };
        let head = ChainHead {
            seq: link.seq,
            sha256: link_hash(link.seq, &link.prev_sha256, doc),
        };
        (link, head)
    }
}

/// The hash of one link (hex).
pub fn link_hash(seq: u64, prev_sha256: &str, doc: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(b"stopgate-chain-v1\n");
    hasher.update(seq.to_string().as_bytes());
    hasher.update(b"\n");
    hasher.update(prev_sha256.as_bytes());
    hasher.update(b"\n");
    hasher.update(doc.as_bytes());
    hex::encode(hasher.finalize())
}

/// An event as read back for verification: its id, its stored document, and its link (absent
/// on an event recorded before the chain existed).
#[derive(Debug, Clone)]
pub struct StoredEvent {
    pub event_id: String,
    pub doc: String,
    pub link: Option<Link>,
}

/// What is wrong with the first broken link.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "problem", rename_all = "snake_case")]
pub enum BrokenLink {
    /// The event no longer hashes to what the next event (or the head) recorded of it: it was
    /// edited, or the next one was.
    Altered { event_id: String, seq: u64 },
    /// No event holds this place in the chain: one was removed.
    Missing { seq: u64 },
    /// Two events claim the same place.
    Duplicate { seq: u64, event_id: String },
    /// The state's head does not match the last event: the newest events were removed or the
    /// state was rewritten.
    Head { expected_seq: u64, found_seq: u64 },
}

/// The outcome of verifying one number's chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ChainReport {
    /// Events read.
    pub events: usize,
    /// Events recorded before the chain existed (no link to check).
    pub unchained: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub broken: Option<BrokenLink>,
}

impl ChainReport {
    pub fn intact(&self) -> bool {
        self.broken.is_none()
    }
}

/// Checks every link of one number's events against each other and against `head` (the state's;
/// `None` when the number has no state or a state from before the chain). The first problem in
/// chain order is named.
pub fn verify(events: &[StoredEvent], head: Option<&ChainHead>) -> ChainReport {
    let unchained = events.iter().filter(|e| e.link.is_none()).count();
    let mut chained: Vec<(&Link, &StoredEvent)> = events
        .iter()
        .filter_map(|e| e.link.as_ref().map(|l| (l, e)))
        .collect();
    chained.sort_by_key(|(link, e)| (link.seq, e.event_id.clone()));
    let report = |broken| ChainReport {
        events: events.len(),
        unchained,
        broken,
    };

    let mut expected = ChainHead::default();
    for (i, (link, event)) in chained.iter().enumerate() {
        if link.seq < expected.seq + 1 {
            return report(Some(BrokenLink::Duplicate {
                seq: link.seq,
                event_id: event.event_id.clone(),
            }));
        }
        if link.seq > expected.seq + 1 {
            return report(Some(BrokenLink::Missing {
                seq: expected.seq + 1,
            }));
        }
        if link.prev_sha256 != expected.sha256 {
            // The event before this one changed since this one was recorded (or this one's
            // record of it did).
            let (seq, event_id) = match i.checked_sub(1).and_then(|p| chained.get(p)) {
                Some((before, e)) => (before.seq, e.event_id.clone()),
                None => (link.seq, event.event_id.clone()),
            };
            return report(Some(BrokenLink::Altered { event_id, seq }));
        }
        expected = ChainHead {
            seq: link.seq,
            sha256: link_hash(link.seq, &link.prev_sha256, &event.doc),
        };
    }

    let Some(head) = head else {
        return report(None);
    };
    if head.seq != expected.seq {
        return report(Some(BrokenLink::Head {
            expected_seq: head.seq,
            found_seq: expected.seq,
        }));
    }
    if head.sha256 != expected.sha256 {
        let last = chained.last().map(|(l, e)| (l.seq, e.event_id.clone()));
        return report(Some(match last {
            Some((seq, event_id)) => BrokenLink::Altered { event_id, seq },
            None => BrokenLink::Head {
                expected_seq: head.seq,
                found_seq: 0,
            },
        }));
    }
    report(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A chain built by hand, link by link, from the definition (not with `append`).
    fn chain(docs: &[&str]) -> (Vec<StoredEvent>, ChainHead) {
        let mut prev = GENESIS.to_string();
        let mut events = Vec::new();
        for (i, doc) in docs.iter().enumerate() {
            let seq = i as u64 + 1;
            let mut hasher = Sha256::new();
            hasher.update(format!("stopgate-chain-v1\n{seq}\n{prev}\n{doc}"));
            let hash = hex::encode(hasher.finalize());
            events.push(StoredEvent {
                event_id: format!("ev{seq}"),
                doc: doc.to_string(),
                link: Some(Link {
                    seq,
                    prev_sha256: prev.clone(),
                }),
            });
            prev = hash;
        }
        let head = ChainHead {
            seq: docs.len() as u64,
            sha256: prev,
        };
        (events, head)
    }

    #[test]
    fn append_builds_the_chain_the_definition_describes() {
        let (events, head) = chain(&[r#"{"a":1}"#, r#"{"b":2}"#, r#"{"c":3}"#]);
        let mut appended = ChainHead::default();
        for event in &events {
            let (link, next) = appended.append(&event.doc);
            assert_eq!(Some(&link), event.link.as_ref());
            appended = next;
        }
        assert_eq!(appended, head);
        assert!(verify(&events, Some(&head)).intact());
    }

    #[test]
    fn an_edited_event_is_named() {
        let (mut events, head) = chain(&["one", "two", "three", "four"]);
        events[1].doc = "TWO".into();
        assert_eq!(
            verify(&events, Some(&head)).broken,
            Some(BrokenLink::Altered {
                event_id: "ev2".into(),
                seq: 2
            })
        );
        // The newest one: only the head knows its hash.
        let (mut events, head) = chain(&["one", "two"]);
        events[1].doc = "changed".into();
        assert_eq!(
            verify(&events, Some(&head)).broken,
            Some(BrokenLink::Altered {
                event_id: "ev2".into(),
                seq: 2
            })
        );
    }

    #[test]
    fn removed_inserted_and_truncated_events_are_found() {
        let (mut events, head) = chain(&["one", "two", "three"]);
        events.remove(1);
        assert_eq!(
            verify(&events, Some(&head)).broken,
            Some(BrokenLink::Missing { seq: 2 })
        );

        let (mut events, head) = chain(&["one", "two", "three"]);
        let mut forged = events[1].clone();
        forged.event_id = "forged".into();
        forged.doc = "an opt-in nobody gave".into();
        events.push(forged);
        assert!(matches!(
            verify(&events, Some(&head)).broken,
            Some(BrokenLink::Duplicate { seq: 2, .. })
        ));

        let (mut events, head) = chain(&["one", "two", "three"]);
        events.pop();
        assert_eq!(
            verify(&events, Some(&head)).broken,
            Some(BrokenLink::Head {
                expected_seq: 3,
                found_seq: 2
            })
        );
    }

    #[test]
    fn events_from_before_the_chain_are_counted_not_failed() {
        let (mut events, head) = chain(&["one", "two"]);
        events.insert(
            0,
            StoredEvent {
                event_id: "legacy".into(),
                doc: "old".into(),
                link: None,
            },
        );
        let report = verify(&events, Some(&head));
        assert!(report.intact());
        assert_eq!((report.events, report.unchained), (3, 1));
        assert!(verify(&events, None).intact());
    }
}
