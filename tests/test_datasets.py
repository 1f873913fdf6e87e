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
