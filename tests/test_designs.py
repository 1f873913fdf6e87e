"""The MatchIt-style designs on their own terms: brute-force optima, restrictions honoured,
MatchResult's matched sets, g-computation identities, and the estimator's front door."""

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm import InputError
from causalsm.estimators.gcomputation import gcomputation
from causalsm.inference import cluster_bootstrap
from causalsm.matching import cem_match, full_match, match, optimal_match, subclassify
from causalsm.matching.cem import bin_count
from causalsm.matching.flow import resolve_solver
from causalsm.matching.greedy import variable_ratios
from causalsm.matching.support import common_support

FIX = json.loads((Path(__file__).parent / "fixtures" / "r" / "designs_reference.json").read_text())
PSID = pd.DataFrame(FIX["datasets"]["psid"]["data"])
PS = np.array(FIX["datasets"]["psid"]["ps"])
SOLVERS = ["highs"] + (["ortools"] if resolve_solver("auto") == "ortools" else [])


def _stars(nt, nc):
    """Every full matching of nt treated and nc controls into stars (brute force)."""
    units = [("t", i) for i in range(nt)] + [("c", j) for j in range(nc)]

    def partitions(items):
        if not items:
            yield []
            return
        first, rest = items[0], items[1:]
        for k in range(len(rest) + 1):
            for others in itertools.combinations(rest, k):
                block = (first,) + others
                remaining = [u for u in rest if u not in others]
                for p in partitions(remaining):
                    yield [block] + p
    for p in partitions(units):
        ok = True
        for b in p:
            n1 = sum(u[0] == "t" for u in b)
            n0 = len(b) - n1
            if n1 == 0 or n0 == 0 or min(n1, n0) != 1:
                ok = False
                break
        if ok:
            yield p


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("solver", SOLVERS)
def test_full_matching_is_the_brute_force_optimum(seed, solver):
    rng = np.random.default_rng(seed)
    x1, x0 = rng.normal(size=3), rng.normal(size=4)
    best = min(sum(abs(x1[i] - x0[j]) for b in p for (a, i) in b if a == "t"
                   for (c, j) in b if c == "c") for p in _stars(3, 4))
    m = full_match(np.concatenate([x1, x0]), [1] * 3 + [0] * 4, standardize=False,
                   solver=solver)
    assert m.info["total_distance"] == pytest.approx(best, rel=1e-12)


@pytest.mark.parametrize("solver", SOLVERS)
def test_optimal_pair_matching_is_the_brute_force_optimum(solver):
    rng = np.random.default_rng(7)
    x1, x0 = rng.normal(size=(4, 2)), rng.normal(size=(6, 2))
    D = np.sqrt(((x1[:, None] - x0[None]) ** 2).sum(-1))
    best = min(sum(D[i, p[i]] for i in range(4)) for p in itertools.permutations(range(6), 4))
    m = optimal_match(np.vstack([x1, x0]), [1] * 4 + [0] * 6, standardize=False)
    assert m.info["total_distance"] == pytest.approx(best, rel=1e-12)
    # variable ratio through the network agrees with enumeration of 1-or-2 matches
    mv = optimal_match(np.vstack([x1, x0]), [1] * 4 + [0] * 6, standardize=False, ratio=1.5,
                       max_controls=2, solver=solver)
    assert np.bincount(mv.subclass[mv.subclass > 0]).max() <= 3
    assert int((mv.subclass[4:] > 0).sum()) == 6


def test_greedy_is_not_optimal_but_optimal_is():
    s = np.array([0.45, 0.55, 0.5, 0.0])          # treated at .45, .55; controls at .5, 0
    t = np.array([1, 1, 0, 0])
    greedy = match(s, t, replace=False, standardize=False)          # data order
    opt = optimal_match(s, t, standardize=False)
    assert float(greedy.distance.sum()) == pytest.approx(0.05 + 0.55)
    assert opt.info["total_distance"] == pytest.approx(0.45 + 0.05)


