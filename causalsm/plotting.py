"""Plots: balance (love plot, score overlap), comparisons of methods, survival curves,
sensitivity to hidden bias, exposure-response curves.

matplotlib is imported only when a plot is drawn, so importing :mod:`causalsm` stays
light; the functions work headless (e.g. with the ``Agg`` backend) and return the
Axes they drew on, to be styled further or saved with ``ax.figure.savefig(...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["love_plot", "plot_comparison", "plot_score_overlap", "plot_sensitivity",
           "plot_survival", "love_plot_grid", "plot_comparison_grid",
           "plot_exposure_response"]

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


def _new_axes(ax: Any, figsize: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt
    _, ax = plt.subplots(figsize=figsize)
    return ax


def plot_comparison(table: pd.DataFrame, truth: float | None = None, ax: Any = None) -> Any:
    """Estimates of several methods with their confidence intervals.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`causalsm.compare` (columns ``method``, ``estimate``,
        ``ci_lower``, ``ci_upper``); methods whose estimate is NaN (failed or
        skipped) keep their row, marked "n/a".
    truth : float, optional
        Draws a dashed vertical line at the true (or benchmark) effect; default
        ``table.attrs["truth"]`` when :func:`~causalsm.compare` knew it.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import pandas as pd
    >>> from causalsm.plotting import plot_comparison
    >>> tab = pd.DataFrame({"method": ["psm", "nsm"], "estimate": [1.0, 2.0],
    ...                     "ci_lower": [0.0, 1.5], "ci_upper": [2.0, 2.5]})
    >>> ax = plot_comparison(tab, truth=1.8)
    >>> [tick.get_text() for tick in ax.get_yticklabels()]
    ['psm', 'nsm']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    if not isinstance(table, pd.DataFrame):
        raise ValueError(f"table must be a pandas DataFrame (see causalsm.compare), got "
                         f"{type(table).__name__}")
    missing = [c for c in ("method", "estimate", "ci_lower", "ci_upper")
               if c not in table.columns]
    if missing:
        raise ValueError(f"table has no column(s) {', '.join(missing)}; pass the output of "
                         "causalsm.compare")
    if truth is None:
        truth = table.attrs.get("truth")
    ax = _new_axes(ax, (6.5, max(2.5, 0.45 * len(table) + 1.2)))
    est = table["estimate"].to_numpy(dtype=np.float64)
    lo = table["ci_lower"].to_numpy(dtype=np.float64)
    hi = table["ci_upper"].to_numpy(dtype=np.float64)
    y = np.arange(len(table))[::-1]           # first method at the top
    ok = np.isfinite(est)
    has_ci = ok & np.isfinite(lo) & np.isfinite(hi)
    ax.hlines(y[has_ci], lo[has_ci], hi[has_ci], color="tab:blue", linewidth=2, zorder=2)
    ax.scatter(est[ok], y[ok], color="tab:blue", zorder=3,
               label=f"estimate and {_level(table)} CI")
    if truth is not None and np.isfinite(truth):
        ax.axvline(float(truth), linestyle="--", color="tab:red", linewidth=1.2, zorder=1,
                   label=f"truth / benchmark ({float(truth):,.4g})")
    for yy in y[~ok]:
        ax.annotate("n/a", (0.01, yy), xycoords=("axes fraction", "data"),
                    va="center", color="gray")
    ax.set_yticks(y)
    ax.set_yticklabels([str(m) for m in table["method"]])
    ax.set_ylim(-0.75, len(table) - 0.25)
    estimand = table.attrs.get("estimand") or (str(table["estimand"].iloc[0])
                                               if "estimand" in table.columns and len(table)
                                               else "effect")
    ax.set_xlabel(f"estimated {estimand}")
    ax.grid(axis="x", color="0.9", zorder=0)
    ax.legend(loc="best", frameon=False, fontsize="small")
    return ax


def _level(table: pd.DataFrame) -> str:
    return "95%" if "alpha" not in table.attrs else f"{100 * (1 - table.attrs['alpha']):g}%"


