//! Providers' own opt-out lists, one page at a time, as their list APIs return them: Telnyx
//! `GET /v2/messaging_optouts`, RingCentral `GET /restapi/v1.0/account/~/a2p-sms/opt-outs` and
//! AWS End User Messaging `DescribeOptedOutNumbers`. Pure: reconciliation
//! (`flows::reconcile`) fetches the pages and compares what they list with the ledger.
//!
//! A listed number that cannot be read as a phone number (a redacted one, a short code in the
//! recipient's place) is counted, never guessed: a list with such an entry is not complete
//! enough to say which numbers the provider still accepts.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Provider;
use crate::phone::E164;

/// The providers whose opt-out lists Stopgate can read.
pub const LISTED_BY: [Provider; 3] = [Provider::Telnyx, Provider::Ringcentral, Provider::Aws];

/// One opt-out a provider holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProviderOptOut {
    pub provider: Provider,
    /// The business's sender the provider blocks the person from (Telnyx and RingCentral
    /// `from`); `None` when the list names none (an AWS list blocks every number and pool it is
    /// associated with).
    pub sender: Option<String>,
    /// The provider-side pool the block belongs to (a Telnyx messaging profile).
    pub pool: Option<String>,
    /// The person, in E.164.
    pub phone: E164,
    /// When the provider recorded the opt-out; `None` when its list does not say (RingCentral).
    pub listed_at: Option<DateTime<Utc>>,
    /// The provider's own word for how it came about: Telnyx's keyword, RingCentral's `source`,
    /// AWS's `end_user` or `account` (from `EndUserOptedOut`).
    pub provider_source: Option<String>,
}

/// One page of a provider's list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListPage {
    pub entries: Vec<ProviderOptOut>,
    /// Entries whose number could not be read, each as "field: why" (never the number).
    pub unreadable: Vec<String>,
    /// What to ask for next; `None` on the last page.
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{provider} opt-out list: {field}: {reason}")]
pub struct PageError {
    pub provider: Provider,
    pub field: String,
    pub reason: String,
}

/// Reads one page. `read_phone` reads a number as the tenant writes numbers (its default
/// region; RingCentral documents numbers without `+`).
pub fn parse_page(
    provider: Provider,
    body: &[u8],
    read_phone: &dyn Fn(&str) -> Option<E164>,
) -> Result<ListPage, PageError> {
    let error = |field: &str, reason: &str| PageError {
        provider,
        field: field.to_string(),
        reason: reason.to_string(),
    };
    let doc: Value =
        serde_json::from_slice(body).map_err(|e| error("body", &format!("not JSON: {e}")))?;
    let list_field = match provider {
        Provider::Telnyx => "data",
        Provider::Ringcentral => "records",
        Provider::Aws => "OptedOutNumbers",
        _ => return Err(error("provider", "has no opt-out list Stopgate can read")),
    };
    let items = match doc.get(list_field) {
        None | Some(Value::Null) => &[][..],
        Some(Value::Array(items)) => items.as_slice(),
        Some(_) => return Err(error(list_field, "is not an array")),
    };
    let mut page = ListPage::default();
    for (i, item) in items.iter().enumerate() {
        let entry = match provider {
            Provider::Telnyx => telnyx_entry(item),
            Provider::Ringcentral => ringcentral_entry(item),
            _ => aws_entry(item),
        };
        let Some(raw) = entry else { continue };
        let field = format!("{list_field}[{i}].{}", raw.phone_field);
        let Some(number) = raw.phone.filter(|p| !p.trim().is_empty()) else {
            page.unreadable.push(format!("{field}: missing"));
            continue;
        };
        let Some(phone) = read_phone(number.trim()) else {
            page.unreadable.push(format!("{field}: not a phone number"));
            continue;
        };
        let sender = raw
            .sender
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "*")
            .map(|s| read_phone(&s).map(|n| n.as_str().to_string()).unwrap_or(s));
        page.entries.push(ProviderOptOut {
            provider,
            sender,
            pool: raw.pool.filter(|p| !p.trim().is_empty()),
            phone,
            listed_at: raw.listed_at,
            provider_source: raw.provider_source,
        });
    }
    page.next = match provider {
        Provider::Telnyx => telnyx_next(&doc, items.is_empty()),
        Provider::Ringcentral => text(doc.pointer("/paging/nextPageToken")),
        _ => text(doc.get("NextToken")),
    };
    Ok(page)
}

/// An entry before its number is read.
struct RawEntry {
    phone_field: &'static str,
    phone: Option<String>,
    sender: Option<String>,
    pool: Option<String>,
    listed_at: Option<DateTime<Utc>>,
    provider_source: Option<String>,
}

