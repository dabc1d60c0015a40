"""Table entry of lltm (one step of the LLTM cell; two outputs)."""

from __future__ import annotations

import torch
from torch.testing import make_tensor

import myops
from myops import reference
from opinfo import DEFAULT_TOLERANCES, Autocast, ErrorCase, OpInfo, Sample, _layout, _t


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


def lltm_large_samples(device, dtype, requires_grad):
    """State 37: the gate loops' vector body and scalar tail in every dtype; batch 64 with
    state 512: enough gate elements for two threads to split them."""
    yield Sample("state37", lltm_args(device, dtype, requires_grad, 6, 5, 37))
    yield Sample("large_64x32x512", lltm_args(device, dtype, requires_grad, 64, 32, 512))


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


# ------------------------------------- lltm_gates_backward (lltm_backward's gate pass, internal)

def gates_backward_args(device, dtype, requires_grad, batch, state, *, layout="contiguous"):
    """grad_h, grad_cell, new_cell [B, S] and gates [B, 3S], the gates activated as the forward
    stores them (sigmoid, sigmoid, elu: candidates below 0 too); layout "transposed" (gates
    column-major) or "expanded" (grad_h broadcast from one row, as autograd passes the gradient
    of a sum)."""
    t = lambda shape, r=1.5: make_tensor(shape, device=device, dtype=dtype, low=-r, high=r)  # noqa: E731
    grad_h, grad_cell, new_cell = t((batch, state)), t((batch, state)), t((batch, state))
    pre = t((batch, 3 * state), 2.0)
    if layout == "transposed":
        pre = t((3 * state, batch), 2.0).t()
    gates = torch.cat([torch.sigmoid(pre[:, :2 * state]), torch.nn.functional.elu(pre[:, 2 * state:])], 1)
    if layout == "transposed":
        gates = gates.t().contiguous().t()
    if layout == "expanded":
        grad_h = t((1, state)).expand(batch, state)
    return tuple(_layout(x, requires_grad) for x in (grad_h, grad_cell, new_cell, gates))


def gates_backward_samples(device, dtype, requires_grad):
    # S = 3 to 5: mostly the CPU gate pass's scalar tail; S = 37: its Vectorized body + tail in every dtype.
    yield Sample("basic", gates_backward_args(device, dtype, requires_grad, 3, 5))
    yield Sample("batch1", gates_backward_args(device, dtype, requires_grad, 1, 4))
    yield Sample("transposed_gates", gates_backward_args(device, dtype, requires_grad, 4, 3, layout="transposed"))
    yield Sample("expanded_grad_h", gates_backward_args(device, dtype, requires_grad, 3, 4, layout="expanded"))
    yield Sample("zero_batch", gates_backward_args(device, dtype, requires_grad, 0, 4))
    yield Sample("wide_state", gates_backward_args(device, dtype, requires_grad, 3, 37))


def gates_backward_large_samples(device, dtype, requires_grad):
    yield Sample("large", gates_backward_args(device, dtype, requires_grad, 64, 517))


def gates_backward_errors(device):
    f = lambda shape, dtype=torch.float32, dev=device: torch.ones(shape, dtype=dtype, device=dev)  # noqa: E731
    pre = "myops.lltm_gates_backward"
    B, S = 3, 4
    good = dict(grad_h=f((B, S)), grad_cell=f((B, S)), new_cell=f((B, S)), gates=f((B, 3 * S)))

    def case(name, exc, match, **bad):
        return ErrorCase(name, tuple({**good, **bad}.values()), exc, f"{pre}: {match}")
    yield case("int_new_cell", TypeError, "new_cell must be a floating-point tensor.*Int",
               new_cell=f((B, S), torch.int32))
    yield case("grad_h_dtype", TypeError, "grad_h must have new_cell's dtype Float, got Double",
               grad_h=f((B, S), torch.float64))
    yield case("new_cell_1d", RuntimeError, "new_cell must be 2-D \\[batch, state\\], got shape \\[4\\]",
               new_cell=f(S), grad_h=f(S), grad_cell=f(S))
    yield case("grad_cell_shape", RuntimeError, "grad_cell must have new_cell's shape \\[3, 4\\], got shape \\[3, 5\\]",
               grad_cell=f((B, 5)))
    yield case("gates_shape", RuntimeError, "gates must have shape \\[batch, 3 \\* state\\] = \\[3, 12\\], "
               "got shape \\[3, 11\\]", gates=f((B, 11)))
    other = "meta" if device == "cpu" else "cpu"
    yield case("mixed_devices", RuntimeError, "expected all tensors on the same device, got new_cell on .* and "
               "gates on", gates=f((B, 3 * S), dev=other))


