#!/bin/sh
# data.augment through the CLI: an image run with crop and flip trains (exit 0), --set
# changes it, and what the config reader or the opened data refuses exits 3 with the file
# and the JSON path: an unknown key, a flip probability outside [0, 1], a padding as large
# as the image, crop on the spiral's points, on CSV features, and on a descriptor whose
# samples are flat (found only once the data is open).
#
#   cli_augment.sh SLOPE SOURCE_DIR WORKDIR
set -u
slope=$1
src=$2
dir=$3
script=cli_augment
. "$(dirname "$0")/cli_lib.sh"
enter_fresh_dir
fx=$src/datasets/fixtures

write_config() { # FILE DATA INPUT
  cat >"$1" <<JSON
{ "name": "aug", "seed": 1, "data": { $2 },
  "model": { "input": $3, "layers": [ { "type": "flatten" }, { "type": "linear", "out": 3 } ] },
  "optimizer": { "type": "sgd", "lr": 0.1 }, "train": { "epochs": 2, "batch_size": 2 },
  "stats": { "enabled": false } }
JSON
}
idx="\"train\": { \"images\": \"$fx/tiny-images.idx\", \"labels\": \"$fx/tiny-labels.idx\" }"
aug='"augment": { "crop": { "padding": 1 }, "flip": 0.5 }'

# expect_refused WHAT TEXT ARGS...: slope ARGS exits 3 and says TEXT.
expect_refused() {
  what=$1 text=$2
  shift 2
  run "$@" >out.txt 2>err.txt
  rc=$?
  expect_rc 3 "$what"
  grep -qF -- "$text" err.txt || fail "$what: expected \"$text\" in: $(cat err.txt)"
}

write_config img.json "$idx, \"normalize\": \"scale01\", $aug" "[1, 4, 3]"
run train img.json --quiet >out.txt 2>err.txt
rc=$?
expect_rc 0 "an augmented IDX run"
run train img.json --quiet --set data.augment.flip=0.3 >out.txt 2>err.txt
rc=$?
expect_rc 0 "--set data.augment.flip=0.3"

expect_refused "unknown key" 'img.json: data.augment.flp: unknown key (did you mean "flip"?)' \
  train img.json --quiet --set data.augment.flp=0.3
expect_refused "flip range" "img.json: data.augment.flip: must be in [0, 1], got 1.5" \
  train img.json --quiet --set data.augment.flip=1.5
expect_refused "padding range" \
  "img.json: data.augment.crop.padding: must be below the image size 4x3 (model.input), got 3" \
  train img.json --quiet --set data.augment.crop.padding=3
expect_refused "padding integer" "img.json: data.augment.crop.padding: expected an integer, got 1.5" \
  train img.json --quiet --set data.augment.crop.padding=1.5

write_config spiral.json "\"dataset\": \"spiral\", $aug" "[2]"
expect_refused "crop on the spiral" \
  "spiral.json: data.augment.crop: needs image data [C, H, W]; the spiral's samples are points [2]" \
  train spiral.json --quiet
write_config csv.json "\"train\": { \"csv\": \"$fx/tiny.csv\" }, \"classes\": 3, $aug" "[1, 1, 3]"
expect_refused "crop on CSV features" \
  "csv.json: data.augment.crop: needs image data [C, H, W]; CSV features are flat [F]" \
  train csv.json --quiet
write_config flat.json "\"dataset\": \"tiny-idx\", $aug" "[1, 4, 3]"
SLOPE_DATASETS_DIR=$fx
export SLOPE_DATASETS_DIR
expect_refused "crop on a flat descriptor" \
  "flat.json: data.augment.crop: needs images [C, H, W], not samples of shape [12] (tiny-idx/train)" \
  train flat.json --quiet
echo "$script: ok"
