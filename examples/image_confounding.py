"""Confounding by images: neural score matching against propensity-score matching on pixels.

Semi-synthetic data on scikit-learn's bundled 8x8 handwritten digits (1,797 images).
Both the treatment and the outcome depend on the image, through two features no method
is given: a per-digit effect ``g(digit)`` and the amount of ink ``z``::

    P(T = 1 | image) = sigmoid(-0.6 + 1.5 g + 0.5 z)
    Y = 2 g + z + T (1 + 0.5 g) + N(0, 1)          truth: ATT = mean(1 + 0.5 g | T = 1)

Every method goes through ``MatchingEstimator``'s recommended defaults (ATT, matching with
replacement) on a score learned from the 64 pixels alone:

* ``PSM (logistic, pixels)``: the library's default propensity score (maximum-likelihood
  logistic regression of T on the pixels, logit scale);
* ``PSM (L2 logistic, pixels)``: scikit-learn's ridge-penalised logistic regression;
* ``NSM (built-in CNN)`` / ``NSM (MLP encoder)``: :class:`causalsm.NeuralBalancingScore`
  with its defaults (an ensemble of networks with prognostic heads, early stopping on a
  validation split) reading the pixels as 8x8 images through its built-in CNN
  (``image_shape=(8, 8)``, the recommended call), or through a small MLP encoder; the
  estimator then matches on the joint score with 10 neighbours and bias-corrects on it.

Reported per method, averaged over seeds (each seed redraws T and Y and reseeds the
networks): the absolute ATT error, the largest |standardized mean difference| of the two
true confounders (g, z) after matching, the total-variation distance between the digit
mix of the treated images and of their matches, and the linear MMD of the pixels.

Run from the repository root (about a minute on two CPU cores)::

    python examples/image_confounding.py            # 10 seeds, MLP and CNN encoders
    python examples/image_confounding.py --seeds 3 --encoders mlp
    CAUSALSM_FAST=1 python examples/image_confounding.py   # 2 seeds, MLP, 5 epochs

Writes ``image_confounding.png`` (ATT error and confounder balance by method) to
``$CAUSALSM_OUTPUT_DIR`` (default ``examples/output/``).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import causalsm as csm  # noqa: E402
from causalsm.balance import linear_mmd  # noqa: E402
from causalsm.datasets import simulate_image_confounding  # noqa: E402

FAST = os.environ.get("CAUSALSM_FAST", "") not in ("", "0")
OUT = Path(os.environ.get("CAUSALSM_OUTPUT_DIR") or Path(__file__).resolve().parent / "output")


def simulate(seed: int) -> dict:
    """Digits with a treatment and an outcome that both depend on the image.

    The generator is :func:`causalsm.datasets.simulate_image_confounding`.
    """
    df = simulate_image_confounding(random_state=seed)
    pixels = np.ascontiguousarray(df[df.attrs["covariates"]].to_numpy())   # C order, as before
    return {"pixels": pixels, "digit": df["digit"].to_numpy(),
            "confounders": df[["g", "z"]].to_numpy(), "t": df["treat"].to_numpy(),
            "y": df["y"].to_numpy(), "att": df.attrs["true_effect"]["ATT"]}


def mlp_encoder() -> nn.Module:
    return nn.Sequential(nn.Linear(64, 64), nn.ReLU())


ENCODERS = {"mlp": "NSM (MLP encoder)", "cnn": "NSM (built-in CNN)"}


def nsm(encoder: str, seed: int, epochs: int) -> csm.NeuralBalancingScore:
    """The library's recommended network (an ensemble with prognostic heads, early
    stopping on a validation split) reading the pixels as 8x8 images through its
    built-in CNN (``image_shape``), or through a small MLP encoder given as ``encoder``."""
    if encoder == "cnn":
        return csm.NeuralBalancingScore(image_shape=(8, 8), epochs=epochs, random_state=seed)
    return csm.NeuralBalancingScore(encoder=mlp_encoder(), standardize=False, epochs=epochs,
                                    random_state=seed)


def class_tv(digit: np.ndarray, t: np.ndarray, w: np.ndarray) -> float:
    """Total variation between the treated digit mix and the matched controls' mix."""
    p1 = np.bincount(digit[t == 1], minlength=10) / (t == 1).sum()
    p0 = np.bincount(digit[t == 0], weights=w[t == 0], minlength=10) / w[t == 0].sum()
    return 0.5 * float(np.abs(p1 - p0).sum())


