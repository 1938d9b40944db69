//! The inbound webhook flow, shared by the inbound and replay functions:
//! verify -> parse -> classify -> commit, or capture when the ledger cannot take it in time.
//! A verified webhook is answered 2xx only once it is committed or captured.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{DateTime, Utc};

use super::ApiError;
use super::http::MAX_BODY_BYTES;
use super::sns::SnsHttps;
use super::tenants::{TenantContext, Tenants};
use crate::consent::inbound::{InboundFacts, Settlement, inbound_event, settle};
use crate::consent::policy::ReplyKind;
use crate::consent::{ConsentEvent, NumberState, PrivateEvidence, ReplyMode};
use crate::keywords::{self, Intent};
use crate::mask;
use crate::providers::{
    self, InboundMessage, Parsed, Provider, ProviderReply, SigningCertificate, WebhookError,
    WebhookRequest,
};
use crate::store::quarantine::{self, QuarantinedRequest};
use crate::store::{
    CaptureQueue, CapturedWebhook, Commit, CommitOutcome, DedupeClaim, NonceClaim, Settled, Store,
    StoreError,
};
use crate::telemetry;
use sha2::Digest as _;

/// Header (name, value) pairs as text.
type Headers = Vec<(String, String)>;

/// A webhook request as it arrived at `/v1/webhooks/{provider}/{tenant}`.
#[derive(Debug, Clone)]
pub struct IncomingWebhook {
    pub provider: String,
    pub tenant: String,
    pub method: String,
    /// The URL the provider called: `PUBLIC_BASE_URL` + path + `?query`.
    pub url: String,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
    pub received_at: DateTime<Utc>,
}

impl IncomingWebhook {
    pub fn url_for(public_base_url: &str, path: &str, raw_query: &str) -> String {
        if raw_query.is_empty() {
            format!("{public_base_url}{path}")
        } else {
            format!("{public_base_url}{path}?{raw_query}")
        }
    }

    fn as_request(&self) -> WebhookRequest<'_> {
        WebhookRequest {
            method: &self.method,
            url: &self.url,
            headers: &self.headers,
            body: &self.body,
        }
    }

    /// The headers as text, split into (credentials, the rest): credentials are never stored
    /// in the clear (providers::is_credential_header).
    fn split_headers(&self) -> (Headers, Headers) {
        self.headers
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
            .partition(|(name, _)| providers::is_credential_header(name))
    }

    /// The request as the capture queue keeps it: a verified one without its credentials
    /// (replay does not verify again); an unverified one with them sealed in
    /// `sealed_credentials`, which replay opens to verify.
    fn captured(
        &self,
        verified: bool,
        reason: String,
        sealed_credentials: Option<String>,
    ) -> CapturedWebhook {
        CapturedWebhook {
            tenant: self.tenant.clone(),
            provider: self.provider.clone(),
            method: self.method.clone(),
            url: self.url.clone(),
            headers: self.split_headers().1,
            body_base64: B64.encode(&self.body),
            received_at: self.received_at,
            verified,
            reason,
            sealed_credentials,
        }
    }

    /// The request a capture holds, with the credentials of an unverified one (opened by the
    /// caller) put back.
    pub fn from_captured(
        captured: &CapturedWebhook,
        credentials: Vec<(String, String)>,
    ) -> Result<IncomingWebhook, String> {
        let mut headers = http::HeaderMap::new();
        for (k, v) in captured.headers.iter().chain(&credentials) {
            let name = http::HeaderName::from_bytes(k.as_bytes()).map_err(|e| e.to_string())?;
            let value = http::HeaderValue::from_str(v).map_err(|e| e.to_string())?;
            headers.append(name, value);
        }
        Ok(IncomingWebhook {
            provider: captured.provider.clone(),
            tenant: captured.tenant.clone(),
            method: captured.method.clone(),
            url: captured.url.clone(),
            headers,
            body: B64
                .decode(&captured.body_base64)
                .map_err(|e| e.to_string())?,
            received_at: captured.received_at,
        })
    }
}

