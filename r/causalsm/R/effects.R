# The front doors: one R function per causalsm call, returning S3 results.

check_name <- function(x, what) {
  if (!is.character(x) || length(x) != 1L || is.na(x)) {
    stop(sprintf("`%s` must be one column name (a string), not %s", what,
                 paste(deparse(x), collapse = " ")), call. = FALSE)
  }
}

# An S3 result from a Python result object.  `labels`: the names of the estimates.
new_result <- function(res, class, labels, call, log_scale = FALSE) {
  r <- py_result(res)
  f <- r$fields
  num <- function(x) as.numeric(unlist(x))
  est <- num(f$estimate)
  se <- num(f$std_error)
  ci <- cbind(num(f$ci_lower), num(f$ci_upper))
  if (log_scale) {                         # a ratio: coefficients on the log scale
    est <- log(est)
    ci <- log(ci)
  }
  names(est) <- names(se) <- labels
  rownames(ci) <- labels
  structure(list(coefficients = est, std_error = se, conf_int = ci,
                 p_value = stats::setNames(num(f$p_value), labels),
                 estimand = f$estimand, alpha = f$alpha, method = f$method,
                 variance = f$variance, fields = f, table = r$table,
                 summary_text = r$summary, log_scale = log_scale, py = r$py, call = call),
            class = c(class, "causalsm_result"))
}

#' Estimate an average treatment effect by matching
#'
#' Matches treated and control units on a balancing score and estimates the ATT, ATC
#' or ATE with an Abadie-Imbens standard error (nearest-neighbour matching), or after
#' another design (optimal, full, subclassification, CEM) by g-computation with
#' MatchIt's standard errors. Calls `causalsm.estimate_effect` in Python.
#'
#' How R's types arrive: a **factor** treatment with two levels has its *second* level
#' as the treated arm (as in [glm()]); with three or more levels the result holds the
#' effect of every level against the others (one row per contrast). A factor covariate
#' becomes 0/1 columns `name[level]`, one per level after the first (an ordered factor
#' its level number); **logical** columns count as 0/1; `NA` in any column used is an
#' error that names the column. Whole numbers may be given as plain R numbers
#' (`n_neighbors = 2`). Python's warnings (units dropped by a caliper, poor overlap)
#' arrive as R warnings.
#'
#' @param data A data.frame, one row per unit. It is not modified.
#' @param treatment,outcome Column names (strings).
#' @param covariates Columns to adjust for; default all other columns.
#' @param score What to match on: `"propensity"` (logistic propensity score, logit
#'   scale), `"covariates"`, `"mahalanobis"`, `"neural"` (the learned neural balancing
#'   score), `"neural_propensity"`, `"pca"`, or `"double"` (multiply robust matching).
#' @param estimand `"ATT"`, `"ATC"` or `"ATE"`; default `"ATT"` for a 0/1 treatment,
#'   `"ATE"` for several levels.
#' @param ... Options of the Python `MatchingEstimator`: `method` (`"nearest"`,
#'   `"optimal"`, `"full"`, `"subclass"`, `"cem"`), `n_neighbors`, `replace`,
#'   `caliper`, `exact` (column names), `discard`, `bias_correction`, `variance`,
#'   `alpha`, `random_state`, ...
#' @return A `causalsm_effect` object (a `causalsm_multilevel` one for three or more
#'   levels), with methods [print()], [summary()], [coef()], [confint()], [vcov()],
#'   [as.data.frame()] and [plot()]. `x$fields` holds every number the Python result
#'   has; `x$py` is the Python object itself.
#' @seealso [compare()] to run several methods, [match_units()] and [balance()] for
#'   the design, [quantile_effect()], [hazard_ratio()].
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' lalonde$group <- factor(ifelse(lalonde$treat == 1, "treated", "control"),
#'                         levels = c("control", "treated"))
#' fit <- estimate_effect(lalonde, treatment = "group", outcome = "re78",
#'                        covariates = c("age", "educ", "black", "hisp", "married",
#'                                       "nodegr", "re74", "re75"))
#' fit
#' coef(fit)
#' confint(fit, level = 0.9)
#' @export
estimate_effect <- function(data, treatment, outcome, covariates = NULL,
                            score = "propensity", estimand = NULL, ...) {
  check_name(treatment, "treatment")
  check_name(outcome, "outcome")
  res <- py_call(py_modules()$csm$estimate_effect, to_python(data), treatment, outcome,
                 covariates = covariates, score = score, estimand = estimand, ...)
  multilevel <- reticulate::py_has_attr(res, "contrast")
  if (multilevel) {
    labels <- unlist(reticulate::py_to_r(py_modules()$bridge$plain(res$contrast)))
    return(new_result(res, c("causalsm_multilevel", "causalsm_effect"), labels,
                      match.call()))
  }
  new_result(res, "causalsm_effect", reticulate::py_to_r(res$estimand), match.call())
}

