#!/usr/bin/env python3
"""Replication benchmark: lag, write-throughput cost and partition recovery of an active-active mesh.

Each measurement starts fresh meshkv-server nodes on free loopback ports (`active-replica yes`,
`multi-master yes`, every node `replicaof` every other) and adds rows to one table:
  lag          two masters; SET load on A; probe keys written to A 200/s, watched for on B
  throughput   write loads (SET -P 16, SET -P 1, HSET -P 16) on a standalone node, then on node A
               of three masters: throughput and CPU per write of the master and of its peers
  partition    three masters linked through this script's TCP proxies, SET load on each; every
               link to and from C cut for 10 s; seconds after the load stops until DEBUG DIGEST
               is equal on all three
Python 3 standard library only.

    python3 benches/repl.py [--meshkv PATH] [--requests N] [--partition-seconds S] [--threads T]
                            [--lag-seconds S] [--only lag,throughput,partition] [--quick]
                            [--workloads set16,set1,hset16] [--rounds R]

See benches/README.md for what each measurement does and how to read the table.
"""

import argparse
import contextlib
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from load import Server, default_meshkv, fail, free_port, meshkv_threads, unwind_on_signals  # noqa: E402

HOST = "127.0.0.1"
MEASUREMENTS = ("lag", "throughput", "partition")
PROBE_RATE = 200  # probe writes per second in the lag measurement
FOREVER = 1_000_000_000  # redis-benchmark -n for a load that runs until it is stopped
BENCHMARK = "redis-benchmark"


class RespError(Exception):
    pass


class Client:
    """A minimal RESP client: send() any number of commands, read() one reply each. Strings come
    back as str (all this script reads is text)."""

    def __init__(self, port, timeout=10):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.file = self.sock.makefile("rb")

    def send(self, *commands):
        out = []
        for args in commands:
            args = [a if isinstance(a, bytes) else str(a).encode() for a in args]
            out.append(b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args))
        self.sock.sendall(b"".join(out))

    def read(self):
        line = self.file.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("connection closed")
        kind, rest = line[:1], line[1:-2]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            raise RespError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            return None if int(rest) < 0 else self.file.read(int(rest) + 2)[:-2].decode(errors="replace")
        if kind == b"*":
            return None if int(rest) < 0 else [self.read() for _ in range(int(rest))]
        raise ConnectionError(f"unexpected reply {line!r}")

    def call(self, *args):
        self.send(args)
        return self.read()

    def close(self):
        self.file.close()
        self.sock.close()


def call(port, *args):
    """One command on a connection of its own."""
    client = Client(port)
    try:
        return client.call(*args)
    finally:
        client.close()


def info(port, section):
    """The `name:value` lines of an INFO section, as a dict."""
    return dict(line.split(":", 1) for line in call(port, "INFO", section).splitlines() if ":" in line)


def connected_peers(port):
    """Peers that INFO replication shows as `peerN:host=...,port=...,state=connected,...`."""
    return sum(k.startswith("peer") and "state=connected" in v.split(",") for k, v in info(port, "replication").items())


class Proxy:
    """A TCP relay from a free loopback port to 127.0.0.1:target: one directed replication link.

    cut() closes its connections and, until heal(), closes every new one as soon as it is accepted
    (the kernel here has no netem to drop packets with)."""

    def __init__(self, target_port):
        self.target = target_port
        self.listener = socket.create_server((HOST, 0))
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.open = set()  # sockets of live connections, both sides
        self.is_cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:  # closed
                return
            try:
                upstream = None if self.is_cut else socket.create_connection((HOST, self.target), timeout=2)
            except OSError:  # the target is not up (yet): the dialing node tries again
                upstream = None
            with self.lock:
                if upstream is None or self.is_cut:  # refused: closed as soon as accepted
                    for s in filter(None, (client, upstream)):
                        s.close()
                    continue
                upstream.settimeout(None)
                self.open |= {client, upstream}
            for src, dst in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    def _pump(self, src, dst):
        try:
            while data := src.recv(1 << 16):
                dst.sendall(data)
        except OSError:
            pass
        self._drop(src, dst)

    def _drop(self, *socks):
        with self.lock:
            for s in socks:
                if s in self.open:
                    self.open.discard(s)
                    with contextlib.suppress(OSError):
                        s.shutdown(socket.SHUT_RDWR)  # wakes the pump blocked in recv() on it
                    s.close()

    def cut(self):
        with self.lock:
            self.is_cut = True
            live = list(self.open)
        self._drop(*live)

    def heal(self):
        self.is_cut = False  # the nodes reconnect by themselves

    def close(self):
        self.cut()
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept()
        self.listener.close()


