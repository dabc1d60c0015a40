"""upfirdn2d (StyleGAN's resampling) against its pure-PyTorch reference (reshape/pad/conv2d),
eager and torch.compile'd, and against copy_ bandwidth: upsample2d (up 2) and downsample2d
(down 2) with the normalized 4-tap filter [1, 3, 3, 1], separable (1-D) and 2-D, forward and
forward + backward, on [4, 256, 64, 64] and on a few more of the calls a StyleGAN2 network makes
(STYLEGAN2_SHAPES; benchmarks/upfirdn2d_speed.py times all of them, with double backward, against
the best eager compositions). Each forward row also records the peak extra memory (resident set, measured
in a subprocess) of one call of ours and of the eager reference, next to the output's size."""

from __future__ import annotations

import torch

import myops
from myops import reference
from common import image_op_cases, peak_extra_bytes, peak_extra_of_call


def _probe(kind: str, separable: bool, who: str, shape: list) -> int:
    """In a fresh process (common.peak_extra_bytes): the peak extra memory of one call."""
    return peak_extra_of_call(_functions(kind, separable, "cpu")[0 if who == "ours" else 1], torch.randn(shape))


def _stylegan_padding(kind: str, taps: int) -> list[int]:
    if kind == "up":  # upsample2d, up = 2
        return [(taps + 1) // 2, (taps - 2) // 2] * 2
    return [(taps - 1) // 2, (taps - 2) // 2] * 2  # downsample2d, down = 2


def _functions(kind: str, separable: bool, device: str):
    """(ours, reference) for upsample2d (kind "up", up 2) or downsample2d ("down", down 2)
    with the normalized [1, 3, 3, 1] filter, 1-D (separable) or 2-D."""
    f = myops.setup_filter([1, 3, 3, 1], separable=separable).to(device)
    pad = _stylegan_padding(kind, 4)
    if kind == "up":
        return (lambda x: myops.upsample2d(x, f),
                lambda x: reference.upfirdn2d(x, f, up=2, padding=pad, gain=4))
    return (lambda x: myops.downsample2d(x, f), lambda x: reference.upfirdn2d(x, f, down=2, padding=pad))


# (kind, input shape) of StyleGAN2's up/downsampling with its 2-D 4x4 filter, a subset.
STYLEGAN2_SHAPES = [("up", [8, 512, 4, 4]), ("up", [2, 128, 128, 128]), ("down", [8, 512, 8, 8]),
                    ("down", [4, 512, 32, 32])]


def cases(device: str, quick: bool = False):
    n, c, h, w = (1, 64, 64, 64) if quick else (4, 256, 64, 64)
    x = torch.randn(n, c, h, w, device=device)
    for separable in (True, False):
        form = "sep" if separable else "2d"
        for kind in ("up", "down"):
            ours, ref = _functions(kind, separable, device)
            name = f"{'upsample2d' if kind == 'up' else 'downsample2d'} {form} fp32 {list(x.shape)}"
            # (the gradient is the transposed resampling: for ours, the same op)
            yield from image_op_cases(
                "upfirdn2d", name, x, ours, ref, device, tol=1e-5,
                peak_extra=lambda who, kind=kind, separable=separable: peak_extra_bytes(
                    "bench_upfirdn2d", f"{kind!r}, {separable!r}, {who!r}, {list(x.shape)!r}"))
    if quick:
        return
    for kind, shape in STYLEGAN2_SHAPES:
        ours, ref = _functions(kind, False, device)
        name = f"{'upsample2d' if kind == 'up' else 'downsample2d'} 2d fp32 {shape}"
        yield from image_op_cases("upfirdn2d", name, torch.randn(shape, device=device), ours, ref, device, tol=1e-5)
