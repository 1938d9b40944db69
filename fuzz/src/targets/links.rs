//! `links`: preference-page links (shared/src/api/links.rs) over arbitrary strings, genuine
//! links mutated, and genuine links presented to another tenant or after they expire.
//! Properties: no panic; a genuine link opens to its claims for its own tenant only and only
//! before it expires; anything else (tampered, forged, another tenant's) is refused as
//! `Invalid`, so a page never shows one person's consents to someone who edited a URL.

use chrono::{DateTime, Duration, TimeZone, Utc};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::TestRunner;
use stopgate::api::links::{LinkClaims, LinkError, Links};
use stopgate::phone::E164;

use crate::harness::{Outcome, Verdict, check};
use crate::inputs::{TextEdit, edit_text, hostile_text, text, text_edit};

const KEY: [u8; 32] = *b"stopgate-fuzz-pages-key-00000001";

#[derive(Debug, Clone)]
enum Presented {
    /// The genuine link, edited.
    Tampered(Vec<TextEdit>),
    /// Anything at all.
    Arbitrary(String),
    /// The genuine link, opened for this tenant.
    ForTenant(String),
}

#[derive(Debug, Clone)]
struct Case {
    tenant: String,
    claims: LinkClaims,
    /// When the link is opened, in seconds after it was issued.
    opened_after: i64,
    presented: Presented,
}

fn issued_at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0)
        .single()
        .unwrap_or_else(Utc::now)
}

fn case() -> impl Strategy<Value = Case> {
    let tenant = prop_oneof![
        3 => select(vec!["acme", "events-demo", "t"]).prop_map(str::to_string),
        1 => text(30),
    ];
    let phone = select(vec!["+14155550123", "+442079460958", "+5511987654321"])
        .prop_map(|p| E164::from_stored(p).unwrap_or_else(|| panic!("{p} is E.164")));
    // Link ids are ULIDs; anything much longer would make a token over the length a link may
    // have, which is refused before it is opened.
    let link_id = prop_oneof![
        proptest::string::string_regex("[0-9A-Z]{26}").unwrap_or_else(|e| panic!("{e}")),
        text(26),
    ];
    let claims = (phone, text(20), any::<bool>(), 1..=90i64, link_id).prop_map(
        |(phone, form, sent_by_sms, days, link_id)| LinkClaims {
            link_id,
            phone,
            form,
            sent_by_sms,
            expires_at: issued_at() + Duration::days(days),
        },
    );
    let presented = prop_oneof![
        5 => proptest::collection::vec(text_edit(), 1..5).prop_map(Presented::Tampered),
        3 => prop_oneof![
            hostile_text(),
            // The token's own alphabet, so decoding gets to the cipher.
            proptest::string::string_regex("[A-Za-z0-9_-]{0,200}").unwrap_or_else(|e| panic!("{e}")),
        ]
        .prop_map(Presented::Arbitrary),
        2 => prop_oneof![text(30), Just("acme".to_string())].prop_map(Presented::ForTenant),
    ];
    (tenant, claims, 0..100 * 86_400i64, presented).prop_map(
        |(tenant, claims, opened_after, presented)| Case {
            tenant,
            claims,
            opened_after,
            presented,
        },
    )
}

fn property(links: &Links, case: Case) -> Verdict {
    let token = links
        .seal(&case.tenant, &case.claims)
        .map_err(|e| format!("sealing failed: {e:?}"))?;
    let now = issued_at() + Duration::seconds(case.opened_after);
    let genuine_answer = if now > case.claims.expires_at {
        Err(LinkError::Expired)
    } else {
        Ok(case.claims.clone())
    };
    let (opened, genuine) = match &case.presented {
        Presented::Tampered(edits) => {
            let tampered = edit_text(&token, edits);
            // Whitespace around a token is trimmed (a link pasted from a message): that is
            // the token itself.
            (
                links.open(&case.tenant, &tampered, now),
                tampered.trim() == token,
            )
        }
        Presented::Arbitrary(s) => (links.open(&case.tenant, s, now), false),
        Presented::ForTenant(other) => (links.open(other, &token, now), other == &case.tenant),
    };
    match (genuine, opened) {
        (true, answer) if answer == genuine_answer => Ok(()),
        (true, answer) => Err(format!("the genuine link answered {answer:?}")),
        (false, Err(LinkError::Invalid)) => Ok(()),
        (false, answer) => Err(format!("a link not issued here answered {answer:?}")),
    }
}

pub fn run(runner: &mut TestRunner) -> Outcome {
    let links = Links::new(KEY);
    check(runner, case(), |case| property(&links, case))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn genuine_links_open_for_their_tenant_until_they_expire() {
        let links = Links::new(KEY);
        let claims = LinkClaims {
            link_id: "01J00000000000000000000000".into(),
            phone: E164::from_stored("+14155550123").unwrap(),
            form: "join".into(),
            sent_by_sms: true,
            expires_at: issued_at() + Duration::days(30),
        };
        for (opened_after, presented) in [
            (0, Presented::ForTenant("acme".into())),
            (31 * 86_400, Presented::ForTenant("acme".into())),
            (0, Presented::ForTenant("other".into())),
            (0, Presented::Arbitrary("garbage".into())),
            (0, Presented::Tampered(vec![TextEdit::Upper])),
        ] {
            let case = Case {
                tenant: "acme".into(),
                claims: claims.clone(),
                opened_after,
                presented,
            };
            assert_eq!(property(&links, case.clone()), Ok(()), "{case:?}");
        }
    }
}
