"""Treatments with several levels: bias and 95% coverage of every contrast.

Designs (``causalsm.datasets.simulate_multilevel``), n = 1000 units per replication:

* ``yang2016``: the law of R's ``multilevelMatching`` ``simulated_data`` (Yang et al.
  2016), 3 levels, random sampling, level shifts (0, 1, 3): the true contrasts are
  ``E[Y(2) - Y(1)] = 1``, ``E[Y(3) - Y(1)] = 3``, ``E[Y(3) - Y(2)] = 2``.  The true GPS has
  squares of X1, X2, X3 in it: the default multinomial logit (linear in X) is
  misspecified; ``gps_correct`` fits it on (X, X1^2, X2^2, X3^2), the true model.
* ``four_levels``: 4 levels, GPS multinomial-logit and linear in X (correctly
  specified by the default), limited overlap (about one unit in six has a GPS below
  0.0125 for some level; the smallest are around 1e-5), heterogeneous and nonlinear
  outcome models; true contrasts 1, 2, 3, 1, 2, 1.

Methods (``MultilevelMatching``, M = 1, J = 1, ties kept, all pairwise contrasts):

* ``gps``: the multinomial logistic GPS, level w matched on r(w, X); intervals from the
  AI (2016)-adjusted variance (``ai2016``) and from AI (2006) (``ai2006``);
* ``gps_correct`` (yang2016): the same with the correctly specified GPS;
* ``gps_trim`` (four_levels): trimming by Crump et al.'s rule (the GPS refitted on the kept
  units); its truth is the average of mu_a(X) - mu_b(X) over the kept units;
* ``nsm``: the neural balancing score with its defaults (an ensemble of five networks with
  softmax heads; without an outcome it is matched on the ensemble's averaged log-ratios of
  the level probabilities, K - 1 columns, as a whole), bias-corrected, AI (2006) variance
  with the networks held fixed;
* ``nn_gps``: the GPS of the same ensemble, per level, AI (2006);
* ``mahalanobis``: Mahalanobis covariate matching, bias-corrected, AI (2006);
* ``subclass``: subclassification on the multinomial logistic GPS (5 per level), SE from
  100 bootstrap replicates that refit the GPS.

Usage::

    nice -n 10 python benchmarks/multilevel_sim.py --reps 500 --jobs 2 --out sim.csv
    python benchmarks/multilevel_sim.py --reps 10 --jobs 1          # a quick look

Prints one markdown table per design: for each method and contrast the bias, SD, RMSE,
mean SE / SD and 95% coverage (of each variance the method has).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from causalsm import (CovariateScore, MultilevelMatching,  # noqa: E402
                      MultilevelSubclassification)
from causalsm.datasets import simulate_multilevel  # noqa: E402

Z = 1.959963984540054


def _rows(design, rep, method, eff, truth_pop, cate, extra_se=None):
    out = []
    for j, (a, b) in enumerate(zip(eff.level, eff.reference)):
        row = {"design": design, "rep": rep, "method": method, "contrast": eff.contrast[j],
               "estimate": eff.estimate[j], "se": eff.std_error[j],
               "truth": truth_pop[a] - truth_pop[b], "cate": cate[(a, b)],
               "n_used": eff.n_matched}
        if "var_ai2006" in eff.details:
            row["se_ai2006"] = float(np.sqrt(eff.details["var_ai2006"][j]))
        out.append(row)
    return out


def one_rep(design: str, rep: int, seed: np.random.SeedSequence, n: int, nsm: bool,
            subclass_boot: int) -> list[dict]:
    from causalsm.comparison import _trained
    df = simulate_multilevel(n, design, random_state=np.random.default_rng(seed))
    cov = df.attrs["covariates"]
    X = df[cov].to_numpy()
    w = df["w"].to_numpy()
    y = df["y"].to_numpy()
    levels = list(df.attrs["true_means"])
    truth = df.attrs["true_means"]
    mu = {lev: df[f"mu_{lev}"].to_numpy() for lev in levels}

    def cate(mask):
        return {(a, b): float((mu[a] - mu[b])[mask].mean()) for a in levels for b in levels}

    every = cate(np.ones(n, dtype=bool))
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MultilevelMatching().fit(X, w, y)
        rows += _rows(design, rep, "gps", est.effect_, truth, every)
        if design == "yang2016":
            Xq = np.column_stack([X, X[:, :3] ** 2])
            est = MultilevelMatching().fit(Xq, w, y)
            rows += _rows(design, rep, "gps_correct", est.effect_, truth, every)
        else:
            est = MultilevelMatching(trim="crump").fit(X, w, y)
            rows += _rows(design, rep, "gps_trim", est.effect_, truth, cate(est.kept_))
        est = MultilevelMatching(CovariateScore(scale="mahalanobis")).fit(X, w, y)
        rows += _rows(design, rep, "mahalanobis", est.effect_, truth, every)
        if subclass_boot:
            est = MultilevelSubclassification(n_bootstrap=subclass_boot,
                                              random_state=rep).fit(X, w, y)
            rows += _rows(design, rep, "subclass", est.effect_, truth, every)
        if nsm:
            from causalsm.scores.neural import NeuralBalancingScore
            net = NeuralBalancingScore(random_state=rep).fit(X, w)
            est = MultilevelMatching(_trained(net, "auto")).fit(X, w, y)
            rows += _rows(design, rep, "nsm", est.effect_, truth, every)
            est = MultilevelMatching(_trained(net, "propensity"),
                                     score_by_level=True).fit(X, w, y)
            rows += _rows(design, rep, "nn_gps", est.effect_, truth, every)
    return rows


def summarise(res: pd.DataFrame) -> pd.DataFrame:
    out = []
    for (design, method, contrast), g in res.groupby(["design", "method", "contrast"],
                                                     sort=False):
        t = g["cate"] if method == "gps_trim" else g["truth"]
        err = g["estimate"] - t
        sd = g["estimate"].std(ddof=1)
        row = {"design": design, "method": method, "contrast": contrast, "reps": len(g),
               "truth": float(t.mean()), "bias": float(err.mean()), "sd": float(sd),
               "rmse": float(np.sqrt((err ** 2).mean())),
               "se/sd": float(g["se"].mean() / sd),
               "cover": float((err.abs() <= Z * g["se"]).mean())}
        if "se_ai2006" in g and g["se_ai2006"].notna().all() and \
                not np.allclose(g["se_ai2006"], g["se"]):
            row["cover_ai2006"] = float((err.abs() <= Z * g["se_ai2006"]).mean())
            row["se_ai2006/sd"] = float(g["se_ai2006"].mean() / sd)
        out.append(row)
    return pd.DataFrame(out)


def markdown(summary: pd.DataFrame, design: str) -> str:
    lines = ["| method | contrast | truth | bias | SD | RMSE | SE/SD | coverage | "
             "AI06 SE/SD | AI06 coverage |", "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in summary[summary["design"] == design].to_dict("records"):
        ai, ai_sd = r.get("cover_ai2006", np.nan), r.get("se_ai2006/sd", np.nan)
        has_ai = isinstance(ai, float) and np.isfinite(ai)
        lines.append(f"| {r['method']} | {r['contrast']} | {r['truth']:.3f} | "
                     f"{r['bias']:+.3f} | {r['sd']:.3f} | {r['rmse']:.3f} | "
                     f"{r['se/sd']:.2f} | {r['cover']:.3f} | "
                     + (f"{ai_sd:.2f} | {ai:.3f} |" if has_ai else " | |"))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--designs", nargs="+", default=["yang2016", "four_levels"])
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-nsm", action="store_true")
    ap.add_argument("--subclass-bootstrap", type=int, default=100)
    ap.add_argument("--seed", type=int, default=2016)
    ap.add_argument("--out", help="write the per-replication rows to this CSV")
    args = ap.parse_args(argv)
    start = time.time()
    seeds = np.random.SeedSequence(args.seed).spawn(len(args.designs))
    tasks = [(d, r, s) for d, sd in zip(args.designs, seeds)
             for r, s in enumerate(sd.spawn(args.reps))]
    chunks = Parallel(n_jobs=args.jobs, verbose=0)(
        delayed(one_rep)(d, r, s, args.n, not args.no_nsm, args.subclass_bootstrap)
        for d, r, s in tasks)
    res = pd.DataFrame([row for rows in chunks for row in rows])
    if args.out:
        res.to_csv(args.out, index=False)
    summary = summarise(res)
    for d in args.designs:
        print(f"\n### {d}: {args.reps} replications of n = {args.n}\n")
        print(markdown(summary, d))
    print(f"\n{time.time() - start:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
