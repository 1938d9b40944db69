//! A number's standing in each scope it has a suppression facet for, apart from any one send:
//! what lookup, the opt-out list and exports show. An opt-out stands unless an opt-in lifts it
//! (rules 1 and 2) from a scope that holds everything the opt-out reaches (rule 3).
//!
//! Lookup shows each facet ([`standings`]). The opt-out list and exports show one row per scope
//! as the tenant's current policy reads it ([`by_scope`]): facets that read as the same scope
//! (a keyword STOP under a tenant-wide stop scope and a consent recorded for `tenant`) make one
//! row, opted out if any of them is, and each row says when Stopgate last recorded a change
//! to what decides it (docs/data-model.md, "Exports").

use std::collections::BTreeMap;

use serde::Serialize;

use super::ordering::{Mark, lifts};
use super::policy::TenantPolicy;
use super::scope::{Scope, SenderDirectory};
use super::state::{NumberState, SuppressionFacet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    OptedOut,
    OptedIn,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::OptedOut => "opted_out",
            Status::OptedIn => "opted_in",
        }
    }
}

/// One facet's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Standing<'a> {
    pub facet: &'a SuppressionFacet,
    pub status: Status,
    /// The record the status rests on: the opt-out in force, or the latest opt-in that answers
    /// this facet.
    pub mark: Option<&'a Mark>,
}

/// Every facet's standing, in the state's order.
pub fn standings<'a>(
    state: &'a NumberState,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Vec<Standing<'a>> {
    state
        .suppression
        .iter()
        .map(|facet| decide(state, facet, policy, directory).0)
        .collect()
}

/// A facet's standing, and the opt-ins that may answer its opt-outs: its own and those of every
/// facet whose scope holds everything its opt-outs reach.
fn decide<'a>(
    state: &'a NumberState,
    facet: &'a SuppressionFacet,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> (Standing<'a>, Vec<&'a Mark>) {
    let opt_ins: Vec<&Mark> = state
        .suppression
        .iter()
        .filter(|other| other.scope.covers(&facet.scope, policy, directory))
        .flat_map(|other| other.opt_ins.iter())
        .collect();
    let in_force = facet
        .opt_outs
        .iter()
        .filter(|x| !opt_ins.iter().any(|o| lifts(o, x)))
        .max_by_key(|m| m.canonical_key());
    let standing = match in_force {
        Some(opt_out) => Standing {
            facet,
            status: Status::OptedOut,
            mark: Some(opt_out),
        },
        None => Standing {
            facet,
            status: Status::OptedIn,
            mark: opt_ins.iter().copied().max_by_key(|m| m.canonical_key()),
        },
    };
    (standing, opt_ins)
}

/// A number's standing in one scope as the tenant's current policy reads it: one row of the
/// opt-out list and of an export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeStanding<'a> {
    pub scope: Scope,
    /// Opted out if any facet that reads as this scope is (wide on the deny side).
    pub status: Status,
    /// The record the status rests on: the latest opt-out in force, or the latest opt-in that
    /// answers the scope.
    pub mark: Option<&'a Mark>,
    /// Of every record the status is decided from (the facets' opt-outs, and the opt-ins that
    /// may answer them, wherever recorded), the one Stopgate committed last: its `recorded_at`
    /// is when the row last changed, and its change-index entry is where readers of the index
    /// meet the row ([`Mark::index_key`]).
    pub changed: &'a Mark,
}

