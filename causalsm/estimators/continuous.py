"""Exposure-response curves for a continuous treatment: GPS matching or weighting, then a
smoother, with bootstrap bands.

The pipeline (Wu, Mealli, Kioumourtzoglou, Dominici & Braun 2024; R's CausalGPS):

1. a **GPS model** (:mod:`causalsm.scores.density`) estimates ``r(w, x)``, the density of
   the exposure given the covariates;
2. a **design** builds a pseudo-population in which the exposure is (nearly)
   independent of the covariates: :class:`GPSMatching` matches every unit at every level
   of an exposure grid and counts how often each unit is used; :class:`GPSWeighting`
   weights each unit by the stabilised inverse GPS ``f(W_i) / r(W_i, x_i)``.  Both report
   the covariates' correlation with the exposure before and after, and can retry over
   parameters until it is below a threshold;
3. a **smoother** (:mod:`causalsm.estimators.erf`) fits the curve ``mu(w) = E[Y(w)]`` to
   ``(W_i, Y_i)`` with those weights;
4. :class:`ExposureResponse` runs the three, then a bootstrap (resamples of ``m = n``
   units by default, an m-out-of-n bootstrap such as Wu et al.'s ``m = 2 sqrt(n)`` on
   request; the whole pipeline refitted) for pointwise and simultaneous bands: CausalGPS
   has none.
"""

from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, clone

from .._validation import (InputError, check_exposure_data, check_int, check_seed, not_fitted,
                           seed_sequence)
from ..balance import exposure_balance
from ..inference import resample_replicates, resample_size
from ..matching.exposure import default_levels, match_levels
from ..scores.density import RDensity, make_gps
from .erf import make_smoother
from .results import Result, Summary

__all__ = ["GPSMatching", "GPSWeighting", "ExposureResponse", "ExposureResponseResult",
           "weighted_ks"]

_AUTO_MAX_WEIGHT = 10.0          # GPSWeighting's default cap (Wu et al.'s simulations)

_SUMMARIES = ("mean", "median", "max")


def weighted_ks(values: np.ndarray, weights: np.ndarray) -> float:
    """Kolmogorov-Smirnov distance between the unweighted sample and the weighted one:
    ``sup_x |F(x) - F_c(x)|`` (CausalGPS reports ``max(. - 0.05, 0)`` of it, through
    Ecume's default threshold).

    >>> weighted_ks(np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.0, 0.0, 1.0, 1.0]))
    0.5
    """
    order = np.argsort(values, kind="stable")
    v, c = values[order], weights[order]
    last = np.concatenate((v[1:] != v[:-1], [True]))        # end of each tie group
    f0 = np.cumsum(np.ones_like(c))[last] / v.size
    f1 = np.cumsum(c)[last] / c.sum()
    return float(np.max(np.abs(f0 - f1)))


def _quantile_pair(value: Any, name: str) -> tuple[float, float] | None:
    if value is None:
        return None
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a pair of quantiles (lo, hi), got {value!r}") from None
    if not 0 <= lo < hi <= 1:
        raise InputError(f"{name} must satisfy 0 <= lo < hi <= 1, got {value!r}")
    return lo, hi


def _within(v: np.ndarray, pair: tuple[float, float] | None) -> np.ndarray:
    if pair is None:
        return np.ones(v.shape[0], dtype=bool)
    lo, hi = np.quantile(v, pair)              # R's type 7, as trim_it
    return (v >= lo) & (v <= hi)


def _grid(value: Any, name: str, check) -> list:
    values = list(value) if isinstance(value, (list, tuple, np.ndarray)) else [value]
    if not values:
        raise InputError(f"{name} is empty")
    return [check(v) for v in values]


