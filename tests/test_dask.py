"""Parallel and distributed work through Dask gives the sequential results, exactly.

A dask.distributed LocalCluster with two worker processes runs the bootstraps (via
joblib's dask backend) and the strata-partitioned match; every number must equal the
sequential run with the same seed.  Skipped when dask[distributed] is not installed.
"""

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")
joblib = pytest.importorskip("joblib")

import causalsm as csm  # noqa: E402
from causalsm.inference import multiplier_bootstrap  # noqa: E402
from causalsm.matching import match, match_dask  # noqa: E402


def _frame(n=6000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-x[:, 0]))).astype(int)
    return pd.DataFrame({"s": np.round(x[:, 0] + 0.5 * x[:, 1], 3),   # rounded: exact ties
                         "s2": x[:, 2], "t": t,
                         "g": rng.integers(0, 5, n), "h": rng.choice(["u", "v"], n),
                         "y": x[:, 0] + 2 * t + rng.normal(size=n)},
                        index=pd.Index([f"row{i}" for i in range(n)]))


def test_multiplier_bootstrap_on_the_cluster_equals_the_sequential_run(client):
    # 10^5 units: large enough that the array reaches the workers as a (possibly
    # unaligned) buffer, which must not change a single draw
    phi = np.random.default_rng(1).normal(size=100_000) / 100_000
    seq = multiplier_bootstrap(phi, n_replicates=400, random_state=7, block_size=50)
    with joblib.parallel_backend("dask"):
        dist = multiplier_bootstrap(phi, n_replicates=400, random_state=7, block_size=50,
                                    n_jobs=-1)
    np.testing.assert_array_equal(seq, dist)
    for weights in ("mammen", "gaussian"):
        a = multiplier_bootstrap(phi, n_replicates=300, weights=weights, random_state=2,
                                 block_size=50)
        with joblib.parallel_backend("dask"):
            b = multiplier_bootstrap(phi, n_replicates=300, weights=weights, random_state=2,
                                     block_size=50, n_jobs=-1)
        np.testing.assert_array_equal(a, b)


def test_wild_bootstrap_estimator_on_the_cluster(client):
    df = _frame(2000)
    kw = dict(balancing_score=csm.PropensityScore(), variance="wild_bootstrap", n_bootstrap=500,
              random_state=3)
    seq = csm.MatchingEstimator(**kw).fit(df[["s", "s2"]], df["t"], df["y"])
    with joblib.parallel_backend("dask"):
        dist = csm.MatchingEstimator(n_jobs=-1, **kw).fit(df[["s", "s2"]], df["t"], df["y"])
    assert seq.effect_.estimate == dist.effect_.estimate
    assert seq.effect_.std_error == dist.effect_.std_error
    assert seq.effect_.conf_int() == dist.effect_.conf_int()


def test_multiply_robust_bootstrap_on_the_cluster(client):
    df = _frame(300, seed=4)
    kw = dict(quantiles=[0.5], n_bootstrap=8, random_state=5)
    X, t, y = df[["s", "s2"]], df["t"], df["y"]
    seq = csm.MultiplyRobustMatching(n_jobs=1, **kw).fit(X, t, y)
    with joblib.parallel_backend("dask"):
        dist = csm.MultiplyRobustMatching(n_jobs=-1, **kw).fit(X, t, y)
    np.testing.assert_allclose(seq.bootstrap_.to_numpy(), dist.bootstrap_.to_numpy(),
                               rtol=1e-10, atol=0)


@pytest.mark.parametrize("kw", [
    {},
    {"caliper": 0.05, "n_neighbors": 2},
    {"estimand": "ATE", "distance_tolerance": 0.0},
    {"estimand": "ATC", "drop_incomplete": True, "caliper": 0.02},
    {"replace": False},
    {"replace": False, "order": "largest", "caliper": 0.1},
    {"score": ["s", "s2"]},
])
def test_match_dask_equals_match_on_the_collected_frame(client, kw):
    kw = dict(kw)
    score = kw.pop("score", "s")
    ddf = dd.from_pandas(_frame(), npartitions=5)
    df = ddf.compute()                              # the rows in partition order
    seq = match(df[score], df["t"], exact=df[["g", "h"]], index=df.index, **kw)
    dist = match_dask(ddf, score, "t", exact=["g", "h"], npartitions=3, **kw)
    pd.testing.assert_frame_equal(seq.pairs(), dist.pairs(), check_exact=True)
    np.testing.assert_array_equal(seq.match_count, dist.match_count)
    np.testing.assert_array_equal(seq.match_count_sq, dist.match_count_sq)
    np.testing.assert_array_equal(seq.dropped, dist.dropped)
    assert seq.index.equals(dist.index)
    pd.testing.assert_frame_equal(seq.matched_data(), dist.matched_data(), check_exact=True)
    if seq.replace:
        y = df["y"].to_numpy()
        from causalsm.estimators.average import matching_effect
        a, b = matching_effect(seq, y), matching_effect(dist, y)
        assert a["estimate"] == b["estimate"] and a["variance"] == b["variance"]


def test_match_dask_accepts_pandas_and_checks_its_input():
    df = _frame(500)
    m = match_dask(df, "s", "t", exact="g")
    ref = match(df["s"], df["t"], exact=df["g"])
    pd.testing.assert_frame_equal(ref.pairs(), m.pairs(), check_exact=True)
    with pytest.raises(csm.InputError, match="not in the data frame"):
        match_dask(df, "nope", "t", exact="g")
    with pytest.raises(csm.InputError, match="order"):
        match_dask(df, "s", "t", exact="g", replace=False, order="random")
