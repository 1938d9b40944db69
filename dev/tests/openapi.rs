//! Real responses, as the deployed handlers give them, validated against openapi.yaml
//! (scripts/validate_responses.py, in the repository's .venv that `make test` installs): every
//! route and status a client can see, and every reason the check gives.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stopgate::api::check::CheckService;
use stopgate::api::tenants::Tenants;
use stopgate::providers::Provider;
use stopgate::testing::webhooks::{self, BUSINESS, Endpoint, Proof, Sms};
use stopgate::testing::{TestEnv, api_request, bearer, body_text, env};
use stopgate_dev::Gateway;

const ROOT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/..");
const TOKEN: &str = "openapi-test-token";

struct Collector {
    env: TestEnv,
    gateway: Gateway,
    responses: Vec<Value>,
}

impl Collector {
    /// Sends a request through the gateway and keeps the answer under its route template.
    async fn call(
        &mut self,
        route: &str,
        method: &str,
        path: &str,
        key: &str,
        body: Option<Value>,
    ) -> Value {
        let response = self
            .gateway
            .route(api_request(method, path, key, body.as_ref()))
            .await;
        let status = response.status().as_u16();
        let body: Value = serde_json::from_str(&body_text(response.body())).unwrap();
        self.keep(route, method, status, body.clone());
        body
    }

    fn keep(&mut self, route: &str, method: &str, status: u16, body: Value) {
        self.responses
            .push(json!({"method": method, "path": route, "status": status, "body": body}));
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

#[test]
fn every_response_matches_openapi_yaml() {
    // One walk through every function and a schema check of each answer: deeper than a test
    // thread's 2 MiB stack allows in a debug build, so it gets a thread of its own.
    std::thread::Builder::new()
        .name("every_response".into())
        .stack_size(32 << 20)
        .spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(every_response())
        })
        .unwrap()
        .join()
        .unwrap();
}

