"""torch.vmap over every op of the table (and lltm's two internal ops), through the C++ batching
rules (ops/<family>/<family>_batching.cpp), against a per-sample Python loop over the op.

For every sample: random subsets of the tensor arguments get a vmap dimension (3 different
values each, at a random in_dim, negative ones too), the rest stay shared; the result at a
random out_dims must equal stacking the op's per-sample results. With functorch's per-sample
fallback disabled (torch._C._functorch._set_vmap_fallback_enabled(False)), an op without a
batching rule raises instead of silently taking the slow path, so every test here also proves
that the rule exists and was used. Nested vmap, vmap over a backward (autograd.grad with
is_grads_batched=True, which vmaps the ops' backward ops) and add_out's errors are covered too.
"""

from __future__ import annotations

import itertools
import random
import zlib

import pytest
import torch
from torch.testing import make_tensor

from myops import reference
from op_db import OPS, OPS_BY_NAME, samples
from helpers import stack_batched
from opinfo import Sample, as_tuple

V = 3  # vmap batch size of the tests

pytestmark = pytest.mark.usefixtures("no_vmap_fallback")  # an op must have a rule (conftest.py)


def _lltm_forward_samples(device, dtype, requires_grad):
    for s in samples(OPS_BY_NAME["lltm"], device, dtype, requires_grad):
        yield s


def _lltm_backward_samples(device, dtype, requires_grad):
    """(grad_h, grad_cell, new_cell, gates, X, weights) from lltm_forward on lltm's samples."""
    for s in samples(OPS_BY_NAME["lltm"], device, dtype, False):
        new_h, new_cell, gates, X = torch.ops.myops.lltm_forward(*s.args)
        g = lambda t: make_tensor(t.shape, device=device, dtype=dtype, low=-1, high=1)  # noqa: E731
        yield Sample(s.name, (g(new_h), g(new_cell), new_cell, gates, X, s.args[1]))


# (name, op, samples, tolerances): the table's ops, and the internal lltm ops autograd calls.
VMAP_OPS = [(op.name, op.op, lambda d, t, op=op: samples(op, d, t), op.tolerances) for op in OPS] + [
    ("lltm_forward", torch.ops.myops.lltm_forward.default, lambda d, t: list(_lltm_forward_samples(d, t, False)),
     OPS_BY_NAME["lltm"].tolerances),
    ("lltm_backward", torch.ops.myops.lltm_backward.default, lambda d, t: list(_lltm_backward_samples(d, t, False)),
     OPS_BY_NAME["lltm"].tolerances),
]
OUT_ARG = {op.name: op.out_arg for op in OPS}
DTYPE = torch.float32


def _params():
    params = []
    for name, op, make_samples, tol in VMAP_OPS:
        for s in make_samples("cpu", DTYPE):
            params.append(pytest.param(name, s.name, id=f"{name}-{s.name}"))
    return params


def _lookup(name, sample_name, device):
    entry = next(e for e in VMAP_OPS if e[0] == name)
    sample = next(s for s in entry[2](device, DTYPE) if s.name == sample_name)
    return entry[1], sample, entry[3]


def _tensor_positions(args):
    """Indices of the tensor arguments, the same tensor object (out is a) counted once."""
    seen, positions = set(), []
    for i, a in enumerate(args):
        if isinstance(a, torch.Tensor) and id(a) not in seen:
            seen.add(id(a))
            positions.append(i)
    return positions


def _choices(name, sample_name, args, out_arg):
    """Which tensor args are batched (and at which in_dim), several draws per sample, seeded by
    the sample's name: every argument alone, all of them, and random subsets."""
    rng = random.Random(zlib.crc32(f"{name}/{sample_name}".encode()))
    positions = _tensor_positions(args)
    subsets = [[p] for p in positions] + [positions] + [
        [p for p in positions if rng.random() < 0.5] or [rng.choice(positions)] for _ in range(2)]
    # add_out: out is batched when a or b is (test_add_out_needs_batched_out); out may be a or b.
    out_pos = None if out_arg is None else next(i for i, a in enumerate(args) if a is args[out_arg])
    draws = []
    for subset in subsets:
        if out_pos is not None and out_pos not in subset:
            subset = subset + [out_pos]
        dims = {}
        for p in subset:
            ndim = args[p].dim() + 1
            d = rng.randrange(ndim)
            dims[p] = d - ndim if rng.random() < 0.3 else d  # negative in_dims too
        draws.append(dims)
    return draws


def _batched_args(args, dims, device):
    """args with the tensors at `dims` replaced by V different values stacked at that dim
    (first value: the sample's own); an argument passed twice (out is a) stays one tensor."""
    return stack_batched(args, dims, lambda a: [a] + [make_tensor(a.shape, device=device, dtype=a.dtype, low=-2, high=2)
                                                      for _ in range(V - 1)])


def _clone(args):
    memo = {}
    return [memo.setdefault(id(a), a.clone()) if isinstance(a, torch.Tensor) else a for a in args]


