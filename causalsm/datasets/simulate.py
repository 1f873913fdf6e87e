"""Simulators of published designs with known effects.

* :func:`simulate_multiply_robust`: the double score / multiply robust matching
  design of ``benchmarks/multiply_robust_sim.py`` (ATE, ATT and QTE known exactly).
* :func:`simulate_hazard_ratio`: the survival design of MatchIt's "Estimating
  Effects After Matching" vignette (Weibull times, conditional HR 2.4), with
  :func:`true_marginal_hr` giving its marginal hazard ratios.
* :func:`simulate_image_confounding`: treatment and outcome confounded by an
  image (scikit-learn's 8x8 digits), the design of ``examples/image_confounding.py``.
"""

from __future__ import annotations

import functools
import math
from statistics import NormalDist

import numpy as np
import pandas as pd

from causalsm.datasets._frame import as_generator, finalize

__all__ = [
    "DIGIT_EFFECT",
    "simulate_hazard_ratio",
    "simulate_image_confounding",
    "simulate_multiply_robust",
    "true_marginal_hr",
]


def _expit(x):
    """The logistic function (without importing scipy)."""
    return 1.0 / (1.0 + np.exp(-x))


def _check_n(n, minimum: int = 2) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < minimum:
        raise ValueError(f"n must be an integer >= {minimum}; got {n!r}")
    return int(n)


# ---------------------------------------------------------------- multiply robust
#: Variance of the treatment model's linear predictor -X1 + 0.5 X2 - 0.25 X3 - 0.1 X4.
_MR_LIN_VAR = 1.0 + 0.25 + 0.0625 + 0.01
_MR_SD0 = math.sqrt(1.0 + 3 * 0.25 + 1.0)        # SD of Y(0): 1 + X1 + 0.5(X2+X3+X4) + e0
_MR_SD1 = math.sqrt(1.5 ** 2 + 3 * 0.25 + 1.5 ** 2)   # SD of Y(1)


def _multiply_robust_truth(quantiles) -> dict:
    """Exact ATE, ATT, ATC and marginal QTEs of the multiply robust design.

    Y(0) ~ N(1, 2.75) and Y(1) ~ N(2, 5.25) marginally, so the QTE at level xi is
    ``1 + (sqrt(5.25) - sqrt(2.75)) * z_xi``.  With L the treatment model's linear
    predictor (N(0, 1.3225)), E[T] = 1/2 and E[X1 | T = 1] = -2 E[L expit(L)] / 1.3225
    (Gauss-Hermite quadrature), so ATT = 1 - E[L expit(L)] / 1.3225 and
    ATC = 1 + E[L expit(L)] / 1.3225.
    """
    nodes, weights = np.polynomial.hermite_e.hermegauss(120)
    s = math.sqrt(_MR_LIN_VAR)
    m = float(np.sum(weights * s * nodes * _expit(s * nodes)) / math.sqrt(2 * math.pi))
    out = {"ATE": 1.0, "ATT": 1.0 - m / _MR_LIN_VAR, "ATC": 1.0 + m / _MR_LIN_VAR}
    for xi in quantiles:
        out[f"QTE {xi:g}"] = 1.0 + (_MR_SD1 - _MR_SD0) * NormalDist().inv_cdf(xi)
    return out


