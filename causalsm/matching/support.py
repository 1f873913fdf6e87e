"""What every MatchIt-style design shares: common support, calipers, exact and
anti-exact restrictions, and MatchIt's Mahalanobis distance for ``mahvars``.

Conventions follow MatchIt 4.5.1 (``discard``, ``process.caliper``,
``transform_covariates``), so a design here restricts the same pairs as R does.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import pandas as pd

from .._validation import InputError, check_array, check_estimand, check_treatment
from . import _jit
from .nearest import _score_matrix, _strata

__all__ = ["DISCARD", "common_support", "resolve_caliper", "anti_codes", "mahalanobis_covariates",
           "Design", "prepare", "warn_poor_overlap", "warn_unmatched"]

EXTREME = 0.02            # a propensity below EXTREME or above 1 - EXTREME is extreme
EXTREME_SHARE = 0.03      # warn when more than this share of the units is extreme

DISCARD = ("none", "treated", "control", "both")


def common_support(score: np.ndarray, t: np.ndarray, discard: Any = "none") -> np.ndarray:
    """Units outside the region of common support of the score (MatchIt's ``discard``).

    ``"control"`` drops controls outside the range of the treated units' score,
    ``"treated"`` treated units outside the controls' range, ``"both"`` both; for a
    score with several columns the rule is applied to each column (a unit outside on
    any column is dropped).  A boolean array gives the units to drop directly.

    >>> common_support(np.array([0.1, 0.5, 0.3, 0.9]), np.array([1, 1, 0, 0]), "control")
    array([False, False, False,  True])
    """
    n = t.shape[0]
    if isinstance(discard, str):
        if discard not in DISCARD:
            raise InputError(f"discard must be one of {', '.join(DISCARD)} or a boolean "
                             f"array, got {discard!r}")
        out = np.zeros(n, dtype=bool)
        if discard == "none":
            return out
        S = score.reshape(n, -1)
        lo = {a: S[t == a].min(axis=0) for a in (0, 1)}
        hi = {a: S[t == a].max(axis=0) for a in (0, 1)}
        if discard == "both":
            out = ((S < np.maximum(lo[0], lo[1])) | (S > np.minimum(hi[0], hi[1]))).any(axis=1)
        elif discard == "control":
            out = ((S < lo[1]) | (S > hi[1])).any(axis=1)
        else:
            out = ((S < lo[0]) | (S > hi[0])).any(axis=1)
        return out
    arr = np.asarray(discard)
    if arr.dtype != bool or arr.shape != (n,):
        raise InputError(f"discard must be one of {', '.join(DISCARD)} or a boolean array "
                         f"of length {n}")
    return arr.copy()


def warn_poor_overlap(score: Any, X: Any, t: np.ndarray, S: np.ndarray,
                      stacklevel: int = 3) -> None:
    """Warn when the arms barely overlap: more than 3% of the units with a propensity
    below 0.02 or above 0.98 (asked of any score with a ``propensity`` method: the
    logistic, a classifier's, the neural network's), or a score column on which the
    arms do not overlap at all (any score).  The warning counts the units and
    suggests a caliper or trimming (``discard``)."""
    n = t.shape[0]
    prop = getattr(score, "propensity", None)
    if callable(prop):
        try:
            p = np.asarray(prop(X), dtype=np.float64)
        except Exception:                      # e.g. a score without that head
            p = None
        if p is not None and p.ndim == 1 and p.shape[0] == n:
            extreme = int(((p < EXTREME) | (p > 1 - EXTREME)).sum())
            if extreme > EXTREME_SHARE * n:
                warnings.warn(
                    f"poor overlap: {extreme} of {n} units ({100 * extreme / n:.0f}%) have a "
                    f"propensity below {EXTREME} or above {1 - EXTREME}; their matches are "
                    "far away and the estimate rests on few comparable units. Consider a "
                    "caliper (e.g. caliper=0.2) or trimming (discard='both')",
                    UserWarning, stacklevel=stacklevel)
                return
    S = S.reshape(n, -1)
    for j in range(S.shape[1]):
        (lo0, hi0), (lo1, hi1) = _jit.arm_extremes(S[:, j], t)
        if lo0 <= hi0 and lo1 <= hi1 and (lo1 > hi0 or hi1 < lo0):
            warnings.warn(f"no overlap: column {j} of the score separates the treated and "
                          "control units completely, so every match is extrapolation; the "
                          "estimate is not supported by the data", UserWarning,
                          stacklevel=stacklevel)
            return


def warn_unmatched(m: Any, stacklevel: int = 3) -> None:
    """Warn when focal units are left without a match (or discarded): the estimate is
    then an average over the matched units only, a different estimand."""
    arm = {"ATT": 1, "ATC": 0}.get(m.estimand)
    is_focal = np.ones(m.n, dtype=bool) if arm is None else (m.treatment == arm)
    discarded = int((m.discarded & is_focal).sum())
    dropped = int(np.setdiff1d(np.asarray(m.dropped, dtype=np.int64),
                               np.flatnonzero(m.discarded)).size) + discarded
    if dropped == 0:
        return
    focal = {1: "treated", 0: "control"}.get(arm, "")
    why = []
    if discarded:
        why.append(f"{discarded} discarded outside the common support")
    if m.caliper is not None:
        why.append("the caliper")
    if not m.replace:
        why.append("matching without replacement")
    if not why:
        why.append("exact strata or incomplete matched sets")
    warnings.warn(f"{dropped} {focal + ' ' if focal else ''}units were left without a match "
                  f"({', '.join(why)}): the estimate is the {m.estimand} of the "
                  f"{m.n_matched} matched {focal + ' ' if focal else ''}units, not of all "
                  "of them", UserWarning, stacklevel=stacklevel)


def resolve_caliper(caliper: Any, units: str, score: np.ndarray,
                    keep: np.ndarray, ddof: int = 1) -> np.ndarray | None:
    """The caliper per score column in score units (MatchIt's ``process.caliper``).

    ``units="sd"``: multiples of the *sample* SD of each column over the units not
    discarded (MatchIt's ``std.caliper = TRUE``; ``ddof=0`` gives the population SD
    that R's ``Matching`` and :func:`causalsm.match` use); ``"raw"``: score units.
    """
    if caliper is None:
        return None
    cal = np.asarray(caliper, dtype=np.float64).ravel()
    k = score.shape[1]
    if cal.size not in (1, k):
        raise InputError(f"caliper has {cal.size} values for a score with {k} columns")
    cal = np.broadcast_to(cal, (k,)).copy()
    if (cal <= 0).any() or not np.isfinite(cal).all():
        raise InputError("caliper must be positive and finite")
    if units == "sd":
        return cal * score[keep].std(axis=0, ddof=ddof)
    if units == "raw":
        return cal
    raise InputError(f"caliper_units must be 'sd' or 'raw', got {units!r}")


def anti_codes(antiexact: Any, n: int) -> np.ndarray | None:
    """Integer codes of the anti-exact columns, shape (n, m): matched units must differ
    on every one of them (MatchIt's ``antiexact``)."""
    if antiexact is None:
        return None
    frame = antiexact if isinstance(antiexact, pd.DataFrame) else pd.DataFrame(antiexact)
    if len(frame) != n:
        raise InputError(f"antiexact has {len(frame)} rows; expected {n}")
    if frame.isna().any().any():
        col = frame.columns[frame.isna().any()][0]
        raise InputError(f"anti-exact column '{col}' has missing values")
    return np.column_stack([pd.factorize(frame[c])[0] for c in frame.columns])


def mahalanobis_covariates(X: Any, t: np.ndarray, keep: np.ndarray) -> np.ndarray:
    """Covariates transformed so that Euclidean distance is MatchIt's Mahalanobis distance.

    As MatchIt's ``transform_covariates(method = "mahalanobis")``: columns without
    variation are dropped, the rest standardised (``scale()``), and the distance uses
    the inverse of the pooled within-arm covariance of the units not discarded
    (``cov * (n - 1) / (n - 2)`` after centring each arm).
    """
    Xa, names, _ = check_array(X, name="mahvars")
    if Xa.shape[0] != t.shape[0]:
        raise InputError(f"mahvars has {Xa.shape[0]} rows; expected {t.shape[0]}")
    varies = np.abs(Xa.max(axis=0) - Xa.min(axis=0)) >= np.sqrt(np.finfo(float).eps)
    if not varies.any():
        return Xa[:, :1]                       # MatchIt: Euclidean on the first column
    Xa = Xa[:, varies]
    Z = (Xa - Xa.mean(axis=0)) / Xa.std(axis=0, ddof=1)
    Zk, tk = Z[keep], t[keep]
    C = Zk.copy()
    for a in (0, 1):
        C[tk == a] -= C[tk == a].mean(axis=0)
    nk = Zk.shape[0]
    V = C.T @ C / (nk - 1) * (nk - 1) / (nk - 2)
    if np.linalg.det(V) > 1e-8:
        inv = np.linalg.inv(V)
    else:                                      # MatchIt's generalized_inverse
        inv = np.linalg.pinv(V, rcond=1e-8)
    vals, vecs = np.linalg.eigh((inv + inv.T) / 2)
    L = vecs * np.sqrt(np.maximum(vals, 0.0))  # L L' = inv
    return Z @ L


class Design:
    """Validated inputs of a design: the score, the arms, and the restrictions."""

    def __init__(self, **kw):
        self.__dict__.update(kw)

    def focal_arm(self) -> int:
        """The arm whose units are the rows of the matching problem (MatchIt's focal)."""
        return 0 if self.estimand == "ATC" else 1

    def allowed(self, r: np.ndarray, c: np.ndarray) -> np.ndarray:
        """Caliper and anti-exact restrictions on pairs of units ``(r, c)``."""
        ok = np.ones(r.shape, dtype=bool)
        if self.caliper is not None:
            ok &= (np.abs(self.score[r] - self.score[c]) <= self.caliper).all(axis=-1)
        if self.anti is not None:
            ok &= (self.anti[r] != self.anti[c]).all(axis=-1)
        return ok


def prepare(score: Any, treatment: Any, *, estimand: str, standardize: bool = True,
            caliper: Any = None, caliper_units: str = "sd", exact: Any = None,
            antiexact: Any = None, mahvars: Any = None, discard: Any = "none",
            index: Any = None, estimands: tuple = ("ATT", "ATC", "ATE"),
            caliper_ddof: int = 1) -> Design:
    """Check the inputs every design shares and resolve them once."""
    estimand = check_estimand(estimand)
    if estimand not in estimands:
        raise InputError(f"this design estimates the {' or '.join(estimands)}, not the "
                         f"{estimand}")
    t = check_treatment(treatment)
    n = t.shape[0]
    raw = _score_matrix(score, n)
    discarded = common_support(raw, t, discard)
    keep = ~discarded
    for arm, label in ((1, "treated"), (0, "control")):
        if not (keep & (t == arm)).any():
            raise InputError(f"every {label} unit is outside common support "
                             f"(discard={discard!r}); nothing can be matched")
    if standardize and n > 1:
        sd = raw[keep].std(axis=0, ddof=1)
        metric = raw / np.where(sd > 0, sd, 1.0)
    else:
        metric = raw
    if mahvars is not None:
        metric = mahalanobis_covariates(mahvars, t, keep)
    if index is None:
        index = score.index if isinstance(score, (pd.Series, pd.DataFrame)) else pd.RangeIndex(n)
    cal = resolve_caliper(caliper, caliper_units, raw, keep, caliper_ddof)
    return Design(estimand=estimand, t=t, n=n, score=raw, metric=metric, keep=keep,
                  discarded=discarded, caliper=cal,
                  strata=_strata(exact, n), anti=anti_codes(antiexact, n),
                  index=pd.Index(index), mahvars=mahvars is not None)