def _per_sample(op, args, in_dims, out_arg, out_dims):
    """The oracle: the op called once per sample, each output's results stacked at its out_dims
    (an int for all, or a tuple of one per output)."""
    results = []
    for i in range(V):
        sample_args = [a.select(d, i) if d is not None else a for a, d in zip(args, in_dims)]
        r = op(*sample_args)
        results.append(as_tuple(sample_args[out_arg] if out_arg is not None else r))
    n = len(results[0])
    dims = out_dims if isinstance(out_dims, tuple) else (out_dims,) * n
    return tuple(torch.stack([r[k] for r in results], dims[k]) for k in range(n))


def _vmapped(op, out_arg):
    if out_arg is None:
        return op

    def mutating(*args):
        op(*args)
        return args[out_arg]
    return mutating


def _check(op, args, in_dims, out_arg, tol, rng=None):
    """vmap(op) at random out_dims (each output's first or last dim) against the loop."""
    out_dims = 0
    if rng is not None:
        # torch 2.11's vmap fails ("The expanded size of the tensor ...") on out_dims other
        # than 0 for an output that is not batched (the same for every sample: lltm_backward's
        # weight gradients when only `weights` is batched), a PyTorch bug: those stay at 0.
        stacked = _per_sample(op, _clone(args), in_dims, out_arg, 0)
        out_dims = tuple(0 if all(torch.equal(t[0], t[i]) for i in range(V)) else rng.choice([0, t.dim() - 1])
                         for t in stacked)
        out_dims = out_dims if len(out_dims) > 1 else out_dims[0]
    want = _per_sample(op, _clone(args), in_dims, out_arg, out_dims)
    got = as_tuple(torch.vmap(_vmapped(op, out_arg), in_dims=in_dims, out_dims=out_dims)(*args))
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype
        atol, rtol = tol[g.dtype]
        torch.testing.assert_close(g, w, atol=atol, rtol=rtol, equal_nan=True)


@pytest.mark.parametrize("name, sample_name", _params())
def test_vmap_matches_per_sample_loop(name, sample_name, device):
    op, sample, tol = _lookup(name, sample_name, device)
    out_arg = OUT_ARG.get(name)
    rng = random.Random(zlib.crc32(sample_name.encode()))
    for dims in _choices(name, sample_name, sample.args, out_arg):
        args, in_dims = _batched_args(sample.args, dims, device)
        _check(op, args, in_dims, out_arg, tol, rng)


# One sample per op: nested vmap (two levels, each batching its own subset of the arguments).
NESTED = [pytest.param(name, next(iter(make_samples("cpu", DTYPE))).name, id=name)
          for name, _, make_samples, _ in VMAP_OPS]


@pytest.mark.parametrize("name, sample_name", NESTED)
def test_nested_vmap(name, sample_name, device):
    op, sample, tol = _lookup(name, sample_name, device)
    out_arg = OUT_ARG.get(name)
    positions = _tensor_positions(sample.args)
    # Outer level: every tensor at dim 0; inner level: the first tensor (and out) at its last dim.
    outer, outer_dims = _batched_args(sample.args, {p: 0 for p in positions}, device)
    inner_positions = {positions[0]} | ({out_arg} if out_arg is not None else set())
    inner_args, inner_dims = _batched_args(outer, {p: -1 for p in inner_positions}, device)
    # inner_args have the inner dim added last; the outer dim stays 0.
    fn = _vmapped(op, out_arg)
    got = as_tuple(torch.vmap(torch.vmap(fn, in_dims=inner_dims), in_dims=outer_dims)(*inner_args))
    want = []
    for i in range(V):
        level1 = [a.select(0, i) if d is not None else a for a, d in zip(_clone(inner_args), outer_dims)]
        want.append(_per_sample(op, level1, inner_dims, out_arg, 0))
    for k, g in enumerate(got):
        w = torch.stack([r[k] for r in want], 0)
        atol, rtol = tol[g.dtype]
        torch.testing.assert_close(g, w, atol=atol, rtol=rtol, equal_nan=True)


DIFFERENTIABLE = [op for op in OPS if op.differentiable]


@pytest.mark.parametrize("op", DIFFERENTIABLE, ids=str)
def test_vmap_over_backward(op, device):
    """autograd.grad(..., is_grads_batched=True): the backward graph (the ops' registered
    backward ops) runs under vmap over V output gradients; equal to V separate backward passes."""
    for sample in samples(op, device, torch.float64, requires_grad=True):
        outs = [o for o in as_tuple(op.op(*sample.args))]
        inputs = [a for a in sample.args if isinstance(a, torch.Tensor) and a.requires_grad]
        if not inputs or all(o.numel() == 0 for o in outs):
            continue
        grads = [torch.randn(V, *o.shape, dtype=o.dtype, device=o.device) for o in outs]
        got = torch.autograd.grad(outs, inputs, grads, retain_graph=True, is_grads_batched=True, allow_unused=True)
        for i in range(V):
            want = torch.autograd.grad(outs, inputs, [g[i] for g in grads], retain_graph=True, allow_unused=True)
            for gb, w in zip(got, want):
                if w is None:
                    continue
                torch.testing.assert_close(gb[i], w, atol=1e-10, rtol=1e-10, msg=lambda m: f"{sample.name}: {m}")


def test_add_out_needs_batched_out(device):
    a = torch.randn(V, 4, device=device)
    b = torch.randn(4, device=device)
    out = torch.empty(4, device=device)
    with pytest.raises(RuntimeError, match="myops.add_out: under vmap, out must be batched when a or b is"):
        torch.vmap(lambda a, b, out: torch.ops.myops.add_out(a, b, out), in_dims=(0, None, None))(a, b, out)


