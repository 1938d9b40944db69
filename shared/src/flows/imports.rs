//! Imports, every way in: the one pipeline `stopgate import`, an inline `POST /v1/imports` and
//! the import worker (uploads) share, and the worker's job handling. No HTTP here: the routes
//! are in `api::imports`.
//!
//! The pipeline reads the file on a blocking thread (`imports::ImportReader` over any `Read`)
//! and hands checked lines over a two-batch channel, so memory stays bounded whatever the size
//! of the file. Each batch: lines already claimed are found with one batch read; the rest are
//! committed with a few in flight (never two of one number at once, so they do not fight over
//! its state); then the job item records the counts and the last line done.

use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use chrono::Utc;

use crate::consent::ordering::Mark;
use crate::consent::record::opt_out_in_force;
use crate::consent::{Actor, EventKind, NumberState, SenderDirectory, TenantPolicy};
use crate::imports::{
    DEDUPE_PROVIDER, FileError, ImportReader, Layout, LineIssue, Parsed, PreparedLine, Tally,
};
use crate::phone::E164;
use crate::store::imports::{ImportJob, ImportStatus};
use crate::store::uploads::Uploads;
use crate::store::{Commit, CommitOutcome, DedupeClaim, Store, StoreError, TenantSnapshot};

/// A worker's hold on a job, renewed with every batch: a worker that dies mid-file leaves the
/// job to the next delivery of its notification after this.
const LEASE: chrono::Duration = chrono::Duration::minutes(2);
/// How long before Lambda's deadline the worker stops to save its place.
const DEADLINE_MARGIN: Duration = Duration::from_secs(30);

pub struct ApplyOptions {
    /// Lines read, checked and applied together; the job is saved after each batch.
    pub batch_lines: usize,
    /// Commits in flight at once.
    pub concurrency: usize,
    /// Stop between batches once this passes; the job can resume after its last line done.
    pub deadline: Option<Instant>,
}

impl ApplyOptions {
    pub fn new(concurrency: usize) -> ApplyOptions {
        ApplyOptions {
            batch_lines: 250,
            concurrency: concurrency.max(1),
            deadline: None,
        }
    }
}

