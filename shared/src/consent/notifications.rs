//! Outbound notifications: what a tenant's endpoints are told when the ledger changes, as
//! CloudEvents 1.0 (structured JSON), signed with HMAC-SHA256 over the timestamp and the body.
//!
//! The signature header is `Stopgate-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>" under the endpoint's secret>`. A receiver recomputes it over the raw body,
//! compares in constant time, and refuses a `t` more than [`TOLERANCE_SECONDS`] from its clock.

use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

use super::{ConsentEvent, EventKind, Source};

/// How far a signature's time may be from the receiver's clock.
pub const TOLERANCE_SECONDS: i64 = 300;

/// What a notification is about. Endpoints subscribe to some or all of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationType {
    OptOut,
    OptIn,
    /// A consent granted (a grant, or a double opt-in confirmed).
    ConsentGranted,
    ConsentRevoked,
    ReviewOpened,
    ReviewResolved,
    /// A review left past its due date, which became an opt-out.
    ReviewExpired,
    ImportFinished,
}

impl NotificationType {
    pub const ALL: [NotificationType; 8] = [
        NotificationType::OptOut,
        NotificationType::OptIn,
        NotificationType::ConsentGranted,
        NotificationType::ConsentRevoked,
        NotificationType::ReviewOpened,
        NotificationType::ReviewResolved,
        NotificationType::ReviewExpired,
        NotificationType::ImportFinished,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationType::OptOut => "opt_out",
            NotificationType::OptIn => "opt_in",
            NotificationType::ConsentGranted => "consent_granted",
            NotificationType::ConsentRevoked => "consent_revoked",
            NotificationType::ReviewOpened => "review_opened",
            NotificationType::ReviewResolved => "review_resolved",
            NotificationType::ReviewExpired => "review_expired",
            NotificationType::ImportFinished => "import_finished",
        }
    }

    /// The CloudEvents `type`.
    pub fn cloudevents_type(self) -> String {
        format!("com.stopgate.{}", self.as_str())
    }

    /// A comma-separated list of names (`opt_out,opt_in`); `all` for every type.
    pub fn parse_list(list: &str) -> Result<Vec<NotificationType>, String> {
        if list.trim() == "all" {
            return Ok(NotificationType::ALL.to_vec());
        }
        let mut types = Vec::new();
        for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            let t = NotificationType::ALL
                .into_iter()
                .find(|t| t.as_str() == name)
                .ok_or_else(|| {
                    let known: Vec<&str> =
                        NotificationType::ALL.iter().map(|t| t.as_str()).collect();
                    format!(
                        "unknown event type {name:?}; expected all or some of {}",
                        known.join(", ")
                    )
                })?;
            if !types.contains(&t) {
                types.push(t);
            }
        }
        if types.is_empty() {
            return Err("name at least one event type, or all".into());
        }
        types.sort();
        Ok(types)
    }
}

/// The notifications one recorded event gives rise to.
pub fn of_event(event: &ConsentEvent) -> Vec<NotificationType> {
    match event.kind {
        EventKind::OptOut if event.source == Source::ReviewExpired => {
            vec![NotificationType::OptOut, NotificationType::ReviewExpired]
        }
        EventKind::OptOut => vec![NotificationType::OptOut],
        EventKind::OptIn => vec![NotificationType::OptIn],
        EventKind::Grant | EventKind::ConsentConfirmed => vec![NotificationType::ConsentGranted],
        EventKind::Revoke => vec![NotificationType::ConsentRevoked],
        EventKind::PossibleRevocation => vec![NotificationType::ReviewOpened],
        EventKind::ReviewResolved => vec![NotificationType::ReviewResolved],
        EventKind::Inbound | EventKind::Help | EventKind::Redacted | EventKind::PendingConsent => {
            Vec::new()
        }
    }
}