/// What the provider gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookAnswer {
    pub status: u16,
    pub content_type: String,
    pub body: String,
    /// Extra response headers a provider's handshake needs.
    pub headers: Vec<(String, String)>,
}

impl WebhookAnswer {
    fn reply(reply: ProviderReply) -> WebhookAnswer {
        WebhookAnswer {
            status: 200,
            content_type: reply.content_type,
            body: reply.body,
            headers: vec![],
        }
    }

    fn error(err: &ApiError) -> WebhookAnswer {
        err.log();
        WebhookAnswer {
            status: err.status(),
            content_type: "application/json".into(),
            body: err.body().to_string(),
            headers: vec![],
        }
    }
}

/// One verified inbound message, ready to commit.
pub struct PreparedMessage {
    pub event: ConsentEvent,
    pub private: PrivateEvidence,
    pub dedupe: DedupeClaim,
    /// The answer if the message turns out ordinary when it is recorded (a YES out of context).
    pub ordinary_reply: ProviderReply,
}

impl PreparedMessage {
    fn commit(&self) -> Commit<'_> {
        Commit {
            event: &self.event,
            private: Some(&self.private),
            dedupe: Some(self.dedupe.clone()),
            disclosure: None,
        }
    }
}

/// Commits one message as it stands on the number's state when recorded: a YES or START that a
/// pending consent waits for confirms it in the same transaction (rule 9); a YES out of context
/// becomes an ordinary message (rule 2), with the answer an ordinary message gets.
async fn commit_message(
    store: &Store,
    tenant: &TenantContext,
    message: &PreparedMessage,
) -> Result<CommitOutcome, StoreError> {
    let snapshot = &tenant.snapshot;
    let settled = |state: &NumberState| match settle(
        state,
        &message.event,
        &snapshot.tenant.policy,
        &snapshot.directory,
    ) {
        Settlement::AsIs => Settled::Keep,
        Settlement::Confirms(confirmations) => Settled::With(confirmations),
        Settlement::Ordinary(ordinary) => Settled::Instead {
            event: ordinary,
            reply: Some(message.ordinary_reply.clone()),
        },
    };
    store.commit_settled(&message.commit(), &settled).await
}

/// A verified webhook: messages to commit and the answer to give once they are safe, or an
/// answer alone (a delivery receipt, a handshake).
pub enum Prepared {
    Commit {
        messages: Vec<PreparedMessage>,
        reply: ProviderReply,
    },
    Answer {
        reply: ProviderReply,
        headers: Vec<(String, String)>,
        note: String,
        /// A subscription to confirm (Amazon SNS) before answering; an SNS URL, checked.
        confirm_url: Option<String>,
    },
}

pub struct WebhookService {
    store: Store,
    tenants: Arc<Tenants>,
    capture: Option<CaptureQueue>,
    budget: Duration,
    sns: SnsHttps,
    quarantine_budget: QuarantineBudget,
}

impl WebhookService {
    pub fn new(
        store: Store,
        tenants: Arc<Tenants>,
        capture: Option<CaptureQueue>,
        budget: Duration,
    ) -> WebhookService {
        WebhookService {
            store,
            tenants,
            capture,
            budget,
            sns: SnsHttps::process(),
            quarantine_budget: QuarantineBudget::default(),
        }
    }

    /// Where Amazon SNS certificates and confirmations come from (tests: `SnsHttps::offline`).
    pub fn with_sns(mut self, sns: SnsHttps) -> WebhookService {
        self.sns = sns;
        self
    }

