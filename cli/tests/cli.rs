//! The `stopgate` command end to end against DynamoDB Local: stdout carries exactly the output,
//! exit codes say what happened, secrets go in through stdin, and every configuration change is
//! in the audit trail with its operator and without a secret.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::process::{Command, Output, Stdio};

use chrono::{Duration, Utc};
use serde_json::Value;
use stopgate::consent::{EventKind, PrivateEvidence};
use stopgate::phone::E164;
use stopgate::store::Commit;
use stopgate::testing::{env, events, unique_tenant};

/// Who the commands run as: the audit trail names this operator.
const OPERATOR: &str = "ana@acme.example";

fn stopgate(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_stopgate"))
        .args(args)
        .env("STOPGATE_OPERATOR", OPERATOR)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    child.wait_with_output().unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "stderr: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o)
}

#[test]
fn classify_needs_no_environment_and_prints_one_json_object_per_text_in_order() {
    let out = Command::new(env!("CARGO_BIN_EXE_stopgate"))
        .args([
            "classify",
            "Stop please",
            "weekend plans?",
            "leave me alone",
        ])
        .env_clear()
        .output()
        .unwrap();
    assert!(out.status.success());
    let lines: Vec<serde_json::Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3);
    assert_eq!(
        (lines[0]["text"].as_str(), lines[0]["intent"].as_str()),
        (Some("Stop please"), Some("opt_out"))
    );
    assert_eq!(lines[1]["intent"], "none");
    assert_eq!(lines[2]["intent"], "possible_revocation");
    assert!(out.stderr.is_empty() || !String::from_utf8_lossy(&out.stderr).contains("{\"text\""));
}

