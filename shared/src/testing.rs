//! Helpers for tests against the local services started by `make test` (DynamoDB Local and
//! moto on loopback). There is no in-memory store: these talk to the real thing.
//!
//! Compiled only for tests (`testing` feature); a failed setup step should stop the test loudly.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;

use crate::api::auth::{generate_key, hash_key};
use crate::api::tenants::Tenants;
use crate::config::{Config, SecretsKey};
use crate::providers::Provider;
use crate::secrets::Sealer;
use crate::store::{self, ApiKeyRecord, SdkConfig, Store};

/// Consent events built from what a test is about.
pub mod events;
/// One provider test harness: a fresh tenant with a provider's secrets and its webhook service.
pub mod harness;
/// A DynamoDB Local of a test's own, which the test stops and starts (outages).
#[cfg(feature = "testing")]
pub mod own_dynamodb;
/// A local endpoint that takes notifications.
pub mod receiver;
/// Amazon SNS messages signed with the test key.
pub mod sns;
/// Inbound webhooks as each provider sends them, and their signatures.
pub mod webhooks;

pub use harness::{Harness, TestSecrets};

/// A tenant and an API key of each kind.
pub struct TenantKeys {
    pub tenant: String,
    /// Scope `check`: what a send pipeline holds.
    pub check: String,
    /// Scope `consents:write`.
    pub writer: String,
    /// Every scope.
    pub admin: String,
}

pub struct TestEnv {
    pub config: Config,
    pub sdk: SdkConfig,
    pub store: Store,
}

/// The environment `make test` sets up; a missing variable fails the test with a clear message.
pub async fn env() -> TestEnv {
    let mut config = match Config::from_env() {
        Ok(c) => c,
        Err(e) => panic!("integration tests need the local services (run `make test`): {e}"),
    };
    if config.secrets_key.is_none() {
        config.secrets_key = Some(SecretsKey::Dev {
            key: rand::random(),
        });
    }
    if config.cursor_key.is_none() {
        config.cursor_key = Some(rand::random());
    }
    if config.pages_key.is_none() {
        config.pages_key = Some(rand::random());
    }
    if config.public_base_url.is_empty() {
        config.public_base_url = "https://hooks.stopgate.test".into();
    }
    let sdk = store::sdk_config(config.sdk_timeout).await;
    let store = Store::new(&sdk, &config.table_name);
    TestEnv { config, sdk, store }
}

/// `Authorization: Bearer <key>`.
pub fn bearer(key: &str) -> http::HeaderMap {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "authorization",
        http::HeaderValue::from_str(&format!("Bearer {key}")).expect("header value"),
    );
    headers
}

