//! Turning one verified inbound message into a consent event (and its private record).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::opt_outs_in_force;
use super::event::{
    Actor, ConsentEvent, EventId, EventKind, EvidenceRefs, Origin, PrivateEvidence, ReviewRef,
    Source, TimeSource,
};
use super::ordering::{Mark, YES, lifts};
use super::policy::TenantPolicy;
use super::scope::{Scope, SendContext, SenderDirectory};
use super::state::{FacetScope, NumberState};
use crate::keywords::{Classification, Intent};
use crate::phone::E164;

/// One inbound SMS as the provider described it: what every provider module produces. Numbers
/// are as the provider sent them; the caller normalises them to E.164.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// The provider that delivered it, as it appears in webhook paths (`twilio`, `aws`, ...).
    pub provider: String,
    /// The provider's id for this message: the dedupe key.
    pub message_id: String,
    pub from: String,
    pub to: String,
    pub text: String,
    /// A provider-side grouping of senders (Twilio Messaging Service SID), when sent.
    pub messaging_service: Option<String>,
    /// The provider's own timestamp for the message; `None` when the provider sends none
    /// (Twilio, Plivo), in which case the event is receipt-stamped.
    pub provider_time: Option<DateTime<Utc>>,
    /// The provider's own keyword verdict (Twilio `OptOutType`), kept as evidence.
    pub provider_verdict: Option<String>,
    /// Set when the provider itself reports a consent change with no text to classify
    /// (RingCentral's A2P opt-out events): the event is recorded with source `provider`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_intent: Option<Intent>,
}

/// A verified inbound message with its numbers already normalised.
pub struct InboundFacts<'a> {
    pub tenant: &'a str,
    pub message: &'a InboundMessage,
    pub from: E164,
    /// The business's number (E.164), or the provider's sender id when it is not a number.
    pub to: String,
    pub classification: &'a Classification,
    pub received_at: DateTime<Utc>,
}

pub fn event_kind(intent: Intent) -> EventKind {
    match intent {
        Intent::OptOut => EventKind::OptOut,
        Intent::OptIn => EventKind::OptIn,
        Intent::Help => EventKind::Help,
        Intent::PossibleRevocation => EventKind::PossibleRevocation,
        Intent::None => EventKind::Inbound,
    }
}

pub fn inbound_event(
    facts: &InboundFacts<'_>,
    directory: &SenderDirectory,
    recorded_at: DateTime<Utc>,
) -> (ConsentEvent, PrivateEvidence) {
    let message = facts.message;
    // The number is the sender; a pool it came through is recorded beside it. The number's
    // group places it, else the pool's.
    let sender = facts.to.clone();
    let pool = message
        .messaging_service
        .clone()
        .filter(|p| !p.trim().is_empty() && *p != sender);
    let mut placement = directory.placement(&sender);
    if let (Scope::Sender(_), Some(pool)) = (&placement.group, &pool) {
        let pooled = directory.placement(pool);
        if matches!(pooled.group, Scope::Group(_)) {
            placement = pooled;
        }
    }
    let sender_group = match placement.group {
        Scope::Group(name) => Some(name),
        _ => None,
    };
    // A provider clock ahead of ours cannot make a message later than its arrival.
    let (occurred_at, time_source) = match message.provider_time {
        Some(t) => (t.min(facts.received_at), TimeSource::Provider),
        None => (facts.received_at, TimeSource::Receipt),
    };
    let c = facts.classification;
    let event_id = EventId::new(recorded_at);
    let event = ConsentEvent {
        event_id: event_id.clone(),
        tenant: facts.tenant.to_string(),
        phone: facts.from.clone(),
        kind: event_kind(c.intent),
        category: None,
        level: None,
        scope: None,
        origin: Origin {
            sender: Some(sender),
            pool,
            sender_group,
            program: placement.program,
            brand: placement.brand,
            provider: Some(message.provider.clone()),
            provider_message_id: Some(message.message_id.clone()),
            provider_verdict: message.provider_verdict.clone(),
            keyword: c.keyword.clone(),
            rule: Some(c.rule.clone()),
            language: c.language.clone(),
            classifier_version: Some(c.classifier_version.clone()),
        },
        source: if message.provider_intent.is_some() {
            Source::Provider
        } else {
            Source::SmsKeyword
        },
        occurred_at,
        time_source,
        received_at: facts.received_at,
        recorded_at,
        actor: Actor::Person,
        evidence: EvidenceRefs {
            has_private_record: !message.text.is_empty(),
            ..EvidenceRefs::default()
        },
        override_opt_out: false,
        review: (c.intent == Intent::PossibleRevocation).then(|| ReviewRef {
            review_id: event_id.to_string(),
            resolution: None,
            note: None,
        }),
        location: None,
        pending: None,
        confirms: None,
    };
    let private = PrivateEvidence {
        message_text: Some(message.text.clone()).filter(|t| !t.is_empty()),
        ..PrivateEvidence::default()
    };
    (event, private)
}

