#!/usr/bin/env python3
"""Writes the AWS End User Messaging sample events in events/: two-way SMS delivered by Amazon
SNS to the HTTPS webhook (API Gateway HTTP API v2 events) and straight to Lambda (an SnsEvent).

The HTTPS deliveries are signed as SNS signs them (RSA PKCS#1 v1.5 over the canonical string of
the envelope), but with a test key: events/aws-sns-test-key.pem, whose self-signed certificate
events/aws-sns-test-cert.pem the tests hand to the webhook edge as if it had been fetched from
CERT_URL below. Real SNS certificates are only ever fetched from AWS, so this key signs nothing
that a deployment would accept. Both files are made on the first run and reused after, so the
events stay the same from run to run (PKCS#1 v1.5 signatures are deterministic).

    PUBLIC_BASE_URL = https://api.stopgate.example
    tenant          = events-aws      (HTTPS path /v1/webhooks/aws/events-aws)
    topic_arn       = TOPIC below     (the tenant's `topic_arn` secret)

Run `.venv/bin/python scripts/events_aws.py` (it needs `cryptography`, which moto brings into the
venv) after changing anything here; commit the result.
"""
import base64
import datetime
import json
import pathlib
import sys

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from make_events import http_event  # noqa: E402

BASE = "https://api.stopgate.example"
TENANT = "events-aws"
PERSON = "+14155550162"
BUSINESS = "+14155550100"
REGION = "us-east-1"
TOPIC = f"arn:aws:sns:{REGION}:123456789012:stopgate-two-way-sms"
SNS_HOST = f"https://sns.{REGION}.amazonaws.com"
CERT_URL = f"{SNS_HOST}/SimpleNotificationService-stopgate-test.pem"
SUBSCRIPTION = f"{TOPIC}:00000000-0000-4000-8000-0000000000a1"
TIMESTAMP = "2026-11-28T12:00:00.000Z"
OUT = pathlib.Path(__file__).resolve().parent.parent / "events"
KEY_FILE = OUT / "aws-sns-test-key.pem"
CERT_FILE = OUT / "aws-sns-test-cert.pem"

# SNS signs these envelope fields, in this order, as "name\nvalue\n" each (Subject only when
# present); see the AWS SNS developer guide, "Verifying the signatures of Amazon SNS messages".
SIGNED_FIELDS = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
}


def test_key():
    """The test key and certificate: made once (1024 bits keeps signing in debug tests fast)."""
    if KEY_FILE.exists() and CERT_FILE.exists():
        return serialization.load_pem_private_key(KEY_FILE.read_bytes(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    name = x509.Name([
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Stopgate tests (not AWS)"),
        x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com"),
    ])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc))
        .not_valid_after(datetime.datetime(2125, 1, 1, tzinfo=datetime.timezone.utc))
        .sign(key, hashes.SHA256())
    )
    KEY_FILE.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    CERT_FILE.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key


def sign(key, envelope):
    signed = "".join(f"{name}\n{envelope[name]}\n" for name in SIGNED_FIELDS[envelope["Type"]] if name in envelope)
    digest = hashes.SHA1() if envelope["SignatureVersion"] == "1" else hashes.SHA256()
    return base64.b64encode(key.sign(signed.encode(), padding.PKCS1v15(), digest)).decode()


def sms(text, inbound_id, keyword=""):
    """End User Messaging's two-way SMS payload: the SNS Message, a JSON string."""
    return json.dumps({
        "originationNumber": PERSON, "destinationNumber": BUSINESS, "messageKeyword": keyword,
        "messageBody": text, "inboundMessageId": inbound_id,
        "previousPublishedMessageId": "0000000000000000000000000000000000000001",
    }, separators=(",", ":"))


def notification(key, text, inbound_id, message_id, keyword="", version="2"):
    envelope = {
        "Type": "Notification", "MessageId": message_id, "TopicArn": TOPIC, "Message": sms(text, inbound_id, keyword),
        "Timestamp": TIMESTAMP, "SignatureVersion": version,
    }
    envelope["Signature"] = sign(key, envelope)
    envelope["SigningCertURL"] = CERT_URL
    envelope["UnsubscribeURL"] = f"{SNS_HOST}/?Action=Unsubscribe&SubscriptionArn={SUBSCRIPTION}"
    return envelope


