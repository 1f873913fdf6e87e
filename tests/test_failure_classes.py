"""Bad or unusual input: a clear InputError naming the column or option, or a warning
that says what happened -- never a wrong number in silence (issue 14's failure classes)."""

import warnings

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm._validation import InputError, check_bool, check_weights, seed_sequence


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < 1 / (1 + np.exp(-X[:, 0]))).astype(int)
    y = X[:, 0] + X[:, 1] + t + rng.normal(size=n)
    return X, t, y


def _ps_estimate(X, t, y, **kw):
    return csm.MatchingEstimator(balancing_score=csm.PropensityScore(), **kw).fit(X, t, y).effect_


# ------------------------------------------------------------------ scale-free numerics
@pytest.mark.parametrize("transform, rel", [(lambda X: X * 1e-12, 1e-9),
                                            (lambda X: X * 1e6 - 3e6, 1e-9),
                                            # X + 1e9 itself keeps about 7 digits of X
                                            (lambda X: X + 1e9, 1e-6)])
def test_estimate_does_not_move_with_the_covariates_units(transform, rel):
    X, t, y = _data()
    ref = _ps_estimate(X, t, y, bias_correction=True)
    got = _ps_estimate(transform(X), t, y, bias_correction=True)
    assert got.estimate == pytest.approx(ref.estimate, rel=rel)
    assert got.std_error == pytest.approx(ref.std_error, rel=rel)


def test_estimate_scales_with_the_outcome():
    X, t, y = _data()
    ref = _ps_estimate(X, t, y, bias_correction=True)
    got = _ps_estimate(X, t, y * 1e-12, bias_correction=True)
    assert got.estimate * 1e12 == pytest.approx(ref.estimate, rel=1e-9)
    assert got.std_error * 1e12 == pytest.approx(ref.std_error, rel=1e-9)


def test_logistic_score_is_fitted_on_centred_columns():
    X, t, _ = _data()
    a = csm.PropensityScore().fit(X, t)
    b = csm.PropensityScore().fit(X + 1e9, t)
    np.testing.assert_allclose(b.coef_, a.coef_, rtol=1e-4)   # X + 1e9 keeps ~7 digits
    np.testing.assert_allclose(b.transform(X + 1e9), a.transform(X), atol=1e-6)
    c = csm.PropensityScore().fit(X * 1e-12, t)
    np.testing.assert_allclose(c.coef_ * 1e-12, a.coef_, rtol=1e-9)


# ------------------------------------------------------------------ degenerate variances
def test_one_treated_unit_gives_nan_standard_error_with_a_warning():
    X, t, y = _data()
    t = np.zeros_like(t)
    t[0] = 1
    with pytest.warns(RuntimeWarning, match="standard error cannot be estimated.*1 and 299"):
        eff = _ps_estimate(X, t, y)
    assert np.isnan(eff.std_error) and np.isnan(eff.ci_lower) and np.isnan(eff.p_value)
    assert np.isfinite(eff.estimate)


def test_one_bootstrap_replicate_is_an_error():
    X, t, y = _data()
    with pytest.raises(InputError, match="n_bootstrap.*at least 2"):
        _ps_estimate(X, t, y, variance="wild_bootstrap", n_bootstrap=1)


# ------------------------------------------------------------------ options
@pytest.mark.parametrize("option, value", [("replace", "False"), ("replace", 0),
                                           ("bias_correction", "no"), ("ties", None),
                                           ("standardize", "yes"),
                                           ("drop_incomplete", "True")])
def test_non_boolean_switches_are_errors(option, value):
    X, t, y = _data()
    with pytest.raises(InputError, match=f"{option} must be True or False"):
        _ps_estimate(X, t, y, **{option: value})


def test_check_bool_keeps_numpy_bools_and_allowed_words():
    assert check_bool(np.False_, "replace") is False
    assert check_bool("auto", "bias_correction", also=("auto",)) == "auto"


def test_epochs_zero_warns_that_the_network_is_untrained():
    X, t, _ = _data(n=120)
    with pytest.warns(UserWarning, match="epochs=0: the networks are not trained"):
        csm.NeuralBalancingScore(epochs=0, random_state=0).fit(X, t)


# ------------------------------------------------------------------ random_state
@pytest.mark.parametrize("make", [np.random.default_rng, np.random.RandomState])
def test_generators_are_accepted_and_reproducible(make):
    X, t, y = _data()
    a = _ps_estimate(X, t, y, variance="wild_bootstrap", n_bootstrap=99,
                     random_state=make(5))
    b = _ps_estimate(X, t, y, variance="wild_bootstrap", n_bootstrap=99,
                     random_state=make(5))
    c = _ps_estimate(X, t, y, variance="wild_bootstrap", n_bootstrap=99,
                     random_state=make(6))
    assert a.std_error == b.std_error != c.std_error


def test_large_seeds_and_seed_sequences():
    assert seed_sequence(2 ** 70).entropy == 2 ** 70
    seq = np.random.SeedSequence(3)
    assert seed_sequence(seq) is seq
    with pytest.raises(InputError, match="'random_state' must be at least 0"):
        seed_sequence(-1)


