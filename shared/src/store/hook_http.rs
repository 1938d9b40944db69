//! Sending notifications to tenants' endpoints: one POST per attempt over HTTPS (plain HTTP
//! only to a loopback address, for local receivers), no redirects followed, a short timeout,
//! and nothing of the answer kept but its status.
//!
//! The client is `store::https`'s, built on first use.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};

use super::https::{self, HttpsClient};

/// One attempt, connection included.
pub const TIMEOUT: Duration = Duration::from_secs(10);

/// The most of an answer's body that is read.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// Whether `url` may be a hook: `https://`, or `http://` to a loopback address.
pub fn acceptable_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    let loopback = match parsed.host() {
        Some(url::Host::Domain(d)) => d == "localhost",
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => return Err(format!("{url:?} has no host")),
    };
    match parsed.scheme() {
        "https" => Ok(parsed),
        "http" if loopback => Ok(parsed),
        "http" => Err(format!(
            "{url:?}: notifications go over https (plain http only to a loopback address)"
        )),
        other => Err(format!("{url:?}: {other} is not http or https")),
    }
}

/// Whether `url` may be a hook a tenant adds itself (through the API): `https://` to a public
/// name or address. Addresses of this network's own (loopback, private, link-local, unique
/// local, unspecified, shared) and `localhost` are refused, so a tenant cannot aim the notify
/// function at what only it can reach.
pub fn acceptable_public_url(url: &str) -> Result<url::Url, String> {
    let parsed = url::Url::parse(url).map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    if parsed.scheme() != "https" {
        return Err(format!("{url:?}: a hook's URL must start with https://"));
    }
    let internal = match parsed.host() {
        Some(url::Host::Domain(d)) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost")
        }
        Some(url::Host::Ipv4(ip)) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        Some(url::Host::Ipv6(ip)) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip.to_ipv4_mapped().is_some()
        }
        None => return Err(format!("{url:?} has no host")),
    };
    if internal {
        return Err(format!(
            "{url:?}: a hook must be reachable on the internet, not a local or private address"
        ));
    }
    Ok(parsed)
}

/// Cheap to clone; clones share the connection pool.
#[derive(Clone, Default)]
pub struct HookHttp {
    client: Arc<OnceLock<Result<HttpsClient, String>>>,
}

impl HookHttp {
    pub fn new() -> HookHttp {
        HookHttp::default()
    }

    /// POSTs `body` to `url` with `headers`: the HTTP status, or why there was none.
    pub async fn post(
        &self,
        url: &str,
        headers: &[(&str, String)],
        body: String,
    ) -> Result<u16, String> {
        acceptable_url(url)?;
        let client = self
            .client
            .get_or_init(|| https::client(true))
            .as_ref()
            .map_err(Clone::clone)?;
        let mut request = http::Request::post(url).header(http::header::USER_AGENT, "stopgate");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| e.to_string())?;
        let exchange = async {
            client
                .request(request)
                .await
                .map(|response| response.status().as_u16())
                .map_err(|e| format!("no answer: {e}"))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}

impl HookHttp {
    /// Sends `request` (to an AWS endpoint: the event bus): the status and the answer's body.
    pub async fn exchange(
        &self,
        request: http::Request<Full<Bytes>>,
    ) -> Result<(u16, Vec<u8>), String> {
        let client = self
            .client
            .get_or_init(|| https::client(true))
            .as_ref()
            .map_err(Clone::clone)?;
        let exchange = async {
            let response = client
                .request(request)
                .await
                .map_err(|e| format!("no answer: {e}"))?;
            let status = response.status().as_u16();
            let body = Limited::new(response.into_body(), MAX_ANSWER_BYTES)
                .collect()
                .await
                .map_err(|e| format!("reading the answer: {e}"))?
                .to_bytes()
                .to_vec();
            Ok((status, body))
        };
        tokio::time::timeout(TIMEOUT, exchange)
            .await
            .map_err(|_| format!("no answer within {TIMEOUT:?}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hooks_are_https_or_loopback_http() {
        for ok in [
            "https://hooks.acme.example/stopgate",
            "http://127.0.0.1:9000/hook",
            "http://localhost:8080/",
            "http://[::1]:9000/",
        ] {
            assert!(acceptable_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "http://hooks.acme.example/",
            "http://10.0.0.5/",
            "ftp://acme.example/",
            "not a url",
        ] {
            assert!(acceptable_url(bad).is_err(), "{bad}");
        }
    }
}
