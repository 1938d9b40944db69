//! Property tests of the fold: delivery order never changes the state, and the compact state
//! decides exactly as the rules applied to the full list of events would — including pending
//! consents (docs/rules.md rule 9), which never allow, stay open 24 hours unless confirmed, and
//! once confirmed count as the grants (and, for a resume, the opt-in) they asked for.

use chrono::{Duration, TimeZone, Utc};
use proptest::prelude::*;

use super::decision::{CheckReason, DecisionInput, Exemption, Purpose, decide};
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
                            1 => Just(EventKind::Grant), 1 => Just(EventKind::Revoke),
                            2 => Just(EventKind::PendingConsent), 2 => Just(EventKind::ConsentConfirmed)],
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
        // Pending consents and their confirmations spread over days, so some expire.
        half_days in 0i64..4,
        second_category in prop::option::of(prop_oneof![Just(Category::Informational), Just(Category::Promotional)]),
        resume in prop::bool::weighted(0.3),
        page_source in prop_oneof![Just(Source::WebForm), Just(Source::WebPreferences)],
    ) -> ConsentEvent {
        let base = Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0).single().unwrap_or_default();
        let double_opt_in = matches!(kind, EventKind::PendingConsent | EventKind::ConsentConfirmed);
        let spread = if double_opt_in { Duration::hours(13 * half_days) } else { Duration::zero() };
        let occurred_at = base + spread + Duration::seconds(occurred * 30);
        let received_at = if time_source == TimeSource::Receipt { occurred_at } else { occurred_at + Duration::seconds(receipt_delay * 45) };
        let named_scope = match kind {
            EventKind::Grant | EventKind::Revoke => Some(scope.unwrap_or(Scope::Tenant)),
            EventKind::PendingConsent | EventKind::ConsentConfirmed => Some(scope.unwrap_or(Scope::Tenant)),
            EventKind::Inbound => None,
            _ => scope,
        };
        let directory = directory();
        let placement = directory.placement(SENDERS[sender]);
        // A page's consent: the categories checked at a level, or (a preference page's resume)
        // the lifting of an opt-out; the YES must go to the sender's group.
        let consent = PendingConsent {
            categories: if resume { Vec::new() } else {
                let mut c = vec![category];
                c.extend(second_category.filter(|s| *s != category));
                c
            },
            level: (!resume).then_some(level),
            opt_in: resume,
            confirm_to: placement.group.clone(),
        };
        let (source, time_source, received_at) = match kind {
            // Pages are receipt-stamped; a confirmation has the YES's clock.
            EventKind::PendingConsent => (if resume { Source::WebPreferences } else { page_source }, TimeSource::Receipt, occurred_at),
            EventKind::ConsentConfirmed => (if resume { Source::WebPreferences } else { page_source },
                if time_source == TimeSource::Client { TimeSource::Receipt } else { time_source },
                if time_source == TimeSource::Provider { received_at } else { occurred_at }),
            _ => (source, time_source, received_at),
        };
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
            pending: (kind == EventKind::PendingConsent).then(|| consent.clone()),
            confirms: (kind == EventKind::ConsentConfirmed).then(|| Confirmation {
                pending_event_id: EventId(format!("{:020}", id / 2)),
                pending_received_at: occurred_at - Duration::hours(1),
                consent,
            }),
        }
    }
}

