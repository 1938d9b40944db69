//! Property tests of the fold: delivery order never changes the state, and the compact state
//! decides exactly as the rules applied to the full list of events would.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::decision::{CheckReason, DecisionInput, decide};
use super::event::*;
use super::ordering::SKEW_WINDOW;
use super::policy::TenantPolicy;
use super::scope::{Scope, SendContext, SenderDirectory, SenderGroup, StopScope};
use super::state::{FacetScope, NumberState};
use crate::phone::E164;

const SENDERS: [&str; 4] = [
    "+14155550100",
    "+14155550101",
    "+14155550102",
    "+14155550199",
];

fn directory() -> SenderDirectory {
    SenderDirectory {
        groups: vec![
            SenderGroup {
                name: "alerts".into(),
                senders: vec![SENDERS[0].into(), SENDERS[1].into()],
                program: Some("fraud".into()),
                brand: Some("bank".into()),
                ..Default::default()
            },
            SenderGroup {
                name: "deals".into(),
                senders: vec![SENDERS[2].into()],
                program: Some("deals".into()),
                brand: Some("bank".into()),
                ..Default::default()
            },
        ],
    }
}

fn scope_strategy() -> impl Strategy<Value = Option<Scope>> {
    prop_oneof![
        4 => Just(None),
        1 => Just(Some(Scope::Tenant)),
        1 => Just(Some(Scope::Brand("bank".into()))),
        1 => Just(Some(Scope::Program("fraud".into()))),
        1 => Just(Some(Scope::Group("deals".into()))),
        1 => Just(Some(Scope::Sender(SENDERS[3].into()))),
    ]
}

prop_compose! {
    fn event_strategy()(
        kind in prop_oneof![3 => Just(EventKind::OptOut), 3 => Just(EventKind::OptIn), 1 => Just(EventKind::Inbound),
                            1 => Just(EventKind::Grant), 1 => Just(EventKind::Revoke)],
        sender in 0..SENDERS.len(),
        // A coarse grid makes ties and the two-minute window common.
        occurred in 0i64..20,
        receipt_delay in 0i64..4,
        time_source in prop_oneof![Just(TimeSource::Provider), Just(TimeSource::Receipt), Just(TimeSource::Client)],
        scope in scope_strategy(),
        category in prop_oneof![Just(Category::Conversational), Just(Category::Informational), Just(Category::Promotional)],
        level in prop_oneof![Just(ConsentLevel::Express), Just(ConsentLevel::ExpressWritten)],
        source in prop_oneof![4 => Just(Source::SmsKeyword), 1 => Just(Source::Provider), 1 => Just(Source::Api),
                              1 => Just(Source::Import), 1 => Just(Source::WebForm)],
        override_opt_out in prop::bool::weighted(0.3),
        id in any::<u64>(),
    ) -> ConsentEvent {
        let base = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap_or_default();
        let occurred_at = base + Duration::seconds(occurred * 30);
        let received_at = if time_source == TimeSource::Receipt { occurred_at } else { occurred_at + Duration::seconds(receipt_delay * 45) };
        let named_scope = match kind {
            EventKind::Grant | EventKind::Revoke => Some(scope.unwrap_or(Scope::Tenant)),
            EventKind::Inbound => None,
            _ => scope,
        };
        let directory = directory();
        let placement = directory.placement(SENDERS[sender]);
        ConsentEvent {
            event_id: EventId(format!("{id:020}")),
            tenant: "t".into(),
            phone: E164::parse_e164("+14155550123").unwrap(),
            kind,
            category: matches!(kind, EventKind::Grant | EventKind::Revoke).then_some(category),
            level: (kind == EventKind::Grant).then_some(level),
            scope: named_scope,
            origin: Origin {
                sender: Some(SENDERS[sender].into()),
                sender_group: match placement.group { Scope::Group(g) => Some(g), _ => None },
                program: placement.program,
                brand: placement.brand,
                ..Origin::default()
            },
            source,
            occurred_at,
            time_source,
            received_at,
            recorded_at: received_at,
            actor: Actor::Person,
            evidence: EvidenceRefs::default(),
            override_opt_out: override_opt_out && matches!(kind, EventKind::OptIn | EventKind::Grant),
            review: None,
            location: None,
        }
    }
}

fn fold(events: &[ConsentEvent]) -> NumberState {
    let mut state = NumberState::default();
    for e in events {
        state.apply(e);
    }
    state
}

