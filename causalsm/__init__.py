"""causalsm: causal inference by matching on learned balancing scores."""

from . import datasets
from ._validation import InputError, NotFittedError
from .api import estimate_effect, hazard_ratio, quantile_effect
from . import plotting, sensitivity
from .balance import balance_table
from .comparison import compare
from .estimators import (EffectResult, MatchingEstimator, MultiplyRobustMatching,
                         QuantileEffectResult)
from .estimators.survival import HazardRatioResult, MatchedHazardRatio
from .estimators.multilevel import (MultilevelEffectResult, MultilevelMatching,
                                    MultilevelSubclassification)
from .scores.gps import GeneralizedPropensityScore
from .api import multilevel_effect
from .matching import MatchResult, match
from .scores import CovariateScore, DoubleScore, PCAScore, PrognosticScore, PropensityScore
from .plotting import plot_comparison
from .api import exposure_response
from .estimators.continuous import (ExposureResponse, ExposureResponseResult, GPSMatching,
                                    GPSWeighting)
from .scores.density import KernelResidualDensity, NormalDensity

__version__ = "0.1.0"


def __getattr__(name):
    if name == "NeuralBalancingScore":          # imports torch on first use
        from .scores.neural import NeuralBalancingScore
        return NeuralBalancingScore
    if name == "ScoreMatchingDensity":          # imports torch on first use
        from .scores.score_matching import ScoreMatchingDensity
        return ScoreMatchingDensity
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["CovariateScore", "DoubleScore", "EffectResult", "InputError", "NotFittedError",
           "MatchResult",
           "MatchingEstimator", "MultiplyRobustMatching", "NeuralBalancingScore", "PCAScore",
           "PrognosticScore", "PropensityScore", "QuantileEffectResult", "balance_table",
           "HazardRatioResult", "MatchedHazardRatio",
           "GeneralizedPropensityScore", "MultilevelEffectResult", "MultilevelMatching",
           "MultilevelSubclassification", "multilevel_effect",
           "compare", "datasets", "estimate_effect", "hazard_ratio", "match",
           "plot_comparison", "plotting", "sensitivity",
           "quantile_effect", "__version__",
           "exposure_response", "ExposureResponse", "ExposureResponseResult", "GPSMatching",
           "GPSWeighting", "NormalDensity", "KernelResidualDensity", "ScoreMatchingDensity"]
