test_that("match_units gives estimate_effect's matches and Python's balance", {
  skip_without_python()
  d <- lalonde_r()
  m <- match_units(d, "group", COVS, n_neighbors = 2)
  want <- py_out(paste(PY_SETUP,
    "est = csm.MatchingEstimator(n_neighbors=2).fit(lalonde[COVS], lalonde['treat'],",
    "                                               lalonde['re78'])",
    "tab = est.balance()",
    "out = {'weights': est.matches_.weights.tolist(),",
    "       'smd_after': tab['smd_after'].tolist(), 'smd_before': tab['smd_before'].tolist(),",
    "       'var_ratio_after': tab['var_ratio_after'].tolist()}", sep = "\n"))
  expect_s3_class(m, "causalsm_match")
  expect_close(m$weights, want$weights)
  b <- balance(m)
  expect_identical(rownames(b), COVS)
  expect_close(b$smd_after, want$smd_after)
  expect_close(b$smd_before, want$smd_before)
  expect_close(b$var_ratio_after[!is.na(b$var_ratio_after)],
               unlist(want$var_ratio_after)[!is.na(b$var_ratio_after)])
  # the matched data: rows of positive weight, pairs by R row number
  md <- as.data.frame(m)
  expect_equal(nrow(md), sum(m$weights > 0))
  expect_close(md$weights, m$weights[m$weights > 0])
  expect_true(all(d$group[m$pairs$treated] == "treated"))
  expect_true(all(d$group[m$pairs$control] == "control"))
  # balance() of the data with these weights is the same table
  b2 <- balance(d, "group", COVS, weights = m$weights)
  expect_close(b2$smd_after, b$smd_after)
  expect_error(balance(d, "group", COVS, weights = 1:3), "one per row")
})

test_that("match_units with another design gives fit's matches", {
  skip_without_python()
  m <- match_units(lalonde_r(), "group", COVS, method = "full")
  want <- py_out(paste(PY_SETUP,
    "est = csm.MatchingEstimator(method='full').fit(lalonde[COVS], lalonde['treat'],",
    "                                               lalonde['re78'])",
    "out = est.matches_.weights.tolist()", sep = "\n"))
  expect_close(m$weights, want)
  expect_true(all(m$weights > 0))            # full matching keeps every unit here
})

test_that("match_units refuses a score that needs the outcome", {
  skip_without_python()
  expect_error(match_units(lalonde_r(), "group", COVS, score = "double"), "outcome")
})

test_that("the plot methods draw", {
  skip_without_python()
  d <- lalonde_r()
  file <- tempfile(fileext = ".pdf")
  grDevices::pdf(file)
  fit <- estimate_effect(d, "group", "re78", COVS)
  expect_identical(plot(fit), fit)
  m <- match_units(d, "group", COVS)
  expect_identical(plot(m), m)
  grDevices::dev.off()
  expect_gt(file.size(file), 3000)
})
