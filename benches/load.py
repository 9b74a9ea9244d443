#!/usr/bin/env python3
"""Load benchmark: meshkv-server against redis-server, side by side, with redis-benchmark.

Starts both servers on free loopback ports (redis with --save '' --appendonly no, so neither
persists anything), runs `redis-benchmark -t set|get -P 1|16 -c CLIENTS -n N -r 100000 -d 16 --csv`
against each in turn, samples each server process's CPU time from /proc around every run, and
prints one table. Python 3 standard library only.

    python3 benches/load.py [--meshkv PATH] [--requests N] [--clients 50] [--threads T] [--quick]

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
TESTS = ("set", "get")  # SET first, so that GET finds the keys it asks for.
PIPELINES = (1, 16)


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


def run_benchmark(benchmark, server, test, pipeline, args):
    """Runs one redis-benchmark test; returns (row dict from its CSV, server CPU seconds)."""
    argv = [
        benchmark, "-h", "127.0.0.1", "-p", str(server.port), "-t", test,
        "-n", str(args.requests), "-c", str(args.clients), "-P", str(pipeline),
        "-r", "100000", "-d", "16", "--csv",
    ]
    before = server.cpu()
    done = subprocess.run(argv, capture_output=True, text=True)
    used = server.cpu() - before
    if done.returncode != 0:
        fail(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stdout}{done.stderr}")
    # redis-benchmark 7 --csv: "test","rps","avg_latency_ms","min_latency_ms","p50_latency_ms",
    # "p95_latency_ms","p99_latency_ms","max_latency_ms", then one row per test.
    rows = [r for r in csv.DictReader(io.StringIO(done.stdout)) if r.get("test", "").upper() == test.upper()]
    if not rows:
        fail(f"no '{test.upper()}' row in redis-benchmark's CSV output:\n{done.stdout}{done.stderr}")
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


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--meshkv", default=default_meshkv(), help="meshkv-server binary (default: %(default)s)")
    p.add_argument("--redis-server", default="redis-server", help="redis-server binary (default: on PATH)")
    p.add_argument("--redis-benchmark", default="redis-benchmark", help="redis-benchmark binary (default: on PATH)")
    p.add_argument("--requests", "-n", type=int, help="requests per run (default 1000000, or %d with --quick)" % QUICK_REQUESTS)
    p.add_argument("--clients", "-c", type=int, default=50, help="parallel connections (default 50)")
    p.add_argument("--threads", "-t", type=int, help="meshkv --server-threads (default: meshkv's own, one per core)")
    p.add_argument("--quick", action="store_true", help="a smoke run with few requests")
    args = p.parse_args()
    if args.requests is None:
        args.requests = QUICK_REQUESTS if args.quick else 1_000_000
    if args.requests <= 0 or args.clients <= 0:
        fail("--requests and --clients must be positive")

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
              f"16-byte values, 100000 random keys\n", flush=True)

        header = ["test", "pipeline", "meshkv ops/s", "redis ops/s", "ratio",
                  "meshkv p50/p99 ms", "redis p50/p99 ms", "meshkv CPU s/1M", "redis CPU s/1M"]
        rows = []
        for test in TESTS:
            for pipeline in PIPELINES:
                result = {}
                for server in (meshkv, redis):
                    print(f"  {test.upper()} -P {pipeline} against {server.name} ...", file=sys.stderr, flush=True)
                    result[server.name] = run_benchmark(args.redis_benchmark, server, test, pipeline, args)
                (m, m_cpu), (r, r_cpu) = result["meshkv"], result["redis"]
                m_rps, r_rps = float(m["rps"]), float(r["rps"])
                per_million = lambda cpu: f"{cpu / args.requests * 1e6:.2f}"
                rows.append([
                    test.upper(), pipeline, f"{m_rps:,.0f}", f"{r_rps:,.0f}",
                    f"{m_rps / r_rps:.2f}" if r_rps else "-",
                    f"{float(m['p50_latency_ms']):.3f}/{float(m['p99_latency_ms']):.3f}",
                    f"{float(r['p50_latency_ms']):.3f}/{float(r['p99_latency_ms']):.3f}",
                    per_million(m_cpu), per_million(r_cpu),
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
