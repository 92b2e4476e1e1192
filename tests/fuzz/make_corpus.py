#!/usr/bin/env python3
"""Writes the seed corpora tests/fuzz/corpus/<harness>/ from the project's own
fixtures and a few hand-made inputs.  Run from anywhere; rerunning rewrites
the seed-* files only (entries merged in by tools/fuzz.sh are kept).

Input layouts (see the harnesses):
  config       the text of a config file
  override     one "path=value" per line, applied to fuzz_override.c's base config
  idx          flags byte, little-endian u16 images length, images file, labels file
  csv          flags byte, CSV text
  safetensors  a whole file
"""
import glob
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
FIX = os.path.join(ROOT, "datasets", "fixtures")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def put(harness, name, data):
    d = os.path.join(HERE, "corpus", harness)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clean(harness):
    for p in glob.glob(os.path.join(HERE, "corpus", harness, "seed-*")):
        os.remove(p)


# ---- config ------------------------------------------------------------------------
clean("config")
for p in sorted(glob.glob(os.path.join(ROOT, "models", "*.json"))):
    put("config", "model-" + os.path.basename(p), read(p))
for p in sorted(glob.glob(os.path.join(ROOT, "tests", "configs", "*.json"))):
    put("config", "test-" + os.path.basename(p), read(p))
HAND = {
    "minimal.json": b'{"data": {"dataset": "spiral"}, "model": {"input": [2], '
                    b'"layers": [{"type": "linear", "out": 3}]}}',
    "csv-mse.json": b'{"data": {"train": {"csv": "a.csv"}, "test": {"csv": "b.csv"}, '
                    b'"classes": 3, "normalize": "standardize", "mean": 1.5, "std": 2}, '
                    b'"model": {"input": [4], "init": "xavier_normal", "layers": ['
                    b'{"type": "linear", "out": 8, "bias": false}, {"type": "elu", "alpha": 1.0}, '
                    b'{"type": "dropout", "p": 0.25}, {"type": "linear", "out": 3}, '
                    b'{"type": "sigmoid"}]}, "loss": "mse", '
                    b'"optimizer": {"type": "adamw", "lr": 0.001, "betas": [0.9, 0.99], '
                    b'"eps": 1e-8, "weight_decay": 0.01, "decay_bias": true, "clip_grad_norm": 1}, '
                    b'"schedule": {"type": "step", "step_epochs": 2, "gamma": 0.5, '
                    b'"warmup_epochs": 0.5}, "train": {"epochs": 3, "batch_size": 5, '
                    b'"drop_last": true, "shuffle": false, "threads": 1}, '
                    b'"checkpoint": {"path": "c.safetensors", "every": 2, "keep_best": true}, '
                    b'"stats": {"enabled": true, "probe": {"split": "test", "count": 7}, '
                    b'"every": 3}}',
    "cnn-all.json": b'{"name": "all", "seed": 3, "data": {"train": {"images": "i", "labels": "l"},'
                    b' "validation": 0.1}, "model": {"input": [3, 9, 9], "init": "pytorch", '
                    b'"layers": [{"type": "conv2d", "out": 4, "kernel": 3, "stride": 2, '
                    b'"padding": 1}, {"type": "batch_norm", "momentum": 0.2, "eps": 0.001}, '
                    b'{"type": "rrelu", "lower": 0.1, "upper": 0.2}, {"type": "avg_pool2d", '
                    b'"kernel": 2, "stride": 1}, {"type": "selu"}, {"type": "flatten"}, '
                    b'{"type": "linear", "out": 6}, {"type": "prelu", "num_parameters": 1, '
                    b'"init": 0.1}, {"type": "tanh"}, {"type": "linear", "out": 2}]}, '
                    b'"optimizer": {"type": "sgd", "lr": 0.1, "momentum": 0.5, "nesterov": true},'
                    b' "schedule": {"type": "cosine", "min_lr": 0.001}}',
    "spiral-params.json": b'{"data": {"dataset": "spiral", "spiral": {"classes": 4, '
                          b'"points": 10, "noise": 0}}, "model": {"input": [2], '
                          b'"layers": [{"type": "linear", "out": 4}, {"type": "relu"}]}}',
    "dup-key.json": b'{"data": {"dataset": "spiral"}, "data": {}, "model": {}}',
    "huge-layer.json": b'{"data": {"dataset": "mnist"}, "model": {"input": [1000000], '
                       b'"layers": [{"type": "linear", "out": 1000000}, '
                       b'{"type": "linear", "out": 10}]}}',
    "nested.json": b'[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]',
    "unicode.json": b'{"name": "\\u00e9t\\u00e9 \xe2\x82\xac", "data": {"dataset": "sp\\u0000iral"}}',
}
for name, data in HAND.items():
    put("config", name, data)