# (a, b, in_dims): mixed float dtypes where a batched 0-dim sample is physically dimensioned
# ([V]) or an unbatched 0-dim argument meets one, so that the physical promotion differs from
# each sample's (float16 [4] with a float32 scalar is float16 per sample, float32 physically).
_H, _F, _BF = torch.float16, torch.float32, torch.bfloat16
MIXED_DTYPE_CASES = [
    pytest.param(((4,), _H), ((V,), _F), (None, 0), id="half_with_batched_float_scalar"),
    pytest.param(((V, 4), _H), ((V,), _F), (0, 0), id="batched_half_with_batched_float_scalar"),
    pytest.param(((V,), _H), ((), _F), (0, None), id="batched_half_scalar_with_float_scalar"),
    pytest.param(((V,), _BF), ((2, 4), _H), (0, None), id="batched_bfloat16_scalar_with_half"),
    pytest.param(((V,), _F), ((4, V), _H), (0, 1), id="batched_float_scalar_with_batched_half"),
]


@pytest.mark.parametrize("a_spec, b_spec, in_dims", MIXED_DTYPE_CASES)
@pytest.mark.parametrize("name", ["muladd", "mul", "add", "add_out"])
def test_mixed_dtypes_promote_per_sample(name, a_spec, b_spec, in_dims, device):
    """Each sample's dtype and value, bit for bit: the op computes a float32 scalar next to
    float16 in float32 and rounds once (the rule once promoted by physical rank: a float32
    result, or add_out's dtype error, where the loop gives float16)."""
    op = OPS_BY_NAME[name].op
    a = torch.randn(a_spec[0], device=device).mul(100).to(a_spec[1])
    b = torch.randn(b_spec[0], device=device).div(3).to(b_spec[1])
    # PyTorch's promotion of one sample (independent of the ops).
    dtype = torch.result_type(*(t.select(d, 0) if d is not None else t for t, d in zip((a, b), in_dims)))
    args, dims, out_arg = [a, b], list(in_dims), None
    if name == "muladd":
        args, dims = args + [0.7], dims + [None]
    if name == "add_out":
        shape = torch.vmap(torch.add, in_dims=in_dims)(a, b).shape
        args, dims, out_arg = args + [torch.empty(shape, device=device, dtype=dtype)], dims + [0], 2
    want = _per_sample(op, _clone(args), dims, out_arg, 0)[0]
    got = torch.vmap(_vmapped(op, out_arg), in_dims=tuple(dims))(*args)
    assert got.dtype == want.dtype == dtype
    assert torch.equal(got, want)


def test_per_sample_gradients_of_lltm_backward(device):
    """lltm_backward's weight and bias gradients stay per sample under vmap (they are sums over
    the rows, which must not mix samples): vmap over a batched input equals the loop."""
    op, sample, tol = _lookup("lltm_backward", "basic", device)
    args, in_dims = _batched_args(sample.args, {0: 0, 1: 0, 2: 0, 3: 0, 4: 0}, device)
    _check(op, args, in_dims, None, tol)


@pytest.mark.parametrize("name", ["lltm", "lltm_forward", "lltm_backward"])
def test_lltm_every_batched_subset(name, device):
    """Every subset of the lltm ops' tensor arguments batched, the others shared (in_dims None),
    at dim 0 or -1: each path of the rules (rows folded; a batched weights or bias through one
    bmm and the gate pass; lltm_backward's products per sample or over the folded rows)."""
    op, sample, tol = _lookup(name, "basic", device)
    positions = _tensor_positions(sample.args)
    for mask in itertools.product((False, True), repeat=len(positions)):
        if not any(mask):
            continue
        chosen = [p for p, m in zip(positions, mask) if m]
        dims = {p: (0 if k % 2 == 0 else -1) for k, p in enumerate(chosen)}
        args, in_dims = _batched_args(sample.args, dims, device)
        _check(op, args, in_dims, None, tol)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
@pytest.mark.parametrize("state", [32, 64])
def test_lltm_rules_at_wide_states(state, dtype, device):
    """States of two or more 64-byte vectors (the CPU kernels' vector body) with a batched weights
    and bias (lltm's rule: baddbmm + lltm_cell; lltm_forward's: a loop), and
    lltm_backward's rule (lltm_gates_backward + products) with batched rows and with only
    weights batched, against the loop."""
    tol = OPS_BY_NAME["lltm"].tolerances
    t = lambda *shape: make_tensor(shape, device=device, dtype=dtype, low=-1, high=1)  # noqa: E731
    B, F = 3, 5
    rows = (t(V, B, F), t(V, 3 * state, state + F) / 4, t(V, 3 * state), t(V, B, state), t(V, B, state))
    # The stacked arguments, those at in_dim None as one sample's value.
    pick = lambda args, dims: [a if d is not None else a[0] for a, d in zip(args, dims)]  # noqa: E731
    for name in ("lltm", "lltm_forward"):
        for dims in [(0, 0, 0, 0, 0), (None, 0, None, 0, None), (0, None, 0, 0, 0)]:
            _check(getattr(torch.ops.myops, name).default, pick(rows, dims), dims, None, tol)
    new_h, new_cell, gates, X = torch.ops.myops.lltm_forward(rows[0][0], rows[1][0], rows[2][0], rows[3][0],
                                                             rows[4][0])
    stack = lambda x: torch.stack([x] + [t(*x.shape) for _ in range(V - 1)])  # noqa: E731
    backward = torch.ops.myops.lltm_backward.default
    args = (stack(new_h), stack(new_cell), stack(new_cell), stack(gates), stack(X), rows[1])
    for dims in [(0, 0, 0, 0, 0, None), (0, None, 0, None, None, 0), (None, None, None, None, 0, 0)]:
        _check(backward, pick(args, dims), dims, None, tol)