    pub async fn handle(&self, req: IncomingWebhook) -> WebhookAnswer {
        let Some(provider) = Provider::parse(&req.provider) else {
            return WebhookAnswer::error(&ApiError::NotFound {
                code: "unknown_provider",
                message: format!("unknown provider {:?}", req.provider),
            });
        };
        if req.body.len() > MAX_BODY_BYTES {
            return WebhookAnswer::error(&ApiError::TooLarge {
                limit: MAX_BODY_BYTES,
            });
        }
        let tenant = match self.tenants.get(&req.tenant).await {
            Ok(Some(tenant)) => tenant,
            // Answered exactly as a bad signature for a known tenant, so the answer tells no
            // one which tenants exist; nothing is stored for a tenant that does not.
            Ok(None) => {
                tracing::warn!(provider = %provider, "webhook for an unknown tenant refused");
                telemetry::count("WebhooksUnknownTenant", &[("Provider", provider.as_str())]);
                telemetry::webhook(provider.as_str(), "unknown_tenant");
                return WebhookAnswer::error(&rejected());
            }
            // Without the tenant's secrets we cannot verify now: keep the request for replay,
            // which verifies it before anything reaches the ledger.
            Err(e) => {
                let reply = providers::reply(provider, None);
                return self
                    .capture_or_fail(&req, false, format!("tenant unavailable: {e}"), reply)
                    .await;
            }
        };
        // A key service outage left every value of a secret unopened: the request may be a
        // genuine STOP, so it is kept for replay (which verifies it) rather than refused.
        if tenant.secrets_unopened(provider.as_str()) {
            let reply = providers::reply(provider, None);
            return self
                .capture_or_fail(
                    &req,
                    false,
                    "provider secrets could not be opened".into(),
                    reply,
                )
                .await;
        }
        let secrets = tenant.provider_secrets(provider.as_str());
        let certificate = match self
            .sns
            .signing_certificate(provider, &req.body, &secrets)
            .await
        {
            Ok(certificate) => certificate,
            // Not verifiable yet, but maybe a STOP: like an unreadable tenant, keep it for replay.
            Err(e) => {
                let reply = providers::reply(provider, None);
                return self
                    .capture_or_fail(&req, false, format!("signing certificate: {e}"), reply)
                    .await;
            }
        };
        let (messages, reply) = match prepare(
            provider,
            &tenant,
            &req,
            Signature::Verify,
            certificate,
            Utc::now(),
        ) {
            Ok(Prepared::Commit { messages, reply }) => (messages, reply),
            Ok(Prepared::Answer {
                reply,
                headers,
                note,
                confirm_url,
            }) => {
                if let Some(url) = confirm_url
                    && let Err(e) = self.sns.confirm(&url).await
                {
                    // The URL carries the subscription's token: it never reaches a log.
                    tracing::error!(tenant = %req.tenant, provider = %provider, error = %e, "subscription not confirmed");
                    // The provider asks again on an error; a 2xx would leave it unconfirmed.
                    return WebhookAnswer::error(&ApiError::Unavailable(
                        "could not confirm the subscription; retry".into(),
                    ));
                }
                tracing::info!(tenant = %req.tenant, provider = %provider, note = %note, "webhook acknowledged");
                return WebhookAnswer {
                    headers,
                    ..WebhookAnswer::reply(reply)
                };
            }
            Err(Rejection::Signature(reason)) => {
                // Why stays in the quarantine and the log: the answer names no secret.
                self.quarantine(&req, &reason).await;
                return WebhookAnswer::error(&rejected());
            }
            Err(Rejection::Invalid(err)) => return WebhookAnswer::error(&err),
        };
        self.commit_or_capture(&req, &tenant, &messages, reply)
            .await
    }

