//! The per-number state: every facet, folded from the events in any order.
//!
//! The fold is order-independent: each facet keeps only the marks that can still matter under
//! rule 1, in a canonical order, so the state after any delivery order of the same events is
//! the same value. Scope is not resolved here; facets keep their origin and the decision
//! resolves it under the tenant's current policy.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::event::{
    Category, ConsentEvent, ConsentLevel, EventKind, EvidenceRefs, PendingConsent, StandingChange,
};
use super::ordering::{Mark, opt_in_covers, opt_out_covers};
use super::policy::TenantPolicy;
use super::scope::{Placement, Scope, SendContext, SenderDirectory};

/// Where a suppression facet applies: a scope an API client named, or the origin of a keyword
/// (the sender and where it sat then), whose scope the tenant's policy decides at read time.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum FacetScope {
    Named {
        scope: Scope,
    },
    Keyword {
        sender: String,
        group: Scope,
        program: Option<String>,
        brand: Option<String>,
        /// The pool the message came through, if any: a second way the person reached us.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pool: Option<String>,
    },
}

impl FacetScope {
    pub fn of(event: &ConsentEvent) -> Option<FacetScope> {
        if let Some(scope) = &event.scope {
            return Some(FacetScope::Named {
                scope: scope.clone(),
            });
        }
        let sender = event.origin.sender.clone()?;
        let group = match &event.origin.sender_group {
            Some(g) => Scope::Group(g.clone()),
            None => Scope::Sender(sender.clone()),
        };
        Some(FacetScope::Keyword {
            sender,
            group,
            program: event.origin.program.clone(),
            brand: event.origin.brand.clone(),
            pool: event.origin.pool.clone(),
        })
    }

    /// The scopes this facet could mean, per way the person reached us (the number, and the
    /// pool it came through): as recorded, and as that sender sits now.
    fn channels(&self, policy: &TenantPolicy, directory: &SenderDirectory) -> Vec<Vec<Scope>> {
        match self {
            FacetScope::Named { scope } => vec![vec![scope.clone()]],
            FacetScope::Keyword {
                sender,
                group,
                program,
                brand,
                pool,
            } => {
                let recorded = policy.stop_scope.apply(&Placement {
                    group: group.clone(),
                    program: program.clone(),
                    brand: brand.clone(),
                });
                std::iter::once(sender)
                    .chain(pool)
                    .map(|via| {
                        let mut readings = vec![
                            recorded.clone(),
                            policy.stop_scope.apply(&directory.placement(via)),
                        ];
                        readings.dedup();
                        readings
                    })
                    .collect()
            }
        }
    }

    /// Every scope this facet could mean.
    pub(crate) fn readings(
        &self,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> Vec<Scope> {
        let mut readings: Vec<Scope> = self.channels(policy, directory).concat();
        readings.sort();
        readings.dedup();
        readings
    }

    /// The scope this facet reads as under the tenant's current policy, for lookup, the
    /// opt-out list and exports: a named scope as named; a keyword's as a STOP sent to that
    /// sender now would reach (rule 3).
    pub fn label(&self, policy: &TenantPolicy, directory: &SenderDirectory) -> Scope {
        match self {
            FacetScope::Named { scope } => scope.clone(),
            FacetScope::Keyword { sender, .. } => {
                policy.stop_scope.apply(&directory.placement(sender))
            }
        }
    }

    /// An opt-out here stops the send if any reading of its scope contains it.
    pub fn denies(
        &self,
        send: &SendContext,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> Option<Scope> {
        self.readings(policy, directory)
            .into_iter()
            .find(|s| s.denies(send))
    }

    /// As `denies`, for an opt-out recorded at `at`: a group keeps the members it had then.
    pub fn denies_as_of(
        &self,
        send: &SendContext,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
        at: chrono::DateTime<chrono::Utc>,
    ) -> Option<Scope> {
        self.readings(policy, directory)
            .into_iter()
            .find(|s| s.denies_as_of(send, at))
    }

    /// Does an opt-in here answer an opt-out in `other` wherever that opt-out reaches? Every
    /// reading of `other` must lie within every reading of one way the person reached us here.
    pub fn covers(
        &self,
        other: &FacetScope,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> bool {
        let channels = self.channels(policy, directory);
        other.readings(policy, directory).iter().all(|reading| {
            channels
                .iter()
                .any(|channel| channel.iter().all(|s| s.contains(reading, directory)))
        })
    }

    /// An opt-in here covers the send only if, through one way the person reached us, every
    /// reading of its scope contains it.
    pub fn allows(
        &self,
        send: &SendContext,
        policy: &TenantPolicy,
        directory: &SenderDirectory,
    ) -> bool {
        self.channels(policy, directory)
            .iter()
            .any(|readings| readings.iter().all(|s| s.allows(send)))
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SuppressionFacet {
    pub scope: FacetScope,
    /// The opt-outs no other opt-out here covers (see `ordering::opt_out_covers`).
    pub opt_outs: Vec<Mark>,
    /// The latest opt-in per time source.
    pub opt_ins: Vec<Mark>,
}

/// The latest consent level for one category in one scope; `level: None` means revoked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentFacet {
    pub category: Category,
    pub scope: Scope,
    pub level: Option<ConsentLevel>,
    pub mark: Mark,
    /// Where the person said they are when they gave it (rule 7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<super::quiet_hours::Location>,
}

/// The latest inbound message (or HELP) from the person to one sender group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboundFacet {
    pub group: Scope,
    pub mark: Mark,
}

/// A possible revocation waiting for a person's review (docs/rules.md rule 5).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingReview {
    pub review_id: String,
    /// Where the message was sent: its scope is decided like a keyword STOP's.
    pub scope: FacetScope,
    /// The message; the review is due a number of business days after its receipt.
    pub mark: Mark,
}

/// How long a pending consent waits for the person's YES (docs/rules.md rule 9).
pub const PENDING_WINDOW: Duration = Duration::hours(24);

/// A consent given on a hosted page, waiting for the person's YES from the number (rule 9).
/// Whether it is still open is judged at read time, by time: nothing needs to sweep it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingFacet {
    /// The pending consent event; the window runs from when Stopgate received it.
    pub mark: Mark,
    /// The scope the consent is for once confirmed.
    pub scope: Scope,
    pub consent: PendingConsent,
    /// Its evidence references (disclosure, form, link): the confirmation carries them.
    pub evidence: EvidenceRefs,
}

impl PendingFacet {
    pub fn expires_at(&self) -> DateTime<Utc> {
        self.mark.received_at + PENDING_WINDOW
    }

