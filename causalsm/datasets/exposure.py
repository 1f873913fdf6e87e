"""Simulated continuous exposures with a known exposure-response curve.

:func:`simulate_causalgps` is R's ``CausalGPS::generate_syn_data`` (CausalGPS 0.5.1,
Wu et al. 2024's design), with five more exposure models that keep its covariates and
outcome (hence its curve) but give the exposure a non-normal conditional distribution,
to test GPS models: heteroskedastic, skewed, bimodal, heavy-tailed and bounded.

Covariates: ``cf1..cf4 ~ N(0, I)``, ``cf5`` uniform on ``{-2, ..., 2}``, ``cf6 ~ U(-3, 3)``,
and the index ``m = -0.8 + 0.1 cf1 + 0.1 cf2 - 0.1 cf3 + 0.2 cf4 + 0.1 cf5 + 0.1 cf6``.

Outcome (``vectorized_y=False``, CausalGPS's default)::

    Y = -1 - 10 (0.2 cf1 + 0.2 cf2 + 0.3 cf3 - 0.1 cf4) + 2 cf5 + 2 cf6
        - (W - 20)(0.1 + 0.1 cf4 + 0.1 cf5 + 0.1 cf3^2) + 0.13^2 (W - 20)^3 + N(0, sd^2)

so the true curve is ``mu(w) = -1 - 0.2 (w - 20) + 0.0169 (w - 20)^3`` whatever the
exposure model (:func:`causalgps_erf`).  CausalGPS's ``vectorized_y = TRUE`` is a
different model (its cubic becomes a square, and its covariate coefficients recycle
down the rows); it is reproduced for parity, with ``mu(w) = -1 - 0.2 (w - 20) +
0.0169 (w - 20)^2``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from scipy import stats

from causalsm.datasets._frame import as_generator, finalize

__all__ = ["simulate_causalgps", "causalgps_erf", "causalgps_log_gps", "EXPOSURE_MODELS"]

_COVARIATES = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]
_Y_COEF = np.array([0.2, 0.2, 0.3, -0.1])

#: Exposure models: CausalGPS's ``gps_spec`` 1-7 and the five non-normal designs.
EXPOSURE_MODELS = {
    1: "9 m + 17 + N(0, 5^2)",
    2: "15 m + 22 + t_2, clipped to [-5, 25]",
    3: "9 m + 1.5 cf3^2 + 15 + N(0, 5^2)",
    4: "49 expit(m) - 6 + N(0, 5^2)",
    5: "42 / (1 + exp(m)) - 18 + N(0, 5^2)",
    6: "7 log|m| + 13 + N(0, 4^2)",
    7: "15 m + 22 + t_2",
    "heteroskedastic": "9 m + 17 + 5 exp(0.4 cf1 - 0.08) N(0, 1)",
    "skewed": "9 m + 17 + 5 (G - 2) / sqrt(2), G ~ Gamma(2, 1)",
    "bimodal": "9 m + 17 + 5 (+-0.9 + 0.436 N(0, 1)), equal odds",
    "heavy_tailed": "9 m + 17 + 5 t_3 / sqrt(3)",
    "bounded": "25 expit(2.5 (m + 0.8) + 0.8 N(0, 1)), on (0, 25)",
}


def _index(cf: np.ndarray, cf5: np.ndarray, cf6: np.ndarray) -> np.ndarray:
    """CausalGPS's ``tmp_treat``, in its order of operations."""
    return (-0.8 + 0.1 * cf[:, 0] + 0.1 * cf[:, 1] - 0.1 * cf[:, 2] + 0.2 * cf[:, 3]
            + 0.1 * cf5 + 0.1 * cf6)


def _exposure(spec, m, cf, noise) -> np.ndarray:
    if spec == 1:
        return m * 9 + 17 + noise
    if spec in (2, 7):
        w = m * 15 + 22 + noise
        return np.clip(w, -5, 25) if spec == 2 else w
    if spec == 3:
        return m * 9 + 1.5 * cf[:, 2] ** 2 + noise + 15
    if spec == 4:
        return 49 * np.exp(m) / (1 + np.exp(m)) - 6 + noise
    if spec == 5:
        return 42 / (1 + np.exp(m)) - 18 + noise
    if spec == 6:
        return np.log(np.abs(m)) * 7 + 13 + noise
    if spec == "heteroskedastic":
        return 9 * m + 17 + 5 * np.exp(0.4 * cf[:, 0] - 0.08) * noise
    if spec in ("skewed", "bimodal", "heavy_tailed"):
        return 9 * m + 17 + 5 * noise
    return 25 / (1 + np.exp(-(2.5 * (m + 0.8) + 0.8 * noise)))         # bounded


