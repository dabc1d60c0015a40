"""The bias_act family: fused bias + activation + gain + clamp (StyleGAN2/3's bias_act), its
reference and the reference of its backward op (``torch.ops.myops.bias_act_backward``, internal:
no wrapper), and the demo call."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._args import as_int, as_optional_float, eager_entry, is_dynamo_compiling, is_scripting

__all__ = ["bias_act"]

_BIAS_ACT = eager_entry(torch.ops.myops.bias_act.default)  # eager mode's call (see eager_entry)


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

    Numbers (dim, alpha, gain, clamp) may be Python numbers, numpy scalars or 0-d tensors.

    Differentiable in x and b, twice. Where clamping changes the output the gradient is zero
    (for every activation, linear included); the backward is its own op,
    ``torch.ops.myops.bias_act_backward``.
    """
    if not is_scripting():  # (TorchScript prunes this: the wrapper stays scriptable)
        op = "myops.bias_act"
        # (The type tests skip the conversions for what the schema takes as is: int, float, None.)
        if type(dim) is not int:
            dim = as_int(dim, op, "dim")
        if alpha is not None and type(alpha) is not float:
            alpha = as_optional_float(alpha, op, "alpha")
        if gain is not None and type(gain) is not float:
            gain = as_optional_float(gain, op, "gain")
        if clamp is not None and type(clamp) is not float:
            clamp = as_optional_float(clamp, op, "clamp")
        if not is_dynamo_compiling():
            return _BIAS_ACT(x, b, dim, act, alpha, gain, clamp)
    return torch.ops.myops.bias_act(x, b, dim, act, alpha, gain, clamp)


# ------------------------------------------------------------------------------ references

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


def bias_act_reference(x: Tensor, b: Optional[Tensor] = None, dim: int = 1, act: str = "linear",
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
        x = clamp_reference(x, clamp)
    return x


def clamp_reference(x: Tensor, clamp: float) -> Tensor:
    """x clamped to [-clamp, clamp], the bound first rounded to x's dtype (what torch.clamp
    does), so that a bound past the dtype's range rounds to inf and clamps nothing: torch.clamp
    itself refuses such a bound (float16, clamp 1e30: "value cannot be converted to type
    c10::Half without overflow"), while the ops take any clamp >= 0 (found by `make fuzz`)."""
    bound = float(torch.tensor(clamp, dtype=x.dtype)) if x.is_floating_point() else clamp
    return x.clamp(-bound, bound)


def bias_act_backward_reference(grad: Tensor, x: Tensor, b: Optional[Tensor], dim: int, act: str,
                      alpha: Optional[float], gain: Optional[float], clamp: Optional[float],
                      order: int = 1) -> Tensor:
    """``grad * d^order bias_act / dx^order`` (bias_act is elementwise in x), by autograd
    through :func:`bias_act_reference`; differentiable (create_graph) in grad, x and b."""
    with torch.enable_grad():
        xs = x if x.requires_grad else x.detach().requires_grad_()
        y = bias_act_reference(xs, b, dim, act, alpha, gain, clamp)
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


REFERENCES = {"bias_act": bias_act_reference, "bias_act_backward": bias_act_backward_reference,
              "BIAS_ACT_ACTIVATIONS": BIAS_ACT_ACTIVATIONS}


def demo_cases(device):
    """StyleGAN's layer: lrelu with a bias along the channels of [8, 512, 32, 32], clamp 256."""
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(8, 512, 32, 32, generator=g).to(device)
    b = torch.randn(512, generator=g).to(device)
    return [("bias_act lrelu+b [8,512,32,32]", bias_act, bias_act_reference, (x, b, 1, "lrelu", None, None, 256.0))]
