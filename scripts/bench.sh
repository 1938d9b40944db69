#!/usr/bin/env bash
# `make bench`: builds the functions and the benchmark in release, starts DynamoDB Local (and
# moto) unless they already answer, and prints one table: every figure beside its baseline
# measured in the same run against the same local DynamoDB (dev/src/bin/bench; BENCHMARKS.md
# says what each row is). Then the pure work of the hot paths (shared/benches/hot_paths.rs).
#
# The export's rows come from scripts/bench_export.sh, run first against the same DynamoDB
# Local with BENCH_EXPORT_ROWS opt-outs (20,000; `make bench-export` is the 1,000,000 run).
#
# Environment: DDB_PORT / MOTO_PORT (scripts/services.sh), BENCH_CHECKS, BENCH_WEBHOOKS,
# BENCH_IMPORT_LINES, BENCH_COLD_RUNS (dev/src/bin/bench/main.rs), BENCH_EXPORT_ROWS. Services this
# run started are stopped on exit; services it merely reused are left alone.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export SERVICES_OWNER="bench-$$"
export SERVICES_OWNER_PID=$$
unset AWS_PROFILE AWS_SESSION_TOKEN

cleanup() {
  local rc=$?
  trap - EXIT INT TERM HUP
  bash scripts/services.sh stop >/dev/null 2>&1 || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

FUNCTIONS=(stopgate-check stopgate-consent stopgate-inbound stopgate-inbound-sns stopgate-replay
  stopgate-import stopgate-sweeper stopgate-pages stopgate-export stopgate-notify stopgate-reconcile)
packages=()
for p in "${FUNCTIONS[@]}"; do packages+=(-p "$p"); done

echo "==> install" >&2
bash scripts/install.sh >&2
mkdir -p .local/log
bash scripts/services.sh start >.local/log/services-start-bench.log 2>&1 &
svc=$!
echo "==> cargo build --release (the functions and the benchmark)" >&2
# Two builds: `--bin bench` would otherwise filter the functions' binaries out as well.
cargo build --release "${packages[@]}" --bins
cargo build --release -p stopgate-dev --bin bench
if ! wait "$svc"; then
  cat .local/log/services-start-bench.log >&2
  exit 1
fi
eval "$(bash scripts/services.sh env)"
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=local \
  AWS_SECRET_ACCESS_KEY=local AWS_EC2_METADATA_DISABLED=true

echo "==> the export (scripts/bench_export.sh, ${BENCH_EXPORT_ROWS:-20000} opt-outs)" >&2
ROWS="${BENCH_EXPORT_ROWS:-20000}" bash scripts/bench_export.sh >&2
export BENCH_EXPORT_RESULTS="$ROOT/.local/log/bench-export.jsonl"

echo
echo "Machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//'), $(awk '/MemTotal/ {printf "%.1f GiB", $2 / 1048576}' /proc/meminfo); $(date -u +%Y-%m-%dT%H:%MZ)"
echo
"${CARGO_TARGET_DIR:-$ROOT/target}/release/bench"
echo
echo "==> the pure work of the hot paths (cargo bench -p stopgate --bench hot_paths)" >&2
cargo bench -p stopgate --bench hot_paths
