#!/usr/bin/env python3
"""loss_drift.py SLOPE_OUT TORCH_OUT: where two loss curves from identical weights part.

Reads the RESULT line that tools/bench_train (slope) and tools/bench_torch.py (PyTorch)
print, each run with --warmup 1 --epochs 0 --loss-every 1 --no-dropout and the same
--init file, and prints the first step at which the relative difference of the two losses
exceeds 1e-5, 1e-4, 1e-3, 1e-2 and 1e-1 (the README's chaos figures).  slope prints its
losses with 6 significant digits, so agreement below ~1e-6 is not resolved.
"""
import json
import sys


def losses(path):
    for line in open(path):
        if "RESULT" in line:
            return json.loads(line.split("RESULT", 1)[1])["losses"]
    raise SystemExit(f"{path}: no RESULT line")


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    a, b = losses(sys.argv[1]), losses(sys.argv[2])
    n = min(len(a), len(b))
    print(f"{n} steps compared")
    for threshold in (1e-5, 1e-4, 1e-3, 1e-2, 1e-1):
        step = next((s + 1 for s in range(n) if abs(a[s] - b[s]) > threshold * abs(b[s])), None)
        print(f"relative difference > {threshold:g}: " + (f"first at step {step}" if step
                                                            else "never"))


if __name__ == "__main__":
    main()
