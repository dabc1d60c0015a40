"""Pure-PyTorch definitions of every myops operator.

The oracle of the tests and the baseline of the benchmarks: written for clarity with
ordinary torch ops, never calling myops.
"""

from __future__ import annotations

from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out"]


def muladd(a: Tensor, b: Tensor, c: float) -> Tensor:
    return a * b + c


def mul(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def add(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def add_out(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    out.copy_(a + b)
    return out
