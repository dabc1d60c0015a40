"""Thread-count independence on the CPU: every op on every sample (the large ones split their
work across threads) gives bit-identical results with torch.set_num_threads(1) and with 2
threads; so do the float32 gradients of differentiable ops. An op whose table entry opts out
of "threads_bitwise" (saying why) must give close results instead. Compares the op with
itself by design."""

import pytest
import torch

from helpers import call
from op_db import get_sample, sample_params, without
from opinfo import as_tuple, clone_args


def _large_params(ops, dtypes=None, requires_grad=False):
    return [pytest.param(op, dtype, s.name, id=f"{op.name}-{str(dtype)[6:]}-{s.name}")
            for op in ops for dtype in dtypes or op.dtypes for s in op.large_samples("cpu", dtype, requires_grad)]


def _sample(op, dtype, name, requires_grad=False):
    try:
        return get_sample(op, "cpu", dtype, name, requires_grad)
    except KeyError:
        return next(s for s in op.large_samples("cpu", dtype, requires_grad) if s.name == name)


def _with_threads(n, fn):
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(n)
        return fn()
    finally:
        torch.set_num_threads(before)


def _outputs(op, sample):
    return tuple(t.clone() for t in as_tuple(call(op, clone_args(sample.args), sample.kwargs)))


def _gradients(op, sample, grads):
    args = clone_args(sample.args)
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    outs = as_tuple(op.op(*args))
    return torch.autograd.grad(outs, inputs, grads) if outs[0].numel() else ()


def _assert_same(op, one, two):
    assert len(one) == len(two)
    for a, b in zip(one, two):
        if "threads_bitwise" in op.skips:
            torch.testing.assert_close(a, b)
        else:
            assert torch.equal(a, b)


OPS = without("threads")


@pytest.mark.parametrize("op, dtype, sample_name", sample_params(OPS) + _large_params(OPS))
def test_results_do_not_depend_on_thread_count(op, dtype, sample_name):
    sample = _sample(op, dtype, sample_name)
    one = _with_threads(1, lambda: _outputs(op, sample))
    two = _with_threads(2, lambda: _outputs(op, sample))
    _assert_same(op, one, two)


DIFFERENTIABLE = [op for op in OPS if op.differentiable]


@pytest.mark.parametrize("op, dtype, sample_name", sample_params(DIFFERENTIABLE, dtypes=(torch.float32,), requires_grad=True)
                         + _large_params(DIFFERENTIABLE, dtypes=(torch.float32,), requires_grad=True))
def test_gradients_do_not_depend_on_thread_count(op, dtype, sample_name):
    sample = _sample(op, dtype, sample_name, requires_grad=True)
    outs = as_tuple(op.op(*clone_args(sample.args)))
    grads = [torch.randn_like(o) for o in outs]
    one = _with_threads(1, lambda: _gradients(op, sample, grads))
    two = _with_threads(2, lambda: _gradients(op, sample, grads))
    _assert_same(op, one, two)
