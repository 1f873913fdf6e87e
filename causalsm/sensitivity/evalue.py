"""E-values (VanderWeele & Ding 2017): how strong an unmeasured confounder would have to be.

The E-value of a risk ratio ``RR > 1`` is ``RR + sqrt(RR (RR - 1))``: the minimum
strength of association, on the risk ratio scale, that an unmeasured confounder
would need with both the treatment and the outcome, conditional on the measured
covariates, to explain the observed association away.  A ratio below 1 is inverted
first.  The E-value of the confidence interval is that of the limit closer to the
null (1 if the interval contains the null).  Other measures are first converted to
the risk ratio scale as R's ``EValue`` package does:

* odds ratio: ``RR = OR`` for a rare outcome (below ~15% at the end of follow-up),
  ``RR = sqrt(OR)`` otherwise (VanderWeele 2017);
* hazard ratio: ``RR = HR`` when rare, else
  ``RR = (1 - 0.5^sqrt(HR)) / (1 - 0.5^sqrt(1 / HR))`` (VanderWeele 2020);
* standardised mean difference ``d`` with standard error ``se``: ``RR = exp(0.91 d)``
  and the interval ``exp(0.91 d -+ 1.78 se)`` (Chinn 2000; ``evalues.MD``);
* a regression coefficient (``"OLS"``): ``d = estimate * delta / sd``, then as MD.

A ``true`` value other than the null gives the E-value for moving the estimate to
``true`` instead (``EValue``'s non-null E-values).  Parity: ``EValue::evalues.RR``,
``evalues.OR``, ``evalues.HR``, ``evalues.MD``, ``evalues.OLS`` to 1e-12.
"""

from __future__ import annotations

import html
import textwrap
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from .._validation import InputError
from ..estimators.results import Summary

__all__ = ["evalue", "EValueResult", "evalue_threshold", "pooled_sd", "outcome_details"]

MEASURES = ("RR", "OR", "HR", "MD", "OLS")


def evalue_threshold(rr: float, true: float = 1.0) -> float:
    """The E-value of one risk ratio ``rr`` against ``true`` (``EValue:::threshold``).

    >>> round(evalue_threshold(3.9), 6), round(evalue_threshold(1 / 3.9), 6)
    (7.263034, 7.263034)
    """
    if not np.isfinite(rr):
        return float("nan")
    if rr < 0:
        raise InputError("a risk ratio must be >= 0")
    x, t = float(rr), float(true)
    if x <= 1:
        x, t = 1 / x, 1 / t
    if t <= x:
        return float((x + np.sqrt(x * (x - t))) / t)
    ratio = t / x
    return float(ratio + np.sqrt(ratio * (ratio - 1)))


@dataclass
class EValueResult:
    """E-values for an estimate and its confidence interval.

    Attributes
    ----------
    measure : str
        ``"RR"``, ``"OR"``, ``"HR"``, ``"MD"`` or ``"OLS"``.
    estimate : float
        The estimate on its own scale (a standardised difference for MD/OLS).
    ci_lower, ci_upper : float
        Its interval (NaN when none was given).
    rr, rr_lower, rr_upper : float
        The estimate and interval on the risk ratio scale the E-values use.
    evalue : float
        E-value of the point estimate.
    evalue_ci : float
        E-value of the interval limit closer to ``true`` (1 when the interval
        contains it; NaN without an interval).
    true : float
        The value the E-value moves the estimate to, on the measure's scale.
    rare : bool or None
        Whether the outcome was taken as rare (OR and HR).
    details : dict
    """

    measure: str
    estimate: float
    ci_lower: float
    ci_upper: float
    rr: float
    rr_lower: float
    rr_upper: float
    evalue: float
    evalue_ci: float
    true: float
    rare: Any = None
    details: dict = field(default_factory=dict)

    @property
    def conclusion(self) -> str:
        """A sentence a reviewer can quote (VanderWeele & Ding's wording)."""
        scale = {"RR": "risk ratio", "OR": "odds ratio", "HR": "hazard ratio",
                 "MD": "standardised mean difference",
                 "OLS": "standardised regression coefficient"}[self.measure]
        target = "the null" if self.details.get("null", True) else f"{self.true:.4g}"
        text = (f"The observed {scale} of {self.estimate:.4g} could be moved to {target} by "
                f"an unmeasured confounder associated with both the treatment and the "
                f"outcome by a risk ratio of {self.evalue:.2f}-fold each, above and beyond "
                "the measured covariates, but weaker confounding could not do so.")
        if np.isfinite(self.evalue_ci):
            if self.evalue_ci <= 1:
                text += f" The confidence interval already includes {target}."
            else:
                text += (f" To move the confidence interval to include {target}, a risk "
                         f"ratio of {self.evalue_ci:.2f}-fold each would suffice.")
        return text

    def to_frame(self) -> pd.DataFrame:
        """One row: measure, estimate, ci_lower, ci_upper, rr, rr_lower, rr_upper,
        evalue, evalue_ci, true."""
        row = {"measure": self.measure, "estimate": float(self.estimate),
               "ci_lower": float(self.ci_lower), "ci_upper": float(self.ci_upper),
               "rr": float(self.rr), "rr_lower": float(self.rr_lower),
               "rr_upper": float(self.rr_upper), "evalue": float(self.evalue),
               "evalue_ci": float(self.evalue_ci), "true": float(self.true)}
        return pd.DataFrame([row])

    def to_dict(self) -> dict:
        """Plain Python numbers and strings (JSON- and R-friendly)."""
        out = asdict(self)
        out["conclusion"] = self.conclusion
        return out

    def summary(self) -> Summary:
        """The E-values as a small table and the sentence (HTML in a notebook)."""
        return Summary(self._summary_text(), self._repr_html_())

    def _summary_text(self) -> str:
        lines = [f"{'E-value (VanderWeele & Ding 2017)':^78}", "=" * 78,
                 f"{'':14}{'point':>12}{'lower':>12}{'upper':>12}",
                 f"{self.measure:14}{self.estimate:>12.6g}{self.ci_lower:>12.6g}"
                 f"{self.ci_upper:>12.6g}"]
        if self.measure != "RR":
            lines.append(f"{'as RR':14}{self.rr:>12.6g}{self.rr_lower:>12.6g}"
                         f"{self.rr_upper:>12.6g}")
        side = self.details.get("ci_side")
        ev = [self.evalue, float("nan"), float("nan")]
        if side in ("lower", "upper"):
            ev[1 if side == "lower" else 2] = self.evalue_ci
        lines += [f"{'E-value':14}" + "".join(f"{v:>12.4g}" if np.isfinite(v) else f"{'':>12}"
                                             for v in ev), "-" * 78]
        if self.details.get("note"):
            lines += textwrap.wrap(self.details["note"], 78)
        lines += textwrap.wrap(self.conclusion, 78) + ["=" * 78]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self._summary_text()

    def _repr_html_(self) -> str:
        return (f"<p><b>E-value</b> ({html.escape(self.measure)})</p>"
                + self.to_frame().to_html(index=False)
                + f"<p>{html.escape(self.conclusion)}</p>")


