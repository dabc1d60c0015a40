"""The table of myops operators: one OpInfo per op, with its samples, reference, tolerances,
differentiability and error cases. Every test module iterates this table (PyTorch's OpInfo
pattern), so adding an op here gets it values, opcheck, gradcheck, compile, TorchScript,
export and error tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch
from torch.testing import make_tensor

import myops
from myops import reference

FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)

# (atol, rtol) against the reference evaluated in float64 and rounded to the result dtype.
DEFAULT_TOLERANCES = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1e-2, 1e-2),
}


@dataclass
class Sample:
    """One call: op(*args, **kwargs). `name` shows up in test ids."""

    name: str
    args: tuple
    kwargs: dict = field(default_factory=dict)

    def tensors(self):
        return [a for a in (*self.args, *self.kwargs.values()) if isinstance(a, torch.Tensor)]

    def has_overlapping_input(self) -> bool:
        """Expanded (0-stride) inputs: fine for the op, not for gradcheck's perturbations."""
        return any(0 in t.stride() and t.numel() > 1 for t in self.tensors())


@dataclass
class ErrorCase:
    name: str
    args: tuple
    exc_type: type
    match: str  # regex fragment the message must contain
    kwargs: dict = field(default_factory=dict)


@dataclass
class OpInfo:
    name: str
    op: torch._ops.OpOverload          # what is tested: torch.ops.myops.<name>.default
    wrapper: Callable                  # myops.<name>, the Python API
    ref: Callable                      # myops.reference.<name>
    samples: Callable[..., Iterator[Sample]]  # (device, dtype, requires_grad) -> samples
    errors: Callable[..., Iterator[ErrorCase]] = lambda device: iter(())
    dtypes: tuple = FLOAT_DTYPES
    differentiable: bool = True        # gradcheck
    twice_differentiable: bool = True  # gradgradcheck
    out_arg: int | None = None         # mutating op: index of the argument it writes
    tolerances: dict = field(default_factory=lambda: dict(DEFAULT_TOLERANCES))
    # Samples run through torch.compile (static and dynamic) in test_compile.py.
    compile_samples: tuple = ()
    # (device, n) -> args whose leading size is n, requiring grad: test_compile checks that
    # three values of n run forward + backward with no recompile. None: not tested that way.
    resizable_args: Callable | None = None
    # Has samples named "channels_last*" (test_values checks the output keeps the format).
    # False for ops on 2-D tensors only, where memory formats mean nothing.
    memory_formats: bool = True

    def __str__(self):
        return self.name


# ------------------------------------------------------------------------- elementwise family

def _t(shape, device, dtype, requires_grad, **kw):
    return make_tensor(shape, device=device, dtype=dtype, low=-3, high=3, requires_grad=requires_grad, **kw)


def _layout(t: torch.Tensor, requires_grad: bool) -> torch.Tensor:
    """A leaf with t's (unusual) strides: detach() keeps them."""
    return t.detach().requires_grad_(requires_grad)


def binary_pairs(device, dtype, requires_grad):
    """(name, a, b): the layouts and shapes every binary elementwise op must handle."""
    t = lambda shape, **kw: _t(shape, device, dtype, requires_grad, **kw)  # noqa: E731
    yield "same_shape", t((5, 7)), t((5, 7))
    yield "broadcast_row", t((2, 3, 4)), t((4,))
    yield "broadcast_both", t((3, 1, 5)), t((1, 4, 1))
    yield "scalar_0dim", t(()), t((3, 4))
    yield "both_0dim", t(()), t(())
    yield "zero_size", t((0, 3)), t((3,))
    yield "noncontiguous", _layout(_t((6, 5), device, dtype, False).t(), requires_grad), t((5, 6), noncontiguous=True)
    cl = _t((2, 3, 4, 5), device, dtype, False).contiguous(memory_format=torch.channels_last)
    yield "channels_last", _layout(cl, requires_grad), t((2, 3, 4, 5))
    yield "channels_last_bias", _layout(cl, requires_grad), t((3, 1, 1))
    yield "expanded", _layout(_t((1, 6), device, dtype, False).expand(4, 6), requires_grad), t((4, 6))
    yield "storage_offset", _layout(_t((10,), device, dtype, False)[3:9], requires_grad), t((6,))
    if dtype != torch.float32:
        # type promotion: a in `dtype` with b in float32 (float16 + float32 -> float32)
        yield "promote_f32", t((4, 5)), _t((4, 5), device, torch.float32, requires_grad)
    yield "cpu_scalar_with_tensor", _t((), "cpu", dtype, requires_grad), t((3, 5))


