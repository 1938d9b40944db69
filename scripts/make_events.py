#!/usr/bin/env python3
"""Writes the API Gateway HTTP API (v2) sample events in events/, signing the Twilio webhooks
exactly as Twilio does (HMAC-SHA1 over the URL and the sorted form parameters).

The events double as test fixtures (functions/*/tests) and as `cargo lambda invoke
--data-file` inputs. They are signed for:
    PUBLIC_BASE_URL = https://api.stopgate.example
    tenant          = events-demo
    auth_token      = stopgate-example-auth-token
Run `make events` (or `.venv/bin/python scripts/make_events.py`) after changing anything here or
in the other generators; commit the result. It writes these events, then runs every other
generator, scripts/events_*.py (in name order), which write the rest of events/, e.g.:
    scripts/events_telnyx_bandwidth_plivo.py   Telnyx, Bandwidth and Plivo (standard library)
    scripts/events_ringcentral_sinch_vonage.py RingCentral, Sinch and Vonage (standard library)
    scripts/events_aws.py                      AWS End User Messaging over SNS (needs `cryptography`,
                                               which requirements-dev.txt puts into .venv)
A new generator only has to be named scripts/events_<what>.py and write when run as __main__.
Every generator is deterministic: fixed times, ids and keys (the SNS test key and certificate are
committed and reused), so regenerating changes nothing unless a generator changed.
`--twilio-only` writes this file's events alone (standard library only).
"""
import base64
import hashlib
import hmac
import json
import os
import pathlib
import runpy
import sys
import urllib.parse

BASE = "https://api.stopgate.example"
TENANT = "events-demo"
TOKEN = "stopgate-example-auth-token"
PERSON = "+14155550142"
BUSINESS = "+14155550100"
OUT = pathlib.Path(__file__).resolve().parent.parent / "events"


def twilio_signature(url, params):
    signed = url + "".join(k + v for k, v in sorted(params))
    return base64.b64encode(hmac.new(TOKEN.encode(), signed.encode(), hashlib.sha1).digest()).decode()


def http_event(method, path, headers, body, route_key, path_parameters=None):
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "",
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "example",
            "domainName": "api.stopgate.example",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.10", "userAgent": headers.get("user-agent", "")},
            "requestId": "example-request",
            "routeKey": route_key,
            "stage": "$default",
            "time": "28/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795867200000,
        },
        "pathParameters": path_parameters or {},
        "body": body,
        "isBase64Encoded": False,
    }


def twilio_params(text, sid, person=PERSON):
    params = [
        ("ToCountry", "US"), ("SmsMessageSid", sid), ("NumMedia", "0"), ("FromCountry", "US"),
        ("SmsSid", sid), ("Body", text), ("To", BUSINESS), ("NumSegments", "1"), ("MessageSid", sid),
        ("AccountSid", "AC00000000000000000000000000000000"), ("From", person), ("ApiVersion", "2010-04-01"),
    ]
    if text.upper() in ("STOP", "START", "HELP"):
        params.append(("OptOutType", text.upper()))
    return params


def captured(name):
    """An SQS event as Lambda delivers the capture queue to the replay function: one webhook
    verified at arrival, one captured unverified (storage was down) and one unreadable body."""
    path = f"/v1/webhooks/twilio/{TENANT}"
    records = []
    for i, (text, sid, verified, person) in enumerate([
        ("STOP", "SM00000000000000000000000replay0001", True, "+14155550143"),
        ("STOP please", "SM00000000000000000000000replay0002", False, "+14155550144"),
    ]):
        params = twilio_params(text, sid, person)
        body = urllib.parse.urlencode(params)
        webhook = {
            "tenant": TENANT, "provider": "twilio", "method": "POST", "url": BASE + path,
            "headers": [["content-type", "application/x-www-form-urlencoded"], ["x-twilio-signature", twilio_signature(BASE + path, params)]],
            "body_base64": base64.b64encode(body.encode()).decode(),
            "received_at": "2026-11-28T12:00:00Z", "verified": verified,
            "reason": "ledger over latency budget" if verified else "tenant unavailable",
        }
        records.append(sqs_record(f"00000000-0000-4000-8000-00000000000{i}", json.dumps(webhook)))
    records.append(sqs_record("00000000-0000-4000-8000-000000000009", "not a captured webhook"))
    (OUT / f"{name}.json").write_text(json.dumps({"Records": records}, indent=2) + "\n")


