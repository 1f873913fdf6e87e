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
  ``K_M(j) = sum_i w_i share_ij`` and ``K'_M(j) = sum_i w_i share_ij^2``, as there).  Raw use counts, as dsmatch and
  MatchIt's ``replace=TRUE`` weights report them, equal ``n_neighbors * K_M`` when
  there are no ties.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = ["MatchResult"]


@dataclass(eq=False)
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
    """

    focal: np.ndarray
    matched: np.ndarray
    share: np.ndarray
    distance: np.ndarray
    treatment: np.ndarray
    estimand: str
    n_neighbors: int
    replace: bool
    caliper: np.ndarray | None
    dropped: np.ndarray
    index: pd.Index
    score: np.ndarray
    ties: bool = True
    unit_weight: np.ndarray | None = None
    _cache: dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.unit_weight is None:
            self.unit_weight = np.ones(self.treatment.shape[0])

    # ------------------------------------------------------------------ sizes
    @property
    def n(self) -> int:
        """Number of units in the data."""
        return int(self.treatment.shape[0])

    @property
    def n_pairs(self) -> int:
        return int(self.focal.shape[0])

    @property
    def n_dropped(self) -> int:
        """Number of focal units without any match."""
        return int(self.dropped.shape[0])

    @property
    def focal_units(self) -> np.ndarray:
        """Positions of the focal units that were matched (sorted)."""
        return np.unique(self.focal)

    @property
    def n_matched(self) -> int:
        """Number of focal units that were matched."""
        return int(self.focal_units.shape[0])

    # -------------------------------------------------------- match counts
    @property
    def pair_weight(self) -> np.ndarray:
        """Weight of each pair: ``w_focal * share`` (``1/#J`` without unit weights)."""
        return self.unit_weight[self.focal] * self.share

    @property
    def match_count(self) -> np.ndarray:
        """``K_M``: tie-weighted number of times each unit serves as a match."""
        if "K" not in self._cache:
            self._cache["K"] = np.bincount(self.matched, weights=self.pair_weight,
                                           minlength=self.n)
        return self._cache["K"]

    @property
    def match_count_sq(self) -> np.ndarray:
        """``K'_M``: sum over the unit's uses of ``1 / #J(i)^2``."""
        if "KK" not in self._cache:
            self._cache["KK"] = np.bincount(self.matched, weights=self.pair_weight * self.share,
                                            minlength=self.n)
        return self._cache["KK"]

    @property
    def is_focal(self) -> np.ndarray:
        """Boolean mask of the matched focal units."""
        mask = np.zeros(self.n, dtype=bool)
        mask[self.focal] = True
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

        Every column is float64, int64 or str so the table crosses into R unchanged.
        """
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
            extra = extra.drop(columns=[c for c in extra.columns if c in out.columns])
            out = pd.concat([out, extra], axis=1)
        return out

    def summary(self) -> pd.DataFrame:
        """Counts per arm: units, matched, used as matches, dropped."""
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

    def __repr__(self) -> str:
        cal = "none" if self.caliper is None else np.array2string(self.caliper, precision=4)
        return (f"MatchResult(estimand={self.estimand}, n_neighbors={self.n_neighbors}, "
                f"replace={self.replace}, n={self.n}, matched={self.n_matched}, "
                f"pairs={self.n_pairs}, dropped={self.n_dropped}, caliper={cal})")
