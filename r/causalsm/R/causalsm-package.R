#' causalsm: causal inference by matching on learned balancing scores
#'
#' The R front end of the causalsm Python library. [estimate_effect()],
#' [quantile_effect()], [hazard_ratio()] and [compare()] estimate effects;
#' [match_units()] and [balance()] give the design and its balance. Python is reached
#' through reticulate: [install_causalsm()] installs the Python package once.
#'
#' @keywords internal
#' @importFrom stats coef confint vcov
#' @importFrom graphics plot
"_PACKAGE"