/// How a run ended without an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunEnd {
    /// Every line is counted; the job is `done`.
    Finished,
    /// The deadline came first; the job is still `running` and resumable.
    OutOfTime,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    /// The file cannot be imported (a header error marks the job `failed`).
    #[error(transparent)]
    File(#[from] FileError),
    /// Storage failed: the job stays resumable; lines already committed are skipped next time.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What every line of one import shares.
pub struct ImportRun {
    store: Store,
    tenant_id: String,
    policy: TenantPolicy,
    directory: SenderDirectory,
    actor: Actor,
    source_file_sha256: String,
    /// Disclosures already stored by this run: each distinct text is written once.
    disclosures_written: Mutex<HashSet<String>>,
}

enum Outcome {
    Applied(Vec<LineIssue>),
    Duplicate,
    SkippedOptedOut(LineIssue),
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl ImportRun {
    pub fn new(
        store: Store,
        snapshot: &TenantSnapshot,
        actor: Actor,
        job: &ImportJob,
    ) -> ImportRun {
        ImportRun {
            store,
            tenant_id: job.tenant.clone(),
            policy: snapshot.tenant.policy.clone(),
            directory: snapshot.directory.clone(),
            actor,
            source_file_sha256: job.source_file_sha256.clone().unwrap_or_default(),
            disclosures_written: Mutex::new(HashSet::new()),
        }
    }

    async fn apply_line(&self, line: PreparedLine) -> Result<(u64, Outcome), StoreError> {
        let now = Utc::now();
        let (event, private) = line.event(
            &self.tenant_id,
            self.actor.clone(),
            now,
            now,
            &self.source_file_sha256,
        );
        let claim = DedupeClaim {
            provider: DEDUPE_PROVIDER.to_string(),
            message_id: line.dedupe_key.clone(),
            reply: None,
            nonce: None,
        };
        let disclosure = line
            .consent
            .disclosure(&event)
            .filter(|(sha, _)| !lock(&self.disclosures_written).contains(*sha));
        let commit = Commit {
            event: &event,
            private: Some(&private),
            dedupe: Some(claim.clone()),
            disclosure,
        };
        let outcome = if event.kind == EventKind::OptIn {
            // docs/rules.md rule 2: an import never lifts an opt-out, older or newer. Checked on the
            // state the commit is conditioned on, so an opt-out landing meanwhile counts too.
            let blocking: Mutex<Option<Mark>> = Mutex::new(None);
            let scope = &line.consent.scope;
            let holds = |state: &NumberState| {
                let found = opt_out_in_force(state, scope, &self.policy, &self.directory).cloned();
                let free = found.is_none();
                *lock(&blocking) = found;
                free
            };
            match self.store.commit_if(&commit, &holds).await {
                Err(StoreError::GuardFailed) => {
                    let opt_out = lock(&blocking).take();
                    return self.not_lifting(&line, commit, opt_out).await;
                }
                other => other?,
            }
        } else {
            self.store.commit(&commit).await?
        };
        if let (CommitOutcome::Recorded { .. }, Some((sha, _))) = (&outcome, disclosure) {
            lock(&self.disclosures_written).insert(sha.to_string());
        }
        Ok(match outcome {
            CommitOutcome::Recorded { .. } => (line.line, Outcome::Applied(line.warnings)),
            CommitOutcome::Duplicate(_) => (line.line, Outcome::Duplicate),
        })
    }

    /// An opt-in for a number that is opted out in an overlapping scope: its consent level (if
    /// it names one) is recorded as a grant, which moves the level and never the opt-out
    /// (`consent::state`); a bare opt-in has nothing else to record.
    async fn not_lifting(
        &self,
        line: &PreparedLine,
        commit: Commit<'_>,
        opt_out: Option<Mark>,
    ) -> Result<(u64, Outcome), StoreError> {
        let since = opt_out
            .map(|m| {
                format!(
                    " since {} (event {})",
                    m.occurred_at.to_rfc3339(),
                    m.event_id
                )
            })
            .unwrap_or_default();
        let (Some(category), Some(level)) = (commit.event.category, commit.event.level) else {
            let warning = LineIssue::new(
                line.line,
                &line.status_field,
                format!("opted out{since}; an import never lifts an opt-out: nothing recorded"),
            );
            return Ok((line.line, Outcome::SkippedOptedOut(warning)));
        };
        let mut grant = commit.event.clone();
        grant.kind = EventKind::Grant;
        let outcome = self
            .store
            .commit(&Commit {
                event: &grant,
                ..commit
            })
            .await?;
        if let (CommitOutcome::Recorded { .. }, Some((sha, _))) = (&outcome, commit.disclosure) {
            lock(&self.disclosures_written).insert(sha.to_string());
        }
        Ok(match outcome {
            CommitOutcome::Duplicate(_) => (line.line, Outcome::Duplicate),
            CommitOutcome::Recorded { .. } => {
                let mut warnings = line.warnings.clone();
                warnings.push(LineIssue::new(
                    line.line,
                    &line.status_field,
                    format!(
                        "opted out{since}; an import never lifts an opt-out: the {} {} consent is recorded as a grant and the number stays opted out",
                        serde_json::to_value(level).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                        serde_json::to_value(category).ok().and_then(|v| v.as_str().map(str::to_string)).unwrap_or_default(),
                    ),
                ));
                (line.line, Outcome::Applied(warnings))
            }
        })
    }

    async fn apply_batch(
        self: &Arc<Self>,
        batch: Vec<Parsed>,
        tally: &mut Tally,
        concurrency: usize,
    ) -> Result<(), StoreError> {
        let mut lines = Vec::with_capacity(batch.len());
        for parsed in batch {
            tally.lines += 1;
            match parsed {
                Parsed::Invalid(issue) => tally.error(issue),
                Parsed::Line(line) => lines.push(*line),
            }
        }
        let keys: Vec<&str> = lines.iter().map(|l| l.dedupe_key.as_str()).collect();
        let claimed = self
            .store
            .claimed_import_lines(&self.tenant_id, &keys)
            .await?;
        let mut outcomes = Vec::with_capacity(lines.len());
        // One number's lines go in file order through one task; numbers run side by side.
        let mut groups: Vec<Vec<PreparedLine>> = Vec::new();
        let mut group_of: HashMap<E164, usize> = HashMap::new();
        for line in lines {
            if claimed.contains(&line.dedupe_key) {
                outcomes.push((line.line, Outcome::Duplicate));
                continue;
            }
            let i = *group_of
                .entry(line.consent.phone.clone())
                .or_insert_with(|| {
                    groups.push(Vec::new());
                    groups.len() - 1
                });
            if let Some(group) = groups.get_mut(i) {
                group.push(line);
            }
        }
        let mut tasks = tokio::task::JoinSet::new();
        for group in groups {
            while tasks.len() >= concurrency {
                outcomes.extend(joined(tasks.join_next().await)?);
            }
            let run = Arc::clone(self);
            tasks.spawn(async move {
                let mut done = Vec::with_capacity(group.len());
                for line in group {
                    done.push(run.apply_line(line).await?);
                }
                Ok::<_, StoreError>(done)
            });
        }
        while let Some(result) = tasks.join_next().await {
            outcomes.extend(joined(Some(result))?);
        }
        outcomes.sort_by_key(|(line, _)| *line);
        for (_, outcome) in outcomes {
            match outcome {
                Outcome::Applied(warnings) => {
                    tally.applied += 1;
                    warnings.into_iter().for_each(|w| tally.warning(w));
                }
                Outcome::Duplicate => tally.skipped_duplicates += 1,
                Outcome::SkippedOptedOut(warning) => {
                    tally.skipped_opted_out += 1;
                    tally.warning(warning);
                }
            }
        }
        Ok(())
    }
}

type Joined = Option<Result<Result<Vec<(u64, Outcome)>, StoreError>, tokio::task::JoinError>>;

fn joined(result: Joined) -> Result<Vec<(u64, Outcome)>, StoreError> {
    match result {
        None => Ok(vec![]),
        Some(Ok(outcomes)) => outcomes,
        Some(Err(e)) => Err(StoreError::Unavailable(format!("import task failed: {e}"))),
    }
}

enum FromReader {
    Header {
        layout: Layout,
        warnings: Vec<LineIssue>,
    },
    Batch(Vec<Parsed>),
    Failed(FileError),
}

/// Reads `reader` to its end (or to `options.deadline`), applying its lines in batches and
/// saving `job` (guarded by `version`) after each one, then marks it done. A header that
/// matches no layout marks it failed. `progress` sees the job after every batch.
pub async fn run_import<R: Read + Send + 'static>(
    run: Arc<ImportRun>,
    reader: R,
    job: &mut ImportJob,
    version: &mut u64,
    options: &ApplyOptions,
    progress: &mut (dyn FnMut(&ImportJob) + Send),
) -> Result<RunEnd, ImportError> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<FromReader>(2);
    let policy = run.policy.clone();
    let file_sha = run.source_file_sha256.clone();
    let resume_after = job.done_through_line;
    let batch_lines = options.batch_lines.max(1);
    let reading = tokio::task::spawn_blocking(move || {
        let mut reader = match ImportReader::new(reader) {
            Ok(r) => r,
            Err(e) => {
                let _ = tx.blocking_send(FromReader::Failed(e));
                return;
            }
        };
        reader.resume_after(resume_after);
        let header = FromReader::Header {
            layout: reader.layout(),
            warnings: reader.header_warnings().to_vec(),
        };
        if tx.blocking_send(header).is_err() {
            return;
        }
        let mut batch = Vec::with_capacity(batch_lines);
        let mut now = Utc::now();
        loop {
            match reader.next_line(&policy, now, &file_sha) {
                None => break,
                Some(Err(e)) => {
                    let _ = tx.blocking_send(FromReader::Failed(e));
                    return;
                }
                Some(Ok(parsed)) => batch.push(parsed),
            }
            if batch.len() >= batch_lines {
                let full = std::mem::replace(&mut batch, Vec::with_capacity(batch_lines));
                // The receiver is gone when the run stopped early: nothing more to read.
                if tx.blocking_send(FromReader::Batch(full)).is_err() {
                    return;
                }
                now = Utc::now();
            }
        }
        if !batch.is_empty() {
            let _ = tx.blocking_send(FromReader::Batch(batch));
        }
    });

    let result = consume(&run, &mut rx, job, version, options, progress).await;
    drop(rx);
    // The reader thread ends once the channel is closed; its panic would be a bug worth seeing.
    if let Err(e) = reading.await {
        tracing::error!(error = %e, "import reader thread failed");
    }
    match result {
        Ok(RunEnd::Finished) => {
            job.status = ImportStatus::Done;
            job.lease_until = None;
            job.updated_at = Utc::now();
            *version = run.store.save_import(job, *version).await?;
            Ok(RunEnd::Finished)
        }
        Err(ImportError::File(FileError::Header(reason))) => {
            job.tally.error(LineIssue::new(1, "header", reason.clone()));
            fail(
                &run.store,
                job,
                version,
                format!("line 1 (header): {reason}"),
            )
            .await;
            Err(ImportError::File(FileError::Header(reason)))
        }
        other => other,
    }
}

