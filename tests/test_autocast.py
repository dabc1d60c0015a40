"""torch.autocast from the op table: every op under CPU bfloat16 autocast (and CUDA float16
autocast when a GPU is present), eager and torch.compile(fullgraph=True), forward and
backward, against its policy in the table (opinfo.Autocast restates what the C++ kernels in
ops/<family>/<family>_autocast.cpp do).

The oracle: the arguments cast the way the policy says, then the reference evaluated in
float64; output dtypes as the reference gives them for the cast arguments outside autocast;
gradients flow back through the casts to the inputs in their own dtypes (a float32 parameter
gets a float32 gradient)."""

import pytest
import torch
import torch.nn.functional as F

import myops
from helpers import assert_close_to_reference, user_call
from myops import reference
from op_db import OPS, as_tuple, clone_args, get_sample

AUTOCAST_DTYPE = {"cpu": torch.bfloat16, "cuda": torch.float16}
AUTOCAST_KEYS = ("AutocastCPU", "AutocastCUDA")


def _myops_op_names():
    return sorted(n for n in torch._C._dispatch_get_all_op_names() if n.startswith("myops::"))


def test_every_op_has_an_autocast_policy():
    """Every registered op has an entry at both autocast keys (a kernel or an explicit
    fallthrough), every table entry states its policy, and "none" is a fallthrough exactly."""
    names = _myops_op_names()
    assert "myops::bias_act" in names
    for name in names:
        for key in AUTOCAST_KEYS:
            assert torch._C._dispatch_has_kernel_for_dispatch_key(name, key), \
                f"{name} has no {key} entry: add it to ops/<family>/<family>_autocast.cpp"
    for op in OPS:
        assert op.autocast is not None, f"{op.name}: the table entry needs autocast=Autocast(...)"
        dump = torch._C._dispatch_dump(f"myops::{op.name}").splitlines()
        for key in AUTOCAST_KEYS:
            line = next(line for line in dump if line.startswith(f"{key}:"))
            assert ("fallthrough" in line) == (op.autocast.policy == "none"), (op.name, line)


def _params():
    return list(_param_iter())


def _param_iter():
    for op in OPS:
        if op.autocast is None:
            continue
        for name in op.compile_samples:
            for mix in ("float32", "mixed") if op.autocast.low_args else ("float32",):
                yield pytest.param(op, name, mix, id=f"{op.name}-{name}-{mix}")


def _user_args(op, device, sample_name, mix):
    """A float32 sample; "mixed": its activations (Autocast.low_args) in the autocast dtype,
    as a previous autocast op (conv2d, linear) would hand them over."""
    args = get_sample(op, device, torch.float32, sample_name, requires_grad=op.differentiable).args
    if mix == "float32":
        return args
    low = AUTOCAST_DTYPE[device]
    return tuple(a.detach().to(low).requires_grad_(a.requires_grad)
                 if i in op.autocast.low_args and isinstance(a, torch.Tensor) else a for i, a in enumerate(args))


def _tolerance(op, *dtypes):
    return tuple(max(op.tolerances[d][k] for d in dtypes) for k in (0, 1))


def _check_autocast(op, fn, args, device):
    """fn(*args) under autocast: output dtypes and values by the op's policy; gradients of
    every input that requires grad in its own dtype, equal to the reference's through the
    same casts."""
    low = AUTOCAST_DTYPE[device]
    cast = op.autocast.apply(args, low, device)
    expected_dtypes = op.ref(*clone_args(cast))  # outside autocast: the dtypes for these args
    wide = tuple(a.detach().double() if isinstance(a, torch.Tensor) else a for a in cast)
    expected = op.ref(*wide)

    run_args = clone_args(args)
    with torch.autocast(device, dtype=low):
        outs = fn(*run_args)
    assert_close_to_reference(op, outs, expected, expected_dtypes)
    outs = as_tuple(outs)

    inputs = [a for a in run_args if isinstance(a, torch.Tensor) and a.requires_grad]
    if not inputs or all(o.numel() == 0 for o in outs):
        return
    grads = [torch.randn_like(o, dtype=torch.float64) for o in outs]
    got = torch.autograd.grad(outs, inputs, [g.to(o.dtype) for g, o in zip(grads, outs)])

    # The reference through the same casts (each a rounding with identity gradient), in float64.
    leaves = [a.detach().double().requires_grad_(a.requires_grad) if isinstance(a, torch.Tensor) else a
              for a in args]
    ref_args = [leaf.to(c.dtype).double() if isinstance(leaf, torch.Tensor) else leaf for leaf, c in zip(leaves, cast)]
    ref_outs = as_tuple(op.ref(*ref_args))
    wants = torch.autograd.grad(ref_outs, [a for a in leaves if isinstance(a, torch.Tensor) and a.requires_grad],
                                grads)
    for g, x, w in zip(got, inputs, wants):
        assert g.dtype == x.dtype and g.shape == x.shape, (g.dtype, x.dtype)
        atol, rtol = _tolerance(op, g.dtype, *(o.dtype for o in outs))
        torch.testing.assert_close(g.double(), w.to(g.dtype).double(), atol=10 * atol, rtol=10 * rtol)