def _fuzz_gates_backward(device):
    """batch 0 to 5, state 0 to 9, every tensor with its own layout, any dtype, gate values
    anywhere (the formula is defined for all; specials too); now and then a tensor of the wrong
    shape (RuntimeError) or dtype (TypeError)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, tensors

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        B, S = draw(st.integers(0, 5)), draw(st.integers(0, 9))
        shapes = [(B, S), (B, S), (B, S), (B, 3 * S)]
        return _draw_case(draw, st, FuzzCase, tensors, device, dtype, shapes, [1.5] * 4, bad_max=11, dtype_args=(0, 3))
    return strategy()


def _fuzz_cell(device):
    """lltm_cell: batch 0 to 5, state 0 to 9, both tensors with their own layout, any dtype, gate
    pre-activations anywhere (specials too); now and then a tensor of the wrong shape
    (RuntimeError) or dtype (TypeError)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, tensors

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        B, S = draw(st.integers(0, 5)), draw(st.integers(0, 9))
        return _draw_case(draw, st, FuzzCase, tensors, device, dtype, [(B, 3 * S), (B, S)], [3.0, 1.5], bad_max=6,
                          dtype_args=(0, 1))
    return strategy()


def _draw_case(draw, st, FuzzCase, tensors, device, dtype, shapes, ranges, *, bad_max, dtype_args):
    """The lltm family's fuzz arguments: a tensor of each shape, values in +-ranges[i], any
    layout; with bad = draw(0..bad_max): bad < len(shapes), that tensor's last size wrong
    (RuntimeError); bad == len(shapes), one of the tensors dtype_args = (first, last) in another
    dtype (TypeError)."""
    shapes = list(shapes)
    error = None
    bad = draw(st.integers(0, bad_max))
    if bad < len(shapes):  # one tensor of the wrong shape
        wrong = list(shapes[bad])
        wrong[-1] += draw(st.integers(1, 2))
        shapes[bad] = tuple(wrong)
        error = RuntimeError
    args, specials = [], False
    for shape, r in zip(shapes, ranges):
        t, sp = draw(tensors(shape, dtype, device, low=-r, high=r))
        args.append(t)
        specials = specials or sp
    if bad == len(shapes):
        i = draw(st.integers(*dtype_args))
        other = torch.float64 if dtype != torch.float64 else torch.float32
        args[i] = args[i].to(other)
        error = error or TypeError
    return FuzzCase(tuple(args), error=error, specials=specials)


# ------------------------------------------------ lltm's double backward (internal ops)

def cell_args(device, dtype, requires_grad, batch, state, *, layout="contiguous"):
    """grad_h, grad_cell, pre_gates [B, 3S] (pre-activations near the gates' working range),
    old_cell; layout "transposed" (pre_gates column-major) or "expanded" (grad_h broadcast from
    one row, as autograd passes the gradient of a sum)."""
    t = lambda shape, r=1.5: make_tensor(shape, device=device, dtype=dtype, low=-r, high=r)  # noqa: E731
    grad_h, grad_cell, old_cell = t((batch, state)), t((batch, state)), t((batch, state))
    pre_gates = t((batch, 3 * state), 2.0)
    if layout == "transposed":
        pre_gates = t((3 * state, batch), 2.0).t()
    if layout == "expanded":
        grad_h = t((1, state)).expand(batch, state)
    return tuple(_layout(x, requires_grad) for x in (grad_h, grad_cell, pre_gates, old_cell))


def _cell_layouts(device, dtype, requires_grad, make):
    yield Sample("basic", make(cell_args(device, dtype, requires_grad, 3, 5)))
    yield Sample("transposed_gates", make(cell_args(device, dtype, requires_grad, 4, 3, layout="transposed")))
    yield Sample("expanded_grad_h", make(cell_args(device, dtype, requires_grad, 3, 4, layout="expanded")))
    yield Sample("zero_batch", make(cell_args(device, dtype, requires_grad, 0, 4)))
    # state 37: the CPU kernels' Vectorized body (8-32 lanes) and their scalar tail in every row.
    yield Sample("wide_state", make(cell_args(device, dtype, requires_grad, 3, 37)))


