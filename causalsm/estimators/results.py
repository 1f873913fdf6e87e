"""Result objects: an estimate with its standard error, interval and provenance."""

from __future__ import annotations

import html
from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

__all__ = ["EffectResult", "wald"]


def wald(estimate: float, std_error: float, alpha: float) -> tuple[tuple[float, float], float]:
    """Normal-theory interval and two-sided p-value."""
    if not np.isfinite(std_error) or std_error <= 0:
        return (float("nan"), float("nan")), float("nan")
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(estimate / std_error))
    return (estimate - z * std_error, estimate + z * std_error), float(p)


@dataclass
class EffectResult:
    """An average treatment effect estimate.

    Attributes
    ----------
    estimand : str
        ``"ATT"``, ``"ATC"`` or ``"ATE"``.
    estimate, std_error : float
    conf_int : tuple of float
        ``(lower, upper)`` at level ``1 - alpha``.
    p_value : float
        Two-sided, for the null of no average effect.
    method : str
        How the estimate was made (score, matching, bias correction).
    variance : str
        Which variance estimator the standard error comes from.
    n_treated, n_control : int
        Units in each arm of the data.
    n_matched : int
        Focal units (those the estimand averages over) that were matched.
    n_dropped : int
        Focal units dropped by the caliper or exact strata.
    alpha : float
    details : dict
        Extra numbers (unadjusted estimate, resolved caliper, replicates...).
    """

    estimand: str
    estimate: float
    std_error: float
    conf_int: tuple[float, float]
    p_value: float
    method: str
    variance: str
    n_treated: int
    n_control: int
    n_matched: int
    n_dropped: int
    alpha: float = 0.05
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Plain Python numbers and strings (JSON- and R-friendly)."""
        out = asdict(self)
        out["conf_int"] = [float(v) for v in self.conf_int]
        out["details"] = {k: (v.tolist() if isinstance(v, np.ndarray) else v)
                          for k, v in self.details.items()}
        return out

    def to_frame(self) -> pd.DataFrame:
        """One row: estimand, estimate, std_error, ci_lower, ci_upper, p_value, counts."""
        row = {"estimand": self.estimand, "estimate": float(self.estimate),
               "std_error": float(self.std_error), "ci_lower": float(self.conf_int[0]),
               "ci_upper": float(self.conf_int[1]), "p_value": float(self.p_value),
               "n_treated": int(self.n_treated), "n_control": int(self.n_control),
               "n_matched": int(self.n_matched), "n_dropped": int(self.n_dropped),
               "method": self.method, "variance": self.variance}
        return pd.DataFrame([row])

    def summary(self) -> str:
        """A printable table in the style of statsmodels."""
        level = int(round(100 * (1 - self.alpha)))
        lines = [
            f"{'Matching estimate of the ' + self.estimand:^78}",
            "=" * 78,
            f"Method:    {self.method}",
            f"Variance:  {self.variance}",
            f"Units:     {self.n_treated} treated, {self.n_control} control; "
            f"{self.n_matched} matched, {self.n_dropped} dropped",
        ]
        cal = self.details.get("caliper")
        if cal is not None:
            lines.append(f"Caliper:   {np.array2string(np.asarray(cal), precision=6)} "
                         "(score units)")
        lines += [
            "-" * 78,
            f"{'':10}{'estimate':>14}{'std.err':>12}{'z':>9}{'P>|z|':>9}"
            f"{'[' + str(level) + '% conf.':>13}{'int.]':>11}",
            f"{self.estimand:10}{self.estimate:>14.6g}{self.std_error:>12.6g}"
            f"{self.estimate / self.std_error if self.std_error else float('nan'):>9.3f}"
            f"{self.p_value:>9.4f}{self.conf_int[0]:>13.6g}{self.conf_int[1]:>11.6g}",
            "=" * 78,
        ]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        frame = self.to_frame().drop(columns=["method", "variance"])
        return (f"<p><b>{html.escape(self.estimand)}</b> by {html.escape(self.method)}; "
                f"variance: {html.escape(self.variance)}</p>" + frame.to_html(index=False))
