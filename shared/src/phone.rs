//! E.164 normalisation and validation. Pure.
//!
//! Numbers are validated against the numbering-plan metadata of the `phonenumber` crate
//! (libphonenumber's data): the country code must exist, the length must be possible and the
//! digits must fit the country's number patterns (for NANP: an assigned area code followed by
//! an exchange starting 2-9). The metadata does not model which numbers a carrier has actually
//! assigned, so the NANPA fictional range 555-0100..555-0199 (`+1 415 555 0100`) and Ofcom's
//! drama range `020 7946 0xxx` are valid here, as they are for every libphonenumber user. We do
//! not special-case them: examples, tests and demos rely on them, and a ledger gains nothing
//! from refusing to record a STOP from a number it believes cannot exist. (Ofcom's *mobile*
//! drama range `07700 900xxx` is rejected by the metadata itself.)
//!
//! Memory and time, measured with `cargo run --release -p stopgate --example phone_memory`
//! (workspace release profile, Linux x86_64, phonenumber 0.3.10+9.0.33; peak RSS is VmHWM,
//! ranges are over three runs):
//!
//! | point                                                    | peak RSS       |
//! |----------------------------------------------------------|----------------|
//! | before the first parse                                   | 3.1-3.3 MiB    |
//! | after the first parse (which took 95-145 ms)             | 9.4-9.5 MiB    |
//! | after 5,000 numbers from 5 regions (12-23 µs each)       | 16.1-16.3 MiB  |
//! | after the example numbers of every region (489 numbers)  | 24.3-25.0 MiB  |
//!
//! The first parse deserialises the crate's whole metadata database (~6 MiB; a cold start
//! pays its ~0.1 s). After that, memory follows the number of distinct regions whose patterns
//! the crate has compiled (its regex cache), not the number of parses: 50,000 numbers from the
//! same 5 regions grew it by 7.8 MiB against 6.8 MiB for 5,000, and every region at once costs
//! about 21 MiB over the baseline. The 0.4 series is avoided because of a reported memory
//! blow-up.

use std::fmt;

use phonenumber::metadata::DATABASE;
use phonenumber::{Mode, ParseError, PhoneNumber, Type, country};
use serde::{Deserialize, Serialize};

/// Inputs longer than this are refused before the crate sees them: no real number, however
/// formatted, comes close, and the crate's parser is regex-based.
const MAX_INPUT_CHARS: usize = 64;

/// E.164 allows at most 15 digits, country code included.
const MAX_E164_DIGITS: usize = 15;

/// A phone number in E.164 form: `+` followed by the country code and the national number.
/// Its `Debug` form is masked, so a number never reaches a log line by accident.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct E164(String);

impl fmt::Debug for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "E164({})", self.masked())
    }
}

/// How strictly [`normalize`] reads its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PhoneMode {
    /// Common human formats: `(415) 555-0100`, `415.555.0100`, `+44 20 7946 0958`; numbers
    /// without `+` are read in the default region.
    #[default]
    Lenient,
    /// Only `+` and digits already in E.164 form, e.g. `+14155550100`.
    StrictE164,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error(
        "not a phone number: use digits, optionally grouped with spaces, ( ) - . or /, \
         and a leading + for international numbers, e.g. +1 415 555 0100"
    )]
    NotANumber,
    #[error("phone number is too short")]
    TooShort,
    #[error("phone number is too long: E.164 numbers have at most 15 digits")]
    TooLong,
    #[error("unknown country calling code: check the digits after +")]
    UnknownCountryCode,
    #[error(
        "not a valid number in its country's numbering plan: check the area code, or add + \
         and the country code if the number is from another country"
    )]
    InvalidForRegion,
    #[error(
        "not in E.164 form: expected + then the country code and number, with no spaces, \
         punctuation or trunk prefix, e.g. +14155550100"
    )]
    NotE164,
    #[error("unknown default region {0:?}: use an ISO 3166 alpha-2 code such as \"US\"")]
    UnknownRegion(String),
}

