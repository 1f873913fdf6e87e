# Timing helper for benchmarks/designs_speed.py (R side): MatchIt 4.5.1 + optmatch 0.10.8.
#
# Usage:
#   Rscript designs_speed.R full     DATA.csv [CALIPER_RAW]
#   Rscript designs_speed.R optmatch DATA.csv CALIPER_RAW
#   Rscript designs_speed.R subclass DATA.csv
#   Rscript designs_speed.R cem      DATA.csv
#
# DATA.csv has the columns treat (0/1), score (the propensity score, matched on as
# MatchIt's `distance`) and x1..x5 (the covariates; CEM coarsens them).  Only the
# matchit() call is timed.  Prints "key=value" pairs on one line:
#   elapsed=<s> n_subclasses=<int> n_matched=<int> total_distance=<sum within sets>
# (total_distance only for full matching).  Full matching runs with MatchIt's defaults
# (optmatch's tol = 0.001, its LEMON solver since rrelaxiv is not on CRAN), with
# optmatch_max_problem_size = Inf as MatchIt sets it; a caliper, when given, is in raw
# score units (std.caliper = FALSE), as the Python side.

args <- commandArgs(trailingOnly = TRUE)
what <- args[1]
d <- read.csv(args[2])
suppressPackageStartupMessages({library(MatchIt); library(optmatch)})
f <- treat ~ x1 + x2 + x3 + x4 + x5
gc()
if (what %in% c("full", "optmatch")) {
  cal <- if (length(args) >= 3) as.numeric(args[3]) else NULL
  t0 <- proc.time()[["elapsed"]]
  if (what == "optmatch") {
    # optmatch directly, with the caliper as a sparse distance (match_on's caliper
    # argument): MatchIt builds the dense treated x control matrix before any caliper
    options(optmatch_max_problem_size = Inf)
    z <- d$treat; names(z) <- rownames(d)
    sc <- d$score; names(sc) <- rownames(d)
    fm <- fullmatch(match_on(sc, z = z, caliper = cal), data = d)
    el <- proc.time()[["elapsed"]] - t0
    s <- as.integer(factor(as.character(fm[rownames(d)])))
  } else {
    m <- if (is.null(cal)) matchit(f, data = d, method = "full", distance = d$score) else
      matchit(f, data = d, method = "full", distance = d$score, caliper = cal,
              std.caliper = FALSE)
    el <- proc.time()[["elapsed"]] - t0
    s <- as.integer(as.character(m$subclass))
  }
  ok <- !is.na(s)
  # total distance within sets: in a star one side has a single unit, so it is the sum of
  # |score_t - score_c| over the (treated, control) pairs of each set
  tot <- 0
  for (g in split(seq_len(nrow(d))[ok], s[ok])) {
    tr <- d$score[g][d$treat[g] == 1]; co <- d$score[g][d$treat[g] == 0]
    tot <- tot + sum(abs(outer(tr, co, "-")))
  }
  cat(sprintf("elapsed=%.6f n_subclasses=%d n_matched=%d total_distance=%.15g\n", el,
              length(unique(s[ok])), sum(ok), tot))
} else {
  t0 <- proc.time()[["elapsed"]]
  m <- if (what == "subclass") matchit(f, data = d, method = "subclass", distance = d$score)
       else matchit(f, data = d, method = "cem")
  el <- proc.time()[["elapsed"]] - t0
  s <- m$subclass
  cat(sprintf("elapsed=%.6f n_subclasses=%d n_matched=%d\n", el, nlevels(s),
              sum(!is.na(s))))
}
