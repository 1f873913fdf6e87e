"""
A continuous treatment: the exposure-response curve
===================================================

With a continuous treatment (a dose) the target is a curve: the average outcome
``E[Y(w)]`` had everyone received dose ``w``.  The data are a simulation from the
CausalGPS package's design, where the true curve is known.
"""

# %%
# Estimate the curve
# ------------------
# :func:`causalsm.exposure_response` models the dose given the covariates (the
# generalised propensity score, here a normal model with a linear mean), matches on it
# to build a pseudo-population in which the dose no longer depends on the covariates,
# and smooths the outcome against the dose.  The intervals come from a bootstrap that
# refits everything; 50 replicates keep this page fast (200 by default).  Units with
# extreme doses are trimmed: the curve is for the remaining 90%.
import warnings

import numpy as np

import causalsm as csm
from causalsm.datasets import causalgps_erf

df = csm.datasets.simulate_causalgps(1000, random_state=0)
covariates = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore", RuntimeWarning)    # the trimming, reported below
    res = csm.exposure_response(df, treatment="w", outcome="Y", covariates=covariates,
                                n_bootstrap=50, eval_points=30, random_state=0)
print(res.summary(points=5))

# %%
# Balance and accuracy
# --------------------
# Balance for a continuous treatment is the correlation of each covariate with the
# dose: close to 0 after matching means the dose is no longer confounded by it.
print(res.balance.round(3))
truth = causalgps_erf(res.exposure)
inside = (res.ci_lower <= truth) & (truth <= res.ci_upper)
print(f"mean |estimate - truth| {np.mean(np.abs(res.estimate - truth)):.2f}; "
      f"the 95% pointwise interval holds the truth at {inside.mean():.0%} of the doses")

# %%
# The plot shows the estimated curve, its pointwise 95% interval (shaded: each dose on
# its own) and the 95% simultaneous band (dotted: the whole curve at once, hence wider),
# with the true curve dashed.
ax = csm.plotting.plot_exposure_response(res, truth=causalgps_erf)
ax.set_title("Exposure-response curve by GPS matching")
ax.figure.tight_layout()
