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
    OpInfo("lltm", torch.ops.myops.lltm.default, myops.lltm, reference.lltm, lltm_samples, errors=lltm_errors,
           tolerances=LLTM_TOLERANCES, compile_samples=("basic", "batch1", "noncontiguous"),
           resizable_args=lltm_resizable_args, memory_formats=False),
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
