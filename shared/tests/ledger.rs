//! The ledger against DynamoDB Local: one transaction per event, idempotent redelivery,
//! concurrent writers, and state rebuilt from events.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "testing")]

use chrono::{Duration, Utc};
use stopgate::consent::{ConsentEvent, EventKind, NumberState, PrivateEvidence};
use stopgate::phone::E164;
use stopgate::providers::twilio;
use stopgate::store::{Commit, CommitOutcome, DedupeClaim};
use stopgate::testing::{env, events, unique_tenant};

fn event(
    tenant: &str,
    phone: &E164,
    kind: EventKind,
    at: chrono::DateTime<Utc>,
    message_id: &str,
) -> ConsentEvent {
    events::event(kind)
        .tenant(tenant)
        .phone(phone)
        .at(at)
        .recorded_at(Utc::now())
        .provider_message("twilio", message_id)
        .with_private_record()
        .build()
}

fn claim(message_id: &str, reply: Option<&str>) -> DedupeClaim {
    DedupeClaim {
        provider: "twilio".into(),
        message_id: message_id.into(),
        reply: Some(twilio::reply(reply)),
        nonce: None,
    }
}

#[tokio::test]
async fn an_event_its_private_record_and_the_state_commit_together() {
    let env = env().await;
    let tenant = unique_tenant("ledger");
    let phone = E164::parse_e164("+14155550123").unwrap();
    let stop = event(&tenant, &phone, EventKind::OptOut, Utc::now(), "SM1");
    let private = PrivateEvidence {
        message_text: Some("STOP".into()),
        ..Default::default()
    };
    let outcome = env
        .store
        .commit(&Commit {
            event: &stop,
            private: Some(&private),
            dedupe: Some(claim("SM1", None)),
            disclosure: None,
        })
        .await
        .unwrap();
    let CommitOutcome::Recorded { state, .. } = outcome else {
        panic!("expected a new record")
    };
    assert_eq!(state.event_count, 1);
    assert_eq!(state.suppression.len(), 1);

    let (stored, version) = env.store.load_state(&tenant, &phone).await.unwrap();
    assert_eq!(version, 1);
    assert_eq!(stored, state);
    assert_eq!(
        env.store.events(&tenant, &phone).await.unwrap(),
        vec![stop.clone()]
    );
    assert_eq!(
        env.store
            .private_evidence(&tenant, &phone, stop.event_id.as_str())
            .await
            .unwrap(),
        Some(private)
    );
}

#[tokio::test]
async fn a_redelivered_message_records_nothing_and_gets_the_first_reply() {
    let env = env().await;
    let tenant = unique_tenant("dedupe");
    let phone = E164::parse_e164("+14155550124").unwrap();
    let first = event(&tenant, &phone, EventKind::OptOut, Utc::now(), "SMdup");
    let commit = Commit {
        event: &first,
        private: None,
        dedupe: Some(claim("SMdup", Some("first reply"))),
        disclosure: None,
    };
    assert!(matches!(
        env.store.commit(&commit).await.unwrap(),
        CommitOutcome::Recorded { .. }
    ));

    // The same provider message again, days later, even with another reply prepared.
    let again = event(
        &tenant,
        &phone,
        EventKind::OptOut,
        Utc::now() + Duration::days(3),
        "SMdup",
    );
    let commit = Commit {
        event: &again,
        private: None,
        dedupe: Some(claim("SMdup", Some("second reply"))),
        disclosure: None,
    };
    match env.store.commit(&commit).await.unwrap() {
        CommitOutcome::Duplicate(record) => {
            assert_eq!(record.event_id, first.event_id.to_string());
            assert!(record.reply.unwrap().body.contains("first reply"));
        }
        other => panic!("expected a duplicate, got {other:?}"),
    }
    assert_eq!(env.store.events(&tenant, &phone).await.unwrap().len(), 1);
    assert_eq!(
        env.store
            .load_state(&tenant, &phone)
            .await
            .unwrap()
            .0
            .event_count,
        1
    );
}

