#!/usr/bin/env bash
# Test entry points.
#
#   scripts/test.sh        `make test` (and so .ci/run): install what is missing, start DynamoDB
#                          Local and moto_server in the background while the workspace builds,
#                          create the test table and queues from template.yaml, run every test
#                          with cargo-nextest, then clippy, rustfmt, cfn-lint and the standalone
#                          check.
#   scripts/test.sh unit [NEXTEST ARGS...]
#                          `make unit`: the unit tests of every crate (`--lib --bins`) without
#                          the `testing` features: no services, no install, seconds after a
#                          build. The integration tests need `testing` (required-features in the
#                          crates' Cargo.toml), so they are not built.
#   scripts/test.sh lint   `make lint`: clippy, rustfmt, cfn-lint and the standalone check.
#   scripts/test.sh reliability
#                          `make test-reliability`: the reliability suite alone (SECURITY.md):
#                          load, outage and hostile requests through the served functions
#                          (dev/tests/reliability.rs, one at a time), the hostile-input property
#                          targets (`make fuzz`), then its figures (scripts/reliability_report.py).
#                          `make test` runs the same parts after the other tests.
#
# Every step runs even if an earlier one failed (except those that need a build), and the exit
# status is non-zero if any failed. The services this run started are always stopped on exit,
# whatever the way out (services another run started and this one merely reused are left
# alone; see scripts/services.sh).
#
# Features: every workspace member with a `testing` feature gets it (stopgate/testing turns on
# stopgate::testing, the helpers for tests against the local services; the function and CLI
# crates' `testing` turns that on and enables their integration tests). The build, nextest and
# clippy use the same feature set, so nextest reuses the build and clippy lints the integration
# tests.
#
# Environment given to the tests (besides the caller's):
#   AWS_REGION, AWS_DEFAULT_REGION=us-east-1, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY=local,
#   AWS_EC2_METADATA_DISABLED=true, AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SQS,
#   AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL_EVENTS (from scripts/services.sh env), TABLE_NAME=stopgate-test,
#   CAPTURE_QUEUE_URL (the stopgate-test-capture queue), IMPORTS_BUCKET (stopgate-test-imports),
#   EXPORTS_BUCKET (stopgate-test-exports), SECRETS_DEV_KEY (random per run unless already set).
#   Tests that ask for exports through a queue make a queue (and a bucket) of their own.
# DDB_PORT / MOTO_PORT choose other ports (defaults 8000 / 5000).
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
LOG_DIR="$ROOT/.local/log"
mkdir -p "$LOG_DIR"
MODE="${1:-all}"
[[ $# -gt 0 ]] && shift
case $MODE in
  all | unit | lint | reliability) ;;
  *) echo "usage: $0 [unit [NEXTEST ARGS...] | lint | reliability]" >&2; exit 2 ;;
esac
export SERVICES_OWNER="test-$$"
export SERVICES_OWNER_PID=$$
export TABLE_NAME=stopgate-test
unset AWS_PROFILE AWS_SESSION_TOKEN

failed=()
passed=()
svc_pid=""   # `services.sh start`, while it runs
step_pid=""  # the step being waited for
services_ok=0

step() { printf '\n==> %s\n' "$*" >&2; }

# descendants PID: PID's children, their children, ... (from /proc; no procps needed).
descendants() {
  local f line rest pid
  local -a fields todo=("$1") found=()
  local -A kids=()
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest="${line##*) }"
    read -r -a fields <<<"$rest"
    pid="${f#/proc/}"
    kids[${fields[1]}]+=" ${pid%/stat}"
  done
  while ((${#todo[@]})); do
    pid="${todo[0]}"
    todo=("${todo[@]:1}")
    for f in ${kids[$pid]:-}; do found+=("$f"); todo+=("$f"); done
  done
  echo "${found[*]}"
}
running() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  line="${line##*) }"
  [[ ${line:0:1} != Z ]]
}
# stop_tree PID [GRACE]: SIGTERM to PID and its descendants, up to GRACE seconds (5), then SIGKILL.
stop_tree() {
  local pid="$1" grace="${2:-5}" p all left i
  all="$pid $(descendants "$pid")"
  for p in $all; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < grace * 10; i++)); do
    left=""
    for p in $all; do if running "$p"; then left=yes; break; fi; done
    [[ -z $left ]] && break
    sleep 0.1
  done
  for p in $all; do if running "$p"; then kill -KILL "$p" 2>/dev/null || true; fi; done
  wait "$pid" 2>/dev/null || true
}

