"""Several GPS methods on one continuous treatment, side by side: the branch of
:func:`causalsm.compare` (and ``causalsm compare``) for a continuous exposure.

Each method is a GPS model with a design: ``"matching"`` (normal GPS), ``"matching_kernel"``,
``"matching_score_matching"``, ``"weighting"``, ``"weighting_kernel"``,
``"weighting_score_matching"``.  Each row of the table is one method at one exposure: the
curve with its bootstrap interval and band, the covariates' largest absolute correlation
with the exposure before and after, the effective sample size, the units used and trimmed,
the time taken and, when the true curve is known, the error.
"""

from __future__ import annotations

import sys
import time
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ._validation import InputError, check_exposure, check_int, check_outcome

__all__ = ["compare_exposure_response", "EXPOSURE_METHODS"]

#: Method name -> (design, GPS model, description).
EXPOSURE_METHODS = {
    "matching": ("matching", "normal", "GPS matching, normal GPS (OLS mean)"),
    "matching_kernel": ("matching", "kernel", "GPS matching, kernel density of residuals"),
    "matching_score_matching": ("matching", "score_matching",
                                "GPS matching, score-matching density (energy network)"),
    "weighting": ("weighting", "normal", "stabilised GPS weighting, normal GPS"),
    "weighting_kernel": ("weighting", "kernel", "stabilised GPS weighting, kernel GPS"),
    "weighting_score_matching": ("weighting", "score_matching",
                                 "stabilised GPS weighting, score-matching density"),
}
_DEFAULT = ("matching", "matching_kernel", "matching_score_matching", "weighting")
_COLUMNS = ["method", "description", "exposure", "estimate", "std_error", "ci_lower",
            "ci_upper", "band_lower", "band_upper", "max_abs_corr_before",
            "max_abs_corr_after", "ess", "n_used", "n_dropped", "fit_seconds", "error"]


def _resolve(methods: Any) -> list[str]:
    if methods is None:
        return list(_DEFAULT)
    if isinstance(methods, str):
        methods = [methods]
    out = []
    for m in methods:
        key = str(m).strip().lower().replace("-", "_")
        if key not in EXPOSURE_METHODS:
            raise InputError(f"unknown method {m!r} for a continuous treatment; use one of "
                             f"{', '.join(EXPOSURE_METHODS)}")
        if key in out:
            raise InputError(f"method {m!r} is listed twice")
        out.append(key)
    if not out:
        raise InputError("methods is empty: name at least one method")
    return out


def _truth_curve(truth: Any, data: pd.DataFrame):
    if truth is None:
        coef = getattr(data, "attrs", {}).get("true_erf_polynomial")
        if coef is None:
            return None
        return lambda w: np.polynomial.polynomial.polyval(w, np.asarray(coef, dtype=float))
    if not callable(truth):
        raise InputError("truth must be a callable giving the true curve at exposures "
                         "(for a continuous treatment)")
    return truth


def _run(name, X, w, y, points, n_bootstrap, random_state, options):
    from .api import exposure_response
    design, gps, description = EXPOSURE_METHODS[name]
    start = time.perf_counter()
    frame = pd.concat([X.reset_index(drop=True),
                       pd.DataFrame({"__w": w, "__y": y})], axis=1)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            res = exposure_response(frame, "__w", "__y", list(X.columns), gps=gps,
                                    method=design, eval_points=points,
                                    n_bootstrap=n_bootstrap, random_state=random_state,
                                    **options)
    except Exception as exc:                     # noqa: BLE001 - reported in the table
        row = dict.fromkeys(_COLUMNS, np.nan)
        row.update(method=name, description=description, exposure=np.nan,
                   error=" ".join(f"{type(exc).__name__}: {exc}".split()), n_used=-1,
                   n_dropped=-1)
        return pd.DataFrame([row])
    seconds = time.perf_counter() - start
    out = res.to_frame().drop(columns="p_value")
    out.insert(0, "method", name)
    out.insert(1, "description", description)
    out["max_abs_corr_before"] = res.balance.attrs["max_abs_corr_before"]
    out["max_abs_corr_after"] = res.balance.attrs["max_abs_corr_after"]
    out["ess"] = res.details.get("ess", np.nan)
    out["n_used"], out["n_dropped"] = res.n_used, res.n_dropped
    out["fit_seconds"], out["error"] = seconds, ""
    return out[_COLUMNS]


