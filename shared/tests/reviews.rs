//! The possible-revocation review queue against DynamoDB Local: opened by an inbound message,
//! listed oldest first (masked unless admin), resolved either way, and turned into an opt-out
//! when left past its due date.
#![cfg(feature = "testing")]
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use stopgate::api::ApiError;
use stopgate::api::consents::ConsentService;
use stopgate::api::tenants::Tenants;
use stopgate::api::webhook::{IncomingWebhook, WebhookService};
use stopgate::consent::TenantPolicy;
use stopgate::providers::twilio;
use stopgate::testing::{TestEnv, bearer, env, unique_tenant};

const TOKEN: &str = "review-test-token";

struct Fixture {
    env: TestEnv,
    tenant: String,
    writer: String,
    admin: String,
    checker: String,
    webhooks: WebhookService,
    consents: ConsentService,
}

async fn fixture(prefix: &str, policy: TenantPolicy) -> Fixture {
    let env = env().await;
    let tenant = unique_tenant(prefix);
    env.tenant_with_twilio(&tenant, TOKEN).await;
    env.store.put_policy(&tenant, policy).await.unwrap();
    let writer = env.api_key(&tenant, &["consents:write"]).await;
    let admin = env.api_key(&tenant, &["admin"]).await;
    let checker = env.api_key(&tenant, &["check"]).await;
    let webhooks = WebhookService::new(
        env.store.clone(),
        env.tenants(),
        None,
        StdDuration::from_secs(5),
    );
    let consents = ConsentService::new(
        env.store.clone(),
        Arc::new(Tenants::new(env.store.clone(), None)),
        [5; 32],
    );
    Fixture {
        env,
        tenant,
        writer,
        admin,
        checker,
        webhooks,
        consents,
    }
}

impl Fixture {
    async fn text(&self, from: &str, text: &str, sid: &str, at: DateTime<Utc>) {
        let url = IncomingWebhook::url_for(
            &self.env.config.public_base_url,
            &format!("/v1/webhooks/twilio/{}", self.tenant),
            "",
        );
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("MessageSid", sid)
            .append_pair("From", from)
            .append_pair("To", "+14155550100")
            .append_pair("Body", text)
            .finish();
        let mut headers = http::HeaderMap::new();
        headers.insert(
            "content-type",
            http::HeaderValue::from_static("application/x-www-form-urlencoded"),
        );
        headers.insert(
            "x-twilio-signature",
            http::HeaderValue::from_str(&twilio::sign(TOKEN, &url, body.as_bytes())).unwrap(),
        );
        let req = IncomingWebhook {
            provider: "twilio".into(),
            tenant: self.tenant.clone(),
            method: "POST".into(),
            url,
            headers,
            body: body.into_bytes(),
            received_at: at,
        };
        assert_eq!(self.webhooks.handle(req).await.status, 200);
    }

    async fn check(&self, to: &str, category: &str) -> Value {
        self.env
            .check(&self.tenant, "+14155550100", to, category)
            .await
    }

    async fn list(&self, key: &str, status: &str) -> Vec<Value> {
        let q = BTreeMap::from([("status".to_string(), status.to_string())]);
        self.consents.reviews(&bearer(key), &q).await.unwrap()["items"]
            .as_array()
            .unwrap()
            .clone()
    }

    async fn resolve(&self, id: &str, resolution: &str) -> Result<Value, ApiError> {
        let body =
            json!({"resolution": resolution, "note": "read by the support team"}).to_string();
        self.consents
            .resolve(&bearer(&self.writer), id, body.as_bytes())
            .await
    }
}

#[tokio::test]
async fn a_possible_revocation_opens_a_review_that_blocks_marketing_until_resolved() {
    let f = fixture("review", TenantPolicy::default()).await;
    let now = Utc::now();
    f.text(
        "+14155550181",
        "leave me alone",
        "SMrev1",
        now - Duration::minutes(5),
    )
    .await;
    f.text("+14155550182", "not interested", "SMrev2", now)
        .await;

    let open = f.list(&f.writer, "open").await;
    assert_eq!(open.len(), 2);
    assert_eq!(
        open[0]["phone"], "+1***81",
        "oldest first, masked without admin"
    );
    assert_eq!(open[0]["text"], "l*** m*** a***");
    assert_eq!(open[0]["overdue"], false);
    let admin_view = f.list(&f.admin, "open").await;
    assert_eq!(
        (
            admin_view[0]["phone"].as_str(),
            admin_view[0]["text"].as_str()
        ),
        (Some("+14155550181"), Some("leave me alone"))
    );

    let pending = f.check("+14155550181", "promotional").await;
    assert_eq!(pending["reason"], "pending_review");
    // A message that may revoke consent is no basis for conversational replies either.
    assert_eq!(
        f.check("+14155550181", "conversational").await["reason"],
        "no_consent",
        "only marketing waits on the review"
    );

    let first = open[0]["review_id"].as_str().unwrap().to_string();
    let second = open[1]["review_id"].as_str().unwrap().to_string();
    let resolved = f.resolve(&first, "not_a_revocation").await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"]["type"], "api_key");
    assert_eq!(
        f.check("+14155550181", "promotional").await["reason"],
        "no_consent"
    );

    f.resolve(&second, "opt_out").await.unwrap();
    let denied = f.check("+14155550182", "conversational").await;
    assert_eq!(denied["reason"], "opted_out");
    assert_eq!(denied["scope"], "tenant");

    assert!(f.list(&f.writer, "open").await.is_empty());
    assert_eq!(f.list(&f.writer, "resolved").await.len(), 2);
    assert!(
        matches!(
            f.resolve(&first, "opt_out").await,
            Err(ApiError::Conflict { .. })
        ),
        "resolved once"
    );
    assert!(matches!(
        f.resolve("01NOSUCHREVIEW", "opt_out").await,
        Err(ApiError::NotFound { .. })
    ));
    assert!(matches!(
        f.resolve(&second, "maybe").await,
        Err(ApiError::Invalid { .. })
    ));
    let check_key = f
        .consents
        .reviews(&bearer(&f.checker), &BTreeMap::new())
        .await
        .unwrap_err();
    assert_eq!(check_key.status(), 403);
}

#[tokio::test]
async fn an_unresolved_review_becomes_an_opt_out_at_its_due_date() {
    let f = fixture("expiry", TenantPolicy::default()).await;
    // Received three weeks ago: ten business days have passed. (A dismissal; "I don't want
    // these messages" was one too, until the classifier read it as the revocation it is.)
    f.text(
        "+14155550183",
        "no me interesa",
        "SMexp1",
        Utc::now() - Duration::days(21),
    )
    .await;
    let open = f.list(&f.writer, "open").await;
    assert_eq!(open[0]["overdue"], true);
    let denied = f.check("+14155550183", "conversational").await;
    assert_eq!(denied["reason"], "opted_out");
    assert_eq!(denied["evidence"]["event_id"], open[0]["event_id"]);

    // A START the person sends later lifts it like any opt-out.
    f.text("+14155550183", "START", "SMexp2", Utc::now()).await;
    assert_eq!(
        f.check("+14155550183", "conversational").await["allowed"],
        true
    );
}

#[tokio::test]
async fn a_tenant_may_shorten_the_review_period() {
    let policy = TenantPolicy {
        review_business_days: 1,
        ..TenantPolicy::default()
    };
    let f = fixture("short", policy).await;
    f.text(
        "+14155550184",
        "leave me alone",
        "SMshort",
        Utc::now() - Duration::days(5),
    )
    .await;
    assert_eq!(
        f.check("+14155550184", "informational").await["reason"],
        "opted_out"
    );
}
