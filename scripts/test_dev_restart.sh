#!/usr/bin/env bash
# `make test-dev-restart`: proves that `make dev` stops everything it started, whichever way it
# is stopped, and that a `make dev` started at once afterwards comes up with services of its
# own. Slow (it starts `make dev` once per round) and manual: not part of `make test`.
#
# Each round starts `make dev` (in a session of its own, as a terminal would run it), waits for
# `stopgate dev ready on http://127.0.0.1:9000`, checks that DynamoDB Local and moto belong to
# this run (their owner is `dev-<pid of this run's dev.sh>`), leaves TIME_WAIT sockets on port
# 9000 behind (requests with `Connection: close`), then stops it one way:
#   term-make     SIGTERM to make alone (an IDE's stop button; make passes it on)
#   int-group     SIGINT to the whole process group (Ctrl-C in a terminal)
#   term-group    SIGTERM to the whole process group (some IDEs)
#   hup-group     SIGHUP to the whole process group (a closed terminal)
#   term-script   SIGTERM to scripts/dev.sh alone
#   int-twice     SIGINT to the process group twice, 0.3 s apart (Ctrl-C pressed twice: the
#                 second arrives while the first one's cleanup is stopping the services)
#   term-twice    SIGTERM to the process group, then to make again 0.3 s later (an IDE that
#                 insists)
#   kill-script   SIGKILL to scripts/dev.sh (nothing can clean up): its services stay, orphaned;
#                 the test stops the rest of that session (the gateway), and the next round
#                 must stop the orphans and run services of its own, never adopt them
#   early         SIGTERM to make while the services are still starting (a stop midway)
# waits for make to exit, and checks that nothing is left: ports 8000, 5000 and 9000 free, no
# DynamoDB Local or moto_server of this repository on them, no process of that session. The next round
# starts at once (its port probe must not mistake the TIME_WAIT sockets for a listener).
#
#   DEV_RESTART_ROUNDS   the rounds, in order (default: all of the above, early last)
#   READY_TIMEOUT        seconds to wait for `make dev` to be ready (default 900: the first
#                        round may build)
# Needs ports 8000, 5000 and 9000 free when it starts. Logs: .local/log/dev-restart/.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1
ROUNDS="${DEV_RESTART_ROUNDS:-term-make int-group term-group hup-group term-script int-twice term-twice kill-script early}"
READY_TIMEOUT="${READY_TIMEOUT:-900}"
LOG_DIR="$ROOT/.local/log/dev-restart"
READY_LINE="stopgate dev ready on http://127.0.0.1:9000"
PORTS=(8000 5000 9000)
mkdir -p "$LOG_DIR"

make_pid=""
say() { printf 'test-dev-restart: %s\n' "$*" >&2; }
fail() {
  say "FAILED: $*"
  if [[ -n $make_pid ]] && [[ -e /proc/$make_pid ]]; then
    say "stopping the make dev under test (pid $make_pid)"
    kill -TERM "$make_pid" 2>/dev/null
    for _ in $(seq 1 600); do [[ -e /proc/$make_pid ]] || break; sleep 0.1; done
  fi
  exit 1
}
trap 'fail "interrupted"' INT TERM HUP

