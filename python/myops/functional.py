"""Typed, documented wrappers of the myops operators (thin: all work happens in C++).

Each function calls ``torch.ops.myops.<name>``, so it behaves exactly as the op does in
TorchScript, torch.compile and torch.export.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["muladd", "mul", "add", "add_out", "bias_act", "upfirdn2d", "setup_filter", "upsample2d",
           "downsample2d", "filter2d", "lltm"]


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


# --------------------------------------------------------------------------- upfirdn2d family
# Same names, arguments, defaults and results as NVlabs StyleGAN2/3's torch_utils/ops/upfirdn2d
# (without its `impl` argument): one dispatcher op, myops::upfirdn2d, does the work.

def _parse_scaling(scaling, name: str) -> list[int]:
    """int or [x, y] -> [x, y]."""
    if isinstance(scaling, int):
        scaling = [scaling, scaling]
    if not (isinstance(scaling, (list, tuple)) and len(scaling) == 2 and all(isinstance(s, int) for s in scaling)):
        raise ValueError(f"myops.upfirdn2d: {name} must be an int or [x, y] of ints, got {scaling!r}")
    return [int(scaling[0]), int(scaling[1])]


def _parse_padding(padding) -> list[int]:
    """int, [x, y] or [x0, x1, y0, y1] -> [x0, x1, y0, y1]."""
    if isinstance(padding, int):
        padding = [padding, padding]
    if not (isinstance(padding, (list, tuple)) and len(padding) in (2, 4) and all(isinstance(p, int) for p in padding)):
        raise ValueError(f"myops.upfirdn2d: padding must be an int, [x, y] or [x0, x1, y0, y1] of ints, got {padding!r}")
    if len(padding) == 2:
        padding = [padding[0], padding[0], padding[1], padding[1]]
    return [int(p) for p in padding]


def _get_filter_size(f: Tensor | None) -> tuple[int, int]:
    """(taps along x, taps along y); a 1-D filter has its taps on both axes. int(): a filter's
    size is a constant of the model (under torch.compile this specializes on it)."""
    if f is None:
        return 1, 1
    if f.ndim not in (1, 2):
        raise ValueError(f"myops.upfirdn2d: f must be 1-D [taps] or 2-D [fh, fw], got shape {list(f.shape)}")
    return int(f.shape[-1]), int(f.shape[0])


def upfirdn2d(x: Tensor, f: Tensor | None, up=1, down=1, padding=0, flip_filter: bool = False,
              gain: float = 1) -> Tensor:
    """Upsample, pad, FIR-filter and downsample a batch of images, in one pass.

    For each channel of ``x`` [N, C, H, W]: insert ``up - 1`` zeros after each pixel, pad with
    ``padding`` zeros (negative padding crops), convolve with ``f`` (a true convolution;
    correlation when ``flip_filter``), scale by ``gain`` and keep every ``down``-th pixel.
    Output size per axis: ``(in * up + pad0 + pad1 - taps) // down + 1`` (must be >= 1).

    Args:
        f: None (identity), 1-D [taps] (separable: applied along width, then height, each pass
            scaled by sqrt(gain)) or 2-D [fh, fw]; float32 (see setup_filter) or x's dtype.
            Not differentiable: a filter with requires_grad=True is an error.
        up, down: int or [x, y], >= 1.
        padding: int, [x, y] or [x0, x1, y0, y1], relative to the upsampled image.

    Differentiable in ``x`` (to any order; the gradient is upfirdn2d again, transposed).
    float32/float64/float16/bfloat16, computed in float32 (float64 for float64); any strides;
    a channels_last ``x`` gives a channels_last result.
    """
    return torch.ops.myops.upfirdn2d(x, f, _parse_scaling(up, "up"), _parse_scaling(down, "down"),
                                     _parse_padding(padding), bool(flip_filter), float(gain))


def setup_filter(f, device=torch.device("cpu"), normalize: bool = True, flip_filter: bool = False,
                 gain: float = 1, separable: bool | None = None) -> Tensor:
    """A float32 FIR filter for upfirdn2d from a tensor, array or list (StyleGAN3's semantics).

    ``f``: [fh, fw] (2-D), [taps] (1-D), [] (impulse) or None (identity). ``separable``: keep a
    1-D filter 1-D (default: when it has >= 8 taps; otherwise its outer product is returned).
    ``normalize`` divides by the sum (unit DC gain), ``flip_filter`` flips it, and ``gain``
    scales it by ``gain ** (f.ndim / 2)`` (so both passes of a 1-D filter make ``gain``).
    """
    if f is None:
        f = 1
    f = torch.as_tensor(f, dtype=torch.float32)
    if f.ndim not in (0, 1, 2) or f.numel() == 0:
        raise ValueError(f"myops.setup_filter: f must be a non-empty scalar, 1-D or 2-D, got shape {list(f.shape)}")
    if f.ndim == 0:
        f = f[None]
    if separable is None:
        separable = f.ndim == 1 and f.numel() >= 8
    if f.ndim == 1 and not separable:
        f = torch.outer(f, f)
    if f.ndim != (1 if separable else 2):
        raise ValueError("myops.setup_filter: separable=True needs a 1-D filter")
    if normalize:
        f = f / f.sum()  # not in place: never modifies the caller's tensor
    if flip_filter:
        f = f.flip(list(range(f.ndim)))
    f = f * (gain ** (f.ndim / 2))
    return f.to(device=device)


def upsample2d(x: Tensor, f: Tensor | None, up=2, padding=0, flip_filter: bool = False,
               gain: float = 1) -> Tensor:
    """Upsample by ``up`` with FIR filter ``f``; the output is ``up`` times the input (plus
    ``padding``, relative to the output). The gain is multiplied by up_x * up_y to keep the
    signal's magnitude."""
    upx, upy = _parse_scaling(up, "up")
    px0, px1, py0, py1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=[upx, upy], padding=p, flip_filter=flip_filter, gain=gain * upx * upy)


def downsample2d(x: Tensor, f: Tensor | None, down=2, padding=0, flip_filter: bool = False,
                 gain: float = 1) -> Tensor:
    """Downsample by ``down`` with FIR filter ``f``; the output is the input divided by
    ``down`` (``padding`` is relative to the input)."""
    downx, downy = _parse_scaling(down, "down")
    px0, px1, py0, py1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2, py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=[downx, downy], padding=p, flip_filter=flip_filter, gain=gain)


def filter2d(x: Tensor, f: Tensor | None, padding=0, flip_filter: bool = False, gain: float = 1) -> Tensor:
    """Filter with ``f``, padded so the output has the input's size (plus ``padding``)."""
    px0, px1, py0, py1 = _parse_padding(padding)
    fw, fh = _get_filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


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
