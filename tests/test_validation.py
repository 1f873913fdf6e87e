"""Input conversions for data that comes from R through reticulate, in pure Python.

R factors arrive as pandas Categorical, logicals as bool, NA in an integer column as
-2147483648 (R's NA_integer_), whole numbers as floats (``n_neighbors = 1`` is 1.0),
a character vector of length 1 as a str.  The same conversions through real
reticulate are tested in tests/test_r_interface.py.
"""

import numpy as np
import pandas as pd
import pytest

import causalsm as csm
from causalsm._validation import (INT_OPTIONS, R_NA_INTEGER, InputError, check_array,
                                  check_frame, check_int, check_seed, check_treatment,
                                  coerce_int_options, n_missing)

COV = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]


@pytest.fixture(scope="module")
def lalonde():
    return csm.datasets.load_lalonde()


def r_like(df: pd.DataFrame) -> pd.DataFrame:
    """The Lalonde frame as an R user would have it: factor treatment and race, logical
    and integer columns."""
    out = df.copy()
    out["group"] = pd.Categorical(np.where(df.treat == 1, "treated", "control"),
                                  categories=["control", "treated"])
    out["race"] = pd.Categorical(np.select([df.black == 1, df.hisp == 1],
                                           ["black", "hispanic"], "other"),
                                 categories=["other", "black", "hispanic"])
    out["married"] = df.married == 1
    out["nodegr"] = df.nodegr == 1
    out["age"] = df.age.astype(np.int32)
    return out


R_COV = ["age", "educ", "race", "married", "nodegr", "re74", "re75"]


# ---------------------------------------------------------------- treatment
def test_factor_treatment_second_level_is_treated():
    t = pd.Series(pd.Categorical(["b", "a", "b"], categories=["b", "a"]))
    np.testing.assert_array_equal(check_treatment(t), [0, 1, 0])      # level order, not alphabet
    t = pd.Categorical(["ctl", "trt", "trt"], categories=["ctl", "trt"])
    np.testing.assert_array_equal(check_treatment(t), [0, 1, 1])


def test_factor_treatment_errors():
    with pytest.raises(InputError, match="'g' is a factor with 3 level"):
        check_treatment(pd.Series(pd.Categorical(list("abc"))), name="g")
    with pytest.raises(InputError, match="'g' has 1 missing"):
        check_treatment(pd.Series(pd.Categorical(["a", None, "b"])), name="g")
    with pytest.raises(InputError, match="only one level present"):
        check_treatment(pd.Series(pd.Categorical(["a", "a"], categories=["a", "b"])), name="g")
    with pytest.raises(InputError, match=r'two-level factor .*\(df\["group"\]\)'):
        check_treatment(pd.Series(["x", "y"]), name="g")


def test_logical_and_one_column_frame_treatment():
    np.testing.assert_array_equal(check_treatment(pd.Series([True, False])), [1, 0])
    np.testing.assert_array_equal(check_treatment(pd.DataFrame({"g": [0, 1, 1]})), [0, 1, 1])
    with pytest.raises(InputError, match="one column"):
        check_treatment(pd.DataFrame({"a": [0, 1], "b": [1, 0]}))


def test_integer_and_boolean_arrays_fast_path():
    """Plain 0/1 integer and boolean arrays (checked without pandas) give the same array
    as the general path, and every other integer array still gets the general message."""
    for t in (np.array([0, 1, 1, 0], dtype=np.int8), np.array([0, 1, 1, 0], dtype=np.uint64),
              np.array([False, True, True, False])):
        out = check_treatment(t)
        assert out.dtype == np.int64
        np.testing.assert_array_equal(out, [0, 1, 1, 0])
        np.testing.assert_array_equal(out, check_treatment(pd.Series(t)))
    t = np.array([0, 1, 1], dtype=np.int32)
    check_treatment(t)[0] = 5                               # a copy, not a view of the input
    np.testing.assert_array_equal(t, [0, 1, 1])
    with pytest.raises(InputError, match=r"binary 0/1; found 3 distinct values \(0, 1, 2\)"):
        check_treatment(np.array([0, 1, 2]))
    with pytest.raises(InputError, match=r"only one value \(1\)"):
        check_treatment(np.array([1, 1]))
    with pytest.raises(InputError, match=r"only one value \(0\)"):
        check_treatment(np.array([False, False]))
    with pytest.raises(InputError, match="1-dimensional"):
        check_treatment(np.array([[0, 1], [1, 0]]))


