"""MatchingEstimator: identities, coverage against a known truth, results, bad input."""

import json
import warnings

import numpy as np
import pandas as pd
import pytest
from joblib import parallel_backend
from sklearn.base import clone
from sklearn.ensemble import RandomForestClassifier

import causalsm as csm
from causalsm import InputError, MatchingEstimator
from causalsm.estimators.average import influence_terms, matching_effect


def simulate(n, rng):
    """Confounded design with a heterogeneous effect tau(x) = 2 + x1."""
    X = rng.normal(size=(n, 2))
    p = 1 / (1 + np.exp(-(-0.5 + 0.8 * X[:, 0] - 0.5 * X[:, 1])))
    t = (rng.random(n) < p).astype(int)
    y = 1 + X[:, 0] + 0.5 * X[:, 1] + t * (2 + X[:, 0]) + rng.normal(size=n)
    return X, t, y


@pytest.fixture(scope="module")
def truth():
    X, t, _ = simulate(2_000_000, np.random.default_rng(123))
    return {"ATT": 2 + X[t == 1, 0].mean(), "ATE": 2.0, "ATC": 2 + X[t == 0, 0].mean()}


def coverage(truth, estimand, n, reps, **kw):
    hits, ests = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(reps):
            X, t, y = simulate(n, np.random.default_rng(r))
            e = MatchingEstimator(estimand=estimand, random_state=r, **kw).fit(X, t, y).effect_
            hits.append(e.ci_lower <= truth[estimand] <= e.ci_upper)
            ests.append(e.estimate)
    return np.mean(hits), np.mean(ests) - truth[estimand]


# With 200 replications a 95% interval covers 190 times on average, SD 3.1:
# a rate outside [0.90, 0.99] would happen by chance less than once in 1000.
@pytest.mark.parametrize("estimand", ["ATT", "ATE"])
def test_default_variance_covers(truth, estimand):
    rate, bias = coverage(truth, estimand, n=400, reps=200)
    assert 0.90 <= rate <= 0.99
    assert abs(bias) < 0.05


def test_wild_bootstrap_covers(truth):
    rate, bias = coverage(truth, "ATT", n=800, reps=200, variance="wild_bootstrap",
                          n_bootstrap=299)
    assert 0.90 <= rate <= 0.99
    assert abs(bias) < 0.05


def test_ps_adjusted_variance_covers_and_tightens(truth):
    rate, _ = coverage(truth, "ATE", n=400, reps=200, variance="ai_ps")
    plain, _ = coverage(truth, "ATE", n=400, reps=200, variance="ai")
    assert 0.90 <= rate <= 0.99
    assert rate < plain                        # AI (2016): ignoring estimation is conservative


def test_bias_corrected_estimate_is_its_linear_form():
    X, t, y = simulate(600, np.random.default_rng(5))
    for estimand in ("ATT", "ATC", "ATE"):
        m = csm.match(csm.CovariateScore().fit(X).transform(X), t, estimand=estimand,
                      n_neighbors=2)
        res = matching_effect(m, y, X, bias_correction=True)
        lin = influence_terms(m, y, res["mu0"], res["mu1"], 0.0).sum()
        assert lin == pytest.approx(res["estimate"], rel=1e-10)


def test_bias_correction_gives_a_column_constant_among_the_matches_no_slope():
    # A pixel that is 0.1 for every control and varies among the treated: its weighted
    # centring leaves rounding noise (~1e-17) among the controls, which scaled to unit
    # SD once multiplied the treated units' values by ~1e16 (ATT errors of 1e14 on the
    # digits design).  Its slope must be 0, so the estimate is that without the column.
    X, t, y = simulate(600, np.random.default_rng(7))
    pixel = np.where(t == 1, np.random.default_rng(8).uniform(0, 16, t.size), 0.1)
    m = csm.match(csm.CovariateScore().fit(X).transform(X), t, n_neighbors=5)
    with_pixel = matching_effect(m, y, np.column_stack([X, pixel]), bias_correction=True)
    without = matching_effect(m, y, X, bias_correction=True)
    assert with_pixel["estimate"] == pytest.approx(without["estimate"], rel=1e-10)
    assert with_pixel["variance"] == pytest.approx(without["variance"], rel=1e-10)