    /// Waiting for the YES at `at`: received by then, and not expired.
    pub fn open_at(&self, at: DateTime<Utc>) -> bool {
        self.mark.received_at <= at && at <= self.expires_at()
    }

    /// Expired before another pending consent was even received (at `other_received_at`): it
    /// can never be open again at any time a state holding that one is judged (never before
    /// what it holds arrived), so the state need not keep it.
    fn superseded_at(&self, other_received_at: DateTime<Utc>) -> bool {
        other_received_at > self.expires_at()
    }
}

/// A pending consent already confirmed: so a late-arriving copy is not opened again, and its
/// receipt still retires the ones that expired before it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfirmedPending {
    pub event_id: String,
    pub received_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct NumberState {
    pub suppression: Vec<SuppressionFacet>,
    pub consents: Vec<ConsentFacet>,
    pub last_inbound: Vec<InboundFacet>,
    pub last_help: Vec<InboundFacet>,
    pub pending_reviews: Vec<PendingReview>,
    /// Reviews already resolved, so a late-arriving opening cannot reopen one.
    pub resolved_reviews: Vec<String>,
    /// Consents waiting for the person's YES (rule 9), oldest first.
    pub pending_consents: Vec<PendingFacet>,
    /// Pending consents already confirmed, by event id.
    pub confirmed_pending: Vec<ConfirmedPending>,
    /// How many events were folded in.
    pub event_count: u64,
}

/// What folding one event did, for the caller's logs and the change index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldOutcome {
    /// A facet moved.
    Changed,
    /// The event is recorded, but a later event already decides its facet (rule 1).
    StaleFacet,
    /// The event touches no facet (a possible revocation, a review resolution).
    NoFacet,
}

