#!/bin/sh
# bench_memory.sh - peak resident memory of `slope train`, with the dying-neuron
# statistics on and off.
#
#   tools/bench_memory.sh [--build DIR] [--models "fashion_mlp fashion_cnn"] [--epochs N]
#                         [--max-mib M] [--torch]
#
# For every model, runs `slope train models/MODEL.json --epochs N --quiet` (N = 1 by
# default: the peak is reached in the first epoch, at its first report and evaluation)
# twice, with --set stats.enabled=true and =false, under /usr/bin/time -v, and prints the
# "Maximum resident set size" in MiB, the final test accuracy and the wall time.  The
# statistics are the config's own (stats.probe: 10000 training examples, a report at the
# start and after each epoch).  --max-mib M: exit 1 when a slope figure is above M MiB.
# --torch: also the peak RSS of tools/bench_torch.py on the same model (PyTorch trains N
# epochs and evaluates the test split; torch itself is some 200 MiB of it); needs
# /usr/bin/python3 with torch.  Run it alone on the machine: the wall times are only a
# rough guide, the memory figures do not depend on the load.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build"
models="fashion_mlp fashion_cnn"
epochs=1
max_mib=""
torch=0
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --epochs) epochs=$2; shift 2 ;;
    --max-mib) max_mib=$2; shift 2 ;;
    --torch) torch=1; shift ;;
    -h | --help) sed -n '2,17p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench_memory.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
    esac
done
slope="$build/slope"
[ -x "$slope" ] || { echo "bench_memory.sh: no $slope: build first (or --build DIR)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "bench_memory.sh: needs GNU time (/usr/bin/time)" >&2; exit 2; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
over=0

# kB of "Maximum resident set size" in a `time -v` report, as MiB with one decimal.
peak_mib() {
    awk -F: '/Maximum resident set size/ { printf "%.1f", $2 / 1024 }' "$1"
}

printf '%-14s %-8s %10s %10s %9s\n' model stats "peak MiB" "test acc" seconds
for m in $models; do
    cfg="$root/models/$m.json"
    [ -f "$cfg" ] || { echo "bench_memory.sh: no $cfg" >&2; exit 2; }
    for stats in true false; do
        start=$(date +%s)
        if ! /usr/bin/time -v -o "$tmp/time" "$slope" train "$cfg" --epochs "$epochs" --quiet \
            --set "stats.enabled=$stats" > "$tmp/out" 2> "$tmp/err"; then
            echo "bench_memory.sh: slope train $m (stats $stats) failed:" >&2
            cat "$tmp/err" >&2
            exit 1
        fi
        secs=$(($(date +%s) - start))
        mib=$(peak_mib "$tmp/time")
        acc=$(sed -n 's/^final test accuracy: \([0-9.]*%\).*/\1/p' "$tmp/out" "$tmp/err" | head -n 1)
        label=$([ "$stats" = true ] && echo on || echo off)
        printf '%-14s %-8s %10s %10s %9s\n' "$m" "$label" "$mib" "${acc:--}" "$secs"
        if [ -n "$max_mib" ] && awk -v a="$mib" -v b="$max_mib" 'BEGIN { exit !(a > b) }'; then
            over=1
        fi
    done
    if [ "$torch" = 1 ]; then
        if OPENBLAS_NUM_THREADS=1 /usr/bin/python3 "$here/bench_torch.py" "$cfg" --warmup 1 \
            --steps 10 --epochs "$epochs" > "$tmp/torch" 2>&1; then
            mib=$(sed -n 's/^peak RSS: \([0-9.]*\) MiB/\1/p' "$tmp/torch")
            acc=$(sed -n 's/.*accuracy \([0-9.]*%\).*/\1/p' "$tmp/torch" | head -n 1)
            printf '%-14s %-8s %10s %10s %9s\n' "$m" torch "$mib" "${acc:--}" -
        else
            printf '%-14s %-8s %10s\n' "$m" torch "failed (torch installed for /usr/bin/python3?)"
        fi
    fi
done
if [ "$over" = 1 ]; then
    echo "bench_memory.sh: a peak is above $max_mib MiB" >&2
    exit 1
fi
