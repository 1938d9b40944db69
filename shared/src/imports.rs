//! CSV imports, pure: telling a file's layout from its header, and turning each line into a
//! checked consent with its line number, or into an error that names the line, the column and
//! the reason. Nothing here does I/O beyond reading the reader it is given, so a file of any
//! size streams through in bounded memory; the edges (`stopgate import`, `POST /v1/imports`, the
//! import worker) apply the lines with `api::imports`.
//!
//! Layouts, told apart by their header (column names compared case-insensitively, ignoring
//! spaces and punctuation, in any order):
//!
//! - **Stopgate**: `phone_number,status,scope,changed_at,source[,category,level,disclosure_text]`.
//! - **RingCentral** consent export (`GET /restapi/v2/accounts/~/sms/consents/export`):
//!   `External Party Number, Internal Party Number, Consent Status, Source, Coverage,
//!   Campaign Type, Notes, Last Modified Time`; and its earlier form `From,To,Status,Source`,
//!   which has no time.
//! - **Telnyx** opt-out list (`GET /v2/messaging_optouts` records):
//!   `from,to,messaging_profile_id,keyword,created_at`.
//!
//! README.md ("Imports") documents how each column maps.

use std::io::Read;

use chrono::{DateTime, NaiveDate, NaiveDateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::consent::record::{
    ConsentRequest, EvidenceInput, Invalid, MissingDisclosure, ValidConsent, disclosure_sha256,
};
use crate::consent::{Actor, ConsentEvent, Origin, PrivateEvidence, TenantPolicy};
use crate::phone::{self, PhoneMode};

/// The first errors kept with an import (every error is counted).
pub const MAX_ERRORS_KEPT: usize = 1_000;
/// The first warnings kept with an import (every warning is counted).
pub const MAX_WARNINGS_KEPT: usize = 500;
/// A kept reason is cut to this many characters, so a job item stays far below DynamoDB's
/// 400 KB even with every error and warning slot filled.
const MAX_REASON_CHARS: usize = 160;
const MAX_FIELD_CHARS: usize = 64;

/// The dedupe "provider" of import lines: a line's claim is `D#<tenant>#import#<line hash>`.
pub const DEDUPE_PROVIDER: &str = "import";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    Stopgate,
    Ringcentral,
    /// RingCentral's earlier export, `From,To,Status,Source`: no time column.
    RingcentralLegacy,
    Telnyx,
}

impl Layout {
    fn provider(self) -> Option<&'static str> {
        match self {
            Layout::Stopgate => None,
            Layout::Ringcentral | Layout::RingcentralLegacy => Some("ringcentral"),
            Layout::Telnyx => Some("telnyx"),
        }
    }
}

/// A problem with one line (or, at line 1, with the header): where, which column, why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineIssue {
    pub line: u64,
    pub field: String,
    pub reason: String,
}

impl LineIssue {
    pub fn new(line: u64, field: &str, reason: impl Into<String>) -> LineIssue {
        LineIssue {
            line,
            field: cut(field, MAX_FIELD_CHARS),
            reason: cut(&reason.into(), MAX_REASON_CHARS),
        }
    }
}

fn cut(s: &str, max_chars: usize) -> String {
    match s.char_indices().nth(max_chars) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

/// Why a file cannot be imported at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileError {
    /// The header is missing or matches no layout: nothing can be read.
    #[error("line 1 (header): {0}")]
    Header(String),
    /// The reader failed (a disk or network error), not the content.
    #[error("reading the file failed: {0}")]
    Read(String),
}

/// What an import has done so far: counts, and the first errors and warnings.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Tally {
    /// Lines read after the header (blank lines are not counted).
    pub lines: u64,
    /// Lines that recorded an event.
    pub applied: u64,
    /// Lines recorded before, by this file or another: nothing new was written.
    pub skipped_duplicates: u64,
    /// Opt-ins without a consent level for a number that is opted out: an import never lifts
    /// an opt-out, and there was nothing else to record (each is also a warning).
    pub skipped_opted_out: u64,
    pub error_count: u64,
    pub errors: Vec<LineIssue>,
    pub warning_count: u64,
    pub warnings: Vec<LineIssue>,
}

impl Tally {
    pub fn error(&mut self, issue: LineIssue) {
        self.error_count += 1;
        if self.errors.len() < MAX_ERRORS_KEPT {
            self.errors.push(issue);
        }
    }

    pub fn warning(&mut self, issue: LineIssue) {
        self.warning_count += 1;
        if self.warnings.len() < MAX_WARNINGS_KEPT {
            self.warnings.push(issue);
        }
    }
}

/// One line after reading and checking.
#[derive(Debug, Clone)]
pub enum Parsed {
    Line(Box<PreparedLine>),
    Invalid(LineIssue),
}

impl Parsed {
    pub fn line(&self) -> u64 {
        match self {
            Parsed::Line(l) => l.line,
            Parsed::Invalid(issue) => issue.line,
        }
    }
}

