//! Replays the sample events in events/ through the inbound handler, as API Gateway would.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stopgate::phone::E164;
use stopgate::testing::env;
use stopgate_inbound::Inbound;

const TENANT: &str = "events-demo";
const TOKEN: &str = "stopgate-example-auth-token";

use stopgate::testing::{body_text as text, sample_request as load};

#[tokio::test]
async fn the_sample_webhooks_are_verified_recorded_and_answered_with_twiml() {
    let mut env = env().await;
    env.config.public_base_url = "https://api.stopgate.example".into();
    env.tenant_with_twilio(TENANT, TOKEN).await;
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    let person = E164::parse_e164("+14155550142").unwrap();
    let before = env.store.events(TENANT, &person).await.unwrap().len();

    let forged = inbound.handle(load("twilio-forged")).await.unwrap();
    assert_eq!(forged.status(), 401);
    assert_eq!(
        env.store.events(TENANT, &person).await.unwrap().len(),
        before,
        "a forgery records nothing"
    );

    for name in ["twilio-plain", "twilio-stop", "twilio-start", "twilio-help"] {
        let response = inbound.handle(load(name)).await.unwrap();
        assert_eq!(response.status(), 200, "{name}: {}", text(response.body()));
        assert_eq!(response.headers()["content-type"], "text/xml");
        assert!(text(response.body()).contains("<Response"), "{name}");
    }
    let events = env.store.events(TENANT, &person).await.unwrap();
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["inbound", "opt_out", "opt_in", "help"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let stop = events
        .iter()
        .find(|e| e.kind.as_str() == "opt_out")
        .unwrap();
    assert_eq!(
        stop.origin.provider_verdict.as_deref(),
        Some("STOP"),
        "Twilio's own verdict is kept as evidence"
    );
    assert_eq!(
        stop.origin.provider_message_id.as_deref(),
        Some("SM0000000000000000000000000000stop")
    );

    // A replayed delivery (same MessageSid) records nothing new.
    let again = inbound.handle(load("twilio-stop")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(
        env.store.events(TENANT, &person).await.unwrap().len(),
        events.len()
    );
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused_with_json() {
    let env = env().await;
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    let mut request = load("twilio-stop");
    *request.uri_mut() = "https://api.stopgate.example/v1/webhooks/twilio"
        .parse()
        .unwrap();
    let request = lambda_http::RequestExt::with_raw_http_path(request, "/v1/webhooks/twilio");
    let response = inbound.handle(request).await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(text(response.body()).contains("\"code\":\"not_found\""));

    let mut put = load("twilio-stop");
    *put.method_mut() = http::Method::PUT;
    assert_eq!(inbound.handle(put).await.unwrap().status(), 405);
}
