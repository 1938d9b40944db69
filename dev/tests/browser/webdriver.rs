//! A small W3C WebDriver client for the browser test: the dozen commands it needs, as JSON over
//! HTTP to a `chromedriver` this test starts (https://www.w3.org/TR/webdriver2/). Errors carry
//! the driver's own message.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::Engine;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

/// The key of an element reference in WebDriver's JSON.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

/// A `chromedriver` process on a port of its own; stopped when dropped.
pub struct Driver {
    process: Child,
    base: String,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// One browser session.
pub struct Session<'a> {
    driver: &'a Driver,
    id: String,
    /// The session's profile, a fresh directory removed at the end.
    profile: std::path::PathBuf,
}

impl Drop for Driver {
    fn drop(&mut self) {
        // Our own child, by its handle.
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Driver {
    /// Starts `chromedriver` (from PATH, as `make test` installs it) and waits until it answers.
    pub async fn start() -> Driver {
        let port = free_port();
        let process = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!("chromedriver could not start ({e}): run `make test` or scripts/install.sh, which install chromium and chromium-driver")
            });
        let driver = Driver {
            process,
            base: format!("http://127.0.0.1:{port}"),
            client: Client::builder(TokioExecutor::new()).build_http(),
        };
        for _ in 0..100 {
            if let Ok(status) = driver.call("GET", "/status", None).await
                && status["ready"] == true
            {
                return driver;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not become ready on port {port}");
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Result<Value, String> {
        let request = hyper::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(
                body.map(|b| b.to_string()).unwrap_or_default(),
            )))
            .map_err(|e| e.to_string())?;
        let response = tokio::time::timeout(Duration::from_secs(60), self.client.request(request))
            .await
            .map_err(|_| format!("{method} {path}: no answer in 60 s"))?
            .map_err(|e| format!("{method} {path}: {e}"))?;
        let status = response.status();
        let bytes = response
            .into_body()
            .collect()
            .await
            .map_err(|e| e.to_string())?
            .to_bytes();
        let answer: Value = serde_json::from_slice(&bytes).map_err(|e| e.to_string())?;
        if !status.is_success() {
            return Err(format!("{method} {path}: {status} {}", answer["value"]));
        }
        Ok(answer["value"].clone())
    }

    /// A new headless Chromium session with a fresh profile. The flags keep a browser on a
    /// machine without network from reaching out (background services refuse connections
    /// many at a time otherwise) and let it run as root in a container.
    pub async fn session(&self) -> Session<'_> {
        let profile = std::env::temp_dir().join(format!(
            "stopgate-browser-{}",
            ulid::Ulid::new().to_string().to_lowercase()
        ));
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            "--force-device-scale-factor=1",
            &format!("--user-data-dir={}", profile.display()),
        ];
        let capabilities = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {"args": args},
        }}});
        let value = self
            .call("POST", "/session", Some(capabilities))
            .await
            .unwrap_or_else(|e| panic!("no browser session: {e}"));
        Session {
            driver: self,
            id: value["sessionId"].as_str().expect("session id").to_string(),
            profile,
        }
    }
}

/// An element of the current page.
pub struct Element(String);

impl Session<'_> {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let path = format!("/session/{}{path}", self.id);
        self.driver
            .call(method, &path, body)
            .await
            .unwrap_or_else(|e| panic!("{e}"))
    }

    pub async fn goto(&self, url: &str) {
        self.call("POST", "/url", Some(json!({"url": url}))).await;
    }

    pub async fn url(&self) -> String {
        self.call("GET", "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    pub async fn find(&self, css: &str) -> Element {
        let value = self
            .call(
                "POST",
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        Element(value[ELEMENT].as_str().expect("element").to_string())
    }

    /// Waits (up to 10 s) until the page shows an element matching `css`: a click that
    /// submits a form returns before the next page has loaded.
    pub async fn wait_for(&self, css: &str) {
        let path = format!("/session/{}/elements", self.id);
        let query = json!({"using": "css selector", "value": css});
        for _ in 0..100 {
            let found = self.driver.call("POST", &path, Some(query.clone())).await;
            if found.is_ok_and(|f| f.as_array().is_some_and(|a| !a.is_empty())) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("no {css} on the page after 10 s");
    }

    pub async fn count(&self, css: &str) -> usize {
        self.call(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map_or(0, Vec::len)
    }

    pub async fn text(&self, css: &str) -> String {
        let Element(id) = self.find(css).await;
        self.call("GET", &format!("/element/{id}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Types into the element, as keystrokes.
    pub async fn type_into(&self, css: &str, text: &str) {
        let Element(id) = self.find(css).await;
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    /// Types on the keyboard into whatever has the focus (`\u{E004}` is Tab).
    pub async fn keys(&self, text: &str) {
        let active = self.call("GET", "/element/active", None).await;
        let id = active[ELEMENT].as_str().expect("a focused element");
        self.call(
            "POST",
            &format!("/element/{id}/value"),
            Some(json!({"text": text})),
        )
        .await;
    }

    pub async fn click(&self, css: &str) {
        let Element(id) = self.find(css).await;
        self.call("POST", &format!("/element/{id}/click"), Some(json!({})))
            .await;
    }

    /// Runs a script in the page and returns its result (used only to read the page: it
    /// works without JavaScript).
    pub async fn script(&self, script: &str) -> Value {
        self.call(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
        .await
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.call(
            "POST",
            "/window/rect",
            Some(json!({"width": width, "height": height})),
        )
        .await;
    }

    /// A Chrome DevTools command (chromedriver's `goog/cdp/execute`).
    pub async fn devtools(&self, command: &str, params: Value) -> Value {
        self.call(
            "POST",
            "/goog/cdp/execute",
            Some(json!({"cmd": command, "params": params})),
        )
        .await
    }

    /// A PNG of the viewport.
    pub async fn screenshot(&self) -> Vec<u8> {
        let encoded = self.call("GET", "/screenshot", None).await;
        base64::engine::general_purpose::STANDARD
            .decode(encoded.as_str().unwrap_or_default())
            .expect("screenshot PNG")
    }

    pub async fn quit(self) {
        let path = format!("/session/{}", self.id);
        let _ = self.driver.call("DELETE", &path, None).await;
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
