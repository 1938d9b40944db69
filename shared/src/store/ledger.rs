//! Committing events: the event, its private record, the dedupe record, the disclosure and the
//! new state go in one `TransactWriteItems`, so a number's state never disagrees with its events.

use std::time::Duration;

use aws_sdk_dynamodb::error::ProvideErrorMetadata;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    CancellationReason, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem,
};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::reviews::{self, ReviewRecord};
use super::{Item, Store, StoreError, get_doc, get_n, get_s, keys, n, s, sdk_error, to_doc};
use crate::consent::chain::{ChainHead, Link, StoredEvent};
use crate::consent::{ConsentEvent, EventKind, FoldOutcome, NumberState, PrivateEvidence};
use crate::phone::E164;
use crate::providers::ProviderReply;

/// A key claimed by this commit so the same fact is recorded once: a provider's message id (a
/// second delivery finds it and gets the same `reply`), an import line's content, a review.
/// `provider` names the key's namespace.
#[derive(Debug, Clone)]
pub struct DedupeClaim {
    pub provider: String,
    pub message_id: String,
    /// The answer a webhook gave, for its redeliveries; other claims have none.
    pub reply: Option<ProviderReply>,
    /// The signature nonce the delivery carried, claimed in the same transaction: a nonce is
    /// never accepted twice with another body (a redelivery of the same body is a duplicate).
    pub nonce: Option<NonceClaim>,
}

/// A provider's signature nonce (or token id), with the SHA-256 of the body it came with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NonceClaim {
    pub nonce: String,
    pub body_sha256: String,
}

/// A permanent record that a key was claimed, with the answer given.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DedupeRecord {
    pub event_id: String,
    pub recorded_at: DateTime<Utc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<ProviderReply>,
}

/// One event to commit, with what travels with it.
pub struct Commit<'a> {
    pub event: &'a ConsentEvent,
    pub private: Option<&'a PrivateEvidence>,
    pub dedupe: Option<DedupeClaim>,
    /// (SHA-256 hex, text) of the disclosure shown, stored once per tenant.
    pub disclosure: Option<(&'a str, &'a str)>,
}

#[derive(Debug)]
pub enum CommitOutcome {
    Recorded {
        fold: FoldOutcome,
        state: NumberState,
        /// The event as recorded: the one committed, or what `settle` made of it.
        kind: EventKind,
        /// The answer the dedupe record keeps, as recorded.
        reply: Option<ProviderReply>,
    },
    /// The provider message id was already recorded: nothing new was written.
    Duplicate(DedupeRecord),
}

/// What an event becomes on the state its commit is conditioned on (rules whose answer depends
/// on the number's standing, such as YES in context).
pub enum Settled {
    /// Record it as it is.
    Keep,
    /// Record this event instead, with this answer kept for redeliveries.
    Instead {
        event: Box<ConsentEvent>,
        reply: Option<ProviderReply>,
    },
    /// Record it as it is, and these events it gives rise to (a double opt-in's confirmations)
    /// in the same transaction.
    With(Vec<ConsentEvent>),
    /// Record nothing: the commit fails with `GuardFailed`.
    Refuse,
}

/// Why a transaction was cancelled, told apart from the per-item reasons DynamoDB returns.
#[derive(Debug)]
enum Cancelled {
    Duplicate(Option<Item>),
    NonceReused,
    GuardFailed,
    StateConflict,
    Throttled,
    Other(String),
}

const MAX_ATTEMPTS: u32 = 6;