@pytest.mark.parametrize("solver", SOLVERS)
def test_full_matching_restrictions(solver):
    t = PSID["treat"].to_numpy()
    m = full_match(PS, t, caliper=0.05, caliper_units="raw", standardize=False, solver=solver,
                   exact=PSID[["married"]], antiexact=PSID[["nodegree"]])
    s = m.subclass
    for g in np.unique(s[s > 0]):
        members = np.flatnonzero(s == g)
        assert np.ptp(PS[members]) <= 2 * 0.05 + 1e-12      # star: every leaf within the caliper
        centre = members[[((s == g) & (t == t[i])).sum() == 1 for i in members]][0]
        others = members[t[members] != t[centre]]
        assert (np.abs(PS[others] - PS[centre]) <= 0.05 + 1e-12).all()
        assert PSID["married"].to_numpy()[members].min() == PSID["married"].to_numpy()[members].max()
        assert (PSID["nodegree"].to_numpy()[others] != PSID["nodegree"].to_numpy()[centre]).all()
    # a treated unit left out has no permitted partner at all
    for i in np.flatnonzero((t == 1) & (s == 0)):
        ok = ((t == 0) & (np.abs(PS - PS[i]) <= 0.05)
              & (PSID["married"].to_numpy() == PSID["married"].to_numpy()[i])
              & (PSID["nodegree"].to_numpy() != PSID["nodegree"].to_numpy()[i]))
        assert not ok.any()


def test_solvers_agree():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(300, 2))
    t = (rng.random(300) < 0.3).astype(int)
    totals = [full_match(x, t, solver=s, min_controls=0.5, max_controls=3).info["total_distance"]
              for s in SOLVERS]
    assert max(totals) - min(totals) <= 1e-9 * max(totals)


def test_full_matching_errors():
    with pytest.raises(InputError, match="caliper cannot be combined with min_controls"):
        full_match(PS, PSID["treat"], caliper=0.1, min_controls=1)
    with pytest.raises(InputError, match="max_entries"):
        full_match(PS, PSID["treat"], max_entries=1000)
    with pytest.raises(InputError, match="unknown solver"):
        full_match(PS, PSID["treat"], solver="lemon")
    with pytest.raises(InputError, match="ATT or ATC"):
        optimal_match(PS, PSID["treat"], estimand="ATE")


@pytest.mark.parametrize("seed", range(3))
def test_full_matching_with_a_caliper_is_the_brute_force_optimum(seed):
    rng = np.random.default_rng(100 + seed)
    x1, x0 = rng.uniform(0, 1, size=3), rng.uniform(0, 1, size=4)
    cal = 0.45
    allowed = np.abs(x1[:, None] - x0[None]) <= cal
    assert allowed.any(axis=0).all() and allowed.any(axis=1).all()
    best = np.inf
    for p in _stars(3, 4):
        pairs = [(i, j) for b in p for (a, i) in b if a == "t" for (c, j) in b if c == "c"]
        if all(allowed[i, j] for i, j in pairs):
            best = min(best, sum(abs(x1[i] - x0[j]) for i, j in pairs))
    m = full_match(np.concatenate([x1, x0]), [1] * 3 + [0] * 4, caliper=cal,
                   caliper_units="raw", standardize=False)
    assert m.info["total_distance"] == pytest.approx(best, rel=1e-12)


