"""CUDA graphs: every op is capture-safe (current stream, no host sync, allocations only through
the caching allocator). For each op of the table and each of its compile samples (float32, on
CUDA), forward + backward (differentiable ops: torch.autograd.grad with static output
gradients) is captured in a torch.cuda.CUDAGraph, then replayed twice with new values copied
into the static inputs; each replay equals eager on those values. And
torch.compile(mode="reduce-overhead") (inductor's CUDA graph trees) on one sample per op, three
calls with new inputs, forward + backward, equals eager and did not fall back from CUDA graphs
(except for a mutating op: inductor does not graph a function that mutates its inputs).

Skipped without a GPU; run by scripts/gpu_check.sh (its pytest-cuda step selects `-k cuda`)."""

from __future__ import annotations

import pytest
import torch

from helpers import user_call
from op_db import OPS, get_sample
from opinfo import as_tuple, clone_args

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="CUDA graphs need a CUDA device")

DTYPE = torch.float32


def _params(first_only=False):
    return [pytest.param(op, name, id=f"{op.name}-{name}") for op in OPS
            for name in (op.compile_samples[:1] if first_only else op.compile_samples)]


def _unique_tensors(args):
    seen, tensors = set(), []
    for a in args:
        if isinstance(a, torch.Tensor) and id(a) not in seen:
            seen.add(id(a))
            tensors.append(a)
    return tensors


def _new_values(t, gen):
    """t's values scaled elementwise by factors in [0.5, 1.5) (signs, and so the op's branches,
    mostly kept): different numbers with t's layout."""
    factor = torch.rand(t.shape, device=t.device, generator=gen, dtype=torch.float64) + 0.5
    return (t.detach().double() * factor).to(t.dtype)


def _refill(tensors, gen):
    """New values into the static tensors, in place (an expanded input, whose elements share
    memory, cannot be written elementwise: it keeps its values)."""
    with torch.no_grad():
        for t in tensors:
            if t.numel() and torch._debug_has_internal_overlap(t) == 0:
                t.copy_(_new_values(t, gen))


def _step(op, args, grad_outputs):
    """Forward (the `out` argument for a mutating op), then the gradients of a differentiable
    op's inputs that require grad."""
    outs = as_tuple(user_call(op)(*args))
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    grads = tuple(torch.autograd.grad(outs, inputs, grad_outputs)) if op.differentiable and inputs else ()
    return outs + grads


def _grad_outputs(op, args, gen):
    if not op.differentiable:
        return None
    outs = as_tuple(user_call(op)(*clone_args(args)))
    return [torch.randn(o.shape, device=o.device, generator=gen, dtype=torch.float64).to(o.dtype) for o in outs]


def _assert_equal_eager(op, got, args, grad_outputs, what):
    want = _step(op, clone_args(args), None if grad_outputs is None else [g.clone() for g in grad_outputs])
    assert len(got) == len(want)
    for i, (g, w) in enumerate(zip(got, want)):
        torch.testing.assert_close(g, w, msg=lambda m: f"{op.name}, {what}, result {i}: {m}")


@pytest.mark.parametrize("op, sample_name", _params())
def test_cuda_graph_capture_and_replay(op, sample_name):
    gen = torch.Generator(device="cuda").manual_seed(0)
    sample = get_sample(op, "cuda", DTYPE, sample_name, requires_grad=op.differentiable)
    args = sample.args                              # the static inputs
    grad_outputs = _grad_outputs(op, args, gen)     # static too
    static = _unique_tensors(args) + list(grad_outputs or ())

    # Warm up on a side stream (as torch.cuda.graphs' docs ask: lazy initializations, autograd's
    # stream bookkeeping), then capture.
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side):
        for _ in range(2):
            _step(op, args, grad_outputs)
    torch.cuda.current_stream().wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        results = _step(op, args, grad_outputs)

    for replay in range(2):
        _refill(static, gen)
        graph.replay()
        torch.cuda.synchronize()
        _assert_equal_eager(op, results, args, grad_outputs, f"replay {replay}")
    del graph


@pytest.mark.parametrize("op, sample_name", _params(first_only=True))
def test_cuda_compile_reduce_overhead(op, sample_name):
    from torch._dynamo.utils import counters

    gen = torch.Generator(device="cuda").manual_seed(0)
    sample = get_sample(op, "cuda", DTYPE, sample_name, requires_grad=op.differentiable)
    grad_outputs = _grad_outputs(op, sample.args, gen)
    compiled = torch.compile(user_call(op), mode="reduce-overhead", fullgraph=True)
    counters.clear()
    for call in range(3):   # warm-up, record, replay
        args = clone_args(sample.args)
        _refill(_unique_tensors(args), gen)
        torch.compiler.cudagraph_mark_step_begin()
        outs = as_tuple(compiled(*args))
        inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
        grads = tuple(torch.autograd.grad(outs, inputs, grad_outputs)) if grad_outputs is not None and inputs else ()
        got = tuple(t.clone() for t in outs + grads)  # graph outputs are overwritten by the next replay
        _assert_equal_eager(op, got, args, grad_outputs, f"call {call}")
    if op.out_arg is None:
        assert not counters["inductor"]["cudagraph_skips"], \
            f"{op.name}: inductor did not use CUDA graphs ({dict(counters['inductor'])})"
