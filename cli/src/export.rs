//! `stopgate export <tenant>`: the tenant's opt-out list to the exports bucket (as the export
//! function writes it) or, with `--out`, to a local file and `<file>.manifest.json` beside it;
//! and `stopgate history <tenant> <phone>`: a number's history with its evidence, as
//! `POST /v1/numbers/history` returns it.

use std::path::PathBuf;
use std::time::Instant;

use chrono::{DateTime, Utc};
use clap::Args;
use serde_json::Value;
use stopgate::api::consents::history_entry;
use stopgate::flows::exports::{self, ExportError, ExportOptions, LocalWindow, Progress, Ran};
use stopgate::store::export_files::ExportBucket;
use stopgate::store::exports::{ExportFormat, ExportKind, ExportVia};
use stopgate::store::history::HistoryPosition;

use crate::{CliError, Env, progress};

#[derive(Args)]
pub struct ExportArgs {
    tenant: String,
    /// Every number and scope with a standing. Without it (and without --since): the changes
    /// since the tenant's last incremental export, continuing its chain.
    #[arg(long, conflicts_with = "since")]
    full: bool,
    /// The changes recorded since this RFC 3339 time (the chain's checkpoint does not move).
    #[arg(long)]
    since: Option<String>,
    /// Write this local file and <file>.manifest.json beside it, instead of the exports bucket
    /// (the chain's checkpoint does not move).
    #[arg(long)]
    out: Option<PathBuf>,
    /// csv or jsonl. With --out, absent: from the file's extension (.jsonl), else csv; to the
    /// bucket, absent: both.
    #[arg(long)]
    format: Option<String>,
}

#[derive(Args)]
pub struct HistoryArgs {
    tenant: String,
    /// The number, in any common format (the tenant's default region).
    phone: String,
    /// One JSON object per event (as POST /v1/numbers/history returns them) instead of a table.
    #[arg(long)]
    json: bool,
}

fn parse_format(s: &str) -> Result<ExportFormat, CliError> {
    match s {
        "csv" => Ok(ExportFormat::Csv),
        "jsonl" => Ok(ExportFormat::Jsonl),
        other => Err(CliError::Usage(format!(
            "--format {other:?}: expected csv or jsonl"
        ))),
    }
}

fn export_error(e: ExportError) -> CliError {
    match e {
        ExportError::Store(e) => e.into(),
        ExportError::NoTenant(t) => CliError::NotFound(format!("tenant {t}")),
        other => CliError::Failed(other.to_string()),
    }
}

pub async fn export(env: &Env, args: ExportArgs) -> Result<(), CliError> {
    let since = args
        .since
        .as_deref()
        .map(|s| {
            DateTime::parse_from_rfc3339(s)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|e| CliError::Usage(format!("--since {s:?}: an RFC 3339 time ({e})")))
        })
        .transpose()?;
    let options = ExportOptions::default();
    let bar = progress::rows("exporting");
    let started = Instant::now();
    let mut show = |p: &Progress| {
        bar.set_position(p.rows);
        bar.set_message(format!(
            "{} entries read, {:.1} MB written, {} parts",
            p.entries,
            p.bytes as f64 / 1e6,
            p.parts
        ));
        Ok(())
    };

    if let Some(path) = &args.out {
        let format = match &args.format {
            Some(f) => parse_format(f)?,
            None if path.extension().is_some_and(|e| e == "jsonl") => ExportFormat::Jsonl,
            None => ExportFormat::Csv,
        };
        let window = match (args.full, since) {
            (true, _) => LocalWindow::Full,
            (false, Some(t)) => LocalWindow::Since(t),
            (false, None) => LocalWindow::SinceCheckpoint,
        };
        let manifest = exports::write_local(
            &env.store,
            &args.tenant,
            window,
            path,
            format,
            &options,
            &mut show,
        )
        .await;
        bar.finish_and_clear();
        let manifest = manifest.map_err(export_error)?;
        eprintln!(
            "export: {} rows in {:.1} s to {} and {}",
            manifest.rows,
            started.elapsed().as_secs_f64(),
            path.display(),
            exports::manifest_path(path).display()
        );
        println!(
            "{}",
            serde_json::to_string(&manifest).map_err(|e| CliError::Failed(e.to_string()))?
        );
        return Ok(());
    }

    let bucket = env.config.exports_bucket.clone().ok_or_else(|| {
        CliError::Usage("EXPORTS_BUCKET is not set (or write a local file with --out)".into())
    })?;
    let bucket = ExportBucket::new(&env.sdk, bucket);
    let formats = match &args.format {
        Some(f) => vec![parse_format(f)?],
        None => ExportFormat::ALL.to_vec(),
    };
    if env.store.load_tenant(&args.tenant).await?.is_none() {
        return Err(CliError::NotFound(format!("tenant {}", args.tenant)));
    }
    let kind = if args.full {
        ExportKind::Full
    } else {
        ExportKind::Incremental
    };
    let job = exports::request(
        &env.store,
        &args.tenant,
        kind,
        since,
        formats,
        ExportVia::Cli,
        crate::operator(),
    )
    .await?;
    let ran = exports::run(
        &env.store,
        &bucket,
        &args.tenant,
        &job.export_id,
        &options,
        &mut show,
    )
    .await;
    bar.finish_and_clear();
    let job = match ran.map_err(export_error)? {
        Ran::Done(job) => job,
        Ran::Busy => return Err(CliError::Failed("another run holds this export".into())),
    };
    eprintln!(
        "export {}: {} rows in {:.1} s to s3://{}/{}",
        job.export_id,
        job.rows,
        started.elapsed().as_secs_f64(),
        bucket.bucket(),
        job.manifest_key.as_deref().unwrap_or_default(),
    );
    println!(
        "{}",
        stopgate::api::exports::job_json(&job, &Default::default())
    );
    Ok(())
}

