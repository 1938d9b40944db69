//! Events Stopgate derives from other events or records for an operator: the opt-out that a
//! review or a newer classifier finds in an earlier message, a review's resolution, a
//! redaction. Built here, in the domain, so every path (API, CLI, scheduled jobs) records them
//! alike; the flows only commit them.

use chrono::{DateTime, Utc};

use super::event::{
    Actor, Confirmation, ConsentEvent, EventId, EventKind, EvidenceRefs, ReviewRef,
    ReviewResolution, Source, TimeSource,
};
use super::state::PendingFacet;
use crate::keywords::Classification;
use crate::phone::E164;

/// Why Stopgate itself records a review's opt-out.
pub const REVIEW_EXPIRED: &str = "review_expired";

impl ConsentEvent {
    /// The opt-out a possible revocation turned out to be, once a person resolved its review as
    /// a revocation: as of the message itself (its time, sender and origin), so scope and
    /// ordering read it as the person's own act (rule 5).
    pub fn review_opt_out(
        message: &ConsentEvent,
        review_id: &str,
        note: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> ConsentEvent {
        let mut origin = message.origin.clone();
        origin.rule = Some("review".into());
        let review = ReviewRef {
            review_id: review_id.to_string(),
            resolution: Some(ReviewResolution::OptOut),
            note,
        };
        opt_out_as_of(message, origin, actor, Some(review), now)
    }

    /// The opt-out a possible revocation becomes when its review passes its due date unresolved
    /// (rule 5): as of the message, like a resolution's, recorded by Stopgate.
    pub fn review_expired_opt_out(
        message: &ConsentEvent,
        review_id: &str,
        now: DateTime<Utc>,
    ) -> ConsentEvent {
        let actor = Actor::System {
            reason: REVIEW_EXPIRED.into(),
        };
        ConsentEvent {
            source: Source::ReviewExpired,
            ..ConsentEvent::review_opt_out(message, review_id, None, actor, now)
        }
    }

    /// A review's resolution: it closes the review in the number's state (rule 5).
    pub fn review_resolved(
        message: &ConsentEvent,
        review_id: &str,
        resolution: ReviewResolution,
        note: Option<String>,
        actor: Actor,
        now: DateTime<Utc>,
    ) -> ConsentEvent {
        let review = ReviewRef {
            review_id: review_id.to_string(),
            resolution: Some(resolution),
            note,
        };
        ConsentEvent {
            origin: message.origin.clone(),
            review: Some(review),
            ..recorded_now(
                message.tenant.clone(),
                &message.phone,
                EventKind::ReviewResolved,
                actor,
                now,
            )
        }
    }

    /// The opt-out a newer classifier reads in a message an earlier one did not: as of the
    /// message, with the rule that now fires, recorded by Stopgate itself.
    pub fn reclassified_opt_out(
        message: &ConsentEvent,
        classification: &Classification,
        now: DateTime<Utc>,
    ) -> ConsentEvent {
        let mut origin = message.origin.clone();
        origin.rule = Some(classification.rule.clone());
        origin.keyword = classification.keyword.clone();
        origin.language = classification.language.clone();
        origin.classifier_version = Some(classification.classifier_version.clone());
        let actor = Actor::System {
            reason: format!("reclassified {}", message.event_id),
        };
        opt_out_as_of(message, origin, actor, None, now)
    }

    /// The confirmation of a pending consent by `message`, the person's YES (or START) from the
    /// number (rule 9): the consent asked for, in force as of the message, with the pending
    /// consent's evidence (disclosure, form, link) and the confirming message's id, and the
    /// number verified. Its source stays the page's, so it lifts only what that page may.
    pub fn consent_confirmed(pending: &PendingFacet, message: &ConsentEvent) -> ConsentEvent {
        ConsentEvent {
            event_id: EventId::new(message.recorded_at),
            kind: EventKind::ConsentConfirmed,
            category: None,
            level: None,
            scope: Some(pending.scope.clone()),
            source: pending.mark.source,
            actor: Actor::Person,
            evidence: EvidenceRefs {
                number_verified: true,
                confirming_message_id: message.origin.provider_message_id.clone(),
                has_private_record: false,
                ..pending.evidence.clone()
            },
            override_opt_out: false,
            review: None,
            location: None,
            pending: None,
            confirms: Some(Confirmation {
                pending_event_id: pending.mark.event_id.clone(),
                pending_received_at: pending.mark.received_at,
                consent: pending.consent.clone(),
            }),
            ..message.clone()
        }
    }

    /// The record that a number's message text, IP and user agent were erased; every other
    /// fact, and every opt-out, stays.
    pub fn redaction(tenant: &str, phone: &E164, actor: Actor, now: DateTime<Utc>) -> ConsentEvent {
        recorded_now(tenant.to_string(), phone, EventKind::Redacted, actor, now)
    }
}

/// An opt-out read in `message`, dated as the message (occurred, received, time source, scope),
/// recorded `now`. The message's text stays with the message.
fn opt_out_as_of(
    message: &ConsentEvent,
    origin: super::event::Origin,
    actor: Actor,
    review: Option<ReviewRef>,
    now: DateTime<Utc>,
) -> ConsentEvent {
    ConsentEvent {
        event_id: EventId::new(now),
        kind: EventKind::OptOut,
        category: None,
        level: None,
        origin,
        recorded_at: now,
        actor,
        evidence: EvidenceRefs::default(),
        override_opt_out: false,
        review,
        location: None,
        pending: None,
        confirms: None,
        ..message.clone()
    }
}

/// An event about a number that Stopgate or an operator records `now`, as of now.
fn recorded_now(
    tenant: String,
    phone: &E164,
    kind: EventKind,
    actor: Actor,
    now: DateTime<Utc>,
) -> ConsentEvent {
    ConsentEvent {
        event_id: EventId::new(now),
        tenant,
        phone: phone.clone(),
        kind,
        category: None,
        level: None,
        scope: None,
        origin: Default::default(),
        source: Source::Api,
        occurred_at: now,
        time_source: TimeSource::Receipt,
        received_at: now,
        recorded_at: now,
        actor,
        evidence: EvidenceRefs::default(),
        override_opt_out: false,
        review: None,
        location: None,
        pending: None,
        confirms: None,
    }
}

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;
    use crate::consent::{NumberState, SenderDirectory, TenantPolicy};
    use crate::keywords::Intent;