def meshkv_argv(args, port, d):
    threads = ["--server-threads", str(args.threads)] if args.threads else []
    return [args.meshkv, "--port", str(port), "--bind", HOST, "--dir", d, "--save", ""] + threads


def start_mesh(names, args, workdir, stack, link=None):
    """Starts one node per name, each `replicaof` all the others, and waits until every link is up.
    link(x, y, port_of_y) gives the port x's replicaof dials to reach y (default: y's own)."""
    ports = {name: free_port() for name in names}
    nodes = []
    for name in names:
        peers = []
        for other in names:
            if other != name:
                dial = link(name, other, ports[other]) if link else ports[other]
                peers += ["--replicaof", HOST, str(dial)]
        extra = ["--active-replica", "yes", "--multi-master", "yes", "--repl-backlog-size", "256mb"] + peers
        node = Server(name, lambda port, d, extra=extra: meshkv_argv(args, port, d) + extra, workdir,
                      port=ports[name])
        stack.callback(node.stop)
        nodes.append(node)
    if wait_connected(nodes, 30) is None:
        report = "\n".join(f"--- {n.name}:\n{call(n.port, 'INFO', 'replication')}" for n in nodes)
        fail(f"the mesh {', '.join(names)} did not connect within 30 s:\n{report}")
    return nodes


