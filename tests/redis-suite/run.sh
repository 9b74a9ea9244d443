#!/usr/bin/env bash
# Runs Redis's own Tcl test suite against meshkv and against a real redis-server, unit by unit,
# and prints what passed on each side by side.
#
# The suite is Redis's, not ours: fetch and extract it yourself (never commit it here), e.g. for
# the 7.0.15 tag:
#
#   git clone --depth 1 --branch 7.0.15 https://github.com/redis/redis /tmp/redis-src
#   mkdir -p /tmp/redis-suite
#   git -C /tmp/redis-src archive 7.0.15 runtest tests | tar -x -C /tmp/redis-suite
#
# (or `apt-get source redis` on Debian and use its top directory). Then:
#
#   tests/redis-suite/run.sh /tmp/redis-suite [options]
#
# Options:
#   --meshkv BIN     the meshkv-server binary (default: target/release/meshkv-server, or
#                    $CARGO_TARGET_DIR/release/meshkv-server when that is set); "none" skips it
#   --redis BIN      the redis-server to compare with (default: redis-server on PATH); "none" skips it
#   --units "U ..."  the units to run (default: the fifteen below); names as under tests/unit/
#   --port P         the port both servers listen on, one at a time (default 21379)
#   --timeout S      the longest one unit may run, in seconds (default 900)
#   --logs DIR       where each unit's output and server log go (default: a fresh temporary dir)
#   --baseport P     the first of the ports the suite itself listens on and spawns servers at
#                    (its `--baseport`; default its own, 21111): give two runs at once different ones
#
# It runs the suite in the profile Redis documents for third-party servers: an external server
# (--host/--port), with the tags that need a server the suite starts itself, DEBUG, replication,
# resets or slow runs left out, --durable (a failing test does not stop the unit),
# --ignore-encoding and --ignore-digest. Each server is started afresh, on an empty directory,
# before each unit, and stopped after it. A unit that dies early (an error outside any test ends
# the rest of its block) shows fewer ok; its `note` column says so. The `ok` columns are the number
# to compare: `err` counts failed tests, but a block cut short counts as one err whatever it held.
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit "${1:-0}"; }

[ $# -ge 1 ] || usage 2
case "$1" in -h | --help) usage 0 ;; esac
suite="$(cd "$1" && pwd)"
shift
[ -f "$suite/tests/test_helper.tcl" ] || { echo "no tests/test_helper.tcl under $suite: extract runtest and tests/ there" >&2; exit 2; }

repo="$(cd "$(dirname "$0")/../.." && pwd)"
meshkv="${CARGO_TARGET_DIR:-$repo/target}/release/meshkv-server"
redis="$(command -v redis-server || echo none)"
units="auth protocol keyspace scan info type/string type/incr type/list type/set type/zset type/hash expire other multi pubsub"
port=21379
timeout_s=900
logs=""
baseport=""
while [ $# -gt 0 ]; do
  case "$1" in
    --meshkv) meshkv="$2"; shift 2 ;;
    --redis) redis="$2"; shift 2 ;;
    --units) units="$2"; shift 2 ;;
    --port) port="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    --logs) logs="$2"; shift 2 ;;
    --baseport) baseport="$2"; shift 2 ;;
    -h | --help) usage 0 ;;
    *) echo "unknown option $1" >&2; usage 2 ;;
  esac
done
[ "$meshkv" = none ] || [ -x "$meshkv" ] || { echo "no meshkv-server at $meshkv (cargo build --release, or --meshkv BIN)" >&2; exit 2; }
command -v tclsh >/dev/null || { echo "the suite needs tclsh 8.5 or newer (apt-get install tcl)" >&2; exit 2; }
logs="${logs:-$(mktemp -d /tmp/redis-suite-run.XXXXXX)}"
mkdir -p "$logs"

# The third-party profile: tags of tests that need what an external server does not give.
tags="-slow -needs:repl -needs:debug -needs:pfdebug -needs:config-maxmemory -needs:config-resetstat"
tags="$tags -needs:reset -needs:save -needs:latency -needs:local-process"

