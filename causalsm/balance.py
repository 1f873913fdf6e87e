"""Covariate balance diagnostics.

Balance statistics before (unweighted) and after matching or weighting, defined
exactly as MatchIt's ``summary.matchit()`` (MatchIt 4.5) computes them, so the
numbers can be compared one to one with R:

* **standardized mean difference** (SMD): difference of the (weighted) arm means
  divided by a standard deviation computed on the *full, unweighted* sample -- the
  treated arm's SD for the ATT, the control arm's for the ATC and
  ``sqrt((s1^2 + s0^2) / 2)`` for the ATE.  The denominator does not change with the
  weights, so before and after values are on the same scale.
* **variance ratio**: weighted variance of the treated arm over that of the control
  arm, with "reliability" weights: ``sum(w (x - m)^2) / (1 - sum(w^2))`` for weights
  ``w`` normalised to sum to one within the arm.  Not defined (NaN) for binary
  covariates.
* **eCDF statistics**: mean and maximum, over the distinct values of the covariate,
  of the absolute difference between the weighted empirical CDFs of the two arms
  (the maximum is the weighted Kolmogorov-Smirnov statistic).  For a binary
  covariate MatchIt reports the absolute difference in proportions for both.

A covariate is *binary* when every value is 0 or 1.  For binary covariates the SMD
uses the variance ``p (1 - p)`` (MatchIt's default); ``binary="raw"`` reports the raw
difference in proportions instead, as cobalt does by default.

Two multivariate summaries complement the per-covariate table: the *linear MMD*
(squared distance between the arms' weighted mean vectors of standardised
covariates) and the *Gaussian-kernel MMD* (squared maximum mean discrepancy, biased
V-statistic, on standardised covariates), computed in row blocks so memory stays
``O(block_size * n)``.

Weights are matching weights as MatchIt returns them (``m$weights``): a unit with
weight 0 is unmatched and does not count after matching.  Inputs are never
modified.  The module needs only numpy, scipy and pandas; plots live in
:mod:`causalsm.plotting`.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist, pdist

from ._validation import (InputError, check_array, check_estimand, check_treatment,
                          check_weights)

__all__ = [
    "standardized_mean_difference",
    "variance_ratio",
    "ecdf_stats",
    "linear_mmd",
    "gaussian_mmd",
    "median_bandwidth",
    "balance_table",
    "balance_summary",
    "multilevel_balance_table",
    "weighted_ranks",
    "exposure_correlation",
    "exposure_balance",
]

_EPS = float(np.sqrt(np.finfo(float).eps))     # R's sqrt(.Machine$double.eps)
_DENOMINATORS = ("treated", "control", "pooled")
_ESTIMAND_DENOMINATOR = {"ATT": "treated", "ATC": "control", "ATE": "pooled"}
_MEDIAN_MAX_ROWS = 2000       # rows used by the median heuristic (pairs ~ 2e6)
_BLOCK_ELEMENTS = 1 << 22     # default kernel block: about 4M entries (32 MB)


# --------------------------------------------------------------------------- inputs
def _prepare(X: Any, t: Any, weights: Any = None, *,
             columns: Sequence[str] | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, list[str], bool]:
    """Validated copies: ``(X (n, p) float, t (n,) int, w (n,) float or None, names,
    X_was_1d)``."""
    was_1d = not isinstance(X, pd.DataFrame) and np.ndim(X) == 1
    if isinstance(X, pd.DataFrame) and columns is not None:
        missing = [c for c in columns if c not in X.columns]
        if missing:
            raise InputError(f"column(s) {missing} not in X; available: "
                             f"{', '.join(map(str, X.columns[:20]))}")
        X = X[list(columns)]
        columns = None
    Xa, names, _ = check_array(X, columns=columns)
    if np.ndim(t) != 1:
        raise InputError(f"t must be 1-dimensional, got shape {np.shape(t)}")
    ta = check_treatment(t, name="t")
    n = Xa.shape[0]
    if ta.shape[0] != n:
        raise InputError(f"X has {n} rows but t has {ta.shape[0]}")
    w = None if weights is None else _check_weights(weights, ta)
    return Xa, ta, w, names, was_1d


def _check_weights(weights: Any, t: np.ndarray) -> np.ndarray:
    w = check_weights(weights, t.shape[0], name="weights")
    for arm, label in ((1, "treated"), (0, "control")):
        if not w[t == arm].sum() > 0:
            raise InputError(f"the weights of the {label} arm sum to zero: no "
                             f"{label} unit is matched")
    return w


def _denominator_kind(estimand: str, std_denominator: Any) -> Any:
    kind = _ESTIMAND_DENOMINATOR[check_estimand(estimand)]
    if std_denominator is None:
        return kind
    if isinstance(std_denominator, str):
        if std_denominator not in _DENOMINATORS:
            raise InputError(f"unknown std_denominator {std_denominator!r}; use one of "
                             f"{', '.join(_DENOMINATORS)} or an array of SDs")
        return std_denominator
    sd = np.array(std_denominator, dtype=np.float64, copy=True).ravel()
    if not (np.isfinite(sd).all() and (sd > 0).all()):
        raise InputError("std_denominator values must be finite and positive")
    return sd


def _check_binary_option(binary: str) -> str:
    if binary not in ("std", "raw"):
        raise InputError(f"binary must be 'std' or 'raw', got {binary!r}")
    return binary


def _out(values: np.ndarray, was_1d: bool) -> Any:
    return float(values[0]) if was_1d else values


# ------------------------------------------------------------------- core kernels
def _is_binary(X: np.ndarray) -> np.ndarray:
    """MatchIt's rule: every value is 0 or 1 (an all-zero column counts)."""
    return ((X == 0) | (X == 1)).all(axis=0)


