"""Coarsened exact matching (Iacus, King & Porro 2012; MatchIt's ``method = "cem"``).

Each numeric column is cut into bins (Sturges' rule by default, or the cut points,
bin counts or rules given per column in ``cutpoints``), categories can be merged
(``grouping``), and units are matched exactly on the coarsened values: a stratum
that holds both arms is a matched set, the others are dropped.  With ``k2k`` each
stratum is then thinned to 1:1 pairs (the nearest unit by Mahalanobis distance, in
data order).  Strata, their numbering and the weights are MatchIt 4.5.1's
(``cem_matchit``, ``weights.subclass``).

The columns may be covariates or the columns of a score (a neural balancing score
coarsened column by column).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import InputError, check_estimand, check_treatment
from .result import MatchResult
from .support import mahalanobis_covariates

__all__ = ["cem_match", "bin_count"]

RULES = ("sturges", "fd", "scott")


def _quantile7(x: np.ndarray, p) -> np.ndarray:
    return np.quantile(x, p)


def bin_count(x: np.ndarray, rule: str) -> int:
    """Number of bins by R's ``nclass.Sturges``, ``nclass.FD`` or ``nclass.scott``.

    >>> bin_count(np.arange(100.0), "sturges")
    8
    """
    n = x.size
    if rule == "sturges":
        return int(np.ceil(np.log2(n) + 1))
    if rule == "scott":
        h = 3.5 * np.sqrt(np.var(x, ddof=1)) * n ** (-1 / 3)
        return max(1, int(np.ceil(np.ptp(x) / h))) if h > 0 else 1
    # Freedman-Diaconis on 5 significant digits, as R
    xs = np.array([float(f"{v:.5g}") for v in x])
    q = _quantile7(xs, [0.25, 0.75])
    h = 2 * (q[1] - q[0])
    al = 0.25
    while h == 0 and (al := al / 2) >= 1 / 512:
        q = _quantile7(xs, [al, 1 - al])
        h = (q[1] - q[0]) / (1 - 2 * al)
    return max(1, int(np.ceil(np.ptp(x) / (h * n ** (-1 / 3))))) if h > 0 else 1


def _coarsen(x: np.ndarray, spec: Any) -> np.ndarray:
    """Bin numbers of ``x`` (R's ``findInterval`` on the breaks MatchIt builds)."""
    if isinstance(spec, str):
        s = spec.lower()
        if s.startswith("q") and s[1:].replace(".", "", 1).isdigit():
            q = float(s[1:])
            spec = _quantile7(x, np.arange(1 / q, 1 - 1 / q + 1e-12, 1 / q))
        elif s in RULES:
            spec = bin_count(x, s)
        else:
            raise InputError(f"unknown cut rule {spec!r}; use one of {', '.join(RULES)}, "
                             "'q#' (quantiles), a number of bins or cut points")
    spec = np.atleast_1d(np.asarray(spec, dtype=np.float64))
    if spec.size == 1:
        bins = int(spec[0])
        breaks = np.linspace(x.min(), x.max(), bins + 1)
        breaks[0], breaks[-1] = -np.inf, np.inf
    else:
        breaks = np.concatenate([[-np.inf], np.unique(spec), [np.inf]])
    return np.searchsorted(breaks, x, side="right")


def cem_match(X: Any, treatment: Any, *, estimand: str = "ATT", cutpoints: Any = "sturges",
              grouping: dict | None = None, k2k: bool = False,
              k2k_method: str | None = "mahalanobis", index: Any = None) -> MatchResult:
    """Coarsened exact matching on the columns of ``X``.

    Parameters
    ----------
    X : DataFrame or array-like, shape (n, p)
        Columns to coarsen and match on exactly (covariates, or a score's columns).
        Numeric columns are binned; categorical, string or boolean columns are
        matched as they are.
    treatment : array-like of 0/1, shape (n,)
    estimand : {"ATT", "ATC", "ATE"}
    cutpoints : str, int, sequence or dict
        How to bin the numeric columns, for all (one value) or per column (a dict):
        ``"sturges"`` (default), ``"fd"``, ``"scott"``, ``"q4"`` (quartiles), a
        number of equal-width bins, or the cut points.  0 matches a column exactly,
        1 leaves it out.
    grouping : dict, optional
        ``{column: [[values merged], ...]}``: categories treated as one.
    k2k : bool
        Thin each stratum to 1:1 pairs (``k2k.method`` distance, nearest first).
    k2k_method : {"mahalanobis", "euclidean"} or None
        Distance for ``k2k`` (None: pairs in data order).
    index : pandas.Index, optional

    Returns
    -------
    MatchResult
        ``subclass`` holds the strata that have both arms (numbered in order of their
        first control, as MatchIt), ``info["cutpoints"]`` the breaks used.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"age": [20, 22, 40, 41, 21, 39, 60], "male": [1, 1, 0, 0, 1, 0, 1]})
    >>> m = cem_match(X, [1, 1, 1, 0, 0, 0, 0], cutpoints={"age": [30, 50]})
    >>> m.subclass.tolist()
    [2, 2, 1, 1, 2, 1, 0]
    """
    estimand = check_estimand(estimand)
    t = check_treatment(treatment)
    frame = X.copy() if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X))
    frame.columns = [str(c) for c in frame.columns]
    n = t.shape[0]
    if len(frame) != n:
        raise InputError(f"X has {len(frame)} rows but the treatment has {n}")
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        raise InputError(f"column '{col}' has missing values")
    if index is None:
        index = X.index if isinstance(X, pd.DataFrame) else pd.RangeIndex(n)
    numeric = {c: pd.api.types.is_numeric_dtype(frame[c]) and not
               pd.api.types.is_bool_dtype(frame[c]) for c in frame.columns}
    original = frame.copy()
    if isinstance(cutpoints, dict):
        bad = set(cutpoints) - set(frame.columns)
        if bad:
            raise InputError(f"cutpoints names column(s) {sorted(bad)} not in X")
        cuts = {c: cutpoints.get(c, "sturges") for c in frame.columns if numeric[c]}
    else:
        cuts = {c: cutpoints for c in frame.columns if numeric[c]}
    for c, spec in list(cuts.items()):
        if np.ndim(spec) == 0 and not isinstance(spec, str):
            if not np.isfinite(spec) or spec < 0:
                raise InputError(f"cutpoints for '{c}' must be a rule, a number of bins or "
                                 f"cut points, got {spec!r}")
            if spec == 0:                      # exact on this column
                numeric[c] = False
                del cuts[c]
            elif spec == 1:                    # left out
                frame = frame.drop(columns=c)
                del cuts[c]
    for c, groups in (grouping or {}).items():
        if c not in frame.columns:
            raise InputError(f"grouping names column '{c}', not in X")
        col = frame[c].astype(object).copy()
        for g in groups:
            col[frame[c].isin(list(g))] = list(g)[0]
        frame[c] = col
        cuts.pop(c, None)
    breaks = {}
    for c in frame.columns:
        if c in cuts:
            x = frame[c].to_numpy(dtype=np.float64)
            frame[c] = _coarsen(x, cuts[c])
            breaks[c] = cuts[c] if not isinstance(cuts[c], str) else cuts[c]
    # one integer per cell of the coarsened values
    codes = [pd.factorize(frame[c])[0].astype(np.int64) for c in frame.columns] \
        or [np.zeros(n, dtype=np.int64)]
    key, radix = np.zeros(n, dtype=np.int64), 1
    for c in codes:                    # mixed radix while it fits, then re-factorised
        size = int(c.max()) + 1
        if radix * size >= 2 ** 62:
            key = pd.factorize(key)[0].astype(np.int64)
            radix = int(key.max()) + 1
        key += c * radix
        radix *= size
    cell = pd.factorize(key)[0]
    # strata with both arms, numbered in order of their first control (R: intersect)
    both = np.zeros(int(cell.max()) + 1, dtype=bool)
    both[np.intersect1d(cell[t == 0], cell[t == 1])] = True
    ctrl = np.flatnonzero(t == 0)
    first_ctrl = pd.unique(cell[ctrl])
    common = first_ctrl[both[first_ctrl]]
    if common.size == 0:
        raise InputError("no stratum holds both arms: coarsen the columns further or "
                         "match on fewer")
    rank = np.zeros(both.size, dtype=np.int64)
    rank[common] = np.arange(1, common.size + 1)
    sub = rank[cell]                                              # 0 = unmatched
    if k2k:
        sub = _k2k(sub, t, original, estimand, k2k_method)
    used = np.unique(sub[sub > 0])
    relabel = np.zeros(int(sub.max()) + 1, dtype=np.int64)
    relabel[used] = np.arange(1, used.size + 1)
    sub = relabel[sub]
    arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[estimand]
    score = original.select_dtypes("number").to_numpy(dtype=np.float64)
    if score.shape[1] == 0:
        score = np.zeros((n, 1))
    return MatchResult(treatment=t, estimand=estimand, n_neighbors=1, replace=False,
                       caliper=None, dropped=np.flatnonzero(np.isin(t, arms) & (sub == 0)),
                       index=pd.Index(index), score=score, ties=False, subclass=sub,
                       design="cem", info={"n_subclasses": int(sub.max()), "k2k": bool(k2k),
                                           "cutpoints": breaks})


