#!/usr/bin/env Rscript
# Calling causalsm from R through reticulate.
#
#   Rscript examples/r/causalsm_from_r.R [output-folder]
#
# Runs on R data.frames: the Lalonde (NSW) job-training data with R types (a factor
# treatment, logical and integer covariates, a three-level factor), and the Rossi
# recidivism data for a hazard ratio.  It estimates the ATT by propensity-score
# matching and by neural score matching, compares methods side by side, estimates
# quantile effects and a marginal hazard ratio, brings every result back as an R
# data.frame or number, and saves plots as PNG files in the output folder
# (default "causalsm-r-output").  The last line it prints is
#   CAUSALSM_RESULTS {json}
# with the key numbers, for tests (tests/test_r_interface.py compares them with the
# same analysis run in Python).
#
# Environment:
#   CAUSALSM_PYTHON  the Python that has causalsm (else RETICULATE_PYTHON, else
#                    reticulate's own choice: a virtualenv "r-reticulate", ...)
#   CAUSALSM_FAST=1  small settings (few training epochs and bootstrap replicates)

suppressPackageStartupMessages(library(reticulate))

python <- Sys.getenv("CAUSALSM_PYTHON", Sys.getenv("RETICULATE_PYTHON", ""))
if (nzchar(python)) use_python(python, required = TRUE)
Sys.setenv(MPLBACKEND = "Agg")                 # draw plots to files, no window
fast <- identical(Sys.getenv("CAUSALSM_FAST"), "1")
args <- commandArgs(trailingOnly = TRUE)
out_dir <- if (length(args) >= 1) args[[1]] else "causalsm-r-output"
dir.create(out_dir, showWarnings = FALSE, recursive = TRUE)

# convert = FALSE: results stay Python objects until we ask for R values.  (With
# reticulate 1.28 and NumPy 2, py_to_r() of a pandas DataFrame gives a broken
# data.frame, so tables come back through as_r_frame() below.)
csm <- import("causalsm", convert = FALSE)
plt <- import("matplotlib.pyplot", convert = FALSE)

# ---------------------------------------------------------------- helpers
# A pandas DataFrame as an R data.frame of plain numeric, integer, logical and
# character columns (through a dict of lists, which every reticulate converts).
as_r_frame <- function(df, row_names = FALSE) {
  cols <- py_to_r(df$to_dict(orient = "list"))
  cols <- lapply(cols, function(v) {
    if (is.list(v)) v <- unlist(lapply(v, function(e) if (is.null(e)) NA else e))
    v
  })
  out <- as.data.frame(cols, stringsAsFactors = FALSE, check.names = FALSE)
  if (row_names) rownames(out) <- py_to_r(df$index$astype("str")$tolist())
  out
}
# A result object (EffectResult, QuantileEffectResult, HazardRatioResult) as a list
# of plain R values, and its one-table form as a data.frame.
as_r_list <- function(result) py_to_r(result$to_dict())
as_r_table <- function(result) as_r_frame(result$to_frame())
save_plot <- function(file) {
  path <- file.path(out_dir, file)
  plt$gcf()$savefig(path, dpi = 100L, bbox_inches = "tight")
  plt$close("all")
  path
}

# ---------------------------------------------------------------- Lalonde, as R data
lalonde <- as_r_frame(csm$datasets$load_lalonde())   # 185 treated, 260 NSW controls
lalonde <- within(lalonde, {
  # a factor treatment: the second level is the treated one (as in glm)
  group <- factor(ifelse(treat == 1, "treated", "control"), levels = c("control", "treated"))
  race <- factor(ifelse(black == 1, "black", ifelse(hisp == 1, "hispanic", "other")),
                 levels = c("other", "black", "hispanic"))
  married <- married == 1                          # logical
  nodegr <- nodegr == 1                            # logical
  age <- as.integer(age)
  educ <- as.integer(educ)
})
# race becomes the 0/1 columns race[black] and race[hispanic]: the same design as
# the dummies black and hisp in Python.
covariates <- c("age", "educ", "race", "married", "nodegr", "re74", "re75")
stopifnot(!anyNA(lalonde[c("group", "re78", covariates)]))   # NA in a logical arrives as TRUE

# 1. propensity-score matching (logistic score, 1 neighbour, Abadie-Imbens variance)
psm <- csm$estimate_effect(lalonde, treatment = "group", outcome = "re78",
                           covariates = covariates, score = "propensity",
                           estimand = "ATT", n_neighbors = 1)
