//! Hosted opt-in forms and the preference page (docs/rules.md rule 9): a form's configuration,
//! the disclosure it shows, the events a submission or a preference change becomes, and a
//! number's standing as the preference page shows it. Pure: the HTTP edge renders and the flows
//! commit.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::decision::{CheckReason, DecisionInput, decide};
use super::event::{
    Actor, Category, ConsentEvent, ConsentLevel, EventId, EventKind, EvidenceRefs, FormRef, Origin,
    PendingConsent, PrivateEvidence, Source, TimeSource,
};
use super::policy::TenantPolicy;
use super::record::disclosure_sha256;
use super::scope::{Scope, SendContext, SenderDirectory};
use super::state::NumberState;
use crate::phone::E164;

/// The languages a hosted page can be shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Language {
    En,
    Es,
}

impl Language {
    pub const ALL: [Language; 2] = [Language::En, Language::Es];

    pub fn code(self) -> &'static str {
        match self {
            Language::En => "en",
            Language::Es => "es",
        }
    }
}

impl fmt::Display for Language {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl FromStr for Language {
    type Err = String;
    fn from_str(s: &str) -> Result<Language, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "en" => Ok(Language::En),
            "es" => Ok(Language::Es),
            other => Err(format!("unknown language {other:?}; expected en or es")),
        }
    }
}

/// A form's configuration, as `stopgate form set` stores it. Every change is a new version, and
/// each consent records the version it was given on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormConfig {
    pub form_id: String,
    pub version: u64,
    /// Who the messages come from, as the person knows it.
    pub brand: String,
    /// The messaging program the person joins.
    pub program: String,
    /// The categories offered, each a box to check.
    pub categories: Vec<Category>,
    /// The languages the form is offered in; the first is the default.
    pub languages: Vec<Language>,
    pub terms_url: String,
    pub privacy_url: String,
    /// How often messages come ("Up to 4 msgs/month"), in the form's first language.
    pub frequency: String,
    /// The same in Spanish, where the form offers Spanish.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub frequency_es: Option<String>,
    /// Whether a submission waits for the person's YES (on by default: forms get abused to sign
    /// up strangers).
    pub double_opt_in: bool,
    /// The sender group the request to confirm comes from and the YES must go to; the consent
    /// is scoped to it.
    pub sender_group: String,
    pub updated_at: DateTime<Utc>,
}

/// A problem with a form's configuration: the setting and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormConfigError {
    pub field: &'static str,
    pub message: String,
}

/// Is `id` usable as a form id (and so in a URL path)?
pub fn valid_form_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !id.starts_with('-')
        && id != PREFS_SEGMENT
}

/// The path segment of the preference page, which no form may take.
pub const PREFS_SEGMENT: &str = "prefs";

impl FormConfig {
    /// Checks every setting, naming the first that is wrong.
    pub fn check(&self, directory: &SenderDirectory) -> Result<(), FormConfigError> {
        let err = |field, message: String| Err(FormConfigError { field, message });
        if !valid_form_id(&self.form_id) {
            return err(
                "form",
                format!(
                    "form id {:?} must be 1 to 64 lowercase letters, digits and dashes (and not {PREFS_SEGMENT:?})",
                    self.form_id
                ),
            );
        }
        for (field, value) in [
            ("brand", &self.brand),
            ("program", &self.program),
            ("frequency", &self.frequency),
        ] {
            if value.trim().is_empty() || value.len() > 200 {
                return err(field, format!("{field} must be 1 to 200 characters"));
            }
        }
        if self.categories.is_empty() {
            return err("categories", "offer at least one category".into());
        }
        if self.languages.is_empty() {
            return err("language", "offer at least one language".into());
        }
        for (field, url) in [
            ("terms_url", &self.terms_url),
            ("privacy_url", &self.privacy_url),
        ] {
            let ok = (url.starts_with("https://") || url.starts_with("http://"))
                && url.len() <= 500
                && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !ok {
                return err(
                    field,
                    format!("{field} must be an http(s) URL without spaces, got {url:?}"),
                );
            }
        }
        match directory.group(&self.sender_group) {
            Some(group) if group.deleted_at.is_none() && !group.senders.is_empty() => Ok(()),
            _ => err(
                "sender_group",
                format!(
                    "sender group {:?} does not exist or has no senders (stopgate sender-group set)",
                    self.sender_group
                ),
            ),
        }
    }

