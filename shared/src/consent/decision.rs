//! The pre-send decision: may this sender message this number for this category now?

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::event::{Category, ConsentLevel};
use super::ordering::{Mark, lifts};
use super::policy::TenantPolicy;
use super::quiet_hours::{self, Location, QuietVerdict, RuleAtPlace};
use super::scope::{Scope, SendContext, SenderDirectory};
use super::state::{ConsentFacet, NumberState};
use crate::phone::E164;

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
    /// Allowed: the one request to confirm a pending consent ("reply YES"), rules 6 and 9.
    DoubleOptInRequest,
    /// Denied: the exemption named was already used for another message (rule 6).
    ExemptionUsed,
    /// Denied (promotional): outside the recipient's permitted hours; `retry_at` says when.
    QuietHours,
    /// Denied (promotional): where the recipient is, and so their hours, cannot be told.
    UnknownLocation,
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
    /// With `quiet_hours`: the next moment every window is open.
    pub retry_at: Option<DateTime<Utc>>,
    /// With `quiet_hours`: the rules, at each place, that are closed now.
    pub closed_by: Vec<ClosedBy>,
}

/// A quiet-hours rule that closed a send, at one of the places the recipient may be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClosedBy {
    /// `US` (federal), `US-TX`, or `tenant` (the tenant's hours outside the states).
    pub jurisdiction: String,
    pub time_zone: String,
    pub days: String,
    /// Permitted local hours, `08:00-21:00`, or `closed`.
    pub window: String,
    pub source: String,
}

impl ClosedBy {
    fn of(rule: &RuleAtPlace) -> ClosedBy {
        ClosedBy {
            jurisdiction: rule.jurisdiction.clone(),
            time_zone: rule.place.zone.name().to_string(),
            days: rule.days.clone(),
            window: rule.window.clone(),
            source: rule.source.clone(),
        }
    }
}

/// Everything a decision reads, all of it already loaded: deciding does no I/O.
pub struct DecisionInput<'a> {
    pub state: &'a NumberState,
    pub policy: &'a TenantPolicy,
    pub directory: &'a SenderDirectory,
    pub send: &'a SendContext,
    pub category: Category,
    pub now: DateTime<Utc>,
    /// The exemption the check names, bound to the inbound event it answers (rule 6).
    pub exemption: Option<Exemption<'a>>,
    /// The recipient.
    pub phone: &'a E164,
    /// When the message is to be sent: it moves only the quiet-hours test (rule 7).
    pub send_at: Option<DateTime<Utc>>,
    /// Where the recipient is, as the check says.
    pub location: Option<&'a Location>,
}

/// A check's `purpose` with the event it answers (`reply_to`, an event id).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exemption<'a> {
    pub purpose: Purpose,
    pub reply_to: &'a str,
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

/// The answer to a check: consent as of now (rules 1-6, 8), then, for a promotional message
/// allowed by them, the recipient's quiet hours at `send_at` (rule 7).
pub fn decide(input: &DecisionInput<'_>) -> CheckDecision {
    let decision = decide_consent(input);
    if !decision.allowed || input.category != Category::Promotional {
        return decision;
    }
    let at = input.send_at.unwrap_or(input.now);
    let recorded = consent_in_scope(input, ConsentLevel::ExpressWritten)
        .and_then(|(_, _, _, location)| location);
    let quiet = |reason, retry_at, closed_by| CheckDecision {
        allowed: false,
        reason,
        retry_at,
        closed_by,
        ..decision.clone()
    };
    match quiet_hours::verdict(
        input.phone,
        input.location,
        recorded,
        at,
        &input.policy.quiet_hours,
    ) {
        QuietVerdict::Allowed => decision,
        QuietVerdict::Quiet {
            retry_at,
            closed_by,
        } => quiet(
            CheckReason::QuietHours,
            retry_at,
            closed_by.iter().map(ClosedBy::of).collect(),
        ),
        QuietVerdict::UnknownLocation { .. } => {
            quiet(CheckReason::UnknownLocation, None, Vec::new())
        }
    }
}

