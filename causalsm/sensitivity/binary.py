"""Binary outcomes: McNemar's test for pairs and the Mantel-Haenszel test for 2x2xK.

In a stratum (a matched set) with ``m1`` treated units, ``m2`` controls and ``n``
units with the event, the number ``A_k`` of treated units with the event follows,
under no effect and a bias of at most Gamma, a distribution bounded by Fisher's
noncentral hypergeometric with odds ratio Gamma,

    P(A_k = x) proportional to C(m1, x) C(m2, n - x) Gamma^x,

so ``A = sum_k A_k`` (Birch's exact Cochran-Mantel-Haenszel statistic) is bounded by
the convolution of these laws and the exact upper bound on the one-sided p-value is
``P(A >= a)`` under it (Rosenbaum 2002, Section 4.4; ``sensitivity2x2xk::mh``).  Strata
with equal margins are grouped (a binomial for sets with one treated unit, repeated
squaring otherwise) and the laws convolved directly, so that tail probabilities are
exact to their last digits (``mh`` convolves by FFT, whose results below ~1e-16 are
noise); only convolutions of more than four million products go by FFT, with that
absolute accuracy.  For matched pairs this is
McNemar's test: among the ``D`` discordant pairs the count ``B`` in which the treated
unit had the event is bounded by Binomial(``D``, Gamma / (1 + Gamma)).
"""

from __future__ import annotations

import warnings
from typing import Any, NamedTuple

import numpy as np
from scipy import signal, stats

from .._validation import InputError
from .m_statistics import _fnch_pmf, noncentral_hypergeom_moments

__all__ = ["BinaryTest", "mcnemar_test", "mantel_haenszel_test", "strata_tables"]

#: Largest support of the exact law (beyond it the normal approximation).
MAX_EXACT_SUPPORT = 2_000_000
#: Convolutions of up to this many products are direct, longer ones by FFT.
DIRECT_CONVOLUTION = 4_000_000


class BinaryTest(NamedTuple):
    """Bounds on the one-sided p-value of a test on a binary outcome at one Gamma."""

    p_upper: float
    p_lower: float
    statistic: float
    expectation: float
    variance: float

    @property
    def deviate(self) -> float:
        return (self.statistic - self.expectation) / np.sqrt(self.variance)


def mcnemar_test(treated_events: int, control_events: int, gamma: float = 1.0, *,
                 rbounds: bool = False) -> BinaryTest:
    """Bounds on McNemar's one-sided p-value for matched pairs with a binary outcome.

    Parameters
    ----------
    treated_events : int
        Discordant pairs in which the treated unit had the event (``B``).
    control_events : int
        Discordant pairs in which the control had it.
    gamma : float >= 1
    rbounds : bool
        Reproduce ``rbounds::binarysens(x, y)`` (without its rounding to 5 decimals):
        it tests the larger of the two counts, ``b = max(x, y)``, and reports
        ``P(B > b)``, which leaves out ``P(B = b)`` and so understates the p-value.
        By default the bound is the exact ``P(B >= b)`` for the treated count.

    Returns
    -------
    BinaryTest
        ``p_upper = P(Bin(D, Gamma/(1+Gamma)) >= B)``, ``p_lower`` (the same with
        ``1/(1+Gamma)``), ``statistic`` B, and the upper binomial's mean and variance.

    Examples
    --------
    >>> r = mcnemar_test(110, 12, gamma=4)      # Hammond's smokers (Rosenbaum 2002)
    >>> round(r.p_upper, 7), round(mcnemar_test(12, 110, 4, rbounds=True).p_upper, 5)
    (0.0019633, 0.0008)
    """
    b, c = int(treated_events), int(control_events)
    if b < 0 or c < 0 or b != treated_events or c != control_events:
        raise InputError("the discordant counts must be whole numbers >= 0")
    if not gamma >= 1:
        raise InputError(f"Gamma must be >= 1, got {gamma}")
    D = b + c
    if D == 0:
        raise InputError("there are no discordant pairs: McNemar's test is undefined")
    p_plus, p_minus = gamma / (1 + gamma), 1 / (1 + gamma)
    if rbounds:
        k = max(b, c)
        up, lo = stats.binom.sf(k, D, p_plus), stats.binom.sf(k, D, p_minus)
        b = k
    else:
        up, lo = stats.binom.sf(b - 1, D, p_plus), stats.binom.sf(b - 1, D, p_minus)
    return BinaryTest(float(up), float(lo), float(b), D * p_plus, D * p_plus * p_minus)


def strata_tables(tables: Any) -> dict:
    """The margins of 2x2 or 2x2xK tables in R's layout (rows: treated, control;
    columns: event, no event; strata last), as arrays ``a, m1, m2, n``.  Empty
    strata are dropped; every stratum having a zero margin is an error (``mh``)."""
    tab = np.asarray(tables, dtype=np.float64)
    if tab.ndim == 2:
        tab = tab[:, :, None]
    if tab.ndim != 3 or tab.shape[:2] != (2, 2):
        raise InputError(f"tables must be 2x2 or 2x2xK (R's layout), got shape {tab.shape}")
    if np.any(tab < 0) or np.any(tab != np.round(tab)):
        raise InputError("the tables must hold counts (whole numbers >= 0)")
    tab = tab[:, :, tab.sum(axis=(0, 1)) > 0]
    if tab.shape[2] == 0:
        raise InputError("every table is empty")
    out = {"a": tab[0, 0], "m1": tab[0, 0] + tab[0, 1], "m2": tab[1, 0] + tab[1, 1],
           "n": tab[0, 0] + tab[1, 0]}
    out = {k: v.astype(np.int64) for k, v in out.items()}
    total = out["m1"] + out["m2"]
    margins = np.minimum(np.minimum(out["m1"], out["m2"]),
                         np.minimum(out["n"], total - out["n"]))
    if margins.max() == 0:
        raise InputError("every 2x2 table has an empty row or column: the treatment and "
                         "the outcome never vary together within a stratum")
    return out


