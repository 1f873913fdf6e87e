"""NeuralBalancingScore: architecture, determinism, persistence, inputs, and what it buys.

The slow parts (a 10,000-unit simulation, the image example) are sized to run in a few
seconds on two CPU cores; the IHDP reproduction lives in ``benchmarks/ihdp_nsm.py``.
"""

import importlib.util
import pickle
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from torch import nn

import causalsm as csm
from causalsm import InputError, MatchingEstimator, NeuralBalancingScore

REPO = Path(__file__).resolve().parents[1]
CUDA = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
SINGLE = dict(n_networks=1, validation_fraction=None, patience=None)
FAST = dict(SINGLE, optimizer="adam", learning_rate=0.01, epochs=15, random_state=0)


def logistic_data(n=400, p=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, p))
    logit = X[:, 0] - X[:, 1]
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, t, logit


# --------------------------------------------------------------------- architecture
def test_paper_preset_is_the_papers_network():
    X, t, _ = logistic_data(p=25)
    p = NeuralBalancingScore.paper().get_params()
    assert (p["dim"], tuple(p["hidden_layer_sizes"]), p["activation"], p["optimizer"]) == \
        (5, (100, 100), "leaky_relu", "sgd")
    assert (p["learning_rate"], p["weight_decay"], p["batch_size"], p["epochs"]) == \
        (0.01, 0.01, 100, 200)
    assert (p["dropout"], p["momentum"], p["standardize"], p["device"]) == (0.0, 0.0, True, "cpu")
    assert (p["n_networks"], p["prognostic"], p["output"], p["patience"]) == \
        (1, False, "score", None)
    nsm = NeuralBalancingScore.paper(epochs=1, random_state=0).fit(X, t)
    net = nsm.network_
    shapes = [tuple(layer.weight.shape) for layer in (net.bottleneck, *net.hidden, net.out)]
    assert shapes == [(1, 25, 5), (1, 5, 100), (1, 100, 100), (1, 100, 1)]
    assert isinstance(net.act, nn.LeakyReLU) and net.act.negative_slope == 0.01
    # the score is the bottleneck's *pre-activation* output on the standardized input
    Z = (X - nsm.mean_) / nsm.scale_
    W = net.bottleneck.weight.detach().double().numpy()[0]
    b = net.bottleneck.bias.detach().double().numpy()[0]
    np.testing.assert_allclose(nsm.transform(X), Z @ W + b, atol=1e-5)
    assert nsm.transform(X).shape == (400, 5)
    assert list(nsm.get_feature_names_out()) == [f"nsm{j}" for j in range(5)]
    # one member is initialised exactly as nn.Linear layers drawn from the same seed
    torch.manual_seed(0)
    ref = [nn.Linear(25, 5), nn.Linear(5, 100), nn.Linear(100, 100), nn.Linear(100, 1)]
    fresh = NeuralBalancingScore.paper(epochs=0, random_state=0).fit(X, t).network_
    for layer, r in zip((fresh.bottleneck, *fresh.hidden, fresh.out), ref):
        assert torch.equal(layer.weight[0], r.weight.T) and torch.equal(layer.bias[0, 0], r.bias)


def test_defaults_are_the_recommended_ensemble_with_a_prognostic_head():
    X, t, logit = logistic_data(n=600)
    rng = np.random.default_rng(1)
    y = 2 * X[:, 0] + X[:, 2] + t * (1 + X[:, 3]) + rng.normal(size=600)
    p = NeuralBalancingScore().get_params()
    assert (p["n_networks"], p["prognostic"], p["output"], p["optimizer"]) == \
        (5, "auto", "auto", "adamw")
    assert (p["validation_fraction"], p["patience"], p["restore_best_weights"]) == \
        (0.2, 10, True)
    nsm = NeuralBalancingScore(random_state=0)
    S = nsm.fit_transform(X, t, outcome=y)
    assert nsm.output_ == "joint" and nsm.prognostic_ is True
    assert S.shape == (600, 3)
    assert list(nsm.get_feature_names_out()) == ["logit", "prognostic_0", "prognostic_1"]
    np.testing.assert_array_equal(S, nsm.transform(X))
    np.testing.assert_allclose(S[:, 0], nsm.logit(X)[:, 0])
    np.testing.assert_allclose(S[:, 1:], nsm.prognostic_score(X))
    # the heads learn what they should: the propensity, and each arm's outcome surface
    assert np.corrcoef(S[:, 0], logit)[0, 1] > 0.9
    assert np.corrcoef(S[:, 1], 2 * X[:, 0] + X[:, 2])[0, 1] > 0.95
    assert np.corrcoef(S[:, 2], 2 * X[:, 0] + X[:, 2] + 1 + X[:, 3])[0, 1] > 0.9
    # five networks, each stopped early on its own validation units
    assert nsm.network_.n_members == 5 and len(nsm.history_["n_epochs"]) == 5
    assert len(set(map(tuple, np.round(nsm.history_["member_val_loss"], 6)))) > 1
    assert all(b <= e for b, e in zip(nsm.history_["best_epoch"], nsm.history_["n_epochs"]))
    # without an outcome: no head, and several networks give their averaged logit
    plain = NeuralBalancingScore(epochs=5, random_state=0).fit(X, t)
    assert plain.output_ == "logit" and plain.prognostic_ is False
    assert plain.transform(X).shape == (600, 1)
    with pytest.raises(InputError, match="no prognostic head"):
        plain.prognostic_score(X)
    with pytest.raises(InputError, match="needs n_networks=1"):
        NeuralBalancingScore(output="score").fit(X, t)


