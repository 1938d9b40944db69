#!/usr/bin/env python3
"""Writes the RingCentral, Sinch and Vonage sample events in events/ (API Gateway HTTP API v2
events), authenticated exactly as each provider does it:

    ringcentral-{stop,start,help,plain,forged}.json   instant-SMS notifications carrying the
                                                      subscription's Verification-Token
    ringcentral-validation.json                       the subscription-creation handshake
    ringcentral-a2p-optout.json                       a High Volume SMS opt-out notification
    sinch-{stop,help}.json                            SMS REST mo_text, HTTP Basic
    sinch-{start,plain}.json                          Conversation API MESSAGE_INBOUND, HMAC
    sinch-forged.json                                 Conversation API, signed with a wrong secret
    vonage-{stop,start,help}.json                     SMS API JSON POST, `sig` (HMAC-SHA256)
    vonage-plain.json                                 Messages API, Bearer JWT (HS256)
    vonage-forged.json                                SMS API, `sig` made with a wrong secret

for

    PUBLIC_BASE_URL  = https://api.stopgate.example
    tenant           = events-demo   (paths /v1/webhooks/<provider>/events-demo)
    persons          = +14155550148 (RingCentral), +14155550149 (Sinch), +14155550150 (Vonage)
    business         = +14155550100
    ringcentral      verification_token = stopgate-example-ringcentral-verification-token
    sinch            username = stopgate-example-sinch-user
                     password = stopgate-example-sinch-password
                     webhook_secret = stopgate-example-sinch-webhook-secret
    vonage           signature_secret = stopgate-example-vonage-signature-secret
                     signature_method = sha256

Sinch signatures and Vonage's SMS `timestamp` and JWT `iat` are dated 2026-11-28T12:00:00Z
(SIGNED_AT), and Stopgate refuses them five minutes after that: replayed as they are, the
Sinch Conversation and Vonage events are rejected as stale. functions/inbound/tests/events.rs
therefore re-signs them with the time of the run (the same secrets, through
stopgate::testing::webhooks::sign) after proving that the stale copy is refused; `cargo lambda invoke` with these files shows that
refusal. RingCentral's token and Sinch's Basic credentials carry no time and never go stale.

Run `python3 scripts/events_ringcentral_sinch_vonage.py` after changing anything here; commit
the result. Standard library only.
"""
import base64
import hashlib
import hmac
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_events import http_event  # noqa: E402

BASE = "https://api.stopgate.example"
TENANT = "events-demo"
BUSINESS = "+14155550100"
PERSON_RINGCENTRAL = "+14155550148"
PERSON_SINCH = "+14155550149"
PERSON_VONAGE = "+14155550150"

RINGCENTRAL_TOKEN = "stopgate-example-ringcentral-verification-token"
SINCH_USERNAME = "stopgate-example-sinch-user"
SINCH_PASSWORD = "stopgate-example-sinch-password"
SINCH_SECRET = "stopgate-example-sinch-webhook-secret"
VONAGE_SECRET = "stopgate-example-vonage-signature-secret"
VONAGE_METHOD = "sha256"

SIGNED_AT = 1795867200  # 2026-11-28T12:00:00Z, the events' requestContext.timeEpoch
ROUTE = "POST /v1/webhooks/{provider}/{tenant}"
OUT = pathlib.Path(__file__).resolve().parent.parent / "events"

# Message times per keyword: START comes five minutes after STOP, as a person would send it.
TIMES = {
    "plain": "2026-11-28T11:59:00",
    "stop": "2026-11-28T12:00:00",
    "help": "2026-11-28T12:01:00",
    "start": "2026-11-28T12:05:00",
    "forged": "2026-11-28T12:02:00",
}
TEXTS = {"plain": "Is my order ready?", "stop": "STOP", "start": "START", "help": "HELP", "forged": "STOP"}


def write(name, provider, headers, body):
    path = f"/v1/webhooks/{provider}/{TENANT}"
    headers = {"host": "api.stopgate.example", **headers}
    event = http_event("POST", path, headers, body, ROUTE, {"provider": provider, "tenant": TENANT})
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2, ensure_ascii=False) + "\n")


def compact(value):
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


# --- RingCentral ---------------------------------------------------------------------------

