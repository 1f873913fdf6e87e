"""Exposure-response curves by GPS matching: bias, RMSE and bootstrap coverage, by GPS model.

Designs (:func:`causalsm.datasets.simulate_causalgps`; CausalGPS's covariates and outcome,
so the true curve is ``mu(w) = -1 - 0.2 (w - 20) + 0.0169 (w - 20)^3`` in all of them):

* ``linear``: CausalGPS's ``gps_spec = 1``, ``W = 9 m(X) + 17 + N(0, 5^2)``: the normal
  GPS with a linear mean is correct;
* ``nonlinear``: ``gps_spec = 3``, ``+ 1.5 cf3^2``: a linear mean is misspecified;
* ``heteroskedastic``, ``skewed``, ``heavy_tailed``, ``bimodal``: the linear mean is right
  but the conditional distribution is not normal (:data:`EXPOSURE_MODELS`).  ``bimodal``
  runs only when named (``--designs``).

Estimator: :class:`~causalsm.estimators.continuous.ExposureResponse` with its defaults --
GPS matching (5-95% exposure trimming, ``delta_n`` = range / 50, ``scale`` = 0.5), the
local-quadratic curve at the cross-validated local-linear bandwidth -- for three GPS
models: ``normal`` (OLS mean, one variance), ``kernel`` (kernel density of the residuals
standardised by an OLS fit of the squared residuals) and ``score_matching``
(:class:`~causalsm.scores.score_matching.ScoreMatchingDensity`, defaults), plus the
unadjusted curve (the same smoother, no weights) to show the confounding bias.

* ``accuracy``: per replication, the curve at 15 exposures equally spaced over the
  design's 10-90% exposure range (from 200,000 draws) and the maximal absolute
  correlation of a covariate with the exposure after matching.  Summary: integrated
  (mean over the points) absolute bias and RMSE.  ``--method weighting`` builds the
  pseudo-population by stabilised inverse-GPS weighting (``GPSWeighting``, the same GPS
  models) instead, where the GPS's values and not only its ranking of units enter the
  curve; ``--max-weight`` caps the weights.  A fit whose weights are too extreme for the
  bandwidth's cross-validation (an ``InputError``) is recorded as failed (NaN errors; the
  summary's ``failed`` column counts them and leaves them out).
* ``density``: each GPS model fitted on all ``n`` units (no trimming); the held-out mean
  ``log r_hat - log r`` on 5,000 fresh units (0 is the truth); ``--objectives`` adds the
  score-matching density trained by exact, sliced and multi-level denoising score matching.
* ``ranking``: each GPS model fitted on all ``n`` units; at five exposure levels (the
  10-90% quantiles) the Spearman correlation over units between the model's GPS and the
  true GPS at that level.  Matching at a level compares units by their GPS there, so a
  model that ranks units as the true density does (whatever its scale) matches them
  alike: this is why no model can gain on the normal GPS where the true density is, at
  every level, a decreasing function of ``|w - m(x)|`` (a symmetric law with the right
  mean and one scale, as ``heavy_tailed``).
* ``settings``: the curve's pointwise bias and SD on the ``linear`` design (normal GPS,
  the coverage run's data seeds, no bootstrap) under variants of the design and smoother
  (:data:`SETTINGS`): where the bias that keeps the bands from covering comes from.  The
  ``bandwidth x`` settings scale the cross-validated bandwidth: a smoothing bias would
  shrink with it, a design bias would not.
* ``coverage``: the pointwise 95% intervals and simultaneous bands of the estimator's
  default bootstrap (``--boot`` replicates, refitting the GPS and re-matching; resamples
  of ``m = n`` units since 2026-12-06, ``m = n^0.9`` and ``m = 2 sqrt(n)`` before).
  ``--method weighting``: the same for ``GPSWeighting``'s defaults (weights capped at 10).

Usage::

    nice python benchmarks/exposure_response_sim.py accuracy --reps 200 --n 1000 --out acc.csv
    nice python benchmarks/exposure_response_sim.py accuracy --reps 200 --n 1000 \
        --method weighting --out acc_weighting.csv
    nice python benchmarks/exposure_response_sim.py coverage --reps 200 --out cov.csv
    nice python benchmarks/exposure_response_sim.py density --reps 50 --out dens.csv
    nice python benchmarks/exposure_response_sim.py ranking --reps 20 --n 1000 --out rank.csv
    nice python benchmarks/exposure_response_sim.py settings --reps 200 --out settings.csv
    python benchmarks/exposure_response_sim.py summary acc.csv cov.csv
    python benchmarks/exposure_response_sim.py paired acc_weighting.csv acc_capped.csv
    python benchmarks/exposure_response_sim.py paired acc.csv      # every model vs normal

Rows are appended to ``--out`` replication by replication (a rerun skips those done).
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from causalsm._validation import InputError
from causalsm.datasets import causalgps_erf, causalgps_log_gps, simulate_causalgps
from causalsm.estimators.continuous import ExposureResponse, GPSMatching, GPSWeighting
from causalsm.estimators.erf import LocalPolynomialERF
from causalsm.scores.density import ConditionalDensity, _Rows, make_gps

COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]
DESIGNS = {"linear": 1, "nonlinear": 3, "heteroskedastic": "heteroskedastic",
           "skewed": "skewed", "heavy_tailed": "heavy_tailed", "bimodal": "bimodal"}
GPS = ("normal", "kernel", "score_matching")


class AveragedDensity(ConditionalDensity):
    """Pilot: the mixture (mean) of ``k`` score-matching densities fitted from different
    seeds -- bagging of the GPS, to lower the noise of its values under weighting."""

    def __init__(self, k: int = 5, random_state: int = 0):
        self.k = k
        self.random_state = random_state

    def _fit(self, X, w):
        from causalsm.scores.score_matching import ScoreMatchingDensity
        self.models_ = [ScoreMatchingDensity(random_state=1000 * self.random_state + j)
                        .fit(X, w) for j in range(self.k)]

    def _rows(self, X):
        return _MixtureRows([m.conditional(X) for m in self.models_])


class _MixtureRows(_Rows):
    def __init__(self, parts):
        self.parts, self.n = parts, parts[0].n

    def density(self, w):
        return np.mean([p.density(w) for p in self.parts], axis=0)

    def log_density(self, w):
        return np.log(self.density(w))

    def score(self, w):
        dens = np.array([p.density(w) for p in self.parts])
        return (dens * np.array([p.score(w) for p in self.parts])).sum(0) / dens.sum(0)


class TrueDensity(ConditionalDensity):
    """The design's true GPS (``causalgps_log_gps``), as a yardstick: what GPS matching or
    weighting achieves with a perfect density model.  ``fit`` learns nothing."""

    def __init__(self, spec=1):
        self.spec = spec

    def _fit(self, X, w):
        pass

    def _rows(self, X):
        return _TrueRows(pd.DataFrame(X, columns=COVS), self.spec)


class _TrueRows(_Rows):
    def __init__(self, frame, spec):
        self.frame, self.spec, self.n = frame, spec, len(frame)

    def log_density(self, w):
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 1:
            return causalgps_log_gps(self.frame, self.spec, w=w)
        cols = np.broadcast_to(w, (self.n, w.shape[1]))
        return np.column_stack([causalgps_log_gps(self.frame, self.spec, w=c)
                                for c in cols.T])


def gps_model(name: str, rep: int, design: str | None = None):
    """``make_gps`` plus the pilot ``score_matching_x5`` (:class:`AveragedDensity`) and the
    yardstick ``true`` (:class:`TrueDensity` of ``design``)."""
    if name == "true":
        return TrueDensity(DESIGNS[design])
    return AveragedDensity(random_state=rep) if name == "score_matching_x5" \
        else make_gps(name, rep)


def points(design: str, k: int = 15) -> np.ndarray:
    big = simulate_causalgps(200_000, DESIGNS[design], outcome_sd=0.0, random_state=12345)
    lo, hi = np.quantile(big["w"], [0.1, 0.9])
    return np.linspace(lo, hi, k)


def _accuracy(design: str, rep: int, n: int, pts: np.ndarray, method: str = "matching",
              max_weight: float | None = None, gps_names=GPS) -> list[dict]:
    spec = DESIGNS[design]
    df = simulate_causalgps(n, spec, random_state=10_000 * (list(DESIGNS).index(design) + 1)
                            + rep)
    X, w, y = df[COVS], df["w"], df["Y"]
    truth = causalgps_erf(pts)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        naive = LocalPolynomialERF(degree=2).fit(w.to_numpy(), y.to_numpy(), np.ones(n))
        rows.append({"design": design, "gps": "unadjusted", "rep": rep, "max_abs_corr": np.nan,
                     "seconds": 0.0,
                     **{f"e{j}": v for j, v in enumerate(naive.predict(pts) - truth)}})
        for name in gps_names:
            start = time.perf_counter()
            gps = gps_model(name, rep, design)
            design_ = (GPSMatching(gps=gps) if method == "matching" else
                       GPSWeighting(gps=gps, max_weight=max_weight))
            try:
                est = ExposureResponse(design_, eval_points=pts, n_bootstrap=0,
                                       random_state=rep).fit(X, w, y)
                corr = est.design_.balance_.attrs["max_abs_corr_after"]
                errors = est.result_.estimate - truth
            except InputError:      # weights too extreme for the bandwidth's CV: NaN
                corr, errors = np.nan, np.full(pts.size, np.nan)
            rows.append({"design": design,
                         "gps": name if method == "matching" else f"{name}, {method}"
                         + ("" if max_weight is None else f", cap {max_weight:g}"),
                         "rep": rep, "max_abs_corr": corr,
                         "seconds": time.perf_counter() - start,
                         **{f"e{j}": v for j, v in enumerate(errors)}})
    return rows


#: ``density --objectives``: the score-matching density under each objective.
OBJECTIVES = ("exact", "sliced", "dsm_multi")


def _model(name: str, rep: int):
    if name.startswith("score_matching_"):
        from causalsm.scores.score_matching import ScoreMatchingDensity
        return ScoreMatchingDensity(objective=name[len("score_matching_"):], random_state=rep)
    return make_gps(name, rep)


def _density(design: str, rep: int, n: int, names=GPS) -> list[dict]:
    """Held-out mean log r_hat - log r of each GPS model fitted on all n units."""
    spec = DESIGNS[design]
    df = simulate_causalgps(n, spec, random_state=90_000 + rep)
    test = simulate_causalgps(5000, spec, random_state=95_000 + rep)
    truth = float(np.mean(causalgps_log_gps(test, spec)))
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            start = time.perf_counter()
            model = _model(name, rep).fit(df[COVS], df["w"])
            rows.append({"design": design, "gps": name, "rep": rep,
                         "loglik_gap": model.mean_log_density(test[COVS], test["w"]) - truth,
                         "seconds": time.perf_counter() - start})
    return rows


def _ranking(design: str, rep: int, n: int, names=GPS) -> list[dict]:
    """Spearman correlation of each model's GPS with the true GPS at five levels."""
    from scipy import stats
    spec = DESIGNS[design]
    df = simulate_causalgps(n, spec, random_state=80_000 + rep)
    levels = np.quantile(df["w"], [0.1, 0.3, 0.5, 0.7, 0.9])
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            model = _model(name, rep).fit(df[COVS], df["w"])
            for q, level in zip((10, 30, 50, 70, 90), levels):
                at = df.assign(w=level)
                rho = stats.spearmanr(causalgps_log_gps(at, spec),
                                      model.density(at[COVS], at["w"])).correlation
                rows.append({"design": design, "gps": name, "rep": rep, "quantile": q,
                             "spearman": rho})
    return rows


