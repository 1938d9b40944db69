//! The consent function's routing, from the sample events in events/ (scripts/events_api.py):
//! every route answers with its status code and body, a known path with another method is 405,
//! an unknown path 404, a missing key 401 and a key without the scope 403.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::Body;
use serde_json::Value;
use stopgate::testing::{TestEnv, env, sample_event};
use stopgate_consent::Consent;

const KEY_PLACEHOLDER: &str = "sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create";

/// A sample event with the key, and any other placeholder, replaced.
fn event(name: &str, key: &str, replacements: &[(&str, &str)]) -> Value {
    let mut text = sample_event(name).replace(KEY_PLACEHOLDER, key);
    for (from, to) in replacements {
        text = text.replace(from, to);
    }
    serde_json::from_str(&text).unwrap()
}

fn with_method(mut event: Value, method: &str) -> Value {
    event["requestContext"]["http"]["method"] = Value::from(method);
    event
}

fn with_path(mut event: Value, path: &str) -> Value {
    event["rawPath"] = Value::from(path);
    event["requestContext"]["http"]["path"] = Value::from(path);
    event
}

fn with_query(mut event: Value, query: &[(&str, &str)]) -> Value {
    let raw: Vec<String> = query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    event["rawQueryString"] = Value::from(raw.join("&"));
    event["queryStringParameters"] = query
        .iter()
        .map(|(k, v)| (k.to_string(), Value::from(*v)))
        .collect::<serde_json::Map<_, _>>()
        .into();
    event
}

struct Routes {
    consent: Consent,
}

impl Routes {
    async fn new(env: &TestEnv) -> Routes {
        Routes {
            consent: Consent::new(&env.config, &env.sdk).unwrap(),
        }
    }

    /// Sends the event; returns the status and the JSON body.
    async fn send(&self, event: Value) -> (u16, Value) {
        let request = lambda_http::request::from_str(&event.to_string()).unwrap();
        let response = self.consent.handle(request).await.unwrap();
        assert_eq!(response.headers()["content-type"], "application/json");
        let body = match response.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            other => panic!("expected a JSON text body, got {other:?}"),
        };
        (response.status().as_u16(), body)
    }
}

