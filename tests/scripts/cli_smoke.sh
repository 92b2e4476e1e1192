#!/bin/sh
# The `slope` CLI end to end on the spiral config: train (metrics, checkpoint, last line),
# eval, summary, help and version; and every bad-config fixture exits 3 with a message
# naming the file, bad command lines exit 2.
#
#   cli_smoke.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
src=$2
dir=$3
script=cli_smoke
. "$(dirname "$0")/cli_lib.sh"

enter_fresh_dir
spiral=$src/models/spiral_mlp.json

run --version >out.txt 2>err.txt; rc=$?
expect_rc 0 "--version"
grep -q "^slope [0-9]" out.txt || fail "--version printed: $(cat out.txt)"
run help >out.txt 2>err.txt; rc=$?
expect_rc 0 "help"
for cmd in train eval summary compare born-dead; do
  run $cmd --help >out.txt 2>err.txt; rc=$?
  expect_rc 0 "$cmd --help"
  grep -q "usage" out.txt || fail "$cmd --help printed no usage"
done

run train "$spiral" --epochs 3 --set stats.enabled=true --checkpoint ck.safetensors \
  --metrics m.jsonl >out.txt 2>err.txt; rc=$?
expect_rc 0 "train"
tail -n 1 out.txt | grep -q "^final test accuracy: " || fail "last line: $(tail -n 1 out.txt)"
# One line per epoch with that epoch's statistics inside; the report at the start (step 0)
# is inside the first epoch's line.
[ "$(wc -l <m.jsonl)" -eq 3 ] || fail "metrics: $(wc -l <m.jsonl) lines, expected one per epoch (3)"
[ "$(grep -c '"train_loss".*"stats": \[' m.jsonl)" -eq 3 ] || fail "metrics: epoch lines without their stats"
head -n 1 m.jsonl | grep -q '^{"epoch": 1, .*"reports": \[{"step": 0, "stats": \[' ||
  fail "metrics: the first epoch's line lacks the report at the start"
grep -q '"test_acc"' m.jsonl || fail "metrics lack test_acc"
[ -s ck.safetensors ] || fail "no checkpoint written"

run eval "$spiral" --checkpoint ck.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "eval"
grep -q "confusion matrix" out.txt || fail "eval printed no confusion matrix"
run summary "$spiral" >out.txt 2>err.txt; rc=$?
expect_rc 0 "summary"
grep -q "^total: 4547 parameters" out.txt || fail "summary: $(tail -n 1 out.txt)"

for bad in "$src"/tests/configs/bad_*.json; do
  run summary "$bad" >out.txt 2>err.txt; rc=$?
  expect_rc 3 "$(basename "$bad")"
  grep -q "$(basename "$bad")" err.txt || fail "$(basename "$bad"): message does not name the file: $(cat err.txt)"
done
# An rnn on images (not a sequence [T, F]): exit 3, naming the JSON path and the fix.
run train "$src/tests/configs/bad_rnn_input.json" >out.txt 2>err.txt; rc=$?
expect_rc 3 "rnn on [1, 28, 28]"
grep -qF 'model.layers[0]: layer 0 (rnn): input [1, 28, 28]: rnn needs a sequence input [T, F]' \
  err.txt || fail "rnn input: $(cat err.txt)"
run train "$spiral" --set model.layers[1].alpah=0.1 >out.txt 2>err.txt; rc=$?
expect_rc 3 "misspelt override"
grep -q 'did you mean "alpha"' err.txt || fail "no suggestion: $(cat err.txt)"

run train >out.txt 2>err.txt; rc=$?
expect_rc 2 "train without CONFIG"
run train "$spiral" --bogus >out.txt 2>err.txt; rc=$?
expect_rc 2 "unknown option"
run frobnicate >out.txt 2>err.txt; rc=$?
expect_rc 2 "unknown command"
run eval "$spiral" --checkpoint missing.safetensors >out.txt 2>err.txt; rc=$?
[ "$rc" -ne 0 ] || fail "eval of a missing checkpoint succeeded"
grep -q "missing.safetensors" err.txt || fail "missing checkpoint not named: $(cat err.txt)"
echo "cli_smoke: ok"
