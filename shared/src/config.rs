//! Configuration, read once from the environment into a typed struct.
//!
//! The AWS SDK finds local services through its own variables (`AWS_ENDPOINT_URL_DYNAMODB`,
//! `AWS_ENDPOINT_URL_SQS`, ...); there is no "local mode" here.

use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is required")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// How provider secrets are sealed: KMS in AWS, a configured development key locally.
#[derive(Clone)]
pub enum SecretsKey {
    Kms { key_id: String },
    Dev { key: [u8; 32] },
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsKey::Kms { key_id } => write!(f, "Kms({key_id})"),
            SecretsKey::Dev { .. } => f.write_str("Dev(<redacted>)"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Config {
    pub table_name: String,
    /// Where verified webhooks go when the ledger cannot take them in time.
    pub capture_queue_url: Option<String>,
    /// The public URL providers call, used to verify URL-signing schemes (Twilio, Plivo).
    pub public_base_url: String,
    pub secrets_key: Option<SecretsKey>,
    /// How long the inbound path waits for the ledger before capturing instead.
    pub inbound_budget: Duration,
    /// Per-attempt timeout for every AWS SDK call.
    pub sdk_timeout: Duration,
    /// Encrypts pagination cursors (`CURSOR_KEY`, base64 of 32 bytes; derived from the
    /// development secrets key locally).
    pub cursor_key: Option<[u8; 32]>,
    /// The S3 bucket import files are uploaded to (`POST /v1/imports` presigns PUTs into it).
    pub imports_bucket: Option<String>,
    /// The queue the bucket notifies of uploads; read only by the local gateway, which drains
    /// it the way Lambda's SQS event source feeds the import worker.
    pub imports_queue_url: Option<String>,
    /// The S3 bucket opt-out exports are written to.
    pub exports_bucket: Option<String>,
    /// The queue of export requests (`POST /v1/exports` and the schedule put them there; the
    /// export function runs them).
    pub exports_queue_url: Option<String>,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Config::from_lookup(|name| std::env::var(name).ok())
    }

    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Config, ConfigError> {
        let non_empty = |name: &str| get(name).filter(|v| !v.trim().is_empty());
        let millis = |name: &'static str, default: u64| -> Result<Duration, ConfigError> {
            match non_empty(name) {
                None => Ok(Duration::from_millis(default)),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map(Duration::from_millis)
                    .map_err(|e| ConfigError::Invalid {
                        name,
                        reason: e.to_string(),
                    }),
            }
        };
        let secrets_key = match (
            non_empty("SECRETS_KMS_KEY_ID"),
            non_empty("SECRETS_DEV_KEY"),
        ) {
            (Some(key_id), _) => Some(SecretsKey::Kms { key_id }),
            (None, Some(encoded)) => Some(SecretsKey::Dev {
                key: decode_key("SECRETS_DEV_KEY", &encoded)?,
            }),
            (None, None) => None,
        };
        let secrets_key_for_cursor = secrets_key.clone();
        Ok(Config {
            table_name: non_empty("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            capture_queue_url: non_empty("CAPTURE_QUEUE_URL"),
            imports_bucket: non_empty("IMPORTS_BUCKET"),
            imports_queue_url: non_empty("IMPORTS_QUEUE_URL"),
            exports_bucket: non_empty("EXPORTS_BUCKET"),
            exports_queue_url: non_empty("EXPORTS_QUEUE_URL"),
            public_base_url: non_empty("PUBLIC_BASE_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            secrets_key,
            inbound_budget: millis("INBOUND_BUDGET_MS", 1500)?,
            sdk_timeout: millis("AWS_SDK_TIMEOUT_MS", 2000)?,
            cursor_key: match non_empty("CURSOR_KEY") {
                Some(secret) if secret.trim().len() >= 32 => {
                    Some(derive_cursor_key(secret.trim().as_bytes()))
                }
                Some(_) => {
                    return Err(ConfigError::Invalid {
                        name: "CURSOR_KEY",
                        reason: "must be a secret of at least 32 characters".into(),
                    });
                }
                None => match &secrets_key_for_cursor {
                    Some(SecretsKey::Dev { key }) => Some(derive_cursor_key(key)),
                    _ => None,
                },
            },
        })
    }
}

/// The cursor key, derived from a secret (`CURSOR_KEY`, or the development secrets key), so a
/// cursor never reveals anything about the secret it came from.
fn derive_cursor_key(secret: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(b"stopgate cursor key v1");
    hasher.update(secret);
    hasher.finalize().into()
}

fn decode_key(name: &'static str, encoded: &str) -> Result<[u8; 32], ConfigError> {
    use base64::Engine;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| ConfigError::Invalid {
            name,
            reason: e.to_string(),
        })?;
    bytes.try_into().map_err(|_| ConfigError::Invalid {
        name,
        reason: "must be 32 bytes, base64".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_defaults_and_rejects_bad_values() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let c = Config::from_lookup(env(&[
            ("TABLE_NAME", "t"),
            ("PUBLIC_BASE_URL", "https://x.test/"),
        ]))
        .unwrap();
        assert_eq!(c.public_base_url, "https://x.test");
        assert_eq!(c.inbound_budget, Duration::from_millis(1500));
        assert!(c.secrets_key.is_none());
        assert!(matches!(
            Config::from_lookup(env(&[])),
            Err(ConfigError::Missing("TABLE_NAME"))
        ));
        assert!(
            Config::from_lookup(env(&[("TABLE_NAME", "t"), ("SECRETS_DEV_KEY", "c2hvcnQ=")]))
                .is_err()
        );
        assert!(
            Config::from_lookup(env(&[("TABLE_NAME", "t"), ("INBOUND_BUDGET_MS", "soon")]))
                .is_err()
        );
    }
}