/// A valid line, ready to be committed.
#[derive(Debug, Clone)]
pub struct PreparedLine {
    pub line: u64,
    pub consent: ValidConsent,
    /// Provider facts kept as evidence (provider, sender, keyword, the provider's source).
    pub origin: Origin,
    /// Hex SHA-256 of the line's normalised content: the line's dedupe claim.
    pub dedupe_key: String,
    /// The column an opt-out or lift warning about this line names.
    pub status_field: String,
    pub warnings: Vec<LineIssue>,
}

impl PreparedLine {
    /// The event this line becomes, carrying the source file's hash.
    pub fn event(
        &self,
        tenant: &str,
        actor: Actor,
        received_at: DateTime<Utc>,
        recorded_at: DateTime<Utc>,
        source_file_sha256: &str,
    ) -> (ConsentEvent, PrivateEvidence) {
        let (mut event, private) = self.consent.event(tenant, actor, received_at, recorded_at);
        event.origin = self.origin.clone();
        event.evidence.source_file_sha256 = Some(source_file_sha256.to_string());
        (event, private)
    }
}

/// The file as the CSV parser reads it, with every line end outside quoted fields made `\n`.
///
/// The parser ends a record at `\r\n`, `\n` or `\r` alike, but numbers lines by `\n` alone: a
/// file with `\r\n` line ends (RFC 4180's, Excel's) had every line numbered one too low (its
/// first line of data "line 1", the header's number), and one with `\r` alone (classic Mac
/// exports) had every line numbered 1, so that a resumed import, which skips the lines it has
/// done by number, skipped them all. Records are unchanged (the parser treats the ends alike),
/// and so are quoted fields, whose line ends are content: the quoting is followed as the
/// parser follows it (a `"` opens a quoted field only at the start of a field; `""` inside one
/// is a quote).
struct LfLineEnds<R> {
    inner: R,
    quoting: Quoting,
    /// The last byte was a `\r` made `\n`: a `\n` right after it is the rest of a `\r\n`.
    after_cr: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Quoting {
    FieldStart,
    Unquoted,
    Quoted,
    /// A `"` inside a quoted field: the field's end, or the first half of a `""`.
    QuoteInQuoted,
}

impl<R: Read> LfLineEnds<R> {
    fn new(inner: R) -> LfLineEnds<R> {
        LfLineEnds {
            inner,
            quoting: Quoting::FieldStart,
            after_cr: false,
        }
    }
}

impl<R: Read> Read for LfLineEnds<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.inner.read(buf)?;
            if n == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for i in 0..n {
                let byte = buf[i];
                let after_cr = std::mem::take(&mut self.after_cr);
                let out = match (self.quoting, byte) {
                    (Quoting::Quoted, b'"') => {
                        self.quoting = Quoting::QuoteInQuoted;
                        byte
                    }
                    (Quoting::Quoted, _) => byte,
                    (_, b'\n') if after_cr => continue,
                    (_, b'\r') => {
                        self.after_cr = true;
                        self.quoting = Quoting::FieldStart;
                        b'\n'
                    }
                    (_, b'\n' | b',') => {
                        self.quoting = Quoting::FieldStart;
                        byte
                    }
                    (Quoting::FieldStart | Quoting::QuoteInQuoted, b'"') => {
                        self.quoting = Quoting::Quoted;
                        byte
                    }
                    _ => {
                        self.quoting = Quoting::Unquoted;
                        byte
                    }
                };
                buf[kept] = out;
                kept += 1;
            }
            // A read of nothing but the `\n` of a `\r\n` is not the end of the file.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

/// Header name reduced to lowercase letters and digits: `Last Modified Time`,
/// `last_modified_time` and `LASTMODIFIEDTIME` are one column.
fn normalise_name(name: &str) -> String {
    name.chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// Column positions of the fields a layout can carry.
#[derive(Debug, Default)]
struct Columns {
    phone: usize,
    status: Option<usize>,
    scope: Option<usize>,
    time: Option<usize>,
    source: Option<usize>,
    category: Option<usize>,
    level: Option<usize>,
    disclosure: Option<usize>,
    sender: Option<usize>,
    keyword: Option<usize>,
    provider_source: Option<usize>,
}

const STOPGATE_REQUIRED: [&str; 5] = ["phone_number", "status", "scope", "changed_at", "source"];
const STOPGATE_OPTIONAL: [&str; 3] = ["category", "level", "disclosure_text"];

fn detect(names: &[String]) -> Result<(Layout, Columns, Vec<LineIssue>), FileError> {
    let normalised: Vec<String> = names.iter().map(|n| normalise_name(n)).collect();
    for (i, n) in normalised.iter().enumerate() {
        if normalised[..i].contains(n) && !n.is_empty() {
            return Err(FileError::Header(format!(
                "column {:?} appears twice",
                names.get(i).map(String::as_str).unwrap_or_default()
            )));
        }
    }
    let find = |name: &str| normalised.iter().position(|n| n == &normalise_name(name));
    let has = |name: &str| find(name).is_some();
    let require = |layout: &str, name: &str| {
        find(name).ok_or_else(|| {
            FileError::Header(format!("the {layout} layout needs a column {name:?}"))
        })
    };

    if has("phone_number") {
        let mut columns = Columns {
            phone: require("Stopgate", "phone_number")?,
            status: Some(require("Stopgate", "status")?),
            scope: Some(require("Stopgate", "scope")?),
            time: Some(require("Stopgate", "changed_at")?),
            source: Some(require("Stopgate", "source")?),
            ..Columns::default()
        };
        columns.category = find("category");
        columns.level = find("level");
        columns.disclosure = find("disclosure_text");
        let known: Vec<String> = STOPGATE_REQUIRED
            .iter()
            .chain(STOPGATE_OPTIONAL.iter())
            .map(|n| normalise_name(n))
            .collect();
        // A misspelt optional column would silently lose its values: say so once.
        let warnings = names
            .iter()
            .zip(&normalised)
            .filter(|(_, n)| !known.contains(n))
            .map(|(name, _)| LineIssue::new(1, name, "unknown column; its values are ignored"))
            .collect();
        return Ok((Layout::Stopgate, columns, warnings));
    }
    if has("external_party_number") {
        let columns = Columns {
            phone: require("RingCentral", "External Party Number")?,
            status: Some(require("RingCentral", "Consent Status")?),
            time: Some(require("RingCentral", "Last Modified Time")?),
            sender: find("Internal Party Number"),
            provider_source: find("Source"),
            ..Columns::default()
        };
        return Ok((Layout::Ringcentral, columns, vec![]));
    }
    if has("to") && has("created_at") {
        let columns = Columns {
            phone: require("Telnyx", "to")?,
            time: Some(require("Telnyx", "created_at")?),
            sender: find("from"),
            keyword: find("keyword"),
            ..Columns::default()
        };
        return Ok((Layout::Telnyx, columns, vec![]));
    }
    if has("to") && has("status") {
        let columns = Columns {
            phone: require("RingCentral", "To")?,
            status: Some(require("RingCentral", "Status")?),
            sender: find("From"),
            provider_source: find("Source"),
            ..Columns::default()
        };
        return Ok((Layout::RingcentralLegacy, columns, vec![]));
    }
    Err(FileError::Header(format!(
        "unrecognised columns {:?}; expected phone_number,status,scope,changed_at,source[,category,level,disclosure_text], \
         a RingCentral consent export or a Telnyx opt-out list",
        names.join(",")
    )))
}

/// Reads an import file line by line.
pub struct ImportReader<R: Read> {
    csv: csv::Reader<LfLineEnds<R>>,
    layout: Layout,
    columns: Columns,
    names: Vec<String>,
    header_warnings: Vec<LineIssue>,
    record: csv::ByteRecord,
    skip_through: u64,
}

impl<R: Read> ImportReader<R> {
    /// Reads the header and tells the layout.
    pub fn new(reader: R) -> Result<ImportReader<R>, FileError> {
        let mut csv = csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(LfLineEnds::new(reader));
        let mut header = csv::ByteRecord::new();
        let found = csv
            .read_byte_record(&mut header)
            .map_err(|e| FileError::Read(e.to_string()))?;
        if !found {
            return Err(FileError::Header("the file is empty".into()));
        }
        let mut names = Vec::with_capacity(header.len());
        for (i, raw) in header.iter().enumerate() {
            // Spreadsheet programs often start UTF-8 CSV with a byte order mark.
            let raw = if i == 0 {
                raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
            } else {
                raw
            };
            let name = std::str::from_utf8(raw)
                .map_err(|_| FileError::Header("the header is not UTF-8 text".into()))?;
            names.push(name.trim().to_string());
        }
        let (layout, columns, header_warnings) = detect(&names)?;
        Ok(ImportReader {
            csv,
            layout,
            columns,
            names,
            header_warnings,
            record: csv::ByteRecord::new(),
            skip_through: 0,
        })
    }

    pub fn layout(&self) -> Layout {
        self.layout
    }

    /// Warnings about the header itself (unknown columns), at line 1.
    pub fn header_warnings(&self) -> &[LineIssue] {
        &self.header_warnings
    }

    /// Lines up to and including `line` are passed over without being checked (a resumed
    /// import has already counted them).
    pub fn resume_after(&mut self, line: u64) {
        self.skip_through = line;
    }

    /// The next line, checked against the tenant's policy as of `now`. `source_file_sha256`
    /// only enters the dedupe key of lines without a time (see `dedupe_key`).
    pub fn next_line(
        &mut self,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
        source_file_sha256: &str,
    ) -> Option<Result<Parsed, FileError>> {
        loop {
            match self.csv.read_byte_record(&mut self.record) {
                Err(e) => return Some(Err(FileError::Read(e.to_string()))),
                Ok(false) => return None,
                Ok(true) => {}
            }
            let line = self.record.position().map(|p| p.line()).unwrap_or(0);
            if line <= self.skip_through {
                continue;
            }
            // A row of empty cells (",,,") is a blank line a spreadsheet left behind.
            if self
                .record
                .iter()
                .all(|f| f.iter().all(u8::is_ascii_whitespace))
            {
                continue;
            }
            let parsed = match self.check(line, policy, now, source_file_sha256) {
                Ok(prepared) => Parsed::Line(Box::new(prepared)),
                Err(issue) => Parsed::Invalid(issue),
            };
            return Some(Ok(parsed));
        }
    }

    fn name(&self, column: Option<usize>) -> &str {
        column
            .and_then(|c| self.names.get(c))
            .map(String::as_str)
            .unwrap_or("line")
    }

    /// A cell as written (untrimmed); `None` when the column is absent or the cell is blank.
    fn raw(&self, line: u64, column: Option<usize>) -> Result<Option<&str>, LineIssue> {
        let Some(bytes) = column.and_then(|c| self.record.get(c)) else {
            return Ok(None);
        };
        let text = std::str::from_utf8(bytes)
            .map_err(|_| LineIssue::new(line, self.name(column), "not UTF-8 text"))?;
        Ok(Some(text).filter(|t| !t.trim().is_empty()))
    }

    fn cell(&self, line: u64, column: Option<usize>) -> Result<Option<&str>, LineIssue> {
        Ok(self.raw(line, column)?.map(str::trim))
    }

    fn required(&self, line: u64, column: Option<usize>, what: &str) -> Result<&str, LineIssue> {
        self.cell(line, column)?.ok_or_else(|| {
            LineIssue::new(
                line,
                self.name(column),
                format!("{} is empty; {what}", self.name(column)),
            )
        })
    }

    fn check(
        &self,
        line: u64,
        policy: &TenantPolicy,
        now: DateTime<Utc>,
        source_file_sha256: &str,
    ) -> Result<PreparedLine, LineIssue> {
        let width = self.names.len();
        if self.record.len() != width {
            return Err(LineIssue::new(
                line,
                "line",
                format!(
                    "the line has {} fields; the header has {width}",
                    self.record.len()
                ),
            ));
        }
        let c = &self.columns;
        let status_field = self.name(c.status.or(Some(c.phone))).to_string();
        let phone = self.cell(line, Some(c.phone))?.unwrap_or_default();

        let changed_at = match c.time {
            Some(_) => Some(
                parse_time(self.required(
                    line,
                    c.time,
                    "every line needs the time of the change",
                )?)
                .map_err(|reason| {
                    LineIssue::new(
                        line,
                        self.name(c.time),
                        format!("{} {reason}", self.name(c.time)),
                    )
                })?,
            ),
            None => None,
        };

        let opted_out = match self.layout {
            Layout::Telnyx => true,
            _ => {
                let status = self.required(line, c.status, "expected opted_out or opted_in")?;
                let (out, into) = match self.layout {
                    Layout::Stopgate => ("opted_out", "opted_in"),
                    _ => ("optout", "optin"),
                };
                let value = match self.layout {
                    Layout::Stopgate => status.to_ascii_lowercase(),
                    _ => normalise_name(status),
                };
                if value == out {
                    true
                } else if value == into {
                    false
                } else {
                    let expected = match self.layout {
                        Layout::Stopgate => "opted_out or opted_in",
                        _ => "OptOut or OptIn",
                    };
                    return Err(LineIssue::new(
                        line,
                        self.name(c.status),
                        format!("status {status:?} is not {expected}"),
                    ));
                }
            }
        };

        let mut origin = Origin {
            provider: self.layout.provider().map(str::to_string),
            ..Origin::default()
        };
        if let Some(sender) = self.cell(line, c.sender)? {
            let mode = PhoneMode::Lenient;
            origin.sender = Some(
                phone::normalize(sender, &policy.default_region, mode)
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_else(|_| sender.to_string()),
            );
        }
        origin.keyword = self.cell(line, c.keyword)?.map(str::to_string);
        origin.provider_verdict = self.cell(line, c.provider_source)?.map(str::to_string);

        let category = self.cell(line, c.category)?.map(str::to_string);
        let level = self.cell(line, c.level)?.map(str::to_string);
        let (action, scope, source) = match self.layout {
            Layout::Stopgate => {
                if opted_out && level.is_some() {
                    return Err(LineIssue::new(
                        line,
                        self.name(c.level),
                        "opted_out takes no level",
                    ));
                }
                // An opt-out naming one category withdraws that category only.
                let action = match (opted_out, &category) {
                    (true, Some(_)) => "revoke",
                    (true, None) => "opt_out",
                    (false, _) => "opt_in",
                };
                let scope = self.required(
                    line,
                    c.scope,
                    "expected tenant, brand:<name>, program:<name>, group:<name> or sender:<id>",
                )?;
                let source = self.cell(line, c.source)?.unwrap_or("import");
                (action, scope.to_string(), source.to_string())
            }
            // Provider exports: an opt-out reaches the whole tenant (wide on the deny side); an
            // opt-in names only the sender it was given to (narrow on the allow side).
            _ if opted_out => ("opt_out", "tenant".to_string(), "import".to_string()),
            _ => {
                let Some(sender) = &origin.sender else {
                    return Err(LineIssue::new(
                        line,
                        self.name(c.sender),
                        "an opt-in applies only to the sender it was given to, and the sender is empty",
                    ));
                };
                ("opt_in", format!("sender:{sender}"), "import".to_string())
            }
        };

        let request = ConsentRequest {
            phone: phone.to_string(),
            action: action.to_string(),
            category,
            level,
            scope,
            source,
            evidence: self.raw(line, c.disclosure)?.map(|text| EvidenceInput {
                disclosure_text: Some(text.to_string()),
                ..EvidenceInput::default()
            }),
            occurred_at: changed_at.map(|t| t.to_rfc3339_opts(SecondsFormat::AutoSi, true)),
            override_opt_out: None,
            location: None,
        };
        let consent = request
            .validate(policy, now, MissingDisclosure::Downgrade)
            .map_err(|e| self.issue(line, e))?;
        let mut warnings = Vec::new();
        if consent.downgraded {
            warnings.push(LineIssue::new(
                line,
                self.name(c.level),
                "express_written needs the disclosure text the person saw; recorded as express",
            ));
        }
        let dedupe_key = dedupe_key(&consent, changed_at, source_file_sha256);
        Ok(PreparedLine {
            line,
            consent,
            origin,
            dedupe_key,
            status_field,
            warnings,
        })
    }

    /// A validation failure, named by the file's own column.
    fn issue(&self, line: u64, e: Invalid) -> LineIssue {
        let c = &self.columns;
        let column = match e.field.as_str() {
            "phone" => Some(c.phone),
            "action" => c.status,
            "category" => c.category.or(c.status),
            "level" => c.level.or(c.status),
            "scope" => c.scope.or(c.sender),
            "source" => c.source,
            "occurred_at" => c.time,
            f if f.starts_with("evidence") => c.disclosure.or(c.level),
            _ => None,
        };
        let name = self.name(column);
        let reason = e.message.replace("occurred_at", name);
        LineIssue::new(line, name, reason)
    }
}

/// RFC 3339 with a zone. A time without one is refused rather than guessed: the order of an
/// opt-out and an opt-in can hang on it.
fn parse_time(raw: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Ok(t.with_timezone(&Utc));
    }
    let zoneless = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
    ]
    .iter()
    .any(|f| NaiveDateTime::parse_from_str(raw, f).is_ok())
        || NaiveDate::parse_from_str(raw, "%Y-%m-%d").is_ok();
    Err(if zoneless {
        format!(
            "{raw:?} has no time zone: add Z (UTC) or an offset such as -05:00 (RFC 3339, e.g. 2025-06-01T14:30:00Z)"
        )
    } else {
        format!("{raw:?} is not an RFC 3339 time such as 2025-06-01T14:30:00Z")
    })
}

