"""Treatments with several levels: the estimators' behaviour, the two-level case against the
binary estimator, the front doors (estimate_effect, compare, balance_table, the CLI) and the
ACTG 175 multi-arm benchmark.  Parity with R's multilevelMatching is in
test_multilevel_parity.py."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm import (CovariateScore, GeneralizedPropensityScore, InputError, MatchingEstimator,
                      MultilevelMatching, MultilevelSubclassification, PropensityScore)
from causalsm.estimators.ps_adjustment import ps_adjustment


def simulate(n=1500, seed=0, effects=(0.0, 1.0, 3.0), hetero=0.0, strength=1.0):
    """Three levels, GPS multinomial-logit in X (slopes times ``strength``), outcome linear
    with level shifts; with ``hetero`` the effect of level 2 grows with x0.  Returns X, w, y
    and the unit-level potential-outcome means mu (n, 3)."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    eta = np.column_stack([np.zeros(n), 0.3 + strength * X @ [0.8, -0.4, 0.2],
                           -0.2 + strength * X @ [-0.5, 0.7, 0.4]])
    p = np.exp(eta) / np.exp(eta).sum(axis=1, keepdims=True)
    w = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    base = X @ [1.0, -1.0, 0.5]
    mu = base[:, None] + np.asarray(effects)[None, :]
    mu[:, 2] += hetero * X[:, 0]
    y = mu[np.arange(n), w] + rng.normal(size=n)
    return X, w, y, mu


def binary_data(seed=5, n=500):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-(X @ [0.8, -0.5, 0.3])))).astype(int)
    y = X @ [1, 1, -1] + 2 * t + X[:, 0] * t + rng.normal(size=n)
    return X, t, y


# ------------------------------------------------------------- two levels = binary
@pytest.mark.parametrize("estimand,target", [("ATE", None), ("ATT", 1), ("ATC", 0)])
def test_two_levels_reproduce_the_binary_estimator(estimand, target):
    """On a 0/1 treatment, GPS matching (level w on r(w, X)) is the binary estimator on the
    probability-scale propensity score: same matches, same estimate, same AI variance."""
    X, t, y = binary_data()
    b = MatchingEstimator(PropensityScore(link="probability"), estimand=estimand,
                          distance_tolerance=0, bias_correction=False).fit(X, t, y).effect_
    m = MultilevelMatching(target=target, variance="ai").fit(X, t, y).effect_
    assert m.contrast == ["1 - 0"] and m.estimand == ("ATE" if target is None else "ATT")
    assert m.estimate[0] == pytest.approx(b.estimate, rel=1e-12)
    assert m.std_error[0] == pytest.approx(b.std_error, rel=1e-12)


def test_two_level_ai2016_is_the_binary_ps_adjustment():
    """The multi-level AI (2016) term for K = 2 is the binary ATE adjustment of Abadie &
    Imbens (2016), E[(1 - p) cov_1 + p cov_0], which causalsm's ps_adjustment computes."""
    X, t, y = binary_data()
    est = MultilevelMatching().fit(X, t, y)
    eff = est.effect_
    adj = eff.details["var_ai2016"][0] - eff.details["var_ai2006"][0]
    ps = est.balancing_score_.transform(X)[:, 1]
    ref = ps_adjustment(est.balancing_score_.design(X), t, y, ps, estimand="ATE", y1_hat=y, y0_hat=y,
                        tau=0.0)
    assert adj == pytest.approx(ref, rel=1e-10)
    assert adj < 0 and eff.variance.endswith("for the estimated GPS")


def test_two_levels_bias_corrected_estimate_is_binary():
    X, t, y = binary_data()
    b = MatchingEstimator(CovariateScore(scale="mahalanobis"), estimand="ATE",
                          distance_tolerance=0, bias_fit="arm").fit(X, t, y).effect_
    m = MultilevelMatching(CovariateScore(scale="mahalanobis"), bias_fit="arm").fit(X, t, y)
    assert m.effect_.estimate[0] == pytest.approx(b.estimate, rel=1e-12)
    assert m.effect_.details["bias_correction"] is True


