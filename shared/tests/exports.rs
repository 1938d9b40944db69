//! Opt-out exports against DynamoDB Local and moto's S3: full and incremental exports, a change
//! recorded late inside the overlap window, the late-STOP-after-START sequence, an override
//! grant, a run that fails between two parts, an empty tenant, and 100,000 rows.
#![cfg(feature = "testing")]
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use stopgate::consent::{Actor, ConsentEvent, EventKind, Scope, Source};
use stopgate::flows::exports::{self, ExportError, ExportOptions, Progress, Ran};
use stopgate::phone::E164;
use stopgate::store::export_files::{ExportBucket, MIN_PART_SIZE};
use stopgate::store::exports::{ExportFormat, ExportJob, ExportKind, ExportStatus, ExportVia};
use stopgate::store::{Commit, Store};
use stopgate::testing::events::event;
use stopgate::testing::{TestEnv, bulk_number, bulk_opt_outs, env, unique_tenant};

struct Fixture {
    env: TestEnv,
    store: Store,
    tenant: String,
    bucket: ExportBucket,
}

async fn fixture(prefix: &str) -> Fixture {
    let env = env().await;
    let store = env.store.clone();
    fixture_in(env, store, prefix).await
}

/// With a table of the test's own, for the tests that load tens of thousands of numbers: in the
/// shared table they would make every full-table read of other tests (`rebuild-state`'s scan)
/// slow. [`Fixture::drop_table`] deletes it.
async fn fixture_with_own_table(prefix: &str) -> Fixture {
    let env = env().await;
    let store = env.fresh_table().await;
    fixture_in(env, store, prefix).await
}

async fn fixture_in(env: TestEnv, store: Store, prefix: &str) -> Fixture {
    let tenant = unique_tenant(prefix);
    store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let (bucket, _) = env.fresh_exports().await;
    Fixture {
        env,
        store,
        tenant,
        bucket,
    }
}

/// A file's rows, keyed by (phone, scope): (status, changed_at, source, keyword, event_id).
type Rows = BTreeMap<(String, String), [String; 5]>;

fn no_progress(_: &Progress) -> Result<(), String> {
    Ok(())
}

impl Fixture {
    fn store(&self) -> &Store {
        &self.store
    }

    async fn drop_table(self) {
        self.env.drop_table(&self.store).await;
    }