#[tokio::test]
async fn tenants_keys_secrets_groups_and_keywords_from_the_terminal() {
    let _env = env().await;
    let tenant = unique_tenant("cli");
    ok(stopgate(&["tenant", "create", &tenant], None));
    assert_eq!(
        stopgate(&["tenant", "create", &tenant], None).status.code(),
        Some(3),
        "exists"
    );
    assert_eq!(
        stopgate(&["tenant", "create", "bad tenant!"], None)
            .status
            .code(),
        Some(2)
    );

    let key = ok(stopgate(
        &["key", "create", &tenant, "--scopes", "check,consents:write"],
        None,
    ));
    assert!(
        key.starts_with("sg_live_") && key.ends_with('\n') && key.lines().count() == 1,
        "{key:?}"
    );
    assert_eq!(
        stopgate(&["key", "create", &tenant, "--scopes", "everything"], None)
            .status
            .code(),
        Some(2)
    );

    let set = stopgate(
        &["provider", "set", &tenant, "twilio"],
        Some("auth_token=super-secret-value\n"),
    );
    assert!(
        set.status.success(),
        "{}",
        String::from_utf8_lossy(&set.stderr)
    );
    assert!(!String::from_utf8_lossy(&set.stderr).contains("super-secret-value"));
    assert!(stdout(&set).is_empty());
    assert_eq!(
        stopgate(
            &["provider", "set", &tenant, "carrier-pigeon", "token=x"],
            None
        )
        .status
        .code(),
        Some(2)
    );
    assert_eq!(
        stopgate(&["provider", "set", &tenant, "twilio", "password=x"], None)
            .status
            .code(),
        Some(2)
    );

    ok(stopgate(
        &[
            "sender-group",
            "set",
            &tenant,
            "alerts",
            "--senders",
            "(415) 555-0100,MG123",
            "--program",
            "fraud",
            "--brand",
            "acme",
        ],
        None,
    ));
    ok(stopgate(
        &[
            "tenant",
            "set",
            &tenant,
            "--reply-mode",
            "stopgate",
            "--stop-scope",
            "sender_group",
            "--brand-name",
            "Acme",
        ],
        None,
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(stopgate(&["tenant", "show", &tenant], None))).unwrap();
    assert_eq!(
        shown["sender_groups"][0]["senders"],
        serde_json::json!(["+14155550100", "MG123"])
    );
    assert_eq!(shown["tenant"]["policy"]["reply_mode"], "stopgate");
    assert_eq!(
        shown["providers"]["twilio"],
        serde_json::json!(["auth_token"])
    );
    assert!(!shown.to_string().contains("super-secret-value"));

    ok(stopgate(
        &[
            "keywords",
            "add",
            &tenant,
            "--intent",
            "opt_out",
            "--language",
            "it",
            "BASTA",
        ],
        None,
    ));
    let classified: serde_json::Value = serde_json::from_str(&ok(stopgate(
        &["classify", "--tenant", &tenant, "basta"],
        None,
    )))
    .unwrap();
    assert_eq!(
        (
            classified["intent"].as_str(),
            classified["language"].as_str()
        ),
        (Some("opt_out"), Some("it"))
    );
    let default: serde_json::Value =
        serde_json::from_str(&ok(stopgate(&["classify", "basta"], None))).unwrap();
    assert_ne!(default["intent"], "opt_out");
    assert_eq!(
        stopgate(&["keywords", "remove", &tenant, "STOP"], None)
            .status
            .code(),
        Some(4),
        "FCC words stay"
    );
    ok(stopgate(&["keywords", "remove", &tenant, "basta"], None));
    ok(stopgate(
        &[
            "replies",
            &tenant,
            "--language",
            "es",
            "--opt-out-text",
            "Acme: no recibirás más mensajes.",
        ],
        None,
    ));
}

#[tokio::test]
async fn reclassify_finds_and_records_what_an_older_classifier_missed_once() {
    let env = env().await;
    let tenant = unique_tenant("reclass");
    ok(stopgate(&["tenant", "create", &tenant], None));
    let phone = E164::parse_e164("+14155550191").unwrap();
    let at = Utc::now() - Duration::hours(1);
    // As an older classifier recorded it: a plain inbound message.
    let mut missed = events::event(EventKind::Inbound)
        .tenant(&tenant)
        .phone(&phone)
        .at(at)
        .with_private_record()
        .build();
    missed.origin.classifier_version = Some("2020.1".into());
    let text = PrivateEvidence {
        message_text: Some("Stop. Thank you".into()),
        ..Default::default()
    };
    env.store
        .commit(&Commit {
            event: &missed,
            private: Some(&text),
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();

    let since = (at - Duration::minutes(5)).to_rfc3339();
    let report = ok(stopgate(&["reclassify", &tenant, "--since", &since], None));
    let found: serde_json::Value = serde_json::from_str(report.lines().next().unwrap()).unwrap();
    assert_eq!(
        (
            found["was"].as_str(),
            found["now"].as_str(),
            found["recorded"].as_bool()
        ),
        (Some("inbound"), Some("opt_out"), Some(false))
    );
    assert!(
        env.store
            .load_state(&tenant, &phone)
            .await
            .unwrap()
            .0
            .suppression
            .is_empty(),
        "a report changes nothing"
    );

    let applied = ok(stopgate(
        &["reclassify", &tenant, "--since", &since, "--apply"],
        None,
    ));
    assert!(applied.contains("\"recorded\":true"));
    let again = ok(stopgate(
        &["reclassify", &tenant, "--since", &since, "--apply"],
        None,
    ));
    assert!(again.contains("\"recorded\":false"), "idempotent: {again}");
    let events = env.store.events(&tenant, &phone).await.unwrap();
    let opt_outs: Vec<_> = events
        .iter()
        .filter(|e| e.kind == EventKind::OptOut)
        .collect();
    assert_eq!(opt_outs.len(), 1);
    assert_eq!(opt_outs[0].occurred_at, at, "as of the message");
    assert_eq!(
        stopgate(&["reclassify", &tenant, "--since", "yesterday"], None)
            .status
            .code(),
        Some(2)
    );
}

#[tokio::test]
async fn secrets_stay_off_the_command_line_and_keys_are_listed_and_revoked() {
    let _env = env().await;
    let tenant = unique_tenant("cli-access");
    ok(stopgate(&["tenant", "create", &tenant], None));

    // A secret in argv is refused, and not echoed.
    let in_argv = stopgate(
        &[
            "provider",
            "set",
            &tenant,
            "twilio",
            "auth_token=argv-secret-value",
        ],
        None,
    );
    assert_eq!(in_argv.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&in_argv.stderr);
    assert!(stderr.contains("stdin"), "{stderr}");
    assert!(!stderr.contains("argv-secret-value"), "{stderr}");

    // From a file, then rotated with --replace; settings as arguments.
    let file = std::env::temp_dir().join(format!("{tenant}-plivo.env"));
    std::fs::write(&file, "# Plivo\nauth_token=file-secret-value\n").unwrap();
    let from_file = ok(stopgate(
        &[
            "provider",
            "set",
            &tenant,
            "plivo",
            "--from-file",
            file.to_str().unwrap(),
        ],
        None,
    ));
    assert!(from_file.is_empty());
    std::fs::remove_file(&file).unwrap();
    ok(stopgate(
        &["provider", "set", &tenant, "plivo", "--replace"],
        Some("auth_token=second-secret-value\n"),
    ));
    ok(stopgate(
        &["provider", "set", &tenant, "plivo", "require_v3=true"],
        None,
    ));
    assert_eq!(
        stopgate(
            &["provider", "set", &tenant, "plivo", "require_v3=maybe"],
            None
        )
        .status
        .code(),
        Some(2)
    );
    let shown: serde_json::Value =
        serde_json::from_str(&ok(stopgate(&["tenant", "show", &tenant], None))).unwrap();
    assert_eq!(shown["provider_settings"]["plivo"]["require_v3"], "true");
    assert!(shown["previous_values_accepted_until"]["plivo"]["auth_token"].is_null());
    assert!(!shown.to_string().contains("secret-value"));
    ok(stopgate(
        &["provider", "drop-previous", &tenant, "plivo"],
        None,
    ));

    let key = ok(stopgate(
        &[
            "key",
            "create",
            &tenant,
            "--scopes",
            "check",
            "--expires-in",
            "30d",
        ],
        None,
    ));
    let listed = ok(stopgate(&["key", "list", &tenant, "--json"], None));
    assert!(
        !listed.contains(key.trim()),
        "the key itself is never shown"
    );
    let keys: Vec<serde_json::Value> = listed
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(keys.len(), 1);
    assert_eq!(keys[0]["scopes"], serde_json::json!(["check"]));
    assert_eq!(keys[0]["revoked"], false);
    assert!(keys[0]["expires_at"].is_string());
    let key_id = keys[0]["key_id"].as_str().unwrap();

    ok(stopgate(&["key", "revoke", &tenant, key_id], None));
    let keys: Vec<serde_json::Value> = ok(stopgate(&["key", "list", &tenant, "--json"], None))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(keys[0]["revoked"], true);
    assert_eq!(
        stopgate(&["key", "revoke", &tenant, "key_nope"], None)
            .status
            .code(),
        Some(4),
        "not found"
    );
    let table = ok(stopgate(&["key", "list", &tenant], None));
    assert!(
        table.starts_with("KEY ID") && table.contains(key_id),
        "{table}"
    );
}

#[tokio::test]
async fn forms_are_versioned_and_a_link_hides_its_number() {
    let env = env().await;
    let tenant = unique_tenant("cli-forms");
    ok(stopgate(&["tenant", "create", &tenant], None));
    ok(stopgate(
        &[
            "sender-group",
            "set",
            &tenant,
            "deals",
            "--senders",
            "+14155550100",
        ],
        None,
    ));
    let form = [
        "form",
        "set",
        &tenant,
        "join",
        "--brand",
        "Acme",
        "--program",
        "Acme Deals",
        "--categories",
        "informational,promotional",
        "--language",
        "en,es",
        "--terms-url",
        "https://acme.example/terms",
        "--privacy-url",
        "https://acme.example/privacy",
        "--frequency",
        "Up to 4 msgs/month",
        "--sender-group",
        "deals",
    ];
    let url = ok(stopgate(&form, None));
    assert!(url.trim().ends_with(&format!("/p/{tenant}/join")), "{url}");
    // A change keeps what it does not name, as the next version.
    ok(stopgate(
        &["form", "set", &tenant, "join", "--double-opt-in", "false"],
        None,
    ));
    let shown: serde_json::Value =
        serde_json::from_str(&ok(stopgate(&["form", "show", &tenant, "join"], None))).unwrap();
    assert_eq!(shown[0]["form"]["version"], 2, "{shown}");
    assert_eq!(shown[0]["form"]["double_opt_in"], false);
    assert_eq!(shown[0]["form"]["brand"], "Acme");

    // Settings are checked by name: a usage error (2).
    let mut bad = form.to_vec();
    bad[3] = "other";
    bad[19] = "nowhere";
    let refused = stopgate(&bad, None);
    assert_eq!(refused.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("--sender-group"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );

    let link = ok(stopgate(
        &["link", &tenant, "(415) 555-0188", "--sent-by-sms"],
        None,
    ));
    let link = link.trim();
    assert!(link.contains(&format!("/p/{tenant}/prefs/")), "{link}");
    assert!(
        !link.contains("5550188"),
        "the number is not in the link: {link}"
    );
    let token = link.rsplit('/').next().unwrap();
    let pages_key = env.config.pages_key.unwrap();
    let claims = stopgate::api::links::Links::new(pages_key)
        .open(&tenant, token, Utc::now())
        .unwrap();
    assert_eq!(claims.phone.as_str(), "+14155550188");
    assert!(claims.sent_by_sms);
    assert_eq!(claims.form, "join");
}

fn change<'a>(record: &'a Value, field: &str) -> &'a Value {
    record["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == field)
        .unwrap_or_else(|| panic!("no change of {field} in {record}"))
}

#[tokio::test]
async fn every_configuration_change_from_the_terminal_is_audited_without_secrets() {
    let env = env().await;
    let tenant = unique_tenant("cli-audit");
    ok(stopgate(&["tenant", "create", &tenant], None));
    // A refused change leaves no record.
    assert_eq!(
        stopgate(&["tenant", "create", &tenant], None).status.code(),
        Some(3)
    );
    ok(stopgate(
        &["tenant", "set", &tenant, "--stop-scope", "brand"],
        None,
    ));
    ok(stopgate(
        &[
            "keywords",
            "add",
            &tenant,
            "--intent",
            "opt_out",
            "--language",
            "it",
            "BASTA",
        ],
        None,
    ));
    ok(stopgate(
        &[
            "sender-group",
            "set",
            &tenant,
            "alerts",
            "--senders",
            "+14155550100",
        ],
        None,
    ));
    ok(stopgate(
        &["sender-group", "delete", &tenant, "alerts"],
        None,
    ));
    ok(stopgate(
        &["key", "create", &tenant, "--scopes", "check"],
        None,
    ));
    let keys: Value = serde_json::from_str(
        ok(stopgate(&["key", "list", &tenant, "--json"], None))
            .lines()
            .next()
            .unwrap(),
    )
    .unwrap();
    let key_id = keys["key_id"].as_str().unwrap().to_string();
    ok(stopgate(&["key", "revoke", &tenant, &key_id], None));
    ok(stopgate(
        &["provider", "set", &tenant, "plivo"],
        Some("auth_token=first-secret-value\n"),
    ));
    ok(stopgate(
        &["provider", "set", &tenant, "plivo"],
        Some("auth_token=second-secret-value\n"),
    ));
    ok(stopgate(
        &["provider", "set", &tenant, "plivo", "require_v3=true"],
        None,
    ));

    let out = ok(stopgate(&["audit", &tenant, "--json"], None));
    assert!(!out.contains("secret-value"), "{out}");
    // Nor the sealed values: the trail holds only tags of them.
    let snapshot = env.store.load_tenant(&tenant).await.unwrap().unwrap();
    for sealed in snapshot.providers["plivo"].values["auth_token"].iter() {
        assert!(!out.contains(sealed.as_str()), "a sealed value in {out}");
    }
    let records: Vec<Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let actions: Vec<&str> = records
        .iter()
        .map(|r| r["action"].as_str().unwrap())
        .collect();
    // Newest first.
    assert_eq!(
        actions,
        [
            "provider_settings_set",
            "provider_secrets_set",
            "provider_secrets_set",
            "api_key_revoked",
            "api_key_created",
            "sender_group_deleted",
            "sender_group_set",
            "policy_changed",
            "policy_changed",
            "tenant_created",
        ]
    );
    for record in &records {
        assert_eq!(
            record["actor"],
            serde_json::json!({"type": "operator", "name": OPERATOR}),
            "{record}"
        );
        assert_eq!(record["tenant"], tenant.as_str());
    }
    let scope = change(&records[8], "stop_scope");
    assert_eq!(
        (&scope["before"], &scope["after"]),
        (&"tenant".into(), &"brand".into())
    );
    let keywords = records[7]["changes"].to_string();
    assert!(keywords.contains("BASTA"), "{keywords}");
    assert_eq!(records[6]["target"], "alerts");
    assert_eq!(
        change(&records[6], "senders")["after"],
        serde_json::json!(["+14155550100"])
    );
    assert_eq!(
        change(&records[5], "senders")["after"],
        serde_json::json!([])
    );
    assert_eq!(records[3]["target"], key_id.as_str());
    assert_eq!(change(&records[3], "revoked")["after"], true);
    // A rotation: the new value's tag first, the previous value kept for a while.
    let rotated = change(&records[1], "values.auth_token");
    let (before, after) = (
        rotated["before"].as_array().unwrap(),
        rotated["after"].as_array().unwrap(),
    );
    assert_eq!(before.len(), 1);
    assert_eq!(after.len(), 2);
    assert_eq!(after[1], before[0]);
    assert_ne!(after[0], before[0]);
    assert!(after[0].as_str().unwrap().starts_with("sealed:"));
    change(&records[1], "previous_accepted_until.auth_token");
    assert_eq!(change(&records[0], "settings.require_v3")["after"], "true");

    // The table: one line per record, and --limit keeps the newest.
    let table = ok(stopgate(&["audit", &tenant, "--limit", "2"], None));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 2, "{table}");
    assert!(lines[0].contains("provider_settings_set") && lines[0].contains(OPERATOR));
    assert!(lines[1].contains("values.auth_token"), "{table}");
    assert_eq!(
        stopgate(&["audit", &unique_tenant("cli-audit-none")], None)
            .status
            .code(),
        Some(4)
    );
}

#[tokio::test]
async fn verify_checks_every_numbers_chain_and_names_the_first_broken_link() {
    let env = env().await;
    let tenant = unique_tenant("cli-verify");
    ok(stopgate(&["tenant", "create", &tenant], None));
    let phones = ["+14155550192", "+14155550193"];
    let mut stops = Vec::new();
    for phone in phones {
        let phone = E164::parse_e164(phone).unwrap();
        for kind in [EventKind::OptOut, EventKind::Inbound] {
            let event = events::event(kind).tenant(&tenant).phone(&phone).build();
            env.store
                .commit(&Commit {
                    event: &event,
                    private: None,
                    dedupe: None,
                    disclosure: None,
                })
                .await
                .unwrap();
            if kind == EventKind::OptOut {
                stops.push(event);
            }
        }
    }
    let summary: Value =
        serde_json::from_str(ok(stopgate(&["verify", &tenant], None)).trim()).unwrap();
    assert_eq!(
        summary,
        serde_json::json!({"numbers": 2, "events": 4, "unchained": 0, "broken": 0})
    );

    // Someone with access to the table turns the second number's STOP into something else.
    let stop = &stops[1];
    let (chain, _) = env.store.chain(&tenant, &stop.phone).await.unwrap();
    let stored = chain
        .iter()
        .find(|e| e.event_id == stop.event_id.as_str())
        .unwrap();
    let edited = stored.doc.replacen("\"opt_out\"", "\"inbound\"", 1);
    assert_ne!(edited, stored.doc);
    env.tamper_with_event(&tenant, &stop.phone, stop.event_id.as_str(), Some(&edited))
        .await;
    let out = stopgate(&["verify", &tenant], None);
    assert_eq!(out.status.code(), Some(1));
    let lines: Vec<Value> = stdout(&out)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "{lines:?}");
    assert_eq!(lines[0]["phone"], phones[1]);
    assert_eq!(
        lines[0]["broken"],
        serde_json::json!({"problem": "altered", "event_id": stop.event_id.as_str(), "seq": 1})
    );
    assert_eq!(lines[1]["broken"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains(phones[1]));
    // One number at a time: the first is intact.
    ok(stopgate(
        &["verify", &tenant, "--phone", "(415) 555-0192"],
        None,
    ));
}

#[tokio::test]
async fn retention_is_kept_by_default_set_in_days_and_never_below_thirty() {
    let _env = env().await;
    let tenant = unique_tenant("cli-retention");
    ok(stopgate(&["tenant", "create", &tenant], None));
    let shown = |tenant: &str| -> Value {
        serde_json::from_str(&ok(stopgate(&["tenant", "show", tenant], None))).unwrap()
    };
    assert!(shown(&tenant)["tenant"]["policy"]["retention_days"].is_null());
    for refused in ["29", "0", "forever"] {
        let out = stopgate(
            &["tenant", "set", &tenant, "--retention-days", refused],
            None,
        );
        assert_eq!(out.status.code(), Some(2), "{refused}");
    }
    ok(stopgate(
        &["tenant", "set", &tenant, "--retention-days", "1825"],
        None,
    ));
    assert_eq!(shown(&tenant)["tenant"]["policy"]["retention_days"], 1825);
    ok(stopgate(
        &["tenant", "set", &tenant, "--retention-days", "keep"],
        None,
    ));
    assert!(shown(&tenant)["tenant"]["policy"]["retention_days"].is_null());
}

// Multi-threaded: the receiver must answer while the test waits on the CLI process.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hooks_are_added_listed_redelivered_by_hand_and_removed() {
    use stopgate::consent::notifications::{NotificationType, verify_signature};
    use stopgate::store::hooks::{DeliveryRecord, DeliveryStatus};

    let env = env().await;
    let tenant = unique_tenant("cli-hooks");
    ok(stopgate(&["tenant", "create", &tenant], None));
    let (url, mut received) = stopgate::testing::receiver::raw_receiver().await;
    for (args, why) in [
        (
            vec!["http://crm.acme.example/hook"],
            "plain http off loopback",
        ),
        (
            vec![url.as_str(), "--events", "opt_out,stop"],
            "an unknown type",
        ),
    ] {
        let mut command = vec!["hook", "add", tenant.as_str()];
        command.extend(args);
        assert_eq!(stopgate(&command, None).status.code(), Some(2), "{why}");
    }
    let added: Value = serde_json::from_str(&ok(stopgate(
        &["hook", "add", &tenant, &url, "--events", "opt_in,opt_out"],
        None,
    )))
    .unwrap();
    let hook_id = added["hook_id"].as_str().unwrap().to_string();
    let secret = added["secret"].as_str().unwrap().to_string();
    assert_eq!(added["events"], serde_json::json!(["opt_out", "opt_in"]));
    let listed = ok(stopgate(&["hook", "list", &tenant], None));
    assert!(!listed.contains(&secret), "{listed}");
    let shown: Value = serde_json::from_str(listed.trim()).unwrap();
    assert_eq!(shown["hook_id"], hook_id.as_str());
    assert!(shown["secret"].as_str().unwrap().starts_with("sealed:"));

    // A failed attempt in the log, as the notify function leaves it.
    let body = r#"{"specversion":"1.0","id":"01J.opt_out","type":"com.stopgate.opt_out"}"#;
    let failed = DeliveryRecord {
        delivery_id: "01JFAILED".into(),
        tenant: tenant.clone(),
        hook_id: hook_id.clone(),
        notification_id: "01J.opt_out".into(),
        kind: NotificationType::OptOut,
        attempt: 8,
        status: DeliveryStatus::Failed,
        http_status: Some(503),
        error: Some("HTTP 503".into()),
        at: Utc::now() - Duration::hours(1),
        duration_ms: 12,
        body: body.into(),
    };
    env.store.log_delivery(&failed).await.unwrap();
    let redelivered: Value = serde_json::from_str(&ok(stopgate(
        &["hook", "redeliver", &tenant, &hook_id, "01JFAILED"],
        None,
    )))
    .unwrap();
    assert_eq!(redelivered["status"], "delivered", "{redelivered}");
    let request = received.recv().await.unwrap();
    let (head, sent) = request.split_once("\r\n\r\n").unwrap();
    assert_eq!(sent, body, "the same bytes again");
    let signature = head
        .lines()
        .find_map(|l| l.strip_prefix("stopgate-signature: "))
        .unwrap();
    assert_eq!(
        verify_signature(&secret, signature, sent.as_bytes(), Utc::now().timestamp()),
        Ok(())
    );
    let log: Vec<Value> = ok(stopgate(&["hook", "log", &tenant, &hook_id], None))
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0]["status"].as_str(), log[0]["attempt"].as_u64()),
        (Some("delivered"), Some(9))
    );
    assert_eq!(log[1]["delivery_id"], "01JFAILED");
    assert!(
        log.iter().all(|l| l.get("body").is_none()),
        "the log does not print bodies"
    );
    assert_eq!(
        stopgate(&["hook", "redeliver", &tenant, &hook_id, "01JNOPE"], None)
            .status
            .code(),
        Some(4)
    );

    ok(stopgate(&["hook", "remove", &tenant, &hook_id], None));
    assert!(ok(stopgate(&["hook", "list", &tenant], None)).is_empty());
    assert_eq!(
        stopgate(&["hook", "remove", &tenant, &hook_id], None)
            .status
            .code(),
        Some(4)
    );
    let audit = ok(stopgate(&["audit", &tenant, "--json"], None));
    assert!(!audit.contains(&secret));
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["action"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(actions[..2], ["hook_removed", "hook_added"]);
}

