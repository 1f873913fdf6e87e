"""The matching engine against brute-force definitions, on small random data."""

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm import InputError, match


def brute_with_replacement(z, t, k, tol, focal_arm, cal=None, raw=None):
    """Definition: every other-arm unit within tol of the k-th smallest squared distance."""
    pairs = set()
    for i in np.flatnonzero(t == focal_arm):
        cand = np.flatnonzero(t != focal_arm)
        d2 = ((z[cand] - z[i]) ** 2).sum(axis=1)
        if cal is not None:
            ok = (np.abs(raw[cand] - raw[i]) <= cal).all(axis=1)
            cand, d2 = cand[ok], d2[ok]
        if cand.size == 0:
            continue
        kth = np.sort(d2)[min(k, cand.size) - 1]
        for j in cand[d2 <= kth + tol]:
            pairs.add((i, j))
    return pairs


def standardized(raw):
    return (raw - raw.mean(0)) / raw.std(0, ddof=1)


def pair_set(m):
    return set(zip(m.focal.tolist(), m.matched.tolist()))


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("estimand", ["ATT", "ATC", "ATE"])
def test_with_replacement_equals_definition(dim, k, estimand):
    rng = np.random.default_rng(dim * 10 + k)
    n = 120
    raw = rng.normal(size=(n, dim))
    raw[:10] = raw[10:20]                      # exact duplicates: ties
    raw = np.round(raw, 1)                     # and many more ties
    t = (rng.random(n) < 0.4).astype(int)
    m = match(raw, t, estimand=estimand, n_neighbors=k)
    z = standardized(raw)
    arms = {"ATT": [1], "ATC": [0], "ATE": [1, 0]}[estimand]
    expected = set().union(*[brute_with_replacement(z, t, k, 1e-5, a) for a in arms])
    assert pair_set(m) == expected
    # tied matches share one unit of weight
    np.testing.assert_allclose(np.bincount(m.focal, m.pair_weight)[m.focal_units], 1.0)
    assert m.n_dropped == 0


@pytest.mark.parametrize("dim", [1, 2])
def test_caliper_equals_definition_and_reports_drops(dim):
    rng = np.random.default_rng(7)
    n = 150
    raw = rng.normal(size=(n, dim))
    t = (rng.random(n) < 0.3 + 0.4 * (raw[:, 0] > 0)).astype(int)
    m = match(raw, t, n_neighbors=2, caliper=0.1)
    cal = 0.1 * raw.std(axis=0, ddof=0)
    np.testing.assert_allclose(m.caliper, cal)
    expected = brute_with_replacement(standardized(raw), t, 2, 1e-5, 1, cal=cal, raw=raw)
    assert pair_set(m) == expected
    matched_treated = {i for i, _ in expected}
    assert set(m.dropped.tolist()) == set(np.flatnonzero(t == 1)) - matched_treated
    assert m.n_dropped > 0
    raw_units = match(raw, t, n_neighbors=2, caliper=cal, caliper_units="raw")
    assert pair_set(raw_units) == expected


def test_ties_broken_at_random_reproducibly():
    score = np.array([0.0, 0.0, 1.0, 1.0, 1.0, 3.0, 5.0, 5.0])
    t = np.array([1, 1, 0, 0, 0, 0, 0, 0])
    kept = match(score, t, n_neighbors=1)
    assert kept.n_pairs == 6                   # both treated tie with three controls
    np.testing.assert_allclose(kept.match_count[2:5], 2 / 3)
    a = match(score, t, ties=False, random_state=3)
    b = match(score, t, ties=False, random_state=3)
    assert a.n_pairs == 2 and np.array_equal(a.matched, b.matched)
    assert set(a.matched.tolist()) <= {2, 3, 4}
    draws = {tuple(match(score, t, ties=False, random_state=s).matched) for s in range(30)}
    assert len(draws) > 1                      # the draw does depend on the seed
    # strictly closer units are never dropped in favour of a tie
    two = match(np.array([0.0, 0.1, 1.0, 1.0]), np.array([1, 0, 0, 0]), n_neighbors=2,
                ties=False, random_state=0)
    assert 1 in two.matched.tolist() and two.n_pairs == 2


