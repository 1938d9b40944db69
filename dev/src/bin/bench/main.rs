// The AWS SDK futures are deeply nested; the default limit is too low for their layout.
#![recursion_limit = "256"]

//! `make bench` (scripts/bench.sh): the whole requests a user pays for, each beside its baseline
//! measured in the same run against the same local DynamoDB, printed as one Markdown table
//! (BENCHMARKS.md). Release build; nothing here is asserted, it is measured and printed.
//!
//! - check: `POST /v1/check` through the check function's handler against the one strongly
//!   consistent `GetItem` of the same state item through the same SDK configuration and HTTP
//!   client, interleaved; DynamoDB requests counted on the wire (`counting`).
//! - batch check of 1,000 numbers against 1,000 sequential single checks.
//! - webhook: signed Twilio webhooks through the inbound function's handler against the very
//!   `TransactWriteItems` each one sent, sent again to another table (`replay`).
//! - classifier: messages per second on one core over the en/es/pt mix of
//!   `texts` (shared with shared/benches/hot_paths.rs) against an exact single-word match.
//! - export: the rows of `scripts/bench_export.sh`'s run just before (`BENCH_EXPORT_RESULTS`), a
//!   full export beside a raw paginated `Query` of its index, put in the same table.
//! - import: a CSV through the import pipeline in a child process (its peak resident memory),
//!   against the same transactions sent raw with the same concurrency.
//! - cold start: each function's release binary under a minimal Lambda Runtime API
//!   (`runtime_api`), and its size.
//!
//! Environment: AWS_ENDPOINT_URL_DYNAMODB (scripts/services.sh env); BENCH_CHECKS (10000: the
//! p99 is then the 100th-slowest answer, steady from run to run; with 1,000 it was not),
//! BENCH_WEBHOOKS (300), BENCH_IMPORT_LINES (20000), BENCH_COLD_RUNS (3), BENCH_BIN_DIR (the
//! directory of this binary: the functions' release binaries), BENCH_EXPORT_RESULTS (the export
//! steps' JSON lines; without it the table has no export rows).

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType,
};
use base64::Engine;
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use stopgate::api::auth::{generate_key, hash_key};
use stopgate::config::Config;
use stopgate::consent::Actor;
use stopgate::flows::imports::{ApplyOptions, ImportRun, RunEnd, run_import};
use stopgate::keywords;
use stopgate::phone::E164;
use stopgate::secrets::Sealer;
use stopgate::store::imports::{ImportJob, ImportStatus, ImportVia};
use stopgate::store::{self, ApiKeyRecord, Rotation, Store, keys};
use stopgate_check::Check;
use stopgate_inbound::Inbound;

mod counting;
mod replay;
mod runtime_api;
#[allow(dead_code)]
mod texts;
mod timing;
use timing::per_op;

use counting::{Counter, difference};

type Fallible<T> = Result<T, String>;

const PUBLIC_BASE_URL: &str = "https://hooks.stopgate.bench";
const SENDER: &str = "+14155550100";
/// Commits in flight, as the import worker runs them (`flows::imports::process_upload`).
const IMPORT_CONCURRENCY: usize = 16;

fn setting(name: &str, default: usize) -> Fallible<usize> {
    match std::env::var(name) {
        Ok(v) => v
            .parse()
            .map_err(|_| format!("{name} must be a whole number (got {v:?})")),
        Err(_) => Ok(default),
    }
}

/// The n-th number of a range: area code `area`, exchanges 200-999, all valid in the NANP.
fn number(area: u32, n: usize) -> String {
    format!("+1{area}{:03}{:04}", 200 + n / 10_000, n % 10_000)
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn ops(counts: &BTreeMap<String, u64>, per: f64) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(op, n)| {
            let each = *n as f64 / per;
            if (each - each.round()).abs() < 1e-9 {
                format!("{each:.0} {op}")
            } else {
                format!("{each:.3} {op}")
            }
        })
        .collect::<Vec<_>>()
        .join(" + ")
}

fn sdk_failure(e: impl std::error::Error + 'static) -> String {
    aws_sdk_dynamodb::error::DisplayErrorContext(e).to_string()
}

