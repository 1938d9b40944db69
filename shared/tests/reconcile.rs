//! Reconciliation against DynamoDB Local, with the providers' list APIs served by a local HTTP
//! server from recorded, real-shaped answers (tests/fixtures/reconcile): the requests carry
//! the tenant's credentials and page as each API expects; what Stopgate did not know is
//! recorded once as `provider_list` opt-outs; what Stopgate opted in and the provider still
//! blocks, and what Stopgate opted out and the provider accepts, are reported; a dry run writes
//! nothing; a tenant without credentials is skipped.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use serde_json::Value;
use stopgate::api::optout_lists::{Endpoints, OptOutLists};
use stopgate::consent::{EventKind, Source, TimeSource};
use stopgate::flows::reconcile::{Outcome, Report, reconcile_tenant};
use stopgate::phone::E164;
use stopgate::providers::Provider;
use stopgate::store::{Commit, Store};
use stopgate::testing::{TestEnv, env, events};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/reconcile");

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!("{FIXTURES}/{name}")).unwrap()
}

/// A request as the local server received it.
#[derive(Debug, Clone)]
struct Seen {
    method: String,
    target: String,
    headers: BTreeMap<String, String>,
    body: String,
}

/// Serves recorded answers on 127.0.0.1: `route` picks the fixture for a request (None: 404).
async fn serve(route: fn(&Seen) -> Option<&'static str>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let log = log.clone();
            tokio::spawn(async move {
                let mut buffer = Vec::new();
                let mut chunk = [0u8; 4096];
                let head_end = loop {
                    let n = stream.read(&mut chunk).await.unwrap();
                    if n == 0 {
                        return;
                    }
                    buffer.extend_from_slice(&chunk[..n]);
                    if let Some(i) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
                        break i + 4;
                    }
                };
                let head = String::from_utf8_lossy(&buffer[..head_end]).to_string();
                let mut lines = head.split("\r\n");
                let mut first = lines.next().unwrap().split(' ');
                let (method, target) = (first.next().unwrap(), first.next().unwrap());
                let headers: BTreeMap<String, String> = lines
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                let length: usize = headers
                    .get("content-length")
                    .map(|l| l.parse().unwrap())
                    .unwrap_or(0);
                while buffer.len() < head_end + length {
                    let n = stream.read(&mut chunk).await.unwrap();
                    buffer.extend_from_slice(&chunk[..n]);
                }
                let request = Seen {
                    method: method.into(),
                    target: target.into(),
                    headers,
                    body: String::from_utf8_lossy(&buffer[head_end..head_end + length]).into(),
                };
                let answer = route(&request).map(fixture);
                log.lock().unwrap().push(request);
                let (status, body) = match answer {
                    Some(body) => ("200 OK", body),
                    None => ("404 Not Found", b"{}".to_vec()),
                };
                let head = format!(
                    "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                    body.len()
                );
                stream.write_all(head.as_bytes()).await.unwrap();
                stream.write_all(&body).await.unwrap();
                stream.shutdown().await.ok();
            });
        }
    });
    (base, seen)
}

fn route(request: &Seen) -> Option<&'static str> {
    let target = request.target.as_str();
    if target.starts_with("/v2/messaging_optouts?") {
        return Some(match () {
            _ if target.contains("page%5Bnumber%5D=1&") => "telnyx-page-1.json",
            _ if target.contains("page%5Bnumber%5D=2&") => "telnyx-page-2.json",
            _ if target.contains("page%5Bnumber%5D=3&") => "telnyx-page-3.json",
            _ => return None,
        });
    }
    if target == "/restapi/oauth/token" {
        return Some("ringcentral-token.json");
    }
    if target.starts_with("/restapi/v1.0/account/~/a2p-sms/opt-outs?") {
        return Some(if target.contains("pageToken=pgt2") {
            "ringcentral-page-2.json"
        } else {
            "ringcentral-page-1.json"
        });
    }
    if target == "/" && request.method == "POST" {
        return Some(if request.body.contains("NextToken") {
            "aws-page-2.json"
        } else {
            "aws-page-1.json"
        });
    }
    None
}

fn phone(n: &str) -> E164 {
    E164::parse_e164(n).unwrap()
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339).unwrap().into()
}