def test_exact_strata():
    rng = np.random.default_rng(2)
    n = 200
    score = rng.normal(size=n)
    group = rng.integers(0, 4, size=n)
    t = (rng.random(n) < 0.4).astype(int)
    t[group == 3] = 1                          # stratum 3 has no controls: its units drop
    m = match(score, t, exact=group, n_neighbors=2)
    assert np.all(group[m.focal] == group[m.matched])
    assert set(m.dropped.tolist()) == set(np.flatnonzero(group == 3))
    for g in range(3):                         # within a stratum: plain matching
        sel = np.flatnonzero(group == g)
        sub = match(score[sel], t[sel], n_neighbors=2, standardize=False)
        mine = {(i, j) for i, j in pair_set(m) if group[i] == g}
        assert mine == {(sel[i], sel[j]) for i, j in pair_set(sub)}


def brute_greedy(z, t, k, order, cal=None, raw=None, focal_arm=1):
    """Greedy matching: in order, k rounds, each unit takes its nearest free control."""
    used, pairs = set(), []
    active = list(order)
    for _ in range(k):
        nxt = []
        for i in active:
            cand = [j for j in np.flatnonzero(t != focal_arm) if j not in used]
            if cal is not None:
                cand = [j for j in cand if np.all(np.abs(raw[j] - raw[i]) <= cal)]
            if not cand:
                continue
            d2 = [((z[j] - z[i]) ** 2).sum() for j in cand]
            j = cand[int(np.argmin(d2))]       # first minimum: lowest row among exact ties
            used.add(j)
            pairs.append((i, j))
            nxt.append(i)
        active = nxt
    return pairs


@pytest.mark.parametrize("dim", [1, 3])
@pytest.mark.parametrize("order", ["data", "largest", "smallest"])
@pytest.mark.parametrize("k", [1, 2])
def test_without_replacement_equals_greedy_definition(dim, order, k):
    rng = np.random.default_rng(dim + k)
    n = 90
    raw = rng.normal(size=(n, dim))
    t = (rng.random(n) < 0.3).astype(int)
    m = match(raw, t, replace=False, n_neighbors=k, order=order)
    treated = np.flatnonzero(t == 1)
    prio = {"data": treated, "largest": treated[np.argsort(-raw[treated, 0], kind="stable")],
            "smallest": treated[np.argsort(raw[treated, 0], kind="stable")]}[order]
    expected = brute_greedy(standardized(raw), t, k, prio)
    assert pair_set(m) == set(expected)
    assert len(set(m.matched.tolist())) == m.n_pairs     # each control at most once


def test_without_replacement_caliper_and_random_order():
    rng = np.random.default_rng(11)
    raw = rng.normal(size=(80, 1))
    t = (rng.random(80) < 0.5).astype(int)
    m = match(raw, t, replace=False, caliper=0.05)
    cal = 0.05 * raw.std(ddof=0)
    assert np.all(np.abs(raw[m.focal, 0] - raw[m.matched, 0]) <= cal)
    assert set(m.dropped.tolist()) | set(m.focal.tolist()) == set(np.flatnonzero(t == 1))
    a = match(raw, t, replace=False, order="random", random_state=5)
    b = match(raw, t, replace=False, order="random", random_state=5)
    assert pair_set(a) == pair_set(b)


def test_match_counts_and_weights():
    rng = np.random.default_rng(4)
    score = rng.normal(size=300)
    t = (rng.random(300) < 0.3).astype(int)
    m = match(score, t, n_neighbors=3)
    K = m.match_count
    assert K[t == 1].sum() == 0
    assert K[t == 0].sum() == pytest.approx((t == 1).sum())   # sum K = n1 for the ATT
    assert np.all(m.match_count_sq <= K + 1e-12)
    w = m.weights
    y = rng.normal(size=300)
    est = (w * y)[t == 1].sum() / w[t == 1].sum() - (w * y)[t == 0].sum() / w[t == 0].sum()
    direct = np.mean([y[i] - np.mean(y[m.matched[m.focal == i]]) for i in m.focal_units])
    assert est == pytest.approx(direct)


