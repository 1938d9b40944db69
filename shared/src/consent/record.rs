//! Consents recorded through the API or an import: validation that explains itself, and the
//! event it becomes. Pure.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::event::{
    Actor, Category, ConsentEvent, ConsentLevel, EventId, EventKind, EvidenceRefs, Origin,
    PrivateEvidence, Source, TimeSource,
};
use super::ordering::{Mark, lifts};
use super::policy::TenantPolicy;
use super::quiet_hours::{self, Location};
use super::scope::{Scope, SenderDirectory};
use super::state::{FacetScope, NumberState};
use crate::phone::E164;

/// A client clock slightly ahead of ours is not "the future".
pub const CLOCK_SKEW: Duration = Duration::seconds(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentAction {
    OptIn,
    OptOut,
    Grant,
    Revoke,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EvidenceInput {
    #[serde(default)]
    pub disclosure_text: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
    #[serde(default)]
    pub form_url: Option<String>,
    #[serde(default)]
    pub document_ref: Option<String>,
    #[serde(default)]
    pub agent: Option<String>,
}

/// `POST /v1/consents` as received (strings, so every problem can be named).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsentRequest {
    pub phone: String,
    pub action: String,
    #[serde(default)]
    pub category: Option<String>,
    #[serde(default)]
    pub level: Option<String>,
    pub scope: String,
    pub source: String,
    #[serde(default)]
    pub evidence: Option<EvidenceInput>,
    #[serde(default)]
    pub occurred_at: Option<String>,
    #[serde(default)]
    pub override_opt_out: Option<bool>,
    /// Where the person is (`state`, `zip`, `time_zone`), as they gave it with their consent:
    /// it decides their quiet hours (rule 7).
    #[serde(default)]
    pub location: Option<Location>,
}

/// A validation failure: the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    pub code: &'static str,
    pub field: String,
    pub message: String,
}

fn invalid(code: &'static str, field: &str, message: impl Into<String>) -> Invalid {
    Invalid {
        code,
        field: field.to_string(),
        message: message.into(),
    }
}

/// A request with every field checked, ready to become an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidConsent {
    pub phone: E164,
    pub action: ConsentAction,
    pub category: Option<Category>,
    pub level: Option<ConsentLevel>,
    pub scope: Scope,
    pub source: Source,
    pub evidence: EvidenceInput,
    pub occurred_at: Option<DateTime<Utc>>,
    pub override_opt_out: bool,
    /// Set when `express_written` lacked a disclosure and was recorded as `express` (imports).
    pub downgraded: bool,
    pub location: Option<Location>,
}

fn parse_enum<T: serde::de::DeserializeOwned>(
    value: &str,
    code: &'static str,
    field: &str,
    expected: &str,
) -> Result<T, Invalid> {
    serde_json::from_value(serde_json::Value::String(value.trim().to_string())).map_err(|_| {
        invalid(
            code,
            field,
            format!("{field} {value:?} is not one of {expected}"),
        )
    })
}

pub fn parse_level(value: &str) -> Result<ConsentLevel, Invalid> {
    parse_enum(
        value,
        "invalid_level",
        "level",
        "implied, express, express_written",
    )
}

pub fn parse_source(value: &str) -> Result<Source, Invalid> {
    let source: Source = parse_enum(
        value,
        "invalid_source",
        "source",
        "web_form, paper, verbal, api, import, email, phone_call",
    )?;
    // Keyword, provider, preference-centre and review events come from their own paths.
    if matches!(
        source,
        Source::SmsKeyword
            | Source::Provider
            | Source::WebPreferences
            | Source::ReviewExpired
            | Source::ProviderList
    ) {
        return Err(invalid(
            "invalid_source",
            "source",
            format!("source {value:?} is recorded by Stopgate itself, not through this API"),
        ));
    }
    Ok(source)
}

/// How to treat `express_written` without its disclosure: an API call is refused, an import
/// line is kept at `express` with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MissingDisclosure {
    Refuse,
    Downgrade,
}

