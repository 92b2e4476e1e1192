#!/usr/bin/python3
"""Writes tests/golden/ops_reference.json: PyTorch reference values for slope's ops.

Run by hand (not in CI) with a Python that has torch, e.g. Debian's python3-torch:

    /usr/bin/python3 tools/torch_reference.py

For every case the file holds the op, its parameters, the input tensors, a weighting
tensor r, the forward output and the gradient of L = sum(r * out) with respect to every
input that requires one.  tests/test_reference.c replays each case through slope.

Precision: the inputs are float32 values (multiples of 2^-10, exactly representable, so
slope sees exactly what torch saw); torch then computes in float64, so the recorded
output and gradients are the exact-math answers for those inputs up to ~1e-16.  Float
parameters (alpha, eps, momentum) are likewise rounded to float32 first, since slope
receives them as C floats.

The output is deterministic: fixed seeds, no threads-dependent reductions matter at
float64 for these sizes, and json keeps key order.
"""

import json
import os
import sys

import torch
import torch.nn.functional as F

GRID = 1024.0  # inputs are multiples of 1/GRID: exact in float32 and short in JSON

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests",
                        "golden", "ops_reference.json")

gen = torch.Generator().manual_seed(20240611)


def f32(v):
    """A Python float rounded to the nearest float32 (what a C float parameter holds)."""
    return float(torch.tensor(v, dtype=torch.float32).item())


def quantize(t):
    """Rounds to the 1/GRID grid and checks it is exact in float32; returns float64."""
    q = torch.round(t.double() * GRID) / GRID
    assert torch.equal(q.float().double(), q), "value not exact in float32"
    return q


def randn(shape, scale=1.0):
    return quantize(torch.randn(shape, generator=gen, dtype=torch.float64) * scale)


def uniform(shape, lo, hi):
    return quantize(lo + (hi - lo) * torch.rand(shape, generator=gen, dtype=torch.float64))


def nonzero(t, eps=1.0 / 64):
    """Pushes |t| < eps out to +-eps (keeps elu/selu/prelu cases off the kink)."""
    t = t.clone()
    small = t.abs() < eps
    t[small] = torch.where(t[small] < 0, torch.full_like(t[small], -eps),
                           torch.full_like(t[small], eps))
    return t


def with_zeros(t, every=5):
    """Puts exact 0.0 and -0.0 into every `every`-th element, alternating sign."""
    t = t.clone().reshape(-1)
    for k, i in enumerate(range(0, t.numel(), every)):
        t[i] = 0.0 if k % 2 == 0 else -0.0
    return t


def distinct(shape, scale=1.0 / 16):
    """All-distinct values (a shuffled arithmetic sequence, both signs): no max-pool ties."""
    n = 1
    for s in shape:
        n *= s
    perm = torch.randperm(n, generator=gen).double()
    return quantize((perm - n / 2 + 0.5) * scale).reshape(shape)


def floats(t):
    """Flat list of Python floats (repr round-trips exactly; keeps -0.0)."""
    return [float(v) for v in t.detach().reshape(-1).tolist()]


CASES = []

# The tolerance tests/test_reference.c applies: |got - exp| <= RTOL * |exp| + ATOL.
RTOL = 1e-5
ATOL = 1e-6
WORST = []  # (fraction of the tolerance used by torch's own float32 result, case name)


def check_float32(name, inputs, fn, r, out64, grads64):
    """Conditioning check: torch's float32 run of the case must sit well inside the
    tolerance the C test applies to slope's float32 run, so a failure there means a bug in
    slope, not an ill-conditioned case.  Cases using more than a quarter of it abort."""
    tensors = []
    for _, t, rg in inputs:
        x = t.detach().clone().float()
        x.requires_grad_(rg)
        tensors.append(x)
    out = fn(*tensors)
    loss = (r.float() * out).sum()
    wanted = [x for x in tensors if x.requires_grad]
    grads = torch.autograd.grad(loss, wanted) if wanted else []
    used = 0.0
    for got, exp in [(out, out64)] + list(zip(grads, grads64)):
        tol = RTOL * exp.abs() + ATOL
        used = max(used, float(((got.double() - exp).abs() / tol).max()))
    WORST.append((used, name))
    assert used < 0.25, f"{name}: torch float32 uses {used:.2f} of the tolerance"


