//! Cross-site request forgery protection for the hosted pages, without JavaScript: a random
//! value in a `SameSite=Strict` cookie, and in the page a token signed (HMAC-SHA256) over that
//! value, the page it was issued for (tenant, form version and language, or preference link)
//! and when. A post counts only with both, matching, and not older than [`TOKEN_LIFETIME`]:
//! another site can neither send the cookie nor read the token.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use chrono::{DateTime, Duration, Utc};
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// How long a page may be open before its post is refused (and the page shown again).
pub const TOKEN_LIFETIME: Duration = Duration::hours(2);
pub const COOKIE: &str = "sg_page";

#[derive(Clone)]
pub struct Csrf {
    key: [u8; 32],
}

impl std::fmt::Debug for Csrf {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Csrf(<key>)")
    }
}

/// A fresh cookie value.
pub fn new_nonce() -> String {
    B64.encode(rand::random::<[u8; 18]>())
}

/// The cookie value a request carries, if it is one of ours.
pub fn nonce_in(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get_all(http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim().to_string())
        .filter(|v| v.len() == 24 && B64.decode(v).is_ok())
}

impl Csrf {
    pub fn new(key: [u8; 32]) -> Csrf {
        Csrf { key }
    }

    fn mac(&self, nonce: &str, page: &str, issued: i64) -> Option<Hmac<Sha256>> {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.key).ok()?;
        mac.update(format!("stopgate page token v1\n{page}\n{issued}\n{nonce}").as_bytes());
        Some(mac)
    }

    /// The token for `page`, issued at `now` to the holder of the cookie `nonce`.
    pub fn token(&self, nonce: &str, page: &str, now: DateTime<Utc>) -> String {
        let issued = now.timestamp();
        let tag = self
            .mac(nonce, page, issued)
            .map(|m| B64.encode(m.finalize().into_bytes()))
            .unwrap_or_default();
        format!("{issued}.{tag}")
    }

    /// Does `token` belong to `page` and to the holder of `nonce`, and is it recent?
    pub fn verify(&self, nonce: Option<&str>, page: &str, token: &str, now: DateTime<Utc>) -> bool {
        let (Some(nonce), Some((issued, tag))) = (nonce, token.split_once('.')) else {
            return false;
        };
        let (Ok(issued), Ok(tag)) = (issued.parse::<i64>(), B64.decode(tag)) else {
            return false;
        };
        let Some(at) = DateTime::from_timestamp(issued, 0) else {
            return false;
        };
        if at > now + Duration::minutes(1) || now - at > TOKEN_LIFETIME {
            return false;
        }
        self.mac(nonce, page, issued)
            .is_some_and(|mac| mac.verify_slice(&tag).is_ok())
    }
}

/// The `Set-Cookie` value for `nonce`: only for the tenant's pages, never sent cross-site, never
/// readable by script, and (over HTTPS) never sent in the clear.
pub fn set_cookie(nonce: &str, tenant: &str, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!(
        "{COOKIE}={nonce}; Path=/p/{tenant}/; Max-Age={}; HttpOnly; SameSite=Strict{secure}",
        TOKEN_LIFETIME.num_seconds()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_holds_only_for_its_cookie_its_page_and_two_hours() {
        let csrf = Csrf::new([5; 32]);
        let now = Utc::now();
        let nonce = new_nonce();
        let token = csrf.token(&nonce, "form|acme|join|3|en", now);
        assert!(csrf.verify(Some(&nonce), "form|acme|join|3|en", &token, now));
        assert!(
            !csrf.verify(None, "form|acme|join|3|en", &token, now),
            "no cookie"
        );
        assert!(!csrf.verify(Some(&new_nonce()), "form|acme|join|3|en", &token, now));
        assert!(!csrf.verify(Some(&nonce), "form|acme|join|4|en", &token, now));
        assert!(!csrf.verify(
            Some(&nonce),
            "form|acme|join|3|en",
            &token,
            now + Duration::hours(3)
        ));
        assert!(!Csrf::new([6; 32]).verify(Some(&nonce), "form|acme|join|3|en", &token, now));
        assert!(!csrf.verify(Some(&nonce), "form|acme|join|3|en", "garbage", now));

        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::COOKIE,
            http::HeaderValue::from_str(&format!("other=1; {COOKIE}={nonce}")).unwrap(),
        );
        assert_eq!(nonce_in(&headers), Some(nonce.clone()));
        let cookie = set_cookie(&nonce, "acme", true);
        assert!(cookie.contains("SameSite=Strict") && cookie.contains("HttpOnly"));
        assert!(cookie.contains("Path=/p/acme/") && cookie.ends_with("Secure"));
    }
}
