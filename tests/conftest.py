"""Fixtures shared by the test modules."""

import pytest


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
