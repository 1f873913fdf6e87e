"""Plots for balance diagnostics.

matplotlib is imported only when a plot is drawn, so importing :mod:`causalsm` stays
light; the functions work headless (e.g. with the ``Agg`` backend).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["love_plot"]

_STAT_LABELS = {
    "smd": "standardized mean difference",
    "var_ratio": "variance ratio",
    "ecdf_mean": "mean eCDF difference",
    "ecdf_max": "max eCDF difference (KS)",
}


def love_plot(table: pd.DataFrame, ax: Any = None, threshold: float | None = 0.1,
              abs: bool = True, *, stat: str = "smd",
              labels: tuple[str, str] = ("Before", "After")) -> Any:
    """Love plot: a balance statistic per covariate, before and after matching.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`causalsm.balance.balance_table` (or any frame indexed by
        covariate with ``<stat>_before`` and, optionally, ``<stat>_after`` columns).
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    threshold : float or None, default 0.1
        Position of the dashed vertical reference line(s); None draws none.  For a
        signed SMD (``abs=False``) lines are drawn at both ``-threshold`` and
        ``+threshold``.
    abs : bool, default True
        Plot absolute values of the statistic (ignored for ``stat="var_ratio"``).
    stat : {"smd", "var_ratio", "ecdf_mean", "ecdf_max"}, default "smd"
        Which statistic to plot.
    labels : (str, str), default ("Before", "After")
        Legend labels of the two point series.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from causalsm.balance import balance_table
    >>> from causalsm.plotting import love_plot
    >>> tab = balance_table([[1.0, 0], [2, 1], [3, 1], [2, 0], [4, 0], [6, 1]],
    ...                     [1, 1, 1, 0, 0, 0], weights=[1, 1, 1, 1, 1, 0])
    >>> ax = love_plot(tab)
    >>> [tick.get_text() for tick in ax.get_yticklabels()]
    ['x0', 'x1']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame (see balance_table), "
                         f"got {type(table).__name__}")
    if stat not in _STAT_LABELS:
        raise ValueError(f"unknown stat {stat!r}; use one of {', '.join(_STAT_LABELS)}")
    before_col, after_col = f"{stat}_before", f"{stat}_after"
    if before_col not in table.columns:
        raise ValueError(f"table has no column '{before_col}'; pass the output of "
                         "balance_table")
    take_abs = abs and stat != "var_ratio"

    def values(col: str) -> np.ndarray:
        v = table[col].to_numpy(dtype=np.float64)
        return np.abs(v) if take_abs else v

    if ax is None:
        import matplotlib.pyplot as plt
        height = max(2.5, 0.35 * len(table) + 1.2)
        _, ax = plt.subplots(figsize=(6.0, height))

    y = np.arange(len(table))[::-1]          # first covariate at the top
    ax.scatter(values(before_col), y, marker="o", facecolors="none",
               edgecolors="tab:gray", label=labels[0], zorder=3)
    if after_col in table.columns and np.isfinite(values(after_col)).any():
        ax.scatter(values(after_col), y, marker="o", color="tab:blue",
                   label=labels[1], zorder=4)
    if threshold is not None:
        lines = [threshold]
        if stat == "smd" and not take_abs:
            lines.append(-threshold)
        for x in lines:
            ax.axvline(x, linestyle="--", color="black", linewidth=1, zorder=1)
    if stat == "smd" and not take_abs:
        ax.axvline(0.0, color="gray", linewidth=0.8, zorder=1)
    elif stat == "var_ratio":
        ax.axvline(1.0, color="gray", linewidth=0.8, zorder=1)
    ax.set_yticks(y)
    ax.set_yticklabels([str(i) for i in table.index])
    ax.set_ylim(-0.75, len(table) - 0.25)
    name = _STAT_LABELS[stat]
    ax.set_xlabel(f"absolute {name}" if take_abs else name)
    ax.grid(axis="y", color="0.9", zorder=0)
    ax.legend(loc="best", frameon=False)
    return ax