def test_binary_front_doors_unchanged():
    """A 0/1 treatment still goes to MatchingEstimator, ATT by default, with today's numbers."""
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    res = csm.estimate_effect(df, "treat", "re78", cov)
    ref = MatchingEstimator(estimand="ATT").fit(df[cov], df["treat"], df["re78"]).effect_
    assert isinstance(res, csm.EffectResult)
    assert res.to_dict() == ref.to_dict()
    tab = csm.compare(df, "treat", "re78", cov, methods=["psm"])
    assert tab.attrs["estimand"] == "ATT" and "contrast" not in tab.columns
    assert tab["estimate"].iloc[0] == ref.estimate
    bal = csm.balance_table(df[cov], df["treat"])
    assert list(bal.index) == cov


# ------------------------------------------------------------------ estimators
def test_recovers_known_effects():
    X, w, y, mu = simulate(n=3000, seed=1)
    eff = MultilevelMatching().fit(X, w, y).effect_
    truth = np.array([1.0, 3.0, 2.0])
    assert eff.contrast == ["1 - 0", "2 - 0", "2 - 1"]
    assert np.all(np.abs(eff.estimate - truth) < 4 * eff.std_error)
    assert np.all(eff.details["var_ai2016"] < eff.details["var_ai2006"])
    # the means are the population means of the potential outcomes
    assert np.all(np.abs(eff.means - mu.mean(axis=0)) < 4 * eff.means_std_error)


def test_effects_on_the_recipients_of_a_level():
    """With heterogeneous effects the effect on the units that received level 1 differs from
    the population effect; target=1 estimates it (level w matched on r_w / (r_w + r_1))."""
    X, w, y, mu = simulate(n=4000, seed=2, hetero=2.0)
    est = MultilevelMatching(target=1, contrasts="reference").fit(X, w, y)
    eff = est.effect_
    truth_att = (mu[w == 1, 2] - mu[w == 1, 0]).mean()
    truth_ate = (mu[:, 2] - mu[:, 0]).mean()
    assert abs(truth_att - truth_ate) > 0.3
    j = eff.contrast.index("2 - 0")
    assert abs(eff.estimate[j] - truth_att) < 4 * eff.std_error[j]
    assert eff.estimand == "ATT" and eff.target == "1"
    assert "r(w, X) / (r(w, X) + r(1, X))" in eff.method
    assert len(est.imputed_) == int((w == 1).sum())
    assert np.array_equal(est.imputed_["1"].to_numpy(), y[w == 1])
    # matches used for the recipients of 1 carry the weight; units of level 1 weigh 1
    assert np.all(est.weights_[w == 1] == 1)
    assert est.weights_[w != 1].sum() == pytest.approx(2 * (w == 1).sum())


def test_neural_balancing_score_with_softmax_head():
    pytest.importorskip("torch")
    from causalsm.scores.neural import NeuralBalancingScore
    X, w, y, _ = simulate(n=900, seed=3)
    nsm = NeuralBalancingScore(dim=3, epochs=15, optimizer="adam", learning_rate=0.01,
                               n_networks=1, random_state=0)
    est = MultilevelMatching(balancing_score=nsm).fit(X, w, y)
    eff = est.effect_
    assert est.balancing_score_.network_.out.weight.shape[-1] == 3         # softmax over 3 levels
    assert "NeuralBalancingScore (3-d)" in eff.method and "bias-corrected" in eff.method
    assert np.all(np.abs(eff.estimate - [1.0, 3.0, 2.0]) < 5 * eff.std_error)
    nnps = MultilevelMatching(balancing_score=nsm.set_params(output="propensity")).fit(X, w, y)
    assert "level w on r(w, X)" in nnps.effect_.method
    assert nnps.effect_.variance.startswith("Abadie-Imbens (2006)")   # no AI 2016 for a net


