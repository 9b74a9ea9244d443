#!/usr/bin/env bash
# The Docker demos, for real: builds the image (scripts/docker-local.sh), brings up
# docker-compose.yml's three masters and checks them through their published ports (writes on
# each converge; a stopped and restarted container catches up; a conflict resolves alike
# everywhere), then docker-compose.regions.yml's three regions (local writes succeed in each
# region and converge over the TLS links between them). Everything it started is removed with
# `down -v` whatever happens.
#
#   tests/docker.sh          # 1-2 minutes once the base image exists (a minute more to make it)
#
# Skips, saying so, when no Docker Engine answers or docker-compose is missing. The compose
# projects get names of their own and free host ports, so a demo already running is not touched.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1; then
  echo "tests/docker.sh: SKIPPED: no Docker Engine answers (docker info failed)"
  exit 0
fi
if ! command -v docker-compose >/dev/null; then
  echo "tests/docker.sh: SKIPPED: docker-compose is not installed"
  exit 0
fi

started=$SECONDS
passed=0
project="meshkv-test-$$"
say() { echo "tests/docker.sh: $*"; }
ok() { passed=$((passed + 1)); say "ok: $*"; }
fail() { say "FAILED: $*"; exit 1; }

# Free loopback ports for the published ones.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
export NODE1_PORT NODE2_PORT NODE3_PORT EU_PORT US_PORT AP_PORT
NODE1_PORT=$(free_port) NODE2_PORT=$(free_port) NODE3_PORT=$(free_port)
EU_PORT=$(free_port) US_PORT=$(free_port) AP_PORT=$(free_port)

three() { docker-compose -p "$project" -f docker-compose.yml "$@"; }
regions() { docker-compose -p "$project-regions" -f docker-compose.regions.yml "$@"; }
cleanup() {
  local status=$?
  if [ $status -ne 0 ]; then
    say "logs of the failed run:"
    three logs --tail=30 2>/dev/null || true
    regions logs --tail=30 2>/dev/null || true
  fi
  three down -v --remove-orphans >/dev/null 2>&1 || true
  regions down -v --remove-orphans >/dev/null 2>&1 || true
  say "took $((SECONDS - started)) s"
}
trap cleanup EXIT

cli() { local port=$1; shift; redis-cli -p "$port" "$@" | tr -d '\r'; }
# Waits up to $1 seconds for the command after it to succeed.
within() {
  local secs=$1; shift
  local until=$((SECONDS + secs))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $until ] || return 1
    sleep 0.2
  done
}
peers_connected() { # PORT COUNT: the node has COUNT peer links, all connected
  [ "$(cli "$1" info replication | grep -c '^peer[0-9]*:.*state=connected')" -eq "$2" ]
}
same_digest() { # PORT...: every node has the same data
  local first; first=$(cli "$1" debug digest)
  for p in "$@"; do [ "$(cli "$p" debug digest)" = "$first" ] || return 1; done
}
has_key() { [ "$(cli "$1" exists "$2")" = 1 ]; }
all_linked() { # SECS PORT...: every node gets two connected links within SECS seconds
  local secs=$1; shift
  for p in "$@"; do
    within "$secs" peers_connected "$p" 2 || fail "node on port $p: links not up: $(cli "$p" info replication | grep ^peer)"
  done
}

say "building the images"
scripts/docker-local.sh

# ---- docker-compose.yml: three masters --------------------------------------------------------
say "three masters: up"
three up -d
ports=("$NODE1_PORT" "$NODE2_PORT" "$NODE3_PORT")
all_linked 60 "${ports[@]}"
for c in node1 node2 node3; do
  within 60 sh -c "docker inspect -f '{{.State.Health.Status}}' \$(docker-compose -p $project -f docker-compose.yml ps -q $c) | grep -qx healthy" ||
    fail "$c never healthy (the image's HEALTHCHECK)"
done
ok "three masters up, healthy, each with two connected links"

for i in 1 2 3; do
  p=${ports[$((i - 1))]}
  [ "$(cli "$p" set "written-on-node$i" "$i")" = OK ] || fail "SET through node$i's published port"
  for n in $(seq 1 200); do echo "SET node$i:$n $n"; done | redis-cli -p "$p" >/dev/null
