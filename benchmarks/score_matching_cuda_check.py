"""ScoreMatchingDensity on CUDA: the same fit as on the CPU, and how much faster.

Not run in CI (no GPU there).  On a machine with one, it fits
:class:`~causalsm.scores.score_matching.ScoreMatchingDensity` with the same seed on the CPU
and on ``device="cuda"`` to CausalGPS's skewed design, then checks that

* both densities integrate to 1 for every row (quadrature on the device);
* their held-out mean log-likelihoods agree to 0.02 (the two devices draw different
  random numbers, so the fits differ like two seeds, not bit for bit);
* the GPS at 50 exposure levels for 10^6 units evaluates on the GPU,

and prints the fit and evaluation times::

    python benchmarks/score_matching_cuda_check.py [--n 20000] [--eval-n 1000000]

It exits with status 1 if a check fails, 2 without CUDA.
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np

from causalsm.datasets import causalgps_log_gps, simulate_causalgps
from causalsm.scores.score_matching import ScoreMatchingDensity

COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]


def main(argv=None) -> int:
    import torch
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=20_000)
    ap.add_argument("--eval-n", type=int, default=1_000_000)
    args = ap.parse_args(argv)
    if not torch.cuda.is_available():
        print("no CUDA device")
        return 2
    train = simulate_causalgps(args.n, "skewed", random_state=1)
    test = simulate_causalgps(20_000, "skewed", random_state=2)
    truth = float(np.mean(causalgps_log_gps(test, "skewed")))
    grid = np.linspace(-60, 80, 20001)
    fits, ok = {}, True
    for device in ("cpu", "cuda"):
        start = time.perf_counter()
        model = ScoreMatchingDensity(device=device, random_state=0, n_threads=None)
        model.fit(train[COVS], train["w"])
        seconds = time.perf_counter() - start
        gap = model.mean_log_density(test[COVS], test["w"]) - truth
        mass = model.density_at(test[COVS].iloc[:5], grid).sum(1) * (grid[1] - grid[0])
        fits[device] = gap
        print(f"{device}: fit {seconds:.1f} s ({model.n_epochs_} epochs), held-out log r gap "
              f"{gap:.4f}, mass {np.round(mass, 6)}")
        ok &= bool(np.allclose(mass, 1, atol=1e-4))
    ok &= abs(fits["cpu"] - fits["cuda"]) < 0.02
    big = simulate_causalgps(args.eval_n, "skewed", random_state=3)
    levels = np.linspace(0, 20, 50)
    start = time.perf_counter()
    dens = model.density_at(big[COVS], levels)
    seconds = time.perf_counter() - start
    print(f"cuda: GPS of {args.eval_n:,} units at 50 levels in {seconds:.1f} s")
    ok &= bool(np.isfinite(dens).all() and dens.shape == (args.eval_n, 50))
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
