//! `stopgate reconcile`: a tenant's ledger against its providers' own opt-out lists
//! (docs/rules.md rule 10). The report as JSON on stdout; a line per provider on stderr.

use serde_json::json;
use stopgate::api::optout_lists::OptOutLists;
use stopgate::api::tenants::Tenants;
use stopgate::flows::reconcile::{Outcome, reconcile_tenant};
use stopgate::providers::Provider;
use stopgate::providers::optouts::LISTED_BY;
use stopgate::secrets::Sealer;

use crate::{CliError, Env};

#[derive(clap::Args)]
pub(crate) struct ReconcileArgs {
    tenant: String,
    /// Only this provider: telnyx, ringcentral or aws (default: every one the tenant set
    /// credentials for).
    #[arg(long, value_parser = parse_provider)]
    provider: Option<Provider>,
    /// Read the lists and report, recording nothing.
    #[arg(long)]
    dry_run: bool,
}

fn parse_provider(s: &str) -> Result<Provider, String> {
    Provider::parse(s.trim())
        .filter(|p| LISTED_BY.contains(p))
        .ok_or_else(|| {
            format!(
                "{s:?} has no opt-out list Stopgate can read; one of {}",
                LISTED_BY.map(Provider::as_str).join(", ")
            )
        })
}

pub(crate) async fn reconcile(env: &Env, args: ReconcileArgs) -> Result<(), CliError> {
    let sealer = Sealer::new(env.config.secrets_key.clone(), &env.sdk);
    let tenants = Tenants::new(env.store.clone(), Some(sealer));
    let context = tenants
        .get(&args.tenant)
        .await?
        .ok_or_else(|| CliError::NotFound(format!("tenant {}", args.tenant)))?;
    let lists = OptOutLists::new(Some(env.sdk.clone()));
    let secrets = |p: Provider| {
        (!context.secrets_unopened(p.as_str())).then(|| context.provider_secrets(p.as_str()))
    };
    let outcomes = reconcile_tenant(
        &env.store,
        &lists,
        &context.snapshot,
        &secrets,
        args.provider,
        args.dry_run,
    )
    .await;
    let mut failed = 0;
    for (provider, outcome) in &outcomes {
        match outcome {
            Outcome::Reconciled(r) => eprintln!(
                "{provider}: {} listed on {} page(s); {} {}, {} blocked at the provider, {} accepted at the provider{}",
                r.listed,
                r.pages,
                r.recorded.len(),
                if r.dry_run { "to record" } else { "recorded" },
                r.blocked_at_provider.len(),
                r.accepted_at_provider.len(),
                if r.complete {
                    ""
                } else {
                    " (list incomplete: accepted not reported)"
                }
            ),
            Outcome::Skipped => eprintln!("{provider}: skipped, no credentials set"),
            Outcome::Failed(e) => {
                failed += 1;
                eprintln!("{provider}: failed: {e}");
            }
        }
    }
    let report = json!({
        "tenant": args.tenant,
        "providers": outcomes.iter().map(|(p, o)| o.to_json(*p)).collect::<Vec<_>>(),
    });
    println!(
        "{}",
        serde_json::to_string_pretty(&report).map_err(|e| CliError::Failed(e.to_string()))?
    );
    if failed > 0 {
        return Err(CliError::Failed(format!(
            "{failed} provider(s) could not be reconciled (their \"error\" above)"
        )));
    }
    Ok(())
}