def muladd_samples(device, dtype, requires_grad):
    for i, (name, a, b) in enumerate(binary_pairs(device, dtype, requires_grad)):
        yield Sample(name, (a, b, [0.5, -2.0, 0.0][i % 3]))


def binary_samples(device, dtype, requires_grad):
    for name, a, b in binary_pairs(device, dtype, requires_grad):
        yield Sample(name, (a, b))


def add_out_samples(device, dtype, requires_grad):
    for name, a, b in binary_pairs(device, dtype, requires_grad):
        result = torch.empty(0, device=a.device if a.dim() else b.device, dtype=torch.result_type(a, b))
        out = result.new_empty(torch.broadcast_shapes(a.shape, b.shape))
        yield Sample(name, (a, b, out))
    # out with strides of its own, and out being an input (in place, so no grad)
    a, b = _t((4, 6), device, dtype, False), _t((6,), device, dtype, False)
    yield Sample("out_noncontiguous", (a, b, torch.empty(6, 4, device=device, dtype=dtype).t()))
    yield Sample("out_is_a", (a.clone(), b, None))  # None: filled in below
    yield Sample("out_is_b", (b.clone(), b.clone(), None))


def _with_inplace_out(samples):
    for s in samples:
        if s.args[2] is None:
            a, b, _ = s.args
            s = Sample(s.name, (a, b, b if s.name == "out_is_b" else a))
        yield s


def binary_errors(op_name, with_out=False):
    def errors(device):
        f = lambda shape, dtype=torch.float32, dev=device: torch.ones(shape, dtype=dtype, device=dev)  # noqa: E731
        extra = lambda a, b: (a, b, f(torch.broadcast_shapes(a.shape, b.shape))) if with_out else (a, b)  # noqa: E731
        if op_name == "muladd":
            extra = lambda a, b: (a, b, 1.0)  # noqa: E731
        pre = f"myops.{op_name}"
        yield ErrorCase("int_a", extra(f(3, torch.int32), f(3)), TypeError, f"{pre}: a must be a floating-point tensor.*Int")
        yield ErrorCase("bool_b", extra(f(3), f(3, torch.bool)), TypeError, f"{pre}: b must be a floating-point tensor.*Bool")
        yield ErrorCase("complex_a", extra(f(3, torch.complex64), f(3)), TypeError, f"{pre}: a must be a floating-point.*ComplexFloat")
        yield ErrorCase("not_broadcastable", (f(3), f(4)) + ((f(4),) if with_out else (1.0,) if op_name == "muladd" else ()),
                        RuntimeError, f"{pre}: a and b cannot be broadcast together: shapes \\[3\\] and \\[4\\]")
        other = "meta" if device == "cpu" else "cpu"
        yield ErrorCase("mixed_devices", extra(f((2, 3)), f((2, 3), dev=other)), RuntimeError,
                        f"{pre}: expected all tensors on the same device")
        if with_out:
            a, b = f((2, 3)), f(3)
            yield ErrorCase("out_wrong_shape", (a, b, f((3, 2))), RuntimeError, f"{pre}: out must have the broadcast shape \\[2, 3\\]")
            yield ErrorCase("out_needs_resize", (a, b, f(0)), RuntimeError, "out is never resized")
            yield ErrorCase("out_wrong_dtype", (a, b, f((2, 3), torch.float64)), TypeError, f"{pre}: out must have the result dtype Float")
            yield ErrorCase("out_wrong_device", (a, b, f((2, 3), dev=other)), RuntimeError,
                            f"{pre}: (out must be on|expected all tensors on the same device)")
            base = f(7)
            yield ErrorCase("out_partial_overlap", (base[:6].view(2, 3), f(3), base[1:7].view(2, 3)), RuntimeError,
                            f"{pre}: out partially overlaps input a")
            yield ErrorCase("out_expanded", (a, b, f(3).expand(2, 3)), RuntimeError, f"{pre}: out has elements that share memory")
    return errors


