//! `stopgate`: the operator's command. It reads the same environment as the functions
//! (`TABLE_NAME`, `SECRETS_KMS_KEY_ID` or `SECRETS_DEV_KEY`, the AWS SDK's variables).
//! Logs and progress go to stderr; stdout carries exactly the command's output.

use std::collections::BTreeMap;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod access;
mod export;
mod hooks;
mod import;
mod ledger;
mod pages;
mod progress;
mod reconcile;
use stopgate::config::Config;
use stopgate::consent::{Actor, ExportSchedule, ReplyMode, SenderGroup, StopScope, TenantPolicy};
use stopgate::phone::{self, PhoneMode};
use stopgate::store::{self, SdkConfig, Store, StoreError};

#[derive(Parser)]
#[command(
    name = "stopgate",
    version,
    about = "Administer a Stopgate consent ledger"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Tenants and their policy.
    #[command(subcommand)]
    Tenant(TenantCommand),
    /// API keys.
    #[command(subcommand)]
    Key(access::KeyCommand),
    /// Provider secrets (sealed; never printed).
    #[command(subcommand)]
    Provider(access::ProviderCommand),
    /// Sender groups: which senders belong together, and their program and brand.
    #[command(subcommand, name = "sender-group")]
    SenderGroup(SenderGroupCommand),
    /// Recompute number state from the events (one number, or every number of the tenant).
    #[command(name = "rebuild-state")]
    RebuildState {
        tenant: String,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Check that each number's events still form an unbroken hash chain (none edited,
    /// removed or inserted since it was recorded): one JSON line per broken number naming its
    /// first broken link, then a summary. Exit code 1 if any chain is broken.
    Verify {
        tenant: String,
        #[arg(long)]
        phone: Option<String>,
    },
    /// Notification endpoints: what the ledger records, sent as signed CloudEvents.
    #[command(subcommand)]
    Hook(hooks::HookCommand),
    /// A tenant's added keywords.
    #[command(subcommand)]
    Keywords(ledger::KeywordsCommand),
    /// Set a tenant's reply texts for one language (used when Stopgate writes replies).
    Replies(ledger::RepliesArgs),
    /// List the possible-revocation review queue, or resolve one review.
    Reviews(ledger::ReviewsArgs),
    /// Re-run today's classifier over stored inbound texts; report (and with --apply record)
    /// the opt-outs an earlier version missed.
    Reclassify(ledger::ReclassifyArgs),
    /// Compare the tenant's providers' own opt-out lists (Telnyx, RingCentral, AWS) with the
    /// ledger: record the opt-outs Stopgate did not know, and report numbers opted in here but
    /// blocked at the provider, and opted out here but accepted there. The report as JSON on
    /// stdout; a provider without credentials is skipped; exit code 1 if one failed.
    Reconcile(reconcile::ReconcileArgs),
    /// Import consents and opt-outs from a CSV file of any size (Stopgate's layout, a RingCentral
    /// consent export or a Telnyx opt-out list): progress on stderr, the summary as JSON on
    /// stdout. Exits 0 even when some lines were bad (they are listed); re-running records
    /// nothing twice.
    Import(import::ImportArgs),
    /// Hosted opt-in forms (/p/<tenant>/<form>).
    #[command(subcommand)]
    Form(pages::FormCommand),
    /// Print a preference-page link for a number (opaque, signed, expiring; the number is not
    /// in it).
    Link(pages::LinkArgs),
    /// Export the opt-out list: to the exports bucket as the export function does (the summary
    /// as JSON on stdout), or with --out to a local file and <file>.manifest.json beside it.
    /// Progress on stderr.
    Export(export::ExportArgs),
    /// A number's full history, newest first, with its evidence resolved: a table, or with
    /// --json one object per event as POST /v1/numbers/history returns them.
    History(export::HistoryArgs),
    /// Who changed what in a tenant's configuration (policy, keywords, replies, sender groups,
    /// forms, API keys, provider secrets), newest first: a table, or with --json one record per
    /// line as GET /v1/audit returns them. Secret values never appear.
    Audit(ledger::AuditArgs),
    /// Classify texts as an inbound message would be: one JSON object per text on stdout.
    Classify {
        /// Classify with a tenant's keyword settings (needs the environment).
        #[arg(long)]
        tenant: Option<String>,
        #[arg(required = true)]
        texts: Vec<String>,
    },
}