def add_case(name, op, params, inputs, fn, r=None, labels=None, state=None, training=True):
    """inputs: list of (name, float64 tensor, requires_grad).  fn(*tensors) -> output.
    state: names of inputs fn updates in place; their values after the call are recorded."""
    tensors = []
    for _, t, rg in inputs:
        x = t.detach().clone().double()
        x.requires_grad_(rg)
        tensors.append(x)
    out = fn(*tensors)
    if r is None:
        r = uniform(out.shape, -1.0, 1.0)
    assert tuple(r.shape) == tuple(out.shape)
    loss = (r * out).sum()
    wanted = [x for x in tensors if x.requires_grad]
    grads = torch.autograd.grad(loss, wanted) if wanted else []
    gmap = {}
    gi = 0
    for (iname, _, rg) in inputs:
        if rg:
            gmap[iname] = floats(grads[gi])
            gi += 1
    check_float32(name, inputs, fn, r, out, grads)
    case = {
        "name": name,
        "op": op,
        "params": params,
        "training": training,
        "inputs": [{"name": iname, "shape": list(t.shape), "requires_grad": rg,
                    "data": floats(t)} for (iname, t, rg) in inputs],
    }
    if labels is not None:
        case["labels"] = [int(v) for v in labels.tolist()]
    case["r"] = floats(r)
    case["output"] = {"shape": list(out.shape), "data": floats(out)}
    case["grads"] = gmap
    if state is not None:
        # Inputs the op updates in place (batch_norm's running statistics), after the call.
        case["state_after"] = {k: floats(tensors[[i[0] for i in inputs].index(k)])
                               for k in state}
    CASES.append(case)


# ---- products ------------------------------------------------------------------

def gen_matmul():
    for (m, k, n) in [(3, 4, 5), (1, 7, 3), (5, 1, 4), (4, 6, 1), (1, 1, 1), (8, 9, 7)]:
        a = randn((m, k))
        b = randn((k, n))
        add_case(f"matmul_{m}x{k}_{k}x{n}", "matmul", {},
                 [("a", a, True), ("b", b, True)], lambda a, b: a @ b)


def gen_linear():
    for (n, fin, fout) in [(4, 5, 3), (1, 6, 2), (7, 3, 5), (2, 1, 1)]:
        for bias in (True, False):
            x = randn((n, fin))
            w = randn((fout, fin), 0.5)
            ins = [("x", x, True), ("w", w, True)]
            if bias:
                ins.append(("b", randn((fout,), 0.5), True))
                fn = lambda x, w, b: F.linear(x, w, b)
            else:
                fn = lambda x, w: F.linear(x, w)
            add_case(f"linear_{n}x{fin}_to_{fout}_{'bias' if bias else 'nobias'}", "linear",
                     {"bias": bias}, ins, fn)


def gen_conv2d():
    # (N, C, H, W, O, kh, kw, stride, pad, bias)
    cfgs = [
        (1, 1, 5, 5, 2, 3, 3, 1, 0, True),
        (2, 3, 6, 5, 4, 3, 3, 1, 1, True),
        (2, 3, 7, 7, 2, 3, 3, 2, 0, False),
        (1, 3, 6, 6, 3, 3, 3, 2, 1, True),
        (3, 1, 5, 4, 2, 2, 2, 2, 1, False),
        (1, 1, 4, 5, 1, 1, 1, 1, 0, True),
        (2, 3, 5, 6, 2, 3, 2, 1, 1, True),   # rectangular kernel
        (1, 1, 7, 6, 3, 3, 3, 2, 1, False),
    ]
    for (n, c, h, w, o, kh, kw, s, p, bias) in cfgs:
        x = randn((n, c, h, w))
        wt = randn((o, c, kh, kw), 0.5)
        ins = [("x", x, True), ("w", wt, True)]
        if bias:
            ins.append(("b", randn((o,), 0.5), True))
            fn = lambda x, w, b, s=s, p=p: F.conv2d(x, w, b, stride=s, padding=p)
        else:
            fn = lambda x, w, s=s, p=p: F.conv2d(x, w, None, stride=s, padding=p)
        add_case(f"conv2d_n{n}c{c}_{h}x{w}_o{o}k{kh}x{kw}_s{s}p{p}_{'bias' if bias else 'nobias'}",
                 "conv2d", {"stride": s, "pad": p, "bias": bias}, ins, fn)


# ---- pooling ---------------------------------------------------------------------

