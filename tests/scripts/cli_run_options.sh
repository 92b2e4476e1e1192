#!/bin/sh
# Config overrides and resumes through the CLI:
#   - `--set PATH=null` removes the key: an SGD config becomes an Adam one with
#     `--set optimizer.type=adam --set optimizer.momentum=null` (type=adam alone is refused,
#     exit 3, and the message says which --set drops the key); digits index arrays
#     (`model.layers.1.alpha=null`);
#   - resuming a cosine run with other --epochs is refused (exit 3) naming both epoch
#     counts, the schedule and --allow-schedule-change; with the flag it trains on and
#     says so; a constant schedule resumes with other epochs as asked;
#   - train.precision=bf16 trains a small CNN (the 4x3 IDX fixture, batches of 5 so oneDNN
#     takes them): it says "precision: bf16" where the CPU has bf16 kernels, else a note
#     on stderr that convolutions run in fp32 (always so with oneDNN held to AVX2, or
#     with SLOPE_CONV=im2col), and a
#     typo in the value is refused naming the key.
#
#   cli_run_options.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
src=$2
dir=$3
script=cli_run_options
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir
spiral=$src/models/spiral_mlp.json
quiet="--quiet --set stats.enabled=false"

# null removes a key: an SGD config (dying_mlp) turned into an Adam one.
run summary "$src/models/dying_mlp.json" --set optimizer.type=adam \
  --set optimizer.momentum=null >out.txt 2>err.txt; rc=$?
expect_rc 0 "optimizer.type=adam with optimizer.momentum=null"
run summary "$src/models/dying_mlp.json" --set optimizer.type=adam >out.txt 2>err.txt; rc=$?
expect_rc 3 "optimizer.type=adam keeping SGD's momentum"
grep -qF "optimizer.momentum: not a setting of the \"adam\" optimizer" err.txt &&
  grep -qF -- "--set optimizer.momentum=null" err.txt || fail "message: $(cat err.txt)"
run train "$spiral" --epochs 1 $quiet --set optimizer.type=adam --set optimizer.momentum=null \
  --set model.layers.1.alpha=null --set model.layers.3.alpha=0.2 >out.txt 2>err.txt; rc=$?
expect_rc 0 "train with null overrides and digit indices"

# A cosine run of 2 epochs resumed with 4.
run train "$spiral" --epochs 2 $quiet --checkpoint ck.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "the 2-epoch cosine run"
run train "$spiral" --epochs 4 $quiet --resume ck.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 3 "resume of a cosine run with other epochs"
for part in ck.safetensors "saved with train.epochs 2, this one has 4" cosine \
  --allow-schedule-change; do
  grep -qF -- "$part" err.txt || fail "no '$part' in: $(cat err.txt)"
done
run train "$spiral" --epochs 4 $quiet --resume ck.safetensors --allow-schedule-change \
  >out.txt 2>err.txt; rc=$?
expect_rc 0 "resume with --allow-schedule-change"
grep -qF "resuming with train.epochs 4 instead of 2" err.txt || fail "no note: $(cat err.txt)"
grep -q "^final test accuracy: " out.txt || fail "did not train on: $(cat out.txt)"

# A constant schedule does not depend on the epochs: resumed as asked, no refusal.
const="--set schedule.type=constant --set schedule.min_lr=null"
run train "$spiral" --epochs 2 $quiet $const --checkpoint c.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "the 2-epoch constant run"
run train "$spiral" --epochs 4 $quiet $const --resume c.safetensors >out.txt 2>err.txt; rc=$?
expect_rc 0 "resume of a constant schedule with other epochs"
# train.precision=bf16 on a small CNN.
fx=$src/datasets/fixtures
mkdir ds
cat >ds/tiny43.json <<JSON
{ "name": "tiny43", "format": "idx", "classes": 3, "input": [1, 4, 3], "directory": "$fx",
  "splits": { "train": { "images": "tiny-images.idx", "labels": "tiny-labels.idx" },
              "test": { "images": "tiny-images.idx.gz", "labels": "tiny-labels.idx.gz" } } }
JSON
cat >cnn.json <<JSON
{ "name": "tiny-cnn", "seed": 1, "data": { "dataset": "tiny43", "validation": 0.0 },
  "model": { "input": [1, 4, 3], "layers": [ { "type": "conv2d", "out": 4, "kernel": 3,
    "padding": 1 }, { "type": "leaky_relu" }, { "type": "flatten" }, { "type": "linear", "out": 3 } ] },
  "optimizer": { "type": "sgd", "lr": 0.1 }, "train": { "epochs": 2, "batch_size": 5 } }
JSON
SLOPE_DATASETS_DIR=$PWD/ds
export SLOPE_DATASETS_DIR
note="convolutions run in fp32"
run train cnn.json --set train.precision=bf16 >out.txt 2>err.txt; rc=$?
expect_rc 0 "train with train.precision=bf16"
grep -q "^precision: bf16 convolutions" out.txt || grep -qF "$note" err.txt ||
  fail "neither bf16 nor the fp32 note: $(cat out.txt err.txt)"
DNNL_MAX_CPU_ISA=AVX2 run train cnn.json --quiet --set train.precision=bf16 >out.txt 2>err.txt
rc=$?
expect_rc 0 "train with train.precision=bf16, oneDNN held to AVX2"
grep -qF "cnn.json: train.precision \"bf16\": no bf16 convolution kernels here" err.txt &&
  grep -qF "$note" err.txt || fail "no fp32 note: $(cat err.txt)"
SLOPE_CONV=im2col run train cnn.json --quiet --set train.precision=bf16 >out.txt 2>err.txt
rc=$?
expect_rc 0 "train with train.precision=bf16 on im2col"
grep -qF "$note" err.txt || fail "no fp32 note on im2col: $(cat err.txt)"
run train cnn.json --set train.precision=bf61 >out.txt 2>err.txt; rc=$?
expect_rc 3 "train.precision=bf61"
grep -qF 'train.precision: unknown value "bf61" (did you mean "bf16"?)' err.txt ||
  fail "message: $(cat err.txt)"
echo "$script: all passed"
