//! Inbound text -> intent: the keyword classifier and the revocation grammar (docs/rules.md,
//! "The classifier").
//!
//! Pure: no I/O. The vocabulary is built once per [`Classifier`] (the default one lazily,
//! once per process) into a byte trie, because this runs on every inbound webhook:
//! classifying is one normalisation pass and a walk of the trie from each token, with no
//! regular expressions and no hashing.
//!
//! Rules, in the order they are tried (numbered as in docs/rules.md, "The classifier"):
//! 1. `whole_message` — the whole message is one keyword of an intent.
//! 2. `strong_word_with_filler` / 3. `weak_word` — opt-out words with nothing but filler,
//!    and messaging nouns right after the word.
//! 4. `revocation_phrase` — a listed revocation phrase anywhere; then the grammar
//!    (`grammar.rs`): `stop_imperative`, `remove_from_list`, `negated_wanting`,
//!    `unsubscribe_phrase` — revocations by structure, in English, Spanish and Portuguese.
//! 5. `dismissal`, then the grammar's reviews — `possible_revocation`.
//! 6. `keyword_in_text` — an opt-out word as a whole word in at most six words:
//!    `possible_revocation`; then `misspelled_keyword` — an opt-out word misspelled (`Sotp`,
//!    `sttop`) with nothing but filler: `possible_revocation`, never an opt-out.
//! 7. `keyword_with_filler` — opt-in or help keywords with nothing but filler.

mod grammar;
mod lists;
mod normalize;
mod trie;

#[cfg(test)]
mod corpus_tests;
#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::LazyLock;

use grammar::{Outcome, WordInfo, Words, lang};
use normalize::{Glue, Tokens};
use trie::{ROOT, Trie, TrieBuilder};

/// Recorded on every classification, so an event can be re-judged when the rules change.
pub const CLASSIFIER_VERSION: &str = "2026.12.1";

/// Names of the rules reported in [`Classification::rule`].
pub mod rule {
    pub const WHOLE_MESSAGE: &str = "whole_message";
    pub const STRONG_WORD_WITH_FILLER: &str = "strong_word_with_filler";
    pub const WEAK_WORD: &str = "weak_word";
    pub const REVOCATION_PHRASE: &str = "revocation_phrase";
    /// `dejen de escribirme`, `no me manden más mensajes`, `pare de me mandar`, `don't text`.
    pub const STOP_IMPERATIVE: &str = "stop_imperative";
    /// `sácame de la lista`, `me tira da lista`, `borren mi número`, `take me off`.
    pub const REMOVE_FROM_LIST: &str = "remove_from_list";
    /// `no quiero recibir más mensajes`, `não quero mais receber`, `I don't want these texts`.
    pub const NEGATED_WANTING: &str = "negated_wanting";
    /// `denme de baja`, `me desuscribo`, `cancelar mi suscripción`, `me descadastra`.
    pub const UNSUBSCRIBE_PHRASE: &str = "unsubscribe_phrase";
    pub const DISMISSAL: &str = "dismissal";
    pub const KEYWORD_IN_TEXT: &str = "keyword_in_text";
    /// `Sotp`, `sttop`: an opt-out word misspelled, sent to review.
    pub const MISSPELLED_KEYWORD: &str = "misspelled_keyword";
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
    /// Language of the matched keyword or phrase: `en`, `es`, `pt`, `fr`, or a tenant's
    /// language tag.
    pub language: Option<String>,
    pub classifier_version: String,
    /// The matched keyword or phrase, normalised (`OPT-OUT` reports `opt out`; a grammar
    /// match reports the words that matched, `dejen de escribirme`).
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
    /// The language it was first listed in (what is reported when the message says no more).
    language: String,
    /// Every known language it is listed in (`lang` bits): `parar` is Spanish and
    /// Portuguese, and the rest of the message decides which.
    languages: u8,
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
    /// Keyword entries under their letters with every separator removed, so `S.T.O.P`,
    /// `OPT-OUT` and `OPTOUT` reach the same entry (whether the separators in a message may
    /// be ignored is decided per match, see `may_join`), and the grammar's words.
    trie: Trie,
    /// Misspellings of single-word opt-out keywords (`sotp`, with repeated letters squeezed:
    /// `sttop` is `stop`) -> entry.
    misspellings: HashMap<String, usize>,
    /// Classes that can begin a grammar pattern.
    first_classes: u64,
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
    let tokens = normalize::tokenize(text);
    normalize::render(&tokens, 0, tokens.len())
}