def plot_score_overlap(score_values: Any, t: Any, ax: Any = None, *, weights: Any = None,
                       bins: int = 30, labels: tuple[str, str] = ("control", "treated")
                       ) -> np.ndarray:
    """Overlap of a score between the arms: one histogram panel per score dimension.

    Parameters
    ----------
    score_values : array-like of shape (n,) or (n, k), or DataFrame
        The score (e.g. ``est.balancing_score_.transform(X)`` or a propensity); a DataFrame's
        column names title the panels.
    t : array-like of shape (n,)
        Treatment indicator, 0/1 or boolean.
    ax : matplotlib.axes.Axes or sequence of k Axes, optional
        Where to draw; by default a new figure with one panel per dimension.
    weights : array-like of shape (n,), optional
        Unit weights, e.g. ``est.matches_.weights`` for the overlap after matching
        (units with weight 0 drop out).
    bins : int, default 30
        Histogram bins, shared by both arms in each panel.
    labels : (str, str)
        Legend labels of the control and treated arms.

    Returns
    -------
    numpy.ndarray of matplotlib.axes.Axes
        One Axes per dimension.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from causalsm.plotting import plot_score_overlap
    >>> rng = np.random.default_rng(0)
    >>> t = np.repeat([0, 1], 50)
    >>> axes = plot_score_overlap(rng.normal(size=(100, 2)) + t[:, None], t)
    >>> len(axes), axes[0].get_title()
    (2, 'score 1')
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    names = None
    if isinstance(score_values, pd.DataFrame):
        names = [str(c) for c in score_values.columns]
    S = np.asarray(score_values, dtype=np.float64)
    if S.ndim == 1:
        S = S[:, None]
    if S.ndim != 2:
        raise ValueError(f"score_values must be 1- or 2-dimensional, got shape {S.shape}")
    t = np.asarray(t).astype(float).ravel()
    if t.shape[0] != S.shape[0]:
        raise ValueError(f"score_values has {S.shape[0]} rows but t has {t.shape[0]}")
    if not np.isin(t, (0, 1)).all():
        raise ValueError("t must be 0/1 (or boolean)")
    w = np.ones(S.shape[0]) if weights is None else np.asarray(weights, dtype=np.float64)
    if w.shape != t.shape:
        raise ValueError(f"weights has {w.shape[0]} entries but t has {t.shape[0]}")
    k = S.shape[1]
    names = names or (["score"] if k == 1 else [f"score {j + 1}" for j in range(k)])
    if ax is None:
        import matplotlib.pyplot as plt
        ncol = min(k, 3)
        nrow = int(np.ceil(k / ncol))
        fig, grid = plt.subplots(nrow, ncol, figsize=(3.6 * ncol, 2.8 * nrow), squeeze=False)
        axes = grid.ravel()
        for extra in axes[k:]:
            fig.delaxes(extra)
        axes = axes[:k]
    else:
        axes = np.atleast_1d(np.asarray(ax, dtype=object)).ravel()
        if axes.size != k:
            raise ValueError(f"the score has {k} dimension(s) but {axes.size} Axes were given")
    for j, a in enumerate(axes):
        col = S[:, j]
        finite = np.isfinite(col) & (w > 0)
        edges = np.histogram_bin_edges(col[finite], bins=bins)
        for arm, color in ((0, "tab:gray"), (1, "tab:blue")):
            sel = finite & (t == arm)
            if sel.any():
                a.hist(col[sel], bins=edges, weights=w[sel], density=True, alpha=0.5,
                       color=color, label=labels[arm])
        a.set_title(names[j])
        a.set_yticks([])
    axes[0].set_ylabel("density")
    axes[0].legend(loc="best", frameon=False, fontsize="small")
    if ax is None:
        axes[0].figure.tight_layout()
    return np.asarray(axes, dtype=object)


def plot_survival(durations: Any, events: Any, arm: Any, weights: Any = None,
                  ax: Any = None, *, labels: tuple[str, str] = ("control", "treated"),
                  ci: bool | None = None) -> Any:
    """Kaplan-Meier curves of the two arms, optionally weighted (e.g. matched arms).

    Parameters
    ----------
    durations : array-like of shape (n,)
        Follow-up times.
    events : array-like of shape (n,)
        1 if the event was observed, 0 if censored.
    arm : array-like of shape (n,)
        Treatment indicator, 0/1 or boolean.
    weights : array-like of shape (n,), optional
        Unit weights, e.g. matching weights ``est.matches_.weights``: each arm's
        curve is the weighted Kaplan-Meier estimator (lifelines'
        ``KaplanMeierFitter(weights=...)``); units with weight 0 are left out.
    ax : matplotlib.axes.Axes, optional
        Axes to draw on; a new figure is created when None.
    labels : (str, str)
        Legend labels of the control and treated arms.
    ci : bool, optional
        Draw lifelines' pointwise confidence bands; default only without weights
        (with weights lifelines' Greenwood bands ignore the matching).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from causalsm.plotting import plot_survival
    >>> ax = plot_survival([5, 8, 12, 3, 4, 9], [1, 0, 1, 1, 1, 0], [1, 1, 1, 0, 0, 0])
    >>> [line.get_label() for line in ax.get_lines()][:2]
    ['control', 'treated']
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    import warnings

    from lifelines import KaplanMeierFitter

    d = np.asarray(durations, dtype=np.float64).ravel()
    e = np.asarray(events, dtype=np.float64).ravel()
    a = np.asarray(arm, dtype=np.float64).ravel()
    w = np.ones(d.shape[0]) if weights is None else \
        np.asarray(weights, dtype=np.float64).ravel()
    for name, v in (("events", e), ("arm", a), ("weights", w)):
        if v.shape != d.shape:
            raise ValueError(f"{name} has {v.shape[0]} entries but durations has {d.shape[0]}")
    if not (np.isfinite(d).all() and (d >= 0).all()):
        raise ValueError("durations must be finite and non-negative")
    if not np.isin(e, (0, 1)).all():
        raise ValueError("events must be 0/1 (1 = event observed)")
    if not np.isin(a, (0, 1)).all():
        raise ValueError("arm must be 0/1 (or boolean)")
    if not (np.isfinite(w).all() and (w >= 0).all()):
        raise ValueError("weights must be finite and non-negative")
    show_ci = (weights is None) if ci is None else bool(ci)
    ax = _new_axes(ax, (6.0, 4.0))
    for level, color in ((0, "tab:gray"), (1, "tab:blue")):
        sel = (a == level) & (w > 0)
        if not sel.any():
            raise ValueError(f"the {labels[level]} arm has no unit with positive weight")
        kmf = KaplanMeierFitter(label=labels[level])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")       # lifelines warns on non-integer weights
            kmf.fit(d[sel], e[sel], weights=w[sel])
        kmf.plot_survival_function(ax=ax, ci_show=show_ci, color=color)
    ax.set_xlabel("time")
    ax.set_ylabel("survival probability")
    ax.set_ylim(0.0, 1.02)
    return ax


def plot_sensitivity(result: Any, ax: Any = None, *, show_lower: bool = False) -> Any:
    """The upper bound on the p-value against Gamma, from a Rosenbaum sensitivity analysis.

    Parameters
    ----------
    result : causalsm.sensitivity.SensitivityResult
        From ``EffectResult.sensitivity()``, ``MatchResult.sensitivity(y)`` or
        :func:`causalsm.sensitivity.rosenbaum_bounds`.
    ax : matplotlib.axes.Axes, optional
    show_lower : bool
        Also the lower bound at the Gammas of the table.

    Returns
    -------
    matplotlib.axes.Axes
        Gamma on a log scale; a dashed line at the level ``alpha`` and a dotted one at
        the critical Gamma.
    """
    ax = _new_axes(ax, (6.0, 4.0))
    if result._curve is not None:
        g = np.unique(np.concatenate([np.geomspace(1.0, max(float(np.max(result.gamma)), 2.0),
                                                   60), result.gamma]))
        ax.plot(g, [result._curve(x) for x in g], color="tab:blue",
                label="upper bound on the p-value")
    ax.plot(result.gamma, result.p_upper, "o", color="tab:blue", ms=4,
            label=None if result._curve is not None else "upper bound on the p-value")
    if show_lower:
        ax.plot(result.gamma, result.p_lower, "s", color="tab:gray", ms=4, mfc="none",
                label="lower bound")
    ax.axhline(result.alpha, color="tab:red", ls="--", lw=1,
               label=f"level {100 * result.alpha:g}%")
    crit = result.critical_gamma
    if np.isfinite(crit) and crit > 1:
        ax.axvline(crit, color="k", ls=":", lw=1, label=f"critical Gamma {crit:.2f}")
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(result.gamma)
    ax.set_xticklabels([f"{g:g}" for g in result.gamma], fontsize=8)
    ax.set_xlabel("Gamma (hidden bias in the odds of treatment within matched sets)")
    ax.set_ylabel("p-value")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title(f"{result.details.get('statistic_name', '')}, {result.design}", fontsize=9)
    ax.legend(fontsize=8, frameon=False)
    return ax


# ------------------------------------------------ treatments with several levels
def _grid(n: int, ncols: int, size: tuple[float, float]):
    import matplotlib.pyplot as plt
    ncols = max(1, min(ncols, n))
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(size[0] * ncols, size[1] * nrows),
                             squeeze=False, layout="constrained")
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    return fig, axes.ravel()[:n]


