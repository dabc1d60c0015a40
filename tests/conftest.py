"""Shared fixtures and hooks: the devices to test on (CUDA only when a GPU is present), a
fresh dynamo and a fixed seed per test, vmap without functorch's fallback, the `large` marker,
and the summaries of the fuzzing and large-tensor tests."""

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


@pytest.fixture
def no_vmap_fallback():
    """functorch's for-loop fallback raises while a test runs, so that an op without a batching
    rule fails instead of silently taking the slow path (tests/test_vmap.py and
    tests/test_fuzz_vmap.py use it for every test: pytestmark)."""
    before = torch._C._functorch._is_vmap_fallback_enabled()
    torch._C._functorch._set_vmap_fallback_enabled(False)
    yield
    torch._C._functorch._set_vmap_fallback_enabled(before)


@pytest.fixture(autouse=True)
def _seed():
    """The same random samples in every run (and in every pytest-xdist worker), so that a
    result is reproducible: samples are drawn with make_tensor/randn when a test asks for them."""
    torch.manual_seed(0)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "large: tensors past 2^31 elements, GiBs of RAM (tests/test_large.py); skipped "
                   "unless MYOPS_LARGE=1, run by `make test-large`")


def pytest_terminal_summary(terminalreporter):
    """tests/test_fuzz.py's and tests/test_fuzz_vmap.py's examples per op (valid ones compared,
    gradients checked, errors raised as expected, empty batches), gathered from the reports (so
    also from pytest-xdist workers)."""
    rows = []
    for report in terminalreporter.stats.get("passed", []):
        if report.when != "call":
            continue
        for key, value in report.user_properties:
            if key == "fuzz_counts":
                rows.append(value)
    if rows:
        terminalreporter.write_sep("-", "fuzz examples per op")
        for name, counts in sorted(rows):
            total = sum(counts.values())
            detail = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
            terminalreporter.write_line(f"{name:<16} {total:>7} examples ({detail})")
    # tests/test_large.py's figures (recorded in its fixture's teardown, so in any report).
    large, outcome = {}, {}
    for reports in terminalreporter.stats.values():
        for report in reports:
            if getattr(report, "when", None) == "call":
                outcome[report.nodeid] = "xfailed" if hasattr(report, "wasxfail") else report.outcome
            for k, value in getattr(report, "user_properties", ()):
                if k == "large_stats":
                    large[report.nodeid] = value
    if large:
        terminalreporter.write_sep("-", "large tensors: time and peak RSS per test")
        for nodeid, (name, elapsed, peak, grown, elems) in large.items():
            terminalreporter.write_line(f"{name:<30} {outcome.get(nodeid, '?'):<8} {elapsed:7.1f} s  "
                                        f"peak RSS {peak:5.2f} GiB (+{grown:5.2f} GiB)  ELEMS={elems}")
