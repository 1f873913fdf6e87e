"""Balancing scores: scikit-learn transformers from covariates to the score matched on."""

from .covariates import CovariateScore, PCAScore
from .neural import NeuralBalancingScore
from .prognostic import DoubleScore, PrognosticScore
from .propensity import PropensityScore

__all__ = ["PropensityScore", "CovariateScore", "PCAScore", "NeuralBalancingScore",
           "PrognosticScore", "DoubleScore"]
