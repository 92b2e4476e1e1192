#!/usr/bin/env bash
# Builds the libFuzzer harnesses with clang (ASan + UBSan) and runs each one in
# turn for SECONDS, then merges the inputs that found new coverage into the
# committed seed corpus tests/fuzz/corpus/<harness>/.
#
#   tools/fuzz.sh [SECONDS] [HARNESS...]     default: 300 s each, every harness
#
# Harnesses: config override idx csv safetensors.  One fuzzer runs at a time
# (single process, single job), with -rss_limit_mb=$RSS_LIMIT_MB (2048).
#
# Environment:
#   BUILD_DIR     the clang build (default build-fuzz)
#   SOURCE_DIR    the source tree to configure (default: this checkout)
#   RSS_LIMIT_MB  libFuzzer's memory limit, also the largest single malloc (2048)
#   MERGE=0       do not touch tests/fuzz/corpus (the work corpus still grows)
#   FUZZ_ARGS     extra libFuzzer flags, e.g. "-jobs=1 -seed=7"
#
# Output: per harness, a line "harness seconds execs execs/s corpus-size new crashes"
# in $BUILD_DIR/fuzz-summary.txt and on stdout; the libFuzzer log in
# $BUILD_DIR/fuzz-logs/<harness>.log; crash, leak, timeout and OOM inputs in
# $BUILD_DIR/fuzz-artifacts/<harness>/.  Each one found should be copied to
# tests/fuzz/regressions/<harness>/crash-<short-name> once fixed, so ctest replays it.
# Exits 1 when any harness produced an artifact.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SOURCE_DIR="${SOURCE_DIR:-$ROOT}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-fuzz}"
RSS_LIMIT_MB="${RSS_LIMIT_MB:-2048}"
MERGE="${MERGE:-1}"
SECONDS_EACH="${1:-300}"
shift || true
HARNESSES=("$@")
if [ ${#HARNESSES[@]} -eq 0 ]; then
  HARNESSES=(config override idx csv safetensors)
fi
FUZZ_DIR="$SOURCE_DIR/tests/fuzz"

CC_BIN="$(command -v clang || command -v clang-14 || true)"
if [ -z "$CC_BIN" ]; then
  echo "fuzz.sh: clang not found (Debian: apt-get install -y clang libclang-rt-14-dev)" >&2
  exit 2
fi

echo "== building the fuzzers with $CC_BIN in $BUILD_DIR"
cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_C_COMPILER="$CC_BIN" -DSLOPE_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSLOPE_BUILD_TOOLS=OFF -DSLOPE_INSTALL=OFF \
  -DSLOPE_TEST_CONSUMER=OFF >/dev/null
targets=()
for h in "${HARNESSES[@]}"; do targets+=("fuzz_$h"); done
if ! cmake --build "$BUILD_DIR" -j2 --target "${targets[@]}"; then
  echo "fuzz.sh: build failed (is tests/fuzz/fuzz.cmake included by CMakeLists.txt?)" >&2
  exit 2
fi

mkdir -p "$BUILD_DIR/fuzz-logs"
summary="$BUILD_DIR/fuzz-summary.txt"
found=0
for h in "${HARNESSES[@]}"; do
  exe="$BUILD_DIR/fuzz_$h"
  work="$BUILD_DIR/fuzz-work/$h"
  artifacts="$BUILD_DIR/fuzz-artifacts/$h"
  log="$BUILD_DIR/fuzz-logs/$h.log"
  mkdir -p "$work" "$artifacts" "$FUZZ_DIR/corpus/$h"
  dict=()
  case "$h" in
    config | override) dict=("-dict=$FUZZ_DIR/config.dict") ;;
    safetensors) dict=("-dict=$FUZZ_DIR/safetensors.dict") ;;
  esac
  inputs=("$work" "$FUZZ_DIR/corpus/$h")
  [ -d "$FUZZ_DIR/regressions/$h" ] && inputs+=("$FUZZ_DIR/regressions/$h")
  before=$(find "$artifacts" -type f | wc -l)
  echo "== fuzz_$h for ${SECONDS_EACH}s (log: $log)"
  # The first directory receives the new inputs; the others only seed the run.
  set +e
  # shellcheck disable=SC2086
  "$exe" -max_total_time="$SECONDS_EACH" -rss_limit_mb="$RSS_LIMIT_MB" -timeout=25 \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "${dict[@]}" ${FUZZ_ARGS:-} \
    "${inputs[@]}" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  added=$(sed -n 's/^stat::new_units_added: *//p' "$log" | tail -1)
  size=$(grep -Eo 'corp: [0-9]+' "$log" | tail -1 | grep -Eo '[0-9]+' || echo "?")
  after=$(find "$artifacts" -type f | wc -l)
  crashes=$((after - before))
  if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
    echo "fuzz.sh: fuzz_$h exited $rc without an artifact; see $log" >&2
    crashes=1
  fi
  line="$h ${SECONDS_EACH}s execs=${execs:-?} execs/s=${rate:-?} corpus=$size new=${added:-?} crashes=$crashes"
  echo "$line" | tee -a "$summary"
  if [ "$crashes" -gt 0 ]; then
    found=1
    grep -E '^==[0-9]+==ERROR|runtime error|^fuzz: |SUMMARY' "$log" | head -5 >&2 || true
    find "$artifacts" -type f -newer "$exe" >&2
  fi
  if [ "$MERGE" = 1 ]; then
    # Adds to the committed corpus only the inputs that reach new coverage.
    "$exe" -merge=1 -rss_limit_mb="$RSS_LIMIT_MB" -timeout=25 "$FUZZ_DIR/corpus/$h" "$work" \
      >>"$log" 2>&1 || echo "fuzz.sh: merging the $h corpus failed; see $log" >&2
  fi
done
exit "$found"
