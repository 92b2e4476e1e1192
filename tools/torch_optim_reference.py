#!/usr/bin/python3
"""Writes tests/golden/optim_reference.json: PyTorch reference runs of slope's optimizers.

Run by hand (not in CI) with a Python that has torch, e.g. Debian's python3-torch:

    /usr/bin/python3 tools/torch_optim_reference.py

Each case is a handful of small parameters (with slope's parameter roles), a list of
synthetic gradients and learning rates, one per step, and what torch.optim.SGD / Adam /
AdamW (with torch.nn.utils.clip_grad_norm_ first when clipping is on) make of them: the
parameters after every step, the global gradient norm before clipping at every step and
the optimizer state after the last step, named as slope names its state tensors.
tests/test_optim.c replays every case through sl_optimizer_step.

Parameter groups mirror slope's rules: weights decay whenever weight_decay > 0, biases
only with decay_bias, PReLU slopes only with decay_prelu, batch-norm scale/shift only
with decay_norm; a parameter that does not decay goes into a group with weight_decay 0.
Buffers are never given to torch: their expected values are their initial values,
although the case hands them gradients (slope must ignore those, also in the norm).

Precision: initial values and gradients are multiples of 2^-10 (exact in float32) and
hyperparameters are rounded to float32 first (slope receives C floats); torch then runs
in float64, so the recorded values are the exact-math answers for those inputs.  The
script also runs every case in float32 and refuses to write the file if torch's own
float32 result uses more than a quarter of the tolerance tests/test_optim.c applies.
"""

import json
import math
import os
import sys

import torch

GRID = 1024.0
RTOL = 1e-6  # keep in step with tests/test_optim.c
ATOL = 1e-6
STEPS = 5

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests",
                        "golden", "optim_reference.json")

gen = torch.Generator().manual_seed(20240612)

# sl_optim_spec, field by field, as slope's sl_optim_defaults gives them.
DEFAULTS = {
    "sgd": dict(lr=0.01, momentum=0.0, nesterov=0, dampening=0.0, weight_decay=0.0),
    "adam": dict(lr=0.001, weight_decay=0.0),
    "adamw": dict(lr=0.001, weight_decay=0.01),
}
COMMON = dict(momentum=0.0, nesterov=0, dampening=0.0, beta1=0.9, beta2=0.999, eps=1e-8,
              decay_bias=0, decay_prelu=0, decay_norm=0, clip_grad_norm=0.0)

SWITCH = {"weight": None, "bias": "decay_bias", "prelu_slope": "decay_prelu",
          "norm_scale": "decay_norm", "norm_shift": "decay_norm"}


def f32(v):
    """A Python float rounded to the nearest float32 (what a C float field holds)."""
    return float(torch.tensor(v, dtype=torch.float32).item())


def quantize(t):
    q = torch.round(t * GRID) / GRID
    assert torch.equal(q.float().double(), q), "value not exact in float32"
    return q


def randn(shape, scale):
    return quantize(torch.randn(shape, generator=gen, dtype=torch.float64) * scale)


def uniform(shape, lo, hi):
    return quantize(lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64))


def floats(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def make_spec(kind, **overrides):
    spec = dict(COMMON)
    spec.update(DEFAULTS[kind])
    spec.update(overrides)
    spec = {k: (f32(v) if isinstance(v, float) else v) for k, v in spec.items()}
    spec["kind"] = kind
    return spec


def decays(spec, role):
    if role == "buffer" or spec["weight_decay"] == 0.0:
        return False
    switch = SWITCH[role]
    return switch is None or bool(spec[switch])


def make_optimizer(spec, params, roles):
    groups = []
    for wanted in (True, False):
        ps = [p for p, r in zip(params, roles) if r != "buffer" and decays(spec, r) == wanted]
        if ps:
            groups.append({"params": ps, "weight_decay": spec["weight_decay"] if wanted else 0.0})
    kind, lr = spec["kind"], spec["lr"]
    if kind == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=spec["momentum"],
                               dampening=spec["dampening"], nesterov=bool(spec["nesterov"]))
    betas = (spec["beta1"], spec["beta2"])
    cls = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    return cls(groups, lr=lr, betas=betas, eps=spec["eps"])


def grad_norm(grads):
    return math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads))


def slot_names(kind, momentum):
    if kind == "sgd":
        return ["momentum_buffer"] if momentum > 0 else []
    return ["exp_avg", "exp_avg_sq"]


def run(case, dtype):
    """Runs a case in dtype: (params after each step, pre-clip norms, final state)."""
    roles = [p["role"] for p in case["params"]]
    params = [torch.tensor(p["data"], dtype=dtype).reshape(p["shape"]) for p in case["params"]]
    trainable = [p for p, r in zip(params, roles) if r != "buffer"]
    for p in trainable:
        p.requires_grad_(True)
    spec = case["spec"]
    opt = make_optimizer(spec, params, roles)
    history, norms = [], []
    for lr, grads in zip(case["lrs"], case["grads"]):
        for p, r, g in zip(params, roles, grads):
            if r != "buffer":
                p.grad = torch.tensor(g, dtype=dtype).reshape(p.shape)
        norms.append(grad_norm([p.grad for p in trainable]))
        if spec["clip_grad_norm"] > 0:
            torch.nn.utils.clip_grad_norm_(trainable, spec["clip_grad_norm"])
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        history.append([p.detach().clone() for p in params])
    state = []
    for p, meta in zip(params, case["params"]):
        if meta["role"] == "buffer":
            continue
        for slot in slot_names(spec["kind"], spec["momentum"]):
            state.append((meta["name"] + "." + slot, opt.state[p][slot]))
    return history, norms, state


