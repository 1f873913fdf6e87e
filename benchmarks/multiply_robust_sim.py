"""Multiple robustness of double score matching: bias, SD, SE and coverage by simulation.

Design (Kang & Schafer 2007 style, rescaled).  X1..X4 iid N(0, 1);

* treatment: logit P(T = 1 | X) = -X1 + 0.5 X2 - 0.25 X3 - 0.1 X4;
* outcomes:  Y(0) = 1 + X1 + 0.5 (X2 + X3 + X4) + e0,            e0 ~ N(0, 1),
             Y(1) = 2 + 1.5 X1 + 0.5 (X2 + X3 + X4) + e1,        e1 ~ N(0, 1.5^2),
  so ATE = 1 and the QTE varies with the quantile level (Y(1) is more spread out).
  The true QTEs are computed by Monte Carlo on 4 million draws.

Candidate models:

* correct propensity model: logistic on X;  wrong one: logistic on the Kang-Schafer
  transforms W = (exp(X1/2), X2/(1 + exp(X1)) + 10, (X1 X3/25 + 0.6)^3,
  (X2 + X4 + 20)^2);
* correct prognostic model: OLS per arm on X;  wrong one: OLS per arm on W.

Scenarios (which models the estimator is given; order PS-correct, PS-wrong,
PG-correct, PG-wrong): 1010, 1001, 0110, 1111 (each has at least one correct
model) and 0101 (all wrong).

Usage (from the repository root)::

    python benchmarks/multiply_robust_sim.py                      # 500 reps, n = 1000
    python benchmarks/multiply_robust_sim.py --reps 50 --boot 50  # quicker
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin

from causalsm import MultiplyRobustMatching, PrognosticScore, PropensityScore
from causalsm.datasets import simulate_multiply_robust
from causalsm.scores.propensity import logistic_mle

QUANTILES = (0.25, 0.5, 0.75)
TRUE_ATE = 1.0
SCENARIOS = {"1010": ("ps_x", "pg_x"), "1001": ("ps_x", "pg_w"), "0110": ("ps_w", "pg_x"),
             "1111": ("ps_x", "ps_w", "pg_x", "pg_w"), "0101": ("ps_w", "pg_w")}


def features(X: np.ndarray, kind: str) -> np.ndarray:
    """The covariates (``"x"``) or the Kang-Schafer transforms (``"w"``)."""
    if kind == "x":
        return X
    return np.column_stack([X[:, 0] ** 2, X[:, 1:]])


class FeatureLogit(ClassifierMixin, BaseEstimator):
    """Logistic regression (maximum likelihood) on ``features(X, kind)``."""

    def __init__(self, kind: str = "x"):
        self.kind = kind

    def fit(self, X, t):
        F = features(np.asarray(X, float), self.kind)
        self.coef_ = logistic_mle(np.column_stack([np.ones(len(F)), F]), np.asarray(t))
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        F = features(np.asarray(X, float), self.kind)
        p = 1 / (1 + np.exp(-(self.coef_[0] + F @ self.coef_[1:])))
        return np.column_stack([1 - p, p])


class FeatureOLS(RegressorMixin, BaseEstimator):
    """Least squares on ``features(X, kind)``."""

    def __init__(self, kind: str = "x"):
        self.kind = kind

    def fit(self, X, y):
        F = features(np.asarray(X, float), self.kind)
        self.coef_ = np.linalg.lstsq(np.column_stack([np.ones(len(F)), F]), y, rcond=None)[0]
        return self

    def predict(self, X):
        F = features(np.asarray(X, float), self.kind)
        return self.coef_[0] + F @ self.coef_[1:]


MODELS = {"ps_x": lambda: PropensityScore(model=FeatureLogit("x")),
          "ps_w": lambda: PropensityScore(model=FeatureLogit("w")),
          "pg_x": lambda: PrognosticScore(model=FeatureOLS("x")),
          "pg_w": lambda: PrognosticScore(model=FeatureOLS("w"))}


def simulate(n: int, rng: np.random.Generator):
    """One sample: covariates, treatment, observed outcome, and both potential outcomes.

    The generator is :func:`causalsm.datasets.simulate_multiply_robust`.
    """
    df = simulate_multiply_robust(n, random_state=rng)
    X = np.ascontiguousarray(df[["X1", "X2", "X3", "X4"]].to_numpy())   # C order, as before
    return (X, df["treat"].to_numpy(),
            df["y"].to_numpy(), df["y0"].to_numpy(), df["y1"].to_numpy())


def true_qte(quantiles=QUANTILES, n: int = 4_000_000, seed: int = 12345) -> np.ndarray:
    """Monte Carlo quantile effects q1 - q0 on a huge sample."""
    _, _, _, y0, y1 = simulate(n, np.random.default_rng(seed))
    return np.quantile(y1, quantiles) - np.quantile(y0, quantiles)


def fit_scenario(X, t, y, names, *, quantiles=QUANTILES, n_bootstrap=100, random_state=0):
    ps = [MODELS[m]() for m in names if m.startswith("ps")]
    pg = [MODELS[m]() for m in names if m.startswith("pg")]
    est = MultiplyRobustMatching(ps, pg, estimand="ATE", quantiles=list(quantiles),
                                 n_bootstrap=n_bootstrap, random_state=random_state)
    return est.fit(X, t, y)


def one_replication(seed, n, n_bootstrap, scenarios=tuple(SCENARIOS), quantiles=QUANTILES):
    """All scenarios on one simulated sample; rows of (scenario, target, estimate, se)."""
    ss = np.random.SeedSequence(seed)
    data_seed, boot_seed = ss.spawn(2)
    X, t, y, _, _ = simulate(n, np.random.default_rng(data_seed))
    rows = []
    for k, sc in enumerate(scenarios):
        est = fit_scenario(X, t, y, SCENARIOS[sc], quantiles=quantiles,
                           n_bootstrap=n_bootstrap,
                           random_state=int(boot_seed.generate_state(1)[0]) + k)
        rows.append((seed, sc, "ATE", est.effect_.estimate, est.effect_.std_error))
        q = est.quantile_effect_
        for j, xi in enumerate(quantiles):
            rows.append((seed, sc, f"QTE {xi:g}", q.estimate[j], q.std_error[j]))
    return rows


def run(reps: int, n: int, n_bootstrap: int, *, n_jobs: int = 2, seed: int = 2026,
        start: int = 0, scenarios=tuple(SCENARIOS), quantiles=QUANTILES, truth=None,
        verbose: bool = False) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Replications ``start .. start + reps - 1`` in parallel; (raw rows, summary table)."""
    seeds = [seed * 100_000 + r for r in range(start, start + reps)]
    out = Parallel(n_jobs=n_jobs, verbose=5 if verbose else 0)(
        delayed(one_replication)(s, n, n_bootstrap, scenarios, quantiles) for s in seeds)
    raw = pd.DataFrame([r for rows in out for r in rows],
                       columns=["rep", "scenario", "target", "estimate", "se"])
    return raw, summarize(raw, quantiles, truth)