def test_networks_trained_together_equal_networks_trained_apart():
    """The batched members are independent networks: each equals a network trained
    alone from the same initial weights on the same batches."""
    from causalsm.scores._network import MemberNetwork, Schedule, TrainData, train_members

    X, t, _ = logistic_data(n=300)
    y = (X[:, 0] + np.random.default_rng(3).normal(size=300)).astype(np.float64)
    Xt = torch.from_numpy(X.astype(np.float32))

    def build(k):
        return MemberNetwork(None, 6, k, 3, (8,), nn.ELU, 0.0, 1, 2)

    torch.manual_seed(0)
    together = build(3)
    apart = [build(1) for _ in range(3)]
    for k, net in enumerate(apart):
        for (_, a), (_, b) in zip(net.named_parameters(), together.named_parameters()):
            a.data.copy_(b.data[k:k + 1])
    sched = Schedule(epochs=3, batch_size=50, patience=None, min_delta=0.0,
                     restore_best_weights=False, outcome_weight=1.0)
    data = TrainData(Xt, t.astype(np.int64), y, None, None)
    for net in [together] + apart:
        opt = torch.optim.Adam(net.parameters(), lr=0.01)
        train_members(net, opt, data, None, sched, torch.Generator().manual_seed(1),
                      torch.device("cpu"))
    for k, net in enumerate(apart):
        for (_, a), (_, b) in zip(net.named_parameters(), together.named_parameters()):
            torch.testing.assert_close(a.data[0], b.data[k], rtol=1e-5, atol=1e-6)


def test_every_part_is_configurable():
    X, t, _ = logistic_data()
    nsm = NeuralBalancingScore(dim=3, hidden_layer_sizes=(7,), activation="tanh",
                               dropout=0.2, optimizer="rmsprop", momentum=0.5,
                               batch_size=33, epochs=4, n_networks=2, random_state=1,
                               validation_fraction=None, patience=None).fit(X, t)
    net = nsm.network_
    shapes = [tuple(layer.weight.shape) for layer in (net.bottleneck, *net.hidden, net.out)]
    assert shapes == [(2, 6, 3), (2, 3, 7), (2, 7, 1)]
    assert isinstance(net.act, nn.Tanh) and net.drop.p == 0.2
    assert nsm.n_epochs_ == 4 and len(nsm.history_["loss"]) == 4
    assert nsm.history_["val_loss"] == []
    # an activation class and an optimizer class work too
    nsm2 = NeuralBalancingScore(activation=nn.SiLU, optimizer=torch.optim.Adagrad,
                                epochs=2, random_state=0).fit(X, t)
    assert isinstance(nsm2.network_.act, nn.SiLU)


def test_standardizes_continuous_columns_only_and_leaves_input_alone():
    rng = np.random.default_rng(3)
    df = pd.DataFrame({"age": rng.normal(40, 10, 300), "male": rng.integers(0, 2, 300),
                       "income": rng.lognormal(10, 1, 300), "const": np.ones(300)})
    t = (rng.random(300) < 0.4).astype(int)
    before = df.copy()
    nsm = NeuralBalancingScore(epochs=1, random_state=0).fit(df, t)
    pd.testing.assert_frame_equal(df, before)
    assert nsm.input_transform_ is None               # dense input: no log1p
    np.testing.assert_allclose(nsm.mean_, [df["age"].mean(), 0.0, df["income"].mean(), 0.0])
    np.testing.assert_allclose(nsm.scale_, [df["age"].std(ddof=0), 1.0,
                                            df["income"].std(ddof=0), 1.0])
    assert nsm.feature_names_in_ == ["age", "male", "income", "const"]
    off = NeuralBalancingScore(epochs=1, standardize=False, random_state=0).fit(df, t)
    assert off.mean_ is None and off.scale_ is None


