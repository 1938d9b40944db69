//! Reconciliation with a provider's own opt-out list (docs/rules.md rule 10): what the provider
//! blocks that Stopgate did not know, what Stopgate has opted in that the provider still
//! blocks, and what Stopgate has opted out that the provider still accepts. Pure: the flow
//! (`flows::reconcile`) fetches the list and the numbers' states, and records the events.

use std::collections::{BTreeSet, HashMap};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

use super::decision::opt_outs_in_force;
use super::event::{
    Actor, ConsentEvent, EventId, EventKind, EvidenceRefs, Origin, Source, TimeSource,
};
use super::ordering::Mark;
use super::policy::TenantPolicy;
use super::scope::{Scope, SendContext, SenderDirectory};
use super::standing::{Status, by_scope, standings};
use super::state::NumberState;
use crate::phone::E164;
use crate::providers::optouts::ProviderOptOut;

/// An opt-out Stopgate recorded up to this long before the provider's time is the same one:
/// clocks and queues disagree by seconds (rule 1 uses the same margin).
pub const SAME_OPT_OUT: Duration = Duration::minutes(2);

/// The rule recorded in `origin.rule` of an opt-out found on a provider's list.
pub const RULE: &str = "provider_list";

/// What a provider's list says that Stopgate's ledger does not.
#[derive(Debug, Default)]
pub struct Comparison<'a> {
    /// Opt-outs Stopgate had not recorded, each with the event that records it.
    pub unknown: Vec<Unknown<'a>>,
    /// Listed at the provider, and opted in at Stopgate for that sender: sends will fail at the
    /// provider until the person lifts its block there (a Stopgate opt-in does not).
    pub blocked_at_provider: Vec<Blocked<'a>>,
    /// Opted out at Stopgate, and on no entry of the provider's complete list: only Stopgate's
    /// check stops a send there. Empty when the list was not complete.
    pub accepted_at_provider: Vec<Accepted<'a>>,
}

#[derive(Debug)]
pub struct Unknown<'a> {
    pub listed: &'a ProviderOptOut,
    pub event: ConsentEvent,
}

#[derive(Debug)]
pub struct Blocked<'a> {
    pub listed: &'a ProviderOptOut,
    /// The opt-in Stopgate holds for that sender, when one answers the scope.
    pub opted_in_by: Option<Mark>,
}

#[derive(Debug)]
pub struct Accepted<'a> {
    pub phone: &'a E164,
    /// The scopes the number is opted out in, as the tenant's policy reads them.
    pub scopes: Vec<Scope>,
    /// The latest opt-out in force.
    pub opted_out_by: Option<Mark>,
}

/// Compares `listed` (one provider's list; `complete` when every page was read and every
/// entry understood) with `states` (every number Stopgate holds a standing for, and every
/// listed number). Each opt-out Stopgate did not know is folded into a working copy of the
/// number's state as it is found, so a number listed for several senders is recorded only as
/// often as the tenant's scopes need.
pub fn compare<'a>(
    tenant: &str,
    listed: &'a [ProviderOptOut],
    complete: bool,
    states: &'a HashMap<E164, NumberState>,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
    now: DateTime<Utc>,
) -> Comparison<'a> {
    let mut comparison = Comparison::default();
    let mut working: HashMap<&E164, NumberState> = HashMap::new();
    let mut seen = BTreeSet::new();
    for entry in listed {
        if !seen.insert(dedupe_key(entry)) {
            continue;
        }
        let state = working
            .entry(&entry.phone)
            .or_insert_with(|| states.get(&entry.phone).cloned().unwrap_or_default());
        let reach = Reach::of(entry, directory);
        if reach.denied(state, policy, directory, now) {
            continue;
        }
        if reach.knows(state, entry, policy, directory) {
            comparison.blocked_at_provider.push(Blocked {
                listed: entry,
                opted_in_by: reach.opted_in_by(state, policy, directory),
            });
            continue;
        }
        let event = listed_opt_out(tenant, entry, directory, now);
        state.apply(&event);
        // An opt-in later than the provider's opt-out (rule 1) still lifts it at Stopgate.
        if !reach.denied(state, policy, directory, now) {
            comparison.blocked_at_provider.push(Blocked {
                listed: entry,
                opted_in_by: reach.opted_in_by(state, policy, directory),
            });
        }
        comparison.unknown.push(Unknown {
            listed: entry,
            event,
        });
    }
    if complete {
        let on_list: BTreeSet<&E164> = listed.iter().map(|e| &e.phone).collect();
        let mut accepted: Vec<Accepted<'a>> = states
            .iter()
            .filter(|(phone, _)| !on_list.contains(phone))
            .filter_map(|(phone, state)| {
                let rows: Vec<_> = by_scope(state, policy, directory)
                    .into_iter()
                    .filter(|r| r.status == Status::OptedOut)
                    .collect();
                let latest = rows
                    .iter()
                    .filter_map(|r| r.mark)
                    .max_by_key(|m| m.canonical_key())
                    .cloned();
                (!rows.is_empty()).then(|| Accepted {
                    phone,
                    scopes: rows.into_iter().map(|r| r.scope).collect(),
                    opted_out_by: latest,
                })
            })
            .collect();
        accepted.sort_by(|a, b| a.phone.cmp(b.phone));
        comparison.accepted_at_provider = accepted;
    }
    comparison
}

