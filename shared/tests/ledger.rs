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

#[tokio::test]
async fn each_numbers_events_form_a_hash_chain_that_names_an_edited_or_removed_event() {
    use stopgate::consent::chain::{BrokenLink, verify};

    let env = env().await;
    let tenant = unique_tenant("chain");
    let phone = E164::parse_e164("+14155550127").unwrap();
    // Concurrent writers: the state's version keeps the chain linear.
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = env.store.clone();
        let kind = [EventKind::OptOut, EventKind::Inbound][i % 2];
        let e = event(&tenant, &phone, kind, Utc::now(), &format!("SMchain{i}"));
        tasks.push(tokio::spawn(async move {
            let claim = claim(&format!("SMchain{i}"), None);
            store
                .commit(&Commit {
                    event: &e,
                    private: None,
                    dedupe: Some(claim),
                    disclosure: None,
                })
                .await
                .unwrap()
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
    let (events, head) = env.store.chain(&tenant, &phone).await.unwrap();
    let head = head.expect("the state carries the head");
    assert_eq!(head.seq, 6);
    let mut seqs: Vec<u64> = events
        .iter()
        .map(|e| e.link.as_ref().unwrap().seq)
        .collect();
    seqs.sort();
    assert_eq!(seqs, [1, 2, 3, 4, 5, 6]);
    let report = verify(&events, Some(&head));
    assert!(report.intact(), "{report:?}");
    assert_eq!((report.events, report.unchained), (6, 0));

    // Rebuilding the state keeps the head.
    env.store.rebuild_state(&tenant, &phone).await.unwrap();
    let (_, again) = env.store.chain(&tenant, &phone).await.unwrap();
    assert_eq!(again.as_ref(), Some(&head));

    // An opt-out quietly turned into an ordinary message is named.
    let mut by_seq = events.clone();
    by_seq.sort_by_key(|e| e.link.as_ref().unwrap().seq);
    let victim = by_seq
        .iter()
        .find(|e| e.doc.contains("\"opt_out\""))
        .unwrap()
        .clone();
    let edited = victim.doc.replacen("\"opt_out\"", "\"inbound\"", 1);
    env.tamper_with_event(&tenant, &phone, &victim.event_id, Some(&edited))
        .await;
    let (events, head) = env.store.chain(&tenant, &phone).await.unwrap();
    assert_eq!(
        verify(&events, head.as_ref()).broken,
        Some(BrokenLink::Altered {
            event_id: victim.event_id.clone(),
            seq: victim.link.as_ref().unwrap().seq,
        })
    );

    // Put back, then remove one: the gap is named.
    env.tamper_with_event(&tenant, &phone, &victim.event_id, Some(&victim.doc))
        .await;
    let (events, head) = env.store.chain(&tenant, &phone).await.unwrap();
    assert!(verify(&events, head.as_ref()).intact());
    let removed = &by_seq[2];
    env.tamper_with_event(&tenant, &phone, &removed.event_id, None)
        .await;
    let (events, head) = env.store.chain(&tenant, &phone).await.unwrap();
    assert_eq!(
        verify(&events, head.as_ref()).broken,
        Some(BrokenLink::Missing { seq: 3 })
    );
}
