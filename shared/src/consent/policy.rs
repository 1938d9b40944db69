//! A tenant's policy: the settings that decide, applied when a check is answered.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::scope::StopScope;
use crate::keywords::KeywordSettings;
use crate::phone::{E164, PhoneError, PhoneMode};

/// Who writes the replies to STOP/START/HELP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReplyMode {
    /// The provider sends its own keyword replies (Twilio does by default): answer empty TwiML.
    #[default]
    Provider,
    /// Stopgate writes the replies in the webhook response.
    Stopgate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct TenantPolicy {
    /// How wide a keyword STOP reaches (default: the whole tenant).
    pub stop_scope: StopScope,
    /// How long an inbound message from the person allows conversational replies.
    pub conversational_window_hours: u32,
    /// Relaxes informational messages to "allowed unless opted out".
    pub informational_unless_opted_out: bool,
    pub reply_mode: ReplyMode,
    /// ISO 3166 region used to read numbers written without a country code.
    pub default_region: String,
    /// Accept only numbers already in E.164 form.
    pub strict_e164: bool,
    /// Keywords the tenant adds (the FCC's words can never be removed).
    pub keywords: KeywordSettings,
    /// Reply texts per language (`en`, `es`, ...), used when `reply_mode` is `stopgate`.
    pub replies: BTreeMap<String, ReplyTexts>,
    /// For the default HELP reply (CTIA): the brand, how to reach support, how often messages come.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub brand_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub support_contact: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_frequency: Option<String>,
    /// Sender groups (`group:<name>` or `sender:<id>`) where the business itself sends the one
    /// opt-out confirmation; elsewhere the provider or network does, so rule 6's exemption
    /// does not apply (docs/rules.md rule 6).
    pub business_confirms: Vec<String>,
    /// Business days a possible revocation may wait for review before it becomes an opt-out
    /// (the FCC allows at most 10; a tenant may shorten it).
    pub review_business_days: u32,
    /// The tenant's time zone (IANA name): business days are counted there.
    pub time_zone: String,
    /// Quiet hours where the law does not set them (Canada, territories): rule 7.
    pub quiet_hours: super::quiet_hours::QuietHoursSettings,
    /// How often the tenant's changes are exported on schedule (an incremental export).
    pub export_schedule: ExportSchedule,
    /// Days the redactable personal data of an event (message text, IP address, user agent)
    /// is kept; `None` keeps it (the default). Events themselves, and so opt-outs and the
    /// proof of consent, are never removed by retention.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retention_days: Option<u32>,
    /// Increases with every change, so decisions can say which policy they applied.
    pub version: u64,
}

/// The shortest retention a tenant may set: long enough that a mistyped setting cannot erase
/// the evidence of last month's STOPs and opt-ins overnight.
pub const MIN_RETENTION_DAYS: u32 = 30;

impl Default for TenantPolicy {
    fn default() -> TenantPolicy {
        TenantPolicy {
            stop_scope: StopScope::Tenant,
            conversational_window_hours: 24,
            informational_unless_opted_out: false,
            reply_mode: ReplyMode::Provider,
            default_region: "US".to_string(),
            strict_e164: false,
            keywords: KeywordSettings::default(),
            replies: BTreeMap::new(),
            brand_name: None,
            support_contact: None,
            message_frequency: None,
            business_confirms: Vec::new(),
            review_business_days: 10,
            time_zone: DEFAULT_TIME_ZONE.to_string(),
            quiet_hours: Default::default(),
            export_schedule: ExportSchedule::default(),
            retention_days: None,
            version: 1,
        }
    }
}

/// How often a tenant's scheduled incremental export runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportSchedule {
    Off,
    Hourly,
    #[default]
    Daily,
    Weekly,
}

impl ExportSchedule {
    /// Time between two scheduled exports; none when off.
    pub fn interval(self) -> Option<chrono::Duration> {
        match self {
            ExportSchedule::Off => None,
            ExportSchedule::Hourly => Some(chrono::Duration::hours(1)),
            ExportSchedule::Daily => Some(chrono::Duration::days(1)),
            ExportSchedule::Weekly => Some(chrono::Duration::weeks(1)),
        }
    }
}

/// The replies to keywords in one language; an empty field falls back to the default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReplyTexts {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_out: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opt_in: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// Which keyword reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    OptOut,
    OptIn,
    Help,
}

/// Where business days are counted unless the tenant says otherwise.
pub const DEFAULT_TIME_ZONE: &str = "America/New_York";

impl TenantPolicy {
    /// The tenant's time zone; an unreadable name (never stored by the CLI) counts as the
    /// default.
    pub fn zone(&self) -> chrono_tz::Tz {
        self.time_zone
            .parse()
            .unwrap_or(chrono_tz::America::New_York)
    }

