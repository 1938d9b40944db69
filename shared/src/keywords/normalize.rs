//! Turning raw inbound text into the tokens the classifier matches on.
//!
//! Keywords and tenant additions go through exactly the same steps as messages, so a
//! keyword written `ARRÊT` or `don't` in a list matches whatever a phone sends for it.
//!
//! This runs on every inbound message, so the tokens of a message share one buffer (a token
//! is a byte range into it, and the buffers are reused from message to message) and ASCII,
//! most of what phones send, skips Unicode normalisation entirely: NFKD leaves ASCII
//! unchanged, and no look-alike is ASCII.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfc_quick};

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

/// One word of a message: a byte range of [`Tokens::text`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token {
    pub(super) start: usize,
    pub(super) end: usize,
    pub(super) glue: Glue,
    /// A clause ended before this token (`.`, `,`, `!`, `?`, `;`, `:`, a line break): the
    /// grammar reads what follows a phrase only up to the end of its clause.
    pub(super) clause_break: bool,
    /// One visible character: a spelled-out letter (`S T O P`) or a lone digit.
    pub(super) single: bool,
    pub(super) number: bool,
}

/// A message's tokens. Tokens are stored back to back in `text`, so a run of tokens is one
/// slice: the run's letters with every separator removed (its compact key).
#[derive(Debug, Clone, Default)]
pub(super) struct Tokens {
    pub(super) text: String,
    pub(super) list: Vec<Token>,
}

impl Tokens {
    pub(super) fn len(&self) -> usize {
        self.list.len()
    }

    pub(super) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    pub(super) fn word(&self, index: usize) -> &str {
        self.list
            .get(index)
            .and_then(|t| self.text.get(t.start..t.end))
            .unwrap_or("")
    }

    /// Tokens `start..end` with every separator removed.
    pub(super) fn compact(&self, start: usize, end: usize) -> &str {
        match (
            self.list.get(start),
            end.checked_sub(1).and_then(|e| self.list.get(e)),
        ) {
            (Some(first), Some(last)) if start < end => {
                self.text.get(first.start..last.end).unwrap_or("")
            }
            _ => "",
        }
    }

    /// Every token with separators removed.
    pub(super) fn compact_all(&self) -> &str {
        self.compact(0, self.list.len())
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

/// Marks that end a clause (after NFKC/NFKD, full-width and ideographic forms are these).
fn ends_clause(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | '!' | '?' | ';' | ':' | '\n' | '\r' | '¿' | '¡' | '…' | '。' | '、'
    )
}

/// Builds tokens one character at a time into a reused buffer.
///
/// A token of ASCII characters is written straight into the buffer, lower-cased (ASCII needs
/// no normalisation, and no look-alike is ASCII); a token with any other character is
/// gathered in `raw` and finished by `finish_into`. Non-ASCII characters are decomposed one
/// at a time (NFKD), which gives what NFKC followed by NFD gives: marks come out in another
/// order only where `finish_into` drops them or recomposes the word anyway.
struct Builder<'a> {
    tokens: &'a mut Tokens,
    /// The current token's characters, when it has any that is not ASCII.
    raw: &'a mut String,
    /// Where the current all-ASCII token began in the buffer.
    open: Option<usize>,
    class: Class,
    /// Glue to give the next token; the text's start counts as whitespace.
    pending: Glue,
    pending_break: bool,
}

