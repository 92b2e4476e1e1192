#!/bin/sh
# Exit codes for inputs that cannot be read (README: 3, "a bad input file or config")
# against outputs that cannot be written (5): every input of the CLI -- the config, a
# data file, a dataset descriptor, the checkpoint of `slope eval`, of `train --resume`,
# of `train --init-from` and of `slope export` -- missing, a directory, and (unless we
# run as root, which reads anything) without read permission, exits 3 naming the file.
# An output in a missing directory still exits 5.
#
#   cli_exit_codes.sh SLOPE SOURCE_DIR WORKDIR
#
# $SLOPE_WRAPPER, when set, prefixes every slope command.
set -u
slope=$1
src=$2
dir=$3
script=cli_exit_codes
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir
fx=$src/datasets/fixtures

write_config() { # FILE DATA
  cat >"$1" <<JSON
{ "name": "codes", "seed": 1, "data": { $2, "validation": 0.0 },
  "model": { "input": [3], "layers": [ { "type": "linear", "out": 3 } ] },
  "optimizer": { "type": "sgd", "lr": 0.1 }, "train": { "epochs": 1, "batch_size": 2 },
  "stats": { "enabled": false } }
JSON
}
# expect_unreadable WHAT PATH ARGS...: slope ARGS exits 3 and names PATH.
expect_unreadable() {
  what=$1 path=$2
  shift 2
  run "$@" >out.txt 2>err.txt
  rc=$?
  expect_rc 3 "$what"
  grep -qF "$path" err.txt || fail "$what: the message does not name $path: $(cat err.txt)"
}

write_config csv.json "\"train\": { \"csv\": \"$fx/tiny.csv\" }, \"classes\": 3"
run train csv.json --quiet --checkpoint ck.safetensors >out.txt 2>err.txt
rc=$?
expect_rc 0 "the training that makes the checkpoint"
mkdir adir
cp csv.json locked.json && cp ck.safetensors locked.safetensors && cp "$fx/tiny.csv" locked.csv
chmod 000 locked.json locked.safetensors locked.csv
locked=locked
[ -r locked.json ] && locked= # root reads it anyway: no permission case

for bad in missing adir $locked; do
  # The config, given on the command line.
  f=$bad.json
  [ "$bad" = adir ] && f=adir
  expect_unreadable "config ($bad)" "$f" train "$f" --quiet
  expect_unreadable "summary config ($bad)" "$f" summary "$f"

  # A data file the config names.
  f=$PWD/$bad.csv
  [ "$bad" = adir ] && f=$PWD/adir
  write_config data.json "\"train\": { \"csv\": \"$f\" }, \"classes\": 3"
  expect_unreadable "data file ($bad)" "$f" train data.json --quiet

  # A checkpoint, for each command that reads one.
  f=$bad.safetensors
  [ "$bad" = adir ] && f=adir
  expect_unreadable "eval --checkpoint ($bad)" "$f" eval csv.json --checkpoint "$f"
  expect_unreadable "train --resume ($bad)" "$f" train csv.json --quiet --resume "$f"
  expect_unreadable "train --init-from ($bad)" "$f" train csv.json --quiet --init-from "$f"
  expect_unreadable "export ($bad)" "$f" export "$f" -o out.safetensors
done

# A dataset descriptor: none in the directory searched, or one that is a directory.
write_config named.json "\"dataset\": \"nothing-here\""
mkdir ds ds/adir.json
SLOPE_DATASETS_DIR=$PWD/ds expect_unreadable "descriptor (missing)" "nothing-here.json" \
  train named.json --quiet
write_config named.json "\"dataset\": \"adir\""
SLOPE_DATASETS_DIR=$PWD/ds expect_unreadable "descriptor (directory)" "adir.json" \
  train named.json --quiet

# Outputs stay 5: the weights into a directory that does not exist.
run export ck.safetensors -o no-such-dir/out.safetensors >out.txt 2>err.txt
rc=$?
expect_rc 5 "export -o into a missing directory"
chmod 644 locked.json locked.safetensors locked.csv
echo "$script: all passed"