def test_classifier_gps_and_given_gps():
    from sklearn.linear_model import LogisticRegression
    X, w, y, _ = simulate(n=800, seed=4)
    gps = GeneralizedPropensityScore(model=LogisticRegression(C=1e6, max_iter=1000))
    a = MultilevelMatching(balancing_score=gps).fit(X, w, y).effect_
    b = MultilevelMatching().fit(X, w, y).effect_
    # sklearn's (nearly unpenalised) multinomial fit is the MLE up to its tolerance
    assert np.allclose(a.estimate, b.estimate, atol=0.2)
    assert a.variance.startswith("Abadie-Imbens (2006)") and "2016" in b.variance
    fixed = GeneralizedPropensityScore().fit(X, w).transform(X)
    c = MultilevelMatching(balancing_score=fixed).fit(X, w, y).effect_
    np.testing.assert_allclose(c.estimate, b.estimate, rtol=1e-12)
    np.testing.assert_allclose(c.std_error ** 2, b.details["var_ai2006"], rtol=1e-12)


def test_levels_categorical_reference_and_contrasts():
    X, w, y, _ = simulate(n=600, seed=5)
    lab = pd.Categorical(np.array(["lo", "mid", "hi"])[w], categories=["lo", "mid", "hi"])
    eff = MultilevelMatching(reference="mid").fit(X, lab, y).effect_
    assert eff.levels == ["lo", "mid", "hi"]
    assert eff.contrast == ["lo - mid", "hi - mid", "hi - lo"]
    np.testing.assert_allclose(eff.estimate, [eff.means[0] - eff.means[1],
                                              eff.means[2] - eff.means[1],
                                              eff.means[2] - eff.means[0]], rtol=1e-12)
    ref = MultilevelMatching(reference="mid", contrasts="reference").fit(X, lab, y).effect_
    assert ref.contrast == ["lo - mid", "hi - mid"]
    mine = MultilevelMatching(contrasts=[("hi", "lo"), ("lo", "hi")]).fit(X, lab, y).effect_
    assert mine.estimate[0] == pytest.approx(-mine.estimate[1])
    assert mine.std_error[0] == pytest.approx(mine.std_error[1])
    one = eff.contrast_result("lo", "hi")          # the reverse of a listed contrast
    assert isinstance(one, csm.EffectResult)
    assert one.estimate == pytest.approx(-eff.estimate[2])
    assert one.ci_lower == pytest.approx(-eff.ci_upper[2])


def test_multiplicity():
    from statsmodels.stats.multitest import multipletests
    X, w, y, _ = simulate(n=600, seed=6, effects=(0.0, 0.15, 0.25))
    raw = MultilevelMatching().fit(X, w, y).effect_
    holm = MultilevelMatching(p_adjust="holm").fit(X, w, y).effect_
    bonf = MultilevelMatching(p_adjust="bonferroni").fit(X, w, y).effect_
    np.testing.assert_allclose(holm.p_adjusted, multipletests(raw.p_value, method="holm")[1])
    np.testing.assert_allclose(raw.p_adjusted, raw.p_value)
    assert np.all(bonf.ci_upper - bonf.ci_lower > raw.ci_upper - raw.ci_lower)
    assert "not adjusted for multiple comparisons" in raw.summary()
    assert "holm" in holm.summary() and "simultaneous" in bonf.summary()
    with pytest.raises(InputError, match="p_adjust"):
        MultilevelMatching(p_adjust="nonsense").fit(X, w, y)


def test_result_types_cross_into_r():
    X, w, y, _ = simulate(n=500, seed=7)
    eff = MultilevelMatching().fit(X, w, y).effect_
    frame = eff.to_frame()
    kinds = {c: frame[c].dtype.kind for c in frame.columns}
    assert set(kinds.values()) <= {"f", "i", "O"}
    assert all(isinstance(v, str) for c in ("contrast", "level", "reference", "method")
               for v in frame[c])
    assert frame["n_treated"].tolist() == [int((w == k).sum()) for k in (1, 2, 2)]
    d = eff.to_dict()
    json.dumps(d)
    assert d["contrast"] == ["1 - 0", "2 - 0", "2 - 1"]
    assert eff.conf_int().shape == (3, 2)
    assert "<b>Multi-level matching estimate (ATE, all units)</b>" in eff._repr_html_()
    assert eff.means_frame()["level"].tolist() == ["0", "1", "2"]