#' Quantile treatment effects by multiply robust matching
#'
#' The differences between quantiles of the potential outcomes, `Q1(tau) - Q0(tau)`, in
#' the population (QTE) or in the treated (QTT), by multiply robust (double score)
#' matching (Yang & Zhang 2023) with bootstrap standard errors. Calls
#' `causalsm.quantile_effect` in Python. Types arrive as in [estimate_effect()].
#'
#' @inheritParams estimate_effect
#' @param quantiles Quantile levels in (0, 1).
#' @param estimand `"ATE"` (QTE) or `"ATT"` (QTT).
#' @param ... Options of the Python `MultiplyRobustMatching`: `n_neighbors`,
#'   `n_bootstrap`, `alpha`, `random_state`, `n_jobs`, ...
#' @return A `causalsm_quantile` object: one estimate per quantile level, named
#'   `"q0.25"`, ...; methods as for [estimate_effect()] (no [vcov()]: the bootstrap
#'   covariance across levels is not reported).
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' qte <- quantile_effect(lalonde, "treat", "re78", c("age", "educ", "re74", "re75"),
#'                        quantiles = c(0.5, 0.75), n_bootstrap = 20, random_state = 0)
#' as.data.frame(qte)
#' @export
quantile_effect <- function(data, treatment, outcome, covariates = NULL,
                            quantiles = c(0.25, 0.5, 0.75), estimand = "ATE", ...) {
  check_name(treatment, "treatment")
  check_name(outcome, "outcome")
  if (!is.numeric(quantiles) || !length(quantiles)) {
    stop("`quantiles` must be numbers in (0, 1)", call. = FALSE)
  }
  res <- py_call(py_modules()$csm$quantile_effect, to_python(data), treatment, outcome,
                 covariates = covariates, quantiles = as.list(as.numeric(quantiles)),
                 estimand = estimand, ...)
  levels <- as.numeric(unlist(reticulate::py_to_r(py_modules()$bridge$plain(res$quantiles))))
  new_result(res, "causalsm_quantile", paste0("q", as.character(levels)),
             match.call())
}

#' Marginal hazard ratio after matching
#'
#' Matches on a score and fits a Cox model of the treatment alone to the matched data,
#' weighted by the match counts, with a standard error that accounts for the matching.
#' Calls `causalsm.hazard_ratio` in Python. As with `survival::coxph()`, [coef()],
#' [confint()] and [vcov()] are on the log scale; `print()`, `summary()` and
#' `as.data.frame()` show the hazard ratio itself.
#'
#' @inheritParams estimate_effect
#' @param treatment Column name (a string): the 0/1 treatment.
#' @param duration,event Column names: the follow-up time (>= 0) and the event
#'   indicator (1 = event, 0 = censored).
#' @param estimand `"ATE"`, `"ATT"` or `"ATC"`.
#' @param ... Options of the Python `MatchedHazardRatio`: `n_neighbors`, `caliper`,
#'   `variance`, `n_bootstrap`, `alpha`, `random_state`, ...
#' @return A `causalsm_hazard` object; `plot()` draws the weighted Kaplan-Meier curves
#'   of the matched sample.
#' @examplesIf causalsm_available()
#' rossi <- causalsm_data("rossi")
#' hr <- hazard_ratio(rossi, treatment = "fin", duration = "week", event = "arrest",
#'                    covariates = c("age", "race", "wexp", "mar", "paro", "prio"),
#'                    random_state = 0)
#' hr
#' exp(coef(hr))
#' @export
hazard_ratio <- function(data, treatment, duration, event, covariates = NULL,
                         score = "propensity", estimand = "ATE", ...) {
  check_name(treatment, "treatment")
  check_name(duration, "duration")
  check_name(event, "event")
  res <- py_call(py_modules()$csm$hazard_ratio, to_python(data), treatment, duration,
                 event, covariates = covariates, score = score, estimand = estimand, ...)
  out <- new_result(res, "causalsm_hazard", treatment, match.call(), log_scale = TRUE)
  out$survival <- reticulate::py_to_r(py_modules()$bridge$survival_curves(res))
  out
}

#' Run several matching methods side by side
#'
#' One row per method: the estimate, its standard error and interval, balance after
#' matching (largest absolute SMD, linear MMD), sensitivity to hidden bias (critical
#' Gamma, E-value) and fit time. Calls `causalsm.compare` in Python.
#'
#' @inheritParams estimate_effect
#' @param methods Method names (default: the recommended set), e.g. `c("psm",
#'   "mahalanobis", "nsm")`.
#' @param ... Options of the Python `compare`: `random_state`, `n_jobs`,
#'   `neural_params`, ...
#' @return A `causalsm_comparison` data.frame with [coef()], [confint()] and [plot()]
#'   methods.
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' tab <- compare(lalonde, "treat", "re78", c("age", "educ", "re74", "re75"),
#'                methods = c("psm", "mahalanobis"))
#' tab[, c("method", "estimate", "std_error", "max_abs_smd")]
#' @export
compare <- function(data, treatment, outcome, covariates = NULL, methods = NULL,
                    estimand = "ATT", ...) {
  check_name(treatment, "treatment")
  check_name(outcome, "outcome")
  if (length(methods) == 1L) methods <- list(methods)        # one name: still a list
  res <- py_call(py_modules()$csm$compare, to_python(data), treatment, outcome,
                 covariates = covariates, methods = methods, estimand = estimand, ...)
  tab <- as_r_table(py_modules()$bridge$frame(res))
  structure(tab, class = c("causalsm_comparison", "data.frame"),
            alpha = list(...)$alpha %||% 0.05, call = match.call())
}

#' Data sets shipped with the causalsm Python package
#'
#' @param name `"lalonde"` (the NSW job-training experiment, 185 treated and 260
#'   controls), `"rossi"` (recidivism, for [hazard_ratio()]), or any name that
#'   `causalsm.datasets.load_dataset` knows.
#' @return A data.frame.
#' @examplesIf causalsm_available()
#' head(causalsm_data("lalonde"))
#' @export
causalsm_data <- function(name) {
  check_name(name, "name")
  as_r_table(py_modules()$bridge$frame(py_call(py_modules()$csm$datasets$load_dataset,
                                               name)))
}
