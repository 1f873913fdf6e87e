"""Compiled kernels for the parts of matching that are sequential by nature.

Greedy matching without replacement is a loop over the focal units in their order:
each takes the nearest control still free, so each choice depends on all those
before it, and no array expression computes it.  With `numba
<https://numba.pydata.org>`_ installed (``pip install "causalsm[fast]"``) the loop is
compiled; without it :mod:`causalsm.matching.nearest` runs the same loop in Python
(about ten times slower), with the same result.
"""

from __future__ import annotations

import types

try:                                     # optional: the loop is compiled when available
    import numba
except ImportError:                      # pragma: no cover - depends on the environment
    numba = None

__all__ = ["AVAILABLE", "greedy_loop", "compiled_loop"]

AVAILABLE = numba is not None


def _find(parent, p):
    """Union-find root with path compression."""
    root = p
    while parent[root] != root:
        root = parent[root]
    while parent[p] != root:
        nxt = parent[p]
        parent[p] = root
        p = nxt
    return root


def greedy_loop(s, cs, pos, run_start, q_all, raw_s, raw_f, cal, k, right_of, left_of,
                unit, slot, active):
    """Greedy 1-d matching without replacement (``nearest._greedy_1d`` prepares it).

    ``s``: the candidates' sorted scores, ``cs`` their positions (ties by position),
    ``run_start`` the first sorted position of each one's run of equal values;
    ``q_all``, ``pos``: the focal units' scores in matching order and their insertion
    points.  Each round gives every focal unit still active its nearest free
    candidate (the lower position among equidistant ones), unless it lies beyond the
    caliper ``cal`` (raw units, ``raw_s``/``raw_f``; ``cal < 0``: none), which ends
    that unit's matching.  Free candidates are found by two union-find arrays:
    ``right_of`` (root of p: first free position >= p, ``len(s)``: none) and
    ``left_of`` (root: 1 + last free position <= p - 1, 0: none).  The state and
    output arrays are given, so that the same loop runs compiled on numpy arrays or
    in Python on compact ``array.array`` ones.  Returns the number of matches,
    written to ``unit`` (index into the focal order) and ``slot`` (sorted position).
    """
    nc = len(s)
    n_active = len(active)
    count = 0
    for _round in range(k):
        still = 0
        for j in range(n_active):
            a = active[j]
            q = q_all[a]
            p = pos[a]
            right = _find(right_of, p)
            left = _find(left_of, p) - 1
            if left >= 0:                    # lowest free row among equal values
                left = _find(right_of, run_start[left])
            if right < nc and (left < 0 or s[right] - q < q - s[left]
                               or (s[right] - q == q - s[left] and cs[right] < cs[left])):
                best = right
            elif left >= 0:
                best = left
            else:
                continue
            if cal >= 0 and abs(raw_s[best] - raw_f[a]) > cal:
                continue
            right_of[best] = best + 1
            left_of[best + 1] = best
            unit[count] = a
            slot[count] = best
            count += 1
            active[still] = a
            still += 1
        n_active = still
    return count


if AVAILABLE:
    # The same code, compiled, with its call to the compiled ``_find``; the Python
    # ``greedy_loop`` stays as it is (the fallback, and a check of the compiled one).
    compiled_loop = numba.njit(cache=True, nogil=True)(types.FunctionType(
        greedy_loop.__code__, {**globals(), "_find": numba.njit(cache=True)(_find)},
        "compiled_loop"))
else:                                    # pragma: no cover
    compiled_loop = None