def test_trimming_reports_dropped_units():
    X, w, y, _ = simulate(n=800, seed=8, strength=3.0)     # limited overlap
    with pytest.warns(UserWarning, match="limited overlap"):
        MultilevelMatching().fit(X, w, y)
    with pytest.warns(UserWarning, match="trimming dropped"):
        est = MultilevelMatching(trim="crump").fit(X, w, y)
    eff = est.effect_
    assert eff.n_dropped == int((~est.kept_).sum()) > 0
    assert eff.n_matched + eff.n_dropped == 800
    assert "trimmed (crump)" in eff.method and "dropped" in eff.summary()
    assert np.all(est.weights_[~est.kept_] == 0)
    # a given GPS is trimmed on, then subset (not refitted)
    gps = GeneralizedPropensityScore().fit(X, w).transform(X)
    with pytest.warns(UserWarning, match="trimming dropped"):
        fixed = MultilevelMatching(balancing_score=gps, trim="crump").fit(X, w, y)
    assert np.array_equal(fixed.kept_, est.kept_)
    assert fixed.effect_.variance.startswith("Abadie-Imbens (2006)")


@pytest.mark.filterwarnings("ignore:limited overlap")
def test_inputs_not_modified_and_deterministic():
    X, w, y, _ = simulate(n=400, seed=9)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    copies = (df.copy(), w.copy(), y.copy())
    a = MultilevelMatching(ties=False, random_state=3).fit(df, w, y).effect_
    b = MultilevelMatching(ties=False, random_state=3).fit(df, w, y).effect_
    pd.testing.assert_frame_equal(df, copies[0])
    assert np.array_equal(w, copies[1]) and np.array_equal(y, copies[2])
    assert a.to_dict() == b.to_dict()


def test_exact_ties_share_the_weight():
    """Units at exactly the same GPS share one match's weight (ties kept by default)."""
    X = np.array([[0.0], [0.0], [1.0], [2.0], [2.0], [3.0], [4.0], [4.0], [5.0]])
    w = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2])
    y = np.arange(9.0)
    gps = np.tile([0.3, 0.3, 0.4], (9, 1))        # everyone ties on every level
    est = MultilevelMatching(balancing_score=gps, score_by_level=True).fit(X, w, y)
    for k in range(3):
        assert est.imputed_[str(k)].to_numpy()[w != k] == pytest.approx(y[w == k].mean())
    assert est.effect_.means == pytest.approx([y[w == k].mean() for k in range(3)])


@pytest.mark.parametrize("kwargs,t,match", [
    ({}, [0, 0, 0, 0, 0, 0], "only one level"),
    ({}, [0, 0, 1, 1, 2, np.nan], "missing"),
    ({}, [0, 0, 1, 1, 1, 2], "has 1 unit"),
    ({"reference": 7}, [0, 0, 1, 1, 2, 2], "reference 7 is not a treatment level"),
    ({"target": "z"}, [0, 0, 1, 1, 2, 2], "target 'z'"),
    ({"contrasts": "some"}, [0, 0, 1, 1, 2, 2], "contrasts must be"),
    ({"contrasts": [(1, 1)]}, [0, 0, 1, 1, 2, 2], "with itself"),
    ({"variance": "ai2016", "balancing_score": CovariateScore()}, [0, 0, 1, 1, 2, 2], "ai2016"),
    ({"variance": "bootstrap"}, [0, 0, 1, 1, 2, 2], "unknown variance"),
    ({"trim": "yes"}, [0, 0, 1, 1, 2, 2], "trim must be"),
    ({"balancing_score": np.full((6, 2), 0.5)}, [0, 0, 1, 1, 2, 2], "shape"),
    ({"balancing_score": np.full((6, 3), 0.3)}, [0, 0, 1, 1, 2, 2], "sums to"),
    ({"balancing_score": "gps"}, [0, 0, 1, 1, 2, 2], "transformer"),
])
def test_clear_errors(kwargs, t, match):
    X = np.column_stack([np.arange(6.0), np.arange(6.0) ** 2 / 7])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)       # separation in the tiny data
        with pytest.raises(InputError, match=match):
            MultilevelMatching(**kwargs).fit(X, t, np.arange(6.0))