    fn message() -> ConsentEvent {
        let at = Utc.with_ymd_and_hms(2026, 3, 2, 15, 0, 0).single().unwrap();
        let mut message = crate::testing::events::event(EventKind::PossibleRevocation)
            .at(at)
            .provider_message("twilio", "SM1")
            .with_private_record()
            .review("r1")
            .build();
        message.origin.rule = Some("dismissal".into());
        message
    }

    #[test]
    fn a_review_opt_out_is_as_of_the_message_and_denies_from_its_sender() {
        let message = message();
        let later = message.recorded_at + Duration::days(3);
        let opt_out = ConsentEvent::review_opt_out(
            &message,
            "r1",
            None,
            Actor::Operator { name: "ana".into() },
            later,
        );
        assert_eq!(opt_out.kind, EventKind::OptOut);
        assert_eq!(opt_out.occurred_at, message.occurred_at);
        assert_eq!(opt_out.received_at, message.received_at);
        assert_eq!(opt_out.recorded_at, later);
        assert_ne!(opt_out.event_id, message.event_id);
        assert_eq!(opt_out.origin.sender, message.origin.sender);
        assert!(
            !opt_out.evidence.has_private_record,
            "the text stays with the message"
        );

        let mut state = NumberState::default();
        state.apply(&message);
        state.apply(&opt_out);
        let policy = TenantPolicy::default();
        let directory = SenderDirectory::default();
        let send = crate::consent::SendContext::new(&directory, "+14155550100", None);
        let decision = crate::consent::decide(&crate::consent::DecisionInput {
            state: &state,
            policy: &policy,
            directory: &directory,
            send: &send,
            category: crate::consent::Category::Conversational,
            now: later,
            exemption: None,
            phone: &message.phone,
            send_at: None,
            location: None,
        });
        assert_eq!(decision.reason, crate::consent::CheckReason::OptedOut);
    }

    #[test]
    fn a_reclassified_opt_out_names_the_rule_that_now_fires() {
        let message = message();
        let now = message.recorded_at + Duration::days(30);
        let classification = Classification {
            intent: Intent::OptOut,
            rule: "revocation_phrase".into(),
            language: Some("en".into()),
            classifier_version: "next".into(),
            keyword: Some("stop texting".into()),
        };
        let opt_out = ConsentEvent::reclassified_opt_out(&message, &classification, now);
        assert_eq!(opt_out.kind, EventKind::OptOut);
        assert_eq!(opt_out.occurred_at, message.occurred_at);
        assert_eq!(opt_out.origin.rule.as_deref(), Some("revocation_phrase"));
        assert_eq!(opt_out.origin.classifier_version.as_deref(), Some("next"));
        assert_eq!(opt_out.review, None);
        assert!(matches!(opt_out.actor, Actor::System { .. }));
    }

    #[test]
    fn a_resolution_and_a_redaction_touch_no_suppression_facet() {
        let message = message();
        let now = message.recorded_at + Duration::hours(1);
        let mut state = NumberState::default();
        state.apply(&message);
        assert_eq!(state.pending_reviews.len(), 1);
        let resolved = ConsentEvent::review_resolved(
            &message,
            "r1",
            ReviewResolution::NotARevocation,
            Some("asked about an order".into()),
            Actor::Person,
            now,
        );
        state.apply(&resolved);
        assert!(state.pending_reviews.is_empty());
        assert_eq!(state.resolved_reviews, vec!["r1".to_string()]);
        let redaction = ConsentEvent::redaction("t", &message.phone, Actor::Person, now);
        state.apply(&redaction);
        assert!(state.suppression.is_empty());
    }
}
