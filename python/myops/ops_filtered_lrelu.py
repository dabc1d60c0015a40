"""The filtered_lrelu family: StyleGAN3's filtered leaky ReLU (upsample, leaky ReLU, clamp,
downsample, fused into one op), its reference and the reference of its backward op
(``torch.ops.myops.filtered_lrelu_backward``, internal: no wrapper), and the demo call."""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from ._args import as_float, as_int, as_padding, eager_entry, is_dynamo_compiling, is_scripting
from .ops_bias_act import clamp_reference

__all__ = ["filtered_lrelu"]

_OP = "myops.filtered_lrelu"
_FILTERED_LRELU = eager_entry(torch.ops.myops.filtered_lrelu.default)  # eager mode's call (see eager_entry)


def _int(value, name: str) -> int:
    return as_int(value, _OP, name)


def _float(value, name: str) -> float:
    return as_float(value, _OP, name)


def filtered_lrelu(x: Tensor, fu: Optional[Tensor] = None, fd: Optional[Tensor] = None,
                   b: Optional[Tensor] = None, up=1, down=1, padding=0, gain=math.sqrt(2), slope=0.2,
                   clamp=None, flip_filter: bool = False) -> Tensor:
    """Filtered leaky ReLU for a batch of images, a drop-in for NVlabs StyleGAN3's
    ``torch_utils.ops.filtered_lrelu.filtered_lrelu`` (same arguments, defaults and results,
    without ``impl``). For each channel of ``x`` [N, C, H, W]:

    1. add the bias ``b`` (1-D, x's dtype, C elements; None: no bias);
    2. upsample by ``up``: insert ``up - 1`` zeros after each pixel;
    3. pad by ``padding`` zeros (negative: crop), relative to the upsampled image;
    4. convolve with ``fu`` (a true convolution; correlation when ``flip_filter``), times up**2;
    5. leaky ReLU with negative ``slope``, times ``gain``;
    6. clamp to [-clamp, clamp] when ``clamp`` is not None;
    7. convolve with ``fd`` and keep every ``down``-th pixel.

    Output size per axis: ``(in * up + p0 + p1 - (fu_taps - 1) - (fd_taps - 1) + (down - 1)) // down``
    (must be >= 1).

    Args:
        fu, fd: None (identity), 1-D [taps] (separable: along width, then height) or 2-D
            [fh, fw]; float32 (see myops.setup_filter) or x's dtype. Not differentiable: a
            filter with requires_grad=True is an error.
        up, down: ints >= 1.
        padding: int, [x, y] or [x0, x1, y0, y1].
        gain: > 0; slope: >= 0; clamp: None or >= 0. Python numbers, numpy scalars or 0-d tensors.

    Differentiable in ``x`` and ``b`` to any order; the gradient is zero where the activation is
    clamped, and is its own op, ``torch.ops.myops.filtered_lrelu_backward``. float32, float64,
    float16, bfloat16 (computed in float32 for the half types); any strides; a channels_last
    ``x`` gives a channels_last result.
    """
    args = (x, fu, fd, b, _int(up, "up"), _int(down, "down"), as_padding(padding, _OP), _float(gain, "gain"),
            _float(slope, "slope"), None if clamp is None else _float(clamp, "clamp"), bool(flip_filter))
    if not is_scripting():
        if not is_dynamo_compiling():
            return _FILTERED_LRELU(*args)
    return torch.ops.myops.filtered_lrelu(*args)


# ------------------------------------------------------------------------------ references

def _fir(x: Tensor, f: Optional[Tensor], flip_filter: bool, gain: float) -> Tensor:
    """'valid' convolution of each channel with f (a 1-D f is its outer product with itself),
    times gain; conv2d correlates, so the kernel is flipped unless flip_filter."""
    if f is None:
        return x * gain
    f = f.to(x.dtype)
    k = torch.outer(f, f) if f.ndim == 1 else f
    if not flip_filter:
        k = k.flip([0, 1])
    c = x.shape[1]
    return F.conv2d(x, (k * gain)[None, None].expand(c, 1, *k.shape), groups=c)


def filtered_lrelu_reference(x: Tensor, fu: Optional[Tensor] = None, fd: Optional[Tensor] = None,
                             b: Optional[Tensor] = None, up: int = 1, down: int = 1, padding=0,
                             gain: float = math.sqrt(2), slope: float = 0.2, clamp: Optional[float] = None,
                             flip_filter: bool = False) -> Tensor:
    """StyleGAN3's filtered_lrelu semantics (its ``_filtered_lrelu_ref``), step by step with
    plain torch ops: zero insertion, F.pad (negative crops), grouped conv2d, leaky_relu, clamp,
    conv2d, strided slice. Holds the whole upsampled image: clear, not fast."""
    px0, px1, py0, py1 = as_padding(padding, _OP)
    if b is not None:
        x = x + b.reshape(1, -1, 1, 1)
    if up > 1:
        n, c, h, w = x.shape
        z = x.new_zeros(n, c, h * up, w * up)
        z[:, :, ::up, ::up] = x
        x = z
    x = F.pad(x, [px0, px1, py0, py1])
    x = _fir(x, fu, flip_filter, up * up)
    x = F.leaky_relu(x, slope) * gain
    if clamp is not None:
        x = clamp_reference(x, clamp)
    return _fir(x, fd, flip_filter, 1.0)[:, :, ::down, ::down]


def filtered_lrelu_backward_reference(grad: Tensor, x: Tensor, fu: Optional[Tensor], fd: Optional[Tensor],
                                      b: Optional[Tensor], up: int, down: int, padding, gain: float,
                                      slope: float, clamp: Optional[float], flip_filter: bool) -> Tensor:
    """dL/dx of :func:`filtered_lrelu_reference` for dL/dy = grad, by autograd through it;
    differentiable (create_graph) in grad, x and b."""
    with torch.enable_grad():
        xs = x if x.requires_grad else x.detach().requires_grad_()
        y = filtered_lrelu_reference(xs, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter)
        dx = torch.autograd.grad(y, xs, grad, create_graph=True)[0]
        # + 0 * x: connected to x even where the gradient does not depend on it.
        return dx + 0 * xs


REFERENCES = {"filtered_lrelu": filtered_lrelu_reference,
              "filtered_lrelu_backward": filtered_lrelu_backward_reference}


def stylegan3_padding(in_size: int, out_size: int, up: int, down: int, up_taps: int, down_taps: int) -> list[int]:
    """[x0, x1, y0, y1] for a square StyleGAN3 synthesis layer whose filtered_lrelu maps
    in_size (the conv output) to out_size (StyleGAN3's SynthesisLayer arithmetic)."""
    total = (out_size - 1) * down + 1 - in_size * up + up_taps + down_taps - 2
    lo = (total + up) // 2
    return [lo, total - lo, lo, total - lo]


def demo_cases(device):
    """A StyleGAN3 layer: [4, 64, 36, 36], up 2, down 2, 12-tap separable filters, clamp 256 -> 32 x 32."""
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(4, 64, 36, 36, generator=g).to(device)
    b = torch.randn(64, generator=g).to(device)
    f = torch.kaiser_window(12, periodic=False, beta=6.0)
    f = (f / f.sum()).to(device)
    pad = stylegan3_padding(36, 32, 2, 2, 12, 12)
    args = (x, f, f, b, 2, 2, pad, math.sqrt(2), 0.2, 256.0)
    return [("filtered_lrelu up2/down2 sep12 [4,64,36,36]", filtered_lrelu, filtered_lrelu_reference, args)]
