//! The append-only consent event and the vocabulary it is written in.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::scope::Scope;
use crate::phone::E164;

/// What happened. Events are facts; the state and every decision are folds over them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// The person asked to stop (keyword, phrase, API, import, provider).
    OptOut,
    /// The person asked to start again (START, UNSTOP, YES, a form, an import).
    OptIn,
    /// Consent of a level for a category was given.
    Grant,
    /// Consent for a category was withdrawn (the number is not opted out).
    Revoke,
    /// An inbound HELP.
    Help,
    /// Any other inbound message: the basis for conversational messages.
    Inbound,
    /// Text that may be a revocation; it opens a review.
    PossibleRevocation,
    /// A review was resolved by a person.
    ReviewResolved,
    /// A number's message text, IP and user agent were erased; every other fact remains.
    Redacted,
    /// Consent given on a hosted form or preference page, waiting for the person's YES from the
    /// number (double opt-in, docs/rules.md rule 9). It never allows a send.
    PendingConsent,
    /// A pending consent confirmed by the person's YES (or START) from the number: the consent
    /// it asked for, now in force, with the confirming message as evidence.
    ConsentConfirmed,
}

impl EventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::OptOut => "opt_out",
            EventKind::OptIn => "opt_in",
            EventKind::Grant => "grant",
            EventKind::Revoke => "revoke",
            EventKind::Help => "help",
            EventKind::Inbound => "inbound",
            EventKind::PossibleRevocation => "possible_revocation",
            EventKind::ReviewResolved => "review_resolved",
            EventKind::Redacted => "redacted",
            EventKind::PendingConsent => "pending_consent",
            EventKind::ConsentConfirmed => "consent_confirmed",
        }
    }
}

/// Message categories, from least to most demanding of consent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Conversational,
    Informational,
    Promotional,
}

impl Category {
    pub const ALL: [Category; 3] = [
        Category::Conversational,
        Category::Informational,
        Category::Promotional,
    ];
}

impl FromStr for Category {
    type Err = String;
    fn from_str(s: &str) -> Result<Category, String> {
        match s {
            "conversational" => Ok(Category::Conversational),
            "informational" => Ok(Category::Informational),
            "promotional" => Ok(Category::Promotional),
            other => Err(format!(
                "unknown category {other:?}; expected conversational, informational or promotional"
            )),
        }
    }
}

/// Consent levels, ordered: a higher level satisfies every need of a lower one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentLevel {
    Implied,
    Express,
    ExpressWritten,
}

/// Where the event came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    SmsKeyword,
    WebForm,
    Paper,
    Verbal,
    Api,
    Import,
    Email,
    PhoneCall,
    Provider,
    WebPreferences,
    /// A possible revocation left unreviewed past its due date (rule 5).
    ReviewExpired,
    /// An opt-out found on a provider's own opt-out list by reconciliation, which Stopgate
    /// had not recorded (`origin.provider` names the provider).
    ProviderList,
}

/// Whose clock `occurred_at` comes from. It decides how events are ordered (rule 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeSource {
    /// The provider's own timestamp for the message.
    Provider,
    /// Stopgate's clock when the webhook arrived (providers that send no timestamp).
    Receipt,
    /// A time stated by the API client or an import file.
    Client,
}

/// Facts about where an event came from, kept so that scope can be decided at read time.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// The business's number, short code or provider sender id the person wrote to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<String>,
    /// The pool the message came through (Twilio Messaging Service, Telnyx messaging profile,
    /// Bandwidth application), besides the number: an opt-out stops both (rule 3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pool: Option<String>,
    /// The sender group `sender` (or its pool) belonged to when the event was recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender_group: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_message_id: Option<String>,
    /// The provider's own keyword verdict (Twilio `OptOutType`), as evidence.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub provider_verdict: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub classifier_version: Option<String>,
}

/// Who recorded the event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Actor {
    /// The person themselves: by text message through a provider webhook, or on a hosted form
    /// or preference page.
    Person,
    /// An API key, by its public id (never the key).
    ApiKey { key_id: String },
    /// An operator using the CLI.
    Operator { name: String },
    /// Stopgate itself (review expiry, replay).
    System { reason: String },
}

