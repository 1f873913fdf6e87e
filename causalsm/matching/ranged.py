"""Range-partitioned matching on a Dask DataFrame: a scalar score, no exact strata.

The units are sorted by score across the cluster (``sort_values``), so that each
partition holds one interval of the score.  A unit's matches (with replacement, ties
kept under R's tolerance) lie near it on the score, so each partition is matched
against its own units plus a *halo*: the units of the neighbouring partitions close
enough to its boundaries to be among the nearest of one of its units.  The halo is
sized from the partitions' ends: for each arm, the ``h`` nearest units beyond a
boundary (``h`` = ``n_neighbors``, and ``var_neighbors + 1`` for the same-arm
variance), widened by the reach of the tie tolerance; every candidate that can be
within the tie tolerance of a k-th nearest lies inside it, whatever the gaps,
empty partitions or ties across partitions.  So the matches equal those of
:func:`causalsm.match` on the collected frame.

Two uses:

* :func:`match_ranged` (``match_dask(..., exact=None)``) gathers the matches into one
  :class:`~causalsm.MatchResult` (the client holds O(n) numbers);
* :func:`matching_effect_dask` computes the match counts ``K_M``, the estimate and
  its Abadie-Imbens variance with Dask reductions: each partition returns a few
  sums, plus one record per unit near its boundaries (whose match counts gather
  contributions from the neighbouring partitions); the client holds O(partitions x
  halo) numbers, so memory per worker is bounded by the partition size.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from .._validation import InputError, check_estimand, check_int
from .nearest import _R_TOL, _match_ranges
from .result import window_moments

__all__ = ["match_ranged", "matching_effect_dask"]

_POS = "__causalsm_position__"
_FOCAL = {"ATT": (1,), "ATC": (0,), "ATE": (1, 0)}


# ------------------------------------------------------------------ partitions
def _arms(df: pd.DataFrame, treatment: str) -> np.ndarray:
    t = df[treatment].to_numpy()
    if t.dtype == bool:
        return t.astype(np.int64)
    tf = np.asarray(t, dtype=np.float64)
    if not np.isin(tf, (0.0, 1.0)).all():
        raise InputError(f"'{treatment}' must be binary 0/1 (or boolean) in every row")
    return tf.astype(np.int64)


def _summary(df: pd.DataFrame, score: str, treatment: str, h: int) -> dict:
    """Size, score range and the ``h`` lowest and highest scores of each arm."""
    v = df[score].to_numpy(dtype=np.float64)
    if not np.isfinite(v).all():
        raise InputError(f"the score column '{score}' has missing or infinite values")
    t = _arms(df, treatment)
    out = {"n": v.size, "lo": v[0] if v.size else np.nan, "hi": v[-1] if v.size else np.nan,
           "sum": float(v.sum()), "sumsq": float((v * v).sum())}
    for a in (0, 1):
        va = v[t == a]
        out[a] = (va.size, va[:h].copy(), va[-h:].copy() if h else va[:0])
    return out


def _select(df: pd.DataFrame, score: str, lo: float, hi: float) -> pd.DataFrame:
    v = df[score].to_numpy()
    return df[(v >= lo) & (v <= hi)]


def _windows(summ: list, h: int, reach: float):
    """Halo bounds ``(L, R)`` of every partition, in score units.

    ``L[p]`` is the ``h``-th largest score of each arm left of ``p``, less the reach
    of the tie tolerance (minimum over the arms); ``-inf`` when an arm has fewer than
    ``h`` units there.  ``R[p]`` likewise on the right.
    """
    P = len(summ)
    L, R = np.full(P, -np.inf), np.full(P, np.inf)
    for p in range(P):
        if summ[p]["n"] == 0:
            continue
        for side, out in ((-1, L), (1, R)):
            bound = np.inf if side < 0 else -np.inf
            for a in (0, 1):
                vals, j = [], p + side
                while 0 <= j < P and sum(v.size for v in vals) < h:
                    vals.append(summ[j][a][2 if side < 0 else 1])
                    j += side
                got = np.concatenate(vals) if vals else np.zeros(0)
                if got.size < h or h == 0:
                    bound = -np.inf if side < 0 else np.inf
                    break
                edge = np.sort(got)[-h] if side < 0 else np.sort(got)[h - 1]
                bound = min(bound, edge - reach) if side < 0 else max(bound, edge + reach)
            out[p] = bound
    return L, R


def _sorted_frame(ddf, score: str, treatment: str, extra: list, npartitions):
    """Columns with global row positions (partition order), sorted by score."""
    import dask
    import dask.dataframe as dd

    cols = list(dict.fromkeys([score, treatment] + extra))
    blocks = ddf[cols].to_delayed()
    lengths = dask.compute(*[dask.delayed(len)(b) for b in blocks])
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)

    def positioned(df, offset):
        df = df.copy()
        df[_POS] = np.arange(offset, offset + len(df), dtype=np.int64)
        return df

    meta = positioned(ddf[cols]._meta, 0)
    frame = dd.from_delayed([dask.delayed(positioned)(b, int(o))
                             for b, o in zip(blocks, offsets)], meta=meta,
                            verify_meta=False)
    # Ties in the score are ordered by position, so the sorted order is deterministic.
    return frame.sort_values([score, _POS], npartitions=npartitions or ddf.npartitions), \
        int(np.sum(lengths))


def _plan(ddf, score, treatment, extra, h, tol, standardize, npartitions, persist):
    """Sort, summarise the partitions, and lay out each partition with its halo."""
    import dask

    sorted_ddf, n = _sorted_frame(ddf, score, treatment, extra, npartitions)
    if isinstance(persist, str):           # sorted once, to Parquet, then read back
        import dask.dataframe as dd
        sorted_ddf.to_parquet(persist, write_index=False)
        sorted_ddf = dd.read_parquet(persist)
    elif persist:
        sorted_ddf = sorted_ddf.persist()
    parts = sorted_ddf.to_delayed()
    summ = list(dask.compute(*[dask.delayed(_summary)(p, score, treatment, h)
                               for p in parts]))
    n0 = sum(s[0][0] for s in summ)
    n1 = sum(s[1][0] for s in summ)
    if n0 == 0 or n1 == 0:
        raise InputError(f"'{treatment}' has only one arm: both treated and control "
                         "units are needed")
    total = sum(s["sum"] for s in summ)
    mu = total / n
    # Centred second moment, combined over partitions (Chan et al.)
    m2 = sum(s["sumsq"] - s["sum"] ** 2 / s["n"] for s in summ if s["n"]) \
        + sum(s["n"] * (s["sum"] / s["n"] - mu) ** 2 for s in summ if s["n"])
    pop_sd = float(np.sqrt(max(m2, 0.0) / n))          # the caliper's unit, as match()
    sd = float(np.sqrt(max(m2, 0.0) / (n - 1))) if standardize and n > 1 else 1.0
    sd = sd if sd > 0 else 1.0
    mu = mu if standardize and n > 1 else 0.0
    # Reach of the tie tolerance on the raw score, with a relative slack.
    reach = sd * np.sqrt(tol + _R_TOL) if tol > 0 else 0.0
    lo = np.array([s["lo"] for s in summ])
    hi = np.array([s["hi"] for s in summ])
    span = np.nanmax(np.abs(np.concatenate([lo, hi])))
    L, R = _windows(summ, h, reach + 1e-9 * (span + reach))
    halos = []
    for p, part in enumerate(parts):
        if summ[p]["n"] == 0:
            halos.append(None)
            continue
        left_ids = [j for j in range(p) if summ[j]["n"] and hi[j] >= L[p]]
        right_ids = [j for j in range(p + 1, len(parts)) if summ[j]["n"] and lo[j] <= R[p]]
        left = [dask.delayed(_select)(parts[j], score, L[p], np.inf) for j in left_ids]
        right = [dask.delayed(_select)(parts[j], score, -np.inf, R[p]) for j in right_ids]
        # Own units that fall in some other partition's halo: their match counts
        # also receive contributions from there.
        edge_lo = max([R[j] for j in range(p) if summ[j]["n"]], default=-np.inf)
        edge_hi = min([L[j] for j in range(p + 1, len(parts)) if summ[j]["n"]],
                      default=np.inf)
        halos.append((left, right, edge_lo, edge_hi, left_ids + [p] + right_ids))
    before = np.cumsum([[0, 0]] + [[s[0][0], s[1][0]] for s in summ], axis=0)
    return parts, summ, halos, before, mu, sd, n, pop_sd


def _local(own, left, right, score, treatment):
    """The partition with its halo as sorted arrays, and where its own units are."""
    frames = list(left) + [own] + list(right)
    ext = pd.concat(frames, ignore_index=True) if len(frames) > 1 else own
    nl = sum(len(f) for f in left)
    v = ext[score].to_numpy(dtype=np.float64)
    t = _arms(ext, treatment)
    pos = ext[_POS].to_numpy(dtype=np.int64)
    own_mask = np.zeros(v.size, dtype=bool)
    own_mask[nl:nl + len(own)] = True
    n_left = [int(np.count_nonzero(t[:nl] == a)) for a in (0, 1)]
    return ext, v, t, pos, own_mask, n_left


def _ranges(v, t, own_mask, arm_f, arm_c, k, tol, cal, mu, sd, drop_incomplete):
    """Ranges of the own units of arm ``arm_f`` among the ``arm_c`` units of the halo'd
    partition (indices into the latter, which are sorted)."""
    f_idx = np.flatnonzero(own_mask & (t == arm_f))
    c_idx = np.flatnonzero(t == arm_c)
    if f_idx.size == 0 or c_idx.size == 0:
        e = np.zeros(0, dtype=np.int64)
        return f_idx, e, e.copy(), c_idx
    raw = v[:, None]
    z = (raw - mu) / sd
    return _match_ranges(z, raw, f_idx, c_idx, k, tol, cal, drop_incomplete, warn=False,
                         scale=(mu, sd), presorted=((f_idx, v[f_idx]), (c_idx, v[c_idx])))


def _part_matches(own, left, right, score, treatment, focal_arms, k, tol, cal, mu, sd,
                  drop_incomplete, before):
    """Ranges of one partition in global ranks of the sorted arms; own positions."""
    ext, v, t, pos, own_mask, n_left = _local(own, left, right, score, treatment)
    out = []
    for arm in focal_arms:
        f, lo, hi, _pool = _ranges(v, t, own_mask, arm, 1 - arm, k, tol, cal, mu, sd,
                                   drop_incomplete)
        shift = before[1 - arm] - n_left[1 - arm]
        out.append((arm, pos[f], lo + shift, hi + shift))
    own_pos = {a: pos[own_mask & (t == a)] for a in (0, 1)}
    return out, own_pos


# ------------------------------------------------------------ MatchResult
def match_ranged(ddf, score: str, treatment: str, *, estimand: str = "ATT",
                 n_neighbors: int = 1, caliper: float | None = None,
                 caliper_units: str = "sd", distance_tolerance: float = 1e-5,
                 standardize: bool = True, drop_incomplete: bool = False,
                 npartitions: int | None = None):
    """Range-partitioned matching with replacement, gathered into a MatchResult.

    See :func:`causalsm.match_dask` (``exact=None``), which calls it.
    """
    import dask

    from .nearest import _resolve_caliper, check_reservoir
    from .result import MatchRanges, MatchResult

    estimand = check_estimand(estimand)
    k = check_int(n_neighbors, "n_neighbors")
    parts, summ, halos, before, mu, sd, n, _ = _plan(ddf, score, treatment, [], k,
                                                    distance_tolerance, standardize,
                                                    npartitions, persist=True)
    local = ddf[[score, treatment]].compute()          # the MatchResult keeps them
    t_all = _arms(local, treatment)
    raw = local[score].to_numpy(dtype=np.float64)[:, None]
    check_reservoir(t_all, estimand, k)
    cal = _resolve_caliper(caliper, caliper_units, raw)
    focal_arms = _FOCAL[estimand]
    tasks = [dask.delayed(_part_matches)(parts[p], halos[p][0], halos[p][1], score,
                                         treatment, focal_arms, k, distance_tolerance, cal,
                                         mu, sd, drop_incomplete, before[p])
             for p in range(len(parts)) if halos[p] is not None]
    outs = dask.compute(*tasks)
    pools = {a: np.concatenate([o[1][a] for o in outs]) for a in (0, 1)}
    focal, start, stop = [], [], []
    offset = {}
    # One pool: the arms sorted by score, in the order _assemble_ranges would use.
    order = sorted(focal_arms, key=lambda a: int(np.flatnonzero(t_all == a).min()))
    acc = 0
    for a in order:
        offset[1 - a] = acc
        acc += pools[1 - a].size
    for o in outs:
        for arm, f, lo, hi in o[0]:
            keep = hi > lo
            focal.append(f[keep])
            start.append(lo[keep] + offset[1 - arm])
            stop.append(hi[keep] + offset[1 - arm])
    focal, start, stop = (np.concatenate(x) for x in (focal, start, stop))
    o = np.argsort(focal)
    pool = np.concatenate([pools[1 - a] for a in order])
    zscore = (raw[:, 0] - mu) / sd
    ranges = MatchRanges(focal=focal[o], start=start[o], stop=stop[o], pool=pool,
                         zscore=zscore)
    if ranges.focal.size == 0:
        raise InputError("no unit could be matched: the caliper excludes every candidate")
    focal_all = np.flatnonzero(np.isin(t_all, focal_arms))
    is_matched = np.zeros(n, dtype=bool)
    is_matched[ranges.focal] = True
    return MatchResult(ranges=ranges, treatment=t_all, estimand=estimand, n_neighbors=k,
                       replace=True, caliper=cal, dropped=focal_all[~is_matched[focal_all]],
                       index=local.index, score=raw, ties=True)


# ------------------------------------------------------------ the estimate
_SUMS = ("nf", "e_mean", "e_m2", "spread", "n_focal_arm")


def _part_effect(own, left, right, score, treatment, outcome, focal_arms, k, J, tol, cal,
                 mu, sd, centre, edge_lo, edge_hi, owners):
    """Sums of one partition, and the records of the units near its boundaries (own
    units that other partitions' halos hold, and halo units it matched), each
    labelled with the partition that holds it."""
    ext, v, t, pos, own_mask, _ = _local(own, left, right, score, treatment)
    frames = list(left) + [own] + list(right)
    owner = np.repeat(np.asarray(owners, dtype=np.int64), [len(f) for f in frames])
    y = ext[outcome].to_numpy(dtype=np.float64) - centre
    m = v.size
    K, KK = np.zeros(m), np.zeros(m)
    f_unit = np.zeros(m, dtype=bool)
    effects, spreads = [], []
    for arm in focal_arms:
        f, lo, hi, pool = _ranges(v, t, own_mask, arm, 1 - arm, k, tol, cal, mu, sd, False)
        keep = hi > lo
        f, lo, hi = f[keep], lo[keep], hi[keep]
        if f.size == 0:
            continue
        cnt = hi - lo
        s1, s2 = _sums(y, pool, lo, hi)
        mean = s1 / cnt
        effects.append((2.0 * arm - 1.0) * (y[f] - mean))
        spreads.append(np.maximum(s2 / cnt - mean * mean, 0.0))
        f_unit[f] = True
        # K_M and K'_M over the pool by difference arrays
        inv = 1.0 / cnt
        size = pool.size + 1
        for target, w in ((K, inv), (KK, inv * inv)):
            d = np.bincount(lo, weights=w, minlength=size) - np.bincount(hi, weights=w,
                                                                         minlength=size)
            target[pool] += np.cumsum(d[:-1])
    e = np.concatenate(effects) if effects else np.zeros(0)
    sums = {"nf": float(e.size), "e_mean": float(e.mean()) if e.size else 0.0,
            "e_m2": float(((e - e.mean()) ** 2).sum()) if e.size else 0.0,
            "spread": float(np.concatenate(spreads).sum()) if spreads else 0.0,
            "n_focal_arm": float(np.count_nonzero(own_mask & np.isin(t, focal_arms)))}
    # conditional variances of the own units (J same-arm neighbours, ties kept)
    sig = np.full(m, np.nan)
    if J > 0:
        for arm in (0, 1):
            f, lo, hi, pool = _ranges(v, t, own_mask, arm, arm, J + 1, tol, cal, mu, sd,
                                      False)
            if f.size == 0:
                continue
            cnt = (hi - lo).astype(np.float64)
            s1, s2 = _sums(y, pool, lo, hi)
            with np.errstate(invalid="ignore", divide="ignore"):
                sig[f] = np.where(cnt > 1, (s2 / cnt - (s1 / cnt) ** 2) * cnt / (cnt - 1),
                                  np.nan)
    interior = own_mask & (v > edge_lo) & (v < edge_hi)
    sums.update(_unit_sums(K[interior], KK[interior], t[interior], f_unit[interior],
                           sig[interior], focal_arms))
    near = ~interior & (own_mask | (K > 0))
    records = pd.DataFrame({"pos": pos[near], "K": K[near], "KK": KK[near],
                            "own": own_mask[near], "t": t[near], "f": f_unit[near],
                            "sig": sig[near], "owner": owner[near]})
    return sums, records


def _boundary_sums(p: int, focal_arms, *outs) -> dict:
    """Sums over the boundary units of partition ``p``, once their match counts have
    the contributions of every partition whose halo holds them (``outs``)."""
    recs = [o[1][o[1]["owner"].to_numpy() == p] for o in outs]
    records = pd.concat(recs, ignore_index=True)
    rec = records.groupby("pos", sort=False).agg(K=("K", "sum"), KK=("KK", "sum"))
    owned = records[records["own"].to_numpy()].set_index("pos")
    rec = rec.join(owned[["t", "f", "sig"]], how="inner")
    out = _unit_sums(rec["K"].to_numpy(), rec["KK"].to_numpy(), rec["t"].to_numpy(),
                     rec["f"].to_numpy(dtype=bool), rec["sig"].to_numpy(dtype=np.float64),
                     focal_arms)
    out["records"] = float(len(records))
    return out


def _sums(values, index, lo, hi):
    """Sums of ``values[index]`` and of their squares over ranges of queries in score
    order."""
    m = lo.size
    out = (np.empty(m), np.empty(m), np.empty(m))
    return window_moments(values, index, lo, hi, None, out)[1:]


def _unit_sums(K, KK, t, f, sig, focal_arms) -> dict:
    """Per arm: the variance weights of units with and without a conditional variance."""
    c = np.ones(K.size) if len(focal_arms) == 2 else (~np.isin(t, focal_arms)).astype(float)
    w_pop = K * K + 2 * K - KK if len(focal_arms) == 2 else c * (K * K - KK)
    w_samp = (f + c * K) ** 2
    out = {}
    for a in (0, 1):
        arm = t == a
        ok = arm & np.isfinite(sig)
        s = np.maximum(sig[ok], 0.0)
        out[f"sp{a}"] = float(np.sum(s * w_pop[ok]))
        out[f"ss{a}"] = float(np.sum(s * w_samp[ok]))
        out[f"lp{a}"] = float(np.sum(w_pop[arm & ~ok]))
        out[f"ls{a}"] = float(np.sum(w_samp[arm & ~ok]))
        out[f"nok{a}"] = float(np.count_nonzero(ok))
        out[f"sok{a}"] = float(np.sum(sig[ok]))
    return out


def _combine(sums: list) -> dict:
    """Totals of the partitions' sums (the effects' mean and M2 by Chan's formula)."""
    tot = {key: sum(s.get(key, 0.0) for s in sums)
           for key in set().union(*sums) if key not in ("e_mean", "e_m2")}
    nf = tot["nf"]
    mean = sum(s["nf"] * s["e_mean"] for s in sums if s.get("nf")) / nf
    tot["e_mean"] = mean
    tot["e_m2"] = sum(s["e_m2"] + s["nf"] * (s["e_mean"] - mean) ** 2
                      for s in sums if s.get("nf"))
    return tot


def matching_effect_dask(ddf, score: str, treatment: str, outcome: str, *,
                         estimand: str = "ATT", n_neighbors: int = 1,
                         var_neighbors: int = 1, caliper: float | None = None,
                         distance_tolerance: float = 1e-5, standardize: bool = True,
                         sample: bool = False, alpha: float = 0.05,
                         npartitions: int | None = None, persist: bool = False):
    """Matching estimate and Abadie-Imbens standard error on a Dask DataFrame.

    Range-partitioned 1:k matching with replacement on a scalar score (ties kept, R's
    tolerance), without bias correction, as :class:`~causalsm.MatchingEstimator`
    with ``bias_correction=False`` on that score: the same estimate and variance as
    ``matching_effect(match(...), y, var_neighbors=J)`` on the collected frame, but
    only sums and the units near partition boundaries reach the client.

    Parameters
    ----------
    ddf : dask.dataframe.DataFrame
    score, treatment, outcome : str
        Column names: the scalar score, the 0/1 treatment, the outcome.
    estimand : {"ATT", "ATC", "ATE"}
    n_neighbors : int
        Matches per unit.
    var_neighbors : int
        ``J`` same-arm neighbours of the conditional variances; 0: homoskedastic.
    caliper : float, optional
        In standard deviations of the score.
    distance_tolerance, standardize :
        As :func:`causalsm.match`.
    sample : bool
        The sample (conditional) variance instead of the population one.
    alpha : float
        1 - confidence level.
    npartitions : int, optional
        Partitions of the sorted frame (default: as the input).
    persist : bool or str
        Keep the sorted frame in the cluster's memory between the two passes (the
        partition summaries, then the matching), or write it to this Parquet folder
        and read it back; by default (``False``) it is sorted again for the second
        pass.  A folder bounds the memory held to a few partitions per worker.

    Returns
    -------
    EffectResult
        Its ``details`` hold the match counts' totals (``n_pairs`` is not computed).

    Examples
    --------
    With a ``distributed.Client`` the partitions go to its workers; without one Dask's
    local scheduler runs them.  The numbers are those of the in-memory estimate:

    >>> import dask.dataframe as dd
    >>> from causalsm.matching import match
    >>> from causalsm.estimators.average import matching_effect
    >>> rng = np.random.default_rng(0)
    >>> df = pd.DataFrame({"s": rng.normal(size=400), "t": rng.integers(0, 2, 400)})
    >>> df["y"] = df["s"] + df["t"] + rng.normal(size=400)
    >>> res = matching_effect_dask(dd.from_pandas(df, npartitions=4), "s", "t", "y")
    >>> ref = matching_effect(match(df["s"], df["t"]), df["y"].to_numpy(), var_neighbors=1)
    >>> bool(np.isclose(res.estimate, ref["estimate"], rtol=1e-12))
    True
    >>> bool(np.isclose(res.std_error, np.sqrt(ref["variance"]), rtol=1e-12))
    True
    """
    import dask

    from ..estimators.results import EffectResult, wald

    estimand = check_estimand(estimand)
    k = check_int(n_neighbors, "n_neighbors")
    J = check_int(var_neighbors, "var_neighbors", minimum=0)
    for c in (score, treatment, outcome):
        if c not in ddf.columns:
            raise InputError(f"column '{c}' is not in the data frame")
    h = max(k, J + 1)
    parts, summ, halos, before, mu, sd, n, pop_sd = _plan(
        ddf, score, treatment, [outcome], h, distance_tolerance, standardize, npartitions,
        persist)
    cal = None
    if caliper is not None:
        if not np.isfinite(caliper) or caliper <= 0:
            raise InputError("caliper must be positive and finite")
        cal = np.array([float(caliper) * pop_sd])   # SD units, as match(caliper_units="sd")
    centre = float(ddf[outcome].mean().compute())
    focal_arms = _FOCAL[estimand]
    live = [p for p in range(len(parts)) if halos[p] is not None]
    outs = {p: dask.delayed(_part_effect)(parts[p], halos[p][0], halos[p][1], score,
                                          treatment, outcome, focal_arms, k, J,
                                          distance_tolerance, cal, mu, sd, centre,
                                          halos[p][2], halos[p][3], halos[p][4])
            for p in live}
    # Second pass on the cluster: each partition gathers the records of its boundary
    # units from the partitions whose halos hold them (its neighbours) and sums them.
    boundary = [dask.delayed(_boundary_sums)(p, focal_arms,
                                             *[outs[q] for q in live if p in halos[q][4]])
                for p in live]
    interior = [dask.delayed(lambda o: o[0])(outs[p]) for p in live]
    interior, boundary = dask.compute(interior, boundary)
    tot = _combine(list(interior) + list(boundary))
    nf = tot["nf"]
    if nf == 0:
        raise InputError("no unit could be matched: the caliper excludes every candidate")
    est = tot["e_mean"] + 0.0       # the outcome was centred: effects are unchanged
    if J == 0:
        sig = {a: 0.5 * (tot["e_m2"] + tot["spread"]) / nf for a in (0, 1)}
    else:
        sig = {a: (tot[f"sok{a}"] / tot[f"nok{a}"] if tot[f"nok{a}"] else 0.0)
               for a in (0, 1)}
    var_pop = sum(tot[f"sp{a}"] + max(sig[a], 0.0) * tot[f"lp{a}"] for a in (0, 1))
    var_samp = sum(tot[f"ss{a}"] + max(sig[a], 0.0) * tot[f"ls{a}"] for a in (0, 1))
    var_pop = (var_pop + tot["e_m2"]) / nf ** 2
    var_samp = var_samp / nf ** 2
    se = float(np.sqrt(var_samp if sample else var_pop))
    ci, p = wald(est, se, alpha)
    sigma = ("homoskedastic conditional variance" if J == 0 else
             f"heteroskedastic conditional variance, {J} same-arm neighbour"
             + ("s" if J > 1 else ""))
    n1 = int(sum(s[1][0] for s in summ))
    return EffectResult(
        estimand=estimand, estimate=float(est), std_error=se,
        ci_lower=float(ci[0]), ci_upper=float(ci[1]), p_value=float(p),
        method=f"{k}-NN matching with replacement on '{score}' (1-d), range-partitioned "
               "on Dask, no bias correction",
        variance=f"Abadie-Imbens {'sample' if sample else 'population'} variance ({sigma})",
        n_treated=n1, n_control=int(n - n1), n_matched=int(nf),
        n_dropped=int(tot["n_focal_arm"] - nf), alpha=alpha,
        details={"variance_population": float(var_pop), "variance_sample": float(var_samp),
                 "var_neighbors": J, "partitions": len(parts),
                 "boundary_records": int(tot["records"])})
