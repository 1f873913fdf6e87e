"""The Python half of the R package causalsm.

Every function here returns plain Python values (str, float, int, bool, and lists and
dicts of them), which every version of reticulate converts, including the versions
older than 1.38 that cannot convert NumPy 2 arrays.  ``call`` runs a causalsm call with
Python's warnings collected, so that R re-issues them as R warnings.
"""

import warnings

import numpy as np
import pandas as pd


def call(fun, args, kwargs):
    """``(fun(*args, **kwargs), [warning messages])``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = fun(*args, **kwargs)
    messages = []
    for w in caught:
        text = str(w.message)
        if text not in messages:
            messages.append(text)
    return value, messages


def _column(col: pd.Series):
    if pd.api.types.is_bool_dtype(col):
        return "logical", [bool(v) for v in col]
    if pd.api.types.is_integer_dtype(col):
        return "integer", [int(v) for v in col]
    if pd.api.types.is_numeric_dtype(col):
        return "double", [float(v) for v in col]
    return "character", [None if v is None or (isinstance(v, float) and np.isnan(v))
                         else str(v) for v in col]


def frame(df: pd.DataFrame, index: bool = False) -> dict:
    """A DataFrame as ``{"names", "types", "columns", "index"}`` of plain lists."""
    types, columns = zip(*(_column(df.iloc[:, j]) for j in range(df.shape[1]))) \
        if df.shape[1] else ((), ())
    return {"names": [str(c) for c in df.columns], "types": list(types),
            "columns": list(columns),
            "index": [str(i) for i in df.index] if index else None}


def plain(values) -> list:
    """An array (or list) as a plain list."""
    return np.asarray(values).tolist()


def result(res) -> dict:
    """An effect result: its fields, its table and its printed summary."""
    out = {"fields": res.to_dict(), "table": frame(res.to_frame()),
           "summary": str(res.summary())}
    return out


def conf_int(res, alpha: float) -> list:
    """The interval(s) at level ``1 - alpha`` as a list of ``[lower, upper]`` rows."""
    return np.atleast_2d(np.asarray(res.conf_int(alpha), dtype=float)).tolist()


def km_curve(time, event, weight) -> dict:
    """The weighted Kaplan-Meier curve (``causalsm.estimators.cox.weighted_km``) as a
    step function from time 0."""
    from causalsm.estimators.cox import weighted_km
    times, surv = weighted_km(time, event, weight)
    return {"time": [0.0] + times.tolist(), "survival": [1.0] + surv.tolist()}


def survival_curves(res) -> dict | None:
    """A hazard-ratio result's matched, weighted sample as its two Kaplan-Meier curves."""
    if res._data is None:
        return None
    T, d, a, w = (np.asarray(v, dtype=float) for v in res._data)
    return {"control": km_curve(T[a == 0], d[a == 0], w[a == 0]),
            "treated": km_curve(T[a == 1], d[a == 1], w[a == 1]),
            "horizon": float(T.max())}


def match_units(data, treatment, covariates=None, score="propensity", estimand="ATT",
                **options):
    """The design stage of ``estimate_effect`` (``MatchingEstimator.match``): the
    weights, the pairs, the score matched on and the balance table."""
    from causalsm._validation import check_frame, coerce_int_options
    from causalsm.api import matching_estimator

    frame_, covariates = check_frame(data, treatment=treatment, covariates=covariates)
    est = matching_estimator(score, estimand, coerce_int_options(options))
    m = est.match(frame_[covariates], frame_[treatment])
    S = np.asarray(m.score, dtype=float).reshape(m.n, -1)
    return {"weights": np.asarray(m.weights, dtype=float).tolist(),
            "treated": np.asarray(m.treatment, dtype=float).tolist(),
            "score": [S[:, j].tolist() for j in range(S.shape[1])],
            "pairs": frame(m.pairs()),
            "balance": frame(est.balance().reset_index()),
            "estimand": m.estimand, "n_matched": int(m.n_matched),
            "n_dropped": int(m.n_dropped),
            "score_name": type(est.balancing_score_).__name__}


def balance(data, treatment, covariates=None, weights=None, estimand="ATT", **options):
    """``balance_table`` of a data frame's columns, as a plain table."""
    from causalsm._validation import check_frame, check_treatment
    from causalsm.balance import balance_table
    frame_, covariates = check_frame(data, treatment=treatment, covariates=covariates)
    t = check_treatment(frame_[treatment], name=treatment)
    w = None if weights is None else np.asarray(weights, dtype=float)
    table = balance_table(frame_[covariates], t, weights=w, estimand=estimand, **options)
    return frame(table.reset_index())
