//! One harness for every provider's webhook tests: a fresh tenant holding the provider's
//! secrets, the webhook service in front of it (with a capture queue of its own and, for Amazon
//! SNS, the offline client that knows the test certificate), and requests in the provider's own
//! format, genuinely signed, forged or unsigned (built by [`super::webhooks`]).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::webhooks::{self, BUSINESS, Endpoint, Proof, Sms};
use super::{TestEnv, env, sns, unique_tenant};
use crate::api::sns::SnsHttps;
use crate::api::tenants::Tenants;
use crate::api::webhook::{IncomingWebhook, WebhookAnswer, WebhookService};
use crate::consent::ConsentEvent;
use crate::phone::E164;
use crate::providers::{Provider, telnyx};
use crate::store::CaptureQueue;
use crate::store::quarantine::QuarantinedRequest;

// The secrets the sample events in events/ are signed with (scripts/make_events.py and
// scripts/events_*.py name them), so a tenant set up with `TestSecrets::for_provider` also
// takes those events.
const TWILIO_AUTH_TOKEN: &str = "stopgate-example-auth-token";
const TELNYX_SEED: [u8; 32] = *b"stopgate-example-telnyx-seed-001";
const BANDWIDTH_USERNAME: &str = "stopgate-example";
const BANDWIDTH_PASSWORD: &str = "stopgate-example-bandwidth-password";
const PLIVO_AUTH_TOKEN: &str = "stopgate-example-plivo-auth-token";
const RINGCENTRAL_VERIFICATION_TOKEN: &str = "stopgate-example-ringcentral-verification-token";
const SINCH_USERNAME: &str = "stopgate-example-sinch-user";
const SINCH_PASSWORD: &str = "stopgate-example-sinch-password";
const SINCH_WEBHOOK_SECRET: &str = "stopgate-example-sinch-webhook-secret";
const VONAGE_SIGNATURE_SECRET: &str = "stopgate-example-vonage-signature-secret";
const VONAGE_SIGNATURE_METHOD: &str = "sha256";

/// A provider's credentials in a test: what the tenant stores, and how the provider signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestSecrets {
    /// The secrets `stopgate provider set` stores for the tenant, in order: a name given twice
    /// is a rotation (the later value current, the earlier still accepted).
    pub stored: Vec<(&'static str, String)>,
    /// How the provider proves the requests it sends, and with which secret.
    pub proof: Proof,
}

