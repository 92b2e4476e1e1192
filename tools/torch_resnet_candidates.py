# Trains candidate small ResNets for models/fashion_resnet.json in torch (10 epochs,
# crop 2 + flip 0.5, SGD nesterov cosine, wd 5e-4), to choose an architecture before a slope run:
#   /usr/bin/python3 tools/torch_resnet_candidates.py ARCH [seed] [key=value ...]
# ARCH: A, B (see below), C (A with a flatten head), D (C with an extra 32@14 block);
# keys: lr (0.05), batch (64), threads (2), ls (label smoothing, 0), epochs (10), wd (5e-4),
#       width (channel multiplier, 1.0), norm (1: standardize inputs, 0), erase (random erasing p, 0).
import gzip, sys, time, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
SEED = int(sys.argv[2]) if len(sys.argv) > 2 else 0
torch.manual_seed(SEED); np.random.seed(SEED)
opt_kv = dict(a.split("=") for a in sys.argv[3:])
def knob(k, d): return type(d)(opt_kv.get(k, d))
torch.set_num_threads(knob("threads", 2))
D = "/usr/share/datasets/fashion-mnist/"
def idx(p, off): return np.frombuffer(gzip.open(D + p).read(), np.uint8, offset=off)
xtr = torch.tensor(idx("train-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
ytr = torch.tensor(idx("train-labels-idx1-ubyte.gz", 8).astype(np.int64))
xte = torch.tensor(idx("t10k-images-idx3-ubyte.gz", 16).reshape(-1, 1, 28, 28) / 255.0, dtype=torch.float32)
yte = torch.tensor(idx("t10k-labels-idx1-ubyte.gz", 8).astype(np.int64))
A = 0.1
if knob("norm", 0):
    m, sd = xtr.mean().item(), xtr.std().item()
    xtr, xte = (xtr - m) / sd, (xte - m) / sd
W = knob("width", 1.0)
def ch(c): return int(round(c * W))
class Res(nn.Module):
    def __init__(s, cin, cout, stride):
        super().__init__()
        s.layers = nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1), nn.BatchNorm2d(cout), nn.LeakyReLU(A),
                                 nn.Conv2d(cout, cout, 3, 1, 1), nn.BatchNorm2d(cout))
        s.shortcut = nn.Conv2d(cin, cout, 1, stride) if (cin != cout or stride != 1) else None
    def forward(s, x):
        return s.layers(x) + (s.shortcut(x) if s.shortcut is not None else x)
arch = sys.argv[1] if len(sys.argv) > 1 else "A"
if arch == "A":
    c1, c2 = ch(32), ch(64)
    net = nn.Sequential(nn.Conv2d(1, c1, 3, 1, 1), nn.BatchNorm2d(c1), nn.LeakyReLU(A), nn.MaxPool2d(2),
                        Res(c1, c1, 1), nn.LeakyReLU(A), Res(c1, c2, 2), nn.LeakyReLU(A), Res(c2, c2, 1), nn.LeakyReLU(A),
                        nn.AvgPool2d(7), nn.Flatten(), nn.Linear(c2, 10))
elif arch in ("C", "D"):
    extra = [Res(32, 32, 1), nn.LeakyReLU(A)] if arch == "D" else []
    net = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.LeakyReLU(A), nn.MaxPool2d(2),
                        Res(32, 32, 1), nn.LeakyReLU(A), *extra, Res(32, 64, 2), nn.LeakyReLU(A),
                        Res(64, 64, 1), nn.LeakyReLU(A), nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 49, 10))
else:
    net = nn.Sequential(nn.Conv2d(1, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.LeakyReLU(A), nn.MaxPool2d(2),
                        Res(32, 64, 1), nn.LeakyReLU(A), Res(64, 128, 2), nn.LeakyReLU(A),
                        nn.AvgPool2d(7), nn.Flatten(), nn.Linear(128, 10))
E, B = knob("epochs", 10), knob("batch", 64)
opt = torch.optim.SGD(net.parameters(), lr=knob("lr", 0.05), momentum=0.9, weight_decay=knob("wd", 5e-4), nesterov=True)
steps = E * (len(xtr) // B)
sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
def aug(x):
    n = x.shape[0]
    p = F.pad(x, (2, 2, 2, 2))
    ox = torch.randint(0, 5, (n,)); oy = torch.randint(0, 5, (n,))
    out = torch.stack([p[i, :, oy[i]:oy[i] + 28, ox[i]:ox[i] + 28] for i in range(n)])
    flip = torch.rand(n) < 0.5
    out[flip] = out[flip].flip(3)
    pe = knob("erase", 0.0)
    for i in range(n) if pe > 0 else []:
        if torch.rand(1).item() >= pe: continue
        for _ in range(10):
            area = 784 * (0.02 + 0.31 * torch.rand(1).item())
            r = float(np.exp(np.log(0.3) + (np.log(1 / 0.3) - np.log(0.3)) * torch.rand(1).item()))
            h, w = int(round((area * r) ** 0.5)), int(round((area / r) ** 0.5))
            if h < 28 and w < 28:
                y0, x0 = np.random.randint(0, 28 - h + 1), np.random.randint(0, 28 - w + 1)
                out[i, :, y0:y0 + h, x0:x0 + w] = 0.0
                break
    return out
t0 = time.time()
for e in range(E):
    net.train(); perm = torch.randperm(len(xtr))
    for b in range(len(xtr) // B):
        i = perm[b * B:(b + 1) * B]
        loss = F.cross_entropy(net(aug(xtr[i])), ytr[i], label_smoothing=knob("ls", 0.0))
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
    net.eval()
    with torch.no_grad():
        acc = sum((net(xte[j:j + 1000]).argmax(1) == yte[j:j + 1000]).sum().item() for j in range(0, 10000, 1000)) / 100
    print(f"arch {arch} epoch {e+1} loss {loss.item():.3f} test {acc:.2f}% {time.time()-t0:.0f}s", flush=True)
