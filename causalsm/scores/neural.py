"""Neural balancing score: the network of neural score matching (NSM).

Clivio, Falck, Lehmann, Deligiannidis & Holmes (AISTATS 2022) train a propensity
classifier whose first layer is a narrow linear *bottleneck*::

    x -> [encoder] -> Linear(., dim) = b(x) -> act -> Linear(dim, 100) -> act
      -> Linear(100, 100) -> act -> Linear(100, 1) = logit e(x)

Because the propensity is a function of ``b(x)``, ``b`` is a balancing score
(Rosenbaum & Rubin 1983, Thm 2) when the classifier is right: a low-dimensional one,
finer than the propensity score itself.  ``transform`` returns ``b(x)`` (the
bottleneck's pre-activation output, as the authors' code) and units are then
matched on it.  With a treatment of more than two levels the head is a softmax
and ``b`` is a balancing score for the generalised propensity score (Imbens 2000).

The authors' code has a few defects that are *not* repeated here: its seed is set
after the network is built (so the seed does not control the initial weights), its
loss is ``log(sigmoid)`` (NaN once outputs saturate; we use the logits form) and its
early stopping keeps the last rather than the best weights (offered here as
``restore_best_weights``).
"""

from __future__ import annotations

import copy
import io
import warnings
from contextlib import contextmanager
from numbers import Real
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils import check_random_state

from .._torch import import_torch
from .._validation import InputError, check_array, check_int

torch = import_torch()          # with the OpenMP guard for R sessions (see causalsm._torch)
from torch import nn  # noqa: E402

__all__ = ["NeuralBalancingScore"]

_ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.01), "leakyrelu": lambda: nn.LeakyReLU(0.01),
    "relu": nn.ReLU, "elu": nn.ELU, "selu": nn.SELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
}
_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop}
_OUTPUTS = ("score", "propensity", "logit")
_EVAL_ROWS = 8192           # rows per forward pass in transform / validation loss
_FORMAT = "causalsm.NeuralBalancingScore"


# --------------------------------------------------------------------------- network
class _Network(nn.Module):
    """[encoder] -> flatten -> bottleneck (the score) -> act/dropout/hidden... -> logits."""

    def __init__(self, encoder: nn.Module | None, in_features: int, dim: int,
                 hidden: tuple[int, ...], activation, dropout: float, n_out: int):
        super().__init__()
        self.encoder = encoder
        self.bottleneck = nn.Linear(in_features, dim)
        layers: list[nn.Module] = []
        width = dim
        for h in hidden:
            layers += [activation(), _dropout(dropout), nn.Linear(width, h)]
            width = h
        layers += [activation(), _dropout(dropout), nn.Linear(width, n_out)]
        self.head = nn.Sequential(*layers)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        if self.encoder is not None:
            x = self.encoder(x)
        return x.reshape(x.shape[0], -1)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        return self.bottleneck(self.features(x))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = self.score(x)
        return b, self.head(b)


def _dropout(p: float) -> nn.Module:
    return nn.Dropout(p) if p > 0 else nn.Identity()


def _activation(spec: Any):
    if isinstance(spec, str):
        try:
            return _ACTIVATIONS[spec.lower()]
        except KeyError:
            raise InputError(f"unknown activation {spec!r}; use one of "
                             f"{', '.join(sorted(_ACTIVATIONS))} or an nn.Module class") from None
    if callable(spec):
        probe = spec()
        if not isinstance(probe, nn.Module):
            raise InputError("activation must build an nn.Module when called, e.g. nn.ReLU")
        return spec
    raise InputError(f"activation must be a name or an nn.Module class, got {spec!r}")


def _optimizer(spec: Any):
    if isinstance(spec, str):
        try:
            return _OPTIMIZERS[spec.lower()]
        except KeyError:
            raise InputError(f"unknown optimizer {spec!r}; use one of "
                             f"{', '.join(sorted(_OPTIMIZERS))} or a torch.optim class") from None
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        return spec
    raise InputError(f"optimizer must be a name or a torch.optim.Optimizer class, got {spec!r}")


def _resolve_device(device: Any) -> torch.device:
    if isinstance(device, torch.device):
        device = str(device)
    if not isinstance(device, str):
        raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(f"device={device!r} but no CUDA GPU is available; "
                             "use device='cpu' or 'auto'")
        return torch.device(device)
    raise InputError(f"device must be 'auto', 'cpu' or 'cuda', got {device!r}")


def _seed(random_state: Any) -> int:
    """An integer torch seed: the int itself, or one drawn from a numpy RNG / fresh entropy."""
    if random_state is None:
        return int(np.random.SeedSequence().generate_state(1, np.uint32)[0])
    if isinstance(random_state, Real) and not isinstance(random_state, bool):
        random_state = check_int(random_state, "random_state", minimum=None)  # R's 0 is 0.0
        if random_state < 0:
            raise InputError(f"random_state must be non-negative, got {random_state}")
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(0, 2 ** 31 - 1))
    return int(check_random_state(random_state).randint(0, 2 ** 31 - 1))