    /// The language to show: the one asked for if the form offers it, else the form's first.
    pub fn language(&self, asked: Option<Language>) -> Language {
        asked
            .filter(|l| self.languages.contains(l))
            .or_else(|| self.languages.first().copied())
            .unwrap_or(Language::En)
    }

    /// The scope of the consents the form records: the sender group its messages come from.
    pub fn scope(&self) -> Scope {
        Scope::Group(self.sender_group.clone())
    }

    fn frequency_in(&self, language: Language) -> &str {
        match language {
            Language::Es => self.frequency_es.as_deref().unwrap_or(&self.frequency),
            Language::En => &self.frequency,
        }
    }

    /// The disclosure the form shows in `language`, word for word: what the person agrees to.
    /// Its SHA-256 is recorded with the consent, so it must be exactly the text on the page.
    pub fn disclosure(&self, language: Language) -> String {
        self.disclosure_on(Page::Form, language)
    }

    /// The disclosure `page` shows in `language`, word for word (the form's, or the preference
    /// page's beside its buttons that turn texts on).
    pub fn disclosure_on(&self, page: Page, language: Language) -> String {
        let (brand, program) = (self.brand.trim(), self.program.trim());
        let frequency = self.frequency_in(language).trim().trim_end_matches('.');
        let (terms, privacy) = (self.terms_url.trim(), self.privacy_url.trim());
        let agreement = match (page, language) {
            (Page::Form, Language::En) => format!(
                "By checking a box and submitting this form, you agree to receive recurring \
                 automated text messages from {brand} ({program}) about the topics you checked, \
                 at the number you entered."
            ),
            (Page::Preferences, Language::En) => format!(
                "By turning on a kind of text on this page, you agree to receive recurring \
                 automated text messages of that kind from {brand} ({program}) at this number."
            ),
            (Page::Form, Language::Es) => format!(
                "Al marcar una casilla y enviar este formulario, aceptas recibir mensajes de \
                 texto automáticos y recurrentes de {brand} ({program}) sobre los temas que \
                 marcaste, en el número que indicaste."
            ),
            (Page::Preferences, Language::Es) => format!(
                "Al activar un tipo de mensaje en esta página, aceptas recibir mensajes de texto \
                 automáticos y recurrentes de ese tipo de {brand} ({program}) en este número."
            ),
        };
        match language {
            Language::En => format!(
                "{agreement} Consent is not a condition of purchase. {frequency}. Msg&data rates \
                 may apply. Reply HELP for help. Reply STOP to cancel. Terms: {terms} Privacy: \
                 {privacy}"
            ),
            Language::Es => format!(
                "{agreement} El consentimiento no es condición de compra. {frequency}. Pueden \
                 aplicarse tarifas de mensajes y datos. Responde AYUDA para obtener ayuda. \
                 Responde STOP para cancelar. Términos: {terms} Privacidad: {privacy}"
            ),
        }
    }

    fn reference(&self, language: Language) -> FormRef {
        FormRef {
            form_id: self.form_id.clone(),
            version: self.version,
            language: language.code().to_string(),
        }
    }
}

/// The hosted pages that show a disclosure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    Form,
    Preferences,
}

/// The web request an act came in: when, from where, and the page's address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebAct {
    pub tenant: String,
    pub phone: E164,
    pub at: DateTime<Utc>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The page the person acted on (never a preference link: it is a credential).
    pub page_url: Option<String>,
}

