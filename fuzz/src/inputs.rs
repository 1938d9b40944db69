//! Generators of hostile input shared by the targets: text with the characters that break text
//! handling, bytes, JSON values, and mutations of genuine inputs (so a case gets past the first
//! check and into the code behind it). Mutations are lists of edits, so proptest shrinks a
//! failure to the fewest edits that still fail.

use std::fmt;

use proptest::collection::{btree_map, vec};
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::{Map, Number, Value};

/// Characters that break text handling: controls, invisibles, bidi marks, combining marks,
/// letters whose case mapping or NFKC form has another length, look-alikes of Latin letters,
/// digits of other scripts, emoji and their modifiers, quotes and separators.
pub const TRICKY: &[char] = &[
    '\0',
    '\t',
    '\n',
    '\r',
    '\u{b}',
    '\u{c}',
    '\u{1b}',
    '\u{7f}',
    '\u{85}',
    '\u{a0}',
    '\u{ad}',
    '\u{200b}',
    '\u{200c}',
    '\u{200d}',
    '\u{200e}',
    '\u{200f}',
    '\u{2028}',
    '\u{2029}',
    '\u{202e}',
    '\u{2060}',
    '\u{2066}',
    '\u{feff}',
    '\u{fffd}',
    '\u{fe0f}',
    '\u{e0073}',
    '\u{301}',
    '\u{308}',
    '\u{327}',
    '\u{20dd}',
    '\u{1ab0}',
    'İ',
    'ı',
    'ß',
    'ẞ',
    'ﬀ',
    'ﬅ',
    'ǅ',
    'ŉ',
    'ΐ',
    'Ω',
    '\u{212a}',
    '\u{212b}',
    'ς',
    'С',
    'Т',
    'О',
    'Р',
    'о',
    'р',
    'с',
    'Ѕ',
    'Ο',
    'Τ',
    'Ρ',
    'Ｓ',
    'Ｔ',
    'Ｏ',
    'Ｐ',
    'ｓ',
    '𝐒',
    '𝕊',
    'ⓢ',
    '🅂',
    '🆂',
    '١',
    '٣',
    '０',
    '𝟎',
    '½',
    '²',
    '⁰',
    'é',
    'ê',
    'è',
    'É',
    'ñ',
    'ç',
    'ü',
    'Æ',
    'œ',
    '😀',
    '🛑',
    '👍',
    '🇺',
    '🇸',
    '❤',
    '✋',
    '🏽',
    '\'',
    '’',
    '‘',
    '`',
    '"',
    '“',
    '”',
    '«',
    '»',
    '.',
    ',',
    '!',
    '?',
    '-',
    '_',
    '‐',
    '–',
    '—',
    '−',
    '/',
    '\\',
    '&',
    '%',
    '+',
    '=',
    '#',
    '@',
    ':',
    ';',
    '*',
    '(',
    ')',
    '<',
    '>',
    '[',
    ']',
    '{',
    '}',
    '|',
    '~',
    '中',
    '止',
    'ス',
    'ト',
    'ッ',
    'プ',
    'ا',
    'ل',
    'ע',
    '한',
    'ह',
    'ि',
    '\u{10ffff}',
    '\u{e000}',
    '\u{fff9}',
    '\u{1f3f4}',
    '\u{e0067}',
];

/// Byte strings that break parsers: JSON, form encoding, base64, UTF-8 and number edge cases.
const TRICKY_BYTES: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"null",
    b"true",
    b"1e999999",
    b"-",
    b"-0",
    b"0.0000000000000000000000001",
    b"18446744073709551616",
    b"-9223372036854775809",
    b"\\ud800",
    b"\\udfff",
    b"\\u0000",
    b"\\u00",
    b"%",
    b"%ZZ",
    b"%00",
    b"%F0%9F",
    b"%C3",
    b"%2B",
    b"&",
    b"=",
    b"&&==",
    b"+",
    b" ",
    b"\t",
    b"\r\n",
    b"\xff",
    b"\xc3",
    b"\xe2\x80",
    b"\xf0\x9f\x98",
    b"\xed\xa0\x80",
    b"\xef\xbb\xbf",
    b"\0",
    b"==",
    b"=",
    b"/",
    b"_",
    b"..",
    b"#",
    b"?",
    b";",
    b"<",
    b">",
    b"'",
    b"\n\n\n",
    b"\"\"",
    b"{}",
    b"[]",
];

