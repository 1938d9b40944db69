//! The hosted pages' HTML (maud: compile-time templates, every value escaped). Plain forms that
//! work without JavaScript, one column that fits a phone, labels on every control, visible
//! focus, and text on background at a contrast of at least 7:1.

use maud::{DOCTYPE, Markup, PreEscaped, html};

use super::texts::{self, Texts};
use crate::consent::Category;
use crate::consent::forms::{CategoryStatus, FormConfig, Language, Page, PreferenceSummary};

/// The whole style sheet, inline (the pages make no other request); the Content-Security-Policy
/// allows exactly this text by its hash.
pub const CSS: &str = "\
*{box-sizing:border-box}\
body{margin:0;background:#fff;color:#1b1b1b;font:1.0625rem/1.5 system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif}\
main{max-width:34rem;margin:0 auto;padding:1.25rem 1rem 2.5rem}\
h1{font-size:1.6rem;line-height:1.25;margin:.25rem 0 .25rem}\
.program{margin:0 0 1.25rem;color:#3d3d3d;font-weight:600}\
nav.languages{font-size:.95rem;margin-bottom:.75rem}\
nav.languages a{color:#0b4a9e;margin-right:.75rem}\
label,legend{font-weight:700;display:block;margin-bottom:.35rem}\
.hint{color:#3d3d3d;font-size:.95rem;margin:0 0 .4rem}\
input[type=tel]{width:100%;font-size:1.125rem;padding:.65rem .75rem;border:2px solid #1b1b1b;border-radius:6px;background:#fff;color:#1b1b1b}\
fieldset{border:0;padding:0;margin:1.25rem 0}\
.choice{display:flex;gap:.65rem;align-items:center;margin:.5rem 0;padding:.55rem .65rem;border:1px solid #767676;border-radius:6px}\
.choice input{width:1.5rem;height:1.5rem;margin:0;flex:none;accent-color:#0b4a9e}\
.choice label{margin:0;font-weight:400}\
.disclosure{font-size:.95rem;color:#1b1b1b;background:#f3f4f6;border-left:4px solid #0b4a9e;padding:.75rem .9rem;margin:1.25rem 0}\
.disclosure a,.links a{color:#0b4a9e}\
.note{font-size:.95rem;color:#1b1b1b}\
button{font:inherit;font-weight:700;font-size:1.05rem;border-radius:6px;padding:.7rem 1.1rem;border:2px solid #0b4a9e;background:#0b4a9e;color:#fff;cursor:pointer}\
button.secondary{background:#fff;color:#0b4a9e}\
button.danger{background:#fff;color:#9b1c1c;border-color:#9b1c1c}\
button.wide{width:100%}\
a:focus,button:focus,input:focus{outline:3px solid #b35900;outline-offset:2px}\
.error{border:3px solid #9b1c1c;padding:.75rem .9rem;margin:0 0 1.25rem;color:#1b1b1b}\
.error h2{font-size:1.1rem;margin:0 0 .35rem;color:#9b1c1c}\
.field-error{color:#9b1c1c;font-weight:700;margin:.25rem 0}\
.invalid{border-color:#9b1c1c!important}\
.notice{border:3px solid #1d6b2f;padding:.75rem .9rem;margin:0 0 1.25rem}\
.notice p,.error p{margin:0}.notice h2{font-size:1.2rem;margin:0 0 .35rem}\
table{width:100%;border-collapse:collapse;margin:1rem 0}\
th,td{text-align:left;padding:.6rem .35rem;border-bottom:1px solid #767676;vertical-align:middle}\
td.action{text-align:right}\
.links{font-size:.95rem;margin-top:1.5rem}";

/// A link to the same page in another language.
pub struct LanguageLink {
    pub language: Language,
    pub href: String,
}

fn layout(language: Language, title: &str, languages: &[LanguageLink], body: Markup) -> String {
    let t = texts::texts(language);
    html! {
        (DOCTYPE)
        html lang=(language.code()) {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="robots" content="noindex";
                title { (title) }
                style { (PreEscaped(CSS)) }
            }
            body {
                main {
                    @if languages.len() > 1 {
                        nav.languages aria-label=(t.languages) {
                            @for link in languages {
                                @if link.language == language {
                                    span lang=(link.language.code()) aria-current="page" { (texts::texts(link.language).name) }
                                    " "
                                } @else {
                                    a href=(link.href) lang=(link.language.code()) hreflang=(link.language.code()) {
                                        (texts::texts(link.language).name)
                                    }
                                }
                            }
                        }
                    }
                    (body)
                }
            }
        }
    }
    .into_string()
}

