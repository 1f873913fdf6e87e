"""The numerics of survival after matching: a weighted Cox model of a 0/1 treatment
(Breslow ties, score residuals for sandwich variances) and weighted Kaplan-Meier curves
with their restricted mean survival time.  :mod:`causalsm.estimators.survival` builds the
matched hazard ratio on them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["CoxFit", "cox_fit", "rmst", "weighted_km"]


# ============================================================================ Cox model
@dataclass
class CoxFit:
    """A weighted Cox fit of the survival time on a 0/1 treatment (Breslow ties).

    ``residual`` is each unit's (unweighted) score residual ``l_i``: the weighted
    score is ``sum w_i l_i = 0`` and R's ``residuals(fit, "dfbeta", weighted=TRUE)``
    is ``w_i l_i / information``.
    """

    beta: float
    information: float
    residual: np.ndarray
    converged: bool
    n_iter: int

    def robust_variance(self, weights: np.ndarray, cluster: np.ndarray | None = None,
                        rows: np.ndarray | None = None) -> float:
        """Sandwich variance of ``beta``: ``sum_g (sum_{i in g} w_i l_i)^2 / I^2``.

        ``cluster`` labels the clusters (default: each unit its own); ``rows`` maps
        rows to units when ``weights`` and ``cluster`` are per row (several rows per
        unit, as MatchIt's ``get_matches()``).  No ``G/(G-1)`` factor, as ``coxph``.
        """
        r = self.residual if rows is None else self.residual[rows]
        c = np.asarray(weights, float) * r
        if cluster is not None:
            _, g = np.unique(cluster, return_inverse=True)
            c = np.bincount(g, weights=c)
        return float(np.sum(c ** 2) / self.information ** 2)


def cox_fit(time: Any, event: Any, treatment: Any, weights: Any = None, *,
            beta: float | None = None, tol: float = 1e-12, max_iter: int = 60) -> CoxFit:
    """Weighted Cox partial-likelihood fit of ``time`` on a 0/1 ``treatment``, Breslow ties.

    Newton's method on the concave one-parameter log partial likelihood, from 0,
    with step halving; units with weight 0 are left out of every risk set.

    Parameters
    ----------
    time : array-like, shape (n,)
        Follow-up times (>= 0).
    event : array-like of 0/1, shape (n,)
    treatment : array-like of 0/1, shape (n,)
    weights : array-like, shape (n,), optional
        Non-negative case weights (default 1).
    beta : float, optional
        Evaluate the information and residuals at this coefficient instead of fitting
        (for score tests: the weighted score is then ``sum(w * residual)``).

    Returns
    -------
    CoxFit
        ``beta`` (log hazard ratio), ``information`` (observed information at
        ``beta``), ``residual`` (score residual of each unit).

    Examples
    --------
    >>> fit = cox_fit([1., 2, 3, 4, 5, 6], [1, 1, 0, 1, 1, 1], [1, 0, 1, 0, 1, 0])
    >>> round(fit.beta, 6), round(float(fit.residual.sum()), 12)
    (0.273948, 0.0)
    """
    T = np.asarray(time, dtype=np.float64).ravel()
    d = np.asarray(event, dtype=np.float64).ravel()
    a = np.asarray(treatment, dtype=np.float64).ravel()
    w = np.ones_like(T) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    ut, inv = np.unique(T, return_inverse=True)
    k = ut.size
    W0 = np.bincount(inv, weights=w * (1 - a), minlength=k)
    W1 = np.bincount(inv, weights=w * a, minlength=k)
    R0 = np.cumsum(W0[::-1])[::-1]                  # weight at risk at each time, control
    R1 = np.cumsum(W1[::-1])[::-1]
    D = np.bincount(inv, weights=w * d, minlength=k)
    D1 = np.bincount(inv, weights=w * d * a, minlength=k)
    ev = D > 0
    r0, r1, De = R0[ev], R1[ev], D[ev]
    target = D1.sum()

    def parts(beta):
        p = r1 * np.exp(beta) / (r0 + r1 * np.exp(beta))
        return target - De @ p, De @ (p * (1 - p)), p

    def loglik(beta):
        return beta * target - De @ np.log(r0 + r1 * np.exp(beta))

    fixed = beta is not None
    beta, converged, it = (float(beta), True, 0) if fixed else (0.0, False, 0)
    ll = loglik(beta)
    for it in range(1, 0 if fixed else max_iter + 1):
        U, info, _ = parts(beta)
        if info <= 0:
            break
        step = U / info
        new = beta + step
        ll_new = loglik(new)
        halvings = 0
        while not ll_new >= ll - 1e-12 * abs(ll) and halvings < 30:
            step /= 2
            new = beta + step
            ll_new = loglik(new)
            halvings += 1
        beta, ll = new, ll_new
        if abs(step) < tol * max(1.0, abs(beta)):
            converged = True
            break
    _, info, _ = parts(beta)
    # score residuals:
    # l_i = d_i (a_i - abar(T_i)) - e^{beta a_i} sum_{t_k <= T_i} (a_i - abar_k) dH_k
    eb = np.exp(beta)
    S0 = R0 + R1 * eb
    with np.errstate(invalid="ignore", divide="ignore"):
        abar = np.where(S0 > 0, R1 * eb / S0, 0.0)
        dH = np.where(S0 > 0, D / S0, 0.0)
    H0 = np.cumsum(dH)
    H1 = np.cumsum(abar * dH)
    resid = d * (a - abar[inv]) - np.exp(beta * a) * (a * H0[inv] - H1[inv])
    return CoxFit(beta=float(beta), information=float(info), residual=resid,
                  converged=bool(converged and np.isfinite(beta)), n_iter=it)


# ======================================================================= Kaplan-Meier
def weighted_km(time: Any, event: Any, weights: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Weighted Kaplan-Meier estimate: ``(event times, survival just after each)``.

    Examples
    --------
    >>> t, s = weighted_km([1., 2, 2, 3], [1, 1, 0, 1])
    >>> t.tolist(), s.round(4).tolist()
    ([1.0, 2.0, 3.0], [0.75, 0.5, 0.0])
    """
    T = np.asarray(time, dtype=np.float64).ravel()
    d = np.asarray(event, dtype=np.float64).ravel()
    w = np.ones_like(T) if weights is None else np.asarray(weights, dtype=np.float64).ravel()
    keep = w > 0
    T, d, w = T[keep], d[keep], w[keep]
    ut, inv = np.unique(T, return_inverse=True)
    at_risk = np.cumsum(np.bincount(inv, weights=w, minlength=ut.size)[::-1])[::-1]
    deaths = np.bincount(inv, weights=w * d, minlength=ut.size)
    ev = deaths > 0
    surv = np.cumprod(1.0 - deaths[ev] / at_risk[ev])
    return ut[ev], surv


def rmst(time: Any, event: Any, weights: Any, horizon: float) -> float:
    """Area under the weighted Kaplan-Meier curve on ``[0, horizon]``."""
    t, s = weighted_km(time, event, weights)
    keep = t < horizon
    knots = np.concatenate([[0.0], t[keep], [horizon]])
    heights = np.concatenate([[1.0], s[keep]])
    return float(np.sum(np.diff(knots) * heights))