def test_ate_is_weighted_combination_of_att_and_atc():
    X, t, y = simulate(500, np.random.default_rng(9))
    fit = {e: MatchingEstimator(estimand=e, bias_correction=False).fit(X, t, y).effect_
           for e in ("ATT", "ATC", "ATE")}
    p1 = t.mean()
    assert fit["ATE"].estimate == pytest.approx(
        p1 * fit["ATT"].estimate + (1 - p1) * fit["ATC"].estimate, rel=1e-10)


def test_exact_and_adjust_columns_by_name():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"x": rng.normal(size=300), "g": rng.integers(0, 3, 300)})
    df["t"] = (rng.random(300) < 0.4).astype(int)
    df["y"] = df.x + df.g + df.t + rng.normal(size=300)
    est = MatchingEstimator(exact=["g"], adjust=["x"], bias_correction=True)
    est.fit(df[["x", "g"]], df["t"], df["y"])
    m = est.matches_
    assert np.all(df.g.to_numpy()[m.focal] == df.g.to_numpy()[m.matched])
    assert "exact strata" in est.effect_.method and "bias-corrected" in est.effect_.method


def test_any_classifier_backs_the_propensity_score():
    X, t, y = simulate(400, np.random.default_rng(1))
    score = csm.PropensityScore(RandomForestClassifier(n_estimators=20, random_state=0))
    est = MatchingEstimator(balancing_score=score).fit(X, t, y)
    assert np.isfinite(est.effect_.estimate) and est.effect_.std_error > 0
    assert not hasattr(score, "model_")        # the given score object is not fitted


def test_sklearn_conventions_and_determinism():
    X, t, y = simulate(300, np.random.default_rng(2))
    est = MatchingEstimator(n_neighbors=2, caliper=0.5, random_state=4, ties=False)
    params = est.get_params()
    twin = clone(est)
    assert twin.get_params() == params
    a = est.fit(X, t, y).effect_
    b = twin.fit(X, t, y).effect_
    assert a.to_dict() == b.to_dict()
    assert est.fit(X, t, y) is est
    assert a.details["caliper"] == pytest.approx(list(est.matches_.caliper))


def test_result_object():
    X, t, y = simulate(300, np.random.default_rng(8))
    res = MatchingEstimator().fit(X, t, y).effect_
    frame = res.to_frame()
    assert frame.shape == (1, 12)
    assert frame.loc[0, "estimate"] == res.estimate
    lo, hi = res.conf_int()
    assert lo < res.estimate < hi
    assert (hi - lo) / 2 == pytest.approx(1.959964 * res.std_error, rel=1e-6)
    lo90, hi90 = res.conf_int(0.10)                # statsmodels' conf_int(alpha)
    assert (hi90 - lo90) / 2 == pytest.approx(1.644854 * res.std_error, rel=1e-6)
    assert res.conf_int(0.05) == (lo, hi) == (res.ci_lower, res.ci_upper)
    with pytest.raises(csm.InputError, match="alpha"):
        res.conf_int(1.5)
    d = res.to_dict()
    assert d["estimand"] == "ATT" and d["ci_lower"] == lo and d["ci_upper"] == hi
    json.dumps(d)
    text = res.summary()
    assert isinstance(text, csm.estimators.results.Summary) and isinstance(text, str)
    assert "ATT" in text and "Abadie-Imbens" in text and f"{res.estimate:.6g}" in text
    assert "<table" in res._repr_html_() and "<table" in text._repr_html_()
    assert all(str(dt) in ("int64", "float64", "object") for dt in frame.dtypes)


def test_balance_after_matching_improves():
    df = csm.datasets.load_lalonde("psid")
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    est = MatchingEstimator(balancing_score=csm.CovariateScore("mahalanobis")).fit(df[cov], df.treat,
                                                                       df.re78)
    tab = est.balance()
    assert list(tab.index) == cov
    assert tab["smd_after"].abs().max() < tab["smd_before"].abs().max() / 3


