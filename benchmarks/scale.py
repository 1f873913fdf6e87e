"""Time and peak memory of causalsm at 10^6 and 10^7 units, and Dask speed-up.

Run from the repository root::

    python benchmarks/scale.py                       # 1e6 and 1e7 units, bootstrap
    python benchmarks/scale.py --sizes 1000000       # one size
    python benchmarks/scale.py --no-bootstrap        # matching and variance only
    python benchmarks/scale.py --only-bootstrap

Data (seeded): ``n`` units, two N(0, 1) covariates ``x1, x2``; treatment from a
logistic model ``x1 + 0.5 x2 + a`` with ``a`` set so that about 10% are treated;
outcome ``x1 + t + N(0, 1)``.  The scalar score is the true logit (continuous); the
2-d score is ``(x1, x2)``.  Every call is ATT.

Each (configuration, n) runs in a fresh Python process, which generates the data,
records its peak resident memory (``ru_maxrss``) after that, runs the timed call
once (``time.perf_counter``) and records the peak again: the table gives the peak of
the whole process and the increase over the data alone.  Configurations:

* ``fit (estimate + AI var, J=1) / sort+search``: ``MatchingEstimator(balancing_score=
  FunctionTransformer(), bias_correction=False).fit(score[:, None], t, y)`` (match,
  estimate, heteroskedastic AI variance with one same-arm neighbour, ties kept),
  timed against ``np.searchsorted(np.sort(score[t == 0]), score[t == 1])`` in the
  same process, each the fastest of five runs up to 2 x 10^6 units (three limits and
  two fits at 10^7 and more): the table gives both and their ratio (the target is 5
  or less).  The process first fits 10^4 units (timed apart): the first fit of a
  process loads numba's compiled kernels from its cache, a fixed 1-2 s;
  ``J=0``: the same with the homoskedastic variance;
* ``match 1:1 repl, R ties``: ``match(score, t)``, R Matching's tie rule
  (``distance_tolerance=1e-5``); the matches are kept as ranges of the sorted
  controls, and the time includes the match counts ``K_M``;
* ``match 1:1 repl, tol=0``: ``match(score, t, distance_tolerance=0)``, plus ``K_M``;
* ``match 1:1 no repl``: ``match(score, t, replace=False)`` (greedy, data order);
* ``match 1:1 repl, 2-d``: ``match(X2, t)`` (KD-tree, chunked queries); ``2-d,
  tol=0``: the same with exact ties only (``distance_tolerance=0``), which shows the
  cost of R's tie tolerance; ``5:1 repl, 2-d``: ``n_neighbors=5``;
* ``match 1:1 repl, 5-d`` and ``match 5:1 repl, 5-d``: a 5-d score (the logit, the
  two covariates and two N(0, 1) columns), ``n_neighbors`` 1 and 5;
* ``match caliper + exact``: ``match(score, t, caliper=0.05, exact=<10 strata>)``;
* ``AI variance (J=1)``: ``matching_effect(m, y, var_neighbors=1)`` on the first
  match: estimate, heteroskedastic conditional variances from same-arm neighbour
  ranges, Abadie-Imbens population and sample variances (the match is not timed);
* ``wild bootstrap, 100 reps``: the Otsu-Rai multiplier bootstrap of that estimate,
  ``influence_terms`` and 100 Rademacher replicates (time is linear in replicates).

The bootstrap benchmark draws 1,000 multiplier-bootstrap replicates of an
influence vector of ``--boot-n`` units (default 10^6), in blocks of 50: sequentially
(``n_jobs=1``), on local processes (joblib/loky, ``n_jobs=2``) and on a
``dask.distributed.LocalCluster`` with 2 worker processes (one thread each) through
``joblib.parallel_backend("dask")``; it checks that the draws are identical.

The Dask run (``--dask-n``, default 10^8; 0 skips it) writes the data (same law,
10^6 rows a Parquet file, seeded per file) to ``--dask-dir`` once, starts a
``LocalCluster`` of 2 single-thread worker processes with ``--dask-memory`` each
(default 4GB), checks ``matching_effect_dask`` against the in-memory estimate on
10^5 units, then times ``matching_effect_dask(read_parquet(...), "score", "t", "y",
persist=<folder>)`` (ATT 1:1, J=1; the sorted frame written to Parquet once) and
records the peak resident memory of each worker and of the client.

Other processes share the machine's cores: the script prints the load average
(``uptime``) before and after each measurement so that noisy figures can be told.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
import warnings

import numpy as np

CONFIGS = {
    "fit_ratio": "fit (estimate + AI var, J=1) / sort+search",
    "fit_ratio_j0": "fit (estimate + AI var, J=0) / sort+search",
    "repl_ties": "match 1:1 repl, R ties",
    "repl_exact": "match 1:1 repl, tol=0",
    "norepl": "match 1:1 no repl",
    "repl_2d": "match 1:1 repl, 2-d",
    "repl_2d_tol0": "match 1:1 repl, 2-d, tol=0",
    "repl_2d_k5": "match 5:1 repl, 2-d",
    "repl_5d": "match 1:1 repl, 5-d",
    "repl_5d_k5": "match 5:1 repl, 5-d",
    "caliper_exact": "match caliper + exact",
    "ai_variance": "AI variance (J=1)",
    "wild_bootstrap": "wild bootstrap, 100 reps",
}


def _rss_mb() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return r / 1024 if sys.platform != "darwin" else r / 2 ** 20   # KB on Linux


def _load() -> float:
    return os.getloadavg()[0]


def _data(n: int):
    rng = np.random.default_rng(20261129)
    x1 = rng.standard_normal(n)
    x2 = rng.standard_normal(n)
    logit = x1 + 0.5 * x2 - 2.45
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    y = x1 + t + rng.standard_normal(n)
    return logit, np.column_stack([x1, x2]), t, y


def _score5(score, X2):
    """A 5-d score: the logit, the two covariates and two more N(0, 1) columns."""
    extra = np.random.default_rng(5).standard_normal((score.size, 2))
    return np.column_stack([score, X2, extra])


def worker(config: str, n: int) -> dict:
    """Run one configuration in this process and report time and memory."""
    import causalsm as csm
    from causalsm.estimators.average import influence_terms, matching_effect
    from causalsm.inference import multiplier_bootstrap

    warnings.simplefilter("ignore")
    score, X2, t, y = _data(n)
    base = _rss_mb()
    info = {}
    if config.startswith("fit_ratio"):
        # The limit: a sort of the controls' score and a search of the treated ones
        # (the fastest of several, so that a busy moment does not flatter the ratio).
        limit = np.inf
        repeats = 5 if n <= 2_000_000 else 3
        for _ in range(repeats):
            t0 = time.perf_counter()
            np.searchsorted(np.sort(score[t == 0]), score[t == 1])
            limit = min(limit, time.perf_counter() - t0)
        from sklearn.preprocessing import FunctionTransformer

        def estimator():
            return csm.MatchingEstimator(balancing_score=FunctionTransformer(), bias_correction=False,
                                         var_neighbors=0 if config == "fit_ratio_j0" else 1)
        # The first fit of a process loads numba's compiled kernels from its cache
        # (about 1-2 s, once per process): timed apart, on 10^4 units.
        small = _data(10_000)
        t0 = time.perf_counter()
        estimator().fit(small[0][:, None], small[2], small[3])
        info["first_fit_small"] = time.perf_counter() - t0
        # The fastest of five fits (two at 10^7 and more), like the limit.
        times = []
        for _ in range(repeats if n <= 2_000_000 else 2):
            est = estimator()
            t0 = time.perf_counter()
            est.fit(score[:, None], t, y)
            times.append(time.perf_counter() - t0)
        sec = min(times)
        info.update(limit=limit, ratio=sec / limit, estimate=est.effect_.estimate,
                    se_ai=est.effect_.std_error, fit_times=times)
        m_pairs = est.matches_.n_pairs
        peak = _rss_mb()
        return {"config": config, "n": n, "seconds": sec, "peak_mb": peak, "data_mb": base,
                "extra_mb": peak - base, "pairs": int(m_pairs), "treated": int(t.sum()),
                **info}
    if config in ("ai_variance", "wild_bootstrap"):
        m = csm.match(score, t)
        _ = m.match_count
        base = _rss_mb()
        t0 = time.perf_counter()
        res = matching_effect(m, y, var_neighbors=1)
        if config == "wild_bootstrap":
            t0 = time.perf_counter()
            zero = np.zeros(n)
            lin = float(np.sum(influence_terms(m, y, zero, zero, 0.0)))
            phi = influence_terms(m, y, zero, zero, lin)
            draws = multiplier_bootstrap(phi, n_replicates=100, random_state=0)
            info["se"] = float(draws.std(ddof=1))
        sec = time.perf_counter() - t0
        info.update(estimate=res["estimate"], se_ai=float(np.sqrt(res["variance"])))
        m_pairs = m.n_pairs
    else:
        kw = {"repl_ties": {}, "repl_exact": {"distance_tolerance": 0.0},
              "norepl": {"replace": False}, "repl_2d": {},
              "repl_2d_tol0": {"distance_tolerance": 0.0}, "repl_2d_k5": {"n_neighbors": 5},
              "repl_5d": {},
              "repl_5d_k5": {"n_neighbors": 5},
              "caliper_exact": {"caliper": 0.05,
                                "exact": np.random.default_rng(1).integers(0, 10, n)}}[config]
        s = X2 if "2d" in config else _score5(score, X2) if "5d" in config else score
        t0 = time.perf_counter()
        m = csm.match(s, t, **kw)
        _ = m.match_count
        sec = time.perf_counter() - t0
        m_pairs = m.n_pairs
        info["pair_free"] = m.ranges is not None
    peak = _rss_mb()
    return {"config": config, "n": n, "seconds": sec, "peak_mb": peak, "data_mb": base,
            "extra_mb": peak - base, "pairs": int(m_pairs), "treated": int(t.sum()), **info}


def run_config(config: str, n: int, timeout: float) -> dict:
    load0 = _load()
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", config, str(n)]
    try:
        out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                             check=True)
        res = json.loads(out.stdout.strip().splitlines()[-1])
    except subprocess.TimeoutExpired:
        res = {"config": config, "n": n, "error": f"over {timeout:.0f} s"}
    except subprocess.CalledProcessError as err:
        res = {"config": config, "n": n, "error": err.stderr.strip().splitlines()[-1]}
    res["load_before"], res["load_after"] = load0, _load()
    return res


def bootstrap_benchmark(n: int, replicates: int = 1000, block: int = 50) -> list[dict]:
    import joblib
    from causalsm.inference import multiplier_bootstrap

    phi = np.random.default_rng(0).standard_normal(n) / n
    rows = []

    def timed(label, **kw):
        load0 = _load()
        t0 = time.perf_counter()
        d = multiplier_bootstrap(phi, n_replicates=replicates, random_state=1,
                                 block_size=block, **kw)
        rows.append({"how": label, "seconds": time.perf_counter() - t0,
                     "load_before": load0, "load_after": _load()})
        return d

    seq = timed("sequential (n_jobs=1)")
    loky = timed("joblib loky, n_jobs=2", n_jobs=2)
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        print("dask.distributed is not installed: Dask run skipped")
        same = np.array_equal(seq, loky)
    else:
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster):
            with joblib.parallel_backend("dask"):
                multiplier_bootstrap(phi, n_replicates=4, random_state=1)   # warm-up
                dask_draws = timed("Dask LocalCluster, 2 workers", n_jobs=-1)
        same = np.array_equal(seq, loky) and np.array_equal(seq, dask_draws)
    for r in rows:
        r["speedup"] = rows[0]["seconds"] / r["seconds"]
        r["identical"] = bool(same)
        r["n"], r["replicates"] = n, replicates
    return rows


def _write_parquet(n: int, folder: str, rows: int = 1_000_000) -> None:
    """The benchmark's data (same law as ``_data``), ``rows`` rows a file, seeded per file."""
    import pandas as pd

    os.makedirs(folder, exist_ok=True)
    for i, a in enumerate(range(0, n, rows)):
        m = min(rows, n - a)
        rng = np.random.default_rng([20261129, i])
        x1, x2 = rng.standard_normal(m), rng.standard_normal(m)
        logit = x1 + 0.5 * x2 - 2.45
        t = (rng.random(m) < 1 / (1 + np.exp(-logit))).astype(np.int8)
        pd.DataFrame({"score": logit, "t": t, "y": x1 + t + rng.standard_normal(m)}
                     ).to_parquet(os.path.join(folder, f"part-{i:05d}.parquet"), index=False)


