#!/usr/bin/env bash
# `make dev`: the whole stack on this machine, in the foreground (CONTRACT.md "CLI and local stack").
#
#   1. refuses to start when 127.0.0.1:9000 is taken
#   2. installs what is missing (scripts/install.sh)
#   3. starts DynamoDB Local and moto_server (in the background, while cargo builds)
#   4. builds the CLI and the local gateway (which links every function's handler)
#   5. creates the table `stopgate`, its queues and the imports bucket from template.yaml
#   6. writes .stopgate/dev.env (plain `export NAME=value` lines), with a development secrets key
#      kept in .stopgate/dev-secret so it is stable across runs
#   7. seeds the tenant `demo`: an API key (STOPGATE_DEMO_KEY) and a Twilio auth token
#      (STOPGATE_DEMO_TWILIO_AUTH_TOKEN), both appended to .stopgate/dev.env
#   8. runs `stopgate-dev serve --addr 127.0.0.1:9000`, which prints
#      `stopgate dev ready on http://127.0.0.1:9000` and example curl commands
# On SIGINT or SIGTERM it stops the gateway and the services it started (by pid) and exits.
# In another shell: `source .stopgate/dev.env` to use target/debug/stopgate against this stack.
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
CLI="$ROOT/target/debug/stopgate"
GATEWAY="$ROOT/target/debug/stopgate-dev"
export SERVICES_OWNER="dev-$$"
export TABLE_NAME=stopgate
# The dev ledger survives a DynamoDB Local restart (to try an outage and the replay).
export DDB_DATA_DIR="$ROOT/.stopgate/dynamodb"
unset AWS_PROFILE AWS_SESSION_TOKEN

say() { printf 'make dev: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

# 1. The port must be free (bind test: also catches listeners on 0.0.0.0:9000).
if ! python3 - "$HOST" "$PORT" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
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

svc_pid=""
build_pid=""
gw_pid=""
# shellcheck disable=SC2329  # called from cleanup
# stop_pid PID: SIGTERM, up to 5 s' grace, then SIGKILL.
stop_pid() {
  kill -0 "$1" 2>/dev/null || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# shellcheck disable=SC2329  # invoked by trap
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if [[ -n $gw_pid ]]; then stop_pid "$gw_pid"; fi
  if [[ -n $build_pid ]]; then stop_pid "$build_pid"; fi
  if [[ -n $svc_pid ]]; then wait "$svc_pid" 2>/dev/null || true; fi
  bash scripts/services.sh stop || true
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# 2. Install.
bash scripts/install.sh

# 3. + 4. Services start while the CLI and the gateway build.
mkdir -p "$LOG_DIR"
bash scripts/services.sh start >"$LOG_DIR/services-start-dev.log" 2>&1 &
svc_pid=$!
say "building the CLI and the local gateway"
# In the background so that a signal stops it at once (bash defers traps during a foreground command).
cargo build -p stopgate-cli -p stopgate-dev &
build_pid=$!
rc=0
wait "$build_pid" || rc=$?
build_pid=""
((rc == 0)) || die "cargo build failed (exit $rc)"
[[ -x $CLI && -x $GATEWAY ]] || die "build produced no $CLI or $GATEWAY"
if ! wait "$svc_pid"; then
  svc_pid=""
  cat "$LOG_DIR/services-start-dev.log" >&2
  die "the local services did not start"
fi
svc_pid=""
eval "$(bash scripts/services.sh env)"

# 5. Table and queues.
queue_urls="$(.venv/bin/python scripts/create_resources.py --table "$TABLE_NAME" --print-queue-url --print-imports-queue-url)"
CAPTURE_QUEUE_URL="${queue_urls%%$'\n'*}"
IMPORTS_QUEUE_URL="${queue_urls##*$'\n'}"
IMPORTS_BUCKET="$TABLE_NAME-imports"

# 6. Development secrets key (stable across runs) and dev.env.
mkdir -p "$STATE_DIR"
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
export PUBLIC_BASE_URL=$BASE_URL
export SECRETS_DEV_KEY=$SECRETS_DEV_KEY
EOF
chmod 600 "$tmp"
mv -f "$tmp" "$ENV_FILE"
# shellcheck source=/dev/null
source "$ENV_FILE"

# 7. Seed the demo tenant.
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
# shellcheck source=/dev/null
source "$ENV_FILE"

# 8. Serve until SIGINT/SIGTERM. The gateway runs in the background so that the traps above
# run as soon as a signal arrives.
say "environment in .stopgate/dev.env; starting the gateway on $BASE_URL"
"$GATEWAY" serve --addr "$HOST:$PORT" &
gw_pid=$!
rc=0
wait "$gw_pid" || rc=$?
gw_pid=""
say "the gateway exited (status $rc)"
exit "$rc"