done
within 30 same_digest "${ports[@]}" || fail "no convergence after writes on each node"
for p in "${ports[@]}"; do
  [ "$(cli "$p" dbsize)" = 603 ] || fail "port $p has $(cli "$p" dbsize) keys, not 603"
  [ "$(cli "$p" get written-on-node2)" = 2 ] || fail "port $p lacks node2's write"
done
ok "writes through each published port reached all three (603 keys, same digest)"

# Stop node2: its name stops resolving, the others go on taking writes.
three stop node2 >/dev/null 2>&1
for n in $(seq 1 300); do echo "SET while-node2-away:$n $n"; done | redis-cli -p "$NODE1_PORT" >/dev/null
cli "$NODE3_PORT" set written-while-away yes >/dev/null
within 20 sh -c "redis-cli -p $NODE1_PORT info replication | grep '^peer.*host=node2,' | grep -q 'state=down\|state=connecting'" ||
  fail "node1 does not see node2 gone"
ok "node2 stopped; node1 and node3 took writes ($(cli "$NODE1_PORT" info replication | grep -o 'host=node2.*last_error=[^,]*' | sed 's/.*last_error=//'))"
three start node2 >/dev/null 2>&1
within 60 same_digest "${ports[@]}" || fail "node2 did not catch up"
[ "$(cli "$NODE2_PORT" dbsize)" = 904 ] || fail "node2 has $(cli "$NODE2_PORT" dbsize) keys after catching up, not 904"
within 30 peers_connected "$NODE2_PORT" 2 || fail "node2's links are not back"
within 30 peers_connected "$NODE1_PORT" 2 || fail "node1's link to the restarted node2 is not back (name looked up again?)"
cli "$NODE2_PORT" info replication | grep '^peer' | grep -q 'sync=partial' ||
  fail "node2 caught up by a full sync, not from its peers' backlogs: $(cli "$NODE2_PORT" info replication | grep ^peer)"
ok "node2 restarted, kept its FLASH data, caught up by partial resync (904 keys); links to it are back"

# A conflict: the same key written on two nodes at once ends with one value everywhere.
cli "$NODE1_PORT" set contested from-node1 >/dev/null &
cli "$NODE3_PORT" set contested from-node3 >/dev/null &
wait
within 20 same_digest "${ports[@]}" || fail "the conflict did not converge"
stamp=$(cli "$NODE1_PORT" meshkv.stamp contested | tr '\n' ' ')
for p in "${ports[@]}"; do
  [ "$(cli "$p" meshkv.stamp contested | tr '\n' ' ')" = "$stamp" ] || fail "MESHKV.STAMP differs on port $p"
done
ok "concurrent writes of one key resolved alike on all three: $(cli "$NODE2_PORT" get contested), stamp $stamp"
three down -v >/dev/null 2>&1

# ---- docker-compose.regions.yml: three regions, TLS between them ------------------------------
say "three regions: up"
regions up -d
rports=("$EU_PORT" "$US_PORT" "$AP_PORT")
all_linked 90 "${rports[@]}"
ok "three regions up; each master has two TLS links through the gateways"

for r in eu us ap; do
  reply=$(regions exec -T "client-$r" redis-cli -h "node-$r" set "written-in-$r" "$r" | tr -d '\r')
  [ "$reply" = OK ] || fail "local write in $r: $reply"
  regions exec -T "client-$r" redis-benchmark -h "node-$r" -t set -n 300 -c 1 -r 1000 -q >/dev/null ||
    fail "redis-benchmark in $r"
done
ok "local writes succeeded in every region"
within 60 same_digest "${rports[@]}" || fail "regions did not converge"
for p in "${rports[@]}"; do
  for r in eu us ap; do has_key "$p" "written-in-$r" || fail "port $p lacks written-in-$r"; done
done
ok "every region has every region's writes (same digest)"

# The TLS port refuses a client without a certificate the demo CA signed.
reply=$(regions exec -T client-eu redis-cli -h node-eu -p 6380 --tls --insecure ping 2>&1 | tr -d '\r' || true)
[ "$reply" != PONG ] || fail "node-eu's TLS port served a client without a certificate"
ok "the TLS port refuses a client without a certificate ($reply)"

say "$passed passed, 0 failed"