    /// An Amazon SNS notification that Lambda received from a subscribed topic
    /// (functions/inbound-sns). AWS authenticated it, so there is no signature to check, but its
    /// topic must be one of the tenant's `topic_arn`s. Answered as `handle` answers; anything
    /// but 2xx means it is neither committed nor captured, so the invocation must fail (Lambda
    /// retries it, then hands it to the on-failure destination).
    pub async fn handle_sns_delivery(&self, req: IncomingWebhook) -> WebhookAnswer {
        let tenant = match self.tenants.get(&req.tenant).await {
            Ok(Some(tenant)) => tenant,
            Ok(None) => {
                return WebhookAnswer::error(&ApiError::NotFound {
                    code: "unknown_tenant",
                    message: format!("unknown tenant {:?}", req.tenant),
                });
            }
            Err(e) => {
                return WebhookAnswer::error(&ApiError::Unavailable(format!(
                    "tenant unavailable: {e}"
                )));
            }
        };
        let topic = providers::aws::check_topic(&req.body, &tenant.provider_secrets("aws"))
            .map_err(Rejection::from);
        let prepared = topic.and_then(|()| {
            prepare(
                Provider::Aws,
                &tenant,
                &req,
                Signature::AlreadyVerified,
                None,
                Utc::now(),
            )
        });
        match prepared {
            Ok(Prepared::Commit { messages, reply }) => {
                self.commit_or_capture(&req, &tenant, &messages, reply)
                    .await
            }
            Ok(Prepared::Answer { reply, note, .. }) => {
                tracing::info!(tenant = %req.tenant, note = %note, "SNS delivery acknowledged");
                WebhookAnswer::reply(reply)
            }
            Err(Rejection::Signature(reason)) => {
                self.quarantine(&req, &reason).await;
                WebhookAnswer::error(&ApiError::Unauthorized(format!(
                    "SNS delivery refused: {reason}"
                )))
            }
            Err(Rejection::Invalid(err)) => WebhookAnswer::error(&err),
        }
    }

    /// Commits within the latency budget, or captures the verified request for replay.
    async fn commit_or_capture(
        &self,
        req: &IncomingWebhook,
        tenant: &TenantContext,
        messages: &[PreparedMessage],
        reply: ProviderReply,
    ) -> WebhookAnswer {
        match tokio::time::timeout(self.budget, self.commit_all(req, tenant, messages)).await {
            Ok(Ok(Some(first_reply))) => WebhookAnswer::reply(first_reply),
            Ok(Ok(None)) => WebhookAnswer::reply(reply),
            Ok(Err(StoreError::NonceReused)) => {
                self.quarantine(
                    req,
                    "the signature nonce was already used with another body",
                )
                .await;
                WebhookAnswer::error(&rejected())
            }
            Ok(Err(e)) => {
                self.capture_or_fail(req, true, format!("ledger error: {e}"), reply)
                    .await
            }
            Err(_) => {
                self.capture_or_fail(req, true, "ledger over latency budget".into(), reply)
                    .await
            }
        }
    }

    /// Commits every message; returns the earlier reply when the (single) message was a
    /// redelivery, so a provider asking twice hears the same answer.
    async fn commit_all(
        &self,
        req: &IncomingWebhook,
        tenant: &TenantContext,
        messages: &[PreparedMessage],
    ) -> Result<Option<ProviderReply>, StoreError> {
        let mut answer = None;
        for message in messages {
            let reply = match commit_message(&self.store, tenant, message).await? {
                CommitOutcome::Recorded {
                    fold, kind, reply, ..
                } => {
                    tracing::info!(
                        tenant = %req.tenant, provider = %req.provider, from = %message.event.phone.masked(),
                        kind = kind.as_str(), event_id = %message.event.event_id, ?fold, "webhook recorded"
                    );
                    telemetry::webhook(&req.provider, "recorded");
                    reply
                }
                CommitOutcome::Duplicate(record) => {
                    tracing::info!(tenant = %req.tenant, provider = %req.provider, event_id = %record.event_id, "duplicate delivery; same reply");
                    telemetry::webhook(&req.provider, "duplicate");
                    record.reply
                }
            };
            // Only a single message can be answered in the response.
            if messages.len() == 1 {
                answer = reply;
            }
        }
        Ok(answer)
    }