def cell_samples(device, dtype, requires_grad):
    """lltm_cell's (pre_gates, old_cell): cell_args' last two, and old_cell expanded from one row."""
    for sample in _cell_layouts(device, dtype, requires_grad, lambda args: args[2:]):
        if sample.name != "expanded_grad_h":
            yield sample
    pre_gates, old_cell = cell_args(device, dtype, False, 3, 4)[2:]
    yield Sample("expanded_old_cell", (_layout(pre_gates, requires_grad),
                                       _layout(old_cell[:1].expand(3, 4), requires_grad)))


def cell_backward_samples(device, dtype, requires_grad):
    return _cell_layouts(device, dtype, requires_grad, lambda args: args)


def cell_double_backward_samples(device, dtype, requires_grad):
    def with_upstream(args):
        batch, state = args[3].shape
        gg = make_tensor((batch, 3 * state), device=device, dtype=dtype, low=-1, high=1, requires_grad=requires_grad)
        gg_old = make_tensor((batch, state), device=device, dtype=dtype, low=-1, high=1, requires_grad=requires_grad)
        return (gg, gg_old) + args
    return _cell_layouts(device, dtype, requires_grad, with_upstream)


def cell_large_samples(device, dtype, requires_grad):
    yield Sample("large", cell_args(device, dtype, requires_grad, 64, 517))


def cell_errors(device):
    f = lambda shape, dtype=torch.float32: torch.ones(shape, dtype=dtype, device=device)  # noqa: E731
    op = "myops.lltm_cell"
    yield ErrorCase("pre_gates_shape", (f((3, 11)), f((3, 4))), RuntimeError,
                    f"{op}: pre_gates must have shape \\[batch, 3 \\* state\\] = \\[3, 12\\], got shape \\[3, 11\\]")
    yield ErrorCase("pre_gates_dtype", (f((3, 12), torch.float64), f((3, 4))), TypeError,
                    f"{op}: pre_gates must have old_cell's dtype Float, got Double")
    yield ErrorCase("old_cell_int", (f((3, 12)), f((3, 4), torch.int64)), TypeError, f"{op}: old_cell")
    yield ErrorCase("old_cell_1d", (f(12), f(4)), RuntimeError,
                    f"{op}: old_cell must be 2-D \\[batch, state\\], got shape \\[4\\]")


def cell_backward_errors(device):
    f = lambda shape, dtype=torch.float32: torch.ones(shape, dtype=dtype, device=device)  # noqa: E731
    pre = "myops.lltm_cell_backward"
    yield ErrorCase("pre_gates_shape", (f((3, 4)), f((3, 4)), f((3, 11)), f((3, 4))), RuntimeError,
                    f"{pre}: pre_gates must have shape \\[batch, 3 \\* state\\] = \\[3, 12\\], got shape \\[3, 11\\]")
    yield ErrorCase("grad_h_dtype", (f((3, 4), torch.float64), f((3, 4)), f((3, 12)), f((3, 4))), TypeError,
                    f"{pre}: grad_h must have old_cell's dtype Float, got Double")
    yield ErrorCase("old_cell_1d", (f(4), f(4), f(12), f(4)), RuntimeError,
                    f"{pre}: old_cell must be 2-D \\[batch, state\\], got shape \\[4\\]")


# ------------------------------------------------------------------ fuzzing (tests/test_fuzz.py)

def _fuzz_lltm(device):
    """batch 0 to 5, features 0 to 6, state 0 to 9, every tensor with its own layout (input and
    weights transposed, old_cell expanded, ...), any dtype; now and then a tensor of the wrong
    shape (RuntimeError, as the reference's torch.cat/addmm) or dtype (TypeError)."""
    from hypothesis import strategies as st

    from opinfo._fuzz import FuzzCase, dtypes, tensors

    @st.composite
    def strategy(draw):
        dtype = draw(dtypes)
        B, F, S = draw(st.integers(0, 5)), draw(st.integers(0, 6)), draw(st.integers(0, 9))
        w_range = 3 / max(S + F, 1) ** 0.5
        shapes = [(B, F), (3 * S, S + F), (3 * S,), (B, S), (B, S)]
        ranges = [1.0, w_range, 1.0, 1.0, 1.0]
        return _draw_case(draw, st, FuzzCase, tensors, device, dtype, shapes, ranges, bad_max=15, dtype_args=(1, 4))
    return strategy()


