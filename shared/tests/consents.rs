//! Proof of consent against DynamoDB Local: recording with evidence, the lift rule, lookup,
//! history with pagination, the opt-out list, redaction and key scopes.
#![cfg(feature = "testing")]
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use stopgate::api::ApiError;
use stopgate::api::consents::ConsentService;
use stopgate::api::tenants::Tenants;
use stopgate::consent::{ConsentEvent, EventKind};
use stopgate::phone::E164;
use stopgate::store::Commit;
use stopgate::testing::events::event;
use stopgate::testing::{TestEnv, bearer, env};

const DISCLOSURE: &str = "By checking this box you agree to receive recurring marketing texts from Acme at the number provided. Consent is not a condition of purchase. Msg&data rates may apply. Reply STOP to cancel.";

struct Fixture {
    env: TestEnv,
    tenant: String,
    writer: String,
    admin: String,
    checker: String,
    consents: ConsentService,
}

async fn fixture(prefix: &str) -> Fixture {
    let env = env().await;
    let tenant = env.new_tenant(prefix).await;
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let admin = env.api_key(&tenant, &["admin"]).await;
    let checker = env.api_key(&tenant, &["check"]).await;
    let consents = ConsentService::new(
        env.store.clone(),
        Arc::new(Tenants::new(env.store.clone(), None)),
        [9; 32],
    );
    Fixture {
        env,
        tenant,
        writer,
        admin,
        checker,
        consents,
    }
}

