"""The recommended neural estimator on small seeded versions of the high-dimensional
designs of ``benchmarks/highdim.py`` (the benchmark itself has the full sizes, the
replications and the baselines; timings stay there)."""

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from torch import nn

import causalsm as csm
from causalsm import InputError, MatchingEstimator, NeuralBalancingScore
from causalsm.comparison import RandomScore
from causalsm.datasets import (load_ihdp_npci, simulate_image_confounding,
                               simulate_latent_factors, simulate_news,
                               simulate_sparse_linear)


def _designs():
    news = simulate_news(1000, 500, 20, random_state=3, as_frame=False)
    latent = simulate_latent_factors(500, 200, random_state=3, as_frame=False)
    sparse_ = simulate_sparse_linear(500, 200, random_state=3, as_frame=False)
    img = simulate_image_confounding(500, random_state=3)     # 500 of the 1,797 digits
    pixels = img[img.attrs["covariates"]].to_numpy()
    return {
        "news": (news.X, news.t, news.y, news.true_effect["ATT"], {}),
        "latent": (latent.X, latent.t, latent.y, latent.true_effect["ATT"], {}),
        "sparse": (sparse_.X, sparse_.t, sparse_.y, sparse_.true_effect["ATT"], {}),
        "images": (pixels, img["treat"].to_numpy(), img["y"].to_numpy(),
                   img.attrs["true_effect"]["ATT"],
                   {"image_shape": (8, 8)}),                # the built-in CNN
    }


DESIGNS = _designs()


@pytest.mark.parametrize("design", list(DESIGNS))
def test_default_neural_estimator_beats_no_and_random_matching(design):
    X, t, y, att, extra = DESIGNS[design]
    est = MatchingEstimator(balancing_score=NeuralBalancingScore(random_state=0, **extra)).fit(X, t, y)
    r = est.effect_
    naive = y[t == 1].mean() - y[t == 0].mean()
    rand = MatchingEstimator(balancing_score=RandomScore(random_state=0)).fit(X, t, y).effect_
    assert abs(r.estimate - att) < abs(naive - att)
    assert abs(r.estimate - att) < abs(rand.estimate - att)
    assert r.ci_lower <= att <= r.ci_upper
    # the recommended path: the joint score, bias-corrected on it (never on raw columns)
    assert est.balancing_score_.output_ == "joint"
    assert r.details["adjust"] == "score" and "bias-corrected" in r.method


def test_front_door_is_the_recommended_estimator_and_deterministic():
    X, t, y, att, _ = DESIGNS["latent"]
    df = pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    df["t"], df["y"] = t, y
    a = csm.estimate_effect(df, "t", "y", score="neural")
    b = csm.estimate_effect(df, "t", "y", score="neural")
    c = MatchingEstimator(balancing_score=NeuralBalancingScore(random_state=0)).fit(
        df.drop(columns=["t", "y"]), t, y).effect_
    assert a.estimate == b.estimate == c.estimate and a.std_error == c.std_error
    assert a.details["adjust"] == "score"
    d = csm.estimate_effect(df, "t", "y", score="neural", random_state=1)
    assert d.estimate != a.estimate


def test_sparse_and_dense_text_give_the_same_estimate():
    X, t, y, _, _ = DESIGNS["news"]
    kw = dict(epochs=20, standardize=False, random_state=0)   # sparse input is not centred
    a = MatchingEstimator(balancing_score=NeuralBalancingScore(**kw)).fit(X, t, y).effect_
    b = MatchingEstimator(balancing_score=NeuralBalancingScore(input_transform="log1p", **kw)).fit(
        X.toarray(), t, y).effect_
    assert a.estimate == pytest.approx(b.estimate, abs=1e-6 * a.std_error)
    # the input's principal directions come from sparse or dense products, whose
    # rounding differs: the networks on them (and the jackknife over them) differ by that
    assert a.std_error == pytest.approx(b.std_error, rel=1e-3)


