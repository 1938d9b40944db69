//! Inbound webhooks as each provider sends them: one builder per provider (and per API, for Sinch
//! and Vonage) writing the provider's native request exactly as `providers::<provider>::parse`
//! reads it (shapes from docs/providers.md and scripts/events_*.py), and [`sign`], which proves
//! a request as the provider would with a [`Proof`], using the signing helpers the provider
//! modules expose. Builders return requests with no proof; signing is always a separate step, so
//! the same request can be sent genuine, forged or unsigned.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use super::sns;
use crate::api::webhook::IncomingWebhook;
use crate::providers::{Provider, bandwidth, plivo, sinch, telnyx, twilio, vonage};

/// The business's number every built text is sent to.
pub const BUSINESS: &str = "+14155550100";

/// How SNS labels the envelope it posts to an HTTPS subscription.
pub const SNS_CONTENT_TYPE: &str = "text/plain; charset=UTF-8";

/// A text a person sends the business, as its provider reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub from: String,
    pub to: String,
    pub text: String,
    /// The provider's id for the message: the same id again is a redelivery.
    pub message_id: String,
    /// When the provider says the message arrived (written by the providers that send a time).
    pub at: DateTime<Utc>,
}

impl Sms {
    /// `text` from `from` to [`BUSINESS`], arriving now.
    pub fn new(from: &str, message_id: &str, text: &str) -> Sms {
        Sms {
            from: from.to_string(),
            to: BUSINESS.to_string(),
            text: text.to_string(),
            message_id: message_id.to_string(),
            at: Utc::now(),
        }
    }
}

/// Where a provider posts one tenant's webhooks: `PUBLIC_BASE_URL/v1/webhooks/<provider>/<tenant>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub provider: Provider,
    pub tenant: String,
    pub url: String,
}

impl Endpoint {
    pub fn new(public_base_url: &str, provider: Provider, tenant: &str) -> Endpoint {
        let path = format!("/v1/webhooks/{provider}/{tenant}");
        Endpoint {
            provider,
            tenant: tenant.to_string(),
            url: IncomingWebhook::url_for(public_base_url, &path, ""),
        }
    }
}

/// How a provider proves a webhook is its own, with the secret it proves it with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Proof {
    /// Twilio's `X-Twilio-Signature` (HMAC-SHA1 of the URL and the form) with the Auth Token.
    Twilio { auth_token: String },
    /// Telnyx's Ed25519 signature of `{timestamp}|{body}`, with the key made from `seed`.
    Telnyx { seed: [u8; 32] },
    /// HTTP Basic callback credentials: Bandwidth, and Sinch's SMS API callbacks.
    Basic { username: String, password: String },
    /// Plivo's `X-Plivo-Signature-V3` (and V2) with the Auth Token.
    Plivo { auth_token: String },
    /// RingCentral's static `Verification-Token`.
    Ringcentral { verification_token: String },
    /// Sinch's Conversation API `x-sinch-webhook-signature` (HMAC-SHA256, signed time).
    SinchHmac { webhook_secret: String },
    /// Vonage's SMS API `sig` parameter over the parameters and a signed `timestamp`.
    VonageSig {
        signature_secret: String,
        signature_method: String,
    },
    /// Vonage's Messages API `Authorization: Bearer` JWT (HS256, `iat`, `payload_hash`).
    VonageJwt { signature_secret: String },
    /// Amazon SNS's RSA signature by the test key of [`sns`]. Nobody else has that key, so a
    /// forgery (`genuine: false`) carries a signature the key made for another message.
    Sns { genuine: bool },
}

impl Proof {
    /// The same scheme with a secret the provider never gave out (for the sample events'
    /// schemes, the forger's secret their generators in scripts/ use).
    pub fn forged(&self) -> Proof {
        match self {
            Proof::Twilio { .. } => Proof::Twilio {
                auth_token: "not-the-auth-token".into(),
            },
            Proof::Telnyx { .. } => Proof::Telnyx {
                seed: *b"stopgate-example-forger-seed-001",
            },
            Proof::Basic { username, .. } => Proof::Basic {
                username: username.clone(),
                password: "not-the-password".into(),
            },
            Proof::Plivo { .. } => Proof::Plivo {
                auth_token: "not-the-auth-token".into(),
            },
            Proof::Ringcentral { .. } => Proof::Ringcentral {
                verification_token: "a-forged-verification-token".into(),
            },
            Proof::SinchHmac { .. } => Proof::SinchHmac {
                webhook_secret: "a-forged-sinch-secret".into(),
            },
            Proof::VonageSig {
                signature_method, ..
            } => Proof::VonageSig {
                signature_secret: "a-forged-vonage-secret".into(),
                signature_method: signature_method.clone(),
            },
            Proof::VonageJwt { .. } => Proof::VonageJwt {
                signature_secret: "a-forged-vonage-secret".into(),
            },
            Proof::Sns { .. } => Proof::Sns { genuine: false },
        }
    }
}

