//! Nothing is lost under load, faults and hostile requests (SECURITY.md): every delivery goes
//! over loopback HTTP to the locally served functions (the gateway `make dev` runs), against
//! DynamoDB Local and moto. Each test writes its figures to `target/reliability/<test>.json`
//! (`make test-reliability` prints them) and its logs, at `trace`, to `<test>.log`, which it then
//! searches for secrets, API keys, phone numbers and message text: none may be there.
//!
//! The message plan is drawn from a seeded generator (`RELIABILITY_SEED`, printed), so a failure
//! can be run again exactly. The oracle for a number's final standing is written here, from
//! docs/rules.md rule 1 (provider-stamped keywords: the later wins, a tie goes to the opt-out),
//! apart from the code it checks.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet, HashSet, VecDeque};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use chrono::{Duration, Utc};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use stopgate::api::webhook::IncomingWebhook;
use stopgate::consent::{ConsentEvent, NumberState};
use stopgate::phone::E164;
use stopgate::providers::Provider;
use stopgate::testing::own_dynamodb::OwnDynamoDb;
use stopgate::testing::webhooks::{self, Endpoint, Sms};
use stopgate::testing::{TenantKeys, TestEnv, TestSecrets, env};
use stopgate_dev::Gateway;
use tokio::net::TcpListener;

/// Providers that stamp each message with their own time, so the oracle can order them.
const PROVIDERS: [Provider; 3] = [Provider::Telnyx, Provider::Bandwidth, Provider::Sinch];
const IN_FLIGHT: usize = 32;
/// The outage run is about what is kept, not throughput: fewer in flight keep the local queue
/// (moto, single process) inside the SDK's timeouts while it takes every delivery.
const OUTAGE_IN_FLIGHT: usize = 8;
const MESSAGES_PER_NUMBER: usize = 5;
/// One message in five is delivered twice.
const REDELIVERED_PERCENT: u32 = 20;

// --- Figures and logs ------------------------------------------------------------------------

fn reliability_dir() -> PathBuf {
    let dir = std::env::var_os("RELIABILITY_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target/reliability"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Sends every log line of this test process (each nextest test is one) to `<test>.log`.
fn capture_logs(test: &str) -> PathBuf {
    let path = reliability_dir().join(format!("{test}.log"));
    let file = std::fs::File::create(&path).unwrap();
    stopgate::telemetry::init_capturing(Mutex::new(file));
    path
}

fn write_figures(test: &str, figures: &Value) {
    let path = reliability_dir().join(format!("{test}.json"));
    std::fs::write(&path, serde_json::to_string_pretty(figures).unwrap()).unwrap();
    println!("{test}: {figures}");
}

/// What must never be in a log: the numbers (in any form with all their digits), the message
/// texts, the secrets and the API keys.
#[derive(Default)]
struct Secrets {
    numbers: HashSet<String>,
    texts: Vec<String>,
    values: Vec<String>,
}

impl Secrets {
    fn number(&mut self, e164: &str) {
        // The national number is enough to identify a person: search for its ten digits.
        let digits: String = e164.chars().filter(char::is_ascii_digit).collect();
        self.numbers.insert(digits[digits.len() - 10..].to_string());
    }

    /// The findings in `log`: each a short description, never the secret itself.
    fn found_in(&self, log: &str) -> Vec<String> {
        let mut found = Vec::new();
        for run in log
            .split(|c: char| !c.is_ascii_digit())
            .filter(|run| run.len() >= 10)
        {
            if self.numbers.iter().any(|n| run.contains(n.as_str())) {
                found.push(format!("a phone number ({} digits)", run.len()));
            }
        }
        if log.contains(stopgate::api::auth::KEY_PREFIX) {
            found.push("an API key".into());
        }
        for (i, text) in self.texts.iter().enumerate() {
            if log.contains(text.as_str()) {
                found.push(format!("message text #{i}"));
            }
        }
        for (i, value) in self.values.iter().enumerate() {
            if log.contains(value.as_str()) {
                found.push(format!("secret #{i}"));
            }
        }
        found
    }
}

fn scan_log(path: &PathBuf, secrets: &Secrets) -> Vec<String> {
    let log = std::fs::read_to_string(path).unwrap();
    assert!(!log.is_empty(), "the log captured nothing");
    secrets.found_in(&log)
}

// --- The plan --------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Stop,
    Start,
    Text,
    Help,
}

impl Kind {
    fn recorded_as(self) -> &'static str {
        match self {
            Kind::Stop => "opt_out",
            Kind::Start => "opt_in",
            Kind::Text => "inbound",
            Kind::Help => "help",
        }
    }
}

