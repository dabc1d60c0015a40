"""Table entries of the elementwise family: muladd, mul, add, add_out."""

from __future__ import annotations

import torch

import myops
from myops import reference
from opinfo import Autocast, ErrorCase, OpInfo, Sample, _layout, _t


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
    # A float32 CPU scalar that float16/bfloat16 cannot hold keeps its precision (as in ATen's
    # kernels), it is not rounded to a's dtype first (found by make fuzz): -2048 + 2049.25 (add)
    # and -2048 * 2049.25 + 2048^2 (muladd, below) cancel to 1.25 and -2560, which b rounded
    # to float16 (2050) or bfloat16 (2048) misses by far more than the tolerances.
    yield "cpu_scalar_precision", _full((3, 5), -2048.0, device, dtype, requires_grad), _scalar_f32(2049.25, requires_grad)


def _full(shape, value, device, dtype, requires_grad):
    return torch.full(shape, value, device=device, dtype=dtype, requires_grad=requires_grad)


def _scalar_f32(value, requires_grad):
    return torch.tensor(value, dtype=torch.float32, requires_grad=requires_grad)


def muladd_samples(device, dtype, requires_grad):
    for i, (name, a, b) in enumerate(binary_pairs(device, dtype, requires_grad)):
        yield Sample(name, (a, b, 2048.0 ** 2 if name == "cpu_scalar_precision" else [0.5, -2.0, 0.0][i % 3]))


def binary_samples(device, dtype, requires_grad):
    for name, a, b in binary_pairs(device, dtype, requires_grad):
        yield Sample(name, (a, b))


def mul_samples(device, dtype, requires_grad):
    yield from binary_samples(device, dtype, requires_grad)
    # A product has no cancellation: a float32 scalar below float16's normal range (9e-8
    # becomes 1.19e-7 there, +32%) shows whether it kept its precision (make fuzz found
    # inf * a float32 denormal = NaN: the denormal had become 0). b's gradient, a sum of
    # grad * 6e4 in float16, would overflow (as with torch.mul): only a's is checked.
    yield Sample("cpu_scalar_precision_small", (_full((3, 5), 6e4, device, dtype, requires_grad), _scalar_f32(9e-8, False)))


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
            # Both wrong: a and b are checked first (the order the fuzz strategy had wrong, make fuzz).
            yield ErrorCase("not_broadcastable_out_wrong_dtype", (f(2), f(4), f(2, torch.float64)), RuntimeError,
                            f"{pre}: a and b cannot be broadcast together: shapes \\[2\\] and \\[4\\]")
            yield ErrorCase("out_wrong_device", (a, b, f((2, 3), dev=other)), RuntimeError,
                            f"{pre}: (out must be on|expected all tensors on the same device)")
            base = f(7)
            yield ErrorCase("out_partial_overlap", (base[:6].view(2, 3), f(3), base[1:7].view(2, 3)), RuntimeError,
                            f"{pre}: out partially overlaps input a")
            yield ErrorCase("out_expanded", (a, b, f(3).expand(2, 3)), RuntimeError, f"{pre}: out has elements that share memory")
    return errors


def binary_large_pairs(device, dtype, requires_grad):
    """1000003 elements: many vector widths plus a scalar tail in every ISA's loop, and far
    more than at::parallel_for's grain (32768), so two threads split the work."""
    t = lambda shape: _t(shape, device, dtype, requires_grad)  # noqa: E731
    yield "long_1000003", t((1000003,)), t((1000003,))
    yield "long_broadcast", t((1003, 1001)), t((1001,))


def muladd_large_samples(device, dtype, requires_grad):
    for name, a, b in binary_large_pairs(device, dtype, requires_grad):
        yield Sample(name, (a, b, 0.5))


def binary_large_samples(device, dtype, requires_grad):
    for name, a, b in binary_large_pairs(device, dtype, requires_grad):
        yield Sample(name, (a, b))


def add_out_large_samples(device, dtype, requires_grad):
    for name, a, b in binary_large_pairs(device, dtype, requires_grad):
        yield Sample(name, (a, b, torch.empty(torch.broadcast_shapes(a.shape, b.shape), device=device, dtype=dtype)))


# ------------------------------------------------------------------ fuzzing (tests/test_fuzz.py)

