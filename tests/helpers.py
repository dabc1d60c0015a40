"""Helpers the test modules share: running Python in a fresh process, and the checks of one
sample against the reference (used in process and inside the per-ISA subprocesses)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import torch

from opinfo import as_tuple, clone_args

TESTS_DIR = Path(__file__).resolve().parent


def free_port() -> int:
    """A free TCP port on localhost, for a process group's rendezvous (tests/test_ddp.py,
    tests/test_dtensor.py)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def exit_worker() -> None:
    """Ends a gloo worker process (test_ddp.py, test_dtensor.py) once its work is done, without
    the interpreter's finalization. In CI a rank aborted now and then with "terminate called
    without an active exception" and no traceback (DDP under torch 2.15, DTensor under 2.11): a
    C++ thread of gloo torn down while still joinable, in destroy_process_group or, as
    pytorch/pytorch#179291 describes, when the finalization frees what gloo's threads still
    hold. Everything the worker had to do is done and flushed by now, and an exception in the
    worker still exits non-zero with its traceback (it never gets here)."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_python(code: str, env=None, timeout=600) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter (this one's, with tests/ importable), with extra env."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), full_env.get("PYTHONPATH")) if p)
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True,
                          env=full_env, timeout=timeout)


def run_scripts_in_fresh_process(tmp_path: Path, cases: list) -> list:
    """Saves each (scripted function, args) of `cases`, then loads and runs them all in ONE fresh
    process that only calls torch.ops.load_library (no `import myops`); returns each case's
    outputs (a tuple of tensors, `args` as they were after the call: a mutated `out` shows)."""
    import myops

    inputs = []
    for i, (scripted, args) in enumerate(cases):
        path = tmp_path / f"script{i}.pt"
        scripted.save(str(path))
        inputs.append((str(path), args))
    torch.save(inputs, tmp_path / "inputs.pt")
    result = run_python(f"""
        import sys, torch
        torch.ops.load_library({str(myops.library_path())!r})
        outputs = []
        for path, args in torch.load({str(tmp_path / "inputs.pt")!r}):
            fn = torch.jit.load(path)
            outputs.append((fn(*args), args))
        torch.save(outputs, {str(tmp_path / "outputs.pt")!r})
        assert "myops" not in sys.modules, "the Python package was imported"
    """)
    assert result.returncode == 0, result.stderr
    return torch.load(tmp_path / "outputs.pt")


# ---------------------------------------------------------------- checks against the reference

def stack_batched(args, dims, sample_values):
    """args for torch.vmap: the tensor at each index of `dims` (index -> in_dim) replaced by the
    list sample_values(t) of per-sample values stacked at that dim, every other tensor detached
    and cloned; an argument passed twice (add_out's out being a) stays one tensor. Returns
    (args, in_dims)."""
    new, by_id, in_dims = [], {}, []
    for a in args:
        if not isinstance(a, torch.Tensor):
            new.append(a)
            in_dims.append(None)
            continue
        first = next(j for j, b in enumerate(args) if b is a)
        if id(a) not in by_id:
            d = dims.get(first)
            by_id[id(a)] = a.detach().clone() if d is None else torch.stack(sample_values(a.detach()), d % (a.dim() + 1))
        new.append(by_id[id(a)])
        in_dims.append(dims.get(first))
    return new, tuple(in_dims)


def reference_result(op, args):
    """The reference evaluated in float64 (so rounding differences are ours alone), plus the
    dtype PyTorch itself gives for these arguments."""
    ref_args = clone_args(args)
    expected_dtype_result = op.ref(*clone_args(args))
    wide = tuple(a.detach().double() if isinstance(a, torch.Tensor) else a for a in ref_args)
    return op.ref(*wide), expected_dtype_result


def call(op, args, kwargs=None):
    """The op's result the way the tests compare it: the `out` argument for a mutating op."""
    result = op.op(*args, **(kwargs or {}))
    if op.out_arg is not None:
        assert result is None
        result = args[op.out_arg]
    return result


def user_call(op):
    """A function calling the op the way user code does; returns the output (or `out`)."""
    if op.out_arg is None:
        return lambda *args: op.op(*args)

    def mutating(*args):
        op.op(*args)
        return args[op.out_arg]
    return mutating


def assert_close_to_reference(op, results, expected, pytorch_results=None, scale=1):
    """Each output: dtype/shape/device as PyTorch gives them, values within the table's
    tolerance (times `scale`) of the float64 reference rounded to the result dtype."""
    results, expecteds = as_tuple(results), as_tuple(expected)
    assert len(results) == len(expecteds)
    for i, (result, expected) in enumerate(zip(results, expecteds)):  # each output
        if pytorch_results is not None:
            pytorch_result = as_tuple(pytorch_results)[i]
            assert result.dtype == pytorch_result.dtype
            assert result.shape == pytorch_result.shape
            assert result.device == pytorch_result.device
        atol, rtol = op.tolerances[result.dtype]
        torch.testing.assert_close(result.double(), expected.to(result.dtype).double(),
                                   atol=atol * scale, rtol=rtol * scale)


def check_values(op, sample):
    """op(*sample) against the reference evaluated in float64 (the table's value test)."""
    expected, pytorch_result = reference_result(op, sample.args)
    assert_close_to_reference(op, call(op, sample.args, sample.kwargs), expected, pytorch_result)


def grads_of(fn, args, grads):
    """Gradients of fn(*args) w.r.t. the tensor args that require grad, for output grads `grads`."""
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    return torch.autograd.grad(as_tuple(fn(*args)), inputs, grads)


def check_grads(op, sample, wide=False, scale=10):
    """Gradients (reduced over broadcast dims, in each input's dtype) equal autograd through the
    reference, within `scale` times the table's tolerance. wide: the reference in float64 (its
    gradient rounded to the input's dtype), else in the sample's dtypes.

    An input with fewer elements than a float16/bfloat16 output (a broadcast input, a float32
    0-dim scalar next to a half tensor: its gradient is a sum of many products) may instead
    match the reference in the sample's dtypes (within 10x): PyTorch's own autograd formulas
    round each product to the half type before the sum, and an op may do what PyTorch does.
    Either oracle is a correct result."""
    args = sample.args
    outs = as_tuple(op.op(*args))
    if all(o.numel() == 0 for o in outs):
        return
    inputs = [a for a in args if isinstance(a, torch.Tensor) and a.requires_grad]
    # One per output (every path is checked), in the output's dtype, so that the reference gets
    # the very same values (widened exactly): only the op's arithmetic differs.
    grads = [torch.randn_like(o, dtype=torch.float64).to(o.dtype) for o in outs]
    got = torch.autograd.grad(outs, inputs, grads)

    def reference_grads(in_float64):
        ref_args = clone_args(args)
        if in_float64:
            ref_args = tuple(a.detach().double().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor)
                             else a for a in ref_args)
        ref_outs = as_tuple(op.ref(*ref_args))
        # Only the inputs that require grad: an op may take tensors it is not differentiable in
        # (upfirdn2d's filter), and autograd.grad rejects those.
        ref_inputs = [a for a in ref_args if isinstance(a, torch.Tensor) and a.requires_grad]
        return torch.autograd.grad(ref_outs, ref_inputs, [g.to(r.dtype) for g, r in zip(grads, ref_outs)])

    def close(g, w, k):
        atol, rtol = op.tolerances[g.dtype]
        torch.testing.assert_close(g.double(), w.to(g.dtype).double(), atol=atol * k, rtol=rtol * k)

    wants = reference_grads(wide)
    largest_output = max(o.numel() for o in outs)
    half_products = any(o.dtype in (torch.float16, torch.bfloat16) for o in outs)
    for i, (g, x) in enumerate(zip(got, inputs)):
        assert g.dtype == x.dtype and g.shape == x.shape and g.device == x.device
        try:
            close(g, wants[i], scale)
        except AssertionError:
            if not (wide and half_products and x.numel() < largest_output):
                raise
            close(g, reference_grads(False)[i], 10)