def _levels_within(w: np.ndarray, delta: float, step: float | None = None) -> np.ndarray:
    """Levels ``step`` apart (default ``delta``) from ``min w + delta / 2``, those in the
    5-95% exposure range."""
    lo, hi = np.quantile(w, [0.05, 0.95])
    levels = np.arange(w.min() + delta / 2, w.max(), step or delta)
    return levels[(levels >= lo) & (levels <= hi)]


def _width(w: np.ndarray) -> float:
    """The default delta_n after 5-95% trimming: the kept range / 50."""
    return float(np.ptp(np.quantile(w, [0.05, 0.95]))) / 50


class _ScaledBandwidth(LocalPolynomialERF):
    """The default local-quadratic curve at ``factor`` times its cross-validated
    bandwidth (``factor < 1``: undersmoothing)."""

    def __init__(self, factor: float = 1.0, degree: int = 2, bandwidth=None,
                 selector: str = "loo"):
        super().__init__(degree=degree, bandwidth=bandwidth, selector=selector)
        self.factor = factor

    def fit(self, w, y, weights, points=None):
        super().fit(w, y, weights, points)
        self.bandwidth_ *= self.factor
        return self


#: ``settings``: name -> (GPSMatching options from the exposure w, smoother).
SETTINGS = {
    "default": (lambda w: {}, "local_quadratic"),
    "scale 1": (lambda w: {"scale": 1.0}, "local_quadratic"),
    "delta range/100": (lambda w: {"delta_n": _width(w) / 2}, "local_quadratic"),
    "no trimming": (lambda w: {"trim_exposure": None}, "local_quadratic"),
    "no trimming, levels in 5-95%": (
        lambda w: {"trim_exposure": None, "levels": _levels_within(w, np.ptp(w) / 50)},
        "local_quadratic"),
    "no trimming, 50 levels in 5-95%": (
        lambda w: {"trim_exposure": None, "levels": _levels_within(w, _width(w))},
        "local_quadratic"),
    "no trimming, 250 overlapping levels in 5-95%": (
        lambda w: {"trim_exposure": None, "delta_n": _width(w),
                   "levels": _levels_within(w, _width(w), _width(w) / 5)},
        "local_quadratic"),
    "250 overlapping levels": (
        lambda w: {"delta_n": _width(w), "levels": _levels_within(w, _width(w),
                                                                  _width(w) / 5)},
        "local_quadratic"),
    "local linear": (lambda w: {}, "local_linear"),
    "bandwidth x 0.7": (lambda w: {}, _ScaledBandwidth(0.7)),
    "bandwidth x 0.85": (lambda w: {}, _ScaledBandwidth(0.85)),
    "bandwidth x 1.25": (lambda w: {}, _ScaledBandwidth(1.25)),
}


