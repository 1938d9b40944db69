//! A number's standing in each scope it has a suppression facet for, apart from any one send:
//! what lookup, the opt-out list and exports show. An opt-out stands unless an opt-in lifts it
//! (rules 1 and 2) from a scope that holds everything the opt-out reaches (rule 3).

use serde::Serialize;

use super::ordering::{Mark, lifts};
use super::policy::TenantPolicy;
use super::scope::SenderDirectory;
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
        .map(|facet| {
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
            match in_force {
                Some(opt_out) => Standing {
                    facet,
                    status: Status::OptedOut,
                    mark: Some(opt_out),
                },
                None => Standing {
                    facet,
                    status: Status::OptedIn,
                    mark: opt_ins.into_iter().max_by_key(|m| m.canonical_key()),
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::{EventKind, Scope, Source};
    use crate::testing::events::{event, minutes};

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