/// Texts that mean something to some parser: numbers at the edges of their types, times at
/// the edges of theirs, phone numbers, keywords.
pub const TRICKY_TEXTS: &[&str] = &[
    "",
    " ",
    "0",
    "-1",
    "1",
    "-0",
    "+1",
    "9223372036854775807",
    "-9223372036854775808",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "4294967296",
    "65536",
    "256",
    "1e10",
    "NaN",
    "inf",
    "1795867380",
    "1795867380000",
    "2026-11-28T12:03:00Z",
    "2026-11-28T12:03:00.123456789+00:00",
    "2026-11-28T12:03:00+23:59",
    "2026-11-28T12:03:00-23:59",
    "2026-02-30T00:00:00Z",
    "9999-12-31T23:59:59.999999999Z",
    "0000-01-01T00:00:00Z",
    "+262143-12-31T23:59:59Z",
    "-262144-01-01T00:00:00Z",
    "2026-11-28 12:03:00",
    "2026-11-28",
    "11/28/2026 12:03:00 PM",
    "+14155550100",
    "+14155550142",
    "14155550100",
    "+442079460958",
    "(415) 555-0100",
    "+",
    "++",
    "+999999999999999",
    "+1234567890123456789012345",
    "STOP",
    "stop",
    "START",
    "HELP",
    "arrêt",
    "null",
    "true",
    "[]",
    "{}",
    "Basic ",
    "Basic Og==",
    "Basic OjpA",
    "Bearer ",
    "Bearer a.b.c",
    "Bearer ...",
    "Bearer eyJhbGciOiJub25lIn0.e30.",
    "sha256=",
    "t=,v1=",
    "HmacSHA256",
    "md5hash",
    "sha512",
    "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-stopgate-test.pem",
    "https://sns.us-east-1.amazonaws.com.evil/x.pem",
    "http://sns.us-east-1.amazonaws.com/x.pem",
    "arn:aws:sns:us-east-1:123456789012:stopgate-two-way-sms",
    "arn:aws:sns:::",
    "America/New_York",
    "Etc/GMT+14",
    "FL",
    "US-FL",
    "33101",
    "33101-1234",
    "ZZ",
];

/// Debug-printable bytes: a failing body is reported as an escaped byte string.
#[derive(Clone, PartialEq, Eq)]
pub struct Bytes(pub Vec<u8>);

impl fmt::Debug for Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "b\"{}\" ({} bytes)", self.0.escape_ascii(), self.0.len())
    }
}

/// ASCII in the order shrinking prefers: letters first, controls last.
const ASCII: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,-_'\"!?:;/\\&%+=#@*()[]{}<>|~^`$";

/// The character a generated `u16` stands for: 6 in 16 printable ASCII, 2 control characters,
/// 3 from [`TRICKY`], 1 Latin with diacritics, 4 anywhere in Unicode. One number per character
/// keeps generation cheap (a million cases of text) and shrinks towards `a`.
pub fn char_of(n: u16) -> char {
    let (class, i) = (n >> 12, usize::from(n & 0x0fff));
    let pick = |table: &[u8]| char::from(table[i % table.len()]);
    match class {
        0..=5 => pick(ASCII),
        6 | 7 => char::from_u32((i % 33) as u32)
            .map_or('\u{7f}', |c| if c == ' ' { '\u{7f}' } else { c }),
        8..=10 => TRICKY[i % TRICKY.len()],
        11 => char::from_u32(0x80 + (i % 0x1d0) as u32).unwrap_or('é'),
        _ => {
            let spread = u32::from(n - 0xc000) * 68 + 17;
            char::from_u32(spread).unwrap_or('\u{fffd}')
        }
    }
}

pub fn tricky_char() -> impl Strategy<Value = char> + Clone {
    any::<u16>().prop_map(char_of)
}

/// Up to `max` tricky characters.
pub fn text(max: usize) -> impl Strategy<Value = String> + Clone {
    vec(tricky_char(), 0..=max).prop_map(String::from_iter)
}

/// Arbitrary text: mostly short, sometimes long, sometimes a long repetition (long texts are
/// mostly repetitions: as hostile to a parser, far cheaper to generate a million of).
pub fn hostile_text() -> BoxedStrategy<String> {
    prop_oneof![
        10 => text(24),
        5 => select(TRICKY_TEXTS).prop_map(str::to_string),
        4 => text(160),
        1 => text(1000),
        1 => (text(16), 1..1000usize).prop_map(|(s, n)| s.repeat(n)),
    ]
    .boxed()
}

