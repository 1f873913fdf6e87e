"""LaLonde (1986) / Dehejia-Wahba (1999, 2002) job-training data.

The National Supported Work (NSW) Demonstration randomised eligible
applicants to a job-training programme.  Dehejia and Wahba's subsample of
LaLonde's NSW data (185 treated, 260 experimental controls) gives an
experimental benchmark for the effect of training on 1978 earnings; pairing
the 185 treated units with a non-experimental comparison group drawn from the
PSID or the CPS gives the classic test bed for matching estimators.

Provenance, citations and licences of the bundled files are documented in
``causalsm/datasets/data/README.md``.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from importlib import resources

import numpy as np
import pandas as pd

__all__ = ["NSWBenchmark", "load_lalonde", "nsw_benchmark"]

#: ``controls`` option -> bundled file holding that comparison group.
_CONTROL_FILES = {
    "nsw": None,  # the experimental controls live in the NSW file itself
    "psid": "lalonde_psid1_controls.csv.gz",
    "cps": "lalonde_cps1_controls.csv.gz",
}
_NSW_FILE = "lalonde_nsw.csv"

_INT_COLUMNS = ("treat", "age", "educ", "black", "hisp", "married", "nodegr")
_FLOAT_COLUMNS = ("re74", "re75", "re78")
_COLUMNS = _INT_COLUMNS + _FLOAT_COLUMNS + ("u74", "u75")


@dataclass(frozen=True)
class NSWBenchmark:
    """Experimental benchmark from the NSW randomised sample.

    Attributes
    ----------
    att : float
        Difference in mean 1978 earnings (``re78``) between NSW treated and
        NSW experimental controls.  Because treatment was randomised, this is
        an unbiased estimate of the average treatment effect on the treated.
    se : float
        Welch (unequal-variance) two-sample standard error of ``att``:
        ``sqrt(s1**2 / n1 + s0**2 / n0)`` with sample variances (ddof=1).
    n_treated : int
        Number of NSW treated units (185).
    n_control : int
        Number of NSW experimental control units (260).
    """

    att: float
    se: float
    n_treated: int
    n_control: int


def _read_bundled(name: str) -> pd.DataFrame:
    """Read one bundled CSV (optionally gzip-compressed) with plain dtypes."""
    source = resources.files("causalsm.datasets").joinpath("data").joinpath(name)
    compression = "gzip" if name.endswith(".gz") else None
    dtypes = {c: np.int64 for c in _INT_COLUMNS}
    dtypes.update({c: np.float64 for c in _FLOAT_COLUMNS})
    with source.open("rb") as fh:
        df = pd.read_csv(fh, compression=compression, dtype=dtypes)
    expected = list(_INT_COLUMNS + _FLOAT_COLUMNS)
    if list(df.columns) != expected:  # pragma: no cover - guards the data files
        raise RuntimeError(f"bundled file {name!r} has columns {list(df.columns)}, expected {expected}")
    return df


@functools.lru_cache(maxsize=None)
def _load_cached(controls: str) -> pd.DataFrame:
    """Assemble (once per option) the frame that :func:`load_lalonde` copies."""
    nsw = _read_bundled(_NSW_FILE)
    control_file = _CONTROL_FILES[controls]
    if control_file is None:
        df = nsw
    else:
        treated = nsw[nsw["treat"] == 1]
        df = pd.concat([treated, _read_bundled(control_file)], ignore_index=True)
    df = df.reset_index(drop=True)
    df["u74"] = (df["re74"] == 0).astype(np.int64)
    df["u75"] = (df["re75"] == 0).astype(np.int64)
    return df[list(_COLUMNS)]


def _check_controls(controls: object) -> str:
    if not isinstance(controls, str) or controls not in _CONTROL_FILES:
        allowed = ", ".join(repr(k) for k in _CONTROL_FILES)
        raise ValueError(f"controls must be one of {allowed}; got {controls!r}")
    return controls


_COVARIATES = ("age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75", "u74", "u75")
_DESCRIPTIONS = {
    "nsw": "LaLonde / Dehejia-Wahba NSW experiment: 185 trainees, 260 randomised controls",
    "psid": "LaLonde / Dehejia-Wahba: 185 NSW trainees, 2,490 PSID-1 comparison units",
    "cps": "LaLonde / Dehejia-Wahba: 185 NSW trainees, 15,992 CPS-1 comparison units",
}


def _attrs(key: str) -> dict:
    """The ``df.attrs`` of :mod:`causalsm.datasets` (a fresh dict on every call)."""
    return {
        "name": f"lalonde_{key}", "treatment": "treat", "outcome": "re78",
        "covariates": list(_COVARIATES),
        "true_effect": {"ATT": nsw_benchmark().att},
        "effect_measure": "difference",
        "description": _DESCRIPTIONS[key] + "; outcome re78 (1978 earnings); true_effect "
                       "ATT = the NSW experimental difference in means (1794.34)",
    }


def load_lalonde(controls: str = "nsw", *, return_benchmark: bool = False):
    """Load the LaLonde / Dehejia-Wahba NSW job-training data.

    Every sample contains the same 185 NSW treated men (Dehejia and Wahba's
    subsample with 1974 earnings); ``controls`` selects the comparison group.
    Column names follow R's ``Matching::lalonde``.

    Parameters
    ----------
    controls : {"nsw", "psid", "cps"}, default "nsw"
        Comparison group:

        - ``"nsw"``: the 260 randomised NSW controls (445 rows in all); the
          data are identical to R's ``Matching::lalonde``.
        - ``"psid"``: the PSID-1 comparison group of Dehejia and Wahba
          (2,490 controls; 2,675 rows in all).
        - ``"cps"``: the CPS-1 comparison group of Dehejia and Wahba
          (15,992 controls; 16,177 rows in all).
    return_benchmark : bool, default False
        If True, also return the experimental benchmark computed from the NSW
        sample (see :func:`nsw_benchmark`), whatever ``controls`` is.

    Returns
    -------
    df : pandas.DataFrame
        A fresh copy (safe to modify) with a ``RangeIndex`` and columns

        ``treat`` (int64, 1 = NSW trainee), ``age``, ``educ`` (years),
        ``black``, ``hisp``, ``married``, ``nodegr`` (1 = no high-school
        degree) as int64; ``re74``, ``re75``, ``re78`` (real earnings in
        1982 US dollars) as float64; ``u74``, ``u75`` (int64, 1 if
        ``re74`` / ``re75`` is zero).  Treated rows come first.  There are
        no missing values and no pandas extension dtypes.

        ``df.attrs`` follows the convention of :mod:`causalsm.datasets`:
        ``name`` (``"lalonde_nsw"``, ``"lalonde_psid"`` or ``"lalonde_cps"``),
        ``treatment`` (``"treat"``), ``outcome`` (``"re78"``), ``covariates``
        (the ten pre-treatment columns), ``true_effect`` (``{"ATT": 1794.34...}``,
        the NSW experimental benchmark, whatever ``controls`` is),
        ``effect_measure`` and ``description``.
    benchmark : NSWBenchmark
        Only when ``return_benchmark=True``; ``(df, benchmark)`` is returned.

    Raises
    ------
    ValueError
        If ``controls`` is not one of ``"nsw"``, ``"psid"``, ``"cps"``.

    Examples
    --------
    >>> from causalsm.datasets import load_lalonde
    >>> df = load_lalonde(); df.shape
    (445, 12)
    >>> int(df["treat"].sum())
    185
    >>> psid = load_lalonde("psid")
    >>> psid["treat"].value_counts().sort_index().tolist()
    [2490, 185]
    >>> df.attrs["treatment"], df.attrs["outcome"], round(df.attrs["true_effect"]["ATT"], 2)
    ('treat', 're78', 1794.34)
    >>> df, bench = load_lalonde("cps", return_benchmark=True)
    >>> df.shape, round(bench.att, 2)
    ((16177, 12), 1794.34)
    """
    key = _check_controls(controls)
    df = _load_cached(key).copy(deep=True)
    df.attrs = _attrs(key)
    if return_benchmark:
        return df, nsw_benchmark()
    return df


def nsw_benchmark() -> NSWBenchmark:
    """Experimental NSW benchmark: difference in mean ``re78`` and its SE.

    Computed from the bundled NSW experimental sample each time it is
    called (nothing is hard-coded): treated mean minus control mean of 1978
    earnings, with the Welch two-sample standard error.

    Returns
    -------
    NSWBenchmark
        ``att`` (about 1794.34 dollars), ``se`` (about 671.00), ``n_treated``
        (185) and ``n_control`` (260).

    Examples
    --------
    >>> from causalsm.datasets import nsw_benchmark
    >>> b = nsw_benchmark()
    >>> round(b.att, 2), round(b.se, 2), b.n_treated, b.n_control
    (1794.34, 671.0, 185, 260)
    """
    nsw = _load_cached("nsw")
    y1 = nsw.loc[nsw["treat"] == 1, "re78"].to_numpy(dtype=np.float64)
    y0 = nsw.loc[nsw["treat"] == 0, "re78"].to_numpy(dtype=np.float64)
    att = float(y1.mean() - y0.mean())
    se = math.sqrt(y1.var(ddof=1) / y1.size + y0.var(ddof=1) / y0.size)
    return NSWBenchmark(att=att, se=float(se), n_treated=int(y1.size), n_control=int(y0.size))
