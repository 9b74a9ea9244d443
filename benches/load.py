#!/usr/bin/env python3
"""Load benchmark: meshkv-server against redis-server, side by side, with redis-benchmark.

Starts both servers on free loopback ports (redis with --save '' --appendonly no, so neither
persists anything), runs issue 22's matrix (SET, GET, INCR, LPUSH, LPOP, SADD, HSET, ZADD, MSET,
MGET; -P 1 and 16; one key and -r 1000000) with redis-benchmark against each in turn, in rounds
that alternate which server goes first, samples each server process's CPU time from /proc around
every run, and prints one table of medians. Python 3 standard library only.

    python3 benches/load.py [--meshkv PATH] [--requests N] [--rounds R] [--tests SET,GET]
                            [--pipelines 1,16] [--keyspaces one,1M] [--threads T] [--quick]

See benches/README.md for how to read the table.
"""

import argparse
import csv
import io
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
QUICK_REQUESTS = 2000
MGET_KEYS = 10
# The matrix of issue 22, in the order it runs: each test's name and what selects it in
# redis-benchmark. SET runs before GET and MSET before MGET, so that the reads find keys; LPUSH
# before LPOP, so that LPOP pops what LPUSH pushed. redis-benchmark's MSET sets 10 keys per command;
# it has no MGET test, so MGET is a command of its own reading as many.
TESTS = (
    ("SET", ["-t", "set"]),
    ("GET", ["-t", "get"]),
    ("INCR", ["-t", "incr"]),
    ("LPUSH", ["-t", "lpush"]),
    ("LPOP", ["-t", "lpop"]),
    ("SADD", ["-t", "sadd"]),
    ("HSET", ["-t", "hset"]),
    ("ZADD", ["-t", "zadd"]),
    ("MSET", ["-t", "mset"]),
    ("MGET", ["MGET"] + ["key:__rand_int__"] * MGET_KEYS),
)
PIPELINES = (1, 16)
# Keyspaces: without -r every request names the same key (and SADD, HSET and ZADD the same member),
# which measures the command path alone; with -r 1000000 the keys (and the members of the one set,
# hash and sorted set each test writes) spread over a million, which adds the cost of a large table
# and of cache misses.
# Each by the name --keyspaces and ab.py take: its -r (None: none) and its label in the table.
KEYSPACES = {"one": (None, "one key"), "1M": (1_000_000, "-r 1M")}

def fail(message):
    print(f"{os.path.basename(sys.argv[0])}: {message}", file=sys.stderr)
    sys.exit(2)


def default_meshkv():
    target = os.environ.get("CARGO_TARGET_DIR") or os.path.join(REPO, "target")
    return os.path.join(target, "release", "meshkv-server")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid):
    """utime + stime of a process, in seconds (fields 14 and 15 of /proc/PID/stat)."""
    with open(f"/proc/{pid}/stat") as f:
        stat = f.read()
    # The command name (field 2) may contain spaces: count fields after its closing parenthesis.
    fields = stat[stat.rindex(")") + 2 :].split()
    utime, stime = int(fields[11]), int(fields[12])
    return (utime + stime) / os.sysconf("SC_CLK_TCK")


def rss_bytes(pid):
    """Resident set size of a process in bytes (VmRSS of /proc/PID/status)."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def pipe_load(server, commands):
    """Sends `commands` (RESP-encoded bytes, one per command) through one `redis-cli --pipe` to
    `server`, in chunks of 10,000; fails unless every one of them succeeded."""
    proc = subprocess.Popen(["redis-cli", "-p", str(server.port), "--pipe"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    chunk = []
    for command in commands:
        chunk.append(command)
        if len(chunk) == 10000:
            proc.stdin.write(b"".join(chunk))
            chunk = []
    proc.stdin.write(b"".join(chunk))
    proc.stdin.close()
    out = proc.stdout.read().decode(errors="replace")
    if proc.wait() != 0 or "errors: 0" not in out:
        fail(f"loading {server.name} failed: {out}")


class Server:
    """A server process on a free port (or the one given), with its own temporary directory and
    log."""

    def __init__(self, name, argv_for_port, workdir, port=None):
        self.name = name
        self.dir = os.path.join(workdir, name)
        os.makedirs(self.dir)
        self.log_path = os.path.join(self.dir, "server.log")
        self.port = port or free_port()
        self.log = open(self.log_path, "wb")
        try:
            # A session of its own: Ctrl-C in the terminal reaches this script, which then stops
            # the servers itself (and reports), instead of killing them mid-table.
            self.proc = subprocess.Popen(
                argv_for_port(self.port, self.dir),
                stdin=subprocess.DEVNULL,
                stdout=self.log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except FileNotFoundError as e:
            fail(f"cannot start {name}: {e}")
        self.wait_ready()

    def wait_ready(self, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                fail(f"{self.name} exited with status {self.proc.returncode}; its log:\n{self.read_log()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"*1\r\n$4\r\nPING\r\n")
                    if s.recv(64).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        fail(f"{self.name} did not answer PING on port {self.port} within {timeout:.0f} s")

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def cpu(self):
        return cpu_seconds(self.proc.pid)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


def meshkv_threads(server):
    """The server-threads figure from meshkv's startup line ('..., N server threads, ...')."""
    for line in server.read_log().splitlines():
        if "server threads" in line:
            words = line.split("server threads")[0].split()
            if words and words[-1].isdigit():
                return int(words[-1])
    return None