/// Arbitrary bytes: mostly short, sometimes long.
pub fn hostile_bytes() -> BoxedStrategy<Vec<u8>> {
    prop_oneof![
        6 => vec(any::<u8>(), 0..64),
        2 => vec(any::<u8>(), 0..512),
        1 => (vec(any::<u8>(), 0..32), 1..1000usize).prop_map(|(b, n)| b.repeat(n)),
        2 => hostile_text().prop_map(String::into_bytes),
    ]
    .boxed()
}

/// One edit of a text, at character boundaries.
#[derive(Debug, Clone)]
pub enum TextEdit {
    Insert(Index, char),
    InsertText(Index, String),
    Delete(Index),
    Replace(Index, char),
    /// Repeats the characters between two positions.
    Repeat(Index, Index, u8),
    Truncate(Index),
    Upper,
    Lower,
}

pub fn text_edit() -> impl Strategy<Value = TextEdit> {
    prop_oneof![
        3 => (any::<Index>(), tricky_char()).prop_map(|(i, c)| TextEdit::Insert(i, c)),
        2 => (any::<Index>(), select(TRICKY_TEXTS)).prop_map(|(i, s)| TextEdit::InsertText(i, s.to_string())),
        3 => any::<Index>().prop_map(TextEdit::Delete),
        3 => (any::<Index>(), tricky_char()).prop_map(|(i, c)| TextEdit::Replace(i, c)),
        1 => (any::<Index>(), any::<Index>(), 1..40u8).prop_map(|(a, b, n)| TextEdit::Repeat(a, b, n)),
        1 => any::<Index>().prop_map(TextEdit::Truncate),
        1 => Just(TextEdit::Upper),
        1 => Just(TextEdit::Lower),
    ]
}

/// Applies `edits` to `text`.
pub fn edit_text(text: &str, edits: &[TextEdit]) -> String {
    let mut chars: Vec<char> = text.chars().collect();
    for edit in edits {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match edit {
            TextEdit::Insert(i, c) => {
                let at = at(i, chars.len());
                chars.insert(at, *c);
            }
            TextEdit::InsertText(i, s) => {
                let at = at(i, chars.len());
                chars.splice(at..at, s.chars());
            }
            TextEdit::Delete(i) if !chars.is_empty() => {
                chars.remove(i.index(chars.len()));
            }
            TextEdit::Replace(i, c) if !chars.is_empty() => {
                let at = i.index(chars.len());
                chars[at] = *c;
            }
            TextEdit::Repeat(a, b, n) => {
                let (a, b) = (at(a, chars.len()), at(b, chars.len()));
                let (from, to) = (a.min(b), a.max(b));
                let span: Vec<char> = chars[from..to].to_vec();
                for _ in 0..*n {
                    chars.splice(to..to, span.iter().copied());
                }
            }
            TextEdit::Truncate(i) => {
                let at = at(i, chars.len());
                chars.truncate(at);
            }
            TextEdit::Upper => chars = chars.iter().flat_map(|c| c.to_uppercase()).collect(),
            TextEdit::Lower => chars = chars.iter().flat_map(|c| c.to_lowercase()).collect(),
            TextEdit::Delete(_) | TextEdit::Replace(..) => {}
        }
    }
    chars.into_iter().collect()
}

/// One of `bases`, edited a few times.
pub fn mutated_text(bases: Vec<String>) -> impl Strategy<Value = String> {
    (select(bases), vec(text_edit(), 0..6)).prop_map(|(base, edits)| edit_text(&base, &edits))
}

/// One edit of a byte string.
#[derive(Debug, Clone)]
pub enum ByteEdit {
    Insert(Index, u8),
    InsertBytes(Index, &'static [u8]),
    InsertText(Index, String),
    Delete(Index, u8),
    Replace(Index, u8),
    FlipBit(Index, u8),
    Repeat(Index, Index, u8),
    Truncate(Index),
}

fn byte_edit() -> impl Strategy<Value = ByteEdit> {
    prop_oneof![
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Insert(i, b)),
        3 => (any::<Index>(), select(TRICKY_BYTES)).prop_map(|(i, b)| ByteEdit::InsertBytes(i, b)),
        2 => (any::<Index>(), hostile_text()).prop_map(|(i, s)| ByteEdit::InsertText(i, s)),
        2 => (any::<Index>(), 1..16u8).prop_map(|(i, n)| ByteEdit::Delete(i, n)),
        2 => (any::<Index>(), any::<u8>()).prop_map(|(i, b)| ByteEdit::Replace(i, b)),
        2 => (any::<Index>(), 0..8u8).prop_map(|(i, b)| ByteEdit::FlipBit(i, b)),
        1 => (any::<Index>(), any::<Index>(), 1..20u8).prop_map(|(a, b, n)| ByteEdit::Repeat(a, b, n)),
        1 => any::<Index>().prop_map(ByteEdit::Truncate),
    ]
}

