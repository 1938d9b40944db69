//! Proof of consent: recording consents with evidence, a number's state and history, the
//! opt-out list, and privacy redaction. Served by the consent function.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::ApiError;
use super::auth::{Authenticator, KeyScope};
use super::cursor::Cursors;
use super::tenants::{TenantContext, Tenants};
use crate::consent::ordering::Mark;
use crate::consent::record::{
    ConsentRequest, Invalid, MissingDisclosure, opt_out_only_an_override_lifts,
};
use crate::consent::standing::{Status, by_scope, standings};
use crate::consent::state::FacetScope;
use crate::consent::{Actor, ConsentEvent, NumberState, TenantPolicy};
use crate::flows::history::HistoryPage;
use crate::phone::E164;
use crate::store::history::{ChangePosition, EventIndex, HistoryPosition};
use crate::store::reviews::ReviewRecord;
use crate::store::{ApiKeyRecord, Commit, Store, StoreError, TenantSnapshot};

const HISTORY_PAGE: i32 = 50;
const LIST_PAGE: usize = 100;
pub(super) const READERS: &[KeyScope] = &[KeyScope::ConsentsWrite, KeyScope::Admin];

/// The body of `POST /v1/numbers/lookup`, `/history` and `/redact`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PhoneRequest {
    pub phone: String,
    #[serde(default)]
    pub cursor: Option<String>,
}

/// Whether a route reads `cursor` from a [`PhoneRequest`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CursorUse {
    /// Paginated (history): a cursor is read.
    Read,
    /// A single answer (lookup): a cursor is refused.
    Refuse,
    /// Redact: a cursor is accepted and ignored, as it always was.
    Ignore,
}

impl PhoneRequest {
    /// Reads the body of a number route. Pure: handlers call it before anything is loaded.
    pub fn read(body: &[u8], cursor: CursorUse) -> Result<PhoneRequest, ApiError> {
        let request: PhoneRequest = super::http::parse_json(body)?;
        if cursor == CursorUse::Refuse && request.cursor.is_some() {
            return Err(ApiError::invalid(
                "invalid_body",
                "cursor",
                "lookup takes no cursor",
            ));
        }
        Ok(request)
    }

    /// The number, read as the tenant's policy reads numbers.
    pub fn phone(&self, policy: &TenantPolicy) -> Result<E164, ApiError> {
        phone_field(policy, &self.phone)
    }
}

/// A request's `phone`, read as the tenant's policy reads numbers: 400 naming `phone` if not.
pub(super) fn phone_field(policy: &TenantPolicy, raw: &str) -> Result<E164, ApiError> {
    policy
        .read_phone(raw)
        .map_err(|e| ApiError::invalid("invalid_phone_number", "phone", format!("phone: {e}")))
}

/// A consent that fails validation: 400 naming the field.
impl From<Invalid> for ApiError {
    fn from(e: Invalid) -> ApiError {
        ApiError::Invalid {
            code: e.code,
            message: e.message,
            field: Some(e.field),
        }
    }
}

pub struct ConsentService {
    pub(super) store: Store,
    pub(super) tenants: Arc<Tenants>,
    pub(super) auth: Authenticator,
    pub(super) cursors: Cursors,
    /// Seals preference links (`POST /v1/links`), when the pages key is configured.
    pub(super) links: Option<super::links::Links>,
}

fn event_scope_label(event: &ConsentEvent, snapshot: &TenantSnapshot) -> Option<String> {
    FacetScope::of(event).map(|f| {
        f.label(&snapshot.tenant.policy, &snapshot.directory)
            .to_string()
    })
}

impl ConsentService {
    pub fn new(store: Store, tenants: Arc<Tenants>, cursor_key: [u8; 32]) -> ConsentService {
        let auth = Authenticator::new(store.clone());
        ConsentService {
            store,
            tenants,
            auth,
            cursors: Cursors::new(cursor_key),
            links: None,
        }
    }

    /// With preference links sealed by `links` (`POST /v1/links`).
    pub fn with_links(mut self, links: super::links::Links) -> ConsentService {
        self.links = Some(links);
        self
    }

