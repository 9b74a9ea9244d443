#!/usr/bin/env bash
# Runs every meshkv test: unit tests of each crate, the integration tests against the real
# meshkv-server binary, and the differential tests against a real redis-server.
#
# Works on a fresh Debian/Ubuntu machine: installs what the build and the tests need when it is
# missing (clang and libclang-dev, which the rocksdb crate's bindgen needs to build RocksDB;
# redis-server and redis-tools for the differential tests and the benchmark), then runs
# `cargo test --release --workspace` (release, so the binary the tests start is the one users run,
# and CI and the benchmark share one build).
set -euo pipefail
cd "$(dirname "$0")/.."

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
command -v redis-cli >/dev/null 2>&1 || need+=(redis-tools)
command -v clang >/dev/null 2>&1 || need+=(clang)
ls /usr/lib/llvm-*/lib/libclang*.so* >/dev/null 2>&1 || need+=(libclang-dev)
if [ ${#need[@]} -gt 0 ]; then
  echo "tests/run.sh: installing ${need[*]}"
  if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
# The system's redis-server may be running as a service on 6379; the tests never use that port.

cargo test --release --workspace "$@"