/// Text of a JSON value, or "" when null.
fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// "2026-12-07T05:00:00.123Z" as "2026-12-07 05:00:00".
fn when(v: &Value) -> String {
    text(v).replace('T', " ").chars().take(19).collect()
}

/// The lines under an event in the table: what it says beyond its kind and scope, and its
/// evidence, resolved.
fn details(event: &Value) -> Vec<String> {
    let mut lines = Vec::new();
    let origin = &event["origin"];
    let mut said = Vec::new();
    if !origin["keyword"].is_null() {
        said.push(format!("keyword {:?}", text(&origin["keyword"])));
    }
    if !event["category"].is_null() {
        said.push(format!(
            "{} {}",
            text(&event["category"]),
            text(&event["level"])
        ));
    }
    if !origin["provider"].is_null() {
        said.push(format!(
            "via {} {}",
            text(&origin["provider"]),
            text(&origin["provider_message_id"])
        ));
    }
    if !origin["sender"].is_null() {
        said.push(format!("to {}", text(&origin["sender"])));
    }
    if event["override_opt_out"] == Value::Bool(true) {
        said.push("OVERRIDES AN OPT-OUT (written consent)".into());
    }
    if let Some(actor) = event["actor"].as_object() {
        let who = ["key_id", "name", "reason"]
            .iter()
            .find_map(|k| actor.get(*k).and_then(Value::as_str))
            .map(|w| format!(" {w}"))
            .unwrap_or_default();
        said.push(format!(
            "by {}{who}",
            actor.get("type").and_then(Value::as_str).unwrap_or("?")
        ));
    }
    lines.push(said.join("; "));
    let evidence = &event["evidence"];
    for (name, label) in [
        ("disclosure_text", "disclosure"),
        ("form_url", "form"),
        ("document_ref", "document"),
        ("agent", "agent"),
        ("source_file_sha256", "file sha256"),
        ("message_text", "text"),
        ("ip", "ip"),
        ("user_agent", "user agent"),
    ] {
        if !evidence[name].is_null() {
            lines.push(format!(
                "{label}: {}",
                text(&evidence[name]).replace('\n', " ")
            ));
        }
    }
    if evidence["redacted"] == Value::Bool(true) {
        lines.push("private data redacted".into());
    }
    lines
}

pub async fn history(env: &Env, args: HistoryArgs) -> Result<(), CliError> {
    let snapshot = env
        .store
        .load_tenant(&args.tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {}", args.tenant)))?;
    let phone = snapshot
        .tenant
        .policy
        .read_phone(&args.phone)
        .map_err(|e| CliError::Usage(format!("{}: {e}", args.phone)))?;
    if !args.json {
        println!(
            "{:<19}  {:<19}  {:<18}  {:<14}  {:<28}  EVENT",
            "RECORDED", "KIND", "SCOPE", "SOURCE", "OCCURRED (CLOCK)"
        );
    }
    let mut after: Option<HistoryPosition> = None;
    let mut count = 0;
    loop {
        let page =
            stopgate::flows::history::page(&env.store, &args.tenant, &phone, after.as_ref(), 100)
                .await?;
        for event in &page.events {
            let line = history_entry(&page, event, &snapshot);
            count += 1;
            if args.json {
                println!("{line}");
                continue;
            }
            println!(
                "{:<19}  {:<19}  {:<18}  {:<14}  {:<28}  {}",
                when(&line["recorded_at"]),
                text(&line["kind"]),
                text(&line["scope"]),
                text(&line["source"]),
                format!(
                    "{} ({})",
                    when(&line["occurred_at"]),
                    text(&line["time_source"])
                ),
                text(&line["event_id"]),
            );
            for detail in details(&line).iter().filter(|d| !d.is_empty()) {
                println!("{:<21}{detail}", "");
            }
        }
        match page.next {
            Some(p) => after = Some(p),
            None => break,
        }
    }
    eprintln!("{} events for {}", count, phone.masked());
    Ok(())
}