def love_plot_grid(table: pd.DataFrame, ncols: int = 3, **kwargs) -> np.ndarray:
    """One love plot per comparison of a multi-level balance table.

    Parameters
    ----------
    table : pandas.DataFrame
        Output of :func:`causalsm.balance.balance_table` for a treatment with several
        levels (indexed by ``(comparison, covariate)``).
    ncols : int
        Panels per row.
    **kwargs
        Passed to :func:`love_plot` (``threshold``, ``stat``...).

    Returns
    -------
    ndarray of matplotlib.axes.Axes, one per comparison.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from causalsm.balance import balance_table
    >>> tab = balance_table(pd.DataFrame({"x": [0.0, 1, 2, 3, 4, 5]}),
    ...                     ["a", "a", "b", "b", "c", "c"], comparisons="pairwise")
    >>> axes = love_plot_grid(tab)
    >>> [ax.get_title() for ax in axes]
    ['b vs a', 'c vs a', 'c vs b']
    >>> import matplotlib.pyplot as plt; plt.close(axes[0].figure)
    """
    if not isinstance(table.index, pd.MultiIndex) or "comparison" not in table.index.names:
        raise ValueError("table must be a multi-level balance table (indexed by comparison "
                         "and covariate); for two groups use love_plot")
    comps = list(dict.fromkeys(table.index.get_level_values("comparison")))
    n_cov = len(table) // len(comps)
    _, axes = _grid(len(comps), ncols, (4.5, max(2.5, 0.35 * n_cov + 1.2)))
    for ax, comp in zip(axes, comps):
        love_plot(table.xs(comp, level="comparison"), ax=ax, **kwargs)
        ax.set_title(comp)
    return axes


