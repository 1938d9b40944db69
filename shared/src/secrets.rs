//! Sealing provider secrets: KMS in AWS (tenant and provider as encryption context), a
//! configured AES-256-GCM development key locally. Plaintext never leaves this module's callers
//! except to verify a signature, and is never logged.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use crate::config::SecretsKey;

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("no secrets key is configured (set SECRETS_KMS_KEY_ID, or SECRETS_DEV_KEY locally)")]
    NotConfigured,
    #[error("sealed secret is malformed")]
    Malformed,
    #[error("sealed secret could not be opened (wrong key or context)")]
    Rejected,
    #[error("key service unavailable: {0}")]
    Unavailable(String),
    #[error("no fingerprint key is configured (SECRETS_FINGERPRINT_KEY_ID)")]
    NoFingerprintKey,
}

/// A secret value that does not print itself.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretString(String);

impl SecretString {
    pub fn new(value: String) -> SecretString {
        SecretString(value)
    }
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretString {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("<secret>")
    }
}

#[derive(Clone)]
pub struct Sealer {
    key: Option<SecretsKey>,
    kms: Option<aws_sdk_kms::Client>,
}

const DEV_PREFIX: &str = "dev1:";
const KMS_PREFIX: &str = "kms1:";

impl Sealer {
    pub fn new(key: Option<SecretsKey>, sdk: &aws_config::SdkConfig) -> Sealer {
        let kms =
            matches!(key, Some(SecretsKey::Kms { .. })).then(|| aws_sdk_kms::Client::new(sdk));
        Sealer { key, kms }
    }

    fn context(tenant: &str, provider: &str) -> String {
        format!("stopgate:tenant={tenant};stopgate:provider={provider}")
    }

    pub async fn seal(
        &self,
        tenant: &str,
        provider: &str,
        plaintext: &str,
    ) -> Result<String, SecretsError> {
        match (&self.key, &self.kms) {
            (Some(SecretsKey::Dev { key }), _) => {
                let cipher =
                    Aes256Gcm::new_from_slice(key).map_err(|_| SecretsError::NotConfigured)?;
                let nonce_bytes: [u8; 12] = rand::random();
                let aad = Sealer::context(tenant, provider);
                let sealed = cipher
                    .encrypt(
                        Nonce::from_slice(&nonce_bytes),
                        Payload {
                            msg: plaintext.as_bytes(),
                            aad: aad.as_bytes(),
                        },
                    )
                    .map_err(|_| SecretsError::Rejected)?;
                let mut out = nonce_bytes.to_vec();
                out.extend_from_slice(&sealed);
                Ok(format!("{DEV_PREFIX}{}", B64.encode(out)))
            }
            (Some(SecretsKey::Kms { key_id, .. }), Some(kms)) => {
                let out = kms
                    .encrypt()
                    .key_id(key_id)
                    .plaintext(Blob::new(plaintext.as_bytes()))
                    .encryption_context("stopgate:tenant", tenant)
                    .encryption_context("stopgate:provider", provider)
                    .send()
                    .await
                    .map_err(|e| {
                        SecretsError::Unavailable(
                            aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
                        )
                    })?;
                let blob = out.ciphertext_blob().ok_or(SecretsError::Malformed)?;
                Ok(format!("{KMS_PREFIX}{}", B64.encode(blob.as_ref())))
            }
            _ => Err(SecretsError::NotConfigured),
        }
    }