def _convolve(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The law of a sum: direct convolution (exact in every tail), by FFT when long
    (then to about 1e-16 of the largest probability)."""
    if a.size * b.size <= DIRECT_CONVOLUTION:
        return np.convolve(a, b)
    return np.clip(signal.fftconvolve(a, b), 0.0, None)


def _types(m1: np.ndarray, m2: np.ndarray, n: np.ndarray):
    """The distinct stratum margins ``(m1, m2, n)`` and how many strata have each."""
    b2, bn = int(m2.max()) + 1, int(n.max()) + 1
    key, counts = np.unique((m1 * b2 + m2) * bn + n, return_counts=True)
    return zip(key // (b2 * bn), (key // bn) % b2, key % bn, counts)


def _sum_law(m1: np.ndarray, m2: np.ndarray, n: np.ndarray, gamma: float):
    """``(first value, pmf)`` of the sum of the strata's noncentral hypergeometrics."""
    offset, law = 0, np.ones(1)
    for a1, a2, k, c in _types(m1, m2, n):
        x, p = _fnch_pmf(int(a1), int(a2), int(k), gamma)
        c = int(c)
        offset += int(x[0]) * c
        if p.size == 1:
            continue
        if p.size == 2:                           # c Bernoulli strata: a binomial
            power = stats.binom.pmf(np.arange(c + 1), c, p[1])
        else:                                     # p convolved with itself c times
            power, base = np.ones(1), p
            while c:
                if c & 1:
                    power = _convolve(power, base)
                c >>= 1
                if c:
                    base = _convolve(base, base)
        law = _convolve(law, power)
    return offset, law


def mantel_haenszel_test(tables: Any, gamma: float = 1.0, *, exact: bool = True,
                         correction: bool = False,
                         alternative: str = "greater") -> BinaryTest:
    """Bounds on the one-sided p-value of the Mantel-Haenszel test of a 2x2xK table.

    Parameters
    ----------
    tables : array, shape (2, 2) or (2, 2, K)
        Counts in R's layout: ``tables[0, 0, k]`` treated with the event,
        ``tables[0, 1, k]`` treated without, ``tables[1, 0, k]`` controls with it,
        ``tables[1, 1, k]`` controls without.  A dict with arrays ``a, m1, m2, n``
        (as :meth:`MatchedSets.tables` gives) is accepted too.
    gamma : float >= 1
    exact : bool
        The exact bound (``sensitivity2x2xk::mh``), or the normal approximation with
        the exact moments (``mhLS``).
    correction : bool
        Continuity correction of the normal approximation (``mhLS``'s).
    alternative : {"greater", "less"}
        ``"greater"``: the treatment raises the chance of the event.

    Returns
    -------
    BinaryTest
        ``p_upper``, ``p_lower`` (the same bound at 1/Gamma), ``statistic`` A,
        ``expectation`` and ``variance`` of A under the bounding law.

    Examples
    --------
    >>> both = np.array([[[18, 39], [11, 21]], [[51, 652], [673, 2699]]])   # BRCA1
    >>> round(mantel_haenszel_test(both, gamma=5).p_upper, 12)   # sensitivity2x2xk::mh
    0.00057966917
    """
    m = dict(tables) if isinstance(tables, dict) else strata_tables(tables)
    a, m1, m2, n = (np.asarray(m[k], dtype=np.int64) for k in ("a", "m1", "m2", "n"))
    if alternative == "less":                     # count the treated units without it
        a, n = m1 - a, m1 + m2 - n
    elif alternative != "greater":
        raise InputError(f"alternative must be 'greater' or 'less', got {alternative!r}")
    if not gamma >= 1:
        raise InputError(f"Gamma must be >= 1, got {gamma}")
    A = float(a.sum())
    uppers, moments = [], None
    for g in (float(gamma), 1.0 / float(gamma)):
        support = int(np.minimum(n, m1).sum() - np.maximum(0, n - m2).sum()) + 1
        if exact and support <= MAX_EXACT_SUPPORT:
            offset, law = _sum_law(m1, m2, n, g)
            values = offset + np.arange(law.size)
            p = float(law[values >= A].sum())
            mean = float(np.sum(values * law))
            var = float(np.sum((values - mean) ** 2 * law))
        else:
            if exact and g == gamma:
                warnings.warn(f"the exact Mantel-Haenszel bound would convolve a law with "
                              f"{support:,} values; the normal approximation with exact "
                              "moments is used instead", RuntimeWarning, stacklevel=2)
            mean, var = _moments(m1, m2, n, g)
            shift = 0.5 if correction else 0.0
            p = float(stats.norm.sf((A - shift - mean) / np.sqrt(var)))
        uppers.append(min(p, 1.0))
        if moments is None:
            moments = (mean, var)
    return BinaryTest(uppers[0], uppers[1], A, *moments)


def _moments(m1, m2, n, gamma):
    mean = var = 0.0
    for a1, a2, k, c in _types(m1, m2, n):
        mu, v = noncentral_hypergeom_moments(int(a1), int(a2), int(k), gamma)
        mean += c * mu
        var += c * v
    return mean, var