async fn consume(
    run: &Arc<ImportRun>,
    rx: &mut tokio::sync::mpsc::Receiver<FromReader>,
    job: &mut ImportJob,
    version: &mut u64,
    options: &ApplyOptions,
    progress: &mut (dyn FnMut(&ImportJob) + Send),
) -> Result<RunEnd, ImportError> {
    while let Some(message) = rx.recv().await {
        match message {
            FromReader::Failed(e) => return Err(e.into()),
            FromReader::Header { layout, warnings } => {
                job.layout = Some(layout);
                // A resumed import counted these the first time.
                if job.done_through_line == 0 {
                    warnings.into_iter().for_each(|w| job.tally.warning(w));
                }
            }
            FromReader::Batch(batch) => {
                if options.deadline.is_some_and(|d| Instant::now() >= d) {
                    return Ok(RunEnd::OutOfTime);
                }
                let last = batch
                    .last()
                    .map(Parsed::line)
                    .unwrap_or(job.done_through_line);
                run.apply_batch(batch, &mut job.tally, options.concurrency)
                    .await?;
                let now = Utc::now();
                job.done_through_line = last;
                job.updated_at = now;
                if job.lease_until.is_some() {
                    job.lease_until = Some(now + LEASE);
                }
                *version = run.store.save_import(job, *version).await?;
                progress(job);
            }
        }
    }
    Ok(RunEnd::Finished)
}