#[derive(Debug, Clone)]
struct Planned {
    provider: Provider,
    person: String,
    kind: Kind,
    sms: Sms,
}

struct Plan {
    messages: Vec<Planned>,
    /// Indexes into `messages`, in delivery order: every message once, some twice.
    deliveries: Vec<usize>,
    people: Vec<String>,
}

impl Plan {
    fn new(seed: u64, numbers: usize) -> Plan {
        let mut rng = StdRng::seed_from_u64(seed);
        let t0 = Utc::now() - Duration::hours(2);
        let mut messages = Vec::new();
        let mut people = Vec::new();
        for i in 0..numbers {
            let person = format!("+1212{:07}", 2_340_000 + i);
            let provider = PROVIDERS[i % PROVIDERS.len()];
            let mut kinds = vec![Kind::Stop];
            for _ in 1..MESSAGES_PER_NUMBER {
                kinds.push(match rng.random_range(0..10) {
                    0..=2 => Kind::Stop,
                    3..=6 => Kind::Start,
                    7..=8 => Kind::Text,
                    _ => Kind::Help,
                });
            }
            // Distinct provider times, in an order unrelated to delivery.
            let mut seconds: Vec<i64> = (0..600).collect();
            seconds.shuffle(&mut rng);
            for (k, kind) in kinds.into_iter().enumerate() {
                let text = match kind {
                    Kind::Stop => ["STOP", "stop", "Stop", "UNSUBSCRIBE", "CANCEL", "QUIT"]
                        [rng.random_range(0..6)]
                    .to_string(),
                    Kind::Start => ["START", "start", "UNSTOP"][rng.random_range(0..3)].to_string(),
                    Kind::Text => format!("Is order {i}-{k} ready for pickup?"),
                    Kind::Help => "HELP".to_string(),
                };
                let mut sms = Sms::new(&person, &format!("rel-{seed}-{i}-{k}"), &text);
                sms.at = t0 + Duration::seconds(seconds[k]);
                messages.push(Planned {
                    provider,
                    person: person.clone(),
                    kind,
                    sms,
                });
            }
            people.push(person);
        }
        let mut deliveries: Vec<usize> = (0..messages.len()).collect();
        for m in 0..messages.len() {
            if rng.random_range(0..100) < REDELIVERED_PERCENT {
                deliveries.push(m);
            }
        }
        deliveries.shuffle(&mut rng);
        Plan {
            messages,
            deliveries,
            people,
        }
    }

    fn redeliveries(&self) -> usize {
        self.deliveries.len() - self.messages.len()
    }

    fn of(&self, person: &str) -> Vec<&Planned> {
        self.messages
            .iter()
            .filter(|m| m.person == person)
            .collect()
    }

    /// The oracle (docs/rules.md rule 1, both acts provider-stamped): a person is opted out when
    /// their latest STOP is at least as late as their latest START.
    fn opted_out(&self, person: &str) -> bool {
        let latest = |kind| {
            self.of(person)
                .iter()
                .filter(|m| m.kind == kind)
                .map(|m| m.sms.at)
                .max()
        };
        match (latest(Kind::Stop), latest(Kind::Start)) {
            (Some(stop), Some(start)) => stop >= start,
            (Some(_), None) => true,
            (None, _) => false,
        }
    }

    fn secrets(&self) -> Secrets {
        let mut secrets = Secrets::default();
        for person in &self.people {
            secrets.number(person);
        }
        secrets.texts = self
            .messages
            .iter()
            .filter(|m| m.kind == Kind::Text)
            .map(|m| m.sms.text.clone())
            .collect();
        for provider in PROVIDERS {
            for (_, value) in TestSecrets::for_provider(provider).stored {
                secrets.values.push(value);
            }
        }
        secrets
    }
}

