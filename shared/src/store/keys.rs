//! Every key in the table, in one place (see docs/data-model.md).

use sha2::{Digest, Sha256};

use crate::phone::E164;

/// Shards of the change index: enough that a webhook storm after a broadcast spreads over
/// several index partitions; few enough that a reader queries them all cheaply.
pub const CHANGE_SHARDS: u8 = 16;

pub fn tenant_pk(tenant: &str) -> String {
    format!("T#{tenant}")
}
pub const TENANT_SK: &str = "TENANT";
/// The index partition listing every tenant (on the tenant item).
pub const TENANTS_INDEX: &str = "TENANTS";
pub fn group_sk(group: &str) -> String {
    format!("GROUP#{group}")
}
pub fn provider_sk(provider: &str) -> String {
    format!("PROVIDER#{provider}")
}
pub fn tenant_key_sk(key_id: &str) -> String {
    format!("APIKEY#{key_id}")
}
/// A tenant's notification endpoints: a partition of their own, apart from the configuration in
/// `T#`, so the API may manage them (admin keys) without any right to the rest.
pub fn hooks_pk(tenant: &str) -> String {
    format!("HK#{tenant}")
}
pub fn hook_sk(hook_id: &str) -> String {
    format!("HOOK#{hook_id}")
}
/// A hook's delivery log (30 days, by TTL).
pub fn hook_log_pk(tenant: &str, hook_id: &str) -> String {
    format!("HL#{tenant}#{hook_id}")
}
/// A hosted form's configuration, beside the rest of the tenant's.
pub fn form_sk(form: &str) -> String {
    format!("FORM#{form}")
}

/// A rate-limit counter: one per limit, hashed key and window; it expires after the window.
pub fn rate_pk(tenant: &str, limit: &str, key_sha256: &str, window: i64) -> String {
    format!("RL#{tenant}#{limit}#{key_sha256}#{window}")
}
pub const RATE_SK: &str = "RATE";

/// An Amazon SNS topic's tenant, found from the topic alone (functions/inbound-sns).
pub fn sns_topic_pk(topic_arn: &str) -> String {
    format!("SNS#{topic_arn}")
}
pub const SNS_TOPIC_SK: &str = "TENANT";

/// A provider secret's keyed fingerprint, held by one tenant.
pub fn secret_fingerprint_pk(provider: &str, fingerprint: &str) -> String {
    format!("SF#{provider}#{fingerprint}")
}
pub const SECRET_FINGERPRINT_SK: &str = "TENANT";

pub fn api_key_pk(key_sha256: &str) -> String {
    format!("K#{key_sha256}")
}
pub const API_KEY_SK: &str = "KEY";

/// Everything about one number lives in one partition, so numbers spread the load.
pub fn number_pk(tenant: &str, phone: &E164) -> String {
    format!("N#{tenant}#{}", phone.as_str())
}
pub const STATE_SK: &str = "STATE";
pub fn event_sk(event_id: &str) -> String {
    format!("EV#{event_id}")
}
pub const EVENT_PREFIX: &str = "EV#";
pub fn private_sk(event_id: &str) -> String {
    format!("PII#{event_id}")
}

/// A provider signature nonce a tenant's webhooks used, kept for good.
pub fn nonce_pk(tenant: &str, provider: &str, nonce: &str) -> String {
    format!("NONCE#{tenant}#{provider}#{nonce}")
}
pub const NONCE_SK: &str = "NONCE";

pub fn dedupe_pk(tenant: &str, provider: &str, message_id: &str) -> String {
    format!("D#{tenant}#{provider}#{message_id}")
}
pub const DEDUPE_SK: &str = "DEDUPE";

pub fn disclosure_pk(tenant: &str, sha256: &str) -> String {
    format!("DISC#{tenant}#{sha256}")
}
pub const DISCLOSURE_SK: &str = "DISCLOSURE";

