"""Input checks shared by every entry point.

Everything the user hands to causalsm passes through here once: DataFrames or
arrays come in, clean float64 arrays, column names and the original index come
out, or an :class:`InputError` that names the column and the problem.  Inputs
are never modified in place.

Input from R (through reticulate) is converted here too, so that every entry point
treats it alike:

* a factor arrives as a pandas ``Categorical``.  As a treatment it must have two
  levels, and the *second* level is "treated" (coded 1), as in R's ``glm``.  As a
  covariate, a factor with one or two levels becomes one 0/1 column (second level
  = 1) under its own name, an unordered factor with more levels becomes one 0/1
  column per level after the first, named ``column[level]`` (R's treatment
  contrasts), and an ordered factor becomes its level number 0, 1, ..., k - 1;
* a logical arrives as ``bool`` and counts as 0/1;
* ``NA`` in a double column arrives as NaN, in a factor as a missing category,
  and in an integer column as R's ``NA_integer_``, the integer -2147483648, which
  is counted as missing here; all three give the missing-value error that names
  the column.  (``NA`` in a logical column arrives as ``True`` with reticulate
  1.28: nothing on this side can see it, so check ``anyNA()`` in R first.)
* a whole number passed as an R double (``n_neighbors = 1`` arrives as ``1.0``) is
  accepted wherever an integer is expected (:func:`check_int`, :func:`check_seed`,
  :func:`coerce_int_options`); ``1.5`` is an error.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral, Real
from typing import Any, Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.exceptions import NotFittedError as _SklearnNotFitted

__all__ = ["InputError", "NotFittedError", "not_fitted", "treatment_series", "name_of", "Data",
           "check_array", "check_fitted_array", "check_treatment",
           "check_outcome", "check_xy", "check_frame", "check_estimand", "check_int",
           "check_seed", "coerce_int_options", "check_survival", "n_missing", "INT_OPTIONS",
           "ESTIMANDS", "R_NA_INTEGER", "check_levels", "check_two_levels", "n_levels",
           "treatment_kind",
           "MAX_LEVELS", "check_exposure", "check_exposure_data"]

ESTIMANDS = ("ATT", "ATC", "ATE")

#: R's ``NA_integer_``: reticulate passes ``NA`` in an R integer vector as this value.
R_NA_INTEGER = -2 ** 31

#: Parameters of causalsm's estimators and scores that take whole numbers; R passes
#: ``1`` as the double ``1.0``, so :func:`coerce_int_options` turns those into ``int``.
INT_OPTIONS = frozenset({
    "n_neighbors", "var_neighbors", "n_bootstrap", "random_state", "n_jobs", "epochs",
    "dim", "batch_size", "patience", "n_threads", "n_components", "n_cov_neighbors",
    "hidden_layer_sizes", "max_samples", "block_size", "n_replicates", "n_simulations",
    "sieve_degree", "n_outer", "seed", "n_score_fits",
    "max_attempt", "n_noise", "quad_points", "degree", "df", "n_basis"})


class InputError(ValueError):
    """Bad user input; the message names the column and the problem."""


class NotFittedError(InputError, _SklearnNotFitted):
    """An estimator used before ``fit``: scikit-learn's ``NotFittedError`` and an
    :class:`InputError` (so one ``except`` catches either)."""


def not_fitted(estimator: Any, fit_call: str) -> NotFittedError:
    """The :class:`NotFittedError` to raise for ``estimator`` (``fit_call`` says how to
    fit it)."""
    return NotFittedError(f"this {type(estimator).__name__} is not fitted yet; call "
                          f"{fit_call} first")


@dataclass(frozen=True)
class Data:
    """Validated data: float covariates, 0/1 treatment, optional outcome."""

    X: np.ndarray                 # (n, p) float64 (a CSR matrix where sparse is accepted)
    t: np.ndarray                 # (n,) int64 in {0, 1}
    y: np.ndarray | None          # (n,) float64 or None
    columns: list[str]            # covariate names
    index: pd.Index               # original row labels

    @property
    def n(self) -> int:
        return self.t.shape[0]


def n_missing(values: Any) -> int:
    """Number of missing values: NaN, None, ``pd.NA``, a missing category, and R's
    ``NA_integer_`` (-2147483648) in an integer column.

    >>> n_missing(pd.Series([1, -2147483648, 3]))
    1
    >>> n_missing(pd.Series([1.0, None], dtype="Float64"))
    1
    """
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    n = int(s.isna().sum())
    if pd.api.types.is_integer_dtype(s.dtype):
        n += int((s.to_numpy(dtype=np.int64, na_value=0) == R_NA_INTEGER).sum())
    return n


def _categorical_columns(col: pd.Series, name: str) -> list[tuple[str, np.ndarray]]:
    """A categorical (an R factor) as float columns; see the module docstring."""
    levels = list(col.cat.categories)
    codes = col.cat.codes.to_numpy()
    if col.cat.ordered or len(levels) <= 2:
        return [(name, codes.astype(np.float64))]
    return [(f"{name}[{lev}]", (codes == j).astype(np.float64))
            for j, lev in enumerate(levels) if j > 0]


def _numeric_frame(X: pd.DataFrame, name: str) -> tuple[np.ndarray, list[str]]:
    """Float64 copy of a DataFrame with factors expanded; errors name the column."""
    factors = False
    for c in X.columns:
        col = X[c]
        is_factor = isinstance(col.dtype, pd.CategoricalDtype)
        if pd.api.types.is_complex_dtype(col):
            raise InputError(f"column '{c}' of {name} has complex values (Complex data not "
                             "supported); give real numbers")
        if not (is_factor or pd.api.types.is_numeric_dtype(col)
                or pd.api.types.is_bool_dtype(col)):
            raise InputError(
                f"column '{c}' of {name} is not numeric (dtype {col.dtype}); "
                "encode it as numbers (e.g. pd.get_dummies) or, from R, make it a factor "
                "before matching")
        missing = n_missing(col)
        if missing:
            raise InputError(
                f"column '{c}' of {name} has {missing} missing value(s); "
                "impute or drop them first")
        factors = factors or is_factor
    if not factors:             # the frame's own conversion (and memory layout), as always
        return (X.to_numpy(dtype=np.float64, na_value=np.nan, copy=True),
                [str(c) for c in X.columns])
    expanded: dict[str, np.ndarray] = {}
    for c in X.columns:
        col = X[c]
        if isinstance(col.dtype, pd.CategoricalDtype):
            expanded.update(_categorical_columns(col, str(c)))
        else:
            expanded[str(c)] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    frame = pd.DataFrame(expanded, index=X.index)
    return frame.to_numpy(dtype=np.float64, copy=True), list(expanded)


def _names(X: Any, p: int) -> list[str]:
    if isinstance(X, pd.DataFrame):
        return [str(c) for c in X.columns]
    return [f"x{j}" for j in range(p)]


def select_columns(X: Any, columns: Sequence[str], spec: Any, what: str) -> np.ndarray:
    """The columns of the validated ``X`` (names ``columns``) that ``spec`` names or
    indexes (a name, a position or a list of them), as a dense array.

    >>> select_columns(np.eye(2), ["a", "b"], "b", "exact").ravel()
    array([0., 1.])
    """
    spec = [spec] if isinstance(spec, (str, int, np.integer)) else list(spec)
    idx = []
    for c in spec:
        if isinstance(c, (int, np.integer)) and not isinstance(c, bool):
            if not 0 <= c < X.shape[1]:
                raise InputError(f"{what} column position {c} is out of range")
            idx.append(int(c))
        elif str(c) in columns:
            idx.append(list(columns).index(str(c)))
        else:
            raise InputError(f"{what} column '{c}' is not among the covariates "
                             f"({', '.join(list(columns)[:20])})")
    cols = X[:, idx]
    return cols.toarray() if sp.issparse(cols) else cols


def check_array(X: Any, *, name: str = "X", columns: Sequence[str] | None = None,
                allow_constant: bool = True, accept_sparse: bool = False
                ) -> tuple[np.ndarray, list[str], pd.Index]:
    """Return ``(float64 2-d copy, column names, index)`` or raise :class:`InputError`.

    Accepts a DataFrame, Series, 2-d/1-d array or nested lists.  Boolean and integer
    columns become floats; categorical columns (R factors) become 0/1 or level-number
    columns as the module docstring says; a string or object column is an error that
    names the column.  A scipy sparse matrix becomes a float64 CSR copy when
    ``accept_sparse`` (a dense array otherwise).

    >>> X, cols, idx = check_array(pd.DataFrame({"a": [1, 2], "b": [True, False]}))
    >>> X.dtype, cols
    (dtype('float64'), ['a', 'b'])
    """
    if sp.issparse(X):
        if X.ndim != 2:
            raise InputError(f"{name} must be 2-dimensional, got shape {X.shape}")
        arr = sp.csr_matrix(X, dtype=np.float64, copy=True)
        names = list(columns) if columns is not None else [f"x{j}" for j in range(arr.shape[1])]
        if len(names) != arr.shape[1]:
            raise InputError(f"{name} has {arr.shape[1]} columns but {len(names)} names "
                             "were given")
        if not np.isfinite(arr.data).all():
            j = int(arr.indices[np.argmax(~np.isfinite(arr.data))])
            raise InputError(f"column '{names[j]}' of {name} has missing or infinite "
                             "value(s)")
        index = pd.RangeIndex(arr.shape[0])
        if not allow_constant and arr.shape[0] > 1:
            const = (arr.max(axis=0).toarray().ravel() == arr.min(axis=0).toarray().ravel())
            if const.any():
                raise InputError(f"column '{names[int(np.argmax(const))]}' of {name} is "
                                 "constant")
        return (arr if accept_sparse else arr.toarray()), names, index
    if isinstance(X, pd.Series):
        X = X.to_frame()
    if isinstance(X, pd.DataFrame):
        index = X.index
        arr, names = _numeric_frame(X, name)
    else:
        try:
            raw = np.asarray(X)
            complex_ = raw.dtype.kind == "c"  # a float cast would drop the imaginary part
            arr = None if complex_ else np.array(raw, dtype=np.float64, copy=True)
        except (TypeError, ValueError) as err:
            raise InputError(f"{name} must be numeric: {err}") from None
        if complex_:
            raise InputError(f"{name} has complex values (Complex data not supported); give "
                             "real numbers")
        if isinstance(X, np.ndarray) and np.issubdtype(X.dtype, np.integer):
            arr[X == R_NA_INTEGER] = np.nan          # an R integer matrix's NA
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
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty: {arr.shape[0]} sample(s), {arr.shape[1]} "
                         f"feature(s) (shape=({arr.shape[0]}, {arr.shape[1]})) while a minimum "
                         "of 1 is required.")
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


def check_fitted_array(estimator: Any, X: Any, attribute: str, fit_call: str, *,
                       accept_sparse: bool = False) -> np.ndarray:
    """Check that ``estimator`` is fitted (has ``attribute``) and that ``X`` has the
    columns it was fitted on; return ``X`` as a float array."""
    if not hasattr(estimator, attribute):
        raise not_fitted(estimator, fit_call)
    arr, _, _ = check_array(X, accept_sparse=accept_sparse)
    if arr.shape[1] != estimator.n_features_in_:
        raise InputError(f"X has {arr.shape[1]} features, but {type(estimator).__name__} is "
                         f"expecting {estimator.n_features_in_} features as input (the "
                         "columns it was fitted on)")
    return arr


def treatment_series(t: Any, name: str) -> pd.Series:
    """A treatment column as a Series (one DataFrame column, as R's ``df["group"]``, or an
    ``(n, 1)`` array are accepted), or :class:`InputError` for more columns or missing
    values."""
    if t is None:
        raise InputError(f"'{name}' is missing: a score of the treatment requires y to be "
                         "passed, but the target y is None (the treatment t)")
    if isinstance(t, pd.DataFrame):
        if t.shape[1] != 1:
            raise InputError(f"'{name}' must be one column, got {t.shape[1]}")
        t = t.iloc[:, 0]
    if not isinstance(t, (pd.Series, pd.Categorical, np.ndarray, list, tuple)) \
            and hasattr(t, "__array__"):               # an array-like (a tensor, a memmap...)
        t = np.asarray(t)
    if isinstance(t, np.ndarray):
        if t.ndim == 2 and t.shape[1] == 1:
            t = t[:, 0]
        if t.ndim != 1:
            raise InputError(f"'{name}' must be 1-dimensional, got shape {t.shape}")
    s = t if isinstance(t, pd.Series) else pd.Series(t)
    missing = n_missing(s)
    if missing:
        raise InputError(f"'{name}' has {missing} missing value(s)")
    return s


def check_treatment(t: Any, *, name: str = "treatment") -> np.ndarray:
    """Return the treatment as an int64 array of 0/1, or raise :class:`InputError`.

    Accepts 0/1 numbers, booleans, or a categorical (an R factor) with two levels,
    of which the second is "treated" (1), as in R's ``glm``.  Missing values (also
    R's integer ``NA``) are an error.

    >>> check_treatment([True, False, True])
    array([1, 0, 1])
    >>> check_treatment(np.array([1.0, 0.0]))
    array([1, 0])
    >>> check_treatment(pd.Categorical(["ctl", "trt"], categories=["ctl", "trt"]))
    array([0, 1])
    """
    if isinstance(t, np.ndarray) and t.ndim == 1 and t.dtype.kind in "biu":
        # A plain 0/1 (or boolean) vector, the common case at scale: checked without
        # pandas; anything else goes the general way below, for its message.
        is1 = t == 1
        n1 = int(np.count_nonzero(is1))
        if 0 < n1 < t.size and n1 + int(np.count_nonzero(t == 0)) == t.size:
            return is1.astype(np.int64)
    s = treatment_series(t, name)
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = list(s.cat.categories)
        if len(levels) != 2:
            raise InputError(f"'{name}' is a factor with {len(levels)} level(s) "
                             f"({', '.join(map(str, levels[:5]))}); a treatment factor needs "
                             "exactly two, the second being the treated level (three or "
                             "more levels: estimate_effect / MultilevelMatching)")
        arr = s.cat.codes.to_numpy(dtype=np.int64)
        if np.unique(arr).size < 2:
            raise InputError(f"'{name}' has only one level present ({levels[arr[0]]}): both "
                             "a treated and a control arm are needed")
        return arr.copy()
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise InputError(f"'{name}' must be 0/1, boolean or a two-level factor (categorical), "
                         f"got dtype {s.dtype} with values {sorted(map(str, s.unique()))[:5]}; "
                         "from R, pass a factor inside its data.frame (df[\"group\"]): a "
                         "factor vector on its own arrives as strings")
    arr = s.to_numpy(dtype=np.float64)
    is1 = arr == 1.0
    n1 = int(np.count_nonzero(is1))
    binary = n1 + int(np.count_nonzero(arr == 0.0)) == arr.size
    # The distinct values are only sorted out for the message (a sort of n values).
    values = np.unique(arr) if not binary else np.array([0.0, 1.0])[[0 < arr.size - n1,
                                                                         n1 > 0]]
    if not binary:
        shown = ", ".join(f"{v:g}" for v in values[:5])
        several = ("; a treatment with three or more levels goes to estimate_effect / "
                   "MultilevelMatching" if values.size > 2 else "")
        raise InputError(f"'{name}' must be binary 0/1; found {values.size} distinct "
                         f"values ({shown}{', ...' if values.size > 5 else ''}){several}")
    if values.size < 2:
        raise InputError(f"'{name}' has only one value ({values[0]:g}): both a treated "
                         "and a control arm are needed")
    return is1.astype(np.int64)


def check_outcome(y: Any, *, name: str = "outcome") -> np.ndarray:
    """Return the outcome as a float64 1-d copy, or raise :class:`InputError`."""
    if isinstance(y, np.ndarray) and y.ndim == 1 and y.dtype.kind in "fiub":
        # A plain numeric vector, the common case at scale: finite values are neither
        # missing nor infinite; anything else goes the general way below, for its message.
        arr = np.array(y, dtype=np.float64, copy=True)
        if np.isfinite(arr).all():
            return arr
    s = pd.Series(np.asarray(y).ravel()) if not isinstance(y, pd.Series) else y
    missing = n_missing(s)
    if missing:
        raise InputError(f"'{name}' has {missing} missing value(s)")
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise InputError(f"'{name}' must be numeric, got dtype {s.dtype}")
    arr = s.to_numpy(dtype=np.float64, copy=True)
    if not np.isfinite(arr).all():
        raise InputError(f"'{name}' has {int((~np.isfinite(arr)).sum())} infinite value(s)")
    return arr


def name_of(values: Any, default: str) -> str:
    """The name to put in messages about ``values``: a Series' name (a data frame's
    column), else ``default``."""
    name = getattr(values, "name", None) if isinstance(values, pd.Series) else None
    return str(name) if name is not None else default


def check_xy(X: Any, t: Any, y: Any = None, *, columns: Sequence[str] | None = None,
             min_per_arm: int = 1, accept_sparse: bool = False) -> Data:
    """Validate covariates, treatment and (optionally) outcome together; a treatment or
    outcome given as a Series (a data frame's column) is named by its name in messages."""
    Xa, names, index = check_array(X, columns=columns, accept_sparse=accept_sparse)
    n = Xa.shape[0]
    if n == 0:
        raise InputError("X has no rows: there is nothing to estimate from")
    ta = check_treatment(t, name=name_of(t, "treatment"))
    if ta.shape[0] != n:
        raise InputError(f"X has {n} rows but the treatment has {ta.shape[0]}")
    ya = None
    if y is not None:
        ya = check_outcome(y, name=name_of(y, "outcome"))
        if ya.shape[0] != n:
            raise InputError(f"X has {n} rows but the outcome has {ya.shape[0]}")
    for arm, label in ((1, "treated"), (0, "control")):
        k = int((ta == arm).sum())
        if k < min_per_arm:
            raise InputError(f"the {label} arm has {k} unit(s); at least {min_per_arm} needed")
    return Data(Xa, ta, ya, names, index)


def _column_name(value: Any, what: str) -> None:
    if not isinstance(value, str):
        raise InputError(f"{what} must be one column name (a string), got {value!r}")


def check_frame(data: Any, *, treatment: str, outcome: str | None = None,
                covariates: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Check that ``data`` is a DataFrame holding the named columns.

    Returns the frame (not copied: callers only read it) and the covariate list
    (all other columns when ``covariates`` is None; one string is one name).  Column
    types (factors, logicals, R's integer ``NA``) are handled by :func:`check_array`,
    :func:`check_treatment` and :func:`check_outcome`.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputError(f"data must be a pandas DataFrame, got {type(data).__name__}")
    _column_name(treatment, "treatment")
    if outcome is not None:
        _column_name(outcome, "outcome")
    if isinstance(covariates, str):          # one name (R's character vector of length 1)
        covariates = [covariates]
    if outcome is not None and outcome == treatment:
        raise InputError(f"the outcome and the treatment are the same column '{outcome}'")
    named = [treatment] + ([outcome] if outcome is not None else [])
    if covariates is None:
        covariates = [c for c in data.columns if c not in named]
    covariates = list(covariates)                # labels as they are (numbers too)
    for c in named + covariates:
        if c not in data.columns:
            raise InputError(f"column '{c}' is not in the data; available columns: "
                             f"{', '.join(map(str, data.columns[:20]))}")
    dup = [c for c in named + covariates if int((data.columns == c).sum()) > 1]
    if dup:
        raise InputError(f"the data have several columns named '{dup[0]}'")
    seen = set()
    for c in covariates:
        if c in seen:
            raise InputError(f"covariate '{c}' is named twice")
        seen.add(c)
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


def check_int(value: Any, name: str, *, minimum: int | None = 1) -> int:
    """Accept an integer, or a float with an integer value (as R passes ``1``).

    >>> check_int(2.0, "n_neighbors")
    2
    >>> check_int(1.5, "n_neighbors")
    Traceback (most recent call last):
    ...
    causalsm._validation.InputError: 'n_neighbors' must be an integer, got 1.5
    """
    if isinstance(value, bool) or not isinstance(value, (Integral, Real)):
        raise InputError(f"'{name}' must be an integer, got {value!r}")
    if isinstance(value, Real) and not float(value).is_integer():
        raise InputError(f"'{name}' must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise InputError(f"'{name}' must be at least {minimum}, got {value}")
    return value


def check_seed(random_state: Any, name: str = "random_state") -> Any:
    """A seed as numpy and scikit-learn take it: ``None``, a non-negative ``int`` (also
    from a whole float such as R's ``0``), or a numpy ``Generator``, ``RandomState``
    or ``SeedSequence`` passed through.

    >>> check_seed(7.0), check_seed(None)
    (7, None)
    """
    if random_state is None or isinstance(
            random_state, (np.random.Generator, np.random.RandomState, np.random.SeedSequence)):
        return random_state
    return check_int(random_state, name, minimum=0)


def check_weights(weights: Any, n: int, *, name: str = "sample_weight",
                  positive: bool = False) -> np.ndarray | None:
    """Unit weights: ``None``, or a new 1-d float array of ``n`` finite, non-negative
    values (``positive=True``: all > 0) that do not sum to 0.

    >>> check_weights([1, 2], 2).tolist()
    [1.0, 2.0]
    """
    if weights is None:
        return None
    if hasattr(weights, "detach"):                    # a torch tensor
        weights = weights.detach().cpu().numpy()
    try:
        w = np.array(weights, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be numbers, one per unit") from None
    if w.ndim != 1:
        w = w.reshape(-1) if w.size == n and w.ndim == 2 and 1 in w.shape else w
    if w.ndim != 1 or w.shape[0] != n:
        raise InputError(f"{name} has {w.size} entries (shape {w.shape}) but the data have "
                         f"{n} rows")
    if not np.isfinite(w).all():
        raise InputError(f"{name} has {int((~np.isfinite(w)).sum())} missing or infinite "
                         "value(s)")
    if (w <= 0).any() if positive else (w < 0).any():
        raise InputError(f"{name} must be {'positive' if positive else 'non-negative'}")
    if w.sum() <= 0:
        raise InputError(f"{name} sums to zero")
    return w


def check_bool(value: Any, name: str, *, also: tuple = ()) -> Any:
    """``value`` as a ``bool`` (a numpy bool too), or one of the strings in ``also``;
    anything else (``"False"``, ``0``, ``None``) is an :class:`InputError`, so that a
    string such as ``replace="False"`` never runs as ``True``.

    >>> check_bool(np.True_, "replace"), check_bool("auto", "bias_correction", also=("auto",))
    (True, 'auto')
    """
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, str) and value in also:
        return value
    allowed = "True or False" + "".join(f" or {a!r}" for a in also)
    raise InputError(f"{name} must be {allowed}, got {value!r}")


def seed_sequence(random_state: Any, name: str = "random_state") -> np.random.SeedSequence:
    """``random_state`` as a :class:`numpy.random.SeedSequence`, the root of every
    stream of random numbers an estimator spawns.

    ``None`` (fresh entropy), an ``int`` of any size, a ``SeedSequence`` (used as is) or a
    ``Generator`` / ``RandomState``, from which one 63-bit seed is drawn (advancing it, as
    scikit-learn does), so that the same generator state gives the same result.

    >>> a = seed_sequence(np.random.default_rng(3)).generate_state(1)
    >>> b = seed_sequence(np.random.default_rng(3)).generate_state(1)
    >>> bool((a == b).all()), seed_sequence(2 ** 70).entropy == 2 ** 70
    (True, True)
    """
    rs = check_seed(random_state, name)
    if isinstance(rs, np.random.SeedSequence):
        return rs
    if isinstance(rs, np.random.Generator):
        return np.random.SeedSequence(int(rs.integers(2 ** 63)))
    if isinstance(rs, np.random.RandomState):
        return np.random.SeedSequence(int(rs.randint(0, 2 ** 63, dtype=np.int64)))
    return np.random.SeedSequence(rs)


def _whole(value: Any, name: str) -> Any:
    if isinstance(value, (bool, np.bool_)) or value is None:
        return value
    if isinstance(value, (Integral, Real)):
        return check_int(value, name, minimum=None)
    return value


def coerce_int_options(options: dict) -> dict:
    """A copy of ``options`` with whole-number floats turned into ``int`` for the
    parameters in :data:`INT_OPTIONS` (also inside a list, as R's ``c(100, 100)``
    for ``hidden_layer_sizes``); ``1.5`` for one of them is an :class:`InputError`.
    Other options pass unchanged (their own checks still run).

    >>> coerce_int_options({"n_neighbors": 1.0, "caliper": 0.5, "hidden_layer_sizes": [8.0]})
    {'n_neighbors': 1, 'caliper': 0.5, 'hidden_layer_sizes': [8]}
    """
    out = dict(options)
    for key, value in options.items():
        if key not in INT_OPTIONS:
            continue
        if isinstance(value, (list, tuple)):
            out[key] = type(value)(_whole(v, key) for v in value)
        elif isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind == "f":
            out[key] = [_whole(float(v), key) for v in value]
        else:
            out[key] = _whole(value, key)
    return out


def check_survival(duration: Any, event: Any, t: np.ndarray, n: int, *,
                   duration_name: str, event_name: str) -> tuple[np.ndarray, np.ndarray]:
    """Durations >= 0 and finite, events 0/1, at least one event in each arm."""
    s = duration if isinstance(duration, pd.Series) else pd.Series(np.asarray(duration).ravel())
    if s.shape[0] != n:
        raise InputError(f"X has {n} rows but '{duration_name}' has {s.shape[0]}")
    if s.isna().any():
        raise InputError(f"'{duration_name}' has {int(s.isna().sum())} missing value(s)")
    if not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s):
        raise InputError(f"'{duration_name}' must be numeric durations, got dtype {s.dtype}")
    T = s.to_numpy(dtype=np.float64, copy=True)
    if not np.isfinite(T).all():
        raise InputError(f"'{duration_name}' has {int((~np.isfinite(T)).sum())} infinite "
                         "value(s)")
    if (T < 0).any():
        raise InputError(f"'{duration_name}' has {int((T < 0).sum())} negative value(s) "
                         f"(smallest {T.min():g}); durations must be >= 0")
    e = event if isinstance(event, pd.Series) else pd.Series(np.asarray(event).ravel())
    if e.shape[0] != n:
        raise InputError(f"X has {n} rows but '{event_name}' has {e.shape[0]}")
    if e.isna().any():
        raise InputError(f"'{event_name}' has {int(e.isna().sum())} missing value(s)")
    if pd.api.types.is_bool_dtype(e):
        d = e.to_numpy(dtype=np.float64)
    else:
        if not pd.api.types.is_numeric_dtype(e):
            raise InputError(f"'{event_name}' must be 0/1 or boolean, got dtype {e.dtype}")
        d = e.to_numpy(dtype=np.float64)
        bad = ~np.isin(d, (0.0, 1.0))
        if bad.any():
            vals = ", ".join(f"{v:g}" for v in np.unique(d[bad])[:5])
            raise InputError(f"'{event_name}' must be 0/1 (1 = event, 0 = censored); "
                             f"found {vals}")
    for arm, label in ((1, "treated"), (0, "control")):
        if d[t == arm].sum() == 0:
            raise InputError(f"no events in the {label} arm ('{event_name}' is 0 for every "
                             f"{label} unit): the hazard ratio is not estimable")
    return T, d


# ------------------------------------------------ treatments with several levels
def _level_label(value: Any) -> Any:
    """A level as a plain Python value: numpy scalars unwrapped, whole floats as int."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def n_levels(t: Any) -> int:
    """Number of distinct non-missing values of a treatment column (categories present,
    for a categorical).

    >>> n_levels(pd.Series(["a", "b", "c", "a"])), n_levels([0, 1, 1])
    (3, 2)
    """
    if isinstance(t, pd.DataFrame) and t.shape[1] == 1:
        t = t.iloc[:, 0]
    s = t if isinstance(t, pd.Series) else pd.Series(np.asarray(t).ravel())
    if isinstance(s.dtype, pd.CategoricalDtype):
        return int(np.unique(s.cat.codes[s.cat.codes >= 0]).size)
    return int(s.dropna().nunique())


#: A numeric treatment with more distinct values than this is continuous (detection).
MAX_LEVELS = 10
TREATMENT_TYPES = ("auto", "binary", "multilevel", "continuous")


def treatment_kind(values: Any, treatment_type: str = "auto") -> str:
    """``"binary"``, ``"multilevel"`` or ``"continuous"``: as asked, or detected.

    Two distinct values are a binary treatment; a numeric one with more than
    :data:`MAX_LEVELS` distinct values is a continuous exposure (dose); anything else
    (a few numbers, labels, a categorical) is a treatment with several levels.

    >>> treatment_kind([0, 1, 1]), treatment_kind([0, 1, 2]), treatment_kind(np.arange(50.0))
    ('binary', 'multilevel', 'continuous')
    """
    if treatment_type not in TREATMENT_TYPES:
        raise InputError(f"treatment_type must be one of {', '.join(map(repr, TREATMENT_TYPES))}"
                         f", got {treatment_type!r}")
    if treatment_type != "auto":
        return treatment_type
    levels = n_levels(values)
    if levels <= 2:
        return "binary"
    s = values if isinstance(values, pd.Series) else pd.Series(np.asarray(values).ravel())
    numeric = pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s) \
        and not isinstance(s.dtype, pd.CategoricalDtype)
    return "continuous" if numeric and levels > MAX_LEVELS else "multilevel"


def check_levels(t: Any, *, name: str = "treatment",
                 min_per_level: int = 1) -> tuple[np.ndarray, list]:
    """A treatment with two or more levels -> ``(codes, levels)``, or :class:`InputError`.

    ``codes`` is an int64 array of ``0 .. K-1`` indexing ``levels``.  The order of the
    levels is the order of the categories of a categorical (an R factor; categories
    without units are dropped with a warning), and the sorted order otherwise.  Levels
    are plain Python values (a whole float such as ``2.0`` becomes ``2``).  Missing
    values (also R's integer ``NA``) are an error, as is a level with fewer than
    ``min_per_level`` units.

    >>> codes, levels = check_levels(["b", "a", "c", "a"])
    >>> codes.tolist(), levels
    ([1, 0, 2, 0], ['a', 'b', 'c'])
    >>> check_levels(pd.Categorical(["lo", "hi", "mid"], categories=["lo", "mid", "hi"]))[1]
    ['lo', 'mid', 'hi']
    """
    import warnings

    s = treatment_series(t, name)
    if isinstance(s.dtype, pd.CategoricalDtype):
        cats = list(s.cat.categories)
        raw = s.cat.codes.to_numpy(dtype=np.int64)
        present = np.unique(raw)
        if present.size < len(cats):
            empty = [str(cats[j]) for j in range(len(cats)) if j not in set(present)]
            warnings.warn(f"'{name}' has level(s) without units, left out: "
                          f"{', '.join(empty)}", UserWarning, stacklevel=2)
        levels = [_level_label(cats[j]) for j in present]
        codes = np.searchsorted(present, raw).astype(np.int64)
    else:
        values = s.to_numpy()
        if values.dtype == bool:
            values = values.astype(np.int64)
        try:
            uniq, codes = np.unique(values, return_inverse=True)
        except TypeError:
            raise InputError(f"'{name}' mixes values that cannot be ordered (e.g. numbers "
                             "and strings)") from None
        levels = [_level_label(v) for v in uniq]
        codes = codes.astype(np.int64).ravel()
    if len(levels) < 2:
        shown = levels[0] if levels else "none"
        raise InputError(f"'{name}' has only one level ({shown}; one class): at least two "
                         "treatment levels are needed")
    counts = np.bincount(codes, minlength=len(levels))
    if counts.min() < min_per_level:
        j = int(np.argmin(counts))
        raise InputError(f"treatment level {levels[j]!r} of '{name}' has {int(counts[j])} "
                         f"unit(s); at least {min_per_level} are needed")
    return codes, levels


def check_two_levels(y: Any, n: int, *, name: str = "treatment") -> tuple[np.ndarray, list]:
    """A binary treatment given as any two labels -> ``(0/1 codes, [control, treated])``.

    The labels are ordered as :func:`check_levels` orders them (categories of a factor,
    else sorted), the second being "treated", as scikit-learn's ``classes_``.

    >>> codes, classes = check_two_levels(["b", "a", "b"], 3)
    >>> codes.tolist(), classes
    ([1, 0, 1], ['a', 'b'])
    """
    codes, levels = check_levels(y, name=name)
    if len(levels) != 2:
        shown = ", ".join(map(str, levels[:5])) + (", ..." if len(levels) > 5 else "")
        raise InputError(f"'{name}' has {len(levels)} levels ({shown}); a propensity score "
                         "models two: use GeneralizedPropensityScore (estimate_effect and "
                         "MultilevelMatching take several levels)")
    if codes.shape[0] != n:
        raise InputError(f"X has {n} rows but the {name} has {codes.shape[0]}")
    return codes, levels


def check_exposure(w: Any, *, name: str = "exposure", min_distinct: int = 3) -> np.ndarray:
    """Return a continuous exposure (dose) as a float64 1-d copy, or raise
    :class:`InputError`.

    Missing or infinite values, a non-numeric column, a constant exposure and a
    binary one (two distinct values: a treatment for :func:`causalsm.estimate_effect`)
    are errors that name the column.

    >>> check_exposure([0.5, 1.5, 2.0])
    array([0.5, 1.5, 2. ])
    >>> check_exposure([0, 1, 1, 0], name="dose")    # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    causalsm._validation.InputError: 'dose' takes only two values (0, 1): that is a binary ...
    """
    if isinstance(w, pd.DataFrame):
        if w.shape[1] != 1:
            raise InputError(f"'{name}' must be one column, got {w.shape[1]}")
        w = w.iloc[:, 0]
    s = w if isinstance(w, pd.Series) else pd.Series(np.asarray(w).ravel())
    missing = n_missing(s)
    if missing:
        raise InputError(f"'{name}' has {missing} missing value(s)")
    if isinstance(s.dtype, pd.CategoricalDtype) or not (
            pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise InputError(f"'{name}' must be a numeric (continuous) exposure, got dtype "
                         f"{s.dtype}")
    arr = s.to_numpy(dtype=np.float64, copy=True)
    if not np.isfinite(arr).all():
        raise InputError(f"'{name}' has {int((~np.isfinite(arr)).sum())} infinite value(s)")
    values = np.unique(arr)
    if values.size == 1:
        raise InputError(f"'{name}' is constant ({values[0]:g}): an exposure-response "
                         "curve needs an exposure that varies")
    if values.size == 2:
        raise InputError(f"'{name}' takes only two values ({values[0]:g}, {values[1]:g}): "
                         "that is a binary treatment, not a continuous exposure; use "
                         "estimate_effect (or compare) for it")
    if values.size < min_distinct:
        raise InputError(f"'{name}' takes only {values.size} distinct values; at least "
                         f"{min_distinct} are needed")
    return arr


def check_exposure_data(X: Any, w: Any, y: Any = None
                        ) -> tuple[np.ndarray, list[str], np.ndarray, np.ndarray | None]:
    """Covariates, a continuous exposure and (optionally) an outcome, checked together:
    ``(X float64, column names, w, y or None)``.  Errors name the exposure and outcome by
    their Series names when they have them.

    >>> X, names, w, y = check_exposure_data([[0.0], [1.0], [2.0]], [0.1, 0.5, 0.9])
    >>> names, w.shape, y
    (['x0'], (3,), None)
    """
    Xa, names, _ = check_array(X)
    wa = check_exposure(w, name=str(getattr(w, "name", None) or "exposure"))
    n = Xa.shape[0]
    if wa.shape[0] != n:
        raise InputError(f"X has {n} rows but the exposure has {wa.shape[0]}")
    ya = None
    if y is not None:
        ya = check_outcome(y, name=str(getattr(y, "name", None) or "outcome"))
        if ya.shape[0] != n:
            raise InputError(f"X has {n} rows but the outcome has {ya.shape[0]}")
    return Xa, names, wa, ya
