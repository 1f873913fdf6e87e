"""Data with a treatment of several levels: ACTG 175's four arms, and simulated designs.

:func:`simulate_multilevel` draws the design of Yang et al. (2016) as R's
``multilevelMatching`` simulates it, or a four-level design with limited overlap, with
known effects.

ACTG 175 as a four-arm study of a continuous outcome, with optional induced confounding.

The AIDS Clinical Trials Group study 175 (Hammer et al. 1996) randomised 2,139
HIV-infected adults to zidovudine (ZDV, arm 0), ZDV + didanosine (arm 1), ZDV +
zalcitabine (arm 2) or didanosine alone (arm 3).  The outcome here is ``cd420``, the
CD4 count at 20 +/- 5 weeks (cells/mm^3), the outcome of the covariate-adjustment
analyses of Tsiatis, Davidian, Zhang & Lu (2008, *Stat. Med.* 27:4658-4677) on the
same table (R's ``speff2trial::ACTG175``, read from the copy that lifelines ships).

Because the arms were randomised, the arm means of ``cd420`` on the full trial are
experimental benchmarks of the mean potential outcomes ``E[Y(k)]``.
``confounding=gamma`` turns the trial into an observational study in the way
:func:`~causalsm.datasets.load_actg175` does for two arms: every ZDV (arm 0) unit is
kept, and a unit of arm ``k`` = 1, 2, 3 is kept with probability
``expit(-gamma * s_k * r)``, with ``r`` the standardised prognostic score (least-squares
prediction of ``cd420`` from the covariates, fitted on the ZDV arm) and
``s = (1, 0.5, -1)``: ZDV + ddI keeps patients of poor prognosis, ddI alone those of
good prognosis.  The ZDV arm is untouched and randomised, so it still represents the
trial population, and the full-trial differences of arm means remain the benchmarks
of the contrasts averaged over the units that received ZDV (``target = 0``).
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd

from causalsm.datasets._frame import as_generator, finalize
from causalsm.datasets.survival import _ACTG_COVARIATES

__all__ = ["load_actg175_multiarm", "simulate_multilevel", "ACTG175_ARMS"]

#: Arm number -> regimen.
ACTG175_ARMS = {0: "ZDV", 1: "ZDV+ddI", 2: "ZDV+ddC", 3: "ddI"}
_SELECTION = np.array([0.0, 1.0, 0.5, -1.0])      # s_k of the module notes, arm 0 untouched


@functools.lru_cache(maxsize=None)
def _trial() -> pd.DataFrame:
    source = resources.files("lifelines.datasets").joinpath("ACTG175.csv")
    with source.open("rb") as fh:
        df = pd.read_csv(fh, index_col=0)
    return df[["pidnum", "arms", "cd420", *_ACTG_COVARIATES]].reset_index(drop=True)


@functools.lru_cache(maxsize=None)
def _prognostic_score() -> np.ndarray:
    df = _trial()
    X = np.column_stack([np.ones(len(df)), df[list(_ACTG_COVARIATES)].to_numpy(np.float64)])
    zdv = df["arms"].to_numpy() == 0
    beta = np.linalg.lstsq(X[zdv], df["cd420"].to_numpy(np.float64)[zdv], rcond=None)[0]
    r = X @ beta
    return (r - r.mean()) / r.std()


def load_actg175_multiarm(*, confounding: float = 1.0, random_state=0) -> pd.DataFrame:
    """ACTG 175's four arms with the CD4 count at week 20 as the outcome.

    Parameters
    ----------
    confounding : float, default 1.0
        Strength of the induced selection (see the module notes); 0 returns the whole
        trial, randomised.
    random_state : None, int or numpy.random.Generator, default 0
        Seeds the selection (unused when ``confounding`` is 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``pidnum``, ``arms`` (the treatment: 0 ZDV, 1 ZDV+ddI, 2 ZDV+ddC,
        3 ddI), ``cd420`` (the outcome) and the 15 baseline covariates of
        :func:`~causalsm.datasets.load_actg175`; int64 except ``cd420`` and ``wtkg``.
        ``attrs`` has the roles of the columns, ``level_names`` (arm -> regimen),
        ``true_means`` (arm -> full-trial mean of ``cd420``, the randomised benchmark,
        with ``true_means_se``) and ``true_means_target``: the level whose recipients
        those means describe in this sample (``"0"`` with confounding, as only the ZDV
        arm is kept whole; ``None`` for the full trial, where they describe everyone).
        ``estimand`` and ``target`` give the comparison the benchmark supports.

    Examples
    --------
    >>> from causalsm.datasets import load_actg175_multiarm
    >>> df = load_actg175_multiarm()
    >>> df["arms"].value_counts().sort_index().tolist()
    [532, 272, 257, 272]
    >>> {k: round(v, 1) for k, v in df.attrs["true_means"].items()}
    {'0': 336.1, '1': 403.2, '2': 372.0, '3': 374.3}
    >>> full = load_actg175_multiarm(confounding=0)
    >>> len(full), full.attrs["true_means_target"]
    (2139, None)
    """
    gamma = float(confounding)
    if not np.isfinite(gamma):
        raise ValueError(f"confounding must be a finite number; got {confounding!r}")
    trial = _trial()
    arms = trial["arms"].to_numpy()
    y = trial["cd420"].to_numpy(np.float64)
    means = {str(k): float(y[arms == k].mean()) for k in range(4)}
    ses = {str(k): float(y[arms == k].std(ddof=1) / np.sqrt((arms == k).sum()))
           for k in range(4)}
    df = trial.copy()
    if gamma != 0.0:
        rng = as_generator(random_state)
        keep_prob = 1.0 / (1.0 + np.exp(gamma * _SELECTION[arms] * _prognostic_score()))
        keep = (arms == 0) | (rng.random(len(df)) < keep_prob)
        df = df.loc[keep].reset_index(drop=True)
    df["cd420"] = df["cd420"].astype(np.float64)
    sel = ("" if gamma == 0 else
           f"; arms 1-3 subsampled on prognosis with confounding={gamma:g} (arm 0 whole)")
    return finalize(
        df, name="actg175_multiarm", treatment="arms", outcome="cd420",
        covariates=_ACTG_COVARIATES, effect_measure="difference",
        description=("ACTG 175 HIV trial (Hammer et al. 1996), four randomised regimens "
                     "(0 ZDV, 1 ZDV+ddI, 2 ZDV+ddC, 3 ddI); outcome CD4 count at week 20; "
                     "true_means = randomised full-trial arm means" + sel),
        level_names={str(k): v for k, v in ACTG175_ARMS.items()}, true_means=means,
        true_means_note="differences of the randomised full-trial arm means",
        true_means_se=ses, true_means_target=None if gamma == 0 else "0",
        estimand="ATE" if gamma == 0 else "ATT", target=None if gamma == 0 else 0,
        confounding=gamma)


# --------------------------------------------------------------------- simulations
_FOUR_SELECTION = np.array([[0.3, 1.0, -0.5, 0.5, 0.5],      # intercept, x1..x4; level 1
                            [-0.2, -1.0, 1.0, 0.0, 0.5],     # level 2
                            [0.0, 0.5, 1.0, -0.7, -0.5]])    # level 3
_FOUR_SHIFT = np.array([0.0, 1.0, 2.0, 3.0])
_FOUR_MODIFIER = np.array([0.0, 0.5, -0.5, 1.0])      # effect modification by x1
_FOUR_CURVE = np.array([0.0, 0.0, 0.5, -0.5])         # level-specific curvature in x2


def simulate_multilevel(n: int = 1000, design: str = "yang2016", *, selection: float = 1.0,
                        shifts=(0.0, 1.0, 3.0), random_state=None) -> pd.DataFrame:
    """Simulated data with a treatment of several levels and known effects.

    ``design="yang2016"``: the law that R's ``multilevelMatching`` uses for its
    ``simulated_data`` (``data_raw/simulate_data.R``), sampled at random (not 100 per
    level): ``(X1, X2, X3)`` normal with covariance ``[[2, 1, -1], [1, 1, -0.5],
    [-1, -0.5, 1]]``, ``X4 ~ U(-3, 3)``, ``X5 ~ chi2(1)``, ``X6 ~ Bernoulli(0.5)``;
    levels 1, 2, 3 with ``P(W = w | X)`` multinomial-logit in
    ``eta_2 = 0.1 (X1^2 + X2 + X3 + X4 + X5 + X6)`` and
    ``eta_3 = 0.1 (X1 + X2^2 + X3^2 + X4 + X5 + X6)`` (both times ``selection``; the
    GPS is not linear in X); ``Y(1) = X1 + X2 + X3 + X4 + (X5 - 1) + (X6 - 0.5)``,
    ``Y(2) = 2X1 + 3X2 + X3 + 2X4 + 2(X5 - 1) + 2(X6 - 0.5)``, ``Y(3) = 3X1 + X2 + 2X3
    - X4 - (X5 - 1) - (X6 - 0.5)``, plus ``shifts`` and one N(0, 1) noise shared by
    the three.  Every ``Y(w) - shift_w`` has mean 0, so ``E[Y(w)] = shift_w``.

    ``design="four_levels"``: levels 0-3; ``x1, x2 ~ N(0, 1)``, ``x3 ~ U(-2, 2)``,
    ``x4 ~ Bernoulli(0.5)``; the GPS is multinomial-logit and linear in the covariates
    (slopes times ``selection``; at 1 about one unit in ten has a GPS below 0.0125 for
    some level: limited overlap); ``Y(k) = 1 + x1 + x2 + x3 / 2 + x4 + c_k
    + m_k x1 + q_k (x2^2 - 1) + e`` with ``c = (0, 1, 2, 3)``, ``m = (0, 0.5, -0.5, 1)``,
    ``q = (0, 0, 0.5, -0.5)`` and ``e ~ N(0, 1)``: heterogeneous effects,
    ``E[Y(k)] = 1.5 + c_k``.  (``shifts`` is not used.)

    Returns
    -------
    pandas.DataFrame
        Columns ``w`` (the treatment), ``y`` (the outcome), the covariates, and
        ``mu_<level>``: each unit's conditional mean of ``Y(level)`` given ``X``
        (``mu_a - mu_b`` averaged over a set of units is that set's conditional average
        effect).  ``attrs``: the roles of the columns and ``true_means`` (level -> E[Y]).

    Examples
    --------
    >>> from causalsm.datasets import simulate_multilevel
    >>> df = simulate_multilevel(2000, random_state=0)
    >>> sorted(df["w"].unique().tolist()), df.attrs["true_means"]
    ([1, 2, 3], {'1': 0.0, '2': 1.0, '3': 3.0})
    >>> four = simulate_multilevel(500, "four_levels", random_state=0)
    >>> four.attrs["covariates"], four.attrs["true_means"]["3"]
    (['x1', 'x2', 'x3', 'x4'], 4.5)
    """
    rng = as_generator(random_state)
    n = int(n)
    s = float(selection)
    if design == "yang2016":
        shifts = np.asarray(shifts, dtype=np.float64)
        if shifts.shape != (3,):
            raise ValueError(f"shifts must hold 3 numbers, got {shifts!r}")
        cov = np.array([[2.0, 1.0, -1.0], [1.0, 1.0, -0.5], [-1.0, -0.5, 1.0]])
        x13 = rng.multivariate_normal(np.zeros(3), cov, size=n)
        x4 = rng.uniform(-3, 3, n)
        x5 = rng.chisquare(1, n)
        x6 = rng.binomial(1, 0.5, n).astype(np.float64)
        x1, x2, x3 = x13.T
        eta = s * 0.1 * np.column_stack([np.zeros(n), x1 ** 2 + x2 + x3 + x4 + x5 + x6,
                                         x1 + x2 ** 2 + x3 ** 2 + x4 + x5 + x6])
        mu = np.column_stack([
            x1 + x2 + x3 + x4 + (x5 - 1) + (x6 - 0.5),
            2 * x1 + 3 * x2 + x3 + 2 * x4 + 2 * (x5 - 1) + 2 * (x6 - 0.5),
            3 * x1 + x2 + 2 * x3 - x4 - (x5 - 1) - (x6 - 0.5)]) + shifts
        X = np.column_stack([x1, x2, x3, x4, x5, x6])
        names = [f"X{j}" for j in range(1, 7)]
        levels = np.array([1, 2, 3])
        true = shifts
    elif design == "four_levels":
        x1, x2 = rng.normal(size=(2, n))
        x3 = rng.uniform(-2, 2, n)
        x4 = rng.binomial(1, 0.5, n).astype(np.float64)
        X = np.column_stack([x1, x2, x3, x4])
        D = np.column_stack([np.ones(n), X])
        slopes = _FOUR_SELECTION.copy()
        slopes[:, 1:] *= s
        eta = np.column_stack([np.zeros(n), D @ slopes.T])
        base = 1.0 + x1 + x2 + x3 / 2 + x4
        mu = (base[:, None] + _FOUR_SHIFT + _FOUR_MODIFIER * x1[:, None]
              + _FOUR_CURVE * (x2[:, None] ** 2 - 1))
        names = ["x1", "x2", "x3", "x4"]
        levels = np.arange(4)
        true = 1.5 + _FOUR_SHIFT
    else:
        raise ValueError(f"design must be 'yang2016' or 'four_levels', got {design!r}")
    p = np.exp(eta - eta.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    code = (p.cumsum(axis=1) > rng.random((n, 1))).argmax(axis=1)
    noise = rng.normal(size=n)
    y = mu[np.arange(n), code] + noise
    df = pd.DataFrame(X, columns=names)
    df.insert(0, "y", y)
    df.insert(0, "w", levels[code].astype(np.int64))
    for j, lev in enumerate(levels):
        df[f"mu_{lev}"] = mu[:, j]
    return finalize(df, name=f"multilevel_{design}", treatment="w", outcome="y",
                    covariates=names, effect_measure="difference",
                    description=f"simulated multi-level design {design!r}, "
                                f"selection={s:g}",
                    true_means={str(lev): float(v) for lev, v in zip(levels, true)},
                    true_means_target=None, true_means_note="the simulation's true contrasts")
