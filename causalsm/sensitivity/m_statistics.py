"""Huber-Maritz M-statistics and their Rosenbaum bounds (Rosenbaum 2007, 2014).

The statistic is ``T = sum over treated units of q``, the M-scores of the treated
units.  Within a matched set of ``n_i`` units, unit ``j`` scores

    q_ij = (1 / n_i) sum_{k != j} psi((y_ij - y_ik) / h),

with ``h`` the ``lambda`` quantile (type 7) of every absolute within-set difference
(each ordered pair, so each difference counted twice, as ``mscorev`` does) and
``psi`` Huber's function trimmed at ``trim`` (optionally with an inner trim,
``inner``).  With ``inner = 0`` and ``trim = inf`` the scores are raw differences
(the permutational t-test).  ``tont=True`` divides by ``(n_i - 1) I`` instead
(``senmv``'s ``TonT``).  Optional weights (Rosenbaum 2011, 2014; ``m1, m2, m``)
multiply the scores of a set by a function of the rank of its score range.

The upper bound on the one-sided p-value for a bias of at most ``Gamma`` is the
separable approximation of Gastwirth, Krieger & Rosenbaum (2000): in each set the
expectation of the set's share of ``T`` is maximised over the unobserved covariates
``u`` that put ones on the ``k`` largest scores (the maximising ``u`` is of this
form), the largest variance among the maximisers is taken, and the deviate
``(T - sum E) / sqrt(sum V)`` is referred to the normal distribution.  For a set with
one treated unit (``senmw``, ``senmv``) the moments are in closed form; a set with one
control and several treated units (full matching; ``senfm``) is the same with the
scores negated; a stratum with several of each (subclassification; ``senstrat``) uses
the exact moments of Fisher's noncentral hypergeometric distribution (Rosenbaum
2002, Proposition 20) and, by default, ``senstrat``'s first-order Taylor correction
of the separable bound, which is conservative.

Parity (tests/fixtures/r/make_sensitivity_reference.R): ``sensitivitymw::senmw`` and
``senmwCI``, ``sensitivitymv::senmv``, ``sensitivityfull::senfm`` and
``senstrat::senstrat`` to 1e-8.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np
from scipy import stats
from scipy.special import comb, gammaln, logsumexp

from .._validation import InputError
from ._roots import zeroin
from .sets import MatchedSets, matched_sets

__all__ = ["BoundTest", "m_scores", "m_test", "m_interval", "MBound",
           "noncentral_hypergeom_moments", "MAX_SET_SIZE"]

#: Largest set or stratum whose pairwise differences are formed (memory ~ n^2).
MAX_SET_SIZE = 5000


class BoundTest(NamedTuple):
    """The bound on the one-sided p-value at one Gamma, with its ingredients."""

    p_value: float
    deviate: float
    statistic: float
    expectation: float
    variance: float


# ------------------------------------------------------------------ scores
def _psi(x: np.ndarray, inner: float, trim: float) -> np.ndarray:
    ax = np.abs(x)
    if np.isinf(trim):
        ab = np.maximum(0.0, ax - inner)
    elif inner < trim:
        ab = np.minimum(1.0, np.maximum(0.0, ax - inner) / (trim - inner))
    else:
        ab = (ax > inner).astype(np.float64)
    return np.sign(x) * ab


def quantile7(x: np.ndarray, p: float) -> float:
    """R's default quantile (type 7), computed as R computes it."""
    x = np.asarray(x, dtype=np.float64)
    index = (x.size - 1) * p
    lo, hi = int(np.floor(index)), int(np.ceil(index))
    part = np.partition(x, np.unique([lo, hi]))
    q = part[lo]
    if index > lo and part[hi] != q:
        h = index - lo
        q = (1 - h) * q + h * part[hi]
    return float(q)


def _size_groups(sets: MatchedSets):
    """``(n, positions (G, n))`` for the sets of each size ``n >= 2``."""
    size = sets.size
    for n in np.unique(size):
        if n < 2:
            continue
        if n > MAX_SET_SIZE:
            raise InputError(f"a matched set or stratum has {n} units; M-scores compare every "
                             f"pair of units within a set, which is limited to sets of "
                             f"{MAX_SET_SIZE} units (use finer strata)")
        idx = np.flatnonzero(size == n)
        yield int(n), sets.start[idx][:, None] + np.arange(n)


