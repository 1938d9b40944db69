//! Every provider's inbound webhook, against DynamoDB Local and a local SQS, through one harness
//! (`stopgate::testing::Harness`): one scenario run for each provider, then what only some
//! providers do. Requests are built in each provider's own format and signed now
//! (`stopgate::testing::webhooks`); the sample events in events/ are replayed through the Lambda
//! handler by functions/inbound/tests/events.rs.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use stopgate::api::webhook::{IncomingWebhook, ReplayOutcome, WebhookAnswer, replay};
use stopgate::consent::{ReplyMode, TenantPolicy};
use stopgate::providers::Provider;
use stopgate::store::CapturedWebhook;
use stopgate::testing::webhooks::{self, BUSINESS, SNS_CONTENT_TYPE, Sms};
use stopgate::testing::{Harness, TestSecrets, sns};

const PERSON: &str = "+14155550123";

/// What one provider's webhooks must get in the common scenario: a row of the table [`expected`].
struct Expected {
    provider: Provider,
    secrets: TestSecrets,
    /// A fragment of the reason a request signed with the wrong secret is quarantined for.
    forged_reason: &'static str,
    /// The reason a request carrying no proof at all is quarantined for.
    unsigned_reason: &'static str,
    /// The provider's own keyword verdict on each of [`TEXTS`], as it reports it; `None` where
    /// it reports none.
    verdicts: [Option<&'static str>; 4],
}

/// The texts of the common scenario, in the order sent, with the kind of event each records.
const TEXTS: [(&str, &str); 4] = [
    ("Is my order ready?", "inbound"),
    ("STOP", "opt_out"),
    ("START", "opt_in"),
    ("HELP", "help"),
];

/// What a provider that reports no keyword verdict of its own leaves in every event.
const NO_VERDICTS: [Option<&str>; 4] = [None; 4];

/// Every provider's row: its standard secrets (Sinch's SMS API, Vonage's SMS API) and what it
/// must get.
fn expected(provider: Provider) -> Expected {
    let row = |forged_reason, unsigned_reason, verdicts| Expected {
        provider,
        secrets: TestSecrets::for_provider(provider),
        forged_reason,
        unsigned_reason,
        verdicts,
    };
    let as_sent = [None, Some("STOP"), Some("START"), Some("HELP")];
    match provider {
        Provider::Twilio => row(
            "no configured auth_token matched",
            "missing X-Twilio-Signature",
            as_sent,
        ),
        Provider::Telnyx => row(
            "no configured public_key verified",
            "missing telnyx-signature-ed25519",
            [None, Some("stop"), Some("start"), Some("help")],
        ),
        Provider::Bandwidth => row(
            "the Basic credentials match no configured username and password",
            "missing Authorization; set callback credentials on the Bandwidth messaging \
             application",
            NO_VERDICTS,
        ),
        Provider::Plivo => row(
            "no configured auth_token matched the V3 signature",
            "missing X-Plivo-Signature-V3 (and no X-Plivo-Signature-V2)",
            NO_VERDICTS,
        ),
        Provider::Ringcentral => row(
            "Verification-Token matches no configured verification_token",
            "missing Verification-Token (the subscription needs deliveryMode.verificationToken)",
            NO_VERDICTS,
        ),
        Provider::Sinch => row(
            "HTTP Basic credentials match no configured username and password",
            "neither an x-sinch-webhook-signature nor HTTP Basic credentials",
            NO_VERDICTS,
        ),
        Provider::Vonage => row(
            "sig matches no configured signature_secret",
            "neither an Authorization: Bearer JWT (Messages API) nor a sig parameter (SMS API)",
            NO_VERDICTS,
        ),
        Provider::Aws => row(
            "the signature does not match the message and the signing certificate",
            "the message has no Signature",
            as_sent,
        ),
    }
}

fn refused(answer: &WebhookAnswer, what: &str) {
    assert_eq!(answer.status, 401, "{what}: {answer:?}");
    assert!(
        answer.body.contains("\"unauthorized\"")
            && answer.body.contains("webhook signature rejected"),
        "{what}: {answer:?}"
    );
}

fn acknowledged(provider: Provider, answer: &WebhookAnswer, what: &str) {
    assert_eq!(answer.status, 200, "{provider} {what}: {answer:?}");
    assert_eq!(
        (answer.content_type.as_str(), answer.body.as_str()),
        webhooks::acknowledgement(provider),
        "{provider} {what}"
    );
}

/// Forged and unsigned requests are refused, quarantined and record nothing; a question, STOP,
/// START and HELP are acknowledged as the provider expects and recorded with their origin and
/// the provider's own verdict; the check honours the STOP; a redelivery changes nothing.
async fn run_common_scenario(expected: Expected) {
    let provider = expected.provider;
    let h = Harness::new(provider, expected.secrets).await;

    let forged = h.forged(&Sms::new(PERSON, "forged-1", "START"));
    refused(&h.send(forged).await, "forged");
    let unsigned = h.unsigned(&Sms::new(PERSON, "unsigned-1", "STOP"));
    refused(&h.send(unsigned).await, "unsigned");
    assert!(
        h.events(PERSON).await.is_empty(),
        "a rejection records nothing"
    );
    assert_eq!(h.check(PERSON).await["reason"], "no_consent");
    let quarantined = h.quarantined().await;
    assert_eq!(quarantined.len(), 2, "one entry each: {quarantined:#?}");
    assert!(quarantined.iter().all(|q| q.provider == provider.as_str()));
    let reasons = h.quarantine_reasons().await;
    let forged_matches = reasons
        .iter()
        .filter(|r| r.contains(expected.forged_reason));
    assert_eq!(forged_matches.count(), 1, "{reasons:?}");
    assert!(
        reasons.iter().any(|r| r == expected.unsigned_reason),
        "{reasons:?}"
    );

    let texts: Vec<Sms> = TEXTS
        .iter()
        .enumerate()
        .map(|(i, (text, _))| Sms::new(PERSON, &format!("text-{i}"), text))
        .collect();
    let [plain, stop, start, help] = &texts[..] else {
        unreachable!("four texts")
    };
    acknowledged(provider, &h.send(h.signed(plain)).await, "plain");
    let stopped = h.send(h.signed(stop)).await;
    acknowledged(provider, &stopped, "STOP");
    let denied = h.check(PERSON).await;
    assert_eq!(denied["allowed"], false, "{denied}");
    assert_eq!(denied["reason"], "opted_out", "{denied}");
    assert_eq!(denied["evidence"]["keyword"], "stop", "{denied}");

    // The provider delivers the STOP again (signed anew: some schemes sign the time).
    let again = h.send(h.signed(stop)).await;
    assert_eq!(
        again, stopped,
        "a redelivery is answered as the first delivery"
    );
    assert_eq!(
        h.events(PERSON).await.len(),
        2,
        "a redelivery records nothing"
    );

    acknowledged(provider, &h.send(h.signed(start)).await, "START");
    acknowledged(provider, &h.send(h.signed(help)).await, "HELP");
    let events = h.events(PERSON).await;
    assert_eq!(events.len(), TEXTS.len(), "{events:#?}");
    for ((sms, (_, kind)), verdict) in texts.iter().zip(TEXTS).zip(expected.verdicts) {
        let event = events
            .iter()
            .find(|e| e.origin.provider_message_id.as_deref() == Some(&sms.message_id))
            .unwrap_or_else(|| panic!("no event for {sms:?}: {events:#?}"));
        assert_eq!(event.kind.as_str(), kind, "{sms:?}");
        assert_eq!(event.origin.provider.as_deref(), Some(provider.as_str()));
        assert_eq!(event.origin.sender.as_deref(), Some(BUSINESS));
        assert_eq!(
            event.origin.provider_verdict.as_deref(),
            verdict,
            "the provider's own verdict on {:?} is kept as evidence",
            sms.text
        );
    }
    assert_eq!(
        h.quarantined().await.len(),
        2,
        "nothing genuine is quarantined"
    );
    assert!(
        h.sns.requested().is_empty(),
        "nothing is fetched: the SNS certificate is the cached test one"
    );
}

mod common_scenario {
    stopgate::test_each_provider!(
        |provider| super::run_common_scenario(super::expected(provider));
        twilio => Twilio,
        telnyx => Telnyx,
        bandwidth => Bandwidth,
        plivo => Plivo,
        ringcentral => Ringcentral,
        sinch_sms => Sinch,
        vonage_sms => Vonage,
        aws => Aws,
    );
}

// --- Sinch's and Vonage's other API -------------------------------------------------------------

#[tokio::test]
async fn sinch_conversation_api_common_scenario() {
    run_common_scenario(Expected {
        secrets: TestSecrets::sinch_conversation(),
        forged_reason: "x-sinch-webhook-signature matches no configured webhook_secret",
        ..expected(Provider::Sinch)
    })
    .await;
}

#[tokio::test]
async fn vonage_messages_api_common_scenario() {
    run_common_scenario(Expected {
        secrets: TestSecrets::vonage_messages(),
        forged_reason: "the JWT signature matches no configured signature_secret",
        // Without a Bearer JWT the body is read as SMS API parameters, and it has none.
        unsigned_reason: "no Authorization: Bearer JWT (Messages API), and no SMS API \
                          parameters to check: parameter sms is not a single value",
        ..expected(Provider::Vonage)
    })
    .await;
}

// --- Signed times ------------------------------------------------------------------------------

/// A genuine request signed `age` ago is refused as late (never as forged), quarantined and
/// records nothing; the same message signed now is recorded. `reason` holds fragments of the
/// quarantine reason (the skew itself may be a second off).
async fn a_request_signed_too_long_ago_is_refused(
    provider: Provider,
    secrets: TestSecrets,
    age: Duration,
    reason: [&str; 2],
) {
    let h = Harness::new(provider, secrets).await;
    let stop = Sms::new(PERSON, "late-1", "STOP");
    refused(
        &h.send(h.signed_at(&stop, Utc::now() - age)).await,
        "signed too long ago",
    );
    assert!(h.events(PERSON).await.is_empty());
    let reasons = h.quarantine_reasons().await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(
        reason.iter().all(|fragment| reasons[0].contains(fragment)),
        "{reasons:?}"
    );

    acknowledged(provider, &h.send(h.signed(&stop)).await, "signed now");
    assert_eq!(h.events(PERSON).await.len(), 1);
    assert_eq!(h.quarantined().await.len(), 1);
}

/// A provider that retries for hours with the signature it first sent: a STOP delivered again
/// hours after it was signed is recorded, and a second delivery of it records nothing new.
async fn a_stop_retried_hours_later_is_recorded(provider: Provider, secrets: TestSecrets) {
    let h = Harness::new(provider, secrets).await;
    let stop = Sms::new(PERSON, "retried-1", "STOP");
    let first_signed = h.signed_at(&stop, Utc::now() - Duration::hours(20));
    acknowledged(provider, &h.send(first_signed.clone()).await, "retried");
    acknowledged(provider, &h.send(first_signed).await, "retried again");
    assert_eq!(h.events(PERSON).await.len(), 1);
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");
    assert!(h.quarantined().await.is_empty());
}

#[tokio::test]
async fn telnyx_refuses_a_timestamp_outside_the_replay_window() {
    let secrets = TestSecrets::for_provider(Provider::Telnyx);
    let reason = [
        "telnyx-timestamp is ",
        "s old, outside the 300 s replay window",
    ];
    let age = Duration::minutes(10);
    a_request_signed_too_long_ago_is_refused(Provider::Telnyx, secrets, age, reason).await;
}

#[tokio::test]
async fn sinch_conversation_takes_a_retry_within_a_day_and_refuses_an_older_one() {
    a_stop_retried_hours_later_is_recorded(Provider::Sinch, TestSecrets::sinch_conversation())
        .await;
    let reason = [
        "x-sinch-webhook-signature-timestamp is ",
        "s old, outside the 86400 s window",
    ];
    let (secrets, age) = (TestSecrets::sinch_conversation(), Duration::hours(25));
    a_request_signed_too_long_ago_is_refused(Provider::Sinch, secrets, age, reason).await;
}

#[tokio::test]
async fn vonage_sms_api_takes_a_retry_within_a_day_and_refuses_an_older_one() {
    a_stop_retried_hours_later_is_recorded(
        Provider::Vonage,
        TestSecrets::for_provider(Provider::Vonage),
    )
    .await;
    let reason = ["timestamp is ", "s old, outside the 90000 s window"];
    let secrets = TestSecrets::for_provider(Provider::Vonage);
    let age = Duration::hours(26);
    a_request_signed_too_long_ago_is_refused(Provider::Vonage, secrets, age, reason).await;
}

#[tokio::test]
async fn vonage_messages_api_takes_a_retry_within_a_day_and_refuses_an_older_one() {
    a_stop_retried_hours_later_is_recorded(Provider::Vonage, TestSecrets::vonage_messages()).await;
    let reason = ["the JWT iat is ", "s old, outside the 90000 s window"];
    let (secrets, age) = (TestSecrets::vonage_messages(), Duration::hours(26));
    a_request_signed_too_long_ago_is_refused(Provider::Vonage, secrets, age, reason).await;
}

// --- Bandwidth ---------------------------------------------------------------------------------

#[tokio::test]
async fn bandwidth_batches_and_delivery_receipts() {
    let h = Harness::new(
        Provider::Bandwidth,
        TestSecrets::for_provider(Provider::Bandwidth),
    )
    .await;

    // A delivery receipt alone is acknowledged and records nothing.
    let mut receipt =
        webhooks::bandwidth_callback(&Sms::new(PERSON, "out-1", "Your order shipped"));
    receipt["type"] = "message-delivered".into();
    let mut request = webhooks::bandwidth_callbacks(&h.endpoint, vec![receipt]);
    h.sign(&mut request);
    acknowledged(Provider::Bandwidth, &h.send(request).await, "receipt");
    assert!(h.events(PERSON).await.is_empty());

    // Two texts in one request are both recorded.
    let batch = [
        Sms::new(PERSON, "batch-1", "Is my order ready?"),
        Sms::new(PERSON, "batch-2", "STOP"),
    ];
    let callbacks = batch.iter().map(webhooks::bandwidth_callback).collect();
    let unsigned = webhooks::bandwidth_callbacks(&h.endpoint, callbacks);
    let mut signed = unsigned.clone();
    h.sign(&mut signed);
    acknowledged(Provider::Bandwidth, &h.send(signed).await, "batch");
    let events = h.events(PERSON).await;
    assert_eq!(events.len(), 2, "{events:#?}");
    assert!(
        events.iter().any(|e| e.kind.as_str() == "opt_out"),
        "{events:#?}"
    );
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");

    // The credentials are checked for the batch as a whole.
    refused(&h.send(unsigned).await, "unsigned batch");
    assert_eq!(h.events(PERSON).await.len(), 2);
    assert_eq!(h.quarantined().await.len(), 1);
}

// --- Plivo -------------------------------------------------------------------------------------

#[tokio::test]
async fn plivo_gets_a_plivo_xml_reply_when_stopgate_writes_replies() {
    let h = Harness::new(Provider::Plivo, TestSecrets::for_provider(Provider::Plivo)).await;
    let policy = TenantPolicy {
        reply_mode: ReplyMode::Stopgate,
        brand_name: Some("Acme".into()),
        ..Default::default()
    };
    h.env.store.put_policy(&h.tenant, policy).await.unwrap();
    let answer = h.send(h.signed(&Sms::new(PERSON, "stop-1", "STOP"))).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.content_type, "text/xml");
    // The reply goes from the business number back to the person, in Plivo's number form.
    assert!(
        answer.body.contains(
            r#"<Message src="14155550100" dst="14155550123" type="sms">Acme: You are unsubscribed"#
        ),
        "{}",
        answer.body
    );
}

