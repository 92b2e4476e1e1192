"""slope -> ONNX: `slope export --onnx` files pass onnx.checker and compute slope's logits.

For fashion_mlp, fashion_mlp_prelu, fashion_cnn (trained one epoch on 1,000 images) and a
small model with every exportable layer type and one with residual blocks (standardized
inputs), each exported file must
pass onnx.checker.check_model(full_check=True), and on 1,000 RAW test images (0..255, the
Fashion-MNIST test set when installed, else random bytes) its outputs must match slope's
within 1e-4 (slope's from `slope predict --logits`): OpenCV's DNN (cv2.dnn.readNetFromONNX)
for the three shipped models, and a numpy evaluation of the graph (written here from the
ONNX operator specs) for all five.
Exits 77 (ctest SKIP) without onnx, cv2 or numpy.

usage: onnx_roundtrip.py SLOPE SOURCE_DIR WORK_DIR"""
import gzip, json, math, os, struct, subprocess, sys

try:
    import cv2
    import numpy as np
    import onnx
    from onnx import numpy_helper
except ImportError as e:
    print(f"skipped: {e}")
    sys.exit(77)

slope, src, work = sys.argv[1:4]
os.makedirs(work, exist_ok=True)
FASHION = "/usr/share/datasets/fashion-mnist"
N_TRAIN, N_TEST, TOL = 1000, 1000, 1e-4


# ---- data: the first images of Fashion-MNIST, or random bytes -----------------------------

def read_idx(path, count):
    with gzip.open(path, "rb") as f:
        magic, = struct.unpack(">I", f.read(4))
        dims = struct.unpack(">" + "I" * (magic & 0xFF), f.read(4 * (magic & 0xFF)))
        per = int(np.prod(dims[1:])) if len(dims) > 1 else 1
        return np.frombuffer(f.read(count * per), np.uint8).reshape((count,) + tuple(dims[1:]))

def write_idx(path, a):
    with open(path, "wb") as f:
        f.write(struct.pack(">I", 0x0800 | a.ndim) + struct.pack(">" + "I" * a.ndim, *a.shape))
        f.write(np.ascontiguousarray(a, np.uint8).tobytes())

def data_files():
    if os.path.isdir(FASHION):
        g = lambda name, n: read_idx(os.path.join(FASHION, name), n)
        parts = {"train": (g("train-images-idx3-ubyte.gz", N_TRAIN), g("train-labels-idx1-ubyte.gz", N_TRAIN)),
                 "test": (g("t10k-images-idx3-ubyte.gz", N_TEST), g("t10k-labels-idx1-ubyte.gz", N_TEST))}
        print(f"data: the first images of {FASHION}")
    else:
        rng = np.random.default_rng(17)
        parts = {k: (rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8))
                 for k, n in (("train", N_TRAIN), ("test", N_TEST))}
        print("data: random bytes (Fashion-MNIST is not installed)")
    files = {}
    for split, (images, labels) in parts.items():
        files[split] = {"images": os.path.join(work, f"{split}-images.idx"),
                        "labels": os.path.join(work, f"{split}-labels.idx")}
        write_idx(files[split]["images"], images)
        write_idx(files[split]["labels"], labels)
    return files, parts["test"][0].reshape(N_TEST, 1, 28, 28).astype(np.float32)


# ---- the models ------------------------------------------------------------------------------

L = lambda t, **k: dict(type=t, **k)
EVERY_LAYER = [  # every layer type the export writes, with non-default settings
    L("conv2d", out=4, kernel=3, padding=1), L("batch_norm", eps=1e-3),
    L("prelu", num_parameters="channel", init=0.2), L("avg_pool2d", kernel=3, stride=2, padding=1),
    L("conv2d", out=6, kernel=3, stride=2, bias=False), L("elu", alpha=0.7),
    L("max_pool2d", kernel=2, padding=1), L("selu"), L("flatten"), L("linear", out=32),
    L("batch_norm"), L("gelu"), L("dropout", p=0.2), L("linear", out=24), L("sigmoid"),
    L("linear", out=24), L("tanh"), L("linear", out=16), L("rrelu", lower=0.05, upper=0.25),
    L("linear", out=16), L("relu"), L("linear", out=12), L("leaky_relu", alpha=0.1),
    L("prelu"), L("linear", out=10)]

RESIDUAL = [  # blocks: a downsampling conv projection with a nested identity block, a Gemm one
    L("conv2d", out=4, kernel=3, padding=1), L("relu"),
    L("residual", shortcut="projection", layers=[
        L("conv2d", out=8, kernel=3, stride=2, padding=1), L("batch_norm"), L("relu"),
        L("residual", layers=[L("conv2d", out=8, kernel=3, padding=1), L("leaky_relu")])]),
    L("relu"), L("max_pool2d", kernel=2), L("flatten"),
    L("residual", shortcut="projection", bias=False, layers=[L("linear", out=32), L("tanh")]),
    L("linear", out=10)]

