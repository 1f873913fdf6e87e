"""Issue 13 diagnostic: is the neural estimator's bias on the news and latent designs the
prognostic heads fitting the outcome noise of the units they then match?

``oracle``: for each replication the recommended score (``highdim.methods(design)
["nsm"]``) is fitted twice, on the outcome ``y`` (as the estimator does) and on ``y' =
mu_t(x) + fresh noise``, an outcome with the same signal and independent noise; both
scores are then frozen and used by ``MatchingEstimator`` (defaults) with the real ``y``.
If fitting the noise caused the bias, the second removes it.  Prints, per replication,
the ATT error and SE with ``y`` then with ``y'``, then the same for the ATE.

``crossfit``: the remedy a user can have.  The units are split into five folds; the
recommended score is fitted on four and gives the joint score of the fifth, so that no
unit's score has seen its outcome (five fits).  The estimator is ``MatchingEstimator``'s
choice for a prognostic score (10-NN, bias correction on the score); its SE lacks the
jackknife over networks (one score per fold).  Prints the ATT and ATE errors and SEs.

``variance``: does the noise the heads fit also shrink the Abadie-Imbens conditional
variances?  ``MatchingEstimator`` estimates ``sigma^2(x_i)`` from the unit's nearest
same-arm neighbour on the joint score (``var_neighbors=1``).  Per arm, prints the mean of
those estimates with the score fitted on ``y`` and on ``y'`` (as ``oracle``), and with the
neighbour found on the true ``(mu_0, mu_1)``; the noise variance itself (1); the residual
variance of the ensemble's own-arm head in sample; and that of each network's head on the
units it held out for validation (``validation_mask_``).

``regularise``: pilot of heavier regularisation against the noise fit.  The recommended
score with one setting changed (:data:`VARIANTS`), then ``MatchingEstimator``'s defaults:
per variant, the ATT error, SE and coverage, the same for the ATE, and the in-sample
residual variance of the ensemble's own-arm head (below the noise variance 1 when the
heads fit the noise).

``fission``: data fission as a remedy a user could have (noise SD known here, 1): the
score is fitted on ``f = y + tau Z`` and the estimator uses ``g = y - Z / tau``
(``Z ~ N(0, 1)``; independent of ``f`` for Gaussian noise).  The optional fifth argument is
``tau`` (default 1).

``truth``: the default estimator matching on the true joint score ``(logit e, mu_0,
mu_1)`` (no network): the bias and coverage of matching and its bias correction at this
n with a perfect score.

``swap``: the learned joint score, then with its logit replaced by the true one, then
with its heads replaced by the true ``(mu_0, mu_1)``: where the representation error
sits.

``separate``: the learned joint score, then the same heads with the propensity logit of
networks trained without prognostic heads (whose representation never saw ``y``).

``richbc``: matching on the learned joint score as the default, with the bias correction
regressing on the joint score (the default) and then on the joint score and the five
networks' bottlenecks (``5 x dim`` more columns).

``loohead``: the learned joint score, then its heads refitted as ridge regressions on
each network's last hidden layer with every unit's own-arm head replaced by its
leave-one-out prediction: is the noise fit in the heads' last layer or below it?  After
the errors it prints, for the learned heads then the leave-one-out ones, the own-arm
residual variance and the correlation of the fitted-minus-true outcome with the noise.

``project``: pilot of confining the bottleneck to the top ``k`` principal directions
of the input (what ``NeuralBalancingScore(input_rank=k)`` does): the recommended score
(``dim=10``, no lasso) fitted on ``k`` truncated-SVD components instead of the input.
The fifth argument lists the variants, comma-separated: ``0`` is the input itself (the
default score with ``input_rank=None``, the default of the pilot's day), ``k``
the ``k`` components standardised, ``ku`` unstandardised (scaled so that the first has
unit SD, the library's first scale; it now scales the top 20 to mean unit variance).
Per variant, as ``regularise``, then the mean best validation loss of the networks (what
``input_rank="auto"`` compares).

``plugin``: where the ATE's bias sits.  The learned joint score's matching estimate (as
``swap``'s first), then the plug-in of its heads (the mean of ``mu_1 - mu_0`` over the
treated / all units) and the augmented IPW estimate on its heads and propensity (clipped
to [0.01, 0.99]): if the plug-in and AIPW share matching's bias, the heads carry it.
Prints the ATT and ATE errors of the three in turn (no SEs).

``dr``: the doubly robust lead of ``plugin`` with standard errors.  The default estimator
on the learned score (frozen, so its SE has the jackknife over the networks), then AIPW
on the same joint score (propensity clipped to [0.01, 0.99]) with the influence-function
variance plus the variance of the five networks' own AIPW estimates / 5.  Prints the ATT
error and SE then the ATE's, for matching and then AIPW.

``drsep``: AIPW with a propensity that never saw the outcome.  The default's joint score
as ``dr``'s AIPW, then the same heads with the logit of ``separate``'s networks (trained
without prognostic heads).  Prints the two logits' correlations with the true logit
(NaN for IHDP), then per score the ATT error and influence-function SE (no network
term) and the ATE's.

``drcross``: ``drsep``'s two AIPW estimates with every part cross-fitted: five folds
(as ``crossfit``), each fold's joint score and separate propensity fitted on the other
four.  Prints per logit (the joint networks', then the separate ones') the ATT error and
influence-function SE and the ATE's.

``netdf``: how much of the default estimator's variance is the jackknife over the
networks, whose estimate has only ``K - 1 = 4`` degrees of freedom: per estimand (ATT,
then ATE), the error, the SE and the jackknife SD (``effect_.details``), from which
``netdf-table FILE...`` compares the normal interval with a Satterthwaite t interval.

``logit``: does the learned score's propensity logit carry the propensity?  Prints its
SD across units and its correlation with the true logit, the same correlation for the
benchmark's cross-validated L1 logistic score (``highdim.methods(design)["l1_ps"]``), and
the input setting the default chose (``input_rank_``, ``input_l1_``).

``grouplasso``: the input lasso as a group lasso (each input column's bottleneck weights
shrunk together in norm, which lets a column the outcome keeps also carry the treatment)
against the library's lasso on each weight.  Variants (the fifth argument): ``default``
(the recommended score) and ``group L`` (``input_rank=None``, a group lasso of ``L``, the
library's proximal step replaced for that fit).  Per variant: the learned logit's
correlation with the true logit, the ATT error and SE then the ATE's (as ``dr``'s
matching), AIPW's ATE error on the same joint score, the networks' mean best
validation loss and the median over the networks of the input columns they use.

``varnb``: the default score fitted once and frozen, then the default estimator with the
conditional variances from ``var_neighbors = 1`` (the default), ``3`` and ``0``
(homoskedastic): the estimates are the same, only the SEs differ.  Prints the ATT error
and its three SEs, then the ATE's.

``estopts``: the default score fitted once and frozen, then the estimator with each
setting of ``ESTOPTS`` (the default, ``bias_fit="arm"``, 1, 5 and 20 neighbours): the
ATT error and SE then the ATE's, per setting.

``encoder``: does the built-in CNN's score miss the images' ink?  The images alone: the
default score (``image_shape=(8, 8)``), then the same CNN with the 64 pixels also fed
linearly to the bottleneck (``skip``), then with the mean of each first-layer channel
added (``gap``, global average pooling), then the CNN with a bottleneck of 10 rather
than 5 (``dim10``); the fifth argument may list some of them.  Per variant: the ATT
error and SE, the ATE's, then the standardised differences (treated minus matched
controls, ATT weights) of the two confounders no method sees, ``g`` and the ink ``z``;
``encoder-table FILE... [--variants ...]`` summarises.

``fission``, ``truth``, ``swap``, ``separate``, ``richbc`` and ``loohead`` print the ATT
error and SE then the ATE's, for each score in turn (the last four without the network
jackknife in the SE).
Designs: ``news``, ``latent``, ``sparse``, ``images`` (the MLP encoder's score) and
``ihdp`` (the units the NSM split fits on; not ``truth`` and ``swap``, which need the
propensity)::

    python benchmarks/highdim_overfit.py oracle latent 21 41
    python benchmarks/highdim_overfit.py crossfit news 21 41
    python benchmarks/highdim_overfit.py variance news 21 31
    python benchmarks/highdim_overfit.py regularise latent 21 31
    python benchmarks/highdim_overfit.py regularise news 21 31 "dropout 0.2,dropout 0.3"
    python benchmarks/highdim_overfit.py fission latent 21 41
    python benchmarks/highdim_overfit.py swap news 21 41
    python benchmarks/highdim_overfit.py dr latent 1 51
    python benchmarks/highdim_overfit.py netdf images 1 51 > netdf_images.txt
    python benchmarks/highdim_overfit.py netdf-table netdf_images.txt
    python benchmarks/highdim_overfit.py logit sparse 1 11
    python benchmarks/highdim_overfit.py grouplasso sparse 1 21 > grouplasso_sparse.txt
    python benchmarks/highdim_overfit.py grouplasso-table grouplasso_sparse.txt
    python benchmarks/highdim_overfit.py grouplasso sparse 1 8 "group 0.3,group 2,group 3"
    python benchmarks/highdim_overfit.py varnb latent 1 21 > varnb_latent.txt
    python benchmarks/highdim_overfit.py varnb-table varnb_latent.txt
    python benchmarks/highdim_overfit.py drsep sparse 1 51 > drsep_sparse.txt
    python benchmarks/highdim_overfit.py drsep-table drsep_sparse.txt
    python benchmarks/highdim_overfit.py drcross sparse 1 21 > drcross_sparse.txt
    python benchmarks/highdim_overfit.py drcross-table drcross_sparse.txt
    python benchmarks/highdim_overfit.py estopts latent 1 21 > estopts_latent.txt
    python benchmarks/highdim_overfit.py estopts-table estopts_latent.txt
    python benchmarks/highdim_overfit.py encoder images 101 131 > encoder_images.txt
    python benchmarks/highdim_overfit.py encoder-table encoder_images.txt
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path
from types import SimpleNamespace
from unittest import mock

import numpy as np
import torch
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.frozen import FrozenEstimator
from sklearn.linear_model import RidgeCV
from sklearn.model_selection import StratifiedKFold

sys.path.insert(0, str(Path(__file__).parent))
import highdim  # noqa: E402

import causalsm as csm  # noqa: E402
from causalsm.datasets import (simulate_image_confounding, simulate_latent_factors,  # noqa: E402
                               simulate_news, simulate_sparse_linear)
from causalsm.matching.nearest import same_arm_variances  # noqa: E402
from causalsm.scores import _network  # noqa: E402


class Precomputed(TransformerMixin, BaseEstimator):
    """A fitted joint score given as an array (the units in the order of ``X``)."""

    def __init__(self, values=None):
        self.values = values

    def fit(self, X, y=None):
        return self

    def transform(self, X):
        return self.values

    def __causalsm_tags__(self) -> dict:
        return {"prognostic": True}


Z = 1.959964                           # the normal 97.5% quantile of the intervals


def _truths(b) -> dict:
    """The in-sample ATT and ATE of ``b``."""
    tau = b.mu1 - b.mu0
    return {"ATT": tau[b.t == 1].mean(), "ATE": tau.mean()}


def _errors(X, b, score, rep: int, y=None, details=(), **options) -> list[float]:
    """ATT and ATE errors and SEs of the default estimator on ``score`` (with the outcome
    ``y``, default ``b.y``), each followed by the ``effect_.details`` entries named in
    ``details``."""
    y = b.y if y is None else y
    out = []
    for estimand, truth in _truths(b).items():
        e = csm.MatchingEstimator(balancing_score=score, estimand=estimand,
                                  random_state=rep, **options).fit(X, b.t, y).effect_
        out += [e.estimate - truth, e.std_error] + [e.details[k] for k in details]
    return out


def _aipw(S, t, y) -> list[tuple[float, float]]:
    """AIPW ATT and ATE (estimate, influence-function SE) on a joint score ``(logit e,
    mu_0, mu_1)``, the propensity clipped to [0.01, 0.99]."""
    e = np.clip(1 / (1 + np.exp(-S[:, 0])), 0.01, 0.99)
    m0, m1, n = S[:, 1], S[:, 2], t.size
    w = t * (y - m0) - (1 - t) * e / (1 - e) * (y - m0)
    att = w.sum() / t.sum()
    phi_att = (w - t * att) / t.mean()
    g = m1 - m0 + t * (y - m1) / e - (1 - t) * (y - m0) / (1 - e)
    ate = g.mean()
    return [(att, np.sqrt(np.mean(phi_att ** 2) / n)),
            (ate, np.sqrt(np.mean((g - ate) ** 2) / n))]


def _aipw_errors(S, b, other_logit) -> list[float]:
    """AIPW's ATT error and SE then the ATE's on the joint score ``S``, then the same with
    its logit replaced by ``other_logit``."""
    out = []
    for logit in (S[:, 0], other_logit):
        aipw = _aipw(np.column_stack([logit, S[:, 1:]]), b.t, b.y)
        out += [v for (est, se), truth in zip(aipw, _truths(b).values())
                for v in (est - truth, se)]
    return out


def _out_of_fold(design, X, b, rep, **params) -> np.ndarray:
    """The recommended score (``params`` changed) cross-fitted over five folds: each
    fold's rows transformed by a score fitted on the other four (seed ``rep + 1000 k``)."""
    out = None
    folds = StratifiedKFold(5, shuffle=True, random_state=rep).split(X, b.t)
    for k, (train, test) in enumerate(folds):
        score = _score(design, rep + 1000 * k, **params)
        outcome = {"outcome": b.y[train]} if params.get("prognostic", True) else {}
        part = score.fit(X[train], b.t[train], **outcome).transform(X[test])
        out = np.zeros((b.t.size, part.shape[1])) if out is None else out
        out[test] = part
    return out