/// What a provider is answered for a text when Stopgate writes no reply (docs/providers.md,
/// Summary): content type and body. Twilio and Plivo get XML, the others an empty body.
pub fn acknowledgement(provider: Provider) -> (&'static str, &'static str) {
    match provider {
        Provider::Twilio => (
            "text/xml",
            r#"<?xml version="1.0" encoding="UTF-8"?><Response/>"#,
        ),
        Provider::Plivo => ("text/xml", "<Response/>"),
        Provider::Telnyx
        | Provider::Bandwidth
        | Provider::Ringcentral
        | Provider::Sinch
        | Provider::Vonage
        | Provider::Aws => ("text/plain", ""),
    }
}

/// `sms` as `endpoint.provider` posts it, without proof, in the format that goes with `proof`'s
/// scheme (Sinch and Vonage each have two APIs; Amazon SNS posts from [`sns::TOPIC_ARN`]).
pub fn text(endpoint: &Endpoint, proof: &Proof, sms: &Sms) -> IncomingWebhook {
    match (endpoint.provider, proof) {
        (Provider::Twilio, _) => twilio(endpoint, sms),
        (Provider::Telnyx, _) => telnyx(endpoint, sms),
        (Provider::Bandwidth, _) => bandwidth(endpoint, sms),
        (Provider::Plivo, _) => plivo(endpoint, sms),
        (Provider::Ringcentral, _) => ringcentral(endpoint, sms),
        (Provider::Sinch, Proof::SinchHmac { .. }) => sinch_conversation(endpoint, sms),
        (Provider::Sinch, _) => sinch_sms(endpoint, sms),
        (Provider::Vonage, Proof::VonageJwt { .. }) => vonage_messages(endpoint, sms),
        (Provider::Vonage, _) => vonage_sms(endpoint, sms),
        (Provider::Aws, _) => aws(endpoint, sms, sns::TOPIC_ARN),
    }
}

/// A POST of `body` to `endpoint`, received now, with nothing but its content type.
pub fn post(endpoint: &Endpoint, content_type: &str, body: impl Into<Vec<u8>>) -> IncomingWebhook {
    let mut headers = http::HeaderMap::new();
    headers.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_str(content_type).expect("content type"),
    );
    IncomingWebhook {
        provider: endpoint.provider.to_string(),
        tenant: endpoint.tenant.clone(),
        method: "POST".into(),
        url: endpoint.url.clone(),
        headers,
        body: body.into(),
        received_at: Utc::now(),
    }
}

/// Twilio's "A message comes in" form POST; `OptOutType` is there when Twilio's own keyword
/// handling matched (Advanced Opt-Out), as in scripts/make_events.py.
pub fn twilio(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let mut form = form_urlencoded::Serializer::new(String::new());
    form.extend_pairs([
        ("ToCountry", "US"),
        ("SmsMessageSid", sms.message_id.as_str()),
        ("NumMedia", "0"),
        ("FromCountry", "US"),
        ("SmsSid", sms.message_id.as_str()),
        ("Body", sms.text.as_str()),
        ("To", sms.to.as_str()),
        ("NumSegments", "1"),
        ("MessageSid", sms.message_id.as_str()),
        ("AccountSid", "AC00000000000000000000000000000000"),
        ("From", sms.from.as_str()),
        ("ApiVersion", "2010-04-01"),
    ]);
    if let Some(keyword) = providers_keyword(&sms.text) {
        form.append_pair("OptOutType", keyword);
    }
    post(endpoint, "application/x-www-form-urlencoded", form.finish())
}