@contextmanager
def _threads(n: int | None):
    """Use ``n`` torch CPU threads inside the block, then restore the previous number."""
    if n is None:
        yield
        return
    n = check_int(n, "n_threads")
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# --------------------------------------------------------------------------- inputs
def _labels(t: Any, *, name: str = "treatment") -> np.ndarray:
    """Treatment labels as a 1-d numpy array (a copy), or :class:`InputError`."""
    if isinstance(t, torch.Tensor):
        t = t.detach().cpu().numpy()
    if isinstance(t, pd.DataFrame):
        if t.shape[1] != 1:
            raise InputError(f"'{name}' must be one column, got {t.shape[1]}")
        t = t.iloc[:, 0]
    if isinstance(t, pd.Series):
        if t.isna().any():
            raise InputError(f"'{name}' has {int(t.isna().sum())} missing value(s)")
        values = t.to_numpy(copy=True)
    else:
        values = np.array(t, copy=True)
        if values.ndim == 2 and values.shape[1] == 1:
            values = values[:, 0]
    if values.ndim != 1:
        raise InputError(f"'{name}' must be 1-dimensional, got shape {values.shape}")
    if pd.isna(values).any():
        raise InputError(f"'{name}' has {int(pd.isna(values).sum())} missing value(s)")
    if values.dtype == bool:
        values = values.astype(np.int64)
    return values


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
        raise InputError(f"'{name}' has only one value ({_show(classes[0])}): at least two "
                         "treatment levels are needed")
    counts = np.bincount(codes, minlength=classes.size)
    if counts.min() < 2:
        raise InputError(f"treatment level {_show(classes[int(np.argmin(counts))])} has "
                         f"{int(counts.min())} unit; at least 2 are needed")
    return classes, codes.astype(np.int64)


def _to_numpy(X: Any) -> Any:
    """Tensors to numpy (a copy); sparse matrices to float32 CSR; others unchanged."""
    if isinstance(X, torch.Tensor):
        return X.detach().cpu().numpy().copy()
    if sp.issparse(X):
        return sp.csr_matrix(X, dtype=np.float32, copy=True)
    return X