def test_wide_covariates_are_never_regressed_on():
    X, t, y, _, _ = DESIGNS["sparse"]
    # covariate matching on 200 columns: no bias correction by default (no stable fit)
    cov = MatchingEstimator(balancing_score=csm.CovariateScore()).fit(X, t, y).effect_
    assert "no bias correction" in cov.method and cov.details["adjust"] is None
    # a scalar propensity score on wide data: its bias correction (when asked) uses it
    ps = MatchingEstimator(balancing_score=csm.PropensityScore(model=LogisticRegression(C=0.1)),
                           bias_correction=True).fit(X, t, y).effect_
    assert ps.details["adjust"] == "score"
    # sparse covariates pass through the estimator untouched
    est = MatchingEstimator(balancing_score=NeuralBalancingScore(epochs=5, random_state=0)).fit(
        sp.csr_matrix(X), t, y)
    assert sp.issparse(est._data.X)


def test_ihdp_npci_replications_ship_with_the_repository():
    df = load_ihdp_npci(1)
    assert df.shape == (747, 30) and int(df["treat"].sum()) == 139
    assert df.attrs["replication"] == 1
    assert set(df["x14"]) == {0, 1}
    np.testing.assert_allclose(df.attrs["true_effect"]["ATT"],
                               (df["mu1"] - df["mu0"])[df["treat"] == 1].mean())
    last = load_ihdp_npci(50)
    np.testing.assert_array_equal(last[[f"x{j}" for j in range(1, 26)]].to_numpy(),
                                  df[[f"x{j}" for j in range(1, 26)]].to_numpy())
    assert not np.array_equal(last["y"], df["y"])
    with pytest.raises(FileNotFoundError, match="not found"):
        load_ihdp_npci(51)
    with pytest.raises(ValueError, match="replication must be an integer"):
        load_ihdp_npci("1")
    assert isinstance(csm.datasets.load_dataset("ihdp_npci", replication=2), pd.DataFrame)


@pytest.mark.parametrize("sim", [simulate_news, simulate_latent_factors,
                                 simulate_sparse_linear])
def test_simulators_are_seeded_and_know_their_effects(sim):
    a = sim(300, 60, random_state=7, as_frame=False)
    b = sim(300, 60, random_state=7, as_frame=False)
    Xa = a.X.toarray() if sp.issparse(a.X) else a.X
    Xb = b.X.toarray() if sp.issparse(b.X) else b.X
    np.testing.assert_array_equal(Xa, Xb)
    np.testing.assert_array_equal(a.y, b.y)
    assert a.true_effect["ATT"] == pytest.approx((a.mu1 - a.mu0)[a.t == 1].mean())
    # the outcome is its noise-free surface plus unit noise
    resid = a.y - np.where(a.t == 1, a.mu1, a.mu0)
    assert 0.8 < resid.std() < 1.2
    frame = sim(300, 60, random_state=7)
    np.testing.assert_array_equal(frame[frame.attrs["covariates"]].to_numpy(), Xa)
    assert set(frame.attrs["latent"]) <= set(frame.columns)
    with pytest.raises(ValueError):
        sim(1, 60)


def _expit(x):
    return 1 / (1 + np.exp(-x))


