//! Replays the sample check events in events/ through the check handler.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use lambda_http::Body;
use stopgate::testing::{env, unique_tenant};
use stopgate_check::Check;

fn load(name: &str, key: &str) -> lambda_http::Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json = json.replace("sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create", key);
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn json(body: &Body) -> serde_json::Value {
    serde_json::from_slice(stopgate::api::http::body_bytes(body)).unwrap()
}

#[tokio::test]
async fn the_sample_checks_answer_with_decisions_and_field_errors() {
    let env = env().await;
    let tenant = unique_tenant("check-events");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let key = env.api_key(&tenant, &["check"]).await;
    let check = Check::new(&env.config, &env.sdk);

    let response = check
        .handle(load("check-conversational", &key))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let body = json(response.body());
    assert_eq!(body["allowed"], false);
    assert_eq!(body["reason"], "no_consent");
    assert_eq!(body["to"], "+14155550142");

    let response = check.handle(load("check-promotional", &key)).await.unwrap();
    assert_eq!(response.status(), 200, "{}", json(response.body()));

    let response = check
        .handle(load("check-invalid-phone", &key))
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(json(response.body())["error"]["field"], "to");
    assert_eq!(response.headers()["content-type"], "application/json");

    let response = check
        .handle(load("check-conversational", "sg_live_unknown"))
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
