"""Pure-PyTorch definitions of every myops operator.

The oracle of the tests and the baseline of the benchmarks: written for clarity with
ordinary torch ops, never calling myops.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out", "lltm"]


def muladd(a: Tensor, b: Tensor, c: float) -> Tensor:
    return a * b + c


def mul(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def add(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def add_out(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    out.copy_(a + b)
    return out


def lltm(input: Tensor, weights: Tensor, bias: Tensor, old_h: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor]:
    X = torch.cat([old_h, input], dim=1)
    gates = torch.addmm(bias, X, weights.t())
    input_gate, output_gate, candidate_cell = gates.chunk(3, dim=1)
    input_gate = torch.sigmoid(input_gate)
    output_gate = torch.sigmoid(output_gate)
    candidate_cell = torch.nn.functional.elu(candidate_cell)
    new_cell = old_cell + candidate_cell * input_gate
    new_h = torch.tanh(new_cell) * output_gate
    return new_h, new_cell
