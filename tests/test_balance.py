"""Tests for causalsm.balance and causalsm.plotting.love_plot.

Reference numbers come from tests/fixtures/balance/matchit_balance.json, written by
tests/fixtures/balance/make_balance_reference.R (MatchIt 4.5.1 on the NSW sample).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest

import causalsm.balance as bal
from causalsm.balance import (balance_summary, balance_table, ecdf_stats, gaussian_mmd,
                              linear_mmd, median_bandwidth, standardized_mean_difference,
                              variance_ratio)
from causalsm.plotting import love_plot

FIXTURE = Path(__file__).parent / "fixtures" / "balance" / "matchit_balance.json"
REPO_ROOT = Path(__file__).resolve().parents[1]

# MatchIt summary column -> our statistic prefix
MATCHIT_COLUMNS = {
    "Means Treated": "mean_treated",
    "Means Control": "mean_control",
    "Std. Mean Diff.": "smd",
    "Var. Ratio": "var_ratio",
    "eCDF Mean": "ecdf_mean",
    "eCDF Max": "ecdf_max",
}
RUNS = ("att_nearest", "att_nearest_replace_ratio2", "atc_nearest_replace")
ATOL = 1e-8
RTOL = 1e-10


@pytest.fixture(scope="module")
def ref():
    with open(FIXTURE) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def nsw(ref):
    cols = ref["data"]["columns"]
    X = pd.DataFrame({c: np.asarray(ref["data"][c], dtype=float) for c in cols})
    t = np.asarray(ref["data"]["treat"], dtype=int)
    return X, t


def _arr(values):
    return np.array([np.nan if v is None else v for v in values], dtype=float)


def _rtable(d):
    return pd.DataFrame({k: _arr(v) for k, v in d.items() if k != "rows"},
                        index=d["rows"])


def _with_distance(X, distance):
    """Covariates with MatchIt's propensity score prepended, as summary() shows it."""
    out = X.copy()
    out.insert(0, "distance", np.asarray(distance, dtype=float))
    return out


def _assert_matches(tab, rtab, when):
    assert list(tab.index) == list(rtab.index)
    for rcol, ours in MATCHIT_COLUMNS.items():
        np.testing.assert_allclose(tab[f"{ours}_{when}"].to_numpy(), rtab[rcol].to_numpy(),
                                   rtol=RTOL, atol=ATOL, equal_nan=True,
                                   err_msg=f"{ours}_{when} vs MatchIt '{rcol}'")


# ------------------------------------------------------------------ MatchIt match
@pytest.mark.parametrize("run", RUNS)
def test_balance_table_matches_matchit(ref, nsw, run):
    X, t = nsw
    r = ref["runs"][run]
    Xd = _with_distance(X, r["distance"])
    w = np.asarray(r["weights"], dtype=float)
    tab = balance_table(Xd, t, w, estimand=r["estimand"])
    _assert_matches(tab, _rtable(r["sum_all"]), "before")
    _assert_matches(tab, _rtable(r["sum_matched"]), "after")
    # variance ratios are NaN exactly for the binary covariates
    binary = ["black", "hisp", "married", "nodegr"]
    assert tab.loc[binary, "binary"].all() and not tab.loc[["age", "re74"], "binary"].any()
    assert tab.loc[binary, ["var_ratio_before", "var_ratio_after"]].isna().all().all()


@pytest.mark.parametrize("run", RUNS)
def test_unstandardized_mean_diff_and_binary_raw(ref, nsw, run):
    """binary='raw' gives MatchIt's standardize=FALSE 'Mean Diff.' for 0/1 columns."""
    X, t = nsw
    r = ref["runs"][run]
    w = np.asarray(r["weights"], dtype=float)
    tab = balance_table(X, t, w, estimand=r["estimand"], binary="raw")
    for key, when in (("sum_all_unstandardized", "before"),
                      ("sum_matched_unstandardized", "after")):
        rt = _rtable(r[key]).loc[list(X.columns)]
        diff = tab[f"mean_treated_{when}"] - tab[f"mean_control_{when}"]
        np.testing.assert_allclose(diff, rt["Mean Diff."], rtol=RTOL, atol=ATOL)
        b = tab["binary"].to_numpy()
        np.testing.assert_allclose(tab[f"smd_{when}"][b], rt["Mean Diff."][b],
                                   rtol=RTOL, atol=ATOL)
        np.testing.assert_allclose(tab[f"var_ratio_{when}"], rt["Var. Ratio"],
                                   rtol=RTOL, atol=ATOL, equal_nan=True)
    std = balance_table(X, t, w, estimand=r["estimand"])
    cont = ~std["binary"].to_numpy()
    np.testing.assert_allclose(tab["smd_after"][cont], std["smd_after"][cont])