def simulate_multiply_robust(n: int = 1000, random_state=None, *,
                             quantiles=(0.25, 0.5, 0.75)) -> pd.DataFrame:
    """Simulate the multiply robust (double score) matching design.

    X1..X4 iid N(0, 1); ``logit P(T = 1 | X) = -X1 + 0.5 X2 - 0.25 X3 - 0.1 X4``;
    ``Y(0) = 1 + X1 + 0.5 (X2 + X3 + X4) + e0``, ``e0 ~ N(0, 1)``;
    ``Y(1) = 2 + 1.5 X1 + 0.5 (X2 + X3 + X4) + e1``, ``e1 ~ N(0, 1.5^2)``.
    So the ATE is 1 and the quantile effects vary with the level (Y(1) is more
    spread out).  The data do not depend on the benchmark's scenarios, which say
    which propensity and prognostic models the estimator is given (see
    ``benchmarks/multiply_robust_sim.py``).

    Parameters
    ----------
    n : int, default 1000
        Sample size.
    random_state : None, int or numpy.random.Generator
        Seed; a Generator is used as it is.  Draws, in order: X (n x 4), the
        treatment uniforms, e0, e1.
    quantiles : sequence of float, default (0.25, 0.5, 0.75)
        Levels of the quantile effects reported in ``attrs["true_effect"]``.

    Returns
    -------
    pandas.DataFrame
        Columns ``X1`` .. ``X4``, ``treat`` (int64), ``y`` (observed), ``y0``,
        ``y1`` (potential outcomes).  ``attrs["true_effect"]``: population ATE (1),
        ATT, ATC and ``"QTE <level>"`` (marginal quantile effects), all exact.

    Examples
    --------
    >>> from causalsm.datasets import simulate_multiply_robust
    >>> df = simulate_multiply_robust(500, random_state=0)
    >>> df.shape, df.attrs["covariates"]
    ((500, 8), ['X1', 'X2', 'X3', 'X4'])
    >>> {k: round(v, 4) for k, v in df.attrs["true_effect"].items()}
    {'ATE': 1.0, 'ATT': 0.8027, 'ATC': 1.1973,
     'QTE 0.25': 0.5731, 'QTE 0.5': 1.0, 'QTE 0.75': 1.4269}
    """
    n = _check_n(n)
    rng = as_generator(random_state)
    X = rng.normal(size=(n, 4))
    lin = -X[:, 0] + 0.5 * X[:, 1] - 0.25 * X[:, 2] - 0.1 * X[:, 3]
    t = (rng.random(n) < 1 / (1 + np.exp(-lin))).astype(int)
    s = X[:, 1] + X[:, 2] + X[:, 3]
    y0 = 1 + X[:, 0] + 0.5 * s + rng.normal(size=n)
    y1 = 2 + 1.5 * X[:, 0] + 0.5 * s + 1.5 * rng.normal(size=n)
    df = pd.DataFrame(X, columns=["X1", "X2", "X3", "X4"])
    df["treat"] = t
    df["y"] = np.where(t == 1, y1, y0)
    df["y0"] = y0
    df["y1"] = y1
    return finalize(
        df, name="multiply_robust", treatment="treat", outcome="y",
        covariates=["X1", "X2", "X3", "X4"],
        true_effect=_multiply_robust_truth(tuple(quantiles)),
        description=("Multiply robust matching design (Kang-Schafer style): 4 normal "
                     "covariates, logistic treatment, linear outcomes with ATE 1 and "
                     "unequal spreads; true effects are population values"))


# ------------------------------------------------------------------ hazard ratio
_LOG = math.log
#: Treatment model of the MatchIt vignette (intercept, X1..X9 coefficients).
_HR_PS = (-1.2, (_LOG(2), -_LOG(1.5), 0.0, _LOG(2), -_LOG(2.4), 0.0, _LOG(2), -_LOG(1.5), 0.0))
#: Outcome linear predictor without treatment (intercept, X1..X9), and the conditional log HR.
_HR_LP = (-2.0, (_LOG(2), _LOG(2), _LOG(2), _LOG(1.5), _LOG(2.4), _LOG(1.5), 0.0, 0.0, 0.0))
_HR_LOG_COND = _LOG(2.4)
_HR_SCALE = 2e4

#: Marginal log hazard ratios of the design, computed once by
#: 16 batches of ``true_marginal_hr(estimand, n=250_000)`` (Monte Carlo SE about 1e-4, see
#: :func:`true_marginal_hr`); ``true_marginal_hr`` returns these when ``n`` is None.
_HR_TRUE_LOG = {"ATT": 0.45070, "ATE": 0.45131, "ATC": 0.45225}


def _hr_covariates(n: int, rng: np.random.Generator) -> np.ndarray:
    X = rng.normal(size=(n, 9))
    X[:, 4] = (X[:, 4] < 0.5).astype(np.float64)
    return X


def _hr_lin(X: np.ndarray, model) -> np.ndarray:
    return model[0] + X @ np.asarray(model[1])