# ---------------------------------------------------------------------- determinism
def test_same_seed_same_score_bit_for_bit():
    X, t, logit = logistic_data()
    a = NeuralBalancingScore(**FAST).fit(X, t)
    torch.manual_seed(12345)                   # the global torch RNG must not matter
    np.random.seed(7)
    torch.randn(1000)
    state = torch.get_rng_state()
    b = NeuralBalancingScore(**FAST).fit(X, t)
    assert torch.equal(state, torch.get_rng_state())      # fit leaves the global RNG alone
    assert np.array_equal(a.transform(X), b.transform(X))
    assert np.array_equal(a.propensity(X), b.propensity(X))
    assert a.history_ == b.history_
    c = NeuralBalancingScore(**{**FAST, "random_state": 1}).fit(X, t)
    assert not np.allclose(a.transform(X), c.transform(X))
    # the seed reaches the initial weights: same seed and 0 epochs -> same network
    w0 = [NeuralBalancingScore(epochs=0, **SINGLE, random_state=5).fit(X, t).network_
          .bottleneck.weight for _ in range(2)]
    assert torch.equal(w0[0], w0[1])
    # fitting learns: the propensity tracks the true logit
    assert np.corrcoef(a.propensity(X), logit)[0, 1] > 0.9


def test_same_seed_same_score_with_dropout_and_validation_split():
    X, t, _ = logistic_data()
    kw = dict(FAST, dropout=0.3, validation_fraction=0.25, patience=3)
    a = NeuralBalancingScore(**kw).fit(X, t)
    b = NeuralBalancingScore(**kw).fit(X, t)
    assert np.array_equal(a.transform(X), b.transform(X))
    assert a.history_["val_loss"] == b.history_["val_loss"]


# ---------------------------------------------------------------------- persistence
def test_pickle_save_load_and_clone_round_trips(tmp_path):
    X, t, _ = logistic_data()
    Xdf = pd.DataFrame(X, columns=[f"c{j}" for j in range(6)])
    a = NeuralBalancingScore(**FAST).fit(Xdf, t)
    b = pickle.loads(pickle.dumps(a))
    assert np.array_equal(a.transform(Xdf), b.transform(Xdf))
    assert b.get_params() == a.get_params() and b.history_ == a.history_
    path = tmp_path / "nsm.pt"
    a.save(path)
    c = NeuralBalancingScore.load(path)
    assert np.array_equal(a.transform(Xdf), c.transform(Xdf))
    assert np.array_equal(a.propensity(Xdf), c.propensity(Xdf))
    assert c.feature_names_in_ == list(Xdf.columns)
    # clone: same parameters, unfitted; refitting reproduces the score exactly
    d = clone(a)
    assert not hasattr(d, "network_") and d.get_params() == a.get_params()
    assert np.array_equal(d.fit(Xdf, t).transform(Xdf), a.transform(Xdf))
    # an unfitted transformer round-trips too
    NeuralBalancingScore(dim=3).save(tmp_path / "unfitted.pt")
    assert NeuralBalancingScore.load(tmp_path / "unfitted.pt").dim == 3
    torch.save({"something": 1}, tmp_path / "other.pt")
    with pytest.raises(InputError, match="not a file written by"):
        NeuralBalancingScore.load(tmp_path / "other.pt")


# ----------------------------------------------------------------------------- inputs
def test_numpy_tensor_and_dataframe_inputs_agree():
    X, t, _ = logistic_data()
    a = NeuralBalancingScore(**FAST).fit(X, t).transform(X)
    b = NeuralBalancingScore(**FAST).fit(torch.tensor(X), torch.tensor(t)).transform(
        torch.tensor(X, dtype=torch.float32))
    c = NeuralBalancingScore(**FAST).fit(pd.DataFrame(X), pd.Series(t == 1)).transform(X)
    np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.array_equal(a, c)


def test_sparse_bag_of_words_input():
    rng = np.random.default_rng(4)
    n, vocab = 800, 100
    rates = rng.gamma(0.3, 1.0, size=(n, vocab))
    counts = sp.csr_matrix(rng.poisson(rates).astype(float))
    topic = counts[:, :5].sum(axis=1).A1 - counts[:, 5:10].sum(axis=1).A1
    logit = (topic - topic.mean()) / topic.std()
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    kw = dict(SINGLE, optimizer="adam", learning_rate=0.002, epochs=30, random_state=0)
    # counts in a sparse matrix get log(1 + x) by default; dense input is left alone
    auto = NeuralBalancingScore(**kw).fit(counts, t)
    assert auto.input_transform_ == "log1p"
    assert NeuralBalancingScore(**kw).fit(counts.toarray(), t).input_transform_ is None
    # the same numbers, sparse or dense, give the same score (sparse input is scaled but
    # not centred, so compare them unstandardised)
    for transform in ("log1p", None):
        pair = [NeuralBalancingScore(input_transform=transform, standardize=False, **kw)
                for _ in range(2)]
        np.testing.assert_allclose(pair[0].fit(counts, t).transform(counts),
                                   pair[1].fit(counts.toarray(), t).transform(counts.toarray()),
                                   atol=1e-5)
    # standardization of sparse input only scales (no centring), after the log1p
    assert np.all(auto.mean_ == 0)
    L = counts.log1p()
    sd = np.sqrt(np.asarray(L.multiply(L).mean(0)).ravel() - np.asarray(L.mean(0)).ravel() ** 2)
    nonbin = np.array([not np.isin(counts[:, j].data, (0, 1)).all() for j in range(vocab)])
    np.testing.assert_allclose(auto.scale_[nonbin], sd[nonbin], rtol=1e-6)
    # it learns (an untrained network's propensity is unrelated to the true logit)
    untrained = NeuralBalancingScore(epochs=0, random_state=0).fit(counts, t)
    assert abs(np.corrcoef(untrained.propensity(counts), logit)[0, 1]) < 0.15
    assert np.corrcoef(auto.propensity(counts), logit)[0, 1] > 0.4
    assert auto.transform(counts).shape == (n, 5)
    with pytest.raises(InputError, match="values > -1"):
        NeuralBalancingScore(input_transform="log1p", **kw).fit(-2.0 * counts.toarray(), t)


