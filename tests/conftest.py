"""Shared fixtures: the devices to test on (CUDA only when a GPU is present)."""

import pytest
import torch

import myops  # noqa: F401  (loads libmyops.so once for the whole session)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_generate_tests(metafunc):
    if "device" in metafunc.fixturenames:
        metafunc.parametrize("device", DEVICES)


@pytest.fixture(autouse=True)
def _reset_dynamo():
    yield
    torch._dynamo.reset()


@pytest.fixture(autouse=True)
def _seed():
    """The same random samples in every run (and in every pytest-xdist worker), so that a
    result is reproducible: samples are drawn with make_tensor/randn when a test asks for them."""
    torch.manual_seed(0)
