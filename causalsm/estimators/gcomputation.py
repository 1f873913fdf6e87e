"""Effects after any matching design by g-computation, as MatchIt's vignette prescribes.

"Estimating Effects After Matching" (MatchIt 4.5) fits an outcome model on the matched
data with the matching weights -- the treatment interacted with the covariates --
predicts every unit of the target population under treatment and under control, and
averages the contrast; standard errors come from the delta method with a
cluster-robust covariance by matched set, or HC3 where there are no sets to cluster
on, or from a cluster bootstrap (which one :func:`matched_effect` takes by default is
said there):

.. code-block:: r

    fit <- lm(Y ~ A * (X1 + X2), data = md, weights = weights)
    avg_comparisons(fit, variables = "A", vcov = ~subclass,
                    newdata = subset(md, A == 1), wts = "weights")     # the ATT

This module computes the same numbers (checked against marginaleffects 0.32.0 and
sandwich 3.0 to 1e-6):

* the model: weighted least squares for a continuous outcome; for a binary one a
  logistic model with the weights as prior weights (R's ``quasibinomial``: same
  coefficients), solved by iteratively reweighted least squares.  Columns that are
  linear combinations of earlier ones are dropped, as R's ``lm`` and ``glm`` do;
* the estimand: the weighted average over the treated units of the matched data
  (ATT), the controls (ATC) or all of them (ATE) of ``mu1(x) - mu0(x)``, or for a
  binary outcome the risk difference, the risk ratio ``mean mu1 / mean mu0``
  (``"lnratioavg"``) or the odds ratio of those averages (``"lnoravg"``);
* the covariance: ``sandwich::vcovCL(fit, cluster = ~subclass)``, i.e.
  ``(X'WX)^-1 [sum_g u_g u_g'] (X'WX)^-1 * G / (G - 1)``, times ``(n - 1) / (n - k)``
  for a linear model (type HC1) and not for a logistic one (HC0); or
  ``vcovHC(type = "HC3")``, with ``u_i / (1 - h_i)`` for hat values ``h``;
* the cluster bootstrap: matched sets drawn with replacement, the model refitted,
  a percentile interval (Austin & Small 2014; Abadie & Spiess 2022).

Ratios are reported on their natural scale: the interval is the exponentiated
log-scale Wald interval and ``std_error`` the delta-method SE of the ratio
(``ratio * SE(log ratio)``; the log-scale values are in ``details``).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from scipy.linalg import solve_triangular

from .._validation import (InputError, check_array, check_estimand, check_int, check_seed,
                           check_weights)
from ..inference import cluster_bootstrap
from .results import EffectResult, wald

__all__ = ["gcomputation", "matched_effect", "EFFECTS", "VCOVS"]

EFFECTS = ("difference", "ratio", "odds_ratio")
VCOVS = ("auto", "cluster", "hc3", "bootstrap")
_TOL = 1e-7                          # R's lm/glm rank tolerance (dqrdc2)


# --------------------------------------------------------------------------- fitting
def _design(t: np.ndarray, X: np.ndarray) -> np.ndarray:
    """``1, A, X, A:X`` (R's ``model.matrix(~ A * X)`` up to column order)."""
    t = t.astype(np.float64)[:, None]
    return np.hstack([np.ones_like(t), t, X, t * X])


def _full_rank(M: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Columns kept by a sequential rank check on the weighted design (as R's pivoting
    QR, which moves a column whose residual norm is below 1e-7 of its norm to the end)."""
    Mw = M * np.sqrt(w)[:, None]
    norms = np.linalg.norm(Mw, axis=0)
    keep = []
    Q = np.zeros((M.shape[0], 0))
    for j in range(M.shape[1]):
        v = Mw[:, j]
        if norms[j] == 0:
            continue
        r = v - Q @ (Q.T @ v)
        r = r - Q @ (Q.T @ r)                     # re-orthogonalise
        nr = np.linalg.norm(r)
        if nr > _TOL * norms[j]:
            keep.append(j)
            Q = np.column_stack([Q, r / nr])
    return np.array(keep, dtype=np.int64)


def _wls(M, y, w):
    """Weighted least squares by a QR decomposition (full column rank)."""
    sw = np.sqrt(w)
    Q, R = np.linalg.qr(M * sw[:, None])
    return solve_triangular(R, Q.T @ (y * sw))


def _fit(M, y, w, binary):
    """Coefficients, fitted means and the working weights of the model."""
    if not binary:
        beta = _wls(M, y, w)
        return beta, M @ beta, w.copy()
    beta = np.zeros(M.shape[1])
    mu = np.clip((w * y + 0.5) / (w + 1.0), 1e-6, 1 - 1e-6)       # glm's start: (wy+.5)/(w+1)
    eta = np.log(mu / (1 - mu))
    dev_old = np.inf
    for _ in range(100):
        ww = w * mu * (1 - mu)
        z = eta + (y - mu) / (mu * (1 - mu))
        beta = _wls(M, z, ww)
        eta = M @ beta
        mu = 1.0 / (1.0 + np.exp(-eta))
        with np.errstate(divide="ignore", invalid="ignore"):
            dev = -2 * np.sum(w * np.where(y > 0, y * np.log(mu), 0)
                              + w * np.where(y < 1, (1 - y) * np.log(1 - mu), 0))
        if abs(dev - dev_old) / (abs(dev) + 0.1) < 1e-14:
            break
        dev_old = dev
    return beta, mu, w * mu * (1 - mu)


def _contrast(mu1, mu0, omega, effect):
    """The estimate and d(estimate)/d(mean_1), d(estimate)/d(mean_0)."""
    m1 = np.sum(omega * mu1) / omega.sum()
    m0 = np.sum(omega * mu0) / omega.sum()
    if effect == "difference":
        return m1 - m0, 1.0, -1.0
    if effect == "ratio":
        return np.log(m1 / m0), 1 / m1, -1 / m0
    return (np.log(m1 / (1 - m1)) - np.log(m0 / (1 - m0)), 1 / (m1 * (1 - m1)),
            -1 / (m0 * (1 - m0)))


def _estimate(M1, M0, y, t, X, w, omega, binary, effect, keep=None):
    """Fit and contrast; returns (estimate, gradient in beta, pieces for the vcov)."""
    M = _design(t, X)
    if keep is None:
        keep = _full_rank(M, w)
    M, M1, M0 = M[:, keep], M1[:, keep], M0[:, keep]
    beta, mu, ww = _fit(M, y, w, binary)
    eta1, eta0 = M1 @ beta, M0 @ beta
    if binary:
        mu1, mu0 = 1 / (1 + np.exp(-eta1)), 1 / (1 + np.exp(-eta0))
        d1, d0 = mu1 * (1 - mu1), mu0 * (1 - mu0)
    else:
        mu1, mu0, d1, d0 = eta1, eta0, 1.0, 1.0
    est, a1, a0 = _contrast(mu1, mu0, omega, effect)
    om = omega / omega.sum()
    grad = a1 * ((om * d1) @ M1) + a0 * ((om * d0) @ M0)
    return est, grad, (M, beta, mu, ww)


def _vcov(M, y, mu, w, ww, binary, kind, cluster):
    """sandwich's vcovCL (HC1 for lm, HC0 for glm, G/(G-1)) or vcovHC(type = "HC3")."""
    bread = np.linalg.pinv(M.T @ (M * ww[:, None]))
    score = (w * (y - mu))[:, None] * M                # estfun: prior weight x residual x x
    n, k = M.shape
    if kind == "cluster":
        _, g = np.unique(cluster, return_inverse=True)
        G = int(g.max()) + 1
        U = np.zeros((G, k))
        np.add.at(U, g.ravel(), score)
        meat = U.T @ U * G / (G - 1)
        if not binary:
            meat *= (n - 1) / (n - k)
    else:
        h = np.einsum("ij,jk,ik->i", M * ww[:, None], bread, M)
        s = score / (1 - h)[:, None]
        meat = s.T @ s
    return bread @ meat @ bread


# --------------------------------------------------------------------------- public
def gcomputation(y: Any, t: Any, X: Any = None, weights: Any = None, *, estimand: str = "ATT",
                 subclass: Any = None, outcome: str = "auto", effect: str = "difference",
                 vcov: str = "auto", n_bootstrap: int = 999, alpha: float = 0.05,
                 random_state: Any = None, n_jobs: int = 1, method: str = "g-computation",
                 counts: dict | None = None) -> EffectResult:
    """Average effect by g-computation on (matched) data, with MatchIt's standard errors.

    Parameters
    ----------
    y : array-like, shape (n,)
        Outcome of the units of the matched data.
    t : array-like of 0/1, shape (n,)
    X : array-like, shape (n, p), optional
        Covariates of the outcome model (interacted with the treatment).  None gives
        the weighted difference in means.
    weights : array-like, shape (n,), optional
        Matching weights (ones by default).
    estimand : {"ATT", "ATC", "ATE"}
        Units averaged over: treated, controls, or all (weighted).
    subclass : array-like, shape (n,), optional
        Matched set of each unit, the clusters of the robust covariance and of the
        bootstrap.
    outcome : {"auto", "continuous", "binary"}
        ``"auto"``: binary when ``y`` takes only the values 0 and 1.
    effect : {"difference", "ratio", "odds_ratio"}
        For binary outcomes the risk ratio or odds ratio (of the averaged risks) may
        be asked for; a continuous outcome has the difference.
    vcov : {"auto", "cluster", "hc3", "bootstrap"}
        ``"auto"``: cluster-robust by ``subclass`` when given, else HC3.
    n_bootstrap : int
        Replicates of the cluster bootstrap.
    alpha : float
    random_state : int or None
        Seeds the bootstrap.
    n_jobs : int
        joblib workers for the bootstrap (results do not depend on it).
    method : str
        Label of the design, for the result.
    counts : dict, optional
        ``n_treated``, ``n_control``, ``n_matched``, ``n_dropped`` to report.

    Returns
    -------
    EffectResult

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=400); t = (rng.random(400) < 0.4).astype(int)
    >>> y = 1 + 2 * t + x + t * x + rng.normal(size=400)
    >>> res = gcomputation(y, t, x[:, None], estimand="ATE", vcov="hc3")
    >>> abs(res.estimate - 2) < 3 * res.std_error
    True
    """
    estimand = check_estimand(estimand)
    y = np.asarray(y, dtype=np.float64).ravel()
    t = np.asarray(t).astype(np.int64).ravel()
    n = y.size
    if t.size != n:
        raise InputError(f"the outcome has {n} values but the treatment {t.size}")
    Xa = np.zeros((n, 0)) if X is None else check_array(X, name="X")[0]
    if Xa.shape[0] != n:
        raise InputError(f"X has {Xa.shape[0]} rows; expected {n}")
    w = np.ones(n) if weights is None else check_weights(weights, n, name="weights")
    pos = w > 0
    y, t, Xa, w = y[pos], t[pos], Xa[pos], w[pos]
    cluster = None if subclass is None else np.asarray(subclass).ravel()[pos]
    for arm, label in ((1, "treated"), (0, "control")):
        if not (t == arm).any():
            raise InputError(f"the matched data have no {label} unit with positive weight")
    binary = _binary(y, outcome)
    if effect not in EFFECTS:
        raise InputError(f"effect must be one of {', '.join(EFFECTS)}, got {effect!r}")
    if effect != "difference" and not binary:
        raise InputError(f"effect={effect!r} needs a binary (0/1) outcome")
    if vcov not in VCOVS:
        raise InputError(f"vcov must be one of {', '.join(VCOVS)}, got {vcov!r}")
    if vcov == "auto":
        vcov = "cluster" if cluster is not None else "hc3"
    if vcov == "cluster" and cluster is None:
        raise InputError("vcov='cluster' needs the matched sets (subclass)")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    target = {"ATT": t == 1, "ATC": t == 0, "ATE": np.ones(t.size, dtype=bool)}[estimand]
    M1 = _design(np.ones(target.sum(), dtype=np.int64), Xa[target])
    M0 = _design(np.zeros(target.sum(), dtype=np.int64), Xa[target])
    omega = w[target]
    keep = _full_rank(_design(t, Xa), w)
    est, grad, (M, beta, mu, ww) = _estimate(M1, M0, y, t, Xa, w, omega, binary, effect,
                                             keep)
    details = {"outcome_model": "logistic (quasibinomial)" if binary else "linear",
               "effect": effect, "n_coefficients": int(keep.size), "n_rows": int(y.size),
               "covariates": int(Xa.shape[1])}
    if vcov == "bootstrap":
        groups = cluster if cluster is not None else np.arange(y.size)

        def stat(idx):
            tt, ww_ = t[idx], w[idx]
            if tt.min() == tt.max():
                return np.nan
            tg = target[idx]
            m1 = _design(np.ones(tg.sum(), dtype=np.int64), Xa[idx][tg])
            m0 = _design(np.zeros(tg.sum(), dtype=np.int64), Xa[idx][tg])
            return _estimate(m1, m0, y[idx], tt, Xa[idx], ww_, ww_[tg], binary, effect)[0]

        draws = cluster_bootstrap(stat, groups, n_replicates=check_int(n_bootstrap,
                                                                       "n_bootstrap"),
                                  random_state=check_seed(random_state), n_jobs=n_jobs)
        draws = draws[np.isfinite(draws)]
        se_log = float(draws.std(ddof=1))
        lo, hi = np.quantile(draws, [alpha / 2, 1 - alpha / 2])
        p = float(min(1.0, 2 * min(np.mean(draws <= 0), np.mean(draws >= 0)))) \
            if effect == "difference" else float(2 * stats.norm.sf(abs(est / se_log)))
        label = (f"cluster bootstrap over matched sets ({draws.size} replicates, percentile "
                 "interval)" if cluster is not None else
                 f"bootstrap over units ({draws.size} replicates, percentile interval)")
        details["n_bootstrap"] = int(draws.size)
    else:
        V = _vcov(M, y, mu, w, ww, binary, vcov, cluster)
        se_log = float(np.sqrt(max(grad @ V @ grad, 0.0)))
        (lo, hi), p = wald(est, se_log, alpha)
        if vcov == "cluster":
            G = int(np.unique(cluster).size)
            label = (f"cluster-robust by matched set ({G} clusters; "
                     f"{'HC1' if not binary else 'HC0'}, G/(G-1)), delta method")
            details["n_clusters"] = G
        else:
            label = "robust (HC3), delta method"
    if effect == "difference":
        estimate, se, ci = float(est), se_log, (float(lo), float(hi))
    else:
        details.update({"log_estimate": float(est), "log_std_error": se_log})
        estimate = float(np.exp(est))
        se, ci = estimate * se_log, (float(np.exp(lo)), float(np.exp(hi)))
    counts = counts or {"n_treated": int((t == 1).sum()), "n_control": int((t == 0).sum()),
                        "n_matched": int(target.sum()), "n_dropped": 0}
    name = {"difference": "difference" if not binary else "risk difference",
            "ratio": "risk ratio", "odds_ratio": "odds ratio"}[effect]
    return EffectResult(estimand=estimand, estimate=estimate, std_error=float(se),
                        ci_lower=float(ci[0]), ci_upper=float(ci[1]), p_value=float(p),
                        method=f"{method}; g-computation ({name}), "
                               f"{details['outcome_model']} outcome model with treatment "
                               "interactions",
                        variance=label, alpha=alpha, details=details, **counts,
                        _interval=("fixed" if vcov == "bootstrap" else
                                   "wald" if effect == "difference" else "log"))


def _binary(y: np.ndarray, outcome: str) -> bool:
    if outcome not in ("auto", "continuous", "binary"):
        raise InputError(f"outcome must be 'auto', 'continuous' or 'binary', got {outcome!r}")
    is01 = bool(np.isin(y, (0.0, 1.0)).all())
    if outcome == "binary" and not is01:
        raise InputError("outcome='binary' needs 0/1 outcome values")
    return is01 if outcome == "auto" else outcome == "binary"


def matched_effect(m, y: Any, X: Any = None, **options) -> EffectResult:
    """G-computation on the matched data of a :class:`~causalsm.MatchResult`.

    The units, weights and matched sets are MatchIt's.  The default covariance
    (``vcov="auto"``) clusters by matched set after pair designs -- nearest neighbour
    without replacement, optimal pair or k:1 matching, coarsened exact matching with
    ``k2k`` -- as MatchIt's vignette prescribes (Abadie & Spiess 2022), and is HC3
    after subclassification, coarsened exact matching without ``k2k`` and matching with
    replacement (few large strata, or no sets), as the vignette prescribes too.  After
    *full* matching the default is HC3 as well: in the vignette's own design the
    intervals clustered by matched set covered 0.91 (ATT) and 0.85 (ATE) instead of
    0.95, HC3's covered 0.94 and 0.93 (``benchmarks/README.md``, 1000 replications);
    ``vcov="cluster"`` gives MatchIt's numbers.

    Parameters
    ----------
    m : MatchResult
    y : array-like, shape (m.n,)
        Outcome of every unit of the data that was matched.
    X : array-like, shape (m.n, p), optional
        Covariates of the outcome model.
    **options
        Passed to :func:`gcomputation` (``effect``, ``vcov``, ``outcome``, ``alpha``,
        ``n_bootstrap``, ``random_state``, ``n_jobs``).

    Returns
    -------
    EffectResult

    Examples
    --------
    >>> from causalsm.matching import full_match
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(size=300); t = (rng.random(300) < 1 / (1 + np.exp(-x))).astype(int)
    >>> y = 3 * t + 2 * x + rng.normal(size=300)
    >>> m = full_match(x, t)
    >>> res = matched_effect(m, y, x[:, None])
    >>> res.variance, abs(res.estimate - 3) < 0.5
    ('robust (HC3), delta method', True)
    >>> matched_effect(m, y, x[:, None], vcov="cluster").variance[:30]
    'cluster-robust by matched set '

    """
    y = np.asarray(y, dtype=np.float64).ravel()
    Xa = None if X is None else check_array(X, name="X")[0]
    if m.subclass is not None:
        rows = np.flatnonzero(m.subclass > 0)
        w = m.matchit_weights[rows]
        sets = m.subclass[rows]
        pairless = m.design in ("subclass", "full") or (m.design == "cem"
                                                        and not m.info.get("k2k"))
    elif not m.replace:
        md = m.matched_data()
        pos = pd.Index(m.index).get_indexer(md["index"])
        rows, w, sets = pos, md["weights"].to_numpy(), md["subclass"].to_numpy()
        pairless = False
    else:
        w_all = m.weights
        rows = np.flatnonzero(w_all > 0)
        w, sets, pairless = w_all[rows], None, True
    if options.get("vcov", "auto") == "auto" and pairless:
        options["vcov"] = "hc3"
    t = m.treatment
    arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[m.estimand]
    focal = np.isin(t, arms)
    n_matched = int(np.unique(rows[focal[rows]]).size)
    counts = {"n_treated": int((t == 1).sum()), "n_control": int((t == 0).sum()),
              "n_matched": n_matched, "n_dropped": int(focal.sum()) - n_matched}
    if counts["n_dropped"]:
        who = {"ATT": "treated units", "ATC": "controls", "ATE": "units"}[m.estimand]
        warnings.warn(f"{counts['n_dropped']} of {int(focal.sum())} {who} are not in the "
                      f"matched data ({int((m.discarded & focal).sum())} outside common "
                      "support, the others without a match): the estimate is for the "
                      f"matched {who}, not the {m.estimand} of the whole sample",
                      RuntimeWarning, stacklevel=2)
    options.setdefault("method", f"{m.design} matching")
    res = gcomputation(y[rows], t[rows], None if Xa is None else Xa[rows], w,
                       estimand=m.estimand, subclass=sets, counts=counts, **options)
    res.details["design"] = m.design
    return res
