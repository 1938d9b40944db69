//! Inbound text -> intent: the keyword classifier (docs/rules.md, "The classifier").
//!
//! Pure: no I/O. The keyword tables are built once per [`Classifier`] (the default one lazily,
//! once per process) because this runs on every inbound webhook; classifying is a walk over
//! the message's tokens with hash lookups, no regular expressions.
//!
//! Rules, in the order they are tried (numbered as in docs/rules.md):
//! 1. `whole_message` — the whole message is one keyword of an intent.
//! 2. `strong_word_with_filler` / 3. `weak_word` — opt-out words with nothing but filler,
//!    and messaging nouns right after the word.
//! 4. `revocation_phrase` — a revocation phrase anywhere.
//! 5. `dismissal` — `possible_revocation`.
//! 6. `keyword_in_text` — an opt-out word as a whole word in at most six words:
//!    `possible_revocation`.
//! 7. `keyword_with_filler` — opt-in or help keywords with nothing but filler.

mod lists;
mod normalize;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::LazyLock;

use normalize::{Glue, Token};

/// Recorded on every classification, so an event can be re-judged when the rules change.
pub const CLASSIFIER_VERSION: &str = "2026.11.1";

/// Names of the rules reported in [`Classification::rule`].
pub mod rule {
    pub const WHOLE_MESSAGE: &str = "whole_message";
    pub const STRONG_WORD_WITH_FILLER: &str = "strong_word_with_filler";
    pub const WEAK_WORD: &str = "weak_word";
    pub const REVOCATION_PHRASE: &str = "revocation_phrase";
    pub const DISMISSAL: &str = "dismissal";
    pub const KEYWORD_IN_TEXT: &str = "keyword_in_text";
    pub const KEYWORD_WITH_FILLER: &str = "keyword_with_filler";
    pub const NONE: &str = "none";
}

/// A message of more words than this is not flagged for merely containing an opt-out word.
const MAX_WORDS_FOR_KEYWORD_IN_TEXT: usize = 6;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    OptOut,
    OptIn,
    Help,
    PossibleRevocation,
    None,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Classification {
    pub intent: Intent,
    /// One of the names in [`rule`].
    pub rule: String,
    /// Language of the matched keyword: `en`, `es`, `fr`, or a tenant's language tag.
    pub language: Option<String>,
    pub classifier_version: String,
    /// The matched keyword or phrase as listed, normalised (`OPT-OUT` reports `opt out`).
    pub keyword: Option<String>,
}

/// Tenant additions: extra keywords per intent and language (the FCC words can never be removed).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct KeywordSettings {
    pub extra: Vec<TenantKeyword>,
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TenantKeyword {
    pub intent: Intent,
    pub language: String,
    pub keyword: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    OptOut { strong: bool },
    OptIn,
    Help,
    Phrase,
    Dismissal,
    Filler,
    Noun,
}

impl Kind {
    /// The intent a whole message of this keyword has (rule 1), for the kinds that have one.
    fn keyword_intent(self) -> Option<Intent> {
        match self {
            Kind::OptOut { .. } => Some(Intent::OptOut),
            Kind::OptIn => Some(Intent::OptIn),
            Kind::Help => Some(Intent::Help),
            Kind::Phrase | Kind::Dismissal | Kind::Filler | Kind::Noun => None,
        }
    }

    /// Entries of one family share a spelling only once; the first listed wins.
    fn same_family(self, other: Kind) -> bool {
        matches!(
            (self, other),
            (Kind::OptOut { .. }, Kind::OptOut { .. })
                | (Kind::OptIn, Kind::OptIn)
                | (Kind::Help, Kind::Help)
                | (Kind::Phrase, Kind::Phrase)
                | (Kind::Dismissal, Kind::Dismissal)
                | (Kind::Filler, Kind::Filler)
                | (Kind::Noun, Kind::Noun)
        )
    }
}

#[derive(Debug, Clone)]
struct Entry {
    kind: Kind,
    language: String,
    /// Normalised, words separated by spaces: what is reported.
    keyword: String,
    /// Where the listed spellings put a word break, as byte offsets into the compact key:
    /// `opt out` has one after `opt`. A message may leave these out (`OPTOUT`), never add
    /// others.
    breaks: Vec<usize>,
}

