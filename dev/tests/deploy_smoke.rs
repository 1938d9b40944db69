//! `make deploy-smoke` (scripts/deploy_smoke.py) against the locally served stack, as an operator
//! runs it against a deployed one: over HTTP, with an API key and the tenant's Twilio auth token
//! in the environment, no AWS credentials. The served functions verify webhooks against the URL
//! they are served at, as a deployed stack verifies against its PUBLIC_BASE_URL.
// Test code: a failed setup step should stop the test loudly.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::process::{Command, Output};
use std::sync::Arc;

use stopgate::testing::{TenantKeys, TestEnv, env};
use stopgate_dev::Gateway;
use tokio::net::TcpListener;

const TWILIO_TOKEN: &str = "deploy-smoke-test-auth-token";

struct Served {
    base: String,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Served {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The gateway on a port of its own, its PUBLIC_BASE_URL the URL it is served at; a tenant
/// with a Twilio auth token and keys.
async fn serve(prefix: &str) -> (Served, TestEnv, TenantKeys) {
    let mut env = env().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    env.config.public_base_url = base.clone();
    let keys = env.tenant_with_keys(prefix).await;
    env.tenant_with_twilio(&keys.tenant, TWILIO_TOKEN).await;
    let gateway = Arc::new(Gateway::new(&env.config, &env.sdk).unwrap());
    let server = tokio::spawn(stopgate_dev::serve(listener, gateway));
    (Served { base, server }, env, keys)
}

/// `make deploy-smoke` with `vars` on its command line and `environment` added to a
/// clean environment (no AWS variables: the smoke test must not need them).
async fn deploy_smoke(vars: &[(&str, &str)], environment: &[(&str, &str)]) -> Output {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut command = Command::new("make");
    command
        .current_dir(root)
        .arg("--no-print-directory")
        .arg("deploy-smoke")
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    for (name, value) in vars {
        command.arg(format!("{name}={value}"));
    }
    for (name, value) in environment {
        command.env(name, value);
    }
    tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passes_against_the_served_stack_without_aws_credentials() {
    let (served, env, keys) = serve("smoke").await;
    let output = deploy_smoke(
        &[
            ("BASE", &served.base),
            ("KEY", &keys.admin),
            ("TENANT", &keys.tenant),
        ],
        &[("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)],
    )
    .await;
    let (stdout, stderr) = (text(&output.stdout), text(&output.stderr));
    assert!(output.status.success(), "{stdout}\n{stderr}");
    let summary: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert_eq!(summary["ok"], true);
    assert_eq!(summary["tenant"], keys.tenant.as_str());
    assert!(summary["event_id"].is_string(), "{summary}");
    // Neither secret is ever printed.
    for secret in [keys.admin.as_str(), TWILIO_TOKEN] {
        assert!(!stdout.contains(secret) && !stderr.contains(secret));
    }

    // The key may come from STOPGATE_KEY instead of make's command line; a key with just the
    // scopes the smoke test needs (check, consents:write) is enough.
    let key = env
        .api_key(&keys.tenant, &["check", "consents:write"])
        .await;
    let output = deploy_smoke(
        &[("BASE", &served.base), ("TENANT", &keys.tenant)],
        &[("TWILIO_AUTH_TOKEN", TWILIO_TOKEN), ("STOPGATE_KEY", &key)],
    )
    .await;
    assert!(output.status.success(), "{}", text(&output.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fails_loudly_naming_the_step() {
    let (served, _env, keys) = serve("smoke-bad").await;
    let vars = [
        ("BASE", served.base.as_str()),
        ("KEY", keys.admin.as_str()),
        ("TENANT", keys.tenant.as_str()),
    ];

    // A wrong auth token: the webhook is refused, and the hint says where to look.
    let output = deploy_smoke(&vars, &[("TWILIO_AUTH_TOKEN", "not-the-token")]).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("FAILED: POST /v1/webhooks/twilio/"),
        "{stderr}"
    );
    assert!(stderr.contains("HTTP 401"), "{stderr}");
    assert!(!stderr.contains("not-the-token"), "{stderr}");

    // A key without the check scope: the webhook passes, the check step fails.
    let writer_only = [
        ("BASE", served.base.as_str()),
        ("KEY", keys.writer.as_str()),
        ("TENANT", keys.tenant.as_str()),
    ];
    let output = deploy_smoke(&writer_only, &[("TWILIO_AUTH_TOKEN", TWILIO_TOKEN)]).await;
    let stderr = text(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("FAILED: POST /v1/check: HTTP 403"),
        "{stderr}"
    );
    assert!(!stderr.contains(&keys.writer), "{stderr}");

    // Nothing to sign with: refused before any request (exit status 2).
    let output = deploy_smoke(&vars, &[]).await;
    assert!(!output.status.success());
    assert!(
        text(&output.stderr).contains("missing TWILIO_AUTH_TOKEN"),
        "{}",
        text(&output.stderr)
    );
}