fn seed() -> u64 {
    let seed = std::env::var("RELIABILITY_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("RELIABILITY_SEED={seed}");
    seed
}

// --- The served functions and a client -------------------------------------------------------

struct Served {
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
    server: tokio::task::JoinHandle<()>,
}

impl Served {
    async fn start(env: &TestEnv) -> Served {
        let gateway = Arc::new(Gateway::new(&env.config, &env.sdk).unwrap());
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(stopgate_dev::serve(listener, gateway));
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(IN_FLIGHT)
            .build_http();
        Served {
            base,
            client,
            server,
        }
    }

    /// A request over loopback; its status and body.
    async fn send(&self, request: http::Request<Full<Bytes>>) -> (u16, String) {
        let response = self.client.request(request).await.unwrap();
        let status = response.status().as_u16();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        (status, String::from_utf8_lossy(&body).into_owned())
    }

    async fn webhook(&self, webhook: IncomingWebhook) -> (u16, String) {
        let path = webhook
            .url
            .split_once("/v1/")
            .map(|(_, rest)| format!("/v1/{rest}"))
            .unwrap();
        let mut request = http::Request::builder()
            .method(webhook.method.as_str())
            .uri(format!("{}{path}", self.base));
        for (name, value) in &webhook.headers {
            request = request.header(name, value);
        }
        self.send(request.body(Full::new(Bytes::from(webhook.body))).unwrap())
            .await
    }

    async fn api(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let request = http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .unwrap();
        let (status, text) = self.send(request).await;
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// A tenant with API keys and the test secrets of every provider in [`PROVIDERS`].
async fn tenant(env: &TestEnv, prefix: &str) -> TenantKeys {
    let keys = env.tenant_with_keys(prefix).await;
    for provider in PROVIDERS {
        let secrets = TestSecrets::for_provider(provider);
        env.tenant_with_provider(&keys.tenant, provider, &secrets.stored_pairs())
            .await;
    }
    keys
}

/// Delivers `deliveries` (indexes into the plan) with `in_flight` requests in flight; the
/// statuses, counted.
async fn deliver(
    served: &Arc<Served>,
    env: &TestEnv,
    tenant: &str,
    plan: &Arc<Plan>,
    deliveries: &[usize],
    in_flight: usize,
) -> BTreeMap<u16, usize> {
    let queue = Arc::new(Mutex::new(
        deliveries.iter().copied().collect::<VecDeque<_>>(),
    ));
    let statuses = Arc::new(Mutex::new(BTreeMap::new()));
    let mut workers = Vec::new();
    for _ in 0..in_flight {
        let (queue, statuses, served, plan) = (
            queue.clone(),
            statuses.clone(),
            served.clone(),
            plan.clone(),
        );
        let (base_url, tenant) = (env.config.public_base_url.clone(), tenant.to_string());
        workers.push(tokio::spawn(async move {
            loop {
                let Some(m) = queue.lock().unwrap().pop_front() else {
                    break;
                };
                let message = &plan.messages[m];
                let endpoint = Endpoint::new(&base_url, message.provider, &tenant);
                let proof = TestSecrets::for_provider(message.provider).proof;
                let mut request = webhooks::text(&endpoint, &proof, &message.sms);
                webhooks::sign(&mut request, &proof, Utc::now());
                let (status, body) = served.webhook(request).await;
                if status != 200 {
                    eprintln!("delivery {m}: {status} {body}");
                }
                *statuses.lock().unwrap().entry(status).or_insert(0) += 1;
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    Arc::try_unwrap(statuses).unwrap().into_inner().unwrap()
}

/// The replay function on the capture queue, as its SQS event source runs it, counting.
struct Replayer {
    queue: stopgate::store::CaptureQueue,
    replay: Arc<stopgate_replay::Replay>,
    replayed: Arc<std::sync::atomic::AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl Replayer {
    fn start(env: &TestEnv, queue_url: &str) -> Replayer {
        let queue = stopgate::store::CaptureQueue::new(&env.sdk, queue_url);
        let replay = Arc::new(stopgate_replay::Replay::new(&env.config, &env.sdk));
        let replayed = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let task = tokio::spawn(drain(queue.clone(), replay.clone(), replayed.clone()));
        Replayer {
            queue,
            replay,
            replayed,
            task,
        }
    }

    /// Stops the background drain, drains what is left, and says how many were replayed.
    async fn finish(self) -> usize {
        self.task.abort();
        let _ = self.task.await;
        // A message received by the stopped drain comes back after its visibility timeout.
        drain_until_empty(&self.queue, &self.replay, &self.replayed).await;
        self.replayed.load(std::sync::atomic::Ordering::SeqCst)
    }
}

async fn drain(
    queue: stopgate::store::CaptureQueue,
    replay: Arc<stopgate_replay::Replay>,
    replayed: Arc<std::sync::atomic::AtomicUsize>,
) {
    loop {
        for (handle, body) in queue.receive(1, Some(5)).await.unwrap_or_default() {
            // A replay that fails stays on the queue and comes back, as with the event source.
            if replay.replay_body(&body).await.is_ok() && queue.delete(&handle).await.is_ok() {
                replayed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
    }
}

/// Drains until the queue holds nothing, visible or in flight.
async fn drain_until_empty(
    queue: &stopgate::store::CaptureQueue,
    replay: &stopgate_replay::Replay,
    replayed: &std::sync::atomic::AtomicUsize,
) {
    let started = Instant::now();
    loop {
        let messages = queue.receive(1, Some(5)).await.unwrap_or_default();
        for (handle, body) in &messages {
            if replay.replay_body(body).await.is_ok() && queue.delete(handle).await.is_ok() {
                replayed.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
        }
        if messages.is_empty() && queue.backlog().await.is_ok_and(|n| n == 0) {
            return;
        }
        assert!(
            started.elapsed().as_secs() < 120,
            "the capture queue never emptied"
        );
    }
}

/// What the ledger holds for each person of the plan, compared with the plan.
#[derive(Debug, Default)]
struct Audit {
    lost: usize,
    doubled: usize,
    wrong_kind: usize,
    state_not_fold: usize,
    /// Numbers whose events do not form an unbroken hash chain up to the state's head.
    chain_broken: usize,
    standing_wrong: usize,
}

async fn audit(served: &Served, env: &TestEnv, keys: &TenantKeys, plan: &Plan) -> Audit {
    let mut audit = Audit::default();
    for person in &plan.people {
        let phone = E164::parse_e164(person).unwrap();
        let events: Vec<ConsentEvent> = env.store.events(&keys.tenant, &phone).await.unwrap();
        let recorded: Vec<(String, &str)> = events
            .iter()
            .map(|e| {
                (
                    e.origin.provider_message_id.clone().unwrap_or_default(),
                    e.kind.as_str(),
                )
            })
            .collect();
        let distinct: BTreeSet<&String> = recorded.iter().map(|(id, _)| id).collect();
        audit.doubled += recorded.len() - distinct.len();
        for planned in plan.of(person) {
            match recorded
                .iter()
                .find(|(id, _)| *id == planned.sms.message_id)
            {
                None => audit.lost += 1,
                Some((_, kind)) if *kind != planned.kind.recorded_as() => audit.wrong_kind += 1,
                Some(_) => {}
            }
        }
        let (stored, _) = env.store.load_state(&keys.tenant, &phone).await.unwrap();
        let mut folded = NumberState::default();
        for event in &events {
            folded.apply(event);
        }
        if stored != folded {
            audit.state_not_fold += 1;
        }
        let (chain, head) = env.store.chain(&keys.tenant, &phone).await.unwrap();
        let report = stopgate::consent::chain::verify(&chain, head.as_ref());
        if !report.intact() || report.unchained > 0 || report.events != events.len() {
            eprintln!("{person}: chain {report:?}");
            audit.chain_broken += 1;
        }
        let (status, answer) = served
            .api(
                "POST",
                "/v1/check",
                &keys.check,
                Some(
                    json!({"from": webhooks::BUSINESS, "to": person, "category": "conversational"}),
                ),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        if (answer["reason"] == "opted_out") != plan.opted_out(person) {
            eprintln!(
                "{person}: the check says {answer}, the oracle {}",
                plan.opted_out(person)
            );
            audit.standing_wrong += 1;
        }
    }
    audit
}

// --- 1. Load with duplicates and disorder ----------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn load_with_duplicates_and_disorder() {
    let log = capture_logs("load");
    let numbers: usize = std::env::var("RELIABILITY_NUMBERS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(2_000);
    let seed = seed();
    let plan = Arc::new(Plan::new(seed, numbers));
    let mut env = env().await;
    let queue_url = env.fresh_queue_url().await;
    env.config.capture_queue_url = Some(queue_url.clone());
    let keys = tenant(&env, "load").await;
    let served = Arc::new(Served::start(&env).await);
    // As in AWS, what waits longer than the inbound budget is captured and replayed.
    let replayer = Replayer::start(&env, &queue_url);

    let started = Instant::now();
    let statuses = deliver(
        &served,
        &env,
        &keys.tenant,
        &plan,
        &plan.deliveries,
        IN_FLIGHT,
    )
    .await;
    let seconds = started.elapsed().as_secs_f64();
    let replayed = replayer.finish().await;
    let server_errors: usize = statuses
        .iter()
        .filter(|(status, _)| **status >= 500)
        .map(|(_, n)| n)
        .sum();

    let audit = audit(&served, &env, &keys, &plan).await;
    let found = scan_log(&log, &plan.secrets());
    let figures = json!({
        "seed": seed,
        "deliveries": plan.deliveries.len(),
        "duplicates": plan.redeliveries(),
        "messages": plan.messages.len(),
        "numbers": numbers,
        "providers": PROVIDERS.iter().map(|p| p.as_str()).collect::<Vec<_>>(),
        "in_flight": IN_FLIGHT,
        "captured_and_replayed": replayed,
        "statuses": statuses,
        "server_errors": server_errors,
        "seconds": (seconds * 10.0).round() / 10.0,
        "deliveries_per_second": (plan.deliveries.len() as f64 / seconds).round(),
        "events_lost": audit.lost,
        "events_doubled": audit.doubled,
        "events_of_the_wrong_kind": audit.wrong_kind,
        "states_unlike_their_fold": audit.state_not_fold,
        "chains_broken": audit.chain_broken,
        "standings_unlike_the_rules": audit.standing_wrong,
        "log_findings": found.len(),
    });
    write_figures("load", &figures);

    assert!(numbers >= 2_000 || std::env::var_os("RELIABILITY_NUMBERS").is_some());
    assert_eq!(
        statuses.get(&200),
        Some(&plan.deliveries.len()),
        "{statuses:?}"
    );
    assert_eq!(server_errors, 0);
    assert_eq!(
        (audit.lost, audit.doubled, audit.wrong_kind),
        (0, 0, 0),
        "{audit:?}"
    );
    assert_eq!(audit.state_not_fold, 0, "{audit:?}");
    assert_eq!(audit.chain_broken, 0, "{audit:?}");
    assert_eq!(audit.standing_wrong, 0, "{audit:?}");
    assert!(found.is_empty(), "the log holds {found:?}");
}

// --- 2. Outage without help from the sender --------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn outage_without_help_from_the_sender() {
    let log = capture_logs("outage");
    let seed = seed();
    let plan = Arc::new(Plan::new(seed, 300));
    let mut main = env().await;

    // The same deliveries without an outage: what the ledger must come to.
    main.config.capture_queue_url = Some(main.fresh_queue_url().await);
    let control_keys = tenant(&main, "control").await;
    let control = Arc::new(Served::start(&main).await);
    let replayer = Replayer::start(&main, main.config.capture_queue_url.as_deref().unwrap());
    let statuses = deliver(
        &control,
        &main,
        &control_keys.tenant,
        &plan,
        &plan.deliveries,
        OUTAGE_IN_FLIGHT,
    )
    .await;
    assert_eq!(
        statuses.get(&200),
        Some(&plan.deliveries.len()),
        "{statuses:?}"
    );
    replayer.finish().await;

    // The outage run, on a DynamoDB Local of its own, with a capture queue of its own.
    let mut dynamodb = OwnDynamoDb::start().await;
    let mut env = dynamodb.env(&main, "stopgate-outage").await;
    let queue_url = main.fresh_queue_url().await;
    env.config.capture_queue_url = Some(queue_url.clone());
    let keys = tenant(&env, "outage").await;
    let served = Arc::new(Served::start(&env).await);
    let third = plan.deliveries.len() / 3;
    let (before, rest) = plan.deliveries.split_at(third);
    let (during, after) = rest.split_at(third);

    let replayer = Replayer::start(&env, &queue_url);
    let statuses = deliver(&served, &env, &keys.tenant, &plan, before, OUTAGE_IN_FLIGHT).await;
    assert_eq!(statuses.get(&200), Some(&before.len()), "{statuses:?}");
    let replayed_before = replayer.finish().await;
    // DynamoDB Local, unlike DynamoDB, may lose the last writes it acknowledged if it is killed
    // right after them: confirm every commit before the outage is readable, then stop it with
    // SIGTERM (OwnDynamoDb::stop), never SIGKILL.
    let before_ids: BTreeSet<&str> = before
        .iter()
        .map(|m| plan.messages[*m].sms.message_id.as_str())
        .collect();
    let mut confirmed = BTreeSet::new();
    for person in &plan.people {
        let phone = E164::parse_e164(person).unwrap();
        for event in env.store.events(&keys.tenant, &phone).await.unwrap() {
            confirmed.insert(event.origin.provider_message_id.unwrap_or_default());
        }
    }
    assert!(before_ids.iter().all(|id| confirmed.contains(*id)));
    dynamodb.stop().await;

    // Every signed webhook is acknowledged only because it was captured; every check is 503.
    let statuses = deliver(&served, &env, &keys.tenant, &plan, during, OUTAGE_IN_FLIGHT).await;
    assert_eq!(statuses.get(&200), Some(&during.len()), "{statuses:?}");
    let queue = stopgate::store::CaptureQueue::new(&env.sdk, &queue_url);
    let mut checks_refused = 0;
    for person in plan.people.iter().take(50) {
        let body = json!({"from": webhooks::BUSINESS, "to": person, "category": "conversational"});
        let (status, answer) = served
            .api("POST", "/v1/check", &keys.check, Some(body))
            .await;
        assert_eq!(status, 503, "{answer}");
        checks_refused += 1;
    }

    let captured = queue.backlog().await.unwrap();
    assert_eq!(
        captured,
        during.len() as u64,
        "every delivery of the outage is on the queue"
    );

    // DynamoDB is back: nobody redelivers; the replay function alone drains the queue, as its
    // event source would, while new deliveries arrive.
    dynamodb.restart().await;
    let replayer = Replayer::start(&env, &queue_url);
    let statuses = deliver(&served, &env, &keys.tenant, &plan, after, OUTAGE_IN_FLIGHT).await;
    assert_eq!(statuses.get(&200), Some(&after.len()), "{statuses:?}");
    let replayed = replayer.finish().await;
    assert!(
        replayed >= during.len(),
        "every capture of the outage was replayed"
    );

    let audit = audit(&served, &env, &keys, &plan).await;
    let control_audit = audit_against(&main, &control_keys, &env, &keys, &plan).await;

    // Then the capture queue fails too: nothing is acknowledged that is not kept.
    let sqs = aws_sdk_sqs::Client::new(&main.sdk);
    sqs.delete_queue()
        .queue_url(&queue_url)
        .send()
        .await
        .unwrap();
    dynamodb.stop().await;
    let last: Vec<usize> = plan.deliveries.iter().copied().take(20).collect();
    let statuses = deliver(&served, &env, &keys.tenant, &plan, &last, OUTAGE_IN_FLIGHT).await;
    let acknowledged_unkept = statuses.get(&200).copied().unwrap_or(0);

    let found = scan_log(&log, &plan.secrets());
    let figures = json!({
        "seed": seed,
        "deliveries": plan.deliveries.len(),
        "duplicates": plan.redeliveries(),
        "outage_deliveries": during.len(),
        "outage_deliveries_captured": captured,
        "replayed_after_the_outage": replayed,
        "replayed_before_the_outage": replayed_before,
        "checks_answered_503": checks_refused,
        "events_lost": audit.lost,
        "events_doubled": audit.doubled,
        "numbers_unlike_the_run_without_outage": control_audit,
        "chains_broken": audit.chain_broken,
        "standings_unlike_the_rules": audit.standing_wrong,
        "both_down_deliveries": last.len(),
        "both_down_acknowledged": acknowledged_unkept,
        "both_down_statuses": statuses,
        "log_findings": found.len(),
    });
    write_figures("outage", &figures);
    assert_eq!(
        (audit.lost, audit.doubled, audit.wrong_kind),
        (0, 0, 0),
        "{audit:?}"
    );
    assert_eq!(audit.state_not_fold, 0, "{audit:?}");
    assert_eq!(audit.chain_broken, 0, "{audit:?}");
    assert_eq!(audit.standing_wrong, 0, "{audit:?}");
    assert_eq!(control_audit, 0);
    assert_eq!(acknowledged_unkept, 0, "{statuses:?}");
    assert!(statuses.keys().all(|s| *s >= 500), "{statuses:?}");
    assert!(found.is_empty(), "the log holds {found:?}");
}

/// How many people's ledgers differ between the run without outage (`control`) and the one with
/// it: the same provider message ids and kinds, and the same check answer.
async fn audit_against(
    control_env: &TestEnv,
    control: &TenantKeys,
    env: &TestEnv,
    keys: &TenantKeys,
    plan: &Plan,
) -> usize {
    let summary = |events: Vec<ConsentEvent>| {
        let mut kept: Vec<(String, String)> = events
            .into_iter()
            .map(|e| {
                (
                    e.origin.provider_message_id.unwrap_or_default(),
                    e.kind.as_str().to_string(),
                )
            })
            .collect();
        kept.sort();
        kept
    };
    let mut differing = 0;
    for person in &plan.people {
        let phone = E164::parse_e164(person).unwrap();
        let expected = summary(
            control_env
                .store
                .events(&control.tenant, &phone)
                .await
                .unwrap(),
        );
        let got = summary(env.store.events(&keys.tenant, &phone).await.unwrap());
        let expected_check = control_env
            .check(
                &control.tenant,
                webhooks::BUSINESS,
                person,
                "conversational",
            )
            .await;
        let got_check = env
            .check(&keys.tenant, webhooks::BUSINESS, person, "conversational")
            .await;
        if expected != got || expected_check["reason"] != got_check["reason"] {
            eprintln!("{person}: {expected:?} / {got:?}; {expected_check} / {got_check}");
            differing += 1;
        }
    }
    differing
}

// --- 4. Security: what must be refused is refused --------------------------------------------

/// One hostile request and the status it must get.
struct Case {
    name: &'static str,
    expected: u16,
    got: u16,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_are_refused() {
    let log = capture_logs("security");
    let env = env().await;
    let keys = tenant(&env, "security").await;
    let other = tenant(&env, "intruder").await;
    for (tenant, provider) in [
        (&keys.tenant, Provider::Twilio),
        (&keys.tenant, Provider::Plivo),
    ] {
        let secrets = TestSecrets::for_provider(provider);
        env.tenant_with_provider(tenant, provider, &secrets.stored_pairs())
            .await;
    }
    let served = Served::start(&env).await;
    let person = "+12122349999";
    let mut cases = Vec::new();
    let mut case = |name, expected, got| {
        cases.push(Case {
            name,
            expected,
            got,
        })
    };
    let text = |provider, id: &str, body: &str, tenant: &str, at| {
        let endpoint = Endpoint::new(&env.config.public_base_url, provider, tenant);
        let proof = TestSecrets::for_provider(provider).proof;
        let mut request = webhooks::text(&endpoint, &proof, &Sms::new(person, id, body));
        webhooks::sign(&mut request, &proof, at);
        request
    };

    // Forged, unsigned, and signed for another tenant's URL.
    let mut forged = text(
        Provider::Telnyx,
        "sec-forged",
        "START",
        &keys.tenant,
        Utc::now(),
    );
    let proof = TestSecrets::for_provider(Provider::Telnyx).proof.forged();
    webhooks::sign(&mut forged, &proof, Utc::now());
    case(
        "forged Telnyx signature",
        401,
        served.webhook(forged).await.0,
    );
    let mut unsigned = text(
        Provider::Bandwidth,
        "sec-unsigned",
        "START",
        &keys.tenant,
        Utc::now(),
    );
    unsigned.headers.remove("authorization");
    case(
        "unsigned Bandwidth callback",
        401,
        served.webhook(unsigned).await.0,
    );
    let mut crossed = text(
        Provider::Twilio,
        "sec-crossed",
        "START",
        &keys.tenant,
        Utc::now(),
    );
    crossed.url = crossed.url.replace(&keys.tenant, &other.tenant);
    case(
        "Twilio request replayed to another tenant",
        401,
        served.webhook(crossed).await.0,
    );
    let mut unknown = text(
        Provider::Telnyx,
        "sec-unknown",
        "STOP",
        &keys.tenant,
        Utc::now(),
    );
    unknown.url = unknown.url.replace(&keys.tenant, "no-such-tenant");
    case("unknown tenant", 401, served.webhook(unknown).await.0);

    // Replayed: a Telnyx timestamp out of tolerance, a Plivo nonce on another body.
    let stale = Utc::now() - Duration::minutes(10);
    let late = text(Provider::Telnyx, "sec-late", "START", &keys.tenant, stale);
    case(
        "Telnyx timestamp 10 min old",
        401,
        served.webhook(late).await.0,
    );
    let mut stop = text(
        Provider::Plivo,
        "sec-plivo-stop",
        "STOP",
        &keys.tenant,
        Utc::now(),
    );
    for name in ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce"] {
        stop.headers.remove(name);
    }
    case(
        "Plivo V2 STOP, first use",
        200,
        served.webhook(stop.clone()).await.0,
    );
    let mut start = text(
        Provider::Plivo,
        "sec-plivo-start",
        "START",
        &keys.tenant,
        Utc::now(),
    );
    for name in ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce"] {
        start.headers.remove(name);
    }
    for name in ["x-plivo-signature-v2", "x-plivo-signature-v2-nonce"] {
        start.headers.insert(name, stop.headers[name].clone());
    }
    case(
        "Plivo V2 nonce reused on a START",
        401,
        served.webhook(start).await.0,
    );

    // Keys: under-scoped, revoked, another tenant's.
    let grant = json!({"phone": person, "kind": "opt_in", "source": "web_form"});
    let (status, _) = served
        .api("POST", "/v1/consents", &keys.check, Some(grant))
        .await;
    case("check key recording a consent", 403, status);
    let revoked = env.api_key(&keys.tenant, &["check"]).await;
    let key_id = env
        .store
        .api_keys(&keys.tenant)
        .await
        .unwrap()
        .last()
        .unwrap()
        .key_id
        .clone();
    env.store
        .revoke_api_key(&keys.tenant, &key_id, Utc::now())
        .await
        .unwrap();
    let body = json!({"from": webhooks::BUSINESS, "to": person, "category": "conversational"});
    let (status, _) = served
        .api("POST", "/v1/check", &revoked, Some(body.clone()))
        .await;
    case("revoked key", 401, status);
    let (status, answer) = served
        .api(
            "POST",
            "/v1/numbers/history",
            &other.admin,
            Some(json!({"phone": person})),
        )
        .await;
    let crossed = if status == 200 && answer["events"].as_array().is_some_and(|e| e.is_empty()) {
        403 // sees nothing of the other tenant: refused in effect
    } else {
        status
    };
    case("another tenant's key reading history", 403, crossed);

    // Tampered cursors, malformed and oversized bodies.
    let (status, _) = served
        .api(
            "GET",
            "/v1/opt-outs?cursor=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            &keys.admin,
            None,
        )
        .await;
    case("forged cursor", 400, status);
    let (status, _) = served
        .api("GET", "/v1/opt-outs?status=everyone", &keys.admin, None)
        .await;
    case("unknown opt-out status", 400, status);
    let (status, answer) = served
        .api(
            "POST",
            "/v1/numbers/history",
            &keys.admin,
            Some(json!({"phone": person, "cursor": "bm90LWEtY3Vyc29y"})),
        )
        .await;
    case("tampered history cursor", 400, status);
    assert!(answer["error"]["code"].is_string(), "{answer}");
    let (status, answer) = served
        .api("POST", "/v1/check", &keys.check, Some(json!({"to": 5})))
        .await;
    case("malformed check", 400, status);
    assert!(answer["error"]["field"].is_string() || answer["error"]["code"].is_string());
    let huge = http::Request::builder()
        .method("POST")
        .uri(format!("{}/v1/check", served.base))
        .header("authorization", format!("Bearer {}", keys.check))
        .header("content-type", "application/json")
        .body(Full::new(Bytes::from(vec![b' '; 2 * 1024 * 1024])))
        .unwrap();
    case("2 MiB check body", 413, served.send(huge).await.0);

    // Nothing refused reached the ledger.
    let phone = E164::parse_e164(person).unwrap();
    let recorded: Vec<String> = env
        .store
        .events(&keys.tenant, &phone)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.origin.provider_message_id)
        .collect();

    let mut secrets = Secrets::default();
    secrets.number(person);
    for provider in [
        Provider::Telnyx,
        Provider::Bandwidth,
        Provider::Twilio,
        Provider::Plivo,
    ] {
        for (_, value) in TestSecrets::for_provider(provider).stored {
            secrets.values.push(value);
        }
    }
    for key in [
        &keys.check,
        &keys.writer,
        &keys.admin,
        &other.admin,
        &revoked,
    ] {
        secrets.values.push(key.to_string());
    }
    let found = scan_log(&log, &secrets);
    let wrong: Vec<String> = cases
        .iter()
        .filter(|c| c.expected != c.got)
        .map(|c| format!("{}: expected {}, got {}", c.name, c.expected, c.got))
        .collect();
    write_figures(
        "security",
        &json!({
            "cases": cases.len(),
            "answered_as_expected": cases.len() - wrong.len(),
            "recorded": recorded,
            "log_findings": found.len(),
        }),
    );
    assert!(wrong.is_empty(), "{wrong:#?}");
    assert_eq!(
        recorded,
        ["sec-plivo-stop"],
        "only the genuine STOP is recorded"
    );
    assert!(found.is_empty(), "the log holds {found:?}");
}
