"""Four treatment arms: ACTG 175, confounding induced, randomised contrasts recovered.

ACTG 175 (Hammer et al. 1996) randomised 2,139 HIV-infected adults to four regimens:
zidovudine (ZDV, arm 0), ZDV + didanosine (1), ZDV + zalcitabine (2), didanosine alone
(3).  The outcome is the CD4 count at week 20 (``cd420``).  Because the arms were
randomised, the differences of the arm means on the full trial are experimental
benchmarks of the contrasts.

``csm.datasets.load_actg175_multiarm()`` turns the trial into an observational study:
the ZDV arm is kept whole, and the other arms are subsampled on prognosis (ZDV + ddI
keeps patients with a poor prognosis, ddI alone those with a good one), so the naive
differences of means are biased.  Matching every ZDV patient to every other arm
(``estimand="ATT", target=0``: the effects of switching the ZDV patients to another
regimen, whose population is still the trial's) should recover the benchmarks.

1. one subsample: naive differences, matched contrasts on the multinomial logistic
   generalised propensity score (GPS), the neural balancing score and the covariates,
   the summary table, and the balance of every pair of arms before and after matching;
2. many subsamples: how often each method's 95% interval covers the benchmark;
3. the whole (randomised) trial: all six pairwise contrasts over everyone (ATE), with the
   Abadie-Imbens (2016) variance and Holm-adjusted p-values.

Usage::

    python examples/multiarm_actg175.py [FIGURE_DIR]      # or CAUSALSM_OUTPUT_DIR=DIR
    CAUSALSM_FAST=1 python examples/multiarm_actg175.py   # a quick run (tests)

Writes ``actg175_love.png`` (love plots per pair of arms) and ``actg175_compare.png``
(every method's contrasts against the benchmark).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import causalsm as csm  # noqa: E402
from causalsm.plotting import plot_comparison_grid  # noqa: E402

FAST = os.environ.get("CAUSALSM_FAST", "") not in ("", "0")


def neural(seed=0):
    return csm.NeuralBalancingScore(epochs=20 if FAST else 200, random_state=seed)


def main(out_dir: Path) -> None:
    out_dir.mkdir(parents=True, exist_ok=True)
    df = csm.datasets.load_actg175_multiarm(confounding=1.0, random_state=0)
    cov = df.attrs["covariates"]
    names = df.attrs["level_names"]
    bench = df.attrs["true_means"]
    truth = np.array([bench[k] - bench["0"] for k in ("1", "2", "3")])
    counts = df["arms"].value_counts().sort_index()
    print("ACTG 175, arms 1-3 subsampled on prognosis: "
          + ", ".join(f"{names[str(k)]} {n}" for k, n in counts.items()))
    naive = np.array([df.cd420[df.arms == k].mean() - df.cd420[df.arms == 0].mean()
                      for k in (1, 2, 3)])

    # 1. one subsample ------------------------------------------------------------------
    scores = {"GPS (multinomial logit)": "propensity", "NSM (neural score)": neural(0),
              "Mahalanobis": "mahalanobis"}
    results = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        for label, score in scores.items():
            results[label] = csm.estimate_effect(df, "arms", "cd420", cov, score=score,
                                                 estimand="ATT", target=0,
                                                 contrasts="reference")
    print(f"\n{'CD4 at week 20, regimen - ZDV':32s}" + "".join(
        f"{names[k]:>12s}" for k in ("1", "2", "3")))
    print(f"{'randomised benchmark':32s}" + "".join(f"{v:12.1f}" for v in truth))
    print(f"{'naive difference of means':32s}" + "".join(f"{v:12.1f}" for v in naive))
    for label, res in results.items():
        covers = (res.ci_lower <= truth) & (truth <= res.ci_upper)
        print(f"{'matched, ' + label:32s}" + "".join(
            f"{e:8.1f} ({'ok' if c else 'no'})" for e, c in zip(res.estimate, covers)))
    print("\n" + results["GPS (multinomial logit)"].summary() + "\n")

    est = csm.MultilevelMatching(target=0).fit(df[cov], df["arms"], df["cd420"])
    axes = est.plot_balance(comparisons="pairwise")
    axes[0].figure.savefig(out_dir / "actg175_love.png", dpi=90, bbox_inches="tight")
    plt.close(axes[0].figure)
    bal = est.balance(comparisons="pairwise")
    worst = bal[["smd_before", "smd_after"]].abs().groupby(level="comparison").max()
    print("largest |SMD| per pair of arms, before -> after GPS matching: " + ", ".join(
        f"{c}: {b:.2f} -> {a:.2f}" for c, (b, a) in worst.iterrows()))

    tab = csm.compare(df, "arms", "cd420", cov, estimand="ATT", target=0,
                      contrasts="reference", neural_params={"epochs": 20 if FAST else 200},
                      n_bootstrap=20 if FAST else 200)
    ok = tab[tab["error"] == ""].reset_index(drop=True)
    axes = plot_comparison_grid(ok)
    axes[0].figure.savefig(out_dir / "actg175_compare.png", dpi=90, bbox_inches="tight")
    plt.close(axes[0].figure)
    print(f"figures: {out_dir / 'actg175_love.png'}, {out_dir / 'actg175_compare.png'}")

    # 2. many subsamples ----------------------------------------------------------------
    n_sub = 2 if FAST else 20
    cover = {label: [] for label in scores}
    err = {label: [] for label in ["naive", *scores]}
    for s in range(n_sub):
        sub = csm.datasets.load_actg175_multiarm(confounding=1.0, random_state=100 + s)
        err["naive"].append(np.abs([sub.cd420[sub.arms == k].mean()
                                    - sub.cd420[sub.arms == 0].mean() for k in (1, 2, 3)]
                                   - truth))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            for label, score in scores.items():
                score = neural(s) if label.startswith("NSM") else score
                r = csm.estimate_effect(sub, "arms", "cd420", cov, score=score,
                                        estimand="ATT", target=0, contrasts="reference")
                cover[label].append((r.ci_lower <= truth) & (truth <= r.ci_upper))
                err[label].append(np.abs(r.estimate - truth))
    print(f"\n{n_sub} subsamples: mean absolute error of the three contrasts, and how often "
          "the 95% interval covers the benchmark")
    print(f"  {'naive':28s} {np.mean(err['naive']):6.1f}")
    for label in scores:
        print(f"  {label:28s} {np.mean(err[label]):6.1f}   covers {np.mean(cover[label]):.0%}")

    # 3. the randomised trial: every pair, over everyone ----------------------------------
    full = csm.datasets.load_actg175_multiarm(confounding=0)
    res = csm.estimate_effect(full, "arms", "cd420", cov, p_adjust="holm")
    means = {k: v for k, v in full.attrs["true_means"].items()}
    print("\nWhole trial (randomised), all pairs, ATE with the AI (2016) variance:")
    for c, e, lo, hi, p in zip(res.contrast, res.estimate, res.ci_lower, res.ci_upper,
                               res.p_adjusted):
        a, b = c.split(" - ")
        print(f"  {names[a]:>8s} - {names[b]:<8s} matched {e:6.1f} [{lo:6.1f}, {hi:6.1f}]  "
              f"Holm p {p:.4f}   difference of means {means[a] - means[b]:6.1f}")


if __name__ == "__main__":
    target = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CAUSALSM_OUTPUT_DIR",
                                                                 "examples/output")
    main(Path(target))
