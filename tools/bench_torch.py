#!/usr/bin/python3
"""bench_torch.py - the PyTorch half of the slope-vs-PyTorch benchmark.

    OPENBLAS_NUM_THREADS=1 /usr/bin/python3 tools/bench_torch.py CONFIG \
        [--batch N] [--threads T] [--warmup W] [--steps S] [--epochs E]
        [--eval-batch B] [--loss-every K] [--init FILE] [--t0 SECONDS]
        [--data DIR] [--no-dropout]

Does what tools/bench_train.c does, the same way, in PyTorch: the model the
slope config describes (as an nn.Sequential under "layers", so parameter
names match slope's), the initial weights slope wrote with --init (read by
the small safetensors reader below: 8-byte little-endian header length, JSON
header, raw little-endian F32 data), Fashion-MNIST read from the IDX .gz
files with gzip + numpy and kept as uint8, each batch converted to float and
normalised on the fly (as slope does), SGD with the config's lr, momentum,
nesterov and weight decay (on weights only, as slope's default groups), a
constant learning rate.

Phases: W + S steps in data order (the last S timed; every step's loss is
kept: the curve slope must reproduce), E full shuffled epochs with a fresh
optimizer, then evaluation of the test split.  "startup" is the time from
--t0 (wall clock, taken by the caller just before starting the process) to
the first training step, torch imported and the data loaded.

PyTorch's fastest setting on these 2-core machines is torch.set_num_threads(T)
with OPENBLAS_NUM_THREADS=1 (the driver script sets it).  Last line:
"RESULT {json}".
"""
import argparse
import gzip
import json
import os
import resource
import struct
import sys
import time

T_MAIN = time.time()

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn as nn  # noqa: E402
import torch.nn.functional as F  # noqa: E402