impl WebAct {
    fn private(&self) -> PrivateEvidence {
        let keep = |v: &Option<String>, max: usize| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(|s| s.chars().take(max).collect::<String>())
        };
        PrivateEvidence {
            message_text: None,
            ip: keep(&self.ip, 64),
            user_agent: keep(&self.user_agent, 1_000),
        }
    }

    /// An event of `kind` the person made on a page now, receipt-stamped.
    fn event(&self, kind: EventKind, source: Source, scope: Scope) -> ConsentEvent {
        ConsentEvent {
            event_id: EventId::new(self.at),
            tenant: self.tenant.clone(),
            phone: self.phone.clone(),
            kind,
            category: None,
            level: None,
            scope: Some(scope),
            origin: Origin::default(),
            source,
            occurred_at: self.at,
            time_source: TimeSource::Receipt,
            received_at: self.at,
            recorded_at: self.at,
            actor: Actor::Person,
            evidence: EvidenceRefs {
                form_url: self.page_url.clone(),
                has_private_record: !self.private().is_empty(),
                ..EvidenceRefs::default()
            },
            override_opt_out: false,
            review: None,
            location: None,
            pending: None,
            confirms: None,
        }
    }
}

/// What a hosted page records: its events (committed in order), their private record (IP,
/// user agent) and the disclosure shown, stored once per tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recording {
    pub events: Vec<ConsentEvent>,
    pub private: PrivateEvidence,
    /// (SHA-256, text) of the disclosure the page showed, if the act consents to anything.
    pub disclosure: Option<(String, String)>,
}

/// The consent a submitted form becomes: with double opt-in, one pending consent for the
/// categories checked, waiting for the YES (it allows nothing yet); without, a written-consent
/// grant per category. Either carries the disclosure as shown (by its SHA-256), the form and its
/// version, the language, the page's URL, and the IP and user agent (privately).
pub fn form_consent(
    form: &FormConfig,
    language: Language,
    categories: &[Category],
    act: &WebAct,
) -> Recording {
    let text = form.disclosure(language);
    let sha = disclosure_sha256(&text);
    let stamp = |mut event: ConsentEvent| {
        event.evidence.disclosure_sha256 = Some(sha.clone());
        event.evidence.form = Some(form.reference(language));
        event
    };
    let events = if form.double_opt_in {
        let mut pending = act.event(EventKind::PendingConsent, Source::WebForm, form.scope());
        pending.pending = Some(PendingConsent {
            categories: categories.to_vec(),
            level: Some(ConsentLevel::ExpressWritten),
            opt_in: false,
            confirm_to: form.scope(),
        });
        vec![stamp(pending)]
    } else {
        categories
            .iter()
            .map(|category| {
                let mut grant = act.event(EventKind::Grant, Source::WebForm, form.scope());
                grant.category = Some(*category);
                grant.level = Some(ConsentLevel::ExpressWritten);
                stamp(grant)
            })
            .collect()
    };
    Recording {
        events,
        private: act.private(),
        disclosure: Some((sha, text)),
    }
}

/// A preference link: which link, and whether it was texted to the number it is for (only then
/// is an act on it the person's own, from a verified number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreferenceLink {
    pub link_id: String,
    pub sent_by_sms: bool,
}

/// What the person asks for on the preference page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreferenceAction {
    /// No more messages of one category (a `revoke`, tenant-wide: wide on the deny side).
    Stop(Category),
    /// No more messages at all (an `opt_out`, tenant-wide).
    StopAll,
    /// Messages of one category again (written consent, as the form's).
    Start(Category),
    /// Lift the opt-out (as START would): only from a verified number.
    Resume,
}

impl PreferenceAction {
    /// `stop:<category>`, `stop_all`, `start:<category>` or `resume`, as the page posts it.
    pub fn parse(value: &str) -> Option<PreferenceAction> {
        match value.split_once(':') {
            Some(("stop", c)) => c.parse().ok().map(PreferenceAction::Stop),
            Some(("start", c)) => c.parse().ok().map(PreferenceAction::Start),
            None if value == "stop_all" => Some(PreferenceAction::StopAll),
            None if value == "resume" => Some(PreferenceAction::Resume),
            _ => None,
        }
    }

    /// Does this act ask for more messages (rather than fewer)?
    pub fn consents(self) -> bool {
        matches!(self, PreferenceAction::Start(_) | PreferenceAction::Resume)
    }
}

