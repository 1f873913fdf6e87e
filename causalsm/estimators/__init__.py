"""Effect estimators that use matches: average effects with Abadie-Imbens inference,
multiply robust (double score) matching for average and quantile effects, and the
marginal hazard ratio after matching, and exposure-response curves for a continuous
treatment."""

from .average import MatchingEstimator, matching_effect
from .continuous import ExposureResponse, ExposureResponseResult, GPSMatching, GPSWeighting
from .quantile import MultiplyRobustMatching, QuantileEffectResult
from .results import EffectResult
from .survival import HazardRatioResult, MatchedHazardRatio

__all__ = ["MatchingEstimator", "matching_effect", "EffectResult", "MultiplyRobustMatching",
           "QuantileEffectResult", "MatchedHazardRatio", "HazardRatioResult",
           "GPSMatching", "GPSWeighting", "ExposureResponse", "ExposureResponseResult"]