def test_categorical_treatment_learns_the_generalised_propensity():
    rng = np.random.default_rng(5)
    n = 3000
    X = rng.normal(size=(n, 8))
    eta = np.column_stack([np.zeros(n), 1.2 * X[:, 0], -1.0 * X[:, 0] + 1.2 * X[:, 1]])
    gps = np.exp(eta) / np.exp(eta).sum(1, keepdims=True)
    levels = np.array(["control", "drug A", "drug B"])
    t = levels[[rng.choice(3, p=row) for row in gps]]
    nsm = NeuralBalancingScore(optimizer="adam", learning_rate=0.003, epochs=25,
                               **SINGLE, random_state=0).fit(X, t)
    assert list(nsm.classes_) == ["control", "drug A", "drug B"]
    p = nsm.propensity(X)
    assert p.shape == (n, 3)
    np.testing.assert_allclose(p.sum(1), 1.0, atol=1e-12)
    assert np.abs(p - gps).mean() < 0.05                  # a calibrated softmax head
    assert nsm.transform(X).shape == (n, 5)
    assert nsm.logit(X).shape == (n, 2)
    assert nsm.set_params(output="propensity").transform(X).shape == (n, 3)
    assert list(nsm.get_feature_names_out()) == ["propensity_control", "propensity_drug A",
                                                 "propensity_drug B"]
    # the 5-d score is a linear projection of X; for it to be balancing for the GPS it
    # must span the two directions the GPS depends on, x0 and x1
    S = np.column_stack([np.ones(n), nsm.set_params(output="score").transform(X)])
    r2 = [1 - np.sum((X[:, j] - S @ np.linalg.lstsq(S, X[:, j], rcond=None)[0]) ** 2)
          / np.sum((X[:, j] - X[:, j].mean()) ** 2) for j in range(8)]
    assert min(r2[:2]) > 0.95
    # with an outcome, the prognostic head predicts it under each of the three levels
    mu = np.column_stack([X[:, 2], X[:, 2] + 1, X[:, 2] - X[:, 3]])
    codes = np.searchsorted(levels, t)
    y = mu[np.arange(n), codes] + rng.normal(scale=0.5, size=n)
    joint = NeuralBalancingScore(epochs=30, random_state=0).fit(X, t, outcome=y)
    assert joint.transform(X).shape == (n, 2 + 3)
    assert list(joint.get_feature_names_out()) == [
        "logit_drug A", "logit_drug B", "prognostic_control", "prognostic_drug A",
        "prognostic_drug B"]
    assert np.abs(joint.prognostic_score(X) - mu).mean() < 0.3


