"""How strong would a hidden confounder have to be?  LaLonde with the neural score.

NSW trainees against PSID-1 controls (``load_lalonde("psid")``): the ATT by 1:1 matching
without replacement on the neural balancing score, then

* Rosenbaum bounds on the matched pairs (``res.sensitivity()``): the upper bound on the
  p-value of the test of no effect for each hidden bias Gamma, the critical Gamma and a
  sentence to quote, with the ranges of estimates and intervals under each Gamma;
* the E-value of the estimate (``res.evalue()``), also for matching with replacement,
  where the matched sets overlap and Rosenbaum bounds do not apply;
* McNemar's bound for the binary outcome "employed in 1978".

Usage::

    python examples/sensitivity_lalonde.py [FIGURE_DIR]     # or CAUSALSM_OUTPUT_DIR=DIR
    CAUSALSM_FAST=1 python examples/sensitivity_lalonde.py  # a quick run (tests)

Writes ``sensitivity_lalonde.png`` (the bound on the p-value against Gamma).
"""

from __future__ import annotations

import os
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import causalsm as csm  # noqa: E402

FAST = os.environ.get("CAUSALSM_FAST", "") not in ("", "0")
COV = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]


def main() -> None:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("CAUSALSM_OUTPUT_DIR", "."))
    df = csm.datasets.load_lalonde("psid")
    score = "propensity" if FAST else "neural"          # the network trains for ~30 s
    res = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=COV,
                              score=score, replace=False, random_state=0)
    print(res.summary())
    sens = res.sensitivity(intervals=True)
    print(sens.summary())
    print()
    print(res.evalue().summary())

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        repl = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=COV,
                                   score=score, random_state=0)
    try:
        repl.sensitivity()
    except csm.InputError as exc:
        print(f"\nWith replacement: {exc}")
    print(repl.evalue().conclusion)

    employed = df.assign(employed=(df["re78"] > 0).astype(int)).drop(columns="re78")
    binary = csm.estimate_effect(employed, treatment="treat", outcome="employed",
                                 covariates=COV, score=score, replace=False, random_state=0)
    print()
    print(binary.sensitivity().conclusion)

    ax = sens.plot(show_lower=True)
    ax.figure.savefig(out / "sensitivity_lalonde.png", dpi=120, bbox_inches="tight")
    print(f"\nfigure written to {out / 'sensitivity_lalonde.png'}")


if __name__ == "__main__":
    main()
