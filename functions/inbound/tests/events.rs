//! Replays the sample events in events/ through the inbound Lambda handler, as API Gateway would:
//! every provider's samples are verified, recorded and answered as the provider expects.
//!
//! The samples are signed for `PUBLIC_BASE_URL=https://api.stopgate.example` with the standard
//! test secrets (`TestSecrets::for_provider`; scripts/make_events.py and scripts/events_*.py
//! name them). The schemes that sign a time (Telnyx, Sinch's Conversation API, Vonage, Amazon
//! SNS) go stale some time after the samples were made (five minutes to a day, docs/providers.md
//! "Freshness"): sent as written those samples must be refused as late (never as forged), which
//! shows their signatures are genuine, and signed again now they must be accepted. What each provider does beyond the samples is in shared/tests/providers.rs.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::Utc;
use lambda_http::{Body, Request, RequestExt};
use stopgate::api::http::body_bytes;
use stopgate::api::sns::SnsHttps;
use stopgate::api::webhook::IncomingWebhook;
use stopgate::consent::ConsentEvent;
use stopgate::phone::E164;
use stopgate::providers::Provider;
use stopgate::testing::webhooks::{self, BUSINESS, Endpoint};
use stopgate::testing::{
    TestEnv, TestSecrets, body_text as text, env, sample_request as load, sns,
};
use stopgate_inbound::Inbound;

const BASE_URL: &str = "https://api.stopgate.example";
const DEMO_TENANT: &str = "events-demo";

/// What one provider's samples (`events/<provider>-{forged,plain,stop,start,help}.json`) are.
struct Samples {
    /// The tenant they are addressed (and, for Twilio and Plivo, signed) to.
    tenant: &'static str,
    person: &'static str,
    stop_message_id: &'static str,
    /// The provider's own verdict on the STOP sample, where it reports one.
    stop_verdict: Option<&'static str>,
    /// The samples signed with a time, now stale, and a fragment of the reason they are
    /// quarantined with as written (the answer itself never says why).
    stale: (&'static [&'static str], &'static str),
    /// The header carrying a proof that signs no time: signing the STOP sample again with the
    /// standard secrets must reproduce it exactly.
    proof_header: Option<&'static str>,
}

const KEYWORD_SAMPLES: [&str; 4] = ["plain", "stop", "start", "help"];
const NOTHING_STALE: (&[&str], &str) = (&[], "");

fn samples(provider: Provider) -> Samples {
    let demo = |person, stop_message_id, stop_verdict, stale, proof_header| Samples {
        tenant: DEMO_TENANT,
        person,
        stop_message_id,
        stop_verdict,
        stale,
        proof_header,
    };
    let replay_window = (&KEYWORD_SAMPLES[..], "replay window");
    let late = "s old, outside the";
    match provider {
        Provider::Twilio => demo(
            "+14155550142",
            "SM0000000000000000000000000000stop",
            Some("STOP"),
            NOTHING_STALE,
            Some("x-twilio-signature"),
        ),
        Provider::Telnyx => demo(
            "+14155550145",
            "0ba8b6f9-3d09-51ed-b7f6-24febb1e2642",
            Some("stop"),
            replay_window,
            None,
        ),
        Provider::Bandwidth => demo(
            "+14155550146",
            "1795867260000stopgatestop",
            None,
            NOTHING_STALE,
            Some("authorization"),
        ),
        Provider::Plivo => demo(
            "+14155550147",
            "fd37a0db-542e-5fa4-85bc-3c15e1dbfbc3",
            None,
            NOTHING_STALE,
            Some("x-plivo-signature-v3"),
        ),
        Provider::Ringcentral => demo(
            "+14155550148",
            "606090030002",
            None,
            NOTHING_STALE,
            Some("verification-token"),
        ),
        // STOP and HELP come through the SMS API (Basic), plain and START through the
        // Conversation API (HMAC, signed with a time).
        Provider::Sinch => demo(
            "+14155550149",
            "01W4FFL35P4NC4K35SMS000001",
            None,
            (&["plain", "start"], late),
            Some("authorization"),
        ),
        Provider::Vonage => demo(
            "+14155550150",
            "1000000000000001",
            None,
            (&KEYWORD_SAMPLES[..], late),
            None,
        ),
        Provider::Aws => Samples {
            tenant: "events-aws",
            ..demo(
                "+14155550162",
                "00000000-0000-4000-8000-0000000a0001",
                Some("STOP"),
                (&KEYWORD_SAMPLES[..], "more than an hour before it arrived"),
                None,
            )
        },
    }
}

