"""Bundled example data sets for causal-inference benchmarks."""

from causalsm.datasets.lalonde import NSWBenchmark, load_lalonde, nsw_benchmark

__all__ = [
    "NSWBenchmark",
    "load_lalonde",
    "nsw_benchmark",
]
