//! The default keyword and phrase lists, with where each comes from.
//!
//! Sources:
//! - FCC 24-24, 47 CFR 64.1200(a)(10) (89 FR 15756,
//!   https://www.govinfo.gov/content/pkg/FR-2024-03-05/html/2024-04587.htm): replying
//!   "stop", "quit", "end", "revoke", "opt out", "cancel" or "unsubscribe" revokes consent
//!   per se. These seven can never be removed or reassigned by a tenant.
//! - CTIA Messaging Principles and Best Practices (May 2023): the universal STOP, END, CANCEL,
//!   UNSUBSCRIBE, QUIT; HELP (INFO as its common alias); START/UNSTOP/YES as the de-facto
//!   opt-in words.
//! - Twilio default lists (https://www.twilio.com/docs/messaging/tutorials/advanced-opt-out.md,
//!   https://twilio.com/en-us/blog/update-to-fcc-s-sms-opt-out-keywords): STOP, STOPALL,
//!   UNSUBSCRIBE, CANCEL, END, QUIT, REVOKE, OPTOUT; START, YES, UNSTOP; HELP, INFO.
//! - Telnyx and Plivo defaults: STOP ALL, UNSUB; Plivo's older opt-in list adds RESUME.
//!   RingCentral adds SUBSCRIBE and RESUME.
//! - AWS End User Messaging required keywords
//!   (https://docs.aws.amazon.com/sms-voice/latest/userguide/keywords-required.html):
//!   ARRET, CANCEL, END, OPT-OUT, OPTOUT, QUIT, REMOVE, STOP, TD, UNSUBSCRIBE.
//! - Sinch toll-free network keywords: ARRET to opt out, NONARRET to opt back in.
//! - Infobip's default keywords as Adobe Journey Optimizer documents them, in Spanish
//!   (https://experienceleague.adobe.com/es/docs/journey-optimizer/using/channels/sms/configure-sms/sms-configuration-infobip:
//!   DETENER, SALIR, CANCELAR, FINALIZAR, CANCELAR SUSCRIPCIÓN, NO; INICIAR; AYUDA) and in
//!   Portuguese (https://experienceleague.adobe.com/pt-br/docs/journey-optimizer/using/channels/sms/configure-sms/sms-configuration-infobip:
//!   PARAR, SAIR, CANCELAR, ENCERRAR, CANCELAR INSCRIÇÃO, NÃO; INICIAR; AJUDA).
//! - Anatel's 2012 order to Brazilian carriers: reply SAIR to stop advertising texts
//!   (https://link.estadao.com.br/noticias/geral,publicidade-via-sms-podera-ser-bloqueada,10000035375).
//! - Aivo's opt-out help for SMS and WhatsApp in Brazil
//!   (https://helpaivopt.aivohelp.com/article/gestao-de-opt-out-para-sms-e-whatsapp-no-engage/806214):
//!   parar, cancelar, remover, descadastrar; "Iniciar" to come back.
//! - Arcotel (Ecuador): reply "salir" to leave a text subscription
//!   (https://achiras.net.ec/?p=7209&post_type=post).
//! - docs/rules.md, "The classifier": STOP2QUIT, the Spanish PARAR, DETENER, CANCELAR, BAJA,
//!   ALTO, the strong/weak split, filler, messaging nouns, revocation phrases and dismissals,
//!   and why each Spanish and Portuguese one-word opt-out is strong or weak.
//!
//! The Spanish and French words beyond those named above are ours: the usual imperative or
//! infinitive for stop/unsubscribe/cancel in each language. Entries are written as people
//! type them (accents, apostrophes); they pass through the same normalisation as messages.
//! A spelling listed in several languages (`parar`, `cancelar`) is one entry that reports
//! the language the rest of the message is written in, the first listed when it says none.

/// Strong opt-out words (classifier rule 2): an opt-out even with filler around them.
pub(super) const STRONG_OPT_OUT: &[(&str, &str)] = &[
    ("stop", "en"),
    ("stopall", "en"),
    ("stop all", "en"),
    ("unsubscribe", "en"),
    ("unsub", "en"),
    ("revoke", "en"),
    ("opt out", "en"),
    ("optout", "en"),
    ("stop2quit", "en"),
    ("parar", "es"),
    ("detener", "es"),
    ("baja", "es"),
    ("alto", "es"),
    ("desuscribir", "es"),
    ("desuscribirme", "es"),
    // Anatel's SAIR: the word every Brazilian carrier asks for.
    ("sair", "pt"),
    ("parar", "pt"),
    ("descadastrar", "pt"),
    ("arrêt", "fr"),
    ("arrêter", "fr"),
    ("td", "fr"),
    ("désabonner", "fr"),
    ("désinscrire", "fr"),
];

