"""Table entry of upfirdn2d (StyleGAN's upsample, FIR filter, downsample)."""

from __future__ import annotations

import torch

import myops
from myops import reference
from opinfo import Autocast, ErrorCase, OpInfo, Sample, _layout, _t, cast_args


def _filter(shape, device, dtype):
    """A random filter scaled to sum |f| = 1 (outputs stay in x's range, so float16/bfloat16
    tolerances hold). Never requires grad: the filter is not differentiable."""
    f = torch.randn(shape, device=device, dtype=torch.float64)
    return (f / f.abs().sum()).to(dtype)


def upfirdn2d_samples(device, dtype, requires_grad):
    """(x, f, up, down, padding, flip_filter, gain) over the op's axes: up/down 1, 2, 4 (also
    per axis), padding positive/zero/negative, 1-D and 2-D filters of 1 to 12 taps, flips,
    gains, H != W, 1 x N images, strides. Filters are float32 (what setup_filter gives), except
    with float64 x, where they are float64 so gradcheck runs (one float32 sample keeps the mix)."""
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    x = lambda shape: _t(shape, device, dtype, requires_grad)  # noqa: E731
    fil = lambda shape: _filter(shape, device, f_dtype)  # noqa: E731
    S = Sample
    yield S("identity", (x((2, 3, 5, 7)), None, [1, 1], [1, 1], [0, 0, 0, 0], False, 1.0))
    yield S("up2_sep4", (x((1, 2, 5, 7)), fil(4), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    yield S("down2_sep4", (x((1, 2, 6, 7)), fil(4), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0))
    yield S("up2_2d4x4_flip", (x((1, 2, 5, 7)), fil((4, 4)), [2, 2], [1, 1], [2, 1, 2, 1], True, 4.0))
    yield S("down2_2d4x4", (x((1, 2, 7, 6)), fil((4, 4)), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0))
    yield S("up4_sep3_odd", (x((1, 2, 3, 4)), fil(3), [4, 4], [1, 1], [1, 2, 2, 1], False, 16.0))
    yield S("down4_2d3x5_neg_gain", (x((1, 2, 9, 11)), fil((3, 5)), [1, 1], [4, 4], [2, 0, 1, 3], False, -0.5))
    yield S("up2_down4_sep12_even", (x((1, 1, 5, 7)), fil(12), [2, 2], [4, 4], [5, 6, 5, 6], True, 2.0))
    yield S("up4_down2_sep7_anisotropic", (x((1, 2, 4, 5)), fil(7), [4, 2], [2, 1], [3, 3, 1, 2], False, 0.25))
    yield S("negative_padding_crop", (x((1, 2, 6, 8)), fil((2, 3)), [1, 1], [1, 1], [-1, -2, 0, -1], False, 1.0))
    yield S("up2_down2_2d6x2_mixed_pad", (x((1, 2, 5, 6)), fil((6, 2)), [2, 1], [1, 2], [-1, 3, 4, -2], True, 1.5))
    yield S("one_tap_sep", (x((1, 2, 5, 7)), fil(1), [1, 2], [2, 1], [0, 0, 0, 0], False, 9.0))
    yield S("row_1xN_sep5", (x((2, 2, 1, 9)), fil(5), [1, 2], [1, 1], [2, 2, 2, 1], False, 1.0))
    yield S("noncontiguous", (_layout(_t((1, 2, 7, 5), device, dtype, False).transpose(2, 3), requires_grad),
                              fil(4), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    cl = _t((2, 3, 5, 6), device, dtype, False).contiguous(memory_format=torch.channels_last)
    yield S("channels_last_down2_2d", (_layout(cl, requires_grad), fil((3, 3)), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0))
    yield S("channels_last_up2_sep", (_layout(cl, requires_grad), fil(4), [2, 2], [1, 1], [2, 1, 2, 1], True, 4.0))
    yield S("expanded_batch", (_layout(_t((1, 2, 5, 7), device, dtype, False).expand(3, 2, 5, 7), requires_grad),
                               fil(2), [1, 1], [2, 2], [0, 0, 0, 0], False, 1.0))
    yield S("zero_batch", (x((0, 3, 5, 7)), fil(4), [2, 2], [1, 1], [2, 1, 2, 1], False, 1.0))
    # The plane path (ops/upfirdn2d/upfirdn2d_cpu_planes.h): small planes, at least one vector
    # of them (16 float lanes on AVX-512, 8 on AVX2; float64: 8 / 4), counts that leave a part
    # group, StyleGAN2's up/down/FIR calls with 1-D and 2-D filters, every layout it reads.
    yield S("planes_up2_2d4x4", (x((3, 7, 4, 4)), fil((4, 4)), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    yield S("planes_down2_2d4x4", (x((2, 9, 8, 8)), fil((4, 4)), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0))
    yield S("planes_fir_2d4x4_pad2", (x((2, 9, 6, 6)), fil((4, 4)), [1, 1], [1, 1], [2, 2, 2, 2], True, 4.0))
    yield S("planes_up2_sep4", (x((3, 7, 5, 6)), fil(4), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    yield S("planes_down2_sep4_crop", (x((1, 17, 8, 7)), fil(4), [1, 1], [2, 2], [1, 0, -1, 1], False, 1.0))
    yield S("planes_up4_down2_sep7", (x((1, 19, 5, 3)), fil(7), [4, 2], [2, 1], [3, 3, 1, 2], False, 0.25))
    yield S("planes_identity", (x((4, 5, 3, 3)), None, [1, 1], [1, 1], [0, 0, 0, 0], False, 2.0))
    yield S("planes_strided", (_layout(_t((2, 36, 7, 6), device, dtype, False)[:, ::2].transpose(2, 3), requires_grad),
                               fil((3, 4)), [2, 1], [1, 2], [1, 2, 0, 1], False, 1.0))
    # channels_last in place (ops/upfirdn2d/upfirdn2d_cpu_channels_last.h) with channel counts
    # that do not fill whole vectors, so that each ISA copy (tests/test_cpu_isa.py) runs its
    # cases: 20 (AVX-512: a block of 16 and one on the last 16 channels, overlapping it; AVX2: two
    # of 8 and one more), 12 (AVX-512: 12 of 16 lanes, masked; AVX2: 8 + the overlapping block),
    # 5 (AVX2: 5 of 8 lanes, masked; AVX-512: through planar copies); 2-D and separable steps
    # (a separable step's scratch holds whole vectors, masked or not).
    def channels_last_x(c):
        return _layout(_t((2, c, 4, 5), device, dtype, False).contiguous(memory_format=torch.channels_last), requires_grad)
    yield S("channels_last_c20_up2_2d", (channels_last_x(20), fil((4, 4)), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    yield S("channels_last_c12_down2_sep6", (channels_last_x(12), fil(6), [1, 1], [2, 2], [2, 2, 2, 2], False, 1.0))
    yield S("channels_last_c5_up2_2d", (channels_last_x(5), fil((4, 4)), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    # A channels_last 4x4 blur on the pixel rows (upfirdn2d_cpu_pixel_rows.h), wide enough for
    # columns summed from x's rows in place (bfloat16 on AVX-512: widened as loaded), and a bottom
    # padding past the filter, so that its last output rows read no image row: such rows loaded
    # rows past x's end from an earlier call's pointers (ASan, 2026-12-07; the sums were right).
    cl_wide = _t((1, 5, 6, 20), device, dtype, False).contiguous(memory_format=torch.channels_last)
    yield S("channels_last_c5_blur_2d4x4_pad_beyond", (_layout(cl_wide, requires_grad), fil((4, 4)), [1, 1], [1, 1],
                                                      [2, 1, 2, 6], False, 1.0))
    # The flat path (ops/upfirdn2d/upfirdn2d_cpu_flat.h): a 2-D filter without resampling (a blur)
    # on contiguous rows that fill whole vectors badly (9 and 17 outputs a row), border rows on
    # both sides, a crop, a flip.
    yield S("flat_blur_2d4x4_pad2", (x((1, 2, 7, 8)), fil((4, 4)), [1, 1], [1, 1], [2, 2, 2, 2], False, 1.0))
    yield S("flat_blur_2d3x5_flip_crop", (x((2, 1, 9, 17)), fil((3, 5)), [1, 1], [1, 1], [2, 2, -1, 3], True, 2.0))
    # The row path's runs of output rows (RowRun, upfirdn2d_cpu_rows.h; a 1-D filter makes both
    # passes in registers there): 4-tap filters, blur and down 2 along y, with the first and last
    # output rows reading only padding (no input row at all) before and after the runs.
    yield S("rows_sep4_blur_pad_beyond", (x((1, 2, 14, 18)), fil(4), [1, 1], [1, 1], [2, 2, 5, 6], False, 1.0))
    yield S("rows_sep4_down2_pad_beyond", (x((1, 2, 12, 20)), fil(4), [1, 1], [1, 2], [2, 1, 6, 7], True, 1.0))
    yield S("rows_2d4x4_down2_pad_beyond", (x((1, 2, 12, 20)), fil((4, 4)), [1, 1], [2, 2], [1, 2, 7, 6], False, 1.0))
    if dtype == torch.float64:
        yield S("f32_filter", (x((1, 2, 5, 7)), _filter(4, device, torch.float32), [2, 2], [2, 2], [1, 2, 1, 2], False, 1.0))


def upfirdn2d_large_samples(device, dtype, requires_grad):
    """StyleGAN's resampling on [3, 5, 70, 300] (many row tiles, so threads split the work):
    upsample2d's call with a 2-D 4x4 filter, and a separable downsample by [2, 4]."""
    x = _t((3, 5, 70, 300), device, dtype, requires_grad)
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    yield Sample("large_up2_2d4x4", (x, _filter((4, 4), device, f_dtype), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0))
    yield Sample("large_down2x4_sep4", (x, _filter(4, device, f_dtype), [1, 1], [2, 4], [1, 1, 1, 1], False, 1.0))


def _filter_errors(pre, args, f, device):
    """The filter's error cases, alike for upfirdn2d and upfirdn2d_stacked: `args(**kw)` is a
    valid call with `f` (a separable filter) and the arguments in kw replaced."""
    yield ErrorCase("f_int", args(f=f.int()), TypeError, f"{pre}: f must be float32 or x's dtype \\(Float\\), got Int")
    yield ErrorCase("negative_gain_separable", args(gain=-1.0), ValueError, f"{pre}: gain must be >= 0 with a 1-D")
    other = "meta" if device == "cpu" else "cpu"
    yield ErrorCase("mixed_devices", args(f=f.to(other)), RuntimeError, f"{pre}: expected all tensors on the same device")
    yield ErrorCase("f_requires_grad", args(f=f.clone().requires_grad_()), RuntimeError,
                    f"{pre}: f requires grad, but the filter is not differentiable")


def upfirdn2d_errors(device):
    x = torch.ones(1, 2, 5, 7, device=device)
    f = torch.ones(4, device=device)
    pre = "myops.upfirdn2d"
    args = lambda **kw: tuple({"x": x, "f": f, "up": [1, 1], "down": [1, 1], "padding": [0, 0, 0, 0],  # noqa: E731
                               "flip_filter": False, "gain": 1.0, **kw}.values())
    yield ErrorCase("int_x", args(x=x.int()), TypeError, f"{pre}: x must be a floating-point tensor.*Int")
    yield ErrorCase("x_3d", args(x=x[0]), ValueError, f"{pre}: x must be 4-D \\[N, C, H, W\\], got 3-D")
    yield ErrorCase("f_3d", args(f=torch.ones(2, 2, 2, device=device)), ValueError, f"{pre}: f must be 1-D .* or 2-D .*got 3-D")
    yield ErrorCase("f_empty", args(f=torch.ones(0, device=device)), ValueError, f"{pre}: f must have at least one tap")
    yield ErrorCase("f_float64_with_float32_x", args(f=f.double()), TypeError, f"{pre}: f must be float32 or x's dtype")
    yield ErrorCase("up_zero", args(up=[0, 1]), ValueError, f"{pre}: up must be >= 1 along x and y, got \\[0, 1\\]")
    yield ErrorCase("down_negative", args(down=[1, -2]), ValueError, f"{pre}: down must be >= 1")
    yield ErrorCase("output_empty_width", args(padding=[-2, -2, 0, 0]), ValueError,
                    f"{pre}: the output would be empty along width: .*in 7 \\* up 1 \\+ padding -2 \\+ -2 = 3\\) must be at least the filter's 4 taps")
    yield ErrorCase("output_empty_height", args(f=torch.ones(6, 3, device=device)), ValueError,
                    f"{pre}: the output would be empty along height: .*= 5\\) must be at least the filter's 6 taps")
    yield from _filter_errors(pre, args, f, device)


def upfirdn2d_resizable_args(device, n):
    """Batch n through upsample (up 2, separable 4 taps): forward + backward, no recompile."""
    # 3, 6, 8: sizes that no n equals (duck sizing would tie them to n and recompile).
    return (torch.randn(n, 3, 6, 8, device=device, requires_grad=True), _filter(4, device, torch.float32),
            [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)


def _autocast_cast(args, dtype, device_type):
    """Runs in x's dtype; a float32 filter is taken with any x, other filter dtypes cast to x's."""
    f = args[1]
    return args if f is None or f.dtype == torch.float32 else cast_args(args, args[0].dtype, device_type, which=(1,))


# ------------------------------------------------------------------ fuzzing (tests/test_fuzz.py)

def _fuzz_filter(draw, st, device, x_dtype, max_taps, taps=None):
    """None, or a 1-D/2-D filter (float32 or x's dtype) of 1 to max_taps taps (`taps`: exactly
    that many along each axis, never None), sum |f| = 1, with any layout; taps longer than the
    input included."""
    from opinfo._fuzz import tensors

    kind = draw(st.sampled_from(("none", "1d", "2d") if taps is None else ("1d", "2d")))
    if kind == "none":
        return None
    n = (lambda: draw(st.integers(1, max_taps))) if taps is None else (lambda: taps)  # noqa: E731
    shape = (n(),) if kind == "1d" else (n(), n())
    dtype = draw(st.sampled_from((torch.float32, x_dtype)))
    f, _ = draw(tensors(shape, torch.float64, "cpu", specials=False))
    norm = f.abs().sum()
    f = (f / norm if norm > 0 else f)
    return f.to(dtype).as_strided(f.shape, f.stride(), 0).to(device) if f.is_contiguous() else f.to(device, dtype)


# 0 channels now and then (the reference cannot run those: test_fuzz counts them "empty"), and
# now and then enough planes (N * C up to 34) for the CPU plane path, which takes L at a time
# (16 float32 lanes on AVX-512, 8 on AVX2; 34 leaves a partial last group): with at most 6
# planes the fuzz never reached it.
CHANNELS_CHOICES = (0, 1, 1, 2, 2, 3, 3, 1, 9, 17)


def _fuzz_upfirdn2d(device):
    """x [N, C, H, W] (0-size N/C, 1-pixel rows) with any layout and dtype, filters None/1-D/2-D
    of up to 12 taps (longer than the input too), up/down 1 to 8 per axis, padding -6 to 8
    (crops), flips, gains 0/tiny/huge (a negative gain with a 1-D filter, an empty output:
    ValueError); a third of them StyleGAN's calls on planes up to 40 x 40 (below)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, scalars, tensors

    CHANNELS = st.sampled_from(CHANNELS_CHOICES)

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        # A third of the cases are StyleGAN's own calls: 4-tap filters, up / down 1 or 2, planes
        # up to 40 x 40, with paddings that can leave output rows reading only padding. They reach
        # the CPU row path's runs of output rows (RowRun) with such rows around them, which the
        # rest of the space hits too rarely: an out-of-bounds access there (docs/performance.md,
        # "RowRun for 1-D filters") went unseen by 3,000 examples without them.
        stylegan = draw(st.integers(0, 2)) == 0
        side = st.integers(1, 40) if stylegan else st.integers(1, 8)
        shape = (draw(st.integers(0, 2)), draw(CHANNELS), draw(side), draw(side))
        x, sx = draw(tensors(shape, dtype, device))
        f = _fuzz_filter(draw, st, device, dtype, 12, taps=4 if stylegan else None)
        small = st.integers(1, 2) if stylegan else st.one_of(st.integers(1, 2), st.integers(1, 8))
        up = [draw(small), draw(small)]
        down = [draw(small), draw(small)]
        padding = [draw(st.integers(-6, 8)) for _ in range(4)]
        flip = draw(st.booleans())
        gain = float(draw(scalars(1.0, 0.0, 1e-6, 4.0, 1e6, -0.5, lo=-2, hi=16)))
        error = None
        fh, fw = (1, 1) if f is None else (f.shape[0], f.shape[0]) if f.dim() == 1 else tuple(f.shape)
        if x.shape[3] * up[0] + padding[0] + padding[1] < fw or x.shape[2] * up[1] + padding[2] + padding[3] < fh:
            error = ValueError
        if f is not None and f.dim() == 1 and gain < 0:
            error = ValueError
        return FuzzCase((x, f, up, down, padding, flip, gain), error=error, specials=sx)
    return strategy()


def finite_abs(t):
    """|t| in float64, its NaN/inf as 0 (OpInfo.fuzz_magnitude counts the finite terms)."""
    return None if t is None else t.detach().double().nan_to_num(0.0, 0.0, 0.0).abs()


def upfirdn2d_magnitude(x, f, up, down, padding, flip_filter, gain):
    """The sum of |finite terms| behind each output (OpInfo.fuzz_magnitude): linear in x, f, gain."""
    return reference.upfirdn2d(finite_abs(x), finite_abs(f), up, down, padding, flip_filter, abs(gain))


# ------------------------------------------------ upfirdn2d_stacked (one filter per stack entry)

STACKED_FROM = ("up2_sep4", "down2_2d4x4", "up2_2d4x4_flip", "up4_down2_sep7_anisotropic", "negative_padding_crop",
                "one_tap_sep", "planes_up2_2d4x4", "planes_down2_sep4_crop")


def _stack(tensors, requires_grad):
    return _layout(torch.stack([t.detach() for t in tensors]), requires_grad)


def upfirdn2d_stacked_samples(device, dtype, requires_grad):
    """upfirdn2d's samples (those with a filter) stacked S = 3 times, each entry with its own x
    and filter; then the layouts upfirdn2d's vmap rule hands over: S not outermost (a vmap
    dim moved to the front), an x shared by every entry (expanded), per-entry channels_last,
    S = 1 and S = 0."""
    S = 3
    for name in STACKED_FROM:
        samples = [_sample_named(upfirdn2d_samples, name, device, dtype) for _ in range(S)]
        x = _stack([s.args[0] for s in samples], requires_grad)
        f = torch.stack([s.args[1] for s in samples])
        yield Sample(f"stacked_{name}", (x, f, *samples[0].args[2:]))
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    fil = lambda shape: _filter(shape, device, f_dtype)  # noqa: E731
    up2 = ([2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)
    moved = _t((2, S, 3, 5, 6), device, dtype, False).transpose(0, 1)  # [S, N, ...], S's stride not largest
    yield Sample("stack_dim_not_outermost", (_layout(moved, requires_grad), fil((S, 4)), *up2))
    shared = _t((2, 3, 5, 6), device, dtype, False).expand(S, 2, 3, 5, 6)
    yield Sample("shared_x_expanded", (_layout(shared, requires_grad), fil((S, 4, 4)), *up2))
    cl = _t((S * 2, 20, 4, 4), device, dtype, False).contiguous(memory_format=torch.channels_last).view(S, 2, 20, 4, 4)
    yield Sample("per_entry_cl_planes", (_layout(cl, requires_grad), fil((S, 4, 4)), [1, 1], [2, 2], [1, 1, 1, 1],
                                         False, 1.0))
    yield Sample("one_entry", (_t((1, 2, 3, 5, 7), device, dtype, requires_grad), fil((1, 3, 2)), [1, 2], [2, 1],
                               [1, 0, 2, 1], True, 2.0))
    yield Sample("zero_entries", (_t((0, 2, 3, 5, 7), device, dtype, requires_grad), fil((0, 4)), *up2))


def _sample_named(samples, name, device, dtype):
    return next(s for s in samples(device, dtype, False) if s.name == name)


def upfirdn2d_stacked_large_samples(device, dtype, requires_grad):
    """Two entries of upfirdn2d's large up and down calls (threads split each entry's work)."""
    for s in upfirdn2d_large_samples(device, dtype, False):
        x, f = s.args[0], s.args[1]
        yield Sample(f"stacked_{s.name}", (_stack([x, -x], requires_grad), torch.stack([f, f.flip(0)]), *s.args[2:]))


def upfirdn2d_stacked_errors(device):
    x = torch.ones(2, 1, 2, 5, 7, device=device)
    f = torch.ones(2, 4, device=device)
    pre = "myops.upfirdn2d_stacked"
    args = lambda **kw: tuple({"x": x, "f": f, "up": [1, 1], "down": [1, 1], "padding": [0, 0, 0, 0],  # noqa: E731
                               "flip_filter": False, "gain": 1.0, **kw}.values())
    yield ErrorCase("x_4d", args(x=x[0]), ValueError, f"{pre}: x must be 5-D \\[S, N, C, H, W\\], got 4-D")
    yield ErrorCase("f_1d", args(f=f[0]), ValueError, f"{pre}: f must be 2-D \\[S, taps\\] .* or 3-D .*got 1-D")
    yield ErrorCase("f_count", args(f=torch.ones(3, 4, device=device)), ValueError,
                    f"{pre}: f must have one filter per x\\[s\\]: f has 3, x has S = 2")
    yield ErrorCase("f_empty", args(f=torch.ones(2, 0, device=device)), ValueError, f"{pre}: f must have at least one tap")
    yield ErrorCase("output_empty_width", args(padding=[-2, -2, 0, 0]), ValueError,
                    f"{pre}: the output would be empty along width")
    yield from _filter_errors(pre, args, f, device)


def upfirdn2d_stacked_resizable_args(device, n):
    """n stack entries through upsample (up 2, separable 4 taps): forward + backward, no recompile."""
    return (torch.randn(n, 2, 3, 6, 8, device=device, requires_grad=True), _filter((n, 4), device, torch.float32),
            [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)


def _fuzz_upfirdn2d_stacked(device):
    """upfirdn2d's fuzz cases stacked 0 to 3 times (each entry x * k with its own filter f * k'),
    the stack dim outermost or not; a case without a filter gets a random 1-tap one."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase

    @st.composite
    def strategy(draw):
        case = draw(_fuzz_upfirdn2d(device))
        x, f, *rest = case.args
        if f is None:
            f = torch.full((1, 1), draw(st.sampled_from((1.0, -0.5, 2.0))), device=device)
        S = draw(st.integers(0, 3))
        if S == 0:
            xs, fs = x.unsqueeze(0)[:0], f.unsqueeze(0)[:0]
        else:
            scale = st.sampled_from((1.0, -1.0, 0.5, 2.0))
            entries = [x * draw(scale) for _ in range(S)]
            xs = torch.stack(entries) if draw(st.booleans()) else torch.stack(entries, dim=1).transpose(0, 1)
            fs = torch.stack([f * draw(scale) for _ in range(S)])
        return FuzzCase((xs, fs, *rest), error=case.error, specials=case.specials)
    return strategy()


def upfirdn2d_stacked_magnitude(x, f, up, down, padding, flip_filter, gain):
    return reference.upfirdn2d_stacked(finite_abs(x), finite_abs(f), up, down, padding, flip_filter, abs(gain))


OPS = [
    OpInfo("upfirdn2d", torch.ops.myops.upfirdn2d.default, myops.upfirdn2d, reference.upfirdn2d, upfirdn2d_samples,
           errors=upfirdn2d_errors,
           compile_samples=("identity", "up2_sep4", "down2_2d4x4", "up4_down2_sep7_anisotropic", "channels_last_up2_sep",
                            "negative_padding_crop"),
           resizable_args=upfirdn2d_resizable_args, large_samples=upfirdn2d_large_samples,
           fuzz_magnitude=upfirdn2d_magnitude,
           autocast=Autocast("x_dtype", cast=_autocast_cast, low_args=(0,)), fuzz=_fuzz_upfirdn2d),
    # Internal: what upfirdn2d's vmap rule calls for per-sample filters (every path of an op, so
    # that the rule's results hold wherever vmap runs: compile, export, autocast, DTensor, ...).
    OpInfo("upfirdn2d_stacked", torch.ops.myops.upfirdn2d_stacked.default, torch.ops.myops.upfirdn2d_stacked,
           reference.upfirdn2d_stacked, upfirdn2d_stacked_samples, errors=upfirdn2d_stacked_errors,
           compile_samples=("stacked_up2_sep4", "stacked_down2_2d4x4", "stack_dim_not_outermost", "zero_entries"),
           resizable_args=upfirdn2d_stacked_resizable_args, large_samples=upfirdn2d_stacked_large_samples,
           memory_formats=False,  # 5-D; per-entry channels_last is checked in tests/test_upfirdn2d.py
           fuzz_magnitude=upfirdn2d_stacked_magnitude,
           autocast=Autocast("x_dtype", cast=_autocast_cast, low_args=(0,)), fuzz=_fuzz_upfirdn2d_stacked),
]
