"""Compiled kernels for the loops of matching that numpy expresses poorly.

* Greedy matching without replacement is a loop over the focal units in their
  order: each takes the nearest control still free, so each choice depends on all
  those before it, and no array expression computes it.
* The tie ranges of a 1-d score (every candidate within the tolerance of the k-th
  nearest) are two binary searches per query; for queries in score order a
  galloping search from the previous query's bounds takes a few steps instead of
  ``log n`` cache misses, and needs no temporaries.

With `numba <https://numba.pydata.org>`_ installed (``pip install "causalsm[fast]"``)
they are compiled; without it :mod:`causalsm.matching.nearest` runs the greedy loop in
Python (about ten times slower) and the tie ranges with numpy, with the same results.
"""

from __future__ import annotations

import types

import numpy as np

try:                                     # optional: the loop is compiled when available
    import numba
except ImportError:                      # pragma: no cover - depends on the environment
    numba = None

__all__ = ["AVAILABLE", "greedy_loop", "compiled_loop", "tie_bounds", "window_sums",
           "cover_sums"]

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


def _gallop(s, q, thr, start, upper):
    """First index in ``[0, len(s)]`` where the monotone predicate holds, searched by
    galloping from ``start``: ``upper=False``: ``s[j] >= q or (s[j] - q)^2 <= thr``
    (the range's start); ``upper=True``: ``s[j] > q and (s[j] - q)^2 > thr`` (its end).
    """
    n = s.size

    def pred(j):
        d = s[j] - q
        if upper:
            return d > 0 and d * d > thr
        return d >= 0 or d * d <= thr

    if start >= n or pred(start):           # answer <= start: gallop left
        start = min(start, n)
        hi = start
        step = 1
        lo = start - 1
        while lo >= 0 and pred(lo):
            hi = lo
            step *= 2
            lo = start - step
        lo = max(lo, -1)                    # pred false at lo (or lo = -1)
    else:                                   # answer > start: gallop right
        lo = start
        step = 1
        hi = start + 1
        while hi < n and not pred(hi):
            lo = hi
            step *= 2
            hi = start + step
        hi = min(hi, n)                     # pred true at hi (or hi = n)
    while hi - lo > 1:                      # pred false at lo, true at hi
        mid = (lo + hi) // 2
        if pred(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _tie_bounds(s, q, k, add, same, exact):
    """For each query ``q[i]`` (ideally in ascending order) among the sorted candidates
    ``s``: the k-th smallest squared distance ``kth`` and the range ``[lo, hi)`` of
    candidates with ``(s - q)^2 <= kth + add`` (and, with ``exact``, the range at
    ``kth`` itself).  ``same``: the queries are the candidates (``q is s``), each at
    its own position.  As ``nearest._tie_ranges`` without caliper, bit for bit.
    """
    nq, n = q.size, s.size
    lo = np.empty(nq, dtype=np.int64)
    hi = np.empty(nq, dtype=np.int64)
    slo = np.empty(nq, dtype=np.int64)
    shi = np.empty(nq, dtype=np.int64)
    window = np.empty(2 * k)
    pos = 0
    a, b = 0, 0
    for i in range(nq):
        x = q[i]
        if same:                                # the start of its run of equal values
            if i == 0 or s[i - 1] != x:
                pos = i
        else:
            pos = _gallop(s, x, -1.0, pos, False)   # thr < 0: the insertion point
        m = 0
        for j in range(pos - k, pos + k):
            if 0 <= j < n:
                window[m] = (s[j] - x) ** 2
                m += 1
        for u in range(1, m):                   # insertion sort of at most 2k values
            v = window[u]
            w = u - 1
            while w >= 0 and window[w] > v:
                window[w + 1] = window[w]
                w -= 1
            window[w + 1] = v
        kth = np.inf if m < k else window[k - 1]
        thr = kth + add
        if kth == np.inf:
            lo[i], hi[i] = 0, n
            slo[i], shi[i] = 0, n
            continue
        a = _gallop(s, x, thr, min(a, pos), False)
        b = _gallop(s, x, thr, max(b, pos), True)
        lo[i], hi[i] = a, b
        if exact:
            slo[i] = _gallop(s, x, kth, a, False)
            shi[i] = _gallop(s, x, kth, b, True)
    return lo, hi, slo, shi


def _window_sums(values, lo, hi):
    """``sum(values[lo[i]:hi[i]])`` and the sum of squares, for ranges whose ends move
    forward (ranges of queries in score order): one sliding window, each value added
    and removed about once, with Neumaier's compensated sums (error about one rounding
    of the window's sum, whatever the number of values passed)."""
    m = lo.size
    s1 = np.empty(m)
    s2 = np.empty(m)
    a = 0
    b = 0
    t1 = 0.0
    c1 = 0.0
    t2 = 0.0
    c2 = 0.0
    for i in range(m):
        if lo[i] >= b or hi[i] <= a:            # disjoint from the window: restart
            a = lo[i]
            b = lo[i]
            t1 = c1 = t2 = c2 = 0.0
        while b < hi[i] or a > lo[i] or b > hi[i] or a < lo[i]:
            if b < hi[i]:
                x = values[b]
                sign = 1.0
                b += 1
            elif a > lo[i]:
                a -= 1
                x = values[a]
                sign = 1.0
            elif b > hi[i]:
                b -= 1
                x = values[b]
                sign = -1.0
            else:
                x = values[a]
                sign = -1.0
                a += 1
            for j in range(2):
                y = sign * (x if j == 0 else x * x)
                t = t1 if j == 0 else t2
                u = t + y
                if abs(t) >= abs(y):
                    d = (t - u) + y
                else:
                    d = (y - u) + t
                if j == 0:
                    t1 = u
                    c1 += d
                else:
                    t2 = u
                    c2 += d
        s1[i] = t1 + c1
        s2[i] = t2 + c2
    return s1, s2


def _cover_sums(start, stop, w1, w2, pool, n):
    """For every unit, the sums of ``w1`` and ``w2`` over the ranges of ``pool`` that
    cover it (``MatchRanges.spread`` of two columns): difference arrays and one
    compensated running sum, exactly 0 where no range covers."""
    size = pool.size + 1
    d1 = np.zeros(size)
    d2 = np.zeros(size)
    dc = np.zeros(size, dtype=np.int64)
    for i in range(start.size):
        d1[start[i]] += w1[i]
        d1[stop[i]] -= w1[i]
        d2[start[i]] += w2[i]
        d2[stop[i]] -= w2[i]
        dc[start[i]] += 1
        dc[stop[i]] -= 1
    out1 = np.zeros(n)
    out2 = np.zeros(n)
    t1 = c1 = t2 = c2 = 0.0
    cover = 0
    for j in range(pool.size):
        cover += dc[j]
        for k in range(2):
            y = d1[j] if k == 0 else d2[j]
            t = t1 if k == 0 else t2
            u = t + y
            d = (t - u) + y if abs(t) >= abs(y) else (y - u) + t
            if k == 0:
                t1 = u
                c1 += d
            else:
                t2 = u
                c2 += d
        if cover == 0:                          # exactly 0, and no drift carried on
            t1 = c1 = t2 = c2 = 0.0
        else:
            out1[pool[j]] = t1 + c1
            out2[pool[j]] = t2 + c2
    return out1, out2


if AVAILABLE:
    cover_sums = numba.njit(cache=True, nogil=True)(_cover_sums)
else:                                    # pragma: no cover
    cover_sums = None

if AVAILABLE:
    window_sums = numba.njit(cache=True, nogil=True)(_window_sums)
else:                                    # pragma: no cover
    window_sums = None

if AVAILABLE:
    _gallop_c = numba.njit(cache=True, nogil=True)(_gallop)
    tie_bounds = numba.njit(cache=True, nogil=True)(types.FunctionType(
        _tie_bounds.__code__, {**globals(), "_gallop": _gallop_c}, "tie_bounds"))
else:                                    # pragma: no cover
    tie_bounds = None

if AVAILABLE:
    # The same code, compiled, with its call to the compiled ``_find``; the Python
    # ``greedy_loop`` stays as it is (the fallback, and a check of the compiled one).
    compiled_loop = numba.njit(cache=True, nogil=True)(types.FunctionType(
        greedy_loop.__code__, {**globals(), "_find": numba.njit(cache=True)(_find)},
        "compiled_loop"))
else:                                    # pragma: no cover
    compiled_loop = None
