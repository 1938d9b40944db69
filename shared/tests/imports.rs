//! Imports against DynamoDB Local: inline `POST /v1/imports` with line errors and warnings,
//! idempotent re-imports, the rule that an import never lifts an opt-out, and the source
//! file's hash on every event.
#![cfg(feature = "testing")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use stopgate::api::ApiError;
use stopgate::api::consents::ConsentService;
use stopgate::api::imports::ImportService;
use stopgate::api::tenants::Tenants;
use stopgate::consent::{Actor, EventKind, Scope, Source, TenantPolicy, TimeSource};
use stopgate::phone::E164;
use stopgate::store::Commit;
use stopgate::testing::{TestEnv, bearer, env, events, unique_tenant};

const DISCLOSURE: &str = "By checking this box you agree to receive recurring marketing texts from Acme. Consent is not a condition of purchase. Reply STOP to cancel.";
const HEADER: &str = "phone_number,status,scope,changed_at,source,category,level,disclosure_text";

struct Fixture {
    env: TestEnv,
    tenant: String,
    writer: String,
    imports: ImportService,
    consents: ConsentService,
}

async fn fixture(prefix: &str) -> Fixture {
    let env = env().await;
    let tenant = env.new_tenant(prefix).await;
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let tenants = Arc::new(Tenants::new(env.store.clone(), None));
    let imports = ImportService::new(env.store.clone(), tenants.clone(), None);
    let consents = ConsentService::new(env.store.clone(), tenants, [7; 32]);
    Fixture {
        env,
        tenant,
        writer,
        imports,
        consents,
    }
}

