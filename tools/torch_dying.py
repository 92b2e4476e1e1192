#!/usr/bin/python3
"""torch_dying.py - the PyTorch half of issue #16's dying-neuron comparison.

    /usr/bin/python3 tools/torch_dying.py CONFIG --act LIST [--seeds N]
        [--epochs E] [--set PATH=VALUE]... [--threads T] [--out FILE]
        [--data DIR]

Does in PyTorch what `slope compare CONFIG --act LIST --seeds N` does and
writes the same seeds.csv (columns act,seed,layer,units,dead_frac,sparsity,
test_acc,diverged), so tools/compare_frameworks.py can put the two side by
side.  For every activation label in LIST (slope's short syntax: relu,
leaky_relu:0.1, elu:1.5, prelu, prelu:channel, prelu:channel:0.1, rrelu:LO:HI,
selu, sigmoid, tanh, gelu) and every seed base..base+N-1 (base: the config's
"seed"):

  - every activation layer of the config is replaced by that activation and
    the model is built as an nn.Sequential after torch.manual_seed(seed), so
    the weights get PyTorch's default init (what "init": "pytorch" means:
    weights and biases U(+-1/sqrt(fan_in))) and every activation of one seed
    starts from the same weights (PReLU's slopes are constants);
  - it trains with the config's SGD (lr, momentum, dampening, nesterov,
    weight decay on the weights only, as slope's default groups), batch size
    and epochs, the data order drawn each epoch by torch.randperm from a
    torch.Generator seeded with seed (in order when train.shuffle is false);
  - a run whose loss is NaN or Inf stops there: diverged = 1, its dead_frac,
    sparsity and test_acc are left empty;
  - otherwise, at the end, on the first stats.probe.count examples of the
    probe split: per activation layer (its index in the config's layer list),
    dead_frac = the fraction of units whose pre-activation (the activation's
    input) is <= 0 on every probe example, sparsity = the fraction of all
    probe pre-activations <= 0; and test_acc on the test split.

Only configs made of flatten / linear / activation layers, SGD, cross-entropy
and Fashion-MNIST (the IDX files, raw or .gz, under --data) are accepted.
Progress goes to stderr.  Needs Debian's python3-torch and python3-numpy only.
"""
import argparse
import gzip
import json
import math
import os
import re
import sys
import time

DATA_DIR = "/usr/share/datasets/fashion-mnist"

# ---- activation labels (slope's short syntax) -------------------------------------------

# name -> (choice tokens {token: value of the choice key}, numeric keys in order with defaults
# and (lo, hi) ranges).  Mirrors the activation rows of slope's src/nn_layers.c.
ACTS = {
    "relu": ({}, []),
    "leaky_relu": ({}, [("alpha", 0.01, (0.0, 1.0))]),
    "prelu": ({"shared": 1, "channel": "channel"}, [("init", 0.25, (0.0, 1.0))]),
    "rrelu": ({}, [("lower", 1.0 / 8.0, (0.0, 1.0)), ("upper", 1.0 / 3.0, (0.0, 1.0))]),
    "elu": ({}, [("alpha", 1.0, (0.0, math.inf))]),
    "selu": ({}, []),
    "sigmoid": ({}, []),
    "tanh": ({}, []),
    "gelu": ({}, []),
}


