"""Learned tests run torch on one thread: on the shared 2-core test machine, OpenMP
threads spin-waiting for a busy core make forward passes up to 10x slower."""

import pytest


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    try:
        import torch
    except ImportError:
        yield
        return
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)