impl ConsentRequest {
    pub fn validate(
        &self,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
        missing: MissingDisclosure,
    ) -> Result<ValidConsent, Invalid> {
        let phone = policy
            .read_phone(&self.phone)
            .map_err(|e| invalid("invalid_phone_number", "phone", format!("phone: {e}")))?;
        let action: ConsentAction = parse_enum(
            &self.action,
            "invalid_action",
            "action",
            "opt_in, opt_out, grant, revoke",
        )?;
        let scope: Scope = self
            .scope
            .trim()
            .parse()
            .map_err(|e: String| invalid("invalid_scope", "scope", e))?;
        let source = parse_source(&self.source)?;
        let category = match self.category.as_deref() {
            None => None,
            Some(c) => Some(
                c.trim()
                    .parse::<Category>()
                    .map_err(|e| invalid("invalid_category", "category", e))?,
            ),
        };
        let mut level = self.level.as_deref().map(parse_level).transpose()?;
        let evidence = self.evidence.clone().unwrap_or_default();
        for (field, value, max) in [
            (
                "evidence.disclosure_text",
                &evidence.disclosure_text,
                20_000,
            ),
            ("evidence.ip", &evidence.ip, 64),
            ("evidence.user_agent", &evidence.user_agent, 1_000),
            ("evidence.form_url", &evidence.form_url, 2_000),
            ("evidence.document_ref", &evidence.document_ref, 1_000),
            ("evidence.agent", &evidence.agent, 200),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > max) {
                return Err(invalid(
                    "invalid_evidence",
                    field,
                    format!("{field} is longer than {max} bytes"),
                ));
            }
        }
        if let Some(ip) = evidence.ip.as_deref().filter(|ip| !ip.trim().is_empty()) {
            ip.trim().parse::<std::net::IpAddr>().map_err(|_| {
                invalid(
                    "invalid_evidence",
                    "evidence.ip",
                    format!("{ip:?} is not an IP address"),
                )
            })?;
        }

        match action {
            ConsentAction::Grant => {
                if category.is_none() {
                    return Err(invalid(
                        "missing_category",
                        "category",
                        "grant needs the category it consents to",
                    ));
                }
                if level.is_none() {
                    return Err(invalid(
                        "missing_level",
                        "level",
                        "grant needs the consent level (implied, express, express_written)",
                    ));
                }
            }
            ConsentAction::Revoke => {
                if category.is_none() {
                    return Err(invalid(
                        "missing_category",
                        "category",
                        "revoke needs the category it withdraws; use opt_out to stop everything",
                    ));
                }
                if level.is_some() {
                    return Err(invalid("invalid_level", "level", "revoke takes no level"));
                }
            }
            ConsentAction::OptOut => {
                if category.is_some() || level.is_some() {
                    return Err(invalid(
                        "invalid_category",
                        "category",
                        "opt_out applies to every category; use revoke to withdraw one category",
                    ));
                }
            }
            ConsentAction::OptIn => {
                if category.is_some() != level.is_some() {
                    let field = if category.is_none() {
                        "category"
                    } else {
                        "level"
                    };
                    return Err(invalid(
                        "missing_level",
                        field,
                        "an opt_in that grants consent needs both category and level",
                    ));
                }
            }
        }

        let mut downgraded = false;
        if level == Some(ConsentLevel::ExpressWritten) {
            let has_text = evidence
                .disclosure_text
                .as_deref()
                .is_some_and(|t| !t.trim().is_empty());
            let has_document = source == Source::Paper
                && evidence
                    .document_ref
                    .as_deref()
                    .is_some_and(|d| !d.trim().is_empty());
            if !has_text && !has_document {
                match missing {
                    MissingDisclosure::Refuse => {
                        return Err(invalid(
                            "missing_disclosure",
                            "evidence.disclosure_text",
                            "express_written consent needs the exact disclosure text shown (or, for paper, evidence.document_ref)",
                        ));
                    }
                    MissingDisclosure::Downgrade => {
                        level = Some(ConsentLevel::Express);
                        downgraded = true;
                    }
                }
            }
        }

        let occurred_at = match self.occurred_at.as_deref() {
            None => None,
            Some(raw) => {
                let at = DateTime::parse_from_rfc3339(raw.trim())
                    .map_err(|e| {
                        invalid(
                            "invalid_occurred_at",
                            "occurred_at",
                            format!("occurred_at must be an RFC 3339 time with a zone: {e}"),
                        )
                    })?
                    .with_timezone(&Utc);
                if at > now + CLOCK_SKEW {
                    return Err(invalid(
                        "invalid_occurred_at",
                        "occurred_at",
                        "occurred_at is in the future",
                    ));
                }
                Some(at.min(now))
            }
        };
        let override_opt_out = self.override_opt_out.unwrap_or(false);
        if override_opt_out && matches!(action, ConsentAction::OptOut | ConsentAction::Revoke) {
            return Err(invalid(
                "invalid_override",
                "override_opt_out",
                "override_opt_out applies only to opt_in and grant",
            ));
        }
        let location = match &self.location {
            None => None,
            Some(location) => match quiet_hours::check_location(location) {
                Ok(true) => Some(location.clone()),
                Ok(false) => None,
                Err(field) => {
                    return Err(invalid(
                        "invalid_location",
                        &format!("location.{field}"),
                        format!(
                            "location.{field} is not a known US state or territory code, ZIP code or IANA time zone"
                        ),
                    ));
                }
            },
        };
        Ok(ValidConsent {
            phone,
            action,
            category,
            level,
            scope,
            source,
            evidence,
            occurred_at,
            override_opt_out,
            downgraded,
            location,
        })
    }
}

