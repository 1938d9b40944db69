//! The pre-send check: `POST /v1/check` and `POST /v1/check/batch`. Fails closed: any storage
//! doubt is an error (503) or a denial, never "allowed".

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{Authenticator, KeyScope};
use super::tenants::{TenantContext, Tenants};
use crate::consent::NumberState;
use crate::consent::decision::{ClosedBy, DecisionEvidence, Exemption, Purpose};
use crate::consent::quiet_hours::{self, Location};
use crate::consent::{
    Category, CheckDecision, CheckReason, DecisionInput, SendContext, TenantPolicy, decide,
};
use crate::phone::E164;
use crate::store::Store;
use crate::store::exemptions::{Claimed, ExemptionClaim};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckRequest {
    pub from: String,
    pub to: String,
    pub category: String,
    #[serde(default)]
    pub program: Option<String>,
    #[serde(default)]
    pub send_at: Option<String>,
    #[serde(default)]
    pub purpose: Option<String>,
    /// With `purpose`: the event id of the inbound message the exemption answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// With `purpose`: the business's id for the outgoing message; the exemption holds for it.
    #[serde(default)]
    pub message_key: Option<String>,
    /// Where the recipient is (`state`, `zip`, `time_zone`): it decides their quiet hours.
    #[serde(default)]
    pub location: Option<Location>,
}

pub const MAX_BATCH: usize = 1000;
pub const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub checks: Vec<CheckRequest>,
}

impl BatchRequest {
    /// Reads the body of `POST /v1/check/batch`: at most 1 MiB, 1 to [`MAX_BATCH`] checks,
    /// each validated on its own afterwards. Pure: the handler calls it before anything is
    /// loaded.
    pub fn read(body: &[u8]) -> Result<BatchRequest, ApiError> {
        let request: BatchRequest = super::http::parse_json_limited(body, MAX_BATCH_BODY_BYTES)?;
        if request.checks.is_empty() || request.checks.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "invalid_batch",
                "checks",
                format!("checks must hold 1 to {MAX_BATCH} entries"),
            ));
        }
        Ok(request)
    }
}

/// The `Checks` metric: one per answer, by `Reason` and `Allowed` (and by `Allowed` alone).
fn counted(response: &CheckResponse) {
    let reason = serde_json::to_value(response.reason)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let allowed = if response.allowed { "true" } else { "false" };
    crate::telemetry::count_by(
        "Checks",
        &[("Reason", &reason), ("Allowed", allowed)],
        &[&["Allowed"]],
    );
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckResponse {
    pub allowed: bool,
    pub reason: CheckReason,
    pub to: String,
    pub scope: Option<String>,
    pub since: Option<DateTime<Utc>>,
    pub evidence: Option<DecisionEvidence>,
    pub policy_version: u64,
    /// With `quiet_hours`: the next moment the message may be sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_at: Option<DateTime<Utc>>,
    /// With `quiet_hours`: the rules, at each place the recipient may be, that are closed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub closed_by: Vec<ClosedBy>,
}

/// A purpose bound to what it answers and to the message it is for (rule 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundPurpose {
    pub purpose: Purpose,
    pub reply_to: String,
    pub message_key: String,
}

impl BoundPurpose {
    fn name(&self) -> &'static str {
        match self.purpose {
            Purpose::OptOutConfirmation => "opt_out_confirmation",
            Purpose::HelpReply => "help_reply",
            Purpose::DoubleOptInRequest => "double_opt_in_request",
        }
    }
}

/// A check request with every field validated.
#[derive(Debug, Clone)]
pub struct ValidCheck {
    pub from: String,
    pub to: E164,
    pub category: Category,
    pub program: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
    pub purpose: Option<BoundPurpose>,
    pub location: Option<Location>,
}

impl CheckRequest {
    pub fn validate(
        &self,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
    ) -> Result<ValidCheck, ApiError> {
        self.validate_with(policy, now, &SenderIds::default())
    }