    async fn commit(&self, event: &ConsentEvent) {
        self.store()
            .commit(&Commit {
                event,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .unwrap();
    }

    fn stop(&self, phone: &E164, recorded: DateTime<Utc>) -> ConsentEvent {
        event(EventKind::OptOut)
            .tenant(&self.tenant)
            .phone(phone)
            .at(recorded)
            .keyword("stop")
            .build()
    }

    fn start(&self, phone: &E164, recorded: DateTime<Utc>) -> ConsentEvent {
        event(EventKind::OptIn)
            .tenant(&self.tenant)
            .phone(phone)
            .at(recorded)
            .keyword("start")
            .build()
    }

    async fn request(&self, kind: ExportKind, formats: &[ExportFormat]) -> ExportJob {
        exports::request(
            self.store(),
            &self.tenant,
            kind,
            None,
            formats.to_vec(),
            ExportVia::Api,
            Actor::System {
                reason: "test".into(),
            },
        )
        .await
        .unwrap()
    }

    async fn run(&self, job: &ExportJob) -> ExportJob {
        match exports::run(
            self.store(),
            &self.bucket,
            &self.tenant,
            &job.export_id,
            &ExportOptions::default(),
            &mut no_progress,
        )
        .await
        .unwrap()
        {
            Ran::Done(job) => *job,
            Ran::Busy => panic!("nothing else runs this export"),
        }
    }

    /// Asks for an export of both formats and runs it; checks that both files carry the same
    /// rows and that the manifest (and latest.json) describe them; returns the job and rows.
    async fn export(&self, kind: ExportKind) -> (ExportJob, Rows, Value) {
        let job = self
            .run(&self.request(kind, &ExportFormat::ALL).await)
            .await;
        assert_eq!(job.status, ExportStatus::Done);
        let manifest = self.manifest(&job).await;
        let csv = self.csv(&job).await;
        let jsonl = self.jsonl(&job).await;
        assert_eq!(csv, jsonl, "CSV and JSON Lines carry the same rows");
        assert_eq!(manifest["rows"], csv.len());
        assert_eq!(job.rows as usize, csv.len());
        let latest = self
            .bucket
            .get(&ExportJob::latest_key(&self.tenant))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            serde_json::from_slice::<Value>(&latest).unwrap(),
            manifest,
            "latest.json is the newest manifest"
        );
        (job, csv, manifest)
    }

    async fn file(&self, job: &ExportJob, format: ExportFormat) -> Vec<u8> {
        let file = job.files.iter().find(|f| f.format == format).unwrap();
        let body = self.bucket.get(&file.key).await.unwrap().unwrap();
        assert_eq!(hex::encode(Sha256::digest(&body)), file.sha256);
        assert_eq!(body.len() as u64, file.bytes);
        body
    }

    async fn csv(&self, job: &ExportJob) -> Rows {
        let body = self.file(job, ExportFormat::Csv).await;
        let mut reader = csv::Reader::from_reader(body.as_slice());
        assert_eq!(
            reader.headers().unwrap(),
            vec![
                "phone_number",
                "status",
                "scope",
                "changed_at",
                "source",
                "keyword",
                "event_id"
            ]
        );
        let mut rows = Rows::new();
        for record in reader.records() {
            let r = record.unwrap();
            let previous = rows.insert(
                (r[0].to_string(), r[2].to_string()),
                [1, 3, 4, 5, 6].map(|i| r[i].to_string()),
            );
            assert!(previous.is_none(), "each number and scope once: {r:?}");
        }
        rows
    }

    async fn jsonl(&self, job: &ExportJob) -> Rows {
        let body = self.file(job, ExportFormat::Jsonl).await;
        let mut rows = Rows::new();
        for line in String::from_utf8(body).unwrap().lines() {
            let v: Value = serde_json::from_str(line).unwrap();
            let text = |name: &str| v[name].as_str().unwrap_or_default().to_string();
            rows.insert(
                (text("phone_number"), text("scope")),
                [
                    text("status"),
                    text("changed_at"),
                    text("source"),
                    text("keyword"),
                    text("event_id"),
                ],
            );
        }
        rows
    }

    async fn manifest(&self, job: &ExportJob) -> Value {
        let body = self
            .bucket
            .get(job.manifest_key.as_deref().unwrap())
            .await
            .unwrap()
            .unwrap();
        let manifest: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(manifest["tenant"], self.tenant.as_str());
        assert_eq!(manifest["export_id"], job.export_id.as_str());
        assert_eq!(manifest["kind"], job.kind.as_str());
        assert_eq!(
            manifest["classifier_version"],
            stopgate::keywords::CLASSIFIER_VERSION
        );
        assert_eq!(manifest["policy_version"], 1);
        let files = manifest["files"].as_array().unwrap();
        assert_eq!(files.len(), job.files.len());
        for (listed, file) in files.iter().zip(&job.files) {
            assert_eq!(listed["key"], file.key.as_str());
            assert_eq!(listed["sha256"], file.sha256.as_str());
        }
        manifest
    }
}

fn phone(n: u32) -> E164 {
    E164::parse_e164(&format!("+1415555{n:04}")).unwrap()
}

fn status(rows: &Rows, phone: &E164) -> Vec<(String, String)> {
    rows.iter()
        .filter(|((p, _), _)| p == phone.as_str())
        .map(|((_, scope), row)| (scope.clone(), row[0].clone()))
        .collect()
}

fn at(rows: &Rows, phone: &E164) -> [String; 5] {
    rows.iter()
        .find(|((p, _), _)| p == phone.as_str())
        .map(|(_, row)| row.clone())
        .unwrap_or_else(|| panic!("{phone:?} not in {rows:#?}"))
}

#[tokio::test]
async fn full_and_incremental_exports_carry_every_change_once() {
    let f = fixture("export-chain").await;
    let long_ago = Utc::now() - Duration::hours(2);
    let (a, b, c, d, e) = (phone(1), phone(2), phone(3), phone(4), phone(5));
    f.commit(&f.stop(&a, long_ago)).await;
    f.commit(&f.stop(&b, long_ago)).await;
    // A form opt-in lifts nothing, but the number has a standing: opted in.
    f.commit(
        &event(EventKind::OptIn)
            .tenant(&f.tenant)
            .phone(&c)
            .at(long_ago)
            .api(Scope::Tenant, Source::WebForm)
            .build(),
    )
    .await;
    // A review left past its due date, and a provider's own opt-out, are rows like any other.
    let expired = event(EventKind::OptOut)
        .tenant(&f.tenant)
        .phone(&d)
        .at(long_ago)
        .source(Source::ReviewExpired)
        .build();
    f.commit(&expired).await;
    let provider = event(EventKind::OptOut)
        .tenant(&f.tenant)
        .phone(&e)
        .at(long_ago)
        .source(Source::Provider)
        .provider_message("ringcentral", "a2p-1")
        .build();
    f.commit(&provider).await;

    let (full, rows, manifest) = f.export(ExportKind::Full).await;
    assert_eq!(manifest["since"], Value::Null);
    assert_eq!(rows.len(), 5, "{rows:#?}");
    assert_eq!(
        status(&rows, &a),
        vec![("tenant".into(), "opted_out".into())]
    );
    assert_eq!(
        status(&rows, &c),
        vec![("tenant".into(), "opted_in".into())]
    );
    assert_eq!(
        at(&rows, &a)[2..4],
        ["sms_keyword".to_string(), "stop".into()]
    );
    assert_eq!(at(&rows, &d)[2], "review_expired");
    assert_eq!(at(&rows, &d)[4], expired.event_id.as_str());
    assert_eq!(at(&rows, &e)[2], "provider");
    let changed: DateTime<Utc> = at(&rows, &a)[1].parse().unwrap();
    assert_eq!(changed.timestamp_millis(), long_ago.timestamp_millis());
    assert!(
        full.files[0]
            .key
            .starts_with(&format!("{}/opt-outs/", f.tenant))
    );
    assert!(
        f.store()
            .export_checkpoint(&f.tenant)
            .await
            .unwrap()
            .0
            .is_none(),
        "a full export is not a link of the chain"
    );

    // The chain's first link starts at the first change.
    let (first, rows, manifest) = f.export(ExportKind::Incremental).await;
    assert_eq!(manifest["since"], Value::Null);
    assert_eq!(rows.len(), 5);
    let checkpoint = f
        .store()
        .export_checkpoint(&f.tenant)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(checkpoint.until, first.until);

    // A START lifting a's STOP, and a new STOP: the next link carries both, and only them.
    let now = Utc::now();
    f.commit(&f.start(&a, now)).await;
    let g = phone(6);
    f.commit(&f.stop(&g, now)).await;
    let (second, rows, manifest) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        manifest["since"]
            .as_str()
            .map(|s| s.parse::<DateTime<Utc>>().unwrap()),
        Some(first.until)
    );
    assert_eq!(
        rows.keys().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        vec![a.as_str().to_string(), g.as_str().to_string()]
    );
    assert_eq!(
        status(&rows, &a),
        vec![("tenant".into(), "opted_in".into())]
    );
    assert_eq!(at(&rows, &a)[3], "start");