async fn create_table(ddb: &aws_sdk_dynamodb::Client, name: &str) -> Fallible<()> {
    let attribute = |name: &str| {
        AttributeDefinition::builder()
            .attribute_name(name)
            .attribute_type(ScalarAttributeType::S)
            .build()
            .map_err(|e| e.to_string())
    };
    let key = |name: &str, kind: KeyType| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(kind)
            .build()
            .map_err(|e| e.to_string())
    };
    ddb.create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_attribute_definitions(Some(
            ["pk", "sk", "gsi1pk", "gsi1sk"]
                .map(attribute)
                .into_iter()
                .collect::<Result<Vec<_>, _>>()?,
        ))
        .key_schema(key("pk", KeyType::Hash)?)
        .key_schema(key("sk", KeyType::Range)?)
        .global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name("gsi1")
                .key_schema(key("gsi1pk", KeyType::Hash)?)
                .key_schema(key("gsi1sk", KeyType::Range)?)
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| e.to_string())?,
        )
        .send()
        .await
        .map_err(|e| format!("create table {name}: {}", sdk_failure(e)))?;
    Ok(())
}

async fn delete_table(ddb: &aws_sdk_dynamodb::Client, name: &str) {
    if let Err(e) = ddb.delete_table().table_name(name).send().await {
        eprintln!("bench: could not delete table {name}: {}", sdk_failure(e));
    }
}

/// What every phase shares.
struct Bench {
    sdk: aws_config::SdkConfig,
    counter: Counter,
    config: Config,
    secrets_key: String,
    table: String,
    raw_table: String,
    store: Store,
    raw: aws_sdk_dynamodb::Client,
    tenant: String,
    check_key: String,
    twilio_token: String,
}

/// One row of the table.
struct Row {
    what: String,
    stopgate: String,
    baseline: String,
    ratio: String,
    target: String,
    met: &'static str,
}

fn row(
    what: impl Into<String>,
    stopgate: impl Into<String>,
    baseline: impl Into<String>,
    ratio: impl Into<String>,
    target: impl Into<String>,
    met: Option<bool>,
) -> Row {
    Row {
        what: what.into(),
        stopgate: stopgate.into(),
        baseline: baseline.into(),
        ratio: ratio.into(),
        target: target.into(),
        met: match met {
            Some(true) => "yes",
            Some(false) => "**no**",
            None => "",
        },
    }
}

fn api_request(method: &str, path: &str, key: &str, body: String) -> Fallible<Request> {
    let mut request = Request::new(Body::Text(body));
    *request.method_mut() = method.parse().map_err(|_| "method")?;
    *request.uri_mut() = format!("https://api.stopgate.bench{path}")
        .parse()
        .map_err(|_| "path")?;
    let headers = request.headers_mut();
    headers.insert(
        http::header::AUTHORIZATION,
        http::HeaderValue::from_str(&format!("Bearer {key}")).map_err(|_| "key")?,
    );
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(request)
}

fn status_of(response: &lambda_http::Response<Body>) -> u16 {
    response.status().as_u16()
}

impl Bench {
    async fn new() -> Fallible<Bench> {
        if std::env::var("AWS_ENDPOINT_URL_DYNAMODB").is_err() {
            return Err("AWS_ENDPOINT_URL_DYNAMODB is not set: run `make bench` (it starts DynamoDB Local), or eval \"$(bash scripts/services.sh env)\"".into());
        }
        let base = store::sdk_config(Duration::from_secs(10)).await;
        let (sdk, counter) = counting::counting(&base)?;
        let id = ulid::Ulid::new().to_string().to_lowercase();
        let table = format!("bench-{id}");
        let raw_table = format!("bench-raw-{id}");
        let raw = aws_sdk_dynamodb::Client::new(&sdk);
        create_table(&raw, &table).await?;
        create_table(&raw, &raw_table).await?;
        let secrets_key =
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        let lookup = {
            let (table, secrets_key) = (table.clone(), secrets_key.clone());
            move |name: &str| match name {
                "TABLE_NAME" => Some(table.clone()),
                "SECRETS_DEV_KEY" => Some(secrets_key.clone()),
                "PUBLIC_BASE_URL" => Some(PUBLIC_BASE_URL.to_string()),
                "SECRETS_KMS_KEY_ID" | "CAPTURE_QUEUE_URL" => None,
                other => std::env::var(other).ok(),
            }
        };
        let config = Config::from_lookup(lookup).map_err(|e| format!("configuration: {e}"))?;
        let store = Store::new(&sdk, &table);
        let tenant = format!("bench-{id}");
        store
            .create_tenant(&tenant, Default::default())
            .await
            .map_err(|e| format!("create tenant: {e}"))?;
        let (check_key, key_id) = generate_key();
        let record = ApiKeyRecord::new(
            key_id,
            &tenant,
            vec!["check".into(), "consents:write".into()],
            chrono::Utc::now(),
            None,
        );
        store
            .put_api_key(&hash_key(&check_key), &record)
            .await
            .map_err(|e| format!("api key: {e}"))?;
        let twilio_token = hex::encode(rand::random::<[u8; 16]>());
        let sealed = Sealer::new(config.secrets_key.clone(), &sdk)
            .seal(&tenant, "twilio", &twilio_token)
            .await
            .map_err(|e| format!("seal: {e}"))?;
        store
            .put_provider_secrets(
                &tenant,
                "twilio",
                [("auth_token".to_string(), sealed)].into(),
                Rotation::Replace,
            )
            .await
            .map_err(|e| format!("provider secrets: {e}"))?;
        Ok(Bench {
            sdk,
            counter,
            config,
            secrets_key,
            table,
            raw_table,
            store,
            raw,
            tenant,
            check_key,
            twilio_token,
        })
    }

