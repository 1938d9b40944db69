#!/usr/bin/env python3
"""Writes the API Gateway HTTP API (v2) sample events of the hosted pages and of preference
links in events/: the opt-in form of tenant `events-demo` (form `join`) in Spanish, a post of it
whose page token is no longer valid (answered 403 with the form shown again, the input kept),
and `POST /v1/links`. The pages function's test (functions/pages/tests/events.rs) and the
consent function's routing test replay them; `cargo lambda invoke pages --data-file
events/pages-form.json` shows the form once `stopgate form set events-demo join ...` has run.

Deterministic (fixed times and values); `make events` runs it with the other generators.
"""
import json
import pathlib
import sys
import urllib.parse

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_events import OUT, TENANT, http_event  # noqa: E402

KEY = "sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create"
BROWSER = "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Mobile Safari/537.36"
FORM = f"/p/{TENANT}/join"


def write(name, event):
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def main():
    OUT.mkdir(exist_ok=True)
    page_headers = {"host": "api.stopgate.example", "user-agent": BROWSER, "accept": "text/html",
                    "accept-language": "es-US,es;q=0.9"}
    form = http_event("GET", FORM, page_headers, "", "GET /p/{tenant}/{form}",
                      {"tenant": TENANT, "form": "join"})
    form["rawQueryString"] = "lang=es"
    form["queryStringParameters"] = {"lang": "es"}
    write("pages-form", form)

    body = urllib.parse.urlencode([
        ("token", "1795860000.bm90LWEtdmFsaWQtdG9rZW4"), ("version", "1"), ("lang", "es"),
        ("phone", "(415) 555-0177"), ("category", "promotional"),
    ])
    post_headers = dict(page_headers, **{
        "content-type": "application/x-www-form-urlencoded", "origin": "https://api.stopgate.example",
        "cookie": "sg_page=AAAAAAAAAAAAAAAAAAAAAAAA",
    })
    write("pages-form-post-stale", http_event("POST", FORM, post_headers, body, "POST /p/{tenant}/{form}",
                                              {"tenant": TENANT, "form": "join"}))

    link_headers = {"content-type": "application/json", "host": "api.stopgate.example",
                    "authorization": f"Bearer {KEY}", "user-agent": "curl/8.5.0"}
    write("links-create", http_event("POST", "/v1/links", link_headers,
                                     json.dumps({"phone": "(415) 555-0177", "form": "join", "sent_by_sms": True}),
                                     "POST /v1/links"))
    print("wrote the hosted pages and links events")


if __name__ == "__main__":
    main()
