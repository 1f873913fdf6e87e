"""Average treatment effects by matching: ATT, ATC and ATE with honest standard errors.

The estimator, the bias correction and the Abadie-Imbens variances follow R's
``Matching::Match`` line by line (and reproduce it to 1e-8 on its own test cases):

* bias correction (Abadie & Imbens 2011; ``BiasAdjust=TRUE``): within the arm
  being imputed, a weighted least-squares regression of ``Y`` on ``(1, Z)`` with
  weights ``K_M`` (so only units used as matches count, by how often); each match
  ``Y_j`` is replaced by ``Y_j + (Z_i - Z_j)' alpha``;
* conditional variances ``sigma^2(X_i)``: homoskedastic (``var_neighbors=0``,
  ``Var.calc=0``: half the weighted mean squared deviation of the pair effects) or
  heteroskedastic (``var_neighbors=J``, ``Var.calc=J``: the sample variance of
  ``Y`` over the unit and its ``J`` nearest same-arm units, ties included);
* variances (Abadie & Imbens 2006, Theorems 6-7): the population variance
  ``(1/N^2) sum[(tau_i - tau)^2 + (K^2 + 2K - K') sigma^2]`` (ATE) or
  ``(1/N_1^2) sum[A (tau_i - tau)^2 + (1 - A)(K^2 - K') sigma^2]`` (ATT), and the
  sample (conditional) variance ``(1/N^2) sum (iot_t + iot_c K)^2 sigma^2``.

Other variances: the pair-cluster robust SE (Abadie & Spiess 2022, for matching
without replacement), the Otsu & Rai (2017) wild bootstrap of the bias-corrected
linear form, and the Abadie & Imbens (2016) adjustment for an estimated logistic
propensity score.
"""

from __future__ import annotations

import warnings
from types import SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import has_fit_parameter

from .._validation import (InputError, check_bool, check_estimand, check_int, check_weights,
                           check_xy, select_columns)
from ..inference import multiplier_bootstrap
from ..matching import _jit
from ..matching.nearest import METHODS, match, same_arm_variances
from ..matching.support import common_support, warn_poor_overlap, warn_unmatched
from ..matching.result import MatchResult
from ..scores._tags import resolve_standardize, score_tags
from ..scores.propensity import PropensityScore
from ..sensitivity.evalue import outcome_details
from ..sensitivity.sets import sets_or_reason
from .results import EffectResult, wald

__all__ = ["MatchingEstimator", "matching_effect", "VARIANCES"]

VARIANCES = ("ai", "ai_sample", "ai_ps", "pair_cluster", "wild_bootstrap")
#: Variances of g-computation after matching (``estimation="gcomputation"``).
GCOMP_VARIANCES = ("cluster", "hc3", "cluster_bootstrap")
_TOL = np.sqrt(np.finfo(float).eps)          # R's default `tolerance`
_WIDE = 100                                  # more covariates: bias-correct on the score