def _cox_limit(base: np.ndarray, weights: np.ndarray, grid: np.ndarray) -> float:
    """Limit of the Cox estimate comparing Y(1) with Y(0) in a weighted population.

    For potential event times with conditional survival
    ``S_a(t | x) = exp(-t^2 exp(base(x) + a log 2.4) / 2e4)`` and no censoring, the
    Cox partial-likelihood score of a sample holding both potential times of every
    unit tends to ``int (f1 S0 - f0 S1 e^b) / (S1 e^b + S0) dt``, with ``S_a``,
    ``f_a`` the population-averaged survival and density.  They are averaged over
    the covariate sample (no time noise), integrated on ``grid`` (log time), and the
    root in ``b`` is found by bisection.
    """
    w = weights / weights.sum()
    sums = np.zeros((2, 2, grid.size))
    for a in (0, 1):
        for start in range(0, base.size, 20_000):
            b = base[start:start + 20_000] + a * _HR_LOG_COND - _LOG(_HR_SCALE)
            h = np.exp(2.0 * grid[:, None] + b[None, :])
            s = np.exp(-h)
            sums[a, 0] += s @ w[start:start + 20_000]
            sums[a, 1] += (2.0 * h * s) @ w[start:start + 20_000]
    (S0, f0), (S1, f1) = sums

    def score(beta: float) -> float:
        e = math.exp(beta)
        y = (f1 * S0 - f0 * S1 * e) / (S1 * e + S0 + 1e-300)
        return float(np.sum(0.5 * (y[1:] + y[:-1]) * np.diff(grid)))     # trapezoid rule

    lo, hi = -3.0, 3.0
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        if score(mid) > 0:
            lo = mid
        else:
            hi = mid
    return 0.5 * (lo + hi)


@functools.lru_cache(maxsize=32)
def _marginal_log_hr(estimand: str, n: int, seed: int) -> float:
    rng = np.random.default_rng(seed)
    X = _hr_covariates(n, rng)
    e = _expit(_hr_lin(X, _HR_PS))
    w = {"ATT": e, "ATE": np.ones(n), "ATC": 1.0 - e}[estimand]
    return _cox_limit(_hr_lin(X, _HR_LP), w, np.linspace(-5.0, 11.0, 300))


def true_marginal_hr(estimand: str = "ATT", *, n: int | None = None, seed: int = 2026,
                     log: bool = False) -> float:
    """True marginal hazard ratio of :func:`simulate_hazard_ratio`'s design.

    The marginal HR is the limit of the Cox estimate of ``A`` in a sample that
    holds both potential event times (no censoring) of every unit of the target
    population: the treated (ATT), everyone (ATE) or the controls (ATC).  It
    differs from the conditional HR 2.4 because the hazard ratio is not
    collapsible.  It is computed by Monte Carlo over the covariates only: the
    survival functions given X are exact, averaged over ``n`` covariate draws and
    integrated over time numerically (see ``_cox_limit``).

    The default (``n=None``) returns values computed once from 4,000,000
    covariate draws (16 batches of 250,000; Monte Carlo SE of the log HR about
    1.2e-4 from the spread of the batches): log HR 0.4507 (ATT), 0.4513 (ATE),
    0.4522 (ATC), i.e. HR 1.569, 1.570, 1.572.  MatchIt's vignette states 1.57
    (log 0.452): all three round to 1.57; on the log scale the vignette's value
    is closest to the ATC and ATE ones, and the ATT one is 0.0013 below it
    (about 10 Monte Carlo SEs, so the difference between populations is real
    but far smaller than any estimator's SE at n = 2000, about 0.1).

    Parameters
    ----------
    estimand : {"ATT", "ATE", "ATC"}, default "ATT"
    n : int, optional
        Recompute with this many covariate draws (cached per ``(estimand, n, seed)``;
        about 2 s per 100,000 draws on one core).
    seed : int, default 2026
        Seed of the covariate draws when ``n`` is given.
    log : bool, default False
        Return the log hazard ratio.

    Returns
    -------
    float

    Examples
    --------
    >>> from causalsm.datasets import true_marginal_hr
    >>> round(true_marginal_hr("ATT"), 3), round(true_marginal_hr("ATE", log=True), 4)
    (1.569, 0.4513)
    """
    if estimand not in _HR_TRUE_LOG:
        raise ValueError(f"estimand must be 'ATT', 'ATE' or 'ATC'; got {estimand!r}")
    value = (_HR_TRUE_LOG[estimand] if n is None
             else _marginal_log_hr(estimand, _check_n(n, 100), int(seed)))
    return value if log else math.exp(value)