    pub(super) async fn tenant(&self, key: &ApiKeyRecord) -> Result<Arc<TenantContext>, ApiError> {
        self.tenants.get(&key.tenant_id).await?.ok_or_else(|| {
            ApiError::Unauthorized("the tenant of this API key no longer exists".into())
        })
    }

    /// `POST /v1/consents` -> 201 with the stored event.
    pub async fn record(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self
            .auth
            .authenticate(headers, &[KeyScope::ConsentsWrite])
            .await?;
        let request: ConsentRequest = super::http::parse_json(body)?;
        let tenant = self.tenant(&key).await?;
        let policy = &tenant.snapshot.tenant.policy;
        let now = Utc::now();
        let valid = request.validate(policy, now, MissingDisclosure::Refuse)?;
        let (event, private) = valid.event(
            &key.tenant_id,
            Actor::ApiKey {
                key_id: key.key_id.clone(),
            },
            now,
            now,
        );

        if let Some(needed) = valid.override_refusal() {
            return Err(ApiError::Conflict {
                code: "written_consent_required",
                message: needed.into(),
                field: Some("override_opt_out".into()),
            });
        }
        let disclosure = valid.disclosure(&event);
        let write_disclosure = match disclosure {
            Some((sha, _)) => !self.store.has_disclosure(&key.tenant_id, sha).await?,
            None => false,
        };
        let commit = Commit {
            event: &event,
            private: Some(&private),
            dedupe: None,
            disclosure: disclosure.filter(|_| write_disclosure),
        };
        // Judged on the very state the commit is conditioned on, so an opt-out committed
        // meanwhile is not slipped past (rule 2).
        let directory = &tenant.snapshot.directory;
        let in_the_way: std::sync::Mutex<Option<Mark>> = std::sync::Mutex::new(None);
        let free = |state: &NumberState| {
            let blocking = (!valid.override_opt_out)
                .then(|| opt_out_only_an_override_lifts(state, &event, policy, directory))
                .flatten()
                .cloned();
            let free = blocking.is_none();
            if let Ok(mut slot) = in_the_way.lock() {
                *slot = blocking;
            }
            free
        };
        match self.store.commit_if(&commit, &free).await {
            Ok(_) => {}
            Err(StoreError::GuardFailed) => {
                let opt_out = in_the_way.lock().ok().and_then(|mut m| m.take());
                let since = opt_out
                    .map(|m| format!(" at {} (event {})", m.occurred_at.to_rfc3339(), m.event_id))
                    .unwrap_or_default();
                return Err(ApiError::Conflict {
                    code: "opted_out",
                    message: format!(
                        "this number opted out{since}; recording this consent would not lift that opt-out: only the \
                         person's own act can, or written consent documented with override_opt_out: true"
                    ),
                    field: Some("override_opt_out".into()),
                });
            }
            Err(e) => return Err(e.into()),
        }
        tracing::info!(tenant = %key.tenant_id, phone = %event.phone.masked(), kind = event.kind.as_str(),
            override_opt_out = event.override_opt_out, event_id = %event.event_id, "consent recorded");
        let disclosures: HashMap<String, String> = disclosure
            .iter()
            .map(|(s, t)| (s.to_string(), t.to_string()))
            .collect();
        let private_map = HashMap::from([(event.event_id.to_string(), private)]);
        Ok(event_json(
            &event,
            &tenant.snapshot,
            &disclosures,
            &private_map,
        ))
    }

    /// `POST /v1/numbers/lookup`: the current state for every scope and category.
    pub async fn lookup(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        let request = PhoneRequest::read(body, CursorUse::Refuse)?;
        let tenant = self.tenant(&key).await?;
        let phone = request.phone(&tenant.snapshot.tenant.policy)?;
        let (state, _) = self.store.load_state(&key.tenant_id, &phone).await?;
        let review_ids: Vec<String> = state
            .pending_reviews
            .iter()
            .map(|r| r.review_id.clone())
            .collect();
        let reviews = if review_ids.is_empty() {
            Vec::new()
        } else {
            self.store
                .reviews_by_id(&key.tenant_id, &review_ids)
                .await?
        };
        Ok(lookup_json(&phone, &state, &reviews, &tenant, Utc::now()))
    }