def _settings(rep: int, n: int, pts: np.ndarray, names) -> list[dict]:
    df = simulate_causalgps(n, 1, random_state=50_000 * (list(DESIGNS).index("linear") + 1)
                            + rep)
    truth = causalgps_erf(pts)
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in names:
            options, smoother = SETTINGS[name]
            est = ExposureResponse(GPSMatching(gps=make_gps("normal", rep),
                                               **options(df["w"].to_numpy())),
                                   smoother=smoother, eval_points=pts, n_bootstrap=0,
                                   random_state=rep).fit(df[COVS], df["w"], df["Y"])
            rows.append({"setting": name, "rep": rep,
                         "max_abs_corr": est.design_.balance_.attrs["max_abs_corr_after"],
                         **{f"e{j}": v for j, v in enumerate(est.result_.estimate - truth)}})
    return rows


def _coverage(design: str, gps: str, rep: int, n: int, pts: np.ndarray, boot: int,
              overlap: int = 1, method: str = "matching") -> list:
    spec = DESIGNS[design]
    df = simulate_causalgps(n, spec, random_state=50_000 * (list(DESIGNS).index(design) + 1)
                            + rep)
    truth = causalgps_erf(pts)
    w = df["w"].to_numpy()
    grid = {} if overlap == 1 else {"delta_n": _width(w),
                                    "levels": _levels_within(w, _width(w), _width(w) / overlap)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        design_ = (GPSMatching(gps=make_gps(gps, rep), **grid) if method == "matching"
                   else GPSWeighting(gps=make_gps(gps, rep)))
        res = ExposureResponse(design_, eval_points=pts, n_bootstrap=boot,
                               random_state=rep).fit(df[COVS], df["w"], df["Y"]).result_
    return [{"design": design, "gps": _coverage_label(gps, overlap, method),
             "rep": rep, "point": j, "exposure": pts[j],
             "error": res.estimate[j] - truth[j], "std_error": res.std_error[j],
             "covered": bool(res.ci_lower[j] <= truth[j] <= res.ci_upper[j]),
             "band_covered": bool(np.all((res.band_lower <= truth) & (truth <= res.band_upper)))}
            for j in range(pts.size)]


def _coverage_label(gps: str, overlap: int, method: str) -> str:
    return (gps if overlap == 1 else f"{gps}, {overlap}x levels") + (
        ", weighting" if method == "weighting" else "")


def _done(out: Path, keys: list[str]) -> set:
    if not out.exists():
        return set()
    return set(map(tuple, pd.read_csv(out)[keys].drop_duplicates().astype(str).values))


def _run(tasks, fn, out: Path, jobs: int):
    start = time.time()
    for k, rows in enumerate(Parallel(n_jobs=jobs, return_as="generator")(
            delayed(fn)(*t) for t in tasks)):
        frame = pd.DataFrame(rows)
        frame.to_csv(out, mode="a", header=not out.exists(), index=False)
        if (k + 1) % 10 == 0:
            print(f"{k + 1}/{len(tasks)} tasks, {time.time() - start:.0f} s", flush=True)


def _markdown(frame: pd.DataFrame, index: bool = False) -> str:
    """A markdown table (3 decimals), without the optional ``tabulate`` dependency."""
    if index:
        frame = frame.reset_index()
    cells = [[f"{v:.3f}" if isinstance(v, (float, np.floating)) else str(v) for v in row]
             for row in frame.itertuples(index=False)]
    head = [str(c) for c in frame.columns]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in cells])