#[tokio::test]
async fn every_consent_route_answers_from_its_sample_event() {
    let env = env().await;
    let tenant = env.new_tenant("consent-routes").await;
    let key = env
        .api_key(&tenant, &["check", "consents:write", "admin"])
        .await;
    env.form(&tenant, "join", "deals", &["+14155550100"], true)
        .await;
    let routes = Routes::new(&env).await;

    let (status, body) = routes.send(event("consents-opt-in", &key, &[])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "opt_in");
    assert_eq!(body["phone"], "+14155550177");
    assert_eq!(
        body["evidence"]["disclosure_sha256"]
            .as_str()
            .unwrap()
            .len(),
        64
    );

    let (status, body) = routes.send(event("numbers-lookup", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["opted_out"], false);
    assert_eq!(body["consents"][0]["category"], "promotional");
    assert_eq!(body["consents"][0]["level"], "express_written");

    let (status, body) = routes.send(event("consents-opt-out", &key, &[])).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["kind"], "opt_out");

    let (status, body) = routes.send(event("numbers-history", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    let kinds: Vec<&str> = body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["opt_out", "opt_in"], "newest first");

    let (status, body) = routes.send(event("opt-outs-list", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["phone"] == "+14155550177" && i["status"] == "opted_out"),
        "{body}"
    );

    let (status, body) = routes.send(event("reviews-list", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["items"], serde_json::json!([]));

    let unknown_review = "01KB0000000000000000000000";
    let (status, body) = routes
        .send(event(
            "reviews-resolve",
            &key,
            &[("REPLACE_WITH_A_REVIEW_ID", unknown_review)],
        ))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "unknown_review");

    let (status, body) = routes.send(event("imports-csv", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "done");
    assert_eq!(body["applied"], 2);
    let import_id = body["import_id"].as_str().unwrap().to_string();

    let (status, body) = routes
        .send(event(
            "imports-get",
            &key,
            &[("REPLACE_WITH_AN_IMPORT_ID", &import_id)],
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["import_id"], import_id.as_str());
    assert_eq!(body["applied"], 2);

    let (status, body) = routes.send(event("numbers-redact", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["redacted_records"], 1,
        "the opt-in's IP and user agent"
    );

    let (status, body) = routes
        .send(event("consents-invalid-phone", &key, &[]))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["field"], "phone");

    let (status, body) = routes.send(event("links-create", &key, &[])).await;
    assert_eq!(status, 201, "{body}");
    let url = body["url"].as_str().unwrap();
    assert!(url.contains(&format!("/p/{tenant}/prefs/")), "{url}");
    assert!(
        !url.contains("5550177"),
        "the number is not in the link: {url}"
    );
    assert_eq!(body["sent_by_sms"], true);
}

#[tokio::test]
async fn wrong_methods_unknown_paths_and_keys_are_refused_with_json_errors() {
    let env = env().await;
    let tenant = env.new_tenant("consent-routing").await;
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let checker = env.api_key(&tenant, &["check"]).await;
    let routes = Routes::new(&env).await;

    for (name, method) in [
        ("consents-opt-in", "GET"),
        ("numbers-lookup", "GET"),
        ("numbers-history", "PUT"),
        ("numbers-redact", "DELETE"),
        ("opt-outs-list", "POST"),
        ("reviews-list", "DELETE"),
        ("imports-csv", "GET"),
        ("imports-get", "POST"),
        ("reviews-resolve", "GET"),
        ("links-create", "GET"),
        ("exports-create", "DELETE"),
        ("exports-get", "POST"),
        ("audit-list", "POST"),
        ("hooks-list", "PUT"),
        ("hooks-remove", "GET"),
        ("hooks-deliveries", "POST"),
        ("hooks-redeliver", "GET"),
    ] {
        let (status, body) = routes
            .send(with_method(event(name, &writer, &[]), method))
            .await;
        assert_eq!(status, 405, "{method} {name}: {body}");
        assert_eq!(body["error"]["code"], "method_not_allowed");
    }

    let (status, body) = routes
        .send(with_path(
            event("numbers-lookup", &writer, &[]),
            "/v1/numbers/everything",
        ))
        .await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["error"]["code"], "not_found");

    let (status, body) = routes
        .send(event("numbers-lookup", "sg_live_not-a-key-of-anyone", &[]))
        .await;
    assert_eq!(status, 401, "{body}");

    let (status, body) = routes.send(event("consents-opt-in", &checker, &[])).await;
    assert_eq!(status, 403, "a check key cannot record consent: {body}");

    let (status, body) = routes.send(event("numbers-redact", &writer, &[])).await;
    assert_eq!(status, 403, "redaction needs admin: {body}");

    let (status, body) = routes.send(event("links-create", &checker, &[])).await;
    assert_eq!(status, 403, "a check key cannot hand out links: {body}");

    // A trailing slash routes like the path without it.
    let (status, body) = routes
        .send(with_path(
            event("numbers-lookup", &writer, &[]),
            "/v1/numbers/lookup/",
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["scopes"], serde_json::json!([]));
}

#[tokio::test]
async fn export_routes_answer_from_their_sample_events() {
    let env = env().await;
    let tenant = env.new_tenant("consent-export-routes").await;
    let key = env.api_key(&tenant, &["consents:write"]).await;
    let (bucket, queue) = env.fresh_exports().await;
    let routes = Routes {
        consent: Consent::new(&env.config, &env.sdk)
            .unwrap()
            .with_exports(bucket, queue.clone()),
    };

    let (status, body) = routes.send(event("exports-create", &key, &[])).await;
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["status"], "running");
    assert_eq!(body["kind"], "full");
    assert_eq!(body["formats"], serde_json::json!(["csv"]));
    let id = body["export_id"].as_str().unwrap().to_string();
    let asked = queue.receive(0, None).await.unwrap();
    assert_eq!(asked.len(), 1);
    let request: Value = serde_json::from_str(&asked[0].1).unwrap();
    assert_eq!(
        request,
        serde_json::json!({"tenant": tenant, "export_id": id})
    );

    let (status, body) = routes.send(event("exports-list", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["exports"][0]["export_id"], id.as_str());
    assert_eq!(body["next_cursor"], Value::Null);

    let (status, body) = routes
        .send(event(
            "exports-get",
            &key,
            &[("REPLACE_WITH_AN_EXPORT_ID", &id)],
        ))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "running");
    let (status, body) = routes.send(event("exports-get", &key, &[])).await;
    assert_eq!(status, 404, "{body}");

    let mut bad = event("exports-create", &key, &[]);
    bad["body"] = Value::from(r#"{"kind": "weekly"}"#);
    let (status, body) = routes.send(bad.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("kind")),
        "{body}"
    );
    bad["body"] = Value::from(r#"{"kind": "full", "format": "xlsx"}"#);
    let (status, body) = routes.send(bad.clone()).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("format")),
        "{body}"
    );
    bad["body"] = Value::from(r#"{"kind": "full", "since": "yesterday"}"#);
    let (status, body) = routes.send(bad).await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("since")),
        "{body}"
    );
}

