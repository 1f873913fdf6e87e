"""Resampling inference: the multiplier (wild) bootstrap and the cluster bootstrap, in
parallel through joblib.

Replicates are drawn in blocks, each from its own ``numpy.random.SeedSequence``
child of ``random_state``, so the draws do not depend on ``n_jobs`` (nor on the
joblib backend: a Dask cluster gives the same numbers as the local machine).
"""

from __future__ import annotations

import numpy as np
from joblib import Parallel, delayed

from ._validation import check_int, check_seed

__all__ = ["multiplier_bootstrap", "cluster_bootstrap"]


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
    seq = random_state if isinstance(random_state, np.random.SeedSequence) \
        else np.random.SeedSequence(check_seed(random_state))
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
    seq = random_state if isinstance(random_state, np.random.SeedSequence) \
        else np.random.SeedSequence(check_seed(random_state))
    n_rep = check_int(n_replicates, "n_replicates")
    sizes = [min(block_size, n_rep - s) for s in range(0, n_rep, block_size)]
    seeds = seq.spawn(len(sizes))
    parts = Parallel(n_jobs=check_int(n_jobs, "n_jobs", minimum=None))(
        delayed(_cluster_block)(statistic, members, s, b) for s, b in zip(seeds, sizes))
    return np.concatenate(parts) if parts else np.zeros(0)
