"""filtered_lrelu (StyleGAN3's filtered leaky ReLU) against StyleGAN3's reference composition
(``_filtered_lrelu_ref``: bias, upfirdn2d up, bias_act lrelu + clamp, upfirdn2d down, written
with the pure-PyTorch references of upfirdn2d and bias_act), eager and torch.compile'd, and
against copy_ bandwidth. The issue's StyleGAN3 layer: x = [4, 256, 36, 36] fp32, up 2, down 2,
12-tap separable (Kaiser) fu and fd, StyleGAN3's padding (output 32 x 32), clamp 256, a bias;
forward and forward + backward. Each forward row also records the peak extra memory (resident
set, in a subprocess) of one call of ours and of the eager reference, next to the output's size
and as a multiple of it (the fused CPU kernel's bound: 1.25 x the output plus per-thread tile
scratch)."""

from __future__ import annotations

import math

import torch

import myops
from common import image_op_cases, peak_extra_bytes, peak_extra_of_call
from myops import reference
from myops.ops_filtered_lrelu import stylegan3_padding

UP = DOWN = 2
TAPS = 12
CLAMP = 256.0


def stylegan3_reference(x, fu, fd, b, up, down, padding, gain, slope, clamp):
    """StyleGAN3's _filtered_lrelu_ref, step for step, on the pure-PyTorch references."""
    x = reference.bias_act(x, b)
    x = reference.upfirdn2d(x, fu, up=up, padding=padding, gain=up ** 2)
    x = reference.bias_act(x, None, 1, "lrelu", slope, gain, clamp)
    return reference.upfirdn2d(x, fd, down=down)


def _inputs(shape, device):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(shape, generator=g).to(device)
    b = torch.randn(shape[1], generator=g).to(device)
    f = torch.kaiser_window(TAPS, periodic=False, beta=6.0)
    f = (f / f.sum()).to(device)
    out = shape[-1] - 4  # StyleGAN3: the conv output (in + kernel - 1) back to the layer's size
    pad = stylegan3_padding(shape[-1], out, UP, DOWN, TAPS, TAPS)
    return x, f, b, pad


def _functions(f, b, pad):
    args = (f, f, b, UP, DOWN, pad, math.sqrt(2), 0.2, CLAMP)
    return (lambda x: myops.filtered_lrelu(x, *args), lambda x: stylegan3_reference(x, *args))


def _probe(who: str, shape: list) -> int:
    """In a fresh process (common.peak_extra_bytes): the peak extra memory of one call."""
    x, f, b, pad = _inputs(shape, "cpu")
    return peak_extra_of_call(_functions(f, b, pad)[0 if who == "ours" else 1], x)


def cases(device: str, quick: bool = False):
    shape = [1, 64, 36, 36] if quick else [4, 256, 36, 36]
    x, f, b, pad = _inputs(shape, device)
    ours, ref = _functions(f, b, pad)
    for case in image_op_cases(
            "filtered_lrelu", f"filtered_lrelu up2/down2 sep12 clamp fp32 {shape}", x, ours, ref, device, tol=1e-4,
            peak_extra=lambda who: peak_extra_bytes("bench_filtered_lrelu", f"{who!r}, {shape!r}")):
        # The memory bound: peak extra <= 1.25 x the output (+ O(tile) per thread).
        notes = case.notes
        for who in ("ours", "eager"):
            if notes.get(f"peak_extra_MB_{who}") is not None:
                notes[f"peak_extra_x_output_{who}"] = round(notes[f"peak_extra_MB_{who}"] / notes["output_MB"], 3)
        yield case