def summarize(raw: pd.DataFrame, quantiles=QUANTILES, truth=None) -> pd.DataFrame:
    """Bias, empirical SD, mean SE and Wald coverage per scenario and target."""
    raw = raw.copy()
    if truth is None:
        truth = np.concatenate([[TRUE_ATE], true_qte(quantiles)])
    truth_map = dict(zip(["ATE"] + [f"QTE {xi:g}" for xi in quantiles], truth))
    raw["truth"] = raw["target"].map(truth_map)
    raw["covered"] = np.abs(raw["estimate"] - raw["truth"]) <= 1.959964 * raw["se"]
    g = raw.groupby(["scenario", "target"], sort=False)
    table = pd.DataFrame({
        "truth": g["truth"].first(), "bias": g.apply(lambda d: (d.estimate - d.truth).mean(),
                                                     include_groups=False),
        "emp_sd": g["estimate"].std(ddof=1), "mean_se": g["se"].mean(),
        "coverage": g["covered"].mean(), "reps": g.size()}).reset_index()
    return table


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=500)
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--boot", type=int, default=100)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--start", type=int, default=0, help="index of the first replication")
    ap.add_argument("--out", default=None, help="CSV file for the raw replications")
    ap.add_argument("--aggregate", nargs="+", default=None, metavar="CSV",
                    help="summarise raw CSVs of earlier runs instead of simulating")
    args = ap.parse_args()
    t0 = time.perf_counter()
    truth = np.concatenate([[TRUE_ATE], true_qte()])
    print("true effects (ATE, QTE 0.25/0.5/0.75):", np.round(truth, 4).tolist())
    if args.aggregate:
        raw = pd.concat([pd.read_csv(f, dtype={"scenario": str}) for f in args.aggregate],
                        ignore_index=True)
        print(f"{raw['rep'].nunique()} replications")
        print(_markdown(summarize(raw, truth=truth)))
        return
    raw, table = run(args.reps, args.n, args.boot, n_jobs=args.jobs, seed=args.seed,
                     start=args.start, truth=truth, verbose=True)
    if args.out:
        raw.to_csv(args.out, index=False)
    print(f"reps={args.reps} n={args.n} bootstrap={args.boot} "
          f"({time.perf_counter() - t0:.0f} s)")
    print(_markdown(table))


def _markdown(table: pd.DataFrame) -> str:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in table.iterrows():
        lines.append("| " + " | ".join(f"{v:.3f}" if isinstance(v, float) else str(v)
                                       for v in r) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