def test_population_effects_match_quadrature_and_leave_the_sample_alone():
    """PATT = E[e tau] / E[e] against independent Gauss-Hermite quadrature (latent:
    tau = 1 + F1/2, e a function of four N(0, 1) factors; sparse: tau = 1 + X0/2 and a
    propensity linear in ten AR(1) covariates, so only (X0, b'X) matter)."""
    g, w = np.polynomial.hermite_e.hermegauss(40)
    w = w / w.sum()                                          # N(0, 1) nodes and weights
    f1, f2, f3, f4 = np.meshgrid(g, g, g, g, indexing="ij", sparse=True)
    W = w[:, None, None, None] * w[None, :, None, None] * w[None, None, :, None] * w
    e = _expit(-0.5 + 0.9 * f1 - 0.9 * np.abs(f2) + 0.7 * f3 * f4)
    latent_patt = np.sum(W * e * (1 + 0.5 * f1)) / np.sum(W * e)
    a, rho = 10, 0.5
    b = 0.5 * np.where(np.arange(a) % 2 == 0, 1.0, -1.0)
    S = rho ** np.abs(np.subtract.outer(np.arange(a), np.arange(a)))
    sd = np.sqrt(b @ S @ b)                                  # b'X = sd Z; X0 | Z is linear
    ez = _expit(-0.5 + sd * g)
    sparse_patt = 1 + 0.5 * (S[0] @ b / sd) * np.sum(w * ez * g) / np.sum(w * ez)
    for sim, kw, patt in ((simulate_latent_factors, dict(n=400, p=50), latent_patt),
                          (simulate_sparse_linear, dict(n=400, p=50), sparse_patt)):
        plain = sim(random_state=5, as_frame=False, **kw)
        d = sim(random_state=5, as_frame=False, population=400_000, **kw)
        np.testing.assert_array_equal(plain.X, d.X)          # the sample is unchanged
        np.testing.assert_array_equal(plain.y, d.y)
        assert plain.true_effect.items() <= d.true_effect.items()
        # Monte Carlo SE about 0.5 / sqrt(400,000 x 0.3) < 0.002
        assert d.true_effect["PATT"] == pytest.approx(patt, abs=0.006)
        assert d.true_effect["PATE"] == pytest.approx(1.0, abs=0.004)
        assert d.true_effect["PATT"] > 1.05 and d.true_effect["PATC"] < 0.97
    # news: its world (topics, centroids) is the sample's; a large sample's in-sample
    # effects lie near the population ones (the effect's SD is about 2)
    big = simulate_news(4000, 300, 10, random_state=1, as_frame=False, population=20_000)
    for key in ("ATT", "ATE", "ATC"):
        assert big.true_effect[key] == pytest.approx(big.true_effect["P" + key], abs=0.15)
    with pytest.raises(ValueError, match="population"):
        simulate_latent_factors(100, 20, population=-1)


def test_news_confounding_runs_through_the_words():
    d = simulate_news(400, 300, 10, random_state=0, as_frame=False)
    assert sp.issparse(d.X) and np.array_equal(d.X.data, np.round(d.X.data))
    # the propensity is the topic model's softmax of the two similarities
    sim0, sim1 = d.latent["sim0"].to_numpy(), d.latent["sim1"].to_numpy()
    np.testing.assert_allclose(d.propensity, 1 / (1 + np.exp(-10 * (sim1 - sim0))))
    np.testing.assert_allclose(d.mu0, 50 * sim0)
    np.testing.assert_allclose(d.mu1 - d.mu0, 50 * sim1)
    # and the similarities are functions of the words: documents with the same words
    # get the same topic mixture
    from causalsm.datasets.highdim import _topic_mixtures
    rng = np.random.default_rng(0)
    topics = rng.dirichlet(np.full(300, 0.05), size=10)
    words = sp.csr_matrix(np.vstack([d.X[:3].toarray()] * 2))
    z = _topic_mixtures(words, topics, 0.05)
    np.testing.assert_allclose(z[:3], z[3:])
    np.testing.assert_allclose(z.sum(axis=1), 1.0)


def test_errors_of_the_new_options():
    X, t, y, _, _ = DESIGNS["latent"]
    with pytest.raises(InputError, match="prognostic=True needs the outcome"):
        NeuralBalancingScore(prognostic=True).fit(X, t)
    with pytest.raises(InputError, match="'input_transform' must be"):
        NeuralBalancingScore(input_transform="sqrt").fit(X, t)
    with pytest.raises(InputError, match="'n_networks' must be an integer >= 1"):
        NeuralBalancingScore(n_networks=0).fit(X, t)
    with pytest.raises(InputError, match="X has 500 rows but the outcome has 499"):
        NeuralBalancingScore().fit(X, t, outcome=y[:-1])
    bad = y.copy()
    bad[0] = np.nan
    with pytest.raises(InputError, match="'outcome' has 1 missing"):
        NeuralBalancingScore().fit(X, t, outcome=bad)
    with pytest.raises(InputError, match="output='joint' needs the prognostic head"):
        NeuralBalancingScore(output="joint", epochs=1).fit(X, t)


