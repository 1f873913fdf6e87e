"""Resampling inference, in parallel through joblib: the multiplier (wild) bootstrap, the
cluster bootstrap and the m-out-of-n (resampling) bootstrap.

Replicates are drawn in blocks, each from its own ``numpy.random.SeedSequence``
child of ``random_state``, so the draws do not depend on ``n_jobs`` (nor on the
joblib backend: a Dask cluster gives the same numbers as the local machine).
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed

from ._validation import check_int, seed_sequence

__all__ = ["multiplier_bootstrap", "cluster_bootstrap", "resample_replicates", "resample_size"]


def _block(phi: np.ndarray, seed: np.random.SeedSequence, size: int, weights: str,
           chunk: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # A fresh aligned copy: an array shipped to a Dask worker may arrive unaligned,
    # and numpy's kernels then sum in another order (draws must not depend on it).
    phi = np.array(phi, dtype=np.float64, copy=True)
    out = np.empty(size)
    n = phi.shape[0]
    for start in range(0, size, chunk):
        b = min(chunk, size - start)
        if weights == "rademacher":
            eta = rng.integers(0, 2, size=(b, n), dtype=np.int8) * 2.0 - 1.0
        elif weights == "mammen":
            s5 = np.sqrt(5.0)
            lo, hi = -(s5 - 1) / 2, (s5 + 1) / 2
            p_lo = (s5 + 1) / (2 * s5)
            eta = np.where(rng.random((b, n)) < p_lo, lo, hi)
        else:  # gaussian
            eta = rng.standard_normal((b, n))
        # einsum, not BLAS: its summation order does not depend on the BLAS thread
        # count, so draws are bitwise equal in any process (joblib, Dask workers).
        out[start:start + b] = np.einsum("ij,j->i", eta, phi)
    return out


def multiplier_bootstrap(phi: np.ndarray, *, n_replicates: int = 1999,
                         weights: str = "rademacher", random_state=None, n_jobs: int = 1,
                         block_size: int = 250) -> np.ndarray:
    """Draws of ``sum_i eta_i * phi_i`` for iid multipliers ``eta`` (mean 0, variance 1).

    With ``phi`` the centred influence terms of a linear estimator scaled so that
    ``estimate - truth ≈ sum(phi)``, the draws approximate the estimator's sampling
    error (Otsu & Rai 2017 for matching estimators).

    Parameters
    ----------
    phi : ndarray, shape (n,)
    n_replicates : int
    weights : {"rademacher", "mammen", "gaussian"}
    random_state : int, SeedSequence or None
    n_jobs : int
        joblib workers; results are identical for any value.
    block_size : int
        Replicates per task.

    Examples
    --------
    >>> phi = np.array([1.0, -1.0, 0.5, -0.5]) / 4
    >>> draws = multiplier_bootstrap(phi, n_replicates=4000, random_state=0)
    >>> round(float(draws.std()), 2), round(float(np.sqrt((phi ** 2).sum())), 2)
    (0.4, 0.4)
    """
    if weights not in ("rademacher", "mammen", "gaussian"):
        raise ValueError(f"unknown multiplier weights {weights!r}")
    phi = np.ascontiguousarray(phi, dtype=np.float64)
    seq = seed_sequence(random_state)
    sizes = [min(block_size, n_replicates - s) for s in range(0, n_replicates, block_size)]
    seeds = seq.spawn(len(sizes))
    chunk = max(1, int(2e7 // max(phi.shape[0], 1)))   # bound memory at ~160 MB a chunk
    parts = Parallel(n_jobs=check_int(n_jobs, "n_jobs", minimum=None))(
        delayed(_block)(phi, s, b, weights, chunk) for s, b in zip(seeds, sizes))
    return np.concatenate(parts) if parts else np.zeros(0)


def _cluster_block(statistic, members, seed: np.random.SeedSequence, size: int) -> np.ndarray:
    from threadpoolctl import threadpool_limits
    rng = np.random.default_rng(seed)
    G = len(members)
    out = np.empty(size)
    # one BLAS thread: replicates are small fits, which threads only slow down
    with threadpool_limits(1):
        for b in range(size):
            pick = rng.integers(0, G, size=G)
            out[b] = statistic(np.concatenate([members[g] for g in pick]))
    return out


def cluster_bootstrap(statistic, clusters: np.ndarray, *, n_replicates: int = 999,
                      random_state=None, n_jobs: int = 1, block_size: int = 50) -> np.ndarray:
    """Replicates of ``statistic(rows)`` over resamples of whole clusters.

    Each replicate draws as many clusters as there are, with replacement, and passes
    the row positions of all their members (repeated clusters repeated) to
    ``statistic``; matched sets are the clusters after matching (the pair bootstrap of
    Austin & Small 2014 and Abadie & Spiess 2022).  Replicates are drawn in blocks, each
    from its own child of ``random_state``, so the draws do not depend on ``n_jobs``.

    Parameters
    ----------
    statistic : callable
        ``statistic(rows) -> float`` for an int array of row positions.
    clusters : array-like, shape (n,)
        Cluster label of each row.
    n_replicates, random_state, n_jobs, block_size :
        As in :func:`multiplier_bootstrap`.

    Examples
    --------
    >>> y = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    >>> draws = cluster_bootstrap(lambda rows: y[rows].mean(), [0, 0, 1, 1, 2, 2],
    ...                           n_replicates=200, random_state=0)
    >>> draws.shape, bool(abs(draws.mean() - 3.5) < 0.3)
    ((200,), True)
    """
    labels = np.asarray(clusters).ravel()
    _, g = np.unique(labels, return_inverse=True)
    order = np.argsort(g.ravel(), kind="stable")
    bounds = np.flatnonzero(np.diff(g.ravel()[order])) + 1
    members = np.split(order, bounds)
    seq = seed_sequence(random_state)
    n_rep = check_int(n_replicates, "n_replicates")
    sizes = [min(block_size, n_rep - s) for s in range(0, n_rep, block_size)]
    seeds = seq.spawn(len(sizes))
    parts = Parallel(n_jobs=check_int(n_jobs, "n_jobs", minimum=None))(
        delayed(_cluster_block)(statistic, members, s, b) for s, b in zip(seeds, sizes))
    return np.concatenate(parts) if parts else np.zeros(0)


def resample_size(size, n: int) -> int:
    """The resample size ``m`` of an m-out-of-n bootstrap: ``"n^a"`` with ``0 < a <= 1``
    (``floor(n^a)``), ``"2sqrt"`` (Wu et al. 2024: ``floor(2 sqrt(n))``), ``"n"``, an
    integer, or a fraction of ``n`` in (0, 1].

    >>> resample_size("2sqrt", 1000), resample_size(0.5, 1000), resample_size(200, 1000)
    (63, 500, 200)
    >>> resample_size("n^0.9", 2000), resample_size("n^0.8", 2000)
    (935, 437)
    """
    if isinstance(size, str):
        if size == "2sqrt":
            return int(np.floor(2 * np.sqrt(n)))
        if size == "n":
            return n
        if size.startswith("n^"):
            try:
                a = float(size[2:])
            except ValueError:
                a = float("nan")
            if 0 < a <= 1:
                # 1e-9: n^a that is an integer in exact arithmetic stays that integer.
                return max(2, min(n, int(np.floor(n ** a + 1e-9))))
        raise ValueError(f"resample size must be '2sqrt', 'n', 'n^a' with 0 < a <= 1, an "
                         f"integer or a fraction; got {size!r}")
    if isinstance(size, float) and 0 < size <= 1:
        return max(2, int(np.floor(size * n)))
    return check_int(size, "bootstrap_size", minimum=2)


def _resample_block(fn, n, m, replace, groups, seeds):
    out = []
    for seed in seeds:
        rng = np.random.default_rng(seed)
        if groups is None:
            idx = rng.choice(n, size=m, replace=replace)
        else:                                  # clusters: draw m groups, keep their units
            labels, members = groups
            pick = rng.choice(len(labels), size=m, replace=replace)
            idx = np.concatenate([members[g] for g in pick])
        try:
            out.append(np.asarray(fn(idx, rng), dtype=np.float64))
        except Exception:                      # noqa: BLE001 - a failed replicate is NaN
            out.append(None)
    return out


def resample_replicates(fn, n: int, *, size="n", n_replicates: int = 200,
                        replace: bool = True, groups=None, random_state=None,
                        n_jobs: int = 1, block_size: int = 10) -> tuple[np.ndarray, int]:
    """Run ``fn(indices, rng)`` on ``n_replicates`` resamples of ``size`` units.

    The m-out-of-n bootstrap (Bickel, Goetze & van Zwet 1997) with ``replace=True``,
    subsampling (Politis & Romano 1994) with ``replace=False``.  Each replicate draws
    from its own ``SeedSequence`` child of ``random_state``, so the draws do not depend
    on ``n_jobs``.

    Parameters
    ----------
    fn : callable
        ``fn(indices, rng) -> array`` of a fixed length; an exception makes the
        replicate a row of NaN.
    n : int
        Units (or, with ``groups``, rows).
    size : "n^a", "2sqrt", "n", int or float
        Resample size ``m`` (:func:`resample_size`), in units or groups.
    groups : array-like of shape (n,), optional
        Cluster labels: whole clusters are resampled.
    random_state, n_jobs, block_size
        Seed; joblib workers; replicates per task.

    Returns
    -------
    draws : ndarray of shape (n_replicates, k)
    n_failed : int

    Examples
    --------
    >>> x = np.arange(100.0)
    >>> draws, failed = resample_replicates(lambda i, rng: [x[i].mean()], 100,
    ...                                     n_replicates=50, random_state=0)
    >>> draws.shape, failed, bool(40 < draws.mean() < 60)
    ((50, 1), 0, True)
    """
    n_replicates = check_int(n_replicates, "n_bootstrap")
    grouped = None
    units = n
    if groups is not None:
        labels, inverse = np.unique(np.asarray(groups), return_inverse=True)
        order = np.argsort(inverse, kind="stable")
        members = np.split(order, np.cumsum(np.bincount(inverse))[:-1])
        grouped = (labels, members)
        units = labels.size
    m = resample_size(size, units)
    if not replace and m > units:
        raise ValueError(f"subsampling (replace=False) needs size <= {units}, got {m}")
    seq = seed_sequence(random_state)
    seeds = seq.spawn(n_replicates)
    blocks = [seeds[s:s + block_size] for s in range(0, n_replicates, block_size)]
    parts = Parallel(n_jobs=check_int(n_jobs, "n_jobs", minimum=None))(
        delayed(_resample_block)(fn, n, m, replace, grouped, b) for b in blocks)
    results = [r for part in parts for r in part]
    width = next((r.size for r in results if r is not None), 0)
    draws = np.full((n_replicates, width), np.nan)
    for b, r in enumerate(results):
        if r is not None and r.size == width:
            draws[b] = r
    return draws, int(sum(r is None for r in results))
