"""Generalised propensity scores for a continuous exposure: conditional densities.

The generalised propensity score (GPS; Hirano & Imbens 2004, Imai & van Dyk 2004) of a
continuous exposure ``W`` given covariates ``X`` is the conditional density
``r(w, x) = p(W = w | X = x)``.  Each model here is a scikit-learn estimator with

* ``fit(X, w)`` -- returns ``self``;
* ``log_density(X, w)`` and ``density(X, w)`` -- ``r(w_i, x_i)`` for every row;
* ``density_at(X, levels)`` -- the ``(n, L)`` matrix ``r(w_l, x_i)`` that GPS matching
  needs at its grid of exposure levels;
* ``transform(X, w)`` -- the observed GPS as an ``(n, 1)`` column;
* ``score(X, w)`` -- ``d/dw log r(w_i, x_i)``;
* ``conditional(X)`` -- the per-row fitted distributions (mean and scale, or network
  outputs and normalising constants), computed once and evaluated at any ``w``.

Models:

:class:`NormalDensity`
    ``W | X ~ N(m(x), s(x)^2)`` with ``m`` any scikit-learn regressor (OLS by default) and
    ``s`` the residual SD (``ddof=1``, as CausalGPS's ``gps_density = "normal"``) or, with
    ``variance_model``, a regression of the squared residuals.
:class:`KernelResidualDensity`
    A kernel density of the standardised residuals ``(W - m(x)) / s(x)``, with ``s`` a
    regression of the absolute or squared residuals (CausalGPS's ``"kernel"``).
:class:`~causalsm.scores.score_matching.ScoreMatchingDensity`
    An energy network trained by score matching and normalised by quadrature
    (imported lazily: it needs torch).

The kernel density is R's ``stats::density`` (Gaussian kernel, ``bw.nrd0``, 512-point
binned FFT, linear interpolation with constant extrapolation) so that the numbers agree
with CausalGPS to rounding; :func:`r_density` exposes it.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.linear_model import LinearRegression

from .._validation import InputError, check_array, check_exposure_data, check_int, not_fitted

__all__ = ["ConditionalDensity", "NormalDensity", "KernelResidualDensity", "RDensity",
           "make_gps", "GPS_MODELS", "r_density", "r_approx", "r_seq", "dnorm"]

_SQRT_2PI_INV = 1.0 / math.sqrt(2.0 * math.pi)
_LN_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_DNORM_UNDERFLOW = math.sqrt(-2.0 * math.log(2.0) * (-1021 + 1 - 53))   # R's cut-off


# ------------------------------------------------------------------ R's numerics
def dnorm(x: Any, mean: Any = 0.0, sd: Any = 1.0) -> np.ndarray:
    """The normal density exactly as R's ``dnorm`` computes it (R >= 3.1).

    For ``|z| >= 5`` R splits ``z = z1 + z2`` so that ``z1^2`` is exact; the plain
    formula differs from it in the last bits, which is enough to flip a nearest
    neighbour between two almost equidistant units.

    >>> float(dnorm(1.0))
    0.24197072451914337
    """
    shape = np.broadcast_shapes(np.shape(x), np.shape(mean), np.shape(sd))
    z = np.atleast_1d(np.abs((np.asarray(x, dtype=np.float64) - mean) / sd))
    sd = np.broadcast_to(np.asarray(sd, dtype=np.float64), z.shape)
    out = _SQRT_2PI_INV * np.exp(-0.5 * z * z) / sd
    big = z >= 5
    if big.any():
        zb, sb = z[big], sd[big]
        z1 = np.ldexp(np.rint(np.ldexp(zb, 16)), -16)
        z2 = zb - z1
        val = _SQRT_2PI_INV / sb * (np.exp(-0.5 * z1 * z1) * np.exp((-0.5 * z2 - z1) * z2))
        out[big] = np.where(zb > _DNORM_UNDERFLOW, 0.0, val)
    return out.reshape(shape)


def r_seq(start: float, stop: float, length: int) -> np.ndarray:
    """R's ``seq.int(start, stop, length.out = length)``: filled from both ends.

    >>> r_seq(0.0, 1.0, 5)
    array([0.  , 0.25, 0.5 , 0.75, 1.  ])
    """
    out = np.empty(length)
    if length == 0:
        return out
    out[0] = start
    if length > 1:
        out[-1] = stop
    if length > 2:
        by = (stop - start) / (length - 1)
        i = np.arange(1, length - 1, dtype=np.float64)
        low = np.arange(1, length - 1) < length // 2
        out[1:-1] = np.where(low, start + i * by, stop - (length - 1 - i) * by)
    return out


def r_approx(x: np.ndarray, y: np.ndarray, xout: Any) -> np.ndarray:
    """R's ``approx(x, y, xout, rule = 2)`` for increasing ``x``: linear interpolation,
    constant beyond the ends, with R's order of floating-point operations.

    >>> r_approx(np.array([0.0, 1.0]), np.array([0.0, 2.0]), [-1.0, 0.25, 3.0])
    array([0. , 0.5, 2. ])
    """
    v = np.asarray(xout, dtype=np.float64)
    n = x.shape[0]
    i = np.clip(np.searchsorted(x, v, side="right") - 1, 0, n - 2)
    j = i + 1
    with np.errstate(invalid="ignore", divide="ignore"):
        out = y[i] + (y[j] - y[i]) * ((v - x[i]) / (x[j] - x[i]))
    out = np.where(v == x[j], y[j], out)
    out = np.where(v == x[i], y[i], out)
    out = np.where(v < x[0], y[0], out)
    return np.where(v > x[-1], y[-1], out)


def _bw_nrd0(x: np.ndarray) -> float:
    """R's ``bw.nrd0``: 0.9 min(sd, IQR / 1.34) n^(-1/5)."""
    hi = float(np.std(x, ddof=1))
    q75, q25 = np.quantile(x, [0.75, 0.25])
    lo = min(hi, float(q75 - q25) / 1.34)
    if not lo:
        lo = hi or abs(float(x[0])) or 1.0
    return 0.9 * lo * x.shape[0] ** -0.2


