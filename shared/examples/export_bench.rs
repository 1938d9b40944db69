//! The export benchmark (`make bench-export`, scripts/bench_export.sh): a full export of a large
//! opt-out list against DynamoDB Local and moto, beside a raw paginated `Query` of the same
//! change index in the same run. Each step is its own process, so each reports its own peak
//! memory (VmHWM).
//!
//!   export_bench load   --tenant T --rows N     N keyword STOPs of new numbers (bulk-written)
//!   export_bench query  --tenant T              every entry of the change index, nothing else
//!   export_bench states --tenant T              the same, and each entry's number's state as
//!                                               the export reads it (no rows, no files)
//!   export_bench export --tenant T --bucket B   a full export (CSV and JSON Lines) to B
//!
//! `--workers N` walks N index shards at once (default: the export's own setting).
//!
//! Each step prints one JSON line: rows, seconds, rows/s, peak RSS in MiB, and the CPU seconds
//! this process used (user + system), so the script can set them beside DynamoDB Local's.
// A benchmark tool: a failed step should stop it loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::time::Instant;

use chrono::{Duration, Utc};
use serde_json::json;
use stopgate::consent::Actor;
use stopgate::flows::exports::{self, ExportOptions, Progress, Ran};
use stopgate::store::export_files::ExportBucket;
use stopgate::store::exports::{ExportFormat, ExportKind, ExportVia};
use stopgate::store::{self, Store, keys};

/// Peak resident memory of this process, in MiB (Linux: VmHWM).
fn peak_rss_mib() -> f64 {
    rss_mib("VmHWM:")
}

/// A memory figure of this process from /proc/self/status, in MiB.
fn rss_mib(field: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

/// CPU seconds (user + system) this process has used, from /proc/self/stat. The clock ticks are
/// USER_HZ, which Linux fixes at 100 for every architecture's user-space ABI.
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|stat| {
            // The command name may hold spaces; the fields after it are plain numbers.
            let after_name = stat.rsplit_once(") ")?.1;
            let fields: Vec<&str> = after_name.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(f64::NAN)
}

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

fn report(step: &str, rows: u64, started: Instant) {
    let seconds = started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "step": step,
            "rows": rows,
            "seconds": (seconds * 10.0).round() / 10.0,
            "rows_per_second": (rows as f64 / seconds).round(),
            "peak_rss_mib": (peak_rss_mib() * 10.0).round() / 10.0,
            "cpu_seconds": (cpu_seconds() * 10.0).round() / 10.0,
        })
    );
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let step = args.get(1).cloned().unwrap_or_default();
    let tenant = arg(&args, "--tenant").expect("--tenant");
    let table = std::env::var("TABLE_NAME").expect("TABLE_NAME");
    let sdk = store::sdk_config(std::time::Duration::from_secs(30)).await;
    let store = Store::new(&sdk, table);
    let options = ExportOptions {
        shard_workers: arg(&args, "--workers")
            .map(|w| w.parse().expect("workers"))
            .unwrap_or(ExportOptions::default().shard_workers),
        ..ExportOptions::default()
    };
    match step.as_str() {
        "load" => {
            let rows: u64 = arg(&args, "--rows").expect("--rows").parse().expect("rows");
            match store.create_tenant(&tenant, Default::default()).await {
                Ok(_) | Err(store::StoreError::AlreadyExists(_)) => {}
                Err(e) => panic!("create tenant: {e}"),
            }
            let started = Instant::now();
            let mut last = Instant::now();
            stopgate::testing::bulk_opt_outs(
                &store,
                &tenant,
                0..rows,
                Utc::now() - Duration::hours(1),
                &mut |done| {
                    if last.elapsed().as_secs() >= 30 {
                        last = Instant::now();
                        eprintln!("loaded {done} of {rows}");
                    }
                },
            )
            .await;
            report("load", rows, started);
        }
        "query" | "states" => {
            // `query`: what the export's walk reads, with the same projection, page size and
            // shards at a time, and no state reads and no files: the index's own throughput.
            // `states`: that, and the states as the export reads them (strongly consistent
            // `BatchGetItem`, 100 a request), to show where the export's time goes.
            let states = step == "states";
            let workers = options.shard_workers;
            let next = Arc::new(AtomicU8::new(0));
            let entries = Arc::new(AtomicU64::new(0));
            let through = keys::change_sk_through(&Utc::now());
            let started = Instant::now();
            let mut handles = Vec::new();
            for _ in 0..workers {
                let (store, tenant, next, entries, through) = (
                    store.clone(),
                    tenant.clone(),
                    next.clone(),
                    entries.clone(),
                    through.clone(),
                );
                handles.push(tokio::spawn(async move {
                    loop {
                        let shard = next.fetch_add(1, Ordering::SeqCst);
                        if shard >= keys::CHANGE_SHARDS {
                            return;
                        }
                        let mut after = None;
                        loop {
                            let (page, more) = store
                                .change_entries(&tenant, shard, "0", &through, after.as_ref(), 1000)
                                .await
                                .expect("query");
                            entries.fetch_add(page.len() as u64, Ordering::Relaxed);
                            if states {
                                for chunk in page.chunks(100) {
                                    let phones: Vec<_> =
                                        chunk.iter().map(|e| e.phone.clone()).collect();
                                    store.load_states(&tenant, &phones).await.expect("states");
                                }
                            }
                            match more {
                                Some(k) => after = Some(k),
                                None => break,
                            }
                        }
                    }
                }));
            }
            for h in handles {
                h.await.expect("query worker");
            }
            report(&step, entries.load(Ordering::Relaxed), started);
        }
        "export" => {
            let bucket = ExportBucket::new(&sdk, arg(&args, "--bucket").expect("--bucket"));
            let job = exports::request(
                &store,
                &tenant,
                ExportKind::Full,
                None,
                ExportFormat::ALL.to_vec(),
                ExportVia::Cli,
                Actor::Operator {
                    name: "bench".into(),
                },
            )
            .await
            .expect("request");
            let started = Instant::now();
            let mut last = Instant::now();
            let mut progress = |p: &Progress| {
                if last.elapsed().as_secs() >= 30 {
                    last = Instant::now();
                    eprintln!(
                        "exported {} rows, {} parts, {:.1} MiB resident ({:.1} MiB at most)",
                        p.rows,
                        p.parts,
                        rss_mib("VmRSS:"),
                        peak_rss_mib()
                    );
                }
                Ok(())
            };
            let ran = exports::run(
                &store,
                &bucket,
                &tenant,
                &job.export_id,
                &options,
                &mut progress,
            )
            .await
            .expect("export");
            let Ran::Done(done) = ran else { panic!("busy") };
            report("export", done.rows, started);
            eprintln!(
                "files: {}",
                done.files
                    .iter()
                    .map(|f| format!("{} ({} bytes)", f.key, f.bytes))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
        }
        other => panic!("unknown step {other:?}: load, query or export"),
    }
}
