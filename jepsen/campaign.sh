#!/usr/bin/env bash
# Runs many randomized Jepsen-style runs one after another and appends one line per run to a
# table: `jepsen/campaign.sh COUNT SECS FIRST_SEED [TABLE]` (as root, after
# `cargo build --release -p meshkv-server -p meshkv-latency-proxy -p meshkv-jepsen`).
#
# Each run's parameters (3 or 5 nodes, tier, topology, faults) are drawn from its seed, so a line
# of the table is reproduced by the command it names. Reports go to jepsen/store/campaign-<seed>;
# those of valid runs are trimmed to their summary, verdict, schedule and plots (the history and the
# nodes' data of a failed run are kept).
set -uo pipefail
cd "$(dirname "$0")/.."
count="${1:?count}"; secs="${2:?seconds per run}"; first="${3:?first seed}"
table="${4:-jepsen/store/campaign.tsv}"
bin="${CARGO_TARGET_DIR:-target}/release"
mkdir -p jepsen/store
[ -f "$table" ] || printf 'seed\tnodes\ttier\ttopology\tnemesis\tsecs\tverdict\tops_ok\tops_info\tconverged_ms\tlost_adds\tacked_adds\tlost_incr\tacked_incr\tfailures\tdocumented\n' > "$table"
tiers=(ram flash-always flash-everysec)
topologies=(mesh chain ring no-forward)
kinds=(isolate halves bridge ring kill pause clock latency backlog combined)
failed_in_a_row=0
for ((i = 0; i < count; i++)); do
  seed=$((first + i))
  RANDOM=$seed
  nodes=$((RANDOM % 2 == 0 ? 3 : 5))
  tier=${tiers[$((RANDOM % 3))]}
  topology=${topologies[$((RANDOM % 4))]}
  if ((RANDOM % 3 == 0)); then
    nemesis=all
  else
    nemesis=$(printf '%s\n' "${kinds[@]}" | awk -v s="$seed" 'BEGIN{srand(s)} {print rand() "\t" $0}' | sort | head -3 | cut -f2 | paste -sd,)
  fi
  out="jepsen/store/campaign-$seed"
  rm -rf "$out"
  "$bin/meshkv-jepsen" --nodes "$nodes" --time "$secs" --nemesis "$nemesis" --tier "$tier" --topology "$topology" \
    --seed "$seed" --server-bin "$bin/meshkv-server" --proxy-bin "$bin/meshkv-latency-proxy" --out "$out" \
    > "$out.log" 2>&1
  rc=$?
  row=$(python3 - "$out" "$rc" <<'PY'
import json, sys
out, rc = sys.argv[1], int(sys.argv[2])
try:
    v = json.load(open(out + "/verdict.json"))
except Exception:
    print("\t".join(["no-verdict(rc=%d)" % rc] + ["-"] * 9)); sys.exit()
s = v["stats"]
fails = [a["kind"] for a in v["anomalies"] if not a.get("documented")]
docs = [a["kind"] for a in v["anomalies"] if a.get("documented")]
kinds = lambda l: ",".join(sorted(set(l))) or "-"
print("\t".join(map(str, ["valid" if v["valid"] else "INVALID", s["ops_ok"], s["ops_info"],
    v.get("convergence_ms") if v.get("convergence_ms") is not None else "never",
    s["lost_adds"], s["acked_adds"], s["lost_increments"], s["acked_increments"], kinds(fails), kinds(docs)])))
PY
)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$seed" "$nodes" "$tier" "$topology" "$nemesis" "$secs" "$row" >> "$table"
  echo "$(date -u +%H:%M:%S) seed $seed: $row"
  if [ "$rc" = 0 ]; then
    # Keep the nodes' logs (what the faults did), not their data.
    find "$out/nodes" -mindepth 2 -maxdepth 2 ! -name '*.log' -exec rm -rf {} +
    rm -f "$out/history.jsonl"
  fi
  # A run that could not be carried out (exit 2) is no finding: stop after three in a row rather
  # than burn the seeds.
  if [ "$rc" = 2 ]; then
    failed_in_a_row=$((failed_in_a_row + 1))
    [ "$failed_in_a_row" -ge 3 ] && { echo "three runs in a row could not be carried out; stopping"; exit 2; }
    sleep 5
  else
    failed_in_a_row=0
  fi
done
