#!/usr/bin/env bash
# Installs, on a fresh Debian/Ubuntu machine, what building and testing meshkv need when missing:
# clang and libclang-dev (the rocksdb crate's bindgen needs them to build RocksDB), redis-server
# and redis-tools (the differential tests run a real redis-server; the benchmarks use
# redis-benchmark), ccache (tests/run.sh says why). Does nothing when everything is there.
set -euo pipefail

need=()
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v ccache >/dev/null 2>&1 || need+=(ccache)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/setup.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