impl Store {
    /// The number's state with its version, read strongly consistent (one read unit).
    pub async fn load_state(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<(NumberState, u64), StoreError> {
        let (state, version, _) = self.load_state_and_head(tenant, phone).await?;
        Ok((state, version))
    }

    /// The state, its version and the head of the number's event chain (`None` for a number
    /// without a state, or whose state is older than the chain).
    async fn load_state_and_head(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<(NumberState, u64, Option<ChainHead>), StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::number_pk(tenant, phone)))
            .key("sk", s(keys::STATE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        match out.item() {
            None => Ok((NumberState::default(), 0, None)),
            Some(item) => Ok((get_doc(item)?, get_n(item, "version")?, chain_head(item)?)),
        }
    }

    /// States of many numbers (BatchGetItem, 100 keys a request, strongly consistent).
    /// Unprocessed keys are retried with backoff; a number still unread after that maps to
    /// `None` so the caller can deny it (rule 8).
    pub async fn load_states(
        &self,
        tenant: &str,
        phones: &[E164],
    ) -> Result<std::collections::HashMap<E164, Option<NumberState>>, StoreError> {
        let mut unique: Vec<&E164> = phones.iter().collect();
        unique.sort();
        unique.dedup();
        let keys = unique
            .iter()
            .map(|phone| {
                Item::from([
                    ("pk".to_string(), s(keys::number_pk(tenant, phone))),
                    ("sk".to_string(), s(keys::STATE_SK)),
                ])
            })
            .collect();
        let (found, unread) = self.batch_get(keys, true).await?;
        let phone_of = |item: &Item| -> Result<E164, StoreError> {
            let pk = get_s(item, "pk")?;
            pk.rsplit('#')
                .next()
                .and_then(E164::from_stored)
                .ok_or_else(|| StoreError::Corrupt(format!("state key {pk}")))
        };
        // A number never unread and not returned has no state item yet (an unknown number).
        let mut states: std::collections::HashMap<E164, Option<NumberState>> = unique
            .into_iter()
            .map(|p| (p.clone(), Some(NumberState::default())))
            .collect();
        for item in &found {
            states.insert(phone_of(item)?, Some(get_doc(item)?));
        }
        for key in &unread {
            states.insert(phone_of(key)?, None);
        }
        Ok(states)
    }

    /// Commits one event. Concurrent writers to the same number are serialised by the state's
    /// version: the loser re-reads and folds again, so no write is lost.
    pub async fn commit(&self, commit: &Commit<'_>) -> Result<CommitOutcome, StoreError> {
        self.commit_with(commit, None).await
    }

    /// Commits one event and closes `review` (written as given, resolved) in the same
    /// transaction, only while the review is still open; otherwise nothing is written:
    /// `GuardFailed`.
    pub async fn commit_closing_review(
        &self,
        commit: &Commit<'_>,
        review: &ReviewRecord,
    ) -> Result<CommitOutcome, StoreError> {
        let guarded = reviews::close_if_open(&self.table, &commit.event.tenant, review)?;
        self.commit_with(commit, Some(guarded)).await
    }

    /// Commits one event together with `guarded`: one more write whose condition must hold
    /// (a review still open, say). If it does not, nothing is written: `GuardFailed`.
    async fn commit_with(
        &self,
        commit: &Commit<'_>,
        guarded: Option<TransactWriteItem>,
    ) -> Result<CommitOutcome, StoreError> {
        self.commit_checked(commit, guarded, &|_| Settled::Keep)
            .await
    }

    /// Commits one event only while `holds` is true of the number's state. It is checked on the
    /// very state the transaction is conditioned on (again on every retry), so no concurrent
    /// write slips in between. If it does not hold, nothing is written: `GuardFailed`.
    pub async fn commit_if(
        &self,
        commit: &Commit<'_>,
        holds: &(dyn Fn(&NumberState) -> bool + Sync),
    ) -> Result<CommitOutcome, StoreError> {
        let settle = |state: &NumberState| {
            if holds(state) {
                Settled::Keep
            } else {
                Settled::Refuse
            }
        };
        self.commit_checked(commit, None, &settle).await
    }

    /// Commits one event as `settle` makes it on the number's state, judged (like `commit_if`)
    /// on the very state the transaction is conditioned on.
    pub async fn commit_settled(
        &self,
        commit: &Commit<'_>,
        settle: &(dyn Fn(&NumberState) -> Settled + Sync),
    ) -> Result<CommitOutcome, StoreError> {
        self.commit_checked(commit, None, settle).await
    }

    async fn commit_checked(
        &self,
        commit: &Commit<'_>,
        guarded: Option<TransactWriteItem>,
        settle: &(dyn Fn(&NumberState) -> Settled + Sync),
    ) -> Result<CommitOutcome, StoreError> {
        let mut backoff = Duration::from_millis(20);
        for attempt in 1..=MAX_ATTEMPTS {
            let (mut state, version, head) = self
                .load_state_and_head(&commit.event.tenant, &commit.event.phone)
                .await?;
            let settled = settle(&state);
            let replaced;
            let also: &[ConsentEvent] = match &settled {
                Settled::With(also) => also,
                _ => &[],
            };
            let commit = match &settled {
                Settled::Keep | Settled::With(_) => commit,
                Settled::Refuse => return Err(StoreError::GuardFailed),
                Settled::Instead { event, reply } => {
                    replaced = Commit {
                        event,
                        private: commit.private,
                        dedupe: commit.dedupe.clone().map(|claim| DedupeClaim {
                            reply: reply.clone(),
                            ..claim
                        }),
                        disclosure: commit.disclosure,
                    };
                    &replaced
                }
            };
            let event = commit.event;
            let fold = state.apply(event);
            for derived in also {
                state.apply(derived);
            }
            let head = head.unwrap_or_default();
            let mut items = self.transaction(commit, also, &state, version, &head)?;
            if let Some(extra) = &guarded {
                // Just before the state item, which stays last for `classify`.
                items.insert(items.len().saturating_sub(1), extra.clone());
            }
            match self
                .ddb
                .transact_write_items()
                .set_transact_items(Some(items))
                .send()
                .await
            {
                Ok(_) => {
                    return Ok(CommitOutcome::Recorded {
                        fold,
                        state,
                        kind: event.kind,
                        reply: commit.dedupe.as_ref().and_then(|c| c.reply.clone()),
                    });
                }
                Err(err) => match classify(err, commit, guarded.is_some()) {
                    Ok(Cancelled::NonceReused) => return Err(StoreError::NonceReused),
                    Ok(Cancelled::Duplicate(item)) => {
                        let record = match item {
                            Some(item) => get_doc(&item)?,
                            None => self.dedupe_record(commit).await?,
                        };
                        return Ok(CommitOutcome::Duplicate(record));
                    }
                    Ok(Cancelled::GuardFailed) => return Err(StoreError::GuardFailed),
                    Ok(Cancelled::StateConflict) if attempt < MAX_ATTEMPTS => {}
                    Ok(Cancelled::StateConflict) => return Err(StoreError::Conflict),
                    Ok(Cancelled::Throttled) if attempt < MAX_ATTEMPTS => {}
                    Ok(Cancelled::Throttled) => return Err(StoreError::Throttled),
                    Ok(Cancelled::Other(reason)) => return Err(StoreError::Unavailable(reason)),
                    Err(e) => return Err(e),
                },
            }
            tokio::time::sleep(backoff + Duration::from_millis(rand::random::<u64>() % 20)).await;
            backoff *= 2;
        }
        Err(StoreError::Conflict)
    }

    async fn dedupe_record(&self, commit: &Commit<'_>) -> Result<DedupeRecord, StoreError> {
        let claim = commit
            .dedupe
            .as_ref()
            .ok_or_else(|| StoreError::Corrupt("duplicate without a claim".into()))?;
        self.find_dedupe(&commit.event.tenant, &claim.provider, &claim.message_id)
            .await?
            .ok_or_else(|| StoreError::Corrupt("dedupe record vanished".into()))
    }

    /// The earlier answer to a provider message, if it was already handled.
    pub async fn find_dedupe(
        &self,
        tenant: &str,
        provider: &str,
        message_id: &str,
    ) -> Result<Option<DedupeRecord>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::dedupe_pk(tenant, provider, message_id)))
            .key("sk", s(keys::DEDUPE_SK))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }

    fn transaction(
        &self,
        commit: &Commit<'_>,
        also: &[ConsentEvent],
        state: &NumberState,
        version: u64,
        head: &ChainHead,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let event = commit.event;
        let pk = keys::number_pk(&event.tenant, &event.phone);
        let event_id = event.event_id.as_str();
        let mut items = Vec::with_capacity(5);

        // The dedupe record goes first so its cancellation reason is at index 0.
        if let Some(claim) = &commit.dedupe {
            let record = DedupeRecord {
                event_id: event_id.to_string(),
                recorded_at: event.recorded_at,
                reply: claim.reply.clone(),
            };
            let mut item = Item::new();
            item.insert(
                "pk".into(),
                s(keys::dedupe_pk(
                    &event.tenant,
                    &claim.provider,
                    &claim.message_id,
                )),
            );
            item.insert("sk".into(), s(keys::DEDUPE_SK));
            item.insert("type".into(), s("dedupe"));
            item.insert("doc".into(), to_doc(&record)?);
            items.push(self.put(item, Some("attribute_not_exists(pk)"), true)?);

            if let Some(nonce) = &claim.nonce {
                // Kept for good: a V2 Plivo signature carries no time, so a nonce that expired
                // could be replayed with any body.
                let mut item = Item::new();
                item.insert(
                    "pk".into(),
                    s(keys::nonce_pk(&event.tenant, &claim.provider, &nonce.nonce)),
                );
                item.insert("sk".into(), s(keys::NONCE_SK));
                item.insert("type".into(), s("nonce"));
                item.insert("body_sha256".into(), s(nonce.body_sha256.clone()));
                let put = Put::builder()
                    .table_name(&self.table)
                    .set_item(Some(item))
                    .condition_expression("attribute_not_exists(pk) OR body_sha256 = :body")
                    .expression_attribute_values(":body", s(nonce.body_sha256.clone()))
                    .build()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                items.push(TransactWriteItem::builder().put(put).build());
            }
        }

        // Each event links to the one before it; the state keeps the new head. The state's
        // version condition makes the chain as linear as the state: no two commits append to
        // the same head.
        let mut head = head.clone();
        for event in std::iter::once(event).chain(also) {
            let (item, next) = event_item(event, &head)?;
            items.push(self.put(item, Some("attribute_not_exists(pk)"), false)?);
            head = next;
        }

        if let Some(review) = reviews::opened_by(event)? {
            items.push(self.put(review, None, false)?);
        }

        if let Some(private) = commit.private.filter(|p| !p.is_empty()) {
            let mut item = Item::new();
            item.insert("pk".into(), s(pk.clone()));
            item.insert("sk".into(), s(keys::private_sk(event_id)));
            item.insert("type".into(), s("private"));
            item.insert("doc".into(), to_doc(private)?);
            item.insert(
                "gsi1pk".into(),
                s(keys::private_index_pk(&event.tenant, &event.phone)),
            );
            item.insert(
                "gsi1sk".into(),
                s(keys::change_sk(&event.recorded_at, event_id)),
            );
            items.push(self.put(item, None, false)?);
        }

        if let Some((sha256, text)) = commit.disclosure {
            // Content-addressed: rewriting the same text is harmless, and a changed form
            // wording gets a new hash, so an old record never changes.
            let mut item = Item::new();
            item.insert("pk".into(), s(keys::disclosure_pk(&event.tenant, sha256)));
            item.insert("sk".into(), s(keys::DISCLOSURE_SK));
            item.insert("type".into(), s("disclosure"));
            item.insert("sha256".into(), s(sha256));
            item.insert("text".into(), s(text));
            items.push(self.put(item, None, false)?);
        }

        let item = state_item(event, state, version + 1, &head)?;
        let condition = if version == 0 {
            "attribute_not_exists(pk)"
        } else {
            "version = :expected"
        };
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if version > 0 {
            put = put.expression_attribute_values(":expected", n(version));
        }
        items.push(
            TransactWriteItem::builder()
                .put(
                    put.build()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                )
                .build(),
        );
        Ok(items)
    }

    /// A `Put` of `item` for a transaction, with `condition` if any (and the item as it was
    /// when the condition fails, if `return_old`).
    pub(crate) fn put(
        &self,
        item: Item,
        condition: Option<&str>,
        return_old: bool,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            put = put.condition_expression(c);
        }
        if return_old {
            put = put.return_values_on_condition_check_failure(
                ReturnValuesOnConditionCheckFailure::AllOld,
            );
        }
        let put = put
            .build()
            .map_err(|e| StoreError::Corrupt(e.to_string()))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    /// A number's events, oldest first (for rebuilding the state).
    pub async fn events(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<Vec<ConsentEvent>, StoreError> {
        self.event_items(tenant, phone)
            .await?
            .iter()
            .map(get_doc)
            .collect()
    }

    /// A number's event items, oldest first, read strongly consistent.
    async fn event_items(&self, tenant: &str, phone: &E164) -> Result<Vec<Item>, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(keys::number_pk(tenant, phone)))
            .expression_attribute_values(":prefix", s(keys::EVENT_PREFIX))
            .consistent_read(true);
        self.query_all(query).await
    }

    /// A number's events as stored (documents byte for byte, with their links) and the head
    /// its state records, read strongly consistent, for verifying the chain.
    pub async fn chain(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<(Vec<StoredEvent>, Option<ChainHead>), StoreError> {
        let (_, _, head) = self.load_state_and_head(tenant, phone).await?;
        let events = self
            .event_items(tenant, phone)
            .await?
            .iter()
            .map(stored_event)
            .collect::<Result<_, _>>()?;
        Ok((events, head))
    }

    /// The private record (message text, IP, user agent) of an event, unless redacted.
    pub async fn private_evidence(
        &self,
        tenant: &str,
        phone: &E164,
        event_id: &str,
    ) -> Result<Option<PrivateEvidence>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::number_pk(tenant, phone)))
            .key("sk", s(keys::private_sk(event_id)))
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }

    /// One event of a number.
    pub async fn event(
        &self,
        tenant: &str,
        phone: &E164,
        event_id: &str,
    ) -> Result<Option<ConsentEvent>, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::number_pk(tenant, phone)))
            .key("sk", s(keys::event_sk(event_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk_error)?;
        out.item().map(get_doc).transpose()
    }

    /// Recomputes a number's state from its events and writes it if it differs. Returns the
    /// rebuilt state and whether it changed.
    pub async fn rebuild_state(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<(NumberState, bool), StoreError> {
        for _ in 0..MAX_ATTEMPTS {
            let (current, version, head) = self.load_state_and_head(tenant, phone).await?;
            let mut rebuilt = NumberState::default();
            for event in self.events(tenant, phone).await? {
                rebuilt.apply(&event);
            }
            if rebuilt == current {
                return Ok((rebuilt, false));
            }
            let mut put = self
                .ddb
                .put_item()
                .table_name(&self.table)
                .item("pk", s(keys::number_pk(tenant, phone)))
                .item("sk", s(keys::STATE_SK))
                .item("type", s("state"))
                .item("version", n(version + 1))
                .item("updated_at", s(Utc::now().to_rfc3339()))
                .item("doc", to_doc(&rebuilt)?);
            // The state is rebuilt from the events; the chain's head stays as the events left it.
            if let Some(head) = head {
                put = put
                    .item("chain_seq", n(head.seq))
                    .item("chain_head", s(head.sha256));
            }
            put = if version == 0 {
                put.condition_expression("attribute_not_exists(pk)")
            } else {
                put.condition_expression("version = :expected")
                    .expression_attribute_values(":expected", n(version))
            };
            match put.send().await {
                Ok(_) => return Ok((rebuilt, true)),
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
                {
                    continue;
                }
                Err(e) => return Err(sdk_error(e)),
            }
        }
        Err(StoreError::Conflict)
    }

    /// Every number of a tenant that has a state item (for `rebuild-state` of a whole tenant).
    /// A full-table read by design: an operator's repair tool, never on a request path.
    pub async fn tenant_numbers(&self, tenant: &str) -> Result<Vec<E164>, StoreError> {
        let prefix = format!("N#{tenant}#");
        let mut numbers = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let out = self
                .ddb
                .scan()
                .table_name(&self.table)
                .filter_expression("begins_with(pk, :prefix) AND sk = :state")
                .expression_attribute_values(":prefix", s(prefix.clone()))
                .expression_attribute_values(":state", s(keys::STATE_SK))
                .projection_expression("pk")
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                let pk = get_s(item, "pk")?;
                if let Some(phone) = pk.strip_prefix(&prefix) {
                    numbers.push(
                        E164::from_stored(phone)
                            .ok_or_else(|| StoreError::Corrupt(format!("{pk}: not a number")))?,
                    );
                }
            }
            match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => start = Some(key.clone()),
                _ => break,
            }
        }
        Ok(numbers)
    }
}

