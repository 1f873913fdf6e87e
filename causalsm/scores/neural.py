"""Neural balancing score: the network of neural score matching (NSM), made to win on
wide data.

Clivio, Falck, Lehmann, Deligiannidis & Holmes (AISTATS 2022) train a propensity
classifier whose first layer is a narrow linear *bottleneck*::

    x -> [encoder] -> Linear(., dim) = b(x) -> act -> Linear(dim, 100) -> act
      -> Linear(100, 100) -> act -> Linear(100, 1) = logit e(x)

Because the propensity is a function of ``b(x)``, ``b`` is a balancing score
(Rosenbaum & Rubin 1983, Thm 2) when the classifier is right: a low-dimensional one,
finer than the propensity score itself.  :meth:`NeuralBalancingScore.paper` builds
exactly that network with the paper's training settings, and ``transform`` then
returns ``b(x)``.

The default goes further, because on high-dimensional confounders (text, images,
hundreds of covariates) a bottleneck trained on the treatment alone loses to a
regularised logistic propensity score (``benchmarks/README.md``):

* **a prognostic head** (Hansen 2008): when ``fit`` receives the outcome, the same
  bottleneck also feeds a head that predicts the outcome under each treatment
  level, trained on the units that received that level.  The bottleneck then keeps
  what predicts the outcome as well as what predicts the treatment, and the score
  matched on is the *joint* score ``(logit e(x), m_0(x), m_1(x))``: a balancing score
  (``e`` is a function of it) that is also prognostic, the neural form of matching
  on propensity and prognostic scores (Leacy & Stuart 2014; Antonelli et al. 2018);
* **an ensemble**: ``n_networks`` networks trained together in one batched pass,
  each with its own initial weights and its own validation units, whose
  predictions are averaged: the score no longer depends on one seed's accident,
  and the noise that a single network's score carries into the matching (and into
  the bias correction, as measurement error) shrinks;
* **training for wide inputs**: AdamW with weight decay, early stopping on the
  validation loss with each network's best weights restored, ``log1p`` of count
  data (bag-of-words), an input lasso chosen by validation loss, and a wider
  bottleneck (``dim`` 10 instead of 5) for inputs of more than 100 columns.

The authors' code has a few defects that are *not* repeated here: its seed is set
after the network is built (so the seed does not control the initial weights), its
loss is ``log(sigmoid)`` (NaN once outputs saturate; we use the logits form) and its
early stopping keeps the last rather than the best weights.
"""

from __future__ import annotations

import copy
import io
from dataclasses import replace
import warnings
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from .._torch import import_torch
from .._validation import (InputError, check_array, check_weights, not_fitted,
                           treatment_series)

torch = import_torch()          # with the OpenMP guard for R sessions (see causalsm._torch)
from torch import nn  # noqa: E402

from ._network import (MemberNetwork, Schedule, TrainData, image_encoder,  # noqa: E402
                       predict_members, train_members)
from ._rows import RowSource, open_stream  # noqa: E402
from ._runtime import (activation, optimizer, resolve_device, torch_seed,  # noqa: E402
                       torch_threads)
from ._tags import SklearnTagsMixin  # noqa: E402

__all__ = ["NeuralBalancingScore"]

_OUTPUTS = ("auto", "score", "propensity", "logit", "prognostic", "joint")
_TRANSFORMS = ("auto", "log1p", None)
_DENSE_BYTES = 1 << 28      # sparse input up to 256 MB (float32) is densified once
_FORMAT = "causalsm.NeuralBalancingScore"
_CHOICE_NETWORKS = 2         # networks per setting when a grid is chosen before the ensemble


# --------------------------------------------------------------------------- inputs
def _labels(t: Any, *, name: str = "treatment") -> np.ndarray:
    """Treatment labels as a 1-d numpy array (a copy), or :class:`InputError`."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    values = treatment_series(t, name).to_numpy(copy=True)
    return values.astype(np.int64) if values.dtype == bool else values


def _show(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_labels(t: Any, n: int, *, name: str = "treatment"):
    """Treatment labels -> (classes, codes 0..K-1).  Any two or more levels."""
    values = _labels(t, name=name)
    if values.shape[0] != n:
        raise InputError(f"X has {n} rows but the {name} has {values.shape[0]}")
    try:
        classes, codes = np.unique(values, return_inverse=True)
    except TypeError:
        raise InputError(f"'{name}' mixes values that cannot be ordered "
                         "(e.g. numbers and strings)") from None
    if classes.size < 2:
        raise InputError(f"'{name}' has only one value ({_show(classes[0])}; one class): at "
                         "least two treatment levels are needed")
    counts = np.bincount(codes, minlength=classes.size)
    if counts.min() < 2:
        raise InputError(f"treatment level {_show(classes[int(np.argmin(counts))])} has "
                         f"{int(counts.min())} unit; at least 2 are needed")
    return classes, codes.astype(np.int64)


def _to_numpy(X: Any) -> Any:
    """Tensors to numpy (a copy); sparse matrices to float32 CSR; other array-likes
    (objects with ``__array__``) to numpy; arrays, frames and lists unchanged."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy().copy()
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32, copy=True)
    if hasattr(X, "__array__") and not isinstance(X, (np.ndarray, pd.DataFrame, pd.Series)):
        return np.asarray(X)
    return X


