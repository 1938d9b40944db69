//! `import_csv`: the CSV import reader (shared/src/imports.rs), which `POST /v1/imports` runs on
//! a `text/csv` body of up to 1 MB while the client waits, and the import worker on any upload.
//! Files: each layout's header with its columns shuffled, dropped or repeated and rows of
//! arbitrary cells, the samples mutated byte by byte, and arbitrary bytes.
//! Properties: no panic; every line is read or refused naming its line and column, the line
//! numbers only go up, and a refusal's column and reason stay within their bounds.

use std::io::Cursor;

use proptest::collection::vec;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use proptest::test_runner::TestRunner;
use stopgate::consent::{Actor, TenantPolicy};
use stopgate::imports::{ImportReader, LineIssue, Parsed};

use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{Bytes, TRICKY_TEXTS, hostile_bytes, hostile_text, mutated_bytes};
use crate::samples;

/// Each layout's columns with a value each column holds in a valid line.
const LAYOUTS: &[&[(&str, &str)]] = &[
    &[
        ("phone_number", "+14155550123"),
        ("status", "opted_in"),
        ("scope", "tenant"),
        ("changed_at", "2026-05-01T10:00:00Z"),
        ("source", "import"),
        ("category", "promotional"),
        ("level", "express_written"),
        ("disclosure_text", "Reply STOP to cancel."),
    ],
    &[
        ("External Party Number", "+14155550123"),
        ("Internal Party Number", "+16505550100"),
        ("Consent Status", "OptOut"),
        ("Source", "Recipient"),
        ("Coverage", "PhoneNumber"),
        ("Campaign Type", ""),
        ("Notes", "called, asked"),
        ("Last Modified Time", "2025-05-13T20:57:06.473705035Z"),
    ],
    &[
        ("From", "+16505550100"),
        ("To", "+14155550123"),
        ("Status", "OptOut"),
        ("Source", "Recipient"),
    ],
    &[
        ("from", "+16505550100"),
        ("to", "+14155550123"),
        (
            "messaging_profile_id",
            "4001767e-ce0f-4cae-9d5f-0d5e636e7809",
        ),
        ("keyword", "STOP"),
        ("created_at", "2025-04-28T12:00:38.631252Z"),
    ],
];

const VALUES: &[&str] = &[
    "opted_in",
    "opted_out",
    "OptIn",
    "OptOut",
    "Blocked",
    "tenant",
    "sender:+16505550100",
    "program:weekly",
    "group:x",
    "web_form",
    "sms_keyword",
    "import",
    "paper",
    "implied",
    "express",
    "conversational",
    "informational",
    "2025-04-28 12:00:38.631252",
    "2026-05-01T12:00:00+02:00",
    "2099-01-01T00:00:00Z",
];

/// How a cell is written.
#[derive(Debug, Clone)]
enum Cell {
    /// The column's own valid value.
    Valid,
    Text(String),
    /// Quoted, with quotes inside doubled.
    Quoted(String),
}

#[derive(Debug, Clone)]
struct Case {
    body: Bytes,
    strict: bool,
}

fn cell() -> impl Strategy<Value = Cell> {
    prop_oneof![
        6 => Just(Cell::Valid),
        2 => select(VALUES).prop_map(|s| Cell::Text(s.to_string())),
        2 => select(TRICKY_TEXTS).prop_map(|s| Cell::Text(s.to_string())),
        2 => hostile_text().prop_map(Cell::Text),
        1 => hostile_text().prop_map(Cell::Quoted),
    ]
}

fn write_cell(out: &mut String, cell: &Cell, valid: &str) {
    match cell {
        Cell::Valid if valid.contains(',') => out.push_str(&format!("\"{valid}\"")),
        Cell::Valid => out.push_str(valid),
        Cell::Text(s) => out.push_str(s),
        Cell::Quoted(s) => out.push_str(&format!("\"{}\"", s.replace('"', "\"\""))),
    }
}