/// A keyword found in a message: tokens `start..end` spell entry `entry`.
#[derive(Debug, Clone, Copy)]
struct Found {
    start: usize,
    end: usize,
    entry: usize,
}

/// The keyword tables for one tenant (or the defaults), built once and reused.
#[derive(Debug, Clone)]
pub struct Classifier {
    entries: Vec<Entry>,
    /// Keyed by the keyword's letters with every separator removed, so `S.T.O.P`, `OPT-OUT`
    /// and `OPTOUT` reach the same entry; whether the separators in a message may be
    /// ignored is decided per match (see `may_join`).
    by_compact: HashMap<String, Vec<usize>>,
    /// Longest compact key in bytes: no span of a message longer than this can match.
    max_compact_len: usize,
}

static DEFAULT: LazyLock<Classifier> =
    LazyLock::new(|| Classifier::new(&KeywordSettings::default()));

/// Classifies with the default rules and no tenant additions.
pub fn classify(text: &str) -> Classification {
    DEFAULT.classify(text)
}

/// The normalised form the classifier matches on: NFKC, look-alikes folded to Latin, lower
/// case, accents removed from Latin letters, punctuation, quotes and emoji dropped, words
/// separated by single spaces, spelled-out words joined (`S.T.O.P.` is `stop`).
pub fn normalize(text: &str) -> String {
    normalize::render(&normalize::tokenize(text))
}

impl Classifier {
    pub fn new(settings: &KeywordSettings) -> Classifier {
        let mut classifier = Classifier {
            entries: Vec::new(),
            by_compact: HashMap::new(),
            max_compact_len: 0,
        };
        for &(word, language) in lists::STRONG_OPT_OUT {
            classifier.add(Kind::OptOut { strong: true }, language, word);
        }
        for &(word, language) in lists::WEAK_OPT_OUT {
            classifier.add(Kind::OptOut { strong: false }, language, word);
        }
        for &(word, language) in lists::OPT_IN {
            classifier.add(Kind::OptIn, language, word);
        }
        for &(word, language) in lists::HELP {
            classifier.add(Kind::Help, language, word);
        }
        let patterns = [
            (Kind::Filler, lists::FILLER),
            (Kind::Noun, lists::MESSAGING_NOUNS),
            (Kind::Phrase, lists::REVOCATION_PHRASES),
            (Kind::Dismissal, lists::DISMISSALS),
        ];
        for (kind, list) in patterns {
            for &(pattern, language) in list {
                for phrase in lists::expand(pattern) {
                    classifier.add(kind, language, &phrase);
                }
            }
        }
        for extra in &settings.extra {
            classifier.add_tenant(extra);
        }
        classifier
    }

    fn add_tenant(&mut self, extra: &TenantKeyword) {
        let kind = match extra.intent {
            // A tenant's own opt-out word is meant to work like STOP, filler included.
            Intent::OptOut => Kind::OptOut { strong: true },
            Intent::OptIn => Kind::OptIn,
            Intent::Help => Kind::Help,
            Intent::PossibleRevocation => Kind::Dismissal,
            // "None" cannot take anything away: an opt-out word stays one whatever a
            // tenant says, so there is nothing for it to do.
            Intent::None => return,
        };
        // An opt-out word, revocation phrase or dismissal may not be given a milder intent:
        // as a whole message it would then read as that intent, a removal by another name.
        let compact = compact_of(&normalize::tokenize(&extra.keyword));
        let taken = self.entries_for(&compact).any(|e| match e.kind {
            Kind::OptOut { .. } | Kind::Phrase => !matches!(kind, Kind::OptOut { .. }),
            Kind::Dismissal => matches!(kind, Kind::OptIn | Kind::Help),
            Kind::OptIn | Kind::Help | Kind::Filler | Kind::Noun => false,
        });
        if taken {
            return;
        }
        let language = extra.language.trim().to_lowercase();
        self.add(kind, &language, &extra.keyword);
    }