# ----------------------------------------------------------------------------- class
class NeuralBalancingScore(TransformerMixin, BaseEstimator):
    """Neural balancing score (neural score matching) as a scikit-learn transformer.

    A propensity network with a linear bottleneck of width ``dim`` right after the
    input (or after a user ``encoder``); ``transform`` returns the bottleneck, a
    ``dim``-dimensional balancing score to match on.  The defaults are the settings
    of every experiment of the NSM paper (Clivio et al. 2022): ``dim=5``, LeakyReLU,
    two hidden layers of 100, plain SGD with learning rate 0.01 and weight decay 0.01,
    batches of 100, 200 epochs, no dropout.

    Parameters
    ----------
    dim : int, default 5
        Width of the bottleneck, i.e. the dimension of the score.
    hidden_layer_sizes : tuple of int, default (100, 100)
        Widths of the hidden layers between the bottleneck and the output (depth is
        the length of the tuple; ``()`` gives a single activation then the output).
    activation : str or nn.Module class, default "leaky_relu"
        ``"leaky_relu"`` (slope 0.01), ``"relu"``, ``"elu"``, ``"selu"``, ``"gelu"``,
        ``"silu"``, ``"tanh"``, ``"sigmoid"``, or a class such as ``nn.Mish``.
    dropout : float, default 0.0
        Dropout probability after every activation.
    optimizer : str or torch.optim.Optimizer class, default "sgd"
        ``"sgd"``, ``"adam"``, ``"adamw"``, ``"rmsprop"`` or an optimizer class taking
        ``(params, lr=, weight_decay=)``.
    learning_rate : float, default 0.01
    momentum : float, default 0.0
        Momentum of SGD and RMSprop (ignored by the others).
    weight_decay : float, default 0.01
        L2 penalty passed to the optimizer (all parameters, as the paper).
    batch_size : int, default 100
    epochs : int, default 200
        Maximum number of passes over the training data.
    validation_fraction : float or None, default None
        Hold out this fraction of the units (stratified by treatment) to compute a
        validation loss every epoch; ``fit(..., validation_data=(X_val, t_val))``
        gives an explicit validation set instead.
    patience : int or None, default None
        Early stopping on the validation loss: training stops at the
        ``(patience + 1)``-th epoch in a row that does not improve on the best loss by
        more than ``min_delta`` (``0`` stops at the first such epoch, as the paper's
        News runs).  ``None`` trains for all ``epochs``.
    min_delta : float, default 0.0
    restore_best_weights : bool, default False
        Keep the weights of the epoch with the lowest validation loss rather than the
        last ones (the paper's code keeps the last).
    standardize : bool, default True
        Centre and scale each continuous column of a 2-d input by its mean and SD
        over the training units; columns whose values are all 0 or 1 are left as they
        are (as the paper).  Sparse inputs are only scaled (no centring, which would
        make them dense).  Inputs of more than two dimensions (images) are passed
        unchanged.
    encoder : nn.Module or None, default None
        A module applied to the input before the bottleneck (e.g. a small CNN for
        images); its output is flattened.  It is copied, never trained in place.
    reset_encoder : bool, default True
        Re-initialise the encoder's layers (their ``reset_parameters``) from
        ``random_state``, so that the seed fixes every initial weight.  Use ``False``
        for a pre-trained encoder.
    output : {"score", "propensity", "logit"}, default "score"
        What ``transform`` returns: the bottleneck score, the network's propensity
        (``(n, 1)``; ``(n, K)`` probabilities for ``K`` levels) or its logit (``(n, 1)``;
        ``(n, K - 1)`` log-ratios to the first level).  ``"propensity"`` gives the NN-PS
        baseline of the paper.
    device : {"cpu", "auto", "cuda"}, default "cpu"
        ``"auto"`` uses a CUDA GPU when one is available.
    random_state : int, numpy Generator or None
        Seeds the initial weights, dropout, the validation split and the batch order.
        The same seed gives the same score bit for bit on the CPU.
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
        The trained network.
    classes_ : ndarray
        Treatment levels; the propensity of a binary treatment is ``P(T = classes_[1])``.
    history_ : dict
        ``"loss"`` (mean training loss per epoch) and ``"val_loss"`` (empty without
        validation data).
    n_epochs_ : int
        Epochs actually run.
    best_epoch_ : int or None
        Epoch (1-based) of the lowest validation loss.
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
    >>> nsm = NeuralBalancingScore(dim=2, epochs=30, optimizer="adam",
    ...                            learning_rate=0.01, random_state=0).fit(X, t)
    >>> nsm.transform(X).shape
    (300, 2)
    >>> same = NeuralBalancingScore(dim=2, epochs=30, optimizer="adam",
    ...                             learning_rate=0.01, random_state=0).fit(X, t)
    >>> bool(np.array_equal(nsm.transform(X), same.transform(X)))
    True
    >>> float(np.corrcoef(nsm.propensity(X), X[:, 0] - X[:, 1])[0, 1]) > 0.9
    True
    """

    def __init__(self, dim: int = 5, hidden_layer_sizes: tuple = (100, 100),
                 activation: Any = "leaky_relu", dropout: float = 0.0,
                 optimizer: Any = "sgd", learning_rate: float = 0.01, momentum: float = 0.0,
                 weight_decay: float = 0.01, batch_size: int = 100, epochs: int = 200,
                 validation_fraction: float | None = None, patience: int | None = None,
                 min_delta: float = 0.0, restore_best_weights: bool = False,
                 standardize: bool = True, encoder: nn.Module | None = None,
                 reset_encoder: bool = True, output: str = "score", device: Any = "cpu",
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
        self.standardize = standardize
        self.encoder = encoder
        self.reset_encoder = reset_encoder
        self.output = output
        self.device = device
        self.random_state = random_state
        self.n_threads = n_threads
        self.verbose = verbose

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
            raise InputError(f"'output' must be one of {', '.join(_OUTPUTS)}, got {self.output!r}")
        if self.n_threads is not None:
            pos_int(self.n_threads, "n_threads")
        if self.encoder is not None and not isinstance(self.encoder, nn.Module):
            raise InputError(f"'encoder' must be a torch.nn.Module, got "
                             f"{type(self.encoder).__name__}")
        return {"dim": pos_int(self.dim, "dim"), "hidden": hidden,
                "activation": _activation(self.activation),
                "optimizer": _optimizer(self.optimizer),
                "momentum": nonneg(self.momentum, "momentum"),
                "weight_decay": nonneg(self.weight_decay, "weight_decay"),
                "batch_size": pos_int(self.batch_size, "batch_size"),
                "epochs": pos_int(self.epochs, "epochs", minimum=0),
                "patience": None if self.patience is None else pos_int(self.patience,
                                                                       "patience", 0),
                "min_delta": nonneg(self.min_delta, "min_delta")}

    # --------------------------------------------------------------- inputs
    def _prepare(self, X: Any, *, fitting: bool, name: str = "X", weights=None):
        """Validated float32 input: a CPU tensor, or a CSR matrix for sparse input.

        A numpy memmap or a Parquet path becomes a :class:`_RowSource` instead: rows
        are read (and scaled) batch by batch, never all at once.
        """
        X = _open_stream(X)
        if isinstance(X, _RowSource):
            return self._prepare_stream(X, fitting=fitting, name=name, weights=weights)
        X = _to_numpy(X)
        if sp.issparse(X):
            if X.ndim != 2:
                raise InputError(f"{name} must be 2-dimensional")
            if not np.isfinite(X.data).all():
                raise InputError(f"{name} has missing or infinite values")
            names = [f"x{j}" for j in range(X.shape[1])]
            shape = (X.shape[1],)
        elif isinstance(X, (pd.DataFrame, pd.Series)) or np.ndim(X) <= 2:
            if fitting or not hasattr(self, "feature_names_in_"):
                arr, names, _ = check_array(X, name=name)
            else:
                if isinstance(X, pd.DataFrame):
                    cols = [str(c) for c in X.columns]
                    if cols != self.feature_names_in_ and len(cols) == len(self.feature_names_in_):
                        diff = [c for c in cols if c not in self.feature_names_in_]
                        fitted = ", ".join(self.feature_names_in_[:10])
                        raise InputError(
                            f"{name} has columns {diff[:5] or cols[:5]} that differ from the "
                            f"columns the score was fitted on ({fitted})")
                arr, names, _ = check_array(X, name=name)
            shape = (arr.shape[1],)
            X = arr
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
            if self.encoder is None:
                raise InputError(f"{name} has shape {X.shape}: inputs of more than two "
                                 "dimensions need an `encoder` module")
        if fitting:
            self.__dict__.pop("feature_names_in_", None)
            self.input_shape_ = tuple(int(s) for s in shape)
            self.n_features_in_ = int(np.prod(shape))
            if names is not None:
                self.feature_names_in_ = list(names)
            self._fit_scaling(X, weights)
        elif tuple(shape) != self.input_shape_:
            raise InputError(f"{name} has shape {tuple(shape)} per unit; the score was "
                             f"fitted on {self.input_shape_}")
        return self._apply_scaling(X)

    def _prepare_stream(self, src: "_RowSource", *, fitting: bool, name: str, weights=None):
        """Check a streamed input chunk by chunk and attach the scaling to it."""
        if len(src.shape) != 2:
            raise InputError(f"{name} must be 2-dimensional to be streamed, got shape "
                             f"{src.shape}")
        d = src.shape[1]
        if fitting:
            self.__dict__.pop("feature_names_in_", None)
            self.input_shape_ = (int(d),)
            self.n_features_in_ = int(d)
            self.feature_names_in_ = [f"x{j}" for j in range(d)]
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
            if self.standardize:
                mean, sd, binary = src.column_stats(weights)
                self.mean_ = np.where(binary, 0.0, mean)
                self.scale_ = np.where(binary | (sd <= 1e-12 * np.maximum(1.0, np.abs(mean))),
                                       1.0, sd)
        return src.scaled(self.mean_, self.scale_)

    def _fit_scaling(self, X, weights=None) -> None:
        self.mean_ = self.scale_ = None
        if not self.standardize or (not sp.issparse(X) and X.ndim != 2):
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
            return sp.csr_matrix(X, dtype=np.float32)
        if self.scale_ is not None:
            X = (X - self.mean_) / self.scale_
        return torch.from_numpy(np.ascontiguousarray(X, dtype=np.float32))

    # ----------------------------------------------------------------- fit
    def fit(self, X, t, sample_weight=None, *, validation_data: tuple | None = None):
        """Train the network on ``(X, t)``.

        Parameters
        ----------
        X : DataFrame, ndarray, scipy sparse matrix or torch tensor, shape (n, ...)
            Covariates (2-d), or images/sequences of any shape with an ``encoder``.
        t : array-like, shape (n,)
            Treatment: 0/1, boolean, or any labels with two or more levels.
        sample_weight : array-like, shape (n,), optional
            Non-negative unit weights (e.g. survey weights): they weight the loss and
            the standardisation.
        validation_data : tuple (X_val, t_val), optional
            Units to compute the validation loss on (instead of ``validation_fraction``).

        Returns
        -------
        self
        """
        p = self._check_params()
        device = _resolve_device(self.device)
        seed = _seed(self.random_state)
        X = _open_stream(X)                # a memmap / Parquet file is streamed
        n_rows = X.shape[0] if hasattr(X, "shape") else len(X)
        classes, codes = _check_labels(t, n_rows)
        weights = _check_weights(sample_weight, n_rows)
        Xp = self._prepare(X, fitting=True, weights=weights)
        self.classes_ = classes
        n_out = 1 if classes.size == 2 else classes.size

        gen = torch.Generator().manual_seed(seed)
        val = None
        if validation_data is not None:
            if not (isinstance(validation_data, (tuple, list)) and len(validation_data) == 2):
                raise InputError("validation_data must be a tuple (X_val, t_val)")
            Xv, tv = validation_data
            nv = Xv.shape[0] if hasattr(Xv, "shape") else len(Xv)
            tv_codes = self._codes(tv, nv, name="validation treatment")
            val = (self._prepare(Xv, fitting=False, name="X_val"), tv_codes, None)
        elif self.validation_fraction is not None:
            rng = np.random.default_rng(seed)
            is_val = np.zeros(codes.size, dtype=bool)
            for k in range(classes.size):
                members = np.flatnonzero(codes == k)
                n_val = int(round(self.validation_fraction * members.size))
                if n_val < 1 or n_val >= members.size:
                    raise InputError(f"validation_fraction={self.validation_fraction} leaves "
                                     f"no training or no validation unit of level "
                                     f"{_show(classes[k])} ({members.size} units)")
                is_val[rng.choice(members, n_val, replace=False)] = True
            val = (_subset(Xp, np.flatnonzero(is_val)), codes[is_val],
                   None if weights is None else weights[is_val])
            Xp, codes = _subset(Xp, np.flatnonzero(~is_val)), codes[~is_val]
            weights = None if weights is None else weights[~is_val]
        if p["patience"] is not None and val is None:
            raise InputError("early stopping (patience) needs validation data: set "
                             "validation_fraction or pass validation_data")

        fork = [device.index or 0] if device.type == "cuda" else []
        with torch.random.fork_rng(devices=fork), _threads(self.n_threads):
            torch.manual_seed(seed)
            net = self._build(Xp, p, n_out, device)
            self._train(net, Xp, codes, weights, val, p, gen, device, n_out)
        net.eval()
        self.network_ = net
        self.device_ = str(device)
        self.random_seed_ = seed
        return self

    def _codes(self, t, n, *, name="treatment") -> np.ndarray:
        labels = _labels(t, name=name)
        if labels.shape[0] != n:
            raise InputError(f"X_val has {n} rows but the {name} has {labels.shape[0]}")
        bad = ~np.isin(labels, self.classes_)
        if bad.any():
            raise InputError(f"{name} has level(s) {sorted(map(str, np.unique(labels[bad])))[:5]}"
                             f" not seen in the training data ({list(self.classes_)})")
        return np.searchsorted(self.classes_, labels).astype(np.int64)

    def _build(self, Xp, p, n_out, device) -> _Network:
        encoder = None
        if self.encoder is not None:
            encoder = copy.deepcopy(self.encoder).to("cpu")
            if self.reset_encoder:
                for m in encoder.modules():
                    if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
                        m.reset_parameters()
            encoder.eval()
            with torch.no_grad():
                probe = _take(Xp, np.arange(min(2, Xp.shape[0])))
                in_features = int(np.prod(encoder(_dense(probe)).shape[1:]))
            encoder.train()
        else:
            in_features = self.n_features_in_
        return _Network(encoder, in_features, p["dim"], p["hidden"], p["activation"],
                        float(self.dropout), n_out).to(device)

    @staticmethod
    def _loss_fn(n_out, weighted: bool):
        """Mean loss, or the per-unit losses (reduced with the weights by the caller)."""
        reduction = "none" if weighted else "mean"
        return (nn.BCEWithLogitsLoss(reduction=reduction) if n_out == 1
                else nn.CrossEntropyLoss(reduction=reduction))

    def _target(self, codes, n_out, device):
        t = torch.from_numpy(codes).to(device)
        return t.to(torch.float32).unsqueeze(1) if n_out == 1 else t

    def _train(self, net, Xp, codes, weights, val, p, gen, device, n_out) -> None:
        opt_cls = p["optimizer"]
        kwargs = {"lr": float(self.learning_rate), "weight_decay": p["weight_decay"]}
        if opt_cls in (torch.optim.SGD, torch.optim.RMSprop):
            kwargs["momentum"] = p["momentum"]
        opt = opt_cls(net.parameters(), **kwargs)
        weighted = weights is not None
        loss_fn = self._loss_fn(n_out, weighted)
        sparse = sp.issparse(Xp)
        streamed = isinstance(Xp, _RowSource)      # rows read batch by batch
        Xdev = Xp if sparse or streamed else Xp.to(device)
        target = self._target(codes, n_out, device)
        wdev = (torch.from_numpy(weights.astype(np.float32)).to(device) if weighted
                else torch.ones(codes.size, device=device))
        n, bs = codes.size, p["batch_size"]
        denom = float(weights.sum()) if weighted else n
        history = {"loss": [], "val_loss": []}
        best, best_epoch, best_state, wait = np.inf, None, None, 0
        epochs_run = 0
        bar = None
        if self.verbose:
            from tqdm.auto import tqdm
            bar = tqdm(total=p["epochs"], desc="NeuralBalancingScore", unit="epoch")
        try:
            for epoch in range(1, p["epochs"] + 1):
                net.train()
                perm = torch.randperm(n, generator=gen)
                if streamed:             # the same batches, read through a DataLoader
                    batches = iter(Xdev.loader(perm.numpy(), bs))
                elif not sparse:         # one gather per epoch, then contiguous slices
                    perm_dev = perm.to(device)
                    Xe, te, we = Xdev[perm_dev], target[perm_dev], wdev[perm_dev]
                total = torch.zeros((), device=device)
                for start in range(0, n, bs):
                    if streamed:
                        idx = perm[start:start + bs].to(device)
                        xb = next(batches).to(device)
                        tb, wb = target[idx], wdev[idx]
                    elif sparse:
                        idx = perm[start:start + bs]
                        xb = _dense(Xdev[idx.numpy()]).to(device)
                        tb, wb = target[idx.to(device)], wdev[idx.to(device)]
                    else:
                        xb, tb = Xe[start:start + bs], te[start:start + bs]
                        wb = we[start:start + bs]
                    _, logits = net(xb)
                    if weighted:
                        wsum = (_per_unit(loss_fn(logits, tb)) * wb).sum()
                        loss = wsum / wb.sum().clamp_min(1e-12)
                    else:
                        loss = loss_fn(logits, tb)
                        wsum = loss * tb.shape[0]
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    total += wsum.detach()
                total = float(total)
                epochs_run = epoch
                history["loss"].append(total / denom)
                if not np.isfinite(history["loss"][-1]):
                    raise InputError(f"the training loss became {history['loss'][-1]} at epoch "
                                     f"{epoch}: lower the learning rate or standardize X")
                postfix = {"loss": f"{history['loss'][-1]:.4f}"}
                if val is not None:
                    vloss = self._eval_loss(net, val, n_out, device)
                    history["val_loss"].append(vloss)
                    postfix["val_loss"] = f"{vloss:.4f}"
                    if vloss < best - p["min_delta"]:
                        best, best_epoch, wait = vloss, epoch, 0
                        if self.restore_best_weights:
                            best_state = {k: v.detach().clone()
                                          for k, v in net.state_dict().items()}
                    else:
                        wait += 1
                if bar is not None:
                    bar.set_postfix(postfix)
                    bar.update(1)
                if p["patience"] is not None and wait > p["patience"]:
                    break
        finally:
            if bar is not None:
                bar.close()
        if best_state is not None:
            net.load_state_dict(best_state)
        self.history_ = history
        self.n_epochs_ = epochs_run
        self.best_epoch_ = best_epoch

    def _eval_loss(self, net, val, n_out, device) -> float:
        """(Weighted) mean loss over the validation units."""
        Xv, cv, wv = val
        loss_fn = self._loss_fn(n_out, weighted=True)
        w = np.ones(cv.size) if wv is None else wv
        net.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, cv.size, _EVAL_ROWS):
                rows = np.arange(start, min(start + _EVAL_ROWS, cv.size))
                xb = _dense(_take(Xv, rows)).to(device)
                _, logits = net(xb)
                losses = _per_unit(loss_fn(logits, self._target(cv[rows], n_out, device)))
                total += float(losses.double().cpu().numpy() @ w[rows])
        return total / float(w.sum())

    # ------------------------------------------------------------ transform
    def _check_fitted(self) -> None:
        if not hasattr(self, "network_"):
            raise InputError("this NeuralBalancingScore is not fitted yet; call fit(X, t) first")

    def _forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        self._check_fitted()
        Xp = self._prepare(X, fitting=False)
        net = self.network_
        net.eval()
        device = next(net.parameters()).device
        scores, logits = [], []
        with torch.no_grad(), _threads(self.n_threads):
            for start in range(0, Xp.shape[0], _EVAL_ROWS):
                rows = np.arange(start, min(start + _EVAL_ROWS, Xp.shape[0]))
                b, lo = net(_dense(_take(Xp, rows)).to(device))
                scores.append(b.cpu().numpy())
                logits.append(lo.cpu().numpy())
        if not scores:
            k = 1 if self.classes_.size == 2 else self.classes_.size
            return np.zeros((0, self.network_.bottleneck.out_features)), np.zeros((0, k))
        return (np.concatenate(scores).astype(np.float64),
                np.concatenate(logits).astype(np.float64))

    def balancing_score(self, X) -> np.ndarray:
        """The balancing score (the bottleneck's output), shape (n, dim)."""
        return self._forward(X)[0]

    def propensity(self, X) -> np.ndarray:
        """The network's propensity: ``P(T = classes_[1] | X)`` of shape (n,) for a
        binary treatment, ``P(T = classes_[k] | X)`` of shape (n, K) otherwise."""
        logits = self._forward(X)[1]
        if logits.shape[1] == 1:
            return 1.0 / (1.0 + np.exp(-logits[:, 0]))
        z = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=1, keepdims=True)

    def logit(self, X) -> np.ndarray:
        """Logit of the propensity (n, 1); log-ratios to ``classes_[0]`` (n, K-1) otherwise."""
        logits = self._forward(X)[1]
        if logits.shape[1] == 1:
            return logits
        return logits[:, 1:] - logits[:, :1]

    def transform(self, X) -> np.ndarray:
        """What to match on (see ``output``): by default the (n, dim) balancing score."""
        if self.output == "score":
            return self.balancing_score(X)
        if self.output == "logit":
            return self.logit(X)
        p = self.propensity(X)
        return p[:, None] if p.ndim == 1 else p

    def get_feature_names_out(self, input_features=None):
        self._check_fitted()
        if self.output == "score":
            k = self.network_.bottleneck.out_features
            return np.array([f"nsm{j}" for j in range(k)], dtype=object)
        if self.classes_.size == 2:
            return np.array([f"propensity_{self.output}"], dtype=object)
        levels = self.classes_ if self.output == "propensity" else self.classes_[1:]
        return np.array([f"{self.output}_{c}" for c in levels], dtype=object)

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
        self.__dict__.update(state)
        if "network_" in state:
            try:
                device = _resolve_device(self.device)
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
        torch.save({"format": _FORMAT, "version": 1, "estimator": self}, path)

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
        payload = torch.load(path, map_location="cpu", weights_only=False)
        if not (isinstance(payload, dict) and payload.get("format") == _FORMAT):
            raise InputError(f"{path} is not a file written by NeuralBalancingScore.save")
        est = payload["estimator"]
        if device is not None:
            est.device = device
            if hasattr(est, "network_"):
                dev = _resolve_device(device)
                est.network_ = est.network_.to(dev).eval()
                est.device_ = str(dev)
        return est


