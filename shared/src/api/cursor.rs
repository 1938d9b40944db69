//! Opaque pagination cursors: encrypted (AES-256-GCM) and bound to the tenant and the query, so
//! a cursor never exposes a key or a number and cannot be used by another tenant.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::ApiError;

#[derive(Clone)]
pub struct Cursors {
    key: [u8; 32],
}

impl std::fmt::Debug for Cursors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Cursors(<key>)")
    }
}

impl Cursors {
    pub fn new(key: [u8; 32]) -> Cursors {
        Cursors { key }
    }

    /// `binding` names what the cursor may be used for (tenant, route, query).
    pub fn seal<T: Serialize>(&self, binding: &str, position: &T) -> Result<String, ApiError> {
        let cipher = Aes256Gcm::new_from_slice(&self.key)
            .map_err(|_| ApiError::Unavailable("cursor key".into()))?;
        let nonce: [u8; 12] = rand::random();
        let plain =
            serde_json::to_vec(position).map_err(|e| ApiError::Unavailable(e.to_string()))?;
        let sealed = cipher
            .encrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &plain,
                    aad: binding.as_bytes(),
                },
            )
            .map_err(|_| ApiError::Unavailable("cursor".into()))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(B64.encode(out))
    }

    pub fn open<T: DeserializeOwned>(&self, binding: &str, cursor: &str) -> Result<T, ApiError> {
        let bad = || {
            ApiError::invalid(
                "invalid_cursor",
                "cursor",
                "cursor is not valid for this request",
            )
        };
        let bytes = B64.decode(cursor.trim()).map_err(|_| bad())?;
        if bytes.len() < 12 + 16 {
            return Err(bad());
        }
        let (nonce, body) = bytes.split_at(12);
        let cipher = Aes256Gcm::new_from_slice(&self.key)
            .map_err(|_| ApiError::Unavailable("cursor key".into()))?;
        let plain = cipher
            .decrypt(
                Nonce::from_slice(nonce),
                Payload {
                    msg: body,
                    aad: binding.as_bytes(),
                },
            )
            .map_err(|_| bad())?;
        serde_json::from_slice(&plain).map_err(|_| bad())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_are_bound() {
        let cursors = Cursors::new([3; 32]);
        let c = cursors
            .seal("tenant-a|history|+14155550123", &("EV#01", 5))
            .unwrap();
        assert!(!c.contains("4155550123"));
        let back: (String, u32) = cursors.open("tenant-a|history|+14155550123", &c).unwrap();
        assert_eq!(back, ("EV#01".to_string(), 5));
        assert!(
            cursors
                .open::<(String, u32)>("tenant-b|history|+14155550123", &c)
                .is_err()
        );
        assert!(
            cursors
                .open::<(String, u32)>("tenant-a|history|+14155550123", "garbage")
                .is_err()
        );
        assert!(
            Cursors::new([4; 32])
                .open::<(String, u32)>("tenant-a|history|+14155550123", &c)
                .is_err()
        );
    }
}
