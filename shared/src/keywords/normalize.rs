//! Turning raw inbound text into the tokens the classifier matches on.
//!
//! Keywords and tenant additions go through exactly the same steps as messages, so a
//! keyword written `ARRÊT` or `don't` in a list matches whatever a phone sends for it.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

/// What stood between a token and the one before it in the original text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Glue {
    /// Whitespace (or the start of the text): the token begins a new word.
    Space,
    /// Punctuation, symbols or emoji without whitespace: `OPT-OUT`, `stop.thanks`.
    Punct,
    /// A switch between letters and digits: `STOP2QUIT`, `stop1`.
    Script,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) text: String,
    pub(super) glue: Glue,
}

impl Token {
    /// One visible character: a spelled-out letter (`S T O P`) or a lone digit.
    pub(super) fn is_single(&self) -> bool {
        let mut bases = self.text.chars().filter(|c| !is_combining_mark(*c));
        bases.next().is_some() && bases.next().is_none()
    }

    pub(super) fn is_number(&self) -> bool {
        self.text.chars().all(char::is_numeric)
    }
}

/// Cyrillic and Greek letters that are drawn like a Latin letter, folded to that letter.
///
/// An explicit table rather than Unicode's confusables skeleton (UTS #39, as in the
/// `unicode-security` crate): the skeleton is made for comparing identifiers, and over-folds
/// ordinary text for our purpose — `m` becomes `rn`, `0` becomes `O` and `1`/`I` become `l`,
/// which would break `STOP 12345` and turn English words into other English words. Folding
/// only these scripts' look-alikes keeps Latin text untouched. Both cases are listed because
/// folding happens before lower-casing: a capital Greek Eta looks like `H`, its small form
/// like `n`. Accented forms (`Ё`, `Ї`) need no entry: they arrive decomposed. Latin small
/// capitals (`ꜱᴛᴏᴘ`, made by "fancy text" generators) are here too because NFKC leaves them
/// alone.
fn look_alike(c: char) -> Option<char> {
    let latin = match c {
        // Cyrillic capitals.
        'А' => 'a',
        'В' => 'b',
        'С' => 'c',
        'Е' => 'e',
        'Н' | 'Һ' => 'h',
        'І' => 'i',
        'Ј' => 'j',
        'К' => 'k',
        'Ӏ' => 'l',
        'М' => 'm',
        'О' => 'o',
        'Р' => 'p',
        'Ԛ' => 'q',
        'Ѕ' => 's',
        'Т' => 't',
        'Ԝ' => 'w',
        'Х' => 'x',
        'У' | 'Ү' => 'y',
        // Cyrillic small letters (some only look Latin as small capitals: в, к, м, н, т).
        'а' => 'a',
        'в' => 'b',
        'с' => 'c',
        'ԁ' => 'd',
        'е' => 'e',
        'һ' | 'н' => 'h',
        'і' => 'i',
        'ј' => 'j',
        'к' => 'k',
        'ӏ' => 'l',
        'м' => 'm',
        'п' => 'n',
        'о' => 'o',
        'р' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' => 't',
        'ԝ' => 'w',
        'х' => 'x',
        'у' | 'ү' => 'y',
        // Greek capitals.
        'Α' => 'a',
        'Β' => 'b',
        'Ε' => 'e',
        'Η' => 'h',
        'Ι' => 'i',
        'Κ' => 'k',
        'Μ' => 'm',
        'Ν' => 'n',
        'Ο' => 'o',
        'Ρ' => 'p',
        'Τ' => 't',
        'Χ' => 'x',
        'Υ' => 'y',
        'Ζ' => 'z',
        // Greek small letters.
        'α' => 'a',
        'β' => 'b',
        'γ' => 'y',
        'ε' => 'e',
        'η' => 'n',
        'ι' => 'i',
        'κ' => 'k',
        'ν' => 'v',
        'ο' => 'o',
        'ρ' => 'p',
        'τ' => 't',
        'υ' => 'u',
        'χ' => 'x',
        // Latin small capitals and the dotless i.
        'ᴀ' => 'a',
        'ʙ' => 'b',
        'ᴄ' => 'c',
        'ᴅ' => 'd',
        'ᴇ' => 'e',
        'ꜰ' => 'f',
        'ɢ' => 'g',
        'ʜ' => 'h',
        'ɪ' | 'ı' => 'i',
        'ᴊ' => 'j',
        'ᴋ' => 'k',
        'ʟ' => 'l',
        'ᴍ' => 'm',
        'ɴ' => 'n',
        'ᴏ' => 'o',
        'ᴘ' => 'p',
        'ǫ' => 'q',
        'ʀ' => 'r',
        'ꜱ' => 's',
        'ᴛ' => 't',
        'ᴜ' => 'u',
        'ᴠ' => 'v',
        'ᴡ' => 'w',
        'ʏ' => 'y',
        'ᴢ' => 'z',
        _ => return None,
    };
    Some(latin)
}

