"""The elementwise family: muladd, mul, add, add_out (wrappers, references, demo calls).

Each wrapper calls ``torch.ops.myops.<name>``, so it behaves exactly as the op does in
TorchScript, torch.compile and torch.export. The ``*_reference`` functions are the pure-PyTorch
definitions (the tests' oracle, gathered into ``myops.reference``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from ._args import as_float, eager_entry, is_dynamo_compiling, is_scripting

__all__ = ["muladd", "mul", "add", "add_out"]

# Eager mode calls the ops' C++ entries directly (see eager_entry); TorchScript prunes the
# `if not is_scripting()` blocks, torch.compile traces torch.ops.myops.<op>.
_MULADD = eager_entry(torch.ops.myops.muladd.default)
_MUL = eager_entry(torch.ops.myops.mul.default)
_ADD = eager_entry(torch.ops.myops.add.default)
_ADD_OUT = eager_entry(torch.ops.myops.add_out.default)


def muladd(a: Tensor, b: Tensor, c: float) -> Tensor:
    """``a * b + c`` in one pass.

    ``a`` and ``b`` broadcast against each other and are promoted like ``torch.mul``
    (e.g. float16 with float32 gives float32); computed in float32 for float16/bfloat16.
    Differentiable in ``a`` and ``b`` (twice). ``c``: a Python number, numpy scalar or 0-d tensor.
    """
    if not is_scripting():  # (TorchScript prunes this: the wrapper stays scriptable)
        if type(c) is not float:
            c = as_float(c, "myops.muladd", "c")
        if not is_dynamo_compiling():
            return _MULADD(a, b, c)
    return torch.ops.myops.muladd(a, b, c)


def mul(a: Tensor, b: Tensor) -> Tensor:
    """``a * b`` with broadcasting and type promotion; differentiable (twice)."""
    if not is_scripting():
        if not is_dynamo_compiling():
            return _MUL(a, b)
    return torch.ops.myops.mul(a, b)


def add(a: Tensor, b: Tensor) -> Tensor:
    """``a + b`` with broadcasting and type promotion; differentiable (twice)."""
    if not is_scripting():
        if not is_dynamo_compiling():
            return _ADD(a, b)
    return torch.ops.myops.add(a, b)


def add_out(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """Writes ``a + b`` into ``out`` and returns ``out``.

    ``out`` must already have the broadcast shape and the result dtype (it is never resized)
    and may be ``a`` or ``b`` itself (in place), but must not partially overlap them.
    Not differentiable (like any out= variant).
    """
    if not is_scripting():
        if not is_dynamo_compiling():
            _ADD_OUT(a, b, out)
            return out
    torch.ops.myops.add_out(a, b, out)
    return out


# ------------------------------------------------------------------------------ references

def muladd_reference(a: Tensor, b: Tensor, c: float) -> Tensor:
    return a * b + c


def mul_reference(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def add_reference(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def add_out_reference(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    out.copy_(a + b)
    return out


REFERENCES = {"muladd": muladd_reference, "mul": mul_reference, "add": add_reference, "add_out": add_out_reference}


def demo_cases(device):
    """(label, op, reference, args) for ``python -m myops demo``: 4M float32 elements."""
    g = torch.Generator(device="cpu").manual_seed(0)
    n = 1 << 22
    a = torch.randn(n, generator=g).to(device)
    b = torch.randn(n, generator=g).to(device)
    out = torch.empty_like(a)
    return [
        ("muladd [4M]", muladd, muladd_reference, (a, b, 0.5)),
        ("mul [4M]", mul, mul_reference, (a, b)),
        ("add [4M]", add, add_reference, (a, b)),
        ("add_out [4M]", add_out, add_out_reference, (a, b, out)),
    ]
