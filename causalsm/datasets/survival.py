"""Randomised survival trials shipped with lifelines, with optional induced confounding.

* :func:`load_rossi`: recidivism of 432 released prisoners, financial aid
  randomised (Rossi, Berk and Lenihan 1980); ``lifelines.datasets.load_rossi``.
* :func:`load_actg175`: the AIDS Clinical Trials Group study 175 (Hammer et al.
  1996), 2,139 HIV-infected adults randomised to four antiretroviral regimens;
  the ``ACTG175`` table of R's ``speff2trial``, read from the copy that the
  lifelines package ships (``lifelines/datasets/ACTG175.csv``; lifelines has no
  loader function for it).

Both are randomised, so the hazard ratio estimated on the full trial is an
experimental benchmark, as the NSW experiment is for LaLonde's data.
``confounding=gamma`` turns a trial into an observational study: every treated
unit is kept and each control is kept with probability
``expit(-gamma * r)``, ``r`` the standardised prognostic risk score (linear
predictor of a Cox model of the outcome on the covariates, fitted on the controls
of the full trial).  With ``gamma > 0`` low-risk controls are over-represented, so
a naive comparison makes the treatment look harmful.  Because the treated arm
is untouched and was randomised, its population is the trial population, and
the full-trial hazard ratio remains the benchmark for the ATT.
"""

from __future__ import annotations

import functools
from importlib import resources

import numpy as np
import pandas as pd

from causalsm.datasets._frame import as_generator, finalize

__all__ = ["load_actg175", "load_rossi"]

_ROSSI_COVARIATES = ("age", "race", "wexp", "mar", "paro", "prio")
#: Baseline covariates of ACTG 175 (``zprior`` is constant and ``strat`` is coded
#: from ``str2`` and ``preanti``; post-randomisation measurements are dropped).
_ACTG_COVARIATES = ("age", "wtkg", "hemo", "homo", "drugs", "karnof", "oprior", "z30",
                    "preanti", "race", "gender", "str2", "symptom", "cd40", "cd80")
_ACTG_COLUMNS = ("pidnum", "treat", "arms", "days", "cens") + _ACTG_COVARIATES + ("strat",)


@functools.lru_cache(maxsize=None)
def _rossi() -> pd.DataFrame:
    from lifelines.datasets import load_rossi as _lifelines_rossi

    df = _lifelines_rossi()
    return df[["week", "arrest", "fin", *_ROSSI_COVARIATES]].astype(np.int64)


@functools.lru_cache(maxsize=None)
def _actg175() -> pd.DataFrame:
    source = resources.files("lifelines.datasets").joinpath("ACTG175.csv")
    with source.open("rb") as fh:
        df = pd.read_csv(fh, index_col=0)
    return df[list(_ACTG_COLUMNS)].reset_index(drop=True)


@functools.lru_cache(maxsize=None)
def _cox_log_hr(key: tuple, duration: str, event: str, treatment: str) -> tuple[float, float]:
    """Log hazard ratio of ``treatment`` (Cox, Efron ties) and its SE, on the full trial."""
    from lifelines import CoxPHFitter

    df = _TRIALS[key[0]](*key[1:])
    fit = CoxPHFitter().fit(df[[duration, event, treatment]], duration, event)
    return float(fit.params_[treatment]), float(fit.standard_errors_[treatment])


@functools.lru_cache(maxsize=None)
def _risk_score(key: tuple, duration: str, event: str, treatment: str,
                covariates: tuple) -> np.ndarray:
    """Standardised linear predictor of a Cox model fitted on the controls."""
    from lifelines import CoxPHFitter

    df = _TRIALS[key[0]](*key[1:])
    controls = df.loc[df[treatment] == 0, [duration, event, *covariates]]
    fit = CoxPHFitter(penalizer=1e-4).fit(controls, duration, event)
    lp = df[list(covariates)].to_numpy(np.float64) @ fit.params_[list(covariates)].to_numpy()
    return (lp - lp.mean()) / lp.std()


def _trial_actg(arms) -> pd.DataFrame:
    df = _actg175()
    if arms is None:
        return df
    df = df.loc[df["arms"].isin(arms)].reset_index(drop=True)
    return df.assign(treat=(df["arms"] == arms[1]).astype(np.int64))


_TRIALS = {"rossi": _rossi, "actg175": _trial_actg}


def _subsample(df, key, duration, event, treatment, covariates, confounding, random_state):
    """Keep every treated unit and each control with probability expit(-gamma * risk)."""
    gamma = float(confounding)
    if not np.isfinite(gamma):
        raise ValueError(f"confounding must be a finite number; got {confounding!r}")
    if gamma == 0.0:
        return df
    risk = _risk_score(key, duration, event, treatment, tuple(covariates))
    rng = as_generator(random_state)
    keep_prob = 1.0 / (1.0 + np.exp(gamma * risk))
    keep = (df[treatment].to_numpy() == 1) | (rng.random(len(df)) < keep_prob)
    return df.loc[keep].reset_index(drop=True)