# ------------------------------------------------------------------ helpers
def _take(X, rows: np.ndarray):
    """Rows of a CPU tensor, a CSR matrix or a streamed source (as a tensor)."""
    if isinstance(X, _RowSource):
        return X.take(rows)
    if sp.issparse(X):
        return X[rows]
    return X[torch.from_numpy(np.asarray(rows, dtype=np.int64))]


def _per_unit(losses: torch.Tensor) -> torch.Tensor:
    """Per-unit losses as a 1-d tensor (BCE gives (b, 1), cross-entropy (b,))."""
    return losses.reshape(losses.shape[0])


def _check_weights(sample_weight: Any, n: int) -> np.ndarray | None:
    if sample_weight is None:
        return None
    w = np.array(_to_numpy(sample_weight), dtype=np.float64, copy=True).ravel()
    if w.shape[0] != n:
        raise InputError(f"sample_weight has {w.shape[0]} entries but X has {n} rows")
    if not np.isfinite(w).all() or (w < 0).any():
        raise InputError("sample_weight must be finite and non-negative")
    if w.sum() <= 0:
        raise InputError("sample_weight sums to zero")
    return w


def _dense(X) -> torch.Tensor:
    if sp.issparse(X):
        return torch.from_numpy(X.toarray())
    return X


# ------------------------------------------------------- data that is not in memory
_STREAM_BYTES = 1 << 25          # about 32 MB of rows per chunk when scanning a file


