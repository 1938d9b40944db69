//! The hosted pages in a real browser (docs/rules.md rule 9): headless Chromium, from Debian's
//! `chromium` and `chromium-driver` packages (`make test` installs them), driven through
//! WebDriver against the local gateway served on a port of its own. A person signs up on the
//! form, confirms by a signed inbound YES, and stops promotional texts on the preference page;
//! the gate's answers are checked after each step, and the stored evidence through the history
//! API. It saves the screenshots README shows: docs/screenshots/form.png (a phone's width) and
//! docs/screenshots/prefs.png.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "browser/webdriver.rs"]
mod webdriver;

use std::sync::Arc;

use chrono::Utc;
use serde_json::{Value, json};
use stopgate::consent::record::disclosure_sha256;
use stopgate::providers::Provider;
use stopgate::testing::webhooks::{self, BUSINESS, Endpoint, Proof, Sms};
use stopgate::testing::{TenantKeys, api_request, body_text, env};
use stopgate_dev::Gateway;
use webdriver::{Driver, Session};

const TWILIO_TOKEN: &str = "browser-test-auth-token";
const PERSON: &str = "+14155550501";
/// A phone's viewport (CSS pixels).
const PHONE_WIDTH: u32 = 390;
const SCREENSHOTS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs/screenshots");

struct Stack {
    keys: TenantKeys,
    gateway: Arc<Gateway>,
    base: String,
}

impl Stack {
    /// A tenant with a Twilio number in the sender group `deals` and the form `join`, and the
    /// gateway serving every function at `base`.
    async fn start() -> Stack {
        let mut env = env().await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        // The pages and the webhook signatures are this address's, as PUBLIC_BASE_URL is.
        env.config.public_base_url = base.clone();
        let keys = env.tenant_with_keys("browser").await;
        env.tenant_with_provider(
            &keys.tenant,
            Provider::Twilio,
            &[("auth_token", TWILIO_TOKEN)],
        )
        .await;
        env.form(&keys.tenant, "join", "deals", &[BUSINESS], true)
            .await;
        let gateway = Arc::new(Gateway::new(&env.config, &env.sdk).unwrap());
        tokio::spawn(stopgate_dev::serve(listener, gateway.clone()));
        Stack {
            keys,
            gateway,
            base,
        }
    }

    async fn call(&self, method: &str, path: &str, key: &str, body: Value) -> (u16, Value) {
        let response = self
            .gateway
            .route(api_request(method, path, key, Some(&body)))
            .await;
        let status = response.status().as_u16();
        (
            status,
            serde_json::from_str(&body_text(response.body())).unwrap(),
        )
    }