def simulate_hazard_ratio(n: int = 2000, random_state=None, *,
                          censoring_rate: float = 0.0) -> pd.DataFrame:
    """Simulate the survival design of MatchIt's "Estimating Effects After Matching".

    X1..X9 iid N(0, 1), then X5 := 1{X5 < 0.5};
    ``A ~ Bernoulli(expit(-1.2 + log2 X1 - log1.5 X2 + log2 X4 - log2.4 X5 + log2 X7
    - log1.5 X8))`` (about 20% treated);
    ``T = sqrt(-log(U) * 2e4 * exp(-LP))``, ``U ~ U(0, 1)``, with
    ``LP = -2 + log2.4 A + log2 X1 + log2 X2 + log2 X3 + log1.5 X4 + log2.4 X5 +
    log1.5 X6``: Weibull times of shape 2 with conditional hazard ratio 2.4.
    ``censoring_rate > 0`` adds independent exponential censoring times
    ``C ~ Exp(censoring_rate)``; the observed time is ``min(T, C)``.

    Parameters
    ----------
    n : int, default 2000
    random_state : None, int or numpy.random.Generator
        Seed.  Draws, in order: X (n x 9), the treatment uniforms, U, and the
        censoring times (only when ``censoring_rate > 0``).
    censoring_rate : float, default 0.0
        Hazard of the independent exponential censoring (per unit of time).  For
        scale: the median event time is about 200; a rate of 0.001 censors about
        23% of the units, 0.002 about 38%.

    Returns
    -------
    pandas.DataFrame
        Columns ``X1`` .. ``X9`` (float64; ``X5`` is int64 0/1), ``A`` (int64),
        ``time`` (observed), ``event`` (int64, 1 = event), ``time0``, ``time1``
        (both potential event times from the same ``U``, uncensored) and, with
        censoring, ``censor_time`` (the unit's censoring time, which applies to both
        potential times).
        ``attrs["true_effect"]``: the marginal hazard ratios of
        :func:`true_marginal_hr` for ATT, ATE and ATC (``effect_measure`` is
        ``"hazard ratio"``); the conditional HR 2.4 is in ``attrs["conditional_hr"]``.

    Examples
    --------
    >>> from causalsm.datasets import simulate_hazard_ratio
    >>> df = simulate_hazard_ratio(2000, random_state=1)
    >>> df.shape, df.attrs["duration"], df.attrs["event"]
    ((2000, 14), 'time', 'event')
    >>> round(float(df["A"].mean()), 2), int(df["event"].sum())
    (0.21, 2000)
    >>> round(df.attrs["true_effect"]["ATT"], 2)
    1.57
    """
    n = _check_n(n)
    rate = float(censoring_rate)
    if not (np.isfinite(rate) and rate >= 0):
        raise ValueError(f"censoring_rate must be a finite number >= 0; got {censoring_rate!r}")
    rng = as_generator(random_state)
    X = _hr_covariates(n, rng)
    a = (rng.random(n) < _expit(_hr_lin(X, _HR_PS))).astype(np.int64)
    base = _hr_lin(X, _HR_LP)
    log_u = np.log(rng.random(n))
    time0 = np.sqrt(-log_u * _HR_SCALE * np.exp(-base))
    time1 = np.sqrt(-log_u * _HR_SCALE * np.exp(-(base + _HR_LOG_COND)))
    t = np.where(a == 1, time1, time0)
    if rate > 0:
        c = rng.exponential(1.0 / rate, size=n)
        time, event = np.minimum(t, c), (t <= c).astype(np.int64)
    else:
        c = None
        time, event = t, np.ones(n, dtype=np.int64)
    names = [f"X{j}" for j in range(1, 10)]
    df = pd.DataFrame(X, columns=names)
    df["X5"] = df["X5"].astype(np.int64)
    df["A"] = a
    df["time"] = time
    df["event"] = event
    df["time0"] = time0
    df["time1"] = time1
    if c is not None:
        df["censor_time"] = c
    return finalize(
        df, name="hazard_ratio", treatment="A", duration="time", event="event",
        covariates=names,
        true_effect={k: true_marginal_hr(k) for k in ("ATT", "ATE", "ATC")},
        effect_measure="hazard ratio",
        description=("MatchIt vignette survival design: 9 covariates, ~20% treated, "
                     "Weibull (shape 2) times with conditional HR 2.4; true effects are "
                     "marginal hazard ratios" + (f"; exponential censoring rate {rate:g}"
                                                 if rate > 0 else "; no censoring")),
        conditional_hr=2.4, censoring_rate=rate)


