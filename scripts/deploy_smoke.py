#!/usr/bin/env python3
"""`make deploy-smoke`: a deployed stack, end to end, over its public URL only.

Needs no AWS credentials: it talks to the stack as a provider and as an API client do.

  1. a STOP from a fictional number, as Twilio's signed "A message comes in" webhook, to
     BASE/v1/webhooks/twilio/TENANT: must be answered 200;
  2. POST /v1/check, promotional, from the sender the STOP was sent to, to that number: must be
     denied (allowed false, reason opted_out);
  3. POST /v1/numbers/history for that number: must show the opt-out, with the webhook's
     message id.

Environment (make passes its command-line variables in the environment, so none of these
appears in this script's arguments):
  BASE               the stack's PUBLIC_BASE_URL (the ApiUrl output, or the custom domain):
                     Twilio signs the URL it calls, so this must be exactly what the stack
                     verifies against
  KEY                an API key of TENANT with scopes check and consents:write (or
                     STOPGATE_KEY, so that it need not be on make's command line)
  TENANT             the tenant the webhook is for (the key's tenant)
  TWILIO_AUTH_TOKEN  the tenant's Twilio auth token, as set with `stopgate provider set
                     TENANT twilio`. Only ever read from the environment.
  PHONE              optional: the number that texts STOP (default: a random one of the fictional
                     +1 415 555 0100..0199, so no real person is opted out)
  SENDER             optional: the business number it texts (default +14155550199, fictional)

Exit status 0 when every step passed, 1 when one failed (the step, the HTTP status and the
answer are printed; never the key or the token), 2 when the environment is incomplete.
"""

import base64
import hashlib
import hmac
import json
import os
import secrets
import sys
import urllib.error
import urllib.parse
import urllib.request

TIMEOUT = 30


class Failed(Exception):
    pass


def twilio_signature(auth_token, url, params):
    """Twilio's X-Twilio-Signature: base64 HMAC-SHA1 of the URL and the sorted form fields."""
    data = url + "".join(name + value for name, value in sorted(params.items()))
    mac = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(mac).decode()


def request(method, url, body, headers):
    req = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        raise Failed(f"{method} {url}: {e}") from None


def api(base, key, path, payload):
    status, text = request(
        "POST",
        base + path,
        json.dumps(payload).encode(),
        {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    try:
        answer = json.loads(text)
    except ValueError:
        answer = text
    if status != 200:
        raise Failed(f"POST {path}: HTTP {status}: {text[:500]}")
    return answer


def main():
    env = os.environ
    base = env.get("BASE", "").rstrip("/")
    key = env.get("KEY") or env.get("STOPGATE_KEY", "")
    tenant = env.get("TENANT", "")
    token = env.get("TWILIO_AUTH_TOKEN", "")
    missing = [
        name
        for name, value in [
            ("BASE", base),
            ("KEY (or STOPGATE_KEY)", key),
            ("TENANT", tenant),
            ("TWILIO_AUTH_TOKEN", token),
        ]
        if not value
    ]
    if missing:
        print(
            "deploy-smoke: missing " + ", ".join(missing) + "\n"
            "usage: TWILIO_AUTH_TOKEN=... make deploy-smoke BASE=<url> KEY=<key> TENANT=<tenant>",
            file=sys.stderr,
        )
        return 2
    if not base.startswith(("https://", "http://")):
        print("deploy-smoke: BASE must be an http(s) URL", file=sys.stderr)
        return 2
    phone = env.get("PHONE") or "+1415555%04d" % (100 + secrets.randbelow(100))
    sender = env.get("SENDER") or "+14155550199"
    message_id = "SM" + secrets.token_hex(16)

    def step(name):
        print(f"deploy-smoke: {name}", file=sys.stderr)

    try:
        # 1. The STOP, signed as Twilio signs it, against the URL the stack verifies.
        path = "/v1/webhooks/twilio/" + urllib.parse.quote(tenant, safe="")
        url = base + path
        form = {
            "MessageSid": message_id,
            "SmsMessageSid": message_id,
            "AccountSid": "AC" + "0" * 32,
            "From": phone,
            "To": sender,
            "Body": "STOP",
            "NumMedia": "0",
        }
        step(f"STOP from {phone[:-4]}**** to {sender} as Twilio message {message_id}")
        status, text = request(
            "POST",
            url,
            urllib.parse.urlencode(form).encode(),
            {
                "Content-Type": "application/x-www-form-urlencoded",
                "X-Twilio-Signature": twilio_signature(token, url, form),
            },
        )
        if status != 200:
            hint = ""
            if status == 401:
                hint = (
                    " (signature refused: is BASE exactly the stack's PUBLIC_BASE_URL, and "
                    "TWILIO_AUTH_TOKEN the tenant's? The request is in the tenant's quarantine)"
                )
            raise Failed(f"POST {path}: HTTP {status}{hint}: {text[:500]}")

        # 2. The check now denies.
        step("check: promotional, must be denied as opted_out")
        answer = api(
            base,
            key,
            "/v1/check",
            {"from": sender, "to": phone, "category": "promotional"},
        )
        if not isinstance(answer, dict) or answer.get("allowed") is not False:
            raise Failed(f"POST /v1/check: not denied: {json.dumps(answer)[:500]}")
        if answer.get("reason") != "opted_out":
            raise Failed(f"POST /v1/check: reason is not opted_out: {json.dumps(answer)[:500]}")

        # 3. The history shows this STOP.
        step("history: must show the opt-out")
        answer = api(base, key, "/v1/numbers/history", {"phone": phone})
        events = answer.get("events", []) if isinstance(answer, dict) else []
        ours = [
            e
            for e in events
            if e.get("kind") == "opt_out"
            and (e.get("origin") or {}).get("provider_message_id") == message_id
        ]
        if not ours:
            kinds = [e.get("kind") for e in events]
            raise Failed(f"POST /v1/numbers/history: no opt_out for {message_id} (kinds: {kinds})")
    except Failed as e:
        print(f"deploy-smoke: FAILED: {e}", file=sys.stderr)
        return 1
    print(
        json.dumps(
            {
                "ok": True,
                "base": base,
                "tenant": tenant,
                "message_id": message_id,
                "event_id": ours[0].get("event_id"),
            }
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