def parse_act(label):
    """'prelu:channel:0.1' -> {'type': 'prelu', 'num_parameters': 'channel', 'init': 0.1}."""
    name, *tokens = label.split(":")
    if name not in ACTS:
        raise SystemExit(f"activation \"{label}\": unknown name \"{name}\"; "
                         f"activations: {', '.join(ACTS)}")
    choices, numbers = ACTS[name]
    layer = {"type": name}
    given = set()
    for tok in tokens:
        if tok in choices:
            if "num_parameters" in given:
                raise SystemExit(f"activation \"{label}\": num_parameters given twice")
            layer["num_parameters"] = choices[tok]
            given.add("num_parameters")
            continue
        try:
            v = float(tok)
        except ValueError:
            v = math.nan
        if not math.isfinite(v):
            raise SystemExit(f"activation \"{label}\": \"{tok}\" is not a value of {name}")
        free = [k for k in numbers if k[0] not in given]
        if not free:
            raise SystemExit(f"activation \"{label}\": too many values")
        key, _, (lo, hi) = free[0]
        if not lo <= v <= hi:
            raise SystemExit(f"activation \"{label}\": {key} must be in [{lo}, {hi}], got {v}")
        layer[key] = v
        given.add(key)
    if name == "rrelu" and layer.get("lower", 1 / 8) > layer.get("upper", 1 / 3):
        raise SystemExit(f"activation \"{label}\": needs lower <= upper")
    return layer


def is_activation(layer):
    return layer["type"] in ACTS


# ---- config ------------------------------------------------------------------------------

def apply_set(cfg, assignment):
    """slope's --set: 'a.b[2].c=VALUE', VALUE as JSON when it parses, else a string."""
    path, eq, text = assignment.partition("=")
    if not eq or not path:
        raise SystemExit(f"--set {assignment}: expected PATH=VALUE")
    try:
        value = json.loads(text)
    except ValueError:
        value = text
    steps = []
    for part in path.split("."):
        m = re.fullmatch(r"([^\[\]]+)((?:\[\d+\])*)", part)
        if not m:
            raise SystemExit(f"--set {assignment}: bad path element \"{part}\"")
        steps.append(m.group(1))
        steps += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    node = cfg
    for i, s in enumerate(steps):
        last = i == len(steps) - 1
        if isinstance(s, int):
            if not isinstance(node, list) or s >= len(node):
                raise SystemExit(f"--set {assignment}: no element [{s}]")
            if last:
                node[s] = value
            else:
                node = node[s]
        else:
            if not isinstance(node, dict):
                raise SystemExit(f"--set {assignment}: \"{s}\" is not in an object")
            if last:
                node[s] = value
            else:
                node = node.setdefault(s, {})


def check_config(cfg):
    d = cfg.get("data", {})
    if d.get("dataset") != "fashion-mnist":
        raise SystemExit("torch_dying.py reads Fashion-MNIST only")
    if float(d.get("validation", 0.0)) != 0.0:
        raise SystemExit("torch_dying.py: data.validation must be 0 (the probe is the train split)")
    m = cfg["model"]
    if m.get("init", "pytorch") != "pytorch":
        raise SystemExit(f"torch_dying.py: model.init \"{m.get('init')}\": only \"pytorch\" "
                         "(PyTorch's default init) is reproduced")
    for i, L in enumerate(m["layers"]):
        if L["type"] not in ("flatten", "linear") and not is_activation(L):
            raise SystemExit(f"layer {i}: type {L['type']}: torch_dying.py takes flatten, "
                             "linear and activation layers only")
    if cfg.get("loss", "cross_entropy") != "cross_entropy":
        raise SystemExit("torch_dying.py: loss must be cross_entropy")
    o = cfg.get("optimizer", {})
    if o.get("type", "sgd") != "sgd":
        raise SystemExit("torch_dying.py: optimizer must be sgd")
    if cfg.get("schedule", {}).get("type", "constant") != "constant":
        raise SystemExit("torch_dying.py: schedule must be constant")
    if cfg.get("model", {}).get("input") is None:
        raise SystemExit("torch_dying.py: model.input missing")


# ---- data --------------------------------------------------------------------------------

def read_idx(path):
    """An IDX file (raw or gzip) as a numpy array of uint8 with the header's shape."""
    import numpy as np
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file")
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(dims)):
        raise SystemExit(f"{path}: header says {dims} but holds {data.size} bytes")
    return data.reshape(dims)


