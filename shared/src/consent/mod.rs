//! The consent ledger's domain: events, the per-number state, scopes and the decision. Pure.
//!
//! "Rule N" in this module is rule N of docs/rules.md.

pub mod audit;
pub mod calendar;
pub mod chain;
pub mod decision;
pub mod derived;
pub mod event;
pub mod forms;
pub mod inbound;
pub mod notifications;
pub mod ordering;
pub mod policy;
pub mod quiet_hours;
pub mod reconcile;
pub mod record;
pub mod scope;
pub mod standing;
pub mod state;

pub use decision::{CheckDecision, CheckReason, DecisionInput, decide};
pub use event::{
    Actor, Category, Confirmation, ConsentEvent, ConsentLevel, EventId, EventKind, EvidenceRefs,
    FormRef, Origin, PendingConsent, PrivateEvidence, ReviewRef, ReviewResolution, Source,
    StandingChange, TimeSource,
};
pub use inbound::InboundMessage;
pub use policy::{ExportSchedule, ReplyMode, TenantPolicy};
pub use scope::{Scope, SendContext, SenderDirectory, SenderGroup, StopScope};
pub use state::{FoldOutcome, NumberState};

#[cfg(test)]
mod properties;
