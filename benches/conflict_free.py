#!/usr/bin/env python3
"""What conflict-free counters and sets cost (issue 24): memory per set member and per counter,
bytes on the replication link per SADD and INCR, and CPU per SADD and INCR, for a standalone
meshkv node, a replicated one (two masters, each `replicaof` the other: its writes make counters
and dotted sets) and redis-server, side by side in one run.

  memory   N sets of 10 members and N hashes of 10 fields (SADD or HSET, one element at a time)
           and N counters (10 INCRBYs each);
           `used_memory` before and after, divided by members or counters (the replicated node
           is a master with no peer and a 16 KB backlog: its values are made as with peers, and
           the backlog's contents are not counted as the keys')
  link     a set of S members (S = 10, 1000, 10000), then 200 SADDs of new members to it; the
           bytes the master sent its peer meanwhile (counted by a relay on the link) divided by
           200; the same for 200 INCRs of one counter
  cpu      redis-benchmark SADD and INCR, -P 16, 50 clients, 200000 requests: server CPU
           seconds per million requests (from /proc), and requests per second

Python 3 standard library, redis-benchmark and redis-server (tests/setup.sh installs them).

    python3 benches/conflict_free.py [--meshkv PATH] [--redis PATH] [--keys N] [--quick]
"""

import argparse
import os
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import Server, default_meshkv, fail, fmt_table, run_benchmark, unwind_on_signals  # noqa: E402
from repl import Client, Proxy, call, info  # noqa: E402


class CountingProxy(Proxy):
    """The replication benchmark's relay, counting the bytes it carries from the target (the
    master's replication stream to the peer that dials through it)."""

    def __init__(self, target_port):
        self.carried = 0
        super().__init__(target_port)

    def _pump(self, src, dst):
        from_target = src.getpeername()[1] == self.target
        try:
            while data := src.recv(1 << 16):
                if from_target:
                    self.carried += len(data)
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src, dst)


def meshkv_argv(binary, extra=()):
    return lambda port, d: [binary, "--port", str(port), "--dir", d, "--save", "", *extra]


def redis_argv(binary):
    return lambda port, d: [binary, "--port", str(port), "--dir", d, "--save", "", "--appendonly", "no"]


def used_memory(port):
    return int(info(port, "memory")["used_memory"])


def pipelined(port, commands, batch=1000):
    client = Client(port, timeout=60)
    try:
        for start in range(0, len(commands), batch):
            chunk = commands[start:start + batch]
            client.send(*chunk)
            for _ in chunk:
                client.read()
    finally:
        client.close()


def memory_rows(port, keys):
    """Bytes per set member, per hash field and per counter: used_memory growth over the load."""
    call(port, "FLUSHALL")
    time.sleep(0.5)
    before = used_memory(port)
    pipelined(port, [("SADD", f"set:{k}", f"member:{m}") for k in range(keys) for m in range(10)])
    time.sleep(0.5)
    per_member = (used_memory(port) - before) / (keys * 10)
    call(port, "FLUSHALL")
    time.sleep(0.5)
    before = used_memory(port)
    pipelined(port, [("HSET", f"hash:{k}", f"field:{f}", f"value:{f}") for k in range(keys) for f in range(10)])
    time.sleep(0.5)
    per_field = (used_memory(port) - before) / (keys * 10)
    call(port, "FLUSHALL")
    time.sleep(0.5)
    before = used_memory(port)
    pipelined(port, [("INCRBY", f"ctr:{k}", 3) for _ in range(10) for k in range(keys)])
    time.sleep(0.5)
    per_counter = (used_memory(port) - before) / keys
    call(port, "FLUSHALL")
    return per_member, per_field, per_counter


