//! The providers' opt-out list APIs over HTTPS, for reconciliation (`flows::reconcile`):
//!
//! - Telnyx: `GET https://api.telnyx.com/v2/messaging_optouts?page[number]=N&page[size]=250`,
//!   `Authorization: Bearer <api_key>`.
//! - RingCentral: `POST /restapi/oauth/token` (JWT bearer grant, the app's client id and secret
//!   as Basic credentials) for an access token, then `GET
//!   /restapi/v1.0/account/~/a2p-sms/opt-outs?from=*&status=optout&perPage=1000[&pageToken=…]`.
//! - AWS End User Messaging: `POST https://sms-voice.<region>.amazonaws.com/`, target
//!   `PinpointSMSVoiceV2.DescribeOptedOutNumbers`, signed (SigV4, service `sms-voice`) with the
//!   caller's own AWS credentials; the region is the list ARN's, else the caller's.
//!
//! The client is `store::https`'s. Secrets travel only in request headers and bodies, never in a URL or a log line.
//! Tests point the endpoints at a local server that serves recorded answers.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use sha2::{Digest, Sha256};

use crate::flows::reconcile::{ListCredentials, ListSource, ReconcileError};
use crate::store::SdkConfig;
use crate::store::aws_json::{self, JsonCall};
use crate::store::https::{self, HttpsClient};

/// One request, connection included.
const TIMEOUT: Duration = Duration::from_secs(20);
/// A page of 1,000 entries is well under 1 MiB; nothing larger is read.
const MAX_PAGE_BYTES: usize = 8 * 1024 * 1024;
/// Throttled or failing requests are tried this many times in all.
const ATTEMPTS: u32 = 4;
const TELNYX_PAGE_SIZE: &str = "250";
const RINGCENTRAL_PER_PAGE: &str = "1000";
const AWS_MAX_RESULTS: u32 = 100;
/// A token is not used in its last minute.
const TOKEN_MARGIN: Duration = Duration::from_secs(60);

/// Where each API is.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub telnyx: String,
    pub ringcentral: String,
    /// `None`: `https://sms-voice.<region>.amazonaws.com/`.
    pub aws: Option<String>,
}

impl Default for Endpoints {
    fn default() -> Endpoints {
        Endpoints {
            telnyx: "https://api.telnyx.com".into(),
            ringcentral: "https://platform.ringcentral.com".into(),
            aws: None,
        }
    }
}

pub struct OptOutLists {
    endpoints: Endpoints,
    /// The caller's AWS configuration (credentials and region), for AWS lists.
    aws: Option<SdkConfig>,
    client: OnceLock<Result<HttpsClient, String>>,
    /// RingCentral access tokens by a hash of the credentials that got them.
    tokens: Mutex<HashMap<String, (String, Instant)>>,
}

impl OptOutLists {
    pub fn new(aws: Option<SdkConfig>) -> OptOutLists {
        OptOutLists::with_endpoints(Endpoints::default(), aws)
    }

