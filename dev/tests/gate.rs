//! The gate answers what docs/rules.md says, end to end: every request goes through the deployed
//! routes and handlers (the local gateway), against DynamoDB Local. Each test is one rule's
//! sequence of events and the check's answers.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde_json::{Value, json};
use stopgate::api::check::CheckService;
use stopgate::api::tenants::Tenants;
use stopgate::api::webhook::IncomingWebhook;
use stopgate::consent::{SenderGroup, StopScope, TenantPolicy};
use stopgate::phone::E164;
use stopgate::providers::{Provider, telnyx};
use stopgate::testing::webhooks::{self, BUSINESS, Endpoint, Proof, Sms};
use stopgate::testing::{TenantKeys, TestEnv, api_request, env};
use stopgate_dev::Gateway;

const TWILIO_TOKEN: &str = "gate-test-auth-token";
const TELNYX_SEED: [u8; 32] = *b"stopgate-gate-test-telnyx-seed-1";
const DISCLOSURE: &str =
    "Acme marketing texts, up to 4/month. Msg&data rates may apply. Reply STOP to cancel.";

struct Gate {
    env: TestEnv,
    gateway: Gateway,
    keys: TenantKeys,
}

impl Gate {
    async fn new(prefix: &str) -> Gate {
        let env = env().await;
        let keys = env.tenant_with_keys(prefix).await;
        env.tenant_with_provider(
            &keys.tenant,
            Provider::Twilio,
            &[("auth_token", TWILIO_TOKEN)],
        )
        .await;
        let public_key = telnyx::public_key_for(&TELNYX_SEED);
        env.tenant_with_provider(
            &keys.tenant,
            Provider::Telnyx,
            &[("public_key", &public_key)],
        )
        .await;
        let gateway = Gateway::new(&env.config, &env.sdk).unwrap();
        Gate { env, gateway, keys }
    }

    fn tenant(&self) -> &str {
        &self.keys.tenant
    }

    async fn policy(&self, change: impl FnOnce(&mut TenantPolicy)) {
        let mut policy = self
            .env
            .store
            .load_tenant(self.tenant())
            .await
            .unwrap()
            .unwrap()
            .tenant
            .policy;
        change(&mut policy);
        self.env
            .store
            .put_policy(self.tenant(), policy)
            .await
            .unwrap();
    }

    async fn group(&self, name: &str, senders: &[&str]) {
        self.env
            .store
            .put_sender_group(self.tenant(), &SenderGroup::new(name, senders))
            .await
            .unwrap();
    }

