#!/usr/bin/env python3
"""Memory per key: meshkv-server against redis-server, side by side, one case at a time.

For each case (1M strings of 100 bytes, 1M integers, 1M hashes / sets / sorted sets of 10
elements) starts a fresh redis-server (`--save '' --appendonly no`) and a fresh meshkv-server
(`--save ''`, no AOF) for every meshkv build given, loads the same keys into each through
`redis-cli --pipe`, asks it to MEMORY PURGE (return the pages jemalloc holds free), and reads RSS
(/proc/PID/status) and INFO `used_memory`. For every server it
also sums MEMORY USAGE over a random sample of the keys and scales the sum up to all keys: beside
`used_memory` less what the empty server used, that shows whether MEMORY USAGE accounts for what
the keys cost. Python 3 standard library, redis-server and redis-cli 7.

    python3 benches/memory.py [--keys 1000000] [--cases strings,ints,...] [--meshkv PATH ...]

See benches/README.md for the columns.
"""

import argparse
import os
import random
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import (Server, default_meshkv, fail, fmt_table, pipe_load, redis_version, rss_bytes,  # noqa: E402
                  unwind_on_signals)
from repl import Client, call, info  # noqa: E402

MIB = 1024 * 1024
ELEMENTS = 10  # fields, members of each collection


def resp(*args):
    """One command in RESP (arguments as bytes)."""
    return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)


# Each case: the command that creates key number i (as RESP), and the key's name. Key names are
# redis-benchmark's shape (a prefix and 12 digits); elements are small, as in the issue's "small
# collections": Redis keeps all of these in its compact encodings (listpack, or an integer in the
# object) except sets of strings, which Redis 7.0 keeps in a hash table.
VALUE = b"v" * 100
FIELDS = [(b"field:%d" % f, b"value:%d" % f) for f in range(ELEMENTS)]
MEMBERS = [b"member:%d" % m for m in range(ELEMENTS)]
CASES = {
    "strings": ("1M x 100-byte strings", b"key:%012d",
                lambda key, i: resp(b"SET", key, VALUE)),
    "ints": ("1M integers", b"int:%012d",
             lambda key, i: resp(b"SET", key, b"%d" % (i * 7919 % 1_000_000_007))),
    "hashes": (f"1M hashes of {ELEMENTS} fields", b"hash:%012d",
               lambda key, i: resp(b"HSET", key, *(x for pair in FIELDS for x in pair))),
    "sets": (f"1M sets of {ELEMENTS} members", b"set:%012d",
             lambda key, i: resp(b"SADD", key, *MEMBERS)),
    "zsets": (f"1M sorted sets of {ELEMENTS} members", b"zset:%012d",
              lambda key, i: resp(b"ZADD", key, *(x for m, member in enumerate(MEMBERS) for x in (b"%d" % m, member)))),
}


def load(server, keys, key_name, command):
    """Sends the case's command for every key through one `redis-cli --pipe`."""
    pipe_load(server, (command(key_name % i, i) for i in range(keys)))


def used_memory(server):
    return int(info(server.port, "memory")["used_memory"])


def usage_scaled(server, keys, key_name, sample):
    """The sum of MEMORY USAGE over `sample` random keys, scaled up to all `keys`."""
    picked = random.Random(7).sample(range(keys), min(sample, keys))
    client = Client(server.port, timeout=60)
    try:
        total = 0
        for start in range(0, len(picked), 1000):
            batch = picked[start:start + 1000]
            client.send(*((b"MEMORY", b"USAGE", key_name % i) for i in batch))
            for i in batch:
                n = client.read()
                if not isinstance(n, int):
                    fail(f"MEMORY USAGE {(key_name % i).decode()} on {server.name}: {n!r}")
                total += n
    finally:
        client.close()
    return total * keys / len(picked)


class FreshServer(Server):
    """load.py's server, stopped if it fails to come up (load.py's exits with the script)."""

    def wait_ready(self, timeout=15.0):
        try:
            super().wait_ready(timeout)
        except BaseException:
            self.stop()
            raise