/// The disclosure, word for word, with its terms and privacy addresses as links: the text the
/// person reads is exactly the text whose hash is recorded.
fn disclosure(form: &FormConfig, page: Page, language: Language) -> Markup {
    let text = form.disclosure_on(page, language);
    let urls = [form.terms_url.trim(), form.privacy_url.trim()];
    let mut parts: Vec<(bool, &str)> = Vec::new();
    let mut rest = text.as_str();
    while !rest.is_empty() {
        let next = urls
            .iter()
            .filter(|u| !u.is_empty())
            .filter_map(|u| rest.find(u).map(|i| (i, *u)))
            .min_by_key(|(i, _)| *i);
        match next {
            Some((i, url)) => {
                parts.push((false, &rest[..i]));
                parts.push((true, url));
                rest = &rest[i + url.len()..];
            }
            None => {
                parts.push((false, rest));
                rest = "";
            }
        }
    }
    html! {
        p.disclosure id="disclosure" {
            @for (is_link, part) in &parts {
                @if *is_link { a href=(part) { (part) } } @else { (part) }
            }
        }
    }
}

/// What went wrong with a submission, for the field it concerns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    Phone(&'static str),
    Categories(&'static str),
    /// Not one field's fault (an expired page, a limit, an outage).
    Page(&'static str),
}

impl Problem {
    fn message(&self) -> &'static str {
        match self {
            Problem::Phone(m) | Problem::Categories(m) | Problem::Page(m) => m,
        }
    }
}

/// The sign-up form, with what the person entered kept.
pub struct FormView<'a> {
    pub form: &'a FormConfig,
    pub language: Language,
    pub action: &'a str,
    pub token: &'a str,
    pub phone: &'a str,
    pub checked: &'a [Category],
    pub problem: Option<Problem>,
    pub languages: &'a [LanguageLink],
}

pub fn form_page(view: &FormView<'_>) -> String {
    let (form, language) = (view.form, view.language);
    let t: &Texts = texts::texts(language);
    let phone_problem = matches!(view.problem, Some(Problem::Phone(_)));
    let categories_problem = matches!(view.problem, Some(Problem::Categories(_)));
    let title = format!("{} — {}", form.brand, form.program);
    let body = html! {
        h1 { (form.brand) }
        p.program { (form.program) }
        @if let Some(problem) = &view.problem {
            div.error role="alert" id="problem" tabindex="-1" {
                h2 { (t.error_title) }
                p { (problem.message()) }
            }
        }
        form method="post" action=(view.action) {
            input type="hidden" name="token" value=(view.token);
            input type="hidden" name="version" value=(form.version);
            input type="hidden" name="lang" value=(language.code());
            label for="phone" { (t.phone_label) }
            p.hint id="phone-hint" { (t.phone_hint) }
            @if phone_problem {
                p.field-error id="phone-error" { (view.problem.as_ref().map(Problem::message).unwrap_or_default()) }
            }
            input type="tel" id="phone" name="phone" autocomplete="tel" inputmode="tel" required
                class=[phone_problem.then_some("invalid")]
                aria-invalid=[phone_problem.then_some("true")]
                aria-describedby=(if phone_problem { "phone-hint phone-error" } else { "phone-hint" })
                value=(view.phone);
            fieldset aria-describedby=[categories_problem.then_some("categories-error")] {
                legend { (t.categories_legend) }
                @if categories_problem {
                    p.field-error id="categories-error" { (view.problem.as_ref().map(Problem::message).unwrap_or_default()) }
                }
                @for category in &form.categories {
                    @let id = format!("category-{}", category_code(*category));
                    div.choice {
                        input type="checkbox" id=(id) name="category" value=(category_code(*category))
                            checked[view.checked.contains(category)];
                        label for=(id) { (texts::category(language, *category)) }
                    }
                }
            }
            (disclosure(form, Page::Form, language))
            @if form.double_opt_in {
                p.note { (t.double_opt_in_note) }
            }
            button.wide type="submit" { (t.submit) }
        }
        p.links {
            a href=(form.terms_url) { (t.terms) } " · " a href=(form.privacy_url) { (t.privacy) }
        }
    };
    layout(language, &title, view.languages, body)
}

pub fn category_code(category: Category) -> &'static str {
    match category {
        Category::Conversational => "conversational",
        Category::Informational => "informational",
        Category::Promotional => "promotional",
    }
}

/// After a submission: waiting for the YES, or signed up.
pub fn submitted_page(form: &FormConfig, language: Language, pending: bool) -> String {
    let t = texts::texts(language);
    let (title, text) = if pending {
        (t.pending_title, t.pending_body)
    } else {
        (t.done_title, t.done_body)
    };
    let body = html! {
        h1 { (form.brand) }
        p.program { (form.program) }
        div.notice role="status" id="submitted" {
            h2 { (title) }
            p { (text) }
        }
    };
    layout(language, title, &[], body)
}

/// A page that is not there, or a link that no longer works.
pub fn message_page(language: Language, title: &str, text: &str) -> String {
    let body = html! {
        h1 { (title) }
        p { (text) }
    };
    layout(language, title, &[], body)
}

/// The preference page.
pub struct PrefsView<'a> {
    pub form: &'a FormConfig,
    pub language: Language,
    pub action: &'a str,
    pub token: &'a str,
    /// The number's last four digits.
    pub number_ending: &'a str,
    pub summary: &'a PreferenceSummary,
    /// The link was texted to the number: turning texts on takes effect at once.
    pub verified: bool,
    pub notice: Option<&'a str>,
    pub problem: Option<&'a str>,
    pub languages: &'a [LanguageLink],
}