#[tokio::test]
async fn reconcile_skips_providers_without_credentials_and_names_what_is_missing() {
    let tenant = unique_tenant("reconcile");
    ok(stopgate(&["tenant", "create", &tenant], None));
    // Nothing set: every provider with a list is skipped, nothing is asked of any provider.
    let report: Value = serde_json::from_str(&ok(stopgate(&["reconcile", &tenant], None))).unwrap();
    let skipped: Vec<&str> = report["providers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["skipped"].is_string())
        .map(|p| p["provider"].as_str().unwrap())
        .collect();
    assert_eq!(skipped, ["telnyx", "ringcentral", "aws"], "{report}");

    // The list credentials are taken on stdin like every secret; half of them is an error
    // that names the missing one (exit 1), and no value is echoed.
    ok(stopgate(
        &["provider", "set", &tenant, "ringcentral"],
        Some("client_id=rc-app-id\n"),
    ));
    let partial = stopgate(&["reconcile", &tenant, "--provider", "ringcentral"], None);
    assert_eq!(partial.status.code(), Some(1));
    let report: Value = serde_json::from_str(&stdout(&partial)).unwrap();
    let error = report["providers"][0]["error"].as_str().unwrap();
    assert!(error.contains("client_secret is not set"), "{error}");
    let stderr = String::from_utf8_lossy(&partial.stderr);
    assert!(!stderr.contains("rc-app-id") && !error.contains("rc-app-id"));

    let wrong = stopgate(&["reconcile", &tenant, "--provider", "twilio"], None);
    assert_eq!(wrong.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("no opt-out list"));
    let missing = stopgate(&["reconcile", "no-such-tenant-reconcile"], None);
    assert_eq!(missing.status.code(), Some(4));
}
