#!/bin/sh
# bench_vs_torch.sh - slope against PyTorch on the same work, in one run.
#
#   tools/bench_vs_torch.sh [--build DIR] [--reps R] [--models "a b"] [--batches "32 64 256"]
#                           [--threads "1 2"] [--epoch-batches "64"] [--coretype NAME]
#                           [--out FILE] [--quick]
#
# For every model x batch x thread count, runs tools/bench_train (C) and
# tools/bench_torch.py (PyTorch) one after the other, R times, alternating
# which goes first, and prints the medians and slope/PyTorch ratios of:
# training samples/s over a fixed number of steps, and over one full shuffled
# epoch (for the batch sizes in --epoch-batches), evaluation samples/s, peak
# RSS, start-up time (process start to the first training step, data
# loaded), slope's training FLOP rate as a fraction of sgemm on the same
# shapes, and slope's heap allocations per step.  Both start from the same
# initial weights (slope writes them, PyTorch loads them) and see the same
# batches in the fixed-step phase, so their loss curves are printed side by
# side as a correctness check (the CNN's dropout masks differ, so its curves
# agree only in trend).
#
# PyTorch runs as it is fastest on these machines: torch.set_num_threads(T)
# with OPENBLAS_NUM_THREADS=1.  slope runs with --threads T (its own threads,
# OpenBLAS single-threaded).  --coretype sets OPENBLAS_CORETYPE for both
# (OpenBLAS 0.3.21 takes Zen 5 for Haswell; SkylakeX selects its AVX-512
# kernels).  Needs /usr/bin/python3 with torch: installs python3-torch if it
# is missing.  Not run in CI.  Results: tools/BENCHMARKS.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
build="$root/build-perf"
reps=3
models="fashion_mlp fashion_mlp_prelu fashion_cnn"
batches="32 64 256"
threads_list="1 2"
epoch_batches="64"
coretype=""
out=""
while [ $# -gt 0 ]; do
    case "$1" in
    --build) build=$2; shift 2 ;;
    --reps) reps=$2; shift 2 ;;
    --models) models=$2; shift 2 ;;
    --batches) batches=$2; shift 2 ;;
    --threads) threads_list=$2; shift 2 ;;
    --epoch-batches) epoch_batches=$2; shift 2 ;;
    --coretype) coretype=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --quick) reps=1; epoch_batches=""; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "bench_vs_torch.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

py=/usr/bin/python3
if ! "$py" -c "import torch, numpy" 2>/dev/null; then
    echo "installing python3-torch (Debian) ..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-torch python3-numpy >&2
fi
if [ ! -x "$build/bench_train" ]; then
    cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build "$build" -j"$(nproc)" --target bench_train >/dev/null
fi

cd "$root"
[ -n "$coretype" ] && export OPENBLAS_CORETYPE="$coretype"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
results="$tmp/results.jsonl"
: >"$results"

# Per model: warm-up and timed steps (a few seconds per cell at most).
steps_for() {
    case "$1" in
    *cnn*) echo "5 40" ;;
    *) echo "20 300" ;;
    esac
}

run_one() { # impl model batch threads epochs peak [check]
    impl=$1 model=$2 batch=$3 thr=$4 epochs=$5 peak=$6 check=${7:-}
    set -- $(steps_for "$model")
    warm=$1 steps=$2 extra="" dest="$results"
    if [ -n "$check" ]; then
        warm=1 steps=59 extra="--no-dropout" dest="$tmp/check.jsonl"
    fi
    cfg="models/$model.json"
    init="$tmp/$model.init.safetensors"
    log="$tmp/$impl.$model.$batch.$thr.log"
    if [ "$impl" = slope ]; then
        [ "$peak" = 1 ] && extra="$extra --peak"
        env -u OPENBLAS_NUM_THREADS "$build/bench_train" "$cfg" --batch "$batch" --threads "$thr" \
            --warmup "$warm" --steps "$steps" --epochs "$epochs" --init "$init" $extra \
            --t0 "$(date +%s.%N)" >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    else
        OPENBLAS_NUM_THREADS=1 "$py" "$here/bench_torch.py" "$cfg" --batch "$batch" \
            --threads "$thr" --warmup "$warm" --steps "$steps" --epochs "$epochs" \
            --init "$init" --t0 "$(date +%s.%N)" $extra >"$log" 2>&1 || { cat "$log" >&2; exit 1; }
    fi
    grep '^RESULT ' "$log" | sed "s/^RESULT {/{\"cfg\": \"$model\", /" >>"$dest"
}

start=$(date +%s)
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
echo "torch $("$py" -c 'import torch; print(torch.__version__)'), OpenBLAS core: $(OPENBLAS_VERBOSE=2 "$build/bench_train" --help 2>&1 | sed -n 's/^Core: //p' | head -1)${coretype:+ (OPENBLAS_CORETYPE=$coretype)}"
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
: >"$tmp/check.jsonl"
for model in $models; do # the correctness check: 60 steps, dropout off, 1 thread
    run_one slope "$model" 64 1 0 0 check
    run_one torch "$model" 64 1 0 0 check
