#!/usr/bin/env bash
# `make test` (and so .ci/run): install what is missing, start DynamoDB Local and moto_server in
# the background while the workspace builds, create the test table and queues from
# template.yaml, run every test with cargo-nextest, then clippy and cfn-lint. The services this
# run started are always stopped on exit (services another run started and this one merely
# reused are left alone). Every step runs even if an earlier one failed (except those that
# need a build), and the exit status is non-zero if any failed.
#
# Environment given to the tests (besides the caller's):
#   AWS_REGION, AWS_DEFAULT_REGION=us-east-1, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=local,
#   AWS_EC2_METADATA_DISABLED=true, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,
#   AWS_ENDPOINT_URL_S3 (from scripts/services.sh env), TABLE_NAME=stopgate-test,
#   CAPTURE_QUEUE_URL (the stopgate-test-capture queue), IMPORTS_BUCKET (stopgate-test-imports),
#   SECRETS_DEV_KEY (random per run unless already set).
# DDB_PORT / MOTO_PORT choose other ports (defaults 8000 / 5000).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
LOG_DIR="$ROOT/.local/log"
mkdir -p "$LOG_DIR"
export SERVICES_OWNER="test-$$"
export TABLE_NAME=stopgate-test
unset AWS_PROFILE AWS_SESSION_TOKEN

# Test-only helpers in the shared crate (stopgate::testing) are behind this feature. The build,
# nextest and clippy use the same feature set, so nextest reuses the build and clippy lints
# the integration tests.
FEATURES=(--features stopgate/testing)

failed=()
passed=()
svc_pid=""
services_ok=0

step() { printf '\n==> %s\n' "$*" >&2; }

cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $svc_pid ]]; then wait "$svc_pid" 2>/dev/null; fi
  bash scripts/services.sh stop || true
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "test.sh: interrupted" >&2; exit 130' INT
trap 'echo "test.sh: terminated" >&2; exit 143' TERM

# run NAME CMD...: run a step and record the outcome.
run() {
  local name="$1"
  shift
  step "$name: $*"
  if "$@"; then passed+=("$name"); else failed+=("$name"); fi
}

step "install"
bash scripts/install.sh || { echo "test.sh: install failed" >&2; exit 1; }

# Services start while the workspace builds.
bash scripts/services.sh start >"$LOG_DIR/services-start-test.log" 2>&1 &
svc_pid=$!

run build cargo build --workspace --tests "${FEATURES[@]}"
built=$((${#failed[@]} == 0))

step "services"
if wait "$svc_pid"; then
  services_ok=1
else
  cat "$LOG_DIR/services-start-test.log" >&2
  failed+=(services)
fi
svc_pid=""

if ((services_ok)); then
  eval "$(bash scripts/services.sh env)"
  step "create resources (table $TABLE_NAME)"
  if CAPTURE_QUEUE_URL="$(.venv/bin/python scripts/create_resources.py --table "$TABLE_NAME" --print-queue-url)"; then
    export CAPTURE_QUEUE_URL
    export IMPORTS_BUCKET="$TABLE_NAME-imports"
  else
    failed+=(create-resources)
    services_ok=0
  fi
fi

if [[ -z ${SECRETS_DEV_KEY:-} ]]; then
  SECRETS_DEV_KEY="$(head -c 32 /dev/urandom | base64 -w0)"
  export SECRETS_DEV_KEY
fi

if ((built && services_ok)); then
  step "nextest: cargo nextest run --workspace ${FEATURES[*]} --no-fail-fast"
  if cargo nextest run --workspace "${FEATURES[@]}" --no-fail-fast 2>&1 | tee "$LOG_DIR/nextest.log"; then
    passed+=(nextest)
  else
    failed+=(nextest)
  fi
else
  echo "test.sh: tests skipped (the build or the services failed)" >&2
  failed+=(nextest)
fi

if ((built)); then
  run clippy cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings
else
  echo "test.sh: clippy skipped (the build failed)" >&2
fi

run cfn-lint .venv/bin/cfn-lint template.yaml

echo >&2
# Repeat nextest's summary as the closing lines, so it is not lost above clippy's output.
if [[ -f $LOG_DIR/nextest.log ]] && ((built && services_ok)); then
  grep -E '^ *Summary \[' "$LOG_DIR/nextest.log" | tail -n 1 >&2 || true
fi
if ((${#failed[@]})); then
  echo "make test: FAILED: ${failed[*]}${passed[*]:+ (passed: ${passed[*]})}" >&2
  exit 1
fi
echo "make test: ok (${passed[*]})" >&2