fn text(value: Option<&Value>) -> Option<String> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// Telnyx: `{"data": [{"from", "to", "messaging_profile_id", "keyword", "created_at"}], "meta":
/// {"page_number", "total_pages", …}}`. `to` is the person who opted out of `from`.
fn telnyx_entry(item: &Value) -> Option<RawEntry> {
    Some(RawEntry {
        phone_field: "to",
        phone: text(item.get("to")),
        sender: text(item.get("from")),
        pool: text(item.get("messaging_profile_id")),
        listed_at: text(item.get("created_at")).and_then(|t| telnyx_time(&t)),
        provider_source: text(item.get("keyword")),
    })
}

/// Telnyx writes `2025-04-28 12:00:38.631252+00:00` as well as RFC 3339.
fn telnyx_time(raw: &str) -> Option<DateTime<Utc>> {
    if let Ok(t) = DateTime::parse_from_rfc3339(raw) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%d %H:%M:%S%.f%:z", "%Y-%m-%d %H:%M:%S%.f%#z"] {
        if let Ok(t) = DateTime::parse_from_str(raw, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    NaiveDateTime::parse_from_str(raw, "%Y-%m-%d %H:%M:%S%.f")
        .ok()
        .map(|t| Utc.from_utc_datetime(&t))
}

/// Pages are numbered from 1; past `total_pages` (or on an empty page) there is nothing more.
fn telnyx_next(doc: &Value, empty: bool) -> Option<String> {
    let meta = doc.get("meta")?;
    let number = meta.get("page_number")?.as_u64()?;
    let total = meta.get("total_pages")?.as_u64()?;
    (!empty && number < total).then(|| (number + 1).to_string())
}

/// RingCentral: `{"records": [{"from", "to", "status", "source"}], "paging": {"nextPageToken",
/// …}}`. Only `OptOut` records are opt-outs (the list can be asked for opt-ins too).
fn ringcentral_entry(item: &Value) -> Option<RawEntry> {
    let status = text(item.get("status")).unwrap_or_else(|| "OptOut".into());
    if !status.eq_ignore_ascii_case("optout") {
        return None;
    }
    Some(RawEntry {
        phone_field: "to",
        phone: text(item.get("to")),
        sender: text(item.get("from")),
        pool: None,
        listed_at: None,
        provider_source: text(item.get("source")),
    })
}

/// AWS: `{"OptedOutNumbers": [{"OptedOutNumber", "OptedOutTimestamp" (Unix seconds),
/// "EndUserOptedOut"}], "NextToken"}`.
fn aws_entry(item: &Value) -> Option<RawEntry> {
    let listed_at = item
        .get("OptedOutTimestamp")
        .and_then(Value::as_f64)
        .and_then(|secs| DateTime::from_timestamp_millis((secs * 1000.0).round() as i64));
    let provider_source = item
        .get("EndUserOptedOut")
        .and_then(Value::as_bool)
        .map(|by_person| if by_person { "end_user" } else { "account" }.to_string());
    Some(RawEntry {
        phone_field: "OptedOutNumber",
        phone: text(item.get("OptedOutNumber")),
        sender: None,
        pool: None,
        listed_at,
        provider_source,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn us(raw: &str) -> Option<E164> {
        crate::phone::normalize(raw, "US", crate::phone::PhoneMode::Lenient).ok()
    }

    fn page(provider: Provider, body: &str) -> ListPage {
        parse_page(provider, body.as_bytes(), &us).unwrap()
    }

    #[test]
    fn telnyx_pages_give_sender_profile_person_time_and_the_next_page_number() {
        let p = page(
            Provider::Telnyx,
            r#"{"data": [
                {"from": "+14155550100", "to": "+14155550123", "messaging_profile_id": "mp-1",
                 "keyword": "STOP", "created_at": "2025-04-28 12:00:38.631252+00:00", "new": 1},
                {"from": "+14155550100", "to": "+1415555****", "created_at": "2025-04-28T12:00:00Z"},
                {"from": "12345", "to": "(415) 555-0124", "keyword": null, "created_at": "garbage"}
            ], "meta": {"page_number": 1, "page_size": 3, "total_pages": 2, "total_results": 5}}"#,
        );
        assert_eq!(p.entries.len(), 2);
        let first = &p.entries[0];
        assert_eq!(first.sender.as_deref(), Some("+14155550100"));
        assert_eq!(first.pool.as_deref(), Some("mp-1"));
        assert_eq!(first.phone.as_str(), "+14155550123");
        assert_eq!(
            first.listed_at.map(|t| t.to_rfc3339()),
            Some("2025-04-28T12:00:38.631252+00:00".into())
        );
        assert_eq!(first.provider_source.as_deref(), Some("STOP"));
        // A short code stays as it is; a national number is read in the tenant's region; an
        // unreadable time is no time, not a guess.
        let second = &p.entries[1];
        assert_eq!(second.sender.as_deref(), Some("12345"));
        assert_eq!(second.phone.as_str(), "+14155550124");
        assert_eq!(second.listed_at, None);
        // The redacted number is counted, and neither it nor any number is in the reason.
        assert_eq!(p.unreadable, vec!["data[1].to: not a phone number"]);
        assert_eq!(p.next.as_deref(), Some("2"));

        let last = page(
            Provider::Telnyx,
            r#"{"data": [], "meta": {"page_number": 2, "total_pages": 2}}"#,
        );
        assert_eq!(last, ListPage::default());
        // An empty page ends the walk even if the totals say otherwise.
        let empty = page(
            Provider::Telnyx,
            r#"{"data": [], "meta": {"page_number": 1, "total_pages": 9}}"#,
        );
        assert_eq!(empty.next, None);
    }

    #[test]
    fn ringcentral_pages_keep_opt_outs_only_and_follow_the_page_token() {
        let p = page(
            Provider::Ringcentral,
            r#"{"records": [
                {"from": "+14155550100", "to": "+14155550123", "status": "OptOut", "source": "Recipient"},
                {"from": "+14155550100", "to": "+14155550125", "status": "OptIn", "source": "Recipient"},
                {"from": "14155550100", "to": "14155550126", "status": "optout", "source": "Carrier"},
                {"from": "+14155550100", "status": "OptOut"}
            ], "paging": {"perPage": 4, "pageToken": "pgt1", "nextPageToken": "pgt2"}}"#,
        );
        let phones: Vec<&str> = p.entries.iter().map(|e| e.phone.as_str()).collect();
        assert_eq!(phones, ["+14155550123", "+14155550126"]);
        assert_eq!(p.entries[1].sender.as_deref(), Some("+14155550100"));
        assert_eq!(p.entries[1].provider_source.as_deref(), Some("Carrier"));
        assert!(p.entries.iter().all(|e| e.listed_at.is_none()));
        assert_eq!(p.unreadable, vec!["records[3].to: missing"]);
        assert_eq!(p.next.as_deref(), Some("pgt2"));
        let last = page(
            Provider::Ringcentral,
            r#"{"records": [], "paging": {"perPage": 4, "pageToken": "pgt3"}}"#,
        );
        assert_eq!(last.next, None);
    }

    #[test]
    fn aws_pages_give_the_number_its_time_and_who_opted_out() {
        let p = page(
            Provider::Aws,
            r#"{"OptOutListArn": "arn:aws:sms-voice:us-east-1:123456789012:opt-out-list/Default",
                "OptOutListName": "Default",
                "OptedOutNumbers": [
                  {"OptedOutNumber": "+14155550123", "OptedOutTimestamp": 1767225600.5, "EndUserOptedOut": true},
                  {"OptedOutNumber": "+14155550127", "OptedOutTimestamp": 1767225600, "EndUserOptedOut": false}
                ], "NextToken": "abc=="}"#,
        );
        assert_eq!(p.entries.len(), 2);
        assert_eq!(p.entries[0].sender, None);
        assert_eq!(
            p.entries[0].listed_at.map(|t| t.to_rfc3339()),
            Some("2026-01-01T00:00:00.500+00:00".into())
        );
        assert_eq!(p.entries[0].provider_source.as_deref(), Some("end_user"));
        assert_eq!(p.entries[1].provider_source.as_deref(), Some("account"));
        assert_eq!(p.next.as_deref(), Some("abc=="));
        assert_eq!(
            page(Provider::Aws, r#"{"NextToken": ""}"#),
            ListPage::default()
        );
    }

    #[test]
    fn a_page_that_is_not_a_list_says_which_field() {
        let e = parse_page(Provider::Telnyx, b"<html>", &us).unwrap_err();
        assert_eq!(e.field, "body");
        let e = parse_page(Provider::Aws, br#"{"OptedOutNumbers": {}}"#, &us).unwrap_err();
        assert_eq!(e.field, "OptedOutNumbers");
        let e = parse_page(Provider::Twilio, b"{}", &us).unwrap_err();
        assert_eq!(e.field, "provider");
    }
}
