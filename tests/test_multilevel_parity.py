"""Parity with R's multilevelMatching 1.0.0 (shuyang-stat/multilevelMatching@7ec8932) on fixtures
made by tests/fixtures/r/make_multilevel_reference.R (the tests read the JSON; no R needed).

Three data sets: the package's 9-unit toy example, its ``simulated_data`` (300 units, six
covariates) and a 4-level simulation (300 units, three covariates).  Tolerance 1e-10 relative
(1e-8 is asked for) on estimates, AI 2006 variances, corrected AI 2016 variances, the level
means and the imputed potential outcomes.
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalsm.estimators.multilevel import (MultilevelMatching, _subclass_means,
                                            overlap_mask)
from causalsm.scores.covariates import CovariateScore
from causalsm.scores.gps import GeneralizedPropensityScore, multinomial_logit_mle

REF = json.loads((Path(__file__).parent / "fixtures" / "r" /
                  "multilevel_reference.json").read_text())
RTOL = 1e-10


def data(ds):
    d = REF[ds]["data"]
    X = np.asarray(d["X"], dtype=float)
    return (X[:, None] if X.ndim == 1 else X), np.asarray(d["W"]), np.asarray(d["Y"], float)


def close(a, b, rtol=RTOL):
    np.testing.assert_allclose(np.asarray(a, float), np.asarray(b, float), rtol=rtol, atol=rtol)


def kept_mask(ref, n):
    """The units R analysed (all, or those its trimming kept)."""
    kept = np.ones(n, dtype=bool)
    if "indices_kept" in ref:
        kept[:] = False
        kept[np.asarray(ref["indices_kept"]) - 1] = True
    return kept


def configs(prefix):
    return [(ds, name) for ds in ("toy", "simulated", "four")
            for name in REF[ds]["results"] if name.startswith(prefix)]


def fit(X, W, Y, ref, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return MultilevelMatching(n_neighbors=ref["M"], var_neighbors=ref["J"], **kw).fit(X, W, Y)


def check_common(est, ref, kept=None):
    eff = est.effect_
    assert eff.contrast == [f"{b} - {a}" for a, b in zip(ref["Trt1"], ref["Trt2"])]
    close(eff.estimate, ref["Estimate"])
    close(eff.details["var_ai2006"], ref["Variance"])
    close(eff.means, ref["mu"])
    close(est.imputed_.to_numpy(), ref["impute_mat"])


@pytest.mark.parametrize("ds,name", configs("covariates"))
def test_covariate_matching(ds, name):
    """multiMatch(match_on = "covariates"): Mahalanobis on X (R's Weight = 2) for
    imputation, and within each level for the conditional variances."""
    X, W, Y = data(ds)
    ref = REF[ds]["results"][name]
    est = fit(X, W, Y, ref, balancing_score=CovariateScore(scale="mahalanobis"), bias_correction=False)
    check_common(est, ref)
    assert est.effect_.variance.startswith("Abadie-Imbens (2006)")


@pytest.mark.parametrize("ds", ["toy", "simulated"])
def test_legacy_multilevel_match_x(ds):
    X, W, Y = data(ds)
    leg = REF[ds]["legacy"]["matchX"]
    est = MultilevelMatching(balancing_score=CovariateScore(scale="mahalanobis"),
                             bias_correction=False).fit(X, W, Y)
    close(est.effect_.estimate, leg["tauestimate"])
    close(est.effect_.std_error ** 2, leg["varestimate"])


@pytest.mark.parametrize("ds", ["toy", "simulated", "four"])
def test_multinomial_fit_is_the_exact_mle(ds):
    """Our Newton fit is R's multinom driven to a zero gradient (nnet's defaults stop short:
    its GPS differs by up to ~1e-5, enough to change matches)."""
    X, W, _ = data(ds)
    ref = REF[ds]["fit"]
    gps = GeneralizedPropensityScore().fit(X, W)
    close(np.column_stack([gps.intercept_, gps.coef_]), ref["coef"], rtol=1e-8)
    close(gps.transform(X), ref["gps"], rtol=1e-9)
    close(gps.vcov_, ref["vcov"], rtol=1e-8)
    assert gps.loglik_ == pytest.approx(ref["loglik"], rel=1e-12)
    nnet = np.asarray(REF[ds]["results"]["multinom_nnet_M1J1"]["gps"])   # nnet's defaults
    assert np.abs(nnet - ref["gps"]).max() > 1e-7
    assert np.abs(np.asarray(ref["nnet_reltol15_gps"]) - ref["gps"]).max() < 1e-7


@pytest.mark.parametrize("ds,name", configs("multinom_mle"))
def test_gps_matching_end_to_end(ds, name):
    """multiMatch(match_on = "multinom") with the exact multinomial fit: our whole pipeline
    (fit, trimming, matching, AI 2006 and corrected AI 2016 variances) gives R's numbers."""
    X, W, Y = data(ds)
    ref = REF[ds]["results"][name]
    trim = "multilevelmatching" if name.endswith("trim") else None
    est = fit(X, W, Y, ref, trim=trim)
    kept = np.flatnonzero(est.kept_) + 1
    if trim:
        assert kept.tolist() == ref["indices_kept"]
    check_common(est, ref)
    close(est.effect_.details["var_ai2016"], ref["VarianceAI2016_corrected"])
    close(est.effect_.std_error ** 2, ref["VarianceAI2016_corrected"])
    close(est.effect_.details["c_vectors"], ref["c_vector"], rtol=1e-8)
    close(est.effect_.details["vcov"], ref["vcov"], rtol=1e-8)


