"""Range-partitioned matching on Dask equals ``match`` on the collected frame.

A LocalCluster with two worker processes sorts the units by score and matches each
partition with a halo from its neighbours; the matches, match counts, estimate and
Abadie-Imbens variances must equal the in-memory ones, at partition boundaries too:
ties across partitions, empty partitions, and all controls in one partition.
"""

import warnings

import numpy as np
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")
dd = pytest.importorskip("dask.dataframe")

from causalsm._validation import InputError  # noqa: E402
from causalsm.estimators.average import matching_effect  # noqa: E402
from causalsm.matching import match, match_dask  # noqa: E402
from causalsm.matching.ranged import _sorted_frame, matching_effect_dask  # noqa: E402


def _case(name, n=1500, seed=0):
    rng = np.random.default_rng(seed)
    t = (rng.random(n) < 0.35).astype(int)
    if name == "ties":          # few distinct values: equal scores span partitions
        s = np.round(rng.normal(size=n), 1)
    elif name == "empty":       # three distinct values for eight partitions
        s = rng.choice([-1.0, 0.0, 2.5], n)
    else:                       # "one_partition": every control in a narrow interval
        s = np.where(t == 1, rng.uniform(-3, 3, n), rng.uniform(0.0, 0.05, n))
    y = s + 2 * t + rng.normal(size=n)
    return pd.DataFrame({"s": s, "t": t, "y": y})


def _check_match(df, ddf, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        ref = match(df["s"], df["t"], **kw)
        got = match_dask(ddf, "s", "t", npartitions=8, **kw)
    a, b = ref.pairs(), got.pairs()
    pd.testing.assert_frame_equal(a[["subclass", "treated", "control"]],
                                  b[["subclass", "treated", "control"]], check_exact=True)
    np.testing.assert_allclose(b[["weight", "distance"]], a[["weight", "distance"]],
                               rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got.match_count, ref.match_count, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(got.weights, ref.weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(got.dropped, ref.dropped)
    return ref


def _check_effect(df, ddf, ref, J, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        want = matching_effect(ref, df["y"].to_numpy(), var_neighbors=J)
        got = matching_effect_dask(ddf, "s", "t", "y", var_neighbors=J, npartitions=8, **kw)
    assert got.estimate == pytest.approx(want["estimate"], rel=1e-12, abs=1e-14)
    assert got.details["variance_population"] == pytest.approx(
        want["variance_population"], rel=1e-12)
    assert got.details["variance_sample"] == pytest.approx(want["variance_sample"], rel=1e-12)
    assert got.n_matched == ref.n_matched and got.n_dropped == ref.n_dropped


@pytest.mark.parametrize("name", ["ties", "empty", "one_partition"])
def test_range_partitioned_match_equals_match(client, name):
    df = _case(name)
    ddf = dd.from_pandas(df, npartitions=5, sort=False)
    if name == "empty":                          # the case is really exercised
        parts, _ = _sorted_frame(ddf, "s", "t", [], 8)
        assert (parts.map_partitions(len).compute() == 0).any()
    ref = _check_match(df, ddf, estimand="ATT")
    _check_effect(df, ddf, ref, J=1)
    ref = _check_match(df, ddf, estimand="ATE", n_neighbors=2)
    _check_effect(df, ddf, ref, J=0, estimand="ATE", n_neighbors=2)


def test_range_partitioned_caliper_and_atc(client):
    df = _case("ties", seed=3)
    ddf = dd.from_pandas(df, npartitions=4, sort=False)
    ref = _check_match(df, ddf, estimand="ATC", n_neighbors=3, caliper=0.02)
    assert ref.n_dropped > 0
    _check_effect(df, ddf, ref, J=2, estimand="ATC", n_neighbors=3, caliper=0.02)


def test_range_partitioned_input_errors(client):
    df = _case("ties")
    ddf = dd.from_pandas(df, npartitions=2, sort=False)
    with pytest.raises(InputError, match="one score column with replacement"):
        match_dask(ddf, "s", "t", replace=False)
    with pytest.raises(InputError, match="'nope' is not in the data frame"):
        matching_effect_dask(ddf, "s", "t", "nope")
    bad = df.assign(t=df["t"] * 2)
    with pytest.raises(InputError, match="binary"):
        matching_effect_dask(dd.from_pandas(bad, npartitions=2), "s", "t", "y")
