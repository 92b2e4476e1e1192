#!/usr/bin/env bash
# The whole ctest suite under valgrind memcheck: every test must pass with 0 errors
# and 0 leaks (definite, indirect and possible leaks all count as errors).
#
#   .ci/valgrind.sh [extra ctest args, e.g. -R test_io]
#
# A Debug build without sanitizers in $BUILD_DIR (build-valgrind).  `ctest -T memcheck`
# runs every test command under valgrind; --trace-children follows the test scripts
# into each slope command they start (system tools in /usr/bin and /bin are skipped),
# and --error-exitcode makes any error or leak fail its test.  Skipped: the tests that
# only compile or install (public_headers, public_symbols, consumer_install,
# readme_example, alloc_path): they run the compiler or grep, not slope; and the ones listed
# below.  Takes 5-7 minutes on 2 cores.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
SOURCE_DIR="${SOURCE_DIR:-$ROOT}"
BUILD_DIR="${BUILD_DIR:-$ROOT/build-valgrind}"

if ! command -v valgrind >/dev/null 2>&1; then
  echo "valgrind.sh: installing valgrind"
  apt-get install -y valgrind >/dev/null
fi

cmake -S "$SOURCE_DIR" -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Debug -DSLOPE_SANITIZE=OFF \
  -DSLOPE_TEST_CONSUMER=OFF >/dev/null
cmake --build "$BUILD_DIR" -j2

# One BLAS thread: valgrind serialises threads anyway, and a pool idling at exit only
# adds noise.
export OPENBLAS_NUM_THREADS=1
# ... and one slope thread for the commands that choose none (sl_default_threads).
export OMP_NUM_THREADS=1
# Convolutions on im2col: memcheck translates every kernel oneDNN JIT-compiles, which makes one
# 10-epoch fashion_cnn run on 16 images take some 5 minutes (readme_commands has several).
# oneDNN stays under memcheck where it is tested: test_conv_dnn selects each path with
# sl_conv_set_backend, whatever this variable says.
export SLOPE_CONV=im2col
opts="--leak-check=full --show-leak-kinds=definite,indirect,possible"
opts+=" --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=99"
opts+=" --trace-children=yes --trace-children-skip=/usr/bin/*,/bin/*,/usr/sbin/*,/sbin/*"
opts+=" --num-callers=40 --suppressions=$ROOT/.ci/valgrind.supp"

rm -rf "$BUILD_DIR/Testing/Temporary"
status=0
# Left out: the build checks (no slope code runs), cli_ulimit_sweep (valgrind needs far more
# address space than the limits it sweeps, so it measures valgrind, not slope) and
# torch_roundtrip and onnx_roundtrip (memcheck would run python3, torch, OpenCV themselves, whose
# own leaks it reports; onnx_roundtrip's C side is test_export_onnx, which runs here), and
# tty_progress (slope runs inside tmux there, whose server memcheck does not follow, so it
# would check only the test's own shell, dash, which leaks at the exit of its subshells).
# Also left out, to keep CI under 20 minutes (each runs natively and under ASan + UBSan):
# readme_commands (every README command, the 10-epoch trainings included: over 10 minutes
# under memcheck), cli_flags (every flag of every --help, some 80 s), and test_conv_dnn_env
# (test_conv_dnn again with SLOPE_CONV=im2col, which this script exports for every test).
ctest --test-dir "$BUILD_DIR" -T memcheck -j2 --output-on-failure --timeout 900 \
  -E '^(public_headers|public_symbols|consumer_install|readme_example|alloc_path|cli_ulimit_sweep|torch_roundtrip|onnx_roundtrip|tty_progress|readme_commands|cli_flags|test_conv_dnn_env)$' \
  --overwrite "MemoryCheckCommand=$(command -v valgrind)" \
  --overwrite "MemoryCheckCommandOptions=$opts" "$@" || status=$?

# Belt and braces: any log that reports an error or a lost block fails the run.  (With
# several processes per test, as in the script tests, the log keeps the last one; the
# exit status of each process, 99 on any error or leak, is what the tests check.)
logs=("$BUILD_DIR"/Testing/Temporary/MemoryChecker.*.log)
bad=0
if [ -e "${logs[0]}" ]; then
  bad=$(grep -alE 'ERROR SUMMARY: [1-9]|(definitely|indirectly|possibly) lost: [1-9]' \
    "${logs[@]}" | wc -l || true)
fi
if [ "$bad" -gt 0 ]; then
  echo "valgrind.sh: errors or leaks in:" >&2
  grep -alE 'ERROR SUMMARY: [1-9]|(definitely|indirectly|possibly) lost: [1-9]' "${logs[@]}" >&2
  status=1
fi
if [ "$status" -eq 0 ]; then
  echo "valgrind.sh: every test clean under memcheck (0 errors, 0 leaks)"
fi
exit "$status"