/// Weak opt-out words (classifier rule 3): everyday words that revoke alone, with filler,
/// or followed by a messaging noun, but merely suggest a revocation inside other text.
pub(super) const WEAK_OPT_OUT: &[(&str, &str)] = &[
    ("end", "en"),
    ("quit", "en"),
    ("cancel", "en"),
    ("remove", "en"),
    ("cancelar", "es"),
    ("salir", "es"),
    ("finalizar", "es"),
    // "fin" is the same word in French; one entry serves both.
    ("fin", "es"),
    ("fin", "fr"),
    ("annuler", "fr"),
    // `pare` alone is Brazilian "stop!" (and the Spanish formal imperative).
    ("pare", "pt"),
    ("pare", "es"),
    ("cancelar", "pt"),
    ("remover", "pt"),
    ("remove", "pt"),
    ("encerrar", "pt"),
];

/// Opt-in words (classifier rule 7). Kept narrow, because an opt-in can lift an opt-out.
/// No "sí"/"sim"/"oui": the ledger gates YES by its keyword (docs/rules.md rule 2), and
/// another word for yes would be taken for START; tenants can add them once the ledger knows
/// them. INICIAR is the Spanish and Portuguese START of Infobip's defaults and of Aivo's help.
pub(super) const OPT_IN: &[(&str, &str)] = &[
    ("start", "en"),
    ("unstop", "en"),
    ("yes", "en"),
    ("subscribe", "en"),
    ("resume", "en"),
    ("opt in", "en"),
    ("optin", "en"),
    ("alta", "es"),
    ("suscribir", "es"),
    ("nonarrêt", "fr"),
    ("non arrêt", "fr"),
    ("iniciar", "es"),
    ("iniciar", "pt"),
];

pub(super) const HELP: &[(&str, &str)] = &[
    ("help", "en"),
    ("info", "en"),
    ("ayuda", "es"),
    ("aide", "fr"),
    ("ajuda", "pt"),
];

// The lists below are patterns: words separated by spaces, `(a|b c)` for alternatives
// (each may be several words) and `[a|b]` for an optional group. See `expand`.

/// Filler (classifier rule 2): politeness, `wrong number` and `who is this`. Digits are
/// filler too, recognised by shape rather than listed.
pub(super) const FILLER: &[(&str, &str)] = &[
    (
        "(please|pls|plz|thanks|thank you|thank u|thx|ty|kindly|ok|okay)",
        "en",
    ),
    ("wrong number", "en"),
    ("(who is|who's) this", "en"),
    ("(por favor|porfa|porfavor|gracias|muchas gracias)", "es"),
    ("número equivocado", "es"),
    ("(quién es|quién habla)", "es"),
    (
        "(por favor|pf|pfv|pfvr|obrigado|obrigada|muito obrigado|muito obrigada|obg|valeu|vlw)",
        "pt",
    ),
    ("número errado", "pt"),
    ("(quem é|quem fala)", "pt"),
    (
        "(s'il vous plaît|s'il te plaît|svp|stp|merci|merci beaucoup)",
        "fr",
    ),
    ("(mauvais|faux) numéro", "fr"),
];

/// Messaging nouns (classifier rule 3): `cancel texts`, `end messages`.
pub(super) const MESSAGING_NOUNS: &[(&str, &str)] = &[
    (
        "(text|texts|txt|txts|message|messages|msg|msgs|sms|alert|alerts|subscription|notifications)",
        "en",
    ),
    (
        "(mensaje|mensajes|textos|alertas|suscripción|sms|notificaciones|promociones)",
        "es",
    ),
    (
        "(mensagem|mensagens|msg|msgs|sms|alertas|notificações|promoções|inscrição)",
        "pt",
    ),
    ("(alertes|abonnement)", "fr"),
];