def measure(name, argv, workdir, port, keys, case, sample):
    """Starts a fresh server, loads the case into it, and returns what the table shows of it."""
    _, key_name, command = CASES[case]
    server = FreshServer(name, argv, workdir, port=port)
    try:
        empty = used_memory(server)
        started = time.monotonic()
        load(server, keys, key_name, command)
        loaded_s = time.monotonic() - started
        if int(info(server.port, "keyspace").get("db0", "keys=0").split(",")[0].split("=")[1]) != keys:
            fail(f"{name} holds {info(server.port, 'keyspace').get('db0')} after loading {keys} keys")
        # Freed pages that jemalloc has not yet given back (meshkv frees the old copy of each
        # shard's table as it grows) are returned first: how many were still resident when a load
        # ended varied by 80 MiB between runs of the same build. Both servers get the same.
        if call(server.port, "MEMORY", "PURGE") != "OK":
            fail(f"MEMORY PURGE failed on {name}")
        time.sleep(0.5)
        used = used_memory(server)
        return {
            "rss": rss_bytes(server.proc.pid),
            "used": used,
            "per_key": (used - empty) / keys,
            "usage_vs_used": usage_scaled(server, keys, key_name, sample) / max(used - empty, 1),
            "load_s": loaded_s,
        }
    finally:
        server.stop()


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meshkv", action="append", metavar="[LABEL=]PATH",
                   help="a meshkv-server binary; repeat it to compare builds in one run "
                        "(default: %s)" % default_meshkv())
    p.add_argument("--redis-server", default="redis-server", help="redis-server binary (default: on PATH)")
    p.add_argument("--keys", "-k", type=int, default=1_000_000, help="keys per case (default 1000000)")
    p.add_argument("--cases", default=",".join(CASES), help="comma-separated subset of: %s" % ", ".join(CASES))
    p.add_argument("--sample", type=int, default=10_000, help="keys whose MEMORY USAGE is summed (default 10000)")
    p.add_argument("--port", type=int, help="first of the loopback ports to use, one per server "
                                            "(default: free ports the system picks)")
    args = p.parse_args()
    cases = [c.strip() for c in args.cases.split(",") if c.strip()]
    for case in cases:
        if case not in CASES:
            fail(f"unknown case {case!r}; the cases are {', '.join(CASES)}")
    if args.keys <= 0 or args.sample <= 0:
        fail("--keys and --sample must be positive")
    builds = []
    for spec in args.meshkv or [default_meshkv()]:
        label, _, path = spec.rpartition("=")
        if not os.path.isfile(path):
            fail(f"meshkv-server not found at {path}: build it with `cargo build --release -p meshkv-server` "
                 "(or pass --meshkv PATH)")
        builds.append((label or ("meshkv" if len(args.meshkv or []) <= 1 else path), path))
    for tool in (args.redis_server, "redis-cli"):
        if shutil.which(tool) is None:
            fail(f"`{tool}` not found: install Redis 7 (e.g. `apt-get install redis-server redis-tools`)")

    unwind_on_signals()
    workdir = tempfile.mkdtemp(prefix="meshkv-memory-")
    ports = iter(range(args.port, args.port + 1000)) if args.port else None
    counter = iter(range(1_000_000))

    def next_port():
        return next(ports) if ports else None

    print(f"redis {redis_version(args.redis_server)}; {args.keys:,} keys per case; "
          f"MEMORY USAGE summed over {min(args.sample, args.keys):,} random keys", flush=True)
    for label, path in builds:
        print(f"{label}: {path}")
    print()
    header = ["case", "build", "meshkv RSS MiB", "redis RSS MiB", "ratio", "meshkv B/key",
              "redis B/key", "meshkv usage/used", "redis usage/used"]
    rows = []
    try:
        for case in cases:
            title = CASES[case][0].replace("1M", f"{args.keys:,}" if args.keys != 1_000_000 else "1M")
            print(f"  {title}: redis-server ...", file=sys.stderr, flush=True)
            redis = measure(f"redis-{case}-{next(counter)}",
                            lambda port, d: [args.redis_server, "--port", str(port), "--bind", "127.0.0.1",
                                             "--save", "", "--appendonly", "no", "--dir", d],
                            workdir, next_port(), args.keys, case, args.sample)
            for label, path in builds:
                print(f"  {title}: {label} ...", file=sys.stderr, flush=True)
                m = measure(f"meshkv-{case}-{next(counter)}",
                            lambda port, d, path=path: [path, "--port", str(port), "--dir", d, "--save", ""],
                            workdir, next_port(), args.keys, case, args.sample)
                rows.append([
                    title, label, f"{m['rss'] / MIB:.0f}", f"{redis['rss'] / MIB:.0f}",
                    f"{m['rss'] / redis['rss']:.2f}", f"{m['per_key']:.0f}", f"{redis['per_key']:.0f}",
                    f"{m['usage_vs_used']:.2f}", f"{redis['usage_vs_used']:.2f}",
                ])
                print(fmt_table(header, rows[-1:]).splitlines()[-1], file=sys.stderr, flush=True)
        print(fmt_table(header, rows))
    except KeyboardInterrupt:
        print("\nmemory.py: interrupted", file=sys.stderr)
        return 130
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