/// An import job: its own partition, addressed by the id its client holds.
/// A tenant's audit trail, apart from its configuration (which one Query loads whole).
pub fn audit_pk(tenant: &str) -> String {
    format!("AU#{tenant}")
}
/// Sorts by time (milliseconds, UTC), then by id.
pub fn audit_sk(at: &chrono::DateTime<chrono::Utc>, audit_id: &str) -> String {
    format!(
        "{}#{audit_id}",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}

pub fn import_pk(tenant: &str, import_id: &str) -> String {
    format!("I#{tenant}#{import_id}")
}
pub const IMPORT_SK: &str = "IMPORT";

/// A tenant's export bookkeeping: the checkpoint of its incremental exports, the claim of its
/// scheduled export, and the event ids each incremental export wrote within the overlap window.
pub fn exports_pk(tenant: &str) -> String {
    format!("X#{tenant}")
}
pub const EXPORT_CHECKPOINT_SK: &str = "EXPORT_CHECKPOINT";
pub const EXPORT_SCHEDULE_SK: &str = "EXPORT_SCHEDULE";
pub fn export_overlap_sk(export_id: &str, chunk: u32) -> String {
    format!("OVERLAP#{export_id}#{chunk:04}")
}
pub fn export_overlap_prefix(export_id: &str) -> String {
    format!("OVERLAP#{export_id}#")
}

/// An export job: its own partition, addressed by the id its client holds.
pub fn export_pk(tenant: &str, export_id: &str) -> String {
    format!("X#{tenant}#{export_id}")
}
pub const EXPORT_SK: &str = "EXPORT";
/// The index partition listing a tenant's exports, newest first (`GET /v1/exports`).
pub fn exports_index_pk(tenant: &str) -> String {
    format!("EXP#{tenant}")
}

pub fn quarantine_pk(tenant: &str, day: &str) -> String {
    format!("Q#{tenant}#{day}")
}

/// How many requests a tenant had quarantined in one minute (`YYYYMMDDHHMM`), with a TTL.
pub fn quarantine_counter_pk(tenant: &str, minute: &str) -> String {
    format!("QC#{tenant}#{minute}")
}
pub const QUARANTINE_COUNTER_SK: &str = "COUNT";

/// The change index partition for a number: the shard comes from a hash of the number so a
/// number's changes stay in order within one shard.
pub fn change_pk(tenant: &str, phone: &E164) -> String {
    change_shard_pk(tenant, shard_of(phone))
}

pub fn change_shard_pk(tenant: &str, shard: u8) -> String {
    format!("CHG#{tenant}#{shard:02}")
}

/// The inbound-text index: messages that were not opt-outs or opt-ins (plain texts, HELP,
/// possible revocations), so a newer classifier can re-read them (`stopgate reclassify`).
pub fn inbound_shard_pk(tenant: &str, shard: u8) -> String {
    format!("IN#{tenant}#{shard:02}")
}

/// The private-records index: every event's private record (message text, IP, user agent) by
/// when it was recorded, so the retention job finds those past a tenant's retention period.
pub fn private_index_pk(tenant: &str, phone: &E164) -> String {
    private_shard_pk(tenant, shard_of(phone))
}

pub fn private_shard_pk(tenant: &str, shard: u8) -> String {
    format!("PV#{tenant}#{shard:02}")
}

fn shard_of(phone: &E164) -> u8 {
    Sha256::digest(phone.as_str().as_bytes())
        .first()
        .copied()
        .unwrap_or(0)
        % CHANGE_SHARDS
}

/// Which sparse index partition an event joins, if any. Every event that may move a number's
/// standing in a scope joins the change index, whatever its kind (an opt-out, an opt-in, a
/// grant documented to override an opt-out), so a reader of changes misses none of them.
pub fn event_index_pk(event: &crate::consent::ConsentEvent) -> Option<String> {
    use crate::consent::EventKind::*;
    if event.standing_change().is_some() {
        return Some(change_pk(&event.tenant, &event.phone));
    }
    match event.kind {
        Inbound | Help | PossibleRevocation => {
            Some(inbound_shard_pk(&event.tenant, shard_of(&event.phone)))
        }
        OptOut | OptIn | Grant | Revoke | ReviewResolved | Redacted | PendingConsent
        | ConsentConfirmed => None,
    }
}
pub fn change_sk(recorded_at: &chrono::DateTime<chrono::Utc>, event_id: &str) -> String {
    format!(
        "{}#{event_id}",
        recorded_at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}

/// The lowest change-index key of changes recorded from `at` on; none: from the first.
pub fn change_sk_from(at: Option<&chrono::DateTime<chrono::Utc>>) -> String {
    // DynamoDB refuses an empty string in a key condition: "0" sorts before any timestamp.
    at.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_else(|| "0".to_string())
}

/// The highest change-index key of changes recorded up to `at` (its millisecond included).
pub fn change_sk_through(at: &chrono::DateTime<chrono::Utc>) -> String {
    // '~' sorts after every character of an event id (Crockford base 32).
    format!(
        "{}#~",
        at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    )
}