def test_lltm_batched_weights_errors_name_the_op(device):
    """A batched weights or bias the op would reject: the op's own errors, not the bmm's."""
    x, h, b = torch.randn(4, 5, device=device), torch.randn(4, 3, device=device), torch.randn(9, device=device)
    lltm = torch.ops.myops.lltm
    with pytest.raises(RuntimeError, match=r"myops.lltm: weights must have shape \[3 \* state, state \+ features\]"):
        torch.vmap(lltm, in_dims=(None, 0, None, None, None))(x, torch.randn(V, 9, 7, device=device), b, h, h)
    with pytest.raises(TypeError, match="myops.lltm: bias must have input's dtype"):
        torch.vmap(lltm, in_dims=(None, None, 0, None, None))(
            x, torch.randn(9, 8, device=device), torch.randn(V, 9, dtype=torch.float64, device=device), h, h)


@pytest.mark.parametrize("value", [float("inf"), float("-inf")], ids=["inf", "-inf"])
def test_lltm_batched_bias_keeps_infinite_gates(value, device):
    """An infinite gate pre-activation (a batched bias, so the rule's baddbmm + lltm_cell path)
    only affects its own state column, as in the per-sample op: the rule once ran the gate pass
    through an identity product, where inf * 0 made every other column of the row NaN."""
    B, F, S = 2, 3, 4
    x, w, h, c = torch.randn(B, F), torch.randn(3 * S, S + F) / 3, torch.randn(B, S), torch.randn(B, S)
    b = torch.randn(V, 3 * S)
    b[0, 2] = value  # sample 0, input gate of state column 2
    b[1, S + 1] = value  # sample 1, output gate of column 1
    b[2, 2 * S + 3] = value  # sample 2, candidate of column 3
    args = [t.to(device) for t in (x, w, b, h, c)]
    in_dims = (None, None, 0, None, None)
    _check(torch.ops.myops.lltm.default, args, in_dims, None, OPS_BY_NAME["lltm"].tolerances)
    new_h, _ = torch.vmap(torch.ops.myops.lltm, in_dims=in_dims)(*args)
    assert not new_h.isnan().any()


def test_lltm_ensemble_gradients_and_tangents(device):
    """Model ensembles: per-sample weights, bias and old_cell gradients (vmap over grad) and a
    weights tangent (vmap over jvp) through lltm's batched-weights rule (baddbmm + lltm_cell)
    equal the per-sample transforms."""
    B, F, S = 2, 3, 4
    t = lambda *shape: torch.randn(*shape, device=device, dtype=torch.float64)  # noqa: E731
    x, w, b, h, c, tw = t(V, B, F), t(V, 3 * S, S + F), t(V, 3 * S), t(V, B, S), t(V, B, S), t(V, 3 * S, S + F)

    def loss(x, w, b, h, c):
        new_h, new_cell = torch.ops.myops.lltm(x, w, b, h, c)
        return (new_h * new_h).sum() + new_cell.sum()
    grad = torch.func.grad(loss, argnums=(1, 2, 4))
    got = torch.vmap(grad)(x, w, b, h, c)
    want = [grad(x[i], w[i], b[i], h[i], c[i]) for i in range(V)]
    for k in range(3):
        torch.testing.assert_close(got[k], torch.stack([r[k] for r in want]))

    def tangent(x, w, b, h, c, tw):
        return torch.func.jvp(lambda w: torch.ops.myops.lltm(x, w, b, h, c), (w,), (tw,))[1]
    got = torch.vmap(tangent)(x, w, b, h, c, tw)
    want = [tangent(x[i], w[i], b[i], h[i], c[i], tw[i]) for i in range(V)]
    for k in range(2):
        torch.testing.assert_close(got[k], torch.stack([r[k] for r in want]))


def test_lltm_backward_errors_name_the_op(device):
    """Gate-pass arguments lltm_backward rejects: its own errors under vmap (the rule calls
    lltm_gates_backward only on arguments the op accepts)."""
    r = lambda *shape, dtype=torch.float32: torch.randn(*shape, device=device, dtype=dtype)  # noqa: E731
    backward = torch.vmap(torch.ops.myops.lltm_backward, in_dims=(0, 0, 0, 0, 0, None))
    h, X, w = r(V, 4, 3), r(V, 4, 7), r(9, 7)
    with pytest.raises(RuntimeError, match=r"myops.lltm_backward: gates must have shape \[batch, 3 \* state\] = "
                                           r"\[4, 9\], got shape \[4, 8\]"):
        backward(h, h, h, r(V, 4, 8), X, w)
    with pytest.raises(TypeError, match="myops.lltm_backward: grad_cell must have new_cell's dtype Float, got Double"):
        backward(h, r(V, 4, 3, dtype=torch.float64), h, r(V, 4, 9), X, w)