    async fn capture_or_fail(
        &self,
        req: &IncomingWebhook,
        verified: bool,
        reason: String,
        reply: ProviderReply,
    ) -> WebhookAnswer {
        let captured = match &self.capture {
            Some(queue) => {
                let captured = if verified {
                    req.captured(true, reason.clone(), None)
                } else {
                    self.unverified_capture(req, reason.clone()).await
                };
                queue.capture(&captured).await
            }
            None => Err(StoreError::Unavailable(
                "no capture queue configured".into(),
            )),
        };
        match captured {
            Ok(()) => {
                tracing::warn!(tenant = %req.tenant, provider = %req.provider, verified, reason = %reason, "webhook captured for replay");
                telemetry::count("WebhooksCaptured", &[("Provider", &req.provider)]);
                telemetry::webhook(&req.provider, "captured");
                WebhookAnswer::reply(reply)
            }
            Err(e) => {
                tracing::error!(tenant = %req.tenant, provider = %req.provider, reason = %reason, error = %e, "webhook neither committed nor captured");
                telemetry::count("WebhooksLost", &[("Provider", &req.provider)]);
                telemetry::webhook(&req.provider, "lost");
                WebhookAnswer::error(&ApiError::Unavailable(
                    "cannot record this webhook now; retry".into(),
                ))
            }
        }
    }

    /// The request as an unverified capture keeps it: its credentials sealed for the tenant and
    /// provider, for replay to open and verify. When they cannot be sealed (the key service is
    /// down, which is also why the request could not be verified) they stay in the headers,
    /// on the encrypted queue only, rather than lose what may be a STOP: docs/providers.md,
    /// "What is stored".
    async fn unverified_capture(&self, req: &IncomingWebhook, reason: String) -> CapturedWebhook {
        let credentials = req.split_headers().0;
        if credentials.is_empty() {
            return req.captured(false, reason, None);
        }
        let sealed = match self.tenants.sealer() {
            Some(sealer) => match serde_json::to_string(&credentials) {
                Ok(json) => sealer
                    .seal(&req.tenant, &req.provider, &json)
                    .await
                    .map_err(|e| e.to_string()),
                Err(e) => Err(e.to_string()),
            },
            None => Err("no secrets key".to_string()),
        };
        match sealed {
            Ok(sealed) => req.captured(false, reason, Some(sealed)),
            Err(e) => {
                tracing::warn!(provider = %req.provider, error = %e, "credentials of a captured request could not be sealed; kept on the queue only");
                telemetry::count(
                    "CapturedCredentialsUnsealed",
                    &[("Provider", &req.provider)],
                );
                let mut captured = req.captured(false, reason, None);
                captured.headers.extend(credentials);
                captured
            }
        }
    }

    async fn quarantine(&self, req: &IncomingWebhook, reason: &str) {
        // This instance's own share first: a flood costs no storage write past it.
        if self.quarantine_budget.spend(&req.tenant, req.received_at) {
            quarantine_within_limit(&self.store, req, reason).await;
        } else {
            refused_unstored(req, reason);
        }
    }
}

/// What one warm instance may quarantine per tenant and minute before it stops writing (the
/// table's counter bounds all instances together).
#[derive(Default)]
struct QuarantineBudget {
    spent: std::sync::Mutex<(i64, HashMap<String, u32>)>,
}

impl QuarantineBudget {
    fn spend(&self, tenant: &str, at: DateTime<Utc>) -> bool {
        let minute = at.timestamp().div_euclid(60);
        let Ok(mut spent) = self.spent.lock() else {
            return true;
        };
        if spent.0 != minute {
            *spent = (minute, HashMap::new());
        }
        let count = spent.1.entry(tenant.to_string()).or_insert(0);
        *count += 1;
        *count <= quarantine::MAX_PER_MINUTE
    }
}

