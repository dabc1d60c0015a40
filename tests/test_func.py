"""torch.func and forward-mode AD from the op table: for every differentiable op and its small
samples, torch.func.grad, vjp, jacrev, jacfwd, jvp, hessian (= jacfwd(jacrev)) and
torch.autograd.forward_ad dual tensors give the same results as the same transform applied to
the op's reference (``func_ref`` where the table's reference calls torch.autograd.grad), in
float64 and float32 (the table's tolerance per dtype). Also per-sample gradients
(vmap(grad)), add_out's forward-mode tangent, and the clear errors: filters that require grad
or carry a tangent, orders that are not implemented (NotImplementedError, never a zero or
missing tangent).

The C++ autograd kernels (autograd/node.h) record graph nodes the way ATen's own ops do, which
is what lets functorch's transforms run them (a torch::autograd::Function refuses to)."""

import functools
import operator

import pytest
import torch
import torch.autograd.forward_ad as fwAD
from torch.func import grad, hessian, jacfwd, jacrev, jvp, vjp, vmap

from op_db import OPS, as_tuple, clone_args

DIFFERENTIABLE = [op for op in OPS if op.differentiable]
TWICE = [op for op in DIFFERENTIABLE if op.twice_differentiable]
# Without a formula of its own (lltm's third order): every transform raises.
NOT_DIFFERENTIABLE = [op for op in OPS if not op.differentiable and op.out_arg is None]

# Jacobians cost one op call per input (or output) element through vmap, Hessians the square of
# that: transforms run on the table's samples whose differentiable inputs have at most this many
# elements (every op has some), at most MAX_SAMPLES of them.
MAX_ELEMENTS = {"first": 400, "hessian": 60}
MAX_SAMPLES = 3


def _positions(sample, limit=None):
    """The differentiable arguments (those the table makes require grad); with `limit`, the
    smallest of them whose elements add up to at most `limit` (a Hessian with respect to lltm's
    inputs, biases and states, without its weight matrix)."""
    pos = [i for i, a in enumerate(sample.args) if isinstance(a, torch.Tensor) and a.requires_grad]
    if limit is None:
        return pos
    chosen, total = [], 0
    for i in sorted(pos, key=lambda i: sample.args[i].numel()):
        if total + sample.args[i].numel() <= limit:
            chosen.append(i)
            total += sample.args[i].numel()
    return sorted(chosen)


def _small_samples(op, limit, device="cpu", dtype=torch.float64):
    """The first MAX_SAMPLES samples with elements, plus the first zero-element one: jacrev and
    jacfwd of a zero-element output vmap over an empty batch, which every batching rule must
    handle (tests/test_vmap.py::test_empty_vmap_batch)."""
    chosen, empty = [], []
    for s in op.samples(device, dtype, True):
        if _positions(s, limit) and not s.kwargs:
            has_empty = any(isinstance(a, torch.Tensor) and a.numel() == 0 for a in s.args)
            (empty if has_empty else chosen).append(s.name)
    return chosen[:MAX_SAMPLES] + empty[:1]


def _params(ops, kind):
    return [pytest.param(op, name, MAX_ELEMENTS[kind], id=f"{op.name}-{name}")
            for op in ops for name in _small_samples(op, MAX_ELEMENTS[kind])]


def _get(op, name, device, dtype, limit=None):
    """(args detached, positions of the differentiable ones, within `limit` elements)."""
    for s in op.samples(device, dtype, True):
        if s.name == name:
            pos = _positions(s, limit)
            args = tuple(a.detach() if isinstance(a, torch.Tensor) else a for a in clone_args(s.args))
            return args, pos
    raise KeyError(name)


def _ref(op):
    return op.func_ref or op.ref


def _as_function(fn, args, positions):
    """fn as a function of the arguments at `positions` (the others fixed), returning a tuple."""
    def f(*tensors):
        full = list(args)
        for i, t in zip(positions, tensors):
            full[i] = t
        return as_tuple(fn(*full))
    return f