/// The CloudEvent for `event` as `kind`. Its id is stable (the event's id and the type), so a
/// receiver can drop a redelivery it already handled.
pub fn envelope(event: &ConsentEvent, kind: NotificationType) -> Value {
    let mut data = json!({
        "tenant": event.tenant,
        "phone": event.phone.as_str(),
        "event_id": event.event_id.as_str(),
        "kind": event.kind.as_str(),
        "source": event.source,
        "occurred_at": event.occurred_at,
        "recorded_at": event.recorded_at,
    });
    let optional = [
        ("scope", event.scope.as_ref().map(|s| json!(s.to_string()))),
        ("category", event.category.map(|c| json!(c))),
        ("provider", event.origin.provider.as_ref().map(|p| json!(p))),
        ("sender", event.origin.sender.as_ref().map(|s| json!(s))),
        (
            "review_id",
            event.review.as_ref().map(|r| json!(r.review_id)),
        ),
    ];
    if let Some(map) = data.as_object_mut() {
        for (name, value) in optional {
            if let Some(value) = value {
                map.insert(name.into(), value);
            }
        }
    }
    cloudevent(
        &format!("{}.{}", event.event_id.as_str(), kind.as_str()),
        &event.tenant,
        kind,
        Some(event.phone.as_str()),
        event.recorded_at,
        data,
    )
}

/// A CloudEvents 1.0 structured-mode envelope.
pub fn cloudevent(
    id: &str,
    tenant: &str,
    kind: NotificationType,
    subject: Option<&str>,
    time: DateTime<Utc>,
    data: Value,
) -> Value {
    let mut envelope = json!({
        "specversion": "1.0",
        "id": id,
        "source": format!("/stopgate/tenants/{tenant}"),
        "type": kind.cloudevents_type(),
        "time": time.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "datacontenttype": "application/json",
        "data": data,
    });
    if let (Some(subject), Some(map)) = (subject, envelope.as_object_mut()) {
        map.insert("subject".into(), json!(subject));
    }
    envelope
}

fn mac(secret: &str, timestamp: i64, body: &[u8]) -> Hmac<Sha256> {
    // HMAC takes a key of any length.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    mac
}

/// The `Stopgate-Signature` header value for `body` sent at `timestamp` (unix seconds).
pub fn signature_header(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let digest = mac(secret, timestamp, body).finalize().into_bytes();
    format!("t={timestamp},v1={}", hex::encode(digest))
}

/// Why a signature was refused (what a receiver does; Stopgate's own tests use it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the header is not t=<seconds>,v1=<hex>")]
    Malformed,
    #[error("the signed time is more than {TOLERANCE_SECONDS} s from now")]
    Stale,
    #[error("no v1 signature matches")]
    Mismatch,
}