# ----------------------------------------------------------------------------- class
def auto_batch_size(n_rows: int) -> int:
    """The batch size of ``batch_size="auto"``: 100 up to 10,000 rows, else a hundred
    steps per epoch, at most 1,024 rows a step.

    >>> auto_batch_size(747), auto_batch_size(100_000), auto_batch_size(10 ** 7)
    (100, 1000, 1024)
    """
    return 100 if n_rows <= 10_000 else min(1024, n_rows // 100)


class NeuralBalancingScore(SklearnTagsMixin, TransformerMixin, BaseEstimator):
    """Neural balancing score (neural score matching) as a scikit-learn transformer.

    A network with a linear bottleneck of width ``dim`` right after the input (or
    after an encoder: a user's ``encoder``, or the built-in CNN for images), a
    treatment head and, when ``fit`` is given the outcome, a prognostic head (see the
    module docstring).  The defaults are the
    recommended settings, chosen on the high-dimensional benchmarks of
    ``benchmarks/highdim.py`` (text, images, many covariates, IHDP): five networks
    with a prognostic head, AdamW, early stopping, and the joint
    score ``(logit e, m_0, m_1)`` to match on.  :meth:`paper` gives the network and
    settings of the NSM paper (one network, SGD, 200 epochs, the bottleneck score).

    Parameters
    ----------
    dim : int or "auto", default "auto"
        Width of the bottleneck, i.e. the dimension of the balancing score.
        ``"auto"`` is 10 for wide inputs (more than 100 columns) and 5
        otherwise (the paper's), resolved at ``fit`` into ``dim_``.  On the wide designs
        of ``benchmarks/highdim.py`` the wider bottleneck halved the ATT error where
        a few latent factors drive 1,000 covariates (0.054 against 0.109) and lowered it
        on the sparse and text designs (see ``benchmarks/README.md``).
    hidden_layer_sizes : tuple of int, default (100, 100)
        Widths of the hidden layers between the bottleneck and the outputs (``()``
        gives a single activation then the outputs).
    activation : str or nn.Module class, default "elu"
        ``"leaky_relu"`` (slope 0.01, the paper's), ``"relu"``, ``"elu"``, ``"selu"``,
        ``"gelu"``, ``"silu"``, ``"tanh"``, ``"sigmoid"``, or a class such as
        ``nn.Mish``.
    dropout : float, default 0.0
        Dropout probability after every activation.
    optimizer : str or torch.optim.Optimizer class, default "adamw"
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an optimizer class taking
        ``(params, lr=, weight_decay=)``.
    learning_rate : float, default 0.001
    momentum : float, default 0.0
        Momentum of SGD and RMSprop (ignored by the others).
    weight_decay : float, default 1e-4
        Weight decay of the optimizer (decoupled for AdamW; an L2 penalty for the
        others), on all parameters.
    batch_size : int or "auto", default "auto"
        Rows per optimisation step.  ``"auto"``: 100 (the paper's) for up to 10,000
        training rows; above, a hundred steps per epoch (``rows // 100``, at most
        1,024), where batches of 100 would spend the time in per-step overhead on
        small matrices (100,000 x 100 for 20 epochs: ``benchmarks/README.md``).
    epochs : int, default 200
        Maximum number of passes over the training data.
    validation_fraction : float or None, default 0.2
        Each network holds out its own random fraction of the units (stratified by
        treatment) to compute a validation loss every epoch, for early stopping;
        ``fit(..., validation_data=...)`` gives one explicit validation set instead.
    patience : int or None, default 10
        Early stopping on the validation loss, network by network: a network stops
        at the ``(patience + 1)``-th epoch in a row that does not improve on its best
        loss by more than ``min_delta`` (``0`` stops at the first such epoch, as the
        paper's News runs).  Training ends when every network has stopped.
        ``None`` trains for all ``epochs``.
    min_delta : float, default 0.0
    restore_best_weights : bool, default True
        Keep each network's weights of its epoch with the lowest validation loss
        rather than its last ones (the paper's code keeps the last).
    n_networks : int, default 5
        Networks trained together (an ensemble), differing by their initial weights,
        dropout draws and validation units.  Predictions (propensity, prognostic
        head) are averaged over them; their bottlenecks are not comparable, so
        ``output="score"`` needs ``n_networks=1``.
    prognostic : bool or "auto", default "auto"
        Add the prognostic head: ``"auto"`` when ``fit`` receives an outcome ``y``.
    outcome_weight : float, default 1.0
        Weight of the prognostic head's squared error (on the standardised outcome)
        relative to the treatment's cross-entropy in the training loss.
    input_l1 : float, sequence of floats or "auto", default "auto"
        Lasso penalty on the bottleneck's input weights (a proximal soft-threshold
        after every step), which lets the network ignore most of a wide input.  A
        sequence is a grid: ``n_networks`` networks are trained for each value, all
        together, and the value whose networks have the lowest mean best validation
        loss is kept (``input_l1_``, the losses in ``history_["input_val_loss"]``; the
        other networks are dropped).  A grid of more than two settings (with
        ``input_rank``'s) is instead chosen with two networks per setting, and the
        ``n_networks`` networks of the score are then trained with the chosen one.
        ``"auto"`` is the grid ``(0, 1)`` for a wide input (more than 100 columns)
        that ``input_rank`` leaves whole, and ``0`` otherwise or when there is no
        validation data to choose with.
    input_rank : int, None, sequence of them or "auto", default "auto"
        Confine the bottleneck's input weights to the top ``k`` principal directions
        of the input (a truncated SVD of the transformed, standardised training input,
        computed once): the networks train on the ``k`` components, all scaled by one
        factor (so that the first 20 have mean unit variance; the later ones keep their
        smaller variance), and their bottleneck is then folded back
        into weights on the input itself.  ``None`` leaves the input whole.  A wide
        linear bottleneck can otherwise fit part of each unit's outcome noise (with
        2,000 columns and 3,000 units, a linear map has room for it); the matched
        units' noise then biases the estimate.  A sequence is a grid, crossed with
        ``input_l1``'s and chosen with it by validation loss (``input_rank_``).
        ``"auto"`` is the grid ``(None, 20, 50, 100)`` (ranks below the number of rows
        and columns) for a wide input (more than 100 columns, no encoder, in memory)
        with validation data, and ``None`` otherwise.  On the text and latent-factor
        designs of ``benchmarks/highdim.py`` the validation loss picks a rank and the
        ATT error falls (50 replications: 0.074 to 0.039 and 0.069 to 0.056); on the
        sparse design it keeps the whole input with the lasso (``benchmarks/README.md``).
        The grid costs time: ten networks to choose, then the five of the score
        (one thread: 19-22 s on the 3,000 x 2,000 text design, 25-29 s on the
        latent-factor one, against 7-10 s with ``input_rank=None``).
    input_transform : {"auto", "log1p", None}, default "auto"
        Applied to the input before standardising it: ``"log1p"`` is ``log(1 + x)``
        (for counts); ``"auto"`` applies it to a sparse matrix of non-negative whole
        numbers (a bag of words) and leaves other inputs alone.
    standardize : bool, default True
        Centre and scale each continuous column of a 2-d input by its mean and SD
        over the training units; columns whose values are all 0 or 1 are left as they
        are (as the paper).  Sparse inputs are only scaled (no centring, which would
        make them dense).  Images (inputs of more than two dimensions, or pixel
        columns named by ``image_shape``) are passed unchanged.
    encoder : nn.Module or None, default None
        A module applied to the input before the bottleneck; its output is
        flattened.  Each network gets its own copy; the module passed is never
        trained in place.  Images need none: see ``image_shape``.
    image_shape : tuple or None, default None
        ``(height, width)`` or ``(channels, height, width)`` when the columns of a
        2-d ``X`` are the pixels of images (in C order, e.g. a DataFrame of 64 pixel
        columns of 8x8 images): each network then reads them through a built-in CNN
        (two blocks of a 3x3 convolution, ReLU and 2x2 max-pooling with 8 and 16
        channels, the map pooled to at most 8x8, a dense layer of 32 units).  An
        input of 3 or 4 dimensions, ``(n, height, width)`` or ``(n, channels,
        height, width)``, given without an ``encoder``, gets the same CNN.  Pixels
        are not standardised.  On the 8x8 digits design of ``benchmarks/highdim.py``
        (50 replications) it gives an ATT error of 0.063 and interval coverage
        (ATT / ATE) of 0.94 / 0.96, against 0.075 and 0.90 / 0.84 for the MLP
        encoder of ``examples/image_confounding.py`` (a fifth of the fit time).
    reset_encoder : bool, default True
        Re-initialise the encoders' layers (their ``reset_parameters``) from
        ``random_state``, so that the seed fixes every initial weight.  Use ``False``
        for a pre-trained encoder (the built-in CNN is always initialised from
        ``random_state``).
    output : {"auto", "score", "propensity", "logit", "prognostic", "joint"}, default "auto"
        What ``transform`` returns: the bottleneck score ``b(x)`` (n, dim), the
        propensity (``(n, 1)``; ``(n, K)`` probabilities for ``K`` levels), its logit
        (``(n, 1)``; ``(n, K - 1)`` log-ratios to the first level), the prognostic
        head's outcome predictions (``(n, K)``, one column per level), or the joint
        score: the logit columns then the prognostic columns.  ``"auto"`` is
        ``"joint"`` with a prognostic head, else ``"score"`` for one network and
        ``"logit"`` for several, resolved at ``fit`` into ``output_``.  It may be
        changed after ``fit`` (``set_params``) to read another output of the same
        networks.
    device : {"cpu", "auto", "cuda"}, default "cpu"
        ``"auto"`` uses a CUDA GPU when one is available.
    random_state : int, numpy Generator or None
        Seeds the initial weights, dropout, the folds or validation split and the
        batch order.  The same seed gives the same score bit for bit on the CPU.
    n_threads : int or None, default 1
        Torch CPU threads used by ``fit`` and ``transform`` (set for the call, then
        restored).  Small networks train fastest on one thread, where thread
        synchronisation would cost more than the arithmetic; raise it for large
        encoders.  ``None`` leaves torch's setting alone.
    verbose : bool, default False
        Show a progress bar with the training and validation loss.

    Attributes
    ----------
    network_ : torch.nn.Module
        The trained networks (one module; see ``causalsm.scores._network``).
    classes_ : ndarray
        Treatment levels; the propensity of a binary treatment is ``P(T = classes_[1])``.
    output_ : str
        The resolved ``output``.
    prognostic_ : bool
        Whether the prognostic head was trained.
    input_transform_ : str or None
        The resolved ``input_transform``.
    history_ : dict
        ``"loss"`` (mean training loss per epoch, over the networks still training;
        a network that stopped early is left out of the later epochs' passes),
        ``"val_loss"`` (mean validation loss; empty without validation),
        ``"member_val_loss"`` (NaN once a network stopped), ``"best_val_loss"``,
        ``"best_epoch"`` and ``"n_epochs"`` (per kept network)
        and, for a grid of ``input_l1`` or ``input_rank``, ``"input_val_loss"``
        (``(input_rank, input_l1)`` -> mean best validation loss of its networks).
    validation_mask_ : ndarray of bool or None
        ``(n_networks, n)``: the units each kept network held out for validation (from
        ``validation_fraction``; None with ``validation_data`` or without validation).
    dim_ : int
        The bottleneck's width (``dim`` with ``"auto"`` resolved).
    batch_size_ : int
        Rows per step (``batch_size`` with ``"auto"`` resolved).
    input_l1_ : float
        The input lasso penalty used (chosen from the grid).
    input_rank_ : int or None
        The rank of the input directions the bottleneck was confined to (chosen from
        the grid; None: the whole input).
    image_shape_ : tuple or None
        ``(channels, height, width)`` of the images the built-in CNN reads (None: no
        built-in CNN).
    n_epochs_ : int
        Epochs run (the most of any network).
    best_epoch_ : int or None
        Epoch (1-based) of the lowest validation loss of the first network.
    y_mean_, y_scale_ : float or None
        Standardisation of the outcome for the prognostic head.
    mean_, scale_ : ndarray or None
        Standardisation of the input columns (None when not applied).
    n_features_in_ : int
    feature_names_in_ : list of str
    random_seed_ : int
        The torch seed used (drawn when ``random_state`` is None).

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(300, 4))
    >>> t = (X[:, 0] - X[:, 1] + rng.normal(size=300) > 0).astype(int)
    >>> y = X[:, 0] + X[:, 2] + t + rng.normal(size=300)
    >>> nsm = NeuralBalancingScore(epochs=30, random_state=0)
    >>> S = nsm.fit_transform(X, t, outcome=y)  # the joint score
    >>> S.shape, nsm.output_, list(nsm.get_feature_names_out())
    ((300, 3), 'joint', ['logit', 'prognostic_0', 'prognostic_1'])
    >>> float(np.corrcoef(nsm.prognostic_score(X)[:, 0], X[:, 0] + X[:, 2])[0, 1]) > 0.9
    True
    >>> pixels = np.random.default_rng(1).uniform(0, 16, size=(300, 64))   # 8x8 images
    >>> cnn = NeuralBalancingScore(image_shape=(8, 8), epochs=3, random_state=0)
    >>> cnn.fit(pixels, t).image_shape_, cnn.transform(pixels).shape   # the logit
    ((1, 8, 8), (300, 1))
    >>> paper = NeuralBalancingScore.paper(dim=2, epochs=30, random_state=0).fit(X, t)
    >>> paper.transform(X).shape
    (300, 2)
    >>> same = NeuralBalancingScore.paper(dim=2, epochs=30, random_state=0).fit(X, t)
    >>> bool(np.array_equal(paper.transform(X), same.transform(X)))
    True
    """

    def __init__(self, dim: Any = "auto", hidden_layer_sizes: tuple = (100, 100),
                 activation: Any = "elu", dropout: float = 0.0, optimizer: Any = "adamw",
                 learning_rate: float = 1e-3, momentum: float = 0.0,
                 weight_decay: float = 1e-4, batch_size: Any = "auto", epochs: int = 200,
                 validation_fraction: float | None = 0.2, patience: int | None = 10,
                 min_delta: float = 0.0, restore_best_weights: bool = True,
                 n_networks: int = 5, prognostic: Any = "auto",
                 outcome_weight: float = 1.0, input_l1="auto", input_rank="auto",
                 input_transform: Any = "auto",
                 standardize: bool = True, encoder: nn.Module | None = None,
                 image_shape: tuple | None = None, reset_encoder: bool = True,
                 output: str = "auto", device: Any = "cpu",
                 random_state: Any = None, n_threads: int | None = 1, verbose: bool = False):
        self.dim = dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.optimizer = optimizer
        self.learning_rate = learning_rate
        self.momentum = momentum
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.epochs = epochs
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.min_delta = min_delta
        self.restore_best_weights = restore_best_weights
        self.n_networks = n_networks
        self.prognostic = prognostic
        self.outcome_weight = outcome_weight
        self.input_l1 = input_l1
        self.input_rank = input_rank
        self.input_transform = input_transform
        self.standardize = standardize
        self.encoder = encoder
        self.image_shape = image_shape
        self.reset_encoder = reset_encoder
        self.output = output
        self.device = device
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

    #: The settings of every experiment of the NSM paper (Clivio et al. 2022).
    PAPER_SETTINGS = {
        "dim": 5, "hidden_layer_sizes": (100, 100), "activation": "leaky_relu",
        "dropout": 0.0, "optimizer": "sgd", "learning_rate": 0.01, "momentum": 0.0,
        "weight_decay": 0.01, "batch_size": 100, "epochs": 200,
        "validation_fraction": None, "patience": None, "restore_best_weights": False,
        "n_networks": 1, "prognostic": False, "input_transform": None, "output": "score",
        "input_l1": 0.0, "input_rank": None}

    @classmethod
    def paper(cls, **params) -> "NeuralBalancingScore":
        """The network and training settings of the NSM paper; ``params`` override them.

        One network, no prognostic head: ``dim=5``, LeakyReLU, two hidden layers of
        100, plain SGD with learning rate 0.01 and weight decay 0.01, batches of 100,
        200 epochs, no dropout, no early stopping, and ``transform`` returning the
        5-d bottleneck.  The paper's News runs add ``validation_fraction=0.2,
        patience=0``.

        Examples
        --------
        >>> NeuralBalancingScore.paper(random_state=0).get_params()["optimizer"]
        'sgd'
        """
        return cls(**{**cls.PAPER_SETTINGS, **params})

    # ------------------------------------------------------------ parameters
    def _check_params(self) -> dict:
        def pos_int(v, name, minimum=1):      # a whole float (R's 5) counts as an integer
            if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) \
                    or not float(v).is_integer() or v < minimum:
                raise InputError(f"'{name}' must be an integer >= {minimum}, got {v!r}")
            return int(v)

        def nonneg(v, name):
            if isinstance(v, bool) or not isinstance(v, Real) or not np.isfinite(v) or v < 0:
                raise InputError(f"'{name}' must be a finite number >= 0, got {v!r}")
            return float(v)

        hidden = self.hidden_layer_sizes
        if isinstance(hidden, Real):
            hidden = (hidden,)
        hidden = tuple(pos_int(h, "hidden_layer_sizes") for h in hidden)
        if not 0 <= nonneg(self.dropout, "dropout") < 1:
            raise InputError(f"'dropout' must be in [0, 1), got {self.dropout!r}")
        if nonneg(self.learning_rate, "learning_rate") == 0:
            raise InputError("'learning_rate' must be positive")
        vf = self.validation_fraction
        if vf is not None and not (isinstance(vf, Real) and 0 < vf < 1):
            raise InputError(f"'validation_fraction' must be in (0, 1) or None, got {vf!r}")
        if self.output not in _OUTPUTS:
            raise InputError(f"'output' must be one of {', '.join(_OUTPUTS)}, got "
                             f"{self.output!r}")
        if self.input_transform not in _TRANSFORMS:
            raise InputError(f"'input_transform' must be 'auto', 'log1p' or None, got "
                             f"{self.input_transform!r}")
        if self.prognostic not in ("auto", True, False):
            raise InputError(f"'prognostic' must be True, False or 'auto', got "
                             f"{self.prognostic!r}")
        if self.n_threads is not None:
            pos_int(self.n_threads, "n_threads")
        if self.encoder is not None and not isinstance(self.encoder, nn.Module):
            raise InputError(f"'encoder' must be a torch.nn.Module, got "
                             f"{type(self.encoder).__name__}")
        if _image_param(self.image_shape) is not None and self.encoder is not None:
            raise InputError("pass `encoder` or `image_shape`, not both: `image_shape` "
                             "selects the built-in CNN")
        k = pos_int(self.n_networks, "n_networks")
        if self.output == "score" and k > 1:
            raise InputError("output='score' (the bottleneck) needs n_networks=1: the "
                             "bottlenecks of several networks are not comparable; use "
                             "output='joint', 'logit' or 'propensity' with an ensemble")
        if isinstance(self.dim, str) and self.dim != "auto":
            raise InputError(f"'dim' must be a positive integer or 'auto', got {self.dim!r}")
        return {"dim": None if self.dim == "auto" else pos_int(self.dim, "dim"),
                "hidden": hidden,
                "activation": activation(self.activation),
                "optimizer": optimizer(self.optimizer),
                "momentum": nonneg(self.momentum, "momentum"),
                "weight_decay": nonneg(self.weight_decay, "weight_decay"),
                "batch_size": (None if self.batch_size == "auto"
                               else pos_int(self.batch_size, "batch_size")),
                "epochs": self._epochs(pos_int),
                "patience": None if self.patience is None else pos_int(self.patience,
                                                                       "patience", 0),
                "min_delta": nonneg(self.min_delta, "min_delta"),
                "outcome_weight": nonneg(self.outcome_weight, "outcome_weight"),
                "input_l1": self._grid("input_l1", "a number >= 0",
                                       lambda x: nonneg(x, "input_l1")),
                "input_rank": self._grid("input_rank", "a positive integer, None",
                                         lambda k: None if k is None
                                         else pos_int(k, "input_rank")),
                "n_networks": k}

    def _grid(self, name: str, what: str, check) -> tuple | None:
        """Parameter ``name`` (a value or a sequence of them, each passed through
        ``check``) as a tuple; None for "auto", which is resolved on the data."""
        v = getattr(self, name)
        if isinstance(v, str):
            if v != "auto":
                raise InputError(f"'{name}' must be {what}, a sequence of them or 'auto', "
                                 f"got {v!r}")
            return None
        values = list(v) if isinstance(v, (list, tuple)) or (
            isinstance(v, np.ndarray) and v.ndim) else [v]
        if not values:
            raise InputError(f"'{name}' is an empty sequence")
        return tuple(check(x) for x in values)

    def _input_grid(self, p, Xp, validated: bool, wide: bool
                    ) -> list[tuple[int | None, float]]:
        """The ``(input_rank, input_l1)`` settings whose networks compete on validation
        loss (one setting: nothing to choose)."""
        ranks = p["input_rank"]
        limit = min(Xp.shape[0], self.n_features_in_)
        if ranks is None:                  # "auto": a few ranks for wide input in memory
            ranks = (None,)
            if wide and validated and not isinstance(Xp, RowSource):
                ranks += tuple(k for k in (20, 50, 100) if k < limit)
        elif any(k is not None for k in ranks):
            if self.encoder is not None or self.image_shape_ is not None \
                    or isinstance(Xp, RowSource) or len(self.input_shape_) != 1:
                raise InputError("'input_rank' needs a 2-d input held in memory and no "
                                 "encoder")
            bad = [k for k in ranks if k is not None and k >= limit]
            if bad:
                raise InputError(f"input_rank={bad[0]} must be below the number of rows "
                                 f"and columns of X ({limit})")
        grid = p["input_l1"]
        lasso = (0.0, 1.0) if wide and validated else (0.0,)
        out = [(k, l1) for k in ranks
               for l1 in (grid if grid is not None else lasso if k is None else (0.0,))]
        if len(out) > 1 and not validated:
            raise InputError("a grid of input_l1 or input_rank values is chosen by "
                             "validation loss: set validation_fraction or pass "
                             "validation_data")
        return out

    # --------------------------------------------------------------- inputs
    def _prepare(self, X: Any, *, fitting: bool, name: str = "X", weights=None):
        """Validated float32 input: a CPU tensor, a CSR matrix (large sparse input) or
        a :class:`RowSource` for a numpy memmap or a Parquet path (rows read and scaled
        batch by batch, never all at once)."""
        X = open_stream(X)
        if isinstance(X, RowSource):
            return self._prepare_stream(X, fitting=fitting, name=name, weights=weights)
        X = _to_numpy(X)
        if sp.issparse(X):
            if not np.isfinite(X.data).all():
                raise InputError(f"{name} has missing or infinite values")
            names = [f"x{j}" for j in range(X.shape[1])]
            shape = (X.shape[1],)
        elif isinstance(X, (pd.DataFrame, pd.Series)) or np.ndim(X) <= 2:
            if not fitting and hasattr(self, "feature_names_in_") \
                    and isinstance(X, pd.DataFrame):
                cols = [str(c) for c in X.columns]
                if cols != self.feature_names_in_ and len(cols) == len(self.feature_names_in_):
                    diff = [c for c in cols if c not in self.feature_names_in_]
                    fitted = ", ".join(self.feature_names_in_[:10])
                    raise InputError(
                        f"{name} has columns {diff[:5] or cols[:5]} that differ from the "
                        f"columns the score was fitted on ({fitted})")
            X, names, _ = check_array(X, name=name)
            shape = (X.shape[1],)
        else:
            try:
                X = np.array(X, dtype=np.float64, copy=True)
            except (TypeError, ValueError) as err:
                raise InputError(f"{name} must be numeric: {err}") from None
            if not np.isfinite(X).all():
                raise InputError(f"{name} has {int((~np.isfinite(X)).sum())} missing or "
                                 "infinite value(s)")
            names = None
            shape = X.shape[1:]
            if self.encoder is None and len(shape) > 3:
                raise InputError(f"{name} has shape {X.shape}: the built-in CNN reads images "
                                 "(n, height, width) or (n, channels, height, width); other "
                                 "inputs of more than two dimensions need an `encoder` module")
        if fitting:
            self.__dict__.pop("feature_names_in_", None)
            self.image_shape_ = self._resolve_image(shape, name)
            self.input_shape_ = tuple(int(s) for s in shape)
            self.n_features_in_ = int(np.prod(shape))
            if names is not None:
                self.feature_names_in_ = list(names)
            self.input_transform_ = self._resolve_transform(X)
        elif tuple(shape) != self.input_shape_:
            if len(shape) == 1 and len(self.input_shape_) == 1:
                raise InputError(f"{name} has {shape[0]} features, but NeuralBalancingScore "
                                 f"is expecting {self.input_shape_[0]} features as input (the "
                                 "columns it was fitted on)")
            raise InputError(f"{name} has shape {tuple(shape)} per unit; the score was "
                             f"fitted on {self.input_shape_}")
        X = self._apply_transform(X, name)
        if fitting:
            self._fit_scaling(X, weights)
        return self._apply_scaling(X)

    def _resolve_image(self, shape: tuple, name: str) -> tuple[int, int, int] | None:
        """(channels, height, width) of the images the built-in CNN reads (None: no
        built-in CNN): ``image_shape``, or the shape of an input of 3 or 4 dimensions
        given without an ``encoder``."""
        image = _image_param(self.image_shape)
        if image is not None:
            if int(np.prod(image)) != int(np.prod(shape)):
                raise InputError(f"image_shape {tuple(self.image_shape)} has "
                                 f"{int(np.prod(image))} pixels, but {name} has "
                                 f"{int(np.prod(shape))} values per unit")
            return image
        if self.encoder is None and len(shape) in (2, 3):
            return _image_param(shape)
        return None

    def _resolve_transform(self, X) -> str | None:
        if self.input_transform != "auto":
            return self.input_transform
        if sp.issparse(X) and X.data.size and (X.data >= 0).all() \
                and np.array_equal(X.data, np.round(X.data)):
            return "log1p"
        return None

    def _apply_transform(self, X, name: str):
        if self.input_transform_ != "log1p":
            return X
        values = X.data if sp.issparse(X) else X
        if values.size and values.min() <= -1:
            raise InputError(f"input_transform='log1p' needs values > -1; {name} has "
                             f"{values.min():g}")
        return X.log1p() if sp.issparse(X) else np.log1p(X)

    def _prepare_stream(self, src: RowSource, *, fitting: bool, name: str, weights=None):
        """Check a streamed input chunk by chunk and attach the scaling to it."""
        if len(src.shape) != 2:
            raise InputError(f"{name} must be 2-dimensional to be streamed, got shape "
                             f"{src.shape}")
        d = src.shape[1]
        if fitting:
            if self.input_transform == "log1p":
                raise InputError("input_transform='log1p' is not available for streamed "
                                 "input (a memmap or Parquet file): transform it first")
            self.__dict__.pop("feature_names_in_", None)
            self.image_shape_ = self._resolve_image((int(d),), name)
            self.input_shape_ = (int(d),)
            self.n_features_in_ = int(d)
            self.feature_names_in_ = [f"x{j}" for j in range(d)]
            self.input_transform_ = None
        elif (int(d),) != self.input_shape_:
            raise InputError(f"{name} has shape {(int(d),)} per unit; the score was "
                             f"fitted on {self.input_shape_}")
        for a, chunk in src.chunks():
            bad = ~np.isfinite(chunk)
            if bad.any():
                j = int(np.argmax(bad.any(axis=0)))
                raise InputError(f"column 'x{j}' of {name} has missing or infinite value(s) "
                                 f"(first at row {a + int(np.argmax(bad[:, j]))})")
        if fitting:
            self.mean_ = self.scale_ = None
            if self.standardize and self.image_shape_ is None:
                mean, sd, binary = src.column_stats(weights)
                self.mean_ = np.where(binary, 0.0, mean)
                self.scale_ = np.where(binary | (sd <= 1e-12 * np.maximum(1.0, np.abs(mean))),
                                       1.0, sd)
        return src.scaled(self.mean_, self.scale_)

    def _fit_scaling(self, X, weights=None) -> None:
        self.mean_ = self.scale_ = None
        if not self.standardize or self.image_shape_ is not None \
                or (not sp.issparse(X) and X.ndim != 2):
            return
        w = np.full(X.shape[0], 1.0 / X.shape[0]) if weights is None else weights / weights.sum()
        if sp.issparse(X):
            Xd = sp.csr_matrix(X, dtype=np.float64)
            mean = Xd.T @ w
            sd = np.sqrt(np.maximum(Xd.multiply(Xd).T @ w - mean ** 2, 0.0))
            other = (Xd.data != 0) & (Xd.data != 1)          # stored values other than 0/1
            binary = np.bincount(Xd.indices[other], minlength=X.shape[1]) == 0
            self.mean_ = np.zeros(X.shape[1])
        else:
            if weights is None:
                mean, sd = X.mean(axis=0), X.std(axis=0)
            else:
                mean = w @ X
                sd = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
            binary = np.all((X == 0) | (X == 1), axis=0)
            self.mean_ = np.where(binary, 0.0, mean)
        self.scale_ = np.where(binary | (sd <= 1e-12 * np.maximum(1.0, np.abs(mean))), 1.0, sd)

    def _apply_scaling(self, X):
        if sp.issparse(X):
            if self.scale_ is not None:
                X = sp.csr_matrix(X.multiply(1.0 / self.scale_[None, :]))
            X = sp.csr_matrix(X, dtype=np.float32)
            if X.shape[0] * X.shape[1] * 4 <= _DENSE_BYTES:     # small enough: dense
                return torch.from_numpy(X.toarray())
            return X
        if self.scale_ is not None:
            X = (X - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    # ----------------------------------------------------------------- fit
    def _epochs(self, pos_int) -> int:
        epochs = pos_int(self.epochs, "epochs", minimum=0)
        if epochs == 0:
            warnings.warn("epochs=0: the networks are not trained; their score is a random "
                          "function of the covariates, not a balancing score",
                          UserWarning, stacklevel=5)
        return epochs

    def fit(self, X, y, *, outcome=None, sample_weight=None,
            validation_data: tuple | None = None):
        """Train the networks on ``(X, y)`` and, with a prognostic head, the ``outcome``.

        Parameters
        ----------
        X : DataFrame, ndarray, scipy sparse matrix, torch tensor, numpy memmap or
            Parquet path, shape (n, ...)
            Covariates (2-d), images ``(n, [channels,] height, width)`` (the built-in
            CNN), or inputs of any shape with an ``encoder``.
        y : array-like, shape (n,)
            The treatment (scikit-learn's target, which the score learns): 0/1, boolean,
            or any labels with two or more levels.
        outcome : array-like, shape (n,), optional
            The outcome, for the prognostic head (``prognostic="auto"`` adds it when
            the outcome is given).
        sample_weight : array-like, shape (n,), optional
            Non-negative unit weights (e.g. survey weights): they weight the loss and
            the standardisation.
        validation_data : tuple (X_val, t_val) or (X_val, t_val, outcome_val), optional
            Units to compute the validation loss on (instead of ``validation_fraction``
            of every network); ``outcome_val`` is needed with a prognostic head.

        Returns
        -------
        self
        """
        self._fit(X, y, outcome, sample_weight, validation_data)
        return self

    def fit_transform(self, X, y, *, outcome=None, sample_weight=None,
                      validation_data: tuple | None = None):
        """``fit(X, y, ...)`` then ``transform(X)``."""
        X = open_stream(X)
        return self.fit(X, y, outcome=outcome, sample_weight=sample_weight,
                        validation_data=validation_data).transform(X)

    def _fit(self, X, t, y, sample_weight, validation_data):
        p = self._check_params()
        device = resolve_device(self.device)
        seed = torch_seed(self.random_state)
        X = open_stream(X)                 # a memmap / Parquet file is streamed
        if not isinstance(X, RowSource):
            X = _to_numpy(X)
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        if n_rows == 0:
            raise InputError("X is empty: 0 sample(s) while a minimum of 1 is required")
        classes, codes = _check_labels(t, n_rows)
        weights = check_weights(sample_weight, n_rows)
        prognostic = self.prognostic if self.prognostic != "auto" else y is not None
        if prognostic and y is None:
            raise InputError("prognostic=True needs the outcome: call fit(X, t, outcome=y)")
        yz = None
        if prognostic:
            yv = _outcome(y, n_rows)
            w = np.ones(n_rows) if weights is None else weights
            self.y_mean_ = float(np.average(yv, weights=w))
            sd = float(np.sqrt(np.average((yv - self.y_mean_) ** 2, weights=w)))
            self.y_scale_ = sd if sd > 0 else 1.0
            yz = (yv - self.y_mean_) / self.y_scale_
        else:
            self.y_mean_ = self.y_scale_ = None
        self.prognostic_ = bool(prognostic)
        Xp = self._prepare(X, fitting=True, weights=weights)
        self.classes_ = classes
        n_levels = classes.size
        n_treatment = 1 if n_levels == 2 else n_levels
        K = p["n_networks"]
        self.output_ = self._resolve_output(K)
        validated = validation_data is not None or self.validation_fraction is not None
        wide = (self.encoder is None and self.image_shape_ is None
                and self.n_features_in_ > 100)                # sparse or dense alike
        self.dim_ = p["dim"] or (10 if wide else 5)
        self.batch_size_ = p["batch_size"] or auto_batch_size(n_rows)
        grid = self._input_grid(p, Xp, validated, wide)
        if p["patience"] is not None and not validated:
            raise InputError("early stopping (patience) needs validation data: set "
                             "validation_fraction or pass validation_data")
        ranks = [k for k, _ in grid if k is not None]
        basis = _input_basis(Xp, max(ranks), seed) if ranks else None
        fit = _GridFit(self, p, Xp, codes, yz, weights, basis, n_treatment,
                       n_levels if prognostic else 0, device,
                       None if validation_data is None else self._validation_set(validation_data),
                       np.random.default_rng(seed), torch.Generator().manual_seed(seed))
        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork), torch_threads(self.n_threads):
            torch.manual_seed(seed)
            loss = None
            if len(grid) > 2 and K > _CHOICE_NETWORKS:
                # choose the setting with a few networks each, then train the ensemble
                # (two settings would save one network for a second training run)
                setting, _, _, _, loss = fit(grid, _CHOICE_NETWORKS)
                grid = [setting]
            setting, net, history, held, grid_loss = fit(grid, K)
        loss = grid_loss if loss is None else loss
        self.input_rank_, self.input_l1_ = setting[0], float(setting[1])
        if setting[0] is not None:         # weights on the components -> on the input
            net.fold_input_basis(torch.from_numpy(basis))
        if loss is not None:
            history["input_val_loss"] = loss
        net.eval()
        self.network_ = net
        self.validation_mask_ = None if held is None else held.astype(bool)
        self.device_ = str(device)
        self.random_seed_ = seed
        self.history_ = history
        self.n_epochs_ = int(history["epochs_run"])
        self.best_epoch_ = None if history["best_epoch"] is None \
            else int(history["best_epoch"][0])
        return Xp

    def _resolve_output(self, n_networks: int) -> str:
        """``output``, with ``"auto"`` resolved for this fit (stored as ``output_``)."""
        if self.output == "auto":
            if self.prognostic_:
                return "joint"
            return "score" if n_networks == 1 else "logit"
        return self._current_output(n_networks)

    def _current_output(self, n_networks: int | None = None) -> str:
        """The output ``transform`` gives now: ``output`` may change after ``fit``."""
        output = self.output
        n_networks = self.network_.n_members if n_networks is None else n_networks
        if output not in _OUTPUTS:
            raise InputError(f"'output' must be one of {', '.join(_OUTPUTS)}, got {output!r}")
        if output == "auto":
            return self.output_
        if output in ("prognostic", "joint") and not self.prognostic_:
            raise InputError(f"output={output!r} needs the prognostic head: fit with the "
                             "outcome, fit(X, t, outcome=y)")
        if output == "score" and n_networks > 1:
            raise InputError("output='score' (the bottleneck) needs n_networks=1: the "
                             "bottlenecks of several networks are not comparable; use "
                             "output='joint', 'logit' or 'propensity' with an ensemble")
        return output

    def _validation_set(self, validation_data) -> TrainData:
        if not (isinstance(validation_data, (tuple, list)) and len(validation_data) in (2, 3)):
            raise InputError("validation_data must be a tuple (X_val, t_val) or "
                             "(X_val, t_val, y_val)")
        Xv, tv = validation_data[:2]
        Xv = open_stream(Xv)
        nv = Xv.shape[0] if hasattr(Xv, "shape") else len(Xv)
        codes = self._codes(tv, nv, name="validation treatment")
        yz = None
        if self.prognostic_:
            if len(validation_data) < 3:
                raise InputError("with a prognostic head validation_data must be "
                                 "(X_val, t_val, y_val)")
            yz = (_outcome(validation_data[2], nv, name="validation outcome")
                  - self.y_mean_) / self.y_scale_
        return TrainData(self._prepare(Xv, fitting=False, name="X_val"), codes, yz, None,
                         None)

    def _codes(self, t, n, *, name="treatment") -> np.ndarray:
        labels = _labels(t, name=name)
        if labels.shape[0] != n:
            raise InputError(f"X_val has {n} rows but the {name} has {labels.shape[0]}")
        bad = ~np.isin(labels, self.classes_)
        if bad.any():
            raise InputError(f"{name} has level(s) {sorted(map(str, np.unique(labels[bad])))[:5]}"
                             f" not seen in the training data ({list(self.classes_)})")
        return np.searchsorted(self.classes_, labels).astype(np.int64)

    def _build(self, Xp, p, K, n_treatment, n_outcome, device) -> MemberNetwork:
        encoders = None
        template = self.encoder
        if template is None and self.image_shape_ is not None:
            with torch.random.fork_rng(devices=[]):   # built on the CPU; weights drawn below
                template = image_encoder(self.image_shape_)
        if template is not None:
            encoders = []
            for _ in range(K):
                enc = copy.deepcopy(template).to("cpu")
                if self.reset_encoder or template is not self.encoder:
                    for m in enc.modules():
                        if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                            m.reset_parameters()
                encoders.append(enc)
            probe = encoders[0].eval()
            with torch.no_grad():
                rows = _take(Xp, np.arange(min(2, Xp.shape[0])))
                in_features = int(np.prod(probe(_dense(rows)).shape[1:]))
            probe.train()
        else:
            in_features = int(Xp.shape[1])
        return MemberNetwork(encoders, in_features, K, self.dim_, p["hidden"],
                             p["activation"], float(self.dropout), n_treatment,
                             n_outcome).to(device)

    def _make_optimizer(self, net, p):
        opt_cls = p["optimizer"]
        kwargs = {"lr": float(self.learning_rate), "weight_decay": p["weight_decay"]}
        if opt_cls in (torch.optim.SGD, torch.optim.RMSprop):
            kwargs["momentum"] = p["momentum"]
        return opt_cls(net.parameters(), **kwargs)

    # ------------------------------------------------------------ transform
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise not_fitted(self, "fit(X, t)")

    def _outputs(self, Xp) -> tuple[np.ndarray, np.ndarray]:
        """Bottlenecks (K, n, dim) and outputs (K, n, n_treatment + n_outcome) of all
        networks on prepared input."""
        n = Xp.shape[0]
        with torch_threads(self.n_threads):
            return predict_members(self.network_, Xp, next(self.network_.parameters()).device,
                                   n)

    def _forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        return self._outputs(self._prepare(X, fitting=False))

    def _logits(self, out: np.ndarray) -> np.ndarray:
        """Treatment logits averaged over the networks: (n, 1) or (n, K - 1) log-ratios."""
        lo = out[..., :self.network_.n_treatment].mean(axis=0)
        if lo.shape[1] == 1:
            return lo
        return lo[:, 1:] - lo[:, :1]

    def _prognostic(self, out: np.ndarray) -> np.ndarray:
        heads = out[..., self.network_.n_treatment:].mean(axis=0)
        return heads * self.y_scale_ + self.y_mean_

    def _select(self, out: np.ndarray, scores: np.ndarray | None = None) -> np.ndarray:
        """What ``output`` asks for, from the networks' outputs."""
        output = self._current_output()
        if output == "score":
            return scores[0]
        if output == "logit":
            return self._logits(out)
        if output == "propensity":
            p = _probabilities(self._logits(out))
            return p[:, None] if p.ndim == 1 else p
        if output == "prognostic":
            return self._prognostic(out)
        return np.column_stack([self._logits(out), self._prognostic(out)])

    def transform_members(self, X) -> np.ndarray:
        """``transform`` of each network alone, (n_networks, n, d): how much the score
        depends on the training randomness (estimators add the spread of the effect
        over the networks to its variance)."""
        scores, out = self._forward(X)
        return np.stack([self._select(out[k:k + 1], scores[k:k + 1])
                         for k in range(out.shape[0])])

    def balancing_score(self, X) -> np.ndarray:
        """The bottleneck ``b(x)``, shape (n, dim) (one network; with several, the
        first network's)."""
        return self._forward(X)[0][0]

    def propensity(self, X) -> np.ndarray:
        """The networks' propensity: ``P(T = classes_[1] | X)`` of shape (n,) for a
        binary treatment, ``P(T = classes_[k] | X)`` of shape (n, K) otherwise
        (averaged over the networks on the logit scale)."""
        return _probabilities(self._logits(self._forward(X)[1]))

    def logit(self, X) -> np.ndarray:
        """Logit of the propensity (n, 1); log-ratios to ``classes_[0]`` (n, K-1) otherwise."""
        return self._logits(self._forward(X)[1])

    def prognostic_score(self, X) -> np.ndarray:
        """The prognostic head (Hansen 2008): the predicted outcome under each treatment
        level, (n, K), averaged over the networks."""
        if not getattr(self, "prognostic_", False):
            self._check_fitted()
            raise InputError("this score has no prognostic head: fit it with the outcome, "
                             "fit(X, t, outcome=y)")
        return self._prognostic(self._forward(X)[1])

    def transform(self, X) -> np.ndarray:
        """What to match on (see ``output``); on new data, averaged over the networks."""
        scores, out = self._forward(X)
        return self._select(out, scores)

    def get_feature_names_out(self, input_features=None):
        self._check_fitted()
        logit = (["logit"] if self.classes_.size == 2
                 else [f"logit_{c}" for c in self.classes_[1:]])
        prog = [f"prognostic_{c}" for c in self.classes_]
        names = {"score": [f"nsm{j}" for j in range(self.dim_)],
                 "logit": logit, "prognostic": prog, "joint": logit + prog,
                 "propensity": (["propensity"] if self.classes_.size == 2
                                else [f"propensity_{c}" for c in self.classes_])}
        return np.array(names[self._current_output()], dtype=object)

    def __causalsm_tags__(self) -> dict:
        """What estimators need to know (see :func:`causalsm.scores.score_tags`): it
        learns from the outcome when given one, and its output then includes outcome
        predictions (unless ``output`` asks for the propensity or the bottleneck)."""
        learns = self.prognostic is not False
        if hasattr(self, "output_"):
            predicts = self._current_output() in ("joint", "prognostic")
        else:
            predicts = learns and self.output in ("auto", "joint", "prognostic")
        return {"uses_outcome": learns, "prognostic": predicts, "stochastic": True,
                "level_probabilities": self.output == "propensity"}

    # ---------------------------------------------------- persistence / pickle
    def __getstate__(self):
        state = self.__dict__.copy()
        if "network_" in state:          # always pickle the network on the CPU
            net = state["network_"]
            buf = io.BytesIO()
            torch.save(net, buf)
            buf.seek(0)
            state["network_"] = torch.load(buf, map_location="cpu", weights_only=False)
        return state

    def __setstate__(self, state):
        # saved before input_rank existed: such networks took the whole input
        state = {"input_rank": None, "image_shape": None, **state}
        if "network_" in state:
            state.setdefault("input_rank_", None)
            state.setdefault("image_shape_", None)
        self.__dict__.update(state)
        if "network_" in state:
            try:
                device = resolve_device(self.device)
            except InputError:
                warnings.warn(f"device={self.device!r} is not available here; the score "
                              "runs on the CPU", RuntimeWarning, stacklevel=2)
                device = torch.device("cpu")
            self.network_ = self.network_.to(device).eval()
            self.device_ = str(device)

    def save(self, path) -> None:
        """Save the (fitted or unfitted) transformer to ``path`` (``torch.save`` format).

        The file is a pickle: load only files you trust.  A custom ``encoder`` class
        must be importable where the file is loaded.
        """
        torch.save({"format": _FORMAT, "version": 2, "estimator": self}, path)

    @classmethod
    def load(cls, path, device: Any = None) -> "NeuralBalancingScore":
        """Load a transformer saved by :meth:`save`; ``device`` overrides where it runs.

        Examples
        --------
        >>> import os, tempfile
        >>> import numpy as np
        >>> X = np.random.default_rng(1).normal(size=(80, 3)); t = (X[:, 0] > 0).astype(int)
        >>> a = NeuralBalancingScore(epochs=3, random_state=0).fit(X, t)
        >>> path = os.path.join(tempfile.mkdtemp(), "nsm.pt")
        >>> a.save(path)
        >>> b = NeuralBalancingScore.load(path)
        >>> bool(np.array_equal(a.transform(X), b.transform(X)))
        True
        """
        try:
            payload = torch.load(path, map_location="cpu", weights_only=False)
        except FileNotFoundError:
            raise
        except Exception as err:             # truncated, corrupt or not a torch file at all
            raise InputError(f"{path} could not be read as a file written by "
                             f"NeuralBalancingScore.save (truncated or corrupt?): "
                             f"{type(err).__name__}: {err}") from None
        if not (isinstance(payload, dict) and payload.get("format") == _FORMAT):
            raise InputError(f"{path} is not a file written by NeuralBalancingScore.save")
        est = payload["estimator"]
        if device is not None:
            est.device = device
            if hasattr(est, "network_"):
                dev = resolve_device(device)
                est.network_ = est.network_.to(dev).eval()
                est.device_ = str(dev)
        return est


