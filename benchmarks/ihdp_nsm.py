"""Neural score matching on IHDP: the NSM paper's protocol, its baselines, and better settings.

Reproduces Table "IHDP" of Clivio et al. (AISTATS 2022) with ``causalsm`` and compares
settings that improve on it.  Run from the repository root::

    python benchmarks/ihdp_nsm.py                       # 50 replications x 3 seeds
    python benchmarks/ihdp_nsm.py --reps 5 --seeds 1    # a quick look
    python benchmarks/ihdp_nsm.py --jobs 2 --csv ihdp_runs.csv
    python benchmarks/ihdp_nsm.py --speed               # fitting time only (CPU, and CUDA)

Data: the 50 ``ihdp_npci_<r>.csv`` files in the repository's ``datasets/ihdp_npci/``
(provenance and licence in its README; ``--data`` to point elsewhere).

Protocol (as the authors' code, ``codes/datasets.py`` and ``codes/benchmarks``):

* covariate 14 recoded {1, 2} -> {0, 1}; one split for every replication and seed,
  ``numpy.random.default_rng(0).permutation(747)``: 448 train, 149 validation, 150 test;
* effect rescaling "as in Curth et al. 2021": when the SD (ddof 0) of mu1 - mu0 over
  train+val exceeds 1, mu0 and mu1 are divided by it and y is rebuilt with its noise;
* continuous covariates (those with more than two distinct values) standardised with
  the train+val mean and SD (ddof 0), binary ones left as they are: this is ``X``, the
  model input, on which imbalance is measured;
* the network is fitted on the train split (the validation split only gives its
  validation loss: the paper's patience of 1000 never stops training); baselines
  (logistic PS, PCA) are fitted on train+val; everything is then applied to
  train+val ("in-sample") and to the test split ("hold-out"), and treated units are
  matched to controls *within* that split: 1-NN with replacement, ATT;
* ATT error = |ATT_hat - mean(mu1 - mu0 over the split's treated)|; imbalance = linear
  MMD, ``||mean of treated X - match-weighted mean of control X||^2`` on ``X``
  (``causalsm.balance.linear_mmd(..., scale=False)``).

Methods (paper rows first; every row uses ``causalsm.match``):

* ``NSM (paper)``: ``NeuralBalancingScore()`` with its defaults, the paper's settings
  (dim 5, LeakyReLU, 2 x 100, SGD lr 0.01, weight decay 0.01, batch 100, 200 epochs),
  ``standardize=False`` because ``X`` is already standardised as the paper does, seeded
  by ``random_state`` *before* the network is built (the authors' code seeds after
  building it).  Matching on the raw 5-d score with Euclidean distance
  (``standardize=False``), as the paper; no bias correction.
* ``NN PS``: the same network's propensity, |delta e|.
* ``LogReg PS``: unpenalised logistic regression (``PropensityScore``: maximum
  likelihood, the paper's ``C=1e6``) on ``X``, probability scale.
* ``X``: Euclidean on ``X``.  ``PCA-5``: Euclidean on the first five principal
  components of ``X`` (``PCAScore(5, standardize=False)``, i.e. PCA of ``X`` as the
  paper).  ``PCA-5 + LogReg``: the logistic PS on those components.
* ``Random``: one uniformly drawn control per treated unit (with replacement).
* ``No matching``: imbalance of all controls, uniformly weighted.

Ties: only exact ties are kept (``distance_tolerance=0``).  The raw NSM score and ``X``
are on small scales, where R Matching's tolerance of 1e-5 on squared distances would
turn dozens of controls into "ties"; with continuous scores there are no exact ties, so
this is the paper's nearest-in-sort rule.

Seeds: the network of run (replication r, seed s) is seeded with ``s + r``.  The 50
replications share their covariates and treatments (only the outcomes differ), so one
seed per ``s`` would train the same network 50 times; the authors' runs each started
from a different initial network (their seed did not reach the initialisation), and
``s + r`` keeps that.  Seeds ``s`` are 2000, 3000, ... as the paper's.

Variants that try to do better (one fixed setting each, the same for every replication
and seed; nothing is tuned per replication).  They were chosen on replications 1-10
with seeds 2000 and 3000 among: raw or standardised score, k = 1 or 5 neighbours, no
bias correction or three kinds, and three training set-ups (the paper's SGD, SGD with
momentum 0.9 and early stopping, Adam with early stopping); the report gives the
result on all 50 replications and on replications 11-50 alone.

* ``NSM, std score``: the paper's network; each score column divided by its SD before
  distances (R Matching's convention, ``causalsm.match``'s default).
* ``NSM, k=5``: the paper's network and raw score, five neighbours per treated unit.
* ``NSM, k=5, BC``: the same plus a regression bias correction: each match's outcome
  ``y_j`` becomes ``y_j + mu0(x_i) - mu0(x_j)``, ``mu0`` the least-squares regression of
  ``y`` on ``(1, X)`` over all controls of the evaluated split (Abadie & Imbens 2011 with
  a linear ``mu0``; ``bias_corrected_att``).
* ``NSM, k=5, BC (K-weighted)``: the same with the library's bias correction
  (``matching_effect(..., bias_correction=True)``: the regression weighted by the
  match counts K_M, as R's ``Match``).  With one neighbour it is unstable on the
  150-unit hold-out split, where about 25 distinct controls are matched for 25
  regressors.
* ``NSM-ES``: Adam (lr 1e-3, weight decay 1e-4), at most 200 epochs, early stopping on
  the validation loss (patience 10) restoring the best weights; raw score, 1-NN.
* ``NSM-ES, k=5, BC``: that network, five neighbours, the least-squares bias correction.
* ``X, k=5, BC`` and ``LogReg PS, k=5, BC``: the same matching improvements applied to two
  baselines, to show how much of the gain is the score's.

Standard errors: the table's ``±`` is the *dataset-level* SE: each method's error is
averaged over the seeds within a replication, and the SE is the SD of those 50
replication means over sqrt(50) (the paper's printed ``±`` divide by sqrt(500) and so
understate the uncertainty about three-fold).  Differences to ``NSM (paper)`` are
paired by replication.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from causalsm import NeuralBalancingScore, PCAScore, PropensityScore, match  # noqa: E402
from causalsm.balance import linear_mmd  # noqa: E402
from causalsm.estimators.average import matching_effect  # noqa: E402

DATA = REPO / "datasets" / "ihdp_npci"

PAPER = {  # Clivio et al. (2022), IHDP table: ATT error in / out, imbalance in / out
    "NSM (paper)": (0.156, 0.311, 0.159, 0.442),
    "NN PS": (0.190, 0.330, 0.335, 0.511),
    "X": (0.144, 0.295, 0.070, 0.223),
    "Random": (0.216, 0.342, 0.592, 0.658),
    "LogReg PS": (0.164, 0.294, 0.033, 0.318),
    "PCA-5": (0.159, 0.307, 0.129, 0.407),
    "PCA-5 + LogReg": (0.146, 0.372, 0.137, 0.909),
    "No matching": (np.nan, np.nan, 0.492, 0.421),
}

PAPER_NET = dict(standardize=False)                      # all other defaults = the paper's
ES_NET = dict(standardize=False, optimizer="adam", learning_rate=1e-3, weight_decay=1e-4,
              epochs=200, patience=10, restore_best_weights=True)


# --------------------------------------------------------------------------- data
def load_replication(path: Path) -> dict:
    """One replication, split, rescaled and standardised as the authors' code."""
    raw = np.loadtxt(path, delimiter=",")
    t = raw[:, 0].astype(int)
    y, mu0, mu1, x = raw[:, 1].copy(), raw[:, 3].copy(), raw[:, 4].copy(), raw[:, 5:].copy()
    x[:, 13] -= 1                                          # {1, 2} -> {0, 1}
    n = x.shape[0]
    perm = np.random.default_rng(0).permutation(n)
    n_tr, n_va = int(0.6 * n), int(0.2 * n)
    itr, iva, ite = perm[:n_tr], perm[n_tr:n_tr + n_va], perm[n_tr + n_va:]
    itrva = perm[:n_tr + n_va]
    sd_cate = np.sqrt(np.var((mu1 - mu0)[itrva]))
    if sd_cate > 1:
        noise = y - t * mu1 - (1 - t) * mu0
        mu0, mu1 = mu0 / sd_cate, mu1 / sd_cate
        y = t * mu1 + (1 - t) * mu0 + noise
    binary = np.array([np.unique(x[:, j]).size == 2 for j in range(x.shape[1])])
    mean = np.where(binary, 0.0, x[itrva].mean(axis=0))
    sd = np.where(binary, 1.0, x[itrva].std(axis=0))
    X = (x - mean) / sd
    return {"X": X, "t": t, "y": y, "cate": mu1 - mu0,
            "train": itr, "val": iva, "in": itrva, "out": ite}


