"""Quick start: does matching recover the NSW experimental effect from observational controls?

NSW treated units are compared with PSID controls (a non-experimental comparison
group); the NSW randomised experiment gives the benchmark ATT.

    python examples/quickstart_lalonde.py [--controls psid|cps|nsw] [--plot love.png]
    CAUSALSM_FAST=1 python examples/quickstart_lalonde.py    # a quick run (10 epochs)

Writes the love plot to ``--plot`` or, by default, ``love_lalonde.png`` in
``$CAUSALSM_OUTPUT_DIR`` (default ``examples/output/``).
"""

import argparse
import os
import warnings
from pathlib import Path

import pandas as pd

import causalsm as csm

FAST = os.environ.get("CAUSALSM_FAST", "") not in ("", "0")
OUT = Path(os.environ.get("CAUSALSM_OUTPUT_DIR") or Path(__file__).resolve().parent / "output")

COVARIATES = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75", "u74", "u75"]


def neural():
    """The default neural score (200 epochs); 10 epochs in fast mode."""
    return csm.NeuralBalancingScore(random_state=0, **({"epochs": 10} if FAST else {}))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--controls", default="psid", choices=["psid", "cps", "nsw"])
    parser.add_argument("--plot", default=None, help="write the love plot to this file")
    args = parser.parse_args(argv)

    df = csm.datasets.load_lalonde(args.controls)
    bench = csm.datasets.nsw_benchmark()
    print(f"NSW treated vs {args.controls.upper()} controls: {int(df.treat.sum())} treated, "
          f"{int((1 - df.treat).sum())} controls")
    print(f"Experimental benchmark ATT: {bench.att:,.0f} (SE {bench.se:,.0f})\n")

    methods = {
        "Propensity score, 1-NN": dict(score="propensity"),
        "Propensity score, 1-NN, bias-corrected": dict(score="propensity", bias_correction=True),
        "Propensity score, AI (2016) variance": dict(score="propensity", variance="ai_ps"),
        "Mahalanobis, 1-NN, bias-corrected": dict(score="mahalanobis"),
        "Mahalanobis, 4-NN, wild bootstrap": dict(score="mahalanobis", n_neighbors=4,
                                                   variance="wild_bootstrap", random_state=0),
        "Neural balancing score (5-d), bias-corrected": dict(score=neural(), random_state=0),
        "Neural score, 5-NN, bias-corrected": dict(score=neural(), n_neighbors=5,
                                                   random_state=0),
    }
    rows = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        for name, options in methods.items():
            res = csm.estimate_effect(df, treatment="treat", outcome="re78",
                                      covariates=COVARIATES, estimand="ATT", **options)
            rows.append({"method": name, "ATT": res.estimate, "SE": res.std_error,
                         "CI low": res.ci_lower, "CI high": res.ci_upper,
                         "covers benchmark": res.ci_lower <= bench.att <= res.ci_upper})
    table = pd.DataFrame(rows).set_index("method")
    with pd.option_context("display.float_format", "{:,.0f}".format, "display.width", 120,
                           "display.max_columns", 10):
        print(table)

    est = csm.MatchingEstimator(balancing_score=csm.CovariateScore("mahalanobis"))
    est.fit(df[COVARIATES], df.treat, df.re78)
    print("\nBalance of Mahalanobis matching (standardized mean differences):")
    print(est.balance()[["smd_before", "smd_after"]].round(3).to_string())
    import matplotlib
    matplotlib.use("Agg")
    from causalsm.plotting import love_plot
    if args.plot is None:
        OUT.mkdir(parents=True, exist_ok=True)
    path = args.plot or OUT / "love_lalonde.png"
    ax = love_plot(est.balance())
    ax.figure.savefig(path, bbox_inches="tight")
    print(f"\nlove plot written to {path}")


if __name__ == "__main__":
    main()
