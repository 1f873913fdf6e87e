"""Coverage of the population effects on the simulated high-dimensional designs.

``highdim.py`` scores every method against the in-sample effects (the mean of
``mu1 - mu0`` over the sample's treated / all units).  Its default interval uses the
Abadie-Imbens *population* variance, whose target is the population effect
(``PATT = E[e tau] / E[e]``, ``PATE = E[tau]``), so where effects vary a lot (the news
design) it over-covers the in-sample one.  This script computes each replication's
population effects with the simulators' ``population=`` option (the same world as the
replication's sample, which is unchanged: 100,000 further documents for news,
1,000,000 further units for latent and sparse) and scores the recorded intervals
(estimate +- 1.96 SE, as the estimator's) of ``results/highdim_runs.csv`` against them.

Usage::

    python benchmarks/highdim_population.py compute --jobs 2   # results/highdim_population.csv
    python benchmarks/highdim_population.py compute --reps 100 --designs latent,sparse
    python benchmarks/highdim_population.py table [--runs CSV]  # coverage of both truths
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from causalsm.datasets import simulate_latent_factors, simulate_news, simulate_sparse_linear

HERE = Path(__file__).resolve().parent
CSV = HERE / "results" / "highdim_population.csv"
RUNS = HERE / "results" / "highdim_runs.csv"
SIMULATORS = {"news": (simulate_news, 100_000), "latent": (simulate_latent_factors, 1_000_000),
              "sparse": (simulate_sparse_linear, 1_000_000)}


def population(task: tuple[str, int]) -> dict:
    design, rep = task
    sim, size = SIMULATORS[design]
    effects = sim(random_state=rep, as_frame=False, population=size).true_effect
    return {"design": design, "rep": rep, "population": size, **effects}


def compute(reps: int = 50, jobs: int = 1, designs=tuple(SIMULATORS)) -> None:
    done = pd.read_csv(CSV) if CSV.exists() else pd.DataFrame(columns=["design", "rep"])
    have = set(zip(done["design"], done["rep"]))
    tasks = [(d, r) for d in designs for r in range(1, reps + 1) if (d, r) not in have]
    with ProcessPoolExecutor(jobs) as pool:
        for row in pool.map(population, tasks):
            pd.DataFrame([row]).to_csv(CSV, mode="a", header=not CSV.exists(), index=False)
            print(row, flush=True)


def table(runs: Path = RUNS) -> None:
    pop = pd.read_csv(CSV)
    d = pd.read_csv(runs)
    d = d[d["std_error"].notna() & (d["sample"] == "in") & d["design"].isin(list(SIMULATORS))]
    d = d.merge(pop, on=["design", "rep"])
    d["ptruth"] = np.where(d["estimand"] == "ATT", d["PATT"], d["PATE"])
    half = 1.959964 * d["std_error"]
    d["cov_pop"] = (np.abs(d["estimate"] - d["ptruth"]) <= half).astype(float)
    d["sd_gap"] = d["truth"] - d["ptruth"]
    print("| design | method | setting | estimand | reps | coverage: in-sample truth | "
          "population truth | bias vs population | SD(sample - population truth) | "
          "mean SE | SD(estimate - population truth) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    keys = ["design", "method", "setting", "estimand"]
    for (design, method, setting, estimand), g in d.groupby(keys, sort=False):
        print(f"| {design} | {method} | {setting} | {estimand} | {len(g)} | "
              f"{g['covered'].mean():.2f} | {g['cov_pop'].mean():.2f} | "
              f"{(g['estimate'] - g['ptruth']).mean():+.3f} | {g['sd_gap'].std():.3f} | "
              f"{g['std_error'].mean():.3f} | {(g['estimate'] - g['ptruth']).std():.3f} |")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    comp = sub.add_parser("compute", help="append missing population effects to the CSV")
    comp.add_argument("--reps", type=int, default=50, help="replications 1..REPS")
    comp.add_argument("--jobs", type=int, default=1)
    comp.add_argument("--designs", default=",".join(SIMULATORS),
                      help=f"comma-separated, of {', '.join(SIMULATORS)}")
    tab = sub.add_parser("table", help="coverage of both truths")
    tab.add_argument("--runs", type=Path, default=RUNS)
    args = parser.parse_args(argv)
    if args.command == "table":
        return table(args.runs)
    designs = args.designs.split(",")
    unknown = [d for d in designs if d not in SIMULATORS]
    if unknown:
        parser.error(f"--designs: unknown {unknown}; choose from {list(SIMULATORS)}")
    compute(reps=args.reps, jobs=args.jobs, designs=designs)


if __name__ == "__main__":
    main()