    /// The gate's answer for `category` from the form's sender, at a time quiet hours allow.
    async fn gate(&self, category: &str) -> Value {
        let (status, answer) = self
            .call(
                "POST",
                "/v1/check",
                &self.keys.check,
                json!({"from": BUSINESS, "to": PERSON, "category": category,
                    "send_at": stopgate::testing::daytime_send_at()}),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The person's YES, as Twilio signs and posts it.
    async fn text_yes(&self) {
        let endpoint = Endpoint::new(&self.base, Provider::Twilio, &self.keys.tenant);
        let proof = Proof::Twilio {
            auth_token: TWILIO_TOKEN.into(),
        };
        let sms = Sms::new(PERSON, "SMbrowser000000000000000000000001", "YES");
        let mut webhook = webhooks::text(&endpoint, &proof, &sms);
        webhooks::sign(&mut webhook, &proof, Utc::now());
        let mut request = lambda_http::Request::new(lambda_http::Body::Text(
            String::from_utf8(webhook.body.clone()).unwrap(),
        ));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = webhook.url.parse().unwrap();
        *request.headers_mut() = webhook.headers.clone();
        let response = self.gateway.route(request).await;
        assert_eq!(response.status(), 200, "{}", body_text(response.body()));
    }
}

/// WCAG's contrast ratio of two `rgb(...)` colours as `getComputedStyle` writes them.
fn contrast(a: &str, b: &str) -> f64 {
    let luminance = |css: &str| {
        let channels: Vec<f64> = css
            .trim_start_matches("rgba(")
            .trim_start_matches("rgb(")
            .trim_end_matches(')')
            .split(',')
            .take(3)
            .map(|c| c.trim().parse::<f64>().unwrap() / 255.0)
            .map(|c| {
                if c <= 0.03928 {
                    c / 12.92
                } else {
                    ((c + 0.055) / 1.055).powf(2.4)
                }
            })
            .collect();
        0.2126 * channels[0] + 0.7152 * channels[1] + 0.0722 * channels[2]
    };
    let (x, y) = (luminance(a), luminance(b));
    (x.max(y) + 0.05) / (x.min(y) + 0.05)
}

/// Every visible control has a label, and text and buttons are readable (WCAG AA: 4.5:1).
async fn assert_accessible(browser: &Session<'_>) {
    let unlabelled = browser
        .script(
            "return [...document.querySelectorAll('input:not([type=hidden])')]\
             .filter(i => i.labels.length === 0).map(i => i.name)",
        )
        .await;
    assert_eq!(unlabelled, json!([]), "controls without a label");
    assert!(browser.count("html[lang]").await == 1);
    let pairs = browser
        .script(
            "const s = e => getComputedStyle(e);\
             const bg = e => { for (; e; e = e.parentElement) { const c = s(e).backgroundColor;\
               if (c !== 'rgba(0, 0, 0, 0)') return c; } return 'rgb(255, 255, 255)'; };\
             return [...document.querySelectorAll('h1, p, label, legend, button, th, td, a')]\
               .filter(e => e.textContent.trim()).map(e => [e.tagName, s(e).color, bg(e)])",
        )
        .await;
    for pair in pairs.as_array().unwrap() {
        let (tag, fg, bg) = (
            pair[0].as_str().unwrap(),
            pair[1].as_str().unwrap(),
            pair[2].as_str().unwrap(),
        );
        let ratio = contrast(fg, bg);
        assert!(ratio >= 4.5, "{tag}: {fg} on {bg} is {ratio:.2}:1");
    }
}

/// Saves a screenshot of the whole page, laid out `width` CSS pixels wide (as a phone, with
/// `mobile`), into docs/screenshots.
async fn screenshot(browser: &Session<'_>, width: u32, mobile: bool, name: &str) {
    let viewport = |height: u64| json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile});
    browser
        .devtools("Emulation.setDeviceMetricsOverride", viewport(800))
        .await;
    let height = browser
        .script("return document.documentElement.scrollHeight")
        .await
        .as_u64()
        .unwrap();
    browser
        .devtools("Emulation.setDeviceMetricsOverride", viewport(height))
        .await;
    let png = browser.screenshot().await;
    browser
        .devtools("Emulation.clearDeviceMetricsOverride", json!({}))
        .await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    std::fs::create_dir_all(SCREENSHOTS).unwrap();
    std::fs::write(format!("{SCREENSHOTS}/{name}"), png).unwrap();
}

