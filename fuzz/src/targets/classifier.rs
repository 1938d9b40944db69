//! `classifier`: the keyword classifier (shared/src/keywords*) over any text a person can send:
//! arbitrary Unicode, long and repetitive texts, mixed scripts, controls and invisibles, emoji,
//! and real keywords and phrases mutated; sometimes with a tenant's own keywords (arbitrary too).
//! Property: no panic, and the classification names a known rule and the current version.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use stopgate::keywords::{
    self, CLASSIFIER_VERSION, Classification, Classifier, Intent, KeywordSettings, TenantKeyword,
    rule,
};

use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{TRICKY, hostile_text, mutated_text, text};

/// Keywords and phrases as people type them, in the classifier's languages and beyond.
const KEYWORDS: &[&str] = &[
    "STOP",
    "Stop",
    "stop.",
    "S.T.O.P.",
    "S T O P",
    "stop all",
    "STOPALL",
    "UNSUBSCRIBE",
    "unsub",
    "revoke",
    "OPT OUT",
    "opt-out",
    "optout",
    "Opt_Out",
    "stop2quit",
    "parar",
    "detener",
    "baja",
    "alto",
    "desuscribir",
    "desuscribirme",
    "arrêt",
    "ARRET",
    "arrêter",
    "td",
    "désabonner",
    "désinscrire",
    "end",
    "quit",
    "cancel",
    "remove",
    "cancelar",
    "fin",
    "START",
    "YES",
    "UNSTOP",
    "resume",
    "subscribe",
    "NONARRET",
    "HELP",
    "INFO",
    "ayuda",
    "aide",
    "please stop texting me",
    "stop sending me messages",
    "no more texts",
    "take me off your list",
    "do not text me again",
    "don't contact me",
    "leave me alone",
    "wrong number",
    "who is this?",
    "Stop!!! 🛑",
    "STOP 🙏",
    "stop pls",
    "STOP STOP STOP",
    "no más mensajes",
    "ne plus recevoir",
    "arrête de m'écrire",
    "no",
    "ok stop",
    "yes stop",
    "stop? no",
    "START STOP",
    "help me stop",
    "not stop",
    "don't stop",
    "unsubscribe me",
    "remove me",
    "cancel my order",
    "end of day",
    "quit smoking",
    "ＳＴＯＰ",
    "ЅТОР",
    "𝐒𝐓𝐎𝐏",
];

#[derive(Debug, Clone)]
struct Case {
    text: String,
    /// A tenant's own keywords, or none (the default classifier).
    tenant: Option<Vec<TenantKeyword>>,
}

fn message() -> impl Strategy<Value = String> {
    let keywords: Vec<String> = KEYWORDS.iter().map(|s| s.to_string()).collect();
    prop_oneof![
        4 => hostile_text(),
        4 => mutated_text(keywords.clone()),
        // Keywords and noise, glued by separators.
        2 => vec(
            prop_oneof![
                3 => select(keywords.clone()),
                1 => text(6),
            ],
            1..10,
        )
        .prop_flat_map(|words| {
            let n = words.len();
            (Just(words), vec(select(vec![" ", "", ".", "-", "\u{200b}", "\n", "  ", "!", "'"]), n))
        })
        .prop_map(|(words, glue)| {
            words
                .iter()
                .zip(glue)
                .flat_map(|(w, g)| [w.as_str(), g])
                .collect::<String>()
        }),
        // Many tokens: the classifier looks for keywords spanning several.
        1 => vec(select(TRICKY.iter().map(|c| c.to_string()).chain(keywords).collect::<Vec<_>>()), 0..400)
            .prop_map(|parts| parts.concat()),
    ]
}

fn tenant_keyword() -> impl Strategy<Value = TenantKeyword> {
    (
        select(vec![
            Intent::OptOut,
            Intent::OptIn,
            Intent::Help,
            Intent::PossibleRevocation,
            Intent::None,
        ]),
        prop_oneof![
            select(vec!["en", "es", "fr", "EN ", ""]).prop_map(str::to_string),
            text(8)
        ],
        prop_oneof![
            mutated_text(KEYWORDS.iter().map(|s| s.to_string()).collect()),
            hostile_text()
        ],
    )
        .prop_map(|(intent, language, keyword)| TenantKeyword {
            intent,
            language,
            keyword,
        })
}

fn case() -> impl Strategy<Value = Case> {
    (
        message(),
        // A classifier is built per tenant, which is slow next to classifying: now and then.
        proptest::option::weighted(0.01, vec(tenant_keyword(), 1..4)),
    )
        .prop_map(|(text, tenant)| Case { text, tenant })
}

const RULES: &[&str] = &[
    rule::WHOLE_MESSAGE,
    rule::STRONG_WORD_WITH_FILLER,
    rule::WEAK_WORD,
    rule::REVOCATION_PHRASE,
    rule::STOP_IMPERATIVE,
    rule::REMOVE_FROM_LIST,
    rule::NEGATED_WANTING,
    rule::UNSUBSCRIBE_PHRASE,
    rule::DISMISSAL,
    rule::KEYWORD_IN_TEXT,
    rule::MISSPELLED_KEYWORD,
    rule::KEYWORD_WITH_FILLER,
    rule::NONE,
];

fn sound(c: &Classification) -> Verdict {
    if !RULES.contains(&c.rule.as_str()) {
        return Err(format!("unknown rule {:?}", c.rule));
    }
    if c.classifier_version != CLASSIFIER_VERSION {
        return Err(format!("version {:?}", c.classifier_version));
    }
    if (c.rule == rule::NONE) != (c.intent == Intent::None) {
        return Err(format!("rule {:?} with intent {:?}", c.rule, c.intent));
    }
    Ok(())
}

fn property(case: Case) -> Verdict {
    let _ = keywords::normalize(&case.text);
    let classification = match &case.tenant {
        None => keywords::classify(&case.text),
        Some(extra) => Classifier::new(&KeywordSettings {
            extra: extra.clone(),
        })
        .classify(&case.text),
    };
    sound(&classification)
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    check(runner, case(), property)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keywords_classify_soundly() {
        for keyword in KEYWORDS {
            let case = Case {
                text: keyword.to_string(),
                tenant: None,
            };
            assert_eq!(property(case), Ok(()), "{keyword}");
        }
        assert_eq!(keywords::classify("STOP").intent, Intent::OptOut);
    }
}
