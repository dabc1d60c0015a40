"""Values, dtypes, shapes and memory formats against myops.reference, for every sample."""

import pytest
import torch

from helpers import check_values
from op_db import OPS, clone_args, get_sample, sample_params, samples


@pytest.mark.parametrize("op, dtype, sample_name", sample_params())
def test_values_match_reference(device, op, dtype, sample_name):
    check_values(op, get_sample(op, device, dtype, sample_name))


@pytest.mark.parametrize("op", [op for op in OPS if op.out_arg is None and op.memory_formats], ids=str)
def test_channels_last_in_channels_last_out(device, op):
    """Every sample whose name starts with "channels_last" gives a channels_last result."""
    cases = [s for s in samples(op, device, torch.float32) if s.name.startswith("channels_last")]
    assert cases, f"{op.name} has no channels_last sample"
    for sample in cases:
        result = op.op(*sample.args, **sample.kwargs)
        assert result.is_contiguous(memory_format=torch.channels_last), sample.name


@pytest.mark.parametrize("op", OPS, ids=str)
def test_python_wrapper_is_the_op(device, op):
    """myops.<name>(*args) gives what torch.ops.myops.<name> gives (first sample)."""
    sample = samples(op, device, torch.float32)[0]
    got = op.wrapper(*clone_args(sample.args))
    want = op.op(*clone_args(sample.args))
    if op.out_arg is not None:
        assert want is None
        want = op.ref(*clone_args(sample.args))
    torch.testing.assert_close(got, want)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_reduced_precision_is_computed_in_float(device, dtype):
    # a * b rounds in `dtype` (1 + 2^-8 + 3*2^-20 -> 1 + 2^-8), so a two-step a*b - 1 loses the
    # 3*2^-20 that one rounding at the end keeps: the op must round once, like the exact value.
    eps = torch.finfo(dtype).eps
    a = torch.full((100,), 1 + eps, dtype=dtype, device=device)  # 100: vector body + scalar tail
    b = torch.full((100,), 1 + 3 * eps, dtype=dtype, device=device)
    exact = (a.double() * b.double() - 1).to(dtype)
    two_roundings = a * b - 1
    assert not torch.equal(exact, two_roundings)  # the case really tells the two apart
    assert torch.equal(torch.ops.myops.muladd(a, b, -1.0), exact)


def test_add_out_in_place_aliases(device):
    a = torch.arange(6.0, device=device).view(2, 3)
    b = torch.ones(3, device=device)
    expected = a + b
    torch.ops.myops.add_out(a, b, a)
    torch.testing.assert_close(a, expected)


def test_add_out_accepts_inputs_that_require_grad(device):
    a = torch.randn(4, device=device, requires_grad=True)
    out = torch.empty(4, device=device)
    torch.ops.myops.add_out(a, a, out)
    torch.testing.assert_close(out, 2 * a.detach())
    assert not out.requires_grad