server_pid=""
stop_server() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
    server_pid=""
  fi
}
trap stop_server EXIT

# start_server KIND BIN DIR LOG: starts one server on $port in DIR, waits until it answers PING.
start_server() {
  local kind="$1" bin="$2" dir="$3" log="$4"
  rm -rf "$dir" && mkdir -p "$dir"
  case "$kind" in
    meshkv) "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" >"$log" 2>&1 & ;;
    redis) "$bin" --port "$port" --bind 127.0.0.1 --dir "$dir" --save "" --appendonly no \
      --daemonize no --logfile "" >"$log" 2>&1 & ;;
  esac
  server_pid=$!
  for _ in $(seq 100); do
    if redis-cli -p "$port" ping 2>/dev/null | grep -q PONG; then return 0; fi
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  echo "$kind did not start on port $port (log: $log)" >&2
  tail -5 "$log" >&2
  exit 1
}

# run_unit KIND BIN UNIT: runs one unit against a fresh server; sets u_ok u_err u_skip u_note.
run_unit() {
  local kind="$1" bin="$2" unit="$3"
  local base="$logs/$kind-${unit//\//_}"
  start_server "$kind" "$bin" "$base.dir" "$base.server.log"
  local rc=0
  (cd "$suite" && TERM=dumb timeout -k 10 "$timeout_s" tclsh tests/test_helper.tcl --host 127.0.0.1 --port "$port" \
    --tags "$tags" --durable --ignore-encoding --ignore-digest ${baseport:+--baseport "$baseport"} \
    --single "unit/$unit") \
    >"$base.out" 2>&1 </dev/null || rc=$?
  stop_server
  u_ok=$(grep -c '^\[ok\]: ' "$base.out" || true)
  u_err=$(grep -c '^\[err\]: ' "$base.out" || true)
  u_skip=$(grep -c '^\[\(skip\|ignore\)\]: ' "$base.out" || true)
  u_note=""
  if [ "$rc" = 124 ] || [ "$rc" = 137 ]; then
    u_note="timed out after ${timeout_s}s"
  elif grep -q '^\[exception\]: ' "$base.out"; then
    u_note="aborted: $(grep -m1 -A1 '^\[exception\]: ' "$base.out" | tail -1 | cut -c1-60)"
  elif ! grep -q 'All tests passed\|tests failed' "$base.out"; then
    u_note="ended early (rc $rc)"
  fi
}

printf '%-14s | %6s %5s %5s | %6s %5s %5s | %s\n' unit "meshkv" err skip "redis" err skip note
printf -- '---------------+--------------------+--------------------+-----\n'
tm=(0 0 0) tr=(0 0 0)
for unit in $units; do
  if [ "$meshkv" != none ]; then
    run_unit meshkv "$meshkv" "$unit"
    mo=$u_ok me=$u_err ms=$u_skip mnote=$u_note
  else
    mo=- me=- ms=- mnote=""
  fi
  if [ "$redis" != none ]; then
    run_unit redis "$redis" "$unit"
    ro=$u_ok re=$u_err rs=$u_skip rnote=$u_note
  else
    ro=- re=- rs=- rnote=""
  fi
  note="${mnote:+meshkv $mnote}${rnote:+; redis $rnote}"
  printf '%-14s | %6s %5s %5s | %6s %5s %5s | %s\n' "$unit" "$mo" "$me" "$ms" "$ro" "$re" "$rs" "$note"
  [ "$meshkv" != none ] && tm=($((tm[0] + mo)) $((tm[1] + me)) $((tm[2] + ms)))
  [ "$redis" != none ] && tr=($((tr[0] + ro)) $((tr[1] + re)) $((tr[2] + rs)))
done
printf -- '---------------+--------------------+--------------------+-----\n'
printf '%-14s | %6s %5s %5s | %6s %5s %5s |\n' total "${tm[@]}" "${tr[@]}"
echo "logs: $logs (each unit's suite output in <server>-<unit>.out)"
