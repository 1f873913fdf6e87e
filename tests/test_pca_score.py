"""PCAScore: principal components of the standardized covariates as a matching score."""

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.preprocessing import StandardScaler

import causalsm as csm
from causalsm import InputError, PCAScore


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    Z = rng.normal(size=(300, 3))
    X = np.column_stack([Z @ rng.normal(size=(3, 6)) * [1, 10, 100, 1, 1, 1],
                         rng.normal(size=(300, 2))])
    return pd.DataFrame(X, columns=[f"v{j}" for j in range(8)])


def test_equals_pca_of_standard_scaled_covariates(data):
    ref = PCA(n_components=5, svd_solver="full").fit(StandardScaler().fit_transform(data))
    pc = PCAScore(n_components=5).fit(data)
    S = pc.transform(data)
    expected = ref.transform(StandardScaler().fit_transform(data))
    # components are defined up to sign
    signs = np.sign(np.sum(S * expected, axis=0))
    np.testing.assert_allclose(S, expected * signs, atol=1e-10)
    np.testing.assert_allclose(pc.explained_variance_ratio_, ref.explained_variance_ratio_)
    # uncorrelated, with decreasing variances
    C = np.cov(S.T)
    np.testing.assert_allclose(C - np.diag(np.diag(C)), 0, atol=1e-10)
    assert np.all(np.diff(np.diag(C)) < 0)
    assert list(pc.get_feature_names_out()) == ["pc1", "pc2", "pc3", "pc4", "pc5"]


def test_standardization_matters_and_can_be_switched_off(data):
    raw = PCAScore(n_components=1, standardize=False).fit(data)
    std = PCAScore(n_components=1).fit(data)
    # unstandardized, the first component is the column with SD ~100x the others
    assert np.argmax(np.abs(raw.pca_.components_[0])) == 2
    assert abs(raw.pca_.components_[0, 2]) > 0.99
    assert np.max(np.abs(std.pca_.components_[0])) < 0.9
    np.testing.assert_allclose(raw.scale_, 1.0)


def test_input_left_alone_deterministic_and_cloneable(data):
    before = data.copy()
    a = PCAScore(n_components=3).fit(data).transform(data)
    pd.testing.assert_frame_equal(data, before)
    b = clone(PCAScore(n_components=3)).fit(data.to_numpy()).transform(data.to_numpy())
    np.testing.assert_array_equal(a, b)


def test_constant_column_does_not_break_the_scaling(data):
    X = data.assign(const=3.0)
    S = PCAScore(n_components=2).fit(X).transform(X)
    assert np.isfinite(S).all()


def test_errors_name_the_problem(data):
    with pytest.raises(InputError, match="n_components=9"):
        PCAScore(n_components=9).fit(data)
    with pytest.raises(InputError, match="not fitted"):
        PCAScore().transform(data)
    bad = data.copy()
    bad.loc[4, "v3"] = np.nan
    with pytest.raises(InputError, match="column 'v3'"):
        PCAScore().fit(bad)
    with pytest.raises(InputError, match="X has 5 features, but PCAScore is expecting 8"):
        PCAScore(n_components=2).fit(data).transform(data.iloc[:, :5])


def test_wired_into_the_estimators():
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    res = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=cov,
                              score="pca")
    est = csm.MatchingEstimator(balancing_score=PCAScore(n_components=5)).fit(
        df[cov], df["treat"], df["re78"])
    assert res.estimate == est.effect_.estimate
    assert "PCAScore (5-d)" in res.method and "bias-corrected" in res.method
    assert est.matches_.score.shape == (len(df), 5)
