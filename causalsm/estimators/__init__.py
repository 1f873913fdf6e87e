"""Effect estimators that use matches: average effects with Abadie-Imbens inference,
multiply robust (double score) matching for average and quantile effects."""

from .average import MatchingEstimator, matching_effect
from .quantile import MultiplyRobustMatching, QuantileEffectResult
from .results import EffectResult

__all__ = ["MatchingEstimator", "matching_effect", "EffectResult", "MultiplyRobustMatching",
           "QuantileEffectResult"]