/// An event's own item, in its number's partition, and in a sparse index if it belongs to one,
/// linked to the chain after `head`; with the head after it.
pub(crate) fn event_item(
    event: &ConsentEvent,
    head: &ChainHead,
) -> Result<(Item, ChainHead), StoreError> {
    let event_id = event.event_id.as_str();
    let doc = serde_json::to_string(event).map_err(|e| StoreError::Corrupt(format!("doc: {e}")))?;
    let (link, next) = head.append(&doc);
    let mut item = Item::new();
    item.insert("pk".into(), s(keys::number_pk(&event.tenant, &event.phone)));
    item.insert("sk".into(), s(keys::event_sk(event_id)));
    item.insert("type".into(), s("event"));
    item.insert("kind".into(), s(event.kind.as_str()));
    item.insert("recorded_at".into(), s(event.recorded_at.to_rfc3339()));
    item.insert("doc".into(), s(doc));
    item.insert("chain_seq".into(), n(link.seq));
    item.insert("chain_prev".into(), s(link.prev_sha256));
    if let Some(index_pk) = keys::event_index_pk(event) {
        item.insert("gsi1pk".into(), s(index_pk));
        item.insert(
            "gsi1sk".into(),
            s(keys::change_sk(&event.recorded_at, event_id)),
        );
    }
    Ok((item, next))
}