def _score(design: str, rep: int, **params):
    """The recommended score of ``design`` (``highdim.methods``), with ``params`` changed;
    for the images the MLP encoder's (``nsm_mlp``), which the recorded pilots used."""
    if design == "images":
        return csm.NeuralBalancingScore(encoder=highdim._mlp_encoder(), standardize=False,
                                        random_state=rep, **params)
    return csm.NeuralBalancingScore(random_state=rep, **params)


def _load(design: str, rep: int):
    """``(X, b)``: the covariates as the estimator sees them and a bunch with ``t, y, mu0,
    mu1, propensity`` (the images' from the simulator's ``g``, ``z`` and ``tau``)."""
    if design == "ihdp":             # the NSM split's train + validation units, as highdim.py
        d = highdim.load("ihdp", rep)
        i = d["samples"]["in"]
        return d["X"][i], SimpleNamespace(t=d["t"][i], y=d["y"][i], mu0=np.zeros(i.size),
                                          mu1=d["cate"][i], propensity=None)
    if design == "images":
        df = simulate_image_confounding(random_state=rep)
        g, z = df["g"].to_numpy(), df["z"].to_numpy()
        b = SimpleNamespace(t=df["treat"].to_numpy(), y=df["y"].to_numpy(), mu0=2 * g + z,
                            mu1=2 * g + z + df["tau"].to_numpy(),
                            propensity=1 / (1 + np.exp(0.6 - 1.5 * g - 0.5 * z)))
        return np.ascontiguousarray(df[df.attrs["covariates"]].to_numpy()), b
    sim = {"news": simulate_news, "latent": simulate_latent_factors,
           "sparse": simulate_sparse_linear}[design]
    b = sim(random_state=rep, as_frame=False)
    return (b.X.log1p().tocsr() if design == "news" else b.X), b


