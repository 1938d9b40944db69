//! The holes a security review found, each closed (SECURITY.md names these tests): single-use
//! Plivo nonces, credentials never stored in the clear, a key service outage that captures
//! instead of refusing, rotated-out secrets that expire, revocable and expiring API keys, a
//! bounded quarantine, one tenant per provider secret.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, Utc};
use stopgate::api::auth::{Authenticator, KeyScope};
use stopgate::api::tenants::Tenants;
use stopgate::api::webhook::{IncomingWebhook, ReplayOutcome, WebhookService, replay};
use stopgate::flows::provider_secrets::{self, SetError};
use stopgate::providers::Provider;
use stopgate::store::{CaptureQueue, CapturedWebhook, Rotation};
use stopgate::testing::events::PERSON;
use stopgate::testing::webhooks::Sms;
use stopgate::testing::{Harness, TestEnv, TestSecrets, bearer, env, unique_tenant};

const V3_HEADERS: [&str; 2] = ["x-plivo-signature-v3", "x-plivo-signature-v3-nonce"];

fn without(mut request: IncomingWebhook, names: &[&str]) -> IncomingWebhook {
    for name in names {
        request.headers.remove(*name);
    }
    request
}

fn service(h: &Harness, tenants: Arc<Tenants>) -> WebhookService {
    WebhookService::new(
        h.env.store.clone(),
        tenants,
        Some(h.queue.clone()),
        h.env.config.inbound_budget,
    )
}

async fn captured(queue: &CaptureQueue) -> Vec<CapturedWebhook> {
    let mut all = Vec::new();
    for (receipt, body) in queue.receive(1, None).await.unwrap() {
        all.push(serde_json::from_str(&body).unwrap());
        queue.delete(&receipt).await.unwrap();
    }
    all
}

#[tokio::test]
async fn a_plivo_nonce_is_accepted_once_and_a_tenant_may_require_v3() {
    let h = Harness::new(Provider::Plivo, TestSecrets::for_provider(Provider::Plivo)).await;

    // V2 (no V3 header sent) signs the URL and the nonce, never the body.
    let stop = without(h.signed(&Sms::new(PERSON, "v2-stop", "STOP")), &V3_HEADERS);
    assert_eq!(h.send(stop.clone()).await.status, 200);
    assert_eq!(h.send(stop.clone()).await.status, 200, "a redelivery");
    assert_eq!(h.events(PERSON).await.len(), 1);

    // The observed pair on another body, a forged START: refused and quarantined.
    let mut start = h.unsigned(&Sms::new(PERSON, "v2-start", "START"));
    for name in ["x-plivo-signature-v2", "x-plivo-signature-v2-nonce"] {
        start.headers.insert(name, stop.headers[name].clone());
    }
    let answer = h.send(start).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        h.events(PERSON).await.len(),
        1,
        "the START recorded nothing"
    );
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");
    let reasons = h.quarantine_reasons().await;
    assert!(
        reasons.iter().any(|r| r.contains("nonce was already used")),
        "{reasons:?}"
    );

    // `stopgate provider set <tenant> plivo require_v3=true`
    let settings = BTreeMap::from([("require_v3".to_string(), "true".to_string())]);
    provider_secrets::set_settings(&h.env.store, &h.tenant, Provider::Plivo, &settings)
        .await
        .unwrap();
    let strict = service(&h, h.env.tenants());
    let v2_only = without(h.signed(&Sms::new(PERSON, "v2-only", "HELP")), &V3_HEADERS);
    assert_eq!(strict.handle(v2_only).await.status, 401);
    let both = h.signed(&Sms::new(PERSON, "v3-help", "HELP"));
    assert_eq!(strict.handle(both).await.status, 200);
    let settings = BTreeMap::from([("require_v4".to_string(), "true".to_string())]);
    assert!(matches!(
        provider_secrets::set_settings(&h.env.store, &h.tenant, Provider::Plivo, &settings).await,
        Err(SetError::Invalid(_))
    ));
}

