"""Marginal hazard ratio after matching: bias, SD, SE and coverage of each variance.

Design (the survival design of MatchIt's vignette "Estimating Effects After Matching",
spec ``matching-estimators.md`` §5.4, plus independent censoring):

* ``X1..X9 ~ N(0, 1)``, then ``X5 := 1{X5 < 0.5}``;
* ``A ~ Bernoulli(expit(-1.2 + log2 X1 - log1.5 X2 + log2 X4 - log2.4 X5 + log2 X7
  - log1.5 X8))`` (about 20% treated);
* ``T = sqrt(-log U * 2e4 * exp(-LP))``, ``LP = -2 + log2.4 A + log2 X1 + log2 X2 + log2 X3
  + log1.5 X4 + log2.4 X5 + log1.5 X6`` (Weibull, shape 2, conditional HR 2.4); the same
  ``U`` gives both potential times;
* censoring ``C ~ Exponential(mean 1000)``, independent (about 23% censored); observed
  ``min(T, C)``, ``1{T <= C}``.

The true marginal log-HR of each population is the Cox coefficient of the treatment
fitted to *both* potential outcomes of every unit (ATE) or of every treated unit (ATT)
of a Monte Carlo sample of 2,000,000, with the same censoring time for both potential
outcomes: the limit of the matched estimator under this censoring (the marginal
hazards are not exactly proportional).  It is printed with the uncensored value.

Estimators: ``MatchedHazardRatio`` with 1:1 nearest-neighbour matching with
replacement (``M = 1``, ties kept), estimand ATE and ATT, on

* ``PS``: the logistic propensity score (logit), correctly specified, refitted per
  replication; all six variances (bootstrap 100 replicates with refit and re-match;
  double resampling 50 outer x 100 inner);
* ``NSM``: the neural balancing score with its defaults (5-d, the paper's network,
  200 epochs), as ``MatchedHazardRatio`` uses it by default: five networks (seeds
  ``fit_seeds(rep, 5)``), each matched on, the log-HRs averaged, each closed-form
  variance of the average plus the between-network variance / 5; and one network
  (the first of the five: ``n_score_fits=1``) with the closed-form variances
  (network held fixed) and, on ``--nsm-refit-reps`` replications, the bootstrap that
  refits the network on each of ``--nsm-refit-bootstrap`` replicates.

Usage::

    nice python benchmarks/hazard_ratio_sim.py           # 500 PS + 500 NSM reps, n = 1000
    python benchmarks/hazard_ratio_sim.py --reps 20 --nsm-reps 0 --jobs 1   # quick look

Prints the markdown table; ``--out FILE.csv`` also writes the per-replication rows.  The
PS closed-form variances run on all ``--reps`` replications, the bootstrap and double
resampling on the first ``--expensive-reps`` of them (200 by default: the CPU budget of
two shared cores), and NSM on ``--nsm-reps``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator

from causalsm.datasets import simulate_hazard_ratio
from causalsm.estimators.cox import cox_fit
from causalsm.estimators.survival import MatchedHazardRatio, fit_seeds

CENSOR_MEAN = 1000.0
CHEAP = ("pair_cluster", "robust", "austin_cafri", "linearized")


def make_design(n: int, rng: np.random.Generator, censor_mean: float = CENSOR_MEAN,
                potential: bool = False):
    """One sample of the design (:func:`causalsm.datasets.simulate_hazard_ratio` with
    censoring rate ``1 / censor_mean``): ``X (n, 9), A, time, event`` (and, with
    ``potential``, the potential event times ``T0, T1`` and the censoring times)."""
    df = simulate_hazard_ratio(n, rng, censoring_rate=1.0 / censor_mean)
    X = df[[f"X{j}" for j in range(1, 10)]].to_numpy(dtype=np.float64)
    out = (X, df["A"].to_numpy(), df["time"].to_numpy(), df["event"].to_numpy())
    if potential:
        return out + (df["time0"].to_numpy(), df["time1"].to_numpy(),
                      df["censor_time"].to_numpy())
    return out


def true_log_hr(n_mc: int = 2_000_000, seed: int = 20261129) -> dict:
    """Marginal log-HR in the ATE and ATT populations, with and without censoring."""
    X, A, _, _, T0, T1, C = make_design(n_mc, np.random.default_rng(seed), potential=True)
    out = {}
    for pop, mask in (("ATE", np.ones(n_mc, bool)), ("ATT", A == 1)):
        k = int(mask.sum())
        arm = np.r_[np.ones(k), np.zeros(k)]
        tt = np.r_[T1[mask], T0[mask]]
        cc = np.r_[C[mask], C[mask]]
        out[pop] = cox_fit(np.minimum(tt, cc), (tt <= cc).astype(float), arm).beta
        out[pop + "_uncensored"] = cox_fit(tt, np.ones(2 * k), arm).beta
    return out


class _Fixed:
    """A fitted score passed through unchanged (so one network serves both estimands)."""

    def __init__(self, transform=None):
        self.transform_fn = transform

    def get_params(self, deep=True):
        return {"transform": self.transform_fn}

    def set_params(self, **p):
        self.transform_fn = p.get("transform", self.transform_fn)
        return self

    def fit(self, X, t, sample_weight=None):
        return self

    def transform(self, X):
        return self.transform_fn(X)


def _rows(est, label, estimand, rep, extra):
    r = est.effect_
    rows = [{"method": label, "estimand": estimand, "rep": rep, "variance": v,
             "log_hr": r.log_hr, "se": r.details[f"se_{v}"]} for v in CHEAP]
    for v, se in extra.items():
        rows.append({"method": label, "estimand": estimand, "rep": rep, "variance": v,
                     "log_hr": r.log_hr, "se": se})
    return rows


def one_rep_ps(rep: int, n: int, B: int, n_outer: int, n_inner: int, seed: int,
               expensive: bool) -> list[dict]:
    """The closed-form variances, or (``expensive``) the bootstrap and double resampling
    of the same replication."""
    rng = np.random.default_rng([seed, rep])
    X, A, T, d = make_design(n, rng)
    rows = []
    for estimand in ("ATE", "ATT"):
        if not expensive:
            est = MatchedHazardRatio(estimand=estimand, random_state=rep).fit(X, A, T, d)
            rows += _rows(est, "PS", estimand, rep, {})
            continue
        boot = MatchedHazardRatio(estimand=estimand, variance="bootstrap", n_bootstrap=B,
                                  random_state=rep).fit(X, A, T, d)
        dr = MatchedHazardRatio(estimand=estimand, variance="double_resampling",
                                n_bootstrap=n_inner, n_outer=n_outer,
                                random_state=rep).fit(X, A, T, d)
        rows += [{"method": "PS", "estimand": estimand, "rep": rep, "variance": v,
                  "log_hr": r.effect_.log_hr, "se": r.effect_.std_error}
                 for v, r in (("bootstrap", boot), ("double_resampling", dr))]
    return rows


class _CachedNetwork(BaseEstimator):
    """``NeuralBalancingScore.paper(epochs=epochs, random_state=random_state)`` (the
    paper's single network, with which this study was designed), fitted once
    per (data, seed) in this process, so that one network serves both estimands and
    the one-fit and several-fit estimators of a replication."""

    _cache: dict = {}

    def __init__(self, epochs: int = 200, random_state=None):
        self.epochs = epochs
        self.random_state = random_state

    def fit(self, X, t):
        from causalsm.scores.neural import NeuralBalancingScore
        key = (X.shape, float(X[0, 0]), float(X[-1, -1]), self.epochs, self.random_state)
        if key not in self._cache:
            if len(self._cache) > 50:
                self._cache.clear()
            self._cache[key] = NeuralBalancingScore.paper(
                epochs=self.epochs, random_state=self.random_state).fit(X, t)
        self.net_ = self._cache[key]
        return self

    def transform(self, X):
        return self.net_.transform(X)


def one_rep_nsm(rep: int, n: int, seed: int, epochs: int, n_fits: int) -> list[dict]:
    """NSM as ``MatchedHazardRatio(NeuralBalancingScore.paper(epochs=epochs), n_score_fits=K,
    random_state=rep)`` computes it, for K = ``n_fits`` and for K = 1 (the first of
    the same networks); each network is fitted once and serves both estimands."""
    import torch
    torch.set_num_threads(1)
    rng = np.random.default_rng([seed, rep])
    X, A, T, d = make_design(n, rng)
    first = fit_seeds(rep, n_fits)[0]
    rows = []
    for estimand in ("ATE", "ATT"):
        for label, K, score in ((f"NSM, {n_fits} fits", n_fits, _CachedNetwork(epochs)),
                                ("NSM, one fit", 1, _CachedNetwork(epochs, first))):
            r = MatchedHazardRatio(score, estimand=estimand, n_score_fits=K,
                                   variance="austin_cafri", random_state=rep
                                   ).fit(X, A, T, d).effect_
            between = r.details.get("between_fit_variance", 0.0)
            for v in CHEAP:
                rows.append({"method": label, "estimand": estimand, "rep": rep,
                             "variance": v, "log_hr": r.log_hr, "se": r.details[f"se_{v}"],
                             "between_var": between})
    return rows


def one_rep_nsm_refit(rep: int, n: int, B: int, seed: int, epochs: int,
                      n_fits: int) -> list[dict]:
    """The bootstrap that refits the network on every replicate, each refit with a fresh
    seed (as ``MatchedHazardRatio(..., n_score_fits=1, variance="bootstrap")`` does),
    around the one-fit estimate of :func:`one_rep_nsm`; one refit serves both
    estimands."""
    import torch
    torch.set_num_threads(1)
    from causalsm.scores.neural import NeuralBalancingScore
    rng = np.random.default_rng([seed, rep])
    X, A, T, d = make_design(n, rng)
    net = NeuralBalancingScore.paper(epochs=epochs,
                                     random_state=fit_seeds(rep, n_fits)[0]).fit(X, A)
    est = {e: MatchedHazardRatio(balancing_score=_Fixed(net.transform), estimand=e,
                                 variance="austin_cafri", random_state=rep)
           .fit(X, A, T, d).effect_.log_hr for e in ("ATE", "ATT")}
    draws = {"ATE": [], "ATT": []}
    boot = np.random.default_rng([seed, rep, 1])
    for _ in range(B):
        idx = boot.integers(0, n, n)
        netb = NeuralBalancingScore.paper(epochs=epochs,
                                          random_state=int(boot.integers(2 ** 31))
                                          ).fit(X[idx], A[idx])
        for e in draws:
            draws[e].append(MatchedHazardRatio(balancing_score=_Fixed(netb.transform), estimand=e,
                                               variance="austin_cafri", random_state=rep)
                            .fit(X[idx], A[idx], T[idx], d[idx]).effect_.log_hr)
    return [{"method": "NSM, one fit", "estimand": e, "rep": rep,
             "variance": "bootstrap (refits the network)", "log_hr": est[e],
             "se": float(np.std(draws[e], ddof=1))} for e in draws]


def table(df: pd.DataFrame, truth: dict) -> pd.DataFrame:
    out = []
    for (method, estimand, variance), g in df.groupby(["method", "estimand", "variance"],
                                                      sort=False):
        g = g[np.isfinite(g.se)]
        b = truth[estimand]
        cover = np.abs(g.log_hr - b) <= 1.959963984540054 * g.se
        out.append({"method": method, "estimand": estimand, "variance": variance,
                    "reps": len(g), "true log-HR": b, "bias": g.log_hr.mean() - b,
                    "emp. SD": g.log_hr.std(ddof=1), "mean SE": g.se.mean(),
                    "SE/SD": g.se.mean() / g.log_hr.std(ddof=1),
                    "coverage": cover.mean(),
                    "MC s.e. cov.": np.sqrt(cover.mean() * (1 - cover.mean()) / len(g))})
    return pd.DataFrame(out)


def markdown(tab: pd.DataFrame) -> str:
    """A markdown table (no tabulate dependency)."""
    def cell(v):
        return f"{v:.4f}" if isinstance(v, (float, np.floating)) else str(v)
    lines = ["| " + " | ".join(tab.columns) + " |",
             "|" + "|".join("---" if tab[c].dtype == object else "---:" for c in tab.columns)
             + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in tab.itertuples(index=False)]
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--n", type=int, default=1000)
    p.add_argument("--reps", type=int, default=500)
    p.add_argument("--nsm-reps", type=int, default=500)
    p.add_argument("--expensive-reps", type=int, default=200,
                   help="PS replications that also run the bootstrap and double resampling")
    p.add_argument("--bootstrap", type=int, default=100)
    p.add_argument("--outer", type=int, default=50)
    p.add_argument("--inner", type=int, default=100)
    p.add_argument("--chunk", type=int, default=10)
    p.add_argument("--epochs", type=int, default=200, help="NSM training epochs")
    p.add_argument("--nsm-fits", type=int, default=5, help="networks (seeds) per NSM estimate")
    p.add_argument("--nsm-refit-reps", type=int, default=0,
                   help="NSM replications with a bootstrap that refits the network")
    p.add_argument("--nsm-refit-bootstrap", type=int, default=25)
    p.add_argument("--jobs", type=int, default=2)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--n-mc", type=int, default=2_000_000)
    p.add_argument("--out", default="", help="CSV for the per-replication rows")
    p.add_argument("--truth-cache", default=None,
                   help="JSON file holding the Monte Carlo truth (computed and written if absent)")
    a = p.parse_args(argv)
    t0 = time.time()
    cache = Path(a.truth_cache) if a.truth_cache else None
    if cache is not None and cache.exists():
        truth = json.loads(cache.read_text())
    else:
        truth = true_log_hr(a.n_mc)
        if cache is not None:
            cache.write_text(json.dumps(truth))
    print("true marginal log-HR (Monte Carlo, n = {:,}):".format(a.n_mc))
    for k, v in truth.items():
        print(f"  {k:16s} {v:.4f}  (HR {np.exp(v):.4f})")
    sys.stdout.flush()
    rows: list[dict] = []
    phases = [  # cheap variances of every replication first, then the costly ones
        ("PS, closed-form variances", 100,
         [delayed(one_rep_ps)(r, a.n, a.bootstrap, a.outer, a.inner, a.seed, False)
          for r in range(a.reps)]),
        ("PS, bootstrap and double resampling", a.chunk,
         [delayed(one_rep_ps)(r, a.n, a.bootstrap, a.outer, a.inner, a.seed, True)
          for r in range(min(a.expensive_reps, a.reps))]),
        ("NSM", a.chunk,
         [delayed(one_rep_nsm)(r, a.n, a.seed, a.epochs, a.nsm_fits)
          for r in range(a.nsm_reps)]),
        ("NSM, bootstrap refitting the network", a.chunk,
         [delayed(one_rep_nsm_refit)(r, a.n, a.nsm_refit_bootstrap, a.seed, a.epochs,
                                     a.nsm_fits)
          for r in range(a.nsm_refit_reps)])]
    with Parallel(n_jobs=a.jobs) as parallel:
        for label, chunk, tasks in phases:
            for start in range(0, len(tasks), chunk):     # progress and partial results
                res = parallel(tasks[start:start + chunk])
                rows += [x for r in res for x in r]
                if a.out:
                    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
                    pd.DataFrame(rows).to_csv(a.out, index=False)
                print(f"{label}: {min(start + chunk, len(tasks))}/{len(tasks)} replications, "
                      f"{time.time() - t0:.0f} s", flush=True)
    df = pd.DataFrame(rows)
    tab = table(df, truth)
    print(markdown(tab))
    print(f"total {time.time() - t0:.0f} s")
    return tab


if __name__ == "__main__":
    main()
