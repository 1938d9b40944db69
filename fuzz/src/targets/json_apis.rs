//! `json_apis`: the request bodies of every JSON API, read and validated exactly as the handlers
//! do before anything is loaded or stored: `POST /v1/check` (and its answer over an empty
//! ledger), `/v1/check/batch`, `/v1/consents` (and the event it becomes), `/v1/numbers/lookup`,
//! `/history` (with its cursor), `/redact`, `/v1/reviews/{id}`, `/v1/imports` and `/v1/links`;
//! under a lenient and a strict tenant policy. Bodies: arbitrary bytes, arbitrary JSON with the APIs' field
//! names, the sample requests in events/ mutated as bytes and as JSON, and bodies over the size
//! limit.
//! Properties: no panic; a body is accepted or refused with a 4xx (never a 5xx) whose JSON names
//! `error.code` (and `error.field` when the error has one); a body over the limit is refused
//! with 413 whatever it holds, valid or not, so nothing larger is ever parsed.

use chrono::{DateTime, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::Union;
use proptest::test_runner::TestRunner;
use serde_json::{Value, json};
use stopgate::api::ApiError;
use stopgate::api::check::{self, BatchRequest, CheckRequest, MAX_BATCH_BODY_BYTES};
use stopgate::api::consents::{CursorUse, PhoneRequest};
use stopgate::api::cursor::Cursors;
use stopgate::api::http::{MAX_BODY_BYTES, parse_json};
use stopgate::api::imports::UploadRequest;
use stopgate::api::links::LinkRequest;
use stopgate::api::reviews::ReviewChange;
use stopgate::api::tenants::TenantContext;
use stopgate::consent::record::{ConsentRequest, MissingDisclosure};
use stopgate::consent::{Actor, NumberState, TenantPolicy};
use stopgate::store::history::HistoryPosition;

use super::client_error;
use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{Bytes, hostile_bytes, json_value, mutated_bytes, mutated_json};
use crate::samples;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Api {
    Check,
    Batch,
    Consents,
    Lookup,
    History,
    Redact,
    Review,
    Upload,
    Links,
}

const APIS: [Api; 9] = [
    Api::Check,
    Api::Batch,
    Api::Consents,
    Api::Lookup,
    Api::History,
    Api::Redact,
    Api::Review,
    Api::Upload,
    Api::Links,
];

impl Api {
    /// The largest body the route reads.
    fn limit(self) -> usize {
        match self {
            Api::Batch => MAX_BATCH_BODY_BYTES,
            _ => MAX_BODY_BYTES,
        }
    }
}

#[derive(Debug, Clone)]
struct Case {
    api: Api,
    /// Under a tenant that takes only E.164 numbers (else the default, lenient US policy).
    strict: bool,
    body: Bytes,
}

/// Valid bodies of every route: the samples in events/, and what they lack.
fn valid_bodies() -> Vec<Value> {
    let mut bodies: Vec<Value> = ["check", "consents", "numbers", "reviews", "links"]
        .into_iter()
        .flat_map(samples::api)
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    let checks: Vec<Value> = samples::api("check")
        .iter()
        .filter_map(|r| serde_json::from_slice(&r.body).ok())
        .collect();
    bodies.extend([
        json!({ "checks": checks }),
        json!({"from": "+14155550100", "to": "+14155550142", "category": "conversational",
               "purpose": "help_reply", "reply_to": "01J00000000000000000000000",
               "message_key": "m-1", "send_at": "2026-11-28T13:00:00Z",
               "location": {"state": "FL", "zip": "33101", "time_zone": "America/New_York"}}),
        json!({"phone": "+14155550142", "cursor": "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"}),
        json!({"resolution": "opt_out", "owner": "ana"}),
        json!({"filename": "consents.csv", "size": 1234}),
        json!({}),
    ]);
    bodies
}

fn body() -> impl Strategy<Value = Vec<u8>> {
    let valid = valid_bodies();
    let texts: Vec<Vec<u8>> = valid
        .iter()
        .map(|v| serde_json::to_vec_pretty(v).unwrap_or_default())
        .collect();
    let oversized = (
        select(texts.clone()),
        prop_oneof![Just(b' '), Just(b'x'), Just(b'\n')],
        select(APIS.to_vec()),
        1..2048usize,
    )
        .prop_map(|(mut body, pad, api, extra)| {
            body.resize(api.limit() + extra, pad);
            body
        });
    let blank = (0..2048usize, select(vec![b' ', b'\n', b'\t', b'\r']))
        .prop_map(|(n, b)| vec![b; MAX_BODY_BYTES - 1024 + n]);
    Union::new_weighted(vec![
        (1, select(texts.clone()).boxed()),
        (8, mutated_json(valid).boxed()),
        (4, mutated_bytes(texts).boxed()),
        (
            3,
            json_value()
                .prop_map(|v| v.to_string().into_bytes())
                .boxed(),
        ),
        (2, hostile_bytes()),
        (1, oversized.boxed()),
        (1, blank.boxed()),
    ])
}

fn case() -> impl Strategy<Value = Case> {
    (select(APIS.to_vec()), proptest::bool::weighted(0.3), body()).prop_map(
        |(api, strict, body)| Case {
            api,
            strict,
            body: Bytes(body),
        },
    )
}

struct Checker {
    now: DateTime<Utc>,
    lenient: TenantContext,
    strict: TenantContext,
    cursors: Cursors,
}

impl Checker {
    fn new() -> Checker {
        let now = samples::now();
        let strict = TenantPolicy {
            strict_e164: true,
            default_region: "GB".to_string(),
            ..TenantPolicy::default()
        };
        Checker {
            now,
            lenient: super::tenant_with(TenantPolicy::default(), now),
            strict: super::tenant_with(strict, now),
            cursors: Cursors::new([7; 32]),
        }
    }

    /// What the route's handler does with the body before it loads or stores anything.
    fn read(&self, api: Api, tenant: &TenantContext, body: &[u8]) -> Result<(), ApiError> {
        let policy = &tenant.snapshot.tenant.policy;
        let now = self.now;
        match api {
            Api::Check => {
                let request: CheckRequest = parse_json(body)?;
                let valid = request.validate(policy, now)?;
                let _ = check::answer(&valid, tenant, &NumberState::default(), now);
            }
            Api::Batch => {
                let batch = BatchRequest::read(body)?;
                for request in &batch.checks {
                    // Each refusal is answered inside the 200, as the error of its entry.
                    if let Err(e) = request.validate(policy, now) {
                        client_error(&e).map_err(ApiError::Unavailable)?;
                    }
                }
            }
            Api::Consents => {
                let request: ConsentRequest = parse_json(body)?;
                let valid = request.validate(policy, now, MissingDisclosure::Refuse)?;
                let actor = Actor::ApiKey {
                    key_id: "key".into(),
                };
                let (event, _private) = valid.event("events-demo", actor, now, now);
                let _ = (valid.override_refusal(), valid.disclosure(&event));
            }
            Api::Lookup => {
                PhoneRequest::read(body, CursorUse::Refuse)?.phone(policy)?;
            }
            Api::History => {
                let request = PhoneRequest::read(body, CursorUse::Read)?;
                let phone = request.phone(policy)?;
                if let Some(cursor) = &request.cursor {
                    let binding = format!("events-demo|history|{}", phone.as_str());
                    self.cursors.open::<HistoryPosition>(&binding, cursor)?;
                }
            }
            Api::Redact => {
                PhoneRequest::read(body, CursorUse::Ignore)?.phone(policy)?;
            }
            Api::Review => {
                ReviewChange::read(body)?;
            }
            Api::Upload => {
                UploadRequest::read(body)?;
            }
            Api::Links => {
                LinkRequest::read(body)?.phone(policy)?;
            }
        }
        Ok(())
    }

    fn property(&self, case: Case) -> Verdict {
        let tenant = if case.strict {
            &self.strict
        } else {
            &self.lenient
        };
        let body = &case.body.0;
        let oversized = body.len() > case.api.limit();
        match self.read(case.api, tenant, body) {
            Ok(()) if oversized => Err(format!(
                "a {}-byte body was accepted over the {}-byte limit",
                body.len(),
                case.api.limit()
            )),
            Ok(()) => Ok(()),
            Err(e) => {
                client_error(&e)?;
                if oversized && !matches!(e, ApiError::TooLarge { .. }) {
                    return Err(format!(
                        "a {}-byte body was refused as {e:?}, not as too large",
                        body.len()
                    ));
                }
                Ok(())
            }
        }
    }
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    let checker = Checker::new();
    check(runner, case(), |case| checker.property(case))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_bodies_and_oversized_ones_hold_the_properties() {
        let checker = Checker::new();
        for body in valid_bodies() {
            for api in APIS {
                for strict in [false, true] {
                    let text = serde_json::to_vec(&body).unwrap_or_default();
                    let case = Case {
                        api,
                        strict,
                        body: Bytes(text.clone()),
                    };
                    assert_eq!(checker.property(case), Ok(()), "{api:?} {body}");
                    let mut oversized = text;
                    oversized.resize(api.limit() + 1, b' ');
                    let case = Case {
                        api,
                        strict,
                        body: Bytes(oversized),
                    };
                    assert_eq!(checker.property(case), Ok(()), "{api:?} {body}");
                }
            }
        }
    }

    #[test]
    fn the_samples_are_accepted_by_their_routes() {
        let checker = Checker::new();
        for (prefix, api) in [
            ("check-promotional", Api::Check),
            ("check-conversational", Api::Check),
            ("consents-opt-in", Api::Consents),
            ("consents-opt-out", Api::Consents),
            ("numbers-lookup", Api::Lookup),
            ("numbers-history", Api::History),
            ("numbers-redact", Api::Redact),
            ("reviews-resolve", Api::Review),
            ("links-create", Api::Links),
        ] {
            for sample in samples::api(prefix) {
                assert_eq!(
                    checker.read(api, &checker.lenient, &sample.body),
                    Ok(()),
                    "{prefix}"
                );
            }
        }
    }
}
