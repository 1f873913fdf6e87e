"""Parity with R's CausalGPS 0.5.1 (fixture: tests/fixtures/r/make_causalgps_reference.R).

With the same GPS (normal, OLS mean: CausalGPS's sl_lib = "SL.lm"), the same levels, delta_n
and scale, the pseudo-population's match counts are identical; the parametric and
nonparametric curves agree to 1e-6 (in fact to ~1e-12).
"""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from causalsm.datasets.exposure import _assemble
from causalsm.estimators.continuous import GPSMatching, GPSWeighting
from causalsm.estimators.erf import LocalPolynomialERF, ParametricERF
from causalsm.scores.density import KernelResidualDensity, NormalDensity

REF = json.loads((Path(__file__).parent / "fixtures" / "r" / "causalgps_reference.json")
                 .read_text())
COVS = ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"]
CAUSALGPS_KERNEL = dict(scale_target="abs", jacobian=False)


def _data(key):
    d = pd.DataFrame(REF["datasets"][key]["data"])
    return d, d[COVS], d["w"].to_numpy()


def _quiet(fn, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return fn(*args, **kwargs)


def _nan(values):
    return np.array([np.nan if v is None else v for v in values], dtype=np.float64)


@pytest.mark.parametrize("key", sorted(REF["datasets"]))
def test_normal_gps(key):
    ds = REF["datasets"][key]
    _, X, w = _data(key)
    gps = NormalDensity().fit(X, w)
    rows = gps.conditional(X)
    np.testing.assert_allclose(rows.mean, ds["normal"]["e_gps_pred"], rtol=0, atol=1e-10)
    assert gps.sd_ == pytest.approx(ds["normal"]["e_gps_std_pred"], rel=1e-12)
    np.testing.assert_allclose(rows.density(w), ds["normal"]["gps"], rtol=1e-10)


@pytest.mark.parametrize("key", sorted(REF["datasets"]))
def test_matching_counts_identical(key):
    """78 configurations: delta_n in {0.5, 1, 2} x scale in {0, 0.3, 0.5, 1} with
    CausalGPS's default levels, and a user grid, on three exposure models and two sizes."""
    _, X, w = _data(key)
    for case in REF["datasets"][key]["matching"]:
        levels = None if case["bin_seq"] is None else case["bin_seq"]
        m = _quiet(GPSMatching(delta_n=case["delta_n"], scale=case["scale"], levels=levels,
                               trim_exposure=None).fit, X, w)
        label = (key, case["delta_n"], case["scale"], levels is not None)
        np.testing.assert_array_equal(m.weights_, case["counts"], err_msg=str(label))
        np.testing.assert_array_equal(m.levels_, case["levels"], err_msg=str(label))
        assert m.n_empty_levels_ == case["n_empty_levels"], label


def test_kernel_gps_and_its_matches():
    k = REF["kernel"]
    _, X, w = _data(k["dataset"])
    gps = KernelResidualDensity(**CAUSALGPS_KERNEL).fit(X, w)
    rows = gps.conditional(X)
    np.testing.assert_allclose(rows.mean, k["e_gps_pred"], atol=1e-10)
    np.testing.assert_allclose(rows.scale, k["e_gps_std_pred"], atol=1e-10)
    np.testing.assert_allclose((w - rows.mean) / rows.scale, k["w_resid"], atol=1e-10)
    np.testing.assert_allclose(rows.density(w), k["gps"], rtol=1e-10)
    for case in k["matching"]:
        m = _quiet(GPSMatching(gps=KernelResidualDensity(**CAUSALGPS_KERNEL),
                               delta_n=case["delta_n"], scale=case["scale"],
                               trim_exposure=None).fit, X, w)
        np.testing.assert_array_equal(m.weights_, case["counts"])
    wt = _quiet(GPSWeighting(gps=KernelResidualDensity(**CAUSALGPS_KERNEL),
                             normalize=False, max_weight=None).fit, X, w)
    np.testing.assert_allclose(wt.weights_, k["weighting"], rtol=1e-10)


def test_weighting():
    _, X, w = _data(REF["weighting"]["dataset"])
    wt = _quiet(GPSWeighting(normalize=False, max_weight=None).fit, X, w)
    np.testing.assert_allclose(wt.weights_, REF["weighting"]["counter_weight"], rtol=1e-10)


def test_trimming_then_matching():
    t = REF["trimmed"]
    _, X, w = _data(t["dataset"])
    m = _quiet(GPSMatching(delta_n=t["delta_n"], scale=t["scale"],
                           trim_exposure=tuple(t["trim_quantiles"])).fit, X, w)
    np.testing.assert_array_equal(np.flatnonzero(m.kept_) + 1, t["kept_ids"])
    np.testing.assert_array_equal(m.weights_[m.kept_], t["counts"])
    assert m.n_trimmed_ == len(w) - len(t["kept_ids"])


@pytest.mark.parametrize("design", ["matching", "weighting"])
def test_balance_spearman_ks_ess(design):
    b = REF["balance"]
    _, X, w = _data(b["dataset"])
    if design == "matching":
        fitted = GPSMatching(delta_n=1, scale=0.5, trim_exposure=None,
                             balance_method="spearman")
    else:
        fitted = GPSWeighting(normalize=False, max_weight=None, balance_method="spearman")
    fitted = _quiet(fitted.fit, X, w)
    ref = b[design]
    tab = fitted.balance_
    np.testing.assert_allclose(tab["corr_before"].abs(), ref["original"]["absolute_corr"],
                               atol=1e-10)
    np.testing.assert_allclose(tab["corr_after"].abs(), ref["adjusted"]["absolute_corr"],
                               atol=1e-10)
    for ours, theirs in (("mean", "mean"), ("median", "median"), ("max", "maximal")):
        for when, where in (("before", "original"), ("after", "adjusted")):
            assert tab.attrs[f"{ours}_abs_corr_{when}"] == pytest.approx(
                ref[where][f"{theirs}_absolute_corr"], abs=1e-10)
    assert fitted.passed_ == ref["passed"]
    assert fitted.ess_ == pytest.approx(ref["ess"], rel=1e-10)
    # Ecume's ks_test subtracts its default threshold 0.05 (and floors at 0).
    np.testing.assert_allclose(np.maximum(fitted.ks_.to_numpy() - 0.05, 0), ref["ks_stat"],
                               atol=1e-10)


@pytest.mark.parametrize("key", sorted(REF["erf"]))
def test_exposure_response_curves(key):
    e = REF["erf"][key]
    d, X, w = _data(key)
    m = _quiet(GPSMatching(delta_n=e["delta_n"], scale=e["scale"], trim_exposure=None).fit, X, w)
    np.testing.assert_array_equal(m.weights_, e["counts"])
    y, c, points = d["Y"].to_numpy(), m.weights_, np.array(e["w_vals"])
    par = ParametricERF().fit(w, y, c).predict(points)
    np.testing.assert_allclose(par, e["parametric"]["y_pred"], rtol=0, atol=1e-6)
    ll = _quiet(LocalPolynomialERF(bandwidth=e["bw_seq"], selector="causalgps").fit,
                w, y, c, points)
    risk = _nan(e["nonparametric"]["risk"])
    assert np.array_equal(np.isnan(ll.details_["risk"]), np.isnan(risk))
    np.testing.assert_allclose(ll.details_["risk"], risk, rtol=1e-4)
    assert ll.bandwidth_ == pytest.approx(e["nonparametric"]["h_opt"], abs=1e-12)
    np.testing.assert_allclose(ll.predict(points), e["nonparametric"]["y_pred"], rtol=0,
                               atol=1e-6)


@pytest.mark.parametrize("key", sorted(REF["erf"]))
def test_causalgps_risk_depends_on_row_order(key):
    """CausalGPS's bandwidth risk compares locpol's fitted values, sorted by exposure, with
    the outcomes in data order: sorting the rows first changes it (a bug, reproduced by
    selector="causalgps" in both orders)."""
    e = REF["erf"][key]
    d, _, w = _data(key)
    y, c = d["Y"].to_numpy(), np.array(e["counts"], dtype=np.float64)
    o = np.argsort(w, kind="stable")
    ll = _quiet(LocalPolynomialERF(bandwidth=e["bw_seq"], selector="causalgps").fit,
                w[o], y[o], c[o], np.array(e["w_vals"]))
    sorted_risk = _nan(e["nonparametric_rows_sorted_by_w"]["risk"])
    np.testing.assert_allclose(ll.details_["risk"], sorted_risk, rtol=1e-4)
    unsorted = _nan(e["nonparametric"]["risk"])
    assert np.nanmin(unsorted) > 10 * np.nanmax(sorted_risk)   # the misaligned risk is ~ Var(Y)


@pytest.mark.parametrize("case", range(len(REF["simulator"])))
def test_simulator_formulas(case):
    """generate_syn_data's formulas applied to R's own random draws reproduce its output
    (gps_spec 1-7, vectorized_y = TRUE, cova_spec = 2)."""
    c = REF["simulator"][case]
    d = c["draws"]
    cf = np.column_stack([d[f"cf{k}"] for k in range(1, 5)])
    out = _assemble(cf, np.array(d["cf5"]), np.array(d["cf6"]), np.array(d["e_w"]),
                    np.array(d["e_y"]), c["gps_spec"], c["cova_spec"], c["vectorized_y"])
    ref = pd.DataFrame(c["output"])
    for col in ref.columns:
        np.testing.assert_allclose(out[col], ref[col], rtol=1e-12, atol=1e-12, err_msg=col)


def test_causalgps_ignores_the_exposure_distance_unless_the_column_is_named_w():
    """CausalGPS 0.5.1's matching_fn standardises the exposure with transform(dataset,
    std_w = (w - w_min) / ...): with the exposure column named `pm`, `w` is the level (a
    scalar), the exposure term is the same for every candidate, and scale = 0.5 gives the
    counts of scale = 1.  causalsm takes the exposure by position, whatever its name."""
    bug = REF["exposure_name_bug"]
    d, X, w = _data(bug["dataset"])
    cases = {(c["delta_n"], c["scale"]): c["counts"] for c in
             REF["datasets"][bug["dataset"]]["matching"] if c["bin_seq"] is None}
    assert bug["counts"] == cases[(1, 1)] and bug["counts"] != cases[(1, 0.5)]
    ours = _quiet(GPSMatching(delta_n=1, scale=0.5, trim_exposure=None).fit, X,
                  d["w"].rename("pm"))
    np.testing.assert_array_equal(ours.weights_, cases[(1, 0.5)])
