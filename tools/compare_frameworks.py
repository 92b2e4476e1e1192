#!/usr/bin/python3
"""compare_frameworks.py - two seeds.csv files side by side (issue #16).

    /usr/bin/python3 tools/compare_frameworks.py A.csv B.csv [--names A,B]
    /usr/bin/python3 tools/compare_frameworks.py --self-test

A and B are seeds.csv files (columns act,seed,layer,units,dead_frac,sparsity,
test_acc,diverged), e.g. slope's from `slope compare ... --seeds N` and
PyTorch's from tools/torch_dying.py.  Prints a markdown table with one line
per activation label and activation layer:

  - runs in each file, how many diverged, and Fisher's exact test (two-sided)
    of the 2x2 table diverged/finished x A/B: a small p says the divergence
    rates differ by more than chance;
  - the mean (and standard deviation) of dead_frac over the finished runs of
    each, Welch's t for the difference and its two-sided p;
  - the mean test accuracy over the finished runs of each.

Standard library only (no numpy or scipy): Fisher's p from exact integer
hypergeometric terms, Student's t distribution from the regularised
incomplete beta function (a continued fraction) and math.lgamma.
--self-test checks those against textbook values.
"""
import argparse
import csv
import math
import sys

COLUMNS = ["act", "seed", "layer", "units", "dead_frac", "sparsity", "test_acc", "diverged"]

# ---- statistics ------------------------------------------------------------------------


def fisher_two_sided(a, b, c, d):
    """Two-sided p of Fisher's exact test for [[a, b], [c, d]]: the total probability of
    the tables with the same margins that are at most as likely as this one."""
    r1, r2, k = a + b, c + d, a + c
    lo, hi = max(0, k - r2), min(k, r1)
    # Weights C(r1, x) C(r2, k - x) are exact integers: compare them exactly, with R's
    # relative tolerance so that ties computed in floating point elsewhere still count.
    weights = {x: math.comb(r1, x) * math.comb(r2, k - x) for x in range(lo, hi + 1)}
    observed = weights[a]
    total = sum(weights.values())
    tail = sum(w for w in weights.values() if w <= observed * (1 + 1e-7))
    return min(1.0, tail / total)


def _beta_cf(a, b, x):
    """The continued fraction of the incomplete beta function (modified Lentz)."""
    tiny, eps = 1e-300, 1e-15
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 1000):
        for num in (m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
                    -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1))):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + num / c
            c = c if abs(c) > tiny else tiny
            h *= d * c
        if abs(d * c - 1.0) < eps:
            break
    return h


def betainc(a, b, x):
    """The regularised incomplete beta function I_x(a, b), 0 <= x <= 1."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
                     + a * math.log(x) + b * math.log1p(-x))
    # The fraction converges fast below the mean of the beta distribution; use symmetry above.
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _beta_cf(a, b, x) / a
    return 1.0 - front * _beta_cf(b, a, 1.0 - x) / b


def t_two_sided(t, df):
    """P(|T| >= |t|) for Student's t with df degrees of freedom (df > 0, may be fractional)."""
    if math.isinf(t):
        return 0.0
    return betainc(df / 2.0, 0.5, df / (df + t * t))


def mean_sd(xs):
    n = len(xs)
    m = sum(xs) / n
    var = sum((x - m) ** 2 for x in xs) / (n - 1) if n > 1 else math.nan
    return m, var


def welch(xs, ys):
    """(t, df, two-sided p) of Welch's unequal-variance t test, or None with < 2 in either."""
    if len(xs) < 2 or len(ys) < 2:
        return None
    mx, vx = mean_sd(xs)
    my, vy = mean_sd(ys)
    sx, sy = vx / len(xs), vy / len(ys)
    se2 = sx + sy
    if se2 == 0.0:
        # Both samples constant: no spread to judge by, equal means are no evidence of a
        # difference, different ones are all evidence.
        return (0.0, math.nan, 1.0) if mx == my else (math.copysign(math.inf, mx - my),
                                                      math.nan, 0.0)
    t = (mx - my) / math.sqrt(se2)
    df = se2 * se2 / (sx * sx / (len(xs) - 1) + sy * sy / (len(ys) - 1))
    return t, df, t_two_sided(t, df)


def self_test():
    checks = [
        ("Fisher [[3,1],[1,3]] (tea tasting)", fisher_two_sided(3, 1, 1, 3), 34 / 70),
        ("Fisher [[1,9],[11,3]]", fisher_two_sided(1, 9, 11, 3), 0.0027594561852200836),
        ("Fisher [[0,10],[0,10]]", fisher_two_sided(0, 10, 0, 10), 1.0),
        ("Fisher [[10,0],[0,10]]", fisher_two_sided(10, 0, 0, 10), 2 / math.comb(20, 10)),
        ("t df=1 t=1 (Cauchy)", t_two_sided(1.0, 1.0), 0.5),
        ("t df=2 t=2", t_two_sided(2.0, 2.0), 1.0 - 2.0 / math.sqrt(6.0)),
        ("t df=10 t=2.228138852", t_two_sided(2.228138852, 10.0), 0.05),
        ("t df=30 t=0", t_two_sided(0.0, 30.0), 1.0),
        ("t df=1e6 t=1.959963985 (normal)", t_two_sided(1.959963985, 1e6), 0.05),
        ("I_0.3(2,3)", betainc(2.0, 3.0, 0.3), 0.3483),
    ]
    # Welch by hand: xs mean 2, var 1 (n 3); ys mean 5, var 4 (n 3): se2 = 5/3, t = -3/sqrt(5/3),
    # df = (5/3)^2 / ((1/3)^2/2 + (4/3)^2/2) = 50/17.
    t, df, p = welch([1.0, 2.0, 3.0], [3.0, 5.0, 7.0])
    checks += [("Welch t", t, -3.0 / math.sqrt(5.0 / 3.0)), ("Welch df", df, 50.0 / 17.0),
               ("Welch p", p, t_two_sided(t, 50.0 / 17.0))]
    bad = 0
    for name, got, want in checks:
        ok = abs(got - want) <= 1e-6 * max(1.0, abs(want))
        bad += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {got:.10g} (expected {want:.10g})")
    return 1 if bad else 0


