"""The ``causalsm`` command: compare matching methods on a bundled data set or a CSV file.

::

    causalsm compare --data lalonde_psid
    causalsm compare --data mydata.csv --treatment treated --outcome y --covariates age,income \\
        --methods psm mahalanobis nsm --estimand ATE --out results.csv --plot comparison.png
    causalsm compare --data actg175          # four arms: one row per method and contrast
    causalsm compare --data causalgps        # a continuous treatment: exposure-response curves
    causalsm datasets

A numeric treatment with more than ten distinct values is continuous (``--treatment-type``
overrides the detection, which the output states): ``compare`` then estimates its
exposure-response curve by GPS matching and weighting (see ``causalsm.exposure_comparison``).

Mistakes (an unknown column, method or data set, a file that cannot be read) end with
one line ``causalsm: error: ...`` on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import warnings
from typing import Any, Sequence

import numpy as np
import pandas as pd

__all__ = ["main"]


class CLIError(Exception):
    """A user mistake: reported in one line, exit status 2."""


# ------------------------------------------------------------------- data sets
def _load(spec: str) -> tuple[pd.DataFrame, str]:
    """``(frame, name)`` for a catalogue name (``causalsm.datasets.list_datasets``, or a
    short name of ``DATASET_ALIASES``) or a CSV path."""
    from .datasets import dataset_name, list_datasets, load_dataset
    name = dataset_name(spec)
    if name is not None:
        try:
            return load_dataset(name), name
        except (TypeError, ValueError, OSError) as exc:
            raise CLIError(f"could not load data set {name!r}: "
                           f"{' '.join(str(exc).split())}") from None
    looks_like_file = os.sep in spec or "." in os.path.basename(spec) or os.path.exists(spec)
    if not looks_like_file:
        raise CLIError(f"unknown data set {spec!r}; use one of "
                       f"{', '.join(list_datasets()['name'])}, or a path to a .csv file")
    if not os.path.isfile(spec):
        raise CLIError(f"file {spec!r} not found")
    try:
        frame = pd.read_csv(spec)
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError,
            ValueError, OSError) as exc:
        raise CLIError(f"could not read {spec!r} as a CSV file: "
                       f"{' '.join(str(exc).split())}") from None
    if frame.shape[1] < 3:
        raise CLIError(f"{spec!r} has {frame.shape[1]} column(s); a treatment, an outcome and "
                       "at least one covariate are needed")
    return frame, os.path.basename(spec)


def _names(values: Sequence[str] | None) -> list[str] | None:
    """Accept ``a b c`` and ``a,b,c`` (and a mix)."""
    if not values:
        return None
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


# ------------------------------------------------------------------ formatting
def _fmt(v: Any) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "n/a"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"


def _number_format(values) -> Any:
    """One format for a set of numbers: about 4 significant digits for the largest."""
    finite = [abs(float(v)) for v in values if math.isfinite(float(v))]
    big = max(finite, default=1.0)
    decimals = 0 if big >= 1000 else min(4, max(0, 3 - int(math.floor(math.log10(big or 1.0)))))

    def fmt(v: Any) -> str:
        return "n/a" if not math.isfinite(float(v)) else f"{float(v):,.{decimals}f}"
    return fmt


def _print_table(table: pd.DataFrame, truth: float | None, truth_label: str,
                 sensitivity: bool = False) -> None:
    level = 95
    num = _number_format(pd.concat([table["estimate"], table["std_error"],
                                    table["ci_lower"], table["ci_upper"]]))
    shown = pd.DataFrame({
        "method": table["method"],
        "estimate": table["estimate"].map(num),
        "std.err": table["std_error"].map(num),
        f"{level}% CI": [f"[{num(a)}, {num(b)}]" for a, b in zip(table["ci_lower"],
                                                                    table["ci_upper"])],
        "max|SMD|": table["max_abs_smd"].map(lambda v: "n/a" if not math.isfinite(v)
                                              else f"{v:.3f}"),
        "lin.MMD": table["linear_mmd"].map(lambda v: "n/a" if not math.isfinite(v)
                                           else f"{v:.3f}"),
        "dropped": [str(v) if v >= 0 else "n/a" for v in table["n_dropped"]],
        "seconds": table["fit_seconds"].map(lambda v: "n/a" if not math.isfinite(v)
                                            else f"{v:.1f}"),
    })
    if truth is not None:
        shown[f"covers {truth_label}"] = ["yes" if c else "no" for c in table["covers_truth"]]
    if sensitivity:
        shown["Gamma*"] = table["critical_gamma"].map(
            lambda v: "n/a" if math.isnan(v) else "inf" if math.isinf(v) else f"{v:.2f}")
        shown["E-value (CI)"] = [
            "n/a" if not math.isfinite(e) else
            f"{e:.2f} ({c:.2f})" if math.isfinite(c) else f"{e:.2f}"
            for e, c in zip(table["evalue"], table["evalue_ci"])]
    print(shown.to_string(index=False))
    for m, err in zip(table["method"], table["error"]):
        if err:
            print(f"  {m}: {err}")
    if sensitivity:
        print("\nGamma*: Rosenbaum's critical Gamma, the hidden bias in the odds of treatment "
              "within matched sets\n  at which the two-sided test of no effect stops being "
              "significant at 5% (1 = not significant\n  without bias; n/a = the matched sets "
              "overlap, as with replacement: rerun with --no-replace).\nE-value: VanderWeele "
              "& Ding (2017), of the estimate (and of its interval), as a standardised\n  mean "
              "difference.  See causalsm.sensitivity.")


def _json_value(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _json_value(v.item())
    return v


def _write_out(path: str, table: pd.DataFrame, meta: dict) -> None:
    if path.lower().endswith(".csv"):
        table.to_csv(path, index=False)
    else:
        rows = [{k: _json_value(v) for k, v in row.items()}
                for row in table.to_dict(orient="records")]
        payload = {k: _json_value(v) for k, v in meta.items()}
        payload["results"] = rows
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")


def _check_output_path(path: str | None, option: str, suffixes: tuple[str, ...] = ()) -> None:
    if path is None:
        return
    if suffixes and not path.lower().endswith(suffixes):
        raise CLIError(f"{option} must end in {' or '.join(suffixes)}, got {path!r}")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option}: folder {folder!r} does not exist")


# ------------------------------------------------------------------- commands
def _cmd_compare(args: argparse.Namespace) -> int:
    _check_output_path(args.out, "--out", (".csv", ".json"))
    _check_output_path(args.plot, "--plot")
    if args.plot:
        from matplotlib.figure import Figure
        fmt = os.path.splitext(args.plot)[1].lstrip(".").lower()
        supported = Figure().canvas.get_supported_filetypes()
        if fmt not in supported:
            raise CLIError(f"--plot: unknown image format {fmt!r}; use one of "
                           f"{', '.join(sorted(supported))}")
    frame, name = _load(args.data)
    attrs = dict(getattr(frame, "attrs", {}) or {})
    treatment = args.treatment or attrs.get("treatment")
    outcome = args.outcome or attrs.get("outcome")
    if outcome is None and attrs.get("duration"):
        raise CLIError(f"{name} is survival data (duration {attrs['duration']!r}, event "
                       f"{attrs.get('event')!r}): compare estimates average effects; "
                       "use causalsm.hazard_ratio, or name an --outcome")
    if treatment is None or outcome is None:
        raise CLIError(f"name the {'--treatment' if treatment is None else '--outcome'} "
                       f"column of {name}")
    covariates = _names(args.covariates) or attrs.get("covariates")
    methods = _names(args.methods)
    from ._validation import InputError, treatment_kind
    if treatment not in frame.columns:
        raise CLIError(f"column '{treatment}' is not in the data; available columns: "
                       f"{', '.join(map(str, frame.columns[:20]))}")
    try:
        kind = treatment_kind(frame[treatment], args.treatment_type)
    except InputError as exc:
        raise CLIError(str(exc)) from None
    if kind == "continuous":
        return _compare_continuous(args, frame, name, treatment, outcome, covariates, methods)
    if kind == "multilevel":
        return _compare_levels(args, frame, name, attrs, treatment, outcome, covariates,
                               methods)
    estimand = (args.estimand or "ATT").upper()
    for flag, value in (("--target", args.target), ("--reference", args.reference),
                        ("--contrasts", args.contrasts), ("--p-adjust", args.p_adjust),
                        ("--trim", args.trim)):
        if value is not None:
            raise CLIError(f"{flag} is for a treatment with three or more levels; "
                           f"{treatment!r} has two")

    truth, truth_label, bench_line = None, "truth", None
    true_effect = attrs.get("true_effect") or {}
    if isinstance(true_effect, dict) and true_effect.get(estimand) is not None:
        truth = float(true_effect[estimand])
        bench_line = f"True {estimand}: {_fmt(truth)}"
    if name.startswith("lalonde") and estimand == "ATT":
        from .datasets import nsw_benchmark     # the experiment is the benchmark
        bench = nsw_benchmark()
        truth, truth_label = bench.att, "benchmark"
        bench_line = (f"NSW experimental benchmark ATT: {_fmt(bench.att)} "
                      f"(SE {_fmt(bench.se)})")
    options = {}
    if args.n_neighbors is not None:
        options["n_neighbors"] = args.n_neighbors
    if args.caliper is not None:
        options["caliper"] = args.caliper
    if args.replace is False:
        options["replace"] = False
    neural_params = {"epochs": args.epochs} if args.epochs is not None else None
    mr_params = {"n_bootstrap": args.n_bootstrap} if args.n_bootstrap is not None else None
    table = _run_compare(args, frame, treatment, outcome, covariates, methods, estimand,
                         truth=truth, neural_params=neural_params, mr_params=mr_params,
                         treatment_type="binary", **options)
    a = table.attrs
    n_cov = len(covariates) if covariates else frame.shape[1] - 2
    print(f"Data: {name}, {a['n_treated'] + a['n_control']:,} units "
          f"({a['n_treated']:,} treated, {a['n_control']:,} control); {estimand} of "
          f"{treatment!r} on {outcome!r}, {n_cov} covariates")
    print(f"Balance before matching: max |SMD| {a['max_abs_smd_before']:.3f}, "
          f"linear MMD {a['linear_mmd_before']:.3f}")
    if bench_line:
        print(bench_line)
    print()
    _print_table(table, truth, truth_label, sensitivity=args.sensitivity)
    meta = {"data": name, "treatment": treatment, "outcome": outcome,
            "covariates": list(covariates) if covariates else None, "estimand": estimand,
            "truth": truth, "seed": args.seed, **{k: a[k] for k in (
                "n_treated", "n_control", "max_abs_smd_before", "linear_mmd_before")}}
    if args.out:
        _write_out(args.out, table, meta)
        print(f"\nresults written to {args.out}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plotting import plot_comparison
        ax = plot_comparison(table, truth=truth)
        ax.set_title(f"{name}: {estimand} by method")
        ax.figure.savefig(args.plot, bbox_inches="tight", dpi=120)
        print(f"plot written to {args.plot}")
    if (table["error"] != "").all():
        print("causalsm: error: every method failed (see the table)", file=sys.stderr)
        return 1
    return 0


def _run_compare(args, frame, treatment, outcome, covariates, methods, estimand, **kwargs):
    """``causalsm.compare`` with the command's seed, jobs and progress bar; warnings
    silenced, input mistakes as a :class:`CLIError`."""
    from . import compare
    from ._validation import InputError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return compare(frame, treatment=treatment, outcome=outcome, covariates=covariates,
                           methods=methods, estimand=estimand, random_state=args.seed,
                           n_jobs=args.n_jobs, verbose=not args.quiet and sys.stderr.isatty(),
                           **kwargs)
        except InputError as exc:
            raise CLIError(str(exc)) from None


def _compare_levels(args, frame, name, attrs, treatment, outcome, covariates, methods) -> int:
    """``compare`` for a treatment with three or more levels: one row per method and
    contrast."""
    estimand = (args.estimand or attrs.get("estimand") or "ATE").upper()
    target = args.target
    if target is None and estimand == "ATT":
        target = attrs.get("target")
    if estimand == "ATC":
        raise CLIError("--estimand ATC is for a 0/1 treatment; with several levels use ATE, "
                       "or ATT with --target LEVEL")
    options = {"contrasts": args.contrasts or ("reference" if estimand == "ATT"
                                               else "pairwise")}
    for key, value in (("target", target), ("reference", args.reference),
                       ("n_neighbors", args.n_neighbors), ("p_adjust", args.p_adjust),
                       ("n_bootstrap", args.n_bootstrap)):
        if value is not None:
            options[key] = value
    if args.caliper is not None:
        raise CLIError("--caliper: multi-level matching has no caliper; use --trim")
    if args.replace is False or args.sensitivity:
        raise CLIError(f"{'--no-replace' if args.replace is False else '--sensitivity'} is "
                       "for a 0/1 treatment; multi-level matching is with replacement and "
                       "has no Rosenbaum bounds")
    if args.trim is not None:
        options["trim"] = args.trim
    neural_params = {"epochs": args.epochs} if args.epochs is not None else None
    table = _run_compare(args, frame, treatment, outcome, covariates, methods, estimand,
                         neural_params=neural_params, **options)
    a = table.attrs
    counts = ", ".join(f"{k}: {v:,}" for k, v in a["n_per_level"].items())
    who = ("all units" if a["target"] is None
           else f"the units that received {a['target']}")
    n_cov = len(covariates) if covariates else frame.shape[1] - 2
    print(f"Data: {name}, {sum(a['n_per_level'].values()):,} units in "
          f"{len(a['levels'])} levels of {treatment!r} ({counts}); {estimand} over {who}, "
          f"outcome {outcome!r}, {n_cov} covariates")
    names = attrs.get("level_names")
    if isinstance(names, dict):
        print("Levels: " + ", ".join(f"{k} = {v}" for k, v in names.items()))
    print(f"Balance before matching: largest pairwise max |SMD| {a['max_abs_smd_before']:.3f}")
    truth = a.get("truth")
    if truth:
        print(f"Benchmark: {attrs.get('true_means_note', 'as given')}")
    print()
    num = _number_format(pd.concat([table["estimate"], table["std_error"]]))
    shown = pd.DataFrame({
        "method": table["method"], "contrast": table["contrast"],
        "estimate": table["estimate"].map(num), "std.err": table["std_error"].map(num),
        "95% CI": [f"[{num(lo)}, {num(hi)}]" for lo, hi in zip(table["ci_lower"],
                                                              table["ci_upper"])],
        "max|SMD|": table["max_abs_smd"].map(lambda v: "n/a" if not math.isfinite(v)
                                              else f"{v:.3f}"),
        "seconds": table["fit_seconds"].map(lambda v: "n/a" if not math.isfinite(v)
                                            else f"{v:.1f}")})
    if truth:
        shown["benchmark"] = table["truth"].map(num)
        shown["covers"] = ["yes" if c else "no" for c in table["covers_truth"]]
    ok = table["error"] == ""
    print(shown[ok].to_string(index=False))
    for m, err in zip(table["method"][~ok], table["error"][~ok]):
        print(f"  {m}: {err}")
    meta = {"data": name, "treatment": treatment, "outcome": outcome,
            "covariates": list(covariates) if covariates else None, "estimand": estimand,
            "target": a["target"], "levels": a["levels"], "seed": args.seed,
            "n_per_level": a["n_per_level"], "max_abs_smd_before": a["max_abs_smd_before"]}
    if args.out:
        _write_out(args.out, table, meta)
        print(f"\nresults written to {args.out}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plotting import plot_comparison_grid
        axes = plot_comparison_grid(table[ok].reset_index(drop=True))
        axes[0].figure.suptitle(f"{name}: {estimand} by method and contrast")
        axes[0].figure.savefig(args.plot, bbox_inches="tight", dpi=120)
        print(f"plot written to {args.plot}")
    if not ok.any():
        print("causalsm: error: every method failed (see the table)", file=sys.stderr)
        return 1
    return 0


def _compare_continuous(args, frame, name, treatment, outcome, covariates, methods) -> int:
    """``causalsm compare`` for a continuous treatment: exposure-response curves."""
    detected = "given by --treatment-type" if args.treatment_type == "continuous" else \
        "detected; --treatment-type overrides"
    n_values = int(frame[treatment].nunique())
    options = {}
    if args.eval_points is not None:
        options["eval_points"] = args.eval_points
    table = _run_compare(args, frame, treatment, outcome, covariates, methods, None,
                         treatment_type="continuous",
                         n_bootstrap=200 if args.n_bootstrap is None else args.n_bootstrap,
                         **options)
    n_cov = len(covariates) if covariates else frame.shape[1] - 2
    print(f"Data: {name}, {len(frame):,} units; continuous treatment {treatment!r} "
          f"({n_values:,} distinct values; {detected}): exposure-response curve of "
          f"{outcome!r}, {n_cov} covariates")
    truth = "truth" in table.columns
    if truth:
        print("True curve known (simulated data): abs. error and coverage shown")
    print()
    per = table.groupby("method", sort=False).first()
    shown = pd.DataFrame({
        "method": per.index,
        "max|corr| before": per["max_abs_corr_before"].map(lambda v: f"{v:.3f}"),
        "after": per["max_abs_corr_after"].map(lambda v: "n/a" if not math.isfinite(v)
                                               else f"{v:.3f}"),
        "ESS": per["ess"].map(lambda v: "n/a" if not math.isfinite(v) else f"{v:,.0f}"),
        "trimmed": [str(v) if v >= 0 else "n/a" for v in per["n_dropped"]],
        "seconds": per["fit_seconds"].map(lambda v: "n/a" if not math.isfinite(v)
                                          else f"{v:.1f}")})
    if truth:
        err = table.groupby("method", sort=False)["abs_error"].mean()
        cov = table.groupby("method", sort=False)["covers_truth"].mean()
        shown["mean |error|"] = [f"{err[m]:.3g}" for m in per.index]
        shown["coverage"] = [f"{cov[m]:.2f}" for m in per.index]
    print(shown.to_string(index=False))
    for m, err in zip(per.index, per["error"]):
        if err:
            print(f"  {m}: {err}")
    ok = table[table["error"] == ""]
    if len(ok):
        points = np.unique(ok["exposure"])
        pick = points[np.unique(np.linspace(0, points.size - 1, min(5, points.size))
                                .round().astype(int))]
        num = _number_format(ok["estimate"])
        sub = ok[ok["exposure"].isin(pick)]
        curve = sub.pivot(index="exposure", columns="method", values="estimate")
        lo = sub.pivot(index="exposure", columns="method", values="ci_lower")
        hi = sub.pivot(index="exposure", columns="method", values="ci_upper")
        cells = {m: [f"{num(curve.loc[x, m])} [{num(lo.loc[x, m])}, {num(hi.loc[x, m])}]"
                     for x in curve.index] for m in curve.columns if m in per.index}
        print(f"\nCurve E[{outcome}(w)] (95% bootstrap interval) at {len(curve)} exposures:")
        print(pd.DataFrame(cells, index=[f"{x:.4g}" for x in curve.index])
              .rename_axis(treatment).to_string())
    meta = {"data": name, "treatment": treatment, "outcome": outcome,
            "treatment_type": "continuous",
            "covariates": list(covariates) if covariates else None, "seed": args.seed}
    if args.out:
        _write_out(args.out, table, meta)
        print(f"\nresults written to {args.out}")
    if args.plot:
        import matplotlib
        matplotlib.use("Agg")
        from .plotting import plot_exposure_response
        ax = None
        for m, g in ok.groupby("method", sort=False):
            ax = plot_exposure_response(g, ax=ax, band=False, label=m)
        if ax is None:
            raise CLIError("every method failed: nothing to plot")
        if truth:
            g = ok[ok["method"] == ok["method"].iloc[0]]
            ax.plot(g["exposure"], g["truth"], color="black", linestyle="--", label="truth")
            ax.legend(frameon=False, fontsize="small")
        ax.set_xlabel(treatment)
        ax.set_ylabel(f"E[{outcome}(w)]")
        ax.set_title(f"{name}: exposure-response curves")
        ax.figure.savefig(args.plot, bbox_inches="tight", dpi=120)
        print(f"plot written to {args.plot}")
    if (per["error"] != "").all():
        print("causalsm: error: every method failed (see the table)", file=sys.stderr)
        return 1
    return 0


def _cmd_datasets(args: argparse.Namespace) -> int:
    from .datasets import DATASET_ALIASES, list_datasets
    table = list_datasets()
    width = int(table["name"].str.len().max())
    print("Data sets for `causalsm compare --data NAME` (or give a path to a .csv file):")
    for n, d in zip(table["name"], table["description"]):
        print(f"  {n:<{width}}  {d}")
    short = ", ".join(f"{a} = {n}" for a, n in DATASET_ALIASES.items())
    print(f"Short names: {short}; '-' may stand for '_'.")
    return 0


# ---------------------------------------------------------------------- parser
class _Parser(argparse.ArgumentParser):
    """argparse that reports mistakes in one line and exits with status 2."""

    def error(self, message: str):              # noqa: D401 - argparse's hook
        self.exit(2, f"causalsm: error: {message} (see `{self.prog} --help`)\n")


def _number(kind: type, what: str, ok):
    """An argparse ``type`` that parses ``kind`` and rejects values failing ``ok`` at
    parse time (status 2, one ``causalsm: error:`` line)."""
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
        return value
    parse.__name__ = what                        # argparse names the type in messages
    return parse


_POSITIVE_INT = _number(int, "a positive integer", lambda v: v >= 1)
_SEED = _number(int, "a non-negative integer", lambda v: v >= 0)
_N_JOBS = _number(int, "a non-zero integer (-1: all cores)", lambda v: v != 0)
_POSITIVE_FLOAT = _number(float, "a positive number", lambda v: 0 < v < float("inf"))
_BOOTSTRAP = _number(int, "an integer of at least 2", lambda v: v >= 2)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="causalsm", description="Causal inference by matching on "
                     "learned balancing scores.")
    from . import __version__
    parser.add_argument("--version", action="version", version=f"causalsm {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    cmp_ = sub.add_parser("compare", help="run several matching methods side by side",
                          description="Estimate one effect with several matching methods "
                          "(NSM, NN-PS, PSM, Mahalanobis, PCA-5, multiply robust, random, and "
                          "full matching on the neural and propensity scores) and print a "
                          "comparison table.")
    cmp_.add_argument("--data", required=True, metavar="NAME|PATH.csv",
                      help="a bundled data set (see `causalsm datasets`) or a CSV file")
    cmp_.add_argument("--treatment", help="treatment column (0/1); default from the data set")
    cmp_.add_argument("--outcome", help="outcome column; default from the data set")
    cmp_.add_argument("--covariates", nargs="+", metavar="COL",
                      help="covariate columns (space- or comma-separated); default: the "
                      "data set's, or every other column of a CSV")
    cmp_.add_argument("--methods", "--method", nargs="+", metavar="METHOD", dest="methods",
                      help="methods to run (default: nsm nn_ps psm mahalanobis pca mr random "
                      "full_nsm full_psm); also the designs optimal_psm subclass_psm cem. "
                      "Several levels: nsm nn_ps psm mahalanobis pca subclass random. "
                      "Continuous: matching matching_kernel matching_score_matching "
                      "weighting weighting_kernel weighting_score_matching")
    cmp_.add_argument("--estimand", default=None, type=str.upper,
                      choices=["ATT", "ATE", "ATC"],
                      help="default ATT (ATE for a treatment with several levels, unless "
                      "the data set names another)")
    cmp_.add_argument("--target", default=None,
                      help="several levels, ATT: the level whose recipients the effects "
                      "average over")
    cmp_.add_argument("--reference", default=None,
                      help="several levels: reference level (default the first)")
    cmp_.add_argument("--contrasts", default=None, choices=["pairwise", "reference"],
                      help="several levels: every pair, or each level against the "
                      "reference (default pairwise; reference with --estimand ATT)")
    cmp_.add_argument("--p-adjust", default=None, metavar="METHOD",
                      help="several levels: adjust the p-values of the contrasts (holm, "
                      "bonferroni, ...)")
    cmp_.add_argument("--trim", default=None, choices=["crump", "multilevelmatching"],
                      help="several levels: drop units with limited overlap of the GPS")
    cmp_.add_argument("--out", metavar="FILE", help="write the table to FILE.csv or FILE.json")
    cmp_.add_argument("--plot", metavar="FIG", help="write the comparison plot (e.g. fig.png)")
    cmp_.add_argument("--seed", type=_SEED, default=0, help="random seed (default 0)")
    cmp_.add_argument("--n-jobs", type=_N_JOBS, default=1, help="parallel jobs (default 1)")
    cmp_.add_argument("--n-neighbors", type=_POSITIVE_INT, default=None,
                      help="matches per unit (default 1)")
    cmp_.add_argument("--caliper", type=_POSITIVE_FLOAT, default=None,
                      help="caliper in SDs of the score (default none)")
    cmp_.add_argument("--epochs", type=_POSITIVE_INT, default=None,
                      help="training epochs of the neural score (default 200)")
    cmp_.add_argument("--n-bootstrap", type=_BOOTSTRAP, default=None,
                      help="bootstrap replicates of multiply robust matching, of GPS "
                      "subclassification for several levels, or of the curves' bands for a "
                      "continuous treatment (default 200)")
    cmp_.add_argument("--no-replace", dest="replace", action="store_false", default=None,
                      help="match without replacement (matched sets that share no unit, as "
                      "Rosenbaum bounds need)")
    cmp_.add_argument("--sensitivity", action="store_true",
                      help="add Rosenbaum's critical Gamma and the E-value to the table")
    cmp_.add_argument("--treatment-type", default="auto",
                      choices=["auto", "binary", "multilevel", "continuous"],
                      help="auto (default): two values binary, numbers with more than 10 "
                      "distinct values continuous, otherwise several levels")
    cmp_.add_argument("--eval-points", type=_POSITIVE_INT, default=None,
                      help="continuous treatment: exposures at which the curves are "
                      "reported (default 20)")
    cmp_.add_argument("--quiet", action="store_true", help="no progress bar")
    cmp_.set_defaults(func=_cmd_compare)
    ds = sub.add_parser("datasets", help="list the bundled data sets")
    ds.set_defaults(func=_cmd_datasets)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``causalsm`` command; returns the exit status.

    Examples
    --------
    >>> main(["datasets"])                        # doctest: +ELLIPSIS
    Data sets for `causalsm compare --data NAME` (or give a path to a .csv file):
      lalonde_nsw ...
    Short names: lalonde = lalonde_nsw, ihdp = ihdp_b; '-' may stand for '_'.
    0
    """
    parser = _parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return args.func(args)
    except CLIError as exc:
        print(f"causalsm: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("causalsm: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:                     # noqa: BLE001 - never a traceback
        from ._validation import InputError
        msg = " ".join(str(exc).split())
        if isinstance(exc, InputError):
            print(f"causalsm: error: {msg}", file=sys.stderr)
            return 2
        print(f"causalsm: error: {type(exc).__name__}: {msg}", file=sys.stderr)
        return 1


if __name__ == "__main__":                        # pragma: no cover
    sys.exit(main())