/// Checks a `Stopgate-Signature` header against `body` and `now` (unix seconds), in constant
/// time. Any of several `v1=` values may match (an endpoint's secret during a rotation).
pub fn verify_signature(
    secret: &str,
    header: &str,
    body: &[u8],
    now: i64,
) -> Result<(), SignatureError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        match part.trim().split_once('=') {
            Some(("t", t)) => timestamp = t.parse::<i64>().ok(),
            Some(("v1", v)) => {
                signatures.push(hex::decode(v).map_err(|_| SignatureError::Malformed)?)
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or(SignatureError::Malformed)?;
    if signatures.is_empty() {
        return Err(SignatureError::Malformed);
    }
    if (now - timestamp).abs() > TOLERANCE_SECONDS {
        return Err(SignatureError::Stale);
    }
    if signatures
        .iter()
        .any(|s| mac(secret, timestamp, body).verify_slice(s).is_ok())
    {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::events;

    /// Computed apart from this code, with Python's standard library:
    /// `hmac.new(b"whsec_test", b"1765000000." + body, hashlib.sha256).hexdigest()`.
    const KNOWN_BODY: &[u8] = br#"{"specversion":"1.0","id":"x"}"#;
    const KNOWN_SIGNATURE: &str =
        "5d5c1549339376d3933effddefc4a7d19b059fd52f49c978e95bb3a086bd3b56";

    #[test]
    fn the_signature_is_hmac_sha256_over_the_time_a_dot_and_the_body() {
        assert_eq!(
            signature_header("whsec_test", 1_765_000_000, KNOWN_BODY),
            format!("t=1765000000,v1={KNOWN_SIGNATURE}")
        );
    }

    #[test]
    fn verification_refuses_other_bodies_secrets_and_stale_times() {
        let header = signature_header("whsec_test", 1_765_000_000, KNOWN_BODY);
        assert_eq!(
            verify_signature("whsec_test", &header, KNOWN_BODY, 1_765_000_100),
            Ok(())
        );
        assert_eq!(
            verify_signature("whsec_test", &header, b"{}", 1_765_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_other", &header, KNOWN_BODY, 1_765_000_100),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_signature("whsec_test", &header, KNOWN_BODY, 1_765_000_301),
            Err(SignatureError::Stale)
        );
        for bad in [
            "",
            "t=abc,v1=00",
            "v1=00",
            "t=1765000000",
            "t=1765000000,v1=zz",
        ] {
            assert_eq!(
                verify_signature("whsec_test", bad, KNOWN_BODY, 1_765_000_000),
                Err(SignatureError::Malformed),
                "{bad}"
            );
        }
        // A second v1 (a rotation) may be the one that matches.
        let two = format!(
            "t=1765000000,v1={},{}",
            "00".repeat(32),
            header.split(',').nth(1).unwrap()
        );
        assert_eq!(
            verify_signature("whsec_test", &two, KNOWN_BODY, 1_765_000_000),
            Ok(())
        );
    }

    #[test]
    fn events_map_to_the_notifications_a_business_subscribes_to() {
        let of = |kind| of_event(&events::event(kind).build());
        assert_eq!(of(EventKind::OptOut), [NotificationType::OptOut]);
        assert_eq!(of(EventKind::OptIn), [NotificationType::OptIn]);
        assert_eq!(of(EventKind::Grant), [NotificationType::ConsentGranted]);
        assert_eq!(
            of(EventKind::ConsentConfirmed),
            [NotificationType::ConsentGranted]
        );
        assert_eq!(of(EventKind::Revoke), [NotificationType::ConsentRevoked]);
        assert_eq!(
            of(EventKind::PossibleRevocation),
            [NotificationType::ReviewOpened]
        );
        assert_eq!(
            of(EventKind::ReviewResolved),
            [NotificationType::ReviewResolved]
        );
        assert!(of(EventKind::Inbound).is_empty());
        assert!(of(EventKind::Help).is_empty());
        let mut expired = events::event(EventKind::OptOut).build();
        expired.source = Source::ReviewExpired;
        assert_eq!(
            of_event(&expired),
            [NotificationType::OptOut, NotificationType::ReviewExpired]
        );
    }

    #[test]
    fn an_envelope_is_a_cloudevent_with_a_stable_id() {
        let stop = events::event(EventKind::OptOut)
            .tenant("acme")
            .phone(&crate::phone::E164::parse_e164("+14155550100").unwrap())
            .build();
        let envelope = envelope(&stop, NotificationType::OptOut);
        assert_eq!(envelope["specversion"], "1.0");
        assert_eq!(envelope["type"], "com.stopgate.opt_out");
        assert_eq!(envelope["source"], "/stopgate/tenants/acme");
        assert_eq!(envelope["subject"], "+14155550100");
        assert_eq!(envelope["datacontenttype"], "application/json");
        assert_eq!(envelope["data"]["phone"], "+14155550100");
        assert_eq!(envelope["data"]["kind"], "opt_out");
        assert_eq!(
            envelope["id"],
            format!("{}.opt_out", stop.event_id.as_str())
        );
        assert_eq!(envelope, super::envelope(&stop, NotificationType::OptOut));
    }

    #[test]
    fn event_type_lists_are_read_strictly() {
        assert_eq!(
            NotificationType::parse_list("opt_in, opt_out,opt_in").unwrap(),
            [NotificationType::OptOut, NotificationType::OptIn]
        );
        assert_eq!(NotificationType::parse_list("all").unwrap().len(), 8);
        assert!(NotificationType::parse_list("opt_out,stop").is_err());
        assert!(NotificationType::parse_list(" , ").is_err());
    }
}
