"""IHDP: Hill (2011)'s semi-synthetic benchmark on the Infant Health and Development Program.

The IHDP was a randomised trial of intensive child care and home visits for
low-birth-weight, premature infants.  Hill (2011) made an observational study of
it by removing the treated children of non-white mothers (985 -> 747 children,
139 treated), kept 25 covariates (6 continuous, 19 binary) and simulated the
outcomes from known response surfaces, so the true effects are known.

* :func:`load_ihdp` simulates response surface A or B from the bundled
  covariates (``data/ihdp_sim.csv``; provenance in ``data/README.md``).
* :func:`load_ihdp_npci` reads the widely used ``ihdp_npci_<r>.csv``
  replications (CEVAE, CFRNet and the neural score matching paper), which are
  surface B draws made with V. Dorie's ``npci`` code; the 50 of the paper come with
  a clone of the repository (``datasets/ihdp_npci/``).

The two agree: the bundled covariates, standardised and coded as below, equal
the covariate columns of the npci files (to 2e-9), row by row.
"""

from __future__ import annotations

import functools
import re
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from causalsm.datasets._frame import finalize

__all__ = ["IHDP_COVARIATES", "load_ihdp", "load_ihdp_npci"]

_SIM_FILE = "ihdp_sim.csv"
#: Hill's 25 covariates, in the order of the npci files (x1 .. x25), as named in the source.
_SOURCE_COVARIATES = (
    "bw", "b.head", "preterm", "birth.o", "nnhealth", "momage",
    "sex", "twin", "b.marr", "mom.lths", "mom.hs", "mom.scoll", "cig", "first", "booze",
    "drugs", "work.dur", "prenatal", "site1", "site2", "site3", "site4", "site5", "site6",
    "site7",
)
#: The covariate columns of :func:`load_ihdp` (dots of the source names become underscores).
IHDP_COVARIATES = tuple(c.replace(".", "_") for c in _SOURCE_COVARIATES)
_CONTINUOUS = IHDP_COVARIATES[:6]
_FIRST = IHDP_COVARIATES.index("first")   # 13: x14 of the npci files, coded 1/2 there

_SURFACE_SEED = {"A": 1, "B": 2}


@functools.lru_cache(maxsize=None)
def _covariates() -> tuple[pd.DataFrame, np.ndarray]:
    """Hill's 747 children: raw covariates (float64 frame) and treatment (int64)."""
    source = resources.files("causalsm.datasets").joinpath("data").joinpath(_SIM_FILE)
    with source.open("rb") as fh:
        raw = pd.read_csv(fh)
    keep = ~((raw["treat"] == 1) & (raw["momwhite"] == 0))   # Hill: drop treated, non-white mother
    raw = raw.loc[keep].reset_index(drop=True)
    x = raw[list(_SOURCE_COVARIATES)].astype(np.float64)
    x.columns = list(IHDP_COVARIATES)
    return x, raw["treat"].to_numpy(dtype=np.int64)


def _standardized(x: pd.DataFrame) -> pd.DataFrame:
    """Continuous covariates centred and divided by their SD (ddof=1), as npci does."""
    out = x.copy()
    for c in _CONTINUOUS:
        v = out[c].to_numpy()
        out[c] = (v - v.mean()) / v.std(ddof=1)
    return out


def _surface_matrix(x_std: pd.DataFrame) -> np.ndarray:
    """The npci design matrix: standardised covariates with ``first`` coded 1/2 (x14)."""
    m = x_std.to_numpy(dtype=np.float64, copy=True)
    m[:, _FIRST] += 1.0
    return m


def _simulate_surface(surface: str, m: np.ndarray, t: np.ndarray, rng: np.random.Generator):
    """Noise-free surfaces mu0, mu1 and the potential outcomes y0, y1."""
    n, p = m.shape
    if surface == "A":
        beta = rng.choice([0.0, 1.0, 2.0, 3.0, 4.0], size=p + 1,
                          p=[0.5, 0.2, 0.15, 0.1, 0.05])
        mu0 = beta[0] + m @ beta[1:]
        mu1 = mu0 + 4.0
    else:
        beta0 = rng.choice(np.linspace(-1.0, 1.0, 9))
        beta = rng.choice([0.0, 0.1, 0.2, 0.3, 0.4], size=p, p=[0.6, 0.1, 0.1, 0.1, 0.1])
        mu0 = np.exp(beta0 + (m + 0.5) @ beta)
        mu1 = beta0 + m @ beta
        omega = np.mean(mu1[t == 1] - mu0[t == 1]) - 4.0
        mu1 = mu1 - omega
    y0 = mu0 + rng.normal(size=n)
    y1 = mu1 + rng.normal(size=n)
    return mu0, mu1, y0, y1