def sqs_record(message_id, body):
    return {
        "messageId": message_id, "receiptHandle": "example-receipt-handle", "body": body,
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1795867200000", "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1795867200001"},
        "messageAttributes": {}, "md5OfBody": hashlib.md5(body.encode()).hexdigest(), "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stopgate-capture", "awsRegion": "us-east-1",
    }


def twilio(name, text, sid, forged=False):
    path = f"/v1/webhooks/twilio/{TENANT}"
    params = twilio_params(text, sid)
    signature = twilio_signature(BASE + path, params)
    if forged:
        signature = base64.b64encode(b"a forged signature!!").decode()
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "host": "api.stopgate.example",
        "user-agent": "TwilioProxy/1.1",
        "x-twilio-signature": signature,
    }
    event = http_event("POST", path, headers, urllib.parse.urlencode(params), "POST /v1/webhooks/{provider}/{tenant}",
                       {"provider": "twilio", "tenant": TENANT})
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def check(name, category, key="sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create", **extra):
    body = {"from": BUSINESS, "to": "(415) 555-0142", "category": category, **extra}
    headers = {"content-type": "application/json", "host": "api.stopgate.example", "authorization": f"Bearer {key}"}
    event = http_event("POST", "/v1/check", headers, json.dumps(body), "POST /v1/check")
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


# The generators that write the rest of events/, run after this file's own events.
GENERATORS = sorted(p.name for p in pathlib.Path(__file__).resolve().parent.glob("events_*.py"))


def ensure_cryptography():
    """events_aws.py signs with `cryptography`: re-run under the repository's .venv if this
    Python lacks it (`python3 scripts/make_events.py` then works as well as `make events`)."""
    try:
        import cryptography  # noqa: F401
    except ImportError:
        venv_python = pathlib.Path(__file__).resolve().parent.parent / ".venv" / "bin" / "python"
        if venv_python.exists() and not os.environ.get("MAKE_EVENTS_IN_VENV"):
            os.environ["MAKE_EVENTS_IN_VENV"] = "1"
            os.execv(str(venv_python), [str(venv_python), *sys.argv])
        sys.exit("make_events.py: scripts/events_aws.py needs the Python package `cryptography`: "
                 "run `make events` (it installs .venv), or pass --twilio-only")


def twilio_and_checks():
    OUT.mkdir(exist_ok=True)
    twilio("twilio-stop", "STOP", "SM0000000000000000000000000000stop")
    twilio("twilio-start", "START", "SM000000000000000000000000000start")
    twilio("twilio-help", "HELP", "SM0000000000000000000000000000help")
    twilio("twilio-plain", "Is my order ready?", "SM000000000000000000000000000plain")
    twilio("twilio-forged", "START", "SM00000000000000000000000000forged", forged=True)
    check("check-conversational", "conversational")
    check("check-promotional", "promotional", program="weekly-deals")
    check("check-invalid-phone", "promotional")
    captured("replay-captured")
    bad = json.loads((OUT / "check-invalid-phone.json").read_text())
    body = json.loads(bad["body"])
    body["to"] = "555-CALL-NOW"
    bad["body"] = json.dumps(body)
    (OUT / "check-invalid-phone.json").write_text(json.dumps(bad, indent=2) + "\n")
    print("wrote the Twilio, check and replay events")


if __name__ == "__main__":
    only_twilio = sys.argv[1:] == ["--twilio-only"]
    if sys.argv[1:] and not only_twilio:
        sys.exit("usage: make_events.py [--twilio-only]")
    if not only_twilio:
        ensure_cryptography()
    twilio_and_checks()
    if not only_twilio:
        here = pathlib.Path(__file__).resolve().parent
        sys.path.insert(0, str(here))
        for generator in GENERATORS:
            runpy.run_path(str(here / generator), run_name="__main__")
    print(f"events/ now holds {len(list(OUT.glob('*.json')))} events")
