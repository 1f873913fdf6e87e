"""causalsm.sensitivity: where each analysis applies, the results, and the bound's validity.

Parity with the R packages is in test_sensitivity_parity.py; here: the designs a
matching produces (pairs, sets, sets with one control, strata), the errors and their
reasons, the result objects, the command line, and a small simulation with a hidden
confounder of known strength (the full one is benchmarks/sensitivity_sim.py).
"""

import json

import numpy as np
import pytest

import causalsm as csm
from causalsm import InputError, match
from causalsm import sensitivity as sen
from causalsm.sensitivity.m_statistics import MBound, _Stratum, _stratum_moments

LEAD_D = np.array([22, 5, 23, -6, 18, 25, 13, 47, 15, 16, 6, 1, 2, 7, 0, 4, -9, -3, 36, 25,
                   1, 16, 42, 30, 25, 23, 32, 17, 9, -3, 60, 14, 14], dtype=float)


@pytest.fixture(scope="module")
def nsw():
    return csm.datasets.load_lalonde()


COV = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]


# ------------------------------------------------------------------ designs
def test_sets_from_matching_without_replacement():
    rng = np.random.default_rng(0)
    s, t = rng.normal(size=60), np.r_[np.ones(15), np.zeros(45)]
    y = rng.normal(size=60)
    m = match(s, t, n_neighbors=2, replace=False)
    sets = sen.MatchedSets.from_match(m, y)
    assert sets.n_sets == 15 and set(sets.size) == {3}
    assert set(sets.kinds()) == {"one_treated"}
    assert sets.describe() == "15 matched sets of 1 treated and 2 controls"
    # the same sets as a matrix (treated first) give the same bound
    Y = np.array([[y[f]] + sorted(y[m.matched[m.focal == f]]) for f in m.focal_units])
    for g in (1.0, 2.0):
        assert sen.m_test(sets, g) == pytest.approx(sen.m_test(Y, g), rel=1e-12)


def test_atc_sets_have_one_control_and_match_senfm_layout():
    """Matching controls to two treated units each (ATC, without replacement) gives sets
    with one control: the bound equals the senfm layout (control first, treated1 FALSE)."""
    rng = np.random.default_rng(1)
    s, t = rng.normal(size=50), np.r_[np.ones(30), np.zeros(20)]
    y = rng.normal(size=50) + t
    m = match(s, t, estimand="ATC", n_neighbors=2, replace=False)
    sets = sen.MatchedSets.from_match(m, y)
    assert set(sets.kinds()[sets.usable]) <= {"one_control", "one_treated"}
    assert (sets.kinds() == "one_control").sum() > 0
    rows, first = [], []
    for f in m.focal_units:
        mates = m.matched[m.focal == f]
        rows.append([y[f]] + list(y[mates]) + [np.nan] * (2 - mates.size))
        first.append(mates.size < 2 and False)
    Y = np.array(rows)
    ref = sen.m_test(sen.matched_sets(Y, first_treated=np.array(first)), 1.5)
    assert sen.m_test(sets, 1.5) == pytest.approx(ref, rel=1e-12)
    assert sets.describe().startswith("20 matched sets or strata")


