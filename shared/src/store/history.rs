//! Reading the ledger back: a number's history page by page, the evidence behind its events,
//! the change index for lists and exports, and erasing private records.

use std::collections::{HashMap, HashSet};

use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use chrono::{DateTime, Duration, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};

use super::{Item, Store, StoreError, get_doc, get_s, keys, s, sdk_error};
use crate::consent::{ConsentEvent, PrivateEvidence};
use crate::phone::E164;

/// Where a history page stopped: the last event's sort key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryPosition {
    pub last_sk: String,
}

/// Where a walk of the change index stopped: the shard and, within it, the last item's keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangePosition {
    pub shard: u8,
    pub last: Option<ChangeKey>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeKey {
    pub gsi1sk: String,
    pub pk: String,
    pub sk: String,
}

/// One entry of the change index: an event that may have moved a number's standing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChangeEntry {
    pub phone: E164,
    pub event_id: String,
}

/// The sparse event indexes (see docs/data-model.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventIndex {
    /// Opt-outs and opt-ins: lists and exports.
    Changes,
    /// Other inbound messages: re-classification.
    Inbound,
}

impl EventIndex {
    fn shard_pk(self, tenant: &str, shard: u8) -> String {
        match self {
            EventIndex::Changes => keys::change_shard_pk(tenant, shard),
            EventIndex::Inbound => keys::inbound_shard_pk(tenant, shard),
        }
    }
}

/// Changes reach the index a moment after the table; readers go back this far and dedupe.
pub const CHANGE_INDEX_OVERLAP: Duration = Duration::seconds(60);

