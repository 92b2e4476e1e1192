#!/bin/sh
# bench_targets.sh - issue 13's speed and memory targets, checked in one run.
#
#   tools/bench_targets.sh [--build DIR] [--reps R]
#
# Runs tools/bench_vs_torch.sh (fashion_mlp and fashion_cnn, batch 64, 2 threads, R
# alternated repetitions, 3 by default) with the environment as it is, then
# tools/bench_memory.sh on both models, and prints one line per target:
#
#   fashion_mlp  2 threads  >= 2.00x torch (median; the pairs' range on the next line)
#   fashion_cnn  2 threads  >= 1.25x torch
#   peak RSS, statistics on <= 100 MiB (both models)
#   heap allocations per training step == 0
#
# with the measured figure and PASS or FAIL.  Exits 1 when a target fails.  Also prints
# the CPU (model name, and whether it has AVX-512), since the targets are for the AVX-512
# machines.  Not run in CI (about 4 minutes); run it alone on the machine.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
reps=3
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    -h | --help) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_targets.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
avx512=$(grep -q ' avx512f' /proc/cpuinfo && echo yes || echo no)
echo "cpu: $cpu; AVX-512: $avx512; OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset}" \
    "OPENBLAS_L2_SIZE=${OPENBLAS_L2_SIZE:-unset}"

"$here/bench_vs_torch.sh" --build "$build" --models "fashion_mlp fashion_cnn" --batches 64 \
    --threads 2 --reps "$reps" --epoch-batches "" > "$tmp/speed"
"$here/bench_memory.sh" --build "$build" > "$tmp/memory"

failed=0
# verdict WHAT FIGURE OK: prints the line, remembers a failure.
verdict() {
    if [ "$3" = 1 ]; then
        printf '%-44s %10s  PASS\n' "$1" "$2"
    else
        printf '%-44s %10s  FAIL\n' "$1" "$2"
        failed=1
    fi
}

# The table row of bench_vs_torch for model m at 2 threads: column 7 is the training
# ratio, column 20 the allocations per step.
row() { grep "^| $1 | 64 | 2 |" "$tmp/speed" | head -n 1; }
for target in "fashion_mlp 2.00" "fashion_cnn 1.25"; do
    set -- $target
    ratio=$(row "$1" | awk -F'|' '{ gsub(/[ x]/, "", $7); print $7 }')
    allocs=$(row "$1" | awk -F'|' '{ gsub(/ /, "", $20); print $20 }')
    ok=$(awk -v r="${ratio:-0}" -v t="$2" 'BEGIN { print (r >= t) ? 1 : 0 }')
    verdict "$1 2 threads, >= $2x torch" "${ratio:-?}x" "$ok"
    grep "^  $1 batch 64, 2 thread" "$tmp/speed" | sed 's/^  /    pairs: /' || true
    verdict "$1 heap allocations per step == 0" "${allocs:-?}" "$([ "${allocs:-x}" = 0 ] && echo 1 || echo 0)"
done
for m in fashion_mlp fashion_cnn; do
    mib=$(awk -v m="$m" '$1 == m && $2 == "on" { print $3 }' "$tmp/memory")
    ok=$(awk -v a="${mib:-1000}" 'BEGIN { print (a <= 100) ? 1 : 0 }')
    verdict "$m peak RSS, statistics on, <= 100 MiB" "${mib:-?}" "$ok"
done
exit "$failed"
