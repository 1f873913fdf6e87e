"""Balancing scores: scikit-learn transformers from covariates to the score matched on."""

from .covariates import CovariateScore, PCAScore
from .density import KernelResidualDensity, NormalDensity, make_gps
from .gps import GeneralizedPropensityScore
from .prognostic import DoubleScore, PrognosticScore
from ._tags import ScoreTags, score_tags
from .propensity import PropensityScore


def __getattr__(name):
    # torch is imported only when the neural score is first used (import speed; R
    # sessions through reticulate).
    if name == "NeuralBalancingScore":
        from .neural import NeuralBalancingScore
        return NeuralBalancingScore
    if name == "ScoreMatchingDensity":
        from .score_matching import ScoreMatchingDensity
        return ScoreMatchingDensity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["PropensityScore", "CovariateScore", "PCAScore", "NeuralBalancingScore",
           "PrognosticScore", "DoubleScore", "GeneralizedPropensityScore",
           "NormalDensity", "KernelResidualDensity", "ScoreMatchingDensity", "make_gps",
           "ScoreTags", "score_tags"]
