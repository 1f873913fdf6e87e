"""Bundled data sets and simulators of published designs for causal-inference benchmarks.

Every loader returns a :class:`pandas.DataFrame` with plain ``float64`` / ``int64``
columns and ``df.attrs`` naming the roles of the columns (``treatment``,
``outcome`` or ``duration`` / ``event``, ``covariates``), the ``true_effect`` when
it is known, and a ``description``; :func:`list_datasets` lists them.
"""

from causalsm.datasets.catalog import DATASET_ALIASES, dataset_name, list_datasets, load_dataset
from causalsm.datasets.highdim import (simulate_latent_factors, simulate_news,
                                       simulate_sparse_linear)
from causalsm.datasets.exposure import (EXPOSURE_MODELS, causalgps_erf, causalgps_log_gps,
                                        simulate_causalgps)
from causalsm.datasets.ihdp import IHDP_COVARIATES, load_ihdp, load_ihdp_npci
from causalsm.datasets.lalonde import NSWBenchmark, load_lalonde, nsw_benchmark
from causalsm.datasets.multiarm import (ACTG175_ARMS, load_actg175_multiarm,
                                        simulate_multilevel)
from causalsm.datasets.simulate import (
    DIGIT_EFFECT,
    simulate_hazard_ratio,
    simulate_image_confounding,
    simulate_multiply_robust,
    true_marginal_hr,
)
from causalsm.datasets.survival import load_actg175, load_rossi

__all__ = [
    "ACTG175_ARMS",
    "DIGIT_EFFECT",
    "IHDP_COVARIATES",
    "NSWBenchmark",
    "list_datasets",
    "dataset_name",
    "DATASET_ALIASES",
    "load_actg175",
    "load_actg175_multiarm",
    "load_dataset",
    "load_ihdp",
    "load_ihdp_npci",
    "load_lalonde",
    "load_rossi",
    "nsw_benchmark",
    "simulate_hazard_ratio",
    "simulate_image_confounding",
    "simulate_latent_factors",
    "simulate_multiply_robust",
    "simulate_multilevel",
    "simulate_news",
    "simulate_sparse_linear",
    "true_marginal_hr",
    "EXPOSURE_MODELS",
    "causalgps_erf",
    "causalgps_log_gps",
    "simulate_causalgps",
]
