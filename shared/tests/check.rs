//! The pre-send check against DynamoDB Local: keys and scopes, validation naming the field,
//! sender-group scope, and failing closed when storage is down.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![cfg(feature = "testing")]

use std::sync::Arc;

use chrono::Utc;
use stopgate::api::ApiError;
use stopgate::api::check::CheckService;
use stopgate::api::tenants::Tenants;
use stopgate::consent::{EventKind, SenderGroup, StopScope, TenantPolicy};
use stopgate::phone::E164;
use stopgate::store::{Commit, Store};
use stopgate::testing::{TestEnv, bearer, env, events};

fn service(store: &Store) -> CheckService {
    CheckService::new(store.clone(), Arc::new(Tenants::new(store.clone(), None)))
}

async fn stop_from(env: &TestEnv, tenant: &str, phone: &str, sender: &str, group: Option<&str>) {
    let mut stop = events::event(EventKind::OptOut)
        .tenant(tenant)
        .phone(&E164::parse_e164(phone).unwrap())
        .at(Utc::now())
        .sender(sender)
        .keyword("stop");
    if let Some(group) = group {
        stop = stop.group(group);
    }
    let event = stop.build();
    env.store
        .commit(&Commit {
            event: &event,
            private: None,
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();
}

fn body(from: &str, to: &str, category: &str) -> Vec<u8> {
    serde_json::json!({"from": from, "to": to, "category": category})
        .to_string()
        .into_bytes()
}

#[tokio::test]
async fn keys_must_exist_and_hold_the_check_scope() {
    let env = env().await;
    let tenant = env.new_tenant("keys").await;
    let admin_only = env.api_key(&tenant, &["admin"]).await;
    let service = service(&env.store);
    let request = body("+14155550100", "+14155550123", "conversational");

    assert!(matches!(
        service.check(&http::HeaderMap::new(), &request).await,
        Err(ApiError::Unauthorized(_))
    ));
    assert!(matches!(
        service
            .check(&bearer("sg_live_doesnotexist"), &request)
            .await,
        Err(ApiError::Unauthorized(_))
    ));
    assert!(matches!(
        service.check(&bearer("not-a-key"), &request).await,
        Err(ApiError::Unauthorized(_))
    ));
    let forbidden = service
        .check(&bearer(&admin_only), &request)
        .await
        .unwrap_err();
    assert_eq!(forbidden.status(), 403);
}

#[tokio::test]
async fn every_bad_field_is_named() {
    let env = env().await;
    let tenant = env.new_tenant("fields").await;
    let key = env.api_key(&tenant, &["check"]).await;
    let service = service(&env.store);
    let field = |r: Result<_, ApiError>| match r {
        Err(ApiError::Invalid { field, .. }) => field,
        other => panic!("expected a 400, got {other:?}"),
    };
    assert_eq!(
        field(
            service
                .check(&bearer(&key), &body("+14155550100", "555", "promotional"))
                .await
        ),
        Some("to".into())
    );
    assert_eq!(
        field(
            service
                .check(
                    &bearer(&key),
                    &body("+1 bad", "+14155550123", "promotional")
                )
                .await
        ),
        Some("from".into())
    );
    assert_eq!(
        field(
            service
                .check(&bearer(&key), &body("+14155550100", "+14155550123", "spam"))
                .await
        ),
        Some("category".into())
    );
    let late = serde_json::json!({"from": "+14155550100", "to": "+14155550123", "category": "promotional", "send_at": "2020-01-01T00:00:00Z"});
    assert_eq!(
        field(
            service
                .check(&bearer(&key), late.to_string().as_bytes())
                .await
        ),
        Some("send_at".into())
    );
    let purpose = serde_json::json!({"from": "+14155550100", "to": "+14155550123", "category": "promotional", "purpose": "marketing"});
    assert_eq!(
        field(
            service
                .check(&bearer(&key), purpose.to_string().as_bytes())
                .await
        ),
        Some("purpose".into())
    );
    let missing = serde_json::json!({"from": "+14155550100", "category": "promotional"});
    assert_eq!(
        field(
            service
                .check(&bearer(&key), missing.to_string().as_bytes())
                .await
        ),
        Some("to".into())
    );
    assert!(matches!(
        service.check(&bearer(&key), b"{not json").await,
        Err(ApiError::Invalid { .. })
    ));
}

#[tokio::test]
async fn a_stop_reaches_the_whole_tenant_by_default_and_only_its_group_when_narrowed() {
    let env = env().await;
    let tenant = env.new_tenant("scope").await;
    for (name, sender) in [("alerts", "+14155550100"), ("deals", "+14155550101")] {
        let group = SenderGroup {
            name: name.into(),
            senders: vec![sender.into()],
            program: None,
            brand: None,
            ..Default::default()
        };
        env.store.put_sender_group(&tenant, &group).await.unwrap();
    }
    let key = env.api_key(&tenant, &["check"]).await;
    stop_from(
        &env,
        &tenant,
        "+14155550123",
        "+14155550100",
        Some("alerts"),
    )
    .await;

    let decide = |from: &'static str| {
        let service = service(&env.store);
        let key = key.clone();
        async move {
            service
                .check(&bearer(&key), &body(from, "+14155550123", "conversational"))
                .await
                .unwrap()
        }
    };
    let other_group = decide("+14155550101").await;
    assert_eq!(
        (other_group.allowed, other_group.scope.as_deref()),
        (false, Some("tenant"))
    );

    // Narrowing the policy applies to the old STOP too: scope is decided at read time.
    env.store
        .put_policy(
            &tenant,
            TenantPolicy {
                stop_scope: StopScope::SenderGroup,
                ..TenantPolicy::default()
            },
        )
        .await
        .unwrap();
    let same_group = decide("+14155550100").await;
    assert_eq!(
        (same_group.allowed, same_group.scope.as_deref()),
        (false, Some("group:alerts"))
    );
    let other_group = decide("+14155550101").await;
    assert_ne!(format!("{:?}", other_group.reason), "OptedOut");
}

#[tokio::test]
async fn with_storage_down_the_check_answers_503_never_allowed() {
    let env = env().await;
    let tenant = env.new_tenant("closed").await;
    let key = env.api_key(&tenant, &["check"]).await;
    let down = service(&env.unreachable_store());
    let err = down
        .check(
            &bearer(&key),
            &body("+14155550100", "+14155550123", "conversational"),
        )
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503);
}

