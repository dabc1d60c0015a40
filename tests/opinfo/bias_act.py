"""Table entries of the bias_act family: bias_act and its backward op, bias_act_backward."""

from __future__ import annotations

import torch

import myops
from myops import reference
from opinfo import Autocast, ErrorCase, OpInfo, Sample, _layout, _t


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
    # A clamp past float16's range (no clamp there): torch.clamp, the reference's, refused it
    # in float16 while the op took it (make fuzz; the reference now rounds the bound first).
    yield sample("clamp_huge", t((4, 5)), t(5), 1, "lrelu", None, None, 1e30)
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


def bias_act_large_samples(device, dtype, requires_grad):
    """Every activation on [3, 1003] with a bias along the inner dim and alpha/gain/clamp set
    (vector body and scalar tail of each ISA's loops), then [16, 64, 64] (65536 elements: two
    threads split it) with StyleGAN's lrelu + bias + clamp."""
    for act in BIAS_ACTS:
        b = _t(1003, device, dtype, requires_grad)
        x = _away_from_clamp(_t((3, 1003), device, dtype, requires_grad), b, 1, act, 0.3, 1.7, 2.5)
        yield Sample(f"long_{act}", (x, b, 1, act, 0.3, 1.7, 2.5))
    x, b = _t((16, 64, 64), device, dtype, requires_grad), _t(64, device, dtype, requires_grad)
    yield Sample("large_lrelu", (_away_from_clamp(x, b, 1, "lrelu", None, None, 1.0), b, 1, "lrelu", None, None, 1.0))


def bias_act_backward_large_samples(device, dtype, requires_grad):
    """Orders 1 and 2 of every activation on [3, 1003] (see bias_act_large_samples)."""
    for act in BIAS_ACTS:
        for order in (1, 2):
            b = _t(1003, device, dtype, requires_grad)
            x = _away_from_clamp(_t((3, 1003), device, dtype, requires_grad), b, 1, act, 0.3, 1.7, 2.5)
            yield Sample(f"long_{act}_order{order}", (_t((3, 1003), device, dtype, requires_grad), x, b,
                                                      1, act, 0.3, 1.7, 2.5, order))
    g, x, b = _t((16, 64, 64), device, dtype, requires_grad), _t((16, 64, 64), device, dtype, requires_grad), None
    yield Sample("large_swish_order2", (g, x, b, 1, "swish", None, None, None, 2))


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


# ------------------------------------------------------------------ fuzzing (tests/test_fuzz.py)

def _fuzz_bias_act(device):
    """x 0-D to 5-D with any layout and dtype, b None or along a random dim (now and then out of
    range: IndexError), every activation, alpha/gain/clamp with their edges (0, tiny, huge,
    negative; a negative or NaN clamp: ValueError)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, scalars, shapes, tensors

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        x, sx = draw(tensors(draw(shapes(0, 5)), dtype, device))
        act = draw(st.sampled_from(BIAS_ACTS))
        alpha = draw(st.one_of(st.none(), scalars(0.0, 0.2, -0.5, 1.0, 2.5, lo=-2, hi=2)))
        gain = draw(st.one_of(st.none(), scalars(0.0, 1e-30, 1e-3, 1.0, 2, 1e30, -1.0, lo=-3, hi=3)))
        clamp = draw(st.one_of(st.none(), scalars(0.0, 0.5, 1.0, 256.0, 1e30, float("inf"), -1.0, float("nan"),
                                                  lo=0, hi=4)))
        error = None
        if clamp is not None and not clamp >= 0:
            error = ValueError
        b, sb, dim = None, False, draw(st.integers(-6, 6))
        if draw(st.booleans()):
            if x.dim() == 0:
                b, _ = draw(tensors((1,), dtype, device))
                error = error or IndexError
            elif not -x.dim() <= dim < x.dim():
                b, _ = draw(tensors((x.shape[0],), dtype, device))
                error = error or IndexError
            else:
                b, sb = draw(tensors((x.shape[dim],), dtype, device, layouts=("contiguous", "sliced", "offset")))
        return FuzzCase((x, b, dim, act, alpha, gain, clamp), error=error, specials=sx or sb)
    return strategy()


def bias_act_backward_func_ref(grad, x, b, dim, act, alpha, gain, clamp, order=1):
    """bias_act_backward from the reference with torch.func only (nested jvp with ones: bias_act is
    elementwise in x), so that functorch transforms see through it."""
    f = lambda x: reference.bias_act(x, b, dim, act, alpha, gain, clamp)  # noqa: E731
    for _ in range(order):
        f = (lambda g: lambda x: torch.func.jvp(g, (x,), (torch.ones_like(x),))[1])(f)
    return grad * f(x)


OPS = [
    OpInfo("bias_act", torch.ops.myops.bias_act.default, myops.bias_act, reference.bias_act, bias_act_samples,
           errors=bias_act_errors,
           compile_samples=("lrelu_b_dim1_params", "swish", "channels_last", "noncontiguous", "x_0dim"),
           resizable_args=bias_act_resizable_args, large_samples=bias_act_large_samples,
           autocast=Autocast("x_dtype", low_args=(0,)), fuzz=_fuzz_bias_act),  # conv output (bf16) + float32 bias
    # The backward op is internal (no Python wrapper): autograd and compiled backward graphs
    # call it. Tested here in its own right; order 3 has no x-derivative (order 4).
    OpInfo("bias_act_backward", torch.ops.myops.bias_act_backward.default, torch.ops.myops.bias_act_backward,
           reference.bias_act_backward, bias_act_backward_samples, errors=bias_act_backward_errors,
           func_ref=bias_act_backward_func_ref,
           twice_differentiable=False, compile_samples=("tanh_order2", "channels_last"),
           large_samples=bias_act_backward_large_samples, autocast=Autocast("x_dtype", x=1, low_args=(0, 1))),
]