# ------------------------------------------------------------ image confounding
#: Per-digit effect g(digit) of the image-confounding design (digits 0..9).
DIGIT_EFFECT = np.array([1.0, -1.0, 0.5, -0.5, 0.0, 1.5, -1.5, 0.8, -0.8, 0.3])


@functools.lru_cache(maxsize=1)
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    digits = load_digits()
    pixels = digits.images.reshape(len(digits.target), -1) / 16.0     # in [0, 1]
    pixels.setflags(write=False)
    target = digits.target.astype(np.int64)
    target.setflags(write=False)
    return pixels, target


def simulate_image_confounding(n: int | None = None, random_state=None) -> pd.DataFrame:
    """Treatment and outcome confounded by an image: scikit-learn's 8x8 digits.

    Both depend on the image through two features no method is given: a per-digit
    effect ``g = DIGIT_EFFECT[digit]`` and the standardised amount of ink ``z``
    (mean pixel intensity, standardised over the 1,797 images)::

        P(T = 1 | image) = expit(-0.6 + 1.5 g + 0.5 z)
        Y = 2 g + z + T (1 + 0.5 g) + N(0, 1)

    so the individual effect is ``tau = 1 + 0.5 g``.

    Parameters
    ----------
    n : int, optional
        Number of images.  None (default) uses all 1,797 digits in their order;
        otherwise ``n`` images are drawn first (without replacement when
        ``n <= 1797``, with replacement above).
    random_state : None, int or numpy.random.Generator
        Seed.  Draws, in order: the images (only when ``n`` is given), the
        treatment uniforms, the outcome noise.

    Returns
    -------
    pandas.DataFrame
        Columns ``px_00`` .. ``px_63`` (pixel intensities in [0, 1], row by row;
        the covariates), ``treat`` (int64), ``y``, ``digit`` (int64), ``g``, ``z``
        (the true confounders) and ``tau`` (individual effect).
        ``attrs["true_effect"]``: in-sample ATT (mean ``tau`` of the treated), ATE
        and ATC.

    Examples
    --------
    >>> from causalsm.datasets import simulate_image_confounding
    >>> df = simulate_image_confounding(random_state=0)
    >>> df.shape, len(df.attrs["covariates"])
    ((1797, 70), 64)
    >>> small = simulate_image_confounding(300, random_state=1); small.shape
    (300, 70)
    """
    pixels, target = _digits()
    ink_all = pixels.mean(axis=1)
    z_all = (ink_all - ink_all.mean()) / ink_all.std()
    rng = as_generator(random_state)
    if n is None:
        idx = np.arange(target.size)
    else:
        n = _check_n(n)
        idx = rng.choice(target.size, size=n, replace=n > target.size)
    digit = target[idx]
    g = DIGIT_EFFECT[digit]
    z = z_all[idx]
    e = 1.0 / (1.0 + np.exp(-(-0.6 + 1.5 * g + 0.5 * z)))
    t = (rng.random(g.size) < e).astype(int)
    tau = 1.0 + 0.5 * g
    y = 2.0 * g + z + t * tau + rng.normal(size=g.size)
    names = [f"px_{j:02d}" for j in range(64)]
    df = pd.DataFrame(pixels[idx], columns=names)
    df["treat"] = t
    df["y"] = y
    df["digit"] = digit
    df["g"] = g
    df["z"] = z
    df["tau"] = tau
    return finalize(
        df, name="image_confounding", treatment="treat", outcome="y", covariates=names,
        true_effect={"ATT": tau[t == 1].mean(), "ATE": tau.mean(),
                     "ATC": tau[t == 0].mean()},
        description=("8x8 digits (scikit-learn): treatment and outcome depend on the "
                     "digit and its ink; the 64 pixels are the covariates; true effects "
                     "are in-sample means of tau"))