#[derive(Subcommand)]
enum TenantCommand {
    /// Create a tenant (exit code 3 if it exists).
    Create { tenant: String },
    /// Change a tenant's policy; unspecified settings keep their value.
    Set {
        tenant: String,
        #[arg(long, value_parser = parse_stop_scope)]
        stop_scope: Option<StopScope>,
        #[arg(long, value_parser = parse_reply_mode)]
        reply_mode: Option<ReplyMode>,
        #[arg(long)]
        default_region: Option<String>,
        #[arg(long)]
        strict_e164: Option<bool>,
        #[arg(long)]
        conversational_window_hours: Option<u32>,
        #[arg(long)]
        informational_unless_opted_out: Option<bool>,
        /// For the default HELP reply: the brand, a support contact, the message frequency.
        #[arg(long)]
        brand_name: Option<String>,
        #[arg(long)]
        support_contact: Option<String>,
        #[arg(long)]
        message_frequency: Option<String>,
        /// Sender groups (group:<name> or sender:<id>, comma-separated) where the business
        /// itself sends the one opt-out confirmation; empty (`""`) for none.
        #[arg(long, value_delimiter = ',')]
        business_confirms: Option<Vec<String>>,
        /// Business days (1 to 10) a possible revocation waits for review.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10))]
        review_business_days: Option<u32>,
        /// The tenant's time zone (IANA name, e.g. America/Chicago): business days are counted
        /// there. Default America/New_York.
        #[arg(long, value_parser = parse_time_zone)]
        time_zone: Option<String>,
        /// Quiet hours for recipients outside the 50 states and DC (Canada, territories), in
        /// their local time, as HH:MM-HH:MM (e.g. 09:00-20:00); `none` answers them
        /// unknown_location (the default).
        #[arg(long, value_parser = parse_outside_states)]
        quiet_hours_outside_states: Option<OutsideStates>,
        /// How often the scheduled incremental export runs: hourly, daily (the default),
        /// weekly or off.
        #[arg(long, value_parser = parse_export_schedule)]
        export_schedule: Option<ExportSchedule>,
        /// Days to keep the redactable personal data of events (message text, IP address,
        /// user agent; at least 30), or `keep` (the default) to keep it. Events, opt-outs and
        /// the record of every consent are kept whatever this says.
        #[arg(long, value_parser = parse_retention)]
        retention_days: Option<Retention>,
    },
    /// Print a tenant's configuration (without secrets) as JSON.
    Show { tenant: String },
}

#[derive(Subcommand)]
enum SenderGroupCommand {
    /// Delete a group. It is kept, without senders, so opt-outs scoped to it keep the members
    /// it had.
    Delete { tenant: String, group: String },
    Set {
        tenant: String,
        group: String,
        #[arg(long, value_delimiter = ',', required = true)]
        senders: Vec<String>,
        #[arg(long)]
        program: Option<String>,
        #[arg(long)]
        brand: Option<String>,
    },
}

#[derive(Debug, thiserror::Error)]
pub(crate) enum CliError {
    #[error("{0}")]
    Usage(String),
    #[error("{0} already exists")]
    Exists(String),
    #[error("{0} not found")]
    NotFound(String),
    #[error("{0}")]
    Failed(String),
}

impl CliError {
    fn exit_code(&self) -> u8 {
        match self {
            CliError::Usage(_) => 2,
            CliError::Exists(_) => 3,
            CliError::NotFound(_) => 4,
            CliError::Failed(_) => 1,
        }
    }
}

impl From<StoreError> for CliError {
    fn from(e: StoreError) -> CliError {
        match e {
            StoreError::AlreadyExists(what) => CliError::Exists(what),
            StoreError::NotFound(what) => CliError::NotFound(what),
            other => CliError::Failed(other.to_string()),
        }
    }
}

fn parse_stop_scope(s: &str) -> Result<StopScope, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "expected tenant, brand, program or sender_group".to_string())
}

/// `--quiet-hours-outside-states`: a window, or none.
#[derive(Clone)]
struct OutsideStates(Option<stopgate::consent::quiet_hours::DailyWindow>);

