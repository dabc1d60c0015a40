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