    // Nothing new: the next link re-reads the overlap window and skips what the last one wrote.
    let (third, rows, _) = f.export(ExportKind::Incremental).await;
    assert!(rows.is_empty(), "{rows:#?}");
    let csv = f.file(&third, ExportFormat::Csv).await;
    assert_eq!(
        String::from_utf8(csv).unwrap(),
        "phone_number,status,scope,changed_at,source,keyword,event_id\n"
    );
    assert!(third.since == Some(second.until));
}

#[tokio::test]
async fn a_change_recorded_late_inside_the_overlap_window_is_exported_once() {
    let f = fixture("export-overlap").await;
    let now = Utc::now();
    // Recorded ten seconds before the first link's end: it writes it, within the overlap.
    let early = phone(10);
    let early_stop = f.stop(&early, now - Duration::seconds(10));
    f.commit(&early_stop).await;
    let (first, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(rows.len(), 1);

    // Stamped before the first link's end but committed after it ran (a commit retried
    // through throttling, an index that lagged): the first link could not see it.
    let late = phone(11);
    let late_stop = f.stop(&late, first.until - Duration::seconds(30));
    f.commit(&late_stop).await;
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        rows.keys().map(|(p, _)| p.clone()).collect::<Vec<_>>(),
        vec![late.as_str().to_string()],
        "the late change, and not again the one the first link wrote"
    );
    assert_eq!(at(&rows, &late)[4], late_stop.event_id.as_str());
}

