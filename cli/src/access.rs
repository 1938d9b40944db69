//! Who may call and who may post webhooks: API keys (create, list, revoke) and provider
//! secrets and settings. Secret values are read from stdin or a file, never from the command
//! line (where `ps` and shell history would show them), and never printed.

use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;

use chrono::{Duration, Utc};
use clap::Subcommand;
use serde_json::json;
use stopgate::api::auth::{KEY_CACHE, KeyScope, generate_key, hash_key};
use stopgate::flows::provider_secrets::{self, SetError};
use stopgate::providers::Provider;
use stopgate::secrets::Sealer;
use stopgate::store::{ApiKeyRecord, Rotation};

use crate::{CliError, Env};

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key and print it (alone) on stdout; only its SHA-256 is stored.
    Create {
        tenant: String,
        #[arg(long, default_value = "check", value_delimiter = ',')]
        scopes: Vec<String>,
        /// Refuse the key after this long (e.g. 90d, 12h); default: never.
        #[arg(long, value_parser = parse_duration)]
        expires_in: Option<Duration>,
    },
    /// A tenant's keys: ids, scopes, created, expires, last used, revoked (never the key).
    List {
        tenant: String,
        /// JSON lines instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key: refused everywhere within a minute (the warm functions' key cache).
    Revoke { tenant: String, key_id: String },
}

#[derive(Subcommand)]
pub enum ProviderCommand {
    /// Set secrets as KEY=VALUE lines on stdin (or in --from-file), and settings as
    /// KEY=VALUE arguments (e.g. `require_v3=true`). A secret on the command line is refused.
    /// The value a secret replaces stays valid for --keep-previous (default 7d), or not at all
    /// with --replace.
    Set {
        tenant: String,
        provider: String,
        /// Settings only, e.g. `require_v3=true`.
        settings: Vec<String>,
        /// Read KEY=VALUE secret lines from this file instead of stdin.
        #[arg(long)]
        from_file: Option<PathBuf>,
        #[arg(long, value_parser = parse_duration, default_value = "7d", conflicts_with = "replace")]
        keep_previous: Duration,
        /// Drop the values these secrets replace at once.
        #[arg(long)]
        replace: bool,
    },
    /// Stop accepting every previous (rotated-out) value of a provider's secrets now.
    DropPrevious { tenant: String, provider: String },
}

/// `90d`, `12h`, `30m`, `45s`.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (number, unit) = s.split_at(s.len().saturating_sub(1));
    let n: i64 = number
        .parse()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| format!("{s:?}: expected a number and a unit, e.g. 7d, 12h, 30m"))?;
    match unit {
        "d" => Ok(Duration::days(n)),
        "h" => Ok(Duration::hours(n)),
        "m" => Ok(Duration::minutes(n)),
        "s" => Ok(Duration::seconds(n)),
        _ => Err(format!("{s:?}: the unit is d, h, m or s")),
    }
}

fn provider_named(name: &str) -> Result<Provider, CliError> {
    Provider::parse(name).ok_or_else(|| {
        let known: Vec<&str> = Provider::ALL.iter().map(|p| p.as_str()).collect();
        CliError::Usage(format!(
            "unknown provider {name:?}; known: {}",
            known.join(", ")
        ))
    })
}

fn pairs(lines: impl IntoIterator<Item = String>) -> Result<BTreeMap<String, String>, CliError> {
    let mut parsed = BTreeMap::new();
    for line in lines {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line
            .split_once('=')
            .ok_or_else(|| CliError::Usage("expected KEY=VALUE (the value is not shown)".into()))?;
        parsed.insert(name.trim().to_string(), value.trim().to_string());
    }
    Ok(parsed)
}

impl From<SetError> for CliError {
    fn from(e: SetError) -> CliError {
        match e {
            SetError::Invalid(reason) => CliError::Usage(reason),
            SetError::Store(e) => e.into(),
            other => CliError::Failed(other.to_string()),
        }
    }
}

