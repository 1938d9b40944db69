//! Opt-out exports: a tenant's list of numbers and their standing per scope, written as CSV and
//! JSON Lines to the exports bucket (the export function, `stopgate export`) or to a local file
//! (`stopgate export --out`). docs/data-model.md, "Exports", says what a row is.
//!
//! An export walks the change index, whose entries are keyed by when Stopgate recorded each
//! change, between two keys: for a full export from the first change, for an incremental one
//! from `since` less the overlap window. For each entry it reads the number's state (100 at a
//! time, strongly consistent) and writes the rows whose latest change is that entry's event
//! ([`by_scope`]): every row once, at its latest change, with nothing to remember in between.
//! A row whose latest change was recorded after the window (while the request waited or the
//! export ran) has its entry past the walk: a full or local export writes it where the walk
//! first meets its number, at its newest standing, remembering only such rows; a link of the
//! chain leaves it to the next link, whose window holds that entry.
//! Shards are walked a few at a time and the rows reach one writer over a bounded channel;
//! each file is uploaded a part at a time, hashed as it is written. Memory stays bounded by the
//! parts and the channel, whatever the size of the list.
//!
//! The chain of incremental exports: each starts at the checkpoint (`until` of the previous
//! one), re-reads the overlap window before it, and skips the entries the previous export
//! already wrote (their event ids are kept with the checkpoint). The checkpoint moves only after
//! the files and the manifest are written, and only from the version the run started from; a
//! run that fails is retried from the same checkpoint to the same keys, so no change is lost or
//! written twice.

use std::collections::HashSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::consent::standing::{Status, by_scope};
use crate::consent::{Actor, Source};
use crate::phone::E164;
use crate::store::export_files::{ExportBucket, ObjectWriter};
use crate::store::exports::{
    ExportCheckpoint, ExportFile, ExportFormat, ExportJob, ExportKind, ExportRequest, ExportStatus,
    ExportVia,
};
use crate::store::history::{CHANGE_INDEX_OVERLAP, ChangeEntry, ChangeKey};
use crate::store::{CaptureQueue, Store, StoreError, TenantSnapshot, keys};

/// The columns of a CSV export, in order; JSON Lines use the same names.
pub const COLUMNS: [&str; 7] = [
    "phone_number",
    "status",
    "scope",
    "changed_at",
    "source",
    "keyword",
    "event_id",
];
/// Index entries read per query page.
const PAGE: i32 = 1000;
/// States read per `BatchGetItem`.
const STATES_PER_READ: usize = 100;
/// A run's hold on its job: longer than Lambda's 15-minute limit, so only a run that died
/// loses it.
const LEASE: Duration = Duration::minutes(16);
/// Scheduler runs may start a few minutes early or late; a scheduled export is due this much
/// before its interval has fully passed.
const SCHEDULE_TOLERANCE: Duration = Duration::minutes(10);

#[derive(Debug, Clone)]
pub struct ExportOptions {
    /// Bytes per uploaded part (S3's minimum, 5 MiB, at least).
    pub part_size: usize,
    /// Index shards walked at once.
    pub shard_workers: usize,
}

impl Default for ExportOptions {
    fn default() -> ExportOptions {
        ExportOptions {
            part_size: 8 * 1024 * 1024,
            shard_workers: 4,
        }
    }
}

/// How far a run has got, for progress bars and the caller's deadline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Progress {
    /// Index entries read.
    pub entries: u64,
    /// Rows written.
    pub rows: u64,
    /// Parts uploaded, over every file.
    pub parts: usize,
    /// Bytes written, over every file.
    pub bytes: u64,
}

/// Told of the progress after each batch of rows; an `Err` stops the run there (a deadline,
/// an operator's interrupt), and nothing of it becomes visible.
pub type ProgressHook<'a> = &'a mut (dyn FnMut(&Progress) -> Result<(), String> + Send);

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("no tenant {0}")]
    NoTenant(String),
    #[error("no export {0}")]
    NoExport(String),
    #[error("stopped: {0}")]
    Stopped(String),
    /// Another incremental export moved the checkpoint first: this one's window is covered.
    #[error("{0}")]
    Superseded(String),
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
}

impl ExportError {
    /// Whether running the same export again may succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            ExportError::Store(
                StoreError::Unavailable(_) | StoreError::Throttled | StoreError::Conflict
            ) | ExportError::Stopped(_)
        )
    }
}