    /// `POST /v1/numbers/history`: newest first, with evidence resolved, paginated.
    pub async fn history(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        let request = PhoneRequest::read(body, CursorUse::Read)?;
        let tenant = self.tenant(&key).await?;
        let phone = request.phone(&tenant.snapshot.tenant.policy)?;
        let binding = format!("{}|history|{}", key.tenant_id, phone.as_str());
        let after: Option<HistoryPosition> = request
            .cursor
            .as_deref()
            .map(|c| self.cursors.open(&binding, c))
            .transpose()?;
        let page = crate::flows::history::page(
            &self.store,
            &key.tenant_id,
            &phone,
            after.as_ref(),
            HISTORY_PAGE,
        )
        .await?;
        let next_cursor = page
            .next
            .as_ref()
            .map(|p| self.cursors.seal(&binding, p))
            .transpose()?;
        let entries: Vec<Value> = page
            .events
            .iter()
            .map(|e| history_entry(&page, e, &tenant.snapshot))
            .collect();
        Ok(json!({
            "phone": phone.as_str(),
            "events": entries,
            "next_cursor": next_cursor,
        }))
    }

    /// `GET /v1/opt-outs?status=&since=&cursor=`: from the change index, one entry per number
    /// and scope at its latest change.
    pub async fn opt_outs(
        &self,
        headers: &http::HeaderMap,
        query: &BTreeMap<String, String>,
    ) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, READERS).await?;
        for name in query.keys() {
            if !matches!(name.as_str(), "status" | "since" | "cursor") {
                return Err(ApiError::invalid(
                    "invalid_query",
                    name,
                    format!("unknown parameter {name:?}"),
                ));
            }
        }
        let status = query
            .get("status")
            .map(String::as_str)
            .unwrap_or("opted_out");
        if !matches!(status, "opted_out" | "opted_in" | "all") {
            return Err(ApiError::invalid(
                "invalid_status",
                "status",
                "status must be opted_out, opted_in or all",
            ));
        }
        let since = query
            .get("since")
            .map(|s| {
                DateTime::parse_from_rfc3339(s)
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|e| {
                        ApiError::invalid(
                            "invalid_since",
                            "since",
                            format!("since must be an RFC 3339 time: {e}"),
                        )
                    })
            })
            .transpose()?;
        let tenant = self.tenant(&key).await?;
        let binding = format!(
            "{}|opt-outs|{status}|{}",
            key.tenant_id,
            query.get("since").map(String::as_str).unwrap_or("")
        );
        let from: ChangePosition = match query.get("cursor") {
            Some(c) => self.cursors.open(&binding, c)?,
            None => ChangePosition {
                shard: 0,
                last: None,
            },
        };
        let (events, next) = self
            .store
            .changes_page(&key.tenant_id, EventIndex::Changes, since, &from, LIST_PAGE)
            .await?;
        let phones: Vec<E164> = events.iter().map(|e| e.phone.clone()).collect();
        let states = self.store.load_states(&key.tenant_id, &phones).await?;
        let policy = &tenant.snapshot.tenant.policy;
        let mut items = Vec::new();
        for event in &events {
            // A number storage did not return is left out rather than guessed.
            let Some(Some(state)) = states.get(&event.phone) else {
                return Err(ApiError::Unavailable(
                    "storage did not return every number; retry".into(),
                ));
            };
            // Each number and scope appears once, at the entry of its latest change: wherever
            // that change was recorded, and whatever time it says it happened.
            for row in by_scope(state, policy, &tenant.snapshot.directory) {
                if row.changed.event_id != event.event_id {
                    continue;
                }
                if status != "all" && status != row.status.as_str() {
                    continue;
                }
                items.push(json!({
                    "phone": event.phone.as_str(),
                    "status": row.status.as_str(),
                    "scope": row.scope.to_string(),
                    "changed_at": row.changed.recorded(),
                    "event_id": row.mark.map(|m| m.event_id.as_str()).unwrap_or(event.event_id.as_str()),
                }));
            }
        }
        let next_cursor = next.map(|p| self.cursors.seal(&binding, &p)).transpose()?;
        Ok(json!({ "items": items, "next_cursor": next_cursor }))
    }

    /// `POST /v1/numbers/redact` (admin): erases message text, IP and user agent for a number;
    /// every event and opt-out stays, and the redaction itself is recorded.
    pub async fn redact(&self, headers: &http::HeaderMap, body: &[u8]) -> Result<Value, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Admin]).await?;
        let request = PhoneRequest::read(body, CursorUse::Ignore)?;
        let tenant = self.tenant(&key).await?;
        let phone = request.phone(&tenant.snapshot.tenant.policy)?;
        let erased = self
            .store
            .delete_private_records(&key.tenant_id, &phone)
            .await?;
        let event = ConsentEvent::redaction(
            &key.tenant_id,
            &phone,
            Actor::ApiKey {
                key_id: key.key_id.clone(),
            },
            Utc::now(),
        );
        self.store
            .commit(&Commit {
                event: &event,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await?;
        tracing::info!(tenant = %key.tenant_id, phone = %phone.masked(), erased, "private records redacted");
        Ok(json!({"phone": phone.as_str(), "redacted_records": erased, "event_id": event.event_id}))
    }
}

