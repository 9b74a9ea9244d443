#!/usr/bin/env bash
# Installs, on a fresh Debian/Ubuntu machine, what building and testing meshkv need when missing:
# clang and libclang-dev (the rocksdb crate's bindgen needs them to build RocksDB), redis-server
# and redis-tools (the differential tests run a real redis-server; the benchmarks use
# redis-benchmark), ccache (tests/run.sh says why), faketime and iproute2/iptables (the
# Jepsen-style suite moves a node's clock with libfaketime and builds its network from namespaces).
# Does nothing when everything is there.
set -euo pipefail

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v ccache >/dev/null 2>&1 || need+=(ccache)
ls /usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1 >/dev/null 2>&1 || need+=(faketime)
command -v ip >/dev/null 2>&1 || need+=(iproute2)
command -v iptables >/dev/null 2>&1 || need+=(iptables)
# Lua 5.1 (what Redis embeds) for EVAL and SCRIPT, found through pkg-config; python3 and pip for the
# redis-py lock test (tests/it/scripting.rs).
pkg-config --exists lua5.1 2>/dev/null || need+=(liblua5.1-0-dev pkg-config)
command -v python3 >/dev/null 2>&1 || need+=(python3 python3-pip)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/setup.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# redis-py, for the distributed-lock test: into the system python (a test-only tool).
if ! python3 -c "import redis" >/dev/null 2>&1; then
  echo "tests/setup.sh: installing redis-py"
  python3 -m pip install -q redis >/dev/null 2>&1 || python3 -m pip install -q --break-system-packages redis >/dev/null 2>&1 ||
    echo "tests/setup.sh: could not install redis-py; the redis-py lock test will say it skipped"
fi
