"""Matched sets: the data every Rosenbaum bound works on.

A Rosenbaum sensitivity analysis conditions on the matched sets and asks how the
treatment could have been assigned *within* each set.  That needs sets that share
no unit.  :class:`MatchedSets` holds the outcomes of such sets (pairs, one treated
unit with several controls, one control with several treated units as full
matching makes them, or strata with several of each as subclassification makes
them) and is built from

* pair differences (treated minus control), as ``psens``/``senmw`` take them;
* a matrix with one set per row, the treated unit first and ``NaN`` for missing
  controls, as ``senmw``/``senmv``/``senfm`` take it;
* long data: an outcome, a 0/1 treatment and a set label per unit;
* a :class:`~causalsm.MatchResult` and the outcome, where the check that no unit
  is shared happens and the reason is given when it fails.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from .._validation import InputError, check_outcome, check_treatment

__all__ = ["MatchedSets", "matched_sets", "sets_or_reason"]


@dataclass(frozen=True, eq=False)
class MatchedSets:
    """Outcomes grouped into matched sets (or strata) that share no unit.

    Build one with :func:`matched_sets` or the ``from_*`` constructors.

    Attributes
    ----------
    y : ndarray of float64, shape (n,)
        Outcomes, set after set.
    treated : ndarray of int64, shape (n,)
        1 for a treated unit, 0 for a control.
    start : ndarray of int64, shape (n_sets + 1,)
        Set ``s`` holds the rows ``start[s]:start[s + 1]``.
    labels : ndarray, shape (n_sets,)
        The label of each set (the focal unit's row label for a ``MatchResult``).

    Examples
    --------
    >>> sets = MatchedSets.from_differences([2.0, -1.0, 3.0])
    >>> sets.n_sets, sets.describe()
    (3, '3 matched pairs')
    >>> sets.pair_differences().tolist()
    [2.0, -1.0, 3.0]
    """

    y: np.ndarray
    treated: np.ndarray
    start: np.ndarray
    labels: np.ndarray

    # ------------------------------------------------------------- constructors
    @classmethod
    def from_differences(cls, d: Any) -> "MatchedSets":
        """Matched pairs from treated-minus-control differences (NaN pairs dropped).

        Each pair becomes the outcomes ``(d / 2, -d / 2)``, as ``senmw`` does with a
        vector, so every statistic sees the difference ``d``.
        """
        d = np.asarray(d, dtype=np.float64).ravel()
        d = d[~np.isnan(d)]
        if d.size == 0:
            raise InputError("no pair differences (all are missing)")
        if not np.isfinite(d).all():
            raise InputError("the pair differences must be finite")
        y = np.column_stack([d / 2, -d / 2]).ravel()
        treated = np.tile(np.array([1, 0], dtype=np.int64), d.size)
        return cls(y, treated, np.arange(0, 2 * d.size + 1, 2, dtype=np.int64),
                   np.arange(d.size))

    @classmethod
    def from_matrix(cls, Y: Any, first_treated: Any = True) -> "MatchedSets":
        """Matched sets from a matrix with one set per row.

        Column 0 holds the set's single treated unit and the other columns its
        controls (``NaN`` where a set has fewer controls), as ``senmv`` takes them.
        With ``first_treated=False`` for a row (a boolean per row, ``senfm``'s
        ``treated1``), column 0 is the set's single control and the others are
        treated units, as full matching makes them.  Rows with fewer than two
        outcomes are dropped; a row whose first entry is missing keeps its other
        units only for the scale of M-scores, as ``mscorev`` does.
        """
        Y = np.array(Y, dtype=np.float64, copy=True)
        if Y.ndim != 2 or Y.shape[1] < 2:
            raise InputError(f"a matrix of matched sets needs one row per set and at least "
                             f"two columns, got shape {Y.shape}")
        if np.isinf(Y).any():
            raise InputError("the matrix of matched sets has infinite values")
        first = np.broadcast_to(np.asarray(first_treated, dtype=bool), (Y.shape[0],))
        present = ~np.isnan(Y)
        keep = present.sum(axis=1) >= 2
        Y, present, first = Y[keep], present[keep], first[keep]
        if Y.shape[0] == 0:
            raise InputError("no matched set has two or more outcomes")
        z = np.where(first[:, None], 0, 1) * np.ones_like(Y, dtype=np.int64)
        z[:, 0] = np.where(present[:, 0], first.astype(np.int64), 0)
        z[~present[:, 0], 1:] = 0           # set without its first unit: no comparison
        sizes = present.sum(axis=1)
        start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(Y[present], z[present].astype(np.int64), start,
                   np.flatnonzero(keep))

    @classmethod
    def from_labels(cls, y: Any, treated: Any, sets: Any) -> "MatchedSets":
        """Matched sets (or strata) from one row per unit: outcome, 0/1, set label.

        Units whose label is missing (``NaN``/``None``, e.g. MatchIt's ``subclass`` of
        an unmatched unit) are left out.
        """
        y = check_outcome(y, name="outcome")
        t = np.asarray(treated).ravel()
        labels = pd.Series(np.asarray(sets, dtype=object).ravel())
        if not (y.shape[0] == t.shape[0] == labels.shape[0]):
            raise InputError(f"outcome, treatment and set labels need the same length, got "
                             f"{y.shape[0]}, {t.shape[0]} and {labels.shape[0]}")
        keep = labels.notna().to_numpy()
        if not keep.any():
            raise InputError("every set label is missing")
        t = check_treatment(t[keep], name="treatment") if np.unique(t[keep]).size > 1 \
            else _binary(t[keep])
        codes, uniques = pd.factorize(labels[keep], sort=True)
        order = np.argsort(codes, kind="stable")
        sizes = np.bincount(codes, minlength=len(uniques))
        start = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        return cls(y[keep][order], t[order], start, np.asarray(uniques, dtype=object))

    @classmethod
    def from_match(cls, match: Any, y: Any) -> "MatchedSets":
        """The matched sets of a :class:`~causalsm.MatchResult` and the outcome ``y``.

        Each matched set is a focal unit with its matches (or, when the result has a
        ``subclass`` of every unit, as full matching and subclassification give, the
        units of each subclass).  The sets must share no unit: matching with
        replacement (when a unit is reused), the ATE (where every unit is focal and
        also a match) and survey weights are refused with the reason, and the E-value
        is suggested instead.
        """
        y = check_outcome(y, name="outcome")
        n = match.n
        if y.shape[0] != n:
            raise InputError(f"the outcome has {y.shape[0]} values; the matches were made "
                             f"on {n} units")
        if not np.all(match.unit_weight == 1):
            raise InputError("Rosenbaum bounds are not defined for matches made with survey "
                             "(sampling) weights; use the E-value (res.evalue()) instead")
        t = match.treatment
        subclass = getattr(match, "subclass", None)
        if subclass is not None and np.shape(subclass) == (n,):
            labels = np.asarray(subclass, dtype=object)
            labels[np.asarray(subclass) == 0] = None     # causalsm's 0: not in a set
            return cls.from_labels(y, t, labels)
        focal_units = match.focal_units
        focal, matched = match.focal, match.matched
        members = np.concatenate([focal_units, matched])
        uses = np.bincount(members, minlength=n)
        shared = int((uses > 1).sum())
        if shared:
            if match.estimand == "ATE":
                why = ("for the ATE every unit is matched and also serves as a match, so "
                       "the matched sets overlap")
            elif match.replace:
                why = (f"matching with replacement used {shared} unit(s) in more than one "
                       "matched set")
            else:
                why = f"{shared} unit(s) belong to more than one matched set"
            raise InputError(
                f"Rosenbaum bounds need matched sets that share no unit: {why}.  Match "
                "without replacement (replace=False, estimand 'ATT' or 'ATC'), or use the "
                "E-value (res.evalue()), which needs no disjoint sets.")
        label = np.concatenate([focal_units, focal])
        return cls.from_labels(y[members], t[members], label)

    # ----------------------------------------------------------------- views
    @property
    def size(self) -> np.ndarray:
        """Units in each set."""
        return np.diff(self.start)

    @property
    def n_sets(self) -> int:
        return int(self.start.size - 1)

    @property
    def n_treated_in(self) -> np.ndarray:
        """Treated units in each set."""
        return np.add.reduceat(self.treated, self.start[:-1]) if self.n_sets else \
            np.zeros(0, dtype=np.int64)

    @property
    def usable(self) -> np.ndarray:
        """Sets with at least one treated unit and one control."""
        nt = self.n_treated_in
        return (nt >= 1) & (nt < self.size)

    @property
    def is_binary(self) -> bool:
        """Whether every outcome is 0 or 1."""
        return bool(np.isin(self.y, (0.0, 1.0)).all())

    @property
    def is_pairs(self) -> bool:
        """Whether every usable set is a pair."""
        return bool(np.all(self.size[self.usable] == 2))

    def kinds(self) -> np.ndarray:
        """Per set: ``"one_treated"``, ``"one_control"`` (several treated units, one
        control), ``"stratum"`` (several of each) or ``"degenerate"`` (one arm only)."""
        nt, nc = self.n_treated_in, self.size - self.n_treated_in
        out = np.full(self.n_sets, "degenerate", dtype=object)
        out[(nt == 1) & (nc >= 1)] = "one_treated"
        out[(nt >= 2) & (nc == 1)] = "one_control"
        out[(nt >= 2) & (nc >= 2)] = "stratum"
        return out

    def counts(self) -> tuple[int, int, int]:
        """``(sets, treated, controls)`` over the usable sets."""
        use = np.repeat(self.usable, self.size)
        return (int(self.usable.sum()), int(self.treated[use].sum()),
                int((1 - self.treated[use]).sum()))

    def describe(self) -> str:
        """A phrase such as ``"185 matched pairs"`` or ``"185 matched sets of 1 treated
        and 1 to 3 controls"``."""
        kinds = self.kinds()
        use = self.usable
        n_use = int(use.sum())
        size = self.size
        if n_use and np.all(size[use] == 2):
            return f"{n_use} matched pairs"
        one_t, one_c, strata = ((kinds == k).sum() for k in
                                ("one_treated", "one_control", "stratum"))
        if one_t == n_use:
            lo, hi = size[use].min() - 1, size[use].max() - 1
            ctl = f"{lo} control{'s' if lo > 1 else ''}" if lo == hi else f"{lo} to {hi} controls"
            return f"{n_use} matched sets of 1 treated and {ctl}"
        parts = []
        if one_t:
            parts.append(f"{one_t} with one treated unit")
        if one_c:
            parts.append(f"{one_c} with one control")
        if strata:
            parts.append(f"{strata} with several of each")
        return f"{n_use} matched sets or strata ({', '.join(parts)})"

    def pair_outcomes(self) -> tuple[np.ndarray, np.ndarray]:
        """``(treated, control)`` outcomes of each pair; only for matched pairs."""
        use = self.usable
        if not np.all(self.size[use] == 2):
            raise InputError("this statistic needs matched pairs; these sets have up to "
                             f"{int(self.size[use].max())} units (use the M-statistic)")
        s = self.start[:-1][use]
        a, b = self.y[s], self.y[s + 1]
        first_treated = self.treated[s] == 1
        return np.where(first_treated, a, b), np.where(first_treated, b, a)

    def pair_differences(self) -> np.ndarray:
        """Treated-minus-control differences; only for matched pairs."""
        treated, control = self.pair_outcomes()
        return treated - control

    def shifted(self, tau: float) -> "MatchedSets":
        """The sets under the hypothesis of an additive effect ``tau``: ``y - tau * treated``."""
        if tau == 0:
            return self
        return MatchedSets(self.y - tau * self.treated, self.treated, self.start,
                           self.labels)

    def negated(self) -> "MatchedSets":
        """Outcomes times -1 (tests the other direction)."""
        return MatchedSets(-self.y, self.treated, self.start, self.labels)

    def tables(self) -> dict:
        """The 2x2 table of each usable set for a binary outcome: ``a`` (treated units
        with the event), ``m1`` (treated), ``m2`` (controls) and ``n`` (events)."""
        use = self.usable
        idx = self.start[:-1]
        events = np.add.reduceat(self.y, idx)[use]
        a = np.add.reduceat(self.y * self.treated, idx)[use]
        m1 = self.n_treated_in[use]
        return {"a": np.rint(a).astype(np.int64), "m1": m1.astype(np.int64),
                "m2": (self.size[use] - m1).astype(np.int64),
                "n": np.rint(events).astype(np.int64)}


def _binary(t: np.ndarray) -> np.ndarray:
    """0/1 as int64 when only one arm is present (a set list of controls, say)."""
    arr = np.asarray(t, dtype=np.float64)
    if not np.isin(arr, (0.0, 1.0)).all():
        raise InputError("treatment must be 0/1")
    return arr.astype(np.int64)


def matched_sets(data: Any, treated: Any = None, sets: Any = None, *,
                 first_treated: Any = True) -> MatchedSets:
    """Matched sets from pair differences, a matrix, long data or a MatchedSets.

    Parameters
    ----------
    data : MatchedSets, array-like
        A 1-d array of treated-minus-control pair differences; a 2-d matrix with one
        set per row (treated unit first, ``NaN`` for missing controls); or, with
        ``treated`` and ``sets``, the outcome of each unit.
    treated, sets : array-like, optional
        With long data: the 0/1 treatment and the set label of each unit.
    first_treated : bool or array of bool
        With a matrix: whether column 0 is the set's treated unit (default) or its
        single control (``senfm``'s ``treated1``).

    Returns
    -------
    MatchedSets

    Examples
    --------
    >>> matched_sets([[5.0, 5.0, 5.0], [11.0, 5.0, np.nan]]).describe()
    '2 matched sets of 1 treated and 1 to 2 controls'
    >>> matched_sets([3.0, 1.0, 2.0, 0.0], treated=[1, 0, 1, 0], sets=["a", "a", "b", "b"]).n_sets
    2
    """
    if isinstance(data, MatchedSets):
        return data
    if treated is not None or sets is not None:
        if treated is None or sets is None:
            raise InputError("long data need both the treatment and the set of each unit")
        return MatchedSets.from_labels(data, treated, sets)
    arr = np.asarray(data, dtype=np.float64) if not isinstance(data, pd.DataFrame) \
        else data.to_numpy(dtype=np.float64)
    if arr.ndim == 1:
        return MatchedSets.from_differences(arr)
    if arr.ndim == 2 and arr.shape[1] == 1:
        return MatchedSets.from_differences(arr[:, 0])
    return MatchedSets.from_matrix(arr, first_treated)


def sets_or_reason(match: Any, y: Any) -> "MatchedSets | str":
    """The matched sets of ``match`` for an estimate's later sensitivity analysis, or
    the reason there are none (kept by results; matches with replacement are not
    expanded into pairs just to find that they overlap)."""
    if getattr(match, "subclass", None) is not None:     # designs with disjoint sets
        try:
            return MatchedSets.from_match(match, y)
        except InputError as exc:
            return str(exc)
    if match.estimand == "ATE":
        return ("Rosenbaum bounds need matched sets that share no unit: for the ATE every "
                "unit is matched and also serves as a match, so the matched sets overlap.  "
                "Use the E-value (evalue()), or estimate the ATT or ATC by matching "
                "without replacement (replace=False).")
    if match.replace:
        return ("Rosenbaum bounds need matched sets that share no unit: this estimate "
                "matched with replacement, so a control can belong to several matched "
                "sets.  Use the E-value (evalue()), which needs no disjoint sets, or match "
                "without replacement (replace=False).")
    try:
        return MatchedSets.from_match(match, y)
    except InputError as exc:
        return str(exc)