/// One row: a number's standing in one scope.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportRow {
    pub phone_number: String,
    pub status: Status,
    pub scope: String,
    /// When Stopgate recorded the latest change to what decides the row.
    pub changed_at: String,
    /// Where the record the status rests on came from.
    pub source: Source,
    pub keyword: Option<String>,
    /// The record the status rests on: the opt-out in force, or the opt-in that answers it.
    pub event_id: String,
}

/// What an export wrote, beside its files and at `latest.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    pub tenant: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub export_id: Option<String>,
    pub kind: ExportKind,
    /// Changes recorded from here on (the overlap window before it re-read); null: from the
    /// first change.
    pub since: Option<DateTime<Utc>>,
    pub until: DateTime<Utc>,
    pub overlap_seconds: i64,
    pub rows: u64,
    pub columns: Vec<&'static str>,
    pub files: Vec<ManifestFile>,
    pub generated_at: DateTime<Utc>,
    pub classifier_version: &'static str,
    pub policy_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ManifestFile {
    pub format: ExportFormat,
    /// The object key (bucket exports) or the file name (local exports).
    pub key: String,
    pub sha256: String,
    pub bytes: u64,
}

/// The rows of one batch of entries, and how many entries it covered.
struct Batch {
    rows: Vec<ExportRow>,
    entries: u64,
}

/// What the walk reads and skips.
struct Walk {
    tenant: String,
    snapshot: TenantSnapshot,
    from_key: String,
    through_key: String,
    /// Rows changed after this are within the next export's overlap window.
    overlap_from: DateTime<Utc>,
    /// Entries the previous export of the chain already wrote.
    skip: HashSet<String>,
    /// Whether a row whose latest change is past `through_key` (the walk never meets its
    /// entry) is written where the walk first meets its number, at its newest standing: for
    /// every export but a link of the chain, whose next link meets that entry.
    beyond: bool,
}

/// What the walk found besides the rows.
#[derive(Default)]
struct Walked {
    /// Event ids of the entries rows were written at, within the overlap window before
    /// `until`: the next export of the chain skips them.
    overlap_ids: Vec<String>,
}