/// Marks a job failed, as far as storage allows: the failure itself is what the caller reports.
pub async fn fail(store: &Store, job: &mut ImportJob, version: &mut u64, reason: String) {
    job.status = ImportStatus::Failed;
    job.failure = Some(reason);
    job.lease_until = None;
    job.updated_at = Utc::now();
    match store.save_import(job, *version).await {
        Ok(v) => *version = v,
        Err(e) => {
            tracing::warn!(import_id = %job.import_id, error = %e, "could not mark the import failed")
        }
    }
}

/// What handling one upload notification came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    Done,
    Failed(String),
    /// Nothing to do (not an import key, an unknown or finished job): the notification is spent.
    Ignored(String),
    /// Not finished (stopped before the deadline, or another worker holds the job): deliver
    /// the notification again later.
    Retry(String),
}

/// Applies an uploaded file: claims its job, hashes the object (once), then streams it through
/// the pipeline from the job's last line done.
pub async fn process_upload(
    store: &Store,
    uploads: &Uploads,
    key: &str,
    deadline: Option<Instant>,
) -> Result<UploadOutcome, StoreError> {
    let Some((tenant, import_id)) = ImportJob::parse_upload_key(key) else {
        return Ok(UploadOutcome::Ignored(format!(
            "{key} is not an import upload"
        )));
    };
    let Some((mut job, mut version)) = store.load_import(tenant, import_id).await? else {
        return Ok(UploadOutcome::Ignored(format!("no import {import_id}")));
    };
    if job.object_key.as_deref() != Some(key) {
        return Ok(UploadOutcome::Ignored(format!(
            "import {import_id} takes no upload"
        )));
    }
    let now = Utc::now();
    match job.status {
        ImportStatus::Done | ImportStatus::Failed => {
            return Ok(UploadOutcome::Ignored(format!(
                "import {import_id} is already {}",
                job.status.as_str()
            )));
        }
        ImportStatus::Running if job.lease_until.is_some_and(|until| until > now) => {
            return Ok(UploadOutcome::Retry(format!(
                "import {import_id} is being applied by another worker"
            )));
        }
        _ => {}
    }
    job.status = ImportStatus::Running;
    job.lease_until = Some(now + LEASE);
    job.updated_at = now;
    version = match store.save_import(&job, version).await {
        Err(StoreError::GuardFailed) => {
            return Ok(UploadOutcome::Retry(format!(
                "import {import_id} was claimed concurrently"
            )));
        }
        other => other?,
    };
    let Some(snapshot) = store.load_tenant(tenant).await? else {
        let reason = format!("tenant {tenant} no longer exists");
        fail(store, &mut job, &mut version, reason.clone()).await;
        return Ok(UploadOutcome::Failed(reason));
    };
    let gone = "the upload is gone (uploads expire after 7 days); create a new import";
    if job.source_file_sha256.is_none() {
        match uploads.sha256(key).await {
            Ok((sha, size)) => {
                job.source_file_sha256 = Some(sha);
                job.size = Some(size);
                version = store.save_import(&job, version).await?;
            }
            Err(StoreError::NotFound(_)) => {
                fail(store, &mut job, &mut version, gone.into()).await;
                return Ok(UploadOutcome::Failed(gone.into()));
            }
            Err(e) => return Err(e),
        }
    }
    let reader = match uploads.open(key).await {
        Ok(r) => r,
        Err(StoreError::NotFound(_)) => {
            fail(store, &mut job, &mut version, gone.into()).await;
            return Ok(UploadOutcome::Failed(gone.into()));
        }
        Err(e) => return Err(e),
    };
    let actor = job.actor.clone();
    let run = Arc::new(ImportRun::new(store.clone(), &snapshot, actor, &job));
    let options = ApplyOptions {
        deadline: deadline.map(|d| d.checked_sub(DEADLINE_MARGIN).unwrap_or(d)),
        ..ApplyOptions::new(16)
    };
    match run_import(run, reader, &mut job, &mut version, &options, &mut |_| {}).await {
        Ok(RunEnd::Finished) => Ok(UploadOutcome::Done),
        Ok(RunEnd::OutOfTime) => {
            // Let the next delivery take over at once.
            job.lease_until = None;
            store.save_import(&job, version).await?;
            Ok(UploadOutcome::Retry(format!(
                "stopped before the deadline after line {}",
                job.done_through_line
            )))
        }
        Err(ImportError::File(FileError::Header(reason))) => Ok(UploadOutcome::Failed(reason)),
        Err(ImportError::Store(StoreError::GuardFailed)) => Ok(UploadOutcome::Retry(format!(
            "import {import_id} was taken over by another worker"
        ))),
        Err(ImportError::Store(e)) => Err(e),
        // A broken download, not a broken file: the next delivery resumes.
        Err(ImportError::File(e)) => Err(StoreError::Unavailable(e.to_string())),
    }
}
