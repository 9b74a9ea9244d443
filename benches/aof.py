#!/usr/bin/env python3
"""Append-only file benchmark: SET throughput of meshkv (RAM mode, appendonly yes) against
redis-server with the same appendfsync policy, side by side, for always, everysec and no.

For each policy and pipeline depth, a fresh meshkv-server and a fresh redis-server (each with its
own temporary dir, `--appendonly yes --appendfsync POLICY --save ''`) are started, and
`redis-benchmark -t set -P 1|16 -c CLIENTS -n N -r 100000 -d 16 --csv` runs against one, then the
other, `--repeat` times, alternating. The table shows the medians, the ratio, latencies, server CPU
per million requests and the size of each server's append-only directory after its runs. Python 3
standard library only.

    python3 benches/aof.py [--meshkv PATH] [--requests N] [--clients 50] [--repeat 3] [--quick]

See benches/README.md for how to read the table.
"""

import argparse
import os
import shutil
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import Server, default_meshkv, fail, fmt_table, run_benchmark, unwind_on_signals  # noqa: E402

POLICIES = ("always", "everysec", "no")
PIPELINES = (1, 16)


def dir_size(path):
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(root, name))
            except OSError:
                pass
    return total


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meshkv", default=default_meshkv(), help="meshkv-server binary (default: %(default)s)")
    p.add_argument("--redis-server", default="redis-server", help="redis-server binary (default: on PATH)")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary (default: on PATH)")
    p.add_argument("--requests", "-n", type=int, help="requests per run (default 200000; 20000 with --quick)")
    p.add_argument("--clients", "-c", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--repeat", type=int, default=3, help="runs of each server per row, alternating (default 3)")
    p.add_argument("--quick", action="store_true", help="a smoke run with few requests, one run each")
    args = p.parse_args()
    if args.requests is None:
        args.requests = 20_000 if args.quick else 200_000
    if args.quick:
        args.repeat = 1
    if args.requests <= 0 or args.clients <= 0 or args.repeat <= 0:
        fail("--requests, --clients and --repeat must be positive")
    if not os.path.isfile(args.meshkv):
        fail(f"meshkv-server not found at {args.meshkv}: build it with `cargo build --release` (or pass --meshkv PATH)")
    for tool in (args.redis_server, args.redis_benchmark):
        if shutil.which(tool) is None:
            fail(f"`{tool}` not found: install Redis 7 (e.g. `apt-get install redis-server redis-tools`)")

    unwind_on_signals()
    workdir = tempfile.mkdtemp(prefix="meshkv-bench-aof-", dir=os.environ.get("AOF_BENCH_DIR"))
    servers = []
    print(f"machine: {os.cpu_count()} cores; {args.requests} SETs per run, {args.clients} clients, "
          f"16-byte values, 100000 random keys, {args.repeat} run(s) of each server per row, alternating; "
          f"files in {workdir}\n", flush=True)
    header = ["appendfsync", "pipeline", "meshkv ops/s", "redis ops/s", "ratio",
              "meshkv p50/p99 ms", "redis p50/p99 ms", "meshkv CPU s/1M", "redis CPU s/1M",
              "meshkv AOF MB", "redis AOF MB"]
    rows = []
    try:
        for policy in POLICIES:
            for pipeline in PIPELINES:
                tag = f"{policy}-P{pipeline}"
                meshkv = Server(
                    f"meshkv-{tag}",
                    lambda port, d: [args.meshkv, "--port", str(port), "--dir", d, "--save", "",
                                     "--appendonly", "yes", "--appendfsync", policy],
                    workdir,
                )
                servers.append(meshkv)
                redis = Server(
                    f"redis-{tag}",
                    lambda port, d: [args.redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                     "--save", "", "--appendonly", "yes", "--appendfsync", policy,
                                     "--dir", d],
                    workdir,
                )
                servers.append(redis)
                runs = {"meshkv": [], "redis": []}
                for i in range(args.repeat):
                    for server, name in ((meshkv, "meshkv"), (redis, "redis")):
                        print(f"  SET -P {pipeline} appendfsync {policy} against {name} ({i + 1}/{args.repeat}) ...",
                              file=sys.stderr, flush=True)
                        runs[name].append(run_benchmark(args.redis_benchmark, server, "set", pipeline, args))

                def median(name, field):
                    return statistics.median(float(row[field]) for row, _ in runs[name])

                def cpu(name):
                    return f"{statistics.median(c for _, c in runs[name]) / args.requests * 1e6:.2f}"

                m_rps, r_rps = median("meshkv", "rps"), median("redis", "rps")
                rows.append([
                    policy, pipeline, f"{m_rps:,.0f}", f"{r_rps:,.0f}", f"{m_rps / r_rps:.2f}" if r_rps else "-",
                    f"{median('meshkv', 'p50_latency_ms'):.3f}/{median('meshkv', 'p99_latency_ms'):.3f}",
                    f"{median('redis', 'p50_latency_ms'):.3f}/{median('redis', 'p99_latency_ms'):.3f}",
                    cpu("meshkv"), cpu("redis"),
                    f"{dir_size(meshkv.dir) / 1e6:.1f}", f"{dir_size(redis.dir) / 1e6:.1f}",
                ])
                for server in (meshkv, redis):
                    server.stop()
                    shutil.rmtree(server.dir, ignore_errors=True)
        print(fmt_table(header, rows))
        if args.quick:
            print("\n(--quick: too few requests for meaningful numbers; this was a smoke run)")
    except KeyboardInterrupt:
        print("\naof.py: interrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
