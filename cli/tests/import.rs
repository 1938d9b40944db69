//! `stopgate import` end to end against DynamoDB Local: a generated file, progress on stderr, the
//! summary on stdout, exit codes, and a second run that records nothing new.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use serde_json::Value;
use stopgate::testing::{env, unique_tenant};

fn import(args: &[&str]) -> (Option<i32>, Value, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stopgate"))
        .arg("import")
        .args(args)
        .output()
        .unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    let summary = serde_json::from_str(stdout.trim()).unwrap_or(Value::Null);
    (
        out.status.code(),
        summary,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test]
async fn stopgate_import_streams_a_generated_file_and_a_second_run_records_nothing_new() {
    let env = env().await;
    let tenant = unique_tenant("import-cli");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let dir = std::env::temp_dir().join(&tenant);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("consents.csv");
    let mut csv = String::from("phone_number,status,scope,changed_at,source,category,level\n");
    for i in 0..1200 {
        let (status, category, level) = if i % 3 == 0 {
            ("opted_in", "informational", "express")
        } else {
            ("opted_out", "", "")
        };
        csv.push_str(&format!(
            "+1415333{:04},{status},tenant,2026-02-01T10:00:00Z,paper,{category},{level}\n",
            i
        ));
    }
    csv.push_str("+1415333000,opted_out,tenant,2026-02-01T10:00:00Z,,,\n");
    csv.push_str("+14153330001,opted_out,tenant,2026-02-01,,,\n");
    std::fs::write(&file, &csv).unwrap();
    let path = file.to_str().unwrap();

    let (code, summary, stderr) = import(&[&tenant, path, "--concurrency", "4"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(summary["status"], "done", "{summary}");
    assert_eq!(summary["via"], "cli");
    assert_eq!(summary["lines"], 1202);
    assert_eq!(summary["applied"], 1200);
    assert_eq!(summary["error_count"], 2);
    assert_eq!(summary["errors"][0]["line"], 1202);
    assert_eq!(summary["errors"][0]["field"], "phone_number");
    assert_eq!(summary["errors"][1]["line"], 1203);
    assert_eq!(summary["errors"][1]["field"], "changed_at");
    assert!(
        stderr.contains("1202 lines"),
        "progress on stderr: {stderr}"
    );
    assert_eq!(
        env.check(&tenant, "+14155550100", "+14153330001", "promotional")
            .await["reason"],
        "opted_out"
    );
    assert_eq!(
        env.check(&tenant, "+14155550100", "+14153330000", "informational")
            .await["allowed"],
        true
    );

    let (code, again, _) = import(&[&tenant, path]);
    assert_eq!(code, Some(0));
    assert_eq!(again["applied"], 0);
    assert_eq!(again["skipped_duplicates"], 1200);
    assert_eq!(again["source_file_sha256"], summary["source_file_sha256"]);

    // Nothing could be done: exit non-zero.
    let (code, _, stderr) = import(&[&tenant, dir.join("missing.csv").to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    let (code, _, _) = import(&[&unique_tenant("import-nobody"), path]);
    assert_eq!(code, Some(4));
    std::fs::write(dir.join("wrong.csv"), "name,email\nA,a@example.com\n").unwrap();
    let (code, failed, _) = import(&[&tenant, dir.join("wrong.csv").to_str().unwrap()]);
    assert_eq!(code, Some(1));
    assert_eq!(failed["status"], "failed");
    std::fs::remove_dir_all(&dir).unwrap();
}
