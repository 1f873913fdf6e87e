# The tests compare the R package's numbers with the same calls made in Python, in the
# same process.  Without Python and causalsm they skip, unless CAUSALSM_REQUIRE_PYTHON
# is set (the project's CI sets it): then they fail.
skip_without_python <- function() {
  if (causalsm_available()) return(invisible(TRUE))
  if (nzchar(Sys.getenv("CAUSALSM_REQUIRE_PYTHON"))) {
    stop("CAUSALSM_REQUIRE_PYTHON is set but Python with causalsm is not available")
  }
  testthat::skip("the causalsm Python package is not available")
}

# Run Python code in the main module; it leaves its result, plain Python values
# (numbers, strings, lists, dicts), in `out`.
py_out <- function(code) {
  main <- reticulate::py_run_string(code, local = FALSE, convert = FALSE)
  reticulate::py_to_r(reticulate::py_get_item(main, "out"))
}

COVS <- c("age", "educ", "black", "hisp", "married", "nodegr", "re74", "re75")
TOL <- 1e-10

lalonde_r <- function() {
  d <- causalsm_data("lalonde")
  d$group <- factor(ifelse(d$treat == 1, "treated", "control"),
                    levels = c("control", "treated"))
  d
}

PY_SETUP <- paste(
  "import numpy as np, pandas as pd, causalsm as csm",
  "lalonde = csm.datasets.load_lalonde()",
  "COVS = ['age', 'educ', 'black', 'hisp', 'married', 'nodegr', 're74', 're75']",
  "def plain(res):",
  "    return {k: np.asarray(getattr(res, k), dtype=float).tolist()",
  "            for k in ('estimate', 'std_error', 'ci_lower', 'ci_upper', 'p_value')}",
  sep = "\n")

expect_close <- function(object, expected, tol = TOL) {
  object <- as.numeric(unlist(object))
  expected <- as.numeric(unlist(expected))
  expect_equal(length(object), length(expected))
  expect_true(all(abs(object - expected) <= tol * pmax(1, abs(expected))),
              info = paste(format(object, digits = 17), "vs",
                           format(expected, digits = 17), collapse = "; "))
}
