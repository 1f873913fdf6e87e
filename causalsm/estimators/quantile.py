"""Multiply robust (double score) matching for average and quantile effects.

Yang & Zhang (2023, Scand. J. Statist. 50:235-265), as the authors' R package
dsmatch implements it, generalised to any number of candidate models:

1. fit every propensity model (score: the linear predictor) and every prognostic
   model (``mu0, mu1`` per arm; ``mu0`` only for the ATT/QTT) and stack them into
   the double score ``S``;
2. standardise each column of ``S`` and match with the Mahalanobis distance,
   ``n_neighbors`` matches with replacement (1 by default), ties broken at random;
   ``K_M(i)`` is the number of times unit ``i`` is used as a match;
3. de-biasing sieve: within each arm ``a``, OLS of ``Y`` on a polynomial basis of
   the *unstandardised* scores plus an intercept, giving ``mu_a(S)`` and
   ``sigma_a^2`` (mean squared residual).  dsmatch uses the quadratic basis (main
   effects, squares, pairwise products and, for the ATE's three scores, their product:
   ``sieve_degree=2``, which reproduces dsmatch's estimates); causalsm's default
   is the linear one (``sieve_degree=1``).  When a prognostic model is correct its
   column of ``S`` *is* ``E[Y(a) | S]``, so the linear sieve is exact; when only a
   propensity model is correct the sieve only has to absorb the small matching
   discrepancy, and the quadratic fit, extrapolated from one arm into the other,
   adds bias instead (0.10 = 0.8 SD at n = 1000 in ``benchmarks/multiply_robust_sim.py``,
   against 0.003 for the linear sieve; see ``benchmarks/README.md``);
4. average effect by the linear identity of the bias-corrected estimator:
   ``tau = n^-1 sum [mu1(S) - mu0(S) + (2A - 1)(1 + K)(Y - mu_A(S))]`` (ATE) or
   ``tau_t = n1^-1 sum (A - (1 - A) K)(Y - mu0(S))`` (ATT);
5. quantiles of ``Y(a)`` by bisection of the bias-corrected imputed distribution
   function, with a working normal law ``N(mu_a(S), sigma_a^2)`` for the correction:
   ``F_a(q) = n^-1 sum [Phi_a(q | S) + 1{A = a}(1 + K)(1{Y < q} - Phi_a(q | S))]``
   (with one match and no ties this is dsmatch's
   ``n^-1 sum 1{Y_i(a) < q} - n^-1 sum_{A_i != a} [Phi(q | S_j(i)) - Phi(q | S_i)]``).
   For the QTT, ``Y(1)`` is observed on the treated: its quantile is their sample
   quantile with linear interpolation (numpy's default, R's ``quantile`` type 7, as
   dsmatch's ``quantile(Y[A == 1], p)``), and only the quantile of ``Y(0)`` is solved;
6. variance: the bootstrap of these linear forms, rows resampled *with their match
   counts held fixed* (no re-matching, which is invalid: Abadie & Imbens 2008), the
   score models and the sieve refitted in every replicate.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from scipy import special, stats
from sklearn.base import BaseEstimator, clone
from sklearn.preprocessing import PolynomialFeatures

from .._validation import InputError, check_int, check_xy, seed_sequence
from ..matching.nearest import match
from ..scores.covariates import CovariateScore
from ..scores.prognostic import DoubleScore, _model_list
from ..sensitivity.evalue import outcome_details
from ..sensitivity.sets import sets_or_reason
from .results import EffectResult, Result, wald

__all__ = ["MultiplyRobustMatching", "QuantileEffectResult", "dsm_statistics",
           "sieve_basis"]

_SIEVE_NAMES = {1: "linear", 2: "quadratic", 3: "cubic"}
_BISECT_TOL = 1e-10
# Ties broken at random are candidates equally distant up to rounding: squared
# Mahalanobis distances within this (plus the 1e-10 of R's rule) of the k-th nearest.
_ROUNDING = 1e-12
_BISECT_MAX = 100


# ------------------------------------------------------------------ the core
def sieve_basis(S: np.ndarray, degree: int = 1) -> np.ndarray:
    """Polynomial sieve of the scores: all monomials up to ``degree`` (no intercept);
    for ``degree=2`` with three or more columns also the product of all of them.

    ``degree=2`` is dsmatch's basis: main effects, squares, pairwise products and, for
    the ATE's three scores ``(ps, mu0, mu1)``, the product ``ps * mu0 * mu1`` (10 terms;
    the ATT's two scores ``(ps, mu0)`` give 5).  Columns are centred and scaled first (the
    span, with an intercept, is the same; the least-squares fit is better conditioned).

    >>> sieve_basis(np.arange(12.0).reshape(4, 3) ** 1.5, degree=2).shape
    (4, 10)
    """
    S = np.asarray(S, dtype=np.float64)
    sd = S.std(axis=0)
    Z = (S - S.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if degree == 1:
        return Z
    B = PolynomialFeatures(degree, include_bias=False).fit_transform(Z)
    if degree == 2 and Z.shape[1] >= 3:
        B = np.column_stack([B, Z.prod(axis=1)])
    return B


def _arm_fit(B: np.ndarray, y: np.ndarray, mask: np.ndarray) -> tuple[np.ndarray, float]:
    """OLS of y on (1, B) within ``mask``: predictions for all rows, residual variance."""
    D = np.column_stack([np.ones(B.shape[0]), B])
    coef = np.linalg.lstsq(D[mask], y[mask], rcond=None)[0]
    pred = D @ coef
    return pred, float(np.mean((y[mask] - pred[mask]) ** 2))


def _solve_cdf(xi: np.ndarray, y: np.ndarray, d: np.ndarray, c: np.ndarray,
               mu: np.ndarray, sigma: float, lo: float, hi: float) -> np.ndarray:
    """Solve ``G(q) = sum_i d_i 1{y_i < q} + sum_i c_i Phi((q - mu_i) / sigma) = xi``.

    Bisection on ``[lo, hi]`` for every ``xi`` at once (to 1e-10 of the range, at most
    100 halvings; dsmatch uses 1e-12 in absolute terms).
    """
    order = np.argsort(y, kind="stable")
    ys = y[order]
    cum = np.concatenate([[0.0], np.cumsum(d[order])])
    use = c != 0
    cu, mu_u = c[use], mu[use]
    s = sigma if sigma > 0 else 1e-12
    a = np.full(xi.shape, lo, dtype=np.float64)
    b = np.full(xi.shape, hi, dtype=np.float64)
    tol = _BISECT_TOL * max(1.0, hi - lo)
    for _ in range(_BISECT_MAX):
        mid = 0.5 * (a + b)
        G = cum[np.searchsorted(ys, mid, side="left")]
        if cu.size:
            G = G + special.ndtr((mid[:, None] - mu_u[None, :]) / s) @ cu
        low = G < xi
        a = np.where(low, mid, a)
        b = np.where(low, b, mid)
        if np.max(b - a) < tol:
            break
    return 0.5 * (a + b)


def dsm_statistics(S: np.ndarray, t: np.ndarray, y: np.ndarray, K: np.ndarray,
                   estimand: str, quantiles: np.ndarray | None = None,
                   sieve_degree: int = 1) -> dict:
    """The de-biased double score matching statistics from scores and match counts.

    Parameters
    ----------
    S : ndarray, shape (n, d)
        Unstandardised double score (the sieve's regressors).
    t, y : ndarray, shape (n,)
    K : ndarray, shape (n,)
        Match counts ``K_M`` (times each unit is used as a match, ties sharing one).
    estimand : {"ATE", "ATT"}
    quantiles : ndarray, optional
        Quantile levels in (0, 1).

    Returns
    -------
    dict with ``average`` (bias-corrected average effect), ``unadjusted`` (the plain
    matching estimate), and when ``quantiles`` is given ``q1``, ``q0`` (quantiles of
    ``Y(1)``, ``Y(0)``) and ``qte = q1 - q0``.

    Examples
    --------
    >>> t = np.array([1, 1, 0, 0]); y = np.array([3.0, 5.0, 1.0, 2.0])
    >>> S = np.array([[0.0], [1.0], [0.1], [0.9]]); K = np.array([0.0, 0.0, 1.0, 1.0])
    >>> round(dsm_statistics(S, t, y, K, "ATT")["unadjusted"], 6)
    2.5
    """
    n = t.shape[0]
    t = t.astype(np.int64)
    B = sieve_basis(S, sieve_degree)
    sign = 2.0 * t - 1.0
    out: dict[str, Any] = {}
    if estimand == "ATE":
        mu = {}
        sig = {}
        for a in (0, 1):
            mu[a], sig[a] = _arm_fit(B, y, t == a)
        mu_obs = np.where(t == 1, mu[1], mu[0])
        out["average"] = float(np.mean(mu[1] - mu[0] + sign * (1 + K) * (y - mu_obs)))
        out["unadjusted"] = float(np.mean(sign * (1 + K) * y))
    else:
        n1 = float(t.sum())
        mu0, s0 = _arm_fit(B, y, t == 0)
        mu = {0: mu0}
        sig = {0: s0}
        wt = t - (1 - t) * K
        out["average"] = float(np.sum(wt * (y - mu0)) / n1)
        out["unadjusted"] = float(np.sum(wt * y) / n1)
    if quantiles is not None:
        xi = np.asarray(quantiles, dtype=np.float64)
        q = {}
        for a in (0, 1):
            ya = y[t == a]
            lo, hi = float(ya.min()), float(ya.max())
            if estimand == "ATE":
                ind = (t == a) * (1 + K)
                d, c = ind / n, (1.0 - ind) / n
                q[a] = _solve_cdf(xi, y, d, c, mu[a], math.sqrt(sig[a]), lo, hi)
            elif a == 1:     # QTT: the treated arm's sample quantile (R's type 7, as dsmatch)
                q[a] = np.quantile(y[t == 1], xi)
            else:
                n1 = float(t.sum())
                d = (1 - t) * K / n1
                c = (t - (1 - t) * K) / n1
                q[a] = _solve_cdf(xi, y, d, c, mu[0], math.sqrt(sig[0]), lo, hi)
        out["q1"], out["q0"] = q[1], q[0]
        out["qte"] = q[1] - q[0]
    return out


def _replicate_block(score, Xin, t, y, K, estimand, quantiles, sieve_degree, seeds):
    """Bootstrap replicates: resample rows (with their K), refit the scores, recompute."""
    n = t.shape[0]
    nq = 0 if quantiles is None else len(quantiles)
    rows = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, n, size=n)
        Xb = Xin.iloc[idx] if isinstance(Xin, pd.DataFrame) else Xin[idx]
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                sc = score.fit(Xb, t[idx], outcome=y[idx])   # a private copy (see caller)
                Sb = np.asarray(sc.transform(Xb), dtype=np.float64).reshape(n, -1)
                r = dsm_statistics(Sb, t[idx], y[idx], K[idx], estimand, quantiles,
                                   sieve_degree)
            rows.append(np.concatenate([[r["average"]],
                                        r["qte"] if nq else [],
                                        r["q1"] if nq else [],
                                        r["q0"] if nq else []]))
        except Exception:                        # noqa: BLE001 - counted and reported
            rows.append(np.full(1 + 3 * nq, np.nan))
    return np.asarray(rows, dtype=np.float64).reshape(len(seeds), 1 + 3 * nq)


def check_quantiles(quantiles: Any) -> np.ndarray:
    """Quantile levels as a sorted-as-given float array in (0, 1), or :class:`InputError`."""
    try:
        q = np.atleast_1d(np.asarray(quantiles, dtype=np.float64))
    except (TypeError, ValueError):
        raise InputError(f"quantiles must be numbers in (0, 1), got {quantiles!r}") from None
    if q.ndim != 1 or q.size == 0:
        raise InputError("quantiles must be a non-empty list of numbers in (0, 1)")
    bad = ~np.isfinite(q) | (q <= 0) | (q >= 1)
    if bad.any():
        raise InputError(f"quantiles must lie strictly between 0 and 1; got "
                         f"{', '.join(f'{v:g}' for v in q[bad])}")
    return q


# ------------------------------------------------------------------ results
_QUANTILE_NOT_COVERED = (
    "sensitivity analysis of quantile effects is not covered: E-values are defined for "
    "ratios and mean differences, and multiply robust matching matches with replacement, "
    "so its matched sets overlap (no Rosenbaum bound).  For the hypothesis of no effect at "
    "all, match without replacement and use EffectResult.sensitivity()")


@dataclass
class QuantileEffectResult(Result):
    """Quantile treatment effects at several quantile levels.

    Attributes
    ----------
    estimand : str
        ``"QTE"`` (quantiles of ``Y(1)`` and ``Y(0)`` in the population) or ``"QTT"``
        (in the treated).
    quantiles : ndarray
        Quantile levels.
    estimate, std_error, ci_lower, ci_upper, p_value : ndarray
        Per quantile level: ``q1 - q0``, its standard error, the Wald interval at
        level ``1 - alpha`` and the two-sided p-value for no effect.
    quantile_treated, quantile_control : ndarray
        The estimated quantiles ``q1`` and ``q0`` of the potential outcomes.
    method, variance : str
    n_treated, n_control : int
    alpha : float
    details : dict
    """

    estimand: str
    quantiles: np.ndarray
    estimate: np.ndarray
    std_error: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    p_value: np.ndarray
    quantile_treated: np.ndarray
    quantile_control: np.ndarray
    method: str
    variance: str
    n_treated: int
    n_control: int
    alpha: float = 0.05
    details: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per quantile level (float64 and str columns only)."""
        return pd.DataFrame({
            "estimand": [self.estimand] * len(self.quantiles),
            "quantile": np.asarray(self.quantiles, dtype=np.float64),
            "estimate": np.asarray(self.estimate, dtype=np.float64),
            "std_error": np.asarray(self.std_error, dtype=np.float64),
            "ci_lower": np.asarray(self.ci_lower, dtype=np.float64),
            "ci_upper": np.asarray(self.ci_upper, dtype=np.float64),
            "p_value": np.asarray(self.p_value, dtype=np.float64),
            "quantile_treated": np.asarray(self.quantile_treated, dtype=np.float64),
            "quantile_control": np.asarray(self.quantile_control, dtype=np.float64),
        })

    def _summary_text(self) -> str:
        level = int(round(100 * (1 - self.alpha)))
        lines = [f"{'Matching estimate of the ' + self.estimand:^78}", "=" * 78,
                 f"Method:    {self.method}", f"Variance:  {self.variance}",
                 f"Units:     {self.n_treated} treated, {self.n_control} control",
                 "-" * 78,
                 f"{'quantile':>8}{'q1':>11}{'q0':>11}{'estimate':>11}{'std.err':>10}"
                 f"{'P>|z|':>8}{'[' + str(level) + '% conf.':>11}{'int.]':>9}"]
        for k in range(len(self.quantiles)):
            lines.append(
                f"{self.quantiles[k]:>8.3g}{self.quantile_treated[k]:>11.5g}"
                f"{self.quantile_control[k]:>11.5g}{self.estimate[k]:>11.5g}"
                f"{self.std_error[k]:>10.4g}{self.p_value[k]:>8.4f}"
                f"{self.ci_lower[k]:>11.5g}{self.ci_upper[k]:>9.5g}")
        lines.append("=" * 78)
        return "\n".join(lines)

    def sensitivity(self, *args, **kwargs):
        """Not covered; see the module :mod:`causalsm.sensitivity`."""
        raise InputError(_QUANTILE_NOT_COVERED)

    def evalue(self, *args, **kwargs):
        """Not covered; see the module :mod:`causalsm.sensitivity`."""
        raise InputError(_QUANTILE_NOT_COVERED)

    def plot(self, ax=None, *, color: str = "C0", label: str | None = None):
        """The effect against the quantile level, with its pointwise confidence band.

        Returns
        -------
        matplotlib.axes.Axes
        """
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        q = np.asarray(self.quantiles)
        level = int(round(100 * (1 - self.alpha)))
        ax.fill_between(q, self.ci_lower, self.ci_upper, color=color, alpha=0.25,
                        label=f"{level}% CI")
        ax.plot(q, self.estimate, marker="o", color=color, label=label or self.estimand)
        ax.axhline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_xlabel("quantile level")
        ax.set_ylabel(f"{self.estimand}: q1 - q0")
        ax.legend(loc="best")
        return ax


# ------------------------------------------------------------------ estimator
class MultiplyRobustMatching(BaseEstimator):
    """Multiply robust (double score) matching for the ATE/ATT and the QTE/QTT.

    Matches on the stacked scores of several candidate propensity and prognostic
    models; the de-biased estimator is consistent when any one propensity model or
    any one prognostic model is correct (Yang & Zhang 2023; the algorithm of their
    R package dsmatch, see the module docstring).

    Parameters
    ----------
    propensity_models : list, optional
        Propensity score objects (:class:`~causalsm.PropensityScore`, a neural
        score's ``output="logit"``...) or classifiers with ``predict_proba``.
        Default: one logistic regression on all covariates.
    prognostic_models : list, optional
        :class:`~causalsm.PrognosticScore` objects or regressors.  Default: one OLS
        per arm on all covariates.
    estimand : {"ATE", "ATT"}
        ``"ATE"`` gives the ATE and the QTE, ``"ATT"`` the ATT and the QTT.
    quantiles : list of float in (0, 1), optional
        Quantile levels of the quantile effects; ``None`` estimates the average only.
    n_neighbors : int
        Matches per unit (with replacement).  The imputed distribution of ``Y(a)``
        gives each of the matches of a unit the mass ``1 / n_neighbors``.
    ties : bool
        ``False`` (default, as dsmatch): equidistant candidates are broken at random
        (seeded by ``random_state``); ``True`` keeps them, sharing one match.  The
        other estimators keep ties (Abadie-Imbens); here the bootstrap of the linear
        form and the parity with dsmatch assume exactly ``n_neighbors`` matches.
    sieve_degree : int
        Degree of the polynomial in the scores that de-biases the matches (and
        centres the working normal law of the quantile correction).  1 (default)
        is linear; 2 is dsmatch's quadratic sieve (with it the estimates equal
        dsmatch's for the ATE, ATT, QTE and QTT; ``tests/test_multiply_robust_parity.py``).
        See the module docstring for why the default departs from dsmatch.
    n_bootstrap : int
        Bootstrap replicates of the linear form (dsmatch's default is 100): a standard
        error, not a percentile interval, is taken from them, so 200 suffice.
    alpha : float
        1 - confidence level of the Wald intervals ``estimate +- z SE``.
    n_jobs : int
        joblib workers for the bootstrap; results do not depend on it.
    random_state : int or None
        Seeds tie-breaking and the bootstrap (replicate ``b`` uses child ``b + 1``
        of ``numpy.random.SeedSequence(random_state)``; child 0 breaks ties).
    verbose : bool
        Show a tqdm progress bar over the bootstrap replicates.

    Attributes
    ----------
    balancing_score_ : DoubleScore
        The fitted stacked score.
    scores_ : ndarray, shape (n, d)
        The unstandardised double score of every unit.
    matches_ : MatchResult
    effect_ : EffectResult
        The average effect (ATE or ATT).
    quantile_effect_ : QuantileEffectResult or None
    bootstrap_ : pandas.DataFrame
        One row per replicate: ``average``, then ``qte_<level>``, ``q1_<level>``,
        ``q0_<level>``.

    Examples
    --------
    >>> import numpy as np
    >>> import causalsm as csm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 2))
    >>> t = (rng.random(300) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    >>> y = X[:, 0] + X[:, 1] + 2 * t + rng.normal(size=300)
    >>> est = csm.MultiplyRobustMatching(quantiles=[0.5], n_bootstrap=20,
    ...                                  random_state=0).fit(X, t, y)
    >>> lo, hi = est.effect_.conf_int()
    >>> bool(lo < 2 < hi), est.quantile_effect_.estimate.shape
    (True, (1,))
    """

    def __init__(self, propensity_models=None, prognostic_models=None, *,
                 estimand: str = "ATE", quantiles=None, n_neighbors: int = 1,
                 ties: bool = False, sieve_degree: int = 1, n_bootstrap: int = 200, alpha: float = 0.05,
                 n_jobs: int = 1, random_state: Any = None, verbose: bool = False):
        self.propensity_models = propensity_models
        self.prognostic_models = prognostic_models
        self.estimand = estimand
        self.quantiles = quantiles
        self.n_neighbors = n_neighbors
        self.ties = ties
        self.sieve_degree = sieve_degree
        self.n_bootstrap = n_bootstrap
        self.alpha = alpha
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    def _make_score(self) -> DoubleScore:
        ps = None if self.propensity_models is None \
            else _model_list(self.propensity_models, "propensity")
        pg = None if self.prognostic_models is None \
            else _model_list(self.prognostic_models, "prognostic")
        arms = "both" if str(self.estimand).upper() == "ATE" else "control"
        return DoubleScore(propensity=ps, prognostic=pg, arms=arms)

    def fit(self, X, t, y):
        """Fit the scores, match, estimate, and bootstrap.  Returns ``self``."""
        estimand = str(self.estimand).upper() if isinstance(self.estimand, str) else None
        if estimand not in ("ATE", "ATT"):
            raise InputError(f"estimand must be 'ATE' or 'ATT' for multiply robust "
                             f"matching, got {self.estimand!r}")
        quantiles = None if self.quantiles is None else check_quantiles(self.quantiles)
        k = check_int(self.n_neighbors, "n_neighbors")
        B = check_int(self.n_bootstrap, "n_bootstrap", minimum=2)
        deg = check_int(self.sieve_degree, "sieve_degree")
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")
        data = check_xy(X, t, y, min_per_arm=max(2, k))
        Xin = X if isinstance(X, pd.DataFrame) else data.X
        score = self._make_score()
        S = np.asarray(score.fit(Xin, data.t, outcome=data.y).transform(Xin),
                       dtype=np.float64).reshape(data.n, -1)
        if not np.isfinite(S).all():
            raise InputError("a score model returned non-finite values (a propensity of "
                             "exactly 0 or 1?)")
        seeds = seed_sequence(self.random_state).spawn(B + 1)
        Z = CovariateScore(scale="mahalanobis").fit(S).transform(S)
        m = match(Z, data.t, estimand=estimand, n_neighbors=k, replace=True,
                  ties=bool(self.ties), distance_tolerance=1e-5 if self.ties else _ROUNDING,
                  standardize=False, random_state=np.random.default_rng(seeds[0]),
                  index=data.index)
        K = m.match_count
        point = dsm_statistics(S, data.t, data.y, K, estimand, quantiles, deg)

        draws = self._bootstrap(score, Xin, data, K, estimand, quantiles, deg, seeds[1:])
        ok = np.isfinite(draws).all(axis=1)
        n_failed = int((~ok).sum())
        if n_failed:
            warnings.warn(f"{n_failed} of {B} bootstrap replicates failed (a model could "
                          "not be refitted on the resample) and were left out",
                          RuntimeWarning, stacklevel=2)
        good = draws[ok]
        if good.shape[0] < 2:
            raise InputError("the bootstrap failed: fewer than 2 replicates could be "
                             "computed")
        sd = good.std(axis=0, ddof=1)
        nq = 0 if quantiles is None else len(quantiles)
        cols = ["average"] + [f"{p}_{v:g}" for p in ("qte", "q1", "q0")
                              for v in (quantiles if nq else [])]
        self.bootstrap_ = pd.DataFrame(draws, columns=cols)

        nps = len(score.propensity_scores_)
        npg = len(score.prognostic_scores_)
        how = "with random tie-breaking" if not self.ties else "ties kept"
        method = (f"double score matching on {S.shape[1]} scores ({nps} propensity, {npg} "
                  f"prognostic model{'s' if npg > 1 else ''}), {k}-NN with replacement, "
                  f"Mahalanobis distance, {how}; de-biased by a "
                  f"{_SIEVE_NAMES.get(deg, f'degree-{deg}')} sieve")
        vlabel = (f"bootstrap of the linear form ({good.shape[0]} replicates; match counts "
                  "held fixed, score models and sieve refitted)")
        lo_hi = np.quantile(good[:, 0], [self.alpha / 2, 1 - self.alpha / 2])
        se = float(sd[0])
        ci, p = wald(point["average"], se, self.alpha)
        n1 = int(data.t.sum())
        self.balancing_score_ = score
        self.scores_ = S
        self.matches_ = m
        self.effect_ = EffectResult(
            estimand=estimand, estimate=point["average"], std_error=se,
            ci_lower=float(ci[0]), ci_upper=float(ci[1]), p_value=float(p), method=method,
            variance=vlabel, n_treated=n1, n_control=int(data.n - n1),
            n_matched=m.n_matched, n_dropped=m.n_dropped, alpha=self.alpha,
            details={"estimate_unadjusted": point["unadjusted"], "n_bootstrap": int(B),
                     "n_bootstrap_failed": n_failed,
                     "ci_percentile": [float(lo_hi[0]), float(lo_hi[1])],
                     "score_columns": [str(c) for c in score.get_feature_names_out()],
                     **outcome_details(data.y, data.t, m.weights)},
            _sets=sets_or_reason(m, data.y))
        self.quantile_effect_ = None
        if nq:
            se_q = sd[1:1 + nq]
            z = stats.norm.ppf(1 - self.alpha / 2)
            est_q = point["qte"]
            with np.errstate(divide="ignore", invalid="ignore"):
                pv = np.where(se_q > 0, 2 * stats.norm.sf(np.abs(est_q / se_q)), np.nan)
            self.quantile_effect_ = QuantileEffectResult(
                estimand="QTE" if estimand == "ATE" else "QTT",
                quantiles=quantiles, estimate=est_q, std_error=se_q,
                ci_lower=est_q - z * se_q, ci_upper=est_q + z * se_q, p_value=pv,
                quantile_treated=point["q1"], quantile_control=point["q0"],
                method=method, variance=vlabel, n_treated=n1, n_control=int(data.n - n1),
                alpha=self.alpha,
                details={"n_bootstrap": int(B), "n_bootstrap_failed": n_failed,
                         "std_error_q1": sd[1 + nq:1 + 2 * nq].tolist(),
                         "std_error_q0": sd[1 + 2 * nq:].tolist()})
        return self

    def _bootstrap(self, score, Xin, data, K, estimand, quantiles, sieve_degree, seeds):
        """Replicates in blocks over joblib workers; each replicate has its own seed."""
        B = len(seeds)
        n_jobs = check_int(self.n_jobs, "n_jobs", minimum=None) if self.n_jobs is not None else 1
        workers = max(1, n_jobs if n_jobs > 0 else 4)
        size = max(1, min(25, math.ceil(B / (4 * workers))))
        blocks = [seeds[s:s + size] for s in range(0, B, size)]
        unfitted = clone(score)         # refitted in place, replicate after replicate
        tasks = (delayed(_replicate_block)(unfitted, Xin, data.t, data.y, K, estimand,
                                           quantiles, sieve_degree, blk) for blk in blocks)
        parts = []
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm
            bar = tqdm(total=B, desc="bootstrap", unit="rep")
        try:
            for part in Parallel(n_jobs=n_jobs, return_as="generator")(tasks):
                parts.append(part)
                if bar is not None:
                    bar.update(part.shape[0])
        finally:
            if bar is not None:
                bar.close()
        return np.concatenate(parts, axis=0)
