"""Scores declare, estimators ask (issue 14): what a score says about itself through
``__causalsm_tags__`` decides how estimators treat it, for any class, and the matching
options are the same for every estimator that matches."""

import warnings

import numpy as np
import pytest
from sklearn.base import BaseEstimator, TransformerMixin

import causalsm as csm
from causalsm import MatchedHazardRatio, match
from causalsm.estimators.cox import cox_fit
from causalsm.scores import CovariateScore, score_tags
from causalsm.scores.gps import GeneralizedPropensityScore


class NoisyLogit(TransformerMixin, BaseEstimator):
    """A user's score that is not one of causalsm's classes: the logistic score plus
    seed-dependent noise, declared stochastic."""

    def __init__(self, random_state=None):
        self.random_state = random_state

    def fit(self, X, t):
        self.ps_ = csm.PropensityScore().fit(X, t)
        return self

    def transform(self, X):
        rng = np.random.default_rng(self.random_state)
        S = self.ps_.transform(X)
        return S + 0.05 * rng.standard_normal(S.shape)

    def __causalsm_tags__(self):
        return {"stochastic": True}


class UntaggedGPS(TransformerMixin, BaseEstimator):
    """A user's generalised propensity score (a classifier's probabilities)."""

    def fit(self, X, t):
        from sklearn.linear_model import LogisticRegression
        self.model_ = LogisticRegression(max_iter=1000).fit(X, t)
        return self

    def transform(self, X):
        return self.model_.predict_proba(X)


class UserGPS(UntaggedGPS):
    """The same score, saying that its columns are the level probabilities."""

    def __causalsm_tags__(self):
        return {"level_probabilities": True}


@pytest.fixture(scope="module")
def survival_data():
    rng = np.random.default_rng(3)
    n = 500
    X = np.column_stack([rng.standard_normal(n), rng.integers(0, 2, n)])
    t = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0] + 0.5 * X[:, 1]))).astype(int)
    T = rng.exponential(1 / np.exp(0.4 * t + 0.5 * X[:, 0] + 0.3 * X[:, 1]))
    d = (rng.random(n) < 0.8).astype(float)
    return X, t, T, d


def test_builtin_scores_declare_their_tags():
    assert score_tags(CovariateScore()).covariate_metric == "sd"
    assert score_tags(CovariateScore(scale="mahalanobis")).covariate_metric == "mahalanobis"
    assert score_tags(CovariateScore()).prescaled
    assert score_tags(GeneralizedPropensityScore()).level_probabilities
    assert score_tags(GeneralizedPropensityScore()).logistic_propensity
    from sklearn.ensemble import RandomForestClassifier
    assert not score_tags(GeneralizedPropensityScore(RandomForestClassifier())).logistic_propensity
    assert score_tags(csm.PropensityScore()).logistic_propensity
    assert not score_tags(csm.PropensityScore()).stochastic


def test_a_user_score_declared_stochastic_is_fitted_five_times(survival_data):
    X, t, T, d = survival_data
    est = MatchedHazardRatio(NoisyLogit(), estimand="ATT", random_state=0).fit(X, t, T, d)
    fits = est.effect_.details["log_hr_fits"]
    assert len(fits) == 5 and len(set(np.round(fits, 12))) == 5
    assert est.effect_.log_hr == pytest.approx(np.mean(fits), abs=1e-12)


def test_a_user_gps_declaring_level_probabilities_is_matched_level_by_level():
    df = csm.datasets.simulate_multilevel(600, random_state=1)
    cov = [f"X{j}" for j in range(1, 7)]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fits = {name: csm.MultilevelMatching(balancing_score=score, **kw).fit(df[cov], df["w"], df["y"])
                for name, score, kw in [("tag", UserGPS(), {}),
                                        ("forced", UntaggedGPS(), {"score_by_level": True}),
                                        ("untagged", UntaggedGPS(), {})]}
    est = {k: f.effect_.estimate for k, f in fits.items()}
    np.testing.assert_allclose(est["tag"], est["forced"], rtol=0, atol=1e-12)
    assert np.abs(est["untagged"] - est["tag"]).max() > 1e-6   # joint matching differs


@pytest.mark.parametrize("option", [
    {"exact": 1},
    {"exact": [1], "caliper": 0.1, "drop_incomplete": True},
    {"replace": False, "order": "largest"},
    {"standardize": False, "n_neighbors": 2},
])
def test_hazard_ratio_takes_every_matching_option(survival_data, option):
    """MatchedHazardRatio matches as csm.match does with the same options; the Cox fit
    on those weights is its estimate."""
    X, t, T, d = survival_data
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est = MatchedHazardRatio(estimand="ATT", random_state=0, **option).fit(X, t, T, d)
        S = csm.PropensityScore().fit(X, t).transform(X)
        kw = {k: v for k, v in option.items() if k != "exact"}
        if "exact" in option:
            kw["exact"] = X[:, 1]
        m = match(S, t, estimand="ATT", random_state=0, **kw)
    np.testing.assert_array_equal(est.matches_.weights, m.weights)
    assert est.effect_.log_hr == pytest.approx(cox_fit(T, d, t, m.weights).beta, abs=1e-12)
    if "exact" in option:
        pairs = est.matches_.pairs()
        assert (X[pairs["treated"], 1] == X[pairs["control"], 1]).all()
        assert "exact strata" in est.effect_.method


def test_ps_adjustment_asks_for_a_binary_logistic_score():
    """The AI (2016) adjustment needs ``propensity(X)`` of a 0/1 treatment: a multinomial
    GPS declares logistic_propensity too, but also level_probabilities, and is refused
    with a message rather than a shape error."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    t = (rng.random(200) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    y = X[:, 0] + t + rng.normal(size=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(csm.InputError, match="binary logistic propensity score"):
            csm.MatchingEstimator(balancing_score=GeneralizedPropensityScore(),
                                  variance="ai_ps").fit(X, t, y)
        ok = csm.MatchingEstimator(variance="ai_ps").fit(X, t, y).effect_
    assert np.isfinite(ok.std_error) and "Abadie-Imbens" in ok.variance