/// Invisible characters that phones and copy-paste insert inside words; they must neither
/// split `ST\u{200B}OP` nor survive into a token.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Apostrophes join rather than split, so `don't` is one word, `dont`, as people also type it.
fn is_apostrophe(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' | '\u{00B4}' | '\u{2032}'
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Digit,
}

/// Splits text into tokens: runs of letters (or of digits), with a note of what separated
/// each from the previous one. Punctuation, quotes, symbols and emoji are dropped.
pub(super) fn tokenize(text: &str) -> Vec<Token> {
    let mut tokens: Vec<Token> = Vec::new();
    let mut current = String::new();
    let mut class = Class::Letter;
    // Glue to give the next token; the text's start counts as whitespace.
    let mut pending = Glue::Space;

    let flush = |tokens: &mut Vec<Token>, current: &mut String, pending: &mut Glue| {
        if !current.is_empty() {
            tokens.push(Token {
                text: finish(current),
                glue: *pending,
            });
            current.clear();
            *pending = Glue::Punct;
        }
    };

    // NFKC first so full-width and mathematical letters are plain letters; then NFD so
    // accents are separate marks that `finish` can drop.
    for c in text.nfkc().nfd() {
        if is_invisible(c) || is_apostrophe(c) {
            continue;
        }
        if c.is_whitespace() {
            flush(&mut tokens, &mut current, &mut pending);
            pending = Glue::Space;
        } else if is_combining_mark(c) {
            // A mark with no letter before it (after an emoji, say) has nothing to attach to.
            if !current.is_empty() {
                current.push(c);
            }
        } else if c.is_alphanumeric() {
            let this = if c.is_numeric() {
                Class::Digit
            } else {
                Class::Letter
            };
            if !current.is_empty() && this != class {
                flush(&mut tokens, &mut current, &mut pending);
                pending = Glue::Script;
            }
            class = this;
            current.push(c);
        } else {
            flush(&mut tokens, &mut current, &mut pending);
        }
    }
    flush(&mut tokens, &mut current, &mut pending);
    join_spelled_out(tokens)
}

/// Look-alike folding, lower-casing and accent removal for one (decomposed) word.
///
/// Look-alikes are folded only in a word made wholly of ASCII and look-alike letters
/// (`ЅТОР`, `SТOP` with a Cyrillic T): a real Russian or Greek word keeps its letters
/// (`Привет` stays `привет`) instead of coming out half-Latin. Folding happens before
/// lower-casing because a letter's case decides what it looks like. Accents are removed only
/// from Latin letters (`ARRÊT` = `ARRET`, `más` = `mas`): marks on other scripts carry
/// meaning a tenant's own keywords may depend on, and both sides of a comparison go through
/// this same function anyway.
fn finish(raw: &str) -> String {
    let spoofed = raw.chars().any(|c| look_alike(c).is_some())
        && raw
            .chars()
            .all(|c| c.is_ascii() || is_combining_mark(c) || look_alike(c).is_some());
    let mut out = String::with_capacity(raw.len());
    let mut after_latin = false;
    let mut push = |c: char, out: &mut String| {
        if is_combining_mark(c) {
            if !after_latin {
                out.push(c);
            }
        } else {
            out.push(c);
            after_latin = c.is_ascii_alphabetic();
        }
    };
    for c in raw.chars() {
        match look_alike(c).filter(|_| spoofed) {
            Some(latin) => push(latin, &mut out),
            // Lower-casing can itself produce a mark (`İ` is `i` and a dot above).
            None => c.to_lowercase().for_each(|l| push(l, &mut out)),
        }
    }
    // Recompose what is left (Hangul, marks on other scripts) so tokens read naturally.
    out.nfc().collect()
}

/// `S.T.O.P.` and `s-t-o-p` are one word spelled out: runs of single characters held
/// together by punctuation become one token. Single letters separated by spaces (`S T O P`)
/// stay apart, since `I a m` is ordinary text; the matcher treats such runs separately.
fn join_spelled_out(tokens: Vec<Token>) -> Vec<Token> {
    let mut out: Vec<Token> = Vec::with_capacity(tokens.len());
    let mut run_len = 0usize;
    for token in tokens {
        let joins = token.glue != Glue::Space && token.is_single();
        match out.last_mut() {
            Some(last) if joins && run_len > 0 => {
                last.text.push_str(&token.text);
                run_len += 1;
            }
            _ => {
                run_len = usize::from(token.is_single());
                out.push(token);
            }
        }
    }
    out
}

/// Renders tokens as the normalised string: words separated by one space, letters and
/// digits that were written together kept together (`stop2quit`).
pub(super) fn render(tokens: &[Token]) -> String {
    let mut out = String::new();
    for (i, token) in tokens.iter().enumerate() {
        if i > 0 && token.glue != Glue::Script {
            out.push(' ');
        }
        out.push_str(&token.text);
    }
    out
}