def test_empty_vmap_batch(device):
    """vmap over a batch of size 0 (what jacrev/jacfwd of a zero-element output make): every rule
    that folds the vmap dim into a dim of the op gives an empty result of the per-sample loop's
    shape (they once divided by the batch size: a crash, then a RuntimeError)."""
    r = lambda *shape: torch.randn(*shape, device=device)  # noqa: E731
    ops = torch.ops.myops
    cases = [
        (ops.lltm, (r(0, 4, 3), r(12, 7), r(12), r(0, 4, 4), r(0, 4, 4)), (0, None, None, 0, 0), [(0, 4, 4)] * 2),
        (ops.lltm, (r(4, 3), r(0, 12, 7), r(12), r(4, 4), r(4, 4)), (None, 0, None, None, None), [(0, 4, 4)] * 2),
        (ops.lltm_cell_backward, (r(0, 2, 4), r(0, 2, 4), r(0, 2, 12), r(0, 2, 4)), 0, [(0, 2, 12), (0, 2, 4)]),
        (ops.upfirdn2d, (r(0, 1, 2, 5, 5),), 0, [(0, 1, 2, 5, 5)]),
        (ops.filtered_lrelu, (r(0, 1, 2, 8, 8),), 0, [(0, 1, 2, 8, 8)]),
        (lambda x, b: ops.filtered_lrelu(x, None, None, b), (r(0, 1, 2, 8, 8), r(0, 2)), 0, [(0, 1, 2, 8, 8)]),
        (lambda g, x, b: ops.filtered_lrelu_backward(g, x, None, None, b, 1, 1, [0, 0, 0, 0], 2 ** 0.5, 0.2, None, False),
         (r(0, 1, 2, 8, 8), r(0, 1, 2, 8, 8), r(0, 2)), 0,
         [(0, 1, 2, 8, 8)]),
        (lambda x, b: ops.bias_act(x, b), (r(2, 3), r(0, 3)), (None, 0), [(0, 2, 3)]),
        (lambda g, x, b: ops.bias_act_backward(g, x, b, 1, "lrelu", None, None, None),
         (r(0, 2, 3), r(0, 2, 3), r(0, 3)), 0, [(0, 2, 3)]),
    ]
    for op, args, in_dims, shapes in cases:
        got = as_tuple(torch.vmap(op, in_dims=in_dims)(*args))
        assert [tuple(t.shape) for t in got] == shapes, op


