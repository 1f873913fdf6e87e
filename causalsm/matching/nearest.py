"""Nearest-neighbour matching on any score.

One engine for every estimator: ``k`` neighbours, with or without replacement,
calipers, exact strata and ties, in the direction set by the estimand.

Distances follow R's ``Matching::Match``: each score column is divided by its
sample standard deviation (``standardize=True``), the distance is Euclidean in
those units, and a candidate is a *tie* of the k-th nearest match when its
squared distance is within ``distance_tolerance`` (1e-5) of the k-th smallest
squared distance.  Ties are kept and share the weight of one match, as in
Abadie & Imbens (2006), unless ``ties=False`` (then broken at random).

Speed and memory: a 1-d score is matched by binary search on the sorted candidates
(O(n log n)); a low-dimensional score by a KD-tree (``scipy.spatial.cKDTree``),
queried in chunks, in the leaf order of a tree of the queries, on every core, and a
score of more than 16 columns (covariates) by exact brute force in blocks of matrix
products.  No dense treated-by-control distance matrix is ever built.
With replacement on a 1-d score with ties kept, the matches of each unit are a
contiguous run of the sorted candidates and are kept as ``(start, stop)`` ranges
(:class:`~causalsm.matching.MatchRanges`): memory grows with the number of units,
not with the number of tied pairs (R's tolerance makes about 1,400 per treated unit
at 10^6 units); pairs are built only when asked for.
"""

from __future__ import annotations

import warnings
from array import array
from typing import Any

import numpy as np
import pandas as pd
from scipy.spatial import cKDTree

from .._stats import weighted_scale
from .._validation import (InputError, check_bool, check_estimand, check_int, check_seed,
                           check_treatment, check_weights)
from . import _jit
from .result import MatchRanges, MatchResult, window_moments

__all__ = ["match", "same_arm_neighbors", "same_arm_moments", "same_arm_variances"]

ORDERS = ("data", "largest", "smallest", "random", "closest")
_R_TOL = 1e-10     # R's Matching compares with this slack (TOL in its matching.h)
_CHUNK = 1 << 18   # queries per chunk: bounds the temporaries of a neighbour search
_TREE_DIMS = 16    # above this many score columns a KD-tree is slower than brute force