def find_idx(data_dir, stem):
    for name in (stem, stem + ".gz"):
        path = os.path.join(data_dir, name)
        if os.path.exists(path):
            return path
    raise SystemExit(f"{data_dir}: neither {stem} nor {stem}.gz")


def load_split(torch, data_dir, prefix, in_shape):
    import numpy as np
    x = read_idx(find_idx(data_dir, f"{prefix}-images-idx3-ubyte"))
    y = read_idx(find_idx(data_dir, f"{prefix}-labels-idx1-ubyte"))
    if x.shape[0] != y.shape[0]:
        raise SystemExit(f"{prefix}: {x.shape[0]} images but {y.shape[0]} labels")
    x = torch.from_numpy(x.copy()).reshape([-1] + list(in_shape))
    return x, torch.from_numpy(y.astype(np.int64))


def normaliser(cfg, xtr):
    """The config's input normalisation as (scale, shift): x * scale + shift."""
    d = cfg.get("data", {})
    norm = d.get("normalize", "none")
    if norm == "scale01":
        return 1.0 / 255.0, 0.0
    if norm == "standardize":
        mean, std = d.get("mean"), d.get("std")
        if mean is None or std is None:
            mean = xtr.double().mean().item()
            std = xtr.double().std(unbiased=False).item()
        return 1.0 / std, -mean / std
    if norm == "none":
        return 1.0, 0.0
    raise SystemExit(f"data.normalize \"{norm}\" not supported")


# ---- model -------------------------------------------------------------------------------

def make_activation(nn, L, width):
    t = L["type"]
    if t == "relu":
        return nn.ReLU()
    if t == "leaky_relu":
        return nn.LeakyReLU(L.get("alpha", 0.01))
    if t == "prelu":
        n = L.get("num_parameters", 1)
        return nn.PReLU(width if n == "channel" else int(n), init=L.get("init", 0.25))
    if t == "rrelu":
        return nn.RReLU(L.get("lower", 1.0 / 8.0), L.get("upper", 1.0 / 3.0))
    if t == "elu":
        return nn.ELU(L.get("alpha", 1.0))
    if t == "selu":
        return nn.SELU()
    if t == "sigmoid":
        return nn.Sigmoid()
    if t == "tanh":
        return nn.Tanh()
    if t == "gelu":
        return nn.GELU()
    raise SystemExit(f"activation {t} not supported")


def build_model(torch, layers, in_shape):
    """(nn.Sequential, [(config index, module, units)] of the activation layers)."""
    nn = torch.nn
    shape = list(in_shape)
    mods, acts = [], []
    for i, L in enumerate(layers):
        t = L["type"]
        if t == "flatten":
            mods.append(nn.Flatten())
            shape = [math.prod(shape)]
        elif t == "linear":
            if len(shape) != 1:
                raise SystemExit(f"layer {i}: linear needs flat input, got {shape}")
            mods.append(nn.Linear(shape[0], L["out"], bias=L.get("bias", True)))
            shape = [L["out"]]
        else:
            if len(shape) != 1:
                raise SystemExit(f"layer {i}: activation on unflattened input {shape}")
            mods.append(make_activation(nn, L, shape[0]))
            acts.append((i, mods[-1], shape[0]))
    return nn.Sequential(*mods), acts


def make_optimizer(torch, model, o):
    """SGD, weight decay on Linear weights only (slope's default parameter groups)."""
    decayed, plain = [], []
    for mod in model:
        for name, p in mod.named_parameters(recurse=False):
            is_weight = isinstance(mod, torch.nn.Linear) and name == "weight"
            decay = (is_weight or (name == "bias" and o.get("decay_bias", False))
                     or (isinstance(mod, torch.nn.PReLU) and o.get("decay_prelu", False)))
            (decayed if decay else plain).append(p)
    wd = o.get("weight_decay", 0.0)
    groups = [g for g in ({"params": decayed, "weight_decay": wd},
                          {"params": plain, "weight_decay": 0.0}) if g["params"]]
    return torch.optim.SGD(groups, lr=o.get("lr", 0.01), momentum=o.get("momentum", 0.0),
                           dampening=o.get("dampening", 0.0),
                           nesterov=o.get("nesterov", False))