@pytest.mark.parametrize("values", [
    pd.Series([1, 0, None], dtype="Int64"),
    pd.Series([True, False, None], dtype="boolean"),
    pd.Series([1, 0, R_NA_INTEGER]),
    pd.Series([1.0, 0.0, np.nan]),
])
def test_missing_treatment_is_named(values):
    with pytest.raises(InputError, match="'treat' has 1 missing value"):
        check_treatment(values, name="treat")


# ---------------------------------------------------------------- covariates
def test_missing_values_name_the_column(lalonde):
    cases = {
        "age": pd.Series(lalonde.age, dtype="Int64").mask(lalonde.index == 3),   # pd.NA
        "educ": lalonde.educ.where(lalonde.index != 5, R_NA_INTEGER),           # R's NA_integer_
        "re74": lalonde.re74.where(lalonde.index != 7),                          # NaN
        "married": pd.Series(lalonde.married == 1, dtype="boolean").mask(lalonde.index == 2),
    }
    for col, values in cases.items():
        df = lalonde.assign(**{col: values})
        with pytest.raises(InputError, match=f"column '{col}' .* 1 missing value"):
            csm.estimate_effect(df, treatment="treat", outcome="re78", covariates=COV)
    df = r_like(lalonde)
    df["race"] = df.race.where(df.index != 4)
    with pytest.raises(InputError, match="column 'race' .* 1 missing value"):
        csm.estimate_effect(df, treatment="group", outcome="re78", covariates=R_COV)
    with pytest.raises(InputError, match="'re78' has 1 missing"):
        csm.estimate_effect(lalonde.assign(re78=lalonde.re78.where(lalonde.index != 0)),
                            treatment="treat", outcome="re78", covariates=COV)


def test_n_missing_counts_r_integer_na():
    assert n_missing(pd.Series([1, R_NA_INTEGER, R_NA_INTEGER])) == 2
    assert n_missing(pd.Series([float(R_NA_INTEGER)])) == 0       # only in integer columns
    X = np.array([[1, 2], [R_NA_INTEGER, 3]])
    with pytest.raises(InputError, match="column 'x0' .* missing"):
        check_array(X)


def test_factor_covariates_become_indicator_columns():
    X = pd.DataFrame({"sex": pd.Categorical(["f", "m", "f"], categories=["f", "m"]),
                      "race": pd.Categorical(["w", "b", "h"], categories=["w", "b", "h"]),
                      "grade": pd.Categorical(["lo", "hi", "mid"], categories=["lo", "mid", "hi"],
                                              ordered=True),
                      "ok": [True, False, True], "n": np.array([1, 2, 3], dtype=np.int32)})
    arr, names, _ = check_array(X)
    assert names == ["sex", "race[b]", "race[h]", "grade", "ok", "n"]
    np.testing.assert_array_equal(arr, [[0, 0, 0, 0, 1, 1], [1, 1, 0, 2, 0, 2],
                                        [0, 0, 1, 1, 1, 3]])
    assert arr.dtype == np.float64


def test_r_types_give_the_same_estimates(lalonde):
    """Factor treatment, a 3-level factor for the race dummies, logicals and int32:
    the same design matrix, so the very same numbers."""
    ref = csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates=COV)
    got = csm.estimate_effect(r_like(lalonde), treatment="group", outcome="re78",
                              covariates=R_COV)
    assert got.estimate == ref.estimate and got.std_error == ref.std_error
    q_ref = csm.quantile_effect(lalonde, treatment="treat", outcome="re78", covariates=COV,
                                quantiles=[0.5], n_bootstrap=10, random_state=0)
    q_got = csm.quantile_effect(r_like(lalonde), treatment="group", outcome="re78",
                                covariates=R_COV, quantiles=0.5, n_bootstrap=10.0,
                                random_state=0.0)
    pd.testing.assert_frame_equal(q_got.to_frame(), q_ref.to_frame())


def test_one_covariate_as_a_string(lalonde):
    a = csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates="age")
    b = csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates=["age"])
    assert a.estimate == b.estimate
    assert check_frame(lalonde, treatment="treat", covariates="age")[1] == ["age"]
    with pytest.raises(InputError, match="treatment must be one column name"):
        check_frame(lalonde, treatment=["treat", "age"])


# ---------------------------------------------------------------- whole numbers
def test_check_int_and_seed():
    assert check_int(1.0, "k") == 1 and isinstance(check_int(np.float64(3.0), "k"), int)
    assert check_int(np.int32(2), "k") == 2
    for bad in (1.5, float("nan"), float("inf"), "1", True, None):
        with pytest.raises(InputError, match="'k' must be an integer"):
            check_int(bad, "k")
    assert check_seed(0.0) == 0 and check_seed(None) is None
    rng = np.random.default_rng(0)
    assert check_seed(rng) is rng
    with pytest.raises(InputError, match="'random_state' must be"):
        check_seed(0.5)


