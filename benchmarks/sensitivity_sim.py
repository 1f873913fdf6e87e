"""Validity of Rosenbaum bounds under a hidden confounder of known strength.

There is no treatment effect; an unobserved binary covariate u changes the odds of
treatment within matched sets by exactly Gamma_true and also moves the outcome, so a
naive test (Gamma = 1) finds an "effect".  Rosenbaum's theory says that the test at
Gamma = Gamma_true rejects the (true) null at most alpha of the time, i.e. that the
reported critical Gamma exceeds Gamma_true with probability at most alpha; and that in
the worst case (u decides the order of the outcomes within every set) the bound is
nearly attained.  Designs:

* ``pairs-worst``: pairs whose units differ in u; the u = 1 unit has the larger outcome
  (outcome 5 + N(0, 1) against N(0, 1)) and is treated with probability
  Gamma / (1 + Gamma): the extreme case of the sensitivity model;
* ``pairs-typical``: u ~ Bernoulli(1/2) for every unit, outcome u + N(0, 1);
* ``sets13-worst``: one u = 1 unit and three u = 0 units per set, treated with
  probability Gamma / (Gamma + 3);
* ``binary-worst``: pairs as ``pairs-worst`` with a 0/1 outcome (P = 0.9 for u = 1,
  0.1 for u = 0), tested by McNemar's exact bound;
* ``causalsm``: the whole pipeline.  Observed x (two binary covariates), hidden u ~
  Bernoulli(1/2), ``logit P(T = 1 | x, u) = -1.2 + 0.5 x1 - 0.5 x2 + log(Gamma) u``,
  ``Y = x1 + x2 + 2 u + N(0, 1)``, n = 2000; ``estimate_effect(..., exact=["x1", "x2"],
  replace=False)`` (1:1 within equal x, so the model holds within pairs with exactly
  Gamma_true) and ``EffectResult.sensitivity()``.

Each cell: the share of replications in which the one-sided (greater) test at level
0.05 rejects at Gamma = 1 and at Gamma = Gamma_true, and in which the critical Gamma
(root search) exceeds Gamma_true.

    PYTHONPATH=$PWD nice -n 10 python benchmarks/sensitivity_sim.py --reps 2000 --n-jobs 2
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from causalsm import sensitivity as sen

ALPHA = 0.05
GAMMAS = (1.0, 1.5, 2.0, 3.0)


def _pairs_worst(rng, n, g):
    treated_is_u1 = rng.random(n) < g / (1 + g)
    e = rng.normal(size=(n, 2))
    hi, lo = 5.0 + e[:, 0], e[:, 1]
    return np.where(treated_is_u1, hi - lo, lo - hi)


def _pairs_typical(rng, n, g):
    u = rng.binomial(1, 0.5, size=(n, 2))
    w = g ** u
    first_treated = rng.random(n) < w[:, 0] / w.sum(axis=1)
    y = u + rng.normal(size=(n, 2))
    return np.where(first_treated, y[:, 0] - y[:, 1], y[:, 1] - y[:, 0])


def _sets13_worst(rng, n, g):
    y = rng.normal(size=(n, 4))
    y[:, 0] += 5.0                                  # the u = 1 unit
    p = np.array([g, 1.0, 1.0, 1.0]) / (g + 3)
    who = np.array([rng.choice(4, p=p) for _ in range(n)])
    rows = np.arange(n)
    treated = y[rows, who]
    others = np.array([np.delete(y[i], who[i]) for i in range(n)])
    return np.column_stack([treated, others])


def _binary_worst(rng, n, g):
    treated_is_u1 = rng.random(n) < g / (1 + g)
    y_u1 = rng.random(n) < 0.9
    y_u0 = rng.random(n) < 0.1
    yt = np.where(treated_is_u1, y_u1, y_u0).astype(float)
    yc = np.where(treated_is_u1, y_u0, y_u1).astype(float)
    return np.column_stack([yt, yc])


SIMPLE = {"pairs-worst": (_pairs_worst, 200, "huber"),
          "pairs-worst-wilcoxon": (_pairs_worst, 200, "wilcoxon"),
          "pairs-typical": (_pairs_typical, 200, "huber"),
          "sets13-worst": (_sets13_worst, 200, "huber"),
          "binary-worst": (_binary_worst, 200, "mantel_haenszel")}


def _one_simple(design, g, seed):
    make, n, stat = SIMPLE[design]
    rng = np.random.default_rng(seed)
    data = make(rng, n, g)
    res = sen.rosenbaum_bounds(data, [1.0, g], statistic=stat, alternative="greater",
                               alpha=ALPHA)
    return res.p_upper[0] <= ALPHA, res.p_upper[1] <= ALPHA, res.critical_gamma


def _one_pipeline(g, seed):
    import warnings

    import causalsm as csm
    rng = np.random.default_rng(seed)
    n = 2000
    x1, x2, u = (rng.binomial(1, 0.5, n) for _ in range(3))
    lin = -1.2 + 0.5 * x1 - 0.5 * x2 + np.log(g) * u
    t = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    y = x1 + x2 + 2.0 * u + rng.normal(size=n)
    df = pd.DataFrame({"t": t, "y": y, "x1": x1, "x2": x2})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        eff = csm.estimate_effect(df, treatment="t", outcome="y", covariates=["x1", "x2"],
                                  exact=["x1", "x2"], replace=False)
    res = eff.sensitivity([1.0, g], alternative="greater", alpha=ALPHA)
    return res.p_upper[0] <= ALPHA, res.p_upper[1] <= ALPHA, res.critical_gamma


def run(reps: int, n_jobs: int, pipeline_reps: int) -> pd.DataFrame:
    rows = []
    ss = np.random.SeedSequence(20261204)
    for design in list(SIMPLE) + ["causalsm"]:
        r = pipeline_reps if design == "causalsm" else reps
        for g in GAMMAS:
            seeds = ss.spawn(r)
            start = time.perf_counter()
            if design == "causalsm":
                out = Parallel(n_jobs=n_jobs)(delayed(_one_pipeline)(g, s) for s in seeds)
            else:
                out = Parallel(n_jobs=n_jobs, batch_size=32)(
                    delayed(_one_simple)(design, g, s) for s in seeds)
            out = np.array(out, dtype=float)
            rows.append({"design": design, "gamma_true": g, "reps": r,
                         "reject_gamma1": out[:, 0].mean(), "reject_true_gamma": out[:, 1].mean(),
                         "critical_gt_true": (out[:, 2] > g).mean(),
                         "median_critical_gamma": float(np.median(out[:, 2])),
                         "mc_se": float(np.sqrt(ALPHA * (1 - ALPHA) / r)),
                         "seconds": time.perf_counter() - start})
            print(pd.DataFrame(rows[-1:]).to_string(index=False, header=len(rows) == 1,
                                                     float_format="%.4f"), flush=True)
    return pd.DataFrame(rows)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--pipeline-reps", type=int, default=500)
    ap.add_argument("--n-jobs", type=int, default=2)
    args = ap.parse_args()
    table = run(args.reps, args.n_jobs, args.pipeline_reps)
    print()
    cols = ["design", "gamma_true", "reps", "reject_gamma1", "reject_true_gamma",
            "critical_gt_true", "median_critical_gamma"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---|" * len(cols))
    for _, r in table.iterrows():
        print("| " + " | ".join(f"{r[c]:.3f}" if isinstance(r[c], float) else str(r[c])
                                for c in cols) + " |")


if __name__ == "__main__":
    main()
