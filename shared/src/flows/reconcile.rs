//! Reconciliation with providers' opt-out lists (docs/rules.md rule 10): read a provider's whole
//! list with the tenant's credentials, compare it with every number Stopgate holds a standing
//! for, record what Stopgate did not know (each once), and report what stays blocked at the
//! provider and what the provider still accepts. A tenant without credentials for a provider is
//! skipped. `stopgate reconcile` runs it for one tenant; the `reconcile` function, daily, for all.

use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::future::Future;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::consent::reconcile::{self, Comparison};
use crate::consent::{NumberState, Scope};
use crate::phone::E164;
use crate::providers::optouts::{self, LISTED_BY, ProviderOptOut};
use crate::providers::{Provider, ProviderSecrets};
use crate::store::history::{ChangePosition, EventIndex};
use crate::store::{Commit, CommitOutcome, DedupeClaim, Store, StoreError, TenantSnapshot};
use crate::telemetry::{self, Unit};

/// The dedupe namespace of opt-outs found on providers' lists.
pub const RECONCILE_CLAIMS: &str = "reconcile";

/// A list longer than this many pages is read no further (and reported incomplete).
pub const MAX_PAGES: usize = 5_000;

/// What a tenant set to let Stopgate read a provider's list (`stopgate provider set`).
#[derive(Clone, PartialEq, Eq)]
pub enum ListCredentials {
    /// An API v2 key (`api_key`).
    Telnyx { api_key: String },
    /// A JWT credential of a RingCentral app (`client_id`, `client_secret`, `jwt`), exchanged for
    /// an access token.
    Ringcentral {
        client_id: String,
        client_secret: String,
        jwt: String,
    },
    /// The End User Messaging opt-out list (`opt_out_list`, a name or ARN), read with the
    /// caller's own AWS credentials.
    Aws { opt_out_list: String },
}

impl fmt::Debug for ListCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ListCredentials({})", self.provider())
    }
}

impl ListCredentials {
    pub fn provider(&self) -> Provider {
        match self {
            ListCredentials::Telnyx { .. } => Provider::Telnyx,
            ListCredentials::Ringcentral { .. } => Provider::Ringcentral,
            ListCredentials::Aws { .. } => Provider::Aws,
        }
    }