// --- RingCentral -------------------------------------------------------------------------------

#[tokio::test]
async fn ringcentral_validation_handshake_echoes_the_token_and_records_nothing() {
    let h = Harness::new(
        Provider::Ringcentral,
        TestSecrets::for_provider(Provider::Ringcentral),
    )
    .await;
    let token = "3f0d6a52-6c1e-4d8a-9b7e-validation-0001";
    let answer = h
        .send(webhooks::ringcentral_validation(&h.endpoint, token))
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.headers,
        vec![("Validation-Token".to_string(), token.to_string())]
    );
    assert_eq!(answer.body, "");
    assert!(h.events(PERSON).await.is_empty());
    assert!(h.quarantined().await.is_empty());

    // A tenant with no token refuses it, so the subscription is never created.
    let no_token = TestSecrets {
        stored: vec![],
        ..TestSecrets::for_provider(Provider::Ringcentral)
    };
    let bare = Harness::new(Provider::Ringcentral, no_token).await;
    let answer = bare
        .send(webhooks::ringcentral_validation(&bare.endpoint, token))
        .await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert!(answer.headers.is_empty(), "{answer:?}");
}

#[tokio::test]
async fn ringcentral_a2p_opt_out_opts_out_with_source_provider() {
    let h = Harness::new(
        Provider::Ringcentral,
        TestSecrets::for_provider(Provider::Ringcentral),
    )
    .await;
    for delivery in ["first", "again"] {
        let mut opt_out = webhooks::ringcentral_a2p(&h.endpoint, PERSON, "a2p-1", true);
        h.sign(&mut opt_out);
        acknowledged(Provider::Ringcentral, &h.send(opt_out).await, delivery);
    }
    let events = h.events(PERSON).await;
    assert_eq!(
        events.len(),
        1,
        "delivered twice, recorded once: {events:#?}"
    );
    assert_eq!(events[0].kind.as_str(), "opt_out");
    assert_eq!(serde_json::to_value(events[0].source).unwrap(), "provider");
    assert_eq!(events[0].origin.provider_verdict.as_deref(), Some("optout"));
    assert_eq!(events[0].origin.sender.as_deref(), Some(BUSINESS));
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");
}