# ---- one run -----------------------------------------------------------------------------

def probe_stats(torch, model, acts, x, to_float, chunk=1000):
    """Per activation layer: (units, dead_frac, sparsity) over the probe examples x."""
    alive = {i: torch.zeros(units, dtype=torch.bool) for i, _, units in acts}
    nonpos = {i: 0 for i, _, _ in acts}
    hooks = []
    for i, mod, _ in acts:
        def hook(_m, inputs, i=i):
            pre = inputs[0]
            alive[i] |= (pre > 0).any(dim=0)
            nonpos[i] += int((pre <= 0).sum())
        hooks.append(mod.register_forward_pre_hook(hook))
    try:
        with torch.no_grad():
            for s in range(0, x.shape[0], chunk):
                model(to_float(x[s:s + chunk]))
    finally:
        for h in hooks:
            h.remove()
    n = x.shape[0]
    return {i: (units, 1.0 - alive[i].sum().item() / units, nonpos[i] / (n * units))
            for i, _, units in acts}


def accuracy(torch, model, x, y, to_float, chunk=1000):
    correct = 0
    with torch.no_grad():
        for s in range(0, x.shape[0], chunk):
            correct += (model(to_float(x[s:s + chunk])).argmax(1) == y[s:s + chunk]).sum().item()
    return correct / x.shape[0]


def run_one(torch, cfg, act, seed, data, to_float, log):
    """Trains one (activation, seed) run; returns its seeds.csv rows as dicts."""
    F = torch.nn.functional
    xtr, ytr, xte, yte, xprobe = data
    layers = [dict(act) if is_activation(L) else L for L in cfg["model"]["layers"]]
    torch.manual_seed(seed)
    model, acts = build_model(torch, layers, cfg["model"]["input"])
    opt = make_optimizer(torch, model, cfg.get("optimizer", {}))
    tr = cfg.get("train", {})
    batch, epochs = int(tr.get("batch_size", 64)), int(tr.get("epochs", 1))
    shuffle, drop_last = tr.get("shuffle", True), tr.get("drop_last", False)
    gen = torch.Generator().manual_seed(seed)
    n = xtr.shape[0]
    end = n - n % batch if drop_last else n
    diverged = False
    model.train()
    for epoch in range(epochs):
        t0 = time.perf_counter()
        order = torch.randperm(n, generator=gen) if shuffle else torch.arange(n)
        loss_sum, steps = 0.0, 0
        for s in range(0, end, batch):
            idx = order[s:s + batch]
            loss = F.cross_entropy(model(to_float(xtr[idx])), ytr[idx],
                                   label_smoothing=float(cfg.get("label_smoothing", 0.0)))
            value = loss.item()
            if not math.isfinite(value):
                log(f"  epoch {epoch + 1} step {steps + 1}: loss {value}: diverged")
                diverged = True
                break
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += value
            steps += 1
        if diverged:
            break
        log(f"  epoch {epoch + 1}/{epochs}: mean loss {loss_sum / max(steps, 1):.4f} "
            f"({time.perf_counter() - t0:.1f} s)")
    rows = []
    if diverged:
        for i, _, units in acts:
            rows.append({"layer": i, "units": units, "dead_frac": None, "sparsity": None,
                         "test_acc": None, "diverged": 1})
        return rows
    model.eval()
    stats = probe_stats(torch, model, acts, xprobe, to_float)
    acc = accuracy(torch, model, xte, yte, to_float)
    for i, _, _ in acts:
        units, dead, sparsity = stats[i]
        rows.append({"layer": i, "units": units, "dead_frac": dead, "sparsity": sparsity,
                     "test_acc": acc, "diverged": 0})
    log("  test acc %.4f, dead %s" % (acc, ", ".join(
        f"layer {i} {100 * stats[i][1]:.1f}%" for i, _, _ in acts)))
    return rows


