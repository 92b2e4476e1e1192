"""slope -> torch -> slope: export loads strictly into nn.Sequential, torch's changed weights
come back through `slope train --init-from` (lr 1e-20, so training leaves them as they are).
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
    return {k: torch.frombuffer(bytearray(d[v["data_offsets"][0]:v["data_offsets"][1]]),
                                dtype=torch.float32).reshape(v["shape"])
            for k, v in h.items() if k != "__metadata__"}

def write(path, sd):
    header, data = {}, b""
    for k, t in sd.items():
        raw = t.detach().contiguous().float().numpy().tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [len(data), len(data) + len(raw)]}
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
print("torch round trip: strict load, weights back exactly, shape error named")