// --- AWS End User Messaging through Amazon SNS -------------------------------------------------

async fn aws_harness(topics: &[&str]) -> Harness {
    let secrets = TestSecrets {
        stored: topics
            .iter()
            .map(|t| ("topic_arn", t.to_string()))
            .collect(),
        ..TestSecrets::for_provider(Provider::Aws)
    };
    Harness::new(Provider::Aws, secrets).await
}

/// `sms` published by `topic`, signed with the test key.
fn aws_from_topic(h: &Harness, sms: &Sms, topic: &str) -> IncomingWebhook {
    let mut request = webhooks::aws(&h.endpoint, sms, topic);
    h.sign(&mut request);
    request
}

#[tokio::test]
async fn aws_either_topic_is_accepted_while_moving_to_a_new_one() {
    let new_topic = "arn:aws:sns:us-east-1:123456789012:stopgate-two-way-sms-2";
    let h = aws_harness(&[sns::TOPIC_ARN, new_topic]).await;
    for (topic, id) in [(sns::TOPIC_ARN, "in-old"), (new_topic, "in-new")] {
        let sms = Sms::new(PERSON, id, "Is my order ready?");
        acknowledged(
            Provider::Aws,
            &h.send(aws_from_topic(&h, &sms, topic)).await,
            id,
        );
    }
    assert_eq!(h.events(PERSON).await.len(), 2);
}