def link_rows(port, proxy):
    """Bytes the master sends its peer per SADD to sets of several sizes, and per INCR."""
    def quiet():
        # Until the link has carried everything sent so far: less than its keepalives (a few
        # bytes) in half a second.
        last = -(1 << 40)
        while proxy.carried - last > 256:
            last = proxy.carried
            time.sleep(0.5)

    def carried_by(commands):
        quiet()
        start = proxy.carried
        pipelined(port, commands, batch=1)
        quiet()
        return (proxy.carried - start) / len(commands)

    rows = {}
    for size in (10, 1000, 10000):
        key = f"big:{size}"
        pipelined(port, [["SADD", key] + [f"old:{i}" for i in range(size)]])  # one write: one state
        rows[f"SADD to a set of {size}"] = carried_by([("SADD", key, f"new:{i}") for i in range(200)])
    rows["INCR"] = carried_by([("INCR", "one-counter") for _ in range(200)])
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--meshkv", default=default_meshkv())
    parser.add_argument("--redis", default=shutil.which("redis-server") or "redis-server")
    parser.add_argument("--keys", type=int, default=50000)
    parser.add_argument("--requests", type=int, default=200000)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--quick", action="store_true", help="5000 keys, 50000 requests")
    args = parser.parse_args()
    if args.quick:
        args.keys, args.requests = 5000, 50000
    if not os.path.exists(args.meshkv):
        fail(f"no meshkv-server at {args.meshkv}: cargo build --release first")
    unwind_on_signals()
    workdir = tempfile.mkdtemp(prefix="meshkv-bench-crdt-")
    servers = []
    try:
        standalone = Server("meshkv", meshkv_argv(args.meshkv), workdir)
        servers.append(standalone)
        redis = Server("redis", redis_argv(args.redis), workdir)
        servers.append(redis)
        # A small backlog: the default one grows to its size under the load and would be counted
        # as the keys' memory.
        repl = ["--active-replica", "yes", "--multi-master", "yes", "--repl-backlog-size", "1mb"]
        master = Server("master", meshkv_argv(args.meshkv, repl), workdir)
        servers.append(master)
        peer = Server("peer", meshkv_argv(args.meshkv, repl + ["--replicaof", "127.0.0.1", str(master.port)]), workdir)
        servers.append(peer)
        call(master.port, "REPLICAOF", "127.0.0.1", peer.port)
        # The link measurement has a pair of its own, with a backlog that holds its whole load (a
        # follower that falls off the backlog resyncs in full, and would be counted so).
        big = ["--active-replica", "yes", "--multi-master", "yes", "--repl-backlog-size", "256mb"]
        sender = Server("sender", meshkv_argv(args.meshkv, big), workdir)
        servers.append(sender)
        proxy = CountingProxy(sender.port)
        receiver = Server("receiver", meshkv_argv(args.meshkv, big + ["--replicaof", "127.0.0.1", str(proxy.port)]), workdir)
        servers.append(receiver)
        time.sleep(1)

        # Memory is measured on a master of its own with no peer and the least backlog: what the
        # backlog holds (and its per-change bookkeeping, which depends on how large each change
        # is) is not the keys' memory.
        lone = Server("lone master", meshkv_argv(args.meshkv, repl[:4] + ["--repl-backlog-size", "16kb"]), workdir)
        servers.append(lone)
        memory = {name: memory_rows(s.port, args.keys) for name, s in
                  (("meshkv standalone", standalone), ("meshkv replicated", lone), ("redis-server", redis))}
        print(f"\nMemory (used_memory growth; {args.keys} sets of 10 members and hashes of 10 fields, one "
              f"SADD or HSET each, {args.keys} counters of 10 INCRBYs)\n")
        base = memory["meshkv standalone"]
        print(fmt_table(["server", "bytes per set member", "bytes per hash field", "bytes per counter",
                         "over standalone"],
                        [[n, f"{m:.0f}", f"{h:.0f}", f"{c:.0f}",
                          f"+{m - base[0]:.0f} B/member, +{h - base[1]:.0f} B/field, +{c - base[2]:.0f} B/counter"]
                         for n, (m, h, c) in memory.items()]))

        link = link_rows(sender.port, proxy)
        print("\nLink (bytes the master sends its peer per write)\n")
        print(fmt_table(["write", "bytes on the link"], [[k, f"{v:.0f}"] for k, v in link.items()]))

        rows = []
        for test in ("sadd", "incr"):
            for name, s in (("meshkv standalone", standalone), ("meshkv replicated", master), ("redis-server", redis)):
                row, cpu = run_benchmark("redis-benchmark", s, test, 16, args)
                rows.append([test.upper(), name, f"{float(row['rps']):.0f}", f"{cpu / args.requests * 1e6:.2f}"])
        print(f"\nThroughput (redis-benchmark -P 16, {args.clients} clients, {args.requests} requests, -r 100000)\n")
        print(fmt_table(["command", "server", "requests/s", "CPU s per 1M requests"], rows))
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
