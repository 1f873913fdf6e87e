"""Several methods side by side for a treatment with three or more levels.

:func:`causalsm.compare` calls :func:`compare_multilevel` when the treatment column has
three or more levels.  Each method estimates the contrasts of
:class:`~causalsm.MultilevelMatching` (or subclassification); the table has one row
per (method, contrast).  The methods:

``"nsm"``
    The neural balancing score (softmax head, 5-d bottleneck), every level matched on
    the whole score, bias-corrected.
``"nn_ps"``
    The generalised propensity score of the *same* network, level ``w`` matched on
    its column ``w``.
``"psm"``
    The multinomial logistic generalised propensity score, level ``w`` matched on
    ``r(w, X)`` (Yang et al. 2016), with the Abadie-Imbens (2016) variance for the ATE.
``"mahalanobis"``
    The covariates with the Mahalanobis distance, bias-corrected.
``"pca"``
    The first 5 principal components, bias-corrected.
``"subclass_psm"``
    Subclassification on the multinomial logistic GPS with a bootstrap variance
    (ATE only).
``"random"``
    A floor: matching on a random score.

The 0/1 treatment's ``"mr"`` and MatchIt's designs (``"full_nsm"``, ``"full_psm"``,
``"optimal_psm"``, ``"subclass_psm"``, ``"cem"``; aliases ``"full"``, ``"optimal"``)
are accepted and give a row saying they were skipped.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any

import numpy as np
import pandas as pd
from joblib import Parallel, delayed

from ._validation import InputError, check_array, check_frame, check_int, check_levels
from .balance import balance_table, linear_mmd
from .comparison import METHOD_ALIASES, METHODS, _jobs, _resolve_methods

__all__ = ["compare_multilevel", "MULTILEVEL_METHODS"]

#: Method name -> description, for a treatment with several levels.
MULTILEVEL_METHODS = {
    "nsm": "NSM: neural balancing score (ensemble, softmax head: its log-ratios)",
    "nn_ps": "NN-GPS: generalised propensity of the NSM network",
    "psm": "GPS: multinomial logistic generalised propensity score",
    "mahalanobis": "Mahalanobis covariate matching",
    "pca": "PCA-5: first 5 principal components",
    "subclass_psm": "GPS subclassification (5 per level, bootstrap SE)",
    "random": "random matching (floor)",
}
#: Methods of the 0/1 comparison that have no multi-level version: a skipped row.
_TWO_LEVEL_ONLY = ("mr", "full_nsm", "full_psm", "optimal_psm", "cem")
_SUBCLASS_OPTIONS = ("n_strata", "n_bootstrap")
_COLUMNS = ["method", "description", "estimand", "target", "contrast", "level", "reference",
            "estimate", "std_error", "ci_lower", "ci_upper", "p_value", "max_abs_smd",
            "linear_mmd", "n_matched", "n_dropped", "fit_seconds", "error"]


def _rows_of(label, description, est, X, codes, seconds) -> list[dict]:
    """One row per contrast, with the balance of its two levels after matching."""
    eff = est.effect_
    frame = eff.to_frame()
    w = getattr(est, "weights_", None)
    X = np.asarray(X, dtype=np.float64)
    levels = eff.levels
    rows = []
    for r in frame.itertuples(index=False):
        a, b = levels.index(r.level), levels.index(r.reference)
        smd = mmd = float("nan")
        if w is not None:
            sel = np.flatnonzero((codes == a) | (codes == b))
            t2 = (codes[sel] == a).astype(np.int64)
            if (w[sel][t2 == 1] > 0).any() and (w[sel][t2 == 0] > 0).any():
                tab = balance_table(X[sel], t2, weights=w[sel], estimand="ATE")
                v = np.abs(tab["smd_after"].to_numpy(np.float64))
                smd = float(np.nanmax(v)) if np.isfinite(v).any() else float("nan")
                mmd = float(linear_mmd(X[sel], t2, w[sel]))
        rows.append({"method": label, "description": description, "estimand": eff.estimand,
                     "target": "" if eff.target is None else eff.target,
                     "contrast": r.contrast, "level": r.level, "reference": r.reference,
                     "estimate": r.estimate, "std_error": r.std_error,
                     "ci_lower": r.ci_lower, "ci_upper": r.ci_upper, "p_value": r.p_value,
                     "max_abs_smd": smd, "linear_mmd": mmd, "n_matched": eff.n_matched,
                     "n_dropped": eff.n_dropped, "fit_seconds": seconds, "error": ""})
    return rows


def _failed(label, description, estimand, target, error) -> list[dict]:
    row = dict.fromkeys(_COLUMNS, float("nan"))
    row.update(method=label, description=description, estimand=estimand,
               target="" if target is None else str(target), contrast="", level="",
               reference="", n_matched=-1, n_dropped=-1, error=error)
    return [row]


def _run(job, X, labels, codes, y, estimand, target, random_state, options, neural_params,
         sub_options):
    from .comparison import RandomScore, _one_line, _trained
    from .estimators.multilevel import MultilevelMatching, MultilevelSubclassification
    from .scores import CovariateScore, PCAScore
    from .scores.gps import GeneralizedPropensityScore

    t = pd.Categorical.from_codes(codes, categories=labels)
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if isinstance(job[0][1], str) and job[0][1] in ("nsm", "nn_ps"):
            try:
                from .scores.neural import NeuralBalancingScore
                start = time.perf_counter()
                net = NeuralBalancingScore(**{"random_state": random_state,
                                              **neural_params}).fit(X, codes)
                trained = time.perf_counter() - start
            except Exception as exc:       # noqa: BLE001 - reported in the table
                return [r for lab, spec in job for r in _failed(
                    lab, MULTILEVEL_METHODS[spec], estimand, target, _one_line(exc))]
            for lab, spec in job:
                start = time.perf_counter()
                try:
                    by_level = spec == "nn_ps"
                    score = _trained(net, "propensity" if by_level else "auto")
                    est = MultilevelMatching(balancing_score=score, score_by_level=by_level,
                                             target=target, random_state=random_state,
                                             **options).fit(X, t, y)
                    out += _rows_of(lab, MULTILEVEL_METHODS[spec], est, X, codes,
                                    trained + time.perf_counter() - start)
                except Exception as exc:   # noqa: BLE001
                    out += _failed(lab, MULTILEVEL_METHODS[spec], estimand, target,
                                   _one_line(exc))
            return out
        (lab, spec), = job
        description = ((MULTILEVEL_METHODS.get(spec) or METHODS[spec])
                       if isinstance(spec, str) else type(spec).__name__)
        if isinstance(spec, str) and spec in _TWO_LEVEL_ONLY:
            what = ("multiply robust matching" if spec == "mr" else
                    f"{spec!r} (a MatchIt design followed by g-computation)")
            return _failed(lab, description, estimand, target,
                           f"skipped: {what} is for a 0/1 treatment")
        if isinstance(spec, str) and spec == "subclass_psm" and target is not None:
            return _failed(lab, description, estimand, target,
                           "skipped: subclassification estimates population contrasts "
                           "(estimand 'ATE') only")
        start = time.perf_counter()
        try:
            if isinstance(spec, str) and spec == "subclass_psm":
                keep = {k: v for k, v in options.items()
                        if k in ("reference", "contrasts", "alpha", "p_adjust")}
                est = MultilevelSubclassification(random_state=random_state, **keep,
                                                  **sub_options).fit(X, t, y)
            else:
                score = ({"psm": lambda: GeneralizedPropensityScore(),
                          "mahalanobis": lambda: CovariateScore(scale="mahalanobis"),
                          "pca": lambda: PCAScore(n_components=min(5, X.shape[1])),
                          "random": lambda: RandomScore(random_state=random_state),
                          }[spec]() if isinstance(spec, str) else spec)
                est = MultilevelMatching(balancing_score=score, target=target,
                                         random_state=random_state, **options).fit(X, t, y)
            out += _rows_of(lab, description, est, X, codes, time.perf_counter() - start)
        except Exception as exc:           # noqa: BLE001
            out += _failed(lab, description, estimand, target, _one_line(exc))
    return out


def _truth(data: pd.DataFrame, truth: Any, target: Any, labels: list[str]) -> dict | None:
    """``{contrast label: true value}``: given, or from ``attrs["true_means"]`` when they
    describe the population compared (all units, or the recipients of ``target``)."""
    if truth is not None:
        if not isinstance(truth, dict):
            raise InputError("with several treatment levels, truth must be a dict "
                             "{'level - reference': value}")
        return {str(k): float(v) for k, v in truth.items()}
    attrs = getattr(data, "attrs", {}) or {}
    means = attrs.get("true_means")
    if not isinstance(means, dict):
        return None
    where = attrs.get("true_means_target")
    if (where is None) != (target is None) or (where is not None and str(where) != str(target)):
        return None
    means = {str(k): float(v) for k, v in means.items()}
    return {f"{a} - {b}": means[a] - means[b] for a in labels for b in labels
            if a != b and a in means and b in means}


def compare_multilevel(data: pd.DataFrame, treatment: str, outcome: str, covariates=None,
                       methods: Any = None, estimand: str | None = None,
                       random_state: Any = 0, n_jobs: int = 1, truth: Any = None,
                       verbose: bool = False, *, neural_params: dict | None = None,
                       **options) -> pd.DataFrame:
    """:func:`causalsm.compare` for a treatment with three or more levels.

    Parameters
    ----------
    data, treatment, outcome, covariates, random_state, n_jobs, verbose, neural_params :
        As in :func:`~causalsm.compare`.
    methods : list of str or dict, optional
        Names (default all, in this order): ``"nsm"``, ``"nn_ps"``, ``"psm"``,
        ``"mahalanobis"``, ``"pca"``, ``"subclass_psm"``, ``"random"`` (see the module
        docstring), or ``{label: name or score object}``.
    estimand : {"ATE", "ATT"}, optional
        ``"ATE"`` (default): contrasts over all units; ``"ATT"``: over the units that
        received ``target=`` (an option).
    truth : dict, optional
        ``{"level - reference": value}``.  Default: from ``data.attrs["true_means"]``
        when they describe the compared population (``true_means_target``).
    **options
        Parameters of :class:`~causalsm.MultilevelMatching` for every matching method
        (``target``, ``reference``, ``contrasts``, ``n_neighbors``, ``trim``,
        ``p_adjust``...); ``n_strata`` and ``n_bootstrap`` go to subclassification.

    Returns
    -------
    pandas.DataFrame
        One row per (method, contrast): ``method``, ``description``, ``estimand``,
        ``target``, ``contrast``, ``level``, ``reference``, ``estimate``,
        ``std_error``, ``ci_lower``, ``ci_upper``, ``p_value``, ``max_abs_smd`` and
        ``linear_mmd`` (balance of the contrast's two levels after matching, each
        weighted as in the estimate), ``n_matched``, ``n_dropped``, ``fit_seconds``,
        ``error``; with a known truth also ``truth``, ``abs_error``, ``covers_truth``.
        ``attrs`` holds ``estimand``, ``target``, ``levels``, ``n_per_level``, ``truth``
        and the largest pairwise ``max_abs_smd_before``.

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.load_actg175_multiarm()
    >>> tab = csm.compare(df, "arms", "cd420", df.attrs["covariates"],
    ...                   methods=["psm", "mahalanobis"], estimand="ATT", target=0,
    ...                   contrasts="reference")
    >>> tab[["method", "contrast"]].values.tolist()[:3]
    [['psm', '1 - 0'], ['psm', '2 - 0'], ['psm', '3 - 0']]
    >>> bool(tab.loc[tab["method"] == "mahalanobis", "covers_truth"].all())
    True
    """
    from tqdm import tqdm

    from .estimators.multilevel import MultilevelMatching

    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    estimand = "ATE" if estimand is None else str(estimand).upper()
    target = options.pop("target", None)
    if estimand not in ("ATE", "ATT"):
        raise InputError(f"estimand {estimand!r} with several treatment levels: use 'ATE' or "
                         "'ATT' with target=<level>")
    if estimand == "ATT" and target is None:
        raise InputError("estimand='ATT' with several treatment levels needs target=<level>")
    if estimand == "ATE" and target is not None:
        raise InputError("target= is for estimand='ATT'")
    codes, levels = check_levels(frame[treatment], name=treatment, min_per_level=2)
    labels = [str(v) for v in levels]
    if target is not None and str(target) not in labels:
        raise InputError(f"target {target!r} is not a level of '{treatment}' "
                         f"({', '.join(labels)})")
    Xa, names, _ = check_array(frame[covariates])
    X = pd.DataFrame(Xa, columns=names, index=frame.index)
    from ._validation import check_outcome
    y = check_outcome(frame[outcome], name=outcome)
    sub_options = {k: options.pop(k) for k in _SUBCLASS_OPTIONS if k in options}
    valid = set(MultilevelMatching().get_params()) - {"balancing_score", "target", "random_state"}
    unknown = set(options) - valid
    if unknown:
        from .api import multilevel_option_error
        raise multilevel_option_error(unknown, valid | set(_SUBCLASS_OPTIONS) | {"target"},
                                      "several treatment levels")
    if neural_params is None:
        neural_params = {}
    elif not isinstance(neural_params, dict):
        raise InputError("neural_params must be a dict of parameters")
    resolved = _resolve_methods(methods, MULTILEVEL_METHODS, METHOD_ALIASES, _TWO_LEVEL_ONLY,
                                default=MULTILEVEL_METHODS)
    jobs = _jobs(resolved, ("nsm", "nn_ps"))
    tgt = None if target is None else levels[labels.index(str(target))]
    n_jobs = 1 if n_jobs is None else min(check_int(n_jobs, "n_jobs", minimum=None),
                                          len(jobs))
    calls = (delayed(_run)(job, X, labels, codes, y, estimand, tgt, random_state, options,
                           neural_params, sub_options) for job in jobs)
    rows: dict[str, list] = {}
    with tqdm(total=len(resolved), desc="compare", unit="method", disable=not verbose,
              file=sys.stderr) as bar:
        for job_rows in Parallel(n_jobs=n_jobs, return_as="generator")(calls):
            for r in job_rows:
                rows.setdefault(r["method"], []).append(r)
            bar.update(len({r["method"] for r in job_rows}))
    table = pd.DataFrame([r for label, _ in resolved for r in rows[label]], columns=_COLUMNS)
    for c in table.columns:
        table[c] = table[c].astype(np.int64 if c in ("n_matched", "n_dropped") else
                                   object if c in ("method", "description", "estimand",
                                                   "target", "contrast", "level",
                                                   "reference", "error") else np.float64)
    truths = _truth(data, truth, target, labels)
    if truths is not None:
        at = table.columns.get_loc("error")
        tv = table["contrast"].map(truths).astype(np.float64)
        table.insert(at, "truth", tv)
        table.insert(at + 1, "abs_error", (table["estimate"] - tv).abs())
        table.insert(at + 2, "covers_truth", ((table["ci_lower"] <= tv)
                                              & (tv <= table["ci_upper"])).astype(bool))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        before = balance_table(X, pd.Categorical.from_codes(codes, categories=labels),
                               comparisons="pairwise", estimand="ATE")["smd_before"]
    table.attrs.update({"estimand": estimand, "target": None if target is None else str(target),
                        "levels": labels,
                        "n_per_level": {a: int(n) for a, n in
                                        zip(labels, np.bincount(codes, minlength=len(labels)))},
                        "truth": truths, "max_abs_smd_before": float(before.abs().max())})
    return table