def test_early_stopping_and_restoring_the_best_weights():
    X, t, _ = logistic_data(n=500)
    kw = dict(optimizer="adam", learning_rate=0.05, hidden_layer_sizes=(200, 200),
              weight_decay=0.0, epochs=100, validation_fraction=0.3, n_networks=1,
              random_state=0)
    last = NeuralBalancingScore(patience=2, restore_best_weights=False, **kw).fit(X, t)
    best = NeuralBalancingScore(patience=2, restore_best_weights=True, **kw).fit(X, t)
    vl = np.array(last.history_["val_loss"])
    assert last.n_epochs_ < 100 and last.n_epochs_ == vl.size
    assert last.best_epoch_ == int(np.argmin(vl)) + 1
    assert last.n_epochs_ == last.best_epoch_ + 3          # patience 2: the third miss stops
    # restored weights reproduce the best validation loss; the last weights do not
    rng = np.random.default_rng(0)                        # the same stratified split
    is_val = np.zeros(t.size, bool)
    for k in (0, 1):
        members = np.flatnonzero(t == k)
        is_val[rng.choice(members, int(round(0.3 * members.size)), replace=False)] = True
    assert best.validation_mask_.shape == (1, t.size)
    assert np.array_equal(best.validation_mask_[0], is_val)
    p_best, p_last = best.propensity(X[is_val]), last.propensity(X[is_val])
    bce = lambda p: -np.mean(t[is_val] * np.log(p) + (1 - t[is_val]) * np.log(1 - p))  # noqa: E731
    assert bce(p_best) == pytest.approx(vl.min(), rel=1e-4)
    assert bce(p_last) == pytest.approx(vl[-1], rel=1e-4)
    # patience=0 stops at the first epoch that does not improve (the paper's News runs)
    zero = NeuralBalancingScore(patience=0, **kw).fit(X, t)
    assert zero.n_epochs_ == zero.best_epoch_ + 1
    # several networks stop one by one; the last to stop ends the training, and each
    # keeps the weights of its own best epoch
    ens = NeuralBalancingScore(**{**kw, "n_networks": 4, "patience": 2}).fit(X, t)
    assert ens.n_epochs_ == max(ens.history_["n_epochs"])
    member = np.array(ens.history_["member_val_loss"])
    stops = ens.history_["n_epochs"]
    assert ens.history_["best_epoch"] == [int(np.argmin(member[:e, k])) + 1
                                          for k, e in enumerate(stops)]
    assert ens.history_["n_epochs"] == [b + 3 for b in ens.history_["best_epoch"]]
    # each network holds out its own 30% of each arm, and its best validation loss is
    # its propensity's cross-entropy on those units
    held = ens.validation_mask_
    assert held.shape == (4, t.size) and len({h.tobytes() for h in held}) == 4
    for k in (0, 1):
        assert (held[:, t == k].sum(axis=1) == round(0.3 * (t == k).sum())).all()
    logits = ens.set_params(output="logit").transform_members(X)[:, :, 0]
    for k in range(4):
        p = 1 / (1 + np.exp(-logits[k, held[k]]))
        tk = t[held[k]]
        bce_k = -np.mean(tk * np.log(p) + (1 - tk) * np.log(1 - p))
        assert bce_k == pytest.approx(ens.history_["best_val_loss"][k], rel=1e-4)


def test_sample_weight_weights_the_loss_and_the_standardization():
    X, t, _ = logistic_data(n=300)
    w = np.r_[np.zeros(100), np.random.default_rng(1).uniform(0.5, 2.0, 200)]
    full = dict(SINGLE, batch_size=300, epochs=30, optimizer="adam", random_state=0)
    a = NeuralBalancingScore(**full).fit(X, t, sample_weight=w)
    np.testing.assert_allclose(a.mean_, np.average(X, axis=0, weights=w))
    np.testing.assert_allclose(a.scale_, np.sqrt(np.average(
        (X - a.mean_) ** 2, axis=0, weights=w)))
    # full batches: units of weight 0 are as good as absent, and rescaling the weights
    # changes nothing (the loss is a weighted mean)
    b = NeuralBalancingScore(**{**full, "batch_size": 200}).fit(
        X[100:], t[100:], sample_weight=w[100:])
    np.testing.assert_allclose(a.transform(X), b.transform(X), atol=1e-4)
    c = NeuralBalancingScore(**full).fit(X, t, sample_weight=10 * w)
    np.testing.assert_allclose(a.transform(X), c.transform(X), atol=1e-4)
    u = NeuralBalancingScore(**full).fit(X, t)
    v = NeuralBalancingScore(**full).fit(X, t, sample_weight=np.ones(300))
    np.testing.assert_allclose(u.transform(X), v.transform(X), atol=1e-4)
    assert a.history_["loss"] != u.history_["loss"]
    with pytest.raises(InputError, match="non-negative"):
        NeuralBalancingScore().fit(X, t, sample_weight=-w)
    with pytest.raises(InputError, match="sample_weight has 299"):
        NeuralBalancingScore().fit(X, t, sample_weight=w[1:])
    # the estimator hands its survey weights to the score
    y = X[:, 0] + t + np.random.default_rng(2).normal(size=300)
    w2 = w + 0.5                                  # the matching engine needs w > 0
    est = MatchingEstimator(balancing_score=NeuralBalancingScore(**full)).fit(
        X, t, y, sample_weight=w2)
    np.testing.assert_allclose(est.balancing_score_.mean_, np.average(X, axis=0, weights=w2))


def test_validation_data_and_verbose_progress(capsys):
    X, t, _ = logistic_data()
    nsm = NeuralBalancingScore(epochs=3, verbose=True, random_state=0).fit(
        X[:300], t[:300], validation_data=(X[300:], t[300:]))
    assert len(nsm.history_["val_loss"]) == 3
    err = capsys.readouterr().err
    assert "val_loss" in err and "3/3" in err


