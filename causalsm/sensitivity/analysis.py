"""One call from matched sets to a sensitivity analysis: :func:`rosenbaum_bounds`.

It chooses the statistic the design and outcome allow, bounds the p-value over a
grid of Gammas, finds the critical Gamma, optionally adds the sensitivity
intervals, and returns a :class:`~causalsm.sensitivity.SensitivityResult`.

Which statistic where:

=====================  ===========================================================
outcome / design        statistic (``statistic="auto"`` picks the first)
=====================  ===========================================================
binary, any sets        Mantel-Haenszel, exact (McNemar for pairs)
continuous, any sets    Huber's M-statistic (pairs, one treated with several
                        controls, one control with several treated, strata)
continuous, pairs       also Wilcoxon's signed rank (``statistic="wilcoxon"``)
=====================  ===========================================================
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy import stats

from .._validation import InputError
from . import binary, m_statistics, signed_rank
from .gamma import critical_gamma
from .results import SensitivityResult
from .sets import MatchedSets, matched_sets

__all__ = ["rosenbaum_bounds", "STATISTICS", "DEFAULT_GAMMAS"]

STATISTICS = ("auto", "huber", "wilcoxon", "mantel_haenszel")
_ALIASES = {"m": "huber", "m_statistic": "huber", "signed_rank": "wilcoxon",
            "mcnemar": "mantel_haenszel", "mh": "mantel_haenszel"}

#: Gammas shown by default, up to the first one beyond 1.5 times the critical Gamma.
DEFAULT_GAMMAS = (1.0, 1.1, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 15.0,
                  20.0, 30.0, 50.0, 100.0)
_GAMMA_MAX = 1e4


class _Test:
    """The chosen statistic as functions of Gamma, in one direction."""

    def __init__(self, sets: MatchedSets, statistic: str, direction: str, opts: dict,
                 kappa: float, prepared: dict | None = None):
        self.statistic, self.direction = statistic, direction
        if statistic == "huber":
            # the M-scores pointed each way (shared by the two directions of a two-sided
            # test): the lower bound in one direction is the upper bound in the other
            other = "less" if direction == "greater" else "greater"
            if not prepared:
                prepared.update(m_statistics.prepare_both(sets, **opts["scores"]))
            self._up, self._down = prepared[direction], prepared[other]
            bound = opts["bound"]
            self.bound = ("taylor" if self._up.has_strata else "separable") \
                if bound == "auto" else bound
            self.kappa = kappa
        elif statistic == "wilcoxon":
            d = sets.pair_differences()
            self._d = d if direction == "greater" else -d
        else:
            self._tables = sets.tables()

    def __call__(self, gamma: float, lower: bool = True) -> tuple:
        """``(p_upper, p_lower, statistic, expectation, variance)`` at ``gamma``
        (``p_lower`` NaN when ``lower=False``)."""
        if self.statistic == "huber":
            up = self._up(gamma, bound=self.bound, kappa=self.kappa)
            p_lo = float("nan")
            if lower:
                down = self._down(gamma, bound=self.bound, kappa=self.kappa)
                p_lo = float(stats.norm.cdf(down.deviate))
            return up.p_value, p_lo, up.statistic, up.expectation, up.variance
        if self.statistic == "wilcoxon":
            r = signed_rank._signed_rank(self._d, gamma)
            return r.p_upper, r.p_lower, r.statistic, r.expectation_upper, r.variance
        r = binary.mantel_haenszel_test(self._tables, gamma, alternative=self.direction)
        return r.p_upper, r.p_lower, r.statistic, r.expectation, r.variance


class _Bound:
    """The bounds on the p-value as functions of Gamma, the directions combined (twice
    the smaller one-sided bound when two-sided); calling it gives the upper bound."""

    def __init__(self, tests: list):
        self.tests = tests

    def rows(self, gamma: float, lower: bool = True) -> list:
        return [t(gamma, lower) for t in self.tests]

    @staticmethod
    def combine(rows: list) -> tuple[float, float]:
        if len(rows) == 1:
            return rows[0][0], rows[0][1]
        return (min(1.0, 2 * min(r[0] for r in rows)), min(1.0, 2 * min(r[1] for r in rows)))

    def __call__(self, gamma: float) -> float:
        return self.combine(self.rows(float(gamma), lower=False))[0]


def _resolve(statistic: str, sets: MatchedSets) -> str:
    key = str(statistic).lower().replace("-", "_").replace(" ", "_")
    key = _ALIASES.get(key, key)
    if key not in STATISTICS:
        raise InputError(f"unknown statistic {statistic!r}; use one of {', '.join(STATISTICS)}")
    binary_outcome = sets.is_binary
    if key == "auto":
        return "mantel_haenszel" if binary_outcome else "huber"
    if key == "mantel_haenszel" and not binary_outcome:
        raise InputError("the Mantel-Haenszel (McNemar) bound needs a 0/1 outcome; this "
                         "outcome takes other values (use statistic='huber')")
    if key == "wilcoxon" and not sets.is_pairs:
        raise InputError("Wilcoxon's signed rank statistic needs matched pairs; these sets "
                         "have several controls (use statistic='huber')")
    return key


def _describe(statistic: str, sets: MatchedSets, opts: dict, bound: str) -> tuple[str, str]:
    if statistic == "huber":
        s = opts["scores"]
        trim = "inf" if np.isinf(s["trim"]) else f"{s['trim']:g}"
        name = "Huber's M-statistic" if np.isfinite(s["trim"]) else \
            "permutational t-statistic"
        parts = [f"inner {s['inner']:g}", f"trim {trim}", f"lambda {s['lambda_']:g}"]
        if s.get("weights") is not None and int(s["weights"][2]) > 1:
            parts.append("weights (m1, m2, m) = ({}, {}, {})".format(*s["weights"]))
        how = {"separable": "separable approximation (Gastwirth, Krieger & Rosenbaum "
                            "2000)",
               "taylor": "separable approximation with senstrat's Taylor correction"}[bound]
        return name, f"{name} ({', '.join(parts)}); {how}"
    if statistic == "wilcoxon":
        name = "Wilcoxon's signed rank statistic"
        return name, f"{name}; normal approximation (rbounds::psens)"
    name = "McNemar's test" if sets.is_pairs else "Mantel-Haenszel test"
    return name, f"{name}; exact bound (sensitivity2x2xk::mh)"


def _default_gammas(critical: float) -> np.ndarray:
    top = max(2.0, 1.5 * critical) if np.isfinite(critical) else 10.0
    grid = [g for g in DEFAULT_GAMMAS if g <= top]
    above = [g for g in DEFAULT_GAMMAS if g > top]
    return np.array(grid + above[:1])


def rosenbaum_bounds(data: Any, gammas=None, *, statistic: str = "auto",
                     alternative: str = "two-sided", alpha: float = 0.05,
                     intervals: bool = False, inner: float = 0.0, trim: float = 3.0,
                     lambda_: float = 0.5, weights=None, bound: str = "auto",
                     treated: Any = None, sets: Any = None,
                     details: dict | None = None) -> SensitivityResult:
    """Rosenbaum bounds on the p-value of a test of no effect, for several Gammas.

    Parameters
    ----------
    data : MatchedSets, array-like
        Matched sets: pair differences (treated minus control), a matrix with one set
        per row (treated first, ``NaN`` for missing controls), or outcomes with
        ``treated`` and ``sets`` (see :func:`matched_sets`).  From a matching, use
        ``MatchResult.sensitivity(y)`` or ``EffectResult.sensitivity()``.
    gammas : sequence of float >= 1, optional
        Default: 1, 1.1, 1.25, 1.5, ... up to past 1.5 times the critical Gamma.
    statistic : {"auto", "huber", "wilcoxon", "mantel_haenszel"}
        ``"auto"``: the exact Mantel-Haenszel (McNemar) bound for a 0/1 outcome,
        Huber's M-statistic otherwise.  ``"wilcoxon"`` (pairs only) is ``rbounds``'
        signed rank test.
    alternative : {"two-sided", "greater", "less"}
        ``"greater"``: treatment raises the outcome (the R packages' one-sided
        test).  Two-sided bounds are twice the smaller one-sided bound.
    alpha : float
        Level of the critical Gamma and of the intervals.
    intervals : bool
        Also the range of point estimates of an additive effect and the confidence
        interval under each Gamma (Hodges-Lehmann for the signed rank statistic,
        ``senmwCI`` for the M-statistic; not for binary outcomes).
    inner, trim, lambda_, weights :
        The M-scores (see :func:`m_scores`); defaults as ``senmw`` (``trim=3``).
    bound : {"auto", "separable", "taylor"}
        For the M-statistic (see :func:`m_test`).
    treated, sets : array-like, optional
        With long data: the 0/1 treatment and the set label of each unit.
    details : dict, optional
        Extra entries for the result's ``details`` (e.g. units dropped).

    Returns
    -------
    SensitivityResult

    Examples
    --------
    >>> d = [22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36,
    ...      25, 1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14]      # lead pairs
    >>> res = rosenbaum_bounds(d, [1, 2, 3, 4, 5, 6], statistic="wilcoxon",
    ...                        alternative="greater")
    >>> res.to_frame()["p_upper"].round(4).tolist()        # Rosenbaum (2002), rbounds
    [0.0, 0.0018, 0.0131, 0.0367, 0.0694, 0.1073]
    >>> round(res.critical_gamma, 2)
    4.43
    """
    if alternative not in ("two-sided", "greater", "less"):
        raise InputError(f"alternative must be 'two-sided', 'greater' or 'less', got "
                         f"{alternative!r}")
    if not 0 < alpha < 1:
        raise InputError(f"alpha must be in (0, 1), got {alpha}")
    ms = matched_sets(data, treated, sets)
    stat = _resolve(statistic, ms)
    m_statistics._check_psi(inner, trim, lambda_)
    opts = {"scores": {"inner": inner, "trim": trim, "lambda_": lambda_, "weights": weights},
            "bound": bound}
    one_sided_alpha = alpha / 2 if alternative == "two-sided" else alpha
    kappa = float(stats.norm.isf(one_sided_alpha))
    directions = ["greater", "less"] if alternative == "two-sided" else [alternative]
    prepared: dict = {}
    tests = [_Test(ms, stat, d, opts, kappa, prepared) for d in directions]

    bound = _Bound(tests)
    at_one = bound.rows(1.0)
    # moments reported for the direction with the smaller bound at Gamma = 1
    direction = int(np.argmin([r[0] for r in at_one]))
    crit = critical_gamma(bound, alpha, gamma_max=_GAMMA_MAX)
    if gammas is None:
        grid = _default_gammas(crit)
    else:
        grid = np.atleast_1d(np.asarray(gammas, dtype=np.float64))
        if grid.size == 0 or np.any(~(grid >= 1)):
            raise InputError("gammas must be numbers >= 1")
    p_up, p_lo, E, V = (np.empty(grid.size) for _ in range(4))
    for i, g in enumerate(grid):
        rows = bound.rows(float(g))
        p_up[i], p_lo[i] = _Bound.combine(rows)
        _, _, T, E[i], V[i] = rows[direction]
    nan = np.full(grid.size, np.nan)
    est_lo, est_hi, ci_lo, ci_hi = nan.copy(), nan.copy(), nan.copy(), nan.copy()
    if intervals:
        if stat == "mantel_haenszel":
            raise InputError("intervals for an additive effect are not defined for a binary "
                             "outcome")
        for i, g in enumerate(grid):
            est_lo[i], est_hi[i], ci_lo[i], ci_hi[i] = _intervals(
                ms, stat, float(g), alpha, alternative, opts)
    name, method = _describe(stat, ms, opts, tests[0].bound if stat == "huber" else "")
    n_sets, n_t, n_c = ms.counts()
    info = {"statistic_name": name, "direction": tests[direction].direction,
            "pairs": ms.is_pairs, "gamma_max": _GAMMA_MAX}
    if stat == "huber":
        info.update({k: v for k, v in opts["scores"].items() if v is not None})
    info.update(details or {})
    return SensitivityResult(
        method=method, design=ms.describe(), alternative=alternative, alpha=float(alpha),
        gamma=grid, p_upper=p_up, p_lower=p_lo, statistic=float(T), expectation=E,
        variance=V, deviate=(T - E) / np.sqrt(V), critical_gamma=float(crit),
        p_value=float(_Bound.combine(at_one)[0]), n_sets=n_sets, n_treated=n_t, n_control=n_c,
        estimate_lower=est_lo, estimate_upper=est_hi, ci_lower=ci_lo, ci_upper=ci_hi,
        details=info, _curve=bound)


def _intervals(ms: MatchedSets, stat: str, gamma: float, alpha: float, alternative: str,
               opts: dict) -> tuple[float, float, float, float]:
    two_sided = alternative == "two-sided"
    if stat == "wilcoxon":
        est = signed_rank.hodges_lehmann_bounds(ms, gamma)
        ci = signed_rank.signed_rank_interval(ms, gamma, alpha=alpha, two_sided=two_sided)
        if alternative == "less":
            ci = (-np.inf, -signed_rank.signed_rank_interval(ms.negated(), gamma,
                                                            alpha=alpha,
                                                            two_sided=False)[0])
    else:
        s = opts["scores"]
        r = m_statistics.m_interval(ms, gamma, alpha=alpha, two_sided=two_sided,
                                    inner=s["inner"], trim=s["trim"], lambda_=s["lambda_"],
                                    weights=s["weights"], bound=opts["bound"])
        est, ci = r["estimate"], r["conf_int"]
        if alternative == "less":
            neg = m_statistics.m_interval(ms.negated(), gamma, alpha=alpha, two_sided=False,
                                          inner=s["inner"], trim=s["trim"],
                                          lambda_=s["lambda_"], weights=s["weights"],
                                          bound=opts["bound"])
            ci = (-np.inf, -neg["conf_int"][0])
    return float(est[0]), float(est[1]), float(ci[0]), float(ci[1])