def test_matched_data_layout():
    df = pd.DataFrame({"s": [0.1, 0.35, 0.2, 0.3, 0.9], "x": [1, 2, 3, 4, 5]},
                      index=list("abcde"))
    t = np.array([1, 1, 0, 0, 0])
    m = match(df["s"], t, n_neighbors=2)
    md = m.matched_data(df)
    assert list(md.columns[:6]) == ["index", "treated", "subclass", "weights", "distance",
                                    "score"]
    assert len(md) == 2 + m.n_pairs            # one row per unit per matched set
    assert md.groupby("subclass")["treated"].sum().tolist() == [1, 1]
    assert md.loc[md.treated == 0].groupby("subclass")["weights"].sum().tolist() == [1.0, 1.0]
    assert set(md["index"]) <= set("abcde") and "x" in md.columns
    assert all(str(dt) in ("int64", "float64", "object") for dt in md.dtypes)
    ps = m.pairs()
    assert ps["treated"].isin([0, 1]).all() and ps["control"].isin([2, 3, 4]).all()


def test_inputs_not_modified():
    score = pd.Series([0.3, 0.1, 0.2, 0.5])
    t = pd.Series([1, 0, 0, 1])
    before = score.copy(), t.copy()
    match(score, t, estimand="ATE", caliper=1.0)
    pd.testing.assert_series_equal(score, before[0])
    pd.testing.assert_series_equal(t, before[1])


@pytest.mark.parametrize("kwargs, message", [
    (dict(estimand="ATX"), "unknown estimand"),
    (dict(n_neighbors=0), "n_neighbors"),
    (dict(n_neighbors=1.5), "integer"),
    (dict(n_neighbors=3), "fewer than n_neighbors"),
    (dict(replace=False, estimand="ATE"), "without replacement"),
    (dict(caliper=1e-9), "exclude every candidate"),
    (dict(caliper=-1), "positive"),
    (dict(caliper_units="furlongs", caliper=1), "caliper_units"),
    (dict(order="alphabetical", replace=False), "unknown order"),
])
def test_bad_arguments(kwargs, message):
    with pytest.raises(InputError, match=message):
        match([0.1, 0.5, 0.2, 0.4], [1, 1, 0, 0], **kwargs)


def test_bad_treatment_and_score():
    with pytest.raises(InputError, match="binary"):
        match([0.1, 0.2, 0.3], [0, 1, 2])
    with pytest.raises(InputError, match="only one value"):
        match([0.1, 0.2, 0.3], [1, 1, 1])
    with pytest.raises(InputError, match="rows"):
        match([0.1, 0.2, 0.3], [1, 0])
    with pytest.raises(InputError, match="infinite"):
        match([0.1, np.inf, 0.3], [1, 0, 0])


def test_integer_valued_floats_accepted():
    # R passes n_neighbors = 1 as a double
    m = match([0.1, 0.5, 0.2, 0.4], [1, 1, 0, 0], n_neighbors=1.0)
    assert m.n_neighbors == 1 and isinstance(m.n_neighbors, int)


def test_public_namespace():
    assert csm.match is match


def test_many_near_ties_warn_and_exact_ties_do_not():
    rng = np.random.default_rng(0)
    score = rng.normal(size=20000)
    t = (rng.random(20000) < 0.1).astype(int)
    with pytest.warns(RuntimeWarning, match="near-ties per unit"):
        m = match(score, t)
    assert m.n_pairs > 10 * m.n_matched
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        exact = match(score, t, distance_tolerance=0)
    assert exact.n_pairs == exact.n_matched == t.sum()


# ------------------------------------------------ pair-free ties on a 1-d score
def _pair_path(monkeypatch, *args, **kw):
    """The same match through the pair engine (the pair-free form switched off)."""
    import causalsm.matching.nearest as nearest
    with monkeypatch.context() as mp:
        mp.setattr(nearest, "PAIR_FREE", False)
        return match(*args, **kw)


PAIR_FREE_CASES = [
    dict(),
    dict(estimand="ATC", n_neighbors=3),
    dict(estimand="ATE", n_neighbors=2, distance_tolerance=1e-3),
    dict(distance_tolerance=0.0),
    dict(caliper=0.05, n_neighbors=2),
    dict(estimand="ATE", caliper=0.02, drop_incomplete=True, n_neighbors=2),
    dict(exact="strata", caliper=0.1),
    dict(exact="strata", estimand="ATE", standardize=False, n_neighbors=4),
]