/// `env` with the samples' base URL and the handler over it; `tenant` takes `provider`'s
/// samples. The handler's own SNS client has the certificate every AWS sample names, so
/// nothing is fetched (events/aws-subscribe.json, which would confirm a subscription over the
/// network, is left to the offline test in shared/tests/providers.rs).
async fn handler(provider: Provider, tenant: &str) -> (TestEnv, Inbound) {
    let mut env = env().await;
    env.config.public_base_url = BASE_URL.into();
    let secrets = TestSecrets::for_provider(provider);
    env.tenant_with_provider(tenant, provider, &secrets.stored_pairs())
        .await;
    SnsHttps::process().preload(sns::CERT_URL, sns::CERTIFICATE_PEM.as_bytes());
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    (env, inbound)
}

/// A sample signed again now, by the scheme it carries, with the standard secrets.
fn signed_now(provider: Provider, tenant: &str, mut sample: Request) -> Request {
    let mut webhook = IncomingWebhook {
        provider: provider.to_string(),
        tenant: tenant.to_string(),
        method: sample.method().to_string(),
        url: Endpoint::new(BASE_URL, provider, tenant).url,
        headers: sample.headers().clone(),
        body: body_bytes(sample.body()).to_vec(),
        received_at: Utc::now(),
    };
    let proof = TestSecrets::for_request(provider, &webhook).proof;
    webhooks::sign(&mut webhook, &proof, Utc::now());
    *sample.headers_mut() = webhook.headers;
    *sample.body_mut() = Body::Text(String::from_utf8(webhook.body).unwrap());
    sample
}

/// Today's quarantine reasons for `provider`'s requests to `tenant`, oldest first (the
/// providers' samples share a tenant and run in parallel).
async fn quarantine_reasons(env: &TestEnv, tenant: &str, provider: Provider) -> Vec<String> {
    let today = Utc::now().format("%Y-%m-%d").to_string();
    let mut quarantined = env.store.quarantined(tenant, &today).await.unwrap();
    quarantined.retain(|q| q.provider == provider.as_str());
    quarantined.sort_by_key(|q| (q.received_at, q.id.clone()));
    quarantined.into_iter().map(|q| q.reason).collect()
}

async fn events(env: &TestEnv, tenant: &str, person: &str) -> Vec<ConsentEvent> {
    let phone = E164::parse_e164(person).unwrap();
    env.store.events(tenant, &phone).await.unwrap()
}

