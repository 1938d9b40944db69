#!/usr/bin/env python3
"""Writes the API Gateway HTTP API (v2) sample events for every consent route in events/:
consents, lookup, history, the opt-out list, redaction, reviews, the audit trail, imports,
exports and notification hooks; the scheduled events the sweeper and the export function receive, and the exports queue's request
the export function receives. The consent
function's routing test (functions/consent/tests/routes.rs) replays them, and they work as
`cargo lambda invoke consent --data-file` inputs once the placeholders are replaced:

    sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create   an API key (`stopgate key create`)
    REPLACE_WITH_A_REVIEW_ID / REPLACE_WITH_AN_IMPORT_ID  ids from GET /v1/reviews, POST /v1/imports
    REPLACE_WITH_AN_EXPORT_ID / REPLACE_WITH_A_TENANT     an id from POST /v1/exports, its tenant
    REPLACE_WITH_A_HOOK_ID / REPLACE_WITH_A_DELIVERY_ID   ids from POST /v1/hooks and its deliveries

Deterministic (fixed times and numbers); `make events` runs it with the other generators.
"""
import json
import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_events import OUT, http_event  # noqa: E402

KEY = "sg_live_REPLACE_WITH_A_KEY_FROM_stopgate_key_create"
PERSON = "(415) 555-0177"
DISCLOSURE = ("By checking this box you agree to receive recurring marketing texts from Acme at the number "
              "provided. Consent is not a condition of purchase. Msg&data rates may apply. Reply STOP to cancel.")


def headers(content_type="application/json"):
    return {"content-type": content_type, "host": "api.stopgate.example", "authorization": f"Bearer {KEY}",
            "user-agent": "curl/8.5.0"}


