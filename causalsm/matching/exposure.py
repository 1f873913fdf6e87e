"""GPS matching for a continuous exposure (Wu, Mealli, Kioumourtzoglou, Dominici & Braun
2024), as R's CausalGPS 0.5.1 computes it, in O(n log n) per exposure level.

For each level ``w_l`` of a grid and *every* unit ``i``, the matched unit is

    j*(i, l) = argmin_{j : |W_j - w_l| <= delta / 2}
               scale * |e*_il - R*_j| + (1 - scale) * |W*_j - w*_l|,

where ``R_j = r(W_j, x_j)`` is the observed GPS, ``e_il = r(w_l, x_i)`` the GPS of unit
``i`` at the level, and ``*`` the min-max standardisation over the data (the GPS ones by
the observed GPS's range, so ``e*`` may leave [0, 1]).  ``counts[j]`` is the number of
pairs ``(i, l)`` matched to ``j``: the pseudo-population.

CausalGPS scans every candidate for every unit (O(n |C_l|) per level, O(n^2) overall)
unless ``scale = 1``.  Here, for a fixed level the exposure term ``k_j = (1 - scale)
|W*_j - w*_l|`` is a constant of the candidate, so with the candidates sorted by ``R*``

    min_j D = min( scale e + min_{R*_j <= e} (k_j - scale R*_j),
                  -scale e + min_{R*_j > e} (k_j + scale R*_j) ),

a prefix minimum and a suffix minimum found by one binary search: O((n + |C_l|) log |C_l|)
per level for every ``scale``, and no distance matrix.  The two winners' distances are
recomputed in CausalGPS's floating-point form, and exact ties go to the candidate that
comes first in data order (CausalGPS's linear scan; at ``scale = 1`` CausalGPS
binary-searches instead and resolves ties among *equal* GPS values along its search path,
which can differ when two units share a GPS value).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from joblib import Parallel, delayed

__all__ = ["LevelMatches", "match_levels", "default_levels"]

_CHUNK_ELEMENTS = 1 << 22        # targets evaluated per block of levels (~32 MB)


@dataclass(eq=False)
class LevelMatches:
    """What :func:`match_levels` found.

    Attributes
    ----------
    counts : ndarray of int64, shape (n,)
        Times each unit was used as a match (its weight in the pseudo-population).
    levels : ndarray of float64, shape (L,)
        The exposure levels.
    level_sizes : ndarray of int64, shape (L,)
        Candidates (units within ``delta / 2`` of the level) at each level; 0 marks an
        empty level, skipped.
    matched : ndarray of int64, shape (n, L), or None
        ``matched[i, l]``: the unit matched to unit ``i`` at level ``l`` (-1 at an empty
        level); kept only when asked for.
    """

    counts: np.ndarray
    levels: np.ndarray
    level_sizes: np.ndarray
    matched: np.ndarray | None = None

    @property
    def n_empty_levels(self) -> int:
        return int((self.level_sizes == 0).sum())


def default_levels(w: np.ndarray, delta: float) -> np.ndarray:
    """CausalGPS's default grid, R's ``seq(min(w) + delta / 2, max(w), by = delta)``.

    R's ``seq`` keeps ``floor((to - from) / by + 1e-10)`` steps and computes each value as
    ``from + k * by``.

    >>> default_levels(np.array([0.0, 10.0]), 2.0)
    array([1., 3., 5., 7., 9.])
    """
    start, stop = float(np.min(w)) + delta / 2, float(np.max(w))
    if not (delta > 0 and start <= stop):
        raise ValueError(f"delta_n = {delta:g} is too large for the exposure range "
                         f"[{np.min(w):g}, {stop:g}]: it must be below "
                         f"{2 * (stop - np.min(w)):g}")
    steps = int(np.floor((stop - start) / delta + 1e-10))
    return start + np.arange(steps + 1, dtype=np.float64) * delta


def _running_min(values: np.ndarray, tie_key: np.ndarray) -> np.ndarray:
    """Position of the running minimum of ``values``; among equal values the smallest
    ``tie_key`` (data order) wins."""
    m = values.shape[0]
    best = np.minimum.accumulate(values)
    segment = np.concatenate(([0], np.cumsum(best[1:] < best[:-1])))
    big = float(m + 1)
    key = np.where(values == best, tie_key, m).astype(np.float64) - segment * big
    key = np.minimum.accumulate(key) + segment * big
    # key is now the smallest tie_key attaining the running minimum; map it back.
    position = np.empty(m, dtype=np.int64)
    position[tie_key] = np.arange(m)
    return position[key.astype(np.int64)]


def _match_one_level(b: np.ndarray, a: np.ndarray, k: np.ndarray, scale: float,
                     cand: np.ndarray) -> np.ndarray:
    """Matched unit (data position) for every target ``b``; candidates ``cand`` (data
    order) with standardised GPS ``a`` and exposure term ``k``."""
    m = a.shape[0]
    order = np.argsort(a, kind="stable")
    a_s, k_s = a[order], k[order]
    rank = order                                  # data-order rank of each sorted position
    pre = _running_min(k_s - scale * a_s, rank)
    rev = slice(None, None, -1)
    suf = (m - 1 - _running_min((k_s + scale * a_s)[rev], rank[rev]))[rev]
    # Indexed by the insertion point p of a target: the best candidate left of it (the
    # prefix a_s[:p]) and right of it (a_s[p:]), with an infinite exposure term where
    # that side is empty, so one gather per array and no masks (arrays of m + 1).
    unit = cand[order]
    left = np.concatenate(([0], pre))
    right = np.concatenate((suf, [0]))
    la, ra = a_s[left], a_s[right]
    lk, rk = k_s[left], k_s[right]
    lk[0] = rk[m] = np.inf
    p = np.searchsorted(a_s, b, side="right")           # a_s[:p] <= b < a_s[p:]
    # CausalGPS's own arithmetic: fabs((b - a) * sc) + cd.
    d_left = np.abs((b - la[p]) * scale) + lk[p]
    d_right = np.abs((b - ra[p]) * scale) + rk[p]
    take_right = d_right < d_left
    tie = np.flatnonzero(d_right == d_left)              # exact ties: first in data order
    if tie.size:
        take_right[tie] = rank[right[p[tie]]] < rank[left[p[tie]]]
    return np.where(take_right, unit[right][p], unit[left][p])


def match_levels(w: np.ndarray, gps: np.ndarray, gps_at: Callable[[np.ndarray], np.ndarray],
                 levels: np.ndarray, delta: float, scale: float, *, keep_matches: bool = False,
                 n_jobs: int = 1) -> LevelMatches:
    """Match every unit at every exposure level (see the module docstring).

    Parameters
    ----------
    w : ndarray, shape (n,)
        The exposure.
    gps : ndarray, shape (n,)
        The observed GPS ``r(W_i, x_i)``.
    gps_at : callable
        ``gps_at(levels_block)`` returns the ``(n, len(levels_block))`` GPS of every unit
        at those levels.
    levels : ndarray, shape (L,)
    delta : float
        Caliper: candidates at level ``w_l`` have ``|W_j - w_l| <= delta / 2``.
    scale : float in [0, 1]
        Weight of the GPS distance (1: GPS only; 0: exposure only).
    keep_matches : bool
        Keep the ``(n, L)`` table of matched units.
    n_jobs : int
        Threads over blocks of levels (joblib); the result does not depend on it.

    Returns
    -------
    LevelMatches

    Examples
    --------
    >>> w = np.array([0.0, 1.0, 2.0, 3.0]); gps = np.array([0.1, 0.2, 0.3, 0.4])
    >>> at = lambda lv: np.tile(gps[:, None], (1, lv.size))
    >>> match_levels(w, gps, at, np.array([0.5, 2.5]), delta=1.0, scale=1.0).counts
    array([1, 3, 3, 1])
    """
    w = np.asarray(w, dtype=np.float64)
    gps = np.asarray(gps, dtype=np.float64)
    levels = np.asarray(levels, dtype=np.float64)
    n = w.shape[0]
    w_min, w_max = float(w.min()), float(w.max())
    g_min, g_max = float(gps.min()), float(gps.max())
    w_span = (w_max - w_min) or 1.0
    g_span = (g_max - g_min) or 1.0
    std_w = (w - w_min) / w_span
    std_gps = (gps - g_min) / g_span
    by_w = np.argsort(w, kind="stable")
    w_sorted = w[by_w]
    half = delta / 2

    def candidates(level: float) -> np.ndarray:
        margin = 1e-9 * (abs(level) + delta)
        lo = np.searchsorted(w_sorted, level - half - margin, side="left")
        hi = np.searchsorted(w_sorted, level + half + margin, side="right")
        idx = np.sort(by_w[lo:hi])
        return idx[np.abs(w[idx] - level) <= half]        # CausalGPS's test, exactly

    block = max(1, min(levels.size, _CHUNK_ELEMENTS // max(n, 1)))
    starts = list(range(0, levels.size, block))

    def run(start: int):
        lv = levels[start:start + block]
        cand = [candidates(v) for v in lv]
        out = np.full((n, lv.size), -1, dtype=np.int64)
        if not any(c.size for c in cand):
            return out, np.zeros(lv.size, dtype=np.int64)
        e = (np.asarray(gps_at(lv), dtype=np.float64).reshape(n, lv.size) - g_min) / g_span
        for col, (v, c) in enumerate(zip(lv, cand)):
            if c.size:
                k = np.abs(std_w[c] - (v - w_min) / w_span) * (1 - scale)
                out[:, col] = _match_one_level(e[:, col], std_gps[c], k, scale, c)
        return out, np.array([c.size for c in cand], dtype=np.int64)

    jobs = max(1, min(int(n_jobs if n_jobs and n_jobs > 0 else 1), len(starts)))
    parts = Parallel(n_jobs=jobs, prefer="threads")(delayed(run)(s) for s in starts) \
        if jobs > 1 else [run(s) for s in starts]
    counts = np.zeros(n, dtype=np.int64)
    for matched, _ in parts:
        hit = matched[matched >= 0]
        counts += np.bincount(hit, minlength=n)
    sizes = np.concatenate([s for _, s in parts]) if parts else np.zeros(0, dtype=np.int64)
    table = np.concatenate([m for m, _ in parts], axis=1) if keep_matches and parts else None
    return LevelMatches(counts=counts, levels=levels, level_sizes=sizes, matched=table)