#[tokio::test]
async fn an_opt_out_recorded_after_a_later_occurring_start_is_in_the_next_incremental() {
    let f = fixture("export-late-stop").await;
    let person = phone(20);
    let now = Utc::now();
    f.commit(&f.start(&person, now - Duration::minutes(29)))
        .await;
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_in".into())]
    );

    // Held on the capture queue through an outage, the STOP the person sent a minute before
    // the START is committed now; the START, under two minutes after it, cannot lift it.
    let stop = event(EventKind::OptOut)
        .tenant(&f.tenant)
        .phone(&person)
        .at(now - Duration::minutes(30))
        .recorded_at(Utc::now())
        .keyword("stop")
        .build();
    f.commit(&stop).await;
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_out".into())]
    );
    let row = at(&rows, &person);
    assert_eq!(row[4], stop.event_id.as_str());
    let changed: DateTime<Utc> = row[1].parse().unwrap();
    assert_eq!(
        changed.timestamp_millis(),
        stop.recorded_at.timestamp_millis()
    );
}

#[tokio::test]
async fn an_override_grant_that_lifts_a_keyword_stop_is_one_opted_in_row() {
    let f = fixture("export-override").await;
    let person = phone(30);
    f.commit(&f.stop(&person, Utc::now() - Duration::hours(1)))
        .await;
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_out".into())]
    );

    let grant = event(EventKind::Grant)
        .tenant(&f.tenant)
        .phone(&person)
        .at(Utc::now())
        .api(Scope::Tenant, Source::Paper)
        .consent(
            stopgate::consent::Category::Promotional,
            Some(stopgate::consent::ConsentLevel::ExpressWritten),
        )
        .document_ref("signed form 12")
        .override_opt_out()
        .build();
    f.commit(&grant).await;
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_in".into())]
    );
    assert_eq!(
        at(&rows, &person)[2..],
        [
            "paper".to_string(),
            String::new(),
            grant.event_id.to_string()
        ]
    );
    let (_, rows, _) = f.export(ExportKind::Full).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_in".into())]
    );
}

#[tokio::test]
async fn an_empty_tenant_exports_files_without_rows() {
    let f = fixture("export-empty").await;
    for kind in [ExportKind::Full, ExportKind::Incremental] {
        let (job, rows, manifest) = f.export(kind).await;
        assert!(rows.is_empty());
        assert_eq!(manifest["rows"], 0);
        assert!(f.file(&job, ExportFormat::Jsonl).await.is_empty());
    }
    assert!(
        f.store()
            .export_checkpoint(&f.tenant)
            .await
            .unwrap()
            .0
            .is_some()
    );
}

