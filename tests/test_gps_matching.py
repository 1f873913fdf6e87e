"""GPS matching and weighting for a continuous exposure: the engine, the designs, balance."""

import warnings

import numpy as np
import pandas as pd
import pytest

from causalsm import InputError
from causalsm.balance import exposure_balance, exposure_correlation, weighted_ranks
from causalsm.datasets import simulate_causalgps
from causalsm.estimators.continuous import GPSMatching, GPSWeighting, weighted_ks
from causalsm.matching.exposure import default_levels, match_levels

COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]


def _brute(w, gps, E, levels, delta, scale):
    """CausalGPS's linear scan (compute_closest_wgps_helper), written out."""
    n = w.size
    sw = (w - w.min()) / (w.max() - w.min())
    sg = (gps - gps.min()) / (gps.max() - gps.min())
    counts = np.zeros(n, dtype=np.int64)
    for col, level in enumerate(levels):
        cand = np.flatnonzero(np.abs(w - level) <= delta / 2)
        if cand.size == 0:
            continue
        b = (E[:, col] - gps.min()) / (gps.max() - gps.min())
        cd = np.abs(sw[cand] - (level - w.min()) / (w.max() - w.min())) * (1 - scale)
        for i in range(n):
            d = np.abs((b[i] - sg[cand]) * scale) + cd
            counts[cand[np.argmin(d)]] += 1       # first minimum in data order
    return counts


@pytest.mark.parametrize("seed", range(12))
def test_engine_equals_the_linear_scan(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(20, 150))
    w = rng.normal(size=n) * 3
    gps = rng.uniform(size=n)
    E = rng.uniform(size=(n, 6))
    if seed % 3 == 0:                    # ties: rounded exposures and GPS values
        w, gps, E = np.round(w), np.round(gps, 1), np.round(E, 1)
    delta = float(rng.uniform(0.5, 3))
    levels = default_levels(w, delta)[:6]
    E = E[:, :levels.size]
    for scale in (0.0, 0.3, 0.5, 1.0):
        got = match_levels(w, gps, lambda lv: E[:, np.searchsorted(levels, lv)], levels,
                           delta, scale, keep_matches=True)
        np.testing.assert_array_equal(got.counts, _brute(w, gps, E, levels, delta, scale))
        assert got.matched.shape == (n, levels.size)
        np.testing.assert_array_equal(np.bincount(got.matched[got.matched >= 0], minlength=n),
                                      got.counts)


def test_engine_threads_give_the_same_counts():
    rng = np.random.default_rng(0)
    w, gps = rng.normal(size=3000), rng.uniform(size=3000)
    E = rng.uniform(size=(3000, 40))
    levels = np.linspace(-2, 2, 40)
    at = lambda lv: E[:, np.searchsorted(levels, lv)]            # noqa: E731
    one = match_levels(w, gps, at, levels, 0.2, 0.5).counts
    two = match_levels(w, gps, at, levels, 0.2, 0.5, n_jobs=2).counts
    np.testing.assert_array_equal(one, two)


def test_default_levels_follow_r_seq():
    # seq(0.5, 10, by = 1) -> 0.5, ..., 9.5; R's 1e-10 fuzz keeps an end that rounding
    # puts a hair above max(w)
    np.testing.assert_array_equal(default_levels(np.array([0.0, 10.0]), 1.0),
                                  np.arange(0.5, 10, 1.0))
    assert default_levels(np.array([0.0, 0.3]), 0.1).size == 3
    with pytest.raises(ValueError, match="too large"):
        default_levels(np.array([0.0, 1.0]), 5.0)


@pytest.fixture(scope="module")
def data():
    return simulate_causalgps(2000, 1, random_state=11)


def test_matching_counts_and_balance(data):
    X, w = data[COVS], data["w"]
    m = GPSMatching(scale=1.0).fit(X, w)
    kept = int(m.kept_.sum())
    assert m.n_trimmed_ == 2000 - kept and kept == 1800
    assert m.weights_[~m.kept_].sum() == 0
    assert m.weights_.sum() == kept * (len(m.levels_) - m.n_empty_levels_)
    assert m.delta_n_ == pytest.approx(np.ptp(w[m.kept_]) / 50)
    before, after = (m.balance_.attrs[f"max_abs_corr_{k}"] for k in ("before", "after"))
    assert before > 0.2 and after < 0.6 * before
    assert m.passed_ == (after < 0.1) and m.ess_ == pytest.approx(m.balance_.attrs["ess"])
    # scale = 0: only the exposure distance counts, so at each level every unit is
    # matched to the same candidate, which collects all the kept units
    m0 = GPSMatching(scale=0.0, keep_matches=True).fit(X, w)
    used = m0.matches_[m0.kept_]
    for col in range(used.shape[1]):
        assert np.unique(used[:, col][used[:, col] >= 0]).size <= 1