fn web_form_opt_in(phone: &str) -> Value {
    json!({
        "phone": phone, "action": "opt_in", "category": "promotional", "level": "express_written", "scope": "tenant",
        "source": "web_form",
        "evidence": {"disclosure_text": DISCLOSURE, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0", "form_url": "https://acme.example/signup"}
    })
}

impl Fixture {
    async fn record(&self, body: Value) -> Result<Value, ApiError> {
        self.consents
            .record(&bearer(&self.writer), body.to_string().as_bytes())
            .await
    }

    async fn check(&self, phone: &str, category: &str) -> Value {
        self.env
            .check(&self.tenant, "+14155550100", phone, category)
            .await
    }

    async fn history(&self, phone: &str, cursor: Option<&str>) -> Value {
        let body = json!({"phone": phone, "cursor": cursor}).to_string();
        self.consents
            .history(&bearer(&self.writer), body.as_bytes())
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_web_form_opt_in_is_recorded_with_its_evidence_and_allows_promotional_sends() {
    let f = fixture("proof").await;
    let stored = f.record(web_form_opt_in("(415) 555-0161")).await.unwrap();
    assert_eq!(stored["kind"], "opt_in");
    assert_eq!(stored["phone"], "+14155550161");
    assert_eq!(stored["time_source"], "receipt");
    assert_eq!(stored["evidence"]["disclosure_text"], DISCLOSURE);
    let sha = stored["evidence"]["disclosure_sha256"].as_str().unwrap();
    assert_eq!(sha.len(), 64);
    assert!(
        sha.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );

    let allowed = f.check("+14155550161", "promotional").await;
    assert_eq!(
        (allowed["allowed"].as_bool(), allowed["reason"].as_str()),
        (Some(true), Some("consent"))
    );
    assert_eq!(allowed["evidence"]["level"], "express_written");

    // The same wording again is stored once; another wording gets its own hash.
    let again = f.record(web_form_opt_in("+14155550162")).await.unwrap();
    assert_eq!(again["evidence"]["disclosure_sha256"], sha);
    let mut other = web_form_opt_in("+14155550163");
    other["evidence"]["disclosure_text"] = json!(format!("{DISCLOSURE} Up to 4 msgs/month."));
    assert_ne!(
        f.record(other).await.unwrap()["evidence"]["disclosure_sha256"],
        sha
    );

    let history = f.history("+14155550161", None).await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["evidence"]["ip"], "203.0.113.9");
    assert_eq!(events[0]["evidence"]["disclosure_text"], DISCLOSURE);
    assert_eq!(events[0]["actor"]["type"], "api_key");
    assert_eq!(history["next_cursor"], Value::Null);
}

#[tokio::test]
async fn validation_explains_itself() {
    let f = fixture("validate").await;
    let field = |r: Result<Value, ApiError>| match r {
        Err(ApiError::Invalid { field, .. }) => field.unwrap_or_default(),
        other => panic!("expected 400, got {other:?}"),
    };
    let base = web_form_opt_in("+14155550164");
    let with = |k: &str, v: Value| {
        let mut j = base.clone();
        j[k] = v;
        j
    };
    assert_eq!(
        field(f.record(with("phone", json!("call me"))).await),
        "phone"
    );
    assert_eq!(field(f.record(json!({"phone": "+14155550164", "action": "grant", "category": "promotional", "scope": "tenant", "source": "api"})).await), "level");
    assert_eq!(
        field(
            f.record(with("evidence", json!({"ip": "203.0.113.9"})))
                .await
        ),
        "evidence.disclosure_text"
    );
    assert_eq!(
        field(
            f.record(with("occurred_at", json!("2999-01-01T00:00:00Z")))
                .await
        ),
        "occurred_at"
    );
    assert_eq!(
        field(f.record(with("scope", json!("galaxy"))).await),
        "scope"
    );
    assert_eq!(
        field(f.record(with("source", json!("telepathy"))).await),
        "source"
    );
    assert!(matches!(
        f.record(with("surprise", json!(1))).await,
        Err(ApiError::Invalid { .. })
    ));
}

#[tokio::test]
async fn lifting_an_opt_out_needs_an_override_with_evidence_and_is_flagged() {
    let f = fixture("lift").await;
    let phone = "+14155550165";
    let opt_out = json!({"phone": phone, "action": "opt_out", "scope": "tenant", "source": "phone_call",
        "occurred_at": "2026-01-10T10:00:00Z"});
    f.record(opt_out).await.unwrap();
    assert_eq!(f.check(phone, "promotional").await["reason"], "opted_out");

    let mut opt_in = web_form_opt_in(phone);
    match f.record(opt_in.clone()).await {
        Err(ApiError::Conflict { field, .. }) => {
            assert_eq!(field.as_deref(), Some("override_opt_out"))
        }
        other => panic!("expected 409, got {other:?}"),
    }
    assert_eq!(
        f.check(phone, "promotional").await["reason"],
        "opted_out",
        "the refused consent changed nothing"
    );

    // A consent dated before the opt-out lifts nothing, so it needs no override.
    let mut older = web_form_opt_in(phone);
    older["occurred_at"] = json!("2025-12-01T10:00:00Z");
    f.record(older).await.unwrap();
    assert_eq!(f.check(phone, "promotional").await["reason"], "opted_out");

    opt_in["override_opt_out"] = json!(true);
    let stored = f.record(opt_in).await.unwrap();
    assert_eq!(stored["override_opt_out"], true);
    assert_eq!(f.check(phone, "promotional").await["allowed"], true);
    let history = f.history(phone, None).await;
    assert_eq!(
        history["events"][0]["override_opt_out"], true,
        "newest first, flagged"
    );
    assert_eq!(history["events"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn keys_need_the_right_scope() {
    let f = fixture("scopes").await;
    let body = web_form_opt_in("+14155550166").to_string();
    let err = f
        .consents
        .record(&bearer(&f.checker), body.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(
        err.status(),
        403,
        "a send pipeline's check key cannot record consent"
    );
    let err = f
        .consents
        .record(&bearer(&f.admin), body.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403);
    assert_eq!(
        f.consents
            .record(&http::HeaderMap::new(), body.as_bytes())
            .await
            .unwrap_err()
            .status(),
        401
    );
    let lookup = json!({"phone": "+14155550166"}).to_string();
    assert_eq!(
        f.consents
            .lookup(&bearer(&f.checker), lookup.as_bytes())
            .await
            .unwrap_err()
            .status(),
        403
    );
    assert!(
        f.consents
            .lookup(&bearer(&f.admin), lookup.as_bytes())
            .await
            .is_ok()
    );
    let err = f
        .consents
        .redact(&bearer(&f.writer), lookup.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 403, "redaction needs admin");
}

#[tokio::test]
async fn lookup_shows_every_scope_and_category_and_unknown_numbers_are_empty() {
    let f = fixture("lookup").await;
    let phone = "+14155550167";
    f.record(web_form_opt_in(phone)).await.unwrap();
    f.record(
        json!({"phone": phone, "action": "opt_out", "scope": "program:deals", "source": "email"}),
    )
    .await
    .unwrap();
    f.record(json!({"phone": phone, "action": "revoke", "category": "informational", "scope": "tenant", "source": "api"})).await.unwrap();
    let body = json!({"phone": phone}).to_string();
    let state = f
        .consents
        .lookup(&bearer(&f.writer), body.as_bytes())
        .await
        .unwrap();
    assert_eq!(state["opted_out"], true);
    let scopes = state["scopes"].as_array().unwrap();
    assert!(
        scopes
            .iter()
            .any(|s| s["scope"] == "program:deals" && s["status"] == "opted_out")
    );
    assert!(
        scopes
            .iter()
            .any(|s| s["scope"] == "tenant" && s["status"] == "opted_in")
    );
    let consents = state["consents"].as_array().unwrap();
    assert!(
        consents
            .iter()
            .any(|c| c["category"] == "promotional" && c["level"] == "express_written")
    );
    assert!(
        consents
            .iter()
            .any(|c| c["category"] == "informational" && c["status"] == "revoked")
    );

    let unknown = json!({"phone": "+14155550199"}).to_string();
    let empty = f
        .consents
        .lookup(&bearer(&f.writer), unknown.as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (
            empty["opted_out"].as_bool(),
            empty["scopes"].as_array().map(Vec::len)
        ),
        (Some(false), Some(0))
    );
    let history = f.history("+14155550199", None).await;
    assert_eq!(history["events"], json!([]));
}

#[tokio::test]
async fn history_pages_newest_first_with_tenant_bound_cursors() {
    let f = fixture("pages").await;
    let phone = "+14155550168";
    for i in 0..57 {
        let action = if i % 2 == 0 { "opt_out" } else { "opt_in" };
        let mut body = json!({"phone": phone, "action": action, "scope": format!("group:g{i}"), "source": "api"});
        if action == "opt_in" {
            body["evidence"] = json!({"agent": "desk"});
        }
        f.record(body).await.unwrap();
    }
    let first = f.history(phone, None).await;
    let page1 = first["events"].as_array().unwrap();
    assert_eq!(page1.len(), 50);
    assert_eq!(page1[0]["scope"], "group:g56", "newest first");
    let cursor = first["next_cursor"].as_str().unwrap();
    assert!(
        !cursor.contains("4155550168") && !cursor.contains("EV#"),
        "opaque"
    );
    let second = f.history(phone, Some(cursor)).await;
    let page2 = second["events"].as_array().unwrap();
    assert_eq!(page2.len(), 7);
    assert_eq!(page2[6]["scope"], "group:g0");
    assert_eq!(second["next_cursor"], Value::Null);

    // A cursor is bound to its tenant and number.
    let other = json!({"phone": "+14155550169", "cursor": cursor}).to_string();
    let err = f
        .consents
        .history(&bearer(&f.writer), other.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
}

#[tokio::test]
async fn the_opt_out_list_is_deduplicated_filtered_and_paginated() {
    let f = fixture("list").await;
    // 130 numbers opt out; one of them opts back in later; one opts out twice.
    for i in 0..130 {
        let phone = format!("+1415555{:04}", 2000 + i);
        f.record(
            json!({"phone": phone, "action": "opt_out", "scope": "tenant", "source": "import",
            "occurred_at": "2026-02-01T10:00:00Z"}),
        )
        .await
        .unwrap();
    }
    f.record(
        json!({"phone": "+14155552000", "action": "opt_out", "scope": "tenant", "source": "import",
        "occurred_at": "2026-02-02T10:00:00Z"}),
    )
    .await
    .unwrap();
    // Dated in March, after the February opt-out and received after it: only written consent
    // documented as an override could lift it (rule 2), so without the override it is refused...
    let refused = f
        .record(
            json!({"phone": "+14155552002", "action": "opt_in", "scope": "tenant", "source": "paper",
            "occurred_at": "2026-03-01T10:00:00Z", "evidence": {"document_ref": "form 6"}}),
        )
        .await
        .unwrap_err();
    assert_eq!((refused.status(), refused.code()), (409, "opted_out"));
    // ...while one recorded now does, with the override.
    f.record(
        json!({"phone": "+14155552001", "action": "opt_in", "scope": "tenant", "source": "paper",
        "override_opt_out": true, "evidence": {"document_ref": "form 7"}}),
    )
    .await
    .unwrap();

    let list = |status: &'static str, cursor: Option<String>| {
        let consents = &f.consents;
        let key = f.writer.clone();
        async move {
            let mut q = BTreeMap::from([("status".to_string(), status.to_string())]);
            if let Some(c) = cursor {
                q.insert("cursor".into(), c);
            }
            consents.opt_outs(&bearer(&key), &q).await.unwrap()
        }
    };
    let mut phones = Vec::new();
    let mut cursor = None;
    let mut pages = 0;
    loop {
        let page = list("opted_out", cursor).await;
        pages += 1;
        for item in page["items"].as_array().unwrap() {
            assert_eq!(item["status"], "opted_out");
            assert_eq!(item["scope"], "tenant");
            phones.push(item["phone"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert!(pages >= 2, "130 entries take more than one page");
    phones.sort();
    let before = phones.len();
    phones.dedup();
    assert_eq!(before, phones.len(), "each number once");
    assert_eq!(phones.len(), 129);
    assert!(!phones.contains(&"+14155552001".to_string()));

    let opted_in = list("opted_in", None).await;
    let mut all_in = opted_in["items"].as_array().unwrap().clone();
    let mut c = opted_in["next_cursor"].as_str().map(str::to_string);
    while let Some(cur) = c {
        let p = list("opted_in", Some(cur)).await;
        all_in.extend(p["items"].as_array().unwrap().clone());
        c = p["next_cursor"].as_str().map(str::to_string);
    }
    assert_eq!(all_in.len(), 1);
    assert_eq!(all_in[0]["phone"], "+14155552001");

    let bad = BTreeMap::from([("status".to_string(), "maybe".to_string())]);
    assert!(matches!(
        f.consents.opt_outs(&bearer(&f.writer), &bad).await,
        Err(ApiError::Invalid { .. })
    ));
    let future = BTreeMap::from([("since".to_string(), "2999-01-01T00:00:00Z".to_string())]);
    assert_eq!(
        f.consents
            .opt_outs(&bearer(&f.writer), &future)
            .await
            .unwrap()["items"],
        json!([])
    );
}

impl Fixture {
    /// Every item of `GET /v1/opt-outs?status=<status>&since=<since>`, over every page.
    async fn listed(&self, status: &str, since: DateTime<Utc>) -> Vec<Value> {
        let mut query = BTreeMap::from([
            ("status".to_string(), status.to_string()),
            ("since".to_string(), since.to_rfc3339()),
        ]);
        let mut items = Vec::new();
        loop {
            let page = self
                .consents
                .opt_outs(&bearer(&self.writer), &query)
                .await
                .unwrap();
            items.extend(page["items"].as_array().unwrap().iter().cloned());
            match page["next_cursor"].as_str() {
                Some(c) => query.insert("cursor".into(), c.to_string()),
                None => return items,
            };
        }
    }

    async fn commit(&self, event: &ConsentEvent) {
        self.env
            .store
            .commit(&Commit {
                event,
                private: None,
                dedupe: None,
                disclosure: None,
            })
            .await
            .unwrap();
    }
}

/// A STOP held on the capture queue through an outage is committed after a START the person
/// sent a minute after it; the START, under 2 minutes later, cannot lift it (rule 1), so the
/// number is opted out again. Its latest change is the STOP's commit, inside the reader's
/// window, though the START happened later and was recorded before the window.
#[tokio::test]
async fn an_opt_out_recorded_after_a_later_occurring_start_is_listed_as_opted_out() {
    let f = fixture("late-stop").await;
    let person = E164::parse_e164("+14155550181").unwrap();
    let now = Utc::now();
    let start = event(EventKind::OptIn)
        .tenant(&f.tenant)
        .phone(&person)
        .at(now - Duration::minutes(29))
        .keyword("start")
        .build();
    f.commit(&start).await;
    let reader_since = now - Duration::minutes(10);
    assert_eq!(f.listed("all", reader_since).await, Vec::<Value>::new());

    let stop = event(EventKind::OptOut)
        .tenant(&f.tenant)
        .phone(&person)
        .at(now - Duration::minutes(30))
        .recorded_at(now)
        .keyword("stop")
        .build();
    f.commit(&stop).await;
    let listed = f.listed("opted_out", reader_since).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["phone"], person.as_str());
    assert_eq!(listed[0]["scope"], "tenant");
    assert_eq!(listed[0]["event_id"], stop.event_id.as_str());
    let changed_at: DateTime<Utc> = listed[0]["changed_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(changed_at, now, "when Stopgate recorded the STOP");
    assert_eq!(
        f.listed("opted_in", reader_since).await,
        Vec::<Value>::new()
    );
}

/// Written consent documented to override a STOP lifts it: the grant is a change of the
/// number's standing and the list shows the number opted in, once.
#[tokio::test]
async fn an_override_grant_that_lifts_a_stop_moves_the_number_to_the_opted_in_list() {
    let f = fixture("override-list").await;
    let person = E164::parse_e164("+14155550182").unwrap();
    let now = Utc::now();
    let stop = event(EventKind::OptOut)
        .tenant(&f.tenant)
        .phone(&person)
        .at(now - Duration::hours(2))
        .keyword("stop")
        .build();
    f.commit(&stop).await;
    let reader_since = now - Duration::minutes(10);
    let grant = f
        .record(json!({"phone": person.as_str(), "action": "grant", "category": "promotional",
            "level": "express_written", "scope": "tenant", "source": "web_form", "override_opt_out": true,
            "evidence": {"disclosure_text": DISCLOSURE, "form_url": "https://acme.example/f"}}))
        .await
        .unwrap();
    assert_eq!(
        f.check(person.as_str(), "promotional").await["reason"],
        "consent"
    );
    let all = f.listed("all", reader_since).await;
    assert_eq!(all.len(), 1, "one row for the scope tenant: {all:?}");
    assert_eq!(all[0]["status"], "opted_in");
    assert_eq!(all[0]["event_id"], grant["event_id"]);
    assert_eq!(
        f.listed("opted_out", reader_since).await,
        Vec::<Value>::new()
    );
    assert_eq!(
        f.listed("opted_out", now - Duration::hours(3)).await,
        Vec::<Value>::new(),
        "not opted out from any window either"
    );
}

#[tokio::test]
async fn redaction_erases_private_data_and_keeps_the_opt_out() {
    let f = fixture("redact").await;
    let phone = "+14155550170";
    f.record(web_form_opt_in(phone)).await.unwrap();
    f.record(
        json!({"phone": phone, "action": "opt_out", "scope": "tenant", "source": "email",
        "evidence": {"ip": "198.51.100.4", "user_agent": "Mail"}}),
    )
    .await
    .unwrap();
    let body = json!({"phone": phone}).to_string();
    let done = f
        .consents
        .redact(&bearer(&f.admin), body.as_bytes())
        .await
        .unwrap();
    assert_eq!(done["redacted_records"], 2);

    assert_eq!(
        f.check(phone, "conversational").await["reason"],
        "opted_out",
        "the opt-out remains"
    );
    let history = f.history(phone, None).await;
    let events = history["events"].as_array().unwrap();
    assert_eq!(events.len(), 3);
    assert_eq!(events[0]["kind"], "redacted");
    for e in &events[1..] {
        assert_eq!(e["evidence"]["ip"], Value::Null);
        assert_eq!(e["evidence"]["user_agent"], Value::Null);
        assert_eq!(e["evidence"]["redacted"], true);
    }
    assert_eq!(
        events[2]["evidence"]["disclosure_text"], DISCLOSURE,
        "the business's own disclosure is not personal data"
    );
}