/// Which sends a listed opt-out is about: one sender's, or (a list that names no sender) every
/// send of the tenant.
enum Reach {
    Sender(Box<SendContext>),
    Everything,
}

impl Reach {
    fn of(entry: &ProviderOptOut, directory: &SenderDirectory) -> Reach {
        match &entry.sender {
            Some(sender) => Reach::Sender(Box::new(SendContext::new(directory, sender, None))),
            None => Reach::Everything,
        }
    }

    /// Does Stopgate deny these sends now?
    fn denied(
        &self,
        state: &NumberState,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
        now: DateTime<Utc>,
    ) -> bool {
        match self {
            Reach::Sender(send) => opt_outs_in_force(state, policy, directory, send, now)
                .next()
                .is_some(),
            Reach::Everything => standings(state, policy, directory)
                .iter()
                .any(|s| s.status == Status::OptedOut),
        }
    }

    /// Has Stopgate recorded this opt-out (or a later one) reaching these sends, in force or
    /// lifted since? Without the provider's time, any opt-out that reaches them counts.
    fn knows(
        &self,
        state: &NumberState,
        entry: &ProviderOptOut,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> bool {
        state
            .suppression
            .iter()
            .filter(|f| match self {
                Reach::Sender(send) => f.scope.denies(send, policy, directory).is_some(),
                Reach::Everything => true,
            })
            .flat_map(|f| &f.opt_outs)
            .any(|m| {
                entry
                    .listed_at
                    .is_none_or(|at| m.occurred_at >= at - SAME_OPT_OUT)
            })
    }

    /// The opt-in Stopgate relies on for these sends, if one answers a scope that reaches them.
    fn opted_in_by(
        &self,
        state: &NumberState,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> Option<Mark> {
        standings(state, policy, directory)
            .into_iter()
            .filter(|s| s.status == Status::OptedIn)
            .filter(|s| match self {
                Reach::Sender(send) => s.facet.scope.denies(send, policy, directory).is_some(),
                Reach::Everything => true,
            })
            .filter_map(|s| s.mark)
            .max_by_key(|m| m.canonical_key())
            .cloned()
    }
}

/// The opt-out that records a listed one: source `provider_list`, the provider in `origin`,
/// stamped with the provider's time when it gives one (else the time Stopgate read the list).
/// A list that names the sender places it as a STOP to that sender would be (its scope is the
/// tenant's policy, rule 3); a list that names none (AWS) reaches the whole tenant, since
/// Stopgate cannot tell which of the tenant's senders the list serves.
pub fn listed_opt_out(
    tenant: &str,
    listed: &ProviderOptOut,
    directory: &SenderDirectory,
    now: DateTime<Utc>,
) -> ConsentEvent {
    let (occurred_at, time_source) = match listed.listed_at {
        Some(at) => (at.min(now), TimeSource::Provider),
        None => (now, TimeSource::Receipt),
    };
    let mut origin = Origin {
        sender: listed.sender.clone(),
        pool: listed
            .pool
            .clone()
            .filter(|p| Some(p) != listed.sender.as_ref()),
        provider: Some(listed.provider.as_str().to_string()),
        provider_verdict: listed.provider_source.clone(),
        rule: Some(RULE.into()),
        ..Origin::default()
    };
    if let Some(sender) = &listed.sender {
        let mut placement = directory.placement(sender);
        if let (Scope::Sender(_), Some(pool)) = (&placement.group, &origin.pool) {
            let pooled = directory.placement(pool);
            if matches!(pooled.group, Scope::Group(_)) {
                placement = pooled;
            }
        }
        if let Scope::Group(name) = placement.group {
            origin.sender_group = Some(name);
        }
        origin.program = placement.program;
        origin.brand = placement.brand;
    }
    ConsentEvent {
        event_id: EventId::new(now),
        tenant: tenant.to_string(),
        phone: listed.phone.clone(),
        kind: EventKind::OptOut,
        category: None,
        level: None,
        scope: listed.sender.is_none().then_some(Scope::Tenant),
        origin,
        source: Source::ProviderList,
        occurred_at,
        time_source,
        received_at: now,
        recorded_at: now,
        actor: Actor::System {
            reason: format!("reconciliation with {}", listed.provider),
        },
        evidence: EvidenceRefs::default(),
        override_opt_out: false,
        review: None,
        location: None,
        pending: None,
        confirms: None,
    }
}

/// The dedupe key of a listed opt-out (namespace `reconcile`): the same entry read again,
/// by a later run or a concurrent one, records nothing; a new opt-out of the same pair (a later
/// time) is a new key. Hashed, so the key is short and holds no `#`.
pub fn dedupe_key(listed: &ProviderOptOut) -> String {
    let line = [
        listed.provider.as_str(),
        listed.sender.as_deref().unwrap_or("*"),
        listed.pool.as_deref().unwrap_or("*"),
        listed.phone.as_str(),
        &listed
            .listed_at
            .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_else(|| "-".into()),
    ]
    .join("\n");
    hex::encode(Sha256::digest(line.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{SenderGroup, StopScope};
    use crate::providers::Provider;
    use crate::testing::events::{BUSINESS, PERSON, event, minutes};

    const OTHER: &str = "+14155550199";

    fn phone(n: &str) -> E164 {
        E164::from_stored(n).unwrap()
    }

    fn listed(sender: Option<&str>, person: &str, at: Option<i64>) -> ProviderOptOut {
        ProviderOptOut {
            provider: Provider::Telnyx,
            sender: sender.map(str::to_string),
            pool: None,
            phone: phone(person),
            listed_at: at.map(minutes),
            provider_source: Some("STOP".into()),
        }
    }

    fn fold(events: &[ConsentEvent]) -> NumberState {
        let mut state = NumberState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    fn states(pairs: Vec<(&str, NumberState)>) -> HashMap<E164, NumberState> {
        pairs.into_iter().map(|(p, s)| (phone(p), s)).collect()
    }

    fn sender_groups() -> (TenantPolicy, SenderDirectory) {
        let policy = TenantPolicy {
            stop_scope: StopScope::SenderGroup,
            ..TenantPolicy::default()
        };
        let directory = SenderDirectory {
            groups: vec![
                SenderGroup::new("alerts", &[BUSINESS]),
                SenderGroup::new("deals", &[OTHER]),
            ],
        };
        (policy, directory)
    }

    #[test]
    fn an_opt_out_stopgate_never_saw_is_recorded_once_as_the_providers() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let list = vec![
            listed(Some(BUSINESS), PERSON, Some(10)),
            // The same entry on two pages, and the same person for another sender, which the
            // first opt-out (tenant-wide by default) already reaches.
            listed(Some(BUSINESS), PERSON, Some(10)),
            listed(Some(OTHER), PERSON, Some(12)),
        ];
        let states = states(vec![(PERSON, NumberState::default())]);
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.unknown.len(), 1, "{c:#?}");
        let e = &c.unknown[0].event;
        assert_eq!(
            (e.kind, e.source),
            (EventKind::OptOut, Source::ProviderList)
        );
        assert_eq!(e.origin.provider.as_deref(), Some("telnyx"));
        assert_eq!(e.origin.sender.as_deref(), Some(BUSINESS));
        assert_eq!(
            (e.occurred_at, e.time_source),
            (minutes(10), TimeSource::Provider)
        );
        assert_eq!(e.received_at, minutes(60));
        assert!(c.blocked_at_provider.is_empty());
        assert!(c.accepted_at_provider.is_empty());
    }

    #[test]
    fn a_listed_opt_out_stopgate_holds_in_force_is_nothing_new() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        // Stopgate's STOP came through the webhook a second after the provider's time.
        let stop = event(EventKind::OptOut).at(minutes(10)).build();
        let states = states(vec![(PERSON, fold(&[stop]))]);
        let list = vec![listed(Some(BUSINESS), PERSON, Some(10))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert!(
            c.unknown.is_empty() && c.blocked_at_provider.is_empty(),
            "{c:#?}"
        );
    }

    #[test]
    fn a_stopgate_opt_in_does_not_lift_the_providers_block_it_is_reported() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let stop = event(EventKind::OptOut).at(minutes(10)).build();
        // START to another sender reaches the whole tenant (default stop scope), so Stopgate
        // allows again; the provider still blocks BUSINESS, where the person never wrote START.
        let start = event(EventKind::OptIn)
            .sender(OTHER)
            .at(minutes(30))
            .keyword("start")
            .build();
        let start_id = start.event_id.clone();
        let states = states(vec![(PERSON, fold(&[stop, start]))]);
        let list = vec![listed(Some(BUSINESS), PERSON, Some(10))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert!(c.unknown.is_empty(), "known: nothing to record ({c:#?})");
        assert_eq!(c.blocked_at_provider.len(), 1);
        assert_eq!(
            c.blocked_at_provider[0]
                .opted_in_by
                .as_ref()
                .map(|m| &m.event_id),
            Some(&start_id)
        );
    }

    #[test]
    fn a_newer_provider_opt_out_after_a_lifted_one_is_recorded() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let stop = event(EventKind::OptOut).at(minutes(10)).build();
        let start = event(EventKind::OptIn)
            .at(minutes(30))
            .keyword("start")
            .build();
        let states = states(vec![(PERSON, fold(&[stop, start]))]);
        // A second STOP at minute 50 that Stopgate missed: not the one it knows.
        let list = vec![listed(Some(BUSINESS), PERSON, Some(50))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.unknown.len(), 1, "{c:#?}");
        assert!(
            c.blocked_at_provider.is_empty(),
            "the new opt-out is in force"
        );
    }

    #[test]
    fn a_provider_opt_out_older_than_a_person_s_provider_stamped_start_is_recorded_and_reported() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        // Telnyx STARTs are provider-stamped; this one is later than the listed opt-out, so
        // it lifts it at Stopgate (rule 1), while the provider still lists the block.
        let start = event(EventKind::OptIn)
            .at(minutes(30))
            .time_source(TimeSource::Provider)
            .keyword("start")
            .build();
        let states = states(vec![(PERSON, fold(&[start]))]);
        let list = vec![listed(Some(BUSINESS), PERSON, Some(10))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.unknown.len(), 1);
        assert_eq!(c.blocked_at_provider.len(), 1, "{c:#?}");
    }

    #[test]
    fn a_senders_opt_out_reaches_what_the_tenants_policy_says_and_no_further() {
        let (policy, directory) = sender_groups();
        // Stopgate holds an opt-out for the deals group only.
        let stop = event(EventKind::OptOut)
            .sender(OTHER)
            .group("deals")
            .at(minutes(10))
            .build();
        let states = states(vec![(PERSON, fold(&[stop]))]);
        // The provider blocks the person from BUSINESS (alerts): Stopgate did not know that.
        let list = vec![listed(Some(BUSINESS), PERSON, Some(5))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.unknown.len(), 1, "{c:#?}");
        assert_eq!(
            c.unknown[0].event.origin.sender_group.as_deref(),
            Some("alerts")
        );
    }

    #[test]
    fn a_list_without_senders_reaches_the_whole_tenant() {
        let (policy, directory) = sender_groups();
        let mut entry = listed(None, PERSON, Some(10));
        entry.provider = Provider::Aws;
        let list = vec![entry];
        let states = states(vec![]);
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.unknown.len(), 1);
        assert_eq!(c.unknown[0].event.scope, Some(Scope::Tenant));
        assert_eq!(c.unknown[0].event.origin.provider.as_deref(), Some("aws"));
    }