/// The chain head a state item carries, if it has one.
fn chain_head(item: &Item) -> Result<Option<ChainHead>, StoreError> {
    if !item.contains_key("chain_head") {
        return Ok(None);
    }
    Ok(Some(ChainHead {
        seq: get_n(item, "chain_seq")?,
        sha256: get_s(item, "chain_head")?.to_string(),
    }))
}

/// An event item as the chain's verification reads it: the document as stored, and its link.
fn stored_event(item: &Item) -> Result<StoredEvent, StoreError> {
    let sk = get_s(item, "sk")?;
    let link = if item.contains_key("chain_prev") {
        Some(Link {
            seq: get_n(item, "chain_seq")?,
            prev_sha256: get_s(item, "chain_prev")?.to_string(),
        })
    } else {
        None
    };
    Ok(StoredEvent {
        event_id: sk
            .strip_prefix(keys::EVENT_PREFIX)
            .unwrap_or(sk)
            .to_string(),
        doc: get_s(item, "doc")?.to_string(),
        link,
    })
}

/// The state item of `event`'s number after it, at `version`.
pub(crate) fn state_item(
    event: &ConsentEvent,
    state: &NumberState,
    version: u64,
    head: &ChainHead,
) -> Result<Item, StoreError> {
    let mut item = Item::new();
    item.insert("pk".into(), s(keys::number_pk(&event.tenant, &event.phone)));
    item.insert("sk".into(), s(keys::STATE_SK));
    item.insert("type".into(), s("state"));
    item.insert("version".into(), n(version));
    item.insert("updated_at".into(), s(event.recorded_at.to_rfc3339()));
    item.insert("doc".into(), to_doc(state)?);
    item.insert("chain_seq".into(), n(head.seq));
    item.insert("chain_head".into(), s(head.sha256.clone()));
    Ok(item)
}