async fn record(store: &Store, event: stopgate::consent::ConsentEvent) {
    store
        .commit(&Commit {
            event: &event,
            private: None,
            dedupe: None,
            disclosure: None,
        })
        .await
        .unwrap();
}

async fn run(
    env: &TestEnv,
    lists: &OptOutLists,
    tenant: &str,
    only: Option<Provider>,
    dry_run: bool,
) -> Vec<(Provider, Outcome)> {
    let context = env.tenants().get(tenant).await.unwrap().unwrap();
    let secrets = |p: Provider| Some(context.provider_secrets(p.as_str()));
    reconcile_tenant(
        &env.store,
        lists,
        &context.snapshot,
        &secrets,
        only,
        dry_run,
    )
    .await
}

fn report(outcomes: Vec<(Provider, Outcome)>, provider: Provider) -> Report {
    let found = outcomes.into_iter().find(|(p, _)| *p == provider).unwrap();
    match found.1 {
        Outcome::Reconciled(report) => *report,
        other => panic!("{provider}: {other:?}"),
    }
}

fn lists(base: &str, env: &TestEnv) -> OptOutLists {
    OptOutLists::with_endpoints(
        Endpoints {
            telnyx: base.into(),
            ringcentral: base.into(),
            aws: Some(format!("{base}/")),
        },
        Some(env.sdk.clone()),
    )
}