    #[test]
    fn numbers_opted_out_at_stopgate_and_absent_from_a_complete_list_are_accepted_there() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let listed_person = "+14155550124";
        let stop = event(EventKind::OptOut).at(minutes(10)).build();
        let stop_id = stop.event_id.clone();
        let lifted = [
            event(EventKind::OptOut)
                .phone(&phone("+14155550125"))
                .at(minutes(1))
                .build(),
            event(EventKind::OptIn)
                .phone(&phone("+14155550125"))
                .at(minutes(20))
                .keyword("start")
                .build(),
        ];
        let listed_stop = event(EventKind::OptOut)
            .phone(&phone(listed_person))
            .at(minutes(10))
            .build();
        let states = states(vec![
            (PERSON, fold(&[stop])),
            ("+14155550125", fold(&lifted)),
            (listed_person, fold(&[listed_stop])),
        ]);
        let list = vec![listed(Some(BUSINESS), listed_person, Some(10))];
        let c = compare("t", &list, true, &states, &policy, &directory, minutes(60));
        assert_eq!(c.accepted_at_provider.len(), 1, "{c:#?}");
        let accepted = &c.accepted_at_provider[0];
        assert_eq!(accepted.phone.as_str(), PERSON);
        assert_eq!(accepted.scopes, vec![Scope::Tenant]);
        assert_eq!(
            accepted.opted_out_by.as_ref().map(|m| &m.event_id),
            Some(&stop_id)
        );

        // A list Stopgate could not read to the end proves nothing about absences.
        let partial = compare("t", &list, false, &states, &policy, &directory, minutes(60));
        assert!(partial.accepted_at_provider.is_empty());
    }

    #[test]
    fn the_dedupe_key_tells_apart_a_new_opt_out_of_the_same_pair() {
        let a = listed(Some(BUSINESS), PERSON, Some(10));
        let b = listed(Some(BUSINESS), PERSON, Some(50));
        assert_eq!(dedupe_key(&a), dedupe_key(&a.clone()));
        assert_ne!(dedupe_key(&a), dedupe_key(&b));
        assert_eq!(dedupe_key(&a).len(), 64);
        assert!(!dedupe_key(&a).contains(PERSON));
    }
}
