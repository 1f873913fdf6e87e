"""High-dimensional confounding: neural score matching against fairly tuned baselines.

Designs (simulators in :mod:`causalsm.datasets`, seeded by the replication number):

* ``news``: the News design of Johansson, Shalit & Sontag (2016): 3,000 topic-model
  documents, 2,000-word vocabulary, sparse counts (``simulate_news``);
* ``images``: the 8x8 digits design of ``examples/image_confounding.py``
  (``simulate_image_confounding``, 1,797 images); the recommended neural score reads
  the 64 pixels as 8x8 images through its built-in CNN (``image_shape=(8, 8)``), and
  ``nsm_mlp`` through the example's MLP encoder instead;
* ``latent``: 1,000 covariates driven by four latent factors, treatment and outcome
  nonlinear in the factors, n = 3,000 (``simulate_latent_factors``);
* ``sparse``: 1,000 AR(1) covariates, a sparse linear propensity and outcome,
  n = 2,000 (``simulate_sparse_linear``): where an L1 logistic model is at home;
* ``ihdp``: the 50 IHDP npci replications with the NSM paper's protocol
  (``benchmarks/ihdp_nsm.py``: one 60/20/20 split; scores fitted on train+val,
  "in-sample" = train+val, "hold-out" = the test split, matching within the split).

Methods.  Each score is fitted once per replication and then used, frozen, by
:class:`causalsm.MatchingEstimator` in two settings: ``default`` (the estimator's
defaults: 1-NN with replacement, bias correction on for scores of 2+ columns,
regressing on the covariates, or on the score when it is prognostic or the
covariates are wide) and ``5nn_bc`` (5-NN, bias correction regressing on the score).
The best baseline row of a design is the best of both settings.

* ``nsm``: ``NeuralBalancingScore()`` with its defaults, i.e. what
  ``estimate_effect(score="neural")`` does (the score's fit time is included); on the
  images ``NeuralBalancingScore(image_shape=(8, 8))``, the recommended call for pixels;
* ``nsm_paper``: ``NeuralBalancingScore.paper()``: the paper's network and its 5-d
  bottleneck;
* ``l2_ps`` / ``l1_ps``: logistic propensity (logit scale) with an L2 / L1 penalty
  chosen by 5-fold cross-validated log-loss (``LogisticRegressionCV``);
* ``hgb_ps``: ``HistGradientBoostingClassifier`` (early stopping on 10% of the units);
* ``euclidean`` / ``mahalanobis``: the covariates (``CovariateScore``);
* ``pca``: the first 10 principal components (truncated SVD for sparse text); ``pca_ps``:
  an unpenalised logistic propensity on them;
* ``random``: a uniform random number (random matching); ``none``: no matching (the
  difference in means; ATT and ATE alike).

Inputs: text methods see ``log(1 + counts)`` (the neural score's own default for
counts), other designs the covariates as simulated; linear and distance baselines
standardise them.

Reported per design x method x setting (means over replications, with
dataset-level standard errors): absolute ATT and ATE error against the in-sample
truth (mean of mu1 - mu0 over the treated / all units), coverage of the 95%
interval (the default Abadie-Imbens population variance, which targets the population
effect and so is conservative for this sample truth when effects are heterogeneous;
and, beside it, the Abadie-Imbens sample variance, ``variance="ai_sample"``, whose
target the sample truth is), balance of the latent confounders that no
method sees (largest |SMD| after ATT matching), and seconds (score fit +
estimate).

Run from the repository root::

    python benchmarks/highdim.py --reps 20                       # all designs (IHDP: 50)
    python benchmarks/highdim.py --designs news --reps 3          # a quick look
    python benchmarks/highdim.py --table                          # tables from the CSV
    python benchmarks/highdim.py --compare --csv rerun.csv        # a rerun vs the CSV
    python benchmarks/highdim.py --designs latent --methods nsm --first 51 --reps 100 \
        --csv more.csv                                            # replications 51-100
    python benchmarks/highdim.py --speed cpu                      # training times
    python benchmarks/highdim.py --speed cuda                     # on a GPU

Rows are appended to ``benchmarks/results/highdim_runs.csv`` (``--csv``); a
replication already there is skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import causalsm as csm  # noqa: E402
from causalsm.comparison import RandomScore  # noqa: E402
from causalsm.datasets import (simulate_image_confounding, simulate_latent_factors,  # noqa: E402
                               simulate_news, simulate_sparse_linear)

CSV = REPO / "benchmarks" / "results" / "highdim_runs.csv"
DESIGNS = ("news", "images", "latent", "sparse", "ihdp")
REPS = {"news": 20, "images": 20, "latent": 20, "sparse": 20, "ihdp": 50}
VERBOSE = False
ONLY: tuple = ()
MACHINE = f"{os.cpu_count()} cores"    # where a row's seconds were measured
SETTINGS = {"default": {}, "5nn_bc": {"n_neighbors": 5, "bias_correction": True,
                                      "adjust": "score"}}


# ----------------------------------------------------------------------- designs
def load(design: str, rep: int) -> dict:
    """One replication: X, t, y, latent confounders, true effects; IHDP adds a split."""
    if design == "ihdp":
        from ihdp_nsm import load_replication
        d = load_replication(REPO / "datasets" / "ihdp_npci" / f"ihdp_npci_{rep}.csv")
        return {"X": d["X"], "t": d["t"], "y": d["y"], "cate": d["cate"], "latent": None,
                "samples": {"in": d["in"], "holdout": d["out"]}}
    if design == "images":
        df = simulate_image_confounding(random_state=rep)
        X = np.ascontiguousarray(df[df.attrs["covariates"]].to_numpy())
        return {"X": X, "t": df["treat"].to_numpy(), "y": df["y"].to_numpy(),
                "cate": df["tau"].to_numpy(), "latent": df[["g", "z"]].to_numpy(),
                "samples": {"in": None}}
    sim = {"news": simulate_news, "latent": simulate_latent_factors,
           "sparse": simulate_sparse_linear}[design]
    b = sim(random_state=rep, as_frame=False)
    X = b.X.log1p() if design == "news" else b.X
    return {"X": X, "t": b.t, "y": b.y, "cate": b.mu1 - b.mu0,
            "latent": b.latent.to_numpy(), "samples": {"in": None}}


# ----------------------------------------------------------------------- methods
def _mlp_encoder():
    sys.path.insert(0, str(REPO / "examples"))
    from image_confounding import mlp_encoder
    return mlp_encoder()


def methods(design: str) -> dict:
    """name -> function(rep) building an unfitted score."""
    from sklearn.decomposition import PCA
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    sparse = design == "news"
    densify = FunctionTransformer(lambda A: A.toarray() if sp.issparse(A) else A,
                                  accept_sparse=True)

    def logistic(penalty, rep):
        # liblinear shuffles with random_state (lbfgs ignores it): seeded, so that an L1 row
        # is reproducible (rows recorded before 2026-12-08 were not seeded)
        solver = "liblinear" if penalty == "l1" else "lbfgs"
        Cs = np.logspace(-4, 1, 11) if penalty == "l1" else np.logspace(-5, 2, 11)
        model = LogisticRegressionCV(Cs=Cs, cv=5, penalty=penalty, solver=solver,
                                     scoring="neg_log_loss", max_iter=1000, tol=1e-4,
                                     random_state=rep)
        return csm.PropensityScore(model=make_pipeline(StandardScaler(with_mean=not sparse),
                                                       model))

    out = {}
    if design == "images":
        out["nsm"] = lambda rep: csm.NeuralBalancingScore(image_shape=(8, 8),
                                                          random_state=rep)
        out["nsm_mlp"] = lambda rep: csm.NeuralBalancingScore(
            encoder=_mlp_encoder(), standardize=False, random_state=rep)
    else:
        out["nsm"] = lambda rep: csm.NeuralBalancingScore(random_state=rep)
    out["nsm_paper"] = lambda rep: csm.NeuralBalancingScore.paper(random_state=rep)
    out.update({
        "l2_ps": lambda rep: logistic("l2", rep),
        "l1_ps": lambda rep: logistic("l1", rep),
        "hgb_ps": lambda rep: csm.PropensityScore(model=make_pipeline(
            densify, HistGradientBoostingClassifier(early_stopping=True,
                                                    random_state=rep))),
        "euclidean": lambda rep: csm.CovariateScore(scale="variance"),
        "mahalanobis": lambda rep: csm.CovariateScore(scale="mahalanobis"),
        "pca": lambda rep: csm.PCAScore(n_components=10, svd_solver="randomized",
                                        random_state=rep),
        "pca_ps": lambda rep: csm.PropensityScore(model=make_pipeline(
            densify, StandardScaler(), PCA(10, random_state=rep),
            LogisticRegression(penalty=None, max_iter=1000))),
        "random": lambda rep: RandomScore(random_state=rep),
    })
    return out


# ----------------------------------------------------------------------- running
def _frozen(score):
    from sklearn.frozen import FrozenEstimator
    return FrozenEstimator(score)


def _latent_smd(latent, t, weights) -> float:
    if latent is None:
        return float("nan")
    tab = csm.balance_table(latent, t, weights=weights, estimand="ATT")
    return float(tab["smd_after"].abs().max())


@functools.lru_cache(maxsize=2)
def _load(design: str, rep: int) -> dict:
    """``load``, cached on disk so that the processes of a run simulate each
    replication once."""
    import tempfile
    from joblib import Memory
    memory = Memory(Path(tempfile.gettempdir()) / "causalsm_highdim_cache", verbose=0)
    return memory.cache(load)(design, rep)


def run_method(design: str, rep: int, name: str, verbose: bool = False) -> list[dict]:
    """One method (every setting and estimand) on one replication: tidy rows."""
    import torch
    torch.set_num_threads(1)
    d = _load(design, rep)
    X, t, y, cate = d["X"], d["t"], d["y"], d["cate"]
    fit_rows = d["samples"]["in"]

    def take(A, rows_):
        return A if rows_ is None else A[rows_]

    def row(setting, estimand, sample, **values):
        return {"design": design, "rep": rep, "method": name, "setting": setting,
                "estimand": estimand, "sample": sample, **values}

    if name == "none":                    # the difference in means
        rows = []
        for sample, sel in d["samples"].items():
            ts, ys, cs = take(t, sel), take(y, sel), take(cate, sel)
            naive = ys[ts == 1].mean() - ys[ts == 0].mean()
            lat = None if d["latent"] is None else take(d["latent"], sel)
            for estimand in ("ATT", "ATE"):
                truth = float(cs[ts == 1].mean() if estimand == "ATT" else cs.mean())
                rows.append(row("default", estimand, sample, estimate=naive,
                                std_error=np.nan, truth=truth,
                                abs_error=abs(naive - truth), covered=np.nan,
                                latent_smd=(_latent_smd(lat, ts, np.ones(ts.size))
                                            if estimand == "ATT" else np.nan),
                                seconds=0.0, error_msg=""))
        return rows
    rows = []
    score = methods(design)[name](rep)
    Xf, tf, yf = take(X, fit_rows), take(t, fit_rows), take(y, fit_rows)
    start = time.perf_counter()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            est = csm.MatchingEstimator(balancing_score=score, random_state=rep).fit(Xf, tf, yf)
    except Exception as exc:              # noqa: BLE001 - reported as a failed row
        return [row("default", "ATT", "in", error_msg=str(exc)[:200])]
    fit_seconds = time.perf_counter() - start
    if verbose:
        print(f"  {design} {rep} {name}: fit {fit_seconds:.1f} s, ATT error "
              f"{abs(est.effect_.estimate - take(cate, fit_rows)[tf == 1].mean()):.3f}",
              flush=True)
    fitted = _frozen(est.balancing_score_)
    for sample, sel in d["samples"].items():
        Xs, ts, ys, cs = take(X, sel), take(t, sel), take(y, sel), take(cate, sel)
        lat = None if d["latent"] is None else take(d["latent"], sel)
        for setting, opts in SETTINGS.items():
            if setting != "default" and (name == "random" or fitted.transform(
                    Xs[:2]).shape[1] > 100):
                continue                  # no regression on hundreds of score columns
            for estimand in ("ATT", "ATE"):
                start = time.perf_counter()
                try:
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        e = csm.MatchingEstimator(balancing_score=fitted, estimand=estimand,
                                                  random_state=rep, **opts).fit(Xs, ts, ys)
                except Exception as exc:  # noqa: BLE001
                    rows.append(row(setting, estimand, sample, error_msg=str(exc)[:200]))
                    continue
                r = e.effect_
                truth = float(cs[ts == 1].mean() if estimand == "ATT" else cs.mean())
                with warnings.catch_warnings():       # the interval for the sample effect
                    warnings.simplefilter("ignore")
                    rs = csm.MatchingEstimator(balancing_score=fitted, estimand=estimand,
                                               variance="ai_sample", random_state=rep,
                                               **opts).fit(Xs, ts, ys).effect_
                rows.append(row(
                    setting, estimand, sample, estimate=r.estimate, std_error=r.std_error,
                    truth=truth, abs_error=abs(r.estimate - truth),
                    covered=float(r.ci_lower <= truth <= r.ci_upper),
                    covered_sample=float(rs.ci_lower <= truth <= rs.ci_upper),
                    latent_smd=(_latent_smd(lat, ts, e.matches_.weights)
                                if estimand == "ATT" else float("nan")),
                    seconds=fit_seconds + time.perf_counter() - start, error_msg=""))
    return rows


COLUMNS = ["design", "rep", "method", "setting", "estimand", "sample", "estimate",
           "std_error", "truth", "abs_error", "covered", "covered_sample", "latent_smd",
           "seconds", "error_msg", "machine"]


def tasks(designs, reps: dict, first: int = 1) -> list[tuple[str, int, str]]:
    """(design, replication, method) for replications ``first`` to ``reps[design]``,
    replication by replication so that an interrupted run leaves every design with
    about the same number."""
    out, paper = [], []                   # the paper's network (slow) comes last
    for rep in range(first, max(reps[d] for d in designs) + 1):
        for design in designs:
            if rep > reps[design]:
                continue
            for m in [*methods(design), "none"]:
                if (ONLY and m not in ONLY) or (design == "ihdp" and m == "nsm_paper"):
                    continue
                (paper if m == "nsm_paper" else out).append((design, rep, m))
    return out + paper


def run(designs, reps: dict, csv: Path, n_jobs: int = 1, first: int = 1) -> None:
    """Run the tasks not yet in ``csv`` (``n_jobs`` processes), appending as they end."""
    from joblib import Parallel, delayed
    os.environ["PYTHONPATH"] = os.pathsep.join(          # the workers import this file
        [str(REPO), str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")])
    import highdim
    done = set()
    if csv.is_file():
        old = pd.read_csv(csv)
        done = set(zip(old["design"], old["rep"], old["method"]))
    todo = [task for task in tasks(designs, reps, first) if task not in done]
    csv.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    results = Parallel(n_jobs=n_jobs, return_as="generator_unordered")(
        delayed(highdim.run_method)(*task, VERBOSE) for task in todo)
    for i, rows in enumerate(results, 1):
        frame = pd.DataFrame(rows).assign(machine=MACHINE).reindex(columns=COLUMNS)
        frame.to_csv(csv, mode="a", header=not csv.is_file(), index=False)
        print(f"{i}/{len(todo)} {rows[0]['design']} rep {rows[0]['rep']} "
              f"{rows[0]['method']}: {time.perf_counter() - start:.0f} s", flush=True)


def compare(csv: Path, recorded: Path = CSV) -> None:
    """Does a rerun (``csv``) reproduce the recorded rows?  Per design and method: the
    rows matched and the largest absolute difference of the estimate and of the SE."""
    keys = ["design", "rep", "method", "setting", "estimand", "sample"]
    new = pd.read_csv(csv)
    m = new.merge(pd.read_csv(recorded), on=keys, suffixes=("", "_recorded"))
    m["d_est"] = (m["estimate"] - m["estimate_recorded"]).abs()
    m["d_se"] = (m["std_error"] - m["std_error_recorded"]).abs()
    print("| design | method | rows rerun | matched | max \\|diff\\| estimate | "
          "max \\|diff\\| SE |")
    print("|---|---|---|---|---|---|")
    for (design, method), g in m.groupby(["design", "method"]):
        n = int(((new["design"] == design) & (new["method"] == method)).sum())
        print(f"| {design} | {method} | {n} | {len(g)} | {g['d_est'].max():.2g} | "
              f"{g['d_se'].max():.2g} |")


# ----------------------------------------------------------------------- tables
def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Means and dataset-level SEs by design x method x setting x estimand x sample."""
    ok = df[df["error_msg"].fillna("") == ""]
    keys = ["design", "method", "setting", "estimand", "sample"]
    g = ok.groupby(keys)
    out = g.agg(reps=("rep", "nunique"), error=("abs_error", "mean"),
                error_se=("abs_error", lambda v: v.std(ddof=1) / np.sqrt(v.size)),
                coverage=("covered", "mean"),
                # only where every replication has it (runs before 2026-12-05 lack it)
                coverage_sample=("covered_sample",
                                 lambda v: v.mean() if v.notna().all() else np.nan),
                latent_smd=("latent_smd", "mean"))
    # seconds: over the rows of the machine that ran most of them (no mixing)
    out["seconds"] = g.apply(lambda r: r.loc[r["machine"].fillna("") == r["machine"].fillna(
        "").mode().iloc[0], "seconds"].mean(), include_groups=False)
    out["machine"] = g["machine"].agg(lambda v: v.fillna("").mode().iloc[0])
    return out.reset_index()