def test_unused_category_warns():
    X, w, y, _ = simulate(n=300, seed=10)
    lab = pd.Categorical(np.array(["a", "b", "c"])[w], categories=["a", "b", "c", "d"])
    with pytest.warns(UserWarning, match="without units, left out: d"):
        eff = MultilevelMatching().fit(X, lab, y).effect_
    assert eff.levels == ["a", "b", "c"]


def test_subclassification():
    X, w, y, _ = simulate(n=1500, seed=11)
    a = MultilevelSubclassification(n_bootstrap=40, random_state=1).fit(X, w, y)
    b = MultilevelSubclassification(n_bootstrap=40, random_state=1, n_jobs=2).fit(X, w, y)
    np.testing.assert_array_equal(a.bootstrap_, b.bootstrap_)   # independent of n_jobs
    eff = a.effect_
    assert np.all(np.abs(eff.estimate - [1.0, 3.0, 2.0]) < 4 * eff.std_error)
    assert "bootstrap (40 replicates, score refitted)" in eff.variance
    for k in range(3):                          # each level's weights sum to N
        assert a.weights_[w == k].sum() == pytest.approx(len(y))
    with pytest.raises(InputError, match="needs a generalised propensity score"):
        MultilevelSubclassification(balancing_score=CovariateScore()).fit(X, w, y)


# ------------------------------------------------------------------ front doors
def test_estimate_effect_routes_several_levels():
    X, w, y, _ = simulate(n=600, seed=12)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(
        arm=np.array(["ctl", "low", "high"])[w], y=y)
    res = csm.estimate_effect(df, "arm", "y", ["a", "b", "c"], reference="ctl")
    assert isinstance(res, csm.MultilevelEffectResult)
    assert res.levels == ["ctl", "high", "low"] and res.contrast[0] == "high - ctl"
    same = MultilevelMatching(reference="ctl").fit(df[["a", "b", "c"]], df["arm"], y).effect_
    np.testing.assert_allclose(res.estimate, same.estimate, rtol=1e-14)
    sub = csm.estimate_effect(df, "arm", "y", ["a", "b", "c"], method="subclassification",
                              n_bootstrap=20, random_state=0)
    assert sub.method.startswith("subclassification")
    att = csm.multilevel_effect(df, "arm", "y", ["a", "b", "c"], estimand="ATT",
                                target="low", contrasts="reference")
    assert att.target == "low" and att.estimand == "ATT"
    for kwargs, match in [({"estimand": "ATT"}, "needs target"),
                          ({"estimand": "ATC"}, "'ATE' .* or 'ATT'"),
                          ({"score": "double"}, "0/1 treatment"),
                          ({"caliper": 0.1}, "unknown option"),
                          ({"method": "weighting"}, "method must be")]:
        with pytest.raises(InputError, match=match):
            csm.estimate_effect(df, "arm", "y", ["a", "b", "c"], **kwargs)


def test_balance_table_for_several_levels():
    X, w, y, _ = simulate(n=1500, seed=13)
    df = pd.DataFrame(X, columns=["a", "b", "c"])
    tab = csm.balance_table(df, w)
    comps = tab.index.get_level_values("comparison").unique().tolist()
    assert comps == ["0 vs rest", "1 vs rest", "2 vs rest", "1 vs 0", "2 vs 0", "2 vs 1"]
    # a pairwise block is the two-level table of those units
    sel = np.isin(w, [0, 2])
    two = csm.balance_table(df[sel], (w[sel] == 2).astype(int), estimand="ATE")
    pd.testing.assert_frame_equal(tab.xs("2 vs 0", level="comparison"), two)
    est = MultilevelMatching().fit(df, w, y)
    bal = est.balance()
    before = bal["smd_before"].abs().groupby(level="comparison").max()
    after = bal["smd_after"].abs().groupby(level="comparison").max()
    assert (after < before).all() and after.max() < 0.1
    for k in range(3):                          # each level stands in for all N units
        assert est.weights_[w == k].sum() == pytest.approx(len(y))
    import matplotlib
    matplotlib.use("Agg")
    axes = est.plot_balance()
    assert [ax.get_title() for ax in axes] == ["1 vs 0", "2 vs 0", "2 vs 1"]
    import matplotlib.pyplot as plt
    plt.close("all")


