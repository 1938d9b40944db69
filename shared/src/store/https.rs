//! The one outbound HTTP client, for everything Stopgate calls that is not an AWS SDK client:
//! SNS certificates, providers' opt-out lists, tenants' hooks, EventBridge. hyper-util's
//! pooling client over hyper-rustls with rustls on aws-lc-rs and the system's trust roots: the
//! crates and TLS settings the AWS SDK already uses in the same binary, so it adds nothing to
//! build. Callers build it on first use (a function that never calls out never loads the roots).

use bytes::Bytes;
use http_body_util::Full;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

pub type HttpsClient = Client<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// A client for `https://` only, or also plain `http://` (local receivers and test servers;
/// callers decide which URLs they accept).
pub fn client(allow_plain_http: bool) -> Result<HttpsClient, String> {
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("no TLS trust roots: {e}"))?;
    let connector = if allow_plain_http {
        builder.https_or_http().enable_http1().build()
    } else {
        builder.https_only().enable_http1().build()
    };
    Ok(Client::builder(TokioExecutor::new()).build(connector))
}