/// Rules 1 and 2 as docs/rules.md words them, written apart from `ordering::lifts`: only the
/// person's act (a keyword, the provider reporting one, a preference from a verified number) or
/// written consent documented as an override lifts; it must be later by the clocks (strictly,
/// when the provider stamped both; by two minutes otherwise) and, unless the provider stamped
/// it, received after the opt-out was.
fn reference_lifts(opt_in: &ConsentEvent, opt_out: &ConsentEvent) -> bool {
    let persons_act = opt_in.override_opt_out
        || matches!(
            opt_in.source,
            Source::SmsKeyword | Source::Provider | Source::WebPreferences
        );
    let gap = opt_in.occurred_at - opt_out.occurred_at;
    let later = if opt_in.time_source == TimeSource::Provider
        && opt_out.time_source == TimeSource::Provider
    {
        gap > Duration::zero()
    } else {
        gap >= SKEW_WINDOW
    };
    let received_after =
        opt_in.time_source == TimeSource::Provider || opt_in.received_at > opt_out.received_at;
    persons_act && later && received_after
}

/// The rules applied directly to every event: opted out when some opt-out covering the send is
/// lifted by no opt-in covering it.
fn reference_opted_out(
    events: &[ConsentEvent],
    policy: &TenantPolicy,
    directory: &SenderDirectory,
    send: &SendContext,
) -> bool {
    let facet = |e: &ConsentEvent| FacetScope::of(e);
    let is_opt_in = |e: &ConsentEvent| {
        e.kind == EventKind::OptIn || (e.kind == EventKind::Grant && e.override_opt_out)
    };
    let opt_ins: Vec<&ConsentEvent> = events
        .iter()
        .filter(|e| is_opt_in(e) && facet(e).is_some_and(|f| f.allows(send, policy, directory)))
        .collect();
    events
        .iter()
        .filter(|e| {
            e.kind == EventKind::OptOut
                && facet(e).is_some_and(|f| f.denies(send, policy, directory).is_some())
        })
        .any(|x| !opt_ins.iter().any(|o| reference_lifts(o, x)))
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn every_delivery_order_folds_to_the_same_state(
        events in prop::collection::vec(event_strategy(), 1..14),
        shuffle_seed in any::<u64>(),
    ) {
        let mut sorted = events.clone();
        sorted.sort_by(|a, b| (a.occurred_at, a.received_at, &a.event_id).cmp(&(b.occurred_at, b.received_at, &b.event_id)));
        let mut shuffled = events.clone();
        // A deterministic shuffle from the seed keeps failures reproducible.
        let mut seed = shuffle_seed | 1;
        for i in (1..shuffled.len()).rev() {
            seed ^= seed << 13; seed ^= seed >> 7; seed ^= seed << 17;
            shuffled.swap(i, (seed % (i as u64 + 1)) as usize);
        }
        let mut reversed = events.clone();
        reversed.reverse();
        let expected = fold(&sorted);
        prop_assert_eq!(&fold(&shuffled), &expected);
        prop_assert_eq!(&fold(&reversed), &expected);
        prop_assert_eq!(&fold(&events), &expected);
    }

    #[test]
    fn the_compact_state_decides_as_the_full_history_would(
        events in prop::collection::vec(event_strategy(), 1..14),
    ) {
        let state = fold(&events);
        let directory = directory();
        let now = Utc.with_ymd_and_hms(2026, 3, 1, 10, 0, 0).single().unwrap_or_default();
        for stop_scope in [StopScope::Tenant, StopScope::Brand, StopScope::Program, StopScope::SenderGroup] {
            let policy = TenantPolicy { stop_scope, ..TenantPolicy::default() };
            for sender in SENDERS {
                for program in [None, Some("fraud"), Some("deals")] {
                    let send = SendContext::new(&directory, sender, program);
                    for category in Category::ALL {
                        let decision = decide(&DecisionInput { state: &state, policy: &policy, directory: &directory, send: &send, category, now, exemption: None, phone: &events[0].phone, send_at: None, location: None });
                        let expected = reference_opted_out(&events, &policy, &directory, &send);
                        prop_assert_eq!(decision.reason == CheckReason::OptedOut, expected,
                            "sender {} program {:?} policy {:?}", sender, program, stop_scope);
                        if expected { prop_assert!(!decision.allowed); }
                    }
                }
            }
        }
    }
}
