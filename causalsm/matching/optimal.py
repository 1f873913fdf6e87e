"""Optimal matching: pair, k:1 and variable-ratio matching, and full matching.

These are the designs of R's optmatch (``pairmatch``, ``fullmatch``) as MatchIt
calls them (``method = "optimal"`` and ``method = "full"``), on any score:

* **optimal pair / k:1 matching** picks, for each focal unit (treated for the ATT),
  ``ratio`` distinct units of the other arm so that the *total* distance is as
  small as possible (greedy nearest-neighbour matching only makes each choice
  locally best).  Solved exactly, on real-valued distances, by
  :func:`scipy.optimize.linear_sum_assignment` with each focal row repeated
  ``ratio`` times; pairs that a caliper or ``antiexact`` forbids cost more than all
  permitted pairs together, so as many focal units as possible are matched first.
* **variable-ratio optimal matching** (``min_controls`` / ``max_controls``): each
  focal unit gets between ``min_controls`` and ``max_controls`` matches, ``ratio``
  on average (Ming & Rosenbaum 2000), by the network of full matching.
* **optimal full matching** (Rosenbaum 1991; Hansen 2004; Hansen & Klopfer 2006)
  puts *every* unit (bar ``omit_fraction`` of the other arm) into a matched set of
  one focal unit and several others, or one other unit and several focal units,
  with at least ``min_controls`` and at most ``max_controls`` units of the other arm
  per focal unit, minimising the total distance within sets.  Solved as a
  minimum-cost flow (:mod:`causalsm.matching.flow`) with optmatch's network and its
  rules (flipping for ``max_controls <= 1/2``, the adjustment of ``omit_fraction``
  for unmatchable units, and its recovery from an infeasible ``max_controls``).

Distances are Euclidean on the score (each column divided by its SD when
``standardize``; the plain absolute difference for a 1-d score with
``standardize=False``, MatchIt's ``distance``), or MatchIt's Mahalanobis distance on
``mahvars`` with the caliper on the score.  The result is a
:class:`~causalsm.matching.MatchResult` with ``subclass`` set: MatchIt's matched
sets and weights (``matched_data()``), ``info["total_distance"]`` the optimum.

Where it stops: without a caliper the ``n_focal x n_other`` distance matrix is built
whole (``max_entries``, 10^8 by default, about 0.8 GB); with a caliper only the
permitted pairs are, so full matching on 10^5 units runs in seconds with OR-tools
(optmatch stops at 10^7 pairs by default and needs its solver's integers).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from .._validation import InputError
from .flow import min_cost_flow, resolve_solver, stars
from .nearest import _stratum_groups
from .result import MatchResult
from .support import prepare

__all__ = ["optimal_match", "full_match", "fullmatch_arcs"]

MAX_ENTRIES = 10 ** 8


# ------------------------------------------------------------------- pairs and costs
def _arcs(d, rows: np.ndarray, cols: np.ndarray, max_entries: int):
    """Permitted (row, column) pairs of a subproblem and their distances.

    Returns ``(r, c, cost)`` with ``r``, ``c`` positions in ``rows``, ``cols``.
    Without a caliper every pair is a candidate (a dense block, checked against
    ``max_entries``); with one, only pairs within the caliper box are generated.
    """
    nr, nc = rows.size, cols.size
    if d.caliper is None:
        if nr * nc > max_entries:
            raise InputError(
                f"this problem has {nr:,} x {nc:,} = {nr * nc:,} candidate pairs, more "
                f"than max_entries={max_entries:,}; give a caliper or exact strata to "
                "make it sparse (or raise max_entries if memory allows)")
        r = np.repeat(np.arange(nr), nc)
        c = np.tile(np.arange(nc), nr)
    else:
        S, cal = d.score, d.caliper
        if S.shape[1] == 1:                     # sorted search on a 1-d score
            o = np.argsort(S[cols, 0], kind="stable")
            sc = S[cols[o], 0]
            q = S[rows, 0]
            lo = np.searchsorted(sc, q - cal[0] * (1 + 1e-12), side="left")
            hi = np.searchsorted(sc, q + cal[0] * (1 + 1e-12), side="right")
            cnt = hi - lo
            if int(cnt.sum()) > max_entries:
                raise InputError(f"the caliper leaves {int(cnt.sum()):,} candidate pairs, "
                                 f"more than max_entries={max_entries:,}; narrow it")
            r = np.repeat(np.arange(nr), cnt)
            first = np.cumsum(cnt) - cnt
            c = o[np.arange(int(cnt.sum())) - np.repeat(first - lo, cnt)]
        else:                                   # box query on caliper-scaled columns
            scale = np.where(cal > 0, cal, 1.0)
            tree = cKDTree(S[cols] / scale)
            found = tree.query_ball_point(S[rows] / scale, r=1.0 + 1e-12, p=np.inf)
            cnt = np.fromiter((len(f) for f in found), dtype=np.int64, count=nr)
            r = np.repeat(np.arange(nr), cnt)
            c = np.fromiter((j for f in found for j in f), dtype=np.int64, count=int(cnt.sum()))
    ok = d.allowed(rows[r], cols[c])
    r, c = r[ok], c[ok]
    diff = d.metric[rows[r]] - d.metric[cols[c]]
    return r, c, np.sqrt(np.einsum("ij,ij->i", diff, diff))


# ---------------------------------------------------------- optmatch's fullmatch
def _regular(r, c, cost, nr, nc, min_cpt, max_cpt, omit, solver):
    """optmatch's ``solve_reg_fm_prob``: drop unmatchable units, adjust the omitted
    fraction, and solve.  Returns the chosen arcs (bool) or None."""
    row_ok = np.bincount(r, minlength=nr) > 0
    col_ok = np.bincount(c, minlength=nc) > 0
    rfeas, cfeas = int(row_ok.sum()), int(col_ok.sum())
    if cfeas < nc and omit is not None and omit > 0:
        omit = (omit * nc - (nc - cfeas)) / cfeas
        if omit <= 0:
            omit = None
    f = 1.0 if omit is None else 1.0 - omit
    if (np.floor(min_cpt) > np.ceil(max_cpt) or np.ceil(1 / min_cpt) < np.floor(1 / max_cpt)
            or rfeas == 0 or cfeas == 0):
        return None
    rmap = np.cumsum(row_ok) - 1
    cmap = np.cumsum(col_ok) - 1
    chosen = min_cost_flow(rmap[r], cmap[c], cost, rfeas, cfeas,
                           max_row_units=np.ceil(1 / min_cpt), max_col_units=np.ceil(max_cpt),
                           min_col_units=max(1, np.floor(min_cpt)),
                           n_matched_cols=int(np.round(cfeas * f)), solver=solver)
    return chosen


def _fullmatch_once(r, c, cost, nr, nc, min_controls, max_controls, omit, solver):
    """optmatch's ``.fullmatch``: flip the problem when few controls per treated are
    allowed, then solve it as a regular one."""
    if (omit >= 0) if omit is not None else (max_controls > 0.5):
        return _regular(r, c, cost, nr, nc, max(min_controls, 1 / nr),
                        min(max_controls, nc), omit, solver)
    with np.errstate(divide="ignore"):
        max_c = min(1 / min_controls if min_controls > 0 else np.inf, nc)
    min_c = max(1 / max_controls, 1 / nr)
    return _regular(c, r, cost, nc, nr, min_c, max_c, None if omit is None else -omit, solver)


def fullmatch_arcs(r: np.ndarray, c: np.ndarray, cost: np.ndarray, nr: int, nc: int, *,
                   min_controls: float = 0.0, max_controls: float = np.inf,
                   omit_fraction: float | None = None, solver: str = "auto"
                   ) -> np.ndarray | None:
    """Optimal full matching of one subproblem, as optmatch's ``fullmatch``.

    Parameters
    ----------
    r, c : ndarray of int
        Row (focal) and column positions of the permitted pairs.
    cost : ndarray of float
        Their distances.
    nr, nc : int
        Numbers of row and column units.
    min_controls, max_controls : float
        Least and most column units per row unit in a matched set (fractions such
        as 1/2 allow sets of two rows and one column).
    omit_fraction : float or None
        Share of column units that may stay unmatched (negative: of row units).
    solver : {"auto", "ortools", "highs"}

    Returns
    -------
    ndarray of bool over the pairs (the arcs of the matched sets), or None when the
    constraints cannot be met.

    Examples
    --------
    >>> r, c = np.repeat([0, 1], 3), np.tile([0, 1, 2], 2)
    >>> cost = np.abs(np.array([0.0, 1.0])[r] - np.array([0.1, 0.2, 0.9])[c])
    >>> fullmatch_arcs(r, c, cost, 2, 3, solver="highs").nonzero()[0].tolist()
    [0, 1, 5]
    """
    omit = omit_fraction
    if omit is None or max_controls * nr >= nc * (1 - omit):
        chosen = _fullmatch_once(r, c, cost, nr, nc, min_controls, max_controls, omit, solver)
        if chosen is not None:
            return chosen
    if not (np.isfinite(max_controls) and max_controls >= 1):
        return None
    # optmatch's recovery: solve without max_controls, then omit the controls that
    # exceed max_controls in those sets, and solve again.
    trial = _fullmatch_once(r, c, cost, nr, nc, min_controls, np.inf, omit, solver)
    if trial is None:
        return None
    row_lab, col_lab = stars(r[trial], c[trial], nr, nc)
    G = int(max(row_lab.max(), col_lab.max())) + 1
    n_ctl = np.bincount(col_lab[col_lab >= 0], minlength=G)
    n_trt = np.bincount(row_lab[row_lab >= 0], minlength=G)
    kept = float(np.minimum(n_ctl, max_controls)[n_trt > 0].sum())
    if kept == 0:
        return None
    return _fullmatch_once(r, c, cost, nr, nc, min_controls, max_controls, 1 - kept / nc,
                           solver)


# ------------------------------------------------------------------ the designs
def _assemble(d, design: str, parts: list, info: dict) -> MatchResult:
    """One MatchResult from the matched sets of every stratum."""
    t, n = d.t, d.n
    subclass = np.zeros(n, dtype=np.int64)
    unit_distance = np.zeros(n)
    total, offset = 0.0, 0
    for rows, cols, r, c, cost in parts:
        if r.size == 0:
            continue
        row_lab, col_lab = stars(r, c, rows.size, cols.size)
        subclass[rows[row_lab >= 0]] = row_lab[row_lab >= 0] + 1 + offset
        subclass[cols[col_lab >= 0]] = col_lab[col_lab >= 0] + 1 + offset
        offset += int(max(row_lab.max(), col_lab.max())) + 1
        total += float(cost.sum())
        # the leaf of each arc (the unit not alone in its arm; the column in a pair)
        deg_r = np.bincount(r, minlength=rows.size)
        leaf_is_row = deg_r[r] == 1
        leaf_is_row &= np.bincount(c, minlength=cols.size)[c] > 1
        unit_distance[np.where(leaf_is_row, rows[r], cols[c])] = cost
    if offset == 0:
        raise InputError("no unit could be matched: the caliper, exact or anti-exact "
                         "restrictions exclude every pair")
    # renumber the sets 1..G in order of their first unit
    pos = np.flatnonzero(subclass > 0)
    uniq, first = np.unique(subclass[pos], return_index=True)
    rank = np.zeros(offset + 1, dtype=np.int64)
    rank[uniq[np.argsort(first)]] = np.arange(1, uniq.size + 1)
    subclass[pos] = rank[subclass[pos]]
    arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[d.estimand]
    dropped = np.flatnonzero(np.isin(t, arms) & (subclass == 0))
    info = {**info, "total_distance": total, "n_subclasses": int(subclass.max())}
    return MatchResult(treatment=t, estimand=d.estimand, n_neighbors=1, replace=False,
                       caliper=d.caliper, dropped=dropped, index=d.index, score=d.score,
                       ties=False, subclass=subclass, design=design, discarded=d.discarded,
                       unit_distance=np.where(subclass > 0, unit_distance, np.nan),
                       metric=d.metric, info=info)


def _subproblems(d):
    """(rows, cols) of every exact stratum, rows the focal arm, discarded units out."""
    focal = d.focal_arm()
    fmask = (d.t == focal) & d.keep
    cmask = (d.t != focal) & d.keep
    for rows, cols in _stratum_groups(d.strata, fmask, cmask):
        if rows.size and cols.size:
            yield rows, cols


def full_match(score: Any, treatment: Any, *, estimand: str = "ATT",
               min_controls: float = 0.0, max_controls: float = np.inf,
               omit_fraction: float | None = None, mean_controls: float | None = None,
               caliper: Any = None, caliper_units: str = "sd", exact: Any = None,
               antiexact: Any = None, mahvars: Any = None, discard: Any = "none",
               standardize: bool = True, solver: str = "auto",
               max_entries: int = MAX_ENTRIES, index: Any = None) -> MatchResult:
    """Optimal full matching (optmatch's ``fullmatch``; MatchIt's ``method = "full"``).

    Every unit not discarded joins a matched set with one focal unit and one or more
    units of the other arm, or one unit of the other arm and several focal units,
    and the total distance within sets is as small as possible.

    Parameters
    ----------
    score : array-like, shape (n,) or (n, k)
        The score matched on (propensity score, neural balancing score...).
    treatment : array-like of 0/1, shape (n,)
    estimand : {"ATT", "ATC", "ATE"}
        Sets the focal arm (controls for the ATC) and the weights.
    min_controls, max_controls : float
        Least and most units of the other arm per focal unit in a set (0 and inf by
        default: unrestricted full matching).  ``1/2`` allows two focal units per
        other unit; optmatch rounds other values to whole numbers or reciprocals.
    omit_fraction : float, optional
        Share of the other arm that may be left out (optmatch's ``omit.fraction``).
    mean_controls : float, optional
        Average number of other-arm units per focal unit; sets ``omit_fraction``.
    caliper : float or sequence, optional
        Largest allowed difference on each score column (MatchIt: not with
        ``min_controls``).  Units without a partner inside it are left out.
    caliper_units : {"sd", "raw"}
        ``"sd"``: in sample SDs of the score over the units kept (MatchIt's
        ``std.caliper``).
    exact : array-like, optional
        Match only within equal values (solved stratum by stratum, as MatchIt).
    antiexact : array-like, optional
        Matched units must differ on these columns.
    mahvars : array-like, optional
        Covariates of a Mahalanobis distance used instead of the score distance
        (the caliper still applies to the score).
    discard : {"none", "treated", "control", "both"} or boolean array
        Drop units outside common support of the score first.
    standardize : bool
        Divide each score column by its SD before taking distances.
    solver : {"auto", "ortools", "highs"}
        Minimum-cost-flow solver (see :mod:`causalsm.matching.flow`).
    max_entries : int
        Largest number of candidate pairs built.
    index : pandas.Index, optional
        Row labels for ``matched_data()``.

    Returns
    -------
    MatchResult
        With ``subclass`` (the matched sets), MatchIt's weights and
        ``info["total_distance"]``.

    Examples
    --------
    >>> import numpy as np
    >>> m = full_match([0.1, 0.5, 0.2, 0.3, 0.6], [1, 1, 0, 0, 0], standardize=False,
    ...                solver="highs")
    >>> m.subclass.tolist(), round(m.info["total_distance"], 6)
    ([1, 2, 1, 1, 2], 0.4)
    >>> m.matched_data()["weights"].tolist()       # MatchIt's: controls 1/2, 1/2, 1, scaled
    [1.0, 1.0, 0.75, 0.75, 1.5]
    """
    d = prepare(score, treatment, estimand=estimand, standardize=standardize, caliper=caliper,
                caliper_units=caliper_units, exact=exact, antiexact=antiexact,
                mahvars=mahvars, discard=discard, index=index)
    min_c, max_c = float(min_controls), float(max_controls)
    if min_c < 0 or max_c <= 0 or min_c > max_c:
        raise InputError(f"need 0 <= min_controls <= max_controls and max_controls > 0; got "
                         f"{min_controls} and {max_controls}")
    if d.caliper is not None and min_c != 0:
        raise InputError("a caliper cannot be combined with min_controls in full matching "
                         "(as in MatchIt)")
    if omit_fraction is not None and mean_controls is not None:
        raise InputError("give omit_fraction or mean_controls, not both")
    if omit_fraction is not None and not -1 <= omit_fraction <= 1:
        raise InputError(f"omit_fraction must be in [-1, 1], got {omit_fraction}")
    solver = resolve_solver(solver)
    parts = []
    for rows, cols in _subproblems(d):
        omit = omit_fraction
        if mean_controls is not None:
            if not min_c <= mean_controls <= max_c or mean_controls > cols.size / rows.size:
                raise InputError(f"mean_controls={mean_controls} must lie between "
                                 "min_controls and max_controls and not exceed the ratio "
                                 f"of units ({cols.size} / {rows.size})")
            omit = 1 - mean_controls * rows.size / cols.size
        r, c, cost = _arcs(d, rows, cols, max_entries)
        chosen = fullmatch_arcs(r, c, cost, rows.size, cols.size, min_controls=min_c,
                                max_controls=max_c, omit_fraction=omit, solver=solver)
        if chosen is None:
            warnings.warn(f"full matching failed in a stratum of {rows.size} focal and "
                          f"{cols.size} other units (the constraints cannot be met); its "
                          "units stay unmatched", RuntimeWarning, stacklevel=2)
            continue
        parts.append((rows, cols, r[chosen], c[chosen], cost[chosen]))
    return _assemble(d, "full", parts, {"solver": solver, "min_controls": min_c,
                                        "max_controls": max_c,
                                        "omit_fraction": omit_fraction})


def optimal_match(score: Any, treatment: Any, *, estimand: str = "ATT", ratio: int = 1,
                  min_controls: int | None = None, max_controls: int | None = None,
                  caliper: Any = None, caliper_units: str = "sd", exact: Any = None,
                  antiexact: Any = None, mahvars: Any = None, discard: Any = "none",
                  standardize: bool = True, solver: str = "auto",
                  max_entries: int = MAX_ENTRIES, index: Any = None) -> MatchResult:
    """Optimal pair, k:1 or variable-ratio matching (MatchIt's ``method = "optimal"``).

    Parameters
    ----------
    score, treatment, caliper, caliper_units, exact, antiexact, mahvars, discard, \
standardize, max_entries, index
        As in :func:`full_match`.
    estimand : {"ATT", "ATC"}
    ratio : int or float
        Matches per focal unit (``k`` of k:1 matching); with ``max_controls`` the
        average number, which may be fractional.
    min_controls, max_controls : int, optional
        Variable-ratio matching: each focal unit gets between these many matches
        (``min_controls`` defaults to 1), ``ratio`` on average.
    solver : {"auto", "ortools", "highs"}
        For variable-ratio matching (fixed ratios use
        :func:`scipy.optimize.linear_sum_assignment`).

    Returns
    -------
    MatchResult
        ``subclass`` holds the matched sets (one focal unit and its matches),
        ``info["total_distance"]`` the minimised total distance.

    Examples
    --------
    >>> m = optimal_match([0.3, 0.5, 0.31, 0.49, 0.9], [1, 1, 0, 0, 0], standardize=False)
    >>> m.pairs()[["treated", "control"]].values.tolist()
    [[0, 2], [1, 3]]
    """
    d = prepare(score, treatment, estimand=estimand, standardize=standardize, caliper=caliper,
                caliper_units=caliper_units, exact=exact, antiexact=antiexact,
                mahvars=mahvars, discard=discard, index=index, estimands=("ATT", "ATC"))
    variable = max_controls is not None
    if variable:
        max_k = int(np.ceil(max_controls))
        min_k = 1 if min_controls is None else int(np.floor(min_controls))
        if not (ratio > 1 and max_k > ratio and 1 <= min_k < ratio):
            raise InputError("variable-ratio matching needs 1 <= min_controls < ratio < "
                             f"max_controls; got {min_controls}, {ratio}, {max_controls}")
    elif float(ratio) != int(ratio) or ratio < 1:
        raise InputError(f"ratio must be a whole number >= 1 (fractional only with "
                         f"max_controls), got {ratio}")
    parts = []
    short = False
    for rows, cols in _subproblems(d):
        per = cols.size / rows.size
        if not variable and per >= ratio:
            parts.append(_assignment(d, rows, cols, int(ratio), max_entries))
            continue
        # too few units of the other arm for `ratio` each (MatchIt: mean.controls =
        # their ratio), or variable ratio: the full-matching network.
        short |= per < ratio
        r, c, cost = _arcs(d, rows, cols, max_entries)
        if per < 1:                 # MatchIt: each unit of the other arm gets one focal
            chosen = fullmatch_arcs(c, r, cost, cols.size, rows.size, min_controls=1,
                                    max_controls=1, omit_fraction=1 - cols.size / rows.size,
                                    solver=resolve_solver(solver))
        else:
            mean = min(float(ratio), per)
            lo = min(min_k, np.floor(per)) if variable else np.floor(per)
            hi = max_k if variable else int(ratio)
            chosen = fullmatch_arcs(r, c, cost, rows.size, cols.size, min_controls=lo,
                                    max_controls=hi, omit_fraction=1 - mean * rows.size
                                    / cols.size, solver=resolve_solver(solver))
        if chosen is None:
            warnings.warn(f"optimal matching failed in a stratum of {rows.size} focal and "
                          f"{cols.size} other units; its units stay unmatched",
                          RuntimeWarning, stacklevel=2)
            continue
        parts.append((rows, cols, r[chosen], c[chosen], cost[chosen]))
    if short:
        warnings.warn(f"fewer units of the other arm than ratio={ratio} per focal unit in "
                      "some stratum: not every focal unit gets that many matches",
                      RuntimeWarning, stacklevel=2)
    return _assemble(d, "optimal", parts, {"ratio": ratio, "min_controls": min_controls,
                                           "max_controls": max_controls})


def _assignment(d, rows, cols, k, max_entries):
    """Optimal k:1 matching by the assignment problem (each focal row repeated k times)."""
    nr, nc = rows.size, cols.size
    if nr * nc > max_entries:
        raise InputError(f"optimal matching needs the {nr:,} x {nc:,} distance matrix, more "
                         f"than max_entries={max_entries:,} entries")
    r, c, cost = _arcs(d, rows, cols, max_entries)
    D = np.full((nr, nc), np.inf)
    D[r, c] = cost
    ok = np.isfinite(D)
    # forbidden pairs cost more than every permitted pair together: as many focal
    # units as possible are matched, then the total distance is minimal
    big = (float(cost.sum()) + 1.0) * 2.0
    D = np.where(ok, D, big)
    rr, cc = linear_sum_assignment(np.repeat(D, k, axis=0))
    keep = ok[rr // k, cc]
    rr, cc = rr[keep] // k, cc[keep]
    return rows, cols, rr, cc, D[rr, cc]

