"""slope -> torch -> slope: export loads strictly into nn.Sequential and gives slope's logits
(`slope predict --logits`); torch's changed weights come back through `slope train --init-from`
(lr 1e-20, so training leaves them as they are) with torch's logits.  A batch-norm model goes
the same way with torch's state_dict as torch saves it: I64 num_batches_tracked, and the
weights in float16.
usage: torch_roundtrip.py SLOPE SOURCE_DIR WORK_DIR"""
import json, os, struct, subprocess, sys
import torch

slope, src, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
cfg = os.path.join(src, "models", "spiral_mlp.json")
run = lambda *a: subprocess.run([slope, *a], check=True, capture_output=True, cwd=work)

def read(path):
    b = open(path, "rb").read()
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    d = b[8 + n:]
    dt = {"F32": torch.float32, "I64": torch.int64}
    return {k: torch.frombuffer(bytearray(d[v["data_offsets"][0]:v["data_offsets"][1]]),
                                dtype=dt[v["dtype"]]).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}

DTYPES = {torch.float32: "F32", torch.float16: "F16", torch.int64: "I64"}

def write(path, sd):
    """A safetensors file of sd as it is: each tensor in its own dtype."""
    header, data = {}, b""
    for k, t in sd.items():
        raw = t.detach().contiguous().numpy().tobytes()
        header[k] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape),
                     "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    h = json.dumps(header).encode()
    open(path, "wb").write(struct.pack("<Q", len(h)) + h + data)

common = ["--quiet", "--set", "stats.enabled=false"]
run("train", cfg, "--epochs", "1", "--checkpoint", "a.safetensors", *common)
run("export", "a.safetensors", "-o", "a.torch.safetensors")
m = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.LeakyReLU(0.01), torch.nn.Linear(64, 64),
                        torch.nn.LeakyReLU(0.01), torch.nn.Linear(64, 3))
m.load_state_dict(read(os.path.join(work, "a.torch.safetensors")), strict=True)
with torch.no_grad():
    for p in m.parameters():
        p.mul_(0.5).add_(0.01)
write(os.path.join(work, "b.safetensors"), m.state_dict())
run("train", cfg, "--epochs", "1", "--init-from", "b.safetensors", "--set", "optimizer.lr=1e-20",
    "--set", "schedule.min_lr=1e-21", "--checkpoint", "c.safetensors", *common)
run("export", "c.safetensors", "-o", "c.torch.safetensors")
back = read(os.path.join(work, "c.torch.safetensors"))
for k, v in m.state_dict().items():
    diff = (back[k] - v).abs().max().item()
    assert diff <= 1e-6, f"{k}: differs by {diff}"
bad = subprocess.run([slope, "train", cfg, "--epochs", "1", "--init-from", "b.safetensors",
                      "--set", "model.layers[0].out=32", *common], capture_output=True, text=True, cwd=work)
assert bad.returncode == 3 and "0.weight: expected [32, 2], found [64, 2]" in bad.stderr, bad.stderr

# Logits: slope's own (slope predict) against torch's, on the same raw points.
points = torch.linspace(-1.5, 1.5, 64).reshape(32, 2)
with open(os.path.join(work, "points.csv"), "w") as f:
    f.writelines(",".join(f"{v:.9g}" for v in row) + "\n" for row in points.tolist())

def slope_logits(ckpt, config=None):
    args = ["predict"] + ([config] if config else []) + ["--checkpoint", ckpt, "points.csv",
                                                          "--logits", "-o", ckpt + ".csv"]
    run(*args)
    rows = open(os.path.join(work, ckpt + ".csv")).read().splitlines()[1:]
    return torch.tensor([[float(v) for v in r.split(",")[2:]] for r in rows])

def check_logits(model, ckpt, what, tol=1e-5, config=None):
    with torch.no_grad():
        want = model.eval()(points)
    diff = (slope_logits(ckpt, config) - want).abs().max().item()
    assert diff <= tol, f"{what}: slope's logits differ from torch's by {diff}"
    return diff

m_a = torch.nn.Sequential(torch.nn.Linear(2, 64), torch.nn.LeakyReLU(0.01), torch.nn.Linear(64, 64),
                          torch.nn.LeakyReLU(0.01), torch.nn.Linear(64, 3))
m_a.load_state_dict(read(os.path.join(work, "a.torch.safetensors")), strict=True)
d1 = check_logits(m_a, "a.safetensors", "slope -> torch")
d2 = check_logits(m, "c.safetensors", "torch -> slope")

# Batch norm, and torch's state_dict as torch saves it (I64 counter, float16 weights).
bn_cfg = json.load(open(cfg))
bn_cfg["model"]["layers"] = [{"type": "linear", "out": 16}, {"type": "batch_norm"},
                             {"type": "leaky_relu", "alpha": 0.1}, {"type": "linear", "out": 3}]
bn_path = os.path.join(work, "bn.json")
json.dump(bn_cfg, open(bn_path, "w"))
run("train", bn_path, "--epochs", "2", "--checkpoint", "bn.safetensors", *common)
run("export", "bn.safetensors", "-o", "bn.torch.safetensors")
bn = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.BatchNorm1d(16), torch.nn.LeakyReLU(0.1),
                         torch.nn.Linear(16, 3))