/// Telnyx's `message.received` event (API v2); `autoresponse_type` is there when Telnyx's own
/// keyword handling matched, as in scripts/events_telnyx_bandwidth_plivo.py.
pub fn telnyx(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let at = rfc3339(sms.at);
    let mut payload = json!({
        "direction": "inbound",
        "encoding": "GSM-7",
        "from": {"carrier": "T-Mobile USA, Inc.", "line_type": "Wireless", "phone_number": sms.from},
        "id": sms.message_id,
        "media": [],
        "messaging_profile_id": "40017f8e-49bd-4f16-9e3d-ef103f916228",
        "parts": 1,
        "received_at": at,
        "record_type": "message",
        "text": sms.text,
        "to": [{"carrier": "Telnyx", "line_type": "Wireless", "phone_number": sms.to, "status": "webhook_delivered"}],
        "type": "SMS",
        "webhook_url": endpoint.url,
    });
    if let Some(keyword) = providers_keyword(&sms.text) {
        payload["autoresponse_type"] = keyword.to_lowercase().into();
    }
    let body = json!({
        "data": {
            "event_type": "message.received",
            "id": format!("event-{}", sms.message_id),
            "occurred_at": at,
            "payload": payload,
            "record_type": "event",
        },
        "meta": {"attempt": 1, "delivered_to": endpoint.url},
    });
    post(endpoint, "application/json", body.to_string())
}

/// Bandwidth's callback array with one `message-received` callback.
pub fn bandwidth(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    bandwidth_callbacks(endpoint, vec![bandwidth_callback(sms)])
}

/// One `message-received` callback of Bandwidth's array (a group text or a batch has several;
/// a delivery receipt is one with another `type`).
pub fn bandwidth_callback(sms: &Sms) -> Value {
    let at = rfc3339(sms.at);
    json!({
        "type": "message-received",
        "time": at,
        "description": "Incoming message received",
        "to": sms.to,
        "message": {
            "id": sms.message_id,
            "owner": sms.to,
            "applicationId": "93b0b5b6-1d4f-4b5e-9d1a-6f0e0c2f3a11",
            "time": at,
            "segmentCount": 1,
            "direction": "in",
            "to": [sms.to],
            "from": sms.from,
            "text": sms.text,
            "media": [],
            "tag": null,
        },
    })
}

/// Bandwidth's POST of several callbacks at once.
pub fn bandwidth_callbacks(endpoint: &Endpoint, callbacks: Vec<Value>) -> IncomingWebhook {
    post(
        endpoint,
        "application/json; charset=utf-8",
        Value::Array(callbacks).to_string(),
    )
}

/// Plivo's Message URL form POST; Plivo writes numbers without the `+`.
pub fn plivo(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let form = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("From", bare(&sms.from)),
            ("To", bare(&sms.to)),
            ("Type", "sms"),
            ("Text", sms.text.as_str()),
            ("MessageUUID", sms.message_id.as_str()),
        ])
        .finish();
    post(endpoint, "application/x-www-form-urlencoded", form)
}

/// RingCentral's instant-SMS notification (`/message-store/instant?type=SMS`).
pub fn ringcentral(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let at = rfc3339(sms.at);
    let body = json!({
        "uuid": format!("notification-{}", sms.message_id),
        "event": "/restapi/v1.0/account/~/extension/823476228762/message-store/instant?type=SMS",
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "timestamp": at,
        "body": {
            "id": sms.message_id,
            "to": [{"phoneNumber": sms.to}],
            "from": {"phoneNumber": sms.from},
            "type": "SMS",
            "creationTime": at,
            "lastModifiedTime": at,
            "readStatus": "Unread",
            "direction": "Inbound",
            "availability": "Alive",
            "subject": sms.text,
            "messageStatus": "Received",
        },
    });
    post(
        endpoint,
        "application/json; charset=UTF-8",
        body.to_string(),
    )
}

/// RingCentral's High Volume (A2P) opt-out notification: its own opt-out service turned on
/// (`opted_out`) or off for the pair (the business, `person`), with no message text.
pub fn ringcentral_a2p(
    endpoint: &Endpoint,
    person: &str,
    notification_id: &str,
    opted_out: bool,
) -> IncomingWebhook {
    let body = json!({
        "uuid": notification_id,
        "event": "/restapi/v1.0/account/11111111/a2p-sms/opt-outs",
        "timestamp": rfc3339(Utc::now()),
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "body": {"from": BUSINESS, "to": person, "active": opted_out},
    });
    post(
        endpoint,
        "application/json; charset=UTF-8",
        body.to_string(),
    )
}

/// RingCentral's subscription-creation handshake: a one-off `Validation-Token` and no body.
pub fn ringcentral_validation(endpoint: &Endpoint, validation_token: &str) -> IncomingWebhook {
    let mut request = post(endpoint, "application/json", "");
    set(&mut request, "validation-token", validation_token);
    request
}

