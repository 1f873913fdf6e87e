"""Result objects: an estimate with its standard error, interval and provenance.

Every effect estimate (:class:`EffectResult`, :class:`~causalsm.QuantileEffectResult`,
:class:`~causalsm.HazardRatioResult`, :class:`~causalsm.MultilevelEffectResult`) is a
:class:`Result`: ``estimate``, ``std_error``, ``p_value``, ``alpha``, ``method``,
``variance`` and ``details`` attributes, the interval bounds ``ci_lower`` / ``ci_upper``
at level ``1 - alpha``, ``conf_int(alpha)`` as in statsmodels, ``summary()`` (a
:class:`Summary`: text that a notebook shows as HTML), ``to_frame()`` and ``to_dict()``
with the same names.  A result holds numbers, never the estimator that made it.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from .._validation import InputError

__all__ = ["EffectResult", "Result", "Summary", "wald"]


def wald(estimate: float, std_error: float, alpha: float) -> tuple[tuple[float, float], float]:
    """Normal-theory interval and two-sided p-value."""
    if not np.isfinite(std_error) or std_error <= 0:
        return (float("nan"), float("nan")), float("nan")
    z = stats.norm.ppf(1 - alpha / 2)
    p = 2 * stats.norm.sf(abs(estimate / std_error))
    return (estimate - z * std_error, estimate + z * std_error), float(p)


class Summary(str):
    """The summary of a result: a string (print it, search it, save it) that a notebook
    shows as an HTML table.

    >>> s = Summary("ATT  1.0", "<p>ATT</p>")
    >>> s
    ATT  1.0
    >>> "ATT" in s, s._repr_html_()
    (True, '<p>ATT</p>')
    """

    def __new__(cls, text: str, html_text: str | None = None):
        obj = super().__new__(cls, text)
        obj._html = html_text
        return obj

    def __repr__(self) -> str:          # the table itself at a prompt, as statsmodels
        return str.__str__(self)

    def as_text(self) -> str:
        return str.__str__(self)

    def as_html(self) -> str:
        return self._html if self._html is not None else f"<pre>{html.escape(self)}</pre>"

    def _repr_html_(self) -> str:
        return self.as_html()


def _plain(value: Any) -> Any:
    """Numbers, strings, lists and dicts only (JSON- and R-friendly)."""
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (np.floating, np.integer, np.bool_)):
        return value.item()
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


class Result:
    """What every effect estimate offers (a mixin for the result dataclasses).

    Subclasses are dataclasses with the fields ``estimate``, ``std_error``,
    ``ci_lower``, ``ci_upper``, ``p_value``, ``alpha``, ``method``, ``variance`` and
    ``details`` (scalars, or arrays of one entry per quantile or contrast), and
    implement ``to_frame()`` and ``_summary_text()``.

    ``_interval`` (a class attribute or a field) says how :meth:`conf_int` recomputes
    the interval at another level: ``"wald"`` (``estimate +- z std_error``), ``"log"``
    (Wald on ``log(estimate)`` with the standard error ``_log_std_error()``) or
    ``"fixed"`` (a bootstrap percentile interval: only the fitted level is known).
    """

    _interval = "wald"

    # ------------------------------------------------------------- intervals
    def _z_alpha(self, alpha: float) -> float:
        """The per-interval level (multiple-comparison adjustments override this)."""
        return alpha

    def _log_std_error(self):
        return self.details.get("log_std_error", self.std_error)

    def conf_int(self, alpha: float | None = None):
        """The confidence interval at level ``1 - alpha`` (default: the fitted ``alpha``).

        Returns ``(lower, upper)`` for one estimate, an ``(m, 2)`` array for ``m``
        estimates (quantiles, contrasts).  At another ``alpha`` the interval is
        recomputed from the standard error (on the log scale for ratios); a bootstrap
        percentile interval is only known at the fitted level.
        """
        lo, hi = np.asarray(self.ci_lower, float), np.asarray(self.ci_upper, float)
        if alpha is not None and not 0 < float(alpha) < 1:
            raise InputError(f"alpha must be in (0, 1), got {alpha}")
        if alpha is not None and abs(float(alpha) - self.alpha) > 1e-15:
            alpha = float(alpha)
            if self._interval == "fixed":
                raise InputError(f"this interval ({self.variance}) was computed at alpha="
                                 f"{self.alpha}; refit with alpha={alpha} for another level")
            z = stats.norm.ppf(1 - self._z_alpha(alpha) / 2)
            est = np.asarray(self.estimate, float)
            if self._interval == "log":
                se = np.asarray(self._log_std_error(), float)
                lo, hi = np.exp(np.log(est) - z * se), np.exp(np.log(est) + z * se)
            else:
                se = np.asarray(self.std_error, float)
                lo, hi = est - z * se, est + z * se
        if lo.ndim == 0:
            return float(lo), float(hi)
        return np.column_stack([lo, hi])

    # ---------------------------------------------------------------- export
    def to_dict(self) -> dict:
        """Every public field as plain Python numbers, lists and strings (JSON- and
        R-friendly)."""
        return {f.name: _plain(getattr(self, f.name)) for f in fields(self)
                if not f.name.startswith("_")}

    def summary(self) -> Summary:
        """A printable table in the style of statsmodels (HTML in a notebook)."""
        return Summary(self._summary_text(), self._summary_html())

    def _summary_html(self) -> str:
        frame = self.to_frame()
        frame = frame.drop(columns=[c for c in ("method", "variance") if c in frame])
        return (f"<p><b>{html.escape(self._title())}</b>; {html.escape(self.method)}; "
                f"variance: {html.escape(self.variance)}</p>" + frame.to_html(index=False))

    def _title(self) -> str:
        return f"Matching estimate of the {self.estimand}"

    def __str__(self) -> str:
        return self._summary_text()

    def _repr_html_(self) -> str:
        return self._summary_html()


@dataclass
class EffectResult(Result):
    """An average treatment effect estimate.

    Attributes
    ----------
    estimand : str
        ``"ATT"``, ``"ATC"`` or ``"ATE"``.
    estimate, std_error : float
    ci_lower, ci_upper : float
        The confidence interval at level ``1 - alpha`` (:meth:`conf_int` gives it at
        any level).
    p_value : float
        Two-sided, for the null of no average effect.
    method : str
        How the estimate was made (score, matching, bias correction).
    variance : str
        Which variance estimator the standard error comes from.
    n_treated, n_control : int
        Units in each arm of the data (the same in every result).
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
    ci_lower: float
    ci_upper: float
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
    # how conf_int() recomputes the interval at another alpha (see Result)
    _interval: str = field(default="wald", repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row: estimand, estimate, std_error, ci_lower, ci_upper, p_value, counts."""
        row = {"estimand": self.estimand, "estimate": float(self.estimate),
               "std_error": float(self.std_error), "ci_lower": float(self.ci_lower),
               "ci_upper": float(self.ci_upper), "p_value": float(self.p_value),
               "n_treated": int(self.n_treated), "n_control": int(self.n_control),
               "n_matched": int(self.n_matched), "n_dropped": int(self.n_dropped),
               "method": self.method, "variance": self.variance}
        return pd.DataFrame([row])

    def _summary_text(self) -> str:
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
            f"{self.p_value:>9.4f}{self.ci_lower:>13.6g}{self.ci_upper:>11.6g}",
            "=" * 78,
        ]
        return "\n".join(lines)

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

