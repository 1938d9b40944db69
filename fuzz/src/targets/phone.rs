//! `phone`: every public way in to phone number parsing (shared/src/phone.rs: `normalize` in both
//! modes with any default region, `E164::parse_e164`, `E164::from_stored`, and `mask::phone`,
//! which logs whatever a provider sent as a number) over arbitrary text, digit-heavy text and
//! mutations of real numbers.
//! Properties: no panic; a number read is canonical E.164 that strict parsing and storage read
//! back unchanged, with a known country code; a mask shows at most the last two digits.

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use stopgate::mask;
use stopgate::phone::{E164, PhoneMode, normalize};

use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{hostile_text, mutated_text, text};

const NUMBERS: &[&str] = &[
    "+14155550100",
    "(415) 555-0100",
    "415.555.0100",
    "1 (415) 555-0100",
    "+1 415 555 0100",
    "+44 20 7946 0958",
    "+44 (0)20 7946 0958",
    "020 7946 0958",
    "011 44 20 7946 0958",
    "+44 7911 123456",
    "06 12 34 56 78",
    "030/123456",
    "+1 800 555 0100",
    "+80012345678",
    "+35312345678",
    "+8613800138000",
    "+999123456789",
    "+4402079460958",
    "+1\u{a0}415\u{a0}555\u{a0}0100",
    "415\u{2013}555\u{2013}0100",
    "+390612345678",
    "+61 2 9374 4000",
    "+7 495 123-45-67",
    "+91 98765 43210",
    "+55 11 91234-5678",
    "+81 3-1234-5678",
    "+1 242 555 0100",
    "+882 1234 5678",
    "+979 123456789",
    "+0 123",
    "00",
];

const REGIONS: &[&str] = &[
    "US", "us", "GB", "gb", "FR", "DE", "CA", "BR", "IN", "CN", "JP", "IT", "RU", "AU", "001",
    "XX", "", "U", "USA", "ZZ", "UN",
];

#[derive(Debug, Clone)]
struct Case {
    input: String,
    region: String,
    strict: bool,
}

/// Characters numbers are written with, and look-alikes of digits.
const PUNCTUATION: &[char] = &[
    '+', '(', ')', '-', '.', ' ', '/', '\u{2013}', '\u{2212}', '\u{a0}', '\u{3000}', '\t', '\n',
    'x', 'e', '#', '*', ';', ',',
];
const EXOTIC: &[char] = &[
    '\u{ff11}', '٣', '۴', '𝟎', '१', '¹', '①', '\u{200b}', '\u{feff}',
];

/// Digits and the characters numbers are written with, in any order (one byte per character
/// keeps a million of them cheap; shrinking goes towards `0`).
fn digit_heavy() -> impl Strategy<Value = String> {
    vec(any::<u8>(), 0..70).prop_map(|bytes| {
        bytes
            .into_iter()
            .map(|b| match b {
                0..=159 => char::from(b'0' + b % 10),
                160..=223 => PUNCTUATION[usize::from(b) % PUNCTUATION.len()],
                _ => EXOTIC[usize::from(b) % EXOTIC.len()],
            })
            .collect()
    })
}

fn case() -> impl Strategy<Value = Case> {
    (
        prop_oneof![
            3 => hostile_text(),
            4 => digit_heavy(),
            4 => mutated_text(NUMBERS.iter().map(|s| s.to_string()).collect()),
        ],
        prop_oneof![
            6 => select(REGIONS).prop_map(str::to_string),
            1 => text(4),
        ],
        any::<bool>(),
    )
        .prop_map(|(input, region, strict)| Case {
            input,
            region,
            strict,
        })
}

/// A number this module hands out: canonical, read back unchanged, masked.
fn canonical(number: &E164, how: &str) -> Verdict {
    let s = number.as_str();
    let digits = s.strip_prefix('+').unwrap_or("");
    if digits.is_empty() || digits.len() > 15 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{how} gave {s:?}, not E.164"));
    }
    if E164::parse_e164(s).as_ref() != Ok(number) {
        return Err(format!(
            "{how} gave {s:?}, which strict parsing reads as {:?}",
            E164::parse_e164(s)
        ));
    }
    if E164::from_stored(s).as_ref() != Some(number) {
        return Err(format!(
            "{how} gave {s:?}, which storage does not read back"
        ));
    }
    if number.country_calling_code().is_none() {
        return Err(format!("{how} gave {s:?}, without a known country code"));
    }
    masked(&number.masked(), s)
}

/// A mask shows the country code and the last two characters at most.
fn masked(mask: &str, number: &str) -> Verdict {
    let shown = mask.split("***").nth(1).unwrap_or("");
    if !mask.contains("***") || shown.chars().count() > 2 {
        return Err(format!("{number:?} masked as {mask:?}"));
    }
    Ok(())
}

fn property(case: Case) -> Verdict {
    let mode = if case.strict {
        PhoneMode::StrictE164
    } else {
        PhoneMode::Lenient
    };
    if let Ok(number) = normalize(&case.input, &case.region, mode) {
        canonical(&number, "normalize")?;
    }
    if let Ok(number) = E164::parse_e164(&case.input) {
        canonical(&number, "parse_e164")?;
        if number.as_str() != case.input {
            return Err(format!("parse_e164 changed the input to {number:?}"));
        }
    }
    if let Some(number) = E164::from_stored(&case.input) {
        let _ = number.country_calling_code();
        masked(&number.masked(), &case.input)?;
    }
    masked(&mask::phone(&case.input), &case.input)
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    check(runner, case(), property)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_numbers_hold_the_properties() {
        for input in NUMBERS {
            for region in REGIONS {
                for strict in [false, true] {
                    let case = Case {
                        input: input.to_string(),
                        region: region.to_string(),
                        strict,
                    };
                    assert_eq!(property(case.clone()), Ok(()), "{case:?}");
                }
            }
        }
    }
}