def subscription_confirmation(key):
    token = "2336412f37fb687f5d51e6e241d09c805a5a57b30d712f794cc5f6a988666d92768dd60a747ba6f3beb71854e285d6ad0"
    envelope = {
        "Type": "SubscriptionConfirmation", "MessageId": "00000000-0000-4000-8000-0000000000c1", "Token": token,
        "TopicArn": TOPIC,
        "Message": f"You have chosen to subscribe to the topic {TOPIC}.\nTo confirm the subscription, visit the SubscribeURL included in this message.",
        "SubscribeURL": f"{SNS_HOST}/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token={token}",
        "Timestamp": TIMESTAMP, "SignatureVersion": "2",
    }
    envelope["Signature"] = sign(key, envelope)
    envelope["SigningCertURL"] = CERT_URL
    return envelope


def https_event(name, envelope):
    path = f"/v1/webhooks/aws/{TENANT}"
    headers = {
        "content-type": "text/plain; charset=UTF-8",
        "host": "api.stopgate.example",
        "user-agent": "Amazon Simple Notification Service Agent",
        "x-amz-sns-message-type": envelope["Type"],
        "x-amz-sns-message-id": envelope["MessageId"],
        "x-amz-sns-topic-arn": TOPIC,
    }
    if envelope["Type"] == "Notification":
        headers["x-amz-sns-subscription-arn"] = SUBSCRIPTION
    # SNS sends the envelope pretty-printed; the signature covers values, not layout.
    event = http_event("POST", path, headers, json.dumps(envelope, indent=2), "POST /v1/webhooks/{provider}/{tenant}",
                       {"provider": "aws", "tenant": TENANT})
    (OUT / f"{name}.json").write_text(json.dumps(event, indent=2) + "\n")


def sns_event(name, envelope):
    """The same notification as SNS invokes a subscribed Lambda with (note the Url casing)."""
    sns = {k: v for k, v in envelope.items() if k not in ("SigningCertURL", "UnsubscribeURL")}
    sns.update({"Subject": None, "SigningCertUrl": envelope["SigningCertURL"],
                "UnsubscribeUrl": envelope["UnsubscribeURL"], "MessageAttributes": {}})
    record = {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": SUBSCRIPTION, "Sns": sns}
    (OUT / f"{name}.json").write_text(json.dumps({"Records": [record]}, indent=2) + "\n")


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    key = test_key()
    stop = notification(key, "STOP", "00000000-0000-4000-8000-0000000a0001", "00000000-0000-4000-8000-0000000b0001", "STOP")
    https_event("aws-stop", stop)
    https_event("aws-start", notification(key, "START", "00000000-0000-4000-8000-0000000a0002",
                                          "00000000-0000-4000-8000-0000000b0002", "START"))
    https_event("aws-help", notification(key, "HELP", "00000000-0000-4000-8000-0000000a0003",
                                         "00000000-0000-4000-8000-0000000b0003", "HELP", version="1"))
    https_event("aws-plain", notification(key, "Is my order ready?", "00000000-0000-4000-8000-0000000a0004",
                                          "00000000-0000-4000-8000-0000000b0004"))
    # A START that reuses the STOP's signature: what someone without the key can send.
    forged = notification(key, "START", "00000000-0000-4000-8000-0000000a0005", "00000000-0000-4000-8000-0000000b0005")
    forged["Signature"] = stop["Signature"]
    https_event("aws-forged", forged)
    https_event("aws-subscribe", subscription_confirmation(key))
    sns_event("aws-sns-stop", notification(key, "STOP", "00000000-0000-4000-8000-0000000a0011",
                                           "00000000-0000-4000-8000-0000000b0011", "STOP", version="1"))
    print(f"wrote the aws events to {OUT}")
