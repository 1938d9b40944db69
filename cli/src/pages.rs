//! `stopgate form` and `stopgate link`: the hosted opt-in forms and preference links
//! (docs/rules.md rule 9).

use clap::{Args, Subcommand};
use stopgate::api::links::{DEFAULT_LINK_DAYS, Links, MAX_LINK_DAYS, pick_form};
use stopgate::consent::Category;
use stopgate::consent::forms::{FormConfig, Language};

use crate::{CliError, Env};

#[derive(Subcommand)]
pub(crate) enum FormCommand {
    /// Create or change a form; unspecified settings keep their value. Every change is a new
    /// version, recorded with each consent given on it. Served at /p/<tenant>/<form>.
    Set(Box<FormSetArgs>),
    /// Show a tenant's forms (or one) as JSON, with their addresses.
    Show {
        tenant: String,
        form: Option<String>,
    },
}

#[derive(Args)]
pub(crate) struct FormSetArgs {
    tenant: String,
    /// Lowercase letters, digits and dashes: the last part of the form's address.
    form: String,
    /// Who the messages come from, as the person knows it.
    #[arg(long)]
    brand: Option<String>,
    /// The messaging program the person joins.
    #[arg(long)]
    program: Option<String>,
    /// The categories offered, each a box to check (conversational, informational, promotional).
    #[arg(long, value_delimiter = ',')]
    categories: Option<Vec<String>>,
    /// The languages offered (en, es); the first is the default.
    #[arg(long = "language", value_delimiter = ',')]
    languages: Option<Vec<String>>,
    #[arg(long)]
    terms_url: Option<String>,
    #[arg(long)]
    privacy_url: Option<String>,
    /// How often messages come, e.g. "Up to 4 msgs/month".
    #[arg(long)]
    frequency: Option<String>,
    /// The same in Spanish (else the form shows --frequency in every language).
    #[arg(long)]
    frequency_es: Option<String>,
    /// Whether a submission waits for the person's YES (default true).
    #[arg(long)]
    double_opt_in: Option<bool>,
    /// The sender group the request to confirm comes from and the YES must go to; consents
    /// given on the form are scoped to it.
    #[arg(long)]
    sender_group: Option<String>,
}

#[derive(Args)]
pub(crate) struct LinkArgs {
    tenant: String,
    /// The number the link is for (never shown in the link).
    phone: String,
    /// The form whose brand, categories and disclosure the page shows (default: the tenant's
    /// only form).
    #[arg(long)]
    form: Option<String>,
    /// The link is texted to this number: turning texts back on through it takes effect at
    /// once (the person's own act from a verified number). Otherwise it waits for their YES.
    #[arg(long)]
    sent_by_sms: bool,
    #[arg(long, default_value_t = DEFAULT_LINK_DAYS,
          value_parser = clap::value_parser!(i64).range(1..=MAX_LINK_DAYS))]
    expires_in_days: i64,
}

fn usage(what: impl Into<String>) -> CliError {
    CliError::Usage(what.into())
}

pub(crate) async fn form(env: &Env, command: FormCommand) -> Result<(), CliError> {
    match command {
        FormCommand::Set(args) => set(env, *args).await,
        FormCommand::Show { tenant, form } => {
            let snapshot = env
                .store
                .load_tenant(&tenant)
                .await?
                .ok_or_else(|| CliError::NotFound(format!("tenant {tenant}")))?;
            let forms: Vec<serde_json::Value> = snapshot
                .forms
                .values()
                .filter(|f| form.as_deref().is_none_or(|name| f.form_id == name))
                .map(|f| {
                    serde_json::json!({
                        "url": format!("{}/p/{tenant}/{}", env.config.public_base_url, f.form_id),
                        "form": f,
                    })
                })
                .collect();
            if let (Some(name), true) = (&form, forms.is_empty()) {
                return Err(CliError::NotFound(format!("form {name}")));
            }
            let shown = serde_json::to_string_pretty(&forms)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            println!("{shown}");
            Ok(())
        }
    }
}