def load_rossi(*, confounding: float = 0.0, random_state=0) -> pd.DataFrame:
    """Rossi et al. (1980) recidivism trial: weeks to re-arrest after release.

    Financial aid (``fin``) was randomised among 432 released prisoners, followed
    for 52 weeks (``arrest`` = 1 if re-arrested, 0 if censored at week 52).

    Parameters
    ----------
    confounding : float, default 0.0
        Strength of the induced selection of controls (see the module notes):
        0 returns the full trial; ``gamma > 0`` keeps low-risk controls more often.
    random_state : None, int or numpy.random.Generator, default 0
        Seeds the subsampling (unused when ``confounding`` is 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``week`` (duration), ``arrest`` (event), ``fin`` (treatment),
        ``age``, ``race``, ``wexp``, ``mar``, ``paro``, ``prio``, all int64.
        ``attrs["true_effect"]["ATT"]`` is the experimental benchmark: the hazard
        ratio of ``fin`` by Cox regression on the full trial (its log and SE are in
        ``attrs["benchmark_log_hr"]`` and ``attrs["benchmark_log_hr_se"]``).

    Examples
    --------
    >>> from causalsm.datasets import load_rossi
    >>> df = load_rossi(); df.shape
    (432, 9)
    >>> df.attrs["duration"], df.attrs["event"], df.attrs["treatment"]
    ('week', 'arrest', 'fin')
    >>> round(df.attrs["true_effect"]["ATT"], 3)
    0.691
    >>> sub = load_rossi(confounding=1.5, random_state=1)
    >>> int(sub["fin"].sum()), len(sub) < 432
    (216, True)
    """
    key = ("rossi",)
    df = _rossi().copy()
    b, se = _cox_log_hr(key, "week", "arrest", "fin")
    df = _subsample(df, key, "week", "arrest", "fin", _ROSSI_COVARIATES, confounding,
                    random_state)
    sel = "" if confounding == 0 else f"; controls subsampled with confounding={confounding}"
    return finalize(
        df, name="rossi", treatment="fin", duration="week", event="arrest",
        covariates=_ROSSI_COVARIATES, true_effect={"ATT": np.exp(b)},
        effect_measure="hazard ratio",
        description=("Rossi et al. (1980) recidivism trial, financial aid randomised; "
                     "true_effect = full-trial Cox hazard ratio (experimental benchmark)"
                     + sel),
        benchmark_log_hr=b, benchmark_log_hr_se=se, confounding=float(confounding))


def load_actg175(arms: tuple[int, int] | None = None, *, confounding: float = 0.0,
                 random_state=0) -> pd.DataFrame:
    """AIDS Clinical Trials Group study 175 (Hammer et al. 1996).

    2,139 HIV-infected adults with CD4 counts of 200-500 were randomised to
    zidovudine (ZDV, arm 0), ZDV + didanosine (arm 1), ZDV + zalcitabine (arm 2) or
    didanosine alone (arm 3).  Outcome: days to the first of a > 50% decline in
    CD4 count, an AIDS-defining event or death (``cens`` = 1) or censoring.

    Parameters
    ----------
    arms : (int, int), optional
        ``(control_arm, treated_arm)``: keep only these two arms, ``treat`` = 1 for
        the second.  By default every unit is kept and ``treat`` is the trial's
        own indicator (1 = arms 1-3, 0 = ZDV monotherapy).
    confounding : float, default 0.0
        Strength of the induced selection of controls (see the module notes).
    random_state : None, int or numpy.random.Generator, default 0
        Seeds the subsampling (unused when ``confounding`` is 0).

    Returns
    -------
    pandas.DataFrame
        Columns ``pidnum``, ``treat``, ``arms``, ``days`` (duration), ``cens``
        (event indicator, 1 = event), the 15 baseline covariates (``age``,
        ``wtkg`` (float64), ``hemo``, ``homo``, ``drugs``, ``karnof``, ``oprior``,
        ``z30``, ``preanti``, ``race``, ``gender``, ``str2``, ``symptom``,
        ``cd40``, ``cd80``) and ``strat``; int64 except ``wtkg``.  The
        post-randomisation measurements of speff2trial's table (``offtrt``,
        ``cd420``, ``cd496``, ``r``, ``cd820``) and the constant ``zprior`` are
        left out.  ``attrs["true_effect"]["ATT"]`` is the full-trial Cox hazard
        ratio of ``treat`` (experimental benchmark).

    Examples
    --------
    >>> from causalsm.datasets import load_actg175
    >>> df = load_actg175(); df.shape
    (2139, 21)
    >>> df["arms"].value_counts().sort_index().tolist()
    [532, 522, 524, 561]
    >>> round(df.attrs["true_effect"]["ATT"], 2)
    0.53
    >>> two = load_actg175(arms=(0, 1)); len(two), int(two["treat"].sum())
    (1054, 522)
    """
    if arms is not None:
        if isinstance(arms, (str, bytes)):
            raise ValueError(f"arms must be a pair of arm numbers 0-3; got {arms!r}")
        try:
            arms = (int(arms[0]), int(arms[1]))
        except (TypeError, ValueError, IndexError):
            raise ValueError(f"arms must be a pair of arm numbers 0-3; got {arms!r}") from None
        if len(set(arms)) != 2 or not set(arms) <= {0, 1, 2, 3}:
            raise ValueError(f"arms must be two different arm numbers 0-3; got {arms!r}")
    key = ("actg175", arms)
    df = _trial_actg(arms).copy()
    b, se = _cox_log_hr(key, "days", "cens", "treat")
    df = _subsample(df, key, "days", "cens", "treat", _ACTG_COVARIATES, confounding,
                    random_state)
    which = ("arms 1-3 vs ZDV (arm 0)" if arms is None
             else f"arm {arms[1]} vs arm {arms[0]}")
    sel = "" if confounding == 0 else f"; controls subsampled with confounding={confounding}"
    return finalize(
        df, name="actg175", treatment="treat", duration="days", event="cens",
        covariates=_ACTG_COVARIATES, true_effect={"ATT": np.exp(b)},
        effect_measure="hazard ratio",
        description=(f"ACTG 175 HIV trial (Hammer et al. 1996), {which}; true_effect = "
                     "full-trial Cox hazard ratio (experimental benchmark)" + sel),
        benchmark_log_hr=b, benchmark_log_hr_se=se, confounding=float(confounding))