class _GPSDesign(BaseEstimator):
    """Shared by the designs: validation, trimming, GPS fits, balance and retries."""

    def _parameter_grid(self) -> list[dict]:            # pragma: no cover - abstract
        return [{}]

    def _design_weights(self, rows, w, params) -> tuple[np.ndarray, dict]:  # pragma: no cover
        raise NotImplementedError

    def _gps_for(self, attempt: int):
        """A fresh GPS model; a random one gets its own seed (else the design's) plus the
        attempt number."""
        gps = clone(make_gps(self.gps))
        if "random_state" not in gps.get_params():
            return gps
        base = gps.get_params()["random_state"]
        if base is None:
            base = check_seed(self.random_state)
        if (base is None or isinstance(base, (int, np.integer))) and (base is not None
                                                                        or attempt):
            gps.set_params(random_state=(base or 0) + attempt)
        return gps

    def fit(self, X, w):
        """Fit the GPS and build the pseudo-population.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
            Covariates.
        w : array-like of shape (n,)
            The continuous exposure.

        Returns
        -------
        self
        """
        Xa, names, wa, _ = check_exposure_data(X, w)
        n = Xa.shape[0]
        if self.balance_summary not in _SUMMARIES:
            raise InputError(f"balance_summary must be one of {', '.join(_SUMMARIES)}, got "
                             f"{self.balance_summary!r}")
        threshold = float(self.balance_threshold)
        attempts = check_int(self.max_attempt, "max_attempt")
        trim_w = _quantile_pair(self.trim_exposure, "trim_exposure")
        trim_r = _quantile_pair(self.trim_gps, "trim_gps")
        self.n_features_in_ = Xa.shape[1]
        self.feature_names_in_ = np.asarray(names, dtype=object)
        keep_w = _within(wa, trim_w)
        if keep_w.sum() < 3:
            raise InputError("trim_exposure leaves fewer than 3 units")
        records, best = [], None
        for attempt, params in itertools.product(range(attempts), self._parameter_grid()):
            gps = self._gps_for(attempt).fit(Xa[keep_w], wa[keep_w])
            keep = keep_w.copy()
            observed = gps.conditional(Xa[keep_w]).density(wa[keep_w])
            keep[keep_w] = _within(observed, trim_r)
            rows = gps.conditional(Xa[keep])
            c, info = self._design_weights(rows, wa[keep], params)
            tab = exposure_balance(Xa[keep], wa[keep], c, method=self.balance_method,
                                   columns=names)
            value = tab.attrs[f"{self.balance_summary}_abs_corr_after"]
            passed = bool(value < threshold)
            records.append({"attempt": attempt, **params, "balance": value, "pass": passed})
            if best is None or value < best[0]:
                best = (value, gps, keep, c, info, tab, params, passed)
            if passed:
                break
        value, gps, keep, c, info, tab, params, passed = best
        self.gps_ = gps
        self.kept_ = keep
        self.n_trimmed_ = int((~keep).sum())
        self.weights_ = np.zeros(n)
        self.weights_[keep] = c
        self.balance_ = tab
        self.balance_value_ = float(value)
        self.passed_ = passed
        self.attempts_ = pd.DataFrame(records)
        self.ks_ = pd.Series(
            [weighted_ks(wa[keep], c)] + [weighted_ks(Xa[keep, j], c) for j in range(Xa.shape[1])],
            index=["exposure"] + list(names), name="ks")
        self.ess_ = float(tab.attrs["ess"])
        if info.get("matches") is not None:       # rows and matched units: data positions
            table = np.full((n, info["matches"].shape[1]), -1, dtype=np.int64)
            pos = np.flatnonzero(keep)
            table[keep] = np.where(info["matches"] >= 0, pos[info["matches"]], -1)
            info = {**info, "matches": table}
        for key, val in {**params, **info}.items():
            setattr(self, f"{key}_", val)
        if self.n_trimmed_:
            warnings.warn(f"{self.n_trimmed_} of {n} units were trimmed (extreme exposure or "
                          "GPS): the curve is estimated for the remaining population",
                          RuntimeWarning, stacklevel=2)
        if not passed:
            warnings.warn(f"covariate balance not reached: the {self.balance_summary} absolute "
                          f"correlation with the exposure is {value:.3f} after "
                          f"{'weighting' if isinstance(self, GPSWeighting) else 'matching'} "
                          f"(threshold {threshold:g}, {len(records)} attempt(s))",
                          RuntimeWarning, stacklevel=2)
        if self.ess_ < keep.sum() / 10:
            warnings.warn(f"effective sample size {self.ess_:.0f} is below a tenth of the "
                          f"{int(keep.sum())} units: a few units dominate the "
                          "pseudo-population", RuntimeWarning, stacklevel=2)
        return self

    def _describe_gps(self) -> str:
        gps = self.gps_
        inner = getattr(gps, "mean_model_", None)
        return f"{type(gps).__name__}" + (f" ({type(inner).__name__})" if inner is not None
                                          else "")