def gen_pool():
    for (n, c, h, w) in [(1, 1, 4, 4), (2, 3, 5, 7), (1, 2, 6, 5)]:
        for (k, s, p) in [(2, 2, 0), (3, 2, 1)]:
            x = distinct((n, c, h, w))
            add_case(f"max_pool2d_n{n}c{c}_{h}x{w}_k{k}s{s}p{p}", "max_pool2d",
                     {"k": k, "stride": s, "pad": p}, [("x", x, True)],
                     lambda x, k=k, s=s, p=p: F.max_pool2d(x, k, s, p))
    # All-negative input: windows hanging over the padding must still pick a real element.
    x = -distinct((1, 1, 5, 5)).abs() - 1.0 / 16
    add_case("max_pool2d_negative_n1c1_5x5_k3s2p1", "max_pool2d", {"k": 3, "stride": 2, "pad": 1},
             [("x", x, True)], lambda x: F.max_pool2d(x, 3, 2, 1))
    for (n, c, h, w) in [(1, 1, 4, 4), (2, 3, 5, 7), (1, 2, 6, 5)]:
        for (k, s, p) in [(2, 2, 0), (3, 1, 1)]:
            x = randn((n, c, h, w))
            add_case(f"avg_pool2d_n{n}c{c}_{h}x{w}_k{k}s{s}p{p}", "avg_pool2d",
                     {"k": k, "stride": s, "pad": p}, [("x", x, True)],
                     lambda x, k=k, s=s, p=p: F.avg_pool2d(x, k, s, p, count_include_pad=True))


# ---- elementwise -------------------------------------------------------------------

def gen_elementwise():
    for shape in [(3, 4), (1, 1), (2, 3, 4, 5), (1, 7)]:
        tag = "x".join(str(d) for d in shape)
        a, b = randn(shape), randn(shape)
        add_case(f"add_{tag}", "add", {}, [("a", a, True), ("b", b, True)], lambda a, b: a + b)
        a, b = randn(shape), randn(shape)
        add_case(f"mul_{tag}", "mul", {}, [("a", a, True), ("b", b, True)], lambda a, b: a * b)


# ---- activations -----------------------------------------------------------------------

ACT_SHAPES = [(4, 5), (1, 9), (2, 3, 3, 4)]


def gen_activations():
    for shape in ACT_SHAPES:
        tag = "x".join(str(d) for d in shape)
        x = with_zeros(randn(shape)).reshape(shape)
        add_case(f"relu_{tag}", "relu", {}, [("x", x, True)], lambda x: F.relu(x))
        for alpha in (0.01, 0.2):
            a = f32(alpha)
            x = with_zeros(randn(shape)).reshape(shape)
            add_case(f"leaky_relu_a{alpha}_{tag}", "leaky_relu", {"alpha": a}, [("x", x, True)],
                     lambda x, a=a: F.leaky_relu(x, a))
        for alpha in (1.0, 0.5):
            a = f32(alpha)
            x = nonzero(randn(shape, 1.5))
            add_case(f"elu_a{alpha}_{tag}", "elu", {"alpha": a}, [("x", x, True)],
                     lambda x, a=a: F.elu(x, a))
        x = nonzero(randn(shape, 1.5))
        add_case(f"selu_{tag}", "selu", {}, [("x", x, True)], lambda x: F.selu(x))
        x = with_zeros(randn(shape, 2.0)).reshape(shape)
        add_case(f"sigmoid_{tag}", "sigmoid", {}, [("x", x, True)], lambda x: torch.sigmoid(x))
        x = with_zeros(randn(shape, 1.5)).reshape(shape)
        add_case(f"tanh_{tag}", "tanh", {}, [("x", x, True)], lambda x: torch.tanh(x))
    # Larger magnitudes: saturation of sigmoid/tanh and exp of elu.
    x = quantize(torch.tensor([[-30.0, -12.5, -5.0, 5.0, 12.5, 30.0]], dtype=torch.float64))
    add_case("sigmoid_large_1x6", "sigmoid", {}, [("x", x, True)], lambda x: torch.sigmoid(x))
    add_case("tanh_large_1x6", "tanh", {}, [("x", x, True)], lambda x: torch.tanh(x))
    add_case("elu_a1.0_large_1x6", "elu", {"alpha": 1.0}, [("x", x, True)],
             lambda x: F.elu(x, 1.0))
    # The kink itself: elu/selu at exact 0.0 and -0.0.  torch (and slope's formula
    # "x if x > 0 else alpha*(exp(x)-1)") take the x <= 0 branch there: dy/dx = alpha
    # (selu: scale*alpha).
    x = quantize(torch.tensor([[0.0, -0.0, 0.5, -0.5]], dtype=torch.float64))
    x = x.clone()
    x[0, 1] = -0.0
    add_case("elu_a0.5_at_zero_1x4", "elu", {"alpha": 0.5}, [("x", x, True)],
             lambda x: F.elu(x, 0.5))
    add_case("selu_at_zero_1x4", "selu", {}, [("x", x, True)], lambda x: F.selu(x))