# ---- override ----------------------------------------------------------------------
clean("override")
OVERRIDES = {
    "lr": "optimizer.lr=0.1",
    "alpha": "model.layers[7].alpha=0.2",
    "layer-object": 'model.layers[7]={"type": "relu"}',
    "input": "model.input=[1, 8, 8]",
    "null": "checkpoint.path=null",
    "string": "optimizer.type=adam\noptimizer.momentum=null",
    "new-key": "a.b.c=1",
    "past-end": "model.layers[99].out=3",
    "index-neg": "model.layers[-1]=1",
    "bad-json": 'model.layers[0]={"type": ',
    "schedule": 'schedule={"type": "step", "step_epochs": 1, "gamma": 0.5}',
    "data-csv": 'data={"train": {"csv": "x.csv"}, "classes": 4}',
    "many": "train.epochs=3\ntrain.batch_size=1\nseed=9\nname=renamed\n"
            "model.layers[0].out=3\nmodel.layers[2].num_parameters=1",
    "empty-path": "=1",
    "no-equals": "optimizer.lr",
    "brackets": "model.layers[0][1]=2\nmodel..x=1\n[0]=1\nmodel.layers[=2",
    "unicode": 'name="\\u00e9t\\u00e9"',
    "huge": "model.layers[6].out=2147483647\nmodel.input=[1073741824]",
    "deep": "x" + ".x" * 200 + "=1",
}
for name, text in OVERRIDES.items():
    put("override", name, text.encode())

# ---- idx ---------------------------------------------------------------------------
clean("idx")


def idx_input(flags, images, labels):
    return bytes([flags]) + struct.pack("<H", len(images) & 0xFFFF) + images + labels


img, lab = read(os.path.join(FIX, "tiny-images.idx")), read(os.path.join(FIX, "tiny-labels.idx"))
for flags in (0, 1, 2, 3, 4, 8, 12):
    put("idx", "tiny-flags%d" % flags, idx_input(flags, img, lab))
put("idx", "tiny-gz-files", idx_input(0, read(os.path.join(FIX, "tiny-images.idx.gz")),
                                      read(os.path.join(FIX, "tiny-labels.idx.gz"))))
for bad in ("badmagic-images.idx", "huge-images.idx", "lying-images.idx", "short-header.idx",
            "trailing-images.idx", "truncated-images.idx", "truncated-images.idx.gz",
            "cut-images.idx.gz"):
    put("idx", bad, idx_input(0, read(os.path.join(FIX, bad)), lab))
for bad in ("count-labels.idx", "range-labels.idx", "truncated-labels.idx"):
    put("idx", bad, idx_input(4, img, read(os.path.join(FIX, bad))))
gz = bytearray(read(os.path.join(FIX, "tiny-images.idx.gz")))
gz[-8] ^= 0xFF  # the CRC-32 in the gzip trailer
put("idx", "gz-bad-crc", idx_input(0, bytes(gz), lab))
lab_gz = read(os.path.join(FIX, "tiny-labels.idx.gz"))
put("idx", "gz-two-members", idx_input(0, read(os.path.join(FIX, "tiny-images.idx.gz")),
                                       lab_gz + lab_gz))
put("idx", "one-pixel", idx_input(0, struct.pack(">IIII", 0x803, 1, 1, 1) + b"\x07",
                                  struct.pack(">II", 0x801, 1) + b"\x00"))

# ---- csv ---------------------------------------------------------------------------
clean("csv")
for name in ("tiny.csv", "tiny-noheader.csv", "bad-columns.csv", "bad-label.csv",
             "bad-number.csv", "range-label.csv"):
    data = read(os.path.join(FIX, name))
    put("csv", name, b"\x00" + data)
    put("csv", name + "-gz", b"\x01" + data)
put("csv", "tiny.csv.gz-raw", b"\x00" + read(os.path.join(FIX, "tiny.csv.gz")))
put("csv", "crlf-blank", b"\x02" + b"label , a ,b\r\n\r\n0, 1e3 , -2.5\r\n2,0x10,inf\r\n")
put("csv", "classes", b"\x04" + b"0,1\n1,2\n0,nan\n")
put("csv", "one-col", b"\x00" + b"3\n")

# ---- safetensors -------------------------------------------------------------------
clean("safetensors")
for p in sorted(glob.glob(os.path.join(ROOT, "tests", "golden", "safetensors", "*.safetensors"))):
    put("safetensors", os.path.basename(p), read(p))


def st_file(header, data=b""):
    h = header.encode()
    return struct.pack("<Q", len(h)) + h + data


put("safetensors", "meta-scalar",
    st_file('{"__metadata__": {"k": "v", "slope.format": "x"}, '
            '"s": {"dtype": "F32", "shape": [], "data_offsets": [0, 4]}, '
            '"t": {"dtype": "F32", "shape": [2, 1, 1, 1], "data_offsets": [4, 12]}}',
            struct.pack("<3f", 1.5, float("nan"), -0.0)))
put("safetensors", "empty-name",
    st_file('{"": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}', b"\0\0\0\0"))
