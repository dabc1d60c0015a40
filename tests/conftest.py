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
