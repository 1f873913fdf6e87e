"""Nearest-neighbour matching on any score."""

from .nearest import match
from .result import MatchResult

__all__ = ["match", "MatchResult"]
