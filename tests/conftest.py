"""Fixtures shared by the test modules."""

import os
import shutil
import subprocess

import pytest


def pytest_addoption(parser):
    parser.addoption("--runslow", action="store_true", default=False,
                     help="also run the tests marked slow (long simulations, large data, "
                          "the README's main job); CI runs them")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--runslow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --runslow")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="module")
def client():
    """A Dask LocalCluster of two single-thread worker processes, for one test module
    (closed at its end, so that later modules run without it)."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    cl = distributed.Client(cluster)
    yield cl
    cl.close()
    cluster.close()


@pytest.fixture(scope="session")
def unavailable():
    """``unavailable(problem)``: skip a test whose tool is missing on a developer's
    machine, but fail it when ``CI`` is set: ``.ci/run`` installs the tool, so a missing
    one there is a broken CI, not a reason to skip."""
    def unavailable(problem: str):
        if os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no"):
            pytest.fail(f"{problem}; .ci/run installs it, and CI is set, so this test fails "
                        "instead of skipping")
        pytest.skip(problem)
    return unavailable


@pytest.fixture(scope="session")
def rscript_with(unavailable):
    """``rscript_with(*packages)``: the path of ``Rscript`` once R and these R packages
    load (else :func:`unavailable`)."""
    def rscript_with(*packages: str) -> str:
        path = shutil.which("Rscript")
        if path is None:
            unavailable("Rscript is not installed (apt-get install r-base-core)")
        probe = subprocess.run([path, "-e", "; ".join(f"library({p})" for p in packages)],
                               capture_output=True, text=True, timeout=300)
        if probe.returncode != 0:
            unavailable(f"the R packages {', '.join(packages)} are needed: "
                        f"{probe.stderr[-300:]}")
        return path
    return rscript_with