impl Fixture {
    async fn import(&self, csv: &str) -> Result<(u16, Value), ApiError> {
        let mut headers = bearer(&self.writer);
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("text/csv; charset=utf-8"),
        );
        self.imports.create(&headers, csv.as_bytes()).await
    }

    async fn imported(&self, csv: &str) -> Value {
        let (status, body) = self.import(csv).await.unwrap();
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "done", "{body}");
        body
    }

    async fn check(&self, phone: &str, category: &str) -> Value {
        self.env
            .check(&self.tenant, "+14155550100", phone, category)
            .await
    }

    async fn history(&self, phone: &str) -> Vec<Value> {
        let body = json!({"phone": phone}).to_string();
        let history = self
            .consents
            .history(&bearer(&self.writer), body.as_bytes())
            .await
            .unwrap();
        history["events"].as_array().unwrap().clone()
    }

    /// An opt-out as a provider reported it: its own time, received back then.
    async fn opt_out(&self, phone: &str, at: chrono::DateTime<Utc>) {
        let event = events::event(EventKind::OptOut)
            .tenant(&self.tenant)
            .phone(&E164::from_stored(phone).unwrap())
            .at(at)
            .api(Scope::Tenant, Source::Api)
            .time_source(TimeSource::Client)
            .actor(Actor::System {
                reason: "test".into(),
            })
            .build();
        self.env
            .store
            .commit(&Commit {
                event: &event,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .unwrap();
    }
}

fn issues(body: &Value, kind: &str) -> Vec<(u64, String)> {
    body[kind]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_inline_import_applies_good_lines_and_reports_bad_ones_by_line_and_field() {
    let f = fixture("import-inline").await;
    let csv = format!(
        "{HEADER}\n\
         +14155550201,opted_out,tenant,2026-01-10T10:00:00Z,,,,\n\
         (415) 555-0202,opted_in,tenant,2026-01-10T10:00:00Z,web_form,promotional,express_written,\"{DISCLOSURE}\"\n\
         +14155550203,opted_in,tenant,2026-01-10T10:00:00Z,web_form,promotional,express_written,\n\
         12,opted_out,tenant,2026-01-10T10:00:00Z,,,,\n\
         +14155550204,maybe,tenant,2026-01-10T10:00:00Z,,,,\n\
         +14155550205,opted_out,tenant,2026-01-10T10:00:00,,,,\n"
    );
    let body = f.imported(&csv).await;
    assert_eq!(body["lines"], 6);
    assert_eq!(body["applied"], 3);
    assert_eq!(body["skipped_duplicates"], 0);
    assert_eq!(body["error_count"], 3);
    assert_eq!(
        issues(&body, "errors"),
        vec![
            (5, "phone_number".to_string()),
            (6, "status".to_string()),
            (7, "changed_at".to_string())
        ]
    );
    assert!(
        body["errors"][2]["reason"]
            .as_str()
            .unwrap()
            .contains("no time zone")
    );
    assert_eq!(issues(&body, "warnings"), vec![(4, "level".to_string())]);

    assert_eq!(
        f.check("+14155550201", "promotional").await["reason"],
        "opted_out"
    );
    let allowed = f.check("+14155550202", "promotional").await;
    assert_eq!(
        (allowed["allowed"].as_bool(), allowed["reason"].as_str()),
        (Some(true), Some("consent"))
    );
    // Downgraded to express: informational yes, promotional no.
    assert_eq!(
        f.check("+14155550203", "promotional").await["reason"],
        "no_consent"
    );
    assert_eq!(
        f.check("+14155550203", "informational").await["allowed"],
        true
    );

    // The job is kept and readable by its id.
    let id = body["import_id"].as_str().unwrap();
    let job = f.imports.get(&bearer(&f.writer), id).await.unwrap();
    assert_eq!(
        (job["status"].as_str(), job["via"].as_str()),
        (Some("done"), Some("inline"))
    );
    assert_eq!(job["applied"], 3);
    let other_tenant = unique_tenant("import-other");
    f.env
        .store
        .create_tenant(&other_tenant, TenantPolicy::default())
        .await
        .unwrap();
    let other = f.env.api_key(&other_tenant, &["consents:write"]).await;
    assert!(matches!(
        f.imports.get(&bearer(&other), id).await,
        Err(ApiError::NotFound { .. })
    ));
}

#[tokio::test]
async fn re_importing_records_nothing_new_even_from_another_file() {
    let f = fixture("import-again").await;
    let csv = format!(
        "{HEADER}\n\
         +14155550211,opted_out,tenant,2026-01-10T10:00:00Z,,,,\n\
         +14155550212,opted_in,brand:acme,2026-01-11T10:00:00Z,verbal,informational,express,\n\
         +14155550213,opted_out,tenant,2026-01-12T10:00:00Z,,promotional,,\n\
         +14155550211,opted_out,tenant,2026-01-10T10:00:00Z,,,,\n\
         bad,opted_out,tenant,2026-01-10T10:00:00Z,,,,\n"
    );
    let first = f.imported(&csv).await;
    // The repeated line inside the file is recorded once.
    assert_eq!(
        (
            first["applied"].as_u64(),
            first["skipped_duplicates"].as_u64()
        ),
        (Some(3), Some(1))
    );
    let second = f.imported(&csv).await;
    assert_eq!(second["applied"], 0);
    assert_eq!(
        second["skipped_duplicates"], 4,
        "every valid line: {second}"
    );
    assert_eq!(second["error_count"], 1);
    assert_eq!(f.history("+14155550211").await.len(), 1);

    // The same fact in another file, another column order and another spelling of the number.
    let other = "status,phone_number,changed_at,scope,source\nopted_out,(415) 555-0211,2026-01-10T05:00:00-05:00,tenant,import\nopted_out,+14155550214,2026-01-10T10:00:00Z,tenant,\n";
    let third = f.imported(other).await;
    assert_eq!(
        (
            third["applied"].as_u64(),
            third["skipped_duplicates"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(f.history("+14155550211").await.len(), 1);
}

#[tokio::test]
async fn an_imported_opt_in_never_lifts_an_opt_out_older_or_newer() {
    let f = fixture("import-lift").await;
    let now = Utc::now();
    // Older opt-outs, received long before the import's times: under rule 1 an opt-in this
    // much later would lift them.
    f.opt_out("+14155550221", now - Duration::days(30)).await;
    f.opt_out("+14155550222", now - Duration::days(30)).await;
    // A newer opt-out than the import's line.
    f.opt_out("+14155550223", now - Duration::hours(1)).await;
    let later = (now - Duration::minutes(30)).to_rfc3339();
    let earlier = (now - Duration::days(2)).to_rfc3339();
    let csv = format!(
        "{HEADER}\n\
         +14155550221,opted_in,tenant,{later},web_form,promotional,express_written,\"{DISCLOSURE}\"\n\
         +14155550222,opted_in,tenant,{later},web_form,,,\n\
         +14155550223,opted_in,tenant,{earlier},web_form,informational,express,\n\
         +14155550224,opted_in,tenant,{later},web_form,,,\n"
    );
    let body = f.imported(&csv).await;
    assert_eq!(body["applied"], 3, "{body}");
    assert_eq!(body["skipped_opted_out"], 1);
    assert_eq!(
        issues(&body, "warnings"),
        vec![
            (2, "status".to_string()),
            (3, "status".to_string()),
            (4, "status".to_string())
        ]
    );
    assert!(
        body["warnings"][0]["reason"]
            .as_str()
            .unwrap()
            .contains("never lifts an opt-out")
    );

    for phone in ["+14155550221", "+14155550222", "+14155550223"] {
        let decision = f.check(phone, "promotional").await;
        assert_eq!(decision["reason"], "opted_out", "{phone}: {decision}");
        assert_eq!(
            f.check(phone, "conversational").await["reason"],
            "opted_out"
        );
    }
    // The consent level is on record as a grant; the opt-out stands.
    let history = f.history("+14155550221").await;
    assert_eq!(history[0]["kind"], "grant");
    assert_eq!(history[0]["level"], "express_written");
    assert_eq!(history[0]["override_opt_out"], false);
    assert_eq!(f.history("+14155550222").await.len(), 1, "nothing recorded");
    assert_eq!(f.history("+14155550223").await[0]["kind"], "grant");
    // Without an opt-out, an opt-in is an opt-in.
    assert_eq!(f.history("+14155550224").await[0]["kind"], "opt_in");
}

#[tokio::test]
async fn imported_events_keep_the_source_files_hash_and_the_lines_time() {
    let f = fixture("import-hash").await;
    let csv = "from,to,messaging_profile_id,keyword,created_at\n\
               +16505550100,+14155550231,4001767e-ce0f-4cae-9d5f-0d5e636e7809,STOP,2026-03-01T08:30:00Z\n";
    let body = f.imported(csv).await;
    let sha = hex::encode(Sha256::digest(csv.as_bytes()));
    assert_eq!(body["source_file_sha256"], sha.as_str());
    assert_eq!(body["layout"], "telnyx");
    let history = f.history("+14155550231").await;
    let event = &history[0];
    assert_eq!(event["kind"], "opt_out");
    assert_eq!(event["source"], "import");
    assert_eq!(event["time_source"], "client");
    assert_eq!(event["occurred_at"], "2026-03-01T08:30:00Z");
    assert_eq!(event["evidence"]["source_file_sha256"], sha.as_str());
    assert_eq!(event["origin"]["provider"], "telnyx");
    assert_eq!(event["origin"]["keyword"], "STOP");
    assert_eq!(event["actor"]["type"], "api_key");
}

#[tokio::test]
async fn an_import_refuses_a_file_it_cannot_read_and_other_media_types() {
    let f = fixture("import-refuse").await;
    match f.import("name,email\nA,a@example.com\n").await {
        Err(ApiError::Invalid { code, field, .. }) => {
            assert_eq!((code, field.as_deref()), ("invalid_csv", Some("header")))
        }
        other => panic!("expected 400, got {other:?}"),
    }
    let mut headers = bearer(&f.writer);
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/pdf"),
    );
    assert!(matches!(
        f.imports.create(&headers, b"%PDF").await,
        Err(ApiError::Invalid { .. })
    ));
    // Large files need an upload URL, and this service has no bucket.
    headers.insert(
        "content-type",
        http::HeaderValue::from_static("application/json"),
    );
    assert!(matches!(
        f.imports
            .create(&headers, br#"{"filename": "big.csv"}"#)
            .await,
        Err(ApiError::Unavailable(_))
    ));
    let checker = f.env.api_key(&f.tenant, &["check"]).await;
    assert!(matches!(
        f.imports.create(&bearer(&checker), b"").await,
        Err(ApiError::Forbidden(_))
    ));
}