def summary(acc: Path | None, cov: Path | None) -> None:
    if acc is not None and acc.exists() and "loglik_gap" in pd.read_csv(acc, nrows=1):
        d = pd.read_csv(acc)
        # A kernel density is 0 beyond its grid: a held-out unit there gives -inf.
        d["finite"] = np.isfinite(d["loglik_gap"])
        d["gap"] = d["loglik_gap"].where(d["finite"])
        t = d.groupby(["design", "gps"], sort=False).agg(
            reps=("rep", "nunique"), loglik_gap=("gap", "median"),
            mean=("gap", "mean"), mc_se=("gap", lambda v: v.std() / np.sqrt(v.count())),
            share_infinite=("finite", lambda v: 1 - v.mean()),
            seconds=("seconds", "mean"))
        print(_markdown(t, index=True))
        acc = None
    if acc is not None and acc.exists():
        a = pd.read_csv(acc)
        rows = []
        for (design, gps), g in a.groupby(["design", "gps"], sort=False):
            e = g.filter(regex=r"^e\d+$").to_numpy()
            failed = ~np.isfinite(e).all(1)         # the curve could not be fitted
            e, g = e[~failed], g[~failed]
            # Monte Carlo SE of the integrated |bias|: replications resampled.
            rng = np.random.default_rng(0)
            mc = [np.mean(np.abs(e[rng.integers(0, len(e), len(e))].mean(0)))
                  for _ in range(200)]
            rows.append({"design": design, "gps": gps, "reps": len(g),
                         "failed": int(failed.sum()),
                         "int. |bias|": np.mean(np.abs(e.mean(0))), "(MC se)": np.std(mc),
                         "int. RMSE": np.mean(np.sqrt((e ** 2).mean(0))),
                         "max |corr| after": g["max_abs_corr"].mean(),
                         "seconds": g["seconds"].mean()})
        t = pd.DataFrame(rows)
        order = {d: i for i, d in enumerate(DESIGNS)}
        t = t.sort_values(["design"], key=lambda s: s.map(order), kind="stable")
        print(_markdown(t))
    if cov is not None and cov.exists():
        c = pd.read_csv(cov)
        rows = []
        for (design, gps), g in c.groupby(["design", "gps"], sort=False):
            per = g.groupby("point").agg(exposure=("exposure", "first"),
                                         bias=("error", "mean"), sd=("error", "std"),
                                         se=("std_error", "mean"),
                                         coverage=("covered", "mean"))
            print(f"\n{design}, {gps} GPS: {g['rep'].nunique()} replications")
            print(_markdown(per, index=True))
            band = g.groupby("rep")["band_covered"].first().mean()
            rows.append({"design": design, "gps": gps, "reps": g["rep"].nunique(),
                         "pointwise coverage (mean)": per["coverage"].mean(),
                         "min": per["coverage"].min(), "max": per["coverage"].max(),
                         "simultaneous band": band,
                         "mean se / sd": float((per["se"] / per["sd"]).mean())})
        print()
        print(_markdown(pd.DataFrame(rows)))