/// Sinch's SMS REST API `mo_text` callback; Sinch writes numbers without the `+`.
pub fn sinch_sms(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let body = json!({
        "type": "mo_text",
        "id": sms.message_id,
        "from": bare(&sms.from),
        "to": bare(&sms.to),
        "body": sms.text,
        "received_at": rfc3339(sms.at),
        "operator_id": "311071",
    });
    post(endpoint, "application/json", body.to_string())
}

/// Sinch's Conversation API `MESSAGE_INBOUND` callback from an SMS contact.
pub fn sinch_conversation(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let body = json!({
        "app_id": "01EB37HMH1M6SV18ASNS3G135H",
        "accepted_time": rfc3339(sms.at),
        "project_id": "c36f3d3d-1513-4edd-ae42-11995557ff61",
        "message": {
            "id": sms.message_id,
            "direction": "TO_APP",
            "contact_message": {"text_message": {"text": sms.text}},
            "channel_identity": {"channel": "SMS", "identity": bare(&sms.from), "app_id": ""},
            "conversation_id": "01EQBC1A3BEK731GY4YXEN0C2S",
            "contact_id": "01EQBC1A3BEK731GY4YXEN0C2T",
            "accept_time": rfc3339(sms.at),
            "sender_id": bare(&sms.to),
            "processing_mode": "CONVERSATION",
        },
    });
    post(endpoint, "application/json", body.to_string())
}

/// Vonage's SMS API inbound message as a JSON POST; [`sign`] adds `timestamp`, `nonce` and
/// `sig`, which only signed webhooks carry.
pub fn vonage_sms(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let keyword = sms
        .text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_uppercase();
    let body = json!({
        "msisdn": bare(&sms.from),
        "to": bare(&sms.to),
        "messageId": sms.message_id,
        "text": sms.text,
        "type": "text",
        "keyword": keyword,
        "api-key": "abcd1234",
        "message-timestamp": sms.at.format("%Y-%m-%d %H:%M:%S").to_string(),
    });
    post(endpoint, "application/json", body.to_string())
}

/// Vonage's Messages API inbound SMS.
pub fn vonage_messages(endpoint: &Endpoint, sms: &Sms) -> IncomingWebhook {
    let body = json!({
        "channel": "sms",
        "message_uuid": sms.message_id,
        "to": bare(&sms.to),
        "from": bare(&sms.from),
        "timestamp": sms.at.to_rfc3339_opts(SecondsFormat::Secs, true),
        "text": sms.text,
        "sms": {"num_messages": "1"},
        "message_type": "text",
    });
    post(endpoint, "application/json", body.to_string())
}

/// Amazon SNS's `Notification` envelope of End User Messaging's two-way SMS payload, published
/// by `topic` (`messageKeyword` is the keyword End User Messaging matched, if any). It carries
/// its `SignatureVersion` and `SigningCertURL` ([`sns::CERT_URL`]) but no `Signature` yet.
pub fn aws(endpoint: &Endpoint, sms: &Sms, topic: &str) -> IncomingWebhook {
    let mut payload: Value =
        serde_json::from_str(&sns::sms(&sms.from, &sms.to, &sms.text, &sms.message_id))
            .expect("two-way SMS payload");
    payload["messageKeyword"] = providers_keyword(&sms.text).unwrap_or_default().into();
    let signed = sns::notification(
        topic,
        &payload.to_string(),
        &format!("sns-{}", sms.message_id),
        sms.at,
    );
    let mut envelope: Map<String, Value> = serde_json::from_str(&signed).expect("SNS envelope");
    envelope.remove("Signature");
    post(
        endpoint,
        SNS_CONTENT_TYPE,
        serde_json::to_string_pretty(&envelope).expect("SNS envelope"),
    )
}