async fn every_response() {
    let env = env().await;
    let keys = env.tenant_with_keys("openapi").await;
    env.tenant_with_provider(&keys.tenant, Provider::Twilio, &[("auth_token", TOKEN)])
        .await;
    // Before any request: the functions cache the tenant's configuration.
    let form = env
        .form(&keys.tenant, "join", "deals", &[BUSINESS], true)
        .await;
    let (bucket, queue) = env.fresh_exports().await;
    let gateway = Gateway::new(&env.config, &env.sdk)
        .unwrap()
        .with_exports(bucket.clone(), queue.clone());
    let worker =
        stopgate_export::ExportWorker::with(env.store.clone(), bucket, Some(queue.clone()));
    let mut c = Collector {
        env,
        gateway,
        responses: Vec::new(),
    };
    let (writer, checker, admin) = (keys.writer.clone(), keys.check.clone(), keys.admin.clone());
    let person = "+12125550601";
    let grant = json!({"phone": person, "action": "grant", "category": "promotional",
        "level": "express_written", "scope": "tenant", "source": "web_form", "location": {"state": "NY"},
        "evidence": {"disclosure_text": "Reply STOP to cancel.", "form_url": "https://acme.example/f"}});
    c.call("/v1/consents", "POST", "/v1/consents", &writer, Some(grant))
        .await;
    c.call(
        "/v1/consents",
        "POST",
        "/v1/consents",
        &writer,
        Some(json!({"phone": "12", "action": "opt_out", "scope": "tenant", "source": "api"})),
    )
    .await;
    c.call(
        "/v1/consents",
        "POST",
        "/v1/consents",
        &writer,
        Some(
            json!({"phone": person, "action": "opt_in", "scope": "tenant", "source": "verbal",
            "override_opt_out": true, "evidence": {"agent": "a"}}),
        ),
    )
    .await;
    c.call(
        "/v1/consents",
        "POST",
        "/v1/consents",
        &checker,
        Some(json!({"phone": person, "action": "opt_out", "scope": "tenant", "source": "api"})),
    )
    .await;
    c.call(
        "/v1/consents",
        "POST",
        "/v1/consents",
        "sg_live_nobody",
        Some(json!({})),
    )
    .await;

    // Every reason the check gives, and a batch.
    let check =
        |to: &str, category: &str| json!({"from": BUSINESS, "to": to, "category": category});
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(check(person, "informational")),
    )
    .await;
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(check("+12125550602", "conversational")),
    )
    .await;
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(json!({"from": BUSINESS, "to": person,
        "category": "promotional", "location": {"state": "ZZ"}})),
    )
    .await;
    c.call(
        "/v1/check/batch",
        "POST",
        "/v1/check/batch",
        &checker,
        Some(json!({"checks": [check(person, "promotional"), check("555", "promotional")]})),
    )
    .await;

    let endpoint = Endpoint::new(
        &c.env.config.public_base_url,
        Provider::Twilio,
        &keys.tenant,
    );
    let proof = Proof::Twilio {
        auth_token: TOKEN.into(),
    };
    for (id, text) in [
        ("SMoa0000000000000000000000000001", "HELP"),
        ("SMoa0000000000000000000000000002", "STOP"),
    ] {
        let mut webhook = webhooks::text(&endpoint, &proof, &Sms::new(person, id, text));
        webhooks::sign(&mut webhook, &proof, Utc::now());
        let service = stopgate::api::webhook::WebhookService::new(
            c.env.store.clone(),
            c.env.tenants(),
            None,
            std::time::Duration::from_secs(5),
        );
        assert_eq!(service.handle(webhook).await.status, 200);
    }
    let history = c
        .call(
            "/v1/numbers/history",
            "POST",
            "/v1/numbers/history",
            &writer,
            Some(json!({"phone": person})),
        )
        .await;
    let events = history["events"].as_array().unwrap().clone();
    let id_of = |kind: &str| events.iter().find(|e| e["kind"] == kind).unwrap()["event_id"].clone();
    let help = id_of("help");
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(check(person, "conversational")),
    )
    .await;
    let help_reply = |key: &str| {
        json!({"from": BUSINESS, "to": person, "category": "informational",
        "purpose": "help_reply", "reply_to": help, "message_key": key})
    };
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(help_reply("k1")),
    )
    .await;
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(help_reply("k2")),
    )
    .await;

    // Quiet hours and unknown places, at a fixed time through the same service.
    let checks = CheckService::new(
        c.env.store.clone(),
        Arc::new(Tenants::new(c.env.store.clone(), None)),
    )
    .with_clock(|| at("2026-12-09T04:00:00Z"));
    let (other, toll_free) = ("+12125550603", "+18335550604");
    for to in [other, toll_free] {
        c.call("/v1/consents", "POST", "/v1/consents", &writer, Some(json!({"phone": to, "action": "grant",
            "category": "promotional", "level": "express_written", "scope": "tenant", "source": "web_form",
            "evidence": {"disclosure_text": "Reply STOP to cancel.", "form_url": "https://acme.example/f"}}))).await;
    }
    for to in [other, toll_free] {
        let answer = checks
            .check(
                &bearer(&checker),
                check(to, "promotional").to_string().as_bytes(),
            )
            .await
            .unwrap();
        c.keep(
            "/v1/check",
            "POST",
            200,
            serde_json::to_value(answer).unwrap(),
        );
    }

    c.call(
        "/v1/numbers/lookup",
        "POST",
        "/v1/numbers/lookup",
        &writer,
        Some(json!({"phone": person})),
    )
    .await;
    c.call(
        "/v1/numbers/lookup",
        "POST",
        "/v1/numbers/lookup",
        &writer,
        Some(json!({"phone": "+12125550699"})),
    )
    .await;
    c.call(
        "/v1/opt-outs",
        "GET",
        "/v1/opt-outs?status=all",
        &writer,
        None,
    )
    .await;
    c.call(
        "/v1/opt-outs",
        "GET",
        "/v1/opt-outs?status=maybe",
        &writer,
        None,
    )
    .await;
    c.call("/v1/reviews", "GET", "/v1/reviews", &writer, None)
        .await;
    c.call(
        "/v1/reviews/{id}",
        "POST",
        "/v1/reviews/01KB0000000000000000000000",
        &writer,
        Some(json!({"resolution": "opt_out"})),
    )
    .await;
    c.call(
        "/v1/reviews/{id}",
        "POST",
        "/v1/reviews/01KB0000000000000000000000",
        &writer,
        Some(json!({"resolution": "maybe"})),
    )
    .await;
    c.call(
        "/v1/imports",
        "POST",
        "/v1/imports",
        &writer,
        Some(json!({"filename": "x.csv"})),
    )
    .await;
    c.call(
        "/v1/numbers/redact",
        "POST",
        "/v1/numbers/redact",
        &admin,
        Some(json!({"phone": person})),
    )
    .await;

    // A double opt-in (docs/rules.md rule 9): the form's pending consent in lookup, the request
    // to confirm, a preference link, and the confirmation in history.
    let signed_up = "+12125550605";
    let act = stopgate::consent::forms::WebAct {
        tenant: keys.tenant.clone(),
        phone: stopgate::phone::E164::parse_e164(signed_up).unwrap(),
        at: Utc::now(),
        ip: Some("198.51.100.9".into()),
        user_agent: Some("Mozilla/5.0".into()),
        page_url: Some("https://api.stopgate.example/p/openapi/join".into()),
    };
    let recording = stopgate::consent::forms::form_consent(
        &form,
        stopgate::consent::forms::Language::En,
        &[stopgate::consent::Category::Promotional],
        &act,
    );
    stopgate::flows::pages::commit(&c.env.store, &recording)
        .await
        .unwrap();
    let lookup = c
        .call(
            "/v1/numbers/lookup",
            "POST",
            "/v1/numbers/lookup",
            &writer,
            Some(json!({"phone": signed_up})),
        )
        .await;
    let pending = lookup["pending_consents"][0]["event_id"].clone();
    c.call(
        "/v1/check",
        "POST",
        "/v1/check",
        &checker,
        Some(
            json!({"from": BUSINESS, "to": signed_up, "category": "informational",
            "purpose": "double_opt_in_request", "reply_to": pending, "message_key": "doi-1"}),
        ),
    )
    .await;
    c.call(
        "/v1/links",
        "POST",
        "/v1/links",
        &writer,
        Some(json!({"phone": signed_up, "sent_by_sms": true})),
    )
    .await;
    c.call(
        "/v1/links",
        "POST",
        "/v1/links",
        &writer,
        Some(json!({"phone": signed_up, "form": "nowhere"})),
    )
    .await;
    let mut yes = webhooks::text(
        &endpoint,
        &proof,
        &Sms::new(signed_up, "SMoa0000000000000000000000000003", "YES"),
    );
    webhooks::sign(&mut yes, &proof, Utc::now());
    let service = stopgate::api::webhook::WebhookService::new(
        c.env.store.clone(),
        c.env.tenants(),
        None,
        std::time::Duration::from_secs(5),
    );
    assert_eq!(service.handle(yes).await.status, 200);
    let history = c
        .call(
            "/v1/numbers/history",
            "POST",
            "/v1/numbers/history",
            &writer,
            Some(json!({"phone": signed_up})),
        )
        .await;
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "consent_confirmed"
                && e["pending_event"]["kind"] == "pending_consent"),
        "{history}"
    );
    // Exports: asked for, listed, running, done (with download URLs), unknown, refused.
    let asked = c
        .call(
            "/v1/exports",
            "POST",
            "/v1/exports",
            &writer,
            Some(json!({"kind": "full"})),
        )
        .await;
    let export_id = asked["export_id"].as_str().unwrap().to_string();
    c.call(
        "/v1/exports",
        "POST",
        "/v1/exports",
        &writer,
        Some(json!({"kind": "weekly"})),
    )
    .await;
    c.call("/v1/exports", "GET", "/v1/exports", &writer, None)
        .await;
    c.call(
        "/v1/exports/{id}",
        "GET",
        &format!("/v1/exports/{export_id}"),
        &writer,
        None,
    )
    .await;
    for (_, body) in queue.receive(0, None).await.unwrap() {
        assert!(matches!(
            worker.process_message(&body, None).await,
            stopgate_export::Outcome::Done(_)
        ));
    }
    let done = c
        .call(
            "/v1/exports/{id}",
            "GET",
            &format!("/v1/exports/{export_id}"),
            &writer,
            None,
        )
        .await;
    assert_eq!(done["status"], "done", "{done}");
    assert!(done["files"][0]["url"].is_string(), "{done}");
    c.call(
        "/v1/exports/{id}",
        "GET",
        "/v1/exports/01KB0000000000000000000000",
        &writer,
        None,
    )
    .await;
    c.call("/v1/exports", "GET", "/v1/exports", &checker, None)
        .await;

    // Hooks and the audit trail (admin keys).
    let hook = "https://crm.acme.example/stopgate";
    let added = c
        .call(
            "/v1/hooks",
            "POST",
            "/v1/hooks",
            &admin,
            Some(json!({"url": hook, "events": ["opt_out"]})),
        )
        .await;
    let hook_id = added["hook_id"].as_str().unwrap().to_string();
    for refused in [
        json!({"url": "http://crm.acme.example/stopgate"}),
        json!({"url": hook, "events": ["stop"]}),
        json!({"url": hook, "secret": "mine"}),
    ] {
        c.call("/v1/hooks", "POST", "/v1/hooks", &admin, Some(refused))
            .await;
    }
    c.call("/v1/hooks", "GET", "/v1/hooks", &admin, None).await;
    c.call("/v1/hooks", "GET", "/v1/hooks", &writer, None).await;
    let deliveries = format!("/v1/hooks/{hook_id}/deliveries");
    c.call(
        "/v1/hooks/{hook_id}/deliveries",
        "GET",
        &deliveries,
        &admin,
        None,
    )
    .await;
    c.call(
        "/v1/hooks/{hook_id}/deliveries",
        "GET",
        &format!("{deliveries}?limit=0"),
        &admin,
        None,
    )
    .await;
    c.call(
        "/v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver",
        "POST",
        &format!("{deliveries}/01KB0000000000000000000000/redeliver"),
        &admin,
        None,
    )
    .await;
    let one = format!("/v1/hooks/{hook_id}");
    c.call("/v1/hooks/{hook_id}", "DELETE", &one, &admin, None)
        .await;
    c.call("/v1/hooks/{hook_id}", "DELETE", &one, &admin, None)
        .await;
    c.call("/v1/audit", "GET", "/v1/audit", &admin, None).await;

    let file = std::env::temp_dir().join(format!("stopgate-openapi-{}.json", ulid_like()));
    std::fs::write(&file, serde_json::to_vec_pretty(&c.responses).unwrap()).unwrap();
    let python = Path::new(ROOT).join(".venv/bin/python");
    assert!(
        python.exists(),
        "{} missing: run `make test` (it installs .venv)",
        python.display()
    );
    let output = std::process::Command::new(python)
        .arg(Path::new(ROOT).join("scripts/validate_responses.py"))
        .arg(Path::new(ROOT).join("openapi.yaml"))
        .arg(&file)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{report}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        report.contains(&format!("{} responses checked", c.responses.len())),
        "{report}"
    );
    let reasons: Vec<&str> = c
        .responses
        .iter()
        .filter_map(|r| r["body"]["reason"].as_str())
        .collect();
    for reason in [
        "consent",
        "no_consent",
        "opted_out",
        "help_reply",
        "double_opt_in_request",
        "exemption_used",
        "quiet_hours",
        "unknown_location",
    ] {
        assert!(
            reasons.contains(&reason),
            "{reason} not exercised: {reasons:?}"
        );
    }
    let _ = std::fs::remove_file(file);
}

fn ulid_like() -> String {
    format!(
        "{}-{}",
        std::process::id(),
        Utc::now().timestamp_nanos_opt().unwrap_or_default()
    )
}
