"""Typed, documented wrappers of the myops operators (thin: all work happens in C++).

Each function calls ``torch.ops.myops.<name>``, so it behaves exactly as the op does in
TorchScript, torch.compile and torch.export.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out", "lltm"]


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


def lltm(input: Tensor, weights: Tensor, bias: Tensor, old_h: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the LLTM cell (the PyTorch C++ extension tutorial's example); returns
    ``(new_h, new_cell)``.

    With ``X = cat([old_h, input], 1)`` and ``gates = X @ weights.T + bias`` split in three along
    dim 1: ``new_cell = old_cell + elu(gates[2]) * sigmoid(gates[0])`` and
    ``new_h = tanh(new_cell) * sigmoid(gates[1])``. Shapes: input ``[B, F]``, weights
    ``[3S, S+F]``, bias ``[3S]``, old_h and old_cell ``[B, S]``; one floating dtype throughout
    (float16/bfloat16 gate math runs in float32). Differentiable in all five tensors (twice).
    """
    return torch.ops.myops.lltm(input, weights, bias, old_h, old_cell)