def test_coerce_int_options():
    got = coerce_int_options({"n_neighbors": 2.0, "random_state": 0.0, "caliper": 0.25,
                              "hidden_layer_sizes": (16.0, 8.0), "replace": True})
    assert got == {"n_neighbors": 2, "random_state": 0, "caliper": 0.25,
                   "hidden_layer_sizes": (16, 8), "replace": True}
    assert type(got["n_neighbors"]) is int
    with pytest.raises(InputError, match="'n_bootstrap' must be an integer, got 2.5"):
        coerce_int_options({"n_bootstrap": 2.5})
    assert {"n_neighbors", "var_neighbors", "n_bootstrap", "random_state", "n_jobs",
            "epochs", "dim"} <= INT_OPTIONS


def test_whole_floats_accepted_everywhere(lalonde):
    X, t, y = lalonde[COV], lalonde.treat, lalonde.re78
    ref = csm.MatchingEstimator(n_neighbors=2, var_neighbors=1, random_state=0,
                                ties=False).fit(X, t, y).effect_
    got = csm.MatchingEstimator(n_neighbors=2.0, var_neighbors=1.0, random_state=0.0,
                                ties=False).fit(X, t, y).effect_
    assert got.estimate == ref.estimate and got.std_error == ref.std_error
    a = csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates=COV,
                            score="mahalanobis", bias_correction=True,
                            variance="wild_bootstrap", n_bootstrap=50.0, n_jobs=1.0,
                            random_state=3.0)
    b = csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates=COV,
                            score="mahalanobis", bias_correction=True,
                            variance="wild_bootstrap", n_bootstrap=50, n_jobs=1,
                            random_state=3)
    assert a.std_error == b.std_error
    mr = csm.MultiplyRobustMatching(n_bootstrap=10.0, n_jobs=1.0, random_state=0.0,
                                    quantiles=[0.5]).fit(X, t, y)
    assert np.isfinite(mr.effect_.std_error)
    pca = csm.PCAScore(n_components=2.0, random_state=0.0).fit(X, t)
    assert pca.transform(X).shape == (len(X), 2)
    for bad in ({"n_neighbors": 1.5}, {"var_neighbors": 0.5}, {"random_state": 0.5}):
        with pytest.raises(InputError, match="must be an integer"):
            csm.estimate_effect(lalonde, treatment="treat", outcome="re78", covariates=COV,
                                **bad)


def test_neural_score_takes_whole_floats():
    pytest.importorskip("torch")
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 3))
    t = (X[:, 0] + rng.normal(size=60) > 0).astype(int)
    a = csm.NeuralBalancingScore(dim=2.0, epochs=3.0, hidden_layer_sizes=8.0, batch_size=20.0,
                                 random_state=0.0, n_threads=1.0).fit(X, t).transform(X)
    b = csm.NeuralBalancingScore(dim=2, epochs=3, hidden_layer_sizes=8, batch_size=20,
                                 random_state=0, n_threads=1).fit(X, t).transform(X)
    np.testing.assert_array_equal(a, b)
    c = csm.NeuralBalancingScore(dim=2, epochs=3, hidden_layer_sizes=[8.0, 4.0],
                                 n_networks=1.0, batch_size=20, random_state=0).fit(X, t)
    assert c.transform(X).shape == (60, 2)
    with pytest.raises(InputError, match="'epochs' must be an integer"):
        csm.NeuralBalancingScore(epochs=2.5).fit(X, t)


# ---------------------------------------------------------------- results for R
def test_result_tables_have_plain_columns(lalonde):
    """Tables must cross into R: float64, int64, bool or str (object) columns only."""
    res = csm.estimate_effect(r_like(lalonde), treatment="group", outcome="re78",
                              covariates=R_COV)
    q = csm.quantile_effect(lalonde, treatment="treat", outcome="re78", covariates=COV,
                            quantiles=[0.5], n_bootstrap=10, random_state=0)
    for frame in (res.to_frame(), q.to_frame()):
        for col, dtype in frame.dtypes.items():
            assert dtype in (np.float64, np.int64, np.bool_, object), (col, dtype)
            if dtype == object:
                assert all(isinstance(v, str) for v in frame[col]), col
    # a dict of plain lists (the route R takes with reticulate 1.28 and NumPy 2)
    cols = res.to_frame().to_dict(orient="list")
    assert all(type(v[0]) in (float, int, str, bool) for v in cols.values())
