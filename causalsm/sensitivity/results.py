"""The result of a Rosenbaum sensitivity analysis: a tidy table and a quotable sentence."""

from __future__ import annotations

import html
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ..estimators.results import Summary
from .gamma import amplify

__all__ = ["SensitivityResult"]


def _level(alpha: float) -> str:
    pct = 100 * alpha
    return f"{pct:g}%"


@dataclass
class SensitivityResult:
    """Bounds on the p-value of a test of no effect for several values of Gamma.

    Under Rosenbaum's model, two units in the same matched set may differ in their
    odds of treatment by at most a factor Gamma because of an unobserved covariate;
    Gamma = 1 is a randomised experiment within sets.  For each Gamma the table gives
    the smallest and largest p-values possible (``p_lower``, ``p_upper``).

    Attributes
    ----------
    method : str
        The test statistic and how its null distribution is bounded.
    design : str
        The matched design (e.g. ``"185 matched pairs"``).
    alternative : str
        ``"two-sided"``, ``"greater"`` (treatment raises the outcome) or ``"less"``.
    alpha : float
        Level for the critical Gamma (and the intervals).
    gamma, p_upper, p_lower : ndarray
        The Gammas and the bounds on the p-value.
    statistic : float
        The test statistic (for the reported direction).
    expectation, variance, deviate : ndarray
        Per Gamma, the moments of the bounding null distribution and the
        standardised deviate of the upper bound.
    critical_gamma : float
        The largest Gamma at which the test still rejects at ``alpha`` (1.0 when it
        does not reject even without bias; ``inf`` when it always rejects).
    p_value : float
        The p-value at Gamma = 1 (the randomisation test).
    n_sets, n_treated, n_control : int
        Matched sets used and the units in them.
    estimate_lower, estimate_upper, ci_lower, ci_upper : ndarray
        With ``intervals=True``: per Gamma, the range of point estimates of an
        additive effect and the confidence interval valid under that bias (NaN
        otherwise).
    details : dict
        Direction reported, options of the statistic, units dropped by the matching.
    """

    method: str
    design: str
    alternative: str
    alpha: float
    gamma: np.ndarray
    p_upper: np.ndarray
    p_lower: np.ndarray
    statistic: float
    expectation: np.ndarray
    variance: np.ndarray
    deviate: np.ndarray
    critical_gamma: float
    p_value: float
    n_sets: int
    n_treated: int
    n_control: int
    estimate_lower: np.ndarray
    estimate_upper: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    details: dict = field(default_factory=dict)
    # the upper bound as a function of Gamma, for plots; not reported
    _curve: Any = field(default=None, repr=False, compare=False)

    # ----------------------------------------------------------------- words
    @property
    def test_name(self) -> str:
        side = {"two-sided": "two-sided", "greater": "one-sided (treatment raises the "
                "outcome)", "less": "one-sided (treatment lowers the outcome)"}
        return f"{side[self.alternative]} test of no effect"

    @property
    def conclusion(self) -> str:
        """A sentence a reviewer can quote."""
        lvl = _level(self.alpha)
        g = self.critical_gamma
        head = f"Rosenbaum bounds ({self.details.get('statistic_name', self.method)}, " \
               f"{self.design})"
        if g <= 1.0:
            return (f"{head}: the {self.test_name} is not significant at the {lvl} level "
                    f"even without hidden bias (Gamma = 1, p = {self.p_value:.3g}), so "
                    "there is no finding for hidden bias to explain away.")
        if not np.isfinite(g):
            top = self.details.get("gamma_max", float("inf"))
            return (f"{head}: the {self.test_name} stays significant at the {lvl} level "
                    f"for every Gamma searched (up to {top:g}).")
        text = (f"{head}: the {self.test_name} stays significant at the {lvl} level for "
                f"Gamma up to {g:.2f}; to explain the result away, an unobserved covariate "
                f"would have to change the odds of treatment of two units in the same "
                f"matched set by more than a factor of {g:.2f}.")
        if self.details.get("pairs") and g > 1.0:
            lam = 2 * g
            delta = float(amplify(g, [lam])[0])
            text += (f"  Amplified (Rosenbaum & Silber 2009): for instance a covariate that "
                     f"multiplies the odds of treatment by {lam:.2f} and the odds of a "
                     f"positive pair difference by {delta:.2f}.")
        return text

    def amplification(self, lambdas=None) -> pd.DataFrame:
        """``(Lambda, Delta)`` pairs equivalent to the critical Gamma.

        Default ``Lambda``: 1.25, 1.5, 2, 3 and 5 times the critical Gamma.
        """
        g = self.critical_gamma
        if not (np.isfinite(g) and g > 1):
            return pd.DataFrame({"Lambda": np.zeros(0), "Delta": np.zeros(0)})
        lam = np.asarray(lambdas if lambdas is not None else
                         [1.25 * g, 1.5 * g, 2 * g, 3 * g, 5 * g], dtype=np.float64)
        return pd.DataFrame({"Lambda": lam, "Delta": amplify(g, lam)})

    # ---------------------------------------------------------------- tables
    @property
    def has_intervals(self) -> bool:
        return bool(np.isfinite(self.estimate_lower).any())

    def to_frame(self) -> pd.DataFrame:
        """One row per Gamma: ``gamma``, ``p_lower``, ``p_upper``, ``statistic``,
        ``expectation``, ``variance``, ``deviate``, ``reject`` (``p_upper <= alpha``)
        and, with intervals, ``estimate_lower``, ``estimate_upper``, ``ci_lower``,
        ``ci_upper``."""
        out = pd.DataFrame({
            "gamma": np.asarray(self.gamma, dtype=np.float64),
            "p_lower": np.asarray(self.p_lower, dtype=np.float64),
            "p_upper": np.asarray(self.p_upper, dtype=np.float64),
            "statistic": np.full(len(self.gamma), float(self.statistic)),
            "expectation": np.asarray(self.expectation, dtype=np.float64),
            "variance": np.asarray(self.variance, dtype=np.float64),
            "deviate": np.asarray(self.deviate, dtype=np.float64),
            "reject": np.asarray(self.p_upper, dtype=np.float64) <= self.alpha,
        })
        if self.has_intervals:
            for name in ("estimate_lower", "estimate_upper", "ci_lower", "ci_upper"):
                out[name] = np.asarray(getattr(self, name), dtype=np.float64)
        return out

    def to_dict(self) -> dict:
        """Plain Python numbers, lists and strings (JSON- and R-friendly)."""
        out = {k: getattr(self, k) for k in (
            "method", "design", "alternative", "alpha", "statistic", "critical_gamma",
            "p_value", "n_sets", "n_treated", "n_control")}
        for k in ("gamma", "p_upper", "p_lower", "expectation", "variance", "deviate",
                  "estimate_lower", "estimate_upper", "ci_lower", "ci_upper"):
            out[k] = [float(v) for v in np.asarray(getattr(self, k))]
        out["details"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                          for k, v in self.details.items()}
        out["conclusion"] = self.conclusion
        return out

    def summary(self) -> Summary:
        """The table of bounds, the critical Gamma and the sentence (HTML in a
        notebook)."""
        return Summary(self._summary_text(), self._repr_html_())

    def _summary_text(self) -> str:
        lvl = _level(self.alpha)
        conf = f"{100 * (1 - self.alpha):g}%"
        lines = [f"{'Rosenbaum sensitivity analysis':^78}", "=" * 78,
                 f"Design:     {self.design} ({self.n_treated} treated, {self.n_control} "
                 "controls)"]
        lines += textwrap.wrap(f"Statistic:  {self.method}", 78, subsequent_indent=" " * 12)
        lines.append(f"Test:       {self.test_name}, level {lvl}")
        if self.details.get("n_dropped"):
            lines.append(f"Note:       {self.details['n_dropped']} focal unit(s) without a "
                         "match are not in the analysis")
        head = f"{'Gamma':>8}{'p lower':>11}{'p upper':>11}{'deviate':>10}"
        if self.has_intervals:
            head += f"{'estimate range':>19}{conf + ' interval':>19}"
        lines += ["-" * 78, head]
        for i, g in enumerate(self.gamma):
            row = (f"{g:>8.3g}{_p(self.p_lower[i]):>11}{_p(self.p_upper[i]):>11}"
                   f"{self.deviate[i]:>10.3f}")
            if self.has_intervals:
                row += (f"{_pair(self.estimate_lower[i], self.estimate_upper[i]):>19}"
                        f"{_pair(self.ci_lower[i], self.ci_upper[i]):>19}")
            lines.append(row)
        lines.append("-" * 78)
        g = self.critical_gamma
        crit = f"{g:.4g}" if np.isfinite(g) else "not reached"
        lines.append(f"Critical Gamma at the {lvl} level: {crit}")
        lines += textwrap.wrap(self.conclusion, 78)
        lines.append("=" * 78)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._summary_text()

    def _repr_html_(self) -> str:
        return (f"<p><b>Rosenbaum sensitivity analysis</b>: {html.escape(self.design)}; "
                f"{html.escape(self.method)}</p>" + self.to_frame().to_html(index=False)
                + f"<p>{html.escape(self.conclusion)}</p>")

    def plot(self, ax=None, **kwargs):
        """The upper bound on the p-value against Gamma (see
        :func:`causalsm.plotting.plot_sensitivity`)."""
        from ..plotting import plot_sensitivity
        return plot_sensitivity(self, ax=ax, **kwargs)


def _p(p: float) -> str:
    if not np.isfinite(p):
        return "n/a"
    return "<0.0001" if p < 1e-4 else f"{p:.4f}"


def _pair(a: float, b: float) -> str:
    if not (np.isfinite(a) or np.isfinite(b)):
        return "n/a"
    return f"[{a:.4g}, {b:.4g}]"
