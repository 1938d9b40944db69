//! `make bench`: the per-request pure work of the two hot paths, each beside a baseline in the
//! same run (median of several rounds, nanoseconds per operation).
//!
//! - classify: Stopgate's classifier against the providers' own rule, an exact match of the
//!   whole message against a single-word list (what Twilio and Telnyx do), on the ten texts
//!   the earlier figures were measured with and on a mix of English, Spanish and Portuguese
//!   replies as they arrive (keywords, conversation, revocations in people's own words,
//!   traps, accents and emoji). Messages per second on one core are printed beside.
//! - decide: the check's decision over a number's state with a history of STOP/START from
//!   several sender groups, against a plain lookup in a set of opted-out numbers (a
//!   suppression list that knows nothing of scope, ordering or categories).

use std::collections::HashSet;
use std::hint::black_box;

use chrono::{Duration, TimeZone, Utc};
use stopgate::consent::{
    Actor, Category, ConsentEvent, DecisionInput, EventId, EventKind, EvidenceRefs, NumberState,
    Origin, SendContext, SenderDirectory, SenderGroup, Source, TenantPolicy, TimeSource, decide,
};
use stopgate::keywords;
use stopgate::phone::E164;

// The same texts as the release benchmark (`make bench`).
#[path = "../../dev/src/bin/bench/texts.rs"]
mod texts;
use texts::{ExactWordMatch, MIX, TEXTS};
#[path = "../../dev/src/bin/bench/timing.rs"]
mod timing;
use timing::per_op;

fn event(kind: EventKind, sender: &str, group: &str, minutes: i64) -> ConsentEvent {
    let at = Utc
        .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
        .single()
        .unwrap_or_default()
        + Duration::minutes(minutes);
    ConsentEvent {
        event_id: EventId::new(at),
        tenant: "bench".into(),
        phone: E164::from_stored("+14155550123").unwrap_or_else(|| unreachable!()),
        kind,
        category: None,
        level: None,
        scope: None,
        origin: Origin {
            sender: Some(sender.into()),
            sender_group: Some(group.into()),
            ..Origin::default()
        },
        source: Source::SmsKeyword,
        occurred_at: at,
        time_source: TimeSource::Receipt,
        received_at: at,
        recorded_at: at,
        actor: Actor::Person,
        evidence: EvidenceRefs::default(),
        override_opt_out: false,
        review: None,
        location: None,
        pending: None,
        confirms: None,
    }
}

fn main() {
    let baseline = ExactWordMatch::providers();
    let classify = per_op(15, 20_000, || {
        for t in TEXTS {
            black_box(keywords::classify(black_box(t)));
        }
    }) / TEXTS.len() as f64;
    let exact = per_op(15, 20_000, || {
        for t in TEXTS {
            black_box(baseline.is_stop(black_box(t)));
        }
    }) / TEXTS.len() as f64;
    let classify_mix = per_op(15, 10_000, || {
        for t in MIX {
            black_box(keywords::classify(black_box(t)));
        }
    }) / MIX.len() as f64;
    let exact_mix = per_op(15, 10_000, || {
        for t in MIX {
            black_box(baseline.is_stop(black_box(t)));
        }
    }) / MIX.len() as f64;

    let groups: Vec<SenderGroup> = (0..5)
        .map(|g| SenderGroup {
            name: format!("g{g}"),
            senders: vec![format!("+1415555010{g}")],
            program: Some(format!("p{g}")),
            brand: Some("acme".into()),
            ..Default::default()
        })
        .collect();
    let directory = SenderDirectory { groups };
    let mut state = NumberState::default();
    for i in 0..40 {
        let g = i % 5;
        let kind = if i % 3 == 0 {
            EventKind::OptOut
        } else if i % 3 == 1 {
            EventKind::OptIn
        } else {
            EventKind::Inbound
        };
        state.apply(&event(
            kind,
            &format!("+1415555010{g}"),
            &format!("g{g}"),
            i64::from(i) * 7,
        ));
    }
    let policy = TenantPolicy::default();
    let send = SendContext::new(&directory, "+14155550102", None);
    let phone = E164::from_stored("+14155550123").unwrap_or_else(|| unreachable!());
    let now = Utc
        .with_ymd_and_hms(2026, 1, 2, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let decision = per_op(15, 50_000, || {
        black_box(decide(black_box(&DecisionInput {
            state: &state,
            policy: &policy,
            directory: &directory,
            send: &send,
            category: Category::Conversational,
            now,
            exemption: None,
            phone: &phone,
            send_at: None,
            location: None,
        })));
    });
    let list: HashSet<String> = (0..100_000).map(|i| format!("+1415{i:07}")).collect();
    let lookup = per_op(15, 50_000, || {
        black_box(list.contains(black_box("+14155550123")));
    });

    println!(
        "{:<44} {:>12} {:>12}",
        "hot path (median ns per operation)", "stopgate", "baseline"
    );
    println!(
        "{:<44} {:>12.0} {:>12.0}",
        "classify one inbound text / exact word match", classify, exact
    );
    println!(
        "{:<44} {:>12.0} {:>12.0}",
        "classify, en/es/pt mix / exact word match", classify_mix, exact_mix
    );
    println!(
        "{:<44} {:>12.0} {:>12.0}",
        "decide a check (40-event state) / set lookup", decision, lookup
    );
    println!(
        "classifier on one core: {:.0} messages/s (the ten texts), {:.0} messages/s (the mix)",
        1e9 / classify,
        1e9 / classify_mix
    );
}