def read_idx(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    magic, = struct.unpack(">I", raw[:4])
    ndim = magic & 0xFF
    dims = struct.unpack(">" + "I" * ndim, raw[4:4 + 4 * ndim])
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    n, = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise SystemExit(f"{path}: {name}: dtype {info['dtype']}, expected F32")
        begin, end = info["data_offsets"]
        arr = np.frombuffer(raw, dtype="<f4", count=(end - begin) // 4, offset=base + begin)
        out[name] = torch.from_numpy(arr.reshape(info["shape"]).copy())
    return out


def build_model(cfg):
    m = cfg["model"]
    shape = list(m["input"])  # one sample: [C, H, W] or [F]
    layers = []
    for i, L in enumerate(m["layers"]):
        t = L["type"]
        if t == "flatten":
            layers.append(nn.Flatten())
            shape = [int(np.prod(shape))]
        elif t == "linear":
            layers.append(nn.Linear(shape[0], L["out"], bias=L.get("bias", True)))
            shape = [L["out"]]
        elif t == "conv2d":
            k, s, p = L["kernel"], L.get("stride", 1), L.get("padding", 0)
            layers.append(nn.Conv2d(shape[0], L["out"], k, stride=s, padding=p,
                                    bias=L.get("bias", True)))
            shape = [L["out"], (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1]
        elif t in ("max_pool2d", "avg_pool2d"):
            k, s, p = L["kernel"], L.get("stride", L["kernel"]), L.get("padding", 0)
            cls = nn.MaxPool2d if t == "max_pool2d" else nn.AvgPool2d
            layers.append(cls(k, stride=s, padding=p))
            shape = [shape[0], (shape[1] + 2 * p - k) // s + 1, (shape[2] + 2 * p - k) // s + 1]
        elif t == "leaky_relu":
            layers.append(nn.LeakyReLU(L.get("alpha", 0.01), inplace=True))
        elif t == "relu":
            layers.append(nn.ReLU(inplace=True))
        elif t == "prelu":
            npar = L.get("num_parameters", 1)
            npar = shape[0] if npar == "channel" else int(npar)
            layers.append(nn.PReLU(npar, init=L.get("init", 0.25)))
        elif t == "dropout":
            layers.append(nn.Dropout(L.get("p", 0.5)))
        elif t == "elu":
            layers.append(nn.ELU(L.get("alpha", 1.0)))
        elif t == "selu":
            layers.append(nn.SELU())
        elif t == "sigmoid":
            layers.append(nn.Sigmoid())
        elif t == "tanh":
            layers.append(nn.Tanh())
        elif t == "batch_norm":
            cls = nn.BatchNorm1d if len(shape) == 1 else nn.BatchNorm2d
            layers.append(cls(shape[0], eps=L.get("eps", 1e-5), momentum=L.get("momentum", 0.1)))
        else:
            raise SystemExit(f"layer {i}: type {t} not supported by bench_torch.py")
    model = nn.Module()
    model.layers = nn.Sequential(*layers)
    model.forward = model.layers.forward
    return model


def step_flops(model, batch, in_shape):
    """FLOPs of one training step (2 per multiply-add), as bench_train.c counts them."""
    total, seen = 0.0, False
    x = torch.zeros([1] + list(in_shape))
    with torch.no_grad():
        for layer in model.layers:
            y = layer(x.clone())
            macs = 0
            if isinstance(layer, nn.Linear):
                macs = layer.in_features * layer.out_features
            elif isinstance(layer, nn.Conv2d):
                macs = y[0].numel() * layer.in_channels * layer.kernel_size[0] * layer.kernel_size[1]
            if macs:
                total += 2.0 * macs * batch * (3 if seen else 2)
                seen = True
            x = y
    return total


def make_optimizer(model, o):
    decayed, plain = [], []
    for name, p in model.named_parameters():
        mod = model.layers[int(name.split(".")[1])]
        is_bias = name.endswith("bias")
        is_prelu = isinstance(mod, nn.PReLU)
        is_norm = isinstance(mod, (nn.BatchNorm1d, nn.BatchNorm2d))
        decay = ((not is_bias and not is_prelu and not is_norm)
                 or (is_bias and o.get("decay_bias", False))
                 or (is_prelu and o.get("decay_prelu", False))
                 or (is_norm and o.get("decay_norm", False)))
        (decayed if decay else plain).append(p)
    if o.get("type", "sgd") != "sgd":
        raise SystemExit("bench_torch.py times SGD only")
    wd = o.get("weight_decay", 0.0)
    return torch.optim.SGD([{"params": decayed, "weight_decay": wd},
                            {"params": plain, "weight_decay": 0.0}],
                           lr=o.get("lr", 0.01), momentum=o.get("momentum", 0.0),
                           dampening=o.get("dampening", 0.0), nesterov=o.get("nesterov", False))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--batch", type=int, default=0)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--steps", type=int, default=200)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--eval-batch", type=int, default=0, help="default: the training batch")
    ap.add_argument("--no-dropout", action="store_true", help="dropout p = 0 (exact loss curves)")
    ap.add_argument("--loss-every", type=int, default=10)
    ap.add_argument("--init", default=None)
    ap.add_argument("--t0", type=float, default=0.0)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    a = ap.parse_args()
    t0 = a.t0 if a.t0 > 0 else T_MAIN
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)

    with open(a.config) as f:
        cfg = json.load(f)
    batch = a.batch or cfg.get("train", {}).get("batch_size", 64)
    d = cfg.get("data", {})
    if d.get("dataset") != "fashion-mnist":
        raise SystemExit("bench_torch.py reads Fashion-MNIST only")
    xtr = torch.from_numpy(read_idx(os.path.join(a.data, "train-images-idx3-ubyte.gz")).copy())
    ytr = torch.from_numpy(read_idx(os.path.join(a.data, "train-labels-idx1-ubyte.gz")).astype(np.int64))
    xte = torch.from_numpy(read_idx(os.path.join(a.data, "t10k-images-idx3-ubyte.gz")).copy())
    yte = torch.from_numpy(read_idx(os.path.join(a.data, "t10k-labels-idx1-ubyte.gz")).astype(np.int64))
    in_shape = list(cfg["model"]["input"])
    xtr = xtr.reshape([-1] + in_shape)
    xte = xte.reshape([-1] + in_shape)
    norm = d.get("normalize", "none")
    if norm == "scale01":
        scale, shift = 1.0 / 255.0, 0.0
    elif norm == "standardize":
        mean, std = d.get("mean"), d.get("std")
        if mean is None:
            mean, std = xtr.double().mean().item(), xtr.double().std(unbiased=False).item()
        scale, shift = 1.0 / std, -mean / std
    else:
        scale, shift = 1.0, 0.0

    def to_float(u8):
        x = u8.float().mul_(scale)
        return x.add_(shift) if shift else x

    if a.no_dropout:
        for L in cfg["model"]["layers"]:
            if L["type"] == "dropout":
                L["p"] = 0.0
    a.eval_batch = a.eval_batch or batch
    model = build_model(cfg)
    if a.init:
        state = read_safetensors(a.init)
        missing = model.load_state_dict(state, strict=False)
        if missing.missing_keys:
            raise SystemExit(f"{a.init}: no tensors for {missing.missing_keys}")
    model.train()
    opt = make_optimizer(model, cfg.get("optimizer", {}))
    smoothing = float(cfg.get("label_smoothing", 0.0))  # the training loss only, as slope's

    n_train = xtr.shape[0]
    starts = list(range(0, n_train, batch))
    total = a.warmup + a.steps
    losses = []
    t_ready = time.time()
    t_first = 0.0
    t_timed = 0.0
    samples = 0
    for s in range(total):
        if s == a.warmup:
            t_timed = time.perf_counter()
        i = starts[s % len(starts)]
        x = to_float(xtr[i:i + batch])
        y = ytr[i:i + batch]
        opt.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(x), y, label_smoothing=smoothing)
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if s == 0:
            t_first = time.time()
        if s >= a.warmup:
            samples += x.shape[0]
    steps_sec = time.perf_counter() - t_timed

    epoch_sps = 0.0
    if a.epochs > 0:
        opt = make_optimizer(model, cfg.get("optimizer", {}))
        g = torch.Generator().manual_seed(cfg.get("seed", 42))
        n, sec = 0, 0.0
        for _ in range(a.epochs):
            te = time.perf_counter()
            order = torch.randperm(n_train, generator=g)
            for i in range(0, n_train, batch):
                idx = order[i:i + batch]
                x = to_float(xtr[idx])
                y = ytr[idx]
                opt.zero_grad(set_to_none=False)
                out = model(x)
                loss = F.cross_entropy(out, y, label_smoothing=smoothing)
                loss.backward()
                opt.step()
                loss.item()
                n += x.shape[0]
            sec += time.perf_counter() - te
        epoch_sps = n / sec

    model.eval()
    te = time.perf_counter()
    correct, loss_sum = 0, 0.0
    with torch.no_grad():
        for i in range(0, xte.shape[0], a.eval_batch):
            out = model(to_float(xte[i:i + a.eval_batch]))
            y = yte[i:i + a.eval_batch]
            loss_sum += F.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
    eval_sec = time.perf_counter() - te
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    step_sps = samples / steps_sec
    flops = step_flops(model, batch, in_shape)
    gflops = flops / batch * step_sps * 1e-9
    name = cfg.get("name", os.path.basename(a.config))
    print(f"model {name}  batch {batch}  threads {a.threads}  (torch {torch.__version__})")
    print(f"startup (process start -> first step, data loaded): {t_ready - t0:.3f} s; "
          f"first step done at {t_first - t0:.3f} s")
    print(f"steps: {a.steps} timed after {a.warmup} warm-up: {step_sps:.0f} samples/s "
          f"({1e3 * steps_sec / a.steps:.3f} ms/step)")
    if a.epochs > 0:
        print(f"full epochs: {a.epochs}, {epoch_sps:.0f} samples/s")
    print(f"eval: {xte.shape[0]} samples, batch {a.eval_batch}, {xte.shape[0] / eval_sec:.0f} "
          f"samples/s, loss {loss_sum / xte.shape[0]:.4f}, accuracy {100.0 * correct / xte.shape[0]:.2f}%")
    print(f"FLOPs/step {flops * 1e-6:.1f} M: training {gflops:.1f} GFLOP/s")
    print(f"peak RSS: {rss:.1f} MiB")
    curve = " ".join(f"{s + 1}:{losses[s]:.4f}" for s in range(total)
                     if (s + 1) % a.loss_every == 0 or s == 0)
    print(f"loss curve (step: loss): {curve}")
    result = {"impl": "torch", "model": name, "batch": batch, "threads": a.threads,
              "startup_s": t_ready - t0, "first_step_s": t_first - t0, "steps_sps": step_sps,
              "epoch_sps": epoch_sps, "eval_sps": xte.shape[0] / eval_sec,
              "eval_acc": correct / xte.shape[0], "rss_mib": rss, "allocs_per_step": None,
              "step_gflop": flops * 1e-9, "train_gflops": gflops, "losses": losses}
    print("RESULT " + json.dumps(result))
    sys.stdout.flush()


if __name__ == "__main__":
    main()
