#!/usr/bin/env python3
"""Multi-region benchmark: docker-compose.regions.yml's three regions, for real.

Brings the regions up (a compose project of its own, free host ports; the image must exist:
scripts/docker-local.sh), then measures
  local writes   redis-benchmark SET, 1 client, run in each region's client container against its
                 own master: p50 and p99 (ms), next to the one-way delays to the other regions
  lag            for each ordered pair of regions, probe keys written to one master 100 per second
                 and watched for on the other (benches/repl.py's LagProbe): p50 and p99 (ms) from
                 the write's reply to the key seen, against the pair's one-way delay
and takes everything down again (`down -v`). Python 3 standard library only.

    python3 benches/regions.py [--delays EU,US,AP] [--requests N] [--lag-seconds S]

--delays sets each region's gateway delay in ms (default 15,30,50: one-way eu-us 45, eu-ap 65,
us-ap 80; a round trip costs twice).
"""

import argparse
import contextlib
import csv
import io
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import fail, free_port  # noqa: E402
from repl import LagProbe, call, connected_peers, markdown_table, percentile, wait_until  # noqa: E402

REGIONS = ("eu", "us", "ap")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def compose(env, *args, capture=False):
    argv = ["docker-compose", "-p", env["PROJECT"], "-f", os.path.join(ROOT, "docker-compose.regions.yml"), *args]
    done = subprocess.run(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    if done.returncode != 0:
        fail(f"{' '.join(argv)} failed:\n{done.stderr}")
    return done.stdout


def local_writes(env, region, requests):
    """p50 and p99 (ms) of SET from the region's client to its master."""
    out = compose(env, "exec", "-T", f"client-{region}", "redis-benchmark", "-h", f"node-{region}", "-t", "set",
                  "-n", str(requests), "-c", "1", "-r", "100000", "--csv", capture=True)
    row = next(csv.DictReader(io.StringIO(out)))
    return float(row["p50_latency_ms"]), float(row["p99_latency_ms"])


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--delays", default="15,30,50", help="gateway delays in ms for eu,us,ap")
    parser.add_argument("--requests", type=int, default=2000, help="SETs per region for local latency")
    parser.add_argument("--lag-seconds", type=float, default=5.0, help="probing time per pair")
    args = parser.parse_args()
    delays = dict(zip(REGIONS, (int(d) for d in args.delays.split(","))))
    ports = {r: free_port() for r in REGIONS}
    env = dict(os.environ, PROJECT=f"meshkv-bench-regions-{os.getpid()}",
               **{f"{r.upper()}_PORT": str(p) for r, p in ports.items()},
               **{f"{r.upper()}_DELAY_MS": str(d) for r, d in delays.items()})
    with contextlib.ExitStack() as stack:
        stack.callback(lambda: compose(env, "down", "-v", "--remove-orphans"))
        compose(env, "up", "-d")
        if wait_until(lambda: all(connected_peers(p) == 2 for p in ports.values()), 120) is None:
            fail("the regions' links did not come up")
        one_way = {(a, b): delays[a] + delays[b] for a in REGIONS for b in REGIONS if a != b}

        rows = []
        for r in REGIONS:
            p50, p99 = local_writes(env, r, args.requests)
            to_others = ", ".join(f"{o} {one_way[(r, o)]}" for o in REGIONS if o != r)
            rows.append([r, f"{p50:.3f}", f"{p99:.3f}", to_others])
        print(markdown_table(["region", "local SET p50 ms", "local SET p99 ms", "one-way delay to (ms)"], rows))
        print()

        rows = []
        for (a, b), delay in one_way.items():
            # The probes' keys are the same for every pair: clear them everywhere first (the flush
            # replicates), or the next pair's probes would be found at once.
            call(ports[a], "FLUSHALL")
            if wait_until(lambda: all(call(p, "DBSIZE") == 0 for p in ports.values()), 30) is None:
                fail("FLUSHALL did not reach every region")
            lags = LagProbe(ports[a], ports[b]).run(args.lag_seconds, 100)
            if not lags:
                fail(f"no probe from {a} reached {b}")
            ms = [x * 1000 for x in lags]
            rows.append([f"{a} -> {b}", delay, f"{percentile(ms, 0.5):.1f}", f"{percentile(ms, 0.99):.1f}", len(ms)])
        print(markdown_table(["link", "one-way delay ms", "lag p50 ms", "lag p99 ms", "probes"], rows))


if __name__ == "__main__":
    main()
