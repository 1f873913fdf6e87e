"""Exact-strata matching on a Dask DataFrame: strata matched on the workers.

Units are only compared within an exact stratum, so the strata are independent
problems.  :func:`match_dask` shuffles the rows so that each stratum lies in one
partition, matches every partition on the Dask workers with the engine of
:func:`~causalsm.match`, and gathers the matches into one :class:`MatchResult`,
equal to ``match(score, treatment, exact=...)`` on the collected data.

Dask is optional (``pip install "causalsm[dask]"``); it is imported on first use.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from .._validation import InputError, check_estimand, check_int, check_treatment
from .nearest import (_match_parts, _resolve_caliper, _result, _scale_params, _score_matrix,
                      _strata, check_reservoir)
from .result import MatchResult

__all__ = ["match_dask", "require_dask"]

_POS = "__causalsm_position__"


def require_dask(what: str = "this feature"):
    """Import ``dask`` and ``dask.dataframe``, or raise a clear error."""
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as err:                           # pragma: no cover - env specific
        raise ImportError(f"{what} needs Dask: pip install \"causalsm[dask]\" "
                          f"(dask[distributed] and dask[dataframe]); {err}") from None
    return dask, dd


def _columns(spec: Any) -> list:
    return [spec] if isinstance(spec, str) else list(spec)


def _with_position(df: pd.DataFrame, offset: int) -> pd.DataFrame:
    df = df.copy()
    df[_POS] = np.arange(offset, offset + len(df), dtype=np.int64)
    return df


def _match_partition(df: pd.DataFrame, score_cols, treatment, exact_cols, mu, sd, cal,
                     estimand, k, replace, tol, order, drop_incomplete):
    """Match the strata of one partition; positions in the parts are global."""
    if len(df) == 0:
        return True, []
    df = df.sort_values(_POS, kind="stable")     # data order inside every stratum
    pos = df[_POS].to_numpy(dtype=np.int64)
    raw = df[score_cols].to_numpy(dtype=np.float64)
    t = check_treatment(df[treatment].to_numpy())
    z = (raw - mu) / sd
    zcal = None if cal is None else cal / sd
    strata = _strata(df[exact_cols], len(df))
    focal_arms = {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}[estimand]
    pair_free, parts = _match_parts(z, raw, t, strata, focal_arms, k, replace, True, tol,
                                    cal, zcal, sd, order, None, None, drop_incomplete, mu)
    if pair_free:
        return True, [(pos[f], lo, hi, pos[pool]) for f, lo, hi, pool in parts]
    return False, [(pos[f], pos[m], d2) for f, m, d2 in parts]


def match_dask(ddf, score: Any, treatment: str, *, exact: Any = None, estimand: str = "ATT",
               n_neighbors: int = 1, replace: bool = True, caliper: float | None = None,
               caliper_units: str = "sd", order: str = "data",
               distance_tolerance: float = 1e-5, standardize: bool = True,
               drop_incomplete: bool = False, npartitions: int | None = None) -> MatchResult:
    """Match on a Dask DataFrame: within exact strata, or range-partitioned on a score.

    Without ``exact`` (a scalar score, with replacement, ties kept): the rows are
    sorted by score across the cluster and each partition is matched with a halo of
    units from its neighbours (:mod:`causalsm.matching.ranged`), so that the matches
    equal those of ``match`` on the collected frame.  With ``exact``: the rows are
    shuffled on the ``exact`` columns so that every stratum sits in one
    partition; each partition is matched on a Dask worker (the default scheduler, or
    the cluster of an active ``dask.distributed.Client``); the matches are gathered
    into one :class:`MatchResult`.  The result equals
    ``match(df[score], df[treatment], exact=df[exact], ...)`` on the collected data
    frame: the standardisation and the caliper use the SDs over all units, as there.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame (or pandas.DataFrame)
    score : str or list of str
        Score column(s).
    treatment : str
        Treatment column (0/1 or boolean).
    exact : str or list of str, optional
        Exact-matching columns: the strata, matched independently.  ``None``:
        range-partitioned matching (one score column, ``replace=True``).
    estimand, n_neighbors, replace, caliper, caliper_units, order, distance_tolerance,
    standardize, drop_incomplete :
        As :func:`causalsm.match`.  ``order`` may be ``"data"``, ``"largest"`` or
        ``"smallest"``; random tie-breaking (``ties=False``), random orders and unit
        weights are not offered here, since they would depend on how strata are spread
        over workers.
    npartitions : int, optional
        Partitions after the shuffle (default: as many as the input).

    Returns
    -------
    MatchResult
        Row positions refer to the rows of ``ddf`` in partition order; ``index``
        holds its index labels.

    Notes
    -----
    The client collects the score and treatment columns (the MatchResult keeps them,
    8 bytes per unit and score column); covariates and outcomes stay on the workers.
    """
    dask, dd = require_dask("match_dask")
    if isinstance(ddf, pd.DataFrame):
        ddf = dd.from_pandas(ddf, npartitions=max(1, min(8, len(ddf) // 10000 + 1)),
                             sort=False)             # keep the row order
    estimand = check_estimand(estimand)
    k = check_int(n_neighbors, "n_neighbors")
    if exact is None:
        from .ranged import match_ranged
        score_cols = _columns(score)
        if len(score_cols) != 1 or not replace:
            raise InputError("match_dask without exact strata matches on one score column "
                             "with replacement; give exact= for other designs")
        missing = [c for c in score_cols + [treatment] if c not in ddf.columns]
        if missing:
            raise InputError(f"column(s) {missing} not in the data frame")
        if distance_tolerance < 0:
            raise InputError("distance_tolerance must be >= 0")
        return match_ranged(ddf, score_cols[0], treatment, estimand=estimand, n_neighbors=k,
                            caliper=caliper, caliper_units=caliper_units,
                            distance_tolerance=distance_tolerance, standardize=standardize,
                            drop_incomplete=drop_incomplete, npartitions=npartitions)
    score_cols, exact_cols = _columns(score), _columns(exact)
    missing = [c for c in score_cols + [treatment] + exact_cols if c not in ddf.columns]
    if missing:
        raise InputError(f"column(s) {missing} not in the data frame")
    if not replace and estimand == "ATE":
        raise InputError("matching without replacement needs estimand 'ATT' or 'ATC'; "
                         "use replace=True for the ATE")
    if distance_tolerance < 0:
        raise InputError("distance_tolerance must be >= 0")
    if not isinstance(order, str) or order not in ("data", "largest", "smallest"):
        raise InputError("match_dask supports order='data', 'largest' or 'smallest'")

    # Global quantities, computed exactly as match() does, on the collected score.
    local = ddf[score_cols + [treatment]].compute()
    t = check_treatment(local[treatment].to_numpy(), name=treatment)
    raw = _score_matrix(local[score_cols].to_numpy(dtype=np.float64), t.shape[0])
    mu, sd = _scale_params(raw, standardize)
    z = (raw - mu) / sd
    cal = _resolve_caliper(caliper, caliper_units, raw)
    if replace:
        check_reservoir(t, estimand, k)

    # Global row positions, then one partition per group of whole strata.
    cols = list(dict.fromkeys(score_cols + [treatment] + exact_cols))
    blocks = ddf[cols].to_delayed()
    lengths = dask.compute(*[dask.delayed(len)(b) for b in blocks])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(int)
    meta = _with_position(ddf[cols]._meta, 0)
    positioned = dd.from_delayed([dask.delayed(_with_position)(b, int(o))
                                  for b, o in zip(blocks, offsets)], meta=meta,
                                 verify_meta=False)
    shuffled = positioned.shuffle(on=exact_cols, npartitions=npartitions or ddf.npartitions)
    tasks = [dask.delayed(_match_partition)(p, score_cols, treatment, exact_cols, mu, sd,
                                            cal, estimand, k, replace, distance_tolerance,
                                            order, drop_incomplete)
             for p in shuffled.to_delayed()]
    outs = dask.compute(*tasks)
    pair_free = (replace and raw.shape[1] == 1)
    parts = [part for _, ps in outs for part in ps]
    return _result(parts, pair_free, z, raw, t, None, estimand, k, replace, True, cal,
                   local.index)