def _wmean(X: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ X) / w.sum()


def _wvar(X: np.ndarray, w: np.ndarray, binary: np.ndarray) -> np.ndarray:
    """MatchIt's ``wvar``: ``p (1 - p)`` for binary columns, else reliability-weighted
    variance ``sum(w (x - m)^2) / (1 - sum(w^2))`` with ``w`` normalised to sum 1."""
    w = w / w.sum()
    m = w @ X
    with np.errstate(divide="ignore", invalid="ignore"):
        v = (w @ (X - m) ** 2) / (1.0 - np.sum(w ** 2))
    return np.where(binary, m * (1.0 - m), v)


def _pooled_sd_proportional(X: np.ndarray, t: np.ndarray,
                            binary: np.ndarray) -> np.ndarray:
    """MatchIt's ``pooled_sd(contribution = "proportional")`` with unit weights:
    the fallback when the requested SD is zero or not finite."""
    n = X.shape[0]
    var_bin = np.zeros(X.shape[1])
    dev = X.copy()
    for arm in (0, 1):
        xa = X[t == arm]
        s = xa.sum(axis=0)
        var_bin += s * (1.0 - s / xa.shape[0]) / n
        dev[t == arm] -= xa.mean(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        var_cont = (dev ** 2).sum(axis=0) / (n - 1)
    return np.sqrt(np.where(binary, var_bin, var_cont))


def _smd_denominator(X: np.ndarray, t: np.ndarray, binary: np.ndarray,
                     kind: Any) -> np.ndarray:
    """SD on the full, unweighted sample, as MatchIt's ``bal1var``."""
    if not isinstance(kind, str):
        if kind.shape[0] != X.shape[1]:
            raise InputError(f"std_denominator has {kind.shape[0]} values but X has "
                             f"{X.shape[1]} columns")
        return kind
    ones = np.ones(X.shape[0])
    v1 = _wvar(X[t == 1], ones[t == 1], binary)
    v0 = _wvar(X[t == 0], ones[t == 0], binary)
    with np.errstate(invalid="ignore"):
        sd = {"treated": np.sqrt(v1), "control": np.sqrt(v0),
              "pooled": np.sqrt((v1 + v0) / 2.0)}[kind]
    bad = ~np.isfinite(sd) | (sd < _EPS)
    if bad.any():
        sd = np.where(bad, _pooled_sd_proportional(X, t, binary), sd)
    return sd


def _too_small(t: np.ndarray, w: np.ndarray) -> bool:
    """MatchIt: fewer than two units with non-zero weight in *both* arms."""
    return bool((np.count_nonzero(w[t == 1]) < 2) and (np.count_nonzero(w[t == 0]) < 2))


def _means(X: np.ndarray, t: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    return _wmean(X[t == 1], w[t == 1]), _wmean(X[t == 0], w[t == 0])


def _smd(X, t, w, binary, sd, binary_option):
    m1, m0 = _means(X, t, w)
    diff = m1 - m0
    small = np.abs(diff) <= _EPS
    if _too_small(t, w):
        out = np.where(small, diff, np.nan)
    else:
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.where(small, diff, diff / sd)
    if binary_option == "raw":
        out = np.where(binary, diff, out)
    return out


def _variance_ratio(X, t, w, binary):
    if _too_small(t, w):
        return np.full(X.shape[1], np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        vr = _wvar(X[t == 1], w[t == 1], binary) / _wvar(X[t == 0], w[t == 0], binary)
    return np.where(binary, np.nan, vr)


def _ecdf(X, t, w, binary):
    """MatchIt's ``qqsum(standardize = TRUE)`` column by column."""
    p = X.shape[1]
    e_mean = np.full(p, np.nan)
    e_max = np.full(p, np.nan)
    m1, m0 = _means(X, t, w)
    absdiff = np.abs(m1 - m0)
    small = _too_small(t, w)
    signed = np.where(t == 1, w / w[t == 1].sum(), -w / w[t == 0].sum())
    for j in range(p):
        if binary[j]:
            e_mean[j] = e_max[j] = absdiff[j]
            continue
        if small:
            continue
        order = np.argsort(X[:, j], kind="stable")
        x = X[order, j]
        cum = np.abs(np.cumsum(signed[order]))
        last = np.append(x[1:] != x[:-1], True)   # last row of each distinct value
        d = cum[last]
        e_mean[j] = d.mean()
        e_max[j] = d.max()
    return e_mean, e_max


# ------------------------------------------------------------ per-covariate API
def standardized_mean_difference(X: Any, t: Any, weights: Any = None, *,
                                 estimand: str = "ATT", std_denominator: Any = None,
                                 binary: str = "std") -> Any:
    """Standardized mean difference of each covariate, as MatchIt computes it.

    The (weighted) treated mean minus the (weighted) control mean, divided by a
    standard deviation computed on the full, unweighted sample, so values before
    and after matching share one scale.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features), or DataFrame
        Covariates.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Non-negative weights (e.g. matching weights; 0 = unmatched).  None gives
        the unweighted (before-matching) value.
    estimand : {"ATT", "ATC", "ATE"}, default "ATT"
        Chooses the denominator when ``std_denominator`` is None: the treated SD,
        the control SD, or the pooled ``sqrt((s1^2 + s0^2) / 2)``.
    std_denominator : {"treated", "control", "pooled"} or array-like, optional
        Overrides ``estimand``; an array gives the SD of each covariate directly.
    binary : {"std", "raw"}, default "std"
        For 0/1 covariates: ``"std"`` divides by the SD ``sqrt(p (1 - p))`` (MatchIt);
        ``"raw"`` returns the raw difference in proportions (cobalt's default).

    Returns
    -------
    float or ndarray of shape (n_features,)
        A float for 1-d ``X``.  A difference below ``sqrt(machine eps)`` is
        returned unstandardised (it is 0 for practical purposes), as in MatchIt.

    Examples
    --------
    >>> from causalsm.balance import standardized_mean_difference
    >>> x = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0]
    >>> t = [1, 1, 1, 0, 0, 0]
    >>> standardized_mean_difference(x, t)          # (2 - 4) / sd(1, 2, 3)
    -2.0
    >>> standardized_mean_difference(x, t, estimand="ATC")
    -1.0
    """
    Xa, ta, w, _, was_1d = _prepare(X, t, weights)
    kind = _denominator_kind(estimand, std_denominator)
    b = _is_binary(Xa)
    sd = _smd_denominator(Xa, ta, b, kind)
    w = np.ones(ta.shape[0]) if w is None else w
    return _out(_smd(Xa, ta, w, b, sd, _check_binary_option(binary)), was_1d)


def variance_ratio(X: Any, t: Any, weights: Any = None) -> Any:
    """Ratio of the treated to the control (weighted) variance of each covariate.

    Variances use MatchIt's reliability weights: with ``w`` normalised to sum to one
    within an arm, ``sum(w (x - m)^2) / (1 - sum(w^2))`` (the usual ``n - 1``
    variance when all weights are equal).  Binary (0/1) covariates give NaN.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features), or DataFrame
        Covariates.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Non-negative weights; None for the unweighted ratio.

    Returns
    -------
    float or ndarray of shape (n_features,)

    Examples
    --------
    >>> from causalsm.balance import variance_ratio
    >>> variance_ratio([1.0, 2.0, 3.0, 2.0, 4.0, 6.0], [1, 1, 1, 0, 0, 0])
    0.25
    >>> variance_ratio([[1.0, 0], [2, 1], [3, 1], [2, 0], [4, 0], [6, 1]],
    ...                [1, 1, 1, 0, 0, 0])
    array([0.25,  nan])
    """
    Xa, ta, w, _, was_1d = _prepare(X, t, weights)
    w = np.ones(ta.shape[0]) if w is None else w
    return _out(_variance_ratio(Xa, ta, w, _is_binary(Xa)), was_1d)


def ecdf_stats(X: Any, t: Any, weights: Any = None) -> tuple[Any, Any]:
    """Mean and maximum absolute difference between the arms' weighted eCDFs.

    The differences are taken at every distinct value of the covariate in the whole
    sample (unmatched units included, as in MatchIt); the maximum is the weighted
    Kolmogorov-Smirnov statistic.  For a binary (0/1) covariate both numbers are the
    absolute difference in proportions, MatchIt's convention.

    Parameters
    ----------
    X : array-like of shape (n_samples,) or (n_samples, n_features), or DataFrame
        Covariates.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Non-negative weights; None for the unweighted statistics.

    Returns
    -------
    (mean, max) : tuple of floats, or of ndarrays of shape (n_features,)

    Examples
    --------
    >>> from causalsm.balance import ecdf_stats
    >>> x, t = [1.0, 2.0, 3.0, 2.0, 4.0, 6.0], [1, 1, 1, 0, 0, 0]
    >>> e_mean, e_max = ecdf_stats(x, t)
    >>> round(e_mean, 4), round(e_max, 4)
    (0.4, 0.6667)
    >>> e_mean, e_max = ecdf_stats(x, t, weights=[1, 1, 1, 1, 0, 0])   # only x = 2
    >>> round(e_mean, 4), round(e_max, 4)
    (0.1333, 0.3333)
    """
    Xa, ta, w, _, was_1d = _prepare(X, t, weights)
    w = np.ones(ta.shape[0]) if w is None else w
    e_mean, e_max = _ecdf(Xa, ta, w, _is_binary(Xa))
    return _out(e_mean, was_1d), _out(e_max, was_1d)


# --------------------------------------------------------------------- MMD
def _scales(X: np.ndarray, scale: Any) -> np.ndarray:
    """Column divisors: full-sample SD (ddof 1; 1 for constant columns), none, or
    the values given."""
    p = X.shape[1]
    if scale is True:
        sd = X.std(axis=0, ddof=1) if X.shape[0] > 1 else np.zeros(p)
        return np.where(np.isfinite(sd) & (sd > 0), sd, 1.0)
    if scale is False or scale is None:
        return np.ones(p)
    s = np.array(scale, dtype=np.float64, copy=True).ravel()
    if s.shape[0] != p or not np.isfinite(s).all() or (s <= 0).any():
        raise InputError(f"scale must be True, False or {p} positive numbers")
    return s


def _signed_weights(t: np.ndarray, w: np.ndarray | None) -> np.ndarray:
    """``c = a - b`` with ``a`` (``b``) the treated (control) weights summing to 1."""
    w = np.ones(t.shape[0]) if w is None else w
    return np.where(t == 1, w / w[t == 1].sum(), -w / w[t == 0].sum())


def _rng(random_state: Any) -> np.random.Generator:
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(0, 2 ** 31 - 1))
    return np.random.default_rng(random_state)


def _subsample(t: np.ndarray, max_samples: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices, at most ``max_samples``, drawn within each arm in proportion
    (at least one row per arm), sorted."""
    n = t.shape[0]
    idx = []
    for arm in (1, 0):
        rows = np.flatnonzero(t == arm)
        k = max(1, int(round(max_samples * rows.shape[0] / n)))
        idx.append(rng.choice(rows, size=min(k, rows.shape[0]), replace=False))
    return np.sort(np.concatenate(idx))


def _median_heuristic(Z: np.ndarray, rng: np.random.Generator) -> float:
    if Z.shape[0] > _MEDIAN_MAX_ROWS:
        Z = Z[np.sort(rng.choice(Z.shape[0], size=_MEDIAN_MAX_ROWS, replace=False))]
    if Z.shape[0] < 2:
        raise InputError("the median heuristic needs at least two rows")
    med = float(np.median(pdist(Z)))
    if not med > 0:
        raise InputError("median pairwise distance is 0 (too many tied rows); pass "
                         "a positive bandwidth")
    return med


def _check_bandwidth(bandwidth: Any) -> float | None:
    if isinstance(bandwidth, str):
        if bandwidth != "median":
            raise InputError(f"bandwidth must be 'median' or a positive number, got "
                             f"{bandwidth!r}")
        return None
    bw = float(bandwidth)
    if not (np.isfinite(bw) and bw > 0):
        raise InputError(f"bandwidth must be positive, got {bandwidth!r}")
    return bw


def _kernel_quadratic(Z: np.ndarray, c: np.ndarray, bandwidth: float,
                      block_size: int) -> float:
    """``c' K c`` for the Gaussian kernel, rows processed ``block_size`` at a time."""
    gamma = 1.0 / (2.0 * bandwidth ** 2)
    total = 0.0
    for start in range(0, Z.shape[0], block_size):
        stop = min(start + block_size, Z.shape[0])
        K = cdist(Z[start:stop], Z, "sqeuclidean")          # (block, n)
        np.multiply(K, -gamma, out=K)
        np.exp(K, out=K)
        total += float(c[start:stop] @ (K @ c))
    return max(total, 0.0)


def median_bandwidth(X: Any, *, scale: Any = True, random_state: Any = None) -> float:
    """Median heuristic: the median Euclidean distance between distinct rows.

    Computed on standardised covariates by default; rows beyond 2000 are
    subsampled (with ``random_state``) to keep the ``O(n^2)`` pair count bounded.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Covariates.
    scale : bool or array-like of shape (n_features,), default True
        True divides each column by its sample SD (ddof 1), False uses the raw
        covariates, an array gives the divisors.
    random_state : int, Generator or None
        Seed for the subsample when there are more than 2000 rows.

    Returns
    -------
    float

    Examples
    --------
    >>> from causalsm.balance import median_bandwidth
    >>> median_bandwidth([[0.0], [1.0], [3.0]], scale=False)
    2.0
    """
    Xa, _, _ = check_array(X)
    Z = Xa / _scales(Xa, scale)
    return _median_heuristic(Z, _rng(random_state))


def linear_mmd(X: Any, t: Any, weights: Any = None, scale: Any = True) -> float:
    """Linear-kernel MMD: squared distance between the arms' weighted mean vectors.

    ``||sum_i a_i z_i - sum_j b_j z_j||^2`` where ``a`` (``b``) are the treated
    (control) weights normalised to sum to one and ``z`` the covariates divided by
    their full-sample SD.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Covariates.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Non-negative weights; None for the unweighted value.
    scale : bool or array-like of shape (n_features,), default True
        True divides each column by its SD over all rows (ddof 1, unweighted, so
        values before and after matching are comparable); False uses the raw
        covariates; an array gives the divisors.

    Returns
    -------
    float

    Examples
    --------
    >>> from causalsm.balance import linear_mmd
    >>> X = [[0.0, 1.0], [2.0, 1.0], [1.0, 0.0], [1.0, 2.0]]
    >>> linear_mmd(X, [1, 1, 0, 0], scale=False)
    0.0
    >>> linear_mmd(X, [1, 0, 1, 0], scale=False)     # means (0.5, 0.5) vs (1.5, 1.5)
    2.0
    """
    Xa, ta, w, _, _ = _prepare(X, t, weights)
    Z = Xa / _scales(Xa, scale)
    d = _signed_weights(ta, w) @ Z
    return float(d @ d)


def gaussian_mmd(X: Any, t: Any, weights: Any = None, bandwidth: Any = "median", *,
                 scale: Any = True, block_size: int | None = None,
                 max_samples: int | None = None, random_state: Any = None) -> float:
    """Squared maximum mean discrepancy with a Gaussian kernel (weighted V-statistic).

    ``MMD^2 = a'K_11 a + b'K_00 b - 2 a'K_10 b`` with ``k(x, y) =
    exp(-||x - y||^2 / (2 h^2))`` on standardised covariates, ``a`` (``b``) the
    treated (control) weights normalised to sum to one.  The kernel matrix is never
    built whole: rows are processed ``block_size`` at a time, so memory is
    ``O(block_size * n)``.  Rows with weight 0 are dropped before the kernel sums.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Covariates.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Non-negative weights; None for the unweighted value.
    bandwidth : "median" or float, default "median"
        Kernel bandwidth ``h``.  ``"median"`` uses the median distance between
        distinct rows of the standardised covariates (all rows, whatever their
        weight; at most 2000 rows, subsampled with ``random_state``).
    scale : bool or array-like of shape (n_features,), default True
        As in :func:`linear_mmd`: True standardises by the full-sample SD.
    block_size : int, optional
        Rows per block; by default about 4 million kernel entries per block.
    max_samples : int, optional
        If given and ``n_samples`` exceeds it, compute on a random subsample of about
        ``max_samples`` rows drawn within each arm in proportion.
    random_state : int, numpy Generator or None
        Seed for the subsamples.

    Returns
    -------
    float
        Non-negative.

    Examples
    --------
    >>> import numpy as np
    >>> from causalsm.balance import gaussian_mmd
    >>> X = np.array([[0.0], [1.0], [0.0], [1.0]])
    >>> gaussian_mmd(X, [1, 1, 0, 0], bandwidth=1.0, scale=False)
    0.0
    >>> v = gaussian_mmd(X, [1, 0, 1, 0], bandwidth=1.0, scale=False)
    >>> bool(np.isclose(v, 2 - 2 * np.exp(-0.5)))
    True
    """
    Xa, ta, w, _, _ = _prepare(X, t, weights)
    Z = Xa / _scales(Xa, scale)
    bw = _check_bandwidth(bandwidth)
    rng = _rng(random_state)
    if max_samples is not None:
        if isinstance(max_samples, bool) or not isinstance(max_samples, Integral) \
                or max_samples < 2:
            raise InputError(f"max_samples must be an integer >= 2, got {max_samples!r}")
        if ta.shape[0] > max_samples:
            keep = _subsample(ta, int(max_samples), rng)
            Z, ta = Z[keep], ta[keep]
            if w is not None:
                w = w[keep]
                for arm in (0, 1):
                    if not w[ta == arm].sum() > 0:
                        raise InputError("the subsample holds no unit with positive "
                                         "weight in one arm; raise max_samples")
    if bw is None:
        bw = _median_heuristic(Z, rng)
    c = _signed_weights(ta, w)
    nz = c != 0
    Z, c = Z[nz], c[nz]
    if block_size is None:
        block_size = max(1, _BLOCK_ELEMENTS // max(Z.shape[0], 1))
    elif isinstance(block_size, bool) or not isinstance(block_size, Integral) \
            or block_size < 1:
        raise InputError(f"block_size must be a positive integer, got {block_size!r}")
    return _kernel_quadratic(Z, c, bw, int(block_size))


# --------------------------------------------------------------------- tables
_STATS = ("smd", "var_ratio", "ecdf_mean", "ecdf_max")


def balance_table(X: Any, t: Any, weights: Any = None, *,
                  columns: Sequence[str] | None = None, estimand: str | None = None,
                  std_denominator: Any = None, binary: str = "std",
                  comparisons: Any = "both") -> pd.DataFrame:
    """Balance of each covariate before and after matching, as ``summary.matchit``.

    A treatment with three or more levels gives one block of rows per comparison (see
    :func:`multilevel_balance_table`; ``comparisons`` chooses them); two levels give
    the table below.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features) or DataFrame
        Covariates; a DataFrame's column names label the rows of the table.
    t : array-like of shape (n_samples,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n_samples,), optional
        Matching (or balancing) weights; 0 marks an unmatched unit.  With None the
        ``*_after`` columns are NaN.
    columns : sequence of str, optional
        For a DataFrame, the covariates to use (default all); for an array, their
        names (default ``x0, x1, ...``).
    estimand : {"ATT", "ATC", "ATE"}, optional
        Sets the SMD denominator: treated, control or pooled SD of the full,
        unweighted sample.  Default ``"ATT"`` (``"ATE"`` for several levels).
    std_denominator : {"treated", "control", "pooled"} or array-like, optional
        Overrides the denominator chosen by ``estimand``.
    binary : {"std", "raw"}, default "std"
        SMD of 0/1 covariates: standardised by ``sqrt(p (1 - p))`` as MatchIt does,
        or the raw difference in proportions as cobalt does.
    comparisons : {"both", "rest", "pairwise"} or list of (level, level)
        Treatments with three or more levels only (see
        :func:`multilevel_balance_table`).

    Returns
    -------
    pandas.DataFrame
        Indexed by covariate, with columns ``binary`` (bool), ``mean_treated_before``,
        ``mean_control_before``, ``mean_treated_after``, ``mean_control_after``,
        ``smd_before``, ``smd_after``, ``var_ratio_before``, ``var_ratio_after``,
        ``ecdf_mean_before``, ``ecdf_mean_after``, ``ecdf_max_before`` and
        ``ecdf_max_after``.  They equal MatchIt's ``summary(m, un = TRUE)`` columns
        Means Treated, Means Control, Std. Mean Diff., Var. Ratio, eCDF Mean and
        eCDF Max of ``sum.all`` (before) and ``sum.matched`` (after) when
        ``weights = m$weights``.

    Examples
    --------
    >>> import pandas as pd
    >>> from causalsm.balance import balance_table
    >>> df = pd.DataFrame({"age": [30.0, 40, 50, 20, 30, 45],
    ...                    "male": [1, 0, 1, 0, 0, 1]})
    >>> t = [1, 1, 1, 0, 0, 0]
    >>> tab = balance_table(df, t, weights=[1, 1, 1, 0, 1, 1])
    >>> tab[["smd_before", "smd_after"]].round(3)
               smd_before  smd_after
    covariate
    age             0.833      0.250
    male            0.707      0.354
    """
    from ._validation import n_levels
    if np.ndim(t) == 1 and n_levels(t) >= 3:
        return multilevel_balance_table(X, t, weights, columns=columns,
                                        estimand=estimand or "ATE",
                                        std_denominator=std_denominator, binary=binary,
                                        comparisons=comparisons)
    estimand = "ATT" if estimand is None else estimand
    Xa, ta, w, names, _ = _prepare(X, t, weights, columns=columns)
    kind = _denominator_kind(estimand, std_denominator)
    binary = _check_binary_option(binary)
    b = _is_binary(Xa)
    sd = _smd_denominator(Xa, ta, b, kind)
    res: dict[str, np.ndarray] = {"binary": b}
    stats = {}
    for label, ww in (("before", np.ones(ta.shape[0])), ("after", w)):
        if ww is None:
            nan = np.full(Xa.shape[1], np.nan)
            m1 = m0 = nan
            stats[label] = dict.fromkeys(_STATS, nan)
        else:
            m1, m0 = _means(Xa, ta, ww)
            e_mean, e_max = _ecdf(Xa, ta, ww, b)
            stats[label] = {"smd": _smd(Xa, ta, ww, b, sd, binary),
                            "var_ratio": _variance_ratio(Xa, ta, ww, b),
                            "ecdf_mean": e_mean, "ecdf_max": e_max}
        res[f"mean_treated_{label}"] = m1
        res[f"mean_control_{label}"] = m0
    for s in _STATS:
        for label in ("before", "after"):
            res[f"{s}_{label}"] = stats[label][s]
    return pd.DataFrame(res, index=pd.Index(names, name="covariate"))


def balance_summary(X: Any, t: Any, weights: Any = None, *,
                    columns: Sequence[str] | None = None, estimand: str = "ATT",
                    std_denominator: Any = None, binary: str = "std",
                    bandwidth: Any = "median", max_samples: int | None = None,
                    random_state: Any = 0) -> dict[str, float]:
    """Overall balance: largest absolute SMD, linear MMD and Gaussian MMD.

    Before (unweighted) and after (``weights``) values share the SMD denominators,
    the covariate scaling and the kernel bandwidth, so they can be compared.

    Parameters
    ----------
    X, t, weights, columns, estimand, std_denominator, binary
        As in :func:`balance_table`.
    bandwidth : "median" or float, default "median"
        Gaussian-kernel bandwidth (see :func:`gaussian_mmd`), fixed once for both.
    max_samples : int, optional
        Subsample size for the Gaussian MMD on very large samples.
    random_state : int, Generator or None, default 0
        Seed for subsamples, so the summary is reproducible by default.

    Returns
    -------
    dict
        Keys ``max_abs_smd_before``, ``max_abs_smd_after``, ``linear_mmd_before``,
        ``linear_mmd_after``, ``gaussian_mmd_before``, ``gaussian_mmd_after`` and
        ``bandwidth``; the ``*_after`` values are NaN when ``weights`` is None.

    Examples
    --------
    >>> from causalsm.balance import balance_summary
    >>> X = [[0.0, 1.0], [2.0, 1.0], [1.0, 0.0], [1.0, 2.0], [3.0, 1.0], [0.0, 0.0]]
    >>> s = balance_summary(X, [1, 0, 1, 0, 1, 0], weights=[1, 1, 0, 1, 1, 1])
    >>> round(s["max_abs_smd_before"], 3), round(s["max_abs_smd_after"], 3)
    (0.577, 0.327)
    >>> round(s["linear_mmd_before"], 3), round(s["linear_mmd_after"], 3)
    (0.277, 0.183)
    """
    tab = balance_table(X, t, weights, columns=columns, estimand=estimand,
                        std_denominator=std_denominator, binary=binary)
    Xa, ta, w, _, _ = _prepare(X, t, weights, columns=columns)
    scale = _scales(Xa, True)
    bw = _check_bandwidth(bandwidth)
    if bw is None:
        bw = _median_heuristic(Xa / scale, _rng(random_state))
    out: dict[str, float] = {}
    for label in ("before", "after"):
        smd = np.abs(tab[f"smd_{label}"].to_numpy())
        out[f"max_abs_smd_{label}"] = (float(np.nanmax(smd)) if np.isfinite(smd).any()
                                       else float("nan"))
    for label, ww in (("before", None), ("after", w)):
        if label == "after" and w is None:
            out["linear_mmd_after"] = out["gaussian_mmd_after"] = float("nan")
            continue
        out[f"linear_mmd_{label}"] = linear_mmd(Xa, ta, ww, scale=scale)
        out[f"gaussian_mmd_{label}"] = gaussian_mmd(
            Xa, ta, ww, bandwidth=bw, scale=scale, max_samples=max_samples,
            random_state=random_state)
    out["bandwidth"] = bw
    return out


# ------------------------------------------------ treatments with several levels
def multilevel_balance_table(X: Any, t: Any, weights: Any = None, *,
                             columns: Sequence[str] | None = None, estimand: str = "ATE",
                             std_denominator: Any = None, binary: str = "std",
                             comparisons: Any = "both") -> pd.DataFrame:
    """Balance of a treatment with several levels: each level against the rest, and
    each pair of levels, before and after matching.

    Every comparison ``"a vs b"`` is the two-group :func:`balance_table` of the units of
    ``a`` ("treated" columns) against those of ``b`` ("control" columns; ``"rest"`` is
    every other level), on the rows of the two groups, with their ``weights``.  After
    multi-level matching (:meth:`~causalsm.MultilevelMatching.balance`) each unit
    weighs ``1 + K`` (its weight in the imputed means), so every level is compared as
    it stands in for the whole population.

    Parameters
    ----------
    X, weights, columns, std_denominator, binary :
        As in :func:`balance_table`.
    t : array-like of labels, shape (n,)
        Treatment levels (numbers, strings or a categorical, whose order is kept).
    estimand : {"ATE", "ATT", "ATC"}, default "ATE"
        SMD denominator of each comparison: pooled SD of the two groups (ATE), or the SD
        of the first (ATT) or second (ATC) group, on the unweighted data.
    comparisons : {"both", "rest", "pairwise"} or list of (level, level)
        ``"rest"``: each level against all others; ``"pairwise"``: ``b vs a`` for every
        pair, in level order (as the contrasts ``b - a``); ``"both"`` (default): both.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`balance_table`, indexed by ``(comparison, covariate)``.

    Examples
    --------
    >>> X = pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 5, 6, 7, 8]})
    >>> tab = multilevel_balance_table(X, ["a", "a", "a", "b", "b", "b", "c", "c", "c"],
    ...                                comparisons="pairwise")
    >>> tab["smd_before"].round(2).tolist()
    [3.0, 6.0, 3.0]
    >>> tab.index.get_level_values("comparison").unique().tolist()
    ['b vs a', 'c vs a', 'c vs b']
    """
    from ._validation import check_levels
    codes, levels = check_levels(t, name="t")
    labels = [str(v) for v in levels]
    K = len(labels)
    if isinstance(comparisons, str):
        if comparisons not in ("both", "rest", "pairwise"):
            raise InputError(f"comparisons must be 'both', 'rest', 'pairwise' or a list of "
                             f"pairs of levels, got {comparisons!r}")
        pairs = []
        if comparisons in ("both", "rest"):
            pairs += [(k, None) for k in range(K)]
        if comparisons in ("both", "pairwise"):
            pairs += [(b, a) for a in range(K - 1) for b in range(a + 1, K)]
    else:
        pairs = []
        for item in comparisons:
            try:
                a, b = (str(v) for v in item)
                pairs.append((labels.index(a), None if b == "rest" else labels.index(b)))
            except ValueError:
                raise InputError(f"comparison {item!r}: use levels among "
                                 f"{', '.join(labels)} (or 'rest')") from None
    Xa, names, _ = check_array(X if columns is None or not isinstance(X, pd.DataFrame)
                               else X[list(columns)],
                               columns=None if isinstance(X, pd.DataFrame) else columns)
    if Xa.shape[0] != codes.size:
        raise InputError(f"X has {Xa.shape[0]} rows but t has {codes.size}")
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    blocks = []
    for a, b in pairs:
        rows = np.flatnonzero((codes == a) | ((codes != a) if b is None else (codes == b)))
        tab = balance_table(Xa[rows], (codes[rows] == a).astype(np.int64),
                            None if w is None else w[rows], columns=names, estimand=estimand,
                            std_denominator=std_denominator, binary=binary)
        label = f"{labels[a]} vs {'rest' if b is None else labels[b]}"
        blocks.append(pd.concat({label: tab}, names=["comparison"]))
    return pd.concat(blocks)


# ------------------------------------------------------ continuous exposures
_CORR_SUMMARIES = {"mean": np.mean, "median": np.median, "max": np.max}


def weighted_ranks(x: Any, weights: Any = None) -> np.ndarray:
    """Weighted mid-ranks (R's ``wCorr:::wrank``): a tie group of total weight ``t``
    after cumulative weight ``T`` gets rank ``T + 1 + (t - 1) / 2``; with unit weights,
    the usual average ranks.

    >>> weighted_ranks([3.0, 1.0, 3.0])
    array([2.5, 1. , 2.5])
    >>> weighted_ranks([1.0, 2.0], [2.0, 1.0])
    array([1.5, 3. ])
    """
    x = np.asarray(x, dtype=np.float64)
    c = np.ones_like(x) if weights is None else np.asarray(weights, dtype=np.float64)
    order = np.argsort(x, kind="stable")
    xs, cs = x[order], c[order]
    start = np.concatenate(([True], xs[1:] != xs[:-1]))
    group = np.cumsum(start) - 1
    tied = np.bincount(group, weights=cs)
    before = np.concatenate(([0.0], np.cumsum(tied)[:-1]))
    out = np.empty_like(x)
    out[order] = (before + 1 + (tied - 1) / 2)[group]
    return out


def exposure_correlation(X: Any, w: Any, weights: Any = None, *,
                         method: str = "pearson") -> np.ndarray:
    """Correlation of each covariate with a continuous exposure, optionally weighted.

    Parameters
    ----------
    X : array-like of shape (n, p) or DataFrame
    w : array-like of shape (n,)
        The exposure.
    weights : array-like of shape (n,), optional
        Pseudo-population counts or GPS weights.
    method : {"pearson", "spearman"}
        ``"pearson"``: cobalt's weighted Pearson correlation (``col_w_corr``): the
        weighted covariance ``sum v (x - m_x)(w - m_w) / (1 - sum v^2)``, ``v`` the
        normalised weights, over the *unweighted* SDs of the covariate and the exposure,
        so weights cannot shrink the denominator (Austin 2019).  ``"spearman"``: what
        CausalGPS reports, the weighted Pearson correlation (weighted SDs too) of the
        weighted mid-ranks (:func:`weighted_ranks`, as ``wCorr::weightedCorr``).

    Returns
    -------
    ndarray of shape (p,)
        Signed correlations (NaN for a constant covariate).

    Examples
    --------
    >>> X = np.array([[1.0], [2.0], [3.0], [4.0]]); w = np.array([1.0, 3.0, 2.0, 4.0])
    >>> exposure_correlation(X, w).round(3)
    array([0.8])
    >>> exposure_correlation(X, w, method="spearman").round(3)
    array([0.8])
    """
    Xa, _, _ = check_array(X)
    wa = np.asarray(w, dtype=np.float64).ravel()
    if wa.shape[0] != Xa.shape[0]:
        raise InputError(f"X has {Xa.shape[0]} rows but the exposure has {wa.shape[0]}")
    c = np.ones(wa.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if c.shape != wa.shape or (c < 0).any() or not c.sum() > 0:
        raise InputError("weights must be non-negative, one per row, not all 0")
    if method not in ("pearson", "spearman"):
        raise InputError(f"method must be 'pearson' or 'spearman', got {method!r}")
    with np.errstate(invalid="ignore", divide="ignore"):
        if method == "spearman":
            r = np.column_stack([weighted_ranks(Xa[:, j], c) for j in range(Xa.shape[1])])
            rw = weighted_ranks(wa, c)
            dr = r - (c @ r) / c.sum()
            dw = rw - (c @ rw) / c.sum()
            return (c * dw) @ dr / np.sqrt((c * dw) @ dw * (c @ dr ** 2))
        v = c / c.sum()
        dx = Xa - v @ Xa
        dw = wa - v @ wa
        cov = (v * dw) @ dx / (1 - v @ v)
        return cov / (Xa.std(axis=0, ddof=1) * wa.std(ddof=1))


def exposure_balance(X: Any, w: Any, weights: Any = None, *, method: str = "pearson",
                     columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Balance of the covariates with a continuous exposure, before and after
    weighting: their correlations with the exposure (Austin 2019).

    Parameters
    ----------
    X, w, weights, method
        As in :func:`exposure_correlation`.
    columns : sequence of str, optional
        Names of the covariates of an array (default ``x0, x1, ...``).

    Returns
    -------
    pandas.DataFrame
        Indexed by covariate, columns ``corr_before`` and ``corr_after`` (NaN when
        ``weights`` is None).  ``attrs`` hold the mean, median and maximum absolute
        correlation before and after (``mean_abs_corr_before``...) and the effective
        sample size ``ess`` = ``(sum c)^2 / sum c^2``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 2)); w = X[:, 0] + rng.normal(size=200)
    >>> tab = exposure_balance(X, w, columns=["a", "b"])
    >>> tab.index.tolist(), round(tab.attrs["max_abs_corr_before"], 2)
    (['a', 'b'], 0.68)
    """
    Xa, names, _ = check_array(X, columns=columns)
    before = exposure_correlation(Xa, w, method=method)
    after = np.full_like(before, np.nan) if weights is None else \
        exposure_correlation(Xa, w, weights, method=method)
    tab = pd.DataFrame({"corr_before": before, "corr_after": after},
                       index=pd.Index(names, name="covariate"))
    for label, values in (("before", before), ("after", after)):
        a = np.abs(values[np.isfinite(values)])
        for key, fn in _CORR_SUMMARIES.items():
            tab.attrs[f"{key}_abs_corr_{label}"] = float(fn(a)) if a.size else float("nan")
    c = np.ones(Xa.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    tab.attrs["ess"] = float(c.sum() ** 2 / (c @ c))
    tab.attrs["method"] = method
    return tab