def redis_version(redis_server):
    out = subprocess.run([redis_server, "--version"], capture_output=True, text=True).stdout
    for word in out.split():
        if word.startswith("v="):
            return word[2:]
    return out.strip() or "unknown"


def run_benchmark(benchmark, server, test, pipeline, args, keyspace=100000):
    """Runs one redis-benchmark test (`-t test`, 16-byte values) with `args.requests` requests and
    `args.clients` connections; returns (row dict from its CSV, server CPU seconds)."""
    return run_command(benchmark, server, ["-t", test], test, pipeline, args.requests, args.clients, keyspace)


def run_command(benchmark, server, selector, name, pipeline, requests, clients, keyspace):
    """Runs redis-benchmark against `server` with `selector` (`-t TEST`, or a command of its own
    whose `__rand_int__`s it fills in) and `-r keyspace` unless that is None (then every request
    names the same key); returns (row dict from its CSV, server CPU seconds)."""
    argv = [
        benchmark, "-h", "127.0.0.1", "-p", str(server.port),
        "-n", str(requests), "-c", str(clients), "-P", str(pipeline), "-d", "16", "--csv",
    ]
    if keyspace is not None:
        argv += ["-r", str(keyspace)]
    # redis-benchmark takes its options first and a command of its own after them.
    argv += selector
    before = server.cpu()
    done = subprocess.run(argv, capture_output=True, text=True)
    used = server.cpu() - before
    if done.returncode != 0:
        fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    # redis-benchmark 7 --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
    # "p95_latency_ms","p99_latency_ms","max_latency_ms", then one row per test (a command of
    # its own is titled by its text, so it is the only row; MSET is titled "MSET (10 keys)").
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    if selector[0] == "-t":
        rows = [r for r in rows if r.get("test", "").upper().split(" (")[0] == name.upper()]
    if not rows or not rows[0].get("rps"):
        fail(f"no '{name}' row in redis-benchmark's CSV output:\n{done.stdout}{done.stderr}")
    return rows[0], used


def unwind_on_signals():
    """SIGINT (even where a non-interactive shell's `&` ignored it), SIGTERM and SIGHUP all unwind
    like Ctrl-C, so that the caller's finally block stops the servers."""
    def interrupted(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, interrupted)


def fmt_table(header, rows):
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)]
    line = lambda cells: "  ".join(str(c).rjust(w) for c, w in zip(cells, widths))
    return "\n".join([line(header), line(["-" * w for w in widths])] + [line(r) for r in rows])