def test_compare_several_levels():
    X, w, y, _ = simulate(n=700, seed=14)
    df = pd.DataFrame(X, columns=["a", "b", "c"]).assign(w=w, y=y)
    tab = csm.compare(df, "w", "y", ["a", "b", "c"],
                      methods=["psm", "mahalanobis", "random", "mr"],
                      truth={"1 - 0": 1.0, "2 - 0": 3.0, "2 - 1": 2.0})
    assert tab[["method", "contrast"]].values.tolist()[:4] == [
        ["psm", "1 - 0"], ["psm", "2 - 0"], ["psm", "2 - 1"], ["mahalanobis", "1 - 0"]]
    assert tab.loc[tab.method == "mr", "error"].iloc[0].startswith("skipped")
    ok = tab[tab.error == ""]
    assert ok["covers_truth"].iloc[:6].all()
    assert ok["truth"].tolist()[:3] == [1.0, 3.0, 2.0]
    psm = ok[ok.method == "psm"]["max_abs_smd"].max()
    rnd = ok[ok.method == "random"]["max_abs_smd"].max()
    assert psm < rnd
    assert tab.attrs["levels"] == ["0", "1", "2"] and tab.attrs["estimand"] == "ATE"
    for c in tab.columns:
        assert tab[c].dtype.kind in "fiOb"
    with pytest.raises(InputError, match="needs target"):
        csm.compare(df, "w", "y", ["a", "b", "c"], methods=["psm"], estimand="ATT")


# ------------------------------------------------------------- ACTG 175 multi-arm
def test_actg175_matching_recovers_the_randomised_contrasts():
    """Arms 1-3 are subsampled on prognosis, which biases the naive differences of means;
    matching the recipients of ZDV (arm 0, untouched) to every arm recovers the randomised
    full-trial differences."""
    df = csm.datasets.load_actg175_multiarm()
    cov = df.attrs["covariates"]
    bench = {k: v for k, v in df.attrs["true_means"].items()}
    truth = np.array([bench[k] - bench["0"] for k in ("1", "2", "3")])
    naive = np.array([df.cd420[df.arms == k].mean() - df.cd420[df.arms == 0].mean()
                      for k in (1, 2, 3)])
    res = csm.estimate_effect(df, "arms", "cd420", cov, score="mahalanobis", estimand="ATT",
                              target=0, contrasts="reference")
    assert res.contrast == ["1 - 0", "2 - 0", "3 - 0"]
    z_naive = np.abs(naive - truth) / res.std_error
    z_match = np.abs(res.estimate - truth) / res.std_error
    assert z_naive.max() > 3.5 and z_match.max() < 1.96
    assert np.abs(res.estimate - truth).sum() < 0.5 * np.abs(naive - truth).sum()


def test_cli_compare_actg175(capsys, tmp_path):
    from causalsm.cli import main
    out = tmp_path / "t.json"
    code = main(["compare", "--data", "actg175-multiarm", "--methods", "psm", "mahalanobis",
                 "--quiet", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "4 levels of 'arms'" in text and "ATT over the units that received 0" in text
    assert "0 = ZDV, 1 = ZDV+ddI" in text and "benchmark" in text
    payload = json.loads(out.read_text())
    assert payload["target"] == "0" and len(payload["results"]) == 6
    assert {r["contrast"] for r in payload["results"]} == {"1 - 0", "2 - 0", "3 - 0"}
    code = main(["compare", "--data", "lalonde", "--methods", "psm", "--target", "1"])
    assert code == 2 and "three or more levels" in capsys.readouterr().err
    code = main(["compare", "--data", "actg175-multiarm", "--methods", "psm", "--sensitivity"])
    assert code == 2 and "for a 0/1 treatment" in capsys.readouterr().err