def gen_prelu():
    # [N, F] with one shared slope and one per feature; [N, C, H, W] likewise.
    cfgs = [((4, 5), 1), ((4, 5), 5), ((1, 3), 3), ((2, 3, 3, 4), 1), ((2, 3, 3, 4), 3),
            ((1, 2, 5, 3), 2)]
    for shape, nparam in cfgs:
        tag = "x".join(str(d) for d in shape)
        x = with_zeros(randn(shape), every=4).reshape(shape)
        if nparam == 1:
            a = quantize(torch.tensor([0.25], dtype=torch.float64))
        else:
            a = uniform((nparam,), -0.25, 0.75)
        add_case(f"prelu_{'shared' if nparam == 1 else 'channel'}_{tag}", "prelu",
                 {"num_parameters": nparam}, [("x", x, True), ("alpha", a, True)],
                 lambda x, a: F.prelu(x, a))


def gen_gelu():
    """GELU as torch.nn.GELU() (approximate='none': the exact erf form).  Generated last so
    the random draws of the older cases, and so their values, stay as they were."""
    gelu = torch.nn.GELU()
    assert gelu.approximate == "none"
    params = {"approximate": "none"}
    for shape in ACT_SHAPES:
        tag = "x".join(str(d) for d in shape)
        x = with_zeros(randn(shape, 1.5)).reshape(shape)
        add_case(f"gelu_{tag}", "gelu", params, [("x", x, True)], lambda x: gelu(x))
    # Large magnitudes: y -> x and y -> 0 (1 + erf cancels in float32 below about -4),
    # and the derivative's overshoot near x = -0.75 and x = 1.5.
    x = quantize(torch.tensor([[-30.0, -12.5, -5.0, -3.0, -0.75, 1.5, 3.0, 5.0, 12.5, 30.0]],
                              dtype=torch.float64))
    add_case("gelu_large_1x10", "gelu", params, [("x", x, True)], lambda x: gelu(x))
    # Exact 0.0 and -0.0: y = 0 and dy/dx = Phi(0) = 0.5 on both sides.
    x = quantize(torch.tensor([[0.0, -0.0, 0.5, -0.5]], dtype=torch.float64))
    x = x.clone()
    x[0, 1] = -0.0
    add_case("gelu_at_zero_1x4", "gelu", params, [("x", x, True)], lambda x: gelu(x))


# ---- batch norm ------------------------------------------------------------------------

def gen_batch_norm():
    momentum = f32(0.1)
    eps = f32(1e-5)
    params = {"momentum": momentum, "eps": eps}
    for shape, affine in [((6, 4), True), ((2, 3), True), ((5, 3), False), ((2, 3, 3, 4), True),
                          ((1, 2, 3, 3), True), ((3, 2, 2, 3), False)]:
        tag = "x".join(str(d) for d in shape)
        c = shape[1]
        x = randn(shape, 2.0) + 0.5
        rm0 = torch.zeros(c, dtype=torch.float64)
        rv0 = torch.ones(c, dtype=torch.float64)
        ins = [("x", x, True)]
        if affine:
            ins += [("gamma", uniform((c,), 0.5, 1.5), True),
                    ("beta", uniform((c,), -0.5, 0.5), True)]
        ins += [("running_mean", rm0, False), ("running_var", rv0, False)]

        def fn(x, *rest, affine=affine):
            g, b = (rest[0], rest[1]) if affine else (None, None)
            rm, rv = rest[-2], rest[-1]  # fresh copies per call, updated in place
            return F.batch_norm(x, rm, rv, g, b, training=True, momentum=momentum, eps=eps)

        p = dict(params, affine=affine)
        add_case(f"batch_norm_train_{tag}_{'affine' if affine else 'plain'}", "batch_norm", p,
                 ins, fn, state=["running_mean", "running_var"], training=True)
    for shape, affine in [((4, 3), True), ((2, 3, 2, 3), True), ((1, 2, 2, 2), False)]:
        tag = "x".join(str(d) for d in shape)
        c = shape[1]
        x = randn(shape, 2.0)
        rm0 = uniform((c,), -0.5, 0.5)
        rv0 = uniform((c,), 0.5, 2.0)
        ins = [("x", x, True)]
        if affine:
            ins += [("gamma", uniform((c,), 0.5, 1.5), True),
                    ("beta", uniform((c,), -0.5, 0.5), True)]
        ins += [("running_mean", rm0, False), ("running_var", rv0, False)]

        def fn(x, *rest, affine=affine):
            g, b = (rest[0], rest[1]) if affine else (None, None)
            rm, rv = rest[-2], rest[-1]
            return F.batch_norm(x, rm, rv, g, b, training=False, momentum=momentum, eps=eps)

        p = dict(params, affine=affine)
        add_case(f"batch_norm_eval_{tag}_{'affine' if affine else 'plain'}", "batch_norm", p,
                 ins, fn, state=["running_mean", "running_var"], training=False)


