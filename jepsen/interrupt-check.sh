#!/usr/bin/env bash
# Checks that an interrupted run cleans up after itself: starts `meshkv-jepsen` with every fault
# kind on the FLASH tier (so a latency proxy, libfaketime, iptables rules and a node's data are all
# in play), sends it SIGINT (what Ctrl-C sends) while the nemesis is busy, and fails unless the
# suite exits with status 2 ("interrupted") within 60 s leaving no network namespace, bridge,
# FORWARD rule or process of its own behind.
#
#   jepsen/interrupt-check.sh BIN_DIR [SIGNAL]     # as root; BIN_DIR holds meshkv-server,
#                                                  # meshkv-latency-proxy and meshkv-jepsen
set -euo pipefail
bin="${1:?the folder holding meshkv-server, meshkv-latency-proxy and meshkv-jepsen}"
sig="${2:-INT}"
out="$(mktemp -d /tmp/meshkv-jepsen-interrupt.XXXXXX)"
fail() { echo "jepsen/interrupt-check.sh: FAILED: $*" >&2; exit 1; }

"$bin/meshkv-jepsen" --nodes 3 --time 60 --seed 3 --nemesis all --tier flash-always \
  --server-bin "$bin/meshkv-server" --proxy-bin "$bin/meshkv-latency-proxy" --out "$out/run" \
  > "$out/suite.log" 2>&1 &
suite=$!
# Interrupt once the cluster is up and the clients are running (the history is being written).
for _ in $(seq 1 60); do
  [ -s "$out/run/history.jsonl" ] || [ -n "$(ip netns list 2>/dev/null | grep mkj || true)" ] && break
  sleep 0.5
done
sleep 8
kill -0 "$suite" 2>/dev/null || fail "the suite ended before it could be interrupted: $(tail -5 "$out/suite.log")"
nodes_before=$(pgrep -fc -- "$out/run" || true)
[ "$nodes_before" -ge 3 ] || fail "expected the suite's nodes to be running before the signal, found $nodes_before processes"
started=$(date +%s)
kill -"$sig" "$suite"
rc=0
for _ in $(seq 1 120); do
  kill -0 "$suite" 2>/dev/null || break
  sleep 0.5
done
if kill -0 "$suite" 2>/dev/null; then
  kill -9 "$suite"
  fail "the suite did not end within 60 s of SIG$sig"
fi
wait "$suite" || rc=$?
took=$(($(date +%s) - started))
[ "$rc" = 2 ] || fail "exit status $rc after SIG$sig, expected 2 (interrupted): $(tail -5 "$out/suite.log")"
left=$(ip netns list 2>/dev/null | grep -c '^mkj' || true)
[ "$left" = 0 ] || fail "$left network namespace(s) left: $(ip netns list)"
ip link show mkj-br >/dev/null 2>&1 && fail "the bridge mkj-br was left"
iptables -S FORWARD 2>/dev/null | grep -q mkj-jepsen && fail "FORWARD rules left: $(iptables -S FORWARD | grep mkj-jepsen)"
procs=$(pgrep -fa -- "$out/run" || true)
[ -z "$procs" ] || fail "processes left: $procs"
grep -q "interrupted" "$out/suite.log" || fail "the suite did not say it was interrupted: $(tail -5 "$out/suite.log")"
echo "jepsen/interrupt-check.sh: SIG$sig ended the run in ${took} s (exit 2); no namespace, bridge, rule or process left ($nodes_before before)"
rm -rf "$out"