stopping=""
# shellcheck disable=SC2329  # invoked by trap
cleanup() {
  local rc=$?
  stopping=yes
  trap '' INT TERM HUP  # nothing may cut the cleanup short
  trap - EXIT
  if [[ $MODE == all || $MODE == reliability ]]; then
    bash scripts/services.sh release || true
  fi
  if [[ -n $step_pid ]]; then stop_tree "$step_pid"; fi
  if [[ -n $svc_pid ]]; then stop_tree "$svc_pid" 40; fi
  if [[ $MODE == all || $MODE == reliability ]]; then
    bash scripts/services.sh stop || true
  fi
  exit "$rc"
}
# on_signal STATUS WHAT: the first signal exits (and so runs cleanup); a signal already pending
# when cleanup began must not exit again from inside it, which would cut it short.
# shellcheck disable=SC2329  # invoked by trap
on_signal() {
  [[ -n $stopping ]] && return 0
  stopping=yes
  trap '' INT TERM HUP
  echo "test.sh: $2" >&2
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130 interrupted' INT
trap 'on_signal 143 terminated' TERM
trap 'on_signal 129 "hung up"' HUP

# in_background CMD...: run CMD in the background and wait for it, so that a signal is handled
# at once (bash runs a trap only between commands); returns its exit status.
in_background() {
  local rc=0
  "$@" &
  step_pid=$!
  wait "$step_pid" || rc=$?
  step_pid=""
  return "$rc"
}

# run NAME CMD...: run a step and record the outcome.
run() {
  local name="$1"
  shift
  step "$name: $*"
  if in_background "$@"; then passed+=("$name"); else failed+=("$name"); fi
}

# FEATURES: --features <member>/testing for every workspace member that has a `testing` feature.
features() {
  local list
  list="$(cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
members = json.load(sys.stdin)["packages"]
print(",".join(p["name"] + "/testing" for p in members if "testing" in p["features"]))')" ||
    { echo "test.sh: cargo metadata failed" >&2; exit 1; }
  [[ -n $list ]] || { echo "test.sh: no workspace member has a testing feature" >&2; exit 1; }
  FEATURES=(--features "$list")
}

summary() {
  echo >&2
  if ((${#failed[@]})); then
    echo "make $1: FAILED: ${failed[*]}${passed[*]:+ (passed: ${passed[*]})}" >&2
    exit 1
  fi
  echo "make $1: ok (${passed[*]})" >&2
  exit 0
}

lints() {
  if ((built)); then
    run clippy cargo clippy --workspace --all-targets "${FEATURES[@]}" -- -D warnings
  else
    echo "test.sh: clippy skipped (the build failed)" >&2
  fi
  run fmt cargo fmt --all -- --check
  run cfn-lint .venv/bin/cfn-lint template.yaml
  run standalone bash scripts/check_standalone.sh
}

# --- make unit ---------------------------------------------------------------------------------
if [[ $MODE == unit ]]; then
  run unit cargo nextest run --workspace --lib --bins "$@"
  summary unit
fi

step "install"
in_background bash scripts/install.sh || { echo "test.sh: install failed" >&2; exit 1; }
features

# --- make lint ---------------------------------------------------------------------------------
if [[ $MODE == lint ]]; then
  built=1
  lints
  summary lint
fi

# --- make test ---------------------------------------------------------------------------------
# Services start while the workspace builds.
bash scripts/services.sh start >"$LOG_DIR/services-start-test.log" 2>&1 &
svc_pid=$!

run build cargo build --workspace --tests "${FEATURES[@]}"
built=$((${#failed[@]} == 0))

step "services"
rc=0
wait "$svc_pid" || rc=$?
svc_pid=""
if ((rc == 0)); then
  services_ok=1
else
  cat "$LOG_DIR/services-start-test.log" >&2
  failed+=(services)
fi

if ((services_ok)); then
  eval "$(bash scripts/services.sh env)"
  step "create resources (table $TABLE_NAME)"
  if in_background .venv/bin/python scripts/create_resources.py --table "$TABLE_NAME" \
    --print-queue-url >"$LOG_DIR/capture-queue-url"; then
    CAPTURE_QUEUE_URL="$(cat "$LOG_DIR/capture-queue-url")"
    export CAPTURE_QUEUE_URL
    export IMPORTS_BUCKET="$TABLE_NAME-imports"
    export EXPORTS_BUCKET="$TABLE_NAME-exports"
  else
    failed+=(create-resources)
    services_ok=0
  fi
fi

if [[ -z ${SECRETS_DEV_KEY:-} ]]; then
  SECRETS_DEV_KEY="$(head -c 32 /dev/urandom | base64 -w0)"
  export SECRETS_DEV_KEY
fi

# The reliability suite measures throughput and stops a DynamoDB of its own: it runs after the
# other tests, one test at a time, so nothing else competes with it.
RELIABILITY=(-E 'binary(reliability)')
export RELIABILITY_DIR="$ROOT/target/reliability"

nextest() {
  cargo nextest run --workspace "${FEATURES[@]}" --no-fail-fast -E 'not binary(reliability)' 2>&1 |
    tee "$LOG_DIR/nextest.log"
}
reliability() {
  rm -rf "$RELIABILITY_DIR"
  mkdir -p "$RELIABILITY_DIR"
  local rc=0
  # --no-capture runs the tests one at a time and shows their progress as it happens.
  cargo nextest run --workspace "${FEATURES[@]}" --no-fail-fast --no-capture \
    "${RELIABILITY[@]}" 2>&1 | tee "$LOG_DIR/reliability.log" || rc=1
  bash scripts/fuzz.sh --summary "$RELIABILITY_DIR/fuzz.json" || rc=1
  python3 scripts/reliability_report.py "$RELIABILITY_DIR" || rc=1
  return "$rc"
}
rm -f "$LOG_DIR/nextest.log"
if ((built && services_ok)); then
  if [[ $MODE == all ]]; then
    step "nextest: cargo nextest run --workspace ${FEATURES[*]} --no-fail-fast (all but the reliability suite)"
    if in_background nextest; then passed+=(nextest); else failed+=(nextest); fi
  fi
  step "reliability suite"
  if in_background reliability; then passed+=(reliability); else failed+=(reliability); fi
else
  echo "test.sh: tests skipped (the build or the services failed)" >&2
  failed+=(nextest)
fi

if [[ $MODE == reliability ]]; then
  summary test-reliability
fi

lints

# Repeat nextest's summary as the closing lines, so it is not lost above the lints' output.
if [[ -f $LOG_DIR/nextest.log ]]; then
  echo >&2
  grep -E '^ *Summary \[' "$LOG_DIR/nextest.log" | tail -n 1 >&2 || true
fi
summary test
