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
    /// Allowed: the reply to an inbound HELP, even when opted out (rule 6).
    HelpReply,
    /// Allowed: the single confirmation of an opt-out, sent by the business (rule 6).
    OptOutConfirmation,
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
    pub purpose: Option<Purpose>,
}

/// Exemptions a check may name (docs/rules.md rule 6). They never cover promotional content and
/// only ever turn a denial into an allowance in the narrow case they describe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    OptOutConfirmation,
    HelpReply,
    DoubleOptInRequest,
}

/// The one confirmation after an opt-out is presumed fine within this long of its receipt.
pub const CONFIRMATION_WINDOW: Duration = Duration::minutes(5);
/// A HELP reply answers a HELP received this recently.
pub const HELP_REPLY_WINDOW: Duration = Duration::hours(24);

pub fn decide(input: &DecisionInput<'_>) -> CheckDecision {
    let deny = |reason, scope, mark: Option<&Mark>| CheckDecision {
        allowed: false,
        reason,
        scope,
        since: mark.map(|m| m.occurred_at),
        evidence: mark.map(|m| DecisionEvidence::of(m, None)),
        policy_version: input.policy.version,
    };

    if let Some(exempt) = exemption(input) {
        return exempt;
    }
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

/// Rule 6: a HELP reply after an inbound HELP to this sender group; the single opt-out
/// confirmation within 5 minutes of the opt-out's receipt, only where the tenant says the
/// business (not the provider, the network or Stopgate) sends confirmations. Never promotional.
fn exemption(input: &DecisionInput<'_>) -> Option<CheckDecision> {
    if input.category == Category::Promotional {
        return None;
    }
    let allow = |reason, scope: String, mark: &Mark| CheckDecision {
        allowed: true,
        reason,
        scope: Some(scope),
        since: Some(mark.occurred_at),
        evidence: Some(DecisionEvidence::of(mark, None)),
        policy_version: input.policy.version,
    };
    match input.purpose? {
        Purpose::HelpReply => input
            .state
            .last_help
            .iter()
            .find(|f| {
                f.group == input.send.placement.group
                    && input.now - f.mark.received_at <= HELP_REPLY_WINDOW
            })
            .map(|f| allow(CheckReason::HelpReply, f.group.to_string(), &f.mark)),
        Purpose::OptOutConfirmation => {
            let group = input.send.placement.group.to_string();
            if !input.policy.business_confirms.contains(&group) {
                return None;
            }
            let (scope, mark) = unlifted_opt_out(input)?;
            (input.now - mark.received_at <= CONFIRMATION_WINDOW && input.now >= mark.received_at)
                .then(|| allow(CheckReason::OptOutConfirmation, scope, mark))
        }
        // Pending double opt-ins are not recorded yet, so there is nothing this can answer.
        Purpose::DoubleOptInRequest => None,
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

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::consent::event::{
        Actor, ConsentEvent, EventId, EventKind, EvidenceRefs, Origin, Source, TimeSource,
    };
    use crate::consent::scope::SenderGroup;
    use crate::phone::E164;

    fn at(minutes: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 5, 4, 12, 0, 0).single().unwrap() + Duration::minutes(minutes)
    }

    fn keyword(kind: EventKind, minutes: i64) -> ConsentEvent {
        ConsentEvent {
            event_id: EventId(format!("{minutes:04}{}", kind.as_str())),
            tenant: "t".into(),
            phone: E164::parse_e164("+14155550123").unwrap(),
            kind,
            category: None,
            level: None,
            scope: None,
            origin: Origin {
                sender: Some("+14155550100".into()),
                sender_group: Some("alerts".into()),
                ..Origin::default()
            },
            source: Source::SmsKeyword,
            occurred_at: at(minutes),
            time_source: TimeSource::Receipt,
            received_at: at(minutes),
            recorded_at: at(minutes),
            actor: Actor::Person,
            evidence: EvidenceRefs::default(),
            override_opt_out: false,
            review: None,
        }
    }

    fn decide_with(
        events: &[ConsentEvent],
        policy: &TenantPolicy,
        category: Category,
        purpose: Option<Purpose>,
        now: i64,
    ) -> CheckDecision {
        let mut state = NumberState::default();
        for e in events {
            state.apply(e);
        }
        let directory = SenderDirectory {
            groups: vec![SenderGroup {
                name: "alerts".into(),
                senders: vec!["+14155550100".into()],
                program: None,
                brand: None,
            }],
        };
        let send = SendContext::new(&directory, "+14155550100", None);
        decide(&DecisionInput {
            state: &state,
            policy,
            directory: &directory,
            send: &send,
            category,
            now: at(now),
            purpose,
        })
    }

    #[test]
    fn a_help_reply_may_reach_an_opted_out_number_but_never_as_marketing() {
        let policy = TenantPolicy::default();
        let events = [keyword(EventKind::OptOut, 0), keyword(EventKind::Help, 10)];
        let help = decide_with(
            &events,
            &policy,
            Category::Informational,
            Some(Purpose::HelpReply),
            11,
        );
        assert_eq!((help.allowed, help.reason), (true, CheckReason::HelpReply));
        let marketing = decide_with(
            &events,
            &policy,
            Category::Promotional,
            Some(Purpose::HelpReply),
            11,
        );
        assert_eq!(marketing.reason, CheckReason::OptedOut);
        let no_help = decide_with(
            &events[..1],
            &policy,
            Category::Informational,
            Some(Purpose::HelpReply),
            11,
        );
        assert_eq!(
            no_help.reason,
            CheckReason::OptedOut,
            "a purpose that does not apply is the ordinary answer"
        );
        let stale = decide_with(
            &events,
            &policy,
            Category::Informational,
            Some(Purpose::HelpReply),
            60 * 25,
        );
        assert_eq!(stale.reason, CheckReason::OptedOut);
    }

    #[test]
    fn one_opt_out_confirmation_within_five_minutes_only_where_the_business_confirms() {
        let events = [keyword(EventKind::OptOut, 0)];
        let provider_confirms = TenantPolicy::default();
        let denied = decide_with(
            &events,
            &provider_confirms,
            Category::Conversational,
            Some(Purpose::OptOutConfirmation),
            1,
        );
        assert_eq!(denied.reason, CheckReason::OptedOut);
        let business = TenantPolicy {
            business_confirms: vec!["group:alerts".into()],
            ..TenantPolicy::default()
        };
        let allowed = decide_with(
            &events,
            &business,
            Category::Conversational,
            Some(Purpose::OptOutConfirmation),
            4,
        );
        assert_eq!(
            (allowed.allowed, allowed.reason),
            (true, CheckReason::OptOutConfirmation)
        );
        let late = decide_with(
            &events,
            &business,
            Category::Conversational,
            Some(Purpose::OptOutConfirmation),
            6,
        );
        assert_eq!(late.reason, CheckReason::OptedOut);
        let marketing = decide_with(
            &events,
            &business,
            Category::Promotional,
            Some(Purpose::OptOutConfirmation),
            1,
        );
        assert_eq!(marketing.reason, CheckReason::OptedOut);
        assert_eq!(
            decide_with(
                &[],
                &business,
                Category::Conversational,
                Some(Purpose::DoubleOptInRequest),
                1
            )
            .reason,
            CheckReason::NoConsent
        );
    }
}