def plot_comparison_grid(table: pd.DataFrame, ncols: int = 3) -> np.ndarray:
    """:func:`plot_comparison` per contrast of a multi-level :func:`~causalsm.compare` table.

    Each panel shows the methods' estimates of one contrast with their intervals, and
    the true or benchmark value when the table has a ``truth`` column.

    Returns
    -------
    ndarray of matplotlib.axes.Axes, one per contrast.
    """
    if "contrast" not in table.columns:
        raise ValueError("table must be a multi-level comparison (with a 'contrast' column); "
                         "for two levels use plot_comparison")
    contrasts = list(dict.fromkeys(table["contrast"]))
    n_methods = len(table) // max(1, len(contrasts))
    _, axes = _grid(len(contrasts), ncols, (4.5, max(2.5, 0.45 * n_methods + 1.2)))
    for ax, c in zip(axes, contrasts):
        sub = table[table["contrast"] == c]
        truth = None
        if "truth" in sub.columns and np.isfinite(sub["truth"].to_numpy(float)).any():
            truth = float(sub["truth"].dropna().iloc[0])
        plot_comparison(sub.reset_index(drop=True), truth=truth, ax=ax)
        ax.set_title(c)
        ax.set_xlabel(f"estimated {sub['estimand'].iloc[0]}")
    return axes