fn lookup_json(
    phone: &E164,
    state: &NumberState,
    reviews: &[ReviewRecord],
    tenant: &TenantContext,
    now: DateTime<Utc>,
) -> Value {
    let policy = &tenant.snapshot.tenant.policy;
    let standings = standings(state, policy, &tenant.snapshot.directory);
    let scopes: Vec<Value> = standings
        .iter()
        .map(|standing| {
            let mark = standing.mark;
            json!({
                "scope": standing.facet.scope.label(policy, &tenant.snapshot.directory).to_string(),
                "status": standing.status.as_str(),
                "since": mark.map(|m| m.occurred_at),
                "event_id": mark.map(|m| m.event_id.to_string()),
                "time_source": mark.map(|m| m.time_source),
                "source": mark.map(|m| m.source),
                "override_opt_out": mark.is_some_and(|m| m.override_opt_out),
            })
        })
        .collect();
    let consents: Vec<Value> = state
        .consents
        .iter()
        .map(|c| {
            json!({
                "category": c.category,
                "scope": c.scope.to_string(),
                "level": c.level,
                "status": if c.level.is_some() { "granted" } else { "revoked" },
                "since": c.mark.occurred_at,
                "event_id": c.mark.event_id,
            })
        })
        .collect();
    let inbound: Vec<Value> = state
        .last_inbound
        .iter()
        .map(|f| json!({"group": f.group.to_string(), "at": f.mark.occurred_at, "event_id": f.mark.event_id}))
        .collect();
    json!({
        "phone": phone.as_str(),
        "opted_out": standings.iter().any(|s| s.status == Status::OptedOut),
        "scopes": scopes,
        "consents": consents,
        "last_inbound": inbound,
        "pending_consents": state.pending_consents.iter().map(|p| json!({
            "event_id": p.mark.event_id,
            "received_at": p.mark.received_at,
            "expires_at": p.expires_at(),
            "open": p.open_at(now),
            "scope": p.scope.to_string(),
            "categories": p.consent.categories,
            "level": p.consent.level,
            "opt_in": p.consent.opt_in,
            "confirm_to": p.consent.confirm_to.to_string(),
        })).collect::<Vec<_>>(),
        "reviews": state.pending_reviews.iter().map(|r| {
            let due_at = policy.review_due(r.mark.received_at);
            let record = reviews.iter().find(|x| x.review_id == r.review_id);
            json!({
                "review_id": r.review_id,
                "opened_at": r.mark.received_at,
                "due_at": due_at,
                "overdue": now > due_at,
                "owner": record.and_then(|x| x.owner.clone()),
                "event_id": r.mark.event_id,
            })
        }).collect::<Vec<_>>(),
        "policy_version": policy.version,
    })
}

