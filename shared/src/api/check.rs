//! The pre-send check: `POST /v1/check` and `POST /v1/check/batch`. Fails closed: any storage
//! doubt is an error (503) or a denial, never "allowed".

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use super::ApiError;
use super::auth::{Authenticator, KeyScope};
use super::tenants::{TenantContext, Tenants};
use crate::consent::decision::DecisionEvidence;
use crate::consent::decision::Purpose;
use crate::consent::{
    Category, CheckDecision, CheckReason, DecisionInput, SendContext, TenantPolicy, decide,
};
use crate::phone::E164;
use crate::store::Store;

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
}

pub const MAX_BATCH: usize = 1000;
const MAX_BATCH_BODY_BYTES: usize = 1024 * 1024;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    pub checks: Vec<CheckRequest>,
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
}

/// A check request with every field validated.
#[derive(Debug, Clone)]
pub struct ValidCheck {
    pub from: String,
    pub to: E164,
    pub category: Category,
    pub program: Option<String>,
    pub send_at: Option<DateTime<Utc>>,
    pub purpose: Option<Purpose>,
}

impl CheckRequest {
    pub fn validate(
        &self,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
    ) -> Result<ValidCheck, ApiError> {
        let to = policy
            .read_phone(&self.to)
            .map_err(|e| ApiError::invalid("invalid_phone_number", "to", format!("to: {e}")))?;
        let from = sender_id(&self.from, policy)?;
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
            None => None,
            Some("opt_out_confirmation") => Some(Purpose::OptOutConfirmation),
            Some("help_reply") => Some(Purpose::HelpReply),
            Some("double_opt_in_request") => Some(Purpose::DoubleOptInRequest),
            Some(other) => {
                return Err(ApiError::invalid(
                    "invalid_purpose",
                    "purpose",
                    format!(
                        "unknown purpose {other:?}; expected opt_out_confirmation, help_reply or double_opt_in_request"
                    ),
                ));
            }
        };
        Ok(ValidCheck {
            from,
            to,
            category,
            program,
            send_at,
            purpose,
        })
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
    state: &crate::consent::NumberState,
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
        purpose: check.purpose,
    });
    CheckResponse {
        allowed: decision.allowed,
        reason: decision.reason,
        to: check.to.as_str().to_string(),
        scope: decision.scope,
        since: decision.since,
        evidence: decision.evidence,
        policy_version: decision.policy_version,
    }
}

pub struct CheckService {
    store: Store,
    tenants: Arc<Tenants>,
    auth: Authenticator,
}

impl CheckService {
    pub fn new(store: Store, tenants: Arc<Tenants>) -> CheckService {
        let auth = Authenticator::new(store.clone());
        CheckService {
            store,
            tenants,
            auth,
        }
    }

    pub async fn check(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<CheckResponse, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Check]).await?;
        let request: CheckRequest = super::http::parse_json(body)?;
        let tenant = self.tenant(&key.tenant_id).await?;
        let now = Utc::now();
        let check = request.validate(&tenant.snapshot.tenant.policy, now)?;
        let (state, _) = self.store.load_state(&key.tenant_id, &check.to).await?;
        Ok(answer(&check, &tenant, &state, now))
    }

    /// Up to 1,000 checks; results in input order, each a check answer or `{"to", "error"}`.
    pub async fn check_batch(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
    ) -> Result<serde_json::Value, ApiError> {
        let key = self.auth.authenticate(headers, &[KeyScope::Check]).await?;
        let request: BatchRequest = super::http::parse_json_limited(body, MAX_BATCH_BODY_BYTES)?;
        if request.checks.is_empty() || request.checks.len() > MAX_BATCH {
            return Err(ApiError::invalid(
                "invalid_batch",
                "checks",
                format!("checks must hold 1 to {MAX_BATCH} entries"),
            ));
        }
        let tenant = self.tenant(&key.tenant_id).await?;
        let now = Utc::now();
        let validated: Vec<Result<ValidCheck, ApiError>> = request
            .checks
            .iter()
            .map(|c| c.validate(&tenant.snapshot.tenant.policy, now))
            .collect();
        let phones: Vec<E164> = validated
            .iter()
            .filter_map(|v| v.as_ref().ok().map(|c| c.to.clone()))
            .collect();
        let states = self.store.load_states(&key.tenant_id, &phones).await?;
        let results = request
            .checks
            .iter()
            .zip(validated)
            .map(|(raw, valid)| {
                match valid {
                    Err(err) => serde_json::json!({"to": raw.to, "error": err.body()["error"]}),
                    Ok(check) => match states.get(&check.to) {
                        Some(Some(state)) => serde_json::to_value(answer(&check, &tenant, state, now)).unwrap_or_default(),
                        // Unread after retries: deny rather than guess (rule 8).
                        _ => serde_json::json!({"to": check.to.as_str(), "allowed": false,
                            "error": ApiError::Unavailable("storage did not return this number; retry".into()).body()["error"]}),
                    },
                }
            })
            .collect::<Vec<_>>();
        Ok(serde_json::json!({ "results": results }))
    }

    async fn tenant(&self, tenant_id: &str) -> Result<Arc<TenantContext>, ApiError> {
        self.tenants.get(tenant_id).await?.ok_or_else(|| {
            ApiError::Unauthorized("the tenant of this API key no longer exists".into())
        })
    }
}
