#!/usr/bin/env python3
"""Create the local DynamoDB table, SQS queues and S3 bucket from template.yaml.

The table (the template's AWS::DynamoDB::Table), the capture queue with its dead-letter
queue (CaptureQueue, CaptureDeadLetterQueue), the imports bucket (ImportsBucket) with the
queue it notifies of uploads (ImportsQueue and its dead-letter queue), and the exports bucket
(ExportsBucket, versioned as the template says) with the queue of export requests (ExportsQueue
and its dead-letter queue), and the queue of notification deliveries (HooksQueue and its
dead-letter queue) are created against the
local endpoints named by AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS and AWS_ENDPOINT_URL_S3
(see `scripts/services.sh env`), with dummy credentials in us-east-1, so local definitions come
from the same file as the deployed ones.
Idempotent: what exists already is left as it is (a table whose keys or indexes differ from the
template is an error: restart the services to get a fresh in-memory table).

  .venv/bin/python scripts/create_resources.py [--table NAME] [--print-queue-url]
                                                [--print-imports-queue-url]
                                                [--print-exports-queue-url]
                                                [--print-hooks-queue-url]

Table name: --table, else $TABLE_NAME, else "stopgate". Queue names: --capture-queue and
--dead-letter-queue, else $CAPTURE_QUEUE_NAME / $CAPTURE_DLQ_NAME, else "<table>-capture" and
"<table>-capture-dlq" (so the default table gives stopgate-capture and stopgate-capture-dlq,
and a test table never shares queues with `make dev`). The imports bucket and queue are
"<table>-imports" (and "<table>-imports-dlq"), the exports bucket and queue "<table>-exports"
(and "<table>-exports-dlq"), the hooks queue "<table>-hooks" (and "<table>-hooks-dlq"). With
--print-queue-url the capture queue URL is printed on stdout, with --print-imports-queue-url the
imports queue URL, with --print-exports-queue-url the exports queue URL, with
--print-hooks-queue-url the hooks queue URL (one per line, in that order, for those asked for);
everything else goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

import boto3
import yaml
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parent.parent
REGION = "us-east-1"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}

# Table properties DynamoDB Local takes in CreateTable; everything else in the template
# (PointInTimeRecoverySpecification, SSESpecification, Tags, DeletionProtectionEnabled,
# ContributorInsights, ...) is deployment-only. TTL is applied with UpdateTimeToLive.
TABLE_KEYS = ("KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes",
              "LocalSecondaryIndexes", "BillingMode", "ProvisionedThroughput", "StreamSpecification")
INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")
QUEUE_ATTRIBUTES = ("VisibilityTimeout", "MessageRetentionPeriod", "DelaySeconds",
                    "MaximumMessageSize", "ReceiveMessageWaitTimeSeconds")


def log(msg: str) -> None:
    print(f"create_resources: {msg}", file=sys.stderr)


def fail(msg: str) -> None:
    log(msg)
    sys.exit(1)


# --- template -----------------------------------------------------------------------------

class CfnLoader(yaml.SafeLoader):
    """SafeLoader that accepts CloudFormation short-form tags (!Ref, !GetAtt, !Sub, ...)."""


def _construct_cfn_tag(loader: CfnLoader, suffix: str, node: yaml.Node):
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    if suffix == "Ref":
        return {"Ref": value}
    if suffix == "GetAtt" and isinstance(value, str):
        value = value.split(".", 1)
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_cfn_tag)


def load_template(path: Path) -> dict:
    try:
        with path.open(encoding="utf-8") as f:
            doc = yaml.load(f, Loader=CfnLoader)  # noqa: S506 - SafeLoader subclass
    except (OSError, yaml.YAMLError) as e:
        fail(f"cannot read {path}: {e}")
    if not isinstance(doc, dict) or not isinstance(doc.get("Resources"), dict):
        fail(f"{path} has no Resources")
    return doc


def literal(value, where: str):
    """Fail on CloudFormation intrinsics where a literal is needed."""
    if isinstance(value, dict):
        if any(k == "Ref" or k.startswith("Fn::") for k in value):
            fail(f"{where} uses {value}; only literal values can be created locally")
        return {k: literal(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [literal(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def find_resource(resources: dict, rtype: str, preferred: str) -> tuple[str, dict]:
    if resources.get(preferred, {}).get("Type") == rtype:
        return preferred, resources[preferred]
    found = [(n, r) for n, r in resources.items() if isinstance(r, dict) and r.get("Type") == rtype]
    if len(found) != 1:
        fail(f"expected a {rtype} named {preferred} (or exactly one {rtype}) in the template")
    return found[0]


def table_request(name: str, props: dict) -> dict:
    req = {"TableName": name}
    for key in TABLE_KEYS:
        if key in props:
            req[key] = literal(props[key], f"Table.{key}")
    for key in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
        if key in req:
            req[key] = [{k: v for k, v in ix.items() if k in INDEX_KEYS} for ix in req[key]]
    if "StreamSpecification" in req:
        spec = req["StreamSpecification"]
        req["StreamSpecification"] = {"StreamEnabled": True,
                                      "StreamViewType": spec.get("StreamViewType", "NEW_AND_OLD_IMAGES")}
    req.setdefault("BillingMode", "PROVISIONED" if "ProvisionedThroughput" in req else "PAY_PER_REQUEST")
    return req


def queue_attributes(props: dict, where: str) -> dict[str, str]:
    attrs = {}
    for key in QUEUE_ATTRIBUTES:
        if key in props:
            attrs[key] = str(literal(props[key], f"{where}.{key}"))
    return attrs


# --- clients ------------------------------------------------------------------------------

def endpoint(var: str, allow_remote: bool) -> str:
    url = os.environ.get(var, "").strip()
    if not url:
        fail(f"{var} is not set; run: eval \"$(scripts/services.sh env)\"")
    host = urlparse(url).hostname or ""
    if host not in LOOPBACK and not allow_remote:
        fail(f"{var}={url} is not a loopback address; refusing (use --allow-remote to override)")
    return url


def client(service: str, url: str):
    # moto serves S3 path-style only.
    addressing = {"s3": {"addressing_style": "path"}} if service == "s3" else {}
    return boto3.client(
        service,
        endpoint_url=url,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID") or "local",
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY") or "local",
        aws_session_token=None,
        config=Config(retries={"max_attempts": 5, "mode": "standard"},
                      connect_timeout=5, read_timeout=30, proxies={}, **addressing),
    )


# --- DynamoDB -----------------------------------------------------------------------------

def shape(desc: dict) -> tuple:
    """Keys and indexes of a table description or CreateTable request, for comparison."""
    def keys(ks):
        return tuple((k["AttributeName"], k["KeyType"]) for k in ks)
    return (keys(desc["KeySchema"]),
            tuple(sorted((ix["IndexName"], keys(ix["KeySchema"]))
                         for ix in desc.get("GlobalSecondaryIndexes", []))),
            tuple(sorted((ix["IndexName"], keys(ix["KeySchema"]))
                         for ix in desc.get("LocalSecondaryIndexes", []))))


def ensure_table(ddb, req: dict, ttl: dict | None) -> None:
    name = req["TableName"]
    try:
        ddb.create_table(**req)
        log(f"created table {name}")
    except ClientError as e:
        if e.response["Error"]["Code"] != "ResourceInUseException":
            raise
        log(f"table {name} exists")
    deadline = time.monotonic() + 60
    while True:
        desc = ddb.describe_table(TableName=name)["Table"]
        busy = desc["TableStatus"] != "ACTIVE" or any(
            ix.get("IndexStatus", "ACTIVE") != "ACTIVE" for ix in desc.get("GlobalSecondaryIndexes", []))
        if not busy:
            break
        if time.monotonic() > deadline:
            fail(f"table {name} not ACTIVE after 60 s")
        time.sleep(0.2)
    if shape(desc) != shape(req):
        fail(f"table {name} exists with other keys or indexes than template.yaml "
             f"({shape(desc)} vs {shape(req)}); restart the services (scripts/services.sh stop; start) "
             f"or use another table name")
    # A table made before the template had its stream (a kept DynamoDB Local database) gets it
    # now: the notify function's trigger reads it.
    stream = req.get("StreamSpecification")
    if stream and not desc.get("StreamSpecification", {}).get("StreamEnabled"):
        ddb.update_table(TableName=name, StreamSpecification=stream)
        log(f"stream of table {name} enabled ({stream['StreamViewType']})")
    if ttl and ttl.get("Enabled") and ttl.get("AttributeName"):
        attr = ttl["AttributeName"]
        try:
            current = ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
            if current.get("TimeToLiveStatus") in ("ENABLED", "ENABLING") and current.get("AttributeName") == attr:
                return
            ddb.update_time_to_live(TableName=name,
                                    TimeToLiveSpecification={"Enabled": True, "AttributeName": attr})
        except ClientError as e:  # DynamoDB Local accepts it (and never expires items)
            log(f"time to live on {attr} not enabled locally: {e.response['Error'].get('Message', e)}")


# --- SQS ----------------------------------------------------------------------------------

def ensure_queue(sqs, name: str, attrs: dict[str, str]) -> str:
    try:
        url = sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]
        log(f"queue {name} ready")
        return url
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("QueueAlreadyExists", "QueueNameExists",
                                               "AWS.SimpleQueueService.QueueNameExists"):
            raise
    url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    if attrs:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attrs)
    log(f"queue {name} exists (attributes updated to the template's)")
    return url


def ensure_queue_from_template(sqs, resources: dict, queue_id: str, name: str,
                               dlq_name: str | None = None) -> str:
    """The template's queue `queue_id`, and its dead-letter queue (default name <name>-dlq)."""
    props = resources.get(queue_id, {}).get("Properties", {})
    attrs = queue_attributes(props, queue_id)
    redrive = props.get("RedrivePolicy")
    if redrive:
        target = redrive.get("deadLetterTargetArn")
        if not (isinstance(target, dict) and "Fn::GetAtt" in target):
            fail(f"{queue_id}.RedrivePolicy.deadLetterTargetArn must be !GetAtt <queue>.Arn")
        dlq_id = target["Fn::GetAtt"][0]
        dlq_props = resources.get(dlq_id, {}).get("Properties", {})
        dlq_url = ensure_queue(sqs, dlq_name or f"{name}-dlq", queue_attributes(dlq_props, dlq_id))
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])[
            "Attributes"]["QueueArn"]
        attrs["RedrivePolicy"] = json.dumps({
            "deadLetterTargetArn": dlq_arn,
            "maxReceiveCount": str(literal(redrive.get("maxReceiveCount", 5), "maxReceiveCount")),
        })
    return ensure_queue(sqs, name, attrs)