class _Fixed:
    """A precomputed score (no tags: deterministic, not prognostic)."""

    def __init__(self, S):
        self.S = S

    def get_params(self, deep=True):
        return {"S": self.S}

    def set_params(self, **params):
        self.S = params.get("S", self.S)
        return self

    def fit(self, X, t=None, y=None):
        return self

    def transform(self, X):
        return self.S


def test_network_randomness_enters_the_variance():
    X, t, y, _, _ = DESIGNS["latent"]
    est = MatchingEstimator(balancing_score=NeuralBalancingScore(random_state=0)).fit(X, t, y)
    r = est.effect_
    members = est.balancing_score_.transform_members(X)
    assert members.shape == (5, 500, 3)                     # five networks, joint score
    np.testing.assert_allclose(members.mean(axis=0), est.balancing_score_.transform(X), rtol=1e-12)
    same = dict(n_neighbors=10, adjust="score", bias_correction=True)
    # the jackknife over the networks: the estimate on the mean of every four of the five
    loo = [MatchingEstimator(balancing_score=_Fixed((members.sum(axis=0) - S) / 4),
                             **same).fit(X, t, y).effect_.estimate for S in members]
    np.testing.assert_allclose(r.details["network_jackknife_estimates"], loo, rtol=1e-10)
    ensemble = MatchingEstimator(balancing_score=_Fixed(est.balancing_score_.transform(X)),
                                 **same).fit(X, t, y)
    assert ensemble.effect_.estimate == pytest.approx(r.estimate, rel=1e-12)
    jack = 4 / 5 * np.sum((np.array(loo) - np.mean(loo)) ** 2)
    assert jack > 0
    assert r.std_error ** 2 == pytest.approx(ensemble.effect_.std_error ** 2 + jack, rel=1e-8)
    assert "jackknife variance over 5 networks" in r.variance
    # one network: nothing to add
    one = MatchingEstimator(balancing_score=NeuralBalancingScore(n_networks=1, output="joint",
                                                       random_state=0)).fit(X, t, y).effect_
    assert "network" not in one.variance and "network_jackknife_sd" not in one.details


def test_network_variance_without_a_mean_score_uses_the_networks_own_estimates():
    # output="propensity" is not the mean of the networks' propensities (it averages
    # the logits): the between-network variance of their own estimates / K is added.
    X, t, y, _, _ = DESIGNS["latent"]
    est = MatchingEstimator(balancing_score=NeuralBalancingScore(
        output="propensity", prognostic=False, random_state=0)).fit(X, t, y)
    r = est.effect_
    members = est.balancing_score_.transform_members(X)
    own = [MatchingEstimator(balancing_score=_Fixed(S)).fit(X, t, y).effect_.estimate
           for S in members]
    np.testing.assert_allclose(r.details["network_estimates"], own, rtol=1e-10)
    plain = MatchingEstimator(balancing_score=_Fixed(est.balancing_score_.transform(X))
                              ).fit(X, t, y).effect_
    assert r.std_error ** 2 == pytest.approx(plain.std_error ** 2 + np.var(own, ddof=1) / 5,
                                             rel=1e-8)
    assert "between-network variance / 5" in r.variance