    /// As [`CheckRequest::validate`], reading `from` through the warm function's `senders`.
    pub fn validate_with(
        &self,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
        senders: &SenderIds,
    ) -> Result<ValidCheck, ApiError> {
        let to = policy
            .read_phone(&self.to)
            .map_err(|e| ApiError::invalid("invalid_phone_number", "to", format!("to: {e}")))?;
        let from = senders.read(&self.from, policy)?;
        let category = self
            .category
            .parse::<Category>()
            .map_err(|e| ApiError::invalid("invalid_category", "category", e))?;
        let program = match self.program.as_deref().map(str::trim) {
            Some("") => {
                return Err(ApiError::invalid(
                    "invalid_program",
                    "program",
                    "program must not be empty",
                ));
            }
            Some(p) if p.len() > 128 => {
                return Err(ApiError::invalid(
                    "invalid_program",
                    "program",
                    "program is longer than 128 characters",
                ));
            }
            other => other.map(str::to_string),
        };
        let send_at = match &self.send_at {
            None => None,
            Some(raw) => {
                let at = DateTime::parse_from_rfc3339(raw)
                    .map_err(|e| {
                        ApiError::invalid(
                            "invalid_send_at",
                            "send_at",
                            format!("send_at must be an RFC 3339 time: {e}"),
                        )
                    })?
                    .with_timezone(&Utc);
                if at < now - Duration::hours(24) || at > now + Duration::days(30) {
                    return Err(ApiError::invalid(
                        "invalid_send_at",
                        "send_at",
                        "send_at must be between 24 hours ago and 30 days from now",
                    ));
                }
                Some(at)
            }
        };
        let purpose = match self.purpose.as_deref() {
            None => {
                if self.reply_to.is_some() || self.message_key.is_some() {
                    return Err(ApiError::invalid(
                        "invalid_purpose",
                        "purpose",
                        "reply_to and message_key bind a purpose; name the purpose they go with",
                    ));
                }
                None
            }
            Some(name) => {
                let purpose = match name {
                    "opt_out_confirmation" => Purpose::OptOutConfirmation,
                    "help_reply" => Purpose::HelpReply,
                    "double_opt_in_request" => Purpose::DoubleOptInRequest,
                    other => {
                        return Err(ApiError::invalid(
                            "invalid_purpose",
                            "purpose",
                            format!(
                                "unknown purpose {other:?}; expected opt_out_confirmation, help_reply or double_opt_in_request"
                            ),
                        ));
                    }
                };
                let reply_to = match self.reply_to.as_deref().map(str::trim) {
                    Some(id) if ulid::Ulid::from_string(id).is_ok() => id.to_string(),
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "invalid_reply_to",
                            "reply_to",
                            "reply_to must be an event id (as history and lookup show it)",
                        ));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "missing_reply_to",
                            "reply_to",
                            "a purpose answers one inbound event: give its event id as reply_to",
                        ));
                    }
                };
                let message_key = match self.message_key.as_deref().map(str::trim) {
                    Some(k)
                        if !k.is_empty() && k.len() <= 200 && !k.chars().any(char::is_control) =>
                    {
                        k.to_string()
                    }
                    Some(_) => {
                        return Err(ApiError::invalid(
                            "invalid_message_key",
                            "message_key",
                            "message_key must be 1 to 200 characters without control characters",
                        ));
                    }
                    None => {
                        return Err(ApiError::invalid(
                            "missing_message_key",
                            "message_key",
                            "a purpose holds for one outgoing message: give your id for it as message_key",
                        ));
                    }
                };
                Some(BoundPurpose {
                    purpose,
                    reply_to,
                    message_key,
                })
            }
        };
        let location = match &self.location {
            None => None,
            Some(location) => match quiet_hours::check_location(location) {
                Ok(true) => Some(location.clone()),
                Ok(false) => None,
                Err(field) => {
                    return Err(ApiError::invalid(
                        "invalid_location",
                        &format!("location.{field}"),
                        format!(
                            "location.{field} is not a known US state or territory code, ZIP code or IANA time zone"
                        ),
                    ));
                }
            },
        };
        Ok(ValidCheck {
            from,
            to,
            category,
            program,
            send_at,
            purpose,
            location,
        })
    }
}

/// The `from` values a warm check function has already read, each under the policy reading it
/// was read with (default region and phone mode). A tenant sends from a handful of numbers, so
/// reading each once spares every later check the numbering-plan parse of its sender, which was
/// a quarter of a check's own CPU time (BENCHMARKS.md, "Profiles"). Only values that were read
/// are kept; bounded, and emptied when full.
#[derive(Debug, Default)]
pub struct SenderIds(Mutex<HashMap<String, String>>);