def _effects(t: np.ndarray, mu0: np.ndarray, mu1: np.ndarray) -> dict:
    tau = mu1 - mu0
    return {"ATT": tau[t == 1].mean(), "ATE": tau.mean(), "ATC": tau[t == 0].mean()}


def load_ihdp(surface: str = "B", replication: int = 1, *, standardize: bool = True
              ) -> pd.DataFrame:
    """Simulate one replication of Hill (2011)'s IHDP response surface A or B.

    The covariates and treatment are those of Hill's observational IHDP sample
    (747 children, 139 treated).  With ``X`` the 25 covariates (continuous ones
    standardised, ``first`` coded 1/2 as in the npci files) and ``tau = 4``:

    * surface A (constant effect): ``mu0 = b0 + X b``, ``mu1 = mu0 + 4``, the 26
      coefficients drawn from (0, 1, 2, 3, 4) with probabilities
      (0.5, 0.2, 0.15, 0.1, 0.05) (intercept included, as EconML's
      ``ihdp_surface_A``);
    * surface B (heterogeneous effect): ``mu0 = exp(b0 + (X + 0.5) b)``,
      ``mu1 = b0 + X b - omega``, the 25 slopes drawn from (0, .1, .2, .3, .4)
      with probabilities (0.6, .1, .1, .1, .1), the intercept ``b0`` uniform on
      (-1, -0.75, ..., 1) with no offset, and ``omega`` chosen so that the mean of
      ``mu1 - mu0`` over the treated (Hill's CATT) is exactly 4.  This is
      V. Dorie's ``npci`` implementation (``examples/ihdp_sim/data.R``), which
      made the ``ihdp_npci`` files;

    and ``Y(a) = mu_a + N(0, 1)`` independently for both arms.

    Parameters
    ----------
    surface : {"A", "B"}, default "B"
        Hill's response surface.
    replication : int, default 1
        Non-negative replication number; it seeds the coefficients and the noise
        (the same number always gives the same data; surfaces A and B use
        different streams).
    standardize : bool, default True
        Return the six continuous covariates standardised (mean 0, SD 1 with
        ddof=1, as in the npci files); False returns them in their units (birth
        weight in grams, ...).  The surfaces always use the standardised values.

    Returns
    -------
    pandas.DataFrame
        747 rows; columns ``treat`` (int64), ``y`` (factual outcome), ``y_cf``
        (counterfactual), ``mu0``, ``mu1`` (noise-free surfaces), then the 25
        covariates of :data:`IHDP_COVARIATES` (continuous ones float64, binary ones
        int64, ``first`` coded 0/1).  ``attrs["true_effect"]`` holds the
        conditional (in-sample, noise-free) effects: ATT (= CATT = 4), ATE and ATC,
        means of ``mu1 - mu0``.

    Examples
    --------
    >>> from causalsm.datasets import load_ihdp
    >>> df = load_ihdp("B", replication=1)
    >>> df.shape, int(df["treat"].sum())
    ((747, 30), 139)
    >>> round(df.attrs["true_effect"]["ATT"], 10)
    4.0
    >>> a = load_ihdp("A", 3)
    >>> bool(((a["mu1"] - a["mu0"] - 4).abs() < 1e-12).all())
    True
    """
    if not isinstance(surface, str) or surface.upper() not in _SURFACE_SEED:
        raise ValueError(f"surface must be 'A' or 'B'; got {surface!r}")
    surface = surface.upper()
    if isinstance(replication, (bool, np.bool_)) or not isinstance(
            replication, (int, np.integer)) or replication < 0:
        raise ValueError(f"replication must be a non-negative integer; got {replication!r}")
    x, t = _covariates()
    x_std = _standardized(x)
    rng = np.random.default_rng([2011, _SURFACE_SEED[surface], int(replication)])
    mu0, mu1, y0, y1 = _simulate_surface(surface, _surface_matrix(x_std), t, rng)
    cov = (x_std if standardize else x).copy()
    for c in IHDP_COVARIATES[6:]:
        cov[c] = cov[c].astype(np.int64)
    df = pd.concat([pd.DataFrame({"treat": t, "y": np.where(t == 1, y1, y0),
                                  "y_cf": np.where(t == 1, y0, y1), "mu0": mu0, "mu1": mu1}),
                    cov], axis=1)
    return finalize(
        df, name=f"ihdp_{surface.lower()}", treatment="treat", outcome="y",
        covariates=IHDP_COVARIATES, true_effect=_effects(t, mu0, mu1),
        description=(f"IHDP (Hill 2011), response surface {surface}, replication "
                     f"{int(replication)}: 747 children (139 treated), 25 covariates; "
                     "true effects are the in-sample means of mu1 - mu0"),
        surface=surface, replication=int(replication))