def _to_rr(x: float, measure: str, rare: Any) -> float:
    if measure == "RR":
        return x
    if measure == "OR":
        return x if rare else float(np.sqrt(x))
    if measure == "HR":
        return x if rare else float((1 - 0.5 ** np.sqrt(x)) / (1 - 0.5 ** np.sqrt(1 / x)))
    return float(np.exp(0.91 * x))                        # MD


def evalue(estimate: float, lower: float | None = None, upper: float | None = None, *,
           measure: str = "RR", rare: bool | None = None, true: float | None = None,
           se: float | None = None, sd: float | None = None,
           delta: float = 1.0) -> EValueResult:
    """E-values for an estimate and its confidence interval (R's ``EValue``).

    Parameters
    ----------
    estimate : float
        A risk, odds or hazard ratio, a standardised mean difference (``"MD"``) or a
        regression coefficient (``"OLS"``).
    lower, upper : float, optional
        The confidence limits (ratios).  For MD and OLS give ``se`` instead.
    measure : {"RR", "OR", "HR", "MD", "OLS"}
    rare : bool
        For OR and HR: whether the outcome is rare (below ~15% at the end of
        follow-up).  Required for those measures.
    true : float, optional
        The true value to move the estimate to (default the null: 1 for ratios, 0
        for MD/OLS).
    se : float, optional
        Standard error of the standardised difference (MD) or of the coefficient
        (OLS).
    sd : float
        For OLS: the outcome's standard deviation (``SD(Y | X, C)`` is exact; the
        marginal ``SD(Y)`` is conservative).
    delta : float
        For OLS: the contrast in the exposure.

    Returns
    -------
    EValueResult

    Examples
    --------
    >>> r = evalue(3.9, 1.8, 8.7)                 # EValue::evalues.RR(3.9, 1.8, 8.7)
    >>> round(r.evalue, 6), round(r.evalue_ci, 6)
    (7.263034, 3.0)
    >>> round(evalue(0.5, se=0.1, measure="MD").evalue, 6)   # evalues.MD(0.5, 0.1)
    2.529142
    """
    measure = str(measure).upper()
    if measure not in MEASURES:
        raise InputError(f"measure must be one of {', '.join(MEASURES)}, got {measure!r}")
    est = _number(estimate, "estimate")
    lo = _number(lower, "lower") if lower is not None else float("nan")
    hi = _number(upper, "upper") if upper is not None else float("nan")
    details: dict = {}
    if measure in ("OR", "HR"):
        if rare is None:
            raise InputError(f"an {measure} needs rare=True or rare=False: whether the outcome "
                             "is rare (below about 15% at the end of follow-up)")
        rare = bool(rare)
    else:
        rare = None
    if se is not None:
        se = _number(se, "se")
        if se < 0:
            raise InputError("the standard error cannot be negative")
    if measure in ("MD", "OLS"):
        if lower is not None or upper is not None:
            raise InputError(f"for {measure}, give the standard error (se=...) instead of "
                             "confidence limits")
        if measure == "OLS":
            if sd is None or not sd > 0:
                raise InputError("measure='OLS' needs the outcome's standard deviation sd > 0")
            if delta < 0:
                delta = -delta
            est = est * delta / sd
            se = None if se is None else se * delta / sd
            details.update(sd=float(sd), delta=float(delta))
        t = 0.0 if true is None else _number(true, "true")
        rr = _to_rr(est, "MD", None)
        rr_lo = float(np.exp(0.91 * est - 1.78 * se)) if se is not None else float("nan")
        rr_hi = float(np.exp(0.91 * est + 1.78 * se)) if se is not None else float("nan")
        rr_true = _to_rr(t, "MD", None)
        details["null"] = t == 0
        if se is not None:
            # the interval on the MD scale, for reporting
            lo, hi = est - 1.78 / 0.91 * se, est + 1.78 / 0.91 * se
    else:
        if est < 0:
            raise InputError(f"a {measure} cannot be negative")
        t = 1.0 if true is None else _number(true, "true")
        if t < 0:
            raise InputError("the true value is impossible (negative)")
        rr = _to_rr(est, measure, rare)
        rr_lo = _to_rr(lo, measure, rare) if np.isfinite(lo) else float("nan")
        rr_hi = _to_rr(hi, measure, rare) if np.isfinite(hi) else float("nan")
        rr_true = _to_rr(t, measure, rare)
        details["null"] = t == 1
    _check_interval(rr, rr_lo, rr_hi)
    ev = evalue_threshold(rr, rr_true)
    ev_ci, side = float("nan"), None
    if np.isfinite(rr_lo) or np.isfinite(rr_hi):
        if rr > rr_true:
            side = "lower"
            limit = rr_lo
        elif rr < rr_true:
            side = "upper"
            limit = rr_hi
        else:
            side, limit = "lower", rr_true
        crosses = np.isfinite(limit) and ((side == "lower" and limit < rr_true)
                                          or (side == "upper" and limit > rr_true))
        if rr == rr_true or crosses:
            ev_ci = 1.0
        elif np.isfinite(limit):
            ev_ci = evalue_threshold(limit, rr_true)
    details["ci_side"] = side
    if measure in ("OR", "HR") and not rare:
        details["note"] = (f"A common outcome: the {measure} was converted to a risk ratio "
                           f"({'sqrt(OR)' if measure == 'OR' else 'VanderWeele 2020'}).")
    if measure in ("MD", "OLS"):
        details["note"] = ("A continuous outcome: the standardised difference d was converted "
                           "to a risk ratio exp(0.91 d) (Chinn 2000; VanderWeele & Ding 2017).")
    return EValueResult(measure=measure, estimate=est, ci_lower=float(lo), ci_upper=float(hi),
                        rr=float(rr), rr_lower=float(rr_lo), rr_upper=float(rr_hi),
                        evalue=float(ev), evalue_ci=float(ev_ci), true=float(t), rare=rare,
                        details=details)


