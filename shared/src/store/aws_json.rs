//! AWS APIs of the JSON protocol called without a generated client (EventBridge's `PutEvents`,
//! End User Messaging's `DescribeOptedOutNumbers`): a POST naming its operation in
//! `X-Amz-Target`, signed with SigV4 under the caller's own credentials. Each of these needs
//! one operation; a whole SDK crate each would cost far more build time and binary size.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_smithy_runtime_api::client::identity::Identity;
use bytes::Bytes;
use http_body_util::Full;

use super::SdkConfig;

/// The caller's credentials, resolved once for a run of requests.
pub async fn identity(sdk: &SdkConfig) -> Result<Identity, String> {
    let credentials = sdk
        .credentials_provider()
        .ok_or("no AWS credentials")?
        .provide_credentials()
        .await
        .map_err(|e| format!("AWS credentials: {e}"))?;
    Ok(credentials.into())
}

/// One operation's request, signed now (a signature is good for a few minutes, so a retry is
/// signed again).
pub struct JsonCall<'a> {
    /// The signing name (`events`, `sms-voice`).
    pub service: &'a str,
    pub region: &'a str,
    pub url: &'a str,
    /// `AWSEvents.PutEvents`, `PinpointSMSVoiceV2.DescribeOptedOutNumbers`.
    pub target: &'a str,
    /// `application/x-amz-json-1.0` or `-1.1`, as the API wants.
    pub content_type: &'a str,
}

impl JsonCall<'_> {
    pub fn signed(
        &self,
        identity: &Identity,
        body: &[u8],
    ) -> Result<http::Request<Full<Bytes>>, String> {
        use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
        let host = url::Url::parse(self.url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| u.port().map_or(h.to_string(), |p| format!("{h}:{p}")))
            })
            .ok_or_else(|| format!("bad endpoint {}", self.url))?;
        let headers = [
            ("host", host.as_str()),
            ("content-type", self.content_type),
            ("x-amz-target", self.target),
        ];
        let params = aws_sigv4::sign::v4::SigningParams::builder()
            .identity(identity)
            .region(self.region)
            .name(self.service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| e.to_string())?
            .into();
        let signable = SignableRequest::new(
            "POST",
            self.url,
            headers.iter().copied(),
            SignableBody::Bytes(body),
        )
        .map_err(|e| e.to_string())?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| e.to_string())?
            .into_parts();
        let mut builder = http::Request::post(self.url);
        for (name, value) in headers {
            builder = builder.header(name, value);
        }
        let mut request = builder
            .body(Full::new(Bytes::copy_from_slice(body)))
            .map_err(|e| e.to_string())?;
        instructions.apply_to_request_http1x(&mut request);
        Ok(request)
    }
}