def test_retry_over_parameters(data):
    X, w = data[COVS], data["w"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = GPSMatching(delta_n=[8.0, 1.0, 0.5], scale=[0.0, 1.0],
                        balance_threshold=0.15).fit(X, w)
    tried = m.attempts_
    assert list(tried.columns) == ["attempt", "delta_n", "scale", "balance", "pass"]
    # stops at the first combination that passes (delta 1, scale 1: the 4th)
    assert len(tried) == 4 and tried["pass"].iloc[-1] and not tried["pass"].iloc[:-1].any()
    assert (m.delta_n_, m.scale_) == tuple(tried[["delta_n", "scale"]].iloc[-1])
    with pytest.warns(RuntimeWarning, match="balance not reached"):
        bad = GPSMatching(delta_n=[8.0], scale=[0.0, 0.2], balance_threshold=0.01).fit(X, w)
    assert bad.balance_value_ == pytest.approx(bad.attempts_["balance"].min())
    assert len(bad.attempts_) == 2


def test_trimming_warns_and_counts(data):
    with pytest.warns(RuntimeWarning, match="200 of 2000 units were trimmed"):
        m = GPSMatching().fit(data[COVS], data["w"])
    assert m.n_trimmed_ == 200
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        g = GPSMatching(trim_exposure=None, trim_gps=(0.02, 1.0)).fit(data[COVS], data["w"])
    assert g.n_trimmed_ == 40


def test_weighting(data):
    X, w = data[COVS], data["w"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        design = GPSWeighting().fit(X, w)
        capped = GPSWeighting(max_weight=2.0).fit(X, w)
        stabilised = GPSWeighting(normalize=False, max_weight=None).fit(X, w)
        raw = GPSWeighting(numerator="none", normalize=False).fit(X, w)
    assert design.weights_.mean() == pytest.approx(1.0)
    # the cap applies to the stabilised weights f / r, then they are normalised
    expected = np.minimum(stabilised.weights_, 2.0)
    assert (stabilised.weights_ > 2.0).sum() > 10
    np.testing.assert_allclose(capped.weights_, expected / expected.mean(), rtol=1e-12)
    # the default caps them at 10, with a warning that counts them; plain inverse
    # densities (numerator "none") have the exposure's scale and are not capped
    big = stabilised.weights_ > 10
    assert big.sum() >= 1
    with pytest.warns(RuntimeWarning, match=rf"{big.sum()} of {w.size} stabilised weights "
                                            r"\(holding .*\) were capped at max_weight = 10"):
        GPSWeighting().fit(X, w)
    ten = np.minimum(stabilised.weights_, 10.0)
    np.testing.assert_allclose(design.weights_, ten / ten.mean(), rtol=1e-12)
    assert "weights capped at 10" in design.describe()
    gps = raw.gps_.density(X, w)
    np.testing.assert_allclose(raw.weights_, 1 / gps, rtol=1e-12)
    assert "capped" not in raw.describe()
    for bad in (0, -1.0, "ten"):
        with pytest.raises(InputError, match="max_weight must be a positive number"):
            GPSWeighting(max_weight=bad).fit(X, w)
    assert design.balance_.attrs["max_abs_corr_after"] < 0.1 < \
        design.balance_.attrs["max_abs_corr_before"]


def test_balance_statistics():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    w = np.array([2.0, 1.0, 4.0, 3.0, 6.0])
    c = np.array([1.0, 2.0, 0.0, 1.0, 3.0])
    # cobalt's weighted Pearson: weighted covariance / unweighted SDs
    v = c / c.sum()
    cov = (v * (x - v @ x) * (w - v @ w)).sum() / (1 - v @ v)
    expected = cov / (x.std(ddof=1) * w.std(ddof=1))
    assert exposure_correlation(x[:, None], w, c)[0] == pytest.approx(expected, rel=1e-12)
    assert exposure_correlation(x[:, None], w)[0] == pytest.approx(np.corrcoef(x, w)[0, 1])
    # wCorr's weighted ranks with zero weights and ties
    np.testing.assert_allclose(weighted_ranks([2.0, 1.0, 2.0, 0.0], [1.0, 2.0, 3.0, 0.0]),
                               [4.5, 1.5, 4.5, 0.5])
    tab = exposure_balance(x[:, None], w, c, method="spearman", columns=["x"])
    assert tab.attrs["ess"] == pytest.approx(c.sum() ** 2 / (c @ c))
    assert tab.index.tolist() == ["x"]
    assert weighted_ks(np.arange(4.0), np.array([1.0, 1.0, 1.0, 1.0])) == 0.0
    with pytest.raises(InputError, match="method"):
        exposure_correlation(x[:, None], w, method="kendall")


def test_errors(data):
    X = data[COVS]
    with pytest.raises(InputError, match="'w' is constant"):
        GPSMatching().fit(X, pd.Series(np.ones(2000), name="w").rename("w"))
    with pytest.raises(InputError, match="binary treatment"):
        GPSMatching().fit(X, (data["w"] > 10).astype(int))
    with pytest.raises(InputError, match="scale must be in"):
        GPSMatching(scale=1.5).fit(X, data["w"])
    with pytest.raises(InputError, match="too large"):
        GPSMatching(delta_n=500.0).fit(X, data["w"])
    with pytest.raises(InputError, match="trim_exposure"):
        GPSMatching(trim_exposure=(0.9, 0.1)).fit(X, data["w"])
    with pytest.raises(InputError, match="numerator"):
        GPSWeighting(numerator="kde2").fit(X, data["w"])
    with pytest.raises(InputError, match="balance_summary"):
        GPSMatching(balance_summary="maximal").fit(X, data["w"])