    /// The credentials `secrets` hold for reading `provider`'s list: `Ok(None)` when the tenant
    /// set none (skipped), an error naming what is missing when it set only some.
    pub fn from_secrets(
        provider: Provider,
        secrets: &ProviderSecrets,
    ) -> Result<Option<ListCredentials>, ReconcileError> {
        let names: &[&str] = match provider {
            Provider::Telnyx => &["api_key"],
            Provider::Ringcentral => &["client_id", "client_secret", "jwt"],
            Provider::Aws => &["opt_out_list"],
            _ => return Ok(None),
        };
        let values: Vec<Option<String>> = names
            .iter()
            .map(|n| secrets.first(n).map(|v| v.trim().to_string()))
            .collect();
        if values.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut got = Vec::new();
        for (name, value) in names.iter().zip(values) {
            got.push(value.ok_or_else(|| {
                ReconcileError::Credentials(format!(
                    "{provider} {name} is not set (`stopgate provider set <tenant> {provider}`); it needs {}",
                    names.join(", ")
                ))
            })?);
        }
        let mut got = got.into_iter();
        let mut next = || got.next().unwrap_or_default();
        Ok(Some(match provider {
            Provider::Telnyx => ListCredentials::Telnyx { api_key: next() },
            Provider::Ringcentral => ListCredentials::Ringcentral {
                client_id: next(),
                client_secret: next(),
                jwt: next(),
            },
            _ => ListCredentials::Aws {
                opt_out_list: next(),
            },
        }))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    /// The tenant's credentials are incomplete or refused by the provider: asking again will not
    /// help until the tenant fixes them.
    #[error("{0}")]
    Credentials(String),
    /// The provider did not answer, or answered with an error: worth trying again later.
    #[error("{0}")]
    Unavailable(String),
    /// The provider answered something Stopgate cannot read.
    #[error(transparent)]
    Page(#[from] optouts::PageError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where the pages of a provider's list come from: the providers' HTTPS APIs
/// (`api::optout_lists`), or recorded answers in tests.
pub trait ListSource: Sync {
    /// The raw body of one page: the first when `token` is `None`, else the one the previous
    /// page named.
    fn page(
        &self,
        credentials: &ListCredentials,
        token: Option<&str>,
    ) -> impl Future<Output = Result<Vec<u8>, ReconcileError>> + Send;
}

/// A provider's whole list as read.
#[derive(Debug, Default)]
pub struct FetchedList {
    pub entries: Vec<ProviderOptOut>,
    pub pages: usize,
    /// Entries whose number could not be read ("field: why", never the number).
    pub unreadable: Vec<String>,
    /// Every page was read (not cut at [`MAX_PAGES`]).
    pub all_pages: bool,
}

impl FetchedList {
    /// Whether the list says for certain which numbers the provider accepts.
    pub fn complete(&self) -> bool {
        self.all_pages && self.unreadable.is_empty()
    }
}

/// Reads every page of the list `credentials` give access to.
pub async fn fetch<S: ListSource>(
    source: &S,
    credentials: &ListCredentials,
    read_phone: &(dyn Fn(&str) -> Option<E164> + Sync),
    max_pages: usize,
) -> Result<FetchedList, ReconcileError> {
    let provider = credentials.provider();
    let mut list = FetchedList::default();
    let mut token: Option<String> = None;
    let mut asked = BTreeSet::new();
    loop {
        if list.pages >= max_pages {
            tracing::warn!(provider = %provider, pages = list.pages, "opt-out list cut at the page limit");
            return Ok(list);
        }
        let body = source.page(credentials, token.as_deref()).await?;
        let page = optouts::parse_page(provider, &body, read_phone)?;
        list.pages += 1;
        list.entries.extend(page.entries);
        list.unreadable.extend(page.unreadable);
        match page.next {
            // A token seen before would walk in a circle.
            Some(next) if asked.insert(next.clone()) => token = Some(next),
            Some(_) => {
                return Err(ReconcileError::Unavailable(format!(
                    "{provider} opt-out list: a page named a page already read"
                )));
            }
            None => break,
        }
    }
    list.all_pages = true;
    Ok(list)
}

/// What one run found for one tenant and provider: the JSON `stopgate reconcile` prints.
#[derive(Debug, Serialize)]
pub struct Report {
    pub provider: Provider,
    pub dry_run: bool,
    /// Every page read, and every entry understood: `accepted_at_provider` is only reported then.
    pub complete: bool,
    pub pages: usize,
    pub listed: usize,
    pub unreadable: Vec<String>,
    /// Opt-outs Stopgate did not know: recorded (or, in a dry run, to be recorded).
    pub recorded: Vec<RecordedEntry>,
    /// Recorded by an earlier or concurrent run meanwhile (nothing new written).
    pub already_recorded: usize,
    pub blocked_at_provider: Vec<BlockedEntry>,
    pub accepted_at_provider: Vec<AcceptedEntry>,
}

#[derive(Debug, Serialize)]
pub struct RecordedEntry {
    pub phone: String,
    pub sender: Option<String>,
    pub listed_at: Option<DateTime<Utc>>,
    /// The event recorded; absent in a dry run.
    pub event_id: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct BlockedEntry {
    pub phone: String,
    pub sender: Option<String>,
    pub listed_at: Option<DateTime<Utc>>,
    /// The Stopgate opt-in that allows these sends.
    pub opted_in_by: Option<String>,
    pub opted_in_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Serialize)]
pub struct AcceptedEntry {
    pub phone: String,
    pub scopes: Vec<String>,
    pub opted_out_by: Option<String>,
    pub opted_out_at: Option<DateTime<Utc>>,
}

/// One provider's list against one tenant's ledger.
pub async fn reconcile<S: ListSource>(
    store: &Store,
    source: &S,
    tenant: &TenantSnapshot,
    credentials: &ListCredentials,
    dry_run: bool,
    now: DateTime<Utc>,
) -> Result<Report, ReconcileError> {
    let tenant_id = tenant.tenant.tenant_id.as_str();
    let policy = &tenant.tenant.policy;
    let directory = &tenant.directory;
    let provider = credentials.provider();
    let read_phone = |raw: &str| policy.read_phone(raw).ok();
    let list = fetch(source, credentials, &read_phone, MAX_PAGES).await?;
    let states = standings_of(store, tenant_id, &list.entries).await?;
    let comparison = reconcile::compare(
        tenant_id,
        &list.entries,
        list.complete(),
        &states,
        policy,
        directory,
        now,
    );
    let Comparison {
        unknown,
        blocked_at_provider,
        accepted_at_provider,
    } = comparison;
    let mut report = Report {
        provider,
        dry_run,
        complete: list.complete(),
        pages: list.pages,
        listed: list.entries.len(),
        unreadable: list.unreadable.clone(),
        recorded: Vec::new(),
        already_recorded: 0,
        blocked_at_provider: blocked_at_provider
            .iter()
            .map(|b| BlockedEntry {
                phone: b.listed.phone.as_str().to_string(),
                sender: b.listed.sender.clone(),
                listed_at: b.listed.listed_at,
                opted_in_by: b.opted_in_by.as_ref().map(|m| m.event_id.to_string()),
                opted_in_at: b.opted_in_by.as_ref().map(|m| m.occurred_at),
            })
            .collect(),
        accepted_at_provider: accepted_at_provider
            .iter()
            .map(|a| AcceptedEntry {
                phone: a.phone.as_str().to_string(),
                scopes: a.scopes.iter().map(Scope::to_string).collect(),
                opted_out_by: a.opted_out_by.as_ref().map(|m| m.event_id.to_string()),
                opted_out_at: a.opted_out_by.as_ref().map(|m| m.occurred_at),
            })
            .collect(),
    };
    for found in &unknown {
        let event_id = if dry_run {
            None
        } else {
            let outcome = store
                .commit(&Commit {
                    event: &found.event,
                    private: None,
                    dedupe: Some(DedupeClaim {
                        provider: RECONCILE_CLAIMS.into(),
                        message_id: reconcile::dedupe_key(found.listed),
                        reply: None,
                        nonce: None,
                    }),
                    disclosure: None,
                })
                .await?;
            match outcome {
                CommitOutcome::Recorded { .. } => {
                    tracing::info!(tenant = %tenant_id, provider = %provider, phone = %found.listed.phone.masked(), "opt-out from the provider's list recorded");
                    Some(found.event.event_id.to_string())
                }
                CommitOutcome::Duplicate(_) => {
                    report.already_recorded += 1;
                    continue;
                }
            }
        };
        report.recorded.push(RecordedEntry {
            phone: found.listed.phone.as_str().to_string(),
            sender: found.listed.sender.clone(),
            listed_at: found.listed.listed_at,
            event_id,
        });
    }
    if !dry_run {
        let dimensions = [("Provider", provider.as_str())];
        for (metric, value) in [
            ("ReconcileRecorded", report.recorded.len()),
            (
                "ReconcileBlockedAtProvider",
                report.blocked_at_provider.len(),
            ),
            (
                "ReconcileAcceptedAtProvider",
                report.accepted_at_provider.len(),
            ),
        ] {
            telemetry::measure(metric, Unit::Count, value as f64, &dimensions);
        }
    }
    Ok(report)
}

/// The state of every number Stopgate holds a standing for (from the change index), and of
/// every listed number.
async fn standings_of(
    store: &Store,
    tenant: &str,
    listed: &[ProviderOptOut],
) -> Result<HashMap<E164, NumberState>, ReconcileError> {
    let mut phones: BTreeSet<E164> = listed.iter().map(|e| e.phone.clone()).collect();
    let mut position = ChangePosition {
        shard: 0,
        last: None,
    };
    loop {
        let (events, next) = store
            .changes_page(tenant, EventIndex::Changes, None, &position, 500)
            .await?;
        phones.extend(events.into_iter().map(|e| e.phone));
        match next {
            Some(p) => position = p,
            None => break,
        }
    }
    let phones: Vec<E164> = phones.into_iter().collect();
    let mut states = HashMap::with_capacity(phones.len());
    for (phone, state) in store.load_states(tenant, &phones).await? {
        // Comparing with a number storage did not return would be a guess.
        let state = state.ok_or_else(|| {
            StoreError::Unavailable("storage did not return every number; try again".into())
        })?;
        states.insert(phone, state);
    }
    Ok(states)
}

/// One provider's outcome for one tenant.
#[derive(Debug)]
pub enum Outcome {
    Reconciled(Box<Report>),
    /// The tenant set no credentials for this provider.
    Skipped,
    Failed(ReconcileError),
}

/// Every provider with a list (or only `only`) for one tenant. `secrets` gives a provider's
/// opened secrets, or `None` when they could not be opened (a key service outage).
pub async fn reconcile_tenant<S: ListSource>(
    store: &Store,
    source: &S,
    tenant: &TenantSnapshot,
    secrets: &(dyn Fn(Provider) -> Option<ProviderSecrets> + Sync),
    only: Option<Provider>,
    dry_run: bool,
) -> Vec<(Provider, Outcome)> {
    let mut outcomes = Vec::new();
    for provider in LISTED_BY
        .into_iter()
        .filter(|p| only.is_none_or(|o| o == *p))
    {
        let credentials = match secrets(provider) {
            None => Err(ReconcileError::Unavailable(format!(
                "{provider}: the tenant's secrets could not be opened (key service); try again"
            ))),
            Some(secrets) => ListCredentials::from_secrets(provider, &secrets),
        };
        let outcome = match credentials {
            Ok(None) => Outcome::Skipped,
            Err(e) => Outcome::Failed(e),
            Ok(Some(credentials)) => {
                match reconcile(store, source, tenant, &credentials, dry_run, Utc::now()).await {
                    Ok(report) => Outcome::Reconciled(Box::new(report)),
                    Err(e) => Outcome::Failed(e),
                }
            }
        };
        outcomes.push((provider, outcome));
    }
    outcomes
}

impl Outcome {
    /// The outcome as `stopgate reconcile` and the function's result show it.
    pub fn to_json(&self, provider: Provider) -> serde_json::Value {
        match self {
            Outcome::Reconciled(report) => serde_json::to_value(report).unwrap_or_else(
                |e| serde_json::json!({"provider": provider, "error": e.to_string()}),
            ),
            Outcome::Skipped => {
                serde_json::json!({"provider": provider, "skipped": "no credentials set"})
            }
            Outcome::Failed(e) => serde_json::json!({"provider": provider, "error": e.to_string()}),
        }
    }
}