def _fuzz_binary(kind):
    """a, b with random broadcastable shapes up to 5-D (now and then not broadcastable), layouts,
    dtypes (mixed: type promotion), a CPU 0-dim scalar; muladd's c with edges; add_out's out
    (strided, an input itself, or of the wrong shape/dtype: the op's errors)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, scalars, shapes, tensors

    @st.composite
    def strategy(draw, device):
        shape = draw(shapes(0, 5))
        # b: a suffix of a's shape, some dims 1 (broadcast), a's dims 1 where b has others
        nb = draw(st.integers(0, len(shape)))
        b_shape = list(shape[len(shape) - nb:])
        a_shape = list(shape)
        for i in range(nb):
            r = draw(st.integers(0, 5))
            if r == 0:
                b_shape[i] = 1
            elif r == 1:
                a_shape[len(shape) - nb + i] = 1
            elif r == 2 and draw(st.integers(0, 4)) == 0:
                b_shape[i] = b_shape[i] + 2  # not broadcastable (unless a's is 1)
        if draw(st.booleans()):
            a_shape, b_shape = b_shape, a_shape
        da = draw(dtypes)
        db = draw(st.one_of(st.just(da), dtypes))
        a, sa = draw(tensors(a_shape, da, device))
        b, sb = draw(tensors(b_shape, db, device))
        args = (a, b)
        error = None
        if kind == "muladd":
            args += (draw(scalars(0.0, 1.0, -2.5, 0.5, 1e-30, 1e30, -0.0, float("nan"), float("inf"), lo=-4, hi=4)),)
        if kind == "add_out":
            broadcastable = True
            try:
                out_shape = torch.broadcast_shapes(a.shape, b.shape)
            except RuntimeError:
                out_shape, broadcastable = a.shape, False
            rdt = torch.result_type(a, b)
            which = draw(st.sampled_from(("fresh", "strided", "a", "wrong_shape", "wrong_dtype")))
            if which == "a" and a.shape == out_shape and a.dtype == rdt and 0 not in a.stride():
                out = a
            elif which == "wrong_shape":
                out = torch.empty(tuple(out_shape) + (2,), dtype=rdt, device=device)
                error = RuntimeError
            elif which == "wrong_dtype" and rdt != torch.float64:
                out = torch.empty(out_shape, dtype=torch.float64, device=device)
                # a and b are checked first: out's dtype means nothing without a result shape.
                error = TypeError if broadcastable else RuntimeError
            elif which == "strided":
                out, _ = draw(tensors(out_shape, rdt, device, layouts=("transposed", "sliced", "offset", "channels_last")))
            else:
                out = torch.empty(out_shape, dtype=rdt, device=device)
            args += (out,)
        return FuzzCase(args, error=error, specials=sa or sb)
    return strategy


# As ATen's mul/add: no autocast kernel, type promotion (bfloat16 a with float32 b -> float32).
PROMOTE = Autocast("none", low_args=(0,))

BINARY_COMPILE_SAMPLES = ("same_shape", "broadcast_row", "channels_last", "noncontiguous", "scalar_0dim")


def binary_resizable_args(*extra):
    def make(device, n):
        return (torch.randn(n, 8, device=device, requires_grad=True), torch.randn(8, device=device, requires_grad=True), *extra)
    return make


OPS = [
    OpInfo("muladd", torch.ops.myops.muladd.default, myops.muladd, reference.muladd, muladd_samples,
           errors=binary_errors("muladd"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args(0.25), large_samples=muladd_large_samples, autocast=PROMOTE,
           fuzz=_fuzz_binary("muladd")),
    OpInfo("mul", torch.ops.myops.mul.default, myops.mul, reference.mul, mul_samples,
           errors=binary_errors("mul"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args(), large_samples=binary_large_samples, autocast=PROMOTE,
           fuzz=_fuzz_binary("binary")),
    OpInfo("add", torch.ops.myops.add.default, myops.add, reference.add, binary_samples,
           errors=binary_errors("add"), compile_samples=BINARY_COMPILE_SAMPLES,
           resizable_args=binary_resizable_args(), large_samples=binary_large_samples, autocast=PROMOTE,
           fuzz=_fuzz_binary("binary")),
    OpInfo("add_out", torch.ops.myops.add_out.default, myops.add_out, reference.add_out,
           lambda *a: _with_inplace_out(add_out_samples(*a)), errors=binary_errors("add_out", with_out=True),
           differentiable=False, twice_differentiable=False, out_arg=2, compile_samples=BINARY_COMPILE_SAMPLES,
           large_samples=add_out_large_samples, autocast=PROMOTE, fuzz=_fuzz_binary("add_out")),
]

