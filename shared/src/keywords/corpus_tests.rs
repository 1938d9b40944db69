//! The corpus: phrases people use to stop (and traps that only look like it), per language,
//! each with the verdict we expect and where the phrase comes from (`corpus/*.tsv`).

use super::*;

struct Case<'a> {
    line: usize,
    text: &'a str,
    intent: Intent,
    rule: &'a str,
    language: Option<&'a str>,
    source: &'a str,
}

struct Corpus<'a> {
    cases: Vec<Case<'a>>,
    /// Source ids defined in the file's header (`# id = citation`).
    sources: Vec<&'a str>,
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

fn parse(name: &str, file: &'static str) -> Corpus<'static> {
    let mut corpus = Corpus {
        cases: Vec::new(),
        sources: Vec::new(),
    };
    for (i, line) in file.lines().enumerate() {
        let line_number = i + 1;
        if let Some(comment) = line.strip_prefix('#') {
            if let Some((id, citation)) = comment.trim().split_once(" = ") {
                assert!(!citation.trim().is_empty(), "{name}:{line_number}");
                corpus.sources.push(id.trim());
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('\t').collect();
        let [text, intent, rule, language, source] = fields[..] else {
            panic!("{name}:{line_number}: expected 5 tab-separated fields: {line:?}");
        };
        let intent: Intent = serde_json::from_value(serde_json::Value::String(intent.into()))
            .unwrap_or_else(|_| panic!("{name}:{line_number}: unknown intent {intent:?}"));
        assert!(
            RULES.contains(&rule),
            "{name}:{line_number}: unknown rule {rule:?}"
        );
        corpus.cases.push(Case {
            line: line_number,
            text,
            intent,
            rule,
            language: (language != "-").then_some(language),
            source,
        });
    }
    corpus
}

/// Every case classifies as listed, and cites a source the file defines or names the rule
/// it was constructed against.
fn check_corpus(name: &str, file: &'static str) -> Corpus<'static> {
    let corpus = parse(name, file);
    let mut failures = Vec::new();
    for case in &corpus.cases {
        match case.source.strip_prefix("constructed:") {
            Some(rule) => assert!(
                RULES.contains(&rule),
                "{name}:{}: constructed against an unknown rule {rule:?}",
                case.line
            ),
            None => assert!(
                corpus.sources.contains(&case.source),
                "{name}:{}: source {:?} is not defined in the header",
                case.line,
                case.source
            ),
        }
        let got = classify(case.text);
        let expected = (case.intent, case.rule, case.language);
        let actual = (got.intent, got.rule.as_str(), got.language.as_deref());
        if expected != actual {
            failures.push(format!(
                "{name}:{} {:?}: expected {expected:?}, got {actual:?} (keyword {:?})",
                case.line, case.text, got.keyword
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    for source in &corpus.sources {
        assert!(
            corpus.cases.iter().any(|c| c.source == *source),
            "{name}: source {source:?} is defined but cites no case"
        );
    }
    corpus
}

fn revocations(corpus: &Corpus) -> usize {
    corpus
        .cases
        .iter()
        .filter(|c| c.intent == Intent::OptOut)
        .count()
}

fn traps(corpus: &Corpus) -> usize {
    corpus
        .cases
        .iter()
        .filter(|c| matches!(c.intent, Intent::None | Intent::PossibleRevocation))
        .count()
}

#[test]
fn spanish_corpus() {
    let corpus = check_corpus("es.tsv", include_str!("corpus/es.tsv"));
    assert!(corpus.cases.len() >= 150, "{} cases", corpus.cases.len());
    assert!(revocations(&corpus) >= 50 && traps(&corpus) >= 50);
}

#[test]
fn portuguese_corpus() {
    let corpus = check_corpus("pt.tsv", include_str!("corpus/pt.tsv"));
    assert!(corpus.cases.len() >= 100, "{} cases", corpus.cases.len());
    assert!(revocations(&corpus) >= 40 && traps(&corpus) >= 40);
}

#[test]
fn english_corpus() {
    let corpus = check_corpus("en.tsv", include_str!("corpus/en.tsv"));
    assert!(revocations(&corpus) >= 30 && traps(&corpus) >= 30);
}

/// A tenant's classifier without additions reads the corpus exactly as the default one.
#[test]
fn tenant_classifier_reads_the_corpus_as_the_default() {
    let classifier = Classifier::new(&KeywordSettings::default());
    for file in [
        include_str!("corpus/es.tsv"),
        include_str!("corpus/pt.tsv"),
        include_str!("corpus/en.tsv"),
    ] {
        for case in parse("corpus", file).cases {
            assert_eq!(classifier.classify(case.text), classify(case.text));
        }
    }
}
