"""Parity with R's Matching::Match (4.10-8) and glm on fixtures made by
tests/fixtures/r/make_matching_reference.R (the tests read the JSON; no R needed)."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm import CovariateScore, PropensityScore, match
from causalsm.estimators.average import matching_effect

FIXTURE = Path(__file__).parent / "fixtures" / "r" / "matching_reference.json"
REF = json.loads(FIXTURE.read_text())
DW = ["age", "age2", "educ", "educ2", "black", "hisp", "married", "nodegr", "re74", "re742",
      "re75", "re752", "u74", "u75"]


def frame(name):
    df = pd.DataFrame(REF["datasets"][name]["data"])
    for c in ("age", "educ", "re74", "re75"):
        df[c + "2"] = df[c] ** 2
    return df


def design(df, args, lp):
    cols = args["X_columns"]
    return np.column_stack([lp if c == "lp" else df[c].to_numpy(float) for c in cols])


def run(df, lp, args, y, weights=None):
    """Translate Match() arguments into causalsm calls."""
    X = design(df, args, lp)
    scale = "mahalanobis" if args.get("Weight") == 2 else "variance"   # Weight 3 = I here
    if args.get("Weight") == 3:
        assert np.array_equal(np.array(args["Weight_matrix"]), np.eye(X.shape[1]))
    # CovariateScore already gives R's scaled covariates: match on them as they are.
    S = CovariateScore(scale=scale).fit(X, sample_weight=weights).transform(X)
    exact = args.get("exact")
    if exact is True:
        exact = [True] * X.shape[1]
    exact_vals = None if not exact else X[:, np.flatnonzero(exact)]
    t = df["treat"].to_numpy()
    m = match(S, t, estimand=args["estimand"], n_neighbors=args["M"],
              caliper=args.get("caliper"), exact=exact_vals, standardize=False,
              weights=weights, drop_incomplete=True)
    Z = np.column_stack([lp if c == "lp" else df[c].to_numpy(float)
                         for c in args["Z_columns"]])
    res = matching_effect(m, y, Z, bias_correction=args.get("BiasAdjust", False),
                          var_neighbors=args.get("Var.calc", 0),
                          sample=args.get("sample", False), exact=exact_vals,
                          standardize=False, r_compatible=True)
    return m, res


def check(m, res, ref, rel=1e-8):
    assert res["estimate"] == pytest.approx(ref["est"], rel=rel, abs=1e-10)
    assert res["estimate_unadjusted"] == pytest.approx(ref["est_noadj"], rel=rel, abs=1e-10)
    assert np.sqrt(res["variance"]) == pytest.approx(ref["se"], rel=rel)
    p = m.pairs()
    ours = sorted(zip(p.treated + 1, p.control + 1, np.round(p.weight, 12)))
    theirs = sorted(zip(ref["index_treated"], ref["index_control"],
                        np.round(ref["weights"], 12)))
    assert ours == theirs
    if m.estimand == "ATE":   # R counts units in no pair at all; we count unmatched focal units
        assert m.n - np.union1d(m.focal, m.matched).size == ref["n_dropped"]
    else:
        assert m.n_dropped == ref["n_dropped"]


CONFIGS = [(data, name) for data in ("nsw", "psid") for name in REF["results"][data]
           if not REF["results"][data][name].get("rng_dependent")]


@pytest.mark.parametrize("data, name", CONFIGS)
def test_match_configurations(data, name):
    df = frame(data)
    lp = np.array(REF["datasets"][data]["logit_ps"])
    ref = REF["results"][data][name]
    m, res = run(df, lp, ref["args"], df["re78"].to_numpy(float))
    check(m, res, ref)


SUITE = REF["abadie_imbens_suite"]["results"]


@pytest.mark.parametrize("name", list(SUITE))
def test_matching_package_test_suite(name):
    """All 16 cases of Matching's tests/AbadieImbens.R, survey-weighted ones included."""
    df = frame("nsw")
    ref = SUITE[name]
    w = np.array(REF["abadie_imbens_suite"]["w_educ"]) if ref["args"].get("weights_used") \
        else None
    m, res = run(df, None, ref["args"], df["re78"].to_numpy(float) / 1000, weights=w)
    check(m, res, ref)
    assert ref["est"] == pytest.approx(ref["spec_est"], rel=1e-12)   # fixture = spec table
    assert ref["se"] == pytest.approx(ref["spec_se"], rel=1e-12)


def test_suite_is_complete():
    assert sorted(v["spec_row"] for v in SUITE.values()) == list(range(1, 17))


def test_dehejia_wahba_demo():
    ref = REF["dehejia_wahba_ps"]
    df = frame("nsw")
    m = match(np.array(ref["pscore"]), df["treat"], estimand="ATT")
    res = matching_effect(m, df["re78"].to_numpy(float), var_neighbors=0)
    assert res["estimate"] == pytest.approx(ref["est"], rel=1e-10)
    assert np.sqrt(res["variance"]) == pytest.approx(ref["se"], rel=1e-10)
    assert round(res["estimate"], 1) == 2153.3 and round(np.sqrt(res["variance"]), 1) == 825.4
    assert m.n_pairs == 346


@pytest.mark.parametrize("data", ["nsw", "psid"])
def test_propensity_score_equals_glm(data):
    df = frame(data)
    ps = PropensityScore().fit(df[DW], df["treat"])
    np.testing.assert_allclose(ps.transform(df[DW])[:, 0], REF["datasets"][data]["logit_ps"],
                               rtol=0, atol=1e-6)
    coef = REF["datasets"][data]["glm_coef"]
    assert ps.intercept_ == pytest.approx(coef["(Intercept)"], rel=1e-6)


