"""Root finding for the sensitivity analyses.

Two tools:

* :func:`zeroin`, Brent's (1973) method step for step as R's ``uniroot`` runs it
  (the ``zeroin`` algorithm of R's ``stats`` package: the same interpolation tests,
  the tolerance ``2 eps |b| + tol / 2`` and the same stopping rule), so that a root
  R finds to a loose tolerance (``wilcox.test``'s pseudo-median at ``tol = 1e-4``,
  ``senmwCI`` at ``(upper - lower) / 500000``) is reproduced to the last digit and
  not merely to that tolerance;
* :func:`step_boundary`, bisection for the jump of a monotone step function (a rank
  statistic as a function of the hypothesised effect), to machine precision.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

__all__ = ["zeroin", "step_boundary"]

_EPS = float(np.finfo(float).eps)


def zeroin(f: Callable[[float], float], lower: float, upper: float, *,
           f_lower: float | None = None, f_upper: float | None = None,
           tol: float = _EPS ** 0.25, maxiter: int = 1000) -> float:
    """A root of ``f`` in ``[lower, upper]`` by Brent's method, as R's ``uniroot``.

    ``f(lower)`` and ``f(upper)`` must not have the same sign.  The iterates, and so
    the returned point, are those of R's ``uniroot(f, c(lower, upper), tol = tol)``.

    >>> round(zeroin(lambda x: x ** 3 - 2, 0.0, 5.0, tol=1e-4), 10)   # R: 1.2599405136
    1.2599405136
    """
    a, b = float(lower), float(upper)
    fa = float(f(a)) if f_lower is None else float(f_lower)
    fb = float(f(b)) if f_upper is None else float(f_upper)
    if np.isnan(fa) or np.isnan(fb):
        raise ValueError("f is NaN at an end of the search interval")
    if fa * fb > 0:
        raise ValueError("f has the same sign at both ends of the search interval")
    if fa == 0.0:
        return a
    if fb == 0.0:
        return b
    c, fc = a, fa
    for _ in range(maxiter + 1):
        prev_step = b - a
        if abs(fc) < abs(fb):                 # b is the best approximation so far
            a, b, c = b, c, b
            fa, fb, fc = fb, fc, fb
        tol_act = 2 * _EPS * abs(b) + tol / 2
        new_step = (c - b) / 2
        if abs(new_step) <= tol_act or fb == 0.0:
            return b
        if abs(prev_step) >= tol_act and abs(fa) > abs(fb):
            cb = c - b
            if a == c:                          # secant step
                t1 = fb / fa
                p = cb * t1
                q = 1.0 - t1
            else:                               # inverse quadratic interpolation
                q = fa / fc
                t1 = fb / fc
                t2 = fb / fa
                p = t2 * (cb * q * (q - t1) - (b - a) * (t1 - 1.0))
                q = (q - 1.0) * (t1 - 1.0) * (t2 - 1.0)
            if p > 0:
                q = -q
            else:
                p = -p
            if p < (0.75 * cb * q - abs(tol_act * q) / 2) and p < abs(prev_step * q / 2):
                new_step = p / q
        if abs(new_step) < tol_act:
            new_step = tol_act if new_step > 0 else -tol_act
        a, fa = b, fb
        b += new_step
        fb = float(f(b))
        if (fb > 0 and fc > 0) or (fb < 0 and fc < 0):
            c, fc = a, fa
    raise RuntimeError(f"no convergence in {maxiter} iterations")


def step_boundary(inside: Callable[[float], bool], lower: float, upper: float, *,
                  iterations: int = 200) -> float:
    """The point where a monotone predicate switches, by bisection.

    ``inside(lower)`` and ``inside(upper)`` must differ; the result is the switch
    point to within one or two units in the last place.

    >>> round(step_boundary(lambda x: x < 0.3, 0.0, 1.0), 12)
    0.3
    """
    lo, hi = float(lower), float(upper)
    want = bool(inside(lo))
    if bool(inside(hi)) == want:
        raise ValueError("the predicate does not switch in the search interval")
    for _ in range(iterations):
        mid = lo + (hi - lo) / 2
        if mid <= min(lo, hi) or mid >= max(lo, hi):
            break
        if bool(inside(mid)) == want:
            lo = mid
        else:
            hi = mid
    return lo + (hi - lo) / 2