impl SenderIds {
    /// More distinct senders than this in one warm function is not a tenant's handful.
    const CAPACITY: usize = 1024;

    pub fn read(&self, raw: &str, policy: &TenantPolicy) -> Result<String, ApiError> {
        let key = format!(
            "{}\u{0}{:?}\u{0}{raw}",
            policy.default_region,
            policy.phone_mode()
        );
        if let Some(known) = self.lock().get(&key) {
            return Ok(known.clone());
        }
        let read = sender_id(raw, policy)?;
        let mut known = self.lock();
        if known.len() >= Self::CAPACITY {
            known.clear();
        }
        known.insert(key, read.clone());
        Ok(read)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        // A panic elsewhere cannot leave a half-written entry: insert is one call.
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A sender is a number (normalised to E.164), a short code, or a provider sender id
/// (a Messaging Service SID, an alphanumeric sender).
fn sender_id(raw: &str, policy: &TenantPolicy) -> Result<String, ApiError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Err(ApiError::invalid(
            "invalid_sender",
            "from",
            "from must name the sending number, short code or sender id",
        ));
    }
    if let Ok(number) = policy.read_phone(raw) {
        return Ok(number.as_str().to_string());
    }
    let is_id = raw.len() <= 64
        && raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if raw.starts_with('+') || !is_id {
        return Err(ApiError::invalid(
            "invalid_sender",
            "from",
            format!("from {raw:?} is neither a valid phone number nor a sender id"),
        ));
    }
    Ok(raw.to_string())
}

pub fn answer(
    check: &ValidCheck,
    tenant: &TenantContext,
    state: &NumberState,
    now: DateTime<Utc>,
) -> CheckResponse {
    let snapshot = &tenant.snapshot;
    let send = SendContext::new(&snapshot.directory, &check.from, check.program.as_deref());
    let decision: CheckDecision = decide(&DecisionInput {
        state,
        policy: &snapshot.tenant.policy,
        directory: &snapshot.directory,
        send: &send,
        category: check.category,
        now,
        exemption: check.purpose.as_ref().map(|p| Exemption {
            purpose: p.purpose,
            reply_to: &p.reply_to,
        }),
        phone: &check.to,
        send_at: check.send_at,
        location: check.location.as_ref(),
    });
    CheckResponse {
        allowed: decision.allowed,
        reason: decision.reason,
        to: check.to.as_str().to_string(),
        scope: decision.scope,
        since: decision.since,
        evidence: decision.evidence,
        policy_version: decision.policy_version,
        retry_at: decision.retry_at,
        closed_by: decision.closed_by,
    }
}

/// The check never says "allowed" on tenant configuration older than a minute (a refresh that
/// failed keeps serving a stale one, good enough to deny on).
fn fresh_enough(
    response: CheckResponse,
    tenant: &TenantContext,
) -> Result<CheckResponse, ApiError> {
    if response.allowed && !tenant.is_fresh() {
        return Err(ApiError::Unavailable(
            "tenant configuration could not be refreshed for over a minute".into(),
        ));
    }
    Ok(response)
}

/// The answer to a message whose exemption another message holds.
fn exemption_used(
    check: &ValidCheck,
    tenant: &TenantContext,
    holder: &ExemptionClaim,
) -> CheckResponse {
    CheckResponse {
        allowed: false,
        reason: CheckReason::ExemptionUsed,
        to: check.to.as_str().to_string(),
        scope: None,
        since: Some(holder.claimed_at),
        evidence: None,
        policy_version: tenant.snapshot.tenant.policy.version,
        retry_at: None,
        closed_by: Vec::new(),
    }
}

pub struct CheckService {
    store: Store,
    tenants: Arc<Tenants>,
    auth: Authenticator,
    senders: SenderIds,
    clock: fn() -> DateTime<Utc>,
}

impl CheckService {
    pub fn new(store: Store, tenants: Arc<Tenants>) -> CheckService {
        let auth = Authenticator::new(store.clone());
        CheckService {
            store,
            tenants,
            auth,
            senders: SenderIds::default(),
            clock: Utc::now,
        }
    }