/// What an override must show (rule 2): the person's *written* consent.
pub const WRITTEN_CONSENT_NEEDED: &str = "lifting an opt-out needs evidence of the person's written consent: express_written with the \
     exact disclosure text shown (evidence.disclosure_text), a signed paper form (source paper with evidence.document_ref), \
     an email (source email with evidence.document_ref naming the message) or a web form record (source web_form with \
     evidence.form_url and the disclosure text); a verbal or phone-call consent, or implied consent, cannot lift an opt-out";

pub fn disclosure_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

impl ValidConsent {
    /// Why this consent cannot stand as written consent documented to lift an opt-out, if it
    /// asks to (`override_opt_out`) without the evidence rule 2 requires.
    pub fn override_refusal(&self) -> Option<&'static str> {
        if !self.override_opt_out {
            return None;
        }
        let has = |v: &Option<String>| v.as_deref().is_some_and(|s| !s.trim().is_empty());
        let e = &self.evidence;
        let written = match self.source {
            Source::Verbal | Source::PhoneCall => false,
            _ if self.level == Some(ConsentLevel::Implied) => false,
            _ if self.level == Some(ConsentLevel::ExpressWritten) && has(&e.disclosure_text) => {
                true
            }
            Source::Paper | Source::Email => has(&e.document_ref),
            Source::WebForm => has(&e.form_url) && has(&e.disclosure_text),
            _ => false,
        };
        (!written).then_some(WRITTEN_CONSENT_NEEDED)
    }

    /// The (SHA-256, text) of the disclosure this consent carries, as `event` refers to it: what
    /// a commit stores once per tenant.
    pub fn disclosure<'a>(&'a self, event: &'a ConsentEvent) -> Option<(&'a str, &'a str)> {
        let text = self
            .evidence
            .disclosure_text
            .as_deref()
            .filter(|t| !t.trim().is_empty())?;
        Some((event.evidence.disclosure_sha256.as_deref()?, text))
    }

    /// The event (and its private record) this consent becomes.
    pub fn event(
        &self,
        tenant: &str,
        actor: Actor,
        received_at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
    ) -> (ConsentEvent, PrivateEvidence) {
        let (occurred_at, time_source) = match self.occurred_at {
            Some(at) => (at, TimeSource::Client),
            None => (received_at, TimeSource::Receipt),
        };
        let kind = match self.action {
            ConsentAction::OptIn => EventKind::OptIn,
            ConsentAction::OptOut => EventKind::OptOut,
            ConsentAction::Grant => EventKind::Grant,
            ConsentAction::Revoke => EventKind::Revoke,
        };
        let evidence = &self.evidence;
        let non_empty = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_string)
        };
        let private = PrivateEvidence {
            message_text: None,
            ip: non_empty(&evidence.ip),
            user_agent: non_empty(&evidence.user_agent),
        };
        let event = ConsentEvent {
            event_id: EventId::new(recorded_at),
            tenant: tenant.to_string(),
            phone: self.phone.clone(),
            kind,
            category: self.category,
            level: self.level,
            scope: Some(self.scope.clone()),
            origin: Origin::default(),
            source: self.source,
            occurred_at,
            time_source,
            received_at,
            recorded_at,
            actor,
            evidence: EvidenceRefs {
                // Over the bytes exactly as received: a changed space is a changed disclosure.
                disclosure_sha256: evidence
                    .disclosure_text
                    .as_deref()
                    .filter(|t| !t.trim().is_empty())
                    .map(disclosure_sha256),
                form_url: non_empty(&evidence.form_url),
                document_ref: non_empty(&evidence.document_ref),
                agent: non_empty(&evidence.agent),
                has_private_record: !private.is_empty(),
                ..EvidenceRefs::default()
            },
            override_opt_out: self.override_opt_out,
            review: None,
            location: self.location.clone(),
            pending: None,
            confirms: None,
        };
        (event, private)
    }
}

