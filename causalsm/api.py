"""The front door: one call from a DataFrame (or an R data.frame) to an effect."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

import numpy as np
import pandas as pd

from ._validation import (InputError, check_frame, check_seed, coerce_int_options, n_levels,
                          treatment_kind)
from .estimators.average import MatchingEstimator
from .estimators.quantile import MultiplyRobustMatching, QuantileEffectResult
from .estimators.results import EffectResult
from .scores import CovariateScore, DoubleScore, PCAScore, PropensityScore

if TYPE_CHECKING:
    from .estimators.multilevel import MultilevelEffectResult

__all__ = ["estimate_effect", "exposure_response", "hazard_ratio", "make_score",
           "multilevel_effect",
           "quantile_effect"]

_SCORES = {
    "propensity": lambda: PropensityScore(),
    "covariates": lambda: CovariateScore(scale="variance"),
    "mahalanobis": lambda: CovariateScore(scale="mahalanobis"),
    "neural": lambda: _neural(random_state=0),
    "neural_propensity": lambda: _neural(output="propensity", random_state=0),
    "pca": lambda: PCAScore(n_components=5),
    "double": lambda: DoubleScore(),
}


def _neural(**params):
    from .scores.neural import NeuralBalancingScore     # torch only when asked for
    return NeuralBalancingScore(**params)


_MR_OPTIONS = ("propensity_models", "prognostic_models", "n_neighbors", "ties",
               "sieve_degree", "n_bootstrap", "alpha", "n_jobs", "random_state", "verbose")


def make_score(score: Any, random_state: Any = None):
    """Turn a score name into a score object (seeded with ``random_state`` when it has
    one); pass objects through unchanged."""
    if isinstance(score, str):
        try:
            obj = _SCORES[score]()
        except KeyError:
            raise InputError(f"unknown score {score!r}; use one of {', '.join(_SCORES)} "
                             "or a score object") from None
        if random_state is not None and "random_state" in obj.get_params():
            obj.set_params(random_state=check_seed(random_state))
        return obj
    if not (hasattr(score, "fit") and hasattr(score, "transform")):
        raise InputError(f"score must be a name or a transformer with fit/transform, "
                         f"got {type(score).__name__}")
    return score


def estimate_effect(data, treatment: str, outcome: str,
                    covariates: Sequence[str] | None = None, *, score: Any = "propensity",
                    estimand: str | None = None,
                    **options) -> EffectResult | MultilevelEffectResult:
    """Estimate an average treatment effect by matching.

    A treatment with three or more levels (labels, a pandas Categorical, an R factor)
    gives the effects of every level (:func:`multilevel_effect`: one row per contrast,
    a :class:`~causalsm.MultilevelEffectResult`); a 0/1 treatment gives an
    :class:`~causalsm.EffectResult`, as below.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.  It is not modified.
    treatment, outcome : str
        Column names; the treatment must be 0/1 (or boolean).
    covariates : list of str, optional
        Columns to adjust for; default all other columns.
    score : {"propensity", "covariates", "mahalanobis", "neural", "neural_propensity", "pca", \
"double"} or a score object
        What to match on: the logistic propensity score (logit scale), the
        covariates with inverse-variance or Mahalanobis distance, the learned
        neural balancing score (Clivio et al. 2022; :class:`NeuralBalancingScore`) or
        that network's own propensity, the first 5 principal components, or any
        transformer with ``fit(X, t)`` / ``transform(X)`` such as
        ``PropensityScore(model=...)``.
        Named scores that have a ``random_state`` get the one in ``options``.
        ``"double"`` runs multiply robust (double score) matching
        (:class:`~causalsm.MultiplyRobustMatching`, estimand ``"ATE"`` or ``"ATT"``)
        and returns its average effect.
    estimand : {"ATT", "ATC", "ATE"}, optional
        Default ``"ATT"`` for a 0/1 treatment, ``"ATE"`` for several levels.
    **options
        Any parameter of :class:`~causalsm.MatchingEstimator`: ``method`` (the design:
        ``"nearest"``, ``"optimal"``, ``"full"``, ``"subclass"``, ``"cem"``; all but
        nearest neighbour are followed by g-computation with MatchIt's standard
        errors), ``n_neighbors``, ``replace``, ``caliper``, ``exact`` (column names),
        ``discard``, ``mahvars``, ``bias_correction``, ``variance``, ``var_neighbors``,
        ``alpha``, ``random_state``...  With
        ``score="double"``: ``propensity_models``, ``prognostic_models``,
        ``n_neighbors``, ``ties``, ``sieve_degree``, ``n_bootstrap``, ``alpha``,
        ``n_jobs``, ``random_state``, ``verbose``.

    Returns
    -------
    EffectResult

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_lalonde()
    >>> res = csm.estimate_effect(df, treatment="treat", outcome="re78",
    ...                           covariates=["age", "educ", "black", "hisp", "married",
    ...                                       "nodegr", "re74", "re75"])
    >>> res.estimand, res.n_treated, res.n_control
    ('ATT', 185, 260)
    """
    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    options = coerce_int_options(options)          # R's 1 arrives as 1.0
    kind = treatment_kind(frame[treatment])
    if kind == "continuous":
        raise InputError(f"'{treatment}' is continuous ({n_levels(frame[treatment])} distinct "
                         "values): estimate its exposure-response curve with "
                         "exposure_response")
    if kind == "multilevel":
        return multilevel_effect(frame, treatment, outcome, covariates, score=score,
                                 estimand=estimand, **options)
    estimand = "ATT" if estimand is None else estimand
    if isinstance(score, str) and score == "double":
        return _multiply_robust(frame, treatment, outcome, covariates, estimand=estimand,
                                quantiles=None, options=options).effect_
    est = matching_estimator(score, estimand, options)
    est.fit(frame[covariates], frame[treatment], frame[outcome])   # validated there, once
    return est.effect_


def matching_estimator(score: Any, estimand: str, options: dict) -> MatchingEstimator:
    """The :class:`~causalsm.MatchingEstimator` of a front door's ``score`` (a name or
    a score object) and options, an unknown option named in the error."""
    valid = set(MatchingEstimator().get_params()) - {"balancing_score", "estimand"}
    unknown = set(options) - valid
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; valid options: "
                         f"{', '.join(sorted(valid))}")
    return MatchingEstimator(balancing_score=make_score(score, options.get("random_state")),
                             estimand=estimand, **options)


def _multiply_robust(frame, treatment, outcome, covariates, *, estimand, quantiles,
                     options) -> MultiplyRobustMatching:
    unknown = set(options) - set(_MR_OPTIONS)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))} for multiply robust "
                         f"matching; valid options: {', '.join(_MR_OPTIONS)}")
    est = MultiplyRobustMatching(estimand=estimand, quantiles=quantiles, **options)
    return est.fit(frame[covariates], frame[treatment], frame[outcome])


def quantile_effect(data, treatment: str, outcome: str,
                    covariates: Sequence[str] | None = None, *,
                    quantiles: Sequence[float] = (0.25, 0.5, 0.75), estimand: str = "ATE",
                    **options) -> QuantileEffectResult:
    """Estimate quantile treatment effects by multiply robust (double score) matching.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.  It is not modified.
    treatment, outcome : str
        Column names; the treatment must be 0/1 (or boolean).
    covariates : list of str, optional
        Columns the score models use; default all other columns.
    quantiles : list of float in (0, 1)
        Quantile levels.
    estimand : {"ATE", "ATT"}
        ``"ATE"``: the QTE (quantiles of ``Y(1)`` and ``Y(0)`` in the population);
        ``"ATT"``: the QTT (in the treated).
    **options
        Parameters of :class:`~causalsm.MultiplyRobustMatching`:
        ``propensity_models``, ``prognostic_models`` (default: one logistic
        regression and one OLS per arm on all covariates), ``n_neighbors``, ``ties``,
        ``sieve_degree``, ``n_bootstrap``, ``alpha``, ``n_jobs``, ``random_state``,
        ``verbose``.

    Returns
    -------
    QuantileEffectResult

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_lalonde()
    >>> res = csm.quantile_effect(df, treatment="treat", outcome="re78",
    ...                           covariates=["age", "educ", "re74", "re75"],
    ...                           quantiles=[0.5, 0.75], n_bootstrap=20, random_state=0)
    >>> res.estimand, res.to_frame().shape
    ('QTE', (2, 9))
    """
    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    options = coerce_int_options(options)          # R's 1 arrives as 1.0
    if quantiles is None:
        raise InputError("quantiles must be a non-empty list of numbers in (0, 1)")
    return _multiply_robust(frame, treatment, outcome, covariates, estimand=estimand,
                            quantiles=quantiles, options=options).quantile_effect_


def hazard_ratio(data, treatment: str, duration: str, event: str,
                 covariates: Sequence[str] | None = None, *, score: Any = "propensity",
                 estimand: str = "ATE", **options):
    """Estimate a marginal hazard ratio by matching, with a standard error and interval.

    Matches on ``score`` and fits a Cox model of the treatment alone to the matched
    data, weighted by the match counts (see :class:`~causalsm.MatchedHazardRatio`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.  It is not modified.
    treatment, duration, event : str
        Column names: the 0/1 treatment, the follow-up time (>= 0) and the event
        indicator (1 = event, 0 = censored).
    covariates : list of str, optional
        Columns of the score; default all other columns.
    score : {"propensity", "neural", "neural_propensity", "covariates", "mahalanobis", \
"pca"} or a score object
        What to match on (as in :func:`estimate_effect`); ``"neural"`` is the learned
        neural balancing score; with it the log-HR is averaged over five networks
        (seeds), and the variance is that of the average plus the networks' spread
        (``n_score_fits``, see :class:`~causalsm.MatchedHazardRatio`).
    estimand : {"ATE", "ATT", "ATC"}
        Population of the marginal hazard ratio.
    **options
        Parameters of :class:`~causalsm.MatchedHazardRatio`: ``n_neighbors``,
        ``replace``, ``caliper``, ``caliper_units``, ``ties``, ``distance_tolerance``,
        ``variance``, ``alpha``, ``n_bootstrap``, ``n_outer``, ``refit_score``,
        ``n_score_fits``, ``n_jobs``, ``random_state``, ``verbose``.

    Returns
    -------
    HazardRatioResult

    Examples
    --------
    >>> import causalsm as csm
    >>> from lifelines.datasets import load_rossi
    >>> rossi = load_rossi()
    >>> res = csm.hazard_ratio(rossi, treatment="fin", duration="week", event="arrest",
    ...                        covariates=["age", "race", "wexp", "mar", "paro", "prio"],
    ...                        random_state=0)
    >>> res.estimand, res.n_treated, res.n_control
    ('ATE', 216, 216)
    >>> res.hazard_ratio < 1
    True
    """
    from .estimators.survival import MatchedHazardRatio
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    for name, col in (("duration", duration), ("event", event)):
        if col not in data.columns:
            raise InputError(f"{name} column '{col}' is not in the data; available columns: "
                             f"{', '.join(map(str, data.columns[:20]))}")
    if covariates is None:
        covariates = [c for c in data.columns if c not in (treatment, duration, event)]
    elif isinstance(covariates, str):
        covariates = [covariates]
    if event in covariates or duration in covariates:
        raise InputError(f"column '{event if event in covariates else duration}' is both a "
                         "covariate and the duration or event")
    for a, b, what in ((duration, event, "duration and the event"),
                       (duration, treatment, "duration and the treatment"),
                       (event, treatment, "event and the treatment")):
        if isinstance(a, str) and a == b:
            raise InputError(f"the {what} are the same column '{a}'")
    frame, covariates = check_frame(data, treatment=treatment, outcome=duration,
                                    covariates=covariates)
    options = coerce_int_options(options)          # R's 1 arrives as 1.0
    if isinstance(score, str) and score == "double":
        raise InputError("score='double' (multiply robust matching) has no hazard-ratio "
                         "estimator; use 'propensity', 'neural' or a score object")
    valid = set(MatchedHazardRatio().get_params()) - {"balancing_score", "estimand"}
    unknown = set(options) - valid
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; valid options: "
                         f"{', '.join(sorted(valid))}")
    est = MatchedHazardRatio(balancing_score=make_score(score, options.get("random_state")),
                             estimand=estimand, **options)
    est.fit(frame[covariates], frame[treatment], frame[duration], frame[event])
    return est.effect_


# ------------------------------------------------ treatments with several levels
_MULTILEVEL_ALIASES = {"gps": "propensity"}
#: ``method=`` with several levels; a 0/1 treatment's names for the same designs are
#: accepted (``"nearest"``, ``"subclass"``), MatchIt's other designs are refused by name.
_MULTILEVEL_DESIGNS = {"matching": "matching", "nearest": "matching",
                       "subclassification": "subclassification",
                       "subclass": "subclassification"}


def multilevel_option_error(unknown: Any, valid: Any, where: str) -> InputError:
    """The error for options that a multi-level estimator does not take; those of
    :class:`~causalsm.MatchingEstimator` (MatchIt's designs, calipers...) are named as
    being for a 0/1 treatment."""
    unknown = sorted(unknown)
    binary = [k for k in unknown if k in MatchingEstimator().get_params()]
    why = (f" ({', '.join(binary)}: for a 0/1 treatment only, i.e. MatchingEstimator's "
           "designs and options)" if binary else "")
    return InputError(f"unknown option(s) {', '.join(unknown)} for {where}{why}; valid "
                      f"options: {', '.join(sorted(valid))}")


def make_multilevel_score(score: Any, random_state: Any = None):
    """A score name for a treatment with several levels -> a score object:
    ``"propensity"`` (or ``"gps"``) is the multinomial logistic
    :class:`~causalsm.GeneralizedPropensityScore`; the other names are those of
    :func:`make_score` (the neural scores train a softmax head)."""
    if isinstance(score, str):
        key = _MULTILEVEL_ALIASES.get(score, score)
        if key == "propensity":
            from .scores.gps import GeneralizedPropensityScore
            return GeneralizedPropensityScore()
        if key == "double":
            raise InputError("score='double' (multiply robust matching) is for a 0/1 "
                             "treatment; with several levels use 'propensity', 'neural', "
                             "'neural_propensity', 'mahalanobis', 'covariates' or 'pca'")
        return make_score(key, random_state)
    if isinstance(score, (np.ndarray, pd.DataFrame)):
        return np.asarray(score, dtype=np.float64)
    return make_score(score)


def multilevel_effect(data, treatment: str, outcome: str,
                      covariates: Sequence[str] | None = None, *, score: Any = "propensity",
                      estimand: str | None = None, method: str = "matching",
                      **options) -> MultilevelEffectResult:
    """Effects of a treatment with several levels, by matching or subclassification.

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.  It is not modified.
    treatment : str
        Column of treatment labels: numbers, strings or a categorical (an R factor;
        its level order is kept).  The first level is the reference unless
        ``reference=`` says otherwise.
    outcome : str
    covariates : list of str, optional
        Default: all other columns.
    score : {"propensity", "neural", "neural_propensity", "mahalanobis", "covariates", \
"pca"}, a score object or an (n, K) array
        ``"propensity"`` (default): the multinomial logistic generalised propensity
        score, level ``w`` matched on ``r(w, X)`` (Yang et al. 2016); ``"neural"``: the
        neural balancing score (softmax head), matched as a whole; ``"neural_propensity"``:
        that network's GPS; ``"mahalanobis"``: the covariates (R's
        ``multilevelMatchX``); an array: a GPS computed elsewhere.
    estimand : {"ATE", "ATT"}, optional
        ``"ATE"`` (default): contrasts averaged over all units.  ``"ATT"``: over the
        units that received ``target`` (give ``target=`` level).
    method : {"matching", "subclassification"}
        :class:`~causalsm.MultilevelMatching` (also ``"nearest"``) or
        :class:`~causalsm.MultilevelSubclassification` (also ``"subclass"``; ATE only).
        MatchIt's designs ``"optimal"``, ``"full"`` and ``"cem"`` are for a 0/1
        treatment and raise :class:`~causalsm.InputError` here.
    **options
        Parameters of the estimator: ``target``, ``reference``, ``contrasts``
        (``"pairwise"`` or ``"reference"``), ``n_neighbors``, ``var_neighbors``,
        ``bias_correction``, ``variance``, ``trim``, ``p_adjust``, ``alpha``,
        ``random_state``... (``n_strata``, ``n_bootstrap``, ``n_jobs`` for
        subclassification).

    Returns
    -------
    MultilevelEffectResult

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_actg175_multiarm()
    >>> res = csm.estimate_effect(df, treatment="arms", outcome="cd420",
    ...                           covariates=df.attrs["covariates"], estimand="ATT",
    ...                           target=0, contrasts="reference")
    >>> res.contrast, res.target
    (['1 - 0', '2 - 0', '3 - 0'], '0')
    """
    from .estimators.multilevel import MultilevelMatching, MultilevelSubclassification

    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    options = coerce_int_options(options)
    estimand = "ATE" if estimand is None else str(estimand).upper()
    if estimand not in ("ATE", "ATT"):
        raise InputError(f"estimand {estimand!r} with a treatment of several levels: use "
                         "'ATE' (all units) or 'ATT' with target=<level> (the units that "
                         "received it)")
    if estimand == "ATT" and options.get("target") is None:
        raise InputError("estimand='ATT' with a treatment of several levels needs "
                         "target=<level>: the level whose recipients the effects average over")
    if estimand == "ATE" and options.get("target") is not None:
        raise InputError("target= is for estimand='ATT'")
    if method in ("optimal", "full", "cem"):
        raise InputError(f"method={method!r}: optimal, full and coarsened exact matching are "
                         "designs for a 0/1 treatment; with several levels use "
                         "method='matching' (nearest neighbour, Yang et al. 2016) or "
                         "'subclassification' (generalised propensity score strata)")
    if not isinstance(method, str) or method not in _MULTILEVEL_DESIGNS:
        raise InputError(f"method must be 'matching' or 'subclassification', got {method!r}")
    method = _MULTILEVEL_DESIGNS[method]
    cls = MultilevelMatching if method == "matching" else MultilevelSubclassification
    valid = set(cls().get_params()) - {"balancing_score"}
    unknown = set(options) - valid
    if unknown:
        raise multilevel_option_error(unknown, valid, cls.__name__)
    est = cls(balancing_score=make_multilevel_score(score, options.get("random_state")),
              **options)
    est.fit(frame[covariates], frame[treatment], frame[outcome])
    return est.effect_


def exposure_response(data, treatment: str, outcome: str,
                      covariates: Sequence[str] | None = None, *, gps: Any = "normal",
                      method: str = "matching", smoother: Any = "local_quadratic",
                      eval_points: Any = None, n_bootstrap: int = 200, groups: str | None = None,
                      random_state: Any = None, **options):
    """Estimate the exposure-response curve ``E[Y(w)]`` of a continuous treatment.

    The generalised propensity score (the density of the exposure given the covariates)
    builds a pseudo-population in which the exposure is unrelated to the covariates, by
    GPS matching (Wu et al. 2024, as R's CausalGPS) or GPS weighting; a smoother fits the
    curve to it; a bootstrap that refits everything gives pointwise and
    simultaneous bands (see :class:`~causalsm.estimators.continuous.ExposureResponse`).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit.  It is not modified.
    treatment, outcome : str
        Column names: the continuous exposure (dose) and the outcome.
    covariates : list of str, optional
        Confounders; default all other columns.
    gps : {"normal", "kernel", "score_matching"} or a GPS model
        The GPS model (:mod:`causalsm.scores.density`): normal with an OLS mean, a kernel
        density of the standardised residuals, or
        :class:`~causalsm.scores.score_matching.ScoreMatchingDensity` (an energy network
        trained by score matching: no distributional assumption).  Or an object such as
        ``NormalDensity(mean_model=HistGradientBoostingRegressor())``.
    method : {"matching", "weighting"}
        :class:`~causalsm.estimators.continuous.GPSMatching` or
        :class:`~causalsm.estimators.continuous.GPSWeighting`.
    smoother : {"local_quadratic", "local_linear", "parametric", "gam"} or a smoother
        The curve: local polynomial with a cross-validated bandwidth (quadratic at the
        local-linear bandwidth by default: bias-corrected, so that the bands cover),
        a parametric fit (``ParametricERF(model="polynomial", degree=3)``...) or a
        penalised spline.
    eval_points : int or array-like, optional
        Where the curve is reported (default 100 points over the 5-95% exposure range).
    n_bootstrap : int
        Bootstrap replicates (0: no bands).
    groups : str, optional
        A column of cluster labels: the bootstrap resamples whole clusters.
    random_state : int or None
        Seeds the bootstrap and a random GPS model.
    **options
        Parameters of the design (``delta_n``, ``scale``, ``levels``, ``trim_exposure``,
        ``trim_gps``, ``balance_method``, ``balance_threshold``, ``balance_summary``,
        ``max_attempt``; weighting: ``numerator``, ``normalize``, ``max_weight``) and of the
        bootstrap (``bootstrap_size``, ``scaling``, ``replace``, ``alpha``, ``n_jobs``).

    Returns
    -------
    ExposureResponseResult
        ``to_frame()`` gives the curve with ``std_error``, the pointwise interval and the
        simultaneous band; ``balance`` the covariates' correlation with the exposure
        before and after; ``plot()`` draws it.

    Examples
    --------
    >>> import warnings
    >>> import causalsm as csm
    >>> df = csm.datasets.simulate_causalgps(600, random_state=0)
    >>> with warnings.catch_warnings():          # trimming, balance, small resamples
    ...     warnings.simplefilter("ignore")
    ...     res = csm.exposure_response(df, treatment="w", outcome="Y",
    ...                                 covariates=["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"],
    ...                                 eval_points=[5.0, 10.0, 15.0], n_bootstrap=30,
    ...                                 random_state=0)
    >>> res.to_frame().columns.tolist()          # doctest: +NORMALIZE_WHITESPACE
    ['exposure', 'estimate', 'std_error', 'ci_lower', 'ci_upper', 'band_lower',
     'band_upper', 'p_value']
    >>> res.n_used, res.n_dropped                # the 5-95% exposure range is kept
    (540, 60)
    """
    from .estimators.continuous import ExposureResponse, GPSMatching, GPSWeighting
    from .scores.density import make_gps
    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    options = coerce_int_options(options)          # R's 1 arrives as 1.0
    designs = {"matching": GPSMatching, "weighting": GPSWeighting}
    if method not in designs:
        raise InputError(f"method must be 'matching' or 'weighting', got {method!r}")
    design_cls = designs[method]
    design_keys = set(design_cls().get_params()) - {"gps", "random_state"}
    boot_keys = {"bootstrap_size", "scaling", "replace", "alpha", "n_jobs"}
    unknown = set(options) - design_keys - boot_keys
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))} for method="
                         f"{method!r}; valid options: "
                         f"{', '.join(sorted(design_keys | boot_keys))}")
    seed = check_seed(random_state)
    design = design_cls(gps=make_gps(gps, seed), random_state=seed,
                        **{k: v for k, v in options.items() if k in design_keys})
    if "n_jobs" in options and "n_jobs" in design_keys:
        design.set_params(n_jobs=options["n_jobs"])
    cluster = None
    if groups is not None:
        if groups not in frame.columns:
            raise InputError(f"groups column '{groups}' is not in the data")
        cluster = frame[groups].to_numpy()
    est = ExposureResponse(design=design, smoother=smoother, eval_points=eval_points,
                           n_bootstrap=n_bootstrap, random_state=seed,
                           **{k: v for k, v in options.items() if k in boot_keys})
    est.fit(frame[covariates], frame[treatment].rename(treatment),
            frame[outcome].rename(outcome), groups=cluster)
    return est.result_