    /// A request through the gateway, as API Gateway hands it over; the status and JSON body.
    async fn call(&self, method: &str, path: &str, key: &str, body: Option<Value>) -> (u16, Value) {
        let response = self
            .gateway
            .route(api_request(method, path, key, body.as_ref()))
            .await;
        let status = response.status().as_u16();
        let text = stopgate::testing::body_text(response.body());
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// The check service as the check function builds it, with `tenants` and as of `clock`.
    fn checks(&self, tenants: Tenants, clock: fn() -> DateTime<Utc>) -> CheckService {
        CheckService::new(self.env.store.clone(), Arc::new(tenants)).with_clock(clock)
    }

    /// `POST /v1/consents` with a `consents:write` key.
    async fn record(&self, body: Value) -> (u16, Value) {
        self.call("POST", "/v1/consents", &self.keys.writer, Some(body))
            .await
    }

    async fn recorded(&self, body: Value) -> Value {
        let (status, answer) = self.record(body).await;
        assert_eq!(status, 201, "{answer}");
        answer
    }

    /// `POST /v1/check` with a `check` key: the answer, which must be a 200.
    async fn check(&self, body: Value) -> Value {
        let (status, answer) = self
            .call("POST", "/v1/check", &self.keys.check, Some(body))
            .await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// The reason of a check sent for an afternoon to come: quiet hours never decide it.
    async fn reason(&self, from: &str, to: &str, category: &str) -> String {
        let answer = self
            .check(json!({"from": from, "to": to, "category": category,
                "send_at": stopgate::testing::daytime_send_at()}))
            .await;
        answer["reason"].as_str().unwrap().to_string()
    }

    async fn lookup(&self, phone: &str) -> Value {
        let (status, body) = self
            .call(
                "POST",
                "/v1/numbers/lookup",
                &self.keys.writer,
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }

    async fn history(&self, phone: &str) -> Vec<Value> {
        let (status, body) = self
            .call(
                "POST",
                "/v1/numbers/history",
                &self.keys.writer,
                Some(json!({"phone": phone})),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["events"].as_array().unwrap().clone()
    }

    /// A text from the person, signed as `provider` signs it, through the webhook route.
    async fn text(&self, provider: Provider, sms: &Sms) -> u16 {
        self.deliver(provider, sms, |_| {}).await
    }

    async fn deliver(
        &self,
        provider: Provider,
        sms: &Sms,
        change: impl FnOnce(&mut IncomingWebhook),
    ) -> u16 {
        let endpoint = Endpoint::new(&self.env.config.public_base_url, provider, self.tenant());
        let proof = match provider {
            Provider::Twilio => Proof::Twilio {
                auth_token: TWILIO_TOKEN.into(),
            },
            Provider::Telnyx => Proof::Telnyx { seed: TELNYX_SEED },
            other => panic!("the gate tests send {other} texts"),
        };
        let mut webhook = webhooks::text(&endpoint, &proof, sms);
        change(&mut webhook);
        webhooks::sign(&mut webhook, &proof, Utc::now());
        let path = webhook
            .url
            .trim_start_matches(&self.env.config.public_base_url);
        let mut request = lambda_http::Request::new(lambda_http::Body::Text(
            String::from_utf8(webhook.body.clone()).unwrap(),
        ));
        *request.method_mut() = http::Method::POST;
        *request.uri_mut() = format!("https://api.stopgate.example{path}")
            .parse()
            .unwrap();
        *request.headers_mut() = webhook.headers.clone();
        let response = self.gateway.route(request).await;
        response.status().as_u16()
    }

    async fn stored_events(&self, phone: &str) -> Vec<stopgate::consent::ConsentEvent> {
        let phone = E164::parse_e164(phone).unwrap();
        self.env.store.events(self.tenant(), &phone).await.unwrap()
    }
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn sms_at(from: &str, id: &str, text: &str, at: DateTime<Utc>) -> Sms {
    Sms {
        at,
        ..Sms::new(from, id, text)
    }
}

fn written_grant(phone: &str) -> Value {
    json!({"phone": phone, "action": "grant", "category": "promotional", "level": "express_written",
        "scope": "tenant", "source": "web_form",
        "evidence": {"disclosure_text": DISCLOSURE, "form_url": "https://acme.example/join"}})
}

// --- 1. Nothing received before an opt-out can lift it (rules 1 and 2) ---------------------

#[tokio::test]
async fn an_opt_in_recorded_before_a_late_logged_opt_out_never_lifts_it() {
    let gate = Gate::new("gate-late-opt-out").await;
    let person = "+14155550301";
    // 08:00: the opt-in, with written consent to marketing (no occurred_at: receipt-stamped).
    let opt_in = gate
        .recorded(
            json!({"phone": person, "action": "opt_in", "category": "promotional",
            "level": "express_written", "scope": "tenant", "source": "web_form",
            "evidence": {"disclosure_text": DISCLOSURE, "form_url": "https://acme.example/join"}}),
        )
        .await;
    assert_eq!(opt_in["time_source"], "receipt");
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "consent"
    );
    // 11:00: a phone call logged late says the person opted out at 07:00.
    let seven = rfc3339(Utc::now() - Duration::hours(1));
    let opt_out = gate
        .recorded(
            json!({"phone": person, "action": "opt_out", "scope": "tenant",
            "source": "phone_call", "occurred_at": seven, "evidence": {"agent": "agent-17"}}),
        )
        .await;
    assert_eq!(opt_out["time_source"], "client");
    // 11:01: the opt-in came first, so it cannot lift the opt-out, whatever the clocks say.
    let answer = gate
        .check(json!({"from": BUSINESS, "to": person, "category": "promotional"}))
        .await;
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(answer["reason"], "opted_out");
    assert_eq!(answer["evidence"]["event_id"], opt_out["event_id"]);
    assert_eq!(gate.lookup(person).await["opted_out"], true);
}

#[tokio::test]
async fn a_provider_stamped_stop_delivered_after_an_override_is_not_lifted_by_it() {
    let gate = Gate::new("gate-late-stop").await;
    let person = "+14155550302";
    // Written consent documented as an override, recorded now...
    gate.recorded(
        json!({"phone": person, "action": "opt_in", "category": "promotional",
        "level": "express_written", "scope": "tenant", "source": "paper", "override_opt_out": true,
        "evidence": {"disclosure_text": DISCLOSURE, "document_ref": "signed form 12"}}),
    )
    .await;
    // ...then a STOP that Telnyx stamps an hour earlier (held up, then delivered): Stopgate
    // received the opt-in first, so it lifts nothing.
    let stop = sms_at(
        person,
        "tx-late-stop",
        "STOP",
        Utc::now() - Duration::hours(1),
    );
    assert_eq!(gate.text(Provider::Telnyx, &stop).await, 200);
    let stored = gate.stored_events(person).await;
    let stop_event = stored
        .iter()
        .find(|e| e.kind.as_str() == "opt_out")
        .unwrap();
    assert_eq!(
        stop_event.time_source,
        stopgate::consent::TimeSource::Provider
    );
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "opted_out"
    );
}

// --- 2. YES only in context (rule 2) --------------------------------------------------------

#[tokio::test]
async fn a_yes_after_not_interested_is_ordinary_text_and_the_review_holds() {
    let gate = Gate::new("gate-yes-review").await;
    let person = "+14155550311";
    gate.recorded(written_grant(person)).await;
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "consent"
    );
    assert_eq!(
        gate.text(
            Provider::Twilio,
            &Sms::new(person, "SMyes00000000000000000000000001", "not interested")
        )
        .await,
        200
    );
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "pending_review"
    );
    assert_eq!(
        gate.text(
            Provider::Twilio,
            &Sms::new(person, "SMyes00000000000000000000000002", "Yes")
        )
        .await,
        200
    );
    let kinds: Vec<String> = gate
        .stored_events(person)
        .await
        .iter()
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert!(!kinds.contains(&"opt_in".to_string()), "{kinds:?}");
    assert!(kinds.contains(&"inbound".to_string()), "{kinds:?}");
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "pending_review",
        "a YES neither closes nor outweighs the review"
    );
    let (_, listed) = gate
        .call(
            "GET",
            "/v1/opt-outs?status=opted_in",
            &gate.keys.writer,
            None,
        )
        .await;
    assert!(
        !listed["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["phone"] == person),
        "{listed}"
    );
}

#[tokio::test]
async fn a_yes_lifts_only_an_opt_out_in_force_for_the_group_it_was_sent_to() {
    let gate = Gate::new("gate-yes-context").await;
    gate.policy(|p| p.stop_scope = StopScope::SenderGroup).await;
    gate.group("alerts", &[BUSINESS]).await;
    gate.group("deals", &["+14155550199"]).await;
    let person = "+14155550312";
    let now = Utc::now();
    let stop = sms_at(
        person,
        "tx-stop-alerts",
        "STOP",
        now - Duration::minutes(10),
    );
    assert_eq!(gate.text(Provider::Telnyx, &stop).await, 200);
    // YES to the other group: no opt-out in force there, so it is ordinary text.
    let mut elsewhere = sms_at(person, "tx-yes-deals", "yes", now - Duration::minutes(5));
    elsewhere.to = "+14155550199".into();
    assert_eq!(gate.text(Provider::Telnyx, &elsewhere).await, 200);
    assert_eq!(
        gate.reason(BUSINESS, person, "conversational").await,
        "opted_out"
    );
    // YES to the group that holds the opt-out, later than it: it lifts it, as START would.
    let yes = sms_at(person, "tx-yes-alerts", "YES", now - Duration::minutes(4));
    assert_eq!(gate.text(Provider::Telnyx, &yes).await, 200);
    assert_eq!(
        gate.reason(BUSINESS, person, "conversational").await,
        "recent_inbound"
    );
    let kinds: Vec<(String, Option<String>)> = gate
        .stored_events(person)
        .await
        .iter()
        .map(|e| (e.kind.as_str().to_string(), e.origin.sender.clone()))
        .collect();
    assert!(
        kinds.contains(&("inbound".into(), Some("+14155550199".into()))),
        "{kinds:?}"
    );
    assert!(
        kinds.contains(&("opt_in".into(), Some(BUSINESS.into()))),
        "{kinds:?}"
    );
}

// --- 3. An override needs documented written consent (rule 2) -------------------------------

#[tokio::test]
async fn an_override_needs_written_consent_and_is_flagged() {
    let gate = Gate::new("gate-override").await;
    let person = "+14155550321";
    let stop = sms_at(
        person,
        "tx-override-stop",
        "STOP",
        Utc::now() - Duration::minutes(30),
    );
    assert_eq!(gate.text(Provider::Telnyx, &stop).await, 200);

    let (status, body) = gate
        .record(
            json!({"phone": person, "action": "opt_in", "scope": "tenant", "source": "verbal",
            "override_opt_out": true, "evidence": {"agent": "agent-17"}}),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["field"], "override_opt_out");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("written consent"),
        "{body}"
    );
    let (status, body) = gate
        .record(
            json!({"phone": person, "action": "grant", "category": "conversational",
            "level": "implied", "scope": "tenant", "source": "paper", "override_opt_out": true,
            "evidence": {"document_ref": "form 3"}}),
        )
        .await;
    assert_eq!(
        status, 409,
        "an implied grant is not written consent: {body}"
    );
    // Without the override, a consent that only an override could bring in force is refused.
    let (status, body) = gate
        .record(
            json!({"phone": person, "action": "opt_in", "scope": "tenant", "source": "paper",
            "evidence": {"document_ref": "form 4"}}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("opted_out")),
        "{body}"
    );
    assert_eq!(
        gate.reason(BUSINESS, person, "conversational").await,
        "opted_out"
    );