def test_matched_sets_behave_like_pairs():
    t = PSID["treat"].to_numpy()
    m = full_match(PS, t, standardize=False)
    y = PSID["re78"].to_numpy()
    w = m.weights
    # the matching estimate from the sets equals the weighted difference in means
    att = y[m.focal_units].mean() - m.match_mean(y).mean()
    wdiff = np.average(y[t == 1], weights=w[t == 1]) - np.average(y[t == 0], weights=w[t == 0])
    assert att == pytest.approx(wdiff, rel=1e-10)
    # K_M sums to the number of focal units; the pairs listed agree with it
    assert m.match_count.sum() == pytest.approx((t == 1).sum())
    pairs = m.pairs()
    assert len(pairs) == m.n_pairs
    np.testing.assert_allclose(np.bincount(pairs["control"], weights=pairs["weight"],
                                           minlength=t.size), m.match_count)
    md = m.matched_data(PSID)
    assert list(md.columns[:5]) == ["index", "treated", "subclass", "weights", "distance"]
    assert len(md) == int((m.subclass > 0).sum()) and "re78" in md
    centres = md.groupby("subclass")["distance"].min()
    assert (centres == 0).all()


def test_subclassify_and_cem_options():
    t = PSID["treat"].to_numpy()
    m = subclassify(PS, t, n_subclasses=[0.25, 0.5, 0.75], estimand="ATE")
    assert m.info["n_subclasses"] == 4
    q = np.quantile(PS, [0, .25, .5, .75, 1])
    np.testing.assert_allclose(m.info["cuts"], q)
    with pytest.raises(InputError, match="one-dimensional"):
        subclassify(np.column_stack([PS, PS]), t)
    for col, rules in FIX["bins"].items():
        for rule, count in rules.items():
            assert bin_count(PSID[col].to_numpy(dtype=float), rule) == count, (col, rule)
    X = PSID[["age", "educ", "race"]]
    c = cem_match(X, t, cutpoints={"age": "q4", "educ": 0}, grouping={"race": [["white", "hispan"]]})
    s = c.subclass
    for g in np.unique(s[s > 0]):
        block = PSID[s == g]
        assert block["educ"].nunique() == 1
        assert block["race"].isin(["white", "hispan"]).all() or block["race"].nunique() == 1
    with pytest.raises(InputError, match="both arms"):
        cem_match(pd.DataFrame({"x": [0, 0, 1, 1]}), [1, 1, 0, 0], cutpoints=0)


def test_nearest_mahvars_and_antiexact_equal_matchit():
    """MatchIt 4.5.1's Mahalanobis path (no quirks): the same matches."""
    t = PSID["treat"].to_numpy()
    for name, run in FIX["nearest"].items():
        a = run["args"]
        kw = {"mahvars": PSID[a["mahvars"]], "order": a["m.order"],
              "n_neighbors": a.get("ratio", 1)}
        if "caliper" in a:
            kw["caliper"] = a["caliper"]
        if "antiexact" in a:
            kw["antiexact"] = PSID[a["antiexact"]]
        m = match(PS, t, replace=False, standardize=False, **kw)
        k = run["ratio"]
        theirs = np.array([-1 if v is None else v - 1 for v in run["match_matrix"]]).reshape(-1, k)
        treated = np.flatnonzero(t == 1)
        pairs = m.pairs()
        for i, unit in enumerate(treated):
            ours = set(pairs.loc[pairs["treated"] == unit, "control"].tolist())
            assert ours == {int(c) for c in theirs[i] if c >= 0}, (name, unit)


def test_variable_ratio_and_closest_order():
    t = PSID["treat"].to_numpy()
    wants = variable_ratios(PS, t, 1, 2.0, 1, 4)
    assert wants.sum() == 370 and wants.min() >= 1 and wants.max() <= 4
    # the treated units most unlike the controls (highest score) get fewest matches
    assert wants[np.argmax(PS[t == 1])] == 1 and wants[np.argmin(PS[t == 1])] == 4
    m = match(PS, t, replace=False, n_neighbors=2, min_controls=1, max_controls=4,
              standardize=False)
    got = np.bincount(m.focal, minlength=t.size)[t == 1]
    assert (got <= wants).all() and got.sum() <= 370
    # "closest": a brute-force global greedy by distance, round by round
    rng = np.random.default_rng(5)
    x = rng.normal(size=60)
    tt = (rng.random(60) < 0.3).astype(int)
    mc = match(x, tt, replace=False, order="closest", standardize=False)
    free = set(np.flatnonzero(tt == 0).tolist())
    todo = set(np.flatnonzero(tt == 1).tolist())
    expect = {}
    while todo and free:
        i, j = min(((i, j) for i in todo for j in free),
                   key=lambda p: (abs(x[p[0]] - x[p[1]]), p[0], p[1]))
        expect[i] = j
        todo.discard(i)
        free.discard(j)
    got = dict(zip(mc.focal.tolist(), mc.matched.tolist()))
    assert got == expect