/// An event as the history shows it (`POST /v1/numbers/history`, `stopgate history`), with its
/// evidence resolved.
/// One entry of a number's history: the event with its evidence resolved, and for a
/// confirmation the pending consent it confirmed (`pending_event`).
pub fn history_entry(page: &HistoryPage, event: &ConsentEvent, tenant: &TenantSnapshot) -> Value {
    let mut value = event_json(event, tenant, &page.disclosures, &page.private);
    if let (Some(pending), Some(object)) = (page.pending_of(event), value.as_object_mut()) {
        object.insert(
            "pending_event".into(),
            event_json(pending, tenant, &page.disclosures, &page.private),
        );
    }
    value
}

pub fn event_json(
    event: &ConsentEvent,
    tenant: &TenantSnapshot,
    disclosures: &HashMap<String, String>,
    private: &HashMap<String, crate::consent::PrivateEvidence>,
) -> Value {
    let refs = &event.evidence;
    let private_record = private.get(event.event_id.as_str());
    let evidence = json!({
        "disclosure_sha256": refs.disclosure_sha256,
        "disclosure_text": refs.disclosure_sha256.as_ref().and_then(|s| disclosures.get(s)),
        "form_url": refs.form_url,
        "document_ref": refs.document_ref,
        "agent": refs.agent,
        "source_file_sha256": refs.source_file_sha256,
        "form": refs.form,
        "link_id": refs.link_id,
        "number_verified": refs.number_verified,
        "confirming_message_id": refs.confirming_message_id,
        "message_text": private_record.and_then(|p| p.message_text.clone()),
        "ip": private_record.and_then(|p| p.ip.clone()),
        "user_agent": private_record.and_then(|p| p.user_agent.clone()),
        // The record existed and is gone: erased by a privacy request.
        "redacted": refs.has_private_record && private_record.is_none(),
    });
    let mut entry = json!({
        "event_id": event.event_id,
        "kind": event.kind,
        "phone": event.phone.as_str(),
        "category": event.category,
        "level": event.level,
        "scope": event_scope_label(event, tenant),
        "occurred_at": event.occurred_at,
        "time_source": event.time_source,
        "received_at": event.received_at,
        "recorded_at": event.recorded_at,
        "source": event.source,
        "origin": event.origin,
        "actor": event.actor,
        "override_opt_out": event.override_opt_out,
        "evidence": evidence,
    });
    // A double opt-in's request and confirmation (rule 9): what was asked for, and where the
    // YES had to go.
    if let Some(object) = entry.as_object_mut() {
        if let Some(pending) = &event.pending {
            object.insert("pending".into(), pending_json(pending, None));
        }
        if let Some(confirmation) = &event.confirms {
            object.insert(
                "confirms".into(),
                pending_json(
                    &confirmation.consent,
                    Some(confirmation.pending_event_id.as_str()),
                ),
            );
        }
    }
    entry
}

fn pending_json(consent: &crate::consent::PendingConsent, event_id: Option<&str>) -> Value {
    let mut value = json!({
        "categories": consent.categories,
        "level": consent.level,
        "opt_in": consent.opt_in,
        "confirm_to": consent.confirm_to.to_string(),
    });
    if let (Some(id), Some(object)) = (event_id, value.as_object_mut()) {
        object.insert("event_id".into(), json!(id));
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_request_reads_a_cursor_only_where_it_means_something() {
        let body = br#"{"phone": "(415) 555-0142", "cursor": "abc"}"#;
        let history = PhoneRequest::read(body, CursorUse::Read).unwrap();
        assert_eq!(history.cursor.as_deref(), Some("abc"));
        assert!(PhoneRequest::read(body, CursorUse::Ignore).is_ok());
        let err = PhoneRequest::read(body, CursorUse::Refuse).unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "invalid_body"));
        let phone = history.phone(&TenantPolicy::default()).unwrap();
        assert_eq!(phone.as_str(), "+14155550142");
        let strict = TenantPolicy {
            strict_e164: true,
            ..TenantPolicy::default()
        };
        let err = history.phone(&strict).unwrap_err();
        assert_eq!((err.status(), err.code()), (400, "invalid_phone_number"));
    }
}