/// Applies `edits` to `bytes`.
pub fn edit_bytes(bytes: &[u8], edits: &[ByteEdit]) -> Vec<u8> {
    let mut out = bytes.to_vec();
    for edit in edits {
        let at = |i: &Index, len: usize| i.index(len + 1);
        match edit {
            ByteEdit::Insert(i, b) => {
                let at = at(i, out.len());
                out.insert(at, *b);
            }
            ByteEdit::InsertBytes(i, b) => {
                let at = at(i, out.len());
                out.splice(at..at, b.iter().copied());
            }
            ByteEdit::InsertText(i, s) => {
                let at = at(i, out.len());
                out.splice(at..at, s.bytes());
            }
            ByteEdit::Delete(i, n) if !out.is_empty() => {
                let from = i.index(out.len());
                let to = (from + usize::from(*n)).min(out.len());
                out.drain(from..to);
            }
            ByteEdit::Replace(i, b) if !out.is_empty() => {
                let at = i.index(out.len());
                out[at] = *b;
            }
            ByteEdit::FlipBit(i, bit) if !out.is_empty() => {
                let at = i.index(out.len());
                out[at] ^= 1 << (bit % 8);
            }
            ByteEdit::Repeat(a, b, n) => {
                let (a, b) = (at(a, out.len()), at(b, out.len()));
                let (from, to) = (a.min(b), a.max(b));
                let span = out[from..to].to_vec();
                for _ in 0..*n {
                    out.splice(to..to, span.iter().copied());
                }
            }
            ByteEdit::Truncate(i) => {
                let at = at(i, out.len());
                out.truncate(at);
            }
            ByteEdit::Delete(..) | ByteEdit::Replace(..) | ByteEdit::FlipBit(..) => {}
        }
    }
    out
}

/// One of `bases`, edited byte by byte.
pub fn mutated_bytes(bases: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (select(bases), vec(byte_edit(), 1..6)).prop_map(|(base, edits)| edit_bytes(&base, &edits))
}

/// A JSON leaf at the edges of what a field may hold.
fn json_leaf() -> impl Strategy<Value = Value> + Clone {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        1 => any::<f64>().prop_map(|f| Number::from_f64(f).map_or(Value::Null, Value::Number)),
        3 => select(TRICKY_TEXTS).prop_map(Value::from),
        3 => text(40).prop_map(Value::String),
        1 => text(400).prop_map(Value::String),
    ]
}

/// Field names the APIs and providers read, so generated objects reach their checks.
pub const FIELD_NAMES: &[&str] = &[
    "from",
    "to",
    "category",
    "program",
    "send_at",
    "purpose",
    "reply_to",
    "message_key",
    "location",
    "state",
    "zip",
    "time_zone",
    "checks",
    "phone",
    "cursor",
    "action",
    "level",
    "scope",
    "source",
    "evidence",
    "disclosure_text",
    "ip",
    "user_agent",
    "form_url",
    "document_ref",
    "agent",
    "occurred_at",
    "override_opt_out",
    "resolution",
    "note",
    "owner",
    "filename",
    "size",
    "data",
    "payload",
    "event_type",
    "text",
    "body",
    "id",
    "type",
    "time",
    "message",
    "Message",
    "Type",
    "TopicArn",
    "Timestamp",
    "Signature",
    "SigningCertURL",
    "SignatureVersion",
    "SubscribeURL",
    "MessageId",
    "uuid",
    "event",
    "subscriptionId",
    "msisdn",
    "messageId",
    "message-timestamp",
    "timestamp",
    "channel",
    "message_uuid",
    "originationNumber",
    "destinationNumber",
    "messageBody",
    "inboundMessageId",
    "messageKeyword",
    "direction",
    "received_at",
    "media",
    "number",
    "phone_number",
];

/// Any JSON value, nested a few levels, with keys the parsers look for.
pub fn json_value() -> impl Strategy<Value = Value> + Clone {
    json_leaf().prop_recursive(4, 48, 6, |inner| {
        prop_oneof![
            vec(inner.clone(), 0..6).prop_map(Value::Array),
            btree_map(json_key(), inner, 0..6)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<String, Value>>())),
        ]
    })
}

