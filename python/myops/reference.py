"""Pure-PyTorch definitions of every myops operator.

The oracle of the tests and the baseline of the benchmarks: written for clarity with
ordinary torch ops, never calling myops.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out", "bias_act", "bias_act_backward", "upfirdn2d", "lltm"]


def muladd(a: Tensor, b: Tensor, c: float) -> Tensor:
    return a * b + c


def mul(a: Tensor, b: Tensor) -> Tensor:
    return a * b


def add(a: Tensor, b: Tensor) -> Tensor:
    return a + b


def add_out(a: Tensor, b: Tensor, out: Tensor) -> Tensor:
    out.copy_(a + b)
    return out


def _pair(v) -> list[int]:
    return [v, v] if isinstance(v, int) else list(v)


def _padding4(p) -> list[int]:
    p = [p, p] if isinstance(p, int) else list(p)
    return [p[0], p[0], p[1], p[1]] if len(p) == 2 else p


def upfirdn2d(x: Tensor, f: Tensor | None = None, up=1, down=1, padding=0, flip_filter: bool = False,
              gain: float = 1) -> Tensor:
    """StyleGAN3's _upfirdn2d_ref: zero insertion by reshape + pad, pad/crop, grouped conv2d
    (two 1-D passes for a 1-D filter, each scaled by sqrt(gain)), then a strided slice. The
    filter is cast to x's dtype."""
    n, c, h, w = x.shape
    upx, upy = _pair(up)
    downx, downy = _pair(down)
    px0, px1, py0, py1 = _padding4(padding)
    if f is None:
        f = torch.ones([1, 1], dtype=x.dtype, device=x.device)

    # Upsample by inserting zeros after each pixel.
    x = x.reshape([n, c, h, 1, w, 1])
    x = F.pad(x, [0, upx - 1, 0, 0, 0, upy - 1])
    x = x.reshape([n, c, h * upy, w * upx])

    # Pad (positive) or crop (negative).
    x = F.pad(x, [max(px0, 0), max(px1, 0), max(py0, 0), max(py1, 0)])
    x = x[:, :, max(-py0, 0):x.shape[2] - max(-py1, 0), max(-px0, 0):x.shape[3] - max(-px1, 0)]

    # Convolve (conv2d correlates: flip the filter for a true convolution).
    f = (f * (gain ** (f.ndim / 2))).to(x.dtype)
    if not flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f[None, None].repeat([c, 1] + [1] * f.ndim)
    if f.ndim == 4:
        x = F.conv2d(x, f, groups=c)
    else:
        x = F.conv2d(x, f.unsqueeze(2), groups=c)
        x = F.conv2d(x, f.unsqueeze(3), groups=c)

    # Downsample by keeping every down-th pixel.
    return x[:, :, ::downy, ::downx]


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


# StyleGAN2/3's activation table: name -> (function of (x, alpha), default alpha, default gain).
BIAS_ACT_ACTIVATIONS = {
    "linear": (lambda x, alpha: x, 0.0, 1.0),
    "relu": (lambda x, alpha: F.relu(x), 0.0, math.sqrt(2)),
    "lrelu": (lambda x, alpha: F.leaky_relu(x, alpha), 0.2, math.sqrt(2)),
    "tanh": (lambda x, alpha: torch.tanh(x), 0.0, 1.0),
    "sigmoid": (lambda x, alpha: torch.sigmoid(x), 0.0, 1.0),
    "elu": (lambda x, alpha: F.elu(x), 0.0, 1.0),
    "selu": (lambda x, alpha: F.selu(x), 0.0, 1.0),
    "softplus": (lambda x, alpha: F.softplus(x), 0.0, 1.0),
    "swish": (lambda x, alpha: torch.sigmoid(x) * x, 0.0, math.sqrt(2)),
}


def bias_act(x: Tensor, b: Optional[Tensor] = None, dim: int = 1, act: str = "linear",
             alpha: Optional[float] = None, gain: Optional[float] = None,
             clamp: Optional[float] = None) -> Tensor:
    """StyleGAN3's ``_bias_act_ref``, with Python's rule for a negative ``dim``.

    Its gradient (autograd through torch.clamp) is zero where the output is clamped, and
    passes at exactly +-clamp, where clamping leaves the value unchanged.
    """
    func, default_alpha, default_gain = BIAS_ACT_ACTIVATIONS[act]
    alpha = float(alpha if alpha is not None else default_alpha)
    gain = float(gain if gain is not None else default_gain)
    if b is not None:
        dim = dim % x.ndim
        x = x + b.reshape([-1 if i == dim else 1 for i in range(x.ndim)])
    x = func(x, alpha)
    if gain != 1:
        x = x * gain
    if clamp is not None:
        x = x.clamp(-clamp, clamp)
    return x


def bias_act_backward(grad: Tensor, x: Tensor, b: Optional[Tensor], dim: int, act: str,
                      alpha: Optional[float], gain: Optional[float], clamp: Optional[float],
                      order: int = 1) -> Tensor:
    """``grad * d^order bias_act / dx^order`` (bias_act is elementwise in x), by autograd
    through :func:`bias_act`; differentiable (create_graph) in grad, x and b."""
    with torch.enable_grad():
        xs = x if x.requires_grad else x.detach().requires_grad_()
        y = bias_act(xs, b, dim, act, alpha, gain, clamp)
        ones = torch.ones_like(y)
        # d y / d x as a tensor (y is elementwise in x), then higher orders the same way.
        deriv = torch.autograd.grad(y, xs, ones, create_graph=True)[0]
        for _ in range(order - 1):
            # (A piecewise-linear f has a derivative that autograd sees as constant.)
            higher = (torch.autograd.grad(deriv, xs, ones, create_graph=True, allow_unused=True)[0]
                      if deriv.requires_grad else None)
            deriv = higher if higher is not None else torch.zeros_like(deriv)
        # + 0 * y: the result stays connected to x and b when the derivative is a constant, so
        # autograd reports their (zero) gradient instead of "not used in the graph".
        return grad * deriv + 0 * y