# ----------------------------------------------------------------------- metrics
def bias_corrected_att(m, y: np.ndarray, Z: np.ndarray, t: np.ndarray) -> float:
    """Matching ATT with a least-squares bias correction fitted on all controls.

    ``mu0`` is the OLS regression of ``y`` on ``(1, Z)`` over the controls; each
    matched outcome ``y_j`` is replaced by ``y_j + mu0(Z_i) - mu0(Z_j)``.
    """
    c = t == 0
    beta = np.linalg.lstsq(np.column_stack([np.ones(c.sum()), Z[c]]), y[c], rcond=None)[0]
    mu0 = beta[0] + Z @ beta[1:]
    f, j, w = m.focal, m.matched, m.pair_weight
    return float(np.sum(w * (y[f] - y[j] - mu0[f] + mu0[j])) / np.sum(w))


def evaluate(m, X, t, y, cate, *, bc: str | None = None) -> tuple[float, float]:
    """(|ATT_hat - ATT_true|, linear MMD) of one matching within one split.

    ``bc``: None (no bias correction), ``"ols"`` (:func:`bias_corrected_att`) or
    ``"weighted"`` (the library's K_M-weighted regression on ``X``).
    """
    if bc == "ols":
        est = bias_corrected_att(m, y, X, t)
    else:
        est = matching_effect(m, y, X if bc else None, bias_correction=bc == "weighted")[
            "estimate"]
    truth = cate[t == 1].mean()
    return abs(est - truth), linear_mmd(X, t, m.weights, scale=False)


