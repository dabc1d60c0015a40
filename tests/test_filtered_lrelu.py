"""filtered_lrelu beyond the generic table tests: equality with the composition of
myops.upfirdn2d and myops.bias_act over a grid (StyleGAN3's own reference path), the output
size formula, the Python wrapper's arguments, gradients (zero where clamped, higher orders,
filters that require grad), and the backward op by name in compiled graphs."""

import copy
import itertools
import math
import zlib

import numpy as np
import pytest
import torch
from torch._dynamo.testing import AotEagerAndRecordGraphs

import myops
from myops import reference


def _x(shape, device, dtype=torch.float64, requires_grad=False):
    return torch.randn(shape, device=device, dtype=dtype, requires_grad=requires_grad)


def composition(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
    """StyleGAN3's _filtered_lrelu_ref, with myops' upfirdn2d and bias_act."""
    y = myops.bias_act(x, b)
    y = myops.upfirdn2d(y, fu, up=up, padding=padding, gain=up ** 2, flip_filter=flip_filter)
    y = myops.bias_act(y, act="lrelu", alpha=slope, gain=gain, clamp=clamp)
    return myops.upfirdn2d(y, fd, down=down, flip_filter=flip_filter)


def _grid():
    """up x down in {1, 2, 4}^2, each with four filter pairs (1-D/2-D, odd/even, 1 to 24 taps,
    None); padding (offsets from the filters' total reach: positive, zero, negative), clamp,
    slope and flip cycle through their values so that each meets the others."""
    filters = [((4,), (4,)), ((3, 5), (2, 2)), ((1,), (24,)), ((12,), (7, 3)), ((24,), (11,)), ((6, 6), None),
               (None, (5,)), ((2,), (9, 9))]
    offsets = ([0, 0, 0, 0], [3, 2, 4, 1], [-1, 2, 1, -1], [-2, -3, -1, -2])
    clamps, slopes = (None, 0.0, 0.5), (0.2, 0.0)
    cases = []
    for i, ((up, down), k) in enumerate(itertools.product(itertools.product((1, 2, 4), repeat=2), range(4))):
        fu, fd = filters[i % len(filters)]
        offset, clamp, slope, flip = offsets[(k + i // 4) % 4], clamps[i % 3], slopes[i // 3 % 2], bool(i // 6 % 2)
        cases.append(pytest.param(up, down, fu, fd, offset, clamp, slope, flip,
                                  id=f"up{up}-down{down}-fu{fu}-fd{fd}-pad{offset}-clamp{clamp}-slope{slope}-flip{flip}"))
    return cases


def _taps(f):
    return (1, 1) if f is None else (f.shape[-1], f.shape[0])


@pytest.mark.parametrize("up, down, fu_shape, fd_shape, offset, clamp, slope, flip", _grid())
def test_equals_the_composition_of_upfirdn2d_and_bias_act(device, up, down, fu_shape, fd_shape, offset, clamp, slope,
                                                          flip):
    g = torch.Generator().manual_seed(up * 10 + down)
    fil = lambda s: None if s is None else (torch.rand(s, generator=g, dtype=torch.float64) + 0.2).to(device)  # noqa: E731
    fu, fd = fil(fu_shape), fil(fd_shape)
    fu = None if fu is None else fu / fu.sum()
    (uw, uh), (dw, dh) = _taps(fu), _taps(fd)
    reach_x, reach_y = uw + dw - 2, uh + dh - 2  # what the two filters take off
    padding = [offset[0] + reach_x // 2, offset[1] + (reach_x + 1) // 2, offset[2] + reach_y // 2,
               offset[3] + (reach_y + 1) // 2]
    x = torch.randn(2, 3, 13, 14, generator=g, dtype=torch.float64).to(device)
    b = torch.randn(3, generator=g, dtype=torch.float64).to(device)
    args = (x, fu, fd, b, up, down, padding, 1.3, slope, clamp, flip)
    got = myops.filtered_lrelu(*args)
    # StyleGAN3's output size formula.
    assert got.shape == (2, 3, (13 * up + padding[2] + padding[3] - (uh - 1) - (dh - 1) + down - 1) // down,
                         (14 * up + padding[0] + padding[1] - (uw - 1) - (dw - 1) + down - 1) // down)
    torch.testing.assert_close(got, composition(*args))
    torch.testing.assert_close(got, reference.filtered_lrelu(*args))
    if up in (1, 2) and down in (1, 2):  # the gradients too (float32 with float32 filters, the common case)
        xs = x.float().requires_grad_()
        bs = b.float().requires_grad_()
        f32 = lambda f: None if f is None else f.float()  # noqa: E731
        dy = torch.randn_like(got, dtype=torch.float32)
        want = torch.autograd.grad(composition(xs, f32(fu), f32(fd), bs, *args[4:]), (xs, bs), dy)
        have = torch.autograd.grad(myops.filtered_lrelu(xs, f32(fu), f32(fd), bs, *args[4:]), (xs, bs), dy)
        for h, w in zip(have, want):
            torch.testing.assert_close(h, w, atol=1e-5, rtol=1e-5)


# ------------------------------------------------- the fused CPU kernel's tiles and edge cases
# The CPU kernel (ops/filtered_lrelu/filtered_lrelu_cpu_kernel.cpp) splits each plane into
# tiles of result rows sized from the intermediate's width (~2^17 elements of scratch, at least
# 8 rows): wide images give several tiles per plane, the last one partial. Forward and backward
# are checked against the reference (float64) and against the composition of myops' upfirdn2d
# and bias_act (float32, the separate kernels the fused one replaces).

def _fused_cases():
    c = pytest.param
    return [
        # x shape, fu, fd, up, down, padding, clamp, flip
        c((1, 2, 29, 4100), (12,), (12,), 2, 2, [11, 11, 11, 11], 0.5, False, id="wide-8-row-tiles-sep12"),
        c((1, 1, 21, 2070), (3, 5), (4, 4), 2, 1, [1, 2, 3, 0], None, True, id="wide-tiles-2d"),
        c((1, 1, 19, 1500), (4,), (3, 3), 4, 4, [2, 1, 2, 1], 1.0, False, id="wide-tiles-up4-down4-mixed"),
        c((1, 2, 5, 6), (16,), (16,), 8, 8, [15, 15, 15, 15], None, False, id="up8-down8-long-filters"),
        c((1, 1, 3, 2), (20,), (9, 7), 8, 1, [13, 12, 10, 11], 2.0, True, id="up8-filters-longer-than-input"),
        c((1, 1, 40, 37), (3,), (8,), 1, 8, [2, 3, -1, 4], None, False, id="down8"),
        c((1, 2, 7, 8), None, None, 3, 3, [0, 0, 0, 0], 0.7, False, id="no-filters-up3-down3"),
        c((1, 2, 4, 5), (4,), (4,), 2, 2, [40, 33, 37, 41], None, False, id="huge-padding"),
        c((1, 2, 12, 11), (4,), (3,), 2, 2, [-5, -3, -4, -6], None, True, id="crop-padding"),
        c((1, 1, 1, 1), None, None, 1, 1, [0, 0, 0, 0], None, False, id="one-pixel"),
        c((2, 3, 1, 9), (2, 2), (5,), 5, 3, [3, 0, 1, 4], 0.0, False, id="one-row-up5-down3"),
    ]


@pytest.mark.parametrize("shape, fu, fd, up, down, padding, clamp, flip", _fused_cases())
def test_fused_kernel_tiles_and_edges(shape, fu, fd, up, down, padding, clamp, flip):
    g = torch.Generator().manual_seed(sum(shape) + up * 7 + down)
    fil = lambda s: None if s is None else torch.rand(s, generator=g, dtype=torch.float64) + 0.1  # noqa: E731
    fu, fd = fil(fu), fil(fd)
    fu = None if fu is None else fu / fu.sum()
    x = torch.randn(shape, generator=g, dtype=torch.float64)
    b = torch.randn(shape[1], generator=g, dtype=torch.float64)
    rest = (up, down, padding, 1.3, 0.2, clamp, flip)
    y = torch.ops.myops.filtered_lrelu(x, fu, fd, b, *rest)
    torch.testing.assert_close(y, reference.filtered_lrelu(x, fu, fd, b, *rest))
    dy = torch.randn(y.shape, generator=g, dtype=torch.float64)
    dx = torch.ops.myops.filtered_lrelu_backward(dy, x, fu, fd, b, *rest)
    torch.testing.assert_close(dx, reference.filtered_lrelu_backward(dy, x, fu, fd, b, *rest))
    # float32 (float32 filters): against the composition of the separate kernels.
    f32 = lambda t: None if t is None else t.float()  # noqa: E731
    xs, bs = x.float().requires_grad_(), b.float()
    want = composition(xs, f32(fu), f32(fd), bs, *rest)
    torch.testing.assert_close(torch.ops.myops.filtered_lrelu(xs.detach(), f32(fu), f32(fd), bs, *rest), want.detach())
    (want_dx,) = torch.autograd.grad(want, xs, dy.float())
    got_dx = torch.ops.myops.filtered_lrelu_backward(dy.float(), xs.detach(), f32(fu), f32(fd), bs, *rest)
    torch.testing.assert_close(got_dx, want_dx)


# Small planes, at least a vector's worth of them (N * C >= 16 float32 lanes on AVX-512), take
# the plane path (L planes in the lanes of a vector); one plane at a time takes the row path.
# Both compute the same sums in the same order: equal values, forward and backward, every dtype
# and layout (a last group with empty lanes included: 42 planes).
_PLANE_CASES = [
    # fu, fd, up, down, padding, clamp, flip, (H, W)
    pytest.param((4,), (4,), 2, 2, [2, 1, 2, 1], None, False, (8, 8), id="up2-down2-sep4"),
    pytest.param((3, 5), (2, 2), 2, 1, [1, 2, 3, 0], 0.5, True, (7, 9), id="2d-up2-flip-clamp"),
    pytest.param(None, (5,), 1, 2, [0, 0, 0, 0], None, False, (12, 11), id="no-fu-down2"),
    pytest.param((12,), (12,), 2, 2, [11, 11, 11, 11], 1.0, False, (4, 4), id="sep12-4x4"),
    pytest.param((4,), (3, 3), 4, 4, [2, 1, 2, 1], None, True, (5, 5), id="up4-down4-mixed"),
    pytest.param((2, 2), None, 3, 3, [-1, 0, 2, -2], 0.7, False, (3, 4), id="up3-down3-crop"),
]


@pytest.mark.parametrize("planes", [1, 21], ids=["rows", "planes"])
def test_separable_gain_does_not_overflow_an_intermediate(planes):
    # Found by `make fuzz`: a value near the float32 maximum upsampled by 4 with a 1-D filter.
    # The gain up^2 = 16 split as 4 per pass made the horizontal pass overflow (x * 4 * 0.65 >
    # 3.4e38: -inf out) where the true result, and the reference's single 2-D product, is finite.
    x = torch.tensor([2.8203, 1.7014e38]).reshape(1, 1, 1, 2).repeat(1, planes, 1, 1)
    fu, fd = torch.tensor([0.6542, 0.2892, -0.0565]), torch.tensor([0.6934, 0.3066])
    rest = (4, 1, [0, 0, 0, 0], math.sqrt(2), 0.2, None, False)
    y = torch.ops.myops.filtered_lrelu(x, fu, fd, None, *rest)
    want = reference.filtered_lrelu(x.double(), fu.double(), fd.double(), None, *rest)
    assert torch.isfinite(want).all()
    torch.testing.assert_close(y.double(), want, rtol=1e-5, atol=0)
    dy = torch.ones_like(y)
    dx = torch.ops.myops.filtered_lrelu_backward(dy, x, fu, fd, None, *rest)
    dx_want = reference.filtered_lrelu_backward(dy.double(), x.double(), fu.double(), fd.double(), None, *rest)
    torch.testing.assert_close(dx.double(), dx_want, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("fu, fd, up, down, padding, clamp, flip, hw", _PLANE_CASES)
def test_plane_path_equals_row_path(fu, fd, up, down, padding, clamp, flip, hw, dtype):
    g = torch.Generator().manual_seed(zlib.crc32(repr((fu, fd, up, down, hw)).encode()))
    fil = lambda s: None if s is None else (torch.rand(s, generator=g) + 0.1).to(dtype)  # noqa: E731
    fu, fd = fil(fu), fil(fd)
    x = torch.randn(2, 21, *hw, generator=g).to(dtype)
    b = torch.randn(21, generator=g).to(dtype)
    rest = (up, down, padding, 1.3, 0.2, clamp, flip)
    for xs in (x, x.contiguous(memory_format=torch.channels_last), x.transpose(2, 3).contiguous().transpose(2, 3)):
        y = torch.ops.myops.filtered_lrelu(xs, fu, fd, b, *rest)
        dy = torch.randn(y.shape, generator=g).to(dtype)
        dx = torch.ops.myops.filtered_lrelu_backward(dy, xs, fu, fd, b, *rest)
        for n, c in itertools.product(range(2), range(21)):
            one = (slice(n, n + 1), slice(c, c + 1))
            y1 = torch.ops.myops.filtered_lrelu(xs[one], fu, fd, b[c:c + 1], *rest)
            dx1 = torch.ops.myops.filtered_lrelu_backward(dy[one], xs[one], fu, fd, b[c:c + 1], *rest)
            torch.testing.assert_close(y[one], y1, atol=0, rtol=0)
            torch.testing.assert_close(dx[one], dx1, atol=0, rtol=0)
    # and against the reference (float64: the plane path's own accuracy)
    if dtype == torch.float64:
        torch.testing.assert_close(y, reference.filtered_lrelu(xs, fu, fd, b, *rest))
        torch.testing.assert_close(dx, reference.filtered_lrelu_backward(dy, xs, fu, fd, b, *rest))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("up, down, padding", [(2, 2, [3, 3, 3, 3]), (1, 1, [1, 2, 0, 1]), (2, 1, [1, 1, 2, 2])])
@pytest.mark.parametrize("channels", [3, 7, 19])
def test_row_path_channels_last(dtype, up, down, padding, channels):
    """channels_last planes past the plane path's 32 x 32, too few of them for the band path,
    run on their strided rows up to 7 channels (3: RGB, 7: the most; a vector at a time where
    the ISA moves them so, ops/common/cpu_strided_lanes.h, the rows' last values one at a time)
    and on planar copies beyond (19: x, and the backward's grad, transposed to planes, the result
    transposed back, whole and partial blocks: upfirdn2d_cpu_channels_last.h). The output and
    x's gradient are channels_last, with the same bits as for NCHW tensors."""
    g = torch.Generator().manual_seed(0)
    fu = (torch.rand(6, generator=g) + 0.1).to(dtype)
    fd = (torch.rand(4, 5, generator=g) + 0.1).to(dtype)
    x = torch.randn(2, channels, 36, 41, generator=g).to(dtype)
    b = torch.randn(channels, generator=g).to(dtype)
    rest = (up, down, padding, 1.3, 0.2, 0.9, False)
    cl = torch.channels_last
    y = torch.ops.myops.filtered_lrelu(x, fu, fd, b, *rest)
    y_cl = torch.ops.myops.filtered_lrelu(x.contiguous(memory_format=cl), fu, fd, b, *rest)
    assert y_cl.is_contiguous(memory_format=cl) and not y_cl.is_contiguous()
    assert torch.equal(y_cl, y)
    dy = torch.randn(y.shape, generator=g).to(dtype)
    dx = torch.ops.myops.filtered_lrelu_backward(dy, x, fu, fd, b, *rest)
    dx_cl = torch.ops.myops.filtered_lrelu_backward(dy.contiguous(memory_format=cl), x.contiguous(memory_format=cl),
                                                    fu, fd, b, *rest)
    assert dx_cl.is_contiguous(memory_format=cl) and not dx_cl.is_contiguous()
    assert torch.equal(dx_cl, dx)
    if dtype == torch.float64:
        torch.testing.assert_close(y_cl, reference.filtered_lrelu(x, fu, fd, b, *rest))
        torch.testing.assert_close(dx_cl, reference.filtered_lrelu_backward(dy, x, fu, fd, b, *rest))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("fu, fd, up, down, padding", [
    ((6,), (4, 5), 2, 2, [3, 3, 3, 3]), ((3, 3), (6,), 1, 1, [1, 2, 0, 1]), ((4,), (4, 4), 2, 1, [1, 1, 2, 2]),
    ((8,), (8,), 1, 2, [-2, 3, 4, -1]), (None, (5,), 1, 3, [2, 2, 2, 2])])
@pytest.mark.parametrize("n, c, hw", [(2, 64, (36, 41)), (3, 88, (40, 37)), (2, 128, (150, 90))],
                         ids=["2x64x36x41", "3x88x40x37", "2x128x150x90"])
def test_band_path_equals_row_path(fu, fd, up, down, padding, n, c, hw, dtype):
    """Planes past 32 x 32, 128 or more of them (256 for the backward), take the plane path's
    steps by bands of rows (the band path, filtered_lrelu_cpu_bands.h), NCHW and channels_last
    alike: every plane equals the same plane alone (one plane: the row path) bit for bit, the
    channels_last result (channels_last, written in place with whole vectors of channels,
    scattered otherwise: 88 channels) equals the NCHW one, with the bias, inf and NaN where the
    row path has them. 3 x 88 planes: groups across images and a partial last group. 150 x 90:
    many bands, whose interior ones share one plan, and (up 1, down 2) bands of an odd number of
    rows, whose plans differ in phase (one plan for every band, or the band height's rounding
    undone, fails)."""
    g = torch.Generator().manual_seed(zlib.crc32(repr((fu, fd, up, down, n, c, hw)).encode()))
    fil = lambda s: None if s is None else (torch.rand(s, generator=g) + 0.1).to(dtype)  # noqa: E731
    fu, fd = fil(fu), fil(fd)
    x = torch.randn(n, c, *hw, generator=g).to(dtype)
    x[0, 3, 5, 7], x[-1, c - 2, 30, 2] = float("inf"), float("nan")
    b = torch.randn(c, generator=g).to(dtype)
    cl = torch.channels_last
    planes = sorted({(0, 0), (0, 15), (0, 16), (n - 1, c - 9), (n - 1, c - 2), (n - 1, c - 1)})
    eq = dict(atol=0, rtol=0, equal_nan=True)
    for bias, clamp in ((b, 0.9), (None, None)):
        rest = (up, down, padding, 1.3, 0.2, clamp, False)
        y = torch.ops.myops.filtered_lrelu(x, fu, fd, bias, *rest)
        dy = torch.randn(y.shape, generator=g).to(dtype)
        dx = torch.ops.myops.filtered_lrelu_backward(dy, x, fu, fd, bias, *rest)
        for i, j in planes:  # (the row path: one plane)
            one, bj = (slice(i, i + 1), slice(j, j + 1)), None if bias is None else bias[j:j + 1]
            torch.testing.assert_close(y[one], torch.ops.myops.filtered_lrelu(x[one], fu, fd, bj, *rest), **eq)
            torch.testing.assert_close(dx[one], torch.ops.myops.filtered_lrelu_backward(dy[one], x[one], fu, fd, bj,
                                                                                        *rest), **eq)
        y_cl = torch.ops.myops.filtered_lrelu(x.contiguous(memory_format=cl), fu, fd, bias, *rest)
        assert y_cl.is_contiguous(memory_format=cl) and not y_cl.is_contiguous()
        torch.testing.assert_close(y_cl, y, **eq)
        dx_cl = torch.ops.myops.filtered_lrelu_backward(dy.contiguous(memory_format=cl),
                                                        x.contiguous(memory_format=cl), fu, fd, bias, *rest)
        assert dx_cl.is_contiguous(memory_format=cl) and not dx_cl.is_contiguous()
        torch.testing.assert_close(dx_cl, dx, **eq)
        if dtype == torch.float64:  # (the reference has no inf/NaN convention to compare the bits with)
            xf = x.nan_to_num(0.0, 0.0, 0.0)
            torch.testing.assert_close(torch.ops.myops.filtered_lrelu(xf, fu, fd, bias, *rest),
                                       reference.filtered_lrelu(xf, fu, fd, bias, *rest))


_PEAK_PROBE = """
import sys, torch, myops
sys.path.insert(0, {bench!r})
from common import peak_extra_of_call
torch.set_num_threads(2)
x = torch.randn(1, 8, 512, 512)
f = torch.ones(8) / 8
fn = lambda x: torch.ops.myops.filtered_lrelu(x, f, f, None, 4, 4, [4, 3, 4, 3], 1.4, 0.2, 1.0, False)
out = fn(x)
print(peak_extra_of_call(fn, x), out.numel() * out.element_size(), 4 * x.numel() * 4 * 4)
"""


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="reads /proc/self/status")
def test_forward_peak_memory_is_bounded():
    """One call's peak extra resident memory (a fresh process; glibc told to map every block
    >= 64 KiB on its own, so freed memory leaves the resident set at once) stays under 1.25x
    the output plus 8 MiB (the threads' tile scratch, a few hundred KiB each, and allocator
    slack): 18 MiB here, far below the upsampled intermediate a composition holds (16x the
    8 MiB input: 128 MiB)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    bench = str(Path(__file__).resolve().parents[1] / "benchmarks")
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536"}
    r = subprocess.run([sys.executable, "-c", _PEAK_PROBE.format(bench=bench)], capture_output=True, text=True,
                       env=env, check=True)
    peak, out_bytes, upsampled = map(int, r.stdout.split())
    assert peak <= 1.25 * out_bytes + 8 * 2 ** 20, (peak, out_bytes, upsampled)
    assert upsampled > 4 * (1.25 * out_bytes + 8 * 2 ** 20)  # the bound does tell the two apart


# ------------------------------------------------------------------------------ the wrapper

def test_wrapper_arguments(device):
    """padding as int, [x, y] or [x0, x1, y0, y1]; numpy scalars and 0-d tensors for numbers;
    StyleGAN3's defaults (gain sqrt(2), slope 0.2)."""
    x, f = _x((1, 2, 6, 7), device), torch.ones(2, device=device, dtype=torch.float64) / 2
    want = reference.filtered_lrelu(x, f, f, None, 2, 2, [3, 3, 3, 3], math.sqrt(2), 0.2, None, False)
    torch.testing.assert_close(myops.filtered_lrelu(x, f, f, up=2, down=2, padding=3), want)
    torch.testing.assert_close(myops.filtered_lrelu(x, f, f, up=2, down=2, padding=[3, 3]), want)
    torch.testing.assert_close(myops.filtered_lrelu(x, f, f, up=np.int64(2), down=torch.tensor(2), padding=(3, 3, 3, 3),
                                                    gain=np.sqrt(2), slope=np.float32(0.2)), want, rtol=1e-7, atol=1e-7)
    want = reference.filtered_lrelu(x, f, f, None, 2, 1, [1, 0, 2, -1], 0.5, 0.1, 0.3, True)
    got = myops.filtered_lrelu(x, f, f, None, 2, 1, [1, 0, 2, -1], torch.tensor(0.5), np.float64(0.1),
                               torch.tensor(0.3, dtype=torch.float64), True)
    torch.testing.assert_close(got, want)
    with pytest.raises(ValueError, match="myops.filtered_lrelu: padding must be an int, \\[x, y\\] or"):
        myops.filtered_lrelu(x, padding=[1, 2, 3])
    with pytest.raises(ValueError, match="myops.filtered_lrelu: up must be an int, got 1.5"):
        myops.filtered_lrelu(x, up=1.5)
    with pytest.raises(ValueError, match="myops.filtered_lrelu: gain must be a number"):
        myops.filtered_lrelu(x, gain="big")


# ------------------------------------------------------------------------------ gradients

def test_gradient_is_zero_where_clamped(device):
    x = _x((1, 2, 6, 6), device, requires_grad=True)
    b = _x(2, device, requires_grad=True)
    f = torch.full((4,), 0.25, device=device, dtype=torch.float64)
    myops.filtered_lrelu(x, f, f, b, 2, 2, [2, 1, 2, 1], clamp=0.0).sum().backward()
    assert x.grad.abs().max() == 0 and b.grad.abs().max() == 0
    # A huge x: every activation is clamped, everything is +-clamp, no gradient.
    xl = (1e3 * torch.sign(_x((1, 2, 6, 6), device))).requires_grad_()
    y = myops.filtered_lrelu(xl, None, None, None, clamp=1.0)
    torch.testing.assert_close(y.abs(), torch.ones_like(y))
    y.sum().backward()
    assert xl.grad.abs().max() == 0


@pytest.mark.parametrize("up, down, fu, fd, clamp", [(2, 2, (4,), (4,), 0.8), (1, 2, (3, 3), None, None),
                                                     (4, 1, (5,), (2, 3), None)])
def test_gradgradcheck_x_and_b(device, up, down, fu, fd, clamp):
    fil = lambda s: None if s is None else torch.rand(s, device=device, dtype=torch.float64)  # noqa: E731
    fu, fd = fil(fu), fil(fd)
    x, b = _x((1, 2, 4, 5), device, requires_grad=True), _x(2, device, requires_grad=True)

    def fn(x, b):
        return myops.filtered_lrelu(x, fu, fd, b, up, down, [2, 1, 1, 2], 1.2, 0.2, clamp, False)
    torch.autograd.gradcheck(fn, (x, b))
    torch.autograd.gradgradcheck(fn, (x, b))


def test_third_order_matches_reference(device):
    """d/dx of <dx/dy-weighted> second-order terms, against autograd through the reference."""
    f = torch.rand(4, device=device, dtype=torch.float64)
    x, b = _x((1, 2, 4, 5), device, requires_grad=True), _x(2, device, requires_grad=True)

    def third(fn):
        y = fn(x, f, f, b, 2, 2, [2, 1, 2, 1], 1.4, 0.3, None, False)
        (gx,) = torch.autograd.grad(y, x, torch.ones_like(y) + y, create_graph=True)
        (ggx, gb) = torch.autograd.grad((gx ** 2).sum(), (x, b), create_graph=True)
        return torch.autograd.grad((ggx * gb.sum()).sum(), (x, b))
    for got, want in zip(third(myops.filtered_lrelu), third(reference.filtered_lrelu)):
        torch.testing.assert_close(got, want)


def test_filters_requiring_grad_are_an_error(device):
    x = _x((1, 1, 4, 4), device, requires_grad=True)
    f = torch.ones(2, 2, device=device, dtype=torch.float64, requires_grad=True)
    for kw in ({"fu": f}, {"fd": f}):
        name = next(iter(kw))
        with pytest.raises(RuntimeError, match=f"myops.filtered_lrelu: {name} requires grad, but the filters are not"):
            myops.filtered_lrelu(x, **kw)
        with pytest.raises(RuntimeError, match=f"{name} requires grad"):
            myops.filtered_lrelu(x.detach(), **kw)  # even when x does not require grad
    with torch.no_grad():  # no graph is recorded: nothing to get wrong
        torch.testing.assert_close(myops.filtered_lrelu(x, f, f), reference.filtered_lrelu(x.detach(), f.detach(), f.detach()))
    myops.filtered_lrelu(x, f.detach(), f.detach()).sum().backward()  # the documented fix
    assert x.grad is not None


# ------------------------------------------------------------------------------ torch.compile

def test_compiled_backward_calls_the_backward_op_by_name(device):
    backend = AotEagerAndRecordGraphs()
    f = torch.full((4,), 0.25, device=device)
    x = torch.randn(2, 3, 8, 8, device=device, requires_grad=True)
    b = torch.randn(3, device=device, requires_grad=True)
    fn = torch.compile(lambda x, b: myops.filtered_lrelu(x, f, f, b, 2, 2, [2, 1, 2, 1], clamp=1.0),
                       backend=backend, fullgraph=True, dynamic=True)
    fn(x, b).sum().backward()
    assert any("myops.filtered_lrelu.default" in g.code for g in backend.fw_graphs)
    assert any("myops.filtered_lrelu_backward.default" in g.code for g in backend.bw_graphs)
    rx, rb = x.detach().requires_grad_(), b.detach().requires_grad_()
    reference.filtered_lrelu(rx, f, f, rb, 2, 2, [2, 1, 2, 1], clamp=1.0).sum().backward()
    torch.testing.assert_close(x.grad, rx.grad)
    torch.testing.assert_close(b.grad, rb.grad)


# ------------------------------------------------ a StyleGAN3 synthesis layer, trained compiled

class SynthesisLayer(torch.nn.Module):
    """A StyleGAN3-style synthesis layer, written here (not copied): an affine map of the latent
    w to per-channel styles, a modulated, demodulated 3x3 convolution (grouped over the batch),
    then filtered_lrelu (up 2, down 2, 6-tap Kaiser filters, bias, clamp) back to the input
    size."""

    def __init__(self, w_dim=8, in_channels=4, out_channels=5, size=8, taps=6):
        super().__init__()
        g = torch.Generator().manual_seed(0)
        self.affine = torch.nn.Linear(w_dim, in_channels, dtype=torch.float64)
        self.weight = torch.nn.Parameter(torch.randn(out_channels, in_channels, 3, 3, generator=g, dtype=torch.float64))
        self.bias = torch.nn.Parameter(torch.randn(out_channels, generator=g, dtype=torch.float64) * 0.1)
        f = torch.kaiser_window(taps, periodic=False, beta=6.0, dtype=torch.float64)
        self.register_buffer("filter", f / f.sum())
        # the conv output (size + 2 - 3 + 1 = size) back to `size` after up 2 / down 2
        self.padding = myops.ops_filtered_lrelu.stylegan3_padding(size, size, 2, 2, taps, taps)

    def forward(self, x, w, lrelu=myops.filtered_lrelu):
        styles = self.affine(w)  # [N, in]
        weight = self.weight[None] * styles[:, None, :, None, None]  # modulate
        weight = weight * (weight.square().sum(dim=[2, 3, 4], keepdim=True) + 1e-8).rsqrt()  # demodulate
        n, out_c = weight.shape[:2]
        y = torch.nn.functional.conv2d(x.reshape(1, -1, *x.shape[2:]), weight.reshape(-1, *weight.shape[2:]),
                                       padding=1, groups=n).reshape(n, out_c, *x.shape[2:])
        return lrelu(y, self.filter, self.filter, self.bias, up=2, down=2, padding=self.padding, clamp=1.0)


def _train(layer, forward, batches, steps=3, after_step=lambda: None):
    opt = torch.optim.SGD(layer.parameters(), lr=0.05)
    losses = []
    for step in range(steps):
        x, w = batches[step % len(batches)]
        loss = forward(x, w).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.detach())
        after_step()
    return losses


def test_synthesis_layer_trains_the_same_compiled_and_eager():
    """A few SGD steps through torch.compile(fullgraph=True, dynamic=True) give the eager
    result (losses and parameters), across two batch sizes with no recompile, and the eager
    result equals the same layer on myops.reference.filtered_lrelu."""
    g = torch.Generator().manual_seed(1)
    batches = [(torch.randn(n, 4, 8, 8, generator=g, dtype=torch.float64),
                torch.randn(n, 8, generator=g, dtype=torch.float64)) for n in (2, 3)]
    eager = SynthesisLayer()
    compiled_layer, ref, initial = (copy.deepcopy(eager) for _ in range(3))
    frames = []

    def counting_backend(gm, example_inputs):
        frames.append(gm)
        from torch._dynamo.backends.common import aot_autograd
        from functorch.compile import make_boxed_func
        return aot_autograd(fw_compiler=lambda g, _: make_boxed_func(g.forward),
                            bw_compiler=lambda g, _: make_boxed_func(g.forward))(gm, example_inputs)

    compiled = torch.compile(compiled_layer, backend=counting_backend, fullgraph=True, dynamic=True)
    eager_losses = _train(eager, eager, batches)
    backend_calls_per_step = []
    compiled_losses = _train(compiled_layer, compiled, batches, after_step=lambda: backend_calls_per_step.append(len(frames)))
    ref_losses = _train(ref, lambda x, w: ref(x, w, lrelu=reference.filtered_lrelu), batches)
    torch.testing.assert_close(compiled_losses, eager_losses)
    torch.testing.assert_close(eager_losses, ref_losses)
    for a, b, c in zip(eager.parameters(), compiled_layer.parameters(), ref.parameters()):
        torch.testing.assert_close(b, a)
        torch.testing.assert_close(a, c)
    assert not torch.equal(eager.weight, initial.weight)  # it did train
    # The first step compiles; the later ones (the other batch size, then the first again) must
    # reuse that graph. Within the first compile the backend may be called more than once: torch
    # 2.15 first traces the wrapper's float defaults (gain, slope) as symbolic floats, finds that
    # they reach the op's `float` arguments (which cannot become tensor math), and restarts the
    # analysis with them specialized ("Restarting analysis due to _tensorify_python_scalars" in
    # TORCH_LOGS=dynamo; same frame and compile id, not a recompile; 2.11 traces once).
    assert backend_calls_per_step[0] >= 1
    assert backend_calls_per_step[1:] == backend_calls_per_step[:1] * (len(backend_calls_per_step) - 1), (
        f"recompiled for another batch size: backend calls after each step {backend_calls_per_step}")
    assert "torch.ops.myops.filtered_lrelu" in frames[-1].code
