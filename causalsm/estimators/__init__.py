"""Effect estimators that use matches: average effects with Abadie-Imbens inference,
g-computation after any matching design,
multiply robust (double score) matching for average and quantile effects, the
marginal hazard ratio after matching, treatments with several levels, and
exposure-response curves for a continuous treatment."""

from .average import MatchingEstimator, matching_effect
from .continuous import ExposureResponse, ExposureResponseResult, GPSMatching, GPSWeighting
from .gcomputation import gcomputation, matched_effect
from .multilevel import (MultilevelEffectResult, MultilevelMatching,
                         MultilevelSubclassification)
from .quantile import MultiplyRobustMatching, QuantileEffectResult
from .results import EffectResult
from .survival import HazardRatioResult, MatchedHazardRatio

__all__ = ["MatchingEstimator", "matching_effect", "gcomputation", "matched_effect",
           "EffectResult", "MultiplyRobustMatching",
           "QuantileEffectResult", "MatchedHazardRatio", "HazardRatioResult",
           "MultilevelMatching", "MultilevelSubclassification", "MultilevelEffectResult",
           "GPSMatching", "GPSWeighting", "ExposureResponse", "ExposureResponseResult"]