BINARY_COMPILE_SAMPLES = ("same_shape", "broadcast_row", "channels_last", "noncontiguous", "scalar_0dim")


def binary_resizable_args(*extra):
    def make(device, n):
        return (torch.randn(n, 8, device=device, requires_grad=True), torch.randn(8, device=device, requires_grad=True), *extra)
    return make


# ------------------------------------------------------------------------------- upfirdn2d

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
    if dtype == torch.float64:
        yield S("f32_filter", (x((1, 2, 5, 7)), _filter(4, device, torch.float32), [2, 2], [2, 2], [1, 2, 1, 2], False, 1.0))


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
    yield ErrorCase("f_int", args(f=f.int()), TypeError, f"{pre}: f must be float32 or x's dtype \\(Float\\), got Int")
    yield ErrorCase("f_float64_with_float32_x", args(f=f.double()), TypeError, f"{pre}: f must be float32 or x's dtype")
    yield ErrorCase("up_zero", args(up=[0, 1]), ValueError, f"{pre}: up must be >= 1 along x and y, got \\[0, 1\\]")
    yield ErrorCase("down_negative", args(down=[1, -2]), ValueError, f"{pre}: down must be >= 1")
    yield ErrorCase("output_empty_width", args(padding=[-2, -2, 0, 0]), ValueError,
                    f"{pre}: the output would be empty along width: .*in 7 \\* up 1 \\+ padding -2 \\+ -2 = 3\\) must be at least the filter's 4 taps")
    yield ErrorCase("output_empty_height", args(f=torch.ones(6, 3, device=device)), ValueError,
                    f"{pre}: the output would be empty along height: .*= 5\\) must be at least the filter's 6 taps")
    yield ErrorCase("negative_gain_separable", args(gain=-1.0), ValueError, f"{pre}: gain must be >= 0 with a 1-D")
    other = "meta" if device == "cpu" else "cpu"
    yield ErrorCase("mixed_devices", args(f=f.to(other)), RuntimeError, f"{pre}: expected all tensors on the same device")
    yield ErrorCase("f_requires_grad", args(f=f.clone().requires_grad_()), RuntimeError,
                    f"{pre}: f requires grad, but the filter is not differentiable")


