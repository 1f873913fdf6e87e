# Timing helper for benchmarks/matching_speed.py (R side).
#
# Usage:
#   Rscript matchit_speed.R matchit  DATA.csv replace(TRUE|FALSE) [SCALE [PAIRS_OUT.csv]]
#   Rscript matchit_speed.R matching DATA.csv [PAIRS_OUT.csv]
#
# DATA.csv has the columns treat (0/1), score (the matching score) and x1 (a
# covariate, only there because MatchIt's formula needs one).  Only the matchit()
# or Match() call is timed.  Prints one line per result, "key=value":
#   elapsed=<seconds> n_matched_treated=<int> n_pairs=<int> version=<pkg version>
# With PAIRS_OUT, writes the matched pairs (1-based row numbers: treated, control).
#
# SCALE (default 1) multiplies the score given to matchit() as `distance`.  The
# nearest neighbours are the same for any positive scale, but MatchIt 4.5.1's
# vector algorithm (nn_matchC_vec) compares the left and right candidate distances
# with an integer abs(), so it only picks the truly nearest control when the
# distances differ by 1 or more; a large SCALE (1e6) works around that.

args <- commandArgs(trailingOnly = TRUE)
what <- args[1]
path <- args[2]
d <- read.csv(path, colClasses = c(treat = "integer", score = "numeric", x1 = "numeric"))
rownames(d) <- as.character(seq_len(nrow(d)))

if (what == "matchit") {
  suppressPackageStartupMessages(library(MatchIt))
  replace <- as.logical(args[3])
  scale <- if (length(args) >= 4) as.numeric(args[4]) else 1
  out <- if (length(args) >= 5) args[5] else NA
  score <- d$score * scale
  gc()
  t0 <- proc.time()[["elapsed"]]
  m <- matchit(treat ~ x1, data = d, method = "nearest", distance = score,
               replace = replace, ratio = 1, m.order = "data")
  el <- proc.time()[["elapsed"]] - t0
  mm <- m$match.matrix
  ok <- !is.na(mm[, 1])
  cat(sprintf("elapsed=%.6f n_matched_treated=%d n_pairs=%d version=%s\n", el,
              sum(m$weights > 0 & m$treat == 1), sum(ok),
              as.character(packageVersion("MatchIt"))))
  if (!is.na(out)) {
    write.csv(data.frame(treated = as.integer(rownames(mm)[ok]),
                         control = as.integer(mm[ok, 1])),
              out, row.names = FALSE)
  }
} else if (what == "matching") {
  suppressPackageStartupMessages(library(Matching))
  out <- if (length(args) >= 3) args[3] else NA
  gc()
  t0 <- proc.time()[["elapsed"]]
  m <- Match(Tr = d$treat, X = d$score, estimand = "ATT", M = 1, replace = TRUE,
             ties = TRUE, version = "fast")
  el <- proc.time()[["elapsed"]] - t0
  cat(sprintf("elapsed=%.6f n_matched_treated=%d n_pairs=%d version=%s\n", el,
              length(unique(m$index.treated)), length(m$index.control),
              as.character(packageVersion("Matching"))))
  if (!is.na(out)) {
    write.csv(data.frame(treated = as.integer(m$index.treated),
                         control = as.integer(m$index.control)),
              out, row.names = FALSE)
  }
} else {
  stop("first argument must be 'matchit' or 'matching'")
}