def test_encoder_before_the_bottleneck():
    rng = np.random.default_rng(6)
    imgs = rng.normal(size=(300, 1, 6, 6)).astype(np.float32)
    t = (imgs[:, 0, :3].mean((1, 2)) + 0.3 * rng.normal(size=300) > 0).astype(int)
    enc = nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU())      # output 4 x 4 x 4, flattened
    before = [p.detach().clone() for p in enc.parameters()]
    a = NeuralBalancingScore(encoder=enc, **FAST).fit(imgs, t)
    b = NeuralBalancingScore(encoder=enc, **FAST).fit(imgs, t)
    assert a.network_.bottleneck.weight.shape[1] == 64
    assert np.array_equal(a.transform(imgs), b.transform(imgs))
    assert all(torch.equal(p, q) for p, q in zip(before, enc.parameters()))  # not trained
    # a pre-trained encoder can be kept as it is, and frozen by the user
    for prm in enc.parameters():
        prm.requires_grad_(False)
    c = NeuralBalancingScore(encoder=enc, reset_encoder=False, **FAST).fit(imgs, t)
    assert all(torch.equal(p, q) for p, q in zip(before, c.network_.encoders[0].parameters()))
    # each of several networks gets its own copy of the encoder
    two = NeuralBalancingScore(encoder=enc, **{**FAST, "n_networks": 2}).fit(imgs, t)
    assert len(two.network_.encoders) == 2
    assert not torch.equal(two.network_.encoders[0][0].weight, two.network_.encoders[1][0].weight)
    with pytest.raises(InputError, match="need an `encoder`"):
        NeuralBalancingScore().fit(imgs[:, None], t)           # 5-d: no built-in reads it
    with pytest.raises(InputError, match="per unit"):
        a.transform(imgs[:, :, :5, :5])


def test_built_in_cnn_for_images():
    rng = np.random.default_rng(7)
    imgs = rng.uniform(0, 16, size=(300, 8, 8)).astype(np.float32)
    t = (imgs[:, :4].mean((1, 2)) - 8 + rng.normal(size=300) > 0).astype(int)
    pixels = imgs.reshape(300, 64)
    # the CNN the digits benchmark measured, written out by hand (pixels unscaled)
    reference = nn.Sequential(nn.Unflatten(1, (1, 8, 8)),
                              nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64, 32), nn.ReLU())
    kw = dict(FAST, n_networks=2)
    ref = NeuralBalancingScore(encoder=reference, standardize=False, **kw).fit(pixels, t)
    flat = NeuralBalancingScore(image_shape=(8, 8), **kw).fit(pixels, t)   # standardize ignored
    cube = NeuralBalancingScore(**kw).fit(imgs, t)                 # (n, 8, 8): the default
    four = NeuralBalancingScore(**kw).fit(imgs[:, None], t)        # (n, 1, 8, 8)
    assert flat.image_shape_ == cube.image_shape_ == four.image_shape_ == (1, 8, 8)
    assert flat.mean_ is None                                      # pixels are not scaled
    expected = ref.transform(pixels)
    assert np.array_equal(flat.transform(pixels), expected)
    assert np.array_equal(cube.transform(imgs), expected)
    assert np.array_equal(four.transform(imgs[:, None]), expected)
    assert np.array_equal(pickle.loads(pickle.dumps(flat)).transform(pixels), expected)
    assert not np.array_equal(expected, NeuralBalancingScore(
        image_shape=(8, 8), **{**kw, "random_state": 1}).fit(pixels, t).transform(pixels))
    # the two networks start from different weights, and the module is rebuilt per fit
    enc = flat.network_.encoders
    assert not torch.equal(enc[0][2].weight, enc[1][2].weight)
    # many pixels are images, not wide covariates: no input rank, a 5-d bottleneck
    big = rng.uniform(size=(120, 3, 12, 12)).astype(np.float32)
    wide = NeuralBalancingScore(image_shape=(3, 12, 12), **FAST).fit(
        big.reshape(120, -1), t[:120])
    assert (wide.dim_, wide.input_rank_) == (5, None)
    # large images are pooled to at most 8x8 before the dense layer
    layers = NeuralBalancingScore(**FAST).fit(
        rng.uniform(size=(60, 40, 48)).astype(np.float32), t[:60]).network_.encoders[0]
    assert isinstance(layers[-4], nn.AdaptiveMaxPool2d) and layers[-2].in_features == 16 * 8 * 8
    with pytest.raises(InputError, match="has 64 pixels, but X has 63 values per unit"):
        NeuralBalancingScore(image_shape=(8, 8), **FAST).fit(pixels[:, :63], t)
    with pytest.raises(InputError, match="not both"):
        NeuralBalancingScore(image_shape=(8, 8), encoder=reference, **FAST).fit(pixels, t)
    with pytest.raises(InputError, match="'image_shape' must be"):
        NeuralBalancingScore(image_shape=64, **FAST).fit(pixels, t)
    with pytest.raises(InputError, match="at least 4x4"):
        NeuralBalancingScore(image_shape=(16, 2, 2), **FAST).fit(pixels, t)