/// The opt-out an opt-in or grant could lift only as written consent documented to override it
/// (docs/rules.md rule 2), if any: one still in force, in a scope that overlaps the consent's,
/// that the new event is later than under rule 1. Overlap is judged widely, so in doubt the
/// caller must say `override_opt_out` (with the evidence it needs).
pub fn opt_out_only_an_override_lifts<'a>(
    state: &'a NumberState,
    event: &ConsentEvent,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Option<&'a Mark> {
    if !matches!(event.kind, EventKind::OptIn | EventKind::Grant) {
        return None;
    }
    let scope = event.scope.as_ref()?;
    let as_override = Mark {
        override_opt_out: true,
        ..Mark::of(event)
    };
    opt_outs_in_force(state, scope, policy, directory).find(|x| lifts(&as_override, x))
}

/// The latest opt-out still in force in a scope that overlaps `scope`, whatever its time: an
/// import must not lift an older one nor stand as an opt-in beside a newer one.
pub fn opt_out_in_force<'a>(
    state: &'a NumberState,
    scope: &Scope,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> Option<&'a Mark> {
    opt_outs_in_force(state, scope, policy, directory).max_by_key(|m| m.canonical_key())
}

fn opt_outs_in_force<'a>(
    state: &'a NumberState,
    scope: &Scope,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
) -> impl Iterator<Item = &'a Mark> {
    let tenant_wide_opt_ins: Vec<&Mark> = state
        .suppression
        .iter()
        .filter(|f| {
            f.scope
                == FacetScope::Named {
                    scope: Scope::Tenant,
                }
        })
        .flat_map(|f| f.opt_ins.iter())
        .collect();
    state
        .suppression
        .iter()
        .filter(move |f| {
            f.scope
                .readings(policy, directory)
                .iter()
                .any(|r| r.overlaps(scope, directory))
        })
        .flat_map(|f| f.opt_outs.iter().map(move |x| (f, x)))
        .filter(move |(f, x)| {
            !f.opt_ins
                .iter()
                .chain(tenant_wide_opt_ins.iter().copied())
                .any(|o| lifts(o, x))
        })
        .map(|(_, x)| x)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
    }

    fn request(json: serde_json::Value) -> ConsentRequest {
        serde_json::from_value(json).unwrap()
    }

    fn field(json: serde_json::Value) -> String {
        request(json)
            .validate(&TenantPolicy::default(), now(), MissingDisclosure::Refuse)
            .unwrap_err()
            .field
    }

    #[test]
    fn validation_names_the_field() {
        let base = serde_json::json!({"phone": "(415) 555-0123", "action": "grant", "category": "promotional", "level": "express_written",
            "scope": "tenant", "source": "web_form", "evidence": {"disclosure_text": "By checking this box..."}});
        let ok = request(base.clone())
            .validate(&TenantPolicy::default(), now(), MissingDisclosure::Refuse)
            .unwrap();
        assert_eq!(ok.phone.as_str(), "+14155550123");

        let with = |k: &str, v: serde_json::Value| {
            let mut j = base.clone();
            j[k] = v;
            j
        };
        assert_eq!(field(with("phone", "12".into())), "phone");
        assert_eq!(field(with("action", "subscribe".into())), "action");
        assert_eq!(field(with("scope", "everyone".into())), "scope");
        assert_eq!(field(with("source", "carrier_pigeon".into())), "source");
        assert_eq!(field(with("source", "sms_keyword".into())), "source");
        assert_eq!(field(with("category", serde_json::Value::Null)), "category");
        assert_eq!(field(with("level", serde_json::Value::Null)), "level");
        assert_eq!(
            field(with("evidence", serde_json::json!({}))),
            "evidence.disclosure_text"
        );
        assert_eq!(
            field(with("occurred_at", "2026-06-02T00:00:00Z".into())),
            "occurred_at"
        );
        assert_eq!(
            field(with("occurred_at", "2026-06-01 10:00".into())),
            "occurred_at"
        );
        assert_eq!(
            field(with(
                "evidence",
                serde_json::json!({"disclosure_text": "x", "ip": "not-an-ip"})
            )),
            "evidence.ip"
        );
    }

    #[test]
    fn paper_needs_a_document_reference_instead_of_text() {
        let paper = request(
            serde_json::json!({"phone": "+14155550123", "action": "grant", "category": "promotional",
            "level": "express_written", "scope": "tenant", "source": "paper", "evidence": {"document_ref": "box 12/form 7"}}),
        );
        assert!(
            paper
                .validate(&TenantPolicy::default(), now(), MissingDisclosure::Refuse)
                .is_ok()
        );
    }

    #[test]
    fn imports_downgrade_written_consent_without_disclosure() {
        let r = request(
            serde_json::json!({"phone": "+14155550123", "action": "grant", "category": "promotional",
            "level": "express_written", "scope": "tenant", "source": "import"}),
        );
        let v = r
            .validate(
                &TenantPolicy::default(),
                now(),
                MissingDisclosure::Downgrade,
            )
            .unwrap();
        assert_eq!((v.level, v.downgraded), (Some(ConsentLevel::Express), true));
    }

    #[test]
    fn opt_out_needs_neither_category_nor_evidence_and_refuses_a_category() {
        let opt_out = serde_json::json!({"phone": "+14155550123", "action": "opt_out", "scope": "tenant", "source": "phone_call"});
        assert!(
            request(opt_out.clone())
                .validate(&TenantPolicy::default(), now(), MissingDisclosure::Refuse)
                .is_ok()
        );
        let mut with_category = opt_out;
        with_category["category"] = "promotional".into();
        assert_eq!(field(with_category), "category");
    }

    #[test]
    fn an_override_applies_to_opt_ins_and_grants_only() {
        let r = serde_json::json!({"phone": "+14155550123", "action": "opt_out", "scope": "tenant", "source": "paper",
            "override_opt_out": true, "evidence": {"document_ref": "x"}});
        assert_eq!(field(r), "override_opt_out");
    }

    fn refusal(json: serde_json::Value) -> Option<&'static str> {
        request(json)
            .validate(&TenantPolicy::default(), now(), MissingDisclosure::Refuse)
            .unwrap()
            .override_refusal()
    }

    #[test]
    fn an_override_needs_evidence_of_written_consent() {
        let base = |source: &str, evidence: serde_json::Value| {
            serde_json::json!({"phone": "+14155550123", "action": "opt_in", "scope": "tenant", "source": source,
                "override_opt_out": true, "evidence": evidence})
        };
        // Written: a signed paper form, an email, a web form with what it showed.
        assert_eq!(
            refusal(base(
                "paper",
                serde_json::json!({"document_ref": "box 12/form 7"})
            )),
            None
        );
        assert_eq!(
            refusal(base(
                "email",
                serde_json::json!({"document_ref": "<msg-1@acme.example>"})
            )),
            None
        );
        assert_eq!(
            refusal(base(
                "web_form",
                serde_json::json!({"form_url": "https://acme.example/f", "disclosure_text": "Reply STOP to cancel."})
            )),
            None
        );
        let mut written = base(
            "api",
            serde_json::json!({"disclosure_text": "Reply STOP to cancel."}),
        );
        written["action"] = "grant".into();
        written["category"] = "promotional".into();
        written["level"] = "express_written".into();
        assert_eq!(refusal(written), None);

        // Not written: an agent's word, a call, a form without its record, implied consent.
        for (source, evidence) in [
            ("verbal", serde_json::json!({"agent": "agent-17"})),
            (
                "phone_call",
                serde_json::json!({"agent": "agent-17", "document_ref": "call-9"}),
            ),
            ("web_form", serde_json::json!({"ip": "203.0.113.9"})),
            ("paper", serde_json::json!({"agent": "agent-17"})),
            ("api", serde_json::json!({"ip": "203.0.113.9"})),
        ] {
            assert_eq!(
                refusal(base(source, evidence.clone())),
                Some(WRITTEN_CONSENT_NEEDED),
                "{source} {evidence}"
            );
        }
        let mut implied = base("paper", serde_json::json!({"document_ref": "box 1"}));
        implied["action"] = "grant".into();
        implied["category"] = "conversational".into();
        implied["level"] = "implied".into();
        assert_eq!(refusal(implied), Some(WRITTEN_CONSENT_NEEDED));
        // No override asked: nothing to refuse.
        let mut plain = base("verbal", serde_json::json!({}));
        plain["override_opt_out"] = false.into();
        assert_eq!(refusal(plain), None);
    }

    #[test]
    fn the_disclosure_hash_is_over_the_exact_bytes() {
        assert_eq!(
            disclosure_sha256("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_ne!(disclosure_sha256("abc "), disclosure_sha256("abc"));
    }
}
