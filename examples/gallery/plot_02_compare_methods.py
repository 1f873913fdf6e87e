"""
Comparing matching methods side by side
=======================================

:func:`causalsm.compare` runs several matching methods on the same data and returns one
row per method: the estimate and its interval, and the covariate balance after
matching.  On the LaLonde data (NSW trainees against PSID controls) the randomised NSW
experiment gives the benchmark ATT, so we can see which methods recover it.
"""

# %%
# Run the comparison
# ------------------
# The default methods are neural score matching (``nsm``) and the network's own
# propensity (``nn_ps``), logistic propensity score matching (``psm``), Mahalanobis and
# principal-component matching, multiply robust matching (``mr``), random matching
# (a floor that any method should beat) and full matching on the neural and on the
# propensity score.  To keep this page fast the networks train for 10 epochs (200 by
# default) and the multiply robust bootstrap has 20 replicates (200 by default).
import warnings

import matplotlib.pyplot as plt
import pandas as pd

import causalsm as csm

df = csm.datasets.load_lalonde("psid")
bench = csm.datasets.nsw_benchmark()
covariates = ["age", "educ", "black", "hisp", "married", "nodegr",
              "re74", "re75", "u74", "u75"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")      # poor overlap of the PSID controls (see the quick start)
    table = csm.compare(df, treatment="treat", outcome="re78", covariates=covariates,
                        estimand="ATT", truth=bench.att, random_state=0,
                        neural_params={"epochs": 10}, mr_params={"n_bootstrap": 20})

# %%
# Read the table
# --------------
# ``estimate`` is each method's ATT with its 95% interval (``ci_lower``, ``ci_upper``);
# ``covers_truth`` says whether the interval contains the benchmark; ``max_abs_smd`` is
# the largest absolute standardized mean difference of a covariate after matching
# (lower is better balanced; before matching it is ``table.attrs["max_abs_smd_before"]``).
cols = ["method", "estimate", "ci_lower", "ci_upper", "covers_truth", "max_abs_smd"]
with pd.option_context("display.float_format", "{:,.2f}".format, "display.width", 100):
    print(table[cols].to_string(index=False))
print(f"max |SMD| before matching: {table.attrs['max_abs_smd_before']:.2f}; "
      f"benchmark ATT {bench.att:,.0f}")

# %%
# Plot the estimates
# ------------------
# Each dot is an estimate with its 95% interval; the dashed line is the experimental
# benchmark.  Random matching balances nothing and lands far below the benchmark.
ax = csm.plot_comparison(table)
ax.set_title("ATT of the NSW programme, PSID controls")
plt.tight_layout()
