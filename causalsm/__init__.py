"""causalsm: causal inference by matching on learned balancing scores."""

from . import datasets
from ._validation import InputError
from .api import estimate_effect, quantile_effect
from .balance import balance_table
from .estimators import (EffectResult, MatchingEstimator, MultiplyRobustMatching,
                         QuantileEffectResult)
from .matching import MatchResult, match
from .scores import (CovariateScore, DoubleScore, NeuralBalancingScore, PCAScore,
                     PrognosticScore, PropensityScore)

__version__ = "0.1.0"

__all__ = ["CovariateScore", "DoubleScore", "EffectResult", "InputError", "MatchResult",
           "MatchingEstimator", "MultiplyRobustMatching", "NeuralBalancingScore", "PCAScore",
           "PrognosticScore", "PropensityScore", "QuantileEffectResult", "balance_table",
           "datasets", "estimate_effect", "match", "quantile_effect", "__version__"]
