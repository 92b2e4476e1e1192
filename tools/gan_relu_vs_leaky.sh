#!/usr/bin/env bash
# The seed's claim that Leaky ReLU steadies GAN training, tested: tools/examples/gan.c with
# the shipped configs (Leaky ReLU 0.2 in the discriminator) and with ReLU in its place,
# SEEDS seeds each; prints the classifier score per epoch and the discriminator's dead
# (ReLU) / inactive (Leaky ReLU) fraction, and plots the score curves with gnuplot.
#
#   tools/gan_relu_vs_leaky.sh BUILD_DIR CLASSIFIER.safetensors [OUT_DIR] [SEEDS] [EPOCHS] [ACTS]
# e.g. build/slope train models/fashion_cnn.json --checkpoint fcnn.safetensors
#      tools/gan_relu_vs_leaky.sh build fcnn.safetensors gan-study 3 20
# A run whose metrics already hold all its epochs is not run again, so two invocations with
# ACTS "leaky_relu" and "relu" (and GAN_THREADS=1) can share the two cores, and a third
# with no runs left makes the table and the plot.  GAN_THREADS: --threads (default 2).
set -euo pipefail
build=$1
classifier=$2
out=${3:-gan-study}
seeds=${4:-3}
epochs=${5:-20}
acts=${6:-leaky_relu relu}
src=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
for act in $acts; do
  for ((s = 1; s <= seeds; s++)); do
    run=$out/$act-seed$s
    if [ -f "$run/metrics.jsonl" ] && [ "$(wc -l <"$run/metrics.jsonl")" -ge "$epochs" ]; then
      echo "== $act, seed $s: done ($run)"
      continue
    fi
    sets=(--set-g "seed=$s" --set-d "seed=$s")
    if [ "$act" = relu ]; then # the discriminator's activations are layers 1 and 4
      sets+=(--set-d 'model.layers[1]={"type": "relu"}' --set-d 'model.layers[4]={"type": "relu"}')
    fi
    echo "== $act, seed $s -> $run"
    rm -rf "$run"
    "$build/gan" --generator "$src/models/gan_generator.json" \
      --discriminator "$src/models/gan_discriminator.json" --classifier "$classifier" \
      --epochs "$epochs" --out "$run" --threads "${GAN_THREADS:-2}" "${sets[@]}" | tail -n 1
  done
done

# A table: per activation, the mean over seeds of the last epoch's score and D fraction.
python3 - "$out" "$seeds" <<'PY'
import json, os, sys
out, seeds = sys.argv[1], int(sys.argv[2])
print("\n| D activation | seed | score at epoch 5 | 10 | 20 (last) | mean over epochs 11-20 | D units <= 0 on every probe image (last; at most) |")
print("|---|---|---|---|---|---|---|")
for act in ("leaky_relu", "relu"):
    last = []
    for s in range(1, seeds + 1):
        run = os.path.join(out, f"{act}-seed{s}")
        m = [json.loads(l) for l in open(os.path.join(run, "metrics.jsonl"))]
        with open(os.path.join(run, "score.dat"), "w") as dat:
            dat.writelines(f'{r["epoch"]} {r["score"]} {r["d_dead_frac"]}\n' for r in m)
        at = {r["epoch"]: r for r in m}
        pick = lambda e: f'{at[e]["score"]:.2f}' if e in at else "-"
        late = [r["score"] for r in m if r["epoch"] > len(m) // 2]
        most = max(r["d_dead_frac"] for r in m)
        print(f"| {act} | {s} | {pick(5)} | {pick(10)} | {m[-1]['score']:.2f} | "
              f"{sum(late) / len(late):.2f} | {100 * m[-1]['d_dead_frac']:.1f}% ({100 * most:.1f}%) |")
        last.append(m[-1]["score"])
    print(f"| {act} | mean | | | {sum(last) / len(last):.2f} | |")
PY

# Score curves, one line per run (from the .dat files the table step wrote).
{
  echo "set terminal pngcairo noenhanced size 900,480 font 'sans,10'"
  echo "set output '$out/gan_scores.png'"
  echo "set title 'GAN on Fashion-MNIST: classifier score per epoch (D: Leaky ReLU 0.2 vs ReLU)'"
  echo "set xlabel 'epoch'; set ylabel 'classifier score'; set grid; set key left top"
  printf "plot "
  sep=""
  for act in leaky_relu relu; do
    color=$([ "$act" = leaky_relu ] && echo 1 || echo 7)
    for ((s = 1; s <= seeds; s++)); do
      printf "%s'%s' using 1:2 with linespoints lc %s title '%s seed %s'" \
        "$sep" "$out/$act-seed$s/score.dat" "$color" "$act" "$s"
      sep=", "
    done
  done
  echo
} >"$out/gan_scores.gp"
if command -v gnuplot >/dev/null; then gnuplot "$out/gan_scores.gp" && echo "plot: $out/gan_scores.png"; fi