/// Proves `request` as the provider does at `at`, with `proof`'s secret: sets the headers (or,
/// for Vonage's SMS API and Amazon SNS, the body fields) that carry the proof, replacing any
/// earlier ones. A nonce the request already carries is kept, so signing a sample event again
/// at its own time reproduces it.
pub fn sign(request: &mut IncomingWebhook, proof: &Proof, at: DateTime<Utc>) {
    match proof {
        Proof::Twilio { auth_token } => {
            let signature = twilio::sign(auth_token, &request.url, &request.body);
            set(request, "x-twilio-signature", &signature);
        }
        Proof::Telnyx { seed } => {
            let timestamp = at.timestamp().to_string();
            let signature = telnyx::sign(seed, &timestamp, &request.body);
            set(request, "telnyx-timestamp", &timestamp);
            set(request, "telnyx-signature-ed25519", &signature);
        }
        Proof::Basic { username, password } => {
            set(
                request,
                "authorization",
                &bandwidth::authorization(username, password),
            );
        }
        Proof::Plivo { auth_token } => {
            let nonce = header_or_new(request, "x-plivo-signature-v3-nonce");
            let (method, url) = (request.method.clone(), request.url.clone());
            let v3 = plivo::sign_v3(auth_token, &method, &url, &request.body, &nonce);
            let v2 = plivo::sign_v2(auth_token, &url, &nonce);
            // Signatures made with the main account's token would still verify: drop them.
            for name in ["x-plivo-signature-ma-v3", "x-plivo-signature-ma-v2"] {
                request.headers.remove(name);
            }
            set(request, "x-plivo-signature-v3", &v3);
            set(request, "x-plivo-signature-v3-nonce", &nonce);
            set(request, "x-plivo-signature-v2", &v2);
            set(request, "x-plivo-signature-v2-nonce", &nonce);
        }
        Proof::Ringcentral { verification_token } => {
            set(request, "verification-token", verification_token);
        }
        Proof::SinchHmac { webhook_secret } => {
            let nonce = header_or_new(request, "x-sinch-webhook-signature-nonce");
            let signature = sinch::sign(webhook_secret, &request.body, &nonce, at.timestamp());
            set(request, "x-sinch-webhook-signature", &signature);
            set(request, "x-sinch-webhook-signature-nonce", &nonce);
            let timestamp = at.timestamp().to_string();
            set(request, "x-sinch-webhook-signature-timestamp", &timestamp);
            set(request, "x-sinch-webhook-signature-algorithm", "HmacSHA256");
        }
        Proof::VonageSig {
            signature_secret,
            signature_method,
        } => {
            let mut params: Map<String, Value> =
                serde_json::from_slice(&request.body).expect("Vonage SMS API JSON parameters");
            params.remove("sig");
            params.insert("timestamp".into(), at.timestamp().to_string().into());
            params
                .entry("nonce")
                .or_insert_with(|| ulid::Ulid::new().to_string().into());
            let pairs: Vec<(&str, &str)> = params
                .iter()
                .map(|(name, value)| (name.as_str(), value.as_str().expect("a string parameter")))
                .collect();
            let sig = vonage::sign_sms(signature_secret, signature_method, &pairs)
                .expect("a Vonage signature_method");
            params.insert("sig".into(), sig.into());
            request.body = Value::Object(params).to_string().into_bytes();
        }
        Proof::VonageJwt { signature_secret } => {
            let jti = ulid::Ulid::new().to_string();
            let authorization = vonage::messages_authorization(
                signature_secret,
                &request.body,
                at.timestamp(),
                &jti,
            );
            set(request, "authorization", &authorization);
        }
        Proof::Sns { genuine } => {
            let mut envelope: Map<String, Value> =
                serde_json::from_slice(&request.body).expect("SNS envelope");
            envelope.remove("Signature");
            // SNS signs the time it published the message.
            envelope.insert("Timestamp".into(), rfc3339(at).into());
            let version = envelope
                .get("SignatureVersion")
                .and_then(Value::as_str)
                .unwrap_or("2")
                .to_string();
            let signed = sns::signed(envelope, &version);
            request.body = if *genuine {
                signed.into_bytes()
            } else {
                let mut envelope: Map<String, Value> =
                    serde_json::from_str(&signed).expect("SNS envelope");
                let stolen = sns::sign(b"another message the key signed", &version);
                envelope.insert("Signature".into(), BASE64.encode(stolen).into());
                serde_json::to_vec_pretty(&envelope).expect("SNS envelope")
            };
        }
    }
}

/// STOP, START or HELP when `text` is exactly that word: the single-word match the providers
/// that report their own verdict (Twilio, Telnyx, AWS) make.
fn providers_keyword(text: &str) -> Option<&'static str> {
    ["STOP", "START", "HELP"]
        .into_iter()
        .find(|keyword| text.trim().eq_ignore_ascii_case(keyword))
}

/// A number as Plivo, Sinch and Vonage write it: international digits without the `+`.
fn bare(number: &str) -> &str {
    number.strip_prefix('+').unwrap_or(number)
}

fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn set(request: &mut IncomingWebhook, name: &'static str, value: &str) {
    request.headers.insert(
        name,
        http::HeaderValue::from_str(value).expect("header value"),
    );
}

fn header_or_new(request: &IncomingWebhook, name: &str) -> String {
    request
        .headers
        .get(name)
        .and_then(|value| value.to_str().ok())
        .map_or_else(|| ulid::Ulid::new().to_string(), str::to_string)
}
