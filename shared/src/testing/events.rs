//! Consent events for tests and benches: name the fields a test is about, take plain defaults for
//! the rest. By default an event is an SMS keyword from the person (`+14155550123`) to the
//! business number `+14155550100`, receipt-stamped at 2026-05-04 12:00 UTC, in tenant `t`.

use chrono::{DateTime, Duration, TimeZone, Utc};

use crate::consent::{
    Actor, Category, ConsentEvent, ConsentLevel, EventId, EventKind, EvidenceRefs, Origin,
    ReviewRef, Scope, Source, TimeSource,
};
use crate::phone::E164;

pub const PERSON: &str = "+14155550123";
pub const BUSINESS: &str = "+14155550100";

/// The default instant of a built event; `minutes(n)` is `n` minutes after it.
pub fn t0() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 5, 4, 18, 0, 0)
        .single()
        .unwrap_or_default()
}

pub fn minutes(n: i64) -> DateTime<Utc> {
    t0() + Duration::minutes(n)
}

#[derive(Debug, Clone)]
pub struct EventBuilder(ConsentEvent);

/// An event of `kind`: a keyword from the person to [`BUSINESS`] at [`t0`], unless told otherwise.
pub fn event(kind: EventKind) -> EventBuilder {
    let at = t0();
    EventBuilder(ConsentEvent {
        event_id: EventId::new(at),
        tenant: "t".into(),
        phone: E164::from_stored(PERSON).unwrap_or_else(|| unreachable!("a valid number")),
        kind,
        category: None,
        level: None,
        scope: None,
        origin: Origin {
            sender: Some(BUSINESS.into()),
            ..Origin::default()
        },
        source: Source::SmsKeyword,
        occurred_at: at,
        time_source: TimeSource::Receipt,
        received_at: at,
        recorded_at: at,
        actor: Actor::Person,
        evidence: EvidenceRefs::default(),
        override_opt_out: false,
        review: None,
        location: None,
        pending: None,
        confirms: None,
    })
}

impl EventBuilder {
    pub fn tenant(mut self, tenant: &str) -> Self {
        self.0.tenant = tenant.into();
        self
    }

    pub fn phone(mut self, phone: &E164) -> Self {
        self.0.phone = phone.clone();
        self
    }

    /// Occurred, received and recorded at `at`, with an id of that time.
    pub fn at(mut self, at: DateTime<Utc>) -> Self {
        self.0.occurred_at = at;
        self.0.received_at = at;
        self.0.recorded_at = at;
        self.0.event_id = EventId::new(at);
        self
    }

    /// Stopgate received (and recorded) it at `at`; `occurred_at` stays.
    pub fn received_at(mut self, at: DateTime<Utc>) -> Self {
        self.0.received_at = at;
        self.0.recorded_at = at;
        self.0.event_id = EventId::new(at);
        self
    }

    /// Recorded at `at` (with an id of that time); occurred and received stay.
    pub fn recorded_at(mut self, at: DateTime<Utc>) -> Self {
        self.0.recorded_at = at;
        self.0.event_id = EventId::new(at);
        self
    }

    pub fn time_source(mut self, time_source: TimeSource) -> Self {
        self.0.time_source = time_source;
        self
    }

    pub fn id(mut self, id: &str) -> Self {
        self.0.event_id = EventId(id.into());
        self
    }

    /// Sent to `sender` (a number, short code or pool id); not in any group unless `group` says.
    pub fn sender(mut self, sender: &str) -> Self {
        self.0.origin.sender = Some(sender.into());
        self
    }

    pub fn group(mut self, group: &str) -> Self {
        self.0.origin.sender_group = Some(group.into());
        self
    }

    pub fn program(mut self, program: &str) -> Self {
        self.0.origin.program = Some(program.into());
        self
    }

    pub fn brand(mut self, brand: &str) -> Self {
        self.0.origin.brand = Some(brand.into());
        self
    }

    pub fn keyword(mut self, keyword: &str) -> Self {
        self.0.origin.keyword = Some(keyword.into());
        self
    }

    pub fn provider_message(mut self, provider: &str, message_id: &str) -> Self {
        self.0.origin.provider = Some(provider.into());
        self.0.origin.provider_message_id = Some(message_id.into());
        self
    }

    /// Recorded through the API by a key, in the scope it names, from `source`.
    pub fn api(mut self, scope: Scope, source: Source) -> Self {
        self.0.scope = Some(scope);
        self.0.source = source;
        self.0.origin = Origin::default();
        self.0.actor = Actor::ApiKey {
            key_id: "key_test".into(),
        };
        self
    }

    pub fn source(mut self, source: Source) -> Self {
        self.0.source = source;
        self
    }

    pub fn actor(mut self, actor: Actor) -> Self {
        self.0.actor = actor;
        self
    }

    /// The category and level it grants (`None`: a revocation).
    pub fn consent(mut self, category: Category, level: Option<ConsentLevel>) -> Self {
        self.0.category = Some(category);
        self.0.level = level;
        self
    }

    pub fn disclosure(mut self, sha256: &str) -> Self {
        self.0.evidence.disclosure_sha256 = Some(sha256.into());
        self
    }

    pub fn document_ref(mut self, reference: &str) -> Self {
        self.0.evidence.document_ref = Some(reference.into());
        self
    }

    /// Has a redactable private record (message text, IP, user agent).
    pub fn with_private_record(mut self) -> Self {
        self.0.evidence.has_private_record = true;
        self
    }

    pub fn override_opt_out(mut self) -> Self {
        self.0.override_opt_out = true;
        self
    }

    /// Opens (a possible revocation) or names the review `review_id`.
    pub fn review(mut self, review_id: &str) -> Self {
        self.0.review = Some(ReviewRef {
            review_id: review_id.into(),
            resolution: None,
            note: None,
        });
        self
    }

    /// Opens a review of its own (a possible revocation): the review id is the event id.
    pub fn opens_review(self) -> Self {
        let id = self.0.event_id.to_string();
        self.review(&id)
    }

    pub fn build(self) -> ConsentEvent {
        self.0
    }
}