#[tokio::test]
async fn aws_notifications_from_other_topics_are_refused_without_fetching_anything() {
    let h = aws_harness(&[sns::TOPIC_ARN]).await;
    let other = "arn:aws:sns:us-east-1:123456789012:someone-elses-topic";
    let stranger = aws_from_topic(&h, &Sms::new(PERSON, "in-other", "STOP"), other);
    let answer = h.send(stranger).await;
    refused(&answer, "another topic");
    let reasons = h.quarantine_reasons().await;
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("is not a configured topic_arn")),
        "{reasons:?}"
    );
    assert!(
        h.sns.requested().is_empty(),
        "nothing fetched for a stranger"
    );

    // The tenant's topic, but a certificate the edge cannot get: refused, not recorded.
    let mut envelope = sns::fields(&[
        ("Type", "Notification"),
        ("MessageId", "sns-uncached"),
        ("TopicArn", sns::TOPIC_ARN),
        (
            "Message",
            &sns::sms(PERSON, BUSINESS, "STOP", "in-uncached"),
        ),
        ("Timestamp", "2026-11-28T12:00:00.000Z"),
    ]);
    let elsewhere = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-unknown.pem";
    envelope.insert("SigningCertURL".into(), elsewhere.into());
    let uncached = h.post(SNS_CONTENT_TYPE, sns::signed(envelope, "2"));
    refused(&h.send(uncached).await, "uncached certificate");
    assert_eq!(h.sns.requested(), vec![elsewhere.to_string()]);

    assert!(h.events(PERSON).await.is_empty());
    assert_eq!(h.quarantined().await.len(), 2);
}

