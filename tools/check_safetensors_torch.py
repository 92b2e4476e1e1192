#!/usr/bin/env python3
"""A manual cross-check of slope's safetensors files against PyTorch (not run in CI).

    check_safetensors_torch.py write OUT    write seeded torch tensors to OUT
    check_safetensors_torch.py read FILE..  load files (e.g. written by slope) into torch

The format code here is plain Python (struct + json), independent of slope's C
code and of the `safetensors` package; torch only supplies and receives the
tensors.  `read` checks the layout strictly (offsets contiguous from 0 and
covering the data section, sizes matching shapes, dtype F32) and prints, per
tensor, its name, shape, sum and first values, so the numbers can be compared
with what the C side wrote or read.
"""
import json
import struct
import sys

import torch


def parse(path):
    """Returns ({name: tensor} in header order, metadata) or raises ValueError."""
    with open(path, "rb") as f:
        blob = f.read()
    if len(blob) < 8:
        raise ValueError("shorter than 8 bytes")
    (n,) = struct.unpack("<Q", blob[:8])
    if n > len(blob) - 8:
        raise ValueError("header length %d beyond the file" % n)
    header = json.loads(blob[8:8 + n].decode("utf-8"))
    data = blob[8 + n:]
    metadata = header.pop("__metadata__", {})
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1], name)
                   for name, e in header.items())
    expect = 0
    for begin, end, name in spans:
        if begin != expect:
            raise ValueError("%s: offsets not contiguous" % name)
        expect = end
    if expect != len(data):
        raise ValueError("offsets cover %d of %d data bytes" % (expect, len(data)))
    tensors = {}
    for name, e in header.items():
        if e["dtype"] != "F32":
            raise ValueError("%s: dtype %s" % (name, e["dtype"]))
        begin, end = e["data_offsets"]
        count = 1
        for d in e["shape"]:
            count *= d
        if end - begin != 4 * count:
            raise ValueError("%s: offsets do not match shape" % name)
        raw = bytearray(data[begin:end])  # frombuffer wants a writable buffer
        t = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
        if sys.byteorder != "little":
            t = t.byteswap()
        tensors[name] = t.reshape(e["shape"]).clone()
    return tensors, metadata


def write(path, tensors, metadata):
    header, chunks, offset = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name, t in tensors.items():
        raw = t.detach().to(torch.float32).contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * ((-(8 + len(text))) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def describe(name, t):
    flat = t.reshape(-1)
    first = ", ".join("%.9g" % v for v in flat[:4].tolist())
    print("%-24s %-16s sum %.9g  first [%s]" % (name, list(t.shape), float(t.sum()), first))


def main(argv):
    if len(argv) >= 3 and argv[1] == "write":
        torch.manual_seed(0)
        tensors = {"fc1.weight": torch.randn(16, 8), "fc1.bias": torch.randn(16),
                   "conv.weight": torch.randn(4, 3, 3, 3),
                   "transposed": torch.randn(5, 7).t(),  # non-contiguous on purpose
                   "prelu.weight": torch.tensor(0.25)}   # a scalar: slope reads [1]
        write(argv[2], tensors, {"format": "pt", "writer": "check_safetensors_torch.py"})
        for name, t in tensors.items():
            describe(name, t)
        return 0
    if len(argv) >= 3 and argv[1] == "read":
        for path in argv[2:]:
            tensors, metadata = parse(path)
            print("%s: %d tensors, metadata %s" % (path, len(tensors), metadata))
            for name, t in tensors.items():
                describe(name, t)
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