/// Stores a refused request, unless its tenant already had its minute's share (then it is only
/// logged and counted): a flood of forgeries must not cost money or bury the real failures.
async fn quarantine_within_limit(store: &Store, req: &IncomingWebhook, reason: &str) {
    match store.quarantine_allowed(&req.tenant, req.received_at).await {
        Ok(true) => {
            tracing::warn!(tenant = %req.tenant, provider = %req.provider, reason = %reason, "webhook signature rejected; quarantined");
            telemetry::count("WebhooksQuarantined", &[("Provider", &req.provider)]);
            telemetry::webhook(&req.provider, "quarantined");
            if let Err(e) = store.quarantine(&quarantine_record(req, reason)).await {
                tracing::error!(error = %e, "could not store quarantined webhook");
            }
        }
        Ok(false) => refused_unstored(req, reason),
        Err(e) => {
            tracing::error!(tenant = %req.tenant, provider = %req.provider, reason = %reason, error = %e, "webhook signature rejected; could not quarantine");
            telemetry::count("WebhooksQuarantined", &[("Provider", &req.provider)]);
            telemetry::webhook(&req.provider, "quarantined");
        }
    }
}

/// A refused request past its tenant's quarantine share: logged and counted, not stored.
fn refused_unstored(req: &IncomingWebhook, reason: &str) {
    tracing::warn!(tenant = %req.tenant, provider = %req.provider, reason = %reason, "webhook signature rejected; over the quarantine share, not stored");
    telemetry::count("WebhooksQuarantineSkipped", &[("Provider", &req.provider)]);
    telemetry::webhook(&req.provider, "quarantine_skipped");
}

/// A refused request as the quarantine keeps it: credentials removed (their size noted), the
/// body cut to its first [`quarantine::MAX_STORED_BODY`] bytes with its length and hash.
pub fn quarantine_record(req: &IncomingWebhook, reason: &str) -> QuarantinedRequest {
    let (credentials, mut headers) = req.split_headers();
    headers.extend(
        credentials
            .into_iter()
            .map(|(name, value)| (name, format!("<removed: {} bytes>", value.len()))),
    );
    let kept = req
        .body
        .get(..quarantine::MAX_STORED_BODY)
        .unwrap_or(&req.body);
    QuarantinedRequest {
        id: ulid::Ulid::new().to_string(),
        tenant: req.tenant.clone(),
        provider: req.provider.clone(),
        reason: reason.to_string(),
        received_at: req.received_at,
        url: req.url.clone(),
        headers,
        body_base64: B64.encode(kept),
        body_bytes: req.body.len(),
        body_sha256: hex::encode(sha2::Sha256::digest(&req.body)),
    }
}

/// The one answer to a webhook that is not provably from its provider, whatever the reason:
/// the reason is quarantined and logged, never told to the caller.
fn rejected() -> ApiError {
    ApiError::Unauthorized("webhook signature rejected".into())
}

