"""The upfirdn2d family: upfirdn2d and StyleGAN's helpers around it (setup_filter,
upsample2d, downsample2d, filter2d), the reference, and the demo call."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ._args import as_float, as_int, as_padding, eager_entry, is_dynamo_compiling, is_scripting

__all__ = ["upfirdn2d", "setup_filter", "upsample2d", "downsample2d", "filter2d"]

# Same names, arguments, defaults and results as NVlabs StyleGAN2/3's torch_utils/ops/upfirdn2d
# (without its `impl` argument): one dispatcher op, myops::upfirdn2d, does the work.


_OP = "myops.upfirdn2d"
_UPFIRDN2D = eager_entry(torch.ops.myops.upfirdn2d.default)  # eager mode's call (see eager_entry)


def _parse_scaling(scaling, name: str) -> list[int]:
    """int or [x, y] -> [x, y] (ints: Python, numpy or 0-d tensors)."""
    if type(scaling) is int:  # (plain Python ints skip the conversions)
        return [scaling, scaling]
    if not isinstance(scaling, (list, tuple)):
        scaling = [scaling, scaling]
    if len(scaling) != 2:
        raise ValueError(f"{_OP}: {name} must be an int or [x, y] of ints, got {scaling!r}")
    return [s if type(s) is int else as_int(s, _OP, name) for s in scaling]


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
    up, down, padding = _parse_scaling(up, "up"), _parse_scaling(down, "down"), as_padding(padding, _OP)
    flip_filter, gain = bool(flip_filter), as_float(gain, _OP, "gain")
    if not is_scripting():
        if not is_dynamo_compiling():
            return _UPFIRDN2D(x, f, up, down, padding, flip_filter, gain)
    return torch.ops.myops.upfirdn2d(x, f, up, down, padding, flip_filter, gain)


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
    f = f * (as_float(gain, "myops.setup_filter", "gain") ** (f.ndim / 2))
    return f.to(device=device)


def upsample2d(x: Tensor, f: Tensor | None, up=2, padding=0, flip_filter: bool = False,
               gain: float = 1) -> Tensor:
    """Upsample by ``up`` with FIR filter ``f``; the output is ``up`` times the input (plus
    ``padding``, relative to the output). The gain is multiplied by up_x * up_y to keep the
    signal's magnitude."""
    upx, upy = _parse_scaling(up, "up")
    px0, px1, py0, py1 = as_padding(padding, _OP)
    fw, fh = _get_filter_size(f)
    p = [px0 + (fw + upx - 1) // 2, px1 + (fw - upx) // 2, py0 + (fh + upy - 1) // 2, py1 + (fh - upy) // 2]
    return upfirdn2d(x, f, up=[upx, upy], padding=p, flip_filter=flip_filter,
                     gain=as_float(gain, "myops.upsample2d", "gain") * upx * upy)


def downsample2d(x: Tensor, f: Tensor | None, down=2, padding=0, flip_filter: bool = False,
                 gain: float = 1) -> Tensor:
    """Downsample by ``down`` with FIR filter ``f``; the output is the input divided by
    ``down`` (``padding`` is relative to the input)."""
    downx, downy = _parse_scaling(down, "down")
    px0, px1, py0, py1 = as_padding(padding, _OP)
    fw, fh = _get_filter_size(f)
    p = [px0 + (fw - downx + 1) // 2, px1 + (fw - downx) // 2, py0 + (fh - downy + 1) // 2, py1 + (fh - downy) // 2]
    return upfirdn2d(x, f, down=[downx, downy], padding=p, flip_filter=flip_filter, gain=gain)


def filter2d(x: Tensor, f: Tensor | None, padding=0, flip_filter: bool = False, gain: float = 1) -> Tensor:
    """Filter with ``f``, padded so the output has the input's size (plus ``padding``)."""
    px0, px1, py0, py1 = as_padding(padding, _OP)
    fw, fh = _get_filter_size(f)
    p = [px0 + fw // 2, px1 + (fw - 1) // 2, py0 + fh // 2, py1 + (fh - 1) // 2]
    return upfirdn2d(x, f, padding=p, flip_filter=flip_filter, gain=gain)


# ------------------------------------------------------------------------------ references

def _pair(v) -> list[int]:
    return [v, v] if isinstance(v, int) else list(v)


def _padding4(p) -> list[int]:
    p = [p, p] if isinstance(p, int) else list(p)
    return [p[0], p[0], p[1], p[1]] if len(p) == 2 else p


def upfirdn2d_reference(x: Tensor, f: Tensor | None = None, up=1, down=1, padding=0, flip_filter: bool = False,
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


def upfirdn2d_stacked_reference(x: Tensor, f: Tensor, up=1, down=1, padding=0, flip_filter: bool = False,
                                gain: float = 1) -> Tensor:
    """upfirdn2d_stacked (internal: upfirdn2d's vmap rule calls it for per-sample filters):
    x [S, N, C, H, W], f [S, taps] or [S, fh, fw], out[s] = upfirdn2d_reference(x[s], f[s])."""
    if x.ndim != 5 or f.ndim not in (2, 3) or f.shape[0] != x.shape[0]:
        raise ValueError(f"myops.upfirdn2d_stacked: wants x [S, N, C, H, W] and f [S, ...], got x "
                         f"{list(x.shape)} and f {list(f.shape)}")
    if x.shape[0] == 0:  # no filter to run: the sizes from an empty batch and a zero filter
        empty = upfirdn2d_reference(x.flatten(0, 1), f.new_zeros(f.shape[1:]), up, down, padding, flip_filter, gain)
        return empty.unflatten(0, (0, x.shape[1]))
    return torch.stack([upfirdn2d_reference(x[s], f[s], up, down, padding, flip_filter, gain)
                        for s in range(x.shape[0])])


REFERENCES = {"upfirdn2d": upfirdn2d_reference, "upfirdn2d_stacked": upfirdn2d_stacked_reference}


def demo_cases(device):
    """upsample2d by 2 with StyleGAN's [1, 3, 3, 1] filter: [4, 64, 64, 64] -> [4, 64, 128, 128]."""
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(4, 64, 64, 64, generator=g).to(device)
    f = setup_filter([1, 3, 3, 1], device=device)
    fw = f.shape[-1]
    pad = [(fw + 1) // 2, (fw - 2) // 2] * 2  # what upsample2d passes for up=2

    def upsample2d_reference(x, f):
        return upfirdn2d_reference(x, f, up=2, padding=pad, gain=4)
    return [("upsample2d x2 [4,64,64,64]", upsample2d, upsample2d_reference, (x, f))]
