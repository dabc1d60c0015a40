"""Concurrency on the CPU: 8 Python threads calling an op at the same time, on the very same
input tensors (the table's samples and large samples, float32 and float16), get results
bit-identical to serial calls: forward outputs, and for differentiable ops the gradients
(torch.autograd.grad, so nothing accumulates into shared .grad fields). The ops release the GIL
in the dispatcher, so the calls really overlap, and the large samples make at::parallel_for
split the work of several threads at once.

A mutating op (add_out) writes into its own copy of `out` in each call (and of any input that
aliases `out`): the other inputs are shared. An op whose table entry opts out of
"threads_bitwise" (lltm: BLAS matrix products, whose sums may split differently with the
number of threads a BLAS call sees) is compared with assert_close instead; its reason is in the
entry. Compares the op with itself by design (test_values.py compares with the reference)."""

from __future__ import annotations

import threading

import pytest
import torch

from op_db import OPS
from opinfo import as_tuple

N_THREADS = 8
ROUNDS = 2          # each thread runs every job this many times, in an order of its own
DTYPES = (torch.float32, torch.float16)
# Bit views of each float dtype: "identical" means the same bits (and NaN == NaN).
_BITS = {torch.float64: torch.int64, torch.float32: torch.int32, torch.float16: torch.int16,
         torch.bfloat16: torch.int16}


def _fresh_out(op, args):
    """args with `out` (and every argument that is the same tensor as `out`) replaced by a copy."""
    if op.out_arg is None:
        return args
    out = args[op.out_arg]
    copy = out.clone()  # clone keeps the strides of a dense out (out_noncontiguous)
    return tuple(copy if a is out else a for a in args)


class _Job:
    """One sample: what a call computes (outputs, then gradients for a differentiable op) with
    fixed output gradients, so that every call must give the same bits."""

    def __init__(self, op, sample):
        self.op, self.sample = op, sample
        self.inputs = [a for a in sample.args if isinstance(a, torch.Tensor) and a.requires_grad]
        self.grad_outputs = None
        if self.inputs:
            outs = as_tuple(op.op(*sample.args, **sample.kwargs))
            gen = torch.Generator().manual_seed(1)
            self.grad_outputs = [torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype) for o in outs]

    def __call__(self):
        args = _fresh_out(self.op, self.sample.args)
        result = self.op.op(*args, **self.sample.kwargs)
        outs = as_tuple(args[self.op.out_arg] if self.op.out_arg is not None else result)
        grads = ()
        if self.inputs:
            grads = torch.autograd.grad(outs, self.inputs, self.grad_outputs, allow_unused=True)
        return tuple(o.detach() for o in outs) + tuple(grads)


def _jobs(op, dtype):
    requires_grad = op.differentiable
    samples = [*op.samples("cpu", dtype, requires_grad), *op.large_samples("cpu", dtype, requires_grad)]
    return [_Job(op, s) for s in samples]


def _assert_identical(op, name, got, want):
    assert len(got) == len(want), name
    for i, (g, w) in enumerate(zip(got, want)):
        if w is None:
            assert g is None, f"{name}: result {i}"
            continue
        assert (g.dtype, g.shape, g.stride()) == (w.dtype, w.shape, w.stride()), f"{name}: result {i}"
        if "threads_bitwise" in op.skips:
            torch.testing.assert_close(g, w, equal_nan=True, msg=lambda m: f"{name}: result {i}: {m}")
        else:
            assert torch.equal(g.view(_BITS[g.dtype]), w.view(_BITS[w.dtype])), \
                f"{name}: result {i} differs from the serial call (max diff {(g.double() - w.double()).abs().max()})"


@pytest.mark.parametrize("dtype", DTYPES, ids=lambda d: str(d)[6:])
@pytest.mark.parametrize("op", OPS, ids=str)
def test_concurrent_calls_equal_serial_calls(op, dtype):
    jobs = _jobs(op, dtype)
    serial = [job() for job in jobs]
    # The serial run is deterministic itself (or nothing below would mean anything).
    for job, want in zip(jobs, serial):
        _assert_identical(op, f"{op.name}/{job.sample.name} (serial, twice)", job(), want)

    barrier = threading.Barrier(N_THREADS)
    results = [[] for _ in range(N_THREADS)]   # per thread: (job index, outputs)
    errors = []

    def worker(t):
        try:
            barrier.wait(timeout=60)
            for r in range(ROUNDS):
                # Each thread its own order: different samples (sizes, layouts) run side by side.
                start = (t * 3 + r) % len(jobs)
                order = list(range(start, len(jobs))) + list(range(start))
                if (t + r) % 2:
                    order.reverse()
                for j in order:
                    results[t].append((j, jobs[j]()))
        except BaseException as e:  # noqa: BLE001  (reported below, in the main thread)
            errors.append((t, e))
            barrier.abort()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a thread hangs"
    if errors:
        raise errors[0][1]
    assert all(len(r) == ROUNDS * len(jobs) for r in results)
    for t, per_thread in enumerate(results):
        for j, got in per_thread:
            _assert_identical(op, f"{op.name}/{jobs[j].sample.name} (thread {t})", got, serial[j])
