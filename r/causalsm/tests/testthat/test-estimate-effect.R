test_that("a factor treatment gives Python's ATT on the 0/1 column", {
  skip_without_python()
  d <- lalonde_r()
  before <- d
  fit <- estimate_effect(d, treatment = "group", outcome = "re78", covariates = COVS)
  expect_identical(d, before)                           # the input is not modified
  want <- py_out(paste(PY_SETUP,
    "out = plain(csm.estimate_effect(lalonde, 'treat', 're78', COVS))", sep = "\n"))
  expect_s3_class(fit, "causalsm_effect")
  expect_named(coef(fit), "ATT")
  expect_close(coef(fit), want$estimate)
  expect_close(fit$std_error, want$std_error)
  expect_close(confint(fit), c(want$ci_lower, want$ci_upper))
  expect_close(vcov(fit), want$std_error^2)
  s <- summary(fit)$coefficients
  expect_close(s[, "z value"], want$estimate / want$std_error)
  expect_close(s[, "Pr(>|z|)"], want$p_value)
  expect_close(as.data.frame(fit)$estimate, want$estimate)
})

test_that("options and a logical treatment arrive as in Python", {
  skip_without_python()
  d <- lalonde_r()
  d$flag <- d$treat == 1
  fit <- estimate_effect(d, "flag", "re78", COVS, score = "mahalanobis", estimand = "ATE",
                         n_neighbors = 4, bias_correction = TRUE)
  want <- py_out(paste(PY_SETUP,
    "out = plain(csm.estimate_effect(lalonde, 'treat', 're78', COVS, score='mahalanobis',",
    "            estimand='ATE', n_neighbors=4, bias_correction=True))", sep = "\n"))
  expect_named(coef(fit), "ATE")
  expect_close(coef(fit), want$estimate)
  expect_close(fit$std_error, want$std_error)
})

test_that("confint() at another level is Python's conf_int", {
  skip_without_python()
  fit <- estimate_effect(lalonde_r(), "group", "re78", COVS)
  want <- py_out(paste(PY_SETUP,
    "out = list(csm.estimate_effect(lalonde, 'treat', 're78', COVS).conf_int(0.1))",
    sep = "\n"))
  ci <- confint(fit, level = 0.9)
  expect_identical(colnames(ci), c("5 %", "95 %"))
  expect_close(ci, want)
  expect_close(ci, coef(fit) + c(-1, 1) * qnorm(0.95) * fit$std_error)
})

test_that("a factor with three levels gives every contrast, as Python", {
  skip_without_python()
  d <- lalonde_r()
  d$arm <- factor(rep(c("a", "b", "c"), length.out = nrow(d)))
  fit <- estimate_effect(d, "arm", "re78", c("age", "educ", "re74", "re75"))
  want <- py_out(paste(PY_SETUP,
    "d = lalonde.assign(arm=pd.Categorical(np.resize(['a', 'b', 'c'], len(lalonde))))",
    "res = csm.estimate_effect(d, 'arm', 're78', ['age', 'educ', 're74', 're75'])",
    "out = dict(plain(res), contrast=list(res.contrast))", sep = "\n"))
  expect_s3_class(fit, "causalsm_multilevel")
  expect_identical(names(coef(fit)), unlist(want$contrast))
  expect_close(coef(fit), want$estimate)
  expect_close(fit$std_error, want$std_error)
  expect_close(confint(fit), c(want$ci_lower, want$ci_upper))
  expect_error(vcov(fit), "no covariance")
})

test_that("NA gives Python's error, naming the column", {
  skip_without_python()
  d <- lalonde_r()
  d$age[3] <- NA
  want <- py_out(paste(PY_SETUP,
    "d = lalonde.astype({'age': float})",
    "d.loc[2, 'age'] = np.nan",
    "try:",
    "    csm.estimate_effect(d, 'treat', 're78', COVS)",
    "except csm.InputError as e:",
    "    out = str(e)", sep = "\n"))
  expect_match(want, "'age'")
  err <- expect_error(estimate_effect(d, "group", "re78", COVS),
                      class = "causalsm_input_error")
  expect_identical(conditionMessage(err), want)
  # reticulate < 1.38 turns NA in a logical into TRUE: the package sends it as NA
  d <- lalonde_r()
  d$married <- d$married == 1
  d$married[5] <- NA
  expect_error(estimate_effect(d, "group", "re78", COVS), "'married'",
               class = "causalsm_input_error")
  d <- lalonde_r()
  d$group[7] <- NA
  expect_error(estimate_effect(d, "group", "re78", COVS), "'group'",
               class = "causalsm_input_error")
})

test_that("bad arguments are clear errors", {
  skip_without_python()
  d <- lalonde_r()
  expect_error(estimate_effect(d, c("group", "treat"), "re78"), "`treatment` must be one")
  expect_error(estimate_effect(as.list(d), "group", "re78"), "`data` must be a data.frame")
  expect_error(estimate_effect(d, "group", "re78", c("age", "income")), "'income'",
               class = "causalsm_input_error")
  expect_error(estimate_effect(d, "group", "re78", COVS, n_neighbours = 2),
               "unknown option", class = "causalsm_input_error")
})

test_that("Python's warnings become R warnings", {
  skip_without_python()
  expect_warning(fit <- estimate_effect(lalonde_r(), "group", "re78", COVS, caliper = 0.01),
                 "left without a match")
  expect_lt(fit$fields$n_matched, 185)
})