    fn check_body(to: &str) -> Value {
        json!({"from": SENDER, "to": to, "category": "conversational"})
    }

    /// 1: single checks through the handler against the raw GetItem, interleaved.
    async fn check(&self, check: &Check, numbers: &[String], rows: &mut Vec<Row>) -> Fallible<()> {
        let n = numbers.len();
        let warm = 50.min(n);
        for to in &numbers[..warm] {
            self.one_check(check, to).await?;
        }
        let mut handler = Vec::with_capacity(n);
        let mut raw = Vec::with_capacity(n);
        let mut counted = BTreeMap::new();
        let mut read_units = 0.0;
        for (i, to) in numbers.iter().enumerate() {
            let phone = E164::from_stored(to).ok_or_else(|| format!("not E.164: {to}"))?;
            let pk = keys::number_pk(&self.tenant, &phone);
            let get = || async {
                let started = Instant::now();
                let out = self
                    .raw
                    .get_item()
                    .table_name(&self.table)
                    .key("pk", aws_sdk_dynamodb::types::AttributeValue::S(pk.clone()))
                    .key(
                        "sk",
                        aws_sdk_dynamodb::types::AttributeValue::S(keys::STATE_SK.into()),
                    )
                    .consistent_read(true)
                    .return_consumed_capacity(
                        aws_sdk_dynamodb::types::ReturnConsumedCapacity::Total,
                    )
                    .send()
                    .await
                    .map_err(|e| format!("raw GetItem: {}", sdk_failure(e)))?;
                let units = out
                    .consumed_capacity()
                    .and_then(|c| c.read_capacity_units().or(c.capacity_units()))
                    .unwrap_or(f64::NAN);
                Ok::<(Duration, f64), String>((started.elapsed(), units))
            };
            // Alternate which goes first, so neither always follows the other.
            if i % 2 == 1 {
                let (elapsed, units) = get().await?;
                raw.push(elapsed);
                read_units += units;
            }
            let before = self.counter.snapshot();
            handler.push(self.one_check(check, to).await?);
            for (op, k) in difference(&self.counter.snapshot(), &before) {
                *counted.entry(op).or_insert(0) += k;
            }
            if i % 2 == 0 {
                let (elapsed, units) = get().await?;
                raw.push(elapsed);
                read_units += units;
            }
        }
        handler.sort();
        raw.sort();
        for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
            let (h, r) = (quantile(&handler, q), quantile(&raw, q));
            let ratio = h.as_secs_f64() / r.as_secs_f64();
            rows.push(row(
                format!("1. `POST /v1/check` {label} (ms) / raw strongly consistent GetItem"),
                format!("{:.2}", ms(h)),
                format!("{:.2}", ms(r)),
                format!("{ratio:.2}"),
                "≤ 1.2",
                Some(ratio <= 1.2),
            ));
        }
        let per = counted.values().sum::<u64>() as f64 / n as f64;
        rows.push(row(
            "1. DynamoDB requests per warm check (counted on the wire)",
            ops(&counted, n as f64),
            "1 GetItem",
            format!("{per:.2}"),
            "1",
            Some(per <= 1.0),
        ));
        rows.push(row(
            "1. Read capacity units of that GetItem (DynamoDB's ConsumedCapacity, mean)",
            format!("{:.2}", read_units / n as f64),
            "",
            "",
            "",
            None,
        ));
        Ok(())
    }

    async fn one_check(&self, check: &Check, to: &str) -> Fallible<Duration> {
        let request = api_request(
            "POST",
            "/v1/check",
            &self.check_key,
            Bench::check_body(to).to_string(),
        )?;
        let started = Instant::now();
        let Ok(response) = check.handle(request).await;
        let elapsed = started.elapsed();
        if status_of(&response) != 200 {
            return Err(format!("a check answered {}", status_of(&response)));
        }
        Ok(elapsed)
    }

    /// 2: one batch of 1,000 against 1,000 sequential single checks.
    async fn batch(&self, check: &Check, numbers: &[String], rows: &mut Vec<Row>) -> Fallible<()> {
        let body =
            json!({"checks": numbers.iter().map(|to| Bench::check_body(to)).collect::<Vec<_>>()})
                .to_string();
        let mut times = Vec::new();
        let mut counted = BTreeMap::new();
        for _ in 0..3 {
            let request = api_request("POST", "/v1/check/batch", &self.check_key, body.clone())?;
            let before = self.counter.snapshot();
            let started = Instant::now();
            let Ok(response) = check.handle(request).await;
            times.push(started.elapsed());
            counted = difference(&self.counter.snapshot(), &before);
            if status_of(&response) != 200 {
                return Err(format!("a batch check answered {}", status_of(&response)));
            }
            let text = String::from_utf8_lossy(stopgate::api::http::body_bytes(response.body()))
                .to_string();
            let answered: Value =
                serde_json::from_str(&text).map_err(|e| format!("batch answer: {e}"))?;
            let errors = answered["results"]
                .as_array()
                .map(|r| r.iter().filter(|e| e.get("error").is_some()).count())
                .unwrap_or(usize::MAX);
            if errors != 0 {
                return Err(format!(
                    "{errors} entries of a batch check were not answered"
                ));
            }
        }
        times.sort();
        let batch = times[times.len() / 2];
        let started = Instant::now();
        for to in numbers {
            self.one_check(check, to).await?;
        }
        let sequential = started.elapsed();
        let requests: u64 = counted.values().sum();
        rows.push(row(
            format!("2. Batch check of {}: DynamoDB requests", numbers.len()),
            ops(&counted, 1.0),
            format!("{} GetItem (sequential checks)", numbers.len()),
            format!("{:.3}", requests as f64 / numbers.len() as f64),
            "≤ 10",
            Some(requests <= 10),
        ));
        rows.push(row(
            format!(
                "2. Batch check of {0}: wall time (ms) / {0} sequential single checks",
                numbers.len()
            ),
            format!("{:.0}", ms(batch)),
            format!("{:.0}", ms(sequential)),
            format!("{:.3}", batch.as_secs_f64() / sequential.as_secs_f64()),
            "",
            None,
        ));
        Ok(())
    }

    fn webhook(&self, n: usize) -> Fallible<Request> {
        let from = number(628, n);
        let message_id = format!("SM{:032x}", n as u128 + 1);
        let text = texts::MIX[n % texts::MIX.len()];
        let mut form = form_urlencoded::Serializer::new(String::new());
        form.extend_pairs([
            ("ToCountry", "US"),
            ("SmsMessageSid", message_id.as_str()),
            ("NumMedia", "0"),
            ("FromCountry", "US"),
            ("SmsSid", message_id.as_str()),
            ("Body", text),
            ("To", SENDER),
            ("NumSegments", "1"),
            ("MessageSid", message_id.as_str()),
            ("AccountSid", "AC00000000000000000000000000000000"),
            ("From", from.as_str()),
            ("ApiVersion", "2010-04-01"),
        ]);
        let body = form.finish();
        let path = format!("/v1/webhooks/twilio/{}", self.tenant);
        let signature = stopgate::providers::twilio::sign(
            &self.twilio_token,
            &format!("{PUBLIC_BASE_URL}{path}"),
            body.as_bytes(),
        );
        let mut request = Request::new(Body::Text(body));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = format!("{PUBLIC_BASE_URL}{path}")
            .parse()
            .map_err(|_| "webhook path")?;
        let headers = request.headers_mut();
        headers.insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            "x-twilio-signature",
            http::HeaderValue::from_str(&signature).map_err(|_| "signature")?,
        );
        Ok(request)
    }

    /// 3: inbound webhooks through the handler against their own transactions sent raw.
    async fn webhooks(&self, count: usize, rows: &mut Vec<Row>) -> Fallible<()> {
        let inbound = Inbound::new(&self.config, &self.sdk)?;
        let warm = 20;
        self.counter.keep_last();
        let mut handler = Vec::with_capacity(count);
        let mut raw = Vec::with_capacity(count);
        let mut counted = BTreeMap::new();
        let mut write_units = 0.0;
        for n in 0..warm + count {
            let request = self.webhook(n)?;
            let before = self.counter.snapshot();
            let started = Instant::now();
            let Ok(response) = inbound.handle(request).await;
            let elapsed = started.elapsed();
            // Counted before the baseline's own transaction goes through the same client.
            let made = difference(&self.counter.snapshot(), &before);
            if status_of(&response) != 200 {
                return Err(format!("a webhook answered {}", status_of(&response)));
            }
            let body = self
                .counter
                .take_last()
                .ok_or("a webhook wrote no transaction")?;
            let items = replay::items(&body, &self.raw_table)?;
            let raw_started = Instant::now();
            let units = replay::send(&self.raw, items).await?;
            let raw_elapsed = raw_started.elapsed();
            if n >= warm {
                for (op, k) in made {
                    *counted.entry(op).or_insert(0) += k;
                }
                handler.push(elapsed);
                raw.push(raw_elapsed);
                write_units += units;
            }
        }
        self.counter.keep_nothing().map_err(|e| e.to_string())?;
        handler.sort();
        raw.sort();
        let per = counted.values().sum::<u64>() as f64 / count as f64;
        rows.push(row(
            "3. DynamoDB requests per inbound webhook (warm: config and keys cached)",
            ops(&counted, count as f64),
            "1 TransactWriteItems",
            format!("{per:.2}"),
            "1 write transaction",
            Some(per <= 1.0),
        ));
        rows.push(row(
            "3. Write capacity units of that transaction (DynamoDB's ConsumedCapacity, mean)",
            format!("{:.2}", write_units / count as f64),
            "",
            "",
            "",
            None,
        ));
        for (label, q) in [("p50", 0.5), ("p99", 0.99)] {
            let (h, r) = (quantile(&handler, q), quantile(&raw, q));
            rows.push(row(
                format!(
                    "3. Inbound webhook {label} (ms) / raw TransactWriteItems of the same items"
                ),
                format!("{:.2}", ms(h)),
                format!("{:.2}", ms(r)),
                format!("{:.2}", h.as_secs_f64() / r.as_secs_f64()),
                "",
                None,
            ));
        }
        Ok(())
    }

    /// 6: the import in a child process (its own peak memory), raw replay included.
    fn import(&self, lines: usize, rows: &mut Vec<Row>) -> Fallible<Vec<String>> {
        let dir = std::env::temp_dir().join(format!("stopgate-{}", self.table));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let csv = dir.join("import.csv");
        let bodies = dir.join("transactions.jsonl");
        let mut numbers = Vec::with_capacity(lines);
        {
            let file =
                std::fs::File::create(&csv).map_err(|e| format!("{}: {e}", csv.display()))?;
            let mut out = std::io::BufWriter::new(file);
            let mut write = |line: String| {
                out.write_all(line.as_bytes())
                    .map_err(|e| format!("{}: {e}", csv.display()))
            };
            write("phone_number,status,scope,changed_at,source\n".into())?;
            for n in 0..lines {
                let phone = number(415, n);
                let status = if n % 4 == 3 { "opted_in" } else { "opted_out" };
                let minute = n % 60;
                write(format!(
                    "{phone},{status},tenant,2026-05-01T10:{minute:02}:00Z,import\n"
                ))?;
                numbers.push(phone);
            }
            out.flush().map_err(|e| format!("{}: {e}", csv.display()))?;
        }
        let exe = std::env::current_exe().map_err(|e| format!("this binary: {e}"))?;
        let output = std::process::Command::new(exe)
            .args(["import-child", &self.table, &self.raw_table, &self.tenant])
            .arg(&csv)
            .arg(&bodies)
            .stderr(std::process::Stdio::inherit())
            .output()
            .map_err(|e| format!("import child: {e}"))?;
        let _ = std::fs::remove_dir_all(&dir);
        if !output.status.success() {
            return Err(format!("the import child failed ({})", output.status));
        }
        let report: Value = serde_json::from_slice(&output.stdout)
            .map_err(|e| format!("the import child's report: {e}"))?;
        let number_of = |name: &str| report[name].as_f64().unwrap_or(f64::NAN);
        let (seconds, raw_seconds) = (number_of("seconds"), number_of("raw_seconds"));
        let applied = number_of("applied");
        let counted: BTreeMap<String, u64> =
            serde_json::from_value(report["requests"].clone()).unwrap_or_default();
        let rate = lines as f64 / seconds;
        let raw_rate = lines as f64 / raw_seconds;
        rows.push(row(
            format!("6. Import of {lines} lines ({IMPORT_CONCURRENCY} in flight): lines/s / the same transactions sent raw"),
            format!("{rate:.0}"),
            format!("{raw_rate:.0}"),
            format!("{:.2}", rate / raw_rate),
            "",
            None,
        ));
        rows.push(row(
            "6. Import: DynamoDB requests per line",
            ops(&counted, lines as f64),
            "1 TransactWriteItems",
            format!("{:.2}", counted.values().sum::<u64>() as f64 / lines as f64),
            "",
            None,
        ));
        rows.push(row(
            "6. Import: write capacity units per line (DynamoDB's ConsumedCapacity of its transactions)",
            format!("{:.2}", number_of("write_units") / lines as f64),
            "",
            "",
            "",
            None,
        ));
        let mib = number_of("peak_kib") / 1024.0;
        rows.push(row(
            format!("6. Import: peak resident memory of the importing process (MiB), {applied:.0} applied"),
            format!("{mib:.1}"),
            "27 MB (earlier, 100,000 lines)",
            "",
            "",
            None,
        ));
        Ok(numbers)
    }

    /// 7: each function's binary under the runtime API.
    async fn cold_starts(&self, runs: usize, rows: &mut Vec<Row>) -> Fallible<()> {
        let dir = match std::env::var("BENCH_BIN_DIR") {
            Ok(d) => PathBuf::from(d),
            Err(_) => std::env::current_exe()
                .map_err(|e| format!("this binary: {e}"))?
                .parent()
                .map(Path::to_path_buf)
                .ok_or("this binary has no directory")?,
        };
        let mut env: Vec<(String, String)> = std::env::vars()
            .filter(|(k, _)| {
                k.starts_with("AWS_") && !k.starts_with("AWS_LAMBDA_") || k == "PATH" || k == "HOME"
            })
            .collect();
        env.extend(
            [
                ("TABLE_NAME", self.table.as_str()),
                ("SECRETS_DEV_KEY", self.secrets_key.as_str()),
                ("PUBLIC_BASE_URL", PUBLIC_BASE_URL),
                ("IMPORTS_BUCKET", "bench-imports"),
                ("EXPORTS_BUCKET", "bench-exports"),
                // Never sent to by these invocations: the samples ask for nothing queued.
                (
                    "EXPORTS_QUEUE_URL",
                    "http://127.0.0.1:9/queue/bench-exports",
                ),
                ("HOOKS_QUEUE_URL", "http://127.0.0.1:9/queue/bench-hooks"),
                ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"),
                ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST"),
                ("AWS_LAMBDA_LOG_GROUP_NAME", "bench"),
                ("AWS_LAMBDA_LOG_STREAM_NAME", "bench"),
                ("RUST_LOG", "error"),
            ]
            .map(|(k, v)| (k.to_string(), v.to_string())),
        );
        let with_key = |event: &str| -> Fallible<Vec<u8>> {
            let mut event: Value =
                serde_json::from_str(event).map_err(|e| format!("sample event: {e}"))?;
            event["headers"]["authorization"] = json!(format!("Bearer {}", self.check_key));
            serde_json::to_vec(&event).map_err(|e| e.to_string())
        };
        let functions: [(&str, Vec<u8>); 11] = [
            (
                "check",
                with_key(include_str!("../../../../events/check-conversational.json"))?,
            ),
            (
                "consent",
                with_key(include_str!("../../../../events/consents-opt-in.json"))?,
            ),
            (
                "inbound",
                include_str!("../../../../events/twilio-stop.json").into(),
            ),
            (
                "inbound-sns",
                include_str!("../../../../events/aws-sns-stop.json").into(),
            ),
            (
                "replay",
                include_str!("../../../../events/replay-captured.json").into(),
            ),
            (
                "import",
                include_str!("../../../../events/import-upload.json").into(),
            ),
            (
                "sweeper",
                include_str!("../../../../events/sweeper-scheduled.json").into(),
            ),
            (
                "pages",
                include_str!("../../../../events/pages-form.json").into(),
            ),
            (
                "export",
                include_str!("../../../../events/export-request.json").into(),
            ),
            (
                "notify",
                include_str!("../../../../events/notify-stream.json").into(),
            ),
            (
                "reconcile",
                include_str!("../../../../events/reconcile-scheduled.json").into(),
            ),
        ];
        for (name, event) in functions {
            let binary = dir.join(name);
            let size = match std::fs::metadata(&binary) {
                Ok(m) => m.len(),
                Err(e) => {
                    eprintln!("bench: {}: {e} (skipped)", binary.display());
                    continue;
                }
            };
            let mut env = env.clone();
            env.push((
                "AWS_LAMBDA_FUNCTION_NAME".into(),
                format!("stopgate-{name}"),
            ));
            let mut times = Vec::new();
            let mut answer = String::new();
            for _ in 0..runs.max(1) {
                let (elapsed, answered) =
                    runtime_api::cold_start(&binary, &env, event.clone(), Duration::from_secs(30))
                        .await?;
                times.push(elapsed);
                answer = match answered {
                    runtime_api::Answer::Response(Some(status)) => format!("answered {status}"),
                    runtime_api::Answer::Response(None) => "answered".into(),
                    runtime_api::Answer::Error(message) => format!("error: {message}"),
                };
            }
            times.sort();
            rows.push(row(
                format!("7. Cold start `{name}`: process start to first answer (ms, median of {}; {answer}) / stripped size (MB)", times.len()),
                format!("{:.1}", ms(times[times.len() / 2])),
                format!("{:.2} MB", size as f64 / 1e6),
                "",
                "",
                None,
            ));
        }
        Ok(())
    }
}