/// A full export lists every number with a standing when it was asked for. A number whose
/// standing changes after that (while the request waits on the queue, or while the export
/// runs) has its newest change past the export's window, so the walk meets it only at older
/// changes: it is listed all the same, once, at its newest standing.
#[tokio::test]
async fn a_number_that_changes_after_a_full_export_was_asked_for_is_listed_once_at_its_newest_standing()
 {
    let f = fixture("export-full-late").await;
    let (twice, lifted) = (phone(50), phone(51));
    let long_ago = Utc::now() - Duration::hours(3);
    // Two changes in the window: the walk meets this number twice.
    f.commit(&f.stop(&twice, long_ago)).await;
    f.commit(&f.start(&twice, long_ago + Duration::hours(1)))
        .await;
    f.commit(&f.stop(&lifted, long_ago)).await;
    let job = f.request(ExportKind::Full, &ExportFormat::ALL).await;

    let again = f.stop(&twice, Utc::now());
    f.commit(&again).await;
    let start = f.start(&lifted, Utc::now());
    f.commit(&start).await;
    let done = f.run(&job).await;
    assert!(again.recorded_at > done.until && start.recorded_at > done.until);

    let rows = f.csv(&done).await;
    assert_eq!(f.jsonl(&done).await, rows);
    assert_eq!(done.rows, 2, "{rows:#?}");
    assert_eq!(
        status(&rows, &twice),
        vec![("tenant".into(), "opted_out".into())]
    );
    assert_eq!(at(&rows, &twice)[4], again.event_id.as_str());
    assert_eq!(
        status(&rows, &lifted),
        vec![("tenant".into(), "opted_in".into())]
    );
    assert_eq!(at(&rows, &lifted)[4], start.event_id.as_str());
}

/// A link of the chain leaves a number whose standing changed after the link was asked for to
/// the next link, whose window holds that change: the number is in the chain once, at its
/// newest standing.
#[tokio::test]
async fn a_number_that_changes_after_a_link_was_asked_for_is_in_the_next_link_once() {
    let f = fixture("export-link-late").await;
    let person = phone(52);
    f.commit(&f.stop(&person, Utc::now() - Duration::hours(3)))
        .await;
    let job = f.request(ExportKind::Incremental, &ExportFormat::ALL).await;
    let start = f.start(&person, Utc::now());
    f.commit(&start).await;
    let first = f.run(&job).await;
    assert!(f.csv(&first).await.is_empty());

    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(
        status(&rows, &person),
        vec![("tenant".into(), "opted_in".into())]
    );
    assert_eq!(at(&rows, &person)[4], start.event_id.as_str());
    let (_, rows, _) = f.export(ExportKind::Incremental).await;
    assert!(rows.is_empty(), "{rows:#?}");
}

/// A run that moved the checkpoint and died before it published latest.json and marked the
/// job done: its retry finds its own checkpoint and finishes, from its manifest, writing no
/// file again and moving nothing twice.
#[tokio::test]
async fn a_run_that_died_after_moving_the_checkpoint_is_finished_by_its_retry() {
    let f = fixture("export-after-checkpoint").await;
    f.commit(&f.stop(&phone(40), Utc::now() - Duration::hours(1)))
        .await;
    let (done, rows, _) = f.export(ExportKind::Incremental).await;
    assert_eq!(rows.len(), 1);
    // As the job item and the bucket look when the run died right after the checkpoint moved.
    let (mut job, version) = f
        .store()
        .load_export(&f.tenant, &done.export_id)
        .await
        .unwrap()
        .unwrap();
    job.status = ExportStatus::Running;
    job.rows = 0;
    job.files.clear();
    job.manifest_key = None;
    f.store().save_export(&job, version).await.unwrap();
    f.bucket
        .delete(&ExportJob::latest_key(&f.tenant))
        .await
        .unwrap();

    let retried = f.run(&job).await;
    assert_eq!(retried.status, ExportStatus::Done);
    assert_eq!(retried.rows, 1);
    assert_eq!(retried.files, done.files);
    let latest = f
        .bucket
        .get(&ExportJob::latest_key(&f.tenant))
        .await
        .unwrap()
        .unwrap();
    let latest: Value = serde_json::from_slice(&latest).unwrap();
    assert_eq!(latest["export_id"], done.export_id.as_str());
    let checkpoint = f.store().export_checkpoint(&f.tenant).await.unwrap();
    assert_eq!(checkpoint.1, 1, "moved once");
}

/// Enough JSON Lines for two parts of 5 MiB.
const TWO_PARTS: u64 = 40_000;

