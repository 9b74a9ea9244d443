#!/usr/bin/env python3
"""FLASH tier benchmark: a dataset ten times larger than maxmemory, against the same dataset in RAM.

Starts meshkv-server twice, side by side: once with everything in RAM (no maxmemory), once
with `storage-provider flash` and `maxmemory` at one tenth of the dataset (allkeys-lfu: the policy
for skewed access, which keeps frequently read keys over recently loaded one-off ones). Loads the
same N keys into each (`redis-cli --pipe`), then drives each with redis-benchmark:

  GET uniform   every key equally likely (-r N)
  GET skewed    90% of requests on the hottest 10% of keys (a second, concurrent redis-benchmark
                with -r N/10 sends nine times as many requests as the uniform one)
  SET uniform / SET skewed  the same for writes

Both servers stay up; each workload runs on the all-in-RAM one, then on the flash one, --repeat
times, so each ratio compares runs seconds apart. Prints one table: the median ops/s of each setup,
the median flash/RAM ratio and every ratio measured, and the flash server's resident memory (RSS)
and used_memory against maxmemory. Python 3 standard library only.

    python3 benches/flash.py [--meshkv PATH] [--keys N] [--value-size BYTES] [--requests N]
                             [--ram-fraction F] [--policy P] [--repeat R] [--quick]
                             [--workloads W,...]

The write-heavy case is a second table (`--write-heavy`, alone): a flash server with
`maxmemory 64mb` (--write-maxmemory) takes 600,000 random 1000-byte SETs at -P 16 from 50
clients over a keyspace of 100 million names (nearly every SET a new key, so the dataset outgrows
RAM ten times over), once with `appendfsync always` and once with `everysec`; the table gives
ops/s, the peak RSS sampled every 100 ms during the load, the RSS once it is over, and the peak's
excess over maxmemory, which the README bounds.

    python3 benches/flash.py --write-heavy [--meshkv PATH] [--write-requests N] [--write-maxmemory BYTES]

See benches/README.md for how to read the table.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import Server, default_meshkv, fail, fmt_table, pipe_load, rss_bytes, unwind_on_signals  # noqa: E402


def info(server, field):
    out = subprocess.run(["redis-cli", "-p", str(server.port), "INFO"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith(field + ":"):
            return line.split(":", 1)[1].strip()
    return ""


def load(server, keys, value_size):
    """SETs key:000000000000 .. key:N-1 (redis-benchmark's key names) through redis-cli --pipe."""
    value = b"v" * value_size

    def set_key(i):
        key = b"key:%012d" % i
        return b"*3\r\n$3\r\nSET\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(key), key, len(value), value)

    pipe_load(server, (set_key(i) for i in range(keys)))


def bench(server, test, keys, requests, value_size, skewed):
    """Returns ops/s and the reads from flash (INFO flash_hits) of the timed run, and how many
    untimed warm-up passes ran before it. Skewed: 90% of the requests on keys 0..N/10, 10% uniform
    over all keys, after warm-up passes of the same mix until its reads from flash settle."""
    def argv(r, n, clients):
        return ["redis-benchmark", "-p", str(server.port), "-t", test, "-r", str(r), "-n", str(n),
                "-c", str(clients), "-P", "16", "-d", str(value_size), "-q"]

    def run(requests):
        runs = [(keys // 10, requests * 9 // 10, 45), (keys, requests // 10, 5)] if skewed else [(keys, requests, 50)]
        started = time.monotonic()
        procs = [subprocess.Popen(argv(*r), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for r in runs]
        for p in procs:
            if p.wait() != 0:
                fail(f"redis-benchmark failed against {server.name}")
        return sum(n for _, n, _ in runs) / (time.monotonic() - started)

    def timed_with_reads():
        before = int(info(server, "flash_hits") or 0)
        ops = run(requests)
        return ops, int(info(server, "flash_hits") or 0) - before

    # Skewed: the steady state of the workload, not the switch to it. The uniform run before it
    # leaves RAM full of keys it read several times each, which an LFU cache rightly keeps until
    # the hot keys have been read more often. That takes a few passes (the reads from flash per
    # request fell from 0.125 to 0.101 to 0.094 in the three passes after the uniform GETs), so
    # untimed passes run until one reads from flash within 5% as often as the pass before it, at
    # most WARM_UP_PASSES.
    passes = 0
    if skewed:
        _, last = timed_with_reads()
        passes = 1
        while passes < WARM_UP_PASSES:
            _, now = timed_with_reads()
            passes += 1
            if abs(now - last) <= 0.05 * last:
                break
            last = now
    return (*timed_with_reads(), passes)


def write_heavy(args):
    """The write-heavy case: one fresh flash server per fsync policy; returns the table's rows."""
    rows = []
    workdir = tempfile.mkdtemp(prefix="meshkv-flash-writes-")
    server = None
    try:
        for fsync in ("always", "everysec"):
            server = Server(f"flash-{fsync}", lambda port, d: [
                args.meshkv, "--port", str(port), "--dir", d, "--save", "",
                "--storage-provider", "flash", "flash-data", "--maxmemory", str(args.write_maxmemory),
                "--appendfsync", fsync], workdir)
            argv = ["redis-benchmark", "-p", str(server.port), "-t", "set", "-n", str(args.write_requests),
                    "-r", "100000000", "-d", "1000", "-c", "50", "-P", "16", "-q"]
            started = time.monotonic()
            bench_proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            peak = 0
            while bench_proc.poll() is None:
                peak = max(peak, rss_bytes(server.proc.pid))
                time.sleep(0.1)
            elapsed = time.monotonic() - started
            if bench_proc.returncode != 0:
                fail(f"redis-benchmark failed against {server.name}")
            time.sleep(2)
            after = rss_bytes(server.proc.pid)
            used = int(info(server, "used_memory") or 0)
            keys = info(server, "flash_keys")
            rows.append([fsync, f"{args.write_requests / elapsed:,.0f}", f"{peak / 2**20:.0f}", f"{after / 2**20:.0f}",
                         f"{(peak - args.write_maxmemory) / 2**20:.0f}", f"{used / 2**20:.0f}", keys])
            server.stop()
            server = None
    finally:
        if server is not None:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return rows


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--write-heavy", action="store_true",
                   help="run only the write-heavy case (random 1000-byte SETs, appendfsync always and everysec)")
    p.add_argument("--write-requests", type=int, default=600_000, help="SETs in the write-heavy case (default 600000)")
    p.add_argument("--write-maxmemory", type=int, default=64 << 20,
                   help="maxmemory in the write-heavy case, in bytes (default 64 MiB)")
    p.add_argument("--meshkv", default=default_meshkv(), help="meshkv-server binary (default: %(default)s)")
    p.add_argument("--keys", type=int, default=200_000, help="dataset size in keys (default 200000)")
    p.add_argument("--value-size", type=int, default=1024, help="value size in bytes (default 1024)")
    p.add_argument("--requests", "-n", type=int, default=1_000_000, help="requests per run (default 1000000)")
    p.add_argument("--ram-fraction", type=float, default=0.1,
                   help="flash maxmemory as a fraction of the dataset's size in RAM (default 0.1)")
    p.add_argument("--policy", default="allkeys-lfu", help="the flash server's maxmemory-policy (default %(default)s)")
    p.add_argument("--repeat", type=int, default=5,
                   help="runs of each workload on each server, alternating (default %(default)s)")
    p.add_argument("--quick", action="store_true", help="a smoke run: 20000 keys, 50000 requests, one run each")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="comma-separated workloads to run, in order (default: all four)")
    args = p.parse_args()
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    unknown = [w for w in args.workloads if w not in WORKLOADS]
    if unknown:
        fail(f"unknown workload(s) {unknown}: choose from {list(WORKLOADS)}")
    if args.quick:
        args.keys, args.requests, args.repeat = 20_000, 50_000, 1
    if args.repeat < 1:
        fail("--repeat must be at least 1")
    if not os.path.isfile(args.meshkv):
        fail(f"meshkv-server not found at {args.meshkv}: build it with `cargo build --release`")
    for tool in ("redis-benchmark", "redis-cli"):
        if shutil.which(tool) is None:
            fail(f"`{tool}` not found: install redis-tools")

    unwind_on_signals()

    if args.write_heavy:
        rows = write_heavy(args)
        print(f"write-heavy: {args.write_requests} random SETs of 1000 bytes (-r 100000000, 50 clients, -P 16) into a "
              f"flash server with maxmemory {args.write_maxmemory >> 20} MiB; RSS sampled every 100 ms")
        print(fmt_table(["appendfsync", "ops/s", "peak RSS MiB", "RSS after MiB", "peak over maxmemory MiB",
                         "used_memory MiB", "keys"], rows))
        return

    workdir = tempfile.mkdtemp(prefix="meshkv-flash-bench-")
    results, memory, warm_ups = {}, {}, {}
    ram = flash = None
    try:
        # The dataset's size in RAM, measured on the all-in-RAM server, sets maxmemory. Both
        # servers then stay up, and each workload runs on one, then the other, --repeat times: a
        # ratio is taken of runs a few seconds apart, so a machine that slows down or speeds up
        # meanwhile (this one varies by ±15% over minutes) moves both sides of it alike.
        ram = Server("ram", lambda port, d: [args.meshkv, "--port", str(port), "--dir", d, "--save", ""], workdir)
        base = int(info(ram, "used_memory"))
        print(f"loading {args.keys} keys of {args.value_size} bytes into the all-in-RAM server ...", file=sys.stderr)
        load(ram, args.keys, args.value_size)
        dataset = int(info(ram, "used_memory")) - base
        maxmemory = max(int(dataset * args.ram_fraction), 1 << 20)
        flash = Server("flash", lambda port, d: [
            args.meshkv, "--port", str(port), "--dir", d, "--save", "",
            "--storage-provider", "flash", "flash-data", "--maxmemory", str(maxmemory),
            "--maxmemory-policy", args.policy], workdir)
        print(f"loading the same keys into the flash server (maxmemory {maxmemory >> 20} MiB) ...", file=sys.stderr)
        load(flash, args.keys, args.value_size)
        for w in args.workloads:
            test, dist = w.split()
            pairs, reads = [], 0
            for _ in range(args.repeat):
                r, _, _ = bench(ram, test.lower(), args.keys, args.requests, args.value_size, dist == "skewed")
                f, n, passes = bench(flash, test.lower(), args.keys, args.requests, args.value_size, dist == "skewed")
                pairs.append((r, f))
                reads += n
                warm_ups.setdefault(w, []).append(passes)
            results[w] = pairs
            memory[w] = (rss_bytes(flash.proc.pid), int(info(flash, "used_memory") or 0), reads / args.repeat)
        memory["flash_keys"] = info(flash, "flash_keys")
        memory["ram_keys"] = info(flash, "flash_ram_keys")
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        sys.exit(130)
    finally:
        for server in (ram, flash):
            if server is not None:
                server.stop()
        shutil.rmtree(workdir, ignore_errors=True)

    header = ["workload", "all-in-RAM ops/s", "flash ops/s", "ratio (median)", "ratios", "flash reads/request",
              "flash RSS MiB", "used_memory MiB"]
    rows = []
    for w in args.workloads:
        pairs = results[w]
        ratios = sorted(f / r for r, f in pairs)
        rss, used, reads = memory[w]
        rows.append([w, f"{statistics.median(r for r, _ in pairs):,.0f}", f"{statistics.median(f for _, f in pairs):,.0f}",
                     f"{statistics.median(ratios):.2f}", " ".join(f"{x:.2f}" for x in ratios),
                     f"{reads / args.requests:.2f}", f"{rss / 2**20:.0f}", f"{used / 2**20:.0f}"])
    print(f"dataset: {args.keys} keys x {args.value_size} B = {dataset / 2**20:.0f} MiB in RAM; "
          f"flash maxmemory {maxmemory / 2**20:.0f} MiB ({args.policy}); after the runs {memory['ram_keys']} of "
          f"{memory['flash_keys']} keys in RAM; {args.requests} requests per run, 50 clients, -P 16; "
          f"{args.repeat} runs of each workload on each server, alternating (ops/s: medians)")
    print(fmt_table(header, rows))
    for w, passes in warm_ups.items():
        if any(passes):
            print(f"{w}: untimed warm-up passes before each timed flash run: {' '.join(map(str, passes))}")


WORKLOADS = ("GET uniform", "GET skewed", "SET uniform", "SET skewed")

# The most untimed passes of the skewed mix before each timed skewed run (see `bench`).
WARM_UP_PASSES = 5


if __name__ == "__main__":
    main()