class GPSMatching(_GPSDesign):
    """GPS matching for a continuous exposure (Wu et al. 2024), as CausalGPS 0.5.1.

    For each level ``w_l`` of a grid and every unit ``i``, the unit ``j`` with
    ``|W_j - w_l| <= delta_n / 2`` nearest to ``i`` on ``scale * |r*(w_l, x_i) - R*_j| +
    (1 - scale) * |W*_j - w*_l|`` (``R_j`` the observed GPS, ``*`` min-max standardised)
    is matched; ``weights_[j]`` counts how often ``j`` was used.  Exact, in
    O(n log n) per level for every ``scale`` (:mod:`causalsm.matching.exposure`).

    Parameters
    ----------
    gps : {"normal", "kernel", "score_matching"} or a GPS model
        Default: :class:`~causalsm.scores.density.NormalDensity` (OLS mean, one variance).
    delta_n : float or sequence of float, optional
        Caliper: the full width of each level's bin.  Default ``(max W - min W) / 50``.
        A sequence is a grid to retry over (see ``balance_threshold``).
    scale : float or sequence of float in [0, 1]
        Weight of the GPS distance against the exposure distance (CausalGPS's
        ``scale``).  A sequence is a grid to retry over.
    levels : array-like, optional
        The exposure levels; default CausalGPS's ``seq(min W + delta/2, max W, delta)``.
    trim_exposure, trim_gps : (float, float) or None
        Keep units whose exposure (observed GPS) lies within these quantiles;
        trimmed units get weight 0 and a warning (the curve then describes the others).
        The default keeps the 5-95% exposure range, as Wu et al.'s simulations: levels
        in the sparse tails have one or two candidates, which every unit is then matched
        to, and balance fails without it.
    balance_method : {"pearson", "spearman"}
        Correlation of covariates with the exposure (``"spearman"`` is CausalGPS's).
    balance_threshold : float
        Balance passes when the summary of the absolute correlations is below it.
    balance_summary : {"max", "mean", "median"}
    max_attempt : int
        Refits of the GPS per parameter combination (with ``random_state + attempt``);
        only useful for a GPS model with randomness.
    keep_matches : bool
        Keep the ``(n, L)`` table of matches (``matches_[i, l]``: the row matched to row
        ``i`` at level ``l``; -1 for a trimmed row or an empty level).
    n_jobs : int
        Threads over the levels.
    random_state : int or None
        Seeds a random GPS model whose own ``random_state`` is None (attempt ``k`` of
        ``max_attempt`` adds ``k`` to the seed).

    Attributes
    ----------
    gps_ : the fitted GPS model
    weights_ : ndarray (n,) -- match counts (0: unused or trimmed)
    kept_ : ndarray of bool -- units not trimmed
    levels_, level_sizes_, n_empty_levels_, delta_n_, scale_
    balance_ : DataFrame
        Correlations before and after (:func:`~causalsm.balance.exposure_balance`).
    balance_value_, passed_, attempts_, ks_, ess_, n_trimmed_

    Examples
    --------
    >>> from causalsm.datasets import simulate_causalgps
    >>> df = simulate_causalgps(500, random_state=0)
    >>> X = df[["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]]
    >>> m = GPSMatching(delta_n=1.0, scale=1.0, balance_threshold=0.2).fit(X, df["w"])
    >>> int(m.weights_.sum()) == 450 * (len(m.levels_) - m.n_empty_levels_), m.n_trimmed_
    (True, 50)
    >>> bool(m.balance_.attrs["max_abs_corr_after"] < m.balance_.attrs["max_abs_corr_before"])
    True
    """

    def __init__(self, gps: Any = None, delta_n: Any = None, scale: Any = 0.5,
                 levels: Any = None, trim_exposure: Any = (0.05, 0.95), trim_gps: Any = None,
                 balance_method: str = "pearson", balance_threshold: float = 0.1,
                 balance_summary: str = "max", max_attempt: int = 1,
                 keep_matches: bool = False, n_jobs: int = 1, random_state: Any = None):
        self.gps = gps
        self.delta_n = delta_n
        self.scale = scale
        self.levels = levels
        self.trim_exposure = trim_exposure
        self.trim_gps = trim_gps
        self.balance_method = balance_method
        self.balance_threshold = balance_threshold
        self.balance_summary = balance_summary
        self.max_attempt = max_attempt
        self.keep_matches = keep_matches
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _parameter_grid(self) -> list[dict]:
        def delta(v):
            if v is None:
                return None
            v = float(v)
            if not (np.isfinite(v) and v > 0):
                raise InputError(f"delta_n must be positive, got {v!r}")
            return v

        def scale(v):
            v = float(v)
            if not 0 <= v <= 1:
                raise InputError(f"scale must be in [0, 1], got {v!r}")
            return v
        deltas = _grid(self.delta_n, "delta_n", delta)
        scales = _grid(self.scale, "scale", scale)
        return [{"delta_n": d, "scale": s} for d in deltas for s in scales]

    def _design_weights(self, rows, w, params):
        delta = params["delta_n"]
        if delta is None:
            delta = float(np.ptp(w)) / 50
            params["delta_n"] = delta
        if self.levels is None:
            try:
                levels = default_levels(w, delta)
            except ValueError as exc:
                raise InputError(str(exc)) from None
        else:
            levels = np.atleast_1d(np.asarray(self.levels, dtype=np.float64))
            if levels.ndim != 1 or not np.isfinite(levels).all():
                raise InputError("levels must be a 1-d array of finite exposure values")
        res = match_levels(w, rows.density(w), lambda lv: rows.density(lv[None, :]), levels,
                           delta, params["scale"], keep_matches=bool(self.keep_matches),
                           n_jobs=self.n_jobs)
        if res.n_empty_levels:
            warnings.warn(f"{res.n_empty_levels} of {levels.size} exposure levels have no unit "
                          f"within delta_n / 2 = {delta / 2:.4g}; they were skipped",
                          RuntimeWarning, stacklevel=4)
        if res.n_empty_levels == levels.size:
            raise InputError("no exposure level has a unit within delta_n / 2: increase "
                             "delta_n or give levels inside the exposure range")
        info = {"levels": levels, "level_sizes": res.level_sizes,
                "n_empty_levels": res.n_empty_levels}
        if self.keep_matches:
            info["matches"] = res.matched
        return res.counts.astype(np.float64), info

    def describe(self) -> str:
        return (f"GPS matching ({self._describe_gps()}; delta_n {self.delta_n_:.4g}, scale "
                f"{self.scale_:g}, {len(self.levels_) - self.n_empty_levels_} levels)")