def markdown(df: pd.DataFrame) -> str:
    s = summarize(df)
    lines = []
    for design in [d for d in DESIGNS if d in set(s["design"])]:
        sd = s[s["design"] == design]
        samples = sorted(set(sd["sample"]), key=["in", "holdout"].index)
        head = "| method | setting | reps | " + " | ".join(
            f"ATT err ({smp})" for smp in samples) + " | ATE err (in) | coverage ATT / ATE | " \
            "coverage, sample var. | latent max\\|SMD\\| | seconds | timed on |"
        lines += [f"\n**{design}** ({int(sd['reps'].max())} replications)\n", head,
                  "|" + "---|" * (head.count(" | ") + 1)]
        order = list(dict.fromkeys(sd["method"]))
        for m in order:
            for setting in SETTINGS:
                r = sd[(sd["method"] == m) & (sd["setting"] == setting)]
                if r.empty:
                    continue

                def cell(est, smp, col="error"):
                    q = r[(r["estimand"] == est) & (r["sample"] == smp)]
                    if q.empty or not np.isfinite(q[col].iloc[0]):
                        return "–"
                    if col == "error":
                        return f"{q['error'].iloc[0]:.3f} ± {q['error_se'].iloc[0]:.3f}"
                    return f"{q[col].iloc[0]:.2f}"
                cov = " | ".join(f"{cell('ATT', 'in', c)} / {cell('ATE', 'in', c)}"
                                 for c in ("coverage", "coverage_sample"))
                att = r[(r["estimand"] == "ATT") & (r["sample"] == "in")]
                lines.append(
                    f"| {m} | {setting} | {int(r['reps'].max())} | "
                    + " | ".join(cell("ATT", smp) for smp in samples)
                    + f" | {cell('ATE', 'in')} | {cov} | "
                    + (f"{att['latent_smd'].iloc[0]:.3f}" if not att.empty and
                       np.isfinite(att["latent_smd"].iloc[0]) else "–")
                    + f" | {att['seconds'].iloc[0]:.1f} | {att['machine'].iloc[0]} |"
                    if not att.empty else " |")
    return "\n".join(lines)