def ensure_imports(s3, sqs, resources: dict, bucket_name: str, queue_name: str) -> str:
    """The imports bucket and the queue its notification names; returns the queue URL."""
    bucket_id, bucket = find_resource(resources, "AWS::S3::Bucket", "ImportsBucket")
    configs = bucket.get("Properties", {}).get("NotificationConfiguration", {}).get(
        "QueueConfigurations", [])
    if len(configs) != 1 or "Fn::GetAtt" not in (configs[0].get("Queue") or {}):
        fail(f"{bucket_id} must notify exactly one queue (Queue: !GetAtt <queue>.Arn)")
    config = configs[0]
    queue_id = config["Queue"]["Fn::GetAtt"][0]
    queue_url = ensure_queue_from_template(sqs, resources, queue_id, queue_name)
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])[
        "Attributes"]["QueueArn"]
    try:
        s3.create_bucket(Bucket=bucket_name)
        log(f"bucket {bucket_name} ready")
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        log(f"bucket {bucket_name} exists")
    local = {"QueueArn": queue_arn, "Events": [literal(config["Event"], f"{bucket_id}.Event")]}
    rules = config.get("Filter", {}).get("S3Key", {}).get("Rules")
    if rules:
        local["Filter"] = {"Key": {"FilterRules": literal(rules, f"{bucket_id}.Filter")}}
    s3.put_bucket_notification_configuration(
        Bucket=bucket_name, NotificationConfiguration={"QueueConfigurations": [local]})
    return queue_url


