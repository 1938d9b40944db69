#!/usr/bin/env bash
# `make bench-export`: a full export of ROWS opt-outs (default 1,000,000) against DynamoDB Local
# and moto, beside a raw paginated Query of the same change index, in the same run.
#
#   1. installs what is missing, starts the local services (DDB_PORT / MOTO_PORT, defaults
#      8000 / 5000; services already running are reused and left running)
#   2. creates the table `stopgate-bench` and its buckets and queues from template.yaml
#   3. builds the benchmark (shared/examples/export_bench.rs) in release
#   4. loads ROWS keyword STOPs of new numbers into a new tenant (bulk writes of the same items
#      a commit writes, index entries included)
#   5. queries every entry of the tenant's change index (the same projection, page size and
#      shards at a time as the export's walk, nothing else): the index's own throughput
#   6. the same, and each number's state as the export reads it (no rows, no files): where the
#      export's time goes
#   7. runs a full export of the tenant (CSV and JSON Lines, multipart to moto's S3)
# Steps 4-7 each run as their own process and print one JSON line: rows, seconds, rows/s, peak
# RSS (VmHWM, MiB) and CPU seconds of that process, and the CPU seconds DynamoDB Local spent
# meanwhile (`db_cpu_seconds`), which says on which side of the wire each step's time goes; the
# last lines compare the export with the raw Query.
# The bench table and the export files are deleted at the end (services that were reused keep
# running without them), and the services this run started are stopped.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
ROWS="${ROWS:-1000000}"
[[ $ROWS =~ ^[0-9]+$ ]] || { echo "bench-export: ROWS must be a number" >&2; exit 2; }
export SERVICES_OWNER="bench-$$"
export SERVICES_OWNER_PID=$$
export TABLE_NAME=stopgate-bench
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_SESSION_TOKEN
RESULTS="$ROOT/.local/log/bench-export.jsonl"
mkdir -p "$(dirname "$RESULTS")"
created=""

# Deletes the bench table and every version of every export file (moto keeps them in memory).
drop_bench_data() {
  .venv/bin/python - "$TABLE_NAME" <<'PY' || true
import os, sys
import boto3
table = sys.argv[1]
ddb = boto3.client("dynamodb", endpoint_url=os.environ["AWS_ENDPOINT_URL_DYNAMODB"])
s3 = boto3.resource("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL_S3"])
try:
    ddb.delete_table(TableName=table)
except ddb.exceptions.ResourceNotFoundException:
    pass
s3.Bucket(f"{table}-exports").object_versions.delete()
PY
}

cleanup() {
  local rc=$?
  trap '' INT TERM HUP
  if [[ -n $created ]]; then drop_bench_data; fi
  bash scripts/services.sh stop || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

bash scripts/install.sh
bash scripts/services.sh start
eval "$(bash scripts/services.sh env)"
created=yes
.venv/bin/python scripts/create_resources.py --table "$TABLE_NAME"
cargo build --release -p stopgate --example export_bench --features testing
BENCH="${CARGO_TARGET_DIR:-$ROOT/target}/release/examples/export_bench"
TENANT="bench-$(date +%s)"
echo "bench-export: $ROWS opt-outs, tenant $TENANT (DynamoDB Local $AWS_ENDPOINT_URL_DYNAMODB," \
  "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))" >&2

: >"$RESULTS"
# CPU seconds (user + system, USER_HZ = 100) DynamoDB Local's process has used so far: the pid
# file services.sh keeps for the port, whoever started the service.
DDB_PID="$(tr -dc 0-9 <".local/run/dynamodb-${DDB_PORT:-8000}.pid" 2>/dev/null || true)"
ddb_cpu_ticks() {
  local line rest
  local -a fields
  { read -r line <"/proc/$DDB_PID/stat"; } 2>/dev/null || { echo 0; return; }
  rest="${line##*) }"
  read -r -a fields <<<"$rest"
  echo $((fields[11] + fields[12]))
}
# step ARGS...: runs one step and appends its line, with DynamoDB Local's CPU seconds added.
step() {
  local before line
  before="$(ddb_cpu_ticks)"
  line="$("$BENCH" "$@")"
  python3 -c 'import json, sys; s = json.loads(sys.argv[1]); s["db_cpu_seconds"] = round(int(sys.argv[2]) / 100, 1); print(json.dumps(s))' \
    "$line" "$(( $(ddb_cpu_ticks) - before ))" | tee -a "$RESULTS"
}
step load --tenant "$TENANT" --rows "$ROWS"
step query --tenant "$TENANT"
step states --tenant "$TENANT"
step export --tenant "$TENANT" --bucket "$TABLE_NAME-exports"

CORES="$(nproc)" python3 - "$RESULTS" <<'PY'
import json, os, sys
CORES = int(os.environ["CORES"])
steps = {s["step"]: s for s in map(json.loads, open(sys.argv[1]))}
query, states, export = steps["query"], steps["states"], steps["export"]
print(
    f"bench-export: the export wrote {export['rows']:,} rows at {export['rows_per_second']:,.0f} rows/s "
    f"({export['rows_per_second'] / query['rows_per_second']:.2f} of the raw Query of its index, "
    f"{query['rows_per_second']:,.0f} entries/s; the index and the states alone: "
    f"{states['rows_per_second']:,.0f}/s), peak RSS {export['peak_rss_mib']} MiB",
    file=sys.stderr,
)
for s in (query, states, export):
    print(
        f"bench-export: {s['step']}: {s['seconds']} s; CPU: this process {s['cpu_seconds']} s, "
        f"DynamoDB Local {s['db_cpu_seconds']} s (of {s['seconds'] * CORES:.0f} the machine had)",
        file=sys.stderr,
    )
PY