RNN = {  # rnn layers (input [28, 28]: each image as 28 rows): ONNX RNN nodes, batch first
    "rnn_tanh": [L("rnn", hidden=16), L("linear", out=10)],
    "rnn_relu_sequence": [L("rnn", hidden=12, activation="relu", init="identity",
                            **{"return": "sequence"}), L("flatten"), L("linear", out=10)],
    "rnn_leaky": [L("rnn", hidden=8, activation="leaky_relu", alpha=0.2, bias=False,
                    init="orthogonal"), L("linear", out=10)]}

def config(name, files):
    if name in ("every_layer", "residual") or name in RNN:
        cfg = json.load(open(os.path.join(src, "models", "fashion_cnn.json")))
        cfg["name"] = "onnx-" + name
        cfg["model"]["layers"] = RNN.get(name) or (EVERY_LAYER if name == "every_layer" else RESIDUAL)
        if name in RNN:  # adam with clipping: an IRNN on standardized pixels diverges on sgd
            cfg["model"]["input"] = [28, 28]
            cfg["optimizer"] = {"type": "adam", "lr": 0.001, "clip_grad_norm": 1.0}
        normalize = "standardize"  # mean and std computed from the training images
    else:
        cfg = json.load(open(os.path.join(src, "models", name + ".json")))
        normalize = cfg["data"]["normalize"]
    cfg["data"] = {"train": files["train"], "test": files["test"], "classes": 10,
                   "normalize": normalize, "validation": 0.0}
    cfg["train"]["epochs"] = 1
    cfg["stats"] = {"enabled": False}
    path = os.path.join(work, name + ".json")
    json.dump(cfg, open(path, "w"), indent=1)
    return path


# ---- slope's logits: `slope predict` on the same raw test images -------------------------

def slope_logits(checkpoint, images_idx):
    out = os.path.join(work, "predict.csv")
    subprocess.run([slope, "predict", "--checkpoint", checkpoint, images_idx, "--logits", "-o",
                    out], check=True, stdout=subprocess.DEVNULL)
    rows = open(out).read().splitlines()[1:]  # index,class,logit0,...
    return np.array([[float(v) for v in r.split(",")[2:]] for r in rows], np.float32)


# ---- a numpy evaluation of the graph, from the operator specs (opset 13) -------------------

def windows(x, k, stride, pads, fill):
    x = np.pad(x, ((0, 0), (0, 0), (pads[0], pads[2]), (pads[1], pads[3])), constant_values=fill)
    w = np.lib.stride_tricks.sliding_window_view(x, tuple(k), axis=(2, 3))
    return w[:, :, ::stride[0], ::stride[1]]  # [N, C, OH, OW, kh, kw]

