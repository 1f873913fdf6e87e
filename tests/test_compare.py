"""Tests for causalsm.compare: values on a design with a known effect, reproducibility
across n_jobs, failures as rows."""

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm import InputError
from causalsm.comparison import DEFAULT_METHODS, METHODS, RandomScore

TRUE_ATT = 2.0
FAST_NEURAL = {"epochs": 3, "hidden_layer_sizes": (16,)}


@pytest.fixture(scope="module")
def sim():
    """Confounded design with a constant effect of 2 (so ATT = ATE = ATC = 2)."""
    rng = np.random.default_rng(1)
    n = 600
    X = rng.normal(size=(n, 3))
    t = (rng.uniform(size=n) < 1 / (1 + np.exp(-(1.2 * X[:, 0] - 0.6 * X[:, 1])))).astype(int)
    y = 1.5 * X[:, 0] + X[:, 1] + 0.5 * X[:, 2] + TRUE_ATT * t + rng.normal(scale=0.5, size=n)
    df = pd.DataFrame(X, columns=["x1", "x2", "x3"])
    df["t"], df["y"] = t, y
    return df


def _run(df, **kw):
    kw.setdefault("methods", ["psm", "mahalanobis", "random"])
    return csm.compare(df, treatment="t", outcome="y", covariates=["x1", "x2", "x3"], **kw)


def test_recovers_known_effect_and_random_is_the_floor(sim):
    tab = _run(sim, truth=TRUE_ATT).set_index("method")
    naive = sim.y[sim.t == 1].mean() - sim.y[sim.t == 0].mean()
    assert naive - TRUE_ATT > 0.8                      # the design is confounded
    for m in ("psm", "mahalanobis"):
        assert abs(tab.loc[m, "estimate"] - TRUE_ATT) < 0.25
        assert tab.loc[m, "ci_lower"] < TRUE_ATT < tab.loc[m, "ci_upper"]
        assert tab.loc[m, "covers_truth"]
        assert tab.loc[m, "abs_error"] == pytest.approx(abs(tab.loc[m, "estimate"] - 2))
        assert tab.loc[m, "max_abs_smd"] < 0.15
        assert tab.loc[m, "error"] == ""
    # random matching keeps the imbalance (and the bias) of the raw data
    assert tab.loc["random", "max_abs_smd"] > 3 * tab.loc["mahalanobis", "max_abs_smd"]
    assert tab.loc["random", "linear_mmd"] > 10 * tab.loc["psm", "linear_mmd"]
    assert tab.loc["random", "abs_error"] > 0.5
    assert tab.attrs["max_abs_smd_before"] > tab.loc["psm", "max_abs_smd"]
    assert (tab["n_matched"] == int(sim.t.sum())).all() and (tab["n_dropped"] == 0).all()


def test_rows_equal_estimate_effect_and_balance(sim):
    tab = _run(sim, n_neighbors=2).set_index("method")
    cov = ["x1", "x2", "x3"]
    for method, score in (("psm", "propensity"), ("mahalanobis", "mahalanobis")):
        res = csm.estimate_effect(sim, "t", "y", cov, score=score, n_neighbors=2,
                                  random_state=0)
        assert tab.loc[method, "estimate"] == pytest.approx(res.estimate, rel=1e-12)
        assert tab.loc[method, "std_error"] == pytest.approx(res.std_error, rel=1e-12)
    est = csm.MatchingEstimator(balancing_score=csm.CovariateScore("mahalanobis"), n_neighbors=2,
                                random_state=0).fit(sim[cov], sim.t, sim.y)
    smd = est.balance()["smd_after"].abs().max()
    assert tab.loc["mahalanobis", "max_abs_smd"] == pytest.approx(smd)
    mmd = csm.balance.linear_mmd(sim[cov], sim.t, est.matches_.weights)
    assert tab.loc["mahalanobis", "linear_mmd"] == pytest.approx(mmd)


def test_plain_dtypes_and_columns(sim):
    tab = _run(sim)
    assert list(tab.columns) == ["method", "description", "estimand", "estimate", "std_error",
                                 "ci_lower", "ci_upper", "p_value", "critical_gamma", "evalue",
                                 "evalue_ci", "max_abs_smd", "linear_mmd", "n_matched",
                                 "n_dropped", "fit_seconds", "error"]
    assert tab["estimate"].dtype == np.float64 and tab["n_dropped"].dtype == np.int64
    assert all(isinstance(v, str) for v in tab["method"]) and "truth" not in tab
    assert tab.attrs["estimand"] == "ATT" and tab.attrs["truth"] is None