/// The event a preference change becomes, with source `web_preferences`. Stopping never needs
/// proof of the number (wide on the deny side). Asking for more does only when the link was
/// texted to the number: then it is the person's own act from a verified number, and a resume
/// lifts an opt-out (rule 2); otherwise it is recorded as a pending consent that waits for the
/// YES, and lifts nothing until then (rule 9).
pub fn preference_change(
    form: &FormConfig,
    language: Language,
    link: &PreferenceLink,
    action: PreferenceAction,
    act: &WebAct,
) -> Recording {
    let text = form.disclosure_on(Page::Preferences, language);
    let sha = disclosure_sha256(&text);
    let verified = link.sent_by_sms;
    let event = |kind, scope| {
        let mut event = act.event(kind, Source::WebPreferences, scope);
        event.evidence.link_id = Some(link.link_id.clone());
        event.evidence.number_verified = verified;
        event.evidence.form = Some(form.reference(language));
        event
    };
    let pending = |categories: Vec<Category>, level, opt_in, scope| {
        let mut pending = event(EventKind::PendingConsent, scope);
        pending.pending = Some(PendingConsent {
            categories,
            level,
            opt_in,
            confirm_to: form.scope(),
        });
        pending
    };
    let (mut recorded, shows_disclosure) = match action {
        PreferenceAction::Stop(category) => {
            let mut revoke = event(EventKind::Revoke, Scope::Tenant);
            revoke.category = Some(category);
            (revoke, false)
        }
        PreferenceAction::StopAll => (event(EventKind::OptOut, Scope::Tenant), false),
        PreferenceAction::Start(category) if verified => {
            let mut grant = event(EventKind::Grant, form.scope());
            grant.category = Some(category);
            grant.level = Some(ConsentLevel::ExpressWritten);
            (grant, true)
        }
        PreferenceAction::Start(category) => (
            pending(
                vec![category],
                Some(ConsentLevel::ExpressWritten),
                false,
                form.scope(),
            ),
            true,
        ),
        PreferenceAction::Resume if verified => (event(EventKind::OptIn, Scope::Tenant), false),
        PreferenceAction::Resume => (pending(Vec::new(), None, true, Scope::Tenant), false),
    };
    if shows_disclosure {
        recorded.evidence.disclosure_sha256 = Some(sha.clone());
    }
    Recording {
        events: vec![recorded],
        private: act.private(),
        disclosure: shows_disclosure.then_some((sha, text)),
    }
}

/// Where one category stands for the preference page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CategoryStatus {
    /// Consent in force for messages from the form's sender group.
    Subscribed,
    /// Asked for, waiting for the person's YES.
    Pending,
    NotSubscribed,
}

/// A number's standing as the preference page shows it, for sends from the form's sender group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreferenceSummary {
    /// An opt-out holds every message from the group.
    pub opted_out: bool,
    /// A "resume" waits for the person's YES.
    pub resume_pending: bool,
    pub categories: Vec<(Category, CategoryStatus)>,
}

