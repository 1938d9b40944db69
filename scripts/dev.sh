#!/usr/bin/env bash
# `make dev`: the whole stack on this machine, in the foreground.
#
#   1. refuses to start when 127.0.0.1:9000 is taken
#   2. installs what is missing (scripts/install.sh)
#   3. starts DynamoDB Local and moto_server (in the background, while cargo builds)
#   4. builds the CLI and the local gateway (which links every function's handler)
#   5. creates the table `stopgate`, its queues, the imports bucket and the exports bucket from
#      template.yaml
#   6. writes .stopgate/dev.env (plain `export NAME=value` lines), with a development secrets key
#      kept in .stopgate/dev-secret so it is stable across runs
#   7. seeds the tenant `demo`: an API key (STOPGATE_DEMO_KEY) and a Twilio auth token
#      (STOPGATE_DEMO_TWILIO_AUTH_TOKEN), both appended to .stopgate/dev.env
#   8. runs `stopgate-dev serve --addr 127.0.0.1:9000`, which prints
#      `stopgate dev ready on http://127.0.0.1:9000` and example curl commands
# In another shell: `source .stopgate/dev.env` to use target/debug/stopgate against this stack.
#
# Stopping. SIGINT (Ctrl-C, which make gets too), SIGTERM (to make, which passes it on, to this
# script, or to the whole process group), SIGHUP (a closed terminal), a failed step and the
# gateway exiting all end in one cleanup, which
#   - ignores further INT/TERM/HUP: make sends its own SIGTERM after the process group's, and a
#     second Ctrl-C must not cut the cleanup short and leave services running;
#   - marks this run's services as stopping (`services.sh release`), so a `make dev` started
#     meanwhile never adopts them: it waits for them to go and starts its own;
#   - stops the gateway, or the step that is running (install, build, ...) with its child
#     processes, and an unfinished `services.sh start` (which stops what it launched);
#   - stops the services this run started (`services.sh stop`: by pid, the whole session of each,
#     waiting until they are gone);
# and only then exits, so make, which waits for this script, returns once all of it is stopped.
# Every long step runs in the background and is waited for, so that a signal is handled at once
# (bash runs a trap only between commands). A run killed with SIGKILL cannot clean up: the next
# `services.sh start` finds its services' owner gone and stops them before starting its own.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
HOST=127.0.0.1
PORT=9000
BASE_URL="http://$HOST:$PORT"
STATE_DIR="$ROOT/.stopgate"
ENV_FILE="$STATE_DIR/dev.env"
SECRET_FILE="$STATE_DIR/dev-secret"
LOG_DIR="$ROOT/.local/log"
# Where cargo puts what it builds (CARGO_TARGET_DIR moves it).
TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target}"
CLI="$TARGET_DIR/debug/stopgate"
GATEWAY="$TARGET_DIR/debug/stopgate-dev"
export SERVICES_OWNER="dev-$$"
export SERVICES_OWNER_PID=$$
export TABLE_NAME=stopgate
# The dev ledger survives a DynamoDB Local restart (to try an outage and the replay).
export DDB_DATA_DIR="$ROOT/.stopgate/dynamodb"
unset AWS_PROFILE AWS_SESSION_TOKEN