    pub fn with_endpoints(endpoints: Endpoints, aws: Option<SdkConfig>) -> OptOutLists {
        OptOutLists {
            endpoints,
            aws,
            client: OnceLock::new(),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    fn client(&self) -> Result<&HttpsClient, ReconcileError> {
        self.client
            // The production endpoints are all https; a test's local server is plain HTTP.
            .get_or_init(|| https::client(true))
            .as_ref()
            .map_err(|e| ReconcileError::Unavailable(e.clone()))
    }

    async fn telnyx(&self, api_key: &str, token: Option<&str>) -> Result<Vec<u8>, ReconcileError> {
        let query = form_urlencoded::Serializer::new(String::new())
            .append_pair("page[number]", token.unwrap_or("1"))
            .append_pair("page[size]", TELNYX_PAGE_SIZE)
            .finish();
        let url = format!(
            "{}/v2/messaging_optouts?{query}",
            self.endpoints.telnyx.trim_end_matches('/')
        );
        let bearer = format!("Bearer {api_key}");
        self.send("telnyx", || {
            http::Request::get(&url)
                .header(http::header::AUTHORIZATION, &bearer)
                .header(http::header::ACCEPT, "application/json")
                .body(Full::default())
        })
        .await
    }

    async fn ringcentral(
        &self,
        (client_id, client_secret, jwt): (&str, &str, &str),
        token: Option<&str>,
    ) -> Result<Vec<u8>, ReconcileError> {
        let access = self
            .ringcentral_token(client_id, client_secret, jwt)
            .await?;
        let query = {
            let mut query = form_urlencoded::Serializer::new(String::new());
            query
                .append_pair("from", "*")
                .append_pair("status", "optout")
                .append_pair("perPage", RINGCENTRAL_PER_PAGE);
            if let Some(t) = token {
                query.append_pair("pageToken", t);
            }
            query.finish()
        };
        let url = format!(
            "{}/restapi/v1.0/account/~/a2p-sms/opt-outs?{query}",
            self.endpoints.ringcentral.trim_end_matches('/'),
        );
        let bearer = format!("Bearer {access}");
        self.send("ringcentral", || {
            http::Request::get(&url)
                .header(http::header::AUTHORIZATION, &bearer)
                .header(http::header::ACCEPT, "application/json")
                .body(Full::default())
        })
        .await
    }

    /// An access token for the app's JWT credential, reused until its last minute.
    async fn ringcentral_token(
        &self,
        client_id: &str,
        client_secret: &str,
        jwt: &str,
    ) -> Result<String, ReconcileError> {
        let key = hex::encode(Sha256::digest(
            format!("{client_id}\n{client_secret}\n{jwt}").as_bytes(),
        ));
        if let Some((token, until)) = self.tokens.lock().ok().and_then(|t| t.get(&key).cloned())
            && Instant::now() < until
        {
            return Ok(token);
        }
        let url = format!(
            "{}/restapi/oauth/token",
            self.endpoints.ringcentral.trim_end_matches('/')
        );
        let basic = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD
                .encode(format!("{client_id}:{client_secret}"))
        );
        let form = form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer")
            .append_pair("assertion", jwt)
            .finish();
        let body = self
            .send("ringcentral", || {
                http::Request::post(&url)
                    .header(http::header::AUTHORIZATION, &basic)
                    .header(
                        http::header::CONTENT_TYPE,
                        "application/x-www-form-urlencoded",
                    )
                    .header(http::header::ACCEPT, "application/json")
                    .body(Full::new(Bytes::from(form.clone())))
            })
            .await?;
        let answer: serde_json::Value = serde_json::from_slice(&body).map_err(|_| {
            ReconcileError::Unavailable("ringcentral: the token answer is not JSON".into())
        })?;
        let token = answer
            .get("access_token")
            .and_then(|t| t.as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ReconcileError::Unavailable(
                    "ringcentral: the token answer has no access_token".into(),
                )
            })?
            .to_string();
        let lifetime = answer
            .get("expires_in")
            .and_then(serde_json::Value::as_u64)
            .map(Duration::from_secs)
            .unwrap_or(Duration::from_secs(300));
        if let Ok(mut tokens) = self.tokens.lock() {
            let until = Instant::now() + lifetime.saturating_sub(TOKEN_MARGIN);
            tokens.insert(key, (token.clone(), until));
        }
        Ok(token)
    }

    async fn aws(&self, list: &str, token: Option<&str>) -> Result<Vec<u8>, ReconcileError> {
        let sdk = self.aws.as_ref().ok_or_else(|| {
            ReconcileError::Credentials("aws: no AWS configuration to sign with".into())
        })?;
        let region = list_region(list)
            .or_else(|| sdk.region().map(|r| r.to_string()))
            .ok_or_else(|| {
                ReconcileError::Credentials(
                    "aws: no region (set AWS_REGION, or give opt_out_list as an ARN)".into(),
                )
            })?;
        let url = match &self.endpoints.aws {
            Some(url) => url.clone(),
            None => format!("https://sms-voice.{region}.amazonaws.com/"),
        };
        let mut request =
            serde_json::json!({"OptOutListName": list, "MaxResults": AWS_MAX_RESULTS});
        if let Some(t) = token {
            request["NextToken"] = serde_json::Value::String(t.to_string());
        }
        let body = serde_json::to_vec(&request)
            .map_err(|e| ReconcileError::Unavailable(format!("aws: {e}")))?;
        let identity = aws_json::identity(sdk)
            .await
            .map_err(|e| ReconcileError::Credentials(format!("aws: {e}")))?;
        let call = JsonCall {
            service: "sms-voice",
            region: &region,
            url: &url,
            target: "PinpointSMSVoiceV2.DescribeOptedOutNumbers",
            content_type: "application/x-amz-json-1.0",
        };
        // Signed anew on every attempt: a signature is only good for a few minutes.
        self.send("aws", || call.signed(&identity, &body)).await
    }

