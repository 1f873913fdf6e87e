"""ACTG 175 as a four-arm study of a continuous outcome, with optional induced confounding.

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

__all__ = ["load_actg175_multiarm", "ACTG175_ARMS"]

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
        true_means_se=ses, true_means_target=None if gamma == 0 else "0",
        estimand="ATE" if gamma == 0 else "ATT", target=None if gamma == 0 else 0,
        confounding=gamma)
