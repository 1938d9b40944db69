//! The targets, by name, and what they share.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use chrono::{DateTime, Utc};
use proptest::test_runner::TestRunner;
use serde_json::Value;
use stopgate::api::ApiError;
use stopgate::api::tenants::{FRESH_FOR, TenantContext};
use stopgate::consent::{SenderDirectory, TenantPolicy};
use stopgate::keywords::Classifier;
use stopgate::providers::Provider;
use stopgate::store::{TenantRecord, TenantSnapshot};

use crate::harness::{Outcome, Verdict};

mod classifier;
mod cursors;
mod import_csv;
mod json_apis;
mod links;
mod phone;
mod webhooks;

#[derive(Debug)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&mut TestRunner) -> Outcome,
}

/// Every target, in the order they are reported.
pub const TARGETS: &[Target] = &[
    Target {
        name: "classifier",
        run: classifier::run,
    },
    Target {
        name: "phone",
        run: phone::run,
    },
    Target {
        name: "twilio",
        run: |r| webhooks::run(Provider::Twilio, r),
    },
    Target {
        name: "telnyx",
        run: |r| webhooks::run(Provider::Telnyx, r),
    },
    Target {
        name: "bandwidth",
        run: |r| webhooks::run(Provider::Bandwidth, r),
    },
    Target {
        name: "plivo",
        run: |r| webhooks::run(Provider::Plivo, r),
    },
    Target {
        name: "ringcentral",
        run: |r| webhooks::run(Provider::Ringcentral, r),
    },
    Target {
        name: "sinch",
        run: |r| webhooks::run(Provider::Sinch, r),
    },
    Target {
        name: "vonage",
        run: |r| webhooks::run(Provider::Vonage, r),
    },
    Target {
        name: "aws",
        run: |r| webhooks::run(Provider::Aws, r),
    },
    Target {
        name: "cursors",
        run: cursors::run,
    },
    Target {
        name: "links",
        run: links::run,
    },
    Target {
        name: "json_apis",
        run: json_apis::run,
    },
    Target {
        name: "import_csv",
        run: import_csv::run,
    },
];

/// What a client may be told about a bad request: a 4xx (never a 5xx: nothing a client sends
/// may look like an outage) with a JSON body `{"error": {"code", "message", "field"?}}` that
/// names the field when the error does.
pub fn client_error(e: &ApiError) -> Verdict {
    let status = e.status();
    if !(400..500).contains(&status) {
        return Err(format!("answered {status}, not 4xx: {e:?}"));
    }
    let body = e.body();
    let text = |pointer: &str| body.pointer(pointer).and_then(Value::as_str);
    if text("/error/code").is_none_or(str::is_empty) {
        return Err(format!("no error.code in {body}"));
    }
    if text("/error/message").is_none_or(str::is_empty) {
        return Err(format!("no error.message in {body}"));
    }
    let named = match e {
        ApiError::Invalid { field, .. } | ApiError::Conflict { field, .. } => field.as_deref(),
        _ => None,
    };
    if let Some(field) = named
        && text("/error/field") != Some(field)
    {
        return Err(format!("error.field is not {field:?} in {body}"));
    }
    serde_json::from_str::<Value>(&body.to_string())
        .map_err(|e| format!("the error body does not read back as JSON: {e}"))?;
    Ok(())
}

/// A tenant with `policy`, as loaded at `now`, without provider secrets.
pub fn tenant_with(policy: TenantPolicy, now: DateTime<Utc>) -> TenantContext {
    TenantContext {
        classifier: Classifier::new(&policy.keywords),
        snapshot: TenantSnapshot {
            tenant: TenantRecord {
                tenant_id: "events-demo".to_string(),
                created_at: now,
                policy,
            },
            directory: SenderDirectory::default(),
            providers: BTreeMap::new(),
            forms: BTreeMap::new(),
        },
        loaded_at: Instant::now(),
        fresh_for: FRESH_FOR,
        secrets: BTreeMap::new(),
        unopened: BTreeSet::new(),
    }
}
