"""causalsm from R through reticulate.

Runs ``examples/r/causalsm_from_r.R`` with ``Rscript`` in its fast mode
(``CAUSALSM_FAST=1``) and checks the numbers it prints against the same analysis run
here in Python, and runs a small R script that passes R's types (factors,
logicals, integers, NA, whole numbers as doubles, one name as a string) through
reticulate.

Without Rscript (or the R packages reticulate and jsonlite) these tests skip on a
developer's machine and FAIL when the environment variable ``CI`` is set:
``.ci/run`` installs R, so a missing R there is a broken CI, not a reason to skip.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import causalsm as csm

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "r" / "causalsm_from_r.R"
COV = ["age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75"]
ROSSI_COV = ["age", "race", "wexp", "mar", "paro", "prio"]
TOL = 1e-8            # the R side prints 15 significant digits
# the networks train in float32: inside R's process (its own BLAS loaded beside torch's)
# the last bits of a trained weight can differ, a relative 1e-8 on the effect
NET_TOL = 1e-6


@pytest.fixture(scope="module")
def rscript(rscript_with) -> str:
    return rscript_with("reticulate", "jsonlite")


def run_r(rscript: str, args: list, cwd: Path, marker: str, timeout: int = 900) -> dict:
    """Run Rscript with this Python and this checkout of causalsm; return the JSON on
    the line that starts with ``marker``."""
    env = dict(os.environ, CAUSALSM_PYTHON=sys.executable, CAUSALSM_FAST="1",
               MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join(
                   [str(ROOT)] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH")
                                  else [])))
    env.pop("RETICULATE_PYTHON", None)
    proc = subprocess.run([rscript, *map(str, args)], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout)
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(marker)]
    assert proc.returncode == 0 and lines, (
        f"Rscript failed (exit {proc.returncode})\n--- stdout\n{proc.stdout[-4000:]}\n"
        f"--- stderr\n{proc.stderr[-4000:]}")
    return json.loads(lines[-1][len(marker):])


def close(a, b, tol=TOL) -> bool:
    return np.allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=tol,
                       atol=tol)


# ---------------------------------------------------------------- the R example
@pytest.fixture(scope="module")
def example(rscript, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("r_example")
    return run_r(rscript, [EXAMPLE, out / "plots"], out, "CAUSALSM_RESULTS"), out


@pytest.fixture(scope="module")
def python_side(example) -> dict:
    """The R example's analysis in Python, with the settings the R run reports."""
    settings = example[0]["settings"]
    assert settings["fast"] is True
    df = csm.datasets.load_lalonde()
    kw = dict(treatment="treat", outcome="re78", covariates=COV)
    epochs = int(settings["epochs"])
    psm = csm.estimate_effect(df, score="propensity", estimand="ATT", n_neighbors=1, **kw)
    nsm = csm.estimate_effect(df, score=csm.NeuralBalancingScore(dim=5, epochs=epochs,
                                                                 random_state=0),
                              estimand="ATT", random_state=0, **kw)
    methods = settings["methods"]
    table = csm.compare(df, methods=methods if isinstance(methods, list) else None,
                        estimand="ATT", random_state=0, neural_params={"epochs": epochs},
                        **kw)
    qte = csm.quantile_effect(df, quantiles=[0.25, 0.5, 0.75], estimand="ATE",
                              n_bootstrap=int(settings["n_bootstrap"]), random_state=0, **kw)
    hr = csm.hazard_ratio(csm.datasets.load_rossi(), treatment="fin", duration="week",
                          event="arrest", covariates=ROSSI_COV, score="propensity", estimand="ATE",
                          random_state=0, n_bootstrap=int(settings["hr_bootstrap"]))
    return {"psm": psm, "nsm": nsm, "compare": table, "qte": qte.to_frame(),
            "hr": hr.to_frame().iloc[0]}


@pytest.mark.parametrize("name", ["psm", "nsm"])
def test_average_effects_equal_python(example, python_side, name):
    got, want = example[0][name], python_side[name]
    tol = TOL if name == "psm" else NET_TOL
    for key, value in [("estimate", want.estimate), ("std_error", want.std_error),
                       ("ci_lower", want.ci_lower), ("ci_upper", want.ci_upper)]:
        assert close(got[key], value, tol), (name, key, got[key], value)
    assert got["n_matched"] == want.n_matched