def test_input_grid_is_chosen_by_validation_loss():
    X, t, y, _, _ = DESIGNS["sparse"]                        # 500 x 200: wide
    kw = dict(epochs=2, patience=None, random_state=0)
    chosen = NeuralBalancingScore(**kw).fit(X, t, outcome=y)
    loss = chosen.history_["input_val_loss"]
    # "auto": the whole input with and without the lasso, and ranks below 200
    assert set(loss) == {(None, 0.0), (None, 1.0), (20, 0.0), (50, 0.0), (100, 0.0)}
    assert (chosen.input_rank_, chosen.input_l1_) == min(loss, key=loss.get)
    # chosen with two networks a setting (the same draws as a two-network fit, which
    # keeps its networks), then five trained with the chosen setting alone
    pair = NeuralBalancingScore(n_networks=2, **kw).fit(X, t, outcome=y)
    assert pair.history_["input_val_loss"] == loss
    assert np.mean(pair.history_["best_val_loss"]) == pytest.approx(
        loss[pair.input_rank_, pair.input_l1_])
    assert chosen.network_.n_members == 5 and len(chosen.history_["best_val_loss"]) == 5
    assert chosen.validation_mask_.shape == (5, 500)
    assert not np.array_equal(chosen.validation_mask_[:2], pair.validation_mask_)
    # "auto" without validation data has nothing to choose with: the whole input
    plain = NeuralBalancingScore(validation_fraction=None, **kw).fit(X, t, outcome=y)
    assert plain.input_l1_ == 0.0 and plain.input_rank_ is None
    assert plain.network_.n_members == 5 and "input_val_loss" not in plain.history_
    with pytest.raises(InputError, match="chosen by validation loss"):
        NeuralBalancingScore(validation_fraction=None, input_l1=[0, 1], **kw).fit(X, t, outcome=y)
    with pytest.raises(InputError, match="chosen by validation loss"):
        NeuralBalancingScore(validation_fraction=None, input_rank=[None, 5],
                             **kw).fit(X, t, outcome=y)
    with pytest.raises(InputError, match="'input_l1' must be a number"):
        NeuralBalancingScore(input_l1="lasso").fit(X, t, outcome=y)


def test_input_rank_confines_the_bottleneck_to_the_principal_directions():
    X, t, y, _, _ = DESIGNS["latent"]                        # 500 x 200
    kw = dict(epochs=3, patience=None, random_state=0)
    net = NeuralBalancingScore(input_rank=4, **kw).fit(X, t, outcome=y)
    assert net.input_rank_ == 4 and "input_val_loss" not in net.history_
    # folded back: weights on the 200 standardised columns, in the span of the top 4
    # right singular vectors of the standardised input (numpy's exact SVD; the four
    # latent factors stand well clear of the rest of the spectrum)
    W = net.network_.bottleneck.weight.detach().numpy().astype(float)   # (5, 200, dim)
    assert W.shape[:2] == (5, 200)
    Z = (X - net.mean_) / net.scale_
    V = np.linalg.svd(Z, full_matrices=False)[2][:4].T
    off = W - np.einsum("pk,qk,mqd->mpd", V, V, W)
    assert np.linalg.norm(off) < 1e-3 * np.linalg.norm(W)
    # the score is the folded network applied to the input, row by row
    S = net.transform(X[:7])
    np.testing.assert_allclose(net.transform(X)[:7], S, rtol=1e-5, atol=1e-6)
    whole = NeuralBalancingScore(input_rank=None, **kw).fit(X, t, outcome=y)
    Ww = whole.network_.bottleneck.weight.detach().numpy().astype(float)
    assert np.linalg.norm(Ww - np.einsum("pk,qk,mqd->mpd", V, V, Ww)) \
        > 0.5 * np.linalg.norm(Ww)                           # unconfined: most weight outside
    # a score saved before input_rank existed loads as one on the whole input
    state = whole.__getstate__()
    del state["input_rank"], state["input_rank_"]
    old = NeuralBalancingScore.__new__(NeuralBalancingScore)
    old.__setstate__(state)
    assert old.get_params()["input_rank"] is None and old.input_rank_ is None
    np.testing.assert_array_equal(old.transform(X), whole.transform(X))
    for bad, msg in ((200, "input_rank=200 must be below the number of rows and "
                           "columns of X \\(200\\)"),
                     (0, "'input_rank' must be"), ("pca", "'input_rank' must be")):
        with pytest.raises(InputError, match=msg):
            NeuralBalancingScore(input_rank=bad, **kw).fit(X, t, outcome=y)
    with pytest.raises(InputError, match="'input_rank' needs a 2-d input held in memory"):
        NeuralBalancingScore(input_rank=5, encoder=nn.Linear(200, 16), **kw).fit(X, t)