# port_open PORT: something accepts connections on 127.0.0.1:PORT.
port_open() {
  python3 - "$1" <<'PY'
import socket, sys
s = socket.socket()
s.settimeout(1)
try:
    s.connect(("127.0.0.1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
finally:
    s.close()
PY
}
# procs services|session SID|children PPID: processes from /proc, one per line.
#   services        this repository's DynamoDB Local and moto_server on ports 8000 and 5000:
#                   "pid owner dynamodb|moto command"
#   session SID     the live processes of session SID: "pid command"
#   children PPID   the children of PPID: "pid command"
procs() {
  python3 - "$ROOT" "$@" <<'PY'
import os, sys
root, what = sys.argv[1], sys.argv[2]
arg = sys.argv[3] if len(sys.argv) > 3 else ""
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
    except OSError:
        continue
    state, ppid, sid = fields[0], fields[1], fields[3]
    if state == "Z" or pid == str(os.getpid()):
        continue
    if what == "services":
        args = cmd.split()
        on_port = any(a in ("-port", "-p") and b in ("8000", "5000") for a, b in zip(args, args[1:]))
        ours = any(a.startswith(root + "/") and a.endswith(("DynamoDBLocal.jar", "moto_server")) for a in args)
        if ours and on_port:
            owner = ""
            try:
                with open(f"/proc/{pid}/environ", "rb") as f:
                    for entry in f.read().split(b"\0"):
                        if entry.startswith(b"STOPGATE_SERVICES_OWNER="):
                            owner = entry.split(b"=", 1)[1].decode()
            except OSError:
                pass
            name = "dynamodb" if any(a.endswith("DynamoDBLocal.jar") for a in args) else "moto"
            print(pid, owner or "-", name, cmd[:100])
    elif what == "session" and sid == arg:
        print(pid, cmd[:100])
    elif what == "children" and ppid == arg:
        print(pid, cmd[:100])
PY
}
service_procs() { procs services; }
# Who listens on 8000, 5000 and 9000: "port pid command" (for failure messages).
listeners() {
  python3 - <<'PY'
import os
ports = {8000, 5000, 9000}
inodes = {}
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        f = line.split()
        port = int(f[1].rsplit(":", 1)[1], 16)
        if f[3] == "0A" and port in ports:
            inodes[f[9]] = port
for pid in filter(str.isdigit, os.listdir("/proc")):
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
            if target.startswith("socket:[") and target[8:-1] in inodes:
                cmd = open(f"/proc/{pid}/cmdline", "rb").read().replace(b"\0", b" ").decode(errors="replace")
                print(inodes[target[8:-1]], pid, cmd[:160])
    except OSError:
        continue
PY
}
# The dev.sh that make runs (make's child running scripts/dev.sh).
dev_script_pid() { procs children "$1" | awk '/scripts\/dev.sh/ {print $1; exit}'; }

assert_clean() {
  local what="$1" port procs left
  for port in "${PORTS[@]}"; do
    if port_open "$port"; then fail "$what: 127.0.0.1:$port still accepts connections:"$'\n'"$(listeners)"; fi
  done
  procs="$(service_procs)"
  [[ -z $procs ]] || fail "$what: services of this repository still run:"$'\n'"$procs"
  left="$(procs session "$make_pid")"
  [[ -z $left ]] || fail "$what: processes of the make dev session remain:"$'\n'"$left"
}

# start_dev ROUND: start `make dev` in a new session with default signal dispositions (a
# background job of a script would ignore SIGINT), as a terminal would run it.
start_dev() {
  local log="$LOG_DIR/$1.log"
  : >"$log"  # here, not in the background job: its redirection could come after the first read
  python3 -c '
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    signal.signal(s, signal.SIG_DFL)
os.setsid()
os.execvp("make", ["make", "--no-print-directory", "dev"])' >>"$log" 2>&1 </dev/null &
  make_pid=$!
}

# wait_ready LOG: until make dev says it is ready.
wait_ready() {
  local log="$1" deadline=$((SECONDS + READY_TIMEOUT))
  while ! grep -qF "$READY_LINE" "$log"; do
    [[ -e /proc/$make_pid ]] || { tail -n 30 "$log" >&2; fail "make dev exited before it was ready"; }
    ((SECONDS < deadline)) || { tail -n 30 "$log" >&2; fail "make dev not ready within ${READY_TIMEOUT}s"; }
    sleep 0.5
  done
}

assert_owned_by() {
  local owner="$1" procs name file
  procs="$(service_procs)"
  [[ $(awk '$3 == "dynamodb"' <<<"$procs" | wc -l) == 1 && $(awk '$3 == "moto"' <<<"$procs" | wc -l) == 1 ]] ||
    fail "expected one DynamoDB Local and one moto_server of this run, found:"$'\n'"$procs"$'\n'"listening:"$'\n'"$(listeners)"
  while read -r _ o _; do
    [[ $o == "$owner" ]] || fail "a service belongs to '$o', not to this run ($owner):"$'\n'"$procs"
  done <<<"$procs"
  for name in dynamodb-8000 moto-5000; do
    file="$ROOT/.local/run/$name.owner"
    [[ "$(cat "$file" 2>/dev/null)" == "$owner" ]] || fail "$file says '$(cat "$file" 2>/dev/null)', not $owner"
  done
}

# Leave server-side TIME_WAIT sockets on 127.0.0.1:9000 (the server closes first).
time_wait_9000() {
  python3 - <<'PY'
import http.client
for _ in range(3):
    c = http.client.HTTPConnection("127.0.0.1", 9000, timeout=5)
    c.request("GET", "/v1/check", headers={"Connection": "close"})
    c.getresponse().read()
    c.close()
PY
}

# TIME_WAIT sockets on 127.0.0.1:9000, and whether a bind without SO_REUSEADDR (the port probe
# `make dev` used to have) would have refused to start because of them.
time_wait_report() {
  python3 - <<'PY'
import socket
waiting = 0
for table in ("/proc/net/tcp", "/proc/net/tcp6"):
    try:
        lines = open(table).read().splitlines()[1:]
    except OSError:
        continue
    for line in lines:
        local, state = line.split()[1], line.split()[3]
        if local.endswith(":2328") and state == "06":
            waiting += 1
s = socket.socket()
try:
    s.bind(("127.0.0.1", 9000))
    plain = "would start"
except OSError:
    plain = "would refuse to start"
finally:
    s.close()
print(f"{waiting} TIME_WAIT socket(s) on port 9000; a probe without SO_REUSEADDR {plain}")
PY
}

# --- preconditions -----------------------------------------------------------------------
for port in "${PORTS[@]}"; do
  if port_open "$port"; then
    fail "127.0.0.1:$port is in use; stop what listens there (make services-down, another make dev/test) and retry:"$'\n'"$(listeners)"
  fi
done
[[ -z "$(service_procs)" ]] || fail "services of this repository are running:"$'\n'"$(service_procs)"

[[ ${ROUNDS##* } != kill-script ]] || fail "kill-script leaves orphans for the next round: it cannot be the last"
last_orphans=""
n=0
for round in $ROUNDS; do
  n=$((n + 1))
  say "round $n: $round: starting make dev"
  t0=$SECONDS
  start_dev "$n-$round"
  log="$LOG_DIR/$n-$round.log"

  if [[ $round == early ]]; then
    # Stop it while the services are still starting.
    deadline=$((SECONDS + READY_TIMEOUT))
    # (a service of this run: not one of the orphans a kill-script round left)
    until [[ -n "$(service_procs | awk -v old=" $(awk '{print $1}' <<<"$last_orphans" | xargs) " 'index(old, " " $1 " ") == 0')" ]]; do
      [[ -e /proc/$make_pid ]] || { tail -n 30 "$log" >&2; fail "make dev exited before starting the services"; }
      ((SECONDS < deadline)) || fail "make dev started no services within ${READY_TIMEOUT}s"
      sleep 0.05
    done
    say "round $n: services launching ($(service_procs | awk '{print $1}' | xargs)); SIGTERM to make $make_pid"
    last_orphans=""
    kill -TERM "$make_pid"
  else
    wait_ready "$log"
    dev_pid="$(dev_script_pid "$make_pid")"
    [[ -n $dev_pid ]] || fail "no scripts/dev.sh under make $make_pid"
    say "round $n: ready after $((SECONDS - t0))s (make $make_pid, dev.sh $dev_pid)"
    assert_owned_by "dev-$dev_pid"
    if [[ -n $last_orphans ]]; then
      for p in $(awk '{print $1}' <<<"$last_orphans"); do
        [[ -e /proc/$p ]] && fail "round $n: orphan $p of the killed run is still running"
      done
      say "round $n: the orphans of the killed run were stopped and replaced"
      last_orphans=""
    fi
    time_wait_9000 || fail "the gateway did not answer"
    case $round in
      term-make) kill -TERM "$make_pid" ;;
      int-group) kill -INT -- "-$make_pid" ;;
      term-group) kill -TERM -- "-$make_pid" ;;
      hup-group) kill -HUP -- "-$make_pid" ;;
      term-script) kill -TERM "$dev_pid" ;;
      int-twice) kill -INT -- "-$make_pid"; sleep 0.3; kill -INT -- "-$make_pid" 2>/dev/null ;;
      term-twice) kill -TERM -- "-$make_pid"; sleep 0.3; kill -TERM "$make_pid" 2>/dev/null ;;
      kill-script) kill -KILL "$dev_pid" ;;
      *) fail "unknown round '$round'" ;;
    esac
    say "round $n: sent $round"
  fi
  t1=$SECONDS
  wait "$make_pid"
  rc=$?
  say "round $n: make exited (status $rc) $((SECONDS - t1))s after the signal"
  if [[ $round == kill-script ]]; then
    orphans="$(service_procs)"
    [[ -n $orphans ]] || fail "round $n: the services went with the killed dev.sh; expected orphans"
    for p in $(procs session "$make_pid" | awk '{print $1}'); do kill -TERM "$p" 2>/dev/null; done
    for _ in $(seq 1 50); do [[ -z "$(procs session "$make_pid")" ]] && break; sleep 0.1; done
    say "round $n: stopped the rest of its session; orphaned services (owner gone): $(awk '{print $1, $2, $3}' <<<"$orphans" | xargs)"
    last_orphans="$orphans"
    continue
  fi
  assert_clean "round $n ($round)"
  say "round $n: clean: ports ${PORTS[*]} free, no services, no processes left"
  say "round $n: $(time_wait_report)"
done
make_pid=""
say "ok: $n rounds ($ROUNDS)"
