#!/usr/bin/env python3
"""Writes the API Gateway HTTP API (v2) sample events for Telnyx, Bandwidth and Plivo in events/,
signed or authenticated exactly as each provider does:

    events/telnyx-{stop,start,help,plain,forged}.json     Ed25519 over "{telnyx-timestamp}|{body}"
    events/bandwidth-{stop,start,help,plain,forged}.json  HTTP Basic callback credentials
    events/plivo-{stop,start,help,plain,forged}.json      X-Plivo-Signature-V3 (and V2) headers

Like make_events.py's (whose http_event shape they reuse), they double as test fixtures
(functions/inbound/tests/events.rs) and `cargo lambda invoke --data-file` inputs, made for:
    PUBLIC_BASE_URL = https://api.stopgate.example
    tenant          = events-demo
    business number = +14155550100
    person          = +14155550145 (telnyx), +14155550146 (bandwidth), +14155550147 (plivo)
with these deterministic secrets (`echo NAME=VALUE | stopgate provider set events-demo <provider>`):
    telnyx     public_key = IUTAGsFMewmY3eYR3CQ8BxKHdahtD8SoOthbNeSTAFk=
               (the Ed25519 key whose 32-byte private seed is the ASCII string
               "stopgate-example-telnyx-seed-001")
    bandwidth  username   = stopgate-example
               password   = stopgate-example-bandwidth-password
    plivo      auth_token = stopgate-example-plivo-auth-token
The *-forged events are signed with the wrong secret: the Telnyx key seeded with
"stopgate-example-forger-seed-001", the Bandwidth password "not-the-password" and the Plivo
token "not-the-auth-token".

Telnyx's signature covers its timestamp (telnyx-timestamp, here the event's own time on
2026-11-28) and Stopgate refuses one more than 300 s from its clock, so the Telnyx events are
stale replays by the time anyone sends them. They keep the real shape: the integration test
re-signs each body with a fresh timestamp using the same seed, and sends the event as written
to check that a replay is refused.

Run `python3 scripts/events_telnyx_bandwidth_plivo.py` after changing anything here; commit the
result. It needs only the standard library: Ed25519 signing is written out below from RFC 8032.
"""
import base64
import datetime
import hashlib
import hmac
import json
import pathlib
import sys
import urllib.parse
import uuid

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_events import BASE, BUSINESS, OUT, TENANT, http_event  # noqa: E402

PERSONS = {"telnyx": "+14155550145", "bandwidth": "+14155550146", "plivo": "+14155550147"}
TELNYX_SEED = b"stopgate-example-telnyx-seed-001"
TELNYX_FORGER_SEED = b"stopgate-example-forger-seed-001"
BANDWIDTH_USERNAME = "stopgate-example"
BANDWIDTH_PASSWORD = "stopgate-example-bandwidth-password"
PLIVO_AUTH_TOKEN = "stopgate-example-plivo-auth-token"
ROUTE_KEY = "POST /v1/webhooks/{provider}/{tenant}"

# name -> (text, seconds after 2026-11-28T12:00:00Z). The START comes more than two minutes
# after the STOP, so it lifts it even for a receipt-stamped provider.
EVENTS = {
    "plain": ("Is my order ready?", 0),
    "stop": ("STOP", 60),
    "start": ("START", 240),
    "help": ("HELP", 300),
    "forged": ("START", 360),
}
T0 = datetime.datetime(2026, 11, 28, 12, 0, 0, tzinfo=datetime.timezone.utc)


