#!/bin/sh
# tools/examples/gan.c end to end on a tiny IDX fixture made here (256 images of 8x8, two
# classes): two epochs write the metrics, a PNG grid per epoch and both checkpoints, with
# the classifier score under a classifier slope trains on the same fixture; one epoch plus
# --resume gives byte-identical checkpoints and grids; a generator whose output does not
# fit the discriminator, and a classifier file that does not exist, exit 3 naming them.
#
#   gan_example.sh GAN SLOPE WORKDIR
set -u
gan=$1
slope=$2
dir=$3
script=gan_example
. "$(dirname "$0")/cli_lib.sh"
command -v python3 >/dev/null 2>&1 || { echo "gan_example: no python3, skipped"; exit 77; }
enter_fresh_dir

python3 - <<'PY'
import random, struct
random.seed(5)
n, side = 256, 8
labels = [i % 2 for i in range(n)]
pixels = bytearray()
for y in labels:  # class 0: the top half bright; class 1: the bottom half
    for r in range(side):
        bright = (r < side // 2) == (y == 0)
        for c in range(side):
            pixels.append(min(255, max(0, (200 if bright else 30) + random.randint(-25, 25))))
open("images.idx", "wb").write(struct.pack(">IIII", 0x803, n, side, side) + bytes(pixels))
open("labels.idx", "wb").write(struct.pack(">II", 0x801, n) + bytes(labels))
PY
data='"data": {"train": {"images": "images.idx", "labels": "labels.idx"}, "test": {"images": "images.idx", "labels": "labels.idx"}, "normalize": "standardize", "mean": 127.5, "std": 127.5}'
cat >gen.json <<JSON
{"name": "tiny-gen", "seed": 3, $data,
 "model": {"input": [4], "layers": [{"type": "linear", "out": 16}, {"type": "batch_norm"},
   {"type": "relu"}, {"type": "linear", "out": 64}, {"type": "tanh"}]},
 "optimizer": {"type": "adam", "lr": 0.002, "betas": [0.5, 0.999]}, "train": {"batch_size": 16}}
JSON
cat >disc.json <<JSON
{"name": "tiny-disc", "seed": 3, $data,
 "model": {"input": [64], "layers": [{"type": "linear", "out": 16},
   {"type": "leaky_relu", "alpha": 0.2}, {"type": "linear", "out": 1}]},
 "optimizer": {"type": "adam", "lr": 0.002, "betas": [0.5, 0.999]}, "train": {"batch_size": 16}}
JSON
cat >clf.json <<JSON
{"name": "tiny-clf", "seed": 3, "data": {"train": {"images": "images.idx", "labels": "labels.idx"}, "normalize": "scale01"},
 "model": {"input": [1, 8, 8], "layers": [{"type": "flatten"}, {"type": "linear", "out": 2}]},
 "optimizer": {"type": "adam", "lr": 0.01}, "train": {"epochs": 3, "batch_size": 16}}
JSON
run train clf.json --checkpoint clf.safetensors --quiet >out.txt 2>err.txt; rc=$?
expect_rc 0 "training the classifier"

common="--generator gen.json --discriminator disc.json --classifier clf.safetensors --score-samples 64 --max-batches 4"
${SLOPE_WRAPPER:-} "$gan" $common --epochs 2 --out a >out.txt 2>err.txt; rc=$?
expect_rc 0 "gan, 2 epochs"
grep -q "classifier score of 64 real test images" out.txt || fail "no real-image score: $(cat out.txt)"
[ "$(grep -c '"epoch"' a/metrics.jsonl)" -eq 2 ] || fail "metrics: $(cat a/metrics.jsonl)"
python3 - a/metrics.jsonl <<'PY' || fail "metrics out of range: $(cat a/metrics.jsonl)"
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    assert 1.0 <= m["score"] <= 2.0 + 1e-9 and 1.0 <= m["real_score"] <= 2.0 + 1e-9, m
    assert 0.0 < m["d_real"] < 1.0 and 0.0 < m["d_fake"] < 1.0 and m["steps"] == 4 * m["epoch"], m
    assert 0.0 <= m["d_dead_frac"] <= 1.0, m
PY
for e in 01 02; do
  [ "$(head -c 8 a/samples_epoch$e.png | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
    fail "a/samples_epoch$e.png is not a PNG"
done

${SLOPE_WRAPPER:-} "$gan" $common --epochs 1 --out b >out.txt 2>err.txt; rc=$?
expect_rc 0 "gan, 1 epoch"
${SLOPE_WRAPPER:-} "$gan" $common --epochs 2 --out b --resume >out.txt 2>err.txt; rc=$?
expect_rc 0 "gan --resume"
grep -q "resumed after epoch 1" out.txt || fail "resume said: $(cat out.txt)"
for f in generator.safetensors discriminator.safetensors samples_epoch02.png; do
  cmp -s a/$f b/$f || fail "$f differs between 2 epochs and 1 + resume + 1"
done

${SLOPE_WRAPPER:-} "$gan" $common --set-g 'model.layers[3].out=32' --out c >out.txt 2>err.txt; rc=$?
expect_rc 3 "a generator of 32 values for a discriminator of 64"
grep -q "gen.json gives 32 values per sample and disc.json takes 64" err.txt || fail "shape message: $(cat err.txt)"
${SLOPE_WRAPPER:-} "$gan" --generator gen.json --discriminator disc.json --classifier none.safetensors --out d >out.txt 2>err.txt; rc=$?
expect_rc 3 "a missing classifier"
grep -q "none.safetensors" err.txt || fail "missing classifier not named: $(cat err.txt)"
echo "gan_example: ok"
