"""Typed, documented wrappers of the myops operators (thin: all work happens in C++).

Each function calls ``torch.ops.myops.<name>``, so it behaves exactly as the op does in
TorchScript, torch.compile and torch.export.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out"]


def muladd(a: Tensor, b: Tensor, c: float) -> Tensor:
    """``a * b + c`` in one pass.

    ``a`` and ``b`` broadcast against each other and are promoted like ``torch.mul``
    (e.g. float16 with float32 gives float32); computed in float32 for float16/bfloat16.
    Differentiable in ``a`` and ``b`` (twice).
    """
    return torch.ops.myops.muladd(a, b, c)


def mul(a: Tensor, b: Tensor) -> Tensor:
    """``a * b`` with broadcasting and type promotion; differentiable (twice)."""
    return torch.ops.myops.mul(a, b)


def add(a: Tensor, b: Tensor) -> Tensor:
    """``a + b`` with broadcasting and type promotion; differentiable (twice)."""
    return torch.ops.myops.add(a, b)


def add_out(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    """Writes ``a + b`` into ``out`` and returns ``out``.

    ``out`` must already have the broadcast shape and the result dtype (it is never resized)
    and may be ``a`` or ``b`` itself (in place), but must not partially overlap them.
    Not differentiable (like any out= variant).
    """
    torch.ops.myops.add_out(a, b, out)
    return out
