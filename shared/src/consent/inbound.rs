//! Turning one verified inbound message into a consent event (and its private record).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::event::{
    Actor, ConsentEvent, EventId, EventKind, EvidenceRefs, Origin, PrivateEvidence, ReviewRef,
    Source, TimeSource,
};
use super::scope::{Scope, SenderDirectory};
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
    // A messaging service id names the sender group when it is configured; else the number does.
    let sender = message
        .messaging_service
        .as_deref()
        .filter(|ms| matches!(directory.placement(ms).group, Scope::Group(_)))
        .unwrap_or(&facts.to)
        .to_string();
    let placement = directory.placement(&sender);
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
    };
    let private = PrivateEvidence {
        message_text: Some(message.text.clone()).filter(|t| !t.is_empty()),
        ..PrivateEvidence::default()
    };
    (event, private)
}