fn parse_outside_states(s: &str) -> Result<OutsideStates, String> {
    if s.trim() == "none" {
        return Ok(OutsideStates(None));
    }
    let (opens, closes) = s
        .split_once('-')
        .ok_or_else(|| format!("{s:?}: expected HH:MM-HH:MM (e.g. 09:00-20:00) or none"))?;
    stopgate::consent::quiet_hours::DailyWindow::new(opens.trim(), closes.trim())
        .map(|w| OutsideStates(Some(w)))
        .map_err(|e| e.to_string())
}

fn parse_time_zone(s: &str) -> Result<String, String> {
    s.trim()
        .parse::<chrono_tz::Tz>()
        .map(|zone| zone.name().to_string())
        .map_err(|_| format!("{s:?} is not an IANA time zone name (e.g. America/Chicago)"))
}

fn parse_export_schedule(s: &str) -> Result<ExportSchedule, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "expected hourly, daily, weekly or off".to_string())
}

/// `--retention-days`: a number of days, or keep.
#[derive(Clone)]
struct Retention(Option<u32>);

fn parse_retention(s: &str) -> Result<Retention, String> {
    use stopgate::consent::policy::MIN_RETENTION_DAYS;
    if s.trim() == "keep" {
        return Ok(Retention(None));
    }
    match s.trim().parse::<u32>() {
        Ok(days) if days >= MIN_RETENTION_DAYS => Ok(Retention(Some(days))),
        _ => Err(format!(
            "{s:?}: expected a number of days (at least {MIN_RETENTION_DAYS}) or keep"
        )),
    }
}

fn parse_reply_mode(s: &str) -> Result<ReplyMode, String> {
    serde_json::from_value(serde_json::Value::String(s.to_string()))
        .map_err(|_| "expected provider or stopgate".to_string())
}

#[tokio::main]
async fn main() -> ExitCode {
    stopgate::telemetry::init();
    let cli = Cli::parse();
    match run(cli.command).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stopgate: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}

pub(crate) struct Env {
    pub(crate) config: Config,
    pub(crate) sdk: SdkConfig,
    pub(crate) store: Store,
}

async fn env() -> Result<Env, CliError> {
    let config = Config::from_env().map_err(|e| CliError::Usage(e.to_string()))?;
    let sdk = store::sdk_config(config.sdk_timeout).await;
    // Every configuration change the CLI writes is audited as this operator's.
    let store = Store::new(&sdk, &config.table_name).acting_as(operator());
    Ok(Env { config, sdk, store })
}

/// The operator running the CLI, as events and the audit trail name them: `STOPGATE_OPERATOR`
/// (a name or an email, for shared accounts and CI), else the login name.
pub(crate) fn operator() -> Actor {
    let name = ["STOPGATE_OPERATOR", "USER"]
        .iter()
        .filter_map(|var| std::env::var(var).ok())
        .map(|name| name.trim().to_string())
        .find(|name| !name.is_empty())
        .unwrap_or_else(|| "operator".into());
    Actor::Operator { name }
}

fn require_id(kind: &str, id: &str) -> Result<(), CliError> {
    if stopgate::ids::valid_id(id) {
        Ok(())
    } else {
        Err(CliError::Usage(format!(
            "{kind} {id:?} must be 1-64 letters, digits, '-' or '_'"
        )))
    }
}

