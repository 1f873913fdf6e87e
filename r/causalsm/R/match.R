# The design on its own: matching without an outcome, and covariate balance.

#' Match units on a balancing score
#'
#' Fits a score to the covariates and matches on it, without looking at an outcome
#' (the design stage, as `MatchIt::matchit()`). It is the design stage of
#' [estimate_effect()] (the Python `MatchingEstimator.match`): with the same arguments
#' `estimate_effect()` uses the same matches.
#'
#' @inheritParams estimate_effect
#' @param treatment Column name (a string).
#' @param score What to match on, as in [estimate_effect()]; a score that learns from
#'   the outcome (`"double"`) is refused with an error saying so.
#' @param estimand `"ATT"` (each treated unit gets controls), `"ATC"` or `"ATE"`.
#' @param ... Options of the Python `MatchingEstimator`, as in [estimate_effect()]:
#'   `method` (`"nearest"`, `"optimal"`, `"full"`, `"subclass"`, `"cem"`),
#'   `n_neighbors`, `replace`, `caliper`, `exact` (column names), `discard`,
#'   `random_state`, ...
#' @return A `causalsm_match` object: `weights` (one per row of `data`, 0 for an
#'   unmatched unit), `pairs` (a data.frame, one row per matched pair: `subclass` (the
#'   focal unit), `treated` and `control` as row numbers of `data`, `weight`,
#'   `distance`), `score` (a matrix), `balance` (see [balance()]); [as.data.frame()] gives
#'   the matched rows with their weights, [summary()] the balance table and [plot()]
#'   the love plot.
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' m <- match_units(lalonde, "treat", c("age", "educ", "black", "hisp", "married",
#'                                     "nodegr", "re74", "re75"))
#' m
#' summary(m)
#' head(as.data.frame(m))
#' @export
match_units <- function(data, treatment, covariates = NULL, score = "propensity",
                        estimand = "ATT", ...) {
  check_name(treatment, "treatment")
  m <- py_modules()
  res <- reticulate::py_to_r(py_call(m$bridge$match_units, to_python(data), treatment,
                                     covariates = covariates, score = score,
                                     estimand = estimand, ...))
  pairs <- as_r_table(res$pairs)
  for (col in intersect(c("subclass", "treated", "control"), names(pairs))) {
    pairs[[col]] <- as.integer(pairs[[col]]) + 1L          # R's row numbers
  }
  score_matrix <- do.call(cbind, lapply(res$score, as.numeric))
  structure(list(weights = as.numeric(unlist(res$weights)), pairs = pairs,
                 score = score_matrix, treated = as.numeric(unlist(res$treated)) == 1,
                 balance = new_balance(as_r_table(res$balance), res$estimand),
                 estimand = res$estimand, n_matched = res$n_matched,
                 n_dropped = res$n_dropped, score_name = res$score_name, data = data,
                 call = match.call()),
            class = "causalsm_match")
}

new_balance <- function(tab, estimand) {
  rownames(tab) <- tab$covariate
  tab$covariate <- NULL
  structure(tab, class = c("causalsm_balance", "data.frame"), estimand = estimand)
}

#' Covariate balance before and after matching
#'
#' The balance table of MatchIt's `summary(m, un = TRUE)`: means of each arm,
#' standardised mean difference, variance ratio and eCDF statistics, before and after
#' weighting. For a [match_units()] result, its table; for a data.frame, the table of
#' its columns with the given weights.
#'
#' @param x A `causalsm_match` object or a data.frame.
#' @param treatment For a data.frame: the treatment column.
#' @param covariates For a data.frame: the columns (default all but the treatment).
#' @param weights For a data.frame: matching or balancing weights, one per row (0 for
#'   an unmatched unit); `NULL` gives the "before" columns only.
#' @param estimand Sets the SMD's denominator: `"ATT"` (treated SD), `"ATC"` or `"ATE"`.
#' @param ... Options of the Python `balance_table` (`binary`, `std_denominator`).
#' @return A `causalsm_balance` data.frame, one row per covariate, with a [plot()]
#'   method (the love plot).
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' m <- match_units(lalonde, "treat", c("age", "educ", "re74", "re75"))
#' balance(m)[, c("smd_before", "smd_after")]
#' balance(lalonde, "treat", c("age", "educ"), weights = m$weights)
#' @export
balance <- function(x, ...) UseMethod("balance")

#' @rdname balance
#' @export
balance.causalsm_match <- function(x, ...) x$balance

#' @rdname balance
#' @export
balance.data.frame <- function(x, treatment, covariates = NULL, weights = NULL,
                               estimand = "ATT", ...) {
  check_name(treatment, "treatment")
  if (!is.null(weights)) {
    if (!is.numeric(weights) || length(weights) != nrow(x)) {
      stop(sprintf("`weights` must be %d numbers (one per row of the data), not %d",
                   nrow(x), length(weights)), call. = FALSE)
    }
    weights <- as.list(as.numeric(weights))
  }
  tab <- py_call(py_modules()$bridge$balance, to_python(x), treatment,
                 covariates = covariates, weights = weights, estimand = estimand, ...)
  new_balance(as_r_table(tab), estimand)
}