#[tokio::test]
async fn a_person_signs_up_confirms_by_yes_and_stops_promotional_texts_in_a_real_browser() {
    let stack = Stack::start().await;
    let driver = Driver::start().await;
    let browser = driver.session().await;
    let form_url = format!("{}/p/{}/join", stack.base, stack.keys.tenant);
    browser.resize(PHONE_WIDTH, 844).await;

    // A mistyped number: the form comes back with the problem named and the input kept.
    browser.goto(&form_url).await;
    assert_accessible(&browser).await;
    browser.type_into("#phone", "555-01").await;
    browser.click("label[for=category-promotional]").await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#problem").await;
    assert!(
        browser
            .text("#problem")
            .await
            .contains("Enter a valid mobile number"),
        "{}",
        browser.text("main").await
    );
    let kept = browser
        .script("return [document.querySelector('#phone').value, document.querySelector('#category-promotional').checked]")
        .await;
    assert_eq!(kept, json!(["555-01", true]));
    assert_eq!(
        browser
            .script("return document.querySelector('#phone').getAttribute('aria-invalid')")
            .await,
        json!("true")
    );

    // The form, filled in on a phone: screenshot, then submit.
    // By keyboard: the number, Tab to the first box, Space to check it.
    browser.goto(&form_url).await;
    browser.type_into("#phone", "(415) 555-0501").await;
    browser.keys("\u{E004}").await;
    browser.keys(" ").await;
    browser.click("label[for=category-promotional]").await;
    assert_eq!(
        browser
            .script(
                "return [...document.querySelectorAll('input[name=category]')].map(i => i.checked)"
            )
            .await,
        json!([true, true]),
        "Tab reaches the first box and Space checks it"
    );
    let shown = browser.text("#disclosure").await;
    let user_agent = browser.script("return navigator.userAgent").await;
    screenshot(&browser, PHONE_WIDTH, true, "form.png").await;
    browser.click("button[type=submit]").await;
    browser.wait_for("#submitted").await;
    assert!(
        browser.text("#submitted").await.contains("Reply YES"),
        "{}",
        browser.text("main").await
    );

    // Pending: the gate allows nothing yet.
    for category in ["informational", "promotional"] {
        let answer = stack.gate(category).await;
        assert_eq!(answer["reason"], "no_consent", "{category}: {answer}");
    }

    // The person's YES to the form's sender group confirms it.
    stack.text_yes().await;
    let promotional = stack.gate("promotional").await;
    assert_eq!(
        (
            promotional["allowed"].as_bool(),
            promotional["reason"].as_str()
        ),
        (Some(true), Some("consent")),
        "{promotional}"
    );
    assert_eq!(stack.gate("informational").await["reason"], "consent");

    // The stored evidence, through the history API.
    let (status, history) = stack
        .call(
            "POST",
            "/v1/numbers/history",
            &stack.keys.writer,
            json!({"phone": PERSON}),
        )
        .await;
    assert_eq!(status, 200, "{history}");
    let confirmed = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "consent_confirmed")
        .expect("a confirmation");
    assert_eq!(confirmed["event_id"], promotional["evidence"]["event_id"]);
    let evidence = &confirmed["evidence"];
    assert_eq!(evidence["disclosure_text"], shown.as_str(), "word for word");
    assert_eq!(evidence["disclosure_sha256"], disclosure_sha256(&shown));
    assert_eq!(evidence["number_verified"], true);
    assert_eq!(
        evidence["confirming_message_id"],
        "SMbrowser000000000000000000000001"
    );
    assert_eq!(evidence["form"]["form_id"], "join");
    assert_eq!(evidence["form"]["version"], 1);
    assert_eq!(evidence["form"]["language"], "en");
    assert_eq!(confirmed["level"], Value::Null);
    assert_eq!(
        confirmed["confirms"]["level"], "express_written",
        "{confirmed}"
    );
    let pending = &confirmed["pending_event"];
    assert_eq!(pending["kind"], "pending_consent", "{confirmed}");
    assert_eq!(pending["evidence"]["ip"], "127.0.0.1");
    assert_eq!(pending["evidence"]["user_agent"], user_agent);
    assert_eq!(pending["evidence"]["form_url"], form_url.as_str());
    assert!(pending["received_at"].as_str().is_some());
    assert_eq!(
        pending["pending"]["categories"],
        json!(["informational", "promotional"])
    );

    // The preference page, from a link texted to the number: stop promotional texts only.
    let (status, link) = stack
        .call(
            "POST",
            "/v1/links",
            &stack.keys.writer,
            json!({"phone": PERSON, "sent_by_sms": true}),
        )
        .await;
    assert_eq!(status, 201, "{link}");
    browser.resize(PHONE_WIDTH, 844).await;
    browser.goto(link["url"].as_str().unwrap()).await;
    browser.wait_for("#status-promotional").await;
    assert_accessible(&browser).await;
    assert_eq!(browser.text("#status-promotional").await, "On");
    assert_eq!(browser.text("#status-informational").await, "On");
    browser.click("button[value='stop:promotional']").await;
    browser.wait_for("#notice").await;
    assert!(
        browser
            .text("#notice")
            .await
            .contains("You will not receive those texts"),
        "{}",
        browser.text("main").await
    );
    assert_eq!(browser.text("#status-promotional").await, "Off");
    assert_eq!(browser.text("#status-informational").await, "On");
    assert!(!browser.url().await.contains("4155550501"));
    screenshot(&browser, 720, false, "prefs.png").await;

    assert_eq!(stack.gate("promotional").await["reason"], "no_consent");
    assert_eq!(stack.gate("informational").await["reason"], "consent");
    let (_, history) = stack
        .call(
            "POST",
            "/v1/numbers/history",
            &stack.keys.writer,
            json!({"phone": PERSON}),
        )
        .await;
    let stop = &history["events"][0];
    assert_eq!(
        (
            stop["kind"].as_str(),
            stop["source"].as_str(),
            stop["category"].as_str()
        ),
        (Some("revoke"), Some("web_preferences"), Some("promotional")),
        "{stop}"
    );
    assert_eq!(stop["evidence"]["number_verified"], true);
    assert_eq!(stop["evidence"]["link_id"], link["link_id"]);

    browser.quit().await;
}