fn decide_consent(input: &DecisionInput<'_>) -> CheckDecision {
    let deny = |reason, scope, mark: Option<&Mark>| CheckDecision {
        allowed: false,
        reason,
        scope,
        since: mark.map(|m| m.occurred_at),
        evidence: mark.map(|m| DecisionEvidence::of(m, None)),
        policy_version: input.policy.version,
        retry_at: None,
        closed_by: Vec::new(),
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
    // A withdrawn category stays withdrawn until that category is granted again (rule 3).
    if let Some(revoke) = revocation_in_force(input) {
        return deny(
            CheckReason::NoConsent,
            Some(revoke.scope.to_string()),
            Some(&revoke.mark),
        );
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
            retry_at: None,
            closed_by: Vec::new(),
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
                    retry_at: None,
                    closed_by: Vec::new(),
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
            retry_at: None,
            closed_by: Vec::new(),
        },
        _ => deny(CheckReason::NoConsent, None, None),
    }
}

/// Rule 6: a HELP reply to the inbound HELP it names (`reply_to`), sent to this sender group
/// within 24 hours; the single opt-out confirmation of the opt-out it names, in force here,
/// within 5 minutes of its receipt, only where the tenant says the business (not the provider,
/// the network or Stopgate) sends confirmations; the request to confirm the pending consent it
/// names (rule 9), from the sender group the YES must go to, while the consent is open and no
/// opt-out holds the send. Never promotional. That each is used for one message only
/// (`message_key`) is for the caller to hold: it takes a write.
fn exemption(input: &DecisionInput<'_>) -> Option<CheckDecision> {
    if input.category == Category::Promotional {
        return None;
    }
    let Exemption { purpose, reply_to } = input.exemption?;
    let allow = |reason, scope: String, mark: &Mark| CheckDecision {
        allowed: true,
        reason,
        scope: Some(scope),
        since: Some(mark.occurred_at),
        evidence: Some(DecisionEvidence::of(mark, None)),
        policy_version: input.policy.version,
        retry_at: None,
        closed_by: Vec::new(),
    };
    let within = |mark: &Mark, window: Duration| {
        input.now >= mark.received_at && input.now - mark.received_at <= window
    };
    match purpose {
        Purpose::HelpReply => input
            .state
            .last_help
            .iter()
            .find(|f| {
                f.group == input.send.placement.group
                    && f.mark.event_id.as_str() == reply_to
                    && within(&f.mark, HELP_REPLY_WINDOW)
            })
            .map(|f| allow(CheckReason::HelpReply, f.group.to_string(), &f.mark)),
        Purpose::OptOutConfirmation => {
            let group = input.send.placement.group.to_string();
            if !input.policy.business_confirms.contains(&group) {
                return None;
            }
            let (policy, directory) = (input.policy, input.directory);
            opt_outs_in_force(input.state, policy, directory, input.send, input.now)
                .find(|(_, mark)| {
                    mark.event_id.as_str() == reply_to && within(mark, CONFIRMATION_WINDOW)
                })
                .map(|(scope, mark)| {
                    allow(CheckReason::OptOutConfirmation, scope.to_string(), mark)
                })
        }
        Purpose::DoubleOptInRequest => {
            // Not an answer to anything the person texted: an opt-out in force stands (the
            // person can still text START or YES themselves).
            if unlifted_opt_out(input).is_some() {
                return None;
            }
            let group = &input.send.placement.group;
            input
                .state
                .open_pending(group, input.now)
                .find(|p| p.mark.event_id.as_str() == reply_to)
                .map(|p| allow(CheckReason::DoubleOptInRequest, group.to_string(), &p.mark))
        }
    }
}

/// When an opt-out came to be, for the members its group had then: the earlier of its two
/// clocks, so in doubt more senders are stopped.
fn recorded_at(mark: &Mark) -> DateTime<Utc> {
    mark.occurred_at.min(mark.received_at)
}

/// The latest opt-out whose scope contains the send and that no opt-in covering the send lifts.
fn unlifted_opt_out<'a>(input: &DecisionInput<'a>) -> Option<(String, &'a Mark)> {
    opt_outs_in_force(
        input.state,
        input.policy,
        input.directory,
        input.send,
        input.now,
    )
    .max_by(|a, b| a.1.canonical_key().cmp(&b.1.canonical_key()))
    .map(|(scope, m)| (scope.to_string(), m))
}