psm_row <- as_r_table(psm)
print(psm_row)
print(psm$summary())          # a Summary: the text here, a table in a notebook
cat("\n")

# 2. neural score matching: a 5-d balancing score learnt by a network (torch)
epochs <- if (fast) 20 else 200
nsm_score <- csm$NeuralBalancingScore(dim = 5, epochs = epochs, random_state = 0)
nsm <- csm$estimate_effect(lalonde, treatment = "group", outcome = "re78",
                           covariates = covariates, score = nsm_score,
                           estimand = "ATT", random_state = 0)
nsm_row <- as_r_table(nsm)
print(nsm_row)

# balance and plots from the estimator behind PSM
est <- csm$MatchingEstimator(balancing_score= csm$PropensityScore(), estimand = "ATT")
# (a factor on its own arrives in Python as strings: pass it inside a data.frame)
invisible(est$fit(lalonde[covariates], lalonde["group"], lalonde$re78))
balance <- as_r_frame(est$balance(), row_names = TRUE)
print(round(balance[c("smd_before", "smd_after")], 3))
invisible(csm$plotting$love_plot(est$balance()))
plots <- save_plot("love_plot.png")
invisible(csm$plotting$plot_score_overlap(est$balancing_score_$transform(lalonde[covariates]),
                                          as.integer(lalonde$group == "treated")))
plots <- c(plots, save_plot("score_overlap.png"))

# 3. several methods side by side: a tidy data.frame
methods <- if (fast) c("psm", "mahalanobis", "nsm") else NULL
comparison_py <- csm$compare(lalonde, treatment = "group", outcome = "re78",
                             covariates = covariates, methods = methods,
                             estimand = "ATT", random_state = 0,
                             neural_params = list(epochs = epochs))
comparison <- as_r_frame(comparison_py)
print(comparison[c("method", "estimate", "std_error", "ci_lower", "ci_upper")])
invisible(csm$plotting$plot_comparison(comparison_py))
plots <- c(plots, save_plot("comparison.png"))

# 4. quantile treatment effects (multiply robust matching, bootstrap SE)
n_bootstrap <- if (fast) 20 else 200
qte <- csm$quantile_effect(lalonde, treatment = "group", outcome = "re78",
                           covariates = covariates, quantiles = c(0.25, 0.5, 0.75),
                           estimand = "ATE", n_bootstrap = n_bootstrap, random_state = 0)
qte_table <- as_r_table(qte)
print(qte_table)

# 5. a marginal hazard ratio on the Rossi recidivism data (financial aid on arrest)
rossi <- as_r_frame(csm$datasets$load_rossi())
rossi <- within(rossi, {
  fin <- factor(ifelse(fin == 1, "aid", "none"), levels = c("none", "aid"))
  wexp <- wexp == 1
  mar <- mar == 1
  paro <- paro == 1
})
hr_bootstrap <- if (fast) 50 else 500
hr <- csm$hazard_ratio(rossi, treatment = "fin", duration = "week", event = "arrest",
                       covariates = c("age", "race", "wexp", "mar", "paro", "prio"),
                       score = "propensity", estimand = "ATE", random_state = 0,
                       n_bootstrap = hr_bootstrap)
hr_row <- as_r_table(hr)
print(hr_row[c("estimate", "std_error", "ci_lower", "ci_upper", "p_value")])
invisible(hr$plot_survival())
plots <- c(plots, save_plot("survival.png"))

# ---------------------------------------------------------------- machine-readable
pick <- function(row) as.list(row[c("estimate", "std_error", "ci_lower", "ci_upper",
                                    "n_matched")])
results <- list(
  settings = list(fast = fast, epochs = epochs, n_bootstrap = n_bootstrap,
                  hr_bootstrap = hr_bootstrap, covariates = covariates,
                  methods = if (is.null(methods)) NA else methods),
  psm = pick(psm_row),
  nsm = pick(nsm_row),
  compare = as.list(comparison[c("method", "estimate", "std_error")]),
  quantile = as.list(qte_table[c("quantile", "estimate", "std_error")]),
  hazard = as.list(hr_row[c("estimate", "std_error", "ci_lower", "ci_upper")]),
  plots = plots
)
cat("CAUSALSM_RESULTS", jsonlite::toJSON(results, digits = NA, auto_unbox = TRUE), "\n")