def test_identical_for_one_and_two_jobs_all_methods(sim):
    small = sim.iloc[:300]
    kw = dict(methods=None, neural_params=FAST_NEURAL, mr_params={"n_bootstrap": 20})
    one = _run(small, n_jobs=1, **kw)
    two = _run(small, n_jobs=2, **kw)
    assert list(one["method"]) == list(DEFAULT_METHODS)
    assert (one["error"] == "").all(), one["error"].tolist()
    pd.testing.assert_frame_equal(one.drop(columns="fit_seconds"),
                                  two.drop(columns="fit_seconds"))
    # NSM and NN-PS share one network: the same rows as separate runs give
    nsm = csm.NeuralBalancingScore(random_state=0, **FAST_NEURAL)
    res = csm.estimate_effect(small, "t", "y", ["x1", "x2", "x3"], score=nsm, random_state=0)
    assert one.loc[0, "estimate"] == pytest.approx(res.estimate, rel=1e-10)
    nnps = csm.NeuralBalancingScore(random_state=0, output="propensity", **FAST_NEURAL)
    res = csm.estimate_effect(small, "t", "y", ["x1", "x2", "x3"], score=nnps, random_state=0)
    assert one.loc[1, "estimate"] == pytest.approx(res.estimate, rel=1e-10)


class _Broken(RandomScore):
    def fit(self, X, t=None):
        raise RuntimeError("the model\ndid not converge")


def test_failing_method_gives_an_error_row(sim):
    tab = _run(sim, methods={"PSM": "psm", "broken": _Broken()}).set_index("method")
    assert tab.loc["PSM", "error"] == "" and np.isfinite(tab.loc["PSM", "estimate"])
    row = tab.loc["broken"]
    assert row["error"] == "RuntimeError: the model did not converge"
    assert np.isnan(row[["estimate", "std_error", "ci_lower", "max_abs_smd"]].astype(float)).all()
    assert row["n_dropped"] == -1


def test_mr_is_skipped_for_the_atc_and_truth_from_attrs(sim):
    df = sim.copy()
    df.attrs["true_effect"] = {"ATT": 2.0, "ATC": 2.0}
    tab = _run(df, methods=["mr", "psm"], estimand="ATC").set_index("method")
    assert tab.loc["mr", "error"].startswith("skipped:")
    assert np.isnan(tab.loc["mr", "estimate"])
    assert tab.loc["psm", "estimand"] == "ATC"
    assert tab.attrs["truth"] == 2.0 and tab.loc["psm", "truth"] == 2.0
    assert abs(tab.loc["psm", "estimate"] - 2.0) < 0.3


def test_aliases_and_custom_scores(sim):
    tab = _run(sim, methods={"logit PS": "propensity", "my score": csm.PCAScore(2)})
    assert tab["method"].tolist() == ["logit PS", "my score"]
    assert tab["description"].tolist() == [METHODS["psm"], "PCAScore"]


@pytest.mark.parametrize("kw, match", [
    (dict(methods=["psm", "nope"]), "unknown method 'nope'"),
    (dict(methods=[]), "empty"),
    (dict(caliperr=0.1), "unknown option"),
    (dict(mr_params={"foo": 1}), "unknown mr_params"),
    (dict(estimand="ATX"), "unknown estimand"),
    (dict(covariates=["x1", "zz"]), "column 'zz'"),
])
def test_user_mistakes_raise(sim, kw, match):
    covariates = kw.pop("covariates", ["x1", "x2", "x3"])
    with pytest.raises(InputError, match=match):
        csm.compare(sim, treatment="t", outcome="y", covariates=covariates, **kw)


def test_non_binary_treatment_names_the_column(sim):
    df = sim.assign(t=sim.t * 2)
    with pytest.raises(InputError, match="'t'"):
        _run(df)


def test_n_jobs_must_be_a_whole_number():
    df = csm.datasets.load_lalonde()
    with pytest.raises(InputError, match="n_jobs"):
        csm.compare(df, treatment="treat", outcome="re78", methods=["psm"], n_jobs=1.5)
    # a whole-number double (as R passes 2) is accepted and changes nothing
    tab = csm.compare(df, treatment="treat", outcome="re78", methods=["psm"], n_jobs=2.0)
    one = csm.estimate_effect(df, treatment="treat", outcome="re78", random_state=0)
    assert tab.loc[0, "estimate"] == pytest.approx(one.estimate, rel=1e-12)
