"""causalsm: causal inference by matching on learned balancing scores."""

from . import datasets
from ._validation import InputError
from .api import estimate_effect
from .balance import balance_table
from .estimators import EffectResult, MatchingEstimator
from .matching import MatchResult, match
from .scores import CovariateScore, NeuralBalancingScore, PCAScore, PropensityScore

__version__ = "0.1.0"

__all__ = ["CovariateScore", "EffectResult", "InputError", "MatchResult", "MatchingEstimator",
           "NeuralBalancingScore", "PCAScore", "PropensityScore", "balance_table", "datasets",
           "estimate_effect", "match", "__version__"]
