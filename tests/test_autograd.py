"""gradcheck and gradgradcheck in float64 on every sample of every differentiable op, and
gradients equal to autograd through the reference."""

import pytest
import torch

from op_db import OPS, as_tuple, clone_args, get_sample, sample_params

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
    the reference, for every layout including expanded inputs and mixed dtypes."""
    sample = get_sample(op, device, dtype, sample_name, requires_grad=True)
    ref_args = clone_args(sample.args)
    outs = as_tuple(op.op(*sample.args))
    ref_outs = as_tuple(op.ref(*ref_args))
    grads = [torch.randn_like(r) for r in ref_outs]  # one per output: every output's path is checked
    # Only the inputs that require grad: an op may take tensors it is not differentiable in
    # (upfirdn2d's filter), and autograd.grad rejects those.
    inputs = [a for a in sample.args if isinstance(a, torch.Tensor) and a.requires_grad]
    ref_inputs = [a for a in ref_args if isinstance(a, torch.Tensor) and a.requires_grad]
    if all(o.numel() == 0 for o in outs):
        return
    got = torch.autograd.grad(outs, inputs, grads)
    want = torch.autograd.grad(ref_outs, ref_inputs, grads)
    for g, w, x in zip(got, want, inputs):
        assert g.dtype == x.dtype and g.shape == x.shape and g.device == x.device
        atol, rtol = op.tolerances[g.dtype]
        torch.testing.assert_close(g.double(), w.double(), atol=atol * 10, rtol=rtol * 10)