def _wls_coef(y: np.ndarray, Z: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Coefficients of ``y ~ 1 + Z`` by least squares with weights ``w`` (R's BiasAdjust).

    Solved on columns centred at their weighted means and scaled to unit weighted SD, then
    mapped back, so that the slopes do not change when a covariate is shifted by 1e9 or
    multiplied by 1e-12 (the plain normal equations lose every digit there).  A column
    that is constant where ``w > 0`` (up to rounding) gets a slope of 0, as R's ``lm``
    gives it no coefficient: scaling its rounding noise to unit SD would multiply the
    other arm's values by ~1e16.  Collinear columns get the minimum-norm solution."""
    sw = np.sqrt(w)
    total = float(w.sum())
    q = Z.shape[1]
    if not total > 0:
        return np.zeros(q + 1)
    centre = (w @ Z) / total
    Zc = Z - centre
    scale = np.sqrt((w @ Zc ** 2) / total)
    varying = scale > 1e3 * np.finfo(float).eps * np.sqrt((w @ Z ** 2) / total)
    xw = np.column_stack([np.ones(len(y)), Zc[:, varying] / scale[varying]]) * sw[:, None]
    A = xw.T @ xw
    b = xw.T @ (y * sw)
    if np.linalg.eigvalsh(A).min() > _TOL * total:
        c = np.linalg.solve(A, b)
    else:                                      # collinear columns: minimum norm
        fit = w > 0
        c = np.linalg.lstsq(xw[fit], (y * sw)[fit], rcond=None)[0]
    slopes = np.zeros(q)
    slopes[varying] = c[1:] / scale[varying]
    return np.concatenate([[c[0] - centre @ slopes], slopes])


def matching_effect(m: MatchResult, y: np.ndarray, Z: np.ndarray | None = None, *,
                    bias_correction: bool = False, var_neighbors: int = 0,
                    sample: bool = False, var_score: np.ndarray | None = None,
                    exact: Any = None, distance_tolerance: float = 1e-5,
                    standardize: bool = True, bias_fit: str = "matched",
                    r_compatible: bool = False) -> dict:
    """Estimate and Abadie-Imbens variance from a :class:`MatchResult`.

    Parameters
    ----------
    m : MatchResult
    y : ndarray, shape (n,)
    Z : ndarray, shape (n, q), optional
        Regressors of the bias correction (required when ``bias_correction``).
    bias_correction : bool
    var_neighbors : int
        ``J`` for the heteroskedastic conditional variances; 0 = homoskedastic.
    sample : bool
        Sample (conditional) variance instead of the population variance.
    var_score : ndarray, optional
        The score used to find same-arm neighbours (defaults to ``m.score``).
    exact, distance_tolerance, standardize :
        Exact strata, tie tolerance and scaling of the same-arm neighbour search (as
        given to :func:`~causalsm.match`).
    bias_fit : {"matched", "arm"}
        Sample of the bias-correction regressions: the units used as matches weighted
        by ``K_M`` (Abadie & Imbens 2011, R's ``BiasAdjust``), or every unit of the arm
        (more stable when few distinct units are matched, as in dsmatch).
    r_compatible : bool
        Reproduce R's ``Match`` where it treats dropped units differently: its variance
        divides by the number of all units of the focal arm and adds ``estimate^2`` for
        each unit a caliper or exact strata dropped, and a unit with fewer than ``J``
        eligible same-arm neighbours gets a conditional variance of 0.  By default the
        variance averages over the matched units, and such a unit uses the neighbours
        it has (the mean conditional variance of its arm when it has none).

    Returns
    -------
    dict with ``estimate``, ``estimate_unadjusted``, ``variance``, ``unit_effect``
    (bias-adjusted effect of each matched focal unit, 0 elsewhere), ``mu0``,
    ``mu1`` (fitted regressions, zero when not fitted), ``sigma2``.
    """
    t = m.treatment
    n = m.n
    K, KK = m.match_count, m.match_count_sq
    focal_arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[m.estimand]
    mu = {0: np.zeros(n), 1: np.zeros(n)}
    coef = {0: None, 1: None}
    if Z is not None:
        Z = np.asarray(Z, dtype=np.float64).reshape(n, -1)
        for arm in (0, 1):
            if (1 - arm) in focal_arms:            # this arm is imputed
                fit_w = K if bias_fit == "matched" else m.unit_weight
                coef[arm] = _wls_coef(y, Z, (t == arm) * fit_w)
                mu[arm] = coef[arm][0] + Z @ coef[arm][1:]
    if bias_correction and Z is None:
        raise InputError("bias correction needs regressors Z")
    # Everything below needs only per-focal-unit means over the matches, never the
    # pairs (with 1-d ties these come from ranges of the sorted candidates).  The
    # effect of focal unit i is sign_i [(Y_i - mean_j Y_j) - (Z_i - mean_j Z_j)' beta]
    # with beta the bias-correction slopes of the arm its matches belong to.
    F = m.focal_units
    sign = 2.0 * t[F] - 1.0
    u = m.unit_weight[F]
    raw_effect = sign * (y[F] - m.match_mean(y))
    est_noadj = float(np.sum(u * raw_effect) / np.sum(u))
    slopes = {arm: (np.zeros(0) if coef[arm] is None else coef[arm][1:]) for arm in (0, 1)}
    if bias_correction:
        Zdiff = Z[F] - np.column_stack([m.match_mean(Z[:, c]) for c in range(Z.shape[1])])
        adj = np.zeros(F.size)
        for arm in (0, 1):                         # arm of the matches: 1 - focal arm
            sel = t[F] == 1 - arm
            if coef[arm] is not None and sel.any():
                adj[sel] = Zdiff[sel] @ slopes[arm]
        effect_f = raw_effect - sign * adj
    else:
        effect_f = raw_effect
    est = float(np.sum(u * effect_f) / np.sum(u))
    unit_effect = np.zeros(n)
    unit_effect[F] = effect_f

    # conditional variances
    if var_neighbors == 0:
        # sum_j share_ij (tau_ij - est)^2 = (effect_i - est)^2 + the spread over j of
        # h_j = Y_j - Z_j' beta (0 for a single match)
        h = y
        if bias_correction:
            Zc = Z - Z.mean(axis=0)
            h = np.where(t == 0, y - Zc @ slopes[0] if coef[0] is not None else y,
                         y - Zc @ slopes[1] if coef[1] is not None else y)
        h = h - float(np.mean(h))
        mean_h, mean_h2 = m.match_moments(h)
        spread = np.maximum(mean_h2 - mean_h ** 2, 0.0)
        per_unit = (effect_f - est) ** 2 + spread
        sigma2 = np.full(n, 0.5 * np.sum(u * per_unit) / np.sum(u))
    else:
        score = m.score if var_score is None else var_score
        weighted = not np.all(m.unit_weight == 1)
        centre = float(np.mean(y))                 # centred sums: no cancellation
        ranked = None if var_score is not None or m.ranges is None else m.ranges.ranked
        members, sigma2 = same_arm_variances(
            score, t, var_neighbors, y - centre, caliper=m.caliper, exact=exact,
            distance_tolerance=distance_tolerance,
            weights=m.unit_weight if weighted else None, standardize=standardize,
            drop_incomplete=r_compatible, ranked=ranked)
        lonely = members <= 1                      # no same-arm neighbour (caliper/strata)
        if lonely.any() and r_compatible:
            sigma2[lonely] = 0.0
        elif lonely.any():
            for arm in (0, 1):
                sel = lonely & (t == arm)
                ok = ~lonely & (t == arm)
                sigma2[sel] = sigma2[ok].mean() if ok.any() else 0.0
        np.maximum(sigma2, 0.0, out=sigma2)

    # Units the estimate averages over.  R counts every unit of the focal arm, even
    # those the caliper dropped (their effect then enters as 0); we average over the
    # matched ones, which is the estimand after dropping.
    arm = np.ones(n) if len(focal_arms) == 2 else (t == focal_arms[0]).astype(float)
    iot_t = m.unit_weight * (arm if r_compatible else m.is_focal)
    iot_c = np.ones(n) if m.estimand == "ATE" else 1.0 - arm
    SN = iot_t.sum()
    sum_samp, sum_pop, sum_dev = _variance_sums(sigma2, K, KK, iot_t, iot_c, unit_effect,
                                                est, m.estimand == "ATE")
    var_sample = sum_samp / SN ** 2
    var_pop = sum_pop / SN ** 2 + sum_dev / SN ** 2
    return {"estimate": est, "estimate_unadjusted": est_noadj,
            "variance": float(var_sample if sample else var_pop),
            "variance_sample": float(var_sample), "variance_population": float(var_pop),
            "unit_effect": unit_effect, "mu0": mu[0], "mu1": mu[1],
            "sigma2": sigma2}


def _variance_sums(sigma2, K, KK, iot_t, iot_c, effect, est, ate) -> tuple:
    """``sum sigma2 (iot_t + iot_c K)^2``, ``sum sigma2 (K^2 + 2K - K')`` (ATE) or
    ``sum sigma2 iot_c (K^2 - K')``, and ``sum iot_t (effect - est)^2``: one compiled
    pass when numba is installed (:func:`causalsm.matching._jit.variance_sums`)."""
    if _jit.AVAILABLE:
        return _jit.variance_sums(sigma2, K, KK, iot_t, iot_c, effect, est, ate)
    w = K * K + 2 * K - KK if ate else iot_c * (K * K - KK)
    return (float(np.sum(sigma2 * (iot_t + iot_c * K) ** 2)), float(np.sum(sigma2 * w)),
            float(np.sum(iot_t * (effect - est) ** 2)))


def influence_terms(m: MatchResult, y: np.ndarray, mu0: np.ndarray, mu1: np.ndarray,
                    estimate: float) -> np.ndarray:
    """Centred linear terms ``phi_i`` of the bias-corrected matching estimator.

    ``phi_i = [1{i matched focal}(mu1 - mu0 - tau + (2A - 1)(Y - mu_A)) +
    (2A - 1) K_M (Y - mu_A)] / N_matched``; they sum to (bias-corrected estimate -
    ``estimate``).  Used by the wild bootstrap (Otsu & Rai 2017).
    """
    t = m.treatment
    resid = y - np.where(t == 1, mu1, mu0)
    sign = 2.0 * t - 1.0
    focal = m.is_focal.astype(float)
    phi = focal * (mu1 - mu0 - estimate + sign * resid) + sign * m.match_count * resid
    return phi / focal.sum()


class MatchingEstimator(BaseEstimator):
    """Matching estimator of the ATT, ATC or ATE on any balancing score.

    Parameters
    ----------
    balancing_score : transformer or None
        Fitted on ``(X, t)`` and used to transform ``X`` into the score matched on.
        ``None`` means :class:`~causalsm.PropensityScore` (logistic, logit scale).
        It is cloned: the object passed is not modified.
    estimand : {"ATT", "ATC", "ATE"}
    n_neighbors : int or "auto"
        Matches per unit (``M``).  ``"auto"`` (default): 1, the Abadie-Imbens and R
        default, except 10 for a score that carries outcome predictions (the neural
        score's prognostic head), whose bias correction removes what the farther
        matches add in bias while they divide the noise of the imputed outcomes (on
        IHDP the ATT error falls from 0.133 with 1 to 0.075 with 10;
        ``benchmarks/README.md``).
    replace : bool
        With (default) or without replacement.
    caliper, caliper_units, ties, order, distance_tolerance, drop_incomplete :
        Passed to :func:`causalsm.match`.
    standardize : bool or "auto"
        Divide each score column by its SD before computing distances (R's ``Match``).
        ``"auto"``: yes, except for a :class:`~causalsm.CovariateScore`, whose output is
        already scaled to the chosen metric.
    exact : list of column names (or positions) of ``X``, optional
        Match only within equal values of these columns.
    bias_correction : bool or "auto"
        Abadie-Imbens (2011) regression bias correction. ``"auto"`` (default)
        switches it on when the score has two or more columns, where matching
        discrepancies bias the estimate at a rate slower than root-n, unless its
        regressors (see ``adjust``) are more than 100 columns (covariate matching
        on wide data: no stable least-squares fit).
    adjust : {"auto", "covariates", "score"} or list of columns
        Regressors of the bias correction (and of the wild bootstrap's regression):
        all covariates (as Abadie & Imbens and R's ``Match``), the score, or named
        columns.  ``"auto"`` (default): the score when it carries outcome predictions
        (the neural score's prognostic head) or when the covariates are wide (sparse,
        or more than 100 columns: a regression on them would be unstable), the
        covariates otherwise.
    bias_fit : {"auto", "matched", "arm"}
        Sample of the bias-correction regression: the matched units weighted by their
        match counts (``"matched"``, Abadie-Imbens 2011 and R's ``BiasAdjust``) or
        all units of the arm (``"arm"``).  ``"auto"`` (default) uses ``"matched"``
        when at least 10 distinct matched units per regressor are available in the
        arm, and ``"arm"`` otherwise (few matched units make that regression
        unstable).
    variance : {"auto", "ai", "ai_sample", "ai_ps", "pair_cluster", "wild_bootstrap"}
        ``"ai"``: Abadie-Imbens population variance (PATE/PATT); ``"ai_sample"``:
        the sample (conditional) variance; ``"ai_ps"``: ``"ai"`` plus the Abadie-Imbens
        (2016) adjustment for a logistic propensity score estimated on ``X``
        (needs the default ``PropensityScore``); ``"pair_cluster"``: cluster-robust
        by matched set (valid without replacement); ``"wild_bootstrap"``: Otsu-Rai
        multiplier bootstrap of the bias-corrected linear form, with a percentile
        interval.  ``"auto"`` (default) is ``"ai"`` with replacement and
        ``"pair_cluster"`` without.  With an ensemble score (a neural score's several
        networks, ``transform_members``) every variance but the wild bootstrap adds the
        networks' training randomness: the jackknife variance over the networks (the
        estimate re-matched on the mean score of every K - 1 of them), or the variance
        of the networks' own estimates / K when the ensemble's score is not their mean
        (``effect_.variance`` says which; ``effect_.details`` holds the estimates).
    var_neighbors : int
        ``J`` same-arm neighbours for the heteroskedastic conditional variance of
        the AI variances (default 1, as recommended by Abadie-Imbens; 0 gives R's
        homoskedastic default ``Var.calc=0``).
    alpha : float
        1 - confidence level.
    n_bootstrap : int
        Replicates for the wild bootstrap.
    n_jobs : int
        joblib workers for the bootstrap (results do not depend on it).
    random_state : int or None
        Seeds tie-breaking, random orders and the bootstrap.
    method : {"nearest", "optimal", "full", "subclass", "cem"}
        The matching design, as MatchIt's ``method``: greedy nearest neighbour (this
        class's original engine), optimal pair / k:1 matching (``n_neighbors`` is the
        ratio), optimal full matching, subclassification on the score (a
        multi-column score is cut on its own propensity logit when it has one, as
        the neural score does) or coarsened exact matching of the covariates.
    estimation : {"auto", "matching", "gcomputation"}
        ``"matching"``: the matching estimator with Abadie-Imbens inference (nearest
        neighbour only); ``"gcomputation"``: an outcome model with treatment
        interactions on the matched data, weighted, averaged over the target
        population (MatchIt's "Estimating Effects After Matching").  ``"auto"``:
        matching for ``"nearest"``, g-computation for the other designs.
    effect_measure : {"difference", "ratio", "odds_ratio"}
        G-computation on a binary outcome: risk difference, risk ratio or odds ratio.
    discard : {"none", "treated", "control", "both"}
        Drop units outside common support of the score before matching.
    reestimate : bool
        After discarding, fit the score again on the units kept (MatchIt).
    mahvars : list of column names, optional
        Match on MatchIt's Mahalanobis distance of these covariates, inside the
        caliper on the score (nearest, optimal and full matching).
    antiexact : list of column names, optional
        Matched units must differ on these covariates.
    min_controls, max_controls : float, optional
        Variable-ratio nearest or optimal matching (around ``n_neighbors``), or the
        bounds of full matching.
    omit_fraction : float, optional
        Full matching: share of the other arm that may stay unmatched.
    n_subclasses, min_n :
        Subclassification: number of strata (or quantile levels) and least number of
        units of each arm per stratum.
    cutpoints, grouping, k2k :
        Coarsened exact matching (see :func:`~causalsm.matching.cem.cem_match`).
    solver : {"auto", "ortools", "highs"}
        Minimum-cost-flow solver of optimal and full matching.

    With ``estimation="gcomputation"`` the ``variance`` is ``"auto"`` (cluster-robust
    by matched set after pair designs, HC3 after full matching, subclassification,
    coarsened exact matching without ``k2k`` and matching with replacement; see
    :func:`~causalsm.estimators.gcomputation.matched_effect` for why full matching
    departs from MatchIt's advice), ``"cluster"``, ``"hc3"`` or
    ``"cluster_bootstrap"`` (``n_bootstrap`` replicates); ``adjust`` names the
    covariates of the outcome model (``None`` for the weighted difference in means).

    Attributes
    ----------
    balancing_score_ : the fitted score
    matches_ : MatchResult
    effect_ : EffectResult

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_lalonde()
    >>> cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    >>> est = csm.MatchingEstimator(estimand="ATT").fit(df[cov], df["treat"], df["re78"])
    >>> round(est.effect_.estimate) > 0
    True
    """

    def __init__(self, balancing_score=None, *, estimand: str = "ATT", n_neighbors: Any = "auto",
                 replace: bool = True, caliper: float | None = None,
                 caliper_units: str = "sd", exact: Any = None, ties: bool = True,
                 order: Any = "data", bias_correction: Any = "auto",
                 adjust: Any = "auto", variance: str = "auto",
                 var_neighbors: int = 1, alpha: float = 0.05, n_bootstrap: int = 1999,
                 n_jobs: int = 1, random_state: Any = None,
                 distance_tolerance: float = 1e-5, standardize: Any = "auto",
                 drop_incomplete: bool = False, bias_fit: str = "auto",
                 method: str = "nearest", estimation: str = "auto",
                 effect_measure: str = "difference", discard: Any = "none",
                 reestimate: bool = False, mahvars: Any = None, antiexact: Any = None,
                 min_controls: Any = None, max_controls: Any = None,
                 omit_fraction: Any = None, n_subclasses: Any = 6, min_n: int = 1,
                 cutpoints: Any = "sturges", grouping: Any = None, k2k: bool = False,
                 solver: str = "auto"):
        self.balancing_score = balancing_score
        self.estimand = estimand
        self.n_neighbors = n_neighbors
        self.replace = replace
        self.caliper = caliper
        self.caliper_units = caliper_units
        self.exact = exact
        self.ties = ties
        self.order = order
        self.bias_correction = bias_correction
        self.adjust = adjust
        self.variance = variance
        self.var_neighbors = var_neighbors
        self.alpha = alpha
        self.n_bootstrap = n_bootstrap
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.distance_tolerance = distance_tolerance
        self.standardize = standardize
        self.drop_incomplete = drop_incomplete
        self.bias_fit = bias_fit
        self.method = method
        self.estimation = estimation
        self.effect_measure = effect_measure
        self.discard = discard
        self.reestimate = reestimate
        self.mahvars = mahvars
        self.antiexact = antiexact
        self.min_controls = min_controls
        self.max_controls = max_controls
        self.omit_fraction = omit_fraction
        self.n_subclasses = n_subclasses
        self.min_n = min_n
        self.cutpoints = cutpoints
        self.grouping = grouping
        self.k2k = k2k
        self.solver = solver

    # ----------------------------------------------------------------- helpers
    def _standardize(self, tags) -> bool:
        return resolve_standardize(self.standardize, tags)

    def _n_neighbors(self, tags) -> int:
        """``n_neighbors`` with ``"auto"`` resolved for the score's tags (checked only
        when ``tags`` is None)."""
        if isinstance(self.n_neighbors, str) and self.n_neighbors == "auto":
            return 1 if tags is None or not tags.prognostic else 10
        return check_int(self.n_neighbors, "n_neighbors")

    def fit(self, X, t, y, sample_weight=None):
        """Fit the score, match, and estimate the effect.  Returns ``self``.

        ``sample_weight`` are survey (sampling) weights, as R's ``Match(weights=)``:
        they weight the score's fit (when it accepts them), the matching and the
        estimate.  They are supported with the ``"ai"`` and ``"ai_sample"`` variances.
        """
        estimand = check_estimand(self.estimand)
        k = self._n_neighbors(None)
        J = check_int(self.var_neighbors, "var_neighbors", minimum=0)
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        estimation = self.estimation
        if estimation == "auto":
            estimation = "matching" if self.method == "nearest" else "gcomputation"
        if estimation not in ("matching", "gcomputation"):
            raise InputError(f"estimation must be 'auto', 'matching' or 'gcomputation', got "
                             f"{self.estimation!r}")
        if estimation == "matching" and self.method != "nearest":
            raise InputError(f"the matching estimator with Abadie-Imbens inference is for "
                             f"nearest-neighbour matching; after method={self.method!r} use "
                             "estimation='gcomputation' (the default)")
        if estimation == "gcomputation":
            return self._fit_design(X, t, y, sample_weight, estimand)
        variance = self.variance
        if variance == "auto":
            variance = "ai" if self.replace else "pair_cluster"
        if variance not in VARIANCES:
            raise InputError(f"unknown variance {self.variance!r}; use 'auto' or one of "
                             f"{', '.join(VARIANCES)}")
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")
        if sample_weight is not None and variance not in ("ai", "ai_sample"):
            raise InputError(f"sample_weight is supported with variance 'ai' or 'ai_sample', "
                             f"not {variance!r}")
        d = self._design(X, t, y, sample_weight, estimand)
        data, Xin, score, tags, S, m = d.data, d.Xin, d.score, d.tags, d.S, d.m
        k, exact, standardize = d.k, d.exact, d.standardize
        bc = check_bool(self.bias_correction, "bias_correction", also=("auto",))
        if variance == "wild_bootstrap":
            if bc is False:
                raise InputError("the wild bootstrap (Otsu & Rai 2017) is valid for the "
                                 "bias-corrected estimator: use bias_correction=True or 'auto'")
            bc = True
        elif bc == "auto":                     # resolved below, once Z is known
            pass
        adjust, Z = self._adjustment(data, S, tags)
        if isinstance(bc, str) and bc == "auto":
            bc = S.shape[1] >= 2 and Z is not None and Z.shape[1] <= _WIDE
        if bc and Z is None:
            raise InputError("bias_correction needs regressors: set adjust to 'auto', "
                             "'score', 'covariates' or a list of columns")
        details = {}
        bias_fit = self.bias_fit
        if bias_fit not in ("auto", "matched", "arm"):
            raise InputError(f"bias_fit must be 'auto', 'matched' or 'arm', got {bias_fit!r}")
        if bc and bias_fit == "auto":
            used = np.bincount(data.t[m.match_count > 0], minlength=2)
            imputed = [a for a in (0, 1) if used[a] > 0]
            bias_fit = "matched" if min(used[a] for a in imputed) >= 10 * (Z.shape[1] + 1) \
                else "arm"
        details["bias_fit"] = bias_fit if bc else None
        details["adjust"] = (adjust if isinstance(adjust, str) else list(adjust)) if bc else None

        def effect(m_, Z_):          # without bias correction no regression is needed
            return matching_effect(m_, data.y, Z_ if bc else None, bias_correction=bool(bc),
                                   var_neighbors=J,
                                   sample=(variance == "ai_sample"), exact=exact,
                                   distance_tolerance=self.distance_tolerance,
                                   standardize=standardize, bias_fit=bias_fit)

        res = effect(m, Z)
        est = res["estimate"]
        details.update({"estimate_unadjusted": res["estimate_unadjusted"],
                        "caliper": None if m.caliper is None else m.caliper.tolist(),
                        "n_pairs": m.n_pairs, "var_neighbors": J})
        se, ci, p, vlabel = self._inference(variance, m, res, data, Z, J, details,
                                            lambda: self._ps_adjustment(score, Xin, data, S,
                                                                        est))
        members = _member_scores(score, Xin, tags, data.n)
        if members is not None and variance != "wild_bootstrap":
            se, vlabel = self._network_variance(
                members, S, se, vlabel, details,
                lambda S_: effect(d.matches(S_), S_ if adjust == "score" else Z))
            ci, p = wald(est, se, self.alpha)
        if not se > 0:                         # 0 or NaN: nothing to estimate it from
            n1 = int(data.t.sum())
            warnings.warn(f"the standard error cannot be estimated here ({vlabel} gives "
                          f"{se:g}; the arms have {n1} and {data.n - n1} units): it is "
                          "reported as NaN", RuntimeWarning, stacklevel=2)
            se, ci, p = np.nan, (np.nan, np.nan), np.nan
        t_arr = data.t
        details.update(outcome_details(data.y, data.t, m.weights))
        self.balancing_score_ = score
        self.matches_ = m
        self._data = data
        self.effect_ = EffectResult(
            estimand=estimand, estimate=est, std_error=float(se),
            ci_lower=float(ci[0]), ci_upper=float(ci[1]), p_value=float(p),
            method=self._method_label(score, S.shape[1], k, bool(bc)), variance=vlabel,
            n_treated=int(t_arr.sum()), n_control=int((1 - t_arr).sum()),
            n_matched=m.n_matched, n_dropped=m.n_dropped, alpha=self.alpha, details=details,
            _sets=sets_or_reason(m, data.y),
            _interval="fixed" if variance == "wild_bootstrap" else "wald")
        return self

    # ------------------------------------------------------------- designs
    def match(self, X, t, sample_weight=None) -> MatchResult:
        """The design alone: fit the score and match, without an outcome (as MatchIt's
        ``matchit``).  The matches are those :meth:`fit` makes with the same settings;
        :meth:`balance` reports on them.  Returns the :class:`~causalsm.MatchResult`
        (also in ``matches_``; the score in ``balancing_score_``).

        Examples
        --------
        >>> import causalsm as csm
        >>> df = csm.datasets.load_lalonde()
        >>> m = csm.MatchingEstimator().match(df[["age", "educ", "re74", "re75"]], df.treat)
        >>> m.n_matched, int((m.weights > 0).sum()) > 185
        (185, True)
        """
        estimand = check_estimand(self.estimand)
        if self.method not in METHODS:
            raise InputError(f"unknown method {self.method!r}; use one of {', '.join(METHODS)}")
        gcomputation = self.method != "nearest"
        if sample_weight is not None and gcomputation:
            raise InputError(f"sample_weight is not supported with method={self.method!r}")
        d = self._design(X, t, None, sample_weight, estimand, gcomputation=gcomputation)
        self.__dict__.pop("effect_", None)        # no effect goes with these matches
        self.balancing_score_, self.matches_, self._data = d.score, d.m, d.data
        return d.m

    def _design(self, X, t, y, sample_weight, estimand, gcomputation=False):
        """The design stage of :meth:`fit` and :meth:`match`: validate, fit the score
        (and its common support), match by ``method``.  ``y`` may be None (a score that
        learns from the outcome then says it needs one).  With ``gcomputation`` the
        covariates are dense and a DataFrame (the outcome model's and CEM's input).
        Returns a namespace: ``data, Xin, score, tags, k, S, exact, standardize, m`` and
        ``matches`` (the matching as a function of a score, to re-match on another)."""
        data = check_xy(X, t, y, min_per_arm=1, accept_sparse=not gcomputation)
        Xin = X if isinstance(X, pd.DataFrame) else (
            pd.DataFrame(data.X, columns=data.columns, index=data.index) if gcomputation
            else data.X)
        sample_weight = check_weights(sample_weight, data.n)
        score = PropensityScore() if self.balancing_score is None else clone(self.balancing_score)
        tags = score_tags(score)
        k = self._n_neighbors(tags)
        S = fit_score(score, Xin, data.t, data.y if tags.uses_outcome else None,
                      sample_weight).reshape(data.n, -1)
        score, S, discarded = self._support(score, Xin, data, S, sample_weight, tags)
        standardize = self._standardize(tags)
        exact = (None if self.exact is None
                 else select_columns(data.X, data.columns, self.exact, "exact"))
        common = {"estimand": estimand, "index": data.index}
        method = self.method if gcomputation else "nearest"

        def matches(S_):
            if method == "cem":
                return match(Xin, data.t, method="cem", cutpoints=self.cutpoints,
                             grouping=self.grouping, k2k=self.k2k, **common)
            if method == "subclass":
                return match(self._ordering_score(score, Xin, S_), data.t, method="subclass",
                             n_subclasses=self.n_subclasses, min_n=self.min_n,
                             discard=discarded, **common)
            opts = self._nearest_options(data)
            if method == "nearest":
                return match(S_, data.t, n_neighbors=k, replace=self.replace,
                             caliper=self.caliper, caliper_units=self.caliper_units,
                             exact=exact, ties=self.ties, order=self.order,
                             random_state=self.random_state,
                             distance_tolerance=self.distance_tolerance,
                             standardize=standardize, weights=sample_weight,
                             drop_incomplete=self.drop_incomplete, discard=discarded,
                             **opts, **common)
            if method == "full":
                opts.update({"omit_fraction": self.omit_fraction,
                             "min_controls": self.min_controls,
                             "max_controls": self.max_controls})
                opts = {k_: v for k_, v in opts.items() if v is not None}
            return match(S_, data.t, method=method, n_neighbors=k, caliper=self.caliper,
                         caliper_units=self.caliper_units, exact=exact,
                         standardize=standardize, discard=discarded, solver=self.solver,
                         **opts, **common)

        m = matches(S)
        warn_poor_overlap(score, Xin, data.t, S)
        warn_unmatched(m)
        return SimpleNamespace(data=data, Xin=Xin, score=score, tags=tags, k=k, S=S,
                               exact=exact, standardize=standardize, matches=matches, m=m)

    def _support(self, score, Xin, data, S, sample_weight, tags):
        """Common support (``discard``) and MatchIt's ``reestimate``: the score refitted
        on the units kept.  Returns ``(score, S, discarded)``."""
        discarded = common_support(S, data.t, self.discard)
        if discarded.any() and self.reestimate:
            keep = ~discarded
            Xk = Xin.iloc[keep] if isinstance(Xin, pd.DataFrame) else Xin[keep]
            score = clone(score)
            fit_score(score, Xk, data.t[keep],
                      data.y[keep] if tags.uses_outcome and data.y is not None else None,
                      None if sample_weight is None else np.asarray(sample_weight)[keep])
            S = np.asarray(score.transform(Xin), dtype=np.float64).reshape(data.n, -1)
        return score, S, discarded

    def _nearest_options(self, data) -> dict:
        """mahvars, antiexact and variable ratio, as covariate columns."""
        out = {}
        if self.mahvars is not None:
            out["mahvars"] = select_columns(data.X, data.columns, self.mahvars, "mahvars")
        if self.antiexact is not None:
            out["antiexact"] = select_columns(data.X, data.columns, self.antiexact, "antiexact")
        if self.max_controls is not None:
            out["min_controls"], out["max_controls"] = self.min_controls, self.max_controls
        return out

    def _fit_design(self, X, t, y, sample_weight, estimand):
        """Match by ``method`` and estimate the effect by g-computation."""
        from .gcomputation import matched_effect
        if sample_weight is not None:
            raise InputError("sample_weight is not supported with g-computation after "
                             "matching")
        variance = {"auto": "auto", "cluster": "cluster", "hc3": "hc3",
                    "cluster_bootstrap": "bootstrap"}.get(self.variance)
        if variance is None:
            raise InputError(f"variance {self.variance!r} is not one of g-computation's: "
                             f"'auto', {', '.join(map(repr, GCOMP_VARIANCES))}")
        d = self._design(X, t, y, None, estimand, gcomputation=True)
        data, score, tags, S, m = d.data, d.score, d.tags, d.S, d.m
        method = self.method
        _, Z = self._adjustment(data, S, tags)
        res = matched_effect(m, data.y, Z, effect=self.effect_measure, vcov=variance,
                             alpha=self.alpha, n_bootstrap=self.n_bootstrap,
                             random_state=self.random_state, n_jobs=self.n_jobs,
                             method=self._design_label(score, S.shape[1], method))
        if m.caliper is not None:
            res.details["caliper"] = m.caliper.tolist()
        res.details.update({k_: v for k_, v in m.info.items()
                            if isinstance(v, (int, float, str)) and v is not None})
        res.details["n_discarded"] = int(m.discarded.sum())
        res.details.update(outcome_details(data.y, data.t, m.weights))
        res._sets = sets_or_reason(m, data.y)
        self.balancing_score_ = score
        self.matches_ = m
        self._data = data
        self.effect_ = res
        return self

    def _adjustment(self, data, S, tags) -> tuple:
        """``(adjust resolved, regressors)``: the bias correction's or the outcome
        model's regressors named by ``adjust`` (None: none)."""
        adjust = self.adjust
        if adjust is None:
            return None, None
        if isinstance(adjust, str) and adjust == "auto":
            adjust = "score" if tags.prognostic or _wide(data.X) else "covariates"
        if isinstance(adjust, str) and adjust == "covariates":
            return adjust, data.X.toarray() if sp.issparse(data.X) else data.X
        if isinstance(adjust, str) and adjust == "score":
            return adjust, S
        return adjust, select_columns(data.X, data.columns, adjust, "adjust")

    @staticmethod
    def _ordering_score(score, Xin, S) -> np.ndarray:
        """A 1-d score for subclassification: the score itself, or for a multi-column
        score its model's propensity logit (the neural network's)."""
        if S.shape[1] == 1:
            return S[:, 0]
        for name in ("logit", "linear_predictor"):
            if hasattr(score, name):
                return np.asarray(getattr(score, name)(Xin), dtype=np.float64).ravel()
        raise InputError(f"subclassification needs a one-dimensional score; "
                         f"{type(score).__name__} has {S.shape[1]} columns and no propensity "
                         "logit")

    def _design_label(self, score, dim: int, method: str) -> str:
        name = type(score).__name__
        what = {"nearest": f"{self.n_neighbors}-NN matching "
                           f"{'with' if self.replace else 'without'} replacement",
                "optimal": f"optimal {self.n_neighbors}:1 matching",
                "full": "optimal full matching",
                "subclass": "subclassification",
                "cem": "coarsened exact matching"}[method]
        return what if method == "cem" else f"{what} on {name} ({dim}-d)"

    @staticmethod
    def _network_variance(members, S, se, vlabel, details, effect):
        """``se`` with the networks' training randomness added.  The ensemble matches on
        the mean of its K networks' scores; when ``S`` is that mean, the variance over
        the networks is the jackknife's: the estimate on the mean of every K - 1
        networks, ``(K - 1) / K * sum (est_(-k) - mean)^2`` (in the seed pilot of
        ``benchmarks/highdim_seeds.py`` within 0.8-1.25x of the seed SD, where the
        between-network variance / K, which treats the estimate as a mean of the
        networks' own estimates, was 0.57-0.94x).  Otherwise (an ensemble whose score is
        not the mean of its members'), the variance of the networks' own estimates / K."""
        K = len(members)
        if np.allclose(members.mean(axis=0), np.asarray(S, dtype=np.float64).reshape(
                members.shape[1:]), rtol=1e-6, atol=1e-9):
            total = members.sum(axis=0)
            loo = np.array([effect((total - Sk) / (K - 1))["estimate"] for Sk in members])
            var = float((K - 1) / K * np.sum((loo - loo.mean()) ** 2))
            details.update({"network_jackknife_estimates": loo.tolist(),
                            "network_jackknife_sd": float(np.sqrt(var))})
            return (float(np.sqrt(se ** 2 + var)),
                    vlabel + f" + jackknife variance over {K} networks")
        own = np.array([effect(Sk)["estimate"] for Sk in members])
        between = float(np.var(own, ddof=1))
        details.update({"network_estimates": own.tolist(),
                        "between_network_sd": float(np.sqrt(between))})
        return (float(np.sqrt(se ** 2 + between / K)),
                vlabel + f" + between-network variance / {K}")

    def _inference(self, variance, m, res, data, Z, J, details, ps_adjustment):
        """Standard error, interval, p-value and label of the chosen variance."""
        est = res["estimate"]
        sigma = self._sigma_label(J)
        if variance in ("ai", "ai_sample", "ai_ps"):
            v = res["variance"]
            label = (f"Abadie-Imbens {'sample' if variance == 'ai_sample' else 'population'}"
                     f" variance ({sigma})")
            if variance == "ai_ps":
                v = max(v + ps_adjustment(), 0.0)
                label += (" with the Abadie-Imbens (2016) adjustment for the estimated "
                          "propensity score")
            se = float(np.sqrt(v))
            return (se, *wald(est, se, self.alpha), label)
        if variance == "pair_cluster":
            se = _pair_cluster_se(m, res["unit_effect"], est)
            return (se, *wald(est, se, self.alpha),
                    "cluster-robust by matched set (HC1, G/(G-1))")
        # Wild bootstrap.  Residuals from an ordinary (unweighted) within-arm regression:
        # the K-weighted fit of the bias correction pulls the line towards heavily
        # reused matches and so shrinks exactly the residuals that matter most.
        design = np.column_stack([np.ones(data.n), Z])
        mu0, mu1 = (design @ _wls_coef(data.y, Z, (data.t == a).astype(float))
                    for a in (0, 1))
        lin = float(np.sum(influence_terms(m, data.y, mu0, mu1, 0.0)))
        phi = influence_terms(m, data.y, mu0, mu1, lin)
        draws = multiplier_bootstrap(phi, n_replicates=check_int(self.n_bootstrap,
                                                                 "n_bootstrap", minimum=2),
                                     random_state=self.random_state, n_jobs=self.n_jobs)
        lo, hi = np.quantile(draws, [self.alpha / 2, 1 - self.alpha / 2])
        p = float((1 + np.sum(np.abs(draws) >= abs(est))) / (1 + draws.size))
        details["n_bootstrap"] = int(draws.size)
        return (float(draws.std(ddof=1)), (est - hi, est - lo), p,
                f"Otsu-Rai wild bootstrap ({draws.size} Rademacher replicates)")

    @staticmethod
    def _sigma_label(J: int) -> str:
        return ("homoskedastic conditional variance" if J == 0 else
                f"heteroskedastic conditional variance, {J} same-arm neighbour"
                + ("s" if J > 1 else ""))

    def _method_label(self, score, dim: int, k: int, bc: bool) -> str:
        name = type(score).__name__
        how = "with" if self.replace else "without"
        parts = [f"{k}-NN matching {how} replacement on {name} ({dim}-d)"]
        if self.caliper is not None:
            parts.append(f"caliper {self.caliper} {self.caliper_units}")
        if self.exact is not None:
            parts.append("exact strata")
        parts.append("bias-corrected" if bc else "no bias correction")
        return ", ".join(parts)

    def _ps_adjustment(self, score, Xin, data, S, est) -> float:
        from .ps_adjustment import ps_adjustment
        tags = score_tags(score)
        if not tags.logistic_propensity or tags.level_probabilities:
            raise InputError("variance='ai_ps' needs a binary logistic propensity score "
                             "fitted by maximum likelihood (the default PropensityScore)")
        ps = score.propensity(Xin)
        full = match(S, data.t, estimand="ATE",
                     n_neighbors=self._n_neighbors(score_tags(score)),
                     distance_tolerance=self.distance_tolerance, index=data.index,
                     ties=self.ties, random_state=self.random_state)
        imputed = np.zeros(data.n)
        imputed[full.focal_units] = full.match_mean(data.y)
        y1 = np.where(data.t == 1, data.y, imputed)
        y0 = np.where(data.t == 0, data.y, imputed)
        return float(ps_adjustment(score.design(data.X), data.t, data.y, ps,
                                   estimand=check_estimand(self.estimand), y1_hat=y1,
                                   y0_hat=y0, tau=est))

    def balance(self, **kwargs) -> pd.DataFrame:
        """Balance of the covariates before and after matching (see :func:`balance_table`)."""
        from ..balance import balance_table
        if not hasattr(self, "matches_"):
            raise InputError("fit the estimator before asking for balance")
        kwargs.setdefault("estimand", self.matches_.estimand)
        X = self._data.X.toarray() if sp.issparse(self._data.X) else self._data.X
        return balance_table(X, self._data.t, weights=self.matches_.weights,
                             columns=self._data.columns, **kwargs)


def _member_scores(score, Xin, tags, n: int):
    """The scores of a stochastic score's members ((K, n, d), K >= 2; a neural score's
    networks, see ``transform_members``), or None."""
    if not tags.stochastic or not hasattr(score, "transform_members"):
        return None
    members = np.asarray(score.transform_members(Xin), dtype=np.float64)
    return members.reshape(members.shape[0], n, -1) if members.shape[0] >= 2 else None


def _wide(X) -> bool:
    """Covariates too wide to regress on in the bias correction."""
    return sp.issparse(X) or X.shape[1] > _WIDE


def fit_score(score, X, t: np.ndarray, y: np.ndarray | None = None,
              sample_weight=None) -> np.ndarray:
    """Fit ``score`` and return the score of the fitted units as a float array.

    Uses ``fit_transform`` when the score has it (a cross-fitted score gives each
    unit its held-out value there; a ``FrozenEstimator`` has none and is only
    transformed); the outcome ``y`` is passed as ``outcome=`` when given, ``sample_weight``
    when ``fit`` takes it.
    """
    kw = {}
    if sample_weight is not None and has_fit_parameter(score, "sample_weight"):
        kw["sample_weight"] = np.asarray(sample_weight, dtype=np.float64)
    if y is not None:
        kw["outcome"] = y
    if hasattr(score, "fit_transform"):
        S = score.fit_transform(X, t, **kw)
    else:
        S = score.fit(X, t, **kw).transform(X)
    return np.asarray(S, dtype=np.float64)


def _pair_cluster_se(m: MatchResult, unit_effect: np.ndarray, est: float) -> float:
    """Cluster-robust SE of the weighted mean difference, clustered by matched set.

    Equals ``sandwich::vcovCL(lm(Y ~ T, weights), cluster = ~subclass)`` (HC1 with
    ``G/(G-1)``) on MatchIt's matched data for 1:k matching.  ``unit_effect`` holds
    each matched set's mean pair effect.
    """
    D = unit_effect[m.focal_units]
    G = D.size
    rows = G + m.n_pairs
    if G < 2:
        return float("nan")
    v = np.sum((D - est) ** 2) / G ** 2 * G / (G - 1) * (rows - 1) / (rows - 2)
    return float(np.sqrt(v))