@pytest.mark.parametrize("ds,name", configs("multinom_nnet") + configs("polr"))
def test_matching_on_a_given_gps(ds, name):
    """R's own GPS (nnet's or MASS::polr's fit) passed as an array: the matching and the AI 2006
    variance are R's exactly (the case match_on = "existing")."""
    X, W, Y = data(ds)
    ref = REF[ds]["results"][name]
    kept = kept_mask(ref, len(Y))
    est = fit(X[kept], W[kept], Y[kept], ref, balancing_score=np.asarray(ref["gps"]))
    if name.endswith("ref3"):        # see test_reference_level_bug
        close(est.effect_.estimate, ref["Estimate"])
        return
    check_common(est, ref)
    assert "var_ai2016" not in est.effect_.details       # no model behind an array


def _ai2016(X, W, Y, ref, est):
    """c-vectors and corrected AI 2016 variances from R's GPS and vcov (nnet's fit)."""
    gps = np.asarray(ref["gps"])
    codes = np.searchsorted(np.unique(W), W)
    c = MultilevelMatching._ai2016_c(GeneralizedPropensityScore(), X, codes, Y, gps, gps.shape[1])
    V = np.asarray(ref["vcov"])
    pairs = [(int(b) - 1, int(a) - 1) for a, b in zip(ref["Trt1"], ref["Trt2"])]
    v06 = est.effect_.details["var_ai2006"]
    minus = np.array([v - (c[k] - c[j]) @ V @ (c[k] - c[j]) for v, (k, j) in zip(v06, pairs)])
    plus = np.array([v - (c[k] + c[j]) @ V @ (c[k] + c[j]) for v, (k, j) in zip(v06, pairs)])
    return c, minus, plus


@pytest.mark.parametrize("ds,name", [c for c in configs("multinom_nnet") if "ref3" not in c[1]])
def test_ai2016_sign_error_of_multimatch(ds, name):
    """The AI 2016 adjustment with R's nnet GPS and vcov.  Our c-vectors are the package's.
    With c_k - c_j (the paper, and the fixed legacy multilevelGPSMatch) we get the corrected
    variance; multiMatch's VarianceAI2016 is reproduced only with c_j + c_k: its sign error."""
    X, W, Y = data(ds)
    ref = REF[ds]["results"][name]
    kept = kept_mask(ref, len(Y))
    X, W, Y = X[kept], W[kept], Y[kept]
    est = fit(X, W, Y, ref, balancing_score=np.asarray(ref["gps"]))
    c, minus, plus = _ai2016(X, W, Y, ref, est)
    close(c, ref["c_vector"], rtol=1e-12)
    close(minus, ref["VarianceAI2016_corrected"])
    close(plus, ref["VarianceAI2016"])
    assert not np.allclose(minus, plus, rtol=1e-3)
    legacy = REF[ds].get("legacy", {})
    key = "gps_trim" if name.endswith("trim") else "gps_notrim"
    if name in ("multinom_nnet_M1J1", "multinom_nnet_trim") and legacy:
        close(minus, legacy[key]["varestimateAI2012"])     # the fixed legacy function
        close(est.effect_.estimate, legacy[key]["tauestimate"])
        close(est.effect_.details["var_ai2006"], legacy[key]["varestimate"])