def random_matching(t: np.ndarray, rng) -> tuple[np.ndarray, np.ndarray]:
    treated, controls = np.flatnonzero(t == 1), np.flatnonzero(t == 0)
    return treated, rng.choice(controls, size=treated.size, replace=True)


def run_one(path: Path, seed: int) -> list[dict]:
    """All methods on one replication and one seed: a list of tidy rows."""
    d = load_replication(path)
    X, t, y, cate = d["X"], d["t"], d["y"], d["cate"]
    tr, va = d["train"], d["val"]
    tv = d["in"]

    fits = {}
    t0 = time.perf_counter()
    rep = int(path.stem.rsplit("_", 1)[1])
    fits["paper"] = NeuralBalancingScore(random_state=seed + rep, **PAPER_NET).fit(
        X[tr], t[tr], validation_data=(X[va], t[va]))
    fit_time = time.perf_counter() - t0
    fits["es"] = NeuralBalancingScore(random_state=seed + rep, **ES_NET).fit(
        X[tr], t[tr], validation_data=(X[va], t[va]))
    ps = PropensityScore(link="probability").fit(X[tv], t[tv])
    pca = PCAScore(n_components=5, standardize=False).fit(X[tv])
    ps_pca = PropensityScore(link="probability").fit(pca.transform(X[tv]), t[tv])
    rng = np.random.default_rng(seed + rep)             # random matching

    rows = []
    for split in ("in", "out"):
        idx = d[split]
        Xs, ts, ys, cs = X[idx], t[idx], y[idx], cate[idx]
        b_paper = fits["paper"].transform(Xs)
        b_es = fits["es"].transform(Xs)

        def add(method, score, *, k=1, standardize=False, bc=None):
            m = match(score, ts, n_neighbors=k, standardize=standardize, distance_tolerance=0)
            err, mmd = evaluate(m, Xs, ts, ys, cs, bc=bc)
            rows.append({"method": method, "split": split, "error": err, "mmd": mmd})

        add("NSM (paper)", b_paper)
        add("NN PS", fits["paper"].propensity(Xs))
        add("LogReg PS", ps.transform(Xs))
        add("X", Xs)
        add("PCA-5", pca.transform(Xs))
        add("PCA-5 + LogReg", ps_pca.transform(pca.transform(Xs)))
        # random matching: one control per treated unit, drawn with replacement
        treated, controls = random_matching(ts, rng)
        w = np.zeros(ts.size)
        w[treated] = 1.0
        np.add.at(w, controls, 1.0)
        err = abs(ys[treated].mean() - ys[controls].mean() - cs[ts == 1].mean())
        rows.append({"method": "Random", "split": split, "error": err,
                     "mmd": linear_mmd(Xs, ts, w, scale=False)})
        rows.append({"method": "No matching", "split": split, "error": np.nan,
                     "mmd": linear_mmd(Xs, ts, scale=False)})
        # variants
        add("NSM, std score", b_paper, standardize=True)
        add("NSM, k=5", b_paper, k=5)
        add("NSM, k=5, BC", b_paper, k=5, bc="ols")
        add("NSM, k=5, BC (K-weighted)", b_paper, k=5, bc="weighted")
        add("NSM-ES", b_es)
        add("NSM-ES, k=5, BC", b_es, k=5, bc="ols")
        add("X, k=5, BC", Xs, k=5, bc="ols")
        add("LogReg PS, k=5, BC", ps.transform(Xs), k=5, bc="ols")
    for r in rows:
        r.update(rep=rep, seed=seed)
    rows.append({"method": "_fit_seconds", "split": "-", "error": fit_time, "mmd": np.nan,
                 "rep": rep, "seed": seed,
                 "epochs_es": fits["es"].n_epochs_})
    return rows


