"""The lltm family: one step of the LLTM cell (wrapper, reference, demo call)."""

from __future__ import annotations

import torch
from torch import Tensor

from ._args import eager_entry, is_dynamo_compiling, is_scripting

__all__ = ["lltm"]

_LLTM = eager_entry(torch.ops.myops.lltm.default)  # eager mode's call (see eager_entry)


def lltm(input: Tensor, weights: Tensor, bias: Tensor, old_h: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor]:
    """One step of the LLTM cell (the PyTorch C++ extension tutorial's example); returns
    ``(new_h, new_cell)``.

    With ``X = cat([old_h, input], 1)`` and ``gates = X @ weights.T + bias`` split in three along
    dim 1: ``new_cell = old_cell + elu(gates[2]) * sigmoid(gates[0])`` and
    ``new_h = tanh(new_cell) * sigmoid(gates[1])``. Shapes: input ``[B, F]``, weights
    ``[3S, S+F]``, bias ``[3S]``, old_h and old_cell ``[B, S]``; one floating dtype throughout
    (float16/bfloat16 gate math runs in float32). Differentiable in all five tensors (twice).
    """
    if not is_scripting():
        if not is_dynamo_compiling():
            return _LLTM(input, weights, bias, old_h, old_cell)
    return torch.ops.myops.lltm(input, weights, bias, old_h, old_cell)


def lltm_reference(input: Tensor, weights: Tensor, bias: Tensor, old_h: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor]:
    X = torch.cat([old_h, input], dim=1)
    gates = torch.addmm(bias, X, weights.t())
    input_gate, output_gate, candidate_cell = gates.chunk(3, dim=1)
    input_gate = torch.sigmoid(input_gate)
    output_gate = torch.sigmoid(output_gate)
    candidate_cell = torch.nn.functional.elu(candidate_cell)
    new_cell = old_cell + candidate_cell * input_gate
    new_h = torch.tanh(new_cell) * output_gate
    return new_h, new_cell


def lltm_cell_reference(pre_gates: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor]:
    """The cell from its gate pre-activations [B, 3S] (input | output | candidate gate):
    (new_h, new_cell)."""
    input_gate, output_gate, candidate_cell = pre_gates.chunk(3, dim=1)
    new_cell = old_cell + torch.nn.functional.elu(candidate_cell) * torch.sigmoid(input_gate)
    return torch.tanh(new_cell) * torch.sigmoid(output_gate), new_cell


def _leaf(t: Tensor) -> Tensor:
    return t if t.requires_grad else t.detach().requires_grad_()


def lltm_cell_backward_reference(grad_h: Tensor, grad_cell: Tensor, pre_gates: Tensor,
                                 old_cell: Tensor) -> tuple[Tensor, Tensor]:
    """The gradients of the cell's pre-activations and of old_cell (lltm's gate pass), by
    autograd through the cell; differentiable (create_graph) in all four tensors."""
    with torch.enable_grad():
        pre, old = _leaf(pre_gates), _leaf(old_cell)
        d_gates, d_old_cell = torch.autograd.grad(lltm_cell_reference(pre, old), (pre, old), (grad_h, grad_cell),
                                                  create_graph=True)
    return d_gates, d_old_cell


def lltm_gates_backward_reference(grad_h: Tensor, grad_cell: Tensor, new_cell: Tensor,
                                  gates: Tensor) -> tuple[Tensor, Tensor]:
    """lltm's backward gate pass, written out from the stored activations (the tutorial's
    backward): the gradients of the gate pre-activations [B, 3S] and of old_cell, given those of
    new_h and new_cell, new_cell and the activated gates (input | output | candidate)."""
    input_gate, output_gate, candidate_cell = gates.chunk(3, dim=1)
    tanh_cell = torch.tanh(new_cell)
    d_new_cell = grad_cell + grad_h * output_gate * (1 - tanh_cell * tanh_cell)
    d_sigmoid = lambda y: y * (1 - y)  # noqa: E731  (sigmoid' from its output)
    # elu' from its output: 1 above 0, exp(x) = y + 1 below
    d_elu = torch.where(candidate_cell > 0, torch.ones_like(candidate_cell), candidate_cell + 1)
    d_gates = torch.cat([d_new_cell * candidate_cell * d_sigmoid(input_gate),
                         grad_h * tanh_cell * d_sigmoid(output_gate),
                         d_new_cell * input_gate * d_elu], dim=1)
    return d_gates, d_new_cell


def lltm_cell_double_backward_reference(gg_gates: Tensor, gg_old_cell: Tensor, grad_h: Tensor, grad_cell: Tensor,
                                        pre_gates: Tensor, old_cell: Tensor) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """The backward of lltm_cell_backward_reference, by autograd: the gradients of grad_h,
    grad_cell, pre_gates and old_cell given those (gg_*) of its two outputs."""
    with torch.enable_grad():
        inputs = [_leaf(t) for t in (grad_h, grad_cell, pre_gates, old_cell)]
        outputs = lltm_cell_backward_reference(*inputs)
        return torch.autograd.grad(outputs, inputs, (gg_gates, gg_old_cell))


REFERENCES = {"lltm": lltm_reference, "lltm_cell": lltm_cell_reference,
              "lltm_gates_backward": lltm_gates_backward_reference,
              "lltm_cell_backward": lltm_cell_backward_reference,
              "lltm_cell_double_backward": lltm_cell_double_backward_reference}


def demo_cases(device):
    """One step with batch 64, 32 features, state 128."""
    g = torch.Generator(device="cpu").manual_seed(0)
    B, F, S = 64, 32, 128
    r = lambda *shape, scale=1.0: (torch.randn(*shape, generator=g) * scale).to(device)  # noqa: E731
    args = (r(B, F), r(3 * S, S + F, scale=(S + F) ** -0.5), r(3 * S), r(B, S), r(B, S))
    return [(f"lltm B={B} F={F} S={S}", lltm, lltm_reference, args)]