impl NumberState {
    pub fn apply(&mut self, event: &ConsentEvent) -> FoldOutcome {
        self.event_count += 1;
        let mark = Mark::of(event);
        match event.kind {
            EventKind::OptOut | EventKind::OptIn | EventKind::Grant | EventKind::Revoke => {
                // An opt-in, or written consent documented to override an opt-out (rule 2),
                // is an opt-in mark; a grant alone never lifts an opt-out.
                let suppression = event
                    .standing_change()
                    .map(|change| change == StandingChange::OptOut);
                let mut outcome = FoldOutcome::NoFacet;
                if let (Some(is_opt_out), Some(scope)) = (suppression, FacetScope::of(event)) {
                    // START is also a message from the person: a basis for conversational replies.
                    if let (false, FacetScope::Keyword { group, .. }) = (is_opt_out, &scope) {
                        latest(
                            &mut self.last_inbound,
                            InboundFacet {
                                group: group.clone(),
                                mark: mark.clone(),
                            },
                        );
                    }
                    outcome = self.apply_suppression(scope, is_opt_out, mark.clone());
                }
                // Grants, revocations, and opt-ins that name a category and level move the
                // consent facet of that category and scope.
                let level = match event.kind {
                    EventKind::Grant | EventKind::OptIn => event.level,
                    _ => None,
                };
                let carries_consent = event.kind == EventKind::Revoke || level.is_some();
                if let (true, Some(category), Some(scope)) =
                    (carries_consent, event.category, event.scope.clone())
                {
                    let consent = self.apply_consent(ConsentFacet {
                        category,
                        scope,
                        level,
                        mark,
                        location: event.location.clone(),
                    });
                    if consent == FoldOutcome::Changed || outcome == FoldOutcome::NoFacet {
                        outcome = consent;
                    }
                }
                outcome
            }
            EventKind::Inbound | EventKind::Help => {
                let Some(FacetScope::Keyword { group, .. }) = FacetScope::of(event) else {
                    return FoldOutcome::NoFacet;
                };
                let outcome = latest(
                    &mut self.last_inbound,
                    InboundFacet {
                        group: group.clone(),
                        mark: mark.clone(),
                    },
                );
                if event.kind == EventKind::Help {
                    latest(&mut self.last_help, InboundFacet { group, mark });
                }
                outcome
            }
            EventKind::PossibleRevocation => {
                let review_id = event
                    .review
                    .as_ref()
                    .map(|r| r.review_id.clone())
                    .unwrap_or_else(|| event.event_id.to_string());
                let Some(scope) = FacetScope::of(event) else {
                    return FoldOutcome::NoFacet;
                };
                if self.resolved_reviews.contains(&review_id)
                    || self
                        .pending_reviews
                        .iter()
                        .any(|r| r.review_id == review_id)
                {
                    return FoldOutcome::StaleFacet;
                }
                self.pending_reviews.push(PendingReview {
                    review_id,
                    scope,
                    mark,
                });
                self.pending_reviews.sort_by(|a, b| {
                    (a.mark.canonical_key(), &a.review_id)
                        .cmp(&(b.mark.canonical_key(), &b.review_id))
                });
                FoldOutcome::Changed
            }
            EventKind::ReviewResolved => {
                let Some(review) = &event.review else {
                    return FoldOutcome::NoFacet;
                };
                self.pending_reviews
                    .retain(|r| r.review_id != review.review_id);
                if let Err(i) = self.resolved_reviews.binary_search(&review.review_id) {
                    self.resolved_reviews.insert(i, review.review_id.clone());
                }
                FoldOutcome::Changed
            }
            EventKind::Redacted => FoldOutcome::NoFacet,
            EventKind::PendingConsent => {
                let (Some(consent), Some(scope)) = (&event.pending, &event.scope) else {
                    return FoldOutcome::NoFacet;
                };
                let id = event.event_id.as_str();
                if self
                    .confirmed_pending
                    .binary_search_by(|c| c.event_id.as_str().cmp(id))
                    .is_ok()
                {
                    return FoldOutcome::StaleFacet;
                }
                let evidence = EvidenceRefs {
                    has_private_record: false,
                    ..event.evidence.clone()
                };
                self.apply_pending(PendingFacet {
                    mark,
                    scope: scope.clone(),
                    consent: consent.clone(),
                    evidence,
                })
            }
            EventKind::ConsentConfirmed => {
                let Some(confirmation) = &event.confirms else {
                    return FoldOutcome::NoFacet;
                };
                let id = confirmation.pending_event_id.as_str();
                let received_at = confirmation.pending_received_at;
                self.pending_consents
                    .retain(|p| p.mark.event_id.as_str() != id && !p.superseded_at(received_at));
                if let Err(i) = self
                    .confirmed_pending
                    .binary_search_by(|c| c.event_id.as_str().cmp(id))
                {
                    self.confirmed_pending.insert(
                        i,
                        ConfirmedPending {
                            event_id: id.to_string(),
                            received_at,
                        },
                    );
                }
                let Some(scope) = &event.scope else {
                    return FoldOutcome::Changed;
                };
                if let Some(level) = confirmation.consent.level {
                    for category in &confirmation.consent.categories {
                        self.apply_consent(ConsentFacet {
                            category: *category,
                            scope: scope.clone(),
                            level: Some(level),
                            mark: mark.clone(),
                            location: event.location.clone(),
                        });
                    }
                }
                // A confirmed "resume" is the person's own act from the number (rule 2).
                if confirmation.consent.opt_in {
                    self.apply_suppression(
                        FacetScope::Named {
                            scope: scope.clone(),
                        },
                        false,
                        mark,
                    );
                }
                FoldOutcome::Changed
            }
        }
    }