/// References to the evidence behind an event. Personal data (message text, IP, user agent)
/// lives in a separate, redactable record; the disclosure text is stored once per tenant.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceRefs {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub disclosure_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_ref: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent: Option<String>,
    /// SHA-256 of an import's source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_file_sha256: Option<String>,
    /// The hosted form the consent was given on, as it was then.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<FormRef>,
    /// The preference link an action was taken through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_id: Option<String>,
    /// The person showed control of the number in this act: a YES from it, or a preference link
    /// that was texted to it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub number_verified: bool,
    /// The provider's id of the message that confirmed a pending consent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirming_message_id: Option<String>,
    /// Whether a redactable private record (text, IP, user agent) exists for this event.
    #[serde(default)]
    pub has_private_record: bool,
}

/// A hosted form as the person saw it: which form, which version of its configuration, and in
/// which language.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormRef {
    pub form_id: String,
    pub version: u64,
    pub language: String,
}

/// What a pending consent asks for once the person confirms it (docs/rules.md rule 9).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingConsent {
    /// The categories consented to, each at `level` once confirmed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<Category>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub level: Option<ConsentLevel>,
    /// Whether it also asks to lift the number's opt-outs in its scope (a preference page's
    /// "resume" from a link not known to reach the number).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub opt_in: bool,
    /// Where the YES must be sent: the sender group the request to confirm comes from.
    pub confirm_to: super::scope::Scope,
}

/// The pending consent a `consent_confirmed` event confirms, and what it put in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confirmation {
    pub pending_event_id: EventId,
    /// When Stopgate received the pending consent: its 24 hours ran from then.
    pub pending_received_at: DateTime<Utc>,
    #[serde(flatten)]
    pub consent: PendingConsent,
}

/// The redactable part of an event: erased by a privacy request, the event stays.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivateEvidence {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
}

impl PrivateEvidence {
    pub fn is_empty(&self) -> bool {
        self.message_text.is_none() && self.ip.is_none() && self.user_agent.is_none()
    }
}

/// How a person resolved a possible revocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewResolution {
    /// It was a revocation: an opt-out is recorded as of the message.
    OptOut,
    NotARevocation,
}

/// The review a review event belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReviewRef {
    pub review_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolution: Option<ReviewResolution>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Event ids are ULIDs: unique, and sortable by the time Stopgate recorded them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    pub fn new(at: DateTime<Utc>) -> EventId {
        let millis = u64::try_from(at.timestamp_millis()).unwrap_or(0);
        EventId(ulid::Ulid::from_parts(millis, rand::random::<u128>()).to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What an event is to the opt-out/opt-in facet of its scope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StandingChange {
    OptOut,
    OptIn,
}

/// One consent event, immutable once recorded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentEvent {
    pub event_id: EventId,
    pub tenant: String,
    pub phone: E164,
    pub kind: EventKind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub category: Option<Category>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<ConsentLevel>,
    /// The scope an API client named. Keyword events name none: their scope comes from
    /// `origin` and the tenant's policy when a check is answered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<Scope>,
    pub origin: Origin,
    pub source: Source,
    pub occurred_at: DateTime<Utc>,
    pub time_source: TimeSource,
    pub received_at: DateTime<Utc>,
    pub recorded_at: DateTime<Utc>,
    pub actor: Actor,
    #[serde(default)]
    pub evidence: EvidenceRefs,
    /// Written consent documented to lift an opt-out (rule 2); flagged in the history.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub override_opt_out: bool,
    /// On `possible_revocation` (the review it opens) and `review_resolved` events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review: Option<ReviewRef>,
    /// Where the person is, as recorded with a consent: it decides their quiet hours (rule 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<super::quiet_hours::Location>,
    /// On `pending_consent` events: what the person asked for, to be confirmed (rule 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<PendingConsent>,
    /// On `consent_confirmed` events: the pending consent confirmed (rule 9).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub confirms: Option<Confirmation>,
}

impl ConsentEvent {
    /// Whether the event is an opt-out or an opt-in on its scope's facet, and so may move the
    /// number's standing there (and enters the change index). Written consent documented to
    /// override an opt-out is an opt-in there (rule 2); a grant alone never is.
    pub fn standing_change(&self) -> Option<StandingChange> {
        match self.kind {
            EventKind::OptOut => Some(StandingChange::OptOut),
            EventKind::OptIn => Some(StandingChange::OptIn),
            EventKind::Grant if self.override_opt_out => Some(StandingChange::OptIn),
            _ => None,
        }
    }
}