# ----------------------------------------------------------------------- speed
def _default_params() -> dict:
    params = csm.NeuralBalancingScore().get_params() | {"random_state": 0}
    params.pop("device")
    return params


def speed(device: str = "cpu") -> None:
    """Training times: one network against a plain torch loop, five against one,
    sparse against dense, and 100,000 x 100 for 20 epochs (CPU; CUDA when present)."""
    import torch
    from torch import nn
    torch.set_num_threads(1)

    def plain_loop(X, t, epochs, batch=100, seed=0):
        torch.manual_seed(seed)
        net = nn.Sequential(nn.Linear(X.shape[1], 5), nn.ELU(), nn.Linear(5, 100), nn.ELU(),
                            nn.Linear(100, 100), nn.ELU(), nn.Linear(100, 1))
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3, weight_decay=1e-4)
        Xt, tt = torch.from_numpy(X.astype(np.float32)), torch.from_numpy(t.astype(np.float32))
        gen = torch.Generator().manual_seed(seed)
        start = time.perf_counter()
        for _ in range(epochs):
            perm = torch.randperm(len(t), generator=gen)
            Xe, te = Xt[perm], tt[perm]
            for a in range(0, len(t), batch):
                loss = nn.functional.binary_cross_entropy_with_logits(
                    net(Xe[a:a + batch])[:, 0], te[a:a + batch])
                opt.zero_grad()
                loss.backward()
                opt.step()
        return time.perf_counter() - start

    def fit_time(X, t, y=None, device="cpu", **kw):
        params = dict(n_networks=1, patience=None, validation_fraction=None, epochs=200,
                      device=device, random_state=0)
        params.update(kw)
        start = time.perf_counter()
        csm.NeuralBalancingScore(**params).fit(X, t, outcome=y)
        return time.perf_counter() - start

    rng = np.random.default_rng(0)
    rows = []
    Xb = rng.normal(size=(100_000, 100)).astype(np.float32)
    tb = (Xb[:, 0] + rng.normal(size=100_000) > 0).astype(int)
    d = simulate_news(random_state=1, as_frame=False)
    Xs = d.X.log1p()
    if device == "cuda":
        fit_time(Xb[:1000], tb[:1000], epochs=2, device="cuda")          # warm-up
        rows.append(("100,000 x 100, 20 epochs: one network, CUDA",
                     fit_time(Xb, tb, epochs=20, device="cuda")))
        rows.append(("100,000 x 100, 20 epochs: five networks, CUDA",
                     fit_time(Xb, tb, epochs=20, n_networks=5, device="cuda")))
        rows.append(("news 3,000 x 2,000: default score (2 x five input settings to "
                     "choose, then 5), CUDA", fit_time(Xs, d.t, d.y, device="cuda",
                                      **_default_params())))
    else:
        X25 = rng.normal(size=(448, 25))
        t25 = (rng.random(448) < 0.2).astype(int)
        fit_time(X25, t25, epochs=2)                                   # warm-up
        rows.append(("448 x 25, 200 epochs: plain torch loop", plain_loop(X25, t25, 200)))
        rows.append(("448 x 25, 200 epochs: one network", fit_time(X25, t25)))
        rows.append(("448 x 25, 200 epochs: five networks", fit_time(X25, t25, n_networks=5)))
        y25 = X25[:, 0] + rng.normal(size=448)
        rows.append(("448 x 25, 200 epochs: five networks + prognostic head",
                     fit_time(X25, t25, y25, n_networks=5)))
        rows.append(("news 3,000 x 2,000, 20 epochs: five networks, sparse input",
                     fit_time(Xs, d.t, d.y, n_networks=5, epochs=20, input_l1=0)))
        rows.append(("news 3,000 x 2,000, 20 epochs: five networks, dense input",
                     fit_time(Xs.toarray(), d.t, d.y, n_networks=5, epochs=20, input_l1=0)))
        rows.append(("news 3,000 x 2,000: default score (2 x five input settings to "
                     "choose, then 5)", fit_time(Xs, d.t, d.y, **_default_params())))
        rows.append(("news 3,000 x 2,000: default score, input_rank=None (five networks "
                     "for each of two penalties)",
                     fit_time(Xs, d.t, d.y, **{**_default_params(), "input_rank": None})))
        rows.append(("100,000 x 100, 20 epochs: plain torch loop, batches of 100",
                     plain_loop(Xb, tb, 20)))
        rows.append(("100,000 x 100, 20 epochs: one network, batches of 100",
                     fit_time(Xb, tb, epochs=20, batch_size=100)))
        rows.append(("100,000 x 100, 20 epochs: plain torch loop, batches of 1,000",
                     plain_loop(Xb, tb, 20, batch=1000)))
        rows.append(("100,000 x 100, 20 epochs: one network (batch_size='auto': 1,000)",
                     fit_time(Xb, tb, epochs=20)))
        rows.append(("100,000 x 100, 20 epochs: five networks (batches of 1,000)",
                     fit_time(Xb, tb, epochs=20, n_networks=5)))
        rows.append(("100,000 x 100: default score (early stopping, <= 200 epochs)",
                     fit_time(Xb, tb, **_default_params())))
    for label, sec in rows:
        print(f"| {label} | {sec:.2f} |")