def _k2k(sub, t, X, estimand, method):
    """MatchIt's k2k: within each stratum of more than two units, pair each focal
    unit (in data order) with its nearest remaining unit of the other arm."""
    focal = 0 if estimand == "ATC" else 1
    # numeric columns as they are, categories as one column per level (as MatchIt)
    num = pd.get_dummies(X, dtype=np.float64).to_numpy(dtype=np.float64)
    if method is None:
        Z = None
    elif method == "mahalanobis":
        Z = mahalanobis_covariates(num, t, np.ones(t.size, dtype=bool))
    elif method == "euclidean":
        Z = num
    else:
        raise InputError(f"k2k_method must be 'mahalanobis', 'euclidean' or None, got "
                         f"{method!r}")
    out = sub.copy()
    extra = int(sub.max())
    counts = np.bincount(sub[sub > 0])
    for s in np.flatnonzero(counts > 2):
        members = np.flatnonzero(sub == s)
        rows = members[t[members] == focal]
        cols = members[t[members] != focal]
        D = (np.zeros((rows.size, cols.size)) if Z is None else
             np.sqrt(((Z[rows][:, None, :] - Z[cols][None, :, :]) ** 2).sum(axis=2)))
        free = np.ones(cols.size, dtype=bool)
        for i, r in enumerate(rows):
            if not free.any():
                out[r] = 0
                continue
            j = int(np.flatnonzero(free)[np.argmin(D[i, free])])
            extra += 1
            out[[r, cols[j]]] = extra
            free[j] = False
        out[cols[free]] = 0
    return out