def r_density(x: Any, bw: Any = "nrd0", n: int = 512, cut: float = 3.0
              ) -> tuple[np.ndarray, np.ndarray, float]:
    """R's ``density(x, bw, n = 512)`` with the Gaussian kernel: ``(grid, values, bw)``.

    Linear binning onto ``n`` points over ``[min - 7 bw, max + 7 bw]`` (R's
    ``BinDist``), circular convolution with the Gaussian kernel by FFT on ``2n`` points,
    negatives set to 0, then linear interpolation onto ``n`` points over
    ``[min - cut bw, max + cut bw]``.  An exact kernel sum differs by about 1e-3.

    >>> grid, dens, bw = r_density(np.array([0.0, 1.0, 2.0]))
    >>> round(bw, 6), grid.shape, round(float(dens.sum() * (grid[1] - grid[0])), 4)
    (0.539155, (512,), 1.0001)
    """
    x = np.asarray(x, dtype=np.float64).ravel()
    bw = _bw_nrd0(x) if isinstance(bw, str) and bw == "nrd0" else float(bw)
    if not (np.isfinite(bw) and bw > 0):
        raise InputError(f"the kernel bandwidth must be positive and finite, got {bw!r}")
    n_user = n
    n = max(n, 512)
    if n > 512:
        n = 2 ** int(math.ceil(math.log2(n)))
    start, stop = float(x.min()) - cut * bw, float(x.max()) + cut * bw
    lo, up = start - 4 * bw, stop + 4 * bw
    # BinDist: linear binning with weights 1/n into 2n cells (the upper half stays 0).
    delta = (up - lo) / (n - 1)
    pos = (x - lo) / delta
    ix = np.floor(pos).astype(np.int64)
    fx = pos - ix
    wi = 1.0 / x.shape[0]
    y = np.zeros(2 * n)
    inside = (ix >= 0) & (ix <= n - 2)
    np.add.at(y, ix[inside], wi * (1 - fx[inside]))
    np.add.at(y, ix[inside] + 1, wi * fx[inside])
    y[0] += (wi * fx[ix == -1]).sum()
    y[n - 1] += (wi * (1 - fx[ix == n - 1])).sum()
    kords = r_seq(0.0, 2 * (up - lo), 2 * n)
    kords[n + 1:] = -kords[n - 1:0:-1]
    kern = _SQRT_2PI_INV * np.exp(-0.5 * (kords / bw) ** 2) / bw
    conv = np.fft.ifft(np.fft.fft(y) * np.conj(np.fft.fft(kern))).real[:n]
    dens = np.maximum(0.0, conv)
    xords = r_seq(lo, up, n)
    grid = r_seq(start, stop, n_user)
    return grid, r_approx(xords, dens, grid), bw