#: Where a clone of the repository keeps the 50 npci replications (not in the wheel).
NPCI_FOLDER = Path(__file__).resolve().parents[2] / "datasets" / "ihdp_npci"


def _npci_file(replication, path) -> tuple[Path, int | None]:
    p = NPCI_FOLDER if path is None else Path(path)
    if p.is_dir():
        if replication is None:
            raise ValueError(f"{p} is a folder: give the replication number as well")
        if isinstance(replication, bool) or not isinstance(replication, (int, np.integer)):
            raise ValueError(f"replication must be an integer; got {replication!r}")
        p = p / f"ihdp_npci_{int(replication)}.csv"
    elif path is None:
        raise FileNotFoundError(
            f"the IHDP npci replications are not at {NPCI_FOLDER}: they come with a clone "
            "of the causalsm repository (datasets/ihdp_npci/), not with the installed "
            "package; pass path= to the folder that holds ihdp_npci_<r>.csv")
    elif replication is not None:
        raise ValueError(f"{p} is a file: replication must be None")
    if not p.is_file():
        raise FileNotFoundError(f"IHDP npci file not found: {p}")
    match = re.search(r"_(\d+)\.csv$", p.name)
    return p, (int(match.group(1)) if match else None)


def load_ihdp_npci(replication: int | None = 1, path=None, *, recode: bool = True
                   ) -> pd.DataFrame:
    """Read one ``ihdp_npci_<r>.csv`` replication (CEVAE / CFRNet / NSM layout).

    The 50 replications used by the neural score matching paper come with a clone of
    the repository, in ``datasets/ihdp_npci/`` (provenance and licence in its
    README); they are not in the installed package.  The files have no header and
    30 columns: ``t, y_factual, y_cfactual, mu0, mu1, x1 .. x25``, with x1-x6
    continuous (standardised) and x7-x25 binary (x14, Hill's ``first``, coded 1/2).

    Parameters
    ----------
    replication : int or None, default 1
        The replication number (1 to 50 for the bundled files); must be None when
        ``path`` is a file.
    path : str or path-like, optional
        A folder holding ``ihdp_npci_<r>.csv`` files, or one such file.  Default: the
        repository's ``datasets/ihdp_npci/``.
    recode : bool, default True
        Recode x14 from {1, 2} to {0, 1} (as the neural score matching code does).

    Returns
    -------
    pandas.DataFrame
        747 rows; ``treat`` (int64), ``y``, ``y_cf``, ``mu0``, ``mu1``, ``x1`` ..
        ``x6`` (float64), ``x7`` .. ``x25`` (int64).  ``attrs["true_effect"]``: the
        means of ``mu1 - mu0`` over the treated (ATT), all units (ATE) and the
        controls (ATC).

    Raises
    ------
    FileNotFoundError
        If the file does not exist (or the repository's folder is absent).
    ValueError
        If ``replication`` is missing for a folder or given for a file, or the file
        does not have the npci layout.

    Examples
    --------
    >>> from causalsm.datasets import load_ihdp_npci
    >>> df = load_ihdp_npci(3)              # from a clone of the repository
    >>> df.shape, df.attrs["name"], int(df["treat"].sum())
    ((747, 30), 'ihdp_npci_3', 139)
    """
    file, number = _npci_file(replication, path)
    raw = np.loadtxt(file, delimiter=",", dtype=np.float64, ndmin=2)
    if raw.shape[1] != 30:
        raise ValueError(f"{file}: expected 30 columns (t, y, y_cf, mu0, mu1, x1..x25), "
                         f"found {raw.shape[1]}")
    x = raw[:, 5:].copy()
    binary = x[:, 6:]
    if not np.array_equal(binary, np.round(binary)):
        raise ValueError(f"{file}: columns x7..x25 should hold integer codes")
    if recode:
        x[:, 13] -= 1.0
    t = raw[:, 0]
    if not np.isin(t, (0.0, 1.0)).all():
        raise ValueError(f"{file}: the first column (treatment) must be 0/1")
    t = t.astype(np.int64)
    df = pd.DataFrame({"treat": t, "y": raw[:, 1], "y_cf": raw[:, 2], "mu0": raw[:, 3],
                       "mu1": raw[:, 4]})
    names = [f"x{j}" for j in range(1, 26)]
    for j, name in enumerate(names):
        df[name] = x[:, j] if j < 6 else x[:, j].astype(np.int64)
    label = f"ihdp_npci_{number}" if number is not None else "ihdp_npci"
    return finalize(
        df, name=label, treatment="treat", outcome="y", covariates=names,
        true_effect=_effects(t, raw[:, 3], raw[:, 4]),
        description=(f"IHDP npci replication {file.name} (Hill 2011 surface B via npci); "
                     "true effects are the in-sample means of mu1 - mu0"),
        **({"replication": number} if number is not None else {}))