def _open_stream(X):
    """A :class:`_RowSource` for a numpy memmap or a Parquet path; anything else as is."""
    if isinstance(X, _RowSource):
        return X
    if isinstance(X, np.memmap):
        return _RowSource(X)
    if isinstance(X, (str, bytes)) or hasattr(X, "__fspath__"):
        import os
        path = os.fspath(X)
        path = path.decode() if isinstance(path, bytes) else path
        if str(path).endswith((".parquet", ".pq")):
            return _RowSource(_parquet_to_memmap(path))
        raise InputError(f"X is a path ({path!r}); only Parquet files (.parquet) can be "
                         "read: load other files yourself or pass a numpy memmap")
    return X


def _parquet_to_memmap(path: str) -> np.memmap:
    """Copy a Parquet file's numeric columns, batch by batch, into a temporary memmap."""
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ImportError("reading Parquet needs pyarrow: pip install pyarrow") from None
    import tempfile
    f = pq.ParquetFile(path)
    n, d = f.metadata.num_rows, f.schema_arrow.__len__()
    tmp = tempfile.TemporaryFile()           # removed when the memmap is collected
    out = np.memmap(tmp, dtype=np.float64, mode="w+", shape=(n, d))
    a = 0
    for batch in f.iter_batches(batch_size=max(1, _STREAM_BYTES // (8 * max(d, 1)))):
        try:
            block = np.column_stack([np.asarray(c.to_numpy(zero_copy_only=False),
                                                dtype=np.float64) for c in batch.columns])
        except (TypeError, ValueError) as err:
            raise InputError(f"the Parquet file {path!r} has a non-numeric column: "
                             f"{err}") from None
        out[a:a + block.shape[0]] = block
        a += block.shape[0]
    out.flush()
    return out


class _RowSource:
    """Rows of a memmap, scaled on the fly: what training streams batch by batch.

    Values are the same as the in-memory path gives: float64 rows, ``(x - mean_) /
    scale_``, then float32.
    """

    def __init__(self, data: np.ndarray, rows: np.ndarray | None = None, mean=None,
                 scale=None):
        self.data, self.rows, self.mean, self.scale = data, rows, mean, scale

    @property
    def shape(self) -> tuple:
        n = self.data.shape[0] if self.rows is None else self.rows.size
        return (n,) + tuple(self.data.shape[1:])

    def __len__(self) -> int:
        return self.shape[0]

    def scaled(self, mean, scale) -> "_RowSource":
        return _RowSource(self.data, self.rows, mean, scale)

    def subset(self, rows: np.ndarray) -> "_RowSource":
        rows = np.asarray(rows, dtype=np.int64)
        return _RowSource(self.data, rows if self.rows is None else self.rows[rows],
                          self.mean, self.scale)

    def _read(self, rows: np.ndarray) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        src = rows if self.rows is None else self.rows[rows]
        return np.asarray(self.data[src], dtype=np.float64).reshape(rows.size, -1)

    def take(self, rows: np.ndarray) -> torch.Tensor:
        x = self._read(rows)
        if self.scale is not None:
            x = (x - self.mean) / self.scale
        return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))

    def chunks(self):
        """``(start, rows)`` blocks of about 32 MB, unscaled float64, in row order."""
        n = self.shape[0]
        step = max(1, _STREAM_BYTES // (8 * max(int(np.prod(self.shape[1:])), 1)))
        for a in range(0, n, step):
            yield a, self._read(np.arange(a, min(a + step, n)))

    def column_stats(self, weights=None):
        """Mean, SD (ddof 0) and 0/1 flag of each column, as the in-memory path.

        Unweighted sums accumulate row after row, the order numpy uses for a column
        reduction of a 2-d array, so the values are bitwise those of ``X.mean(0)`` and
        ``X.std(0)`` (a single column, which numpy sums pairwise, is read whole).
        """
        d = self.shape[1]
        if d == 1 or weights is not None:
            if d == 1:
                X = self._read(np.arange(self.shape[0]))
            else:                        # weighted: chunked sums (equal up to rounding)
                w = weights / weights.sum()
                mean = sum(w[a:a + c.shape[0]] @ c for a, c in self.chunks())
                var = sum(w[a:a + c.shape[0]] @ (c - mean) ** 2 for a, c in self.chunks())
                binary = np.all([np.all((c == 0) | (c == 1), axis=0)
                                 for _, c in self.chunks()], axis=0)
                return mean, np.sqrt(np.maximum(var, 0.0)), binary
            if weights is None:
                mean, sd = X.mean(axis=0), X.std(axis=0)
            else:
                w = weights / weights.sum()
                mean = w @ X
                sd = np.sqrt(np.maximum(w @ (X - mean) ** 2, 0.0))
            return mean, sd, np.all((X == 0) | (X == 1), axis=0)
        n = self.shape[0]
        total, binary = np.zeros(d), np.ones(d, dtype=bool)
        for _, c in self.chunks():
            total = np.add.reduce(np.vstack([total[None], c]), axis=0)
            binary &= np.all((c == 0) | (c == 1), axis=0)
        mean = total / n
        sq = np.zeros(d)
        for _, c in self.chunks():
            sq = np.add.reduce(np.vstack([sq[None], (c - mean) ** 2]), axis=0)
        return mean, np.sqrt(sq / n), binary

    def loader(self, order: np.ndarray, batch_size: int):
        """A DataLoader yielding the rows ``order[i:i + batch_size]`` as float32 batches."""
        from torch.utils.data import DataLoader, Dataset

        source = self

        class _Batches(Dataset):
            def __len__(self):
                return -(-order.size // batch_size)

            def __getitem__(self, i):
                return source.take(order[i * batch_size:(i + 1) * batch_size])

        # Its own generator: a DataLoader draws a seed when iterated, which must not
        # consume the global torch RNG (dropout) of the in-memory path.
        return DataLoader(_Batches(), batch_size=None, shuffle=False, num_workers=0,
                          generator=torch.Generator().manual_seed(0))


def _subset(X, rows: np.ndarray):
    """Rows of a prepared input, still streamed when it is streamed."""
    if isinstance(X, _RowSource):
        return X.subset(rows)
    return _take(X, rows)