def wait_until(condition, timeout):
    """Seconds until condition() holds (checked every 50 ms), or None after timeout seconds."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if condition():
            return time.monotonic() - start
        time.sleep(0.05)
    return None


def wait_connected(nodes, timeout):
    """Seconds until every node shows all the others as connected peers, or None."""
    return wait_until(lambda: all(connected_peers(n.port) == len(nodes) - 1 for n in nodes), timeout)


def wait_converged(nodes, timeout):
    """Seconds until DEBUG DIGEST is equal on all nodes, or None."""
    clients = [Client(n.port) for n in nodes]
    try:
        return wait_until(lambda: len({c.call("DEBUG", "DIGEST") for c in clients}) == 1, timeout)
    finally:
        for c in clients:
            c.close()


def start_load(node, keyspace, clients, workdir, stack, pipeline=16):
    """redis-benchmark SET -P pipeline against node until stopped; stack stops it at the latest."""
    log = open(os.path.join(workdir, f"load-{node.name}-P{pipeline}.log"), "wb")
    argv = [BENCHMARK, "-h", HOST, "-p", str(node.port), "-t", "set", "-P", str(pipeline), "-c", str(clients),
            "-r", str(keyspace), "-d", "16", "-n", str(FOREVER), "-q"]
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    proc.node, proc.log = node, log
    stack.callback(stop_loads, [proc], check=False)
    return proc


def stop_loads(procs, check=True):
    """Stops load generators; with check, one that had exited already (load missing) is an error."""
    procs = [p for p in procs if not p.log.closed]
    early = [p for p in procs if p.poll() is not None] if check else []
    for p in procs:
        if p.poll() is None:
            p.terminate()
        p.wait()
        p.log.close()
    for p in early:
        with open(p.log.name, "rb") as f:  # redis-benchmark -q ends its progress lines with \r
            tail = "\n".join(f.read().decode(errors="replace").replace("\r", "\n").split("\n")[-5:])
        fail(f"redis-benchmark against {p.node.name} exited early (status {p.returncode}):\n{tail}")


class LagProbe:
    """Writes probe:<i> to one node at a fixed rate (in the caller's thread) while a watcher thread
    asks another node for every probe not seen there yet, in one pipeline, about every ms."""

    def __init__(self, writer_port, watcher_port):
        self.writer, self.watcher = Client(writer_port), Client(watcher_port)
        self.sent = 0  # probes 0..sent-1 have been sent to the writer node
        self.acked, self.seen = {}, {}  # probe -> time.monotonic() of A's reply / of seeing it on B
        self.done = threading.Event()
        self.error = None

    def run(self, seconds, rate, grace=5.0):
        """Returns the lags in seconds, sorted, of the probes seen (probes never seen: sent - len)."""
        thread = threading.Thread(target=self._watch, daemon=True)
        thread.start()
        start = time.monotonic()
        while (due := start + self.sent / rate) < start + seconds and self.error is None:
            time.sleep(max(0.0, due - time.monotonic()))
            self.writer.send(("SET", f"probe:{self.sent}", "x"))
            self.sent += 1
            self.writer.read()
            self.acked[self.sent - 1] = time.monotonic()
        deadline = time.monotonic() + grace  # time for the last probes to arrive
        while len(self.seen) < self.sent and time.monotonic() < deadline and self.error is None:
            time.sleep(0.01)
        self.done.set()
        thread.join()
        self.writer.close()
        self.watcher.close()
        if self.error:
            raise self.error
        # A probe seen on B before A's reply reached the probe lagged less than we can measure.
        return sorted(max(0.0, self.seen[i] - self.acked[i]) for i in self.seen)

    def _watch(self):
        try:
            pending, known = [], 0
            while not self.done.is_set():
                sent = self.sent
                pending += range(known, sent)
                known = sent
                if pending:
                    self.watcher.send(*[("EXISTS", f"probe:{i}") for i in pending])
                    found = [self.watcher.read() for _ in pending]
                    now = time.monotonic()
                    self.seen.update((i, now) for i, f in zip(pending, found) if f)
                    pending = [i for i, f in zip(pending, found) if not f]
                time.sleep(0.001)
        except Exception as e:  # noqa: BLE001 - handed to the writer's thread
            self.error = e


def markdown_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def percentile(values, q):
    """Nearest rank: the smallest value that q of the values are at or below."""
    return values[max(0, math.ceil(len(values) * q) - 1)]


def measure_lag(args, workdir):
    """Two rows: under a moderate load (SET -P 1, 20 clients) and under a saturating one (SET -P 16,
    50 clients, which on a small machine also starves B of CPU)."""
    return [lag_under(args, workdir, pipeline, clients) for pipeline, clients in ((1, 20), (16, 50))]


def lag_under(args, workdir, pipeline, clients):
    with contextlib.ExitStack() as stack:
        a, b = start_mesh([f"lag{pipeline}-A", f"lag{pipeline}-B"], args, workdir, stack)
        load = start_load(a, 100_000, clients, workdir, stack, pipeline)
        time.sleep(args.warmup)
        commands = lambda: int(info(a.port, "stats").get("total_commands_processed", 0))
        before, started = commands(), time.monotonic()
        probe = LagProbe(a.port, b.port)
        lags = probe.run(args.lag_seconds, PROBE_RATE)
        load_rate = (commands() - before) / (time.monotonic() - started)
        stop_loads([load])
    missing = probe.sent - len(lags)
    what = f"replication lag A->B, SET -P {pipeline} load (p50 / p99)"
    notes = f"{len(lags)} probes at {PROBE_RATE}/s, A under SET -P {pipeline} x {clients} clients ({load_rate:,.0f} commands/s)"
    notes += f"; {missing} never seen on B" if missing else ""
    if not lags:
        return [what, "no probe seen on B", notes]
    ms = lambda q: f"{percentile(lags, q) * 1000:.2f}"
    return [what, f"{ms(0.5)} / {ms(0.99)} ms", notes]


# The write workloads of the throughput measurement: name -> (pipeline, redis-benchmark arguments).
# HSET writes small hashes: 100,000 keys of a few fields each.
WORKLOADS = {
    "set16": ("SET -P 16", 16, ["-t", "set"]),
    "set1": ("SET -P 1", 1, ["-t", "set"]),
    "hset16": ("HSET (small hashes) -P 16", 16, ["HSET", "h:__rand_int__", "f:__rand_int__", "v"]),
}
MASTER_TARGET = 1.25  # a master with two peers: at most this times a standalone node's CPU per write
PEER_TARGET = 0.5  # a peer applying a change: at most this times the master's CPU per write


def write_load(node, workload, args):
    """Runs one workload's redis-benchmark against node; returns requests per second."""
    _, pipeline, what = WORKLOADS[workload]
    argv = [BENCHMARK, "-h", HOST, "-p", str(node.port), "-n", str(args.requests), "-c", str(args.clients),
            "-P", str(pipeline), "-r", "100000", "-d", "16", "--csv"] + what
    done = subprocess.run(argv, capture_output=True, text=True)
    rows = [line.split('","') for line in done.stdout.splitlines() if line.startswith('"') and "rps" not in line]
    if done.returncode != 0 or not rows:
        fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    return float(rows[-1][1])


def settled_cpu(nodes, timeout=60):
    """The nodes' CPU seconds once none of them uses more than 20 ms in 300 ms: the peers have
    applied (and relayed) everything the load wrote, which they may still be doing when it ends."""
    last, start = [n.cpu() for n in nodes], time.monotonic()
    while time.monotonic() - start < timeout:
        time.sleep(0.3)
        now = [n.cpu() for n in nodes]
        if all(b - a < 0.02 for a, b in zip(last, now)):
            return now
        last = now
    return last


def median(values):
    values = sorted(values)
    return values[len(values) // 2] if len(values) % 2 else (values[len(values) // 2 - 1] + values[len(values) // 2]) / 2


def measure_throughput(args, workdir):
    """Per round: every workload against a fresh standalone node, then against node A of a fresh
    three-master mesh, reading each node's CPU seconds from /proc (the peers' once they are done
    applying). Rows per workload, medians over the rounds."""
    runs = {w: [] for w in args.workloads}  # workload -> [(solo rps, solo cpu, mesh rps, [A, B, C] cpu, caught up)]
    threads = None
    for round_ in range(args.rounds):
        with contextlib.ExitStack() as stack:
            solo = Server(f"solo{round_}", lambda port, d: meshkv_argv(args, port, d), workdir)
            stack.callback(solo.stop)
            threads = threads or meshkv_threads(solo)
            alone = {}
            for w in args.workloads:
                print(f"  round {round_ + 1}: {WORKLOADS[w][0]} against a standalone node ...", file=sys.stderr, flush=True)
                before = solo.cpu()
                rps = write_load(solo, w, args)
                alone[w] = (rps, solo.cpu() - before)
            solo.stop()

            nodes = start_mesh([f"tp{round_}-A", f"tp{round_}-B", f"tp{round_}-C"], args, workdir, stack)
            for w in args.workloads:
                print(f"  round {round_ + 1}: {WORKLOADS[w][0]} against node A of a 3-master mesh ...",
                      file=sys.stderr, flush=True)
                before = settled_cpu(nodes)
                rps = write_load(nodes[0], w, args)
                cpu = [b - a for a, b in zip(before, settled_cpu(nodes))]
                caught_up = wait_converged(nodes, 60)
                runs[w].append((*alone[w], rps, cpu, caught_up))
    per_m = lambda c: f"{c / args.requests * 1e6:.2f}"
    rows = []
    for w in args.workloads:
        name, r = WORKLOADS[w][0], runs[w]
        solo_rps, solo_cpu, mesh_rps = (median([x[i] for x in r]) for i in range(3))
        cpu = [median([x[3][i] for x in r]) for i in range(3)]
        master = median([x[3][0] / x[1] for x in r if x[1]]) if all(x[1] for x in r) else None
        peer = median([(x[3][1] + x[3][2]) / 2 / x[3][0] for x in r if x[3][0]]) if all(x[3][0] for x in r) else None
        ratio = median([x[2] / x[0] for x in r])
        late = [x[4] for x in r]
        rounds = f"median of {len(r)} rounds; " if len(r) > 1 else ""
        rows += [
            [f"{name} ops/s, standalone", f"{solo_rps:,.0f}",
             f"{rounds}CPU {per_m(solo_cpu)} s/1M requests; {threads or '?'} server threads per node"],
            [f"{name} ops/s, node A of a 3-master mesh", f"{mesh_rps:,.0f}",
             f"CPU s/1M requests: A {per_m(cpu[0])}, B {per_m(cpu[1])}, C {per_m(cpu[2])} (B and C once done "
             "applying); " + (f"B and C equal to A {max(late):.2f} s after the run" if None not in late
                              else "B and C NOT equal to A 60 s after the run")],
            ["  ratio mesh / standalone", f"{ratio:.2f}", "target >= 0.70" + ("" if ratio >= 0.7 else " (MISSED)")
             + "; B and C run on the same cores as A and the load generator"],
            ["  master CPU per write, mesh A / standalone", f"{master:.2f}" if master else "?",
             f"target <= {MASTER_TARGET}" + ("" if master and master <= MASTER_TARGET else " (MISSED)")
             + ": what replicating to two peers costs the master itself"],
            ["  peer CPU per applied write, mean of B and C / A", f"{peer:.2f}" if peer else "?",
             f"target <= {PEER_TARGET}" + ("" if peer and peer <= PEER_TARGET else " (MISSED)")
             + "; a peer also forwards each change to the other and skips the copy the other forwards"],
        ]
    return rows


def measure_partition(args, workdir):
    names = ["part-A", "part-B", "part-C"]
    with contextlib.ExitStack() as stack:
        proxies = {}

        def via_proxy(x, y, port_of_y):
            proxies[x, y] = proxy = Proxy(port_of_y)
            stack.callback(proxy.close)
            return proxy.port

        nodes = start_mesh(names, args, workdir, stack, link=via_proxy)
        loads = [start_load(n, 10_000, 20, workdir, stack) for n in nodes]
        time.sleep(args.warmup)
        links_of_c = [p for (x, y), p in proxies.items() if "part-C" in (x, y)]
        print(f"  cutting C off for {args.partition_seconds:g} s ...", file=sys.stderr, flush=True)
        for p in links_of_c:
            p.cut()
        time.sleep(args.partition_seconds / 2)
        isolated = [connected_peers(n.port) for n in nodes] == [1, 1, 0]  # A-B up, C cut off
        time.sleep(args.partition_seconds / 2)
        for p in links_of_c:
            p.heal()
        healed = time.monotonic()
        reconnected = wait_connected(nodes, args.after_heal)  # the load runs on meanwhile
        time.sleep(max(0.0, healed + args.after_heal - time.monotonic()))
        stop_loads(loads)
        converged = wait_converged(nodes, args.converge_timeout)
        time.sleep(1)  # then check that the digests stay equal: nothing was still on its way
        final = [call(n.port, "DEBUG", "DIGEST") for n in nodes]
        sizes = [call(n.port, "DBSIZE") for n in nodes]
    label = f"convergence after a {args.partition_seconds:g} s partition of C"
    result = f"{converged:.2f} s" if converged is not None else f"did not converge in {args.converge_timeout:g} s"
    check = (f"digests equal 1 s later ({final[0][:12]}...)" if len(set(final)) == 1
             else "digests DIFFER 1 s later: " + ", ".join(f"{n[-1]} {d[:12]}" for n, d in zip(names, final)))
    links = (f"links back {reconnected:.2f} s after the heal" if reconnected is not None
             else f"links NOT all back {args.after_heal:g} s after the heal")
    warning = "" if isolated else "; WARNING: C was not seen cut off (peers connected midway were not A 1, B 1, C 0)"
    return [[label, result, f"{check}; keys {'/'.join(map(str, sizes))}; {links}{warning}"]]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meshkv", default=default_meshkv(), help="meshkv-server binary (default: %(default)s)")
    p.add_argument("--requests", "-n", type=int, help="requests of the throughput runs (default 1000000, 20000 with --quick)")
    p.add_argument("--partition-seconds", type=float, help="how long C is cut off (default 10, 2 with --quick)")
    p.add_argument("--lag-seconds", type=float, help="how long probes are sent (default 10, 2 with --quick)")
    p.add_argument("--threads", "-t", type=int, help="meshkv --server-threads of every node (default: meshkv's own)")
    p.add_argument("--only", default=",".join(MEASUREMENTS), help="comma-separated subset of: %(default)s")
    p.add_argument("--workloads", default=",".join(WORKLOADS),
                   help="the throughput measurement's write loads, a comma-separated subset of: %(default)s")
    p.add_argument("--rounds", type=int, default=1,
                   help="throughput measurement rounds (standalone, then mesh, alternating); medians are shown")
    p.add_argument("--quick", action="store_true", help="a smoke run with small numbers")
    args = p.parse_args()
    only = [m.strip() for m in args.only.split(",") if m.strip()]
    if not only or any(m not in MEASUREMENTS for m in only):
        fail(f"--only takes a comma-separated subset of {','.join(MEASUREMENTS)}")
    quick = lambda given, normal, small: given if given is not None else small if args.quick else normal
    args.requests = quick(args.requests, 1_000_000, 20_000)
    args.partition_seconds = quick(args.partition_seconds, 10, 2)
    args.lag_seconds = quick(args.lag_seconds, 10, 2)
    args.warmup, args.after_heal, args.converge_timeout = quick(None, 2, 1), quick(None, 3, 1), 60
    args.clients = 50  # of every throughput run
    args.workloads = [w.strip() for w in args.workloads.split(",") if w.strip()]
    if not args.workloads or any(w not in WORKLOADS for w in args.workloads):
        fail(f"--workloads takes a comma-separated subset of {','.join(WORKLOADS)}")
    if min(args.requests, args.partition_seconds, args.lag_seconds, args.rounds) <= 0 or (args.threads or 0) < 0:
        fail("--requests, --partition-seconds, --lag-seconds and --threads must be positive")
    if not os.path.isfile(args.meshkv):
        fail(f"meshkv-server not found at {args.meshkv}: build it with `cargo build --release` "
             "(or pass --meshkv PATH)")
    if shutil.which(BENCHMARK) is None:
        fail(f"`{BENCHMARK}` not found: install Redis 7's tools (e.g. `apt-get install redis-tools`)")

    unwind_on_signals()
    workdir = tempfile.mkdtemp(prefix="meshkv-repl-bench-")
    rows, keep = [], True  # the nodes' and load generators' logs stay when something went wrong
    try:
        print(f"machine: {os.cpu_count()} cores, shared by every node and load generator; "
              f"meshkv: {args.meshkv}, server-threads {args.threads or 'default (one per core)'}\n", flush=True)
        for m in only:
            print(f"{m} ...", file=sys.stderr, flush=True)
            rows += {"lag": measure_lag, "throughput": measure_throughput, "partition": measure_partition}[m](args, workdir)
        print(markdown_table(["measurement", "result", "notes"], rows))
        if args.quick:
            print("\n(--quick: too short for meaningful numbers; this was a smoke run)")
        keep = False
    except KeyboardInterrupt:
        print("\nrepl.py: interrupted; stopping the servers", file=sys.stderr)
        keep = False
        return 130
    finally:
        if keep:
            print(f"repl.py: the servers' logs are kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
