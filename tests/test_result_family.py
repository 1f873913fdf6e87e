"""One result family (issue 14): every effect estimate shares ``estimate``,
``std_error``, ``ci_lower`` / ``ci_upper``, ``conf_int(alpha)``, ``p_value``,
``summary()`` (text with an HTML view), ``to_frame()`` / ``to_dict()`` with the same
names; intervals at another level are recomputed on the right scale, and a bootstrap
percentile interval says it cannot be."""

import json
import warnings

import numpy as np
import pytest
from scipy import stats

import causalsm as csm
from causalsm import InputError
from causalsm.estimators.gcomputation import gcomputation
from causalsm.estimators.results import Result, Summary

COMMON = ["estimate", "std_error", "ci_lower", "ci_upper", "p_value"]


def _data(n=400, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    t = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    y = X @ [1.0, 0.5] + t + rng.normal(size=n)
    return X, t, y


@pytest.fixture(scope="module")
def results():
    X, t, y = _data()
    T = np.random.default_rng(1).exponential(1 / np.exp(0.3 * t + 0.5 * X[:, 0]))
    df = csm.datasets.simulate_multilevel(500, random_state=2)
    cov = [f"X{j}" for j in range(1, 7)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mr = csm.MultiplyRobustMatching(quantiles=[0.25, 0.5], n_bootstrap=20,
                                        random_state=0).fit(X, t, y)
        return {
            "effect": csm.MatchingEstimator().fit(X, t, y).effect_,
            "quantile": mr.quantile_effect_,
            "hazard": csm.MatchedHazardRatio(estimand="ATT").fit(X, t, T, np.ones(t.size))
            .effect_,
            "multilevel": csm.MultilevelMatching(p_adjust="bonferroni").fit(
                df[cov], df["w"], df["y"]).effect_,
        }


@pytest.mark.parametrize("kind", ["effect", "quantile", "hazard", "multilevel"])
def test_every_result_has_the_same_interface(results, kind):
    r = results[kind]
    assert isinstance(r, Result)
    frame = r.to_frame()
    assert set(COMMON) <= set(frame.columns)
    d = json.loads(json.dumps(r.to_dict()))
    assert set(COMMON) <= set(d)
    np.testing.assert_allclose(np.ravel(d["estimate"]), np.ravel(r.estimate))
    s = r.summary()
    assert isinstance(s, Summary) and isinstance(s, str) and "<table" in s._repr_html_()
    ci = np.asarray(r.conf_int())
    np.testing.assert_array_equal(ci.reshape(-1, 2),
                                  np.column_stack([np.ravel(r.ci_lower), np.ravel(r.ci_upper)]))
    # a narrower level gives a narrower interval around the same estimate
    ci90 = np.asarray(r.conf_int(0.10)).reshape(-1, 2)
    assert np.all(ci90[:, 0] >= ci.reshape(-1, 2)[:, 0] - 1e-12)
    assert np.all(ci90[:, 1] <= ci.reshape(-1, 2)[:, 1] + 1e-12)


def test_multilevel_bonferroni_interval_at_another_level(results):
    r = results["multilevel"]
    m = len(r.contrast)
    z = stats.norm.ppf(1 - 0.10 / (2 * m))          # simultaneous over the m contrasts
    np.testing.assert_allclose(r.conf_int(0.10), np.column_stack(
        [r.estimate - z * r.std_error, r.estimate + z * r.std_error]), rtol=1e-12)


def test_ratio_interval_is_recomputed_on_the_log_scale():
    rng = np.random.default_rng(4)
    n = 600
    x = rng.normal(size=n)
    t = (rng.random(n) < 0.4).astype(int)
    yb = (rng.random(n) < 1 / (1 + np.exp(-(x + t)))).astype(float)
    rr = gcomputation(yb, t, x[:, None], estimand="ATT", vcov="hc3", effect="ratio")
    z = stats.norm.ppf(0.95)
    log_est, log_se = rr.details["log_estimate"], rr.details["log_std_error"]
    assert rr.conf_int(0.10) == pytest.approx((np.exp(log_est - z * log_se),
                                               np.exp(log_est + z * log_se)), rel=1e-12)


def test_bootstrap_percentile_interval_is_only_known_at_its_level():
    X, t, y = _data(300, 5)
    res = csm.MatchingEstimator(variance="wild_bootstrap", n_bootstrap=99,
                                random_state=0).fit(X, t, y).effect_
    assert res.conf_int() == (res.ci_lower, res.ci_upper)
    with pytest.raises(InputError, match="refit with alpha=0.1"):
        res.conf_int(0.1)


def test_counts_mean_the_same_in_every_result(results):
    X, t, y = _data()
    for kind in ("effect", "hazard"):
        r = results[kind]
        assert (r.n_treated, r.n_control) == (int(t.sum()), int((1 - t).sum())), kind