# ------------------------------------------------------------------ helpers
def _probabilities(logits: np.ndarray) -> np.ndarray:
    """Propensities from logits (n, 1) or log-ratios to the first level (n, K - 1)."""
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-logits[:, 0]))
    z = np.column_stack([np.zeros(logits.shape[0]), logits])
    z -= z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _outcome(y: Any, n: int, *, name: str = "outcome") -> np.ndarray:
    if isinstance(y, torch.Tensor):
        y = y.detach().cpu().numpy()
    values = pd.Series(np.asarray(y).ravel()) if not isinstance(y, pd.Series) else y
    if values.shape[0] != n:
        raise InputError(f"X has {n} rows but the {name} has {values.shape[0]}")
    if values.isna().any():
        raise InputError(f"'{name}' has {int(values.isna().sum())} missing value(s)")
    try:
        arr = values.to_numpy(dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise InputError(f"'{name}' must be numeric, got dtype {values.dtype}") from None
    if not np.isfinite(arr).all():
        raise InputError(f"'{name}' has {int((~np.isfinite(arr)).sum())} infinite value(s)")
    return arr


def _validation_split(codes: np.ndarray, fraction: float, rng: np.random.Generator,
                      classes: np.ndarray) -> np.ndarray:
    is_val = np.zeros(codes.size, dtype=bool)
    for level in range(classes.size):
        members = np.flatnonzero(codes == level)
        n_val = int(round(fraction * members.size))
        if n_val < 1 or n_val >= members.size:
            raise InputError(f"validation_fraction={fraction} leaves no training or no "
                             f"validation unit of level {_show(classes[level])} "
                             f"({members.size} units)")
        is_val[rng.choice(members, n_val, replace=False)] = True
    return is_val


def _take(X, rows: np.ndarray):
    """Rows of a CPU tensor, a CSR matrix or a streamed source (as a tensor)."""
    if isinstance(X, RowSource):
        return X.take(rows)
    if sp.issparse(X):
        return X[rows]
    return X[torch.from_numpy(np.asarray(rows, dtype=np.int64))]


def _subset(X, rows: np.ndarray):
    """Rows of a prepared input, still streamed when it is streamed."""
    if isinstance(X, RowSource):
        return X.subset(rows)
    return _take(X, rows)



class _GridFit:
    """Trains ``K`` networks for each ``(input_rank, input_l1)`` setting of a grid, those
    on the whole input and those on its principal components in one batched group each,
    and returns the best setting (lowest mean best validation loss) with its networks.

    Called once per phase of a fit; the random generators carry over between calls."""

    def __init__(self, owner, p, Xp, codes, yz, weights, basis, n_treatment, n_outcome,
                 device, val_given, rng, gen):
        self.owner, self.p, self.Xp, self.codes, self.yz = owner, p, Xp, codes, yz
        self.weights, self.basis, self.device, self.val_given = weights, basis, device, val_given
        self.n_treatment, self.n_outcome, self.rng, self.gen = n_treatment, n_outcome, rng, gen

    def __call__(self, grid, K):
        """``(setting, network, history, held-out mask or None, {setting: mean loss} or
        None)``; the network is still on the components when the setting has a rank."""
        owner, p = self.owner, self.p
        config = np.repeat(np.arange(len(grid)), K)
        held = None
        if self.val_given is None and owner.validation_fraction is not None:
            held = np.stack([_validation_split(self.codes, owner.validation_fraction,
                                               self.rng, owner.classes_)
                             for _ in config]).astype(np.float64)       # (members, n)
        whole = np.array([grid[c][0] is None for c in config])
        nets, histories, member_loss = {}, {}, np.empty(config.size)
        for on_components, group in ((False, whole), (True, ~whole)):
            if not group.any():
                continue
            settings = [grid[c] for c in config[group]]
            Xg, mask, val = self.Xp, None, self.val_given
            if on_components:
                Xg = _components(self.Xp, self.basis)
                mask = np.arange(self.basis.shape[1])[None, :] < np.array(
                    [k for k, _ in settings])[:, None]
                if val is not None:
                    val = replace(val, X=_components(val.X, self.basis))
            train = TrainData(Xg, self.codes, self.yz, self.weights,
                              None if held is None else 1.0 - held[group])
            if held is not None:
                val = TrainData(Xg, self.codes, self.yz, self.weights, held[group])
            net = owner._build(Xg, p, int(group.sum()), self.n_treatment, self.n_outcome,
                               self.device)
            history = train_members(
                net, owner._make_optimizer(net, p), train, val,
                Schedule(p["epochs"], owner.batch_size_, p["patience"], p["min_delta"],
                         bool(owner.restore_best_weights), p["outcome_weight"],
                         np.array([l1 for _, l1 in settings]), mask),
                self.gen, self.device, verbose=bool(owner.verbose))
            nets[on_components], histories[on_components] = net, history
            if len(grid) > 1:
                member_loss[group] = history["best_val_loss"]
        loss, best = None, 0
        if len(grid) > 1:                  # keep the networks of the best setting
            by_setting = member_loss.reshape(len(grid), K).mean(axis=1)
            best = int(np.argmin(by_setting))
            loss = dict(zip(grid, by_setting.tolist()))
        on_components = grid[best][0] is not None
        net, history = nets[on_components], histories[on_components]
        group = ~whole if on_components else whole
        keep = config[group] == best
        if not keep.all():
            net.keep_members(keep)
            for key in ("best_epoch", "n_epochs", "best_val_loss"):
                history[key] = [v for v, k_ in zip(history[key], keep) if k_]
            history["member_val_loss"] = [[v for v, k_ in zip(row, keep) if k_]
                                          for row in history["member_val_loss"]]
        return grid[best], net, history, None if held is None else held[config == best], loss


def _input_basis(Xp, rank: int, seed: int) -> np.ndarray:
    """``(p, rank)``: the top ``rank`` right singular vectors of the prepared input,
    scaled by one factor so that its first 20 components (all, if fewer) have mean unit
    variance over the rows.  (Scaled so that the first alone had unit variance, the
    components behind a dominant first one, such as the mean direction of uncentred
    counts, were learnt slowly: a 20-32% slower fit for the same estimates,
    ``benchmarks/README.md``.)"""
    from sklearn.utils.extmath import randomized_svd
    M = Xp if sp.issparse(Xp) else Xp.numpy()
    _, S, Vt = randomized_svd(M, rank, random_state=seed % 2 ** 32)
    top = np.sum(S[:20] ** 2)
    scale = np.sqrt(M.shape[0] * min(rank, 20) / top) if top > 0 else 1.0
    return np.ascontiguousarray(Vt.T * scale, dtype=np.float32)


def _components(Xp, basis: np.ndarray) -> torch.Tensor:
    """The prepared input's coordinates on ``basis``, a float32 tensor."""
    Z = Xp @ basis if sp.issparse(Xp) else Xp.numpy() @ basis
    return torch.from_numpy(np.ascontiguousarray(Z, dtype=np.float32))


def _image_param(shape) -> tuple[int, int, int] | None:
    """``image_shape`` checked: (height, width) or (channels, height, width) of positive
    integers, returned as (channels, height, width)."""
    if shape is None:
        return None
    ok = isinstance(shape, (tuple, list, np.ndarray)) and np.ndim(shape) == 1 \
        and len(shape) in (2, 3) and all(
        isinstance(v, Real) and not isinstance(v, bool) and np.isfinite(v)
        and float(v).is_integer() and v >= 1 for v in shape)      # R's c(8, 8) too
    if not ok:
        raise InputError(f"'image_shape' must be (height, width) or (channels, height, "
                         f"width) of positive integers, got {shape!r}")
    shape = tuple(int(v) for v in shape)
    return (1, *shape) if len(shape) == 2 else shape


def _dense(X) -> torch.Tensor:
    if sp.issparse(X):
        return torch.from_numpy(X.toarray())
    return X
