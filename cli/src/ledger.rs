//! Commands over the ledger's contents: keyword settings and replies, the review queue, and
//! re-classification of stored inbound texts.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use serde_json::json;
use stopgate::consent::policy::ReplyTexts;
use stopgate::consent::{Actor, ReviewResolution, TenantPolicy};
use stopgate::flows::reclassify::{self, Finding};
use stopgate::flows::reviews::{self, ResolveError};
use stopgate::keywords::{Classifier, Intent, TenantKeyword};
use stopgate::store::reviews::{ReviewPosition, ReviewStatus};

use crate::{CliError, Env};

#[derive(Subcommand)]
pub enum KeywordsCommand {
    /// Add keywords of an intent in a language (e.g. `--intent opt_out --language it BASTA`).
    Add {
        tenant: String,
        #[arg(long, value_parser = parse_intent)]
        intent: Intent,
        #[arg(long, default_value = "en")]
        language: String,
        #[arg(required = true)]
        keywords: Vec<String>,
    },
    /// Remove keywords the tenant added (the default and FCC words cannot be removed).
    Remove {
        tenant: String,
        #[arg(required = true)]
        keywords: Vec<String>,
    },
    /// The tenant's added keywords, as JSON.
    List { tenant: String },
}

#[derive(Args)]
pub struct RepliesArgs {
    tenant: String,
    #[arg(long, default_value = "en")]
    language: String,
    #[arg(long)]
    opt_out_text: Option<String>,
    #[arg(long)]
    opt_in_text: Option<String>,
    #[arg(long)]
    help_text: Option<String>,
}

/// `stopgate reviews <tenant> [...]` lists, resolves or assigns; `stopgate reviews sweep
/// <tenant>` turns reviews past their due date into opt-outs.
#[derive(Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReviewsArgs {
    #[command(subcommand)]
    command: Option<ReviewsCommand>,
    #[command(flatten)]
    queue: ReviewQueueArgs,
}

#[derive(Subcommand)]
pub enum ReviewsCommand {
    /// Record an opt-out (source review_expired) for every review past its due date, and close
    /// it (what the scheduled sweeper does for every tenant).
    Sweep { tenant: String },
}

#[derive(Args)]
pub struct ReviewQueueArgs {
    tenant: Option<String>,
    #[arg(long, default_value = "open")]
    status: String,
    /// Resolve this review instead of listing.
    #[arg(long, requires = "resolution")]
    resolve: Option<String>,
    /// Name the owner of this review instead of listing.
    #[arg(long, requires = "owner", conflicts_with = "resolve")]
    assign: Option<String>,
    #[arg(long)]
    owner: Option<String>,
    #[arg(long)]
    resolution: Option<String>,
    #[arg(long)]
    note: Option<String>,
    /// Print JSON lines instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct ReclassifyArgs {
    tenant: String,
    /// RFC 3339 time: re-read messages recorded since then.
    #[arg(long)]
    since: String,
    /// Record the opt-outs found (as of each message); without it, only report them.
    #[arg(long)]
    apply: bool,
}

fn parse_intent(s: &str) -> Result<Intent, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "expected opt_out, opt_in, help or possible_revocation".to_string())
}

async fn policy(env: &Env, tenant: &str) -> Result<TenantPolicy, CliError> {
    Ok(env
        .store
        .load_tenant(tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?
        .tenant
        .policy)
}

pub async fn keywords(env: &Env, command: KeywordsCommand) -> Result<(), CliError> {
    match command {
        KeywordsCommand::List { tenant } => {
            let policy = policy(env, &tenant).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&policy.keywords)
                    .map_err(|e| CliError::Failed(e.to_string()))?
            );
            Ok(())
        }
        KeywordsCommand::Add {
            tenant,
            intent,
            language,
            keywords,
        } => {
            if intent == Intent::None {
                return Err(CliError::Usage("--intent none adds nothing".into()));
            }
            let language = language.trim().to_lowercase();
            if language.is_empty() || language.len() > 16 {
                return Err(CliError::Usage(
                    "--language must be a short language tag such as en, es, fr".into(),
                ));
            }
            let mut policy = policy(env, &tenant).await?;
            for keyword in keywords {
                let keyword = keyword.trim().to_string();
                if keyword.is_empty() || keyword.chars().count() > 60 {
                    return Err(CliError::Usage(format!(
                        "keyword {keyword:?} must be 1 to 60 characters"
                    )));
                }
                let entry = TenantKeyword {
                    intent,
                    language: language.clone(),
                    keyword,
                };
                if !policy.keywords.extra.contains(&entry) {
                    policy.keywords.extra.push(entry);
                }
            }
            let record = env.store.put_policy(&tenant, policy).await?;
            eprintln!(
                "keywords updated; {tenant} policy is now version {}",
                record.policy.version
            );
            Ok(())
        }
        KeywordsCommand::Remove { tenant, keywords } => {
            let mut policy = policy(env, &tenant).await?;
            let before = policy.keywords.extra.len();
            let wanted: Vec<String> = keywords
                .iter()
                .map(|k| stopgate::keywords::normalize(k))
                .collect();
            policy
                .keywords
                .extra
                .retain(|k| !wanted.contains(&stopgate::keywords::normalize(&k.keyword)));
            if policy.keywords.extra.len() == before {
                return Err(CliError::NotFound(
                    "those keywords among the tenant's additions (default and FCC words cannot be removed)".into(),
                ));
            }
            let record = env.store.put_policy(&tenant, policy).await?;
            eprintln!(
                "keywords removed; {tenant} policy is now version {}",
                record.policy.version
            );
            Ok(())
        }
    }
}