def paired_rmse(files: list[Path]) -> None:
    """Paired integrated-RMSE differences over the replications both sides fitted.

    Two accuracy files: each GPS model of the second against the same model (the label
    up to its first comma) in the first, replication by replication.  One file: each GPS
    model against ``normal``.  The SE resamples replications (500 draws)."""
    def rmse(e):
        return np.mean(np.sqrt((e ** 2).mean(0)))

    frames = [pd.read_csv(f) for f in files]
    for f in frames:
        f["model"] = f["gps"].str.split(",").str[0]
    a, b = (frames * 2)[:2]
    rows = []
    for (design, model), gb in b.groupby(["design", "model"], sort=False):
        base = "normal" if len(files) == 1 else model
        if model == "unadjusted" or (len(files) == 1 and model == "normal"):
            continue
        ga = a[(a["design"] == design) & (a["model"] == base)]
        ea, eb = (g.set_index("rep").filter(regex=r"^e\d+$") for g in (ga, gb))
        reps = ea.index.intersection(eb.index)
        A, B = ea.loc[reps].to_numpy(), eb.loc[reps].to_numpy()
        ok = np.isfinite(A).all(1) & np.isfinite(B).all(1)
        A, B = A[ok], B[ok]
        rng = np.random.default_rng(0)
        draws = [rng.integers(0, len(A), len(A)) for _ in range(500)]
        diff = [rmse(B[i]) - rmse(A[i]) for i in draws]
        rows.append({"design": design, "model": model, "against": base, "pairs": len(A),
                     "failed (a / b)": f"{int((~np.isfinite(ea.loc[reps]).all(1)).sum())} / "
                                       f"{int((~np.isfinite(eb.loc[reps]).all(1)).sum())}",
                     "RMSE a": rmse(A), "RMSE b": rmse(B), "b - a": rmse(B) - rmse(A),
                     "(se)": float(np.std(diff)), "relative": rmse(B) / rmse(A) - 1})
    print(_markdown(pd.DataFrame(rows)))


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("part", choices=["accuracy", "coverage", "density", "ranking", "settings",
                                     "summary", "paired"])
    ap.add_argument("files", nargs="*", help="summary: an accuracy and/or a coverage CSV; "
                    "paired: one or two accuracy CSVs (see paired_rmse())")
    ap.add_argument("--reps", type=int, default=200)
    ap.add_argument("--start", type=int, default=0,
                    help="first replication (to split a run over processes)")
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--boot", type=int, default=200)
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--designs", nargs="+", default=None)
    ap.add_argument("--gps", nargs="+", default=None,
                    help="coverage: GPS models (default normal); accuracy: the models to run "
                         "(default normal, kernel, score_matching; score_matching_x5 is the "
                         "pilot AveragedDensity, true the design's own GPS)")
    ap.add_argument("--objectives", action="store_true",
                    help="density: also the score-matching density under the objectives "
                    "exact, sliced and dsm_multi (the default is dsm)")
    ap.add_argument("--overlap", type=int, default=1,
                    help="coverage: levels delta_n / OVERLAP apart in the 5-95%% range "
                    "(overlapping bins; 1 = the default grid)")
    ap.add_argument("--method", choices=["matching", "weighting"], default="matching",
                    help="accuracy and coverage: GPS matching (default) or stabilised GPS "
                         "weighting (coverage: GPSWeighting's defaults, weights capped at 10)")
    ap.add_argument("--max-weight", type=float,
                    help="accuracy with --method weighting: cap on the stabilised weights "
                         "(Wu et al.'s simulations use 10); default none, uncapped, as the "
                         "recorded uncapped run (GPSWeighting's own default is 10 since "
                         "2026-12-06)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    if args.part == "paired":
        paired_rmse([Path(f) for f in args.files])
        return
    if args.part == "summary":
        kinds = {("cov" if "covered" in pd.read_csv(f, nrows=1) else "acc"): Path(f)
                 for f in args.files}                 # each file's kind from its columns
        summary(kinds.get("acc"), kinds.get("cov"))
        return
    designs = args.designs or (["linear"] if args.part == "coverage" else
                               [d for d in DESIGNS if d != "bimodal"])
    if args.part == "settings":
        done = _done(args.out, ["setting", "rep"])
        pts = points("linear")
        tasks = [(r, args.n, pts, todo) for r in range(args.start, args.reps)
                 if (todo := [s for s in SETTINGS if (s, str(r)) not in done])]
        _run(tasks, _settings, args.out, args.jobs)
        rows = []
        frame = pd.read_csv(args.out).sort_values("rep", kind="stable")
        interior = [f"e{j}" for j in range(1, pts.size - 1)]
        base = frame[frame["setting"] == "default"][interior].to_numpy()
        draws = np.random.default_rng(0).integers(0, len(base), (500, len(base)))

        def integrated(e, rows_):           # integrated |bias| over resampled reps
            return np.abs(e[rows_].mean(1)).mean(1)
        for name, g in frame.groupby("setting", sort=False):
            e = g.filter(regex=r"^e\d+$").to_numpy()
            failed = ~np.isfinite(e).all(1)         # the curve could not be fitted
            e, g = e[~failed], g[~failed]
            bias, sd = e.mean(0), e.std(0, ddof=1)
            inner = g[interior].to_numpy()
            paired = integrated(inner, draws) - integrated(base, draws)
            rows.append({"setting": name, "reps": len(g),
                         "int. |bias| (points 1-13)": np.abs(bias[1:-1]).mean(),
                         "(MC se)": integrated(inner, draws).std(),
                         "change vs default": np.abs(bias[1:-1]).mean()
                         - np.abs(base.mean(0)).mean(),
                         "(paired se)": paired.std(),
                         "max |bias| / sd (1-13)": np.abs(bias / sd)[1:-1].max(),
                         "mean sd (1-13)": sd[1:-1].mean(),
                         "int. RMSE (1-13)": np.sqrt((e ** 2).mean(0))[1:-1].mean(),
                         "max |corr| after": g["max_abs_corr"].mean(),
                         "share above 0.1": (g["max_abs_corr"] > 0.1).mean()})
        print(_markdown(pd.DataFrame(rows)))
        return
    if args.part == "ranking":
        done = _done(args.out, ["design", "rep"])
        tasks = [(d, r, args.n) for r in range(args.start, args.reps) for d in designs
                 if (d, str(r)) not in done]
        _run(tasks, _ranking, args.out, args.jobs)
        r = pd.read_csv(args.out)
        t = r.pivot_table(index=["design", "gps"], columns="quantile", values="spearman",
                          aggfunc="mean", sort=False)
        t.columns = [f"level q{c}" for c in t.columns]
        print(_markdown(t.assign(reps=r.groupby(["design", "gps"], sort=False)["rep"]
                                 .nunique()), index=True))
        return
    if args.part == "density":
        done = _done(args.out, ["design", "rep"])
        names = GPS + tuple(f"score_matching_{o}" for o in OBJECTIVES) \
            if args.objectives else GPS
        tasks = [(d, r, args.n, names) for r in range(args.start, args.reps) for d in designs
                 if (d, str(r)) not in done]
        _run(tasks, _density, args.out, args.jobs)
        summary(args.out, None)
        return
    pts = {d: points(d) for d in designs}
    if args.part == "accuracy":
        done = _done(args.out, ["design", "rep"])
        tasks = [(d, r, args.n, pts[d], args.method, args.max_weight,
                  tuple(args.gps or GPS))
                 for r in range(args.start, args.reps)
                 for d in designs if (d, str(r)) not in done]
        _run(tasks, _accuracy, args.out, args.jobs)
        summary(args.out, None)
    else:
        done = _done(args.out, ["design", "gps", "rep"])
        args.gps = args.gps or ["normal"]
        label = {g: _coverage_label(g, args.overlap, args.method) for g in args.gps}
        tasks = [(d, g, r, args.n, pts[d], args.boot, args.overlap, args.method)
                 for r in range(args.start, args.reps) for d in designs for g in args.gps
                 if (d, label[g], str(r)) not in done]
        _run(tasks, _coverage, args.out, args.jobs)
        summary(None, args.out)


if __name__ == "__main__":
    main()