def _variances(design, X, b, y_alt, rep) -> list[float]:
    """Per arm (treated, then control): mean neighbour sigma^2 on the score fitted on y,
    on y', on the true mu; the true noise variance; the in-sample residual variance of the
    ensemble's head; the held-out residual variance of the networks' heads."""
    fits = [_score(design, rep).fit(X, b.t, outcome=y) for y in (b.y, y_alt)]
    centred = b.y - b.y.mean()
    nbr = [same_arm_variances(S, b.t, 1, centred)[1] for S in
           (fits[0].transform(X), fits[1].transform(X), np.column_stack([b.mu0, b.mu1]))]
    s = fits[0]
    own = np.where(b.t == 1, s.transform(X)[:, 2], s.transform(X)[:, 1])
    M = s.transform_members(X)
    own_k = np.where(b.t[None, :] == 1, M[:, :, 2], M[:, :, 1])
    held = s.validation_mask_
    noise = b.y - np.where(b.t == 1, b.mu1, b.mu0)
    out = []
    for arm in (1, 0):
        a = b.t == arm
        out += [np.nanmean(v[a]) for v in nbr]
        out += [np.mean(noise[a] ** 2), np.mean((b.y - own)[a] ** 2),
                np.mean(((b.y[None, :] - own_k) ** 2)[held & a[None, :]])]
    return out