def test_comparison_equals_python(example, python_side):
    got, want = example[0]["compare"], python_side["compare"]
    assert got["method"] == list(want["method"])
    assert close(got["estimate"], want["estimate"], NET_TOL)
    assert close(got["std_error"], want["std_error"], NET_TOL)


def test_quantile_effects_equal_python(example, python_side):
    got, want = example[0]["quantile"], python_side["qte"]
    assert close(got["quantile"], want["quantile"])
    # a QTE of exactly 0 comes back as ~1e-7 (bisection): compare on the outcome's scale
    assert np.allclose(got["estimate"], want["estimate"], rtol=TOL, atol=1e-4)
    assert close(got["std_error"], want["std_error"])


def test_hazard_ratio_equals_python(example, python_side):
    got, want = example[0]["hazard"], python_side["hr"]
    for key in ("estimate", "std_error", "ci_lower", "ci_upper"):
        assert close(got[key], want[key]), (key, got[key], want[key])


def test_plots_are_written(example):
    results, _ = example
    assert len(results["plots"]) == 4
    for path in results["plots"]:
        data = Path(path).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000, path


# ---------------------------------------------------------------- R's types
CONVERSIONS_R = r"""
suppressPackageStartupMessages(library(reticulate))
use_python(Sys.getenv("CAUSALSM_PYTHON"), required = TRUE)
csm <- import("causalsm", convert = FALSE)
d <- as.data.frame(py_to_r(csm$datasets$load_lalonde()$to_dict(orient = "list")))
d$group <- factor(ifelse(d$treat == 1, "treated", "control"), levels = c("control", "treated"))
d$flag <- d$treat == 1
d$treat_int <- as.integer(d$treat)
d$age <- as.integer(d$age)
d$race <- factor(ifelse(d$black == 1, "black", ifelse(d$hisp == 1, "hispanic", "other")),
                 levels = c("other", "black", "hispanic"))
d$g3 <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
cov <- c("age", "educ", "re74", "re75")
est <- function(data, treatment = "treat", covariates = cov, ...) {
  tryCatch({
    res <- py_to_r(csm$estimate_effect(data, treatment = treatment, outcome = "re78",
                                       covariates = covariates, ...)$to_dict())
    c(res$estimate, res$std_error)
  }, error = function(e) paste("ERROR:", conditionMessage(e)))
}
na_in <- function(col) { x <- d; x[[col]][3] <- NA; x }
types <- function(data) {
  py <- r_to_py(data)
  sapply(names(data), function(col) py_to_r(py[[col]]$dtype$name))
}
out <- list(
  numeric = est(d),
  factor = est(d, "group"),
  logical = est(d, "flag"),
  integer = est(d, "treat_int"),
  reversed = est(transform(d, group = factor(group, levels = c("treated", "control"))),
                 "group", estimand = "ATT"),
  three_levels = tryCatch({
    res <- py_to_r(csm$estimate_effect(d, treatment = "g3", outcome = "re78",
                                       covariates = cov)$to_dict())
    list(estimate = res$estimate, std_error = res$std_error, contrast = res$contrast,
         levels = res$levels)
  }, error = function(e) paste("ERROR:", conditionMessage(e))),
  three_levels_reordered = tryCatch({
    res <- py_to_r(csm$estimate_effect(transform(d, g3 = factor(g3, levels = c("c", "a", "b"))),
                                       treatment = "g3", outcome = "re78", covariates = cov,
                                       contrasts = "reference")$to_dict())
    list(estimate = res$estimate, contrast = res$contrast)
  }, error = function(e) paste("ERROR:", conditionMessage(e))),
  na_integer_covariate = est(na_in("age")),
  na_double_covariate = est(na_in("re74")),
  na_factor_covariate = est(na_in("race"), covariates = c("age", "race")),
  na_factor_treatment = est(na_in("group"), "group"),
  na_integer_treatment = est(na_in("treat_int"), "treat_int"),
  na_outcome = est(na_in("re78")),
  n_neighbors_double = est(d, n_neighbors = 2, var_neighbors = 2),
  n_neighbors_fraction = est(d, n_neighbors = 1.5),
  one_covariate = est(d, covariates = "age"),
  factor_covariate = est(d, covariates = c("age", "race", "re74")),
  random_state_double = est(d, score = "mahalanobis", bias_correction = TRUE,
                            variance = "wild_bootstrap", n_bootstrap = 50, n_jobs = 1,
                            random_state = 3),
  quantile_scalar = tryCatch(py_to_r(csm$quantile_effect(d, treatment = "group",
      outcome = "re78", covariates = cov, quantiles = 0.5, n_bootstrap = 10,
      random_state = 0)$to_dict())$estimate, error = function(e) conditionMessage(e)),
  dtypes = as.list(types(d[c("group", "flag", "age", "re74")]))
)
cat("CAUSALSM_CONVERSIONS", jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE), "\n")
"""


