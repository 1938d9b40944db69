//! Amazon SNS over HTTPS for the webhook edge: fetching the signing certificates that
//! `providers::aws::verify` needs (kept for the life of the warm process) and confirming
//! subscriptions. Only `https://sns.<region>.amazonaws.com[.cn]/` is ever contacted
//! (`providers::aws::sns_url_region`), with the system's trust roots and no redirects followed.
//!
//! The client is `store::https`'s (https only), built on first use, so a function that never
//! sees an SNS message never loads the trust roots.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use crate::providers::{Provider, ProviderSecrets, SigningCertificate, aws};
use crate::store::https::{self, HttpsClient};

/// One GET, connection included: well inside the inbound budget and SNS's 15 s delivery timeout.
const TIMEOUT: Duration = Duration::from_secs(3);

/// AWS answers a confirmation with a short XML document; nothing larger is read.
const MAX_CONFIRMATION_BYTES: usize = 16 * 1024;

/// SNS rotates its certificates about yearly, one per region: a handful at most. The bound
/// only matters if something keeps naming new certificate files on the SNS hosts.
const MAX_CACHED_CERTIFICATES: usize = 64;

/// Why a GET gave nothing usable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// The answer was final (not an SNS URL, 4xx, not a certificate): asking again will not help.
    #[error("{0}")]
    Refused(String),
    /// Network, timeout, 5xx: worth asking again later.
    #[error("{0}")]
    Unavailable(String),
}

/// Cheap to clone; clones share the certificate cache.
#[derive(Clone)]
pub struct SnsHttps {
    inner: Arc<Inner>,
}

struct Inner {
    certificates: Mutex<HashMap<String, Arc<[u8]>>>,
    transport: Transport,
}

enum Transport {
    Network(OnceLock<Result<Box<HttpsClient>, String>>),
    /// For tests: nothing leaves the process; GETs are recorded, certificates come only from
    /// [`SnsHttps::preload`] and confirmations succeed.
    Offline(Mutex<Vec<String>>),
}

impl SnsHttps {
    pub fn new() -> SnsHttps {
        SnsHttps::with_transport(Transport::Network(OnceLock::new()))
    }

    /// An instance that never touches the network (see [`Transport::Offline`]).
    pub fn offline() -> SnsHttps {
        SnsHttps::with_transport(Transport::Offline(Mutex::new(Vec::new())))
    }

    /// The instance this process shares, so the webhook service and replay fill one cache.
    pub fn process() -> SnsHttps {
        static PROCESS: OnceLock<SnsHttps> = OnceLock::new();
        PROCESS.get_or_init(SnsHttps::new).clone()
    }

    fn with_transport(transport: Transport) -> SnsHttps {
        SnsHttps {
            inner: Arc::new(Inner {
                certificates: Mutex::new(HashMap::new()),
                transport,
            }),
        }
    }

    /// Serves `certificate` for `url` as if fetched: for tests, and for pinning a certificate.
    pub fn preload(&self, url: &str, certificate: &[u8]) {
        self.remember(url, Arc::from(certificate));
    }

    /// The URLs an offline instance was asked to GET, in order.
    pub fn requested(&self) -> Vec<String> {
        match &self.inner.transport {
            Transport::Offline(log) => log.lock().map(|l| l.clone()).unwrap_or_default(),
            Transport::Network(_) => vec![],
        }
    }

    /// The certificate `providers::aws::verify` needs for this request, if it is an SNS message
    /// from one of the tenant's topics: `Ok(None)` when there is nothing (worth) fetching, so
    /// verification fails and says why; `Err` only when asking again later may work.
    pub async fn signing_certificate(
        &self,
        provider: Provider,
        body: &[u8],
        secrets: &ProviderSecrets,
    ) -> Result<Option<SigningCertificate>, String> {
        if provider != Provider::Aws {
            return Ok(None);
        }
        let Ok(url) = aws::certificate_url(body, secrets) else {
            return Ok(None);
        };
        if let Some(bytes) = self.cached(&url) {
            return Ok(Some(SigningCertificate { url, bytes }));
        }
        let fetched = match self.get(&url, aws::MAX_CERTIFICATE_BYTES).await {
            Ok(Some(bytes)) => match aws::read_certificate(&bytes) {
                Ok(_) => Ok(bytes),
                Err(e) => Err(FetchError::Refused(e.to_string())),
            },
            Ok(None) => Err(FetchError::Refused("offline, and not preloaded".into())),
            Err(e) => Err(e),
        };
        match fetched {
            Ok(bytes) => {
                let bytes: Arc<[u8]> = Arc::from(bytes);
                self.remember(&url, bytes.clone());
                tracing::info!(url = %url, "SNS signing certificate fetched");
                Ok(Some(SigningCertificate { url, bytes }))
            }
            Err(FetchError::Refused(e)) => {
                tracing::warn!(url = %url, error = %e, "SNS signing certificate refused");
                Ok(None)
            }
            Err(FetchError::Unavailable(e)) => Err(format!("fetching {url}: {e}")),
        }
    }

