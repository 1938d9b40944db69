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
    /// When Stopgate committed the event: the change index's key, so exports and the opt-out
    /// list can say when a standing last changed. States folded before marks kept it have none
    /// (see [`Mark::recorded`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recorded_at: Option<DateTime<Utc>>,
    pub source: Source,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Written consent documented through the API to lift an opt-out (rule 2).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub override_opt_out: bool,
}

impl Mark {
    pub fn of(event: &ConsentEvent) -> Mark {
        Mark {
            event_id: event.event_id.clone(),
            occurred_at: event.occurred_at,
            received_at: event.received_at,
            time_source: event.time_source,
            recorded_at: Some(event.recorded_at),
            source: event.source,
            keyword: event.origin.keyword.clone(),
            override_opt_out: event.override_opt_out,
        }
    }

    /// Is this opt-in an act that may lift an opt-out at all (rule 2)? The person's own keyword
    /// (or the provider reporting it), a preference-page action from the verified number, or
    /// written consent documented as an override. An API record, an import or a form alone never.
    pub fn may_lift(&self) -> bool {
        self.override_opt_out
            || matches!(
                self.source,
                Source::SmsKeyword | Source::Provider | Source::WebPreferences
            )
    }

    /// Does this opt-in answer an open review? A YES never does (rule 2), whatever it lifted.
    pub fn answers_reviews(&self) -> bool {
        self.keyword.as_deref() != Some(YES)
    }

    /// When Stopgate committed the event; for a mark kept before marks held it, when Stopgate
    /// received it, which is never later.
    pub fn recorded(&self) -> DateTime<Utc> {
        self.recorded_at.unwrap_or(self.received_at)
    }

    /// The order of the change index: when Stopgate committed the event, then its id.
    pub fn index_key(&self) -> (DateTime<Utc>, &str) {
        (self.recorded(), self.event_id.as_str())
    }

    /// A total order used only to keep the state canonical: later first, then by id.
    pub fn canonical_key(&self) -> (DateTime<Utc>, DateTime<Utc>, &str) {
        (self.occurred_at, self.received_at, self.event_id.as_str())
    }
}

/// The keyword whose meaning depends on context (rule 2).
pub const YES: &str = "yes";

/// Does the opt-in `opt_in` lift the opt-out `opt_out`? Only an act that may lift at all
/// ([`Mark::may_lift`]) and is later under rule 1:
/// - both stamped by the provider: strictly later by the provider's clock (a tie goes to the
///   opt-out);
/// - otherwise at least [`SKEW_WINDOW`] later;
/// - an opt-in not stamped by the provider (receipt or client) must also have been received
///   after the opt-out was: nothing Stopgate received before an opt-out can lift it, whatever
///   the opt-out's `occurred_at` says.
pub fn lifts(opt_in: &Mark, opt_out: &Mark) -> bool {
    let both_provider =
        opt_in.time_source == TimeSource::Provider && opt_out.time_source == TimeSource::Provider;
    let later = if both_provider {
        opt_in.occurred_at > opt_out.occurred_at
    } else {
        opt_in.occurred_at - opt_out.occurred_at >= SKEW_WINDOW
    };
    let received_after =
        opt_in.time_source == TimeSource::Provider || opt_in.received_at > opt_out.received_at;
    opt_in.may_lift() && later && received_after
}

/// Does `a` hold every power `b` holds as an opt-out (anything that lifts `a` lifts `b`)?
/// True when both have the same time source and `a` is no earlier on either clock.
pub fn opt_out_covers(a: &Mark, b: &Mark) -> bool {
    a.time_source == b.time_source
        && a.occurred_at >= b.occurred_at
        && a.received_at >= b.received_at
}

/// Does opt-in `a` lift everything opt-in `b` lifts, and answer every review `b` answers?
/// Within one time source, lifting power grows with `occurred_at` and (unless the provider
/// stamped them) with `received_at`; an act that may lift beats one that may not.
pub fn opt_in_covers(a: &Mark, b: &Mark) -> bool {
    a.time_source == b.time_source
        && a.occurred_at >= b.occurred_at
        && (a.time_source == TimeSource::Provider || a.received_at >= b.received_at)
        && (a.may_lift() || !b.may_lift())
        && (a.answers_reviews() || !b.answers_reviews())
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
            recorded_at: Some(at),
            source: Source::SmsKeyword,
            keyword: None,
            override_opt_out: false,
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
    fn an_opt_in_received_before_the_opt_out_never_lifts_it() {
        // Rule 1's example: an opt-in recorded at 08:00; at 11:00 an opt-out is recorded that
        // says it happened at 07:00. The opt-in is later by the clocks, but Stopgate had it first.
        let mut written = mark("in", 8 * 3600, TimeSource::Receipt);
        written.source = Source::SmsKeyword;
        let mut late_opt_out = mark("out", 7 * 3600, TimeSource::Client);
        late_opt_out.received_at += Duration::hours(4);
        assert!(!lifts(&written, &late_opt_out));
        // The same opt-in, had Stopgate received it after the opt-out, lifts it.
        let mut after = written.clone();
        after.received_at = late_opt_out.received_at + Duration::seconds(1);
        after.occurred_at = after.received_at;
        assert!(lifts(&after, &late_opt_out));
        // A client-stamped opt-in received after the opt-out still needs the later time.
        let mut client = mark("c", 6 * 3600, TimeSource::Client);
        client.received_at = late_opt_out.received_at + Duration::minutes(5);
        client.override_opt_out = true;
        assert!(!lifts(&client, &late_opt_out));
        client.occurred_at = late_opt_out.occurred_at + Duration::minutes(10);
        assert!(lifts(&client, &late_opt_out));
    }

    #[test]
    fn only_the_persons_act_or_a_documented_override_may_lift() {
        let stop = mark("a", 0, TimeSource::Receipt);
        for source in [
            Source::Api,
            Source::Import,
            Source::WebForm,
            Source::Paper,
            Source::Verbal,
            Source::Email,
            Source::PhoneCall,
        ] {
            let mut opt_in = mark("b", 600, TimeSource::Receipt);
            opt_in.source = source;
            assert!(!lifts(&opt_in, &stop), "{source:?}");
            opt_in.override_opt_out = true;
            assert!(
                lifts(&opt_in, &stop),
                "{source:?} documented as an override"
            );
        }
        for source in [Source::SmsKeyword, Source::Provider, Source::WebPreferences] {
            let mut opt_in = mark("b", 600, TimeSource::Receipt);
            opt_in.source = source;
            assert!(lifts(&opt_in, &stop), "{source:?}");
        }
    }
}