def _noise(spec, n: int, rng: np.random.Generator) -> np.ndarray:
    if spec in (1, 3, 4, 5):
        return rng.normal(0, 5, n)
    if spec == 6:
        return rng.normal(0, 4, n)
    if spec in (2, 7):
        return rng.standard_t(2, n)
    if spec == "skewed":
        return (rng.gamma(2.0, 1.0, n) - 2) / math.sqrt(2)
    if spec == "bimodal":
        return np.where(rng.random(n) < 0.5, -0.9, 0.9) + 0.436 * rng.normal(size=n)
    if spec == "heavy_tailed":
        return rng.standard_t(3, n) / math.sqrt(3)
    return rng.normal(size=n)                          # heteroskedastic, bounded


def _outcome(cf, cf5, cf6, w, noise, vectorized_y: bool) -> np.ndarray:
    """CausalGPS's outcome, in its order of operations."""
    if vectorized_y:
        n = cf.shape[0]
        # R's cf * c(0.2, 0.2, 0.3, -0.1) recycles the 4 numbers down the columns.
        pos = (np.arange(4)[None, :] * n + np.arange(n)[:, None]) % 4
        cf_sum = (cf * _Y_COEF[pos]).sum(axis=1)
        cf_part = 0.1 + 0.1 * cf[:, 3] + 0.1 * cf5 + 0.1 * cf[:, 2] ** 2
        return -((1 + cf_sum * 10 - 2 * cf5 - 2 * cf6 + (w - 20) * cf_part
                  - 0.13 ** 2 * (w - 20) ** 2)) + noise
    lin = cf @ _Y_COEF
    return ((-(1 + lin * 10 - 2 * cf5 - 2 * cf6 + (w - 20)
               * (0.1 + 0.1 * cf[:, 3] + 0.1 * cf5 + 0.1 * cf[:, 2] ** 2
                  - 0.13 ** 2 * (w - 20) ** 2))) + noise)


def _transform_covariates(cf: np.ndarray) -> np.ndarray:
    """``cova_spec = 2``: CausalGPS's transforms, applied in sequence on the columns
    already transformed (as its code does)."""
    cf = cf.copy()
    cf[:, 0] = np.exp(cf[:, 0] / 2)
    cf[:, 1] = (cf[:, 1] / (1 + np.exp(cf[:, 0]))) + 10
    cf[:, 2] = (cf[:, 0] * cf[:, 2] / 25 + 0.6) ** 3
    cf[:, 3] = (cf[:, 1] + cf[:, 3] + 20) ** 2
    return cf


def _check_spec(gps_spec):
    key = gps_spec
    if isinstance(key, (int, np.integer, float)) and not isinstance(key, bool) \
            and float(key).is_integer():
        key = int(key)
    if key not in EXPOSURE_MODELS:
        raise ValueError(f"gps_spec must be one of {', '.join(map(str, EXPOSURE_MODELS))}; "
                         f"got {gps_spec!r}")
    return key


def causalgps_erf(w, vectorized_y: bool = False) -> np.ndarray:
    """The true exposure-response curve of :func:`simulate_causalgps`.

    >>> causalgps_erf([20.0, 10.0])
    array([ -1. , -15.9])
    """
    d = np.asarray(w, dtype=np.float64) - 20
    return -1 - 0.2 * d + 0.0169 * (d ** 2 if vectorized_y else d ** 3)


def _assemble(cf, cf5, cf6, w_noise, y_noise, spec, cova_spec, vectorized_y):
    m = _index(cf, cf5, cf6)
    w = _exposure(spec, m, cf, w_noise)
    y = _outcome(cf, cf5, cf6, w, y_noise, vectorized_y)
    if cova_spec == 2:
        cf = _transform_covariates(cf)
    return pd.DataFrame({"Y": y, "w": w, "cf1": cf[:, 0], "cf2": cf[:, 1], "cf3": cf[:, 2],
                         "cf4": cf[:, 3], "cf5": cf5.astype(np.float64),
                         "cf6": cf6, "id": np.arange(1, w.size + 1)})


