"""Nearest-neighbour matching on any score."""

from .distributed import match_dask
from .nearest import match
from .ranged import matching_effect_dask
from .result import MatchRanges, MatchResult

__all__ = ["match", "match_dask", "matching_effect_dask", "MatchResult", "MatchRanges"]