def m_scores(data: Any, *, inner: float = 0.0, trim: float = 3.0, lambda_: float = 0.5,
             tont: bool = False) -> tuple[np.ndarray, float]:
    """M-scores of every unit (``sensitivitymv::mscorev``) and the scale ``h``.

    Parameters
    ----------
    data : MatchedSets or anything :func:`matched_sets` accepts
    inner, trim : float
        Huber's psi is 0 below ``inner`` and 1 above ``trim`` (in units of ``h``),
        linear in between; ``trim=inf`` gives raw differences.
    lambda_ : float in (0, 1)
        Quantile of the absolute within-set differences that sets the scale ``h``.
    tont : bool
        Divide by ``(n_i - 1) I`` instead of ``n_i`` (``senmv``'s ``TonT``).

    Returns
    -------
    scores : ndarray, aligned with ``sets.y``
    h : float
        The scale (1.0 when no scaling is applied).

    Examples
    --------
    >>> q, h = m_scores([[5, 1, 0], [3, 4, 2], [10, 6, 7], [2, 2, 1]], trim=2.5)
    >>> h, np.round(q[:3], 6).tolist()
    (1.0, [0.666667, -0.2, -0.466667])
    """
    sets = matched_sets(data)
    _check_psi(inner, trim, lambda_)
    groups = list(_size_groups(sets))
    scale = np.isfinite(trim) or inner > 0
    h = 1.0
    if scale:
        absd = []
        for n, pos in groups:
            Yg = sets.y[pos]
            off = ~np.eye(n, dtype=bool)
            absd.append(np.abs(Yg[:, :, None] - Yg[:, None, :])[:, off].ravel())
        h = quantile7(np.concatenate(absd), lambda_) if absd else 0.0
        if not h > 0:
            raise InputError(f"the scale of the M-scores is 0: the {lambda_:g} quantile of "
                             "the absolute within-set differences is 0 (many ties); "
                             "increase lambda_")
    q = np.zeros_like(sets.y)
    n_used = int(sets.usable.sum())
    for n, pos in groups:
        Yg = sets.y[pos]
        D = Yg[:, :, None] - Yg[:, None, :]
        # summed in extended precision, as R's sum(): equal sets then tie exactly as in R
        s = (_psi(D / h, inner, trim) if scale else D).sum(axis=2, dtype=np.longdouble)
        s = s.astype(np.float64)
        q[pos] = s / ((n - 1) * n_used) if tont else s / n
    return q, h


def _check_psi(inner: float, trim: float, lambda_: float) -> None:
    if not (0 <= inner <= trim):
        raise InputError(f"need 0 <= inner <= trim, got inner={inner}, trim={trim}")
    if not 0 < lambda_ < 1:
        raise InputError(f"lambda_ must be in (0, 1), got {lambda_}")


def _set_weights(sets: MatchedSets, q: np.ndarray, weights) -> np.ndarray:
    """Rosenbaum's (2011, 2014) weights from the ranks of the sets' score ranges."""
    m1, m2, m = (int(v) for v in weights)
    if not (1 <= m1 <= m2 <= m):
        raise InputError(f"weights (m1, m2, m) need 1 <= m1 <= m2 <= m, got {weights}")
    use = sets.usable
    if np.unique(sets.size[use]).size > 1 or np.any(sets.kinds()[use] != "one_treated"):
        raise InputError("weighted M-statistics (m > 1) need matched sets of equal size, "
                         "each with one treated unit (as sensitivitymw)")
    idx = np.flatnonzero(use)
    n = int(sets.size[idx[0]])
    pos = sets.start[idx][:, None] + np.arange(n)
    rg = q[pos].max(axis=1) - q[pos].min(axis=1)
    pk = stats.rankdata(rg) / rg.size
    w = np.zeros_like(pk)
    for ell in range(m1, m2 + 1):
        w += ell * comb(m, ell) * pk ** (ell - 1) * (1 - pk) ** (m - ell)
    out = q.copy()
    out[pos] = q[pos] * w[:, None]
    return out