    /// Confirms a subscription by fetching its `SubscribeURL`.
    pub async fn confirm(&self, url: &str) -> Result<(), FetchError> {
        self.get(url, MAX_CONFIRMATION_BYTES).await.map(drop)
    }

    fn cached(&self, url: &str) -> Option<Arc<[u8]>> {
        self.inner.certificates.lock().ok()?.get(url).cloned()
    }

    fn remember(&self, url: &str, bytes: Arc<[u8]>) {
        if let Ok(mut certificates) = self.inner.certificates.lock() {
            if certificates.len() >= MAX_CACHED_CERTIFICATES && !certificates.contains_key(url) {
                certificates.clear();
            }
            certificates.insert(url.to_string(), bytes);
        }
    }

    /// The body of a 2xx answer to a GET of `url`; `None` from an offline instance.
    async fn get(&self, url: &str, limit: usize) -> Result<Option<Vec<u8>>, FetchError> {
        if aws::sns_url_region(url).is_none() {
            return Err(FetchError::Refused(format!("{url} is not an SNS URL")));
        }
        let client = match &self.inner.transport {
            Transport::Offline(log) => {
                if let Ok(mut log) = log.lock() {
                    log.push(url.to_string());
                }
                return Ok(None);
            }
            Transport::Network(client) => client
                .get_or_init(|| https::client(false).map(Box::new))
                .as_ref()
                .map_err(|e| FetchError::Unavailable(e.clone()))?,
        };
        let request = http::Request::get(url)
            .header(http::header::USER_AGENT, "stopgate")
            .body(Full::new(Bytes::new()))
            .map_err(|e| FetchError::Refused(e.to_string()))?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| FetchError::Unavailable(e.to_string()))?;
            let status = response.status();
            if status.is_server_error() {
                return Err(FetchError::Unavailable(format!("HTTP {status}")));
            }
            if !status.is_success() {
                return Err(FetchError::Refused(format!("HTTP {status}")));
            }
            Limited::new(response.into_body(), limit)
                .collect()
                .await
                .map(|body| Some(body.to_bytes().to_vec()))
                .map_err(|e| FetchError::Unavailable(format!("reading the answer: {e}")))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| FetchError::Unavailable(format!("no answer within {TIMEOUT:?}")))?
    }
}

impl Default for SnsHttps {
    fn default() -> SnsHttps {
        SnsHttps::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::sns::{self as test_sns, CERT_URL, TOPIC_ARN};

    fn secrets(topic: &str) -> ProviderSecrets {
        ProviderSecrets::from_pairs([("topic_arn", topic)])
    }

    #[tokio::test]
    async fn nothing_but_sns_hosts_is_ever_requested() {
        // A network client: the refusal comes before any connection is attempted.
        let sns = SnsHttps::new();
        for url in [
            "https://evil.example/?Action=ConfirmSubscription",
            "http://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription",
            "https://sns.us-east-1.amazonaws.com:8443/?Action=ConfirmSubscription",
        ] {
            assert!(
                matches!(sns.confirm(url).await, Err(FetchError::Refused(_))),
                "{url}"
            );
        }
    }

    #[tokio::test]
    async fn certificates_are_fetched_only_for_the_tenants_sns_messages() {
        let sns = SnsHttps::offline();
        let sms = test_sns::sms("+14155550162", "+14155550100", "STOP", "i");
        let body = test_sns::notification(TOPIC_ARN, &sms, "m", chrono::Utc::now());
        let body = body.as_bytes();

        let ours = secrets(TOPIC_ARN);
        let twilio = sns.signing_certificate(Provider::Twilio, body, &ours).await;
        assert_eq!(twilio, Ok(None));
        let stranger = secrets("arn:aws:sns:us-east-1:123456789012:other");
        let other_topic = sns
            .signing_certificate(Provider::Aws, body, &stranger)
            .await;
        assert_eq!(other_topic, Ok(None));
        assert!(sns.requested().is_empty());

        // Not cached: asked for (offline, so refused and not verifiable).
        let uncached = sns.signing_certificate(Provider::Aws, body, &ours).await;
        assert_eq!(uncached, Ok(None));
        assert_eq!(sns.requested(), vec![CERT_URL.to_string()]);

        sns.preload(CERT_URL, test_sns::CERTIFICATE_PEM.as_bytes());
        let cached = sns
            .signing_certificate(Provider::Aws, body, &ours)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cached, test_sns::certificate());
        assert_eq!(sns.requested().len(), 1, "served from the cache");
    }

    #[test]
    fn the_sns_certificate_cache_stays_bounded() {
        let sns = SnsHttps::offline();
        for i in 0..MAX_CACHED_CERTIFICATES + 5 {
            sns.preload(
                &format!("https://sns.us-east-1.amazonaws.com/{i}.pem"),
                b"x",
            );
        }
        let held = sns.inner.certificates.lock().unwrap().len();
        assert!(held <= MAX_CACHED_CERTIFICATES, "{held}");
    }
}
