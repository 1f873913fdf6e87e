"""Sensitivity analysis: how strong would a hidden confounder have to be?

Matching removes the confounding that the covariates carry, and nothing else.  Two
families of analyses say how much unmeasured confounding would overturn a matched
conclusion:

* **Rosenbaum bounds** (Rosenbaum 2002, 2007): within matched sets that share no
  unit, two units' odds of treatment may differ by a factor of at most Gamma; the
  p-value of a test of no effect is bounded for each Gamma, and the *critical
  Gamma* is the largest at which the conclusion stands.
  :func:`rosenbaum_bounds` (any design), with the statistics
  :func:`signed_rank_test` and :func:`hodges_lehmann_bounds` (pairs; ``rbounds``),
  :func:`m_test` and :func:`m_interval` (matched sets, full matching, strata;
  ``sensitivitymw``, ``sensitivitymv``, ``sensitivityfull``, ``senstrat``),
  :func:`mcnemar_test` and :func:`mantel_haenszel_test` (binary outcomes;
  ``rbounds::binarysens``, ``sensitivity2x2xk``), :func:`amplify` and
  :func:`critical_gamma`.
* **E-values** (VanderWeele & Ding 2017): :func:`evalue` for risk, odds and hazard
  ratios and standardised differences (R's ``EValue``); they need no matched sets.

From a matching: ``EffectResult.sensitivity()`` / ``.evalue()``,
``HazardRatioResult.evalue()`` and ``MatchResult.sensitivity(y)``.

Where each applies.  Rosenbaum bounds need matched sets that share no unit: pairs or
sets from matching without replacement, full matching, subclassification.  Matching
with replacement reuses controls, and the ATE matches every unit both ways, so the
sets overlap; there the E-value is offered instead.  The hazard ratio gets the
E-value (censored outcomes have no Rosenbaum bound here).  Quantile effects are not
covered by either: VanderWeele & Ding's conversions are for ratios and mean
differences.
"""

from .analysis import STATISTICS, rosenbaum_bounds
from .binary import BinaryTest, mantel_haenszel_test, mcnemar_test
from .evalue import EValueResult, evalue
from .gamma import amplify, critical_gamma, gamma_of
from .m_statistics import BoundTest, m_interval, m_scores, m_test
from .results import SensitivityResult
from .sets import MatchedSets, matched_sets
from .signed_rank import (SignedRankTest, hodges_lehmann_bounds, signed_rank_interval,
                          signed_rank_test)

__all__ = ["BinaryTest", "BoundTest", "EValueResult", "MatchedSets", "STATISTICS",
           "SensitivityResult", "SignedRankTest", "amplify", "critical_gamma", "evalue",
           "gamma_of", "hodges_lehmann_bounds", "m_interval", "m_scores", "m_test",
           "mantel_haenszel_test", "matched_sets", "mcnemar_test", "rosenbaum_bounds",
           "signed_rank_interval", "signed_rank_test"]