def test_discard_and_reestimate():
    t = PSID["treat"].to_numpy()
    disc = common_support(PS, t, "both")
    lo, hi = max(PS[t == 1].min(), PS[t == 0].min()), min(PS[t == 1].max(), PS[t == 0].max())
    np.testing.assert_array_equal(disc, (PS < lo) | (PS > hi))
    m = match(PS, t, replace=False, discard="both")
    assert not m.is_focal[disc].any() and (m.match_count[disc] == 0).all()
    cov = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        e1 = csm.MatchingEstimator(method="full", discard="both").fit(
            PSID[cov], t, PSID["re78"])
        e2 = csm.MatchingEstimator(method="full", discard="both", reestimate=True).fit(
            PSID[cov], t, PSID["re78"])
    assert e1.effect_.details["n_discarded"] == e2.effect_.details["n_discarded"] > 0
    assert not np.allclose(e1.balancing_score_.coef_, e2.balancing_score_.coef_)
    with pytest.warns(RuntimeWarning, match="not in the matched data"):
        csm.MatchingEstimator(method="full", discard="both").fit(PSID[cov], t, PSID["re78"])


def test_gcomputation_identities():
    rng = np.random.default_rng(1)
    n = 300
    x = rng.normal(size=n)
    t = (rng.random(n) < 0.4).astype(int)
    y = 1 + 2 * t + x + rng.normal(size=n)
    w = rng.uniform(0.5, 2, size=n)
    res = gcomputation(y, t, None, w, estimand="ATE", vcov="hc3")
    wdiff = np.average(y[t == 1], weights=w[t == 1]) - np.average(y[t == 0], weights=w[t == 0])
    assert res.estimate == pytest.approx(wdiff, rel=1e-12)
    # binary outcome: risk difference, ratio and odds ratio are consistent
    yb = (rng.random(n) < 1 / (1 + np.exp(-(x + t)))).astype(float)
    rd = gcomputation(yb, t, x[:, None], estimand="ATT", vcov="hc3")
    rr = gcomputation(yb, t, x[:, None], estimand="ATT", vcov="hc3", effect="ratio")
    assert rd.details["outcome_model"].startswith("logistic")
    assert rr.estimate == pytest.approx(np.exp(rr.details["log_estimate"]))
    assert rr.ci_lower < rr.estimate < rr.ci_upper
    with pytest.raises(InputError, match="binary"):
        gcomputation(y, t, None, effect="ratio")
    with pytest.raises(InputError, match="subclass"):
        gcomputation(y, t, None, vcov="cluster")


def test_cluster_bootstrap_does_not_depend_on_n_jobs():
    y = np.arange(40.0)
    groups = np.repeat(np.arange(10), 4)
    a = cluster_bootstrap(lambda r: y[r].mean(), groups, n_replicates=120, random_state=3)
    b = cluster_bootstrap(lambda r: y[r].mean(), groups, n_replicates=120, random_state=3,
                          n_jobs=2)
    np.testing.assert_array_equal(a, b)
    # the SE of a mean of cluster means: about sd(cluster means) / sqrt(G)
    cm = y.reshape(10, 4).mean(axis=1)
    assert a.std(ddof=1) == pytest.approx(cm.std(ddof=1) / np.sqrt(10), rel=0.25)


