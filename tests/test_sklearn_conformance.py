"""scikit-learn's estimator checks on every score (issue 14).

``y``, scikit-learn's target, is the treatment for every score (``fit(X, y=t)``); the
scores that also learn from the outcome take it by name, ``fit(X, t, outcome=y)``.  Each
check that cannot apply is listed below with the reason; every other check must pass.
The scores of a binary treatment declare two classes (scikit-learn's classifier tag), so
the checks give them two-valued targets.
"""

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression
from sklearn.utils.estimator_checks import parametrize_with_checks

from causalsm import NotFittedError
from causalsm.scores import (CovariateScore, DoubleScore, GeneralizedPropensityScore,
                             NeuralBalancingScore, PCAScore, PrognosticScore, PropensityScore)

_ONE_D = ("a 1-d X is one covariate (an R vector), read as a column: "
          "causalsm's convention for every input")
_TYPE = "a non-numeric X is an InputError (a ValueError) that names the column, not a TypeError"
_R_SD = ("sample_weight are R Match's weights: the SD's N / (N - 1) counts rows, not the "
         "weights' sum (parity with R), so a weight is not a repeated row")
_SEPARATED = ("the checks' data separate the arms perfectly: the unpenalised maximum "
              "likelihood estimate does not exist (a RuntimeWarning says so) and the weighted "
              "and the repeated fits stop at different points; "
              "test_weights_are_repeated_rows checks it on overlapping data")
_STOCHASTIC = ("the networks train on mini-batches and a validation split drawn from the "
               "rows: repeated rows change the draws, so equal scores cannot be expected")
_OUTCOME = ("fit needs the outcome as well as the treatment, and the checks give one "
            "target; test_outcome_scores_follow_the_contract checks the same with an outcome")

_EVERY = {"check_dtype_object": _TYPE, "check_fit1d": _ONE_D, "check_fit2d_predict1d": _ONE_D}
_WEIGHTS = ("check_sample_weight_equivalence_on_dense_data",
            "check_sample_weight_equivalence_on_sparse_data")
# The checks that fit: not applicable to a score whose fit needs the outcome.
_FITTING = ("check_dict_unchanged", "check_dont_overwrite_parameters",
            "check_estimator_sparse_array", "check_estimator_sparse_matrix",
            "check_estimator_sparse_tag", "check_estimators_dtypes",
            "check_estimators_fit_returns_self", "check_estimators_nan_inf",
            "check_estimators_overwrite_params", "check_estimators_pickle",
            "check_f_contiguous_array_estimator", "check_fit2d_1feature",
            "check_fit_check_is_fitted", "check_fit_idempotent", "check_fit_score_takes_y",
            "check_methods_sample_order_invariance", "check_methods_subset_invariance",
            "check_n_features_in", "check_n_features_in_after_fitting",
            "check_pipeline_consistency", "check_positive_only_tag_during_fit",
            "check_readonly_memmap_input", "check_transformer_data_not_an_array",
            "check_transformer_general", "check_transformer_preserve_dtypes")


def _expected(estimator) -> dict:
    out = dict(_EVERY)
    if isinstance(estimator, (PrognosticScore, DoubleScore)):
        out.update(dict.fromkeys(_FITTING, _OUTCOME))
        del out["check_fit1d"]          # passes: the missing outcome is a ValueError too
    weights = {CovariateScore: _R_SD, NeuralBalancingScore: _STOCHASTIC,
               GeneralizedPropensityScore: _SEPARATED}.get(type(estimator))
    if isinstance(estimator, PropensityScore) and estimator.model is None:
        weights = _SEPARATED
    if weights:
        out.update(dict.fromkeys(_WEIGHTS, weights))
    return out


SCORES = [CovariateScore(), CovariateScore(scale="mahalanobis"), PCAScore(n_components=1),
          PropensityScore(), PropensityScore(model=LogisticRegression()),
          GeneralizedPropensityScore(),
          NeuralBalancingScore(epochs=5, n_networks=2, random_state=0),
          PrognosticScore(), DoubleScore()]


@parametrize_with_checks(SCORES, expected_failed_checks=_expected)
def test_sklearn_compatible_score(estimator, check):
    check(estimator)


def _binary(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 3))
    t = (X[:, 0] + rng.normal(size=n) > 0).astype(int)
    y = X @ [1.0, -0.5, 0.2] + t + rng.normal(size=n)
    return X, t, y


@pytest.mark.parametrize("score", [PropensityScore(), GeneralizedPropensityScore()],
                         ids=["PropensityScore", "GeneralizedPropensityScore"])
