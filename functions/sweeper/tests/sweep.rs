//! The scheduled sweep against DynamoDB Local, on a table of its own (it visits every tenant):
//! each review past its due date becomes one opt-out of source `review_expired` that lookup
//! and the opt-out list see; reviews not yet due stay open and are counted (the backlog, and
//! those due soon); a second run records nothing.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, Utc};
use stopgate::consent::{EventKind, Source, TenantPolicy};
use stopgate::phone::E164;
use stopgate::store::history::{ChangePosition, EventIndex};
use stopgate::store::reviews::ReviewStatus;
use stopgate::testing::env;
use stopgate_sweeper::Sweeper;

#[tokio::test]
async fn reviews_past_their_due_date_become_opt_outs_once_for_every_tenant() {
    let env = env().await;
    let store = env.fresh_table().await;
    let policy = TenantPolicy {
        review_business_days: 2,
        ..TenantPolicy::default()
    };
    let mut overdue = Vec::new();
    for tenant in ["sweep-a", "sweep-b"] {
        store.create_tenant(tenant, policy.clone()).await.unwrap();
        let phone = E164::parse_e164("+14155550401").unwrap();
        let twenty_days_ago = Utc::now() - Duration::days(20);
        let review_id = env
            .open_review(&store, tenant, &phone, twenty_days_ago)
            .await;
        overdue.push((tenant, phone, review_id));
    }
    let fresh_phone = E164::parse_e164("+14155550402").unwrap();
    let fresh = env
        .open_review(&store, "sweep-a", &fresh_phone, Utc::now())
        .await;

    // Opened 30 hours ago: with two business days it is not due yet, and due within a day or
    // not depending on the weekend in between.
    let waiting_phone = E164::parse_e164("+14155550403").unwrap();
    let thirty_hours_ago = Utc::now() - Duration::hours(30);
    env.open_review(&store, "sweep-b", &waiting_phone, thirty_hours_ago)
        .await;
    let waiting_due = policy.review_due(thirty_hours_ago);
    assert!(waiting_due > Utc::now() + Duration::minutes(5));
    let due_soon = usize::from(waiting_due - Utc::now() <= stopgate::flows::reviews::DUE_SOON);

    let sweeper = Sweeper::with_store(store.clone());
    let summary = sweeper.handle().await.unwrap();
    assert_eq!(summary["tenants"], 2, "{summary}");
    assert_eq!(summary["expired"], 2, "{summary}");
    // The backlog: the fresh review and the waiting one; the fresh one is days from due.
    assert_eq!(summary["open"], 2, "{summary}");
    assert_eq!(summary["due_soon"], due_soon, "{summary}");

    for (tenant, phone, review_id) in &overdue {
        let events = store.events(tenant, phone).await.unwrap();
        let opt_outs: Vec<_> = events
            .iter()
            .filter(|e| e.kind == EventKind::OptOut)
            .collect();
        assert_eq!(opt_outs.len(), 1, "{events:#?}");
        assert_eq!(opt_outs[0].source, Source::ReviewExpired);
        assert_eq!(
            opt_outs[0].review.as_ref().map(|r| r.review_id.as_str()),
            Some(review_id.as_str())
        );
        let record = store.find_review(tenant, review_id).await.unwrap().unwrap();
        assert_eq!(record.status, ReviewStatus::Resolved);
        let (state, _) = store.load_state(tenant, phone).await.unwrap();
        assert!(state.pending_reviews.is_empty());
        // The opt-out list (the change index) sees it.
        let (changes, _) = store
            .changes_page(
                tenant,
                EventIndex::Changes,
                None,
                &ChangePosition {
                    shard: 0,
                    last: None,
                },
                100,
            )
            .await
            .unwrap();
        assert!(
            changes.iter().any(|e| e.source == Source::ReviewExpired),
            "{changes:#?}"
        );
    }
    let open = store.find_review("sweep-a", &fresh).await.unwrap().unwrap();
    assert_eq!(open.status, ReviewStatus::Open, "not yet due");

    let again = sweeper.handle().await.unwrap();
    assert_eq!(again["expired"], 0, "{again}");
    assert_eq!(again["open"], 2, "{again}");
    for (tenant, phone, _) in &overdue {
        let opt_outs = store
            .events(tenant, phone)
            .await
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == EventKind::OptOut)
            .count();
        assert_eq!(opt_outs, 1);
    }
}

#[tokio::test]
async fn private_records_past_a_tenants_retention_are_erased_and_its_events_kept() {
    use stopgate::consent::PrivateEvidence;
    use stopgate::store::Commit;
    use stopgate::testing::events;

    let env = env().await;
    let store = env.fresh_table().await;
    let keeps = TenantPolicy::default();
    let year = TenantPolicy {
        retention_days: Some(365),
        ..TenantPolicy::default()
    };
    store.create_tenant("keeps", keeps).await.unwrap();
    store.create_tenant("year", year.clone()).await.unwrap();
    let text = PrivateEvidence {
        message_text: Some("STOP texting me".into()),
        ..Default::default()
    };
    // The same STOP and reply, two years old and a day old, for each tenant.
    let old = E164::parse_e164("+14155550410").unwrap();
    let new = E164::parse_e164("+14155550411").unwrap();
    for tenant in ["keeps", "year"] {
        for (phone, age) in [(&old, Duration::days(730)), (&new, Duration::days(1))] {
            let at = Utc::now() - age;
            let stop = events::event(EventKind::OptOut)
                .tenant(tenant)
                .phone(phone)
                .at(at)
                .recorded_at(at)
                .keyword("stop")
                .with_private_record()
                .build();
            store
                .commit(&Commit {
                    event: &stop,
                    private: Some(&text),
                    dedupe: None,
                    disclosure: None,
                })
                .await
                .unwrap();
        }
    }
    let private = |tenant: &'static str, phone: &E164| {
        let (store, phone) = (store.clone(), phone.clone());
        async move {
            let event = store.events(tenant, &phone).await.unwrap().remove(0);
            store
                .private_evidence(tenant, &phone, event.event_id.as_str())
                .await
                .unwrap()
        }
    };

    let summary = Sweeper::with_store(store.clone()).handle().await.unwrap();
    assert_eq!(summary["private_records_erased"], 1, "{summary}");
    assert_eq!(private("year", &old).await, None, "past a year: erased");
    assert_eq!(private("year", &new).await, Some(text.clone()));
    assert_eq!(
        private("keeps", &old).await,
        Some(text.clone()),
        "kept by default"
    );

    // The STOP itself stays: in force, in the history, and its chain whole.
    let (state, _) = store.load_state("year", &old).await.unwrap();
    let standings = stopgate::consent::standing::standings(
        &state,
        &year,
        &stopgate::consent::SenderDirectory::default(),
    );
    assert_eq!(
        standings
            .iter()
            .map(|s| s.status.as_str())
            .collect::<Vec<_>>(),
        ["opted_out"],
        "{state:?}"
    );
    let (chain, head) = store.chain("year", &old).await.unwrap();
    assert_eq!(chain.len(), 1);
    assert!(stopgate::consent::chain::verify(&chain, head.as_ref()).intact());

    let again = Sweeper::with_store(store.clone()).handle().await.unwrap();
    assert_eq!(again["private_records_erased"], 0, "{again}");
}
