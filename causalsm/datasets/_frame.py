"""Shared helpers of the data-set loaders: plain dtypes and the ``df.attrs`` convention.

Every loader and simulator of :mod:`causalsm.datasets` returns a
:class:`pandas.DataFrame` whose columns are plain ``float64`` or ``int64`` (no
pandas extension dtypes, no ``pd.NA``) and whose ``attrs`` describe the roles of
the columns::

    df.attrs = {
        "name": str,                  # the name list_datasets() shows
        "treatment": str,             # the treatment column (0/1, or the levels 0..K-1 or
                                      # 1..K of a treatment with several levels)
        "outcome": str,               # the outcome column (absent for survival data)
        "duration": str, "event": str,  # survival data only (event: 1 = event, 0 = censored)
        "covariates": [str, ...],     # the pre-treatment covariates
        "true_effect": {"ATT": float, "ATE": float, ...},   # only when known
        "true_means": {"level": float, ...},  # several levels: E[Y(level)] when known, for
        "true_means_target": str or None,     # the recipients of that level (None: all)
        "effect_measure": str,        # "difference" or "hazard ratio"
        "description": str,
    }
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

__all__ = ["finalize", "as_generator"]


def as_generator(random_state) -> np.random.Generator:
    """``None``, an int (or a sequence of ints) or a Generator -> a Generator.

    A Generator is used as it is (its state advances), so that callers can draw
    several samples from one stream.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        raise TypeError("random_state must be None, an int or a numpy.random.Generator; "
                        "the legacy RandomState is not supported")
    return np.random.default_rng(random_state)


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Cast every column to int64 or float64 (checking that nothing is lost)."""
    out = {}
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype):
            out[col] = np.array(s.to_numpy(dtype=np.int64), copy=True)
        elif pd.api.types.is_float_dtype(s.dtype):
            values = np.array(s.to_numpy(dtype=np.float64), copy=True)
            if np.isnan(values).any():  # pragma: no cover - guards the data files
                raise RuntimeError(f"column {col!r} has missing values")
            out[col] = values
        else:  # pragma: no cover - guards the loaders
            raise TypeError(f"column {col!r} has dtype {s.dtype}, expected a number")
    return pd.DataFrame(out, index=pd.RangeIndex(len(df)))


def finalize(df: pd.DataFrame, *, name: str, treatment: str, covariates: Iterable[str],
             description: str, outcome: str | None = None, duration: str | None = None,
             event: str | None = None, true_effect: Mapping[str, float] | None = None,
             effect_measure: str = "difference", **extra) -> pd.DataFrame:
    """Return ``df`` with plain dtypes, a RangeIndex and the ``attrs`` convention set.

    ``extra`` keys are added to ``attrs`` as they are (numbers and strings only).
    """
    out = _plain(df)
    covariates = [str(c) for c in covariates]
    for role, col in [("treatment", treatment), ("outcome", outcome), ("duration", duration),
                      ("event", event)] + [("covariate", c) for c in covariates]:
        if col is not None and col not in out.columns:  # pragma: no cover - guards loaders
            raise RuntimeError(f"{role} column {col!r} is not in the frame")
    attrs: dict = {"name": name, "treatment": treatment}
    if outcome is not None:
        attrs["outcome"] = outcome
    if duration is not None:
        attrs["duration"] = duration
        attrs["event"] = event
    attrs["covariates"] = covariates
    if true_effect is not None:
        attrs["true_effect"] = {str(k): float(v) for k, v in true_effect.items()}
    attrs["effect_measure"] = effect_measure
    attrs["description"] = description
    attrs.update(extra)
    out.attrs = attrs
    return out
