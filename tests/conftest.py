"""Shared test fixtures."""

import pytest


@pytest.fixture(scope="session")
def dask_client():
    """A ``distributed.Client`` on a LocalCluster of 2 worker processes, 1 thread each,
    Numba single-threaded, no dashboard; started once, on first use."""
    distributed = pytest.importorskip("distributed")
    import logging

    import dask

    with dask.config.set({"distributed.scheduler.allowed-failures": 0}):
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
            silence_logs=logging.ERROR, env={"NUMBA_NUM_THREADS": "1"},
            scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"})
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()
