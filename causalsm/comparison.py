"""Run several matching methods on one data set and put them side by side.

:func:`compare` fits each method on the same data and returns one tidy row per
method: the estimate, its standard error and interval, the covariate balance after
matching (largest absolute standardized mean difference and linear MMD), the units
dropped, the time taken and, when the true effect is known, the error.  The methods
(names for ``methods=``):

``"nsm"``
    Neural score matching (Clivio et al. 2022) with the library's recommended
    network: five networks with a treatment and a prognostic head; 10-NN on their
    joint score (logit propensity and predicted outcomes), bias-corrected on it.
``"nn_ps"``
    1-NN on the propensity output of the *same* trained networks (the paper's NN-PS);
    the networks are trained once for both rows.
``"psm"``
    1-NN on the logistic propensity score (logit scale).
``"mahalanobis"``
    1-NN on the covariates with the Mahalanobis distance, bias-corrected.
``"pca"``
    1-NN on the first 5 principal components of the covariates, bias-corrected.
``"mr"``
    Multiply robust (double score) matching (Yang & Zhang 2023) with its bootstrap
    SE; ATE and ATT only (skipped, with a note, for the ATC).
``"random"``
    A floor: 1-NN on a random score, i.e. a random control for each treated unit.
``"full_nsm"``, ``"full_psm"``
    Optimal full matching on the neural balancing score (the same network as
    ``"nsm"``) or on the logistic propensity score, then g-computation (MatchIt's
    recommended design and estimator; HC3 standard errors, see
    :class:`~causalsm.MatchingEstimator`).
``"optimal_psm"``, ``"subclass_psm"``, ``"cem"`` (not run by default)
    Optimal 1:1 matching and subclassification (6 strata) on the propensity score,
    and coarsened exact matching of the covariates, each followed by g-computation.

A treatment with three or more levels has its own methods
(:mod:`causalsm.comparison_multilevel`); ``"mr"`` and the designs above are for a 0/1
treatment and give a skipped row there.

Every method gets the same ``random_state``, so a row equals the corresponding
:func:`~causalsm.estimate_effect` call with that seed, and the table does not depend
on ``n_jobs``.  A method that fails gives a row of NaNs with the reason in ``error``
instead of stopping the others.
"""

from __future__ import annotations

import copy

import sys
import time
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd
from joblib import Parallel, delayed
from sklearn.base import BaseEstimator, TransformerMixin

from ._validation import (InputError, check_estimand, check_frame, check_int, check_outcome,
                          check_treatment, check_xy, treatment_kind)
from .balance import balance_table, linear_mmd

__all__ = ["compare", "METHODS", "METHOD_ALIASES", "DEFAULT_METHODS"]

#: Method name -> description (the ``description`` column of the table).
METHODS = {
    "nsm": "NSM: neural joint score (propensity + prognostic), 10-NN, bias-corrected",
    "nn_ps": "NN-PS: propensity of the NSM network",
    "psm": "PSM: logistic propensity score",
    "mahalanobis": "Mahalanobis covariate matching",
    "pca": "PCA-5: first 5 principal components",
    "mr": "multiply robust (double score) matching",
    "random": "random matching (floor)",
    "full_nsm": "full matching on the neural score, g-computation",
    "full_psm": "full matching on the propensity score, g-computation",
    "optimal_psm": "optimal 1:1 matching on the propensity score, g-computation",
    "subclass_psm": "subclassification on the propensity score, g-computation",
    "cem": "coarsened exact matching, g-computation",
}

#: The methods :func:`compare` runs when none are named.
DEFAULT_METHODS = ("nsm", "nn_ps", "psm", "mahalanobis", "pca", "mr", "random", "full_nsm",
                   "full_psm")

#: Designs other than nearest neighbour: method name -> MatchingEstimator's ``method``.
_DESIGNS = {"full_nsm": "full", "full_psm": "full", "optimal_psm": "optimal",
            "subclass_psm": "subclass", "cem": "cem"}
