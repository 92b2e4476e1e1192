#!/usr/bin/python3
"""Writes tests/golden/model_reference.json: PyTorch forward and backward through small
models with residual blocks (cases "residual_*", for tests/test_residual.c) and with rnn
layers as torch.nn.RNN (cases "rnn_*", for tests/test_rnn.c).

Run by hand (not in CI) with a Python that has torch, e.g. Debian's python3-torch:

    /usr/bin/python3 tools/torch_model_reference.py

Each case is a slope model config (JSON text, residual blocks nested in "layers"), the
same model written as torch modules (a block is a module with .layers, an nn.Sequential,
and .shortcut, a 1x1 nn.Conv2d or an nn.Linear, so the state_dict names are slope's
minus the leading "layers."), weights and a batch, and what torch gives: the logits, the
mean cross-entropy loss and the gradient of every parameter, by slope's name.  The test
loads the weights into slope by name, runs forward and backward and compares.

Precision: weights and inputs are multiples of 2^-8 (exact in float32); torch runs in
float64, so the recorded values are the exact-math answers for those inputs.
"""

import json
import os

import torch
from torch import nn

OUT_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "tests",
                        "golden", "model_reference.json")
GRID = 256.0

gen = torch.Generator().manual_seed(20261202)


class Residual(nn.Module):
    """x + f(x), as slope's residual layer: .layers is the body, .shortcut the projection."""

    def __init__(self, layers, shortcut=None):
        super().__init__()
        self.layers = nn.Sequential(*layers)
        self.shortcut = shortcut

    def forward(self, x):
        return self.layers(x) + (self.shortcut(x) if self.shortcut is not None else x)


class Top(nn.Module):
    """Slope names top-level layers "layers.<i>": the model's own .layers."""

    def __init__(self, layers):
        super().__init__()
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


class RNN(nn.RNN):
    """slope's rnn layer: torch.nn.RNN, batch first, h_0 = 0, giving every state (sequence)
    or the last one; its parameters keep torch's names (weight_ih_l0, ...)."""

    def __init__(self, features, hidden, nonlinearity, sequence, bias=True):
        super().__init__(features, hidden, nonlinearity=nonlinearity, bias=bias,
                         batch_first=True)
        self.sequence = sequence

    def forward(self, x):
        y, _ = super().forward(x)
        return y if self.sequence else y[:, -1]


def rnn_cases():
    # tanh returning every state, flattened; relu returning the last; both stacked (relu
    # sequence into a tanh without biases, last), each into a linear head.
    tanh_seq = {"input": [5, 3], "layers": [
        {"type": "rnn", "hidden": 4, "return": "sequence"},
        {"type": "flatten"},
        {"type": "linear", "out": 3}]}
    relu_last = {"input": [4, 3], "layers": [
        {"type": "rnn", "hidden": 5, "activation": "relu"},
        {"type": "linear", "out": 3}]}
    stacked = {"input": [6, 2], "layers": [
        {"type": "rnn", "hidden": 4, "activation": "relu", "return": "sequence"},
        {"type": "rnn", "hidden": 3, "bias": False},
        {"type": "linear", "out": 3}]}
    return [
        ("rnn_tanh_sequence", tanh_seq,
         Top([RNN(3, 4, "tanh", True), nn.Flatten(), nn.Linear(20, 3)]), [4, 5, 3]),
        ("rnn_relu_last", relu_last, Top([RNN(3, 5, "relu", False), nn.Linear(5, 3)]),
         [5, 4, 3]),
        ("rnn_stacked", stacked,
         Top([RNN(2, 4, "relu", True), RNN(4, 3, "tanh", False, bias=False),
              nn.Linear(3, 3)]), [3, 6, 2]),
    ]