def test_clear_errors_for_bad_input():
    X, t, _ = logistic_data()
    bad = X.copy()
    bad[3, 2] = np.nan
    with pytest.raises(InputError, match="column 'x2' of X has 1 missing"):
        NeuralBalancingScore().fit(bad, t)
    with pytest.raises(InputError, match="only one value"):
        NeuralBalancingScore().fit(X, np.ones(400))
    with pytest.raises(InputError, match="X has 400 rows but the treatment has 399"):
        NeuralBalancingScore().fit(X, t[:-1])
    with pytest.raises(InputError, match="treatment level 'b' has 1 unit"):
        NeuralBalancingScore().fit(X[:3], ["a", "a", "b"])
    with pytest.raises(InputError, match="needs validation data"):
        NeuralBalancingScore(patience=3, validation_fraction=None).fit(X, t)
    with pytest.raises(InputError, match="unknown activation"):
        NeuralBalancingScore(activation="swishy").fit(X, t)
    with pytest.raises(InputError, match="unknown optimizer"):
        NeuralBalancingScore(optimizer="lbfgs2").fit(X, t)
    with pytest.raises(InputError, match="'dim' must be an integer >= 1"):
        NeuralBalancingScore(dim=0).fit(X, t)
    with pytest.raises(InputError, match="not fitted"):
        NeuralBalancingScore().transform(X)
    nsm = NeuralBalancingScore(epochs=1, random_state=0).fit(pd.DataFrame(X), t)
    with pytest.raises(InputError, match="fitted on"):
        nsm.transform(X[:, :4])
    with pytest.raises(InputError, match="not seen in the training data"):
        NeuralBalancingScore(epochs=1).fit(X, t, validation_data=(X, np.full(400, 2)))
    if not torch.cuda.is_available():
        with pytest.raises(InputError, match="no CUDA GPU"):
            NeuralBalancingScore(device="cuda").fit(X, t)
    assert NeuralBalancingScore(device="auto", epochs=1).fit(X, t).device_ == \
        ("cuda" if torch.cuda.is_available() else "cpu")


@CUDA
def test_cuda_fit_transform_and_pickle_to_cpu():
    X, t, _ = logistic_data()
    gpu = NeuralBalancingScore(device="cuda", **FAST).fit(X, t)
    cpu = NeuralBalancingScore(device="cpu", **FAST).fit(X, t)
    assert next(gpu.network_.parameters()).is_cuda
    assert gpu.transform(X).dtype == np.float64
    # same seed, same initial weights and batches: CPU and GPU agree to float32 noise
    np.testing.assert_allclose(gpu.transform(X), cpu.transform(X), atol=1e-3)
    again = NeuralBalancingScore(device="cuda", **FAST).fit(X, t)
    np.testing.assert_allclose(gpu.transform(X), again.transform(X), atol=1e-5)
    moved = pickle.loads(pickle.dumps(gpu.set_params(device="cpu")))
    assert not next(moved.network_.parameters()).is_cuda
    np.testing.assert_allclose(moved.transform(X), gpu.transform(X), atol=1e-5)


# ----------------------------------------------------------------------------- wiring
def simulate_two_directions(n, seed):
    """20 correlated covariates; the propensity depends on X only through two linear
    directions (one of them non-monotonically); effect 1 + u1/2."""
    rng = np.random.default_rng(seed)
    p = 20
    C = 0.3 ** np.abs(np.subtract.outer(np.arange(p), np.arange(p)))
    X = rng.normal(size=(n, p)) @ np.linalg.cholesky(C).T
    u1 = X[:, :4].sum(1) / 2
    u2 = (X[:, 4] - X[:, 5] + X[:, 6] - X[:, 7]) / 2
    logit = -0.6 + 0.9 * u1 + 0.6 * u2 - 0.4 * u2 ** 2 + 0.3 * u1 * u2
    t = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    tau = 1.0 + 0.5 * u1
    y = u1 + 0.5 * u2 + 0.5 * X[:, 8] + 0.25 * u1 ** 2 + t * tau + rng.normal(size=n)
    return X, t, y, tau


