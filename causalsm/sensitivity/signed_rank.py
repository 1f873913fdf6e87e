"""Wilcoxon's signed rank statistic for matched pairs under a bias of at most Gamma.

Rosenbaum (2002, Section 4.3.3): with ``d_i`` the treated-minus-control differences,
zeros dropped and ranks ``r_i`` of ``|d_i|`` averaged over ties, ``T = sum_{d_i > 0}
r_i``.  Under a bias of at most Gamma the treated unit has the larger response with
probability between ``p- = 1 / (1 + Gamma)`` and ``p+ = Gamma / (1 + Gamma)``, so
``T`` lies stochastically between sums of independent ``r_i`` Bernoulli(``p-``) and
Bernoulli(``p+``): expectations ``p+- sum r_i``, variance ``p+ (1 - p+) sum r_i^2``,
and the normal approximation gives the bounds on the one-sided p-value
(``rbounds::psens``).

Hodges-Lehmann estimates under bias (Rosenbaum 1993; 2002, Section 4.3.4) solve
``T(tau) = p-+ S (S + 1) / 2`` for the additive effect ``tau`` (``S`` pairs):
``T`` is a step function of ``tau`` that jumps at the Walsh averages, and the
estimate is the midpoint of ``sup{tau: T(tau) > t}`` and ``inf{tau: T(tau) < t}``.
``rbounds::hlsens`` instead walks a grid ``tau_0 +- k * pr`` from R's
``wilcox.test`` pseudo-median and stops at the first grid point past the target;
``method="rbounds"`` reproduces it step for step.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats

from .._validation import InputError
from ._roots import step_boundary, zeroin
from .sets import matched_sets

__all__ = ["SignedRankTest", "signed_rank_test", "hodges_lehmann_bounds",
           "signed_rank_interval", "wilcoxon_pseudomedian"]


class SignedRankTest(NamedTuple):
    """Bounds on the one-sided p-value of the signed rank test at one Gamma."""

    p_upper: float
    p_lower: float
    statistic: float
    expectation_upper: float
    expectation_lower: float
    variance: float

    @property
    def deviate(self) -> float:
        return (self.statistic - self.expectation_upper) / np.sqrt(self.variance)


def _differences(data: Any) -> np.ndarray:
    return matched_sets(data).pair_differences()


def _signed_rank(d: np.ndarray, gamma: float) -> SignedRankTest:
    d = d[d != 0]
    if d.size == 0:
        raise InputError("every pair difference is 0: the signed rank test has nothing "
                         "to rank")
    r = stats.rankdata(np.abs(d))
    T = float(r[d > 0].sum())
    p_plus = gamma / (1 + gamma)
    p_minus = 1 / (1 + gamma)
    e_up, e_lo = float(np.sum(r * p_plus)), float(np.sum(r * p_minus))
    v = float(np.sum(r ** 2 * p_plus * (1 - p_plus)))
    sd = np.sqrt(v)
    return SignedRankTest(float(stats.norm.sf((T - e_up) / sd)),
                          float(stats.norm.sf((T - e_lo) / sd)), T, e_up, e_lo, v)


def signed_rank_test(data: Any, gamma: float = 1.0, *, tau: float = 0.0) -> SignedRankTest:
    """Bounds on the one-sided p-value of Wilcoxon's signed rank test (``psens``).

    Parameters
    ----------
    data : pair differences (treated minus control), or matched pairs
        Anything :func:`matched_sets` accepts that holds pairs.
    gamma : float >= 1
    tau : float
        Test an additive effect ``tau`` (the differences minus ``tau``).

    Returns
    -------
    SignedRankTest
        ``p_upper``, ``p_lower`` (unrounded; ``rbounds`` rounds them to 4
        decimals), ``statistic`` (T), ``expectation_upper``, ``expectation_lower``,
        ``variance``.

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]      # lead pairs
    >>> r = signed_rank_test(d, gamma=3)
    >>> r.statistic, r.expectation_upper, round(r.p_upper, 4)      # Rosenbaum (2002)
    (499.0, 396.0, 0.0131)
    """
    if not gamma >= 1:
        raise InputError(f"Gamma must be >= 1, got {gamma}")
    return _signed_rank(_differences(data) - tau, float(gamma))


def _t_all(d: np.ndarray, tau: float) -> float:
    """``hlsens``'s statistic: ranks over all pairs, a zero difference scoring 0."""
    x = d - tau
    r = stats.rankdata(np.abs(x))
    return float(r[x > 0].sum())


def wilcoxon_pseudomedian(d: Any) -> float:
    """R's ``wilcox.test(d, conf.int = TRUE, exact = FALSE)$estimate``.

    The root, found by R's ``uniroot`` at ``tol = 1e-4``, of the tie-corrected,
    standardised signed rank statistic of ``d - m`` (zeros dropped, no continuity
    correction); :func:`zeroin` repeats R's iterations, so the result is R's to the
    last digit, not the exact Hodges-Lehmann estimate.
    """
    d = np.asarray(d, dtype=np.float64)
    d = d[d != 0]

    def W(m):
        xd = d - m
        xd = xd[xd != 0]
        nx = xd.size
        dr = stats.rankdata(np.abs(xd))
        zd = dr[xd > 0].sum() - nx * (nx + 1) / 4
        _, ties = np.unique(dr, return_counts=True)
        sigma = np.sqrt(nx * (nx + 1) * (2 * nx + 1) / 24 - np.sum(ties ** 3 - ties) / 48)
        return zd / sigma

    return zeroin(W, float(d.min()), float(d.max()), tol=1e-4)