@pytest.fixture(scope="module")
def conversions(rscript, tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("r_conversions")
    script = folder / "conversions.R"
    script.write_text(CONVERSIONS_R)
    return run_r(rscript, [script], folder, "CAUSALSM_CONVERSIONS")


def _py(covariates=("age", "educ", "re74", "re75"), **kw) -> list:
    """[estimate, std_error] of the same call in Python."""
    res = csm.estimate_effect(csm.datasets.load_lalonde(), treatment="treat", outcome="re78",
                              covariates=list(covariates), **kw)
    return [res.estimate, res.std_error]


def test_r_types_arrive_as_expected(conversions):
    assert conversions["dtypes"] == {"group": "category", "flag": "bool", "age": "int64",
                                     "re74": "float64"}


def test_factor_logical_integer_treatments(conversions):
    ref = _py()
    for case in ("numeric", "factor", "logical", "integer"):
        assert close(conversions[case], ref), (case, conversions[case])
    # the second level is the treated one: reversing the levels makes the controls the
    # treated, so the ATT becomes minus the ATC of the original coding
    atc = _py(estimand="ATC")
    assert close(conversions["reversed"], [-atc[0], atc[1]])
    # a factor of three levels gives the multi-level contrasts, in the factor's level order
    df = csm.datasets.load_lalonde()
    g3 = pd.Categorical(np.resize(["a", "b", "c"], len(df)), categories=["a", "b", "c"])
    ref = csm.estimate_effect(df.assign(g3=g3), treatment="g3", outcome="re78",
                              covariates=["age", "educ", "re74", "re75"])
    got = conversions["three_levels"]
    assert got["contrast"] == ["b - a", "c - a", "c - b"] and got["levels"] == ["a", "b", "c"]
    assert close(got["estimate"], ref.estimate) and close(got["std_error"], ref.std_error)
    got = conversions["three_levels_reordered"]
    assert got["contrast"] == ["a - c", "b - c"]
    assert close(got["estimate"], [ref.means[0] - ref.means[2], ref.means[1] - ref.means[2]])


@pytest.mark.parametrize("case, message", [
    ("na_integer_covariate", "column 'age' of X has 1 missing value"),
    ("na_double_covariate", "column 're74' of X has 1 missing value"),
    ("na_factor_covariate", "column 'race' of X has 1 missing value"),
    ("na_factor_treatment", "'group' has 1 missing value"),
    ("na_integer_treatment", "'treat_int' has 1 missing value"),
    ("na_outcome", "'re78' has 1 missing value"),
    ("n_neighbors_fraction", "'n_neighbors' must be an integer, got 1.5"),
])
def test_r_input_errors_are_clear(conversions, case, message):
    assert str(conversions[case]).startswith("ERROR:") and message in conversions[case], \
        conversions[case]


def test_r_whole_numbers_and_names(conversions):
    assert close(conversions["n_neighbors_double"], _py(n_neighbors=2, var_neighbors=2))
    assert close(conversions["one_covariate"], _py(covariates=["age"]))
    assert close(conversions["factor_covariate"], _py(covariates=["age", "black", "hisp",
                                                                  "re74"]))
    assert close(conversions["random_state_double"],
                 _py(score="mahalanobis", bias_correction=True, variance="wild_bootstrap",
                     n_bootstrap=50, n_jobs=1, random_state=3))
    want = csm.quantile_effect(csm.datasets.load_lalonde(), treatment="treat", outcome="re78",
                               covariates=["age", "educ", "re74", "re75"], quantiles=[0.5],
                               n_bootstrap=10, random_state=0).estimate
    assert close(conversions["quantile_scalar"], want)


# ---------------------------------------------------------------- torch's OpenMP inside R
def test_openmp_guard_sets_duplicate_flag_only_for_two_llvm_runtimes(monkeypatch):
    """Pure Python: the guard that :mod:`causalsm._torch` runs before importing torch."""
    from causalsm import _torch
    monkeypatch.delenv("KMP_DUPLICATE_LIB_OK", raising=False)
    monkeypatch.setattr(_torch, "loaded_openmp", lambda: ["/usr/lib/libgomp.so.1"])
    monkeypatch.setattr(_torch, "_torch_brings_llvm_runtime", lambda: True)
    _torch._allow_duplicate_runtime()                       # GNU runtimes: nothing to do
    assert "KMP_DUPLICATE_LIB_OK" not in os.environ
    monkeypatch.setattr(_torch, "loaded_openmp", lambda: ["/opt/R/lib/libomp.dylib"])
    with pytest.warns(RuntimeWarning, match="KMP_DUPLICATE_LIB_OK"):
        _torch._allow_duplicate_runtime()
    assert os.environ["KMP_DUPLICATE_LIB_OK"] == "TRUE"
    os.environ["KMP_DUPLICATE_LIB_OK"] = "FALSE"            # the user's choice stands
    _torch._allow_duplicate_runtime()
    assert os.environ["KMP_DUPLICATE_LIB_OK"] == "FALSE"


def test_loaded_openmp_sees_the_runtime_torch_uses():
    pytest.importorskip("torch")
    from causalsm._torch import import_torch, loaded_openmp
    torch = import_torch()
    assert torch.__name__ == "torch"
    if sys.platform.startswith("linux"):
        assert any("gomp" in Path(p).name or "omp" in Path(p).name for p in loaded_openmp())


def test_openmp_load_error_names_the_remedy(monkeypatch):
    import builtins

    from causalsm import _torch
    real_import = builtins.__import__

    def failing(name, *args, **kwargs):
        if name == "torch":
            raise OSError("libgomp-a34b3233.so.1: cannot allocate memory in static TLS block")
        return real_import(name, *args, **kwargs)

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    monkeypatch.setattr(builtins, "__import__", failing)
    with pytest.raises(ImportError, match="LD_PRELOAD"):
        _torch.import_torch()


# ---------------------------------------------------------------- continuous treatment
EXPOSURE_R = r"""
suppressPackageStartupMessages(library(reticulate))
use_python(Sys.getenv("CAUSALSM_PYTHON"), required = TRUE)
csm <- import("causalsm", convert = FALSE)
d <- as.data.frame(py_to_r(csm$datasets$simulate_causalgps(500L, random_state = 3L)$to_dict(
  orient = "list")))
d$cf5 <- factor(d$cf5, levels = c(-2, -1, 0, 1, 2), ordered = TRUE)  # an ordered factor
cov <- c("cf1", "cf2", "cf3", "cf4", "cf5", "cf6")
res <- csm$exposure_response(d, treatment = "w", outcome = "Y", covariates = cov,
                             smoother = "parametric", eval_points = c(6, 12), delta_n = 1,
                             n_bootstrap = 10, random_state = 0)
tab <- py_to_r(res$to_frame()$to_dict(orient = "list"))    # reticulate 1.28 + pandas 2
binary <- tryCatch(csm$exposure_response(transform(d, w = as.integer(w > 10)), "w", "Y", cov),
                   error = function(e) conditionMessage(e))
out <- list(estimate = tab$estimate, std_error = tab$std_error, exposure = tab$exposure,
            classes = sapply(tab, class), names = names(tab), binary = binary)
cat("CAUSALSM_EXPOSURE", jsonlite::toJSON(out, digits = NA, auto_unbox = TRUE), "\n")
"""


def test_exposure_response_from_r(rscript, tmp_path):
    script = tmp_path / "exposure.R"
    script.write_text(EXPOSURE_R)
    got = run_r(rscript, [script], tmp_path, "CAUSALSM_EXPOSURE")
    df = csm.datasets.simulate_causalgps(500, random_state=3)
    df["cf5"] = df["cf5"] + 2                  # the ordered factor arrives as levels 0..4
    want = csm.exposure_response(df, "w", "Y", ["cf1", "cf2", "cf3", "cf4", "cf5", "cf6"],
                                 smoother="parametric", eval_points=[6.0, 12.0], delta_n=1.0,
                                 n_bootstrap=10, random_state=0)
    assert close(got["exposure"], [6.0, 12.0])
    assert close(got["estimate"], want.estimate) and close(got["std_error"], want.std_error)
    assert set(got["classes"]) == {"numeric"}
    assert got["names"] == ["exposure", "estimate", "std_error", "ci_lower", "ci_upper",
                            "band_lower", "band_upper", "p_value"]
    assert "takes only two values" in got["binary"]
