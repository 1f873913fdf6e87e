"""
Sensitivity to hidden bias: Rosenbaum bounds and E-values
=========================================================

Matching adjusts for the covariates we measured.  A sensitivity analysis asks how
strong an *unmeasured* confounder would have to be to overturn the conclusion.  Two
tools: Rosenbaum bounds on the matched pairs, and the E-value of the estimate.
"""

# %%
# A matched estimate
# ------------------
# NSW trainees against PSID controls, each trainee matched to a different control (1:1
# matching without replacement, on the covariates with the Mahalanobis distance), so
# the matched pairs share no unit, as Rosenbaum bounds require.
import warnings

import causalsm as csm

df = csm.datasets.load_lalonde("psid")
covariates = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
with warnings.catch_warnings():
    warnings.simplefilter("ignore")      # poor overlap of the PSID controls
    res = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=covariates,
                              score="mahalanobis", replace=False, random_state=0)
print(f"ATT {res.estimate:,.0f}, 95% CI [{res.ci_lower:,.0f}, {res.ci_upper:,.0f}], "
      f"p = {res.p_value:.3f}")

# %%
# Rosenbaum bounds
# ----------------
# Gamma is the factor by which a hidden confounder could multiply the odds of
# treatment of two units in the same pair.  Gamma = 1 is no hidden bias (the usual
# test); for each larger Gamma the table gives the range of p-values of the test of no
# effect.  The critical Gamma is the smallest bias at which the upper bound reaches the
# 5% level, i.e. the effect could no longer be called significant.
sens = res.sensitivity()
print(sens.summary())

# %%
# The plot draws the upper bound on the p-value against Gamma; the dotted line marks the
# critical Gamma.
ax = csm.plotting.plot_sensitivity(sens, show_lower=True)
ax.figure.tight_layout()

# %%
# E-value
# -------
# The E-value (VanderWeele and Ding 2017) is the strength, on the risk-ratio scale, that
# an unmeasured confounder would need with both the treatment and the outcome to move
# the estimate to no effect; the E-value of the interval is what it would take to move
# the interval to include no effect.  It needs no matched pairs, so it also applies to
# matching with replacement.
ev = res.evalue()
print(ev.summary())