def test_pooled_denominator_matches_bal1var(ref, nsw):
    X, t = nsw
    w = np.asarray(ref["runs"][ref["pooled"]["weights_from"]]["weights"], dtype=float)
    for kwargs in ({"estimand": "ATE"}, {"estimand": "ATT", "std_denominator": "pooled"}):
        tab = balance_table(X, t, w, **kwargs)
        _assert_matches(tab, _rtable(ref["pooled"]["sum_all"]), "before")
        _assert_matches(tab, _rtable(ref["pooled"]["sum_matched"]), "after")


def test_ate_without_matching_matches_matchit(ref, nsw):
    X, t = nsw
    Xd = _with_distance(X, ref["ate_null"]["distance"])
    tab = balance_table(Xd, t, estimand="ATE")
    _assert_matches(tab, _rtable(ref["ate_null"]["sum_all"]), "before")
    after = [c for c in tab.columns if c.endswith("_after")]
    assert tab[after].isna().all().all()


def test_per_covariate_functions_agree_with_table(ref, nsw):
    X, t = nsw
    r = ref["runs"]["atc_nearest_replace"]
    w = np.asarray(r["weights"], dtype=float)
    tab = balance_table(X, t, w, estimand="ATC")
    np.testing.assert_allclose(standardized_mean_difference(X, t, w, estimand="ATC"),
                               tab["smd_after"])
    np.testing.assert_allclose(standardized_mean_difference(X, t, estimand="ATC"),
                               tab["smd_before"])
    np.testing.assert_allclose(variance_ratio(X, t, w), tab["var_ratio_after"],
                               equal_nan=True)
    e_mean, e_max = ecdf_stats(X, t, w)
    np.testing.assert_allclose(e_mean, tab["ecdf_mean_after"])
    np.testing.assert_allclose(e_max, tab["ecdf_max_after"])
    # 1-d input gives a float
    v = standardized_mean_difference(X["age"], t, w, estimand="ATC")
    assert isinstance(v, float) and v == pytest.approx(tab.loc["age", "smd_after"])
    v = standardized_mean_difference(X["age"].to_numpy(), t, w, estimand="ATC")
    assert isinstance(v, float)


# ----------------------------------------------------------------------- MMD
WEIGHT_SETS = ("unweighted", "att_nearest", "att_nearest_replace_ratio2",
               "atc_nearest_replace", "smooth")


def _weights_for(ref, name):
    if name == "unweighted":
        return None
    if name == "smooth":
        return np.asarray(ref["mmd"]["smooth_weights"], dtype=float)
    return np.asarray(ref["runs"][name]["weights"], dtype=float)


def test_scale_and_median_bandwidth_match_r(ref, nsw):
    X, _ = nsw
    np.testing.assert_allclose(X.std(ddof=1).to_numpy(), ref["mmd"]["scale_sd"], rtol=1e-12)
    assert median_bandwidth(X) == pytest.approx(ref["mmd"]["median_bandwidth"], rel=1e-12)


@pytest.mark.parametrize("name", WEIGHT_SETS)
def test_mmd_matches_independent_r(ref, nsw, name):
    X, t = nsw
    w = _weights_for(ref, name)
    expect = ref["mmd"][name]
    assert linear_mmd(X, t, w) == pytest.approx(expect["linear"], rel=1e-10, abs=1e-12)
    assert gaussian_mmd(X, t, w, bandwidth=ref["mmd"]["fixed_bandwidth"]) == \
        pytest.approx(expect["gaussian_fixed"], rel=1e-9, abs=1e-12)
    assert gaussian_mmd(X, t, w) == \
        pytest.approx(expect["gaussian_median"], rel=1e-9, abs=1e-12)


def test_balance_summary(ref, nsw):
    X, t = nsw
    w = _weights_for(ref, "att_nearest")
    s = balance_summary(X, t, w)
    tab = balance_table(X, t, w)
    assert s["max_abs_smd_before"] == pytest.approx(tab["smd_before"].abs().max())
    assert s["max_abs_smd_after"] == pytest.approx(tab["smd_after"].abs().max())
    expect = ref["mmd"]
    assert s["linear_mmd_before"] == pytest.approx(expect["unweighted"]["linear"], rel=1e-10)
    assert s["linear_mmd_after"] == pytest.approx(expect["att_nearest"]["linear"], rel=1e-10)
    assert s["gaussian_mmd_before"] == pytest.approx(
        expect["unweighted"]["gaussian_median"], rel=1e-9)
    assert s["gaussian_mmd_after"] == pytest.approx(
        expect["att_nearest"]["gaussian_median"], rel=1e-9)
    assert s["bandwidth"] == pytest.approx(expect["median_bandwidth"], rel=1e-12)
    assert s["max_abs_smd_after"] < s["max_abs_smd_before"]
    s0 = balance_summary(X, t)
    assert np.isnan(s0["linear_mmd_after"]) and np.isnan(s0["max_abs_smd_after"])


