"""Exposure-response smoothers: a curve ``mu(w)`` fitted to ``(W_i, Y_i)`` with weights.

The weights are the counts of a GPS-matched pseudo-population or GPS weights
(:mod:`causalsm.estimators.continuous`).  Each smoother has ``fit(w, y, weights,
points=None)`` returning ``self``, ``predict(points)`` and a ``details_`` dict.

:class:`LocalPolynomialERF`
    Weighted local-linear regression with a Gaussian kernel (CausalGPS's ``locpol``
    option), or local-quadratic at the local-linear bandwidth (robust bias correction).
    The bandwidth is chosen from a grid by exact leave-one-unit-out cross-validation
    (default), or by CausalGPS's risk, reproduced as it computes it.
:class:`ParametricERF`
    Weighted least squares (or a GLM) on a linear, polynomial or natural-spline basis of
    the exposure, or on any patsy formula in ``w``.
:class:`SplineERF`
    A penalised B-spline (statsmodels ``GLMGam``) whose penalty is chosen by
    generalised cross-validation: the semiparametric option.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator

from .._validation import InputError, check_int
from ..scores.density import r_approx

__all__ = ["LocalPolynomialERF", "ParametricERF", "SplineERF", "make_smoother", "SMOOTHERS"]

_PHI0 = 1.0 / math.sqrt(2.0 * math.pi)
_EXACT_ELEMENTS = 1_000_000     # kernel sums done exactly up to this many (point, unit) pairs
_CHUNK = 1 << 15                # (point, unit) pairs per block of the exact sums
_CUT = 10.0                     # the kernel is taken as 0 beyond 10 bandwidths
_BIN_POINTS = 1024              # grid of the binned sums beyond it
_FAMILIES = ("gaussian", "poisson", "binomial", "gamma")


def _positive(w, y, c):
    keep = c > 0
    return w[keep], y[keep], c[keep]


def _kernel_sums(w: np.ndarray, y: np.ndarray, c: np.ndarray, points: np.ndarray, h: float,
                 degree: int = 1) -> np.ndarray:
    """``S_k = sum_j c_j K(u_j) u_j^k`` (k = 0..2 degree) then ``T_k = sum_j c_j y_j K(u_j)
    u_j^k`` (k = 0..degree) at each point, ``u_j = (w_j - point) / h``, ``K`` the N(0, 1)
    density: rows of the returned ``(3 degree + 2, points)`` array.

    Units farther than ``_CUT`` bandwidths from a point are left out of its sums (their
    kernel weight is below ``exp(-50) = 2e-22`` of the peak); with units and points sorted,
    each block of points meets only the units within reach, in blocks of about ``_CHUNK``
    (point, unit) pairs that stay in the processor's cache."""
    out = np.zeros((3 * degree + 2, points.size))
    if points.size == 0 or w.size == 0:
        return out
    order = np.argsort(w, kind="stable")
    w, y, c = w[order], y[order], c[order]
    porder = np.argsort(points, kind="stable")
    p = points[porder]
    lo = np.searchsorted(w, p - _CUT * h, "left")
    hi = np.searchsorted(w, p + _CUT * h, "right")
    inv_h = 1.0 / h
    a = 0
    while a < p.size:
        b = min(p.size, a + max(1, _CHUNK // max(1, int(hi[a] - lo[a]))))
        while b - a > 1 and (b - a) * (hi[b - 1] - lo[a]) > 2 * _CHUNK:
            b = a + (b - a) // 2          # the block's reach grew: fewer points
        j0, j1 = int(lo[a]), int(hi[b - 1])
        if j1 > j0:
            u = (w[None, j0:j1] - p[a:b, None]) * inv_h
            ku = np.exp(-0.5 * u * u)
            ku *= c[j0:j1]
            cols = porder[a:b]
            yj = y[j0:j1]
            for k in range(2 * degree + 1):
                out[k, cols] = ku.sum(1)
                if k <= degree:
                    out[2 * degree + 1 + k, cols] = ku @ yj
                if k < 2 * degree:
                    ku *= u
        a = b
    return out * _PHI0


def _binned_sums(w, y, c, points, h, degree):
    """The sums of :func:`_kernel_sums` from a linear binning of the data onto a grid of
    1024 points (Wand 1994; KernSmooth's ``locpoly`` bins on 401), interpolated linearly
    to ``points``: relative error of order ``(grid step / bandwidth)^2``."""
    lo, hi = float(min(w.min(), points.min())), float(max(w.max(), points.max()))
    grid = np.linspace(lo, hi, _BIN_POINTS)
    delta = grid[1] - grid[0]
    pos = np.clip((w - lo) / delta, 0, _BIN_POINTS - 1 - 1e-9)
    ix = np.floor(pos).astype(np.int64)
    fx = pos - ix
    mass = np.bincount(ix, c * (1 - fx), _BIN_POINTS) + np.bincount(ix + 1, c * fx, _BIN_POINTS)
    ymass = (np.bincount(ix, c * y * (1 - fx), _BIN_POINTS)
             + np.bincount(ix + 1, c * y * fx, _BIN_POINTS))
    keep = mass != 0
    node = _kernel_sums(grid[keep], ymass[keep] / mass[keep], mass[keep], grid, h, degree)
    return np.vstack([np.interp(points, grid, row) for row in node])


def _sums(w, y, c, points, h, degree=1):
    """Exact sums up to a million (point, unit) pairs, binned beyond."""
    if w.size * points.size <= _EXACT_ELEMENTS or w.size <= _BIN_POINTS:
        return _kernel_sums(w, y, c, points, h, degree)
    return _binned_sums(w, y, c, points, h, degree)


def _local_poly(sums: np.ndarray, degree: int = 1, rtol: float = 1e-12
                ) -> tuple[np.ndarray, np.ndarray]:
    """Intercept of the local polynomial fit and ``e1' S^{-1} e1`` (the leverage factor);
    NaN where the local design is singular to ``rtol`` (``rtol = 0``: only where it is not
    positive definite, as locpol's Cholesky).  Degree 1 in closed form, as locpol."""
    if degree == 1:
        s0, s1, s2, t0, t1 = sums
        det = s0 * s2 - s1 * s1
        with np.errstate(invalid="ignore", divide="ignore"):
            bad = ~(det > rtol * s0 * s2)
            fit = np.where(bad, np.nan, (s2 * t0 - s1 * t1) / det)
            lev = np.where(bad, np.nan, s2 / det)
        return fit, lev
    k = degree + 1
    S = np.transpose(np.array([[sums[i + j] for j in range(k)] for i in range(k)]), (2, 0, 1))
    T = sums[2 * degree + 1:].T
    scale = np.sqrt(np.einsum("...ii->...i", S))
    with np.errstate(invalid="ignore", divide="ignore"):
        Sn = S / scale[:, :, None] / scale[:, None, :]            # unit diagonal
        ok = np.linalg.cond(Sn) < 1 / max(rtol, 1e-300) if rtol else np.isfinite(Sn).all((1, 2))
        fit = np.full(S.shape[0], np.nan)
        lev = np.full(S.shape[0], np.nan)
        if ok.any():
            inv = np.linalg.inv(Sn[ok]) / scale[ok][:, :, None] / scale[ok][:, None, :]
            fit[ok] = np.einsum("ij,ij->i", inv[:, 0, :], T[ok])
            lev[ok] = inv[:, 0, 0]
    return fit, lev


def default_bandwidths(w: np.ndarray, weights: np.ndarray | None = None, n: int = 25
                       ) -> np.ndarray:
    """25 log-spaced bandwidths over [0.02, 0.5] times the 5-95% range of the exposure
    (of the units with positive weight)."""
    v = w if weights is None else w[weights > 0]
    q5, q95 = np.quantile(v, [0.05, 0.95])
    span = float(q95 - q5) or float(np.ptp(v)) or 1.0
    return np.geomspace(0.02 * span, 0.5 * span, n)


class LocalPolynomialERF(BaseEstimator):
    """Weighted local-linear (or local-quadratic) regression with a Gaussian kernel.

    Parameters
    ----------
    degree : {1, 2}
        1: local linear (CausalGPS's ``locpol`` fit).  2: the local quadratic fit at the
        bandwidth chosen for the local-linear one, which is robust bias correction
        (Calonico, Cattaneo & Titiunik 2014; Calonico, Cattaneo & Farrell 2018): it
        removes the leading smoothing bias ``h^2 mu''(w) / 2`` that a cross-validated
        bandwidth leaves of the same order as the standard error, so intervals cover;
        the bootstrap, which refits it, accounts for its larger variance.
    bandwidth : float, sequence of float or None
        One bandwidth, or a grid to choose from (default: 25 log-spaced values over
        [0.02, 0.5] times the 5-95% range of the exposure).
    selector : {"loo", "causalgps"}
        ``"loo"``: leave-one-unit-out cross-validation of the weighted local-linear
        fit (exact up to 1,000 units with positive weight; beyond, the kernel sums are
        binned on 1,024 points) -- a unit matched ``c_i`` times is left out with all
        its copies, with leverage ``H_i = c_i K_h(0) S_2 / (S_0 S_2 - S_1^2)`` at ``W_i``;
        the risk is ``sum_i c_i ((Y_i - m(W_i)) / (1 - H_i))^2 / sum_i c_i`` (over the
        units whose left-out fit exists: an isolated exposure has none at a small
        bandwidth, and a unit whose weight makes ``1 - H_i < 1e-8`` -- its own weight
        1e8 times its neighbourhood's -- counts as isolated; a bandwidth that loses more
        than 1% of the weight that way is ruled out, and units with no left-out fit at
        any bandwidth are left out of the choice, with a warning).
        ``"causalgps"``: CausalGPS 0.5.1's ``compute_risk`` exactly, including what it
        gets wrong -- its hat values ignore the weights and are interpolated from the
        evaluation points, the mean runs over every row (weight 0 too), and the fitted
        values, which ``locpol`` returns sorted by exposure, are set against the
        outcomes in data order (a misalignment unless the data are sorted).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = rng.uniform(0, 10, 400); y = np.sin(w) + rng.normal(0, 0.3, 400)
    >>> fit = LocalPolynomialERF().fit(w, y, np.ones(400))
    >>> np.round(fit.predict([2.0, 5.0]), 1), bool(fit.details_["bandwidth"] < 1)
    (array([ 0.9, -0.9]), True)
    """

    def __init__(self, degree: int = 1, bandwidth: Any = None, selector: str = "loo"):
        self.degree = degree
        self.bandwidth = bandwidth
        self.selector = selector

    def fit(self, w, y, weights, points=None):
        w, y, c = (np.asarray(a, dtype=np.float64) for a in (w, y, weights))
        if self.selector not in ("loo", "causalgps"):
            raise InputError(f"selector must be 'loo' or 'causalgps', got {self.selector!r}")
        if self.degree not in (1, 2):
            raise InputError(f"degree must be 1 or 2, got {self.degree!r}")
        if self.bandwidth is None:
            grid = default_bandwidths(w, c)
        else:
            grid = np.atleast_1d(np.asarray(self.bandwidth, dtype=np.float64))
            if grid.ndim != 1 or grid.size == 0 or not (np.isfinite(grid).all()
                                                       and (grid > 0).all()):
                raise InputError(f"bandwidth must be positive numbers, got {self.bandwidth!r}")
        self.data_ = _positive(w, y, c)
        risk = None
        if grid.size > 1:
            if self.selector == "loo":
                risk = self._loo_risks(grid)
            else:
                if points is None:
                    raise InputError("the 'causalgps' selector needs the evaluation points")
                risk = np.array([_causalgps_risk(h, w, y, c, np.asarray(points, float))
                                 for h in grid])
            if not np.isfinite(risk).any():
                raise InputError("no bandwidth gives a finite cross-validation risk; give "
                                 "larger bandwidths")
            best = int(np.nanargmin(risk))
            if best in (0, grid.size - 1) and grid.size > 2:
                warnings.warn(f"the chosen bandwidth {grid[best]:.4g} is at the "
                              f"{'lower' if best == 0 else 'upper'} end of the grid "
                              f"[{grid[0]:.4g}, {grid[-1]:.4g}]; widen the grid",
                              RuntimeWarning, stacklevel=2)
            h = float(grid[best])
        else:
            h = float(grid[0])
        self.bandwidth_ = h
        self.details_ = {"bandwidth": h, "bandwidth_grid": grid, "risk": risk,
                         "selector": self.selector, "degree": int(self.degree)}
        return self

    def _loo_risks(self, grid: np.ndarray) -> np.ndarray:
        """Leave-one-unit-out risk at each bandwidth.  A unit without a left-out fit
        there (an isolated exposure at a small bandwidth, or a unit whose own weight makes
        ``1 - H_i < 1e-8``) is skipped, and a bandwidth that scores less than 99% of the
        weight scored at the best-covered bandwidth is ruled out.  (Not 99% of the weight
        scored at *some* bandwidth: an isolated unit that rounding lets through at one
        bandwidth would then rule out all the others.)  Units scored at none are left out
        of every risk, with a warning when they hold over 1% of the weight; when they hold
        half of it the weights are too extreme to choose a bandwidth."""
        w, y, c = self.data_
        total, kept = np.zeros(grid.size), np.zeros(grid.size)
        scored = np.zeros(w.size, dtype=bool)
        for k, h in enumerate(grid):
            fit, lev = _local_poly(_sums(w, y, c, w, h))
            hat = c * _PHI0 * lev                # c_i K(0) e1' S^{-1} e1, own weight at u = 0
            with np.errstate(invalid="ignore", divide="ignore"):
                resid = (y - fit) / (1 - hat)
            ok = np.isfinite(resid) & (hat < 1 - 1e-8)     # not a unit that is its own fit
            total[k], kept[k] = c[ok] @ resid[ok] ** 2, c[ok].sum()
            scored |= ok
        out = c[~scored].sum() / c.sum()
        where = (f"units holding {out:.1%} of the weight have no left-out fit at any "
                 "bandwidth of the grid (isolated exposures, or weights that dominate their "
                 f"neighbourhood; the largest weight is {c.max() / c.sum():.1%} of the total)")
        if out >= 0.5:
            raise InputError(f"{where}: the weights are too extreme to choose a bandwidth; "
                             "give larger bandwidths, or temper the weights "
                             "(GPSWeighting(max_weight=...), trim_exposure)")
        if out > 0.01:
            warnings.warn(f"{where}; the bandwidth is chosen without them", RuntimeWarning,
                          stacklevel=3)
        with np.errstate(invalid="ignore", divide="ignore"):
            risk = total / kept
        risk[~(kept >= 0.99 * kept.max())] = np.inf
        return risk

    def predict(self, points) -> np.ndarray:
        p = np.atleast_1d(np.asarray(points, dtype=np.float64))
        w, y, c = self.data_
        return _local_poly(_sums(w, y, c, p, self.bandwidth_, self.degree), self.degree)[0]


def _causalgps_risk(h, w, y, c, points) -> float:
    """CausalGPS 0.5.1 ``compute_risk`` (``kernel_appr = "locpol"``), as it computes it."""
    cw = c + 1 if not c.any() else c
    u = (w[None, :] - points[:, None]) / h
    k = _PHI0 * np.exp(-0.5 * u * u) / h
    n = w.size
    s2 = np.mean(u ** 2 * k, axis=1)
    hats_at = s2 * (_PHI0 / h) / (np.mean(k, axis=1) * s2 - np.mean(u * k, axis=1) ** 2) / n
    order = np.argsort(points, kind="stable")
    hats = r_approx(points[order], hats_at[order], w)
    fitted = _local_poly(_kernel_sums(w, y, cw, np.sort(w), h), rtol=0.0)[0]  # sorted
    return float(np.mean(((y - fitted) / (1 - hats)) ** 2))


# ------------------------------------------------------------------ parametric
def _family(name: str):
    import statsmodels.api as sm
    if name not in _FAMILIES:
        raise InputError(f"family must be one of {', '.join(_FAMILIES)}, got {name!r}")
    return {"gaussian": sm.families.Gaussian, "poisson": sm.families.Poisson,
            "binomial": sm.families.Binomial, "gamma": sm.families.Gamma}[name]()


class ParametricERF(BaseEstimator):
    """A (generalised) linear model of the outcome in a basis of the exposure.

    Parameters
    ----------
    model : {"linear", "polynomial", "spline"} or str
        ``"linear"``: ``y ~ w``; ``"polynomial"``: powers of ``w`` up to ``degree``;
        ``"spline"``: a natural cubic regression spline with ``df`` degrees of freedom
        (patsy ``cr``); any other string is a patsy formula in ``w`` (e.g.
        ``"bs(w, df=4)"`` or ``"y ~ w + I(w**2)"``).
    degree : int
    df : int
    family : {"gaussian", "poisson", "binomial", "gamma"}
        Weighted least squares for ``"gaussian"`` (what CausalGPS's ``gnm`` fits),
        otherwise a GLM with the canonical link and prior weights.
    predict_scale : {"response", "link"}
        CausalGPS predicts on the link scale.

    Examples
    --------
    >>> w = np.arange(10.0); y = 1 + 2 * w
    >>> ParametricERF().fit(w, y, np.ones(10)).predict([20.0])
    array([41.])
    """

    def __init__(self, model: str = "linear", degree: int = 3, df: int = 5,
                 family: str = "gaussian", predict_scale: str = "response"):
        self.model = model
        self.degree = degree
        self.df = df
        self.family = family
        self.predict_scale = predict_scale

    def _formula(self) -> str:
        if not isinstance(self.model, str):
            raise InputError(f"model must be a string, got {self.model!r}")
        if self.model == "linear":
            return "w"
        if self.model == "polynomial":
            d = check_int(self.degree, "degree")
            return " + ".join(["w"] + [f"I(w ** {k})" for k in range(2, d + 1)])
        if self.model == "spline":
            return f"cr(w, df={check_int(self.df, 'df', minimum=3)})"
        rhs = self.model.split("~", 1)[1] if "~" in self.model else self.model
        return rhs.strip()

    def fit(self, w, y, weights, points=None):
        import patsy
        import statsmodels.api as sm
        if self.predict_scale not in ("response", "link"):
            raise InputError(f"predict_scale must be 'response' or 'link', got "
                             f"{self.predict_scale!r}")
        w, y, c = _positive(*(np.asarray(a, dtype=np.float64) for a in (w, y, weights)))
        # Centre and scale the exposure for the polynomial, so the powers stay conditioned.
        self._shift, self._scale = (float(w.mean()), float(w.std()) or 1.0) \
            if self.model == "polynomial" else (0.0, 1.0)
        try:
            X = patsy.dmatrix(self._formula(), {"w": (w - self._shift) / self._scale})
        except Exception as exc:               # noqa: BLE001 - patsy's many error types
            raise InputError(f"could not build the ERF model {self.model!r}: {exc}") from None
        self._design = X.design_info
        family = _family(self.family)
        if self.family == "gaussian":
            self.result_ = sm.WLS(y, np.asarray(X), weights=c).fit()
        else:
            self.result_ = sm.GLM(y, np.asarray(X), family=family, var_weights=c).fit()
        self.details_ = {"formula": "y ~ " + self._formula(),
                         "params": np.asarray(self.result_.params, dtype=np.float64)}
        return self

    def predict(self, points) -> np.ndarray:
        import patsy
        p = np.atleast_1d(np.asarray(points, dtype=np.float64))
        X = np.asarray(patsy.build_design_matrices(
            [self._design], {"w": (p - self._shift) / self._scale})[0])
        eta = X @ np.asarray(self.result_.params)
        if self.family == "gaussian" or self.predict_scale == "link":
            return eta
        return self.result_.model.family.link.inverse(eta)


class SplineERF(BaseEstimator):
    """A penalised cubic B-spline in the exposure (statsmodels ``GLMGam``); the penalty
    weight is the grid value with the smallest generalised cross-validation score.

    Parameters
    ----------
    df : int
        B-spline basis functions.
    alphas : sequence of float, optional
        Penalty weights to choose from (default 20 log-spaced values from 1e-4 to 1e4;
        the weights are scaled to mean 1 first).
    family : {"gaussian", "poisson", "binomial", "gamma"}

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> w = rng.uniform(0, 10, 300); y = np.sin(w) + rng.normal(0, 0.3, 300)
    >>> np.round(SplineERF().fit(w, y, np.ones(300)).predict([2.0, 5.0]), 1)
    array([ 0.8, -0.9])
    """

    def __init__(self, df: int = 10, alphas: Any = None, family: str = "gaussian"):
        self.df = df
        self.alphas = alphas
        self.family = family

    def fit(self, w, y, weights, points=None):
        from statsmodels.gam.api import BSplines, GLMGam
        w, y, c = _positive(*(np.asarray(a, dtype=np.float64) for a in (w, y, weights)))
        c = c / c.mean()               # mean weight 1, so GCV counts units
        self._range = (float(w.min()), float(w.max()))
        self._basis = BSplines(w[:, None], df=[check_int(self.df, "df", minimum=4)],
                               degree=[3])
        alphas = np.geomspace(1e-4, 1e4, 20) if self.alphas is None \
            else np.atleast_1d(np.asarray(self.alphas, dtype=np.float64))
        family = _family(self.family)
        best = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for a in alphas:
                res = GLMGam(y, exog=np.ones((w.size, 1)), smoother=self._basis, alpha=a,
                             family=family, var_weights=c).fit()
                if best is None or res.gcv < best[0]:
                    best = (float(res.gcv), float(a), res)
        self.result_ = best[2]
        self.details_ = {"alpha": best[1], "gcv": best[0], "df": int(self.df)}
        return self

    def predict(self, points) -> np.ndarray:
        p = np.clip(np.atleast_1d(np.asarray(points, dtype=np.float64)), *self._range)
        return np.asarray(self.result_.predict(exog=np.ones((p.size, 1)),
                                               exog_smooth=p[:, None]), dtype=np.float64)


SMOOTHERS = {"local_linear": LocalPolynomialERF,
             "local_quadratic": lambda: LocalPolynomialERF(degree=2),
             "parametric": ParametricERF, "gam": SplineERF}


def make_smoother(smoother: Any):
    """A smoother object from a name (``"local_linear"``, ``"local_quadratic"``,
    ``"parametric"``, ``"gam"``);
    objects with ``fit`` / ``predict`` pass through."""
    if isinstance(smoother, str):
        try:
            return SMOOTHERS[smoother]()
        except KeyError:
            raise InputError(f"unknown smoother {smoother!r}; use one of "
                             f"{', '.join(SMOOTHERS)} or a smoother object") from None
    if not (hasattr(smoother, "fit") and hasattr(smoother, "predict")):
        raise InputError(f"smoother must be a name or an object with fit/predict, got "
                         f"{type(smoother).__name__}")
    return smoother
