#!/usr/bin/env bash
# Runs every meshkv test: unit tests of each crate, the integration tests against the real
# meshkv-server binary, and the differential tests against a real redis-server.
#
# Works on a fresh Debian/Ubuntu machine: tests/setup.sh first installs what the build and the
# tests need when it is missing (clang and libclang-dev for building RocksDB, redis-server and
# redis-tools for the differential tests), then this runs `cargo test --release --workspace`
# (release, so the binary the tests start is the one users run, and CI and the benchmarks share one
# build).
set -euo pipefail
cd "$(dirname "$0")/.."

bash tests/setup.sh
# ccache (tests/setup.sh installs it) in front of the C/C++ compilers: the fuzz targets' build
# compiles RocksDB's C++ with the same flags as the server's, so on a fresh machine the second
# build is cache hits instead of another 25 minutes. Only PATH changes: cargo does not track PATH,
# so builds without it (by hand) reuse the same target dir without rebuilding RocksDB.
if [ -d /usr/lib/ccache ]; then
  export PATH="/usr/lib/ccache:$PATH"
  export CCACHE_DIR="${CCACHE_DIR:-/var/cache/meshkv/ccache}"
fi
# The system's redis-server may be running as a service on 6379; the tests never use that port.

cargo test --release --workspace "$@"

# The Jepsen-style suite (jepsen/): one short run with a fixed seed against a real 4-node cluster,
# each node in its own network namespace, on the FLASH tier with appendfsync always, with every
# kind of fault at least once (the unit test nemesis::the_ci_schedule_covers_every_kind says so)
# over 100 s; then the heal, convergence and the checkers (about 2 minutes in all). It fails on any
# anomaly that is not a loss the README documents. It needs root and `ip netns`; elsewhere it says
# so and is skipped. MESHKV_JEPSEN_SECS changes its time, 0 skips it.
jepsen_secs="${MESHKV_JEPSEN_SECS:-100}"
if [ "$jepsen_secs" = 0 ]; then
  echo "tests/run.sh: Jepsen-style suite skipped (MESHKV_JEPSEN_SECS=0)"
elif [ "$(id -u)" != 0 ] || ! ip netns list >/dev/null 2>&1; then
  echo "tests/run.sh: SKIPPED the Jepsen-style suite: it needs root and a working 'ip netns' (network namespaces)"
else
  cargo build --release -p meshkv-server -p meshkv-latency-proxy -p meshkv-jepsen --bins
  bin="${CARGO_TARGET_DIR:-target}/release"
  report="$(mktemp -d /tmp/meshkv-jepsen-ci.XXXXXX)"
  echo "tests/run.sh: Jepsen-style run, report in $report"
  "$bin/meshkv-jepsen" --nodes 4 --time "$jepsen_secs" --seed 1 --nemesis all --tier flash-always \
    --server-bin "$bin/meshkv-server" --proxy-bin "$bin/meshkv-latency-proxy" --out "$report/run"
  # Ctrl-C in the middle of a run leaves no namespace, rule or process behind (about 15 s).
  bash jepsen/interrupt-check.sh "$bin" INT
fi

# The Docker demos in real containers (tests/docker.sh: builds the image from the binaries just
# built, runs docker-compose.yml's three masters and docker-compose.regions.yml's three regions
# with TLS between them, removes everything after). One to two minutes, plus about a minute the first
# time on a machine (the Debian base image); bounded at 10 minutes. Without a Docker Engine it
# says it skipped.
timeout 600 bash tests/docker.sh

# The fuzz targets (fuzz/, libFuzzer), each for a short bounded time from its seed corpus: a
# crash or panic fails the run. Their first build compiles RocksDB once more, in a target dir of
# their own (fuzz/run.sh says why); MESHKV_FUZZ_SECS=0 skips them, a larger value runs longer.
# The seed is fixed, so that a run explores the same inputs each time: a failure here is
# reproducible, and new ground is for longer runs by hand (fuzz/run.sh).
fuzz_secs="${MESHKV_FUZZ_SECS:-10}"
if [ "$fuzz_secs" != 0 ]; then
  FUZZ_SEED="${FUZZ_SEED:-1}" bash fuzz/run.sh "$fuzz_secs"
else
  echo "tests/run.sh: fuzz targets skipped (MESHKV_FUZZ_SECS=0)"
fi