/// The standing of each of the form's categories, decided as the check decides a send from the
/// form's sender group now (rules 1–5, 9).
pub fn preference_summary(
    state: &NumberState,
    policy: &TenantPolicy,
    directory: &SenderDirectory,
    form: &FormConfig,
    phone: &E164,
    now: DateTime<Utc>,
) -> PreferenceSummary {
    let sender = directory
        .group(&form.sender_group)
        .and_then(|g| g.senders.first())
        .cloned()
        .unwrap_or_default();
    let send = SendContext::new(directory, &sender, None);
    let group = form.scope();
    let open: Vec<_> = state.open_pending(&group, now).collect();
    let reason = |category| {
        decide(&DecisionInput {
            state,
            policy,
            directory,
            send: &send,
            category,
            now,
            exemption: None,
            phone,
            send_at: None,
            location: None,
        })
        .reason
    };
    let opted_out = reason(Category::Conversational) == CheckReason::OptedOut;
    let categories = form
        .categories
        .iter()
        .map(|&category| {
            let status = match reason(category) {
                // Quiet hours and an unknown location come after consent was found.
                CheckReason::Consent | CheckReason::QuietHours | CheckReason::UnknownLocation => {
                    CategoryStatus::Subscribed
                }
                _ if open
                    .iter()
                    .any(|p| p.consent.categories.contains(&category)) =>
                {
                    CategoryStatus::Pending
                }
                _ => CategoryStatus::NotSubscribed,
            };
            (category, status)
        })
        .collect();
    PreferenceSummary {
        opted_out,
        resume_pending: open.iter().any(|p| p.consent.opt_in),
        categories,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::inbound::{Settlement, settle};
    use crate::consent::scope::SenderGroup;
    use crate::testing::events::{BUSINESS, PERSON, event, minutes};

    fn form(double_opt_in: bool) -> FormConfig {
        FormConfig {
            form_id: "join".into(),
            version: 3,
            brand: "Acme".into(),
            program: "Acme Deals".into(),
            categories: vec![Category::Informational, Category::Promotional],
            languages: vec![Language::En, Language::Es],
            terms_url: "https://acme.example/terms".into(),
            privacy_url: "https://acme.example/privacy".into(),
            frequency: "Up to 4 msgs/month".into(),
            frequency_es: Some("Hasta 4 mensajes al mes".into()),
            double_opt_in,
            sender_group: "deals".into(),
            updated_at: minutes(-1000),
        }
    }

    fn directory() -> SenderDirectory {
        SenderDirectory {
            groups: vec![
                SenderGroup::new("deals", &[BUSINESS]),
                SenderGroup::new("alerts", &["+14155550101"]),
            ],
        }
    }

    fn act(at: i64) -> WebAct {
        WebAct {
            tenant: "t".into(),
            phone: E164::from_stored(PERSON).unwrap(),
            at: minutes(at),
            ip: Some("203.0.113.7".into()),
            user_agent: Some("Mozilla/5.0".into()),
            page_url: Some("https://api.stopgate.example/p/t/join".into()),
        }
    }

    fn fold(events: &[ConsentEvent]) -> NumberState {
        let mut state = NumberState::default();
        for e in events {
            state.apply(e);
        }
        state
    }

    fn reason(state: &NumberState, sender: &str, category: Category, now: i64) -> CheckReason {
        let directory = directory();
        let send = SendContext::new(&directory, sender, None);
        decide(&DecisionInput {
            state,
            policy: &TenantPolicy::default(),
            directory: &directory,
            send: &send,
            category,
            now: minutes(now),
            exemption: None,
            phone: &E164::from_stored(PERSON).unwrap(),
            send_at: None,
            location: Some(&crate::consent::quiet_hours::Location {
                state: Some("NY".into()),
                ..Default::default()
            }),
        })
        .reason
    }

    /// A keyword from the person to `sender` (in `group`) at `at` minutes.
    fn texted(keyword: &str, group: &str, sender: &str, at: i64) -> ConsentEvent {
        let mut e = event(EventKind::OptIn)
            .at(minutes(at))
            .sender(sender)
            .group(group)
            .keyword(keyword)
            .build();
        e.origin.provider_message_id = Some(format!("SM-{keyword}-{at}"));
        e
    }

    #[test]
    fn the_disclosure_says_what_the_rules_need_in_each_language() {
        let form = form(true);
        let en = form.disclosure(Language::En);
        for needed in [
            "Acme (Acme Deals)",
            "Up to 4 msgs/month.",
            "Msg&data rates may apply.",
            "Reply STOP to cancel.",
            "https://acme.example/terms",
            "https://acme.example/privacy",
        ] {
            assert!(en.contains(needed), "{needed}: {en}");
        }
        let es = form.disclosure(Language::Es);
        assert!(es.contains("Hasta 4 mensajes al mes."), "{es}");
        assert!(es.contains("Responde STOP para cancelar."), "{es}");
        assert_ne!(
            disclosure_sha256(&en),
            disclosure_sha256(&es),
            "each language is its own disclosure"
        );
        assert_eq!(form.language(Some(Language::Es)), Language::Es);
        let english_only = FormConfig {
            languages: vec![Language::En],
            ..form
        };
        assert_eq!(english_only.language(Some(Language::Es)), Language::En);
    }

    #[test]
    fn form_settings_are_checked_by_name() {
        let directory = directory();
        assert_eq!(form(true).check(&directory), Ok(()));
        let field = |change: fn(&mut FormConfig)| {
            let mut f = form(true);
            change(&mut f);
            f.check(&directory).unwrap_err().field
        };
        assert_eq!(field(|f| f.form_id = "prefs".into()), "form");
        assert_eq!(field(|f| f.form_id = "Join Us".into()), "form");
        assert_eq!(field(|f| f.categories.clear()), "categories");
        assert_eq!(
            field(|f| f.terms_url = "acme.example/terms".into()),
            "terms_url"
        );
        assert_eq!(field(|f| f.sender_group = "nowhere".into()), "sender_group");
        assert_eq!(field(|f| f.brand = " ".into()), "brand");
    }

    #[test]
    fn a_form_records_a_pending_consent_that_allows_nothing_until_the_yes() {
        let form = form(true);
        let recording = form_consent(&form, Language::En, &[Category::Promotional], &act(0));
        let [pending] = recording.events.as_slice() else {
            panic!("{recording:?}")
        };
        assert_eq!(pending.kind, EventKind::PendingConsent);
        assert_eq!(pending.source, Source::WebForm);
        let (sha, text) = recording.disclosure.clone().unwrap();
        assert_eq!(
            pending.evidence.disclosure_sha256.as_deref(),
            Some(sha.as_str())
        );
        assert_eq!(text, form.disclosure(Language::En));
        assert_eq!(
            pending.evidence.form,
            Some(FormRef {
                form_id: "join".into(),
                version: 3,
                language: "en".into()
            })
        );
        assert_eq!(recording.private.ip.as_deref(), Some("203.0.113.7"));
        assert!(pending.evidence.has_private_record);

        let mut state = fold(std::slice::from_ref(pending));
        assert_eq!(
            reason(&state, BUSINESS, Category::Promotional, 1),
            CheckReason::NoConsent,
            "pending never allows"
        );

        // A YES to the form's group within 24 hours confirms it, as an opt-in in context.
        let yes = texted("yes", "deals", BUSINESS, 60);
        let directory = directory();
        let policy = TenantPolicy::default();
        let Settlement::Confirms(confirmations) = settle(&state, &yes, &policy, &directory) else {
            panic!("the YES should confirm")
        };
        let [confirmed] = confirmations.as_slice() else {
            panic!("{confirmations:?}")
        };
        assert_eq!(confirmed.kind, EventKind::ConsentConfirmed);
        assert!(confirmed.evidence.number_verified);
        assert_eq!(
            confirmed.evidence.confirming_message_id.as_deref(),
            Some("SM-yes-60")
        );
        assert_eq!(
            confirmed.evidence.disclosure_sha256,
            pending.evidence.disclosure_sha256
        );
        assert_eq!(
            confirmed.confirms.as_ref().map(|c| &c.pending_event_id),
            Some(&pending.event_id)
        );
        state.apply(&yes);
        state.apply(confirmed);
        assert_eq!(
            reason(&state, BUSINESS, Category::Promotional, 61),
            CheckReason::Consent
        );
        assert_eq!(
            reason(&state, "+14155550101", Category::Promotional, 61),
            CheckReason::NoConsent,
            "scoped to the form's sender group"
        );
        assert!(state.pending_consents.is_empty());
        assert_eq!(
            state
                .confirmed_pending
                .iter()
                .map(|c| c.event_id.as_str())
                .collect::<Vec<_>>(),
            vec![pending.event_id.as_str()]
        );
    }

    #[test]
    fn a_yes_elsewhere_or_too_late_confirms_nothing_and_stays_ordinary() {
        let form = form(true);
        let recording = form_consent(&form, Language::Es, &[Category::Promotional], &act(0));
        let state = fold(&recording.events);
        let (policy, directory) = (TenantPolicy::default(), directory());
        let other_group = texted("yes", "alerts", "+14155550101", 10);
        assert!(matches!(
            settle(&state, &other_group, &policy, &directory),
            Settlement::Ordinary(_)
        ));
        let late = texted("yes", "deals", BUSINESS, 24 * 60 + 1);
        assert!(matches!(
            settle(&state, &late, &policy, &directory),
            Settlement::Ordinary(_)
        ));
        let start = texted("start", "deals", BUSINESS, 24 * 60 - 1);
        assert!(matches!(
            settle(&state, &start, &policy, &directory),
            Settlement::Confirms(_)
        ));
        let start_late = texted("start", "deals", BUSINESS, 24 * 60 + 1);
        assert_eq!(
            settle(&state, &start_late, &policy, &directory),
            Settlement::AsIs,
            "a START is still a START"
        );
    }

    #[test]
    fn without_double_opt_in_a_form_grants_each_category_at_once() {
        let recording = form_consent(
            &form(false),
            Language::En,
            &[Category::Informational, Category::Promotional],
            &act(0),
        );
        assert_eq!(recording.events.len(), 2);
        assert!(recording.events.iter().all(|e| e.kind == EventKind::Grant
            && e.level == Some(ConsentLevel::ExpressWritten)
            && e.evidence.disclosure_sha256.is_some()));
        let state = fold(&recording.events);
        assert_eq!(
            reason(&state, BUSINESS, Category::Promotional, 1),
            CheckReason::Consent
        );
    }

    #[test]
    fn a_preference_opt_back_in_lifts_only_from_a_verified_link() {
        let form = form(true);
        let stop = event(EventKind::OptOut)
            .at(minutes(0))
            .sender(BUSINESS)
            .group("deals")
            .build();
        let verified = PreferenceLink {
            link_id: "l1".into(),
            sent_by_sms: true,
        };
        let unverified = PreferenceLink {
            link_id: "l2".into(),
            sent_by_sms: false,
        };
        let resume = |link| {
            preference_change(
                &form,
                Language::En,
                link,
                PreferenceAction::Resume,
                &act(10),
            )
        };
        let lifted = resume(&verified);
        assert_eq!(lifted.events[0].kind, EventKind::OptIn);
        assert!(lifted.events[0].evidence.number_verified);
        let state = fold(&[stop.clone(), lifted.events[0].clone()]);
        assert_eq!(
            reason(&state, BUSINESS, Category::Conversational, 11),
            CheckReason::NoConsent
        );

        let waiting = resume(&unverified);
        assert_eq!(waiting.events[0].kind, EventKind::PendingConsent);
        assert_eq!(waiting.events[0].source, Source::WebPreferences);
        let state = fold(&[stop, waiting.events[0].clone()]);
        assert_eq!(
            reason(&state, BUSINESS, Category::Conversational, 11),
            CheckReason::OptedOut,
            "an unverified opt-back-in lifts nothing"
        );
        let summary = preference_summary(
            &state,
            &TenantPolicy::default(),
            &directory(),
            &form,
            &E164::from_stored(PERSON).unwrap(),
            minutes(11),
        );
        assert!(summary.opted_out && summary.resume_pending);
    }

    #[test]
    fn stopping_one_category_from_the_page_leaves_the_others() {
        let without_double_opt_in = form(false);
        let form = form(true);
        let link = PreferenceLink {
            link_id: "l1".into(),
            sent_by_sms: false,
        };
        let grants = form_consent(
            &without_double_opt_in,
            Language::En,
            &[Category::Informational, Category::Promotional],
            &act(0),
        );
        let stop = preference_change(
            &form,
            Language::En,
            &link,
            PreferenceAction::Stop(Category::Promotional),
            &act(5),
        );
        assert_eq!(stop.events[0].kind, EventKind::Revoke);
        assert_eq!(stop.disclosure, None);
        let mut events = grants.events.clone();
        events.extend(stop.events);
        let state = fold(&events);
        let summary = preference_summary(
            &state,
            &TenantPolicy::default(),
            &directory(),
            &form,
            &E164::from_stored(PERSON).unwrap(),
            minutes(6),
        );
        assert_eq!(
            summary.categories,
            vec![
                (Category::Informational, CategoryStatus::Subscribed),
                (Category::Promotional, CategoryStatus::NotSubscribed)
            ]
        );
        assert!(!summary.opted_out);
        assert_eq!(
            PreferenceAction::parse("stop:promotional"),
            Some(PreferenceAction::Stop(Category::Promotional))
        );
        assert_eq!(PreferenceAction::parse("stop:everything"), None);
    }
}
