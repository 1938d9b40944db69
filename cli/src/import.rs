//! `stopgate import <tenant> <file.csv>`: the file is read twice as a stream (once for its
//! SHA-256, which every event keeps, then line by line through the shared import pipeline),
//! so memory stays bounded whatever its size. Progress goes to stderr, the summary to stdout.

use std::fs::File;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use clap::Args;
use sha2::{Digest, Sha256};
use stopgate::api::imports::job_json;
use stopgate::flows::imports::{ApplyOptions, ImportError, ImportRun, fail, run_import};
use stopgate::store::imports::{ImportJob, ImportStatus, ImportVia};

use crate::{CliError, Env, progress};

#[derive(Args)]
pub struct ImportArgs {
    tenant: String,
    /// A CSV file: Stopgate's layout, a RingCentral consent export or a Telnyx opt-out list.
    file: PathBuf,
    /// Commits in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
}

/// Counts what the CSV reader has consumed, for the progress line.
struct Counted<R> {
    inner: R,
    read: Arc<AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn unreadable(path: &std::path::Path, e: std::io::Error) -> CliError {
    CliError::Failed(format!("cannot read {}: {e}", path.display()))
}

pub async fn import(env: &Env, args: ImportArgs) -> Result<(), CliError> {
    let snapshot = env
        .store
        .load_tenant(&args.tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {}", args.tenant)))?;
    let path = args.file.clone();
    let size = std::fs::metadata(&path)
        .map_err(|e| unreadable(&path, e))?
        .len();
    let read = Arc::new(AtomicU64::new(0));
    let hashing_bar = progress::bytes(size, "hashing");

    // Pass 1: the file's hash, which every event of this import carries.
    let hashing = {
        let (path, read) = (path.clone(), read.clone());
        tokio::task::spawn_blocking(move || -> std::io::Result<String> {
            let mut file = File::open(&path)?;
            let mut hasher = Sha256::new();
            let mut buf = vec![0u8; 256 * 1024];
            loop {
                let n = file.read(&mut buf)?;
                if n == 0 {
                    return Ok(hex::encode(hasher.finalize()));
                }
                hasher.update(buf.get(..n).unwrap_or_default());
                read.fetch_add(n as u64, Ordering::Relaxed);
            }
        })
    };
    tokio::pin!(hashing);
    let sha = loop {
        tokio::select! {
            done = &mut hashing => break done
                .map_err(|e| CliError::Failed(format!("hashing failed: {e}")))?
                .map_err(|e| unreadable(&path, e))?,
            _ = tokio::time::sleep(Duration::from_millis(100)) => {
                hashing_bar.set_position(read.load(Ordering::Relaxed));
            }
        }
    };
    hashing_bar.finish_and_clear();
    read.store(0, Ordering::Relaxed);

    let actor = crate::operator();
    let mut job = ImportJob::new(
        &args.tenant,
        ImportVia::Cli,
        ImportStatus::Running,
        actor.clone(),
        chrono::Utc::now(),
    );
    job.filename = path.file_name().map(|n| n.to_string_lossy().into_owned());
    job.size = Some(size);
    job.source_file_sha256 = Some(sha);
    let mut version = env.store.create_import(&job).await?;

    // Pass 2: line by line through the shared pipeline.
    let file = File::open(&path).map_err(|e| unreadable(&path, e))?;
    let reader = Counted {
        inner: file,
        read: read.clone(),
    };
    let run = Arc::new(ImportRun::new(env.store.clone(), &snapshot, actor, &job));
    let options = ApplyOptions::new(args.concurrency as usize);
    let started = Instant::now();
    let import_id = job.import_id.clone();
    let bar = progress::bytes(size, "importing");
    let mut show = |job: &ImportJob| {
        let t = &job.tally;
        bar.set_position(read.load(Ordering::Relaxed));
        bar.set_message(format!(
            "{} lines, applied {}, duplicates {}, errors {}, warnings {}, {:.0} lines/s",
            t.lines,
            t.applied,
            t.skipped_duplicates,
            t.error_count,
            t.warning_count,
            t.lines as f64 / started.elapsed().as_secs_f64().max(0.001),
        ));
    };
    let result = run_import(run, reader, &mut job, &mut version, &options, &mut show).await;
    bar.finish_and_clear();
    let t = &job.tally;
    eprintln!(
        "import {import_id}: {} lines in {:.1} s: applied {}, duplicates {}, opted out {}, errors {}, warnings {}",
        t.lines,
        started.elapsed().as_secs_f64(),
        t.applied,
        t.skipped_duplicates,
        t.skipped_opted_out,
        t.error_count,
        t.warning_count
    );
    let outcome = match result {
        Ok(_) => Ok(()),
        Err(ImportError::File(e)) => Err(CliError::Failed(e.to_string())),
        Err(ImportError::Store(e)) => {
            let reason = format!(
                "storage failed after line {}: {e}; run the import again (lines already applied are skipped)",
                job.done_through_line
            );
            fail(&env.store, &mut job, &mut version, reason.clone()).await;
            Err(CliError::Failed(reason))
        }
    };
    println!("{}", job_json(&job));
    outcome
}