def _dense_mmd(Z, t, w, bw):
    c = np.where(t == 1, w / w[t == 1].sum(), -w / w[t == 0].sum())
    D2 = ((Z[:, None, :] - Z[None, :, :]) ** 2).sum(-1)
    return float(c @ np.exp(-D2 / (2 * bw ** 2)) @ c)


@pytest.mark.parametrize("block_size", [1, 7, 64, 445, 10_000])
def test_gaussian_mmd_blockwise_equals_one_block(ref, nsw, block_size):
    X, t = nsw
    w = _weights_for(ref, "att_nearest_replace_ratio2")
    one = gaussian_mmd(X, t, w, bandwidth=2.0, block_size=len(t))
    assert gaussian_mmd(X, t, w, bandwidth=2.0, block_size=block_size) == \
        pytest.approx(one, rel=1e-12, abs=1e-15)
    Z = X.to_numpy() / X.std(ddof=1).to_numpy()
    assert one == pytest.approx(_dense_mmd(Z, t, w, 2.0), rel=1e-10)


def test_gaussian_mmd_memory_is_blockwise(monkeypatch):
    rng = np.random.default_rng(0)
    n = 3000
    X = rng.normal(size=(n, 3))
    t = (rng.random(n) < 0.4).astype(int)
    shapes = []
    real_cdist = bal.cdist

    def spy(a, b, *args, **kwargs):
        shapes.append((a.shape[0], b.shape[0]))
        return real_cdist(a, b, *args, **kwargs)

    monkeypatch.setattr(bal, "cdist", spy)
    v = gaussian_mmd(X, t, bandwidth=1.0, block_size=100)
    assert len(shapes) == n // 100 and max(s[0] for s in shapes) <= 100
    # default block size keeps a block near 4M entries, not n x n for large n
    shapes.clear()
    assert gaussian_mmd(X, t, bandwidth=1.0) == pytest.approx(v, rel=1e-12)
    assert all(a * b <= (1 << 22) + n for a, b in shapes)


def test_gaussian_mmd_max_samples():
    rng = np.random.default_rng(1)
    n = 5000
    X = rng.normal(size=(n, 2))
    t = (rng.random(n) < 0.3).astype(int)
    X[t == 1] += 0.5
    full = gaussian_mmd(X, t, bandwidth=1.0)
    a = gaussian_mmd(X, t, bandwidth=1.0, max_samples=1500, random_state=3)
    b = gaussian_mmd(X, t, bandwidth=1.0, max_samples=1500, random_state=3)
    assert a == b
    assert a == pytest.approx(full, rel=0.3)
    assert gaussian_mmd(X, t, bandwidth=1.0, max_samples=n, random_state=3) == full
    # the median heuristic on > 2000 rows subsamples reproducibly
    assert median_bandwidth(X, random_state=5) == median_bandwidth(X, random_state=5)
    assert gaussian_mmd(X, t, max_samples=800, random_state=0) >= 0


# ------------------------------------------------- weights vs replicated rows
def test_integer_weights_equal_replicated_rows(nsw):
    X, t = nsw
    rng = np.random.default_rng(42)
    w = rng.integers(1, 4, size=len(t)).astype(float)
    rep = np.repeat(np.arange(len(t)), w.astype(int))
    Xr, tr = X.iloc[rep].reset_index(drop=True), t[rep]

    sd = X.std(ddof=1).to_numpy()     # fix the SMD denominator / scaling for both
    tw = balance_table(X, t, w, std_denominator=sd)
    tr_tab = balance_table(Xr, tr, std_denominator=sd)
    for stat in ("mean_treated", "mean_control", "smd", "ecdf_mean", "ecdf_max"):
        np.testing.assert_allclose(tw[f"{stat}_after"], tr_tab[f"{stat}_before"],
                                   rtol=1e-10, atol=1e-12, err_msg=stat)
    assert linear_mmd(X, t, w, scale=sd) == pytest.approx(linear_mmd(Xr, tr, scale=sd),
                                                          rel=1e-10)
    assert gaussian_mmd(X, t, w, bandwidth=1.7, scale=sd) == pytest.approx(
        gaussian_mmd(Xr, tr, bandwidth=1.7, scale=sd), rel=1e-10)