def _weights(outputs):
    """Fixed random cotangents, one per output: a loss sum((out * w)) that sees every element."""
    g = torch.Generator().manual_seed(1)
    return tuple(torch.randn(o.shape, generator=g, dtype=torch.float64).to(o) for o in outputs)


def _loss(f, weights):
    def loss(*tensors):
        # Summed tensor to tensor: Python's sum() starts from the int 0, and `0 + t` fails under
        # hessian/jacrev(jacfwd) of a zero-element input even for ATen's ops (torch 2.11:
        # `hessian(lambda a: 0 + torch.sin(a).sum())(torch.zeros(0, 3))`: IndexError in select).
        return functools.reduce(operator.add, [(o * w).sum() for o, w in zip(f(*tensors), weights)])
    return loss


def _tangents(primals):
    g = torch.Generator().manual_seed(2)
    return tuple(torch.randn(p.shape, generator=g, dtype=torch.float64).to(p) for p in primals)


def _compare(actual, expected, op, dtype):
    atol, rtol = op.tolerances[dtype]
    # Derivatives sum more terms than values: a few ulps more than the value tolerance in float64.
    atol, rtol = max(atol, 1e-10), max(rtol, 1e-10)
    torch.testing.assert_close(actual, expected, atol=atol, rtol=rtol, equal_nan=True)


def _run_both(op, name, limit, device, dtype, transform):
    """transform(f, primals) on the op (dtype) and on its reference (float64, from the same
    values), the reference's result cast to dtype."""
    args, pos = _get(op, name, device, dtype, limit)
    args64 = tuple(a.double() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)
    primals = tuple(args[i] for i in pos)
    actual = transform(_as_function(op.op, args, pos), primals)
    expected = transform(_as_function(_ref(op), args64, pos), tuple(args64[i] for i in pos))
    expected = torch.utils._pytree.tree_map(lambda t: t.to(dtype) if isinstance(t, torch.Tensor) else t, expected)
    return actual, expected


def _argnums(primals):
    return tuple(range(len(primals)))


TRANSFORMS = {
    "grad": lambda f, p: grad(_loss(f, _weights(f(*p))), argnums=_argnums(p))(*p),
    "vjp": lambda f, p: (lambda out, fn: (out, fn(_weights(out))))(*vjp(f, *p)),
    "jacrev": lambda f, p: jacrev(f, argnums=_argnums(p))(*p),
    "jacfwd": lambda f, p: jacfwd(f, argnums=_argnums(p))(*p),
    "jvp": lambda f, p: jvp(f, p, _tangents(p)),
}


@pytest.mark.parametrize("transform", list(TRANSFORMS))
@pytest.mark.parametrize("op, name, limit", _params(DIFFERENTIABLE, "first"))
def test_first_order(device, op, name, limit, transform):
    _compare(*_run_both(op, name, limit, device, torch.float64, TRANSFORMS[transform]), op, torch.float64)


@pytest.mark.parametrize("transform", ["vjp", "jvp"])
@pytest.mark.parametrize("op, name, limit", _params(DIFFERENTIABLE, "first"))
def test_first_order_float32(device, op, name, limit, transform):
    _compare(*_run_both(op, name, limit, device, torch.float32, TRANSFORMS[transform]), op, torch.float32)


SECOND_ORDER = {
    "hessian": hessian,  # jacfwd(jacrev(.)): forward mode through the op's backward ops
    "jacrev_jacrev": lambda f, argnums: jacrev(jacrev(f, argnums=argnums), argnums=argnums),
    # reverse mode through the tangent formulas (they are recorded as a graph)
    "jacrev_jacfwd": lambda f, argnums: jacrev(jacfwd(f, argnums=argnums), argnums=argnums),
}