def lltm_cell_backward_func_ref(grad_h, grad_cell, pre_gates, old_cell):
    """lltm_cell_backward from the reference cell with torch.func.vjp, so that functorch transforms
    see through it."""
    return torch.func.vjp(reference.lltm_cell, pre_gates, old_cell)[1]((grad_h, grad_cell))


OPS = [
    OpInfo("lltm", torch.ops.myops.lltm.default, myops.lltm, reference.lltm, lltm_samples, errors=lltm_errors,
           tolerances=LLTM_TOLERANCES, compile_samples=("basic", "batch1", "noncontiguous"),
           resizable_args=lltm_resizable_args, memory_formats=False, large_samples=lltm_large_samples,
           autocast=Autocast("lower_precision", low_args=(0, 3, 4)),  # as at::linear
           fuzz=_fuzz_lltm,
           skips={"threads_bitwise": "the gate pre-activations and the weight/input gradients are ATen matrix "
                                     "products (BLAS), whose sums may split differently with the thread count: "
                                     "compared with assert_close here; test_lltm.py checks the gate passes "
                                     "(lltm_forward's outputs) bitwise"}),
    # lltm_backward's gate pass (what lltm_backward's vmap rule calls): no derivative, every
    # transform raises NotImplementedError (autograd/lltm.cpp).
    OpInfo("lltm_gates_backward", torch.ops.myops.lltm_gates_backward.default, torch.ops.myops.lltm_gates_backward,
           reference.lltm_gates_backward, gates_backward_samples, errors=gates_backward_errors,
           differentiable=False, twice_differentiable=False,
           not_differentiable_error="myops.lltm_gates_backward(: forward-mode AD .* is not supported| is not "
                                    "differentiable)",
           tolerances=LLTM_TOLERANCES, compile_samples=("basic", "transposed_gates", "expanded_grad_h"),
           memory_formats=False, large_samples=gates_backward_large_samples, autocast=Autocast("none"),
           fuzz=_fuzz_gates_backward,
           skips={"opcheck_grad": "not differentiable: inputs that require grad raise NotImplementedError by "
                                  "design (test_func.py checks that); opchecked without grads"}),
    # The cell from its gate pre-activations (what lltm's vmap rule calls for batched weights):
    # its gradient is lltm_cell_backward, its second lltm_cell_double_backward.
    OpInfo("lltm_cell", torch.ops.myops.lltm_cell.default, torch.ops.myops.lltm_cell, reference.lltm_cell,
           cell_samples, errors=cell_errors, tolerances=LLTM_TOLERANCES,
           compile_samples=("basic", "transposed_gates", "expanded_old_cell"), memory_formats=False,
           large_samples=lambda device, dtype, requires_grad: (
               Sample(s.name, s.args[2:]) for s in cell_large_samples(device, dtype, requires_grad)),
           autocast=Autocast("x_dtype", low_args=(0,)),  # pre_gates' dtype: a product's, old_cell follows
           fuzz=_fuzz_cell),
    # lltm's double backward (autograd/lltm.cpp). lltm_cell_backward's gradient is
    # lltm_cell_double_backward, whose own gradient (lltm's third order) raises.
    OpInfo("lltm_cell_backward", torch.ops.myops.lltm_cell_backward.default, torch.ops.myops.lltm_cell_backward,
           reference.lltm_cell_backward, cell_backward_samples, errors=cell_backward_errors,
           func_ref=lltm_cell_backward_func_ref,
           twice_differentiable=False, tolerances=LLTM_TOLERANCES, compile_samples=("basic", "transposed_gates"),
           memory_formats=False, large_samples=cell_large_samples, autocast=Autocast("none")),
    OpInfo("lltm_cell_double_backward", torch.ops.myops.lltm_cell_double_backward.default,
           torch.ops.myops.lltm_cell_double_backward, reference.lltm_cell_double_backward,
           cell_double_backward_samples, differentiable=False, twice_differentiable=False,
           not_differentiable_error="myops.lltm: gradients of order 3 and higher",
           tolerances=LLTM_TOLERANCES, compile_samples=("basic",), memory_formats=False, autocast=Autocast("none"),
           skips={"opcheck_grad": "its gradient would be lltm's third order, which raises "
                                  "NotImplementedError by design (tests/test_lltm.py checks that)"}),
]
