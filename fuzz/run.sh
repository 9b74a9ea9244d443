#!/usr/bin/env bash
# Builds the fuzz targets with libFuzzer's coverage instrumentation and runs them.
#
#   fuzz/run.sh                          # every target for 60 s each
#   fuzz/run.sh 600 resp_request         # one target for 600 s
#   FUZZ_RUNS=10000000 fuzz/run.sh 0 entry_codec   # a number of executions instead of a time
#   FUZZ_SEED=1 fuzz/run.sh 10           # libFuzzer's random seed fixed (tests/run.sh does)
#
# The targets are a workspace of their own (cargo-fuzz's layout), built with plain cargo in
# release with the coverage flags cargo-fuzz uses (no sanitizer: the code under test is safe
# Rust, and an address sanitizer would need a nightly toolchain), into a target dir of their own
# (FUZZ_TARGET_DIR) so that the server's build is never invalidated: the first build compiles
# RocksDB's C++ again (about 25 minutes on 2 cores), later ones take seconds. Seed corpora are in
# fuzz/corpus/TARGET; what a run finds new goes to a scratch copy, and a crashing input to
# fuzz/artifacts/TARGET/, named by libFuzzer. Exits non-zero on any crash, panic, leak of time
# (-timeout) or memory (-rss_limit_mb).
set -euo pipefail
cd "$(dirname "$0")"
export CARGO_TARGET_DIR="${FUZZ_TARGET_DIR:-/var/cache/meshkv/fuzz-target}"
secs="${1:-60}"
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(resp_request repl_frame entry_codec snapshot_load config_file)

RUSTFLAGS="-Cpasses=sancov-module -Cllvm-args=-sanitizer-coverage-level=4 \
-Cllvm-args=-sanitizer-coverage-inline-8bit-counters -Cllvm-args=-sanitizer-coverage-pc-table \
-Cllvm-args=-sanitizer-coverage-trace-compares --cfg fuzzing -Cdebug-assertions" \
  cargo build --release --locked --bins --target x86_64-unknown-linux-gnu

for t in "${targets[@]}"; do
  scratch="$(mktemp -d)"
  cp -r "corpus/$t/." "$scratch/" 2>/dev/null || true
  mkdir -p "artifacts/$t"
  extra=()
  [ -n "${FUZZ_RUNS:-}" ] && extra+=(-runs="$FUZZ_RUNS")
  [ -n "${FUZZ_SEED:-}" ] && extra+=(-seed="$FUZZ_SEED")
  [ "$secs" != 0 ] && extra+=(-max_total_time="$secs")
  echo "fuzz/run.sh: $t"
  set +e
  "$CARGO_TARGET_DIR/x86_64-unknown-linux-gnu/release/$t" "$scratch" "corpus/$t" \
    -artifact_prefix="artifacts/$t/" -rss_limit_mb=2048 -max_len=65536 -timeout=10 \
    -print_final_stats=1 "${extra[@]}" > "$scratch.log" 2>&1
  status=$?
  set -e
  grep -E "^(stat::number_of_executed_units|stat::new_units_added|stat::peak_rss_mb)|panicked|ERROR|SUMMARY|Test unit written" "$scratch.log" || true
  rm -rf "$scratch" "$scratch.log"
  if [ "$status" -ne 0 ]; then
    echo "fuzz/run.sh: $t FAILED (exit $status); the input is in fuzz/artifacts/$t/"
    exit 1
  fi
done