/// The classifier's vocabulary while it is being built.
struct Builder {
    entries: Vec<Entry>,
    trie: TrieBuilder,
}

impl Builder {
    fn entries_for<'a>(&'a self, compact: &str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.trie
            .entries(compact)
            .iter()
            .filter_map(|&i| self.entries.get(i as usize))
    }

    fn add(&mut self, kind: Kind, language: &str, text: &str) {
        let tokens = normalize::tokenize(text);
        if tokens.is_empty() {
            return;
        }
        let compact = tokens.compact_all();
        let breaks = breaks_of(&tokens);
        let existing = self.trie.entries(compact).iter().copied().find(|&i| {
            self.entries
                .get(i as usize)
                .is_some_and(|e| e.kind.same_family(kind))
        });
        if let Some(entry) = existing.and_then(|i| self.entries.get_mut(i as usize)) {
            // Another spelling of a listed keyword (`optout` after `opt out`), or the same
            // word in another language (`parar`): the first keeps its name, and either way
            // of breaking it into words is accepted.
            for b in breaks {
                if let Err(at) = entry.breaks.binary_search(&b) {
                    entry.breaks.insert(at, b);
                }
            }
            entry.languages |= lang::bit(language);
            return;
        }
        let index = self.entries.len();
        self.entries.push(Entry {
            kind,
            language: language.to_owned(),
            languages: lang::bit(language),
            keyword: normalize::render(&tokens, 0, tokens.len()),
            breaks,
        });
        self.trie.add_entry(compact, index as u32);
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
        let tokens = normalize::tokenize(&extra.keyword);
        let taken = self
            .entries_for(tokens.compact_all())
            .any(|e| match e.kind {
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

    /// Misspellings of each single-word opt-out keyword of four letters or more: the word
    /// with repeated letters squeezed (`sttop`, `stooop`), with two neighbouring letters
    /// swapped (`sotp`), and for words of seven letters or more with one letter missing
    /// (`unsubscibe`). A variant that is itself a word the classifier knows, or an everyday
    /// word listed in `lists::NOT_MISSPELLINGS` (`alot`), is left out.
    fn misspellings(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for (index, entry) in self.entries.iter().enumerate() {
            let word = entry.keyword.as_str();
            let plain = word.len() >= 4 && word.bytes().all(|b| b.is_ascii_lowercase());
            if !matches!(entry.kind, Kind::OptOut { .. }) || !plain {
                continue;
            }
            let bytes = word.as_bytes();
            let mut variants = vec![word.to_owned()];
            for i in 0..bytes.len().saturating_sub(1) {
                let mut v = bytes.to_vec();
                v.swap(i, i + 1);
                variants.extend(String::from_utf8(v));
            }
            if bytes.len() >= 7 {
                for i in 0..bytes.len() {
                    let mut v = bytes.to_vec();
                    v.remove(i);
                    variants.extend(String::from_utf8(v));
                }
            }
            for variant in variants {
                let squeezed = squeeze(&variant);
                let known = !self.trie.entries(&squeezed).is_empty()
                    || self.trie.word(&squeezed) != 0
                    || lists::NOT_MISSPELLINGS.contains(&squeezed.as_str());
                if !known || squeezed == squeeze(word) {
                    out.entry(squeezed).or_insert(index);
                }
            }
        }
        out
    }
}

/// What scanning a message found: keywords by start, and what is known of each token.
#[derive(Default)]
struct Scan {
    found: Vec<Found>,
    /// `found[starts[i]..starts[i + 1]]` start at token `i`.
    starts: Vec<usize>,
    info: Vec<WordInfo>,
}

/// Rules 2 and 3: the best way found so far to cover the message's first tokens.
#[derive(Clone, Copy, Default)]
struct OptOutPath {
    first: Option<usize>,
    strong: Option<usize>,
}

impl OptOutPath {
    fn better_than(&self, other: &OptOutPath) -> bool {
        (self.strong.is_some(), self.first.is_some())
            > (other.strong.is_some(), other.first.is_some())
    }
}

/// Rule 7: the same for opt-in and help keywords.
#[derive(Clone, Copy, Default)]
struct KeywordPath {
    help: Option<usize>,
    opt_in: Option<usize>,
}

/// Buffers reused from message to message on one thread, so that classifying allocates
/// little more than what it returns.
#[derive(Default)]
struct Scratch {
    tokens: Tokens,
    raw: String,
    scan: Scan,
    opt_out_paths: Vec<[Option<OptOutPath>; 2]>,
    keyword_paths: Vec<Option<KeywordPath>>,
}

impl Scratch {
    /// A message far longer than SMS allows leaves no lasting large buffers behind.
    fn trim(&mut self) {
        if self.tokens.text.capacity() > 16 * 1024 {
            *self = Scratch::default();
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

impl Scan {
    fn at(&self, token: usize) -> &[Found] {
        match (self.starts.get(token), self.starts.get(token + 1)) {
            (Some(&a), Some(&b)) => self.found.get(a..b).unwrap_or(&[]),
            _ => &[],
        }
    }
}

impl Classifier {
    pub fn new(settings: &KeywordSettings) -> Classifier {
        let mut builder = Builder {
            entries: Vec::new(),
            trie: TrieBuilder::new(),
        };
        for &(word, language) in lists::STRONG_OPT_OUT {
            builder.add(Kind::OptOut { strong: true }, language, word);
        }
        for &(word, language) in lists::WEAK_OPT_OUT {
            builder.add(Kind::OptOut { strong: false }, language, word);
        }
        for &(word, language) in lists::OPT_IN {
            builder.add(Kind::OptIn, language, word);
        }
        for &(word, language) in lists::HELP {
            builder.add(Kind::Help, language, word);
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
                    builder.add(kind, language, &phrase);
                }
            }
        }
        for &(words, classes, languages) in grammar::LEXICON {
            for word in words.split_whitespace() {
                let tokens = normalize::tokenize(word);
                builder
                    .trie
                    .add_word(tokens.compact_all(), classes, languages);
            }
        }
        for extra in &settings.extra {
            builder.add_tenant(extra);
        }
        let misspellings = builder.misspellings();
        Classifier {
            trie: builder.trie.build(),
            entries: builder.entries,
            misspellings,
            first_classes: grammar::first_classes(),
        }
    }

    pub fn classify(&self, text: &str) -> Classification {
        let reused = SCRATCH.try_with(|cell| {
            let mut scratch = cell.try_borrow_mut().ok()?;
            let result = self.classify_with(text, &mut scratch);
            scratch.trim();
            Some(result)
        });
        match reused {
            Ok(Some(result)) => result,
            // The thread is ending, or this thread is already classifying: fresh buffers.
            _ => self.classify_with(text, &mut Scratch::default()),
        }
    }

    fn classify_with(&self, text: &str, scratch: &mut Scratch) -> Classification {
        let Scratch {
            tokens,
            raw,
            scan,
            opt_out_paths,
            keyword_paths,
        } = scratch;
        normalize::tokenize_into(text, tokens, raw);
        let tokens = &*tokens;
        if tokens.is_empty() {
            return none();
        }
        if let Some(found) = self.whole_message(tokens) {
            return found;
        }
        self.scan(tokens, scan);
        let scan = &*scan;
        let words = Words {
            tokens,
            info: &scan.info,
        };

        let found_kind = |wanted: fn(Kind) -> bool| {
            scan.found
                .iter()
                .any(|f| self.entries.get(f.entry).is_some_and(|e| wanted(e.kind)))
        };
        if found_kind(|k| matches!(k, Kind::OptOut { .. }))
            && let Some(result) =
                self.opt_out_words_with_filler(tokens, scan, &words, opt_out_paths)
        {
            return result;
        }
        if let Some(entry) = self.first_of(&scan.found, |k| k == Kind::Phrase) {
            return self.result(Intent::OptOut, rule::REVOCATION_PHRASE, entry, &words);
        }
        let grammar = words.find(self.first_classes);
        if let Some(found) = grammar.filter(|g| g.outcome == Outcome::OptOut) {
            return grammar_result(Intent::OptOut, &found, tokens);
        }
        if let Some(entry) = self.first_of(&scan.found, |k| k == Kind::Dismissal) {
            return self.result(Intent::PossibleRevocation, rule::DISMISSAL, entry, &words);
        }
        if let Some(found) = grammar.filter(|g| g.outcome == Outcome::Review) {
            return grammar_result(Intent::PossibleRevocation, &found, tokens);
        }
        if let Some(entry) = self.first_of(&scan.found, |k| matches!(k, Kind::OptOut { .. })) {
            return if word_count(tokens) <= MAX_WORDS_FOR_KEYWORD_IN_TEXT {
                self.result(
                    Intent::PossibleRevocation,
                    rule::KEYWORD_IN_TEXT,
                    entry,
                    &words,
                )
            } else {
                none()
            };
        }
        if let Some(entry) = self.misspelled(tokens, scan) {
            return self.result(
                Intent::PossibleRevocation,
                rule::MISSPELLED_KEYWORD,
                entry,
                &words,
            );
        }
        if found_kind(|k| matches!(k, Kind::OptIn | Kind::Help))
            && let Some(result) =
                self.opt_in_or_help_with_filler(tokens, scan, &words, keyword_paths)
        {
            return result;
        }
        none()
    }

    /// Rule 1. For opt-out the whole message may ignore every separator (`UN SUBSCRIBE`): a
    /// message whose letters spell exactly an opt-out word is one. Opt-in and help keep the
    /// ordinary joining rules, so no opt-in is assembled from `St Art`. Opt-out wins a clash,
    /// then help, since an opt-in is the one intent that can lift a block.
    fn whole_message(&self, tokens: &Tokens) -> Option<Classification> {
        let node = self.trie.walk(ROOT, tokens.compact_all().as_bytes())?;
        let indices = self.trie.entries(node);
        if indices.is_empty() {
            return None;
        }
        [Intent::OptOut, Intent::Help, Intent::OptIn]
            .into_iter()
            .find_map(|intent| {
                let index = indices.iter().map(|&i| i as usize).find(|&i| {
                    self.entries.get(i).is_some_and(|e| {
                        e.kind.keyword_intent() == Some(intent)
                            && (intent == Intent::OptOut
                                || may_join(tokens, 0, tokens.len(), &e.breaks))
                    })
                })?;
                let entry = self.entries.get(index)?;
                Some(Classification {
                    intent,
                    rule: rule::WHOLE_MESSAGE.to_owned(),
                    // One word alone says nothing more about its language.
                    language: Some(entry.language.clone()),
                    classifier_version: CLASSIFIER_VERSION.to_owned(),
                    keyword: Some(entry.keyword.clone()),
                })
            })
    }

    /// Walks the trie from every token: every span that spells an entry (by start, shorter
    /// spans first), and each token's word classes and languages.
    fn scan(&self, tokens: &Tokens, scan: &mut Scan) {
        let n = tokens.len();
        scan.found.clear();
        scan.starts.clear();
        scan.info.clear();
        scan.info.resize(n, WordInfo::default());
        for start in 0..n {
            scan.starts.push(scan.found.len());
            let mut node = ROOT;
            'walk: for end in start + 1..=n {
                let Some(next) = self.trie.walk(node, tokens.word(end - 1).as_bytes()) else {
                    break 'walk;
                };
                node = next;
                if end == start + 1 {
                    let (classes, languages) = self.trie.word(node);
                    if let Some(info) = scan.info.get_mut(start) {
                        info.classes = classes;
                        info.languages = languages;
                    }
                }
                for &entry in self.trie.entries(node) {
                    let entry = entry as usize;
                    let Some(e) = self.entries.get(entry) else {
                        continue;
                    };
                    if !may_join(tokens, start, end, &e.breaks) {
                        continue;
                    }
                    scan.found.push(Found { start, end, entry });
                    if let Some(info) = scan.info.get_mut(start) {
                        if e.kind == Kind::Filler {
                            info.filler_end = info.filler_end.max(end);
                        }
                        if e.languages != 0 && end == start + 1 {
                            info.languages |= e.languages;
                        }
                    }
                }
            }
        }
        scan.starts.push(scan.found.len());
        // `do not`: the `not` of `do not want` / `does not want` is a `don't`.
        for i in 1..n {
            let after_do = scan
                .info
                .get(i - 1)
                .is_some_and(|w| w.classes & grammar::class::DO != 0);
            if let Some(info) = scan.info.get_mut(i)
                && after_do
                && info.classes & grammar::class::NOT != 0
            {
                info.classes |= grammar::class::DONT;
            }
        }
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

    /// Rule 6b: the message is one word and filler, and that word is a misspelled opt-out
    /// word.
    fn misspelled(&self, tokens: &Tokens, scan: &Scan) -> Option<usize> {
        let mut candidate = None;
        let mut at = 0;
        while at < tokens.len() {
            let filler = scan.info.get(at).map_or(0, |w| w.filler_end);
            if filler > at {
                at = filler;
                continue;
            }
            if !tokens.list.get(at).is_some_and(|t| t.number) {
                if candidate.is_some() {
                    return None;
                }
                candidate = Some(at);
            }
            at += 1;
        }
        let word = tokens.word(candidate?);
        if word.len() < 3 || word.len() > 24 || !word.bytes().all(|b| b.is_ascii_lowercase()) {
            return None;
        }
        self.misspellings.get(&squeeze(word)).copied()
    }

    /// Rules 2 and 3: the message splits into opt-out words and filler only, with messaging
    /// nouns allowed right after an opt-out word. Strong words get at least what weak words
    /// get (a noun after them, filler on both sides), so `stop texts` and `please stop
    /// thanks` are opt-outs as `cancel texts` and `please cancel thanks` are.
    fn opt_out_words_with_filler(
        &self,
        tokens: &Tokens,
        scan: &Scan,
        words: &Words,
        reach: &mut Vec<[Option<OptOutPath>; 2]>,
    ) -> Option<Classification> {
        type Path = OptOutPath;
        let n = tokens.len();
        // reach[pos][after_word]: the best way to cover tokens[..pos], and whether its last
        // unit was an opt-out word (which a messaging noun may follow).
        reach.clear();
        reach.resize(n + 1, [None, None]);
        if let Some(first) = reach.first_mut() {
            first[0] = Some(Path::default());
        }
        let improve = |slot: &mut Option<Path>, path: Path| {
            if slot.is_none_or(|old| path.better_than(&old)) {
                *slot = Some(path);
            }
        };
        for pos in 0..n {
            for after_word in [false, true] {
                let Some(path) = reach[pos][usize::from(after_word)] else {
                    continue;
                };
                if tokens.list[pos].number {
                    improve(&mut reach[pos + 1][0], path);
                }
                for found in scan.at(pos) {
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
                Some(self.result(Intent::OptOut, rule::STRONG_WORD_WITH_FILLER, strong, words))
            }
            (None, Some(weak)) => Some(self.result(Intent::OptOut, rule::WEAK_WORD, weak, words)),
            (None, None) => None,
        }
    }

    /// Rule 7: opt-in and help keywords with nothing but filler. Help wins a mix, for the
    /// same reason as in rule 1.
    fn opt_in_or_help_with_filler(
        &self,
        tokens: &Tokens,
        scan: &Scan,
        words: &Words,
        reach: &mut Vec<Option<KeywordPath>>,
    ) -> Option<Classification> {
        type Path = KeywordPath;
        let n = tokens.len();
        reach.clear();
        reach.resize(n + 1, None);
        if let Some(first) = reach.first_mut() {
            *first = Some(Path::default());
        }
        let improve = |slot: &mut Option<Path>, path: Path| {
            let rank = |p: &Path| (p.help.is_some(), p.opt_in.is_some());
            if slot.is_none_or(|old| rank(&path) > rank(&old)) {
                *slot = Some(path);
            }
        };
        for pos in 0..n {
            let Some(path) = reach[pos] else { continue };
            if tokens.list[pos].number {
                improve(&mut reach[pos + 1], path);
            }
            for found in scan.at(pos) {
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
            (Some(help), _) => {
                Some(self.result(Intent::Help, rule::KEYWORD_WITH_FILLER, help, words))
            }
            (None, Some(opt_in)) => {
                Some(self.result(Intent::OptIn, rule::KEYWORD_WITH_FILLER, opt_in, words))
            }
            (None, None) => None,
        }
    }

    fn result(&self, intent: Intent, rule: &str, entry: usize, words: &Words) -> Classification {
        let entry = self.entries.get(entry);
        Classification {
            intent,
            rule: rule.to_owned(),
            language: entry.map(|e| entry_language(e, words)),
            classifier_version: CLASSIFIER_VERSION.to_owned(),
            keyword: entry.map(|e| e.keyword.clone()),
        }
    }
}

/// An entry's language: the one it is listed in, or, for a spelling listed in several
/// (`parar`, `cancelar`), the one the rest of the message is written in.
fn entry_language(entry: &Entry, words: &Words) -> String {
    if entry.languages.count_ones() < 2 {
        return entry.language.clone();
    }
    let first = lang::bit(&entry.language);
    lang::tag(words.vote(entry.languages, first))
        .map_or_else(|| entry.language.clone(), str::to_owned)
}

fn grammar_result(intent: Intent, found: &grammar::Found, tokens: &Tokens) -> Classification {
    Classification {
        intent,
        rule: found.rule.to_owned(),
        language: lang::tag(found.language).map(str::to_owned),
        classifier_version: CLASSIFIER_VERSION.to_owned(),
        keyword: Some(normalize::render(tokens, found.start, found.end)),
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

/// Runs of one repeated letter squeezed to one: `sttop` and `stooop` are `stop`.
fn squeeze(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    for c in word.chars() {
        if !out.ends_with(c) {
            out.push(c);
        }
    }
    out
}

/// Byte offsets of the word breaks inside a keyword's compact key.
fn breaks_of(tokens: &Tokens) -> Vec<usize> {
    tokens
        .list
        .iter()
        .scan(0, |offset, t| {
            *offset += t.end - t.start;
            Some(*offset)
        })
        .take(tokens.len().saturating_sub(1))
        .collect()
}

/// Whether tokens `start..end` may be read as one keyword. A break between two tokens is
/// ignored when the keyword has a break there too (`opt out`, and `OPTOUT` for it), when
/// only punctuation or a letter/digit switch made it (`OPT-OUT`, `un-subscribe`), or between
/// letters spelled out one by one (`S T O P`). Any other space stops the match, or `is top`
/// would read as `istop` and `can celebrate` could grow a keyword.
fn may_join(tokens: &Tokens, start: usize, end: usize, breaks: &[usize]) -> bool {
    let span = tokens.list.get(start..end).unwrap_or(&[]);
    let mut offset = 0;
    span.windows(2).all(|pair| {
        offset += pair[0].end - pair[0].start;
        pair[1].glue != Glue::Space
            || (pair[0].single && pair[1].single)
            || breaks.binary_search(&offset).is_ok()
    })
}

/// Words as a reader counts them: `Stop.Thanks` is two, `S.T.O.P.` and `STOP2QUIT` one.
fn word_count(tokens: &Tokens) -> usize {
    tokens
        .list
        .iter()
        .filter(|t| t.glue != Glue::Script)
        .count()
}