#[tokio::test]
async fn credentials_are_removed_from_quarantine_and_verified_captures() {
    let h = Harness::new(
        Provider::Bandwidth,
        TestSecrets::for_provider(Provider::Bandwidth),
    )
    .await;
    let mut forged = h.forged(&Sms::new(PERSON, "bw-forged", "START"));
    let password_header = forged.headers["authorization"]
        .to_str()
        .unwrap()
        .to_string();
    // A body past the stored cap (and under the size limit).
    let mut body: serde_json::Value = serde_json::from_slice(&forged.body).unwrap();
    body[0]["message"]["text"] = "x".repeat(20_000).into();
    forged.body = serde_json::to_vec(&body).unwrap();
    assert_eq!(h.send(forged.clone()).await.status, 401);

    let quarantined = h.quarantined().await;
    assert_eq!(quarantined.len(), 1);
    let q = &quarantined[0];
    let authorization = q
        .headers
        .iter()
        .find(|(name, _)| name == "authorization")
        .map(|(_, value)| value.as_str());
    assert_eq!(
        authorization,
        Some(format!("<removed: {} bytes>", password_header.len()).as_str())
    );
    assert!(!serde_json::to_string(q).unwrap().contains(&password_header));
    assert_eq!(q.body_bytes, forged.body.len());
    assert_eq!(
        q.body_base64.len(),
        stopgate::store::quarantine::MAX_STORED_BODY.div_ceil(3) * 4
    );
    assert_eq!(q.body_sha256.len(), 64);

    // Storage down: the verified STOP is captured without its credentials.
    let down = h.service_with_storage_down().await;
    let stop = h.signed(&Sms::new(PERSON, "bw-stop", "STOP"));
    let password_header = stop.headers["authorization"].to_str().unwrap().to_string();
    assert_eq!(down.handle(stop).await.status, 200);
    let kept = captured(&h.queue).await;
    assert_eq!(kept.len(), 1);
    assert!(kept[0].verified && kept[0].sealed_credentials.is_none());
    assert!(
        kept[0]
            .headers
            .iter()
            .all(|(name, _)| name != "authorization")
    );
    assert!(
        !serde_json::to_string(&kept[0])
            .unwrap()
            .contains(&password_header)
    );
    let outcome = replay(&h.env.store, &h.tenants, &kept[0]).await.unwrap();
    assert!(matches!(outcome, ReplayOutcome::Recorded(_)), "{outcome:?}");
}

#[tokio::test]
async fn with_the_key_service_down_a_stop_is_captured_not_refused_and_verified_on_replay() {
    let h = Harness::new(
        Provider::Bandwidth,
        TestSecrets::for_provider(Provider::Bandwidth),
    )
    .await;
    let kms_down = Arc::new(Tenants::new(
        h.env.store.clone(),
        Some(h.env.sealer_with_kms_down()),
    ));
    let context = kms_down.get(&h.tenant).await.unwrap().unwrap();
    assert!(context.secrets_unopened("bandwidth"));
    let outage = service(&h, kms_down);

    let stop = h.signed(&Sms::new(PERSON, "kms-stop", "STOP"));
    let forged = h.forged(&Sms::new(PERSON, "kms-forged", "START"));
    for request in [stop, forged] {
        let answer = outage.handle(request).await;
        assert_eq!(answer.status, 200, "captured, not refused: {answer:?}");
    }
    assert!(h.quarantined().await.is_empty(), "nothing refused yet");

    // The key service is back: replay verifies each with the tenant's secrets.
    let mut outcomes = Vec::new();
    for capture in captured(&h.queue).await {
        assert!(!capture.verified);
        outcomes.push(replay(&h.env.store, &h.tenants, &capture).await.unwrap());
    }
    assert_eq!(outcomes.len(), 2);
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, ReplayOutcome::Recorded(_)))
    );
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, ReplayOutcome::Quarantined(_)))
    );
    assert_eq!(h.check(PERSON).await["reason"], "opted_out");
}