@pytest.mark.parametrize("data", ["nsw", "psid"])
def test_estimator_end_to_end_equals_match(data):
    """The public estimator (own logistic fit, own matching) gives R's numbers."""
    df = frame(data)
    ref = REF["results"][data]["att_logitps_m1"]
    est = csm.MatchingEstimator(bias_correction=False, var_neighbors=0)
    est.fit(df[DW], df["treat"], df["re78"])
    assert est.effect_.estimate == pytest.approx(ref["est"], rel=1e-8)
    assert est.effect_.std_error == pytest.approx(ref["se"], rel=1e-8)
    ref_s = REF["results"][data]["att_logitps_varcalc1_sample"]
    est.set_params(var_neighbors=1, variance="ai_sample").fit(df[DW], df["treat"], df["re78"])
    assert est.effect_.std_error == pytest.approx(ref_s["se"], rel=1e-8)


@pytest.mark.parametrize("data", ["nsw", "psid"])
def test_without_replacement_follows_match_semantics(data):
    """R breaks near-ties (within distance.tolerance) with its own RNG, so its rows
    cannot be reproduced; check instead that each of R's picks is a valid greedy
    choice: within tolerance of the nearest still-unused control, in data order."""
    df = frame(data)
    lp = np.array(REF["datasets"][data]["logit_ps"])
    ref = REF["results"][data]["att_logitps_noreplace"]
    z = (lp - lp.mean()) / lp.std(ddof=1)
    t = df["treat"].to_numpy()
    used = set()
    for i, j in zip(ref["index_treated"], ref["index_control"]):
        i, j = i - 1, j - 1
        free = np.array([c for c in np.flatnonzero(t == 0) if c not in used])
        d2 = (z[free] - z[i]) ** 2
        assert (z[j] - z[i]) ** 2 <= d2.min() + 1e-5
        used.add(j)
    assert list(ref["index_treated"]) == sorted(ref["index_treated"])      # data order
    m = match(lp, t, replace=False)
    assert m.n_pairs == len(ref["index_treated"]) and m.n_dropped == 0
    y = df["re78"].to_numpy(float)
    r_est = np.mean(y[np.array(ref["index_treated"]) - 1] - y[np.array(ref["index_control"]) - 1])
    assert r_est == pytest.approx(ref["est"], rel=1e-10)


def test_estimator_with_survey_weights_equals_match():
    """Row 14 of Matching's suite through the public estimator (sample_weight)."""
    df = frame("nsw")
    ref = SUITE["ai14_x4_ate_weights_educ"]
    w = np.array(REF["abadie_imbens_suite"]["w_educ"])
    est = csm.MatchingEstimator(balancing_score=CovariateScore(), estimand="ATE", bias_correction=False,
                                var_neighbors=0, variance="ai_sample")
    est.fit(df[["age", "educ", "re74", "re75"]], df["treat"], df["re78"] / 1000,
            sample_weight=w)
    assert est.effect_.estimate == pytest.approx(ref["est"], rel=1e-8)
    assert est.effect_.std_error == pytest.approx(ref["se"], rel=1e-8)
    with pytest.raises(csm.InputError, match="sample_weight"):
        est.set_params(variance="wild_bootstrap").fit(df[["age"]], df["treat"], df["re78"],
                                                      sample_weight=w)


def test_weighted_logistic_equals_replicated_rows():
    df = frame("nsw")
    rng = np.random.default_rng(0)
    k = rng.integers(1, 4, size=len(df))
    weighted = PropensityScore().fit(df[DW], df["treat"], sample_weight=k)
    rep = df.loc[df.index.repeat(k)]
    replicated = PropensityScore().fit(rep[DW], rep["treat"])
    np.testing.assert_allclose(weighted.coef_, replicated.coef_, rtol=1e-7)


# ------------------------------------------------- the README's main job: compare on PSID
COMPARE_REF = json.loads((FIXTURE.parent / "compare_reference.json").read_text())


def test_compare_on_lalonde_psid_equals_r_matching():
    """``causalsm compare --data lalonde_psid``'s PSM row, and Mahalanobis matching on the
    same ten covariates, against Matching::Match (make_compare_reference.R)."""
    df = csm.datasets.load_lalonde("psid")
    covs = df.attrs["covariates"]
    tab = csm.compare(df, treatment="treat", outcome="re78", covariates=covs,
                      methods=["psm", "mahalanobis"], estimand="ATT").set_index("method")
    assert tab.loc["psm", "estimate"] == pytest.approx(COMPARE_REF["psm"]["est"], rel=1e-10)
    # the mahalanobis row: bias-corrected by an OLS over all controls (bias_fit "arm")
    assert tab.loc["mahalanobis", "estimate"] == pytest.approx(
        COMPARE_REF["mahalanobis_armfit"]["est"], rel=1e-10)
    # compare's default SE is Abadie-Imbens with one same-arm neighbour (R: Var.calc = 1)
    assert tab.loc["psm", "std_error"] == pytest.approx(COMPARE_REF["psm_varcalc1"]["se"],
                                                       rel=1e-8)
    for key, kw in (("psm", {}), ("mahalanobis", {"bias_correction": False}),
                    ("mahalanobis_biasadj", {"bias_fit": "matched"})):
        score = PropensityScore() if key == "psm" else CovariateScore(scale="mahalanobis")
        r = csm.MatchingEstimator(score, estimand="ATT", var_neighbors=0, **kw).fit(
            df[covs], df["treat"], df["re78"]).effect_
        assert r.estimate == pytest.approx(COMPARE_REF[key]["est"], rel=1e-10), key
        assert r.std_error == pytest.approx(COMPARE_REF[key]["se"], rel=1e-8), key
