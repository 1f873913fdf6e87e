"""
Quick start: job training on the LaLonde data
=============================================

Did the National Supported Work (NSW) job-training programme raise earnings?  The 185
NSW trainees are compared with 2,490 men from the PSID survey, a non-experimental
comparison group that is much older, richer and more often married.  The NSW also ran a
randomised experiment, whose estimate (about $1,794) is the benchmark a method should
recover.
"""

# %%
# Load the data
# -------------
# ``treat`` is 1 for the trainees, ``re78`` the earnings in 1978 (the outcome), and the
# other columns are pre-treatment covariates, including earnings in 1974 and 1975.
import warnings

import causalsm as csm

df = csm.datasets.load_lalonde("psid")
bench = csm.datasets.nsw_benchmark()
covariates = ["age", "educ", "black", "hisp", "married", "nodegr",
              "re74", "re75", "u74", "u75"]
print(f"{int(df.treat.sum())} treated, {int((1 - df.treat).sum())} controls; "
      f"experimental benchmark ATT {bench.att:,.0f} (SE {bench.se:,.0f})")

# %%
# Estimate the effect
# -------------------
# The estimand is the ATT, the average effect of the programme on the trainees.  Each
# trainee is matched to the control with the closest propensity score (the estimated
# probability of being a trainee given the covariates), and the remaining difference in
# covariates within pairs is removed by a regression (bias correction).  The library
# warns that many controls have a propensity close to 0: they look nothing like the
# trainees, which is why the comparison is hard.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    res = csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=covariates,
                              score="propensity", bias_correction=True, random_state=0)
for w in caught:
    print("warning:", w.message)
print(res.summary())

# %%
# The 95% confidence interval uses the Abadie-Imbens standard error; it is wide, but it
# contains the experimental benchmark, while the naive difference of means is far off.
naive = df.re78[df.treat == 1].mean() - df.re78[df.treat == 0].mean()
print(f"naive difference of means: {naive:,.0f}")
print(f"matched ATT: {res.estimate:,.0f}, 95% CI [{res.ci_lower:,.0f}, {res.ci_upper:,.0f}]"
      f"; covers the benchmark: {res.ci_lower <= bench.att <= res.ci_upper}")

# %%
# Check the balance
# -----------------
# Matching is only as good as the balance it achieves.  The same match, made with the
# estimator object, gives the standardized mean difference (SMD) of every covariate
# between the treated and the controls, before and after matching.  The love plot
# draws them: an absolute SMD below 0.1 (the dashed line) is the usual mark of good
# balance.  Matching removes most of the huge gaps in past earnings (``re74``,
# ``re75``), though some covariates stay above 0.1: the bias correction and the
# interval account for what is left.
est = csm.MatchingEstimator(balancing_score=csm.PropensityScore(), bias_correction=True,
                            random_state=0)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")       # the overlap warning shown above
    est.fit(df[covariates], df.treat, df.re78)
balance = est.balance()
print(balance[["smd_before", "smd_after"]].round(2))

ax = csm.plotting.love_plot(balance)
ax.set_title("Propensity score matching, NSW treated vs PSID controls")
ax.figure.tight_layout()