/// A file of one layout: its columns picked, ordered and named as given, rows of cells.
fn structured() -> impl Strategy<Value = Vec<u8>> {
    (
        select(LAYOUTS),
        vec(any::<Index>(), 0..12),
        any::<bool>(),
        vec(vec(cell(), 0..10), 0..8),
        select(vec!["\n", "\r\n", "\r"]),
        any::<bool>(),
    )
        .prop_map(|(layout, picks, all, rows, newline, bom)| {
            // Every column in order, or a pick of them (repeats and omissions included).
            let columns: Vec<(&str, &str)> = if all || picks.is_empty() {
                layout.to_vec()
            } else {
                picks
                    .iter()
                    .map(|i| layout[i.index(layout.len())])
                    .collect()
            };
            let mut out = String::new();
            if bom {
                out.push('\u{feff}');
            }
            let header: Vec<&str> = columns.iter().map(|(name, _)| *name).collect();
            out.push_str(&header.join(","));
            for row in &rows {
                out.push_str(newline);
                for (i, (_, valid)) in columns.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let cell = row.get(i).unwrap_or(&Cell::Valid);
                    write_cell(&mut out, cell, valid);
                }
                // Rows longer than the header.
                for extra in row.iter().skip(columns.len()) {
                    out.push(',');
                    write_cell(&mut out, extra, "");
                }
            }
            out.push_str(newline);
            out.into_bytes()
        })
}

fn case() -> impl Strategy<Value = Case> {
    let mut files: Vec<Vec<u8>> = samples::api("imports-csv")
        .into_iter()
        .map(|r| r.body)
        .collect();
    for layout in LAYOUTS {
        let header: Vec<&str> = layout.iter().map(|(n, _)| *n).collect();
        let row: Vec<String> = layout
            .iter()
            .map(|(_, v)| {
                if v.contains(',') {
                    format!("\"{v}\"")
                } else {
                    v.to_string()
                }
            })
            .collect();
        files.push(format!("{}\n{}\n", header.join(","), row.join(",")).into_bytes());
    }
    (
        prop_oneof![
            5 => structured(),
            4 => mutated_bytes(files),
            1 => hostile_bytes(),
        ],
        proptest::bool::weighted(0.3),
    )
        .prop_map(|(body, strict)| Case {
            body: Bytes(body),
            strict,
        })
}

fn bounded(issue: &LineIssue) -> Verdict {
    // Cut to 64 and 160 characters, plus the ellipsis.
    if issue.field.chars().count() > 65 || issue.reason.chars().count() > 161 {
        return Err(format!("an issue over its bounds: {issue:?}"));
    }
    Ok(())
}

fn property(case: Case) -> Verdict {
    let policy = TenantPolicy {
        strict_e164: case.strict,
        ..TenantPolicy::default()
    };
    let now = samples::now();
    let Ok(mut reader) = ImportReader::new(Cursor::new(&case.body.0)) else {
        return Ok(());
    };
    for issue in reader.header_warnings() {
        bounded(issue)?;
    }
    let _ = reader.layout();
    let sha = "0".repeat(64);
    let mut last = 1;
    while let Some(line) = reader.next_line(&policy, now, &sha) {
        let Ok(parsed) = line else {
            break;
        };
        if parsed.line() <= last {
            return Err(format!("line {} after line {last}", parsed.line()));
        }
        last = parsed.line();
        match parsed {
            Parsed::Line(line) => {
                for warning in &line.warnings {
                    bounded(warning)?;
                }
                let actor = Actor::ApiKey {
                    key_id: "key".into(),
                };
                let _ = line.event("events-demo", actor, now, now, &sha);
            }
            Parsed::Invalid(issue) => bounded(&issue)?,
        }
    }
    Ok(())
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    check(runner, case(), property)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_layout_reads_its_valid_line() {
        for layout in LAYOUTS {
            let header: Vec<&str> = layout.iter().map(|(n, _)| *n).collect();
            let row: Vec<String> = layout
                .iter()
                .map(|(_, v)| {
                    if v.contains(',') {
                        format!("\"{v}\"")
                    } else {
                        v.to_string()
                    }
                })
                .collect();
            let file = format!("{}\n{}\n", header.join(","), row.join(","));
            let mut reader = ImportReader::new(Cursor::new(file.as_bytes()))
                .unwrap_or_else(|e| panic!("{file}: {e}"));
            let parsed = reader.next_line(&TenantPolicy::default(), samples::now(), "0");
            assert!(
                matches!(parsed, Some(Ok(Parsed::Line(_)))),
                "{file}: {parsed:?}"
            );
            let case = Case {
                body: Bytes(file.into_bytes()),
                strict: false,
            };
            assert_eq!(property(case), Ok(()));
        }
    }
}