class GPSWeighting(_GPSDesign):
    """Stabilised inverse-GPS weighting: ``c_i = f(W_i) / r(W_i, x_i)``.

    Parameters
    ----------
    gps : {"normal", "kernel", "score_matching"} or a GPS model
    numerator : {"kde", "normal", "none"}
        The marginal density ``f`` of the exposure: R's kernel density (CausalGPS's
        choice), a normal density (Wu et al.'s application), or 1 (plain inverse GPS).
    normalize : bool
        Rescale the weights to mean 1 (CausalGPS does not).
    max_weight : float, "auto" or None
        Cap on the stabilised weights ``f / r``, which average about 1 when the GPS is
        right, applied before normalising, with a warning that counts the units capped.
        ``"auto"`` (default): 10, as in Wu et al.'s simulations, for stabilised weights;
        no cap with ``numerator="none"``, whose plain inverse densities have the scale of
        the exposure.  ``None``: no cap (CausalGPS).  Measured on the same 100 data sets
        of each of four designs and three GPS models (``benchmarks/README.md``), the cap
        of 10 lowers the curve's RMSE in all twelve cases (paired; 0.2% to 7% where the
        weights were usable uncapped, 3-5% where the normal GPS is right), and keeps one
        or two units from carrying the pseudo-population, which happened in 46-48 of 100
        heavy-tailed replications without it.  (Capping after normalising, as before
        2026-12-06, let one huge weight first shrink all the others, so the cap left it
        dominant.)
    trim_exposure, trim_gps, balance_method, balance_threshold, balance_summary,
    max_attempt, random_state
        As in :class:`GPSMatching`.

    Examples
    --------
    >>> from causalsm.datasets import simulate_causalgps
    >>> df = simulate_causalgps(500, random_state=0)
    >>> X = df[["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]]
    >>> design = GPSWeighting(balance_threshold=0.2).fit(X, df["w"])
    >>> round(float(design.weights_.mean()), 6)
    1.0
    """

    def __init__(self, gps: Any = None, numerator: str = "kde", normalize: bool = True,
                 max_weight: Any = "auto", trim_exposure: Any = None, trim_gps: Any = None,
                 balance_method: str = "pearson", balance_threshold: float = 0.1,
                 balance_summary: str = "max", max_attempt: int = 1,
                 random_state: Any = None):
        self.gps = gps
        self.numerator = numerator
        self.normalize = normalize
        self.max_weight = max_weight
        self.trim_exposure = trim_exposure
        self.trim_gps = trim_gps
        self.balance_method = balance_method
        self.balance_threshold = balance_threshold
        self.balance_summary = balance_summary
        self.max_attempt = max_attempt
        self.random_state = random_state

    def _design_weights(self, rows, w, params):
        if self.numerator == "kde":
            num = RDensity(w)(w)
        elif self.numerator == "normal":
            num = stats.norm.pdf(w, w.mean(), w.std(ddof=1))
        elif self.numerator == "none":
            num = np.ones_like(w)
        else:
            raise InputError(f"numerator must be 'kde', 'normal' or 'none', got "
                             f"{self.numerator!r}")
        gps = np.maximum(rows.density(w), 1e-12)       # log r clipped at log(1e-12)
        c = num / gps
        cap = self._cap()
        if cap is not None:                 # before normalising: see the docstring
            over = c > cap
            if over.any():
                warnings.warn(f"{int(over.sum())} of {c.size} stabilised weights (holding "
                              f"{c[over].sum() / c.sum():.1%} of the weight before the cap) "
                              f"were capped at max_weight = {cap:g}; max_weight=None keeps "
                              "them",
                              RuntimeWarning, stacklevel=4)
            c = np.minimum(c, cap)
        if self.normalize:
            c = c / c.mean()
        return c, {}

    def _cap(self) -> float | None:
        """``max_weight`` resolved: a positive number or None."""
        cap = self.max_weight
        if isinstance(cap, str) and cap == "auto":
            return None if self.numerator == "none" else _AUTO_MAX_WEIGHT
        if cap is None:
            return None
        try:
            cap = float(cap)
        except (TypeError, ValueError):
            cap = float("nan")
        if not cap > 0:
            raise InputError(f"max_weight must be a positive number, 'auto' or None, got "
                             f"{self.max_weight!r}")
        return cap

    def describe(self) -> str:
        cap = self._cap()
        return (f"GPS weighting ({self._describe_gps()}; numerator {self.numerator}"
                f"{', normalised' if self.normalize else ''}"
                f"{'' if cap is None else f', weights capped at {cap:g}'})")