fn json_key() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => select(FIELD_NAMES).prop_map(str::to_string),
        1 => text(12),
    ]
}

/// One edit of a JSON document, at a node picked by index in pre-order.
#[derive(Debug, Clone)]
pub enum JsonEdit {
    Replace(Index, Value),
    Remove(Index),
    Insert(Index, String, Value),
}

fn json_edit() -> impl Strategy<Value = JsonEdit> {
    prop_oneof![
        4 => (any::<Index>(), json_value()).prop_map(|(i, v)| JsonEdit::Replace(i, v)),
        2 => any::<Index>().prop_map(JsonEdit::Remove),
        2 => (any::<Index>(), json_key(), json_value()).prop_map(|(i, k, v)| JsonEdit::Insert(i, k, v)),
    ]
}

/// JSON pointers of every node of `value`, in pre-order.
fn pointers(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let child = format!("{at}/{}", k.replace('~', "~0").replace('/', "~1"));
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                let child = format!("{at}/{i}");
                out.push(child.clone());
                pointers(v, child, out);
            }
        }
        _ => {}
    }
}

/// Applies `edits` to `value`.
pub fn edit_json(mut value: Value, edits: &[JsonEdit]) -> Value {
    for edit in edits {
        let mut all = vec![String::new()];
        pointers(&value, String::new(), &mut all);
        let pick = |i: &Index| all.get(i.index(all.len())).cloned().unwrap_or_default();
        match edit {
            JsonEdit::Replace(i, new) => {
                if let Some(node) = value.pointer_mut(&pick(i)) {
                    *node = new.clone();
                }
            }
            JsonEdit::Remove(i) => {
                let pointer = pick(i);
                let Some((parent, last)) = pointer.rsplit_once('/') else {
                    continue;
                };
                let key = last.replace("~1", "/").replace("~0", "~");
                match value.pointer_mut(parent) {
                    Some(Value::Object(map)) => {
                        map.remove(&key);
                    }
                    Some(Value::Array(items)) => {
                        if let Ok(n) = key.parse::<usize>()
                            && n < items.len()
                        {
                            items.remove(n);
                        }
                    }
                    _ => {}
                }
            }
            JsonEdit::Insert(i, key, new) => match value.pointer_mut(&pick(i)) {
                Some(Value::Object(map)) => {
                    map.insert(key.clone(), new.clone());
                }
                Some(Value::Array(items)) => items.push(new.clone()),
                _ => {}
            },
        }
    }
    value
}

/// One of `bases` (JSON documents) edited as JSON: fields replaced, removed, added. With
/// `nested`, the edits may go into a string field that holds JSON itself (Amazon SNS's
/// `Message`), which is then written back as a string.
pub fn mutated_json(bases: Vec<Value>) -> impl Strategy<Value = Vec<u8>> {
    (
        select(bases),
        vec(json_edit(), 1..4),
        proptest::option::weighted(0.3, any::<Index>()),
    )
        .prop_map(|(base, edits, nested)| {
            let value = match nested {
                Some(pick) => edit_nested(base, &edits, &pick),
                None => edit_json(base, &edits),
            };
            serde_json::to_vec(&value).unwrap_or_default()
        })
}

fn edit_nested(mut value: Value, edits: &[JsonEdit], pick: &Index) -> Value {
    let mut all = Vec::new();
    pointers(&value, String::new(), &mut all);
    let nested: Vec<String> = all
        .into_iter()
        .filter(|p| {
            value
                .pointer(p)
                .and_then(Value::as_str)
                .and_then(|s| serde_json::from_str::<Value>(s).ok())
                .is_some_and(|v| v.is_object() || v.is_array())
        })
        .collect();
    if nested.is_empty() {
        return edit_json(value, edits);
    }
    let pointer = &nested[pick.index(nested.len())];
    if let Some(node) = value.pointer_mut(pointer)
        && let Some(inner) = node
            .as_str()
            .and_then(|s| serde_json::from_str::<Value>(s).ok())
    {
        *node = Value::String(edit_json(inner, edits).to_string());
    }
    value
}

/// `application/x-www-form-urlencoded` bytes of `pairs`.
pub fn form_encode(pairs: &[(String, String)]) -> Vec<u8> {
    let mut out = String::new();
    for (i, (k, v)) in pairs.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(&percent_encode(k));
        out.push('=');
        out.push_str(&percent_encode(v));
    }
    out.into_bytes()
}

