#!/bin/bash
# tools/compare_timing.sh: `slope compare` with 5 seeds x 3 activations of dying_mlp against the
# same 15 runs as plain `slope train` (statistics on, then off), twice: the README's cost figure.
cd "$(dirname "$0")/.."
slope=./build/slope
acts=('{"type":"relu"}' '{"type":"leaky_relu","alpha":0.1}' '{"type":"prelu","num_parameters":"channel"}')
plain() { # $1 = stats true|false
  for s in 42 43 44 45 46; do for a in "${acts[@]}"; do
    $slope train models/dying_mlp.json --quiet --set seed=$s --set "model.layers[2]=$a" \
      --set "model.layers[4]=$a" --set stats.enabled=$1 > /dev/null 2>&1 || true
  done; done
}
TIMEFORMAT=%R
for round in 1 2; do
  c=$( { time $slope compare models/dying_mlp.json --act relu,leaky_relu:0.1,prelu:channel --seeds 5 --out ${TMPDIR:-/tmp}/slope-compare-timing > ${TMPDIR:-/tmp}/slope-compare-timing.log 2>&1; } 2>&1 )
  on=$( { time plain true; } 2>&1 )
  off=$( { time plain false; } 2>&1 )
  echo "round $round: compare $c s, 15 plain trainings: stats on $on s, stats off $off s"
done