async fn run(command: Command) -> Result<(), CliError> {
    match command {
        Command::Classify { tenant, texts } => {
            let classifier = match tenant {
                None => None,
                Some(tenant) => {
                    let env = env().await?;
                    let snapshot = env
                        .store
                        .load_tenant(&tenant)
                        .await?
                        .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
                    Some(stopgate::keywords::Classifier::new(
                        &snapshot.tenant.policy.keywords,
                    ))
                }
            };
            for text in texts {
                let c = match &classifier {
                    Some(classifier) => classifier.classify(&text),
                    None => stopgate::keywords::classify(&text),
                };
                let line = serde_json::json!({"text": text, "intent": c.intent, "rule": c.rule, "language": c.language});
                println!("{line}");
            }
            Ok(())
        }
        Command::Import(args) => import::import(&env().await?, args).await,
        Command::Form(command) => pages::form(&env().await?, command).await,
        Command::Link(args) => pages::link(&env().await?, args).await,
        Command::Export(args) => export::export(&env().await?, args).await,
        Command::History(args) => export::history(&env().await?, args).await,
        Command::Keywords(command) => ledger::keywords(&env().await?, command).await,
        Command::Replies(args) => ledger::replies(&env().await?, args).await,
        Command::Reviews(args) => ledger::reviews(&env().await?, args).await,
        Command::Audit(args) => ledger::audit(&env().await?, args).await,
        Command::Hook(command) => hooks::hooks(&env().await?, command).await,
        Command::Reclassify(args) => ledger::reclassify(&env().await?, args).await,
        Command::Reconcile(args) => reconcile::reconcile(&env().await?, args).await,
        Command::Tenant(TenantCommand::Create { tenant }) => {
            require_id("tenant", &tenant)?;
            env()
                .await?
                .store
                .create_tenant(&tenant, TenantPolicy::default())
                .await?;
            eprintln!("tenant {tenant} created");
            Ok(())
        }
        Command::Tenant(TenantCommand::Set {
            tenant,
            stop_scope,
            reply_mode,
            default_region,
            strict_e164,
            conversational_window_hours,
            informational_unless_opted_out,
            brand_name,
            support_contact,
            message_frequency,
            review_business_days,
            time_zone,
            quiet_hours_outside_states,
            business_confirms,
            export_schedule,
            retention_days,
        }) => {
            let env = env().await?;
            let snapshot = env
                .store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
            let mut policy = snapshot.tenant.policy;
            if let Some(v) = stop_scope {
                policy.stop_scope = v;
            }
            if let Some(v) = reply_mode {
                policy.reply_mode = v;
            }
            if let Some(v) = default_region {
                let region = v.trim().to_ascii_uppercase();
                phone::normalize("2015550123", &region, PhoneMode::Lenient)
                    .map_err(|e| CliError::Usage(format!("--default-region {region}: {e}")))?;
                policy.default_region = region;
            }
            if let Some(v) = strict_e164 {
                policy.strict_e164 = v;
            }
            if let Some(v) = conversational_window_hours {
                policy.conversational_window_hours = v;
            }
            if let Some(v) = informational_unless_opted_out {
                policy.informational_unless_opted_out = v;
            }
            let text = |v: String| Some(v.trim().to_string()).filter(|v| !v.is_empty());
            if let Some(v) = brand_name {
                policy.brand_name = text(v);
            }
            if let Some(v) = support_contact {
                policy.support_contact = text(v);
            }
            if let Some(v) = message_frequency {
                policy.message_frequency = text(v);
            }
            if let Some(v) = time_zone {
                policy.time_zone = v;
            }
            if let Some(OutsideStates(window)) = quiet_hours_outside_states {
                policy.quiet_hours.outside_states = window;
            }
            if let Some(v) = review_business_days {
                policy.review_business_days = v;
            }
            if let Some(v) = export_schedule {
                policy.export_schedule = v;
            }
            if let Some(Retention(days)) = retention_days {
                policy.retention_days = days;
            }
            if let Some(groups) = business_confirms {
                let groups: Vec<String> = groups
                    .into_iter()
                    .map(|g| g.trim().to_string())
                    .filter(|g| !g.is_empty())
                    .collect();
                for g in &groups {
                    match g.parse::<stopgate::consent::Scope>() {
                        Ok(
                            stopgate::consent::Scope::Group(_)
                            | stopgate::consent::Scope::Sender(_),
                        ) => {}
                        _ => {
                            return Err(CliError::Usage(format!(
                                "--business-confirms takes group:<name> or sender:<id>, not {g:?}"
                            )));
                        }
                    }
                }
                policy.business_confirms = groups;
            }
            let record = env.store.put_policy(&tenant, policy).await?;
            eprintln!(
                "tenant {tenant} policy is now version {}",
                record.policy.version
            );
            Ok(())
        }
        Command::Tenant(TenantCommand::Show { tenant }) => {
            let env = env().await?;
            let snapshot = env
                .store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
            let providers: BTreeMap<&String, Vec<&String>> = snapshot
                .providers
                .iter()
                .map(|(p, s)| (p, s.values.keys().collect()))
                .collect();
            // Settings and rotation windows are not secret; the sealed values never leave.
            let settings: BTreeMap<&String, &BTreeMap<String, String>> = snapshot
                .providers
                .iter()
                .filter(|(_, s)| !s.settings.is_empty())
                .map(|(p, s)| (p, &s.settings))
                .collect();
            let previous_until: BTreeMap<&String, _> = snapshot
                .providers
                .iter()
                .filter(|(_, s)| !s.previous_until.is_empty())
                .map(|(p, s)| (p, &s.previous_until))
                .collect();
            let shown = serde_json::json!({
                "tenant": snapshot.tenant,
                "sender_groups": snapshot.directory.groups,
                "providers": providers,
                "provider_settings": settings,
                "previous_values_accepted_until": previous_until,
            });
            println!(
                "{}",
                serde_json::to_string_pretty(&shown)
                    .map_err(|e| CliError::Failed(e.to_string()))?
            );
            Ok(())
        }
        Command::Key(command) => access::keys(&env().await?, command).await,
        Command::Provider(command) => access::providers(&env().await?, command).await,
        Command::SenderGroup(SenderGroupCommand::Set {
            tenant,
            group,
            senders,
            program,
            brand,
        }) => {
            require_id("group", &group)?;
            let env = env().await?;
            let policy = env
                .store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?
                .tenant
                .policy;
            let senders = senders
                .iter()
                .map(|s| s.trim())
                .filter(|s| !s.is_empty())
                .map(|s| match policy.read_phone(s) {
                    Ok(n) => n.as_str().to_string(),
                    Err(_) => s.to_string(),
                })
                .collect::<Vec<_>>();
            if senders.is_empty() {
                return Err(CliError::Usage(
                    "--senders needs at least one sender".into(),
                ));
            }
            let g = SenderGroup {
                name: group.clone(),
                senders,
                program,
                brand,
                ..Default::default()
            };
            let stored = env.store.put_sender_group(&tenant, &g).await?;
            eprintln!(
                "sender group {group} set for {tenant} ({} senders, {} former)",
                stored.senders.len(),
                stored.former.len()
            );
            Ok(())
        }
        Command::SenderGroup(SenderGroupCommand::Delete { tenant, group }) => {
            require_id("group", &group)?;
            let env = env().await?;
            let deleted = env.store.delete_sender_group(&tenant, &group).await?;
            eprintln!(
                "sender group {group} deleted from {tenant}; opt-outs scoped to it keep its {} former members",
                deleted.former.len()
            );
            Ok(())
        }
        Command::RebuildState { tenant, phone } => {
            let env = env().await?;
            let numbers = numbers_of(&env, &tenant, phone.as_deref()).await?;
            let mut changed = 0;
            for n in &numbers {
                let (_, did_change) = env.store.rebuild_state(&tenant, n).await?;
                if did_change {
                    changed += 1;
                    eprintln!("rebuilt {}", n.masked());
                }
            }
            println!(
                "{}",
                serde_json::json!({"numbers": numbers.len(), "changed": changed})
            );
            Ok(())
        }
        Command::Verify { tenant, phone } => {
            let env = env().await?;
            let numbers = numbers_of(&env, &tenant, phone.as_deref()).await?;
            let (mut events, mut unchained, mut broken) = (0, 0, Vec::new());
            for number in &numbers {
                let (stored, head) = env.store.chain(&tenant, number).await?;
                let report = stopgate::consent::chain::verify(&stored, head.as_ref());
                events += report.events;
                unchained += report.unchained;
                if let Some(link) = report.broken {
                    let line = serde_json::json!({"phone": number.as_str(), "broken": link});
                    println!("{line}");
                    broken.push(number.as_str().to_string());
                }
            }
            println!(
                "{}",
                serde_json::json!({"numbers": numbers.len(), "events": events,
                    "unchained": unchained, "broken": broken.len()})
            );
            match broken.first() {
                None => Ok(()),
                Some(first) => Err(CliError::Failed(format!(
                    "the event chain of {} number(s) is broken, first {first} (the line above names the link)",
                    broken.len()
                ))),
            }
        }
    }
}

/// One number (`--phone`, read as the tenant writes numbers: its default region, strict or
/// not) or every number of the tenant.
async fn numbers_of(
    env: &Env,
    tenant: &str,
    phone: Option<&str>,
) -> Result<Vec<stopgate::phone::E164>, CliError> {
    match phone {
        Some(p) => Ok(vec![
            env.store
                .load_tenant(tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?
                .tenant
                .policy
                .read_phone(p)
                .map_err(|e| CliError::Usage(format!("--phone: {e}")))?,
        ]),
        None => Ok(env.store.tenant_numbers(tenant).await?),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_command_line_definition_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
