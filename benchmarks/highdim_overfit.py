"""Issue 13 diagnostic: is the neural estimator's bias on the news and latent designs the
prognostic heads fitting the outcome noise of the units they then match?

For each replication the recommended score (``highdim.methods(design)["nsm"]``) is fitted
twice: on the outcome ``y`` (as the estimator does) and on ``y' = mu_t(x) + fresh noise``,
an outcome with the same signal and independent noise; both scores are then frozen and
used by ``MatchingEstimator`` (defaults) with the real ``y``.  If fitting the noise
caused the bias, the second would remove it.  Prints, per replication, the ATT error and
SE with ``y`` then with ``y'``, then the same for the ATE.

    python benchmarks/highdim_overfit.py latent 21 31
"""
from __future__ import annotations

import sys
import warnings
from pathlib import Path

import numpy as np
from sklearn.frozen import FrozenEstimator

sys.path.insert(0, str(Path(__file__).parent))
import highdim  # noqa: E402

import causalsm as csm  # noqa: E402
from causalsm.datasets import simulate_latent_factors, simulate_news  # noqa: E402


def one(design: str, rep: int) -> list[float]:
    sim = {"news": simulate_news, "latent": simulate_latent_factors}[design]
    b = sim(random_state=rep, as_frame=False)
    X = b.X.log1p() if design == "news" else b.X
    rng = np.random.default_rng(10_000 + rep)
    y_alt = np.where(b.t == 1, b.mu1, b.mu0) + rng.normal(size=b.t.size)
    out = []
    for estimand in ("ATT", "ATE"):
        tau = b.mu1 - b.mu0
        truth = tau[b.t == 1].mean() if estimand == "ATT" else tau.mean()
        for outcome in (b.y, y_alt):
            score = highdim.methods(design)["nsm"](rep).fit(X, b.t, outcome=outcome)
            e = csm.MatchingEstimator(balancing_score=FrozenEstimator(score),
                                      estimand=estimand, random_state=rep).fit(X, b.t, b.y)
            out += [e.effect_.estimate - truth, e.effect_.std_error]
    return out


def main(argv=None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    design, start, stop = argv[0], int(argv[1]), int(argv[2])
    warnings.simplefilter("ignore")
    for rep in range(start, stop):
        print(design, rep, " ".join(f"{v:+.4f}" for v in one(design, rep)), flush=True)


if __name__ == "__main__":
    main()
