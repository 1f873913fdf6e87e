"""How much of the recommended neural estimate's variance is training randomness?

For replications of the ``highdim.py`` designs, the recommended neural estimator
(``NeuralBalancingScore()`` then ``MatchingEstimator``'s defaults, ATT and ATE) is fitted
with several seeds on the same data.  The spread over seeds is variance that the
Abadie-Imbens formula (which conditions on the score) cannot see; the estimator adds the
jackknife variance over the K networks of its ensemble for it
(``details["network_jackknife_sd"]``).  This script compares the two, and the variance of
the networks' own estimates / K (``between_sd``, the term used before 2026-12-05; recorded
in the committed rows, which were run with both).

Run from the repository root::

    python benchmarks/highdim_seeds.py --designs latent news --reps 21 26 --seeds 4

Rows go to ``benchmarks/results/highdim_seeds.csv`` (one per design x replication x seed);
the summary is printed: the SD of the estimate over seeds (pooled over replications),
``sqrt(B / K)``, and the mean standard error.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import highdim  # noqa: E402

import causalsm as csm  # noqa: E402

CSV = HERE / "results" / "highdim_seeds.csv"


def run(design: str, rep: int, seed: int) -> dict:
    import torch
    from sklearn.frozen import FrozenEstimator
    torch.set_num_threads(1)
    d = highdim._load(design, rep)
    X, t, y, cate = d["X"], d["t"], d["y"], d["cate"]
    name = "nsm_mlp" if design == "images" else "nsm"
    row = {"design": design, "rep": rep, "seed": seed}
    score = highdim.methods(design)[name](seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for estimand in ("ATT", "ATE"):
            est = csm.MatchingEstimator(balancing_score=score, estimand=estimand,
                                        random_state=rep).fit(X, t, y)
            score = FrozenEstimator(est.balancing_score_)     # one fit for both
            r = est.effect_
            truth = cate[t == 1].mean() if estimand == "ATT" else cate.mean()
            e = estimand.lower()
            row.update({e: r.estimate, f"{e}_se": r.std_error, f"{e}_truth": float(truth),
                        f"{e}_between_sd": r.details.get("between_network_sd", np.nan),
                        f"{e}_jackknife_sd": r.details.get("network_jackknife_sd", np.nan),
                        f"{e}_networks": len(r.details.get("network_jackknife_estimates",
                                                           r.details.get("network_estimates",
                                                                         ())))})
    return row


def summary(df: pd.DataFrame) -> pd.DataFrame:
    out = []
    for design, g in df.groupby("design"):
        for e in ("att", "ate"):
            k = g[f"{e}_networks"].iloc[0]
            out.append({"design": design, "estimand": e.upper(), "reps": g.rep.nunique(),
                        "seeds": g.groupby("rep").size().min(),
                        "seed_sd": g.groupby("rep")[e].var(ddof=1).mean() ** 0.5,
                        "sqrt_B_over_K": ((g[f"{e}_between_sd"] ** 2) / k).mean() ** 0.5,
                        "jackknife_sd": (g[f"{e}_jackknife_sd"] ** 2).mean() ** 0.5,
                        "mean_se": (g[f"{e}_se"] ** 2).mean() ** 0.5})
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", nargs="+", default=["latent", "news", "sparse", "images"])
    ap.add_argument("--reps", nargs=2, type=int, default=(21, 26), metavar=("FIRST", "LAST"))
    ap.add_argument("--seeds", type=int, default=4, help="seeds rep + 1000 s, s < SEEDS")
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--summary", action="store_true", help="only print the CSV's summary")
    a = ap.parse_args()
    if not a.summary:
        done = pd.read_csv(a.csv) if a.csv.exists() else pd.DataFrame(
            columns=["design", "rep", "seed"])
        have = set(zip(done.design, done.rep, done.seed))
        for design in a.designs:
            for rep in range(a.reps[0], a.reps[1] + 1):
                for s in range(a.seeds):
                    if (design, rep, rep + 1000 * s) in have:
                        continue
                    row = pd.DataFrame([run(design, rep, rep + 1000 * s)])
                    row.to_csv(a.csv, mode="a", header=not a.csv.exists(), index=False)
    print(summary(pd.read_csv(a.csv)).to_string(index=False, float_format="%.3f"))


if __name__ == "__main__":
    main()