/// Reads `input` as a phone number and returns it in E.164 form.
///
/// `default_region` (ISO 3166 alpha-2, any case) is how a number without `+` is read in
/// [`PhoneMode::Lenient`]; it is checked in both modes so that a misconfigured region is
/// reported even while every input happens to carry its `+`.
pub fn normalize(input: &str, default_region: &str, mode: PhoneMode) -> Result<E164, PhoneError> {
    let region: country::Id = default_region
        .to_ascii_uppercase()
        .parse()
        .map_err(|_| PhoneError::UnknownRegion(default_region.to_string()))?;
    match mode {
        PhoneMode::Lenient => normalize_lenient(input, region),
        PhoneMode::StrictE164 => E164::parse_e164(input),
    }
}

impl E164 {
    /// A number this system stored itself (a table key): checked for shape only, because a
    /// later numbering-plan update must not make recorded numbers unreadable.
    pub fn from_stored(value: &str) -> Option<E164> {
        let digits = value.strip_prefix('+')?;
        (!digits.is_empty() && digits.len() <= 15 && digits.bytes().all(|b| b.is_ascii_digit()))
            .then(|| E164(value.to_string()))
    }

    /// Accepts only a number already in E.164 form (still validated against the numbering
    /// plan).
    pub fn parse_e164(input: &str) -> Result<E164, PhoneError> {
        check_size(input)?;
        let digits = input.strip_prefix('+').ok_or(PhoneError::NotE164)?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(PhoneError::NotE164);
        }
        if digits.len() > MAX_E164_DIGITS {
            return Err(PhoneError::TooLong);
        }
        let number = validated(input, None)?;
        // The crate forgives a trunk prefix after the country code (`+4402079460958`);
        // strict mode exists to refuse anything that is not already canonical.
        if number.as_str() != input {
            return Err(PhoneError::NotE164);
        }
        Ok(number)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The number as it may appear in logs: `+1***00` (country code and last two digits).
    pub fn masked(&self) -> String {
        crate::mask::phone(&self.0)
    }

    /// The country calling code (`1` for `+14155550100`, `44` for `+442079460958`), or `None`
    /// for a value that did not come from this module (e.g. deserialised).
    pub fn country_calling_code(&self) -> Option<u16> {
        let digits = self.0.strip_prefix('+')?;
        // Calling codes are a prefix code (no code is the start of another), so the first
        // known prefix is the only one.
        (1..=3)
            .filter_map(|len| digits.get(..len)?.parse::<u16>().ok())
            .find(|code| DATABASE.region(code).is_some())
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn normalize_lenient(input: &str, region: country::Id) -> Result<E164, PhoneError> {
    let input = input.trim();
    check_size(input)?;
    let compact = compact(input)?;
    // With a `+` the region is irrelevant, and passing it anyway makes the crate keep a
    // foreign trunk prefix: `+44 (0)20 7946 0958` would become `+4402079460958`.
    let region = if compact.starts_with('+') {
        None
    } else {
        Some(region)
    };
    validated(&compact, region)
}

fn check_size(input: &str) -> Result<(), PhoneError> {
    if input.is_empty() {
        Err(PhoneError::Empty)
    } else if input.chars().count() > MAX_INPUT_CHARS {
        Err(PhoneError::TooLong)
    } else {
        Ok(())
    }
}

/// Reduces a human-formatted number to an optional `+` and its digits.
///
/// Letters are refused rather than passed on: the crate would read `1-800-FLOWERS` as a
/// vanity number and `x12` as an extension, neither of which can receive an SMS. Keeping the
/// crate's input to `+` and digits also keeps it away from its RFC 3966 (`tel:`) parser,
/// which has had panics on crafted input.
fn compact(input: &str) -> Result<String, PhoneError> {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '0'..='9' => out.push(c),
            '+' if out.is_empty() => out.push(c),
            '(' | ')' | '-' | '.' | '/' => {}
            // Hyphens, dashes and the minus sign that word processors substitute for `-`.
            '\u{2010}'..='\u{2015}' | '\u{2212}' => {}
            c if c.is_whitespace() => {}
            _ => return Err(PhoneError::NotANumber),
        }
    }
    if !out.contains(|c: char| c.is_ascii_digit()) {
        return Err(PhoneError::NotANumber);
    }
    Ok(out)
}