#[tokio::test]
async fn an_unverified_capture_keeps_its_credentials_sealed() {
    let h = Harness::new(
        Provider::Bandwidth,
        TestSecrets::for_provider(Provider::Bandwidth),
    )
    .await;
    // The tenant's configuration cannot be read at all (storage down, nothing cached).
    let cold = Arc::new(Tenants::new(
        h.env.unreachable_store(),
        Some(h.env.sealer()),
    ));
    let down = WebhookService::new(
        h.env.unreachable_store(),
        cold,
        Some(h.queue.clone()),
        StdDuration::from_millis(500),
    );
    let stop = h.signed(&Sms::new(PERSON, "sealed-stop", "STOP"));
    let password_header = stop.headers["authorization"].to_str().unwrap().to_string();
    assert_eq!(down.handle(stop).await.status, 200);
    let kept = captured(&h.queue).await;
    assert_eq!(kept.len(), 1);
    assert!(!kept[0].verified);
    assert!(kept[0].sealed_credentials.is_some());
    assert!(
        !serde_json::to_string(&kept[0])
            .unwrap()
            .contains(&password_header)
    );
    let outcome = replay(&h.env.store, &h.tenants, &kept[0]).await.unwrap();
    assert!(matches!(outcome, ReplayOutcome::Recorded(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_rotated_out_secret_is_accepted_until_it_expires_or_is_dropped() {
    let env = env().await;
    let tenant = unique_tenant("rotate");
    env.store
        .create_tenant(&tenant, Default::default())
        .await
        .unwrap();
    let accepts = |env: &TestEnv, tenant: String| {
        let tenants = env.tenants();
        async move {
            let context = tenants.get(&tenant).await.unwrap().unwrap();
            let mut values: Vec<String> = context
                .provider_secrets("twilio")
                .get("auth_token")
                .into_iter()
                .map(str::to_string)
                .collect();
            values.sort();
            values
        }
    };
    let set = |value: &str, rotation: Rotation| {
        let (store, sealer, tenant) = (env.store.clone(), env.sealer(), tenant.clone());
        let secrets = BTreeMap::from([("auth_token".to_string(), value.to_string())]);
        async move {
            provider_secrets::set_secrets(
                &store,
                &sealer,
                &tenant,
                Provider::Twilio,
                &secrets,
                rotation,
            )
            .await
            .unwrap()
        }
    };

    set("token-a", Rotation::KeepPrevious(Duration::days(7))).await;
    set("token-b", Rotation::KeepPrevious(Duration::days(7))).await;
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-a", "token-b"]);
    set("token-c", Rotation::KeepPrevious(Duration::seconds(1))).await;
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-b", "token-c"]);
    tokio::time::sleep(StdDuration::from_millis(1100)).await;
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-c"], "expired");

    set("token-d", Rotation::KeepPrevious(Duration::days(7))).await;
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-c", "token-d"]);
    env.store
        .drop_previous_secrets(&tenant, "twilio")
        .await
        .unwrap();
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-d"], "dropped");

    set("token-e", Rotation::Replace).await;
    assert_eq!(accepts(&env, tenant.clone()).await, ["token-e"], "replaced");
}

#[tokio::test]
async fn a_provider_secret_that_does_not_bind_the_tenant_serves_one_tenant() {
    let env = env().await;
    let (a, b) = (unique_tenant("share-a"), unique_tenant("share-b"));
    for tenant in [&a, &b] {
        env.store
            .create_tenant(tenant, Default::default())
            .await
            .unwrap();
    }
    let public_key = format!("telnyx-public-key-{}", ulid::Ulid::new());
    let secrets = BTreeMap::from([("public_key".to_string(), public_key.clone())]);
    let set = |tenant: &str, provider: Provider, secrets: &BTreeMap<String, String>| {
        let (store, sealer, tenant, secrets) = (
            env.store.clone(),
            env.sealer(),
            tenant.to_string(),
            secrets.clone(),
        );
        async move {
            let rotation = Rotation::KeepPrevious(Duration::days(7));
            provider_secrets::set_secrets(&store, &sealer, &tenant, provider, &secrets, rotation)
                .await
        }
    };
    set(&a, Provider::Telnyx, &secrets).await.unwrap();
    set(&a, Provider::Telnyx, &secrets).await.unwrap();
    let refused = set(&b, Provider::Telnyx, &secrets).await;
    assert!(
        matches!(refused, Err(SetError::HeldByAnotherTenant { .. })),
        "{refused:?}"
    );
    assert!(
        env.tenants()
            .get(&b)
            .await
            .unwrap()
            .unwrap()
            .provider_secrets("telnyx")
            .get("public_key")
            .is_empty(),
        "nothing stored for the second tenant"
    );
    // Twilio signs the URL, which names the tenant: the same token may serve both.
    let token = BTreeMap::from([("auth_token".to_string(), public_key)]);
    set(&a, Provider::Twilio, &token).await.unwrap();
    set(&b, Provider::Twilio, &token).await.unwrap();
}

#[tokio::test]
async fn api_keys_can_expire_and_be_revoked_and_list_without_the_key() {
    let env = env().await;
    let tenant = env.new_tenant("keys").await;
    let key = env.api_key(&tenant, &["check"]).await;
    let auth = Authenticator::with_cache_for(env.store.clone(), StdDuration::from_millis(300));
    auth.authenticate(&bearer(&key), &[KeyScope::Check])
        .await
        .unwrap();
    let forbidden = auth
        .authenticate(&bearer(&key), &[KeyScope::Admin])
        .await
        .unwrap_err();
    assert_eq!(forbidden.status(), 403);

    let listed = env.store.api_keys(&tenant).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_used_at.is_some(), "its use is noted");
    assert!(!format!("{listed:?}").contains(&key));

    let key_id = listed[0].key_id.clone();
    env.store
        .revoke_api_key(&tenant, &key_id, Utc::now())
        .await
        .unwrap();
    // Within the cache's lifetime the warm function may still take it; after, never.
    tokio::time::sleep(StdDuration::from_millis(350)).await;
    let revoked = auth
        .authenticate(&bearer(&key), &[KeyScope::Check])
        .await
        .unwrap_err();
    assert_eq!(revoked.status(), 401);
    assert!(revoked.to_string().contains("revoked"), "{revoked}");
    let listed = env.store.api_keys(&tenant).await.unwrap();
    assert!(listed[0].revoked && listed[0].revoked_at.is_some());
    assert!(
        listed[0].last_used_at.is_some(),
        "revoking keeps the last use"
    );
    assert!(
        env.store
            .revoke_api_key(&tenant, "key_unknown", Utc::now())
            .await
            .is_err()
    );

    // A key past its expiry is refused.
    let (expiring, expiring_id) = stopgate::api::auth::generate_key();
    let created = Utc::now() - Duration::days(2);
    let record = stopgate::store::ApiKeyRecord::new(
        expiring_id,
        &tenant,
        vec!["check".into()],
        created,
        Some(created + Duration::days(1)),
    );
    env.store
        .put_api_key(&stopgate::api::auth::hash_key(&expiring), &record)
        .await
        .unwrap();
    let expired = auth
        .authenticate(&bearer(&expiring), &[KeyScope::Check])
        .await
        .unwrap_err();
    assert!(expired.to_string().contains("expired"), "{expired}");
}

#[tokio::test]
async fn a_flood_of_forgeries_is_answered_but_only_a_minutes_share_is_stored() {
    let h = Harness::new(
        Provider::Twilio,
        TestSecrets::for_provider(Provider::Twilio),
    )
    .await;
    let limit = stopgate::store::quarantine::MAX_PER_MINUTE;
    let mut requests = Vec::new();
    for i in 0..limit + 15 {
        requests.push(h.forged(&Sms::new(PERSON, &format!("flood-{i}"), "START")));
    }
    // Sent within one minute (received_at shares the minute).
    let minute = Utc::now();
    for mut request in requests {
        request.received_at = minute;
        assert_eq!(h.send(request).await.status, 401);
    }
    let stored = h.quarantined().await.len();
    assert_eq!(stored, limit as usize, "the rest were only counted");
    assert!(h.events(PERSON).await.is_empty());
}