def test_estimator_designs_and_errors():
    cov = ["age", "educ", "black", "hisp", "married", "nodegree", "re74", "re75"]
    X, t, y = PSID[cov], PSID["treat"], PSID["re78"]
    with pytest.raises(InputError, match="estimation='gcomputation'"):
        csm.MatchingEstimator(method="full", estimation="matching").fit(X, t, y)
    with pytest.raises(InputError, match="unknown method"):
        csm.MatchingEstimator(method="genetic").fit(X, t, y)
    with pytest.raises(InputError, match="variance"):
        csm.MatchingEstimator(method="full", variance="ai").fit(X, t, y)
    full = csm.MatchingEstimator(method="full").fit(X, t, y)
    assert "full matching" in full.effect_.method
    assert full.effect_.variance.startswith("robust (HC3)")          # see matched_effect
    clustered = csm.MatchingEstimator(method="full", variance="cluster").fit(X, t, y)
    assert clustered.effect_.variance.startswith("cluster-robust by matched set")
    assert clustered.effect_.estimate == pytest.approx(full.effect_.estimate, rel=1e-12)
    assert full.matches_.design == "full" and full.effect_.n_matched == 185
    bal = full.balance()
    assert bal["smd_after"].abs().max() < bal["smd_before"].abs().max()
    sub = csm.MatchingEstimator(method="subclass", n_subclasses=5).fit(X, t, y)
    assert sub.effect_.variance.startswith("robust (HC3)") and sub.matches_.info["n_subclasses"] == 5
    # subclassification with a multi-column score cuts on its propensity logit
    from causalsm.scores import CovariateScore, PropensityScore

    class TwoColumns(PropensityScore):
        def transform(self, X):
            lp = self.linear_predictor(X)
            return np.column_stack([lp, -lp])

        def logit(self, X):
            return self.linear_predictor(X)

    two = csm.MatchingEstimator(method="subclass", n_subclasses=5,
                                balancing_score=TwoColumns()).fit(X, t, y)
    assert two.effect_.estimate == pytest.approx(sub.effect_.estimate, rel=1e-12)
    with pytest.raises(InputError, match="one-dimensional"):
        csm.MatchingEstimator(method="subclass", balancing_score=CovariateScore()).fit(X, t, y)


def test_front_doors(capsys):
    df = csm.datasets.load_lalonde("psid")
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    res = csm.estimate_effect(df, "treat", "re78", cov, method="full", estimand="ATE")
    est = csm.MatchingEstimator(method="full", estimand="ATE").fit(df[cov], df["treat"],
                                                                   df["re78"])
    assert res.estimate == pytest.approx(est.effect_.estimate, rel=1e-12)
    assert res.std_error == pytest.approx(est.effect_.std_error, rel=1e-12)
    tab = csm.compare(df, "treat", "re78", cov, methods=["full_psm", "subclass", "cem"])
    assert tab["method"].tolist() == ["full_psm", "subclass_psm", "cem"]
    assert (tab["error"] == "").all(), tab["error"].tolist()
    ate_att = csm.estimate_effect(df, "treat", "re78", cov, method="full")
    assert tab.loc[0, "estimate"] == pytest.approx(ate_att.estimate, rel=1e-12)
    from causalsm.cli import main
    assert main(["compare", "--data", "lalonde_psid", "--method", "full_psm", "--quiet"]) == 0
    out = capsys.readouterr().out
    cli = csm.estimate_effect(df, "treat", "re78", df.attrs["covariates"], method="full")
    assert "full_psm" in out and f"{cli.estimate:,.0f}" in out


