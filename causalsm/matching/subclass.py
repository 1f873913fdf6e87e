"""Subclassification on a score (MatchIt's ``method = "subclass"``).

Units are cut into ``n_subclasses`` strata at quantiles of the score -- quantiles of
the treated units for the ATT, of the controls for the ATC, of everybody for the ATE
-- exactly as MatchIt 4.5.1 does (R's type-7 quantiles, ``findInterval(...,
all.inside = TRUE)``), and when a stratum has fewer than ``min_n`` units of an arm,
units are moved in from the neighbouring strata by MatchIt's ``subclass_scoot``
rule.  Every unit then weighs as MatchIt's ``weights.subclass`` says (for the ATT
treated units 1 and controls ``n_t(s) / n_c(s)``, rescaled), so the weighted
difference in means is the stratified estimate.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from .._validation import InputError, check_int
from .result import MatchResult
from .support import prepare

__all__ = ["subclassify"]


def subclassify(score: Any, treatment: Any, *, estimand: str = "ATT",
                n_subclasses: Any = 6, min_n: int = 1, discard: Any = "none",
                index: Any = None) -> MatchResult:
    """Subclassification on a one-dimensional score.

    Parameters
    ----------
    score : array-like, shape (n,)
        The propensity score or any 1-d balancing score (for a neural score, its
        propensity output).
    treatment : array-like of 0/1, shape (n,)
    estimand : {"ATT", "ATC", "ATE"}
        Whose quantiles cut the strata, and the weights.
    n_subclasses : int or sequence of float
        Number of strata (MatchIt's ``subclass``, default 6), or the quantile levels
        in (0, 1) at which to cut.
    min_n : int
        Least number of units of each arm per stratum (MatchIt's ``min.n``); strata
        short of it take units from their neighbours.  0 drops strata that lack an arm.
    discard : {"none", "treated", "control", "both"} or boolean array
        Common support on the score before cutting.
    index : pandas.Index, optional

    Returns
    -------
    MatchResult
        ``subclass`` holds the strata (1 = lowest score), ``info["cuts"]`` the
        quantile cut points.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.linspace(0.05, 0.95, 12)
    >>> t = np.array([0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0, 1])
    >>> m = subclassify(s, t, n_subclasses=2)          # as MatchIt 4.5.1 gives
    >>> m.subclass.tolist()
    [1, 1, 1, 1, 1, 1, 1, 1, 2, 2, 2, 2]
    >>> m.matchit_weights.round(3).tolist()
    [0.467, 0.467, 0.467, 1.0, 0.467, 0.467, 1.0, 0.467, 1.0, 1.0, 4.2, 1.0]
    """
    d = prepare(score, treatment, estimand=estimand, discard=discard, index=index,
                standardize=False)
    if d.score.shape[1] != 1:
        raise InputError(f"subclassification needs a one-dimensional score; this one has "
                         f"{d.score.shape[1]} columns (use a propensity score, e.g. the "
                         "neural network's propensity output)")
    min_n = check_int(min_n, "min_n", minimum=0)
    x, t, keep = d.score[:, 0], d.t, d.keep
    if np.ndim(n_subclasses) == 0:
        k = int(round(float(n_subclasses)))
        if k <= 1:
            raise InputError(f"n_subclasses must be greater than 1, got {n_subclasses}")
        probs = np.linspace(0.0, 1.0, k + 1)
    else:
        probs = np.sort(np.asarray(n_subclasses, dtype=np.float64))
        if ((probs < 0) | (probs > 1)).any():
            raise InputError("quantile levels for n_subclasses must lie in [0, 1]")
        probs = np.concatenate([[0.0] if probs[0] != 0 else [], probs,
                                [1.0] if probs[-1] != 1 else []])
        k = probs.size - 1
    ref = {"ATT": x[t == 1], "ATC": x[t == 0], "ATE": x}[d.estimand]
    q = np.quantile(ref, probs)                                 # R's type 7
    sub = np.zeros(d.n, dtype=np.int64)
    sub[keep] = np.clip(np.searchsorted(q, x[keep], side="right"), 1, q.size - 1)
    if np.unique(sub[keep]).size != k:
        warnings.warn("Due to discreteness in the score, fewer subclasses were generated "
                      "than were requested.", RuntimeWarning, stacklevel=2)
    if min_n == 0:
        both = np.intersect1d(sub[keep & (t == 1)], sub[keep & (t == 0)])
        sub[keep & ~np.isin(sub, both)] = 0
    else:
        tab = np.array([np.bincount(sub[keep & (t == a)], minlength=q.size)[1:]
                        for a in (0, 1)])
        present = np.unique(sub[keep])
        if (tab[:, present - 1] < min_n).any():
            sub[keep] = _scoot(sub[keep], t[keep], x[keep], min_n)
    # strata numbered 1.. in order (empty ones removed), as R's factor levels
    used = np.unique(sub[sub > 0])
    relabel = np.zeros(int(sub.max()) + 1, dtype=np.int64)
    relabel[used] = np.arange(1, used.size + 1)
    sub = relabel[sub]
    arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[d.estimand]
    return MatchResult(treatment=t, estimand=d.estimand, n_neighbors=1, replace=False,
                       caliper=None, dropped=np.flatnonzero(np.isin(t, arms) & (sub == 0)),
                       index=d.index, score=d.score, ties=False, subclass=sub,
                       design="subclass", discarded=d.discarded,
                       info={"cuts": q.tolist(), "n_subclasses": int(sub.max()),
                             "min_n": min_n})


def _scoot(sub: np.ndarray, t: np.ndarray, x: np.ndarray, min_n: int) -> np.ndarray:
    """MatchIt's ``subclass_scoot``: give every stratum at least ``min_n`` units of each
    arm by moving the nearest units in from neighbouring strata."""
    labels = np.unique(sub)
    nsub = labels.size
    sub = np.searchsorted(labels, sub) + 1                     # 1..nsub
    arms = list(dict.fromkeys(t.tolist()))                     # order of first appearance
    for a in (0, 1):
        if (t == a).sum() < nsub * min_n:
            raise InputError(f"not enough units to have {min_n} treated and control "
                             f"unit(s) in each of the {nsub} subclasses")
    for a in arms:
        if (t == a).sum() == nsub:
            sub[t == a] = np.arange(1, nsub + 1)
    tab = {a: np.bincount(sub[t == a], minlength=nsub + 1)[1:].astype(np.int64) for a in arms}
    if not any((tab[a] < min_n).any() for a in arms):
        return sub

    def soft(v):
        return np.maximum(v - 1, 0)

    for a in arms:
        row = tab[a]
        for _ in range(min_n):
            while (row == 0).any():
                f0 = int(np.flatnonzero(row == 0)[0]) + 1          # 1-based stratum
                left = np.arange(1, f0)
                right = np.arange(f0 + 1, nsub + 1)
                go_left = f0 == nsub or (f0 != 1 and np.sum(soft(row[left - 1]) / np.abs(f0 - left))
                                         >= np.sum(soft(row[right - 1]) / np.abs(f0 - right)))
                if go_left:
                    src = int(left[row[left - 1] > 0].max())
                    members = np.flatnonzero((t == a) & (sub == src))
                    move = members[np.argmax(x[members])]       # first unit with the max
                else:
                    src = int(right[row[right - 1] > 0].min())
                    members = np.flatnonzero((t == a) & (sub == src))
                    move = members[np.argmin(x[members])]
                sub[move] = f0
                row[f0 - 1] = 1
                row[src - 1] -= 1
            row -= 1
    return sub