def write(name, method, path, body="", content_type="application/json", query=None, route=None):
    event = http_event(method, path, headers(content_type), body, route or f"{method} {path}")
    if query:
        event["rawQueryString"] = "&".join(f"{k}={v}" for k, v in query.items())
        event["queryStringParameters"] = dict(query)
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def main():
    OUT.mkdir(exist_ok=True)
    write("consents-opt-in", "POST", "/v1/consents", json.dumps({
        "phone": PERSON, "action": "opt_in", "category": "promotional", "level": "express_written",
        "scope": "tenant", "source": "web_form",
        "evidence": {"disclosure_text": DISCLOSURE, "ip": "203.0.113.9", "user_agent": "Mozilla/5.0",
                     "form_url": "https://acme.example/signup"},
    }))
    write("consents-opt-out", "POST", "/v1/consents", json.dumps({
        "phone": PERSON, "action": "opt_out", "scope": "tenant", "source": "phone_call",
        "evidence": {"agent": "agent-17"},
    }))
    write("consents-invalid-phone", "POST", "/v1/consents", json.dumps({
        "phone": "555-CALL-NOW", "action": "opt_out", "scope": "tenant", "source": "phone_call",
    }))
    write("numbers-lookup", "POST", "/v1/numbers/lookup", json.dumps({"phone": PERSON}))
    write("numbers-history", "POST", "/v1/numbers/history", json.dumps({"phone": PERSON}))
    write("numbers-redact", "POST", "/v1/numbers/redact", json.dumps({"phone": PERSON}))
    write("opt-outs-list", "GET", "/v1/opt-outs", query={"status": "all"})
    write("reviews-list", "GET", "/v1/reviews", query={"status": "open"})
    write("audit-list", "GET", "/v1/audit", query={"limit": "20"})
    write("reviews-resolve", "POST", "/v1/reviews/REPLACE_WITH_A_REVIEW_ID",
          json.dumps({"resolution": "not_a_revocation", "note": "asked about an order"}), route="POST /v1/reviews/{id}")
    write("imports-csv", "POST", "/v1/imports",
          "phone_number,status,scope,changed_at,source\n"
          "+14155550178,opted_out,tenant,2026-11-01T10:00:00Z,import\n"
          "+14155550179,opted_out,tenant,2026-11-01T10:05:00Z,import\n",
          content_type="text/csv")
    write("imports-get", "GET", "/v1/imports/REPLACE_WITH_AN_IMPORT_ID", route="GET /v1/imports/{id}")
    write("exports-create", "POST", "/v1/exports", json.dumps({"kind": "full", "format": "csv"}))
    write("exports-list", "GET", "/v1/exports")
    write("exports-get", "GET", "/v1/exports/REPLACE_WITH_AN_EXPORT_ID", route="GET /v1/exports/{id}")
    write("hooks-add", "POST", "/v1/hooks", json.dumps({
        "url": "https://crm.acme.example/stopgate", "events": ["opt_out", "opt_in"]}))
    write("hooks-list", "GET", "/v1/hooks")
    write("hooks-remove", "DELETE", "/v1/hooks/REPLACE_WITH_A_HOOK_ID", route="DELETE /v1/hooks/{hook_id}")
    write("hooks-deliveries", "GET", "/v1/hooks/REPLACE_WITH_A_HOOK_ID/deliveries", query={"limit": "20"},
          route="GET /v1/hooks/{hook_id}/deliveries")
    write("hooks-redeliver", "POST",
          "/v1/hooks/REPLACE_WITH_A_HOOK_ID/deliveries/REPLACE_WITH_A_DELIVERY_ID/redeliver",
          route="POST /v1/hooks/{hook_id}/deliveries/{delivery_id}/redeliver")
    # What the exports queue hands the export function (POST /v1/exports and the schedule put
    # these requests on it).
    request = {
        "Records": [{
            "messageId": "00000000-0000-4000-8000-0000000export", "receiptHandle": "example-receipt-handle",
            "body": json.dumps({"tenant": "REPLACE_WITH_A_TENANT", "export_id": "REPLACE_WITH_AN_EXPORT_ID"}),
            "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796619600000",
                           "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1796619600000"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stopgate-ExportsQueue",
            "awsRegion": "us-east-1",
        }],
    }
    (OUT / "export-request.json").write_text(json.dumps(request, indent=2) + "\n")
    # What EventBridge Scheduler hands the export function every hour (it reads nothing from it).
    (OUT / "export-scheduled.json").write_text(json.dumps({
        "version": "0", "id": "00000000-0000-4000-8000-0000000export", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012", "time": "2026-12-07T05:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/stopgate-export-hourly"],
        "detail": {},
    }, indent=2) + "\n")
    # What EventBridge Scheduler hands the sweeper every hour (it reads nothing from it).
    scheduled = {
        "version": "0", "id": "00000000-0000-4000-8000-00000000sweep", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012", "time": "2026-12-07T05:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/stopgate-sweeper-hourly"],
        "detail": {},
    }
    (OUT / "sweeper-scheduled.json").write_text(json.dumps(scheduled, indent=2) + "\n")
    # What EventBridge Scheduler hands the reconcile function every day (it reads nothing from it).
    (OUT / "reconcile-scheduled.json").write_text(json.dumps({
        "version": "0", "id": "00000000-0000-4000-8000-00000reconcile", "detail-type": "Scheduled Event",
        "source": "aws.scheduler", "account": "123456789012", "time": "2026-12-07T06:00:00Z",
        "region": "us-east-1",
        "resources": ["arn:aws:scheduler:us-east-1:123456789012:schedule/default/stopgate-reconcile-daily"],
        "detail": {},
    }, indent=2) + "\n")
    # What the table's stream hands the notify function for a recorded STOP (NEW_IMAGE, after
    # the trigger's filter), and what the hooks queue hands it for one delivery.
    event = {"event_id": "01KQT2B880XG9JEJGAPZB3XEV6", "tenant": "acme", "phone": "+14155550177",
             "kind": "opt_out", "origin": {"sender": "+14155550100", "keyword": "stop"},
             "source": "sms_keyword", "occurred_at": "2026-12-07T05:00:00Z", "time_source": "receipt",
             "received_at": "2026-12-07T05:00:00Z", "recorded_at": "2026-12-07T05:00:00Z",
             "actor": {"type": "person"}, "evidence": {"has_private_record": False}}
    (OUT / "notify-stream.json").write_text(json.dumps({"Records": [{
        "eventID": "c81e728d9d4c2f636f067f89cc14862c", "eventName": "INSERT", "eventVersion": "1.1",
        "eventSource": "aws:dynamodb", "awsRegion": "us-east-1",
        "dynamodb": {
            "ApproximateCreationDateTime": 1796619600,
            "Keys": {"pk": {"S": "N#acme#+14155550177"}, "sk": {"S": "EV#01KQT2B880XG9JEJGAPZB3XEV6"}},
            "NewImage": {"pk": {"S": "N#acme#+14155550177"}, "sk": {"S": "EV#01KQT2B880XG9JEJGAPZB3XEV6"},
                         "type": {"S": "event"}, "doc": {"S": json.dumps(event, separators=(",", ":"))}},
            "SequenceNumber": "111100000000000000000001", "SizeBytes": 512, "StreamViewType": "NEW_IMAGE"},
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/stopgate/stream/2026-12-01T00:00:00.000",
    }]}, indent=2) + "\n")
    delivery = {"tenant": "acme", "hook_id": "hook_REPLACE_WITH_A_HOOK_ID",
                "notification_id": "01KQT2B880XG9JEJGAPZB3XEV6.opt_out", "kind": "opt_out",
                # The CloudEvent of the stream's STOP, serialised as the function does.
                "body": json.dumps({
                    "data": {"event_id": event["event_id"], "kind": "opt_out",
                             "occurred_at": event["occurred_at"], "phone": event["phone"],
                             "recorded_at": event["recorded_at"], "sender": "+14155550100",
                             "source": "sms_keyword", "tenant": "acme"},
                    "datacontenttype": "application/json", "id": "01KQT2B880XG9JEJGAPZB3XEV6.opt_out",
                    "source": "/stopgate/tenants/acme", "specversion": "1.0", "subject": event["phone"],
                    "time": "2026-12-07T05:00:00.000Z", "type": "com.stopgate.opt_out",
                }, sort_keys=True, separators=(",", ":"))}
    (OUT / "notify-delivery.json").write_text(json.dumps({"Records": [{
        "messageId": "00000000-0000-4000-8000-00000000hook", "receiptHandle": "example-receipt-handle",
        "body": json.dumps(delivery),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1796619600000",
                       "SenderId": "AROAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1796619600000"},
        "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:stopgate-HooksQueue", "awsRegion": "us-east-1",
    }]}, indent=2) + "\n")
    print("wrote the consent API, scheduled, export request and notify events")


if __name__ == "__main__":
    main()
