"""The sensitivity parameter Gamma: its critical value and its amplification.

* :func:`critical_gamma`: the largest Gamma at which a test still rejects, found by
  Brent's method on ``log Gamma`` (the bound on the p-value grows with Gamma).
* :func:`amplify` (Rosenbaum & Silber 2009; ``sensitivitymv::amplify``): a bias
  Gamma is equivalent to an unobserved covariate that multiplies the odds of
  treatment by ``Lambda`` and the odds of a positive pair difference by ``Delta``,
  for every pair with ``Gamma = (Lambda Delta + 1) / (Lambda + Delta)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .._validation import InputError
from ._roots import zeroin

__all__ = ["amplify", "gamma_of", "critical_gamma"]


def amplify(gamma: float, lambdas) -> np.ndarray:
    """``Delta`` for each ``Lambda`` such that ``(Lambda, Delta)`` is equivalent to ``gamma``.

    ``Delta = (gamma Lambda - 1) / (Lambda - gamma)``; every ``Lambda`` must exceed
    ``gamma > 1`` (``sensitivitymv::amplify``).

    >>> amplify(3.5, [4, 6, 8, 11]).tolist()      # Rosenbaum & Silber (2009)
    [26.0, 8.0, 6.0, 5.0]
    """
    gamma = float(gamma)
    lam = np.atleast_1d(np.asarray(lambdas, dtype=np.float64))
    if not gamma > 1:
        raise InputError(f"amplification needs Gamma > 1, got {gamma}")
    if not np.all(lam > gamma):
        raise InputError(f"every Lambda must exceed Gamma = {gamma:g}; got "
                         f"{lam.min():g}")
    return (gamma * lam - 1) / (lam - gamma)


def gamma_of(lambda_: float, delta: float) -> float:
    """The Gamma equivalent to ``(Lambda, Delta)``: ``(Lambda Delta + 1) / (Lambda + Delta)``.

    >>> gamma_of(6, 8)
    3.5
    """
    if not (lambda_ >= 1 and delta >= 1):
        raise InputError("Lambda and Delta must be >= 1")
    return float((lambda_ * delta + 1) / (lambda_ + delta))


def critical_gamma(p_upper: Callable[[float], float], alpha: float = 0.05, *,
                   gamma_max: float = 1e4, rtol: float = 1e-10) -> float:
    """The largest Gamma at which the upper bound on the p-value is at most ``alpha``.

    Parameters
    ----------
    p_upper : callable
        ``Gamma -> `` upper bound on the p-value (non-decreasing in Gamma).
    alpha : float
    gamma_max : float
        Search up to this Gamma; ``inf`` is returned if the bound stays below
        ``alpha`` there.
    rtol : float
        Relative precision of the result.

    Returns
    -------
    float
        1.0 when the test does not reject even at Gamma = 1 (the conclusion is
        sensitive to any bias), ``inf`` when it rejects up to ``gamma_max``.

    Examples
    --------
    >>> round(critical_gamma(lambda g: 0.01 * g), 8)
    5.0
    """
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    f1 = p_upper(1.0) - alpha
    if f1 > 0:
        return 1.0
    hi = 2.0
    while p_upper(hi) - alpha <= 0:
        if hi >= gamma_max:
            return float("inf")
        hi = min(hi * 4, gamma_max)
    lo = hi / 4 if hi > 2.0 else 1.0
    f = lambda u: p_upper(float(np.exp(u))) - alpha      # noqa: E731
    root = zeroin(f, np.log(lo), np.log(hi), tol=rtol)
    return float(np.exp(root))