def speed_batch() -> None:
    """The default score (early stopping) on 100,000 x 100: fit time, epochs and the
    networks' mean best validation loss by batch size and learning rate."""
    import torch
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    X = rng.normal(size=(100_000, 100)).astype(np.float32)
    t = (X[:, 0] + rng.normal(size=100_000) > 0).astype(int)
    for batch, lr in [(100, 1e-3), (1000, 1e-3), (1000, 3.16e-3), (1000, 1e-2)]:
        params = {**_default_params(), "batch_size": batch, "learning_rate": lr,
                  "random_state": 0}
        start = time.perf_counter()
        score = csm.NeuralBalancingScore(**params).fit(X, t)
        print(f"| batches of {batch}, learning rate {lr:g} | {time.perf_counter() - start:.1f}"
              f" | {score.n_epochs_} | {np.mean(score.history_['best_val_loss']):.4f} |")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--designs", nargs="+", default=list(DESIGNS), choices=DESIGNS)
    ap.add_argument("--reps", type=int, default=None,
                    help="replications per design (default 20; IHDP 50)")
    ap.add_argument("--first", type=int, default=1,
                    help="first replication (default 1; IHDP has 50)")
    ap.add_argument("--csv", type=Path, default=CSV)
    ap.add_argument("--table", action="store_true", help="print the tables of --csv")
    ap.add_argument("--compare", action="store_true",
                    help="compare the rows of --csv with the recorded ones")
    ap.add_argument("--speed", choices=["cpu", "cuda", "batch"], default=None,
                    help="time the training only (on the CPU or on CUDA); 'batch': the "
                         "default score at 100,000 rows by batch size and learning rate")
    ap.add_argument("--methods", nargs="+", default=(), help="only these methods")
    ap.add_argument("--verbose", action="store_true", help="a line per method")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1)")
    args = ap.parse_args(argv)
    global VERBOSE, ONLY
    VERBOSE, ONLY = args.verbose, tuple(args.methods)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    if args.compare:
        compare(args.csv)
        return 0
    if args.speed == "batch":
        speed_batch()
    elif args.speed:
        speed(args.speed)
        return 0
    if not args.table:
        reps = dict(REPS) if args.reps is None else {d: args.reps for d in DESIGNS}
        run(args.designs, reps, args.csv, args.jobs, args.first)
    print(markdown(pd.read_csv(args.csv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
