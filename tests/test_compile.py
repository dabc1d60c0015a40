"""torch.compile(fullgraph=True): static and dynamic shapes, forward and backward, no graph
break and no recompile across sizes. Broad coverage with backend="aot_eager" (it runs the
whole AOTAutograd + functionalization path without generating C++), plus a few end-to-end
inductor tests (each compiles C++ on the CPU, seconds apiece)."""

import pytest
import torch
from torch._dynamo.testing import CompileCounterWithBackend

from helpers import user_call
from op_db import OPS, as_tuple, clone_args, get_sample


def _params(ops=OPS):
    return [pytest.param(op, s, id=f"{op.name}-{s}") for op in ops for s in op.compile_samples]


def _expected(op, args):
    return user_call(op)(*clone_args(args))


@pytest.mark.parametrize("op, sample_name", _params())
@pytest.mark.parametrize("dynamic", [False, True], ids=["static", "dynamic"])
def test_compile_forward(device, op, sample_name, dynamic):
    sample = get_sample(op, device, torch.float32, sample_name)
    expected = _expected(op, sample.args)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(user_call(op), backend=counter, fullgraph=True, dynamic=dynamic)
    torch.testing.assert_close(compiled(*sample.args), expected)  # fullgraph: no graph break
    assert any("torch.ops.myops" in g.code for g in counter.graphs)


@pytest.mark.parametrize("op", [op for op in OPS if op.resizable_args is not None], ids=str)
def test_compile_backward_dynamic_no_recompile(device, op):
    counter = CompileCounterWithBackend("aot_eager")
    fn = torch.compile(user_call(op), backend=counter, fullgraph=True, dynamic=True)
    frames_after_first_size = None
    for n in (5, 9, 17):
        args = op.resizable_args(device, n)
        ref_args = clone_args(args)
        out = fn(*args)
        ref = op.ref(*ref_args)
        grads = [torch.randn_like(r) for r in as_tuple(ref)]  # one per output
        torch.autograd.backward(as_tuple(out), grads)
        torch.autograd.backward(as_tuple(ref), grads)
        torch.testing.assert_close(out, ref)
        for x, rx in zip(args, ref_args):
            if isinstance(x, torch.Tensor) and x.requires_grad:
                torch.testing.assert_close(x.grad, rx.grad)
        # (The first call may count 2 frames: dynamo restarts once to specialize a float arg.)
        frames_after_first_size = frames_after_first_size or counter.frame_count
    assert counter.frame_count == frames_after_first_size, "a new size recompiled the graph"


def test_compile_add_out_dynamic_no_recompile(device):
    counter = CompileCounterWithBackend("aot_eager")

    def fn(a, b, out):
        torch.ops.myops.add_out(a, b, out)
        return out * 2

    compiled = torch.compile(fn, backend=counter, fullgraph=True, dynamic=True)
    for n in (3, 6, 11):
        a, b = torch.randn(n, 4, device=device), torch.randn(4, device=device)
        out = torch.empty(n, 4, device=device)
        torch.testing.assert_close(compiled(a, b, out), (a + b) * 2)
        torch.testing.assert_close(out, a + b)  # the mutation reached the caller's tensor
    assert counter.frame_count == 1


def test_graph_calls_the_op_by_name(device):
    """The compiled graph keeps myops.muladd as one node (nothing decomposed it)."""
    from torch._dynamo.testing import EagerAndRecordGraphs
    backend = EagerAndRecordGraphs()
    torch.compile(lambda a, b: torch.ops.myops.muladd(a, b, 1.0) * 2, backend=backend, fullgraph=True)(
        torch.randn(3, device=device), torch.randn(3, device=device))
    assert "torch.ops.myops.muladd(" in backend.graphs[0].code


# ---------------------------------------------------------------- end-to-end inductor (slow)

@pytest.mark.parametrize("op_name", ["muladd", "add_out"])
def test_inductor_end_to_end(device, op_name):
    op = next(o for o in OPS if o.name == op_name)
    sample = get_sample(op, device, torch.float32, "broadcast_row")
    expected = _expected(op, sample.args)
    compiled = torch.compile(user_call(op), backend="inductor", fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(*sample.args), expected)


def test_inductor_forward_backward(device):
    def block(a, b):
        return torch.ops.myops.muladd(a, b, 0.5).relu().sum()
    a = torch.randn(16, 8, device=device, requires_grad=True)
    b = torch.randn(8, device=device, requires_grad=True)
    ra, rb = a.detach().requires_grad_(), b.detach().requires_grad_()
    torch.compile(block, backend="inductor", fullgraph=True)(a, b).backward()
    (ra * rb + 0.5).relu().sum().backward()
    torch.testing.assert_close(a.grad, ra.grad)
    torch.testing.assert_close(b.grad, rb.grad)
