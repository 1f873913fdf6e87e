"""Greedy nearest-neighbour matching with MatchIt's options beyond the fast engine.

:func:`causalsm.match` sends matching here when it asks for a Mahalanobis distance on
other covariates inside a caliper on the score (``mahvars``), anti-exact restrictions,
variable-ratio matching (``min_controls`` / ``max_controls``, Ming & Rosenbaum 2000),
or the ``"closest"`` matching order.  The rules are MatchIt's (``nn_matchC`` for a
distance computed unit by unit):

* units are matched in rounds: every focal unit gets its first match, then those
  that want more get their second, and so on;
* a focal unit's match is the eligible unit of the other arm at the smallest
  distance -- not used yet (without replacement), not already its match, inside the
  caliper on the score, different on every anti-exact column, in its exact
  stratum -- ties going to the first in data order;
* with variable ratio, ``round(ratio * n_focal)`` matches are shared out so that the
  focal units farthest from the other arm's score get ``min_controls`` and the
  closest ``max_controls`` (MatchIt's ``matchit2nearest``);
* the order: ``"data"``, ``"largest"`` / ``"smallest"`` score first, ``"random"``,
  or ``"closest"`` (MatchIt 4.6): within each round, the focal unit whose best
  eligible match is nearest goes first; when its candidate has been taken by then,
  its next best is found and it waits its turn again.

Each focal unit's distances to the other arm are computed when it is matched
(memory ``O(n)``, time ``O(n_focal * n_other)`` as MatchIt's own Mahalanobis
matching).
"""

from __future__ import annotations

import heapq

import numpy as np

from .nearest import _priority, _stratum_groups

__all__ = ["variable_ratios", "greedy_pairs"]


def variable_ratios(score: np.ndarray, t: np.ndarray, focal: int, ratio: float,
                    min_controls: int, max_controls: int) -> np.ndarray:
    """Matches wanted by each focal unit (in data order) for variable-ratio matching.

    MatchIt 4.5.1: ``m = round(ratio * n1)`` matches; ``kmax`` units get
    ``max_controls``, ``kmin`` get ``min_controls`` and one gets the rest, assigned in
    order of the score, the units most unlike the other arm first.

    >>> variable_ratios(np.array([.9, .8, .2, .1, .3, .4, .5]), np.array([1, 1, 0, 0, 0, 0, 0]),
    ...                 1, 2.0, 1, 3).tolist()
    [1, 3]
    """
    x1, x0 = score[t == focal], score[t != focal]
    n1 = x1.size
    m = int(np.round(ratio * n1))
    kmax = int(np.floor((m - min_controls * (n1 - 1)) / (max_controls - min_controls)))
    kmin = n1 - kmax - 1
    kmed = m - (min_controls * kmin + max_controls * kmax)
    r0 = np.array([min_controls] * kmin + [kmed] + [max_controls] * kmax, dtype=np.int64)
    zero = np.flatnonzero(r0 == 0)
    if zero.size:
        r0[zero] = 1
        r0[np.minimum(zero + 1, r0.size - 1)] -= 1
    decreasing = x1.mean() > x0.mean()
    order = np.argsort(-x1 if decreasing else x1, kind="stable")
    out = np.empty(n1, dtype=np.int64)
    out[order] = r0
    return out


def greedy_pairs(d, wants: np.ndarray, order, replace: bool, rng) -> tuple:
    """Pairs ``(focal, matched, squared distance)`` of greedy matching on a Design.

    ``wants`` holds the number of matches of every focal unit (data order of the focal
    arm); ``order`` is ``"data"``, ``"largest"``, ``"smallest"``, ``"random"``,
    ``"closest"`` or a priority per unit.
    """
    focal = d.focal_arm()
    want = np.zeros(d.n, dtype=np.int64)
    want[np.flatnonzero(d.t == focal)] = wants
    fmask = (d.t == focal) & d.keep
    cmask = (d.t != focal) & d.keep
    used = np.zeros(d.n, dtype=bool)
    rows, cols, d2s = [], [], []
    for f_idx, c_idx in _stratum_groups(d.strata, fmask, cmask):
        if f_idx.size == 0 or c_idx.size == 0:
            continue
        taken = {int(i): [] for i in f_idx}

        def best(i):
            ok = d.allowed(np.full(c_idx.size, i), c_idx)
            if not replace:
                ok &= ~used[c_idx]
            if taken[i]:
                ok &= ~np.isin(c_idx, taken[i])
            if not ok.any():
                return None
            diff = d.metric[c_idx[ok]] - d.metric[i]
            dist2 = np.einsum("ij,ij->i", diff, diff)
            k = int(np.argmin(dist2))                      # first of ties: data order
            return int(c_idx[ok][k]), float(dist2[k])

        def take(i, j, dd):
            rows.append(i)
            cols.append(j)
            d2s.append(dd)
            taken[i].append(j)
            used[j] = True

        if isinstance(order, str) and order == "closest":
            sequence = f_idx
        else:
            prio = _priority(order, d.score, f_idx, rng)
            sequence = f_idx[np.argsort(prio, kind="stable")]
        for r in range(1, int(want[f_idx].max(initial=0)) + 1):
            active = [int(i) for i in sequence if want[i] >= r]
            if isinstance(order, str) and order == "closest":
                heap = []
                for pos, i in enumerate(active):
                    b = best(i)
                    if b is not None:
                        heap.append((b[1], pos, i, b[0]))
                heapq.heapify(heap)
                while heap:
                    dd, pos, i, j = heapq.heappop(heap)
                    if replace or not used[j]:
                        take(i, j, dd)
                        continue
                    b = best(i)                           # its candidate was taken
                    if b is not None:
                        heapq.heappush(heap, (b[1], pos, i, b[0]))
            else:
                for i in active:
                    b = best(i)
                    if b is not None:
                        take(i, b[0], b[1])
    return (np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64),
            np.asarray(d2s, dtype=np.float64))

