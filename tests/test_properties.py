"""Property-based tests of the matching invariants (hypothesis): every focal unit's
matches are its nearest eligible units, the match weights add up to the focal count,
and the estimate does not depend on the order of the rows or on affine changes of the
covariates' units."""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import causalsm as csm
from causalsm import match
from causalsm.estimators.average import matching_effect

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])


@st.composite
def scored_arms(draw, min_n=6, max_n=30, ties=True):
    """A 1-d score (integers when ``ties``, so that equal distances occur) and a 0/1
    treatment with at least three units in each arm (the largest n_neighbors drawn)."""
    n = draw(st.integers(min_n, max_n))
    t = np.array(draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    t[:3], t[3:6] = 1, 0
    if ties:
        s = np.array(draw(st.lists(st.integers(-5, 5), min_size=n, max_size=n)), float)
    else:
        s = np.array(draw(st.lists(st.floats(-10, 10, allow_nan=False), min_size=n,
                                   max_size=n, unique=True)), float)
    return s, t


@SETTINGS
@given(scored_arms(), st.integers(1, 3), st.sampled_from(["ATT", "ATC", "ATE"]))
def test_matches_are_the_nearest_eligible_units(data, k, estimand):
    s, t = data
    m = match(s, t, estimand=estimand, n_neighbors=k, standardize=False)
    focal_arms = {"ATT": (1,), "ATC": (0,), "ATE": (0, 1)}[estimand]
    pairs = m.pairs()
    for i in np.flatnonzero(np.isin(t, focal_arms)):
        pool = np.flatnonzero(t != t[i])
        d = np.abs(s[pool] - s[i])
        kth = np.sort(d)[min(k, pool.size) - 1]
        expected = set(pool[d <= kth + 1e-9].tolist())       # ties at the k-th kept
        other = "control" if t[i] == 1 else "treated"      # subclass = the focal unit
        got = set(pairs.loc[pairs["subclass"] == i, other].tolist())
        assert got == expected


@SETTINGS
@given(scored_arms(), st.integers(1, 3), st.sampled_from(["ATT", "ATC"]))
def test_match_weights_add_up_to_the_focal_count(data, k, estimand):
    s, t = data
    m = match(s, t, estimand=estimand, n_neighbors=k, standardize=False)
    n_focal = int((t == (1 if estimand == "ATT" else 0)).sum())
    assert m.match_count.sum() == pytest.approx(n_focal)
    md = m.matched_data()
    focal = md["treated"] == (1 if estimand == "ATT" else 0)
    assert md.loc[~focal, "weights"].sum() == pytest.approx(n_focal)
    assert md.loc[focal, "weights"].sum() == pytest.approx(n_focal)


@SETTINGS
@given(scored_arms(ties=False, min_n=8), st.integers(1, 2),
       st.sampled_from([True, False]), st.randoms(use_true_random=False))
def test_matching_estimate_does_not_depend_on_row_order(data, k, replace, rnd):
    s, t = data
    y = np.sin(s) + 2 * t
    perm = np.array(rnd.sample(range(s.size), s.size))
    kw = dict(estimand="ATT", n_neighbors=k, replace=replace, standardize=False)
    if not replace and (t == 0).sum() < k * (t == 1).sum():
        kw["n_neighbors"] = 1
        if (t == 0).sum() < (t == 1).sum():
            return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        m1, m2 = match(s, t, **kw), match(s[perm], t[perm], **kw)
    if replace:
        a = matching_effect(m1, y)["estimate"]
        b = matching_effect(m2, y[perm])["estimate"]
        assert a == pytest.approx(b, rel=1e-12, abs=1e-12)
    else:            # greedy in data order: the order matters, the sizes do not
        assert m1.n_matched == m2.n_matched


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.floats(1e-6, 1e6), st.floats(-1e6, 1e6),
       st.sampled_from(["propensity", "mahalanobis"]))
def test_estimate_is_invariant_to_affine_changes_of_the_covariates(seed, a, b, score):
    rng = np.random.default_rng(seed)
    n = 120
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-0.5 * X[:, 0]))).astype(int)
    t[:3], t[3:6] = 1, 0
    y = X @ [1.0, -1.0, 0.5] + t + rng.normal(size=n)
    make = {"propensity": csm.PropensityScore,
            "mahalanobis": lambda: csm.CovariateScore(scale="mahalanobis")}[score]
    scale = np.array([a, 1.0, 1 / a])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = csm.MatchingEstimator(balancing_score=make()).fit(X, t, y).effect_
        got = csm.MatchingEstimator(balancing_score=make()).fit(X * scale + b, t, y).effect_
    # X * scale + b keeps about 16 - log10(|b| / (|scale| sd)) digits of X
    digits = 15 - np.log10(max(1.0, abs(b) / min(a, 1 / a)))
    tol = max(10.0 ** -digits * 100, 1e-9)
    if tol < 1e-3:
        assert got.estimate == pytest.approx(ref.estimate, rel=tol, abs=tol)