pub fn prefs_page(view: &PrefsView<'_>) -> String {
    let (form, language, summary) = (view.form, view.language, view.summary);
    let t = texts::texts(language);
    let offers_start = !summary.opted_out
        && summary
            .categories
            .iter()
            .any(|(_, s)| *s == CategoryStatus::NotSubscribed);
    let body = html! {
        h1 { (t.prefs_title) }
        p.program { (form.brand) " — " (form.program) }
        p { (t.prefs_number) " " strong { (view.number_ending) } }
        @if let Some(problem) = view.problem {
            div.error role="alert" id="problem" { p { (problem) } }
        }
        @if let Some(notice) = view.notice {
            div.notice role="status" id="notice" { p { (notice) } }
        }
        form method="post" action=(view.action) {
            input type="hidden" name="token" value=(view.token);
            input type="hidden" name="lang" value=(language.code());
            @if summary.opted_out {
                p id="opted-out" { strong { (t.prefs_opted_out) } }
                @if summary.resume_pending {
                    p.note id="resume-pending" { (t.prefs_resume_pending) }
                } @else {
                    @if !view.verified { p.note { (t.prefs_unverified_note) } }
                    button.wide type="submit" name="action" value="resume" { (t.prefs_resume) }
                }
            } @else {
                table {
                    tbody {
                        @for (category, status) in &summary.categories {
                            @let code = category_code(*category);
                            tr id=(format!("row-{code}")) {
                                th scope="row" { (texts::category(language, *category)) }
                                td.standing id=(format!("status-{code}")) { (texts::status(language, *status)) }
                                td.action {
                                    @match status {
                                        CategoryStatus::Subscribed => {
                                            button.secondary type="submit" name="action" value=(format!("stop:{code}"))
                                                aria-label=(format!("{} — {}", t.prefs_stop, texts::category(language, *category))) {
                                                (t.prefs_stop)
                                            }
                                        }
                                        CategoryStatus::NotSubscribed => {
                                            button type="submit" name="action" value=(format!("start:{code}"))
                                                aria-label=(format!("{} — {}", t.prefs_start, texts::category(language, *category))) {
                                                (t.prefs_start)
                                            }
                                        }
                                        CategoryStatus::Pending => {}
                                    }
                                }
                            }
                        }
                    }
                }
                @if offers_start {
                    (disclosure(form, Page::Preferences, language))
                    @if !view.verified { p.note { (t.prefs_unverified_note) } }
                }
                button.danger.wide type="submit" name="action" value="stop_all" { (t.prefs_stop_all) }
            }
        }
        p.links {
            a href=(form.terms_url) { (t.terms) } " · " a href=(form.privacy_url) { (t.privacy) }
        }
    };
    layout(language, t.prefs_title, view.languages, body)
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn form() -> FormConfig {
        FormConfig {
            form_id: "join".into(),
            version: 2,
            brand: "Acme <Deals> & Co".into(),
            program: "Weekly".into(),
            categories: vec![Category::Informational, Category::Promotional],
            languages: vec![Language::En, Language::Es],
            terms_url: "https://acme.example/terms".into(),
            privacy_url: "https://acme.example/privacy".into(),
            frequency: "Up to 4 msgs/month".into(),
            frequency_es: None,
            double_opt_in: true,
            sender_group: "deals".into(),
            updated_at: Utc::now(),
        }
    }

    /// The text of an element with `id`, tags removed and entities decoded (enough for these
    /// pages' own markup).
    fn text_of(html: &str, id: &str) -> String {
        let start = html.find(&format!("id=\"{id}\"")).unwrap();
        let open_end = start + html[start..].find('>').unwrap() + 1;
        let close = open_end + html[open_end..].find("</p>").unwrap();
        let mut text = String::new();
        let mut in_tag = false;
        for c in html[open_end..close].chars() {
            match c {
                '<' => in_tag = true,
                '>' => in_tag = false,
                c if !in_tag => text.push(c),
                _ => {}
            }
        }
        text.replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">")
            .replace("&quot;", "\"")
    }

    #[test]
    fn the_form_shows_the_disclosure_word_for_word_and_escapes_everything() {
        let form = form();
        let view = FormView {
            form: &form,
            language: Language::En,
            action: "/p/acme/join",
            token: "1.abc",
            phone: "\"><script>",
            checked: &[Category::Promotional],
            problem: Some(Problem::Phone(texts::texts(Language::En).invalid_phone)),
            languages: &[],
        };
        let page = form_page(&view);
        assert_eq!(text_of(&page, "disclosure"), form.disclosure(Language::En));
        assert!(page.contains("Acme &lt;Deals&gt; &amp; Co"));
        assert!(!page.contains("<script>"), "input is escaped");
        assert!(
            page.contains("value=\"&quot;&gt;&lt;script&gt;\""),
            "and kept"
        );
        assert!(page.contains("aria-invalid=\"true\""));
        assert!(page.contains("role=\"alert\""));
        assert!(page.contains("value=\"promotional\" checked"));
        assert!(page.contains("<html lang=\"en\">"));
        assert!(page.contains("href=\"https://acme.example/terms\""));
    }
}