/// The sample event `events/<name>.json` (the repository's, beside this crate).
pub fn sample_event(name: &str) -> String {
    let path = format!("{}/../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// A request as API Gateway hands it to a handler: `method path`, with the key as a bearer
/// token and `body` as JSON.
pub fn api_request(
    method: &str,
    path: &str,
    key: &str,
    body: Option<&serde_json::Value>,
) -> lambda_http::Request {
    let mut request = lambda_http::Request::new(match body {
        Some(b) => lambda_http::Body::Text(b.to_string()),
        None => lambda_http::Body::Empty,
    });
    *request.method_mut() = method.parse().expect("method");
    *request.uri_mut() = format!("https://api.stopgate.example{path}")
        .parse()
        .expect("path");
    request.headers_mut().insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {key}")).expect("key"),
    );
    request.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    request
}

/// A sample API Gateway HTTP API event, as the Lambda runtime hands it to a handler.
pub fn sample_request(name: &str) -> lambda_http::Request {
    lambda_http::request::from_str(&sample_event(name))
        .unwrap_or_else(|e| panic!("events/{name}.json: {e}"))
}

/// A response body as text.
pub fn body_text(body: &lambda_http::Body) -> String {
    String::from_utf8_lossy(crate::api::http::body_bytes(body)).to_string()
}

/// A `send_at` inside every US zone's permitted hours: the next weekday at 19:00 UTC (09:00 in
/// Hawaii, 11:00 or noon on the Pacific coast, 14:00 or 15:00 in New York, past noon in Texas).
/// Checks that are about consent send it, so that quiet hours (rule 7), which judge `send_at`,
/// never decide them whatever the time of day the tests run at.
pub fn daytime_send_at() -> String {
    use chrono::{Datelike, Duration, SecondsFormat, Utc, Weekday};
    let now = Utc::now();
    let mut at = now
        .date_naive()
        .and_hms_opt(19, 0, 0)
        .expect("19:00 exists")
        .and_utc();
    while at < now + Duration::minutes(5) || matches!(at.weekday(), Weekday::Sat | Weekday::Sun) {
        at += Duration::days(1);
    }
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

/// A tenant id no other test uses.
pub fn unique_tenant(prefix: &str) -> String {
    format!("{prefix}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

impl TestEnv {
    /// Rewrites an event's stored document behind Stopgate's back, as someone with write access
    /// to the table could: for tests that the hash chain catches it. `None` deletes the event.
    pub async fn tamper_with_event(
        &self,
        tenant: &str,
        phone: &crate::phone::E164,
        event_id: &str,
        doc: Option<&str>,
    ) {
        use aws_sdk_dynamodb::types::AttributeValue;
        let key = |v: String| AttributeValue::S(v);
        let (pk, sk) = (
            key(crate::store::keys::number_pk(tenant, phone)),
            key(crate::store::keys::event_sk(event_id)),
        );
        let ddb = &self.store.ddb;
        match doc {
            Some(doc) => ddb
                .update_item()
                .table_name(self.store.table())
                .key("pk", pk)
                .key("sk", sk)
                .update_expression("SET doc = :doc")
                .expression_attribute_values(":doc", key(doc.to_string()))
                .send()
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
            None => ddb
                .delete_item()
                .table_name(self.store.table())
                .key("pk", pk)
                .key("sk", sk)
                .send()
                .await
                .map(drop)
                .map_err(|e| e.to_string()),
        }
        .expect("tampered with the event");
    }

    pub fn sealer(&self) -> Sealer {
        Sealer::new(self.config.secrets_key.clone(), &self.sdk)
    }

    /// A sealer of a key service that cannot be reached: nothing opens, nothing seals.
    pub fn sealer_with_kms_down(&self) -> Sealer {
        let sdk = self
            .sdk
            .to_builder()
            .endpoint_url("http://127.0.0.1:9")
            .build();
        let key = SecretsKey::Kms {
            key_id: "alias/stopgate-unreachable".into(),
            fingerprint_key_id: None,
        };
        Sealer::new(Some(key), &sdk)
    }

    pub fn tenants(&self) -> Arc<Tenants> {
        Arc::new(Tenants::new(self.store.clone(), Some(self.sealer())))
    }

    /// The same table through an endpoint where nothing listens: storage "down".
    pub fn unreachable_store(&self) -> Store {
        let conf = aws_sdk_dynamodb::config::Builder::from(&self.sdk)
            .endpoint_url("http://127.0.0.1:9")
            .build();
        Store::with_client(
            aws_sdk_dynamodb::Client::from_conf(conf),
            self.store.table(),
        )
    }

    /// A table of the test's own, with the keys and index of template.yaml's: for what reads
    /// every tenant (scheduled jobs), which must not see other tests' tenants.
    pub async fn fresh_table(&self) -> Store {
        let name = format!("t-{}", ulid::Ulid::new().to_string().to_lowercase());
        let table = Store::with_client(self.store.ddb.clone(), name);
        create_table(&table).await;
        table
    }

    /// Deletes a table made by [`TestEnv::fresh_table`]: storage gone for whoever still uses it.
    pub async fn drop_table(&self, table: &Store) {
        self.store
            .ddb
            .delete_table()
            .table_name(table.table())
            .send()
            .await
            .expect("delete table");
    }

    /// A new tenant with the default policy, under an id no other test uses.
    /// Commits `event` alone (no private record, dedupe claim or disclosure).
    pub async fn commit(&self, event: &crate::consent::ConsentEvent) {
        self.store
            .commit(&crate::store::Commit {
                event,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .expect("commit");
    }

    pub async fn new_tenant(&self, prefix: &str) -> String {
        let tenant = unique_tenant(prefix);
        self.store
            .create_tenant(&tenant, Default::default())
            .await
            .expect("create tenant");
        tenant
    }

    /// A capture queue of the test's own, so parallel tests never read each other's messages.
    pub async fn fresh_queue(&self) -> crate::store::CaptureQueue {
        crate::store::CaptureQueue::new(&self.sdk, self.fresh_queue_url().await)
    }

    /// The URL of a new capture queue of the test's own (for a configuration to name).
    pub async fn fresh_queue_url(&self) -> String {
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let name = format!("capture-{}", ulid::Ulid::new().to_string().to_lowercase());
        let out = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create test queue");
        out.queue_url().expect("queue url").to_string()
    }

    /// An imports bucket of the test's own that notifies a queue of its own of each upload, as
    /// template.yaml's ImportsBucket does ImportsQueue.
    pub async fn fresh_imports(
        &self,
    ) -> (crate::store::uploads::Uploads, crate::store::CaptureQueue) {
        use aws_sdk_s3::types::{Event, NotificationConfiguration, QueueConfiguration};
        let sqs = aws_sdk_sqs::Client::new(&self.sdk);
        let name = format!("imports-{}", ulid::Ulid::new().to_string().to_lowercase());
        let url = sqs
            .create_queue()
            .queue_name(name)
            .send()
            .await
            .expect("create test queue")
            .queue_url()
            .expect("queue url")
            .to_string();
        let queue = crate::store::CaptureQueue::new(&self.sdk, &url);
        let arn = sqs
            .get_queue_attributes()
            .queue_url(&url)
            .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
            .send()
            .await
            .expect("queue attributes")
            .attributes()
            .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
            .cloned()
            .expect("queue arn");
        let bucket = format!("imports-{}", ulid::Ulid::new().to_string().to_lowercase());
        let s3 = crate::store::uploads::s3_client(&self.sdk);
        s3.create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create test bucket");
        s3.put_bucket_notification_configuration()
            .bucket(&bucket)
            .notification_configuration(
                NotificationConfiguration::builder()
                    .queue_configurations(
                        QueueConfiguration::builder()
                            .queue_arn(arn)
                            .events(Event::from("s3:ObjectCreated:*"))
                            .build()
                            .expect("queue configuration"),
                    )
                    .build(),
            )
            .send()
            .await
            .expect("bucket notification");
        (
            crate::store::uploads::Uploads::new(&self.sdk, bucket),
            queue,
        )
    }

    /// An exports bucket of the test's own, and an exports queue of its own.
    pub async fn fresh_exports(
        &self,
    ) -> (
        crate::store::export_files::ExportBucket,
        crate::store::CaptureQueue,
    ) {
        let bucket = format!("exports-{}", ulid::Ulid::new().to_string().to_lowercase());
        crate::store::uploads::s3_client(&self.sdk)
            .create_bucket()
            .bucket(&bucket)
            .send()
            .await
            .expect("create test bucket");
        (
            crate::store::export_files::ExportBucket::new(&self.sdk, bucket),
            self.fresh_queue().await,
        )
    }

    /// A capture queue that cannot be reached: capture fails too.
    pub fn unreachable_queue(&self) -> crate::store::CaptureQueue {
        let conf = aws_sdk_sqs::config::Builder::from(&self.sdk)
            .endpoint_url("http://127.0.0.1:9")
            .build();
        crate::store::CaptureQueue::with_client(
            aws_sdk_sqs::Client::from_conf(conf),
            "http://127.0.0.1:9/000000000000/nowhere",
        )
    }

    /// Creates a tenant (if needed) with a Twilio auth token; returns nothing but panics on failure.
    pub async fn tenant_with_twilio(&self, tenant: &str, auth_token: &str) {
        self.tenant_with_provider(tenant, Provider::Twilio, &[("auth_token", auth_token)])
            .await;
    }

    /// Creates a tenant (if needed) and stores `secrets` for `provider`, sealed, as
    /// `stopgate provider set` does. A name given twice is a rotation: each value is stored in
    /// turn, so the later one is current and the earlier one still accepted.
    pub async fn tenant_with_provider(
        &self,
        tenant: &str,
        provider: Provider,
        secrets: &[(&str, &str)],
    ) {
        match self.store.create_tenant(tenant, Default::default()).await {
            Ok(_) | Err(store::StoreError::AlreadyExists(_)) => {}
            Err(e) => panic!("create tenant: {e}"),
        }
        let sealer = self.sealer();
        // One write per round of names, so a repeated name lands after the value it rotates.
        let mut rounds: Vec<std::collections::BTreeMap<String, String>> = Vec::new();
        for (name, value) in secrets {
            let sealed = sealer
                .seal(tenant, provider.as_str(), value)
                .await
                .expect("seal");
            match rounds.iter_mut().find(|round| !round.contains_key(*name)) {
                Some(round) => {
                    round.insert(name.to_string(), sealed);
                }
                None => rounds.push([(name.to_string(), sealed)].into()),
            }
        }
        for round in rounds {
            self.store
                .put_provider_secrets(
                    tenant,
                    provider.as_str(),
                    round,
                    store::Rotation::KeepPrevious(chrono::Duration::days(7)),
                )
                .await
                .expect("provider secrets");
        }
    }

    /// Answers a check as `POST /v1/check` would, with a fresh `check` key of the tenant, for
    /// a send at [`daytime_send_at`] (these checks are not about quiet hours).
    pub async fn check(
        &self,
        tenant: &str,
        from: &str,
        to: &str,
        category: &str,
    ) -> serde_json::Value {
        let key = self.api_key(tenant, &["check"]).await;
        let checks = crate::api::check::CheckService::new(
            self.store.clone(),
            Arc::new(Tenants::new(self.store.clone(), None)),
        );
        let body = serde_json::json!({"from": from, "to": to, "category": category,
            "send_at": daytime_send_at()})
        .to_string();
        serde_json::to_value(
            checks
                .check(&bearer(&key), body.as_bytes())
                .await
                .expect("check"),
        )
        .expect("json")
    }

    /// A possible revocation from `phone`, received at `at`, opening its review (to have a
    /// review of any age); returns the review id.
    pub async fn open_review(
        &self,
        store: &Store,
        tenant: &str,
        phone: &crate::phone::E164,
        at: chrono::DateTime<chrono::Utc>,
    ) -> String {
        let message = events::event(crate::consent::EventKind::PossibleRevocation)
            .tenant(tenant)
            .phone(phone)
            .at(at)
            .keyword("not interested")
            .opens_review()
            .build();
        store
            .commit(&crate::store::Commit {
                event: &message,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .expect("commit");
        message.event_id.to_string()
    }

    /// A hosted form `form_id` of `tenant` (informational and promotional, English and Spanish)
    /// whose messages come from the sender group `group` of `senders`, stored as
    /// `stopgate form set` stores it; returns it as stored.
    pub async fn form(
        &self,
        tenant: &str,
        form_id: &str,
        group: &str,
        senders: &[&str],
        double_opt_in: bool,
    ) -> crate::consent::forms::FormConfig {
        use crate::consent::Category;
        use crate::consent::forms::{FormConfig, Language};
        self.store
            .put_sender_group(tenant, &crate::consent::SenderGroup::new(group, senders))
            .await
            .expect("sender group");
        let form = FormConfig {
            form_id: form_id.into(),
            version: 0,
            brand: "Acme Outfitters".into(),
            program: "Acme Deals & Alerts".into(),
            categories: vec![Category::Informational, Category::Promotional],
            languages: vec![Language::En, Language::Es],
            terms_url: "https://acme.example/sms-terms".into(),
            privacy_url: "https://acme.example/privacy".into(),
            frequency: "Up to 6 msgs/month".into(),
            frequency_es: Some("Hasta 6 mensajes al mes".into()),
            double_opt_in,
            sender_group: group.into(),
            updated_at: chrono::Utc::now(),
        };
        self.store.put_form(tenant, &form).await.expect("form")
    }

    /// A new tenant with the default policy and one API key for each scope.
    pub async fn tenant_with_keys(&self, prefix: &str) -> TenantKeys {
        let tenant = self.new_tenant(prefix).await;
        TenantKeys {
            check: self.api_key(&tenant, &["check"]).await,
            writer: self.api_key(&tenant, &["consents:write"]).await,
            admin: self
                .api_key(&tenant, &["check", "consents:write", "admin"])
                .await,
            tenant,
        }
    }

    /// Creates an API key with `scopes` and returns it.
    pub async fn api_key(&self, tenant: &str, scopes: &[&str]) -> String {
        let (key, key_id) = generate_key();
        let scopes = scopes.iter().map(|s| s.to_string()).collect();
        let record = ApiKeyRecord::new(key_id, tenant, scopes, chrono::Utc::now(), None);
        self.store
            .put_api_key(&hash_key(&key), &record)
            .await
            .expect("api key");
        key
    }
}

/// Creates `store`'s table with the keys and index of template.yaml's.
pub async fn create_table(store: &Store) {
    use aws_sdk_dynamodb::types::{
        AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType,
        Projection, ProjectionType, ScalarAttributeType,
    };
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .expect("attribute")
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .expect("key")
    };
    store
        .ddb
        .create_table()
        .table_name(store.table())
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            ["pk", "sk", "gsi1pk", "gsi1sk"].map(attribute).to_vec(),
        ))
        .key_schema(key("pk", KeyType::Hash))
        .key_schema(key("sk", KeyType::Range))
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash))
                .key_schema(key("gsi1sk", KeyType::Range))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .expect("index"),
        )
        .send()
        .await
        .expect("create table");
}

/// The number `n` of a bulk load: `+1415` and seven digits.
pub fn bulk_number(n: u64) -> crate::phone::E164 {
    crate::phone::E164::from_stored(&format!("+1415{:07}", n % 10_000_000))
        .unwrap_or_else(|| unreachable!("digits"))
}

/// Writes a keyword STOP, recorded at `recorded_at`, for each number [`bulk_number`] of
/// `numbers`: the event item (with its change-index entry) and the number's state item exactly
/// as a commit writes them (`store::ledger::event_item`, `state_item`), but with
/// `BatchWriteItem`, many at a time, and without the commit's conditions: for tests and
/// benchmarks that need a long opt-out list of new numbers quickly. `progress` is told how many
/// numbers are written so far.
///
/// DynamoDB Local has the same two cores for every test: each request in flight here is one
/// more that a concurrent test's request may wait behind (past the SDK's timeout on a busy
/// machine), so few are in flight, and a request that times out is sent again (the puts are
/// idempotent).
pub async fn bulk_opt_outs(
    store: &Store,
    tenant: &str,
    numbers: std::ops::Range<u64>,
    recorded_at: chrono::DateTime<chrono::Utc>,
    progress: &mut dyn FnMut(u64),
) {
    use crate::consent::chain::ChainHead;
    use crate::consent::{EventKind, NumberState};
    use crate::store::ledger::{event_item, state_item};
    use aws_sdk_dynamodb::types::{PutRequest, WriteRequest};

    const IN_FLIGHT: usize = 4;
    const ATTEMPTS: u32 = 6;
    // Two items per number, 25 items per request.
    const NUMBERS_PER_REQUEST: u64 = 12;
    let mut pending = tokio::task::JoinSet::new();
    let mut done = 0u64;
    let mut next = numbers.start;
    while next < numbers.end || !pending.is_empty() {
        while next < numbers.end && pending.len() < IN_FLIGHT {
            let end = (next + NUMBERS_PER_REQUEST).min(numbers.end);
            let mut requests = Vec::new();
            for n in next..end {
                let stop = events::event(EventKind::OptOut)
                    .tenant(tenant)
                    .phone(&bulk_number(n))
                    .at(recorded_at)
                    .keyword("stop")
                    .build();
                let mut state = NumberState::default();
                state.apply(&stop);
                let (event, head) = event_item(&stop, &ChainHead::default()).expect("event item");
                for item in [
                    event,
                    state_item(&stop, &state, 1, &head).expect("state item"),
                ] {
                    requests.push(
                        WriteRequest::builder()
                            .put_request(
                                PutRequest::builder()
                                    .set_item(Some(item))
                                    .build()
                                    .expect("put"),
                            )
                            .build(),
                    );
                }
            }
            let (ddb, table) = (store.ddb.clone(), store.table.clone());
            let count = end - next;
            pending.spawn(async move {
                let mut requests = requests;
                let mut backoff = std::time::Duration::from_millis(20);
                let mut failures = 0;
                while !requests.is_empty() {
                    match ddb
                        .batch_write_item()
                        .request_items(&table, requests.clone())
                        .send()
                        .await
                    {
                        Ok(out) => {
                            requests = out
                                .unprocessed_items()
                                .and_then(|u| u.get(&table))
                                .cloned()
                                .unwrap_or_default();
                        }
                        Err(e) => {
                            failures += 1;
                            assert!(failures < ATTEMPTS, "batch write: {e:?}");
                        }
                    }
                    if !requests.is_empty() {
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(std::time::Duration::from_secs(1));
                    }
                }
                count
            });
            next = end;
        }
        if let Some(written) = pending.join_next().await {
            done += written.expect("bulk writer");
            progress(done);
        }
    }
}
