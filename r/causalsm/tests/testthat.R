library(testthat)
library(causalsm)

test_check("causalsm")
