"""causalsm: causal inference by matching on learned balancing scores."""

from . import datasets
from ._validation import InputError
from .api import estimate_effect, quantile_effect
from .balance import balance_table
from .estimators import (EffectResult, MatchingEstimator, MultiplyRobustMatching,
                         QuantileEffectResult)
from .matching import MatchResult, match
from .scores import CovariateScore, DoubleScore, PCAScore, PrognosticScore, PropensityScore

__version__ = "0.1.0"


def __getattr__(name):
    if name == "NeuralBalancingScore":          # imports torch on first use
        from .scores.neural import NeuralBalancingScore
        return NeuralBalancingScore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CovariateScore", "DoubleScore", "EffectResult", "InputError", "MatchResult",
           "MatchingEstimator", "MultiplyRobustMatching", "NeuralBalancingScore", "PCAScore",
           "PrognosticScore", "PropensityScore", "QuantileEffectResult", "balance_table",
           "datasets", "estimate_effect", "match", "quantile_effect", "__version__"]