/// The forged sample is refused and records nothing; the plain, STOP, START and HELP samples
/// (stale ones signed again) are acknowledged as the provider expects and recorded with their
/// origin and the provider's verdict; the STOP delivered again records nothing new.
async fn sample_events(provider: Provider) {
    let samples = samples(provider);
    let (tenant, person) = (samples.tenant, samples.person);
    let (env, inbound) = handler(provider, tenant).await;
    let name = |sample: &str| format!("{provider}-{sample}");
    let (content_type, acknowledgement) = webhooks::acknowledgement(provider);

    if let Some(header) = samples.proof_header {
        let again = signed_now(provider, tenant, load(&name("stop")));
        assert_eq!(
            again.headers()[header],
            load(&name("stop")).headers()[header],
            "the samples carry the standard secrets"
        );
    }

    let before = events(&env, tenant, person).await.len();
    let forged = inbound.handle(load(&name("forged"))).await.unwrap();
    assert_eq!(forged.status(), 401, "{}", text(forged.body()));
    assert!(text(forged.body()).contains("unauthorized"));
    assert_eq!(
        events(&env, tenant, person).await.len(),
        before,
        "a forgery records nothing"
    );

    let (stale, late_reason) = samples.stale;
    let sendable = |sample: &str| {
        let request = load(&name(sample));
        if stale.contains(&sample) {
            signed_now(provider, tenant, request)
        } else {
            request
        }
    };
    for sample in KEYWORD_SAMPLES {
        if stale.contains(&sample) {
            let as_written = inbound.handle(load(&name(sample))).await.unwrap();
            assert_eq!(as_written.status(), 401, "{sample}");
            assert!(text(as_written.body()).contains("unauthorized"));
            let reasons = quarantine_reasons(&env, tenant, provider).await;
            assert!(
                reasons.last().is_some_and(|r| r.contains(late_reason)),
                "{sample} is refused for being late, not forged: {reasons:?}"
            );
        }
        let response = inbound.handle(sendable(sample)).await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "{sample}: {}",
            text(response.body())
        );
        assert_eq!(response.headers()["content-type"], content_type, "{sample}");
        assert_eq!(text(response.body()), acknowledgement, "{sample}");
    }

    let recorded = events(&env, tenant, person).await;
    let kinds: Vec<&str> = recorded.iter().map(|e| e.kind.as_str()).collect();
    for kind in ["inbound", "opt_out", "opt_in", "help"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    let stop = recorded
        .iter()
        .find(|e| e.origin.provider_message_id.as_deref() == Some(samples.stop_message_id))
        .unwrap_or_else(|| panic!("no event for the STOP sample: {recorded:#?}"));
    assert_eq!(stop.kind.as_str(), "opt_out");
    assert_eq!(stop.origin.provider.as_deref(), Some(provider.as_str()));
    assert_eq!(stop.origin.sender.as_deref(), Some(BUSINESS));
    assert_eq!(
        stop.origin.provider_verdict.as_deref(),
        samples.stop_verdict,
        "the provider's own verdict is kept as evidence"
    );

    let again = inbound.handle(sendable("stop")).await.unwrap();
    assert_eq!(again.status(), 200);
    assert_eq!(text(again.body()), acknowledgement);
    assert_eq!(
        events(&env, tenant, person).await.len(),
        recorded.len(),
        "a redelivered STOP records nothing new"
    );
}

mod sample_events {
    stopgate::test_each_provider!(
        super::sample_events;
        twilio => Twilio,
        telnyx => Telnyx,
        bandwidth => Bandwidth,
        plivo => Plivo,
        ringcentral => Ringcentral,
        sinch => Sinch,
        vonage => Vonage,
        aws => Aws,
    );
}

#[tokio::test]
async fn ringcentral_handshake_and_a2p_opt_out_samples() {
    let (env, inbound) = handler(Provider::Ringcentral, DEMO_TENANT).await;
    let person = samples(Provider::Ringcentral).person;

    // The handler echoes the subscription's validation token in a header of its own.
    let validation = load("ringcentral-validation");
    let sent = validation.headers()["validation-token"].clone();
    let response = inbound.handle(validation).await.unwrap();
    assert_eq!(response.status(), 200, "{}", text(response.body()));
    assert_eq!(response.headers().get("validation-token"), Some(&sent));
    assert_eq!(text(response.body()), "");

    for delivery in ["first", "again"] {
        let response = inbound
            .handle(load("ringcentral-a2p-optout"))
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            200,
            "{delivery}: {}",
            text(response.body())
        );
        assert_eq!(text(response.body()), "");
    }
    let recorded = events(&env, DEMO_TENANT, person).await;
    let a2p: Vec<&ConsentEvent> = recorded
        .iter()
        .filter(|e| {
            e.origin.provider_message_id.as_deref() == Some("5e1c0f0c-0420-4bf5-a0ae-a2p000000001")
        })
        .collect();
    assert_eq!(a2p.len(), 1, "delivered twice, recorded once: {a2p:#?}");
    assert_eq!(a2p[0].kind.as_str(), "opt_out");
    assert_eq!(serde_json::to_value(a2p[0].source).unwrap(), "provider");
    assert_eq!(a2p[0].origin.provider_verdict.as_deref(), Some("optout"));
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused_with_json() {
    let env = env().await;
    let inbound = Inbound::new(&env.config, &env.sdk).unwrap();
    let mut request = load("twilio-stop");
    *request.uri_mut() = "https://api.stopgate.example/v1/webhooks/twilio"
        .parse()
        .unwrap();
    let request = request.with_raw_http_path("/v1/webhooks/twilio");
    let response = inbound.handle(request).await.unwrap();
    assert_eq!(response.status(), 404);
    assert!(text(response.body()).contains("\"code\":\"not_found\""));

    let mut put = load("twilio-stop");
    *put.method_mut() = http::Method::PUT;
    assert_eq!(inbound.handle(put).await.unwrap().status(), 405);
}
