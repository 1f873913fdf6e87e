"""GPS matching speed: causalsm against R's CausalGPS 0.5.1, in one run.

The matching step of Wu et al.'s GPS matching -- every unit matched at each of 50
exposure levels (``delta_n`` = range / 50, CausalGPS's default grid) -- on
:func:`causalsm.datasets.simulate_causalgps` data (``gps_spec = 1``) at 10^5 and 10^6
units, for ``scale = 1`` (GPS distance only: CausalGPS binary-searches) and ``scale =
0.5`` (CausalGPS scans every candidate for every unit: O(n^2)).  Both sides use the same
normal GPS with an OLS mean (CausalGPS ``sl_lib = "SL.lm"``), one thread, and time only
the matching (causalsm: the GPS at the levels and :func:`~causalsm.matching.exposure.
match_levels`; CausalGPS: ``compute_counter_weight``).  Where CausalGPS ran on the whole
grid the counts are compared (they must be identical).

CausalGPS at 10^6 units and ``scale = 0.5`` takes 15 minutes on a quiet machine and hours
on a loaded one, so by default it runs on 5 of the 50 levels (spread over the grid) and
its time is scaled up by the ratio of the candidates over all levels to those over the 5
(its cost per level is proportional to the number of candidates); the table marks it
``extrapolated``.  ``--full-r-limit 2000000`` runs it on the whole grid.

Usage::

    python benchmarks/gps_matching_speed.py            # needs Rscript with CausalGPS
    python benchmarks/gps_matching_speed.py --sizes 100000 --no-r
    python benchmarks/gps_matching_speed.py --sizes 1000000 --scales 0.5 --full-r-limit 2000000
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from causalsm.datasets import simulate_causalgps
from causalsm.matching.exposure import default_levels, match_levels
from causalsm.scores.density import NormalDensity

HERE = Path(__file__).resolve().parent
COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]
SUBSET = [5, 15, 25, 35, 45]            # 1-based levels CausalGPS runs on when extrapolated


def _python(w, rows, levels, delta, scale):
    start = time.perf_counter()
    res = match_levels(w, rows.density(w), lambda lv: rows.density(lv[None, :]), levels,
                       delta, scale)
    return time.perf_counter() - start, res.counts


def _r(csv: Path, scale: float, subset=None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "r.json"
        cmd = ["Rscript", str(HERE / "causalgps_speed.R"), str(csv), str(scale), str(out)]
        if subset:
            cmd.append(",".join(map(str, subset)))
        subprocess.run(cmd, check=True, capture_output=True, text=True)
        return json.loads(out.read_text())


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--scales", type=float, nargs="+", default=[1.0, 0.5])
    ap.add_argument("--no-r", action="store_true", help="causalsm only")
    ap.add_argument("--full-r-limit", type=int, default=200_000,
                    help="largest n at which CausalGPS runs scale < 1 on the whole grid")
    args = ap.parse_args(argv)
    print(f"{platform.node()}: {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}; "
          "one thread each")
    rows_out = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            df = simulate_causalgps(n, 1, random_state=0)
            X, w = df[COVS], df["w"].to_numpy()
            csv = Path(tmp) / f"data_{n}.csv"
            df[["id", "w"] + COVS].to_csv(csv, index=False, float_format="%.17g")
            rows = NormalDensity().fit(X, w).conditional(X)
            delta = float(np.ptp(w)) / 50
            levels = default_levels(w, delta)
            sizes = np.array([(np.abs(w - v) <= delta / 2).sum() for v in levels])
            for scale in args.scales:
                t_py, counts = _python(w, rows, levels, delta, scale)
                row = {"n": n, "scale": scale, "levels": levels.size,
                       "causalsm_s": t_py}
                if not args.no_r:
                    subset = SUBSET if scale < 1 and n > args.full_r_limit else None
                    r = _r(csv, scale, subset)
                    if subset is None:
                        row["causalgps_s"] = r["seconds"]
                        row["causalgps_run"] = "measured"
                        row["identical_counts"] = bool(np.array_equal(r["counts"], counts))
                    else:
                        idx = np.array(subset) - 1
                        row["causalgps_s"] = r["seconds"] * sizes.sum() / sizes[idx].sum()
                        row["causalgps_run"] = (f"extrapolated from {len(subset)} levels "
                                                f"({r['seconds']:.0f} s)")
                        _, sub = _python(w, rows, levels[idx], delta, scale)
                        row["identical_counts"] = bool(np.array_equal(r["counts"], sub))
                    row["speed-up"] = row["causalgps_s"] / t_py
                rows_out.append(row)
                print(row, flush=True)
    table = pd.DataFrame(rows_out)
    print()
    print(table.to_string(index=False, float_format=lambda v: f"{v:.3g}"))


if __name__ == "__main__":
    main()