def ringcentral_headers(token):
    return {
        "content-type": "application/json; charset=UTF-8",
        "user-agent": "RingCentral-Webhook/8.3",
        "verification-token": token,
    }


def ringcentral_sms(kind, number):
    """An instant-SMS notification, shaped like RingCentral's sample
    (ringcentral-api-docs code-samples/events/instant-message.json)."""
    body = {
        "uuid": f"5e1c0f0c-0420-4bf5-a0ae-00000000{number:04d}",
        "event": "/restapi/v1.0/account/~/extension/823476228762/message-store/instant?type=SMS",
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "timestamp": f"{TIMES[kind]}.500Z",
        "body": {
            "id": f"60609003{number:04d}",
            "to": [{"phoneNumber": BUSINESS, "location": "San Francisco, CA"}],
            "from": {"phoneNumber": PERSON_RINGCENTRAL},
            "type": "SMS",
            "creationTime": f"{TIMES[kind]}.000Z",
            "lastModifiedTime": f"{TIMES[kind]}.000Z",
            "readStatus": "Unread",
            "priority": "Normal",
            "attachments": [{"id": f"60609003{number:04d}", "type": "Text", "contentType": "text/plain"}],
            "direction": "Inbound",
            "availability": "Alive",
            "subject": TEXTS[kind],
            "messageStatus": "Received",
            "conversationId": "7876416245344257449",
        },
    }
    token = "a-forged-verification-token" if kind == "forged" else RINGCENTRAL_TOKEN
    write(f"ringcentral-{kind}", "ringcentral", ringcentral_headers(token), compact(body))


def ringcentral_special():
    # The creation handshake: RingCentral's own one-off value and no body.
    write("ringcentral-validation", "ringcentral",
          {"content-type": "application/json", "user-agent": "RingCentral-Webhook/8.3",
           "validation-token": "3f0d6a52-6c1e-4d8a-9b7e-validation-0001"}, "")
    body = {
        "uuid": "5e1c0f0c-0420-4bf5-a0ae-a2p000000001",
        "event": "/restapi/v1.0/account/11111111/a2p-sms/opt-outs",
        "timestamp": "2026-11-28T12:00:00.000Z",
        "subscriptionId": "dc853541-66ac-45d8-a289-1a239fd72888",
        "ownerId": "823476228762",
        "body": {"from": BUSINESS, "to": PERSON_RINGCENTRAL, "active": True},
    }
    write("ringcentral-a2p-optout", "ringcentral", ringcentral_headers(RINGCENTRAL_TOKEN), compact(body))


# --- Sinch ---------------------------------------------------------------------------------

def sinch_basic(kind, number):
    """An SMS REST mo_text callback with HTTP Basic credentials."""
    body = {
        "type": "mo_text",
        "id": f"01W4FFL35P4NC4K35SMS{number:06d}",
        "from": PERSON_SINCH.lstrip("+"),
        "to": BUSINESS.lstrip("+"),
        "body": TEXTS[kind],
        "received_at": f"{TIMES[kind]}.386Z",
        "operator_id": "311071",
    }
    credentials = base64.b64encode(f"{SINCH_USERNAME}:{SINCH_PASSWORD}".encode()).decode()
    headers = {"content-type": "application/json", "authorization": f"Basic {credentials}"}
    write(f"sinch-{kind}", "sinch", headers, compact(body))


def sinch_signature(secret, body, nonce, timestamp):
    signed = body.encode() + b"." + nonce.encode() + b"." + str(timestamp).encode()
    return base64.b64encode(hmac.new(secret.encode(), signed, hashlib.sha256).digest()).decode()


