"""The fast paths of matching at scale equal their reference paths, on small data.

* 1-d with replacement: one sort of all units shared by the match and the same-arm
  variance, pair-free ranges and blocked prefix sums, with and without the compiled
  kernels (galloping tie searches, sliding-window sums, match counts), against the
  pair engine;
* greedy 1-d without replacement: the compiled loop against the Python loop;
* multi-d with replacement: chunked KD-tree queries in tree order with the neighbour
  count carried over, against a brute-force search;
with ties under R's tolerance (1e-5 on the squared standardized distance, plus R's
1e-10) placed on both sides of its edge.
"""

import math
import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.preprocessing import FunctionTransformer

import causalsm as csm
from causalsm._validation import InputError, check_treatment
from causalsm.estimators.average import matching_effect
from causalsm.matching import _jit, nearest, result
from causalsm.matching.nearest import match


def _edge_ties(n=1200, seed=0):
    """A 1-d score (used unstandardized) with controls on both sides of the edge of
    R's tie tolerance around 40 treated units: one at the unit's own score (the
    nearest, distance 0), one at squared distance 1e-5 + 0.5e-10 (a tie under R's
    rule) and one at 1e-5 + 2e-10 (not a tie).  Returns ``s, t, y, (treated, inside,
    outside)``."""
    rng = np.random.default_rng(seed)
    s = np.round(rng.normal(size=n), 2)
    t = (rng.random(n) < 0.25).astype(int)
    treated = np.flatnonzero(t == 1)[:40]
    s[treated] = np.arange(40) * 0.5 - 10.0              # far apart from each other
    ctrl = np.flatnonzero(t == 0)[:120]
    same, inside, outside = ctrl[:40], ctrl[40:80], ctrl[80:]
    s[same] = s[treated]
    s[inside] = s[treated] + math.sqrt(1e-5 + 0.5e-10)
    s[outside] = s[treated] - math.sqrt(1e-5 + 2e-10)
    y = s + t + rng.normal(size=n)
    return s, t, y, (treated, inside, outside)