#: Options of nearest-neighbour matching and its Abadie-Imbens inference, not given to
#: the design rows.
_NEAREST_ONLY = {"replace", "bias_correction", "variance", "var_neighbors", "ties", "bias_fit",
                 "distance_tolerance", "drop_incomplete", "order", "estimation"}
_NEURAL = ("nsm", "nn_ps", "full_nsm")

#: Other names of the methods (of :data:`METHODS` and of the multi-level comparison's
#: ``MULTILEVEL_METHODS``): the score names of ``estimate_effect`` and short forms.
METHOD_ALIASES = {"neural": "nsm", "neural_propensity": "nn_ps", "nnps": "nn_ps",
                  "propensity": "psm", "gps": "psm", "pca5": "pca", "pca_5": "pca",
                  "double": "mr", "multiply_robust": "mr", "dsm": "mr", "full": "full_psm",
                  "optimal": "optimal_psm", "subclass": "subclass_psm",
                  "subclassification": "subclass_psm", "full_neural": "full_nsm"}

_COLUMNS = ["method", "description", "estimand", "estimate", "std_error", "ci_lower",
            "ci_upper", "p_value", "critical_gamma", "evalue", "evalue_ci", "max_abs_smd",
            "linear_mmd", "n_matched", "n_dropped", "fit_seconds", "error"]
_INT_COLUMNS = ("n_matched", "n_dropped")
_STR_COLUMNS = ("method", "description", "estimand", "error")


class RandomScore(TransformerMixin, BaseEstimator):
    """A score of independent uniform draws: matching on it picks random matches.

    The floor of a comparison: any method should balance better than this.

    Parameters
    ----------
    random_state : int or None
        Seeds the draws; ``transform`` gives the same values on every call.

    Examples
    --------
    >>> import numpy as np
    >>> s = RandomScore(random_state=0).fit(np.zeros((4, 2)), [0, 1, 0, 1])
    >>> s.transform(np.zeros((4, 2))).shape
    (4, 1)
    >>> bool(np.array_equal(s.transform(np.zeros((4, 2))), s.transform(np.ones((4, 2)))))
    True
    """

    def __init__(self, random_state: Any = None):
        self.random_state = random_state

    def fit(self, X, y=None):
        """Nothing to learn (``y``, the treatment, is not used).  Returns ``self``."""
        shape = X.shape if hasattr(X, "shape") else np.shape(X)
        self.n_features_in_ = shape[1] if len(shape) > 1 else 1
        return self

    def transform(self, X):
        """``(n, 1)`` uniform draws, the same for the same ``random_state`` and ``n``."""
        n = X.shape[0] if hasattr(X, "shape") else len(X)
        return np.random.default_rng(self.random_state).uniform(size=(n, 1))


def _trained(network, output: str):
    """A trained neural score read through ``output`` and frozen (``clone`` and ``fit``
    leave it as it is), so that the neural rows share one trained network."""
    from sklearn.frozen import FrozenEstimator
    return FrozenEstimator(copy.copy(network).set_params(output=output))


# --------------------------------------------------------------------- methods
def _resolve_methods(methods: Any, known: dict = METHODS, aliases: dict = METHOD_ALIASES,
                     also: tuple = (), default: Sequence = DEFAULT_METHODS
                     ) -> list[tuple[str, Any]]:
    """``[(label, spec)]`` where spec is a canonical method name or a score object.

    ``known`` are the methods, ``default`` those run when none are named, ``aliases``
    other names for them and ``also`` names accepted without being in ``known``."""
    if methods is None:
        return [(m, m) for m in default]
    if isinstance(methods, str):
        methods = [methods]
    items = list(methods.items()) if isinstance(methods, dict) else [(m, m) for m in methods]
    if not items:
        raise InputError("methods is empty: name at least one method")
    out, seen = [], set()
    for label, spec in items:
        if isinstance(spec, str):
            key = spec.strip().lower().replace("-", "_")
            key = aliases.get(key, key)
            if key not in known and key not in also:
                raise InputError(f"unknown method {spec!r}; use one of {', '.join(known)}, "
                                 "or a dict {label: score object}")
            spec = key
            if not isinstance(methods, dict):
                label = key
        elif not (hasattr(spec, "fit") and hasattr(spec, "transform")):
            raise InputError(f"method {label!r} must be a method name or a score with "
                             f"fit/transform, got {type(spec).__name__}")
        label = str(label)
        if label in seen:
            raise InputError(f"method {label!r} is listed twice")
        seen.add(label)
        out.append((label, spec))
    return out


