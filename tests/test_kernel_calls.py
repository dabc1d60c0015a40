"""The pointwise ops' CPU kernels make no dispatcher call of their own on the common path: their
outputs come straight from the CPU allocator (ops/common/output.h), not through aten::empty,
one input dtype needs no aten::result_type, and the views a kernel makes of its own inputs
(bias_act's b along x, lltm's gate columns) are not aten::as_strided / aten::narrow calls
(ops/common/operand_view.h). Such calls cost ~0.1 us each, a tenth of a small op's whole call
(docs/performance.md, "Outputs without the dispatcher"). The profiler records every dispatcher
call, nested ones included, so it sees any that come back."""

import pytest
import torch
from torch.profiler import profile

import myops

DTYPES = [torch.float32, torch.float64, torch.float16, torch.bfloat16]


def _dispatcher_calls(fn):
    with profile() as prof:
        fn()
    return [event.name for event in prof.events()]


def _inputs(dtype, channels_last=False):
    x = torch.randn(2, 3, 4, 5).to(dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    return x, torch.randn(3, 1, 1).to(dtype), torch.randn(3).to(dtype)


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_elementwise_ops_call_nothing_else(dtype, channels_last):
    x, y, _ = _inputs(dtype, channels_last)
    out = torch.empty_like(x)
    cases = {
        "mul": lambda: myops.mul(x, y),
        "add": lambda: myops.add(x, y),
        "muladd": lambda: myops.muladd(x, y, 0.5),
        "add_out": lambda: myops.add_out(x, y, out),
    }
    for name, fn in cases.items():
        assert _dispatcher_calls(fn) == [f"myops::{name}"], name


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_mixed_dtypes_ask_result_type(dtype):
    # The promotion rule is ATen's own (0-dim tensors, categories): asked, not re-implemented.
    x, y, _ = _inputs(dtype)
    other = torch.float64 if dtype != torch.float64 else torch.float32
    assert "aten::result_type" in _dispatcher_calls(lambda: myops.mul(x, y.to(other)))


@pytest.mark.parametrize("channels_last", [False, True], ids=["contiguous", "channels_last"])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_bias_act_calls_nothing_else(dtype, channels_last):
    x, _, b = _inputs(dtype, channels_last)
    grad = torch.randn_like(x)
    backward = torch.ops.myops.bias_act_backward
    cases = {
        "bias_act": [lambda: myops.bias_act(x, b, act="lrelu"), lambda: myops.bias_act(x, None, act="swish")],
        "bias_act_backward": [lambda: backward(grad, x, b, 1, "lrelu", None, None, None, 1),
                              lambda: backward(grad, x, None, 1, "swish", None, None, None, 2)],
    }
    for name, fns in cases.items():
        for fn in fns:
            assert _dispatcher_calls(fn) == [f"myops::{name}"], name


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_lltm_cell_ops_call_nothing_else(dtype):
    batch, state = 3, 5
    pre_gates, d_gates = (torch.randn(batch, 3 * state).to(dtype) for _ in range(2))
    old_cell, grad_h, grad_cell, grad_old_cell = (torch.randn(batch, state).to(dtype) for _ in range(4))
    ops = torch.ops.myops
    cases = {
        "lltm_cell": lambda: ops.lltm_cell(pre_gates, old_cell),
        "lltm_cell_backward": lambda: ops.lltm_cell_backward(grad_h, grad_cell, pre_gates, old_cell),
        "lltm_cell_double_backward": lambda: ops.lltm_cell_double_backward(
            d_gates, grad_old_cell, grad_h, grad_cell, pre_gates, old_cell),
    }
    for name, fn in cases.items():
        assert _dispatcher_calls(fn) == [f"myops::{name}"], name
