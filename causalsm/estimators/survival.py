"""Marginal hazard ratio after matching, with valid inference.

The estimator (Wang, Zhao, Yang, Tang, Cui, Li & Faries, *Propensity score matching
for estimating a marginal hazard ratio*, Statistics in Medicine 2024, arXiv
1911.12430): match each unit to ``M`` units of the other arm on a balancing score,
with replacement, *impute* the missing arm's counting and at-risk processes by the
average over the matches, and solve the Cox partial-likelihood score equation of
the treatment alone on the imputed data.  That equation is exactly the weighted Cox
score on the observed data with

* ``w_i = 1 + K_i / M`` for the ATE (every unit is focal), and
* ``w_i = 1`` for the treated and ``w_i = K_i / M`` for the controls for the ATT,

``K_i`` the number of times unit ``i`` is used as a match (tied matches share one
match: ``K_i / M`` is :attr:`MatchResult.match_count`), so :attr:`MatchResult.weights`
are the weights.  Ties in event times are handled by Breslow's rule (the imputed
processes give that rule; R: ``coxph(..., ties = "breslow")``; lifelines' Cox model
uses Efron's rule, which agrees when no event times are tied).

The weighted one-covariate Cox fit, its information and the score residuals are
computed by an exact Newton solver (:func:`~causalsm.estimators.cox.cox_fit`,
O(n log n)), checked against ``survival::coxph`` (R, to 1e-10) and lifelines'
``CoxPHFitter`` in the tests; it is fast enough to sit inside bootstrap loops.

Variances (``variance=``; see :class:`MatchedHazardRatio`):

``"pair_cluster"``
    Cluster-robust sandwich clustered on matched sets, on the one-row-per-unit-per-
    matched-set data (MatchIt's ``get_matches()``): R's ``coxph(Surv(time, event) ~
    treat, weights = weights, cluster = subclass)``.  Without replacement this is the
    MatchIt vignette's recommendation.
``"robust"``
    The same sandwich clustered on units (``coxph(..., robust = TRUE)`` on
    ``match.data()``): the matching weights treated as fixed.
``"austin_cafri"``
    Austin & Cafri (2020) for matching with replacement:
    ``V = k_s/(k_s-1) V_subclass + k_i/(k_i-1) V_id - k_c/(k_c-1) V_rows``
    (matched sets, units, rows), each ``V`` a robust Cox variance clustered as named.
``"linearized"``
    The matching-estimator linearization of the imputed score (spec §5.3):
    ``phi_i = 1{i focal}[l_i + m_{1-A_i}(S_i)] + K_i/M [l_i - m_{A_i}(S_i)]``, ``l_i``
    unit ``i``'s Cox score residual and ``m_a(s) = E[l | S = s, A = a]`` (a quadratic
    regression on the score within arm ``a``), ``V = sum (phi_i - mean)^2 / I^2``:
    the Abadie-Imbens-type variance with the score held fixed.
``"double_resampling"``
    *Reconstruction* (the paper's algorithm could not be retrieved; see
    ``specs/matching-estimators.md`` §5.3) of a variance that also accounts for
    estimating the score: an outer layer refits the score with exponential(1)
    perturbation weights and re-matches; for each outer draw an inner multiplier
    (Rademacher) bootstrap of ``phi`` with the matching held fixed gives the
    conditional variance; the law of total variance adds the mean inner variance and
    the variance of the outer log-HRs.  Conservative in the benchmark (SE 10-34% too
    large): the outer layer re-matches, so the spread of its log-HRs counts the
    matching noise a second time.
``"bootstrap"``
    Resample units, refit the score, re-match, refit the Cox model; the SD of the
    replicate log-HRs (Wald interval on the log scale; the percentile interval is in
    ``details``).

Several fits of the score (``n_score_fits=K``; five by default for a neural score): a
network's training randomness (its seed) moves the log-HR nearly as much as sampling
does.  The score is fitted ``K`` times with seeds drawn from ``random_state``, each fit
is matched on and Cox-fitted, and the log-HRs are averaged.  A closed-form variance is
then that of the averaged estimating equation (each fit's cluster contributions
``w l / I`` averaged over the fits before squaring: the fits share units, and the noise
of their different matchings partly averages out) plus the between-fit variance of the
log-HR divided by ``K`` (what is left of the seeds' randomness).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, clone
from sklearn.utils.validation import has_fit_parameter

from .._validation import (InputError, check_array, check_estimand, check_int,
                           check_survival, check_treatment, name_of, seed_sequence,
                           select_columns)
from ..inference import multiplier_bootstrap
from ..matching.nearest import match
from ..matching.result import MatchResult
from ..matching.support import warn_poor_overlap, warn_unmatched
from ..scores._tags import resolve_standardize, score_tags
from ..scores.propensity import PropensityScore
from .cox import CoxFit, cox_fit, rmst
from .results import EffectResult, Result, wald

__all__ = ["MatchedHazardRatio", "HazardRatioResult", "VARIANCES"]

VARIANCES = ("pair_cluster", "robust", "austin_cafri", "linearized", "double_resampling",
             "bootstrap")
DEFAULT_VARIANCE = "auto"
_LABELS = {"pair_cluster": "robust sandwich clustered on matched sets "
                           "(coxph weights + cluster = subclass)",
           "robust": "robust sandwich clustered on units (coxph robust = TRUE)",
           "austin_cafri": "Austin-Cafri (2020) robust variance for matching with "
                           "replacement (matched sets + units - rows)",
           "linearized": "linearized imputed Cox score (matching held fixed, score treated "
                         "as known)"}
_CLOSED_FORM = (*_LABELS, "model")       # se_<name> of every fit, in ``details``


class _ScoreFit(NamedTuple):
    """One fit of the score and what follows from it (see ``n_score_fits``)."""
    score: Any
    S: np.ndarray
    matches: MatchResult
    cox: "CoxFit"
    phi: np.ndarray


def _is_stochastic(score) -> bool:
    """A score whose fits differ by seed (the neural score declares it)."""
    return score is not None and score_tags(score).stochastic


# ============================================================================ result
@dataclass
class HazardRatioResult(Result):
    """A marginal hazard ratio estimated on matched data.

    Attributes
    ----------
    estimand : str
        ``"ATE"`` (marginal HR in the whole population), ``"ATT"`` (in the treated)
        or ``"ATC"``.
    estimate : float
        The hazard ratio (also ``hazard_ratio``; ``log_hr`` is its logarithm, the Cox
        coefficient of the treatment).
    std_error : float
        Standard error of ``log_hr`` (the interval and the p-value are Wald on the log
        scale).
    ci_lower, ci_upper : float
        Interval for the hazard ratio at level ``1 - alpha`` (:meth:`conf_int` at any
        level).
    p_value : float
        Two-sided, for the null ``HR = 1``.
    n_treated, n_control : int
        Units in each arm of the data (as in every result).
    n_matched, n_dropped : int
        Focal units matched, and dropped by the caliper or exact strata.
    n_treated_matched, n_control_matched : int
        Units of each arm in the matched sample (positive weight).
    events_treated, events_control : int
        Events among them.
    method, variance : str
        How the estimate and the standard error were made.
    alpha : float
    details : dict
        Extra numbers: every cheap variance's SE, replicates, resolved caliper...
    """

    estimand: str
    estimate: float
    std_error: float
    ci_lower: float
    ci_upper: float
    p_value: float
    n_treated: int
    n_control: int
    n_matched: int
    n_dropped: int
    n_treated_matched: int
    n_control_matched: int
    events_treated: int
    events_control: int
    method: str
    variance: str
    alpha: float = 0.05
    details: dict = field(default_factory=dict)
    # the matched (weighted) data, for the survival curves; not reported
    _data: Any = field(default=None, repr=False, compare=False)

    _interval = "log"

    @property
    def hazard_ratio(self) -> float:
        """The estimate: the marginal hazard ratio."""
        return self.estimate

    @property
    def log_hr(self) -> float:
        """The log hazard ratio (the Cox coefficient of the treatment)."""
        return float(np.log(self.estimate))

    def _log_std_error(self):
        return self.std_error

    def _title(self) -> str:
        return f"Marginal hazard ratio after matching ({self.estimand})"

    # ------------------------------------------------------------------ export
    def to_frame(self) -> pd.DataFrame:
        """One row of float64 / int64 / str columns (crosses into R unchanged): the
        columns of every result, then ``log_hr``, ``log_ci_lower``, ``log_ci_upper``,
        the matched counts and the events."""
        row = {"estimand": self.estimand, "estimate": self.estimate,
               "std_error": self.std_error, "ci_lower": self.ci_lower,
               "ci_upper": self.ci_upper, "p_value": self.p_value,
               "n_treated": self.n_treated, "n_control": self.n_control,
               "n_matched": self.n_matched, "n_dropped": self.n_dropped,
               "method": self.method, "variance": self.variance,
               "log_hr": self.log_hr, "log_ci_lower": float(np.log(self.ci_lower)),
               "log_ci_upper": float(np.log(self.ci_upper)),
               "n_treated_matched": self.n_treated_matched,
               "n_control_matched": self.n_control_matched,
               "events_treated": self.events_treated, "events_control": self.events_control}
        frame = pd.DataFrame({k: [v] for k, v in row.items()})
        for c, v in row.items():
            if isinstance(v, (int, np.integer)):
                frame[c] = frame[c].astype(np.int64)
            elif isinstance(v, (float, np.floating)):
                frame[c] = frame[c].astype(np.float64)
        return frame

    def _summary_text(self) -> str:
        level = int(round(100 * (1 - self.alpha)))
        z = self.log_hr / self.std_error if self.std_error else float("nan")
        lines = [
            f"{self._title():^78}",
            "=" * 78,
            f"Method:    {self.method}",
            f"Variance:  {self.variance}",
            f"Units:     {self.n_treated} treated, {self.n_control} control; "
            f"{self.n_matched} matched, {self.n_dropped} dropped",
            f"Matched:   {self.n_treated_matched} treated ({self.events_treated} events), "
            f"{self.n_control_matched} control ({self.events_control} events)",
            "-" * 78,
            f"{'':8}{'HR':>10}{'log(HR)':>11}{'std.err':>10}{'z':>8}{'P>|z|':>9}"
            f"{'[' + str(level) + '% conf.':>12}{'int.]':>10}",
            f"{'treat':8}{self.estimate:>10.4f}{self.log_hr:>11.4f}"
            f"{self.std_error:>10.4f}{z:>8.3f}{self.p_value:>9.4f}"
            f"{self.ci_lower:>12.4f}{self.ci_upper:>10.4f}",
            "=" * 78,
            "Interval for the HR; std.err is of log(HR).",
        ]
        return "\n".join(lines)

    # ------------------------------------------------------------ sensitivity
    def evalue(self, rare: bool | None = None):
        """E-value of the hazard ratio and of its interval (VanderWeele & Ding 2017).

        Parameters
        ----------
        rare : bool, optional
            Whether the outcome is rare (below 15% at the end of follow-up): the HR is
            then read as a risk ratio; otherwise it is converted with VanderWeele's
            (2020) formula.  Default: from the share of units with an event in the
            matched sample.

        Returns
        -------
        EValueResult
        """
        from ..sensitivity import evalue
        share = (self.events_treated + self.events_control) / max(
            1, self.n_treated_matched + self.n_control_matched)
        auto = rare is None
        if auto:
            rare = share < 0.15
        out = evalue(self.estimate, self.ci_lower, self.ci_upper, measure="HR",
                     rare=bool(rare))
        if auto:
            out.details["note"] = (f"{100 * share:.0f}% of the matched units had the event: "
                                   f"the outcome was taken as {'rare' if rare else 'common'} "
                                   "(threshold 15%; pass rare= to choose).")
        return out

    def sensitivity(self, *args, **kwargs):
        """Not covered: Rosenbaum bounds for censored outcomes; see :meth:`evalue`."""
        raise InputError("Rosenbaum bounds for a censored survival outcome are not "
                         "implemented; use the E-value of the hazard ratio (evalue())")

    # ------------------------------------------------------------ survival curves
    def _matched(self):
        if self._data is None:
            raise InputError("this result holds no matched data (it was built by hand)")
        return self._data

    def plot_survival(self, ax: Any = None, *, ci: bool = False,
                      labels: tuple[str, str] = ("control", "treated")) -> Any:
        """Kaplan-Meier curves of the matched arms, weighted by the matching weights.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, optional
            Axes to draw on; a new figure is made when None.
        ci : bool
            Draw lifelines' pointwise bands (they treat the weights as fixed).
        labels : (str, str)
            Legend labels of the control and treated arms.

        Returns
        -------
        matplotlib.axes.Axes
        """
        from ..plotting import plot_survival
        time, event, a, w = self._matched()
        ax = plot_survival(time, event, a, w, ax=ax, labels=labels, ci=ci)
        ax.set_ylabel("survival (matched, weighted)")
        ax.set_title(f"Matched Kaplan-Meier curves ({self.estimand}); "
                     f"HR {self.hazard_ratio:.3g}")
        return ax


def _rmst_replicate(resample, seed, horizon) -> float:
    got = resample(seed)
    if got is None:
        return float("nan")
    time, event, a, w = got
    return (rmst(time[a == 1], event[a == 1], w[a == 1], horizon)
            - rmst(time[a == 0], event[a == 0], w[a == 0], horizon))


# ========================================================================= estimator
def _arm_regression(L: np.ndarray, S: np.ndarray, t: np.ndarray, w: np.ndarray) -> dict:
    """``m_a(S_i)``: quadratic least squares of the score residual on the score, per arm,
    over the matched sample (units with positive weight), evaluated at every unit."""
    Z = (S - S.mean(axis=0)) / np.where(S.std(axis=0) > 0, S.std(axis=0), 1.0)
    B = np.column_stack([np.ones(S.shape[0]), Z, Z ** 2])
    out = {}
    for arm in (0, 1):
        keep = (t == arm) & (w > 0)
        if keep.sum() <= B.shape[1]:
            out[arm] = np.full(S.shape[0], L[keep].mean() if keep.any() else 0.0)
            continue
        coef = np.linalg.lstsq(B[keep], L[keep], rcond=None)[0]
        out[arm] = B @ coef
    return out


def _linearization(m: MatchResult, S: np.ndarray, fit: CoxFit) -> np.ndarray:
    """Influence terms ``phi_i`` of the imputed Cox score (spec §5.3), centred."""
    t = m.treatment
    w = m.weights
    focal = m.is_focal.astype(float) * m.unit_weight
    mreg = _arm_regression(fit.residual, S, t, w)
    m_own = np.where(t == 1, mreg[1], mreg[0])
    m_other = np.where(t == 1, mreg[0], mreg[1])
    L = fit.residual
    phi = focal * (L + m_other) + m.match_count * (L - m_own)
    return phi - phi.mean() * (w > 0)


def _sandwich_parts(fits: list) -> dict:
    """Robust variances of the mean log-HR of one or more fits ``(MatchResult, CoxFit,
    phi)`` on the one-row-per-unit-per-matched-set layout (MatchIt's
    ``get_matches()``): clustered by matched set (named by its focal unit), by unit
    and by row (a matched set and a unit), Austin-Cafri's combination of the three,
    and the linearized variance.  Each fit's contributions ``w l / I`` (``phi / I``)
    are averaged over the fits within a cluster before squaring, so the fits'
    correlation through the units they share counts; with one fit these are the
    usual sandwiches (``CoxFit.robust_variance``)."""
    K = len(fits)
    n = fits[0][0].treatment.shape[0]
    sub, unit, contrib, lin = [], [], [], 0.0
    for m, fit, phi in fits:
        fu = m.focal_units
        rows = np.concatenate([fu, m.matched])
        rw = np.concatenate([m.unit_weight[fu], m.pair_weight])
        sub.append(np.concatenate([fu, m.focal]))
        unit.append(rows)
        contrib.append(rw * fit.residual[rows] / (fit.information * K))
        lin = lin + phi / (fit.information * K)
    sub, unit, contrib = np.concatenate(sub), np.concatenate(unit), np.concatenate(contrib)

    def clustered(key):
        _, g = np.unique(key, return_inverse=True)
        sums = np.bincount(g, weights=contrib)
        return float(np.sum(sums ** 2)), sums.size

    (V_sub, k_s), (V_id, k_i) = clustered(sub), clustered(unit)
    V_rows, k_c = clustered(sub.astype(np.int64) * n + unit)
    V_ac = (k_s / (k_s - 1) * V_sub + k_i / (k_i - 1) * V_id
            - (k_c / (k_c - 1) * V_rows if k_c > 1 else 0.0))
    return {"pair_cluster": V_sub, "robust": V_id, "rows": V_rows, "austin_cafri": V_ac,
            "linearized": float(np.sum(lin ** 2)),
            "model": float(np.mean([1 / f.information for _, f, _ in fits])),
            "k_subclass": int(k_s), "k_units": int(k_i), "k_rows": int(k_c)}


def fit_seeds(random_state: Any, n_fits: int) -> list[int]:
    """The seeds of the ``n_fits`` score fits of an ensemble (see ``n_score_fits`` of
    :class:`MatchedHazardRatio`), derived from ``random_state``.

    >>> fit_seeds(0, 3) == fit_seeds(0, 3), len(set(fit_seeds(0, 3)))
    (True, 3)
    """
    return [int(s) for s in seed_sequence(random_state).generate_state(n_fits)]


def _between_fit_variance(log_hrs) -> float:
    """Variance of the mean of ``K`` fits' log-HRs over the score's training randomness
    (the seeds): their sample variance divided by ``K``; 0 for one fit."""
    b = np.asarray(log_hrs, dtype=float)
    return float(b.var(ddof=1)) / b.size if b.size > 1 else 0.0


class MatchedHazardRatio(BaseEstimator):
    """Marginal hazard ratio by matching on a balancing score.

    Matches on ``score`` (the logistic propensity score on the logit scale by
    default, or any score such as :class:`~causalsm.NeuralBalancingScore`), then fits
    a Cox model of the treatment alone to the matched data with the matching weights
    (``1 + K_i/M`` for the ATE; 1 for the treated and ``K_i/M`` for the controls for
    the ATT), Breslow ties: Wang, Zhao, Yang et al. (2024)'s imputed-data estimator.

    Parameters
    ----------
    balancing_score : transformer, optional
        Balancing score with ``fit(X, t)`` / ``transform(X)``; default
        :class:`~causalsm.PropensityScore` (logistic, logit scale).
    estimand : {"ATE", "ATT", "ATC"}
        Population of the marginal HR: all units (each matched both ways), the
        treated, or the controls.  The default is the ATE (not the ATT of
        :class:`~causalsm.MatchingEstimator`): the marginal hazard ratio of Wang et al.
        (2024) is a population quantity, and a hazard ratio is not collapsible, so the
        ATT's HR is a different number, not a subset average.
    n_neighbors : int
        ``M`` matches per unit.
    replace : bool
        Match with replacement (default, the estimator of the paper) or greedily
        without (ATT/ATC only; then ``"pair_cluster"`` is MatchIt's recommended SE).
    caliper : float, optional
        Caliper in ``caliper_units``; dropped units are counted in ``n_dropped``.
    caliper_units : {"sd", "raw"}
    exact : str, int or list, optional
        Covariates (names or positions in ``X``) that must be equal between a unit and
        its matches (exact strata), as in :class:`~causalsm.MatchingEstimator`.
    ties : bool
        Keep equidistant matches (sharing one match's weight) or break ties at random.
    order : {"data", "largest", "smallest", "random"}
        Order of greedy matching without replacement.
    distance_tolerance : float
        Squared standardized distance within which candidates are ties (R Matching's
        1e-5; 0 for exact nearest neighbours as MatchIt).
    standardize : bool or "auto"
        Scale each score column by its standard deviation before matching; ``"auto"``:
        unless the score is already in its metric (``CovariateScore``).
    drop_incomplete : bool
        Drop units with fewer than ``n_neighbors`` matches inside the caliper or exact
        stratum (R's ``Match``); by default they keep the matches they have.
    variance : {"auto", "austin_cafri", "pair_cluster", "robust", "linearized", \
"double_resampling", "bootstrap"}
        Standard error of the log-HR (see the module docstring).  The default,
        ``"auto"``, is ``"austin_cafri"`` for the ATT and ATC, ``"double_resampling"``
        for the ATE (``"bootstrap"`` when the score's ``fit`` takes no
        ``sample_weight``); with a neural score fitted several times (the default,
        ``n_score_fits``), ``"austin_cafri"`` for the ATE and ``"linearized"`` for the
        ATT and ATC, of the averaged log-HR; with a neural score fitted once, the
        ``"bootstrap"`` that refits the network.  The simulation in
        ``benchmarks/README.md`` ("Marginal hazard ratio": confounded Weibull design,
        n = 1000, 1:1 matching with replacement, 500 replications) shows:

        * propensity score, ATT: Austin-Cafri covers 96.6% (SE/SD 1.07) in closed
          form; the bootstrap (97.4%) and double resampling (99.0%) over-cover, the
          pair-cluster sandwich under-covers (89.6%) because a reused control's
          contributions are correlated across matched sets;
        * propensity score, ATE: the closed-form variances under-cover (Austin-Cafri
          and unit-robust 91.0%, linearized 91.4%): the estimate and its SE are
          strongly negatively correlated (-0.6; treated units reused many times whose
          events raise the log-HR also raise the weighted event count), a coupling
          that neither more neighbours (M = 2, 4) nor inverting the robust score test
          removes.  The re-matching bootstrap also falls short (92.2%); double
          resampling covers (97.0%), conservatively (SE/SD 1.16);
        * neural score (its defaults: 5-d, 200 epochs), five networks averaged:
          Austin-Cafri covers 94.8% for the ATE (SE/SD 1.13), the linearized variance
          96.2% for the ATT (SE/SD 1.09; Austin-Cafri there: 97.4%, SE/SD 1.18).
          Averaging cuts the SD of the log-HR by 18% (ATE) and 27% (ATT) against one
          network.  One network with its score held fixed: Austin-Cafri 92.6% (ATE)
          and 94.2% (ATT), but the estimate then depends on the seed (SD 0.08-0.09
          between seeds on the same data); the bootstrap refitting it covers 94.0%
          (ATE) and 99.0% (ATT) over 100 replications.
    alpha : float
        1 - confidence level.
    n_bootstrap : int
        Replicates of ``"bootstrap"``, and inner multiplier draws of
        ``"double_resampling"``.  200 (not the 1999 of the wild bootstrap of
        :class:`~causalsm.MatchingEstimator`): each replicate refits the score and
        re-matches, and only a standard error is taken from the replicates.
    n_outer : int
        Outer perturbation draws of ``"double_resampling"``.
    refit_score : bool
        Whether ``"bootstrap"`` (and :meth:`rmst_difference`)
        refit the score on each replicate (default) or re-match on the fitted score
        (much cheaper for a neural score, but ignores the score's estimation).  Each
        refit (also the outer refits of ``"double_resampling"``) gets its own seed
        drawn from ``random_state``, so a neural score's training randomness, a large
        part of its variance, is resampled too.
    n_score_fits : int or "auto"
        Fits of the score, each with its own seed (``fit_seeds(random_state, K)``,
        set as the score's ``random_state``) and its own matching and Cox fit; the
        log-HR is their average.  A closed-form variance is then that of the averaged
        estimating equation plus the between-fit variance of the log-HR divided by
        ``K`` (module docstring).  A neural score's training randomness moves its
        log-HR nearly as much as sampling does; averaging removes most of it and
        makes the estimate both more precise and less dependent on the seed.
        ``"auto"``: 5 for a score whose fits depend on the seed (it declares the
        ``stochastic`` tag: :class:`~causalsm.NeuralBalancingScore`), 1 otherwise (a
        deterministic score gains nothing) or when ``variance`` is ``"bootstrap"`` or
        ``"double_resampling"``: with more than one fit the variance must be
        closed-form (a resampling variance would refit ``K`` scores per replicate).
        The matched data behind :meth:`HazardRatioResult.plot_survival`
        and :meth:`rmst_difference` carry the mean of the fits'
        weights (the RMST bootstrap refits one score per replicate); ``balancing_score_``,
        ``matches_`` and ``cox_`` are the first fit's, ``scores_`` lists all of them,
        and ``details`` holds each fit's seed and log-HR.
    n_jobs : int
        joblib workers for the resampling variances and the score fits of
        ``n_score_fits`` (results do not depend on it).
    random_state : int or None
        Seeds tie-breaking, the resampling and the seeds of the score fits.
    verbose : bool
        Progress bar over resampling replicates.

    Attributes
    ----------
    balancing_score_ : the fitted score (the first, with several ``n_score_fits``)
    scores_ : list of the fitted scores
    matches_ : MatchResult
    cox_ : CoxFit
    effect_ : HazardRatioResult

    Examples
    --------
    >>> import numpy as np, causalsm as csm
    >>> rng = np.random.default_rng(0)
    >>> X = rng.standard_normal((400, 2))
    >>> t = (rng.random(400) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    >>> T = rng.exponential(1 / np.exp(0.5 * t + X[:, 0]))
    >>> est = csm.MatchedHazardRatio(estimand="ATT").fit(X, t, T, np.ones(400))
    >>> est.effect_.hazard_ratio > 1, est.effect_.variance.startswith("Austin")
    (True, True)

    With a neural score, five networks (seeds) are fitted and their log-HRs averaged:

    >>> net = csm.NeuralBalancingScore(dim=2, epochs=20)
    >>> nsm = csm.MatchedHazardRatio(net, estimand="ATT", random_state=0).fit(X, t, T, np.ones(400))
    >>> len(nsm.effect_.details["log_hr_fits"]), nsm.effect_.variance.startswith("linearized")
    (5, True)
    """

    def __init__(self, balancing_score=None, *, estimand: str = "ATE", n_neighbors: int = 1,
                 replace: bool = True, caliper: float | None = None,
                 caliper_units: str = "sd", exact: Any = None, ties: bool = True,
                 order: Any = "data", distance_tolerance: float = 1e-5,
                 standardize: Any = "auto", drop_incomplete: bool = False,
                 variance: str = DEFAULT_VARIANCE,
                 alpha: float = 0.05, n_bootstrap: int = 200, n_outer: int = 100,
                 refit_score: bool = True, n_score_fits: Any = "auto", n_jobs: int = 1,
                 random_state: Any = None, verbose: bool = False):
        self.balancing_score = balancing_score
        self.estimand = estimand
        self.n_neighbors = n_neighbors
        self.replace = replace
        self.caliper = caliper
        self.caliper_units = caliper_units
        self.exact = exact
        self.ties = ties
        self.order = order
        self.distance_tolerance = distance_tolerance
        self.standardize = standardize
        self.drop_incomplete = drop_incomplete
        self.variance = variance
        self.alpha = alpha
        self.n_bootstrap = n_bootstrap
        self.n_outer = n_outer
        self.refit_score = refit_score
        self.n_score_fits = n_score_fits
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.verbose = verbose

    # ------------------------------------------------------------------ pieces
    def _match(self, S: np.ndarray, t: np.ndarray, estimand: str, seed=None,
               rows: np.ndarray | None = None) -> MatchResult:
        """Match on ``S``; ``rows``: the data rows behind ``S`` (a resample)."""
        exact = self._exact if rows is None or self._exact is None else self._exact[rows]
        score = self.balancing_score
        tags = score_tags(PropensityScore() if score is None else score)
        return match(S, t, estimand=estimand, n_neighbors=self.n_neighbors,
                     replace=self.replace, caliper=self.caliper,
                     caliper_units=self.caliper_units, exact=exact, ties=self.ties,
                     order=self.order, distance_tolerance=self.distance_tolerance,
                     standardize=resolve_standardize(self.standardize, tags),
                     drop_incomplete=self.drop_incomplete,
                     random_state=self.random_state if seed is None else seed)

    def _fit_score(self, X, t, sample_weight=None, seed=None):
        """Fit a clone of the score; ``seed`` (a refit inside a resampling loop) reseeds a
        score that has a ``random_state``, so a neural score's training randomness is
        resampled too."""
        score = PropensityScore() if self.balancing_score is None else clone(self.balancing_score)
        if seed is not None and "random_state" in score.get_params():
            score.set_params(random_state=int(seed))
        kw = {}
        if sample_weight is not None:
            if not has_fit_parameter(score, "sample_weight"):
                raise InputError(f"variance='double_resampling' refits the score with "
                                 f"weights; {type(score).__name__}.fit takes no sample_weight")
            kw["sample_weight"] = sample_weight
        score.fit(X, t, **kw)
        return score, np.asarray(score.transform(X), dtype=np.float64).reshape(len(t), -1)

    def fit(self, X, t, duration, event):
        """Fit the score, match, and estimate the marginal hazard ratio.  Returns ``self``.

        Parameters
        ----------
        X : DataFrame or array, shape (n, p)
            Covariates of the score.
        t : array-like of 0/1, shape (n,)
            Treatment.
        duration : array-like, shape (n,)
            Follow-up time (>= 0).
        event : array-like of 0/1, shape (n,)
            1 = event observed, 0 = censored.

        Returns
        -------
        self
        """
        estimand = check_estimand(self.estimand)
        M = check_int(self.n_neighbors, "n_neighbors")
        if self.variance != "auto" and self.variance not in VARIANCES:
            raise InputError(f"unknown variance {self.variance!r}; use one of auto, "
                             f"{', '.join(VARIANCES)}")
        if not 0 < self.alpha < 1:
            raise InputError(f"alpha must be in (0, 1), got {self.alpha}")
        Xa, columns, _ = check_array(X)
        n = Xa.shape[0]
        self._exact = (None if self.exact is None
                       else select_columns(Xa, columns, self.exact, "exact"))
        ta = check_treatment(t, name=name_of(t, "treatment"))
        if ta.shape[0] != n:
            raise InputError(f"X has {n} rows but the treatment has {ta.shape[0]}")
        T, d = check_survival(duration, event, ta, n,
                              duration_name=name_of(duration, "duration"),
                              event_name=name_of(event, "event"))
        K = self._n_fits()
        variance = self._resolved_variance(estimand)
        if K > 1 and variance in ("bootstrap", "double_resampling"):
            raise InputError(f"variance={variance!r} refits the score on every replicate; with "
                             f"n_score_fits={K} that is {K} fits per replicate.  Use a "
                             "closed-form variance (austin_cafri, robust, linearized) with "
                             "several fits, or n_score_fits=1")
        Xin = X if isinstance(X, pd.DataFrame) else Xa
        self._X, self._t, self._T, self._d = Xin, ta, T, d
        seeds = [None] if K == 1 else fit_seeds(self.random_state, K)
        if K > 1 and self.n_jobs not in (None, 1):   # the same result for any n_jobs
            fits = Parallel(n_jobs=self.n_jobs)(
                delayed(self._fit_once)(Xin, ta, T, d, estimand, seed) for seed in seeds)
        else:
            fits = [self._fit_once(Xin, ta, T, d, estimand, seed) for seed in seeds]
        score, S, m, fit, _ = fits[0]
        warn_poor_overlap(score, Xin, ta, S)
        warn_unmatched(m)
        parts = _sandwich_parts([(f.matches, f.cox, f.phi) for f in fits])
        self.balancing_score_, self.matches_, self.cox_ = score, m, fit
        self.scores_ = [f.score for f in fits]
        w = np.mean([f.matches.weights for f in fits], axis=0)
        details: dict = {"n_neighbors": M,
                         "caliper": None if m.caliper is None else m.caliper.tolist(),
                         "information": float(np.mean([f.cox.information for f in fits])),
                         "weighted_events": float(np.sum(w * d))}
        betas = [f.cox.beta for f in fits]
        beta, between = float(np.mean(betas)), _between_fit_variance(betas)
        for name in _CLOSED_FORM:
            details[f"se_{name}"] = float(np.sqrt(max(parts[name] + between, 0.0)))
        se, ci_log, label = self._inference(variance, beta, details, estimand)
        if K > 1:
            details.update(n_score_fits=K, fit_seeds=seeds, log_hr_fits=[float(b) for b in betas],
                           between_fit_sd=float(np.std(betas, ddof=1)),
                           between_fit_variance=between,
                           n_dropped_fits=[int(f.matches.n_dropped) for f in fits])
            label += (f", of the log-HR averaged over {K} score fits (seeds), + the "
                      f"between-fit variance / {K}")
        p = wald(beta, se, self.alpha)[1]
        inm = w > 0
        label_how = "with" if self.replace else "without"
        method = (f"{M}-NN matching {label_how} replacement on {type(score).__name__} "
                  f"({S.shape[1]}-d); weighted Cox model of the treatment, Breslow ties")
        if K > 1:
            method += f"; log-HR averaged over {K} fits of the score"
        if self.caliper is not None:
            method += f"; caliper {self.caliper} {self.caliper_units}"
        if self.exact is not None:
            method += "; exact strata"
        self.effect_ = HazardRatioResult(
            estimand=estimand, estimate=float(np.exp(beta)), std_error=float(se),
            ci_lower=float(np.exp(ci_log[0])), ci_upper=float(np.exp(ci_log[1])),
            p_value=float(p), n_treated=int(ta.sum()), n_control=int(n - ta.sum()),
            n_matched=m.n_matched, n_dropped=m.n_dropped,
            n_treated_matched=int(np.sum(inm & (ta == 1))),
            n_control_matched=int(np.sum(inm & (ta == 0))),
            events_treated=int(np.sum(d[inm & (ta == 1)])),
            events_control=int(np.sum(d[inm & (ta == 0)])),
            method=method, variance=label, alpha=self.alpha, details=details,
            _data=(T[inm], d[inm], ta[inm], w[inm]))
        return self

    def rmst_difference(self, horizon: float, *, n_bootstrap: int = 200,
                        random_state: Any = None, n_jobs: int = 1) -> EffectResult:
        """Difference in restricted mean survival time (treated minus control) up to
        ``horizon``, in the matched data of the fitted estimator.

        The RMST of each arm is the area under its weighted Kaplan-Meier curve on
        ``[0, horizon]`` (the weights of ``effect_``).  Its standard error comes from
        the bootstrap with re-matching (units resampled, the score refitted when
        ``refit_score``, units re-matched, curves recomputed), the same resampling as
        ``variance="bootstrap"``; the interval is Wald (the percentile interval is in
        ``details``).

        Parameters
        ----------
        horizon : float
            Upper limit of the time window, > 0.
        n_bootstrap : int
            Bootstrap replicates.
        random_state : int or None
        n_jobs : int
            joblib workers (results do not depend on it).

        Returns
        -------
        EffectResult
            ``estimate`` (the difference), ``std_error``, ``conf_int()``; ``details``:
            ``horizon``, ``rmst_treated``, ``rmst_control``, ``n_bootstrap``,
            ``ci_percentile``.
        """
        if not hasattr(self, "effect_"):
            raise InputError("fit the estimator before asking for the RMST difference")
        horizon = float(horizon)
        if not np.isfinite(horizon) or horizon <= 0:
            raise InputError(f"horizon must be a positive number, got {horizon}")
        hr = self.effect_
        time, event, a, w = hr._data
        r1 = rmst(time[a == 1], event[a == 1], w[a == 1], horizon)
        r0 = rmst(time[a == 0], event[a == 0], w[a == 0], horizon)
        diff = r1 - r0
        B = check_int(n_bootstrap, "n_bootstrap", minimum=2)
        seeds = seed_sequence(random_state).spawn(B)
        resample = self._resampler(hr.estimand)
        draws = np.array(Parallel(n_jobs=n_jobs)(
            delayed(_rmst_replicate)(resample, s, horizon) for s in seeds))
        draws = draws[np.isfinite(draws)]
        se = float(draws.std(ddof=1))
        ci, p = wald(diff, se, hr.alpha)
        lo, hi = np.quantile(draws, [hr.alpha / 2, 1 - hr.alpha / 2])
        return EffectResult(
            estimand=hr.estimand, estimate=float(diff), std_error=se, ci_lower=float(ci[0]),
            ci_upper=float(ci[1]), p_value=float(p),
            method=(f"difference in restricted mean survival time up to {horizon:g} "
                    "(treated - control), weighted Kaplan-Meier curves of the matched data; "
                    + hr.method.split(";")[0]),
            variance=f"bootstrap with re-matching ({draws.size} replicates)",
            n_treated=hr.n_treated, n_control=hr.n_control, n_matched=hr.n_matched,
            n_dropped=hr.n_dropped, alpha=hr.alpha,
            details={"horizon": horizon, "rmst_treated": float(r1), "rmst_control": float(r0),
                     "n_bootstrap": int(draws.size),
                     "ci_percentile": [float(lo), float(hi)]},
            _sets="Rosenbaum bounds are not available for an RMST difference of censored "
                  "outcomes; use the E-value of the hazard ratio")

    def _n_fits(self) -> int:
        """``n_score_fits``; ``"auto"``: 5 for a neural score (1 when a resampling
        variance is asked for), 1 otherwise."""
        if isinstance(self.n_score_fits, str):
            if self.n_score_fits != "auto":
                raise InputError(f"n_score_fits must be a positive integer or 'auto', got "
                                 f"{self.n_score_fits!r}")
            resampling = self.variance in ("bootstrap", "double_resampling")
            return 5 if _is_stochastic(self.balancing_score) and not resampling else 1
        return check_int(self.n_score_fits, "n_score_fits")

    def _fit_once(self, X, t, T, d, estimand, seed):
        """One score fit (``seed``: its random_state; None keeps the score's own), its
        matches, the weighted Cox fit and the closed-form variance pieces."""
        score, S = self._fit_score(X, t, seed=seed)
        m = self._match(S, t, estimand)
        w = m.weights
        for arm, label in ((1, "treated"), (0, "control")):
            if np.sum(w * d * (t == arm)) == 0:
                raise InputError(f"no events in the matched {label} arm: the hazard ratio "
                                 "is not estimable")
        fit = cox_fit(T, d, t, w)
        if not fit.converged:
            raise InputError("the weighted Cox fit did not converge (an arm without events "
                             "in the matched data?)")
        return _ScoreFit(score, S, m, fit, _linearization(m, S, fit))

    # --------------------------------------------------------------- inference
    def _resolved_variance(self, estimand: str) -> str:
        """``"auto"``: with a neural score fitted several times, Austin-Cafri for the
        ATE and the linearized variance for the ATT/ATC, of the averaged log-HR; with a
        neural score fitted once, the bootstrap that refits the network; otherwise the
        Austin-Cafri variance for the ATT/ATC and double resampling for the ATE (the
        bootstrap when the score cannot be refitted with weights)."""
        if self.variance != "auto":
            return self.variance
        if _is_stochastic(self.balancing_score):
            if self._n_fits() == 1:
                return "bootstrap"
            return "austin_cafri" if estimand == "ATE" else "linearized"
        if estimand in ("ATT", "ATC"):
            return "austin_cafri"
        score = PropensityScore() if self.balancing_score is None else self.balancing_score
        return "double_resampling" if has_fit_parameter(score, "sample_weight") \
            else "bootstrap"

    def _inference(self, variance, beta, details, estimand):
        if variance in _LABELS:
            se = details[f"se_{variance}"]
            return se, wald(beta, se, self.alpha)[0], _LABELS[variance]
        B = check_int(self.n_bootstrap, "n_bootstrap", minimum=2)
        root = seed_sequence(self.random_state)
        if variance == "bootstrap":
            resample = self._resampler(estimand, refit=self.refit_score)
            seeds = root.spawn(B)
            draws = np.array(self._parallel(delayed(_beta_replicate)(resample, s)
                                            for s in seeds), dtype=float)
            draws = draws[np.isfinite(draws)]
            se = float(draws.std(ddof=1))
            lo, hi = np.quantile(draws, [self.alpha / 2, 1 - self.alpha / 2])
            details.update(n_bootstrap=int(draws.size), n_failed=int(B - draws.size),
                           log_ci_percentile=[float(lo), float(hi)])
            refit = "score refitted, " if self.refit_score else "score held fixed, "
            return se, wald(beta, se, self.alpha)[0], \
                f"bootstrap ({draws.size} replicates: units resampled, {refit}re-matched)"
        # double resampling (reconstruction)
        n_outer = check_int(self.n_outer, "n_outer", minimum=2)
        outer_seeds = root.spawn(n_outer)
        out = self._parallel(delayed(_outer_replicate)(self, estimand, s, B)
                             for s in outer_seeds)
        out = np.array([o for o in out if o is not None], dtype=float)
        betas, inner = out[:, 0], out[:, 1]
        v_inner, v_outer = float(inner.mean()), float(betas.var(ddof=1))
        se = float(np.sqrt(v_inner + v_outer))
        details.update(n_outer=int(out.shape[0]), n_inner=B, var_inner=v_inner,
                       var_outer=v_outer)
        return se, wald(beta, se, self.alpha)[0], \
            (f"double resampling (reconstruction): {out.shape[0]} perturbed score refits x "
             f"{B} multiplier draws, law of total variance")

    def _parallel(self, tasks):
        tasks = list(tasks)
        if self.verbose:
            from tqdm.auto import tqdm
            tasks = tqdm(tasks, desc="resampling")
        return Parallel(n_jobs=self.n_jobs)(tasks)

    def _resampler(self, estimand: str, refit: bool | None = None):
        """A picklable function: SeedSequence -> resampled matched data ``(T, d, t, w)``."""
        refit = self.refit_score if refit is None else refit
        return _Resampler(self, estimand, refit)


class _Resampler:
    """Resample units (with replacement), refit the score (or not), re-match."""

    def __init__(self, est: MatchedHazardRatio, estimand: str, refit: bool):
        self.est, self.estimand, self.refit = est, estimand, refit
        self.X, self.t, self.T, self.d = est._X, est._t, est._T, est._d
        self.S = None if refit else np.asarray(est.balancing_score_.transform(est._X),
                                               dtype=np.float64).reshape(len(est._t), -1)

    def __call__(self, seed):
        rng = np.random.default_rng(seed)
        n = self.t.shape[0]
        for _ in range(20):                       # redraw if an arm or its events vanish
            idx = rng.integers(0, n, n)
            t = self.t[idx]
            if t.min() == t.max() or self.d[idx][t == 1].sum() == 0 \
                    or self.d[idx][t == 0].sum() == 0:
                continue
            if self.refit:
                Xb = self.X.iloc[idx] if isinstance(self.X, pd.DataFrame) else self.X[idx]
                try:
                    _, S = self.est._fit_score(Xb, t, seed=rng.integers(2 ** 31))
                except Exception:                 # e.g. separation in a tiny replicate
                    continue
            else:
                S = self.S[idx]
            m = self.est._match(S, t, self.estimand, seed=rng, rows=idx)
            return self.T[idx], self.d[idx], t, m.weights
        return None


def _beta_replicate(resample, seed) -> float:
    got = resample(seed)
    if got is None:
        return float("nan")
    T, d, t, w = got
    if np.sum(w * d * t) == 0 or np.sum(w * d * (1 - t)) == 0:
        return float("nan")
    return cox_fit(T, d, t, w).beta


def _outer_replicate(est: MatchedHazardRatio, estimand: str, seed, n_inner: int):
    """One outer draw: perturbed score refit, re-match, Cox fit, inner multiplier variance."""
    s_outer, s_inner = seed.spawn(2)
    rng = np.random.default_rng(s_outer)
    xi = rng.exponential(1.0, est._t.shape[0])
    try:
        _, S = est._fit_score(est._X, est._t, sample_weight=xi, seed=rng.integers(2 ** 31))
    except InputError:
        raise
    except Exception:
        return None
    m = est._match(S, est._t, estimand, seed=rng)
    w = m.weights
    if np.sum(w * est._d * est._t) == 0 or np.sum(w * est._d * (1 - est._t)) == 0:
        return None
    fit = cox_fit(est._T, est._d, est._t, w)
    phi = _linearization(m, S, fit) / fit.information
    draws = multiplier_bootstrap(phi, n_replicates=n_inner, random_state=s_inner)
    return fit.beta, float(draws.var(ddof=1))

