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
    /// `fingerprint_key_id`: a KMS HMAC key that fingerprints secrets (so one secret serves one
    /// tenant) without storing anything a guess could be checked against.
    Kms {
        key_id: String,
        fingerprint_key_id: Option<String>,
    },
    Dev {
        key: [u8; 32],
    },
}

impl std::fmt::Debug for SecretsKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SecretsKey::Kms { key_id, .. } => write!(f, "Kms({key_id})"),
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
    /// Encrypts pagination cursors (`CURSOR_KEY`, a secret of 32+ characters; derived from the
    /// development secrets key locally). In AWS it is derived at cold start from a KMS HMAC key
    /// (`CURSOR_KEY_KMS_ID`) that only the consent function may use, so it never sits in an
    /// environment variable.
    pub cursor_key: Option<[u8; 32]>,
    pub cursor_key_kms_id: Option<String>,
    /// Signs and seals what the hosted pages hand out: preference links and page tokens
    /// (`PAGES_KEY`, a secret of 32+ characters; derived from the development secrets key
    /// locally). In AWS it is derived at cold start from a KMS HMAC key (`PAGES_KEY_KMS_ID`)
    /// that only the pages and consent functions (and an operator's `stopgate link`) may use.
    pub pages_key: Option<[u8; 32]>,
    pub pages_key_kms_id: Option<String>,
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
    /// The queue of notification deliveries (the notify function fills it from the table's
    /// stream and drains it).
    pub hooks_queue_url: Option<String>,
    /// Whether tenants' admin keys may add plain-http hooks to a loopback address
    /// (`HOOKS_ALLOW_LOOPBACK=true`: `make dev` and tests); never set in a deployed stack.
    pub hooks_allow_loopback: bool,
    /// The EventBridge bus notifications are also put on (`EVENT_BUS_NAME`); none: not put.
    pub event_bus_name: Option<String>,
    /// Another EventBridge endpoint (`AWS_ENDPOINT_URL_EVENTS`: a local stand-in).
    pub events_endpoint: Option<String>,
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
            (Some(key_id), _) => Some(SecretsKey::Kms {
                key_id,
                fingerprint_key_id: non_empty("SECRETS_FINGERPRINT_KEY_ID"),
            }),
            (None, Some(encoded)) => Some(SecretsKey::Dev {
                key: decode_key("SECRETS_DEV_KEY", &encoded)?,
            }),
            (None, None) => None,
        };
        let secrets_key_for_cursor = secrets_key.clone();
        let derived = |name: &'static str, label: &[u8]| -> Result<Option<[u8; 32]>, ConfigError> {
            match non_empty(name) {
                Some(secret) if secret.trim().len() >= 32 => {
                    Ok(Some(derive_key(label, secret.trim().as_bytes())))
                }
                Some(_) => Err(ConfigError::Invalid {
                    name,
                    reason: "must be a secret of at least 32 characters".into(),
                }),
                None => Ok(match &secrets_key_for_cursor {
                    Some(SecretsKey::Dev { key }) => Some(derive_key(label, key)),
                    _ => None,
                }),
            }
        };
        Ok(Config {
            table_name: non_empty("TABLE_NAME").ok_or(ConfigError::Missing("TABLE_NAME"))?,
            capture_queue_url: non_empty("CAPTURE_QUEUE_URL"),
            imports_bucket: non_empty("IMPORTS_BUCKET"),
            imports_queue_url: non_empty("IMPORTS_QUEUE_URL"),
            exports_bucket: non_empty("EXPORTS_BUCKET"),
            exports_queue_url: non_empty("EXPORTS_QUEUE_URL"),
            hooks_queue_url: non_empty("HOOKS_QUEUE_URL"),
            hooks_allow_loopback: match non_empty("HOOKS_ALLOW_LOOPBACK").as_deref() {
                None | Some("false") => false,
                Some("true") => true,
                Some(other) => {
                    return Err(ConfigError::Invalid {
                        name: "HOOKS_ALLOW_LOOPBACK",
                        reason: format!("{other:?}: expected true or false"),
                    });
                }
            },
            event_bus_name: non_empty("EVENT_BUS_NAME"),
            events_endpoint: non_empty("AWS_ENDPOINT_URL_EVENTS"),
            public_base_url: non_empty("PUBLIC_BASE_URL")
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string(),
            secrets_key,
            inbound_budget: millis("INBOUND_BUDGET_MS", 1500)?,
            sdk_timeout: millis("AWS_SDK_TIMEOUT_MS", 2000)?,
            cursor_key_kms_id: non_empty("CURSOR_KEY_KMS_ID"),
            cursor_key: derived("CURSOR_KEY", CURSOR_LABEL)?,
            pages_key_kms_id: non_empty("PAGES_KEY_KMS_ID"),
            pages_key: derived("PAGES_KEY", PAGES_LABEL)?,
        })
    }
}

impl Config {
    /// Derives the cursor and pages keys from their KMS HMAC keys (`CURSOR_KEY_KMS_ID`,
    /// `PAGES_KEY_KMS_ID`) where no other is set: the MAC of a fixed label, the same for every
    /// warm function, never stored anywhere.
    pub async fn with_keys_from_kms(
        mut self,
        sdk: &aws_config::SdkConfig,
    ) -> Result<Config, ConfigError> {
        if let (None, Some(key_id)) = (self.cursor_key, &self.cursor_key_kms_id) {
            let mac = kms_mac(sdk, key_id, "CURSOR_KEY_KMS_ID", CURSOR_LABEL).await?;
            self.cursor_key = Some(derive_key(CURSOR_LABEL, &mac));
        }
        if let (None, Some(key_id)) = (self.pages_key, &self.pages_key_kms_id) {
            let mac = kms_mac(sdk, key_id, "PAGES_KEY_KMS_ID", PAGES_LABEL).await?;
            self.pages_key = Some(derive_key(PAGES_LABEL, &mac));
        }
        Ok(self)
    }
}

const CURSOR_LABEL: &[u8] = b"stopgate cursor key v1";
const PAGES_LABEL: &[u8] = b"stopgate pages key v1";

/// The MAC of `label` under the KMS HMAC key `key_id` (named by the variable `name`).
async fn kms_mac(
    sdk: &aws_config::SdkConfig,
    key_id: &str,
    name: &'static str,
    label: &[u8],
) -> Result<Vec<u8>, ConfigError> {
    let mac = aws_sdk_kms::Client::new(sdk)
        .generate_mac()
        .key_id(key_id)
        .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
        .message(aws_sdk_kms::primitives::Blob::new(label))
        .send()
        .await
        .map_err(|e| ConfigError::Invalid {
            name,
            reason: aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
        })?;
    Ok(mac.mac().map(|m| m.as_ref().to_vec()).unwrap_or_default())
}

/// A key derived from a secret (`CURSOR_KEY`, `PAGES_KEY`, or the development secrets key) for
/// one use, named by `label`: what one key protects never reveals anything about the secret it
/// came from, nor about another key derived from it.
fn derive_key(label: &[u8], secret: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(label);
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
        assert!(Config::from_lookup(env(&[("TABLE_NAME", "t"), ("PAGES_KEY", "short")])).is_err());
        let dev = Config::from_lookup(env(&[
            ("TABLE_NAME", "t"),
            (
                "SECRETS_DEV_KEY",
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
            ),
        ]))
        .unwrap();
        assert!(dev.pages_key.is_some() && dev.cursor_key.is_some());
        assert_ne!(dev.pages_key, dev.cursor_key, "one key per use");
    }
}