class _BruteForce:
    """Exact k nearest neighbours by blocks of BLAS distances, with the interface of
    ``cKDTree`` that the search uses (``n``, ``query``).

    A KD-tree degrades to worse than brute force beyond a few dozen dimensions
    (covariate matching on hundreds of columns).  Candidates are chosen on the
    expanded distance ``|q|^2 + |c|^2 - 2 q.c`` (one matrix product per block of at
    most about 32 MB), then their distances are recomputed from the differences, as
    ``cKDTree`` computes them (so that exact ties stay exact), and sorted.
    """

    _MARGIN = 8            # extra candidates against rounding in the expanded distance

    def __init__(self, data: np.ndarray):
        self.data = np.ascontiguousarray(data, dtype=np.float64)
        self.n = self.data.shape[0]
        self.sq = np.einsum("ij,ij->i", self.data, self.data)

    def query(self, q, k: int = 1):
        single = np.ndim(q) == 1
        q = np.atleast_2d(np.asarray(q, dtype=np.float64))
        k = min(int(k), self.n)
        m = min(self.n, k + self._MARGIN)
        step = max(1, (1 << 22) // max(self.n, m * self.data.shape[1], 1))
        dist = np.empty((q.shape[0], k))
        index = np.empty((q.shape[0], k), dtype=np.int64)
        for a in range(0, q.shape[0], step):
            block = q[a:a + step]
            d2 = self.sq[None, :] - 2.0 * block @ self.data.T
            cand = np.argpartition(d2, m - 1, axis=1)[:, :m] if m < self.n else \
                np.broadcast_to(np.arange(self.n), (block.shape[0], self.n))
            exact = np.sum((self.data[cand] - block[:, None, :]) ** 2, axis=2)
            order = np.argsort(exact, axis=1, kind="stable")[:, :k]
            dist[a:a + step] = np.sqrt(np.take_along_axis(exact, order, axis=1))
            index[a:a + step] = np.take_along_axis(cand, order, axis=1)
        return (dist[0], index[0]) if single else (dist, index)


def _neighbour_index(points: np.ndarray):
    """A KD-tree for a low-dimensional score, exact brute force for a wide one."""
    return _kdtree(points) if points.shape[1] <= _TREE_DIMS else _BruteForce(points)


PAIR_FREE = True   # 1-d ties as ranges (False: the pair engine, kept for checks)


def check_reservoir(t: np.ndarray, estimand: str, k: int) -> None:
    """With replacement every focal unit needs ``k`` units in the other arm."""
    for arm in {"ATT": (0,), "ATC": (1,), "ATE": (0, 1)}[estimand]:
        if (t == arm).sum() < k:
            label = "treated" if arm == 1 else "control"
            raise InputError(f"the {label} arm has {(t == arm).sum()} unit(s), fewer "
                             f"than n_neighbors={k}")


def match(score: Any, treatment: Any, *, estimand: str = "ATT", n_neighbors: int = 1,
          replace: bool = True, caliper: float | None = None, caliper_units: str = "sd",
          exact: Any = None, ties: bool = True, order: Any = "data",
          distance_tolerance: float = 1e-5, standardize: bool = True,
          random_state: Any = None, index: Any = None, weights: Any = None,
          drop_incomplete: bool = False, method: str = "nearest", discard: Any = "none",
          mahvars: Any = None, antiexact: Any = None, min_controls: Any = None,
          max_controls: Any = None, **design_options) -> MatchResult:
    """Match units on a score.

    ``method`` chooses the design, as MatchIt's: ``"nearest"`` (this engine, the
    default), ``"optimal"`` (:func:`~causalsm.matching.optimal.optimal_match`),
    ``"full"`` (:func:`~causalsm.matching.optimal.full_match`), ``"subclass"``
    (:func:`~causalsm.matching.subclass.subclassify`) or ``"cem"``
    (:func:`~causalsm.matching.cem.cem_match`, coarsening the score's columns);
    their own options (``omit_fraction``, ``n_subclasses``, ``cutpoints``...) pass
    through ``design_options``, and ``n_neighbors`` is the ``ratio`` of optimal
    matching.

    Parameters
    ----------
    score : array-like, shape (n,) or (n, k)
        The balancing score (propensity logit, covariates, a learned score...).
    treatment : array-like of 0/1, shape (n,)
    estimand : {"ATT", "ATC", "ATE"}
        ATT matches each treated unit to controls, ATC each control to treated
        units, ATE does both.
    n_neighbors : int
        Number of matches per unit (``M`` of Abadie-Imbens, ``ratio`` of MatchIt).
    replace : bool
        Match with replacement (default) or greedily without replacement.
    caliper : float or sequence of float, optional
        Maximum allowed difference on each score column.  Units with no candidate
        within the caliper are dropped and reported in ``MatchResult.dropped``.
    caliper_units : {"sd", "raw"}
        ``"sd"``: the caliper is in standard deviations of each score column (the
        population SD over all units, as R's Matching); ``"raw"``: score units.
        The resolved value is in ``MatchResult.caliper``.
    exact : array-like, shape (n,) or (n, m), optional
        Values that must be equal between a unit and its matches (exact strata).
    ties : bool
        With replacement: keep every candidate tied with the k-th nearest (default,
        as Abadie-Imbens and R's Matching) or break ties at random.  Without
        replacement each unit gets exactly its matches and ties are broken in data
        order.
    order : {"data", "largest", "smallest", "random", "closest"} or array-like
        Without replacement: the order in which units are matched (MatchIt's
        ``m.order``); largest/smallest refer to the first score column; ``"closest"``
        matches the nearest pairs first (MatchIt 4.6).  An array gives a priority per
        unit (matched in ascending order of it).
    distance_tolerance : float
        Tolerance on the squared standardized distance within which candidates are
        ties (R's ``distance.tolerance``, to which R adds 1e-10; so do we).  0 keeps
        exact ties only.
    standardize : bool
        Divide each score column by its sample SD before computing distances.
    random_state : int, numpy Generator or None
        Seeds random tie-breaking and ``order="random"``.
    index : pandas.Index, optional
        Row labels reported by ``MatchResult.matched_data()``.
    weights : array-like of positive float, optional
        Survey (sampling) weights, as R's ``Match(weights=)``: they weight the
        standardisation, the caliper SD, the number of matches (the k-th neighbour is
        where the matches' cumulative weight reaches k) and the match counts.  Only
        with replacement.
    drop_incomplete : bool
        With replacement: drop a unit that has fewer than ``n_neighbors`` candidates
        within the caliper or its exact stratum (R's ``Match``).  By default it keeps
        the matches it has (as MatchIt).
    method : {"nearest", "optimal", "full", "subclass", "cem"}
        The design (see above).
    discard : {"none", "treated", "control", "both"} or boolean array
        Leave out units outside common support of the score (MatchIt's ``discard``;
        per column for a multi-column score); reported in ``MatchResult.discarded``.
    mahvars : array-like, shape (n, q), optional
        Match on MatchIt's Mahalanobis distance of these covariates, inside the
        caliper on the score.
    antiexact : array-like, shape (n,) or (n, m), optional
        Matched units must differ on these columns.
    min_controls, max_controls : int, optional
        Variable-ratio matching without replacement (Ming & Rosenbaum 2000): each
        focal unit gets between these many matches, ``n_neighbors`` on average, the
        units least like the other arm getting fewest (MatchIt).  ``mahvars``,
        ``antiexact``, ``max_controls`` and ``order="closest"`` use the greedy engine
        of :mod:`causalsm.matching.greedy`; its caliper is in population SDs too.

    Returns
    -------
    MatchResult

    Examples
    --------
    >>> import numpy as np
    >>> m = match([0.1, 0.35, 0.2, 0.3, 0.9], [1, 1, 0, 0, 0])
    >>> m.pairs()[["treated", "control"]].to_numpy().tolist()
    [[0, 2], [1, 3]]
    >>> m.match_count.tolist()
    [0.0, 0.0, 1.0, 1.0, 0.0]
    """
    if method != "nearest":
        return _design(method, score, treatment, estimand=estimand, n_neighbors=n_neighbors,
                       caliper=caliper, caliper_units=caliper_units, exact=exact,
                       standardize=standardize, index=index, discard=discard,
                       mahvars=mahvars, antiexact=antiexact, min_controls=min_controls,
                       max_controls=max_controls, **design_options)
    if design_options:
        raise InputError(f"unknown option(s) {', '.join(sorted(design_options))} for "
                         "nearest-neighbour matching")
    replace, ties = check_bool(replace, "replace"), check_bool(ties, "ties")
    drop_incomplete = check_bool(drop_incomplete, "drop_incomplete")
    standardize = check_bool(standardize, "standardize")
    estimand = check_estimand(estimand)
    k = check_int(n_neighbors, "n_neighbors")
    if (mahvars is not None or antiexact is not None or max_controls is not None
            or (isinstance(order, str) and order == "closest")):
        return _match_general(score, treatment, estimand, k, replace, caliper, caliper_units,
                              exact, order, standardize, random_state, index, discard,
                              mahvars, antiexact, min_controls, max_controls, weights)
    t = check_treatment(treatment)
    raw = _score_matrix(score, t.shape[0])
    if not replace and estimand == "ATE":
        raise InputError("matching without replacement needs estimand 'ATT' or 'ATC'; "
                         "use replace=True for the ATE")
    if distance_tolerance < 0:
        raise InputError("distance_tolerance must be >= 0")
    rng = np.random.default_rng(check_seed(random_state))
    n = t.shape[0]
    w = _unit_weights(weights, n)
    if w is not None and not replace:
        raise InputError("unit weights are supported for matching with replacement only")
    mu, sd = _scale_params(raw, standardize, w)
    z = raw if not standardize or n < 2 else (raw - mu) / sd      # as _standardize
    cal = _resolve_caliper(caliper, caliper_units, raw, w)
    zcal = None if cal is None else cal / sd
    strata = _strata(exact, n)

    focal_arms = {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}[estimand]
    from .support import common_support
    discarded = common_support(raw, t, discard)
    if replace:
        check_reservoir(t[~discarded], estimand, k)
    keep = ~discarded if discarded.any() else None
    # the one sort of all units serves only when no unit is discarded
    ranked = _ranked(raw, t, strata, replace, ties, w) if keep is None else None
    pair_free, parts = _match_parts(z, raw, t, strata, focal_arms, k, replace, ties,
                                    distance_tolerance, cal, zcal, sd, order, rng, w,
                                    drop_incomplete, mu, keep=keep, ranked=ranked)
    if index is None:
        index = score.index if isinstance(score, (pd.Series, pd.DataFrame)) else pd.RangeIndex(n)
    res = _result(parts, pair_free, z, raw, t, w, estimand, k, replace, ties, cal, index,
                  ranked=ranked)
    res.discarded = discarded
    return res


def _ranked(raw, t, strata, replace, ties, w) -> tuple | None:
    """The units of each arm sorted by a 1-d score, from one sort of all units.

    Sorting is the main cost of 1-d matching with replacement; the same orders then
    serve the matches of both arms and the same-arm neighbours of the variance
    (:func:`same_arm_moments`).  ``(controls, treated)`` positions, or ``None`` where
    the pair-free path is not taken.  Each arm is ``(positions, sorted raw scores)``:
    the sorted values come with the sort, so no later step gathers them again.
    """
    if not (PAIR_FREE and replace and ties and raw.shape[1] == 1 and w is None
            and strata is None):
        return None
    return _sort_arms(raw[:, 0], t)


def _sort_arms(score: np.ndarray, t: np.ndarray) -> tuple:
    return _jit.split_arms(_jit.score_order(score), score, t)


def _design(method, score, treatment, *, estimand, n_neighbors, caliper, caliper_units, exact,
            standardize, index, discard, mahvars, antiexact, min_controls, max_controls,
            **options) -> MatchResult:
    """The other designs of :func:`match` (one registry of names: :data:`METHODS`)."""
    from .cem import cem_match
    from .optimal import full_match, optimal_match
    from .subclass import subclassify
    common = {"estimand": estimand, "index": index}
    if method == "optimal":
        return optimal_match(score, treatment, ratio=n_neighbors, caliper=caliper,
                             caliper_units=caliper_units, exact=exact, antiexact=antiexact,
                             mahvars=mahvars, discard=discard, standardize=standardize,
                             min_controls=min_controls, max_controls=max_controls,
                             **common, **options)
    if method == "full":
        extra = {k: v for k, v in (("min_controls", min_controls),
                                   ("max_controls", max_controls)) if v is not None}
        return full_match(score, treatment, caliper=caliper, caliper_units=caliper_units,
                          exact=exact, antiexact=antiexact, mahvars=mahvars, discard=discard,
                          standardize=standardize, **extra, **common, **options)
    if method == "subclass":
        return subclassify(score, treatment, discard=discard, **common, **options)
    if method == "cem":
        return cem_match(score, treatment, **common, **options)
    raise InputError(f"unknown method {method!r}; use one of {', '.join(METHODS)}")


#: The matching designs, as MatchIt names them.
METHODS = ("nearest", "optimal", "full", "subclass", "cem")


def _match_general(score, treatment, estimand, k, replace, caliper, caliper_units, exact,
                   order, standardize, random_state, index, discard, mahvars, antiexact,
                   min_controls, max_controls, weights) -> MatchResult:
    """Greedy matching with mahvars, anti-exact, variable ratio or the closest order."""
    from .greedy import greedy_pairs, variable_ratios
    from .support import prepare
    if weights is not None:
        raise InputError("unit weights are not supported with mahvars, antiexact, "
                         "variable ratio or order='closest'")
    d = prepare(score, treatment, estimand=estimand, standardize=standardize, caliper=caliper,
                caliper_units=caliper_units, exact=exact, antiexact=antiexact,
                mahvars=mahvars, discard=discard, index=index, estimands=("ATT", "ATC"),
                caliper_ddof=0)
    focal = d.focal_arm()
    n_focal = int((d.t == focal).sum())
    if max_controls is not None:
        if replace:
            raise InputError("variable-ratio matching is without replacement")
        lo = 1 if min_controls is None else int(np.floor(min_controls))
        hi = int(np.ceil(max_controls))
        if not (k > 1 and hi > k and 1 <= lo < k):
            raise InputError("variable-ratio matching needs 1 <= min_controls < n_neighbors "
                             f"< max_controls; got {min_controls}, {k}, {max_controls}")
        if d.score.shape[1] != 1:
            raise InputError("variable-ratio matching shares the matches out by a 1-d score; "
                             f"this one has {d.score.shape[1]} columns")
        wants = variable_ratios(d.score[:, 0], d.t, focal, k, lo, hi)
    else:
        wants = np.full(n_focal, k, dtype=np.int64)
    rng = np.random.default_rng(check_seed(random_state))
    rows, cols, d2 = greedy_pairs(d, wants, order, replace, rng)
    parts = [(rows, cols, d2)]
    res = _result(parts, False, d.metric, d.score, d.t, None, d.estimand, k, replace, False,
                  d.caliper, d.index)
    res.discarded = d.discarded
    return res


def _result(parts, pair_free, z, raw, t, w, estimand, k, replace, ties, cal,
            index, ranked=None) -> MatchResult:
    """One MatchResult from the parts of every group (positions in the full data)."""
    n = t.shape[0]
    focal_arms = {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}[estimand]
    focal_all = (np.arange(n) if len(focal_arms) == 2           # t is 0/1: no np.isin
                 else np.flatnonzero(t == focal_arms[0]))
    if pair_free:
        ranges = _assemble_ranges(parts, z[:, 0])
        ranges.ranked = ranked
        pairs = {"ranges": ranges}
        matched_focal = ranges.focal
    else:
        pairs = _assemble_pairs(parts, n, w)
        matched_focal = pairs["focal"]
    if matched_focal.size == 0:
        raise InputError("no unit could be matched: the caliper or the exact strata "
                         "exclude every candidate")
    is_matched = np.zeros(n, dtype=bool)
    is_matched[matched_focal] = True
    dropped = focal_all[~is_matched[focal_all]]
    return MatchResult(**pairs, treatment=t, estimand=estimand, n_neighbors=k,
                       replace=bool(replace), caliper=cal, dropped=dropped,
                       index=pd.Index(index), score=raw, ties=bool(ties), unit_weight=w)


def _match_parts(z, raw, t, strata, focal_arms, k, replace, ties, tol, cal, zcal, sd, order,
                 rng, w, drop_incomplete, mu=None, keep=None, ranked=None):
    """Match every (focal arm, exact stratum) group; returns ``(pair_free, parts)``.

    With replacement on a 1-d score with ties kept, the matches of a unit are a
    contiguous run of the sorted candidates: the parts are ``(focal, lo, hi, pool)``
    ranges, not pairs (``pair_free``).  Otherwise they are ``(focal, matched, d2)``.
    ``ranked`` (every unit sorted by the 1-d score, see :func:`_ranked`) saves the
    sorts of the pair-free path.
    """
    pair_free = PAIR_FREE and replace and ties and z.shape[1] == 1 and w is None
    parts = []
    for arm in focal_arms:
        fmask, cmask = t == arm, t != arm
        if keep is not None:
            fmask, cmask = fmask & keep, cmask & keep
        for f_idx, c_idx in _stratum_groups(strata, fmask, cmask):
            if c_idx.size == 0 or f_idx.size == 0:
                continue
            if pair_free:
                parts.append(_match_ranges(
                    z, raw, f_idx, c_idx, k, tol, cal, drop_incomplete,
                    scale=None if mu is None else (mu[0], sd[0]),
                    presorted=None if ranked is None else (ranked[arm], ranked[1 - arm])))
            elif replace:
                parts.append(_match_with_replacement(
                    z, raw, f_idx, c_idx, k, tol, cal, zcal, ties, rng,
                    None if w is None else w[c_idx], drop_incomplete=drop_incomplete))
            else:
                prio = _priority(order, raw, f_idx, rng)
                parts.append(_match_greedy(z, raw, f_idx[np.argsort(prio, kind="stable")],
                                           c_idx, k, cal, zcal, sd))
    return pair_free, parts


def _assemble_pairs(parts, n: int, w) -> dict:
    """Pairs of every group, sorted by focal unit then match, with their shares."""
    if parts:
        focal = np.concatenate([p[0] for p in parts])
        matched = np.concatenate([p[1] for p in parts])
        d2 = np.concatenate([p[2] for p in parts])
    else:
        focal = matched = np.zeros(0, dtype=np.int64)
        d2 = np.zeros(0)
    if focal.size > 1 and not (np.all(focal[1:] >= focal[:-1]) and np.all(
            (focal[1:] > focal[:-1]) | (matched[1:] > matched[:-1]))):
        focal, matched, d2 = _jit.sort_pairs(focal, matched, d2)   # by unit, then match
    n_j = np.bincount(focal, minlength=n)
    if w is None:
        share = 1.0 / n_j[focal]
    else:
        share = w[matched] / np.bincount(focal, weights=w[matched], minlength=n)[focal]
    return {"focal": focal, "matched": matched, "share": share,
            "distance": np.sqrt(np.maximum(d2, 0.0))}


def _assemble_ranges(parts, zscore: np.ndarray) -> MatchRanges:
    """Ranges of every group into one pool, matched focal units in ascending order."""
    focal, start, stop, pools = [], [], [], []
    offset = 0
    # Groups in a canonical order (by their first focal unit; groups share no focal
    # unit), so that however they were computed the pool, and every sum over it, is
    # the same.
    parts = sorted(parts, key=lambda p: int(p[0].min()) if p[0].size else -1)
    for f_idx, lo, hi, pool in parts:
        keep = hi > lo
        focal.append(f_idx[keep])
        start.append(lo[keep] + offset)
        stop.append(hi[keep] + offset)
        pools.append(pool)
        offset += pool.size
    cat = (lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64))
    focal, start, stop = cat(focal), cat(start), cat(stop)
    o = _jit.score_order(focal)
    return MatchRanges(focal=focal[o], start=start[o], stop=stop[o], pool=cat(pools),
                       zscore=zscore)


