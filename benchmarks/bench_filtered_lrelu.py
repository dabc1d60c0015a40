"""filtered_lrelu (StyleGAN3's filtered leaky ReLU) against StyleGAN3's reference composition
(``_filtered_lrelu_ref``: bias, upfirdn2d up, bias_act lrelu + clamp, upfirdn2d down, written
with the pure-PyTorch references of upfirdn2d and bias_act), eager and torch.compile'd, and
against copy_ bandwidth. The issue's StyleGAN3 layer: x = [4, 256, 36, 36] fp32, up 2, down 2,
12-tap separable (Kaiser) fu and fd, StyleGAN3's padding (output 32 x 32), clamp 256, a bias;
forward and forward + backward. Each forward row also records the peak extra memory (resident
set, in a subprocess) of one call of ours and of the eager reference, next to the output's size."""

from __future__ import annotations

import gc
import math
import os
import subprocess
import sys
from pathlib import Path

import torch

import myops
from bench_upfirdn2d import _rss_bytes
from common import Case
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
    """In a fresh process: the peak resident memory of one call above what was resident just
    before it, the result included (see bench_upfirdn2d.peak_extra_bytes)."""
    x, f, b, pad = _inputs(shape, "cpu")
    fn = _functions(f, b, pad)[0 if who == "ours" else 1]
    fn(x)
    gc.collect()
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")
    before = _rss_bytes("VmRSS")
    out = fn(x)
    peak = _rss_bytes("VmHWM")
    del out
    return peak - before


def peak_extra_bytes(who: str, shape: list) -> int | None:
    if not sys.platform.startswith("linux"):
        return None
    code = f"import bench_filtered_lrelu as b; print(b._probe({who!r}, {shape!r}))"
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    return int(result.stdout.strip().splitlines()[-1]) if result.returncode == 0 else None


def cases(device: str, quick: bool = False):
    shape = [1, 64, 36, 36] if quick else [4, 256, 36, 36]
    x, f, b, pad = _inputs(shape, device)
    ours, ref = _functions(f, b, pad)
    compiled = torch.compile(ref, fullgraph=True)
    out = ours(x)
    torch.testing.assert_close(out, ref(x), atol=1e-4, rtol=1e-4)
    moved = (x.numel() + out.numel()) * x.element_size()
    name = f"filtered_lrelu up2/down2 sep12 clamp fp32 {shape}"
    notes = {"output_MB": out.numel() * out.element_size() / 2**20}
    if device == "cpu":
        for who in ("ours", "eager"):
            extra = peak_extra_bytes(who, shape)
            notes[f"peak_extra_MB_{who}"] = None if extra is None else round(extra / 2**20, 2)
    yield Case("filtered_lrelu", f"{name} fwd", lambda: ours(x), lambda: ref(x), lambda: compiled(x),
               bytes_moved=moved, device=device, notes=notes)

    xg = x.detach().clone().requires_grad_()
    g = torch.randn_like(out)

    def fwd_bwd(fn):
        def run():
            xg.grad = None
            fn(xg).backward(g)
        return run
    yield Case("filtered_lrelu", f"{name} fwd+bwd", fwd_bwd(ours), fwd_bwd(ref), fwd_bwd(compiled),
               bytes_moved=2 * moved, device=device)