async fn set(env: &Env, args: FormSetArgs) -> Result<(), CliError> {
    let snapshot = env
        .store
        .load_tenant(&args.tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {}", args.tenant)))?;
    let existing = snapshot.forms.get(&args.form);
    let required = |value: Option<String>, kept: Option<&String>, flag: &str| {
        value
            .map(|v| v.trim().to_string())
            .or_else(|| kept.cloned())
            .ok_or_else(|| usage(format!("a new form needs {flag}")))
    };
    let categories = match args.categories {
        Some(list) => list
            .iter()
            .map(|c| c.trim().parse::<Category>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(format!("--categories: {e}")))?,
        None => existing
            .map(|f| f.categories.clone())
            .ok_or_else(|| usage("a new form needs --categories"))?,
    };
    let languages = match args.languages {
        Some(list) => list
            .iter()
            .map(|l| l.parse::<Language>())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| usage(format!("--language: {e}")))?,
        None => existing
            .map(|f| f.languages.clone())
            .unwrap_or_else(|| vec![Language::En]),
    };
    let mut deduped: Vec<Category> = Vec::new();
    for c in categories {
        if !deduped.contains(&c) {
            deduped.push(c);
        }
    }
    let form = FormConfig {
        form_id: args.form.clone(),
        version: 0,
        brand: required(args.brand, existing.map(|f| &f.brand), "--brand")?,
        program: required(args.program, existing.map(|f| &f.program), "--program")?,
        categories: deduped,
        languages,
        terms_url: required(
            args.terms_url,
            existing.map(|f| &f.terms_url),
            "--terms-url",
        )?,
        privacy_url: required(
            args.privacy_url,
            existing.map(|f| &f.privacy_url),
            "--privacy-url",
        )?,
        frequency: required(
            args.frequency,
            existing.map(|f| &f.frequency),
            "--frequency",
        )?,
        frequency_es: args
            .frequency_es
            .map(|f| f.trim().to_string())
            .filter(|f| !f.is_empty())
            .or_else(|| existing.and_then(|f| f.frequency_es.clone())),
        double_opt_in: args
            .double_opt_in
            .or(existing.map(|f| f.double_opt_in))
            .unwrap_or(true),
        sender_group: required(
            args.sender_group,
            existing.map(|f| &f.sender_group),
            "--sender-group",
        )?,
        updated_at: chrono::Utc::now(),
    };
    form.check(&snapshot.directory).map_err(|e| {
        let flag = match e.field {
            "form" => "<form>".to_string(),
            "language" => "--language".to_string(),
            field => format!("--{}", field.replace('_', "-")),
        };
        usage(format!("{flag}: {}", e.message))
    })?;
    let stored = env.store.put_form(&args.tenant, &form).await?;
    eprintln!(
        "form {} of {} is now version {}{}",
        stored.form_id,
        args.tenant,
        stored.version,
        if stored.double_opt_in {
            " (double opt-in)"
        } else {
            " (no double opt-in: a submission is consent at once)"
        }
    );
    println!(
        "{}/p/{}/{}",
        env.config.public_base_url, args.tenant, stored.form_id
    );
    Ok(())
}

pub(crate) async fn link(env: &Env, args: LinkArgs) -> Result<(), CliError> {
    // In AWS the key is derived from the stack's KMS HMAC key (the PagesKeyId output).
    let config = env
        .config
        .clone()
        .with_keys_from_kms(&env.sdk)
        .await
        .map_err(|e| CliError::Failed(e.to_string()))?;
    let pages_key = config.pages_key.ok_or_else(|| {
        usage("PAGES_KEY_KMS_ID (the stack's PagesKeyId; SECRETS_DEV_KEY locally) is required: links are sealed with it")
    })?;
    let snapshot = env
        .store
        .load_tenant(&args.tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {}", args.tenant)))?;
    let phone = snapshot
        .tenant
        .policy
        .read_phone(&args.phone)
        .map_err(|e| usage(format!("<phone>: {e}")))?;
    let form = pick_form(snapshot.forms.keys(), args.form.as_deref())
        .map_err(|e| usage(format!("--form: {e}")))?;
    let (claims, path) = Links::new(pages_key)
        .issue(
            &args.tenant,
            &phone,
            &form,
            args.sent_by_sms,
            args.expires_in_days,
            chrono::Utc::now(),
        )
        .map_err(|e| CliError::Failed(e.to_string()))?;
    eprintln!(
        "preference link {} for {} on form {form}, {}, expires {}",
        claims.link_id,
        phone.masked(),
        if claims.sent_by_sms {
            "texted to the number"
        } else {
            "not known to reach the number (opting back in waits for the YES)"
        },
        claims.expires_at.to_rfc3339()
    );
    println!("{}{path}", env.config.public_base_url);
    Ok(())
}
