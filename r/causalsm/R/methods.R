# S3 methods of the results.

format_level <- function(level) {
  paste(format(100 * c((1 - level) / 2, 1 - (1 - level) / 2), trim = TRUE,
               scientific = FALSE, digits = 3), "%")
}

#' Methods for causalsm results
#'
#' `print()` shows the same table as in Python; `summary()` a coefficient table in R's
#' style; `coef()` the estimates; `confint()` intervals at any level (bootstrap
#' percentile intervals only at the fitted one); `vcov()` the variance of a single
#' estimate; `as.data.frame()` the Python result's table; `plot()` the estimates with
#' their intervals (for a hazard ratio: the weighted Kaplan-Meier curves of the
#' matched sample). For a hazard ratio `coef()`, `confint()` and `vcov()` are on the
#' log scale, as for `survival::coxph()`.
#'
#' @param x,object A result of [estimate_effect()], [quantile_effect()] or
#'   [hazard_ratio()].
#' @param parm Which estimates (names or positions); default all.
#' @param level Confidence level; default the fitted one (`1 - alpha`).
#' @param type For a hazard ratio: `"survival"` (curves) or `"estimate"`.
#' @param ... Passed on to the graphics functions, or ignored.
#' @return `coef()`: a named vector; `confint()`: a matrix with one row per estimate;
#'   `vcov()`: a 1 x 1 matrix; `as.data.frame()`: a data.frame; `summary()`: an object
#'   whose `coefficients` element is the table it prints (estimate, standard error,
#'   z value, p-value) and `conf_int` the intervals; `plot()`: `x`, invisibly.
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' fit <- estimate_effect(lalonde, "treat", "re78", c("age", "educ", "re74", "re75"))
#' summary(fit)
#' confint(fit, level = 0.99)
#' vcov(fit)
#' as.data.frame(fit)
#' plot(fit)
#' @name causalsm-methods
NULL

#' @rdname causalsm-methods
#' @export
print.causalsm_result <- function(x, ...) {
  cat(x$summary_text, "\n", sep = "")
  invisible(x)
}

#' @rdname causalsm-methods
#' @export
summary.causalsm_result <- function(object, ...) {
  est <- object$coefficients
  se <- object$std_error
  ci <- confint(object)
  coefs <- cbind(Estimate = est, `Std. Error` = se, `z value` = est / se,
                 `Pr(>|z|)` = object$p_value)
  structure(list(coefficients = coefs, conf_int = ci, estimand = object$estimand,
                 method = object$method, variance = object$variance,
                 log_scale = object$log_scale, fields = object$fields,
                 call = object$call),
            class = "summary.causalsm_result")
}

#' @export
print.summary.causalsm_result <- function(x, digits = max(3L, getOption("digits") - 3L),
                                          ...) {
  f <- x$fields
  cat("Call:\n", paste(deparse(x$call), collapse = "\n"), "\n\n", sep = "")
  cat("Estimand: ", x$estimand, if (x$log_scale) " (log hazard ratio)", "\n",
      "Method:   ", x$method, "\n", "Variance: ", x$variance, "\n", sep = "")
  if (!is.null(f$n_treated)) {
    cat("Units:    ", f$n_treated, " treated, ", f$n_control, " control; ",
        f$n_matched, " matched, ", f$n_dropped, " dropped\n", sep = "")
  }
  cat("\n")
  stats::printCoefmat(x$coefficients, digits = digits, P.values = TRUE,
                      has.Pvalue = TRUE)
  cat("\nConfidence interval", if (nrow(x$conf_int) > 1) "s", ":\n", sep = "")
  print(x$conf_int, digits = digits)
  if (x$log_scale) {
    cat("\nHazard ratio: ", format(exp(x$coefficients[1, 1]), digits = digits), " [",
        paste(format(exp(x$conf_int[1, ]), digits = digits), collapse = ", "),
        "]\n", sep = "")
  }
  invisible(x)
}

#' @rdname causalsm-methods
#' @export
coef.causalsm_result <- function(object, ...) object$coefficients