fn percent_encode(s: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'*') {
            out.push(char::from(b));
        } else if b == b' ' {
            out.push('+');
        } else {
            out.push('%');
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
    }
    out
}

/// The pairs of a form body (undecoded: the edits work on the text as sent).
fn form_pairs(body: &[u8]) -> Vec<(String, String)> {
    String::from_utf8_lossy(body)
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |b: u8| char::from(b).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        out.extend(u8::try_from(high * 16 + low).ok());
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One edit of a form body: a value replaced, a pair removed, duplicated or added.
#[derive(Debug, Clone)]
pub enum FormEdit {
    Value(Index, String),
    Remove(Index),
    Duplicate(Index, String),
    Add(String, String),
}

fn form_edit() -> impl Strategy<Value = FormEdit> {
    prop_oneof![
        4 => (any::<Index>(), hostile_text()).prop_map(|(i, v)| FormEdit::Value(i, v)),
        2 => any::<Index>().prop_map(FormEdit::Remove),
        1 => (any::<Index>(), hostile_text()).prop_map(|(i, v)| FormEdit::Duplicate(i, v)),
        1 => (json_key(), hostile_text()).prop_map(|(k, v)| FormEdit::Add(k, v)),
    ]
}

/// One of `bases` (form bodies) with values replaced, pairs removed, duplicated or added.
pub fn mutated_form(bases: Vec<Vec<u8>>) -> impl Strategy<Value = Vec<u8>> {
    (select(bases), vec(form_edit(), 1..4)).prop_map(|(base, edits)| {
        let mut pairs = form_pairs(&base);
        for edit in &edits {
            match edit {
                FormEdit::Value(i, v) if !pairs.is_empty() => {
                    let at = i.index(pairs.len());
                    pairs[at].1 = v.clone();
                }
                FormEdit::Remove(i) if !pairs.is_empty() => {
                    pairs.remove(i.index(pairs.len()));
                }
                FormEdit::Duplicate(i, v) if !pairs.is_empty() => {
                    let key = pairs[i.index(pairs.len())].0.clone();
                    pairs.push((key, v.clone()));
                }
                FormEdit::Add(k, v) => pairs.push((k.clone(), v.clone())),
                FormEdit::Value(..) | FormEdit::Remove(_) | FormEdit::Duplicate(..) => {}
            }
        }
        form_encode(&pairs)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;

    /// An `Index` that picks position `n` of `size` (proptest makes them only at random).
    fn index_at(n: usize, size: usize) -> Index {
        let mut runner = TestRunner::deterministic();
        loop {
            let index = any::<Index>().new_tree(&mut runner).unwrap().current();
            if index.index(size) == n {
                return index;
            }
        }
    }

    #[test]
    fn edits_apply_at_char_boundaries() {
        // Deletions pick one of the chars; insertions and cuts one of the len + 1 gaps.
        let delete = TextEdit::Delete(index_at(3, 5));
        assert_eq!(edit_text("arrêt", &[delete]), "arrt");
        assert_eq!(
            edit_text("ab", &[TextEdit::Insert(index_at(1, 3), 'é')]),
            "aéb"
        );
        assert_eq!(edit_text("İ", &[TextEdit::Lower]).chars().count(), 2);
        assert_eq!(
            edit_bytes(b"abc", &[ByteEdit::Truncate(index_at(1, 4))]),
            b"a"
        );
    }

    #[test]
    fn json_edits_reach_nested_fields() {
        let base = serde_json::json!({"a": {"b": 1}, "c": [1, 2]});
        let mut all = vec![String::new()];
        pointers(&base, String::new(), &mut all);
        assert_eq!(all, ["", "/a", "/a/b", "/c", "/c/0", "/c/1"]);
        let edited = edit_json(base.clone(), &[JsonEdit::Remove(index_at(2, all.len()))]);
        assert_eq!(edited, serde_json::json!({"a": {}, "c": [1, 2]}));
    }

    #[test]
    fn forms_round_trip() {
        let pairs = form_pairs(b"To=%2B14155550100&Body=STOP+now&Empty=&Bad=%ZZ");
        assert_eq!(pairs[0], ("To".to_string(), "+14155550100".to_string()));
        assert_eq!(pairs[1].1, "STOP now");
        assert_eq!(pairs[3].1, "%ZZ");
        assert_eq!(form_pairs(&form_encode(&pairs)), pairs);
    }
}
