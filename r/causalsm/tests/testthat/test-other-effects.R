test_that("quantile_effect equals Python's", {
  skip_without_python()
  fit <- quantile_effect(lalonde_r(), "group", "re78", c("age", "educ", "re74", "re75"),
                         quantiles = c(0.5, 0.75), n_bootstrap = 20, random_state = 0)
  want <- py_out(paste(PY_SETUP,
    "res = csm.quantile_effect(lalonde, 'treat', 're78', ['age', 'educ', 're74', 're75'],",
    "                          quantiles=[0.5, 0.75], n_bootstrap=20, random_state=0)",
    "out = dict(plain(res), ci90=res.conf_int(0.1).tolist())", sep = "\n"))
  expect_s3_class(fit, "causalsm_quantile")
  expect_named(coef(fit), c("q0.5", "q0.75"))
  expect_close(coef(fit), want$estimate)
  expect_close(fit$std_error, want$std_error)
  expect_close(confint(fit), c(want$ci_lower, want$ci_upper))
  expect_close(t(confint(fit, level = 0.9)), unlist(want$ci90))
  expect_error(vcov(fit), "no covariance")
})

test_that("hazard_ratio equals Python's, on the log scale as coxph", {
  skip_without_python()
  rossi <- causalsm_data("rossi")
  covs <- c("age", "race", "wexp", "mar", "paro", "prio")
  fit <- hazard_ratio(rossi, "fin", "week", "arrest", covs, random_state = 0,
                      n_bootstrap = 50)
  want <- py_out(paste(PY_SETUP,
    "res = csm.hazard_ratio(csm.datasets.load_rossi(), 'fin', 'week', 'arrest',",
    "                       ['age', 'race', 'wexp', 'mar', 'paro', 'prio'],",
    "                       random_state=0, n_bootstrap=50)",
    "out = dict(plain(res), ci90=list(res.conf_int(0.1)))", sep = "\n"))
  expect_named(coef(fit), "fin")
  expect_close(exp(coef(fit)), want$estimate)
  expect_close(fit$std_error, want$std_error)           # of log(HR), as Python's
  expect_close(exp(confint(fit)), c(want$ci_lower, want$ci_upper))
  expect_close(exp(confint(fit, level = 0.9)), unlist(want$ci90))
  expect_close(vcov(fit), want$std_error^2)
  expect_close(as.data.frame(fit)$estimate, want$estimate)
})

test_that("the weighted Kaplan-Meier curve is the hand computation", {
  skip_without_python()
  # times 1, 2, 2, 3; events 1, 1, 0, 1; weights 1, 2, 1, 1
  km <- causalsm:::km_curve(c(1, 2, 2, 3), c(1, 1, 0, 1), c(1, 2, 1, 1))
  expect_equal(km$time, c(0, 1, 2, 3))
  expect_equal(km$survival, c(1, 4 / 5, 4 / 5 * (1 - 2 / 4), 4 / 5 * 2 / 4 * 0))
})

test_that("compare equals Python's table", {
  skip_without_python()
  tab <- compare(lalonde_r(), "group", "re78", COVS, methods = c("psm", "mahalanobis"))
  want <- py_out(paste(PY_SETUP,
    "tab = csm.compare(lalonde, 'treat', 're78', COVS, methods=['psm', 'mahalanobis'])",
    "out = {c: tab[c].tolist() for c in ('method', 'estimate', 'std_error', 'max_abs_smd')}",
    sep = "\n"))
  expect_s3_class(tab, "causalsm_comparison")
  expect_identical(tab$method, unlist(want$method))
  expect_close(coef(tab), want$estimate)
  expect_close(tab$std_error, want$std_error)
  expect_close(tab$max_abs_smd, want$max_abs_smd)
  expect_identical(names(coef(tab)), c("psm", "mahalanobis"))
  expect_output(print(tab), "Comparison of 2 methods \\(ATT\\).*Other columns")
  expect_identical(class(as.data.frame(tab)), "data.frame")
  expect_true("fit_seconds" %in% names(as.data.frame(tab)))
  expect_close(confint(tab, level = 0.9)[, 2],
               tab$estimate + qnorm(0.95) * tab$std_error)
})