#' @rdname causalsm-methods
#' @export
confint.causalsm_result <- function(object, parm, level = NULL, ...) {
  fitted <- 1 - object$alpha
  if (is.null(level) || abs(level - fitted) < 1e-12) {
    ci <- object$conf_int
    level <- fitted
  } else {
    if (!is.numeric(level) || length(level) != 1L || level <= 0 || level >= 1) {
      stop("`level` must be one number in (0, 1)", call. = FALSE)
    }
    rows <- reticulate::py_to_r(py_call(py_modules()$bridge$conf_int, object$py,
                                        1 - level))
    ci <- do.call(rbind, lapply(rows, as.numeric))
    if (object$log_scale) ci <- log(ci)
  }
  ci <- matrix(ci, ncol = 2L, dimnames = list(names(object$coefficients),
                                              format_level(level)))
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @rdname causalsm-methods
#' @export
vcov.causalsm_result <- function(object, ...) {
  if (length(object$coefficients) != 1L) {
    stop("no covariance of the ", length(object$coefficients), " estimates is ",
         "reported (only their standard errors, in `std_error`)", call. = FALSE)
  }
  matrix(object$std_error^2, 1L, 1L,
         dimnames = list(names(object$coefficients), names(object$coefficients)))
}

#' @rdname causalsm-methods
#' @export
as.data.frame.causalsm_result <- function(x, ...) x$table

#' @rdname causalsm-methods
#' @export
plot.causalsm_result <- function(x, ...) {
  est <- x$coefficients
  ci <- confint(x)
  null <- 0
  if (x$log_scale) {
    est <- exp(est)
    ci <- exp(ci)
    null <- 1
  }
  k <- length(est)
  graphics::plot(est, seq_len(k), xlim = range(ci, null, na.rm = TRUE),
                 ylim = c(0.5, k + 0.5), yaxt = "n", pch = 19,
                 log = if (x$log_scale) "x" else "",
                 xlab = paste0(if (x$log_scale) "hazard ratio" else "estimate", " (",
                               round(100 * (1 - x$alpha)), "% interval)"),
                 ylab = "", main = paste(x$estimand, "-", x$method), ...)
  graphics::segments(ci[, 1], seq_len(k), ci[, 2], seq_len(k))
  graphics::abline(v = null, lty = 2, col = "grey50")
  graphics::axis(2, at = seq_len(k), labels = names(est), las = 1)
  invisible(x)
}

#' @rdname causalsm-methods
#' @export
plot.causalsm_hazard <- function(x, type = c("survival", "estimate"), ...) {
  type <- match.arg(type)
  s <- x$survival
  if (type == "estimate" || is.null(s)) return(plot.causalsm_result(x, ...))
  graphics::plot(NULL, xlim = c(0, s$horizon), ylim = c(0, 1),
                 xlab = "time", ylab = "survival (matched, weighted)",
                 main = sprintf("Hazard ratio %.3g [%.3g, %.3g]", exp(x$coefficients),
                                exp(x$conf_int[1]), exp(x$conf_int[2])), ...)
  arms <- c("control", "treated")
  colours <- c("grey40", "firebrick")
  for (j in 1:2) {
    curve <- s[[arms[j]]]
    graphics::lines(unlist(curve$time), unlist(curve$survival), type = "s",
                    col = colours[j], lwd = 2)
  }
  graphics::legend("bottomleft", arms, col = colours, lwd = 2, bty = "n")
  invisible(x)
}

# The weighted Kaplan-Meier curve from time 0 (Python's weighted_km, as the matched
# sample's curves of plot()).
km_curve <- function(time, event, weight) {
  curve <- reticulate::py_to_r(py_modules()$bridge$km_curve(
    as.list(as.numeric(time)), as.list(as.numeric(event)), as.list(as.numeric(weight))))
  list(time = as.numeric(unlist(curve$time)), survival = as.numeric(unlist(curve$survival)))
}

# ------------------------------------------------------------------ comparisons
#' Methods for comparison tables
#'
#' @param x,object A [compare()] table.
#' @param parm Which methods (names or positions); default all.
#' @param level Confidence level; the fitted intervals at the default, Wald intervals
#'   from the standard errors at another.
#' @param ... Passed on to the graphics functions, or ignored.
#' @return `print()`: `x`, invisibly (the main columns; `as.data.frame()` has all of
#'   them); `coef()`: the estimates named by method; `confint()`: a matrix; `plot()`:
#'   `x`, invisibly (the estimates with their intervals, one line per method).
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' tab <- compare(lalonde, "treat", "re78", c("age", "educ", "re74", "re75"),
#'                methods = c("psm", "mahalanobis"))
#' tab
#' coef(tab)
#' confint(tab)
#' plot(tab)
#' @name comparison-methods
NULL

#' @rdname comparison-methods
#' @export
print.causalsm_comparison <- function(x, ...) {
  main <- intersect(c("method", "estimate", "std_error", "ci_lower", "ci_upper", "p_value",
                      "max_abs_smd", "evalue", "n_matched", "error"), names(x))
  main <- main[!vapply(x[main], function(v) all(is.na(v) | v %in% ""), TRUE)]
  cat("Comparison of ", nrow(x), " methods (", x$estimand[1], ")\n", sep = "")
  print(as.data.frame(unclass(x)[main], check.names = FALSE), ...)
  rest <- setdiff(names(x), main)
  if (length(rest)) {
    cat("Other columns (as.data.frame() shows all): ", paste(rest, collapse = ", "), "\n",
        sep = "")
  }
  invisible(x)
}

#' @rdname comparison-methods
#' @export
coef.causalsm_comparison <- function(object, ...) {
  stats::setNames(object$estimate, object$method)
}

#' @rdname comparison-methods
#' @export
confint.causalsm_comparison <- function(object, parm, level = NULL, ...) {
  fitted <- 1 - attr(object, "alpha")
  if (is.null(level) || abs(level - fitted) < 1e-12) {
    ci <- cbind(object$ci_lower, object$ci_upper)
    level <- fitted
  } else {
    z <- stats::qnorm(1 - (1 - level) / 2)
    ci <- cbind(object$estimate - z * object$std_error, object$estimate + z * object$std_error)
  }
  dimnames(ci) <- list(object$method, format_level(level))
  if (!missing(parm)) ci <- ci[parm, , drop = FALSE]
  ci
}

#' @rdname comparison-methods
#' @export
plot.causalsm_comparison <- function(x, ...) {
  k <- nrow(x)
  ci <- confint(x)
  graphics::plot(x$estimate, rev(seq_len(k)), xlim = range(ci, x$estimate, na.rm = TRUE),
                 ylim = c(0.5, k + 0.5), yaxt = "n", pch = 19, ylab = "",
                 xlab = paste0("estimate (", round(100 * (1 - attr(x, "alpha"))),
                               "% interval)"),
                 main = paste("Comparison of methods:", x$estimand[1]), ...)
  graphics::segments(ci[, 1], rev(seq_len(k)), ci[, 2], rev(seq_len(k)))
  graphics::axis(2, at = rev(seq_len(k)), labels = x$method, las = 1)
  invisible(x)
}

# -------------------------------------------------------------------- matching
#' Methods for matched designs and balance tables
#'
#' `print()` shows the design in a few lines, `summary()` its balance table,
#' `as.data.frame()` the matched rows of the data with a `weights` column (as
#' `MatchIt::match.data()`), and `plot()` the love plot: the absolute standardised
#' mean difference of each covariate before and after matching.
#'
#' @param x,object A [match_units()] result or a [balance()] table.
#' @param threshold Where the love plot draws its reference line.
#' @param ... Passed on to the graphics functions, or ignored.
#' @return `summary()`: the `causalsm_balance` table; `as.data.frame()`: a data.frame;
#'   `print()` and `plot()`: `x`, invisibly.
#' @examplesIf causalsm_available()
#' lalonde <- causalsm_data("lalonde")
#' m <- match_units(lalonde, "treat", c("age", "educ", "re74", "re75"))
#' m
#' plot(m)
#' matched <- as.data.frame(m)
#' @name match-methods
NULL

#' @rdname match-methods
#' @export
print.causalsm_match <- function(x, ...) {
  n1 <- sum(x$treated)
  cat("Matching on ", x$score_name, " (", ncol(x$score), " column",
      if (ncol(x$score) > 1) "s", "), estimand ", x$estimand, "\n", sep = "")
  cat(n1, " treated, ", length(x$treated) - n1, " control; ", x$n_matched,
      " matched, ", x$n_dropped, " dropped; ", sum(x$weights > 0),
      " units with positive weight\n", sep = "")
  smd <- x$balance$smd_after
  cat("Largest absolute SMD after matching: ", format(max(abs(smd), na.rm = TRUE),
                                                      digits = 3), "\n", sep = "")
  invisible(x)
}

#' @rdname match-methods
#' @export
summary.causalsm_match <- function(object, ...) object$balance

#' @rdname match-methods
#' @export
as.data.frame.causalsm_match <- function(x, ...) {
  keep <- x$weights > 0
  out <- x$data[keep, , drop = FALSE]
  out$weights <- x$weights[keep]
  out
}

#' @rdname match-methods
#' @export
plot.causalsm_match <- function(x, threshold = 0.1, ...) {
  plot(x$balance, threshold, ...)
  invisible(x)
}

#' @rdname match-methods
#' @export
plot.causalsm_balance <- function(x, threshold = 0.1, ...) {
  before <- abs(x$smd_before)
  after <- abs(x$smd_after)
  k <- nrow(x)
  y <- rev(seq_len(k))
  graphics::plot(before, y, xlim = c(0, max(before, after, threshold, na.rm = TRUE)),
                 ylim = c(0.5, k + 0.5), yaxt = "n", pch = 1, ylab = "",
                 xlab = "absolute standardised mean difference",
                 main = "Covariate balance", ...)
  graphics::points(after, y, pch = 19)
  graphics::axis(2, at = y, labels = rownames(x), las = 1)
  if (!is.null(threshold)) graphics::abline(v = threshold, lty = 2, col = "grey50")
  graphics::legend("bottomright", c("before", "after"), pch = c(1, 19), bty = "n")
  invisible(x)
}