# --------------------------------------------------------------------------- set-up
def _score_matrix(score: Any, n: int) -> np.ndarray:
    arr = np.array(score, dtype=np.float64, copy=True)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] != n:
        raise InputError(f"the score has shape {arr.shape}; expected {n} rows to match "
                         "the treatment")
    if not np.isfinite(arr).all():
        raise InputError("the score has missing or infinite values")
    return arr


def _unit_weights(weights: Any, n: int) -> np.ndarray | None:
    return check_weights(weights, n, name="weights", positive=True)


def _standardize(raw: np.ndarray, standardize: bool,
                 w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Centre and divide each column by its SD (R's Match); constant columns kept."""
    if not standardize or raw.shape[0] < 2:
        return raw, np.ones(raw.shape[1])
    mu, sd = _scale_params(raw, True, w)
    return (raw - mu) / sd, sd


def _scale_params(raw: np.ndarray, standardize: bool,
                  w: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``mu, sd`` with ``(raw - mu) / sd`` the standardized score (0 and 1 when off)."""
    if not standardize or raw.shape[0] < 2:
        return np.zeros(raw.shape[1]), np.ones(raw.shape[1])
    mu, sd = weighted_scale(raw, w)
    return mu, np.where(sd > 0, sd, 1.0)


def _resolve_caliper(caliper: Any, units: str, raw: np.ndarray,
                     w: np.ndarray | None = None) -> np.ndarray | None:
    if caliper is None:
        return None
    cal = np.asarray(caliper, dtype=np.float64).ravel()
    if cal.size not in (1, raw.shape[1]):
        raise InputError(f"caliper has {cal.size} values for a score with "
                         f"{raw.shape[1]} columns")
    cal = np.broadcast_to(cal, (raw.shape[1],)).copy()
    if (cal <= 0).any() or not np.isfinite(cal).all():
        raise InputError("caliper must be positive and finite")
    if units == "sd":                      # population SD, as R's Match (around the
        if w is None:                      # weighted mean, divided by the weight sum)
            return cal * raw.std(axis=0, ddof=0)
        mu = w @ raw / w.sum()
        return cal * np.sqrt(((raw - mu) ** 2).sum(axis=0) / w.sum())
    if units == "raw":
        return cal
    raise InputError(f"caliper_units must be 'sd' or 'raw', got {units!r}")


def _strata(exact: Any, n: int) -> np.ndarray | None:
    if exact is None:
        return None
    frame = pd.DataFrame(exact) if not isinstance(exact, pd.DataFrame) else exact
    if len(frame) != n:
        raise InputError(f"exact has {len(frame)} rows; expected {n}")
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        raise InputError(f"exact-matching column '{col}' has missing values")
    return frame.groupby(list(frame.columns), sort=False).ngroup().to_numpy()


def _stratum_groups(strata, fmask, cmask):
    if strata is None:
        yield np.flatnonzero(fmask), np.flatnonzero(cmask)
        return
    order = np.argsort(strata, kind="stable")
    bounds = np.flatnonzero(np.diff(strata[order])) + 1
    for members in np.split(order, bounds):
        yield members[fmask[members]], members[cmask[members]]


def _priority(order: Any, raw: np.ndarray, f_idx: np.ndarray, rng) -> np.ndarray:
    if isinstance(order, str):
        if order == "data":
            return f_idx.astype(float)
        if order == "largest":
            return -raw[f_idx, 0]
        if order == "smallest":
            return raw[f_idx, 0]
        if order == "random":
            return rng.permutation(f_idx.size).astype(float)
        raise InputError(f"unknown order {order!r}; use one of {', '.join(ORDERS)} or an array")
    prio = np.asarray(order, dtype=np.float64)
    if prio.shape != (raw.shape[0],):
        raise InputError(f"order has shape {prio.shape}; expected ({raw.shape[0]},)")
    return prio[f_idx]


# ------------------------------------------------------------ with replacement
def _within_caliper(raw_q: np.ndarray, raw_c: np.ndarray, cal) -> np.ndarray:
    if cal is None:
        return np.ones(raw_q.shape[:-1], dtype=bool)
    return (np.abs(raw_q - raw_c) <= cal).all(axis=-1)


def _match_with_replacement(z, raw, f_idx, c_idx, k, tol, cal, zcal, ties, rng, wc=None,
                            exclude_self=False, drop_incomplete=False):
    """All candidates within ``tol`` of the k-th nearest (caliper-valid) squared distance.

    With candidate weights ``wc`` the k-th nearest is where the cumulative weight of the
    nearest candidates reaches k (R's Match with ``weights``).  ``exclude_self`` (for
    ``f_idx`` equal to ``c_idx``) leaves each unit out of its own candidates.
    A unit with fewer than k caliper-valid candidates keeps those it has, or is
    dropped when ``drop_incomplete`` (R's rule).
    """
    empty = (np.zeros(0, dtype=np.int64),) * 2 + (np.zeros(0),)
    if wc is None and not exclude_self:
        if drop_incomplete and c_idx.size < k:
            return empty
        k = min(k, c_idx.size)
    if z.shape[1] == 1 and wc is None and not exclude_self:
        rows, cols, d2, kth = _ties_1d(z[f_idx, 0], z[c_idx, 0], k, tol)
        if cal is not None:
            ok = _within_caliper(raw[f_idx[rows]], raw[c_idx[cols]], cal)
            if drop_incomplete:
                complete = np.bincount(rows[ok & (d2 <= kth[rows])],
                                       minlength=f_idx.size) >= k
            rows, cols, d2 = rows[ok], cols[ok], d2[ok]
        else:
            complete = np.ones(f_idx.size, dtype=bool)
    else:
        rows, cols, d2, kth = _ties_tree(z[f_idx], z[c_idx], k, tol, raw[f_idx], raw[c_idx],
                                         cal, zcal, wc,
                                         np.arange(f_idx.size) if exclude_self else None)
        complete = np.isfinite(kth)
    if drop_incomplete:
        keep = complete[rows]
        rows, cols, d2 = rows[keep], cols[keep], d2[keep]
    near_ties = int(np.count_nonzero(d2 > kth[rows]))
    if near_ties > 10 * k * f_idx.size and not exclude_self:
        warnings.warn(f"the tie tolerance (distance_tolerance={tol:g} on the squared "
                      f"standardized distance, R's rule) makes {near_ties / f_idx.size:.0f} "
                      "near-ties per unit; with this many units consider "
                      "distance_tolerance=0 (exact ties only) or ties=False",
                      RuntimeWarning, stacklevel=4)
    if not ties:
        rows, cols, d2 = _break_ties(rows, cols, d2, kth, k, tol, rng)
    return f_idx[rows], c_idx[cols], d2


def _ties_1d(q: np.ndarray, c: np.ndarray, k: int, tol: float):
    """Sorted search: the k nearest lie in the 2k-window around the insertion point."""
    order = np.argsort(c, kind="stable")
    s = c[order]
    nc = s.size
    pos = np.searchsorted(s, q)
    cand = pos[:, None] + np.arange(-k, k)
    valid = (cand >= 0) & (cand < nc)
    d2w = np.where(valid, (s[np.clip(cand, 0, nc - 1)] - q[:, None]) ** 2, np.inf)
    kth = np.partition(d2w, k - 1, axis=1)[:, k - 1]
    thr = kth + (tol + _R_TOL if tol > 0 else 0.0)
    r = np.sqrt(thr)
    slack = 1e-12 * (np.abs(q) + r) + 1e-300
    lo = np.searchsorted(s, q - r - slack, side="left")
    hi = np.searchsorted(s, q + r + slack, side="right")
    counts = hi - lo
    rows = np.repeat(np.arange(q.size), counts)
    starts = np.repeat(lo - np.concatenate(([0], np.cumsum(counts)[:-1])), counts)
    sorted_pos = starts + np.arange(rows.size)
    d2 = (s[sorted_pos] - q[rows]) ** 2
    keep = d2 <= thr[rows]
    return rows[keep], order[sorted_pos[keep]], d2[keep], kth


def _kdtree(points: np.ndarray) -> cKDTree:
    """A KD-tree split at the midpoint of the widest side (``balanced_tree=False``):
    several times faster to build than median splits for millions of points, and as
    fast to query on scores; leaves of 32 points (scipy's default is 16) build 15%
    faster at 10^7 points and query as fast for the dozens of neighbours of R's ties."""
    return cKDTree(points, leafsize=32, balanced_tree=False, compact_nodes=False)


def _query(tree, q, k):
    """``tree.query(q, k)``, on every core for a KD-tree (scipy's ``workers=-1``)."""
    if isinstance(tree, cKDTree):
        return tree.query(q, k=k, workers=-1)
    return tree.query(q, k=k)


def _ties_tree(zq, zc, k, tol, raw_q, raw_c, cal, zcal, wc=None, self_pos=None):
    """KD-tree search, widening the neighbour count until every tie is seen.

    Queries run in chunks of ``_CHUNK`` so the temporaries stay bounded at any n, in
    the leaf order of a KD-tree of the queries (neighbouring queries visit the same
    nodes: far fewer cache misses than in data order), each chunk starting from the
    neighbour count that sufficed for most of the chunk before (with R's tie
    tolerance a unit has a dozen or more near-ties at 10^7 units: widening from 5
    each time would repeat most searches).  The tree is queried on every core.
    """
    tree = _neighbour_index(zc)
    nq = zq.shape[0]
    if nq <= 1 << 12:
        return _ties_tree_chunk(tree, zq, k, tol, raw_q, raw_c, cal, zcal, wc, self_pos)[:4]
    perm = _kdtree(zq).indices if zq.shape[1] <= _TREE_DIMS else np.arange(nq)
    rows, cols, d2 = [], [], []
    kth = np.empty(nq)
    kk = None
    for a in range(0, nq, _CHUNK):
        at = perm[a:a + _CHUNK]
        r, c, d, kt, kk = _ties_tree_chunk(tree, zq[at], k, tol, raw_q[at], raw_c, cal, zcal,
                                           wc, None if self_pos is None else self_pos[at],
                                           kk)
        rows.append(at[r])
        cols.append(c)
        d2.append(d)
        kth[at] = kt
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(d2), kth


def _ties_tree_chunk(tree, zq, k, tol, raw_q, raw_c, cal, zcal, wc=None, self_pos=None,
                     kk=None):
    """Ties of one chunk of queries; also returns the neighbour count that sufficed
    for nine queries in ten (the next chunk's first try)."""
    nc = tree.n
    max_valid = np.inf if zcal is None else float(np.sum(zcal ** 2))
    out_rows, out_cols, out_d2 = [], [], []
    kth_all = np.full(zq.shape[0], np.inf)
    todo = np.arange(zq.shape[0])
    # k + 1 neighbours show whether the k-th has a tie; then widen (or start from the
    # count that sufficed for the chunk before)
    first = min(nc, k + 1 + (self_pos is not None))
    kk = first if kk is None else max(first, min(nc, kk))
    needed, left = kk, zq.shape[0] // 10
    while todo.size:
        if todo.size > left:
            needed = kk
        d, idx = _query(tree, zq[todo], kk)
        d, idx = d.reshape(todo.size, kk), idx.reshape(todo.size, kk)
        if _jit.AVAILABLE and cal is None and self_pos is None and wc is None:
            # the same pairs as below, from the prefix of each row in one pass
            kth, done, r, c, d2r = _jit.tree_ties(d, idx, k, tol + _R_TOL if tol > 0
                                                  else 0.0, kk >= nc)
            out_rows.append(todo[r])
            out_cols.append(c)
            out_d2.append(d2r)
            kth_all[todo[done]] = kth[done]
            todo = todo[~done]
            kk = min(nc, 2 * kk)
            continue
        d2 = np.square(d, out=d)
        if cal is None and self_pos is None and wc is None:   # every candidate counts
            valid = True
            has_k = np.full(todo.size, kk >= k)
            kth = d2[:, k - 1].copy() if kk >= k else np.full(todo.size, np.inf)
        else:
            valid = np.broadcast_to(_within_caliper(raw_q[todo][:, None, :], raw_c[idx],
                                                    cal), d2.shape)
            if self_pos is not None:
                valid = valid & (idx != self_pos[todo][:, None])
            mass = valid if wc is None else valid * wc[idx]
            nvalid = np.cumsum(mass, axis=1)
            has_k = nvalid[:, -1] >= k - _R_TOL
            kpos = np.argmax(nvalid >= k - _R_TOL, axis=1)
            kth = np.where(has_k, d2[np.arange(todo.size), kpos], np.inf)
        thr = kth + (tol + _R_TOL if tol > 0 else 0.0)
        if kk >= nc:
            done = np.ones(todo.size, dtype=bool)
        else:
            # Without k caliper-valid candidates yet, a farther candidate may still be
            # valid unless the caliper box is already left behind.
            done = np.where(has_k, d2[:, -1] > thr, d2[:, -1] > max_valid)
        take = (d2 <= thr[:, None]) & done[:, None] & valid
        r, c = np.nonzero(take)
        out_rows.append(todo[r])
        out_cols.append(idx[r, c])
        out_d2.append(d2[r, c])
        kth_all[todo[done]] = kth[done]
        todo = todo[~done]
        kk = min(nc, 2 * kk)
    rows = np.concatenate(out_rows)
    return rows, np.concatenate(out_cols), np.concatenate(out_d2), kth_all, needed


def _break_ties(rows, cols, d2, kth, k, tol, rng):
    """Keep k matches per row: the clearly closer ones, then a random draw of the ties.

    The draws are made in (row, candidate) order, not in the order the search returned
    the candidates: among equally distant candidates that order follows the last bits
    of their distances, which differ between BLAS builds and CPUs."""
    o = np.lexsort((cols, rows))
    rows, cols, d2 = rows[o], cols[o], d2[o]
    key = np.where(d2 < kth[rows] - tol, -1.0, rng.random(rows.size))
    o = np.lexsort((key, rows))
    rows, cols, d2 = rows[o], cols[o], d2[o]
    start = np.searchsorted(rows, rows, side="left")
    keep = (np.arange(rows.size) - start) < k
    return rows[keep], cols[keep], d2[keep]


# ------------------------------------------------- with replacement, pair-free (1-d)


def _stable_argsort(values: np.ndarray) -> np.ndarray:
    """``argsort(values, kind="stable")``, by the faster unstable sort and a re-sort of
    the runs of equal values only (few with a continuous score)."""
    order = np.argsort(values)
    s = values[order]
    tied = np.zeros(s.size, dtype=bool)
    eq = s[1:] == s[:-1]
    tied[1:] |= eq
    tied[:-1] |= eq
    if tied.any():
        at = np.flatnonzero(tied)
        sub = order[at]
        order[at] = sub[np.lexsort((sub, _run_starts(s)[at]))]
    return order


def _run_starts(s: np.ndarray) -> np.ndarray:
    """For each position of the sorted ``s``, the first position of its run of equal
    values (``searchsorted(s, s)`` in O(n))."""
    new = np.empty(s.size, dtype=bool)
    new[:1] = True
    np.not_equal(s[1:], s[:-1], out=new[1:])
    return np.maximum.accumulate(np.where(new, np.arange(s.size), 0))


def _run_start(s: np.ndarray, p: np.ndarray) -> np.ndarray:
    """First position of the run of values equal to ``s[p]``."""
    return np.searchsorted(s, s[p], side="left")


def _run_end(s: np.ndarray, p: np.ndarray) -> np.ndarray:
    """One past the last position of the run of values equal to ``s[p]``."""
    return np.searchsorted(s, s[p], side="right")


def _shrink(s: np.ndarray, lo: np.ndarray, hi: np.ndarray, ok) -> None:
    """Shrink ``[lo, hi)`` (in place) to the contiguous part where ``ok(pos, rows)`` holds.

    ``ok`` must hold on a contiguous run of the sorted ``s`` and be equal on equal
    values, so the ends move run by run (a few steps: the initial range is a slightly
    widened superset).
    """
    rows = np.flatnonzero(lo < hi)
    while rows.size:
        bad = ~ok(lo[rows], rows)
        rows_b = rows[bad]
        lo[rows_b] = _run_end(s, lo[rows_b])
        rows = rows_b[lo[rows_b] < hi[rows_b]]
    rows = np.flatnonzero(lo < hi)
    while rows.size:
        bad = ~ok(hi[rows] - 1, rows)
        rows_b = rows[bad]
        hi[rows_b] = _run_start(s, hi[rows_b] - 1)
        rows = rows_b[lo[rows_b] < hi[rows_b]]
    np.maximum(hi, lo, out=hi)


def _dist_range(s: np.ndarray, q: np.ndarray, thr: np.ndarray):
    """Exact range ``[lo, hi)`` of the sorted ``s`` with ``(s - q)^2 <= thr``."""
    r = np.sqrt(thr)
    slack = 1e-12 * (np.abs(q) + r) + 1e-300
    lo = np.searchsorted(s, q - r - slack, side="left")
    hi = np.searchsorted(s, q + r + slack, side="right")
    _shrink(s, lo, hi, lambda p, rows: (s[p] - q[rows]) ** 2 <= thr[rows])
    return lo, hi


def _tie_ranges(qz, qraw, sz, sraw, k, tol, cal, drop_incomplete, need_near=True,
                same=False):
    """Pair-free ties on a 1-d score: each query's matches as a range of sorted candidates.

    ``sz``/``sraw`` are the candidates' standardized and raw scores, both sorted (the
    standardization is increasing, so one order sorts both).  The range holds every
    candidate within ``tol`` of the k-th smallest squared distance (as ``_ties_1d``),
    cut to the caliper.  Returns ``lo, hi, near`` with ``near`` the number of
    near-ties (farther than the k-th distance) in each range (zeros unless
    ``need_near``).  ``same``: the queries are the candidates themselves.
    """
    nq, nc = qz.size, sz.size
    # The exact k-th-distance range is needed for the near-tie count and for
    # drop_incomplete with a caliper only.
    exact_kth = tol > 0 and (need_near or (cal is not None and drop_incomplete))
    if _jit.AVAILABLE and cal is None:     # compiled galloping searches, same ranges
        lo, hi, slo, shi = _jit.tie_bounds(sz, qz, k, tol + _R_TOL if tol > 0 else 0.0,
                                           same, exact_kth)
        return lo, hi, (hi - lo) - (shi - slo) if exact_kth else np.zeros(nq, np.int64)
    if same:             # insertion points of the candidates themselves
        if k == 2:       # self and one other: the nearer of the two sorted neighbours
            gap = np.square(np.diff(sz))
            kth2 = np.minimum(np.append(np.inf, gap), np.append(gap, np.inf))
            del gap
        else:
            runs = _run_starts(sz)
    lo_all = np.empty(nq, dtype=np.int64)
    hi_all = np.empty(nq, dtype=np.int64)
    near_all = np.empty(nq, dtype=np.int64)
    off = np.arange(-k, k)
    for a in range(0, nq, _CHUNK):
        q, qr = qz[a:a + _CHUNK], qraw[a:a + _CHUNK]
        if same and k == 2:
            kth = kth2[a:a + _CHUNK]
        else:
            pos = runs[a:a + _CHUNK] if same else np.searchsorted(sz, q)
            cand = pos[:, None] + off
            valid = (cand >= 0) & (cand < nc)
            d2w = np.where(valid, (sz[np.clip(cand, 0, nc - 1)] - q[:, None]) ** 2, np.inf)
            kth = d2w.min(axis=1) if k == 1 else np.partition(d2w, k - 1, axis=1)[:, k - 1]
            del cand, valid, d2w
        thr = kth + (tol + _R_TOL if tol > 0 else 0.0)
        lo, hi = _dist_range(sz, q, thr)
        slo, shi = _dist_range(sz, q, kth) if exact_kth else (lo.copy(), hi.copy())
        if cal is not None:
            c = float(cal[0])
            wide = c + 1e-12 * (np.abs(qr) + c) + 1e-300
            clo = np.searchsorted(sraw, qr - wide, side="left")
            chi = np.searchsorted(sraw, qr + wide, side="right")
            _shrink(sraw, clo, chi, lambda p, rows: np.abs(qr[rows] - sraw[p]) <= c)
            lo, hi = np.maximum(lo, clo), np.minimum(hi, chi)
            slo, shi = np.maximum(slo, clo), np.minimum(shi, chi)
            np.maximum(hi, lo, out=hi)
            np.maximum(shi, slo, out=shi)
            if drop_incomplete:
                incomplete = (shi - slo) < k
                hi[incomplete] = lo[incomplete]
                shi[incomplete] = slo[incomplete]
        lo_all[a:a + _CHUNK], hi_all[a:a + _CHUNK] = lo, hi
        near_all[a:a + _CHUNK] = (hi - lo) - (shi - slo) if exact_kth else 0
    return lo_all, hi_all, near_all


def _match_ranges(z, raw, f_idx, c_idx, k, tol, cal, drop_incomplete, warn=True,
                  scale=None, presorted=None):
    """With replacement on a 1-d score, ties kept: ``(f_idx, lo, hi, pool)`` without pairs.

    ``pool`` holds ``c_idx`` sorted by score; focal unit ``f_idx[i]`` is matched to
    ``pool[lo[i]:hi[i]]``.  Same matches as ``_match_with_replacement`` (ties=True).
    ``scale = (mu, sd)`` with ``z = (raw - mu) / sd`` lets the standardized values of
    the sorted units be recomputed (bitwise the same) instead of gathered.
    ``presorted = (f_sorted, c_sorted)``: ``f_idx`` and ``c_idx`` already sorted by
    score, each as ``(positions, raw scores)`` (see :func:`_ranked`).
    """
    if drop_incomplete and c_idx.size < k:
        lo = np.zeros(f_idx.size, dtype=np.int64)
        return f_idx, lo, lo.copy(), c_idx[:0]
    k = min(k, c_idx.size)
    r1, z1 = raw[:, 0], z[:, 0]

    def by_score(idx, done):
        if done is None:
            vals = r1[idx]
            o = np.argsort(vals)
            idx, sraw = idx[o], vals[o]
        else:
            idx, sraw = done
        sz = z1[idx] if scale is None else (sraw - scale[0]) / scale[1]
        return idx, sraw, sz

    f_done, c_done = (None, None) if presorted is None else presorted
    pool, sraw, sz = by_score(c_idx, c_done)
    # Queries in score order: each binary search then starts near the previous one.
    same = f_idx.size == c_idx.size and np.array_equal(f_idx, c_idx)   # same-arm sets
    f_sorted, qraw, qz = (pool, sraw, sz) if same else by_score(f_idx, f_done)
    lo, hi, near = _tie_ranges(qz, qraw, sz, sraw, k, tol, cal, drop_incomplete,
                               need_near=warn, same=same)
    near_ties = int(near.sum())
    if warn and near_ties > 10 * k * f_idx.size:
        warnings.warn(f"the tie tolerance (distance_tolerance={tol:g} on the squared "
                      f"standardized distance, R's rule) makes {near_ties / f_idx.size:.0f} "
                      "near-ties per unit; with this many units consider "
                      "distance_tolerance=0 (exact ties only) or ties=False",
                      RuntimeWarning, stacklevel=4)
    return f_sorted, lo, hi, pool


# --------------------------------------------------------- without replacement
def _match_greedy(z, raw, f_sorted, c_idx, k, cal, zcal, sd):
    """Greedy matching in the given order; each control used at most once."""
    if z.shape[1] == 1:
        # On one dimension the scaling changes no choice: compare raw differences (as
        # MatchIt does), so that equal raw distances stay exactly equal.
        rows, cols, d2 = _greedy_1d(raw[:, 0], raw, f_sorted, c_idx, k, cal)
        return rows, cols, d2 / sd[0] ** 2
    return _greedy_tree(z, raw, f_sorted, c_idx, k, cal, zcal)


def _typed(code: str, values: np.ndarray) -> array:
    """A compact ``array.array`` copy of a numpy vector (fast scalar access from Python)."""
    out = array(code)
    out.frombytes(np.ascontiguousarray(values, dtype=np.int64 if code == "q"
                                       else np.float64).tobytes())
    return out


def _greedy_1d(z, raw, f_sorted, c_idx, k, cal):
    """Sorted candidates with two union-find arrays: nearest free one left and right.

    The loop (:func:`causalsm.matching._jit.greedy_loop`) is compiled when numba is
    installed; otherwise it runs in Python on compact typed arrays (8 bytes an
    entry, not a Python object each), with the same result.
    """
    cs = c_idx[_stable_argsort(z[c_idx])]           # c_idx ascending: ties by position
    s = z[cs]
    nc, nf = s.size, f_sorted.size
    q = z[f_sorted]
    qo = np.argsort(q)                      # sorted queries: a cache-friendly search
    pos = np.empty(nf, dtype=np.int64)
    pos[qo] = np.searchsorted(s, q[qo])
    args = [s, cs, pos, _run_starts(s), q,
            raw[cs, 0] if cal is not None else s, raw[f_sorted, 0]]
    cal1 = -1.0 if cal is None else float(cal[0])
    state = [np.arange(nc + 1), np.arange(nc + 1), np.empty(k * nf, dtype=np.int64),
             np.empty(k * nf, dtype=np.int64), np.arange(nf)]
    if _jit.AVAILABLE:
        count = _jit.compiled_loop(*(np.ascontiguousarray(a) for a in args), cal1, k, *state)
        unit, slot = state[2][:count], state[3][:count]
    else:                                  # without numba (tested against the compiled loop)
        typed = [_typed("d" if a.dtype.kind == "f" else "q", a) for a in args]
        state = [_typed("q", a) for a in state]
        count = _jit.greedy_loop(*typed, cal1, k, *state)
        unit = np.frombuffer(state[2], dtype=np.int64)[:count]
        slot = np.frombuffer(state[3], dtype=np.int64)[:count]
    return (f_sorted[unit], cs[slot], (s[slot] - z[f_sorted[unit]]) ** 2)


def _greedy_tree(z, raw, f_sorted, c_idx, k, cal, zcal):
    tree = _neighbour_index(z[c_idx])
    nc = c_idx.size
    used = np.zeros(nc, dtype=bool)
    rows, cols, d2s = [], [], []
    active = list(f_sorted)
    for _round in range(k):
        still = []
        for i in active:
            kk = min(nc, 8)
            while True:
                d, idx = tree.query(z[i], k=kk)
                d, idx = np.atleast_1d(d), np.atleast_1d(idx)
                free = ~used[idx]
                if cal is not None:
                    free &= _within_caliper(raw[i][None, :], raw[c_idx[idx]], cal)
                if free.any() or kk >= nc or (zcal is not None
                                                  and d[-1] ** 2 > np.sum(zcal ** 2)):
                    break
                kk = min(nc, 4 * kk)
            if not free.any():
                continue
            j = int(np.argmax(free))
            used[idx[j]] = True
            rows.append(i)
            cols.append(c_idx[idx[j]])
            d2s.append(d[j] ** 2)
            still.append(i)
        active = still
    return (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
            np.asarray(d2s, dtype=np.float64))


def same_arm_neighbors(score: Any, treatment: Any, n_neighbors: int, *,
                       caliper: np.ndarray | None = None, exact: Any = None,
                       distance_tolerance: float = 1e-5, standardize: bool = True,
                       weights: Any = None,
                       drop_incomplete: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Each unit with its ``n_neighbors`` nearest units of its own arm (ties kept).

    Used for the heteroskedastic conditional variances of Abadie & Imbens (R's
    ``Var.calc``).  Returns ``(unit, member)`` position pairs; every unit is a member
    of its own set, so a set has ``n_neighbors + 1`` members or more with ties.
    ``caliper`` is in raw score units (``MatchResult.caliper``).  An estimator's helper:
    ``treatment`` (0/1), ``score`` and ``weights`` are arrays it validated.
    """
    t = np.asarray(treatment)
    raw = np.asarray(score, dtype=np.float64).reshape(t.shape[0], -1)
    w = None if weights is None else np.asarray(weights, dtype=np.float64)
    z, sd = _standardize(raw, standardize, w)
    zcal = None if caliper is None else np.asarray(caliper) / sd
    strata = _strata(exact, t.shape[0])
    rng = np.random.default_rng(0)
    units, members = [], []
    for arm in (0, 1):
        mask = t == arm
        for f_idx, c_idx in _stratum_groups(strata, mask, mask):
            if f_idx.size == 0:
                continue
            if w is None:
                # self is the nearest candidate (distance 0): k + 1 nearest = self + k others
                u, m, _ = _match_with_replacement(z, raw, f_idx, c_idx, n_neighbors + 1,
                                                  distance_tolerance, caliper, zcal, True, rng,
                                                  drop_incomplete=drop_incomplete)
            else:
                # weighted: the k-th neighbour by cumulative weight of the *others*
                u, m, _ = _match_with_replacement(z, raw, f_idx, c_idx, n_neighbors,
                                                  distance_tolerance, caliper, zcal, True, rng,
                                                  w[c_idx], exclude_self=True,
                                                  drop_incomplete=drop_incomplete)
                u, m = np.concatenate([u, f_idx]), np.concatenate([m, f_idx])
            units.append(u)
            members.append(m)
    return np.concatenate(units), np.concatenate(members)


def same_arm_moments(score: Any, treatment: Any, n_neighbors: int, values: np.ndarray, *,
                     caliper: np.ndarray | None = None, exact: Any = None,
                     distance_tolerance: float = 1e-5, standardize: bool = True,
                     weights: Any = None, drop_incomplete: bool = False,
                     ranked: np.ndarray | None = None):
    """Sums over each unit's same-arm neighbour set (see :func:`same_arm_neighbors`).

    Returns ``(size, weight, sum, sum_sq)``, arrays of shape (n,): the number of
    members of each unit's set (itself included), their total unit weight, and the
    weighted sums of ``values`` and ``values**2``.  On a 1-d score without unit
    weights the sets are ranges of the sorted arm and no pair is built (memory O(n)
    whatever the number of ties); ``ranked``, the units of each arm sorted by score (as
    ``MatchRanges.ranked``: the positions of the controls and of the treated units,
    each sorted by the score), spares the sort of each arm (see also
    :func:`same_arm_variances`).  Validated arrays, as :func:`same_arm_neighbors`.
    """
    t = np.asarray(treatment)
    n = t.shape[0]
    v = np.asarray(values, dtype=np.float64)
    raw = np.asarray(score, dtype=np.float64).reshape(n, -1)
    if raw.shape[1] != 1 or weights is not None:
        w = np.ones(n) if weights is None else np.asarray(weights, dtype=np.float64)
        unit, member = same_arm_neighbors(raw, t, n_neighbors, caliper=caliper, exact=exact,
                                          distance_tolerance=distance_tolerance,
                                          standardize=standardize, weights=weights,
                                          drop_incomplete=drop_incomplete)
        wm = w[member]
        return (np.bincount(unit, minlength=n).astype(np.float64),
                np.bincount(unit, weights=wm, minlength=n),
                np.bincount(unit, weights=wm * v[member], minlength=n),
                np.bincount(unit, weights=wm * v[member] ** 2, minlength=n))
    mu, sd = _scale_params(raw, standardize)
    strata = _strata(exact, n)
    k = n_neighbors + 1      # self is the nearest candidate (distance 0): self + k others
    size, s1, s2 = np.zeros(n), np.zeros(n), np.zeros(n)
    for arm in (0, 1):
        mask = t == arm
        for f_idx, c_idx in _stratum_groups(strata, mask, mask):
            if f_idx.size == 0:
                continue
            done = None if ranked is None or strata is not None else (ranked[arm],) * 2
            f, lo, hi, pool = _match_ranges(raw, raw, f_idx, c_idx, k, distance_tolerance,
                                            caliper, drop_incomplete, warn=False,
                                            scale=(mu[0], sd[0]), presorted=done)
            keep = hi > lo
            window_moments(v, pool, lo[keep], hi[keep], f[keep], (size, s1, s2))
    return size, size, s1, s2


def _sample_variance(weight: np.ndarray, s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    """``(s2 / w - (s1 / w)^2) w / (w - 1)``, the sample variance from the sums, computed
    in place in ``s1`` (returned); NaN or infinite where ``w <= 1``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.divide(s1, weight, out=s1)
        out *= out
        np.subtract(np.divide(s2, weight, out=s2), out, out=out)
        out *= weight
        out /= weight - 1
    return out


def same_arm_variances(score: Any, treatment: Any, n_neighbors: int, values: np.ndarray, *,
                       caliper: np.ndarray | None = None, exact: Any = None,
                       distance_tolerance: float = 1e-5, standardize: bool = True,
                       weights: Any = None, drop_incomplete: bool = False,
                       ranked: tuple | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per unit, the number of members of its same-arm neighbour set and the sample
    variance of ``values`` over it (weighted by the unit weights; NaN or infinite for a
    set of one), from :func:`same_arm_moments` (same arguments).

    On a 1-d score without caliper, exact strata or unit weights, with ``ranked`` (the
    arms sorted by the score, as ``MatchRanges.ranked``), each arm's sets are ranges
    of the sorted arm and everything is computed in that order: only the results are
    written back to the units' positions.
    """
    t = np.asarray(treatment)
    n = t.shape[0]
    raw = np.asarray(score, dtype=np.float64).reshape(n, -1)
    if ranked is None or raw.shape[1] != 1 or caliper is not None or exact is not None \
            or weights is not None:
        members, weight, s1, s2 = same_arm_moments(
            raw, t, n_neighbors, values, caliper=caliper, exact=exact,
            distance_tolerance=distance_tolerance, standardize=standardize,
            weights=weights, drop_incomplete=drop_incomplete, ranked=ranked)
        return members, _sample_variance(weight, s1, s2)
    v = np.asarray(values, dtype=np.float64)
    mu, sd = _scale_params(raw, standardize)
    k = n_neighbors + 1      # self is the nearest candidate (distance 0): self + k others
    members, sigma2 = np.zeros(n), np.zeros(n)
    for pos, sraw in ranked:
        m = pos.size
        if m == 0 or (drop_incomplete and m < k):
            continue
        sz = (sraw - mu[0]) / sd[0]
        if _jit.AVAILABLE:                # ranges, sums and variances in one pass
            add = distance_tolerance + _R_TOL if distance_tolerance > 0 else 0.0
            _jit.same_arm_fill(sz, v, pos, min(k, m), add, members, sigma2)
            continue
        lo, hi, _ = _tie_ranges(sz, sraw, sz, sraw, min(k, m), distance_tolerance, None,
                                False, need_near=False, same=True)
        size, s1, s2 = window_moments(v, pos, lo, hi, None,
                                      (np.empty(m), np.empty(m), np.empty(m)))
        members[pos] = size
        sigma2[pos] = _sample_variance(size, s1, s2)
    return members, sigma2