#[tokio::test]
async fn a_telnyx_list_records_what_stopgate_did_not_know_once() {
    let env = env().await;
    let tenant = stopgate::testing::unique_tenant("rec-telnyx");
    env.tenant_with_provider(&tenant, Provider::Telnyx, &[("api_key", "KEYtelnyx-test")])
        .await;
    // Stopgate saw the STOP of ...302 through the webhook, a second after Telnyx's time.
    let known = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&phone("+14155550302"))
        .at(at("2026-05-20T08:15:01Z"))
        .time_source(TimeSource::Provider)
        .keyword("unsubscribe")
        .build();
    record(&env.store, known).await;
    let (base, seen) = serve(route).await;
    let lists = lists(&base, &env);

    let dry = report(
        run(&env, &lists, &tenant, Some(Provider::Telnyx), true).await,
        Provider::Telnyx,
    );
    assert_eq!(dry.recorded.len(), 2, "{dry:#?}");
    assert!(dry.recorded.iter().all(|r| r.event_id.is_none()));
    assert!(
        env.store
            .events(&tenant, &phone("+14155550301"))
            .await
            .unwrap()
            .is_empty(),
        "a dry run writes nothing"
    );

    let first = report(
        run(&env, &lists, &tenant, None, false).await,
        Provider::Telnyx,
    );
    // Three pages; the redacted number is counted, so the list is not complete and nothing is
    // said about numbers it does not list; the entry repeated on page 3 is one opt-out.
    assert_eq!((first.pages, first.listed), (3, 4), "{first:#?}");
    assert_eq!(first.unreadable, vec!["data[1].to: not a phone number"]);
    assert!(!first.complete);
    assert!(first.accepted_at_provider.is_empty());
    let mut recorded: Vec<&str> = first.recorded.iter().map(|r| r.phone.as_str()).collect();
    recorded.sort();
    assert_eq!(recorded, ["+14155550301", "+14155550303"]);
    assert!(first.blocked_at_provider.is_empty());

    let events = env
        .store
        .events(&tenant, &phone("+14155550301"))
        .await
        .unwrap();
    assert_eq!(events.len(), 1);
    let e = &events[0];
    assert_eq!(
        (e.kind, e.source),
        (EventKind::OptOut, Source::ProviderList)
    );
    assert_eq!(e.origin.provider.as_deref(), Some("telnyx"));
    assert_eq!(e.origin.sender.as_deref(), Some("+14155550100"));
    assert_eq!(
        e.origin.pool.as_deref(),
        Some("40017f5a-93b1-4c2e-9d2f-6a1f3c5e0b11")
    );
    assert_eq!(e.origin.provider_verdict.as_deref(), Some("STOP"));
    assert_eq!(e.occurred_at, at("2026-05-28T12:00:38.631252Z"));
    assert_eq!(e.time_source, TimeSource::Provider);
    // The check now denies it, from every sender (the default stop scope is the tenant).
    let answer = env
        .check(&tenant, "+14155550199", "+14155550301", "conversational")
        .await;
    assert_eq!(answer["reason"], "opted_out", "{answer}");

    // The requests: the key as a bearer token, pages by number, 250 at a time.
    let requests = seen.lock().unwrap().clone();
    let telnyx: Vec<&Seen> = requests
        .iter()
        .filter(|r| r.target.starts_with("/v2/"))
        .collect();
    assert_eq!(telnyx.len(), 6, "two runs of three pages");
    assert!(telnyx.iter().all(|r| r.method == "GET"
        && r.headers["authorization"] == "Bearer KEYtelnyx-test"
        && r.target.contains("page%5Bsize%5D=250")));
    // No other provider was asked: the tenant set nothing for them.
    assert!(requests.iter().all(|r| r.target.starts_with("/v2/")));

    let again = run(&env, &lists, &tenant, None, false).await;
    for (provider, outcome) in &again {
        if *provider != Provider::Telnyx {
            assert!(
                matches!(outcome, Outcome::Skipped),
                "{provider}: {outcome:?}"
            );
        }
    }
    let again = report(again, Provider::Telnyx);
    assert!(again.recorded.is_empty(), "{again:#?}");
    assert_eq!(
        env.store
            .events(&tenant, &phone("+14155550301"))
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn ringcentral_reports_blocks_stopgate_lifted_and_opt_outs_it_does_not_list() {
    let env = env().await;
    let tenant = stopgate::testing::unique_tenant("rec-rc");
    env.tenant_with_provider(
        &tenant,
        Provider::Ringcentral,
        &[
            ("client_id", "rc-client"),
            ("client_secret", "rc-secret"),
            ("jwt", "eyJhbGciOiJSUzI1NiJ9.rc-jwt.sig"),
        ],
    )
    .await;
    // ...311 texted STOP to +14155550100 and later START to another number: opted in at
    // Stopgate (tenant scope), still blocked at RingCentral for +14155550100.
    let person = phone("+14155550311");
    let stop = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&person)
        .at(Utc::now() - chrono::Duration::hours(3))
        .keyword("stop")
        .build();
    let start = events::event(EventKind::OptIn)
        .tenant(&tenant)
        .phone(&person)
        .sender("+14155550199")
        .at(Utc::now() - chrono::Duration::hours(1))
        .keyword("start")
        .build();
    let start_id = start.event_id.to_string();
    record(&env.store, stop).await;
    record(&env.store, start).await;
    // ...399 revoked by phone call: opted out at Stopgate, unknown to RingCentral.
    let revoked = events::event(EventKind::OptOut)
        .tenant(&tenant)
        .phone(&phone("+14155550399"))
        .at(Utc::now() - chrono::Duration::hours(2))
        .build();
    record(&env.store, revoked).await;
    let (base, seen) = serve(route).await;

    let r = report(
        run(
            &env,
            &lists(&base, &env),
            &tenant,
            Some(Provider::Ringcentral),
            false,
        )
        .await,
        Provider::Ringcentral,
    );
    assert!(r.complete, "{r:#?}");
    assert_eq!(r.pages, 2);
    let recorded: Vec<&str> = r.recorded.iter().map(|e| e.phone.as_str()).collect();
    assert_eq!(recorded, ["+14155550312"], "read in the tenant's region");
    assert_eq!(r.blocked_at_provider.len(), 1, "{r:#?}");
    assert_eq!(r.blocked_at_provider[0].phone, "+14155550311");
    assert_eq!(
        r.blocked_at_provider[0].opted_in_by.as_deref(),
        Some(start_id.as_str())
    );
    let accepted: Vec<&str> = r
        .accepted_at_provider
        .iter()
        .map(|a| a.phone.as_str())
        .collect();
    assert_eq!(accepted, ["+14155550399"]);
    assert_eq!(r.accepted_at_provider[0].scopes, ["tenant"]);
    // Without a provider time the opt-out is stamped when the list was read.
    let e = &env
        .store
        .events(&tenant, &phone("+14155550312"))
        .await
        .unwrap()[0];
    assert_eq!(
        (e.source, e.time_source),
        (Source::ProviderList, TimeSource::Receipt)
    );
    assert_eq!(e.origin.provider_verdict.as_deref(), Some("Carrier"));

    let requests = seen.lock().unwrap().clone();
    let token = &requests[0];
    assert_eq!(token.target, "/restapi/oauth/token");
    assert_eq!(
        token.headers["authorization"],
        "Basic cmMtY2xpZW50OnJjLXNlY3JldA=="
    );
    assert_eq!(
        token.body,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=eyJhbGciOiJSUzI1NiJ9.rc-jwt.sig"
    );
    let pages: Vec<&Seen> = requests[1..].iter().collect();
    assert_eq!(pages.len(), 2, "one token for both pages: {requests:#?}");
    for page in &pages {
        assert_eq!(
            page.headers["authorization"],
            "Bearer U0pDMDFQMDFQQVMwMHxBQUJmX3JjLXRva2Vu"
        );
        assert!(
            page.target.contains("from=*&status=optout&perPage=1000"),
            "{}",
            page.target
        );
    }
    assert!(pages[1].target.ends_with("&pageToken=pgt2"));
}