def _jobs(resolved: list[tuple[str, Any]],
          neural_names: tuple = _NEURAL) -> list[list[tuple[str, Any]]]:
    """Group the methods into jobs; the neural rows (``neural_names``) share one job (one
    network)."""
    jobs, neural = [], []
    for label, spec in resolved:
        if isinstance(spec, str) and spec in neural_names:
            if not neural:
                jobs.append(neural)
            neural.append((label, spec))
        else:
            jobs.append([(label, spec)])
    return jobs


def _nan_row(label: str, description: str, estimand: str, error: str) -> dict:
    row = dict.fromkeys(_COLUMNS, float("nan"))
    row.update(method=label, description=description, estimand=estimand, error=error,
               n_matched=-1, n_dropped=-1)
    return row


def _balance(X: pd.DataFrame, t: np.ndarray, weights: np.ndarray, estimand: str):
    tab = balance_table(X, t, weights=weights, estimand=estimand)
    smd = np.abs(tab["smd_after"].to_numpy(dtype=np.float64))
    smd = float(np.nanmax(smd)) if np.isfinite(smd).any() else float("nan")
    return smd, float(linear_mmd(X, t, weights))


def _sensitivity(eff) -> tuple[float, float, float]:
    """Critical Gamma (NaN when the matched sets overlap) and the E-values."""
    try:
        crit = eff.sensitivity(gammas=[1.0]).critical_gamma
    except InputError:
        crit = float("nan")
    try:
        ev = eff.evalue()
        return crit, ev.evalue, ev.evalue_ci
    except InputError:
        return crit, float("nan"), float("nan")


def _row(label, description, est, X, t, estimand, seconds) -> dict:
    eff = est.effect_
    smd, mmd = _balance(X, t, est.matches_.weights, estimand)
    crit, ev, ev_ci = _sensitivity(eff)
    return {"method": label, "description": description, "estimand": eff.estimand,
            "estimate": eff.estimate, "std_error": eff.std_error,
            "ci_lower": eff.ci_lower, "ci_upper": eff.ci_upper,
            "p_value": eff.p_value, "critical_gamma": crit, "evalue": ev,
            "evalue_ci": ev_ci, "max_abs_smd": smd, "linear_mmd": mmd,
            "n_matched": eff.n_matched, "n_dropped": eff.n_dropped,
            "fit_seconds": seconds, "error": ""}


def _one_line(exc: BaseException) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())