def ensure_exports(s3, sqs, resources: dict, bucket_name: str, queue_name: str) -> str:
    """The exports bucket (versioned if the template's is) and the queue of export requests;
    returns the queue URL."""
    bucket_id, bucket = find_resource(resources, "AWS::S3::Bucket", "ExportsBucket")
    try:
        s3.create_bucket(Bucket=bucket_name)
        log(f"bucket {bucket_name} ready")
    except ClientError as e:
        if e.response["Error"]["Code"] not in ("BucketAlreadyOwnedByYou", "BucketAlreadyExists"):
            raise
        log(f"bucket {bucket_name} exists")
    versioning = bucket.get("Properties", {}).get("VersioningConfiguration", {})
    if versioning.get("Status"):
        s3.put_bucket_versioning(
            Bucket=bucket_name,
            VersioningConfiguration={"Status": literal(versioning["Status"], f"{bucket_id}.Versioning")})
    queue_id, _ = find_resource(resources, "AWS::SQS::Queue", "ExportsQueue")
    return ensure_queue_from_template(sqs, resources, queue_id, queue_name)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--template", default=str(ROOT / "template.yaml"))
    ap.add_argument("--table", default=os.environ.get("TABLE_NAME") or "stopgate")
    ap.add_argument("--capture-queue", default=os.environ.get("CAPTURE_QUEUE_NAME"))
    ap.add_argument("--dead-letter-queue", default=os.environ.get("CAPTURE_DLQ_NAME"))
    ap.add_argument("--print-queue-url", action="store_true",
                    help="print the capture queue URL alone on stdout")
    ap.add_argument("--print-imports-queue-url", action="store_true",
                    help="print the imports queue URL on stdout (after the capture queue's)")
    ap.add_argument("--print-exports-queue-url", action="store_true",
                    help="print the exports queue URL on stdout (after the imports queue's)")
    ap.add_argument("--print-hooks-queue-url", action="store_true",
                    help="print the hooks queue URL on stdout (after the exports queue's)")
    ap.add_argument("--allow-remote", action="store_true",
                    help="allow endpoints that are not on the loopback interface")
    args = ap.parse_args()
    capture_name = args.capture_queue or f"{args.table}-capture"
    dlq_name = args.dead_letter_queue or f"{capture_name}-dlq"

    tpl = load_template(Path(args.template))
    resources = tpl["Resources"]
    _, table = find_resource(resources, "AWS::DynamoDB::Table", "Table")
    table_props = table.get("Properties", {})
    req = table_request(args.table, table_props)
    ttl = table_props.get("TimeToLiveSpecification")

    capture_id, _ = find_resource(resources, "AWS::SQS::Queue", "CaptureQueue")

    ddb = client("dynamodb", endpoint("AWS_ENDPOINT_URL_DYNAMODB", args.allow_remote))
    sqs = client("sqs", endpoint("AWS_ENDPOINT_URL_SQS", args.allow_remote))
    s3 = client("s3", endpoint("AWS_ENDPOINT_URL_S3", args.allow_remote))
    try:
        ensure_table(ddb, req, ttl)
        capture_url = ensure_queue_from_template(sqs, resources, capture_id, capture_name, dlq_name)
        imports_url = ensure_imports(s3, sqs, resources, f"{args.table}-imports",
                                     f"{args.table}-imports")
        exports_url = ensure_exports(s3, sqs, resources, f"{args.table}-exports",
                                     f"{args.table}-exports")
        hooks_id, _ = find_resource(resources, "AWS::SQS::Queue", "HooksQueue")
        hooks_url = ensure_queue_from_template(sqs, resources, hooks_id, f"{args.table}-hooks")
    except ClientError as e:
        fail(f"{e.operation_name} failed: {e}")
    except Exception as e:  # connection refused and the like
        fail(f"cannot reach the local services ({type(e).__name__}: {e}); "
             f"is scripts/services.sh start running?")

    if args.print_queue_url:
        print(capture_url)
    if args.print_imports_queue_url:
        print(imports_url)
    if args.print_exports_queue_url:
        print(exports_url)
    if args.print_hooks_queue_url:
        print(hooks_url)
    if not (args.print_queue_url or args.print_imports_queue_url or args.print_exports_queue_url
            or args.print_hooks_queue_url):
        log(f"table {args.table}, capture queue {capture_url}, imports bucket "
            f"{args.table}-imports notifying {imports_url}, exports bucket {args.table}-exports "
            f"and queue {exports_url}, hooks queue {hooks_url}")


if __name__ == "__main__":
    main()
