# CausalGPS 0.5.1's matching step, timed: called by benchmarks/gps_matching_speed.py.
#
# usage: Rscript benchmarks/causalgps_speed.R DATA.csv SCALE OUT.json [LEVEL_INDICES]
#
# DATA.csv has columns id, w, cf1..cf6.  The normal GPS is estimated with sl_lib = "SL.lm"
# (not timed); then compute_counter_weight(ci_appr = "matching", delta_n = range / 50,
# scale = SCALE, nthread = 1) is timed on CausalGPS's default levels, or on the levels
# LEVEL_INDICES (comma-separated, 1-based) of that grid only.  OUT.json gets the seconds,
# the grid size, the levels used and the counts (by id).
suppressMessages({
  library(CausalGPS)
  library(data.table)
  library(jsonlite)
})
set_logger(logger_file_path = tempfile(fileext = ".log"), logger_level = "ERROR")
args <- commandArgs(trailingOnly = TRUE)
d <- as.data.frame(fread(args[1]))
scale <- as.numeric(args[2])
delta <- (max(d$w) - min(d$w)) / 50
grid <- seq(min(d$w) + delta / 2, max(d$w), by = delta)
bins <- if (length(args) >= 4) grid[as.integer(strsplit(args[4], ",")[[1]])] else NULL
gps <- suppressWarnings(estimate_gps(.data = d, .formula = w ~ cf1 + cf2 + cf3 + cf4 + cf5 + cf6,
                                     gps_density = "normal", sl_lib = c("SL.lm")))
t0 <- proc.time()[["elapsed"]]
cw <- suppressWarnings(compute_counter_weight(gps_obj = gps, ci_appr = "matching",
                                              bin_seq = bins, nthread = 1, delta_n = delta,
                                              dist_measure = "l1", scale = scale))
seconds <- proc.time()[["elapsed"]] - t0
counts <- cw$.data$counter_weight[order(cw$.data$id)]
write_json(list(seconds = seconds, n = nrow(d), scale = scale, delta_n = delta,
                n_grid = length(grid), levels_used = if (is.null(bins)) length(grid)
                else length(bins), counts = as.integer(counts),
                R = R.version.string,
                CausalGPS = as.character(packageVersion("CausalGPS"))),
           args[3], auto_unbox = TRUE, digits = NA)
