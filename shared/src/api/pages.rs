//! The hosted pages (docs/rules.md rule 9), served by the pages function as HTML that works
//! without JavaScript:
//!
//! - `GET /p/{tenant}/{form}` shows a tenant's opt-in form; `POST` records what the person
//!   submitted — a pending consent that waits for their YES (double opt-in), or the consent
//!   itself — with the disclosure as shown, the form's version, language, IP, user agent and
//!   time. A submission that cannot be taken shows the form again, with the problem named and
//!   the input kept.
//! - `GET /p/{tenant}/prefs/{link}` shows a number's preferences through a sealed link (the
//!   number never appears in a URL); `POST` records a change with source `web_preferences`.
//!
//! Posts need the page's signed token and cookie (see `csrf`) and are rate-limited per IP
//! address and per number.

mod csrf;
mod html;
mod texts;

use std::sync::Arc;

use base64::Engine;
use chrono::{DateTime, Utc};
use lambda_http::{Body, Request, RequestExt, Response};

use self::csrf::Csrf;
use self::html::{FormView, LanguageLink, PrefsView, Problem};
use super::http::{MAX_BODY_BYTES, body_bytes, request_path};
use super::links::{LinkClaims, LinkError, Links};
use super::tenants::{TenantContext, Tenants};
use crate::consent::Category;
use crate::consent::forms::{self, FormConfig, Language, PREFS_SEGMENT, PreferenceAction, WebAct};
use crate::flows::pages::{self as flow, Limited};
use crate::store::{Store, StoreError};

pub struct PagesService {
    store: Store,
    tenants: Arc<Tenants>,
    links: Links,
    csrf: Csrf,
    /// The public address of the pages: where posts must come from, and whether cookies are
    /// `Secure`.
    public_base_url: String,
    clock: fn() -> DateTime<Utc>,
}

/// A page's answer before it becomes an HTTP response.
struct Page {
    status: u16,
    html: String,
    /// A fresh cookie value to set, when the request had none.
    cookie: Option<String>,
    /// `303 See Other` to this address instead of a body.
    redirect: Option<String>,
}

impl Page {
    fn html(status: u16, html: String) -> Page {
        Page {
            status,
            html,
            cookie: None,
            redirect: None,
        }
    }

    fn see_other(location: String) -> Page {
        Page {
            status: 303,
            html: String::new(),
            cookie: None,
            redirect: Some(location),
        }
    }
}

/// The request as the pages read it.
struct Incoming<'a> {
    method: &'a str,
    tenant: &'a str,
    /// The form id, or the preference link.
    target: Target<'a>,
    query: std::collections::BTreeMap<String, String>,
    headers: &'a http::HeaderMap,
    body: &'a [u8],
    ip: Option<String>,
    path: &'a str,
}