/// One row per scope, in scope order.
pub fn by_scope<'a>(
    state: &'a NumberState,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Vec<ScopeStanding<'a>> {
    struct Group<'a> {
        opted_out: Vec<&'a Mark>,
        opted_in: Vec<&'a Mark>,
        changed: Option<&'a Mark>,
    }
    let mut groups: BTreeMap<Scope, Group<'a>> = BTreeMap::new();
    for facet in &state.suppression {
        let (standing, opt_ins) = decide(state, facet, policy, directory);
        let group = groups
            .entry(facet.scope.label(policy, directory))
            .or_insert_with(|| Group {
                opted_out: Vec::new(),
                opted_in: Vec::new(),
                changed: None,
            });
        match standing.status {
            Status::OptedOut => group.opted_out.extend(standing.mark),
            Status::OptedIn => group.opted_in.extend(standing.mark),
        }
        for mark in facet.opt_outs.iter().chain(opt_ins) {
            if group
                .changed
                .is_none_or(|c| mark.index_key() > c.index_key())
            {
                group.changed = Some(mark);
            }
        }
    }
    groups
        .into_iter()
        .filter_map(|(scope, group)| {
            let (status, marks) = if group.opted_out.is_empty() {
                (Status::OptedIn, group.opted_in)
            } else {
                (Status::OptedOut, group.opted_out)
            };
            Some(ScopeStanding {
                scope,
                status,
                mark: marks.into_iter().max_by_key(|m| m.canonical_key()),
                changed: group.changed?,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{
        Category, ConsentEvent, ConsentLevel, EventKind, Scope, SenderGroup, Source, StopScope,
        TimeSource,
    };
    use crate::testing::events::{BUSINESS, event, minutes};

    fn fold(events: &[&ConsentEvent]) -> NumberState {
        let mut state = NumberState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    /// (scope, status, the event the status rests on, the event of the latest change).
    fn rows(
        state: &NumberState,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> Vec<(String, Status, String, String)> {
        by_scope(state, policy, directory)
            .into_iter()
            .map(|r| {
                (
                    r.scope.to_string(),
                    r.status,
                    r.mark.map(|m| m.event_id.to_string()).unwrap_or_default(),
                    r.changed.event_id.to_string(),
                )
            })
            .collect()
    }

    fn written_override(at: i64) -> ConsentEvent {
        event(EventKind::Grant)
            .at(minutes(at))
            .api(Scope::Tenant, Source::WebForm)
            .consent(Category::Promotional, Some(ConsentLevel::ExpressWritten))
            .disclosure("aa")
            .override_opt_out()
            .build()
    }

    #[test]
    fn an_override_grant_that_lifts_a_keyword_stop_leaves_the_number_opted_in_once_per_scope() {
        let stop = event(EventKind::OptOut).at(minutes(0)).build();
        let grant = written_override(10);
        let state = fold(&[&stop, &grant]);
        let (id, stop_id) = (grant.event_id.to_string(), stop.event_id.to_string());

        // Tenant-wide STOPs: the keyword's facet and the grant's both read `tenant`: one row.
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        assert_eq!(
            rows(&state, &policy, &directory),
            vec![("tenant".into(), Status::OptedIn, id.clone(), id.clone())]
        );
        assert_eq!(
            rows(&fold(&[&stop]), &policy, &directory),
            vec![("tenant".into(), Status::OptedOut, stop_id.clone(), stop_id)]
        );

        // STOPs per sender group: the keyword's row is its group's, changed by the grant that
        // lifted it; the grant has a row of its own.
        let policy = TenantPolicy {
            stop_scope: StopScope::SenderGroup,
            ..TenantPolicy::default()
        };
        let directory = SenderDirectory {
            groups: vec![SenderGroup::new("alerts", &[BUSINESS])],
        };
        assert_eq!(
            rows(&state, &policy, &directory),
            vec![
                ("tenant".into(), Status::OptedIn, id.clone(), id.clone()),
                ("group:alerts".into(), Status::OptedIn, id.clone(), id),
            ]
        );
    }

    #[test]
    fn facets_that_read_as_one_scope_make_one_row_opted_out_if_any_is() {
        // A web-form opt-in for the tenant (it lifts nothing), then a tenant-wide STOP.
        let form = event(EventKind::OptIn)
            .at(minutes(0))
            .api(Scope::Tenant, Source::WebForm)
            .build();
        let stop = event(EventKind::OptOut).at(minutes(10)).build();
        let state = fold(&[&form, &stop]);
        let facets: Vec<Status> = standings(
            &state,
            &TenantPolicy::default(),
            &SenderDirectory::default(),
        )
        .iter()
        .map(|s| s.status)
        .collect();
        assert_eq!(facets, vec![Status::OptedIn, Status::OptedOut]);
        let id = stop.event_id.to_string();
        assert_eq!(
            rows(
                &state,
                &TenantPolicy::default(),
                &SenderDirectory::default()
            ),
            vec![("tenant".into(), Status::OptedOut, id.clone(), id)]
        );
    }

    #[test]
    fn an_opt_out_recorded_after_a_later_occurring_start_is_the_rows_latest_change() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let stop = event(EventKind::OptOut).at(minutes(0)).build();
        let start = event(EventKind::OptIn).at(minutes(60)).build();

        // Recorded through the API at 90, saying it happened at 50: START was received before
        // it, so cannot lift it (rule 1): the number is opted out again.
        let late = event(EventKind::OptOut)
            .at(minutes(50))
            .received_at(minutes(90))
            .api(Scope::Tenant, Source::PhoneCall)
            .time_source(TimeSource::Client)
            .build();
        let id = late.event_id.to_string();
        assert_eq!(
            rows(&fold(&[&stop, &start, &late]), &policy, &directory),
            vec![("tenant".into(), Status::OptedOut, id.clone(), id)]
        );

        // Provider-stamped, a STOP of 50 delivered at 90 is lifted by the START of 60: still
        // opted in, resting on the START, but changed at 90.
        let stamped =
            |e: crate::testing::events::EventBuilder| e.time_source(TimeSource::Provider).build();
        let stop = stamped(event(EventKind::OptOut).at(minutes(0)));
        let start = stamped(event(EventKind::OptIn).at(minutes(60)));
        let late = stamped(
            event(EventKind::OptOut)
                .at(minutes(50))
                .received_at(minutes(90)),
        );
        assert_eq!(
            rows(&fold(&[&stop, &start, &late]), &policy, &directory),
            vec![(
                "tenant".into(),
                Status::OptedIn,
                start.event_id.to_string(),
                late.event_id.to_string()
            )]
        );
    }

    #[test]
    fn an_opt_in_from_a_wider_scope_answers_a_keyword_opt_out() {
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let stop = event(EventKind::OptOut).at(minutes(0)).build();
        let written = event(EventKind::OptIn)
            .at(minutes(10))
            .api(Scope::Tenant, Source::Paper)
            .override_opt_out()
            .build();
        let narrow = event(EventKind::OptIn)
            .at(minutes(10))
            .api(Scope::Sender("+14155550999".into()), Source::Paper)
            .override_opt_out()
            .build();

        let mut state = NumberState::default();
        state.apply(&stop);
        state.apply(&narrow);
        let before: Vec<Status> = standings(&state, &policy, &directory)
            .iter()
            .map(|s| s.status)
            .collect();
        assert!(
            before.contains(&Status::OptedOut),
            "another sender's opt-in lifts nothing here"
        );

        state.apply(&written);
        let after = standings(&state, &policy, &directory);
        assert!(
            after.iter().all(|s| s.status == Status::OptedIn),
            "{after:#?}"
        );
        let keyword = after.iter().find(|s| s.facet.opt_outs.len() == 1).unwrap();
        assert_eq!(keyword.mark.map(|m| &m.event_id), Some(&written.event_id));
    }
}