    /// When a possible revocation received at `received_at` becomes an opt-out unless reviewed
    /// (rule 5): the end of the tenant's `review_business_days`-th business day after it, in
    /// the tenant's time zone.
    pub fn review_due(
        &self,
        received_at: chrono::DateTime<chrono::Utc>,
    ) -> chrono::DateTime<chrono::Utc> {
        super::calendar::due_after(received_at, self.review_business_days, self.zone())
    }

    /// How this tenant reads phone numbers: in its default region, or only in E.164 form when
    /// it asked for strict numbers.
    pub fn phone_mode(&self) -> PhoneMode {
        if self.strict_e164 {
            PhoneMode::StrictE164
        } else {
            PhoneMode::Lenient
        }
    }

    /// A phone number as this tenant writes it, in E.164.
    pub fn read_phone(&self, raw: &str) -> Result<E164, PhoneError> {
        crate::phone::normalize(raw, &self.default_region, self.phone_mode())
    }

    /// The reply for `kind` in `language`: the tenant's own text in that language, else
    /// Stopgate's default in that language (English, Spanish, Portuguese, French), else the
    /// tenant's English text, else the English default. A person who wrote BAJA is answered
    /// in Spanish even when the tenant only wrote English texts. The default HELP follows
    /// CTIA: brand, contact, frequency, rates, how to stop.
    pub fn reply_text(&self, kind: ReplyKind, language: Option<&str>) -> String {
        let pick = |texts: &ReplyTexts| match kind {
            ReplyKind::OptOut => texts.opt_out.clone(),
            ReplyKind::OptIn => texts.opt_in.clone(),
            ReplyKind::Help => texts.help.clone(),
        };
        let configured = |language: &str| {
            self.replies
                .get(language)
                .and_then(pick)
                .filter(|t| !t.trim().is_empty())
        };
        if let Some(text) = language.and_then(configured) {
            return text;
        }
        let default_language = language.and_then(DefaultLanguage::of);
        if let Some(default) = default_language {
            return self.default_reply(kind, default);
        }
        configured("en").unwrap_or_else(|| self.default_reply(kind, DefaultLanguage::En))
    }

    fn default_reply(&self, kind: ReplyKind, language: DefaultLanguage) -> String {
        let brand = self.brand_name.as_deref().filter(|b| !b.trim().is_empty());
        let prefix = brand.map(|b| format!("{b}: ")).unwrap_or_default();
        let texts = language.texts();
        match kind {
            ReplyKind::OptOut => format!("{prefix}{}", texts.opt_out),
            ReplyKind::OptIn => format!("{prefix}{}", texts.opt_in),
            ReplyKind::Help => {
                let contact = self
                    .support_contact
                    .as_deref()
                    .map(|c| format!("{}{c}. ", texts.help_contact))
                    .unwrap_or_default();
                let frequency = self
                    .message_frequency
                    .as_deref()
                    .map(|f| format!("{f}. "))
                    .unwrap_or_default();
                format!("{prefix}{contact}{frequency}{}", texts.help)
            }
        }
    }
}

/// The languages Stopgate has default replies in: those its classifier reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DefaultLanguage {
    En,
    Es,
    Pt,
    Fr,
}

/// One language's default replies. Each names the keywords of that language that the
/// classifier knows (BAJA/ALTA/AYUDA, SAIR/INICIAR/AJUDA, ARRET/AIDE).
struct DefaultTexts {
    opt_out: &'static str,
    opt_in: &'static str,
    /// Introduces the tenant's support contact in the HELP reply.
    help_contact: &'static str,
    help: &'static str,
}

impl DefaultLanguage {
    fn of(tag: &str) -> Option<DefaultLanguage> {
        match tag {
            "en" => Some(DefaultLanguage::En),
            "es" => Some(DefaultLanguage::Es),
            "pt" => Some(DefaultLanguage::Pt),
            "fr" => Some(DefaultLanguage::Fr),
            _ => None,
        }
    }

