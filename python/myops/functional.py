"""Typed, documented wrappers of the myops operators (thin: all work happens in C++).

Each function calls ``torch.ops.myops.<name>``, so it behaves exactly as the op does in
TorchScript, torch.compile and torch.export.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out", "bias_act"]


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


def bias_act(x: Tensor, b: Optional[Tensor] = None, dim: int = 1, act: str = "linear",
             alpha: Optional[float] = None, gain: Optional[float] = None,
             clamp: Optional[float] = None) -> Tensor:
    """Fused bias + activation + gain + clamp, a drop-in for StyleGAN2/3's
    ``torch_utils.ops.bias_act.bias_act`` (same arguments, defaults and results)::

        y = clamp(act(x + b broadcast along dim, alpha) * gain, -clamp, clamp)

    Args:
        x: input of any shape (0-d included) and float dtype (float32, float64, float16,
            bfloat16; the math runs in float32 for the half types); any strides. ``y`` has x's
            shape, dtype and memory format (channels_last in, channels_last out).
        b: None, or a 1-D bias of x's dtype and device with ``x.shape[dim]`` elements.
        dim: the dimension of x that b runs along (negative values count from the end). Only
            read when b is given.
        act: ``'linear'``, ``'relu'``, ``'lrelu'``, ``'tanh'``, ``'sigmoid'``, ``'elu'``,
            ``'selu'``, ``'softplus'`` or ``'swish'`` (``x * sigmoid(x)``).
        alpha: lrelu's negative slope (default 0.2); ignored by the other activations (elu's
            alpha is 1, softplus is torch's with beta 1 and threshold 20).
        gain: scale applied after the activation. Default sqrt(2) for relu, lrelu and swish,
            1 for the others.
        clamp: None (no clamping) or a value >= 0: the output is clamped to
            ``[-clamp, clamp]``. Negative values raise.

    Differentiable in x and b, twice. Where clamping changes the output the gradient is zero
    (for every activation, linear included); the backward is its own op,
    ``torch.ops.myops.bias_act_backward``.
    """
    return torch.ops.myops.bias_act(x, b, dim, act, alpha, gain, clamp)