impl TestSecrets {
    /// The standard credentials of `provider`, those the sample events use. Sinch stores both
    /// its SMS API Basic credentials and its Conversation API secret and signs with the former;
    /// Vonage signs SMS API `sig`s (see [`TestSecrets::sinch_conversation`] and
    /// [`TestSecrets::vonage_messages`] for the other APIs).
    pub fn for_provider(provider: Provider) -> TestSecrets {
        let stored = |pairs: &[(&'static str, &str)]| {
            pairs
                .iter()
                .map(|(name, value)| (*name, value.to_string()))
                .collect()
        };
        let (stored, proof) = match provider {
            Provider::Twilio => (
                stored(&[("auth_token", TWILIO_AUTH_TOKEN)]),
                Proof::Twilio {
                    auth_token: TWILIO_AUTH_TOKEN.into(),
                },
            ),
            Provider::Telnyx => (
                stored(&[("public_key", telnyx::public_key_for(&TELNYX_SEED).as_str())]),
                Proof::Telnyx { seed: TELNYX_SEED },
            ),
            Provider::Bandwidth => (
                stored(&[
                    ("username", BANDWIDTH_USERNAME),
                    ("password", BANDWIDTH_PASSWORD),
                ]),
                Proof::Basic {
                    username: BANDWIDTH_USERNAME.into(),
                    password: BANDWIDTH_PASSWORD.into(),
                },
            ),
            Provider::Plivo => (
                stored(&[("auth_token", PLIVO_AUTH_TOKEN)]),
                Proof::Plivo {
                    auth_token: PLIVO_AUTH_TOKEN.into(),
                },
            ),
            Provider::Ringcentral => (
                stored(&[("verification_token", RINGCENTRAL_VERIFICATION_TOKEN)]),
                Proof::Ringcentral {
                    verification_token: RINGCENTRAL_VERIFICATION_TOKEN.into(),
                },
            ),
            Provider::Sinch => (
                stored(&[
                    ("username", SINCH_USERNAME),
                    ("password", SINCH_PASSWORD),
                    ("webhook_secret", SINCH_WEBHOOK_SECRET),
                ]),
                Proof::Basic {
                    username: SINCH_USERNAME.into(),
                    password: SINCH_PASSWORD.into(),
                },
            ),
            Provider::Vonage => (
                stored(&[
                    ("signature_secret", VONAGE_SIGNATURE_SECRET),
                    ("signature_method", VONAGE_SIGNATURE_METHOD),
                ]),
                Proof::VonageSig {
                    signature_secret: VONAGE_SIGNATURE_SECRET.into(),
                    signature_method: VONAGE_SIGNATURE_METHOD.into(),
                },
            ),
            Provider::Aws => (
                stored(&[("topic_arn", sns::TOPIC_ARN)]),
                Proof::Sns { genuine: true },
            ),
        };
        TestSecrets { stored, proof }
    }

    /// Sinch's standard credentials, signing as its Conversation API does (HMAC).
    pub fn sinch_conversation() -> TestSecrets {
        TestSecrets {
            proof: Proof::SinchHmac {
                webhook_secret: SINCH_WEBHOOK_SECRET.into(),
            },
            ..TestSecrets::for_provider(Provider::Sinch)
        }
    }

    /// Vonage's standard credentials, signing as its Messages API does (a Bearer JWT).
    pub fn vonage_messages() -> TestSecrets {
        TestSecrets {
            proof: Proof::VonageJwt {
                signature_secret: VONAGE_SIGNATURE_SECRET.into(),
            },
            ..TestSecrets::for_provider(Provider::Vonage)
        }
    }

    /// The standard credentials signing as `request` is signed: Sinch and Vonage each have two
    /// schemes, told apart by the headers as the webhook edge tells them apart. What signs a
    /// sample event again.
    pub fn for_request(provider: Provider, request: &IncomingWebhook) -> TestSecrets {
        let has = |name: &str| request.headers.contains_key(name);
        match provider {
            Provider::Sinch if has("x-sinch-webhook-signature") => {
                TestSecrets::sinch_conversation()
            }
            Provider::Vonage if has("authorization") => TestSecrets::vonage_messages(),
            other => TestSecrets::for_provider(other),
        }
    }

    /// [`TestSecrets::stored`] as `TestEnv::tenant_with_provider` takes it.
    pub fn stored_pairs(&self) -> Vec<(&str, &str)> {
        self.stored
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect()
    }
}

/// A fresh tenant taking one provider's webhooks, and the service that answers them.
pub struct Harness {
    pub env: TestEnv,
    pub provider: Provider,
    pub secrets: TestSecrets,
    pub tenant: String,
    /// Where the provider posts: `PUBLIC_BASE_URL/v1/webhooks/<provider>/<tenant>`.
    pub endpoint: Endpoint,
    pub tenants: Arc<Tenants>,
    /// The capture queue of this harness alone.
    pub queue: CaptureQueue,
    /// Amazon SNS, offline: it knows the test certificate and records what it was asked for.
    pub sns: SnsHttps,
    pub service: WebhookService,
    /// The UTC days requests were received on, where their quarantine entries are.
    days: Mutex<BTreeSet<String>>,
}

impl Harness {
    /// A new tenant with `secrets` stored (sealed) for `provider`, and a webhook service for it.
    pub async fn new(provider: Provider, secrets: TestSecrets) -> Harness {
        let env = env().await;
        let tenant = unique_tenant(&format!("harness-{provider}"));
        env.tenant_with_provider(&tenant, provider, &secrets.stored_pairs())
            .await;
        let tenants = env.tenants();
        let queue = env.fresh_queue().await;
        let sns = sns::offline();
        let service = WebhookService::new(
            env.store.clone(),
            tenants.clone(),
            Some(queue.clone()),
            env.config.inbound_budget,
        )
        .with_sns(sns.clone());
        Harness {
            endpoint: Endpoint::new(&env.config.public_base_url, provider, &tenant),
            env,
            provider,
            secrets,
            tenant,
            tenants,
            queue,
            sns,
            service,
            days: Mutex::new(BTreeSet::new()),
        }
    }

    /// `sms` as the provider sends it, signed now with the tenant's secret.
    pub fn signed(&self, sms: &Sms) -> IncomingWebhook {
        self.signed_at(sms, Utc::now())
    }