    fn add(&mut self, kind: Kind, language: &str, text: &str) {
        let tokens = normalize::tokenize(text);
        if tokens.is_empty() {
            return;
        }
        let compact = compact_of(&tokens);
        let breaks = breaks_of(&tokens);
        let existing = self.by_compact.get(&compact).and_then(|indices| {
            indices.iter().copied().find(|&i| {
                self.entries
                    .get(i)
                    .is_some_and(|e| e.kind.same_family(kind))
            })
        });
        if let Some(entry) = existing.and_then(|i| self.entries.get_mut(i)) {
            // Another spelling of a listed keyword (`optout` after `opt out`): the first
            // keeps its name, and either way of breaking it into words is accepted.
            for b in breaks {
                if let Err(at) = entry.breaks.binary_search(&b) {
                    entry.breaks.insert(at, b);
                }
            }
            return;
        }
        let index = self.entries.len();
        self.entries.push(Entry {
            kind,
            language: language.to_owned(),
            keyword: normalize::render(&tokens),
            breaks,
        });
        self.max_compact_len = self.max_compact_len.max(compact.len());
        self.by_compact.entry(compact).or_default().push(index);
    }

    fn entries_for<'a>(&'a self, compact: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.by_compact
            .get(compact)
            .into_iter()
            .flatten()
            .filter_map(|&i| self.entries.get(i))
    }

    pub fn classify(&self, text: &str) -> Classification {
        let tokens = normalize::tokenize(text);
        if tokens.is_empty() {
            return none();
        }
        if let Some(found) = self.whole_message(&tokens) {
            return found;
        }
        let found = self.find_all(&tokens);
        let at = starts_index(tokens.len(), &found);

        if let Some(result) = self.opt_out_words_with_filler(&tokens, &found, &at) {
            return result;
        }
        if let Some(entry) = self.first_of(&found, |k| k == Kind::Phrase) {
            return self.result(Intent::OptOut, rule::REVOCATION_PHRASE, entry);
        }
        if let Some(entry) = self.first_of(&found, |k| k == Kind::Dismissal) {
            return self.result(Intent::PossibleRevocation, rule::DISMISSAL, entry);
        }
        if let Some(entry) = self.first_of(&found, |k| matches!(k, Kind::OptOut { .. })) {
            return if word_count(&tokens) <= MAX_WORDS_FOR_KEYWORD_IN_TEXT {
                self.result(Intent::PossibleRevocation, rule::KEYWORD_IN_TEXT, entry)
            } else {
                none()
            };
        }
        if let Some(result) = self.opt_in_or_help_with_filler(&tokens, &found, &at) {
            return result;
        }
        none()
    }

    /// Rule 1. For opt-out the whole message may ignore every separator (`UN SUBSCRIBE`): a
    /// message whose letters spell exactly an opt-out word is one. Opt-in and help keep the
    /// ordinary joining rules, so no opt-in is assembled from `St Art`. Opt-out wins a clash,
    /// then help, since an opt-in is the one intent that can lift a block.
    fn whole_message(&self, tokens: &[Token]) -> Option<Classification> {
        let compact = compact_of(tokens);
        if compact.len() > self.max_compact_len {
            return None;
        }
        [Intent::OptOut, Intent::Help, Intent::OptIn]
            .into_iter()
            .find_map(|intent| {
                let index = self.by_compact.get(&compact)?.iter().copied().find(|&i| {
                    self.entries.get(i).is_some_and(|e| {
                        e.kind.keyword_intent() == Some(intent)
                            && (intent == Intent::OptOut || may_join(tokens, &e.breaks))
                    })
                })?;
                Some(self.result(intent, rule::WHOLE_MESSAGE, index))
            })
    }

    /// Every span of the message that spells an entry, by start, shorter spans first.
    fn find_all(&self, tokens: &[Token]) -> Vec<Found> {
        let mut found = Vec::new();
        let mut compact = String::with_capacity(self.max_compact_len);
        for start in 0..tokens.len() {
            compact.clear();
            for (end, token) in tokens
                .iter()
                .enumerate()
                .skip(start)
                .map(|(i, t)| (i + 1, t))
            {
                compact.push_str(&token.text);
                if compact.len() > self.max_compact_len {
                    break;
                }
                let Some(indices) = self.by_compact.get(compact.as_str()) else {
                    continue;
                };
                for &entry in indices {
                    let Some(e) = self.entries.get(entry) else {
                        continue;
                    };
                    if may_join(&tokens[start..end], &e.breaks) {
                        found.push(Found { start, end, entry });
                    }
                }
            }
        }
        found
    }

    /// The entry of the given kind found earliest in the message, the longest at that spot
    /// (`stop texting me` rather than `stop texting`).
    fn first_of(&self, found: &[Found], wanted: impl Fn(Kind) -> bool) -> Option<usize> {
        found
            .iter()
            .filter(|f| self.entries.get(f.entry).is_some_and(|e| wanted(e.kind)))
            .min_by_key(|f| (f.start, std::cmp::Reverse(f.end)))
            .map(|f| f.entry)
    }

    /// Rules 2 and 3: the message splits into opt-out words and filler only, with messaging
    /// nouns allowed right after an opt-out word. Strong words get at least what weak words
    /// get (a noun after them, filler on both sides), so `stop texts` and `please stop
    /// thanks` are opt-outs as `cancel texts` and `please cancel thanks` are.
    fn opt_out_words_with_filler(
        &self,
        tokens: &[Token],
        found: &[Found],
        at: &[Vec<usize>],
    ) -> Option<Classification> {
        #[derive(Clone, Copy, Default)]
        struct Path {
            first: Option<usize>,
            strong: Option<usize>,
        }
        impl Path {
            fn better_than(&self, other: &Path) -> bool {
                (self.strong.is_some(), self.first.is_some())
                    > (other.strong.is_some(), other.first.is_some())
            }
        }
        // reach[pos][after_word]: the best way to cover tokens[..pos], and whether its last
        // unit was an opt-out word (which a messaging noun may follow).
        let mut reach: Vec<[Option<Path>; 2]> = vec![[None, None]; tokens.len() + 1];
        if let Some(first) = reach.first_mut() {
            first[0] = Some(Path::default());
        }
        let improve = |slot: &mut Option<Path>, path: Path| {
            if slot.is_none_or(|old| path.better_than(&old)) {
                *slot = Some(path);
            }
        };
        for pos in 0..tokens.len() {
            for after_word in [false, true] {
                let Some(path) = reach[pos][usize::from(after_word)] else {
                    continue;
                };
                if tokens[pos].is_number() {
                    improve(&mut reach[pos + 1][0], path);
                }
                for &f in &at[pos] {
                    let Some(found) = found.get(f) else { continue };
                    let Some(entry) = self.entries.get(found.entry) else {
                        continue;
                    };
                    match entry.kind {
                        Kind::OptOut { strong } => {
                            let next = Path {
                                first: path.first.or(Some(found.entry)),
                                strong: if strong {
                                    path.strong.or(Some(found.entry))
                                } else {
                                    path.strong
                                },
                            };
                            improve(&mut reach[found.end][1], next);
                        }
                        Kind::Filler => improve(&mut reach[found.end][0], path),
                        Kind::Noun if after_word => improve(&mut reach[found.end][0], path),
                        _ => {}
                    }
                }
            }
        }
        let [a, b] = reach.last().copied()?;
        let best = match (a, b) {
            (Some(a), Some(b)) if a.better_than(&b) => a,
            (_, Some(b)) => b,
            (Some(a), None) => a,
            (None, None) => return None,
        };
        match (best.strong, best.first) {
            (Some(strong), _) => {
                Some(self.result(Intent::OptOut, rule::STRONG_WORD_WITH_FILLER, strong))
            }
            (None, Some(weak)) => Some(self.result(Intent::OptOut, rule::WEAK_WORD, weak)),
            (None, None) => None,
        }
    }

    /// Rule 7: opt-in and help keywords with nothing but filler. Help wins a mix, for the
    /// same reason as in rule 1.
    fn opt_in_or_help_with_filler(
        &self,
        tokens: &[Token],
        found: &[Found],
        at: &[Vec<usize>],
    ) -> Option<Classification> {
        #[derive(Clone, Copy, Default)]
        struct Path {
            help: Option<usize>,
            opt_in: Option<usize>,
        }
        let mut reach: Vec<Option<Path>> = vec![None; tokens.len() + 1];
        if let Some(first) = reach.first_mut() {
            *first = Some(Path::default());
        }
        let improve = |slot: &mut Option<Path>, path: Path| {
            let rank = |p: &Path| (p.help.is_some(), p.opt_in.is_some());
            if slot.is_none_or(|old| rank(&path) > rank(&old)) {
                *slot = Some(path);
            }
        };
        for pos in 0..tokens.len() {
            let Some(path) = reach[pos] else { continue };
            if tokens[pos].is_number() {
                improve(&mut reach[pos + 1], path);
            }
            for &f in &at[pos] {
                let Some(found) = found.get(f) else { continue };
                let Some(entry) = self.entries.get(found.entry) else {
                    continue;
                };
                let next = match entry.kind {
                    Kind::Help => Path {
                        help: path.help.or(Some(found.entry)),
                        ..path
                    },
                    Kind::OptIn => Path {
                        opt_in: path.opt_in.or(Some(found.entry)),
                        ..path
                    },
                    Kind::Filler => path,
                    _ => continue,
                };
                improve(&mut reach[found.end], next);
            }
        }
        let best = reach.last().copied().flatten()?;
        match (best.help, best.opt_in) {
            (Some(help), _) => Some(self.result(Intent::Help, rule::KEYWORD_WITH_FILLER, help)),
            (None, Some(opt_in)) => {
                Some(self.result(Intent::OptIn, rule::KEYWORD_WITH_FILLER, opt_in))
            }
            (None, None) => None,
        }
    }

    fn result(&self, intent: Intent, rule: &str, entry: usize) -> Classification {
        let entry = self.entries.get(entry);
        Classification {
            intent,
            rule: rule.to_owned(),
            language: entry.map(|e| e.language.clone()),
            classifier_version: CLASSIFIER_VERSION.to_owned(),
            keyword: entry.map(|e| e.keyword.clone()),
        }
    }
}