#[tokio::test]
async fn a_batch_answers_each_recipient_in_input_order() {
    let env = env().await;
    let tenant = env.new_tenant("batch").await;
    let key = env.api_key(&tenant, &["check"]).await;
    stop_from(&env, &tenant, "+14155550131", "+14155550100", None).await;
    let service = service(&env.store);
    let entry = |to: &str| serde_json::json!({"from": "+14155550100", "to": to, "category": "conversational"});
    let mut checks = vec![
        entry("+14155550130"),
        entry("+14155550131"),
        entry("not a number"),
        entry("(415) 555-0131"),
    ];
    let body = serde_json::json!({"checks": checks}).to_string();
    let answer = service
        .check_batch(&bearer(&key), body.as_bytes())
        .await
        .unwrap();
    let results = answer["results"].as_array().unwrap();
    assert_eq!(results.len(), 4);
    assert_eq!(
        (results[0]["to"].as_str(), results[0]["reason"].as_str()),
        (Some("+14155550130"), Some("no_consent"))
    );
    assert_eq!(
        (
            results[1]["allowed"].as_bool(),
            results[1]["reason"].as_str()
        ),
        (Some(false), Some("opted_out"))
    );
    assert_eq!(results[2]["to"], "not a number");
    assert_eq!(results[2]["error"]["field"], "to");
    assert_eq!(
        results[3]["reason"], "opted_out",
        "the same number twice in one batch"
    );

    checks = (0..1001)
        .map(|i| entry(&format!("+1415555{:04}", i)))
        .collect();
    let too_many = serde_json::json!({"checks": checks}).to_string();
    let err = service
        .check_batch(&bearer(&key), too_many.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 400);
    let down = service_for_down(&env);
    let err = down
        .check_batch(&bearer(&key), body.as_bytes())
        .await
        .unwrap_err();
    assert_eq!(err.status(), 503);
}

fn service_for_down(env: &TestEnv) -> CheckService {
    // Keys and tenant come from a working store; the states from an unreachable one.
    CheckService::new(
        env.unreachable_store(),
        Arc::new(Tenants::new(env.store.clone(), None)),
    )
}