def used_share(got, exp):
    tol = RTOL * exp.abs() + ATOL
    return float(((got.double() - exp).abs() / tol).max())


WORST = []


def check_float32(case, history64, state64):
    """torch's float32 run must use under a quarter of the C test's tolerance."""
    history32, _, state32 = run(case, torch.float32)
    used = 0.0
    for step32, step64 in zip(history32, history64):
        for a, b in zip(step32, step64):
            used = max(used, used_share(a, b))
    for (_, a), (_, b) in zip(state32, state64):
        used = max(used, used_share(a, b))
    WORST.append((used, case["name"]))
    assert used < 0.25, f"{case['name']}: torch float32 uses {used:.2f} of the tolerance"


CASES = []

# The parameter sets: (name, role, shape).
MLP = [("layers.0.weight", "weight", [3, 4]), ("layers.0.bias", "bias", [3])]
WITH_NORM = MLP + [("layers.1.weight", "norm_scale", [3]), ("layers.1.bias", "norm_shift", [3])]
WITH_PRELU = MLP + [("layers.1.weight", "prelu_slope", [3]),
                    ("layers.2.weight", "weight", [2, 3]), ("layers.2.bias", "bias", [2])]
WITH_BUFFER = MLP + [("layers.1.running_mean", "buffer", [3]),
                     ("layers.1.weight", "prelu_slope", [1])]


def add_case(name, spec, layout, lrs=None, grad_scales=None):
    lrs = [spec["lr"]] * STEPS if lrs is None else [f32(v) for v in lrs]
    grad_scales = [0.5] * STEPS if grad_scales is None else grad_scales
    params = []
    for pname, role, shape in layout:
        init = uniform(shape, 0.0, 1.0) if role == "prelu_slope" else uniform(shape, -1.0, 1.0)
        params.append({"name": pname, "role": role, "shape": shape, "data": floats(init)})
    grads = [[floats(randn(shape, s)) for _, _, shape in layout] for s in grad_scales]
    case = {"name": name, "spec": spec, "lrs": lrs, "params": params, "grads": grads}
    history, norms, state = run(case, torch.float64)
    check_float32(case, history, state)
    case["expected"] = [[floats(p) for p in step] for step in history]
    case["grad_norms"] = norms
    case["state"] = [{"name": n, "data": floats(t)} for n, t in state]
    CASES.append(case)


def gen_sgd():
    add_case("sgd_plain", make_spec("sgd", lr=0.1), MLP)
    add_case("sgd_momentum", make_spec("sgd", lr=0.05, momentum=0.9), MLP)
    add_case("sgd_momentum_dampening", make_spec("sgd", lr=0.05, momentum=0.8, dampening=0.25),
             MLP)
    add_case("sgd_nesterov", make_spec("sgd", lr=0.05, momentum=0.9, nesterov=1), MLP)
    add_case("sgd_weight_decay_no_bias_no_norm",
             make_spec("sgd", lr=0.1, momentum=0.9, weight_decay=0.05), WITH_NORM)
    add_case("sgd_weight_decay_all_groups",
             make_spec("sgd", lr=0.1, momentum=0.9, weight_decay=0.05, decay_bias=1,
                       decay_norm=1), WITH_NORM)
    add_case("sgd_clip", make_spec("sgd", lr=0.1, momentum=0.9, clip_grad_norm=1.0),
             WITH_BUFFER, grad_scales=[4.0, 0.05, 2.0, 0.1, 8.0])
    add_case("sgd_momentum_scheduled_lr", make_spec("sgd", lr=0.1, momentum=0.9),
             MLP, lrs=[0.02, 0.04, 0.06, 0.08, 0.1])


def gen_adam():
    add_case("adam", make_spec("adam", lr=0.01), MLP)
    add_case("adam_l2_no_bias", make_spec("adam", lr=0.01, weight_decay=0.1), WITH_NORM)
    add_case("adam_betas_eps", make_spec("adam", lr=0.02, beta1=0.5, beta2=0.9, eps=1e-3), MLP)
    add_case("adam_clip_with_buffer", make_spec("adam", lr=0.01, clip_grad_norm=0.5),
             WITH_BUFFER, grad_scales=[2.0, 0.01, 1.0, 0.02, 3.0])
    add_case("adamw_no_prelu_no_bias", make_spec("adamw", lr=0.01, weight_decay=0.1),
             WITH_PRELU)
    add_case("adamw_decay_prelu", make_spec("adamw", lr=0.01, weight_decay=0.1, decay_prelu=1),
             WITH_PRELU)
    add_case("adamw_scheduled_lr", make_spec("adamw", lr=0.01, weight_decay=0.1), MLP,
             lrs=[0.01, 0.008, 0.005, 0.002, 0.0005])


def main():
    torch.set_num_threads(1)
    gen_sgd()
    gen_adam()
    WORST.sort(reverse=True)
    print("largest share of the tolerance used by torch float32:",
          ", ".join(f"{n} {u:.3f}" for u, n in WORST[:5]), file=sys.stderr)
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    doc = {
        "generator": "tools/torch_optim_reference.py",
        "torch_version": torch.__version__,
        "precision": "inputs float32-exact; torch ran in float64",
        "tolerance": {"rtol": RTOL, "atol": ATOL},
        "count": len(CASES),
        "cases": CASES,
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    text = json.dumps(doc, separators=(",", ":"))
    text = text.replace(',{"name":', ',\n{"name":')
    with open(OUT_PATH, "w") as f:
        f.write(text)
        f.write("\n")
    print(f"wrote {len(CASES)} cases, {len(text)} bytes to {os.path.normpath(OUT_PATH)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