fn none() -> Classification {
    Classification {
        intent: Intent::None,
        rule: rule::NONE.to_owned(),
        language: None,
        classifier_version: CLASSIFIER_VERSION.to_owned(),
        keyword: None,
    }
}

fn compact_of(tokens: &[Token]) -> String {
    tokens.iter().map(|t| t.text.as_str()).collect()
}

/// Indices into `found` grouped by the token they start at.
fn starts_index(len: usize, found: &[Found]) -> Vec<Vec<usize>> {
    let mut at = vec![Vec::new(); len];
    for (i, f) in found.iter().enumerate() {
        if let Some(slot) = at.get_mut(f.start) {
            slot.push(i);
        }
    }
    at
}

/// Byte offsets of the word breaks inside a keyword's compact key.
fn breaks_of(tokens: &[Token]) -> Vec<usize> {
    tokens
        .iter()
        .scan(0, |offset, t| {
            *offset += t.text.len();
            Some(*offset)
        })
        .take(tokens.len().saturating_sub(1))
        .collect()
}

/// Whether a span of several tokens may be read as one keyword. A break between two tokens
/// is ignored when the keyword has a break there too (`opt out`, and `OPTOUT` for it), when
/// only punctuation or a letter/digit switch made it (`OPT-OUT`, `un-subscribe`), or between
/// letters spelled out one by one (`S T O P`). Any other space stops the match, or `is top`
/// would read as `istop` and `can celebrate` could grow a keyword.
fn may_join(span: &[Token], breaks: &[usize]) -> bool {
    let mut offset = 0;
    span.windows(2).all(|pair| {
        offset += pair[0].text.len();
        pair[1].glue != Glue::Space
            || (pair[0].is_single() && pair[1].is_single())
            || breaks.binary_search(&offset).is_ok()
    })
}

/// Words as a reader counts them: `Stop.Thanks` is two, `S.T.O.P.` and `STOP2QUIT` one.
fn word_count(tokens: &[Token]) -> usize {
    tokens.iter().filter(|t| t.glue != Glue::Script).count()
}