    fn texts(self) -> DefaultTexts {
        match self {
            DefaultLanguage::En => DefaultTexts {
                opt_out: "You are unsubscribed and will receive no more messages. Reply START to resubscribe.",
                opt_in: "You are resubscribed. Msg&data rates may apply. Reply HELP for help, STOP to cancel.",
                help_contact: "Help: ",
                help: "Msg&data rates may apply. Reply STOP to cancel.",
            },
            DefaultLanguage::Es => DefaultTexts {
                opt_out: "Te has dado de baja y no recibirás más mensajes. Responde ALTA para volver a suscribirte.",
                opt_in: "Te has vuelto a suscribir. Pueden aplicarse tarifas de mensajes y datos. Responde AYUDA para obtener ayuda o BAJA para cancelar.",
                help_contact: "Ayuda: ",
                help: "Pueden aplicarse tarifas de mensajes y datos. Responde BAJA para cancelar.",
            },
            DefaultLanguage::Pt => DefaultTexts {
                opt_out: "Inscrição cancelada: você não receberá mais mensagens. Responda INICIAR para voltar a recebê-las.",
                opt_in: "Inscrição reativada. Podem ser cobradas tarifas de mensagens e dados. Responda AJUDA para obter ajuda ou SAIR para cancelar.",
                help_contact: "Ajuda: ",
                help: "Podem ser cobradas tarifas de mensagens e dados. Responda SAIR para cancelar.",
            },
            DefaultLanguage::Fr => DefaultTexts {
                opt_out: "Vous êtes désabonné et ne recevrez plus de messages. Répondez START pour vous réabonner.",
                opt_in: "Vous êtes réabonné. Des frais de messagerie et de données peuvent s'appliquer. Répondez AIDE pour de l'aide, ARRET pour annuler.",
                help_contact: "Aide : ",
                help: "Des frais de messagerie et de données peuvent s'appliquer. Répondez ARRET pour annuler.",
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn help_follows_ctia_and_tenant_replies_win_per_language() {
        let mut policy = TenantPolicy {
            brand_name: Some("Acme".into()),
            support_contact: Some("support@acme.example or 800-555-0100".into()),
            message_frequency: Some("Up to 4 msgs/month".into()),
            ..TenantPolicy::default()
        };
        assert_eq!(
            policy.reply_text(ReplyKind::Help, None),
            "Acme: Help: support@acme.example or 800-555-0100. Up to 4 msgs/month. Msg&data rates may apply. Reply STOP to cancel."
        );
        policy.replies.insert(
            "es".into(),
            ReplyTexts {
                opt_out: Some("Acme: No recibirás más mensajes.".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            policy.reply_text(ReplyKind::OptOut, Some("es")),
            "Acme: No recibirás más mensajes."
        );
        // Where the tenant wrote nothing for a language, the default in that language.
        assert!(
            policy
                .reply_text(ReplyKind::OptOut, Some("fr"))
                .starts_with("Acme: Vous êtes désabonné")
        );
        assert!(
            policy
                .reply_text(ReplyKind::OptIn, Some("es"))
                .contains("Responde AYUDA")
        );
        // A language without defaults falls back to English.
        assert!(
            policy
                .reply_text(ReplyKind::OptOut, Some("it"))
                .starts_with("Acme: You are unsubscribed")
        );
    }

    #[test]
    fn default_replies_in_portuguese_and_spanish_name_their_keywords() {
        let policy = TenantPolicy {
            brand_name: Some("Acme".into()),
            support_contact: Some("0800 555 0100".into()),
            ..TenantPolicy::default()
        };
        assert_eq!(
            policy.reply_text(ReplyKind::OptOut, Some("pt")),
            "Acme: Inscrição cancelada: você não receberá mais mensagens. Responda INICIAR para voltar a recebê-las."
        );
        assert_eq!(
            policy.reply_text(ReplyKind::Help, Some("pt")),
            "Acme: Ajuda: 0800 555 0100. Podem ser cobradas tarifas de mensagens e dados. Responda SAIR para cancelar."
        );
        assert!(
            policy
                .reply_text(ReplyKind::OptOut, Some("es"))
                .contains("Responde ALTA")
        );
        assert!(
            policy
                .reply_text(ReplyKind::Help, Some("es"))
                .contains("Responde BAJA")
        );
        // A tenant's English text still answers a language without defaults, and the
        // tenant's own text in a language wins over the default.
        let mut policy = policy;
        policy.replies.insert(
            "en".into(),
            ReplyTexts {
                opt_out: Some("Acme: bye.".into()),
                ..Default::default()
            },
        );
        policy.replies.insert(
            "pt".into(),
            ReplyTexts {
                opt_out: Some("Acme: tchau.".into()),
                ..Default::default()
            },
        );
        assert_eq!(
            policy.reply_text(ReplyKind::OptOut, Some("it")),
            "Acme: bye."
        );
        assert_eq!(policy.reply_text(ReplyKind::OptOut, None), "Acme: bye.");
        assert_eq!(
            policy.reply_text(ReplyKind::OptOut, Some("pt")),
            "Acme: tchau."
        );
        assert!(
            policy
                .reply_text(ReplyKind::OptOut, Some("es"))
                .starts_with("Acme: Te has dado de baja")
        );
    }
}
