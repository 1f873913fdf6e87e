"""Issue 13 pilot: the scale of the principal components that ``input_rank`` trains on.

``first`` scales them so that the first has unit root mean square (the first scale of
2026-12-07: the later ones keep their smaller scale, and the networks learn them slowly;
on news the rank-20 networks ran 100-145 epochs).  ``meanC`` scales them so that the top
``C`` have mean unit variance instead (2.2-2.7x larger on news and latent; ``mean20`` is
the library's since).  Runs ``highdim.run_method(design, rep, "nsm")`` (the benchmark's
rows) with that scale and appends them to a CSV:

    python benchmarks/highdim_rank_scale.py news 21 27 mean20 results/highdim_rank_scale_news.csv
    python benchmarks/highdim_rank_scale.py latent 21 31 mean20 results/highdim_rank_scale_latent.csv

``time`` instead of a replication range times the default fit both ways on the speed
benchmark's data (one torch thread): ``python benchmarks/highdim_rank_scale.py time``.

``choose <design> <first> <stop>``: the setting (input rank, lasso) that the default grid
chooses with two networks per setting instead of five (the lead for a cheaper choice:
choose with few networks, then train the ensemble of the chosen setting), with the fit
time and every setting's mean validation loss.
"""
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.utils.extmath import randomized_svd

sys.path.insert(0, str(Path(__file__).resolve().parent))
import highdim  # noqa: E402
import causalsm as csm  # noqa: E402
import causalsm.scores.neural as neural  # noqa: E402

def first_unit(Xp, rank, seed):
    """``_input_basis`` with the first component scaled to unit root mean square."""
    M = Xp if sp.issparse(Xp) else Xp.numpy()
    _, S, Vt = randomized_svd(M, rank, random_state=seed % 2 ** 32)
    return np.ascontiguousarray(Vt.T * (np.sqrt(M.shape[0]) / S[0]), dtype=np.float32)


def mean_scaled(c: int):
    """``_input_basis`` with the top ``c`` components scaled to mean unit variance."""
    def basis(Xp, rank, seed):
        M = Xp if sp.issparse(Xp) else Xp.numpy()
        _, S, Vt = randomized_svd(M, rank, random_state=seed % 2 ** 32)
        scale = np.sqrt(M.shape[0] * c / np.sum(S[:c] ** 2))
        return np.ascontiguousarray(Vt.T * scale, dtype=np.float32)
    return basis


def timing() -> None:
    import torch
    torch.set_num_threads(1)
    from causalsm.datasets import simulate_latent_factors, simulate_news
    news = simulate_news(random_state=1, as_frame=False)
    latent = simulate_latent_factors(random_state=1, as_frame=False)
    for name, X, t, y in [("news", news.X.log1p(), news.t, news.y),
                          ("latent", latent.X, latent.t, latent.y)]:
        for mode in ("first", "mean20", "first", "mean20"):
            neural._input_basis = first_unit if mode == "first" else mean_scaled(20)
            start = time.perf_counter()
            s = csm.NeuralBalancingScore(random_state=0).fit(X, t, outcome=y)
            print(f"{name} {mode}: {time.perf_counter() - start:.2f} s, rank {s.input_rank_}",
                  flush=True)


def choose(design: str, first: int, stop: int) -> None:
    import torch
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore")
    for rep in range(first, stop):
        d = highdim.load(design, rep)
        start = time.perf_counter()
        s = csm.NeuralBalancingScore(n_networks=2, random_state=rep).fit(
            d["X"], d["t"], outcome=d["y"])
        print(design, rep, s.input_rank_, s.input_l1_, f"{time.perf_counter() - start:.1f}s",
              {str(k): round(v, 3) for k, v in s.history_["input_val_loss"].items()},
              flush=True)


def main(argv) -> None:
    if argv[0] == "time":
        timing()
        return
    if argv[0] == "choose":
        choose(argv[1], int(argv[2]), int(argv[3]))
        return
    design, r0, r1, mode, out = argv[0], int(argv[1]), int(argv[2]), argv[3], argv[4]
    neural._input_basis = first_unit if mode == "first" else mean_scaled(int(mode[4:]))
    warnings.filterwarnings("ignore")
    for rep in range(r0, r1):
        df = pd.DataFrame(highdim.run_method(design, rep, "nsm")).assign(mode=mode)
        df.to_csv(out, mode="a", header=not os.path.exists(out), index=False)
        x = df[(df.setting == "default") & (df["sample"] == "in")]
        print(design, rep, mode, " ".join(f"{e} {v:.3f}" for e, v in zip(x.estimand, x.abs_error)),
              flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