#: ``regularise``: settings of ``NeuralBalancingScore`` tried against the noise fit.
VARIANTS = {"default": {}, "dropout 0.1": {"dropout": 0.1},
            "weight_decay 1e-3": {"weight_decay": 1e-3}, "dropout 0.2": {"dropout": 0.2},
            "dropout 0.3": {"dropout": 0.3}, "input_l1 0.1": {"input_l1": 0.1},
            "input_l1 0.3": {"input_l1": 0.3}, "input_l1 1": {"input_l1": 1.0},
            "input_l1 3": {"input_l1": 3.0}, "outcome_weight 0.3": {"outcome_weight": 0.3},
            "outcome_weight 3": {"outcome_weight": 3.0}}


def _evaluated(s, X, b, rep) -> list[float]:
    """A fitted score frozen into ``MatchingEstimator``'s defaults: ATT error, SE and
    coverage, the same for the ATE, then the in-sample residual variance of the
    ensemble's own-arm head."""
    out = []
    S = s.transform(X)
    own = np.where(b.t == 1, S[:, 2], S[:, 1])
    for estimand, truth in _truths(b).items():
        e = csm.MatchingEstimator(balancing_score=FrozenEstimator(s), estimand=estimand,
                                  random_state=rep).fit(X, b.t, b.y).effect_
        out += [e.estimate - truth, e.std_error, float(e.ci_lower <= truth <= e.ci_upper)]
    return out + [np.mean((b.y - own) ** 2)]


def _regularised(design, X, b, rep,
                 names=("default", "dropout 0.1", "weight_decay 1e-3")) -> list[float]:
    out = []
    for params in (VARIANTS[v] for v in names):
        out += _evaluated(_score(design, rep, **params).fit(X, b.t, outcome=b.y), X, b, rep)
    return out


#: ``estopts``: estimator settings tried on the same frozen default score.
ESTOPTS = {"default": {}, "bias_fit arm": {"bias_fit": "arm"},
           "1-NN": {"n_neighbors": 1}, "5-NN": {"n_neighbors": 5},
           "20-NN": {"n_neighbors": 20}}
MODES = ("estopts", "dr", "drsep", "drcross", "netdf", "logit", "grouplasso", "varnb", "oracle",
         "crossfit", "variance", "regularise", "fission", "truth", "swap", "separate", "richbc",
         "loohead", "project", "plugin", "encoder")
ENCODERS = ("cnn", "skip", "gap", "dim10")


class _CNNPlus(torch.nn.Module):
    """The built-in CNN's features, then the pixels themselves (``skip``) or the mean of
    each first-layer channel (``gap``)."""

    def __init__(self, extra: str):
        super().__init__()
        self.extra = extra
        self.cnn = _network.image_encoder((1, 8, 8))

    def forward(self, x):
        x = x.reshape(x.shape[0], -1)
        if self.extra == "skip":
            more = x
        else:                        # Flatten, Unflatten, Conv2d, ReLU: relu(conv1(image))
            more = self.cnn[3](self.cnn[2](self.cnn[1](x))).mean(dim=(2, 3))
        return torch.cat([self.cnn(x), more], dim=1)


