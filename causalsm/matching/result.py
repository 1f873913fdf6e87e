"""MatchResult: the matched pairs and everything derived from them.

Conventions (Abadie & Imbens 2006, and R's ``Matching::Match``):

* a *focal* unit is a unit being matched (treated units for the ATT, controls for
  the ATC, every unit for the ATE); its *match set* J(i) holds the units of the
  other arm it was matched to (ties included, so ``#J(i) >= n_neighbors`` when ties
  are kept);
* each pair (i, j) carries the share ``1 / #J(i)`` of unit i's match mass (with unit
  weights ``w``: ``w_j / sum_{k in J(i)} w_k``) and the weight ``w_i * share``;
* ``K_M(j) = sum_i 1{j in J(i)} / #J(i)`` is the (tie-weighted) number of times unit
  ``j`` is used as a match, and ``K'_M(j) = sum_i 1{j in J(i)} / #J(i)^2``.  These are
  ``Kcount`` and ``KKcount`` of R's Matching (with unit weights,
  ``K_M(j) = sum_i w_i share_ij`` and ``K'_M(j) = sum_i w_i share_ij^2``, as there).
  Raw use counts, as dsmatch and
  MatchIt's ``replace=TRUE`` weights report them, equal ``n_neighbors * K_M`` when
  there are no ties.

With replacement on a 1-d score with ties kept, the matches are held as ranges of the
sorted candidates (:class:`MatchRanges`) and everything above is computed from them;
the pair arrays are built only when asked for.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from . import _jit

__all__ = ["MatchResult", "MatchRanges"]

# Below this many (focal, match) memberships, sums over ranges are taken directly
# (np.add.reduceat: time O(pairs), memory O(n)); above it, by differences of prefix
# sums (time and memory O(n), whatever the number of ties).
DIRECT_SUM_LIMIT = 1 << 24


_BLOCK = 1 << 12    # prefix sums: float64 within blocks, extended precision across them


def prefix_sums(values: np.ndarray) -> np.ndarray:
    """``out[i] = sum(values[:i])`` (length n + 1), accurate to about one rounding of the
    total.

    A float64 cumulative sum accumulates ``n`` roundings; an extended-precision one is
    about ten times slower.  Here the float64 sums run within blocks of 4,096 values,
    and the block totals are accumulated in extended precision, so each prefix sum
    carries at most a block's worth of roundings: memory O(n), time near a plain
    ``cumsum``.
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.size
    out = np.zeros(n + 1)
    if n == 0:
        return out
    nb = -(-n // _BLOCK)
    pad = np.zeros(nb * _BLOCK)
    pad[:n] = v
    local = np.cumsum(pad.reshape(nb, _BLOCK), axis=1)
    offset = np.zeros(nb, dtype=np.longdouble)
    np.cumsum(local[:-1, -1], dtype=np.longdouble, out=offset[1:])
    hi = offset.astype(np.float64)                       # offset = hi + lo, both float64
    lo = (offset - hi).astype(np.float64)
    local += lo[:, None]
    local += hi[:, None]
    out[1:] = local.ravel()[:n]
    return out


def range_sums(values: np.ndarray, start: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """``sum(values[start[i]:stop[i]])`` for every ``i`` (non-empty ranges), in O(n) memory."""
    m = start.size
    if m == 0:
        return np.zeros(0)
    total = int((stop - start).sum())
    if total <= DIRECT_SUM_LIMIT:
        order = np.argsort(start, kind="stable")          # keeps the gaps summed O(n)
        idx = np.empty(2 * m, dtype=np.int64)
        idx[0::2], idx[1::2] = start[order], stop[order]
        ext = np.append(np.asarray(values, dtype=np.float64), 0.0)
        out = np.empty(m)
        out[order] = np.add.reduceat(ext, idx)[0::2]
        out[stop == start] = 0.0                          # reduceat gives values[start]
        return out
    # Accurate prefix sums of a centred series keep the differences accurate.
    centre = float(np.mean(values)) if values.size else 0.0
    cum = prefix_sums(np.asarray(values, dtype=np.float64) - centre)
    return (cum[stop] - cum[start]) + centre * (stop - start)


def window_moments(values: np.ndarray, index: np.ndarray, start: np.ndarray,
                   stop: np.ndarray, at: np.ndarray | None, out: tuple,
                   squares: bool = True) -> tuple:
    """Size, sum and sum of squares (0 unless ``squares``) of
    ``values[index[start[i]:stop[i]]]`` for ranges of queries in score order (ends
    moving forward), written at ``at[i]`` (at ``i`` when ``at`` is None) of the three
    arrays ``out`` (returned).  One compiled sliding window when numba is installed
    (:func:`causalsm.matching._jit.window_sums`), else :func:`range_sums`."""
    size, s1, s2 = out
    vals = np.asarray(values, dtype=np.float64)[index]     # one gather, then in order
    if _jit.AVAILABLE:
        _jit.window_sums(vals, start, stop, np.zeros(0, np.int64) if at is None else at,
                         size, s1, s2, squares)
        return out
    if at is None:
        at = np.arange(start.size)
    full = stop > start
    size[at] = stop - start
    s1[at] = 0.0
    s2[at] = 0.0
    s1[at[full]] = range_sums(vals, start[full], stop[full])
    if squares:
        s2[at[full]] = range_sums(vals * vals, start[full], stop[full])
    return out


def _physical_memory() -> float:
    """Bytes of physical memory (infinite when unknown)."""
    try:
        return float(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        return float("inf")


@dataclass(eq=False)
class MatchRanges:
    """Matches as ranges of a sorted candidate pool: the pair-free form of 1-d ties.

    On a 1-d score, every candidate within the tie tolerance of the k-th nearest lies
    in one contiguous run of the candidates sorted by score, so focal unit
    ``focal[i]`` is matched to ``pool[start[i]:stop[i]]``: memory grows with the
    number of units, not with the number of (possibly billions of) tied pairs.

    Attributes
    ----------
    focal : ndarray of int64
        Matched focal units, ascending.
    start, stop : ndarray of int64
        Their ranges in ``pool`` (``stop > start``).
    pool : ndarray of int64
        Candidate positions, sorted by score within each group (arm and exact
        stratum); each unit appears at most once.
    zscore : ndarray of float64, shape (n,)
        The score in the matching metric (for the distances of materialised pairs).
    ranked : tuple or None
        The controls and the treated units, each sorted by score as ``(positions,
        raw scores)`` (without exact strata): the same-arm searches of the variance
        need no second sort.
    """

    focal: np.ndarray
    start: np.ndarray
    stop: np.ndarray
    pool: np.ndarray
    zscore: np.ndarray
    ranked: tuple | None = None

    @property
    def counts(self) -> np.ndarray:
        """``#J(i)``: number of matches of each focal unit."""
        return self.stop - self.start

    @cached_property
    def _by_start(self) -> np.ndarray:
        """The ranges in the order of their starts (computed once)."""
        return _jit.score_order(self.start)

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per focal unit, the sum of ``values`` (indexed by unit) over its matches."""
        return self.moments(values, squares=False)[0]

    def moments(self, values: np.ndarray, squares: bool = True) -> tuple:
        """Per focal unit, the sums of ``values`` (indexed by unit) and of their squares
        (0 unless ``squares``) over its matches.

        The ranges are visited in the order of their starts (the focal units in score
        order within each group), so that one sliding window over the pool sums them
        (:func:`window_moments`)."""
        o = self._by_start
        m = self.start.size
        out = (np.empty(m), np.empty(m), np.empty(m))
        return window_moments(values, self.pool, self.start[o], self.stop[o], o, out,
                              squares)[1:]

    def spread(self, per_focal: np.ndarray, n: int) -> np.ndarray:
        """Per unit, the sum of ``per_focal[i]`` over the focal units ``i`` it matches.

        A difference array over the pool (``K_M`` is ``spread(1 / #J)``);
        ``per_focal`` of shape ``(m, q)`` gives ``q`` such sums at once, shape (n, q).
        """
        per_focal = np.asarray(per_focal, dtype=np.float64)
        cols = per_focal.reshape(per_focal.shape[0], -1)
        size = self.pool.size + 1
        cover = np.cumsum(np.bincount(self.start, minlength=size)
                          - np.bincount(self.stop, minlength=size))[:-1]
        uncovered = cover == 0
        out = []
        for c in range(cols.shape[1]):
            w = np.ascontiguousarray(cols[:, c])
            diff = (np.bincount(self.start, weights=w, minlength=size)
                    - np.bincount(self.stop, weights=w, minlength=size))
            acc = prefix_sums(diff[:-1])[1:]
            acc[uncovered] = 0.0                # exactly 0 where no range covers
            full = np.zeros(n)
            full[self.pool] = acc
            out.append(full)
        return np.column_stack(out) if per_focal.ndim == 2 else out[0]

    def expand(self) -> dict:
        """The pairs, sorted by focal unit then match: ``focal, matched, share, distance``."""
        cnt = self.counts
        total = int(cnt.sum())
        focal = np.repeat(self.focal, cnt)
        first = np.cumsum(cnt) - cnt
        pos = np.arange(total, dtype=np.int64) - np.repeat(first - self.start, cnt)
        matched = self.pool[pos]
        del pos
        o = np.lexsort((matched, focal))
        focal, matched = focal[o], matched[o]
        d2 = (self.zscore[matched] - self.zscore[focal]) ** 2
        share = np.repeat(1.0 / cnt, cnt)
        return {"focal": focal, "matched": matched, "share": share,
                "distance": np.sqrt(np.maximum(d2, 0.0))}


class MatchResult:
    """Pairs found by :func:`causalsm.match` and the quantities derived from them.

    Attributes
    ----------
    focal, matched : ndarray of int64, shape (n_pairs,)
        Row positions (0-based) of the unit being matched and of its match.
    share : ndarray of float64, shape (n_pairs,)
        ``1 / #J(focal)``: equidistant (tied) matches share one unit of weight (with
        unit weights, in proportion to the matches' weights).
    distance : ndarray of float64, shape (n_pairs,)
        Distance between focal unit and match in the matching metric (score columns
        in standard-deviation units when ``standardize=True``).
    treatment : ndarray of int64, shape (n,)
        The treatment indicator of every unit.
    estimand : str
        ``"ATT"``, ``"ATC"`` or ``"ATE"``.
    n_neighbors : int
        Number of matches asked for per focal unit.
    replace : bool
        Whether controls (or treated units) could be reused.
    caliper : ndarray or None
        The caliper actually applied, per score column, in the score's raw units.
    dropped : ndarray of int64
        Positions of focal units left without a match (caliper, exact strata).
    index : pandas.Index
        Row labels of the data that was matched.
    score : ndarray, shape (n, k)
        The score that was matched on (raw units), for reports.
    unit_weight : ndarray, shape (n,)
        Survey (sampling) weights of the units; ones when none were given.
    ranges : MatchRanges or None
        The pair-free form (1-d score, with replacement, ties kept): match counts,
        weights and estimators are computed from the ranges, and the pair arrays
        (``focal``, ``matched``, ``share``, ``distance``, ``pairs()``,
        ``matched_data()``) are only built when first asked for.
    subclass : ndarray of int64, shape (n,) or None
        For the designs that make matched sets or strata (optimal, full,
        subclassification, coarsened exact matching): the set of each unit, 1, 2, ...,
        and 0 for a unit left out.  Each focal unit is then matched to every unit of
        the other arm in its set, with equal shares, so :attr:`weights` are MatchIt's
        stratum weights (before its normalisation: :attr:`matchit_weights`).  The
        pairs are built only when asked for.
    design : str
        ``"nearest"``, ``"optimal"``, ``"full"``, ``"subclass"`` or ``"cem"``.
    discarded : ndarray of bool, shape (n,)
        Units outside common support (``discard``), never matched.
    info : dict
        What the design reports (total distance, solver, cut points...).
    """

    def __init__(self, focal=None, matched=None, share=None, distance=None, *,
                 treatment, estimand, n_neighbors, replace, caliper, dropped, index, score,
                 ties=True, unit_weight=None, ranges: MatchRanges | None = None,
                 subclass: np.ndarray | None = None, design: str = "nearest",
                 discarded: np.ndarray | None = None, unit_distance: np.ndarray | None = None,
                 metric: np.ndarray | None = None, info: dict | None = None):
        if ranges is None and focal is None and subclass is None:
            raise ValueError("MatchResult needs the pairs, their ranges or the subclasses")
        self._pairs = None if focal is None else {
            "focal": focal, "matched": matched, "share": share, "distance": distance}
        self.ranges = ranges
        self.subclass = None if subclass is None else np.asarray(subclass, dtype=np.int64)
        self.design = design
        self.discarded = (np.zeros(treatment.shape[0], dtype=bool) if discarded is None
                          else np.asarray(discarded, dtype=bool))
        self.unit_distance = unit_distance
        self.metric = metric
        self.info = {} if info is None else info
        self.treatment = treatment
        self.estimand = estimand
        self.n_neighbors = n_neighbors
        self.replace = replace
        self.caliper = caliper
        self.dropped = dropped
        self.index = index
        self.score = score
        self.ties = ties
        self.unit_weight = np.ones(treatment.shape[0]) if unit_weight is None else unit_weight
        self._cache = {}

    # ------------------------------------------------------------- the pairs
    def _pair(self, name: str) -> np.ndarray:
        if self._pairs is None and self.ranges is None:     # subclasses
            need = 48 * self.n_pairs
            if need > _physical_memory():
                raise MemoryError(f"these matched sets hold {self.n_pairs:,} (focal, match) "
                                  "pairs; listing them needs about "
                                  f"{need / 2 ** 30:,.0f} GiB.  Weights, subclasses and "
                                  "matched_data() work without the pairs.")
            self._pairs = self._subclass_pairs()
        elif self._pairs is None:                # built from the ranges on first use
            need = 48 * self.n_pairs             # 4 arrays of 8 bytes, and a sort
            if need > _physical_memory():
                raise MemoryError(
                    f"these matches hold {self.n_pairs:,} (focal, match) pairs, ties "
                    f"included; listing them needs about {need / 2 ** 30:,.0f} GiB, more "
                    "than this machine has.  Match counts, weights and the estimators "
                    "work without the pairs; for fewer ties use distance_tolerance=0 "
                    "(exact ties only) or ties=False.")
            self._pairs = self.ranges.expand()
        return self._pairs[name]

    focal = property(lambda self: self._pair("focal"),
                     doc="Position of the focal unit of each pair.")
    matched = property(lambda self: self._pair("matched"),
                       doc="Position of the match of each pair.")
    share = property(lambda self: self._pair("share"),
                     doc="``1 / #J(focal)`` of each pair (weight-proportional with unit weights).")
    distance = property(lambda self: self._pair("distance"),
                        doc="Focal-to-match distance of each pair in the matching metric.")

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Number of units in the data."""
        return int(self.treatment.shape[0])

    @property
    def n_pairs(self) -> int:
        """Number of (focal, match) pairs, ties included."""
        if self._pairs is None and self.ranges is not None:
            return int(self.ranges.counts.sum())
        if self._pairs is None:
            st = self._strata()
            return int(sum(st["n_focal"][a] @ st["n"][1 - a] for a in (0, 1)))
        return int(self._pairs["focal"].shape[0])

    @property
    def n_dropped(self) -> int:
        """Number of focal units without any match."""
        return int(self.dropped.shape[0])

    @property
    def focal_units(self) -> np.ndarray:
        """Positions of the focal units that were matched (sorted)."""
        if self.ranges is not None:
            return self.ranges.focal
        if self.subclass is not None:
            return np.flatnonzero(self._strata()["focal"])
        if "focal_units" not in self._cache:
            self._cache["focal_units"] = np.unique(self.focal)
        return self._cache["focal_units"]

    @property
    def n_matched(self) -> int:
        """Number of focal units that were matched."""
        return int(self.focal_units.shape[0])

    # -------------------------------------------------------- match counts
    @property
    def pair_weight(self) -> np.ndarray:
        """Weight of each pair: ``w_focal * share`` (``1/#J`` without unit weights)."""
        return self.unit_weight[self.focal] * self.share

    def _range_counts(self) -> None:
        """``K_M`` and ``K'_M`` from the ranges, in one pass over the pool."""
        inv = 1.0 / self.ranges.counts
        r = self.ranges
        if _jit.AVAILABLE:
            self._cache["K"], self._cache["KK"] = _jit.cover_sums(r.start, r.stop, inv,
                                                                  inv * inv, r.pool, self.n)
            return
        both = r.spread(np.column_stack([inv, inv * inv]), self.n)
        self._cache["K"], self._cache["KK"] = both.T.copy()

    @property
    def match_count(self) -> np.ndarray:
        """``K_M``: tie-weighted number of times each unit serves as a match."""
        if "K" not in self._cache:
            if self.subclass is not None:
                self._cache["K"] = self._stratum_counts(1)
            elif self.ranges is not None:
                self._range_counts()
            else:
                self._cache["K"] = np.bincount(self.matched, weights=self.pair_weight,
                                               minlength=self.n)
        return self._cache["K"]

    @property
    def match_count_sq(self) -> np.ndarray:
        """``K'_M``: sum over the unit's uses of ``1 / #J(i)^2``."""
        if "KK" not in self._cache:
            if self.subclass is not None:
                self._cache["KK"] = self._stratum_counts(2)
            elif self.ranges is not None:
                self._range_counts()
            else:
                self._cache["KK"] = np.bincount(self.matched,
                                                weights=self.pair_weight * self.share,
                                                minlength=self.n)
        return self._cache["KK"]

    def match_mean(self, values: np.ndarray) -> np.ndarray:
        """Per matched focal unit (in ``focal_units`` order), the mean of ``values``
        over its matches, weighted by the pairs' shares (``sum_j share_ij values_j``).

        Computed from the ranges when the matches have the pair-free form.
        """
        values = np.asarray(values, dtype=np.float64)
        if self.subclass is not None:
            st = self._strata()
            s, t = self.subclass, self.treatment
            F = self.focal_units
            out = np.empty(F.size)
            for arm in (0, 1):          # focal units of this arm: the other arm's mean
                sums = np.bincount(s[t == 1 - arm], weights=values[t == 1 - arm],
                                   minlength=st["G"] + 1)
                sel = t[F] == arm
                out[sel] = sums[s[F[sel]]] / st["n"][1 - arm][s[F[sel]]]
            return out
        if self.ranges is not None:
            return self.ranges.sums(values) / self.ranges.counts
        return np.bincount(self.focal, weights=self.share * values[self.matched],
                           minlength=self.n)[self.focal_units]

    def match_moments(self, values: np.ndarray) -> tuple:
        """``match_mean(values)`` and ``match_mean(values ** 2)``; from the ranges, in
        one pass."""
        values = np.asarray(values, dtype=np.float64)
        if self.ranges is not None and self.subclass is None:
            s1, s2 = self.ranges.moments(values)
            return s1 / self.ranges.counts, s2 / self.ranges.counts
        return self.match_mean(values), self.match_mean(values ** 2)

    @property
    def is_focal(self) -> np.ndarray:
        """Boolean mask of the matched focal units."""
        mask = np.zeros(self.n, dtype=bool)
        mask[self.focal_units] = True
        return mask

    @property
    def weights(self) -> np.ndarray:
        """Unit weights that turn the matching estimator into a weighted mean difference.

        ``w_i = u_i 1{i focal and matched} + K_M(i)`` (``u`` the unit weights, 1 by
        default), so for the ATT treated units weigh 1
        and controls ``K_M``; for the ATE every unit weighs ``1 + K_M``.  The
        weighted difference of arm means equals the (unadjusted) matching estimate.
        Unmatched units weigh 0.  These are MatchIt's weights before its
        normalisation (MatchIt scales each arm to mean 1 over matched units).
        """
        return self.unit_weight * self.is_focal + self.match_count

    @property
    def matchit_weights(self) -> np.ndarray:
        """:attr:`weights` scaled as MatchIt scales them (``weights.subclass``).

        Within each arm that is not focal (both arms for the ATE) the weights of the
        matched units are rescaled to sum to their number; focal units of the ATT
        (ATC) weigh 1.  Means, and hence effects, are unchanged.
        """
        w = self.weights.copy()
        keep = {"ATT": (0,), "ATC": (1,), "ATE": (0, 1)}[self.estimand]
        for arm in keep:
            sel = (self.treatment == arm) & (w > 0)
            if sel.any():
                w[sel] *= sel.sum() / w[sel].sum()
        return w

    # ---------------------------------------------------- subclass designs
    def _strata(self) -> dict:
        """Per matched set: members of each arm, and the focal mask of the units."""
        if "strata" not in self._cache:
            s, t = self.subclass, self.treatment
            G = int(s.max()) if s.size else 0
            n = [np.bincount(s[t == a], minlength=G + 1).astype(np.float64) for a in (0, 1)]
            for a in (0, 1):
                n[a][0] = 0.0                       # subclass 0: unmatched
            arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[self.estimand]
            focal = (s > 0) & np.isin(t, arms) & (n[0][s] > 0) & (n[1][s] > 0)
            n_focal = [np.bincount(s[focal & (t == a)], minlength=G + 1).astype(np.float64)
                       for a in (0, 1)]
            self._cache["strata"] = {"G": G, "n": n, "focal": focal, "n_focal": n_focal}
        return self._cache["strata"]

    def _stratum_counts(self, power: int) -> np.ndarray:
        """``K_M`` (power 1) or ``K'_M`` (power 2) from the sets: a unit of arm ``a``
        in set ``s`` is a match of each focal unit of the other arm there, with
        share ``1 / n_a(s)``."""
        st = self._strata()
        s, t = self.subclass, self.treatment
        out = np.zeros(self.n)
        for a in (0, 1):
            sel = (t == a) & (s > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                k = st["n_focal"][1 - a][s[sel]] / st["n"][a][s[sel]] ** power
            out[sel] = np.nan_to_num(k)
        return out

    def _subclass_pairs(self) -> dict:
        """Every (focal unit, other-arm member of its set) pair, sorted by focal unit."""
        s, t = self.subclass, self.treatment
        F = self.focal_units
        order = np.lexsort((np.arange(self.n), s))          # units grouped by set
        sorted_s = s[order]
        focal, matched = [], []
        for arm in (0, 1):
            Fa = F[t[F] == arm]
            pool = order[t[order] == 1 - arm]
            lo = np.searchsorted(s[pool], s[Fa], side="left")
            hi = np.searchsorted(s[pool], s[Fa], side="right")
            cnt = hi - lo
            focal.append(np.repeat(Fa, cnt))
            first = np.cumsum(cnt) - cnt
            matched.append(pool[np.arange(int(cnt.sum())) - np.repeat(first - lo, cnt)])
        del sorted_s
        focal, matched = np.concatenate(focal), np.concatenate(matched)
        o = np.lexsort((matched, focal))
        focal, matched = focal[o], matched[o]
        n_other = np.bincount(focal, minlength=self.n)
        metric = self.metric if self.metric is not None else \
            (self.score if self.score.ndim == 2 else self.score[:, None])
        dist = np.sqrt(((metric[focal] - metric[matched]) ** 2).sum(axis=1))
        return {"focal": focal, "matched": matched, "share": 1.0 / n_other[focal],
                "distance": dist}

    # ------------------------------------------------------------ pair views
    def pairs(self) -> pd.DataFrame:
        """One row per (focal, match) pair, with treated/control orientation.

        Columns: ``subclass`` (the focal unit's position, one subclass per matched
        set), ``treated``, ``control`` (row positions), ``weight`` (``1/#J``) and
        ``distance``.
        """
        t_focal = self.treatment[self.focal] == 1
        treated = np.where(t_focal, self.focal, self.matched)
        control = np.where(t_focal, self.matched, self.focal)
        return pd.DataFrame({"subclass": self.focal, "treated": treated, "control": control,
                             "weight": self.pair_weight, "distance": self.distance})

    def matched_data(self, data: pd.DataFrame | None = None) -> pd.DataFrame:
        """A MatchIt-style table of the matched sample.

        Without replacement (each unit in at most one matched set) there is one row
        per matched unit, as MatchIt's ``match.data()``.  With replacement there is
        one row per unit per matched set, as MatchIt's ``get_matches()``: a control
        used by three treated units appears three times.

        Columns: ``index`` (the original row label), ``treated`` (0/1),
        ``subclass`` (1, 2, ... one per matched set, in focal-unit order),
        ``weights`` (1 for the focal unit, ``1/#J`` for each of its matches in the
        per-pair layout; MatchIt's stratum weights without replacement; multiplied by
        the focal unit's weight when unit weights were given),
        ``distance`` (the focal-to-match distance in the matching metric, 0 for the
        focal unit) and ``score`` (``score_0``, ``score_1``, ... for a
        multi-dimensional score).  Pass ``data`` to append its columns for those
        rows.

        For the designs with matched sets or strata (optimal, full, subclassification,
        coarsened exact matching) there is one row per unit in a set, as MatchIt's
        ``match.data()``: ``subclass`` is the unit's set, ``weights`` MatchIt's weights
        (:attr:`matchit_weights`), and ``distance`` the distance to the set's centre
        (the unit alone in its arm; 0 for the centre) for optimal and full matching,
        NaN for subclassification and coarsened exact matching.

        Every column is float64, int64 or str so the table crosses into R unchanged.
        """
        if self.subclass is not None:
            pos = np.flatnonzero(self.subclass > 0)
            dist = (np.full(pos.size, np.nan) if self.unit_distance is None
                    else self.unit_distance[pos])
            return self._frame(pos, self.subclass[pos], self.matchit_weights[pos], dist, data)
        focal_units, sub = np.unique(self.focal, return_inverse=True)
        subclass_of_pair = sub.astype(np.int64) + 1
        pos = np.concatenate([focal_units, self.matched])
        subclass = np.concatenate([np.arange(1, focal_units.size + 1, dtype=np.int64),
                                   subclass_of_pair])
        dist = np.concatenate([np.zeros(focal_units.size), self.distance])
        # focal unit 1, each match 1/#J: MatchIt's stratum weights for 1:k matching.
        w = np.concatenate([self.unit_weight[focal_units], self.pair_weight])
        order = np.lexsort((pos, subclass))
        pos, subclass, dist, w = pos[order], subclass[order], dist[order], w[order]
        return self._frame(pos, subclass, w, dist, data)

    def _frame(self, pos, subclass, w, dist, data) -> pd.DataFrame:
        out = pd.DataFrame({
            "index": np.asarray(self.index)[pos],
            "treated": self.treatment[pos].astype(np.int64),
            "subclass": subclass,
            "weights": w.astype(np.float64),
            "distance": dist.astype(np.float64),
        })
        score = self.score if self.score.ndim == 2 else self.score[:, None]
        if score.shape[1] == 1:
            out["score"] = score[pos, 0]
        else:
            for k in range(score.shape[1]):
                out[f"score_{k}"] = score[pos, k]
        if data is not None:
            if len(data) != self.n:
                raise ValueError(f"data has {len(data)} rows; the matches were made on {self.n}")
            extra = data.iloc[pos].reset_index(drop=True)
            clash = [c for c in extra.columns if c in out.columns]
            if clash:
                renamed = {c: f"{c}_data" for c in clash}
                warnings.warn(f"data has column(s) {', '.join(map(repr, clash))} that the "
                              "matched table also has; yours are kept as "
                              f"{', '.join(map(repr, renamed.values()))}", UserWarning,
                              stacklevel=3)
                extra = extra.rename(columns=renamed)
            out = pd.concat([out, extra], axis=1)
        return out

    def summary(self):
        """The counts per arm (:meth:`counts`) as a printable table, HTML in a notebook
        (a :class:`~causalsm.estimators.results.Summary`, as every result's)."""
        from ..estimators.results import Summary
        frame = self.counts()
        return Summary(f"Sample sizes ({self.estimand})\n{frame.to_string()}",
                       frame.to_html())

    def counts(self) -> pd.DataFrame:
        """Counts per arm: units, matched, used as matches, dropped (MatchIt's sample
        sizes)."""
        t = self.treatment
        used = self.match_count > 0
        focal = self.is_focal
        rows = {}
        for arm, name in ((1, "treated"), (0, "control")):
            m = t == arm
            rows[name] = {"all": int(m.sum()), "matched_focal": int((focal & m).sum()),
                          "used_as_match": int((used & m).sum()),
                          "in_matched_sample": int(((focal | used) & m).sum()),
                          "dropped": int(np.isin(self.dropped, np.flatnonzero(m)).sum())}
        return pd.DataFrame(rows).T

    def sensitivity(self, y, gammas=None, **options):
        """Rosenbaum bounds: how strong a hidden bias would overturn a test of no effect.

        The matched sets (each focal unit with its matches) must share no unit, as
        after matching without replacement; otherwise an :class:`InputError` says why
        and points to the E-value.  See :func:`causalsm.sensitivity.rosenbaum_bounds`
        for ``gammas`` and the ``options`` (``statistic``, ``alternative``, ``alpha``,
        ``intervals``, ``trim``...).

        Parameters
        ----------
        y : array-like, shape (n,)
            The outcome of every unit of the data that was matched.

        Returns
        -------
        SensitivityResult

        Examples
        --------
        >>> from causalsm import match
        >>> m = match([0.1, 0.35, 0.2, 0.3, 0.9, 0.5], [1, 1, 0, 0, 0, 1], replace=False)
        >>> m.sensitivity([5.0, 7.0, 3.0, 4.0, 1.0, 6.0], [1, 2]).design
        '3 matched pairs'
        """
        from ..sensitivity import MatchedSets, rosenbaum_bounds
        return rosenbaum_bounds(MatchedSets.from_match(self, y), gammas,
                                details={"n_dropped": self.n_dropped}, **options)

    def __repr__(self) -> str:
        cal = "none" if self.caliper is None else np.array2string(self.caliper, precision=4)
        if self.subclass is not None:
            return (f"MatchResult(design={self.design}, estimand={self.estimand}, "
                    f"n={self.n}, matched={int((self.subclass > 0).sum())}, "
                    f"subclasses={int(self.subclass.max())}, dropped={self.n_dropped}, "
                    f"discarded={int(self.discarded.sum())}, caliper={cal})")
        return (f"MatchResult(estimand={self.estimand}, n_neighbors={self.n_neighbors}, "
                f"replace={self.replace}, n={self.n}, matched={self.n_matched}, "
                f"pairs={self.n_pairs}, dropped={self.n_dropped}, caliper={cal})")