def _run_job(job, X, t, y, estimand, random_state, options, neural_params, mr_params):
    """Fit the methods of one job; failures become rows with an ``error``."""
    from .estimators.average import MatchingEstimator
    from .estimators.quantile import MultiplyRobustMatching
    from .scores import CovariateScore, PCAScore, PropensityScore

    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        if isinstance(job[0][1], str) and job[0][1] in _NEURAL:
            try:
                from .scores.neural import NeuralBalancingScore   # torch: not timed
                start = time.perf_counter()
                params = {"random_state": random_state, **neural_params}
                net = NeuralBalancingScore(**params).fit(X, t, outcome=y)
            except Exception as exc:       # noqa: BLE001 - reported in the table
                return [_nan_row(label, METHODS[spec], estimand, _one_line(exc))
                        for label, spec in job]
            trained = time.perf_counter() - start
            for label, spec in job:
                start = time.perf_counter()
                try:
                    score = _trained(net, "propensity" if spec == "nn_ps" else "auto")
                    est = MatchingEstimator(balancing_score=score, estimand=estimand,
                                            random_state=random_state,
                                            **_options(spec, options)).fit(X, t, y)
                    rows.append(_row(label, METHODS[spec], est, X, t, estimand,
                                     trained + time.perf_counter() - start))
                except Exception as exc:   # noqa: BLE001
                    rows.append(_nan_row(label, METHODS[spec], estimand, _one_line(exc)))
            return rows
        (label, spec), = job
        description = METHODS[spec] if isinstance(spec, str) else type(spec).__name__
        is_mr = isinstance(spec, str) and spec == "mr"
        if is_mr and estimand == "ATC":
            return [_nan_row(label, description, estimand,
                             "skipped: multiply robust matching estimates the ATE or "
                             "ATT only")]
        start = time.perf_counter()
        try:
            if is_mr:
                shared = {k: options[k] for k in ("n_neighbors", "alpha") if k in options}
                est = MultiplyRobustMatching(estimand=estimand, random_state=random_state,
                                             **{**shared, **mr_params}).fit(X, t, y)
            else:
                score = {"mahalanobis": lambda: CovariateScore(scale="mahalanobis"),
                         "pca": lambda: PCAScore(n_components=min(5, X.shape[1])),
                         "random": lambda: RandomScore(random_state=random_state),
                         }.get(spec, PropensityScore)() if isinstance(spec, str) else spec
                est = MatchingEstimator(balancing_score=score, estimand=estimand,
                                        random_state=random_state,
                                        **_options(spec, options)).fit(X, t, y)
            rows.append(_row(label, description, est, X, t, estimand,
                             time.perf_counter() - start))
        except Exception as exc:           # noqa: BLE001
            rows.append(_nan_row(label, description, estimand, _one_line(exc)))
    return rows


def _options(spec: Any, options: dict) -> dict:
    """The estimator's options for one row: a design row gets its ``method`` and none of
    the nearest-neighbour options."""
    if not (isinstance(spec, str) and spec in _DESIGNS):
        return options
    return {**{k: v for k, v in options.items() if k not in _NEAREST_ONLY},
            "method": _DESIGNS[spec]}


def _check_params(params: Any, name: str, valid: set[str]) -> dict:
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise InputError(f"{name} must be a dict of parameters, got {type(params).__name__}")
    unknown = set(params) - valid
    if unknown:
        raise InputError(f"unknown {name} key(s) {', '.join(sorted(unknown))}; valid: "
                         f"{', '.join(sorted(valid))}")
    return dict(params)


def _truth_from(data: pd.DataFrame, estimand: str) -> float | None:
    true_effect = getattr(data, "attrs", {}).get("true_effect") or {}
    value = true_effect.get(estimand) if isinstance(true_effect, dict) else None
    return None if value is None else float(value)