@pytest.mark.parametrize("kind", list(SECOND_ORDER))
@pytest.mark.parametrize("op, name, limit", _params(TWICE, "hessian"))
def test_second_order(device, op, name, limit, kind):
    """The Hessian of sum(out * w), by three compositions of the transforms."""
    def transform(f, p):
        return SECOND_ORDER[kind](_loss(f, _weights(f(*p))), _argnums(p))(*p)
    if kind == "jacrev_jacfwd" and any(a.numel() == 0 for a in _get(op, name, device, torch.float64)[0]
                                       if isinstance(a, torch.Tensor)):
        pytest.skip("torch's jacrev(jacfwd(f)) fails on a zero-element input for ATen's ops too "
                    "(jacrev(jacfwd(lambda a: (a * a).sum()))(torch.zeros(0, 3)): IndexError in select)")
    if op.name in ("lltm", "lltm_cell") and kind == "jacrev_jacfwd":
        # lltm's (and lltm_cell's) tangent goes through lltm_cell_double_backward, whose
        # derivative is lltm's third order: it raises instead of returning something wrong.
        with pytest.raises(NotImplementedError, match="myops.lltm: gradients of order 3 and higher"):
            _run_both(op, name, limit, device, torch.float64, transform)
        return
    _compare(*_run_both(op, name, limit, device, torch.float64, transform), op, torch.float64)


@pytest.mark.parametrize("op, name, limit", _params(DIFFERENTIABLE, "first"))
def test_forward_ad_dual(device, op, name, limit):
    """torch.autograd.forward_ad: a dual tensor at every differentiable argument; every output
    has a tangent equal to the reference's (jvp), with and without requires_grad."""
    args, pos = _get(op, name, device, torch.float64, limit)
    primals = tuple(args[i] for i in pos)
    tangents = _tangents(primals)
    _, expected = jvp(_as_function(_ref(op), args, pos), primals, tangents)
    for requires_grad in (False, True):
        with fwAD.dual_level():
            full = [a.clone().requires_grad_(requires_grad) if i in pos else a for i, a in enumerate(args)]
            for i, t in zip(pos, tangents):
                full[i] = fwAD.make_dual(full[i], t)
            outs = as_tuple(op.op(*full))
            got = tuple(fwAD.unpack_dual(o).tangent for o in outs)
        assert all(t is not None for t in got), f"{op.name}: an output has no tangent"
        _compare(got, expected, op, torch.float64)


@pytest.mark.parametrize("op, name, limit", _params(DIFFERENTIABLE, "hessian"))
def test_per_sample_grad(device, op, name, limit):
    """vmap(grad(loss)) over a batch of 3 samples (per-sample gradients) equals the per-sample
    loop of grad on the reference; runs through vmap's batching rule or its per-sample fallback."""
    args, pos = _get(op, name, device, torch.float64, limit)
    batch = tuple(torch.stack([args[i] + 0.01 * k for k in range(3)]) for i in pos)
    weights = _weights(_as_function(op.ref, args, pos)(*(args[i] for i in pos)))

    def per_sample(fn):
        return grad(_loss(_as_function(fn, args, pos), weights), argnums=_argnums(pos))

    actual = vmap(per_sample(op.op))(*batch)
    expected = [per_sample(_ref(op))(*(b[k] for b in batch)) for k in range(3)]
    expected = tuple(torch.stack([e[j] for e in expected]) for j in range(len(pos)))
    _compare(actual, expected, op, torch.float64)


# ------------------------------------------------------------------------------ add_out

