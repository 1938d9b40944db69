//! The audit trail of configuration: every change to a tenant's policy (keywords and reply
//! texts included), sender groups, forms, API keys and provider secrets is one record saying
//! who made it, when, and what changed field by field. Secret values never appear: secrets are
//! audited through a view that names them and tells their values apart by a short hash of the
//! sealed value (see [`SecretsView`]), never the value itself.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::event::Actor;

/// What kind of change a record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuditAction {
    TenantCreated,
    /// The policy: settings, keywords, reply texts.
    PolicyChanged,
    SenderGroupSet,
    SenderGroupDeleted,
    FormSaved,
    ApiKeyCreated,
    ApiKeyRevoked,
    ProviderSecretsSet,
    ProviderPreviousSecretsDropped,
    ProviderSettingsSet,
    HookAdded,
    HookRemoved,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::TenantCreated => "tenant_created",
            AuditAction::PolicyChanged => "policy_changed",
            AuditAction::SenderGroupSet => "sender_group_set",
            AuditAction::SenderGroupDeleted => "sender_group_deleted",
            AuditAction::FormSaved => "form_saved",
            AuditAction::ApiKeyCreated => "api_key_created",
            AuditAction::ApiKeyRevoked => "api_key_revoked",
            AuditAction::ProviderSecretsSet => "provider_secrets_set",
            AuditAction::ProviderPreviousSecretsDropped => "provider_previous_secrets_dropped",
            AuditAction::ProviderSettingsSet => "provider_settings_set",
            AuditAction::HookAdded => "hook_added",
            AuditAction::HookRemoved => "hook_removed",
        }
    }
}

/// One field that changed: its dotted path and its values before and after (absent when the
/// field did not exist on that side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldChange {
    pub field: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
}

/// One configuration change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuditRecord {
    pub audit_id: String,
    pub tenant: String,
    pub at: DateTime<Utc>,
    pub actor: Actor,
    pub action: AuditAction,
    /// What within the tenant: a sender group's name, a form id, an API key id, a provider.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    pub changes: Vec<FieldChange>,
}

impl AuditRecord {
    /// A record of `action` by `actor` now, with the changes from `before` to `after` (JSON
    /// views of the thing changed; `Value::Null` for "did not exist").
    pub fn new(
        tenant: &str,
        actor: Actor,
        action: AuditAction,
        target: Option<&str>,
        before: &Value,
        after: &Value,
    ) -> AuditRecord {
        AuditRecord {
            audit_id: ulid::Ulid::new().to_string(),
            tenant: tenant.to_string(),
            at: Utc::now(),
            actor,
            action,
            target: target.map(str::to_string),
            changes: changes(before, after),
        }
    }
}

/// The fields that differ between two JSON views, in path order. Objects are compared key by
/// key (a missing key and `null` both count as absent); anything else (arrays, strings,
/// numbers) is compared whole, so a list of senders or keywords shows as its before and after.
pub fn changes(before: &Value, after: &Value) -> Vec<FieldChange> {
    let mut out = Vec::new();
    walk("", before, after, &mut out);
    out
}

fn walk(path: &str, before: &Value, after: &Value, out: &mut Vec<FieldChange>) {
    let present = |v: &Value| !v.is_null();
    match (before, after) {
        (Value::Object(b), Value::Object(a)) => {
            let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let child = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                walk(
                    &child,
                    b.get(key).unwrap_or(&Value::Null),
                    a.get(key).unwrap_or(&Value::Null),
                    out,
                );
            }
        }
        // A thing created or removed whole: one change per field, so it reads like any other.
        (Value::Null, Value::Object(_)) => {
            walk(path, &Value::Object(Default::default()), after, out)
        }
        (Value::Object(_), Value::Null) => {
            walk(path, before, &Value::Object(Default::default()), out)
        }
        _ if before != after => out.push(FieldChange {
            field: if path.is_empty() {
                "value".into()
            } else {
                path.to_string()
            },
            before: present(before).then(|| before.clone()),
            after: present(after).then(|| after.clone()),
        }),
        _ => {}
    }
}

/// A provider's secrets as the audit trail may show them: each secret's accepted values as
/// `sealed:<first 12 hex digits of SHA-256 of the sealed value>` (current first), how long
/// previous values are accepted, and the settings (which are not secret). A replaced value
/// shows as a different tag; the tag of a sealed value says nothing of the value inside.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SecretsView {
    pub values: BTreeMap<String, Vec<String>>,
    pub previous_accepted_until: BTreeMap<String, DateTime<Utc>>,
    pub settings: BTreeMap<String, String>,
}

impl SecretsView {
    pub fn new(
        sealed: &BTreeMap<String, Vec<String>>,
        previous_until: &BTreeMap<String, DateTime<Utc>>,
        settings: &BTreeMap<String, String>,
    ) -> SecretsView {
        use sha2::Digest;
        let tag = |sealed: &String| {
            let digest = sha2::Sha256::digest(sealed.as_bytes());
            format!("sealed:{}", &hex::encode(digest)[..12])
        };
        SecretsView {
            values: sealed
                .iter()
                .map(|(name, values)| (name.clone(), values.iter().map(tag).collect()))
                .collect(),
            previous_accepted_until: previous_until.clone(),
            settings: settings.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn change(field: &str, before: Option<Value>, after: Option<Value>) -> FieldChange {
        FieldChange {
            field: field.into(),
            before,
            after,
        }
    }

    #[test]
    fn only_the_fields_that_differ_are_listed_with_their_paths() {
        let before = json!({"stop_scope": "tenant", "version": 3,
            "keywords": {"stop_added": ["ALTO"], "stop_disabled": []}, "brand_name": null});
        let after = json!({"stop_scope": "brand", "version": 4,
            "keywords": {"stop_added": ["ALTO", "BASTA"], "stop_disabled": []},
            "brand_name": "Acme"});
        assert_eq!(
            changes(&before, &after),
            vec![
                change("brand_name", None, Some(json!("Acme"))),
                change(
                    "keywords.stop_added",
                    Some(json!(["ALTO"])),
                    Some(json!(["ALTO", "BASTA"]))
                ),
                change("stop_scope", Some(json!("tenant")), Some(json!("brand"))),
                change("version", Some(json!(3)), Some(json!(4))),
            ]
        );
        assert!(changes(&after, &after).is_empty());
    }

    #[test]
    fn something_created_or_removed_shows_each_of_its_fields() {
        let group = json!({"name": "care", "senders": ["+14155550100"]});
        assert_eq!(
            changes(&Value::Null, &group),
            vec![
                change("name", None, Some(json!("care"))),
                change("senders", None, Some(json!(["+14155550100"]))),
            ]
        );
        assert_eq!(
            changes(&group, &Value::Null),
            vec![
                change("name", Some(json!("care")), None),
                change("senders", Some(json!(["+14155550100"])), None),
            ]
        );
    }

    #[test]
    fn a_secrets_view_tells_values_apart_without_showing_them() {
        let sealed = |v: &str| BTreeMap::from([("auth_token".to_string(), vec![v.to_string()])]);
        let (until, settings) = (BTreeMap::new(), BTreeMap::new());
        let first = SecretsView::new(&sealed("v1.sealed-one"), &until, &settings);
        let second = SecretsView::new(&sealed("v1.sealed-two"), &until, &settings);
        let tag = &first.values["auth_token"][0];
        assert!(
            tag.starts_with("sealed:") && tag.len() == "sealed:".len() + 12,
            "{tag}"
        );
        assert_ne!(first, second);
        let shown = serde_json::to_string(&first).unwrap();
        assert!(!shown.contains("sealed-one"), "{shown}");
    }
}
