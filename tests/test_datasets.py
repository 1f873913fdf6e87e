"""Tests for the bundled LaLonde / Dehejia-Wahba data (causalsm.datasets)."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pandas as pd
import pytest

from causalsm.datasets import NSWBenchmark, load_lalonde, nsw_benchmark

COLUMNS = [
    "treat", "age", "educ", "black", "hisp", "married", "nodegr",
    "re74", "re75", "re78", "u74", "u75",
]
INT_COLUMNS = ["treat", "age", "educ", "black", "hisp", "married", "nodegr", "u74", "u75"]
FLOAT_COLUMNS = ["re74", "re75", "re78"]

# (controls, n_treated, n_control)
SIZES = [("nsw", 185, 260), ("psid", 185, 2490), ("cps", 185, 15992)]

# Dehejia & Wahba (1999), Table 1: means by group.  Proportions and years are
# published to two decimals, earnings to the dollar.
NSW_TREATED = {"age": 25.82, "educ": 10.35, "black": 0.84, "hisp": 0.06,
               "nodegr": 0.71, "married": 0.19, "re74": 2096, "re75": 1532}
PUBLISHED_CONTROLS = {
    "nsw": {"age": 25.05, "educ": 10.09, "black": 0.83, "hisp": 0.11,
            "nodegr": 0.83, "married": 0.15, "re74": 2107, "re75": 1267},
    "psid": {"age": 34.85, "educ": 12.12, "black": 0.25, "hisp": 0.03,
             "nodegr": 0.31, "married": 0.87, "re74": 19429, "re75": 19063},
    "cps": {"age": 33.23, "educ": 12.03, "black": 0.07, "hisp": 0.07,
            "nodegr": 0.30, "married": 0.71, "re74": 14017, "re75": 13651},
}


def _assert_means(frame: pd.DataFrame, published: dict) -> None:
    for col, value in published.items():
        tol = 0.5 if col.startswith("re") else 0.005
        assert abs(frame[col].mean() - value) <= tol + 1e-9, (col, frame[col].mean(), value)


@pytest.mark.parametrize(("controls", "n1", "n0"), SIZES)
def test_shape_and_arm_counts(controls, n1, n0):
    df = load_lalonde(controls)
    assert df.shape == (n1 + n0, 12)
    assert list(df.columns) == COLUMNS
    assert int((df["treat"] == 1).sum()) == n1
    assert int((df["treat"] == 0).sum()) == n0
    assert isinstance(df.index, pd.RangeIndex) and df.index[0] == 0
    # treated rows first
    assert (df["treat"].iloc[:n1] == 1).all()


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_plain_numpy_dtypes_no_missing(controls):
    df = load_lalonde(controls)
    for col in INT_COLUMNS:
        assert df[col].dtype == np.dtype("int64"), col
    for col in FLOAT_COLUMNS:
        assert df[col].dtype == np.dtype("float64"), col
    for col in df.columns:
        assert not pd.api.types.is_extension_array_dtype(df[col].dtype), col
    assert not df.isna().any().any()
    assert np.isfinite(df[FLOAT_COLUMNS].to_numpy()).all()
    # to_numpy() gives a plain float/int matrix (what reticulate hands to R)
    assert df.to_numpy().dtype == np.float64


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_value_ranges_and_indicators(controls):
    df = load_lalonde(controls)
    for col in ["treat", "black", "hisp", "married", "nodegr", "u74", "u75"]:
        assert set(np.unique(df[col])) <= {0, 1}, col
    assert (df[FLOAT_COLUMNS] >= 0).all().all()
    assert (df["u74"] == (df["re74"] == 0)).all()
    assert (df["u75"] == (df["re75"] == 0)).all()
    assert df["age"].between(16, 60).all()
    assert df["educ"].between(0, 18).all()


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_published_means(controls):
    df = load_lalonde(controls)
    _assert_means(df[df["treat"] == 1], NSW_TREATED)
    _assert_means(df[df["treat"] == 0], PUBLISHED_CONTROLS[controls])


def test_nsw_treated_means_to_the_cent():
    t = load_lalonde("nsw").query("treat == 1")
    assert round(t["age"].mean(), 2) == 25.82
    assert round(t["educ"].mean(), 2) == 10.35
    assert round(t["re74"].mean(), 2) == pytest.approx(2095.57)
    assert round(t["re75"].mean(), 2) == pytest.approx(1532.06)


def test_same_treated_units_in_every_sample():
    nsw_t = load_lalonde("nsw").query("treat == 1").reset_index(drop=True)
    for controls in ["psid", "cps"]:
        t = load_lalonde(controls).query("treat == 1").reset_index(drop=True)
        pd.testing.assert_frame_equal(t, nsw_t)


def test_benchmark_computed_from_data():
    b = nsw_benchmark()
    assert isinstance(b, NSWBenchmark)
    assert b.att == pytest.approx(1794.34, abs=0.01)
    assert (b.n_treated, b.n_control) == (185, 260)
    df = load_lalonde("nsw")
    y1 = df.loc[df.treat == 1, "re78"]
    y0 = df.loc[df.treat == 0, "re78"]
    assert b.att == pytest.approx(y1.mean() - y0.mean(), rel=1e-12)
    welch = np.sqrt(y1.var(ddof=1) / len(y1) + y0.var(ddof=1) / len(y0))
    assert b.se == pytest.approx(welch, rel=1e-12)
    assert b.se == pytest.approx(671.00, abs=0.01)


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_return_benchmark(controls):
    out = load_lalonde(controls, return_benchmark=True)
    assert isinstance(out, tuple) and len(out) == 2
    df, b = out
    assert isinstance(df, pd.DataFrame) and df.shape[1] == 12
    assert b == nsw_benchmark()
    assert b.att == pytest.approx(1794.34, abs=0.01)


def test_return_benchmark_is_keyword_only():
    with pytest.raises(TypeError):
        load_lalonde("nsw", True)  # type: ignore[misc]


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_each_call_returns_fresh_copy(controls):
    a = load_lalonde(controls)
    reference = a.copy(deep=True)
    a.loc[:, "re78"] = -1.0
    a.loc[0, "age"] = 999
    a["extra"] = 1
    a.drop(index=a.index[-1], inplace=True)
    b = load_lalonde(controls)
    pd.testing.assert_frame_equal(b, reference)
    assert nsw_benchmark().att == pytest.approx(1794.34, abs=0.01)


def test_mutating_numpy_view_does_not_leak():
    a = load_lalonde()
    arr = a["re78"].to_numpy()  # may be a view on a's buffer
    if arr.flags.writeable:  # read-only under pandas copy-on-write
        arr[:] = 0.0
    assert load_lalonde()["re78"].sum() > 0


@pytest.mark.parametrize("bad", ["NSW", "psid1", "", "matchit", None, 1])
def test_unknown_controls_raises(bad):
    with pytest.raises(ValueError) as err:
        load_lalonde(bad)
    msg = str(err.value)
    for allowed in ("'nsw'", "'psid'", "'cps'"):
        assert allowed in msg


def _r_has_matching() -> bool:
    if shutil.which("Rscript") is None:
        return False
    try:
        res = subprocess.run(
            ["Rscript", "-e", "cat(requireNamespace('Matching', quietly=TRUE))"],
            capture_output=True, text=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return res.stdout.strip().endswith("TRUE")


@pytest.mark.skipif(not _r_has_matching(), reason="needs R with the Matching package")
def test_nsw_identical_to_r_matching_lalonde(tmp_path):
    out = tmp_path / "lalonde.csv"
    code = (
        "suppressMessages(library(Matching)); data(lalonde); "
        f"write.csv(lalonde, '{out.as_posix()}', row.names = FALSE)"
    )
    subprocess.run(["Rscript", "-e", code], check=True, capture_output=True, timeout=120)
    r = pd.read_csv(out)[COLUMNS]
    py = load_lalonde("nsw")
    pd.testing.assert_frame_equal(py, r, check_dtype=False, rtol=0, atol=1e-9)


# =====================================================================================
# The df.attrs convention, IHDP, survival trials and simulators (issue 6)
# =====================================================================================

import hashlib  # noqa: E402
from importlib import resources  # noqa: E402
from pathlib import Path  # noqa: E402

from causalsm.datasets import (  # noqa: E402
    IHDP_COVARIATES,
    list_datasets,
    load_actg175,
    load_dataset,
    load_ihdp,
    load_ihdp_npci,
    load_rossi,
    simulate_hazard_ratio,
    simulate_image_confounding,
    simulate_multiply_robust,
    true_marginal_hr,
)

NPCI = Path(__file__).resolve().parents[1] / "datasets" / "ihdp_npci"
IHDP_SIM_SHA256 = "f00fc75f44f66f8afc52686943a65fbf651593bdb5756b0ac14b4d70c0b81a32"


def _assert_convention(df: pd.DataFrame) -> None:
    """Plain dtypes, no missing values, RangeIndex, and the attrs convention."""
    assert isinstance(df.index, pd.RangeIndex) and df.index[0] == 0
    for col in df.columns:
        assert df[col].dtype in (np.dtype("int64"), np.dtype("float64")), (col, df[col].dtype)
    assert not df.isna().any().any()
    assert np.isfinite(df.to_numpy(dtype=np.float64)).all()
    a = df.attrs
    assert isinstance(a["name"], str) and a["name"]
    assert isinstance(a["description"], str) and a["description"]
    assert a["treatment"] in df.columns
    levels = set(np.unique(df[a["treatment"]]))
    if "true_erf_polynomial" in a:        # a continuous exposure with a known curve
        assert len(levels) > 10 and df[a["treatment"]].dtype == np.dtype("float64")
        assert all(type(v) is float for v in a["true_erf_polynomial"])
    else:
        if "true_means" in a:             # a treatment with several levels
            assert len(levels) >= 3 and set(a["true_means"]) <= {str(v) for v in levels}
            assert all(type(v) is float for v in a["true_means"].values())
        else:
            assert levels == {0, 1}
        assert df[a["treatment"]].dtype == np.dtype("int64")
    if "outcome" in a:
        assert a["outcome"] in df.columns and "duration" not in a
    else:
        assert a["duration"] in df.columns and a["event"] in df.columns
        assert set(np.unique(df[a["event"]])) <= {0, 1}
        assert (df[a["duration"]] > 0).all()
    assert isinstance(a["covariates"], list) and a["covariates"]
    assert set(a["covariates"]) <= set(df.columns)
    assert a["treatment"] not in a["covariates"]
    if "true_effect" in a:
        assert a["true_effect"] and all(
            isinstance(k, str) and type(v) is float for k, v in a["true_effect"].items())
    assert a["effect_measure"] in ("difference", "hazard ratio")


# ------------------------------------------------------------------ catalog, attrs
def test_list_datasets_table():
    table = list_datasets()
    assert list(table.columns) == ["name", "description", "n", "task"]
    assert table["n"].dtype == np.dtype("int64")
    assert table["name"].is_unique
    assert {"lalonde_nsw", "lalonde_psid", "lalonde_cps", "ihdp_a", "ihdp_b", "ihdp_npci",
            "rossi", "actg175", "multiply_robust", "hazard_ratio",
            "image_confounding"} <= set(table["name"])
    assert not table.isna().any().any()


@pytest.mark.parametrize("name", [n for n in list_datasets()["name"] if n != "ihdp_npci"])
def test_every_dataset_follows_the_convention(name):
    df = load_dataset(name)
    _assert_convention(df)
    assert df.attrs["name"] == name
    n = int(list_datasets().set_index("name").loc[name, "n"])
    assert len(df) == n


def test_load_dataset_unknown_name():
    with pytest.raises(ValueError, match="unknown data set"):
        load_dataset("nope")


@pytest.mark.parametrize("controls", ["nsw", "psid", "cps"])
def test_lalonde_attrs(controls):
    df = load_lalonde(controls)
    _assert_convention(df)
    a = df.attrs
    assert a["name"] == f"lalonde_{controls}"
    assert (a["treatment"], a["outcome"]) == ("treat", "re78")
    assert a["covariates"] == ["age", "educ", "black", "hisp", "married", "nodegr",
                               "re74", "re75", "u74", "u75"]
    assert a["true_effect"] == {"ATT": nsw_benchmark().att}
    # attrs are a fresh dict on every call
    a["true_effect"]["ATT"] = 0.0
    a["covariates"].append("re78")
    assert load_lalonde(controls).attrs["true_effect"]["ATT"] == pytest.approx(1794.34, abs=0.01)
    assert "re78" not in load_lalonde(controls).attrs["covariates"]


# ------------------------------------------------------------------------------ IHDP
def test_bundled_ihdp_covariates_file_is_the_documented_one():
    data = resources.files("causalsm.datasets").joinpath("data").joinpath("ihdp_sim.csv")
    data = data.read_bytes()
    assert hashlib.sha256(data).hexdigest() == IHDP_SIM_SHA256
    readme = resources.files("causalsm.datasets").joinpath("data").joinpath("README.md")
    readme = readme.read_text(encoding="utf-8")
    assert IHDP_SIM_SHA256 in readme


@pytest.mark.parametrize("surface", ["A", "B"])
def test_ihdp_shape_dtypes_and_attrs(surface):
    df = load_ihdp(surface, replication=1)
    assert df.shape == (747, 30)
    assert list(df.columns) == ["treat", "y", "y_cf", "mu0", "mu1", *IHDP_COVARIATES]
    assert int(df["treat"].sum()) == 139
    _assert_convention(df)
    assert df.attrs["covariates"] == list(IHDP_COVARIATES)
    assert (df.attrs["surface"], df.attrs["replication"]) == (surface, 1)
    for c in IHDP_COVARIATES[:6]:
        assert df[c].dtype == np.float64
        assert df[c].mean() == pytest.approx(0, abs=1e-12)
        assert df[c].std(ddof=1) == pytest.approx(1, rel=1e-12)
    for c in IHDP_COVARIATES[6:]:
        assert df[c].dtype == np.int64 and set(np.unique(df[c])) == {0, 1}, c
    t = df["treat"].to_numpy() == 1
    # factual / counterfactual outcomes are the surfaces plus N(0, 1) noise
    e_fact = df["y"] - np.where(t, df["mu1"], df["mu0"])
    e_cf = df["y_cf"] - np.where(t, df["mu0"], df["mu1"])
    for e in (e_fact, e_cf):
        assert abs(e.mean()) < 0.15 and 0.85 < e.std() < 1.15
    tau = df["mu1"] - df["mu0"]
    te = df.attrs["true_effect"]
    assert te["ATT"] == pytest.approx(tau[t].mean(), abs=1e-12)
    assert te["ATE"] == pytest.approx(tau.mean(), abs=1e-12)
    assert te["ATC"] == pytest.approx(tau[~t].mean(), abs=1e-12)


@pytest.mark.parametrize("replication", [1, 2, 17])
def test_ihdp_surface_a_constant_effect_4(replication):
    df = load_ihdp("A", replication)
    np.testing.assert_allclose(df["mu1"] - df["mu0"], 4.0, rtol=0, atol=1e-12)
    for k in ("ATT", "ATE", "ATC"):
        assert df.attrs["true_effect"][k] == pytest.approx(4.0, abs=1e-12)
    # mu0 is linear in (1, X) with coefficients in {0, 1, 2, 3, 4} (first coded 1/2)
    X = df[list(IHDP_COVARIATES)].to_numpy(float)
    X[:, IHDP_COVARIATES.index("first")] += 1
    A = np.column_stack([np.ones(len(X)), X])
    beta = np.linalg.lstsq(A, df["mu0"].to_numpy(), rcond=None)[0]
    np.testing.assert_allclose(beta, np.round(beta), atol=1e-9)
    assert set(np.round(beta).astype(int)) <= {0, 1, 2, 3, 4}


@pytest.mark.parametrize("replication", [1, 2, 17])
def test_ihdp_surface_b_catt_4_and_npci_structure(replication):
    df = load_ihdp("B", replication)
    t = df["treat"].to_numpy() == 1
    tau = (df["mu1"] - df["mu0"]).to_numpy()
    assert tau[t].mean() == pytest.approx(4.0, abs=1e-12)        # CATT = 4 by omega
    assert df.attrs["true_effect"]["ATT"] == pytest.approx(4.0, abs=1e-12)
    assert tau.std() > 0.1                                           # heterogeneous
    assert (df["mu0"] > 0).all()
    X = df[list(IHDP_COVARIATES)].to_numpy(float)
    X[:, IHDP_COVARIATES.index("first")] += 1
    A = np.column_stack([np.ones(len(X)), X])
    b1 = np.linalg.lstsq(A, df["mu1"].to_numpy(), rcond=None)[0]
    b0 = np.linalg.lstsq(A, np.log(df["mu0"].to_numpy()), rcond=None)[0]
    assert np.abs(A @ b0 - np.log(df["mu0"])).max() < 1e-9           # log mu0 linear
    slopes = np.round(b1[1:], 1)
    np.testing.assert_allclose(b1[1:], slopes, atol=1e-9)
    np.testing.assert_allclose(b0[1:], slopes, atol=1e-9)             # same slopes
    assert set(np.round(slopes * 10).astype(int)) <= {0, 1, 2, 3, 4}
    intercept = b0[0] - 0.5 * slopes.sum()                             # offset 0.5 on X
    assert intercept == pytest.approx(np.round(intercept * 4) / 4, abs=1e-9)
    assert -1 - 1e-9 <= intercept <= 1 + 1e-9


def test_ihdp_seeded_by_replication():
    a1, a1b, a2 = load_ihdp("B", 1), load_ihdp("B", 1), load_ihdp("B", 2)
    pd.testing.assert_frame_equal(a1, a1b)
    assert a1.attrs == a1b.attrs
    assert not np.allclose(a1["mu0"], a2["mu0"])
    assert not np.allclose(load_ihdp("A", 1)["y"], a1["y"])
    pd.testing.assert_frame_equal(a1[list(IHDP_COVARIATES)], a2[list(IHDP_COVARIATES)])
    pd.testing.assert_series_equal(a1["treat"], a2["treat"])


def test_ihdp_unstandardized_covariates():
    raw, std = load_ihdp("B", 3, standardize=False), load_ihdp("B", 3)
    pd.testing.assert_frame_equal(raw[["treat", "y", "y_cf", "mu0", "mu1"]],
                                  std[["treat", "y", "y_cf", "mu0", "mu1"]])
    pd.testing.assert_frame_equal(raw[list(IHDP_COVARIATES[6:])],
                                  std[list(IHDP_COVARIATES[6:])])
    assert 500 <= raw["bw"].min() and raw["bw"].max() <= 2500       # birth weight, grams
    assert raw["momage"].between(13, 43).all()
    _assert_convention(raw)


@pytest.mark.parametrize("bad", [{"surface": "C"}, {"surface": 1}, {"replication": -1},
                                 {"replication": 1.5}, {"replication": True}])
def test_ihdp_bad_arguments(bad):
    with pytest.raises(ValueError):
        load_ihdp(**bad)


def test_ihdp_returns_fresh_copies():
    a = load_ihdp("A", 1)
    ref = a.copy(deep=True)
    a.loc[:, "bw"] = 99.0
    a["treat"] = 0
    pd.testing.assert_frame_equal(load_ihdp("A", 1), ref)


def _write_npci(df: pd.DataFrame, path: Path) -> None:
    cols = ["treat", "y", "y_cf", "mu0", "mu1", *IHDP_COVARIATES]
    df.assign(first=df["first"] + 1)[cols].to_csv(path, header=False, index=False)


def test_load_ihdp_npci_round_trip(tmp_path):
    b = load_ihdp("B", 4)
    _write_npci(b, tmp_path / "ihdp_npci_4.csv")
    df = load_ihdp_npci(4, tmp_path)
    assert df.shape == (747, 30)
    _assert_convention(df)
    assert df.attrs["name"] == "ihdp_npci_4" and df.attrs["replication"] == 4
    assert list(df.columns[5:]) == [f"x{j}" for j in range(1, 26)]
    np.testing.assert_allclose(df[[f"x{j}" for j in range(1, 26)]].to_numpy(),
                               b[list(IHDP_COVARIATES)].to_numpy(), rtol=0, atol=1e-12)
    for col in ["treat", "y", "y_cf", "mu0", "mu1"]:
        np.testing.assert_allclose(df[col], b[col], rtol=1e-14)
    pd.testing.assert_frame_equal(df, load_ihdp_npci(None, tmp_path / "ihdp_npci_4.csv"))
    raw14 = load_ihdp_npci(None, tmp_path / "ihdp_npci_4.csv", recode=False)["x14"]
    assert set(np.unique(raw14)) == {1, 2}


def test_load_ihdp_npci_errors(tmp_path):
    _write_npci(load_ihdp("B", 1), tmp_path / "ihdp_npci_1.csv")
    with pytest.raises(ValueError, match="replication"):
        load_ihdp_npci(None, tmp_path)
    with pytest.raises(ValueError, match="replication"):
        load_ihdp_npci(1, tmp_path / "ihdp_npci_1.csv")
    with pytest.raises(FileNotFoundError):
        load_ihdp_npci(2, tmp_path)
    (tmp_path / "bad.csv").write_text("1,2,3\n0,1,2\n")
    with pytest.raises(ValueError, match="30 columns"):
        load_ihdp_npci(None, tmp_path / "bad.csv")


@pytest.mark.parametrize("replication", [1, 2, 50])
def test_load_ihdp_npci_bundled_files(replication):
    df = load_ihdp_npci(replication)
    pd.testing.assert_frame_equal(df, load_ihdp_npci(replication, NPCI))
    assert df.shape == (747, 30) and int(df["treat"].sum()) == 139
    _assert_convention(df)
    assert df.attrs["true_effect"]["ATT"] == pytest.approx(4.0, abs=1e-9)
    assert set(np.unique(df["x14"])) == {0, 1}


def test_bundled_ihdp_covariates_equal_the_npci_files():
    ours = load_ihdp("B", 1)
    npci = load_ihdp_npci(None, NPCI / "ihdp_npci_1.csv")
    np.testing.assert_array_equal(ours["treat"], npci["treat"])
    np.testing.assert_allclose(ours[list(IHDP_COVARIATES)].to_numpy(),
                               npci[[f"x{j}" for j in range(1, 26)]].to_numpy(),
                               rtol=0, atol=1e-8)


# ------------------------------------------------------------------------ survival
def _cox_log_hr(df, duration, event, treatment):
    from lifelines import CoxPHFitter
    fit = CoxPHFitter().fit(df[[duration, event, treatment]], duration, event)
    return float(fit.params_[treatment])


def test_rossi():
    df = load_rossi()
    assert df.shape == (432, 9)
    assert list(df.columns) == ["week", "arrest", "fin", "age", "race", "wexp", "mar",
                                "paro", "prio"]
    _assert_convention(df)
    a = df.attrs
    assert (a["treatment"], a["duration"], a["event"]) == ("fin", "week", "arrest")
    assert "outcome" not in a and a["effect_measure"] == "hazard ratio"
    assert int(df["fin"].sum()) == 216 and int(df["arrest"].sum()) == 114
    b = _cox_log_hr(df, "week", "arrest", "fin")
    assert a["true_effect"]["ATT"] == pytest.approx(np.exp(b), rel=1e-9)
    assert a["benchmark_log_hr"] == pytest.approx(b, rel=1e-9)
    assert a["true_effect"]["ATT"] == pytest.approx(0.691, abs=0.001)


@pytest.mark.parametrize("loader,treat", [(load_rossi, "fin"), (load_actg175, "treat")])
def test_confounding_by_subsampling_controls(loader, treat):
    full = loader()
    sub = loader(confounding=2.0, random_state=3)
    _assert_convention(sub)
    assert int(sub[treat].sum()) == int(full[treat].sum())          # every treated unit kept
    assert 0 < int((sub[treat] == 0).sum()) < int((full[treat] == 0).sum())
    pd.testing.assert_frame_equal(sub, loader(confounding=2.0, random_state=3))
    assert not sub.equals(loader(confounding=2.0, random_state=4))
    assert sub.attrs["true_effect"] == full.attrs["true_effect"]     # experimental benchmark
    # the kept controls are a subset of the trial's rows, unchanged
    key = [c for c in full.columns]
    merged = sub.merge(full, on=key, how="left", indicator=True)
    assert (merged["_merge"] == "both").all()
    # keeping low-risk controls biases the naive hazard ratio upwards
    d, e = sub.attrs["duration"], sub.attrs["event"]
    assert _cox_log_hr(sub, d, e, treat) > sub.attrs["benchmark_log_hr"] + 0.1


def test_confounding_must_be_finite():
    with pytest.raises(ValueError, match="confounding"):
        load_rossi(confounding=float("nan"))


def test_actg175():
    df = load_actg175()
    assert df.shape == (2139, 21)
    _assert_convention(df)
    a = df.attrs
    assert (a["treatment"], a["duration"], a["event"]) == ("treat", "days", "cens")
    assert df["arms"].value_counts().sort_index().tolist() == [532, 522, 524, 561]
    np.testing.assert_array_equal(df["treat"], (df["arms"] != 0).astype(int))
    assert int(df["cens"].sum()) == 521
    assert df["wtkg"].dtype == np.float64
    assert len(a["covariates"]) == 15
    assert not {"offtrt", "cd420", "cd496", "r", "cd820", "zprior"} & set(df.columns)
    b = _cox_log_hr(df, "days", "cens", "treat")
    assert a["true_effect"]["ATT"] == pytest.approx(np.exp(b), rel=1e-9)
    assert 0.4 < a["true_effect"]["ATT"] < 0.7                      # combination therapy helps


def test_actg175_two_arms():
    df = load_actg175(arms=(0, 3))
    assert len(df) == 532 + 561 and set(df["arms"]) == {0, 3}
    np.testing.assert_array_equal(df["treat"], (df["arms"] == 3).astype(int))
    b = _cox_log_hr(df, "days", "cens", "treat")
    assert df.attrs["true_effect"]["ATT"] == pytest.approx(np.exp(b), rel=1e-9)
    rev = load_actg175(arms=(3, 0))
    np.testing.assert_array_equal(rev["treat"], (rev["arms"] == 0).astype(int))


@pytest.mark.parametrize("arms", [(0, 0), (0, 4), (1,), "01", 3])
def test_actg175_bad_arms(arms):
    with pytest.raises(ValueError, match="arms"):
        load_actg175(arms=arms)


@pytest.mark.parametrize("loader", [load_rossi, load_actg175])
def test_survival_loaders_return_fresh_copies(loader):
    a = loader()
    ref = a.copy(deep=True)
    a.iloc[:, 0] = -1
    a.attrs["true_effect"]["ATT"] = 99.0
    b = loader()
    pd.testing.assert_frame_equal(b, ref)
    assert b.attrs["true_effect"]["ATT"] != 99.0


# ---------------------------------------------------------------------- simulators
def test_simulate_multiply_robust():
    df = simulate_multiply_robust(300, random_state=0)
    assert df.shape == (300, 8)
    _assert_convention(df)
    t = df["treat"] == 1
    np.testing.assert_array_equal(df["y"], np.where(t, df["y1"], df["y0"]))
    pd.testing.assert_frame_equal(df, simulate_multiply_robust(300, random_state=0))
    rng = np.random.default_rng(0)
    pd.testing.assert_frame_equal(df, simulate_multiply_robust(300, random_state=rng))
    assert not df.equals(simulate_multiply_robust(300, random_state=rng))   # stream advanced
    with pytest.raises(ValueError):
        simulate_multiply_robust(1)


def test_multiply_robust_truth_matches_monte_carlo():
    df = simulate_multiply_robust(400_000, random_state=11)
    te = df.attrs["true_effect"]
    t = df["treat"].to_numpy() == 1
    tau = (df["y1"] - df["y0"]).to_numpy()
    assert te["ATE"] == 1.0
    assert tau[t].mean() == pytest.approx(te["ATT"], abs=0.01)
    assert tau[~t].mean() == pytest.approx(te["ATC"], abs=0.01)
    for xi in (0.25, 0.5, 0.75):
        mc = np.quantile(df["y1"], xi) - np.quantile(df["y0"], xi)
        assert mc == pytest.approx(te[f"QTE {xi:g}"], abs=0.02)


def test_simulate_hazard_ratio_design():
    df = simulate_hazard_ratio(20_000, random_state=5)
    assert df.shape == (20_000, 14)
    _assert_convention(df)
    assert list(df.columns) == [f"X{j}" for j in range(1, 10)] + [
        "A", "time", "event", "time0", "time1"]
    assert df["X5"].dtype == np.int64 and set(df["X5"]) == {0, 1}
    assert df["X5"].mean() == pytest.approx(0.69, abs=0.02)          # P(Z < 0.5)
    assert df["A"].mean() == pytest.approx(0.20, abs=0.02)
    assert (df["event"] == 1).all()
    np.testing.assert_allclose(df["time"], np.where(df["A"] == 1, df["time1"], df["time0"]))
    np.testing.assert_allclose(df["time1"], df["time0"] / np.sqrt(2.4), rtol=1e-12)
    a = df.attrs
    assert (a["treatment"], a["duration"], a["event"]) == ("A", "time", "event")
    assert a["covariates"] == [f"X{j}" for j in range(1, 10)]
    assert a["conditional_hr"] == 2.4
    for k in ("ATT", "ATE", "ATC"):
        assert a["true_effect"][k] == true_marginal_hr(k)
    pd.testing.assert_frame_equal(simulate_hazard_ratio(50, random_state=5),
                                  simulate_hazard_ratio(50, random_state=5))
    assert not simulate_hazard_ratio(50, random_state=5).equals(
        simulate_hazard_ratio(50, random_state=6))


def test_simulate_hazard_ratio_censoring():
    df = simulate_hazard_ratio(20_000, random_state=2, censoring_rate=0.001)
    full = simulate_hazard_ratio(20_000, random_state=2)
    assert 1 - df["event"].mean() == pytest.approx(0.23, abs=0.02)
    assert (df["time"] <= full["time"]).all()
    ev = df["event"] == 1
    np.testing.assert_array_equal(df.loc[ev, "time"], full.loc[ev, "time"])
    # the censoring time is exposed and applies to both potential times
    np.testing.assert_array_equal(df["time"], np.minimum(full["time"], df["censor_time"]))
    np.testing.assert_array_equal(df["event"], (full["time"] <= df["censor_time"]).astype(int))
    assert df["censor_time"].mean() == pytest.approx(1000, rel=0.03)
    assert "censor_time" not in df.attrs["covariates"]
    pd.testing.assert_frame_equal(df.drop(columns=["time", "event", "censor_time"]),
                                  full.drop(columns=["time", "event"]))
    for bad in (-1.0, float("inf")):
        with pytest.raises(ValueError, match="censoring_rate"):
            simulate_hazard_ratio(100, censoring_rate=bad)


def _cox_binary_no_censoring(time: np.ndarray, z: np.ndarray) -> float:
    """Cox log HR of a binary covariate, no censoring, no ties (Newton-Raphson)."""
    order = np.argsort(-time)
    zs = z[order].astype(float)
    n1, n0 = np.cumsum(zs), np.cumsum(1 - zs)                      # risk sets
    beta = 0.0
    for _ in range(50):
        p = n1 * np.exp(beta) / (n1 * np.exp(beta) + n0)
        step = np.sum(zs - p) / np.sum(p * (1 - p))
        beta += step
        if abs(step) < 1e-12:
            break
    return beta


def test_true_marginal_hr_values():
    hr = {k: true_marginal_hr(k) for k in ("ATT", "ATE", "ATC")}
    # MatchIt's vignette states a marginal HR of 1.57 (log 0.452)
    for v in hr.values():
        assert round(v, 2) == 1.57
    assert true_marginal_hr("ATE", log=True) == pytest.approx(np.log(hr["ATE"]))
    assert hr["ATT"] < hr["ATE"] < hr["ATC"] < 2.4                  # non-collapsible
    with pytest.raises(ValueError):
        true_marginal_hr("QTE")


def test_true_marginal_hr_recomputed_and_by_brute_force():
    # the numerical integral with a small covariate sample agrees with the stored values
    assert true_marginal_hr("ATT", n=20_000, seed=1, log=True) == pytest.approx(
        true_marginal_hr("ATT", log=True), abs=0.005)
    # ... and a plain Cox fit on both potential times of ~80,000 treated units agrees too
    df = simulate_hazard_ratio(400_000, random_state=8)
    tr = df[df["A"] == 1]
    time = np.concatenate([tr["time1"], tr["time0"]])
    z = np.r_[np.ones(len(tr)), np.zeros(len(tr))]
    assert _cox_binary_no_censoring(time, z) == pytest.approx(
        true_marginal_hr("ATT", log=True), abs=0.01)


def test_simulate_image_confounding():
    df = simulate_image_confounding(random_state=0)
    assert df.shape == (1797, 70)
    _assert_convention(df)
    cov = df.attrs["covariates"]
    assert cov == [f"px_{j:02d}" for j in range(64)]
    assert df[cov].min().min() >= 0 and df[cov].max().max() <= 1
    t = df["treat"] == 1
    np.testing.assert_allclose(df["tau"], 1 + 0.5 * df["g"])
    assert df.attrs["true_effect"]["ATT"] == pytest.approx(df.loc[t, "tau"].mean())
    assert df.attrs["true_effect"]["ATE"] == pytest.approx(df["tau"].mean())
    assert df["z"].mean() == pytest.approx(0, abs=1e-12)
    pd.testing.assert_frame_equal(df, simulate_image_confounding(random_state=0))
    assert not df.equals(simulate_image_confounding(random_state=1))
    # the digits are confounders: treated images are not a random subset
    assert df.loc[t, "g"].mean() > df.loc[~t, "g"].mean() + 0.5


def test_simulate_image_confounding_subsample():
    small = simulate_image_confounding(200, random_state=3)
    assert small.shape == (200, 70)
    _assert_convention(small)
    pd.testing.assert_frame_equal(small, simulate_image_confounding(200, random_state=3))
    big = simulate_image_confounding(2500, random_state=3)              # with replacement
    assert big.shape == (2500, 70)
    with pytest.raises(ValueError):
        simulate_image_confounding(0)