    /// Keeps the pending consents that can still be open, sorted by receipt, whatever the order
    /// they arrive in: one that expired before another (open or confirmed) was received is
    /// dropped, so a number's state stays small however often a page is used.
    fn apply_pending(&mut self, incoming: PendingFacet) -> FoldOutcome {
        let known = self
            .pending_consents
            .iter()
            .any(|p| p.mark.event_id == incoming.mark.event_id);
        let superseded = self
            .pending_consents
            .iter()
            .map(|p| p.mark.received_at)
            .chain(self.confirmed_pending.iter().map(|c| c.received_at))
            .any(|at| incoming.superseded_at(at));
        if known || superseded {
            return FoldOutcome::StaleFacet;
        }
        let received_at = incoming.mark.received_at;
        self.pending_consents
            .retain(|p| !p.superseded_at(received_at));
        self.pending_consents.push(incoming);
        self.pending_consents
            .sort_by(|a, b| a.mark.canonical_key().cmp(&b.mark.canonical_key()));
        FoldOutcome::Changed
    }

    /// The pending consents open at `at` whose YES must go to `group`.
    pub fn open_pending<'a>(
        &'a self,
        group: &'a Scope,
        at: DateTime<Utc>,
    ) -> impl Iterator<Item = &'a PendingFacet> + 'a {
        self.pending_consents
            .iter()
            .filter(move |p| p.consent.confirm_to == *group && p.open_at(at))
    }

    fn apply_suppression(
        &mut self,
        scope: FacetScope,
        is_opt_out: bool,
        mark: Mark,
    ) -> FoldOutcome {
        let index = match self.suppression.binary_search_by(|f| f.scope.cmp(&scope)) {
            Ok(i) => i,
            Err(i) => {
                self.suppression.insert(
                    i,
                    SuppressionFacet {
                        scope,
                        opt_outs: vec![],
                        opt_ins: vec![],
                    },
                );
                i
            }
        };
        let Some(facet) = self.suppression.get_mut(index) else {
            return FoldOutcome::NoFacet;
        };
        if is_opt_out {
            keep_frontier(&mut facet.opt_outs, mark, opt_out_covers)
        } else {
            keep_frontier(&mut facet.opt_ins, mark, opt_in_covers)
        }
    }

    fn apply_consent(&mut self, incoming: ConsentFacet) -> FoldOutcome {
        let existing = self
            .consents
            .iter_mut()
            .find(|f| f.category == incoming.category && f.scope == incoming.scope);
        match existing {
            Some(current) if consent_order(&incoming) > consent_order(current) => {
                *current = incoming;
                FoldOutcome::Changed
            }
            Some(_) => FoldOutcome::StaleFacet,
            None => {
                self.consents.push(incoming);
                self.consents
                    .sort_by(|a, b| (a.category, &a.scope).cmp(&(b.category, &b.scope)));
                FoldOutcome::Changed
            }
        }
    }
}

/// Keeps `marks` as the set of marks not covered by another, sorted canonically. Identical
/// powers keep the smaller event id, so the result does not depend on arrival order.
fn keep_frontier(
    marks: &mut Vec<Mark>,
    mark: Mark,
    covers: fn(&Mark, &Mark) -> bool,
) -> FoldOutcome {
    let dominated = marks
        .iter()
        .any(|m| covers(m, &mark) && (!covers(&mark, m) || m.event_id <= mark.event_id));
    if dominated {
        return FoldOutcome::StaleFacet;
    }
    marks.retain(|m| !covers(&mark, m));
    marks.push(mark);
    marks.sort_by(|a, b| a.canonical_key().cmp(&b.canonical_key()));
    FoldOutcome::Changed
}

/// Later wins; on a tie the narrower consent (a revocation, then the lower level) wins, then
/// the larger event id, so the order of arrival never matters.
fn consent_order(
    f: &ConsentFacet,
) -> (
    chrono::DateTime<chrono::Utc>,
    std::cmp::Reverse<Option<ConsentLevel>>,
    &str,
) {
    (
        f.mark.occurred_at,
        std::cmp::Reverse(f.level),
        f.mark.event_id.as_str(),
    )
}

fn latest(facets: &mut Vec<InboundFacet>, incoming: InboundFacet) -> FoldOutcome {
    match facets.iter_mut().find(|f| f.group == incoming.group) {
        Some(current) if incoming.mark.canonical_key() > current.mark.canonical_key() => {
            *current = incoming;
            FoldOutcome::Changed
        }
        Some(_) => FoldOutcome::StaleFacet,
        None => {
            facets.push(incoming);
            facets.sort_by(|a, b| a.group.cmp(&b.group));
            FoldOutcome::Changed
        }
    }
}
