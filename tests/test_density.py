"""GPS models for a continuous exposure: normal, kernel and score-matching densities."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.tree import DecisionTreeRegressor

from causalsm import InputError
from causalsm.datasets import causalgps_log_gps, simulate_causalgps
from causalsm.scores.density import (KernelResidualDensity, NormalDensity, dnorm, make_gps,
                                     r_approx, r_density, r_seq)

COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]


def _mass(model, X, lo, hi, k=40001):
    grid = np.linspace(lo, hi, k)
    return model.density_at(X, grid).sum(axis=1) * (grid[1] - grid[0])


@pytest.fixture(scope="module")
def skewed():
    return simulate_causalgps(1000, "skewed", random_state=3), \
        simulate_causalgps(3000, "skewed", random_state=4)


def test_normal_density_is_ols_and_a_normal_pdf():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 2))
    w = 2 + X @ [1.0, -0.5] + rng.normal(0, 1.5, 300)
    gps = NormalDensity().fit(X, w)
    ols = LinearRegression().fit(X, w)
    resid = w - ols.predict(X)
    assert gps.sd_ == pytest.approx(resid.std(ddof=1), rel=1e-12)
    z = (w - ols.predict(X)) / gps.sd_
    np.testing.assert_allclose(gps.density(X, w), np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi)
                               / gps.sd_, rtol=1e-12)
    np.testing.assert_allclose(gps.log_density(X, w), np.log(gps.density(X, w)), rtol=1e-12)
    np.testing.assert_allclose(gps.score(X, w), -(w - ols.predict(X)) / gps.sd_ ** 2,
                               rtol=1e-12)
    np.testing.assert_allclose(_mass(gps, X[:3], -30, 30), 1, atol=1e-8)
    assert gps.transform(X, w).shape == (300, 1)
    assert clone(gps).get_params() == NormalDensity().get_params()


def test_heteroskedastic_variance_model():
    rng = np.random.default_rng(1)
    X = rng.uniform(-1, 1, size=(3000, 1))
    sd = np.exp(X[:, 0])                       # sd from 0.37 to 2.7
    w = X[:, 0] + sd * rng.normal(size=3000)
    gps = NormalDensity(variance_model=DecisionTreeRegressor(max_depth=3)).fit(X, w)
    rows = gps.conditional(np.array([[-0.9], [0.9]]))
    assert rows.sd[0] < 0.6 < 2.0 < rows.sd[1]
    homo = NormalDensity().fit(X, w)
    assert gps.mean_log_density(X, w) > homo.mean_log_density(X, w) + 0.1


def test_r_helpers():
    np.testing.assert_array_equal(r_seq(0.0, 1.0, 3), [0.0, 0.5, 1.0])
    np.testing.assert_array_equal(r_approx(np.array([0.0, 2.0]), np.array([1.0, 3.0]),
                                           [-5.0, 1.0, 9.0]), [1.0, 2.0, 3.0])
    # R's dnorm splits large |z| (exact square); agrees with the naive formula to rounding
    z = np.array([0.3, 5.5, 30.0, 40.0])
    np.testing.assert_allclose(dnorm(z), np.exp(-z ** 2 / 2) / np.sqrt(2 * np.pi), rtol=1e-13)
    assert dnorm(40.0) == 0.0
    x = np.random.default_rng(0).normal(size=500)
    grid, dens, bw = r_density(x)
    assert grid.size == 512 and (dens >= 0).all()
    assert dens.sum() * (grid[1] - grid[0]) == pytest.approx(1, abs=2e-3)
    with pytest.raises(InputError, match="bandwidth"):
        r_density(x, bw=-1.0)


def test_kernel_density_jacobian():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(800, 2))
    w = X[:, 0] + np.exp(0.5 * X[:, 1]) * rng.gamma(2.0, size=800)
    with_j = KernelResidualDensity().fit(X, w)
    np.testing.assert_allclose(_mass(with_j, X[:4], -40, 60), 1, atol=3e-3)
    without = KernelResidualDensity(scale_target="abs", jacobian=False).fit(X, w)
    rows = without.conditional(X[:4])
    # CausalGPS's version is a density of the residual: inside the grid its mass in w is
    # the scale s(x) (and it never vanishes beyond)
    lo = rows.mean + rows.scale * without.kde_.grid[0]
    hi = rows.mean + rows.scale * without.kde_.grid[-1]
    mass = [_mass(without, X[i:i + 1], lo[i], hi[i])[0] for i in range(4)]
    np.testing.assert_allclose(mass, rows.scale, rtol=3e-3)
    assert (without.density(X, np.full(800, 1e6)) > 0).all()


def test_score_matching_density(skewed):
    from causalsm.scores.score_matching import ScoreMatchingDensity
    train, test = skewed
    model = ScoreMatchingDensity(epochs=100, random_state=0)
    model.fit(train[COVS], train["w"])
    # a proper density for every row
    np.testing.assert_allclose(_mass(model, test[COVS].iloc[:4], -60, 80), 1, atol=1e-4)
    assert model.quadrature_error_ < 1e-8
    # closer to the truth than the normal GPS on a skewed exposure (held out)
    truth = causalgps_log_gps(test, "skewed").mean()
    sm = model.mean_log_density(test[COVS], test["w"]) - truth
    normal = NormalDensity().fit(train[COVS], train["w"]).mean_log_density(
        test[COVS], test["w"]) - truth
    assert normal < -0.15 and sm > -0.1
    # the score is the derivative of the log density
    X4, w4 = test[COVS].iloc[:4], test["w"].to_numpy()[:4]
    h = 1e-5
    num = (model.log_density(X4, w4 + h) - model.log_density(X4, w4 - h)) / (2 * h)
    np.testing.assert_allclose(model.score(X4, w4), num, atol=1e-5)
    np.testing.assert_allclose(model.density_at(X4, [5.0, 10.0])[:, 1],
                               model.density(X4, np.full(4, 10.0)), rtol=1e-12)


def test_score_matching_seeded_and_objectives():
    from causalsm.scores.score_matching import ScoreMatchingDensity
    df = simulate_causalgps(400, 1, random_state=5)
    X, w = df[COVS], df["w"]
    a = ScoreMatchingDensity(epochs=5, random_state=7).fit(X, w).log_density(X, w)
    b = ScoreMatchingDensity(epochs=5, random_state=7).fit(X, w).log_density(X, w)
    np.testing.assert_array_equal(a, b)
    for objective in ("exact", "sliced", "dsm_multi"):
        m = ScoreMatchingDensity(objective=objective, epochs=5, random_state=0).fit(X, w)
        assert np.isfinite(m.mean_log_density(X, w))
        assert len(m.history_["val_loglik"]) == m.n_epochs_


def test_score_matching_bounded_exposure():
    from causalsm.scores.score_matching import ScoreMatchingDensity
    df = simulate_causalgps(800, "bounded", random_state=6)
    model = ScoreMatchingDensity(transform="logit", bounds=(0, 25), epochs=30,
                                 random_state=0).fit(df[COVS], df["w"])
    np.testing.assert_allclose(_mass(model, df[COVS].iloc[:3], 1e-9, 25 - 1e-9, 400001), 1,
                               atol=2e-3)
    truth = causalgps_log_gps(df, "bounded").mean()
    assert model.mean_log_density(df[COVS], df["w"]) > truth - 0.05
    with pytest.raises(InputError, match="strictly inside the bounds"):
        ScoreMatchingDensity(transform="logit", bounds=(0, 20)).fit(df[COVS], df["w"])
    with pytest.raises(InputError, match="objective"):
        ScoreMatchingDensity(objective="ssm").fit(df[COVS], df["w"])


def test_score_matching_device():
    import torch

    from causalsm.scores.score_matching import ScoreMatchingDensity
    df = simulate_causalgps(300, "skewed", random_state=8)
    X, w = df[COVS], df["w"]
    cuda = torch.cuda.is_available()
    assert ScoreMatchingDensity(device="auto", epochs=2, random_state=0).fit(X, w).device_ \
        == ("cuda" if cuda else "cpu")
    if not cuda:
        with pytest.raises(InputError, match="no CUDA GPU"):
            ScoreMatchingDensity(device="cuda").fit(X, w)


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_score_matching_on_cuda():
    """The same fit on the GPU: a proper density, seeded, and as good as the CPU's
    (the devices draw different random numbers, so the fits differ like two seeds)."""
    from causalsm.scores.score_matching import ScoreMatchingDensity
    train, test = (simulate_causalgps(n, "skewed", random_state=s)
                   for n, s in ((1000, 3), (3000, 4)))
    fits = [ScoreMatchingDensity(device=d, epochs=100, random_state=0)
            .fit(train[COVS], train["w"]) for d in ("cuda", "cuda", "cpu")]
    assert fits[0].device_.startswith("cuda")
    np.testing.assert_allclose(_mass(fits[0], test[COVS].iloc[:4], -60, 80), 1, atol=1e-4)
    gpu, again, cpu = (m.log_density(test[COVS], test["w"]) for m in fits)
    np.testing.assert_allclose(gpu, again, rtol=1e-6)
    assert abs(gpu.mean() - cpu.mean()) < 0.05


def test_true_log_gps_integrates_to_one():
    """The simulator's true densities (used by the benchmark) are densities."""
    df = simulate_causalgps(3, 1, random_state=0)
    grid = np.linspace(-80, 120, 40001)
    for spec in (1, 3, 4, 5, 6, 7, "heteroskedastic", "skewed", "bimodal", "heavy_tailed"):
        for i in range(2):
            row = df.iloc[np.full(grid.size, i)]
            with np.errstate(invalid="ignore", divide="ignore"):
                dens = np.exp(causalgps_log_gps(row, spec, w=grid))
            dens = np.nan_to_num(dens)
            tail = {7: 0.02, "heavy_tailed": 1e-4}.get(spec, 1e-6)   # t tails beyond the grid
            assert abs(dens.sum() * (grid[1] - grid[0]) - 1) < tail, spec
    grid = np.linspace(1e-9, 25 - 1e-9, 40001)
    row = df.iloc[np.zeros(grid.size, dtype=int)]
    assert np.exp(causalgps_log_gps(row, "bounded", w=grid)).sum() * (grid[1] - grid[0]) \
        == pytest.approx(1, abs=1e-4)


def test_errors_name_the_problem():
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(InputError, match="'exposure' is constant"):
        NormalDensity().fit(X, np.ones(20))
    with pytest.raises(InputError, match="binary treatment"):
        NormalDensity().fit(X, np.arange(20) % 2)
    with pytest.raises(InputError, match="missing"):
        NormalDensity().fit(X, np.r_[np.nan, np.arange(19.0)])
    with pytest.raises(InputError, match="rows"):
        NormalDensity().fit(X, np.arange(19.0))
    with pytest.raises(InputError, match="not fitted"):
        NormalDensity().density(X, np.arange(20.0))
    gps = NormalDensity().fit(X, np.arange(20.0))
    with pytest.raises(InputError, match="columns"):
        gps.density(X[:, :1], np.arange(20.0))
    with pytest.raises(InputError, match="exact function"):
        NormalDensity().fit(X, X @ [1.0, 2.0])
    with pytest.raises(InputError, match="unknown GPS model"):
        make_gps("gamma")
    with pytest.raises(InputError, match="regressor"):
        NormalDensity(mean_model="ols").fit(X, np.arange(20.0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        NormalDensity().fit(pd.DataFrame(X, columns=["a", "b"]), np.arange(20.0))