def test_zero_one_weights_equal_subset(nsw):
    """0/1 weights equal dropping the zero rows, variance ratios included (MatchIt's
    reliability-weight variance equals the n - 1 variance only for 0/1 weights)."""
    X, t = nsw
    rng = np.random.default_rng(7)
    w = (rng.random(len(t)) < 0.6).astype(float)
    keep = w == 1
    sd = X.std(ddof=1).to_numpy()
    tw = balance_table(X, t, w, std_denominator=sd)
    ts = balance_table(X[keep], t[keep], std_denominator=sd)
    for stat in ("mean_treated", "mean_control", "smd", "var_ratio", "ecdf_max"):
        np.testing.assert_allclose(tw[f"{stat}_after"], ts[f"{stat}_before"],
                                   rtol=1e-10, atol=1e-12, equal_nan=True, err_msg=stat)
    assert gaussian_mmd(X, t, w, bandwidth=1.7, scale=sd) == pytest.approx(
        gaussian_mmd(X[keep], t[keep], bandwidth=1.7, scale=sd), rel=1e-10)


# -------------------------------------------------------------- small cases
def test_small_hand_computed():
    x = np.array([1.0, 2.0, 3.0, 2.0, 4.0, 6.0])
    t = np.array([1, 1, 1, 0, 0, 0])
    assert standardized_mean_difference(x, t) == pytest.approx(-2.0)
    assert standardized_mean_difference(x, t, estimand="ATC") == pytest.approx(-1.0)
    pooled = np.sqrt((1.0 + 4.0) / 2)
    assert standardized_mean_difference(x, t, estimand="ATE") == pytest.approx(-2 / pooled)
    assert variance_ratio(x, t) == pytest.approx(0.25)
    # binary: SMD uses p(1-p); "raw" gives the difference in proportions
    b = np.array([1.0, 1, 0, 1, 0, 0])
    p1, p0 = 2 / 3, 1 / 3
    assert standardized_mean_difference(b, t) == pytest.approx((p1 - p0) / np.sqrt(p1 * (1 - p1)))
    assert standardized_mean_difference(b, t, binary="raw") == pytest.approx(p1 - p0)
    assert np.isnan(variance_ratio(b, t))
    assert ecdf_stats(b, t) == pytest.approx((p1 - p0, p1 - p0))
    # a zero difference is reported as is, even with a zero SD
    z = np.array([1.0, 1.0, 1.0, 1.0, 1.0, 1.0]) * 5
    assert standardized_mean_difference(z, t) == 0.0


def test_array_input_names_and_dataframe_columns(nsw):
    X, t = nsw
    tab = balance_table(X.to_numpy(), t)
    assert list(tab.index) == [f"x{j}" for j in range(X.shape[1])]
    assert tab.index.name == "covariate"
    tab2 = balance_table(X.to_numpy(), t, columns=list(X.columns))
    assert list(tab2.index) == list(X.columns)
    sub = balance_table(X, t, columns=["re75", "age"])
    assert list(sub.index) == ["re75", "age"]
    full = balance_table(X, t)
    pd.testing.assert_frame_equal(sub, full.loc[["re75", "age"]])
    # boolean treatment and pandas weights are accepted
    tb = balance_table(X, pd.Series(t.astype(bool)), pd.Series(np.ones(len(t))))
    np.testing.assert_allclose(tb["smd_after"], full["smd_before"])


def test_inputs_not_modified(ref, nsw):
    X, t = nsw
    w = _weights_for(ref, "att_nearest_replace_ratio2")
    X0, t0, w0 = X.copy(), t.copy(), w.copy()
    Xa = X.to_numpy().copy()
    Xa0 = Xa.copy()
    balance_table(X, t, w)
    balance_table(Xa, t, w, estimand="ATE")
    balance_summary(X, t, w)
    standardized_mean_difference(Xa, t, w)
    variance_ratio(Xa, t, w)
    ecdf_stats(Xa, t, w)
    linear_mmd(Xa, t, w)
    gaussian_mmd(Xa, t, w, block_size=13)
    pd.testing.assert_frame_equal(X, X0)
    np.testing.assert_array_equal(t, t0)
    np.testing.assert_array_equal(w, w0)
    np.testing.assert_array_equal(Xa, Xa0)


