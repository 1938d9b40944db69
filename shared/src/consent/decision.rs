//! The pre-send decision: may this sender message this number for this category now?

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::calendar;
use super::event::{Category, ConsentLevel};
use super::ordering::{Mark, lifts};
use super::policy::TenantPolicy;
use super::scope::{SendContext, SenderDirectory};
use super::state::NumberState;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CheckReason {
    /// Denied: an opt-out whose scope contains the sender and that no later opt-in lifted.
    OptedOut,
    /// Denied: no consent on record that this category needs.
    NoConsent,
    /// Denied (promotional): a possible revocation from this number awaits review.
    PendingReview,
    /// Allowed: consent of the level the category needs, in scope.
    Consent,
    /// Allowed (conversational): the person wrote to this sender group recently.
    RecentInbound,
    /// Allowed (informational, when the tenant relaxed it): not opted out.
    NotOptedOut,
}

/// The record a decision relied on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecisionEvidence {
    pub event_id: String,
    pub occurred_at: DateTime<Utc>,
    pub time_source: super::event::TimeSource,
    pub source: super::event::Source,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<ConsentLevel>,
}

impl DecisionEvidence {
    fn of(mark: &Mark, level: Option<ConsentLevel>) -> DecisionEvidence {
        DecisionEvidence {
            event_id: mark.event_id.to_string(),
            occurred_at: mark.occurred_at,
            time_source: mark.time_source,
            source: mark.source,
            keyword: mark.keyword.clone(),
            level,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDecision {
    pub allowed: bool,
    pub reason: CheckReason,
    /// The scope of the record relied on (`tenant`, `group:alerts`, ...).
    pub scope: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub evidence: Option<DecisionEvidence>,
    /// The tenant policy version the decision applied.
    pub policy_version: u64,
}

/// Everything a decision reads, all of it already loaded: deciding does no I/O.
pub struct DecisionInput<'a> {
    pub state: &'a NumberState,
    pub policy: &'a TenantPolicy,
    pub directory: &'a SenderDirectory,
    pub send: &'a SendContext,
    pub category: Category,
    pub now: DateTime<Utc>,
}

pub fn decide(input: &DecisionInput<'_>) -> CheckDecision {
    let deny = |reason, scope, mark: Option<&Mark>| CheckDecision {
        allowed: false,
        reason,
        scope,
        since: mark.map(|m| m.occurred_at),
        evidence: mark.map(|m| DecisionEvidence::of(m, None)),
        policy_version: input.policy.version,
    };

    if let Some((scope, mark)) = unlifted_opt_out(input) {
        return deny(CheckReason::OptedOut, Some(scope), Some(mark));
    }
    // While a possible revocation waits for review, no marketing (rule 5).
    if input.category == Category::Promotional
        && let Some(mark) = open_review(input)
    {
        return deny(CheckReason::PendingReview, None, Some(mark));
    }

    let needed = match input.category {
        Category::Conversational => ConsentLevel::Express,
        Category::Informational => ConsentLevel::Express,
        Category::Promotional => ConsentLevel::ExpressWritten,
    };
    if let Some(consent) = consent_in_scope(input, needed) {
        return CheckDecision {
            allowed: true,
            reason: CheckReason::Consent,
            scope: Some(consent.0),
            since: Some(consent.1.occurred_at),
            evidence: Some(DecisionEvidence::of(consent.1, Some(consent.2))),
            policy_version: input.policy.version,
        };
    }

    match input.category {
        Category::Conversational => {
            let window = Duration::hours(i64::from(input.policy.conversational_window_hours));
            let recent = input.state.last_inbound.iter().find(|f| {
                f.group == input.send.placement.group && input.now - f.mark.occurred_at <= window
            });
            match recent {
                Some(f) => CheckDecision {
                    allowed: true,
                    reason: CheckReason::RecentInbound,
                    scope: Some(f.group.to_string()),
                    since: Some(f.mark.occurred_at),
                    evidence: Some(DecisionEvidence::of(&f.mark, None)),
                    policy_version: input.policy.version,
                },
                None => deny(CheckReason::NoConsent, None, None),
            }
        }
        Category::Informational if input.policy.informational_unless_opted_out => CheckDecision {
            allowed: true,
            reason: CheckReason::NotOptedOut,
            scope: None,
            since: None,
            evidence: None,
            policy_version: input.policy.version,
        },
        _ => deny(CheckReason::NoConsent, None, None),
    }
}

/// The latest opt-out whose scope contains the send and that no opt-in covering the send lifts.
fn unlifted_opt_out<'a>(input: &DecisionInput<'a>) -> Option<(String, &'a Mark)> {
    let (policy, directory, send) = (input.policy, input.directory, input.send);
    let opt_ins = opt_ins_covering(input);
    // A possible revocation left unreviewed past its due date is an opt-out (rule 5).
    let overdue = input
        .state
        .pending_reviews
        .iter()
        .filter(|r| {
            input.now > calendar::due_after(r.mark.received_at, policy.review_business_days)
        })
        .filter_map(|r| {
            r.scope
                .denies(send, policy, directory)
                .map(|scope| (scope, &r.mark))
        });
    input
        .state
        .suppression
        .iter()
        .filter_map(|f| {
            f.scope
                .denies(send, policy, directory)
                .map(|scope| (scope, f))
        })
        .flat_map(|(scope, f)| f.opt_outs.iter().map(move |m| (scope.clone(), m)))
        .chain(overdue)
        .filter(|(_, x)| !opt_ins.iter().any(|o| lifts(o, x)))
        .max_by(|a, b| a.1.canonical_key().cmp(&b.1.canonical_key()))
        .map(|(scope, m)| (scope.to_string(), m))
}

fn opt_ins_covering<'a>(input: &DecisionInput<'a>) -> Vec<&'a Mark> {
    let (policy, directory, send) = (input.policy, input.directory, input.send);
    input
        .state
        .suppression
        .iter()
        .filter(|f| f.scope.allows(send, policy, directory))
        .flat_map(|f| f.opt_ins.iter())
        .collect()
}

/// An open review of a possible revocation that no later opt-in has answered.
fn open_review<'a>(input: &DecisionInput<'a>) -> Option<&'a Mark> {
    let opt_ins = opt_ins_covering(input);
    input
        .state
        .pending_reviews
        .iter()
        .map(|r| &r.mark)
        .filter(|m| !opt_ins.iter().any(|o| lifts(o, m)))
        .max_by_key(|m| m.canonical_key())
}

/// Consent at `needed` level or above, for the category or a more demanding one, in a scope
/// that plainly covers the send, and not withdrawn later by a revocation that could cover it.
fn consent_in_scope<'a>(
    input: &DecisionInput<'a>,
    needed: ConsentLevel,
) -> Option<(String, &'a Mark, ConsentLevel)> {
    let send = input.send;
    let consents = &input.state.consents;
    consents
        .iter()
        .filter(|f| f.category >= input.category && f.scope.allows(send))
        .filter_map(|f| f.level.filter(|l| *l >= needed).map(|l| (f, l)))
        .filter(|(grant, _)| {
            !consents.iter().any(|r| {
                r.level.is_none()
                    && r.category == grant.category
                    && r.scope.denies(send)
                    && r.mark.occurred_at >= grant.mark.occurred_at
            })
        })
        .max_by(|a, b| a.0.mark.canonical_key().cmp(&b.0.mark.canonical_key()))
        .map(|(f, l)| (f.scope.to_string(), &f.mark, l))
}
