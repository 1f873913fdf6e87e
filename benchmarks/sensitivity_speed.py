"""Time of a Rosenbaum sensitivity analysis (default grid and critical Gamma) by design size.

    PYTHONPATH=$PWD python benchmarks/sensitivity_speed.py

Each row: one ``rosenbaum_bounds`` call with the defaults (two-sided; the critical Gamma
by root search, then the default grid of Gammas), best of 3 (1 for the largest).
"""

from __future__ import annotations

import time

import numpy as np

from causalsm import sensitivity as sen


def _time(f, repeat):
    best = np.inf
    for _ in range(repeat):
        start = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - start)
    return best


def main():
    rng = np.random.default_rng(0)
    rows = []
    for n in (10 ** 3, 10 ** 4, 10 ** 5, 10 ** 6):
        d = rng.standard_t(3, size=n) + 0.1
        rows.append((f"{n:,} pairs, Huber M",
                     _time(lambda: sen.rosenbaum_bounds(d), 3 if n < 10 ** 6 else 1)))
        if n <= 10 ** 5:
            rows.append((f"{n:,} pairs, signed rank",
                         _time(lambda: sen.rosenbaum_bounds(d, statistic="wilcoxon"), 3)))
    for n in (10 ** 4, 10 ** 5):
        Y = rng.normal(size=(n, 4))
        Y[:, 0] += 0.1
        rows.append((f"{n:,} sets 1:3, Huber M", _time(lambda: sen.rosenbaum_bounds(Y), 3)))
        B = (rng.random((n, 4)) < 0.3).astype(float)
        B[:, 0] = rng.random(n) < 0.35
        rows.append((f"{n:,} sets 1:3, binary (exact MH)",
                     _time(lambda: sen.rosenbaum_bounds(B), 3)))
    d = rng.standard_t(3, size=10 ** 4) + 0.1
    rows.append(("10,000 pairs, Huber M with intervals at 6 Gammas",
                 _time(lambda: sen.rosenbaum_bounds(d, [1, 1.1, 1.2, 1.3, 1.4, 1.5],
                                                    intervals=True), 1)))
    sub = np.repeat(np.arange(5), 2000)
    t = (rng.random(sub.size) < 0.1 + 0.05 * sub).astype(int)
    y = rng.normal(size=sub.size) + 0.2 * t
    rows.append(("5 strata of 2,000 units (subclasses), Huber M, Taylor bound",
                 _time(lambda: sen.rosenbaum_bounds(y, treated=t, sets=sub), 1)))
    print("| design | seconds |\n|---|---|")
    for name, sec in rows:
        print(f"| {name} | {sec:.3f} |")


if __name__ == "__main__":
    main()