def dask_benchmark(n: int, folder: str, memory_limit: str, check_n: int) -> dict:
    """``matching_effect_dask`` from Parquet on a LocalCluster of 2 single-thread workers."""
    import shutil

    import dask.dataframe as dd
    from distributed import Client, LocalCluster

    from causalsm.estimators.average import matching_effect
    from causalsm.matching import match
    from causalsm.matching.ranged import matching_effect_dask

    out = {"n": n, "memory_limit": memory_limit}
    data = os.path.join(folder, f"data_{n}")
    if not os.path.exists(os.path.join(data, "_done")):
        t0 = time.perf_counter()
        shutil.rmtree(data, ignore_errors=True)
        _write_parquet(n, data)
        open(os.path.join(data, "_done"), "w").close()
        out["write_seconds"] = time.perf_counter() - t0
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      memory_limit=memory_limit, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        # Correctness on a small frame first: the same numbers as in memory.
        small = _data(check_n)
        import pandas as pd
        frame = pd.DataFrame({"score": small[0], "t": small[2], "y": small[3]})
        ref = matching_effect(match(frame["score"], frame["t"]), frame["y"].to_numpy(),
                              var_neighbors=1)
        got = matching_effect_dask(dd.from_pandas(frame, npartitions=8, sort=False),
                                   "score", "t", "y")
        out["check_n"] = check_n
        out["check_estimate_diff"] = abs(got.estimate - ref["estimate"])
        out["check_se_rel_diff"] = abs(got.std_error / np.sqrt(ref["variance"]) - 1)
        client.run(lambda: None)
        sorted_dir = os.path.join(folder, f"sorted_{n}")
        shutil.rmtree(sorted_dir, ignore_errors=True)
        ddf = dd.read_parquet(data)
        load0 = _load()
        t0 = time.perf_counter()
        res = matching_effect_dask(ddf, "score", "t", "y", persist=sorted_dir)
        out["seconds"] = time.perf_counter() - t0
        out["load_before"], out["load_after"] = load0, _load()
        peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        out["worker_peak_mb"] = max(peaks.values())
        out["partitions"] = ddf.npartitions
        out.update(estimate=res.estimate, se=res.std_error, n_matched=res.n_matched,
                   boundary_records=res.details["boundary_records"])
        shutil.rmtree(sorted_dir, ignore_errors=True)
    out["client_peak_mb"] = _rss_mb()
    return out


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=float, nargs="+", default=[1e6, 1e7])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--boot-n", type=float, default=1e6)
    ap.add_argument("--no-bootstrap", action="store_true")
    ap.add_argument("--only-bootstrap", action="store_true")
    ap.add_argument("--json", default=None, help="also write the results to this file")
    ap.add_argument("--dask-n", type=float, default=1e8,
                    help="units of the Dask run from Parquet (0: no Dask run)")
    ap.add_argument("--dask-dir", default="benchmarks/_scale_data",
                    help="folder for the Parquet data (kept for reruns) and the sorted copy")
    ap.add_argument("--dask-memory", default="4GB", help="memory limit of each worker")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(args.worker[0], int(args.worker[1]))))
        return

    import causalsm
    print(f"causalsm {causalsm.__version__}, Python {platform.python_version()}, "
          f"numpy {np.__version__}; {os.cpu_count()} CPU cores")
    results = {"matching": [], "bootstrap": []}
    if not args.only_bootstrap:
        print("\n| step | n | seconds | peak memory (MB) | over the data (MB) | pairs "
              "| load before/after |")
        print("|---|---:|---:|---:|---:|---:|---|")
        for n in (int(s) for s in args.sizes):
            for c in args.configs:
                r = run_config(c, n, args.timeout)
                results["matching"].append(r)
                if "error" in r:
                    print(f"| {CONFIGS[c]} | {n:,} | {r['error']} | | | | "
                          f"{r['load_before']:.1f} / {r['load_after']:.1f} |", flush=True)
                    continue
                if "ratio" in r:
                    print(f"|   sort + search limit {r['limit']:.2f} s: ratio {r['ratio']:.2f} "
                          f"(first fit of the process, 10^4 units: {r['first_fit_small']:.2f} s) "
                          "| | | | | | |")
                print(f"| {CONFIGS[c]} | {n:,} | {r['seconds']:.2f} | {r['peak_mb']:,.0f} | "
                      f"{r['extra_mb']:,.0f} | {r['pairs']:,} | "
                      f"{r['load_before']:.1f} / {r['load_after']:.1f} |", flush=True)
    if args.dask_n and not args.only_bootstrap:
        r = dask_benchmark(int(args.dask_n), args.dask_dir, args.dask_memory, 100_000)
        results["dask"] = r
        print(f"\nDask, range-partitioned (matching_effect_dask, ATT 1:1, J=1) from Parquet: "
              f"{r}", flush=True)
    if not args.no_bootstrap:
        rows = bootstrap_benchmark(int(args.boot_n))
        results["bootstrap"] = rows
        print(f"\n1,000 multiplier-bootstrap replicates, n = {int(args.boot_n):,}, blocks of 50; "
              f"draws identical across runs: {rows[0]['identical']}")
        print("\n| how | seconds | speed-up | load before/after |")
        print("|---|---:|---:|---|")
        for r in rows:
            print(f"| {r['how']} | {r['seconds']:.2f} | {r['speedup']:.2f}x | "
                  f"{r['load_before']:.1f} / {r['load_after']:.1f} |")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