class RDensity:
    """A fitted :func:`r_density`, evaluated by linear interpolation: beyond the grid
    either constant (``outside="constant"``, CausalGPS's ``compute_density``, whose tails
    then never vanish) or 0 (a proper density).

    >>> kde = RDensity(np.array([0.0, 1.0, 2.0]))
    >>> bool(kde(np.array([1.0]))[0] > kde(np.array([3.0]))[0])
    True
    """

    def __init__(self, x: np.ndarray, bw: Any = "nrd0", outside: str = "constant"):
        self.grid, self.values, self.bw = r_density(x, bw)
        self.outside = outside

    def __call__(self, v: Any) -> np.ndarray:
        out = r_approx(self.grid, self.values, v)
        if self.outside == "zero":
            out = np.where((v < self.grid[0]) | (v > self.grid[-1]), 0.0, out)
        return out

    def slope(self, v: Any) -> np.ndarray:
        """Derivative of the interpolant (0 beyond the grid)."""
        v = np.asarray(v, dtype=np.float64)
        g, d = self.grid, self.values
        i = np.clip(np.searchsorted(g, v, side="right") - 1, 0, g.size - 2)
        out = (d[i + 1] - d[i]) / (g[i + 1] - g[i])
        return np.where((v < g[0]) | (v > g[-1]), 0.0, out)


# ------------------------------------------------------------------ the models
class _Rows:
    """Per-row fitted conditional distributions; ``w`` is ``(n,)`` or ``(n | 1, L)``."""

    n: int

    def log_density(self, w: np.ndarray) -> np.ndarray:   # pragma: no cover - abstract
        raise NotImplementedError

    def score(self, w: np.ndarray) -> np.ndarray:         # pragma: no cover - abstract
        raise NotImplementedError

    def density(self, w: np.ndarray) -> np.ndarray:
        return np.exp(self.log_density(w))