def image_case():
    # [2, 6, 6]: conv, relu, identity block, relu, a downsampling projection block with an
    # identity block nested in it, flatten, linear.
    cfg = {"input": [2, 6, 6], "layers": [
        {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
        {"type": "relu"},
        {"type": "residual", "layers": [
            {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1},
            {"type": "leaky_relu", "alpha": 0.1},
            {"type": "conv2d", "out": 4, "kernel": 3, "padding": 1}]},
        {"type": "relu"},
        {"type": "residual", "shortcut": "projection", "layers": [
            {"type": "conv2d", "out": 6, "kernel": 3, "stride": 2, "padding": 1},
            {"type": "prelu", "num_parameters": "channel"},
            {"type": "residual", "layers": [
                {"type": "conv2d", "out": 6, "kernel": 3, "padding": 1},
                {"type": "tanh"}]}]},
        {"type": "flatten"},
        {"type": "linear", "out": 3}]}
    model = Top([
        nn.Conv2d(2, 4, 3, padding=1), nn.ReLU(),
        Residual([nn.Conv2d(4, 4, 3, padding=1), nn.LeakyReLU(0.1),
                  nn.Conv2d(4, 4, 3, padding=1)]),
        nn.ReLU(),
        Residual([nn.Conv2d(4, 6, 3, stride=2, padding=1), nn.PReLU(6),
                  Residual([nn.Conv2d(6, 6, 3, padding=1), nn.Tanh()])],
                 nn.Conv2d(4, 6, 1, stride=2)),
        nn.Flatten(), nn.Linear(54, 3)])
    return "residual_cnn", cfg, model, [4, 2, 6, 6]


def flat_case():
    # [5]: linear, a projection block without a bias (6 -> 4), relu, an identity block, linear.
    cfg = {"input": [5], "layers": [
        {"type": "linear", "out": 6},
        {"type": "residual", "shortcut": "projection", "bias": False, "layers": [
            {"type": "linear", "out": 4}, {"type": "gelu"}]},
        {"type": "relu"},
        {"type": "residual", "layers": [{"type": "linear", "out": 4}, {"type": "elu"}]},
        {"type": "linear", "out": 3}]}
    model = Top([
        nn.Linear(5, 6),
        Residual([nn.Linear(6, 4), nn.GELU()], nn.Linear(6, 4, bias=False)),
        nn.ReLU(),
        Residual([nn.Linear(4, 4), nn.ELU()]),
        nn.Linear(4, 3)])
    return "residual_mlp", cfg, model, [6, 5]


def grid(shape, scale):
    """Uniform in [-scale, scale), rounded to multiples of 2^-8."""
    v = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * scale
    return torch.round(v * GRID) / GRID


def make_case(name, cfg, model, x_shape):
    model = model.double()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(grid(p.shape, 0.25))
        for mod in model.modules():  # PReLU slopes in [0.125, 0.375]
            if isinstance(mod, nn.PReLU):
                mod.weight.copy_(grid(mod.weight.shape, 0.125).abs() + 0.125)
    x = grid(x_shape, 1.0)
    labels = torch.randint(0, 3, (x_shape[0],), generator=gen)
    logits = model(x)
    loss = nn.functional.cross_entropy(logits, labels)
    loss.backward()
    params = {}
    for pname, p in model.named_parameters():
        params[pname] = {  # Top's .layers: the names are slope's as they are
            "shape": list(p.shape), "data": p.detach().flatten().tolist(),
            "grad": p.grad.flatten().tolist()}
    cfg_text = json.dumps({"name": name, "data": {"dataset": "spiral"}, "model": cfg})
    return {"name": name, "config": cfg_text, "x_shape": x_shape,
            "x": x.flatten().tolist(), "labels": labels.tolist(),
            "logits": logits.detach().flatten().tolist(), "loss": loss.item(),
            "params": params}


def main():
    cases = [make_case(*image_case()), make_case(*flat_case())]
    cases += [make_case(*c) for c in rnn_cases()]
    doc = {"generator": "tools/torch_model_reference.py", "torch": torch.__version__,
           "count": len(cases), "cases": cases}
    with open(OUT_PATH, "w") as f:
        json.dump(doc, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases to {os.path.normpath(OUT_PATH)}")


if __name__ == "__main__":
    main()