def upfirdn2d_resizable_args(device, n):
    """Batch n through upsample (up 2, separable 4 taps): forward + backward, no recompile."""
    # 3, 6, 8: sizes that no n equals (duck sizing would tie them to n and recompile).
    return (torch.randn(n, 3, 6, 8, device=device, requires_grad=True), _filter(4, device, torch.float32),
            [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)


# ------------------------------------------------------------------------- lltm

def lltm_args(device, dtype, requires_grad, batch, features, state, *, noncontiguous=False):
    """input [B, F], weights [3S, S+F], bias [3S], old_h, old_cell [B, S]. Weights scaled so the
    gate pre-activations have a standard deviation near 1 (neither saturated nor linear)."""
    k = state + features
    w_range = 3 / max(k, 1) ** 0.5
    t = lambda shape, r=1.0: make_tensor(shape, device=device, dtype=dtype, low=-r, high=r,  # noqa: E731
                                         requires_grad=requires_grad, noncontiguous=noncontiguous)
    if noncontiguous:
        # input and weights transposed (column-major), old_h/old_cell with a column stride of 2
        input = _layout(make_tensor((features, batch), device=device, dtype=dtype, low=-1, high=1).t(), requires_grad)
        weights = _layout(make_tensor((k, 3 * state), device=device, dtype=dtype, low=-w_range, high=w_range).t(),
                          requires_grad)
    else:
        input, weights = t((batch, features)), t((3 * state, k), w_range)
    return input, weights, t((3 * state,), 0.5), t((batch, state)), t((batch, state))


def lltm_samples(device, dtype, requires_grad):
    # Small enough for gradgradcheck. S = 6 and 9: vector body + scalar tail in the CPU loops for
    # some dtypes, tail only for others; test_lltm.py runs wider states in every dtype and ISA.
    yield Sample("basic", lltm_args(device, dtype, requires_grad, 4, 5, 6))
    yield Sample("batch1", lltm_args(device, dtype, requires_grad, 1, 3, 9))
    yield Sample("noncontiguous", lltm_args(device, dtype, requires_grad, 3, 4, 9, noncontiguous=True))
    yield Sample("zero_batch", lltm_args(device, dtype, requires_grad, 0, 3, 4))
    input, weights, bias, old_h, _ = lltm_args(device, dtype, False, 3, 2, 5)
    old_cell = _layout(_t((1, 5), device, dtype, False).expand(3, 5), requires_grad)
    yield Sample("expanded_old_cell", tuple(_layout(x, requires_grad) for x in (input, weights, bias, old_h)) + (old_cell,))


def lltm_errors(device):
    f = lambda shape, dtype=torch.float32, dev=device: torch.ones(shape, dtype=dtype, device=dev)  # noqa: E731
    B, F, S = 4, 5, 6
    good = dict(input=f((B, F)), weights=f((3 * S, S + F)), bias=f(3 * S), old_h=f((B, S)), old_cell=f((B, S)))

    def case(name, exc, match, **bad):
        return ErrorCase(name, tuple({**good, **bad}.values()), exc, f"myops.lltm: {match}")
    yield case("int_input", TypeError, "input must be a floating-point tensor.*Int", input=f((B, F), torch.int32))
    yield case("double_weights", TypeError, "weights must have input's dtype Float, got Double",
               weights=f((3 * S, S + F), torch.float64))
    yield case("input_1d", RuntimeError, "input must be 2-D \\[batch, features\\], got shape \\[5\\]", input=f(F))
    yield case("old_h_batch", RuntimeError, "old_h must be 2-D \\[batch, state\\] with batch = input.shape\\[0\\] = 4, "
               "got shape \\[3, 6\\]", old_h=f((3, S)))
    yield case("old_cell_shape", RuntimeError, "old_cell must have old_h's shape \\[4, 6\\], got shape \\[4, 7\\]",
               old_cell=f((B, 7)))
    yield case("weights_shape", RuntimeError, "weights must have shape \\[3 \\* state, state \\+ features\\] = "
               "\\[18, 11\\], got shape \\[18, 10\\]", weights=f((3 * S, 10)))
    yield case("bias_shape", RuntimeError, "bias must be 1-D with 3 \\* state = 18 elements, got shape \\[6\\]", bias=f(S))
    other = "meta" if device == "cpu" else "cpu"
    yield case("mixed_devices", RuntimeError, "expected all tensors on the same device, got input on .* and old_cell on",
               old_cell=f((B, S), dev=other))


def lltm_resizable_args(device, n):
    return lltm_args(device, torch.float32, True, n, 4, 6)


# float16: the gate pre-activations come out of a matrix product rounded to float16 (up to 3
# units, so 2^-11 * 3 before the gates), measured up to 6.3e-4 of (1 + |x|) over 30 seeds.
LLTM_TOLERANCES = {**DEFAULT_TOLERANCES, torch.float16: (2e-3, 2e-3)}


# ---------------------------------------------------------------------------- bias_act family

BIAS_ACTS = ("linear", "relu", "lrelu", "tanh", "sigmoid", "elu", "selu", "softplus", "swish")


def _away_from_clamp(x, b, dim, act, alpha, gain, clamp):
    """x with the elements whose unclamped output lies within 5% of +-clamp moved away from it.

    Exactly at +-clamp both the op and torch.clamp pass the gradient, but float16 rounding in
    the reference could put an element on the other side of the boundary than the op's
    float32 math does; gradcheck's finite differences must not straddle it either.
    """
    if clamp is None or x.numel() == 0 or 0 in x.stride():
        return x
    data = x.detach()
    for _ in range(10):
        bb = None if b is None else b.detach().double()
        s = reference.bias_act(data.double(), bb, dim, act, alpha, gain, None)
        near = ((s.abs() - clamp).abs() <= 0.05 * clamp + 0.02).to(data.device)
        if not near.any():
            break
        data.copy_(torch.where(near, data + 0.37, data))  # in place: keeps x's strides
    return data.requires_grad_(x.requires_grad)


def bias_act_samples(device, dtype, requires_grad):
    """(x, b, dim, act, alpha, gain, clamp), positional as the generic tests call them.

    Every activation three ways: no bias (dim then ignored, even out of range), a bias along
    dim in (1, 0, -1) with the defaults, and a bias with explicit alpha/gain/clamp (Python ints
    among them), the dims cycling so that each activation meets two of them; then layouts.
    """
    t = lambda shape, **kw: _t(shape, device, dtype, requires_grad, **kw)  # noqa: E731

    def sample(name, x, b, dim, act, alpha=None, gain=None, clamp=None):
        x = _away_from_clamp(x, b, dim, act, alpha, gain, clamp)
        return Sample(name, (x, b, dim, act, alpha, gain, clamp))

    shape = (3, 4, 5)
    for i, act in enumerate(BIAS_ACTS):
        yield sample(act, t(shape), None, (1, -1, 7)[i % 3], act)
        dim = (1, 0, -1)[i % 3]
        yield sample(f"{act}_b_dim{dim}", t(shape), t(shape[dim]), dim, act)
        dim = (0, -1, 1)[i % 3]
        gain, clamp = ((2, 1), (1.5, 0.4), (0.75, 0.3))[i % 3]
        yield sample(f"{act}_b_dim{dim}_params", t(shape), t(shape[dim]), dim, act, 0.3, gain, clamp)
    yield sample("lrelu_negative_alpha", t(shape), t(4), 1, "lrelu", -0.5, 1.0, 2.0)
    yield sample("clamp_zero", t((4, 5)), t(5), 1, "lrelu", None, None, 0.0)
    yield sample("x_0dim", t(()), None, 1, "swish", None, None, 1.0)
    yield sample("x_1d", t((7,)), t(7), 0, "elu", None, 2.0, 1.5)  # db needs no reduction
    yield sample("zero_size", t((0, 3, 4)), t(3), 1, "lrelu", None, None, 1.0)
    yield sample("zero_size_dim", t((2, 0, 4)), t(0), 1, "tanh")
    yield sample("noncontiguous", _layout(_t((5, 6), device, dtype, False).t(), requires_grad),
                 t(5, noncontiguous=True), 1, "swish", None, None, 1.0)
    cl = _t((2, 3, 4, 5), device, dtype, False).contiguous(memory_format=torch.channels_last)
    yield sample("channels_last", _layout(cl, requires_grad), t(3), 1, "lrelu", None, None, 1.0)
    yield sample("channels_last_nobias", _layout(cl.clone(memory_format=torch.channels_last), requires_grad),
                 None, 1, "softplus")
    yield sample("expanded", _layout(_t((1, 6), device, dtype, False).expand(4, 6), requires_grad),
                 t(6), -1, "sigmoid")
    yield sample("storage_offset", _layout(_t((15,), device, dtype, False)[3:15].view(3, 4), requires_grad),
                 t(3), 0, "selu", None, None, 1.5)


def bias_act_backward_samples(device, dtype, requires_grad):
    """(grad, x, b, dim, act, alpha, gain, clamp, order): orders 1 and 2, whose gradients are
    bias_act's second and third order ones (order 3 has none: tests/test_bias_act.py)."""
    for i, act in enumerate(BIAS_ACTS):
        order = 1 + i % 2
        shape = (3, 4, 5)
        x = _t(shape, device, dtype, requires_grad)
        b = _t(4, device, dtype, requires_grad) if i % 3 else None
        clamp = (None, 1.0, 0.5)[i % 3]
        x = _away_from_clamp(x, b, 1, act, None, None, clamp)
        yield Sample(f"{act}_order{order}", (_t(shape, device, dtype, requires_grad), x, b, 1, act, None, None, clamp, order))
    cl = lambda rg: _layout(_t((2, 3, 4, 5), device, dtype, False).contiguous(memory_format=torch.channels_last), rg)  # noqa: E731
    yield Sample("channels_last", (cl(requires_grad), cl(requires_grad), _t(3, device, dtype, requires_grad),
                                   1, "swish", None, None, None, 1))
    yield Sample("zero_size", (_t((0, 3), device, dtype, requires_grad), _t((0, 3), device, dtype, requires_grad),
                               None, 1, "tanh", None, None, None, 2))


def bias_act_errors(device):
    f = lambda shape, dtype=torch.float32, dev=device: torch.ones(shape, dtype=dtype, device=dev)  # noqa: E731
    pre = "myops.bias_act"
    x = f((2, 4, 3))
    yield ErrorCase("int_x", (f(3, torch.int32),), TypeError, f"{pre}: x must be a floating-point tensor.*Int")
    yield ErrorCase("int_b", (x, f(4, torch.int64)), TypeError, f"{pre}: b must be a floating-point tensor.*Long")
    yield ErrorCase("b_other_dtype", (x, f(4, torch.float64)), TypeError, f"{pre}: b must have x's dtype Float, got Double")
    yield ErrorCase("b_wrong_size", (x, f(3)), RuntimeError,
                    f"{pre}: b must be 1-D with x.shape\\[1\\] = 4 elements, got shape \\[3\\]")
    yield ErrorCase("b_wrong_size_neg_dim", (x, f(4), -1), RuntimeError,
                    f"{pre}: b must be 1-D with x.shape\\[2\\] = 3 elements, got shape \\[4\\]")
    yield ErrorCase("b_2d", (x, f((4, 1))), RuntimeError, f"{pre}: b must be 1-D .*got shape \\[4, 1\\]")
    other = "meta" if device == "cpu" else "cpu"
    yield ErrorCase("b_other_device", (x, f(4, dev=other)), RuntimeError,
                    f"{pre}: expected all tensors on the same device, got x on .* and b on")
    yield ErrorCase("dim_too_large", (x, f(4), 3), IndexError, f"{pre}: dim must be in \\[-3, 2\\] .* got 3")
    yield ErrorCase("dim_too_small", (x, f(4), -4), IndexError, f"{pre}: dim must be in \\[-3, 2\\] .* got -4")
    yield ErrorCase("x_0dim_with_b", (f(()), f(1)), IndexError, f"{pre}: x must have at least one dimension when b is given")
    yield ErrorCase("unknown_act", (x,), ValueError,
                    f"{pre}: act must be one of 'linear', 'relu', 'lrelu', 'tanh', 'sigmoid', 'elu', 'selu', "
                    "'softplus', 'swish'; got 'gelu'", kwargs={"act": "gelu"})
    yield ErrorCase("negative_clamp", (x,), ValueError, f"{pre}: clamp must be None \\(no clamping\\) or >= 0, got -1",
                    kwargs={"clamp": -1.0})
    yield ErrorCase("nan_clamp", (x,), ValueError, f"{pre}: clamp must be None", kwargs={"clamp": float("nan")})


def bias_act_backward_errors(device):
    f = lambda shape, dtype=torch.float32: torch.ones(shape, dtype=dtype, device=device)  # noqa: E731
    pre = "myops.bias_act_backward"
    x, b = f((2, 4)), f(4)
    yield ErrorCase("grad_wrong_shape", (f((4, 2)), x, b, 1, "relu", None, None, None), RuntimeError,
                    f"{pre}: grad must have x's shape \\[2, 4\\], got \\[4, 2\\]")
    yield ErrorCase("grad_other_dtype", (f((2, 4), torch.float64), x, b, 1, "relu", None, None, None), TypeError,
                    f"{pre}: grad must have x's dtype Float, got Double")
    yield ErrorCase("order_4", (x, x, b, 1, "relu", None, None, None, 4), ValueError, f"{pre}: order must be 1, 2 or 3, got 4")
    yield ErrorCase("bad_b", (x, x, f(3), 1, "relu", None, None, None), RuntimeError, f"{pre}: b must be 1-D with x.shape\\[1\\]")


def bias_act_resizable_args(device, n):
    """The StyleGAN block's shape and arguments, with batch size n."""
    return (torch.randn(n, 4, 3, 3, device=device, requires_grad=True), torch.randn(4, device=device, requires_grad=True),
            1, "lrelu", None, None, 1.0)


OPS = [
    OpInfo("muladd", torch.ops.myops.muladd.default, myops.muladd, reference.muladd, muladd_samples,
           errors=binary_errors("muladd"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args(0.25)),
    OpInfo("mul", torch.ops.myops.mul.default, myops.mul, reference.mul, binary_samples,
           errors=binary_errors("mul"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args()),
    OpInfo("add", torch.ops.myops.add.default, myops.add, reference.add, binary_samples,
           errors=binary_errors("add"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args()),
    OpInfo("add_out", torch.ops.myops.add_out.default, myops.add_out, reference.add_out,
           lambda *a: _with_inplace_out(add_out_samples(*a)), errors=binary_errors("add_out", with_out=True),
           differentiable=False, twice_differentiable=False, out_arg=2, compile_samples=BINARY_COMPILE_SAMPLES),
    OpInfo("upfirdn2d", torch.ops.myops.upfirdn2d.default, myops.upfirdn2d, reference.upfirdn2d, upfirdn2d_samples,
           errors=upfirdn2d_errors,
           compile_samples=("identity", "up2_sep4", "down2_2d4x4", "up4_down2_sep7_anisotropic", "channels_last_up2_sep",
                            "negative_padding_crop"),
           resizable_args=upfirdn2d_resizable_args),
    OpInfo("lltm", torch.ops.myops.lltm.default, myops.lltm, reference.lltm, lltm_samples, errors=lltm_errors,
           tolerances=LLTM_TOLERANCES, compile_samples=("basic", "batch1", "noncontiguous"),
           resizable_args=lltm_resizable_args, memory_formats=False),
    OpInfo("bias_act", torch.ops.myops.bias_act.default, myops.bias_act, reference.bias_act, bias_act_samples,
           errors=bias_act_errors,
           compile_samples=("lrelu_b_dim1_params", "swish", "channels_last", "noncontiguous", "x_0dim"),
           resizable_args=bias_act_resizable_args),
    # The backward op is internal (no Python wrapper): autograd and compiled backward graphs
    # call it. Tested here in its own right; order 3 has no x-derivative (order 4).
    OpInfo("bias_act_backward", torch.ops.myops.bias_act_backward.default, torch.ops.myops.bias_act_backward,
           reference.bias_act_backward, bias_act_backward_samples, errors=bias_act_backward_errors,
           twice_differentiable=False, compile_samples=("tanh_order2", "channels_last")),
]

OPS_BY_NAME = {op.name: op for op in OPS}


def samples(op: OpInfo, device, dtype, requires_grad=False):
    return list(op.samples(device, dtype, requires_grad))


def sample_params(ops=OPS, dtypes=None, requires_grad=False, device="cpu"):
    """pytest.param(op, dtype, sample_name) for every sample, with readable ids."""
    import pytest

    params = []
    for op in ops:
        for dtype in dtypes or op.dtypes:
            for s in samples(op, device, dtype, requires_grad):
                params.append(pytest.param(op, dtype, s.name, id=f"{op.name}-{str(dtype)[6:]}-{s.name}"))
    return params


def get_sample(op: OpInfo, device, dtype, name, requires_grad=False) -> Sample:
    for s in op.samples(device, dtype, requires_grad):
        if s.name == name:
            return s
    raise KeyError(name)


def as_tuple(result) -> tuple:
    """An op's result as a tuple of tensors (multi-output ops such as lltm return a tuple)."""
    return tuple(result) if isinstance(result, (tuple, list)) else (result,)


def clone_args(args):
    """Deep copies of the tensor arguments, keeping aliasing between them (out is a)."""
    memo = {}
    def copy(x):
        if not isinstance(x, torch.Tensor):
            return x
        if id(x) not in memo:
            memo[id(x)] = x.detach().clone().requires_grad_(x.requires_grad)
        return memo[id(x)]
    return tuple(copy(a) for a in args)