def run_numpy(model, x):
    env = {i.name: numpy_helper.to_array(i).astype(np.float64) for i in model.graph.initializer}
    env[model.graph.input[0].name] = x.astype(np.float64)
    for n in model.graph.node:
        a = {at.name: onnx.helper.get_attribute_value(at) for at in n.attribute}
        v = [env[i] for i in n.input]
        op, X = n.op_type, v[0]
        if op == "Gemm":
            y = X @ (v[1].T if a.get("transB") else v[1]) + (v[2] if len(v) > 2 else 0)
        elif op == "Conv":
            w = windows(X, a["kernel_shape"], a["strides"], a["pads"], 0.0)
            y = np.tensordot(w, v[1], axes=([1, 4, 5], [1, 2, 3])).transpose(0, 3, 1, 2)
            y = y + (v[2][None, :, None, None] if len(v) > 2 else 0)
        elif op == "MaxPool":
            y = windows(X, a["kernel_shape"], a["strides"], a["pads"], -np.inf).max(axis=(4, 5))
        elif op == "AveragePool":
            assert a.get("count_include_pad") == 1
            y = windows(X, a["kernel_shape"], a["strides"], a["pads"], 0.0).mean(axis=(4, 5))
        elif op == "Pad":  # mode constant, value 0
            assert a.get("mode", b"constant") == b"constant" and len(v) == 2
            p = v[1].astype(int)
            y = np.pad(X, list(zip(p[:X.ndim], p[X.ndim:])))
        elif op == "BatchNormalization":
            b = lambda t: t.reshape((1, -1) + (1,) * (X.ndim - 2))
            y = (X - b(v[3])) / np.sqrt(b(v[4]) + a["epsilon"]) * b(v[1]) + b(v[2])
        elif op == "RNN":  # layout 0 (time first), one direction, h_0 = 0
            W, R, H = v[1][0], v[2][0], a["hidden_size"]
            B = v[3][0] if len(v) > 3 else np.zeros(2 * H)
            f = {b"Tanh": np.tanh, b"Relu": lambda z: np.maximum(z, 0),
                 b"LeakyRelu": lambda z: np.where(z > 0, z, a["activation_alpha"][0] * z)}[
                     a.get("activations", [b"Tanh"])[0]]
            h, ys = np.zeros((X.shape[1], H)), []
            for t in range(X.shape[0]):
                h = f(X[t] @ W.T + B[:H] + h @ R.T + B[H:])
                ys.append(h)
            y = np.stack(ys)[:, None]
        elif op == "Transpose":
            y = X.transpose(a["perm"])
        elif op == "Gather":
            y = np.take(X, v[1].astype(int), axis=a.get("axis", 0))
        elif op == "Squeeze":
            y = np.squeeze(X, axis=tuple(v[1].astype(int)))
        else:
            y = {"Flatten": lambda: X.reshape(len(X), -1), "Identity": lambda: X,
                 "Mul": lambda: X * v[1], "Add": lambda: X + v[1], "Relu": lambda: np.maximum(X, 0),
                 "LeakyRelu": lambda: np.where(X > 0, X, a["alpha"] * X),
                 "PRelu": lambda: np.where(X > 0, X, v[1] * X),
                 "Elu": lambda: np.where(X > 0, X, a["alpha"] * np.expm1(X)),
                 "Selu": lambda: a["gamma"] * np.where(X > 0, X, a["alpha"] * np.expm1(X)),
                 "Sigmoid": lambda: 1 / (1 + np.exp(-X)), "Tanh": lambda: np.tanh(X),
                 "Erf": lambda: np.vectorize(math.erf)(X)}[op]()
        env[n.output[0]] = y
    return env[model.graph.output[0].name]


# ---- the check ---------------------------------------------------------------------------------

def compare(what, got, want):
    diff = float(np.abs(got.reshape(want.shape) - want).max())
    assert diff <= TOL, f"{what}: max |difference| {diff:.3g} > {TOL}"
    return diff

def check(name, files, x, need_cv2):
    cfg = config(name, files)
    ckpt, path = os.path.join(work, name + ".safetensors"), os.path.join(work, name + ".onnx")
    subprocess.run([slope, "train", cfg, "--quiet", "--checkpoint", ckpt], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run([slope, "export", ckpt, "--onnx", path], check=True, stdout=subprocess.DEVNULL)
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    want = slope_logits(ckpt, files["test"]["images"])
    ref = compare(f"{name}: numpy", run_numpy(model, x), want)
    try:
        net = cv2.dnn.readNetFromONNX(path)
        net.setInput(x)
        got = net.forward()
    except cv2.error as e:
        if need_cv2:
            raise
        print(f"{name}: OpenCV {cv2.__version__} cannot run it ({str(e).strip().splitlines()[-1][:120]}); "
              "checked with numpy only")
        got = None
    ops = sorted({n.op_type for n in model.graph.node})
    cv = f", OpenCV {compare(name + ': OpenCV', got, want):.2g}" if got is not None else ""
    print(f"{name}: {len(x)} inputs, max |logit difference| numpy {ref:.2g}{cv}; ops {' '.join(ops)}")

def check_cli():
    ckpt = os.path.join(work, "fashion_mlp.safetensors")
    cli = lambda *a: subprocess.run([slope, "export", ckpt, *a], capture_output=True, text=True)
    r = cli()
    assert r.returncode == 2 and "give -o FILE or --onnx FILE" in r.stderr, r
    r = cli("--onnx", os.path.join(work, "no-such-dir", "m.onnx"))
    assert r.returncode == 5 and "no-such-dir" in r.stderr, r
    both = [os.path.join(work, "both." + e) for e in ("safetensors", "onnx")]
    r = cli("-o", both[0], "--onnx", both[1])
    assert r.returncode == 0 and all(os.path.exists(p) for p in both), r
    onnx.checker.check_model(onnx.load(both[1]), full_check=True)

files, x = data_files()
for name in ("fashion_mlp", "fashion_mlp_prelu", "fashion_cnn"):
    check(name, files, x, need_cv2=True)
check("every_layer", files, x, need_cv2=False)
check("residual", files, x, need_cv2=False)
for name in RNN:
    check(name, files, x.reshape(len(x), 28, 28), need_cv2=False)
check_cli()
print("onnx round trip: checker passes, OpenCV and numpy give slope's logits")
