"""gradcheck and gradgradcheck in float64 on every sample of every differentiable op, and
gradients equal to autograd through the reference."""

import pytest
import torch

from helpers import check_grads
from op_db import OPS, get_sample, sample_params

DIFFERENTIABLE = [op for op in OPS if op.differentiable]


def _grad_params(ops):
    return sample_params(ops, dtypes=(torch.float64,), requires_grad=True)


def _skip_unless_gradcheckable(sample):
    if sample.has_overlapping_input():
        pytest.skip("gradcheck cannot perturb expanded (0-stride) inputs; covered by test_grad_matches_reference")
    if any(t.dtype != torch.float64 for t in sample.tensors()):
        pytest.skip("mixed-dtype sample: gradcheck needs float64 throughout; covered by test_grad_matches_reference")


@pytest.mark.parametrize("op, dtype, sample_name", _grad_params(DIFFERENTIABLE))
def test_gradcheck(device, op, dtype, sample_name):
    sample = get_sample(op, device, dtype, sample_name, requires_grad=True)
    _skip_unless_gradcheckable(sample)
    torch.autograd.gradcheck(op.op, sample.args)


@pytest.mark.parametrize("op, dtype, sample_name", _grad_params([op for op in OPS if op.twice_differentiable]))
def test_gradgradcheck(device, op, dtype, sample_name):
    sample = get_sample(op, device, dtype, sample_name, requires_grad=True)
    _skip_unless_gradcheckable(sample)
    torch.autograd.gradgradcheck(op.op, sample.args)


@pytest.mark.parametrize("op, dtype, sample_name",
                         sample_params(DIFFERENTIABLE, dtypes=(torch.float32, torch.float16), requires_grad=True))
def test_grad_matches_reference(device, op, dtype, sample_name):
    """Gradients (reduced over broadcast dims, in each input's dtype) equal autograd through
    the reference evaluated in float64, for every layout including expanded inputs and mixed
    dtypes (a broadcast half-precision input may match the reference in its own dtype instead:
    helpers.check_grads)."""
    check_grads(op, get_sample(op, device, dtype, sample_name, requires_grad=True), wide=True)
