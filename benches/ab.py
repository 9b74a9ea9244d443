#!/usr/bin/env python3
"""Two meshkv-server builds against each other: server CPU per request in alternating rounds.

This machine's speed drifts by ±15% over minutes, so two builds are only compared by runs seconds
apart: each round runs every case on build A and on build B, the round after in the other order,
and the table gives the medians and each round's B/A ratio of CPU per request (server utime +
stime from /proc, all threads). Uses load.py's servers and its redis-benchmark runner.

    python3 benches/ab.py OLD_BINARY NEW_BINARY [--rounds 3] [--requests 300000]
                          [--cases GET:16:1M,SET:1:one,...]

A case is TEST:PIPELINE:KEYS, TEST one of load.py's tests or of the small-collection tests below,
KEYS `one` (no -r), `10k` (-r 10000) or `1M` (-r 1000000). A case that reads (GET, MGET, HGET10,
HGETALL10, ZSCORE10, ZRANGE10, EXISTS10) first writes the keys it reads (SET, MSET, HSET10 or
ZADD10, uncounted). The small-collection tests are about hashes of ten short fields and sorted
sets of ten members, as benches/memory.py loads them: HSET10 writes all ten fields of a random
hash, HGET10 reads one field of one, HGETALL10 reads one whole; ZADD10, ZSCORE10 and ZRANGE10
(0 -1 WITHSCORES) the same for sorted sets (e.g. HGET10:16:10k). EXISTS10 asks whether ten random
keys exist (MSET writes them first, e.g. EXISTS10:16:1M).
"""

import argparse
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import KEYSPACES, TESTS, Server, fail, median, run_command, unwind_on_signals  # noqa: E402

DEFAULT_CASES = ("INCR:16:one,LPUSH:16:one,LPOP:16:one,MSET:16:one,MGET:16:one,MSET:16:1M,MGET:16:1M,"
                 "GET:16:1M,SET:16:1M,GET:1:one,SET:1:1M")
# What a read case writes first, so that it finds its keys.
FILL = {"GET": "SET", "MGET": "MSET", "HGET10": "HSET10", "HGETALL10": "HSET10", "ZSCORE10": "ZADD10",
        "ZRANGE10": "ZADD10", "EXISTS10": "MSET"}
# Hashes of ten short fields and sorted sets of ten members (as benches/memory.py's), beside
# load.py's tests.
SMALL_COLLECTION_TESTS = (
    ("HSET10", ["HSET", "hash:__rand_int__"] + [x for f in range(10) for x in (f"field:{f}", f"value:{f}")]),
    ("HGET10", ["HGET", "hash:__rand_int__", "field:7"]),
    ("HGETALL10", ["HGETALL", "hash:__rand_int__"]),
    ("ZADD10", ["ZADD", "zset:__rand_int__"] + [x for m in range(10) for x in (f"{m}", f"member:{m}")]),
    ("ZSCORE10", ["ZSCORE", "zset:__rand_int__", "member:7"]),
    ("ZRANGE10", ["ZRANGE", "zset:__rand_int__", "0", "-1", "WITHSCORES"]),
)
# Another command of many keys beside load.py's MGET and MSET: EXISTS of ten keys, which MSET wrote.
MULTI_KEY_TESTS = (("EXISTS10", ["EXISTS"] + ["key:__rand_int__"] * 10),)
ALL_TESTS = dict(TESTS + SMALL_COLLECTION_TESTS + MULTI_KEY_TESTS)
KEYS = {**KEYSPACES, "10k": (10_000, "-r 10k")}


def parse_case(text):
    try:
        test, pipeline, keys = text.split(":")
        if test.upper() not in ALL_TESTS or keys not in KEYS:
            raise ValueError
        return test.upper(), int(pipeline), KEYS[keys][0]
    except ValueError:
        fail(f"case {text!r}: expected TEST:PIPELINE:{'|'.join(KEYS)}, TEST one of {', '.join(ALL_TESTS)}")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("a", help="build A (the baseline): a meshkv-server binary")
    p.add_argument("b", help="build B: a meshkv-server binary")
    p.add_argument("--rounds", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--requests", "-n", type=int, default=300_000, help="requests per run (default 300000)")
    p.add_argument("--clients", "-c", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--cases", default=DEFAULT_CASES, help="comma-separated TEST:PIPELINE:one|1M (default: %(default)s)")
    args = p.parse_args()
    cases = [(text, *parse_case(text)) for text in args.cases.split(",") if text]
    for binary in (args.a, args.b):
        if not os.path.isfile(binary):
            fail(f"{binary}: no such file")
    if shutil.which("redis-benchmark") is None:
        fail("`redis-benchmark` not found: install Redis 7 (e.g. `apt-get install redis-tools`)")
    unwind_on_signals()
    selectors = ALL_TESTS
    workdir = tempfile.mkdtemp(prefix="meshkv-ab-")
    servers = {}
    try:
        for name, binary in (("A", args.a), ("B", args.b)):
            servers[name] = Server(name, lambda port, d, binary=binary: [binary, "--port", str(port), "--dir", d], workdir)
        results = {}  # case text -> build name -> [(ops/s, CPU µs per request)]
        for round_no in range(args.rounds):
            order = ("A", "B") if round_no % 2 == 0 else ("B", "A")
            for text, test, pipeline, keyspace in cases:
                for name in order:
                    server = servers[name]
                    print(f"  round {round_no + 1}: {text} on {name} ...", file=sys.stderr, flush=True)
                    if test in FILL:
                        run_command("redis-benchmark", server, selectors[FILL[test]], FILL[test], 16,
                                    args.requests, args.clients, keyspace)
                    row, cpu = run_command("redis-benchmark", server, selectors[test], test, pipeline,
                                           args.requests, args.clients, keyspace)
                    results.setdefault(text, {}).setdefault(name, []).append(
                        (float(row["rps"]), cpu / args.requests * 1e6))
        print(f"A: {args.a}\nB: {args.b}\n{args.rounds} rounds, {args.requests} requests per run, medians\n")
        print(f"{'case':14} {'A ops/s':>10} {'B ops/s':>10} {'A CPU µs':>9} {'B CPU µs':>9} {'B/A CPU':>8}  each round's B/A CPU")
        for text, *_ in cases:
            a, b = results[text]["A"], results[text]["B"]
            a_cpu, b_cpu = median(c for _, c in a), median(c for _, c in b)
            rounds = " ".join(f"{y / x:.2f}" if x else "-" for (_, x), (_, y) in zip(a, b))
            print(f"{text:14} {median(r for r, _ in a):10,.0f} {median(r for r, _ in b):10,.0f} "
                  f"{a_cpu:9.2f} {b_cpu:9.2f} {b_cpu / a_cpu if a_cpu else 0:8.2f}  {rounds}")
    except KeyboardInterrupt:
        print("\nab.py: interrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
