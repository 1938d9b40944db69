//! `cursors`: the pagination cursor decoder (shared/src/api/cursor.rs) over arbitrary strings,
//! genuine cursors of every position type (history, opt-out changes, reviews) mutated, and
//! genuine cursors presented for another tenant or query.
//! Properties: no panic; a genuine cursor opens to its position for its own binding only;
//! anything else (tampered, forged, rebound) is refused with a 400 `invalid_cursor` naming
//! `cursor`, as the APIs answer it.

use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use serde::Serialize;
use serde::de::DeserializeOwned;
use stopgate::api::ApiError;
use stopgate::api::cursor::Cursors;
use stopgate::store::history::{ChangeKey, ChangePosition, HistoryPosition};
use stopgate::store::reviews::ReviewPosition;

use super::client_error;
use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{hostile_text, mutated_text, text};

const KEY: [u8; 32] = *b"stopgate-fuzz-cursor-key-0000001";

#[derive(Debug, Clone)]
enum Position {
    History(HistoryPosition),
    Change(ChangePosition),
    Review(ReviewPosition),
}

/// What is presented in place of a genuine cursor.
#[derive(Debug, Clone)]
enum Presented {
    /// The genuine cursor, edited.
    Tampered(Vec<crate::inputs::TextEdit>),
    /// Anything at all.
    Arbitrary(String),
    /// The genuine cursor, for another binding.
    Rebound(String),
}

#[derive(Debug, Clone)]
struct Case {
    binding: String,
    position: Position,
    presented: Presented,
}

fn position() -> impl Strategy<Value = Position> {
    let key = || prop_oneof![3 => select(vec!["EV#01J0000000000000000000", "T#t|P#+14155550100", ""]).prop_map(str::to_string), 1 => hostile_text()];
    prop_oneof![
        key().prop_map(|last_sk| Position::History(HistoryPosition { last_sk })),
        (any::<u8>(), proptest::option::of((key(), key(), key()))).prop_map(|(shard, last)| {
            Position::Change(ChangePosition {
                shard,
                last: last.map(|(gsi1sk, pk, sk)| ChangeKey { gsi1sk, pk, sk }),
            })
        }),
        (key(), key())
            .prop_map(|(gsi1sk, review_id)| Position::Review(ReviewPosition { gsi1sk, review_id })),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    let binding = prop_oneof![
        3 => select(vec![
            "tenant-a|history|+14155550123",
            "tenant-a|opt-outs|opted_out|",
            "tenant-a|reviews|open",
        ])
        .prop_map(str::to_string),
        1 => text(40),
    ];
    (
        binding,
        position(),
        prop_oneof![
            5 => proptest::collection::vec(crate::inputs::text_edit(), 1..5).prop_map(Presented::Tampered),
            3 => prop_oneof![
                hostile_text(),
                // Base64 alphabets, so decoding gets to the cipher.
                proptest::string::string_regex("[A-Za-z0-9_-]{0,120}").unwrap_or_else(|e| panic!("{e}")),
                mutated_text(vec!["AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA".to_string()]),
            ]
            .prop_map(Presented::Arbitrary),
            2 => text(40).prop_map(Presented::Rebound),
        ],
    )
        .prop_map(|(binding, position, presented)| Case {
            binding,
            position,
            presented,
        })
}

fn refused<T: std::fmt::Debug>(result: Result<T, ApiError>, what: &str) -> Verdict {
    match result {
        Ok(v) => Err(format!("{what} opened, to {v:?}")),
        Err(e) => {
            if e.code() != "invalid_cursor" {
                return Err(format!("{what} refused as {e:?}, not invalid_cursor"));
            }
            client_error(&e)
        }
    }
}

fn round_trip<T>(cursors: &Cursors, case: &Case, position: &T) -> Verdict
where
    T: Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let genuine = cursors
        .seal(&case.binding, position)
        .map_err(|e| format!("sealing failed: {e:?}"))?;
    match &case.presented {
        Presented::Tampered(edits) => {
            let tampered = crate::inputs::edit_text(&genuine, edits);
            let opened = cursors.open::<T>(&case.binding, &tampered);
            // Spaces around a cursor are trimmed: that is the cursor itself.
            if tampered.trim() == genuine {
                return match opened {
                    Ok(back) if &back == position => Ok(()),
                    other => Err(format!("the genuine cursor opened as {other:?}")),
                };
            }
            refused(opened, "a tampered cursor")
        }
        Presented::Arbitrary(s) => refused(cursors.open::<T>(&case.binding, s), "a forged cursor"),
        Presented::Rebound(other) if other != &case.binding => refused(
            cursors.open::<T>(other, &genuine),
            "a cursor of another binding",
        ),
        Presented::Rebound(_) => match cursors.open::<T>(&case.binding, &genuine) {
            Ok(back) if &back == position => Ok(()),
            other => Err(format!("the genuine cursor opened as {other:?}")),
        },
    }
}

fn property(cursors: &Cursors, case: Case) -> Verdict {
    match &case.position {
        Position::History(p) => round_trip(cursors, &case, p),
        Position::Change(p) => round_trip(cursors, &case, p),
        Position::Review(p) => round_trip(cursors, &case, p),
    }
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    let cursors = Cursors::new(KEY);
    check(runner, case(), |case| property(&cursors, case))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genuine_cursors_open_and_others_do_not() {
        let cursors = Cursors::new(KEY);
        let position = Position::History(HistoryPosition {
            last_sk: "EV#01".into(),
        });
        for presented in [
            Presented::Rebound("tenant-a|history|+14155550123".into()),
            Presented::Rebound("tenant-b|history|+14155550123".into()),
            Presented::Arbitrary("garbage".into()),
            Presented::Tampered(vec![crate::inputs::TextEdit::Upper]),
        ] {
            let case = Case {
                binding: "tenant-a|history|+14155550123".into(),
                position: position.clone(),
                presented,
            };
            assert_eq!(property(&cursors, case.clone()), Ok(()), "{case:?}");
        }
    }
}