say() { printf 'make dev: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# 1. The port must be free. Bound the way the gateway binds it (tokio sets SO_REUSEADDR), so the
# TIME_WAIT sockets of a run that just stopped do not count; a listener (also on 0.0.0.0) does.
if ! python3 - "$HOST" "$PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
try:
    s.bind((sys.argv[1], int(sys.argv[2])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
then
  die "$HOST:$PORT is already in use (another \`make dev\`?). Stop whatever listens there and retry."
fi

svc_pid=""   # `services.sh start`, while it runs
step_pid=""  # the step being waited for (install, build, create resources)
gw_pid=""    # the gateway

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
# running PID: the process exists and is not a zombie.
running() {
  local line
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 1
  line="${line##*) }"
  [[ ${line:0:1} != Z ]]
}
# stop_tree PID [GRACE]: SIGTERM to PID and its descendants, up to GRACE seconds (5) for them
# to exit, then SIGKILL to what is left; reaps PID.
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
  trap '' INT TERM HUP
  trap - EXIT
  bash scripts/services.sh release || true
  if [[ -n $gw_pid ]]; then stop_tree "$gw_pid"; fi
  if [[ -n $step_pid ]]; then stop_tree "$step_pid"; fi
  # Its trap stops what it launched; a JVM may take seconds to go.
  if [[ -n $svc_pid ]]; then stop_tree "$svc_pid" 40; fi
  bash scripts/services.sh stop || true
  exit "$rc"
}
# on_signal STATUS: the first signal exits (and so runs cleanup); one that was already pending
# when cleanup began (make passes on a SIGTERM the process group got too) must not exit again
# from inside it, which would cut it short.
# shellcheck disable=SC2329  # invoked by trap
on_signal() {
  [[ -n $stopping ]] && return 0
  stopping=yes
  trap '' INT TERM HUP
  exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP

# in_background CMD...: run CMD in the background and wait for it (so that a signal is handled
# at once); returns its exit status.
in_background() {
  local rc=0
  "$@" &
  step_pid=$!
  wait "$step_pid" || rc=$?
  step_pid=""
  return "$rc"
}

# 2. Install.
in_background bash scripts/install.sh || die "scripts/install.sh failed"

# 3. + 4. Services start while the CLI and the gateway build.
mkdir -p "$LOG_DIR" "$STATE_DIR"
bash scripts/services.sh start >"$LOG_DIR/services-start-dev.log" 2>&1 &
svc_pid=$!
say "building the CLI and the local gateway"
rc=0
in_background cargo build -p stopgate-cli -p stopgate-dev || rc=$?
((rc == 0)) || die "cargo build failed (exit $rc)"
[[ -x $CLI && -x $GATEWAY ]] || die "build produced no $CLI or $GATEWAY"
rc=0
wait "$svc_pid" || rc=$?
svc_pid=""
if ((rc != 0)); then
  cat "$LOG_DIR/services-start-dev.log" >&2
  die "the local services did not start"
fi
eval "$(bash scripts/services.sh env)"

# 5. Table and queues.
in_background .venv/bin/python scripts/create_resources.py --table "$TABLE_NAME" --print-queue-url \
  --print-imports-queue-url --print-exports-queue-url --print-hooks-queue-url \
  >"$STATE_DIR/queue-urls" || die "creating the table and queues failed"
{ read -r CAPTURE_QUEUE_URL && read -r IMPORTS_QUEUE_URL && read -r EXPORTS_QUEUE_URL &&
  read -r HOOKS_QUEUE_URL; } <"$STATE_DIR/queue-urls" ||
  die "create_resources.py printed fewer than four queue URLs"
IMPORTS_BUCKET="$TABLE_NAME-imports"
EXPORTS_BUCKET="$TABLE_NAME-exports"

# 6. Development secrets key (stable across runs) and dev.env.
if [[ ! -s $SECRET_FILE ]]; then
  (umask 077 && head -c 32 /dev/urandom | base64 -w0 >"$SECRET_FILE")
fi
SECRETS_DEV_KEY="$(tr -d '[:space:]' <"$SECRET_FILE")"
[[ "$(printf '%s' "$SECRETS_DEV_KEY" | base64 -d 2>/dev/null | wc -c)" == 32 ]] ||
  die "$SECRET_FILE is not base64 of 32 bytes; delete it to generate a new one"

tmp="$(mktemp "$STATE_DIR/dev.env.XXXXXX")"
cat >"$tmp" <<EOF
export AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=local
export AWS_SECRET_ACCESS_KEY=local
export AWS_ENDPOINT_URL_DYNAMODB=$AWS_ENDPOINT_URL_DYNAMODB
export AWS_ENDPOINT_URL_SQS=$AWS_ENDPOINT_URL_SQS
export AWS_ENDPOINT_URL_S3=$AWS_ENDPOINT_URL_S3
export TABLE_NAME=$TABLE_NAME
export CAPTURE_QUEUE_URL=$CAPTURE_QUEUE_URL
export IMPORTS_BUCKET=$IMPORTS_BUCKET
export IMPORTS_QUEUE_URL=$IMPORTS_QUEUE_URL
export EXPORTS_BUCKET=$EXPORTS_BUCKET
export EXPORTS_QUEUE_URL=$EXPORTS_QUEUE_URL
export HOOKS_QUEUE_URL=$HOOKS_QUEUE_URL
export HOOKS_ALLOW_LOOPBACK=true
export PUBLIC_BASE_URL=$BASE_URL
export SECRETS_DEV_KEY=$SECRETS_DEV_KEY
EOF
chmod 600 "$tmp"
mv -f "$tmp" "$ENV_FILE"
# shellcheck source=/dev/null
source "$ENV_FILE"

# 7. Seed the demo tenant (each command takes well under a second).
rc=0
"$CLI" tenant create demo || rc=$?
[[ $rc == 0 || $rc == 3 ]] || die "stopgate tenant create demo failed (exit $rc)"

demo_key="$("$CLI" key create demo --scopes check,consents:write,admin)" ||
  die "stopgate key create demo failed"
[[ $demo_key =~ ^[^[:space:]]+$ ]] || die "stopgate key create printed no single key on stdout"
echo "export STOPGATE_DEMO_KEY=$demo_key" >>"$ENV_FILE"

twilio_token="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
printf 'auth_token=%s\n' "$twilio_token" | "$CLI" provider set demo twilio ||
  die "stopgate provider set demo twilio failed"
echo "export STOPGATE_DEMO_TWILIO_AUTH_TOKEN=$twilio_token" >>"$ENV_FILE"

# The hosted form /p/demo/join, whose YES goes to the demo number's sender group.
"$CLI" sender-group set demo deals --senders +14155550100 --program deals --brand acme >/dev/null ||
  die "stopgate sender-group set demo deals failed"
"$CLI" form set demo join --brand "Acme Outfitters" --program "Acme Deals & Alerts" \
  --categories informational,promotional --language en,es --frequency "Up to 6 msgs/month" \
  --frequency-es "Hasta 6 mensajes al mes" --terms-url https://acme.example/sms-terms \
  --privacy-url https://acme.example/privacy --sender-group deals >/dev/null ||
  die "stopgate form set demo join failed"
# shellcheck source=/dev/null
source "$ENV_FILE"

# 8. Serve until a signal (see "Stopping" above) or until the gateway exits.
say "environment in .stopgate/dev.env; starting the gateway on $BASE_URL"
"$GATEWAY" serve --addr "$HOST:$PORT" &
gw_pid=$!
rc=0
wait "$gw_pid" || rc=$?
gw_pid=""
say "the gateway exited (status $rc)"
exit "$rc"