UPFIRDN2D_FILTER_CASES = [  # (filter shape, up, down, padding, flip_filter, gain)
    ((4, 4), [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0),
    ((4,), [1, 1], [2, 2], [1, 1, 1, 1], False, 1.0),
    ((3, 5), [2, 1], [1, 2], [-1, 3, 2, -2], True, 0.5),
    ((5,), [3, 2], [2, 3], [0, -2, 4, 1], True, 2.0),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("case", range(len(UPFIRDN2D_FILTER_CASES)))
def test_upfirdn2d_per_sample_filters(case, dtype, device):
    """A batched filter (one per sample: the rule stacks the samples, upfirdn2d_stacked), with x batched or
    shared, channels_last or not, a float32 filter or one of x's dtype, and under autocast,
    against the loop."""
    fshape, up, down, padding, flip, gain = UPFIRDN2D_FILTER_CASES[case]
    tol = OPS_BY_NAME["upfirdn2d"].tolerances
    x = make_tensor((V, 2, 3, 7, 6), device=device, dtype=dtype, low=-2, high=2)
    for f_dtype in {torch.float32, dtype}:
        f = make_tensor((V, *fshape), device=device, dtype=f_dtype, low=-1, high=1)
        args = [x, f, up, down, padding, flip, gain]
        _check(torch.ops.myops.upfirdn2d.default, args, (0, 0) + (None,) * 5, None, tol)
        args[0] = x[0].contiguous(memory_format=torch.channels_last)
        _check(torch.ops.myops.upfirdn2d.default, args, (None, 0) + (None,) * 5, None, tol)
    if dtype == torch.float32 and device == "cpu":  # autocast: the op runs in x's dtype, so must the rule
        with torch.autocast("cpu", dtype=torch.bfloat16):
            _check(torch.ops.myops.upfirdn2d.default, [x, f, up, down, padding, flip, gain], (0, 0) + (None,) * 5,
                   None, tol)


def test_upfirdn2d_per_sample_filters_gradients(device):
    """Per-sample gradients of x with per-sample filters (vmap over grad) equal the loop's; a
    filter that requires grad gets the op's error (its filter is not differentiable), not a
    silent filter gradient."""
    x = torch.randn(V, 2, 3, 6, 5, device=device, dtype=torch.float64)
    f = torch.randn(V, 4, 4, device=device, dtype=torch.float64)
    weights = torch.randn(2, 3, 12, 10, device=device, dtype=torch.float64)

    def loss(x, f):
        return (torch.ops.myops.upfirdn2d(x, f, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0) * weights).sum()
    got = torch.vmap(torch.func.grad(loss))(x, f)
    want = torch.stack([torch.func.grad(loss)(x[i], f[i]) for i in range(V)])
    torch.testing.assert_close(got, want)
    with pytest.raises(RuntimeError, match="myops.upfirdn2d: f requires grad"):
        torch.vmap(torch.ops.myops.upfirdn2d)(x, f.requires_grad_())


def test_upfirdn2d_per_sample_filters_under_grad_and_jvp(device):
    """Transforms outside the vmap (grad, autograd with create_graph, jvp) differentiate through
    upfirdn2d_stacked's own autograd formula and tangent: equal to the reference's."""
    x = torch.randn(V, 2, 3, 6, 5, device=device, dtype=torch.float64, requires_grad=True)
    f = torch.randn(V, 4, 4, device=device, dtype=torch.float64)
    args = ([2, 2], [1, 1], [2, 1, 2, 1], False, 4.0)
    weights = torch.randn(V, 2, 3, 12, 10, device=device, dtype=torch.float64)
    batched = lambda x: torch.vmap(lambda x, f: torch.ops.myops.upfirdn2d(x, f, *args))(x, f)  # noqa: E731
    per_sample = lambda x: torch.stack([reference.upfirdn2d(x[i], f[i], *args) for i in range(V)])  # noqa: E731
    want = torch.autograd.grad((per_sample(x) * weights).sum(), x)[0]
    torch.testing.assert_close(torch.func.grad(lambda x: (batched(x) * weights).sum())(x), want)
    (got,) = torch.autograd.grad((batched(x) * weights).sum(), x, create_graph=True)
    torch.testing.assert_close(got, want)
    t = torch.randn_like(x)
    _, tangent = torch.func.jvp(batched, (x.detach(),), (t,))
    torch.testing.assert_close(tangent, per_sample(t))


def test_upfirdn2d_per_sample_filters_are_one_stacked_call(device):
    """The rule for per-sample filters makes one upfirdn2d_stacked call for the whole batch,
    not one upfirdn2d call per sample (what it did before, near the fallback's speed)."""
    x = torch.randn(V, 2, 3, 6, 5, device=device)
    f = torch.randn(V, 4, device=device)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        torch.vmap(lambda x, f: torch.ops.myops.upfirdn2d(x, f, [2, 2], [1, 1], [2, 1, 2, 1]))(x, f)
    names = [e.name for e in prof.events()]
    assert names.count("myops::upfirdn2d_stacked") == 1, names
    assert names.count("myops::upfirdn2d") == 1, names  # the vmapped call itself


def test_upfirdn2d_per_sample_filters_empty_batch_and_nested(device):
    """An empty batch of per-sample filters gives an empty batch of outputs of the per-sample
    shape; vmap nested twice over x and filters equals the double loop (upfirdn2d_stacked's own
    rule folds the outer batch into its stack)."""
    args = ([2, 1], [1, 2], [1, 2, 0, 1], True, 2.0)
    x = torch.randn(3, 4, 2, 3, 6, 5, device=device, dtype=torch.float64)
    f = torch.randn(3, 4, 3, 2, device=device, dtype=torch.float64)
    op = lambda x, f: torch.ops.myops.upfirdn2d(x, f, *args)  # noqa: E731
    sample = op(x[0, 0], f[0, 0])
    empty = torch.vmap(op)(x[0, :0], f[0, :0])
    assert empty.shape == (0, *sample.shape) and empty.dtype == sample.dtype
    got = torch.vmap(torch.vmap(op))(x, f)
    want = torch.stack([torch.stack([reference.upfirdn2d(x[i, j], f[i, j], *args) for j in range(4)])
                        for i in range(3)])
    torch.testing.assert_close(got, want)
    got = torch.vmap(torch.vmap(op), in_dims=(None, 0))(x[0], f)  # the outer level batches f only
    torch.testing.assert_close(got, torch.stack([torch.vmap(op)(x[0], f[i]) for i in range(3)]))


FILTERED_LRELU_FILTER_CASES = [  # (fu shape, fd shape, up, down, padding, gain, slope, clamp, flip_filter)
    ((4,), (4,), 2, 2, [2, 1, 2, 1], 2 ** 0.5, 0.2, None, False),
    ((3, 4), (2, 3), 2, 1, [1, 2, 0, 3], 1.0, 0.1, 0.5, True),
    ((5,), None, 1, 2, [-1, 2, 2, -1], 2.0, 0.0, 1.0, False),
    (None, (3, 3), 3, 2, [0, 0, 1, 1], 0.5, 0.3, None, True),
]


def _filtered_lrelu_case(case, dtype, device, x_batched=True, b_batched=False):
    """(args, in_dims) of filtered_lrelu with V per-sample filters (a float32 one, or x's dtype)."""
    fu_shape, fd_shape, *rest = FILTERED_LRELU_FILTER_CASES[case]
    make = lambda *shape, dtype=dtype: make_tensor(shape, device=device, dtype=dtype, low=-2, high=2)  # noqa: E731
    x = make(V, 2, 3, 7, 6) if x_batched else make(2, 3, 7, 6)
    fu = None if fu_shape is None else make(V, *fu_shape, dtype=torch.float32)
    fd = None if fd_shape is None else make(V, *fd_shape)
    b = make(V, 3) if b_batched else make(3)
    args = [x, fu, fd, b, *rest]
    in_dims = (0 if x_batched else None, None if fu is None else 0, None if fd is None else 0,
               0 if b_batched else None) + (None,) * len(rest)
    return args, in_dims


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16, torch.float16], ids=str)
@pytest.mark.parametrize("case", range(len(FILTERED_LRELU_FILTER_CASES)))
def test_filtered_lrelu_per_sample_filters(case, dtype, device):
    """Per-sample filters fu and/or fd (the rule runs the op's composition over the stack of
    samples, upfirdn2d_stacked per resampling step), with x and b batched or shared, and
    filtered_lrelu_backward alike, against the per-sample loop of the op's fused kernel."""
    tol = OPS_BY_NAME["filtered_lrelu"].tolerances
    for x_batched, b_batched in [(True, False), (False, True), (True, True)]:
        args, in_dims = _filtered_lrelu_case(case, dtype, device, x_batched, b_batched)
        _check(torch.ops.myops.filtered_lrelu.default, args, in_dims, None, tol)
        x = args[0] if x_batched else args[0].expand(V, *args[0].shape)
        out_shape = torch.vmap(torch.ops.myops.filtered_lrelu.default, in_dims=in_dims)(*args).shape
        grad = make_tensor(out_shape, device=device, dtype=dtype, low=-1, high=1)
        _check(torch.ops.myops.filtered_lrelu_backward.default, [grad, x.contiguous(), *args[1:]], (0, 0) + in_dims[1:],
               None, tol)
        if dtype == torch.float32 and device == "cpu":  # autocast: x and b in bf16, so for the rule too
            with torch.autocast("cpu", dtype=torch.bfloat16):
                _check(torch.ops.myops.filtered_lrelu.default, args, in_dims, None, tol)


