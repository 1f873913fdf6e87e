"""Matching on any score: nearest neighbour, optimal and full matching, subclassification
and coarsened exact matching (MatchIt's designs), all giving a :class:`MatchResult`."""

from .cem import cem_match
from .distributed import match_dask
from .nearest import METHODS, match
from .optimal import full_match, optimal_match
from .result import MatchRanges, MatchResult
from .subclass import subclassify

__all__ = ["match", "match_dask", "MatchResult", "MatchRanges", "METHODS", "full_match",
           "optimal_match", "subclassify", "cem_match"]