/// Every opt-out whose scope contains the send and that no opt-in covering the send lifts,
/// with the scope that contains it; a possible revocation left unreviewed past its due date at
/// `now` counts as one (rule 5).
pub fn opt_outs_in_force<'a>(
    state: &'a NumberState,
    policy: &'a TenantPolicy,
    directory: &'a SenderDirectory,
    send: &'a SendContext,
    now: DateTime<Utc>,
) -> impl Iterator<Item = (Scope, &'a Mark)> + 'a {
    let opt_ins = covering_opt_ins(state, policy, directory, send);
    let overdue = state
        .pending_reviews
        .iter()
        .filter(move |r| now > policy.review_due(r.mark.received_at))
        .filter_map(move |r| {
            r.scope
                .denies_as_of(send, policy, directory, recorded_at(&r.mark))
                .map(|scope| (scope, &r.mark))
        });
    state
        .suppression
        .iter()
        .flat_map(|f| f.opt_outs.iter().map(move |m| (f, m)))
        .filter_map(move |(f, m)| {
            f.scope
                .denies_as_of(send, policy, directory, recorded_at(m))
                .map(|scope| (scope, m))
        })
        .chain(overdue)
        .filter(move |(_, x)| !opt_ins.iter().any(|o| lifts(o, x)))
}

fn opt_ins_covering<'a>(input: &DecisionInput<'a>) -> Vec<&'a Mark> {
    covering_opt_ins(input.state, input.policy, input.directory, input.send)
}

fn covering_opt_ins<'a>(
    state: &'a NumberState,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
    send: &SendContext,
) -> Vec<&'a Mark> {
    state
        .suppression
        .iter()
        .filter(|f| f.scope.allows(send, policy, directory))
        .flat_map(|f| f.opt_ins.iter())
        .collect()
}

/// An open review of a possible revocation that no later opt-in has answered (a YES never
/// answers one, rule 2).
fn open_review<'a>(input: &DecisionInput<'a>) -> Option<&'a Mark> {
    let opt_ins = opt_ins_covering(input);
    input
        .state
        .pending_reviews
        .iter()
        .map(|r| &r.mark)
        .filter(|m| !opt_ins.iter().any(|o| o.answers_reviews() && lifts(o, m)))
        .max_by_key(|m| m.canonical_key())
}

/// The latest revocation of the category checked, in a scope that could contain the send, that
/// no later grant of that same category covering the send has answered: it denies the category
/// whatever other categories' grants say (rule 3).
fn revocation_in_force<'a>(input: &DecisionInput<'a>) -> Option<&'a ConsentFacet> {
    let send = input.send;
    let consents = &input.state.consents;
    consents
        .iter()
        .filter(|r| r.level.is_none() && r.category == input.category && r.scope.denies(send))
        .filter(|r| {
            !consents.iter().any(|g| {
                g.level.is_some()
                    && g.category == r.category
                    && g.scope.allows(send)
                    && g.mark.occurred_at > r.mark.occurred_at
            })
        })
        .max_by_key(|r| r.mark.canonical_key())
}

/// Was `grant` recorded while an opt-out it would serve was in force? Then the opt-in that
/// lifted that opt-out does not bring it back: START restores at most the consent levels held
/// before the STOP (rule 2). Judged by when Stopgate received each; with the opt-ins the state
/// keeps (the latest of each kind), a grant between two STARTs may be left out: a denial.
fn recorded_while_opted_out(input: &DecisionInput<'_>, grant: &Mark) -> bool {
    let (policy, directory, send) = (input.policy, input.directory, input.send);
    let opt_ins = opt_ins_covering(input);
    input
        .state
        .suppression
        .iter()
        .flat_map(|f| f.opt_outs.iter().map(move |x| (f, x)))
        .filter(|(f, x)| {
            f.scope
                .denies_as_of(send, policy, directory, recorded_at(x))
                .is_some()
        })
        .any(|(_, x)| {
            let lifted_at = opt_ins
                .iter()
                .filter(|o| lifts(o, x))
                .map(|o| o.received_at)
                .min();
            lifted_at.is_some_and(|lifted_at| {
                x.received_at <= grant.received_at
                    && grant.received_at < lifted_at
                    && grant.event_id != x.event_id
            })
        })
}

