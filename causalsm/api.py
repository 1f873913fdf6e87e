"""The front door: one call from a DataFrame (or an R data.frame) to an effect."""

from __future__ import annotations

from typing import Any, Sequence

import pandas as pd

from ._validation import (InputError, check_frame, check_outcome, check_seed, check_treatment,
                          coerce_int_options)
from .estimators.average import MatchingEstimator
from .estimators.quantile import MultiplyRobustMatching, QuantileEffectResult
from .estimators.results import EffectResult
from .scores import CovariateScore, DoubleScore, PCAScore, PropensityScore

__all__ = ["estimate_effect", "exposure_response", "hazard_ratio", "make_score",
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
                    estimand: str = "ATT", **options) -> EffectResult:
    """Estimate an average treatment effect by matching.

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
        5-dimensional neural balancing score (Clivio et al. 2022) or that network's
        own propensity, the first 5 principal components, or any transformer with
        ``fit(X, t)`` / ``transform(X)`` such as ``PropensityScore(model=...)``.
        Named scores that have a ``random_state`` get the one in ``options``.
        ``"double"`` runs multiply robust (double score) matching
        (:class:`~causalsm.MultiplyRobustMatching`, estimand ``"ATE"`` or ``"ATT"``)
        and returns its average effect.
    estimand : {"ATT", "ATC", "ATE"}
    **options
        Any parameter of :class:`~causalsm.MatchingEstimator`: ``n_neighbors``,
        ``replace``, ``caliper``, ``exact`` (column names), ``bias_correction``,
        ``variance``, ``var_neighbors``, ``alpha``, ``random_state``...  With
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
    if isinstance(score, str) and score == "double":
        return _multiply_robust(frame, treatment, outcome, covariates, estimand=estimand,
                                quantiles=None, options=options).effect_
    valid = set(MatchingEstimator().get_params())
    unknown = set(options) - valid
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; valid options: "
                         f"{', '.join(sorted(valid - {'score', 'estimand'}))}")
    est = MatchingEstimator(score=make_score(score, options.get("random_state")),
                            estimand=estimand, **options)
    t = check_treatment(frame[treatment], name=treatment)
    y = check_outcome(frame[outcome], name=outcome)
    est.fit(frame[covariates], t, y)
    return est.effect_


def _multiply_robust(frame, treatment, outcome, covariates, *, estimand, quantiles,
                     options) -> MultiplyRobustMatching:
    unknown = set(options) - set(_MR_OPTIONS)
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))} for multiply robust "
                         f"matching; valid options: {', '.join(_MR_OPTIONS)}")
    est = MultiplyRobustMatching(estimand=estimand, quantiles=quantiles, **options)
    t = check_treatment(frame[treatment], name=treatment)
    y = check_outcome(frame[outcome], name=outcome)
    return est.fit(frame[covariates], t, y)


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
    frame, covariates = check_frame(data, treatment=treatment, outcome=duration,
                                    covariates=covariates)
    options = coerce_int_options(options)          # R's 1 arrives as 1.0
    if isinstance(score, str) and score == "double":
        raise InputError("score='double' (multiply robust matching) has no hazard-ratio "
                         "estimator; use 'propensity', 'neural' or a score object")
    valid = set(MatchedHazardRatio().get_params()) - {"score", "estimand"}
    unknown = set(options) - valid
    if unknown:
        raise InputError(f"unknown option(s) {', '.join(sorted(unknown))}; valid options: "
                         f"{', '.join(sorted(valid))}")
    est = MatchedHazardRatio(score=make_score(score, options.get("random_state")),
                             estimand=estimand, **options)
    t = check_treatment(frame[treatment], name=treatment)
    est.fit(frame[covariates], t, frame[duration], frame[event])
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
    curve to it; an m-out-of-n bootstrap that refits everything gives pointwise and
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