#[tokio::test]
async fn a_run_that_fails_between_two_parts_is_retried_without_losing_or_repeating_a_row() {
    let f = fixture_with_own_table("export-resume").await;
    bulk_opt_outs(
        f.store(),
        &f.tenant,
        0..TWO_PARTS,
        Utc::now() - Duration::hours(1),
        &mut |_| {},
    )
    .await;
    let job = f
        .request(ExportKind::Incremental, &[ExportFormat::Jsonl])
        .await;
    let key = job.file_key(ExportFormat::Jsonl);

    let mut stop_after_a_part = |p: &Progress| {
        if p.parts >= 1 {
            Err("the function was stopped".to_string())
        } else {
            Ok(())
        }
    };
    // Parts of S3's smallest size: the file takes two.
    let options = ExportOptions {
        part_size: MIN_PART_SIZE,
        ..ExportOptions::default()
    };
    let failed = exports::run(
        f.store(),
        &f.bucket,
        &f.tenant,
        &job.export_id,
        &options,
        &mut stop_after_a_part,
    )
    .await;
    assert!(matches!(failed, Err(ExportError::Stopped(_))), "{failed:?}");
    let (after_failure, _) = f
        .store()
        .load_export(&f.tenant, &job.export_id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(after_failure.status, ExportStatus::Failed);
    assert!(after_failure.failure.unwrap().contains("stopped"));
    assert_eq!(f.bucket.get(&key).await.unwrap(), None, "nothing visible");
    assert_eq!(
        f.bucket
            .unfinished_uploads(&ExportJob::prefix(&f.tenant))
            .await
            .unwrap(),
        Vec::<String>::new(),
        "the uploaded part is aborted"
    );
    assert!(
        f.store()
            .export_checkpoint(&f.tenant)
            .await
            .unwrap()
            .0
            .is_none()
    );

    let Ran::Done(done) = exports::run(
        f.store(),
        &f.bucket,
        &f.tenant,
        &job.export_id,
        &options,
        &mut no_progress,
    )
    .await
    .unwrap() else {
        panic!("busy")
    };
    let done = *done;
    assert_eq!(done.attempts, 2);
    let rows = f.jsonl(&done).await;
    let expected: BTreeSet<String> = (0..TWO_PARTS)
        .map(|n| bulk_number(n).as_str().to_string())
        .collect();
    let body = f.file(&done, ExportFormat::Jsonl).await;
    assert!(body.len() > 5 * 1024 * 1024, "two parts: {}", body.len());
    assert_eq!(
        String::from_utf8(body).unwrap().lines().count() as u64,
        TWO_PARTS,
        "no row twice"
    );
    assert_eq!(
        rows.keys().map(|(p, _)| p.clone()).collect::<BTreeSet<_>>(),
        expected,
        "no row lost"
    );
    let checkpoint = f
        .store()
        .export_checkpoint(&f.tenant)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(checkpoint.export_id, job.export_id);
    f.drop_table().await;
}

#[tokio::test]
async fn one_hundred_thousand_opt_outs_export_in_parts() {
    const ROWS: u64 = 100_000;
    let f = fixture_with_own_table("export-100k").await;
    let started = Instant::now();
    bulk_opt_outs(
        f.store(),
        &f.tenant,
        0..ROWS,
        Utc::now() - Duration::hours(1),
        &mut |_| {},
    )
    .await;
    let loaded = started.elapsed();
    let started = Instant::now();
    let job = f.request(ExportKind::Full, &ExportFormat::ALL).await;
    let mut most_parts = 0;
    let mut progress = |p: &Progress| {
        most_parts = p.parts;
        Ok(())
    };
    let Ran::Done(done) = exports::run(
        f.store(),
        &f.bucket,
        &f.tenant,
        &job.export_id,
        &ExportOptions::default(),
        &mut progress,
    )
    .await
    .unwrap() else {
        panic!("busy")
    };
    let exported = started.elapsed();
    let done = *done;
    eprintln!("100,000 opt-outs: loaded in {loaded:?}, exported in {exported:?}");
    assert_eq!(done.rows, ROWS);
    assert!(most_parts >= 2, "uploaded in parts: {most_parts}");
    let rows = f.csv(&done).await;
    assert_eq!(rows.len() as u64, ROWS);
    assert!(rows.values().all(|r| r[0] == "opted_out"));
    assert_eq!(f.jsonl(&done).await, rows);
    f.drop_table().await;
}