# --- Ed25519 (RFC 8032 section 5.1), signing only -------------------------------------------
_P = 2**255 - 19
_L = 2**252 + 27742317777372353535851937790883648493
_D = -121665 * pow(121666, _P - 2, _P) % _P
_SQRT_M1 = pow(2, (_P - 1) // 4, _P)


def _x_from_y(y, sign):
    x2 = (y * y - 1) * pow(_D * y * y + 1, _P - 2, _P) % _P
    x = pow(x2, (_P + 3) // 8, _P)
    if (x * x - x2) % _P:
        x = x * _SQRT_M1 % _P
    if x % 2 != sign:
        x = _P - x
    return x


_BY = 4 * pow(5, _P - 2, _P) % _P
_BX = _x_from_y(_BY, 0)
_B = (_BX, _BY, 1, _BX * _BY % _P)  # extended coordinates (X, Y, Z, T)


def _add(p, q):
    a = (p[1] - p[0]) * (q[1] - q[0]) % _P
    b = (p[1] + p[0]) * (q[1] + q[0]) % _P
    c = 2 * p[3] * q[3] * _D % _P
    d = 2 * p[2] * q[2] % _P
    e, f, g, h = b - a, d - c, d + c, b + a
    return (e * f % _P, g * h % _P, f * g % _P, e * h % _P)


def _mul(scalar, point):
    result = (0, 1, 1, 0)
    while scalar:
        if scalar & 1:
            result = _add(result, point)
        point = _add(point, point)
        scalar >>= 1
    return result


def _encode(point):
    z_inv = pow(point[2], _P - 2, _P)
    x, y = point[0] * z_inv % _P, point[1] * z_inv % _P
    return (y | (x & 1) << 255).to_bytes(32, "little")


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a = (a & ((1 << 254) - 8)) | (1 << 254)
    return a, h[32:]


def ed25519_public_key(seed):
    a, _ = _expand(seed)
    return _encode(_mul(a, _B))


def ed25519_sign(seed, message):
    a, prefix = _expand(seed)
    public = _encode(_mul(a, _B))
    r = int.from_bytes(hashlib.sha512(prefix + message).digest(), "little") % _L
    big_r = _encode(_mul(r, _B))
    k = int.from_bytes(hashlib.sha512(big_r + public + message).digest(), "little") % _L
    return big_r + ((r + k * a) % _L).to_bytes(32, "little")


def _check_ed25519():
    """RFC 8032 section 7.1, TEST 2, so that a slip above cannot produce plausible garbage."""
    seed = bytes.fromhex("4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb")
    assert ed25519_public_key(seed).hex() == "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c"
    assert ed25519_sign(seed, b"\x72").hex() == (
        "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
        "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"
    )


# --- providers -------------------------------------------------------------------------------
def b64(data):
    return base64.b64encode(data).decode()


def rfc3339(at):
    return at.isoformat(timespec="milliseconds")


def stable_uuid(provider, name, kind):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://api.stopgate.example/events/{provider}/{name}/{kind}"))


def write(provider, name, headers, body):
    path = f"/v1/webhooks/{provider}/{TENANT}"
    event = http_event("POST", path, headers, body, ROUTE_KEY, {"provider": provider, "tenant": TENANT})
    (OUT / f"{provider}-{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def telnyx(name):
    text, offset = EVENTS[name]
    at = T0 + datetime.timedelta(seconds=offset)
    url = f"{BASE}/v1/webhooks/telnyx/{TENANT}"
    payload = {
        "cc": [], "cost": None, "direction": "inbound", "encoding": "GSM-7", "errors": [],
        "from": {"carrier": "T-Mobile USA, Inc.", "line_type": "Wireless", "phone_number": PERSONS["telnyx"]},
        "id": stable_uuid("telnyx", name, "message"), "media": [],
        "messaging_profile_id": stable_uuid("telnyx", "profile", "messaging-profile"),
        "organization_id": stable_uuid("telnyx", "organization", "organization"),
        "parts": 1, "received_at": rfc3339(at), "record_type": "message", "sent_at": None, "tags": [],
        "text": text,
        "to": [{"carrier": "Telnyx", "line_type": "Wireless", "phone_number": BUSINESS, "status": "webhook_delivered"}],
        "type": "SMS", "valid_until": None, "webhook_failover_url": None, "webhook_url": url,
    }
    if text in ("STOP", "START", "HELP"):
        # Present when Telnyx's own keyword handling (Advanced Opt-In/Out) answered the text.
        payload["autoresponse_type"] = text.lower()
    body = json.dumps({
        "data": {"event_type": "message.received", "id": stable_uuid("telnyx", name, "event"),
                 "occurred_at": rfc3339(at), "payload": payload, "record_type": "event"},
        "meta": {"attempt": 1, "delivered_to": url},
    }, separators=(",", ":"))
    timestamp = str(int(at.timestamp()))
    seed = TELNYX_FORGER_SEED if name == "forged" else TELNYX_SEED
    signature = ed25519_sign(seed, f"{timestamp}|{body}".encode())
    headers = {
        "content-type": "application/json",
        "host": "api.stopgate.example",
        "telnyx-signature-ed25519": b64(signature),
        "telnyx-timestamp": timestamp,
    }
    write("telnyx", name, headers, body)


def bandwidth(name):
    text, offset = EVENTS[name]
    at = rfc3339(T0 + datetime.timedelta(seconds=offset))
    body = json.dumps([{
        "type": "message-received", "time": at, "description": "Incoming message received", "to": BUSINESS,
        "message": {
            "id": f"{int(T0.timestamp()) + offset}000stopgate{name}", "owner": BUSINESS,
            "applicationId": stable_uuid("bandwidth", "application", "application"), "time": at,
            "segmentCount": 1, "direction": "in", "to": [BUSINESS], "from": PERSONS["bandwidth"],
            "text": text, "media": [], "tag": None,
        },
    }], separators=(",", ":"))
    password = "not-the-password" if name == "forged" else BANDWIDTH_PASSWORD
    headers = {
        "authorization": "Basic " + b64(f"{BANDWIDTH_USERNAME}:{password}".encode()),
        "content-type": "application/json; charset=utf-8",
        "host": "api.stopgate.example",
    }
    write("bandwidth", name, headers, body)


def plivo_v3(token, url, params, nonce):
    """plivo-python's validate_v3_signature for a POST (plivo/utils/signature_v3.py): the URL
    without its query, "?", the sorted query, "." if there were both, the form parameters as
    name+value sorted by name, then "." and the nonce."""
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    query = "&".join(f"{k}={v}" for k, v in sorted(urllib.parse.parse_qsl(parts.query, keep_blank_values=True)))
    signed = base
    if query or params:
        signed += "?" + query
    if query and params:
        signed += "."
    signed += "".join(k + v for k, v in sorted(params))
    return b64(hmac.new(token.encode(), f"{signed}.{nonce}".encode(), hashlib.sha256).digest())


def plivo_v2(token, url, nonce):
    parts = urllib.parse.urlsplit(url)
    base = f"{parts.scheme}://{parts.netloc}{parts.path}"
    return b64(hmac.new(token.encode(), f"{base}{nonce}".encode(), hashlib.sha256).digest())


def plivo(name):
    text, offset = EVENTS[name]
    url = f"{BASE}/v1/webhooks/plivo/{TENANT}"
    # Plivo writes numbers without the "+".
    params = [
        ("From", PERSONS["plivo"].lstrip("+")), ("To", BUSINESS.lstrip("+")), ("Type", "sms"),
        ("Text", text), ("MessageUUID", stable_uuid("plivo", name, "message")),
    ]
    token = "not-the-auth-token" if name == "forged" else PLIVO_AUTH_TOKEN
    nonce = f"{int(T0.timestamp()) + offset:020d}"
    # The demo token is a main account's, so the -Ma- signatures equal the plain ones.
    v3 = plivo_v3(token, url, params, nonce)
    v2 = plivo_v2(token, url, nonce)
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "host": "api.stopgate.example",
        "x-plivo-signature-ma-v2": v2,
        "x-plivo-signature-ma-v3": v3,
        "x-plivo-signature-v2": v2,
        "x-plivo-signature-v2-nonce": nonce,
        "x-plivo-signature-v3": v3,
        "x-plivo-signature-v3-nonce": nonce,
    }
    write("plivo", name, headers, urllib.parse.urlencode(params))


if __name__ == "__main__":
    _check_ed25519()
    OUT.mkdir(exist_ok=True)
    for name in EVENTS:
        telnyx(name)
        bandwidth(name)
        plivo(name)
    print(f"wrote {3 * len(EVENTS)} events to {OUT}; telnyx public_key = {b64(ed25519_public_key(TELNYX_SEED))}")