enum Target<'a> {
    Form(&'a str),
    Prefs(&'a str),
}

/// A form post's fields.
#[derive(Default)]
struct Fields {
    values: Vec<(String, String)>,
}

impl Fields {
    fn parse(body: &[u8]) -> Fields {
        Fields {
            values: form_urlencoded::parse(body).into_owned().collect(),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn all(&self, name: &str) -> impl Iterator<Item = &str> {
        self.values
            .iter()
            .filter(move |(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

fn page_binding_form(tenant: &str, form: &FormConfig, language: Language) -> String {
    format!("form|{tenant}|{}|{}|{language}", form.form_id, form.version)
}

fn page_binding_prefs(tenant: &str, claims: &LinkClaims) -> String {
    format!("prefs|{tenant}|{}", claims.link_id)
}

/// The Content-Security-Policy of every page: nothing but the inline style sheet, posts only
/// to the pages themselves, never in a frame.
fn content_security_policy() -> String {
    use sha2::Digest;
    let hash = base64::engine::general_purpose::STANDARD.encode(sha2::Sha256::digest(html::CSS));
    format!(
        "default-src 'none'; style-src 'sha256-{hash}'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    )
}

impl PagesService {
    pub fn new(
        store: Store,
        tenants: Arc<Tenants>,
        pages_key: [u8; 32],
        public_base_url: &str,
    ) -> PagesService {
        PagesService {
            store,
            tenants,
            links: Links::new(pages_key),
            csrf: Csrf::new(super::links::derive(&pages_key, b"page tokens")),
            public_base_url: public_base_url.trim_end_matches('/').to_string(),
            clock: Utc::now,
        }
    }

    /// Answers as if it were the time `clock` says (tests of expiry).
    pub fn with_clock(mut self, clock: fn() -> DateTime<Utc>) -> PagesService {
        self.clock = clock;
        self
    }

    fn secure_cookies(&self) -> bool {
        self.public_base_url.starts_with("https://")
    }

    pub async fn handle(&self, req: Request) -> Response<Body> {
        let path = request_path(&req).trim_end_matches('/').to_string();
        let ip = source_ip(&req);
        let segments: Vec<&str> = path.split('/').skip(1).collect();
        let target = match segments.as_slice() {
            ["p", tenant, PREFS_SEGMENT, link] => Some((*tenant, Target::Prefs(link))),
            ["p", tenant, form] => Some((*tenant, Target::Form(form))),
            _ => None,
        };
        let language_asked = super::http::query_map(&req)
            .get("lang")
            .and_then(|l| l.parse().ok());
        let Some((tenant, target)) = target else {
            return self.respond(Page::html(404, not_found(language_asked)));
        };
        let incoming = Incoming {
            method: req.method().as_str(),
            tenant,
            target,
            query: super::http::query_map(&req),
            headers: req.headers(),
            body: body_bytes(req.body()),
            ip,
            path: &path,
        };
        let page = match self.serve(&incoming).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!(tenant = %incoming.tenant, error = %e, "page unavailable");
                let language = language_asked.unwrap_or(Language::En);
                let t = texts::texts(language);
                Page::html(
                    503,
                    html::message_page(language, t.error_title, t.unavailable),
                )
            }
        };
        self.respond(page)
    }

    fn respond(&self, page: Page) -> Response<Body> {
        let mut response = Response::new(Body::Text(page.html));
        *response.status_mut() =
            http::StatusCode::from_u16(page.status).unwrap_or(http::StatusCode::OK);
        let headers = response.headers_mut();
        let mut set = |name: http::header::HeaderName, value: &str| {
            if let Ok(value) = http::HeaderValue::from_str(value) {
                headers.insert(name, value);
            }
        };
        set(http::header::CONTENT_TYPE, "text/html; charset=utf-8");
        set(http::header::CACHE_CONTROL, "no-store");
        set(
            http::header::CONTENT_SECURITY_POLICY,
            &content_security_policy(),
        );
        set(http::header::X_CONTENT_TYPE_OPTIONS, "nosniff");
        // A preference link is a credential: never sent on to the terms or privacy pages (and
        // the page's own posts still name their origin, which `no-referrer` would blank).
        set(http::header::REFERRER_POLICY, "same-origin");
        if let Some(location) = &page.redirect {
            set(http::header::LOCATION, location);
        }
        if let Some(cookie) = &page.cookie {
            set(http::header::SET_COOKIE, cookie);
        }
        response
    }

    async fn serve(&self, req: &Incoming<'_>) -> Result<Page, StoreError> {
        let language_asked: Option<Language> = req.query.get("lang").and_then(|l| l.parse().ok());
        let Some(tenant) = self.tenants.get(req.tenant).await? else {
            return Ok(Page::html(404, not_found(language_asked)));
        };
        match (req.method, &req.target) {
            ("GET" | "HEAD", Target::Form(form_id)) => {
                let Some(form) = tenant.snapshot.forms.get(*form_id) else {
                    return Ok(Page::html(404, not_found(language_asked)));
                };
                let language = form.language(language_asked);
                Ok(self.form(req, form, language, FormInput::default(), None, 200))
            }
            ("POST", Target::Form(form_id)) => {
                let Some(form) = tenant.snapshot.forms.get(*form_id) else {
                    return Ok(Page::html(404, not_found(language_asked)));
                };
                self.submit(req, &tenant, form).await
            }
            ("GET" | "HEAD", Target::Prefs(link)) => {
                let (claims, form) = match self.open_link(req, &tenant, link, language_asked) {
                    Ok(opened) => opened,
                    Err(page) => return Ok(page),
                };
                let language = form.language(language_asked);
                let notice = req.query.get("done").and_then(|d| done_notice(language, d));
                self.prefs(req, &tenant, &claims, form, language, notice, None, 200)
                    .await
            }
            ("POST", Target::Prefs(link)) => {
                let (claims, form) = match self.open_link(req, &tenant, link, language_asked) {
                    Ok(opened) => opened,
                    Err(page) => return Ok(page),
                };
                self.change(req, &tenant, &claims, form).await
            }
            _ => Ok(Page::html(405, not_found(language_asked))),
        }
    }

    /// Links to the same page in each language the form offers.
    fn languages(&self, req: &Incoming<'_>, form: &FormConfig) -> Vec<LanguageLink> {
        form.languages
            .iter()
            .map(|&language| LanguageLink {
                language,
                href: format!("{}?lang={language}", req.path),
            })
            .collect()
    }

    /// The cookie value of this visitor, and the cookie to set if they have none yet.
    fn visitor(&self, req: &Incoming<'_>) -> (String, Option<String>) {
        match csrf::nonce_in(req.headers) {
            Some(nonce) => (nonce, None),
            None => {
                let nonce = csrf::new_nonce();
                let cookie = csrf::set_cookie(&nonce, req.tenant, self.secure_cookies());
                (nonce, Some(cookie))
            }
        }
    }

    /// Was this post made from our own page? A browser names the page's origin; it must be
    /// ours (the cookie and the token decide the rest).
    fn same_origin(&self, req: &Incoming<'_>) -> bool {
        let Some(origin) = req.headers.get(http::header::ORIGIN) else {
            return true;
        };
        let ours = url::Url::parse(&self.public_base_url)
            .map(|u| u.origin().ascii_serialization())
            .unwrap_or_default();
        origin.to_str().is_ok_and(|o| o == ours)
    }

    fn form(
        &self,
        req: &Incoming<'_>,
        form: &FormConfig,
        language: Language,
        input: FormInput,
        problem: Option<Problem>,
        status: u16,
    ) -> Page {
        let (nonce, cookie) = self.visitor(req);
        let now = (self.clock)();
        let token = self
            .csrf
            .token(&nonce, &page_binding_form(req.tenant, form, language), now);
        let languages = self.languages(req, form);
        let html = html::form_page(&FormView {
            form,
            language,
            action: req.path,
            token: &token,
            phone: &input.phone,
            checked: &input.categories,
            problem,
            languages: &languages,
        });
        Page {
            status,
            html,
            cookie,
            redirect: None,
        }
    }

    async fn submit(
        &self,
        req: &Incoming<'_>,
        tenant: &TenantContext,
        form: &FormConfig,
    ) -> Result<Page, StoreError> {
        let fields = Fields::parse(&req.body[..req.body.len().min(MAX_BODY_BYTES)]);
        let language = form.language(fields.get("lang").and_then(|l| l.parse().ok()));
        let t = texts::texts(language);
        let input = FormInput {
            phone: fields
                .get("phone")
                .unwrap_or_default()
                .chars()
                .take(64)
                .collect(),
            categories: fields
                .all("category")
                .filter_map(|c| c.parse::<Category>().ok())
                .filter(|c| form.categories.contains(c))
                .collect(),
        };
        let now = (self.clock)();
        let token_ok = self.csrf.verify(
            csrf::nonce_in(req.headers).as_deref(),
            &page_binding_form(req.tenant, form, language),
            fields.get("token").unwrap_or_default(),
            now,
        );
        let shown_version = fields.get("version").and_then(|v| v.parse::<u64>().ok());
        if shown_version.is_some_and(|v| v != form.version) {
            return Ok(self.form(
                req,
                form,
                language,
                input,
                Some(Problem::Page(t.form_changed)),
                409,
            ));
        }
        if !token_ok || !self.same_origin(req) || shown_version.is_none() {
            return Ok(self.form(
                req,
                form,
                language,
                input,
                Some(Problem::Page(t.session_expired)),
                403,
            ));
        }
        if let Err(limited) = flow::take_ip(
            &self.store,
            req.tenant,
            &flow::FORM_PER_IP,
            req.ip.as_deref(),
            now,
        )
        .await?
        {
            return Ok(self.limited(req, form, language, input, limited));
        }
        let policy = &tenant.snapshot.tenant.policy;
        let Ok(phone) = policy.read_phone(&input.phone) else {
            return Ok(self.form(
                req,
                form,
                language,
                input,
                Some(Problem::Phone(t.invalid_phone)),
                400,
            ));
        };
        if input.categories.is_empty() {
            return Ok(self.form(
                req,
                form,
                language,
                input,
                Some(Problem::Categories(t.no_category)),
                400,
            ));
        }
        if let Err(limited) =
            flow::take_number(&self.store, req.tenant, &flow::FORM_PER_NUMBER, &phone, now).await?
        {
            return Ok(self.limited(req, form, language, input, limited));
        }
        let act = WebAct {
            tenant: req.tenant.to_string(),
            phone,
            at: now,
            ip: req.ip.clone(),
            user_agent: user_agent(req.headers),
            page_url: Some(format!("{}{}", self.public_base_url, req.path)),
        };
        let recording = forms::form_consent(form, language, &input.categories, &act);
        flow::commit(&self.store, &recording).await?;
        Ok(Page::html(
            200,
            html::submitted_page(form, language, form.double_opt_in),
        ))
    }

    fn limited(
        &self,
        req: &Incoming<'_>,
        form: &FormConfig,
        language: Language,
        input: FormInput,
        limited: Limited,
    ) -> Page {
        tracing::warn!(tenant = %req.tenant, form = %form.form_id, ?limited, "form rate-limited");
        let t = texts::texts(language);
        self.form(
            req,
            form,
            language,
            input,
            Some(Problem::Page(t.too_many)),
            429,
        )
    }

    /// The link's claims and form, or the page to show instead.
    fn open_link<'t>(
        &self,
        req: &Incoming<'_>,
        tenant: &'t TenantContext,
        link: &str,
        language: Option<Language>,
    ) -> Result<(LinkClaims, &'t FormConfig), Page> {
        let language = language.unwrap_or(Language::En);
        let t = texts::texts(language);
        let claims = match self.links.open(req.tenant, link, (self.clock)()) {
            Ok(claims) => claims,
            Err(LinkError::Expired) => {
                return Err(Page::html(
                    410,
                    html::message_page(language, t.expired_title, t.expired_body),
                ));
            }
            Err(LinkError::Invalid) => return Err(Page::html(404, not_found(Some(language)))),
        };
        match tenant.snapshot.forms.get(&claims.form) {
            Some(form) => Ok((claims, form)),
            None => Err(Page::html(404, not_found(Some(language)))),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn prefs(
        &self,
        req: &Incoming<'_>,
        tenant: &TenantContext,
        claims: &LinkClaims,
        form: &FormConfig,
        language: Language,
        notice: Option<&str>,
        problem: Option<&str>,
        status: u16,
    ) -> Result<Page, StoreError> {
        let (state, _) = self.store.load_state(req.tenant, &claims.phone).await?;
        let snapshot = &tenant.snapshot;
        let now = (self.clock)();
        let summary = forms::preference_summary(
            &state,
            &snapshot.tenant.policy,
            &snapshot.directory,
            form,
            &claims.phone,
            now,
        );
        let (nonce, cookie) = self.visitor(req);
        let token = self
            .csrf
            .token(&nonce, &page_binding_prefs(req.tenant, claims), now);
        let number = claims.phone.as_str();
        let ending: String = number
            .chars()
            .skip(number.chars().count().saturating_sub(4))
            .collect();
        let languages = self.languages(req, form);
        let html = html::prefs_page(&PrefsView {
            form,
            language,
            action: req.path,
            token: &token,
            number_ending: &ending,
            summary: &summary,
            verified: claims.sent_by_sms,
            notice,
            problem,
            languages: &languages,
        });
        Ok(Page {
            status,
            html,
            cookie,
            redirect: None,
        })
    }

    async fn change(
        &self,
        req: &Incoming<'_>,
        tenant: &TenantContext,
        claims: &LinkClaims,
        form: &FormConfig,
    ) -> Result<Page, StoreError> {
        let fields = Fields::parse(&req.body[..req.body.len().min(MAX_BODY_BYTES)]);
        let language = form.language(fields.get("lang").and_then(|l| l.parse().ok()));
        let t = texts::texts(language);
        let now = (self.clock)();
        let token_ok = self.csrf.verify(
            csrf::nonce_in(req.headers).as_deref(),
            &page_binding_prefs(req.tenant, claims),
            fields.get("token").unwrap_or_default(),
            now,
        );
        if !token_ok || !self.same_origin(req) {
            return self
                .prefs(
                    req,
                    tenant,
                    claims,
                    form,
                    language,
                    None,
                    Some(t.session_expired),
                    403,
                )
                .await;
        }
        let action = fields
            .get("action")
            .and_then(PreferenceAction::parse)
            .filter(|a| match a {
                PreferenceAction::Stop(c) | PreferenceAction::Start(c) => {
                    form.categories.contains(c)
                }
                _ => true,
            });
        let Some(action) = action else {
            return self
                .prefs(
                    req,
                    tenant,
                    claims,
                    form,
                    language,
                    None,
                    Some(t.session_expired),
                    400,
                )
                .await;
        };
        for (limit, by_number) in [
            (&flow::PREFS_PER_IP, false),
            (&flow::PREFS_PER_NUMBER, true),
        ] {
            let taken = if by_number {
                flow::take_number(&self.store, req.tenant, limit, &claims.phone, now).await?
            } else {
                flow::take_ip(&self.store, req.tenant, limit, req.ip.as_deref(), now).await?
            };
            if taken.is_err() {
                return self
                    .prefs(
                        req,
                        tenant,
                        claims,
                        form,
                        language,
                        None,
                        Some(t.too_many),
                        429,
                    )
                    .await;
            }
        }
        // Turning one kind of text on while every text is stopped would record a consent the
        // opt-out outweighs: the page asks to resume first.
        if let PreferenceAction::Start(_) = action {
            let (state, _) = self.store.load_state(req.tenant, &claims.phone).await?;
            let snapshot = &tenant.snapshot;
            let summary = forms::preference_summary(
                &state,
                &snapshot.tenant.policy,
                &snapshot.directory,
                form,
                &claims.phone,
                now,
            );
            if summary.opted_out {
                return self
                    .prefs(
                        req,
                        tenant,
                        claims,
                        form,
                        language,
                        None,
                        Some(t.prefs_resume_first),
                        409,
                    )
                    .await;
            }
        }
        let act = WebAct {
            tenant: req.tenant.to_string(),
            phone: claims.phone.clone(),
            at: now,
            ip: req.ip.clone(),
            user_agent: user_agent(req.headers),
            // The link is a credential: the page is recorded by its form, not its address.
            page_url: None,
        };
        let link = claims.link();
        let recording = forms::preference_change(form, language, &link, action, &act);
        flow::commit(&self.store, &recording).await?;
        let done = match action {
            PreferenceAction::Stop(_) => "stopped",
            PreferenceAction::StopAll => "stopped_all",
            PreferenceAction::Start(_) | PreferenceAction::Resume if !link.sent_by_sms => "pending",
            PreferenceAction::Start(_) => "started",
            PreferenceAction::Resume => "resumed",
        };
        Ok(Page::see_other(format!(
            "{}?lang={language}&done={done}",
            req.path
        )))
    }
}

/// What the person entered, kept when the form is shown again.
#[derive(Default)]
struct FormInput {
    phone: String,
    categories: Vec<Category>,
}

fn not_found(language: Option<Language>) -> String {
    let language = language.unwrap_or(Language::En);
    let t = texts::texts(language);
    html::message_page(language, t.not_found_title, t.not_found_body)
}

fn done_notice(language: Language, done: &str) -> Option<&'static str> {
    let t = texts::texts(language);
    Some(match done {
        "stopped" => t.prefs_done_stopped,
        "stopped_all" => t.prefs_done_stopped_all,
        "started" => t.prefs_done_started,
        "pending" => t.prefs_done_pending,
        "resumed" => t.prefs_done_resumed,
        _ => return None,
    })
}

fn user_agent(headers: &http::HeaderMap) -> Option<String> {
    headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

/// The caller's address as API Gateway saw it (the local gateway fills it in the same way).
fn source_ip(req: &Request) -> Option<String> {
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_page_allows_only_its_own_style_sheet() {
        let csp = content_security_policy();
        assert!(csp.starts_with("default-src 'none'; style-src 'sha256-"));
        assert!(csp.contains("form-action 'self'"));
        assert_eq!(
            done_notice(Language::Es, "stopped"),
            Some(texts::texts(Language::Es).prefs_done_stopped)
        );
        assert_eq!(done_notice(Language::En, "<script>"), None);
    }
}
