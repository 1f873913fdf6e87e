"""Which matching methods recover the NSW experimental effect from observational controls?

LaLonde's (1986) test, as Dehejia and Wahba (1999) ran it: the 185 NSW trainees are
compared with a non-experimental comparison group (PSID-1: 2,490 men; CPS-1: 15,992
men), and each method's ATT is checked against the NSW randomised experiment
(benchmark ATT about $1,794, SE $671).  ``causalsm.compare`` runs NSM, the network's
propensity (NN-PS), logistic PSM, Mahalanobis and PCA-5 matching, multiply robust
matching, random matching (the floor), and optimal full matching on the neural and on the
propensity score (g-computation after matching) on the same data.

Writes to ``$CAUSALSM_OUTPUT_DIR`` (default ``examples/output/``):
``compare_lalonde.png`` (estimates and intervals against the benchmark, one panel per
comparison group), ``compare_lalonde_love.png`` (covariate balance of NSM on PSID) and
``compare_lalonde_overlap.png`` (the NSM score of the treated and of their matches),
and the tables as ``compare_lalonde_{psid,cps}.csv``.

    python examples/compare_lalonde.py          # about 5 minutes on 2 cores
    CAUSALSM_FAST=1 python examples/compare_lalonde.py   # seconds: few epochs, CPS subsample
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import causalsm as csm  # noqa: E402
from causalsm.plotting import love_plot, plot_comparison, plot_score_overlap  # noqa: E402

FAST = os.environ.get("CAUSALSM_FAST", "") not in ("", "0")
OUT = Path(os.environ.get("CAUSALSM_OUTPUT_DIR") or Path(__file__).resolve().parent / "output")
COVARIATES = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75", "u74", "u75"]
NEURAL = {"epochs": 5} if FAST else {}           # 200 epochs by default
MR = {"n_bootstrap": 20} if FAST else {}          # 200 replicates by default


def sample(controls: str) -> pd.DataFrame:
    df = csm.datasets.load_lalonde(controls)
    if FAST and controls == "cps":                # fast mode: 1,000 of the CPS controls
        keep = df.treat.eq(1) | df.index.isin(
            df[df.treat.eq(0)].sample(1000, random_state=0).index)
        df = df[keep].reset_index(drop=True)
    return df


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    bench = csm.datasets.nsw_benchmark()
    print(f"NSW experimental benchmark ATT: {bench.att:,.0f} (SE {bench.se:,.0f})"
          + ("   [fast mode: 5 epochs, 20 bootstrap replicates, 1,000 CPS controls]"
             if FAST else ""))
    tables = {}
    for controls in ("psid", "cps"):
        df = sample(controls)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tab = csm.compare(df, treatment="treat", outcome="re78", covariates=COVARIATES,
                              estimand="ATT", truth=bench.att, random_state=0,
                              n_jobs=1 if FAST else 2, neural_params=NEURAL, mr_params=MR)
        tables[controls] = tab
        tab.to_csv(OUT / f"compare_lalonde_{controls}.csv", index=False)
        print(f"\nNSW treated vs {controls.upper()} controls ({int(df.treat.sum())} treated, "
              f"{int((1 - df.treat).sum()):,} controls; max |SMD| before matching "
              f"{tab.attrs['max_abs_smd_before']:.2f}):")
        shown = tab.set_index("method")[["estimate", "std_error", "ci_lower", "ci_upper",
                                         "max_abs_smd", "abs_error", "covers_truth"]]
        with pd.option_context("display.float_format", "{:,.2f}".format,
                               "display.width", 120):
            print(shown.to_string(formatters={c: "{:,.0f}".format for c in
                                              ("estimate", "std_error", "ci_lower",
                                               "ci_upper", "abs_error")}))
        ok = tab.loc[tab["covers_truth"], "method"].tolist()
        print(f"CI covers the benchmark: {', '.join(ok) if ok else 'none'}; closest: "
              f"{tab.loc[tab['abs_error'].idxmin(), 'method']}")

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.2), sharey=True)
    for ax, (controls, tab) in zip(axes, tables.items()):
        plot_comparison(tab, ax=ax)
        ax.set_title(f"NSW treated vs {controls.upper()} controls")
    fig.tight_layout()
    fig.savefig(OUT / "compare_lalonde.png", dpi=110)
    plt.close(fig)

    # balance and overlap of NSM on PSID (the same network as the table's nsm row)
    df = sample("psid")
    est = csm.MatchingEstimator(balancing_score=csm.NeuralBalancingScore(random_state=0, **NEURAL),
                                estimand="ATT", random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.fit(df[COVARIATES], df.treat, df.re78)
    ax = love_plot(est.balance())
    ax.set_title("NSM on PSID controls: balance before and after matching")
    ax.figure.savefig(OUT / "compare_lalonde_love.png", dpi=110, bbox_inches="tight")
    plt.close(ax.figure)
    axes = plot_score_overlap(est.balancing_score_.transform(df[COVARIATES]), df.treat,
                              weights=est.matches_.weights,
                              labels=("matched PSID controls", "NSW treated"))
    axes[0].figure.suptitle("NSM score after matching")
    axes[0].figure.savefig(OUT / "compare_lalonde_overlap.png", dpi=110, bbox_inches="tight")
    plt.close(axes[0].figure)
    for name in ("compare_lalonde.png", "compare_lalonde_love.png",
                 "compare_lalonde_overlap.png"):
        print(f"written: {OUT / name}")


if __name__ == "__main__":
    main()