def run(seeds=range(10), encoders=("mlp", "cnn"), epochs: int = 100) -> pd.DataFrame:
    """One row per (seed, method): ATT error and balance after 1-NN matching."""
    rows = []
    for seed in seeds:
        d = simulate(seed)
        X, t, y = d["pixels"], d["t"], d["y"]
        varying = X.std(axis=0) > 0
        methods = {"PSM (logistic, pixels)": csm.PropensityScore(),
                   "PSM (L2 logistic, pixels)": csm.PropensityScore(
                       model=LogisticRegression(max_iter=5000))}
        for key in encoders:
            methods[ENCODERS[key]] = nsm(key, seed, epochs)
        rows.append({"seed": seed, "method": "No matching",
                     "att_error": abs(y[t == 1].mean() - y[t == 0].mean() - d["att"]),
                     "confounder_smd": csm.balance_table(d["confounders"], t)[
                         "smd_before"].abs().max(),
                     "digit_tv": class_tv(d["digit"], t, np.ones(t.size)),
                     "pixel_mmd": linear_mmd(X[:, varying], t), "seconds": 0.0})
        for label, score in methods.items():
            start = time.perf_counter()
            est = csm.MatchingEstimator(balancing_score=score, random_state=seed).fit(X, t, y)
            w = est.matches_.weights
            rows.append({
                "seed": seed, "method": label,
                "att_error": abs(est.effect_.estimate - d["att"]),
                "confounder_smd": csm.balance_table(d["confounders"], t, weights=w)[
                    "smd_after"].abs().max(),
                "digit_tv": class_tv(d["digit"], t, w),
                "pixel_mmd": linear_mmd(X[:, varying], t, w),
                "seconds": time.perf_counter() - start})
    return pd.DataFrame(rows)


def summarize(runs: pd.DataFrame) -> pd.DataFrame:
    """Mean ± standard error over seeds, in the order the methods were run."""
    order = list(dict.fromkeys(runs["method"]))
    g = runs.groupby("method")
    cols = ["att_error", "confounder_smd", "digit_tv", "pixel_mmd"]
    mean, se = g[cols].mean(), g[cols].std(ddof=1) / np.sqrt(g.size().to_numpy()[:, None])
    out = mean.round(3).astype(str) + " ± " + se.round(3).astype(str)
    out["seconds"] = g["seconds"].mean().round(2)
    return out.loc[order]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description="NSM vs PSM under image confounding")
    ap.add_argument("--seeds", type=int, default=2 if FAST else 10)
    ap.add_argument("--encoders", nargs="+", default=["mlp"] if FAST else ["mlp", "cnn"],
                    choices=list(ENCODERS))
    ap.add_argument("--epochs", type=int, default=5 if FAST else 100)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")       # separation warnings of the pixel logistic fit
        runs = run(range(args.seeds), tuple(args.encoders), args.epochs)
    print(f"8x8 digits, {args.seeds} seeds, 1-NN matching with replacement, ATT "
          f"({time.perf_counter() - start:.0f} s)\n")
    with pd.option_context("display.width", 120):
        print(summarize(runs).to_string())
    plot(runs, OUT / "image_confounding.png")


def plot(runs: pd.DataFrame, path: Path) -> None:
    """ATT error and confounder balance by method: mean and standard error over seeds."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    order = list(dict.fromkeys(runs["method"]))[::-1]
    g = runs.groupby("method")
    fig, axes = plt.subplots(1, 2, figsize=(10, 0.45 * len(order) + 1.5), sharey=True)
    for ax, col, label in zip(axes, ("att_error", "confounder_smd"),
                              ("|ATT error|", "max |SMD| of the true confounders")):
        mean = g[col].mean().loc[order]
        se = (g[col].std(ddof=1) / np.sqrt(g.size())).loc[order].fillna(0.0)
        ax.errorbar(mean, range(len(order)), xerr=se, fmt="o", color="tab:blue")
        ax.set_xlabel(label)
        ax.grid(axis="x", color="0.9")
    axes[0].set_yticks(range(len(order)))
    axes[0].set_yticklabels(order)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"\nwritten: {path}")


if __name__ == "__main__":
    main()