# ---- main --------------------------------------------------------------------------------

def fmt(v):
    return "" if v is None else f"{v:.6g}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("config")
    ap.add_argument("--act", required=True, help="comma-separated labels, as slope compare's")
    ap.add_argument("--seeds", type=int, default=1, help="N seeds: config seed .. seed+N-1")
    ap.add_argument("--epochs", type=int, default=0, help="override train.epochs")
    ap.add_argument("--set", action="append", default=[], metavar="PATH=VALUE",
                    help="override a config key, e.g. optimizer.lr=0.5 (repeatable)")
    ap.add_argument("--threads", type=int, default=1, help="torch.set_num_threads (default 1)")
    ap.add_argument("--out", default="seeds-torch.csv")
    ap.add_argument("--data", default=DATA_DIR)
    a = ap.parse_args()
    if a.seeds < 1 or a.threads < 1 or a.epochs < 0:
        raise SystemExit("--seeds and --threads must be >= 1, --epochs >= 0")

    with open(a.config) as f:
        cfg = json.load(f)
    for s in a.set:
        apply_set(cfg, s)
    if a.epochs:
        cfg.setdefault("train", {})["epochs"] = a.epochs
    check_config(cfg)
    labels = [s for s in a.act.split(",")]
    if any(not s for s in labels):
        raise SystemExit("--act: empty label")
    specs = [parse_act(s) for s in labels]

    # Before torch starts its pools: one BLAS thread under torch's own threads (fastest here).
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("OMP_NUM_THREADS", str(a.threads))
    import torch
    torch.set_num_threads(a.threads)

    def log(msg):
        print(msg, file=sys.stderr, flush=True)

    in_shape = cfg["model"]["input"]
    xtr, ytr = load_split(torch, a.data, "train", in_shape)
    xte, yte = load_split(torch, a.data, "t10k", in_shape)
    scale, shift = normaliser(cfg, xtr)

    def to_float(u8):
        x = u8.float().mul_(scale)
        return x.add_(shift) if shift else x

    probe = cfg.get("stats", {}).get("probe", {})
    psplit, pcount = probe.get("split", "train"), int(probe.get("count", 10000))
    if psplit not in ("train", "test"):
        raise SystemExit(f"stats.probe.split \"{psplit}\": train or test")
    xprobe = (xtr if psplit == "train" else xte)[:pcount]
    data = (xtr, ytr, xte, yte, xprobe)

    base = int(cfg.get("seed", 42))
    tr = cfg.get("train", {})
    log(f"torch {torch.__version__}, {a.threads} thread(s): {cfg.get('name', a.config)}, "
        f"lr {cfg.get('optimizer', {}).get('lr')}, {tr.get('epochs')} epoch(s), batch "
        f"{tr.get('batch_size')}, seeds {base}..{base + a.seeds - 1}, probe {xprobe.shape[0]} "
        f"{psplit} examples")
    t_all = time.perf_counter()
    with open(a.out + ".tmp", "w") as out:
        out.write("act,seed,layer,units,dead_frac,sparsity,test_acc,diverged\n")
        for label, spec in zip(labels, specs):
            for seed in range(base, base + a.seeds):
                log(f"{label} seed {seed}")
                for r in run_one(torch, cfg, spec, seed, data, to_float, log):
                    out.write(f"{label},{seed},{r['layer']},{r['units']},{fmt(r['dead_frac'])},"
                              f"{fmt(r['sparsity'])},{fmt(r['test_acc'])},{r['diverged']}\n")
                out.flush()
    os.replace(a.out + ".tmp", a.out)
    log(f"wrote {a.out} ({time.perf_counter() - t_all:.0f} s)")


if __name__ == "__main__":
    main()
