"""Tests for the Abadie-Imbens (2016) estimated-propensity-score adjustment.

Unit-level identities first, then a seeded Monte Carlo with known truth: 1-NN matching with
replacement on the estimated PS, AI (2006) population variance, and the adjusted variance,
compared with the Monte Carlo variance of the estimator.  A longer version of the simulation,
with more designs, lives in ``benchmarks/ps_adjustment_sim.py``.
"""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from causalsm._validation import InputError
from causalsm.estimators.ps_adjustment import (
    local_covariances,
    logit_information,
    ps_adjustment,
    ps_adjustment_terms,
)

Z975 = 1.959963984540054


# ------------------------------------------------------------------ helpers (self-contained)

def fit_logit(X: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Logistic-regression MLE by Newton-Raphson; returns the fitted probabilities."""
    theta = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1.0 / (1.0 + np.exp(-X @ theta))
        step = np.linalg.solve((X * (p * (1 - p))[:, None]).T @ X, X.T @ (t - p))
        theta += step
        if np.abs(step).max() < 1e-10:
            break
    return 1.0 / (1.0 + np.exp(-X @ theta))


def nearest_in_arm(ps: np.ndarray, t: np.ndarray, arm: int) -> np.ndarray:
    """For every unit, the index of the unit of ``arm`` nearest on ps (1-NN, with replacement)."""
    members = np.flatnonzero(t == arm)
    order = members[np.argsort(ps[members])]
    s = ps[order]
    pos = np.searchsorted(s, ps)
    lo, hi = np.clip(pos - 1, 0, s.size - 1), np.clip(pos, 0, s.size - 1)
    return order[np.where(np.abs(s[lo] - ps) <= np.abs(s[hi] - ps), lo, hi)]


def nearest_same_arm(ps: np.ndarray, t: np.ndarray) -> np.ndarray:
    """For every unit, its nearest other unit of the same arm on ps (J = 1)."""
    out = np.empty(ps.size, dtype=np.int64)
    for arm in (0, 1):
        members = np.flatnonzero(t == arm)
        order = members[np.argsort(ps[members])]
        s, r = ps[order], np.arange(members.size)
        left = np.where(r > 0, s - s[np.maximum(r - 1, 0)], np.inf)
        right = np.where(r < s.size - 1, s[np.minimum(r + 1, s.size - 1)] - s, np.inf)
        out[order] = np.where(left <= right, order[np.maximum(r - 1, 0)],
                              order[np.minimum(r + 1, s.size - 1)])
    return out


def match_and_variance(X, t, y, ps):
    """1-NN PS matching for ATE and ATT with AI (2006) population variances and the adjustments."""
    n, n1 = t.size, int(t.sum())
    to_treated, to_control = nearest_in_arm(ps, t, 1), nearest_in_arm(ps, t, 0)
    y1 = np.where(t == 1, y, y[to_treated])
    y0 = np.where(t == 0, y, y[to_control])
    sigma2 = 0.5 * (y - y[nearest_same_arm(ps, t)]) ** 2          # J = 1: J/(J+1) (Y_i - Y_j)^2
    # ATE (M = 1): K_M(i) = times i is used as a match by units of the other arm
    tau = float(np.mean(y1 - y0))
    K = np.bincount(np.where(t == 1, to_control, to_treated), minlength=n).astype(float)
    v_ate = (np.sum((y1 - y0 - tau) ** 2) + np.sum((K ** 2 + K) * sigma2)) / n ** 2
    # ATT: only treated units are matched; K'_M = K_M for M = 1
    tau_t = float(np.mean((y - y0)[t == 1]))
    Kt = np.bincount(to_control[t == 1], minlength=n).astype(float)
    v_att = (np.sum(((y - y0 - tau_t) ** 2)[t == 1])
             + np.sum((1 - t) * (Kt ** 2 - Kt) * sigma2)) / n1 ** 2
    a_ate = ps_adjustment(X, t, y, ps, estimand="ATE", y1_hat=y1, y0_hat=y0, tau=tau)
    a_att = ps_adjustment(X, t, y, ps, estimand="ATT", y1_hat=y1, y0_hat=y0, tau=tau_t)
    return tau, v_ate, a_ate, tau_t, v_att, a_att


def simulate(rng, n, theta=(0.0, 1.0, -0.5), beta=(1.0, 1.0, 1.0), effect=(1.0, 1.0, 0.0)):
    """X = (1, z1, z2), z ~ N(0, I); logit PS; Y = X beta + W X effect + N(0, 1)."""
    Z = rng.normal(size=(n, 2))
    X = np.column_stack([np.ones(n), Z])
    p = 1.0 / (1.0 + np.exp(-X @ np.asarray(theta)))
    t = (rng.uniform(size=n) < p).astype(np.int64)
    y = X @ np.asarray(beta) + t * (X @ np.asarray(effect)) + rng.normal(size=n)
    return X, t, y, p


def brute_local_cov(X, t, y, ps, arm, L):
    """O(n^2) reference for local_covariances."""
    out = np.zeros(X.shape)
    members = np.flatnonzero(t == arm)
    for i in range(t.size):
        if t[i] == arm:
            others = members[members != i]
            near = others[np.argsort(np.abs(ps[others] - ps[i]), kind="stable")[:L - 1]]
            H = np.concatenate([[i], near])
        else:
            H = members[np.argsort(np.abs(ps[members] - ps[i]), kind="stable")[:L]]
        xc, yc = X[H] - X[H].mean(axis=0), y[H] - y[H].mean()
        out[i] = xc.T @ yc / (L - 1)
    return out


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(20240517)
    X, t, y, _ = simulate(rng, 500)
    ps = fit_logit(X, t)
    to_treated, to_control = nearest_in_arm(ps, t, 1), nearest_in_arm(ps, t, 0)
    y1 = np.where(t == 1, y, y[to_treated])
    y0 = np.where(t == 0, y, y[to_control])
    return X, t, y, ps, y1, y0


# ------------------------------------------------------------------ unit-level identities

def test_information_equals_statsmodels_hessian(data):
    X, t, _, _, _, _ = data
    res = sm.Logit(t, X).fit(disp=0, tol=1e-12, maxiter=100)
    ps = res.predict(X)
    info = logit_information(X, ps)
    np.testing.assert_allclose(info, np.linalg.inv(res.cov_params()) / X.shape[0], rtol=1e-8)
    # and our Newton fit agrees with statsmodels
    np.testing.assert_allclose(fit_logit(X, t), ps, atol=1e-8)


@pytest.mark.parametrize("L", [2, 3, 5])
@pytest.mark.parametrize("arm", [0, 1])
def test_local_covariances_match_brute_force(arm, L):
    rng = np.random.default_rng(L + 10 * arm)
    X, t, y, _ = simulate(rng, 80)
    ps = fit_logit(X, t)
    got = local_covariances(X, t, y, ps, arm, L)
    np.testing.assert_allclose(got, brute_local_cov(X, t, y, ps, arm, L), atol=1e-12)
    np.testing.assert_allclose(got[:, 0], 0.0, atol=1e-12)      # intercept column


def test_atc_is_mirrored_att(data):
    X, t, y, ps, y1, y0 = data
    atc = ps_adjustment_terms(X, t, y, ps, estimand="ATC", y1_hat=y1, y0_hat=y0, tau=-0.3)
    att = ps_adjustment_terms(X, 1 - t, y, 1 - ps, estimand="ATT", y1_hat=y0, y0_hat=y1,
                              tau=0.3)
    assert atc.adjustment == pytest.approx(att.adjustment, rel=1e-12)
    np.testing.assert_allclose(atc.c, att.c, rtol=1e-12)
    # mirroring the design (theta -> -theta) is the same model: same information, same answer
    Xm = X.copy()
    Xm[:, 1:] *= -1
    att_m = ps_adjustment(Xm, 1 - t, y, 1 - ps, estimand="ATT", y1_hat=y0, y0_hat=y1, tau=0.3)
    assert atc.adjustment == pytest.approx(att_m, rel=1e-10)


def test_ate_is_invariant_to_swapping_arms(data):
    X, t, y, ps, y1, y0 = data
    a = ps_adjustment(X, t, y, ps, estimand="ATE", y1_hat=y1, y0_hat=y0, tau=1.0)
    b = ps_adjustment(X, 1 - t, y, 1 - ps, estimand="ATE", y1_hat=y0, y0_hat=y1, tau=-1.0)
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_invariant_to_row_order(data, estimand):
    X, t, y, ps, y1, y0 = data
    perm = np.random.default_rng(3).permutation(t.size)
    a = ps_adjustment(X, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0, tau=0.7)
    b = ps_adjustment(X[perm], t[perm], y[perm], ps[perm], estimand=estimand,
                      y1_hat=y1[perm], y0_hat=y0[perm], tau=0.7)
    assert a == pytest.approx(b, rel=1e-10)


def test_inputs_not_modified(data):
    X, t, y, ps, y1, y0 = (a.copy() for a in data)
    for a in (X, t, y, ps, y1, y0):
        a.setflags(write=False)               # an in-place write would raise
    for estimand in ("ATE", "ATT", "ATC"):
        ps_adjustment(X, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0, tau=1.0)
    for a, b in zip((X, t, y, ps, y1, y0), data):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_invariant_to_reparametrising_the_design(data, estimand):
    # X -> X A with A invertible spans the same model: same ps, same adjustment
    X, t, y, ps, y1, y0 = data
    A = np.array([[1.0, 3.0, -1.0], [0.0, 2.0, 0.5], [0.0, 1.0, 1.0]])
    a = ps_adjustment(X, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0, tau=1.2)
    b = ps_adjustment(X @ A, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0, tau=1.2)
    assert a == pytest.approx(b, rel=1e-9)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_scaling_and_shift_of_the_outcome(data, estimand):
    X, t, y, ps, y1, y0 = data
    a = ps_adjustment(X, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0, tau=1.1)
    b = ps_adjustment(X, t, 3 * y + 5, ps, estimand=estimand, y1_hat=3 * y1 + 5,
                      y0_hat=3 * y0 + 5, tau=3 * 1.1)
    assert b == pytest.approx(9 * a, rel=1e-9)


@pytest.mark.parametrize("estimand", ["ATE", "ATT", "ATC"])
def test_zero_for_a_constant_effect_without_covariates(data, estimand):
    # Y = a + b W: no covariance with X, and every matched effect equals tau
    X, t, _, ps, _, _ = data
    y = 2.0 + 1.5 * t
    y1, y0 = np.full(t.size, 3.5), np.full(t.size, 2.0)
    assert ps_adjustment(X, t, y, ps, estimand=estimand, y1_hat=y1, y0_hat=y0,
                         tau=1.5) == pytest.approx(0.0, abs=1e-14)


def test_ate_adjustment_is_never_positive():
    for seed in range(10):
        rng = np.random.default_rng(seed)
        X, t, y, _ = simulate(rng, 300, beta=rng.normal(size=3), effect=rng.normal(size=3))
        ps = fit_logit(X, t)
        y1 = np.where(t == 1, y, y[nearest_in_arm(ps, t, 1)])
        y0 = np.where(t == 0, y, y[nearest_in_arm(ps, t, 0)])
        assert ps_adjustment(X, t, y, ps, estimand="ATE", y1_hat=y1, y0_hat=y0, tau=0.0) <= 0


def test_att_adjustment_vanishes_when_outcomes_depend_on_x_only_through_the_ps():
    # mu_w are functions of p only: c_t = d tau_t / d theta, so the ATT term is zero
    # asymptotically (the spec 2.4 version without the E[X f (mubar_1 - mubar_0 - tau_t)] term
    # of c_t would give about +2.8 / n here).
    rng = np.random.default_rng(11)
    n = 1000
    X, t, y, _ = simulate(rng, n, theta=(0.0, 1.0, 0.0), beta=(0.0, 0.0, 0.0),
                          effect=(0.0, 2.0, 0.0))
    ps = fit_logit(X, t)
    y1 = np.where(t == 1, y, y[nearest_in_arm(ps, t, 1)])
    y0 = np.where(t == 0, y, y[nearest_in_arm(ps, t, 0)])
    tau_t = float(np.mean((y - y0)[t == 1]))
    terms = ps_adjustment_terms(X, t, y, ps, estimand="ATT", y1_hat=y1, y0_hat=y0, tau=tau_t)
    assert abs(n * terms.adjustment) < 1.0
    naive_d = (X * (ps * (1 - ps) * (y1 - y0 - tau_t))[:, None]).sum(axis=0) / t.sum()
    assert n * naive_d @ np.linalg.solve(terms.information, naive_d) > 1.5


def test_signs_when_the_effect_opposes_the_outcome_slope():
    # mu_0 = 2 z2, mu_1 = 1 - 2 z2, PS on z1 only: (1-p) cov_1 + p cov_0 averages to zero, so the
    # ATE term is ~0 (the Monte Carlo agrees; the multilevelMatching sign (1-p) cov_1 - p cov_0
    # would give about -19 / n), and the ATT term is positive (about +12 / n; Monte Carlo
    # n (Var_est - Var_true) = +10 to +18, see benchmarks/ps_adjustment_sim.py, design H).
    rng = np.random.default_rng(8)
    n = 1000
    X, t, y, _ = simulate(rng, n, theta=(0.0, 1.0, 0.0), beta=(0.0, 0.0, 2.0),
                          effect=(1.0, 0.0, -4.0))
    ps = fit_logit(X, t)
    _, _, a_ate, _, _, a_att = match_and_variance(X, t, y, ps)
    assert -3.0 < n * a_ate <= 0
    assert n * a_att > 5.0


def test_runs_at_large_n_without_quadratic_memory():
    rng = np.random.default_rng(5)
    X, t, y, p = simulate(rng, 200_000)
    a = ps_adjustment(X, t, y, p, estimand="ATT", y1_hat=y, y0_hat=y, tau=1.0)
    assert np.isfinite(a)


def test_errors(data):
    X, t, y, ps, y1, y0 = data
    kw = dict(y1_hat=y1, y0_hat=y0, tau=1.0)
    with pytest.raises(InputError, match="estimand"):
        ps_adjustment(X, t, y, ps, estimand="ATO", **kw)
    with pytest.raises(InputError, match="between 0 and 1"):
        ps_adjustment(X, t, y, np.where(ps > 0.5, 1.0, ps), estimand="ATE", **kw)
    with pytest.raises(InputError, match="rows"):
        ps_adjustment(X[:-1], t, y, ps, estimand="ATE", **kw)
    with pytest.raises(InputError, match="binary"):
        ps_adjustment(X, t + 1, y, ps, estimand="ATE", **kw)
    with pytest.raises(InputError, match="n_cov_neighbors"):
        ps_adjustment(X, t, y, ps, estimand="ATE", n_cov_neighbors=1, **kw)
    with pytest.raises(InputError, match="singular"):
        ps_adjustment(np.column_stack([X, X[:, 1]]), t, y, ps, estimand="ATE", **kw)
    t_one = np.zeros_like(t)
    t_one[0] = 1
    with pytest.raises(InputError, match="arm 1"):
        ps_adjustment(X, t_one, y, ps, estimand="ATE", **kw)
    with pytest.raises(InputError, match="missing"):
        ps_adjustment(X, t, np.where(t == 1, np.nan, y), ps, estimand="ATE", **kw)


# ------------------------------------------------------------------ Monte Carlo, known truth

def _true_effects(theta=(0.0, 1.0, -0.5), effect=(1.0, 1.0, 0.0)):
    """ATE and ATT of ``simulate`` by Gauss-Hermite quadrature (Stein: E[z p] = theta E[p'])."""
    s = float(np.hypot(theta[1], theta[2]))
    v, w = np.polynomial.hermite_e.hermegauss(80)
    w = w / w.sum()
    p = 1.0 / (1.0 + np.exp(-(theta[0] + s * v)))
    Ep, Edp = w @ p, w @ (p * (1 - p))
    ate = effect[0]
    att = effect[0] + (effect[1] * theta[1] + effect[2] * theta[2]) * Edp / Ep
    return ate, att


@pytest.fixture(scope="module")
def monte_carlo():
    rng = np.random.default_rng(0)
    n, R = 1000, 300
    out = np.empty((R, 6))
    for r in range(R):
        X, t, y, _ = simulate(rng, n)
        out[r] = match_and_variance(X, t, y, fit_logit(X, t))
    return out


def _coverage_ok(cover: float, R: int) -> bool:
    # 3.5 binomial standard errors: about [0.906, 0.994] for R = 300
    return abs(cover - 0.95) <= 3.5 * np.sqrt(0.95 * 0.05 / R)


def test_monte_carlo_ate(monte_carlo):
    tau, v, adj = monte_carlo[:, 0], monte_carlo[:, 1], monte_carlo[:, 2]
    R = tau.size
    ate, _ = _true_effects()
    sd = tau.std(ddof=1)
    se_unadj, se_adj = np.sqrt(v), np.sqrt(np.maximum(v + adj, 0))
    assert (adj <= 0).all()
    # the unadjusted AI (2006) SE is conservative; the adjusted one is closer to the MC SD
    assert se_unadj.mean() > 1.15 * sd
    assert abs(se_adj.mean() - sd) < abs(se_unadj.mean() - sd)
    assert abs(se_adj.mean() / sd - 1) < 0.15   # the MC SD alone is +-4% here
    assert _coverage_ok(np.mean(np.abs(tau - ate) <= Z975 * se_adj), R)


def test_monte_carlo_att(monte_carlo):
    tau, v, adj = monte_carlo[:, 3], monte_carlo[:, 4], monte_carlo[:, 5]
    R = tau.size
    _, att = _true_effects()
    sd = tau.std(ddof=1)
    se_adj = np.sqrt(np.maximum(v + adj, 0))
    assert abs(tau.mean() - att) < 3 * sd / np.sqrt(R) + 0.03   # small matching bias allowed
    assert abs(se_adj.mean() / sd - 1) < 0.15   # the MC SD alone is +-4% here
    assert _coverage_ok(np.mean(np.abs(tau - att) <= Z975 * se_adj), R)
