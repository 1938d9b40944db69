//! The hosted pages' storage against DynamoDB Local: rate-limit counters that concurrent posts
//! cannot overshoot, and forms whose every change is a new version.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::{Duration, TimeZone, Utc};
use stopgate::store::StoreError;
use stopgate::store::rate_limits::RateLimit;
use stopgate::testing::env;

#[tokio::test]
async fn a_rate_limit_holds_under_concurrent_posts_and_resets_with_its_window() {
    let env = env().await;
    let tenant = env.new_tenant("rate-limits").await;
    let limit = RateLimit {
        name: "test-limit",
        limit: 5,
        window_secs: 3600,
    };
    let now = Utc
        .with_ymd_and_hms(2026, 6, 1, 12, 10, 0)
        .single()
        .unwrap();
    let takes = (0..12).map(|_| {
        let store = env.store.clone();
        let tenant = tenant.clone();
        tokio::spawn(async move {
            store
                .take_rate(&tenant, &limit, "203.0.113.5", now)
                .await
                .unwrap()
        })
    });
    let mut allowed = 0;
    for take in takes {
        if take.await.unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5, "exactly the limit, however they race");
    assert!(
        env.store
            .take_rate(&tenant, &limit, "203.0.113.6", now)
            .await
            .unwrap(),
        "another key has its own count"
    );
    assert!(
        env.store
            .take_rate(&tenant, &limit, "203.0.113.5", now + Duration::hours(1))
            .await
            .unwrap(),
        "the next window starts again"
    );
}

#[tokio::test]
async fn every_form_change_is_the_next_version_and_a_stale_write_conflicts() {
    let env = env().await;
    let tenant = env.new_tenant("forms").await;
    let first = env
        .form(&tenant, "join", "deals", &["+14155550100"], true)
        .await;
    assert_eq!(first.version, 1);
    let second = env
        .store
        .put_form(
            &tenant,
            &stopgate::consent::forms::FormConfig {
                double_opt_in: false,
                ..first.clone()
            },
        )
        .await
        .unwrap();
    assert_eq!(second.version, 2);
    let snapshot = env.store.load_tenant(&tenant).await.unwrap().unwrap();
    assert_eq!(snapshot.forms["join"], second);
    // Concurrent changes: each one that succeeds is a version of its own; the others conflict
    // rather than overwrite it.
    let racing = (0..4).map(|_| {
        let store = env.store.clone();
        let tenant = tenant.clone();
        let form = second.clone();
        tokio::spawn(async move { store.put_form(&tenant, &form).await })
    });
    let mut versions = Vec::new();
    for result in racing {
        match result.await.unwrap() {
            Ok(stored) => versions.push(stored.version),
            Err(StoreError::Conflict) => {}
            Err(e) => panic!("{e}"),
        }
    }
    versions.sort();
    versions.dedup();
    assert!(!versions.is_empty());
    let last = env.store.load_tenant(&tenant).await.unwrap().unwrap().forms["join"].version;
    assert_eq!(
        last,
        2 + versions.len() as u64,
        "no version written twice: {versions:?}"
    );
}
