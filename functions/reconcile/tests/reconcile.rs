//! The scheduled reconciliation against DynamoDB Local, on a table of its own (it visits every
//! tenant), with the providers' lists served from recorded answers: a tenant with Telnyx
//! credentials gets the opt-outs it did not know, once however often the schedule runs; a
//! tenant without credentials is skipped; a tenant whose credentials are incomplete fails the
//! run (so it is retried and alarmed) without holding back the others.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;

use stopgate::api::tenants::Tenants;
use stopgate::consent::{EventKind, Source};
use stopgate::flows::reconcile::{ListCredentials, ListSource, ReconcileError};
use stopgate::phone::E164;
use stopgate::store::{Rotation, Store};
use stopgate::testing::{TestEnv, env};
use stopgate_reconcile::Reconciler;

/// A Telnyx list of two pages, shaped as `GET /v2/messaging_optouts` answers (the HTTPS client
/// itself is tested against recorded answers in shared/tests/reconcile.rs).
const PAGES: [&str; 2] = [
    r#"{"data": [
        {"from": "+14155550100", "to": "+14155550301", "messaging_profile_id": "mp-1",
         "keyword": "STOP", "created_at": "2026-05-28 12:00:38.631252+00:00"},
        {"from": "+14155550100", "to": "+14155550302", "messaging_profile_id": "mp-1",
         "keyword": "UNSUBSCRIBE", "created_at": "2026-05-20 08:15:00.000000+00:00"}
      ], "meta": {"total_pages": 2, "total_results": 3, "page_number": 1, "page_size": 2}}"#,
    r#"{"data": [
        {"from": "+14155550100", "to": "+14155550303", "messaging_profile_id": "mp-1",
         "keyword": null, "created_at": "2026-05-29T09:30:00Z"}
      ], "meta": {"total_pages": 2, "total_results": 3, "page_number": 2, "page_size": 2}}"#,
];

/// The pages above, by page number.
struct Recorded;

impl ListSource for Recorded {
    async fn page(
        &self,
        credentials: &ListCredentials,
        token: Option<&str>,
    ) -> Result<Vec<u8>, ReconcileError> {
        assert!(
            matches!(credentials, ListCredentials::Telnyx { api_key } if api_key == "KEY-sched")
        );
        let page: usize = token.unwrap_or("1").parse().unwrap();
        Ok(PAGES[page - 1].as_bytes().to_vec())
    }
}

async fn with_secrets(
    env: &TestEnv,
    store: &Store,
    tenant: &str,
    provider: &str,
    pairs: &[(&str, &str)],
) {
    let sealer = env.sealer();
    let mut sealed = BTreeMap::new();
    for (name, value) in pairs {
        sealed.insert(
            name.to_string(),
            sealer.seal(tenant, provider, value).await.unwrap(),
        );
    }
    store
        .put_provider_secrets(tenant, provider, sealed, Rotation::Replace)
        .await
        .unwrap();
}

#[tokio::test]
async fn every_tenant_with_credentials_is_reconciled_once_and_the_others_skipped() {
    let env = env().await;
    let store = env.fresh_table().await;
    for tenant in ["with-telnyx", "without", "half-ringcentral"] {
        store
            .create_tenant(tenant, Default::default())
            .await
            .unwrap();
    }
    with_secrets(
        &env,
        &store,
        "with-telnyx",
        "telnyx",
        &[("api_key", "KEY-sched")],
    )
    .await;
    let reconciler = |store: &Store| {
        Reconciler::with(
            store.clone(),
            Tenants::new(store.clone(), Some(env.sealer())),
            Recorded,
        )
    };

    let summary = reconciler(&store).handle().await.unwrap();
    assert_eq!(summary["tenants"], 3, "{summary}");
    assert_eq!(summary["lists"], 1, "{summary}");
    assert_eq!(summary["recorded"], 3, "{summary}");
    let person = E164::parse_e164("+14155550301").unwrap();
    let events = store.events("with-telnyx", &person).await.unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(
        (events[0].kind, events[0].source),
        (EventKind::OptOut, Source::ProviderList)
    );
    assert!(store.events("without", &person).await.unwrap().is_empty());

    let again = reconciler(&store).handle().await.unwrap();
    assert_eq!(again["recorded"], 0, "{again}");
    assert_eq!(store.events("with-telnyx", &person).await.unwrap().len(), 1);

    // Incomplete credentials fail the run; the complete tenant is still reconciled.
    with_secrets(
        &env,
        &store,
        "half-ringcentral",
        "ringcentral",
        &[("client_id", "x")],
    )
    .await;
    let failed = reconciler(&store).handle().await.unwrap_err();
    assert!(
        failed.to_string().contains("1 tenant(s) or provider(s)"),
        "{failed}"
    );
}