def _encoders(X, b, rep, names=ENCODERS) -> list[float]:
    """``encoder``'s line: per variant of ``names`` (:data:`ENCODERS`), the ATT and ATE
    errors and SEs, then the standardised differences of ``g`` and ``z`` after ATT
    matching."""
    df = simulate_image_confounding(random_state=rep)
    latent = df[["g", "z"]].to_numpy()
    out = []
    for name in names:
        if name in ("cnn", "dim10"):
            score = csm.NeuralBalancingScore(image_shape=(8, 8), random_state=rep,
                                             dim=10 if name == "dim10" else "auto")
        else:
            score = csm.NeuralBalancingScore(encoder=_CNNPlus(name), standardize=False,
                                             random_state=rep)
        fit = FrozenEstimator(score.fit(X, b.t, outcome=b.y))
        w = csm.MatchingEstimator(balancing_score=fit, random_state=rep).fit(
            X, b.t, b.y).matches_.weights
        c = b.t == 0
        smd = [(v[b.t == 1].mean() - np.average(v[c], weights=w[c])) / v.std()
               for v in latent.T]
        out += _errors(X, b, fit, rep) + smd
    return out


def encoder_table(paths, names=ENCODERS) -> None:
    """:func:`blocks_table` per variant, then the mean standardised differences."""
    blocks_table(paths, names, width=6)
    per = _lines(paths).reshape(-1, len(names), 6)
    print("\n| encoder | SMD g | SMD z |\n|---|---|---|")
    for j, name in enumerate(names):
        print(f"| {name} | {per[:, j, 4].mean():+.3f} | {per[:, j, 5].mean():+.3f} |")


def _group_threshold(weight, optimizer, l1) -> None:
    """A group lasso's proximal step in place of the library's ``_soft_threshold``: each
    input column's bottleneck weights (``weight[k, j, :]``) shrink together in norm by
    learning rate x ``l1``, and are set to zero when their norm is below it."""
    step = optimizer.param_groups[0]["lr"] * l1
    with torch.no_grad():
        norm = weight.norm(dim=2, keepdim=True).clamp_min(1e-30)
        weight.mul_(torch.clamp(1 - step / norm, min=0.0))


def _group_lasso(design, X, b, rep, names=("default", "group 1", "group 1.5")) -> list:
    true = np.log(b.propensity / (1 - b.propensity))
    out = []
    for name in names:
        if name == "default":
            s = _score(design, rep).fit(X, b.t, outcome=b.y)
        else:
            with mock.patch.object(_network, "_soft_threshold", _group_threshold):
                s = _score(design, rep, input_rank=None, input_l1=float(name.split()[1])
                           ).fit(X, b.t, outcome=b.y)
        S = s.transform(X)
        aipw_ate = _aipw(S, b.t, b.y)[1][0] - _truths(b)["ATE"]
        kept = (s.network_.bottleneck.weight.detach().abs().sum(dim=2) > 0).sum(dim=1)
        out += [np.corrcoef(S[:, 0], true)[0, 1], *_errors(X, b, FrozenEstimator(s), rep),
                aipw_ate, float(np.mean(s.history_["best_val_loss"])),
                float(kept.float().median())]
    return out


def _projected(design, X, b, rep, ks=("50", "200")) -> list[float]:
    """The recommended score on the top ``k`` singular directions of the input (a
    truncated SVD of the log counts, or of the standardised covariates) instead of the
    input itself, ``dim=10`` and no lasso: per ``k``, as ``_regularised``."""
    from sklearn.decomposition import TruncatedSVD
    Z = X if design == "news" else (X - X.mean(axis=0)) / X.std(axis=0)
    out = []
    for name in ks:
        k, raw = int(name.rstrip("u")), name.endswith("u")
        P = X if k == 0 else TruncatedSVD(k, random_state=rep).fit_transform(Z)
        params = {"input_rank": None} if k == 0 else {
            "dim": 10, "input_l1": 0.0, "standardize": not raw, "input_rank": None}
        if raw and k:
            P = P / P[:, 0].std()
        s = _score(design, rep, **params).fit(P, b.t, outcome=b.y)
        out += _evaluated(s, P, b, rep) + [np.mean(s.history_["best_val_loss"])]
    return out


def _last_hidden(score, X) -> np.ndarray:
    """The input of the networks' output layer, (K, n, width): what the heads are linear in."""
    captured = []
    hook = score.network_.out.register_forward_hook(
        lambda mod, inp, out: captured.append(inp[0].detach().cpu().numpy()))
    try:
        score._forward(X)
    finally:
        hook.remove()
    return np.concatenate(captured, axis=1)


