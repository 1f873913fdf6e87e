"""What a score declares about itself, so that estimators ask instead of testing classes.

A score may define ``__causalsm_tags__()`` returning a dict of the fields of
:class:`ScoreTags`; fields it leaves out keep their defaults.  A fitted score wrapped in
:class:`sklearn.frozen.FrozenEstimator` answers for the score it wraps, except that it
takes no outcome (it is never fitted again).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

from sklearn.frozen import FrozenEstimator
from sklearn.utils import ClassifierTags

__all__ = ["ScoreTags", "SklearnTagsMixin", "resolve_standardize", "score_tags"]


@dataclass(frozen=True)
class ScoreTags:
    """Declarations of a score.

    Attributes
    ----------
    uses_outcome : bool
        ``fit`` takes the outcome as well, ``fit(X, t, outcome=...)`` (e.g. a prognostic
        head); ``y``, scikit-learn's target, is the treatment for every score.
    prognostic : bool
        The score's columns include predictions of the outcome, so that the
        bias-correction regression can use the score instead of the covariates.
    prescaled : bool
        The columns are already in the metric to match with: no standardisation.
    stochastic : bool
        Fits with different ``random_state`` give different scores.
    logistic_propensity : bool
        The score is a (multinomial) logistic propensity score fitted by maximum
        likelihood on the covariates, what the Abadie-Imbens (2016) adjustment needs:
        the score then has ``propensity(X)`` and ``design(X)`` (and ``vcov_`` for
        several levels).
    level_probabilities : bool
        For a treatment with several levels: column ``w`` of the output is
        ``P(W = w | X)``, so level ``w`` can be matched on column ``w`` alone.
    covariate_metric : {None, "mahalanobis", "sd", "none"}
        The score is the covariates themselves in this metric; estimators that match
        on a subset of the rows recompute the metric over those rows (as R's
        ``Match``).
    """

    uses_outcome: bool = False
    prognostic: bool = False
    prescaled: bool = False
    stochastic: bool = False
    logistic_propensity: bool = False
    level_probabilities: bool = False
    covariate_metric: str | None = None


_NAMES = frozenset(f.name for f in fields(ScoreTags))


def score_tags(score) -> ScoreTags:
    """The :class:`ScoreTags` of ``score`` (defaults for a score that declares nothing).

    >>> from causalsm.scores import CovariateScore
    >>> score_tags(CovariateScore()).prescaled
    True
    """
    declare = getattr(score, "__causalsm_tags__", None)
    if declare is None:
        return ScoreTags()
    tags = dict(declare())
    if isinstance(score, FrozenEstimator):        # never fitted again: takes no outcome
        tags["uses_outcome"] = False
    unknown = set(tags) - _NAMES
    if unknown:
        raise TypeError(f"{type(score).__name__}.__causalsm_tags__ returned unknown tag(s) "
                        f"{', '.join(sorted(unknown))}")
    return ScoreTags(**tags)


def resolve_standardize(standardize, tags: ScoreTags) -> bool:
    """The matching option ``standardize`` resolved for a score: ``"auto"``
    standardises the score's columns unless the score is ``prescaled``."""
    from .._validation import check_bool
    value = check_bool(standardize, "standardize", also=("auto",))
    return (not tags.prescaled) if isinstance(value, str) else value


class SklearnTagsMixin:
    """scikit-learn tags shared by causalsm's scores: sparse input is accepted (it is
    densified), ``fit`` needs the treatment (scikit-learn's ``y``) unless
    ``_treatment_optional``, and a score of a binary treatment (``_binary_treatment``)
    declares that its target has two classes."""

    _treatment_optional = False
    _binary_treatment = False

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        tags.target_tags.required = not self._treatment_optional
        if self._binary_treatment:
            tags.classifier_tags = ClassifierTags(multi_class=False)
        return tags