/// A request that cannot be put on the exports queue is refused (503), and its job is failed
/// at once, saying why, rather than left running with nothing to run it.
#[tokio::test]
async fn an_export_whose_request_cannot_be_queued_fails_at_once() {
    let env = env().await;
    let tenant = env.new_tenant("consent-export-unqueued").await;
    let key = env.api_key(&tenant, &["consents:write"]).await;
    let (bucket, _) = env.fresh_exports().await;
    let routes = Routes {
        consent: Consent::new(&env.config, &env.sdk)
            .unwrap()
            .with_exports(bucket, env.unreachable_queue()),
    };

    let (status, body) = routes.send(event("exports-create", &key, &[])).await;
    assert_eq!(status, 503, "{body}");
    let (status, body) = routes.send(event("exports-list", &key, &[])).await;
    assert_eq!(status, 200, "{body}");
    let exports = body["exports"].as_array().unwrap();
    assert_eq!(exports.len(), 1, "{body}");
    assert_eq!(exports[0]["status"], "failed");
    assert!(
        exports[0]["failure"]
            .as_str()
            .unwrap()
            .contains("could not be put on the exports queue"),
        "{body}"
    );
}

#[tokio::test]
async fn the_audit_trail_pages_newest_first_for_admin_keys_only() {
    use stopgate::consent::Actor;
    let env = env().await;
    let tenant = env.new_tenant("consent-audit").await;
    let admin = env.api_key(&tenant, &["admin"]).await;
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let operator = env.store.acting_as(Actor::Operator { name: "ana".into() });
    for days in [3, 4, 5] {
        let mut policy = operator
            .load_tenant(&tenant)
            .await
            .unwrap()
            .unwrap()
            .tenant
            .policy;
        policy.review_business_days = days;
        operator.put_policy(&tenant, policy).await.unwrap();
    }
    let routes = Routes::new(&env).await;

    let (status, body) = routes.send(event("audit-list", &admin, &[])).await;
    assert_eq!(status, 200, "{body}");
    let items = body["items"].as_array().unwrap();
    // Three policy changes, the two keys, the tenant itself.
    let actions: Vec<&str> = items
        .iter()
        .map(|i| i["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "policy_changed",
            "policy_changed",
            "policy_changed",
            "api_key_created",
            "api_key_created",
            "tenant_created"
        ],
        "{body}"
    );
    assert_eq!(items[0]["actor"]["name"], "ana");
    let days = items[0]["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["field"] == "review_business_days")
        .unwrap();
    assert_eq!((&days["before"], &days["after"]), (&4.into(), &5.into()));
    assert!(body["next_cursor"].is_null(), "{body}");

    // Two at a time: the pages join up to the same list, each record once.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", "2")];
        if let Some(c) = &cursor {
            query.push(("cursor", c.as_str()));
        }
        let (status, body) = routes
            .send(with_query(event("audit-list", &admin, &[]), &query))
            .await;
        assert_eq!(status, 200, "{body}");
        let page = body["items"].as_array().unwrap();
        assert!(page.len() <= 2);
        seen.extend(page.iter().map(|i| i["audit_id"].clone()));
        match body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_string()),
            None => break,
        }
    }
    let all: Vec<Value> = items.iter().map(|i| i["audit_id"].clone()).collect();
    assert_eq!(seen, all);

    for query in [("limit", "500"), ("cursor", "not-a-cursor")] {
        let (status, body) = routes
            .send(with_query(event("audit-list", &admin, &[]), &[query]))
            .await;
        assert_eq!(status, 400, "{query:?}: {body}");
        assert_eq!(body["error"]["field"], query.0);
    }
    let (status, body) = routes.send(event("audit-list", &writer, &[])).await;
    assert_eq!(status, 403, "the audit trail needs admin: {body}");

    // Another tenant's admin sees only its own trail.
    let other = env.new_tenant("consent-audit-other").await;
    let other_admin = env.api_key(&other, &["admin"]).await;
    let (status, body) = routes.send(event("audit-list", &other_admin, &[])).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["tenant"] == other.as_str()),
        "{body}"
    );
}