def _loo_heads(score, X, t, y) -> np.ndarray:
    """The heads refitted as ridge regressions on each network's last hidden layer, each
    unit's own-arm head replaced by its leave-one-out prediction (the other arm's is out of
    sample already); averaged over the networks: (n, 2) = (mu_0, mu_1)."""
    H = _last_hidden(score, X)
    mu = np.zeros((H.shape[0], t.size, 2))
    for k, Hk in enumerate(H):
        for arm in (0, 1):
            a = t == arm
            m = Hk[a].mean(axis=0)
            Z, ya = Hk[a] - m, y[a] - y[a].mean()
            alpha = RidgeCV(alphas=np.logspace(-3, 3, 13)).fit(Z, ya).alpha_
            A = np.linalg.solve(Z.T @ Z + alpha * np.eye(Z.shape[1]), Z.T)
            beta = A @ ya
            pred = (Hk - m) @ beta + y[a].mean()
            lev = np.einsum("ij,ji->i", Z, A) + 1 / a.sum()
            pred[a] = y[a] - (y[a] - pred[a]) / (1 - lev)
            mu[k, :, arm] = pred
    return mu.mean(axis=0)


def one(mode: str, design: str, rep: int, variants=None) -> list[float]:
    X, b = _load(design, rep)
    if mode in ("truth", "swap"):
        logit = np.log(b.propensity / (1 - b.propensity))
    if mode == "truth":
        # the true joint score (logit e, mu_0, mu_1): the estimator's own bias at this n
        return _errors(X, b, Precomputed(np.column_stack([logit, b.mu0, b.mu1])), rep)
    if mode == "swap":
        # which part of the learned joint score carries the error: each part replaced by
        # the truth in turn
        S = _score(design, rep).fit(X, b.t, outcome=b.y).transform(X)
        return sum((_errors(X, b, Precomputed(v), rep) for v in (
            S, np.column_stack([logit, S[:, 1:]]), np.column_stack([S[:, 0], b.mu0, b.mu1]))),
            [])
    if mode == "encoder":
        return _encoders(X, b, rep, *([variants] if variants else []))
    if mode == "drsep":
        S = _score(design, rep).fit(X, b.t, outcome=b.y).transform(X)
        alone = _score(design, rep, prognostic=False).fit(X, b.t).transform(X)[:, 0]
        true = None if b.propensity is None else np.log(b.propensity / (1 - b.propensity))
        out = [np.nan if true is None else np.corrcoef(v, true)[0, 1] for v in (S[:, 0], alone)]
        return out + _aipw_errors(S, b, alone)
    if mode == "separate":
        # the propensity from networks without prognostic heads (a representation that
        # never saw y), the heads from the recommended networks
        S = _score(design, rep).fit(X, b.t, outcome=b.y).transform(X)
        alone = _score(design, rep, prognostic=False).fit(X, b.t).transform(X)[:, 0]
        return _errors(X, b, Precomputed(S), rep) + _errors(
            X, b, Precomputed(np.column_stack([alone, S[:, 1:]])), rep)
    if mode == "richbc":
        # the bias correction on the joint score and the five networks' bottlenecks
        # (matching on the joint score as the default)
        fit = _score(design, rep).fit(X, b.t, outcome=b.y)
        S, B = fit.transform(X), fit._forward(X)[0]
        rich = np.column_stack([S, *B])
        return _errors(X, b, Precomputed(S), rep) + _errors(
            rich, b, Precomputed(S), rep, adjust="covariates")
    if mode == "loohead":
        # the heads' own fit to the units' noise removed by leave-one-out on their last
        # layer (the representation below keeps what it learnt)
        fit = _score(design, rep).fit(X, b.t, outcome=b.y)
        S = fit.transform(X)
        loo = _loo_heads(fit, X, b.t, b.y)
        true = np.where(b.t == 1, b.mu1, b.mu0)
        diag = []                   # own-arm residual variance, corr(fit - truth, noise)
        for mu in (S[:, 1:], loo):
            own = np.where(b.t == 1, mu[:, 1], mu[:, 0])
            diag += [np.mean((b.y - own) ** 2), np.corrcoef(own - true, b.y - true)[0, 1]]
        return _errors(X, b, Precomputed(S), rep) + _errors(
            X, b, Precomputed(np.column_stack([S[:, 0], loo])), rep) + diag
    if mode == "plugin":
        S = _score(design, rep).fit(X, b.t, outcome=b.y).transform(X)
        truth = list(_truths(b).values())
        gap = S[:, 2] - S[:, 1]
        plug = [np.mean(gap[b.t == 1]), np.mean(gap)]
        aipw = [v for v, _ in _aipw(S, b.t, b.y)]
        match = _errors(X, b, Precomputed(S), rep)
        return [match[0], match[2]] + [v - w for v, w in zip(plug + aipw, truth * 2)]
    if mode == "logit":
        fit = _score(design, rep).fit(X, b.t, outcome=b.y)
        logit = fit.transform(X)[:, 0]
        true = np.log(b.propensity / (1 - b.propensity))
        l1 = highdim.methods(design)["l1_ps"](rep).fit(X, b.t).transform(X).ravel()
        rank = -1 if fit.input_rank_ is None else fit.input_rank_
        return [logit.std(), np.corrcoef(logit, true)[0, 1], np.corrcoef(l1, true)[0, 1],
                rank, fit.input_l1_]
    if mode == "netdf":
        fit = FrozenEstimator(_score(design, rep).fit(X, b.t, outcome=b.y))
        return _errors(X, b, fit, rep, details=("network_jackknife_sd",))
    if mode == "dr":
        fit = _score(design, rep).fit(X, b.t, outcome=b.y)
        truth = _truths(b)
        aipw = [_aipw(S, b.t, b.y) for S in fit.transform_members(X)]
        whole = _aipw(fit.transform(X), b.t, b.y)
        out = []
        for j, estimand in enumerate(("ATT", "ATE")):
            spread = np.var([a[j][0] for a in aipw], ddof=1) / len(aipw)
            out += [whole[j][0] - truth[estimand], np.sqrt(whole[j][1] ** 2 + spread)]
        return _errors(X, b, FrozenEstimator(fit), rep) + out
    if mode == "varnb":
        fit = FrozenEstimator(_score(design, rep).fit(X, b.t, outcome=b.y))
        runs = [_errors(X, b, fit, rep, var_neighbors=j) for j in (1, 3, 0)]
        return [runs[0][0], *(r[1] for r in runs), runs[0][2], *(r[3] for r in runs)]
    if mode == "estopts":
        fit = FrozenEstimator(_score(design, rep).fit(X, b.t, outcome=b.y))
        return [v for opts in ESTOPTS.values() for v in _errors(X, b, fit, rep, **opts)]
    if mode == "grouplasso":
        return _group_lasso(design, X, b, rep, *([variants] if variants else []))
    if mode == "project":
        return _projected(design, X, b, rep, *([variants] if variants else []))
    if mode == "regularise":
        return _regularised(design, X, b, rep, *([variants] if variants else []))
    if mode == "drcross":
        alone = _out_of_fold(design, X, b, rep, prognostic=False)[:, 0]
        return _aipw_errors(_out_of_fold(design, X, b, rep), b, alone)
    if mode == "crossfit":
        return _errors(X, b, Precomputed(_out_of_fold(design, X, b, rep)), rep)
    if mode == "fission":
        # data fission (Leiner, Duan, Wasserman & Ramdas 2023) with the noise SD known (1):
        # f = y + tau Z trains the score, g = y - Z / tau is estimated on; f and g are
        # independent for Gaussian noise, at the price of more noise in each.
        tau = float(variants[0]) if variants else 1.0
        z = np.random.default_rng(20_000 + rep).normal(size=b.t.size)
        s = _score(design, rep).fit(X, b.t, outcome=b.y + tau * z)
        return _errors(X, b, FrozenEstimator(s), rep, y=b.y - z / tau)
    rng = np.random.default_rng(10_000 + rep)
    y_alt = np.where(b.t == 1, b.mu1, b.mu0) + rng.normal(size=b.t.size)
    if mode == "variance":
        return _variances(design, X, b, y_alt, rep)
    fits = [_score(design, rep).fit(X, b.t, outcome=y) for y in (b.y, y_alt)]
    on_y, on_alt = (_errors(X, b, FrozenEstimator(s), rep) for s in fits)
    return on_y[:2] + on_alt[:2] + on_y[2:] + on_alt[2:]