pub enum Rejection {
    /// Not provably from the provider: quarantine, 401.
    Signature(String),
    /// Signed, but unusable: 400 naming the field.
    Invalid(ApiError),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signature {
    Verify,
    /// Verified when it arrived (a captured webhook): a secret rotated since must not lose it.
    AlreadyVerified,
}

impl From<WebhookError> for Rejection {
    fn from(e: WebhookError) -> Rejection {
        match e {
            WebhookError::BadSignature(reason) => Rejection::Signature(reason),
            WebhookError::Malformed { field, reason } => Rejection::Invalid(ApiError::Invalid {
                code: "invalid_webhook",
                message: format!("{field}: {reason}"),
                field: Some(field),
            }),
        }
    }
}

/// Verifies, parses and classifies a webhook into the events to commit. No I/O: a signing
/// certificate the provider's scheme needs (Amazon SNS) is fetched beforehand and passed in.
pub fn prepare(
    provider: Provider,
    tenant: &TenantContext,
    req: &IncomingWebhook,
    signature: Signature,
    certificate: Option<SigningCertificate>,
    recorded_at: DateTime<Utc>,
) -> Result<Prepared, Rejection> {
    let request = req.as_request();
    if signature == Signature::Verify {
        let mut secrets = tenant.provider_secrets(provider.as_str());
        if let Some(certificate) = certificate {
            secrets = secrets.with_signing_certificate(certificate);
        }
        providers::verify(provider, &request, &secrets, req.received_at)?;
    }
    let policy = &tenant.snapshot.tenant.policy;
    let messages = match providers::parse(provider, &request)? {
        Parsed::Messages(messages) => messages,
        Parsed::Ignored(note) => {
            return Ok(Prepared::Answer {
                reply: providers::reply(provider, None),
                headers: vec![],
                note,
                confirm_url: None,
            });
        }
        Parsed::Handshake(handshake) => {
            // The confirmation URL carries the subscription's token: it is never logged.
            let note = match &handshake.confirm_url {
                Some(_) => "subscription confirmation requested".to_string(),
                None => "handshake answered".to_string(),
            };
            return Ok(Prepared::Answer {
                reply: handshake.reply,
                headers: handshake.headers,
                note,
                confirm_url: handshake.confirm_url,
            });
        }
    };
    let mut prepared = Vec::with_capacity(messages.len());
    let mut classifications = Vec::with_capacity(messages.len());
    for message in &messages {
        let from = policy.read_phone(&message.from).map_err(|e| {
            Rejection::Invalid(ApiError::invalid(
                "invalid_phone_number",
                "From",
                format!("From: {e}"),
            ))
        })?;
        // The business side may be a short code or a sender id rather than a full number.
        let to = policy
            .read_phone(&message.to)
            .map(|n| n.as_str().to_string())
            .unwrap_or_else(|_| message.to.trim().to_string());
        if to.is_empty() {
            return Err(Rejection::Invalid(ApiError::invalid(
                "invalid_webhook",
                "To",
                "To is empty",
            )));
        }
        let classification = match message.provider_intent {
            Some(intent) => keywords::Classification {
                intent,
                rule: "provider".into(),
                language: None,
                classifier_version: keywords::CLASSIFIER_VERSION.into(),
                keyword: None,
            },
            None => tenant.classifier.classify(&message.text),
        };
        classifications.push(classification.clone());
        let facts = InboundFacts {
            tenant: &tenant.snapshot.tenant.tenant_id,
            message,
            from,
            to,
            classification: &classification,
            received_at: req.received_at,
        };
        let (event, private) = inbound_event(&facts, &tenant.snapshot.directory, recorded_at);
        tracing::debug!(from = %mask::phone(&message.from), intent = ?classification.intent, "webhook parsed");
        prepared.push((event, private, message.message_id.clone()));
    }
    // One reply per request: only a single message can be answered in the response.
    let (reply, ordinary_reply) = match (classifications.as_slice(), messages.as_slice()) {
        ([classification], [message]) => (
            reply_for(provider, policy, classification, message),
            providers::reply_to(provider, message, None),
        ),
        _ => (
            providers::reply(provider, None),
            providers::reply(provider, None),
        ),
    };
    // The request's nonce is claimed with its first message: a nonce seen once never carries
    // another body.
    let mut nonce = providers::nonce(provider, &request).map(|nonce| NonceClaim {
        nonce,
        body_sha256: hex::encode(sha2::Sha256::digest(&req.body)),
    });
    let messages = prepared
        .into_iter()
        .map(|(event, private, message_id)| PreparedMessage {
            event,
            private,
            dedupe: DedupeClaim {
                provider: provider.as_str().to_string(),
                message_id,
                reply: Some(reply.clone()),
                nonce: nonce.take(),
            },
            ordinary_reply: ordinary_reply.clone(),
        })
        .collect();
    Ok(Prepared::Commit { messages, reply })
}

fn reply_for(
    provider: Provider,
    policy: &crate::consent::TenantPolicy,
    classification: &keywords::Classification,
    message: &InboundMessage,
) -> ProviderReply {
    let kind = match (policy.reply_mode, classification.intent) {
        (ReplyMode::Provider, _) => None,
        (ReplyMode::Stopgate, Intent::OptOut) => Some(ReplyKind::OptOut),
        (ReplyMode::Stopgate, Intent::OptIn) => Some(ReplyKind::OptIn),
        (ReplyMode::Stopgate, Intent::Help) => Some(ReplyKind::Help),
        (ReplyMode::Stopgate, _) => None,
    };
    let text = kind.map(|k| policy.reply_text(k, classification.language.as_deref()));
    providers::reply_to(provider, message, text.as_deref())
}

/// Replays one captured webhook into the ledger: verifies it first if it was captured
/// unverified, and is idempotent through the dedupe records.
pub async fn replay(
    store: &Store,
    tenants: &Tenants,
    captured: &CapturedWebhook,
) -> Result<ReplayOutcome, StoreError> {
    let credentials = match &captured.sealed_credentials {
        None => Vec::new(),
        Some(sealed) => {
            let sealer = tenants.sealer().ok_or_else(|| {
                StoreError::Unavailable("no secrets key to open captured credentials".into())
            })?;
            let opened = sealer
                .open(&captured.tenant, &captured.provider, sealed)
                .await
                .map_err(|e| StoreError::Unavailable(format!("captured credentials: {e}")))?;
            serde_json::from_str(opened.expose())
                .map_err(|e| StoreError::Corrupt(format!("captured credentials: {e}")))?
        }
    };
    let req = IncomingWebhook::from_captured(captured, credentials)
        .map_err(|e| StoreError::Corrupt(format!("captured webhook: {e}")))?;
    let Some(provider) = Provider::parse(&req.provider) else {
        return Ok(ReplayOutcome::Dropped("unknown provider".into()));
    };
    let Some(tenant) = tenants.get(&req.tenant).await? else {
        return Ok(ReplayOutcome::Dropped("unknown tenant".into()));
    };
    if !captured.verified && tenant.secrets_unopened(provider.as_str()) {
        // Still nothing to verify with: the queue delivers it again later.
        return Err(StoreError::Unavailable(
            "provider secrets could not be opened".into(),
        ));
    }
    let signature = if captured.verified {
        Signature::AlreadyVerified
    } else {
        Signature::Verify
    };
    let sns = SnsHttps::process();
    let certificate = match signature {
        Signature::Verify => sns
            .signing_certificate(provider, &req.body, &tenant.provider_secrets(&req.provider))
            .await
            .map_err(StoreError::Unavailable)?,
        Signature::AlreadyVerified => None,
    };
    let messages = match prepare(provider, &tenant, &req, signature, certificate, Utc::now()) {
        Ok(Prepared::Commit { messages, .. }) => messages,
        Ok(Prepared::Answer {
            note, confirm_url, ..
        }) => {
            if let Some(url) = confirm_url {
                sns.confirm(&url)
                    .await
                    .map_err(|e| StoreError::Unavailable(format!("confirming {url}: {e}")))?;
            }
            return Ok(ReplayOutcome::Dropped(note));
        }
        Err(Rejection::Signature(reason)) => {
            quarantine_within_limit(store, &req, &reason).await;
            return Ok(ReplayOutcome::Quarantined(reason));
        }
        Err(Rejection::Invalid(err)) => return Ok(ReplayOutcome::Dropped(err.to_string())),
    };
    let mut recorded = Vec::new();
    let mut duplicates = Vec::new();
    for message in &messages {
        match commit_message(store, &tenant, message).await {
            Ok(CommitOutcome::Recorded { .. }) => recorded.push(message.event.event_id.to_string()),
            Ok(CommitOutcome::Duplicate(record)) => duplicates.push(record.event_id),
            Err(StoreError::NonceReused) => {
                let reason = "the signature nonce was already used with another body";
                quarantine_within_limit(store, &req, reason).await;
                return Ok(ReplayOutcome::Quarantined(reason.into()));
            }
            Err(e) => return Err(e),
        }
    }
    Ok(if recorded.is_empty() {
        ReplayOutcome::Duplicate(duplicates.join(","))
    } else {
        ReplayOutcome::Recorded(recorded.join(","))
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplayOutcome {
    Recorded(String),
    Duplicate(String),
    Quarantined(String),
    /// Not recordable (unknown tenant or provider, unreadable body): logged and dropped.
    Dropped(String),
}
