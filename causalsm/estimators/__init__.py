"""Effect estimators that use matches: average effects with Abadie-Imbens inference."""

from .average import MatchingEstimator, matching_effect
from .results import EffectResult

__all__ = ["MatchingEstimator", "matching_effect", "EffectResult"]