# ------------------------------------------------------------------------ report
def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Mean and dataset-level SE per method and split, paired difference to NSM (paper)."""
    df = df[df["method"] != "_fit_seconds"]
    order = list(dict.fromkeys(df["method"]))
    per_rep = df.groupby(["method", "split", "rep"])[["error", "mmd"]].mean().sort_index()
    out = {}
    for (method, split), g in per_rep.groupby(level=[0, 1], sort=False):
        ref = per_rep.loc[("NSM (paper)", split)]
        diff = g.droplevel([0, 1])["error"] - ref["error"]
        k = g.shape[0]
        out.setdefault(method, {})
        out[method][f"error_{split}"] = g["error"].mean()
        out[method][f"error_{split}_se"] = g["error"].std(ddof=1) / np.sqrt(k)
        out[method][f"mmd_{split}"] = g["mmd"].mean()
        out[method][f"mmd_{split}_se"] = g["mmd"].std(ddof=1) / np.sqrt(k)
        out[method][f"diff_{split}"] = diff.mean()
        out[method][f"diff_{split}_se"] = diff.std(ddof=1) / np.sqrt(k)
    return pd.DataFrame(out).T.loc[order]


def markdown(summary: pd.DataFrame) -> str:
    def cell(v, se):
        return "–" if not np.isfinite(v) else f"{v:.3f} ± {se:.3f}"

    def paper(method, j):
        v = PAPER.get(method, (np.nan,) * 4)[j]
        return "" if not np.isfinite(v) else f" ({v:.3f})"

    lines = ["| Method | ATT error in (paper) | ATT error hold-out (paper) | "
             "Imbalance in (paper) | Imbalance hold-out (paper) | "
             "Δ error vs NSM (paper), in | Δ hold-out |",
             "|---|---|---|---|---|---|---|"]
    for method, r in summary.iterrows():
        diff = ("", "") if method in ("NSM (paper)", "No matching") else (
            f"{r['diff_in']:+.3f} ± {r['diff_in_se']:.3f}",
            f"{r['diff_out']:+.3f} ± {r['diff_out_se']:.3f}")
        lines.append(
            f"| {method} | {cell(r['error_in'], r['error_in_se'])}{paper(method, 0)} | "
            f"{cell(r['error_out'], r['error_out_se'])}{paper(method, 1)} | "
            f"{cell(r['mmd_in'], r['mmd_in_se'])}{paper(method, 2)} | "
            f"{cell(r['mmd_out'], r['mmd_out_se'])}{paper(method, 3)} | "
            f"{diff[0]} | {diff[1]} |")
    return "\n".join(lines)


# ------------------------------------------------------------------------- speed
def speed(devices: list[str]) -> None:
    """Time the paper's network: one IHDP fit, and 100,000 x 100 for 20 epochs."""
    import torch
    files = sorted(DATA.glob("ihdp_npci_1.csv"))
    if files:
        d = load_replication(files[0])
        X, t = d["X"][d["train"]], d["t"][d["train"]]
    else:                                   # the same size, simulated
        rng = np.random.default_rng(0)
        X = rng.normal(size=(448, 25))
        t = (rng.random(448) < 0.2).astype(int)
    rng = np.random.default_rng(1)
    big = rng.normal(size=(100_000, 100)).astype(np.float32)
    tb = (rng.random(100_000) < 1 / (1 + np.exp(-big[:, :3].sum(1)))).astype(int)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads available")
    for device in devices:
        times = []
        for k in range(6):                  # the first fit includes torch's warm-up
            start = time.perf_counter()
            NeuralBalancingScore(random_state=k, device=device, standardize=False).fit(X, t)
            times.append(time.perf_counter() - start)
        print(f"{device}: IHDP train split ({X.shape[0]} x {X.shape[1]}, 200 epochs, "
              f"batch 100): first fit {times[0]:.2f} s, then median "
              f"{np.median(times[1:]):.2f} s (min {min(times[1:]):.2f})")
        start = time.perf_counter()
        NeuralBalancingScore(random_state=0, device=device, epochs=20).fit(big, tb)
        print(f"{device}: 100,000 x 100, 20 epochs, batch 100: "
              f"{time.perf_counter() - start:.1f} s")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=DATA)
    ap.add_argument("--reps", type=int, default=50)
    ap.add_argument("--seeds", type=int, default=3,
                    help="number of seeds 2000, 3000, ... (the paper ran 10)")
    ap.add_argument("--jobs", type=int, default=1, help="joblib workers")
    ap.add_argument("--csv", type=Path, default=None, help="write every run's row here")
    ap.add_argument("--speed", action="store_true",
                    help="only time the network's fit (on the CPU, and on CUDA if present)")
    args = ap.parse_args(argv)
    if args.speed:
        import torch
        speed(["cpu"] + (["cuda"] if torch.cuda.is_available() else []))
        return 0
    files = [args.data / f"ihdp_npci_{r}.csv" for r in range(1, args.reps + 1)]
    if not args.data.is_dir() or not all(f.exists() for f in files):
        print(f"IHDP replications not found in {args.data} (the repository ships them in "
              "datasets/ihdp_npci/)")
        return 1
    seeds = [1000 * (k + 2) for k in range(args.seeds)]
    tasks = [(f, s) for s in seeds for f in files]
    start = time.perf_counter()
    if args.jobs == 1:
        results = [run_one(f, s) for f, s in tasks]
    else:
        from joblib import Parallel, delayed
        results = Parallel(n_jobs=args.jobs)(delayed(run_one)(f, s) for f, s in tasks)
    elapsed = time.perf_counter() - start
    df = pd.DataFrame([r for rows in results for r in rows])
    if args.csv is not None:
        df.to_csv(args.csv, index=False)
    summary = summarize(df)
    fit = df.loc[df["method"] == "_fit_seconds"]
    print(f"IHDP: {args.reps} replications x {len(seeds)} seeds ({seeds}), "
          f"{elapsed:.0f} s wall with {args.jobs} worker(s); paper-network fit "
          f"{fit['error'].median():.2f} s median; NSM-ES stopped after "
          f"{fit['epochs_es'].median():.0f} epochs (median)\n")
    print(markdown(summary))
    if args.reps > 10:
        print(f"\nReplications 11-{args.reps} only (the variants were chosen on 1-10):\n")
        print(markdown(summarize(df[df["rep"] > 10])))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