@pytest.mark.parametrize("op, sample_name, mix", _params())
def test_autocast_eager(device, op, sample_name, mix):
    _check_autocast(op, user_call(op), _user_args(op, device, sample_name, mix), device)


@pytest.mark.parametrize("op, sample_name, mix", _params())
def test_autocast_compile(device, op, sample_name, mix):
    compiled = torch.compile(user_call(op), backend="aot_eager", fullgraph=True)
    _check_autocast(op, compiled, _user_args(op, device, sample_name, mix), device)


@pytest.mark.parametrize("compiled", [False, True], ids=["eager", "compile"])
def test_bias_act_after_conv(device, compiled):
    """The issue's user story: a float32 model under autocast; conv2d gives bfloat16 (float16 on
    CUDA), the bias parameter is float32. bias_act runs in the conv's dtype and the parameters
    get float32 gradients, also with backward() called inside the autocast region."""
    low = AUTOCAST_DTYPE[device]
    x = torch.randn(2, 3, 8, 8, device=device)
    w = torch.randn(4, 3, 3, 3, device=device, requires_grad=True)
    b = torch.randn(4, device=device, requires_grad=True)

    def block(x, w, b):
        return myops.bias_act(F.conv2d(x, w), b, act="lrelu", clamp=256.0)
    fn = torch.compile(block, backend="aot_eager", fullgraph=True) if compiled else block
    g = torch.randn(2, 4, 6, 6, device=device, dtype=torch.float64)
    with torch.autocast(device, dtype=low):
        y = fn(x, w, b)
        assert y.dtype == low
        y.backward(g.to(low))

    # The reference in float64 from the same rounded inputs, and at the conv outputs autocast's
    # conv2d gave (values of `conv`, gradients through the float64 conv): an output near 0
    # rounded to the other side would take lrelu's other slope.
    xd, wd, bd = (t.detach().to(low).double().requires_grad_() for t in (x, w, b))
    conv = F.conv2d(xd, wd)
    with torch.autocast(device, dtype=low):
        conv_low = F.conv2d(x, w).detach()
    conv = conv + (conv_low.double() - conv).detach()
    y_ref = reference.bias_act(conv, bd, 1, "lrelu", None, None, 256.0)
    torch.testing.assert_close(y.double(), y_ref.to(low).double(), atol=0.1, rtol=2e-2)
    y_ref.backward(g)
    assert w.grad.dtype == b.grad.dtype == torch.float32
    # Sums of 72 (b) and 72 * 3 (w) products rounded to the low dtype: an error relative to the
    # gradient's scale.
    for got, want in ((b.grad, bd.grad), (w.grad, wd.grad)):
        torch.testing.assert_close(got.double(), want, atol=2e-2 * want.abs().max().item(), rtol=2e-2)

@pytest.mark.parametrize("x_dtype, f_dtype", [("low", torch.float16), (torch.float32, "low"), ("low", torch.float32)])
def test_upfirdn2d_filter_cast(device, x_dtype, f_dtype):
    """upfirdn2d takes a float32 filter with any x; a filter of another dtype than x's is cast
    to x's under autocast (a float16 filter with a bfloat16 x, a low-precision one with float32 x)."""
    low = AUTOCAST_DTYPE[device]
    x_dtype, f_dtype = (low if d == "low" else d for d in (x_dtype, f_dtype))
    if x_dtype == f_dtype:
        pytest.skip("same dtype: nothing to cast")
    op = next(op for op in OPS if op.name == "upfirdn2d")
    x = torch.randn(1, 2, 5, 7, device=device, dtype=x_dtype, requires_grad=True)
    f = (torch.rand(4, 4, device=device) / 8).to(f_dtype)
    _check_autocast(op, user_call(op), (x, f, [2, 2], [1, 1], [2, 1, 2, 1], False, 4.0), device)
