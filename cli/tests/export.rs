//! `stopgate export` and `stopgate history` end to end against DynamoDB Local and moto: a local
//! file with its manifest beside it, an export to the bucket that continues the chain, the
//! schedule setting, and a number's history with its evidence, as a table and as JSON lines.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::{Command, Output};

use chrono::{Duration, Utc};
use serde_json::Value;
use sha2::{Digest, Sha256};
use stopgate::consent::{EventKind, ExportSchedule, PrivateEvidence, Scope, Source};
use stopgate::phone::E164;
use stopgate::store::Commit;
use stopgate::testing::{TestEnv, env, events};

fn stopgate(args: &[&str], vars: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stopgate"))
        .args(args)
        .envs(vars.iter().copied())
        .output()
        .unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

async fn tenant_with_stops(env: &TestEnv, prefix: &str, phones: &[&str]) -> String {
    let tenant = env.new_tenant(prefix).await;
    for phone in phones {
        let stop = events::event(EventKind::OptOut)
            .tenant(&tenant)
            .phone(&E164::parse_e164(phone).unwrap())
            .at(Utc::now() - Duration::hours(1))
            .keyword("stop")
            .build();
        env.store
            .commit(&Commit {
                event: &stop,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .unwrap();
    }
    tenant
}

#[tokio::test]
async fn export_writes_a_local_file_with_its_manifest_beside_it() {
    let env = env().await;
    let tenant =
        tenant_with_stops(&env, "cli-export-local", &["+14155550501", "+14155550502"]).await;
    let dir = std::env::temp_dir().join(format!("stopgate-export-{tenant}"));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("opt-outs.csv");
    let printed = ok(stopgate(
        &["export", &tenant, "--full", "--out", path.to_str().unwrap()],
        &[],
    ));
    let manifest: Value = serde_json::from_str(&printed).unwrap();
    let beside: Value =
        serde_json::from_slice(&std::fs::read(dir.join("opt-outs.csv.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest, beside);
    assert_eq!(manifest["kind"], "full");
    assert_eq!(manifest["rows"], 2);
    let csv = std::fs::read(&path).unwrap();
    assert_eq!(
        manifest["files"][0]["sha256"],
        hex::encode(Sha256::digest(&csv))
    );
    assert_eq!(manifest["files"][0]["key"], "opt-outs.csv");
    let text = String::from_utf8(csv).unwrap();
    assert!(text.starts_with("phone_number,status,scope,changed_at,source,keyword,event_id\n"));
    assert!(text.contains("+14155550501,opted_out,tenant,"), "{text}");

    // JSON Lines from the extension; changes since the chain's checkpoint (none yet: all).
    let jsonl = dir.join("changes.jsonl");
    let printed = ok(stopgate(
        &["export", &tenant, "--out", jsonl.to_str().unwrap()],
        &[],
    ));
    let manifest: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(manifest["kind"], "incremental");
    assert_eq!(manifest["files"][0]["format"], "jsonl");
    let lines = std::fs::read_to_string(&jsonl).unwrap();
    assert_eq!(lines.lines().count(), 2);
    assert!(
        env.store
            .export_checkpoint(&tenant)
            .await
            .unwrap()
            .0
            .is_none(),
        "a local file does not move the chain"
    );

    let refused = stopgate(
        &["export", &tenant, "--since", "yesterday", "--out", "x.csv"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
    let unknown = stopgate(
        &["export", "no-such-tenant", "--out", path.to_str().unwrap()],
        &[],
    );
    assert_eq!(unknown.status.code(), Some(4));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn export_to_the_bucket_continues_the_chain_and_the_schedule_is_a_tenant_setting() {
    let env = env().await;
    let tenant = tenant_with_stops(&env, "cli-export-bucket", &["+14155550511"]).await;
    let (bucket, _) = env.fresh_exports().await;
    let vars = [("EXPORTS_BUCKET", bucket.bucket())];
    let printed = ok(stopgate(&["export", &tenant], &vars));
    let job: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!(job["status"], "done");
    assert_eq!(job["kind"], "incremental");
    assert_eq!(job["via"], "cli");
    assert_eq!(job["rows"], 1);
    assert_eq!(job["files"].as_array().unwrap().len(), 2);
    let checkpoint = env
        .store
        .export_checkpoint(&tenant)
        .await
        .unwrap()
        .0
        .unwrap();
    assert_eq!(checkpoint.export_id, job["export_id"].as_str().unwrap());
    let latest = bucket
        .get(&format!("{tenant}/opt-outs/latest.json"))
        .await
        .unwrap()
        .unwrap();
    let latest: Value = serde_json::from_slice(&latest).unwrap();
    assert_eq!(latest["export_id"], job["export_id"]);

    // Nothing changed since: the next link has no rows; --since is outside the chain.
    let next: Value = serde_json::from_str(&ok(stopgate(
        &["export", &tenant, "--format", "csv"],
        &vars,
    )))
    .unwrap();
    assert_eq!(next["rows"], 0);
    let since = (Utc::now() - Duration::hours(2)).to_rfc3339();
    let aside: Value = serde_json::from_str(&ok(stopgate(
        &["export", &tenant, "--since", &since],
        &vars,
    )))
    .unwrap();
    assert_eq!(aside["rows"], 1);
    assert_eq!(
        env.store
            .export_checkpoint(&tenant)
            .await
            .unwrap()
            .0
            .unwrap()
            .export_id,
        next["export_id"].as_str().unwrap()
    );

    ok(stopgate(
        &["tenant", "set", &tenant, "--export-schedule", "hourly"],
        &[],
    ));
    let policy = env
        .store
        .load_tenant(&tenant)
        .await
        .unwrap()
        .unwrap()
        .tenant
        .policy;
    assert_eq!(policy.export_schedule, ExportSchedule::Hourly);
    let refused = stopgate(
        &["tenant", "set", &tenant, "--export-schedule", "monthly"],
        &[],
    );
    assert_eq!(refused.status.code(), Some(2));
}

#[tokio::test]
async fn history_prints_every_event_with_its_evidence() {
    let env = env().await;
    let tenant = env.new_tenant("cli-history").await;
    let phone = E164::parse_e164("+14155550521").unwrap();
    let form = events::event(EventKind::OptIn)
        .tenant(&tenant)
        .phone(&phone)
        .at(Utc::now() - Duration::hours(2))
        .api(Scope::Tenant, Source::WebForm)
        .with_private_record()
        .build();
    env.store
        .commit(&Commit {
            event: &form,
            private: Some(&PrivateEvidence {
                ip: Some("203.0.113.9".into()),
                ..Default::default()
            }),
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&phone)
        .at(Utc::now() - Duration::hours(1))
        .keyword("stop")
        .build();
    env.store
        .commit(&Commit {
            event: &stop,
            private: None,
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();

    let table = ok(stopgate(&["history", &tenant, "(415) 555-0521"], &[]));
    let lines: Vec<&str> = table.lines().collect();
    assert!(lines[0].starts_with("RECORDED"), "{table}");
    let stop_line = lines
        .iter()
        .position(|l| l.contains(stop.event_id.as_str()))
        .unwrap();
    let form_line = lines
        .iter()
        .position(|l| l.contains(form.event_id.as_str()))
        .unwrap();
    assert!(stop_line < form_line, "newest first:\n{table}");
    assert!(lines[stop_line].contains("opt_out") && lines[stop_line].contains("tenant"));
    assert!(table.contains("keyword \"stop\""), "{table}");
    assert!(table.contains("ip: 203.0.113.9"), "{table}");

    let json = ok(stopgate(
        &["history", &tenant, "+14155550521", "--json"],
        &[],
    ));
    let events: Vec<Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["event_id"], stop.event_id.as_str());
    assert_eq!(events[1]["evidence"]["ip"], "203.0.113.9");
    assert_eq!(events[1]["kind"], "opt_in");

    let unknown = stopgate(&["history", "no-such-tenant", "+14155550521"], &[]);
    assert_eq!(unknown.status.code(), Some(4));
    let bad = stopgate(&["history", &tenant, "not a number"], &[]);
    assert_eq!(bad.status.code(), Some(2));
}
