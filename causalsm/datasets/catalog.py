"""The one list of data sets and simulators, by name: what :func:`load_dataset`, the
command line (``causalsm compare --data NAME``, ``causalsm datasets``) and the benchmarks
load."""

from __future__ import annotations

from functools import partial

import pandas as pd

from causalsm.datasets.exposure import simulate_causalgps
from causalsm.datasets.ihdp import load_ihdp, load_ihdp_npci
from causalsm.datasets.lalonde import load_lalonde
from causalsm.datasets.highdim import (simulate_latent_factors, simulate_news,
                                       simulate_sparse_linear)
from causalsm.datasets.multiarm import load_actg175_multiarm, simulate_multilevel
from causalsm.datasets.simulate import (
    simulate_hazard_ratio,
    simulate_image_confounding,
    simulate_multiply_robust,
)
from causalsm.datasets.survival import load_actg175, load_rossi

__all__ = ["list_datasets", "load_dataset", "dataset_name", "DATASET_ALIASES"]

#: Short names accepted for catalogue entries (the command line's): alias -> name.
DATASET_ALIASES = {"lalonde": "lalonde_nsw", "ihdp": "ihdp_b"}

# name -> (loader, description, n (default size), task)
_CATALOG = {
    "lalonde_nsw": (partial(load_lalonde, "nsw"),
                    "NSW job-training experiment (Dehejia-Wahba subsample), 1978 earnings",
                    445, "average effect (experiment)"),
    "lalonde_psid": (partial(load_lalonde, "psid"),
                     "NSW trainees vs PSID-1 comparison group; experimental ATT 1794",
                     2675, "average effect (observational, known ATT)"),
    "lalonde_cps": (partial(load_lalonde, "cps"),
                    "NSW trainees vs CPS-1 comparison group; experimental ATT 1794",
                    16177, "average effect (observational, known ATT)"),
    "ihdp_a": (partial(load_ihdp, "A"),
               "IHDP covariates, Hill (2011) response surface A (constant effect 4)",
               747, "average effect (semi-synthetic)"),
    "ihdp_b": (partial(load_ihdp, "B"),
               "IHDP covariates, Hill (2011) response surface B (CATT 4, heterogeneous)",
               747, "average effect (semi-synthetic)"),
    "ihdp_npci": (load_ihdp_npci,
                  "IHDP npci replications 1-50 (surface B; CEVAE/CFRNet/NSM benchmark); "
                  "in a clone of the repository",
                  747, "average effect (semi-synthetic)"),
    "rossi": (load_rossi, "Rossi (1980) recidivism trial, financial aid randomised",
              432, "survival (hazard ratio)"),
    "actg175": (load_actg175,
                "ACTG 175 HIV trial (Hammer et al. 1996), four randomised regimens",
                2139, "survival (hazard ratio)"),
    "actg175_multiarm": (load_actg175_multiarm,
                         "ACTG 175's four arms, CD4 count at week 20; arms 1-3 subsampled "
                         "on prognosis (confounding), randomised benchmark",
                         1333, "multi-level average effects (trial benchmark)"),
    "multilevel_yang2016": (partial(simulate_multilevel, design="yang2016"),
                            "Simulated 3-level design of Yang et al. (2016); contrasts 1, 3, 2",
                            1000, "multi-level average effects (simulation)"),
    "multilevel_four_levels": (partial(simulate_multilevel, design="four_levels"),
                               "Simulated 4-level design with limited overlap; contrasts known",
                               1000, "multi-level average effects (simulation)"),
    "multiply_robust": (simulate_multiply_robust,
                        "Simulated multiply robust design: ATE 1, quantile effects known",
                        1000, "average and quantile effects (simulation)"),
    "hazard_ratio": (simulate_hazard_ratio,
                     "Simulated MatchIt-vignette survival design, marginal HR 1.57",
                     2000, "survival (hazard ratio, simulation)"),
    "image_confounding": (simulate_image_confounding,
                          "8x8 digit images confound treatment and outcome",
                          1797, "average effect (high-dimensional simulation)"),
    "news": (simulate_news,
             "Topic-model documents (2,000-word vocabulary) confound treatment and outcome",
             3000, "average effect (high-dimensional simulation)"),
    "latent_factors": (simulate_latent_factors,
                       "1,000 covariates driven by 4 latent factors, nonlinear confounding",
                       3000, "average effect (high-dimensional simulation)"),
    "sparse_linear": (simulate_sparse_linear,
                      "1,000 correlated covariates, sparse linear propensity and outcome",
                      2000, "average effect (high-dimensional simulation)"),
    "causalgps": (simulate_causalgps,
                  "Simulated CausalGPS design: continuous exposure w, known cubic curve",
                  1000, "exposure-response curve (simulation)"),
}


def list_datasets() -> pd.DataFrame:
    """The bundled data sets and simulators.

    Returns
    -------
    pandas.DataFrame
        One row per data set, columns ``name`` (what :func:`load_dataset` takes),
        ``description``, ``n`` (int64: rows, or the simulator's default size) and
        ``task``.

    Examples
    --------
    >>> from causalsm.datasets import list_datasets
    >>> table = list_datasets()
    >>> list(table.columns)
    ['name', 'description', 'n', 'task']
    >>> "ihdp_b" in set(table["name"]), int(table.set_index("name").loc["rossi", "n"])
    (True, 432)
    """
    rows = [{"name": name, "description": d, "n": n, "task": task}
            for name, (_, d, n, task) in _CATALOG.items()]
    out = pd.DataFrame(rows, columns=["name", "description", "n", "task"])
    out["n"] = out["n"].astype("int64")
    return out


def dataset_name(name: str) -> str | None:
    """The catalogue name that ``name`` stands for (case, ``-`` or ``_`` and the short
    names of :data:`DATASET_ALIASES` do not matter), or ``None`` when there is none.

    >>> dataset_name("LaLonde-PSID"), dataset_name("ihdp"), dataset_name("nosuch")
    ('lalonde_psid', 'ihdp_b', None)
    """
    if not isinstance(name, str):
        return None
    key = name.strip().lower().replace("-", "_")
    key = DATASET_ALIASES.get(key, key)
    return key if key in _CATALOG else None


def load_dataset(name: str, **kwargs) -> pd.DataFrame:
    """Load a data set (or run a simulator) by its :func:`list_datasets` name.

    Parameters
    ----------
    name : str
        A name from :func:`list_datasets` (case and ``-`` / ``_`` do not matter) or a
        short name of :data:`DATASET_ALIASES` (``"lalonde"``, ``"ihdp"``).
    **kwargs
        Passed to the loader (e.g. ``replication=3`` for ``"ihdp_b"``,
        ``random_state=0`` for a simulator, ``replication=7`` for ``"ihdp_npci"``).

    Returns
    -------
    pandas.DataFrame
        With the ``attrs`` of the :mod:`causalsm.datasets` convention.

    Raises
    ------
    ValueError
        If the name is unknown.

    Examples
    --------
    >>> from causalsm.datasets import load_dataset
    >>> df = load_dataset("ihdp_a", replication=2)
    >>> df.attrs["name"], df.attrs["true_effect"]["ATE"]
    ('ihdp_a', 4.0)
    """
    key = dataset_name(name)
    if key is None:
        raise ValueError(f"unknown data set {name!r}; choose one of {', '.join(_CATALOG)}")
    return _CATALOG[key][0](**kwargs)