def _curve_truth(truth: Any, x: np.ndarray) -> np.ndarray | None:
    if truth is None:
        return None
    if callable(truth):
        return np.asarray(truth(x), dtype=np.float64)
    values = np.asarray(truth, dtype=np.float64)
    if values.shape != x.shape:
        raise ValueError(f"truth must be a callable or {x.size} values at the exposures, got "
                         f"shape {values.shape}")
    return values


def plot_exposure_response(result: Any, ax: Any = None, *, truth: Any = None,
                           band: bool = True, label: str | None = None,
                           color: str | None = None) -> Any:
    """An exposure-response curve with its pointwise interval and simultaneous band.

    Parameters
    ----------
    result : ExposureResponseResult or DataFrame
        From :func:`causalsm.exposure_response`, or its ``to_frame()`` (columns
        ``exposure``, ``estimate``, ``ci_lower``, ``ci_upper`` and optionally
        ``band_lower``, ``band_upper``).
    ax : matplotlib.axes.Axes, optional
    truth : callable or array-like, optional
        The true curve (e.g. :func:`causalsm.datasets.causalgps_erf`), drawn dashed.
    band : bool
        Draw the simultaneous band (dotted) as well as the pointwise interval (shaded).
    label, color : str, optional
        Legend label and colour of the curve (to overlay several on one Axes).

    Returns
    -------
    matplotlib.axes.Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> frame = pd.DataFrame({"exposure": [0.0, 1.0, 2.0], "estimate": [0.0, 1.0, 4.0],
    ...                       "ci_lower": [-1.0, 0.0, 3.0], "ci_upper": [1.0, 2.0, 5.0]})
    >>> ax = plot_exposure_response(frame, truth=lambda w: w ** 2)
    >>> len(ax.lines), ax.get_xlabel()
    (2, 'exposure')
    >>> import matplotlib.pyplot as plt; plt.close(ax.figure)
    """
    frame = result if isinstance(result, pd.DataFrame) else result.to_frame()
    missing = [c for c in ("exposure", "estimate", "ci_lower", "ci_upper")
               if c not in frame.columns]
    if missing:
        raise ValueError(f"result has no column(s) {', '.join(missing)}; pass an "
                         "ExposureResponseResult or its to_frame()")
    x = frame["exposure"].to_numpy(dtype=np.float64)
    ax = _new_axes(ax, (6.5, 4.2))
    alpha = getattr(result, "alpha", 0.05)
    level = f"{100 * (1 - alpha):g}%"
    line, = ax.plot(x, frame["estimate"], color=color, linewidth=2,
                    label=label or "estimated curve")
    c = line.get_color()
    lo, hi = frame["ci_lower"].to_numpy(float), frame["ci_upper"].to_numpy(float)
    if np.isfinite(lo).any():
        ax.fill_between(x, lo, hi, color=c, alpha=0.2, linewidth=0,
                        label=f"{level} pointwise interval" if label is None else None)
    if band and {"band_lower", "band_upper"} <= set(frame.columns) \
            and np.isfinite(frame["band_lower"]).any():
        ax.plot(x, frame["band_lower"], color=c, linestyle=":", linewidth=1.2,
                label=f"{level} simultaneous band" if label is None else None)
        ax.plot(x, frame["band_upper"], color=c, linestyle=":", linewidth=1.2)
    true = _curve_truth(truth, x)
    if true is not None:
        ax.plot(x, true, color="black", linestyle="--", linewidth=1.2, label="true curve")
    ax.set_xlabel(getattr(result, "treatment", "exposure"))
    ax.set_ylabel(f"E[{getattr(result, 'outcome', 'Y')}(w)]")
    ax.grid(color="0.92")
    ax.legend(loc="best", frameon=False, fontsize="small")
    return ax