@pytest.mark.parametrize("case", range(len(FILTERED_LRELU_FILTER_CASES)))
def test_filtered_lrelu_per_sample_filters_gradients(case, device):
    """Per-sample gradients of x and b with per-sample filters (vmap over grad: autograd's
    filtered_lrelu_backward call goes through the same rule) equal the reference's; under a
    transform outside the vmap (grad, jvp) too."""
    args, in_dims = _filtered_lrelu_case(case, torch.float64, device, b_batched=True)
    x, fu, fd, b, *rest = args
    in_dims = in_dims[:4]
    out_shape = reference.filtered_lrelu(x[0], None if fu is None else fu[0].double(), None if fd is None else fd[0],
                                         b[0], *rest).shape
    weights = torch.randn(out_shape, device=device, dtype=torch.float64)
    sample = lambda i, t: None if t is None else t[i]  # noqa: E731

    def loss(op, x, fu, fd, b):
        return (op(x, fu, fd, b, *rest) * weights).sum()
    got = torch.vmap(torch.func.grad(lambda *a: loss(torch.ops.myops.filtered_lrelu, *a), argnums=(0, 3)),
                     in_dims=in_dims)(x, fu, fd, b)
    want = [torch.func.grad(lambda *a: loss(reference.filtered_lrelu, *a), argnums=(0, 3))(
        x[i], sample(i, fu), sample(i, fd), b[i]) for i in range(V)]
    for k in range(2):
        torch.testing.assert_close(got[k], torch.stack([w[k] for w in want]))

    batched = lambda x: torch.vmap(lambda x, fu, fd, b: torch.ops.myops.filtered_lrelu(x, fu, fd, b, *rest),  # noqa: E731
                                   in_dims=in_dims)(x, fu, fd, b)
    per_sample = lambda x: torch.stack([reference.filtered_lrelu(  # noqa: E731
        x[i], sample(i, fu), sample(i, fd), b[i], *rest) for i in range(V)])
    torch.testing.assert_close(torch.func.grad(lambda x: (batched(x) * weights).sum())(x),
                               torch.func.grad(lambda x: (per_sample(x) * weights).sum())(x))
    t = torch.randn_like(x)
    torch.testing.assert_close(torch.func.jvp(batched, (x,), (t,))[1], torch.func.jvp(per_sample, (x,), (t,))[1])