def sinch_conversation(kind, number):
    """A Conversation API MESSAGE_INBOUND callback, HMAC-signed."""
    body = {
        "app_id": "01EB37HMH1M6SV18ASNS3G135H",
        "accepted_time": f"{TIMES[kind]}.120Z",
        "event_time": f"{TIMES[kind]}.000Z",
        "project_id": "c36f3d3d-1513-4edd-ae42-11995557ff61",
        "message": {
            "id": f"01EQBC1A3BEK731GY4YXE{number:05d}",
            "direction": "TO_APP",
            "contact_message": {"text_message": {"text": TEXTS[kind]}},
            "channel_identity": {"channel": "SMS", "identity": PERSON_SINCH.lstrip("+"), "app_id": ""},
            "conversation_id": "01EQBC1A3BEK731GY4YXEN0C2S",
            "contact_id": "01EQBC1A3BEK731GY4YXEN0C2T",
            "metadata": "",
            "accept_time": f"{TIMES[kind]}.100Z",
            "sender_id": BUSINESS.lstrip("+"),
            "processing_mode": "CONVERSATION",
        },
        "message_metadata": "",
        "correlation_id": "",
    }
    raw = compact(body)
    nonce = f"01JHFFHWYY7HSS4FWTMDTQ{number:04d}"
    secret = "a-forged-sinch-secret" if kind == "forged" else SINCH_SECRET
    headers = {
        "content-type": "application/json",
        "x-sinch-webhook-signature": sinch_signature(secret, raw, nonce, SIGNED_AT),
        "x-sinch-webhook-signature-nonce": nonce,
        "x-sinch-webhook-signature-timestamp": str(SIGNED_AT),
        "x-sinch-webhook-signature-algorithm": "HmacSHA256",
    }
    write(f"sinch-{kind}", "sinch", headers, raw)


# --- Vonage --------------------------------------------------------------------------------

def vonage_sig(secret, params):
    """Vonage's SMS signature (HMAC variants): `&name=value` by name, `&` and `=` in values
    made `_`, hex."""
    signed = "".join(f"&{k}={str(v).replace('&', '_').replace('=', '_')}" for k, v in sorted(params.items()))
    return hmac.new(secret.encode(), signed.encode(), VONAGE_METHOD).hexdigest()


def vonage_sms(kind, number):
    """An SMS API inbound message delivered as a JSON POST, signed."""
    params = {
        "msisdn": PERSON_VONAGE.lstrip("+"),
        "to": BUSINESS.lstrip("+"),
        "messageId": f"1000000{number:09d}",
        "text": TEXTS[kind],
        "type": "text",
        "keyword": TEXTS[kind].split()[0].upper(),
        "api-key": "abcd1234",
        "message-timestamp": TIMES[kind].replace("T", " "),
        "timestamp": str(SIGNED_AT),
        "nonce": f"aaaaaaaa-bbbb-4ccc-8ddd-{number:012d}",
    }
    secret = "a-forged-vonage-secret" if kind == "forged" else VONAGE_SECRET
    params["sig"] = vonage_sig(secret, params)
    write(f"vonage-{kind}", "vonage", {"content-type": "application/json"}, compact(params))


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def vonage_messages(kind, number):
    """A Messages API inbound SMS with its Bearer JWT (HS256, payload_hash = SHA-256 of the
    body)."""
    body = compact({
        "channel": "sms",
        "message_uuid": f"aaaaaaaa-bbbb-4ccc-8ddd-{number:012d}",
        "to": BUSINESS.lstrip("+"),
        "from": PERSON_VONAGE.lstrip("+"),
        "timestamp": f"{TIMES[kind]}Z",
        "text": TEXTS[kind],
        "sms": {"num_messages": "1"},
        "message_type": "text",
    })
    header = b64url(b'{"alg":"HS256","typ":"JWT"}')
    claims = {"iat": SIGNED_AT, "iss": "Vonage", "jti": f"jti-{number}",
              "payload_hash": hashlib.sha256(body.encode()).hexdigest()}
    signing_input = f"{header}.{b64url(compact(claims).encode())}"
    signature = b64url(hmac.new(VONAGE_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest())
    headers = {"content-type": "application/json", "authorization": f"Bearer {signing_input}.{signature}"}
    write(f"vonage-{kind}", "vonage", headers, body)


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for number, kind in enumerate(["plain", "stop", "help", "start", "forged"], start=1):
        ringcentral_sms(kind, number)
    ringcentral_special()
    for number, kind in enumerate(["stop", "help"], start=1):
        sinch_basic(kind, number)
    for number, kind in enumerate(["plain", "start", "forged"], start=1):
        sinch_conversation(kind, number)
    for number, kind in enumerate(["stop", "help", "start", "forged"], start=1):
        vonage_sms(kind, number)
    vonage_messages("plain", 5)
    written = sorted(p.name for p in OUT.glob("*.json") if p.name.split("-")[0] in ("ringcentral", "sinch", "vonage"))
    print(f"wrote {len(written)} events to {OUT}: {', '.join(written)}")
