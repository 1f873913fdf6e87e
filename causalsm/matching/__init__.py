"""Nearest-neighbour matching on any score."""

from .distributed import match_dask
from .nearest import match
from .result import MatchRanges, MatchResult

__all__ = ["match", "match_dask", "MatchResult", "MatchRanges"]