def test_multiply_robust_and_subclassification_take_a_generator():
    X, t, y = _data()
    a = csm.MultiplyRobustMatching(n_bootstrap=5, random_state=np.random.default_rng(1)
                                   ).fit(X, t, y).effect_.std_error
    b = csm.MultiplyRobustMatching(n_bootstrap=5, random_state=np.random.default_rng(1)
                                   ).fit(X, t, y).effect_.std_error
    assert a == b and np.isfinite(a)


# ------------------------------------------------------------------ weights
@pytest.mark.parametrize("w, needle", [(np.ones(5), "sample_weight has 5 entries"),
                                       (np.r_[np.nan, np.ones(299)],
                                        "sample_weight has 1 missing or infinite"),
                                       (-np.ones(300), "sample_weight must be non-negative"),
                                       (np.zeros(300), "sample_weight sums to zero")])
def test_bad_sample_weight(w, needle):
    X, t, y = _data()
    with pytest.raises(InputError, match=needle):
        csm.MatchingEstimator(balancing_score=csm.PropensityScore()).fit(X, t, y, sample_weight=w)


@pytest.mark.parametrize("make", [csm.PropensityScore, csm.CovariateScore,
                                  csm.scores.GeneralizedPropensityScore])
def test_scores_check_their_sample_weight(make):
    """The scores fitted with weights directly (not through an estimator) validate them:
    zero, negative, missing or misshapen weights were used as given."""
    X, t, _ = _data()
    n = len(t)
    for w, needle in [(np.zeros(n), "sums to zero"), (-np.ones(n), "non-negative"),
                      (np.r_[np.nan, np.ones(n - 1)], "missing or infinite"),
                      (np.ones(3), f"has 3 entries .* {n} rows")]:
        with pytest.raises(InputError, match=needle):
            make().fit(X, t, sample_weight=w)
    w = np.random.default_rng(0).uniform(0.5, 2, n)          # a Series is a weight vector
    a = make().fit(X, t, sample_weight=w).transform(X)
    b = make().fit(X, t, sample_weight=pd.Series(w)).transform(X)
    np.testing.assert_array_equal(a, b)


def test_check_weights_copies():
    w = np.ones(3)
    out = check_weights(w, 3)
    out[0] = 5
    assert w[0] == 1


# ------------------------------------------------------------------ column roles and data
def test_empty_data():
    X, t, y = _data()
    with pytest.raises(InputError, match="X is empty"):
        _ps_estimate(X[:0], t[:0], y[:0])


@pytest.mark.parametrize("X, needle", [
    (np.array([[1 + 2j, 2.0], [3.0, 4.0], [1.0, 0.0]]), "X has complex values"),
    (pd.DataFrame({"a": [1 + 1j, 2, 3]}), "column 'a' of X has complex values"),
    (np.zeros((0, 3)), r"X is empty: 0 sample\(s\), 3 feature\(s\)"),
    (np.zeros((3, 0)), r"X is empty: 3 sample\(s\), 0 feature\(s\)"),
])
def test_complex_and_empty_covariates_are_errors(X, needle):
    """A complex array was cast to float with its imaginary part silently dropped."""
    t = np.array([1, 0, 1])[:len(X)]
    for score in (csm.PropensityScore(), csm.CovariateScore()):
        with pytest.raises(InputError, match=needle):
            score.fit(X, t)


def test_outcome_equal_to_treatment():
    X, t, y = _data()
    df = pd.DataFrame({"t": t, "y": y, "x": X[:, 0]})
    with pytest.raises(InputError, match="outcome and the treatment are the same column 't'"):
        csm.estimate_effect(df, "t", "t")


def test_duplicate_columns_and_covariates():
    X, t, y = _data()
    df = pd.DataFrame(np.column_stack([t, y, X[:, :2]]), columns=["t", "y", "a", "a"])
    with pytest.raises(InputError, match="several columns named 'a'"):
        csm.estimate_effect(df, "t", "y", score="propensity")
    df = pd.DataFrame({"t": t, "y": y, "a": X[:, 0], "b": X[:, 1]})
    with pytest.raises(InputError, match="covariate 'a' is named twice"):
        csm.estimate_effect(df, "t", "y", covariates=["a", "b", "a"], score="propensity")


def test_non_string_column_labels_are_looked_up_as_they_are():
    X, t, y = _data()
    df = pd.DataFrame({"t": t, "y": y, 0: X[:, 0], 1: X[:, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = csm.estimate_effect(df, "t", "y", covariates=[0, 1], score="propensity")
    named = pd.DataFrame({"t": t, "y": y, "a": X[:, 0], "b": X[:, 1]})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = csm.estimate_effect(named, "t", "y", score="propensity")
    assert got.estimate == pytest.approx(ref.estimate, rel=1e-12)


def test_corrupt_network_file(tmp_path):
    path = tmp_path / "net.pt"
    X, t, _ = _data(n=100)
    csm.NeuralBalancingScore(epochs=2, n_networks=1, random_state=0).fit(X, t).save(path)
    path.write_bytes(path.read_bytes()[:200])              # truncated
    with pytest.raises(InputError, match="could not be read.*truncated or corrupt"):
        csm.NeuralBalancingScore.load(path)
