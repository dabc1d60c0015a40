"""upfirdn2d (StyleGAN's resampling) against its pure-PyTorch reference (reshape/pad/conv2d),
eager and torch.compile'd, and against copy_ bandwidth: upsample2d (up 2) and downsample2d
(down 2) with the normalized 4-tap filter [1, 3, 3, 1], separable (1-D) and 2-D, forward and
forward + backward. Each forward row also records the peak extra memory (resident set, measured
in a subprocess) of one call of ours and of the eager reference, next to the output's size."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import torch

import myops
from myops import reference
from common import Case


def _rss_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def _probe(kind: str, separable: bool, who: str, shape: list) -> int:
    """In a fresh process: the peak resident memory of one call above what was resident just
    before it (the inputs, torch, the library), the result included."""
    x = torch.randn(shape)
    fn = _functions(kind, separable, "cpu")[0 if who == "ours" else 1]
    fn(x)  # warm-up: one-time allocations (thread pool, ...) are not the op's
    gc.collect()
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # resets VmHWM, the peak resident set
    before = _rss_bytes("VmRSS")
    out = fn(x)
    peak = _rss_bytes("VmHWM")
    del out
    return peak - before


def peak_extra_bytes(kind: str, separable: bool, who: str, shape: list) -> int | None:
    """_probe in a subprocess (Linux only; None elsewhere or on failure). glibc's malloc is told
    to map every block >= 64 KiB on its own (MALLOC_MMAP_THRESHOLD_), so freed memory leaves
    the resident set at once and the peak is what the call itself held at one time; torch's CPU
    allocator keeps no cache of its own."""
    if not sys.platform.startswith("linux"):
        return None
    code = f"import bench_upfirdn2d as b; print(b._probe({kind!r}, {separable!r}, {who!r}, {shape!r}))"
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536",
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parent), os.environ.get("PYTHONPATH", "")])}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    if result.returncode != 0:
        return None
    return int(result.stdout.strip().splitlines()[-1])


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


def cases(device: str, quick: bool = False):
    n, c, h, w = (1, 64, 64, 64) if quick else (4, 256, 64, 64)
    x = torch.randn(n, c, h, w, device=device)
    for separable in (True, False):
        form = "sep" if separable else "2d"
        for kind in ("up", "down"):
            ours, ref = _functions(kind, separable, device)
            compiled = torch.compile(ref, fullgraph=True)
            out = ours(x)
            torch.testing.assert_close(out, ref(x), atol=1e-5, rtol=1e-5)
            moved = (x.numel() + out.numel()) * x.element_size()
            name = f"{'upsample2d' if kind == 'up' else 'downsample2d'} {form} fp32 {list(x.shape)}"
            notes = {"output_MB": out.numel() * out.element_size() / 2**20}
            if device == "cpu":
                for who in ("ours", "eager"):
                    extra = peak_extra_bytes(kind, separable, who, list(x.shape))
                    notes[f"peak_extra_MB_{who}"] = None if extra is None else round(extra / 2**20, 2)
            yield Case("upfirdn2d", f"{name} fwd", lambda ours=ours: ours(x), lambda ref=ref: ref(x),
                       lambda compiled=compiled: compiled(x), bytes_moved=moved, device=device, notes=notes)

            # forward + backward: the gradient is the transposed resampling (ours: the same op).
            xg = x.detach().clone().requires_grad_()
            g = torch.randn_like(out)

            def fwd_bwd(fn):
                def run():
                    xg.grad = None
                    fn(xg).backward(g)
                return run
            yield Case("upfirdn2d", f"{name} fwd+bwd", fwd_bwd(ours), fwd_bwd(ref), fwd_bwd(compiled),
                       bytes_moved=2 * moved, device=device)