def pooled_sd(y: np.ndarray, treated: np.ndarray, weights: np.ndarray) -> float:
    """The pooled within-arm standard deviation of ``y`` over the units with positive
    ``weights`` (the matched sample), weighted: ``sqrt((var_1 + var_0) / 2)``, the
    denominator of a standardised mean difference.

    >>> pooled_sd(np.array([1.0, 3.0, 0.0, 2.0]), np.array([1, 1, 0, 0]), np.ones(4))
    1.0
    """
    from ..matching import _jit
    if _jit.AVAILABLE:                       # one compiled pass per moment
        total, var = _jit.arm_variances(np.asarray(y, dtype=np.float64), treated,
                                        np.asarray(weights, dtype=np.float64))
        if not (total > 0).all():
            return float("nan")
        return float(np.sqrt((var[0] + var[1]) / 2))
    var = []
    for arm in (0, 1):
        sel = (treated == arm) & (weights > 0)
        if not sel.any():
            return float("nan")
        w, v = weights[sel], y[sel]
        mean = np.sum(w * v) / np.sum(w)
        var.append(np.sum(w * (v - mean) ** 2) / np.sum(w))
    return float(np.sqrt((var[0] + var[1]) / 2))


def outcome_details(y: np.ndarray, treated: np.ndarray, weights: np.ndarray) -> dict:
    """What a matching result keeps for its E-value: ``outcome_sd`` (:func:`pooled_sd`
    in the matched sample) and ``outcome_binary``."""
    binary = not (y.size and y[0] != 0.0 and y[0] != 1.0) \
        and bool(((y == 0.0) | (y == 1.0)).all())       # (a continuous y stops at once)
    return {"outcome_sd": pooled_sd(y, treated, weights), "outcome_binary": binary}


def _number(value: Any, name: str) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number, got {value!r}") from None
    if np.isnan(out):
        raise InputError(f"{name} is NaN")
    return out


def _check_interval(est: float, lo: float, hi: float) -> None:
    if np.isfinite(lo) and np.isfinite(hi) and lo > hi:
        raise InputError("the lower confidence limit should be below the upper one")
    if (np.isfinite(lo) and est < lo) or (np.isfinite(hi) and est > hi):
        raise InputError("the point estimate should be inside its confidence interval")
