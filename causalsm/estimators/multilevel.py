"""Treatments with several levels: matching and subclassification on the generalised
propensity score, or matching on covariates or a learned score.

Yang, Imbens, Cui, Faries & Kadziola (2016, *Biometrics* 72:1055-1065, "Propensity
score matching and subclassification in observational studies with multi-level
treatments"), as implemented in Shu Yang's R package ``multilevelMatching``:

* **matching** (:class:`MultilevelMatching`).  For each level ``w``, every unit of
  the target population that did not receive ``w`` is matched, with replacement, to
  its ``M`` nearest units that did, on the score of level ``w``: the column
  ``r(w, X)`` of the generalised propensity score (GPS), or the whole score when it
  is a vector such as the covariates or the neural balancing score.  This imputes
  every potential outcome of every unit, ``Yhat_i(w)`` (its own outcome at its own
  level), and ``mu_w = mean_i Yhat_i(w)``, ``tau(w, w') = mu_w - mu_w'``.
  The population is every unit (``tau(w, w') = E[Y(w) - Y(w')]``) or the units that
  received a level ``t`` (``E[Y(w) - Y(w') | W = t]``; with a GPS, level ``w`` is then
  matched on ``r(w, X) / (r(w, X) + r(t, X))``, the propensity of ``w`` against ``t``,
  which balances the two groups (Lechner 2001)).
* **Abadie-Imbens (2006) variance** of each contrast, Theorem 7 applied to the pair::

      V = N_T^-2 { sum_{i in T} (Yhat_i(w) - Yhat_i(w') - tau)^2
                   + sum_{j: W_j in {w, w'}} [(1{j in T} + K_j)^2 - 1{j in T} - K'_j] sigma_j^2 }

  with ``K_j`` the (tie-weighted) number of times unit ``j`` serves as a match,
  ``K'_j`` the sum of its squared shares (``K_j / M`` without ties: for the
  population this is ``(K/M)^2 + (2M - 1)/M * K/M`` of the package, with raw counts
  ``K``) and ``sigma_j^2 = J/(J + 1) (Y_j - mean of its J nearest same-level units)^2``
  (Abadie & Imbens 2006, eq. 14).
* **Abadie-Imbens (2016) adjustment** for a GPS estimated by multinomial logistic
  regression (population contrasts): ``V_AI16 = V - (c_w - c_w')' V_theta (c_w - c_w')``
  with ``V_theta`` the covariance of the multinomial coefficients and ``c_w`` the
  average of ``cov(X, Y | r(w, X), W = w) (1{w = w_m} - r(w_m, X))`` over units, a
  block per non-reference level ``w_m``.  The local covariances come from the two
  level-``w`` units nearest on ``r(w, X)`` (the unit itself and its nearest
  neighbour for a unit of level ``w``), as in the package.

  **The package's sign error.**  The CRAN release (1.0.0) of ``multilevelMatching``
  subtracts ``(c_w + c_w')' V_theta (c_w + c_w')``; the upstream fix (commit 7ec8932)
  corrected ``multilevelGPSMatch`` to ``c_w - c_w'`` but not ``multiMatch``, whose
  ``VarianceAI2016`` still carries the ``+``.  For two levels the difference is the
  one of Abadie & Imbens (2016) for the ATE, ``E[(1 - p) cov_1 + p cov_0]``, which
  :func:`~causalsm.estimators.ps_adjustment.ps_adjustment` uses; this module follows
  the paper (``c_w - c_w'``), and ``tests/test_multilevel_parity.py`` shows both.
* **Bias correction** as in the binary case (Abadie & Imbens 2011): the matches'
  outcomes are shifted by ``(Z_i - Z_j)' beta_w``, ``beta_w`` a least-squares fit of
  ``Y`` on ``Z`` among the units of level ``w``.
* **Trimming** for limited overlap (Crump, Hotz, Imbens & Mitnik 2009, extended to
  several levels): keep the units with ``g(X) = sum_w 1 / r(w, X)`` below the
  threshold ``a`` that minimises ``E[g | g < a] / P(g < a)``, the asymptotic variance
  bound; the GPS is refitted on the kept units.  ``trim="multilevelmatching"`` uses the
  package's threshold, ``2 * E[g | g < a] / P(g < a)`` at that minimiser, which trims
  fewer units.
* **Subclassification** (:class:`MultilevelSubclassification`): for each level,
  subclasses at the quantiles of ``r(w, X)``; ``mu_w`` is the average over subclasses
  of the level-``w`` mean outcome, weighted by subclass size; the variance comes from
  a bootstrap that refits the GPS.

With two levels, matching on the propensity score (probability scale) gives exactly the
binary :class:`~causalsm.MatchingEstimator`'s ATE, ATT (``target=1``) and ATC
(``target=0``) and their AI variances (``tests/test_multilevel.py``), with ``J = 1`` and no
ties among the same-level neighbours; for ``J >= 2`` the binary estimator uses R ``Matching``'s
conditional variance (the sample variance of the unit and its ``J`` neighbours), this one
``multilevelMatching``'s (eq. 14 above).  Ties at exactly the same distance are kept and
share the weight of one match (``ties=True``); with them ``J`` above counts every tied
neighbour.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.base import BaseEstimator, clone

from .._validation import (InputError, check_array, check_int, check_levels, check_outcome,
                           check_seed, name_of, seed_sequence, select_columns)
from ..matching.nearest import match, same_arm_moments
from ..scores.covariates import CovariateScore
from ..scores._tags import score_tags
from ..scores.gps import GeneralizedPropensityScore
from .average import _wls_coef
from .ps_adjustment import local_covariances
from .results import EffectResult, Result, wald

__all__ = ["MultilevelMatching", "MultilevelSubclassification", "MultilevelEffectResult",
           "overlap_mask"]

_VARIANCES = ("auto", "ai", "ai2016")
_TRIM_RULES = ("crump", "multilevelmatching")


# ------------------------------------------------------------------------ result
@dataclass
class MultilevelEffectResult(Result):
    """Effects of a treatment with several levels: one row per contrast.

    Attributes
    ----------
    estimand : str
        ``"ATE"`` (averages over all analysed units) or ``"ATT"`` (over the units that
        received ``target``).
    target : str or None
        The level whose recipients the ``"ATT"`` averages over.
    levels : list of str
        Treatment levels, in order.
    contrast, level, reference : list of str
        Per contrast: its label ``"level - reference"`` and its two levels.
    estimate, std_error, ci_lower, ci_upper, p_value : ndarray
        Per contrast: ``mu_level - mu_reference``, its standard error, the Wald
        interval at level ``1 - alpha`` (simultaneous with ``p_adjust="bonferroni"``)
        and the two-sided p-value for no effect.
    p_adjusted : ndarray
        The p-values adjusted for the ``len(contrast)`` comparisons by ``p_adjust``
        (equal to ``p_value`` when ``p_adjust`` is ``"none"``).
    means, means_std_error : ndarray
        Per level: the estimated mean potential outcome in the population and its
        standard error.
    n_per_level : ndarray of int64
        Analysed units per level.
    method, variance : str
    n_matched : int
        Units analysed (after trimming).
    n_dropped : int
        Units dropped by trimming.
    alpha : float
    p_adjust : str
        ``"none"`` or the statsmodels ``multipletests`` method used.
    details : dict
        Extra numbers: ``var_ai2006``, ``var_ai2016`` (per contrast), the AI (2016)
        ``c_vectors`` and ``vcov``, ``trim_threshold``...
    """

    estimand: str
    target: str | None
    levels: list
    contrast: list
    level: list
    reference: list
    estimate: np.ndarray
    std_error: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    p_value: np.ndarray
    p_adjusted: np.ndarray
    means: np.ndarray
    means_std_error: np.ndarray
    n_per_level: np.ndarray
    method: str
    variance: str
    n_matched: int
    n_dropped: int
    alpha: float = 0.05
    p_adjust: str = "none"
    details: dict = field(default_factory=dict)

    def _z_alpha(self, alpha: float) -> float:
        """Bonferroni intervals are simultaneous over the contrasts."""
        return alpha / len(self.contrast) if self.p_adjust == "bonferroni" else alpha

    def _count(self, level: str) -> int:
        return int(self.n_per_level[self.levels.index(level)])

    def to_frame(self) -> pd.DataFrame:
        """One row per contrast (float64, int64 and str columns only).

        Columns: ``contrast``, ``level``, ``reference``, ``estimand``, ``estimate``,
        ``std_error``, ``ci_lower``, ``ci_upper``, ``p_value``, ``p_adjusted``,
        ``n_treated`` (units that received ``level``), ``n_control`` (units that
        received ``reference``), ``method``, ``variance``.
        """
        m = len(self.contrast)
        return pd.DataFrame({
            "contrast": list(self.contrast), "level": list(self.level),
            "reference": list(self.reference), "estimand": [self.estimand] * m,
            "estimate": np.asarray(self.estimate, dtype=np.float64),
            "std_error": np.asarray(self.std_error, dtype=np.float64),
            "ci_lower": np.asarray(self.ci_lower, dtype=np.float64),
            "ci_upper": np.asarray(self.ci_upper, dtype=np.float64),
            "p_value": np.asarray(self.p_value, dtype=np.float64),
            "p_adjusted": np.asarray(self.p_adjusted, dtype=np.float64),
            "n_treated": np.array([self._count(a) for a in self.level], dtype=np.int64),
            "n_control": np.array([self._count(b) for b in self.reference], dtype=np.int64),
            "method": [self.method] * m, "variance": [self.variance] * m})

    def means_frame(self) -> pd.DataFrame:
        """One row per level: the estimated mean potential outcome, its standard error
        and Wald interval, and the units that received the level."""
        z = stats.norm.ppf(1 - self.alpha / 2)
        mu = np.asarray(self.means, dtype=np.float64)
        se = np.asarray(self.means_std_error, dtype=np.float64)
        return pd.DataFrame({"level": list(self.levels), "estimate": mu, "std_error": se,
                             "ci_lower": mu - z * se, "ci_upper": mu + z * se,
                             "n": np.asarray(self.n_per_level, dtype=np.int64)})

    def contrast_result(self, level: Any, reference: Any = None) -> EffectResult:
        """One contrast as an :class:`~causalsm.EffectResult` (``reference`` defaults to
        that of the first contrast of ``level``)."""
        level = str(level)
        for j, (a, b) in enumerate(zip(self.level, self.reference)):
            if a == level and (reference is None or b == str(reference)):
                sign = 1.0
            elif reference is not None and a == str(reference) and b == level:
                sign = -1.0
            else:
                continue
            ci = (sign * self.ci_lower[j], sign * self.ci_upper[j])
            return EffectResult(
                estimand=self.estimand, estimate=float(sign * self.estimate[j]),
                std_error=float(self.std_error[j]), ci_lower=float(min(ci)),
                ci_upper=float(max(ci)),
                p_value=float(self.p_value[j]), method=self.method, variance=self.variance,
                n_treated=self._count(level),
                n_control=self._count(b if sign > 0 else a),
                n_matched=self.n_matched, n_dropped=self.n_dropped, alpha=self.alpha,
                details={"contrast": f"{level} - {b if sign > 0 else a}",
                         "target": self.target})
        raise InputError(f"no contrast of level {level!r}"
                         + ("" if reference is None else f" against {reference!r}")
                         + f" in this result; contrasts: {', '.join(self.contrast)}")

    def _summary_text(self) -> str:
        level = int(round(100 * (1 - self.alpha)))
        who = "all units" if self.target is None else f"units that received {self.target}"
        counts = ", ".join(f"{a}: {int(n)}" for a, n in zip(self.levels, self.n_per_level))
        lines = [f"{'Multi-level matching estimate (' + self.estimand + ')':^78}", "=" * 78,
                 f"Method:    {self.method}", f"Variance:  {self.variance}",
                 f"Averaged over {who}; units per level: {counts}"]
        if self.n_dropped:
            lines.append(f"Trimming:  {self.n_dropped} unit(s) with limited overlap dropped; "
                         f"{self.n_matched} analysed")
        lines += ["-" * 78, f"{'mean of':<16}{'estimate':>12}{'std.err':>12}",
                  *(f"{'Y(' + str(a) + ')':<16}{mu:>12.6g}{se:>12.6g}"
                    for a, mu, se in zip(self.levels, self.means, self.means_std_error)),
                  "-" * 78,
                  f"{'contrast':<16}{'estimate':>11}{'std.err':>10}{'z':>8}{'P>|z|':>8}"
                  f"{'P adj.':>8}{'[' + str(level) + '% conf.':>9}{'int.]':>8}"]
        for j, c in enumerate(self.contrast):
            se = self.std_error[j]
            z = self.estimate[j] / se if se > 0 else float("nan")
            lines.append(f"{c[:16]:<16}{self.estimate[j]:>11.5g}{se:>10.4g}{z:>8.3f}"
                         f"{self.p_value[j]:>8.4f}{self.p_adjusted[j]:>8.4f}"
                         f"{self.ci_lower[j]:>9.5g}{self.ci_upper[j]:>8.5g}")
        lines.append("=" * 78)
        m = len(self.contrast)
        if m > 1 and self.p_adjust == "none":
            lines.append(f"Note: {m} contrasts; p-values and intervals are not adjusted for "
                         "multiple comparisons (p_adjust='holm' or 'bonferroni').")
        elif m > 1:
            ci_note = ("intervals are simultaneous (Bonferroni)"
                       if self.p_adjust == "bonferroni" else "intervals are not adjusted")
            lines.append(f"Note: P adj. corrects for {m} contrasts by {self.p_adjust}; "
                         f"{ci_note}.")
        return "\n".join(lines)

    def _title(self) -> str:
        who = "all units" if self.target is None else f"units that received {self.target}"
        return f"Multi-level matching estimate ({self.estimand}, {who})"

    def plot(self, ax=None):
        """Forest plot of the contrasts with their intervals.  Returns the Axes."""
        import matplotlib.pyplot as plt
        if ax is None:
            _, ax = plt.subplots(figsize=(6.0, max(2.0, 0.45 * len(self.contrast) + 1.0)))
        y = np.arange(len(self.contrast))[::-1]
        err = np.vstack([self.estimate - self.ci_lower, self.ci_upper - self.estimate])
        ax.errorbar(self.estimate, y, xerr=err, fmt="o", color="C0", capsize=3)
        ax.axvline(0.0, color="grey", lw=0.8, ls="--")
        ax.set_yticks(y)
        ax.set_yticklabels(self.contrast)
        ax.set_xlabel(f"{self.estimand} ({int(round(100 * (1 - self.alpha)))}% CI)")
        return ax


# --------------------------------------------------------------------- trimming
def overlap_mask(gps: np.ndarray, rule: str = "crump") -> tuple[np.ndarray, float]:
    """Units with enough overlap, by Crump et al. (2009) extended to several levels.

    With ``g_i = sum_w 1 / r(w, X_i)``, the asymptotic variance bound of the
    population contrasts on the units with ``g < a`` is proportional to
    ``obj(a) = E[g 1{g < a}] / P(g < a)^2``.  ``"crump"`` keeps the units below the
    threshold that minimises it exactly (the ``j`` smallest ``g`` that minimise
    ``sum_{i <= j} g_(i) / j^2``; Crump's fixed point ``a = 2 E[g | g < a]``).
    ``"multilevelmatching"`` keeps ``g < 2 obj(a*)`` as R's ``multilevelMatching``
    (which finds ``a*`` by Nelder-Mead from the median; the exact minimiser is used
    here), a larger threshold.

    Returns
    -------
    (ndarray of bool, float)
        The mask of kept units and the threshold on ``g``.

    Examples
    --------
    >>> gps = np.array([[0.5, 0.5], [0.4, 0.6], [0.02, 0.98], [0.6, 0.4]])
    >>> overlap_mask(gps)[0].tolist()
    [True, True, False, True]
    """
    g = (1.0 / np.asarray(gps, dtype=np.float64)).sum(axis=1)
    if rule not in _TRIM_RULES:
        raise InputError(f"trim must be None or one of {', '.join(_TRIM_RULES)}, got {rule!r}")
    s = np.sort(g)
    n = s.size
    # candidate sets: all units with g <= a distinct value (ties kept together)
    last = np.flatnonzero(np.append(s[1:] != s[:-1], True))
    j = last + 1
    obj = n * np.cumsum(s)[last] / j.astype(float) ** 2
    best = int(np.argmin(obj))
    if rule == "crump":
        threshold = float(s[last[best]])
        return g <= threshold, threshold
    threshold = float(2.0 * obj[best])
    return g < threshold, threshold


# ----------------------------------------------------------------------- helpers
def _metric_rows(S: np.ndarray, rows: np.ndarray, kind: str) -> tuple[np.ndarray, bool]:
    """The score of ``rows`` in the metric of R's ``Match`` over those rows:
    ``("mahalanobis")`` whitened by their covariance, ``("sd")`` left to ``match`` to
    standardise, ``("none")`` as is.  Returns ``(score, standardize)``."""
    if kind == "mahalanobis" and S.shape[1] > 1:
        return CovariateScore(scale="mahalanobis").fit(S[rows]).transform(S[rows]), False
    return S[rows], kind != "none"


def _pairs_order(K: int, ref: int) -> list[tuple[int, int]]:
    """All pairs ``(a, b)`` (contrast ``a - b``) in R's order, the reference first."""
    order = [ref] + [k for k in range(K) if k != ref]
    return [(order[j], order[i]) for i in range(K - 1) for j in range(i + 1, K)]


def _existing_gps(score: Any, n: int, K: int) -> np.ndarray:
    P = np.array(score, dtype=np.float64, copy=True)
    if P.ndim != 2 or P.shape != (n, K):
        raise InputError(f"a generalised propensity score given as an array must have shape "
                         f"({n}, {K}) (units x levels), got {P.shape}")
    if not np.isfinite(P).all() or (P <= 0).any() or (P > 1).any():
        raise InputError("the generalised propensity scores must lie in (0, 1]")
    dev = np.abs(P.sum(axis=1) - 1.0)
    if dev.max() > 1e-8:
        raise InputError(f"row {int(np.argmax(dev))} of the generalised propensity scores "
                         f"sums to {P[int(np.argmax(dev))].sum():.10g}, not 1")
    return P


class _MultilevelBase(BaseEstimator):
    """Validation, score fitting and the result table shared by the two estimators."""

    def _levels(self, t, X, y, min_per_level):
        arr, names, index = check_array(X)
        codes, levels = check_levels(t, name=name_of(t, "treatment"),
                                     min_per_level=min_per_level)
        ya = check_outcome(y, name=name_of(y, "outcome"))
        if not (codes.shape[0] == arr.shape[0] == ya.shape[0]):
            raise InputError(f"X has {arr.shape[0]} rows, the treatment {codes.shape[0]} and "
                             f"the outcome {ya.shape[0]}")
        labels = [str(v) for v in levels]
        if len(set(labels)) != len(labels):
            raise InputError("two treatment levels print the same; relabel them")
        ref = self._position(self.reference, levels, labels, "reference", default=0)
        return arr, names, index, codes, levels, labels, ya, ref

    @staticmethod
    def _position(value, levels, labels, what, default=None):
        if value is None:
            return default
        for k, (lev, lab) in enumerate(zip(levels, labels)):
            if value == lev or str(value) == lab:
                return k
        raise InputError(f"{what} {value!r} is not a treatment level; levels: "
                         f"{', '.join(labels)}")

    def _contrast_rows(self, K: int, ref: int, levels, labels) -> list[tuple[int, int]]:
        spec = self.contrasts
        if isinstance(spec, str):
            if spec == "pairwise":
                return _pairs_order(K, ref)
            if spec == "reference":
                return [(k, ref) for k in range(K) if k != ref]
            raise InputError(f"contrasts must be 'pairwise', 'reference' or a list of "
                             f"(level, reference) pairs, got {spec!r}")
        rows = []
        for item in spec:
            try:
                a, b = item
            except (TypeError, ValueError):
                raise InputError(f"each contrast must be a (level, reference) pair, got "
                                 f"{item!r}") from None
            pa = self._position(a, levels, labels, "contrast level")
            pb = self._position(b, levels, labels, "contrast reference")
            if pa == pb:
                raise InputError(f"contrast {item!r} compares a level with itself")
            rows.append((pa, pb))
        if not rows:
            raise InputError("contrasts is empty")
        return rows

    def _fit_score(self, X, Xin, codes, K, by_level: Any = "auto", rows=None):
        """``(score object or None, S (n, d), by_level)`` fitted on the given rows
        (``rows``: the mask of those rows among all, to subset a given GPS array)."""
        n = X.shape[0]
        spec = self.balancing_score
        if isinstance(spec, (np.ndarray, pd.DataFrame)):
            if rows is None:
                return None, _existing_gps(spec, n, K), True
            return None, _existing_gps(spec, rows.size, K)[rows], True
        if spec is not None and not (hasattr(spec, "fit") and hasattr(spec, "transform")):
            raise InputError(f"score must be a transformer with fit/transform or an (n, K) "
                             f"array of generalised propensity scores, got "
                             f"{type(spec).__name__} (names such as 'neural' are for "
                             "estimate_effect)")
        score = GeneralizedPropensityScore() if spec is None else clone(spec)
        S = np.asarray(score.fit(Xin, codes).transform(Xin), dtype=np.float64).reshape(n, -1)
        if by_level == "auto":
            by_level = score_tags(score).level_probabilities
        elif not isinstance(by_level, (bool, np.bool_)):
            raise InputError(f"score_by_level must be 'auto', True or False, got {by_level!r}")
        if by_level and S.shape[1] != K:
            raise InputError(f"a score used per level needs one column per level ({K}); "
                             f"{type(score).__name__} gives {S.shape[1]}")
        return score, S, bool(by_level)

    def _finish(self, *, estimand, target_label, labels, rows, est, var, mu, mu_var, counts,
                method, vlabel, n_used, n_dropped, details) -> MultilevelEffectResult:
        from statsmodels.stats.multitest import multipletests

        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")
        m = len(rows)
        est = np.asarray(est, dtype=np.float64)
        with np.errstate(invalid="ignore"):
            se = np.where(np.asarray(var) > 0, np.sqrt(np.maximum(var, 0)), np.nan)
            mu_se = np.where(np.asarray(mu_var) > 0, np.sqrt(np.maximum(mu_var, 0)), np.nan)
        p = np.array([wald(e, s, self.alpha)[1] for e, s in zip(est, se)])
        method_p = "none" if self.p_adjust in (None, "none") else str(self.p_adjust)
        alpha_ci = self.alpha
        p_adj = p.copy()
        if method_p != "none":
            ok = np.isfinite(p)
            if ok.any():
                try:
                    p_adj[ok] = multipletests(p[ok], alpha=self.alpha, method=method_p)[1]
                except ValueError as err:
                    raise InputError(f"p_adjust: {err}") from None
            if method_p == "bonferroni":
                alpha_ci = self.alpha / m
        ci = np.array([wald(e, s, alpha_ci)[0] for e, s in zip(est, se)]).reshape(m, 2)
        return MultilevelEffectResult(
            estimand=estimand, target=target_label, levels=list(labels),
            contrast=[f"{labels[a]} - {labels[b]}" for a, b in rows],
            level=[labels[a] for a, _ in rows], reference=[labels[b] for _, b in rows],
            estimate=est, std_error=se.astype(np.float64), ci_lower=ci[:, 0],
            ci_upper=ci[:, 1], p_value=p, p_adjusted=p_adj,
            means=np.asarray(mu, dtype=np.float64), means_std_error=mu_se,
            n_per_level=np.asarray(counts, dtype=np.int64), method=method, variance=vlabel,
            n_matched=int(n_used), n_dropped=int(n_dropped), alpha=float(self.alpha),
            p_adjust=method_p, details=details)


# ---------------------------------------------------------------------- matching
class MultilevelMatching(_MultilevelBase):
    """Matching estimator of the effects of a treatment with K >= 2 levels.

    For every level ``w`` each unit of the target population that did not receive
    ``w`` is matched with replacement to its ``n_neighbors`` nearest units that did
    (Yang et al. 2016); see the module docstring for the estimator and its variances.

    Parameters
    ----------
    balancing_score : transformer, ndarray of shape (n, K) or None
        ``None`` (default) is the multinomial logistic
        :class:`~causalsm.scores.gps.GeneralizedPropensityScore`: level ``w`` is
        matched on ``r(w, X)``.  Any score transformer works: a
        ``GeneralizedPropensityScore(model=classifier)``, the neural balancing score
        (its bottleneck is a balancing score for the GPS; matched as a whole, on SD
        units), its propensity output (``output="propensity"``, used per level),
        :class:`~causalsm.CovariateScore` (``scale="mahalanobis"`` is the Mahalanobis
        matching of R's ``multilevelMatchX``)...  An array is a GPS computed
        elsewhere (R's ``match_on = "existing"``), columns in level order.
        The score is cloned and fitted on ``(X, codes)`` with the levels coded
        ``0 .. K-1``.
    score_by_level : "auto" or bool
        Whether column ``w`` of the score is the score of level ``w`` (a GPS) or the
        whole score is matched on for every level.  ``"auto"``: per level for a
        ``GeneralizedPropensityScore``, a neural score with ``output="propensity"`` and
        an array; whole otherwise.
    target : level or None
        ``None``: contrasts averaged over all units (``E[Y(w) - Y(w')]``, estimand
        ``"ATE"``).  A level ``t``: averaged over the units that received ``t``
        (estimand ``"ATT"``).
    reference : level or None
        The reference level of the contrasts (default: the first level).
    contrasts : {"pairwise", "reference"} or list of (level, reference)
        All ``K(K-1)/2`` pairs (in R's order, ``w_k - w_j`` for ``j < k`` with the
        reference first), each level against the reference, or the pairs listed.
    n_neighbors : int
        Matches per unit (``M``).
    var_neighbors : int
        Same-level neighbours for the conditional variances (``J`` >= 1).
    bias_correction : bool or "auto"
        Abadie-Imbens (2011) regression bias correction; ``"auto"`` turns it on when
        the score matched on has two or more columns.
    adjust : {"covariates", "score"} or list of columns
        Regressors of the bias correction.
    bias_fit : {"auto", "matched", "arm"}
        Sample of the bias-correction regressions (see
        :class:`~causalsm.MatchingEstimator`), decided per level.
    variance : {"auto", "ai", "ai2016"}
        ``"ai"``: Abadie-Imbens (2006); ``"ai2016"``: with the Abadie-Imbens (2016)
        adjustment for the estimated multinomial logistic GPS (default score,
        ``target=None``).  ``"auto"`` is ``"ai2016"`` where it applies, else ``"ai"``.
    trim : {None, "crump", "multilevelmatching"}
        Drop units with limited overlap before estimating (see
        :func:`overlap_mask`); the GPS (the score when it is a GPS, else a multinomial
        logistic one) decides, and the score is refitted on the kept units.
    ties : bool
        Keep matches tied at exactly the same distance (they share the weight of one
        match; default) or break ties at random.
    distance_tolerance : float
        Squared standardised distance within which candidates tie (0: exact ties only,
        as ``multilevelMatching``, whose estimates and variances this class reproduces;
        the binary estimators default to R ``Matching``'s 1e-5).
    alpha : float
        1 - confidence level.
    p_adjust : None, "holm", "bonferroni" or a statsmodels ``multipletests`` method
        Adjustment of the contrasts' p-values for multiple comparisons;
        ``"bonferroni"`` also widens the intervals to be simultaneous.
    random_state : int or None
        Seeds random tie-breaking (``ties=False``).

    Attributes
    ----------
    balancing_score_ : the fitted score (None for an array)
    levels_ : list
        Treatment levels, in order.
    effect_ : MultilevelEffectResult
    imputed_ : pandas.DataFrame
        ``Yhat_i(w)``: one row per unit of the target population, one column per level.
    match_counts_ : ndarray
        ``K_j``: tie-weighted number of times each unit serves as a match.
    weights_ : ndarray
        Matching weights of the units (``1{i in target} + K_i``; 0 for trimmed units).
    kept_ : ndarray of bool
        Units analysed (all but those trimmed).
    sigma2_ : ndarray
        Conditional variance estimates.

    Examples
    --------
    >>> import causalsm as csm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(600, 2))
    >>> w = np.argmax(X @ [[0, 1, -1], [0, 0.5, 0.5]] + rng.gumbel(size=(600, 3)), axis=1)
    >>> y = X.sum(axis=1) + np.array([0.0, 1.0, 2.0])[w] + rng.normal(size=600)
    >>> est = csm.MultilevelMatching().fit(X, w, y)
    >>> est.effect_.contrast
    ['1 - 0', '2 - 0', '2 - 1']
    >>> bool(abs(est.effect_.estimate[1] - 2.0) < 4 * est.effect_.std_error[1])
    True
    """

    def __init__(self, balancing_score=None, *, score_by_level: Any = "auto", target: Any = None,
                 reference: Any = None, contrasts: Any = "pairwise", n_neighbors: int = 1,
                 var_neighbors: int = 1, bias_correction: Any = "auto",
                 adjust: Any = "covariates", bias_fit: str = "auto", variance: str = "auto",
                 trim: str | None = None, ties: bool = True, distance_tolerance: float = 0.0,
                 alpha: float = 0.05, p_adjust: str | None = None, random_state: Any = None):
        self.balancing_score = balancing_score
        self.score_by_level = score_by_level
        self.target = target
        self.reference = reference
        self.contrasts = contrasts
        self.n_neighbors = n_neighbors
        self.var_neighbors = var_neighbors
        self.bias_correction = bias_correction
        self.adjust = adjust
        self.bias_fit = bias_fit
        self.variance = variance
        self.trim = trim
        self.ties = ties
        self.distance_tolerance = distance_tolerance
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.random_state = random_state

    # ------------------------------------------------------------------ fit
    def fit(self, X, t, y):
        """Fit the score, match every unit to every level, estimate.  Returns ``self``.

        ``t`` holds the treatment labels (numbers, strings, a categorical / R factor).
        """
        M = check_int(self.n_neighbors, "n_neighbors")
        J = check_int(self.var_neighbors, "var_neighbors")
        if self.variance not in _VARIANCES:
            raise InputError(f"unknown variance {self.variance!r}; use one of "
                             f"{', '.join(_VARIANCES)}")
        if self.distance_tolerance < 0:
            raise InputError("distance_tolerance must be >= 0")
        arr, names, index, codes, levels, labels, y, ref = self._levels(
            t, X, y, min_per_level=max(M, J + 1, 2))
        K = len(levels)
        tgt = self._position(self.target, levels, labels, "target")
        rows = self._contrast_rows(K, ref, levels, labels)
        rng = np.random.default_rng(check_seed(self.random_state))
        Xframe = X if isinstance(X, pd.DataFrame) else None

        # trimming on the GPS, then the score refitted on the kept units
        kept = np.ones(codes.size, dtype=bool)
        threshold = None
        if self.trim is not None:
            kept, threshold = self._trim(arr, Xframe, codes, K)
            if np.bincount(codes[kept], minlength=K).min() < max(M, J + 1, 2):
                raise InputError("after trimming a treatment level has too few units left "
                                 "to match; use trim=None")
        Xk, ck, yk = arr[kept], codes[kept], y[kept]
        Xin = Xframe.loc[kept] if Xframe is not None and not kept.all() else \
            (Xframe if Xframe is not None else Xk)
        score, S, by_level = self._fit_score(Xk, Xin, ck, K, self.score_by_level, rows=kept)
        if by_level and self.trim is None:
            self._warn_overlap(S)
        kind = "sd"                   # standardised over the rows matched, as R's Match
        Smatch = S
        metric = score_tags(score).covariate_metric
        if metric is not None:                         # R's metric over the rows matched
            kind, Smatch = metric, Xk
        Z = self._regressors(Xk, S, names)
        bc = self.bias_correction
        if bc == "auto":
            bc = (not by_level) and Smatch.shape[1] >= 2
        n = ck.size
        in_T = np.ones(n, dtype=bool) if tgt is None else ck == tgt
        Yhat, Kc, KKc = self._impute(S if by_level else Smatch, by_level, kind, ck, yk, Z,
                                     in_T, tgt, M, bool(bc), rng)
        sigma2 = self._sigma2(Sk_all=(S if by_level else Smatch), by_level=by_level,
                              kind=kind, codes=ck, y=yk, J=J)
        # variances: Abadie-Imbens (2006) per contrast and per mean
        NT = int(in_T.sum())
        cfac = (in_T + Kc) ** 2 - in_T - KKc
        YT = Yhat[in_T]
        mu = YT.mean(axis=0)
        mu_var = np.array([(np.sum((YT[:, k] - mu[k]) ** 2)
                            + np.sum((cfac * sigma2)[ck == k])) / NT ** 2 for k in range(K)])
        all_pairs = _pairs_order(K, ref)
        est_all, var06 = {}, {}
        for a, b in all_pairs:
            d = YT[:, a] - YT[:, b]
            tau = float(d.mean())
            both = (ck == a) | (ck == b)
            v = (np.sum((d - tau) ** 2) + np.sum((cfac * sigma2)[both])) / NT ** 2
            est_all[(a, b)], var06[(a, b)] = tau, v
        details = {"var_neighbors": J, "n_neighbors": M, "bias_correction": bool(bc),
                   "trim_threshold": threshold}
        variance = self.variance
        ai16_ok = by_level and tgt is None and score_tags(score).logistic_propensity
        if variance == "ai2016" and not ai16_ok:
            raise InputError("variance='ai2016' needs the default multinomial logistic "
                             "GeneralizedPropensityScore and target=None")
        if variance == "auto":
            variance = "ai2016" if ai16_ok else "ai"
        adj, mu_adj = {}, np.zeros(K)
        if variance == "ai2016":
            cvec = self._ai2016_c(score, Xk, ck, yk, S, K)
            V = score.vcov_
            for a, b in all_pairs:
                d = cvec[a] - cvec[b]
                adj[(a, b)] = float(d @ V @ d)
            mu_adj = np.array([float(c @ V @ c) for c in cvec])
            details.update({"c_vectors": cvec, "vcov": V})
        sign = {}
        for a, b in rows:
            sign[(a, b)] = ((a, b), 1.0) if (a, b) in est_all else ((b, a), -1.0)
        est = [sign[r][1] * est_all[sign[r][0]] for r in rows]
        v06 = np.array([var06[sign[r][0]] for r in rows])
        var = v06.copy()
        vlabel = (f"Abadie-Imbens (2006), {J} same-level neighbour"
                  + ("s" if J > 1 else "") + " for the conditional variances")
        if variance == "ai2016":
            v16 = np.array([var06[sign[r][0]] - adj[sign[r][0]] for r in rows])
            details["var_ai2016"] = v16
            if (v16 <= 0).any():
                warnings.warn("the Abadie-Imbens (2016) adjusted variance is not positive "
                              "for some contrast; its standard error is NaN (use "
                              "variance='ai')", RuntimeWarning, stacklevel=2)
            var = v16
            mu_var = mu_var - mu_adj
            vlabel += ", with the Abadie-Imbens (2016) adjustment for the estimated GPS"
        details["var_ai2006"] = v06
        self.levels_ = levels
        self.balancing_score_ = score
        self.kept_ = kept
        self.sigma2_ = sigma2
        self.match_counts_ = Kc
        w = np.zeros(codes.size)
        w[kept] = in_T + Kc
        self.weights_ = w
        self.imputed_ = pd.DataFrame(YT, columns=labels, index=index[kept][in_T])
        self._analysed = (arr[kept], names, ck, in_T)
        self.effect_ = self._finish(
            estimand="ATE" if tgt is None else "ATT",
            target_label=None if tgt is None else labels[tgt], labels=labels, rows=rows,
            est=est, var=var, mu=mu, mu_var=mu_var,
            counts=np.bincount(ck, minlength=K),
            method=self._method_label(score, by_level, Smatch.shape[1], M, bool(bc), tgt,
                                      labels),
            vlabel=vlabel, n_used=n, n_dropped=int((~kept).sum()), details=details)
        return self

    # ------------------------------------------------------------ the pieces
    def _impute(self, S, by_level, kind, codes, y, Z, in_T, tgt, M, bc, rng):
        """Match the target units to every level: ``Yhat`` (n, K) (NaN outside the
        target), and each unit's ``K`` and ``K'`` as a match for other levels."""
        n, K = codes.size, int(codes.max()) + 1
        Yhat = np.full((n, K), np.nan)
        Kc, KKc = np.zeros(n), np.zeros(n)
        fits = {}
        for k in range(K):
            own = in_T & (codes == k)
            Yhat[own, k] = y[own]
            focal = in_T & (codes != k)
            if not focal.any():
                continue
            if by_level:
                Sk = S[:, [k]] if tgt is None else (S[:, [k]] / (S[:, [k]] + S[:, [tgt]]))
            else:
                Sk = S
            pos = np.flatnonzero(focal | (codes == k))
            zk, std = _metric_rows(Sk, pos, kind)
            m = match(zk, focal[pos].astype(np.int64), estimand="ATT", n_neighbors=M,
                      ties=bool(self.ties), distance_tolerance=self.distance_tolerance,
                      standardize=std, random_state=rng)
            cand = pos[m.treatment == 0]
            Kc[cand] = m.match_count[m.treatment == 0]
            KKc[cand] = m.match_count_sq[m.treatment == 0]
            f = pos[m.focal_units]
            Yhat[f, k] = m.match_mean(y[pos])
            if bc:
                Yhat[f, k] += self._bias_shift(m, pos, k, codes, y, Z, Kc, fits)
        return Yhat, Kc, KKc

    def _trim(self, arr, Xframe, codes, K):
        if self.trim not in _TRIM_RULES:
            raise InputError(f"trim must be None or one of {', '.join(_TRIM_RULES)}, "
                             f"got {self.trim!r}")
        spec = self.balancing_score
        if isinstance(spec, (np.ndarray, pd.DataFrame)):
            gps = _existing_gps(spec, codes.size, K)
        else:
            score = GeneralizedPropensityScore() if spec is None else clone(spec)
            if not score_tags(score).level_probabilities and self.score_by_level is not True:
                score = GeneralizedPropensityScore()
            Xin = Xframe if Xframe is not None else arr
            gps = np.asarray(score.fit(Xin, codes).transform(Xin), dtype=np.float64)
        kept, threshold = overlap_mask(gps, self.trim)
        dropped = int((~kept).sum())
        if dropped:
            warnings.warn(f"trimming dropped {dropped} of {codes.size} units with limited "
                          f"overlap (sum_w 1/r(w, X) above {threshold:.4g}); the effects "
                          "are averages over the kept units", UserWarning, stacklevel=3)
        return kept, threshold

    @staticmethod
    def _warn_overlap(gps):
        """Warn when over 5% of the units have a GPS below 0.05 / K for some level."""
        K = gps.shape[1]
        share = float((gps.min(axis=1) < 0.05 / K).mean())
        if share > 0.05:
            warnings.warn(f"limited overlap: {100 * share:.0f}% of the units have a generalised "
                          f"propensity score below {0.05 / K:.3g} for some level, so their "
                          "matches at that level are far away; consider trim='crump'",
                          UserWarning, stacklevel=3)

    def _regressors(self, Xk, S, names):
        spec = self.adjust
        if isinstance(spec, str) and spec == "covariates":
            return Xk
        if isinstance(spec, str) and spec == "score":
            return S
        return select_columns(Xk, names, spec, "adjust")

    def _bias_shift(self, m, pos, k, ck, yk, Z, Kc, fits):
        """``(Z_i - mean_j Z_j)' beta_k`` for the matched focal units of level ``k``."""
        if k not in fits:
            arm = ck == k
            bias_fit = self.bias_fit
            if bias_fit == "auto":
                used = int(np.count_nonzero(Kc[arm] > 0))
                bias_fit = "matched" if used >= 10 * (Z.shape[1] + 1) else "arm"
            elif bias_fit not in ("matched", "arm"):
                raise InputError(f"bias_fit must be 'auto', 'matched' or 'arm', got "
                                 f"{bias_fit!r}")
            w = arm * (Kc if bias_fit == "matched" else 1.0)
            fits[k] = _wls_coef(yk, Z, w.astype(float))[1:]
        Zp = Z[pos]
        zbar = np.column_stack([m.match_mean(Zp[:, c]) for c in range(Z.shape[1])])
        return (Zp[m.focal_units] - zbar) @ fits[k]

    def _sigma2(self, Sk_all, by_level, kind, codes, y, J):
        """``J/(J+1) (Y_i - mean of its J nearest same-level units)^2`` (AI 2006, eq. 14).

        Neighbours on the unit's own level's score, in R's metric over that level."""
        n = codes.size
        sigma2 = np.zeros(n)
        centre = float(np.mean(y))
        yc = y - centre
        for k in np.unique(codes):
            own = codes == k
            S = Sk_all[:, [k]] if by_level else Sk_all
            pos = np.flatnonzero(own)
            if kind == "mahalanobis" and S.shape[1] > 1:
                zS = CovariateScore(scale="mahalanobis").fit(S[pos]).transform(S)
            elif kind == "none":
                zS = S
            else:
                sd = S[pos].std(axis=0, ddof=1) if pos.size > 1 else np.ones(S.shape[1])
                zS = (S - S[pos].mean(axis=0)) / np.where(sd > 0, sd, 1.0)
            size, _, s1, _ = same_arm_moments(zS, own.astype(np.int64), J, yc,
                                              distance_tolerance=self.distance_tolerance,
                                              standardize=False)
            others = size[pos] - 1
            mean_others = (s1[pos] - yc[pos]) / np.maximum(others, 1)
            sigma2[pos] = others / (others + 1) * (yc[pos] - mean_others) ** 2
        return sigma2

    @staticmethod
    def _ai2016_c(score, Xk, ck, yk, gps, K):
        """``c_w`` of the Abadie-Imbens (2016) adjustment, one row per level.

        Layout of ``vcov(multinom)``: a block of ``(intercept, covariates)`` per level
        after the first; the intercept coordinate is 0 (no covariance with a constant).
        """
        design = score.design(Xk)
        p = design.shape[1]
        c = np.zeros((K, (K - 1) * p))
        for w in range(K):
            cov = local_covariances(design, (ck == w).astype(np.int64), yk, gps[:, w], arm=1)
            for mlev in range(1, K):
                mult = (w == mlev) - gps[:, mlev]
                c[w, (mlev - 1) * p:mlev * p] = (cov * mult[:, None]).mean(axis=0)
        return c

    def _method_label(self, score, by_level, dim, M, bc, tgt, labels):
        name = "generalised propensity score (array)" if score is None else type(score).__name__
        if by_level:
            on = (f"{name}, level w on r(w, X)" if tgt is None else
                  f"{name}, level w on r(w, X) / (r(w, X) + r({labels[tgt]}, X))")
        else:
            on = f"{name} ({dim}-d)"
        parts = [f"{M}-NN matching with replacement to every level on {on}"]
        if self.trim is not None:
            parts.append(f"trimmed ({self.trim})")
        parts.append("bias-corrected" if bc else "no bias correction")
        return ", ".join(parts)

    # -------------------------------------------------------------- balance
    def balance(self, **kwargs) -> pd.DataFrame:
        """Covariate balance before and after matching, each level against the rest and
        pairwise (see :func:`~causalsm.balance.balance_table`); "after" weighs every
        unit by ``1{target} + K`` (its weight in the imputed means)."""
        from ..balance import balance_table
        if not hasattr(self, "effect_"):
            raise InputError("fit the estimator before asking for balance")
        X, names, codes, _ = self._analysed
        labels = self.effect_.levels
        t = pd.Categorical.from_codes(codes, categories=labels)
        return balance_table(X, t, weights=self.weights_[self.kept_], columns=names, **kwargs)

    def plot_balance(self, comparisons: Any = "pairwise", **kwargs):
        """Love plots, one per comparison (see :func:`~causalsm.plotting.love_plot`).

        Returns
        -------
        ndarray of matplotlib Axes
        """
        from ..plotting import love_plot_grid
        return love_plot_grid(self.balance(comparisons=comparisons), **kwargs)


# ---------------------------------------------------------------- subclassification
def _subclass_means(gps: np.ndarray, codes: np.ndarray, y: np.ndarray, K: int,
                    n_strata: int, weights: bool = False):
    """``mu_w``: subclasses at the quantiles of ``r(w, X)`` (R's ``quantile(type = 2)``,
    intervals ``[q_(s-1), q_s)``, the last closed), level-``w`` mean outcome per
    subclass, weighted by the subclass sizes; empty cells left out.

    With ``weights``, also each unit's weight in the mean of its own level (subclass
    size over the level's units in it, rescaled to sum to the kept subclass sizes)."""
    mu = np.full(K, np.nan)
    unit_w = np.zeros(codes.size)
    probs = np.arange(n_strata + 1) / n_strata
    for w in range(K):
        r = gps[:, w]
        cuts = np.quantile(r, probs, method="averaged_inverted_cdf")
        s = np.searchsorted(cuts[1:-1], r, side="right")
        size = np.bincount(s, minlength=n_strata).astype(float)
        own = codes == w
        nw = np.bincount(s[own], minlength=n_strata)
        sums = np.bincount(s[own], weights=y[own], minlength=n_strata)
        ok = nw > 0
        if ok.any():
            mu[w] = np.sum(size[ok] * sums[ok] / nw[ok]) / size[ok].sum()
            if weights:
                unit_w[own] = (size / np.maximum(nw, 1))[s[own]] * codes.size / size[ok].sum()
    return (mu, unit_w) if weights else mu


class MultilevelSubclassification(_MultilevelBase):
    """Subclassification on the generalised propensity score (Yang et al. 2016).

    For each level ``w`` the units are cut into ``n_strata`` subclasses at the
    quantiles of ``r(w, X)``; ``mu_w`` is the mean outcome of the level-``w`` units in
    each subclass, averaged with weights equal to the subclass sizes (subclasses with
    no level-``w`` unit are left out and the weights renormalised), as R's
    ``multilevelGPSStratification``.  Standard errors come from the nonparametric
    bootstrap: units are resampled, the score is refitted and the estimate recomputed.

    Parameters
    ----------
    balancing_score : transformer, ndarray of shape (n, K) or None
        A generalised propensity score (default: multinomial logistic); every column
        is used per level.  An array is a fixed GPS (not refitted in the bootstrap).
    n_strata : int
        Subclasses per level (5 by default).
    n_bootstrap : int
        Bootstrap replicates for the standard errors.
    reference, contrasts, alpha, p_adjust :
        As in :class:`MultilevelMatching`.
    n_jobs : int
        joblib workers for the bootstrap; results do not depend on it.
    random_state : int or None
        Seeds the bootstrap (each replicate has its own child seed).

    Attributes
    ----------
    balancing_score_, levels_, effect_ :
        As in :class:`MultilevelMatching`.
    bootstrap_ : ndarray, shape (n_bootstrap, K)
        The bootstrap replicates of the level means.
    weights_ : ndarray
        Each unit's weight in the mean of its own level (the units of a level weigh
        ``N`` in all).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> X = rng.normal(size=(500, 2))
    >>> w = np.argmax(X @ [[0, 1, -1], [0, 0.5, 0.5]] + rng.gumbel(size=(500, 3)), axis=1)
    >>> y = X.sum(axis=1) + np.array([0.0, 1.0, 2.0])[w] + rng.normal(size=500)
    >>> sub = MultilevelSubclassification(n_bootstrap=50, random_state=0).fit(X, w, y)
    >>> sub.effect_.contrast
    ['1 - 0', '2 - 0', '2 - 1']
    >>> sub.effect_.variance
    'nonparametric bootstrap (50 replicates, score refitted)'
    >>> bool(np.all(np.abs(sub.effect_.estimate - [1, 2, 1]) < 4 * sub.effect_.std_error))
    True
    """

    def __init__(self, balancing_score=None, *, n_strata: int = 5, n_bootstrap: int = 200,
                 reference: Any = None, contrasts: Any = "pairwise", alpha: float = 0.05,
                 p_adjust: str | None = None, n_jobs: int = 1, random_state: Any = None):
        self.balancing_score = balancing_score
        self.n_strata = n_strata
        self.n_bootstrap = n_bootstrap
        self.reference = reference
        self.contrasts = contrasts
        self.alpha = alpha
        self.p_adjust = p_adjust
        self.n_jobs = n_jobs
        self.random_state = random_state

    def fit(self, X, t, y):
        """Fit the GPS, subclassify, estimate, bootstrap.  Returns ``self``."""
        from joblib import Parallel, delayed

        NS = check_int(self.n_strata, "n_strata")
        B = check_int(self.n_bootstrap, "n_bootstrap", minimum=2)
        arr, names, index, codes, levels, labels, y, ref = self._levels(t, X, y, 1)
        K = len(levels)
        rows = self._contrast_rows(K, ref, levels, labels)
        Xin = X if isinstance(X, pd.DataFrame) else arr
        score, gps, _ = self._fit_score(arr, Xin, codes, K, by_level=True)
        try:
            _existing_gps(gps, codes.size, K)
        except InputError as err:
            raise InputError(f"subclassification needs a generalised propensity score (one "
                             f"probability per level, rows summing to 1): {err}") from None
        mu, self.weights_ = _subclass_means(gps, codes, y, K, NS, weights=True)
        seq = seed_sequence(self.random_state)
        fixed = gps if score is None else None

        def replicate(seed):
            rng = np.random.default_rng(seed)
            idx = rng.integers(0, codes.size, size=codes.size)
            if np.bincount(codes[idx], minlength=K).min() == 0:
                return np.full(K, np.nan)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    if fixed is not None:
                        g = fixed[idx]
                    else:
                        Xb = Xin.iloc[idx] if isinstance(Xin, pd.DataFrame) else Xin[idx]
                        g = np.asarray(clone(score).fit(Xb, codes[idx]).transform(Xb),
                                       dtype=np.float64)
                except (InputError, np.linalg.LinAlgError, ValueError):
                    return np.full(K, np.nan)
            return _subclass_means(g, codes[idx], y[idx], K, NS)

        draws = np.array(Parallel(n_jobs=check_int(self.n_jobs, "n_jobs", minimum=None))(
            delayed(replicate)(s) for s in seq.spawn(B)))
        self.bootstrap_ = draws
        ok = np.isfinite(draws).all(axis=1)
        if ok.sum() < B:
            warnings.warn(f"{B - int(ok.sum())} of {B} bootstrap replicates lacked a level "
                          "and were left out", RuntimeWarning, stacklevel=2)
        D = draws[ok]
        est, var = [], []
        for a, b in rows:
            est.append(float(mu[a] - mu[b]))
            var.append(float(np.var(D[:, a] - D[:, b], ddof=1)) if D.shape[0] > 1 else np.nan)
        mu_var = D.var(axis=0, ddof=1) if D.shape[0] > 1 else np.full(K, np.nan)
        self.levels_ = levels
        self.balancing_score_ = score
        name = "array" if score is None else type(score).__name__
        self.effect_ = self._finish(
            estimand="ATE", target_label=None, labels=labels, rows=rows, est=est, var=var,
            mu=mu, mu_var=mu_var, counts=np.bincount(codes, minlength=K),
            method=f"subclassification on the generalised propensity score ({name}), "
                   f"{NS} subclasses per level",
            vlabel=f"nonparametric bootstrap ({int(ok.sum())} replicates, score refitted)"
            if fixed is None else f"nonparametric bootstrap ({int(ok.sum())} replicates, "
                                  "GPS held fixed)",
            n_used=codes.size, n_dropped=0, details={"n_bootstrap": int(ok.sum())})
        return self