# ---- the files ---------------------------------------------------------------------------


def read_seeds(path):
    """{(act, layer): {"runs": set of seeds, "diverged": n, "dead": [...], "acc": [...],
    "units": set}} and the act labels in file order."""
    groups, order = {}, []
    with open(path, newline="") as f:
        rows = csv.DictReader(f)
        missing = [c for c in COLUMNS if c not in (rows.fieldnames or [])]
        if missing:
            raise SystemExit(f"{path}: no column(s) {', '.join(missing)}")
        for n, r in enumerate(rows, start=2):
            try:
                key = (r["act"], int(r["layer"]))
                div = int(r["diverged"])
                g = groups.setdefault(key, {"runs": set(), "diverged": 0, "dead": [],
                                            "acc": [], "units": set()})
                if r["act"] not in order:
                    order.append(r["act"])
                if r["seed"] in g["runs"]:
                    raise ValueError(f"seed {r['seed']} twice")
                g["runs"].add(r["seed"])
                g["units"].add(r["units"])
                if div:
                    g["diverged"] += 1
                    continue
                g["dead"].append(float(r["dead_frac"]))
                if r["test_acc"] != "":
                    g["acc"].append(float(r["test_acc"]))
            except (ValueError, TypeError) as e:
                raise SystemExit(f"{path}:{n}: {e}")
    return groups, order


def pct(xs):
    if not xs:
        return "-"
    m, var = mean_sd(xs)
    return f"{100 * m:.1f}" + (f" ± {100 * math.sqrt(var):.1f}" if len(xs) > 1 else "")


def pval(p):
    return "-" if p is None else (f"{p:.3g}" if p >= 1e-4 else f"{p:.1e}")


def table(a, b, names):
    (ga, oa), (gb, ob) = a, b
    na, nb = names
    acts = oa + [x for x in ob if x not in oa]
    print(f"| act | layer | runs {na} | runs {nb} | diverged {na} | diverged {nb} | Fisher p "
          f"| dead % {na} | dead % {nb} | Welch t | p | test acc % {na} | test acc % {nb} |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    empty = {"runs": set(), "diverged": 0, "dead": [], "acc": [], "units": set()}
    notes = []
    for act in acts:
        layers = sorted({l for (x, l) in list(ga) + list(gb) if x == act})
        for layer in layers:
            x, y = ga.get((act, layer), empty), gb.get((act, layer), empty)
            if x["units"] and y["units"] and x["units"] != y["units"]:
                notes.append(f"{act} layer {layer}: units {sorted(x['units'])} in {na}, "
                             f"{sorted(y['units'])} in {nb}")
            ra, rb = len(x["runs"]), len(y["runs"])
            fisher = None
            if ra and rb:
                fisher = fisher_two_sided(x["diverged"], ra - x["diverged"],
                                          y["diverged"], rb - y["diverged"])
            w = welch(x["dead"], y["dead"])
            acc_a = f"{100 * sum(x['acc']) / len(x['acc']):.2f}" if x["acc"] else "-"
            acc_b = f"{100 * sum(y['acc']) / len(y['acc']):.2f}" if y["acc"] else "-"
            print(f"| {act} | {layer} | {ra} | {rb} | {x['diverged']} | {y['diverged']} | "
                  f"{pval(fisher)} | {pct(x['dead'])} | {pct(y['dead'])} | "
                  f"{'-' if w is None else f'{w[0]:.2f}'} | {pval(None if w is None else w[2])} "
                  f"| {acc_a} | {acc_b} |")
    print()
    print(f"dead %: mean ± sd over the finished runs; Fisher p: two-sided, diverged vs finished "
          f"x {na} vs {nb}; Welch t: ({na} - {nb}) / se, two-sided p.")
    for n in notes:
        print(f"warning: {n}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("a", nargs="?")
    ap.add_argument("b", nargs="?")
    ap.add_argument("--names", default="A,B", help="column names of the two files (A,B)")
    ap.add_argument("--self-test", action="store_true", help="check the statistics and exit")
    args = ap.parse_args()
    if args.self_test:
        sys.exit(self_test())
    if not args.a or not args.b:
        ap.error("two seeds.csv files needed")
    names = args.names.split(",")
    if len(names) != 2 or not all(names):
        ap.error("--names takes two names: A,B")
    print(f"{names[0]} = {args.a}, {names[1]} = {args.b}\n")
    table(read_seeds(args.a), read_seeds(args.b), names)


if __name__ == "__main__":
    main()