impl Store {
    /// One page of a number's events, newest first.
    pub async fn history_page(
        &self,
        tenant: &str,
        phone: &E164,
        after: Option<&HistoryPosition>,
        limit: i32,
    ) -> Result<(Vec<ConsentEvent>, Option<HistoryPosition>), StoreError> {
        let pk = keys::number_pk(tenant, phone);
        let start = after.map(|p| {
            Item::from([
                ("pk".to_string(), s(pk.clone())),
                ("sk".to_string(), s(p.last_sk.clone())),
            ])
        });
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s(keys::EVENT_PREFIX))
            .scan_index_forward(false)
            .consistent_read(true)
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let events = out
            .items()
            .iter()
            .map(get_doc)
            .collect::<Result<Vec<ConsentEvent>, _>>()?;
        let next = match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(HistoryPosition {
                last_sk: get_s(key, "sk")?.to_string(),
            }),
            _ => None,
        };
        Ok((events, next))
    }

    /// The private records of some of a number's events (one BatchGetItem per 100).
    pub async fn private_evidence_many(
        &self,
        tenant: &str,
        phone: &E164,
        event_ids: &[&str],
    ) -> Result<HashMap<String, PrivateEvidence>, StoreError> {
        let pk = keys::number_pk(tenant, phone);
        let keys = event_ids
            .iter()
            .map(|id| {
                Item::from([
                    ("pk".to_string(), s(pk.clone())),
                    ("sk".to_string(), s(keys::private_sk(id))),
                ])
            })
            .collect();
        let (found, unread) = self.batch_get(keys, false).await?;
        if !unread.is_empty() {
            return Err(StoreError::Throttled);
        }
        found
            .iter()
            .map(|item| {
                Ok((
                    get_s(item, "sk")?.trim_start_matches("PII#").to_string(),
                    get_doc(item)?,
                ))
            })
            .collect()
    }

    /// The disclosure texts behind some SHA-256 hashes.
    pub async fn disclosures(
        &self,
        tenant: &str,
        hashes: &HashSet<String>,
    ) -> Result<HashMap<String, String>, StoreError> {
        let mut found = HashMap::new();
        for sha in hashes {
            let out = self
                .ddb
                .get_item()
                .table_name(&self.table)
                .key("pk", s(keys::disclosure_pk(tenant, sha)))
                .key("sk", s(keys::DISCLOSURE_SK))
                .send()
                .await
                .map_err(sdk_error)?;
            if let Some(item) = out.item() {
                found.insert(sha.clone(), get_s(item, "text")?.to_string());
            }
        }
        Ok(found)
    }

    /// Whether a disclosure text is already stored (to avoid rewriting it on every consent).
    pub async fn has_disclosure(&self, tenant: &str, sha256: &str) -> Result<bool, StoreError> {
        let out = self
            .ddb
            .get_item()
            .table_name(&self.table)
            .key("pk", s(keys::disclosure_pk(tenant, sha256)))
            .key("sk", s(keys::DISCLOSURE_SK))
            .projection_expression("pk")
            .send()
            .await
            .map_err(sdk_error)?;
        Ok(out.item().is_some())
    }

    /// Up to `limit` opt-out/opt-in events recorded after `since`, walking the change index
    /// shard by shard from `from`. Returns the events and where to continue (None: done).
    pub async fn changes_page(
        &self,
        tenant: &str,
        index: EventIndex,
        since: Option<DateTime<Utc>>,
        from: &ChangePosition,
        limit: usize,
    ) -> Result<(Vec<ConsentEvent>, Option<ChangePosition>), StoreError> {
        // DynamoDB refuses an empty string in a key condition, so "everything" is a bound
        // below any timestamp.
        let lower = since
            .map(|t| (t - CHANGE_INDEX_OVERLAP).to_rfc3339_opts(SecondsFormat::Millis, true))
            .unwrap_or_else(|| "0".to_string());
        let mut events = Vec::new();
        let mut position = from.clone();
        while position.shard < keys::CHANGE_SHARDS {
            let start = position.last.as_ref().map(|k| {
                Item::from([
                    (
                        "gsi1pk".to_string(),
                        s(index.shard_pk(tenant, position.shard)),
                    ),
                    ("gsi1sk".to_string(), s(k.gsi1sk.clone())),
                    ("pk".to_string(), s(k.pk.clone())),
                    ("sk".to_string(), s(k.sk.clone())),
                ])
            });
            let want =
                i32::try_from(limit.saturating_sub(events.len()).clamp(1, 500)).unwrap_or(500);
            let out = self
                .ddb
                .query()
                .table_name(&self.table)
                .index_name("gsi1")
                .key_condition_expression("gsi1pk = :pk AND gsi1sk > :since")
                .expression_attribute_values(":pk", s(index.shard_pk(tenant, position.shard)))
                .expression_attribute_values(":since", s(lower.clone()))
                .limit(want)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(sdk_error)?;
            for item in out.items() {
                events.push(get_doc(item)?);
            }
            position = match out.last_evaluated_key() {
                Some(key) if !key.is_empty() => ChangePosition {
                    shard: position.shard,
                    last: Some(ChangeKey {
                        gsi1sk: get_s(key, "gsi1sk")?.to_string(),
                        pk: get_s(key, "pk")?.to_string(),
                        sk: get_s(key, "sk")?.to_string(),
                    }),
                },
                _ => ChangePosition {
                    shard: position.shard + 1,
                    last: None,
                },
            };
            if events.len() >= limit {
                break;
            }
        }
        let next = (position.shard < keys::CHANGE_SHARDS).then_some(position);
        Ok((events, next))
    }

    /// One page of a change-index shard between two keys (`gsi1sk`, both inclusive), as
    /// entries: which number, which event, when recorded. Only the keys are read (a projection),
    /// so a walk of the whole index moves little; exports read each number's state instead.
    pub async fn change_entries(
        &self,
        tenant: &str,
        shard: u8,
        from_key: &str,
        through_key: &str,
        after: Option<&ChangeKey>,
        limit: i32,
    ) -> Result<(Vec<ChangeEntry>, Option<ChangeKey>), StoreError> {
        let shard_pk = keys::change_shard_pk(tenant, shard);
        let start = after.map(|k| {
            Item::from([
                ("gsi1pk".to_string(), s(shard_pk.clone())),
                ("gsi1sk".to_string(), s(k.gsi1sk.clone())),
                ("pk".to_string(), s(k.pk.clone())),
                ("sk".to_string(), s(k.sk.clone())),
            ])
        });
        let out = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND gsi1sk BETWEEN :from AND :through")
            .expression_attribute_values(":pk", s(shard_pk))
            .expression_attribute_values(":from", s(from_key))
            .expression_attribute_values(":through", s(through_key))
            .projection_expression("pk, sk, gsi1sk")
            .limit(limit)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(sdk_error)?;
        let prefix = format!("N#{tenant}#");
        let entries = out
            .items()
            .iter()
            .map(|item| {
                let pk = get_s(item, "pk")?;
                let sk = get_s(item, "sk")?;
                let phone = pk
                    .strip_prefix(&prefix)
                    .and_then(E164::from_stored)
                    .ok_or_else(|| StoreError::Corrupt(format!("change entry of {pk}")))?;
                let event_id = sk
                    .strip_prefix(keys::EVENT_PREFIX)
                    .ok_or_else(|| StoreError::Corrupt(format!("change entry {sk}")))?;
                Ok(ChangeEntry {
                    phone,
                    event_id: event_id.to_string(),
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let next = match out.last_evaluated_key() {
            Some(key) if !key.is_empty() => Some(ChangeKey {
                gsi1sk: get_s(key, "gsi1sk")?.to_string(),
                pk: get_s(key, "pk")?.to_string(),
                sk: get_s(key, "sk")?.to_string(),
            }),
            _ => None,
        };
        Ok((entries, next))
    }

    /// Erases every private record (message text, IP, user agent) of a number. Returns how many.
    pub async fn delete_private_records(
        &self,
        tenant: &str,
        phone: &E164,
    ) -> Result<usize, StoreError> {
        let pk = keys::number_pk(tenant, phone);
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :prefix)")
            .expression_attribute_values(":pk", s(pk))
            .expression_attribute_values(":prefix", s("PII#"))
            .projection_expression("pk, sk")
            .consistent_read(true);
        let keys_to_delete = self.query_all(query).await?;
        self.delete_all(&keys_to_delete).await
    }

    /// Erases the private records of a tenant's events recorded before `before`, in one shard of
    /// the private-records index (the retention job walks the 16). Returns how many.
    pub async fn delete_private_records_before(
        &self,
        tenant: &str,
        shard: u8,
        before: DateTime<Utc>,
    ) -> Result<usize, StoreError> {
        let query = self
            .ddb
            .query()
            .table_name(&self.table)
            .index_name("gsi1")
            .key_condition_expression("gsi1pk = :pk AND gsi1sk < :before")
            .expression_attribute_values(":pk", s(keys::private_shard_pk(tenant, shard)))
            .expression_attribute_values(":before", s(keys::change_sk_from(Some(&before))))
            .projection_expression("pk, sk");
        let keys_to_delete = self.query_all(query).await?;
        self.delete_all(&keys_to_delete).await
    }

    /// Deletes items by key with `BatchWriteItem` (25 a request), retrying unprocessed keys.
    async fn delete_all(&self, keys_to_delete: &[Item]) -> Result<usize, StoreError> {
        for chunk in keys_to_delete.chunks(25) {
            let mut requests = chunk
                .iter()
                .map(|key| {
                    DeleteRequest::builder()
                        .set_key(Some(key.clone()))
                        .build()
                        .map(|d| WriteRequest::builder().delete_request(d).build())
                        .map_err(|e| StoreError::Corrupt(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            for _ in 0..6 {
                let out = self
                    .ddb
                    .batch_write_item()
                    .request_items(&self.table, requests.clone())
                    .send()
                    .await
                    .map_err(sdk_error)?;
                requests = out
                    .unprocessed_items()
                    .and_then(|u| u.get(&self.table))
                    .cloned()
                    .unwrap_or_default();
                if requests.is_empty() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
            if !requests.is_empty() {
                return Err(StoreError::Throttled);
            }
        }
        Ok(keys_to_delete.len())
    }
}