def test_cem_cells_with_many_columns():
    """Cells are numbered by integer codes (mixed radix, refactorised when it would
    overflow): the same strata as joining the values into strings."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 40, size=(60, 14)).astype(float)      # 40^14 > 2^62 cells
    X = pd.DataFrame(base[rng.integers(0, 60, size=3000)])
    t = (rng.random(3000) < 0.5).astype(int)
    m = cem_match(X, t, cutpoints=0)
    key = X.astype(int).astype(str).agg("|".join, axis=1).to_numpy()
    treated = set(key[t == 1])
    common = [k for k in pd.unique(key[t == 0]) if k in treated]
    ref = np.array([common.index(k) + 1 if k in common else 0 for k in key])
    np.testing.assert_array_equal(m.subclass, ref)


def test_designs_with_several_treatment_levels():
    """MatchIt's designs are for a 0/1 treatment: with three levels the front doors say so
    (or, for compare, give a skipped row), while 'nearest' and 'subclass' name the two
    multi-level estimators and give their results."""
    rng = np.random.default_rng(3)
    n = 300
    X = rng.normal(size=(n, 2))
    w = rng.integers(0, 3, n)
    df = pd.DataFrame(X, columns=["a", "b"]).assign(w=w, y=X[:, 0] + w + rng.normal(size=n))
    for method in ("optimal", "full", "cem"):
        with pytest.raises(InputError, match=f"method='{method}'.*for a 0/1 treatment"):
            csm.estimate_effect(df, "w", "y", ["a", "b"], method=method)
    with pytest.raises(InputError, match="discard: for a 0/1 treatment only"):
        csm.estimate_effect(df, "w", "y", ["a", "b"], discard="both")
    with pytest.raises(InputError, match="three or more levels goes to estimate_effect"):
        csm.MatchingEstimator(method="full").fit(df[["a", "b"]], df["w"], df["y"])
    nearest = csm.estimate_effect(df, "w", "y", ["a", "b"], method="nearest")
    default = csm.estimate_effect(df, "w", "y", ["a", "b"])
    np.testing.assert_array_equal(nearest.estimate, default.estimate)
    sub = csm.estimate_effect(df, "w", "y", ["a", "b"], method="subclass", n_bootstrap=5,
                              random_state=0)
    same = csm.MultilevelSubclassification(n_bootstrap=5, random_state=0).fit(
        df[["a", "b"]], df["w"], df["y"]).effect_
    np.testing.assert_array_equal(sub.estimate, same.estimate)
    tab = csm.compare(df, "w", "y", ["a", "b"], methods=["psm", "full", "full_nsm", "cem"])
    assert tab["method"].tolist() == ["psm"] * 3 + ["full_psm", "full_nsm", "cem"]
    skipped = tab["error"].iloc[3:]
    assert skipped.str.startswith("skipped").all()
    assert skipped.str.contains("for a 0/1 treatment").all()
    assert (tab["error"].iloc[:3] == "").all()
    with pytest.raises(InputError, match="method: for a 0/1 treatment only"):
        csm.compare(df, "w", "y", ["a", "b"], methods=["psm"], method="full")


@pytest.mark.parametrize("kw", [{}, {"caliper": 0.05}, {"method": "full"},
                                {"method": "subclass", "n_subclasses": 4},
                                {"method": "cem"}, {"n_neighbors": 3, "replace": False}])
def test_match_alone_gives_the_matches_of_fit(kw):
    # the design stage without an outcome (MatchIt's matchit): the same matches and
    # balance table as fit with the outcome, and no effect left from an earlier fit
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "black", "married", "re74", "re75"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = csm.MatchingEstimator(**kw).fit(df[cov], df.treat, df.re78)
        est = csm.MatchingEstimator(**kw).fit(df[cov], df.treat, df.re78)
        m = est.match(df[cov], df.treat)
    assert not hasattr(est, "effect_") and est.matches_ is m
    np.testing.assert_array_equal(m.weights, fitted.matches_.weights)
    pd.testing.assert_frame_equal(est.balance(), fitted.balance())
    with pytest.raises(InputError, match="needs the outcome"):
        csm.MatchingEstimator(balancing_score=csm.DoubleScore()).match(df[cov], df.treat)