@pytest.mark.parametrize("ds", ["toy", "simulated", "four"])
def test_trimming_rules(ds):
    """The package's threshold (2 obj(a*)) keeps its units; Crump's exact minimiser trims at
    least as many.  (multiMatch's own indices_dropped is wrong when the dropped units are not
    all among the first n_kept: it is computed from 1:length(Y) after Y was trimmed.)"""
    X, W, _ = data(ds)
    gps = GeneralizedPropensityScore().fit(X, W).transform(X)
    mlm, a_mlm = overlap_mask(gps, "multilevelmatching")
    crump, a_crump = overlap_mask(gps, "crump")
    ref = REF[ds]["results"]["multinom_mle_trim"]
    assert (np.flatnonzero(mlm) + 1).tolist() == ref["indices_kept"]
    assert a_crump < a_mlm and not (crump & ~mlm).any()
    dropped = np.flatnonzero(~mlm) + 1
    if ds == "four":
        assert len(ref["indices_dropped"]) < dropped.size
        assert set(ref["indices_dropped"]) == set(dropped[dropped <= mlm.sum()])
    else:
        assert np.atleast_1d(ref["indices_dropped"]).tolist() == dropped.tolist()
    if ds == "simulated":               # the spec: rows 192 and 207, by either rule
        assert (np.flatnonzero(~crump) + 1).tolist() == [192, 207]


def test_reference_level_bug():
    """multiMatch with reference_level = 3 matches level w on the wrong GPS column (fitted()
    puts the reference first); causalsm indexes the GPS by level, so the reference only
    orients the contrasts."""
    X, W, Y = data("simulated")
    ref3 = REF["simulated"]["results"]["multinom_nnet_ref3"]
    nnet = REF["simulated"]["results"]["multinom_nnet_M1J1"]
    assert abs(ref3["Estimate"][0] - nnet["Estimate"][0]) > 0.5       # R changes the effect
    a = MultilevelMatching().fit(X, W, Y).effect_
    b = MultilevelMatching(reference=3).fit(X, W, Y).effect_
    close(a.means, b.means, rtol=1e-14)
    assert b.contrast == ["1 - 3", "2 - 3", "2 - 1"]
    close(b.estimate, [a.means[0] - a.means[2], a.means[1] - a.means[2],
                       a.means[1] - a.means[0]], rtol=1e-12)


@pytest.mark.parametrize("key,ns", [("mle_NS5", 5), ("mle_NS10", 10), ("polr_NS10", 10)])
def test_subclassification_point_estimates(key, ns):
    """multilevelGPSStratification on a given GPS: quantile(type = 2) subclasses, empty cells
    dropped, subclass-size weights."""
    X, W, Y = data("simulated")
    gps = (REF["simulated"]["fit"]["gps"] if key.startswith("mle")
           else REF["simulated"]["results"]["polr_M1J1"]["gps"])
    mu = _subclass_means(np.asarray(gps), W - 1, Y, 3, ns)
    close([mu[1] - mu[0], mu[2] - mu[0], mu[2] - mu[1]],
          REF["simulated"]["stratification"][key], rtol=1e-12)


def test_subclassification_estimator_on_given_gps():
    from causalsm.estimators.multilevel import MultilevelSubclassification
    X, W, Y = data("simulated")
    gps = np.asarray(REF["simulated"]["fit"]["gps"])
    sub = MultilevelSubclassification(gps, n_strata=5, n_bootstrap=20,
                                      random_state=0).fit(X, W, Y)
    close(sub.effect_.estimate, REF["simulated"]["stratification"]["mle_NS5"], rtol=1e-12)
    # with the default (refitted multinomial) score the point estimate is the same
    sub2 = MultilevelSubclassification(n_strata=5, n_bootstrap=20, random_state=0).fit(X, W, Y)
    close(sub2.effect_.estimate, sub.effect_.estimate, rtol=1e-12)
    assert np.all(sub2.effect_.std_error > 0)


@pytest.mark.filterwarnings("ignore:limited overlap")
def test_string_levels_and_row_order_do_not_matter():
    """Levels as strings in shuffled rows give the same numbers (no exact ties here)."""
    X, W, Y = data("four")
    ref = REF["four"]["results"]["multinom_mle_M1J1"]
    perm = np.random.default_rng(3).permutation(len(Y))
    labels = np.array(["a", "b", "c", "d"])[W - 1]
    est = MultilevelMatching().fit(pd.DataFrame(X[perm], columns=["x1", "x2", "x3"]),
                                   pd.Series(labels[perm]), Y[perm])
    close(est.effect_.estimate, ref["Estimate"], rtol=1e-9)
    close(est.effect_.std_error ** 2, ref["VarianceAI2016_corrected"], rtol=1e-9)
    assert est.effect_.contrast[:3] == ["b - a", "c - a", "d - a"]


def test_multinomial_mle_matches_logistic_for_two_levels():
    from causalsm.scores.propensity import logistic_mle
    X, W, _ = data("simulated")
    two = W < 3
    D = np.column_stack([np.ones(two.sum()), X[two]])
    mult = multinomial_logit_mle(D, (W[two] == 2).astype(int), 2)["coef"][0]
    np.testing.assert_allclose(mult, logistic_mle(D, (W[two] == 2).astype(int)), rtol=1e-8)