# ---- losses --------------------------------------------------------------------------------

def gen_losses():
    one = torch.ones(1, dtype=torch.float64)
    for (n, c) in [(4, 5), (1, 3), (7, 2), (3, 10)]:
        logits = randn((n, c), 2.0)
        labels = torch.randint(0, c, (n,), generator=gen)
        # Reshape the scalar loss to [1] so r = [1] and L is the loss itself.
        add_case(f"cross_entropy_{n}x{c}", "cross_entropy", {}, [("logits", logits, True)],
                 lambda z, labels=labels: F.cross_entropy(z, labels, reduction="mean").reshape(1),
                 r=one, labels=labels)
    logits = quantize(torch.tensor([[50.0, -50.0, 0.0], [-20.0, 30.0, 29.5]],
                                   dtype=torch.float64))
    labels = torch.tensor([1, 2])
    add_case("cross_entropy_large_2x3", "cross_entropy", {}, [("logits", logits, True)],
             lambda z: F.cross_entropy(z, labels, reduction="mean").reshape(1), r=one,
             labels=labels)
    for shape, target_grad in [((4, 3), True), ((1, 1), True), ((2, 3, 2, 2), False),
                               ((1, 5), False)]:
        tag = "x".join(str(d) for d in shape)
        pred, target = randn(shape), randn(shape)
        add_case(f"mse_{tag}{'' if target_grad else '_const_target'}", "mse", {},
                 [("pred", pred, True), ("target", target, target_grad)],
                 lambda p, t: F.mse_loss(p, t, reduction="mean").reshape(1), r=one)


def gen_bce_with_logits():
    """Last, so the cases before keep their random draws."""
    one = torch.ones(1, dtype=torch.float64)
    for shape, target_grad in [((4, 3), True), ((2, 1), False), ((2, 3, 2, 2), False)]:
        tag = "x".join(str(d) for d in shape)
        logits, target = randn(shape, 3.0), uniform(shape, 0.0, 1.0)
        add_case(f"bce_with_logits_{tag}{'' if target_grad else '_const_target'}",
                 "bce_with_logits", {}, [("logits", logits, True), ("target", target, target_grad)],
                 lambda z, t: F.binary_cross_entropy_with_logits(z, t).reshape(1), r=one)
    logits = quantize(torch.tensor([[60.0, -60.0, 0.0, 20.0, -20.0]], dtype=torch.float64))
    target = quantize(torch.tensor([[0.0, 1.0, 0.5, 1.0, 0.0]], dtype=torch.float64))
    add_case("bce_with_logits_large_1x5", "bce_with_logits", {},
             [("logits", logits, True), ("target", target, False)],
             lambda z, t: F.binary_cross_entropy_with_logits(z, t).reshape(1), r=one)
    logits, real = randn((4, 1), 2.0), torch.ones(1, dtype=torch.float64)
    add_case("bce_with_logits_4x1_one_target", "bce_with_logits", {},
             [("logits", logits, True), ("target", real, True)],
             lambda z, t: F.binary_cross_entropy_with_logits(z, t.expand_as(z)).reshape(1), r=one)