def _col(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    """A per-row vector shaped to broadcast against ``w``."""
    return v[:, None] if np.ndim(w) == 2 else v


class _NormalRows(_Rows):
    def __init__(self, mean: np.ndarray, sd: np.ndarray):
        self.mean, self.sd, self.n = mean, sd, mean.shape[0]

    def log_density(self, w):
        z = (w - _col(self.mean, w)) / _col(self.sd, w)
        return -_LN_SQRT_2PI - 0.5 * z * z - np.log(_col(self.sd, w))

    def density(self, w):
        return dnorm(w, _col(self.mean, w), _col(self.sd, w))

    def score(self, w):
        return -(w - _col(self.mean, w)) / _col(self.sd, w) ** 2


class _KernelRows(_Rows):
    def __init__(self, mean: np.ndarray, scale: np.ndarray, kde: RDensity, jacobian: bool):
        self.mean, self.scale, self.kde, self.jacobian = mean, scale, kde, jacobian
        self.n = mean.shape[0]

    def _resid(self, w):
        return (w - _col(self.mean, w)) / _col(self.scale, w)

    def density(self, w):
        d = self.kde(self._resid(w))
        return d / _col(self.scale, w) if self.jacobian else d

    def log_density(self, w):
        with np.errstate(divide="ignore"):
            return np.log(self.density(w))

    def score(self, w):
        e = self._resid(w)
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.kde.slope(e) / self.kde(e) / _col(self.scale, w)


class ConditionalDensity(BaseEstimator):
    """Base class of the GPS models: a conditional density ``r(w, x)`` of the exposure.

    Subclasses implement ``_fit(X, w)`` (validated float arrays) and ``_rows(X)``.
    """

    def fit(self, X, w):
        """Fit the model of ``W`` given ``X``.

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
        self.n_features_in_ = Xa.shape[1]
        self.feature_names_in_ = np.asarray(names, dtype=object)
        self.exposure_range_ = (float(wa.min()), float(wa.max()))
        self._fit(Xa, wa)
        return self

    def _check_X(self, X) -> np.ndarray:
        if not hasattr(self, "n_features_in_"):
            raise not_fitted(self, "fit(X, w)")
        Xa, _, _ = check_array(X)
        if Xa.shape[1] != self.n_features_in_:
            raise InputError(f"X has {Xa.shape[1]} columns; the model was fitted on "
                             f"{self.n_features_in_}")
        return Xa

    def _check_w(self, w, n: int) -> np.ndarray:
        wa = np.asarray(w, dtype=np.float64).ravel()
        if wa.shape[0] != n:
            raise InputError(f"X has {n} rows but the exposure has {wa.shape[0]}")
        if not np.isfinite(wa).all():
            raise InputError("the exposure has missing or infinite values")
        return wa

    def conditional(self, X) -> _Rows:
        """The fitted conditional distribution of each row of ``X`` (computed once,
        evaluated at any exposure by ``.density(w)``, ``.log_density(w)``, ``.score(w)``
        with ``w`` of shape ``(n,)`` or ``(1, L)``)."""
        return self._rows(self._check_X(X))

    def log_density(self, X, w) -> np.ndarray:
        """``log r(w_i, x_i)``, shape ``(n,)``."""
        rows = self.conditional(X)
        return rows.log_density(self._check_w(w, rows.n))

    def density(self, X, w) -> np.ndarray:
        """``r(w_i, x_i)``, the GPS at the given exposures, shape ``(n,)``."""
        rows = self.conditional(X)
        return rows.density(self._check_w(w, rows.n))

    def density_at(self, X, levels) -> np.ndarray:
        """``r(w_l, x_i)`` for every row and level: shape ``(n, L)``."""
        lv = np.atleast_1d(np.asarray(levels, dtype=np.float64))
        return self.conditional(X).density(lv[None, :])

    def score(self, X, w) -> np.ndarray:
        """``d/dw log r(w_i, x_i)``, shape ``(n,)``."""
        rows = self.conditional(X)
        return rows.score(self._check_w(w, rows.n))

    def transform(self, X, w) -> np.ndarray:
        """The GPS at the observed exposure as an ``(n, 1)`` column."""
        return self.density(X, w)[:, None]

    def fit_transform(self, X, w):
        return self.fit(X, w).transform(X, w)

    def mean_log_density(self, X, w) -> float:
        """Mean of ``log r(w_i, x_i)``: the held-out log-likelihood for model choice."""
        return float(np.mean(self.log_density(X, w)))


def _regressor(model: Any, what: str):
    if model is None:
        return LinearRegression()
    if not (hasattr(model, "fit") and hasattr(model, "predict")):
        raise InputError(f"{what} must be a scikit-learn regressor (fit/predict), got "
                         f"{type(model).__name__}")
    return clone(model)


def _floor(values: np.ndarray, floor: float, what: str) -> np.ndarray:
    low = values < floor
    if low.any():
        warnings.warn(f"the {what} model predicted {int(low.sum())} value(s) below "
                      f"{floor:.3g}; they were raised to it", RuntimeWarning, stacklevel=4)
    return np.maximum(values, floor)


class NormalDensity(ConditionalDensity):
    """Normal GPS: ``W | X ~ N(m(x), s(x)^2)`` (Hirano & Imbens 2004).

    Parameters
    ----------
    mean_model : scikit-learn regressor, optional
        Model of ``E[W | X]``; default ordinary least squares with an intercept (what
        CausalGPS computes with ``sl_lib = "SL.lm"``).
    variance_model : scikit-learn regressor, optional
        Model of the squared residuals, for a heteroskedastic ``s(x)^2`` (predictions
        below 1e-6 of the residual variance are raised to it).  Default: one variance.
    ddof : int
        Delta degrees of freedom of the residual SD; 1 is R's ``sd()`` of the residuals,
        as CausalGPS.

    Attributes
    ----------
    mean_model_, variance_model_ : fitted regressors (``variance_model_`` may be None)
    sd_ : float
        The residual SD.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); w = 1 + X @ [1.0, -1.0] + rng.normal(size=500)
    >>> gps = NormalDensity().fit(X, w)
    >>> round(gps.sd_, 2), gps.density_at(X[:3], [0.0, 1.0]).shape
    (1.0, (3, 2))
    """

    def __init__(self, mean_model: Any = None, variance_model: Any = None, ddof: int = 1):
        self.mean_model = mean_model
        self.variance_model = variance_model
        self.ddof = ddof

    def _fit(self, X, w):
        ddof = check_int(self.ddof, "ddof", minimum=0)
        self.mean_model_ = _regressor(self.mean_model, "mean_model").fit(X, w)
        resid = w - self.mean_model_.predict(X)
        self.sd_ = float(np.std(resid, ddof=ddof))
        if not self.sd_ > 1e-10 * float(np.std(w)):
            raise InputError("the exposure is an exact function of the covariates (the "
                             "residual SD of the mean model is 0): no GPS exists")
        self.variance_model_ = None
        if self.variance_model is not None:
            self.variance_model_ = _regressor(self.variance_model, "variance_model").fit(
                X, resid ** 2)

    def _rows(self, X):
        mean = np.asarray(self.mean_model_.predict(X), dtype=np.float64)
        if self.variance_model_ is None:
            sd = np.full(X.shape[0], self.sd_)
        else:
            var = np.asarray(self.variance_model_.predict(X), dtype=np.float64)
            sd = np.sqrt(_floor(var, 1e-6 * self.sd_ ** 2, "variance"))
        return _NormalRows(mean, sd)


class KernelResidualDensity(ConditionalDensity):
    """Kernel GPS: a kernel density of the standardised residuals.

    ``m(x)`` models ``E[W | X]`` and ``s(x)`` the residual scale; the GPS is
    ``r(w, x) = f((w - m(x)) / s(x)) / s(x)``, with ``f`` the kernel density (R's
    ``density``) of ``e_i = (W_i - m(x_i)) / s(x_i)``.

    Parameters
    ----------
    mean_model, scale_model : scikit-learn regressors, optional
        Default ordinary least squares.  Scales predicted below a tenth of the mean
        absolute residual (a linear model of the squared residuals can go negative) are
        raised to it, with a warning.
    scale_target : {"squared", "abs"}
        ``"squared"``: ``s(x)^2`` regresses the squared residuals (Kennedy et al. 2017);
        ``"abs"``: ``s(x)`` regresses the absolute residuals (CausalGPS).
    jacobian : bool
        Divide by ``s(x)``, so that ``r`` is a density of ``W`` given ``X`` (0 beyond the
        kernel density's grid).  ``jacobian=False`` reproduces CausalGPS, whose ``r`` is a
        density of the residual (which ranks units differently when ``s`` varies),
        constant beyond the grid.
    bandwidth : "nrd0" or float
        Of the residuals' kernel density (R's default rule of thumb).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 2)); w = X[:, 0] + rng.gamma(2.0, size=500)
    >>> gps = KernelResidualDensity().fit(X, w)
    >>> gps.transform(X, w).shape
    (500, 1)
    """

    def __init__(self, mean_model: Any = None, scale_model: Any = None,
                 scale_target: str = "squared", jacobian: bool = True, bandwidth: Any = "nrd0"):
        self.mean_model = mean_model
        self.scale_model = scale_model
        self.scale_target = scale_target
        self.jacobian = jacobian
        self.bandwidth = bandwidth

    def _fit(self, X, w):
        if self.scale_target not in ("squared", "abs"):
            raise InputError(f"scale_target must be 'squared' or 'abs', got "
                             f"{self.scale_target!r}")
        self.mean_model_ = _regressor(self.mean_model, "mean_model").fit(X, w)
        resid = w - self.mean_model_.predict(X)
        target = resid ** 2 if self.scale_target == "squared" else np.abs(resid)
        self.scale_model_ = _regressor(self.scale_model, "scale_model").fit(X, target)
        self._scale_floor = 0.1 * float(np.mean(np.abs(resid)))
        if not self._scale_floor > 1e-11 * float(np.std(w)):
            raise InputError("the exposure is an exact function of the covariates (all "
                             "residuals of the mean model are 0): no GPS exists")
        self.kde_ = RDensity(resid / self._scale(X), self.bandwidth,
                             outside="zero" if self.jacobian else "constant")

    def _scale(self, X) -> np.ndarray:
        s = np.asarray(self.scale_model_.predict(X), dtype=np.float64)
        if self.scale_target == "squared":
            return np.sqrt(_floor(s, self._scale_floor ** 2, "scale"))
        return _floor(s, self._scale_floor, "scale")

    def _rows(self, X):
        mean = np.asarray(self.mean_model_.predict(X), dtype=np.float64)
        return _KernelRows(mean, self._scale(X), self.kde_, bool(self.jacobian))


def _score_matching(**params):
    from .score_matching import ScoreMatchingDensity      # torch only when asked for
    return ScoreMatchingDensity(**params)


#: GPS model names (``gps=`` of the continuous-exposure front doors) -> constructors.
GPS_MODELS = {
    "normal": NormalDensity,
    "kernel": KernelResidualDensity,
    "score_matching": _score_matching,
}


def make_gps(gps: Any = "normal", random_state: Any = None) -> ConditionalDensity:
    """A GPS model from a name in :data:`GPS_MODELS` (seeded with ``random_state`` when
    it has one); a model object passes through unchanged.

    >>> type(make_gps("kernel")).__name__
    'KernelResidualDensity'
    """
    if gps is None:
        gps = "normal"
    if isinstance(gps, str):
        key = gps.strip().lower().replace("-", "_")
        if key not in GPS_MODELS:
            raise InputError(f"unknown GPS model {gps!r}; use one of {', '.join(GPS_MODELS)} "
                             "or a model object with fit(X, w) and density_at(X, levels)")
        model = GPS_MODELS[key]()
        if random_state is not None and "random_state" in model.get_params():
            model.set_params(random_state=random_state)
        return model
    if not (hasattr(gps, "fit") and hasattr(gps, "conditional")):
        raise InputError(f"gps must be a name ({', '.join(GPS_MODELS)}) or a conditional "
                         f"density model such as NormalDensity(), got {type(gps).__name__}")
    return gps