def test_filtered_lrelu_per_sample_filters_calls_and_errors(device):
    """The rule makes two upfirdn2d_stacked calls for the whole batch (no per-sample
    filtered_lrelu calls: what it once did, near the fallback's speed); an empty batch gives an
    empty batch of the per-sample shape; the op's own errors name it."""
    x = torch.randn(V, 2, 3, 6, 5, device=device)
    f = torch.randn(V, 4, device=device)
    op = lambda x, fu, fd: torch.ops.myops.filtered_lrelu(x, fu, fd, None, 2, 2, [2, 1, 2, 1])  # noqa: E731
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
        torch.vmap(op)(x, f, f)
    names = [e.name for e in prof.events()]
    assert names.count("myops::upfirdn2d_stacked") == 2, names
    assert names.count("myops::filtered_lrelu") == 1, names  # the vmapped call itself
    # The composition sums what the fused kernel sums, in the same order: the same bits.
    assert torch.equal(torch.vmap(op)(x, f, f), torch.stack([op(x[i], f[i], f[i]) for i in range(V)]))
    empty = torch.vmap(op)(x[:0], f[:0], f[:0])
    assert empty.shape == (0, *op(x[0], f[0], f[0]).shape)
    with pytest.raises(RuntimeError, match="myops.filtered_lrelu: fd requires grad"):
        torch.vmap(op)(x, f, f.clone().requires_grad_())
    with pytest.raises(ValueError, match="myops.filtered_lrelu: fu must be None, 1-D"):
        torch.vmap(op)(x, torch.randn(V, 2, 2, 2, device=device), f)
    with pytest.raises(ValueError, match="myops.filtered_lrelu: the output would be empty along height"):
        torch.vmap(lambda x, f: torch.ops.myops.filtered_lrelu(x, f, None, None, 1, 1, [0, 0, -4, -4]))(x, f)
    with pytest.raises(ValueError, match="myops.filtered_lrelu_backward: grad must have the output's shape"):
        torch.vmap(lambda g, x, f: torch.ops.myops.filtered_lrelu_backward(
            g, x, f, None, None, 1, 1, [0, 0, 0, 0], 1.0, 0.2, None, False))(x, x, f)


def test_batched_shape_errors_name_the_op(device):
    """A per-sample shape the op rejects is reported by the op itself."""
    x = torch.randn(V, 2, 3, 5, device=device)  # samples are 3-D, upfirdn2d wants 4-D
    with pytest.raises(ValueError, match="myops.upfirdn2d: x must be 4-D"):
        torch.vmap(torch.ops.myops.upfirdn2d)(x)
    with pytest.raises(IndexError, match="myops.bias_act: dim must be in"):
        torch.vmap(lambda x, b: torch.ops.myops.bias_act(x, b, 3))(x, torch.randn(V, 3))
    with pytest.raises(ValueError, match="myops.upfirdn2d: x must be 4-D"):  # the filter too batched
        torch.vmap(torch.ops.myops.upfirdn2d)(x, torch.randn(V, 4, device=device))
    with pytest.raises(ValueError, match="myops.upfirdn2d: f must be 1-D"):
        torch.vmap(torch.ops.myops.upfirdn2d)(x.unsqueeze(1), torch.randn(V, 2, 2, 2, device=device))


def test_fuzz_findings(device):
    """What tests/test_fuzz_vmap.py found (2026-12-03), each once an error other than the op's, or
    an error where the op runs: a loop over an empty batch (lltm with batched weights and
    arguments the op rejects) called at::stack on no samples; bias_act's rule checked `dim`
    before the op's checks (an invalid clamp gave IndexError, not the op's ValueError); the
    per-sample filter path of filtered_lrelu could not view an empty batch of 0-channel biases."""
    r = lambda *shape, dtype=torch.float32: torch.randn(*shape, device=device, dtype=dtype)  # noqa: E731
    with pytest.raises(TypeError, match="myops.lltm: weights must have input's dtype Float, got Double"):
        torch.vmap(torch.ops.myops.lltm.default, in_dims=(0, 0, None, None, None))(
            r(0, 1, 0), r(0, 3, 1, dtype=torch.float64), r(3), r(1, 1), r(1, 1))
    with pytest.raises(ValueError, match="myops.bias_act: clamp must be None"):
        torch.vmap(lambda x, b: torch.ops.myops.bias_act(x, b, 1, "lrelu", None, None, -1.0))(r(V, 3), r(V, 3))
    with pytest.raises(ValueError, match="myops.bias_act_backward: clamp must be None"):
        torch.vmap(lambda g, x, b: torch.ops.myops.bias_act_backward(g, x, b, 1, "lrelu", None, None, -1.0))(
            r(V, 3), r(V, 3), r(V, 3))
    x, f, b = r(0, 1, 0, 4, 4), r(0, 3), r(0, 0)
    out = torch.vmap(lambda x, f, b: torch.ops.myops.filtered_lrelu(x, f, None, b, 2, 1, [1, 1, 1, 1]))(x, f, b)
    assert out.shape == (0, 1, 0, 8, 8)


def test_rules_come_with_load_library_alone():
    """The rules are C++ (FuncTorchBatched kernels in libmyops.so): a process that only calls
    torch.ops.load_library has one for every op, and vmap uses it (fallback disabled)."""
    import myops
    from helpers import run_python

    result = run_python(f"""
        import sys, torch
        torch.ops.load_library({str(myops.library_path())!r})
        names = [n for n in torch._C._dispatch_get_all_op_names() if n.startswith("myops::")]
        assert len(names) >= 14, names
        missing = [n for n in names if not torch._C._dispatch_has_kernel_for_dispatch_key(n, "FuncTorchBatched")]
        assert not missing, missing
        torch._C._functorch._set_vmap_fallback_enabled(False)
        x, b = torch.randn(5, 2, 3, 4), torch.randn(5, 3)
        y = torch.vmap(lambda x, b: torch.ops.myops.bias_act(x, b, 1, "lrelu"))(x, b)
        want = torch.stack([torch.ops.myops.bias_act(x[i], b[i], 1, "lrelu") for i in range(5)])
        torch.testing.assert_close(y, want)
        assert "myops" not in sys.modules
    """)
    assert result.returncode == 0, result.stderr