def test_estimate_effect_front_door_and_no_mutation():
    df = csm.datasets.load_lalonde()
    before = df.copy()
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    res = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=cov,
                              score="mahalanobis", estimand="ATE", n_neighbors=4.0)
    pd.testing.assert_frame_equal(df, before)
    direct = MatchingEstimator(balancing_score=csm.CovariateScore("mahalanobis"), estimand="ATE",
                               n_neighbors=4).fit(df[cov], df.treat, df.re78).effect_
    assert res.estimate == direct.estimate and res.std_error == direct.std_error


BAD = pd.DataFrame({"t": [1, 0, 1, 0, 1, 0, 0, 0], "y": np.arange(8.0),
                    "x": [0.1, 0.4, 0.3, 0.2, 0.9, 0.5, 0.7, 0.8],
                    "w": list("abababab")})


@pytest.mark.parametrize("change, kwargs, message", [
    (lambda d: d.assign(x=[np.nan] + [0.0] * 7), {}, "column 'x' .* missing"),
    (lambda d: d.assign(x=[np.inf] + [0.0] * 7), {}, "column 'x' .* infinite"),
    # three levels go to multi-level matching, which needs two units per level
    (lambda d: d.assign(t=[0, 1, 2, 0, 1, 0, 0, 0]), {}, "level 2 of 't' has 1 unit"),
    (lambda d: d.assign(t=1), {}, "'t' has only one value"),
    (lambda d: d, {"covariates": ["x", "w"]}, "column 'w' .* not numeric"),
    (lambda d: d, {"covariates": ["x", "zz"]}, "column 'zz' is not in the data"),
    (lambda d: d, {"estimand": "ATX"}, "unknown estimand"),
    (lambda d: d, {"caliper": 1e-9}, "exclude every candidate"),
    (lambda d: d, {"n_neighbors": 6}, "fewer than n_neighbors"),
    (lambda d: d, {"variance": "jackknife"}, "unknown variance"),
    (lambda d: d, {"score": "magic"}, "unknown score"),
    (lambda d: d, {"n_neighbours": 2}, "unknown option"),
    (lambda d: d.assign(y=[np.nan] + [0.0] * 7), {}, "'y' has 1 missing"),
])
def test_bad_input_clear_errors(change, kwargs, message):
    data = change(BAD.copy())
    before = data.copy()
    kwargs = {"covariates": ["x"], "score": "covariates", **kwargs}
    with pytest.raises(InputError, match=message):
        csm.estimate_effect(data, treatment="t", outcome="y", **kwargs)
    pd.testing.assert_frame_equal(data, before)


def test_mismatched_lengths():
    with pytest.raises(InputError, match="rows"):
        MatchingEstimator().fit(np.zeros((5, 1)), [0, 1, 0, 1], np.zeros(5))
    with pytest.raises(InputError, match="outcome has 3"):
        MatchingEstimator().fit(np.arange(4.0)[:, None], [0, 1, 0, 1], np.zeros(3))


def test_wild_bootstrap_needs_bias_correction():
    X, t, y = simulate(200, np.random.default_rng(0))
    with pytest.raises(InputError, match="bias-corrected"):
        MatchingEstimator(variance="wild_bootstrap", bias_correction=False).fit(X, t, y)


def test_wild_bootstrap_does_not_depend_on_n_jobs():
    X, t, y = simulate(300, np.random.default_rng(0))
    a = MatchingEstimator(variance="wild_bootstrap", n_bootstrap=600, random_state=1,
                          n_jobs=1).fit(X, t, y).effect_
    with parallel_backend("threading"):
        b = MatchingEstimator(variance="wild_bootstrap", n_bootstrap=600, random_state=1,
                              n_jobs=2).fit(X, t, y).effect_
    assert a.std_error == b.std_error and a.conf_int() == b.conf_int()


def test_bad_bias_fit_is_refused_even_without_bias_correction():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 2))
    t = (X[:, 0] + rng.normal(size=200) > 0).astype(int)
    y = X[:, 1] + rng.normal(size=200)
    with pytest.raises(InputError, match="bias_fit must be 'auto', 'matched' or 'arm'"):
        MatchingEstimator(bias_fit="bad", bias_correction=False).fit(X, t, y)
