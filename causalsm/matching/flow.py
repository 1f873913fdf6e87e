"""The minimum-cost flow behind optimal and full matching (Hansen & Klopfer 2006).

The network is optmatch's (``fmatch``, optmatch 0.10.8), node for node:

* one node per *row* unit (treated, or controls when the problem is flipped), each
  supplying ``max_col_units``;
* one node per *column* unit, and two bookkeeping nodes, *End* (demand
  ``n_rows * max_col_units - n_matched_cols``) and *Sink* (demand ``n_matched_cols``);
* arcs row -> column for every permitted pair (capacity 1, cost = their distance),
  row -> End (capacity ``max_col_units - min_col_units``), column -> End (capacity
  ``max_row_units - 1``) and column -> Sink (capacity 1), all of cost 0.

So every row unit takes between ``min_col_units`` and ``max_col_units`` column units,
a column unit joins at most ``max_row_units`` row units, and exactly
``n_matched_cols`` column units are matched.  With positive distances an optimal
flow is a set of disjoint stars (one row with several columns, or one column with
several rows): the matched sets of a full matching.

Solvers
-------
``"ortools"`` -- Google OR-tools' ``SimpleMinCostFlow`` (a cost-scaling push-relabel
    network solver, maintained by Google, with binary wheels for every platform).
    It needs integer costs: distances are scaled so the largest is about ``2**40``
    and rounded down, plus one unit so that every arc costs at least one unit (the
    role of the ``+ 0.5`` in optmatch's ``ceiling(0.5 + d / epsilon)``: strictly
    positive costs make optimal flows stars, and ties go to more matched sets).  The
    resolution is ``max(d) / 2**40``, about 1e-12 of the largest distance, against
    optmatch's ``max(d) / 2**25`` at best.  On 10^5 units it is a few hundred times
    faster than a general LP solver.  Optional: ``pip install causalsm[optimal]``.
``"highs"`` -- the same network as a linear programme solved by HiGHS through
    :func:`scipy.optimize.linprog` (dual simplex).  The network matrix is totally
    unimodular, so a basic optimal solution is integral; costs stay real numbers (no
    rounding at all).  Always available with SciPy, but slow beyond about 10^5 arcs.
``"auto"`` -- OR-tools when it is installed, else HiGHS.

A hand-written network simplex would be the third choice; two well-kept solvers make
it unnecessary.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse
from scipy.sparse.csgraph import connected_components

from .._validation import InputError

__all__ = ["SOLVERS", "min_cost_flow", "stars", "resolve_solver"]

SOLVERS = ("auto", "ortools", "highs")
_INT_RANGE = 2 ** 40          # largest integer arc cost handed to OR-tools


def _ortools():
    try:
        from ortools.graph.python import min_cost_flow as mcf
    except ImportError:           # pragma: no cover - depends on the environment
        return None
    return mcf


def resolve_solver(solver: str) -> str:
    """The solver that will run: ``"auto"`` becomes ``"ortools"`` when installed."""
    if solver not in SOLVERS:
        raise InputError(f"unknown solver {solver!r}; use one of {', '.join(SOLVERS)}")
    if solver == "auto":
        return "ortools" if _ortools() is not None else "highs"
    if solver == "ortools" and _ortools() is None:
        raise InputError("solver='ortools' needs the ortools package (pip install "
                         "causalsm[optimal]); solver='highs' works without it")
    return solver


def _network(rows, cols, n_rows, n_cols, max_col, min_col, max_row, n_matched):
    end, sink = n_rows + n_cols, n_rows + n_cols + 1
    ar_r, ar_c = np.arange(n_rows), n_rows + np.arange(n_cols)
    src = np.concatenate([rows, ar_r, ar_c, ar_c])
    dst = np.concatenate([n_rows + cols, np.full(n_rows, end), np.full(n_cols, end),
                          np.full(n_cols, sink)])
    cap = np.concatenate([np.ones(rows.size), np.full(n_rows, max_col - min_col),
                          np.full(n_cols, max_row - 1), np.ones(n_cols)])
    supply = np.concatenate([np.full(n_rows, max_col), np.zeros(n_cols),
                             [-(max_col * n_rows - n_matched), -n_matched]])
    return src.astype(np.int64), dst.astype(np.int64), cap.astype(np.int64), \
        supply.astype(np.int64)


def _solve_ortools(src, dst, cap, supply, cost, n_arcs):
    mcf = _ortools()
    n_nodes = supply.size
    # Integer costs: largest about 2**40 (and small enough that OR-tools' internal
    # scaling by the number of nodes cannot overflow), every arc at least 1.
    top = min(_INT_RANGE, (2 ** 62) // (16 * (n_nodes + 1)))
    big = float(cost.max()) if cost.size else 0.0
    scale = top / big if big > 0 else 1.0
    icost = np.zeros(src.size, dtype=np.int64)
    icost[:n_arcs] = np.floor(cost * scale).astype(np.int64) + 1
    solver = mcf.SimpleMinCostFlow()
    solver.add_arcs_with_capacity_and_unit_cost(src, dst, cap, icost)
    solver.set_nodes_supplies(np.arange(n_nodes), supply)
    status = solver.solve()
    if status != solver.OPTIMAL:          # flows() must not be read then (it crashes)
        return None
    return solver.flows(np.arange(n_arcs)) > 0


def _solve_highs(src, dst, cap, supply, cost, n_arcs):
    from scipy.optimize import linprog
    m = src.size
    A = sparse.csr_matrix((np.concatenate([np.ones(m), -np.ones(m)]),
                           (np.concatenate([src, dst]), np.concatenate([np.arange(m)] * 2))),
                          shape=(supply.size, m))
    big = float(cost.max()) if cost.size else 0.0
    c = np.zeros(m)
    if big > 0:
        c[:n_arcs] = cost / big
    res = linprog(c, A_eq=A, b_eq=supply, bounds=np.column_stack([np.zeros(m), cap]),
                  method="highs-ds", options={"primal_feasibility_tolerance": 1e-10,
                                              "dual_feasibility_tolerance": 1e-10})
    if res.status != 0:
        return None
    return res.x[:n_arcs] > 0.5


def min_cost_flow(rows: np.ndarray, cols: np.ndarray, cost: np.ndarray, n_rows: int,
                  n_cols: int, *, max_col_units: int, min_col_units: int, max_row_units: int,
                  n_matched_cols: int, solver: str = "auto") -> np.ndarray | None:
    """Arcs of an optimal flow in optmatch's full-matching network.

    Parameters
    ----------
    rows, cols : ndarray of int, shape (n_arcs,)
        Row and column unit (0-based, within the problem) of each permitted pair.
    cost : ndarray of float, shape (n_arcs,)
        Their distances (>= 0).
    n_rows, n_cols : int
    max_col_units, min_col_units, max_row_units : int
        optmatch's ``max.col.units``, ``min.col.units``, ``max.row.units``.
    n_matched_cols : int
        Number of column units to match (``round(n_cols * (1 - omit.fraction))``).
    solver : {"auto", "ortools", "highs"}

    Returns
    -------
    ndarray of bool, shape (n_arcs,), the arcs carrying flow, or None when the
    problem is infeasible.

    Examples
    --------
    >>> rows, cols = np.array([0, 0, 1, 1]), np.array([0, 1, 0, 1])
    >>> cost = np.array([1.0, 5.0, 2.0, 1.5])
    >>> min_cost_flow(rows, cols, cost, 2, 2, max_col_units=1, min_col_units=1,
    ...               max_row_units=1, n_matched_cols=2, solver="highs").tolist()
    [True, False, False, True]
    """
    mxc, mnc, mxr = int(max_col_units), int(min_col_units), int(max_row_units)
    if mnc > 1:
        mxr = 1
    nmc = int(n_matched_cols)
    # optmatch's checks before calling its solver (fmatch): recognisably infeasible.
    if (mxc < mnc or (mxr > 1 and n_rows / mxr > nmc) or (mxr == 1 and n_rows * mnc > nmc)
            or n_rows * mxc < nmc or nmc > n_cols):
        return None
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    cost = np.asarray(cost, dtype=np.float64)
    src, dst, cap, supply = _network(rows, cols, n_rows, n_cols, mxc, mnc, mxr, nmc)
    run = _solve_ortools if resolve_solver(solver) == "ortools" else _solve_highs
    chosen = run(src, dst, cap, supply, cost, rows.size)
    if chosen is None:
        return None
    return _prune_to_stars(rows, cols, cost, chosen, n_rows, n_cols)


def _prune_to_stars(rows, cols, cost, chosen, n_rows, n_cols) -> np.ndarray:
    """Drop redundant arcs so that every component is a star.

    An arc whose row unit has another column unit and whose column unit has another
    row unit can go without breaking a constraint (each unit stays matched; such
    arcs exist only when ``min_col_units`` is 1 and ``max_row_units`` > 1).  An
    optimal flow has none of positive cost, so only zero-distance arcs (exact ties)
    are dropped: the total distance does not change.
    """
    chosen = chosen.copy()
    idx = np.flatnonzero(chosen)
    deg_r = np.bincount(rows[idx], minlength=n_rows)
    deg_c = np.bincount(cols[idx], minlength=n_cols)
    cand = idx[(deg_r[rows[idx]] > 1) & (deg_c[cols[idx]] > 1)]
    for a in cand[np.argsort(-cost[cand], kind="stable")]:
        r, c = rows[a], cols[a]
        if deg_r[r] > 1 and deg_c[c] > 1:
            chosen[a] = False
            deg_r[r] -= 1
            deg_c[c] -= 1
    return chosen


def stars(rows: np.ndarray, cols: np.ndarray, n_rows: int, n_cols: int
          ) -> tuple[np.ndarray, np.ndarray]:
    """Matched-set labels (0, 1, ...; -1 for unmatched) of row and column units from
    the chosen arcs, numbered in order of each set's first row unit.

    >>> stars(np.array([0, 0, 2]), np.array([1, 0, 2]), 3, 3)
    (array([ 0, -1,  1]), array([0, 0, 1]))
    """
    n = n_rows + n_cols
    g = sparse.coo_matrix((np.ones(rows.size), (rows, n_rows + cols)), shape=(n, n))
    _, comp = connected_components(g, directed=False)
    used = np.zeros(n, dtype=bool)
    used[rows] = True
    used[n_rows + cols] = True
    label = np.full(n, -1, dtype=np.int64)
    # number the components that hold an arc in order of their first unit
    members = comp[used]
    uniq, first = np.unique(members, return_index=True)
    rank = np.empty(int(comp.max()) + 1 if comp.size else 0, dtype=np.int64)
    rank[uniq[np.argsort(first)]] = np.arange(uniq.size)
    label[used] = rank[members]
    return label[:n_rows], label[n_rows:]