pub async fn keys(env: &Env, command: KeyCommand) -> Result<(), CliError> {
    match command {
        KeyCommand::Create {
            tenant,
            scopes,
            expires_in,
        } => {
            let scopes = scopes
                .iter()
                .map(|s| s.parse::<KeyScope>().map(|s| s.as_str().to_string()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(CliError::Usage)?;
            let (key, key_id) = generate_key();
            let now = Utc::now();
            let expires_at = expires_in.map(|d| now + d);
            let record =
                ApiKeyRecord::new(key_id.clone(), &tenant, scopes.clone(), now, expires_at);
            env.store.put_api_key(&hash_key(&key), &record).await?;
            eprintln!(
                "key {key_id} created for {tenant} with scopes {}",
                scopes.join(",")
            );
            println!("{key}");
            Ok(())
        }
        KeyCommand::List { tenant, json } => {
            if env.store.load_tenant(&tenant).await?.is_none() {
                return Err(CliError::NotFound(format!("tenant {tenant}")));
            }
            let keys = env.store.api_keys(&tenant).await?;
            if !json {
                println!(
                    "{:<32} {:<28} {:<20} {:<20} {:<20} REVOKED",
                    "KEY ID", "SCOPES", "CREATED", "EXPIRES", "LAST USED"
                );
            }
            let day = |t: Option<chrono::DateTime<Utc>>| {
                t.map(|t| t.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "-".into())
            };
            for key in keys {
                if json {
                    println!(
                        "{}",
                        json!({"key_id": key.key_id, "scopes": key.scopes, "created_at": key.created_at,
                            "expires_at": key.expires_at, "last_used_at": key.last_used_at,
                            "revoked": key.revoked, "revoked_at": key.revoked_at})
                    );
                } else {
                    println!(
                        "{:<32} {:<28} {:<20} {:<20} {:<20} {}",
                        key.key_id,
                        key.scopes.join(","),
                        day(Some(key.created_at)),
                        day(key.expires_at),
                        day(key.last_used_at),
                        if key.revoked { "yes" } else { "no" }
                    );
                }
            }
            Ok(())
        }
        KeyCommand::Revoke { tenant, key_id } => {
            let record = env
                .store
                .revoke_api_key(&tenant, &key_id, Utc::now())
                .await?;
            eprintln!(
                "key {} of {tenant} revoked; warm functions refuse it within {} s",
                record.key_id,
                KEY_CACHE.as_secs()
            );
            Ok(())
        }
    }
}

pub async fn providers(env: &Env, command: ProviderCommand) -> Result<(), CliError> {
    match command {
        ProviderCommand::Set {
            tenant,
            provider,
            settings,
            from_file,
            keep_previous,
            replace,
        } => {
            let provider = provider_named(&provider)?;
            let settings = pairs(settings)?;
            if let Some(name) = settings
                .keys()
                .find(|name| provider.secret_names().contains(&name.as_str()))
            {
                return Err(CliError::Usage(format!(
                    "{name} is a secret: give it on stdin or with --from-file, never on the command line (ps and shell history show arguments)"
                )));
            }
            let secrets = if !settings.is_empty() && from_file.is_none() {
                BTreeMap::new()
            } else {
                let mut text = String::new();
                match &from_file {
                    Some(path) => {
                        std::fs::File::open(path)
                            .and_then(|mut f| f.read_to_string(&mut text))
                            .map_err(|e| {
                                CliError::Failed(format!("cannot read {}: {e}", path.display()))
                            })?;
                    }
                    None => {
                        if std::io::stdin().is_terminal() {
                            eprintln!(
                                "{provider} secrets as KEY=VALUE lines ({}), then Ctrl-D:",
                                provider.secret_names().join(", ")
                            );
                        }
                        for line in std::io::stdin().lock().lines() {
                            let line =
                                line.map_err(|e| CliError::Failed(format!("reading stdin: {e}")))?;
                            text.push_str(&line);
                            text.push('\n');
                        }
                    }
                }
                pairs(text.lines().map(str::to_string))?
            };
            if secrets.is_empty() && settings.is_empty() {
                return Err(CliError::Usage(
                    "no KEY=VALUE given: secrets on stdin or --from-file, settings as arguments"
                        .into(),
                ));
            }
            if !secrets.is_empty() {
                let sealer = Sealer::new(env.config.secrets_key.clone(), &env.sdk);
                let rotation = if replace {
                    Rotation::Replace
                } else {
                    Rotation::KeepPrevious(keep_previous)
                };
                provider_secrets::set_secrets(
                    &env.store, &sealer, &tenant, provider, &secrets, rotation,
                )
                .await?;
                eprintln!(
                    "{provider} secrets set for {tenant}: {}{}",
                    secrets.keys().cloned().collect::<Vec<_>>().join(", "),
                    if replace {
                        "; the values they replace are no longer accepted".to_string()
                    } else {
                        format!(
                            "; the values they replace stay accepted for {} h",
                            keep_previous.num_hours()
                        )
                    }
                );
            }
            if !settings.is_empty() {
                provider_secrets::set_settings(&env.store, &tenant, provider, &settings).await?;
                eprintln!("{provider} settings set for {tenant}: {settings:?}");
            }
            Ok(())
        }
        ProviderCommand::DropPrevious { tenant, provider } => {
            let provider = provider_named(&provider)?;
            let dropped = env
                .store
                .drop_previous_secrets(&tenant, provider.as_str())
                .await?;
            eprintln!("{dropped} previous {provider} value(s) of {tenant} no longer accepted");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_written() {
        assert_eq!(parse_duration("7d"), Ok(Duration::days(7)));
        assert_eq!(parse_duration("12h"), Ok(Duration::hours(12)));
        assert_eq!(parse_duration("30m"), Ok(Duration::minutes(30)));
        assert!(parse_duration("7").is_err());
        assert!(parse_duration("-1d").is_err());
        assert!(parse_duration("d").is_err());
        assert!(parse_duration("").is_err());
    }
}