def test_stratum_moments_reduce_to_the_one_treated_formula():
    """Proposition 20's moments with one treated unit are the closed-form ones."""
    q = np.sort(np.array([-1.2, -0.3, 0.1, 0.4, 1.6]))
    for g in (1.0, 1.7, 4.0):
        E, V = _stratum_moments(q, 1, g)
        a = np.arange(1, 5)
        denom = a + g * (5 - a)
        low = np.array([q[:k].sum() for k in a])
        low2 = np.array([(q[:k] ** 2).sum() for k in a])
        mu = (low + g * (q.sum() - low)) / denom
        nu = (low2 + g * ((q ** 2).sum() - low2)) / denom - mu ** 2
        np.testing.assert_allclose(E[::-1], mu, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(V[::-1], nu, rtol=1e-12, atol=1e-15)


def test_strata_with_one_treated_unit_equal_the_separable_sets():
    """A design of sets passed as strata gives the same bound whatever the engine."""
    rng = np.random.default_rng(2)
    Y = rng.normal(size=(40, 4))
    Y[:, 0] += 0.5
    sets = sen.matched_sets(Y)
    q, _ = sen.m_scores(sets)
    one = MBound(sets, q)
    strata = MBound(sets, q)
    strata.strata = [_Stratum(np.sort(S_row), 1) for _, S, _, _ in one.groups for S_row in S]
    strata.groups = []
    for g in (1.0, 2.0, 3.0):
        assert strata(g) == pytest.approx(one(g), rel=1e-10)


def test_subclasses_use_the_taylor_bound_by_default():
    rng = np.random.default_rng(3)
    n = 300
    sub = rng.integers(0, 4, n)
    t = rng.binomial(1, 0.3 + 0.1 * sub)
    y = rng.normal(size=n) + 0.4 * t + sub
    res = sen.rosenbaum_bounds(y, treated=t, sets=sub, gammas=[1, 1.5])
    assert "Taylor" in res.method and res.design.startswith("4 matched sets or strata")
    sep = sen.m_test(sen.matched_sets(y, t, sub), 1.5, bound="separable")
    tay = sen.m_test(sen.matched_sets(y, t, sub), 1.5, bound="taylor")
    assert tay.p_value >= sep.p_value - 1e-12          # the Taylor bound is conservative


# ------------------------------------------------------------ where it applies
def test_with_replacement_is_refused_with_the_reason():
    s = np.array([0.0, 0.1, 0.2, 0.05, 5.0, 6.0])
    t = np.array([1, 1, 1, 0, 0, 0])
    m = match(s, t)                                  # every treated unit takes unit 3
    with pytest.raises(InputError, match="with replacement used 1 unit.*E-value"):
        m.sensitivity(np.arange(6.0))
    m_ate = match(s, t, estimand="ATE")
    with pytest.raises(InputError, match="for the ATE every unit is matched"):
        m_ate.sensitivity(np.arange(6.0))


def test_with_replacement_but_disjoint_sets_is_analysed():
    s = np.array([0.0, 1.0, 2.0, 0.01, 1.01, 2.01])
    t = np.array([1, 1, 1, 0, 0, 0])
    res = match(s, t).sensitivity(np.array([3.0, 4.0, 5.0, 1.0, 1.5, 2.0]), [1])
    assert res.design == "3 matched pairs"


def test_effect_result_says_why_and_offers_the_evalue(nsw):
    res = csm.estimate_effect(nsw, treatment="treat", outcome="re78", covariates=COV)
    with pytest.raises(InputError, match="matched with replacement.*evalue"):
        res.sensitivity()
    ev = res.evalue()
    sd = res.details["outcome_sd"]
    ref = sen.evalue(res.estimate / sd, measure="MD", se=res.std_error / sd)
    assert ev.evalue == ref.evalue and ev.evalue_ci == ref.evalue_ci
    d = res.to_dict()
    assert "_sets" not in d and json.dumps(d)


def test_outcome_sd_is_the_pooled_within_arm_sd_of_the_matched_sample(nsw):
    res = csm.estimate_effect(nsw, treatment="treat", outcome="re78", covariates=COV,
                              replace=False)
    sets = res._sets
    y, tr = sets.y, sets.treated
    pooled = np.sqrt((y[tr == 1].var() + y[tr == 0].var()) / 2)      # pairs: weights 1
    assert res.details["outcome_sd"] == pytest.approx(pooled, rel=1e-12)


def test_binary_outcome_uses_the_exact_mcnemar_bound(nsw):
    df = nsw.assign(employed=(nsw["re78"] > 0).astype(int))
    res = csm.estimate_effect(df.drop(columns="re78"), treatment="treat", outcome="employed",
                              covariates=COV, replace=False)
    sens = res.sensitivity(gammas=[1, 1.5], alternative="greater")
    d = res._sets.pair_differences()
    b, c = int((d == 1).sum()), int((d == -1).sum())
    for g, p in zip([1, 1.5], sens.p_upper):
        assert p == pytest.approx(sen.mcnemar_test(b, c, g).p_upper, rel=1e-12)
    assert sens.method.startswith("McNemar")
    with pytest.raises(InputError, match="binary"):
        res.evalue()
    with pytest.raises(InputError, match="not defined for a binary"):
        res.sensitivity(intervals=True)


def test_hazard_ratio_evalue_and_no_rosenbaum_bound():
    from lifelines.datasets import load_rossi
    res = csm.hazard_ratio(load_rossi(), treatment="fin", duration="week", event="arrest",
                           covariates=["age", "race", "wexp", "mar", "paro", "prio"],
                           random_state=0)
    ev = res.evalue()
    share = (res.events_treated + res.events_control) / (res.n_treated + res.n_control)
    ref = sen.evalue(res.hazard_ratio, *res.conf_int(), measure="HR", rare=share < 0.15)
    assert ev.evalue == ref.evalue and ev.rare == (share < 0.15)
    assert "taken as" in ev.details["note"]
    assert sen.evalue(res.hazard_ratio, *res.conf_int(), measure="HR", rare=True).evalue \
        == res.evalue(rare=True).evalue
    with pytest.raises(InputError, match="censored"):
        res.sensitivity()


def test_quantile_effects_are_not_covered(nsw):
    res = csm.quantile_effect(nsw, treatment="treat", outcome="re78",
                              covariates=["age", "educ", "re74", "re75"], quantiles=[0.5],
                              n_bootstrap=5, random_state=0)
    for call in (res.sensitivity, res.evalue):
        with pytest.raises(InputError, match="not covered"):
            call()


@pytest.mark.parametrize("kwargs, message", [
    ({"gammas": [0.5]}, "gammas must be numbers >= 1"),
    ({"alpha": 1.5}, "alpha must be in"),
    ({"statistic": "t-test"}, "unknown statistic"),
    ({"alternative": "up"}, "alternative must be"),
    ({"trim": 1.0, "inner": 2.0}, "inner <= trim"),
    ({"statistic": "mantel_haenszel"}, "needs a 0/1 outcome"),
])
def test_bad_options(kwargs, message):
    with pytest.raises(InputError, match=message):
        sen.rosenbaum_bounds(LEAD_D, **kwargs)


def test_bad_data():
    with pytest.raises(InputError, match="needs matched pairs"):
        sen.rosenbaum_bounds(np.ones((5, 3)) + np.arange(3), statistic="wilcoxon")
    with pytest.raises(InputError, match="scale of the M-scores is 0"):
        sen.m_test([1.0, 0.0, 0.0, 0.0, 0.0])
    with pytest.raises(InputError, match="every pair difference is 0"):
        sen.signed_rank_test([0.0, 0.0])
    with pytest.raises(InputError, match="same length"):
        sen.matched_sets([1.0, 2.0], treated=[1, 0, 1], sets=[1, 1, 1])
    with pytest.raises(InputError, match="every Lambda must exceed"):
        sen.amplify(2.0, [1.5])
    with pytest.raises(InputError, match="rare=True or rare=False"):
        sen.evalue(2.0, 1.5, 3.0, measure="OR")
    with pytest.raises(InputError, match="inside its confidence interval"):
        sen.evalue(2.0, 2.5, 3.0)
    with pytest.raises(InputError, match="no discordant pairs"):
        sen.mcnemar_test(0, 0)


def test_inputs_are_not_modified():
    y = LEAD_D.copy()
    Y = np.column_stack([y, np.zeros_like(y)])
    Y0 = Y.copy()
    sen.rosenbaum_bounds(Y, [1, 2], intervals=True)
    sen.rosenbaum_bounds(Y, [1, 2], statistic="wilcoxon", intervals=True)
    np.testing.assert_array_equal(Y, Y0)
    np.testing.assert_array_equal(y, LEAD_D)


# ------------------------------------------------------------------ results
def test_result_table_sentence_and_export():
    res = sen.rosenbaum_bounds(LEAD_D, [1, 2, 4], statistic="wilcoxon", alternative="greater",
                               intervals=True)
    frame = res.to_frame()
    assert list(frame.columns) == ["gamma", "p_lower", "p_upper", "statistic", "expectation",
                                   "variance", "deviate", "reject", "estimate_lower",
                                   "estimate_upper", "ci_lower", "ci_upper"]
    assert frame["reject"].tolist() == [True, True, True]
    assert frame.loc[1, ["estimate_lower", "estimate_upper"]].tolist() == [10.25, 19.5]
    assert f"Gamma up to {res.critical_gamma:.2f}" in res.conclusion
    assert "positive pair difference" in res.conclusion         # amplification, pairs
    assert res.conclusion.splitlines()[0][:40] in res.summary().replace("\n", " ")
    json.dumps(res.to_dict())
    assert res.to_dict()["critical_gamma"] == res.critical_gamma
    assert "<table" in res._repr_html_()
    amp = res.amplification()
    assert amp["Delta"].tolist() == pytest.approx(
        sen.amplify(res.critical_gamma, amp["Lambda"]).tolist())


def test_critical_gamma_is_where_the_bound_crosses_alpha():
    res = sen.rosenbaum_bounds(LEAD_D)
    g = res.critical_gamma
    p = res._curve
    assert p(g) == pytest.approx(0.05, abs=1e-9)
    assert p(g * 0.999) < 0.05 < p(g * 1.001)


def test_not_significant_and_always_significant_sentences():
    rng = np.random.default_rng(4)
    weak = sen.rosenbaum_bounds(rng.normal(size=30))
    assert weak.critical_gamma == 1.0 and "even without hidden bias" in weak.conclusion
    # every difference positive: deviate(Gamma) = sum|q| / sqrt(Gamma sum q^2), so the
    # critical Gamma is (sum|q| / (z sum q^2 ^ 1/2))^2 in closed form
    d = np.arange(1.0, 201.0)
    q, _ = sen.m_scores(d)
    q = np.abs(q[::2])
    strong = sen.rosenbaum_bounds(d, [1, 2])
    z = 1.959963984540054
    assert strong.critical_gamma == pytest.approx((q.sum() / z) ** 2 / (q ** 2).sum(),
                                                  rel=1e-9)
    assert np.isinf(sen.critical_gamma(lambda g: 0.0))
    import dataclasses
    always = dataclasses.replace(strong, critical_gamma=float("inf"))
    assert "every Gamma searched (up to 10000)" in always.conclusion


def test_default_grid_reaches_past_the_critical_gamma():
    res = sen.rosenbaum_bounds(LEAD_D)
    assert res.gamma[0] == 1 and res.gamma.max() >= 1.5 * res.critical_gamma
    assert res.p_upper[-1] > 0.05 and np.all(np.diff(res.p_upper) >= 0)


def test_plot(tmp_path):
    import matplotlib
    matplotlib.use("Agg")
    res = sen.rosenbaum_bounds(LEAD_D, [1, 2, 3, 4])
    ax = res.plot(show_lower=True)
    assert ax.get_xscale() == "log" and len(ax.lines) >= 4
    ax.figure.savefig(tmp_path / "s.png")


def test_compare_columns(nsw):
    tab = csm.compare(nsw, treatment="treat", outcome="re78", covariates=COV,
                      methods=["psm"], replace=False)
    res = csm.estimate_effect(nsw, treatment="treat", outcome="re78", covariates=COV,
                              replace=False, random_state=0)
    assert tab.loc[0, "critical_gamma"] == pytest.approx(res.sensitivity().critical_gamma)
    assert tab.loc[0, "evalue"] == pytest.approx(res.evalue().evalue)
    with_repl = csm.compare(nsw, treatment="treat", outcome="re78", covariates=COV,
                            methods=["psm"])
    assert np.isnan(with_repl.loc[0, "critical_gamma"]) and with_repl.loc[0, "evalue"] > 1


def test_cli_sensitivity(capsys):
    from causalsm.cli import main
    assert main(["compare", "--data", "lalonde", "--methods", "psm", "--no-replace",
                 "--sensitivity", "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "Gamma*" in out and "E-value (CI)" in out and "critical Gamma" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("psm"))
    tab = csm.compare(csm.datasets.load_lalonde(), treatment="treat", outcome="re78",
                      covariates=["age", "educ", "black", "hisp", "married", "nodegr", "re74",
                                  "re75", "u74", "u75"], methods=["psm"], replace=False)
    assert f"{tab.loc[0, 'critical_gamma']:.2f}" in row


# ---------------------------------------------------- validity (small simulation)
def _pairs_at_gamma(rng, n_pairs, gamma):
    """Pairs whose units differ in a hidden binary u; the u = 1 unit is treated with
    probability gamma / (1 + gamma) and has the larger outcome: the worst case for
    Rosenbaum's bound at this gamma (no treatment effect)."""
    treated_is_u1 = rng.random(n_pairs) < gamma / (1 + gamma)
    noise = rng.normal(size=(n_pairs, 2))
    y_u1, y_u0 = 5.0 + noise[:, 0], noise[:, 1]
    return np.where(treated_is_u1, y_u1 - y_u0, y_u0 - y_u1)


@pytest.mark.parametrize("gamma", [1.5, 3.0])
def test_bound_is_valid_at_the_true_gamma(gamma):
    """No effect, a hidden confounder of strength gamma, the worst case for the bound:
    the test at the true gamma rejects at most alpha of the time (up to simulation
    error), the test that ignores the bias nearly always."""
    rng = np.random.default_rng(20261204)
    reps, alpha = 400, 0.05
    at_truth = naive = 0
    for _ in range(reps):
        d = _pairs_at_gamma(rng, 100, gamma)
        at_truth += sen.m_test(d, gamma).p_value <= alpha
        naive += sen.m_test(d, 1.0).p_value <= alpha
    se = np.sqrt(alpha * (1 - alpha) / reps)
    assert at_truth / reps <= alpha + 2.5 * se
    assert at_truth / reps >= 0.01                   # sharp: the worst case nearly attains it
    assert naive / reps >= 0.5                        # ignoring the bias: far above alpha