/// What one shard walker remembers between batches (a number's entries are all in one shard).
#[derive(Default)]
struct Met {
    overlap_ids: Vec<String>,
    /// Rows written past the window ([`Walk::beyond`]), by number and scope: each once. Only
    /// numbers that changed after `until` are here.
    beyond: HashSet<(String, String)>,
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The rows whose latest change is one of these entries, from the numbers' states.
fn rows_at(
    walk: &Walk,
    entries: &[ChangeEntry],
    states: &std::collections::HashMap<E164, Option<crate::consent::NumberState>>,
    met: &mut Met,
) -> Result<Vec<ExportRow>, StoreError> {
    let policy = &walk.snapshot.tenant.policy;
    let directory = &walk.snapshot.directory;
    let mut rows = Vec::new();
    for entry in entries {
        if walk.skip.contains(&entry.event_id) {
            continue;
        }
        // Rule 8 for lists: a number storage did not return fails the run; it is not guessed.
        let Some(Some(state)) = states.get(&entry.phone) else {
            return Err(StoreError::Unavailable(
                "storage did not return every number's state".into(),
            ));
        };
        for row in by_scope(state, policy, directory) {
            let at_entry = row.changed.event_id.as_str() == entry.event_id;
            if !at_entry {
                let past_window = walk.beyond
                    && keys::change_sk(&row.changed.recorded(), row.changed.event_id.as_str())
                        > walk.through_key;
                if !past_window
                    || !met
                        .beyond
                        .insert((entry.phone.as_str().to_string(), row.scope.to_string()))
                {
                    continue;
                }
            }
            let mark = row.mark.unwrap_or(row.changed);
            rows.push(ExportRow {
                phone_number: entry.phone.as_str().to_string(),
                status: row.status,
                scope: row.scope.to_string(),
                changed_at: time(row.changed.recorded()),
                source: mark.source,
                keyword: mark.keyword.clone(),
                event_id: mark.event_id.to_string(),
            });
            if at_entry && row.changed.recorded() > walk.overlap_from {
                met.overlap_ids.push(entry.event_id.clone());
            }
        }
    }
    met.overlap_ids.dedup();
    Ok(rows)
}

/// Walks one shard from start to end, sending rows in batches.
async fn walk_shard(
    store: &Store,
    walk: &Walk,
    shard: u8,
    tx: &tokio::sync::mpsc::Sender<Batch>,
    met: &mut Met,
    failed: &AtomicBool,
) -> Result<(), ExportError> {
    let mut after: Option<ChangeKey> = None;
    loop {
        if failed.load(Ordering::SeqCst) {
            // Another walker failed: the run is lost, stop reading.
            return Ok(());
        }
        let (entries, next) = store
            .change_entries(
                &walk.tenant,
                shard,
                &walk.from_key,
                &walk.through_key,
                after.as_ref(),
                PAGE,
            )
            .await?;
        let mut rest = entries.as_slice();
        while !rest.is_empty() {
            // Entries up to STATES_PER_READ distinct numbers: one read of their states.
            let mut phones: Vec<E164> = Vec::new();
            let mut taken = 0;
            for entry in rest {
                if !phones.contains(&entry.phone) {
                    if phones.len() == STATES_PER_READ {
                        break;
                    }
                    phones.push(entry.phone.clone());
                }
                taken += 1;
            }
            let (batch, tail) = rest.split_at(taken);
            rest = tail;
            let states = store.load_states(&walk.tenant, &phones).await?;
            let rows = rows_at(walk, batch, &states, met)?;
            tx.send(Batch {
                rows,
                entries: batch.len() as u64,
            })
            .await
            .map_err(|_| ExportError::Stopped("the writer stopped".into()))?;
        }
        match next {
            Some(key) => after = Some(key),
            None => return Ok(()),
        }
    }
}

/// Walks every shard with `workers` at a time; the rows go to `tx`.
async fn walk_all(
    store: Store,
    walk: Arc<Walk>,
    workers: usize,
    tx: tokio::sync::mpsc::Sender<Batch>,
) -> Result<Walked, ExportError> {
    let next_shard = Arc::new(AtomicU8::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let mut handles = Vec::new();
    for _ in 0..workers.max(1) {
        let (store, walk, tx) = (store.clone(), walk.clone(), tx.clone());
        let (next_shard, failed) = (next_shard.clone(), failed.clone());
        handles.push(tokio::spawn(async move {
            let mut met = Met::default();
            loop {
                let shard = next_shard.fetch_add(1, Ordering::SeqCst);
                if shard >= keys::CHANGE_SHARDS || failed.load(Ordering::SeqCst) {
                    return Ok(met.overlap_ids);
                }
                if let Err(e) = walk_shard(&store, &walk, shard, &tx, &mut met, &failed).await {
                    failed.store(true, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }));
    }
    drop(tx);
    let mut walked = Walked::default();
    let mut first_error = None;
    for handle in handles {
        match handle.await {
            Ok(Ok(ids)) => walked.overlap_ids.extend(ids),
            Ok(Err(e)) => {
                first_error.get_or_insert(e);
            }
            Err(e) => {
                first_error.get_or_insert(ExportError::Stopped(format!("a shard walker: {e}")));
            }
        }
    }
    match first_error {
        Some(e) => Err(e),
        None => Ok(walked),
    }
}

/// Where one file's bytes go.
enum Sink {
    Bucket(ObjectWriter),
    Local {
        path: PathBuf,
        file: std::io::BufWriter<std::fs::File>,
        bytes: u64,
    },
}

/// One file being written, hashed as it goes.
struct FileOut {
    format: ExportFormat,
    sink: Sink,
    hasher: Sha256,
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> ExportError {
    ExportError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

impl FileOut {
    async fn write(&mut self, data: &[u8]) -> Result<(), ExportError> {
        self.hasher.update(data);
        match &mut self.sink {
            Sink::Bucket(writer) => writer.write(data).await?,
            Sink::Local { path, file, bytes } => {
                file.write_all(data).map_err(|e| file_error(path, e))?;
                *bytes += data.len() as u64;
            }
        }
        Ok(())
    }

    fn parts(&self) -> usize {
        match &self.sink {
            Sink::Bucket(writer) => writer.parts(),
            Sink::Local { .. } => 0,
        }
    }

    fn bytes(&self) -> u64 {
        match &self.sink {
            Sink::Bucket(writer) => writer.bytes(),
            Sink::Local { bytes, .. } => *bytes,
        }
    }

    async fn finish(self) -> Result<ManifestFile, ExportError> {
        let sha256 = hex::encode(self.hasher.finalize());
        let (key, bytes) = match self.sink {
            Sink::Bucket(writer) => writer.finish().await?,
            Sink::Local {
                path,
                mut file,
                bytes,
            } => {
                file.flush().map_err(|e| file_error(&path, e))?;
                let name = path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                (name, bytes)
            }
        };
        Ok(ManifestFile {
            format: self.format,
            key,
            sha256,
            bytes,
        })
    }

    async fn abort(self) {
        match self.sink {
            Sink::Bucket(writer) => {
                let key = writer.key().to_string();
                if let Err(e) = writer.abort().await {
                    // The bucket's lifecycle rule removes what is left after a day.
                    tracing::warn!(%key, error = %e, "could not abort a multipart upload");
                }
            }
            Sink::Local { path, file, .. } => {
                drop(file);
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// The bytes of some rows in a format; the CSV header comes first in a file.
fn encode(format: ExportFormat, rows: &[ExportRow], header: bool) -> Result<Vec<u8>, String> {
    match format {
        ExportFormat::Csv => {
            let mut csv = csv::WriterBuilder::new()
                .has_headers(false)
                .from_writer(Vec::with_capacity(rows.len() * 80 + 80));
            if header {
                csv.write_record(COLUMNS).map_err(|e| e.to_string())?;
            }
            for row in rows {
                csv.write_record([
                    row.phone_number.as_str(),
                    row.status.as_str(),
                    row.scope.as_str(),
                    row.changed_at.as_str(),
                    source_name(row.source),
                    row.keyword.as_deref().unwrap_or(""),
                    row.event_id.as_str(),
                ])
                .map_err(|e| e.to_string())?;
            }
            csv.into_inner().map_err(|e| e.to_string())
        }
        ExportFormat::Jsonl => {
            let mut out = Vec::with_capacity(rows.len() * 180);
            for row in rows {
                serde_json::to_writer(&mut out, row).map_err(|e| e.to_string())?;
                out.push(b'\n');
            }
            Ok(out)
        }
    }
}

fn source_name(source: Source) -> &'static str {
    match source {
        Source::SmsKeyword => "sms_keyword",
        Source::WebForm => "web_form",
        Source::Paper => "paper",
        Source::Verbal => "verbal",
        Source::Api => "api",
        Source::Import => "import",
        Source::Email => "email",
        Source::PhoneCall => "phone_call",
        Source::Provider => "provider",
        Source::WebPreferences => "web_preferences",
        Source::ReviewExpired => "review_expired",
        Source::ProviderList => "provider_list",
    }
}

/// Walks the index and writes every row to every file. On any error nothing is finished.
async fn produce(
    store: &Store,
    walk: Walk,
    mut files: Vec<FileOut>,
    options: &ExportOptions,
    hook: ProgressHook<'_>,
) -> Result<(Vec<ManifestFile>, u64, Walked), ExportError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Batch>(8);
    let walker = tokio::spawn(walk_all(
        store.clone(),
        Arc::new(walk),
        options.shard_workers,
        tx,
    ));
    let mut progress = Progress::default();
    let mut written: Result<(), ExportError> = Ok(());
    for file in &mut files {
        let header = encode(file.format, &[], true).map_err(ExportError::Stopped)?;
        if let Err(e) = file.write(&header).await {
            written = Err(e);
            break;
        }
    }
    while written.is_ok() {
        let Some(batch) = rx.recv().await else { break };
        progress.entries += batch.entries;
        progress.rows += batch.rows.len() as u64;
        for file in &mut files {
            let bytes = match encode(file.format, &batch.rows, false) {
                Ok(b) => b,
                Err(e) => {
                    written = Err(ExportError::Stopped(e));
                    break;
                }
            };
            if let Err(e) = file.write(&bytes).await {
                written = Err(e);
                break;
            }
        }
        progress.parts = files.iter().map(FileOut::parts).sum();
        progress.bytes = files.iter().map(FileOut::bytes).sum();
        if written.is_ok() {
            written = hook(&progress).map_err(ExportError::Stopped);
        }
    }
    // Stops the walkers if the writer failed: their next send finds the channel closed.
    drop(rx);
    let walked = walker
        .await
        .map_err(|e| ExportError::Stopped(format!("the index walk: {e}")))
        .and_then(|r| r);
    let result = written.and(walked);
    let walked = match result {
        Ok(walked) => walked,
        Err(e) => {
            for file in files {
                file.abort().await;
            }
            return Err(e);
        }
    };
    let mut finished = Vec::new();
    let mut files = files.into_iter();
    while let Some(file) = files.next() {
        match file.finish().await {
            Ok(f) => finished.push(f),
            Err(e) => {
                for rest in files {
                    rest.abort().await;
                }
                return Err(e);
            }
        }
    }
    Ok((finished, progress.rows, walked))
}

/// The window of index keys an export reads: from `since` less the overlap window (from the
/// first change without one) through `until`.
fn walk(
    tenant: &str,
    snapshot: TenantSnapshot,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    skip: HashSet<String>,
    beyond: bool,
) -> Walk {
    let from = since.map(|t| t - CHANGE_INDEX_OVERLAP);
    Walk {
        tenant: tenant.to_string(),
        snapshot,
        from_key: keys::change_sk_from(from.as_ref()),
        through_key: keys::change_sk_through(&until),
        overlap_from: until - CHANGE_INDEX_OVERLAP,
        skip,
        beyond,
    }
}

#[allow(clippy::too_many_arguments)]
fn manifest(
    tenant: &str,
    export_id: Option<String>,
    kind: ExportKind,
    since: Option<DateTime<Utc>>,
    until: DateTime<Utc>,
    rows: u64,
    files: Vec<ManifestFile>,
    snapshot: &TenantSnapshot,
) -> Manifest {
    Manifest {
        tenant: tenant.to_string(),
        export_id,
        kind,
        since,
        until,
        overlap_seconds: CHANGE_INDEX_OVERLAP.num_seconds(),
        rows,
        columns: COLUMNS.to_vec(),
        files,
        generated_at: Utc::now(),
        classifier_version: crate::keywords::CLASSIFIER_VERSION,
        policy_version: snapshot.tenant.policy.version,
    }
}

async fn snapshot(store: &Store, tenant: &str) -> Result<TenantSnapshot, ExportError> {
    store
        .load_tenant(tenant)
        .await?
        .ok_or_else(|| ExportError::NoTenant(tenant.to_string()))
}

/// Where the chain stands for a new incremental export: the checkpoint (with its version)
/// and the event ids its export wrote within the overlap window.
async fn chain(
    store: &Store,
    tenant: &str,
) -> Result<(Option<ExportCheckpoint>, u64, HashSet<String>), StoreError> {
    let (checkpoint, version) = store.export_checkpoint(tenant).await?;
    let skip = match &checkpoint {
        Some(c) => store.export_overlap(tenant, c).await?,
        None => HashSet::new(),
    };
    Ok((checkpoint, version, skip))
}

/// Asks for an export: the job, up to now. The export function (or `stopgate export`) runs it.
/// An incremental export continues the tenant's chain unless it names its own `since`.
pub async fn request(
    store: &Store,
    tenant: &str,
    kind: ExportKind,
    since: Option<DateTime<Utc>>,
    formats: Vec<ExportFormat>,
    via: ExportVia,
    actor: Actor,
) -> Result<ExportJob, StoreError> {
    let mut formats = formats;
    formats.sort();
    formats.dedup();
    let since = since.filter(|_| kind == ExportKind::Incremental);
    let job = ExportJob::new(
        tenant,
        kind,
        formats,
        kind == ExportKind::Incremental && since.is_none(),
        since,
        via,
        actor,
        Utc::now(),
    );
    store.create_export(&job).await?;
    Ok(job)
}

/// How a run of a job ended without an error.
#[derive(Debug)]
pub enum Ran {
    /// The job is done (by this run or an earlier one).
    Done(Box<ExportJob>),
    /// Another run holds the job: ask again later.
    Busy,
}

/// Runs an export job into the bucket: the files, the manifest beside them, for a link of
/// the chain the checkpoint, then `latest.json`. A failure marks the job failed with the
/// reason and leaves nothing visible; running it again starts over from the same checkpoint.
pub async fn run(
    store: &Store,
    bucket: &ExportBucket,
    tenant: &str,
    export_id: &str,
    options: &ExportOptions,
    hook: ProgressHook<'_>,
) -> Result<Ran, ExportError> {
    let (mut job, mut version) = store
        .load_export(tenant, export_id)
        .await?
        .ok_or_else(|| ExportError::NoExport(export_id.to_string()))?;
    let now = Utc::now();
    if job.status == ExportStatus::Done {
        return Ok(Ran::Done(Box::new(job)));
    }
    if job.lease_until.is_some_and(|until| until > now) {
        return Ok(Ran::Busy);
    }
    job.status = ExportStatus::Running;
    job.attempts += 1;
    job.lease_until = Some(now + LEASE);
    job.failure = None;
    job.updated_at = now;
    version = match store.save_export(&job, version).await {
        Ok(v) => v,
        Err(StoreError::GuardFailed) => return Ok(Ran::Busy),
        Err(e) => return Err(e.into()),
    };
    match attempt(store, bucket, &mut job, options, hook).await {
        Ok(()) => {
            job.status = ExportStatus::Done;
            job.lease_until = None;
            job.updated_at = Utc::now();
            store.save_export(&job, version).await?;
            tracing::info!(
                tenant,
                export_id,
                rows = job.rows,
                kind = job.kind.as_str(),
                "export done"
            );
            Ok(Ran::Done(Box::new(job)))
        }
        Err(e) => {
            job.status = ExportStatus::Failed;
            job.lease_until = None;
            job.failure = Some(e.to_string());
            job.updated_at = Utc::now();
            if let Err(save) = store.save_export(&job, version).await {
                tracing::warn!(tenant, export_id, error = %save, "could not record the export's failure");
            }
            tracing::warn!(tenant, export_id, error = %e, "export failed");
            Err(e)
        }
    }
}

async fn attempt(
    store: &Store,
    bucket: &ExportBucket,
    job: &mut ExportJob,
    options: &ExportOptions,
    hook: ProgressHook<'_>,
) -> Result<(), ExportError> {
    let tenant = job.tenant.clone();
    let snapshot = snapshot(store, &tenant).await?;
    let (mut checkpoint_version, mut skip) = (0, HashSet::new());
    if job.follows_checkpoint {
        let (checkpoint, version, overlap) = chain(store, &tenant).await?;
        if let Some(c) = &checkpoint {
            if c.export_id == job.export_id {
                // An earlier run of this job moved the checkpoint and stopped before the end:
                // its files and manifest are written; only latest.json may be missing.
                restore_from_manifest(bucket, job).await?;
                return publish_latest(bucket, job).await;
            }
            if c.until >= job.until {
                return Err(ExportError::Superseded(format!(
                    "export {} already moved the checkpoint to {}; ask for a new export",
                    c.export_id,
                    time(c.until)
                )));
            }
        }
        job.since = checkpoint.map(|c| c.until);
        checkpoint_version = version;
        skip = overlap;
    }
    let files = job
        .formats
        .iter()
        .map(|&format| FileOut {
            format,
            sink: Sink::Bucket(bucket.writer(
                &job.file_key(format),
                format.content_type(),
                options.part_size,
            )),
            hasher: Sha256::new(),
        })
        .collect();
    let walk = walk(
        &tenant,
        snapshot.clone(),
        job.since,
        job.until,
        skip,
        !job.follows_checkpoint,
    );
    let (files, rows, walked) = produce(store, walk, files, options, hook).await?;
    let manifest = manifest(
        &tenant,
        Some(job.export_id.clone()),
        job.kind,
        job.since,
        job.until,
        rows,
        files.clone(),
        &snapshot,
    );
    let body = serde_json::to_vec_pretty(&manifest)
        .map_err(|e| ExportError::Stopped(format!("manifest: {e}")))?;
    let manifest_key = job.manifest_key_for();
    bucket.put(&manifest_key, body, "application/json").await?;
    job.rows = rows;
    job.files = files
        .into_iter()
        .map(|f| ExportFile {
            format: f.format,
            key: f.key,
            sha256: f.sha256,
            bytes: f.bytes,
        })
        .collect();
    job.manifest_key = Some(manifest_key);
    if job.follows_checkpoint {
        let now = Utc::now();
        let mut overlap_ids = walked.overlap_ids;
        overlap_ids.sort_unstable();
        overlap_ids.dedup();
        let chunks = store
            .put_export_overlap(&tenant, &job.export_id, &overlap_ids, now)
            .await?;
        let checkpoint = ExportCheckpoint {
            until: job.until,
            export_id: job.export_id.clone(),
            updated_at: now,
            overlap_chunks: chunks,
        };
        match store
            .advance_export_checkpoint(&tenant, &checkpoint, checkpoint_version)
            .await
        {
            Ok(_) => {}
            Err(StoreError::GuardFailed) => {
                let (current, _) = store.export_checkpoint(&tenant).await?;
                if current.is_some_and(|c| c.export_id == job.export_id) {
                    // Another run of this same job got there first, to the same keys.
                    restore_from_manifest(bucket, job).await?;
                    return publish_latest(bucket, job).await;
                }
                // Not a link of the chain after all: take the files away so nobody syncs
                // from them beside the export that won.
                for key in job
                    .files
                    .iter()
                    .map(|f| f.key.clone())
                    .chain(job.manifest_key.clone())
                {
                    bucket.delete(&key).await?;
                }
                return Err(ExportError::Superseded(
                    "another incremental export moved the checkpoint meanwhile; its files \
                     cover these changes (ask for a new export)"
                        .into(),
                ));
            }
            Err(e) => return Err(e.into()),
        }
    }
    publish_latest(bucket, job).await
}

/// Fills the job's rows, window and files from the manifest a run of it wrote.
async fn restore_from_manifest(
    bucket: &ExportBucket,
    job: &mut ExportJob,
) -> Result<(), ExportError> {
    let key = job.manifest_key_for();
    let body = bucket
        .get(&key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("manifest {key}")))?;
    #[derive(serde::Deserialize)]
    struct Written {
        since: Option<DateTime<Utc>>,
        rows: u64,
        files: Vec<ExportFile>,
    }
    let written: Written = serde_json::from_slice(&body)
        .map_err(|e| StoreError::Corrupt(format!("manifest {key}: {e}")))?;
    job.since = written.since;
    job.rows = written.rows;
    job.files = written.files;
    job.manifest_key = Some(key);
    Ok(())
}

/// Copies the job's manifest to the tenant's `latest.json`.
async fn publish_latest(bucket: &ExportBucket, job: &ExportJob) -> Result<(), ExportError> {
    let key = job
        .manifest_key
        .clone()
        .unwrap_or_else(|| job.manifest_key_for());
    let body = bucket
        .get(&key)
        .await?
        .ok_or_else(|| StoreError::NotFound(format!("manifest {key}")))?;
    bucket
        .put(
            &ExportJob::latest_key(&job.tenant),
            body,
            "application/json",
        )
        .await?;
    Ok(())
}

/// What a local export reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalWindow {
    Full,
    /// Changes since the tenant's checkpoint (read, never moved).
    SinceCheckpoint,
    Since(DateTime<Utc>),
}

/// Writes an export to `path` and its manifest to `<path>.manifest.json` (`stopgate export
/// --out`). It is not a link of the chain: the checkpoint never moves.
pub async fn write_local(
    store: &Store,
    tenant: &str,
    window: LocalWindow,
    path: &Path,
    format: ExportFormat,
    options: &ExportOptions,
    hook: ProgressHook<'_>,
) -> Result<Manifest, ExportError> {
    let snapshot = snapshot(store, tenant).await?;
    let until = Utc::now();
    let (kind, since, skip) = match window {
        LocalWindow::Full => (ExportKind::Full, None, HashSet::new()),
        LocalWindow::Since(t) => (ExportKind::Incremental, Some(t), HashSet::new()),
        LocalWindow::SinceCheckpoint => {
            let (checkpoint, _, skip) = chain(store, tenant).await?;
            (ExportKind::Incremental, checkpoint.map(|c| c.until), skip)
        }
    };
    let file = std::fs::File::create(path).map_err(|e| file_error(path, e))?;
    let out = FileOut {
        format,
        sink: Sink::Local {
            path: path.to_path_buf(),
            file: std::io::BufWriter::with_capacity(256 * 1024, file),
            bytes: 0,
        },
        hasher: Sha256::new(),
    };
    let walk = walk(tenant, snapshot.clone(), since, until, skip, true);
    let (files, rows, _) = produce(store, walk, vec![out], options, hook).await?;
    let manifest = manifest(tenant, None, kind, since, until, rows, files, &snapshot);
    let manifest_path = manifest_path(path);
    let body = serde_json::to_vec_pretty(&manifest).map_err(|e| file_error(&manifest_path, e))?;
    std::fs::write(&manifest_path, body).map_err(|e| file_error(&manifest_path, e))?;
    Ok(manifest)
}

/// `<file>.manifest.json`, beside the file.
pub fn manifest_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".manifest.json");
    PathBuf::from(name)
}

/// Asks for the scheduled export of every tenant whose schedule is due at `now`: claims the
/// tenant's slot, creates the job, and puts a request on the exports queue. A tenant that
/// fails is reported and the others still run.
pub async fn schedule(
    store: &Store,
    queue: &CaptureQueue,
    now: DateTime<Utc>,
) -> Result<Vec<(String, Result<Option<String>, StoreError>)>, StoreError> {
    let mut results = Vec::new();
    for tenant in store.tenant_ids().await? {
        let result = schedule_one(store, queue, &tenant, now).await;
        results.push((tenant, result));
    }
    Ok(results)
}

async fn schedule_one(
    store: &Store,
    queue: &CaptureQueue,
    tenant: &str,
    now: DateTime<Utc>,
) -> Result<Option<String>, StoreError> {
    let Some(snapshot) = store.load_tenant(tenant).await? else {
        return Ok(None);
    };
    let Some(interval) = snapshot.tenant.policy.export_schedule.interval() else {
        return Ok(None);
    };
    if !store
        .claim_scheduled_export(tenant, now, now - interval + SCHEDULE_TOLERANCE)
        .await?
    {
        return Ok(None);
    }
    let asked = async {
        let job = request(
            store,
            tenant,
            ExportKind::Incremental,
            None,
            ExportFormat::ALL.to_vec(),
            ExportVia::Schedule,
            Actor::System {
                reason: "export_schedule".into(),
            },
        )
        .await?;
        enqueue(store, queue, &job).await?;
        Ok::<String, StoreError>(job.export_id)
    }
    .await;
    match asked {
        Ok(id) => Ok(Some(id)),
        Err(e) => {
            if let Err(release) = store.release_scheduled_export(tenant).await {
                tracing::warn!(tenant, error = %release, "could not release the schedule claim");
            }
            Err(e)
        }
    }
}

/// Puts a job's request on the exports queue. A request that cannot be queued would leave the
/// job `running` with nothing to run it: the job is marked failed, saying why, and the error
/// returned.
pub async fn enqueue(
    store: &Store,
    queue: &CaptureQueue,
    job: &ExportJob,
) -> Result<(), StoreError> {
    let request = ExportRequest {
        tenant: job.tenant.clone(),
        export_id: job.export_id.clone(),
    };
    let body = serde_json::to_string(&request).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    let Err(e) = queue.send(&body).await else {
        return Ok(());
    };
    let failed = async {
        let (mut failed, version) = store
            .load_export(&job.tenant, &job.export_id)
            .await?
            .ok_or_else(|| StoreError::NotFound(format!("export {}", job.export_id)))?;
        failed.status = ExportStatus::Failed;
        failed.failure =
            Some("its request could not be put on the exports queue; ask for a new export".into());
        failed.updated_at = Utc::now();
        store.save_export(&failed, version).await
    }
    .await;
    if let Err(save) = failed {
        tracing::warn!(tenant = %job.tenant, export_id = %job.export_id, error = %save, "could not mark an unqueued export failed");
    }
    Err(e)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(keyword: Option<&str>) -> ExportRow {
        ExportRow {
            phone_number: "+14155550123".into(),
            status: Status::OptedOut,
            scope: "group:alerts, west".into(),
            changed_at: "2026-12-07T05:00:00.042Z".into(),
            source: Source::SmsKeyword,
            keyword: keyword.map(str::to_string),
            event_id: "01KB0000000000000000000000".into(),
        }
    }

    #[test]
    fn csv_and_json_lines_carry_the_same_columns() {
        let rows = [row(Some("stop")), row(None)];
        let csv = String::from_utf8(encode(ExportFormat::Csv, &rows, true).unwrap()).unwrap();
        assert_eq!(
            csv,
            "phone_number,status,scope,changed_at,source,keyword,event_id\n\
             +14155550123,opted_out,\"group:alerts, west\",2026-12-07T05:00:00.042Z,sms_keyword,stop,01KB0000000000000000000000\n\
             +14155550123,opted_out,\"group:alerts, west\",2026-12-07T05:00:00.042Z,sms_keyword,,01KB0000000000000000000000\n"
        );
        let jsonl = String::from_utf8(encode(ExportFormat::Jsonl, &rows, true).unwrap()).unwrap();
        let lines: Vec<serde_json::Value> = jsonl
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 2, "no header line in JSON Lines");
        let names: Vec<&str> = lines[0]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut columns = COLUMNS.to_vec();
        columns.sort_unstable();
        assert_eq!(names, columns);
        assert_eq!(lines[1]["keyword"], serde_json::Value::Null);
        assert_eq!(lines[0]["source"], "sms_keyword");
        for source in [
            Source::ReviewExpired,
            Source::Provider,
            Source::WebPreferences,
        ] {
            assert_eq!(
                serde_json::to_value(source).unwrap(),
                source_name(source),
                "CSV and JSON name sources alike"
            );
        }
    }

    #[test]
    fn a_local_manifest_sits_beside_its_file() {
        assert_eq!(
            manifest_path(Path::new("/tmp/out/opt-outs.csv")),
            PathBuf::from("/tmp/out/opt-outs.csv.manifest.json")
        );
    }
}