def gen_rnn():
    """torch.nn.RNN (one layer, batch_first, h_0 = 0) for slope's sl_rnn, tanh and relu, the
    whole sequence and the last step.  The gradients come from the kernel nn.RNN runs
    (torch._VF.rnn_tanh / rnn_relu, called with the case's tensors so autograd reaches
    them), checked against an nn.RNN module holding the same weights.  Last, so the cases
    before keep their random draws."""
    for nl in ["tanh", "relu"]:
        for ret in ["sequence", "last"]:
            n, t, f, h = 3, 5, 4, 6
            x = randn((n, t, f))
            w_ih, w_hh = uniform((h, f), -0.5, 0.5), uniform((h, h), -0.4, 0.4)
            b_ih, b_hh = uniform((h,), -0.3, 0.3), uniform((h,), -0.3, 0.3)
            kernel = torch._VF.rnn_tanh if nl == "tanh" else torch._VF.rnn_relu

            def fn(x, *p, ret=ret, kernel=kernel):
                h0 = torch.zeros(1, x.shape[0], p[0].shape[0], dtype=x.dtype)
                seq, last = kernel(x, h0, list(p), True, 1, 0.0, True, False, True)
                return seq if ret == "sequence" else last[0]
            module = torch.nn.RNN(f, h, nonlinearity=nl, batch_first=True).double()
            with torch.no_grad():
                for name, v in zip(["weight_ih_l0", "weight_hh_l0", "bias_ih_l0",
                                    "bias_hh_l0"], [w_ih, w_hh, b_ih, b_hh]):
                    getattr(module, name).copy_(v)
                seq, last = module(x)
                want = seq if ret == "sequence" else last[0]
                assert torch.equal(want, fn(x, w_ih, w_hh, b_ih, b_hh)), "nn.RNN differs"
            add_case(f"rnn_{nl}_{ret}_{n}x{t}x{f}_h{h}", "rnn",
                     {"nonlinearity": nl, "return": ret},
                     [("x", x, True), ("w_ih", w_ih, True), ("w_hh", w_hh, True),
                      ("b_ih", b_ih, True), ("b_hh", b_hh, True)], fn)


def gen_label_smoothing():
    """Cross-entropy against smoothed targets (torch's label_smoothing); last, so the random
    stream of every earlier case stays as it was."""
    one = torch.ones(1, dtype=torch.float64)
    for (n, c, eps) in [(4, 5, 0.1), (3, 10, 0.25), (2, 3, 0.5)]:
        eps = float(torch.tensor(eps, dtype=torch.float32))
        logits = randn((n, c), 2.0)
        labels = torch.randint(0, c, (n,), generator=gen)
        add_case(f"cross_entropy_smoothed_{n}x{c}", "cross_entropy", {"label_smoothing": eps},
                 [("logits", logits, True)],
                 lambda z, labels=labels, eps=eps: F.cross_entropy(
                     z, labels, reduction="mean", label_smoothing=eps).reshape(1),
                 r=one, labels=labels)


def main():
    torch.set_num_threads(1)
    gen_matmul()
    gen_linear()
    gen_conv2d()
    gen_pool()
    gen_elementwise()
    gen_activations()
    gen_prelu()
    gen_batch_norm()
    gen_losses()
    gen_gelu()
    gen_bce_with_logits()
    gen_rnn()
    gen_label_smoothing()
    WORST.sort(reverse=True)
    print("largest share of the tolerance used by torch float32:",
          ", ".join(f"{n} {u:.3f}" for u, n in WORST[:5]), file=sys.stderr)
    names = [c["name"] for c in CASES]
    assert len(names) == len(set(names)), "duplicate case names"
    doc = {
        "generator": "tools/torch_reference.py",
        "torch_version": torch.__version__,
        "loss": "L = sum(r * out); grads are dL/d(input) for inputs with requires_grad",
        "precision": "inputs float32-exact; outputs and grads computed in float64",
        "count": len(CASES),
        "cases": CASES,
    }
    os.makedirs(os.path.dirname(OUT_PATH), exist_ok=True)
    text = json.dumps(doc, separators=(",", ":"))
    # One case per line: small diffs when regenerated.
    text = text.replace(',{"name":', ',\n{"name":')
    with open(OUT_PATH, "w") as f:
        f.write(text)
        f.write("\n")
    print(f"wrote {len(CASES)} cases, {len(text)} bytes to {os.path.normpath(OUT_PATH)}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