    /// A keyed fingerprint of a provider secret's value: equal values give equal fingerprints,
    /// and nothing about the value can be learnt or guessed from it without the key.
    pub async fn fingerprint(
        &self,
        provider: &str,
        name: &str,
        value: &str,
    ) -> Result<String, SecretsError> {
        let message = format!("stopgate fingerprint v1\n{provider}\n{name}\n{value}");
        match (&self.key, &self.kms) {
            (Some(SecretsKey::Dev { key }), _) => {
                use hmac::{Hmac, Mac};
                use sha2::{Digest, Sha256};
                let derived = Sha256::new()
                    .chain_update(b"stopgate fingerprint key v1")
                    .chain_update(key)
                    .finalize();
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&derived)
                    .map_err(|_| SecretsError::NotConfigured)?;
                mac.update(message.as_bytes());
                Ok(hex::encode(mac.finalize().into_bytes()))
            }
            (
                Some(SecretsKey::Kms {
                    fingerprint_key_id, ..
                }),
                Some(kms),
            ) => {
                let key_id = fingerprint_key_id
                    .as_deref()
                    .ok_or(SecretsError::NoFingerprintKey)?;
                let out = kms
                    .generate_mac()
                    .key_id(key_id)
                    .mac_algorithm(aws_sdk_kms::types::MacAlgorithmSpec::HmacSha256)
                    .message(Blob::new(message.as_bytes()))
                    .send()
                    .await
                    .map_err(|e| {
                        SecretsError::Unavailable(
                            aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
                        )
                    })?;
                let mac = out.mac().ok_or(SecretsError::Malformed)?;
                Ok(hex::encode(mac.as_ref()))
            }
            _ => Err(SecretsError::NotConfigured),
        }
    }

    pub async fn open(
        &self,
        tenant: &str,
        provider: &str,
        sealed: &str,
    ) -> Result<SecretString, SecretsError> {
        if let Some(encoded) = sealed.strip_prefix(DEV_PREFIX) {
            let Some(SecretsKey::Dev { key }) = &self.key else {
                return Err(SecretsError::NotConfigured);
            };
            let bytes = B64.decode(encoded).map_err(|_| SecretsError::Malformed)?;
            if bytes.len() < 12 {
                return Err(SecretsError::Malformed);
            }
            let (nonce, body) = bytes.split_at(12);
            let cipher = Aes256Gcm::new_from_slice(key).map_err(|_| SecretsError::NotConfigured)?;
            let aad = Sealer::context(tenant, provider);
            let plain = cipher
                .decrypt(
                    Nonce::from_slice(nonce),
                    Payload {
                        msg: body,
                        aad: aad.as_bytes(),
                    },
                )
                .map_err(|_| SecretsError::Rejected)?;
            return String::from_utf8(plain)
                .map(SecretString)
                .map_err(|_| SecretsError::Malformed);
        }
        if let Some(encoded) = sealed.strip_prefix(KMS_PREFIX) {
            let Some(kms) = &self.kms else {
                return Err(SecretsError::NotConfigured);
            };
            let bytes = B64.decode(encoded).map_err(|_| SecretsError::Malformed)?;
            let out = kms
                .decrypt()
                .ciphertext_blob(Blob::new(bytes))
                .encryption_context("stopgate:tenant", tenant)
                .encryption_context("stopgate:provider", provider)
                .send()
                .await
                .map_err(|e| {
                    SecretsError::Unavailable(
                        aws_sdk_kms::error::DisplayErrorContext(e).to_string(),
                    )
                })?;
            let plain = out.plaintext().ok_or(SecretsError::Malformed)?;
            return String::from_utf8(plain.as_ref().to_vec())
                .map(SecretString)
                .map_err(|_| SecretsError::Malformed);
        }
        Err(SecretsError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dev() -> Sealer {
        let sdk = aws_config::SdkConfig::builder().build();
        Sealer::new(Some(SecretsKey::Dev { key: [7u8; 32] }), &sdk)
    }

    #[tokio::test]
    async fn dev_key_round_trips_and_binds_tenant_and_provider() {
        let sealer = dev();
        let sealed = sealer.seal("acme", "twilio", "s3cret-token").await.unwrap();
        assert!(!sealed.contains("s3cret"));
        assert_eq!(
            sealer
                .open("acme", "twilio", &sealed)
                .await
                .unwrap()
                .expose(),
            "s3cret-token"
        );
        assert!(matches!(
            sealer.open("other", "twilio", &sealed).await,
            Err(SecretsError::Rejected)
        ));
        assert!(matches!(
            sealer.open("acme", "plivo", &sealed).await,
            Err(SecretsError::Rejected)
        ));
        assert!(matches!(
            sealer.open("acme", "twilio", "plain").await,
            Err(SecretsError::Malformed)
        ));
        assert_eq!(format!("{:?}", SecretString::new("x".into())), "<secret>");
    }

    #[tokio::test]
    async fn fingerprints_are_keyed_and_stable() {
        let sealer = dev();
        let a = sealer
            .fingerprint("telnyx", "public_key", "k1")
            .await
            .unwrap();
        assert_eq!(
            a,
            sealer
                .fingerprint("telnyx", "public_key", "k1")
                .await
                .unwrap()
        );
        assert_ne!(
            a,
            sealer
                .fingerprint("telnyx", "public_key", "k2")
                .await
                .unwrap()
        );
        assert_ne!(
            a,
            sealer
                .fingerprint("sinch", "public_key", "k1")
                .await
                .unwrap()
        );
        let other = Sealer::new(
            Some(SecretsKey::Dev { key: [8u8; 32] }),
            &aws_config::SdkConfig::builder().build(),
        );
        assert_ne!(
            a,
            other
                .fingerprint("telnyx", "public_key", "k1")
                .await
                .unwrap()
        );
        assert!(!a.contains("k1"));
    }
}
