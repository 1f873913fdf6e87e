"""Input checks shared by every entry point.

Everything the user hands to causalsm passes through here once: DataFrames or
arrays come in, clean float64 arrays, column names and the original index come
out, or an :class:`InputError` that names the column and the problem.  Inputs
are never modified in place.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["InputError", "Data", "check_array", "check_fitted_array", "check_treatment", "check_outcome",
           "check_xy", "check_frame", "check_estimand", "check_int", "ESTIMANDS"]

ESTIMANDS = ("ATT", "ATC", "ATE")


class InputError(ValueError):
    """Bad user input; the message names the column and the problem."""


@dataclass(frozen=True)
class Data:
    """Validated data: float covariates, 0/1 treatment, optional outcome."""

    X: np.ndarray                 # (n, p) float64
    t: np.ndarray                 # (n,) int64 in {0, 1}
    y: np.ndarray | None          # (n,) float64 or None
    columns: list[str]            # covariate names
    index: pd.Index               # original row labels

    @property
    def n(self) -> int:
        return self.t.shape[0]


def _names(X: Any, p: int) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(p)]


def check_array(X: Any, *, name: str = "X", columns: Sequence[str] | None = None,
                allow_constant: bool = True) -> tuple[np.ndarray, list[str], pd.Index]:
    """Return ``(float64 2-d copy, column names, index)`` or raise :class:`InputError`.

    Accepts a DataFrame, Series, 2-d/1-d array or nested lists.  Boolean and integer
    columns become floats; a string, categorical or object column is an error that
    names the column.

    >>> X, cols, idx = check_array(pd.DataFrame({"a": [1, 2], "b": [True, False]}))
    >>> X.dtype, cols
    (dtype('float64'), ['a', 'b'])
    """
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        index = X.index
        names = [str(c) for c in X.columns]
        for c in X.columns:
            col = X[c]
            if not (pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
                raise InputError(
                    f"column '{c}' of {name} is not numeric (dtype {col.dtype}); "
                    "encode it as numbers (e.g. pd.get_dummies) before matching")
            if col.isna().any():
                raise InputError(
                    f"column '{c}' of {name} has {int(col.isna().sum())} missing value(s); "
                    "impute or drop them first")
        arr = X.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)
    else:
        try:
            arr = np.array(X, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as err:
            raise InputError(f"{name} must be numeric: {err}") from None
        index = pd.RangeIndex(arr.shape[0] if arr.ndim else 0)
        names = None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise InputError(f"{name} must be 2-dimensional, got shape {arr.shape}")
    if names is None:
        names = list(columns) if columns is not None else [f"x{j}" for j in range(arr.shape[1])]
    if len(names) != arr.shape[1]:
        raise InputError(f"{name} has {arr.shape[1]} columns but {len(names)} names were given")
    bad = ~np.isfinite(arr)
    if bad.any():
        j = int(np.argmax(bad.any(axis=0)))
        what = "missing (NaN)" if np.isnan(arr[:, j]).any() else "infinite"
        raise InputError(f"column '{names[j]}' of {name} has {int(bad[:, j].sum())} "
                         f"{what} value(s)")
    if not allow_constant and arr.shape[0] > 1:
        const = np.ptp(arr, axis=0) == 0
        if const.any():
            j = int(np.argmax(const))
            raise InputError(f"column '{names[j]}' of {name} is constant")
    return arr, names, index


def check_fitted_array(estimator: Any, X: Any, attribute: str, fit_call: str) -> np.ndarray:
    """Check that ``estimator`` is fitted (has ``attribute``) and that ``X`` has the
    columns it was fitted on; return ``X`` as a float array."""
    if not hasattr(estimator, attribute):
        raise InputError(f"this {type(estimator).__name__} is not fitted yet; call "
                         f"{fit_call} first")
    arr, _, _ = check_array(X)
    if arr.shape[1] != estimator.n_features_in_:
        raise InputError(f"X has {arr.shape[1]} columns; the score was fitted on "
                         f"{estimator.n_features_in_}")
    return arr


def check_treatment(t: Any, *, name: str = "treatment") -> np.ndarray:
    """Return the treatment as an int64 array of 0/1, or raise :class:`InputError`.

    Accepts 0/1 numbers, booleans, or any two-valued numeric vector whose values are
    exactly {0, 1}.

    >>> check_treatment([True, False, True])
    array([1, 0, 1])
    >>> check_treatment(np.array([1.0, 0.0]))
    array([1, 0])
    """
    s = pd.Series(t) if not isinstance(t, pd.Series) else t
    if s.isna().any():
        raise InputError(f"'{name}' has {int(s.isna().sum())} missing value(s)")
    if pd.api.types.is_bool_dtype(s):
        return s.to_numpy(dtype=np.int64, copy=True)
    if not pd.api.types.is_numeric_dtype(s):
        raise InputError(f"'{name}' must be 0/1 or boolean, got dtype {s.dtype} "
                         f"with values {sorted(map(str, s.unique()))[:5]}")
    arr = s.to_numpy(dtype=np.float64)
    values = np.unique(arr)
    if values.size > 2 or not np.isin(values, (0.0, 1.0)).all():
        shown = ", ".join(f"{v:g}" for v in values[:5])
        raise InputError(f"'{name}' must be binary 0/1; found {values.size} distinct "
                         f"values ({shown}{', ...' if values.size > 5 else ''})")
    if values.size < 2:
        raise InputError(f"'{name}' has only one value ({values[0]:g}): both a treated "
                         "and a control arm are needed")
    return arr.astype(np.int64)


def check_outcome(y: Any, *, name: str = "outcome") -> np.ndarray:
    """Return the outcome as a float64 1-d copy, or raise :class:`InputError`."""
    s = pd.Series(np.asarray(y).ravel()) if not isinstance(y, pd.Series) else y
    if s.isna().any():
        raise InputError(f"'{name}' has {int(s.isna().sum())} missing value(s)")
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise InputError(f"'{name}' must be numeric, got dtype {s.dtype}")
    arr = s.to_numpy(dtype=np.float64, copy=True)
    if not np.isfinite(arr).all():
        raise InputError(f"'{name}' has {int((~np.isfinite(arr)).sum())} infinite value(s)")
    return arr


def check_xy(X: Any, t: Any, y: Any = None, *, columns: Sequence[str] | None = None,
             min_per_arm: int = 1) -> Data:
    """Validate covariates, treatment and (optionally) outcome together."""
    Xa, names, index = check_array(X, columns=columns)
    ta = check_treatment(t)
    n = Xa.shape[0]
    if ta.shape[0] != n:
        raise InputError(f"X has {n} rows but the treatment has {ta.shape[0]}")
    ya = None
    if y is not None:
        ya = check_outcome(y)
        if ya.shape[0] != n:
            raise InputError(f"X has {n} rows but the outcome has {ya.shape[0]}")
    for arm, label in ((1, "treated"), (0, "control")):
        k = int((ta == arm).sum())
        if k < min_per_arm:
            raise InputError(f"the {label} arm has {k} unit(s); at least {min_per_arm} needed")
    return Data(Xa, ta, ya, names, index)


def check_frame(data: Any, *, treatment: str, outcome: str | None = None,
                covariates: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Check that ``data`` is a DataFrame holding the named columns.

    Returns the frame (not copied: callers only read it) and the covariate list
    (all other columns when ``covariates`` is None).
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    if isinstance(covariates, str):
        covariates = [covariates]
    named = [treatment] + ([outcome] if outcome is not None else [])
    if covariates is None:
        covariates = [c for c in data.columns if c not in named]
    covariates = [str(c) for c in covariates]
    for c in named + covariates:
        if c not in data.columns:
            raise InputError(f"column '{c}' is not in the data; available columns: "
                             f"{', '.join(map(str, data.columns[:20]))}")
    if not covariates:
        raise InputError("no covariates: name at least one column to match on")
    overlap = set(named) & set(covariates)
    if overlap:
        raise InputError(f"column '{overlap.pop()}' is both a covariate and the "
                         "treatment or outcome")
    return data, covariates


def check_estimand(estimand: Any) -> str:
    """Return the estimand in upper case, or raise :class:`InputError`."""
    est = str(estimand).upper() if isinstance(estimand, str) else estimand
    if est not in ESTIMANDS:
        raise InputError(f"unknown estimand {estimand!r}; use one of {', '.join(ESTIMANDS)}")
    return est


def check_int(value: Any, name: str, *, minimum: int = 1) -> int:
    """Accept an integer, or a float with an integer value (as R passes ``1``)."""
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        raise InputError(f"'{name}' must be an integer, got {value!r}")
    if isinstance(value, Real) and not float(value).is_integer():
        raise InputError(f"'{name}' must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(f"'{name}' must be at least {minimum}, got {value}")
    return value