def test_matching_on_the_learned_score_balances_twenty_covariates():
    X, t, y, tau = simulate_two_directions(10_000, seed=0)
    # the paper's network; a larger batch and learning rate keep the test short
    score = NeuralBalancingScore.paper(batch_size=200, learning_rate=0.05, epochs=60,
                                       random_state=0)
    est = MatchingEstimator(balancing_score=score, estimand="ATT").fit(X, t, y)
    bal = est.balance()
    assert bal["smd_before"].abs().max() > 0.5                # confounded before
    assert bal["smd_after"].abs().max() < 0.1                 # every covariate balanced
    lo, hi = est.effect_.conf_int()
    assert lo <= tau[t == 1].mean() <= hi
    assert "NeuralBalancingScore (5-d)" in est.effect_.method
    assert est.balancing_score_.transform(X).shape == (10_000, 5)


def test_network_propensity_baseline_and_estimate_effect_front_door():
    df = csm.datasets.load_lalonde()
    cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
    a = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=cov,
                            score="neural")
    b = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=cov,
                            score="neural")
    c = MatchingEstimator(balancing_score=NeuralBalancingScore(random_state=0)).fit(
        df[cov], df["treat"], df["re78"]).effect_
    assert a.estimate == b.estimate == c.estimate           # deterministic front door
    assert a.std_error > 0 and a.n_treated == 185
    # matching on the network's own propensity (the paper's "NN PS") is one switch away
    nnps = NeuralBalancingScore(output="propensity", epochs=20, random_state=0)
    est = MatchingEstimator(balancing_score=nnps).fit(df[cov], df["treat"], df["re78"])
    fitted = est.balancing_score_
    np.testing.assert_array_equal(est.matches_.score[:, 0], fitted.propensity(df[cov]))
    assert est.effect_.details["n_pairs"] >= 185


# ------------------------------------------------------------------ image example
def test_image_example_nsm_beats_psm_on_pixels():
    spec = importlib.util.spec_from_file_location(
        "image_confounding", REPO / "examples" / "image_confounding.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        runs = mod.run(seeds=range(3), encoders=("mlp",), epochs=40)
    mean = runs.groupby("method")[["att_error", "confounder_smd"]].mean()
    nsm, psm = mean.loc["NSM (MLP encoder)"], mean.loc["PSM (logistic, pixels)"]
    assert nsm["att_error"] < psm["att_error"]
    assert nsm["confounder_smd"] < psm["confounder_smd"]


def test_bottleneck_width_auto():
    """``dim="auto"``: 10 for wide inputs (more than 100 columns), else 5, whether the
    matrix is sparse or dense."""
    rng = np.random.default_rng(0)
    t = np.repeat([0, 1], 60)
    kw = dict(epochs=1, n_networks=1, output="score", random_state=0)
    wide = rng.normal(size=(120, 101))
    assert NeuralBalancingScore(**kw).fit(wide, t).transform(wide).shape == (120, 10)
    narrow = wide[:, :100]
    nsm = NeuralBalancingScore(**kw).fit(narrow, t)
    assert nsm.dim_ == 5 and nsm.transform(narrow).shape == (120, 5)
    assert list(nsm.get_feature_names_out()) == [f"nsm{j}" for j in range(5)]
    counts = rng.poisson(0.2, size=(120, 101)).astype(float)
    assert NeuralBalancingScore(**kw).fit(sp.csr_matrix(counts), t).dim_ == 10
    assert NeuralBalancingScore(**kw).fit(sp.csr_matrix(counts[:, :100]), t).dim_ == 5
    assert NeuralBalancingScore(dim=3, **kw).fit(wide, t).dim_ == 3
    assert NeuralBalancingScore.paper(epochs=1).fit(wide, t).dim_ == 5
    with pytest.raises(ValueError, match="'dim' must be a positive integer or 'auto'"):
        NeuralBalancingScore(dim="wide", **kw).fit(narrow, t)


def test_batch_size_auto():
    """``batch_size="auto"``: the paper's 100 up to 10,000 rows, then a hundred steps
    per epoch (at most 1,024 rows a step); an integer is kept."""
    from causalsm.scores.neural import auto_batch_size
    assert [auto_batch_size(n) for n in (50, 10_000, 10_001, 12_345, 102_400, 10 ** 6)] \
        == [100, 100, 100, 123, 1024, 1024]
    rng = np.random.default_rng(1)
    kw = dict(epochs=1, n_networks=1, patience=None, validation_fraction=None,
              random_state=0)
    X = rng.normal(size=(12_000, 3))
    t = (rng.random(12_000) < 0.3).astype(int)
    assert NeuralBalancingScore(**kw).fit(X, t).batch_size_ == 120
    assert NeuralBalancingScore(batch_size=64, **kw).fit(X[:500], t[:500]).batch_size_ == 64
    assert NeuralBalancingScore(**kw).fit(X[:500], t[:500]).batch_size_ == 100
    assert NeuralBalancingScore.paper(epochs=1).fit(X, t).batch_size_ == 100
    with pytest.raises(ValueError, match="'batch_size' must be an integer >= 1"):
        NeuralBalancingScore(batch_size="big", **kw).fit(X[:500], t[:500])