def test_add_out_tangent(device):
    """add_out writes out = a + b: forward mode gives out the tangent ta + tb (broadcast), also
    when out already had one (updated in place), and zero when only out had one."""
    a, b = torch.randn(3, 4, device=device, dtype=torch.float64), torch.randn(4, device=device, dtype=torch.float64)
    ta, tb = torch.randn_like(a), torch.randn_like(b)
    with fwAD.dual_level():
        out = torch.empty(3, 4, device=device, dtype=torch.float64)
        torch.ops.myops.add_out(fwAD.make_dual(a, ta), fwAD.make_dual(b, tb), out)
        torch.testing.assert_close(fwAD.unpack_dual(out).tangent, ta + tb)
        torch.testing.assert_close(fwAD.unpack_dual(out).primal, a + b)
        out2 = fwAD.make_dual(torch.empty(3, 4, device=device, dtype=torch.float64), torch.ones(3, 4, device=device,
                                                                                               dtype=torch.float64))
        torch.ops.myops.add_out(a, fwAD.make_dual(b, tb), out2)
        torch.testing.assert_close(fwAD.unpack_dual(out2).tangent, tb.expand(3, 4))
        torch.ops.myops.add_out(a, b, out2)
        torch.testing.assert_close(fwAD.unpack_dual(out2).tangent, torch.zeros(3, 4, device=device,
                                                                               dtype=torch.float64))

    def f(a, b):
        out = torch.empty(3, 4, device=device, dtype=torch.float64)
        torch.ops.myops.add_out(a, b, out)
        return out
    torch.testing.assert_close(jvp(f, (a, b), (ta, tb)), (a + b, ta + tb))
    torch.testing.assert_close(jacfwd(f, argnums=1)(a, b), jacfwd(lambda a, b: a + b, argnums=1)(a, b))


# ------------------------------------------------------------------------------ errors

def _filter_params():
    """Tensor arguments that are not differentiable (the filters)."""
    params = {}
    for op in DIFFERENTIABLE:
        for s in op.samples("cpu", torch.float64, True):
            if s.name not in _small_samples(op, MAX_ELEMENTS["first"]):
                continue
            for i, a in enumerate(s.args):
                if isinstance(a, torch.Tensor) and a.is_floating_point() and not a.requires_grad:
                    params.setdefault((op.name, i), pytest.param(op, s.name, i, id=f"{op.name}-{s.name}-arg{i}"))
    return list(params.values())


@pytest.mark.parametrize("op, name, position", _filter_params())
def test_filter_errors(device, op, name, position):
    """A filter under jacrev requires grad (RuntimeError), under jvp has a tangent
    (NotImplementedError): both name the op and the filter, never a zero derivative."""
    args, _ = _get(op, name, device, torch.float64)
    f = _as_function(op.op, args, [position])
    p = args[position]
    with pytest.raises(RuntimeError, match=r"myops\.\w+: \w+ requires grad, but the filters? (is|are) not "
                                           r"differentiable"):
        jacrev(f)(p)
    with pytest.raises(NotImplementedError, match=r"myops\.\w+: \w+ has a forward-mode tangent, but the filters? "
                                                  r"(is|are) not differentiable"):
        jvp(f, (p,), (torch.ones_like(p),))


@pytest.mark.parametrize("op", NOT_DIFFERENTIABLE, ids=str)
def test_not_differentiable_raises(device, op):
    """Ops with no formula (lltm's third order, lltm_backward's gate pass) raise NotImplementedError
    under every transform, with the message their table entry gives."""
    s = next(iter(op.samples(device, torch.float64, False)))
    args = tuple(a.detach() for a in clone_args(s.args))
    f = _as_function(op.op, args, [0])
    x = args[0]
    for apply in (lambda: jvp(f, (x,), (torch.ones_like(x),)), lambda: jacfwd(f)(x), lambda: jacrev(f)(x),
                  lambda: vjp(f, x)[1](tuple(torch.ones_like(o) for o in f(x)))):
        with pytest.raises(NotImplementedError, match=op.not_differentiable_error):
            apply()


def test_bias_act_order_limit(device):
    """bias_act_backward of the highest order has no x-derivative, in either mode."""
    x = torch.randn(2, 3, device=device, dtype=torch.float64)
    g = torch.randn_like(x)

    def f(x):
        return torch.ops.myops.bias_act_backward(g, x, None, 1, "tanh", None, None, None, 3)
    for apply in (lambda: jvp(f, (x,), (torch.ones_like(x),)), lambda: jacrev(f)(x)):
        with pytest.raises(NotImplementedError, match="myops.bias_act: gradients of order 4 and higher"):
            apply()