/// Tells the cancellation reasons apart: the dedupe record (index 0 when claimed) means a
/// duplicate; the nonce (right after it) a replay; the state item (last) a concurrent writer;
/// throttling and transaction conflicts are retried.
fn classify(
    err: aws_sdk_dynamodb::error::SdkError<
        TransactWriteItemsError,
        aws_sdk_dynamodb::config::http::HttpResponse,
    >,
    commit: &Commit<'_>,
    guarded: bool,
) -> Result<Cancelled, StoreError> {
    let service = match err {
        aws_sdk_dynamodb::error::SdkError::ServiceError(e) => e.into_err(),
        other => return Err(sdk_error(other)),
    };
    match service {
        TransactWriteItemsError::TransactionCanceledException(e) => {
            let reasons: &[CancellationReason] = e.cancellation_reasons();
            let code = |r: &CancellationReason| r.code().unwrap_or("None").to_string();
            let claimed = commit.dedupe.is_some();
            if claimed
                && reasons
                    .first()
                    .is_some_and(|r| code(r) == "ConditionalCheckFailed")
            {
                return Ok(Cancelled::Duplicate(
                    reasons.first().and_then(|r| r.item().cloned()),
                ));
            }
            let nonce_claimed = commit.dedupe.as_ref().is_some_and(|c| c.nonce.is_some());
            if nonce_claimed
                && reasons
                    .get(1)
                    .is_some_and(|r| code(r) == "ConditionalCheckFailed")
            {
                return Ok(Cancelled::NonceReused);
            }
            let guard = reasons.len().checked_sub(2).and_then(|i| reasons.get(i));
            if guarded && guard.is_some_and(|r| code(r) == "ConditionalCheckFailed") {
                return Ok(Cancelled::GuardFailed);
            }
            if reasons
                .last()
                .is_some_and(|r| code(r) == "ConditionalCheckFailed")
            {
                return Ok(Cancelled::StateConflict);
            }
            if reasons
                .iter()
                .any(|r| matches!(code(r).as_str(), "TransactionConflict"))
            {
                return Ok(Cancelled::StateConflict);
            }
            if reasons.iter().any(|r| {
                matches!(
                    code(r).as_str(),
                    "ThrottlingError" | "ProvisionedThroughputExceeded"
                )
            }) {
                return Ok(Cancelled::Throttled);
            }
            Ok(Cancelled::Other(
                reasons.iter().map(code).collect::<Vec<_>>().join(","),
            ))
        }
        TransactWriteItemsError::TransactionInProgressException(_) => Ok(Cancelled::StateConflict),
        TransactWriteItemsError::ProvisionedThroughputExceededException(_)
        | TransactWriteItemsError::RequestLimitExceeded(_)
        | TransactWriteItemsError::ThrottlingException(_) => Ok(Cancelled::Throttled),
        other => Ok(Cancelled::Other(format!(
            "{}: {}",
            other.code().unwrap_or("error"),
            other.message().unwrap_or("")
        ))),
    }
}