#[tokio::test]
async fn an_aws_list_is_read_signed_and_recorded_for_the_whole_tenant() {
    let env = env().await;
    let tenant = stopgate::testing::unique_tenant("rec-aws");
    env.tenant_with_provider(&tenant, Provider::Aws, &[("opt_out_list", "Default")])
        .await;
    let (base, seen) = serve(route).await;
    let r = report(
        run(
            &env,
            &lists(&base, &env),
            &tenant,
            Some(Provider::Aws),
            false,
        )
        .await,
        Provider::Aws,
    );
    let recorded: Vec<&str> = r.recorded.iter().map(|e| e.phone.as_str()).collect();
    assert_eq!(recorded, ["+14155550321", "+14155550322"], "{r:#?}");
    let e = &env
        .store
        .events(&tenant, &phone("+14155550321"))
        .await
        .unwrap()[0];
    assert_eq!(e.scope, Some(stopgate::consent::Scope::Tenant));
    assert_eq!(e.origin.provider_verdict.as_deref(), Some("end_user"));
    assert_eq!(e.occurred_at, at("2026-05-28T20:26:40.123Z"));

    let requests = seen.lock().unwrap().clone();
    assert_eq!(requests.len(), 2);
    for request in &requests {
        assert_eq!(
            request.headers["x-amz-target"],
            "PinpointSMSVoiceV2.DescribeOptedOutNumbers"
        );
        assert_eq!(
            request.headers["content-type"],
            "application/x-amz-json-1.0"
        );
        let auth = &request.headers["authorization"];
        assert!(auth.starts_with("AWS4-HMAC-SHA256 Credential="), "{auth}");
        assert!(auth.contains("/sms-voice/aws4_request"), "{auth}");
        let body: Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(body["OptOutListName"], "Default");
        assert_eq!(body["MaxResults"], 100);
    }
    let second: Value = serde_json::from_str(&requests[1].body).unwrap();
    assert_eq!(second["NextToken"], "eyJvZmZzZXQiOjF9");
}

#[tokio::test]
async fn incomplete_credentials_name_what_is_missing_and_refusals_are_clear() {
    let env = env().await;
    let tenant = stopgate::testing::unique_tenant("rec-bad");
    env.tenant_with_provider(
        &tenant,
        Provider::Ringcentral,
        &[("client_id", "only-this")],
    )
    .await;
    let (base, _) = serve(|_| None).await;
    let outcomes = run(&env, &lists(&base, &env), &tenant, None, false).await;
    let (_, rc) = outcomes
        .iter()
        .find(|(p, _)| *p == Provider::Ringcentral)
        .unwrap();
    let message = rc.to_json(Provider::Ringcentral)["error"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(message.contains("client_secret is not set"), "{message}");
    assert!(!message.contains("only-this"), "no secret in the message");
    let skipped: Vec<Provider> = outcomes
        .iter()
        .filter(|(_, o)| matches!(o, Outcome::Skipped))
        .map(|(p, _)| *p)
        .collect();
    assert_eq!(skipped, [Provider::Telnyx, Provider::Aws]);
}