/// 5: the export's steps, run by scripts/bench_export.sh just before this binary against the
/// same DynamoDB Local (each step is its own process, for its own peak memory) and handed over
/// as the JSON lines in `BENCH_EXPORT_RESULTS`.
fn export(rows: &mut Vec<Row>) -> Fallible<()> {
    let Ok(path) = std::env::var("BENCH_EXPORT_RESULTS") else {
        return Ok(());
    };
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{path}: {e}"))?;
    let steps: BTreeMap<String, Value> = text
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|step| Some((step["step"].as_str()?.to_string(), step)))
        .collect();
    let step = |name: &str| {
        steps
            .get(name)
            .ok_or_else(|| format!("{path}: no {name} step"))
    };
    let (query, states, export) = (step("query")?, step("states")?, step("export")?);
    let number = |step: &Value, field: &str| step[field].as_f64().unwrap_or(f64::NAN);
    let exported = number(export, "rows_per_second");
    let ratio = exported / number(query, "rows_per_second");
    rows.push(row(
        format!(
            "5. Export of {} opt-outs (CSV and JSON Lines to S3): rows/s / raw paginated Query of its index",
            number(export, "rows")
        ),
        format!("{exported:.0}"),
        format!("{:.0}", number(query, "rows_per_second")),
        format!("{ratio:.2}"),
        "≥ 0.8",
        Some(ratio >= 0.8),
    ));
    rows.push(row(
        "5. Export: rows/s / the index and each number's state, read as the export reads them",
        format!("{exported:.0}"),
        format!("{:.0}", number(states, "rows_per_second")),
        format!("{:.2}", exported / number(states, "rows_per_second")),
        "",
        None,
    ));
    rows.push(row(
        "5. Export: CPU seconds of the export's process / of DynamoDB Local meanwhile",
        format!("{:.1}", number(export, "cpu_seconds")),
        format!("{:.1}", number(export, "db_cpu_seconds")),
        "",
        "",
        None,
    ));
    let peak = number(export, "peak_rss_mib");
    rows.push(row(
        "5. Export: peak resident memory of the exporting process (MiB)",
        format!("{peak:.1}"),
        "",
        "",
        "≤ 64 MiB",
        Some(peak <= 64.0),
    ));
    Ok(())
}