/// Consent at `needed` level or above, for the category or a more demanding one, in a scope
/// that plainly covers the send, and not withdrawn later by a revocation that could cover it.
fn consent_in_scope<'a>(
    input: &DecisionInput<'a>,
    needed: ConsentLevel,
) -> Option<(String, &'a Mark, ConsentLevel, Option<&'a Location>)> {
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
        .filter(|(grant, _)| {
            grant.mark.override_opt_out || !recorded_while_opted_out(input, &grant.mark)
        })
        .max_by(|a, b| a.0.mark.canonical_key().cmp(&b.0.mark.canonical_key()))
        .map(|(f, l)| (f.scope.to_string(), &f.mark, l, f.location.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::event::{ConsentEvent, EventKind, Source};
    use crate::consent::scope::SenderGroup;
    use crate::testing::events::{BUSINESS, event, minutes};

    /// `alerts` holds the business number and a pool; `deals` another number.
    fn directory() -> SenderDirectory {
        SenderDirectory {
            groups: vec![
                SenderGroup {
                    senders: vec![BUSINESS.into(), "MG1".into()],
                    ..SenderGroup::new("alerts", &[])
                },
                SenderGroup::new("deals", &["+14155550101"]),
            ],
        }
    }

    fn keyword(kind: EventKind, at: i64) -> ConsentEvent {
        event(kind).at(minutes(at)).group("alerts").build()
    }

    struct Case<'a> {
        events: &'a [ConsentEvent],
        policy: TenantPolicy,
        directory: SenderDirectory,
        sender: &'a str,
        category: Category,
        exemption: Option<Exemption<'a>>,
        now: i64,
    }

    impl<'a> Case<'a> {
        fn new(events: &'a [ConsentEvent], category: Category, now: i64) -> Case<'a> {
            Case {
                events,
                policy: TenantPolicy::default(),
                directory: directory(),
                sender: BUSINESS,
                category,
                exemption: None,
                now,
            }
        }

        fn decide(&self) -> CheckDecision {
            let mut state = NumberState::default();
            for e in self.events {
                state.apply(e);
            }
            let send = SendContext::new(&self.directory, self.sender, None);
            decide(&DecisionInput {
                state: &state,
                policy: &self.policy,
                directory: &self.directory,
                send: &send,
                category: self.category,
                now: minutes(self.now),
                exemption: self.exemption,
                phone: &self.events.first().map_or_else(
                    || E164::from_stored(crate::testing::events::PERSON).unwrap(),
                    |e| e.phone.clone(),
                ),
                send_at: None,
                location: None,
            })
        }

        fn reason(&self) -> CheckReason {
            self.decide().reason
        }
    }

    fn help_reply(reply_to: &str) -> Option<Exemption<'_>> {
        Some(Exemption {
            purpose: Purpose::HelpReply,
            reply_to,
        })
    }

    #[test]
    fn a_help_reply_answers_the_help_it_names_even_when_opted_out_but_never_as_marketing() {
        let events = [keyword(EventKind::OptOut, 0), keyword(EventKind::Help, 10)];
        let help_id = events[1].event_id.to_string();
        let mut case = Case::new(&events, Category::Informational, 11);
        case.exemption = help_reply(&help_id);
        assert_eq!(
            (case.decide().allowed, case.reason()),
            (true, CheckReason::HelpReply)
        );
        // Another event (the opt-out) is not a HELP: the ordinary answer.
        let stop_id = events[0].event_id.to_string();
        case.exemption = help_reply(&stop_id);
        assert_eq!(case.reason(), CheckReason::OptedOut);
        case.exemption = help_reply(&help_id);
        case.category = Category::Promotional;
        assert_eq!(case.reason(), CheckReason::OptedOut, "never marketing");
        case.category = Category::Informational;
        case.now = 10 + 24 * 60 + 1;
        assert_eq!(case.reason(), CheckReason::OptedOut, "a day later");
        // A HELP before the opt-out is answered too, within the day.
        let before = [keyword(EventKind::Help, 0), keyword(EventKind::OptOut, 5)];
        let id = before[0].event_id.to_string();
        let mut case = Case::new(&before, Category::Conversational, 6);
        case.exemption = help_reply(&id);
        assert_eq!(case.reason(), CheckReason::HelpReply);
    }

    #[test]
    fn one_opt_out_confirmation_within_five_minutes_only_where_the_business_confirms() {
        let events = [keyword(EventKind::OptOut, 0)];
        let id = events[0].event_id.to_string();
        let confirmation = Some(Exemption {
            purpose: Purpose::OptOutConfirmation,
            reply_to: &id,
        });
        let mut case = Case::new(&events, Category::Conversational, 1);
        case.exemption = confirmation;
        assert_eq!(
            case.reason(),
            CheckReason::OptedOut,
            "the provider confirms"
        );
        case.policy.business_confirms = vec!["group:alerts".into()];
        assert_eq!(case.reason(), CheckReason::OptOutConfirmation);
        case.now = 6;
        assert_eq!(case.reason(), CheckReason::OptedOut, "too late");
        case.now = 4;
        case.category = Category::Promotional;
        assert_eq!(case.reason(), CheckReason::OptedOut, "never marketing");
        let mut none = Case::new(&[], Category::Conversational, 1);
        none.exemption = Some(Exemption {
            purpose: Purpose::DoubleOptInRequest,
            reply_to: &id,
        });
        assert_eq!(none.reason(), CheckReason::NoConsent);
    }

    #[test]
    fn a_yes_never_answers_an_open_review_but_a_start_does() {
        let review = event(EventKind::PossibleRevocation)
            .at(minutes(0))
            .group("alerts")
            .review("r1")
            .build();
        let grant = event(EventKind::Grant)
            .at(minutes(-60))
            .api(Scope::Tenant, Source::WebForm)
            .consent(Category::Promotional, Some(ConsentLevel::ExpressWritten))
            .build();
        let yes = event(EventKind::OptIn)
            .at(minutes(10))
            .group("alerts")
            .keyword(crate::consent::ordering::YES)
            .build();
        let start = event(EventKind::OptIn)
            .at(minutes(10))
            .group("alerts")
            .keyword("start")
            .build();
        let events = [grant.clone(), review.clone(), yes];
        assert_eq!(
            Case::new(&events, Category::Promotional, 11).reason(),
            CheckReason::PendingReview
        );
        let events = [grant, review, start];
        assert_eq!(
            Case::new(&events, Category::Promotional, 11).reason(),
            CheckReason::Consent
        );
    }

    #[test]
    fn a_revoked_category_stays_denied_whatever_other_grants_say_until_granted_again() {
        let grant = |category, level, at| {
            event(EventKind::Grant)
                .at(minutes(at))
                .api(Scope::Tenant, Source::WebForm)
                .consent(category, Some(level))
                .build()
        };
        let revoke = event(EventKind::Revoke)
            .at(minutes(10))
            .api(Scope::Tenant, Source::Api)
            .consent(Category::Informational, None)
            .build();
        let promotional = grant(Category::Promotional, ConsentLevel::ExpressWritten, 0);
        let events = [promotional.clone(), revoke.clone()];
        assert_eq!(
            Case::new(&events, Category::Informational, 11).reason(),
            CheckReason::NoConsent,
            "a promotional grant does not outweigh an informational revoke"
        );
        assert_eq!(
            Case::new(&events, Category::Promotional, 11).reason(),
            CheckReason::Consent,
            "the revoke withdrew informational only"
        );
        // Even a recent message from the person does not reopen a revoked category.
        let inbound = keyword(EventKind::Inbound, 20);
        let mut policy_relaxed = Case::new(&events, Category::Informational, 21);
        policy_relaxed.policy.informational_unless_opted_out = true;
        assert_eq!(policy_relaxed.reason(), CheckReason::NoConsent);
        let revoke_conversational = event(EventKind::Revoke)
            .at(minutes(10))
            .api(Scope::Tenant, Source::Api)
            .consent(Category::Conversational, None)
            .build();
        let events = [revoke_conversational, inbound];
        assert_eq!(
            Case::new(&events, Category::Conversational, 21).reason(),
            CheckReason::NoConsent
        );
        // Granting the category again answers the revoke.
        let again = grant(Category::Informational, ConsentLevel::Express, 30);
        let events = [promotional, revoke, again];
        assert_eq!(
            Case::new(&events, Category::Informational, 31).reason(),
            CheckReason::Consent
        );
    }

    #[test]
    fn a_start_restores_at_most_the_levels_held_before_the_stop() {
        let grant = |at| {
            event(EventKind::Grant)
                .at(minutes(at))
                .api(Scope::Tenant, Source::Import)
                .consent(Category::Promotional, Some(ConsentLevel::ExpressWritten))
                .build()
        };
        let stop = keyword(EventKind::OptOut, 0);
        let start = keyword(EventKind::OptIn, 60);
        // Granted before the STOP: the START brings it back.
        let events = [grant(-10), stop.clone(), start.clone()];
        assert_eq!(
            Case::new(&events, Category::Promotional, 61).reason(),
            CheckReason::Consent
        );
        // Recorded while opted out (an import): the START does not.
        let events = [stop.clone(), grant(30), start.clone()];
        assert_eq!(
            Case::new(&events, Category::Promotional, 61).reason(),
            CheckReason::NoConsent
        );
        // Granted after the START: it counts.
        let events = [stop, start, grant(90)];
        assert_eq!(
            Case::new(&events, Category::Promotional, 91).reason(),
            CheckReason::Consent
        );
    }

    #[test]
    fn a_stop_through_a_pool_stops_the_pool_and_the_number() {
        let directory = SenderDirectory::default();
        let stop = event(EventKind::OptOut)
            .at(minutes(0))
            .sender("+14155550150")
            .build();
        let mut pooled = stop.clone();
        pooled.origin.pool = Some("MG9".into());
        let events = [pooled];
        for sender in ["+14155550150", "MG9"] {
            let mut case = Case::new(&events, Category::Conversational, 1);
            case.directory = directory.clone();
            case.policy.stop_scope = crate::consent::StopScope::SenderGroup;
            case.sender = sender;
            assert_eq!(case.reason(), CheckReason::OptedOut, "{sender}");
        }
        let mut other = Case::new(&events, Category::Conversational, 1);
        other.directory = directory;
        other.policy.stop_scope = crate::consent::StopScope::SenderGroup;
        other.sender = "+14155550151";
        assert_eq!(other.reason(), CheckReason::NoConsent);
    }

    #[test]
    fn a_number_scoped_opt_out_stops_every_group_that_contains_the_number() {
        let opt_out = event(EventKind::OptOut)
            .at(minutes(0))
            .api(Scope::Sender(BUSINESS.into()), Source::PhoneCall)
            .build();
        let events = [opt_out];
        let mut pool = Case::new(&events, Category::Conversational, 1);
        pool.sender = "MG1";
        assert_eq!(
            pool.reason(),
            CheckReason::OptedOut,
            "MG1 shares alerts with it"
        );
        let mut deals = Case::new(&events, Category::Conversational, 1);
        deals.sender = "+14155550101";
        assert_eq!(deals.reason(), CheckReason::NoConsent);
    }

    #[test]
    fn a_group_scoped_opt_out_keeps_the_members_the_group_had() {
        let opt_out = event(EventKind::OptOut)
            .at(minutes(0))
            .api(Scope::Group("alerts".into()), Source::PhoneCall)
            .build();
        let events = [opt_out];
        let removed_later =
            directory().groups[0].updated(SenderGroup::new("alerts", &["MG1"]), minutes(30));
        let deleted = directory().groups[0].deleted(minutes(30));
        for group in [removed_later, deleted] {
            let mut case = Case::new(&events, Category::Conversational, 31);
            case.directory.groups[0] = group.clone();
            assert_eq!(case.reason(), CheckReason::OptedOut, "{group:?}");
        }
        // A sender that left before the opt-out is not held by it.
        let left_before =
            directory().groups[0].updated(SenderGroup::new("alerts", &["MG1"]), minutes(-30));
        let mut case = Case::new(&events, Category::Conversational, 31);
        case.directory.groups[0] = left_before;
        assert_eq!(case.reason(), CheckReason::NoConsent);
    }
}
