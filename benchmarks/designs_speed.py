"""Speed of the MatchIt-style designs against R's MatchIt 4.5.1 + optmatch 0.10.8.

Full matching at n = 10^3 and 10^4 (the whole treated x control distance matrix, as
MatchIt builds it) and at 10^5 with a caliper on the score (no one can hold the
10^9-entry matrix there); subclassification and coarsened exact matching at 10^6.
One run per size (the R side runs once too); ratio = R seconds / causalsm seconds.

Data (seeded): n units, five N(0, 1) covariates, a treatment drawn from a logistic
model with about 30% treated; the score is the true propensity score (probability
scale), handed to both sides.  Only the matching call is timed (``time.perf_counter``
around ``full_match`` / ``subclassify`` / ``cem_match``; ``proc.time()`` around
``matchit()``).  Peak memory of the Python process is reported (``ru_maxrss``).

Run from the repository root::

    PYTHONPATH=$PWD python benchmarks/designs_speed.py              # everything (~30 min)
    PYTHONPATH=$PWD python benchmarks/designs_speed.py --quick      # 10^3 and 10^4 only
    PYTHONPATH=$PWD python benchmarks/designs_speed.py --no-r       # causalsm only
    PYTHONPATH=$PWD python benchmarks/designs_speed.py --full-sizes 1000 10000   # no caliper case
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from causalsm.matching import cem_match, full_match, subclassify
from causalsm.matching.flow import resolve_solver

HERE = Path(__file__).resolve().parent


def simulate(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 5))
    lin = -1.0 + X @ np.array([0.6, -0.4, 0.3, 0.2, -0.2])
    ps = 1 / (1 + np.exp(-lin))
    t = (rng.random(n) < ps).astype(int)
    out = pd.DataFrame(X, columns=[f"x{j}" for j in range(1, 6)])
    out.insert(0, "score", ps)
    out.insert(0, "treat", t)
    return out


def _memory() -> float:
    """Bytes of physical memory."""
    return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))


def peak_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20


def run_r(what: str, d: pd.DataFrame, *extra, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "d.csv")
        d.to_csv(path, index=False, float_format="%.17g")
        try:
            out = subprocess.run(["Rscript", str(HERE / "designs_speed.R"), what, path,
                                  *map(str, extra)], capture_output=True, text=True,
                                 timeout=timeout)
        except subprocess.TimeoutExpired:
            return {"status": f"stopped after {timeout:.0f} s"}
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("elapsed=")]
    if not lines:
        return {"status": f"failed (exit {out.returncode}): "
                          + " ".join(out.stderr.split())[-200:]}
    return {k: float(v) for k, v in (kv.split("=") for kv in lines[-1].split())}


def timed(fn):
    start = time.perf_counter()
    res = fn()
    return res, time.perf_counter() - start


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--no-r", action="store_true")
    ap.add_argument("--r-timeout", type=float, default=1800.0)
    ap.add_argument("--highs-max", type=int, default=1000,
                    help="largest n also timed with the HiGHS solver")
    ap.add_argument("--only-caliper", action="store_true",
                    help="only full matching at 10^5 with the caliper")
    ap.add_argument("--full-sizes", type=int, nargs="*", default=None,
                    help="sizes of dense full matching (default 1000 10000, then the "
                         "caliper case at 10^5 unless --quick); none: skip")
    args = ap.parse_args(argv)
    rows = []

    def add(design, n, who, seconds, **info):
        rows.append({"design": design, "n": n, "who": who, "seconds": seconds, **info})
        shown = seconds if seconds is None else round(seconds, 3)
        print(f"{design:>9} n={n:>9,} {who:<22} {shown} {info}", flush=True)

    full_cases = [(1000, None), (10000, None)] + ([] if args.quick else [(100000, 0.002)])
    if args.full_sizes is not None:
        full_cases = [(n, None) for n in args.full_sizes]
    if args.only_caliper:
        full_cases = [(100000, 0.002)]
    for n, cal in full_cases:
        d = simulate(n)
        kw = {} if cal is None else {"caliper": cal, "caliper_units": "raw"}
        solvers = [resolve_solver("auto")] + (["highs"] if n <= args.highs_max
                                              and resolve_solver("auto") != "highs" else [])
        for solver in solvers:
            m, sec = timed(lambda: full_match(d["score"].to_numpy(), d["treat"].to_numpy(),
                                              standardize=False, solver=solver, **kw))
            add("full", n, f"causalsm ({solver})", sec,
                total_distance=round(m.info["total_distance"], 9),
                n_subclasses=m.info["n_subclasses"], peak_gb=round(peak_gb(), 2),
                caliper=cal)
        if not args.no_r:
            if n * n / 4 * 8 * 3 < 0.5 * _memory():
                r = run_r("full", d, *([] if cal is None else [cal]),
                          timeout=args.r_timeout)
            else:       # MatchIt would build the dense n1 x n0 matrix before the caliper
                r = {"status": f"not run: MatchIt's dense {n * n / 4 * 8 / 2 ** 30:.0f} GB "
                               "distance matrix exceeds this machine's memory"}
            add("full", n, "MatchIt + optmatch", r.get("elapsed"),
                total_distance=r.get("total_distance"), n_subclasses=r.get("n_subclasses"),
                status=r.get("status", "ok"), caliper=cal)
            if cal is not None:            # optmatch alone, with a sparse caliper
                r = run_r("optmatch", d, cal, timeout=args.r_timeout)
                add("full", n, "optmatch (sparse)", r.get("elapsed"),
                    total_distance=r.get("total_distance"),
                    n_subclasses=r.get("n_subclasses"), status=r.get("status", "ok"),
                    caliper=cal)
    sizes = [] if args.only_caliper else [10 ** 5] if args.quick else [10 ** 6]
    for n in sizes:
        d = simulate(n)
        m, sec = timed(lambda: subclassify(d["score"].to_numpy(), d["treat"].to_numpy()))
        add("subclass", n, "causalsm", sec, n_subclasses=m.info["n_subclasses"])
        if not args.no_r:
            r = run_r("subclass", d, timeout=args.r_timeout)
            add("subclass", n, "MatchIt", r.get("elapsed"), n_subclasses=r.get("n_subclasses"),
                status=r.get("status", "ok"))
        X = d[[f"x{j}" for j in range(1, 6)]]
        m, sec = timed(lambda: cem_match(X, d["treat"].to_numpy()))
        add("cem", n, "causalsm", sec, n_subclasses=m.info["n_subclasses"],
            n_matched=int((m.subclass > 0).sum()))
        if not args.no_r:
            r = run_r("cem", d, timeout=args.r_timeout)
            add("cem", n, "MatchIt", r.get("elapsed"), n_subclasses=r.get("n_subclasses"),
                n_matched=r.get("n_matched"), status=r.get("status", "ok"))
    table = pd.DataFrame(rows)
    print()
    print(table.to_string(index=False))


if __name__ == "__main__":
    sys.exit(main())
