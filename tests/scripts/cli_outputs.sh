#!/bin/sh
# What `slope train` writes besides the model, and what it does when writing fails:
#   - checkpoint.keep_best keeps the epoch with the best test accuracy (the metrics say which)
#     and a resumed run goes on comparing against it;
#   - --resume of a run that has all its epochs says so and evaluates, exit 0;
#   - a metrics file that cannot be written (/dev/full) is exit 5 naming it, and so is a
#     checkpoint directory that does not exist, before any training;
#   - a file-size limit (ulimit -f) hit while writing a checkpoint is exit 5, the
#     previous checkpoint intact and no temporary file left (not a SIGXFSZ kill).
#
#   cli_outputs.sh SLOPE CONFIG WORKDIR      (CONFIG: models/spiral_mlp.json)
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
config=$2
dir=$3
script=cli_outputs
. "$(dirname "$0")/cli_lib.sh"
# The value of a metadata key of a safetensors file (the JSON header is its first line of text).
meta() { head -c 65536 "$1" | tr ',{}' '\n\n\n' | sed -n "s/^\"$2\":\"\(.*\)\"\$/\1/p"; }

enter_fresh_dir
quiet="--quiet --set stats.enabled=false"

# keep_best: the best epoch by test accuracy (the spiral config has no validation split).
run train "$config" --epochs 6 $quiet --checkpoint ck.safetensors --metrics m.jsonl \
  --set checkpoint.keep_best=true >out.txt 2>err.txt; rc=$?
expect_rc 0 "train with keep_best"
[ -s ck.best.safetensors ] || fail "no ck.best.safetensors"
want=$(sed -n 's/.*"epoch": \([0-9]*\),.*"test_acc": \([0-9.e-]*\).*/\2 \1/p' m.jsonl |
  sort -s -k1,1gr | head -n 1 | cut -d' ' -f2)
# Ties keep the earliest epoch (a later one must beat it): sort -s keeps epoch order.
got=$(meta ck.best.safetensors best_epoch)
[ -n "$want" ] && [ "$got" = "$want" ] || fail "best checkpoint is epoch '$got', the metrics say '$want'"
run eval "$config" --checkpoint ck.best.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "eval of the best checkpoint"
best_acc=$(meta ck.best.safetensors best_accuracy)

# Resumed: the best file is replaced only by a better epoch than the one it holds.
run train "$config" --epochs 12 $quiet --resume ck.safetensors --checkpoint ck.safetensors \
  --metrics m2.jsonl --set checkpoint.keep_best=true >out.txt 2>err.txt; rc=$?
expect_rc 0 "resumed train with keep_best"
later=$(sed -n 's/.*"test_acc": \([0-9.e-]*\).*/\1/p' m2.jsonl | sort -gr | head -n 1)
now=$(meta ck.best.safetensors best_accuracy)
if awk "BEGIN { exit !($later > $best_acc) }"; then
  [ "$now" != "$best_acc" ] || fail "epochs 7-12 reached $later > $best_acc but the best file was kept"
else
  [ "$now" = "$best_acc" ] || fail "the best file changed to $now though no epoch beat $best_acc"
fi

# keep_best without a checkpoint path is a config error, before any training.
run train "$config" --epochs 1 $quiet --set checkpoint.keep_best=true >out.txt 2>err.txt; rc=$?
expect_rc 3 "keep_best without a checkpoint"
grep -q "checkpoint.keep_best: needs a checkpoint path" err.txt || fail "message: $(cat err.txt)"

# A checkpoint directory that does not exist is found before training, not after an epoch.
run train "$config" --epochs 1 --set stats.enabled=false --checkpoint nodir/ck.safetensors \
  >out.txt 2>err.txt; rc=$?
expect_rc 5 "checkpoint in a missing directory"
grep -q "cannot write checkpoints in 'nodir'" err.txt || fail "message: $(cat err.txt)"
! grep -q "^epoch " out.txt || fail "trained an epoch before finding the directory missing"

# Resuming a finished run: a note, the evaluation, exit 0.
run train "$config" --epochs 12 $quiet --resume ck.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "resume of a finished run"
grep -q "already trained 12 of 12 epochs" err.txt || fail "no 'already trained' note: $(cat err.txt)"
grep -q "^final test accuracy: " out.txt || fail "no evaluation: $(cat out.txt)"

# Metrics that cannot be written.
if [ -w /dev/full ]; then
  run train "$config" --epochs 2 $quiet --metrics /dev/full >out.txt 2>err.txt; rc=$?
  expect_rc 5 "metrics to /dev/full"
  grep -q "/dev/full: writing the metrics failed" err.txt || fail "message: $(cat err.txt)"
fi

# A file-size limit below the checkpoint's size: EFBIG, exit 5, the old checkpoint intact.
cp ck.safetensors before.safetensors
size_kb=$(( $(wc -c <ck.safetensors) / 1024 / 2 ))
(ulimit -f "$size_kb" && exec ${SLOPE_WRAPPER:-} "$slope" train "$config" --epochs 13 $quiet \
  --resume ck.safetensors --checkpoint ck.safetensors >out.txt 2>err.txt); rc=$?
expect_rc 5 "checkpoint past ulimit -f"
grep -q "File too large" err.txt || fail "message: $(cat err.txt)"
cmp -s ck.safetensors before.safetensors || fail "the previous checkpoint was changed"
for f in ./*.tmp.*; do
  [ -e "$f" ] && fail "a temporary file was left behind: $f"
done
echo "cli_outputs: ok"