# ---------------------------------------------------------- noncentral moments
def noncentral_hypergeom_moments(m1: int, m2: int, n: int, gamma: float) -> tuple[float, float]:
    """Mean and variance of Fisher's noncentral hypergeometric distribution.

    The number of the ``m1`` "type 1" units among ``n`` drawn from ``m1 + m2``, with
    odds ratio ``gamma`` (``BiasedUrn::meanFNCHypergeo`` / ``varFNCHypergeo``).

    >>> [round(v, 6) for v in noncentral_hypergeom_moments(5, 5, 5, 1.0)]
    [2.5, 0.694444]
    """
    x, p = _fnch_pmf(m1, m2, n, gamma)
    mean = float(np.sum(x * p))
    return mean, float(np.sum((x - mean) ** 2 * p))


def _fnch_pmf(m1: int, m2: int, n: int, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    lo, hi = max(0, n - m2), min(n, m1)
    x = np.arange(lo, hi + 1, dtype=np.float64)
    logw = (_lchoose(m1, x) + _lchoose(m2, n - x) + x * np.log(gamma))
    return x, np.exp(logw - logsumexp(logw))


def _lchoose(a, b):
    return gammaln(np.asarray(a, dtype=np.float64) + 1) - gammaln(np.asarray(b) + 1) \
        - gammaln(np.asarray(a, dtype=np.float64) - b + 1)


class _Stratum:
    """A stratum with ``n_t`` treated units among its sorted scores ``q``, ready to give
    ``senstrat``'s ``evall`` (method "BU") at any Gamma: for ``u`` with ones on the
    ``m`` largest scores, m = 1..N-1, the exact expectation and variance of the
    stratum's sum (Rosenbaum 2002, Proposition 20).  The Gamma-free parts (the
    log-binomial coefficients of the noncentral hypergeometric laws, the means and
    variances of the scores above and below each cut) are computed once."""

    #: Largest ``(N - 1) (n_t + 1)`` whose log-coefficients are kept between Gammas.
    CACHE = 4_000_000

    def __init__(self, q_sorted: np.ndarray, n_t: int):
        N = q_sorted.size
        self.q, self.n_t = q_sorted, int(n_t)
        self.m = np.arange(1, N)
        self.xs = np.arange(0, n_t + 1, dtype=np.float64)
        c1 = np.concatenate([[0.0], np.cumsum(q_sorted)])
        c2 = np.concatenate([[0.0], np.cumsum(q_sorted ** 2)])
        n1, n0 = self.m, N - self.m             # ones on the top m, zeros on the bottom
        s1, s0 = c1[N] - c1[N - self.m], c1[N - self.m]
        ss1, ss0 = c2[N] - c2[N - self.m], c2[N - self.m]
        self.qb1, self.qb0 = s1 / n1, s0 / n0
        with np.errstate(invalid="ignore", divide="ignore"):
            self.w1 = np.where(n1 > 1, (ss1 - n1 * self.qb1 ** 2) / (n1 - 1), 0.0)
            self.w0 = np.where(n0 > 1, (ss0 - n0 * self.qb0 ** 2) / (n0 - 1), 0.0)
        self._base = self._log_base() if self.m.size * self.xs.size <= self.CACHE else None

    def _log_base(self) -> np.ndarray:
        N, n_t, m, xs = self.q.size, self.n_t, self.m[:, None], self.xs[None, :]
        inside = (xs >= np.maximum(0, n_t + m - N)) & (xs <= np.minimum(n_t, m))
        with np.errstate(invalid="ignore"):
            base = _lchoose(m, xs) + _lchoose(N - m, n_t - xs)
        return np.where(inside, base, -np.inf)

    def moments(self, gamma: float) -> tuple[np.ndarray, np.ndarray]:
        base = self._base if self._base is not None else self._log_base()
        logw = base + self.xs[None, :] * np.log(gamma)
        p = np.exp(logw - logw.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        et = p @ self.xs
        vt = p @ self.xs ** 2 - et ** 2
        N, n_t, n1, n0 = self.q.size, self.n_t, self.m, self.q.size - self.m
        w1, w0, qb1, qb0 = self.w1, self.w0, self.qb1, self.qb0
        expect = et * qb1 + (n_t - et) * qb0
        var = ((w1 - w0) * et - (et * et + vt) * (w1 / n1 + w0 / n0)
               + n_t * (N + 2 * et - (n1 + n_t)) * w0 / n0 + vt * (qb1 - qb0) ** 2)
        return expect, var


def _stratum_moments(q_sorted: np.ndarray, n_t: int, gamma: float):
    """``senstrat``'s ``evall`` for one stratum at one Gamma (see :class:`_Stratum`)."""
    return _Stratum(q_sorted, n_t).moments(gamma)


# ------------------------------------------------------------------ the bound
class MBound:
    """The scores of one hypothesis, ready to bound the p-value at any Gamma.

    ``contributions`` is the treated units' share of ``T``; ``groups`` holds, per set
    size, the sorted scores of sets with one distinguished unit (negated for sets
    with one control); ``strata`` the sorted scores of strata with several treated
    units and several controls.
    """

    def __init__(self, sets: MatchedSets, q: np.ndarray):
        kinds = sets.kinds()
        self.statistic = float(np.sum(q * sets.treated * np.repeat(sets.usable, sets.size)))
        signed = q * np.repeat(np.where(kinds == "one_control", -1.0, 1.0), sets.size)
        self.groups = []
        one = np.isin(kinds, ("one_treated", "one_control"))
        for n in np.unique(sets.size[one]):
            idx = np.flatnonzero(one & (sets.size == n))
            pos = sets.start[idx][:, None] + np.arange(n)
            S = np.sort(signed[pos], axis=1)
            self.groups.append((int(n), S, np.cumsum(S, axis=1),
                                np.cumsum(S ** 2, axis=1)))
        self.strata = []
        for s in np.flatnonzero(kinds == "stratum"):
            sl = slice(sets.start[s], sets.start[s + 1])
            self.strata.append(_Stratum(np.sort(q[sl]), int(sets.treated[sl].sum())))
        if not self.groups and not self.strata:
            raise InputError("no matched set has both a treated unit and a control")

    @property
    def has_strata(self) -> bool:
        return bool(self.strata)

    def _moments(self, gamma: float):
        """Per set, the expectation and variance for every extreme ``u``."""
        out = []
        for n, S, C1, C2 in self.groups:
            a = np.arange(1, n)                 # a ones... zeros on the a smallest
            low1, low2 = C1[:, :-1], C2[:, :-1]
            high1, high2 = C1[:, -1:] - low1, C2[:, -1:] - low2
            denom = a + gamma * (n - a)
            mu = (low1 + gamma * high1) / denom
            nu = (low2 + gamma * high2) / denom - mu * mu
            out.append((mu, nu, np.abs(S).max(axis=1, keepdims=True)))
        for stratum in self.strata:
            mu, nu = stratum.moments(gamma)
            out.append((mu[None, :], nu[None, :],
                        np.abs(stratum.q).max(keepdims=True)[None, :]))
        return out

    def __call__(self, gamma: float, *, bound: str = "separable",
                 kappa: float = 1.6448536269514722) -> BoundTest:
        key = (float(gamma), bound, float(kappa))
        memo = self.__dict__.setdefault("_memo", {})
        if key not in memo:
            if len(memo) > 16:
                memo.clear()
            memo[key] = self._bound(*key)
        return memo[key]

    def _bound(self, gamma: float, bound: str, kappa: float) -> BoundTest:
        if not gamma >= 1:
            raise InputError(f"Gamma must be >= 1, got {gamma}")
        parts = self._moments(float(gamma))
        best = []
        for mu, nu, scale in parts:
            # the largest variance among the maximisers of the expectation; ties up to
            # rounding on the scale of the set's scores
            mmax = mu.max(axis=1, keepdims=True)
            tie = mu >= mmax - 1e-13 * scale
            best.append((mmax[:, 0], np.where(tie, nu, -np.inf).max(axis=1)))
        E = float(sum(b[0].sum() for b in best))
        V = float(sum(b[1].sum() for b in best))
        if bound == "taylor":
            root = np.sqrt(V)
            E2 = V2 = 0.0
            for (mu, nu, _), (mstar, vstar) in zip(parts, best):
                adj = (mu - mstar[:, None]) + kappa * nu / (2 * root) \
                    - kappa * vstar[:, None] / (2 * root)
                j = np.argmax(adj, axis=1)
                rows = np.arange(mu.shape[0])
                E2 += float(mu[rows, j].sum())
                V2 += float(nu[rows, j].sum())
            E, V = E2, V2
        elif bound != "separable":
            raise InputError(f"bound must be 'separable' or 'taylor', got {bound!r}")
        if not V > 0:
            raise InputError("the null variance of the M-statistic is 0: every matched set "
                             "has equal outcomes")
        dev = (self.statistic - E) / np.sqrt(V)
        return BoundTest(float(stats.norm.sf(dev)), float(dev), self.statistic, E, V)


def prepare(sets: MatchedSets, *, tau: float = 0.0, alternative: str = "greater",
            inner: float = 0.0, trim: float = 3.0, lambda_: float = 0.5,
            tont: bool = False, weights=None) -> MBound:
    """Scores under the hypothesis of an additive effect ``tau`` (``y - tau`` for the
    treated), pointed so that large ``T`` speaks for ``alternative``."""
    return prepare_both(sets, tau=tau, inner=inner, trim=trim, lambda_=lambda_, tont=tont,
                        weights=weights, directions=(alternative,))[alternative]


def prepare_both(sets: MatchedSets, *, tau: float = 0.0, inner: float = 0.0,
                 trim: float = 3.0, lambda_: float = 0.5, tont: bool = False, weights=None,
                 directions=("greater", "less")) -> dict:
    """:func:`prepare` for each direction, the scores computed once: psi is odd and the
    scale and the set weights do not change with the sign, so the scores of ``-y`` are
    exactly minus those of ``y``."""
    for d in directions:
        if d not in ("greater", "less"):
            raise InputError(f"alternative must be 'greater' or 'less', got {d!r}")
    shifted = sets.shifted(tau)
    if tont and np.any(sets.kinds()[sets.usable] != "one_treated"):
        raise InputError("tont=True needs matched sets with one treated unit each")
    q, _ = m_scores(shifted, inner=inner, trim=trim, lambda_=lambda_, tont=tont)
    if weights is not None and tuple(int(v) for v in weights)[2] > 1:
        q = _set_weights(shifted, q, weights)
    return {d: MBound(shifted, q) if d == "greater" else MBound(shifted.negated(), -q)
            for d in directions}


def m_test(data: Any, gamma: float = 1.0, *, inner: float = 0.0, trim: float = 3.0,
           lambda_: float = 0.5, tau: float = 0.0, tont: bool = False, weights=None,
           alternative: str = "greater", bound: str = "auto",
           level: float = 0.05) -> BoundTest:
    """Rosenbaum's upper bound on the one-sided p-value of an M-test at one Gamma.

    Reproduces ``sensitivitymw::senmw`` (sets of equal size, defaults ``trim=3``),
    ``sensitivitymv::senmv`` (variable sizes; its default is ``trim=2.5``),
    ``sensitivityfull::senfm`` (sets with one control, ``first_treated=False`` in
    :func:`matched_sets`) and, for strata with several treated units and controls,
    ``senstrat::senstrat`` with these scores.

    Parameters
    ----------
    data : MatchedSets, pair differences, a matrix of sets, ...
        See :func:`matched_sets`.
    gamma : float >= 1
        The bias: within a set, the odds of treatment of two units differ by at most
        this factor.
    inner, trim, lambda_, tont :
        The scores (see :func:`m_scores`).
    tau : float
        Test the hypothesis of an additive effect ``tau`` (default: no effect).
    weights : (m1, m2, m), optional
        Rosenbaum's (2014) weights for sets of equal size; ``(12, 20, 20)`` is
        ``senmw``'s ``method="w"``.
    alternative : {"greater", "less"}
        ``"greater"``: the treatment raises the outcome (as the R packages).
    bound : {"auto", "separable", "taylor"}
        The separable approximation, or ``senstrat``'s Taylor-corrected bound.
        ``"auto"``: separable for sets with one treated unit or one control, Taylor
        when some stratum has several of each (``senstrat``'s default).
    level : float
        The level at which the Taylor correction is made (``senstrat``'s ``level``).

    Returns
    -------
    BoundTest
        ``p_value`` (upper bound), ``deviate``, ``statistic``, ``expectation``,
        ``variance``.

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]      # lead pairs
    >>> r = m_test(d, gamma=2)            # sensitivitymw::senmw(d, gamma = 2)
    >>> round(r.p_value, 10), round(r.statistic, 6)
    (0.0021795346, 5.666667)
    """
    sets = matched_sets(data)
    prepared = prepare(sets, tau=tau, alternative=alternative, inner=inner, trim=trim,
                       lambda_=lambda_, tont=tont, weights=weights)
    if bound == "auto":
        bound = "taylor" if prepared.has_strata else "separable"
    return prepared(gamma, bound=bound, kappa=float(stats.norm.isf(level)))


def m_interval(data: Any, gamma: float = 1.0, *, alpha: float = 0.05,
               two_sided: bool = False, inner: float = 0.0, trim: float = 3.0,
               lambda_: float = 0.5, tont: bool = False, weights=None,
               bound: str = "auto", interval=None, tol: float | None = None) -> dict:
    """Point estimates and a confidence interval for an additive effect under bias Gamma.

    ``sensitivitymw::senmwCI``: the range of estimates solves ``deviate(tau) = 0``
    for the upper bound in each direction, and the confidence limits solve
    ``deviate(tau) = z`` (``z`` at ``alpha``, or ``alpha / 2`` on each side when
    two-sided; one-sided intervals are ``[lower, inf)``).  Roots are found by R's
    Brent iterations (:func:`~causalsm.sensitivity._roots.zeroin`) on ``interval``
    (default ``[min treated - max control, max treated - min control]``), so with
    ``tol=(upper - lower) / 500000`` the results are ``senmwCI``'s to the last digit.

    Returns
    -------
    dict with ``estimate`` (lower, upper), ``conf_int`` (lower, upper),
    ``interval`` and ``tol``.

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]
    >>> r = m_interval(d, gamma=2, tol=69 / 500000)        # senmwCI(d, gamma = 2)
    >>> [round(v, 6) for v in r["estimate"]], round(r["conf_int"][0], 6)
    ([11.319975, 20.183677], 6.263114)
    """
    sets = matched_sets(data)
    use = np.repeat(sets.usable, sets.size)
    tr, ct = sets.y[use & (sets.treated == 1)], sets.y[use & (sets.treated == 0)]
    if interval is None:
        interval = (float(tr.min() - ct.max()), float(tr.max() - ct.min()))
    lo, hi = (float(v) for v in interval)
    if not hi > lo:
        raise InputError(f"the search interval must have lower < upper, got {interval}")
    tol = (hi - lo) * 1e-10 if tol is None else float(tol)
    z = float(stats.norm.isf(alpha / 2 if two_sided else alpha))
    opts = dict(inner=inner, trim=trim, lambda_=lambda_, tont=tont, weights=weights)
    negated = sets.negated()

    def deviate(s, tau):
        prepared = prepare(s, tau=tau, **opts)
        how = ("taylor" if prepared.has_strata else "separable") if bound == "auto" else bound
        return prepared(gamma, bound=how, kappa=z).deviate

    def root(f, a, b):
        try:
            return zeroin(f, a, b, tol=tol)
        except ValueError:
            raise InputError(f"no root of the M-test's deviate in [{a:g}, {b:g}] at Gamma = "
                             f"{gamma:g}; give a wider interval") from None

    est_lo = root(lambda t: deviate(sets, t), lo, hi)
    est_hi = -root(lambda t: deviate(negated, t), -hi, -lo)
    ci_lo = root(lambda t: deviate(sets, t) - z, lo, hi)
    ci_hi = -root(lambda t: deviate(negated, t) - z, -hi, -lo) if two_sided else np.inf
    return {"estimate": (est_lo, est_hi), "conf_int": (ci_lo, float(ci_hi)),
            "interval": (lo, hi), "tol": tol}