    // A signed paper form, documented as an override: it lifts the opt-out, flagged.
    let lifted = gate
        .recorded(
            json!({"phone": person, "action": "opt_in", "scope": "tenant", "source": "paper",
            "override_opt_out": true, "evidence": {"document_ref": "signed form 7"}}),
        )
        .await;
    assert_eq!(lifted["override_opt_out"], true);
    assert_eq!(
        gate.reason(BUSINESS, person, "conversational").await,
        "no_consent"
    );
    let lookup = gate.lookup(person).await;
    assert_eq!(lookup["opted_out"], false, "{lookup}");
    assert!(
        lookup["scopes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["override_opt_out"] == true),
        "{lookup}"
    );
    let history = gate.history(person).await;
    assert_eq!(history[0]["override_opt_out"], true);
}

// --- 4. Reviews (rule 5) --------------------------------------------------------------------

/// A possible revocation from `person`, as received at `at` (to open an old review).
async fn possible_revocation(gate: &Gate, person: &str, at: DateTime<Utc>) -> String {
    let phone = E164::parse_e164(person).unwrap();
    gate.env
        .open_review(&gate.env.store, gate.tenant(), &phone, at)
        .await
}

#[tokio::test]
async fn reviews_have_owners_show_in_lookup_and_cannot_be_dismissed_past_their_due_date() {
    let gate = Gate::new("gate-reviews").await;
    let person = "+14155550331";
    let fresh = possible_revocation(&gate, person, Utc::now()).await;
    let (status, body) = gate
        .call(
            "POST",
            &format!("/v1/reviews/{fresh}"),
            &gate.keys.writer,
            Some(json!({"owner": "ana"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["owner"], "ana");
    let (_, queue) = gate
        .call("GET", "/v1/reviews", &gate.keys.writer, None)
        .await;
    assert_eq!(queue["items"][0]["owner"], "ana", "{queue}");
    let lookup = gate.lookup(person).await;
    let reviews = lookup["reviews"].as_array().unwrap();
    assert_eq!(reviews.len(), 1, "{lookup}");
    assert_eq!(reviews[0]["review_id"], fresh.as_str());
    assert_eq!(reviews[0]["owner"], "ana");
    assert_eq!(reviews[0]["overdue"], false);

    let old_person = "+14155550332";
    let old = possible_revocation(&gate, old_person, Utc::now() - Duration::days(30)).await;
    let (status, body) = gate
        .call(
            "POST",
            &format!("/v1/reviews/{old}"),
            &gate.keys.writer,
            Some(json!({"resolution": "not_a_revocation"})),
        )
        .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "review_past_due");
    assert_eq!(
        gate.reason(BUSINESS, old_person, "conversational").await,
        "opted_out"
    );
    // Resolving it as what it became is still allowed, and records one opt-out.
    let (status, body) = gate
        .call(
            "POST",
            &format!("/v1/reviews/{old}"),
            &gate.keys.writer,
            Some(json!({"resolution": "opt_out"})),
        )
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn due_dates_count_business_days_in_the_tenants_time_zone() {
    let gate = Gate::new("gate-review-zone").await;
    gate.policy(|p| {
        p.review_business_days = 1;
        p.time_zone = "America/Los_Angeles".into();
    })
    .await;
    // Friday 6 March 2026 02:00 UTC is Thursday evening in Los Angeles: one business day later
    // is the end of Friday there (08:00 UTC on Saturday), not the end of Monday in UTC.
    let at = DateTime::parse_from_rfc3339("2026-03-06T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc);
    possible_revocation(&gate, "+14155550333", at).await;
    let (_, queue) = gate
        .call("GET", "/v1/reviews", &gate.keys.writer, None)
        .await;
    assert_eq!(
        queue["items"][0]["due_at"], "2026-03-07T07:59:59Z",
        "{queue}"
    );
}

// --- 5. Exemptions are bound to what they answer (rule 6) -----------------------------------

#[tokio::test]
async fn a_help_reply_is_bound_to_its_help_and_one_message() {
    let gate = Gate::new("gate-help").await;
    let person = "+14155550341";
    assert_eq!(
        gate.text(
            Provider::Twilio,
            &Sms::new(person, "SMhelpstop0000000000000000000001", "STOP")
        )
        .await,
        200
    );
    assert_eq!(
        gate.text(
            Provider::Twilio,
            &Sms::new(person, "SMhelp000000000000000000000000001", "HELP")
        )
        .await,
        200
    );
    let history = gate.history(person).await;
    let help_id = history.iter().find(|e| e["kind"] == "help").unwrap()["event_id"].clone();
    let stop_id = history.iter().find(|e| e["kind"] == "opt_out").unwrap()["event_id"].clone();
    let reply = |key: &str, reply_to: &Value| {
        json!({"from": BUSINESS, "to": person, "category": "informational", "purpose": "help_reply",
            "reply_to": reply_to, "message_key": key})
    };
    let first = gate.check(reply("m-1", &help_id)).await;
    assert_eq!(
        (first["allowed"].as_bool(), first["reason"].as_str()),
        (Some(true), Some("help_reply")),
        "{first}"
    );
    let retry = gate.check(reply("m-1", &help_id)).await;
    assert_eq!(
        retry, first,
        "a retry of the same message gets the same answer"
    );
    let second = gate.check(reply("m-2", &help_id)).await;
    assert_eq!(
        (second["allowed"].as_bool(), second["reason"].as_str()),
        (Some(false), Some("exemption_used")),
        "{second}"
    );
    let not_a_help = gate.check(reply("m-3", &stop_id)).await;
    assert_eq!(
        not_a_help["reason"], "opted_out",
        "the opt-out is no HELP: {not_a_help}"
    );

    let (status, body) = gate
        .call("POST", "/v1/check", &gate.keys.check,
            Some(json!({"from": BUSINESS, "to": person, "category": "informational", "purpose": "help_reply"})))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("reply_to")),
        "{body}"
    );
}

#[tokio::test]
async fn one_opt_out_confirmation_where_the_business_confirms() {
    let gate = Gate::new("gate-confirm").await;
    gate.policy(|p| p.business_confirms = vec![format!("sender:{BUSINESS}")])
        .await;
    let person = "+14155550342";
    assert_eq!(
        gate.text(
            Provider::Twilio,
            &Sms::new(person, "SMconfirm0000000000000000000001", "STOP")
        )
        .await,
        200
    );
    let stop_id = gate.history(person).await[0]["event_id"].clone();
    let confirm = |key: &str| {
        json!({"from": BUSINESS, "to": person, "category": "conversational",
            "purpose": "opt_out_confirmation", "reply_to": stop_id, "message_key": key})
    };
    assert_eq!(
        gate.check(confirm("c-1")).await["reason"],
        "opt_out_confirmation"
    );
    assert_eq!(
        gate.check(confirm("c-1")).await["reason"],
        "opt_out_confirmation"
    );
    assert_eq!(gate.check(confirm("c-2")).await["reason"], "exemption_used");
    let marketing = gate
        .check(
            json!({"from": BUSINESS, "to": person, "category": "promotional",
            "purpose": "opt_out_confirmation", "reply_to": stop_id, "message_key": "c-3"}),
        )
        .await;
    assert_eq!(marketing["reason"], "opted_out");
}

// --- 6. Scope, wide on the deny side (rule 3) -----------------------------------------------

#[tokio::test]
async fn a_stop_through_a_pool_stops_the_pool_and_the_number() {
    let gate = Gate::new("gate-pool").await;
    gate.policy(|p| p.stop_scope = StopScope::SenderGroup).await;
    let person = "+14155550351";
    let stop = Sms::new(person, "SMpool000000000000000000000000001", "STOP");
    let status = gate
        .deliver(Provider::Twilio, &stop, |webhook| {
            let mut body = String::from_utf8(webhook.body.clone()).unwrap();
            body.push_str("&MessagingServiceSid=MG0000000000000000000000000000pool");
            webhook.body = body.into_bytes();
        })
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        gate.reason(BUSINESS, person, "conversational").await,
        "opted_out"
    );
    assert_eq!(
        gate.reason(
            "MG0000000000000000000000000000pool",
            person,
            "conversational"
        )
        .await,
        "opted_out"
    );
    assert_eq!(
        gate.reason("+14155550188", person, "conversational").await,
        "no_consent"
    );
}

#[tokio::test]
async fn a_number_scoped_opt_out_stops_every_group_holding_the_number() {
    let gate = Gate::new("gate-number-scope").await;
    gate.group("shared", &[BUSINESS, "+14155550101", "MGshared"])
        .await;
    let person = "+14155550352";
    gate.recorded(
        json!({"phone": person, "action": "opt_out", "scope": format!("sender:{BUSINESS}"),
        "source": "phone_call"}),
    )
    .await;
    for sender in ["+14155550101", "MGshared", BUSINESS] {
        assert_eq!(
            gate.reason(sender, person, "conversational").await,
            "opted_out",
            "{sender}"
        );
    }
    assert_eq!(
        gate.reason("+14155550102", person, "conversational").await,
        "no_consent"
    );
}

#[tokio::test]
async fn a_group_scoped_opt_out_keeps_its_members_when_the_group_changes_or_goes() {
    let gate = Gate::new("gate-group-scope").await;
    gate.group("alerts", &[BUSINESS, "+14155550101"]).await;
    let person = "+14155550353";
    gate.recorded(
        json!({"phone": person, "action": "opt_out", "scope": "group:alerts",
        "source": "phone_call"}),
    )
    .await;
    gate.group("alerts", &[BUSINESS]).await;
    assert_eq!(
        gate.reason("+14155550101", person, "conversational").await,
        "opted_out"
    );
    gate.env
        .store
        .delete_sender_group(gate.tenant(), "alerts")
        .await
        .unwrap();
    for sender in [BUSINESS, "+14155550101"] {
        assert_eq!(
            gate.reason(sender, person, "conversational").await,
            "opted_out",
            "{sender}"
        );
    }
    assert_eq!(
        gate.reason("+14155550102", person, "conversational").await,
        "no_consent"
    );
}

#[tokio::test]
async fn a_revoked_category_is_denied_whatever_other_grants_say() {
    let gate = Gate::new("gate-revoke").await;
    let person = "+14155550354";
    gate.recorded(written_grant(person)).await;
    assert_eq!(
        gate.reason(BUSINESS, person, "informational").await,
        "consent"
    );
    gate.recorded(json!({"phone": person, "action": "revoke", "category": "informational",
        "scope": "tenant", "source": "email", "evidence": {"document_ref": "<msg-9@acme.example>"}}))
        .await;
    assert_eq!(
        gate.reason(BUSINESS, person, "informational").await,
        "no_consent"
    );
    assert_eq!(
        gate.reason(BUSINESS, person, "promotional").await,
        "consent"
    );
    gate.recorded(
        json!({"phone": person, "action": "grant", "category": "informational",
        "level": "express", "scope": "tenant", "source": "web_form",
        "evidence": {"form_url": "https://acme.example/prefs"}}),
    )
    .await;
    assert_eq!(
        gate.reason(BUSINESS, person, "informational").await,
        "consent"
    );
}

// --- 7. Tenant config no staler than 60 s ---------------------------------------------------

#[tokio::test]
async fn the_check_never_allows_on_configuration_it_could_not_refresh() {
    let gate = Gate::new("gate-stale").await;
    let allowed = "+14155550361";
    let opted_out = "+14155550362";
    gate.recorded(written_grant(allowed)).await;
    gate.recorded(
        json!({"phone": opted_out, "action": "opt_out", "scope": "tenant", "source": "phone_call"}),
    )
    .await;
    // The tenant's configuration comes from a table that then goes away: every reload fails
    // and the last configuration read is served stale.
    let config_table = gate.env.fresh_table().await;
    config_table
        .create_tenant(gate.tenant(), TenantPolicy::default())
        .await
        .unwrap();
    let tenants =
        Tenants::with_freshness(config_table.clone(), None, StdDuration::from_millis(200));
    let checks = gate.checks(tenants, Utc::now);
    let check =
        |to: &str| json!({"from": BUSINESS, "to": to, "category": "informational"}).to_string();
    let headers = stopgate::testing::bearer(&gate.keys.check);
    let fresh = checks
        .check(&headers, check(allowed).as_bytes())
        .await
        .unwrap();
    assert!(fresh.allowed, "{fresh:?}");

    gate.env.drop_table(&config_table).await;
    tokio::time::sleep(StdDuration::from_millis(400)).await;
    let stale = checks
        .check(&headers, check(allowed).as_bytes())
        .await
        .unwrap_err();
    assert_eq!(stale.status(), 503, "never allowed on stale configuration");
    // A denial does not need fresh configuration.
    let denied = checks
        .check(&headers, check(opted_out).as_bytes())
        .await
        .unwrap();
    assert_eq!(
        (denied.allowed, denied.reason),
        (false, stopgate::consent::CheckReason::OptedOut)
    );
}

// --- 8. Quiet hours (rule 7) ----------------------------------------------------------------

/// The answer to a promotional check of `to` as of `clock`, with `extra` fields.
async fn promotional_at(
    gate: &Gate,
    clock: fn() -> DateTime<Utc>,
    to: &str,
    extra: Value,
) -> Value {
    let checks = gate.checks(Tenants::new(gate.env.store.clone(), None), clock);
    let mut body = json!({"from": BUSINESS, "to": to, "category": "promotional"});
    if let (Some(body), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
        body.extend(extra.clone());
    }
    let answer = checks
        .check(
            &stopgate::testing::bearer(&gate.keys.check),
            body.to_string().as_bytes(),
        )
        .await
        .unwrap();
    serde_json::to_value(answer).unwrap()
}

fn utc(at: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(at)
        .unwrap()
        .with_timezone(&Utc)
}

fn assert_quiet(answer: &Value, retry_at: &str) {
    assert_eq!(answer["allowed"], false, "{answer}");
    assert_eq!(answer["reason"], "quiet_hours", "{answer}");
    assert_eq!(answer["retry_at"], retry_at, "{answer}");
    assert!(
        !answer["closed_by"].as_array().unwrap().is_empty(),
        "{answer}"
    );
}

fn assert_consent(answer: &Value) {
    assert_eq!(
        (answer["allowed"].as_bool(), answer["reason"].as_str()),
        (Some(true), Some("consent")),
        "{answer}"
    );
}

#[tokio::test]
async fn quiet_hours_follow_the_recipients_zone_across_both_clock_changes() {
    let gate = Gate::new("gate-quiet-dst").await;
    let new_york = "+12125550371";
    let los_angeles = "+13105550372";
    for person in [new_york, los_angeles] {
        gate.recorded(written_grant(person)).await;
    }
    // Sunday 14 March 2027, 12:30 UTC: clocks went forward at 02:00. New York is at 08:30 EDT
    // (open); Los Angeles at 05:30 PDT (closed until 08:00 PDT, 15:00 UTC).
    fn spring() -> DateTime<Utc> {
        utc("2027-03-14T12:30:00Z")
    }
    assert_consent(&promotional_at(&gate, spring, new_york, json!({})).await);
    assert_quiet(
        &promotional_at(&gate, spring, los_angeles, json!({})).await,
        "2027-03-14T15:00:00Z",
    );
    // Sunday 1 November 2026, 12:30 UTC: clocks went back. New York is at 07:30 EST (closed
    // until 08:00 EST, 13:00 UTC).
    fn fall() -> DateTime<Utc> {
        utc("2026-11-01T12:30:00Z")
    }
    assert_quiet(
        &promotional_at(&gate, fall, new_york, json!({})).await,
        "2026-11-01T13:00:00Z",
    );
}

#[tokio::test]
async fn quiet_hours_take_the_strictest_zone_of_an_area_code_and_sunday_in_texas() {
    let gate = Gate::new("gate-quiet-places").await;
    let panhandle = "+18505550373"; // 850: Florida, Eastern and Central
    let austin = "+15125550374";
    let honolulu = "+18085550375";
    for person in [panhandle, austin, honolulu] {
        gate.recorded(written_grant(person)).await;
    }
    // Monday 7 December 2026, 13:30 UTC: 08:30 EST but 07:30 CST in the panhandle.
    fn monday_morning() -> DateTime<Utc> {
        utc("2026-12-07T13:30:00Z")
    }
    assert_quiet(
        &promotional_at(&gate, monday_morning, panhandle, json!({})).await,
        "2026-12-07T14:00:00Z",
    );
    // Florida closes at 20:00: 19:30 CST is open, 20:05 EST (01:05 UTC) is not.
    fn florida_evening() -> DateTime<Utc> {
        utc("2026-12-08T01:05:00Z")
    }
    let closed = promotional_at(&gate, florida_evening, panhandle, json!({})).await;
    assert_eq!(closed["reason"], "quiet_hours", "{closed}");
    // Sunday 6 December 2026, 16:30 UTC: 10:30 CST in Austin, and Texas opens at noon on Sundays.
    fn sunday() -> DateTime<Utc> {
        utc("2026-12-06T16:30:00Z")
    }
    assert_quiet(
        &promotional_at(&gate, sunday, austin, json!({})).await,
        "2026-12-06T18:00:00Z",
    );
    // The same hour on Monday is open (09:00-21:00).
    fn monday() -> DateTime<Utc> {
        utc("2026-12-07T16:30:00Z")
    }
    assert_consent(&promotional_at(&gate, monday, austin, json!({})).await);
    // Hawaii: 08:00 HST is 18:00 UTC.
    fn hawaii_dawn() -> DateTime<Utc> {
        utc("2026-12-07T17:59:00Z")
    }
    assert_quiet(
        &promotional_at(&gate, hawaii_dawn, honolulu, json!({})).await,
        "2026-12-07T18:00:00Z",
    );
}

#[tokio::test]
async fn a_location_decides_and_send_at_moves_only_the_quiet_hours_test() {
    let gate = Gate::new("gate-quiet-location").await;
    let toll_free = "+18335550376";
    gate.recorded(written_grant(toll_free)).await;
    // 10:30 CST, 09:30 MST: open in all of Texas (El Paso keeps Mountain time).
    fn wednesday_noon_utc() -> DateTime<Utc> {
        utc("2026-12-09T16:30:00Z")
    }
    let unknown = promotional_at(&gate, wednesday_noon_utc, toll_free, json!({})).await;
    assert_eq!(unknown["reason"], "unknown_location", "{unknown}");
    let texas = promotional_at(
        &gate,
        wednesday_noon_utc,
        toll_free,
        json!({"location": {"state": "TX"}}),
    )
    .await;
    assert_consent(&texas);

    // A location recorded with the consent is used when the check sends none.
    let with_location = "+18335550377";
    let mut grant = written_grant(with_location);
    grant["location"] = json!({"zip": "78701"});
    gate.recorded(grant).await;
    assert_consent(&promotional_at(&gate, wednesday_noon_utc, with_location, json!({})).await);
    // ...and one sent with the check wins over it: 06:30 in Honolulu is closed.
    let hawaii = promotional_at(
        &gate,
        wednesday_noon_utc,
        with_location,
        json!({"location": {"state": "HI"}}),
    )
    .await;
    assert_eq!(hawaii["reason"], "quiet_hours", "{hawaii}");

    // 02:00 UTC is night in New York; send_at the next morning is fine.
    let new_york = "+12125550378";
    gate.recorded(written_grant(new_york)).await;
    fn night() -> DateTime<Utc> {
        utc("2026-12-09T02:00:00Z")
    }
    assert_quiet(
        &promotional_at(&gate, night, new_york, json!({})).await,
        "2026-12-09T13:00:00Z",
    );
    assert_consent(
        &promotional_at(
            &gate,
            night,
            new_york,
            json!({"send_at": "2026-12-09T15:00:00Z"}),
        )
        .await,
    );
    // Consent is judged as of now: an opt-out now denies, whatever send_at says.
    gate.recorded(
        json!({"phone": new_york, "action": "opt_out", "scope": "tenant", "source": "phone_call"}),
    )
    .await;
    let opted_out = promotional_at(
        &gate,
        night,
        new_york,
        json!({"send_at": "2026-12-09T15:00:00Z"}),
    )
    .await;
    assert_eq!(opted_out["reason"], "opted_out", "{opted_out}");

    let (status, body) = gate
        .call("POST", "/v1/check", &gate.keys.check,
            Some(json!({"from": BUSINESS, "to": new_york, "category": "promotional", "location": {"state": "ZZ"}})))
        .await;
    assert_eq!(
        (status, body["error"]["field"].as_str()),
        (400, Some("location.state")),
        "{body}"
    );
}

// --- 9. Double opt-in and the hosted pages (rule 9) ------------------------------------------

/// The sender group of the tests' hosted form, and a number outside it.
const FORM_GROUP_SENDER: &str = BUSINESS;
const OTHER_GROUP_SENDER: &str = "+14155550199";

/// One visitor of the hosted pages through the gateway: it keeps the page cookie as a browser
/// would, and posts back the token of the last page it saw.
struct Visitor<'a> {
    gate: &'a Gate,
    cookie: Option<String>,
    token: Option<String>,
}

/// A page's status, `Location` (after a post) and HTML.
struct Seen {
    status: u16,
    location: Option<String>,
    html: String,
}

impl<'a> Visitor<'a> {
    fn new(gate: &'a Gate) -> Visitor<'a> {
        Visitor {
            gate,
            cookie: None,
            token: None,
        }
    }

    async fn send(&mut self, method: &str, path: &str, body: Option<String>) -> Seen {
        let mut request = lambda_http::Request::new(match body {
            Some(b) => lambda_http::Body::Text(b),
            None => lambda_http::Body::Empty,
        });
        *request.method_mut() = method.parse().unwrap();
        *request.uri_mut() = format!("https://api.stopgate.example{path}")
            .parse()
            .unwrap();
        let headers = request.headers_mut();
        headers.insert("user-agent", "gate-test-browser/1.0".parse().unwrap());
        if method == "POST" {
            headers.insert(
                "content-type",
                "application/x-www-form-urlencoded".parse().unwrap(),
            );
        }
        if let Some(cookie) = &self.cookie {
            headers.insert("cookie", cookie.parse().unwrap());
        }
        let response = self.gate.gateway.route(request).await;
        if let Some(set) = response.headers().get("set-cookie") {
            self.cookie = set.to_str().unwrap().split(';').next().map(str::to_string);
        }
        let html = stopgate::testing::body_text(response.body());
        if let Some(token) = html
            .split("name=\"token\" value=\"")
            .nth(1)
            .and_then(|rest| rest.split('"').next())
        {
            self.token = Some(token.to_string());
        }
        Seen {
            status: response.status().as_u16(),
            location: response
                .headers()
                .get("location")
                .map(|l| l.to_str().unwrap().to_string()),
            html,
        }
    }

    async fn get(&mut self, path: &str) -> Seen {
        self.send("GET", path, None).await
    }

    /// Posts `fields` with the token of the page last seen.
    async fn post(&mut self, path: &str, fields: &[(&str, &str)]) -> Seen {
        let token = self.token.clone().unwrap_or_default();
        let body = form_urlencoded::Serializer::new(String::new())
            .append_pair("token", &token)
            .extend_pairs(fields)
            .finish();
        self.send("POST", path, Some(body)).await
    }
}

impl Gate {
    /// The tenant's hosted form `join`, sent from a group holding [`BUSINESS`].
    async fn join_form(&self, double_opt_in: bool) -> stopgate::consent::forms::FormConfig {
        self.env
            .form(
                self.tenant(),
                "join",
                "deals",
                &[FORM_GROUP_SENDER],
                double_opt_in,
            )
            .await
    }