def test_weights_are_repeated_rows(score):
    """On overlapping data the likelihood's weights are repeated rows (what the skipped
    check asks of data that the maximum likelihood estimate cannot fit)."""
    X, t, _ = _binary(n=120)
    w = np.random.default_rng(1).integers(0, 4, size=t.size)
    weighted = clone(score).fit(X, t, sample_weight=w).transform(X)
    rows = np.repeat(np.arange(t.size), w)
    repeated = clone(score).fit(X[rows], t[rows]).transform(X)
    np.testing.assert_allclose(weighted, repeated, rtol=1e-8, atol=1e-10)


def test_the_treatment_is_y_and_any_two_labels():
    X, t, _ = _binary()
    by_name = PropensityScore().fit(X, y=t).transform(X)
    labels = np.where(t == 1, "treated", "control")
    ps = PropensityScore().fit(X, labels)
    assert ps.classes_ == ["control", "treated"]
    np.testing.assert_allclose(ps.transform(X), by_name, rtol=1e-12)
    with pytest.raises(ValueError, match="3 levels .*GeneralizedPropensityScore"):
        PropensityScore().fit(X, np.arange(t.size) % 3)


@pytest.mark.parametrize("score", [PrognosticScore(), DoubleScore(),
                                   NeuralBalancingScore(epochs=5, n_networks=2,
                                                        random_state=0)],
                         ids=["PrognosticScore", "DoubleScore", "NeuralBalancingScore"])
def test_outcome_scores_follow_the_contract(score):
    """What the checks that fit ask, for the scores fitted with an outcome."""
    X, t, y = _binary()
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    est = clone(score)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        est.transform(X)
    params = est.get_params()
    assert est.fit(frame, t, outcome=y) is est
    assert est.get_params().keys() == params.keys()
    assert all(est.get_params()[k] is v for k, v in params.items())
    assert est.n_features_in_ == 3 and list(est.feature_names_in_) == ["a", "b", "c"]
    S = est.transform(frame)
    state = {k: v for k, v in est.__dict__.items() if not k.startswith("network")}
    again = est.transform(frame)
    np.testing.assert_array_equal(S, again)                 # transform leaves state alone
    assert {k for k in est.__dict__ if not k.startswith("network")} == set(state)
    order = np.random.default_rng(3).permutation(t.size)
    np.testing.assert_allclose(est.transform(frame.iloc[order]), S[order], rtol=1e-6)
    np.testing.assert_allclose(est.transform(frame.iloc[:7]), S[:7], rtol=1e-6)
    np.testing.assert_array_equal(pickle.loads(pickle.dumps(est)).transform(frame), S)
    refit = clone(score).fit(frame, t, outcome=y)
    np.testing.assert_allclose(refit.transform(frame), S, rtol=1e-6)   # deterministic
    with pytest.raises(ValueError, match="2 features, but .* expecting 3"):
        est.transform(X[:, :2])
    out = clone(score).set_output(transform="pandas").fit(frame, t, outcome=y).transform(frame)
    assert list(out.columns) == list(est.get_feature_names_out())
    np.testing.assert_allclose(out.to_numpy(), S, rtol=1e-6)
    with pytest.raises(TypeError):                          # never a weight by position
        clone(score).fit(X, t, y)


@pytest.mark.parametrize("score", SCORES, ids=lambda s: repr(s).split("(")[0])
def test_pandas_output_of_every_score(score):
    """``set_output(transform="pandas")`` works for every score: the frame's columns are
    ``get_feature_names_out()`` and its values the array output."""
    X, t, y = _binary()
    frame = pd.DataFrame(X, columns=["a", "b", "c"], index=np.arange(t.size) + 100)
    kw = {"outcome": y} if isinstance(score, (PrognosticScore, DoubleScore)) else {}
    S = clone(score).fit(frame, t, **kw).transform(frame)
    est = clone(score).set_output(transform="pandas").fit(frame, t, **kw)
    out = est.transform(frame)
    assert isinstance(out, pd.DataFrame) and out.index.equals(frame.index)
    assert list(out.columns) == list(est.get_feature_names_out())
    np.testing.assert_allclose(out.to_numpy(), S, rtol=1e-6)


def test_covariate_score_feature_names():
    X, t, _ = _binary()
    frame = pd.DataFrame(X, columns=["age", "educ", "re74"])
    assert CovariateScore().fit(frame).get_feature_names_out().tolist() == ["age", "educ",
                                                                             "re74"]
    assert CovariateScore(scale="mahalanobis").fit(frame).get_feature_names_out().tolist() \
        == ["white1", "white2", "white3"]
    with pytest.raises(NotFittedError):
        CovariateScore().get_feature_names_out()