/// What an inbound message becomes on the number's state as it stands when it is recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Settlement {
    /// Record it as it is.
    AsIs,
    /// A YES out of context: record this ordinary message instead (rule 2).
    Ordinary(Box<ConsentEvent>),
    /// An opt-in keyword (YES, START, ...) that confirms the pending consents waiting for it
    /// (rule 9): record it as the opt-in it is, together with these confirmations.
    Confirms(Vec<ConsentEvent>),
}

/// Rules 2 and 9 for one inbound message, judged on `state`: an opt-in keyword sent to the sender
/// group a pending consent waits on, within its 24 hours, confirms it (and a YES is then in
/// context); otherwise a YES out of context is an ordinary message.
pub fn settle(
    state: &NumberState,
    event: &ConsentEvent,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Settlement {
    let confirmations = confirmations(state, event);
    if !confirmations.is_empty() {
        return Settlement::Confirms(confirmations);
    }
    match yes_out_of_context(state, event, policy, directory) {
        Some(ordinary) => Settlement::Ordinary(Box::new(ordinary)),
        None => Settlement::AsIs,
    }
}

/// The confirmations `message` makes: one for every pending consent open when Stopgate
/// received it (and received before it) whose YES must go to the group it was sent to. Only a
/// keyword the person texted counts, never a provider's report.
fn confirmations(state: &NumberState, message: &ConsentEvent) -> Vec<ConsentEvent> {
    if message.kind != EventKind::OptIn || message.source != Source::SmsKeyword {
        return Vec::new();
    }
    let Some(FacetScope::Keyword { group, .. }) = FacetScope::of(message) else {
        return Vec::new();
    };
    state
        .open_pending(&group, message.received_at)
        .filter(|p| p.mark.received_at < message.received_at)
        .map(|p| ConsentEvent::consent_confirmed(p, message))
        .collect()
}

/// Rule 2: a YES is an opt-in only in context — while an opt-out it would lift is in force for
/// the sender group it was sent to, or a double opt-in is pending there (rule 9, which
/// [`settle`] judges first). Otherwise it is an ordinary inbound message: recorded as
/// `inbound`, it lifts nothing, joins no opt-in list and answers no review. Returns that
/// ordinary event when `event` is a YES out of context, judged on `state` as it stands when
/// the YES is recorded.
pub fn yes_out_of_context(
    state: &NumberState,
    event: &ConsentEvent,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Option<ConsentEvent> {
    if event.kind != EventKind::OptIn || event.origin.keyword.as_deref() != Some(YES) {
        return None;
    }
    let sender = event.origin.sender.as_deref()?;
    let send = SendContext::new(directory, sender, None);
    let yes = Mark::of(event);
    let in_context = opt_outs_in_force(state, policy, directory, &send, event.received_at)
        .any(|(_, opt_out)| lifts(&yes, opt_out));
    if in_context {
        return None;
    }
    let mut ordinary = event.clone();
    ordinary.kind = EventKind::Inbound;
    ordinary.origin.rule = Some(YES_OUT_OF_CONTEXT.into());
    Some(ordinary)
}

/// The rule an ordinary YES is recorded under.
pub const YES_OUT_OF_CONTEXT: &str = "yes_out_of_context";