def netdf_table(paths) -> None:
    """Coverage of ``netdf``'s lines with the normal quantile and with a Satterthwaite
    t quantile, ``nu = (K - 1) (SE^2 / jackknife variance)^2`` (the Abadie-Imbens part
    taken as exact), K = 5 networks."""
    from scipy import stats
    for path in paths:
        a, design = _lines([path]), Path(path).read_text().split()[0]
        for j, estimand in ((0, "ATT"), (3, "ATE")):
            err, se, jk = a[:, j], a[:, j + 1], a[:, j + 2]
            share = jk ** 2 / se ** 2
            q = stats.t.ppf(0.975, 4 / share ** 2)
            print(f"{design} {estimand} reps {len(a)}: jackknife share of the variance "
                  f"{share.mean():.2f}, median df {np.median(4 / share ** 2):.0f}, mean t "
                  f"quantile {q.mean():.3f}; coverage normal "
                  f"{np.mean(np.abs(err) <= Z * se):.2f}, t "
                  f"{np.mean(np.abs(err) <= q * se):.2f}; SE/SD {se.mean() / err.std(ddof=1):.2f}")


def _lines(paths) -> np.ndarray:
    """The values of the lines of ``paths`` (after design and replication)."""
    return np.array([[float(v) for v in line.split()[2:]] for path in paths
                     for line in Path(path).read_text().splitlines() if line.strip()])


def _cells(err, se, base) -> list[str]:
    """Bias ± SE, mean |error| (paired difference against ``base``'s |error|), SE/SD and
    coverage of errors ``err`` with standard errors ``se`` over replications."""
    n, diff = len(err), np.abs(err) - np.abs(base)
    return [f"{err.mean():+.3f} ± {err.std(ddof=1) / np.sqrt(n):.3f}",
            f"{np.abs(err).mean():.3f} ({diff.mean():+.3f} ± {diff.std(ddof=1) / np.sqrt(n):.3f})",
            f"{se.mean() / err.std(ddof=1):.2f}", f"{np.mean(np.abs(err) <= Z * se):.2f}"]