fn wire_name<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// The line's identity: SHA-256 over its normalised content (number in E.164, action, scope,
/// the time in UTC, source, category, level, the disclosure's hash), so the same fact
/// imported again, from this file or another, in any layout, is recorded once. A line without
/// a time (RingCentral's earlier export) would otherwise equal every later export of the same
/// number, hiding a new opt-out after an opt-in; its identity includes the file's hash.
fn dedupe_key(
    consent: &ValidConsent,
    changed_at: Option<DateTime<Utc>>,
    source_file_sha256: &str,
) -> String {
    let time = match changed_at {
        Some(t) => t.to_rfc3339_opts(SecondsFormat::Nanos, true),
        None => format!("receipt of file {source_file_sha256}"),
    };
    let disclosure = consent
        .evidence
        .disclosure_text
        .as_deref()
        .filter(|t| !t.trim().is_empty())
        .map(disclosure_sha256)
        .unwrap_or_default();
    let normalised = [
        "stopgate import line v1".to_string(),
        consent.phone.as_str().to_string(),
        wire_name(&consent.action),
        consent.scope.to_string(),
        time,
        wire_name(&consent.source),
        consent.category.map(|c| wire_name(&c)).unwrap_or_default(),
        consent.level.map(|l| wire_name(&l)).unwrap_or_default(),
        disclosure,
    ]
    .join("\n");
    hex::encode(Sha256::digest(normalised.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consent::record::ConsentAction;
    use crate::consent::{Category, ConsentLevel, Scope, Source};
    use chrono::TimeZone;

    const FILE: &str = "0000000000000000000000000000000000000000000000000000000000000000";

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 6, 1, 12, 0, 0).single().unwrap()
    }

    fn read(csv: &str) -> (Layout, Vec<LineIssue>, Vec<Parsed>) {
        let mut reader = ImportReader::new(csv.as_bytes()).unwrap();
        let policy = TenantPolicy::default();
        let mut lines = vec![];
        while let Some(parsed) = reader.next_line(&policy, now(), FILE) {
            lines.push(parsed.unwrap());
        }
        (reader.layout(), reader.header_warnings().to_vec(), lines)
    }

    fn ok(p: &Parsed) -> &PreparedLine {
        match p {
            Parsed::Line(l) => l,
            Parsed::Invalid(issue) => panic!("line {}: {issue:?}", issue.line),
        }
    }

    fn err(p: &Parsed) -> &LineIssue {
        match p {
            Parsed::Invalid(issue) => issue,
            Parsed::Line(l) => panic!("line {} was accepted", l.line),
        }
    }

    #[test]
    fn reads_the_stopgate_layout_with_line_numbers() {
        let (layout, header_warnings, lines) = read(
            "phone_number,status,scope,changed_at,source,category,level,disclosure_text\n\
             (415) 555-0123,opted_out,tenant,2026-05-01T10:00:00Z,,,,\n\
             +14155550124,opted_in,program:alerts,2026-05-01T10:00:00-07:00,web_form,promotional,express_written,Reply STOP to cancel.\n\
             +14155550125,OPTED_OUT,brand:acme,2026-05-02T00:00:00+02:00,paper,promotional,,\n",
        );
        assert_eq!(layout, Layout::Stopgate);
        assert!(header_warnings.is_empty());
        assert_eq!(lines.len(), 3);
        let first = ok(&lines[0]);
        assert_eq!(first.line, 2);
        assert_eq!(first.consent.phone.as_str(), "+14155550123");
        assert_eq!(first.consent.action, ConsentAction::OptOut);
        assert_eq!(first.consent.source, Source::Import);
        assert_eq!(
            first.consent.occurred_at,
            Some(Utc.with_ymd_and_hms(2026, 5, 1, 10, 0, 0).unwrap())
        );
        let second = ok(&lines[1]);
        assert_eq!(second.consent.action, ConsentAction::OptIn);
        assert_eq!(second.consent.scope, Scope::Program("alerts".into()));
        assert_eq!(second.consent.level, Some(ConsentLevel::ExpressWritten));
        assert_eq!(second.consent.source, Source::WebForm);
        assert_eq!(
            second.consent.occurred_at,
            Some(Utc.with_ymd_and_hms(2026, 5, 1, 17, 0, 0).unwrap())
        );
        assert!(second.warnings.is_empty());
        // An opt-out that names a category withdraws only that category.
        let third = ok(&lines[2]);
        assert_eq!(third.consent.action, ConsentAction::Revoke);
        assert_eq!(third.consent.category, Some(Category::Promotional));
        assert_ne!(first.dedupe_key, second.dedupe_key);
    }

    #[test]
    fn columns_are_found_by_name_in_any_order_and_case() {
        let (layout, _, lines) = read(
            "Source,Changed At,SCOPE,Status,Phone Number\nverbal,2026-05-01T10:00:00Z,tenant,opted_out,+14155550123\n",
        );
        assert_eq!(layout, Layout::Stopgate);
        assert_eq!(ok(&lines[0]).consent.source, Source::Verbal);
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_newlines() {
        let (_, _, lines) = read(
            "phone_number,status,scope,changed_at,source,category,level,disclosure_text\n\
             +14155550123,opted_in,tenant,2026-05-01T10:00:00Z,web_form,promotional,express_written,\"Acme, Inc.: \"\"Deals\"\"\nReply STOP to cancel.\"\n\
             +14155550124,bogus,tenant,2026-05-01T10:00:00Z,,,,\n",
        );
        let first = ok(&lines[0]);
        assert_eq!(
            first.consent.evidence.disclosure_text.as_deref(),
            Some("Acme, Inc.: \"Deals\"\nReply STOP to cancel.")
        );
        // The quoted field spans two physical lines: the next record starts on line 4.
        assert_eq!(err(&lines[1]).line, 4);
    }

    #[test]
    fn a_time_without_a_zone_is_a_line_error() {
        let (_, _, lines) = read(
            "phone_number,status,scope,changed_at,source\n\
             +14155550123,opted_out,tenant,2026-05-01T10:00:00,\n\
             +14155550123,opted_out,tenant,2026-05-01 10:00:00,\n\
             +14155550123,opted_out,tenant,yesterday,\n\
             +14155550123,opted_out,tenant,,\n\
             +14155550123,opted_out,tenant,2026-05-01 10:00:00+00:00,\n",
        );
        for (i, line) in lines.iter().take(2).enumerate() {
            let issue = err(line);
            assert_eq!(
                (issue.line, issue.field.as_str()),
                (i as u64 + 2, "changed_at")
            );
            assert!(issue.reason.contains("no time zone"), "{}", issue.reason);
        }
        assert!(err(&lines[2]).reason.contains("not an RFC 3339 time"));
        assert!(err(&lines[3]).reason.contains("empty"));
        // RFC 3339 allows a space between date and time.
        ok(&lines[4]);
    }

    #[test]
    fn bad_phone_and_bad_status_name_their_column() {
        let (_, _, lines) = read(
            "phone_number,status,scope,changed_at,source\n\
             12,opted_out,tenant,2026-05-01T10:00:00Z,\n\
             +14155550123,unsubscribed,tenant,2026-05-01T10:00:00Z,\n\
             +14155550123,opted_out,everyone,2026-05-01T10:00:00Z,\n\
             +14155550123,opted_out,tenant,2026-05-01T10:00:00Z,sms_keyword\n\
             +14155550123,opted_out,tenant,2026-07-01T10:00:00Z,\n\
             +14155550123,opted_out,tenant\n",
        );
        let fields: Vec<(u64, &str)> = lines
            .iter()
            .map(|l| (err(l).line, err(l).field.as_str()))
            .collect();
        assert_eq!(
            fields,
            vec![
                (2, "phone_number"),
                (3, "status"),
                (4, "scope"),
                (5, "source"),
                (6, "changed_at"),
                (7, "line")
            ]
        );
        assert!(err(&lines[1]).reason.contains("\"unsubscribed\""));
        assert!(
            err(&lines[4])
                .reason
                .contains("changed_at is in the future")
        );
    }

    #[test]
    fn written_consent_without_disclosure_is_downgraded_with_a_warning() {
        let (_, _, lines) = read(
            "phone_number,status,scope,changed_at,source,category,level\n\
             +14155550123,opted_in,tenant,2026-05-01T10:00:00Z,web_form,promotional,express_written\n",
        );
        let line = ok(&lines[0]);
        assert_eq!(line.consent.level, Some(ConsentLevel::Express));
        assert_eq!(line.warnings.len(), 1);
        assert_eq!(line.warnings[0].field, "level");
        assert!(line.warnings[0].reason.contains("recorded as express"));
    }

    #[test]
    fn reads_ringcentral_consent_exports() {
        let (layout, _, lines) = read(
            "External Party Number,Internal Party Number,Consent Status,Source,Coverage,Campaign Type,Notes,Last Modified Time\n\
             +14155550123,+16505550100,OptOut,Recipient,PhoneNumber,,,2025-05-13T20:57:06.473705035Z\n\
             +14155550124,+16505550100,OptIn,Api,Company,,\"called, asked\",2025-05-14T08:00:00Z\n\
             +14155550125,,OptIn,Api,Company,,,2025-05-14T08:00:00Z\n\
             +14155550126,+16505550100,Blocked,Api,Company,,,2025-05-14T08:00:00Z\n",
        );
        assert_eq!(layout, Layout::Ringcentral);
        let out = ok(&lines[0]);
        assert_eq!(out.consent.action, ConsentAction::OptOut);
        assert_eq!(out.consent.scope, Scope::Tenant);
        assert_eq!(out.origin.provider.as_deref(), Some("ringcentral"));
        assert_eq!(out.origin.sender.as_deref(), Some("+16505550100"));
        assert_eq!(out.origin.provider_verdict.as_deref(), Some("Recipient"));
        let opt_in = ok(&lines[1]);
        assert_eq!(opt_in.consent.action, ConsentAction::OptIn);
        assert_eq!(
            opt_in.consent.scope,
            Scope::Sender("+16505550100".to_string())
        );
        assert_eq!(err(&lines[2]).field, "Internal Party Number");
        assert_eq!(err(&lines[3]).field, "Consent Status");
    }

    #[test]
    fn reads_ringcentrals_earlier_export_without_times() {
        let (layout, _, lines) =
            read("FROM,TO,STATUS,SOURCE\n+16505550100,+14155550123,OptOut,Recipient\n");
        assert_eq!(layout, Layout::RingcentralLegacy);
        let line = ok(&lines[0]);
        assert_eq!(line.consent.occurred_at, None);
        // Without a time, a line is the same fact only within the same file.
        let (_, _, again) = {
            let mut reader = ImportReader::new(
                "FROM,TO,STATUS,SOURCE\n+16505550100,+14155550123,OptOut,Recipient\n".as_bytes(),
            )
            .unwrap();
            let other = "1".repeat(64);
            let parsed = reader
                .next_line(&TenantPolicy::default(), now(), &other)
                .unwrap()
                .unwrap();
            (0, 0, vec![parsed])
        };
        assert_ne!(ok(&again[0]).dedupe_key, line.dedupe_key);
    }

    #[test]
    fn reads_telnyx_opt_out_lists() {
        let (layout, _, lines) = read(
            "from,to,messaging_profile_id,keyword,created_at\n\
             +16505550100,+14155550123,4001767e-ce0f-4cae-9d5f-0d5e636e7809,STOP,2025-04-28T12:00:38.631252Z\n\
             +16505550100,+14155550124,4001767e-ce0f-4cae-9d5f-0d5e636e7809,STOP,2025-04-28 12:00:38.631252\n",
        );
        assert_eq!(layout, Layout::Telnyx);
        let line = ok(&lines[0]);
        assert_eq!(line.consent.action, ConsentAction::OptOut);
        assert_eq!(line.consent.scope, Scope::Tenant);
        assert_eq!(line.origin.keyword.as_deref(), Some("STOP"));
        assert_eq!(line.origin.provider.as_deref(), Some("telnyx"));
        let issue = err(&lines[1]);
        assert_eq!((issue.line, issue.field.as_str()), (3, "created_at"));
        assert!(issue.reason.contains("no time zone"));
    }

    #[test]
    fn header_detection_refuses_what_it_cannot_read() {
        for (csv, needle) in [
            ("", "empty"),
            ("name,email\nA,a@example.com\n", "unrecognised columns"),
            ("phone_number,status,changed_at,source\n", "\"scope\""),
            (
                "phone_number,status,scope,changed_at,source,status\n",
                "twice",
            ),
        ] {
            match ImportReader::new(csv.as_bytes()) {
                Err(FileError::Header(reason)) => assert!(reason.contains(needle), "{reason}"),
                Err(other) => panic!("{csv:?}: {other:?}"),
                Ok(_) => panic!("{csv:?} was accepted"),
            }
        }
        let (layout, warnings, _) =
            read("\u{feff}phone_number,status,scope,changed_at,source,disclosure\n");
        assert_eq!(layout, Layout::Stopgate);
        assert_eq!(warnings.len(), 1);
        assert_eq!(
            (warnings[0].line, warnings[0].field.as_str()),
            (1, "disclosure")
        );
    }

    #[test]
    fn the_same_fact_has_the_same_key_whatever_its_spelling_or_file() {
        let (_, _, a) = read(
            "phone_number,status,scope,changed_at,source\n(415) 555-0123,opted_out,tenant,2026-05-01T12:00:00+02:00,import\n",
        );
        let (_, _, b) =
            read("from,to,created_at\n+16505550100,+14155550123,2026-05-01T10:00:00.000Z\n");
        assert_eq!(ok(&a[0]).dedupe_key, ok(&b[0]).dedupe_key);
    }

    #[test]
    fn blank_rows_are_skipped_and_resumed_imports_skip_what_they_counted() {
        let csv = "phone_number,status,scope,changed_at,source\n\n,,,,\n+14155550123,opted_out,tenant,2026-05-01T10:00:00Z,\n+14155550124,opted_out,tenant,2026-05-01T10:00:00Z,\n";
        let (_, _, lines) = read(csv);
        assert_eq!(
            lines.iter().map(Parsed::line).collect::<Vec<_>>(),
            vec![4, 5]
        );
        let mut reader = ImportReader::new(csv.as_bytes()).unwrap();
        reader.resume_after(4);
        let next = reader
            .next_line(&TenantPolicy::default(), now(), FILE)
            .unwrap()
            .unwrap();
        assert_eq!(next.line(), 5);
    }

    #[test]
    fn lines_are_numbered_whatever_the_line_ends() {
        let rows = [
            "phone_number,status,scope,changed_at,source,category,level,disclosure_text",
            "+14155550123,opted_out,tenant,2026-05-01T10:00:00Z,,,,",
            "+14155550124,bogus,tenant,2026-05-01T10:00:00Z,,,,",
            "+14155550125,opted_in,tenant,2026-05-01T10:00:00Z,web_form,promotional,express_written,\"Reply\r\nSTOP, \"\"now\"\"\"",
            "+14155550126,bogus,tenant,2026-05-01T10:00:00Z,,,,",
        ];
        for end in ["\n", "\r\n", "\r"] {
            let csv = rows.join(end) + end;
            let (layout, _, lines) = read(&csv);
            assert_eq!(layout, Layout::Stopgate, "{end:?}");
            // The quoted field spans two lines: the next record starts on line 6.
            assert_eq!(
                lines.iter().map(Parsed::line).collect::<Vec<_>>(),
                vec![2, 3, 4, 6],
                "{end:?}"
            );
            assert_eq!(err(&lines[1]).field, "status", "{end:?}");
            assert_eq!(
                ok(&lines[2]).consent.evidence.disclosure_text.as_deref(),
                Some("Reply\r\nSTOP, \"now\""),
                "{end:?}: a quoted field keeps its line ends"
            );
            // A resumed import skips exactly the lines it has done.
            let mut reader = ImportReader::new(csv.as_bytes()).unwrap();
            reader.resume_after(3);
            let next = reader
                .next_line(&TenantPolicy::default(), now(), FILE)
                .unwrap()
                .unwrap();
            assert_eq!(next.line(), 4, "{end:?}");
        }
    }

    #[test]
    fn line_ends_are_made_lf_outside_quotes_only() {
        let mut out = String::new();
        LfLineEnds::new("a,\"b\r\nc\"\"\r\"\r\nd\"e\r\r\nf\n".as_bytes())
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a,\"b\r\nc\"\"\r\"\nd\"e\n\nf\n");
        // A read that holds only the `\n` of a `\r\n` does not end the file.
        struct OneByte<'a>(&'a [u8]);
        impl Read for OneByte<'_> {
            fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
                let Some((first, rest)) = self.0.split_first() else {
                    return Ok(0);
                };
                buf[0] = *first;
                self.0 = rest;
                Ok(1)
            }
        }
        let mut out = String::new();
        LfLineEnds::new(OneByte(b"a\r\nb\r\n"))
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, "a\nb\n");
    }

    #[test]
    fn kept_issues_are_capped_and_cut() {
        let mut tally = Tally::default();
        for i in 0..(MAX_ERRORS_KEPT as u64 + 5) {
            tally.error(LineIssue::new(i, "phone_number", "x".repeat(500)));
        }
        assert_eq!(tally.error_count, MAX_ERRORS_KEPT as u64 + 5);
        assert_eq!(tally.errors.len(), MAX_ERRORS_KEPT);
        assert!(tally.errors[0].reason.chars().count() <= MAX_REASON_CHARS + 1);
    }
}