/// Parses a compacted number with the crate and keeps it only if the metadata says valid.
fn validated(compact: &str, region: Option<country::Id>) -> Result<E164, PhoneError> {
    let number = phonenumber::parse(region, compact).map_err(|e| match e {
        ParseError::NoNumber | ParseError::TooShortAfterIdd | ParseError::TooShortNsn => {
            PhoneError::TooShort
        }
        ParseError::TooLong => PhoneError::TooLong,
        ParseError::InvalidCountryCode => PhoneError::UnknownCountryCode,
        ParseError::MalformedInteger(_) => PhoneError::NotANumber,
    })?;
    let e164 = number.format().mode(Mode::E164).to_string();
    // The numbering plans allow some national numbers (German fixed lines, up to 15 digits)
    // that no country code leaves room for in E.164: such a number could not be stored.
    if e164.len() - 1 > MAX_E164_DIGITS {
        return Err(PhoneError::TooLong);
    }
    if !number.is_valid() {
        return Err(why_invalid(&number, &e164));
    }
    Ok(E164(e164))
}

/// The kinds of number whose lengths bound a country's valid numbers (short codes and
/// emergency numbers are not E.164 numbers).
const NUMBER_KINDS: [Type; 10] = [
    Type::FixedLine,
    Type::Mobile,
    Type::TollFree,
    Type::PremiumRate,
    Type::SharedCost,
    Type::PersonalNumber,
    Type::Voip,
    Type::Pager,
    Type::Uan,
    Type::Voicemail,
];