    /// Sends the request `build` makes, trying again on throttling and server errors; the body
    /// of a 2xx answer.
    async fn send<E: std::fmt::Display>(
        &self,
        provider: &str,
        build: impl Fn() -> Result<http::Request<Full<Bytes>>, E>,
    ) -> Result<Vec<u8>, ReconcileError> {
        let client = self.client()?;
        let mut wait = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let request = build().map_err(|e| {
                ReconcileError::Unavailable(format!("{provider}: building the request: {e}"))
            })?;
            let exchange = async {
                let response = client
                    .request(request)
                    .await
                    .map_err(|e| (true, format!("{e}")))?;
                let status = response.status();
                let retry_after = response
                    .headers()
                    .get(http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.trim().parse::<u64>().ok());
                let body = Limited::new(response.into_body(), MAX_PAGE_BYTES)
                    .collect()
                    .await
                    .map(|b| b.to_bytes().to_vec())
                    .map_err(|e| (true, format!("reading the answer: {e}")))?;
                Ok::<_, (bool, String)>((status, retry_after, body))
            };
            let (retry, reason, retry_after) = match tokio::time::timeout(TIMEOUT, exchange).await {
                Err(_) => (true, format!("no answer within {TIMEOUT:?}"), None),
                Ok(Err((retry, e))) => (retry, e, None),
                Ok(Ok((status, _, body))) if status.is_success() => return Ok(body),
                Ok(Ok((status, retry_after, body))) => {
                    if matches!(status.as_u16(), 401 | 403) {
                        return Err(ReconcileError::Credentials(format!(
                            "{provider} refused the tenant's credentials (HTTP {status}{})",
                            error_type(&body)
                        )));
                    }
                    let retry = status.as_u16() == 429 || status.is_server_error();
                    (
                        retry,
                        format!("HTTP {status}{}", error_type(&body)),
                        retry_after,
                    )
                }
            };
            if !retry || attempt == ATTEMPTS {
                return Err(ReconcileError::Unavailable(format!("{provider}: {reason}")));
            }
            let pause = retry_after
                .map(|s| Duration::from_secs(s.min(30)))
                .unwrap_or(wait);
            tracing::warn!(provider = %provider, attempt, reason = %reason, "opt-out list request failed; trying again");
            tokio::time::sleep(pause).await;
            wait *= 2;
        }
        Err(ReconcileError::Unavailable(format!("{provider}: gave up")))
    }
}

impl ListSource for OptOutLists {
    async fn page(
        &self,
        credentials: &ListCredentials,
        token: Option<&str>,
    ) -> Result<Vec<u8>, ReconcileError> {
        match credentials {
            ListCredentials::Telnyx { api_key } => self.telnyx(api_key, token).await,
            ListCredentials::Ringcentral {
                client_id,
                client_secret,
                jwt,
            } => {
                self.ringcentral((client_id, client_secret, jwt), token)
                    .await
            }
            ListCredentials::Aws { opt_out_list } => self.aws(opt_out_list, token).await,
        }
    }
}

/// The region of an opt-out list given as an ARN (`arn:aws:sms-voice:<region>:…`).
fn list_region(list: &str) -> Option<String> {
    let mut parts = list.split(':');
    (parts.next() == Some("arn"))
        .then(|| parts.nth(2))
        .flatten()
        .filter(|r| !r.is_empty())
        .map(str::to_string)
}

/// The provider's error code, when its error answer names one (AWS `__type`, RingCentral
/// `errorCode`, Telnyx `errors[0].code`): never the message, which may echo input.
fn error_type(body: &[u8]) -> String {
    let Ok(doc) = serde_json::from_slice::<serde_json::Value>(body) else {
        return String::new();
    };
    let code = doc
        .get("__type")
        .or_else(|| doc.get("errorCode"))
        .or_else(|| doc.pointer("/errors/0/code"))
        .and_then(|v| v.as_str());
    match code {
        Some(c) => format!(", {}", c.rsplit('#').next().unwrap_or(c)),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_arn_names_its_region_and_a_name_does_not() {
        assert_eq!(
            list_region("arn:aws:sms-voice:eu-west-2:123456789012:opt-out-list/Default"),
            Some("eu-west-2".into())
        );
        assert_eq!(list_region("Default"), None);
    }

    #[test]
    fn error_answers_give_their_code_and_never_their_message() {
        let aws =
            br#"{"__type": "com.amazonaws#ResourceNotFoundException", "message": "+14155550123"}"#;
        assert_eq!(error_type(aws), ", ResourceNotFoundException");
        let telnyx = br#"{"errors": [{"code": "10009", "detail": "key abc"}]}"#;
        assert_eq!(error_type(telnyx), ", 10009");
        assert_eq!(error_type(b"<html>"), "");
    }
}