def median(values):
    ordered = sorted(values)
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def flushall(server):
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(b"*1\r\n$8\r\nFLUSHALL\r\n")
        if not s.recv(64).startswith(b"+OK"):
            fail(f"FLUSHALL on {server.name} failed")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meshkv", default=default_meshkv(), help="meshkv-server binary (default: %(default)s)")
    p.add_argument("--redis-server", default="redis-server", help="redis-server binary (default: on PATH)")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary (default: on PATH)")
    p.add_argument("--requests", "-n", type=int, help="requests per run (default 500000, or %d with --quick)" % QUICK_REQUESTS)
    p.add_argument("--clients", "-c", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--threads", "-t", type=int, help="meshkv --server-threads (default: meshkv's own, one per core)")
    p.add_argument("--rounds", type=int, help="rounds of the whole matrix, alternating which server goes first (default 3, 1 with --quick)")
    p.add_argument("--tests", help="comma-separated subset of " + ",".join(t for t, _ in TESTS) + " (default: all)")
    p.add_argument("--pipelines", default="1,16", help="comma-separated -P values (default 1,16)")
    p.add_argument("--keyspaces", default="one,1M", help="'one' (no -r), '1M' (-r 1000000) or both (default)")
    p.add_argument("--quick", action="store_true", help="a smoke run with few requests")
    args = p.parse_args()
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else 500_000
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.requests <= 0 or args.clients <= 0 or args.rounds <= 0:
        fail("--requests, --clients and --rounds must be positive")
    tests = TESTS
    if args.tests:
        wanted = [t.strip().upper() for t in args.tests.split(",") if t.strip()]
        unknown = [t for t in wanted if t not in dict(TESTS)]
        if unknown:
            fail(f"unknown test(s) {', '.join(unknown)}: choose from {', '.join(t for t, _ in TESTS)}")
        tests = tuple(t for t in TESTS if t[0] in wanted)
    try:
        pipelines = tuple(int(x) for x in args.pipelines.split(","))
    except ValueError:
        fail(f"--pipelines {args.pipelines!r}: expected numbers separated by commas")
    keyspaces = tuple(spec for name, spec in KEYSPACES.items() if name in args.keyspaces.split(","))
    if not keyspaces:
        fail(f"--keyspaces {args.keyspaces!r}: expected 'one', '1M' or 'one,1M'")

    if not os.path.isfile(args.meshkv):
        fail(f"meshkv-server not found at {args.meshkv}: build it with `cargo build --release` "
             "(or pass --meshkv PATH)")
    for tool in (args.redis_server, args.redis_benchmark):
        if shutil.which(tool) is None:
            fail(f"`{tool}` not found: install Redis 7 (e.g. `apt-get install redis-server redis-tools`)")

    unwind_on_signals()

    workdir = tempfile.mkdtemp(prefix="meshkv-bench-")
    servers = []
    try:
        meshkv_extra = ["--server-threads", str(args.threads)] if args.threads else []
        meshkv = Server(
            "meshkv",
            lambda port, d: [args.meshkv, "--port", str(port), "--dir", d] + meshkv_extra,
            workdir,
        )
        servers.append(meshkv)
        redis = Server(
            "redis",
            lambda port, d: [args.redis_server, "--port", str(port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no", "--dir", d],
            workdir,
        )
        servers.append(redis)

        threads = meshkv_threads(meshkv)
        print(f"machine: {os.cpu_count()} cores; meshkv: {args.meshkv}, "
              f"{threads if threads is not None else '?'} server threads; "
              f"redis {redis_version(args.redis_server)} (single-threaded)")
        print(f"redis-benchmark: {args.requests} requests per run, {args.clients} clients, "
              f"16-byte values; {args.rounds} rounds, alternating which server goes first; medians\n", flush=True)

        # results[(test, pipeline, keyspace label)][server name] = [(rps, cpu seconds), ...]
        results = {}
        for round_no in range(args.rounds):
            order = (meshkv, redis) if round_no % 2 == 0 else (redis, meshkv)
            for keyspace, label in keyspaces:
                for server in order:
                    flushall(server)
                for test, selector in tests:
                    for pipeline in pipelines:
                        for server in order:
                            print(f"  round {round_no + 1}: {test} -P {pipeline} {label} against {server.name} ...",
                                  file=sys.stderr, flush=True)
                            row, cpu = run_command(args.redis_benchmark, server, selector, test, pipeline,
                                                   args.requests, args.clients, keyspace)
                            results.setdefault((test, pipeline, label), {}).setdefault(server.name, []).append(
                                (float(row["rps"]), cpu))

        header = ["test", "-P", "keys", "meshkv ops/s", "redis ops/s", "ratio", "ratios",
                  "meshkv CPU µs/req", "redis CPU µs/req", "CPU ratio"]
        rows = []
        for test, _ in tests:
            for pipeline in pipelines:
                for _, label in keyspaces:
                    runs = results[(test, pipeline, label)]
                    m, r = runs["meshkv"], runs["redis"]
                    m_rps, r_rps = median(x for x, _ in m), median(x for x, _ in r)
                    m_cpu = median(c for _, c in m) / args.requests * 1e6
                    r_cpu = median(c for _, c in r) / args.requests * 1e6
                    # The same round's two runs, seconds apart, make each ratio in `ratios`.
                    ratios = sorted(a / b for (a, _), (b, _) in zip(m, r) if b)
                    rows.append([
                        test, pipeline, label, f"{m_rps:,.0f}", f"{r_rps:,.0f}",
                        f"{m_rps / r_rps:.2f}" if r_rps else "-",
                        "/".join(f"{x:.2f}" for x in ratios),
                        f"{m_cpu:.2f}", f"{r_cpu:.2f}",
                        f"{m_cpu / r_cpu:.2f}" if r_cpu else "-",
                    ])
        print(fmt_table(header, rows))
        if args.quick:
            print("\n(--quick: too few requests for meaningful numbers; this was a smoke run)")
    except KeyboardInterrupt:
        print("\nload.py: interrupted; stopping the servers", file=sys.stderr)
        return 130
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
