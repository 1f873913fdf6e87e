"""Result objects: an estimate with its standard error, interval and provenance."""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields
from typing import Any

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
        Extra numbers (unadjusted estimate, resolved caliper, replicates, the
        outcome's standard deviation ``outcome_sd`` used by :meth:`evalue`...).
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
    # the matched sets for Rosenbaum bounds (MatchedSets), or why there are none; not
    # reported
    _sets: Any = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """Plain Python numbers and strings (JSON- and R-friendly)."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if not f.name.startswith("_")}
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

    # ------------------------------------------------------------ sensitivity
    def sensitivity(self, gammas=None, **options):
        """Rosenbaum bounds: how strong a hidden bias would overturn this conclusion.

        Bounds the p-value of the test of no effect within the matched sets behind
        this estimate (on the raw outcomes, without bias correction), for a bias
        Gamma, and finds the critical Gamma.  Needs matched sets that share no unit:
        matching without replacement (``replace=False``).  With replacement (the
        default for the ATT and ATC, and always for the ATE) an
        :class:`~causalsm.InputError` says so; use :meth:`evalue` then.

        Parameters
        ----------
        gammas : sequence of float >= 1, optional
            Default 1, 1.1, 1.25, 1.5, ... up to past 1.5 times the critical Gamma.
        **options
            ``statistic`` (``"auto"``: exact McNemar / Mantel-Haenszel for a 0/1
            outcome, Huber's M-statistic otherwise; ``"wilcoxon"`` for pairs),
            ``alternative`` (default ``"two-sided"``), ``alpha`` (default this
            result's), ``intervals``, ``trim``... of
            :func:`causalsm.sensitivity.rosenbaum_bounds`.

        Returns
        -------
        SensitivityResult
            ``to_frame()`` (one row per Gamma), ``critical_gamma``, ``conclusion``
            (a sentence to quote), ``summary()``, ``plot()``.

        Examples
        --------
        >>> import causalsm as csm
        >>> df = csm.datasets.load_lalonde()
        >>> cov = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
        >>> res = csm.estimate_effect(df, treatment="treat", outcome="re78",
        ...                           covariates=cov, replace=False)
        >>> sens = res.sensitivity()
        >>> sens.design, round(sens.critical_gamma, 2)
        ('185 matched pairs', 1.16)
        """
        from .._validation import InputError
        from ..sensitivity import rosenbaum_bounds
        if not hasattr(self._sets, "y"):
            raise InputError(self._sets or "this result holds no matched sets (it was not "
                             "made by matching here); use causalsm.sensitivity."
                             "rosenbaum_bounds on the sets, or evalue()")
        options.setdefault("alpha", self.alpha)
        return rosenbaum_bounds(self._sets, gammas, details={
            "n_dropped": int(self.n_dropped), "estimand": self.estimand}, **options)

    def evalue(self, sd: float | None = None, true: float = 0.0):
        """E-value of the estimate and of its interval (VanderWeele & Ding 2017).

        The estimate is standardised by the outcome's standard deviation ``sd``
        (default ``details["outcome_sd"]``: the pooled within-arm SD of the outcome in
        the matched sample, as a standardised mean difference uses) and converted to
        a risk ratio ``exp(0.91 d)`` (R's ``EValue::evalues.MD``, with the interval
        from this result's standard error).  Valid with or without replacement.

        Parameters
        ----------
        sd : float, optional
            The standard deviation that standardises the effect.
        true : float
            The effect, on the outcome's scale, to move the estimate to (default 0,
            no effect).

        Returns
        -------
        EValueResult

        Examples
        --------
        >>> import causalsm as csm
        >>> df = csm.datasets.load_lalonde()
        >>> res = csm.estimate_effect(df, treatment="treat", outcome="re78",
        ...                           covariates=["age", "educ", "re74", "re75"])
        >>> ev = res.evalue()
        >>> ev.measure, ev.evalue > 1
        ('MD', True)
        """
        from .._validation import InputError
        from ..sensitivity import evalue
        if self.details.get("outcome_binary"):
            raise InputError("the outcome is binary: the E-value of a standardised mean "
                             "difference is for continuous outcomes.  Estimate a risk ratio "
                             "and call causalsm.sensitivity.evalue(rr, lower, upper), or use "
                             "Rosenbaum's McNemar bound (sensitivity()) after matching "
                             "without replacement")
        scale = self.details.get("outcome_sd") if sd is None else float(sd)
        if scale is None or not scale > 0:
            raise InputError("give the outcome's standard deviation: evalue(sd=...)")
        se = self.std_error / scale if np.isfinite(self.std_error) else None
        out = evalue(self.estimate / scale, measure="MD", se=se, true=true / scale)
        out.details["outcome_sd"] = float(scale)
        return out

    def _repr_html_(self) -> str:
        frame = self.to_frame().drop(columns=["method", "variance"])
        return (f"<p><b>{html.escape(self.estimand)}</b> by {html.escape(self.method)}; "
                f"variance: {html.escape(self.variance)}</p>" + frame.to_html(index=False))