/// Turns the crate's yes/no validity into the most useful error: a wrong length is something
/// the user can see and fix, a wrong pattern (unassigned area code) less so.
fn why_invalid(number: &PhoneNumber, e164: &str) -> PhoneError {
    let code = number.code().value();
    let national_len = e164.len().saturating_sub(1 + code.to_string().len());
    // The crate leaves the general descriptor's lengths empty, so gather them per kind.
    let lengths: Vec<usize> = DATABASE
        .by_code(&code)
        .and_then(|regions| regions.first().copied())
        .map(|meta| {
            NUMBER_KINDS
                .iter()
                .filter_map(|&kind| meta.descriptors().get(kind))
                .flat_map(|descriptor| descriptor.possible_length().iter().map(|&n| usize::from(n)))
                .collect()
        })
        .unwrap_or_default();
    match (lengths.iter().min(), lengths.iter().max()) {
        (Some(&min), _) if national_len < min => PhoneError::TooShort,
        (_, Some(&max)) if national_len > max => PhoneError::TooLong,
        _ => PhoneError::InvalidForRegion,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e164(s: &str) -> E164 {
        E164(s.to_string())
    }

    #[test]
    fn lenient_accepts_common_formats() {
        let cases = [
            ("(415) 555-0100", "US", "+14155550100"),
            ("415.555.0100", "US", "+14155550100"),
            ("415-555-0199", "US", "+14155550199"),
            ("4155550100", "US", "+14155550100"),
            ("1 (415) 555-0100", "US", "+14155550100"),
            ("+1 415 555 0100", "US", "+14155550100"),
            ("+1 (415) 555-0100", "GB", "+14155550100"),
            ("  +1 415 555 0100\n", "US", "+14155550100"),
            ("+1\u{a0}415\u{a0}555\u{a0}0100", "US", "+14155550100"),
            ("415\u{2013}555\u{2013}0100", "US", "+14155550100"),
            ("+44 20 7946 0958", "US", "+442079460958"),
            ("+44 (0)20 7946 0958", "US", "+442079460958"),
            ("(+44) 20 7946 0958", "US", "+442079460958"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("020 7946 0958", "gb", "+442079460958"),
            ("011 44 20 7946 0958", "US", "+442079460958"),
            ("+44 7911 123456", "US", "+447911123456"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("030/123456", "DE", "+4930123456"),
            ("+1 800 555 0100", "US", "+18005550100"),
        ];
        for (input, region, want) in cases {
            assert_eq!(
                normalize(input, region, PhoneMode::Lenient),
                Ok(e164(want)),
                "{input:?} in {region}"
            );
        }
    }

    #[test]
    fn lenient_rejects_what_is_not_a_valid_number() {
        let long_input = "1".repeat(65);
        let cases = [
            ("", "US", PhoneError::Empty),
            ("   ", "US", PhoneError::Empty),
            ("abc", "US", PhoneError::NotANumber),
            ("1-800-FLOWERS", "US", PhoneError::NotANumber),
            ("+14155550100abc", "US", PhoneError::NotANumber),
            ("415 555 0100 ext 12", "US", PhoneError::NotANumber),
            ("tel:+1-415-555-0100", "US", PhoneError::NotANumber),
            (
                "+1 415 555 0100;phone-context=+1",
                "US",
                PhoneError::NotANumber,
            ),
            ("1+4155550100", "US", PhoneError::NotANumber),
            ("++14155550100", "US", PhoneError::NotANumber),
            ("()-./", "US", PhoneError::NotANumber),
            (
                "\u{ff11}\u{ff14}\u{ff11}\u{ff15}",
                "US",
                PhoneError::NotANumber,
            ),
            ("+", "US", PhoneError::NotANumber),
            ("12", "US", PhoneError::TooShort),
            ("+12", "US", PhoneError::TooShort),
            ("415555010", "US", PhoneError::TooShort),
            ("41555501000", "US", PhoneError::TooLong),
            ("+1 415 555 0100 12", "US", PhoneError::TooLong),
            ("4155550100 4155550100", "US", PhoneError::TooLong),
            // Valid in Germany's plan, but 17 digits with its country code.
            ("(415(415(415(415(415)", "DE", PhoneError::TooLong),
            ("0415 415 415 415 415", "DE", PhoneError::TooLong),
            (long_input.as_str(), "US", PhoneError::TooLong),
            ("+999 1234 5678", "US", PhoneError::UnknownCountryCode),
            ("+1 123 555 0100", "US", PhoneError::InvalidForRegion),
            ("+1 200 555 0100", "US", PhoneError::InvalidForRegion),
            ("(415) 055-0100", "US", PhoneError::InvalidForRegion),
            ("07700 900123", "GB", PhoneError::InvalidForRegion),
        ];
        for (input, region, want) in cases {
            assert_eq!(
                normalize(input, region, PhoneMode::Lenient),
                Err(want.clone()),
                "{input:?} in {region}"
            );
        }
    }

    #[test]
    fn size_is_checked_before_the_crate_sees_the_input() {
        // 64 characters of formatting around a real number are still fine; 65 are not.
        let padded = format!("{:>64}", "+1 415 555 0100");
        assert_eq!(
            normalize(&padded, "US", PhoneMode::Lenient),
            Ok(e164("+14155550100"))
        );
        let too_long = format!("{}{}", "-".repeat(50), "+1 415 555 0100");
        assert_eq!(
            normalize(&too_long, "US", PhoneMode::Lenient),
            Err(PhoneError::TooLong)
        );
        assert_eq!(
            normalize(&"9".repeat(10_000), "US", PhoneMode::Lenient),
            Err(PhoneError::TooLong)
        );
    }

    #[test]
    fn strict_accepts_only_canonical_e164() {
        let accepted = [
            ("+14155550100", "+14155550100"),
            ("+442079460958", "+442079460958"),
            ("+33612345678", "+33612345678"),
        ];
        for (input, want) in accepted {
            assert_eq!(
                normalize(input, "US", PhoneMode::StrictE164),
                Ok(e164(want)),
                "{input:?}"
            );
        }
        let rejected = [
            ("", PhoneError::Empty),
            ("14155550100", PhoneError::NotE164),
            ("(415) 555-0100", PhoneError::NotE164),
            ("+1 415 555 0100", PhoneError::NotE164),
            ("+1-415-555-0100", PhoneError::NotE164),
            (" +14155550100", PhoneError::NotE164),
            ("+", PhoneError::NotE164),
            ("+4402079460958", PhoneError::NotE164),
            ("+1234567890123456", PhoneError::TooLong),
            ("+12", PhoneError::TooShort),
            ("+999123456789", PhoneError::UnknownCountryCode),
            ("+11235550100", PhoneError::InvalidForRegion),
            ("+1415555010", PhoneError::TooShort),
        ];
        for (input, want) in rejected {
            assert_eq!(
                normalize(input, "US", PhoneMode::StrictE164),
                Err(want.clone()),
                "{input:?}"
            );
        }
    }

    #[test]
    fn parse_e164_is_strict_mode_without_a_region() {
        assert_eq!(E164::parse_e164("+442079460958"), Ok(e164("+442079460958")));
        assert_eq!(E164::parse_e164("020 7946 0958"), Err(PhoneError::NotE164));
    }

    #[test]
    fn unknown_region_is_reported_in_both_modes() {
        for mode in [PhoneMode::Lenient, PhoneMode::StrictE164] {
            assert_eq!(
                normalize("+14155550100", "XX", mode),
                Err(PhoneError::UnknownRegion("XX".to_string()))
            );
            assert_eq!(
                normalize("+14155550100", "001", mode),
                Err(PhoneError::UnknownRegion("001".to_string()))
            );
        }
    }

    #[test]
    fn accessors_display_and_mask() {
        let number = e164("+14155550100");
        assert_eq!(number.as_str(), "+14155550100");
        assert_eq!(number.to_string(), "+14155550100");
        assert_eq!(number.masked(), "+1***00");
    }

    #[test]
    fn country_calling_code_is_the_known_prefix() {
        let cases = [
            ("+14155550100", Some(1)),
            ("+442079460958", Some(44)),
            ("+33612345678", Some(33)),
            ("+35312345678", Some(353)),
            ("+80012345678", Some(800)),
            ("14155550100", None),
            ("+", None),
        ];
        for (number, want) in cases {
            assert_eq!(e164(number).country_calling_code(), want, "{number}");
        }
    }

    #[test]
    fn serde_is_a_plain_string() {
        let number = e164("+14155550100");
        assert_eq!(
            serde_json::to_string(&number).ok().as_deref(),
            Some("\"+14155550100\"")
        );
        assert_eq!(
            serde_json::from_str::<E164>("\"+14155550100\"").ok(),
            Some(number)
        );
        assert_eq!(
            serde_json::to_string(&PhoneMode::StrictE164)
                .ok()
                .as_deref(),
            Some("\"strict_e164\"")
        );
        assert_eq!(
            serde_json::from_str::<PhoneMode>("\"lenient\"").ok(),
            Some(PhoneMode::Lenient)
        );
        assert_eq!(PhoneMode::default(), PhoneMode::Lenient);
    }

    #[test]
    fn errors_tell_the_user_what_to_do() {
        assert!(PhoneError::NotE164.to_string().contains("+14155550100"));
        assert!(
            PhoneError::UnknownRegion("XX".into())
                .to_string()
                .contains("\"US\"")
        );
        assert!(PhoneError::TooLong.to_string().contains("15 digits"));
    }
}
