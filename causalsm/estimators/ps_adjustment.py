"""Abadie-Imbens (2016) correction for matching on an *estimated* propensity score.

Matching with replacement and a fixed number of matches M on the fitted probabilities
``ps = F(design @ theta_hat)`` of a logistic regression (theta_hat the maximum-likelihood estimate)
has a different large-sample variance from matching on the true score.  Abadie & Imbens (2016,
*Econometrica* 84:781-807, "Matching on the estimated propensity score", Theorem 2) give, for the
logit (F = Lambda, f = F(1 - F)) and with ``I = E[f^2 X X' / (F (1 - F))] = E[F (1 - F) X X']``::

    ATE   sqrt(n)(tau_hat - tau)     -> N(0, sigma^2   - c' I^-1 c)
    ATT   sqrt(n)(tau_hat_t - tau_t) -> N(0, sigma_t^2 - c_t' I^-1 c_t + d_t' I^-1 d_t)

where sigma^2, sigma_t^2 are the AI (2006) variances of matching on the true score, and, writing
p = F(X'theta), pbar = P(W = 1), mu_w(x) = E[Y | W = w, X = x], mubar_w(p) = E[Y | W = w, p],
cov_w = cov(X, mu_w(X) | p)::

    c   = E[ f (cov_1 / p + cov_0 / (1 - p)) ]            = E[ (1 - p) cov_1 + p cov_0 ]
    c_t = pbar^-1 E[ f (cov_1 + p / (1 - p) cov_0) ]
          + pbar^-1 E[ X f (mubar_1(p) - mubar_0(p) - tau_t) ]
    d_t = pbar^-1 E[ X f (mu_1(X) - mu_0(X) - tau_t) ]     (= d tau_t / d theta)

The ATE term is <= 0: ignoring the estimation of the score (R's ``Matching::Match`` does) is
conservative for the ATE.  The ATT term can have either sign.

What :func:`ps_adjustment` returns is the plug-in estimate of the extra term, **divided by n**,
so that ``V_adjusted = V_ai2006 + adjustment`` on the scale of ``Var(tau_hat)``::

    ATE   adjustment = -c_hat' I_hat^-1 c_hat / n
    ATT   adjustment = (-c_t_hat' I_hat^-1 c_t_hat + d_t_hat' I_hat^-1 d_t_hat) / n
    ATC   the ATT of the mirrored problem (arms swapped, ps -> 1 - ps, tau -> -tau)

The term does not depend on M (sigma^2 does), so the same function serves any fixed M, ties or
not.  Plug-in pieces (following the structure of Shu Yang's R package ``multilevelMatching``):

- ``I_hat = n^-1 sum_i ps_i (1 - ps_i) X_i X_i'``, the logit information (equal to the inverse of
  the Hessian-based covariance of the MLE, divided by n).
- ``cov_w,i``: the sample covariance (denominator L - 1) of (X, Y) over H_L(i, w), the L units of
  arm w whose ps is nearest to ps_i; for w = W_i the set is i itself plus its L - 1 nearest
  same-arm neighbours (as in ``multilevelMatching``, whose L is 2, the default here).
  Neighbours come from a sorted search on ps: O(n log n) time, O(n L) memory.
- With ``D_i = y1_hat_i - y0_hat_i`` (own outcome and the mean of the matches)::

      A     = n1^-1 sum_i X_i f_i (D_i - tau_hat)
      c_hat = n^-1  sum_i [ (1 - ps_i) cov_1,i + ps_i cov_0,i ]
      g_hat = A - n1^-1 sum_i f_i [ ps_i cov_1,i - (1 - ps_i) cov_0,i ]
      c_t_hat = n1^-1 sum_i [ f_i cov_1,i + ps_i^2 cov_0,i ] + g_hat
      d_t_hat = A + n1^-1 sum_i f_i [ (1 - ps_i) cov_1,i - ps_i cov_0,i ]

  The two cov corrections of A remove the bias of the matched D_i: for a treated unit
  E[D_i | X_i] = mu_1(X_i) - mubar_0(p_i), neither mu_1 - mu_0 at X_i nor mubar_1 - mubar_0 at p_i,
  and E[X f (mu_w(X) - mubar_w(p))] = E[f cov_w].

Sources and discrepancies
-------------------------
The final formula follows Abadie & Imbens (2016, Theorem 2, as recalled: the paper's text could not
be read here), re-derived independently: c (resp. c_t) is the covariance between the influence
function of matching on the true score and the logit score X f (W - p) / {p (1 - p)}, and the
effect of theta_hat on the estimator is (d_t - c_t)' (theta_hat - theta), which gives the two
displays above.  The Monte Carlo checks in ``tests/test_ps_adjustment.py`` and
``benchmarks/ps_adjustment_sim.py`` support it: the mean adjustment matches the Monte Carlo
n (Var_est - Var_true) of the estimator, with both signs, and the adjusted intervals cover.

- The project spec (``specs/matching-estimators.md`` section 2.4) has the same c, I and d_t, but its
  c_t lacks the second term pbar^-1 E[X f (mubar_1 - mubar_0 - tau_t)]; that term is the covariance
  of the treated units' effect deviations with the score and does not vanish when the effect varies
  with p.  Its plug-in for d_t, n1^-1 sum X f (D - tau), omits the cov correction above and is
  inconsistent when mu_w depends on X beyond p.
- ``multilevelMatching`` (``multilevelGPSMatch`` and ``calcSigSqAI2016``) combines the arms of a
  binary contrast as (1 - p) cov_1 - p cov_0 (it adds the per-arm vectors c_j + c_k where a
  contrast needs c_k - c_j); the derivation above, and the ATE formula of AI 2016, give
  (1 - p) cov_1 + p cov_0.  This module uses the plus sign.
- Stata's methods-and-formulas text for ``teffects psmatch`` could not be read here, so no
  number from Stata was compared.

The neighbours are found on the probability scale; matching on the logit scale picks the same
ordered units, so only the left/right choice at the boundary of H_L can differ.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> n = 400
>>> X = np.column_stack([np.ones(n), rng.normal(size=(n, 2))])
>>> ps = 1 / (1 + np.exp(-(X @ [0.0, 0.8, -0.5])))
>>> t = (rng.uniform(size=n) < ps).astype(int)
>>> y = X[:, 1] + X[:, 2] + t + rng.normal(size=n)
>>> y1, y0 = np.where(t == 1, y, y.mean() + 1), np.where(t == 0, y, y.mean())
>>> adj = ps_adjustment(X, t, y, ps, estimand="ATE", y1_hat=y1, y0_hat=y0, tau=1.0)
>>> adj <= 0
True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from causalsm._validation import InputError, check_estimand, check_int

__all__ = ["ps_adjustment", "ps_adjustment_terms", "PSAdjustmentTerms", "logit_information",
           "local_covariances"]


@dataclass(frozen=True)
class PSAdjustmentTerms:
    """The pieces of the Abadie-Imbens (2016) adjustment (asymptotic scale, not divided by n).

    Attributes
    ----------
    estimand : str
        ``"ATE"``, ``"ATT"`` or ``"ATC"`` (ATC holds the terms of the mirrored ATT).
    n : int
        Number of units.
    information : ndarray, shape (p, p)
        ``I_hat``, the logit information per unit.
    c : ndarray, shape (p,)
        ``c_hat`` (ATE) or ``c_t_hat`` (ATT/ATC).
    d : ndarray, shape (p,)
        ``d_t_hat`` (ATT/ATC); zeros for the ATE.
    adjustment : float
        ``(-c' I^-1 c + d' I^-1 d) / n``, the value :func:`ps_adjustment` returns.
    """

    estimand: str
    n: int
    information: np.ndarray
    c: np.ndarray
    d: np.ndarray
    adjustment: float


def logit_information(design: Any, ps: Any) -> np.ndarray:
    """Per-unit Fisher information of a logistic regression, ``n^-1 sum ps(1-ps) X X'``.

    Equals the inverse of the Hessian-based covariance of the MLE, divided by n.

    Parameters
    ----------
    design : array-like, shape (n, p)
        Design matrix, intercept column included.
    ps : array-like, shape (n,)
        Fitted probabilities.

    Returns
    -------
    ndarray, shape (p, p)

    Examples
    --------
    >>> logit_information([[1.0, 0.0], [1.0, 1.0]], [0.5, 0.5])
    array([[0.25 , 0.125],
           [0.125, 0.125]])
    """
    X = np.asarray(design, dtype=np.float64)
    p = np.asarray(ps, dtype=np.float64)
    return (X * (p * (1.0 - p))[:, None]).T @ X / X.shape[0]


def _neighbour_sets(ps: np.ndarray, t: np.ndarray, y: np.ndarray, arm: int,
                    L: int) -> np.ndarray:
    """Indices (n, L) of H_L(i, arm): the L arm units nearest to ps_i (i itself first if in arm)."""
    n = ps.shape[0]
    members = np.flatnonzero(t == arm)
    # sort by ps, ties broken by y then by index, so that the sets do not depend on row order
    # unless two units share both ps and y
    order = members[np.lexsort((y[members], ps[members]))]
    s = ps[order]
    m = order.shape[0]
    out = np.empty((n, L), dtype=np.int64)

    # units of the other arm: the L nearest among the 2L around the insertion point
    other = np.flatnonzero(t != arm)
    if other.size:
        q = ps[other]
        pos = np.searchsorted(s, q)
        cand = pos[:, None] + np.arange(-L, L)[None, :]
        valid = (cand >= 0) & (cand < m)
        dist = np.where(valid, np.abs(s[np.clip(cand, 0, m - 1)] - q[:, None]), np.inf)
        pick = np.argsort(dist, axis=1, kind="stable")[:, :L]
        out[other] = order[np.take_along_axis(np.clip(cand, 0, m - 1), pick, axis=1)]

    # units of the arm: themselves plus their L - 1 nearest same-arm neighbours
    out[order, 0] = order
    if L > 1:
        rank = np.arange(m)
        offsets = np.concatenate([np.arange(-(L - 1), 0), np.arange(1, L)])
        cand = rank[:, None] + offsets[None, :]
        valid = (cand >= 0) & (cand < m)
        dist = np.where(valid, np.abs(s[np.clip(cand, 0, m - 1)] - s[:, None]), np.inf)
        pick = np.argsort(dist, axis=1, kind="stable")[:, :L - 1]
        out[order, 1:] = order[np.take_along_axis(np.clip(cand, 0, m - 1), pick, axis=1)]
    return out


def local_covariances(design: Any, t: Any, y: Any, ps: Any, arm: int,
                      n_cov_neighbors: int = 2) -> np.ndarray:
    """Estimate cov(X, Y | ps = ps_i, W = arm) for every unit i from its L nearest arm units.

    H_L(i, arm) holds the ``n_cov_neighbors`` units of ``arm`` with ps nearest to ps_i; when unit
    i is itself in ``arm`` it is i plus its L - 1 nearest same-arm neighbours.  The covariance
    uses the denominator L - 1.

    Parameters
    ----------
    design : array-like, shape (n, p)
    t : array-like of 0/1, shape (n,)
    y : array-like, shape (n,)
    ps : array-like, shape (n,)
    arm : {0, 1}
    n_cov_neighbors : int, default 2
        L, at least 2.

    Returns
    -------
    ndarray, shape (n, p)
        Row i is the covariance vector between the columns of ``design`` and y (zero for a
        constant column).

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [2.0], [4.0]])
    >>> local_covariances(X, [1, 1, 0, 0], [0.0, 2.0, 4.0, 8.0], [0.1, 0.2, 0.3, 0.5], arm=1)
    array([[1.],
           [1.],
           [1.],
           [1.]])
    """
    X = np.asarray(design, dtype=np.float64)
    ta = np.asarray(t)
    ya = np.asarray(y, dtype=np.float64)
    pa = np.asarray(ps, dtype=np.float64)
    L = check_int(n_cov_neighbors, "n_cov_neighbors", minimum=2)
    if int((ta == arm).sum()) < L:
        raise InputError(f"arm {arm} has {int((ta == arm).sum())} unit(s); the local "
                         f"covariances need at least n_cov_neighbors={L}")
    nb = _neighbour_sets(pa, ta, ya, arm, L)
    yn = ya[nb]
    yc = yn - yn.mean(axis=1, keepdims=True)
    out = np.empty((X.shape[0], X.shape[1]))
    for k in range(X.shape[1]):          # column by column: memory O(n L), not O(n L p)
        xk = X[nb, k]
        out[:, k] = ((xk - xk.mean(axis=1, keepdims=True)) * yc).sum(axis=1) / (L - 1)
    return out


def _check(design: Any, t: Any, y: Any, ps: Any, y1_hat: Any, y0_hat: Any,
           tau: Any) -> tuple[np.ndarray, ...]:
    X = np.asarray(design, dtype=np.float64)
    if X.ndim != 2:
        raise InputError(f"design must be 2-dimensional, got shape {X.shape}")
    n = X.shape[0]
    arrays = {}
    for name, v in (("t", t), ("y", y), ("ps", ps), ("y1_hat", y1_hat), ("y0_hat", y0_hat)):
        a = np.asarray(v, dtype=np.float64).ravel()
        if a.shape[0] != n:
            raise InputError(f"design has {n} rows but '{name}' has {a.shape[0]} values")
        if not np.isfinite(a).all():
            raise InputError(f"'{name}' has {int((~np.isfinite(a)).sum())} missing or "
                             "infinite value(s)")
        arrays[name] = a
    if not np.isfinite(X).all():
        raise InputError("design has missing or infinite values")
    ta = arrays["t"]
    if not np.isin(ta, (0.0, 1.0)).all():
        raise InputError("'t' must be binary 0/1")
    pa = arrays["ps"]
    if ((pa <= 0) | (pa >= 1)).any():
        raise InputError("'ps' must lie strictly between 0 and 1")
    if not np.isfinite(float(tau)):
        raise InputError("'tau' must be finite")
    return (X, ta.astype(np.int64), arrays["y"], pa, arrays["y1_hat"], arrays["y0_hat"],
            float(tau))


def _check_information(information: np.ndarray) -> None:
    eig = np.linalg.eigvalsh(information)
    if not eig.min() > 1e-12 * eig.max():
        raise InputError("the logit information matrix is singular: the design has collinear "
                         "columns, or a constant column besides the intercept")


def _quad(information: np.ndarray, v: np.ndarray) -> float:
    return float(v @ np.linalg.solve(information, v))


def ps_adjustment_terms(design: Any, t: Any, y: Any, ps: Any, *, estimand: str, y1_hat: Any,
                        y0_hat: Any, tau: float, n_cov_neighbors: int = 2) -> PSAdjustmentTerms:
    """Like :func:`ps_adjustment`, but return the pieces (see :class:`PSAdjustmentTerms`)."""
    est = check_estimand(estimand)
    X, ta, ya, pa, y1, y0, tau = _check(design, t, y, ps, y1_hat, y0_hat, tau)
    L = check_int(n_cov_neighbors, "n_cov_neighbors", minimum=2)
    if est == "ATC":  # ATC = ATT of the mirrored problem
        ta, pa, y1, y0, tau = 1 - ta, 1.0 - pa, y0, y1, -tau
    n = X.shape[0]
    info = logit_information(X, pa)
    _check_information(info)
    cov1 = local_covariances(X, ta, ya, pa, 1, L)
    cov0 = local_covariances(X, ta, ya, pa, 0, L)
    f = pa * (1.0 - pa)
    if est == "ATE":
        c = ((1.0 - pa)[:, None] * cov1 + pa[:, None] * cov0).mean(axis=0)
        d = np.zeros_like(c)
    else:
        n1 = int(ta.sum())
        A = (X * (f * (y1 - y0 - tau))[:, None]).sum(axis=0) / n1
        g = A - (f[:, None] * (pa[:, None] * cov1 - (1.0 - pa)[:, None] * cov0)).sum(axis=0) / n1
        c = (f[:, None] * cov1 + (pa ** 2)[:, None] * cov0).sum(axis=0) / n1 + g
        d = A + (f[:, None] * ((1.0 - pa)[:, None] * cov1 - pa[:, None] * cov0)).sum(axis=0) / n1
    adjustment = (-_quad(info, c) + (_quad(info, d) if est != "ATE" else 0.0)) / n
    return PSAdjustmentTerms(est, n, info, c, d, adjustment)


def ps_adjustment(design: Any, t: Any, y: Any, ps: Any, *, estimand: str, y1_hat: Any,
                  y0_hat: Any, tau: float, n_cov_neighbors: int = 2) -> float:
    """Abadie-Imbens (2016) additive adjustment to the AI (2006) variance of PS matching.

    ``V_adjusted = V_ai2006 + adjustment``, both on the scale of ``Var(tau_hat)`` (already
    divided by n).  The adjustment is <= 0 for the ATE and of either sign for the ATT/ATC.
    See the module docstring for the formulas and their sources.

    Parameters
    ----------
    design : array-like, shape (n, p)
        Logistic-regression design matrix, intercept column included, whose MLE gave ``ps``.
    t : array-like of 0/1, shape (n,)
    y : array-like, shape (n,)
        Outcome.
    ps : array-like, shape (n,)
        Fitted probabilities, strictly inside (0, 1).
    estimand : {"ATE", "ATT", "ATC"}
    y1_hat, y0_hat : array-like, shape (n,)
        Imputed potential outcomes from matching all units: own outcome for the own arm, mean of
        the matches for the other arm.  Used by the ATT/ATC terms only.
    tau : float
        The point estimate of the estimand.
    n_cov_neighbors : int, default 2
        L, the number of same-arm units, nearest on ps, for the local covariances.

    Returns
    -------
    float

    Examples
    --------
    >>> X = np.column_stack([np.ones(6), [0.0, 1, 2, 3, 4, 5]])
    >>> ps = 1 / (1 + np.exp(-(X[:, 1] - 2.5)))
    >>> t, y = np.array([0, 1, 0, 1, 0, 1]), np.array([1.0, 3, 2, 5, 4, 6])
    >>> v = ps_adjustment(X, t, y, ps, estimand="ATE", y1_hat=y, y0_hat=y, tau=1.0)
    >>> v <= 0
    True
    """
    return ps_adjustment_terms(design, t, y, ps, estimand=estimand, y1_hat=y1_hat,
                               y0_hat=y0_hat, tau=tau, n_cov_neighbors=n_cov_neighbors).adjustment