# ---------------------------------------------------------------------- public
def compare(data: pd.DataFrame, treatment: str, outcome: str,
            covariates: Sequence[str] | None = None, methods: Any = None,
            estimand: str | None = None, random_state: Any = 0, n_jobs: int = 1,
            truth: float | None = None, verbose: bool = False, *,
            neural_params: dict | None = None, mr_params: dict | None = None,
            treatment_type: str = "auto", **options) -> pd.DataFrame:
    """Estimate the same effect with several matching methods, side by side.

    A continuous treatment (numeric with more than ``MAX_LEVELS`` = 10 distinct values,
    or ``treatment_type="continuous"``) goes to
    :func:`~causalsm.exposure_comparison.compare_exposure_response`: exposure-response
    curves by GPS matching and weighting, one row per method and exposure (its
    ``attrs["treatment_type"]`` says so).

    Parameters
    ----------
    data : pandas.DataFrame
        One row per unit; it is not modified.
    treatment, outcome : str
        Column names; the treatment must be 0/1 (or boolean).  A treatment with three
        or more levels gives one row per method and contrast
        (:func:`~causalsm.comparison_multilevel.compare_multilevel`), a continuous one
        exposure-response curves.
    covariates : list of str, optional
        Columns to adjust for; default all other columns.
    methods : list of str or dict, optional
        Method names (default, in this order): ``"nsm"``, ``"nn_ps"``, ``"psm"``,
        ``"mahalanobis"``, ``"pca"``, ``"mr"``, ``"random"``, ``"full_nsm"``,
        ``"full_psm"``; also ``"optimal_psm"``, ``"subclass_psm"``, ``"cem"`` (see the
        module docstring; ``"neural"``, ``"propensity"``, ``"double"``, ``"full"``,
        ``"optimal"``, ``"subclass"`` are accepted as aliases).  A dict
        ``{label: name or score object}`` adds your own scores, e.g.
        ``{"PSM (boosting)": PropensityScore(model=HistGradientBoostingClassifier())}``.
    estimand : {"ATT", "ATE", "ATC"}, optional
        Default ``"ATT"`` (``"ATE"`` for several levels).
    random_state : int or None
        Given to every method (network weights, tie-breaking, bootstrap, the random
        score), so the table is reproducible and independent of ``n_jobs``.
    n_jobs : int
        Methods run in parallel through joblib (NSM and NN-PS share one job).
    truth : float, optional
        The true effect, when known (simulations, or an experimental benchmark).
        Default: ``data.attrs["true_effect"][estimand]`` when the loader set it.
    verbose : bool
        A progress bar (tqdm, on stderr), one step per job.
    neural_params : dict, optional
        Parameters of the :class:`~causalsm.NeuralBalancingScore` behind ``"nsm"`` and
        ``"nn_ps"``, e.g. ``{"epochs": 50}``.
    mr_params : dict, optional
        Parameters of :class:`~causalsm.MultiplyRobustMatching` (``n_bootstrap``,
        ``propensity_models``, ``prognostic_models``...).
    treatment_type : {"auto", "binary", "multilevel", "continuous"}
        ``"auto"`` (default): detected by :func:`~causalsm._validation.treatment_kind`
        (two values: binary; numbers with more than 10 distinct values: continuous;
        otherwise several levels).
    **options
        Parameters of :class:`~causalsm.MatchingEstimator` for every matching method:
        ``n_neighbors``, ``replace``, ``caliper``, ``bias_correction``, ``variance``...
        (``n_neighbors`` and ``alpha`` also reach multiply robust matching).

    Returns
    -------
    pandas.DataFrame
        One row per method, plain float64/int64/str columns: ``method``,
        ``description``, ``estimand``, ``estimate``, ``std_error``, ``ci_lower``,
        ``ci_upper``, ``p_value``, ``critical_gamma`` (Rosenbaum's: the largest hidden
        bias Gamma at which the two-sided test of no effect still rejects at ``alpha``;
        NaN with replacement, whose matched sets overlap; see
        :meth:`EffectResult.sensitivity`), ``evalue`` and ``evalue_ci`` (E-values of
        the estimate and of its interval, :meth:`EffectResult.evalue`),
        ``max_abs_smd`` and ``linear_mmd`` (balance of the
        covariates after matching; :func:`~causalsm.balance.balance_table` and
        :func:`~causalsm.balance.linear_mmd` with the matching weights), ``n_matched``
        and ``n_dropped`` (-1 when the method failed), ``fit_seconds`` and ``error``
        (empty, or why the row is NaN).  With a known truth: ``truth``, ``abs_error``
        (``|estimate - truth|``) and ``covers_truth`` (the interval contains it).
        ``table.attrs`` holds ``estimand``, ``truth``, ``n_treated``, ``n_control``
        and the balance before matching (``max_abs_smd_before``,
        ``linear_mmd_before``).

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_lalonde()
    >>> tab = csm.compare(df, treatment="treat", outcome="re78",
    ...                   covariates=["age", "educ", "black", "re74", "re75"],
    ...                   methods=["psm", "mahalanobis", "random"], truth=1794.34)
    >>> tab[["method", "n_matched"]].values.tolist()
    [['psm', 185], ['mahalanobis', 185], ['random', 185]]
    >>> bool(tab.loc[1, "max_abs_smd"] < tab.loc[2, "max_abs_smd"])   # random: the floor
    True
    >>> list(tab.columns[-4:])
    ['truth', 'abs_error', 'covers_truth', 'error']
    """
    from .estimators.average import MatchingEstimator
    from .estimators.quantile import MultiplyRobustMatching
    from .exposure_comparison import compare_exposure_response

    if isinstance(data, pd.DataFrame) and isinstance(treatment, str) \
            and treatment in data.columns:
        kind = treatment_kind(data[treatment], treatment_type)
        if kind == "continuous":
            if neural_params or mr_params:
                raise InputError("neural_params and mr_params apply to a binary treatment; "
                                 f"'{treatment}' is continuous")
            return compare_exposure_response(data, treatment, outcome, covariates, methods,
                                             random_state=random_state, n_jobs=n_jobs,
                                             truth=truth, verbose=verbose, **options)
        if kind == "multilevel":
            from .comparison_multilevel import compare_multilevel
            if mr_params:
                raise InputError("mr_params: multiply robust matching is for a 0/1 treatment")
            return compare_multilevel(data, treatment, outcome, covariates, methods, estimand,
                                      random_state, n_jobs, truth, verbose,
                                      neural_params=neural_params, **options)
    estimand = check_estimand("ATT" if estimand is None else estimand)
    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    X = frame[covariates]
    checked = check_xy(X, check_treatment(frame[treatment], name=treatment),
                       check_outcome(frame[outcome], name=outcome), min_per_arm=2)
    t, y = checked.t, checked.y
    X = pd.DataFrame(checked.X, columns=checked.columns, index=frame.index)
    resolved = _resolve_methods(methods)
    valid = set(MatchingEstimator().get_params()) - {"balancing_score", "estimand", "random_state"}
    options = _check_params(options, "option", valid)
    if any(isinstance(spec, str) and spec in _NEURAL for _, spec in resolved) or neural_params:
        from .scores.neural import NeuralBalancingScore
        neural_params = _check_params(neural_params, "neural_params",
                                      set(NeuralBalancingScore().get_params()))
    else:
        neural_params = {}
    mr_params = _check_params(mr_params, "mr_params",
                              set(MultiplyRobustMatching().get_params()) - {"estimand"})
    if truth is None:
        truth = _truth_from(data, estimand)
    elif not np.isfinite(float(truth)):
        raise InputError(f"truth must be a finite number, got {truth!r}")
    n_jobs = 1 if n_jobs is None else check_int(n_jobs, "n_jobs", minimum=None)

    jobs = _jobs(resolved)
    if n_jobs > len(jobs):
        n_jobs = len(jobs)
    calls = (delayed(_run_job)(job, X, t, y, estimand, random_state, options, neural_params,
                               mr_params) for job in jobs)
    runner = Parallel(n_jobs=n_jobs, return_as="generator")
    from tqdm import tqdm
    rows: dict[str, dict] = {}
    with tqdm(total=len(resolved), desc="compare", unit="method", disable=not verbose,
              file=sys.stderr) as bar:
        for job_rows in runner(calls):
            rows.update((r["method"], r) for r in job_rows)
            bar.update(len(job_rows))
    table = pd.DataFrame([rows[label] for label, _ in resolved], columns=_COLUMNS)
    for c in table.columns:
        table[c] = table[c].astype(np.int64 if c in _INT_COLUMNS else
                                   object if c in _STR_COLUMNS else np.float64)
    if truth is not None:
        truth = float(truth)
        at = table.columns.get_loc("error")
        table.insert(at, "truth", truth)
        table.insert(at + 1, "abs_error", (table["estimate"] - truth).abs())
        table.insert(at + 2, "covers_truth", ((table["ci_lower"] <= truth)
                                              & (truth <= table["ci_upper"])).astype(bool))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = balance_table(X, t, estimand=estimand)["smd_before"].abs().max()
        mmd_before = linear_mmd(X, t)
    table.attrs.update({"estimand": estimand, "truth": truth,
                        "n_treated": int(t.sum()), "n_control": int((1 - t).sum()),
                        "max_abs_smd_before": float(before),
                        "linear_mmd_before": float(mmd_before)})
    return table