done
r=1
while [ "$r" -le "$reps" ]; do
    for model in $models; do
        for batch in $batches; do
            for thr in $threads_list; do
                epochs=0
                for eb in $epoch_batches; do [ "$eb" = "$batch" ] && epochs=1; done
                peak=0
                [ "$r" = 1 ] && [ "$batch" = 64 ] && peak=1
                # The slope run writes the initial weights PyTorch loads, so it goes
                # first on the first repetition; after that the order alternates.
                if [ $((r % 2)) = 1 ]; then
                    run_one slope "$model" "$batch" "$thr" "$epochs" "$peak"
                    run_one torch "$model" "$batch" "$thr" "$epochs" 0
                else
                    run_one torch "$model" "$batch" "$thr" "$epochs" 0
                    run_one slope "$model" "$batch" "$thr" "$epochs" "$peak"
                fi
                printf '.' >&2
            done
        done
    done
    r=$((r + 1))
done
echo >&2
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg); $(( $(date +%s) - start )) s for $reps repetition(s)"

"$py" - "$results" "$tmp/check.jsonl" <<'EOF' | tee ${out:+"$out"}
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
checks = [json.loads(l) for l in open(sys.argv[2])]
cells = {}
for r in rows:
    cells.setdefault((r["cfg"], r["batch"], r["threads"], r["impl"]), []).append(r)
def med(key, runs):
    v = [r[key] for r in runs if r.get(key) not in (None, 0, 0.0)]
    return statistics.median(v) if v else None
def f(v, fmt="{:.0f}"):
    return "-" if v is None else fmt.format(v)
def ratio(a, b):
    return "-" if a is None or b is None or b == 0 else f"{a / b:.2f}x"
keys = sorted({(c, b, t) for (c, b, t, _) in cells}, key=lambda k: (k[0], k[1], k[2]))
n = max(len(v) for v in cells.values())
print(f"\nmedians of {n} run(s) per cell; ratio = slope / PyTorch (higher is better for slope)\n")
print("| model | batch | thr | train steps/s slope | torch | ratio | full epoch slope | torch | ratio "
      "| eval slope | torch | ratio | RSS MiB slope | torch | startup s slope | torch "
      "| slope GFLOP/s | % of sgemm | allocs/step |")
print("|" + "---|" * 19)
for c, b, t in keys:
    s, p = cells.get((c, b, t, "slope"), []), cells.get((c, b, t, "torch"), [])
    ss, ps = med("steps_sps", s), med("steps_sps", p)
    se, pe = med("epoch_sps", s), med("epoch_sps", p)
    sv, pv = med("eval_sps", s), med("eval_sps", p)
    sg, gg = med("train_gflops", s), med("gemm_gflops", s)
    allocs = max((r["allocs_per_step"] for r in s), default=None)
    print(f"| {c} | {b} | {t} | {f(ss)} | {f(ps)} | {ratio(ss, ps)} | {f(se)} | {f(pe)} | {ratio(se, pe)} "
          f"| {f(sv)} | {f(pv)} | {ratio(sv, pv)} | {f(med('rss_mib', s), '{:.1f}')} "
          f"| {f(med('rss_mib', p), '{:.1f}')} | {f(med('startup_s', s), '{:.2f}')} "
          f"| {f(med('startup_s', p), '{:.2f}')} | {f(sg, '{:.1f}')} "
          f"| {f(None if sg is None or not gg else 100 * sg / gg, '{:.0f}%')} | {f(allocs, '{:g}')} |")
print("\ntraining steps/s ratio of each alternated pair (slope / PyTorch in the same repetition):")
for c, b, t in keys:
    s, p = cells.get((c, b, t, "slope"), []), cells.get((c, b, t, "torch"), [])
    pairs = sorted(x["steps_sps"] / y["steps_sps"] for x, y in zip(s, p) if y["steps_sps"])
    if pairs:
        print(f"  {c} batch {b}, {t} thread(s): min {pairs[0]:.2f}x, median "
              f"{statistics.median(pairs):.2f}x, max {pairs[-1]:.2f}x over {len(pairs)} pair(s)")
peaks = {}
for r in rows:
    if r["impl"] == "slope" and r.get("peak_gflops"):
        peaks.setdefault(r["threads"], []).append(r["peak_gflops"])
for t, v in sorted(peaks.items()):
    print(f"\nsgemm 2048^3 on {t} thread(s): {statistics.median(v):.1f} GFLOP/s")
print("\nloss curves: 60 steps from the same initial weights on the same batches (batch 64, "
      "1 thread, dropout off), slope / PyTorch:")
by = {(r["cfg"], r["impl"]): r["losses"] for r in checks}
for c in sorted({r["cfg"] for r in checks}):
    ls, lp = by.get((c, "slope")), by.get((c, "torch"))
    if not ls or not lp:
        continue
    k = min(len(ls), len(lp))
    pts = [0, 1, 2, 4] + list(range(9, k, 10))
    print(f"  {c}: " + "  ".join(f"{i + 1}:{ls[i]:.4f}/{lp[i]:.4f}" for i in pts))
    rel = max(abs(ls[i] - lp[i]) / max(abs(lp[i]), 1e-6) for i in range(k))
    first = next((i + 1 for i in range(k) if abs(ls[i] - lp[i]) > 1e-3 * abs(lp[i])), None)
    print(f"  {c}: largest relative difference {rel:.1e}; "
          + (f"first step differing by more than 0.1%: {first}" if first else
             "every step within 0.1%"))
EOF
