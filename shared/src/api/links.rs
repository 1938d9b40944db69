//! Preference links (docs/rules.md rule 9): `POST /v1/links` and `stopgate link` hand one out,
//! the preference page opens it. A link is opaque and sealed (AES-256-GCM, like the cursors),
//! bound to its tenant and number, and expires; the number never appears in a URL.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::ApiError;
use super::auth::KeyScope;
use super::consents::ConsentService;
use super::cursor::Cursors;
use crate::consent::TenantPolicy;
use crate::consent::forms::PreferenceLink;
use crate::phone::E164;

/// How long a link lasts unless the request says otherwise, and at most.
pub const DEFAULT_LINK_DAYS: i64 = 30;
pub const MAX_LINK_DAYS: i64 = 90;

/// What a preference link stands for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkClaims {
    pub link_id: String,
    pub phone: E164,
    /// The form whose brand, categories, disclosure and sender group the page uses.
    pub form: String,
    /// Texted to the number itself: an opt-back-in through it is the person's own act from a
    /// verified number (rule 2). Otherwise it waits for the YES.
    pub sent_by_sms: bool,
    pub expires_at: DateTime<Utc>,
}

impl LinkClaims {
    pub fn link(&self) -> PreferenceLink {
        PreferenceLink {
            link_id: self.link_id.clone(),
            sent_by_sms: self.sent_by_sms,
        }
    }
}

/// Why a link does not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkError {
    /// Not a link of this tenant (or not a link at all).
    Invalid,
    Expired,
}

/// Seals and opens preference links with a key of their own, derived from the pages key.
#[derive(Clone)]
pub struct Links {
    sealer: Cursors,
}

impl std::fmt::Debug for Links {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Links(<key>)")
    }
}

/// One key per use of the pages key.
pub(crate) fn derive(pages_key: &[u8; 32], label: &[u8]) -> [u8; 32] {
    use sha2::Digest;
    let mut hasher = sha2::Sha256::new();
    hasher.update(label);
    hasher.update(pages_key);
    hasher.finalize().into()
}

fn binding(tenant: &str) -> String {
    format!("stopgate preference link v1|{tenant}")
}

impl Links {
    pub fn new(pages_key: [u8; 32]) -> Links {
        Links {
            sealer: Cursors::new(derive(&pages_key, b"preference links")),
        }
    }

    pub fn seal(&self, tenant: &str, claims: &LinkClaims) -> Result<String, ApiError> {
        self.sealer.seal(&binding(tenant), claims)
    }

    /// The claims of `token` for `tenant`, if it is one of its links and has not expired.
    pub fn open(
        &self,
        tenant: &str,
        token: &str,
        now: DateTime<Utc>,
    ) -> Result<LinkClaims, LinkError> {
        if token.len() > 2_000 {
            return Err(LinkError::Invalid);
        }
        let claims: LinkClaims = self
            .sealer
            .open(&binding(tenant), token)
            .map_err(|_| LinkError::Invalid)?;
        if now > claims.expires_at {
            return Err(LinkError::Expired);
        }
        Ok(claims)
    }

    /// A new link for `phone` on `form`, valid for `days`: its claims and its path.
    pub fn issue(
        &self,
        tenant: &str,
        phone: &E164,
        form: &str,
        sent_by_sms: bool,
        days: i64,
        now: DateTime<Utc>,
    ) -> Result<(LinkClaims, String), ApiError> {
        let claims = LinkClaims {
            link_id: ulid::Ulid::new().to_string(),
            phone: phone.clone(),
            form: form.to_string(),
            sent_by_sms,
            expires_at: now + Duration::days(days),
        };
        let token = self.seal(tenant, &claims)?;
        Ok((claims, prefs_path(tenant, &token)))
    }
}

/// The preference page of a link.
pub fn prefs_path(tenant: &str, token: &str) -> String {
    format!("/p/{tenant}/prefs/{token}")
}

/// The form a link uses: the one named, else the tenant's only form.
pub fn pick_form<'a>(
    forms: impl IntoIterator<Item = &'a String>,
    named: Option<&str>,
) -> Result<String, String> {
    let forms: Vec<&String> = forms.into_iter().collect();
    match named {
        Some(name) if forms.iter().any(|f| f.as_str() == name) => Ok(name.to_string()),
        Some(name) => Err(format!("no form {name:?} (stopgate form set)")),
        None => match forms.as_slice() {
            [only] => Ok(only.to_string()),
            [] => Err("the tenant has no form yet: the preference page shows one's brand, categories and disclosure (stopgate form set)".into()),
            _ => Err("the tenant has several forms: name the one the page is for".into()),
        },
    }
}