    /// Signs `phone` up on the form `join` as a person would: the page, then the post.
    async fn sign_up(&self, phone: &str, categories: &[&str]) -> Seen {
        let path = format!("/p/{}/join", self.tenant());
        let mut visitor = Visitor::new(self);
        let page = visitor.get(&path).await;
        assert_eq!(page.status, 200, "{}", page.html);
        let version = page
            .html
            .split("name=\"version\" value=\"")
            .nth(1)
            .and_then(|v| v.split('"').next())
            .unwrap()
            .to_string();
        let mut fields = vec![
            ("phone", phone),
            ("version", version.as_str()),
            ("lang", "en"),
        ];
        fields.extend(categories.iter().map(|c| ("category", *c)));
        visitor.post(&path, &fields).await
    }

    /// A preference link for `phone` through `POST /v1/links`: its path.
    async fn preference_link(&self, phone: &str, sent_by_sms: bool) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/v1/links",
                &self.keys.writer,
                Some(json!({"phone": phone, "sent_by_sms": sent_by_sms})),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        let url = body["url"].as_str().unwrap();
        assert!(
            !url.contains(&phone[2..]),
            "the number is not in the link: {url}"
        );
        url.trim_start_matches(&self.env.config.public_base_url)
            .to_string()
    }

    /// A promotional check at 19:00 UTC (the afternoon across the United States) of the next
    /// weekday to come, so quiet hours never decide it.
    async fn promotional(&self, to: &str) -> Value {
        let mut at = (Utc::now() + Duration::hours(1))
            .date_naive()
            .and_hms_opt(19, 0, 0)
            .unwrap()
            .and_utc();
        while at < Utc::now() || at.format("%u").to_string() == "7" {
            at += Duration::days(1);
        }
        self.check(
            json!({"from": FORM_GROUP_SENDER, "to": to, "category": "promotional",
            "send_at": rfc3339(at)}),
        )
        .await
    }
}

fn consent_event_id(answer: &Value) -> String {
    answer["evidence"]["event_id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_form_signup_waits_for_a_yes_to_its_sender_group_which_confirms_it_with_the_evidence() {
    let gate = Gate::new("gate-double-opt-in").await;
    let form = gate.join_form(true).await;
    let person = "+14155550401";
    let submitted = gate
        .sign_up("(415) 555-0401", &["informational", "promotional"])
        .await;
    assert_eq!(submitted.status, 200, "{}", submitted.html);
    assert!(submitted.html.contains("Reply YES"), "{}", submitted.html);

    // Pending: nothing is allowed yet (rule 4), whatever the category.
    assert_eq!(gate.promotional(person).await["reason"], "no_consent");
    assert_eq!(
        gate.reason(FORM_GROUP_SENDER, person, "informational")
            .await,
        "no_consent"
    );
    let lookup = gate.lookup(person).await;
    assert_eq!(lookup["pending_consents"][0]["open"], true, "{lookup}");
    assert_eq!(lookup["pending_consents"][0]["confirm_to"], "group:deals");

    // A YES to another sender group is ordinary text: it confirms nothing.
    gate.group("alerts", &[OTHER_GROUP_SENDER]).await;
    let mut elsewhere = Sms::new(person, "SMdoi0000000000000000000000000001", "YES");
    elsewhere.to = OTHER_GROUP_SENDER.into();
    assert_eq!(gate.text(Provider::Twilio, &elsewhere).await, 200);
    assert_eq!(gate.promotional(person).await["reason"], "no_consent");

    // The YES to the form's group confirms it, as express written consent.
    let yes = Sms::new(person, "SMdoi0000000000000000000000000002", "Yes");
    assert_eq!(gate.text(Provider::Twilio, &yes).await, 200);
    let answer = gate.promotional(person).await;
    assert_consent(&answer);
    assert_eq!(answer["evidence"]["source"], "web_form", "{answer}");
    assert_eq!(answer["evidence"]["level"], "express_written");
    assert_eq!(answer["scope"], "group:deals");
    assert_eq!(
        gate.reason(OTHER_GROUP_SENDER, person, "informational")
            .await,
        "no_consent",
        "the consent is the form's sender group's"
    );

    // The evidence of the confirmed opt-in, as history shows it.
    let history = gate.history(person).await;
    let confirmed = history
        .iter()
        .find(|e| e["kind"] == "consent_confirmed")
        .unwrap();
    assert_eq!(
        confirmed["event_id"].as_str().unwrap(),
        consent_event_id(&answer)
    );
    let evidence = &confirmed["evidence"];
    assert_eq!(evidence["number_verified"], true, "{confirmed}");
    assert_eq!(
        evidence["confirming_message_id"],
        "SMdoi0000000000000000000000000002"
    );
    assert_eq!(
        evidence["disclosure_text"],
        form.disclosure(stopgate::consent::forms::Language::En)
    );
    assert_eq!(evidence["form"]["form_id"], "join");
    assert_eq!(evidence["form"]["version"], form.version);
    assert_eq!(evidence["form"]["language"], "en");
    assert_eq!(
        confirmed["confirms"]["categories"],
        json!(["informational", "promotional"])
    );
    let pending = &confirmed["pending_event"];
    assert_eq!(pending["kind"], "pending_consent", "{confirmed}");
    assert_eq!(pending["evidence"]["user_agent"], "gate-test-browser/1.0");
    assert_eq!(
        pending["evidence"]["disclosure_sha256"],
        evidence["disclosure_sha256"]
    );
    assert!(
        pending["evidence"]["form_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!("/p/{}/join", gate.tenant()))
    );
    let yes_event = history
        .iter()
        .find(|e| {
            e["origin"]["provider_message_id"] == "SMdoi0000000000000000000000000002"
                && e["kind"] == "opt_in"
        })
        .unwrap();
    assert_eq!(
        yes_event["origin"]["keyword"], "yes",
        "the YES is in context: {yes_event}"
    );
    assert!(
        history
            .iter()
            .any(|e| e["kind"] == "inbound" && e["origin"]["sender"] == OTHER_GROUP_SENDER),
        "the YES elsewhere stayed ordinary"
    );
    assert!(
        gate.lookup(person).await["pending_consents"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_start_confirms_a_pending_consent_too_but_a_yes_after_24_hours_does_not() {
    let gate = Gate::new("gate-double-opt-in-late").await;
    let form = gate.join_form(true).await;
    let start_person = "+14155550402";
    assert_eq!(
        gate.sign_up(start_person, &["promotional"]).await.status,
        200
    );
    let start = Sms::new(start_person, "SMdoi0000000000000000000000000003", "START");
    assert_eq!(gate.text(Provider::Twilio, &start).await, 200);
    assert_consent(&gate.promotional(start_person).await);

    // A consent given 25 hours ago has expired: its YES is an ordinary message.
    let late_person = "+14155550403";
    let act = stopgate::consent::forms::WebAct {
        tenant: gate.tenant().into(),
        phone: E164::parse_e164(late_person).unwrap(),
        at: Utc::now() - Duration::hours(25),
        ip: Some("198.51.100.7".into()),
        user_agent: Some("gate-test-browser/1.0".into()),
        page_url: None,
    };
    let recording = stopgate::consent::forms::form_consent(
        &form,
        stopgate::consent::forms::Language::En,
        &[stopgate::consent::Category::Promotional],
        &act,
    );
    stopgate::flows::pages::commit(&gate.env.store, &recording)
        .await
        .unwrap();
    assert_eq!(
        gate.lookup(late_person).await["pending_consents"][0]["open"],
        false
    );
    let yes = Sms::new(late_person, "SMdoi0000000000000000000000000004", "YES");
    assert_eq!(gate.text(Provider::Twilio, &yes).await, 200);
    assert_eq!(gate.promotional(late_person).await["reason"], "no_consent");
    let kinds: Vec<String> = gate
        .stored_events(late_person)
        .await
        .iter()
        .map(|e| e.kind.as_str().to_string())
        .collect();
    assert!(
        !kinds.contains(&"consent_confirmed".to_string()),
        "{kinds:?}"
    );
    assert!(kinds.contains(&"inbound".to_string()), "{kinds:?}");
}

#[tokio::test]
async fn the_request_to_confirm_is_allowed_once_per_pending_consent() {
    let gate = Gate::new("gate-double-opt-in-request").await;
    gate.join_form(true).await;
    let person = "+14155550404";
    assert_eq!(gate.sign_up(person, &["promotional"]).await.status, 200);
    let pending_id = gate.lookup(person).await["pending_consents"][0]["event_id"].clone();
    let request = |key: &str, from: &str, category: &str| {
        json!({"from": from, "to": person, "category": category,
            "purpose": "double_opt_in_request", "reply_to": pending_id, "message_key": key})
    };
    let elsewhere = gate
        .check(request("doi-0", OTHER_GROUP_SENDER, "informational"))
        .await;
    assert_eq!(
        elsewhere["reason"], "no_consent",
        "only from the group the YES must go to: {elsewhere}"
    );
    let first = gate
        .check(request("doi-1", FORM_GROUP_SENDER, "informational"))
        .await;
    assert_eq!(
        (first["allowed"].as_bool(), first["reason"].as_str()),
        (Some(true), Some("double_opt_in_request")),
        "{first}"
    );
    assert_eq!(first["evidence"]["event_id"], pending_id);
    assert_eq!(
        gate.check(request("doi-1", FORM_GROUP_SENDER, "informational"))
            .await,
        first,
        "a retry of the same message gets the same answer"
    );
    let second = gate
        .check(request("doi-2", FORM_GROUP_SENDER, "informational"))
        .await;
    assert_eq!(second["reason"], "exemption_used", "{second}");
    let marketing = gate
        .check(request("doi-3", FORM_GROUP_SENDER, "promotional"))
        .await;
    assert_eq!(
        marketing["reason"], "no_consent",
        "never promotional: {marketing}"
    );
}

#[tokio::test]
async fn a_preference_page_stops_promotional_only_and_records_it_as_web_preferences() {
    let gate = Gate::new("gate-prefs-stop").await;
    gate.join_form(false).await;
    let person = "+14155550405";
    let submitted = gate
        .sign_up(person, &["informational", "promotional"])
        .await;
    assert!(
        submitted.html.contains("You are signed up"),
        "{}",
        submitted.html
    );
    assert_consent(&gate.promotional(person).await);

    let path = gate.preference_link(person, false).await;
    let mut visitor = Visitor::new(&gate);
    let page = visitor.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.html);
    assert!(
        page.html.contains("0405"),
        "the number's ending: {}",
        page.html
    );
    assert!(!page.html.contains("4155550405"), "never the whole number");
    let done = visitor
        .post(&path, &[("action", "stop:promotional"), ("lang", "en")])
        .await;
    assert_eq!(done.status, 303, "{}", done.html);
    let after = visitor.get(done.location.as_deref().unwrap()).await;
    assert!(
        after.html.contains("You will not receive those texts"),
        "{}",
        after.html
    );

    assert_eq!(gate.promotional(person).await["reason"], "no_consent");
    assert_eq!(
        gate.reason(FORM_GROUP_SENDER, person, "informational")
            .await,
        "consent"
    );
    let history = gate.history(person).await;
    assert_eq!(history[0]["kind"], "revoke", "{:?}", history[0]);
    assert_eq!(history[0]["source"], "web_preferences");
    assert_eq!(history[0]["category"], "promotional");
    assert_eq!(history[0]["evidence"]["number_verified"], false);

    // Without the page's cookie, a post is refused and nothing is recorded.
    let mut stranger = Visitor::new(&gate);
    stranger.token = visitor.token.clone();
    let refused = stranger.post(&path, &[("action", "stop_all")]).await;
    assert_eq!(refused.status, 403, "{}", refused.html);
    assert_eq!(gate.history(person).await.len(), history.len());
}

#[tokio::test]
async fn an_opt_back_in_lifts_from_a_verified_link_and_waits_for_the_yes_from_any_other() {
    let gate = Gate::new("gate-prefs-resume").await;
    gate.join_form(true).await;
    let verified = "+14155550406";
    let unverified = "+14155550407";
    for (person, id) in [
        (verified, "tx-prefs-stop-1"),
        (unverified, "tx-prefs-stop-2"),
    ] {
        let stop = sms_at(person, id, "STOP", Utc::now() - Duration::minutes(10));
        assert_eq!(gate.text(Provider::Telnyx, &stop).await, 200);
        assert_eq!(
            gate.reason(FORM_GROUP_SENDER, person, "conversational")
                .await,
            "opted_out"
        );
    }

    // Texted to the number: the person's own act from a verified number, so it lifts.
    let path = gate.preference_link(verified, true).await;
    let mut visitor = Visitor::new(&gate);
    let page = visitor.get(&path).await;
    assert!(page.html.contains("value=\"resume\""), "{}", page.html);
    let done = visitor.post(&path, &[("action", "resume")]).await;
    assert_eq!(done.status, 303, "{}", done.html);
    assert_eq!(
        gate.reason(FORM_GROUP_SENDER, verified, "conversational")
            .await,
        "no_consent",
        "the opt-out is lifted"
    );
    let resumed = &gate.history(verified).await[0];
    assert_eq!(
        (resumed["kind"].as_str(), resumed["source"].as_str()),
        (Some("opt_in"), Some("web_preferences")),
        "{resumed}"
    );
    assert_eq!(resumed["evidence"]["number_verified"], true);

    // Not known to reach the number: recorded as pending, and the opt-out stands...
    let path = gate.preference_link(unverified, false).await;
    let mut visitor = Visitor::new(&gate);
    visitor.get(&path).await;
    let done = visitor.post(&path, &[("action", "resume")]).await;
    assert_eq!(done.status, 303, "{}", done.html);
    let waiting = visitor.get(done.location.as_deref().unwrap()).await;
    assert!(waiting.html.contains("reply YES"), "{}", waiting.html);
    assert_eq!(
        gate.reason(FORM_GROUP_SENDER, unverified, "conversational")
            .await,
        "opted_out"
    );
    let pending = &gate.history(unverified).await[0];
    assert_eq!(
        (pending["kind"].as_str(), pending["source"].as_str()),
        (Some("pending_consent"), Some("web_preferences")),
        "{pending}"
    );
    assert_eq!(pending["pending"]["opt_in"], true);
    // ...until the person's YES from the number confirms it.
    let yes = Sms::new(unverified, "SMprefs00000000000000000000000001", "YES");
    assert_eq!(gate.text(Provider::Twilio, &yes).await, 200);
    assert_eq!(
        gate.reason(FORM_GROUP_SENDER, unverified, "conversational")
            .await,
        "recent_inbound"
    );
    let kinds: Vec<String> = gate
        .history(unverified)
        .await
        .iter()
        .map(|e| e["kind"].as_str().unwrap().to_string())
        .collect();
    assert!(
        kinds.contains(&"consent_confirmed".to_string()),
        "{kinds:?}"
    );
}

#[tokio::test]
async fn an_invalid_number_shows_the_form_again_and_a_number_is_rate_limited() {
    let gate = Gate::new("gate-form-input").await;
    gate.join_form(true).await;
    let bad = gate.sign_up("555-01", &["promotional"]).await;
    assert_eq!(bad.status, 400, "{}", bad.html);
    assert!(
        bad.html.contains("Enter a valid mobile number"),
        "{}",
        bad.html
    );
    assert!(bad.html.contains("value=\"555-01\""), "the input is kept");
    assert!(bad.html.contains("value=\"promotional\" checked"));
    let none = gate.sign_up("+14155550408", &[]).await;
    assert_eq!(none.status, 400);
    assert!(
        none.html.contains("Choose at least one kind of text"),
        "{}",
        none.html
    );

    let person = "+14155550409";
    for _ in 0..stopgate::flows::pages::FORM_PER_NUMBER.limit {
        assert_eq!(gate.sign_up(person, &["promotional"]).await.status, 200);
    }
    let limited = gate.sign_up(person, &["promotional"]).await;
    assert_eq!(limited.status, 429, "{}", limited.html);
    assert!(limited.html.contains("Too many sign-ups"));
    assert_eq!(
        gate.lookup(person).await["pending_consents"]
            .as_array()
            .unwrap()
            .len(),
        stopgate::flows::pages::FORM_PER_NUMBER.limit as usize
    );
}