    /// Answers as if it were the time `clock` says (tests of time-bound rules: quiet hours
    /// across a clock change, a Sunday in Texas).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> CheckService {
        self.clock = clock;
        self
    }

    pub async fn check(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<CheckResponse, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Check]).await?;
        let request: CheckRequest = super::http::parse_json(body)?;
        let tenant = self.tenant(&key.tenant_id).await?;
        let now = (self.clock)();
        let check = request.validate_with(&tenant.snapshot.tenant.policy, now, &self.senders)?;
        let (state, _) = self.store.load_state(&key.tenant_id, &check.to).await?;
        let response = self
            .answer_bound(&key.tenant_id, &check, &tenant, &state, now)
            .await?;
        let response = fresh_enough(response, &tenant)?;
        counted(&response);
        Ok(response)
    }

    /// The answer to one check, holding the exemption it names for its message (rule 6): the
    /// first message to use an exemption holds it; a retry of that message gets the same
    /// answer, any other message `exemption_used`.
    async fn answer_bound(
        &self,
        tenant_id: &str,
        check: &ValidCheck,
        tenant: &TenantContext,
        state: &NumberState,
        now: DateTime<Utc>,
    ) -> Result<CheckResponse, ApiError> {
        // An exemption never covers promotional content: the ordinary answer, no claim.
        let Some(bound) = check
            .purpose
            .as_ref()
            .filter(|_| check.category != Category::Promotional)
        else {
            return Ok(answer(check, tenant, state, now));
        };
        let (purpose, reply_to) = (bound.name(), bound.reply_to.as_str());
        let held = self
            .store
            .exemption_claim(tenant_id, &check.to, purpose, reply_to)
            .await?;
        if let Some(claim) = held {
            return Ok(if claim.message_key == bound.message_key {
                serde_json::from_value(claim.answer)
                    .map_err(|e| ApiError::Unavailable(format!("stored exemption answer: {e}")))?
            } else {
                exemption_used(check, tenant, &claim)
            });
        }
        let response = answer(check, tenant, state, now);
        if !matches!(
            response.reason,
            CheckReason::HelpReply
                | CheckReason::OptOutConfirmation
                | CheckReason::DoubleOptInRequest
        ) {
            return Ok(response);
        }
        let claim = ExemptionClaim {
            message_key: bound.message_key.clone(),
            claimed_at: now,
            answer: serde_json::to_value(&response)
                .map_err(|e| ApiError::Unavailable(format!("exemption answer: {e}")))?,
        };
        match self
            .store
            .claim_exemption(tenant_id, &check.to, purpose, reply_to, claim)
            .await?
        {
            Claimed::Held(_) => Ok(response),
            Claimed::Taken(holder) => Ok(exemption_used(check, tenant, &holder)),
        }
    }

    /// Up to 1,000 checks; results in input order, each a check answer or `{"to", "error"}`.
    pub async fn check_batch(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<serde_json::Value, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Check]).await?;
        let request = BatchRequest::read(body)?;
        let tenant = self.tenant(&key.tenant_id).await?;
        let now = (self.clock)();
        let validated: Vec<Result<ValidCheck, ApiError>> = request
            .checks
            .iter()
            .map(|c| c.validate_with(&tenant.snapshot.tenant.policy, now, &self.senders))
            .collect();
        let phones: Vec<E164> = validated
            .iter()
            .filter_map(|v| v.as_ref().ok().map(|c| c.to.clone()))
            .collect();
        let states = self.store.load_states(&key.tenant_id, &phones).await?;
        let mut results = Vec::with_capacity(request.checks.len());
        for (raw, valid) in request.checks.iter().zip(validated) {
            let entry = match valid {
                Err(err) => serde_json::json!({"to": raw.to, "error": err.body()["error"]}),
                Ok(check) => {
                    let answered = match states.get(&check.to) {
                        Some(Some(state)) => self
                            .answer_bound(&key.tenant_id, &check, &tenant, state, now)
                            .await
                            .and_then(|r| fresh_enough(r, &tenant))
                            .inspect(counted),
                        // Unread after retries: deny rather than guess (rule 8).
                        _ => Err(ApiError::Unavailable(
                            "storage did not return this number".into(),
                        )),
                    };
                    match answered.and_then(|r| {
                        serde_json::to_value(r)
                            .map_err(|e| ApiError::Unavailable(format!("check answer: {e}")))
                    }) {
                        Ok(value) => value,
                        Err(err) => {
                            err.log();
                            serde_json::json!({"to": check.to.as_str(), "allowed": false, "error": err.body()["error"]})
                        }
                    }
                }
            };
            results.push(entry);
        }
        Ok(serde_json::json!({ "results": results }))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Arc<TenantContext>, ApiError> {
        self.tenants.get(tenant_id).await?.ok_or_else(|| {
            ApiError::Unauthorized("the tenant of this API key no longer exists".into())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_remembered_sender_reads_as_it_would_under_each_policy() {
        let us = TenantPolicy::default();
        let gb = TenantPolicy {
            default_region: "GB".into(),
            ..TenantPolicy::default()
        };
        let strict = TenantPolicy {
            strict_e164: true,
            ..TenantPolicy::default()
        };
        let read = |senders: &SenderIds, raw: &str, policy: &TenantPolicy| {
            senders.read(raw, policy).map_err(|e| e.to_string())
        };
        let senders = SenderIds::default();
        // Each value twice under each policy, in turns, so a value remembered under one policy
        // is asked for under the others.
        for _ in 0..2 {
            for policy in [&us, &gb, &strict] {
                for raw in [
                    "(415) 555-0100",
                    "+1 415 555 0100",
                    "020 7946 0958",
                    "MG1234abcd",
                    "55555",
                    "+1555",
                    "not a sender!",
                ] {
                    let fresh = SenderIds::default();
                    assert_eq!(
                        read(&senders, raw, policy),
                        read(&fresh, raw, policy),
                        "{raw:?} under region {} strict {}",
                        policy.default_region,
                        policy.strict_e164
                    );
                }
            }
        }
        // The readings that differ by policy, spelled out.
        assert_eq!(
            read(&senders, "(415) 555-0100", &us).unwrap(),
            "+14155550100"
        );
        assert!(read(&senders, "(415) 555-0100", &gb).is_err());
        assert!(read(&senders, "(415) 555-0100", &strict).is_err());
        assert_eq!(
            read(&senders, "020 7946 0958", &gb).unwrap(),
            "+442079460958"
        );
        assert_eq!(
            read(&senders, "+1 415 555 0100", &us).unwrap(),
            "+14155550100"
        );
        assert!(read(&senders, "+1 415 555 0100", &strict).is_err());
        assert_eq!(read(&senders, "MG1234abcd", &strict).unwrap(), "MG1234abcd");
        assert!(read(&senders, "+1555", &us).is_err());
    }

    #[test]
    fn remembered_senders_are_bounded() {
        let senders = SenderIds::default();
        let policy = TenantPolicy::default();
        for i in 0..(SenderIds::CAPACITY + 10) {
            let id = format!("sender{i}");
            assert_eq!(senders.read(&id, &policy).unwrap(), id);
            assert!(senders.lock().len() <= SenderIds::CAPACITY);
        }
    }

    #[test]
    fn a_batch_is_read_within_its_limits_before_anything_is_loaded() {
        let check = r#"{"from": "+14155550100", "to": "+14155550142", "category": "promotional"}"#;
        let batch = |n: usize| format!(r#"{{"checks": [{}]}}"#, vec![check; n].join(","));
        assert_eq!(
            BatchRequest::read(batch(3).as_bytes())
                .unwrap()
                .checks
                .len(),
            3
        );
        for n in [0, MAX_BATCH + 1] {
            let err = BatchRequest::read(batch(n).as_bytes()).unwrap_err();
            assert_eq!((err.status(), err.code()), (400, "invalid_batch"), "{n}");
        }
        // Over 1 MiB it is refused for its size, valid or not.
        let mut padded = batch(1).into_bytes();
        padded.resize(MAX_BATCH_BODY_BYTES + 1, b' ');
        assert_eq!(
            BatchRequest::read(&padded).unwrap_err(),
            ApiError::TooLarge {
                limit: MAX_BATCH_BODY_BYTES
            }
        );
    }
}