/// Events where most confirmations confirm a pending consent of the same list (as a YES does,
/// taking its scope and what it asked for), and some confirm one that never arrives.
fn events_strategy() -> impl Strategy<Value = Vec<ConsentEvent>> {
    (prop::collection::vec(event_strategy(), 1..14), any::<u64>()).prop_map(|(mut events, pick)| {
        // Event ids are unique (ULIDs); the generator's may collide.
        let mut seen = std::collections::HashSet::new();
        events.retain(|e| seen.insert(e.event_id.clone()));
        let pendings: Vec<ConsentEvent> = events
            .iter()
            .filter(|e| e.kind == EventKind::PendingConsent)
            .cloned()
            .collect();
        for (i, event) in events.iter_mut().enumerate() {
            let Some(confirms) = event.confirms.as_mut() else {
                continue;
            };
            let choice = (pick as usize).wrapping_add(i) % (pendings.len() + 1);
            if let Some(pending) = pendings.get(choice) {
                confirms.pending_event_id = pending.event_id.clone();
                confirms.pending_received_at = pending.received_at;
                confirms.consent = pending.pending.clone().unwrap_or(confirms.consent.clone());
                event.scope = pending.scope.clone();
                event.source = pending.source;
            }
        }
        events
    })
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
        e.kind == EventKind::OptIn
            || (e.kind == EventKind::Grant && e.override_opt_out)
            || e.confirms.as_ref().is_some_and(|c| c.consent.opt_in)
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

/// Rule 9 as docs/rules.md words it, from the full list: a pending consent is open for 24 hours
/// from its receipt, unless a confirmation names it; the YES goes to the group it names.
fn reference_open_pending(
    events: &[ConsentEvent],
    group: &Scope,
    at: chrono::DateTime<Utc>,
) -> Vec<String> {
    let mut open: Vec<String> = events
        .iter()
        .filter(|e| e.kind == EventKind::PendingConsent)
        .filter(|e| e.pending.as_ref().is_some_and(|p| p.confirm_to == *group))
        .filter(|e| e.received_at <= at && at <= e.received_at + Duration::hours(24))
        .filter(|e| {
            !events.iter().any(|c| {
                c.confirms
                    .as_ref()
                    .is_some_and(|c| c.pending_event_id == e.event_id)
            })
        })
        .map(|e| e.event_id.to_string())
        .collect();
    open.sort();
    open.dedup();
    open
}

/// The same history with what pages record spelt as the API's events: no pending consents (they
/// never allow), and each confirmation as a grant per category (and an opt-in for a resume) of
/// the same time, scope and source.
fn as_plain_grants(events: &[ConsentEvent]) -> Vec<ConsentEvent> {
    events
        .iter()
        .flat_map(|e| match (e.kind, &e.confirms) {
            (EventKind::PendingConsent, _) => Vec::new(),
            (EventKind::ConsentConfirmed, Some(c)) => {
                let plain = |kind, category, level| ConsentEvent {
                    kind,
                    category,
                    level,
                    confirms: None,
                    ..e.clone()
                };
                let mut out: Vec<ConsentEvent> = c
                    .consent
                    .categories
                    .iter()
                    .filter(|_| c.consent.level.is_some())
                    .map(|category| plain(EventKind::Grant, Some(*category), c.consent.level))
                    .collect();
                if c.consent.opt_in {
                    out.push(plain(EventKind::OptIn, None, None));
                }
                out
            }
            _ => vec![e.clone()],
        })
        .collect()
}

/// Times a state is judged at: never before an event it holds arrived (a check is answered now;
/// a YES is judged as it is recorded), and on both sides of the 24-hour windows.
fn judged_at(events: &[ConsentEvent]) -> Vec<chrono::DateTime<Utc>> {
    let latest = events
        .iter()
        .map(|e| e.received_at)
        .max()
        .unwrap_or_default();
    [0, 60, 12 * 60, 24 * 60 - 1, 25 * 60]
        .into_iter()
        .map(|m| latest + Duration::minutes(m))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn every_delivery_order_folds_to_the_same_state(
        events in events_strategy(),
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
        events in events_strategy(),
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

    #[test]
    fn pending_consents_open_expire_and_confirm_as_the_full_history_says(
        events in events_strategy(),
    ) {
        let state = fold(&events);
        let groups = [Scope::Group("alerts".into()), Scope::Group("deals".into()), Scope::Sender(SENDERS[3].into())];
        for at in judged_at(&events) {
            for group in &groups {
                let mut open: Vec<String> = state.open_pending(group, at).map(|p| p.mark.event_id.to_string()).collect();
                open.sort();
                prop_assert_eq!(open, reference_open_pending(&events, group, at), "group {} at {}", group, at);
            }
        }
    }

    #[test]
    fn pending_consents_never_allow_and_confirmations_count_as_the_grants_they_carry(
        events in events_strategy(),
    ) {
        let state = fold(&events);
        let plain = fold(&as_plain_grants(&events));
        let directory = directory();
        let pending_ids: Vec<&EventId> = events.iter().filter(|e| e.kind == EventKind::PendingConsent).map(|e| &e.event_id).collect();
        for now in judged_at(&events) {
            let policy = TenantPolicy::default();
            for sender in SENDERS {
                let send = SendContext::new(&directory, sender, None);
                for category in Category::ALL {
                    let input = |state, exemption| DecisionInput { state, policy: &policy, directory: &directory, send: &send, category, now, exemption, phone: &events[0].phone, send_at: None, location: None };
                    let decision = decide(&input(&state, None));
                    let expected = decide(&input(&plain, None));
                    prop_assert_eq!((decision.allowed, decision.reason), (expected.allowed, expected.reason), "sender {} {:?} at {}", sender, category, now);
                    if let Some(evidence) = &decision.evidence {
                        prop_assert!(!pending_ids.iter().any(|id| id.as_str() == evidence.event_id), "a pending consent decided");
                    }
                    // The request to confirm: only for an open pending consent, from its group,
                    // never over an opt-out, never promotional.
                    for id in &pending_ids {
                        let exemption = Some(Exemption { purpose: Purpose::DoubleOptInRequest, reply_to: id.as_str() });
                        let answered = decide(&input(&state, exemption));
                        let open = reference_open_pending(&events, &send.placement.group, now).iter().any(|o| o == id.as_str());
                        let opted_out = reference_opted_out(&events, &policy, &directory, &send);
                        let expected = open && !opted_out && category != Category::Promotional;
                        prop_assert_eq!(answered.reason == CheckReason::DoubleOptInRequest, expected,
                            "request for {} from {} {:?} at {}", id, sender, category, now);
                        prop_assert_eq!(answered.allowed, expected || decision.allowed);
                    }
                }
            }
        }
    }
}
