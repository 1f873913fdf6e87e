"""Compiled kernels for the loops of matching that numpy expresses poorly.

* Greedy matching without replacement is a loop over the focal units in their
  order: each takes the nearest control still free, so each choice depends on all
  those before it, and no array expression computes it.
* The tie ranges of a 1-d score (every candidate within the tolerance of the k-th
  nearest) are two binary searches per query; for queries in score order a
  galloping search from the previous query's bounds takes a few steps instead of
  ``log n`` cache misses, and needs no temporaries.
* The one sort of all units by a 1-d score: numpy's ``argsort`` is several times
  slower than its vectorised ``sort``, so :func:`score_order` sorts 64-bit keys (the
  score's leading bits, then the unit's position) with ``sort`` and orders by the
  full score the rare runs that share their leading bits; one pass then splits the
  sorted units into the arms (:func:`split_arms`).
* The same-arm conditional variances of the Abadie-Imbens variance: each arm's tie
  ranges, window sums and variances in one pass (:func:`same_arm_fill`).
* The ties of multi-d KD-tree queries: the candidates of each query within the
  tolerance of its k-th nearest are a prefix of its row of neighbours, read in one
  pass (:func:`tree_ties`) instead of masks over every row.
* The order of multi-d pairs by focal unit then match: the pairs of a unit come
  together from the KD-tree, so the runs are ordered and each run sorted
  (:func:`sort_pairs`), without a sort or a gather of all pairs.

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
           "same_arm_fill", "cover_sums", "score_order", "sort_pairs", "split_arms", "variance_sums",
           "arm_variances", "arm_extremes", "tree_ties"]

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


def _holds(s, j, q, thr, upper):
    """The monotone predicate of the range searches at ``j``: ``upper=False``:
    ``s[j] >= q or (s[j] - q)^2 <= thr`` (the range's start); ``upper=True``:
    ``s[j] > q and (s[j] - q)^2 > thr`` (its end)."""
    d = s[j] - q
    if upper:
        return d > 0 and d * d > thr
    return d >= 0 or d * d <= thr


def _gallop(s, q, thr, start, upper):
    """First index in ``[0, len(s)]`` where :func:`_holds` holds, searched from
    ``start``.  For queries in score order the answer is usually a few steps right of
    ``start``: the predicate at the next four positions is counted without a branch
    (it is monotone, so the count of falses is the step), four by four; answers left
    of ``start`` are found by galloping."""
    n = s.size
    start = min(start, n)
    while start + 4 <= n:
        c = 0
        for u in range(4):
            c += not _holds(s, start + u, q, thr, upper)
        start += c                          # (no branch on c: it is unpredictable)
        if c < 4:
            break
    if start >= n or _holds(s, start, q, thr, upper):   # answer <= start: gallop left
        hi = start
        step = 1
        lo = start - 1
        while lo >= 0 and _holds(s, lo, q, thr, upper):
            hi = lo
            step *= 2
            lo = start - step
        lo = max(lo, -1)                    # pred false at lo (or lo = -1)
    else:                                   # answer > start: gallop right
        lo = start
        step = 1
        hi = start + 1
        while hi < n and not _holds(s, hi, q, thr, upper):
            lo = hi
            step *= 2
            hi = start + step
        hi = min(hi, n)                     # pred true at hi (or hi = n)
    while hi - lo > 1:                      # pred false at lo, true at hi
        mid = (lo + hi) // 2
        if _holds(s, mid, q, thr, upper):
            hi = mid
        else:
            lo = mid
    return hi


def _kth_nearest(s, x, pos, k):
    """The k-th smallest squared distance from ``x`` to the sorted ``s``, ``pos`` its
    insertion point: the distances grow away from it on either side, so the k-th
    smallest is the k-th step of a merge of the two sides (inf with fewer than k)."""
    n = s.size
    kth = np.inf
    left, right = pos - 1, pos
    for _ in range(k):
        dl = (s[left] - x) ** 2 if left >= 0 else np.inf
        dr = (s[right] - x) ** 2 if right < n else np.inf
        if dl <= dr:
            kth = dl
            left -= 1
        else:
            kth = dr
            right += 1
    return kth


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
    pos = 0
    a, b = 0, 0
    for i in range(nq):
        x = q[i]
        if same:                                # the start of its run of equal values
            if i == 0 or s[i - 1] != x:
                pos = i
        else:
            pos = _gallop(s, x, -1.0, pos, False)   # thr < 0: the insertion point
        kth = _kth_nearest(s, x, pos, k)
        thr = kth + add
        if kth == np.inf:
            lo[i], hi[i] = 0, n
            slo[i], shi[i] = 0, n
            continue
        a = _gallop(s, x, thr, min(a, pos), False)
        b = _gallop(s, x, thr, max(b, pos), True)
        lo[i], hi[i] = a, b
        if exact:                               # near the insertion point
            slo[i] = _gallop(s, x, kth, pos, False)
            shi[i] = _gallop(s, x, kth, pos, True)
    return lo, hi, slo, shi


def _two_sum(t, y):
    """``t + y`` and its exact rounding error (Knuth's TwoSum, without a branch): the
    step of every compensated sum here."""
    u = t + y
    v = u - t
    return u, (t - (u - v)) + (y - v)


def _add(x, sign, t1, c1, t2, c2, squares):
    """Add ``sign * x`` and (when ``squares``) ``sign * x^2`` to the compensated sums
    ``(t1, c1)`` and ``(t2, c2)``."""
    t1, e = _two_sum(t1, sign * x)
    if squares:
        t2, f = _two_sum(t2, sign * (x * x))
        c2 += f
    return t1, c1 + e, t2, c2


def _slide(values, lo, hi, a, b, t1, c1, t2, c2, squares):
    """Move the window ``values[a:b]`` with compensated sums ``(t1, c1)`` (and of
    squares ``(t2, c2)``) to ``values[lo:hi]``: each value added or removed once,
    restarting when the two ranges are disjoint."""
    if lo >= b or hi <= a:                      # disjoint from the window: restart
        a = b = lo
        t1 = c1 = t2 = c2 = 0.0
    while b < hi:
        t1, c1, t2, c2 = _add(values[b], 1.0, t1, c1, t2, c2, squares)
        b += 1
    while a > lo:
        a -= 1
        t1, c1, t2, c2 = _add(values[a], 1.0, t1, c1, t2, c2, squares)
    while b > hi:
        b -= 1
        t1, c1, t2, c2 = _add(values[b], -1.0, t1, c1, t2, c2, squares)
    while a < lo:
        t1, c1, t2, c2 = _add(values[a], -1.0, t1, c1, t2, c2, squares)
        a += 1
    return a, b, t1, c1, t2, c2


def _window_sums(values, lo, hi, at, size, s1, s2, squares):
    """Size, sum and sum of squares (0 unless ``squares``) of ``values[lo[i]:hi[i]]``,
    for ranges whose ends move forward (ranges of queries in score order), written at
    ``at[i]`` (at ``i`` when ``at`` is empty) of ``size``, ``s1`` and ``s2``: one
    sliding window, each value added and removed about once, with compensated sums
    (error about one rounding of the window's sum, whatever the
    number of values passed)."""
    m = lo.size
    a = 0
    b = 0
    t1 = c1 = t2 = c2 = 0.0
    for i in range(m):
        a, b, t1, c1, t2, c2 = _slide(values, lo[i], hi[i], a, b, t1, c1, t2, c2, squares)
        j = at[i] if at.size else i
        size[j] = hi[i] - lo[i]
        s1[j] = t1 + c1
        s2[j] = t2 + c2


def _same_arm_fill(s, values, pos, k, add, members, sigma2):
    """The same-arm conditional variances of one arm in one pass: for each unit of
    the arm sorted by score (``s``, positions ``pos``; each unit its own query), the
    range of :func:`_tie_bounds` (``same``), the sums of ``values`` over it by the
    sliding window of :func:`_window_sums`, and the sample variance of
    ``nearest._sample_variance``, written at ``pos[i]`` of ``members`` and
    ``sigma2``: the same numbers without the intermediate arrays."""
    n = s.size
    v = np.empty(n)
    for i in range(n):                          # the values in score order
        v[i] = values[pos[i]]
    a = b = 0                                   # the galloping searches' bounds
    wa = wb = 0                                 # the window's bounds
    t1 = c1 = t2 = c2 = 0.0
    p = 0
    for i in range(n):
        x = s[i]
        if i == 0 or s[i - 1] != x:            # the start of its run of equal values
            p = i
        kth = _kth_nearest(s, x, p, k)
        if kth == np.inf:
            lo, hi = 0, n
        else:
            a = _gallop(s, x, kth + add, min(a, p), False)
            b = _gallop(s, x, kth + add, max(b, p), True)
            lo, hi = a, b
        wa, wb, t1, c1, t2, c2 = _slide(v, lo, hi, wa, wb, t1, c1, t2, c2, True)
        w = float(hi - lo)
        m1 = (t1 + c1) / w
        members[pos[i]] = w
        sigma2[pos[i]] = ((t2 + c2) / w - m1 * m1) * w / (w - 1.0)


def _cover_sums(start, stop, w1, w2, pool, n):
    """For every unit, the sums of ``w1`` and ``w2`` over the ranges of ``pool`` that
    cover it (``MatchRanges.spread`` of two columns): difference arrays and one
    compensated running sum, exactly 0 where no range covers.  The three difference
    arrays are the columns of one array (one cache line per range end: a third less
    time at 10^6 units)."""
    d = np.zeros((pool.size + 1, 3))       # w1, w2 and the number of covering ranges
    for i in range(start.size):
        a, b = start[i], stop[i]
        d[a, 0] += w1[i]
        d[a, 1] += w2[i]
        d[a, 2] += 1.0
        d[b, 0] -= w1[i]
        d[b, 1] -= w2[i]
        d[b, 2] -= 1.0
    out1 = np.zeros(n)
    out2 = np.zeros(n)
    t1 = c1 = t2 = c2 = 0.0
    cover = 0.0                            # (whole numbers: exact in float64)
    for j in range(pool.size):
        cover += d[j, 2]
        t1, e = _two_sum(t1, d[j, 0])
        t2, f = _two_sum(t2, d[j, 1])
        c1 += e
        c2 += f
        if cover == 0:                          # exactly 0, and no drift carried on
            t1 = c1 = t2 = c2 = 0.0
        else:
            out1[pool[j]] = t1 + c1
            out2[pool[j]] = t2 + c2
    return out1, out2


def _packed_keys(x, bits):
    """Order-preserving 64-bit keys of the floats ``x`` with their low ``bits`` bits
    replaced by the position (sorting the keys sorts by the leading bits of the score,
    then by position)."""
    n = x.size
    keys = np.empty(n, dtype=np.uint64)
    sign = np.uint64(1) << np.uint64(63)
    low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    bx = x.view(np.uint64)
    for i in range(n):
        u = bx[i]
        if u == sign:                               # -0.0 sorts as 0.0
            u = np.uint64(0)
        u = ~u if u & sign else u | sign            # IEEE order as unsigned order
        keys[i] = (u & ~low) | np.uint64(i)
    return keys


def _unpack_order(keys, x, bits):
    """The positions of the sorted keys, each run of equal leading bits then ordered
    by the full value of ``x`` (stably: equal values stay in position order)."""
    n = keys.size
    low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    order = np.empty(n, dtype=np.int64)
    for i in range(n):
        order[i] = np.int64(keys[i] & low)
    a = 0
    while a < n:
        head = keys[a] & ~low
        b = a + 1
        while b < n and keys[b] & ~low == head:
            b += 1
        if b - a > 1:
            ordered = True
            for j in range(a + 1, b):
                if x[order[j]] < x[order[j - 1]]:
                    ordered = False
                    break
            if not ordered:
                run = order[a:b].copy()
                sub = np.argsort(x[run], kind="mergesort")
                for j in range(b - a):
                    order[a + j] = run[sub[j]]
        a = b
    return order


def _packed_positions(x, bits):
    """Keys ``x[i] << bits | i`` of non-negative integers (sorting them sorts ``x``
    stably)."""
    keys = np.empty(x.size, dtype=np.uint64)
    for i in range(x.size):
        keys[i] = (np.uint64(x[i]) << np.uint64(bits)) | np.uint64(i)
    return keys


def _low_bits(keys, bits):
    low = (np.uint64(1) << np.uint64(bits)) - np.uint64(1)
    order = np.empty(keys.size, dtype=np.int64)
    for i in range(keys.size):
        order[i] = np.int64(keys[i] & low)
    return order


def _tree_ties(d, idx, k, add, complete):
    """The ties of a chunk of KD-tree queries without caliper, weights or self-matches
    (``nearest._ties_tree_chunk``): per row of the distances ``d`` (ascending) and
    indices ``idx``, the squared k-th nearest distance ``kth``, whether the row is
    settled (its last candidate lies beyond ``kth + add``, or ``complete``: every
    control was returned), and for a settled row its candidates within ``kth + add``,
    a prefix of the row, as pairs ``(row, idx, squared distance)`` in row order."""
    m, kk = d.shape
    kth = np.empty(m)
    count = np.zeros(m, dtype=np.int64)
    total = 0
    for i in range(m):
        t = d[i, k - 1] * d[i, k - 1]
        kth[i] = t
        thr = t + add
        if complete or d[i, kk - 1] * d[i, kk - 1] > thr:
            j = k
            while j < kk and d[i, j] * d[i, j] <= thr:
                j += 1
            count[i] = j
            total += j
    rows = np.empty(total, dtype=np.int64)
    cols = np.empty(total, dtype=np.int64)
    d2 = np.empty(total)
    o = 0
    for i in range(m):
        for j in range(count[i]):
            rows[o] = i
            cols[o] = idx[i, j]
            d2[o] = d[i, j] * d[i, j]
            o += 1
    return kth, count > 0, rows, cols, d2


def _segment_sort(src, length, focal, matched, d2):
    """The pairs of every run ``src[r] .. src[r] + length[r] - 1`` in turn, each run
    ordered by ``matched`` (insertion sort: runs are short), copied out as sorted
    ``(focal, matched, d2)``: the runs are read and written contiguously."""
    total = length.sum()
    f_out = np.empty(total, dtype=focal.dtype)
    m_out = np.empty(total, dtype=matched.dtype)
    d_out = np.empty(total, dtype=d2.dtype)
    size = length.max() if length.size else 0
    key = np.empty(size, dtype=matched.dtype)
    at = np.empty(size, dtype=np.int64)
    o = 0
    for r in range(src.size):
        for j in range(length[r]):
            p = src[r] + j
            v = matched[p]
            i = j
            while i > 0 and key[i - 1] > v:
                key[i] = key[i - 1]
                at[i] = at[i - 1]
                i -= 1
            key[i] = v
            at[i] = p
        f = focal[src[r]]
        for j in range(length[r]):
            f_out[o + j] = f
            m_out[o + j] = key[j]
            d_out[o + j] = d2[at[j]]
        o += length[r]
    return f_out, m_out, d_out


def sort_pairs(focal, matched, d2):
    """Matched pairs (distinct) ordered by focal unit, then match: ``(focal, matched,
    d2)`` gathered by ``argsort(focal * n + matched, kind="stable")``.  When the
    focal units come in runs, one run per unit (the pairs of a unit are found
    together), the runs are ordered by :func:`score_order` and each run by its
    matches, and copied out run by run, without a sort or a gather of all pairs.
    Falls back to numpy's ``argsort`` without numba or when a unit's pairs are
    split."""
    if AVAILABLE and focal.size > 1:
        starts = np.flatnonzero(np.concatenate(([True], focal[1:] != focal[:-1])))
        ro = score_order(focal[starts])
        first = focal[starts][ro]
        if np.all(first[1:] > first[:-1]):              # one run per unit
            length = np.diff(np.append(starts, focal.size))
            return _segment_sort_c(starts[ro], length[ro], focal, matched, d2)
    n = int(max(focal.max(initial=0), matched.max(initial=0))) + 1
    o = np.argsort(focal * np.int64(n) + matched, kind="stable")
    return focal[o], matched[o], d2[o]


def score_order(x):
    """``argsort(x, kind="stable")`` of a float64 vector (a score) or of non-negative
    integers (positions), by a vectorised sort of packed keys.  Without numba:
    numpy's ``argsort``."""
    x = np.ascontiguousarray(x)
    bits = max(1, int(x.size - 1).bit_length())
    if x.dtype.kind in "iu":
        if not AVAILABLE or x.size < 2 or int(x.max(initial=0)) >> (63 - bits) \
                or int(x.min(initial=0)) < 0:
            return np.argsort(x, kind="stable")
        keys = _packed_positions_c(x, bits)
        keys.sort()
        return _low_bits_c(keys, bits)
    x = x.astype(np.float64, copy=False)
    if not AVAILABLE or x.size < 2:
        return np.argsort(x, kind="stable")
    keys = _packed_keys_c(x, bits)
    keys.sort()
    return _unpack_order_c(keys, x, bits)


def _split_arms(order, score, treated, n1):
    """The units in ``order`` split by arm (``treated``, a boolean mask with ``n1``
    units): ``(positions, scores)`` of the controls and of the treated units, each in
    that order."""
    n = order.size
    cp = np.empty(n - n1, dtype=np.int64)
    cv = np.empty(n - n1)
    tp = np.empty(n1, dtype=np.int64)
    tv = np.empty(n1)
    a = 0
    b = 0
    for i in range(n):
        j = order[i]
        if treated[j]:
            tp[b] = j
            tv[b] = score[j]
            b += 1
        else:
            cp[a] = j
            cv[a] = score[j]
            a += 1
    return (cp, cv), (tp, tv)


def split_arms(order, score, t):
    """See :func:`_split_arms`; without numba, by boolean masks."""
    if AVAILABLE:
        treated = t == 1                 # 1 byte a unit: cheaper to gather at random
        return _split_arms_c(order, score, treated, np.count_nonzero(treated))
    values = score[order]
    treated = t[order] == 1
    return (order[~treated], values[~treated]), (order[treated], values[treated])


if AVAILABLE:
    _packed_keys_c = numba.njit(cache=True, nogil=True)(_packed_keys)
    _unpack_order_c = numba.njit(cache=True, nogil=True)(_unpack_order)
    _split_arms_c = numba.njit(cache=True, nogil=True)(_split_arms)
    _packed_positions_c = numba.njit(cache=True, nogil=True)(_packed_positions)
    _low_bits_c = numba.njit(cache=True, nogil=True)(_low_bits)
    _segment_sort_c = numba.njit(cache=True, nogil=True)(_segment_sort)


def _variance_sums(sigma2, K, KK, iot_t, iot_c, effect, est, ate):
    """The three sums of the Abadie-Imbens variances in one pass, compensated:
    ``sum sigma2 (iot_t + iot_c K)^2`` (sample), ``sum sigma2 w`` with
    ``w = K^2 + 2K - K'`` (ATE) or ``iot_c (K^2 - K')`` (population), and
    ``sum iot_t (effect - est)^2``."""
    t1 = c1 = t2 = c2 = t3 = c3 = 0.0
    for i in range(sigma2.size):
        k = K[i]
        g = iot_t[i] + iot_c[i] * k
        w = k * k + 2 * k - KK[i] if ate else iot_c[i] * (k * k - KK[i])
        d = effect[i] - est
        t1, e = _two_sum(t1, sigma2[i] * g * g)
        c1 += e
        t2, e = _two_sum(t2, sigma2[i] * w)
        c2 += e
        t3, e = _two_sum(t3, iot_t[i] * d * d)
        c3 += e
    return t1 + c1, t2 + c2, t3 + c3


def _arm_variances(y, t, w):
    """Per arm (``t`` 0/1), over the units with ``w > 0``: the total weight and the
    ``w``-weighted variance of ``y`` (divided by the total weight), by two compensated
    passes (the mean, then the squared deviations)."""
    tw = np.zeros(2)
    cw = np.zeros(2)
    ty = np.zeros(2)
    cy = np.zeros(2)
    for i in range(y.size):
        if w[i] > 0:
            a = 1 if t[i] == 1 else 0
            tw[a], e = _two_sum(tw[a], w[i])
            cw[a] += e
            ty[a], e = _two_sum(ty[a], w[i] * y[i])
            cy[a] += e
    total = tw + cw
    mean = (ty + cy) / total
    td = np.zeros(2)
    cd = np.zeros(2)
    for i in range(y.size):
        if w[i] > 0:
            a = 1 if t[i] == 1 else 0
            d = y[i] - mean[a]
            td[a], e = _two_sum(td[a], w[i] * d * d)
            cd[a] += e
    return total, (td + cd) / total


def _arm_extremes(x, t):
    """``(min, max)`` of ``x`` over the controls and over the treated units (``t``
    0/1), in one pass: ``((min0, max0), (min1, max1))``, ``(inf, -inf)`` for an empty
    arm."""
    lo = np.full(2, np.inf)
    hi = np.full(2, -np.inf)
    for i in range(x.size):
        a = 1 if t[i] == 1 else 0
        lo[a] = min(lo[a], x[i])
        hi[a] = max(hi[a], x[i])
    return (lo[0], hi[0]), (lo[1], hi[1])


def arm_extremes(x, t):
    """See :func:`_arm_extremes`; without numba, by boolean masks."""
    if AVAILABLE:
        return _arm_extremes_c(np.ascontiguousarray(x, dtype=np.float64), t)
    out = []
    for arm in (0, 1):
        v = x[t == arm]
        out.append((v.min(), v.max()) if v.size else (np.inf, -np.inf))
    return tuple(out)


def _compile(fn, name, **helpers):
    """``fn`` compiled (cached on disk), calling the compiled ``helpers`` (inlined)."""
    return numba.njit(cache=True, nogil=True)(types.FunctionType(
        fn.__code__, {**globals(), **helpers}, name))


if AVAILABLE:
    _two_sum_c = numba.njit(inline="always")(_two_sum)
    variance_sums = _compile(_variance_sums, "variance_sums", _two_sum=_two_sum_c)
    cover_sums = _compile(_cover_sums, "cover_sums", _two_sum=_two_sum_c)
    arm_variances = _compile(_arm_variances, "arm_variances", _two_sum=_two_sum_c)
    _arm_extremes_c = _compile(_arm_extremes, "arm_extremes")
    tree_ties = _compile(_tree_ties, "tree_ties")
    _add_c = numba.njit(inline="always")(
        types.FunctionType(_add.__code__, {**globals(), "_two_sum": _two_sum_c}, "add"))
    _slide_c = numba.njit(inline="always")(
        types.FunctionType(_slide.__code__, {**globals(), "_add": _add_c}, "slide"))
    window_sums = _compile(_window_sums, "window_sums", _slide=_slide_c)
else:                                    # pragma: no cover
    variance_sums = cover_sums = window_sums = arm_variances = tree_ties = None

if AVAILABLE:
    # Inlined into the loops that call them (a call each step costs more than the step).
    _gallop_c = numba.njit(cache=True, nogil=True, inline="always")(types.FunctionType(
        _gallop.__code__, {**globals(), "_holds": numba.njit(inline="always")(_holds)},
        "gallop"))
    # A plain compiled call, which LLVM inlines: numba's IR inlining of this loop
    # ("always") doubled the time of same_arm_fill.
    _kth_nearest_c = numba.njit(cache=True, nogil=True)(_kth_nearest)
    tie_bounds = numba.njit(cache=True, nogil=True)(types.FunctionType(
        _tie_bounds.__code__, {**globals(), "_gallop": _gallop_c,
                               "_kth_nearest": _kth_nearest_c}, "tie_bounds"))
    # IEEE division (a range of one unit gives NaN or inf, as numpy does)
    same_arm_fill = numba.njit(cache=True, nogil=True, error_model="numpy")(
        types.FunctionType(_same_arm_fill.__code__,
                           {**globals(), "_gallop": _gallop_c, "_slide": _slide_c,
                            "_kth_nearest": _kth_nearest_c}, "same_arm_fill"))
else:                                    # pragma: no cover
    tie_bounds = same_arm_fill = None

if AVAILABLE:
    # The same code, compiled, with its call to the compiled ``_find``; the Python
    # ``greedy_loop`` stays as it is (the fallback, and a check of the compiled one).
    compiled_loop = numba.njit(cache=True, nogil=True)(types.FunctionType(
        greedy_loop.__code__, {**globals(), "_find": numba.njit(cache=True)(_find)},
        "compiled_loop"))
else:                                    # pragma: no cover
    compiled_loop = None