impl Builder<'_> {
    fn push_token(&mut self, start: usize, ascii: bool) {
        let end = self.tokens.text.len();
        if end == start {
            return;
        }
        let (single, number) = if ascii {
            (end - start == 1, self.class == Class::Digit)
        } else {
            let word = self.tokens.text.get(start..end).unwrap_or("");
            let mut bases = word.chars().filter(|c| !is_combining_mark(*c));
            let single = bases.next().is_some() && bases.next().is_none();
            (single, word.chars().all(char::is_numeric))
        };
        self.tokens.list.push(Token {
            start,
            end,
            glue: self.pending,
            clause_break: self.pending_break,
            single,
            number,
        });
        self.pending = Glue::Punct;
        self.pending_break = false;
    }

    /// Ends the current token, if any.
    fn flush(&mut self) {
        if let Some(start) = self.open.take() {
            self.push_token(start, true);
        } else if !self.raw.is_empty() {
            let start = self.tokens.text.len();
            finish_into(self.raw, &mut self.tokens.text);
            self.raw.clear();
            self.push_token(start, false);
        }
    }

    fn in_token(&self) -> bool {
        self.open.is_some() || !self.raw.is_empty()
    }

    /// The current token will hold a non-ASCII character: move what it has so far to `raw`.
    fn widen(&mut self) {
        if let Some(start) = self.open.take() {
            if let Some(ascii) = self.tokens.text.get(start..) {
                self.raw.push_str(ascii);
            }
            self.tokens.text.truncate(start);
        }
    }

    fn space(&mut self, c: char) {
        self.flush();
        self.pending = Glue::Space;
        if ends_clause(c) {
            self.pending_break = true;
        }
    }

    fn separator(&mut self, c: char) {
        self.flush();
        if ends_clause(c) {
            self.pending_break = true;
        }
    }

    /// A letter or digit; a switch between the two starts a new token.
    fn switch_class(&mut self, this: Class) {
        if self.in_token() && this != self.class {
            self.flush();
            self.pending = Glue::Script;
        }
        self.class = this;
    }

    fn ascii(&mut self, b: u8) {
        let c = char::from(b);
        if b == b'\'' || b == b'`' {
            return;
        }
        if c.is_whitespace() {
            self.space(c);
        } else if b.is_ascii_alphanumeric() {
            let this = if b.is_ascii_digit() {
                Class::Digit
            } else {
                Class::Letter
            };
            self.switch_class(this);
            if !self.raw.is_empty() {
                self.raw.push(c);
            } else {
                if self.open.is_none() {
                    self.open = Some(self.tokens.text.len());
                }
                self.tokens.text.push(char::from(b.to_ascii_lowercase()));
            }
        } else {
            self.separator(c);
        }
    }

    /// A whole ASCII text: runs of letters or digits are copied into the buffer a run at a
    /// time rather than a character at a time.
    fn ascii_text(&mut self, text: &str) {
        // Where the run of letters or digits being read began in `text`.
        let mut run: Option<usize> = None;
        for (i, b) in text.bytes().enumerate() {
            if b.is_ascii_alphanumeric() {
                let this = if b.is_ascii_digit() {
                    Class::Digit
                } else {
                    Class::Letter
                };
                if self.in_token() && this != self.class {
                    self.copy_run(text, &mut run, i);
                    self.flush();
                    self.pending = Glue::Script;
                }
                self.class = this;
                if run.is_none() {
                    run = Some(i);
                    if self.open.is_none() {
                        self.open = Some(self.tokens.text.len());
                    }
                }
            } else {
                // An apostrophe joins (`don't` is `dont`): the run pauses, the token goes on.
                self.copy_run(text, &mut run, i);
                if b != b'\'' && b != b'`' {
                    self.ascii(b);
                }
            }
        }
        self.copy_run(text, &mut run, text.len());
    }

    /// Appends `text[run..end]`, lower-cased, to the open token.
    fn copy_run(&mut self, text: &str, run: &mut Option<usize>, end: usize) {
        if let Some(start) = run.take() {
            let at = self.tokens.text.len();
            self.tokens
                .text
                .push_str(text.get(start..end).unwrap_or(""));
            if let Some(appended) = self.tokens.text.get_mut(at..) {
                appended.make_ascii_lowercase();
            }
        }
    }

    /// One character of a compatibility decomposition.
    fn decomposed(&mut self, c: char) {
        if let Ok(b) = u8::try_from(c)
            && b.is_ascii()
        {
            return self.ascii(b);
        }
        if is_invisible(c) || is_apostrophe(c) {
            return;
        }
        if c.is_whitespace() {
            self.space(c);
        } else if is_combining_mark(c) {
            // A mark with no letter before it (after an emoji, say) has nothing to attach to.
            if self.in_token() {
                self.widen();
                self.raw.push(c);
            }
        } else if c.is_alphanumeric() {
            let this = if c.is_numeric() {
                Class::Digit
            } else {
                Class::Letter
            };
            self.switch_class(this);
            self.widen();
            self.raw.push(c);
        } else {
            self.separator(c);
        }
    }
}

/// Splits text into tokens: runs of letters (or of digits), with a note of what separated
/// each from the previous one. Punctuation, quotes, symbols and emoji are dropped.
pub(super) fn tokenize(text: &str) -> Tokens {
    let mut tokens = Tokens::default();
    tokenize_into(text, &mut tokens, &mut String::new());
    tokens
}

