//! `stopgate hook`: a tenant's notification endpoints, their delivery log, and redelivery.

use chrono::Utc;
use clap::Subcommand;
use serde_json::json;
use stopgate::consent::notifications::NotificationType;
use stopgate::flows::notifications::{self, Delivery, SEALED_AS};
use stopgate::secrets::Sealer;
use stopgate::store::hook_http::{HookHttp, acceptable_url};
use stopgate::store::hooks::{DeliveryStatus, Hook};

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
            let secret = notifications::new_secret();
            let sealed = sealer(env)
                .seal(&tenant, SEALED_AS, &secret)
                .await
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let hook = Hook {
                hook_id: format!("hook_{}", ulid::Ulid::new()),
                url: url.to_string(),
                events,
                secret_sealed: sealed,
                created_at: Utc::now(),
            };
            env.store.put_hook(&tenant, &hook).await?;
            println!(
                "{}",
                json!({"hook_id": hook.hook_id, "url": hook.url, "events": hook.events, "secret": secret})
            );
            eprintln!("the secret is shown once: keep it where the endpoint verifies signatures");
            Ok(())
        }
        HookCommand::List { tenant } => {
            let snapshot = env
                .store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
            for hook in snapshot.hooks.values() {
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
                .load_tenant(&tenant)
                .await?
                .and_then(|t| t.hooks.get(&hook_id).cloned())
                .ok_or_else(|| CliError::NotFound(format!("hook {hook_id}")))?;
            let logged = env
                .store
                .delivery_log(&tenant, &hook_id, 1000)
                .await?
                .into_iter()
                .find(|r| r.delivery_id == delivery_id)
                .ok_or_else(|| CliError::NotFound(format!("delivery {delivery_id}")))?;
            let delivery = Delivery {
                tenant: tenant.clone(),
                hook_id: hook_id.clone(),
                notification_id: logged.notification_id.clone(),
                kind: logged.kind,
                body: logged.body.clone(),
            };
            let record = notifications::deliver(
                &env.store,
                &sealer(env),
                &HookHttp::new(),
                &hook,
                &delivery,
                logged.attempt + 1,
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