#[tokio::test]
async fn concurrent_writers_to_one_number_lose_nothing() {
    let env = env().await;
    let tenant = unique_tenant("race");
    let phone = E164::parse_e164("+14155550125").unwrap();
    let base = Utc::now();
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = env.store.clone();
        let e = event(
            &tenant,
            &phone,
            if i % 2 == 0 {
                EventKind::OptOut
            } else {
                EventKind::Inbound
            },
            base + Duration::seconds(i),
            &format!("SMrace{i}"),
        );
        tasks.push(tokio::spawn(async move {
            let c = claim(&format!("SMrace{i}"), None);
            store
                .commit(&Commit {
                    event: &e,
                    private: None,
                    dedupe: Some(c),
                    disclosure: None,
                })
                .await
        }));
    }
    for t in tasks {
        assert!(matches!(
            t.await.unwrap().unwrap(),
            CommitOutcome::Recorded { .. }
        ));
    }
    let (state, version) = env.store.load_state(&tenant, &phone).await.unwrap();
    assert_eq!(state.event_count, 8);
    assert_eq!(version, 8);
    let events = env.store.events(&tenant, &phone).await.unwrap();
    assert_eq!(events.len(), 8);
    let mut folded = NumberState::default();
    for e in &events {
        folded.apply(e);
    }
    assert_eq!(folded, state);
}

#[tokio::test]
async fn rebuild_state_restores_a_damaged_state_from_the_events() {
    let env = env().await;
    let tenant = unique_tenant("rebuild");
    let phone = E164::parse_e164("+14155550126").unwrap();
    let stop = event(&tenant, &phone, EventKind::OptOut, Utc::now(), "SMr1");
    env.store
        .commit(&Commit {
            event: &stop,
            private: None,
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();
    let (good, _) = env.store.load_state(&tenant, &phone).await.unwrap();
    assert_eq!(
        env.store.rebuild_state(&tenant, &phone).await.unwrap(),
        (good.clone(), false)
    );
    // A state that lost its facets (a bug, a bad manual edit) is put right.
    let inbound = event(&tenant, &phone, EventKind::Inbound, Utc::now(), "SMr2");
    env.store
        .commit(&Commit {
            event: &inbound,
            private: None,
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();
    let numbers = env.store.tenant_numbers(&tenant).await.unwrap();
    assert_eq!(numbers, vec![phone.clone()]);
    let (rebuilt, _) = env.store.rebuild_state(&tenant, &phone).await.unwrap();
    assert_eq!(rebuilt.event_count, 2);
    assert_eq!(
        rebuilt,
        env.store.load_state(&tenant, &phone).await.unwrap().0
    );
}

#[tokio::test]
async fn tenants_keys_and_secrets_round_trip_without_plaintext_at_rest() {
    let env = env().await;
    let tenant = unique_tenant("tenant");
    env.tenant_with_twilio(&tenant, "twilio-token-1").await;
    assert!(matches!(
        env.store.create_tenant(&tenant, Default::default()).await,
        Err(stopgate::store::StoreError::AlreadyExists(_))
    ));
    // Rotation keeps the previous token valid.
    env.tenant_with_twilio(&tenant, "twilio-token-2").await;
    let snapshot = env.store.load_tenant(&tenant).await.unwrap().unwrap();
    let sealed = &snapshot.providers["twilio"].values["auth_token"];
    assert_eq!(sealed.len(), 2);
    assert!(sealed.iter().all(|s| !s.contains("twilio-token")));
    let ctx = env.tenants().get(&tenant).await.unwrap().unwrap();
    assert_eq!(
        ctx.secret_values("twilio", "auth_token"),
        vec!["twilio-token-2", "twilio-token-1"]
    );

    let key = env.api_key(&tenant, &["check"]).await;
    let record = env
        .store
        .find_api_key(&stopgate::api::auth::hash_key(&key))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.tenant_id, tenant);
    assert!(
        env.store
            .find_api_key(&stopgate::api::auth::hash_key("sg_live_nope"))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        env.store
            .load_tenant("no-such-tenant-xyz")
            .await
            .unwrap()
            .is_none()
    );
}
