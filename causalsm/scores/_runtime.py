"""Torch settings shared by the neural models (:class:`~causalsm.NeuralBalancingScore`,
:class:`~causalsm.scores.ScoreMatchingDensity`): activation and optimizer names, the
device, the integer seed drawn from a ``random_state`` and the number of CPU threads."""

from __future__ import annotations

from contextlib import contextmanager
from numbers import Real
from typing import Any

import numpy as np
from sklearn.utils import check_random_state

from .._torch import import_torch
from .._validation import InputError, check_int

torch = import_torch()          # with the OpenMP guard for R sessions (see causalsm._torch)
from torch import nn  # noqa: E402

__all__ = ["activation", "optimizer", "resolve_device", "torch_seed", "torch_threads"]

_ACTIVATIONS = {
    "leaky_relu": lambda: nn.LeakyReLU(0.01), "leakyrelu": lambda: nn.LeakyReLU(0.01),
    "relu": nn.ReLU, "elu": nn.ELU, "selu": nn.SELU, "gelu": nn.GELU, "silu": nn.SiLU,
    "tanh": nn.Tanh, "sigmoid": nn.Sigmoid,
}
_OPTIMIZERS = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
               "rmsprop": torch.optim.RMSprop}

def activation(spec: Any):
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


def optimizer(spec: Any):
    if isinstance(spec, str):
        try:
            return _OPTIMIZERS[spec.lower()]
        except KeyError:
            raise InputError(f"unknown optimizer {spec!r}; use one of "
                             f"{', '.join(sorted(_OPTIMIZERS))} or a torch.optim class") from None
    if isinstance(spec, type) and issubclass(spec, torch.optim.Optimizer):
        return spec
    raise InputError(f"optimizer must be a name or a torch.optim.Optimizer class, got {spec!r}")


def resolve_device(device: Any) -> torch.device:
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


def torch_seed(random_state: Any) -> int:
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
def torch_threads(n: int | None):
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
