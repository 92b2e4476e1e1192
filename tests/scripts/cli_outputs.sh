#!/bin/sh
# What `slope train` writes besides the model, and what it does when writing fails:
#   - checkpoint.keep_best keeps the epoch with the best test accuracy (the metrics say which)
#     and a resumed run goes on comparing against it;
#   - --resume of a run that has all its epochs says so and evaluates, exit 0;
#   - every output is checked before any training: a checkpoint directory that does not
#     exist, a device, directory, '' or dangling symlink is exit 5 naming it; the config (an
#     input) as the checkpoint, or one file for the checkpoint and the metrics, is exit 3;
#   - a stale "<checkpoint>.tmp.XXXXXX" (a write killed by kill -9) is removed with a note;
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
run train "$config" --epochs 12 $quiet --resume ck.safetensors --allow-schedule-change --checkpoint ck.safetensors \
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
grep -q "cannot write the checkpoint in 'nodir'" err.txt || fail "message: $(cat err.txt)"
! grep -q "^epoch " out.txt || fail "trained an epoch before finding the directory missing"

# Resuming a finished run: a note, the evaluation, exit 0.
run train "$config" --epochs 12 $quiet --resume ck.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "resume of a finished run"
grep -q "already trained 12 of 12 epochs" err.txt || fail "no 'already trained' note: $(cat err.txt)"
grep -q "^final test accuracy: " out.txt || fail "no evaluation: $(cat out.txt)"

# Outputs that are not regular files, or are inputs of the run: refused before training.
run train "$config" --epochs 2 $quiet --metrics /dev/null >out.txt 2>err.txt; rc=$?
expect_rc 5 "metrics to /dev/null"
grep -q "/dev/null (the metrics file) is a character device" err.txt || fail "message: $(cat err.txt)"
mkdir -p adir
for bad in adir /dev/null ""; do
  run train "$config" --epochs 1 $quiet --checkpoint "$bad" >out.txt 2>err.txt; rc=$?
  [ "$rc" -eq 5 ] || [ "$rc" -eq 3 ] || fail "--checkpoint '$bad': exit $rc"
  ! grep -q "^epoch " out.txt || fail "--checkpoint '$bad': trained before refusing it"
done
ln -sf no-such-target dangling.safetensors
run train "$config" --epochs 1 $quiet --checkpoint dangling.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 5 "a dangling symlink as the checkpoint"
grep -q "dangling symbolic link" err.txt || fail "message: $(cat err.txt)"
cp "$config" own.json
run train own.json --epochs 1 $quiet --checkpoint own.json >out.txt 2>err.txt; rc=$?
expect_rc 3 "the config as the checkpoint"
grep -q "own.json (the checkpoint) is the config of this run" err.txt || fail "message: $(cat err.txt)"
cmp -s own.json "$config" || fail "the config was changed"
run train "$config" --epochs 1 $quiet --checkpoint same.out --metrics ./same.out >out.txt 2>err.txt; rc=$?
expect_rc 3 "one file for the checkpoint and the metrics"
grep -q "is both the metrics file and the checkpoint" err.txt || fail "message: $(cat err.txt)"

# A stale temporary file of this checkpoint (a write killed by kill -9) is removed, saying so.
echo "half a checkpoint" >stale.safetensors.tmp.Ab12Cd
run train "$config" --epochs 1 $quiet --checkpoint stale.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "train with a stale temporary file"
[ ! -e stale.safetensors.tmp.Ab12Cd ] || fail "the stale temporary file is still there"
grep -q "removed ./stale.safetensors.tmp.Ab12Cd, a temporary file left by an interrupted checkpoint write" err.txt ||
  fail "no note of the removal: $(cat err.txt)"

# A file-size limit below the checkpoint's size: EFBIG, exit 5, the old checkpoint intact.
cp ck.safetensors before.safetensors
size_kb=$(( $(wc -c <ck.safetensors) / 1024 / 2 ))
(ulimit -f "$size_kb" && exec ${SLOPE_WRAPPER:-} "$slope" train "$config" --epochs 13 $quiet \
  --resume ck.safetensors --allow-schedule-change --checkpoint ck.safetensors >out.txt 2>err.txt); rc=$?
expect_rc 5 "checkpoint past ulimit -f"
grep -q "File too large" err.txt || fail "message: $(cat err.txt)"
cmp -s ck.safetensors before.safetensors || fail "the previous checkpoint was changed"
for f in ./*.tmp.*; do
  [ -e "$f" ] && fail "a temporary file was left behind: $f"
done
echo "cli_outputs: ok"