pub async fn replies(env: &Env, args: RepliesArgs) -> Result<(), CliError> {
    let mut policy = policy(env, &args.tenant).await?;
    for (name, text) in [
        ("--opt-out-text", &args.opt_out_text),
        ("--opt-in-text", &args.opt_in_text),
        ("--help-text", &args.help_text),
    ] {
        if text.as_ref().is_some_and(|t| t.chars().count() > 320) {
            return Err(CliError::Usage(format!(
                "{name} is longer than two SMS segments (320 characters)"
            )));
        }
    }
    let texts: &mut ReplyTexts = policy
        .replies
        .entry(args.language.trim().to_lowercase())
        .or_default();
    let set = |slot: &mut Option<String>, value: Option<String>| {
        if let Some(v) = value {
            *slot = Some(v).filter(|v| !v.trim().is_empty());
        }
    };
    set(&mut texts.opt_out, args.opt_out_text);
    set(&mut texts.opt_in, args.opt_in_text);
    set(&mut texts.help, args.help_text);
    let record = env.store.put_policy(&args.tenant, policy).await?;
    eprintln!(
        "replies updated; {} policy is now version {}",
        args.tenant, record.policy.version
    );
    Ok(())
}

fn review_error(review_id: &str, e: ResolveError) -> CliError {
    match e {
        ResolveError::AlreadyResolved(_) => {
            CliError::Exists(format!("a resolution of review {review_id}"))
        }
        ResolveError::NotFound(_) => CliError::NotFound(format!("review {review_id}")),
        e @ ResolveError::PastDue { .. } => CliError::Failed(e.to_string()),
        ResolveError::Store(e) => e.into(),
    }
}

pub async fn reviews(env: &Env, args: ReviewsArgs) -> Result<(), CliError> {
    if let Some(ReviewsCommand::Sweep { tenant }) = args.command {
        let policy = policy(env, &tenant).await?;
        let summary = reviews::sweep(&env.store, &tenant, &policy, Utc::now()).await?;
        println!(
            "{}",
            json!({"tenant": tenant, "expired": summary.expired, "open": summary.open, "due_soon": summary.due_soon})
        );
        return Ok(());
    }
    let args = args.queue;
    let tenant = args
        .tenant
        .ok_or_else(|| CliError::Usage("name the tenant: stopgate reviews <tenant>".into()))?;
    let policy = policy(env, &tenant).await?;
    if let (Some(review_id), Some(owner)) = (&args.assign, &args.owner) {
        let record = reviews::assign(&env.store, &tenant, review_id, owner)
            .await
            .map_err(|e| review_error(review_id, e))?;
        let line = stopgate::api::reviews::review_json(&record, None, true, &policy, Utc::now());
        println!("{line}");
        return Ok(());
    }
    if let Some(review_id) = args.resolve {
        let resolution = match args.resolution.as_deref() {
            Some("opt_out") => ReviewResolution::OptOut,
            Some("not_a_revocation") => ReviewResolution::NotARevocation,
            _ => {
                return Err(CliError::Usage(
                    "--resolution must be opt_out or not_a_revocation".into(),
                ));
            }
        };
        let record = reviews::resolve(
            &env.store,
            &tenant,
            &policy,
            &review_id,
            resolution,
            args.note,
            crate::operator(),
        )
        .await
        .map_err(|e| review_error(&review_id, e))?;
        let line = stopgate::api::reviews::review_json(&record, None, true, &policy, Utc::now());
        println!("{line}");
        return Ok(());
    }
    let status = match args.status.as_str() {
        "open" => ReviewStatus::Open,
        "resolved" => ReviewStatus::Resolved,
        _ => return Err(CliError::Usage("--status must be open or resolved".into())),
    };
    let mut after: Option<ReviewPosition> = None;
    let now = Utc::now();
    if !args.json {
        println!(
            "{:<28} {:<14} {:<20} {:<8} {:<10} TEXT",
            "REVIEW", "PHONE", "DUE", "OVERDUE", "STATUS"
        );
    }
    loop {
        let (records, next) = env
            .store
            .reviews_page(&tenant, status, after.as_ref(), 100)
            .await?;
        for record in &records {
            let text = env
                .store
                .private_evidence(&tenant, &record.phone, &record.event_id)
                .await?
                .and_then(|p| p.message_text);
            let line =
                stopgate::api::reviews::review_json(record, text.as_deref(), true, &policy, now);
            if args.json {
                println!("{line}");
            } else {
                println!(
                    "{:<28} {:<14} {:<20} {:<8} {:<10} {}",
                    record.review_id,
                    record.phone.masked(),
                    line["due_at"]
                        .as_str()
                        .unwrap_or("")
                        .get(..16)
                        .unwrap_or(""),
                    if line["overdue"].as_bool().unwrap_or(false) {
                        "yes"
                    } else {
                        "no"
                    },
                    record.status.as_str(),
                    text.unwrap_or_default().replace('\n', " "),
                );
            }
        }
        match next {
            Some(p) => after = Some(p),
            None => break,
        }
    }
    Ok(())
}