def simulate_causalgps(n: int = 1000, gps_spec=1, *, outcome_sd: float = 10.0,
                       cova_spec: int = 1, vectorized_y: bool = False,
                       random_state=None) -> pd.DataFrame:
    """Simulate CausalGPS's ``generate_syn_data`` design (or one of five non-normal
    exposure models with the same covariates and curve).

    Parameters
    ----------
    n : int
        Units.
    gps_spec : int or str
        The exposure model: CausalGPS's ``1``-``7``, or ``"heteroskedastic"``,
        ``"skewed"``, ``"bimodal"``, ``"heavy_tailed"``, ``"bounded"`` (see
        :data:`EXPOSURE_MODELS`).
    outcome_sd : float
        SD of the outcome noise.
    cova_spec : {1, 2}
        2 returns CausalGPS's transformed covariates (the exposure and outcome still
        use the originals), a misspecified-model design.
    vectorized_y : bool
        CausalGPS's ``vectorized_y = TRUE`` outcome (a different model).
    random_state : int, Generator or None

    Returns
    -------
    pandas.DataFrame
        Columns ``Y, w, cf1..cf6, id`` (as CausalGPS), ``attrs`` with the roles, the
        exposure model and ``true_erf_polynomial``, the true curve's coefficients in
        increasing powers of ``w`` (:func:`causalgps_erf` evaluates it).  R's draws
        cannot be reproduced (another random number generator); the formulas can, and
        ``tests/test_datasets_exposure.py`` checks them against R's.

    Examples
    --------
    >>> df = simulate_causalgps(200, random_state=0)
    >>> list(df.columns), df.attrs["treatment"]
    (['Y', 'w', 'cf1', 'cf2', 'cf3', 'cf4', 'cf5', 'cf6', 'id'], 'w')
    >>> bool(np.allclose(np.polyval(df.attrs["true_erf_polynomial"][::-1], 10.0),
    ...                  causalgps_erf(10.0)))
    True
    """
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 2:
        raise ValueError(f"n must be an integer >= 2; got {n!r}")
    spec = _check_spec(gps_spec)
    if cova_spec not in (1, 2):
        raise ValueError(f"cova_spec must be 1 or 2; got {cova_spec!r}")
    if not outcome_sd >= 0:
        raise ValueError(f"outcome_sd must be >= 0; got {outcome_sd!r}")
    rng = as_generator(random_state)
    cf = rng.normal(size=(n, 4))
    cf5 = rng.integers(-2, 3, n).astype(np.float64)
    cf6 = rng.uniform(-3, 3, n)
    w_noise = _noise(spec, n, rng)
    y_noise = rng.normal(0, outcome_sd, n)
    frame = _assemble(cf, cf5, cf6, w_noise, y_noise, spec, cova_spec, vectorized_y)
    power = 2 if vectorized_y else 3
    poly = np.polynomial.Polynomial([-1.0, -0.2] + [0.0] * (power - 2) + [0.0169])
    coef = poly(np.polynomial.Polynomial([-20.0, 1.0])).coef      # mu(w) in powers of w
    return finalize(frame, name="causalgps", treatment="w", outcome="Y",
                    covariates=_COVARIATES,
                    description=f"CausalGPS synthetic design, exposure {EXPOSURE_MODELS[spec]}",
                    gps_spec=str(spec), exposure_model=EXPOSURE_MODELS[spec],
                    true_erf_polynomial=[float(c) for c in coef])


def causalgps_log_gps(data: pd.DataFrame, gps_spec=1, w=None) -> np.ndarray:
    """The true log GPS ``log p(w | x)`` of a :func:`simulate_causalgps` design (with the
    untransformed covariates, ``cova_spec = 1``), at the data's exposure or at ``w``.

    Spec 2 is censored (point masses at -5 and 25): NaN there.

    >>> df = simulate_causalgps(5, random_state=0)
    >>> causalgps_log_gps(df).shape
    (5,)
    """
    spec = _check_spec(gps_spec)
    cf = data[["cf1", "cf2", "cf3", "cf4"]].to_numpy(dtype=np.float64)
    cf5, cf6 = data["cf5"].to_numpy(np.float64), data["cf6"].to_numpy(np.float64)
    w = data["w"].to_numpy(np.float64) if w is None else np.asarray(w, dtype=np.float64)
    m = _index(cf, cf5, cf6)
    base = _exposure(spec, m, cf, np.zeros_like(m)) if spec != "bounded" else None
    r = w - base if base is not None else None
    if spec in (1, 3, 4, 5):
        return stats.norm.logpdf(r, scale=5)
    if spec == 6:
        return stats.norm.logpdf(r, scale=4)
    if spec in (2, 7):
        out = stats.t.logpdf(r, 2)
        if spec == 2:
            out = np.where((w <= -5) | (w >= 25), np.nan, out)
        return out
    if spec == "heteroskedastic":
        return stats.norm.logpdf(w - (9 * m + 17), scale=5 * np.exp(0.4 * cf[:, 0] - 0.08))
    if spec == "skewed":
        z = r / 5 * math.sqrt(2) + 2
        return stats.gamma.logpdf(z, 2.0) + math.log(math.sqrt(2) / 5)
    if spec == "bimodal":
        sd = 5 * 0.436
        return np.logaddexp(stats.norm.logpdf(r, 4.5, sd), stats.norm.logpdf(r, -4.5, sd)) \
            - math.log(2)
    if spec == "heavy_tailed":
        s = 5 / math.sqrt(3)
        return stats.t.logpdf(r / s, 3) - math.log(s)
    with np.errstate(divide="ignore", invalid="ignore"):          # bounded, logit-normal
        z = np.log(w / (25 - w))
        return (stats.norm.logpdf(z, 2.5 * (m + 0.8), 0.8) + np.log(25 / (w * (25 - w))))