/// Revocation phrases (classifier rule 4): an opt-out wherever they appear in a message.
/// Beyond the rule's wording we accept a few spellings of the same request (`txting`,
/// `contacting`, `msgs`, `the`/`ur` list) and the French equivalents. Spanish and
/// Portuguese requests in their own words are the grammar's (`grammar.rs`), which reads
/// them by structure with every inflection rather than as fixed phrases.
pub(super) const REVOCATION_PHRASES: &[(&str, &str)] = &[
    (
        "(stop|quit) (texting|txting|messaging|sending|contacting) [me]",
        "en",
    ),
    (
        "(i want to|i wanna|i'd like to|i would like to) (opt out|optout|unsubscribe|unsub)",
        "en",
    ),
    (
        "take me off [your|this|the|ur] [mailing|texting|text|sms|contact] list",
        "en",
    ),
    ("remove me", "en"),
    ("unsubscribe me", "en"),
    ("opt me out", "en"),
    ("(don't|do not) (text|message|msg) me", "en"),
    ("no more (texts|txts|messages|msgs|alerts)", "en"),
    ("cease and desist", "en"),
    ("no más (mensajes|textos)", "es"),
    ("(désabonnez|désinscrivez|retirez) moi", "fr"),
    ("me (désabonner|désinscrire)", "fr"),
    ("(arrêtez|arrête) de m'envoyer", "fr"),
];

/// Dismissals (classifier rule 5): at least a possible revocation wherever they appear.
/// (`I don't want these messages` was one; the grammar now reads it as the revocation it
/// is, `negated_wanting`.)
pub(super) const DISMISSALS: &[(&str, &str)] = &[
    ("wrong number", "en"),
    ("leave me alone", "en"),
    ("(not|no longer) interested", "en"),
    ("número equivocado", "es"),
    ("no me (interesa|interesan)", "es"),
    ("no estoy (interesado|interesada)", "es"),
    ("(déjame|déjenme|déjeme) en paz", "es"),
    ("(déjame|déjenme|déjeme) (tranquilo|tranquila)", "es"),
    ("no me (molestes|molesten|moleste)", "es"),
    ("(deja|dejen|deje) de (molestar|molestarme)", "es"),
    ("número errado", "pt"),
    ("(não|nao) tenho interesse", "pt"),
    ("sem interesse", "pt"),
    ("(não|nao) me interessa", "pt"),
    ("(não|nao) estou (interessado|interessada)", "pt"),
    ("me (deixe|deixa|deixem) em paz", "pt"),
    ("(para|pare|parem) de me (incomodar|perturbar|encher)", "pt"),
    ("(não|nao) me (incomode|incomodem|perturbe|perturbem)", "pt"),
    ("(não|nao) (perturbe|incomode)", "pt"),
    ("sai fora", "pt"),
    ("(mauvais|faux) numéro", "fr"),
    ("pas (intéressé|intéressée)", "fr"),
    ("(laissez|laisse) moi tranquille", "fr"),
];

/// Everyday words that are also a misspelling of an opt-out word (`alot` of `alto`): never
/// sent to review as a misspelling.
pub(super) const NOT_MISSPELLINGS: &[&str] = &["alot", "lato", "asir", "sari"];

/// Every phrase a pattern stands for. The syntax is ours and the lists are fixed, so an
/// unbalanced bracket is a typo caught by the tests rather than an input error.
pub(super) fn expand(pattern: &str) -> Vec<String> {
    let mut results = vec![String::new()];
    let mut rest = pattern.trim();
    while !rest.is_empty() {
        let (alternatives, optional, after): (Vec<&str>, bool, &str) = match rest.chars().next() {
            Some(open @ ('(' | '[')) => {
                let close = if open == '(' { ')' } else { ']' };
                let end = rest.find(close).unwrap_or(rest.len());
                let inner = rest.get(1..end).unwrap_or("");
                let after = rest.get(end + 1..).unwrap_or("");
                (inner.split('|').collect(), open == '[', after)
            }
            _ => {
                let end = rest.find(' ').unwrap_or(rest.len());
                (vec![&rest[..end]], false, &rest[end..])
            }
        };
        let mut next = Vec::with_capacity(results.len() * (alternatives.len() + 1));
        for prefix in &results {
            if optional {
                next.push(prefix.clone());
            }
            for alternative in &alternatives {
                next.push(format!("{prefix} {}", alternative.trim()).trim().to_owned());
            }
        }
        results = next;
        rest = after.trim_start();
    }
    results
}