def test_errors(nsw):
    X, t = nsw
    n = len(t)
    with pytest.raises(ValueError, match="rows"):
        balance_table(X, t[:-1])
    with pytest.raises(ValueError, match="weights"):
        balance_table(X, t, np.ones(n - 1))
    with pytest.raises(ValueError, match="binary"):
        balance_table(X, np.where(t == 1, 2, t))            # two values, not 0/1
    # three values are a treatment with several levels: one block per comparison
    three = balance_table(X, np.where(t == 1, 2, t) + (np.arange(n) == 0))
    assert three.index.names == ["comparison", "covariate"]
    with pytest.raises(ValueError, match="binary"):
        standardized_mean_difference(X, np.full(n, 0.5))
    with pytest.raises(ValueError):
        balance_table(X, np.zeros(n))                       # one arm only
    with pytest.raises(ValueError, match="non-negative"):
        balance_table(X, t, -np.ones(n))
    with pytest.raises(ValueError, match="sum to zero"):
        balance_table(X, t, np.where(t == 1, 0.0, 1.0))
    with pytest.raises(ValueError, match="finite"):
        linear_mmd(X, t, np.full(n, np.nan))
    with pytest.raises(ValueError, match="estimand"):
        balance_table(X, t, estimand="ATX")
    with pytest.raises(ValueError, match="std_denominator"):
        balance_table(X, t, std_denominator="both")
    with pytest.raises(ValueError, match="std_denominator"):
        balance_table(X, t, std_denominator=[1.0, 2.0])
    with pytest.raises(ValueError, match="std_denominator"):
        balance_table(X, t, std_denominator=np.zeros(X.shape[1]))
    with pytest.raises(ValueError, match="estimand"):
        balance_table(X, t, estimand="ATX", std_denominator="pooled")
    with pytest.raises(ValueError, match="binary"):
        balance_table(X, t, binary="cobalt")
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_mmd(X, t, bandwidth=-1.0)
    with pytest.raises(ValueError, match="bandwidth"):
        gaussian_mmd(X, t, bandwidth="scott")
    with pytest.raises(ValueError, match="block_size"):
        gaussian_mmd(X, t, block_size=0)
    with pytest.raises(ValueError, match="max_samples"):
        gaussian_mmd(X, t, max_samples=1)
    with pytest.raises(ValueError, match="scale"):
        linear_mmd(X, t, scale=[1.0])
    with pytest.raises(ValueError, match="not in X"):
        balance_table(X, t, columns=["nope"])
    with pytest.raises(ValueError, match="missing"):
        balance_table(X.assign(age=np.nan), t)


def test_balance_does_not_import_matplotlib():
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO_ROOT),
                                                      env.get("PYTHONPATH")]))
    code = ("import sys, causalsm.balance; "
            "sys.exit(1 if 'matplotlib' in sys.modules else 0)")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO_ROOT, env=env,
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


# ------------------------------------------------------------------ love plot
def test_love_plot_png(ref, nsw, tmp_path):
    import matplotlib.pyplot as plt
    from matplotlib.axes import Axes

    X, t = nsw
    tab = balance_table(X, t, _weights_for(ref, "att_nearest"))
    ax = love_plot(tab)
    assert isinstance(ax, Axes)
    assert [tk.get_text() for tk in ax.get_yticklabels()] == list(X.columns)
    assert len(ax.collections) == 2                      # before and after points
    xs = [line.get_xdata()[0] for line in ax.get_lines()]
    assert 0.1 in xs
    before = ax.collections[0].get_offsets()[:, 0]
    np.testing.assert_allclose(before, tab["smd_before"].abs())
    out = tmp_path / "love.png"
    ax.figure.savefig(out)
    assert out.stat().st_size > 1000
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    plt.close(ax.figure)

    fig, ax2 = plt.subplots()
    assert love_plot(tab, ax=ax2, threshold=0.2, abs=False) is ax2
    xs = sorted(line.get_xdata()[0] for line in ax2.get_lines())
    assert xs == [-0.2, 0.0, 0.2]
    love_plot(tab, ax=ax2, stat="ecdf_max", threshold=None)
    fig.savefig(tmp_path / "love2.png")
    plt.close(fig)

    ax3 = love_plot(balance_table(X, t))                 # no weights: before only
    assert len(ax3.collections) == 1
    plt.close(ax3.figure)
    with pytest.raises(ValueError, match="stat"):
        love_plot(tab, stat="nope")
    with pytest.raises(ValueError, match="DataFrame"):
        love_plot(tab.to_numpy())