# ------------------------------------------------------------------ the result
@dataclass
class ExposureResponseResult(Result):
    """An estimated exposure-response curve ``mu(w) = E[Y(w)]`` with bootstrap bands.

    Field names follow :class:`~causalsm.estimators.results.EffectResult`, with one value
    per exposure level.

    Attributes
    ----------
    estimand : str
        ``"ERF"``: the average potential outcome at each exposure.
    exposure : ndarray
        The exposures at which the curve is evaluated.
    estimate, std_error, p_value : ndarray
        The curve, its bootstrap standard error, and the pointwise p-value of
        ``mu(w) = 0``.
    ci_lower, ci_upper : ndarray
        Pointwise ``1 - alpha`` interval (:meth:`conf_int` at any level).
    band_lower, band_upper : ndarray
        Simultaneous ``1 - alpha`` band over ``exposure`` (sup-t).
    method, variance : str
    n, n_used, n_dropped : int
        Units given, used (not trimmed) and trimmed.
    alpha : float
    balance : DataFrame
        Covariates' correlations with the exposure before and after.
    treatment, outcome : str
        Column names, for labels.
    details : dict
        Design and smoother parameters (``delta_n``, ``scale``, ``bandwidth``...), ESS,
        bootstrap size and failures.
    """

    estimand: str
    exposure: np.ndarray
    estimate: np.ndarray
    std_error: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    p_value: np.ndarray
    band_lower: np.ndarray
    band_upper: np.ndarray
    method: str
    variance: str
    n: int
    n_used: int
    n_dropped: int
    alpha: float = 0.05
    balance: pd.DataFrame = field(default_factory=pd.DataFrame)
    treatment: str = "exposure"
    outcome: str = "outcome"
    details: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per exposure: ``exposure``, ``estimate``, ``std_error``, ``ci_lower``,
        ``ci_upper``, ``band_lower``, ``band_upper``, ``p_value`` (float64)."""
        return pd.DataFrame({
            "exposure": self.exposure, "estimate": self.estimate,
            "std_error": self.std_error, "ci_lower": self.ci_lower,
            "ci_upper": self.ci_upper, "band_lower": self.band_lower,
            "band_upper": self.band_upper, "p_value": self.p_value}).astype(np.float64)

    def to_dict(self) -> dict:
        """Plain Python numbers, lists and strings (JSON- and R-friendly)."""
        out = super().to_dict()
        out["balance"] = {c: self.balance[c].astype(float).tolist() for c in self.balance}
        out["balance"]["covariate"] = [str(i) for i in self.balance.index]
        return out

    def summary(self, points: int = 7) -> Summary:
        """A printable table: the curve at up to ``points`` exposures, and the balance."""
        return Summary(self._summary_text(points), self._summary_html())

    def _title(self) -> str:
        return f"Exposure-response curve of {self.outcome} on {self.treatment}"

    def _summary_text(self, points: int = 7) -> str:
        level = int(round(100 * (1 - self.alpha)))
        idx = np.unique(np.linspace(0, self.exposure.size - 1,
                                    min(points, self.exposure.size)).round().astype(int))
        b = self.balance.attrs
        lines = [f"{'Exposure-response curve of ' + self.outcome + ' on ' + self.treatment:^78}",
                 "=" * 78,
                 f"Method:    {self.method}",
                 f"Variance:  {self.variance}",
                 f"Units:     {self.n} given, {self.n_used} used, {self.n_dropped} trimmed",
                 f"Balance:   max |corr(X, {self.treatment})| "
                 f"{b.get('max_abs_corr_before', np.nan):.3f} before, "
                 f"{b.get('max_abs_corr_after', np.nan):.3f} after; ESS "
                 f"{self.details.get('ess', np.nan):.0f}",
                 "-" * 78,
                 f"{self.treatment[:10]:>10} {'estimate':>10} {'std.err':>9} "
                 f"{'[' + str(level) + '% conf.':>10} {'int.]':>10} {'[simult.':>10} "
                 f"{'band]':>10}"]
        for i in idx:
            values = (self.estimate[i], self.std_error[i], self.ci_lower[i],
                      self.ci_upper[i], self.band_lower[i], self.band_upper[i])
            lines.append(f"{self.exposure[i]:>10.4g} " + " ".join(
                f"{v:>{9 if k == 1 else 10}.5g}" for k, v in enumerate(values)))
        lines.append("=" * 78)
        return "\n".join(lines)


    def plot(self, ax: Any = None, *, truth: Any = None, band: bool = True, **kwargs):
        """Plot the curve with its pointwise interval and simultaneous band
        (:func:`causalsm.plotting.plot_exposure_response`); returns the Axes."""
        from ..plotting import plot_exposure_response
        return plot_exposure_response(self, ax=ax, truth=truth, band=band, **kwargs)


# ------------------------------------------------------------------ the estimator
def _band(draws: np.ndarray, estimate: np.ndarray, se: np.ndarray, alpha: float,
          scale: np.ndarray) -> float:
    """Critical value of the sup-t band: the ``1 - alpha`` quantile over replicates of
    ``max_w |scaled deviation| / se``."""
    dev = (draws - np.nanmean(draws, axis=0)) * scale[:, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        t = np.nanmax(np.abs(dev) / se, axis=1)
    t = t[np.isfinite(t)]
    return float(np.quantile(t, 1 - alpha)) if t.size else float("nan")


class ExposureResponse(BaseEstimator):
    """Estimate an exposure-response curve with bootstrap bands.

    Parameters
    ----------
    design : GPSMatching, GPSWeighting or None
        Builds the pseudo-population; default ``GPSMatching()`` (normal GPS).
    smoother : {"local_linear", "parametric", "gam"} or a smoother object
        The curve fitted to the pseudo-population (:mod:`causalsm.estimators.erf`):
        ``LocalPolynomialERF()`` (bandwidth by leave-one-unit-out cross-validation),
        ``ParametricERF(model="polynomial", degree=3)``, ``SplineERF()``...
    eval_points : array-like or int, optional
        Exposures at which the curve is reported; an integer ``k`` gives ``k`` equally
        spaced points over the 5-95% range of the exposure (default 100).
    n_bootstrap : int
        Bootstrap replicates; 0 skips the bands.
    bootstrap_size : "n", "n^a", "2sqrt", int or float
        Units per replicate ``m`` (:func:`causalsm.inference.resample_size`).  The default
        ``"n"`` is the ordinary bootstrap.  Theory does not promise it here -- the
        n-out-of-n bootstrap is invalid for nearest-neighbour matching estimators of an
        average effect (Abadie & Imbens 2008), which is why Wu et al. recommend an
        m-out-of-n bootstrap --, but it is the one that was measured to be right in the
        coverage simulation of ``benchmarks/exposure_response_sim.py`` (n = 2000, 200
        replications, the local-quadratic curve reselecting its bandwidth in every
        replicate): in the interior of the exposure range its standard errors were 0.98
        times the estimate's spread and its 95% intervals covered 0.947 on average
        (0.92-0.98 by point), against 0.93 and 0.929 (0.88-0.97) for ``m = n^0.9`` with
        the ``"rate"`` scaling, the default before, and 0.75-0.85 for Wu et al.'s
        ``"2sqrt"`` (``2 sqrt(n)``, 89 of 2,000 units), whose standard errors are also
        3-10 times too large at the ends of the range (benchmarks/README.md, issue 16).
        Each replicate refits the GPS, the design and the curve on ``m`` units; a unit
        drawn k times enters the curve once with its weights summed, so that the
        bandwidth's leave-one-unit-out cross-validation leaves all its copies out.  That
        cross-validation is quadratic in the units up to about a thousand of them: at
        n = 2000 the default bootstrap takes about 1.7 times as long as ``m = n^0.9``.
        Give an m-out-of-n size (``"n^0.9"``, ``"n^0.8"``...) or ``n_jobs`` when that
        matters.
    scaling : {"auto", "rate", "sqrt"}
        How replicate spread becomes a standard error when ``m < n``: ``sd * sqrt(m / n)``
        (``"sqrt"``, Wu et al.: right for a sqrt(n)-rate curve such as a parametric fit),
        or ``"rate"``, which for a kernel smoother also rescales each replicate by
        ``sqrt(h_m / h_n)``, the ratio of its cross-validated bandwidth to the full-sample
        one: the smoother's variance is of order ``1 / (n h)``, and small resamples choose
        wider bandwidths, so ``"sqrt"`` understates it.  Parametric smoothers are scaled
        by ``sqrt(m / n)`` either way.  ``"auto"`` (default) is ``"sqrt"`` -- no scaling
        -- when ``m = n`` and ``"rate"`` otherwise: at ``m = n`` the bandwidth ratio
        measures only the ties of a with-replacement resample (in a 50-replication pilot
        of the simulation above, standard errors 0.95 times the spread with it, 1.00
        without).
    replace : bool
        Resample with replacement (m-out-of-n bootstrap) or without (subsampling, which
        needs ``m < n``).  A subsample of m distinct units varies about the full-sample
        estimate by ``V_m - V_n``, not ``V_m``, so its spread is scaled by
        ``sqrt(m / (n - m))`` instead of ``sqrt(m / n)`` (the delete-d jackknife's factor,
        Shao & Wu 1989; the two agree when ``m / n -> 0``).  That is exact for a linear
        statistic; a matched curve is less correlated with its subsamples (their match
        counts differ from the full sample's), so subsampling is conservative: at
        ``m = n^0.9`` its standard errors were about 1.16 times the estimate's spread in
        the pilot of ``benchmarks/exposure_response_boot_pilot.py`` (``--set
        subsampling``), against 0.98 with replacement, the default.
    groups : array-like, optional
        Cluster labels given to ``fit``: whole clusters are resampled (``m`` counts them).
    alpha : float
    n_jobs : int
        Bootstrap workers (joblib); results do not depend on it.
    random_state : int or None
        Seeds the bootstrap and any random GPS model.

    Attributes
    ----------
    design_ : the fitted design
    smoother_ : the fitted smoother
    result_ : ExposureResponseResult
    draws_ : ndarray (n_bootstrap, k) -- the replicate curves

    Examples
    --------
    >>> from causalsm.datasets import simulate_causalgps
    >>> df = simulate_causalgps(400, random_state=1)
    >>> X = df[["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]]
    >>> est = ExposureResponse(GPSMatching(scale=1.0, balance_threshold=0.3),
    ...                        smoother="parametric", eval_points=5, n_bootstrap=20,
    ...                        random_state=0).fit(X, df["w"], df["Y"])
    >>> est.result_.to_frame().shape
    (5, 8)
    """

    def __init__(self, design: Any = None, smoother: Any = "local_quadratic",
                 eval_points: Any = None, n_bootstrap: int = 200,
                 bootstrap_size: Any = "n", scaling: str = "auto", replace: bool = True,
                 alpha: float = 0.05, n_jobs: int = 1, random_state: Any = None):
        self.design = design
        self.smoother = smoother
        self.eval_points = eval_points
        self.n_bootstrap = n_bootstrap
        self.bootstrap_size = bootstrap_size
        self.scaling = scaling
        self.replace = replace
        self.alpha = alpha
        self.n_jobs = n_jobs
        self.random_state = random_state

    def _design(self):
        design = GPSMatching() if self.design is None else self.design
        if not isinstance(design, _GPSDesign):
            raise InputError(f"design must be GPSMatching(...) or GPSWeighting(...), got "
                             f"{type(design).__name__}")
        design = clone(design)
        if self.random_state is not None and design.random_state is None:
            design.set_params(random_state=self.random_state)
        return design

    def _points(self, w: np.ndarray) -> np.ndarray:
        spec = 100 if self.eval_points is None else self.eval_points
        if np.ndim(spec) == 0:
            k = check_int(spec, "eval_points", minimum=2)
            q5, q95 = np.quantile(w, [0.05, 0.95])
            return np.linspace(q5, q95, k)
        p = np.asarray(spec, dtype=np.float64).ravel()
        if p.size == 0 or not np.isfinite(p).all():
            raise InputError("eval_points must be finite exposure values")
        return p

    def fit(self, X, w, y, groups=None):
        """Fit the design, the curve and the bootstrap.

        Parameters
        ----------
        X : DataFrame or array of shape (n, p)
        w : array-like of shape (n,)
            The continuous exposure.
        y : array-like of shape (n,)
            The outcome.
        groups : array-like of shape (n,), optional
            Cluster labels for the bootstrap.

        Returns
        -------
        self
        """
        names = (getattr(w, "name", None), getattr(y, "name", None))
        Xa, cols, wa, ya = check_exposure_data(X, w, y)
        n = Xa.shape[0]
        if self.scaling not in ("auto", "sqrt", "rate"):
            raise InputError(f"scaling must be 'auto', 'sqrt' or 'rate', got "
                             f"{self.scaling!r}")
        alpha = float(self.alpha)
        if not 0 < alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha!r}")
        self.design_ = self._design().fit(pd.DataFrame(Xa, columns=cols),
                                          pd.Series(wa, name=names[0]))
        kept = self.design_.kept_
        points = self._points(wa[kept])
        self.smoother_ = clone(make_smoother(self.smoother)).fit(
            wa[kept], ya[kept], self.design_.weights_[kept], points)
        estimate = np.asarray(self.smoother_.predict(points), dtype=np.float64)

        n_boot = check_int(self.n_bootstrap, "n_bootstrap", minimum=0)
        se = np.full(points.size, np.nan)
        crit = float("nan")
        details = {"ess": self.design_.ess_, **{
            k: v for k, v in self.smoother_.details_.items() if np.ndim(v) == 0}}
        if n_boot:
            if groups is not None:
                groups = np.asarray(groups)
                if groups.shape[0] != n:
                    raise InputError(f"groups has {groups.shape[0]} labels for {n} rows")
            units = n if groups is None else np.unique(groups).size
            m = resample_size(self.bootstrap_size, units)
            if not self.replace and m >= units:
                raise InputError(f"subsampling (replace=False) needs bootstrap_size below "
                                 f"the {units} {'clusters' if groups is not None else 'units'}"
                                 f", got m = {m}")
            if m < 100:
                warnings.warn(f"the bootstrap resamples only m = {m} "
                              f"{'units' if groups is None else 'clusters'}; its bands are "
                              "rough (the m-out-of-n bootstrap needs a large m)",
                              RuntimeWarning, stacklevel=2)
            template = clone(self.design_)
            template.set_params(**{k: getattr(self.design_, f"{k}_")
                                   for k in ("delta_n", "scale") if hasattr(self.design_, k)},
                                max_attempt=1)
            scaling = self.scaling if self.scaling != "auto" else (
                "sqrt" if m == units else "rate")
            rate = scaling == "rate" and hasattr(self.smoother_, "bandwidth_")
            smoother = clone(self.smoother_)
            grid = self.smoother_.details_.get("bandwidth_grid")
            if grid is not None and "bandwidth" in smoother.get_params():
                smoother.set_params(bandwidth=grid)       # the same grid, reselected

            def replicate(idx, rng):
                design = clone(template)
                if design.random_state is not None:
                    design.set_params(random_state=int(rng.integers(2 ** 31 - 1)))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    design.fit(Xa[idx], wa[idx])
                    keep = design.kept_
                    # A unit drawn k times is one unit of weight summed over its copies,
                    # so that the bandwidth's leave-one-unit-out CV leaves all its copies
                    # out (left in, a copy at the same exposure makes small bandwidths
                    # look good: with weighting the bands then over-covered, 0.98).
                    units, inverse = np.unique(idx[keep], return_inverse=True)
                    weight = np.bincount(inverse, weights=design.weights_[keep],
                                         minlength=units.size)
                    fit = clone(smoother).fit(wa[units], ya[units], weight, points)
                    curve = fit.predict(points)
                h = getattr(fit, "bandwidth_", np.nan)
                return np.append(curve, h)

            seed = seed_sequence(self.random_state)
            draws, failed = resample_replicates(
                replicate, n, size=m, n_replicates=n_boot, replace=bool(self.replace),
                groups=groups, random_state=seed, n_jobs=self.n_jobs)
            curves, h_b = draws[:, :-1], draws[:, -1]
            # m of n with replacement: the replicates' variance is V_m, so V_n = var m / n;
            # without (subsampling), it is V_m - V_n, so V_n = var m / (n - m) (the
            # delete-d jackknife's factor; Shao & Wu 1989)
            ratio = m / units if self.replace else m / (units - m)
            factor = np.full(n_boot, np.sqrt(ratio))
            if rate:
                factor = factor * np.sqrt(h_b / self.smoother_.bandwidth_)
            self.draws_ = curves
            dev = (curves - np.nanmean(curves, axis=0)) * factor[:, None]
            ok = np.isfinite(dev)
            with np.errstate(invalid="ignore"):
                se = np.sqrt(np.nansum(dev ** 2, axis=0) / np.maximum(ok.sum(0) - 1, 1))
            se[ok.sum(0) < 2] = np.nan
            crit = _band(curves, estimate, se, alpha, factor)
            details.update(bootstrap_size=int(m), n_bootstrap=n_boot, n_failed=failed,
                           n_na_min=int(n_boot - ok.sum(0).max()) if n_boot else 0,
                           scaling=scaling, band_critical_value=crit)
            full = self.replace and m == units
            kind = ("bootstrap" if full else "m-out-of-n bootstrap" if self.replace
                    else "subsampling")
            variance = (f"{kind}, m = {m} of {units}{' clusters' if groups is not None else ''}"
                        f", {n_boot} replicates, SE = sd"
                        + ("" if full else
                           f" * sqrt(m/{'n' if self.replace else '(n-m)'})")
                        + (" * sqrt(h_m/h_n)" if rate else ""))
            if failed:
                warnings.warn(f"{failed} of {n_boot} bootstrap replicates failed",
                              RuntimeWarning, stacklevel=2)
        else:
            self.draws_ = np.zeros((0, points.size))
            variance = "none (n_bootstrap = 0)"
        z = stats.norm.ppf(1 - alpha / 2)
        with np.errstate(invalid="ignore", divide="ignore"):
            p_value = 2 * stats.norm.sf(np.abs(estimate / se))
        d = self.design_
        details.update({k: getattr(d, f"{k}_") for k in ("delta_n", "scale", "n_empty_levels")
                        if hasattr(d, f"{k}_")})
        details.update(balance=d.balance_value_, balance_passed=d.passed_,
                       attempts=len(d.attempts_))
        if hasattr(d, "levels_"):
            details["n_levels"] = int(len(d.levels_))
        self.result_ = ExposureResponseResult(
            estimand="ERF", exposure=points, estimate=estimate, std_error=se,
            ci_lower=estimate - z * se, ci_upper=estimate + z * se, p_value=p_value,
            band_lower=estimate - crit * se, band_upper=estimate + crit * se,
            method=f"{d.describe()}; {self._describe_smoother()}", variance=variance,
            n=int(n), n_used=int(kept.sum()), n_dropped=int(d.n_trimmed_), alpha=alpha,
            balance=d.balance_, treatment=str(names[0] or "exposure"),
            outcome=str(names[1] or "outcome"),
            details={k: (float(v) if isinstance(v, (np.floating, float)) else v)
                     for k, v in details.items()})
        return self

    def _describe_smoother(self) -> str:
        s = self.smoother_
        name = type(s).__name__
        if hasattr(s, "bandwidth_"):
            kind = "local-linear" if s.degree == 1 else "local-quadratic (bias-corrected)"
            return f"{kind} curve (bandwidth {s.bandwidth_:.4g}, {s.selector} selector)"
        if name == "ParametricERF":
            return f"parametric curve ({s.details_['formula']}, {s.family})"
        if name == "SplineERF":
            return f"penalised spline curve (df {s.df}, GCV penalty {s.details_['alpha']:.3g})"
        return name

    def predict(self, points) -> np.ndarray:
        """The estimated curve at other exposures (no bands)."""
        if not hasattr(self, "smoother_"):
            raise not_fitted(self, "fit(X, w, y)")
        return np.asarray(self.smoother_.predict(points), dtype=np.float64)