def blocks_table(paths, names, skip: int = 0, width: int = 4) -> None:
    """Lines of ``skip`` leading values, then per name ``width`` values that start with
    ``(ATT error, SE, ATE error, SE)``: per name and estimand, :func:`_cells` (paired
    against the first name)."""
    a = _lines(paths)
    per = a[:, skip:].reshape(len(a), len(names), width)
    print(f"{len(a)} replications")
    print("| estimator | estimand | bias | \\|err\\| (paired diff.) | SE/SD | coverage |")
    print("|---|---|---|---|---|---|")
    for k, estimand in ((0, "ATT"), (2, "ATE")):
        for j, name in enumerate(names):
            cells = _cells(per[:, j, k], per[:, j, k + 1], per[:, 0, k])
            print(f"| {name} | {estimand} | " + " | ".join(cells) + " |")


def varnb_table(paths) -> None:
    """Per file of ``varnb`` lines and estimand: SE/SD and coverage with each
    ``var_neighbors`` (1, 3, 0), and the mean ratio of each SE to the default's."""
    print("| design | estimand | reps | SE/SD, J = 1 / 3 / 0 | coverage, J = 1 / 3 / 0 | "
          "mean SE ratio to J = 1, J = 3 / 0 |")
    print("|---|---|---|---|---|---|")
    for path in paths:
        a = _lines([path])
        design = Path(path).read_text().split()[0]
        for j, estimand in ((0, "ATT"), (4, "ATE")):
            err, se = a[:, j], a[:, j + 1:j + 4]
            sd = err.std(ddof=1)
            print(f"| {design} | {estimand} | {len(a)} | "
                  + " / ".join(f"{v:.2f}" for v in se.mean(axis=0) / sd) + " | "
                  + " / ".join(f"{v:.2f}" for v in (np.abs(err)[:, None] <= Z * se)
                               .mean(axis=0)) + " | "
                  + " / ".join(f"{v:.3f}" for v in (se[:, 1:] / se[:, :1]).mean(axis=0))
                  + " |")


def grouplasso_table(paths, names=("default", "group 1", "group 1.5")) -> None:
    """Per ``grouplasso`` variant over the replications of the files: the mean logit
    correlation, :func:`_cells` of the ATT and the ATE (paired against the first
    variant), AIPW's ATE mean |error|, the mean validation loss and the range of the
    input columns used."""
    a = _lines(paths)
    per = a.reshape(len(a), -1, 8)
    print(f"{len(a)} replications")
    err = "\\|err\\| (paired diff.)"
    print(f"| variant | logit corr. | ATT bias | ATT {err} | ATT SE/SD | ATT cov. | ATE bias | "
          f"ATE {err} | ATE SE/SD | ATE cov. | AIPW ATE \\|err\\| | val. loss | columns used |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for j, name in enumerate(names):
        v = per[:, j]
        cells = _cells(v[:, 1], v[:, 2], per[:, 0, 1]) + _cells(v[:, 3], v[:, 4], per[:, 0, 3])
        print(f"| {name} | {v[:, 0].mean():.2f} | " + " | ".join(cells)
              + f" | {np.abs(v[:, 5]).mean():.3f} | {v[:, 6].mean():.4f} | "
              f"{v[:, 7].min():.0f}-{v[:, 7].max():.0f} |")


def _split_variants(args) -> tuple[list, list | None]:
    """``FILE... [--variants a,b]``: the files and the variants (None when not given)."""
    if "--variants" in args:
        i = args.index("--variants")
        return args[:i] + args[i + 2:], args[i + 1].split(",")
    return args, None

def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "netdf-table":
        return netdf_table(argv[1:])
    if argv and argv[0] == "drsep-table":
        corr = np.median(_lines(argv[1:])[:, :2], axis=0)
        print("logit correlation with the true logit, joint / separate: median "
              + " / ".join(f"{v:.2f}" for v in corr))
        return blocks_table(argv[1:], ("AIPW, joint logit", "AIPW, separate logit"), skip=2)
    if argv and argv[0] == "drcross-table":
        return blocks_table(argv[1:], ("AIPW, cross-fitted joint logit",
                                       "AIPW, cross-fitted separate logit"))
    if argv and argv[0] == "estopts-table":
        return blocks_table(argv[1:], tuple(ESTOPTS))
    if argv and argv[0] in ("encoder-table", "grouplasso-table"):  # [--variants "a,b"]
        table = encoder_table if argv[0] == "encoder-table" else grouplasso_table
        paths, names = _split_variants(argv[1:])
        return table(paths, *([names] if names else []))
    if argv and argv[0] == "varnb-table":
        return varnb_table(argv[1:])
    mode, design, start, stop = argv[0], argv[1], int(argv[2]), int(argv[3])
    variants = argv[4].split(",") if len(argv) > 4 else None    # regularise: VARIANTS keys
    if mode not in MODES:
        raise SystemExit(f"mode must be one of {', '.join(MODES)}")
    warnings.simplefilter("ignore")
    for rep in range(start, stop):
        print(design, rep, " ".join(f"{v:+.4f}" for v in one(mode, design, rep, variants)),
              flush=True)


if __name__ == "__main__":
    main()
