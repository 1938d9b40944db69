//! Rule 1 (ordering per facet) and rule 2 (who may lift an opt-out), as one comparison.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::event::{ConsentEvent, EventId, Source, TimeSource};

/// When either timestamp is not the provider's own, an opt-out wins against an opt-in less
/// than this far after it: clocks and queues disagree by seconds, and a STOP must not be
/// undone by a START that may in truth have come first.
pub const SKEW_WINDOW: Duration = Duration::minutes(2);

/// What the state keeps of one event: enough to order it against others and to cite it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mark {
    pub event_id: EventId,
    pub occurred_at: DateTime<Utc>,
    pub received_at: DateTime<Utc>,
    pub time_source: TimeSource,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
}

impl Mark {
    pub fn of(event: &ConsentEvent) -> Mark {
        Mark {
            event_id: event.event_id.clone(),
            occurred_at: event.occurred_at,
            received_at: event.received_at,
            time_source: event.time_source,
            source: event.source,
            keyword: event.origin.keyword.clone(),
        }
    }

    /// A total order used only to keep the state canonical: later first, then by id.
    pub fn canonical_key(&self) -> (DateTime<Utc>, DateTime<Utc>, &str) {
        (self.occurred_at, self.received_at, self.event_id.as_str())
    }
}

/// Does the opt-in `opt_in` lift the opt-out `opt_out`? Only when it is later under rule 1:
/// - both stamped by the provider: strictly later (a tie goes to the opt-out);
/// - otherwise at least [`SKEW_WINDOW`] later;
/// - a client-stamped opt-in must also be later than the moment Stopgate received the opt-out.
pub fn lifts(opt_in: &Mark, opt_out: &Mark) -> bool {
    let both_provider =
        opt_in.time_source == TimeSource::Provider && opt_out.time_source == TimeSource::Provider;
    let later = if both_provider {
        opt_in.occurred_at > opt_out.occurred_at
    } else {
        opt_in.occurred_at - opt_out.occurred_at >= SKEW_WINDOW
    };
    let after_receipt =
        opt_in.time_source != TimeSource::Client || opt_in.occurred_at > opt_out.received_at;
    later && after_receipt
}

/// Does `a` hold every power `b` holds as an opt-out (anything that lifts `a` lifts `b`)?
/// True when both have the same time source and `a` is no earlier on either clock.
pub fn opt_out_covers(a: &Mark, b: &Mark) -> bool {
    a.time_source == b.time_source
        && a.occurred_at >= b.occurred_at
        && a.received_at >= b.received_at
}

/// Does opt-in `a` lift everything opt-in `b` lifts? Lifting power grows with `occurred_at`
/// within one time source.
pub fn opt_in_covers(a: &Mark, b: &Mark) -> bool {
    a.time_source == b.time_source && a.occurred_at >= b.occurred_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn mark(id: &str, secs: i64, ts: TimeSource) -> Mark {
        let at =
            Utc.with_ymd_and_hms(2026, 1, 1, 12, 0, 0).single().unwrap() + Duration::seconds(secs);
        Mark {
            event_id: EventId(id.into()),
            occurred_at: at,
            received_at: at,
            time_source: ts,
            source: Source::SmsKeyword,
            keyword: None,
        }
    }

    #[test]
    fn receipt_stamped_start_within_two_minutes_does_not_lift() {
        let stop = mark("a", 0, TimeSource::Receipt);
        assert!(!lifts(&mark("b", 30, TimeSource::Receipt), &stop));
        assert!(!lifts(&mark("b", 119, TimeSource::Receipt), &stop));
        assert!(lifts(&mark("b", 120, TimeSource::Receipt), &stop));
        assert!(!lifts(&mark("b", -600, TimeSource::Receipt), &stop));
    }

    #[test]
    fn provider_stamped_pairs_order_by_the_providers_clock_and_ties_go_to_the_opt_out() {
        let stop = mark("a", 0, TimeSource::Provider);
        assert!(!lifts(&mark("b", 0, TimeSource::Provider), &stop));
        assert!(lifts(&mark("b", 1, TimeSource::Provider), &stop));
        // One provider-stamped, one not: the skew window applies.
        assert!(!lifts(&mark("b", 1, TimeSource::Receipt), &stop));
    }

    #[test]
    fn client_stamped_opt_in_must_follow_the_opt_outs_receipt() {
        let mut stop = mark("a", 0, TimeSource::Provider);
        stop.received_at += Duration::minutes(10);
        assert!(!lifts(&mark("b", 300, TimeSource::Client), &stop));
        assert!(lifts(&mark("b", 601, TimeSource::Client), &stop));
    }
}
