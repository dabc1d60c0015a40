"""Table entries of the filtered_lrelu family: filtered_lrelu (StyleGAN3's filtered leaky ReLU)
and its backward op, filtered_lrelu_backward."""

from __future__ import annotations

import math

import torch

import myops
from myops import reference
from myops.ops_filtered_lrelu import stylegan3_padding
from opinfo import Autocast, ErrorCase, OpInfo, Sample, _layout, _t, cast_args
from opinfo.upfirdn2d import finite_abs

SQRT2 = math.sqrt(2)


def _filter(shape, device, dtype, generator=None):
    """A random filter scaled to sum |f| = 1 (values stay in x's range). Never requires grad."""
    f = torch.randn(shape, dtype=torch.float64, generator=generator)
    return (f / f.abs().sum()).to(device, dtype)


def _fixed(generator):
    """_t's tensors (uniform in [-3, 3)) from `generator`: the samples' data is the same on every
    run, so the half-type gradient comparison (whose float16 reference rounds its intermediates)
    never meets an activation at lrelu's kink by chance."""
    def t(shape, device, dtype, requires_grad):
        u = torch.rand(shape, dtype=torch.float64, generator=generator) * 6 - 3
        return u.to(device, dtype).requires_grad_(requires_grad)
    return t


def _clamp_in_a_gap(args) -> float:
    """A clamp between two neighbouring pre-clamp values (the middle half's widest gap), so
    that no activation sits at the clamp's edge, where the gradient jumps: float16 rounding in
    the reference (or gradcheck's perturbation) must not move one across it."""
    x, fu, _, b, up, _, padding, gain, slope, _, flip = args
    wide = lambda t: None if t is None else t.detach().double()  # noqa: E731
    v = reference.filtered_lrelu(wide(x), wide(fu), None, wide(b), up, 1, padding, gain, slope, None, flip)
    v = v.abs().flatten().sort().values
    if v.numel() < 4:
        return 1.0
    mid = v[v.numel() // 4: 3 * v.numel() // 4 + 1]
    i = int((mid[1:] - mid[:-1]).argmax())
    return float(mid[i] + mid[i + 1]) / 2


def _gap(sample: Sample) -> Sample:
    """The sample with its clamp (None in args) replaced by _clamp_in_a_gap."""
    args = list(sample.args)
    args[9] = _clamp_in_a_gap(args)
    return Sample(sample.name, tuple(args))


def filtered_lrelu_samples(device, dtype, requires_grad):
    """(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter): up/down 1, 2, 4, 1-D
    and 2-D filters with odd and even taps (1 to 12), padding positive/zero/negative, clamp
    None/0/positive, slope 0 and 0.2, both flips, b None/given, StyleGAN3's layer arithmetic,
    strides, zero batch. Filters are float32 (what setup_filter gives), float64 with float64 x
    so gradcheck runs (one float32 sample keeps the mix)."""
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    gen = torch.Generator().manual_seed(2021)
    _t = _fixed(gen)
    x = lambda shape: _t(shape, device, dtype, requires_grad)  # noqa: E731
    b = lambda c: _t(c, device, dtype, requires_grad)  # noqa: E731
    fil = lambda shape: _filter(shape, device, f_dtype, gen)  # noqa: E731
    S = Sample
    yield S("defaults", (x((2, 3, 5, 7)), None, None, None, 1, 1, [0, 0, 0, 0], SQRT2, 0.2, None, False))
    yield S("up2_down2_sep4_b", (x((1, 3, 6, 7)), fil(4), fil(4), b(3), 2, 2, [2, 1, 2, 1], SQRT2, 0.2, None, False))
    yield _gap(S("up2_2d4x4_clamp", (x((1, 2, 5, 6)), fil((4, 4)), None, b(2), 2, 1, [2, 1, 2, 1], SQRT2, 0.2, None, False)))
    yield S("down2_2d3x3_flip", (x((1, 2, 7, 6)), None, fil((3, 3)), None, 1, 2, [1, 1, 1, 1], SQRT2, 0.2, None, True))
    yield _gap(S("up4_sep3_down4_sep5_odd", (x((1, 2, 4, 5)), fil(3), fil(5), b(2), 4, 4, [3, 2, 1, 4], 1.0, 0.2, None, False)))
    yield S("up1_down4_2d2x4_even", (x((1, 2, 9, 11)), fil((2, 4)), fil((4, 2)), None, 1, 4, [1, 2, 0, 3], SQRT2, 0.2, None, False))
    yield S("up4_down1_2d3x5", (x((1, 2, 3, 4)), fil((3, 5)), fil(2), b(2), 4, 1, [2, 2, 1, 2], 2.0, 0.2, None, True))
    yield _gap(S("up2_down4_sep12_even", (x((1, 1, 7, 8)), fil(12), fil(12), None, 2, 4, [6, 5, 6, 5], SQRT2, 0.2, None, True)))
    yield S("negative_padding_crop", (x((1, 2, 8, 9)), fil((2, 3)), fil(3), b(2), 2, 2, [-1, -2, 0, -1], SQRT2, 0.2, None, False))
    yield S("clamp_zero", (x((1, 2, 5, 6)), fil(4), fil(4), b(2), 2, 2, [2, 1, 2, 1], SQRT2, 0.2, 0.0, False))
    # A clamp past float16's range (no clamp there), found by make fuzz: see bias_act's clamp_huge.
    yield S("clamp_huge", (x((1, 2, 5, 6)), fil(4), fil(4), b(2), 2, 2, [2, 1, 2, 1], SQRT2, 0.2, 1e30, False))
    yield _gap(S("slope0_params", (x((2, 2, 5, 5)), fil((3, 3)), fil((2, 2)), b(2), 2, 2, [1, 1, 2, 0], 0.7, 0.0, None, True)))
    yield S("slope_large_gain", (x((1, 3, 6, 5)), fil(1), fil(2), b(3), 1, 2, [0, 1, 1, 0], 3.0, 0.5, None, False))
    yield _gap(S("stylegan3_layer_sep12", (x((1, 2, 10, 10)), fil(12), fil(12), b(2), 2, 2, stylegan3_padding(10, 6, 2, 2, 12, 12),
                                      SQRT2, 0.2, None, False)))
    yield S("row_1xN", (x((2, 2, 1, 9)), fil(3), fil(3), None, 2, 1, [1, 2, 2, 1], SQRT2, 0.2, None, False))
    yield _gap(S("noncontiguous", (_layout(_t((1, 2, 7, 5), device, dtype, False).transpose(2, 3), requires_grad),
                              fil(4), fil(4), b(2), 2, 2, [2, 1, 2, 1], SQRT2, 0.2, None, False)))
    cl = _t((2, 3, 5, 6), device, dtype, False).contiguous(memory_format=torch.channels_last)
    yield S("channels_last_up2_down2", (_layout(cl, requires_grad), fil(4), fil((3, 3)), b(3), 2, 2, [2, 1, 2, 1],
                                        SQRT2, 0.2, None, False))
    yield _gap(S("channels_last_down2_nobias", (_layout(cl.clone(memory_format=torch.channels_last), requires_grad),
                                           None, fil(4), None, 1, 2, [1, 1, 1, 1], SQRT2, 0.2, None, True)))
    yield S("expanded_batch", (_layout(_t((1, 2, 5, 7), device, dtype, False).expand(3, 2, 5, 7), requires_grad),
                               fil(2), fil(2), b(2), 2, 2, [1, 0, 1, 0], SQRT2, 0.2, None, False))
    yield S("zero_batch", (x((0, 3, 5, 7)), fil(4), fil(4), b(3), 2, 2, [2, 1, 2, 1], SQRT2, 0.2, None, False))
    if dtype == torch.float64:
        yield S("f32_filters", (x((1, 2, 5, 7)), _filter(4, device, torch.float32, gen), _filter((2, 2), device, torch.float32, gen),
                                b(2), 2, 2, [1, 2, 1, 2], SQRT2, 0.2, None, False))


def filtered_lrelu_large_samples(device, dtype, requires_grad):
    """A StyleGAN3 layer on [2, 8, 40, 60] (many rows and columns, so threads split the work and
    the vector loops run body and tail): up 2, down 2, 12-tap separable filters, clamp; 2-D
    filters with up 4, down 2; and wide rows that the fused CPU kernel splits into tiles."""
    f_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    x = _t((2, 8, 40, 60), device, dtype, requires_grad)
    b = _t(8, device, dtype, requires_grad)
    yield Sample("large_stylegan3_sep12", (x, _filter(12, device, f_dtype), _filter(12, device, f_dtype), b, 2, 2,
                                           [7, 6, 7, 6], SQRT2, 0.2, 1.0, False))
    yield Sample("large_up4_down2_2d", (x, _filter((4, 4), device, f_dtype), _filter((3, 3), device, f_dtype), None, 4, 2,
                                        [2, 1, 2, 1], SQRT2, 0.2, None, True))
    # Wide rows: the fused CPU kernel cuts each plane into 2 tiles of rows (~2^17 elements of
    # intermediate per tile), forward and backward, so threads also split planes.
    yield Sample("large_wide_two_tiles", (_t((1, 2, 21, 2100), device, dtype, requires_grad), _filter(8, device, f_dtype),
                                          _filter(8, device, f_dtype), _t(2, device, dtype, requires_grad), 2, 2,
                                          [7, 7, 7, 7], SQRT2, 0.2, 2.0, False))


def filtered_lrelu_errors(device):
    x = torch.ones(1, 2, 5, 7, device=device)
    f = torch.ones(4, device=device)
    pre = "myops.filtered_lrelu"
    args = lambda **kw: tuple({"x": x, "fu": f, "fd": f, "b": None, "up": 2, "down": 2, "padding": [2, 1, 2, 1],  # noqa: E731
                               "gain": SQRT2, "slope": 0.2, "clamp": None, "flip_filter": False, **kw}.values())
    yield ErrorCase("int_x", args(x=x.int()), TypeError, f"{pre}: x must be a floating-point tensor.*Int")
    yield ErrorCase("x_3d", args(x=x[0]), ValueError, f"{pre}: x must be 4-D \\[N, C, H, W\\], got 3-D")
    yield ErrorCase("fu_3d", args(fu=torch.ones(2, 2, 2, device=device)), ValueError, f"{pre}: fu must be None, 1-D .*got 3-D")
    yield ErrorCase("fd_empty", args(fd=torch.ones(0, device=device)), ValueError, f"{pre}: fd must have at least one tap")
    yield ErrorCase("fu_int", args(fu=f.int()), TypeError, f"{pre}: fu must be float32 or x's dtype \\(Float\\), got Int")
    yield ErrorCase("fd_float64_with_float32_x", args(fd=f.double()), TypeError, f"{pre}: fd must be float32 or x's dtype")
    yield ErrorCase("b_wrong_size", args(b=torch.ones(3, device=device)), ValueError,
                    f"{pre}: b must be 1-D with x.shape\\[1\\] = 2 elements, got shape \\[3\\]")
    yield ErrorCase("b_other_dtype", args(b=torch.ones(2, device=device, dtype=torch.float64)), TypeError,
                    f"{pre}: b must have x's dtype Float, got Double")
    yield ErrorCase("up_zero", args(up=0), ValueError, f"{pre}: up must be >= 1, got 0")
    yield ErrorCase("down_negative", args(down=-2), ValueError, f"{pre}: down must be >= 1, got -2")
    yield ErrorCase("padding_3", args(padding=[1, 1, 1]), ValueError, f"{pre}: padding must be \\[x0, x1, y0, y1\\]")
    yield ErrorCase("gain_zero", args(gain=0.0), ValueError, f"{pre}: gain must be > 0 and finite, got 0")
    yield ErrorCase("gain_nan", args(gain=float("nan")), ValueError, f"{pre}: gain must be > 0")
    yield ErrorCase("slope_negative", args(slope=-0.1), ValueError, f"{pre}: slope must be >= 0 and finite, got -0.1")
    yield ErrorCase("clamp_negative", args(clamp=-1.0), ValueError, f"{pre}: clamp must be None \\(no clamping\\) or >= 0, got -1")
    yield ErrorCase("output_empty_width", args(padding=[-4, -4, 2, 1]), ValueError,
                    f"{pre}: the output would be empty along width: .*in 7 \\* up 2 \\+ padding -4 \\+ -4 = 6\\) must be at least "
                    "fu's taps \\+ fd's taps - 1 = 7")
    yield ErrorCase("output_empty_height", args(fu=torch.ones(12, 3, device=device), up=1, padding=[2, 1, 0, 0]), ValueError,
                    f"{pre}: the output would be empty along height")
    other = "meta" if device == "cpu" else "cpu"
    yield ErrorCase("mixed_devices", args(fd=f.to(other)), RuntimeError, f"{pre}: expected all tensors on the same device, got x on .* and fd on")
    yield ErrorCase("fu_requires_grad", args(fu=f.clone().requires_grad_()), RuntimeError,
                    f"{pre}: fu requires grad, but the filters are not differentiable")
    yield ErrorCase("fd_requires_grad", args(fd=f.clone().requires_grad_()), RuntimeError,
                    f"{pre}: fd requires grad, but the filters are not differentiable")


def filtered_lrelu_resizable_args(device, n):
    """Batch n through a StyleGAN3-like layer (up 2, down 2, separable 4 taps, bias): forward + backward, no recompile."""
    # 3, 8, 10: sizes that no n equals (duck sizing would tie them to n and recompile).
    return (torch.randn(n, 3, 8, 10, device=device, requires_grad=True), _filter(4, device, torch.float32),
            _filter(4, device, torch.float32), torch.randn(3, device=device, requires_grad=True), 2, 2, [2, 1, 2, 1],
            SQRT2, 0.2, 1.0, False)


# ---------------------------------------------------------------------------- the backward op

def _with_grad(sample, device, dtype, requires_grad):
    """(grad, x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter) from a forward sample."""
    x, *rest = sample.args
    with torch.no_grad():
        out_shape = torch.ops.myops.filtered_lrelu(x.detach(), *rest).shape
    grad = _t(out_shape, device, dtype, requires_grad)
    return Sample(sample.name, (grad, *sample.args))


def filtered_lrelu_backward_samples(device, dtype, requires_grad):
    """A few of filtered_lrelu's samples with a gradient of the output's shape."""
    names = ("up2_down2_sep4_b", "up2_2d4x4_clamp", "up4_sep3_down4_sep5_odd", "negative_padding_crop",
             "channels_last_up2_down2", "zero_batch")
    for s in filtered_lrelu_samples(device, dtype, requires_grad):
        if s.name in names:
            yield _with_grad(s, device, dtype, requires_grad)


def filtered_lrelu_backward_errors(device):
    x, f = torch.ones(1, 2, 5, 7, device=device), torch.ones(4, device=device)
    pre = "myops.filtered_lrelu_backward"
    rest = (f, f, None, 2, 2, [2, 1, 2, 1], SQRT2, 0.2, None, False)  # output [1, 2, 4, 6]
    yield ErrorCase("grad_wrong_shape", (torch.ones(1, 2, 5, 7, device=device), x, *rest), ValueError,
                    f"{pre}: grad must have the output's shape \\[1, 2, 4, 6\\], got \\[1, 2, 5, 7\\]")
    yield ErrorCase("grad_other_dtype", (torch.ones(1, 2, 4, 6, device=device, dtype=torch.float64), x, *rest), TypeError,
                    f"{pre}: grad must have x's dtype Float, got Double")
    yield ErrorCase("bad_x", (torch.ones(1, 2, 4, 6, device=device), x.int(), *rest), TypeError,
                    "myops.filtered_lrelu: x must be a floating-point tensor")


def _autocast_cast(x_index, others):
    """Runs in x's dtype: the tensors at `others` (grad, b) cast to it; a filter (fu, fd) only
    when it is neither float32 nor x's dtype, as upfirdn2d."""
    def cast(args, dtype, device_type):
        x_dtype = args[x_index].dtype
        filters = [i for i in (x_index + 1, x_index + 2) if args[i] is not None and args[i].dtype != torch.float32]
        return cast_args(args, x_dtype, device_type, which=(*others, *filters))
    return cast


# ------------------------------------------------------------------ fuzzing (tests/test_fuzz.py)

def _fuzz_filtered_lrelu(device):
    """x [N, C, H, W] with any layout and dtype, fu/fd None/1-D/2-D of up to 8 taps (longer
    than the input too), b None or [C], up/down 1 to 8, padding -6 to 8, both flips, gain/slope/
    clamp with their edges (0, tiny, huge) and invalid values (gain <= 0 or not finite, slope
    < 0, clamp < 0, an empty output: ValueError)."""
    from hypothesis import assume
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, scalars, tensors
    from opinfo.upfirdn2d import CHANNELS_CHOICES, _fuzz_filter

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        shape = (draw(st.integers(0, 2)), draw(st.sampled_from(CHANNELS_CHOICES)), draw(st.integers(1, 8)),
                 draw(st.integers(1, 8)))
        x, sx = draw(tensors(shape, dtype, device))
        fu = _fuzz_filter(draw, st, device, dtype, 8)
        fd = _fuzz_filter(draw, st, device, dtype, 8)
        b, sb = (None, False)
        if draw(st.booleans()):
            b, sb = draw(tensors((shape[1],), dtype, device, layouts=("contiguous", "sliced", "offset")))
        small = st.one_of(st.integers(1, 2), st.integers(1, 8))
        up, down = draw(small), draw(small)
        padding = [draw(st.integers(-6, 8)) for _ in range(4)]
        # Not fuzzed: a crop on one side longer than the (upsampled) input while the other side
        # pads ([0, 0, 2, -2] on 1 row). The op gives the pad-then-crop result (as upfirdn2d and
        # its reference do), but filtered_lrelu's reference pads with one F.pad, which raises
        # "narrow(): length must be non-negative" there: a limit of the reference, not the op.
        assume(shape[3] * up - max(-padding[0], 0) - max(-padding[1], 0) >= 0
               and shape[2] * up - max(-padding[2], 0) - max(-padding[3], 0) >= 0)
        gain = float(draw(scalars(SQRT2, 1.0, 1e-6, 1e6, 0.0, -1.0, float("inf"), float("nan"), lo=0.01, hi=4)))
        slope = float(draw(scalars(0.2, 0.0, 1.0, 5.0, -0.1, lo=0, hi=2)))
        clamp = draw(st.one_of(st.none(), scalars(0.0, 0.5, 256.0, 1e30, -1.0, float("nan"), lo=0, hi=4)))
        flip = draw(st.booleans())
        error = None
        taps = lambda f, axis: 1 if f is None else f.shape[0] if f.dim() == 1 else f.shape[axis]  # noqa: E731
        if (shape[3] * up + padding[0] + padding[1] < taps(fu, 1) + taps(fd, 1) - 1
                or shape[2] * up + padding[2] + padding[3] < taps(fu, 0) + taps(fd, 0) - 1):
            error = ValueError
        if not (0 < gain < float("inf")) or not slope >= 0 or (clamp is not None and not clamp >= 0):
            error = ValueError
        return FuzzCase((x, fu, fd, b, up, down, padding, gain, slope, clamp, flip), error=error, specials=sx or sb)
    return strategy()


def filtered_lrelu_backward_func_ref(grad, x, fu, fd, b, *args):
    """filtered_lrelu_backward from the reference with torch.func.vjp, so that functorch transforms
    see through it."""
    return torch.func.vjp(lambda x: reference.filtered_lrelu(x, fu, fd, b, *args), x)[1](grad)[0]


def filtered_lrelu_magnitude(x, fu, fd, b, up, down, padding, gain, slope, clamp, flip_filter):
    """A bound on the |finite terms| behind each output (OpInfo.fuzz_magnitude): the reference
    on |x| + |b|, |fu|, |fd| (NaN/inf as 0, no clamp), every term non-negative, so leaky_relu
    is the identity; max(1, |slope|) * |gain| bounds what it multiplies a term by."""
    return reference.filtered_lrelu(finite_abs(x), finite_abs(fu), finite_abs(fd), finite_abs(b), up, down, padding,
                                    abs(gain) * max(1.0, abs(slope)),
                                    0.0, None, flip_filter)


OPS = [
    OpInfo("filtered_lrelu", torch.ops.myops.filtered_lrelu.default, myops.filtered_lrelu, reference.filtered_lrelu,
           filtered_lrelu_samples, errors=filtered_lrelu_errors,
           compile_samples=("defaults", "up2_down2_sep4_b", "up2_2d4x4_clamp", "stylegan3_layer_sep12",
                            "channels_last_up2_down2", "negative_padding_crop"),
           resizable_args=filtered_lrelu_resizable_args, large_samples=filtered_lrelu_large_samples,
           autocast=Autocast("x_dtype", cast=_autocast_cast(0, (3,)), low_args=(0,)), fuzz=_fuzz_filtered_lrelu,
           fuzz_magnitude=filtered_lrelu_magnitude),
    # The backward op is internal (no Python wrapper): autograd and compiled backward graphs call it.
    OpInfo("filtered_lrelu_backward", torch.ops.myops.filtered_lrelu_backward.default,
           torch.ops.myops.filtered_lrelu_backward, reference.filtered_lrelu_backward, filtered_lrelu_backward_samples,
           func_ref=filtered_lrelu_backward_func_ref,
           errors=filtered_lrelu_backward_errors,
           compile_samples=("up2_down2_sep4_b", "channels_last_up2_down2"),
           autocast=Autocast("x_dtype", cast=_autocast_cast(1, (0, 4)), x=1, low_args=(0, 1))),
]