/// 4: the classifier on one core over the en/es/pt mix.
fn classifier(rows: &mut Vec<Row>) {
    let words = texts::ExactWordMatch::providers();
    let mix = texts::MIX;
    let ours = per_op(15, 10_000, || {
        for t in mix {
            black_box(keywords::classify(black_box(t)));
        }
    }) / mix.len() as f64;
    let exact = per_op(15, 10_000, || {
        for t in mix {
            black_box(words.is_stop(black_box(t)));
        }
    }) / mix.len() as f64;
    let rate = 1e9 / ours;
    rows.push(row(
        format!(
            "4. Classifier, one core, en/es/pt mix of {} replies: messages/s / exact single-word match",
            mix.len()
        ),
        format!("{rate:.0}"),
        format!("{:.0}", 1e9 / exact),
        format!("{:.2}", exact / ours),
        "≥ 1,000,000 messages/s",
        Some(rate >= 1_000_000.0),
    ));
}

fn peak_resident_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `bench import-child TABLE RAW_TABLE TENANT CSV BODIES`: imports CSV as the worker would
/// (the shared pipeline, its concurrency), then sends the same transactions raw to RAW_TABLE;
/// prints a JSON report.
async fn import_child(args: &[String]) -> Fallible<()> {
    let [table, raw_table, tenant, csv, bodies] = args else {
        return Err("usage: bench import-child TABLE RAW_TABLE TENANT CSV BODIES".into());
    };
    let base = store::sdk_config(Duration::from_secs(10)).await;
    let (sdk, counter) = counting::counting(&base)?;
    let store = Store::new(&sdk, table);
    let snapshot = store
        .load_tenant(tenant)
        .await
        .map_err(|e| e.to_string())?
        .ok_or("no such tenant")?;
    let actor = Actor::Operator {
        name: "bench".into(),
    };
    let mut job = ImportJob::new(
        tenant,
        ImportVia::Cli,
        ImportStatus::Running,
        actor.clone(),
        chrono::Utc::now(),
    );
    let sha = {
        use sha2::Digest;
        let data = std::fs::read(csv).map_err(|e| format!("{csv}: {e}"))?;
        hex::encode(sha2::Sha256::digest(&data))
    };
    job.source_file_sha256 = Some(sha);
    let mut version = store.create_import(&job).await.map_err(|e| e.to_string())?;
    let file = std::fs::File::open(csv).map_err(|e| format!("{csv}: {e}"))?;
    counter.keep_in(std::fs::File::create(bodies).map_err(|e| format!("{bodies}: {e}"))?);
    let run = Arc::new(ImportRun::new(store.clone(), &snapshot, actor, &job));
    let options = ApplyOptions::new(IMPORT_CONCURRENCY);
    let before = counter.snapshot();
    let started = Instant::now();
    let end = run_import(run, file, &mut job, &mut version, &options, &mut |_| {})
        .await
        .map_err(|e| format!("import: {e}"))?;
    let seconds = started.elapsed().as_secs_f64();
    let requests = difference(&counter.snapshot(), &before);
    let peak_kib = peak_resident_kib();
    counter
        .keep_nothing()
        .map_err(|e| format!("{bodies}: {e}"))?;
    if end != RunEnd::Finished || job.tally.error_count > 0 {
        return Err(format!(
            "the import did not finish cleanly: {end:?}, {} errors",
            job.tally.error_count
        ));
    }

    // The raw baseline: every transaction the import wrote, in order, as many in flight.
    let raw = aws_sdk_dynamodb::Client::new(&base);
    let reader =
        std::io::BufReader::new(std::fs::File::open(bodies).map_err(|e| format!("{bodies}: {e}"))?);
    let mut transactions = Vec::new();
    for line in reader.lines() {
        let line = line.map_err(|e| format!("{bodies}: {e}"))?;
        transactions.push(replay::items(line.as_bytes(), raw_table)?);
    }
    let sent = transactions.len();
    let raw_started = Instant::now();
    let mut in_flight = tokio::task::JoinSet::new();
    let mut write_units = 0.0;
    for items in transactions {
        if in_flight.len() >= IMPORT_CONCURRENCY
            && let Some(done) = in_flight.join_next().await
        {
            write_units += done.map_err(|e| e.to_string())??;
        }
        let raw = raw.clone();
        in_flight.spawn(async move { replay::send(&raw, items).await });
    }
    while let Some(done) = in_flight.join_next().await {
        write_units += done.map_err(|e| e.to_string())??;
    }
    let raw_seconds = raw_started.elapsed().as_secs_f64();
    println!(
        "{}",
        json!({
            "seconds": seconds,
            "raw_seconds": raw_seconds,
            "raw_transactions": sent,
            "write_units": write_units,
            "lines": job.tally.lines,
            "applied": job.tally.applied,
            "requests": requests,
            "peak_kib": peak_kib,
        })
    );
    Ok(())
}