#[tokio::test]
async fn aws_a_notification_changed_after_signing_is_refused() {
    let h = aws_harness(&[sns::TOPIC_ARN]).await;
    let mut tampered = h.signed(&Sms::new(PERSON, "tampered", "STOP"));
    tampered.body = String::from_utf8(tampered.body)
        .unwrap()
        .replace("tampered", "tampered-again")
        .into_bytes();
    refused(&h.send(tampered).await, "tampered");
    assert!(h.events(PERSON).await.is_empty());
    let reasons = h.quarantine_reasons().await;
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(h.check(PERSON).await["reason"], "no_consent");
}

#[tokio::test]
async fn aws_subscription_confirmation_is_fetched_from_the_topics_sns_host() {
    let h = aws_harness(&[sns::TOPIC_ARN]).await;
    let (body, url) = sns::subscription_confirmation(sns::TOPIC_ARN, Utc::now());
    let answer = h.send(h.post(SNS_CONTENT_TYPE, body)).await;
    acknowledged(Provider::Aws, &answer, "subscription confirmation");
    assert_eq!(h.sns.requested(), vec![url]);

    // Another topic's confirmation is refused and confirms nothing.
    let (body, _) =
        sns::subscription_confirmation("arn:aws:sns:us-east-1:123456789012:not-ours", Utc::now());
    refused(
        &h.send(h.post(SNS_CONTENT_TYPE, body)).await,
        "not our topic",
    );
    assert_eq!(h.sns.requested().len(), 1);
}

#[tokio::test]
async fn aws_stop_with_storage_down_is_captured_and_replayed_once() {
    let h = aws_harness(&[sns::TOPIC_ARN]).await;
    let down = h.service_with_storage_down().await;
    let stop = h.signed(&Sms::new(PERSON, "in-outage", "STOP"));
    acknowledged(Provider::Aws, &down.handle(stop).await, "captured STOP");

    let messages = h.queue.receive(1, None).await.unwrap();
    assert_eq!(messages.len(), 1);
    let captured: CapturedWebhook = serde_json::from_str(&messages[0].1).unwrap();
    assert!(captured.verified);
    for expected in ["recorded", "duplicate"] {
        let outcome = replay(&h.env.store, &h.tenants, &captured).await.unwrap();
        let name = match outcome {
            ReplayOutcome::Recorded(_) => "recorded",
            ReplayOutcome::Duplicate(_) => "duplicate",
            other => panic!("{other:?}"),
        };
        assert_eq!(name, expected);
    }
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");
}
