#!/bin/sh
# A run that blows up (optimizer.lr=1e30) stops with exit 4 and a message that names
# the step and the layer, and leaves the last good checkpoint untouched.
#
#   cli_nan.sh SLOPE CONFIG WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
config=$2
dir=$3
script=cli_nan
. "$(dirname "$0")/cli_lib.sh"

enter_fresh_dir
ckpt="$dir/good.safetensors"

run train "$config" --epochs 2 --set stats.enabled=false --checkpoint "$ckpt" --quiet \
  >good.txt 2>&1 || fail "the good run failed: $(cat good.txt)"
[ -s "$ckpt" ] || fail "the good run wrote no checkpoint"
before=$(cksum <"$ckpt")

# Resume from it with an absurd learning rate: the weights overflow within a few steps.
run train "$config" --epochs 4 --resume "$ckpt" --allow-schedule-change --checkpoint "$ckpt" --set optimizer.lr=1e30 \
  --set stats.enabled=false --quiet >bad.txt 2>err.txt
rc=$?
[ "$rc" -eq 4 ] || fail "exit status $rc, expected 4; stderr: $(cat err.txt)"
grep -q 'step [0-9]' err.txt || fail "the message names no step: $(cat err.txt)"
grep -q 'layer [0-9]' err.txt || fail "the message names no layer: $(cat err.txt)"
grep -q "last good checkpoint, $ckpt, is left as it was" err.txt || fail "no pointer to the last good checkpoint: $(cat err.txt)"
[ "$(cksum <"$ckpt")" = "$before" ] || fail "the last good checkpoint changed"
for f in "$dir"/*.tmp.*; do
  [ -e "$f" ] && fail "a temporary file was left behind: $f"
done
run eval "$config" --checkpoint "$ckpt" >eval.txt 2>&1 || fail "the good checkpoint does not load: $(cat eval.txt)"
echo "cli_nan: $(grep "step" err.txt | head -n 1)"