/// [`tokenize`] into buffers kept from an earlier message (`raw` is scratch space).
pub(super) fn tokenize_into(text: &str, tokens: &mut Tokens, raw: &mut String) {
    tokens.text.clear();
    tokens.list.clear();
    raw.clear();
    tokens.text.reserve(text.len());
    let mut builder = Builder {
        tokens,
        raw,
        open: None,
        class: Class::Letter,
        pending: Glue::Space,
        pending_break: false,
    };
    if text.is_ascii() {
        builder.ascii_text(text);
    } else {
        for c in text.chars() {
            if let Ok(b) = u8::try_from(c)
                && b.is_ascii()
            {
                builder.ascii(b);
            } else if is_invisible(c) || is_apostrophe(c) {
                // Before decomposing: NFKD turns `´` into a space and a mark.
            } else {
                decompose_compatible(c, |d| builder.decomposed(d));
            }
        }
    }
    builder.flush();
    join_spelled_out(tokens);
}

/// Look-alike folding, lower-casing and accent removal for one (decomposed) word, appended
/// to `out`.
///
/// Look-alikes are folded only in a word made wholly of ASCII and look-alike letters
/// (`ЅТОР`, `SТOP` with a Cyrillic T): a real Russian or Greek word keeps its letters
/// (`Привет` stays `привет`) instead of coming out half-Latin. Folding happens before
/// lower-casing because a letter's case decides what it looks like. Accents are removed only
/// from Latin letters (`ARRÊT` = `ARRET`, `más` = `mas`): marks on other scripts carry
/// meaning a tenant's own keywords may depend on, and both sides of a comparison go through
/// this same function anyway.
fn finish_into(raw: &str, out: &mut String) {
    let start = out.len();
    let spoofed = raw.chars().any(|c| look_alike(c).is_some())
        && raw
            .chars()
            .all(|c| c.is_ascii() || is_combining_mark(c) || look_alike(c).is_some());
    let mut after_latin = false;
    let mut kept_mark = false;
    let mut push = |c: char, out: &mut String| {
        if is_combining_mark(c) {
            if !after_latin {
                out.push(c);
                kept_mark = true;
            }
        } else {
            out.push(c);
            after_latin = c.is_ascii_alphabetic();
        }
    };
    for c in raw.chars() {
        match look_alike(c).filter(|_| spoofed) {
            Some(latin) => push(latin, out),
            // Lower-casing can itself produce a mark (`İ` is `i` and a dot above).
            None => c.to_lowercase().for_each(|l| push(l, out)),
        }
    }
    // Recompose what is left (Hangul, marks on other scripts) so tokens read naturally;
    // a word that is already composed (every Latin word, once its accents are gone) is left
    // as it is.
    let word = out.get(start..).unwrap_or("");
    if kept_mark || is_nfc_quick(word.chars()) != IsNormalized::Yes {
        let composed: String = word.nfc().collect();
        out.truncate(start);
        out.push_str(&composed);
    }
}

/// `S.T.O.P.` and `s-t-o-p` are one word spelled out: runs of single characters held
/// together by punctuation become one token. Single letters separated by spaces (`S T O P`)
/// stay apart, since `I a m` is ordinary text; the matcher treats such runs separately.
/// Tokens lie back to back in the buffer, so joining one to the previous is widening it.
fn join_spelled_out(tokens: &mut Tokens) {
    let list = &mut tokens.list;
    let mut kept = 0usize;
    let mut run_len = 0usize;
    for i in 0..list.len() {
        let Some(token) = list.get(i).copied() else {
            break;
        };
        let joins = token.glue != Glue::Space && token.single;
        match kept.checked_sub(1).and_then(|last| list.get_mut(last)) {
            Some(last) if joins && run_len > 0 => {
                last.end = token.end;
                last.single = false;
                last.number = last.number && token.number;
                run_len += 1;
            }
            _ => {
                run_len = usize::from(token.single);
                if let Some(slot) = list.get_mut(kept) {
                    *slot = token;
                }
                kept += 1;
            }
        }
    }
    list.truncate(kept);
}

/// Renders tokens as the normalised string: words separated by one space, letters and
/// digits that were written together kept together (`stop2quit`).
pub(super) fn render(tokens: &Tokens, start: usize, end: usize) -> String {
    let mut out = String::new();
    for (i, token) in tokens.list.iter().enumerate().take(end).skip(start) {
        if i > start && token.glue != Glue::Script {
            out.push(' ');
        }
        out.push_str(tokens.text.get(token.start..token.end).unwrap_or(""));
    }
    out
}
