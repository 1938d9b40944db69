//! API keys: random with a recognisable prefix, shown once, stored as SHA-256, carrying scopes.

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::ApiError;
use super::cache::{Lookup, TtlCache};
use crate::store::{ApiKeyRecord, Store};

pub const KEY_PREFIX: &str = "sg_live_";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum KeyScope {
    #[serde(rename = "check")]
    Check,
    /// Record consents; lifting an opt-out needs this scope (a send pipeline's `check` key cannot).
    #[serde(rename = "consents:write")]
    ConsentsWrite,
    #[serde(rename = "admin")]
    Admin,
}

impl KeyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            KeyScope::Check => "check",
            KeyScope::ConsentsWrite => "consents:write",
            KeyScope::Admin => "admin",
        }
    }
}

impl fmt::Display for KeyScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for KeyScope {
    type Err = String;
    fn from_str(s: &str) -> Result<KeyScope, String> {
        match s.trim() {
            "check" => Ok(KeyScope::Check),
            "consents:write" => Ok(KeyScope::ConsentsWrite),
            "admin" => Ok(KeyScope::Admin),
            other => Err(format!(
                "unknown scope {other:?}; expected check, consents:write or admin"
            )),
        }
    }
}

/// A fresh key and its public id. The key is returned once and never stored.
pub fn generate_key() -> (String, String) {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let secret: String = (0..40)
        .map(|_| char::from(ALPHABET[rng.random_range(0..ALPHABET.len())]))
        .collect();
    let key_id = format!("key_{}", ulid::Ulid::new());
    (format!("{KEY_PREFIX}{secret}"), key_id)
}

pub fn hash_key(key: &str) -> String {
    hex::encode(Sha256::digest(key.as_bytes()))
}

/// How long a key is cached in a warm function: a revocation takes effect within this bound.
pub const KEY_CACHE: Duration = Duration::from_secs(60);
/// How often a key's last use is written down (once per cache refresh at most, and not more
/// often than this).
const NOTE_USE_EVERY: chrono::Duration = chrono::Duration::minutes(5);

/// Authenticates `Authorization: Bearer <key>` headers, caching keys for up to [`KEY_CACHE`].
pub struct Authenticator {
    store: Store,
    cache: TtlCache<String, ApiKeyRecord>,
}

impl Authenticator {
    pub fn new(store: Store) -> Authenticator {
        Authenticator::with_cache_for(store, KEY_CACHE)
    }

    /// Caching keys for `ttl` instead of [`KEY_CACHE`] (tests of revocation use a short one).
    pub fn with_cache_for(store: Store, ttl: Duration) -> Authenticator {
        Authenticator {
            store,
            cache: TtlCache::new(ttl, Duration::ZERO),
        }
    }

    /// The key's record, if it holds any of `any_of`.
    pub async fn authenticate(
        &self,
        headers: &http::HeaderMap,
        any_of: &[KeyScope],
    ) -> Result<ApiKeyRecord, ApiError> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::Unauthorized("missing Authorization: Bearer <API key>".into())
            })?;
        let key = value
            .strip_prefix("Bearer ")
            .map(str::trim)
            .filter(|k| k.starts_with(KEY_PREFIX))
            .ok_or_else(|| {
                ApiError::Unauthorized("Authorization must be `Bearer sg_live_...`".into())
            })?;
        let hash = hash_key(key);
        let record = match self.cache.get(&hash) {
            Lookup::Fresh(record) => record,
            _ => {
                let record = self
                    .store
                    .find_api_key(&hash)
                    .await?
                    .ok_or_else(|| ApiError::Unauthorized("unknown API key".into()))?;
                if record.usable(chrono::Utc::now())
                    && let Err(e) = self
                        .store
                        .note_api_key_use(&hash, chrono::Utc::now(), NOTE_USE_EVERY)
                        .await
                {
                    // Bookkeeping only: a key that works is not refused for it.
                    tracing::warn!(error = %e, "could not note an API key's use");
                }
                let record = Arc::new(record);
                self.cache.put(hash, record.clone());
                record
            }
        };
        if record.revoked {
            return Err(ApiError::Unauthorized("this API key was revoked".into()));
        }
        if !record.usable(chrono::Utc::now()) {
            return Err(ApiError::Unauthorized("this API key has expired".into()));
        }
        if !any_of
            .iter()
            .any(|needed| record.scopes.iter().any(|s| s == needed.as_str()))
        {
            let names: Vec<&str> = any_of.iter().map(|s| s.as_str()).collect();
            return Err(ApiError::Forbidden(format!(
                "this API key needs the {} scope",
                names.join(" or ")
            )));
        }
        Ok((*record).clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_prefixed_random_and_hashed() {
        let (a, id_a) = generate_key();
        let (b, id_b) = generate_key();
        assert!(a.starts_with(KEY_PREFIX) && a.len() == KEY_PREFIX.len() + 40);
        assert_ne!(a, b);
        assert_ne!(id_a, id_b);
        assert_eq!(hash_key(&a).len(), 64);
        assert_ne!(hash_key(&a), hash_key(&b));
    }

    #[test]
    fn scopes_parse_from_their_names() {
        assert_eq!(
            "consents:write".parse::<KeyScope>(),
            Ok(KeyScope::ConsentsWrite)
        );
        assert!("write".parse::<KeyScope>().is_err());
    }
}