/// `POST /v1/links` as received.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkRequest {
    pub phone: String,
    #[serde(default)]
    pub form: Option<String>,
    #[serde(default)]
    pub sent_by_sms: Option<bool>,
    #[serde(default)]
    pub expires_in_days: Option<i64>,
}

impl LinkRequest {
    /// Reads and checks the body. Pure: the handler calls it before anything is loaded.
    pub fn read(body: &[u8]) -> Result<LinkRequest, ApiError> {
        let request: LinkRequest = super::http::parse_json(body)?;
        if !(1..=MAX_LINK_DAYS).contains(&request.days()) {
            return Err(ApiError::invalid(
                "invalid_expires_in_days",
                "expires_in_days",
                format!("expires_in_days must be 1 to {MAX_LINK_DAYS}"),
            ));
        }
        Ok(request)
    }

    /// How long the link lasts.
    pub fn days(&self) -> i64 {
        self.expires_in_days.unwrap_or(DEFAULT_LINK_DAYS)
    }

    /// The number, read as the tenant's policy reads numbers.
    pub fn phone(&self, policy: &TenantPolicy) -> Result<E164, ApiError> {
        super::consents::phone_field(policy, &self.phone)
    }
}

impl ConsentService {
    /// `POST /v1/links` (`consents:write`) -> 201 with the preference page's URL.
    pub async fn create_link(
        &self,
        headers: &http::HeaderMap,
        body: &[u8],
        public_base_url: &str,
    ) -> Result<Value, ApiError> {
        let key = self
            .auth
            .authenticate(headers, &[KeyScope::ConsentsWrite])
            .await?;
        let request = LinkRequest::read(body)?;
        let links = self.links.as_ref().ok_or_else(|| {
            ApiError::Unavailable(
                "no pages key (PAGES_KEY_KMS_ID or PAGES_KEY): links cannot be sealed".into(),
            )
        })?;
        let tenant = self.tenant(&key).await?;
        let phone = request.phone(&tenant.snapshot.tenant.policy)?;
        let form = pick_form(tenant.snapshot.forms.keys(), request.form.as_deref())
            .map_err(|message| ApiError::invalid("invalid_form", "form", message))?;
        let days = request.days();
        let sent_by_sms = request.sent_by_sms.unwrap_or(false);
        let (claims, path) =
            links.issue(&key.tenant_id, &phone, &form, sent_by_sms, days, Utc::now())?;
        tracing::info!(tenant = %key.tenant_id, phone = %phone.masked(), form = %form, sent_by_sms,
            link_id = %claims.link_id, "preference link issued");
        Ok(json!({
            "url": format!("{public_base_url}{path}"),
            "link_id": claims.link_id,
            "form": claims.form,
            "sent_by_sms": claims.sent_by_sms,
            "expires_at": claims.expires_at,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_are_opaque_bound_to_their_tenant_and_expire() {
        let links = Links::new([9; 32]);
        let phone = E164::from_stored("+14155550123").unwrap();
        let now = Utc::now();
        let (claims, path) = links.issue("acme", &phone, "join", true, 30, now).unwrap();
        assert!(!path.contains("4155550123"), "{path}");
        let token = path.rsplit('/').next().unwrap();
        assert_eq!(links.open("acme", token, now), Ok(claims.clone()));
        assert_eq!(links.open("other", token, now), Err(LinkError::Invalid));
        assert_eq!(
            links.open("acme", token, now + Duration::days(31)),
            Err(LinkError::Expired)
        );
        assert_eq!(
            Links::new([8; 32]).open("acme", token, now),
            Err(LinkError::Invalid)
        );
        assert_eq!(links.open("acme", "AAAA", now), Err(LinkError::Invalid));
    }

    #[test]
    fn a_link_uses_the_form_named_or_the_only_one() {
        let one = ["join".to_string()];
        assert_eq!(pick_form(&one, None), Ok("join".into()));
        assert!(pick_form(&one, Some("other")).is_err());
        let two = ["a".to_string(), "b".to_string()];
        assert!(pick_form(&two, None).is_err());
        assert_eq!(pick_form(&two, Some("b")), Ok("b".into()));
        assert!(pick_form(&[], None).is_err());
    }
}
