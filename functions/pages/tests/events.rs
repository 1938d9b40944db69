//! Replays the sample page events in events/ through the pages handler, as Lambda hands them
//! over: the form in Spanish, and a post whose page token is no longer valid.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use stopgate::testing::{body_text, env, unique_tenant};
use stopgate_pages::Pages;

/// A sample event, for `tenant` instead of the events' own.
fn load(name: &str, tenant: &str) -> lambda_http::Request {
    let path = format!("{}/../../events/{name}.json", env!("CARGO_MANIFEST_DIR"));
    let json = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let json = json.replace("events-demo", tenant);
    lambda_http::request::from_str(&json).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[tokio::test]
async fn the_form_is_shown_and_a_stale_post_shows_it_again_with_the_input_kept() {
    let mut env = env().await;
    env.config.public_base_url = "https://api.stopgate.example".into();
    let tenant = unique_tenant("pages-events");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let form = env
        .form(&tenant, "join", "deals", &["+14155550100"], true)
        .await;
    let pages = Pages::new(&env.config, &env.sdk).unwrap();

    let response = pages.handle(load("pages-form", &tenant)).await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "text/html; charset=utf-8"
    );
    let cookie = response.headers()["set-cookie"].to_str().unwrap();
    assert!(
        cookie.contains("SameSite=Strict") && cookie.contains("Secure"),
        "{cookie}"
    );
    let html = body_text(response.body());
    assert!(html.contains("<html lang=\"es\">"), "{html}");
    assert!(html.contains("Hasta 6 mensajes al mes"), "{html}");
    assert!(html.contains(&format!("name=\"version\" value=\"{}\"", form.version)));

    let response = pages
        .handle(load("pages-form-post-stale", &tenant))
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let html = body_text(response.body());
    assert!(html.contains("role=\"alert\""), "{html}");
    assert!(
        html.contains("value=\"(415) 555-0177\""),
        "the input is kept: {html}"
    );
    assert!(html.contains("value=\"promotional\" checked"), "{html}");
    let phone = stopgate::phone::E164::parse_e164("+14155550177").unwrap();
    let (state, version) = env.store.load_state(&tenant, &phone).await.unwrap();
    assert_eq!((state.event_count, version), (0, 0), "nothing recorded");
}