@pytest.mark.parametrize("discrete", [False, True])
@pytest.mark.parametrize("case", range(len(PAIR_FREE_CASES)))
@pytest.mark.parametrize("prefix_sums", [False, True])
def test_pair_free_form_equals_the_pairs(monkeypatch, discrete, case, prefix_sums):
    import causalsm.matching.result as result
    from causalsm.estimators.average import matching_effect
    kw = dict(PAIR_FREE_CASES[case])
    rng = np.random.default_rng(case + 100 * discrete)
    n = 1500
    x = rng.normal(size=n)
    score = np.round(x, 1) if discrete else x          # discrete: many exact ties
    t = (rng.random(n) < 1 / (1 + np.exp(-x))).astype(int)
    if kw.get("exact") == "strata":
        kw["exact"] = rng.integers(0, 3, n)
    y = x + 2 * t + rng.normal(size=n)
    Z = np.column_stack([x, rng.normal(size=n)])
    if prefix_sums:                          # range sums by prefix sums, as at scale
        monkeypatch.setattr(result, "DIRECT_SUM_LIMIT", -1)
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            free = match(score, t, **kw)
            pairs = _pair_path(monkeypatch, score, t, **kw)
    assert free.ranges is not None and pairs.ranges is None
    assert free._pairs is None
    np.testing.assert_allclose(free.match_count, pairs.match_count, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(free.match_count_sq, pairs.match_count_sq, rtol=1e-12, atol=1e-14)
    assert np.array_equal(free.match_count > 0, pairs.match_count > 0)
    np.testing.assert_array_equal(free.dropped, pairs.dropped)
    np.testing.assert_array_equal(free.focal_units, pairs.focal_units)
    assert free.n_pairs == pairs.n_pairs and free.n_matched == pairs.n_matched
    for J in (0, 1):
        for bc in (False, True):
            a = matching_effect(free, y, Z, bias_correction=bc, var_neighbors=J,
                                exact=kw.get("exact"), standardize=kw.get("standardize", True),
                                distance_tolerance=kw.get("distance_tolerance", 1e-5))
            b = matching_effect(pairs, y, Z, bias_correction=bc, var_neighbors=J,
                                exact=kw.get("exact"), standardize=kw.get("standardize", True),
                                distance_tolerance=kw.get("distance_tolerance", 1e-5))
            for key in ("estimate", "estimate_unadjusted", "variance_sample",
                        "variance_population"):
                assert a[key] == pytest.approx(b[key], rel=1e-11), (key, J, bc)
            np.testing.assert_allclose(a["sigma2"], b["sigma2"], rtol=1e-9, atol=1e-12)
    assert free._pairs is None                    # nothing above needed the pairs
    # materialised on request: the very pairs of the pair engine
    pd.testing.assert_frame_equal(free.pairs(), pairs.pairs(), check_exact=True)
    pd.testing.assert_frame_equal(free.matched_data(), pairs.matched_data(), check_exact=True)


def test_pair_free_form_scales_with_units_not_ties():
    # R's tolerance at 2e5 units: about 40 tied controls per treated unit, never stored
    rng = np.random.default_rng(3)
    n = 200_000
    x = rng.normal(size=n)
    t = (rng.random(n) < 1 / (1 + np.exp(2.2 - x))).astype(int)
    with pytest.warns(RuntimeWarning, match="near-ties per unit"):
        m = match(x, t)
    assert m.n_pairs > 20 * m.n_matched
    K = m.match_count
    assert m._pairs is None
    assert K[t == 1].sum() == 0 and K.sum() == pytest.approx(m.n_matched, rel=1e-12)
    assert m.ranges.pool.size == (t == 0).sum()
    est = csm.MatchingEstimator(balancing_score=csm.CovariateScore(), var_neighbors=1)
    y = x + t + rng.normal(size=n)
    with pytest.warns(RuntimeWarning, match="near-ties per unit"):
        est.fit(x[:, None], t, y)
    assert est.matches_._pairs is None and np.isfinite(est.effect_.std_error)


def test_pairs_too_many_to_list_is_a_clear_error(monkeypatch):
    import causalsm.matching.result as result
    m = match([0.1, 0.35, 0.2, 0.3, 0.9], [1, 1, 0, 0, 0])
    assert m.match_count.tolist() == [0.0, 0.0, 1.0, 1.0, 0.0]
    monkeypatch.setattr(result, "_physical_memory", lambda: 10.0)
    with pytest.raises(MemoryError, match="2 .focal, match. pairs"):
        m.pairs()