/// Re-runs today's classifier over stored inbound texts and reports (and with `--apply`
/// records) the opt-outs an earlier classifier missed: one JSON line per message on stdout.
pub async fn reclassify(env: &Env, args: ReclassifyArgs) -> Result<(), CliError> {
    let since = DateTime::parse_from_rfc3339(&args.since)
        .map_err(|e| CliError::Usage(format!("--since must be an RFC 3339 time: {e}")))?
        .with_timezone(&Utc);
    let policy = policy(env, &args.tenant).await?;
    let classifier = Classifier::new(&policy.keywords);
    let mut print = |finding: &Finding<'_>| {
        let (message, now) = (finding.message, finding.now);
        println!(
            "{}",
            json!({"event_id": message.event_id, "phone": message.phone.masked(), "was": message.kind,
                "was_rule": message.origin.rule, "was_classifier_version": message.origin.classifier_version,
                "now": now.intent, "rule": now.rule, "classifier_version": now.classifier_version,
                "recorded": finding.recorded})
        );
    };
    let summary = reclassify::reclassify(
        &env.store,
        &args.tenant,
        &classifier,
        since,
        args.apply,
        &mut print,
    )
    .await?;
    eprintln!(
        "examined {} messages; {} are opt-outs under classifier {}; {} recorded now",
        summary.examined,
        summary.found,
        stopgate::keywords::CLASSIFIER_VERSION,
        summary.recorded
    );
    Ok(())
}

/// `stopgate audit <tenant>`: the configuration changes, newest first.
#[derive(Args)]
pub struct AuditArgs {
    tenant: String,
    /// At most this many records (the newest).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// One JSON record per line instead of a table.
    #[arg(long)]
    json: bool,
}

pub async fn audit(env: &Env, args: AuditArgs) -> Result<(), CliError> {
    if env.store.load_tenant(&args.tenant).await?.is_none() {
        return Err(CliError::NotFound(format!("tenant {}", args.tenant)));
    }
    let mut records = Vec::new();
    let mut after = None;
    while records.len() < args.limit as usize {
        let want = (args.limit as usize - records.len()).min(200) as i32;
        let (page, next) = env
            .store
            .audit_page(&args.tenant, after.as_ref(), want)
            .await?;
        records.extend(page);
        match next {
            Some(position) => after = Some(position),
            None => break,
        }
    }
    for record in &records {
        if args.json {
            let line =
                serde_json::to_string(record).map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{line}");
        } else {
            println!("{}", audit_line(record));
        }
    }
    if !args.json && records.is_empty() {
        eprintln!("no configuration changes recorded for {}", args.tenant);
    }
    Ok(())
}

/// One record as a line: when, who, what, and each change as `field: before -> after`.
fn audit_line(record: &stopgate::consent::audit::AuditRecord) -> String {
    let who = match &record.actor {
        Actor::Operator { name } => format!("operator {name}"),
        Actor::ApiKey { key_id } => format!("key {key_id}"),
        Actor::System { reason } => format!("system ({reason})"),
        Actor::Person => "person".to_string(),
    };
    let shown = |v: &Option<serde_json::Value>| match v {
        None => "-".to_string(),
        Some(v) => {
            let text = v.to_string();
            if text.chars().count() > 60 {
                format!("{}…", text.chars().take(59).collect::<String>())
            } else {
                text
            }
        }
    };
    let changes: Vec<String> = record
        .changes
        .iter()
        .map(|c| format!("{}: {} -> {}", c.field, shown(&c.before), shown(&c.after)))
        .collect();
    format!(
        "{}  {:<24} {:<34} {:<16} {}",
        record.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        who,
        record.action.as_str(),
        record.target.as_deref().unwrap_or("-"),
        changes.join("; ")
    )
}
