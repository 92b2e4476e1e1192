#!/bin/sh
# Inputs that are not what they should be, through the CLI:
#   - a FIFO nobody writes, as the config, a CSV dataset, a dataset descriptor, the
#     checkpoint of `slope eval` and of `train --resume`: refused at once (exit 3, "is a
#     FIFO, not a regular file"), never a hang (each run is under `timeout`);
#   - a dataset past the memory budget (SLOPE_DATA_BUDGET): exit 6 naming the file and the
#     budget, not exit 1 "cannot allocate";
#   - IDX images of 4x3 for a model whose input is [1, 3, 4]: exit 3 naming both shapes;
#   - a model without trainable parameters: `summary` exits 3;
#   - a 2-row CSV of 3e6 features trains under `ulimit -v 2000000`.
#
#   cli_inputs.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
src=$2
dir=$3
script=cli_inputs
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir
fx=$src/datasets/fixtures

# A config of CSV files (tiny.csv: 3 features, 3 classes) or IDX files, model input $2.
write_config() { # FILE DATA INPUT
  cat >"$1" <<JSON
{ "name": "inputs", "seed": 1, "data": { $2, "validation": 0.0 },
  "model": { "input": $3, "layers": [ { "type": "flatten" }, { "type": "linear", "out": 3 } ] },
  "optimizer": { "type": "sgd", "lr": 0.1 }, "train": { "epochs": 1, "batch_size": 2 },
  "stats": { "enabled": false } }
JSON
}
# Runs slope under a 20 s timeout: 124 (a hang) fails whatever the expected code.
trun() { timeout 20 ${SLOPE_WRAPPER:-} "$slope" "$@"; }
expect_fifo() { # WHAT
  expect_rc 3 "$1"
  grep -q "is a FIFO, not a regular file" err.txt || fail "$1: $(cat err.txt)"
}

mkfifo fifo || fail "mkfifo"
write_config csv.json "\"train\": { \"csv\": \"$fx/tiny.csv\" }, \"classes\": 3" "[3]"
write_config fifo-data.json "\"train\": { \"csv\": \"$PWD/fifo\" }, \"classes\": 3" "[3]"

trun train fifo --quiet >out.txt 2>err.txt; rc=$?
expect_fifo "config that is a FIFO"
trun train fifo-data.json --quiet >out.txt 2>err.txt; rc=$?
expect_fifo "CSV dataset that is a FIFO"

mkdir -p ds && mkfifo ds/piped.json || fail "mkfifo ds/piped.json"
write_config named.json "\"dataset\": \"piped\"" "[3]"
SLOPE_DATASETS_DIR=$PWD/ds trun train named.json --quiet >out.txt 2>err.txt; rc=$?
expect_fifo "dataset descriptor that is a FIFO"

trun eval csv.json --checkpoint fifo >out.txt 2>err.txt; rc=$?
expect_fifo "eval --checkpoint FIFO"
trun train csv.json --quiet --resume fifo >out.txt 2>err.txt; rc=$?
expect_fifo "train --resume FIFO"

# The budget: 1 KiB holds no CSV rows worth reading (the default allows the same file).
SLOPE_DATA_BUDGET=1K trun train csv.json --quiet >out.txt 2>err.txt; rc=$?
expect_rc 6 "CSV past SLOPE_DATA_BUDGET"
grep -q "tiny.csv:.*past the memory budget of 1.0 KiB" err.txt || fail "budget message: $(cat err.txt)"
trun train csv.json --quiet >out.txt 2>err.txt; rc=$?
expect_rc 0 "CSV within the default budget"

# Same features, another shape.
write_config shape.json "\"train\": { \"images\": \"$fx/tiny-images.idx\", \"labels\": \"$fx/tiny-labels.idx\" }, \"classes\": 3" "[1, 3, 4]"
trun train shape.json --quiet >out.txt 2>err.txt; rc=$?
expect_rc 3 "IDX 4x3 for an input [1, 3, 4]"
grep -q "samples of shape \[1, 4, 3\] do not fit the model's input \[1, 3, 4\]" err.txt ||
  fail "shape message: $(cat err.txt)"
write_config shape-ok.json "\"train\": { \"images\": \"$fx/tiny-images.idx\", \"labels\": \"$fx/tiny-labels.idx\" }, \"classes\": 3" "[1, 4, 3]"
trun train shape-ok.json --quiet >out.txt 2>err.txt; rc=$?
expect_rc 0 "IDX 4x3 for an input [1, 4, 3]"

# A model with no trainable parameters: `summary` refuses it as `train` does (exit 3).
cat >noparams.json <<JSON
{ "data": { "dataset": "spiral" }, "model": { "input": [3], "layers": [ { "type": "relu" } ] } }
JSON
trun summary noparams.json >out.txt 2>err.txt; rc=$?
expect_rc 3 "summary of a model without parameters"
grep -q "the model has no trainable parameters" err.txt || fail "no-params message: $(cat err.txt)"

# A CSV of 2 rows of 3e6 features under `ulimit -v 2000000`: the rows grow with the data
# (they started at 256 rows, 3 GB: "cannot allocate 256 rows", exit 1).  Not behind valgrind
# or a sanitizer, whose own address space the limit would measure.
case "${LD_PRELOAD:-}" in *vgpreload*) under_tool=1 ;; *) under_tool= ;; esac
if [ -z "${SLOPE_WRAPPER:-}" ] && [ -z "$under_tool" ] &&
   ! ldd "$slope" 2>/dev/null | grep -q 'libasan\|libtsan'; then
  awk 'BEGIN { for (r = 0; r < 2; r++) { printf "%d", 2 * r; for (i = 0; i < 3000000; i++) printf ",0"; printf "\n" } }' >wide.csv
  write_config wide.json "\"train\": { \"csv\": \"$PWD/wide.csv\" }, \"classes\": 3" "[3000000]"
  (ulimit -v 2000000; exec timeout 60 "$slope" train wide.json --quiet) >out.txt 2>err.txt; rc=$?
  expect_rc 0 "a 2-row CSV of 3e6 features under ulimit -v 2000000"
  rm -f wide.csv
fi
echo "$script: ok"