fn print_table(rows: &[Row]) {
    println!("| Measure | Stopgate | Baseline (same run) | Ratio | Target | Met |");
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.what, r.stopgate, r.baseline, r.ratio, r.target, r.met
        );
    }
}

async fn run() -> Fallible<()> {
    let checks = setting("BENCH_CHECKS", 10_000)?.max(1);
    let webhooks = setting("BENCH_WEBHOOKS", 300)?.max(1);
    let lines = setting("BENCH_IMPORT_LINES", 20_000)?.max(checks).max(1000);
    let cold_runs = setting("BENCH_COLD_RUNS", 3)?;
    let bench = Bench::new().await?;
    let mut rows = Vec::new();
    let result = async {
        eprintln!("bench: classifier");
        classifier(&mut rows);
        export(&mut rows)?;
        eprintln!("bench: import of {lines} lines (child process)");
        let numbers = bench.import(lines, &mut rows)?;
        let check = Check::new(&bench.config, &bench.sdk);
        eprintln!("bench: {checks} checks");
        bench.check(&check, &numbers[..checks], &mut rows).await?;
        eprintln!("bench: batch check");
        bench.batch(&check, &numbers[..1000], &mut rows).await?;
        eprintln!("bench: {webhooks} webhooks");
        bench.webhooks(webhooks, &mut rows).await?;
        eprintln!("bench: cold starts");
        bench.cold_starts(cold_runs, &mut rows).await
    }
    .await;
    delete_table(&bench.raw, &bench.table).await;
    delete_table(&bench.raw, &bench.raw_table).await;
    print_table(&rows);
    let _ = bench.store;
    result
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("import-child") => import_child(&args[2..]).await,
        None => run().await,
        Some(other) => Err(format!(
            "unknown argument {other:?} (no arguments: the whole bench)"
        )),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