def _reference(monkeypatch, fn):
    with monkeypatch.context() as mp:
        mp.setattr(nearest, "PAIR_FREE", False)
        return fn()


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
@pytest.mark.parametrize("k", [1, 3])
def test_one_sort_pair_free_path_equals_pair_engine(monkeypatch, estimand, k, compiled):
    # compiled: the numba kernels (tie ranges, window sums, match counts); else numpy
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    s, t, y, (treated, inside, outside) = _edge_ties(seed=k)
    kw = dict(estimand=estimand, n_neighbors=k, standardize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = match(s, t, **kw)
        ref = _reference(monkeypatch, lambda: match(s, t, **kw))
    if estimand == "ATT" and k == 1:         # the edge itself, as R's Match draws it
        pairs = set(zip(fast.focal.tolist(), fast.matched.tolist()))
        assert all((i, j) in pairs for i, j in zip(treated, inside))
        assert not any((i, j) in pairs for i, j in zip(treated, outside))
    assert fast.ranges is not None and fast.ranges.ranked is not None and ref.ranges is None
    pd.testing.assert_frame_equal(fast.pairs(), ref.pairs(), check_exact=True)
    np.testing.assert_allclose(fast.weights, ref.weights, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(fast.match_count_sq, ref.match_count_sq, rtol=1e-12, atol=1e-14)
    for J in (0, 1, 2):
        a = matching_effect(fast, y, var_neighbors=J, standardize=False)
        b = matching_effect(ref, y, var_neighbors=J, standardize=False)
        for key in ("estimate", "variance_population", "variance_sample"):
            assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), (key, J)


def test_prefix_sums_path_equals_direct_sums(monkeypatch):
    s, t, y, _ = _edge_ties(seed=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = match(s, t, estimand="ATE")
        direct = matching_effect(m, y, var_neighbors=1)
        monkeypatch.setattr(result, "DIRECT_SUM_LIMIT", -1)
        m2 = match(s, t, estimand="ATE")
        prefix = matching_effect(m2, y, var_neighbors=1)
    for key in ("estimate", "variance_population", "variance_sample"):
        assert prefix[key] == pytest.approx(direct[key], rel=1e-12)


def test_estimator_fit_equals_reference_path(monkeypatch):
    s, t, y, _ = _edge_ties(seed=2)
    kw = dict(balancing_score=FunctionTransformer(), bias_correction=False, standardize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for J in (0, 1):
            fast = csm.MatchingEstimator(var_neighbors=J, **kw).fit(s[:, None], t, y)
            ref = _reference(monkeypatch, lambda: csm.MatchingEstimator(
                var_neighbors=J, **kw).fit(s[:, None], t, y))
            assert fast.effect_.estimate == pytest.approx(ref.effect_.estimate, rel=1e-12)
            assert fast.effect_.std_error == pytest.approx(ref.effect_.std_error, rel=1e-12)


def test_prefix_sums_are_accurate():
    rng = np.random.default_rng(4)
    v = rng.normal(size=20_000) * rng.choice([1.0, 1e6], 20_000)
    got = result.prefix_sums(v)
    assert got.shape == (20_001,) and got[0] == 0.0
    for i in (1, 4095, 4096, 4097, 12_345, 20_000):
        exact = math.fsum(v[:i])
        assert abs(got[i] - exact) <= 1e-14 * np.abs(v[:i]).sum()
    assert result.prefix_sums(np.zeros(0)).tolist() == [0.0]


@pytest.mark.parametrize("kw", [{}, {"n_neighbors": 2}, {"caliper": 0.05},
                                {"order": "random", "random_state": 3},
                                {"order": "largest"}, {"estimand": "ATC"}])
def test_compiled_greedy_loop_equals_python_loop(monkeypatch, kw):
    rng = np.random.default_rng(7)
    n = 1500
    s = np.round(rng.normal(size=n), 2)           # exact ties: the tie-breaking matters
    t = (rng.random(n) < 0.3).astype(int)
    assert _jit.AVAILABLE, "numba is a dev dependency"
    fast = match(s, t, replace=False, **kw)
    monkeypatch.setattr(_jit, "AVAILABLE", False)
    slow = match(s, t, replace=False, **kw)
    pd.testing.assert_frame_equal(fast.pairs(), slow.pairs(), check_exact=True)
    np.testing.assert_array_equal(fast.dropped, slow.dropped)


def _brute_ties(zq, zc, k, tol):
    """Every candidate within tol (+ R's 1e-10) of the k-th smallest squared distance."""
    d2 = ((zq[:, None, :] - zc[None, :, :]) ** 2).sum(axis=2)
    kth = np.partition(d2, k - 1, axis=1)[:, k - 1]
    rows, cols = np.nonzero(d2 <= (kth + tol + 1e-10)[:, None])
    return set(zip(rows.tolist(), cols.tolist()))


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("d,k", [(2, 1), (3, 5)])
def test_chunked_tree_queries_equal_brute_force(monkeypatch, d, k, compiled):
    # compiled: each query's ties read as a prefix of its row (_jit.tree_ties)
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    rng = np.random.default_rng(d)
    n = 16_000
    X = np.round(rng.normal(size=(n, d)), 2)      # exact ties and near-ties
    t = (rng.random(n) < 0.3).astype(int)
    monkeypatch.setattr(nearest, "_CHUNK", 700)    # many chunks, count carried over
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = match(X, t, n_neighbors=k)
    z = (X - X.mean(axis=0)) / X.std(axis=0, ddof=1)
    fi, ci = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    assert fi.size > 1 << 12                       # the tree-ordered path
    ref = _brute_ties(z[fi], z[ci], k, 1e-5)
    got = set(zip(np.searchsorted(fi, m.focal).tolist(),
                  np.searchsorted(ci, m.matched).tolist()))
    assert got == ref


@pytest.mark.parametrize("tol", [1e-5, 0.0])
def test_compiled_tree_ties_give_the_numpy_pairs(monkeypatch, tol):
    rng = np.random.default_rng(4)
    X = np.round(rng.normal(size=(9000, 2)), 2)
    t = (rng.random(9000) < 0.5).astype(int)
    monkeypatch.setattr(nearest, "_CHUNK", 500)
    assert _jit.AVAILABLE, "numba is a dev dependency"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = match(X, t, n_neighbors=3, distance_tolerance=tol, estimand="ATE")
        monkeypatch.setattr(_jit, "AVAILABLE", False)
        slow = match(X, t, n_neighbors=3, distance_tolerance=tol, estimand="ATE")
    assert fast.n_pairs > 3 * 9000                 # ties kept
    pd.testing.assert_frame_equal(fast.pairs(), slow.pairs(), check_exact=True)


def test_binary_check_of_the_treatment():
    assert check_treatment(np.array([1.0, 0.0, 1.0])).tolist() == [1, 0, 1]
    assert check_treatment(np.array([0, 1], dtype=np.int8)).dtype == np.int64
    with pytest.raises(InputError, match=r"found 3 distinct values \(0, 1, 2\)"):
        check_treatment([0, 1, 2, 1])
    with pytest.raises(InputError, match=r"only one value \(1\)"):
        check_treatment([1, 1, 1])
    with pytest.raises(InputError, match=r"only one value \(0\)"):
        check_treatment(np.zeros(4))


@pytest.mark.parametrize("discard", ["control", "both"])
def test_pair_free_path_with_discarded_units_equals_pair_engine(monkeypatch, discard):
    # discarded units: the one sort of all units is not used, the arms are subsets
    s, t, y, _ = _edge_ties(seed=6)
    kw = dict(estimand="ATT", discard=discard, standardize=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        fast = match(s, t, **kw)
        ref = _reference(monkeypatch, lambda: match(s, t, **kw))
    assert fast.discarded.any() and fast.ranges is not None and fast.ranges.ranked is None
    np.testing.assert_array_equal(fast.discarded, ref.discarded)
    pd.testing.assert_frame_equal(fast.pairs(), ref.pairs(), check_exact=True)
    a = matching_effect(fast, y, var_neighbors=1, standardize=False)
    b = matching_effect(ref, y, var_neighbors=1, standardize=False)
    for key in ("estimate", "variance_population", "variance_sample"):
        assert a[key] == pytest.approx(b[key], rel=1e-12, abs=1e-15), key


@pytest.mark.parametrize("compiled", [True, False])
def test_score_order_is_a_stable_argsort(monkeypatch, compiled):
    # packed keys sorted by numpy's sort, runs sharing their leading bits re-ordered
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    rng = np.random.default_rng(7)
    near = 1.0 + rng.permutation(3000) * 2.0 ** -50        # one run of leading bits
    for x in (rng.normal(size=5000), np.round(rng.normal(size=5000), 1), near,
              rng.normal(size=2000) * 1e-300, np.array([0.0, -0.0, 1.0, -1.0, -0.0, 0.0]),
              np.array([2.5]), np.zeros(0), rng.permutation(10_000),
              rng.integers(0, 30, 4000)):
        np.testing.assert_array_equal(_jit.score_order(x), np.argsort(x, kind="stable"))
    t = (rng.random(5000) < 0.3).astype(np.int64)
    x = rng.normal(size=5000)
    order = _jit.score_order(x)
    (cp, cv), (tp, tv) = _jit.split_arms(order, x, t)
    np.testing.assert_array_equal(cp, order[t[order] == 0])
    np.testing.assert_array_equal(tp, order[t[order] == 1])
    np.testing.assert_array_equal(cv, x[cp])
    np.testing.assert_array_equal(tv, x[tp])


@pytest.mark.parametrize("compiled", [True, False])
@pytest.mark.parametrize("J", [1, 2])
def test_same_arm_variances_from_ranked_arms_equal_the_search(monkeypatch, J, compiled):
    # the sorted arms of the match (no strata, no caliper) against a search of each arm
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    s, t, y, _ = _edge_ties(seed=J)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        m = match(s, t, estimand="ATE", standardize=False)
    kw = dict(distance_tolerance=1e-5, standardize=False)
    fast = nearest.same_arm_variances(s, t, J, y, ranked=m.ranges.ranked, **kw)
    slow = nearest.same_arm_variances(s, t, J, y, **kw)
    for a, b in zip(fast, slow):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    for a, b in zip(nearest.same_arm_moments(s, t, J, y, ranked=m.ranges.ranked, **kw),
                    nearest.same_arm_moments(s, t, J, y, **kw)):
        np.testing.assert_allclose(a, b, rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize("compiled", [True, False])
def test_pooled_sd_compiled_equals_numpy(monkeypatch, compiled):
    from causalsm.sensitivity.evalue import pooled_sd
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    rng = np.random.default_rng(3)
    y = rng.normal(size=500) * 1e3 + 1e6
    t = (rng.random(500) < 0.3).astype(np.int64)
    w = np.where(rng.random(500) < 0.2, 0.0, rng.random(500) * 3)
    var = []
    for arm in (0, 1):
        sel = (t == arm) & (w > 0)
        m = np.average(y[sel], weights=w[sel])
        var.append(math.fsum(w[sel] * (y[sel] - m) ** 2) / math.fsum(w[sel]))
    assert pooled_sd(y, t, w) == pytest.approx(math.sqrt((var[0] + var[1]) / 2), rel=1e-12)
    assert math.isnan(pooled_sd(y, t, np.where(t == 1, 0.0, w)))


@pytest.mark.parametrize("compiled", [True, False])
def test_arm_extremes(monkeypatch, compiled):
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    rng = np.random.default_rng(9)
    x = rng.normal(size=300)
    t = (rng.random(300) < 0.4).astype(np.int64)
    got = _jit.arm_extremes(x, t)
    assert got == ((x[t == 0].min(), x[t == 0].max()), (x[t == 1].min(), x[t == 1].max()))
    assert _jit.arm_extremes(x, np.zeros(300, dtype=np.int64))[1] == (np.inf, -np.inf)
    with pytest.warns(UserWarning, match="no overlap"):
        from causalsm.matching.support import warn_poor_overlap
        warn_poor_overlap(None, None, t, np.where(t == 1, 10.0, 0.0) + x * 0.1)


@pytest.mark.parametrize("compiled", [True, False])
def test_sort_pairs_is_the_argsort_of_focal_then_match(monkeypatch, compiled):
    # pairs found unit by unit (one run per focal unit, matches by distance), as the
    # KD-tree search gives them; a unit whose pairs are split falls back to argsort
    monkeypatch.setattr(_jit, "AVAILABLE", compiled and _jit.AVAILABLE)
    rng = np.random.default_rng(11)

    def check(focal, matched):
        d2 = rng.random(focal.size)
        o = np.argsort(focal * 200 + matched, kind="stable")
        got = _jit.sort_pairs(focal, matched, d2)
        for a, b in zip(got, (focal[o], matched[o], d2[o])):
            np.testing.assert_array_equal(a, b)

    for _ in range(50):
        units = rng.permutation(rng.integers(1, 60))
        runs = [rng.choice(200, size=rng.integers(1, 9), replace=False) for _ in units]
        check(np.repeat(units, [r.size for r in runs]), np.concatenate(runs))
    check(np.array([1, 1, 0, 1]), np.array([3, 2, 5, 0]))