    /// `sms` signed with the tenant's secret at `at` (schemes that sign a time refuse one more
    /// than five minutes from now).
    pub fn signed_at(&self, sms: &Sms, at: DateTime<Utc>) -> IncomingWebhook {
        let mut request = self.unsigned(sms);
        webhooks::sign(&mut request, &self.secrets.proof, at);
        request
    }

    /// `sms` signed now with a secret the provider never gave out.
    pub fn forged(&self, sms: &Sms) -> IncomingWebhook {
        let mut request = self.unsigned(sms);
        webhooks::sign(&mut request, &self.secrets.proof.forged(), Utc::now());
        request
    }

    /// `sms` in the provider's format, with no proof at all.
    pub fn unsigned(&self, sms: &Sms) -> IncomingWebhook {
        webhooks::text(&self.endpoint, &self.secrets.proof, sms)
    }

    /// Signs a request built by hand (a batch, a handshake...) now, with the tenant's secret.
    pub fn sign(&self, request: &mut IncomingWebhook) {
        webhooks::sign(request, &self.secrets.proof, Utc::now());
    }

    /// A POST of `body` to the tenant's webhook URL, with no proof.
    pub fn post(&self, content_type: &str, body: impl Into<Vec<u8>>) -> IncomingWebhook {
        webhooks::post(&self.endpoint, content_type, body)
    }

    /// What the webhook service answers `request`.
    pub async fn send(&self, request: IncomingWebhook) -> WebhookAnswer {
        let day = request.received_at.format("%Y-%m-%d").to_string();
        self.days.lock().expect("days").insert(day);
        self.service.handle(request).await
    }

    /// The ledger's events for `person` (E.164), oldest first.
    pub async fn events(&self, person: &str) -> Vec<ConsentEvent> {
        let phone = E164::parse_e164(person).expect("an E.164 number");
        self.env
            .store
            .events(&self.tenant, &phone)
            .await
            .expect("events")
    }

    /// The tenant's quarantined requests, over every UTC day a request was sent on.
    pub async fn quarantined(&self) -> Vec<QuarantinedRequest> {
        let days = self.days.lock().expect("days").clone();
        let mut quarantined = Vec::new();
        for day in days {
            quarantined.extend(
                self.env
                    .store
                    .quarantined(&self.tenant, &day)
                    .await
                    .expect("quarantine"),
            );
        }
        quarantined
    }

    /// The reasons of [`Harness::quarantined`], sorted.
    pub async fn quarantine_reasons(&self) -> Vec<String> {
        let mut reasons: Vec<String> = self
            .quarantined()
            .await
            .into_iter()
            .map(|q| q.reason)
            .collect();
        reasons.sort();
        reasons
    }

    /// The answer to a conversational check from [`BUSINESS`] to `person`.
    pub async fn check(&self, person: &str) -> Value {
        self.env
            .check(&self.tenant, BUSINESS, person, "conversational")
            .await
    }

    /// The same service with storage down (the tenant already read, as a warm function has
    /// it): what it verifies goes to [`Harness::queue`].
    pub async fn service_with_storage_down(&self) -> WebhookService {
        let tenant = self.tenants.get(&self.tenant).await.expect("tenant");
        assert!(tenant.is_some(), "the tenant is cached while storage is up");
        WebhookService::new(
            self.env.unreachable_store(),
            self.tenants.clone(),
            Some(self.queue.clone()),
            self.env.config.inbound_budget,
        )
        .with_sns(self.sns.clone())
    }
}

/// One `#[tokio::test]` per provider, each awaiting `$scenario(Provider::<Variant>)` (a function
/// or closure from a `Provider` to a future), so a failure names its provider and nextest runs
/// the providers in parallel; and a `#[test]` that the list is [`Provider::ALL`], so a new
/// provider cannot go untested.
///
/// ```ignore
/// mod common_scenario {
///     stopgate::test_each_provider!(super::common_scenario; twilio => Twilio, ...);
/// }
/// ```
#[macro_export]
macro_rules! test_each_provider {
    ($scenario:expr; $($test:ident => $variant:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                ($scenario)($crate::providers::Provider::$variant).await;
            }
        )*

        #[test]
        fn every_provider_has_a_test() {
            assert_eq!(
                [$($crate::providers::Provider::$variant),*],
                $crate::providers::Provider::ALL
            );
        }
    };
}
