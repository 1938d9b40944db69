//! `stopgate hook`: a tenant's notification endpoints, their delivery log, and redelivery.

use chrono::Utc;
use clap::Subcommand;
use serde_json::json;
use stopgate::consent::notifications::NotificationType;
use stopgate::flows::notifications;
use stopgate::secrets::Sealer;
use stopgate::store::hook_http::{HookHttp, acceptable_url};
use stopgate::store::hooks::DeliveryStatus;

use crate::{CliError, Env};

#[derive(Subcommand)]
pub enum HookCommand {
    /// Add an endpoint: prints its id and signing secret as JSON (the secret only this once).
    Add {
        tenant: String,
        /// https:// (plain http:// only to a loopback address).
        url: String,
        /// Which notifications: all (the default), or a comma-separated list of opt_out,
        /// opt_in, consent_granted, consent_revoked, review_opened, review_resolved,
        /// review_expired, import_finished.
        #[arg(long, default_value = "all")]
        events: String,
    },
    /// The tenant's endpoints, one JSON object per line (secrets as tags only).
    List { tenant: String },
    /// Remove an endpoint: nothing more is sent to it, queued deliveries included.
    Remove { tenant: String, hook_id: String },
    /// An endpoint's delivery attempts, newest first, one JSON object per line.
    Log {
        tenant: String,
        hook_id: String,
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(i32).range(1..=1000))]
        limit: i32,
    },
    /// Send a logged delivery again now (same CloudEvent, new signature), and log the attempt.
    Redeliver {
        tenant: String,
        hook_id: String,
        delivery_id: String,
    },
}

pub async fn hooks(env: &Env, command: HookCommand) -> Result<(), CliError> {
    match command {
        HookCommand::Add {
            tenant,
            url,
            events,
        } => {
            let url = acceptable_url(&url).map_err(CliError::Usage)?;
            let events = NotificationType::parse_list(&events)
                .map_err(|e| CliError::Usage(format!("--events: {e}")))?;
            if env.store.hooks(&tenant).await?.len() >= notifications::MAX_HOOKS_PER_TENANT {
                return Err(CliError::Usage(format!(
                    "{tenant} has {} hooks already, the most a tenant may have; remove one first",
                    notifications::MAX_HOOKS_PER_TENANT
                )));
            }
            let (hook, secret) =
                notifications::add_hook(&env.store, &sealer(env), &tenant, &url, events).await?;
            println!(
                "{}",
                json!({"hook_id": hook.hook_id, "url": hook.url, "events": hook.events, "secret": secret})
            );
            eprintln!("the secret is shown once: keep it where the endpoint verifies signatures");
            Ok(())
        }
        HookCommand::List { tenant } => {
            env.store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
            for hook in env.store.hooks(&tenant).await?.values() {
                println!("{}", hook.shown());
            }
            Ok(())
        }
        HookCommand::Remove { tenant, hook_id } => {
            env.store.remove_hook(&tenant, &hook_id).await?;
            eprintln!("hook {hook_id} removed from {tenant}");
            Ok(())
        }
        HookCommand::Log {
            tenant,
            hook_id,
            limit,
        } => {
            for record in env.store.delivery_log(&tenant, &hook_id, limit).await? {
                let mut line =
                    serde_json::to_value(&record).map_err(|e| CliError::Failed(e.to_string()))?;
                // The body holds the number and is in the log for redelivery, not for reading.
                if let Some(map) = line.as_object_mut() {
                    map.remove("body");
                }
                println!("{line}");
            }
            Ok(())
        }
        HookCommand::Redeliver {
            tenant,
            hook_id,
            delivery_id,
        } => {
            let hook = env
                .store
                .hooks(&tenant)
                .await?
                .remove(&hook_id)
                .ok_or_else(|| CliError::NotFound(format!("hook {hook_id}")))?;
            let (delivery, attempt) =
                notifications::logged_delivery(&env.store, &tenant, &hook_id, &delivery_id).await?;
            let record = notifications::deliver(
                &env.store,
                &sealer(env),
                &HookHttp::new(),
                &hook,
                &delivery,
                attempt + 1,
                Utc::now(),
            )
            .await?;
            println!(
                "{}",
                json!({"delivery_id": record.delivery_id, "status": record.status,
                    "http_status": record.http_status, "error": record.error})
            );
            match record.status {
                DeliveryStatus::Delivered => Ok(()),
                DeliveryStatus::Failed => Err(CliError::Failed(format!(
                    "the endpoint did not take it: {}",
                    record.error.unwrap_or_default()
                ))),
            }
        }
    }
}

fn sealer(env: &Env) -> Sealer {
    Sealer::new(env.config.secrets_key.clone(), &env.sdk)
}