bn.load_state_dict(read(os.path.join(work, "bn.torch.safetensors")), strict=True)
d3 = check_logits(bn, "bn.safetensors", "batch norm, slope -> torch")
with torch.no_grad():
    bn[1].running_mean.add_(0.25)
    bn[1].running_var.mul_(1.5)
sd = {k: (v.half() if v.dtype == torch.float32 else v) for k, v in bn.state_dict().items()}
assert sd["1.num_batches_tracked"].dtype == torch.int64
write(os.path.join(work, "bn_half.safetensors"), sd)
bn.load_state_dict({k: v.float() if v.dtype == torch.float16 else v for k, v in sd.items()})
# lr 1e-20 and a batch-norm momentum of 0 leave torch's weights and running statistics as
# they came in, so the checkpoint's logits must be torch's.
run("train", bn_path, "--epochs", "1", "--init-from", "bn_half.safetensors", "--set",
    "optimizer.lr=1e-20", "--set", "schedule.min_lr=1e-21", "--set", "model.layers[1].momentum=0",
    "--checkpoint", "bn2.safetensors", *common)
d4 = check_logits(bn, "bn2.safetensors", "batch norm, torch (I64, float16) -> slope")

# Residual blocks (a batch norm inside one, a projection shortcut): torch's nesting of names
# ("1.layers.1.num_batches_tracked", "2.shortcut.weight"), a strict load, the same logits;
# and the checkpoint (with its optimizer state) resumes.
class Residual(torch.nn.Module):
    def __init__(self, layers, shortcut=None):
        super().__init__()
        self.layers, self.shortcut = torch.nn.Sequential(*layers), shortcut

    def forward(self, x):
        return self.layers(x) + (self.shortcut(x) if self.shortcut is not None else x)

res_cfg = json.load(open(cfg))
res_cfg["model"]["layers"] = [
    {"type": "linear", "out": 16},
    {"type": "residual", "layers": [{"type": "linear", "out": 16}, {"type": "batch_norm"},
                                    {"type": "relu"}, {"type": "linear", "out": 16}]},
    {"type": "residual", "shortcut": "projection",
     "layers": [{"type": "linear", "out": 8}, {"type": "tanh"}]},
    {"type": "leaky_relu", "alpha": 0.1}, {"type": "linear", "out": 3}]
res_path = os.path.join(work, "res.json")
json.dump(res_cfg, open(res_path, "w"))
run("train", res_path, "--epochs", "1", "--checkpoint", "res.safetensors", *common)
run("train", res_path, "--epochs", "2", "--resume", "res.safetensors", "--allow-schedule-change",
    "--checkpoint", "res.safetensors", *common)
run("export", "res.safetensors", "-o", "res.torch.safetensors")
res = torch.nn.Sequential(
    torch.nn.Linear(2, 16),
    Residual([torch.nn.Linear(16, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
              torch.nn.Linear(16, 16)]),
    Residual([torch.nn.Linear(16, 8), torch.nn.Tanh()], torch.nn.Linear(16, 8)),
    torch.nn.LeakyReLU(0.1), torch.nn.Linear(8, 3))
res_sd = read(os.path.join(work, "res.torch.safetensors"))
assert "1.layers.1.num_batches_tracked" in res_sd and "2.shortcut.bias" in res_sd, list(res_sd)
res.load_state_dict(res_sd, strict=True)
d5 = check_logits(res, "res.safetensors", "residual, slope -> torch")

# rnn layers under torch.nn.RNN's names (weight_ih_l0, ...): the spiral's points read as
# 2 steps of 1 feature, a relu rnn giving every state into a tanh one giving the last.
class RNN(torch.nn.RNN):
    def __init__(self, f, h, nonlinearity, sequence):
        super().__init__(f, h, nonlinearity=nonlinearity, batch_first=True)
        self.sequence = sequence

    def forward(self, x):
        y, _ = super().forward(x.reshape(len(x), -1, self.input_size))
        return y if self.sequence else y[:, -1]

rnn_cfg = json.load(open(cfg))
rnn_cfg["model"]["input"] = [2, 1]
rnn_cfg["model"]["layers"] = [
    {"type": "rnn", "hidden": 8, "activation": "relu", "init": "identity", "return": "sequence"},
    {"type": "rnn", "hidden": 6, "init": "orthogonal"}, {"type": "linear", "out": 3}]
rnn_path = os.path.join(work, "rnn.json")
json.dump(rnn_cfg, open(rnn_path, "w"))
run("train", rnn_path, "--epochs", "1", "--checkpoint", "rnn.safetensors", *common)
run("export", "rnn.safetensors", "-o", "rnn.torch.safetensors")
rnn = torch.nn.Sequential(RNN(1, 8, "relu", True), RNN(8, 6, "tanh", False),
                          torch.nn.Linear(6, 3))
rnn.load_state_dict(read(os.path.join(work, "rnn.torch.safetensors")), strict=True)
d6 = check_logits(rnn, "rnn.safetensors", "rnn, slope -> torch")
print("torch round trip: strict load, weights back exactly, shape error named; logits differ by "
      f"{d1:.1e} (slope -> torch), {d2:.1e} (torch -> slope), {d3:.1e} and {d4:.1e} (batch norm), "
      f"{d5:.1e} (residual), {d6:.1e} (rnn)")