def hodges_lehmann_bounds(data: Any, gamma: float = 1.0, *, method: str = "exact",
                          step: float = 0.1) -> tuple[float, float]:
    """Range of Hodges-Lehmann estimates of an additive effect under a bias Gamma.

    Parameters
    ----------
    data : pair differences (treated minus control), or matched pairs
    gamma : float >= 1
    method : {"exact", "rbounds"}
        ``"exact"``: Rosenbaum's definition (the midpoint of the ``tau`` where the
        signed rank statistic crosses its bounding expectation), exact to machine
        precision.  ``"rbounds"``: ``rbounds::hlsens`` step for step: a grid of
        width ``step`` from R's ``wilcox.test`` estimate, with ``hlsens``'s
        orientation (the group with the larger mean counts as treated) and without
        its rounding to 5 significant digits.
    step : float
        The grid width of ``method="rbounds"`` (``hlsens``'s ``pr``).

    Returns
    -------
    (lower, upper) : tuple of float

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]
    >>> hodges_lehmann_bounds(d, 1), hodges_lehmann_bounds(d, 2)   # Rosenbaum (2002)
    ((15.0, 15.0), (10.25, 19.5))
    """
    if not gamma >= 1:
        raise InputError(f"Gamma must be >= 1, got {gamma}")
    sets = matched_sets(data)
    d = sets.pair_differences()
    s = d.size
    total = s * (s + 1) / 2
    t_min, t_max = total / (1 + gamma), total * gamma / (1 + gamma)
    if method == "rbounds":
        return _hlsens(*sets.pair_outcomes(), t_min, t_max, step)
    if method != "exact":
        raise InputError(f"method must be 'exact' or 'rbounds', got {method!r}")
    width = float(d.max() - d.min()) + 1.0
    lo_end, hi_end = float(d.min()) - width, float(d.max()) + width

    def solve(t):
        # T(tau) falls from s(s+1)/2 to 0 as tau grows; the estimate is the midpoint of
        # the tau where it passes below t (T > t before) and where it drops under t.
        a = _walsh_boundary(d, lambda tau: _t_all(d, tau) > t, lo_end, hi_end)
        b = _walsh_boundary(d, lambda tau: _t_all(d, tau) >= t, lo_end, hi_end)
        return (a + b) / 2

    return solve(t_max), solve(t_min)


def _hlsens(trt: np.ndarray, ctrl: np.ndarray, t_min: float, t_max: float,
            pr: float) -> tuple[float, float]:
    """``rbounds::hlsens`` (without its final ``signif(., 5)``), in its arithmetic:
    ``(treated - tau) - control``."""
    if not np.mean(trt) - np.mean(ctrl) > 0:     # hlsens makes the mean difference > 0
        trt, ctrl = ctrl, trt

    def ttau(tau):
        x = (trt - tau) - ctrl
        r = stats.rankdata(np.abs(x))
        return float(r[x > 0].sum())

    tau0 = wilcoxon_pseudomedian(trt - ctrl)
    eps = 1e-8
    up, lb, ub = tau0, t_min, t_max
    while abs(ub - lb) > eps and lb < ub:
        up = up + pr
        ub = ttau(up)
    lo, lb, ub = tau0, t_min, t_max
    while abs(ub - lb) > eps and lb <= ub:
        lo = lo - pr
        lb = ttau(lo)
    return lo, up


def signed_rank_interval(data: Any, gamma: float = 1.0, *, alpha: float = 0.05,
                         two_sided: bool = True) -> tuple[float, float]:
    """Confidence interval for an additive effect, valid under a bias of at most Gamma.

    The set of effects ``tau`` that the signed rank test does not reject at level
    ``alpha`` (``alpha / 2`` on each side when two-sided) even in the worst case:
    the lower limit is where the upper-bound p-value of the differences minus
    ``tau`` crosses ``alpha``.  One-sided intervals have an infinite upper limit.

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]
    >>> lo, hi = signed_rank_interval(d, 1)
    >>> lo < 15 < hi
    True
    """
    if not gamma >= 1:
        raise InputError(f"Gamma must be >= 1, got {gamma}")
    d = _differences(data)
    a = alpha / 2 if two_sided else alpha
    width = float(d.max() - d.min()) + 1.0

    def limit(x):
        lo_end, hi_end = float(x.min()) - width, float(x.max()) + width
        return _walsh_boundary(x, lambda tau: _rejects(x - tau, gamma, a), lo_end, hi_end)

    lower = limit(d)
    upper = -limit(-d) if two_sided else np.inf
    return lower, upper


def _walsh_boundary(d: np.ndarray, inside, lower: float, upper: float) -> float:
    """Where a signed-rank predicate of ``tau`` switches: found by bisection, then set
    to the Walsh average ``(d_i + d_j) / 2`` it converged to (a rank statistic of
    ``d - tau`` changes only there)."""
    b = step_boundary(inside, lower, upper)
    s = np.sort(d)
    j = np.clip(np.searchsorted(s, 2 * b - s), 1, s.size - 1)
    cand = np.concatenate([(s + s[j - 1]) / 2, (s + s[j]) / 2])
    best = cand[np.argmin(np.abs(cand - b))]
    scale = max(1.0, float(np.max(np.abs(s))))
    return float(best) if abs(best - b) <= 1e-9 * scale else b


def _rejects(x: np.ndarray, gamma: float, alpha: float) -> bool:
    if np.all(x == 0):
        return False
    return _signed_rank(x, gamma).p_upper <= alpha