def compare_exposure_response(data: pd.DataFrame, treatment: str, outcome: str,
                              covariates: Sequence[str] | None = None, methods: Any = None,
                              random_state: Any = 0, n_jobs: int = 1, truth: Any = None,
                              verbose: bool = False, *, eval_points: Any = 20,
                              n_bootstrap: int = 200, **options) -> pd.DataFrame:
    """Estimate one exposure-response curve with several GPS methods.

    Parameters
    ----------
    data : pandas.DataFrame
        Not modified.
    treatment, outcome : str
        The continuous exposure and the outcome.
    covariates : list of str, optional
        Default all other columns.
    methods : list of str, optional
        From :data:`EXPOSURE_METHODS`; default ``matching``, ``matching_kernel``,
        ``matching_score_matching`` and ``weighting``.
    random_state : int or None
        Given to every method (bootstrap, networks).
    n_jobs : int
        Methods run in parallel (joblib).
    truth : callable, optional
        The true curve; default from ``data.attrs["true_erf_polynomial"]`` (simulators).
    verbose : bool
        A progress bar.
    eval_points : int or array-like
        Exposures at which every curve is reported (default 20 points over the 5-95%
        range of the exposure).
    n_bootstrap : int
    **options
        Passed to :func:`causalsm.exposure_response` (``smoother``, ``delta_n``, ``scale``,
        ``trim_exposure``, ...).

    Returns
    -------
    pandas.DataFrame
        One row per method and exposure (plain float64/int64/str columns): ``method``,
        ``description``, ``exposure``, ``estimate``, ``std_error``, ``ci_lower``,
        ``ci_upper``, ``band_lower``, ``band_upper``, ``max_abs_corr_before``,
        ``max_abs_corr_after``, ``ess``, ``n_used``, ``n_dropped``, ``fit_seconds``,
        ``error``; with a known truth also ``truth``, ``abs_error`` and
        ``covers_truth``.  ``attrs`` hold ``treatment_type = "continuous"``, ``n`` and,
        with a truth, ``integrated_abs_error`` per method.

    Examples
    --------
    >>> import causalsm as csm
    >>> df = csm.datasets.simulate_causalgps(400, random_state=0)
    >>> tab = compare_exposure_response(df, "w", "Y", methods=["matching", "weighting"],
    ...                                 eval_points=[5.0, 10.0], n_bootstrap=0)
    >>> tab[["method", "exposure"]].values.tolist()
    [['matching', 5.0], ['matching', 10.0], ['weighting', 5.0], ['weighting', 10.0]]
    """
    from joblib import Parallel, delayed

    from ._validation import check_frame
    frame, covariates = check_frame(data, treatment=treatment, outcome=outcome,
                                    covariates=covariates)
    w = check_exposure(frame[treatment], name=treatment)
    y = check_outcome(frame[outcome], name=outcome)
    names = _resolve(methods)
    curve = _truth_curve(truth, data)
    if np.ndim(eval_points) == 0:
        q5, q95 = np.quantile(w, [0.05, 0.95])
        points = np.linspace(q5, q95, check_int(eval_points, "eval_points", minimum=2))
    else:
        points = np.asarray(eval_points, dtype=np.float64).ravel()
    X = frame[covariates]
    n_jobs = min(len(names), 1 if n_jobs is None else check_int(n_jobs, "n_jobs", minimum=None))
    from tqdm import tqdm
    parts = {}
    calls = (delayed(_run)(m, X, w, y, points, n_bootstrap, random_state, options)
             for m in names)
    with tqdm(total=len(names), desc="compare", unit="method", disable=not verbose,
              file=sys.stderr) as bar:
        for part in Parallel(n_jobs=n_jobs, return_as="generator")(calls):
            parts[part["method"].iloc[0]] = part
            bar.update(1)
    table = pd.concat([parts[m] for m in names], ignore_index=True)
    for c in table.columns:
        table[c] = table[c].astype(np.int64 if c in ("n_used", "n_dropped") else
                                   object if c in ("method", "description", "error")
                                   else np.float64)
    table.attrs.update({"treatment_type": "continuous", "n": int(w.size),
                        "treatment": treatment, "outcome": outcome})
    if curve is not None:
        true = np.asarray(curve(table["exposure"].to_numpy()), dtype=np.float64)
        at = table.columns.get_loc("error")
        table.insert(at, "truth", true)
        table.insert(at + 1, "abs_error", (table["estimate"] - true).abs())
        table.insert(at + 2, "covers_truth", ((table["ci_lower"] <= true)
                                              & (true <= table["ci_upper"])).astype(bool))
        table.attrs["integrated_abs_error"] = {
            m: float(g["abs_error"].mean()) for m, g in table.groupby("method", sort=False)}
    return table
